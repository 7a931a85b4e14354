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
static bool announce;    /* also put time:advanced in the event stream, as the service does */

static void on_advanced(void *ud, weir_exec *e, int64_t now, uint64_t tick) {
    (void)ud;
    json_array_append_new(advances, json_pack("[I,I]", (json_int_t)now, (json_int_t)tick));
    if (announce && e) weir_exec_event(e, "time:advanced", json_pack("{s:I,s:I}", "now", (json_int_t)now, "tick",
                                                                     (json_int_t)tick));
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
    announce = false;
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

/* The execution's own deadline is not work: run stops when the execution
 * has nothing in flight, and does not play on into its timeout. */
Test(virtual, run_stops_at_idle_not_at_the_execution_timeout) {
    make(0, NULL);
    /* two outputs: one inject reaches only one, so auto completion waits */
    weir_graph *g = ts_graph(&ts, GRAPH(PT("a") "," PT("b") "," NODE("d", "symbia.core.delay", "{\"delayMs\":50}"),
                                        E("a", "out", "d", "in")));
    weir_exec_options o = {.id = "x1", .completion = WEIR_COMPLETION_AUTO, .timeout_ms = 1000};
    weir_exec *e = ts_start(&ts, g, &o);
    weir_graph_unref(g);
    weir_virtual_bind(v, e);
    inject(e, "a", "1");
    weir_error err;
    bool idle = false;
    cr_assert_eq(weir_virtual_run(v, 0, &idle, &err), 0);
    cr_assert(idle);
    cr_assert_eq(weir_virtual_ticks(v), 50, "played the delay, not the 1000 ms timeout");
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_RUNNING);
    cr_assert_eq(weir_virtual_pending(v), 1, "the timeout is still armed");
    cr_assert_eq(weir_virtual_advance(v, 950, &err), 0);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_FAILED, "and fires when time is moved that far");
    weir_exec_destroy(e);
}

/* A paused execution's queue waits for resume, not for time: run ends. */
Test(virtual, run_on_a_paused_execution_ends_when_nothing_is_due) {
    make(0, NULL);
    weir_exec *e = start(DELAY50);
    inject(e, "a", "1");
    weir_error err;
    cr_assert_eq(weir_exec_pause(e, weir_virtual_now(v), &err), 0);
    bool idle = false;
    cr_assert_eq(weir_virtual_run(v, 0, &idle, &err), 0);
    cr_assert(idle);
    cr_assert_eq(weir_virtual_ticks(v), 50, "the timer fell due and its result queued");
    cr_assert_eq(weir_exec_queue_depth(e), 1);
    weir_exec_destroy(e);
}

/* pause stops a run in progress: an embedder's breakpoint on an output. */
static void pause_on_output(void *ud, weir_exec *e, uint64_t seq, const char *name, json_t *data) {
    (void)ud;
    (void)e;
    (void)data;
    json_array_append_new(ts.events, json_pack("{s:I,s:s}", "seq", (json_int_t)seq, "event", name));
    if (strcmp(name, "output") == 0) weir_virtual_pause(v);
}

Test(virtual, pause_stops_a_run_after_the_tick_in_progress) {
    make(0, NULL);
    ts.sh.event = pause_on_output;
    weir_exec *e = start(DELAY50);
    json_t *val = json_integer(1);
    weir_inject in = {.node = "a", .value = val};
    weir_error err;
    cr_assert_eq(weir_virtual_schedule(v, &in, 10, &err), 0);
    cr_assert_eq(weir_virtual_schedule(v, &in, 100, &err), 0);
    json_decref(val);
    bool idle = true;
    cr_assert_eq(weir_virtual_run(v, 0, &idle, &err), 0);
    cr_assert(!idle, "paused");
    cr_assert_eq(weir_virtual_ticks(v), 60, "the first output: 10 + 50");
    cr_assert_eq(weir_virtual_run(v, 0, &idle, &err), 0);
    cr_assert(idle, "paused on the last output: nothing is left, and it says so");
    cr_assert_eq(weir_virtual_ticks(v), 150);
    cr_assert_eq(ts_count_events(&ts, "output"), 2);
    weir_virtual_pause(v); /* outside a run: nothing */
    cr_assert_eq(weir_virtual_run(v, 5, &idle, &err), 0);
    cr_assert(idle);
    weir_exec_destroy(e);
}

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

/* ------------------------------------------------------------- stepping */

static const char *CHAIN = GRAPH(PT("a") "," PT("b") "," PT("z"), E("a", "out", "b", "in") "," E("b", "out", "z", "in"));

