/* Stepping (SPEC §4.5 `step`): one node invocation at a time, in the order
 * and with the events of the unstepped wave (SPEC §4.1), through the public
 * API with the core driven by the test shell. */
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"
#include "shell.h"

static test_shell ts;
static void setup(void) { ts_init(&ts, true); }
static void teardown(void) {
    fa_uninstall();
    ts_fini(&ts);
}
TestSuite(step, .init = setup, .fini = teardown);

#define NODE(id, comp, cfg) "{\"id\":\"" id "\",\"component\":\"" comp "\",\"config\":" cfg "}"
#define PT(id) NODE(id, "symbia.core.passthrough", "{}")
#define MAP(id, expr) NODE(id, "symbia.core.map", "{\"expression\":\"" expr "\"}")
#define E(a, ap, b, bp) \
    "{\"source\":{\"node\":\"" a "\",\"port\":\"" ap "\"},\"target\":{\"node\":\"" b "\",\"port\":\"" bp "\"}}"
#define GRAPH(nodes, edges) "{\"symbia\":\"1.0\",\"name\":\"t\",\"nodes\":[" nodes "],\"edges\":[" edges "]}"

/* a → b, a → c, b → d, c → d: d is invoked twice per wave, after b and c. */
static const char *DIAMOND = GRAPH(PT("a") "," MAP("b", "value * 2") "," MAP("c", "value + 1") "," PT("d"),
                                   E("a", "out", "b", "in") "," E("a", "out", "c", "in") "," E("b", "out", "d", "in")
                                   "," E("c", "out", "d", "in"));

static const char *DELAYED = GRAPH(PT("a") "," NODE("d", "symbia.core.delay", "{\"delayMs\":50}") "," PT("z"),
                                   E("a", "out", "d", "in") "," E("d", "out", "z", "in"));

/* src → j (fails on {"a":{}}: no key b, no error port) → z */
static const char *FAILING = GRAPH(PT("src") "," NODE("j", "symbia.data.json-transform", "{\"path\":\"a.b\"}") ","
                                   PT("z"),
                                   E("src", "out", "j", "in") "," E("j", "out", "z", "in"));

static weir_exec *start(const char *graph, weir_completion completion, size_t max_queue) {
    weir_graph *g = ts_graph(&ts, graph);
    weir_exec_options o = {.id = "x1", .completion = completion, .timeout_ms = -1, .max_queue = max_queue};
    weir_exec *e = ts_start(&ts, g, &o);
    weir_graph_unref(g); /* the execution keeps it */
    return e;
}

/* A tracked inject (outputs and trace) at time `now`; asserts success. */
static weir_inject_ack inject_at(weir_exec *e, const char *node, const char *value_json, int64_t now) {
    json_t *v = json_loads(value_json, JSON_DECODE_ANY, NULL);
    weir_inject in = {.node = node, .value = v, .flags = WEIR_INJECT_OUTPUTS | WEIR_INJECT_TRACE};
    weir_inject_ack ack;
    weir_error err;
    cr_assert_eq(weir_exec_inject(e, &in, now, &ack, &err), 0, "%s", err.message);
    json_decref(v);
    return ack;
}
static weir_inject_ack inject(weir_exec *e, const char *node, const char *value_json) {
    return inject_at(e, node, value_json, 0);
}

static json_int_t metric(weir_exec *e, const char *name) {
    json_t *m = weir_exec_metrics(e, 0);
    json_int_t n = json_integer_value(json_object_get(m, name));
    json_decref(m);
    return n;
}

static json_int_t node_invocations(weir_exec *e, const char *node) {
    json_t *m = weir_exec_metrics(e, 0);
    json_int_t n = json_integer_value(json_object_get(json_object_get(json_object_get(m, "nodes"), node), "invocations"));
    json_decref(m);
    return n;
}

