/* The virtual runtime (SPEC §4.5) driving real executions: time moves only
 * when asked, timers and mocked http fall due on ticks, injects can be
 * scheduled, and the same scenario gives the same events byte for byte
 * (SPEC §4.3). */
#include <stdlib.h>
#include <string.h>

#include "shell.h"

static test_shell ts;
static weir_virtual *v;
static json_t *advances; /* [[now, tick]] from the advanced callback */

static void on_advanced(void *ud, weir_exec *e, int64_t now, uint64_t tick) {
    (void)ud;
    (void)e;
    json_array_append_new(advances, json_pack("[I,I]", (json_int_t)now, (json_int_t)tick));
}

static void make(int64_t tick_ms, const char *mocks_json) {
    json_t *mocks = mocks_json ? json_loads(mocks_json, 0, NULL) : NULL;
    weir_virtual_options o = {.tick_ms = tick_ms, .mocks = mocks, .advanced = on_advanced};
    weir_error err;
    cr_assert_eq(weir_virtual_create(&o, &v, &err), 0, "%s", err.message);
    json_decref(mocks);
    weir_virtual_shell(v, &ts.sh);
}

static void setup(void) {
    ts_init(&ts, true);
    advances = json_array();
    v = NULL;
}
static void teardown(void) {
    weir_virtual_destroy(v);
    json_decref(advances);
    ts_fini(&ts);
}
TestSuite(virtual, .init = setup, .fini = teardown);

#define NODE(id, comp, cfg) "{\"id\":\"" id "\",\"component\":\"" comp "\",\"config\":" cfg "}"
#define E(a, ap, b, bp) \
    "{\"source\":{\"node\":\"" a "\",\"port\":\"" ap "\"},\"target\":{\"node\":\"" b "\",\"port\":\"" bp "\"}}"
#define GRAPH(nodes, edges) "{\"symbia\":\"1.0\",\"name\":\"t\",\"nodes\":[" nodes "],\"edges\":[" edges "]}"
#define PT(id) NODE(id, "symbia.core.passthrough", "{}")

static const char *DELAY50 = GRAPH(PT("a") "," NODE("d", "symbia.core.delay", "{\"delayMs\":50}") "," PT("z"),
                                   E("a", "out", "d", "in") "," E("d", "out", "z", "in"));

static weir_exec *start(const char *graph) {
    weir_graph *g = ts_graph(&ts, graph);
    weir_exec_options o = {.id = "x1", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1};
    weir_exec *e = ts_start(&ts, g, &o);
    weir_graph_unref(g);
    weir_virtual_bind(v, e);
    return e;
}

static void inject(weir_exec *e, const char *node, const char *value_json) {
    cr_assert_eq(ts_inject(&ts, e, node, NULL, value_json, weir_virtual_now(v)), 0);
}

Test(virtual, a_timer_falls_due_on_its_tick_and_not_before) {
    make(0, NULL);
    weir_exec *e = start(DELAY50);
    inject(e, "a", "7");
    cr_assert_eq(weir_virtual_pending(v), 1);
    weir_error err;
    for (int i = 0; i < 49; i++) cr_assert_eq(weir_virtual_tick(v, &err), 0);
    cr_assert_eq(json_array_size(ts.settled), 0, "nothing before 50 ms");
    cr_assert_eq(ts_count_events(&ts, "output"), 0);
    cr_assert_eq(weir_virtual_tick(v, &err), 0);
    cr_assert_eq(weir_virtual_now(v), 50);
    cr_assert_eq(weir_virtual_ticks(v), 50);
    cr_assert_str_eq(ts_dump(json_object_get(ts_last_settled(&ts), "outputs")), "{\"z:out\":7}");
    cr_assert_eq(weir_virtual_pending(v), 0);
    cr_assert_eq(json_array_size(advances), 50, "one time:advanced per tick");
    cr_assert_str_eq(ts_dump(json_array_get(advances, 49)), "[50,50]");
    weir_exec_destroy(e);
}

