/* Change while running, black-box (issue 14): the real binary with a
 * DATA_DIR.  PUT /api/graphs/:id stores a new version under the same id;
 * POST /api/executions/:id/upgrade moves a running stored execution to it
 * keeping an accumulator's buffer, dropping a removed delay's timers; after
 * kill -9 the execution comes back on the upgraded graph with the same
 * state (from the journal, and from a snapshot taken after the upgrade);
 * time travel before and after the upgrade's tick shows either graph; the
 * exported journal replays with weir replay, imports and forks.  Refusals:
 * an upgrade that would orphan queued injects (409, nothing changed), a PUT
 * that does not load (400 with its problems, nothing changed), a PUT of a
 * graph used as a subgraph (409). */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "serve.h"

#define NODE(id, comp, cfg) "{\"id\":\"" id "\",\"component\":\"" comp "\",\"config\":" cfg "}"
#define EDGE(a, b) "{\"source\":{\"node\":\"" a "\",\"port\":\"out\"},\"target\":{\"node\":\"" b "\",\"port\":\"in\"}}"

static const char *V1 = "{\"symbia\":\"1.0\",\"name\":\"up\",\"version\":\"1\",\"nodes\":["  //
    NODE("in", "symbia.core.passthrough", "{}") "," NODE("acc", "symbia.core.accumulator", "{\"batchSize\":3}") ","  //
    NODE("slow", "symbia.core.delay", "{\"delayMs\":600000}") "," NODE("out", "symbia.core.passthrough", "{}")  //
    "],\"edges\":[" EDGE("in", "acc") "," EDGE("in", "slow") "," EDGE("acc", "out") "]}";

static const char *V2 = "{\"symbia\":\"1.0\",\"name\":\"up\",\"version\":\"2\",\"nodes\":["  //
    NODE("in", "symbia.core.passthrough", "{}") "," NODE("acc", "symbia.core.accumulator", "{\"batchSize\":4}") ","  //
    NODE("len", "symbia.core.map", "{\"expression\":\"value.length\"}")  //
    "],\"edges\":[" EDGE("in", "acc") "," EDGE("acc", "len") "]}";

static char dir[64];

static void make_dir(void) {
    curl_global_init(CURL_GLOBAL_ALL);
    proc_tempdir(dir, sizeof dir, "bbupgrade");
}

static void drop_dir(void) {
    if (dir[0]) serve_rmdir(dir);
    dir[0] = '\0';
}

TestSuite(upgrade, .init = make_dir, .fini = drop_dir, .timeout = 120);

static server start(void) {
    const char *const argv[] = {"--data-dir", dir, "--snapshot-every", "3", NULL};
    return serve_start(argv);
}

static http_resp req(server *s, const char *method, const char *body, const char *fmt, const char *a,
                     const char *b) {
    char path[512];
    snprintf(path, sizeof path, fmt, a, b);
    return http_req(s, method, path, body, NULL);
}

static void inject(server *s, const char *x, const char *value, bool wait, const char *want_outputs) {
    char body[256];
    snprintf(body, sizeof body, "{\"nodeId\":\"in\",\"value\":%s,\"wait\":%s}", value, wait ? "true" : "false");
    http_resp r = req(s, "POST", body, "/api/executions/%s/inject%s", x, "");
    cr_assert_eq(r.status, wait ? 200 : 202, "inject %s: %s", value, r.body);
    if (want_outputs) {
        char *o = json_dumps(json_object_get(r.json, "outputs"), JSON_COMPACT);
        cr_assert_str_eq(o, want_outputs, "inject %s: %s", value, r.body);
        free(o);
    }
    http_free(&r);
}

/* The node states of x, now (at "") or at a tick: a new reference. */
static json_t *nodes(server *s, const char *x, const char *at) {
    http_resp r = at[0] ? req(s, "GET", NULL, "/api/executions/%s/at/%s", x, at)
                        : req(s, "GET", NULL, "/api/executions/%s/state%s", x, "");
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *n = json_incref(json_object_get(r.json, "nodes"));
    http_free(&r);
    return n;
}

static void buffer_is(json_t *n, const char *want) {
    char *t = json_dumps(json_object_get(json_object_get(n, "acc"), "buffer"), JSON_COMPACT);
    cr_assert_str_eq(t, want);
    free(t);
}