/* One step that must invoke exactly one node. */
static weir_step step(weir_exec *e) {
    json_int_t before = metric(e, "componentInvocations");
    weir_step s;
    weir_error err;
    cr_assert_eq(weir_exec_step(e, 0, &s, &err), 0, "%s", err.message);
    cr_assert(s.stepped);
    cr_assert_eq(metric(e, "componentInvocations"), before + 1, "one step, one invocation (at %s)", s.node);
    return s;
}

/* Step until no wave is open and nothing is queued; the steps as
 * "node:port@tick" words, '^' for a resume, '*' where a wave ended. */
static char trail[4096];
static const char *step_all(weir_exec *e) {
    trail[0] = '\0';
    while (weir_exec_wave_open(e) || weir_exec_queue_depth(e)) {
        weir_step s = step(e);
        size_t n = strlen(trail);
        snprintf(trail + n, sizeof trail - n, "%s%s:%s@%llu%s%s", n ? " " : "", s.node, s.port ? s.port : "-",
                 (unsigned long long)s.tick, s.resumed ? "^" : "", s.wave_done ? "*" : "");
    }
    return trail;
}

/* Forget what the shell recorded (between a reference run and the run under
 * test: the same execution id numbers its events from 1 again). */
static void reset_records(void) {
    json_array_clear(ts.events);
    json_array_clear(ts.effects);
    json_array_clear(ts.settled);
    json_array_clear(ts.cancelled);
    json_array_clear(ts.logs);
    ts.finished = 0;
}

/* The settled records without their ids: ids are slots, and injects that
 * wait in a queue together hold distinct ones where unstepped they would
 * have reused a freed one. */
static char *settled_text(void) {
    json_t *copy = json_deep_copy(ts.settled);
    size_t i;
    json_t *st;
    json_array_foreach(copy, i, st) json_object_del(st, "injectId");
    char *text = strdup(ts_dump(copy));
    json_decref(copy);
    return text;
}

/* The events so far equal the reference run's, byte for byte. */
static void assert_events_as(const char *reference) {
    char *now = ts_events_text(&ts);
    cr_assert_str_eq(now, reference);
    free(now);
}

/* The settled records so far equal the reference run's. */
static void assert_settled_as(const char *reference) {
    char *now = settled_text();
    cr_assert_str_eq(now, reference);
    free(now);
}

/* The reference run: what e recorded unstepped (events and settled records,
 * NEW texts); e is destroyed and the records reset for the stepped run. */
static void take_reference(weir_exec *e, char **events, char **settled) {
    *events = ts_events_text(&ts);
    *settled = settled_text();
    weir_exec_destroy(e);
    reset_records();
}

Test(step, a_stepped_diamond_invokes_one_node_per_step_with_the_unstepped_events) {
    weir_exec *e = start(DIAMOND, WEIR_COMPLETION_AUTO, 0);
    inject(e, "a", "5");
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_COMPLETED);
    char *plain, *plain_settled;
    take_reference(e, &plain, &plain_settled);

    e = start(DIAMOND, WEIR_COMPLETION_AUTO, 0);
    weir_exec_stepping(e, true, 0);
    cr_assert(weir_exec_is_stepping(e));
    weir_inject_ack ack = inject(e, "a", "5");
    cr_assert(ack.queued, "stepping: the inject waits for a step");
    cr_assert_eq(ack.tick, 0);
    cr_assert_not(ack.settled);
    cr_assert_eq(weir_exec_queue_depth(e), 1);
    cr_assert_not(weir_exec_wave_open(e));
    cr_assert_eq(metric(e, "componentInvocations"), 0);
    const char *expect[] = {"a", "b", "c", "d", "d"};
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(weir_exec_state(e), WEIR_STATE_RUNNING, "no completion before step %d", i);
        cr_assert_eq(json_array_size(ts.settled), 0, "nothing settles before the last step");
        weir_step s = step(e);
        cr_assert_str_eq(s.node, expect[i], "step %d", i);
        cr_assert_str_eq(s.port, "in");
        cr_assert_eq(s.tick, 1);
        cr_assert_not(s.resumed);
        cr_assert_eq(s.wave_done, i == 4, "step %d", i);
        cr_assert_eq(weir_exec_wave_open(e), i < 4, "step %d", i);
        cr_assert_eq(ts_count_events(&ts, "component:invoked"), (size_t)i + 1);
    }
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_COMPLETED, "completed at the step that closed the wave");
    char *stepped = ts_events_text(&ts);
    cr_assert_str_eq(stepped, plain, "the same events byte for byte");
    assert_settled_as(plain_settled); /* the same outputs, trace and hops */
    weir_step s;
    weir_error err;
    cr_assert_eq(weir_exec_step(e, 0, &s, &err), WEIR_ESTATE);
    cr_assert(strstr(err.message, "completed"), "%s", err.message);
    cr_assert_not(s.stepped);
    free(plain);
    free(plain_settled);
    free(stepped);
    weir_exec_destroy(e);
}

