/* Change while running (weir_exec_upgrade): an execution moved to a new
 * version of its graph between inputs keeps the state and counters of the
 * nodes it keeps (an accumulator's buffer, under its new config), drops
 * the state of removed nodes and cancels their pending effects (a delay's
 * timers), initializes new nodes as at start (an interval arms its timer),
 * keeps tracked injects waiting on kept nodes, and is an input: applied to
 * a fresh execution from its record, and snapshotted after it, it gives the
 * same execution.  A refused upgrade (an open wave, orphaned queued
 * injects, a finished execution) changes nothing. */
#include <criterion/criterion.h>
#include <string.h>

#include "shell.h"

#define NODE(id, comp, cfg) "{\"id\":\"" id "\",\"component\":\"" comp "\",\"config\":" cfg "}"
#define EDGE(a, b) "{\"source\":{\"node\":\"" a "\",\"port\":\"out\"},\"target\":{\"node\":\"" b "\",\"port\":\"in\"}}"

/* v1: in → acc (batches of 3) → out, in → slow (a long delay). */
static const char *V1 = "{\"symbia\":\"1.0\",\"name\":\"up\",\"version\":\"1\",\"nodes\":["  //
    NODE("in", "symbia.core.passthrough", "{}") "," NODE("acc", "symbia.core.accumulator", "{\"batchSize\":3}") ","  //
    NODE("slow", "symbia.core.delay", "{\"delayMs\":600000}") "," NODE("out", "symbia.core.passthrough", "{}")  //
    "],\"edges\":[" EDGE("in", "acc") "," EDGE("in", "slow") "," EDGE("acc", "out") "]}";

/* v2: acc kept (batches of 4), slow and out removed, len and tick added. */
static const char *V2 = "{\"symbia\":\"1.0\",\"name\":\"up\",\"version\":\"2\",\"nodes\":["  //
    NODE("in", "symbia.core.passthrough", "{}") "," NODE("acc", "symbia.core.accumulator", "{\"batchSize\":4}") ","  //
    NODE("len", "symbia.core.map", "{\"expression\":\"value.length\"}") ","  //
    NODE("tick", "symbia.core.interval", "{\"everyMs\":1000}")  //
    "],\"edges\":[" EDGE("in", "acc") "," EDGE("acc", "len") "]}";

static char *dump(json_t *v) { return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY); }

static void inject(weir_exec *e, const char *node, const char *value, unsigned flags, int64_t now) {
    json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
    weir_inject in = {node, NULL, v, flags, NULL};
    weir_error err;
    cr_assert_eq(weir_exec_inject(e, &in, now, NULL, &err), 0, "%s", err.message);
    json_decref(v);
}

static json_t *node_state(weir_exec *e, const char *node) {
    json_t *s = weir_exec_node_state(e, node);
    cr_assert_not_null(s, "no node %s", node);
    return s;
}

static void state_is(weir_exec *e, const char *node, const char *want) {
    json_t *s = node_state(e, node);
    char *t = dump(s);
    cr_assert_str_eq(t, want, "state of %s", node);
    free(t);
    json_decref(s);
}

static bool has_id(json_t *ids, uint64_t id) {
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) if ((uint64_t)json_integer_value(v) == id) return true;
    return false;
}

static json_int_t node_metric(weir_exec *e, const char *node, const char *key) {
    json_t *m = weir_exec_metrics(e, 0);
    json_int_t v = json_integer_value(json_object_get(json_object_get(json_object_get(m, "nodes"), node), key));
    json_decref(m);
    return v;
}

