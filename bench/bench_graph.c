/*
 * Graph loading: time and memory of a passthrough chain of N nodes
 * (bench_chain: one node and one edge per link).  Usage:
 *   bench_graph [N ...]        (default: 1000000 100000)
 * For each N, two ways: jansson's parse then weir_graph_load of the
 * document, and weir_graph_load_text of the text; for each, the JSON
 * text's size per node, the times, and the bytes the loaded graph keeps per
 * node once the document and its text are freed (mallinfo2 uordblks +
 * hblkhd: live heap bytes after minus before).  Times are CPU
 * seconds.  Only the
 * public API is used, so the same source measures any build of libweir.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graphs.h"
#include "weir/weir.h"

/* CPU time of the process (single-threaded): the machine may be shared,
 * and CPU time is what the work costs. */
static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Live heap bytes: chunks in use plus mmapped ones (large blocks). */
static size_t live(void) {
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

static void report(const char *how, int n, size_t len, double parse, double load, size_t kept) {
    printf("graph load (%s), %d-node passthrough chain: json %.0f B/node, parse %.3f s + load %.3f s = %.3f s CPU, "
           "retained %.0f B/node (%.1f MB)\n",
           how, n, (double)len / n, parse, load, parse + load, (double)kept / n, kept / 1e6);
}

/* Parse with jansson, then weir_graph_load (the document path). */
static int by_doc(const weir_registry *reg, int n) {
    size_t before = live();
    char *text = malloc((size_t)n * 160 + 256);
    if (!text) return 1;
    bench_chain(text, n, "");
    size_t len = strlen(text);
    double t0 = now_s();
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    double t1 = now_s();
    free(text);
    if (!doc) {
        fprintf(stderr, "parse: %s\n", je.text);
        return 1;
    }
    weir_graph *g;
    weir_error err;
    int rc = weir_graph_load(reg, doc, NULL, &g, &err);
    double t2 = now_s();
    json_decref(doc);
    if (rc) {
        fprintf(stderr, "load: %s\n", err.message);
        return 1;
    }
    report("json_loadb + weir_graph_load", n, len, t1 - t0, t2 - t1, live() - before);
    double t3 = now_s();
    weir_graph_unref(g);
    printf("graph free, %d nodes: %.3f s CPU\n", n, now_s() - t3);
    return 0;
}

/* weir_graph_load_text (the text path). */
static int by_text(const weir_registry *reg, int n) {
    size_t before = live();
    char *text = malloc((size_t)n * 160 + 256);
    if (!text) return 1;
    bench_chain(text, n, "");
    size_t len = strlen(text);
    double t0 = now_s();
    weir_graph *g;
    weir_error err;
    int rc = weir_graph_load_text(reg, text, len, NULL, &g, &err);
    double t1 = now_s();
    free(text);
    if (rc) {
        fprintf(stderr, "load: %s\n", err.message);
        return 1;
    }
    report("weir_graph_load_text", n, len, 0, t1 - t0, live() - before);
    weir_graph_unref(g);
    return 0;
}

static int one(const weir_registry *reg, int n) { return by_doc(reg, n) || by_text(reg, n); }

int main(int argc, char **argv) {
    weir_registry *reg;
    if (weir_registry_create(&reg)) return 1;
    int rc = 0;
    if (argc > 1)
        for (int i = 1; i < argc && !rc; i++) rc = one(reg, atoi(argv[i]));
    else
        rc = one(reg, 1000000) || one(reg, 100000);
    weir_registry_destroy(reg);
    return rc;
}
