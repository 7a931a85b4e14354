/* Executions through the public API, the core driven by a tiny shell
 * (SPEC §3, §4.1–4.4). */
#include <string.h>

#include "failalloc.h"
#include "shell.h"

static test_shell ts;
static void setup(void) { ts_init(&ts, true); }
static void teardown(void) {
    fa_uninstall(); /* a failed allocator test must not leave it installed */
    ts_fini(&ts);
}
TestSuite(exec, .init = setup, .fini = teardown);

#define PT(id) "{\"id\":\"" id "\",\"component\":\"symbia.core.passthrough\"}"
#define E(a, ap, b, bp) \
    "{\"source\":{\"node\":\"" a "\",\"port\":\"" ap "\"},\"target\":{\"node\":\"" b "\",\"port\":\"" bp "\"}}"
#define GRAPH(nodes, edges) "{\"symbia\":\"1.0\",\"name\":\"t\",\"nodes\":[" nodes "],\"edges\":[" edges "]}"

static const char *QUICK =
    GRAPH(PT("input") ",{\"id\":\"double\",\"component\":\"symbia.core.map\",\"config\":{\"expression\":\"value * 2\"}},"
                      "{\"id\":\"output\",\"component\":\"symbia.core.logger\"}",
          E("input", "out", "double", "in") "," E("double", "out", "output", "in"));

static const char *DELAYED =
    GRAPH(PT("a") ",{\"id\":\"d\",\"component\":\"symbia.core.delay\",\"config\":{\"delayMs\":50}}," PT("z"),
          E("a", "out", "d", "in") "," E("d", "out", "z", "in"));

static weir_exec *start_never(weir_graph *g) {
    weir_exec_options o = {.id = "x1", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1};
    return ts_start(&ts, g, &o);
}

