/* Executions at their edges: effects resolved, cancelled and queued in odd
 * orders, pause and stop around them (SPEC §3, §4.4). */
#include <string.h>

#include "shell.h"

static test_shell ts;
static void setup(void) { ts_init(&ts, true); }
static void teardown(void) { ts_fini(&ts); }
TestSuite(exec_edges, .init = setup, .fini = teardown);

#define PT(id) "{\"id\":\"" id "\",\"component\":\"symbia.core.passthrough\"}"
#define E(a, ap, b, bp) \
    "{\"source\":{\"node\":\"" a "\",\"port\":\"" ap "\"},\"target\":{\"node\":\"" b "\",\"port\":\"" bp "\"}}"
#define GRAPH(nodes, edges) "{\"symbia\":\"1.0\",\"name\":\"t\",\"nodes\":[" nodes "],\"edges\":[" edges "]}"

static weir_exec *start_never(weir_graph *g) {
    weir_exec_options o = {.id = "x1", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1};
    return ts_start(&ts, g, &o);
}

static int64_t node_metric(weir_exec *e, const char *node, const char *key) {
    json_t *m = weir_exec_metrics(e, 0);
    int64_t v = json_integer_value(json_object_get(json_object_get(json_object_get(m, "nodes"), node), key));
    json_decref(m);
    return v;
}

/* A race: each message asks for two effects; whichever resumes first wins
 * and cancels the other, which this instance has not seen resolved. */
static int race_resumes, race_cancel_rc;
static int race_process(weir_ctx *ctx, unsigned port, json_t *v) {
    (void)port;
    uint64_t a, b;
    json_t *ca = json_pack("{s:O}", "v", v), *cb = json_pack("{s:O}", "v", v);
    int rc = weir_effect_request(ctx, WEIR_EFFECT_TIMER, json_pack("{s:i}", "delayMs", 1), json_incref(ca), &a);
    if (!rc) rc = weir_effect_request(ctx, WEIR_EFFECT_HTTP, json_pack("{s:s}", "url", "http://x"), json_incref(cb), &b);
    if (!rc) { /* each continuation names the other effect */
        json_object_set_new(ca, "other", json_integer((json_int_t)b));
        json_object_set_new(cb, "other", json_integer((json_int_t)a));
    }
    json_decref(ca);
    json_decref(cb);
    return rc;
}
static int race_resume(weir_ctx *ctx, const weir_effect_result *res, json_t *cont) {
    (void)res;
    race_resumes++;
    race_cancel_rc = weir_effect_cancel(ctx, (uint64_t)json_integer_value(json_object_get(cont, "other")));
    return weir_emit(ctx, 0, json_object_get(cont, "v"));
}
static const weir_port_def race_in[] = {{"in", NULL, NULL}}, race_out[] = {{"out", NULL, NULL}};
static const weir_component race_c = {.id = "test.race", .inputs = race_in, .n_inputs = 1, .outputs = race_out,
                                      .n_outputs = 1, .process = race_process, .resume = race_resume};

