/* weir run streams (issue 10): outputs are written as they happen, in
 * order, and a long --input is neither loaded whole nor its outputs kept,
 * so memory stays flat in the input size (--json, one document, is the
 * exception and says so).  Peak memory is the child's ru_maxrss: this file
 * runs nothing bigger. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

#define EX WEIR_SOURCE_DIR "/examples/"
#define INJECTS 200000
/* Peak RSS allowed for INJECTS outputs.  Streaming needs about 12 MB
 * whatever the input; keeping every output (the code before) took over
 * 100 MB. */
#define RSS_BOUND_MB 40
/* Under AddressSanitizer freed memory sits in its quarantine (hundreds of
 * MB): resident size says nothing there, so only the plain build checks it. */
#if defined(__SANITIZE_ADDRESS__)
#define CHECK_RSS 0
#else
#define CHECK_RSS 1
#endif

static char *graph, *input;

static void setup(void) {
    graph = proc_tempfile(".json", "{\"symbia\":\"1\",\"name\":\"p\",\"nodes\":[{\"id\":\"a\",\"component\":"
                                   "\"symbia.core.passthrough\"}],\"edges\":[]}");
    input = proc_tempfile(".jsonl", NULL);
    FILE *f = fopen(input, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < INJECTS; i++) fprintf(f, "{\"nodeId\":\"a\",\"port\":\"in\",\"value\":%d}\n", i);
    fclose(f);
}

static void teardown(void) {
    unlink(graph);
    unlink(input);
    free(graph);
    free(input);
}

TestSuite(run_stream, .init = setup, .fini = teardown);

/* The largest resident size of any child waited for so far, in MB. */
static long children_peak_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return ru.ru_maxrss / 1024;
}

/* Run weir over the whole input with `flags`; its stdout (malloc). */
static char *run_all(const char *flags, long *peak_mb) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s run %s --input %s %s", WEIR_BINARY, graph, input, flags);
    proc_result r = proc_run(cmd);
    cr_assert_eq(r.status, 0, "%s: exit %d\n%s", cmd, r.status, r.err);
    *peak_mb = children_peak_mb();
    char *out = r.out;
    r.out = NULL;
    proc_free(&r);
    return out;
}

/* The next line of *p (NUL-terminated in place), or NULL at the end. */
static char *next_line(char **p) {
    if (!**p) return NULL;
    char *line = *p, *nl = strchr(line, '\n');
    if (nl) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p += strlen(line);
    }
    return line;
}

Test(run_stream, json_lines_come_in_order_and_memory_stays_flat) {
    long peak;
    char *out = run_all("--json-lines", &peak), *p = out, *line;
    long n = 0;
    bool summary = false;
    while ((line = next_line(&p))) {
        if (n < INJECTS) {
            char want[128];
            snprintf(want, sizeof want,
                     "{\"type\":\"output\",\"tick\":%ld,\"node\":\"a\",\"port\":\"out\",\"value\":%ld}", n + 1, n);
            cr_assert_str_eq(line, want, "line %ld", n + 1);
        } else {
            cr_assert(strncmp(line, "{\"type\":\"summary\",\"state\":\"completed\"", 37) == 0, "%s", line);
            summary = true;
        }
        n++;
    }
    cr_assert_eq(n, INJECTS + 1);
    cr_assert(summary);
    if (CHECK_RSS) cr_assert_lt(peak, RSS_BOUND_MB, "peak RSS %ld MB for %d outputs", peak, INJECTS);
    free(out);
}

Test(run_stream, text_outputs_are_not_kept_either) {
    long peak;
    char *out = run_all("", &peak), *p = out, *line;
    char want[64];
    for (long n = 0; n < INJECTS; n++) {
        cr_assert_not_null(line = next_line(&p));
        snprintf(want, sizeof want, "a:out %ld", n);
        cr_assert_str_eq(line, want, "line %ld", n + 1);
    }
    cr_assert_not_null(line = next_line(&p));
    cr_assert_str_eq(line, "state: completed");
    if (CHECK_RSS) cr_assert_lt(peak, RSS_BOUND_MB, "peak RSS %ld MB for %d outputs", peak, INJECTS);
    free(out);
}

/* An output is on stdout (a pipe) while run still waits for a timer, not
 * only when it exits. */