Test(step, injects_arriving_mid_wave_queue_and_start_after_it_in_arrival_order) {
    weir_exec *e = start(DIAMOND, WEIR_COMPLETION_NEVER, 0);
    inject(e, "a", "1");
    inject(e, "a", "2");
    inject(e, "a", "3");
    char *plain, *plain_settled;
    take_reference(e, &plain, &plain_settled);

    e = start(DIAMOND, WEIR_COMPLETION_NEVER, 0);
    weir_exec_stepping(e, true, 0);
    inject(e, "a", "1");
    step(e);
    cr_assert(weir_exec_wave_open(e));
    weir_inject_ack a2 = inject(e, "a", "2"), a3 = inject(e, "a", "3");
    cr_assert(a2.queued && a3.queued, "a wave is open: they wait");
    cr_assert_eq(weir_exec_queue_depth(e), 2);
    cr_assert_eq(metric(e, "componentInvocations"), 1, "queueing invokes nothing");
    cr_assert_str_eq(step_all(e), "b:in@1 c:in@1 d:in@1 d:in@1* "
                                  "a:in@2 b:in@2 c:in@2 d:in@2 d:in@2* "
                                  "a:in@3 b:in@3 c:in@3 d:in@3 d:in@3*");
    assert_events_as(plain); /* the same events as three unstepped injects */
    assert_settled_as(plain_settled);
    weir_step s;
    weir_error err;
    cr_assert_eq(weir_exec_step(e, 0, &s, &err), 0);
    cr_assert_not(s.stepped, "nothing left");
    cr_assert_null(s.node);
    free(plain);
    free(plain_settled);
    weir_exec_destroy(e);
}

Test(step, an_effect_result_is_one_step_and_the_inject_settles_after_the_last) {
    weir_exec *e = start(DELAYED, WEIR_COMPLETION_AUTO, 0);
    inject(e, "a", "\"hi\"");
    weir_error err;
    cr_assert_eq(weir_exec_resolve(e, ts_effect_id(&ts, 0), NULL, NULL, 50, &err), 0);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_COMPLETED);
    char *plain, *plain_settled;
    take_reference(e, &plain, &plain_settled);

    e = start(DELAYED, WEIR_COMPLETION_AUTO, 0);
    weir_exec_stepping(e, true, 0);
    inject(e, "a", "\"hi\"");
    cr_assert_str_eq(step_all(e), "a:in@1 d:in@1*");
    cr_assert_eq(json_array_size(ts.effects), 1, "the delay asked for its timer");
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_RUNNING, "an effect is pending");
    json_int_t before = metric(e, "componentInvocations");
    cr_assert_eq(weir_exec_resolve(e, ts_effect_id(&ts, 0), NULL, NULL, 50, &err), 0);
    cr_assert_eq(weir_exec_queue_depth(e), 1, "the result queues");
    cr_assert_eq(metric(e, "componentInvocations"), before, "and resumes nothing by itself");
    weir_step s = step(e);
    cr_assert(s.resumed);
    cr_assert_str_eq(s.node, "d");
    cr_assert_str_eq(s.port, "in", "a resume names the node's first input");
    cr_assert_eq(s.tick, 2);
    cr_assert_not(s.wave_done, "what the resume emitted continues in later steps");
    cr_assert_eq(node_invocations(e, "z"), 0);
    cr_assert_eq(json_array_size(ts.settled), 0);
    s = step(e);
    cr_assert_str_eq(s.node, "z");
    cr_assert(s.wave_done);
    cr_assert_eq(json_array_size(ts.settled), 1, "settled after its last step");
    cr_assert_str_eq(ts_dump(json_object_get(ts_last_settled(&ts), "outputs")), "{\"z:out\":\"hi\"}");
    assert_settled_as(plain_settled);
    assert_events_as(plain);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_COMPLETED);
    free(plain);
    free(plain_settled);
    weir_exec_destroy(e);
}