Test(upgrade, a_running_stored_execution_keeps_its_buffer_across_upgrade_restart_travel_and_replay) {
    server s = start();
    http_resp r = http_req(&s, "POST", "/api/graphs", V1, NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    char g[64], x[64];
    snprintf(g, sizeof g, "%s", json_string_value(json_object_get(r.json, "id")));
    http_free(&r);
    r = req(&s, "POST", "{\"completion\":\"never\"}", "/api/graphs/%s/execute%s", g, "");
    cr_assert_eq(r.status, 201, "%s", r.body);
    snprintf(x, sizeof x, "%s", json_string_value(json_object_get(r.json, "executionId")));
    http_free(&r);
    inject(&s, x, "1", false, NULL);
    inject(&s, x, "2", false, NULL); /* tick 2 */

    r = req(&s, "PUT", V2, "/api/graphs/%s%s", g, "");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "id")), g, "the id is kept");
    http_free(&r);
    r = req(&s, "GET", NULL, "/api/graphs/%s%s", g, "");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "version")), "2", "%s", r.body);
    http_free(&r);
    json_t *n = nodes(&s, x, "");
    cr_assert_not_null(json_object_get(n, "slow"), "running on the version it started with until upgraded");
    json_decref(n);

    r = req(&s, "POST", "{}", "/api/executions/%s/upgrade%s", x, "");
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *rep = r.json;
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(rep, "from"), "version")), "1", "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(rep, "to"), "version")), "2", "%s", r.body);
    cr_assert(strstr(r.body, "\"kept\":[\"in\",\"acc\"]") && strstr(r.body, "\"added\":[\"len\"]") &&
                  strstr(r.body, "\"removed\":[\"slow\",\"out\"]"),
              "%s", r.body);
    cr_assert_eq(json_array_size(json_object_get(rep, "cancelledEffects")), 2, "slow's timers: %s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(json_object_get(rep, "droppedState"), "slow"),
                                                    "pending")),
                 2, "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(rep, "tick")), 3, "the upgrade's tick: %s", r.body);
    http_free(&r);
    n = nodes(&s, x, "");
    buffer_is(n, "[1,2]");
    cr_assert_null(json_object_get(n, "slow"));
    json_decref(n);
    inject(&s, x, "3", true, "{}"); /* tick 4: batches of 4 now */
    inject(&s, x, "4", false, NULL); /* tick 5: a batch; a snapshot (every 3) is taken after the upgrade */
    inject(&s, x, "5", false, NULL); /* tick 6 */

    cr_assert_eq(serve_kill(&s), 128 + 9);
    s = start();
    /* from the snapshot taken after the upgrade, restored into the upgraded graph */
    cr_assert_null(strstr(serve_log(&s), "does not restore"), "%s", serve_log(&s));
    n = nodes(&s, x, "");
    buffer_is(n, "[5]");
    cr_assert_not_null(json_object_get(n, "len"), "back on the upgraded graph");
    cr_assert_null(json_object_get(n, "slow"));
    json_decref(n);
    r = req(&s, "GET", NULL, "/api/executions/%s%s", x, "");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "state")), "running", "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(r.json, "metrics"), "pendingEffects")), 0,
                 "the cancelled timers stay cancelled: %s", r.body);
    http_free(&r);

    /* time travel: before the upgrade's tick the old graph, after it the new */
    n = nodes(&s, x, "2");
    buffer_is(n, "[1,2]");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(n, "slow"), "pending")), 2);
    cr_assert_null(json_object_get(n, "len"));
    json_decref(n);
    n = nodes(&s, x, "3");
    buffer_is(n, "[1,2]");
    cr_assert_null(json_object_get(n, "slow"));
    cr_assert_not_null(json_object_get(n, "len"));
    json_decref(n);
    n = nodes(&s, x, "5");
    buffer_is(n, "[]");
    json_decref(n);

    /* the journal: weir replay matches it, an import and a fork go on from it */
    r = req(&s, "GET", NULL, "/api/executions/%s/journal%s", x, "");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.body, "\"kind\":\"upgrade\""), "%s", r.body);
    char *path = proc_tempfile(".ndjson", r.body);
    http_resp imp = http_req(&s, "POST", "/api/executions/import", r.body, "application/x-ndjson");
    http_free(&r);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s replay %s", WEIR_BINARY, path);
    proc_result pr = proc_run(cmd);
    cr_assert_eq(pr.status, 0, "%s%s", pr.out, pr.err);
    cr_assert(strstr(pr.out, "match"), "%s", pr.out);
    proc_free(&pr);
    remove(path);
    free(path);
    cr_assert_eq(imp.status, 201, "%s", imp.body);
    char y[64];
    snprintf(y, sizeof y, "%s", json_string_value(json_object_get(imp.json, "executionId")));
    http_free(&imp);
    n = nodes(&s, y, "");
    buffer_is(n, "[5]");
    cr_assert_not_null(json_object_get(n, "len"));
    json_decref(n);
    r = req(&s, "POST", "{\"atTick\":\"latest\"}", "/api/executions/%s/fork%s", x, "");
    cr_assert_eq(r.status, 201, "%s", r.body);
    snprintf(y, sizeof y, "%s", json_string_value(json_object_get(r.json, "executionId")));
    http_free(&r);
    n = nodes(&s, y, "");
    buffer_is(n, "[5]");
    json_decref(n);
    inject(&s, x, "6", true, "{}");
    inject(&s, x, "7", true, "{}");
    inject(&s, x, "8", true, "{\"len:out\":4}");
    cr_assert_eq(serve_stop(&s), 0);
}