Test(virtual, advance_jumps_and_ticks_round_up) {
    make(10, NULL);
    weir_exec *e = start(DELAY50);
    inject(e, "a", "1");
    weir_error err;
    cr_assert_eq(weir_virtual_advance(v, 45, &err), 0); /* 5 ticks: 50 ms, due */
    cr_assert_eq(weir_virtual_now(v), 50);
    cr_assert_eq(json_array_size(ts.settled), 1);
    cr_assert_eq(weir_virtual_advance(v, 3600 * 1000, &err), 0, "an hour of nothing costs nothing");
    cr_assert_eq(weir_virtual_ticks(v), 5 + 360000);
    cr_assert_eq(json_array_size(advances), 2, "one time:advanced per command");
    cr_assert_neq(weir_virtual_advance(v, -1, &err), 0);
    cr_assert(strstr(err.message, "non-negative"));
    weir_exec_destroy(e);
}

Test(virtual, run_plays_until_idle_or_the_bound) {
    make(0, NULL);
    weir_exec *e = start(DELAY50);
    inject(e, "a", "1");
    inject(e, "a", "2");
    weir_error err;
    bool idle = true;
    cr_assert_eq(weir_virtual_run(v, 10, &idle, &err), 0);
    cr_assert(!idle, "50 ms are more than 10 ticks");
    cr_assert_eq(weir_virtual_ticks(v), 10);
    cr_assert_eq(weir_virtual_run(v, 0, &idle, &err), 0);
    cr_assert(idle);
    cr_assert_eq(weir_virtual_now(v), 50);
    cr_assert_eq(json_array_size(ts.settled), 2);
    /* request order on equal due times */
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(json_array_get(ts.settled, 0), "outputs"), "z:out")),
                 1);
    weir_exec_destroy(e);
}

static const char *HTTP = GRAPH(
    NODE("get", "symbia.io.http-request", "{\"url\":\"http://payments.test/p/{{value}}\"}") "," PT("ok") "," PT("bad"),
    E("get", "out", "ok", "in") "," E("get", "error", "bad", "in"));

Test(virtual, http_answers_from_mocks_after_their_latency) {
    make(0, "[{\"match\":{\"method\":\"GET\",\"url\":\"http://payments.test/p/1\"},"
            "\"response\":{\"status\":200,\"body\":{\"status\":\"pending\"}},\"latencyMs\":30},"
            "{\"match\":{\"url\":\"http://payments.test/p/*\"},\"response\":{\"status\":404,\"body\":\"gone\"}}]");
    weir_exec *e = start(HTTP);
    inject(e, "get", "1");
    inject(e, "get", "2");
    inject(e, "get", "\"x/y\"");
    weir_error err;
    cr_assert_eq(weir_virtual_tick(v, &err), 0);
    /* the prefix mock (latency 0) answered 2 and x/y at the first tick */
    cr_assert_eq(json_array_size(ts.settled), 2);
    json_t *second = json_object_get(json_object_get(json_array_get(ts.settled, 0), "outputs"), "ok:out");
    cr_assert_eq(json_integer_value(json_object_get(second, "status")), 404);
    cr_assert_str_eq(json_string_value(json_object_get(second, "body")), "gone");
    cr_assert_eq(weir_virtual_advance(v, 29, &err), 0);
    cr_assert_eq(json_array_size(ts.settled), 3);
    json_t *first = json_object_get(json_object_get(json_array_get(ts.settled, 2), "outputs"), "ok:out");
    cr_assert_str_eq(ts_dump(json_object_get(first, "body")), "{\"status\":\"pending\"}", "JSON body parsed");
    cr_assert_eq(weir_virtual_now(v), 30);
    weir_exec_destroy(e);
}

Test(virtual, http_without_a_mock_fails_naming_the_request) {
    make(0, "[]");
    weir_exec *e = start(HTTP);
    inject(e, "get", "9");
    weir_error err;
    cr_assert_eq(weir_virtual_tick(v, &err), 0);
    json_t *bad = json_object_get(json_object_get(ts_last_settled(&ts), "outputs"), "bad:out");
    cr_assert_not_null(bad, "%s", ts_dump(ts_last_settled(&ts)));
    cr_assert(strstr(ts_dump(bad), "no mock matches GET http://payments.test/p/9"), "%s", ts_dump(bad));
    weir_exec_destroy(e);
}

Test(virtual, bad_mocks_are_refused_with_the_reason) {
    json_t *m = json_loads("[{\"match\":{\"url\":1}}]", 0, NULL);
    weir_virtual_options o = {.mocks = m};
    weir_error err;
    cr_assert_eq(weir_virtual_create(&o, &v, &err), WEIR_EINVAL);
    cr_assert(strstr(err.message, "mocks[0].match"), "%s", err.message);
    json_decref(m);
    json_t *m2 = json_loads("[{\"match\":{},\"latencyMs\":-5}]", 0, NULL);
    o.mocks = m2;
    cr_assert_eq(weir_virtual_create(&o, &v, &err), WEIR_EINVAL);
    cr_assert(strstr(err.message, "latencyMs"), "%s", err.message);
    json_decref(m2);
    v = NULL;
}