Test(step, completion_waits_for_the_open_wave_and_the_queue) {
    weir_exec *e = start(DIAMOND, WEIR_COMPLETION_AUTO, 0);
    weir_exec_stepping(e, true, 0);
    inject(e, "a", "1");
    inject(e, "a", "2");
    for (int i = 0; i < 5; i++) step(e);
    cr_assert_not(weir_exec_wave_open(e));
    cr_assert_eq(json_array_size(ts.settled), 1, "the first inject settled");
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_RUNNING, "every output emitted, but an inject waits in the queue");
    for (int i = 0; i < 4; i++) {
        step(e);
        cr_assert_eq(weir_exec_state(e), WEIR_STATE_RUNNING, "the wave is open");
    }
    weir_step s = step(e);
    cr_assert(s.wave_done);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_COMPLETED);
    cr_assert_eq(ts_count_events(&ts, "execution:completed"), 1);
    cr_assert_eq(json_array_size(ts.settled), 2);
    weir_exec_destroy(e);
}

Test(step, a_node_failing_mid_wave_fails_the_execution_at_that_step) {
    weir_exec *e = start(FAILING, WEIR_COMPLETION_AUTO, 0);
    inject(e, "src", "{\"a\":{}}");
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_FAILED);
    char *plain, *plain_settled;
    take_reference(e, &plain, &plain_settled);

    e = start(FAILING, WEIR_COMPLETION_AUTO, 0);
    weir_exec_stepping(e, true, 0);
    inject(e, "src", "{\"a\":{}}");
    weir_step s = step(e);
    cr_assert_str_eq(s.node, "src");
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_RUNNING);
    s = step(e);
    cr_assert_str_eq(s.node, "j");
    cr_assert(s.wave_done, "a failure ends the wave");
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_FAILED);
    cr_assert_str_eq(json_string_value(json_object_get(weir_exec_error(e), "nodeId")), "j");
    cr_assert_not(weir_exec_wave_open(e));
    assert_events_as(plain);
    assert_settled_as(plain_settled);
    weir_error err;
    cr_assert_eq(weir_exec_step(e, 0, &s, &err), WEIR_ESTATE);
    cr_assert(strstr(err.message, "failed"), "%s", err.message);
    free(plain);
    free(plain_settled);
    weir_exec_destroy(e);
}

Test(step, stop_mid_wave_discards_the_open_wave_and_settles_its_inject) {
    weir_exec *e = start(DIAMOND, WEIR_COMPLETION_NEVER, 0);
    weir_exec_stepping(e, true, 0);
    inject(e, "a", "1");
    step(e);
    step(e);
    inject(e, "a", "2");
    size_t discarded = 99;
    weir_error err;
    cr_assert_eq(weir_exec_stop(e, 0, &discarded, &err), 0, "%s", err.message);
    cr_assert_eq(discarded, 1, "the queued inject (the open wave is no queued input)");
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_CANCELLED);
    cr_assert_not(weir_exec_wave_open(e));
    cr_assert_eq(node_invocations(e, "c"), 0, "the rest of the wave never ran");
    cr_assert_eq(node_invocations(e, "d"), 0);
    cr_assert_eq(json_array_size(ts.settled), 2);
    size_t i;
    json_t *st;
    json_array_foreach(ts.settled, i, st) cr_assert_eq(json_integer_value(json_object_get(st, "status")), WEIR_ESTATE);
    cr_assert_eq(ts.finished, 1);
    weir_step s;
    cr_assert_eq(weir_exec_step(e, 0, &s, &err), WEIR_ESTATE);
    weir_exec_destroy(e);
}