Test(upgrade, refusals_change_nothing) {
    server s = start();
    http_resp r = http_req(&s, "POST", "/api/graphs", V1, NULL);
    char g[64], x[64];
    snprintf(g, sizeof g, "%s", json_string_value(json_object_get(r.json, "id")));
    http_free(&r);
    r = req(&s, "POST", "{\"completion\":\"never\"}", "/api/graphs/%s/execute%s", g, "");
    snprintf(x, sizeof x, "%s", json_string_value(json_object_get(r.json, "executionId")));
    http_free(&r);
    inject(&s, x, "1", false, NULL);
    /* a PUT that does not load: 400 with its problems, the stored graph as it was */
    r = req(&s, "PUT",
            "{\"symbia\":\"1.0\",\"name\":\"up\",\"nodes\":[" NODE("in", "symbia.core.nope", "{}") "],\"edges\":[]}",
            "/api/graphs/%s%s", g, "");
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(r.body, "symbia.core.nope"), "%s", r.body);
    http_free(&r);
    r = req(&s, "GET", NULL, "/api/graphs/%s%s", g, "");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "version")), "1", "%s", r.body);
    http_free(&r);
    /* paused, an inject queued for node "in"; the new version has no "in" */
    r = req(&s, "PUT",
            "{\"symbia\":\"1.0\",\"name\":\"up\",\"version\":\"3\",\"nodes\":[" NODE("src", "symbia.core.passthrough", "{}")
            "," NODE("acc", "symbia.core.accumulator", "{}") "],\"edges\":[" EDGE("src", "acc") "]}",
            "/api/graphs/%s%s", g, "");
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    r = req(&s, "POST", "{}", "/api/executions/%s/pause%s", x, "");
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    inject(&s, x, "2", false, NULL);
    json_t *before = nodes(&s, x, "");
    r = req(&s, "POST", "{}", "/api/executions/%s/upgrade%s", x, "");
    cr_assert_eq(r.status, 409, "%s", r.body);
    cr_assert(strstr(r.body, "orphan 1 queued inject"), "%s", r.body);
    http_free(&r);
    json_t *after = nodes(&s, x, "");
    cr_assert(json_equal(before, after), "nothing changed");
    json_decref(before);
    json_decref(after);
    r = req(&s, "GET", NULL, "/api/executions/%s%s", x, "");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(r.json, "metrics"), "queueDepth")), 1, "%s",
                 r.body);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(r.json, "metrics"), "pendingEffects")), 1, "%s",
                 r.body);
    http_free(&r);
    /* a named version that is not stored */
    r = req(&s, "POST", "{\"graphVersion\":\"9\"}", "/api/executions/%s/upgrade%s", x, "");
    cr_assert_eq(r.status, 404, "%s", r.body);
    http_free(&r);
    /* a graph used as a subgraph is not replaced */
    r = http_req(&s, "POST", "/api/graphs",
                 "{\"symbia\":\"1.0\",\"name\":\"inner\",\"metadata\":{\"ports\":{\"inputs\":[{\"name\":\"in\","
                 "\"node\":\"p\",\"port\":\"in\"}],\"outputs\":[]}},\"nodes\":[" NODE("p", "symbia.core.passthrough", "{}")
                 "],\"edges\":[]}",
                 NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    char inner[64];
    snprintf(inner, sizeof inner, "%s", json_string_value(json_object_get(r.json, "id")));
    http_free(&r);
    r = http_req(&s, "POST", "/api/graphs",
                 "{\"symbia\":\"1.0\",\"name\":\"outer\",\"nodes\":[{\"id\":\"i\",\"component\":\"graph:inner\"}],"
                 "\"edges\":[]}",
                 NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    http_free(&r);
    r = req(&s, "PUT",
            "{\"symbia\":\"1.0\",\"name\":\"inner\",\"nodes\":[" NODE("p", "symbia.core.passthrough", "{}")
            "],\"edges\":[]}",
            "/api/graphs/%s%s", inner, "");
    cr_assert_eq(r.status, 409, "%s", r.body);
    cr_assert(strstr(r.body, "outer"), "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

/* execution:upgrade over Socket.IO and /ws, with the stock npm clients, and a
 * wait: true answer across an upgrade
 * (tests/js/upgrade.cjs): the report in the acknowledgement, a refusal's
 * error with its code. */
Test(upgrade, over_socket_io_and_ws) {
    server s = start();
    static const char *V3 = "{\"symbia\":\"1.0\",\"name\":\"up\",\"version\":\"3\",\"nodes\":["  //
        NODE("src", "symbia.core.passthrough", "{}") "," NODE("acc", "symbia.core.accumulator", "{}")  //
        "],\"edges\":[" EDGE("src", "acc") "]}";
    char *cmd = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&cmd, &len);
    cr_assert_not_null(f);
    fprintf(f, "NODE_PATH='%s/js/node_modules' node '%s/tests/js/upgrade.cjs' %d '' '%s' '%s' '%s'", WEIR_BUILD_DIR,
            WEIR_SOURCE_DIR, s.port, V1, V2, V3);
    fclose(f);
    proc_result r = proc_run(cmd);
    cr_assert_eq(r.status, 0, "upgrade.cjs failed (exit %d):\n%s\n%s", r.status, r.out, r.err);
    proc_free(&r);
    free(cmd);
    cr_assert_eq(serve_stop(&s), 0);
}

/* A webhook's answer comes from an http-response node the upgrade added. */
Test(upgrade, an_added_http_response_answers_webhooks) {
    server s = start();
    static const char *H1 = "{\"symbia\":\"1.0\",\"name\":\"hk\",\"version\":\"1\",\"nodes\":["  //
        NODE("in", "symbia.io.http-in", "{\"method\":\"POST\",\"path\":\"/echo\"}") ","  //
        NODE("m", "symbia.core.map", "{\"expression\":\"value.n * 2\"}") "],\"edges\":[" EDGE("in", "m") "]}";
    static const char *H2 = "{\"symbia\":\"1.0\",\"name\":\"hk\",\"version\":\"2\",\"nodes\":["  //
        NODE("in", "symbia.io.http-in", "{\"method\":\"POST\",\"path\":\"/echo\"}") ","  //
        NODE("m", "symbia.core.map", "{\"expression\":\"value.n * 2\"}") ","  //
        NODE("resp", "symbia.io.http-response", "{}") "],\"edges\":[" EDGE("in", "m") "," EDGE("m", "resp") "]}";
    http_resp r = http_req(&s, "POST", "/api/graphs", H1, NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    char g[64], x[64];
    snprintf(g, sizeof g, "%s", json_string_value(json_object_get(r.json, "id")));
    http_free(&r);
    r = req(&s, "POST", "{\"completion\":\"never\"}", "/api/graphs/%s/execute%s", g, "");
    snprintf(x, sizeof x, "%s", json_string_value(json_object_get(r.json, "executionId")));
    http_free(&r);
    r = http_req(&s, "POST", "/hooks/hk/echo", "{\"n\":4}", NULL);
    cr_assert_eq(r.status, 204, "v1 does not answer: %s", r.body);
    http_free(&r);
    r = req(&s, "PUT", H2, "/api/graphs/%s%s", g, "");
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    r = req(&s, "POST", "{}", "/api/executions/%s/upgrade%s", x, "");
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    r = http_req(&s, "POST", "/hooks/hk/echo", "{\"n\":4}", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.body, "8");
    http_free(&r);
    /* after a restart (the upgrade replayed from the journal) too */
    cr_assert_eq(serve_kill(&s), 128 + 9);
    s = start();
    r = http_req(&s, "POST", "/hooks/hk/echo", "{\"n\":5}", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.body, "10");
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

/* A user component's new version, registered while an execution uses it:
 * the execution keeps the old one until upgraded, then runs the new one
 * with the node's state carried over; the journal (its upgrade record
 * carries the new definition) replays, and after kill -9 it comes back on
 * the new version. */
#define COUNTER(version, expr)                                                                                       \
    "{\"id\": \"acme.up.counter\", \"name\": \"Counter\", \"version\": \"" version "\","                          \
    " \"ports\": {\"inputs\": [{\"name\": \"in\"}], \"outputs\": [{\"name\": \"out\"}]},"                          \
    " \"execution\": {\"type\": \"javascript\", \"source\": \"return {"                                          \
    " process: async (ctx, port, v) => { const n = ((await ctx.getState('n')) || 0) + 1;"                        \
    " ctx.setState('n', n); ctx.emit('out', " expr ") } }\"}}"

static void counter_is(server *s, const char *x, const char *want) {
    http_resp r = req(s, "POST", "{\"nodeId\":\"c\",\"value\":null}", "/api/executions/%s/inject%s", x, "");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "outputs"), "c:out")), want, "%s",
                     r.body);
    http_free(&r);
}

