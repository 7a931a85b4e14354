/* Inputs as records (SPEC §4.3, §7): every input an execution accepts is
 * told to the shell (weir_shell.input) and recorded here as a journal would
 * keep it — weir_input_json's body, now_ms and tick — with the digest of
 * what it produced (input_done).  Replaying the records into a fresh
 * execution of the same graph (weir_input_parse + weir_exec_apply, no input
 * hook, effects ignored) must give the same digest after every record and
 * the same states, metrics, state, tick and pending effects at the end:
 * recovery, time travel, fork and `weir replay` rest on it. */
#include <stdlib.h>
#include <string.h>

#include "shell.h"

#define NODE(id, comp, cfg) "{\"id\":\"" id "\",\"component\":\"" comp "\",\"config\":" cfg "}"
#define E(a, ap, b, bp) \
    "{\"source\":{\"node\":\"" a "\",\"port\":\"" ap "\"},\"target\":{\"node\":\"" b "\",\"port\":\"" bp "\"}}"
#define GRAPH(nodes, edges) "{\"symbia\":\"1.0\",\"name\":\"t\",\"nodes\":[" nodes "],\"edges\":[" edges "]}"

/* Every built-in: in → lg (logger) → once (state.once by id) → sp (split on
 * n > 2); true → http (http-request) → jt (json-transform body.x) → mp (map
 * ×2) → flt (filter > 4) → ml.x (merge latest); false → acc (accumulator,
 * 3 or 50 ms of quiet) → mz.a and → dl (delay 20) → mz.b (merge zip);
 * mz → ml.y.  Unconnected ports (once.duplicate, the error ports, flt's
 * rejected, ml.out) are terminal outputs. */
static const char *ALL =
    GRAPH(NODE("in", "symbia.core.passthrough", "{}") ","
          NODE("lg", "symbia.core.logger", "{\"level\":\"info\",\"prefix\":\"in \"}") ","
          NODE("once", "symbia.state.once", "{\"key\":\"value.id\"}") ","
          NODE("sp", "symbia.core.split", "{\"condition\":\"value.n > 2\"}") ","
          NODE("http", "symbia.io.http-request", "{\"method\":\"POST\",\"url\":\"http://example.test/{{value.id}}\"}") ","
          NODE("jt", "symbia.data.json-transform", "{\"path\":\"body.x\",\"missing\":\"null\"}") ","
          NODE("mp", "symbia.core.map", "{\"expression\":\"value * 2\"}") ","
          NODE("flt", "symbia.core.filter", "{\"predicate\":\"value > 4\"}") ","
          NODE("acc", "symbia.core.accumulator", "{\"batchSize\":3,\"flushMs\":50}") ","
          NODE("dl", "symbia.core.delay", "{\"delayMs\":20}") ","
          NODE("mz", "symbia.core.merge", "{\"mode\":\"zip\"}") ","
          NODE("ml", "symbia.core.merge", "{\"mode\":\"latest\"}"),
          E("in", "out", "lg", "in") "," E("lg", "out", "once", "in") "," E("once", "out", "sp", "in") ","
          E("sp", "true", "http", "in") "," E("sp", "false", "acc", "in") "," E("sp", "false", "dl", "in") ","
          E("http", "out", "jt", "in") "," E("jt", "out", "mp", "in") "," E("mp", "out", "flt", "in") ","
          E("flt", "out", "ml", "x") "," E("acc", "out", "mz", "a") "," E("dl", "out", "mz", "b") ","
          E("mz", "out", "ml", "y"));

/* in → dl (delay 10) → acc (batches of 2): completes once every timer
 * resolved and acc emitted, the drain flushing the partial batch. */
static const char *SMALL = GRAPH(NODE("in", "symbia.core.passthrough", "{}") ","
                                 NODE("dl", "symbia.core.delay", "{\"delayMs\":10}") ","
                                 NODE("acc", "symbia.core.accumulator", "{\"batchSize\":2}"),
                                 E("in", "out", "dl", "in") "," E("dl", "out", "acc", "in"));

/* Three sources of effects with different delays. */
static const char *TIMERS = GRAPH(NODE("a", "symbia.core.delay", "{\"delayMs\":100}") ","
                                  NODE("b", "symbia.core.delay", "{\"delayMs\":300}") ","
                                  NODE("h", "symbia.io.http-request", "{\"url\":\"http://example.test/h\"}") ","
                                  NODE("z", "symbia.core.merge", "{}"),
                                  E("a", "out", "z", "a") "," E("b", "out", "z", "b") "," E("h", "out", "z", "h"));

/* ------------------------------------------------------------ recorder */

typedef struct recorder {
    test_shell ts;   /* first: test_shell's callbacks get &ts as ud */
    json_t *records; /* [{body, now, tick}] */
    json_t *digests; /* [{tick, hops, outputs, hash, state}] */
    json_t *after;   /* [{states, tick, state, queue}] after each record */
    int refuse;      /* the hook's answer; 0 accepts */
    size_t told;     /* calls of the hook, refused ones too */
    size_t nested;   /* records told before the previous one's digest */
} recorder;

static recorder R;

static bool str_eq(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

static bool json_eq_null(json_t *a, json_t *b) {
    if (!a) a = json_null();
    if (!b) b = json_null();
    return json_equal(a, b);
}

/* Every field of two records, as a journal reader would see them. */
static void assert_rec_eq(const weir_input_rec *a, const weir_input_rec *b) {
    cr_assert_eq(a->kind, b->kind);
    cr_assert_eq(a->now_ms, b->now_ms);
    cr_assert_eq(a->tick, b->tick);
    cr_assert(str_eq(a->node, b->node), "node %s vs %s", a->node, b->node);
    cr_assert(str_eq(a->port, b->port), "port %s vs %s", a->port, b->port);
    cr_assert(a->kind != WEIR_IN_INJECT || json_eq_null(a->value, b->value), "value");
    cr_assert_eq(a->flags, b->flags);
    cr_assert_eq(a->effect, b->effect);
    cr_assert_eq(a->effect_kind, b->effect_kind);
    cr_assert(a->kind != WEIR_IN_RESOLVE || json_eq_null(a->result, b->result), "result %s vs %s",
              ts_dump(a->result), ts_dump(b->result));
    cr_assert(str_eq(a->error, b->error), "error %s vs %s", a->error, b->error);
    cr_assert_eq(a->on, b->on);
    cr_assert_eq(a->old_now_ms, b->old_now_ms);
    cr_assert(str_eq(a->from, b->from) && str_eq(a->to, b->to));
}

static int on_input(void *ud, weir_exec *e, const weir_input_rec *in, weir_error *err) {
    recorder *r = ud;
    (void)e;
    r->told++;
    if (json_array_size(r->records) != json_array_size(r->digests)) r->nested++;
    if (r->refuse) {
        snprintf(err->message, sizeof err->message, "the journal is full");
        err->code = r->refuse;
        return r->refuse;
    }
    json_t *body = weir_input_json(in);
    cr_assert_not_null(body, "record of %s", weir_input_kind_name(in->kind));
    /* what a journal reads back is the record it was told */
    weir_input_rec back;
    weir_error perr;
    cr_assert_eq(weir_input_parse(body, in->now_ms, in->tick, &back, &perr), 0, "%s: %s", ts_dump(body),
                 perr.message);
    assert_rec_eq(in, &back);
    json_t *again = weir_input_json(&back);
    cr_assert(json_equal(body, again), "%s", ts_dump(again));
    json_decref(again);
    json_array_append_new(r->records, json_pack("{s:o,s:I,s:I}", "body", body, "now", (json_int_t)in->now_ms, "tick",
                                                (json_int_t)in->tick));
    return 0;
}

static json_t *digest_json(const weir_input_digest *d) {
    char hash[32];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)d->hash);
    return json_pack("{s:I,s:I,s:I,s:s,s:s}", "tick", (json_int_t)d->tick, "hops", (json_int_t)d->hops, "outputs",
                     (json_int_t)d->outputs, "hash", hash, "state", weir_state_name(d->state));
}

