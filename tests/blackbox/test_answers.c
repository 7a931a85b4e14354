/* weir serve, black-box over loopback: the size of an inject's answer
 * (MAX_ANSWER_BYTES) and of its trace (MAX_TRACE_HOPS), SPEC §10.  A value
 * shared by many outputs or trace entries is written out once per use, so
 * an answer could be hundreds of MB from a 5 MB inject; it is refused
 * before it is written, with an error naming the bound, while /health keeps
 * answering, and the memory comes back. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "serve.h"

#define FIVE_MB (5u << 20)
/* The slowest /health answer while an answer is built: unbounded it was
 * 15 s; the bound leaves room for a sanitizer build on a busy machine. */
#define HEALTH_MS (strstr(WEIR_CONSUMER_CFLAGS, "sanitize") ? 4000.0 : 1500.0)

static char *graph_text(const char *name, int layers, int width, bool chain) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_not_null(f);
    fprintf(f, "{\"symbia\":\"1.0\",\"name\":\"%s\",\"nodes\":[", name);
    for (int l = 0; l < layers; l++)
        for (int i = 0; i < width; i++)
            fprintf(f, "%s{\"id\":\"n%d_%d\",\"component\":\"symbia.core.passthrough\"}", l || i ? "," : "", l, i);
    fprintf(f, "],\"edges\":[");
    bool first = true;
    for (int l = 0; l + 1 < layers; l++)
        for (int i = 0; i < width; i++)
            for (int k = 0; k < width; k++) {
                if (chain && (i || k)) continue;
                fprintf(f,
                        "%s{\"source\":{\"node\":\"n%d_%d\",\"port\":\"out\"},\"target\":{\"node\":\"n%d_%d\","
                        "\"port\":\"in\"}}",
                        first ? "" : ",", l, i, l + 1, k);
                first = false;
            }
    fprintf(f, "]}");
    fclose(f);
    return text;
}

/* One passthrough n0_0 feeding `width` terminal passthroughs n1_0.. */
static char *fan_out(int width) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_not_null(f);
    fprintf(f, "{\"symbia\":\"1.0\",\"name\":\"fan\",\"nodes\":[{\"id\":\"n0_0\",\"component\":\"symbia.core."
               "passthrough\"}");
    for (int i = 0; i < width; i++)
        fprintf(f, ",{\"id\":\"n1_%d\",\"component\":\"symbia.core.passthrough\"}", i);
    fprintf(f, "],\"edges\":[");
    for (int i = 0; i < width; i++)
        fprintf(f,
                "%s{\"source\":{\"node\":\"n0_0\",\"port\":\"out\"},\"target\":{\"node\":\"n1_%d\",\"port\":\"in\"}}",
                i ? "," : "", i);
    fprintf(f, "]}");
    fclose(f);
    return text;
}

/* An inject body whose value is a string of n 'x's. */
static char *inject_body(const char *node, size_t n, bool trace) {
    char *b = malloc(n + 128);
    cr_assert_not_null(b);
    int at = sprintf(b, "{\"nodeId\":\"%s\",%s\"value\":\"", node, trace ? "\"trace\":true," : "");
    memset(b + at, 'x', n);
    strcpy(b + at + n, "\"}");
    return b;
}

/* The answer is a 200 (the inject happened) that says what it left out
 * (omitted: a JSON array) and why: WEIR_ETOOLARGE naming MAX_ANSWER_BYTES
 * (limit); what it left out is not there. */
