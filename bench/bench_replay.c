/*
 * `weir replay` (SPEC §7.3): inputs replayed per second on a journal of N
 * small waves (default 1,000,000), made here by driving a real execution
 * of a two-node graph (passthrough → map, one output per inject, an
 * accumulator's every third) with the journal recorder
 * (weir_jfile_recorder), one inject a record, every record with its digest.
 * Prints, for the same file:
 *   make     recording the execution (core + canonical JSON + SHA-256 + write)
 *   verify   reading and verifying it only (weir_jfile_read_stream, in process)
 *   replay   `weir replay FILE` end to end: the real binary, the process
 *            started, every line verified, applied and its digest compared
 * The file is in a fresh directory under $TMPDIR (default /tmp).
 * Usage: bench_replay WEIR_BINARY [records]   (BENCH_REPLAY_KEEP=1 keeps the file)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/journal_file.h"

static const char GRAPH[] =
    "{\"symbia\":\"1\",\"name\":\"small-waves\",\"nodes\":["
    "{\"id\":\"in\",\"component\":\"symbia.core.passthrough\"},"
    "{\"id\":\"double\",\"component\":\"symbia.core.map\",\"config\":{\"expression\":\"value * 2\"}},"
    "{\"id\":\"acc\",\"component\":\"symbia.core.accumulator\",\"config\":{\"batchSize\":3}}],"
    "\"edges\":[{\"id\":\"e1\",\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"double\",\"port\":"
    "\"in\"}},{\"id\":\"e2\",\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"acc\",\"port\":"
    "\"in\"}}]}";

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what, const weir_error *err) {
    fprintf(stderr, "bench_replay: %s: %s\n", what, err ? err->message : "failed");
    exit(1);
}

static int to_file(void *ud, const char *data, size_t len) { return fwrite(data, 1, len, ud) == len ? 0 : -1; }

/* Record n injects into path; returns the final tick. */
static uint64_t make(const char *path, size_t n) {
    weir_error err;
    weir_registry *reg;
    weir_graph *g;
    if (weir_registry_create(&reg)) die("registry", NULL);
    json_t *doc = json_loads(GRAPH, 0, NULL);
    weir_graph_options gopts = {.id = "g-bench"};
    if (weir_graph_load(reg, doc, &gopts, &g, &err)) die("graph", &err);
    FILE *f = fopen(path, "wb");
    if (!f) die(path, NULL);
    weir_jfile_writer *w;
    if (weir_jfile_writer_new(to_file, f, &w, &err)) die("writer", &err);
    json_t *start = json_pack("{s:s,s:s,s:O,s:[],s:{s:s,s:i},s:s,s:s}", "op", "start", "graphId", "g-bench", "graph", doc,
                              "components", "options", "completion", "never", "timeoutMs", 0, "runtime", "realtime", "executionId",
                              "bench-exec");
    weir_jfile_recorder rec;
    weir_jfile_recorder_init(&rec, w, start);
    weir_shell sh = {.ud = &rec, .input = weir_jfile_recorder_input, .input_done = weir_jfile_recorder_done};
    weir_exec_options o = {.id = "bench-exec", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = 0,
                           .runtime = "realtime"};
    weir_exec *e;
    if (weir_exec_create(g, &o, &sh, &e, &err) || weir_exec_start(e, 0, &err)) die("execution", &err);
    for (size_t i = 0; i < n - 1; i++) {
        json_t *v = json_integer((json_int_t)i);
        weir_inject in = {"in", "in", v, 0, NULL};
        if (weir_exec_inject(e, &in, (int64_t)i, NULL, &err)) die("inject", &err);
        json_decref(v);
    }
    if (weir_jfile_recorder_finish(&rec, &err) || weir_jfile_flush(w, &err)) die("write", &err);
    uint64_t tick = weir_exec_tick(e);
    weir_jfile_writer_free(w);
    fclose(f);
    weir_exec_destroy(e);
    weir_graph_unref(g);
    weir_registry_destroy(reg);
    json_decref(start);
    json_decref(doc);
    return tick;
}

static int count(void *ud, const weir_jfile_rec *rec) {
    (void)rec;
    (*(size_t *)ud)++;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_replay WEIR_BINARY [records]\n");
        return 2;
    }
    size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000;
    if (n < 2) n = 2;
    char dir[256], path[300], cmd[1024];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/weir-bench-replay-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) die("mkdtemp", NULL);
    snprintf(path, sizeof path, "%s/journal.ndjson", dir);

    double t0 = now_ms();
    uint64_t ticks = make(path, n);
    double make_ms = now_ms() - t0;

    FILE *f = fopen(path, "rb");
    size_t seen = 0;
    weir_error err;
    t0 = now_ms();
    if (!f || weir_jfile_read_stream(f, count, &seen, NULL, &err)) die("verify", &err);
    double verify_ms = now_ms() - t0;
    long bytes = ftell(f);
    fclose(f);

    snprintf(cmd, sizeof cmd, "'%s' replay '%s' > '%s/out' 2>&1", argv[1], path, dir);
    t0 = now_ms();
    int st = system(cmd);
    double replay_ms = now_ms() - t0;
    char expect[128], out[512] = "";
    snprintf(expect, sizeof expect, "match (%zu inputs, %llu waves)\n", n, (unsigned long long)ticks);
    snprintf(cmd, sizeof cmd, "%s/out", dir);
    f = fopen(cmd, "r");
    if (f) {
        size_t k = fread(out, 1, sizeof out - 1, f);
        out[k] = '\0';
        fclose(f);
    }
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || strcmp(out, expect) != 0) {
        fprintf(stderr, "bench_replay: weir replay did not match (exit %d): %s", WIFEXITED(st) ? WEXITSTATUS(st) : -1,
                out);
        return 1;
    }
    printf("journal: %zu records, %.1f MB (%.0f bytes/record)\n", n, bytes / 1e6, (double)bytes / (double)n);
    printf("make:    %.0f records/s\n", n / make_ms * 1e3);
    printf("verify:  %.0f records/s (read, parse, canonical check, chain)\n", seen / verify_ms * 1e3);
    printf("replay: %.0f inputs/s (weir replay, end to end: %.2f s)\n", n / replay_ms * 1e3, replay_ms / 1e3);
    if (getenv("BENCH_REPLAY_KEEP")) { /* to profile weir replay on it */
        printf("kept %s\n", path);
        return 0;
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_replay: could not remove %s\n", dir);
    return 0;
}
