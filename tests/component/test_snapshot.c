/* Snapshots (SPEC §7.1, weir_exec_snapshot / weir_exec_restore): an
 * execution restored from a snapshot into a fresh core goes on exactly as
 * the saved one — the same node states of every stateful built-in, the
 * same pending effects (ids, payloads), the same later effect ids, events
 * and outputs for the same later inputs.  Also: no snapshot mid-wave, a
 * component that keeps state it cannot save, a snapshot that does not fit. */
#include <criterion/criterion.h>
#include <string.h>

#include "shell.h"

/* Every stateful built-in: accumulator (with its flush timer), state.once,
 * merge in zip and latest modes, delay (pending timers), http-request
 * (pending requests). */
static const char *GRAPH =
    "{\"symbia\":\"1.0\",\"name\":\"snap\",\"nodes\":["
    "{\"id\":\"in\",\"component\":\"symbia.core.passthrough\"},"
    "{\"id\":\"l\",\"component\":\"symbia.core.passthrough\"},"
    "{\"id\":\"r\",\"component\":\"symbia.core.passthrough\"},"
    "{\"id\":\"acc\",\"component\":\"symbia.core.accumulator\",\"config\":{\"batchSize\":3,\"flushMs\":50}},"
    "{\"id\":\"once\",\"component\":\"symbia.state.once\"},"
    "{\"id\":\"zip\",\"component\":\"symbia.core.merge\",\"config\":{\"mode\":\"zip\"}},"
    "{\"id\":\"latest\",\"component\":\"symbia.core.merge\",\"config\":{\"mode\":\"latest\"}},"
    "{\"id\":\"dly\",\"component\":\"symbia.core.delay\",\"config\":{\"delayMs\":20}},"
    "{\"id\":\"http\",\"component\":\"symbia.io.http-request\",\"config\":{\"url\":\"http://example.test/x\"}}],"
    "\"edges\":["
    "{\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"acc\",\"port\":\"in\"}},"
    "{\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"once\",\"port\":\"in\"}},"
    "{\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"dly\",\"port\":\"in\"}},"
    "{\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"http\",\"port\":\"in\"}},"
    "{\"source\":{\"node\":\"l\",\"port\":\"out\"},\"target\":{\"node\":\"zip\",\"port\":\"a\"}},"
    "{\"source\":{\"node\":\"r\",\"port\":\"out\"},\"target\":{\"node\":\"zip\",\"port\":\"b\"}},"
    "{\"source\":{\"node\":\"l\",\"port\":\"out\"},\"target\":{\"node\":\"latest\",\"port\":\"a\"}},"
    "{\"source\":{\"node\":\"r\",\"port\":\"out\"},\"target\":{\"node\":\"latest\",\"port\":\"b\"}}]}";

static char *dump(json_t *v) { return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY); }

static void collect(void *ud, const weir_effect *eff) {
    json_array_append_new(ud, json_pack("{s:I,s:s,s:s?,s:O,s:I}", "id", (json_int_t)eff->id, "kind",
                                        weir_effect_kind_name(eff->kind), "node", eff->node_id, "payload",
                                        eff->payload, "requested", (json_int_t)eff->requested_ms));
}

static char *pending_text(weir_exec *e) {
    json_t *a = json_array();
    weir_exec_pending(e, collect, a);
    char *t = dump(a);
    json_decref(a);
    return t;
}

/* Metrics without latencies and uptime (they are measured, not derived). */
static char *counters_text(weir_exec *e) {
    json_t *m = weir_exec_metrics(e, 0);
    json_object_del(m, "avgLatencyMs");
    json_object_del(m, "maxLatencyMs");
    json_object_del(m, "uptimeMs");
    const char *k;
    json_t *n;
    json_object_foreach(json_object_get(m, "nodes"), k, n) {
        json_object_del(n, "avgLatencyMs");
        json_object_del(n, "maxLatencyMs");
    }
    char *t = dump(m);
    json_decref(m);
    return t;
}

static void same(weir_exec *a, weir_exec *b, const char *when) {
    json_t *sa = weir_exec_states(a), *sb = weir_exec_states(b);
    char *ta = dump(sa), *tb = dump(sb);
    cr_assert_str_eq(ta, tb, "%s: node states differ", when);
    free(ta);
    free(tb);
    json_decref(sa);
    json_decref(sb);
    ta = pending_text(a);
    tb = pending_text(b);
    cr_assert_str_eq(ta, tb, "%s: pending effects differ", when);
    free(ta);
    free(tb);
    ta = counters_text(a);
    tb = counters_text(b);
    cr_assert_str_eq(ta, tb, "%s: metrics differ", when);
    free(ta);
    free(tb);
    cr_assert_eq(weir_exec_tick(a), weir_exec_tick(b), "%s", when);
    cr_assert_eq(weir_exec_state(a), weir_exec_state(b), "%s", when);
    cr_assert_eq(weir_exec_seq(a), weir_exec_seq(b), "%s", when);
}