Test(run_stream, an_output_is_seen_before_the_run_ends) {
    char *g = proc_tempfile(".json",
                            "{\"symbia\":\"1\",\"name\":\"d\",\"nodes\":["
                            "{\"id\":\"a\",\"component\":\"symbia.core.passthrough\"},"
                            "{\"id\":\"now\",\"component\":\"symbia.core.passthrough\"},"
                            "{\"id\":\"later\",\"component\":\"symbia.core.delay\",\"config\":{\"delayMs\":2000}}],"
                            "\"edges\":["
                            "{\"source\":{\"node\":\"a\",\"port\":\"out\"},\"target\":{\"node\":\"now\",\"port\":\"in\"}},"
                            "{\"source\":{\"node\":\"a\",\"port\":\"out\"},\"target\":{\"node\":\"later\",\"port\":\"in\"}}]}");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s run %s --inject a=1 --json-lines", WEIR_BINARY, g);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char line[1024];
    cr_assert_not_null(fgets(line, sizeof line, p)); /* blocks until weir writes it */
    double first = proc_now_ms();
    cr_assert(strstr(line, "\"node\":\"now\""), "%s", line);
    cr_assert_not_null(fgets(line, sizeof line, p));
    double second = proc_now_ms();
    cr_assert(strstr(line, "\"node\":\"later\""), "%s", line);
    cr_assert_gt(second - first, 1000, "the first output came %.0f ms before the delayed one: it was held back",
                 second - first);
    while (fgets(line, sizeof line, p)) {}
    cr_assert_eq(pclose(p), 0);
    unlink(g);
    free(g);
}

/* With --input - from a pipe, an output is written before run waits for
 * the next line: a tool on the other side can answer it. */
Test(run_stream, outputs_of_piped_input_are_seen_before_the_next_line) {
    int in[2], out[2];
    cr_assert_eq(pipe(in), 0);
    cr_assert_eq(pipe(out), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execl(WEIR_BINARY, "weir", "run", graph, "--input", "-", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    static const char l1[] = "{\"nodeId\":\"a\",\"value\":1}\n", l2[] = "{\"nodeId\":\"a\",\"value\":2}\n";
    cr_assert_eq(write(in[1], l1, sizeof l1 - 1), (ssize_t)(sizeof l1 - 1));
    struct pollfd p = {.fd = out[0], .events = POLLIN};
    int ready = poll(&p, 1, 20000); /* the answer comes at once; 20 s is a failure, not a wait */
    char buf[4096];
    ssize_t n = ready == 1 ? read(out[0], buf, sizeof buf - 1) : 0;
    buf[n > 0 ? n : 0] = '\0';
    cr_assert_str_eq(buf, "a:out 1\n", "the first output was not written while run waited for more input");
    cr_assert_eq(write(in[1], l2, sizeof l2 - 1), (ssize_t)(sizeof l2 - 1));
    close(in[1]);
    size_t len = 0;
    while (len < sizeof buf - 1 && (n = read(out[0], buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)n;
    buf[len] = '\0';
    close(out[0]);
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    static const char rest[] = "a:out 2\nstate: completed\n";
    cr_assert(strncmp(buf, rest, sizeof rest - 1) == 0, "%s", buf);
}

Test(run_stream, trace_lines_only_with_trace) {
    proc_result r =
        proc_run(WEIR_BINARY " run " EX "filter-split.json --inject 'orders={\"total\": 250}' --json-lines");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_null(strstr(r.out, "\"type\":\"trace\""), "%s", r.out);
    cr_assert(strstr(r.out, "\"type\":\"output\""), "%s", r.out);
    proc_free(&r);
    r = proc_run(WEIR_BINARY " run " EX "filter-split.json --inject 'orders={\"total\": 250}' --json-lines --trace");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "{\"type\":\"trace\",\"inject\":1,\"hops\":4,\"trace\":[{\"tick\":1,\"from\":null,"
                            "\"to\":\"orders:in\""), "%s", r.out);
    proc_free(&r);
    r = proc_run(WEIR_BINARY " run " EX "filter-split.json --inject 'orders={\"total\": 250}'");
    cr_assert_null(strstr(r.out, "trace of inject"), "%s", r.out);
    proc_free(&r);
    r = proc_run(WEIR_BINARY " run " EX "filter-split.json --inject 'orders={\"total\": 250}' --trace");
    cr_assert(strstr(r.out, "trace of inject 1 (4 hops):\n  tick 1    (inject)"), "%s", r.out);
    proc_free(&r);
}

Test(run_stream, json_and_json_lines_do_not_mix) {
    proc_result r = proc_run(WEIR_BINARY " run " EX "quick-reference.json --inject input=1 --json --json-lines");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--json or --json-lines"), "%s", r.err);
    proc_free(&r);
}
