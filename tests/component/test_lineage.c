/* Lineage (SPEC §4.4, weir_exec_current_inject): a value emitted anywhere
 * downstream knows the tracked inject it descends from — through hops,
 * timers and http effects resolved in any order, merges — which is how
 * weir serve answers each webhook request with its own http-response
 * (src/service/hooks.c).  Checked through a tap, as the service does. */
#include <string.h>

#include "shell.h"

static test_shell ts;
static void setup(void) { ts_init(&ts, false); }
static void teardown(void) { ts_fini(&ts); }
TestSuite(lineage, .init = setup, .fini = teardown);

#define NODE(id, comp, cfg) "{\"id\":\"" id "\",\"component\":\"" comp "\",\"config\":" cfg "}"
#define E(a, ap, b, bp) \
    "{\"source\":{\"node\":\"" a "\",\"port\":\"" ap "\"},\"target\":{\"node\":\"" b "\",\"port\":\"" bp "\"}}"
#define GRAPH(nodes, edges) "{\"symbia\":\"1.0\",\"name\":\"t\",\"nodes\":[" nodes "],\"edges\":[" edges "]}"

/* What the tap saw: each value with the inject id and user it descends from. */
typedef struct seen {
    weir_exec *e;
    json_t *log; /* [[value, user tag or null, id != 0]] */
} seen;

static void tap(void *ud, json_t *value) {
    seen *s = ud;
    void *user = (void *)1;
    uint64_t id = weir_exec_current_inject(s->e, &user);
    json_array_append_new(s->log, json_pack("[O,s?,b]", value, (const char *)user, id != 0));
}

static weir_exec *start(const char *graph, seen *s, const char *node) {
    weir_graph *g = ts_graph(&ts, graph);
    weir_exec_options o = {.id = "x", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1};
    weir_exec *e = ts_start(&ts, g, &o);
    weir_graph_unref(g);
    s->e = e;
    s->log = json_array();
    weir_error err;
    cr_assert_eq(weir_exec_tap(e, node, "out", tap, s, &err), 0, "%s", err.message);
    return e;
}

/* tag: a string that is the inject's user; NULL: untracked. */
static uint64_t inject(weir_exec *e, const char *node, const char *port, const char *value, const char *tag) {
    json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
    weir_inject in = {.node = node, .port = port, .value = v, .flags = tag ? WEIR_INJECT_TRACK : 0, .user = (void *)tag};
    weir_inject_ack ack;
    weir_error err;
    cr_assert_eq(weir_exec_inject(e, &in, 1, &ack, &err), 0, "%s", err.message);
    json_decref(v);
    return ack.inject_id;
}

/* Odd values answer in their own wave; even ones after a timer: resolved in
 * reverse order, each value still finds its own inject. */
Test(lineage, through_hops_and_timers_resolved_out_of_order) {
    seen s;
    weir_exec *e = start(GRAPH(NODE("in", "symbia.io.http-in", "{\"path\":\"/p\"}") ","
                               NODE("sp", "symbia.core.split", "{\"condition\":\"value % 2 === 0\"}") ","
                               NODE("d", "symbia.core.delay", "{\"delayMs\":5}") ","
                               NODE("dbl", "symbia.core.map", "{\"expression\":\"value * 2\"}") ","
                               NODE("resp", "symbia.io.http-response", "{}"),
                               E("in", "out", "sp", "in") "," E("sp", "true", "d", "in") "," E("sp", "false", "dbl", "in")
                               "," E("d", "out", "dbl", "in") "," E("dbl", "out", "resp", "in")),
                         &s, "resp");
    void *user = (void *)1;
    cr_assert_eq(weir_exec_current_inject(e, &user), 0, "outside an invocation: none");
    cr_assert_null(user);
    const char *tags[] = {"a", "b", "c", "d", "e", "f"};
    for (int i = 0; i < 6; i++) {
        char v[8];
        snprintf(v, sizeof v, "%d", i + 1);
        inject(e, "in", NULL, v, tags[i]);
    }
    cr_assert_eq(json_array_size(ts.effects), 3, "three timers: 2, 4, 6");
    weir_error err;
    for (int i = 2; i >= 0; i--) cr_assert_eq(weir_exec_resolve(e, ts_effect_id(&ts, (size_t)i), NULL, NULL, 9, &err), 0);
    cr_assert_str_eq(ts_dump(s.log), "[[{\"body\":2,\"headers\":{},\"status\":200},\"a\",true],"
                                     "[{\"body\":6,\"headers\":{},\"status\":200},\"c\",true],"
                                     "[{\"body\":10,\"headers\":{},\"status\":200},\"e\",true],"
                                     "[{\"body\":12,\"headers\":{},\"status\":200},\"f\",true],"
                                     "[{\"body\":8,\"headers\":{},\"status\":200},\"d\",true],"
                                     "[{\"body\":4,\"headers\":{},\"status\":200},\"b\",true]]");
    json_decref(s.log);
    weir_exec_destroy(e);
}

