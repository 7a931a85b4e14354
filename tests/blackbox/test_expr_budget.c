/* weir serve and weir run, black-box: the expression budget (SPEC §10) is
 * a setting, EXPR_MAX_STEPS and EXPR_MAX_BYTES (environment and flag),
 * applied to every graph loaded (posted, or stored and loaded back at
 * start), and an evaluation past it fails on the node's error port with a
 * message naming the setting. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "serve.h"

#define MAP_GRAPH(expr)                                                                                             \
    "{\"symbia\":\"1.0\",\"name\":\"budget\",\"nodes\":[{\"id\":\"m\",\"component\":\"symbia.core.map\","         \
    "\"config\":{\"expression\":\"" expr "\"}}],\"edges\":[]}"
#define COUNT_GRAPH MAP_GRAPH("value.map(x => x + 1).length")
#define REPEAT_GRAPH MAP_GRAPH("'x'.repeat(value).length")
#define KEEP_GOING "{\"onError\":\"continue\",\"completion\":\"never\"}"

/* {"nodeId":"m","value":[0, 1, ..., n-1]} (malloc) */
static char *inject_range(int n) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_not_null(f);
    fputs("{\"nodeId\":\"m\",\"value\":[", f);
    for (int i = 0; i < n; i++) fprintf(f, "%s%d", i ? "," : "", i);
    fputs("]}", f);
    fclose(f);
    return text;
}

/* Inject body into execution id; the inject's answer (asserted 200). */
static http_resp inject(server *s, const char *id, const char *body) {
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/inject", id);
    http_resp r = http_req(s, "POST", path, body, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    return r;
}

/* The error m emitted on its error port in answer r ("" if none). */
static const char *error_port(const http_resp *r) {
    json_t *e = json_object_get(json_object_get(r->json, "outputs"), "m:error");
    const char *m = json_string_value(json_object_get(e, "error"));
    return m ? m : "";
}

/* Start weir serve with EXPR_MAX_STEPS (NULL: unset) in its environment. */
static server serve_with_steps(const char *steps, const char *const *extra) {
    if (steps) cr_assert_eq(setenv("EXPR_MAX_STEPS", steps, 1), 0);
    else unsetenv("EXPR_MAX_STEPS");
    server s = serve_start(extra);
    unsetenv("EXPR_MAX_STEPS");
    return s;
}

Test(expr_budget, serve_refuses_a_map_past_EXPR_MAX_STEPS_on_the_error_port) {
    char *body = inject_range(10000);
    server s = serve_with_steps("1000", NULL);
    http_resp r = inject(&s, serve_execute(&s, COUNT_GRAPH, KEEP_GOING), body);
    cr_assert_str_eq(error_port(&r),
                     "the expression did more than EXPR_MAX_STEPS (1000) steps of work (callback calls, elements "
                     "visited, text read or copied); raise EXPR_MAX_STEPS if it is meant to",
                     "%.2000s", r.body);
    cr_assert_null(json_object_get(json_object_get(r.json, "outputs"), "m:out"), "%.2000s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
    /* the default bound takes the same input */
    s = serve_with_steps(NULL, NULL);
    r = inject(&s, serve_execute(&s, COUNT_GRAPH, KEEP_GOING), body);
    cr_assert_str_eq(error_port(&r), "", "%.2000s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(r.json, "outputs"), "m:out")), 10000, "%.2000s",
                 r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
    free(body);
}

Test(expr_budget, stored_graphs_loaded_back_get_the_setting) {
    char dir[128];
    proc_tempdir(dir, sizeof dir, "expr-budget");
    const char *const extra[] = {"--data-dir", dir, NULL};
    char *body = inject_range(10000);
    server s = serve_with_steps(NULL, extra);
    http_resp g = http_req(&s, "POST", "/api/graphs", COUNT_GRAPH, NULL);
    cr_assert_eq(g.status, 201, "%s", g.body);
    char path[256];
    snprintf(path, sizeof path, "/api/graphs/%s/execute", json_string_value(json_object_get(g.json, "id")));
    http_free(&g);
    cr_assert_eq(serve_stop(&s), 0);
    /* the same stored graph, the server restarted with a bound */
    s = serve_with_steps("1000", extra);
    http_resp x = http_req(&s, "POST", path, KEEP_GOING, NULL);
    cr_assert_eq(x.status, 201, "%s", x.body);
    http_resp r = inject(&s, json_string_value(json_object_get(x.json, "executionId")), body);
    cr_assert(strstr(error_port(&r), "EXPR_MAX_STEPS (1000)"), "%.2000s", r.body);
    http_free(&r);
    http_free(&x);
    cr_assert_eq(serve_stop(&s), 0);
    serve_rmdir(dir);
    free(body);
}

Test(expr_budget, serve_takes_EXPR_MAX_BYTES_as_a_flag_with_a_suffix) {
    const char *const extra[] = {"--expr-max-bytes", "1k", NULL};
    server s = serve_with_steps(NULL, extra);
    const char *id = serve_execute(&s, REPEAT_GRAPH, KEEP_GOING);
    http_resp r = inject(&s, id, "{\"nodeId\":\"m\",\"value\":1024}");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(r.json, "outputs"), "m:out")), 1024, "%s", r.body);
    http_free(&r);
    r = inject(&s, id, "{\"nodeId\":\"m\",\"value\":1025}");
    cr_assert_str_eq(error_port(&r),
                     "Invalid string length: more than EXPR_MAX_BYTES (1024 bytes); raise EXPR_MAX_BYTES if it is "
                     "meant to",
                     "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(expr_budget, a_bound_below_one_is_refused_at_start, .timeout = 60) {
    proc_result r = proc_run("EXPR_MAX_STEPS=0 " WEIR_BINARY " serve --memory --port 0");
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, "EXPR_MAX_STEPS must be at least 1"), "%s", r.err);
    proc_free(&r);
    r = proc_run(WEIR_BINARY " serve --memory --port 0 --expr-max-bytes lots");
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, "EXPR_MAX_BYTES (--expr-max-bytes) must be a non-negative integer"), "%s", r.err);
    proc_free(&r);
    r = proc_run(WEIR_BINARY " run " WEIR_SOURCE_DIR "/examples/squares.json --expr-max-steps 0");
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, "--expr-max-steps (EXPR_MAX_STEPS) takes a positive number of steps"), "%s", r.err);
    proc_free(&r);
    r = proc_run(WEIR_BINARY " run " WEIR_SOURCE_DIR "/examples/squares.json --expr-max-bytes 1g");
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, "--expr-max-bytes (EXPR_MAX_BYTES) takes a positive number of bytes"), "%s", r.err);
    proc_free(&r);
}