Test(step, pause_mid_wave_keeps_it_open_and_a_step_says_paused) {
    weir_exec *e = start(DIAMOND, WEIR_COMPLETION_NEVER, 0);
    weir_exec_stepping(e, true, 0);
    inject(e, "a", "1");
    step(e);
    weir_error err;
    cr_assert_eq(weir_exec_pause(e, 0, &err), 0);
    weir_step s;
    cr_assert_eq(weir_exec_step(e, 0, &s, &err), WEIR_ESTATE);
    cr_assert(strstr(err.message, "paused"), "%s", err.message);
    cr_assert_not(s.stepped);
    cr_assert(inject(e, "a", "2").queued);
    cr_assert_eq(weir_exec_resume(e, 0, &err), 0);
    cr_assert(weir_exec_wave_open(e), "resume while stepping leaves the wave to the steps");
    cr_assert_eq(metric(e, "componentInvocations"), 1);
    cr_assert_str_eq(step_all(e), "b:in@1 c:in@1 d:in@1 d:in@1* a:in@2 b:in@2 c:in@2 d:in@2 d:in@2*");
    weir_exec_destroy(e);
}

Test(step, stepping_off_mid_wave_finishes_it_and_drains_the_queue_as_if_never_stepped) {
    weir_exec *e = start(DIAMOND, WEIR_COMPLETION_NEVER, 0);
    inject(e, "a", "1");
    inject(e, "a", "2");
    char *plain, *plain_settled;
    take_reference(e, &plain, &plain_settled);

    e = start(DIAMOND, WEIR_COMPLETION_NEVER, 0);
    weir_exec_stepping(e, true, 0);
    inject(e, "a", "1");
    step(e);
    step(e);
    inject(e, "a", "2");
    weir_exec_stepping(e, false, 0);
    cr_assert_not(weir_exec_is_stepping(e));
    cr_assert_not(weir_exec_wave_open(e));
    cr_assert_eq(weir_exec_queue_depth(e), 0);
    assert_events_as(plain);
    assert_settled_as(plain_settled);
    /* and without stepping an inject is processed at once again */
    cr_assert_not(inject(e, "a", "3").queued);
    weir_step s;
    weir_error err;
    cr_assert_eq(weir_exec_step(e, 0, &s, &err), WEIR_ESTATE);
    cr_assert(strstr(err.message, "stepping"), "%s", err.message);
    free(plain);
    free(plain_settled);
    weir_exec_destroy(e);
}

Test(step, stepping_off_while_paused_leaves_the_wave_to_resume) {
    weir_exec *e = start(DIAMOND, WEIR_COMPLETION_NEVER, 0);
    weir_exec_stepping(e, true, 0);
    inject(e, "a", "1");
    step(e);
    weir_error err;
    cr_assert_eq(weir_exec_pause(e, 0, &err), 0);
    inject(e, "a", "2");
    weir_exec_stepping(e, false, 0);
    cr_assert(weir_exec_wave_open(e), "paused: nothing runs");
    cr_assert_eq(metric(e, "componentInvocations"), 1);
    cr_assert_eq(weir_exec_resume(e, 0, &err), 0);
    cr_assert_not(weir_exec_wave_open(e));
    cr_assert_eq(weir_exec_queue_depth(e), 0);
    cr_assert_eq(metric(e, "componentInvocations"), 10, "both waves ran to their end");
    cr_assert_eq(json_array_size(ts.settled), 2);
    weir_exec_destroy(e);
}