static void on_input_done(void *ud, weir_exec *e, const weir_input_digest *d) {
    recorder *r = ud;
    cr_assert_eq(json_array_size(r->digests) + 1, json_array_size(r->records), "one digest per record");
    json_array_append_new(r->digests, digest_json(d));
    json_array_append_new(r->after, json_pack("{s:o,s:I,s:s,s:I}", "states", weir_exec_states(e), "tick",
                                              (json_int_t)weir_exec_tick(e), "state",
                                              weir_state_name(weir_exec_state(e)), "queue",
                                              (json_int_t)weir_exec_queue_depth(e)));
}

static void setup(void) {
    memset(&R, 0, sizeof R);
    ts_init(&R.ts, true);
    R.ts.sh.input = on_input;
    R.ts.sh.input_done = on_input_done;
    R.records = json_array();
    R.digests = json_array();
    R.after = json_array();
}

static json_t *replayed_settled, *replayed_events;

static void teardown(void) {
    json_decref(replayed_settled);
    json_decref(replayed_events);
    replayed_settled = replayed_events = NULL;
    json_decref(R.records);
    json_decref(R.digests);
    json_decref(R.after);
    ts_fini(&R.ts);
}

TestSuite(input_replay, .init = setup, .fini = teardown);

/* -------------------------------------------------------------- driving */

static weir_exec *create(weir_graph *g, const weir_exec_options *o) {
    weir_exec *e;
    weir_error err;
    cr_assert_eq(weir_exec_create(g, o, &R.ts.sh, &e, &err), 0, "%s", err.message);
    return e;
}

static void ok(int rc, const weir_error *err) { cr_assert_eq(rc, 0, "%s", err->message); }

static int inject_f(weir_exec *e, const char *node, const char *port, const char *value_json, unsigned flags,
                    int64_t now, weir_error *err) {
    json_t *v = json_loads(value_json, JSON_DECODE_ANY, NULL);
    cr_assert_not_null(v, "bad test JSON %s", value_json);
    weir_inject in = {.node = node, .port = port, .value = v, .flags = flags};
    int rc = weir_exec_inject(e, &in, now, NULL, err);
    json_decref(v);
    return rc;
}

static void inject(weir_exec *e, const char *node, const char *port, const char *value_json, unsigned flags,
                   int64_t now) {
    weir_error err;
    ok(inject_f(e, node, port, value_json, flags, now, &err), &err);
}

typedef struct fx_find {
    const char *node;
    weir_effect_kind kind;
    uint64_t id;
} fx_find;

static void find_fx(void *ud, const weir_effect *eff) {
    fx_find *f = ud;
    if (!f->id && eff->kind == f->kind && str_eq(eff->node_id, f->node)) f->id = eff->id;
}

/* The first pending effect (in request order) of node (NULL: the execution
 * timeout) of this kind. */
static uint64_t pending_of(weir_exec *e, const char *node, weir_effect_kind kind) {
    fx_find f = {node, kind, 0};
    weir_exec_pending(e, find_fx, &f);
    cr_assert_neq(f.id, 0, "no pending %s effect of %s", weir_effect_kind_name(kind), node ? node : "(timeout)");
    return f.id;
}

static void resolve(weir_exec *e, const char *node, weir_effect_kind kind, const char *result_json,
                    const char *error, int64_t now) {
    json_t *v = result_json ? json_loads(result_json, JSON_DECODE_ANY, NULL) : NULL;
    weir_error err;
    ok(weir_exec_resolve(e, pending_of(e, node, kind), v, error, now, &err), &err);
    json_decref(v);
}

static void step(weir_exec *e, int64_t now) {
    weir_step st;
    weir_error err;
    ok(weir_exec_step(e, now, &st, &err), &err);
    cr_assert(st.stepped);
}

/* ------------------------------------------------------------ replaying */

static void add_pending(void *ud, const weir_effect *eff) {
    json_array_append_new(ud, json_pack("{s:I,s:s,s:s?,s:O,s:I}", "id", (json_int_t)eff->id, "kind",
                                        weir_effect_kind_name(eff->kind), "node", eff->node_id, "payload",
                                        eff->payload, "requested", (json_int_t)eff->requested_ms));
}

static json_t *pending_json(weir_exec *e) {
    json_t *a = json_array();
    weir_exec_pending(e, add_pending, a);
    return a;
}

static void strip_latency(json_t *v) {
    if (json_is_object(v)) {
        json_object_del(v, "avgLatencyMs");
        json_object_del(v, "maxLatencyMs");
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c) strip_latency(c);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) strip_latency(c);
    }
}

static json_t *counters(weir_exec *e, int64_t now) {
    json_t *m = weir_exec_metrics(e, now);
    strip_latency(m);
    return m;
}

static void assert_same_json(json_t *a, json_t *b, const char *what) {
    char *sa = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    char *sb = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    cr_assert(sa && sb);
    cr_assert_str_eq(sa, sb, "%s differs:\n%s\nreplayed:\n%s", what, sa, sb);
    free(sa);
    free(sb);
    json_decref(a);
    json_decref(b);
}

/* Apply records [from, to) to x, checking each record's digest. */
static void replay_range(weir_exec *x, size_t from, size_t to) {
    cr_assert_leq(to, json_array_size(R.records));
    for (size_t i = from; i < to; i++) {
        json_t *rec = json_array_get(R.records, i);
        json_t *body = json_object_get(rec, "body");
        weir_input_rec in;
        weir_error err;
        ok(weir_input_parse(body, json_integer_value(json_object_get(rec, "now")),
                            (uint64_t)json_integer_value(json_object_get(rec, "tick")), &in, &err),
           &err);
        cr_assert_eq(in.tick, weir_exec_tick(x), "record %zu %s: recorded at tick %llu, replayed at %llu", i,
                     ts_dump(body), (unsigned long long)in.tick, (unsigned long long)weir_exec_tick(x));
        weir_input_digest d;
        memset(&d, 0xa5, sizeof d);
        int rc = weir_exec_apply(x, &in, NULL, &d, &err);
        cr_assert_eq(rc, 0, "record %zu %s: %s", i, ts_dump(body), err.message);
        char what[64];
        snprintf(what, sizeof what, "the digest of record %zu", i);
        assert_same_json(json_incref(json_array_get(R.digests, i)), digest_json(&d), what);
    }
}

/* Settled injects as the recording shell keeps them (test_shell's format). */
static void replay_settled(void *ud, weir_exec *e, const weir_settled *s) {
    (void)e;
    json_array_append_new(ud, json_pack("{s:I,s:O?,s:O?,s:I,s:i,s:O?}", "injectId", (json_int_t)s->inject_id,
                                        "outputs", s->outputs, "trace", s->trace, "hops", (json_int_t)s->hops,
                                        "status", s->status, "error", s->error));
}

/* replayed_settled, replayed_events: what the last replay_fresh's
 * execution settled and the events it built (the replaying shell is told
 * them too: the same ids, outputs, traces and events, SPEC §4.3). */

static json_t *replayed_events;

/* Events as the recording shell keeps them (test_shell's format). */
static void replay_event(void *ud, weir_exec *e, uint64_t seq, const char *name, json_t *data) {
    (void)ud;
    (void)e;
    json_array_append_new(replayed_events, json_pack("{s:I,s:s,s:O}", "seq", (json_int_t)seq, "event", name, "data",
                                                     data));
}

static weir_exec *replay_fresh(weir_graph *g, const weir_exec_options *o, size_t n) {
    json_decref(replayed_settled);
    replayed_settled = json_array();
    json_decref(replayed_events);
    replayed_events = json_array();
    weir_shell none = {.ud = replayed_settled, .settled = replay_settled, .event = replay_event};
    weir_exec *x;
    weir_error err;
    cr_assert_eq(weir_exec_create(g, o, &none, &x, &err), 0, "%s", err.message);
    replay_range(x, 0, n);
    return x;
}