static void inject(weir_exec *e, const char *node, const char *value, int64_t now) {
    json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
    weir_inject in = {node, NULL, v, 0, NULL};
    weir_error err;
    cr_assert_eq(weir_exec_inject(e, &in, now, NULL, &err), 0, "%s", err.message);
    json_decref(v);
}

/* The id of the first pending effect of node (request order). */
static uint64_t pending_of(weir_exec *e, const char *node) {
    json_t *a = json_array();
    weir_exec_pending(e, collect, a);
    uint64_t id = 0;
    size_t i;
    json_t *f;
    json_array_foreach(a, i, f) {
        const char *n = json_string_value(json_object_get(f, "node"));
        if (!id && n && strcmp(n, node) == 0) id = (uint64_t)json_integer_value(json_object_get(f, "id"));
    }
    cr_assert(id, "%s has a pending effect: %s", node, ts_dump(a));
    json_decref(a);
    return id;
}

/* Events after the first `from`, as text without latencies. */
static char *events_from(test_shell *ts, size_t from) {
    json_t *rest = json_array();
    for (size_t i = from; i < json_array_size(ts->events); i++) json_array_append(rest, json_array_get(ts->events, i));
    json_t *saved = ts->events;
    ts->events = rest;
    char *t = ts_events_text(ts);
    ts->events = saved;
    json_decref(rest);
    return t;
}

Test(snapshot, a_restored_execution_goes_on_exactly_as_the_saved_one) {
    test_shell A, B;
    ts_init(&A, true);
    ts_init(&B, true);
    weir_graph *g = ts_graph(&A, GRAPH);
    weir_exec_options o = {.id = "snap-x", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = 5000,
                           .on_error = WEIR_ON_ERROR_CONTINUE};
    weir_exec *a = ts_start(&A, g, &o);
    inject(a, "in", "1", 1);
    inject(a, "in", "2", 2);
    inject(a, "in", "1", 3); /* a duplicate for once; acc: [1,2,1] flushed */
    inject(a, "in", "{\"k\":[true,null]}", 4);
    inject(a, "l", "\"x\"", 5);
    inject(a, "l", "\"y\"", 6); /* zip waits on b with two values */
    inject(a, "r", "\"p\"", 7);
    weir_error err;
    /* one delay timer fires, one http answers: slots are reused, gens move on */
    cr_assert_eq(weir_exec_resolve(a, pending_of(a, "dly"), NULL, NULL, 30, &err), 0, "%s", err.message);
    json_t *resp = json_pack("{s:i,s:{},s:s}", "status", 200, "headers", "body", "{\"ok\":1}");
    cr_assert_eq(weir_exec_resolve(a, pending_of(a, "http"), resp, NULL, 31, &err), 0, "%s", err.message);
    cr_assert_eq(weir_exec_pause(a, 32, &err), 0, "%s", err.message);
    inject(a, "in", "3", 33); /* queued while paused */

    json_t *snap = weir_exec_snapshot(a, &err);
    cr_assert(snap, "%s", err.message);
    size_t mark = json_array_size(A.events);
    weir_exec_options ob = o;
    weir_exec *b;
    cr_assert_eq(weir_exec_create(g, &ob, &B.sh, &b, &err), 0, "%s", err.message);
    cr_assert_eq(weir_exec_restore(b, snap, &err), 0, "%s", err.message);
    same(a, b, "right after the restore");
    char *sa = dump(snap);
    json_t *again = weir_exec_snapshot(b, &err);
    cr_assert(again, "%s", err.message);
    char *sb = dump(again);
    cr_assert_str_eq(sa, sb, "a snapshot of the restored one is the same snapshot");
    free(sa);
    free(sb);
    json_decref(again);

    /* The same later inputs to both. */
    weir_exec *both[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        weir_exec *e = both[i];
        cr_assert_eq(weir_exec_resume(e, 40, &err), 0, "%s", err.message);
        inject(e, "r", "\"q\"", 41);
        cr_assert_eq(weir_exec_resolve(e, pending_of(e, "acc"), NULL, NULL, 50, &err), 0, "%s", err.message);
        inject(e, "in", "2", 42);
        json_t *fail = NULL;
        cr_assert_eq(weir_exec_resolve(e, pending_of(e, "http"), fail, "connection refused", 51, &err), 0, "%s",
                     err.message);
        inject(e, "in", "7", 52);
    }
    same(a, b, "after the same later inputs");
    char *ea = events_from(&A, mark), *eb = events_from(&B, 0);
    cr_assert_str_eq(ea, eb, "the same events after the snapshot");
    free(ea);
    free(eb);
    cr_assert_eq(weir_exec_stop(a, 60, NULL, &err), 0);
    cr_assert_eq(weir_exec_stop(b, 60, NULL, &err), 0);
    same(a, b, "stopped");
    json_decref(resp);
    json_decref(snap);
    weir_exec_destroy(a);
    weir_exec_destroy(b);
    weir_graph_unref(g);
    ts_fini(&A);
    ts_fini(&B);
}

