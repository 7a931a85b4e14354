/*
 * The input journal (src/store/journal.h): durable appends/s and records
 * per commit, with DURABILITY=fsync and =process, for
 *   flood   one producer appending as fast as the queue takes them
 *           (JOURNAL_QUEUE_MAX 65536; on WEIR_EFULL it waits for a commit),
 *           running the done callbacks every 256 appends;
 *   50 in flight  a producer that keeps 50 appends awaiting their done
 *           callback and appends one more as each completes, like 50 HTTP
 *           clients each waiting for its answer (append→done latency too).
 * Records are ~110-byte inject bodies into one execution; the database is
 * in a fresh directory under $TMPDIR (default /tmp).  The writer wakes the
 * producer through an eventfd, as the service's uv_async would.  CPU time
 * per record: "loop" is the producer thread's (appends — canonical
 * encoding, SHA-256, queueing — and polls with their callbacks; building
 * the body is measured apart and taken off), "writer" the rest of the
 * process (the writer thread: SQLite and the kernel's write and fsync).
 * Usage: bench_journal [records_per_case]
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "store/journal.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static double thread_cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static json_t *make_body(size_t i) {
    return json_pack("{s:s,s:s,s:{s:I,s:s,s:f,s:[s,s]},s:s}", "node", "in", "port", "in", "value", "id",
                     (json_int_t)i, "name", "item", "price", 12.5, "tags", "a", "b", "reqId", "c0ffee-0000-1111");
}

/* The loop's CPU time to build and free one body (taken off its figure). */
static double body_cost_us;

static void wake(void *ud) {
    uint64_t one = 1;
    if (write(*(int *)ud, &one, sizeof one) < 0) perror("eventfd");
}

static void wait_commit(int efd) {
    uint64_t v;
    if (read(efd, &v, sizeof v) < 0) perror("eventfd");
}

static size_t done_n, in_flight;
static double *sent_at, *latency;

static void on_done(void *ud, int status, const weir_error *err) {
    size_t i = (size_t)(uintptr_t)ud;
    if (status) {
        fprintf(stderr, "bench_journal: record %zu: %s\n", i, err->message);
        exit(1);
    }
    latency[done_n++] = now_ms() - sent_at[i];
    in_flight--;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void run(weir_durability mode, size_t window, size_t n) {
    char dir[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/weir-bench-journal-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    int efd = eventfd(0, EFD_CLOEXEC);
    weir_store *st;
    weir_journal *j;
    weir_error err;
    weir_journal_config cfg = {.durability = mode, .notify = wake, .notify_ud = &efd};
    if (weir_store_open(dir, &st, &err) || weir_journal_open(st, &cfg, &j, &err)) {
        fprintf(stderr, "bench_journal: %s\n", err.message);
        exit(1);
    }
    json_t *start = json_pack("{s:s,s:{}}", "graph", "bench", "options");
    weir_journal_start(j, "bench-exec", "bench", 0, 0, 0, start, NULL, NULL, &err);
    json_decref(start);
    weir_journal_sync(j, &err);
    weir_journal_poll(j);
    weir_journal_stats before;
    weir_journal_stats_get(j, &before);

    done_n = in_flight = 0;
    double t0 = now_ms(), c0 = cpu_ms(), l0 = thread_cpu_ms();
    size_t sent = 0;
    while (done_n < n) {
        while (sent < n && (!window || in_flight < window)) {
            json_t *body = make_body(sent);
            sent_at[sent] = now_ms();
            int rc = weir_journal_append(j, "bench-exec", WEIR_JOURNAL_INJECT, (int64_t)sent, 0, body, on_done,
                                         (void *)(uintptr_t)sent, NULL, &err);
            json_decref(body);
            if (rc == WEIR_EFULL) break;
            if (rc) {
                fprintf(stderr, "bench_journal: %s\n", err.message);
                exit(1);
            }
            sent++;
            in_flight++;
            if (sent % 256 == 0) weir_journal_poll(j); /* a loop runs callbacks between its reads */
        }
        if (!weir_journal_poll(j)) wait_commit(efd);
    }
    double wall = now_ms() - t0, cpu = cpu_ms() - c0, loop = thread_cpu_ms() - l0;
    weir_journal_stats s;
    weir_journal_stats_get(j, &s);
    uint64_t commits = s.commits - before.commits, records = s.records - before.records;
    qsort(latency, done_n, sizeof *latency, cmp_double);
    printf("%-8s %-13s %7.0f k durable appends/s  %7.1f records/commit (max %llu)  p50 %6.2f ms  p99 %6.2f ms"
           "  cpu/record: loop %4.1f us, writer %4.1f us\n",
           mode == WEIR_DURABILITY_FSYNC ? "fsync" : "process", window ? "50 in flight" : "flood", n / wall,
           commits ? (double)records / (double)commits : 0.0, (unsigned long long)s.max_batch,
           latency[done_n / 2], latency[done_n * 99 / 100], loop * 1e3 / (double)n - body_cost_us,
           (cpu - loop) * 1e3 / (double)n);
    weir_journal_close(j);
    weir_store_close(st);
    close(efd);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_journal: could not remove %s\n", dir);
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    if (!n) n = 100000;
    sent_at = malloc(n * sizeof *sent_at);
    latency = malloc(n * sizeof *latency);
    if (!sent_at || !latency) return 1;
    double b0 = thread_cpu_ms();
    for (size_t i = 0; i < n; i++) json_decref(make_body(i));
    body_cost_us = (thread_cpu_ms() - b0) * 1e3 / (double)n;
    printf("weir input journal (%zu records a case; one execution; SQLite WAL in %s; building a body: %.1f us)\n",
           n, getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", body_cost_us);
    for (int m = 0; m < 2; m++)
        for (int w = 0; w < 2; w++)
            run(m ? WEIR_DURABILITY_PROCESS : WEIR_DURABILITY_FSYNC, w ? 50 : 0, w && !m ? n / 5 : n);
    free(sent_at);
    free(latency);
    return 0;
}
