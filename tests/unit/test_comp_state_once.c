#include <stdio.h>
#include <string.h>

#include "comp.h"

#define ONCE "symbia.state.once"

static const char *send(test_shell *ts, weir_exec *e, const char *v) { return ts_dump(comp_send(ts, e, v)); }

static const char *error_of(test_shell *ts, weir_exec *e, const char *v) {
    json_t *out = comp_send(ts, e, v);
    json_t *err = json_object_get(out, "n:error");
    cr_assert_not_null(err, "no error for %s: %s", v, ts_dump(out));
    cr_assert_eq(json_object_size(out), 1, "only the error: %s", ts_dump(out));
    return ts_dump(err);
}

static const char *load_error(test_shell *ts, const char *config_json) {
    char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"symbia\":\"1\",\"name\":\"c\",\"nodes\":[{\"id\":\"n\",\"component\":\"" ONCE
             "\",\"config\":%s}],\"edges\":[]}",
             config_json);
    return ts_graph_error(ts, buf);
}

Test(once, the_first_for_a_key_passes_and_later_ones_are_duplicates) {
    test_shell ts;
    ts_init(&ts, false);
    weir_exec *e = comp_start(&ts, ONCE, "{\"key\":\"value.id\"}");
    cr_assert_str_eq(send(&ts, e, "{\"id\":\"pay_1\",\"by\":\"webhook\"}"),
                     "{\"n:out\":{\"by\":\"webhook\",\"id\":\"pay_1\"}}");
    cr_assert_str_eq(send(&ts, e, "{\"id\":\"pay_1\",\"by\":\"poller\"}"),
                     "{\"n:duplicate\":{\"by\":\"poller\",\"id\":\"pay_1\"}}", "unchanged, on duplicate");
    cr_assert_str_eq(send(&ts, e, "{\"id\":\"pay_2\"}"), "{\"n:out\":{\"id\":\"pay_2\"}}", "another key passes");
    cr_assert_str_eq(send(&ts, e, "{\"id\":\"pay_1\"}"), "{\"n:duplicate\":{\"id\":\"pay_1\"}}", "and stays seen");
    cr_assert_str_eq(send(&ts, e, "{\"id\":\"pay_2\"}"), "{\"n:duplicate\":{\"id\":\"pay_2\"}}");
    comp_stop(e);
    ts_fini(&ts);
}

Test(once, types_never_mix_and_numbers_compare_as_numbers) {
    test_shell ts;
    ts_init(&ts, false);
    weir_exec *e = comp_start(&ts, ONCE, "{\"key\":\"value.k\"}");
    cr_assert_str_eq(send(&ts, e, "{\"k\":1}"), "{\"n:out\":{\"k\":1}}");
    cr_assert_str_eq(send(&ts, e, "{\"k\":\"1\"}"), "{\"n:out\":{\"k\":\"1\"}}", "the string \"1\" is another key");
    cr_assert_str_eq(send(&ts, e, "{\"k\":1.0}"), "{\"n:duplicate\":{\"k\":1.0}}", "1.0 is the number 1");
    cr_assert_str_eq(send(&ts, e, "{\"k\":true}"), "{\"n:out\":{\"k\":true}}");
    cr_assert_str_eq(send(&ts, e, "{\"k\":\"true\"}"), "{\"n:out\":{\"k\":\"true\"}}");
    cr_assert_str_eq(send(&ts, e, "{\"k\":false}"), "{\"n:out\":{\"k\":false}}");
    cr_assert_str_eq(send(&ts, e, "{\"k\":0}"), "{\"n:out\":{\"k\":0}}");
    cr_assert_str_eq(send(&ts, e, "{\"k\":-0.0}"), "{\"n:duplicate\":{\"k\":-0.0}}", "-0 and 0 are one key");
    cr_assert_str_eq(send(&ts, e, "{\"k\":\"\"}"), "{\"n:out\":{\"k\":\"\"}}", "the empty string is a key");
    cr_assert_str_eq(send(&ts, e, "{\"k\":\"a\"}"), "{\"n:out\":{\"k\":\"a\"}}");
    comp_stop(e);
    /* keys are compared in full, past a NUL */
    e = comp_start(&ts, ONCE, "{\"key\":\"'a\\\\u0000' + value\"}");
    cr_assert_str_eq(send(&ts, e, "\"b\""), "{\"n:out\":\"b\"}");
    cr_assert_str_eq(send(&ts, e, "\"c\""), "{\"n:out\":\"c\"}");
    cr_assert_str_eq(send(&ts, e, "\"b\""), "{\"n:duplicate\":\"b\"}");
    comp_stop(e);
    ts_fini(&ts);
}