static weir_step vstep(void) {
    weir_step s;
    weir_error err;
    cr_assert_eq(weir_virtual_step(v, &s, &err), 0, "%s", err.message);
    return s;
}

static void schedule(const char *node, const char *value_json, uint64_t at_tick) {
    json_t *val = json_loads(value_json, JSON_DECODE_ANY, NULL);
    weir_inject in = {.node = node, .value = val};
    weir_error err;
    cr_assert_eq(weir_virtual_schedule(v, &in, at_tick, &err), 0, "%s", err.message);
    json_decref(val);
}

/* SPEC §7.4's mocks under the virtual runtime: a range's minimum, and a
 * request served when its answer is due, by the first mock whose `when`
 * holds for the world then, whose `set` changes it: a read served before
 * the write sees the old world, one served after it the new one. */
static const char *READ_WRITE = GRAPH(
    NODE("get", "symbia.io.http-request", "{\"url\":\"http://payments.test/p/{{value}}\"}") ","
    NODE("post", "symbia.io.http-request", "{\"method\":\"POST\",\"url\":\"http://payments.test/p/{{value}}\"}") ","
    PT("read") "," PT("wrote"),
    E("get", "out", "read", "in") "," E("post", "out", "wrote", "in"));

static const char *read_status(size_t i) {
    json_t *out = json_object_get(json_object_get(json_array_get(ts.settled, i), "outputs"), "read:out");
    const char *status = json_string_value(json_object_get(json_object_get(out, "body"), "status"));
    return status ? status : "?";
}

Test(virtual, stateful_mocks_serve_each_request_when_it_is_due) {
    json_t *mocks = json_loads(
        "[{\"match\":{\"method\":\"POST\",\"url\":\"http://payments.test/p/*\"},\"set\":{\"captured\":true},"
        "  \"response\":{\"body\":{\"status\":\"captured\"}},\"latencyMs\":[10,40],\"fail\":0.5},"
        " {\"match\":{\"method\":\"GET\",\"url\":\"http://payments.test/p/*\"},\"when\":\"world.captured === true\","
        "  \"response\":{\"body\":{\"status\":\"captured\"}},\"latencyMs\":[20,50],\"timeout\":0.5},"
        " {\"match\":{\"method\":\"GET\",\"url\":\"http://payments.test/p/*\"},"
        "  \"response\":{\"body\":{\"status\":\"pending\"}},\"latencyMs\":35}]",
        0, NULL);
    json_t *world = json_loads("{\"captured\":false}", 0, NULL);
    weir_virtual_options o = {.mocks = mocks, .world = world};
    weir_error err;
    cr_assert_eq(weir_virtual_create(&o, &v, &err), 0, "%s", err.message);
    json_decref(mocks);
    json_decref(world);
    weir_virtual_shell(v, &ts.sh);
    weir_exec *e = start(READ_WRITE);
    inject(e, "get", "1"); /* its latency: the first matching mock's minimum, 20 */
    schedule("post", "1", 15); /* served at 25 */
    cr_assert_eq(weir_virtual_advance(v, 19, &err), 0);
    cr_assert_eq(json_array_size(ts.settled), 0, "nothing before the range's minimum");
    cr_assert_eq(weir_virtual_tick(v, &err), 0);
    cr_assert_eq(json_array_size(ts.settled), 1);
    cr_assert_str_eq(read_status(0), "pending", "served before the write: the old world: %s", ts_dump(ts.settled));
    cr_assert_eq(weir_virtual_advance(v, 5, &err), 0); /* tick 25: the write is served */
    inject(e, "get", "1");
    cr_assert_eq(weir_virtual_advance(v, 20, &err), 0);
    cr_assert_eq(json_array_size(ts.settled), 2, "%s", ts_dump(ts.settled)); /* a scheduled inject is not tracked */
    cr_assert_str_eq(read_status(1), "captured", "served after the write: the new world");
    json_t *m = weir_exec_metrics(e, weir_virtual_now(v));
    cr_assert_eq(json_integer_value(json_object_get(m, "errorCount")), 0, "fail is weir sim's: never fired here");
    cr_assert_eq(json_integer_value(json_object_get(m, "pendingEffects")), 0, "nor timeout");
    json_decref(m);
    weir_exec_destroy(e);
}