Test(upgrade, a_user_component_s_new_version_keeps_the_node_s_state) {
    server s = start();
    http_resp r = http_req(&s, "POST", "/api/components", COUNTER("1", "'v1:' + n"), NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    http_free(&r);
    r = http_req(&s, "POST", "/api/graphs",
                 "{\"symbia\":\"1.0\",\"name\":\"count\",\"nodes\":[{\"id\":\"c\",\"component\":\"acme.up.counter\"}],"
                 "\"edges\":[]}",
                 NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    char g[64], x[64];
    snprintf(g, sizeof g, "%s", json_string_value(json_object_get(r.json, "id")));
    http_free(&r);
    r = req(&s, "POST", "{\"completion\":\"never\"}", "/api/graphs/%s/execute%s", g, "");
    snprintf(x, sizeof x, "%s", json_string_value(json_object_get(r.json, "executionId")));
    http_free(&r);
    counter_is(&s, x, "v1:1");
    counter_is(&s, x, "v1:2");
    r = http_req(&s, "POST", "/api/components", COUNTER("2", "'v2:' + n"), NULL);
    cr_assert_eq(r.status, 201, "registered while an execution uses the old version: %s", r.body);
    http_free(&r);
    counter_is(&s, x, "v1:3"); /* until upgraded */
    r = req(&s, "POST", "{}", "/api/executions/%s/upgrade%s", x, "");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.body, "\"kept\":[\"c\"]"), "%s", r.body);
    cr_assert_null(strstr(r.body, "\"version\":null"), "a graph without a version has none: %s", r.body);
    http_free(&r);
    counter_is(&s, x, "v2:4");
    r = req(&s, "GET", NULL, "/api/executions/%s/journal%s", x, "");
    cr_assert_eq(r.status, 200, "%s", r.body);
    char *path = proc_tempfile(".ndjson", r.body);
    http_free(&r);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s replay %s", WEIR_BINARY, path);
    proc_result pr = proc_run(cmd);
    cr_assert_eq(pr.status, 0, "%s%s", pr.out, pr.err);
    cr_assert(strstr(pr.out, "match"), "%s", pr.out);
    proc_free(&pr);
    remove(path);
    free(path);
    cr_assert_eq(serve_kill(&s), 128 + 9);
    s = start();
    counter_is(&s, x, "v2:5");
    cr_assert_eq(serve_stop(&s), 0);
}