Test(upgrade, keeps_kept_state_drops_removed_and_cancels_their_effects) {
    test_shell A;
    ts_init(&A, true);
    weir_graph *g1 = ts_graph(&A, V1), *g2 = ts_graph(&A, V2);
    weir_exec_options o = {.id = "up-1", .completion = WEIR_COMPLETION_NEVER};
    weir_exec *e = ts_start(&A, g1, &o);
    inject(e, "in", "1", 0, 10);
    inject(e, "in", "2", 0, 20);
    state_is(e, "acc", "{\"buffer\":[1,2]}");
    cr_assert_eq(json_array_size(A.effects), 2, "slow's two timers: %s", ts_dump(A.effects));
    uint64_t t1 = ts_effect_id(&A, 0), t2 = ts_effect_id(&A, 1);
    uint64_t tick = weir_exec_tick(e);
    json_t *report;
    weir_error err;
    cr_assert_eq(weir_exec_upgrade(e, g2, NULL, 30, &report, &err), 0, "%s", err.message);
    cr_assert_eq(weir_exec_graph(e), g2);
    cr_assert_eq(weir_exec_tick(e), tick + 1, "the upgrade spends a tick");
    char *r = dump(report);
    cr_assert(strstr(r, "\"kept\":[\"in\",\"acc\"]"), "%s", r);
    cr_assert(strstr(r, "\"added\":[\"len\",\"tick\"]"), "%s", r);
    cr_assert(strstr(r, "\"removed\":[\"slow\",\"out\"]"), "%s", r);
    cr_assert(strstr(r, "\"droppedState\":{\"out\":{},\"slow\":{\"pending\":2}}"), "%s", r);
    json_t *cancelled = json_object_get(report, "cancelledEffects");
    cr_assert_eq(json_array_size(cancelled), 2, "%s", r);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(cancelled, 0), "nodeId")), "slow");
    free(r);
    json_decref(report);
    /* the shell was told: slow's timers are cancelled */
    cr_assert(has_id(A.cancelled, t1) && has_id(A.cancelled, t2), "%s", ts_dump(A.cancelled));
    cr_assert_eq(weir_exec_resolve(e, t1, NULL, NULL, 40, &err), WEIR_ESTALE, "a cancelled timer is stale");
    /* kept: the buffer and the counters; the new config applies */
    state_is(e, "acc", "{\"buffer\":[1,2]}");
    cr_assert_eq(node_metric(e, "acc", "invocations"), 2);
    cr_assert_eq(node_metric(e, "in", "invocations"), 2);
    /* new: fresh, and initialized as at start (the interval armed its timer) */
    state_is(e, "len", "{}");
    cr_assert_eq(node_metric(e, "len", "invocations"), 0);
    json_t *last = json_array_get(A.effects, json_array_size(A.effects) - 1);
    cr_assert_str_eq(json_string_value(json_object_get(last, "node")), "tick", "%s", ts_dump(A.effects));
    cr_assert_eq(weir_exec_pending_effects(e), 1, "only the interval's timer is pending");
    cr_assert_null(weir_exec_node_state(e, "slow"));
    inject(e, "in", "3", WEIR_INJECT_OUTPUTS, 50);
    cr_assert_str_eq(ts_dump(json_object_get(ts_last_settled(&A), "outputs")), "{}", "3 of 4: no batch yet");
    inject(e, "in", "4", WEIR_INJECT_OUTPUTS, 60);
    cr_assert_str_eq(ts_dump(json_object_get(ts_last_settled(&A), "outputs")), "{\"len:out\":4}");
    weir_exec_destroy(e);
    weir_graph_unref(g1);
    weir_graph_unref(g2);
    ts_fini(&A);
}