Test(exec, quick_reference_doubles_and_completes) {
    weir_graph *g = ts_graph(&ts, QUICK);
    weir_exec *e = ts_start(&ts, g, NULL);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_RUNNING);
    cr_assert_eq(ts_inject(&ts, e, "input", "in", "21", 5), 0);
    json_t *s = ts_last_settled(&ts);
    cr_assert_str_eq(ts_dump(json_object_get(s, "outputs")), "{\"output:out\":42}");
    cr_assert_eq(json_integer_value(json_object_get(s, "hops")), 3);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_COMPLETED, "auto completion after every output emitted");
    json_t *m = weir_exec_metrics(e, 10);
    cr_assert_eq(json_integer_value(json_object_get(m, "messagesProcessed")), 3);
    cr_assert_eq(json_integer_value(json_object_get(m, "messagesEmitted")), 2);
    cr_assert_eq(json_integer_value(json_object_get(m, "uptimeMs")), 5);
    cr_assert_gt(json_real_value(json_object_get(m, "avgLatencyMs")), 0.0);
    json_decref(m);
    cr_assert_eq(json_array_size(ts.logs), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ts.logs, 0), "message")), "42");
    cr_assert_eq(ts_count_events(&ts, "execution:completed"), 1);
    cr_assert_eq(ts.finished, 1);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(exec, trace_has_one_entry_per_hop) {
    weir_graph *g = ts_graph(&ts, QUICK);
    weir_exec *e = ts_start(&ts, g, NULL);
    ts_inject(&ts, e, "input", NULL, "1", 0);
    cr_assert_str_eq(ts_dump(json_object_get(ts_last_settled(&ts), "trace")),
                     "[{\"from\":null,\"tick\":1,\"to\":\"input:in\",\"value\":1},"
                     "{\"from\":\"input:out\",\"tick\":1,\"to\":\"double:in\",\"value\":1},"
                     "{\"from\":\"double:out\",\"tick\":1,\"to\":\"output:in\",\"value\":2}]");
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

/* A native component registered through the API: records the pointer of
 * every value it receives, so fan-out sharing can be proved. */
static json_t *seen[8];
static size_t n_seen;
static int capture(weir_ctx *ctx, unsigned port, json_t *v) {
    (void)port;
    if (n_seen < 8) seen[n_seen++] = v;
    return weir_emit(ctx, 0, v);
}
static const weir_port_def cap_in[] = {{"in", NULL, NULL}}, cap_out[] = {{"out", NULL, NULL}};
static const weir_component capture_c = {.id = "test.capture", .inputs = cap_in, .n_inputs = 1,
                                         .outputs = cap_out, .n_outputs = 1, .process = capture};

Test(exec, native_component_and_fan_out_shares_one_value) {
    weir_error err;
    cr_assert_eq(weir_registry_add(ts.reg, &capture_c, &err), 0, "%s", err.message);
    cr_assert_eq(weir_registry_add(ts.reg, &capture_c, &err), WEIR_EEXISTS);
    n_seen = 0;
    weir_graph *g = ts_graph(&ts, GRAPH(PT("a") ",{\"id\":\"c1\",\"component\":\"test.capture\"},"
                                                "{\"id\":\"c2\",\"component\":\"test.capture\"}",
                                        E("a", "out", "c1", "in") "," E("a", "out", "c2", "in")));
    weir_exec *e = start_never(g);
    ts_inject(&ts, e, "a", "in", "{\"big\":[1,2,3]}", 0);
    cr_assert_eq(n_seen, 2);
    cr_assert_eq(seen[0], seen[1], "fan-out must share the value, not copy it");
    cr_assert_str_eq(ts_dump(json_object_get(ts_last_settled(&ts), "outputs")),
                     "{\"c1:out\":{\"big\":[1,2,3]},\"c2:out\":{\"big\":[1,2,3]}}");
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(exec, diamond_merge_sees_both_branches_in_one_wave) {
    weir_graph *g = ts_graph(
        &ts, GRAPH(PT("src") "," PT("l") "," PT("r") ",{\"id\":\"m\",\"component\":\"symbia.core.merge\",\"config\":{"
                                                     "\"mode\":\"zip\"}}",
                   E("src", "out", "l", "in") "," E("src", "out", "r", "in") "," E("l", "out", "m", "left") "," E(
                       "r", "out", "m", "right")));
    weir_exec *e = ts_start(&ts, g, NULL);
    ts_inject(&ts, e, "src", "in", "7", 0);
    json_t *s = ts_last_settled(&ts);
    cr_assert_str_eq(ts_dump(json_object_get(s, "outputs")), "{\"m:out\":{\"left\":7,\"right\":7}}");
    /* every hop of the diamond ran in tick 1, and l and r both ran before m */
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(s, "trace"), i, h) cr_assert_eq(json_integer_value(json_object_get(h, "tick")), 1);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_COMPLETED);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(exec, unknown_node_and_port_name_the_valid_ones) {
    weir_graph *g = ts_graph(&ts, QUICK);
    weir_exec *e = start_never(g);
    json_t *v = json_integer(1);
    weir_inject in = {.node = "nope", .value = v};
    weir_error err;
    cr_assert_eq(weir_exec_inject(e, &in, 0, NULL, &err), WEIR_ENOTFOUND);
    cr_assert(strstr(err.message, "its nodes are: input, double, output"), "%s", err.message);
    in.node = "double";
    in.port = "x";
    cr_assert_eq(weir_exec_inject(e, &in, 0, NULL, &err), WEIR_ENOTFOUND);
    cr_assert(strstr(err.message, "its input ports are: in"), "%s", err.message);
    json_decref(v);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(exec, state_conflicts_name_the_state) {
    weir_graph *g = ts_graph(&ts, QUICK);
    weir_exec *e = start_never(g);
    weir_error err;
    cr_assert_eq(weir_exec_resume(e, 0, &err), WEIR_ESTATE);
    cr_assert(strstr(err.message, "it is running"), "%s", err.message);
    cr_assert_eq(weir_exec_pause(e, 0, &err), 0);
    cr_assert_eq(weir_exec_pause(e, 0, &err), WEIR_ESTATE);
    cr_assert_eq(weir_exec_stop(e, 0, NULL, &err), 0);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_CANCELLED);
    cr_assert_eq(ts_inject(&ts, e, "input", "in", "1", 0), WEIR_ESTATE);
    cr_assert_eq(weir_exec_stop(e, 0, NULL, &err), WEIR_ESTATE);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(exec, pause_queues_refuses_at_the_bound_and_resume_drains_in_order) {
    weir_graph *g = ts_graph(&ts, QUICK);
    weir_exec_options o = {.id = "x", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1, .max_queue = 3};
    weir_exec *e = ts_start(&ts, g, &o);
    weir_error err;
    cr_assert_eq(weir_exec_pause(e, 0, &err), 0);
    for (int i = 1; i <= 3; i++) {
        json_t *v = json_integer(i);
        weir_inject in = {.node = "input", .port = "in", .value = v, .flags = WEIR_INJECT_OUTPUTS};
        weir_inject_ack ack;
        cr_assert_eq(weir_exec_inject(e, &in, 0, &ack, &err), 0);
        cr_assert(ack.queued);
        cr_assert_not(ack.settled);
        json_decref(v);
    }
    cr_assert_eq(weir_exec_queue_depth(e), 3);
    cr_assert_eq(ts_inject(&ts, e, "input", "in", "4", 0), WEIR_EFULL);
    json_t *m = weir_exec_metrics(e, 0);
    cr_assert_eq(json_integer_value(json_object_get(m, "backpressureEvents")), 1);
    cr_assert_eq(json_integer_value(json_object_get(m, "messagesProcessed")), 0, "nothing processed while paused");
    json_decref(m);
    cr_assert_eq(json_array_size(ts.settled), 0);
    cr_assert_eq(weir_exec_resume(e, 0, &err), 0);
    cr_assert_eq(weir_exec_queue_depth(e), 0);
    cr_assert_eq(json_array_size(ts.settled), 3, "every accepted inject was processed");
    for (int i = 0; i < 3; i++) {
        json_t *out = json_object_get(json_object_get(json_array_get(ts.settled, i), "outputs"), "output:out");
        cr_assert_eq(json_integer_value(out), 2 * (i + 1), "in arrival order");
    }
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(exec, overflow_drop_oldest_and_drop_newest_are_counted_and_evented) {
    weir_graph *g = ts_graph(&ts, QUICK);
    weir_overflow policies[] = {WEIR_OVERFLOW_DROP_OLDEST, WEIR_OVERFLOW_DROP_NEWEST};
    int expect_first[] = {4, 2}; /* doubled value of the first message left */
    for (int p = 0; p < 2; p++) {
        json_array_clear(ts.settled);
        weir_exec_options o = {.id = "x", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1, .max_queue = 2,
                               .overflow = policies[p]};
        weir_exec *e = ts_start(&ts, g, &o);
        weir_error err;
        weir_exec_pause(e, 0, &err);
        for (int i = 1; i <= 3; i++) {
            char buf[8];
            snprintf(buf, sizeof buf, "%d", i);
            cr_assert_eq(ts_inject(&ts, e, "input", "in", buf, 0), 0);
        }
        cr_assert_eq(weir_exec_queue_depth(e), 2);
        weir_exec_resume(e, 0, &err);
        /* the dropped one settled first with status WEIR_EFULL */
        cr_assert_eq(json_integer_value(json_object_get(json_array_get(ts.settled, 0), "status")), WEIR_EFULL);
        json_t *first = json_object_get(json_array_get(ts.settled, 1), "outputs");
        cr_assert_eq(json_integer_value(json_object_get(first, "output:out")), expect_first[p], "%s", ts_dump(first));
        json_t *m = weir_exec_metrics(e, 0);
        cr_assert_eq(json_integer_value(json_object_get(m, "droppedMessages")), 1);
        json_decref(m);
        weir_exec_destroy(e);
    }
    cr_assert_eq(ts_count_events(&ts, "message:dropped"), 2);
    weir_graph_unref(g);
}

Test(exec, effects_resolve_once_and_settle_the_inject) {
    weir_graph *g = ts_graph(&ts, DELAYED);
    weir_exec *e = ts_start(&ts, g, NULL);
    json_t *v = json_string("hi");
    weir_inject in = {.node = "a", .port = "in", .value = v, .flags = WEIR_INJECT_OUTPUTS};
    weir_inject_ack ack;
    weir_error err;
    cr_assert_eq(weir_exec_inject(e, &in, 0, &ack, &err), 0);
    json_decref(v);
    cr_assert_not(ack.settled, "a delay is pending");
    cr_assert_eq(json_array_size(ts.effects), 1);
    json_t *eff = json_array_get(ts.effects, 0);
    cr_assert_str_eq(json_string_value(json_object_get(eff, "kind")), "timer");
    cr_assert_str_eq(json_string_value(json_object_get(eff, "node")), "d");
    cr_assert_str_eq(ts_dump(json_object_get(eff, "payload")), "{\"delayMs\":50}");
    cr_assert_eq(weir_exec_pending_effects(e), 1);
    cr_assert_not(weir_exec_idle(e));
    uint64_t id = ts_effect_id(&ts, 0);
    cr_assert_eq(weir_exec_resolve(e, id + (1ull << 32), NULL, NULL, 50, &err), WEIR_ESTALE, "wrong generation");
    cr_assert_eq(weir_exec_resolve(e, 999, NULL, NULL, 50, &err), WEIR_ESTALE, "unknown slot");
    cr_assert_eq(weir_exec_resolve(e, id, NULL, NULL, 50, &err), 0);
    cr_assert_eq(weir_exec_resolve(e, id, NULL, NULL, 50, &err), WEIR_ESTALE, "already resolved");
    json_t *s = ts_last_settled(&ts);
    cr_assert_eq(json_integer_value(json_object_get(s, "injectId")), (json_int_t)ack.inject_id);
    cr_assert_str_eq(ts_dump(json_object_get(s, "outputs")), "{\"z:out\":\"hi\"}");
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_COMPLETED);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(exec, effect_results_queue_while_paused) {
    weir_graph *g = ts_graph(&ts, DELAYED);
    weir_exec *e = start_never(g);
    ts_inject(&ts, e, "a", "in", "1", 0);
    weir_error err;
    weir_exec_pause(e, 10, &err);
    cr_assert_eq(weir_exec_resolve(e, ts_effect_id(&ts, 0), NULL, NULL, 50, &err), 0);
    cr_assert_eq(json_array_size(ts.settled), 0, "paused: nothing runs");
    cr_assert_eq(weir_exec_queue_depth(e), 1);
    weir_exec_resume(e, 60, &err);
    cr_assert_str_eq(ts_dump(json_object_get(ts_last_settled(&ts), "outputs")), "{\"z:out\":1}");
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(exec, stop_cancels_effects_and_reports_discarded) {
    weir_graph *g = ts_graph(&ts, DELAYED);
    weir_exec *e = start_never(g);
    ts_inject(&ts, e, "a", "in", "1", 0);
    weir_error err;
    weir_exec_pause(e, 0, &err);
    ts_inject(&ts, e, "a", "in", "2", 0);
    ts_inject(&ts, e, "a", "in", "3", 0);
    size_t discarded = 99;
    cr_assert_eq(weir_exec_stop(e, 5, &discarded, &err), 0);
    cr_assert_eq(discarded, 2);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_CANCELLED);
    cr_assert_eq(json_array_size(ts.cancelled), 1);
    cr_assert_eq((uint64_t)json_integer_value(json_array_get(ts.cancelled, 0)), ts_effect_id(&ts, 0));
    cr_assert_eq(weir_exec_resolve(e, ts_effect_id(&ts, 0), NULL, NULL, 50, &err), WEIR_ESTALE);
    /* every tracked inject was answered: 1 pending effect + 2 discarded */
    cr_assert_eq(json_array_size(ts.settled), 3);
    size_t i;
    json_t *s;
    json_array_foreach(ts.settled, i, s) cr_assert_eq(json_integer_value(json_object_get(s, "status")), WEIR_ESTATE);
    json_t *last = json_array_get(ts.events, json_array_size(ts.events) - 1);
    cr_assert_str_eq(json_string_value(json_object_get(last, "event")), "execution:cancelled");
    cr_assert_str_eq(ts_dump(json_object_get(last, "data")), "{\"discarded\":2,\"executionId\":\"x1\"}");
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(exec, unhandled_error_fails_the_execution) {
    weir_graph *g = ts_graph(&ts, GRAPH("{\"id\":\"j\",\"component\":\"symbia.data.json-transform\",\"config\":{"
                                        "\"path\":\"a.b\"}}," PT("z"),
                                        E("j", "out", "z", "in")));
    weir_exec *e = ts_start(&ts, g, NULL);
    ts_inject(&ts, e, "j", "in", "{\"a\":{}}", 0);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_FAILED);
    json_t *err = weir_exec_error(e);
    cr_assert_str_eq(json_string_value(json_object_get(err, "nodeId")), "j");
    cr_assert(strstr(json_string_value(json_object_get(err, "message")), "no key \"b\""), "%s", ts_dump(err));
    cr_assert_eq(ts_count_events(&ts, "component:error"), 1);
    cr_assert_eq(ts_count_events(&ts, "execution:failed"), 1);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(exec, on_error_continue_counts_and_keeps_running) {
    weir_graph *g = ts_graph(&ts, GRAPH("{\"id\":\"j\",\"component\":\"symbia.data.json-transform\",\"config\":{"
                                        "\"path\":\"a\"}}," PT("z"),
                                        E("j", "out", "z", "in")));
    weir_exec_options o = {.id = "x", .on_error = WEIR_ON_ERROR_CONTINUE, .timeout_ms = -1};
    weir_exec *e = ts_start(&ts, g, &o);
    ts_inject(&ts, e, "j", "in", "{}", 0);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_RUNNING);
    cr_assert_str_eq(ts_dump(json_object_get(ts_last_settled(&ts), "outputs")),
                     "{\"j:error\":{\"error\":\"path a: no key \\\"a\\\" (part 1)\",\"path\":\"a\",\"value\":{}}}");
    json_t *m = weir_exec_metrics(e, 0);
    cr_assert_eq(json_integer_value(json_object_get(m, "errorCount")), 1);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(json_object_get(m, "nodes"), "j"), "errors")), 1);
    json_decref(m);
    ts_inject(&ts, e, "j", "in", "{\"a\":5}", 0);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_COMPLETED);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(exec, timeout_fails_the_execution) {
    weir_graph *g = ts_graph(&ts, QUICK);
    weir_exec_options o = {.id = "x", .timeout_ms = -1, .default_timeout_ms = 1000};
    weir_exec *e = ts_start(&ts, g, &o);
    cr_assert_eq(json_array_size(ts.effects), 1, "the timeout is a timer effect");
    cr_assert(weir_exec_idle(e), "the timeout timer is not work in flight");
    weir_error err;
    cr_assert_eq(weir_exec_resolve(e, ts_effect_id(&ts, 0), NULL, NULL, 1000, &err), 0);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_FAILED);
    cr_assert_str_eq(json_string_value(json_object_get(weir_exec_error(e), "message")),
                     "execution timed out after 1000 ms");
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(exec, completion_cancels_the_timeout_timer) {
    weir_graph *g = ts_graph(&ts, QUICK);
    weir_exec_options o = {.id = "x", .timeout_ms = 5000};
    weir_exec *e = ts_start(&ts, g, &o);
    ts_inject(&ts, e, "input", "in", "1", 0);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_COMPLETED);
    cr_assert_eq(json_array_size(ts.cancelled), 1);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(exec, never_completion_for_pipeline_role) {
    weir_graph *g = ts_graph(&ts, "{\"symbia\":\"1\",\"name\":\"p\",\"metadata\":{\"role\":\"pipeline\"},\"nodes\":["
                                  PT("a") "],\"edges\":[]}");
    weir_exec *e = ts_start(&ts, g, NULL);
    ts_inject(&ts, e, "a", "in", "1", 0);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_RUNNING);
    cr_assert_eq(json_array_size(ts.effects), 0, "no default timeout for never executions");
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(exec, accumulator_flushes_partial_batch_on_completion_and_stop) {
    const char *acc = GRAPH("{\"id\":\"acc\",\"component\":\"symbia.core.accumulator\",\"config\":{\"batchSize\":2}}",
                            "");
    weir_graph *g = ts_graph(&ts, acc);
    weir_exec *e = start_never(g);
    for (int i = 1; i <= 3; i++) ts_inject(&ts, e, "acc", "in", i == 1 ? "1" : i == 2 ? "2" : "3", 0);
    cr_assert_str_eq(ts_dump(json_object_get(json_array_get(ts.settled, 1), "outputs")), "{\"acc:out\":[1,2]}");
    weir_error err;
    weir_exec_stop(e, 0, NULL, &err);
    size_t outs = ts_count_events(&ts, "output");
    cr_assert_eq(outs, 2, "the partial [3] is flushed at stop");
    json_t *last_out = NULL;
    size_t i;
    json_t *ev;
    json_array_foreach(ts.events, i, ev) if (strcmp(json_string_value(json_object_get(ev, "event")), "output") == 0)
        last_out = json_object_get(json_object_get(ev, "data"), "value");
    cr_assert_str_eq(ts_dump(last_out), "[3]");
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(exec, events_are_not_built_without_a_listener) {
    test_shell quiet;
    ts_init(&quiet, false);
    weir_graph *g = ts_graph(&quiet, QUICK);
    weir_exec *e = ts_start(&quiet, g, NULL);
    ts_inject(&quiet, e, "input", "in", "1", 0);
    cr_assert_eq(json_array_size(quiet.events), 0);
    weir_exec_destroy(e);
    weir_graph_unref(g);
    ts_fini(&quiet);
}

/* SPEC §4.3: the same ordered input log gives byte-identical events. */
static char *run_log(void) {
    test_shell t;
    ts_init(&t, true);
    weir_graph *g = ts_graph(
        &t, GRAPH(PT("in") ",{\"id\":\"d\",\"component\":\"symbia.core.delay\",\"config\":{\"delayMs\":10}},"
                           "{\"id\":\"f\",\"component\":\"symbia.core.filter\",\"config\":{\"predicate\":\"value > 1\"}},"
                           "{\"id\":\"m\",\"component\":\"symbia.core.merge\"},{\"id\":\"log\",\"component\":"
                           "\"symbia.core.logger\"}",
                  E("in", "out", "d", "in") "," E("in", "out", "f", "in") "," E("d", "out", "m", "a") "," E(
                      "f", "out", "m", "b") "," E("m", "out", "log", "in")));
    weir_exec_options o = {.id = "det", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1};
    weir_exec *e = ts_start(&t, g, &o);
    weir_error err;
    ts_inject(&t, e, "in", "in", "1", 1);
    ts_inject(&t, e, "in", "in", "{\"x\":[1,2]}", 2);
    weir_exec_pause(e, 3, &err);
    ts_inject(&t, e, "in", "in", "5", 4);
    weir_exec_resolve(e, ts_effect_id(&t, 0), NULL, NULL, 11, &err);
    weir_exec_resume(e, 12, &err);
    weir_exec_resolve(e, ts_effect_id(&t, 1), NULL, NULL, 12, &err);
    weir_exec_resolve(e, ts_effect_id(&t, 2), NULL, NULL, 14, &err);
    weir_exec_stop(e, 20, NULL, &err);
    char *text = ts_events_text(&t);
    weir_exec_destroy(e);
    weir_graph_unref(g);
    ts_fini(&t);
    return text;
}

Test(exec, determinism_same_inputs_same_event_bytes) {
    char *a = run_log(), *b = run_log();
    cr_assert(strlen(a) > 1000, "a meaningful stream: %s", a);
    cr_assert_str_eq(a, b);
    free(a);
    free(b);
}

/* Out of memory at every allocation of load + start + inject: always an
 * error or success, never a crash, never a leak. */
Test(exec, failing_allocator_at_every_step_fails_cleanly) {
    size_t total = 0;
    for (size_t n = 1;; n++) {
        fa_install(n, 1);
        weir_registry *reg = NULL;
        weir_graph *g = NULL;
        weir_exec *e = NULL;
        weir_error err;
        int rc = weir_registry_create(&reg);
        if (!rc) rc = weir_graph_load_text(reg, QUICK, strlen(QUICK), NULL, &g, &err);
        if (!rc) {
            weir_exec_options o = {.id = "x", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1};
            weir_shell sh = {0};
            rc = weir_exec_create(g, &o, &sh, &e, &err);
            if (!rc) rc = weir_exec_start(e, 0, &err);
            if (!rc) {
                json_t *v = json_integer(21);
                weir_inject in = {.node = "input", .port = "in", .value = v,
                                  .flags = WEIR_INJECT_OUTPUTS | WEIR_INJECT_TRACE};
                rc = v ? weir_exec_inject(e, &in, 0, NULL, &err) : WEIR_ENOMEM;
                json_decref(v);
            }
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
        if (count < n) { /* nothing failed: the whole sequence ran */
            cr_assert_eq(rc, 0);
            total = n;
            break;
        }
    }
    cr_assert_gt(total, 20, "the sequence allocates (%zu)", total);
}

Test(exec, an_open_input_source_holds_completion_off) {
    weir_graph *g = ts_graph(&ts, QUICK);
    weir_exec *e = ts_start(&ts, g, NULL);
    weir_error err;
    cr_assert_eq(weir_exec_hold(e, true, 0, &err), 0);
    ts_inject(&ts, e, "input", "in", "1", 0);
    ts_inject(&ts, e, "input", "in", "2", 0);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_RUNNING, "held open while the source is open");
    cr_assert_eq(json_array_size(ts.settled), 2);
    cr_assert_eq(weir_exec_hold(e, false, 3, &err), 0);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_COMPLETED, "released: completes");
    cr_assert_eq(weir_exec_hold(e, false, 3, &err), WEIR_ESTATE);
    json_t *m = weir_exec_metrics(e, 3);
    cr_assert_eq(json_integer_value(json_object_get(m, "ticks")), 2, "an empty completion drain spends no tick");
    json_decref(m);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

static int settled_calls;
static void *settled_user;
static void record_user(void *ud, weir_exec *e, const weir_settled *st) {
    (void)ud;
    (void)e;
    settled_calls++;
    settled_user = st->user;
}

Test(exec, inject_user_context_comes_back_when_it_settles_even_inside_the_call) {
    weir_graph *g = ts_graph(&ts, QUICK);
    ts.sh.settled = record_user;
    weir_exec *e = start_never(g);
    int marker;
    json_t *v = json_integer(1);
    weir_inject in = {.node = "input", .port = "in", .value = v, .flags = WEIR_INJECT_TRACK, .user = &marker};
    weir_inject_ack ack;
    weir_error err;
    settled_calls = 0;
    cr_assert_eq(weir_exec_inject(e, &in, 0, &ack, &err), 0);
    cr_assert(ack.settled);
    cr_assert_eq(settled_calls, 1);
    cr_assert_eq(settled_user, &marker, "the caller's context arrives with the settlement");
    json_decref(v);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

static weir_state state_when_settled;
static void record_state(void *ud, weir_exec *e, const weir_settled *st) {
    (void)ud;
    (void)st;
    state_when_settled = weir_exec_state(e);
}

Test(exec, a_settled_inject_sees_the_completion_it_caused) {
    weir_graph *g = ts_graph(&ts, QUICK);
    ts.sh.settled = record_state;
    weir_exec *e = ts_start(&ts, g, NULL);
    json_t *v = json_integer(1);
    weir_inject in = {.node = "input", .value = v, .flags = WEIR_INJECT_TRACK};
    weir_error err;
    cr_assert_eq(weir_exec_inject(e, &in, 0, NULL, &err), 0);
    cr_assert_eq(state_when_settled, WEIR_STATE_COMPLETED);
    json_decref(v);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

/* Events cost nothing while nobody listens, and a quiet spell shows as a
 * gap in seq (SPEC §5: never a silent gap). */
Test(exec, listen_off_builds_no_events_and_leaves_a_seq_gap) {
    weir_graph *g = ts_graph(&ts, QUICK);
    weir_exec *e = start_never(g);
    size_t before = json_array_size(ts.events);
    uint64_t seq0 = weir_exec_seq(e);
    cr_assert_gt(seq0, 0); /* execution:started, execution:state */
    weir_exec_listen(e, false);
    cr_assert_eq(ts_inject(&ts, e, "input", "in", "21", 5), 0);
    cr_assert_eq(json_array_size(ts.events), before, "no event while quiet");
    cr_assert_eq(weir_exec_seq(e), seq0, "seq does not advance while quiet");
    cr_assert_str_eq(ts_dump(json_object_get(ts_last_settled(&ts), "outputs")), "{\"output:out\":42}");
    weir_exec_listen(e, true);
    cr_assert_eq(weir_exec_seq(e), seq0 + 1, "turning events back on skips one seq");
    cr_assert_eq(ts_inject(&ts, e, "input", "in", "1", 6), 0);
    json_t *first = json_array_get(ts.events, before);
    cr_assert_not_null(first);
    cr_assert_eq(json_integer_value(json_object_get(first, "seq")), (json_int_t)(seq0 + 2));
    weir_exec_listen(e, true); /* already on: no gap */
    cr_assert_eq(weir_exec_seq(e), seq0 + 1 + (json_array_size(ts.events) - before));
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

/* Events by interest (SPEC §5): only the kinds listened to are built, and
 * widening the mask shows as a gap in seq. */
Test(exec, a_listen_mask_builds_only_the_kinds_asked_for) {
    weir_graph *g = ts_graph(&ts, QUICK);
    weir_exec *e = start_never(g);
    weir_exec_listen_mask(e, WEIR_EV_OUTPUT);
    cr_assert_eq(weir_exec_listened(e), WEIR_EV_OUTPUT);
    size_t emits = ts_count_events(&ts, "port:emit"), invoked = ts_count_events(&ts, "component:invoked");
    size_t outputs = ts_count_events(&ts, "output");
    uint64_t seq0 = weir_exec_seq(e);
    cr_assert_eq(ts_inject(&ts, e, "input", "in", "21", 5), 0);
    cr_assert_eq(ts_count_events(&ts, "port:emit"), emits, "no port:emit built");
    cr_assert_eq(ts_count_events(&ts, "component:invoked"), invoked, "no component:invoked built");
    cr_assert_eq(ts_count_events(&ts, "output"), outputs + 1);
    cr_assert_eq(weir_exec_seq(e), seq0 + 1, "seq counts only the events built");
    weir_exec_listen_mask(e, WEIR_EV_OUTPUT | WEIR_EV_PORT_EMIT);
    cr_assert_eq(weir_exec_seq(e), seq0 + 2, "a wider mask skips one seq");
    weir_exec_listen_mask(e, WEIR_EV_PORT_EMIT);
    cr_assert_eq(weir_exec_seq(e), seq0 + 2, "a narrower mask does not");
    cr_assert_eq(ts_inject(&ts, e, "input", "in", "1", 6), 0);
    cr_assert_gt(ts_count_events(&ts, "port:emit"), emits);
    cr_assert_eq(ts_count_events(&ts, "output"), outputs + 1);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(exec, event_kinds_and_globs_name_their_bits) {
    cr_assert_eq(weir_event_kind("port:emit"), WEIR_EV_PORT_EMIT);
    cr_assert_eq(weir_event_kind("metrics:update"), WEIR_EV_METRICS);
    cr_assert_eq(weir_event_kind("port:emits"), 0);
    cr_assert_eq(weir_event_kind(NULL), 0);
    cr_assert_str_eq(weir_event_name(WEIR_EV_TIME), "time:advanced");
    cr_assert_null(weir_event_name(WEIR_EV_TIME | WEIR_EV_LOG));
    cr_assert_eq(weir_event_mask("*"), WEIR_EV_ALL);
    cr_assert_eq(weir_event_mask("execution:*"), WEIR_EV_STARTED | WEIR_EV_PAUSED | WEIR_EV_RESUMED |
                                                     WEIR_EV_COMPLETED | WEIR_EV_FAILED | WEIR_EV_CANCELLED |
                                                     WEIR_EV_STATE);
    cr_assert_eq(weir_event_mask("*:update"), WEIR_EV_METRICS);
    cr_assert_eq(weir_event_mask("component:*r*"), WEIR_EV_COMPONENT_ERROR);
    cr_assert_eq(weir_event_mask("log"), WEIR_EV_LOG);
    cr_assert_eq(weir_event_mask("nothing:*"), 0);
    cr_assert_eq(weir_event_mask("log*x"), 0);
}