Test(once, without_key_the_whole_value_is_the_key) {
    test_shell ts;
    ts_init(&ts, false);
    weir_exec *e = comp_start(&ts, ONCE, NULL);
    cr_assert_str_eq(send(&ts, e, "{\"a\":1,\"b\":[2]}"), "{\"n:out\":{\"a\":1,\"b\":[2]}}");
    cr_assert_str_eq(send(&ts, e, "{\"a\":1,\"b\":[2]}"), "{\"n:duplicate\":{\"a\":1,\"b\":[2]}}");
    cr_assert_str_eq(send(&ts, e, "{\"a\":1,\"b\":[3]}"), "{\"n:out\":{\"a\":1,\"b\":[3]}}");
    cr_assert_str_eq(send(&ts, e, "1"), "{\"n:out\":1}");
    cr_assert_str_eq(send(&ts, e, "\"1\""), "{\"n:out\":\"1\"}", "the JSON texts 1 and \"1\" differ");
    cr_assert_str_eq(send(&ts, e, "null"), "{\"n:out\":null}", "null is a value like any other here");
    cr_assert_str_eq(send(&ts, e, "null"), "{\"n:duplicate\":null}");
    comp_stop(e);
    ts_fini(&ts);
}

Test(once, a_key_expression_that_throws_or_gives_no_scalar_goes_to_error) {
    test_shell ts;
    ts_init(&ts, false);
    weir_exec *e = comp_start(&ts, ONCE, "{\"key\":\"value.payment.id\"}");
    const char *m = error_of(&ts, e, "{\"id\":1}");
    cr_assert(strstr(m, "key expression failed: Cannot read properties of undefined (reading 'id')"), "%s", m);
    cr_assert(strstr(m, "\"value\":{\"id\":1}"), "%s", m);
    m = error_of(&ts, e, "{\"payment\":{\"id\":{\"x\":1}}}");
    cr_assert(strstr(m, "key expression (value.payment.id) gave an object; it must give a string, number or boolean"),
              "%s", m);
    m = error_of(&ts, e, "{\"payment\":{}}");
    cr_assert(strstr(m, "gave undefined"), "%s", m);
    m = error_of(&ts, e, "{\"payment\":{\"id\":null}}");
    cr_assert(strstr(m, "gave null"), "%s", m);
    m = error_of(&ts, e, "{\"payment\":{\"id\":[1]}}");
    cr_assert(strstr(m, "gave an array"), "%s", m);
    cr_assert_str_eq(send(&ts, e, "{\"payment\":{\"id\":7}}"), "{\"n:out\":{\"payment\":{\"id\":7}}}",
                     "errors remember nothing");
    comp_stop(e);
    ts_fini(&ts);
}