static void assert_too_large(http_resp *r, const char *limit, const char *omitted) {
    cr_assert_eq(r->status, 200, "%.300s", r->body);
    json_t *t = json_object_get(r->json, "truncated"), *want = json_loads(omitted, 0, NULL);
    cr_assert(json_equal(json_object_get(t, "omitted"), want), "%.300s", r->body);
    size_t i;
    json_t *field;
    json_array_foreach(want, i, field) cr_assert_null(json_object_get(r->json, json_string_value(field)));
    json_decref(want);
    cr_assert_str_eq(json_string_value(json_object_get(t, "code")), "WEIR_ETOOLARGE", "%.300s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(t, "limit")), "MAX_ANSWER_BYTES", "%.300s", r->body);
    const char *msg = json_string_value(json_object_get(t, "error"));
    cr_assert(msg && strstr(msg, limit) && strstr(msg, "output"), "%.300s", r->body);
}

/* The reviewer's case A: a 5 MB string through one passthrough to 60
 * terminals was a 300 MB answer written in 7 s. */
Test(answers, a_fan_out_of_a_large_value_is_refused_by_the_answer_bound, .timeout = 120) {
    server s = serve_start(NULL);
    char *graph = fan_out(60);
    const char *exec = serve_execute(&s, graph, "{\"completion\":\"never\"}");
    free(graph);
    char *body = inject_body("n0_0", FIVE_MB, false);
    serve_probe in = serve_inject_polling_health(&s, exec, body);
    double health = in.slowest;
    cr_log_info("fan-out of 5 MB to 60: answer %zu bytes in %.0f ms, slowest /health %.0f ms", strlen(in.r.body),
                in.ms, health);
    assert_too_large(&in.r, "MAX_ANSWER_BYTES (16777216)", "[\"outputs\"]");
    cr_assert_lt(strlen(in.r.body), 4096);
    cr_assert_lt(in.ms, 5000.0, "the answer took %.0f ms", in.ms); /* a sanitizer build sends 5 MB slowly */
    cr_assert_lt(health, HEALTH_MS, "/health took %.0f ms", health);
    http_free(&in.r);
    /* the inject itself happened: its execution processed it */
    free(body);
    body = inject_body("n0_0", 100, false);
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/inject", exec);
    http_resp r = http_req(&s, "POST", path, body, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_null(json_object_get(r.json, "truncated"), "%s", r.body);
    cr_assert_eq(json_object_size(json_object_get(r.json, "outputs")), 60, "%s", r.body);
    http_free(&r);
    free(body);
    cr_assert_eq(serve_stop(&s), 0);
}

/* Case B: a 5 MB value down a chain of 60 with a trace was 305 MB. */
Test(answers, a_traced_chain_of_a_large_value_is_refused_by_the_answer_bound, .timeout = 120) {
    server s = serve_start(NULL);
    char *graph = graph_text("chain", 60, 1, true);
    const char *exec = serve_execute(&s, graph, "{\"completion\":\"never\"}");
    free(graph);
    char *body = inject_body("n0_0", FIVE_MB, true);
    serve_probe in = serve_inject_polling_health(&s, exec, body);
    double health = in.slowest;
    cr_log_info("traced chain of 60 with 5 MB: answer %zu bytes in %.0f ms, slowest /health %.0f ms",
                strlen(in.r.body), in.ms, health);
    /* the outputs (one 5 MB value) fit; the trace (60 of them) does not */
    assert_too_large(&in.r, "MAX_ANSWER_BYTES (16777216)", "[\"trace\"]");
    cr_assert_eq(json_string_length(json_object_get(json_object_get(in.r.json, "outputs"), "n59_0:out")), FIVE_MB);
    cr_assert_eq(json_integer_value(json_object_get(in.r.json, "hops")), 60, "%.300s", in.r.body);
    /* a 5 MB answer (the outputs) is sent and parsed: seconds with ASan on a busy machine; /health is the loop */
    cr_assert_lt(in.ms, 10000.0, "the answer took %.0f ms", in.ms);
    cr_assert_lt(health, HEALTH_MS, "/health took %.0f ms", health);
    http_free(&in.r);
    free(body);
    cr_assert_eq(serve_stop(&s), 0);
}

/* Case C: the 26-layer lattice, traced: ~500k hops until MAX_WAVE_HOPS
 * stopped it, a 78 MB answer, and the trace's memory was kept. */
Test(answers, a_traced_lattice_stops_its_trace_at_max_trace_hops, .timeout = 120) {
    server s = serve_start(NULL);
    char *graph = graph_text("lattice", 26, 2, false);
    const char *exec = serve_execute(&s, graph, NULL);
    free(graph);
    long rss_before = proc_rss_mb(s.pid);
    char *body = inject_body("n0_0", 100, true);
    serve_probe in = serve_inject_polling_health(&s, exec, body);
    double health = in.slowest;
    long rss_after = proc_rss_mb(s.pid);
    cr_log_info("traced lattice: answer %zu bytes in %.0f ms, slowest /health %.0f ms, RSS %ld → %ld MB",
                strlen(in.r.body), in.ms, health, rss_before, rss_after);
    cr_assert_eq(in.r.status, 200, "%.300s", in.r.body);
    json_int_t hops = json_integer_value(json_object_get(in.r.json, "hops"));
    cr_assert_gt(hops, 10000, "%.300s", in.r.body);
    json_t *tt = json_object_get(in.r.json, "traceTruncated");
    cr_assert_str_eq(json_string_value(json_object_get(tt, "limit")), "MAX_TRACE_HOPS", "%.300s", in.r.body);
    cr_assert_eq(json_integer_value(json_object_get(tt, "maxTraceHops")), 10000, "%.300s", in.r.body);
    cr_assert_eq(json_integer_value(json_object_get(tt, "hops")), hops, "%.300s", in.r.body);
    const char *msg = json_string_value(json_object_get(tt, "error"));
    cr_assert(msg && strstr(msg, "MAX_TRACE_HOPS (10000)"), "%.300s", in.r.body);
    cr_assert_eq(json_array_size(json_object_get(in.r.json, "trace")), 10000, "%.300s", in.r.body);
    cr_assert_lt(strlen(in.r.body), 16u << 20);
    cr_assert_lt(in.ms, 5000.0, "the answer took %.0f ms", in.ms); /* a sanitizer build sends 5 MB slowly */
    cr_assert_lt(health, HEALTH_MS, "/health took %.0f ms", health);
    cr_assert_lt(rss_after - rss_before, 100, "RSS %ld MB → %ld MB", rss_before, rss_after);
    http_free(&in.r);
    free(body);
    cr_assert_eq(serve_stop(&s), 0);
}

/* Both bounds are settings; a normal inject is unchanged. */
Test(answers, the_bounds_are_settings_and_small_answers_are_whole) {
    const char *const extra[] = {"--max-answer-bytes", "2000", "--max-trace-hops", "3", NULL};
    server s = serve_start(extra);
    char *graph = graph_text("chain", 5, 1, true);
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/inject", serve_execute(&s, graph, "{\"completion\":\"never\"}"));
    free(graph);
    http_resp r = http_req(&s, "POST", path, "{\"nodeId\":\"n0_0\",\"value\":{\"a\":[1,2.5,\"\\n\"]}}", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_null(json_object_get(r.json, "truncated"), "%s", r.body);
    cr_assert_null(json_object_get(r.json, "traceTruncated"), "%s", r.body);
    json_t *want = json_loads("{\"a\":[1,2.5,\"\\n\"]}", 0, NULL);
    cr_assert(json_equal(json_object_get(json_object_get(r.json, "outputs"), "n4_0:out"), want), "%s", r.body);
    json_decref(want);
    http_free(&r);
    r = http_req(&s, "POST", path, "{\"nodeId\":\"n0_0\",\"value\":7,\"trace\":true}", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(json_array_size(json_object_get(r.json, "trace")), 3, "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(r.json, "traceTruncated"), "hops")), 5, "%s",
                 r.body);
    http_free(&r);
    char *body = inject_body("n0_0", 1500, false); /* fits once, not twice */
    r = http_req(&s, "POST", path, body, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_not_null(json_object_get(r.json, "outputs"), "%s", r.body);
    http_free(&r);
    free(body);
    body = inject_body("n0_0", 1000, true); /* the output fits, not 3 trace entries more */
    r = http_req(&s, "POST", path, body, NULL);
    assert_too_large(&r, "MAX_ANSWER_BYTES (2000)", "[\"trace\"]");
    cr_assert_not_null(json_object_get(json_object_get(r.json, "outputs"), "n4_0:out"), "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(r.json, "traceTruncated"), "hops")), 5, "%s",
                 r.body);
    http_free(&r);
    free(body);
    body = inject_body("n0_0", 2000, true); /* not even the output */
    r = http_req(&s, "POST", path, body, NULL);
    assert_too_large(&r, "MAX_ANSWER_BYTES (2000)", "[\"outputs\",\"trace\"]");
    http_free(&r);
    free(body);
    cr_assert_eq(serve_stop(&s), 0);
}

#define JS WEIR_SOURCE_DIR "/tests/js/"

/* Acks over /ws and Socket.IO are bounded the same way, and a subscriber
 * to the 60 output events of 5 MB does not hold the loop
 * (tests/js/answers.cjs, with the npm clients of the js_clients fixture). */
Test(answers, acks_over_ws_and_socket_io_are_bounded_and_output_events_do_not_stall, .timeout = 120) {
    server s = serve_start(NULL);
    char cmd[2048];
    /* a sanitizer build answers /health more slowly on a busy machine */
    int health_ms = (int)HEALTH_MS;
    snprintf(cmd, sizeof cmd, "NODE_PATH='%s/js/node_modules' node '" JS "answers.cjs' %d %d", WEIR_BUILD_DIR, s.port,
             health_ms);
    proc_result r = proc_run(cmd);
    cr_log_info("%s", r.out);
    int status = r.status;
    char report[4096];
    snprintf(report, sizeof report, "%s\n%s", r.out, r.err);
    proc_free(&r);
    cr_assert_eq(status, 0, "answers.cjs failed (exit %d):\n%s", status, report);
    cr_assert_eq(serve_stop(&s), 0);
}

/* weir run --trace stops at MAX_TRACE_HOPS too, and says so. */
Test(answers, weir_run_says_where_its_trace_stopped) {
    char *graph = graph_text("lattice", 15, 2, false); /* 32767 hops */
    char *file = proc_tempfile(".json", graph);
    free(graph);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s run %s --inject n0_0=1 --trace", WEIR_BINARY, file);
    proc_result r = proc_run(cmd);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "the trace stopped at MAX_TRACE_HOPS (10000): 22767 more hops not shown"), "%.300s",
              r.out);
    proc_free(&r);
    snprintf(cmd, sizeof cmd, "%s run %s --inject n0_0=1 --trace --json", WEIR_BINARY, file);
    r = proc_run(cmd);
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *out = json_loads(r.out, 0, NULL), *t = json_array_get(json_object_get(out, "traces"), 0);
    cr_assert_eq(json_array_size(json_object_get(t, "trace")), 10000, "%.300s", r.out);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(t, "traceTruncated"), "maxTraceHops")), 10000,
                 "%.300s", r.out);
    json_decref(out);
    proc_free(&r);
    unlink(file);
    free(file);
}