/* Everything a replay must reproduce (latencies apart). */
static void assert_same(weir_exec *e, weir_exec *x, int64_t now) {
    assert_same_json(weir_exec_states(e), weir_exec_states(x), "states");
    assert_same_json(counters(e, now), counters(x, now), "metrics");
    assert_same_json(pending_json(e), pending_json(x), "pending effects");
    assert_same_json(weir_exec_json(e), weir_exec_json(x), "the execution");
    cr_assert_eq(weir_exec_state(e), weir_exec_state(x));
    cr_assert_eq(weir_exec_tick(e), weir_exec_tick(x));
    cr_assert_eq(weir_exec_queue_depth(e), weir_exec_queue_depth(x));
    cr_assert_eq(weir_exec_pending_effects(e), weir_exec_pending_effects(x));
    cr_assert_eq(weir_exec_is_stepping(e), weir_exec_is_stepping(x));
    cr_assert_eq(weir_exec_wave_open(e), weir_exec_wave_open(x));
}

/* The injects the replay of every record settled are the original's, and
 * so are its events, byte for byte, latencies apart (SPEC §4.3). */
static void assert_same_settled(void) {
    assert_same_json(json_incref(R.ts.settled), json_incref(replayed_settled), "settled injects");
    json_t *a = json_deep_copy(R.ts.events), *b = json_deep_copy(replayed_events);
    strip_latency(a);
    strip_latency(b);
    cr_assert_eq(json_array_size(a), json_array_size(b), "%zu events, %zu replayed", json_array_size(a),
                 json_array_size(b));
    for (size_t i = 0; i < json_array_size(a); i++)
        if (!json_equal(json_array_get(a, i), json_array_get(b, i))) {
            char *sa = json_dumps(json_array_get(a, i), JSON_COMPACT | JSON_SORT_KEYS);
            char *sb = json_dumps(json_array_get(b, i), JSON_COMPACT | JSON_SORT_KEYS);
            cr_assert_fail("event %zu: %s\nreplayed: %s", i, sa, sb);
        }
    json_decref(a);
    json_decref(b);
}

/* Time travel: replaying the first k+1 records gives the states the
 * execution had right after record k. */
static void assert_every_prefix(weir_graph *g, const weir_exec_options *o) {
    size_t n = json_array_size(R.records);
    cr_assert_eq(json_array_size(R.after), n);
    for (size_t k = 0; k < n; k++) {
        weir_exec *x = replay_fresh(g, o, k + 1);
        json_t *want = json_array_get(R.after, k);
        json_t *got = json_pack("{s:o,s:I,s:s,s:I}", "states", weir_exec_states(x), "tick",
                                (json_int_t)weir_exec_tick(x), "state", weir_state_name(weir_exec_state(x)), "queue",
                                (json_int_t)weir_exec_queue_depth(x));
        cr_assert(json_equal(want, got), "after record %zu (%s): %s", k,
                  ts_dump(json_object_get(json_array_get(R.records, k), "body")), ts_dump(got));
        json_decref(got);
        weir_exec_destroy(x);
    }
}

static size_t count_ops(const char *op) {
    size_t n = 0, i;
    json_t *r;
    json_array_foreach(R.records, i, r) n += str_eq(json_string_value(json_object_get(json_object_get(r, "body"), "op")),
                                                    op);
    return n;
}

static const char *last_op(void) {
    json_t *r = json_array_get(R.records, json_array_size(R.records) - 1);
    return json_string_value(json_object_get(json_object_get(r, "body"), "op"));
}

#define TRACKED (WEIR_INJECT_OUTPUTS | WEIR_INJECT_TRACE)

/* ---------------------------------------------------------------- tests */

static const weir_exec_options ALL_OPTS = {.id = "x1", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = 100000,
                                          .on_error = WEIR_ON_ERROR_CONTINUE};

/* Every input kind but stop and switch on ALL, leaving effects pending. */
static void drive_all(weir_exec *e) {
    weir_error err;
    ok(weir_exec_start(e, 1000, &err), &err);
    ok(weir_exec_hold(e, true, 1001, &err), &err);
    inject(e, "in", NULL, "{\"id\":\"a\",\"n\":1}", TRACKED, 1002);          /* acc + dl timers */
    inject(e, "in", "in", "{\"id\":\"b\",\"n\":5}", WEIR_INJECT_TRACK, 1003); /* http */
    inject(e, "in", NULL, "{\"id\":\"a\",\"n\":9}", WEIR_INJECT_OUTPUTS, 1004); /* once: duplicate */
    resolve(e, "dl", WEIR_EFFECT_TIMER, NULL, NULL, 1022);                    /* a's delay: mz.b waits */
    inject(e, "in", NULL, "{\"id\":\"c\",\"n\":2}", 0, 1030);                 /* acc re-armed, dl */
    resolve(e, "http", WEIR_EFFECT_HTTP,
            "{\"status\":200,\"headers\":{\"content-type\":\"application/json\"},\"body\":\"{\\\"x\\\":3}\"}", NULL,
            1040); /* → 3 → 6 → ml.x */
    inject(e, "in", NULL, "{\"id\":\"d\",\"n\":8}", TRACKED, 1041);
    resolve(e, "http", WEIR_EFFECT_HTTP, NULL, "connection refused", 1042); /* http.error */
    inject(e, "in", NULL, "{\"id\":\"e\",\"n\":7}", TRACKED, 1043);
    resolve(e, "http", WEIR_EFFECT_HTTP, "{\"status\":404,\"headers\":{},\"body\":\"nope\"}", NULL,
            1044); /* jt: missing → null → mp → 0 → flt rejected */
    resolve(e, "acc", WEIR_EFFECT_TIMER, NULL, NULL, 1080); /* flush [a, c] → mz zips → ml */
    ok(weir_exec_pause(e, 1090, &err), &err);
    inject(e, "in", NULL, "{\"id\":\"f\",\"n\":0}", TRACKED, 1091); /* queued */
    inject(e, "mz", "b", "42", WEIR_INJECT_TRACK, 1092);             /* queued, into a merge port */
    resolve(e, "dl", WEIR_EFFECT_TIMER, NULL, NULL, 1093);           /* c's delay, queued */
    cr_assert_eq(weir_exec_queue_depth(e), 3);
    ok(weir_exec_resume(e, 1100, &err), &err);
    weir_exec_stepping(e, true, 1110);
    inject(e, "in", NULL, "{\"id\":\"g\",\"n\":1}", TRACKED, 1111);
    step(e, 1112);
    step(e, 1113);
    step(e, 1114);
    cr_assert(weir_exec_wave_open(e));
    weir_exec_stepping(e, false, 1115); /* the wave runs to its end */
    weir_exec_stepping(e, true, 1116);
    inject(e, "in", NULL, "{\"id\":\"h\",\"n\":3}", TRACKED, 1117);
    resolve(e, "dl", WEIR_EFFECT_TIMER, NULL, NULL, 1118); /* g's delay: queued while stepping */
    step(e, 1119);
    ok(weir_exec_pause(e, 1120, &err), &err); /* the wave stays open */
    ok(weir_exec_resume(e, 1121, &err), &err);
    step(e, 1122);
    step(e, 1123);
    weir_exec_stepping(e, false, 1124);
    inject(e, "in", NULL, "{\"id\":\"i\",\"n\":4}", 0, 1130); /* http left in flight */
    inject(e, "in", NULL, "{\"id\":\"j\",\"n\":1}", 0, 1131); /* timers left pending */
    ok(weir_exec_hold(e, false, 1140, &err), &err);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_RUNNING);
}