Test(step, step_needs_stepping_mode_and_a_running_execution) {
    weir_graph *g = ts_graph(&ts, DIAMOND);
    weir_exec *e = NULL;
    weir_error err;
    weir_exec_options o = {.id = "x1", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1};
    cr_assert_eq(weir_exec_create(g, &o, &ts.sh, &e, &err), 0);
    weir_graph_unref(g);
    weir_exec_stepping(e, true, 0);
    weir_step s;
    cr_assert_eq(weir_exec_step(e, 0, &s, &err), WEIR_ESTATE);
    cr_assert(strstr(err.message, "pending"), "%s", err.message);
    cr_assert_eq(weir_exec_start(e, 0, &err), 0);
    cr_assert_eq(weir_exec_step(e, 0, &s, &err), 0);
    cr_assert_not(s.stepped, "nothing to step");
    weir_exec_stepping(e, false, 0);
    cr_assert_eq(weir_exec_step(e, 0, &s, &err), WEIR_ESTATE);
    cr_assert(strstr(err.message, "not in stepping mode"), "%s", err.message);
    weir_exec_destroy(e);
}

Test(step, the_stepping_queue_is_bounded_like_the_pause_queue) {
    weir_exec *e = start(DIAMOND, WEIR_COMPLETION_NEVER, 2);
    weir_exec_stepping(e, true, 0);
    inject(e, "a", "1");
    inject(e, "a", "2");
    json_t *v = json_integer(3);
    weir_inject in = {.node = "a", .value = v, .flags = WEIR_INJECT_OUTPUTS};
    weir_error err;
    cr_assert_eq(weir_exec_inject(e, &in, 0, NULL, &err), WEIR_EFULL);
    cr_assert(strstr(err.message, "stepping"), "%s", err.message);
    cr_assert(strstr(err.message, "MAX_BACKPRESSURE_QUEUE"), "%s", err.message);
    json_decref(v);
    cr_assert_eq(metric(e, "backpressureEvents"), 1);
    step(e); /* the first inject starts: its place in the queue is free */
    inject(e, "a", "3");
    cr_assert_eq(weir_exec_queue_depth(e), 2);
    weir_exec_destroy(e);
}

/* A native component that emits the time its invocation sees. */
static int emit_now(weir_ctx *ctx, unsigned port, json_t *v) {
    (void)port;
    (void)v;
    return weir_emit_new(ctx, 0, json_integer(weir_ctx_now(ctx)));
}
static const weir_port_def now_in[] = {{"in", NULL, NULL}}, now_out[] = {{"out", NULL, NULL}};
static const weir_component now_c = {.id = "test.now", .inputs = now_in, .n_inputs = 1, .outputs = now_out,
                                     .n_outputs = 1, .process = emit_now};

Test(step, every_step_of_a_wave_sees_its_input_time) {
    weir_error err;
    cr_assert_eq(weir_registry_add(ts.reg, &now_c, &err), 0, "%s", err.message);
    weir_exec *e = start(GRAPH(PT("a") ",{\"id\":\"t\",\"component\":\"test.now\"}", E("a", "out", "t", "in")),
                         WEIR_COMPLETION_NEVER, 0);
    weir_exec_stepping(e, true, 0);
    inject_at(e, "a", "1", 100);
    weir_step s;
    cr_assert_eq(weir_exec_step(e, 200, &s, &err), 0);
    cr_assert_eq(weir_exec_pause(e, 300, &err), 0);
    cr_assert_eq(weir_exec_resume(e, 400, &err), 0);
    cr_assert_eq(weir_exec_step(e, 500, &s, &err), 0);
    cr_assert_str_eq(s.node, "t");
    cr_assert_str_eq(ts_dump(json_object_get(ts_last_settled(&ts), "outputs")), "{\"t:out\":100}",
                     "the inject's time, as unstepped");
    weir_exec_destroy(e);
}

/* Destroying an execution with an open wave, a queued inject and a pending
 * effect frees everything (counted by the test allocator). */