Test(virtual, a_when_that_holds_for_no_mock_fails_the_request_naming_the_world) {
    json_t *mocks = json_loads("[{\"match\":{\"url\":\"http://payments.test/p/*\"},\"when\":\"world.up\"}]", 0, NULL);
    weir_virtual_options o = {.mocks = mocks};
    weir_error err;
    cr_assert_eq(weir_virtual_create(&o, &v, &err), 0, "%s", err.message);
    json_decref(mocks);
    weir_virtual_shell(v, &ts.sh);
    weir_exec *e = start(HTTP);
    inject(e, "get", "1");
    cr_assert_eq(weir_virtual_tick(v, &err), 0);
    json_t *bad = json_object_get(json_object_get(ts_last_settled(&ts), "outputs"), "bad:out");
    cr_assert(strstr(ts_dump(bad), "no mock answers GET http://payments.test/p/1 now"), "%s", ts_dump(bad));
    cr_assert(strstr(ts_dump(bad), "for the world {}"), "%s", ts_dump(bad));
    weir_exec_destroy(e);
    json_t *w = json_loads("[1]", 0, NULL);
    weir_virtual_options o2 = {.world = w};
    weir_virtual *v2;
    cr_assert_eq(weir_virtual_create(&o2, &v2, &err), WEIR_EINVAL);
    cr_assert(strstr(err.message, "world must be an object"), "%s", err.message);
    json_decref(w);
}

Test(virtual, step_moves_the_clock_to_what_is_due_and_walks_the_wave) {
    make(0, NULL);
    weir_exec *e = start(CHAIN);
    schedule("a", "7", 5);
    weir_step s = vstep();
    cr_assert(s.stepped);
    cr_assert(weir_exec_is_stepping(e), "a virtual step turns stepping on");
    cr_assert_eq(weir_virtual_ticks(v), 5);
    cr_assert_eq(weir_virtual_now(v), 5);
    cr_assert_str_eq(ts_dump(advances), "[[5,5]]", "time:advanced once, to the tick it was due");
    cr_assert_str_eq(s.node, "a");
    cr_assert_not(s.wave_done);
    s = vstep();
    cr_assert_str_eq(s.node, "b");
    s = vstep();
    cr_assert_str_eq(s.node, "z");
    cr_assert(s.wave_done);
    cr_assert_eq(ts_count_events(&ts, "output"), 1);
    s = vstep();
    cr_assert_not(s.stepped, "nothing is pending");
    cr_assert_eq(weir_virtual_ticks(v), 5, "and the clock stays");
    cr_assert_eq(json_array_size(advances), 1);
    weir_exec_destroy(e);
}

Test(virtual, tick_after_steps_finishes_the_open_wave_before_time_moves) {
    make(0, NULL);
    weir_exec *e = start(DELAY50);
    schedule("a", "1", 1);
    weir_step s = vstep();
    cr_assert_str_eq(s.node, "a");
    cr_assert(weir_exec_wave_open(e));
    weir_error err;
    cr_assert_eq(weir_virtual_tick(v, &err), 0, "%s", err.message);
    cr_assert_not(weir_exec_is_stepping(e), "tick turns stepping off");
    cr_assert_not(weir_exec_wave_open(e));
    cr_assert_eq(weir_virtual_ticks(v), 2);
    cr_assert_eq(weir_virtual_pending(v), 1, "the delay asked for its timer");
    bool idle;
    cr_assert_eq(weir_virtual_run(v, 0, &idle, &err), 0);
    cr_assert(idle);
    /* asked at tick 1 (due 51), not at tick 2 (due 52): the wave finished
     * before the clock moved */
    cr_assert_eq(weir_virtual_now(v), 51);
    cr_assert_eq(ts_count_events(&ts, "output"), 1);
    weir_exec_destroy(e);
}

Test(virtual, a_zero_delay_timer_from_a_step_falls_due_without_moving_the_clock) {
    make(0, NULL);
    weir_exec *e = start(GRAPH(PT("a") "," NODE("d", "symbia.core.delay", "{\"delayMs\":0}") "," PT("z"),
                               E("a", "out", "d", "in") "," E("d", "out", "z", "in")));
    schedule("a", "1", 3);
    cr_assert_str_eq(vstep().node, "a");
    weir_step s = vstep();
    cr_assert_str_eq(s.node, "d");
    cr_assert(s.wave_done);
    s = vstep();
    cr_assert(s.resumed, "the timer's result: the resume of d");
    cr_assert_str_eq(s.node, "d");
    cr_assert_eq(weir_virtual_ticks(v), 3, "due at this tick, as a tick would have delivered it");
    cr_assert_str_eq(vstep().node, "z");
    cr_assert_not(vstep().stepped);
    cr_assert_str_eq(ts_dump(advances), "[[3,3]]");
    weir_exec_destroy(e);
}