Test(once, a_new_key_beyond_max_keys_is_an_error_and_is_never_let_through) {
    test_shell ts;
    ts_init(&ts, false);
    weir_exec *e = comp_start(&ts, ONCE, "{\"key\":\"value\",\"maxKeys\":2}");
    cr_assert_str_eq(send(&ts, e, "\"a\""), "{\"n:out\":\"a\"}");
    cr_assert_str_eq(send(&ts, e, "\"b\""), "{\"n:out\":\"b\"}");
    const char *m = error_of(&ts, e, "\"c\"");
    cr_assert(strstr(m, "node \\\"n\\\" already remembers maxKeys (2) keys"), "%s", m);
    cr_assert(strstr(m, "raise config.maxKeys"), "%s", m);
    cr_assert(strstr(m, "\"maxKeys\":2"), "%s", m);
    cr_assert(strstr(m, "\"key\":\"c\""), "%s", m);
    cr_assert_str_eq(send(&ts, e, "\"a\""), "{\"n:duplicate\":\"a\"}", "known keys still count as seen");
    m = error_of(&ts, e, "\"c\"");
    cr_assert(strstr(m, "maxKeys (2)"), "c was not remembered: %s", m);
    comp_stop(e);
    e = comp_start(&ts, ONCE, NULL);
    cr_assert_str_eq(send(&ts, e, "\"c\""), "{\"n:out\":\"c\"}", "the default is far above 2");
    comp_stop(e);
    ts_fini(&ts);
}

Test(once, the_seen_keys_belong_to_one_execution) {
    test_shell ts;
    ts_init(&ts, false);
    weir_graph *g = ts_graph(&ts, "{\"symbia\":\"1\",\"name\":\"c\",\"nodes\":[{\"id\":\"n\",\"component\":\"" ONCE
                                  "\"}],\"edges\":[]}");
    weir_exec_options o = {.id = "a", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1};
    weir_exec *a = ts_start(&ts, g, &o);
    o.id = "b";
    weir_exec *b = ts_start(&ts, g, &o);
    weir_graph_unref(g);
    cr_assert_str_eq(send(&ts, a, "5"), "{\"n:out\":5}");
    cr_assert_str_eq(send(&ts, b, "5"), "{\"n:out\":5}", "b has not seen 5");
    cr_assert_str_eq(send(&ts, a, "5"), "{\"n:duplicate\":5}");
    weir_error err;
    cr_assert_eq(weir_exec_stop(a, 0, NULL, &err), 0);
    cr_assert_str_eq(send(&ts, b, "5"), "{\"n:duplicate\":5}", "stopping a leaves b's keys alone");
    weir_exec_destroy(a);
    weir_exec_destroy(b);
    ts_fini(&ts);
}

Test(once, config_errors_are_refused_at_load_naming_the_node) {
    test_shell ts;
    ts_init(&ts, false);
    const char *m = load_error(&ts, "{\"key\":\"value.id =\"}");
    cr_assert(strstr(m, "node \"n\": expression in config \"key\" does not compile: column"), "%s", m);
    cr_assert(strstr(m, "(expression: value.id =)"), "%s", m);
    m = load_error(&ts, "{\"key\":7}");
    cr_assert(strstr(m, "node \"n\": config \"key\" must be a"), "%s", m);
    cr_assert(strstr(m, "expression string (found a number)"), "%s", m);
    m = load_error(&ts, "{\"maxKeys\":0}");
    cr_assert(strstr(m, "node \"n\": config \"maxKeys\" is 0; the minimum is 1"), "%s", m);
    m = load_error(&ts, "{\"maxKeys\":1.5}");
    cr_assert(strstr(m, "node \"n\": config \"maxKeys\" must be an integer"), "%s", m);
    m = load_error(&ts, "{\"ttlMs\":1000}");
    cr_assert(strstr(m, "node \"n\": unknown config key \"ttlMs\" for symbia.state.once; allowed keys: key, maxKeys"),
              "%s", m);
    ts_fini(&ts);
}

Test(once, its_descriptor_lists_the_ports_and_config) {
    test_shell ts;
    ts_init(&ts, false);
    const weir_component *c = weir_registry_find(ts.reg, ONCE);
    cr_assert_not_null(c);
    json_t *j = weir_component_json(c);
    json_t *ports = json_object_get(j, "ports");
    cr_assert_str_eq(ts_dump(json_object_get(json_array_get(json_object_get(ports, "outputs"), 1), "name")),
                     "\"duplicate\"");
    cr_assert_eq(json_array_size(json_object_get(ports, "outputs")), 3);
    cr_assert_str_eq(ts_dump(json_object_get(json_object_get(json_object_get(j, "config"), "maxKeys"), "default")),
                     "100000");
    json_decref(j);
    ts_fini(&ts);
}