Test(input_replay, every_builtin_and_every_input_kind_replays_to_the_same_state) {
    weir_graph *g = ts_graph(&R.ts, ALL);
    weir_exec_options o = ALL_OPTS;
    weir_exec *e = create(g, &o);
    weir_error err;
    drive_all(e);

    /* every kind of input was recorded, once per call, each with a digest */
    const char *ops[] = {"start", "inject", "resolve", "pause", "resume", "hold", "release", "stepping", "step"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) cr_assert_gt(count_ops(ops[i]), 0, "no %s", ops[i]);
    cr_assert_eq(count_ops("step"), 6);
    cr_assert_eq(count_ops("stepping"), 4);
    cr_assert_eq(R.nested, 0);
    cr_assert_eq(json_array_size(R.digests), json_array_size(R.records));

    /* every node did some work, every merge emitted, errors went out */
    json_t *m = weir_exec_metrics(e, 0);
    const char *id;
    json_t *nm;
    json_object_foreach(json_object_get(m, "nodes"), id, nm) {
        cr_assert_gt(json_integer_value(json_object_get(nm, "invocations")), 0, "%s: %s", id, ts_dump(nm));
        if (strcmp(id, "mz") == 0 || strcmp(id, "ml") == 0 || strcmp(id, "http") == 0 || strcmp(id, "once") == 0)
            cr_assert_gt(json_integer_value(json_object_get(nm, "emitted")), 1, "%s: %s", id, ts_dump(nm));
    }
    cr_assert_gt(json_integer_value(json_object_get(m, "errorCount")), 0);
    json_decref(m);

    size_t n = json_array_size(R.records);
    weir_exec *x = replay_fresh(g, &o, n);
    assert_same(e, x, 2000);
    assert_same_settled();
    cr_assert_gt(weir_exec_pending_effects(x), 2, "effects left pending to compare");

    /* stop, recorded and replayed too */
    size_t discarded;
    ok(weir_exec_stop(e, 1200, &discarded, &err), &err);
    cr_assert_str_eq(last_op(), "stop");
    replay_range(x, n, json_array_size(R.records));
    assert_same(e, x, 2000);
    assert_same_settled();
    cr_assert_eq(weir_exec_state(x), WEIR_STATE_CANCELLED);
    weir_exec_destroy(x);

    assert_every_prefix(g, &o);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(input_replay, natural_completion_with_the_drain_flush_replays) {
    weir_graph *g = ts_graph(&R.ts, SMALL);
    weir_exec_options o = {.id = "x2", .completion = WEIR_COMPLETION_AUTO, .timeout_ms = 5000};
    weir_exec *e = create(g, &o);
    weir_error err;
    ok(weir_exec_start(e, 0, &err), &err);
    inject(e, "in", NULL, "1", TRACKED, 1);
    inject(e, "in", NULL, "2", TRACKED, 2);
    inject(e, "in", NULL, "3", TRACKED, 3);
    resolve(e, "dl", WEIR_EFFECT_TIMER, NULL, NULL, 11);
    resolve(e, "dl", WEIR_EFFECT_TIMER, NULL, NULL, 12); /* [1, 2] */
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_RUNNING);
    resolve(e, "dl", WEIR_EFFECT_TIMER, NULL, NULL, 13); /* the drain flushes [3]: completed */
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_COMPLETED);
    json_t *last = json_array_get(R.digests, json_array_size(R.digests) - 1);
    cr_assert_eq(json_integer_value(json_object_get(last, "outputs")), 1, "%s", ts_dump(last));
    weir_exec *x = replay_fresh(g, &o, json_array_size(R.records));
    assert_same(e, x, 100);
    assert_same_settled();
    weir_exec_destroy(x);
    assert_every_prefix(g, &o);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(input_replay, the_execution_timeout_resolved_fails_it_the_same_way) {
    weir_graph *g = ts_graph(&R.ts, SMALL);
    weir_exec_options o = {.id = "x3", .completion = WEIR_COMPLETION_AUTO, .timeout_ms = 500};
    weir_exec *e = create(g, &o);
    weir_error err;
    ok(weir_exec_start(e, 0, &err), &err);
    inject(e, "in", NULL, "1", TRACKED, 1);
    resolve(e, NULL, WEIR_EFFECT_TIMER, NULL, NULL, 500);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_FAILED);
    cr_assert_str_eq(last_op(), "resolve");
    weir_exec *x = replay_fresh(g, &o, json_array_size(R.records));
    assert_same(e, x, 600);
    assert_same_settled();
    cr_assert_not_null(weir_exec_error(x));
    weir_exec_destroy(x);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(input_replay, a_runtime_switch_is_one_record_and_fails_the_same_requests) {
    weir_graph *g = ts_graph(&R.ts, ALL);
    weir_exec_options o = {.id = "x4", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = 100000,
                           .on_error = WEIR_ON_ERROR_CONTINUE};
    weir_exec *e = create(g, &o);
    weir_error err;
    ok(weir_exec_start(e, 0, &err), &err);
    inject(e, "in", NULL, "{\"id\":\"b\",\"n\":5}", TRACKED, 1); /* http */
    inject(e, "in", NULL, "{\"id\":\"a\",\"n\":1}", TRACKED, 2); /* acc, dl timers */
    inject(e, "in", NULL, "{\"id\":\"c\",\"n\":6}", TRACKED, 3); /* http */
    size_t before = json_array_size(R.records);
    /* the new runtime's half: this same test shell */
    ok(weir_exec_switch_runtime(e, &R.ts.sh, 10, 5000, "realtime", "virtual", &err), &err);
    cr_assert_eq(json_array_size(R.records), before + 1, "the switch's own resolves are no records");
    cr_assert_str_eq(last_op(), "switch");
    cr_assert_eq(R.nested, 0);
    json_t *d = json_array_get(R.digests, json_array_size(R.digests) - 1);
    cr_assert_eq(json_integer_value(json_object_get(d, "outputs")), 2, "both requests failed: %s", ts_dump(d));
    /* the timers were handed on with what they had left */
    cr_assert_eq(weir_exec_pending_effects(e), 2);
    resolve(e, "dl", WEIR_EFFECT_TIMER, NULL, NULL, 5018);
    inject(e, "in", NULL, "{\"id\":\"d\",\"n\":7}", TRACKED, 5019); /* a request of the new runtime */
    resolve(e, "acc", WEIR_EFFECT_TIMER, NULL, NULL, 5048);
    weir_exec *x = replay_fresh(g, &o, json_array_size(R.records));
    assert_same(e, x, 6000);
    assert_same_settled();
    weir_exec_destroy(x);
    assert_every_prefix(g, &o);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(input_replay, refused_calls_are_not_recorded) {
    weir_graph *g = ts_graph(&R.ts, SMALL);
    weir_exec_options o = {.id = "x5", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1};
    weir_exec *e = create(g, &o);
    weir_error err;
    cr_assert_eq(inject_f(e, "in", NULL, "1", 0, 0, &err), WEIR_ESTATE, "not started: %s", err.message);
    ok(weir_exec_start(e, 0, &err), &err);
    inject(e, "in", NULL, "1", 0, 1);
    size_t n = json_array_size(R.records), told = R.told;
    cr_assert_eq(inject_f(e, "nope", NULL, "1", 0, 2, &err), WEIR_ENOTFOUND);
    cr_assert_eq(inject_f(e, "in", "nope", "1", 0, 2, &err), WEIR_ENOTFOUND);
    cr_assert_eq(weir_exec_resolve(e, 12345, NULL, NULL, 2, &err), WEIR_ESTALE);
    cr_assert_eq(weir_exec_resume(e, 2, &err), WEIR_ESTATE);
    cr_assert_eq(weir_exec_hold(e, false, 2, &err), WEIR_EINVAL);
    weir_step st;
    cr_assert_eq(weir_exec_step(e, 2, &st, &err), WEIR_ESTATE, "not stepping");
    weir_exec_stepping(e, false, 2); /* no change */
    weir_exec_stepping(e, true, 2);
    ok(weir_exec_step(e, 2, &st, &err), &err);
    cr_assert(!st.stepped);
    cr_assert_eq(json_array_size(R.records), n + 1, "only the stepping change");
    weir_exec_stepping(e, false, 3);
    ok(weir_exec_stop(e, 4, NULL, &err), &err);
    n = json_array_size(R.records);
    told = R.told;
    cr_assert_eq(inject_f(e, "in", NULL, "1", 0, 5, &err), WEIR_ESTATE, "finished");
    cr_assert_eq(weir_exec_stop(e, 5, NULL, &err), WEIR_ESTATE);
    cr_assert_eq(weir_exec_pause(e, 5, &err), WEIR_ESTATE);
    cr_assert_eq(weir_exec_hold(e, true, 5, &err), WEIR_ESTATE);
    cr_assert_eq(weir_exec_switch_runtime(e, &R.ts.sh, 5, 5, "a", "b", &err), WEIR_ESTATE);
    cr_assert_eq(json_array_size(R.records), n);
    cr_assert_eq(R.told, told, "not even told");
    weir_exec *x = replay_fresh(g, &o, n);
    assert_same(e, x, 10);
    assert_same_settled();
    weir_exec_destroy(x);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

/* What the execution shows, and what the shell was told. */
static json_t *snap(weir_exec *e) {
    return json_pack("{s:o,s:o,s:o,s:o,s:s,s:I,s:I,s:b,s:b,s:I,s:I,s:I,s:I,s:I}", "states", weir_exec_states(e),
                     "metrics", counters(e, 0), "pending", pending_json(e), "exec", weir_exec_json(e), "state",
                     weir_state_name(weir_exec_state(e)), "tick", (json_int_t)weir_exec_tick(e), "queue",
                     (json_int_t)weir_exec_queue_depth(e), "stepping", weir_exec_is_stepping(e), "open",
                     weir_exec_wave_open(e), "settled", (json_int_t)json_array_size(R.ts.settled), "effects",
                     (json_int_t)json_array_size(R.ts.effects), "cancelled", (json_int_t)json_array_size(R.ts.cancelled),
                     "events", (json_int_t)json_array_size(R.ts.events), "logs", (json_int_t)json_array_size(R.ts.logs));
}

static void assert_unchanged(weir_exec *e, json_t *before, const char *what) {
    json_t *now = snap(e);
    char *a = json_dumps(before, JSON_COMPACT | JSON_SORT_KEYS), *b = json_dumps(now, JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert_str_eq(a, b, "%s changed the execution", what);
    free(a);
    free(b);
    json_decref(now);
}

Test(input_replay, a_hook_that_refuses_changes_nothing) {
    weir_graph *g = ts_graph(&R.ts, ALL);
    weir_exec_options o = {.id = "x6", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = 1000,
                           .on_error = WEIR_ON_ERROR_CONTINUE};
    weir_exec *e = create(g, &o);
    weir_error err;
    R.refuse = WEIR_EFULL;
    cr_assert_eq(weir_exec_start(e, 0, &err), WEIR_EFULL);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_PENDING);
    R.refuse = 0;
    ok(weir_exec_start(e, 0, &err), &err);
    inject(e, "in", NULL, "{\"id\":\"a\",\"n\":1}", TRACKED, 1);
    inject(e, "in", NULL, "{\"id\":\"b\",\"n\":5}", TRACKED, 2);
    size_t n = json_array_size(R.records), nd = json_array_size(R.digests);

    R.refuse = WEIR_EFULL;
    json_t *before = snap(e);
    weir_inject_ack ack;
    json_t *v = json_pack("{s:s,s:i}", "id", "c", "n", 1);
    weir_inject in = {.node = "in", .value = v, .flags = TRACKED};
    cr_assert_eq(weir_exec_inject(e, &in, 3, &ack, &err), WEIR_EFULL);
    cr_assert(strstr(err.message, "journal"), "%s", err.message);
    cr_assert_eq(ack.inject_id, 0);
    assert_unchanged(e, before, "a refused inject (running)");
    cr_assert_eq(weir_exec_resolve(e, pending_of(e, "http", WEIR_EFFECT_HTTP), NULL, "x", 3, &err), WEIR_EFULL);
    assert_unchanged(e, before, "a refused resolve");
    cr_assert_eq(weir_exec_pause(e, 3, &err), WEIR_EFULL);
    cr_assert_eq(weir_exec_hold(e, true, 3, &err), WEIR_EFULL);
    cr_assert_eq(weir_exec_stop(e, 3, NULL, &err), WEIR_EFULL);
    weir_exec_stepping(e, true, 3);
    cr_assert_eq(weir_exec_switch_runtime(e, &R.ts.sh, 3, 3, "a", "b", &err), WEIR_EFULL);
    assert_unchanged(e, before, "refused controls");
    json_decref(before);

    /* paused: a refused inject is not queued */
    R.refuse = 0;
    ok(weir_exec_pause(e, 4, &err), &err);
    inject(e, "in", NULL, "{\"id\":\"q\",\"n\":1}", TRACKED, 5);
    R.refuse = WEIR_EFULL;
    before = snap(e);
    cr_assert_eq(weir_exec_inject(e, &in, 6, &ack, &err), WEIR_EFULL);
    cr_assert_eq(weir_exec_resume(e, 6, &err), WEIR_EFULL);
    assert_unchanged(e, before, "a refused inject (paused)");
    json_decref(before);

    /* stepping: a refused step steps nothing */
    R.refuse = 0;
    ok(weir_exec_resume(e, 7, &err), &err);
    weir_exec_stepping(e, true, 8);
    inject(e, "in", NULL, "{\"id\":\"s\",\"n\":1}", TRACKED, 9);
    step(e, 10);
    R.refuse = WEIR_EFULL;
    before = snap(e);
    weir_step st;
    cr_assert_eq(weir_exec_step(e, 11, &st, &err), WEIR_EFULL);
    cr_assert(!st.stepped);
    weir_exec_stepping(e, false, 11);
    cr_assert_eq(weir_exec_inject(e, &in, 11, &ack, &err), WEIR_EFULL);
    assert_unchanged(e, before, "a refused step");
    json_decref(before);
    json_decref(v);

    cr_assert_eq(json_array_size(R.records), n + 6, "refusals are no records");
    cr_assert_eq(json_array_size(R.digests), nd + 6, "nor digests");
    R.refuse = 0;
    weir_exec *x = replay_fresh(g, &o, json_array_size(R.records));
    assert_same(e, x, 20);
    assert_same_settled();
    weir_exec_destroy(x);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

/* Effects a runtime is asked to perform (log lines apart, as test_shell). */
static void collect(void *ud, weir_exec *e, const weir_effect *eff) {
    (void)e;
    if (eff->kind == WEIR_EFFECT_LOG) return;
    json_array_append_new(ud, json_pack("{s:I,s:s,s:s?,s:O,s:I}", "id", (json_int_t)eff->id, "kind",
                                        weir_effect_kind_name(eff->kind), "node", eff->node_id, "payload",
                                        eff->payload, "requested", (json_int_t)eff->requested_ms));
}

static json_int_t delay_of(json_t *effects, size_t i) {
    return json_integer_value(json_object_get(json_object_get(json_array_get(effects, i), "payload"), "delayMs"));
}

Test(input_replay, adopt_hands_every_pending_effect_in_request_order) {
    weir_graph *g = ts_graph(&R.ts, TIMERS);
    weir_exec_options o = {.id = "x7", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = 1000};
    weir_exec *e = create(g, &o);
    weir_error err;
    ok(weir_exec_start(e, 0, &err), &err);                /* timeout: due 1000 */
    inject(e, "b", NULL, "\"early\"", 0, 5);               /* due 305, resolved below */
    inject(e, "a", NULL, "1", 0, 10);                      /* due 110 */
    inject(e, "h", NULL, "{}", 0, 20);                     /* http */
    resolve(e, "b", WEIR_EFFECT_TIMER, NULL, NULL, 25);    /* frees the slot before a's */
    inject(e, "b", NULL, "2", 0, 30);                      /* due 330: a later request in an earlier slot */
    json_t *orig = pending_json(e);
    cr_assert_eq(json_array_size(orig), 4, "%s", ts_dump(orig));
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(orig, 3), "node")), "b", "request order: %s",
                     ts_dump(orig));

    weir_exec *x = replay_fresh(g, &o, json_array_size(R.records));
    assert_same(e, x, 40);
    assert_same_settled();
    json_t *handed = json_array();
    weir_shell rt = {.effect_ud = handed, .effect = collect};
    weir_exec_adopt(x, &rt, 200);
    cr_assert_eq(json_array_size(handed), 4, "%s", ts_dump(handed));
    for (size_t i = 0; i < 4; i++) {
        json_t *a = json_array_get(orig, i), *b = json_array_get(handed, i);
        cr_assert(json_equal(json_object_get(a, "id"), json_object_get(b, "id")), "#%zu: %s", i, ts_dump(handed));
        cr_assert(json_equal(json_object_get(a, "kind"), json_object_get(b, "kind")));
        cr_assert(json_eq_null(json_object_get(a, "node"), json_object_get(b, "node")));
    }
    cr_assert_eq(delay_of(handed, 0), 800, "the timeout has 800 ms left: %s", ts_dump(handed));
    cr_assert_eq(delay_of(handed, 1), 0, "a fell due at 110: at once");
    cr_assert(json_equal(json_object_get(json_array_get(orig, 2), "payload"),
                         json_object_get(json_array_get(handed, 2), "payload")),
              "http as it was");
    cr_assert_eq(delay_of(handed, 3), 130);
    cr_assert_eq(weir_exec_pending_effects(x), 3, "adopting is no input");
    cr_assert_eq(weir_exec_tick(x), weir_exec_tick(e));
    json_t *j = weir_exec_json(x);
    cr_assert_str_eq(json_string_value(json_object_get(j, "runtime")), "realtime", "the runtime stays as recorded");
    json_decref(j);

    /* the adopted effects resolve as the original's would */
    ok(weir_exec_resolve(x, (uint64_t)json_integer_value(json_object_get(json_array_get(handed, 1), "id")), NULL,
                         NULL, 200, &err),
       &err);
    resolve(e, "a", WEIR_EFFECT_TIMER, NULL, NULL, 200);
    assert_same_json(weir_exec_states(e), weir_exec_states(x), "states after an adopted timer");
    cr_assert_eq(weir_exec_tick(e), weir_exec_tick(x));

    /* a finished execution has nothing to hand */
    ok(weir_exec_stop(x, 300, NULL, &err), &err);
    json_t *none = json_array();
    weir_shell rt2 = {.effect_ud = none, .effect = collect};
    weir_exec_adopt(x, &rt2, 400);
    cr_assert_eq(json_array_size(none), 0);
    json_decref(none);
    json_decref(handed);
    json_decref(orig);
    weir_exec_destroy(x);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

/* A full pause queue: the refused inject counts (backpressureEvents) and
 * uses up its inject id, so it is an input a replay must see; the drop
 * policies accept and drop. */
static void overflow_replays(weir_overflow policy) {
    weir_graph *g = ts_graph(&R.ts, SMALL);
    weir_exec_options o = {.id = "x8", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1, .max_queue = 2,
                           .overflow = policy};
    weir_exec *e = create(g, &o);
    weir_error err;
    ok(weir_exec_start(e, 0, &err), &err);
    ok(weir_exec_pause(e, 1, &err), &err);
    inject(e, "in", NULL, "1", TRACKED, 2);
    inject(e, "in", NULL, "2", TRACKED, 3);
    int rc = inject_f(e, "in", NULL, "3", TRACKED, 4, &err);
    cr_assert_eq(rc, policy == WEIR_OVERFLOW_REFUSE ? WEIR_EFULL : 0, "%s", err.message);
    cr_assert_str_eq(last_op(), "inject", "the refusal counts: it is recorded");
    ok(weir_exec_resume(e, 5, &err), &err);
    inject(e, "in", NULL, "4", TRACKED, 6);
    resolve(e, "dl", WEIR_EFFECT_TIMER, NULL, NULL, 20);
    resolve(e, "dl", WEIR_EFFECT_TIMER, NULL, NULL, 21);
    json_t *m = weir_exec_metrics(e, 0);
    cr_assert_eq(json_integer_value(json_object_get(m, "backpressureEvents")), 1);
    json_decref(m);
    weir_exec *x = replay_fresh(g, &o, json_array_size(R.records));
    assert_same(e, x, 30);
    assert_same_settled();
    weir_exec_destroy(x);
    assert_every_prefix(g, &o);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(input_replay, an_inject_refused_for_a_full_queue_replays_as_refused) { overflow_replays(WEIR_OVERFLOW_REFUSE); }
Test(input_replay, drop_oldest_replays) { overflow_replays(WEIR_OVERFLOW_DROP_OLDEST); }
Test(input_replay, drop_newest_replays) { overflow_replays(WEIR_OVERFLOW_DROP_NEWEST); }

/* A failure may carry a value too (weir_effect_result.value): the record
 * keeps both, so a component that reads it sees it again on replay. */
Test(input_replay, a_failure_with_a_value_keeps_both) {
    weir_graph *g = ts_graph(&R.ts, TIMERS);
    weir_exec_options o = {.id = "x9", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1};
    weir_exec *e = create(g, &o);
    weir_error err;
    ok(weir_exec_start(e, 0, &err), &err);
    inject(e, "h", NULL, "{}", 0, 1);
    resolve(e, "h", WEIR_EFFECT_HTTP, "{\"status\":502,\"partial\":true}", "bad gateway", 2); /* round trip checked */
    json_t *body = json_object_get(json_array_get(R.records, json_array_size(R.records) - 1), "body");
    cr_assert_str_eq(ts_dump(body),
                     "{\"effect\":" "4294967297" ",\"error\":\"bad gateway\",\"kind\":\"http\",\"op\":\"resolve\","
                     "\"result\":{\"partial\":true,\"status\":502}}");
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

/* A fork journals what it replays: applied to an execution whose shell
 * records, the records and digests told are the ones applied. */
Test(input_replay, an_execution_that_records_while_replaying_tells_the_same_records) {
    weir_graph *g = ts_graph(&R.ts, ALL);
    weir_exec_options o = ALL_OPTS;
    weir_exec *e = create(g, &o);
    drive_all(e);
    weir_error err;
    ok(weir_exec_switch_runtime(e, &R.ts.sh, 1200, 1300, "realtime", "virtual", &err), &err);
    static recorder fork;
    memset(&fork, 0, sizeof fork);
    fork.records = json_array();
    fork.digests = json_array();
    fork.after = json_array();
    weir_shell sh = {.ud = &fork, .input = on_input, .input_done = on_input_done};
    weir_exec *x;
    cr_assert_eq(weir_exec_create(g, &o, &sh, &x, &err), 0, "%s", err.message);
    replay_range(x, 0, json_array_size(R.records));
    assert_same(e, x, 2000);
    assert_same_json(json_incref(R.records), json_incref(fork.records), "records told while replaying");
    assert_same_json(json_incref(R.digests), json_incref(fork.digests), "digests told while replaying");
    cr_assert_eq(fork.nested, 0);
    json_decref(fork.records);
    json_decref(fork.digests);
    json_decref(fork.after);
    weir_exec_destroy(x);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

/* The virtual runtime as the shell (SPEC §4.5): what it delivers (timers
 * falling due, mocked http answers, scheduled injects, steps) reaches the
 * execution through the same public calls, so it is recorded the same. */
Test(input_replay, an_execution_on_the_virtual_runtime_replays) {
    json_t *mocks = json_loads("[{\"match\":{\"url\":\"http://example.test/b\"},\"response\":{\"status\":200,"
                               "\"body\":{\"x\":5}},\"latencyMs\":30},{\"match\":{\"url\":\"http://example.test/*\"},"
                               "\"response\":{\"status\":503,\"body\":\"busy\"},\"latencyMs\":7}]",
                               0, NULL);
    weir_virtual_options vo = {.tick_ms = 1, .start_ms = 1000, .mocks = mocks};
    weir_virtual *v;
    weir_error err;
    cr_assert_eq(weir_virtual_create(&vo, &v, &err), 0, "%s", err.message);
    json_decref(mocks);
    weir_graph *g = ts_graph(&R.ts, ALL);
    weir_exec_options o = ALL_OPTS;
    weir_shell sh = R.ts.sh;
    weir_virtual_shell(v, &sh);
    weir_exec *e;
    cr_assert_eq(weir_exec_create(g, &o, &sh, &e, &err), 0, "%s", err.message);
    weir_virtual_bind(v, e);
    ok(weir_exec_start(e, weir_virtual_now(v), &err), &err);
    inject(e, "in", NULL, "{\"id\":\"b\",\"n\":5}", TRACKED, weir_virtual_now(v));
    inject(e, "in", NULL, "{\"id\":\"a\",\"n\":1}", TRACKED, weir_virtual_now(v));
    inject(e, "in", NULL, "{\"id\":\"c\",\"n\":9}", TRACKED, weir_virtual_now(v));
    bool idle;
    ok(weir_virtual_run(v, 0, &idle, &err), &err);
    cr_assert(idle);
    json_t *val = json_pack("{s:s,s:i}", "id", "s", "n", 2);
    weir_inject later = {.node = "in", .value = val, .flags = TRACKED};
    ok(weir_virtual_schedule(v, &later, weir_virtual_tick_after(v, 5), &err), &err);
    json_decref(val);
    inject(e, "in", NULL, "{\"id\":\"d\",\"n\":0}", TRACKED, weir_virtual_now(v));
    for (int i = 0; i < 6; i++) {
        weir_step st;
        ok(weir_virtual_step(v, &st, &err), &err);
    }
    ok(weir_virtual_advance(v, 25, &err), &err);
    ok(weir_exec_pause(e, weir_virtual_now(v), &err), &err);
    ok(weir_virtual_advance(v, 40, &err), &err); /* results queue while paused */
    ok(weir_exec_resume(e, weir_virtual_now(v), &err), &err);
    inject(e, "in", NULL, "{\"id\":\"e\",\"n\":3}", TRACKED, weir_virtual_now(v)); /* its request stays in flight */
    cr_assert_gt(count_ops("resolve"), 5);
    cr_assert_gt(count_ops("step"), 0);
    cr_assert_eq(R.nested, 0);

    weir_exec *x = replay_fresh(g, &o, json_array_size(R.records));
    assert_same(e, x, weir_virtual_now(v));
    assert_same_settled();
    weir_exec_destroy(x);
    assert_every_prefix(g, &o);
    weir_exec_destroy(e); /* its pending effects are cancelled through v */
    weir_virtual_destroy(v);
    weir_graph_unref(g);
}

/* A start that fails (an instance's init fails) is the recorded outcome of
 * an accepted input, not a replay gone wrong: apply reproduces the failure
 * and returns 0, the digest saying failed. */
static const weir_port_def one_port[] = {{"in", "anything", NULL}};
static int init_fails(weir_ctx *ctx) {
    (void)ctx;
    return WEIR_EINVAL;
}
static int process_nothing(weir_ctx *ctx, unsigned port, json_t *value) {
    (void)ctx;
    (void)port;
    (void)value;
    return 0;
}
static const weir_component failinit_c = {.id = "test.failinit", .inputs = one_port, .n_inputs = 1,
                                          .init = init_fails, .process = process_nothing};

Test(input_replay, a_start_that_fails_replays_as_failed) {
    weir_error err;
    cr_assert_eq(weir_registry_add(R.ts.reg, &failinit_c, &err), 0, "%s", err.message);
    weir_graph *g = ts_graph(&R.ts, GRAPH(NODE("in", "symbia.core.passthrough", "{}") ","
                                          "{\"id\":\"f\",\"component\":\"test.failinit\"}",
                                          E("in", "out", "f", "in")));
    weir_exec_options o = {.id = "x10", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = 1000};
    weir_exec *e = create(g, &o);
    cr_assert_eq(weir_exec_start(e, 0, &err), WEIR_ERUNTIME);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_FAILED);
    cr_assert_str_eq(last_op(), "start");
    weir_exec *x = replay_fresh(g, &o, json_array_size(R.records));
    assert_same(e, x, 10);
    weir_exec_destroy(x);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

/* ------------------------------------------------------- random sequences */

static uint64_t rng_state;
static uint32_t rnd(uint32_t n) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

typedef struct nth_fx {
    size_t want, seen;
    bool timeout; /* the execution timeout may be picked */
    weir_effect eff;
    bool found;
} nth_fx;

static void pick_fx(void *ud, const weir_effect *eff) {
    nth_fx *p = ud;
    if (!eff->node_id && !p->timeout) return;
    if (p->seen++ == p->want) {
        p->eff = *eff;
        p->found = true;
    }
}

/* One random public call on e (any may be refused: refusals are not
 * recorded, except an inject refused for a full queue). */
static void random_call(weir_exec *e, int64_t now) {
    weir_error err;
    static const char *const targets[][2] = {{"in", NULL}, {"in", NULL}, {"in", NULL}, {"mz", "a"},
                                             {"mz", "b"},  {"ml", "x"},  {"jt", NULL}, {"acc", NULL}};
    static const char *const ids[] = {"a", "b", "c", "d", "e"};
    uint32_t r = rnd(100);
    if (r < 35) {
        const char *const *t = targets[rnd(8)];
        char v[96];
        snprintf(v, sizeof v, "{\"id\":\"%s\",\"n\":%u,\"body\":{\"x\":%u}}", ids[rnd(5)], rnd(10), rnd(4));
        inject_f(e, t[0], t[1], v, rnd(8), now, &err);
    } else if (r < 60) {
        size_t n = weir_exec_pending_effects(e) + 1;    /* the timeout too, now and then */
        nth_fx p = {.want = rnd((uint32_t)n), .timeout = rnd(40) == 0};
        weir_exec_pending(e, pick_fx, &p);
        if (!p.found) return;
        json_t *res = NULL;
        const char *error = NULL;
        if (p.eff.kind == WEIR_EFFECT_HTTP) {
            uint32_t k = rnd(4);
            if (k == 0) error = "connection refused";
            else
                res = json_pack("{s:i,s:{},s:s}", "status", k == 1 ? 500 : 200, "body",
                                k == 3 ? "{\"x\":7}" : "plain");
        }
        weir_exec_resolve(e, p.eff.id, res, error, now, &err);
        json_decref(res);
    } else if (r < 66) {
        weir_exec_pause(e, now, &err);
    } else if (r < 72) {
        weir_exec_resume(e, now, &err);
    } else if (r < 78) {
        weir_exec_stepping(e, !weir_exec_is_stepping(e), now);
    } else if (r < 90) {
        weir_step st;
        weir_exec_step(e, now, &st, &err);
    } else if (r < 94) {
        weir_exec_hold(e, rnd(2), now, &err);
    } else if (r < 97) {
        weir_exec_switch_runtime(e, &R.ts.sh, now, now + 1000, "realtime", "virtual", &err);
    } else if (r < 98 && rnd(3) == 0) {
        weir_exec_stop(e, now, NULL, &err);
    }
}

Test(input_replay, random_sequences_replay_record_by_record) {
    weir_graph *g = ts_graph(&R.ts, ALL);
    for (uint64_t seed = 1; seed <= 200; seed++) {
        rng_state = seed * 0x9e3779b97f4a7c15u;
        json_array_clear(R.records);
        json_array_clear(R.digests);
        json_array_clear(R.after);
        json_array_clear(R.ts.settled);
        json_array_clear(R.ts.events);
        weir_exec_options o = {.id = "xr", .completion = seed % 3 ? WEIR_COMPLETION_NEVER : WEIR_COMPLETION_AUTO,
                               .timeout_ms = 400, .max_queue = 3,
                               .on_error = seed % 2 ? WEIR_ON_ERROR_CONTINUE : WEIR_ON_ERROR_FAIL,
                               .overflow = (weir_overflow)(seed % 4 == 3 ? WEIR_OVERFLOW_DROP_OLDEST
                                                           : seed % 4 == 2 ? WEIR_OVERFLOW_DROP_NEWEST
                                                                           : WEIR_OVERFLOW_REFUSE)};
        weir_exec *e = create(g, &o);
        weir_error err;
        ok(weir_exec_start(e, 0, &err), &err);
        int64_t now = 0;
        for (int i = 0; i < 120 && !weir_state_finished(weir_exec_state(e)); i++) random_call(e, now += rnd(30));
        cr_assert_eq(R.nested, 0);
        cr_assert_eq(json_array_size(R.digests), json_array_size(R.records), "seed %llu", (unsigned long long)seed);
        weir_exec *x = replay_fresh(g, &o, json_array_size(R.records));
        assert_same(e, x, now + 1);
        assert_same_settled();
        weir_exec_destroy(x);
        assert_every_prefix(g, &o);
        weir_exec_destroy(e);
    }
    weir_graph_unref(g);
}

/* What happens after record k: every pending effect settled, by id, in
 * request order (http answered), then more injects and a stop. */
static void drive_after(weir_exec *e, int64_t now) {
    weir_error err;
    json_t *p = pending_json(e);
    size_t i;
    json_t *eff;
    json_array_foreach(p, i, eff) {
        if (json_is_null(json_object_get(eff, "node")) || !json_object_get(eff, "node")) continue; /* the timeout */
        json_t *res = strcmp(json_string_value(json_object_get(eff, "kind")), "http") == 0
                          ? json_pack("{s:i,s:{},s:s}", "status", 200, "body", "{\"x\":11}")
                          : NULL;
        ok(weir_exec_resolve(e, (uint64_t)json_integer_value(json_object_get(eff, "id")), res, NULL,
                             now + (int64_t)i, &err),
           &err);
        json_decref(res);
    }
    json_decref(p);
    inject(e, "in", NULL, "{\"id\":\"z\",\"n\":6}", TRACKED, now + 100);
    inject(e, "in", NULL, "{\"id\":\"y\",\"n\":0}", TRACKED, now + 101);
    resolve(e, "http", WEIR_EFFECT_HTTP, "{\"status\":201,\"headers\":{},\"body\":{\"x\":2}}", NULL, now + 102);
    ok(weir_exec_stop(e, now + 200, NULL, &err), &err);
}

static json_t *ids_only(json_t *effects) {
    json_t *out = json_array();
    size_t i;
    json_t *eff;
    json_array_foreach(effects, i, eff) {
        json_array_append_new(out, json_pack("{s:O,s:O,s:O?}", "id", json_object_get(eff, "id"), "kind",
                                             json_object_get(eff, "kind"), "node", json_object_get(eff, "node")));
    }
    json_decref(effects);
    return out;
}

static json_t *slice_from(json_t *effects, size_t from, bool drop_requested) {
    json_t *out = json_array();
    for (size_t i = from; i < json_array_size(effects); i++) {
        json_t *c = json_copy(json_array_get(effects, i));
        if (drop_requested) json_object_del(c, "requested");
        json_array_append_new(out, c);
    }
    return out;
}

/* Recovery: the records replayed into a fresh execution, a new runtime
 * adopts what was pending, and the execution goes on exactly as the
 * original did: the same effects asked for, the same states and metrics. */
Test(input_replay, a_recovered_execution_goes_on_as_the_original) {
    weir_graph *g = ts_graph(&R.ts, ALL);
    weir_exec_options o = ALL_OPTS;
    weir_exec *e = create(g, &o);
    drive_all(e);
    size_t k = json_array_size(R.records);
    weir_exec *x = replay_fresh(g, &o, k);
    json_t *handed = json_array();
    weir_shell rt = {.effect_ud = handed, .effect = collect};
    weir_exec_adopt(x, &rt, 1500);
    assert_same_json(ids_only(pending_json(e)), ids_only(pending_json(x)), "pending after adopt (ids)");
    assert_same_json(ids_only(pending_json(e)), ids_only(json_incref(handed)), "adopted effects");
    size_t e_from = json_array_size(R.ts.effects), x_from = json_array_size(handed);
    drive_after(e, 1500);
    drive_after(x, 1500);
    assert_same_json(weir_exec_states(e), weir_exec_states(x), "states");
    assert_same_json(counters(e, 3000), counters(x, 3000), "metrics");
    assert_same_json(weir_exec_json(e), weir_exec_json(x), "the execution");
    cr_assert_eq(weir_exec_tick(e), weir_exec_tick(x));
    cr_assert_gt(json_array_size(handed), x_from, "effects requested after recovery");
    assert_same_json(slice_from(R.ts.effects, e_from, false), slice_from(handed, x_from, true),
                     "effects requested after recovery");
    json_decref(handed);
    weir_exec_destroy(x);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

/* The bodies a journal stores, as documented (weir_input_json). */
Test(input_replay, record_bodies_are_the_documented_json) {
    json_t *v = json_pack("{s:i}", "a", 1), *res = json_pack("{s:i}", "status", 200);
    struct {
        weir_input_rec rec;
        const char *json;
    } cases[] = {
        {{.kind = WEIR_IN_START}, "{\"op\":\"start\"}"},
        {{.kind = WEIR_IN_INJECT, .node = "n", .value = v}, "{\"node\":\"n\",\"op\":\"inject\",\"value\":{\"a\":1}}"},
        {{.kind = WEIR_IN_INJECT, .node = "n", .port = "p", .value = v, .flags = 3},
         "{\"flags\":3,\"node\":\"n\",\"op\":\"inject\",\"port\":\"p\",\"value\":{\"a\":1}}"},
        {{.kind = WEIR_IN_RESOLVE, .effect = 7, .effect_kind = WEIR_EFFECT_TIMER},
         "{\"effect\":7,\"kind\":\"timer\",\"op\":\"resolve\",\"result\":null}"},
        {{.kind = WEIR_IN_RESOLVE, .effect = 8, .effect_kind = WEIR_EFFECT_HTTP, .result = res},
         "{\"effect\":8,\"kind\":\"http\",\"op\":\"resolve\",\"result\":{\"status\":200}}"},
        {{.kind = WEIR_IN_RESOLVE, .effect = 9, .effect_kind = WEIR_EFFECT_INVOKE, .error = "boom"},
         "{\"effect\":9,\"error\":\"boom\",\"kind\":\"invoke\",\"op\":\"resolve\"}"},
        {{.kind = WEIR_IN_PAUSE}, "{\"op\":\"pause\"}"},
        {{.kind = WEIR_IN_RESUME}, "{\"op\":\"resume\"}"},
        {{.kind = WEIR_IN_STOP}, "{\"op\":\"stop\"}"},
        {{.kind = WEIR_IN_HOLD}, "{\"op\":\"hold\"}"},
        {{.kind = WEIR_IN_RELEASE}, "{\"op\":\"release\"}"},
        {{.kind = WEIR_IN_STEPPING, .on = true}, "{\"on\":true,\"op\":\"stepping\"}"},
        {{.kind = WEIR_IN_STEP}, "{\"op\":\"step\"}"},
        {{.kind = WEIR_IN_SWITCH, .from = "realtime", .to = "virtual", .old_now_ms = 5},
         "{\"from\":\"realtime\",\"oldNow\":5,\"op\":\"switch\",\"to\":\"virtual\"}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *j = weir_input_json(&cases[i].rec);
        cr_assert_not_null(j);
        cr_assert_str_eq(ts_dump(j), cases[i].json);
        weir_input_rec back;
        weir_error err;
        ok(weir_input_parse(j, 0, 0, &back, &err), &err);
        assert_rec_eq(&cases[i].rec, &back);
        json_decref(j);
    }
    weir_input_rec bad = {.kind = 0};
    cr_assert_null(weir_input_json(&bad));
    weir_error err;
    weir_input_rec out;
    json_t *b = json_pack("{s:s}", "op", "launch");
    cr_assert_eq(weir_input_parse(b, 0, 0, &out, &err), WEIR_EINVAL);
    cr_assert(strstr(err.message, "launch"), "%s", err.message);
    json_decref(b);
    json_decref(v);
    json_decref(res);
}
