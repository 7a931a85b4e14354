/* Node state as JSON (SPEC §7.2): every built-in shows what it holds, a
 * component without a state callback shows its key/value map. */
#include <string.h>

#include "shell.h"

static test_shell ts;
static void setup(void) { ts_init(&ts, false); }
static void teardown(void) { ts_fini(&ts); }
TestSuite(state, .init = setup, .fini = teardown);

#define NODE(id, comp, cfg) "{\"id\":\"" id "\",\"component\":\"" comp "\",\"config\":" cfg "}"
#define E(a, ap, b, bp) \
    "{\"source\":{\"node\":\"" a "\",\"port\":\"" ap "\"},\"target\":{\"node\":\"" b "\",\"port\":\"" bp "\"}}"
#define GRAPH(nodes, edges) "{\"symbia\":\"1.0\",\"name\":\"t\",\"nodes\":[" nodes "],\"edges\":[" edges "]}"

static weir_exec *start(weir_graph *g) {
    weir_exec_options o = {.id = "x1", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1};
    return ts_start(&ts, g, &o);
}

static const char *state_of(weir_exec *e, const char *node) {
    json_t *s = weir_exec_node_state(e, node);
    cr_assert_not_null(s, "state of %s", node);
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s", ts_dump(s));
    json_decref(s);
    return buf;
}