Test(step, destroy_with_an_open_wave_leaks_nothing) {
    fa_install(0, 0);
    weir_registry *reg = NULL;
    weir_graph *g = NULL;
    weir_exec *e = NULL;
    weir_error err;
    cr_assert_eq(weir_registry_create(&reg), 0);
    const char *graph = GRAPH(PT("a") "," MAP("b", "value * 2") "," NODE("d", "symbia.core.delay", "{\"delayMs\":5}")
                              "," PT("z"),
                              E("a", "out", "b", "in") "," E("a", "out", "d", "in") "," E("b", "out", "z", "in"));
    cr_assert_eq(weir_graph_load_text(reg, graph, strlen(graph), NULL, &g, &err), 0, "%s", err.message);
    weir_exec_options o = {.id = "x", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1};
    weir_shell sh = {0};
    cr_assert_eq(weir_exec_create(g, &o, &sh, &e, &err), 0);
    cr_assert_eq(weir_exec_start(e, 0, &err), 0);
    weir_exec_stepping(e, true, 0);
    json_t *v = json_pack("{s:[i,i]}", "big", 1, 2);
    weir_inject in = {.node = "a", .value = v, .flags = WEIR_INJECT_OUTPUTS | WEIR_INJECT_TRACE};
    cr_assert_eq(weir_exec_inject(e, &in, 0, NULL, &err), 0);
    cr_assert_eq(weir_exec_inject(e, &in, 0, NULL, &err), 0);
    json_decref(v);
    weir_step s;
    for (int i = 0; i < 3; i++) cr_assert_eq(weir_exec_step(e, 0, &s, &err), 0); /* a, b, d: z is pending */
    cr_assert(weir_exec_wave_open(e));
    cr_assert_eq(weir_exec_pending_effects(e), 1);
    cr_assert_eq(weir_exec_queue_depth(e), 1);
    weir_exec_destroy(e);
    weir_graph_unref(g);
    weir_registry_destroy(reg);
    long live = fa_live();
    fa_uninstall();
    cr_assert_eq(live, 0, "%ld blocks leaked", live);
}

/* Out of memory at every allocation of a stepped run: an error or success,
 * never a crash, never a leak. */
Test(step, failing_allocator_at_every_allocation_of_a_stepped_run_fails_cleanly) {
    size_t total = 0;
    for (size_t n = 1;; n++) {
        fa_install(n, 1);
        weir_registry *reg = NULL;
        weir_graph *g = NULL;
        weir_exec *e = NULL;
        weir_error err;
        int rc = weir_registry_create(&reg);
        if (!rc) rc = weir_graph_load_text(reg, DIAMOND, strlen(DIAMOND), NULL, &g, &err);
        if (!rc) {
            weir_exec_options o = {.id = "x", .completion = WEIR_COMPLETION_AUTO, .timeout_ms = -1};
            weir_shell sh = {0};
            rc = weir_exec_create(g, &o, &sh, &e, &err);
            if (!rc) rc = weir_exec_start(e, 0, &err);
            if (!rc) weir_exec_stepping(e, true, 0);
            for (int i = 0; !rc && i < 2; i++) {
                json_t *v = json_integer(21 + i);
                weir_inject in = {.node = "a", .value = v, .flags = WEIR_INJECT_OUTPUTS | WEIR_INJECT_TRACE};
                rc = v ? weir_exec_inject(e, &in, 0, NULL, &err) : WEIR_ENOMEM;
                json_decref(v);
            }
            weir_step s = {.stepped = true};
            while (!rc && s.stepped && weir_exec_state(e) == WEIR_STATE_RUNNING) rc = weir_exec_step(e, 0, &s, &err);
        }
        cr_assert(rc == 0 || rc == WEIR_ENOMEM || rc == WEIR_ERUNTIME || rc == WEIR_EGRAPH,
                  "allocation %zu: rc %d (%s)", n, rc, weir_strerror(rc));
        weir_exec_destroy(e);
        weir_graph_unref(g);
        weir_registry_destroy(reg);
        long live = fa_live();
        size_t count = fa_count();
        fa_uninstall();
        cr_assert_eq(live, 0, "allocation %zu failing leaked %ld blocks", n, live);
        if (count < n) {
            cr_assert_eq(rc, 0);
            total = n;
            break;
        }
    }
    cr_assert_gt(total, 20, "the sequence allocates (%zu)", total);
}
