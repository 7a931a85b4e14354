/*
 * Time travel and recovery on a long journal (SPEC §7.2, issue 11's
 * figures).  Writes, through the same path as weir serve (the core's input
 * records into the journal, a snapshot every SNAPSHOT_EVERY inputs), one
 * unfinished execution of in → acc (accumulator, batches of 100) → out with
 * N injects, into DATA_DIR, and prints how fast that went.  bench/travel.sh
 * then starts weir serve on it (recovery) and asks GET /at/:tick.
 * Usage: bench_travel DATA_DIR [N] [SNAPSHOT_EVERY]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/journal.h"

static const char *GRAPH =
    "{\"symbia\":\"1.0\",\"name\":\"travel\",\"nodes\":["
    "{\"id\":\"in\",\"component\":\"symbia.core.passthrough\"},"
    "{\"id\":\"acc\",\"component\":\"symbia.core.accumulator\",\"config\":{\"batchSize\":100}},"
    "{\"id\":\"out\",\"component\":\"symbia.core.passthrough\"}],\"edges\":["
    "{\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"acc\",\"port\":\"in\"}},"
    "{\"source\":{\"node\":\"acc\",\"port\":\"out\"},\"target\":{\"node\":\"out\",\"port\":\"in\"}}]}";

#define ID "bench-travel"

static weir_journal *j;
static json_t *start_body;
static unsigned every, since;
static weir_exec *x;
static int64_t last_now; /* the time of the newest input */

static void die(const char *what, const weir_error *err) {
    fprintf(stderr, "bench_travel: %s: %s\n", what, err ? err->message : "");
    exit(1);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int on_input(void *ud, weir_exec *e, const weir_input_rec *in, weir_error *err) {
    (void)ud;
    (void)e;
    last_now = in->now_ms;
    static const int kinds[] = {0, WEIR_JOURNAL_START, WEIR_JOURNAL_INJECT, WEIR_JOURNAL_EFFECT_RESULT};
    int kind = in->kind <= WEIR_IN_RESOLVE ? kinds[in->kind] : WEIR_JOURNAL_CONTROL;
    for (;;) {
        json_t *body = in->kind == WEIR_IN_START ? json_incref(start_body) : weir_input_json(in);
        int rc = in->kind == WEIR_IN_START
                     ? weir_journal_start(j, ID, "g", in->now_ms, (int64_t)in->tick, in->now_ms, body, NULL, NULL, err)
                     : weir_journal_append(j, ID, kind, (int64_t)in->tick, in->now_ms, body, NULL, NULL, NULL, err);
        json_decref(body);
        if (rc != WEIR_EFULL) return rc;
        if (weir_journal_sync(j, err)) return WEIR_EIO; /* the queue is full: let the writer catch up */
        weir_journal_poll(j);
    }
}

static void on_done(void *ud, weir_exec *e, const weir_input_digest *d) {
    (void)ud;
    (void)d;
    if (++since < every) return;
    since = 0;
    weir_error err;
    json_t *core = weir_exec_snapshot(e, &err);
    if (!core) die("snapshot", &err);
    json_t *body = json_pack("{s:o,s:n}", "core", core, "rtOptions");
    if (weir_journal_snapshot(j, ID, (int64_t)weir_exec_tick(e), last_now, body, NULL, NULL, &err))
        die("snapshot", &err);
    json_decref(body);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_travel DATA_DIR [N] [SNAPSHOT_EVERY]\n");
        return 2;
    }
    long n = argc > 2 ? atol(argv[2]) : 1000000;
    every = argc > 3 ? (unsigned)atol(argv[3]) : 1024;
    weir_error err;
    weir_store *st;
    if (weir_store_open(argv[1], &st, &err)) die("store", &err);
    weir_journal_config jc = {.durability = WEIR_DURABILITY_PROCESS};
    if (weir_journal_open(st, &jc, &j, &err)) die("journal", &err);
    weir_registry *reg;
    weir_registry_create(&reg);
    json_t *doc = json_loads(GRAPH, 0, NULL);
    weir_graph_options go = {.id = "g"};
    weir_graph *g;
    if (weir_graph_load(reg, doc, &go, &g, &err)) die("graph", &err);
    start_body = json_pack("{s:s,s:s,s:O,s:[],s:{s:s},s:s}", "op", "start", "graphId", "g", "graph", doc,
                           "components", "options", "completion", "never", "runtime", "virtual");
    weir_shell sh = {.input = on_input, .input_done = on_done};
    weir_exec_options o = {.id = ID, .completion = WEIR_COMPLETION_NEVER, .runtime = "virtual"};
    if (weir_exec_create(g, &o, &sh, &x, &err)) die("create", &err);
    double t0 = now_ms();
    if (weir_exec_start(x, 0, &err)) die("start", &err);
    for (long i = 0; i < n; i++) {
        json_t *v = json_integer(i);
        weir_inject in = {"in", NULL, v, 0, NULL};
        if (weir_exec_inject(x, &in, i, NULL, &err)) die("inject", &err);
        json_decref(v);
        if (i % 4096 == 0) weir_journal_poll(j);
    }
    if (weir_journal_sync(j, &err)) die("sync", &err);
    double ms = now_ms() - t0;
    printf("journal written: %ld inputs (a snapshot every %u) in %.0f ms: %.0f inputs/s through the core into the "
           "journal (DURABILITY=process)\n",
           n, every, ms, n / (ms / 1e3));
    weir_exec_destroy(x);
    weir_graph_unref(g);
    weir_registry_destroy(reg);
    json_decref(doc);
    json_decref(start_body);
    weir_journal_close(j);
    weir_store_close(st);
    return 0;
}