Test(state, accumulator_shows_its_partial_batch) {
    weir_graph *g = ts_graph(&ts, GRAPH(NODE("in", "symbia.core.passthrough", "{}") ","
                                        NODE("acc", "symbia.core.accumulator", "{\"batchSize\":3}"),
                                        E("in", "out", "acc", "in")));
    weir_exec *e = start(g);
    cr_assert_str_eq(state_of(e, "acc"), "{\"buffer\":[]}");
    cr_assert_eq(ts_inject(&ts, e, "in", "in", "1", 1), 0);
    cr_assert_eq(ts_inject(&ts, e, "in", "in", "{\"a\":2}", 2), 0);
    cr_assert_str_eq(state_of(e, "acc"), "{\"buffer\":[1,{\"a\":2}]}");
    cr_assert_eq(ts_inject(&ts, e, "in", "in", "3", 3), 0);
    cr_assert_str_eq(state_of(e, "acc"), "{\"buffer\":[]}", "the batch went out");
    cr_assert_str_eq(state_of(e, "in"), "{}", "a stateless built-in");
    cr_assert_null(weir_exec_node_state(e, "nope"));
    json_t *all = weir_exec_states(e);
    cr_assert_str_eq(ts_dump(all), "{\"acc\":{\"buffer\":[]},\"in\":{}}");
    json_decref(all);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

static const char *MERGE(const char *mode) {
    static char buf[1024];
    snprintf(buf, sizeof buf,
             GRAPH(NODE("a", "symbia.core.passthrough", "{}") "," NODE("b", "symbia.core.passthrough", "{}") ","
                   "{\"id\":\"m\",\"component\":\"symbia.core.merge\",\"config\":{\"mode\":\"%s\"}}",
                   E("a", "out", "m", "left") "," E("b", "out", "m", "right")),
             mode);
    return buf;
}

Test(state, merge_latest_shows_the_latest_of_each_port) {
    weir_graph *g = ts_graph(&ts, MERGE("latest"));
    weir_exec *e = start(g);
    cr_assert_str_eq(state_of(e, "m"), "{\"latest\":{}}");
    cr_assert_eq(ts_inject(&ts, e, "a", "in", "1", 1), 0);
    cr_assert_eq(ts_inject(&ts, e, "a", "in", "2", 2), 0);
    cr_assert_str_eq(state_of(e, "m"), "{\"latest\":{\"left\":2}}");
    cr_assert_eq(ts_inject(&ts, e, "b", "in", "\"x\"", 3), 0);
    cr_assert_str_eq(state_of(e, "m"), "{\"latest\":{\"left\":2,\"right\":\"x\"}}");
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(state, merge_zip_shows_what_waits_for_a_partner) {
    weir_graph *g = ts_graph(&ts, MERGE("zip"));
    weir_exec *e = start(g);
    cr_assert_eq(ts_inject(&ts, e, "a", "in", "1", 1), 0);
    cr_assert_eq(ts_inject(&ts, e, "a", "in", "2", 2), 0);
    cr_assert_str_eq(state_of(e, "m"), "{\"pending\":{\"left\":[1,2]}}");
    cr_assert_eq(ts_inject(&ts, e, "b", "in", "3", 3), 0);
    cr_assert_str_eq(state_of(e, "m"), "{\"pending\":{\"left\":[2],\"right\":[]}}");
    weir_graph *g2 = ts_graph(&ts, MERGE("any"));
    weir_exec *e2 = start(g2);
    cr_assert_eq(ts_inject(&ts, e2, "a", "in", "1", 1), 0);
    cr_assert_str_eq(state_of(e2, "m"), "{}");
    weir_exec_destroy(e2);
    weir_graph_unref(g2);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(state, delay_counts_messages_waiting_for_their_timer) {
    weir_graph *g = ts_graph(&ts, GRAPH(NODE("in", "symbia.core.passthrough", "{}") ","
                                        NODE("d", "symbia.core.delay", "{\"delayMs\":50}"),
                                        E("in", "out", "d", "in")));
    weir_exec *e = start(g);
    cr_assert_str_eq(state_of(e, "d"), "{\"pending\":0}");
    cr_assert_eq(ts_inject(&ts, e, "in", "in", "1", 1), 0);
    cr_assert_eq(ts_inject(&ts, e, "in", "in", "2", 2), 0);
    cr_assert_str_eq(state_of(e, "d"), "{\"pending\":2}");
    weir_error err;
    cr_assert_eq(weir_exec_resolve(e, ts_effect_id(&ts, 0), NULL, NULL, 60, &err), 0);
    cr_assert_str_eq(state_of(e, "d"), "{\"pending\":1}");
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(state, state_once_lists_the_keys_as_values) {
    weir_graph *g = ts_graph(&ts, GRAPH(NODE("in", "symbia.core.passthrough", "{}") ","
                                        NODE("o", "symbia.state.once", "{}"),
                                        E("in", "out", "o", "in")));
    weir_exec *e = start(g);
    cr_assert_str_eq(state_of(e, "o"), "{\"keys\":[]}");
    cr_assert_eq(ts_inject(&ts, e, "in", "in", "\"SPRING\"", 1), 0);
    cr_assert_eq(ts_inject(&ts, e, "in", "in", "42", 2), 0);
    cr_assert_eq(ts_inject(&ts, e, "in", "in", "true", 3), 0);
    cr_assert_eq(ts_inject(&ts, e, "in", "in", "\"SPRING\"", 4), 0);
    cr_assert_eq(ts_inject(&ts, e, "in", "in", "1.5", 5), 0);
    cr_assert_str_eq(state_of(e, "o"), "{\"keys\":[\"SPRING\",42,true,1.5]}");
    weir_exec_destroy(e);
    weir_graph_unref(g);
    g = ts_graph(&ts, GRAPH(NODE("in", "symbia.core.passthrough", "{}") ","
                            NODE("o", "symbia.state.once", "{\"key\":\"value.k\"}"),
                            E("in", "out", "o", "in")));
    e = start(g);
    cr_assert_eq(ts_inject(&ts, e, "in", "in", "{\"k\":\"a\"}", 1), 0);
    cr_assert_str_eq(state_of(e, "o"), "{\"keys\":[\"a\"]}");
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

/* A component with no state callback: its key/value map. */
static const weir_port_def kv_in[] = {{"in", NULL, NULL}};
static int kv_process(weir_ctx *ctx, unsigned port, json_t *value) {
    (void)port;
    json_t *n = weir_get_state(ctx, "count");
    weir_set_state(ctx, "count", json_integer(json_integer_value(n) + 1));
    return weir_set_state(ctx, "last", json_incref(value));
}
static const weir_component kv_c = {.id = "test.kv", .inputs = kv_in, .n_inputs = 1, .process = kv_process};

Test(state, a_component_without_a_state_callback_shows_its_key_value_map) {
    weir_error err;
    cr_assert_eq(weir_registry_add(ts.reg, &kv_c, &err), 0);
    weir_graph *g = ts_graph(&ts, GRAPH("{\"id\":\"k\",\"component\":\"test.kv\"}", ""));
    weir_exec *e = start(g);
    cr_assert_str_eq(state_of(e, "k"), "{}");
    cr_assert_eq(ts_inject(&ts, e, "k", "in", "\"a\"", 1), 0);
    cr_assert_eq(ts_inject(&ts, e, "k", "in", "\"b\"", 2), 0);
    cr_assert_str_eq(state_of(e, "k"), "{\"count\":2,\"last\":\"b\"}");
    json_t *s = weir_exec_node_state(e, "k");
    json_object_set_new(s, "count", json_integer(99)); /* a copy: the instance keeps its own */
    json_decref(s);
    cr_assert_str_eq(state_of(e, "k"), "{\"count\":2,\"last\":\"b\"}");
    weir_exec_destroy(e);
    weir_graph_unref(g);
}