Test(exec_edges, cancel_reaches_a_result_queued_while_paused) {
    weir_error err;
    cr_assert_eq(weir_registry_add(ts.reg, &race_c, &err), 0, "%s", err.message);
    weir_graph *g = ts_graph(&ts, GRAPH("{\"id\":\"r\",\"component\":\"test.race\"}", ""));
    weir_exec *e = start_never(g);
    race_resumes = 0;
    cr_assert_eq(ts_inject(&ts, e, "r", "in", "7", 0), 0);
    cr_assert_eq(json_array_size(ts.effects), 2);
    cr_assert_eq(weir_exec_pause(e, 1, &err), 0);
    /* both finish while paused: both results wait in the queue */
    cr_assert_eq(weir_exec_resolve(e, ts_effect_id(&ts, 0), NULL, NULL, 2, &err), 0);
    cr_assert_eq(weir_exec_resolve(e, ts_effect_id(&ts, 1), NULL, NULL, 3, &err), 0);
    cr_assert_eq(weir_exec_queue_depth(e), 2);
    cr_assert_eq(weir_exec_resume(e, 4, &err), 0);
    cr_assert_eq(race_cancel_rc, 0, "the loser's result was never seen by the instance: cancel must reach it");
    cr_assert_eq(race_resumes, 1, "a cancelled effect never resumes");
    cr_assert_eq(weir_exec_queue_depth(e), 0);
    cr_assert_eq(json_array_size(ts.settled), 1);
    json_t *s = ts_last_settled(&ts);
    cr_assert_str_eq(ts_dump(json_object_get(s, "outputs")), "{\"r:out\":7}");
    cr_assert_eq(json_integer_value(json_object_get(s, "status")), 0);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

/* The symptom in a built-in: a quiet timer that fired while paused must not
 * flush the batch after a newer value re-armed it. */
Test(exec_edges, accumulator_rearm_cancels_a_quiet_timer_that_fired_while_paused) {
    weir_graph *g = ts_graph(
        &ts, GRAPH("{\"id\":\"acc\",\"component\":\"symbia.core.accumulator\",\"config\":{\"batchSize\":5,\"flushMs\":"
                   "100}}",
                   ""));
    weir_exec *e = start_never(g);
    weir_error err;
    cr_assert_eq(ts_inject(&ts, e, "acc", "in", "1", 0), 0);
    cr_assert_eq(weir_exec_pause(e, 10, &err), 0);
    cr_assert_eq(ts_inject(&ts, e, "acc", "in", "2", 20), 0);                             /* queued first */
    cr_assert_eq(weir_exec_resolve(e, ts_effect_id(&ts, 0), NULL, NULL, 100, &err), 0); /* then the timer */
    cr_assert_eq(weir_exec_resume(e, 110, &err), 0);
    cr_assert_eq(node_metric(e, "acc", "emitted"), 0, "2 re-armed the quiet timer: nothing is flushed yet");
    cr_assert_eq(weir_exec_pending_effects(e), 1, "exactly the re-armed timer is pending");
    cr_assert_eq(weir_exec_resolve(e, ts_effect_id(&ts, 1), NULL, NULL, 210, &err), 0);
    cr_assert_eq(node_metric(e, "acc", "emitted"), 1);
    cr_assert_str_eq(ts_dump(json_object_get(ts_last_settled(&ts), "outputs")), "{\"acc:out\":[1,2]}");
    cr_assert_eq(weir_exec_pending_effects(e), 0);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

/* Output keys are "node:port" in full, however long the node id. */
Test(exec_edges, long_node_ids_keep_distinct_output_keys) {
    char id1[700], id2[700], graph[4096];
    memset(id1, 'a', 600);
    memcpy(id2, id1, 600);
    strcpy(id1 + 600, "-one");
    strcpy(id2 + 600, "-two");
    snprintf(graph, sizeof graph, GRAPH(PT("src") ",{\"id\":\"%s\",\"component\":\"symbia.core.passthrough\"},"
                                                  "{\"id\":\"%s\",\"component\":\"symbia.core.passthrough\"}",
                                        "{\"source\":{\"node\":\"src\",\"port\":\"out\"},\"target\":{\"node\":\"%s\","
                                        "\"port\":\"in\"}},{\"source\":{\"node\":\"src\",\"port\":\"out\"},\"target\":"
                                        "{\"node\":\"%s\",\"port\":\"in\"}}"),
             id1, id2, id1, id2);
    weir_graph *g = ts_graph(&ts, graph);
    weir_exec *e = start_never(g);
    cr_assert_eq(ts_inject(&ts, e, "src", "in", "1", 0), 0);
    json_t *outs = json_object_get(ts_last_settled(&ts), "outputs");
    cr_assert_eq(json_object_size(outs), 2, "%s", ts_dump(outs));
    char key[720];
    snprintf(key, sizeof key, "%s:out", id2);
    cr_assert_not_null(json_object_get(outs, key));
    weir_exec_destroy(e);
    weir_graph_unref(g);
}