Test(virtual, step_refuses_without_an_execution_or_while_paused) {
    make(0, NULL);
    weir_step s;
    weir_error err;
    cr_assert_eq(weir_virtual_step(v, &s, &err), WEIR_ESTATE);
    cr_assert(strstr(err.message, "no execution"), "%s", err.message);
    weir_exec *e = start(CHAIN);
    cr_assert_eq(weir_virtual_step(v, &s, &err), 0);
    cr_assert_not(s.stepped, "nothing pending at all");
    schedule("a", "1", 4);
    cr_assert_eq(weir_exec_pause(e, weir_virtual_now(v), &err), 0);
    cr_assert_eq(weir_virtual_step(v, &s, &err), WEIR_ESTATE);
    cr_assert(strstr(err.message, "paused"), "%s", err.message);
    cr_assert_not(s.stepped);
    cr_assert_eq(weir_virtual_ticks(v), 0, "the clock did not move for a step that cannot happen");
    cr_assert_eq(weir_exec_resume(e, weir_virtual_now(v), &err), 0);
    cr_assert_str_eq(vstep().node, "a");
    weir_exec_destroy(e);
}

typedef enum { PLAY_RUN, PLAY_STEPS, PLAY_MIXED } play_mode;

/* Step until nothing is pending; the number of steps. */
static int step_to_the_end(void) {
    int n = 0;
    for (weir_step s = vstep(); s.stepped; s = vstep()) n++;
    return n;
}

static int64_t played_until; /* the clock when a scenario ended */
static int played_steps;

static void play(play_mode mode) {
    weir_error err;
    bool idle;
    played_steps = 0;
    if (mode == PLAY_MIXED) {
        for (int i = 0; i < 2; i++) played_steps += vstep().stepped; /* the poller's wave at tick 1 */
        cr_assert_eq(weir_virtual_tick(v, &err), 0, "%s", err.message);
        for (int i = 0; i < 3; i++) played_steps += vstep().stepped; /* on to the webhook at tick 20 */
        cr_assert_eq(weir_virtual_advance(v, 10, &err), 0, "%s", err.message);
        played_steps += step_to_the_end();
    } else if (mode == PLAY_STEPS) {
        played_steps = step_to_the_end();
    } else {
        cr_assert_eq(weir_virtual_run(v, 0, &idle, &err), 0);
        cr_assert(idle);
    }
    cr_assert_eq(weir_virtual_pending(v), 0);
}

/* Two flows racing on the same ticks, played as `mode`: the events. */
static char *scenario(play_mode mode) {
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
    play(mode);
    played_until = weir_virtual_now(v);
    char *text = ts_events_text(&ts);
    weir_exec_destroy(e);
    weir_virtual_destroy(v);
    v = NULL;
    return text;
}

/* The events so far, forgotten for the next run. */
static json_t *take_events(void) {
    json_t *ev = ts.events;
    ts.events = json_array();
    return ev;
}

Test(virtual, the_same_scenario_gives_the_same_events_byte_for_byte) {
    char *a = scenario(PLAY_RUN);
    json_t *first_run = take_events();
    char *b = scenario(PLAY_RUN);
    cr_assert_str_eq(a, b);
    cr_assert_gt(json_array_size(first_run), 10, "a real scenario: %s", a);
    cr_assert_not_null(strstr(a, "\"output\""));
    json_decref(first_run);
    free(a);
    free(b);
}

Test(virtual, stepping_a_scenario_to_the_end_gives_the_events_run_gives) {
    char *ran = scenario(PLAY_RUN);
    int64_t ran_until = played_until;
    json_decref(take_events());
    char *stepped = scenario(PLAY_STEPS);
    cr_assert_str_eq(stepped, ran);
    cr_assert_eq(played_until, ran_until, "the clock ends where run leaves it");
    /* poller, d (tick 1); webhook, get (20); d^, get (21); get^, out (40); get^, out (41) */
    cr_assert_eq(played_steps, 10, "one step per invocation, %d", played_steps);
    free(ran);
    free(stepped);
}

Test(virtual, a_mixed_scenario_of_steps_ticks_and_a_delay_gives_the_same_events_twice) {
    announce = true;
    char *a = scenario(PLAY_MIXED);
    int steps = played_steps;
    json_decref(take_events());
    char *b = scenario(PLAY_MIXED);
    cr_assert_str_eq(a, b);
    cr_assert_eq(played_steps, steps);
    cr_assert_gt(steps, 5, "the scenario was stepped (%d steps)", steps);
    cr_assert_not_null(strstr(a, "\"time:advanced\""));
    cr_assert_not_null(strstr(a, "\"output\""));
    free(a);
    free(b);
}