/* Through an http effect: its result's wave descends from the inject that
 * asked for it; an untracked inject descends from none. */
Test(lineage, through_http_effects_and_untracked) {
    seen s;
    weir_exec *e = start(GRAPH(NODE("in", "symbia.io.http-in", "{\"path\":\"/p\"}") ","
                               NODE("get", "symbia.io.http-request", "{\"url\":\"http://x.test/{{value}}\"}") ","
                               NODE("resp", "symbia.io.http-response", "{}"),
                               E("in", "out", "get", "in") "," E("get", "out", "resp", "in")),
                         &s, "resp");
    inject(e, "in", NULL, "1", "one");
    inject(e, "in", NULL, "2", "two");
    inject(e, "in", NULL, "3", NULL);
    cr_assert_eq(json_array_size(ts.effects), 3);
    weir_error err;
    json_t *r3 = json_pack("{s:i,s:{},s:i}", "status", 200, "headers", "body", 3);
    json_t *r2 = json_pack("{s:i,s:{},s:i}", "status", 200, "headers", "body", 2);
    json_t *r1 = json_pack("{s:i,s:{},s:i}", "status", 200, "headers", "body", 1);
    cr_assert_eq(weir_exec_resolve(e, ts_effect_id(&ts, 2), r3, NULL, 5, &err), 0, "%s", err.message);
    cr_assert_eq(weir_exec_resolve(e, ts_effect_id(&ts, 1), r2, NULL, 6, &err), 0, "%s", err.message);
    cr_assert_eq(weir_exec_resolve(e, ts_effect_id(&ts, 0), r1, NULL, 7, &err), 0, "%s", err.message);
    json_decref(r1);
    json_decref(r2);
    json_decref(r3);
    json_t *log = s.log;
    cr_assert_eq(json_array_size(log), 3);
    cr_assert_str_eq(ts_dump(json_array_get(json_array_get(log, 0), 1)), "null", "untracked: no inject");
    cr_assert(json_is_false(json_array_get(json_array_get(log, 0), 2)));
    cr_assert_str_eq(json_string_value(json_array_get(json_array_get(log, 1), 1)), "two");
    cr_assert_str_eq(json_string_value(json_array_get(json_array_get(log, 2), 1)), "one");
    json_decref(log);
    weir_exec_destroy(e);
}

/* A merge's zip descends from the message that completed it. */
Test(lineage, a_merge_answers_the_completing_message) {
    seen s;
    weir_exec *e = start(GRAPH(NODE("m", "symbia.core.merge", "{\"mode\":\"zip\"}") ","
                               NODE("a", "symbia.core.passthrough", "{}") "," NODE("b", "symbia.core.passthrough", "{}"),
                               E("a", "out", "m", "x") "," E("b", "out", "m", "y")),
                         &s, "m");
    inject(e, "a", NULL, "1", "first");
    inject(e, "b", NULL, "2", "second");
    cr_assert_str_eq(ts_dump(s.log), "[[{\"x\":1,\"y\":2},\"second\",true]]");
    json_decref(s.log);
    weir_exec_destroy(e);
}