static char *example(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/examples/upgrade/%s", WEIR_SOURCE_DIR, name);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    static char text[2][4096];
    char *t = text[name[1] == '2'];
    size_t n = fread(t, 1, sizeof text[0] - 1, f);
    t[n] = '\0';
    fclose(f);
    return t;
}

/* The README's example: examples/upgrade v1 -> v2, the half-full batch kept. */
Test(upgrade, the_readme_example) {
    server s = start();
    http_resp r = http_req(&s, "POST", "/api/graphs", example("v1.json"), NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    char g[64], x[64];
    snprintf(g, sizeof g, "%s", json_string_value(json_object_get(r.json, "id")));
    http_free(&r);
    r = req(&s, "POST", NULL, "/api/graphs/%s/execute%s", g, "");
    cr_assert_eq(r.status, 201, "%s", r.body);
    snprintf(x, sizeof x, "%s", json_string_value(json_object_get(r.json, "executionId")));
    http_free(&r);
    inject(&s, x, "1", true, "{}");
    inject(&s, x, "2", true, "{}");
    r = req(&s, "PUT", example("v2.json"), "/api/graphs/%s%s", g, "");
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    r = req(&s, "POST", "{}", "/api/executions/%s/upgrade%s", x, "");
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *ka = json_pack("{s:O,s:O}", "kept", json_object_get(r.json, "kept"), "added",
                           json_object_get(r.json, "added"));
    char *k = json_dumps(ka, JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert_str_eq(k, "{\"added\":[\"total\"],\"kept\":[\"in\",\"batch\"]}");
    free(k);
    json_decref(ka);
    http_free(&r);
    inject(&s, x, "3", true, "{\"total:out\":6}");
    cr_assert_eq(serve_stop(&s), 0);
}