Test(upgrade, a_tracked_inject_waiting_on_a_kept_node_settles_after_it) {
    test_shell A;
    ts_init(&A, false);
    const char *d1 = "{\"symbia\":\"1.0\",\"name\":\"d\",\"nodes\":[" NODE("in", "symbia.core.passthrough", "{}") ","
        NODE("dly", "symbia.core.delay", "{\"delayMs\":100}") "],\"edges\":[" EDGE("in", "dly") "]}";
    const char *d2 = "{\"symbia\":\"1.0\",\"name\":\"d\",\"nodes\":[" NODE("in", "symbia.core.passthrough", "{}") ","
        NODE("dly", "symbia.core.delay", "{\"delayMs\":100}") "," NODE("x", "symbia.core.map", "{\"expression\":\"value * 10\"}")
        "],\"edges\":[" EDGE("in", "dly") "," EDGE("dly", "x") "]}";
    weir_graph *g1 = ts_graph(&A, d1), *g2 = ts_graph(&A, d2);
    weir_exec_options o = {.id = "up-2", .completion = WEIR_COMPLETION_NEVER};
    weir_exec *e = ts_start(&A, g1, &o);
    inject(e, "in", "7", WEIR_INJECT_OUTPUTS, 0);
    cr_assert_eq(json_array_size(A.settled), 0, "it waits for the delay");
    uint64_t timer = ts_effect_id(&A, 0);
    weir_error err;
    cr_assert_eq(weir_exec_upgrade(e, g2, NULL, 10, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(json_array_size(A.settled), 0, "still waiting: its delay was kept");
    cr_assert_eq(weir_exec_resolve(e, timer, NULL, NULL, 100, &err), 0, "%s", err.message);
    cr_assert_eq(json_array_size(A.settled), 1);
    cr_assert_str_eq(ts_dump(json_object_get(ts_last_settled(&A), "outputs")), "{\"x:out\":70}",
                     "the kept delay's message reaches the new node");
    weir_exec_destroy(e);
    weir_graph_unref(g1);
    weir_graph_unref(g2);
    ts_fini(&A);
}

static char *whole(weir_exec *e) {
    json_t *j = json_pack("{s:o,s:I,s:s,s:I,s:I}", "states", weir_exec_states(e), "tick", (json_int_t)weir_exec_tick(e),
                          "state", weir_state_name(weir_exec_state(e)), "pending",
                          (json_int_t)weir_exec_pending_effects(e), "queue", (json_int_t)weir_exec_queue_depth(e));
    char *t = dump(j);
    json_decref(j);
    return t;
}

Test(upgrade, refused_changes_nothing) {
    test_shell A;
    ts_init(&A, false);
    weir_graph *g1 = ts_graph(&A, V1), *g2 = ts_graph(&A, V2);
    const char *v3 = "{\"symbia\":\"1.0\",\"name\":\"up\",\"nodes\":[" NODE("in2", "symbia.core.passthrough", "{}") ","
        NODE("acc", "symbia.core.accumulator", "{}") "],\"edges\":[" EDGE("in2", "acc") "]}";
    weir_graph *g3 = ts_graph(&A, v3);
    weir_exec_options o = {.id = "up-3", .completion = WEIR_COMPLETION_NEVER};
    weir_exec *e = ts_start(&A, g1, &o);
    inject(e, "in", "1", 0, 10);
    size_t effects = json_array_size(A.effects), cancels = json_array_size(A.cancelled);
    weir_error err;
    /* a stepped wave open */
    weir_exec_stepping(e, true, 20);
    inject(e, "in", "2", 0, 20);
    weir_step st;
    cr_assert_eq(weir_exec_step(e, 20, &st, &err), 0, "%s", err.message);
    cr_assert(weir_exec_wave_open(e));
    char *before = whole(e);
    json_t *report = json_null();
    cr_assert_eq(weir_exec_upgrade(e, g2, NULL, 30, &report, &err), WEIR_ESTATE);
    cr_assert(strstr(err.message, "finish the wave first"), "%s", err.message);
    cr_assert_null(report);
    char *after = whole(e);
    cr_assert_str_eq(before, after);
    free(before);
    free(after);
    cr_assert_eq(weir_exec_graph(e), g1);
    while (weir_exec_wave_open(e)) cr_assert_eq(weir_exec_step(e, 20, &st, &err), 0, "%s", err.message);
    weir_exec_stepping(e, false, 20);
    /* paused with an inject queued for node "in", which v3 does not have */
    cr_assert_eq(weir_exec_pause(e, 40, &err), 0, "%s", err.message);
    inject(e, "in", "3", 0, 41);
    before = whole(e);
    cr_assert_eq(weir_exec_upgrade(e, g3, NULL, 50, NULL, &err), WEIR_ESTATE);
    cr_assert(strstr(err.message, "orphan 1 queued inject") && strstr(err.message, "\"in\""), "%s", err.message);
    after = whole(e);
    cr_assert_str_eq(before, after);
    cr_assert_eq(weir_exec_graph(e), g1);
    cr_assert_eq(json_array_size(A.effects), effects + 1, "the stepped inject of 2 asked for one timer, the queued one none");
    cr_assert_eq(json_array_size(A.cancelled), cancels, "nothing cancelled");
    free(before);
    free(after);
    /* a version that keeps "in": the paused execution moves, its queue follows */
    cr_assert_eq(weir_exec_upgrade(e, g2, NULL, 60, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(weir_exec_queue_depth(e), 1);
    cr_assert_eq(weir_exec_resume(e, 70, &err), 0, "%s", err.message);
    state_is(e, "acc", "{\"buffer\":[1,2,3]}");
    /* finished */
    cr_assert_eq(weir_exec_stop(e, 80, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(weir_exec_upgrade(e, g1, NULL, 90, NULL, &err), WEIR_ESTATE);
    cr_assert(strstr(err.message, "running or paused"), "%s", err.message);
    weir_exec_destroy(e);
    weir_graph_unref(g1);
    weir_graph_unref(g2);
    weir_graph_unref(g3);
    ts_fini(&A);
}

/* The inputs told to the shell, as a journal keeps them. */
static int record(void *ud, weir_exec *e, const weir_input_rec *in, weir_error *err) {
    (void)e;
    (void)err;
    json_t *body = weir_input_json(in);
    cr_assert_not_null(body);
    json_array_append_new(ud, json_pack("{s:o,s:I,s:I}", "body", body, "now", (json_int_t)in->now_ms, "tick",
                                        (json_int_t)in->tick));
    return 0;
}

Test(upgrade, is_an_input_replayed_from_its_record_and_snapshotted_after) {
    test_shell A, B;
    ts_init(&A, false);
    ts_init(&B, false);
    json_t *log = json_array();
    A.sh.input = record;
    A.sh.ud = log; /* settled, finished: not used here */
    A.sh.settled = NULL;
    A.sh.finished = NULL;
    weir_graph *g1 = ts_graph(&A, V1), *g2 = ts_graph(&A, V2);
    weir_exec_options o = {.id = "up-4", .completion = WEIR_COMPLETION_NEVER};
    weir_exec *a = ts_start(&A, g1, &o);
    inject(a, "in", "1", 0, 10);
    inject(a, "in", "2", 0, 20);
    json_t *body = json_pack("{s:{}}", "graph"); /* what a journal carries; the core does not read it */
    weir_error err;
    cr_assert_eq(weir_exec_upgrade(a, g2, body, 30, NULL, &err), 0, "%s", err.message);
    json_decref(body);
    inject(a, "in", "3", 0, 40);
    json_t *up = json_object_get(json_array_get(log, 3), "body");
    cr_assert_str_eq(json_string_value(json_object_get(up, "op")), "upgrade", "%s", ts_dump(log));
    cr_assert(json_is_object(json_object_get(up, "graph")));
    /* a fresh execution of v1 given the same records (the upgrade with v2 loaded) */
    weir_exec *b;
    cr_assert_eq(weir_exec_create(g1, &o, &B.sh, &b, &err), 0, "%s", err.message);
    size_t i;
    json_t *r;
    json_array_foreach(log, i, r) {
        weir_input_rec in;
        cr_assert_eq(weir_input_parse(json_object_get(r, "body"), json_integer_value(json_object_get(r, "now")),
                                      (uint64_t)json_integer_value(json_object_get(r, "tick")), &in, &err),
                     0, "%s", err.message);
        cr_assert_eq(weir_exec_tick(b), in.tick, "record %zu", i);
        if (in.kind == WEIR_IN_UPGRADE) {
            weir_error e2;
            cr_assert_eq(weir_exec_apply(b, &in, NULL, NULL, &e2), WEIR_EINVAL, "no graph loaded: refused");
            in.graph = g2;
        }
        cr_assert_eq(weir_exec_apply(b, &in, NULL, NULL, &err), 0, "record %zu: %s", i, err.message);
    }
    char *ta = whole(a), *tb = whole(b);
    cr_assert_str_eq(ta, tb);
    free(tb);
    /* a snapshot after the upgrade restores into an execution of v2 */
    json_t *snap = weir_exec_snapshot(a, &err);
    cr_assert_not_null(snap, "%s", err.message);
    weir_exec *c2;
    cr_assert_eq(weir_exec_create(g2, &o, NULL, &c2, &err), 0);
    cr_assert_eq(weir_exec_restore(c2, snap, &err), 0, "%s", err.message);
    char *tc = whole(c2);
    cr_assert_str_eq(ta, tc);
    free(ta);
    free(tc);
    json_decref(snap);
    weir_exec_destroy(c2);
    weir_exec_destroy(a);
    weir_exec_destroy(b);
    weir_graph_unref(g1);
    weir_graph_unref(g2);
    json_decref(log);
    ts_fini(&A);
    ts_fini(&B);
}