Test(snapshot, not_mid_wave_and_not_into_a_started_execution) {
    test_shell A;
    ts_init(&A, false);
    weir_graph *g = ts_graph(&A, GRAPH);
    weir_exec_options o = {.completion = WEIR_COMPLETION_NEVER};
    weir_exec *a = ts_start(&A, g, &o);
    weir_exec_stepping(a, true, 1);
    inject(a, "in", "1", 1);
    weir_step st;
    weir_error err;
    cr_assert_eq(weir_exec_step(a, 1, &st, &err), 0, "%s", err.message);
    cr_assert(weir_exec_wave_open(a));
    cr_assert_null(weir_exec_snapshot(a, &err));
    cr_assert_eq(err.code, WEIR_ESTATE);
    weir_exec_stepping(a, false, 2);
    json_t *snap = weir_exec_snapshot(a, &err);
    cr_assert(snap, "%s", err.message);
    cr_assert_eq(weir_exec_restore(a, snap, &err), WEIR_ESTATE, "only into a fresh execution");
    /* a snapshot of another graph does not fit */
    weir_graph *other = ts_graph(&A, "{\"symbia\":\"1.0\",\"name\":\"o\",\"nodes\":[{\"id\":\"p\",\"component\":"
                                     "\"symbia.core.passthrough\"}],\"edges\":[]}");
    weir_exec *b;
    cr_assert_eq(weir_exec_create(other, &o, &A.sh, &b, &err), 0);
    cr_assert_eq(weir_exec_restore(b, snap, &err), WEIR_EINVAL);
    cr_assert(strstr(err.message, "number of nodes"), "%s", err.message);
    weir_exec_destroy(b);
    json_decref(snap);
    weir_exec_destroy(a);
    weir_graph_unref(other);
    weir_graph_unref(g);
    ts_fini(&A);
}

/* A component with state_size and no save/load: no snapshot, named. */
static weir_component opaque;

Test(snapshot, a_component_that_cannot_save_its_state_is_named) {
    test_shell A;
    ts_init(&A, false);
    for (const weir_component *const *c = weir_builtin_components(); *c; c++)
        if (strcmp((*c)->id, "symbia.core.accumulator") == 0) opaque = **c;
    opaque.id = "test.opaque";
    opaque.save = NULL;
    opaque.load = NULL;
    weir_error err;
    cr_assert_eq(weir_registry_add(A.reg, &opaque, &err), 0, "%s", err.message);
    weir_graph *g = ts_graph(&A, "{\"symbia\":\"1.0\",\"name\":\"o\",\"nodes\":[{\"id\":\"q\",\"component\":"
                                 "\"test.opaque\"}],\"edges\":[]}");
    weir_exec_options o = {.completion = WEIR_COMPLETION_NEVER};
    weir_exec *a = ts_start(&A, g, &o);
    cr_assert_null(weir_exec_snapshot(a, &err));
    cr_assert_eq(err.code, WEIR_EINVAL);
    cr_assert(strstr(err.message, "\"q\" (test.opaque) keeps state it cannot save"), "%s", err.message);
    weir_exec_destroy(a);
    weir_graph_unref(g);
    ts_fini(&A);
}

/* Inject ids (tracked injects' slots) go on after a restore: none is
 * given twice, a live one's included. */
Test(snapshot, inject_ids_are_never_given_twice) {
    test_shell A;
    ts_init(&A, false);
    weir_graph *g = ts_graph(&A, GRAPH);
    weir_exec_options o = {.completion = WEIR_COMPLETION_NEVER, .on_error = WEIR_ON_ERROR_CONTINUE};
    weir_exec *a = ts_start(&A, g, &o);
    uint64_t seen[16];
    size_t n = 0;
    weir_error err;
    json_t *v = json_integer(1);
    for (int i = 0; i < 5; i++) { /* "in" has a delay and an http after it: each stays live */
        weir_inject in = {i % 2 ? "l" : "in", NULL, v, WEIR_INJECT_TRACK, NULL};
        weir_inject_ack ack;
        cr_assert_eq(weir_exec_inject(a, &in, i, &ack, &err), 0, "%s", err.message);
        seen[n++] = ack.inject_id;
    }
    json_t *snap = weir_exec_snapshot(a, &err);
    cr_assert(snap, "%s", err.message);
    weir_exec *b;
    cr_assert_eq(weir_exec_create(g, &o, &A.sh, &b, &err), 0);
    cr_assert_eq(weir_exec_restore(b, snap, &err), 0, "%s", err.message);
    for (int i = 0; i < 8; i++) {
        weir_inject in = {"l", NULL, v, WEIR_INJECT_TRACK, NULL};
        weir_inject_ack ack;
        cr_assert_eq(weir_exec_inject(b, &in, 10 + i, &ack, &err), 0, "%s", err.message);
        for (size_t k = 0; k < n; k++) cr_assert_neq(ack.inject_id, seen[k], "inject id %llu given twice",
                                                     (unsigned long long)ack.inject_id);
        seen[n++] = ack.inject_id;
    }
    json_decref(v);
    json_decref(snap);
    weir_exec_destroy(a);
    weir_exec_destroy(b);
    weir_graph_unref(g);
    ts_fini(&A);
}