Test(expr_budget, weir_run_takes_the_bounds) {
    char *file = proc_tempfile(".json", REPEAT_GRAPH);
    char cmd[512];
    static const char *const bounded[] = {"%s run %s --inject m=2000 --expr-max-bytes 1k",
                                          "EXPR_MAX_BYTES=1k %s run %s --inject m=2000",
                                          "EXPR_MAX_BYTES=1k %s run %s --inject m=2000 --virtual"};
    for (size_t i = 0; i < sizeof bounded / sizeof *bounded; i++) {
        snprintf(cmd, sizeof cmd, bounded[i], WEIR_BINARY, file);
        proc_result r = proc_run(cmd);
        cr_assert_eq(r.status, 1, "%s: the execution failed: %s%s", cmd, r.out, r.err);
        cr_assert(strstr(r.out, "m:error {\"error\":\"Invalid string length: more than EXPR_MAX_BYTES (1024 bytes); "
                                "raise EXPR_MAX_BYTES if it is meant to\""),
                  "%s: %s", cmd, r.out);
        proc_free(&r);
    }
    /* the flag wins over the environment; without either, the default */
    static const char *const fine[] = {"EXPR_MAX_BYTES=1k %s run %s --inject m=2000 --expr-max-bytes 2k",
                                       "%s run %s --inject m=2000"};
    for (size_t i = 0; i < sizeof fine / sizeof *fine; i++) {
        snprintf(cmd, sizeof cmd, fine[i], WEIR_BINARY, file);
        proc_result r = proc_run(cmd);
        cr_assert_eq(r.status, 0, "%s: %s%s", cmd, r.out, r.err);
        cr_assert(strstr(r.out, "m:out 2000"), "%s: %s", cmd, r.out);
        proc_free(&r);
    }
    /* steps: a map over 10k elements */
    free(file);
    file = proc_tempfile(".json", COUNT_GRAPH);
    char *body = inject_range(10000);
    char *input = proc_tempfile(".jsonl", body);
    free(body);
    snprintf(cmd, sizeof cmd, "%s run %s --input %s --expr-max-steps 1000", WEIR_BINARY, file, input);
    proc_result r = proc_run(cmd);
    cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
    cr_assert(strstr(r.out, "did more than EXPR_MAX_STEPS (1000) steps"), "%.2000s", r.out);
    proc_free(&r);
    snprintf(cmd, sizeof cmd, "%s run %s --input %s", WEIR_BINARY, file, input);
    r = proc_run(cmd);
    cr_assert_eq(r.status, 0, "%.2000s%s", r.out, r.err);
    cr_assert(strstr(r.out, "m:out 10000"), "%.2000s", r.out);
    proc_free(&r);
    unlink(input);
    unlink(file);
    free(input);
    free(file);
}