Test(virtual, scheduled_injects_start_flows_on_their_tick) {
    make(0, NULL);
    weir_exec *e = start(DELAY50);
    json_t *val = json_integer(5);
    weir_inject in = {.node = "a", .value = val};
    weir_error err;
    cr_assert_eq(weir_virtual_schedule(v, &in, 10, &err), 0); /* atTick 10 */
    cr_assert_eq(weir_virtual_advance(v, 5, &err), 0);
    cr_assert_eq(weir_virtual_schedule(v, &in, weir_virtual_ticks(v) + 3, &err), 0); /* afterTicks 3 */
    cr_assert_eq(weir_virtual_schedule(v, &in, 5, &err), WEIR_EINVAL, "tick 5 is now");
    cr_assert(strstr(err.message, "has passed"));
    json_decref(val);
    cr_assert_eq(weir_virtual_advance(v, 2, &err), 0);
    cr_assert_eq(weir_virtual_pending(v), 2);
    cr_assert_eq(weir_virtual_tick(v, &err), 0); /* tick 8: the afterTicks one starts */
    cr_assert_eq(weir_virtual_pending(v), 2, "its delay is pending, the atTick one too");
    bool idle;
    cr_assert_eq(weir_virtual_run(v, 0, &idle, &err), 0);
    cr_assert(idle);
    cr_assert_eq(weir_virtual_now(v), 60, "the atTick 10 flow's delay ends at 60");
    cr_assert_eq(ts_count_events(&ts, "output"), 2);
    weir_exec_destroy(e);
}

Test(virtual, stop_cancels_pending_timers) {
    make(0, NULL);
    weir_exec *e = start(DELAY50);
    inject(e, "a", "1");
    cr_assert_eq(weir_virtual_pending(v), 1);
    weir_error err;
    cr_assert_eq(weir_exec_stop(e, weir_virtual_now(v), NULL, &err), 0);
    cr_assert_eq(weir_virtual_pending(v), 0);
    bool idle;
    cr_assert_eq(weir_virtual_run(v, 0, &idle, &err), 0);
    cr_assert(idle);
    cr_assert_eq(weir_virtual_ticks(v), 0, "nothing to play");
    weir_exec_destroy(e);
}

/* Two flows racing on the same ticks, twice: the same events byte for byte. */
static char *scenario(void) {
    make(0, "[{\"match\":{\"url\":\"http://payments.test/p/*\"},\"response\":{\"body\":{\"status\":\"pending\"}},"
            "\"latencyMs\":20}]");
    const char *g = GRAPH(PT("webhook") "," PT("poller") "," NODE("d", "symbia.core.delay", "{\"delayMs\":20}") ","
                          NODE("get", "symbia.io.http-request", "{\"url\":\"http://payments.test/p/{{value}}\"}") ","
                          PT("out"),
                          E("webhook", "out", "get", "in") "," E("poller", "out", "d", "in") "," E("d", "out", "get", "in")
                          "," E("get", "out", "out", "in"));
    weir_exec *e = start(g);
    json_t *one = json_integer(1);
    weir_inject w = {.node = "webhook", .value = one}, p = {.node = "poller", .value = one};
    weir_error err;
    cr_assert_eq(weir_virtual_schedule(v, &w, 20, &err), 0);
    cr_assert_eq(weir_virtual_schedule(v, &p, 0 + 1, &err), 0);
    json_decref(one);
    bool idle;
    cr_assert_eq(weir_virtual_run(v, 0, &idle, &err), 0);
    cr_assert(idle);
    char *text = ts_events_text(&ts);
    weir_exec_destroy(e);
    weir_virtual_destroy(v);
    v = NULL;
    return text;
}

Test(virtual, the_same_scenario_gives_the_same_events_byte_for_byte) {
    char *a = scenario();
    json_t *first_run = ts.events;
    ts.events = json_array();
    char *b = scenario();
    cr_assert_str_eq(a, b);
    cr_assert_gt(json_array_size(first_run), 10, "a real scenario: %s", a);
    cr_assert_not_null(strstr(a, "\"output\""));
    json_decref(first_run);
    free(a);
    free(b);
}
