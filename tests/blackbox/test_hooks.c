/* Webhooks, black-box (issue 14): symbia.io.http-in → ... →
 * symbia.io.http-response served by the real `weir serve` at
 * /hooks/<graph name><path>.  Each request is answered by the response its
 * own inject reaches (50 concurrent requests, half of them through a timer,
 * no cross-talk); raw mode; 404 / 405 / 400 / 415; a filter that drops the
 * value answers 204 at once; no answer by timeoutMs is 504; auth as the
 * API's unless the graph opens its hooks; a stored execution journals the
 * hook's inject and `weir replay` matches; two http-in nodes on one
 * method and path are refused at load. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "serve.h"

#define EXAMPLE WEIR_SOURCE_DIR "/examples/webhook.json"

static void init(void) { curl_global_init(CURL_GLOBAL_ALL); /* before any thread makes a handle */ }
TestSuite(hooks, .init = init, .timeout = 120);

#define NODE(id, comp, cfg) "{\"id\":\"" id "\",\"component\":\"" comp "\",\"config\":" cfg "}"
#define E(a, ap, b, bp) \
    "{\"source\":{\"node\":\"" a "\",\"port\":\"" ap "\"},\"target\":{\"node\":\"" b "\",\"port\":\"" bp "\"}}"
#define GRAPH(name, meta, nodes, edges) \
    "{\"symbia\":\"1.0\",\"name\":\"" name "\",\"metadata\":" meta ",\"nodes\":[" nodes "],\"edges\":[" edges "]}"

/* POST /hooks/orders/double: value * 2 (even values after a 30 ms delay);
 * /filtered: values below 10 are dropped; /slow: answered after 5 s, but
 * the hook waits 300 ms; GET /raw answers raw mode's value, 201 with a header. */
#define ORDERS(meta)                                                                                                 \
    GRAPH("orders", meta,                                                                                            \
          NODE("in", "symbia.io.http-in", "{\"path\":\"/double\"}") ","                                              \
          NODE("sp", "symbia.core.split", "{\"condition\":\"value % 2 === 0\"}") ","                                 \
          NODE("d", "symbia.core.delay", "{\"delayMs\":30}") ","                                                     \
          NODE("dbl", "symbia.core.map", "{\"expression\":\"value * 2\"}") ","                                       \
          NODE("resp", "symbia.io.http-response", "{}") ","                                                          \
          NODE("fin", "symbia.io.http-in", "{\"path\":\"/filtered\"}") ","                                           \
          NODE("big", "symbia.core.filter", "{\"predicate\":\"value >= 10\"}") ","                                   \
          NODE("sin", "symbia.io.http-in", "{\"path\":\"/slow\",\"timeoutMs\":300}") ","                             \
          NODE("sd", "symbia.core.delay", "{\"delayMs\":5000}") ","                                                  \
          NODE("rin", "symbia.io.http-in", "{\"path\":\"/raw\",\"method\":\"GET\",\"raw\":true}") ","                \
          NODE("rresp", "symbia.io.http-response", "{\"status\":201,\"headers\":{\"X-Hook\":\"raw\"}}"),            \
          E("in", "out", "sp", "in") "," E("sp", "true", "d", "in") "," E("sp", "false", "dbl", "in") ","          \
          E("d", "out", "dbl", "in") "," E("dbl", "out", "resp", "in") "," E("fin", "out", "big", "in") ","        \
          E("big", "out", "resp", "in") "," E("sin", "out", "sd", "in") "," E("sd", "out", "resp", "in") ","       \
          E("rin", "out", "rresp", "in"))

static http_resp hook(server *s, const char *method, const char *path, const char *body) {
    return http_req(s, method, path, body, NULL);
}

Test(hooks, a_post_is_answered_by_its_http_response) {
    server s = serve_start((const char *[]){"--memory", NULL});
    http_resp r = http_req(&s, "POST", "/api/graphs", ORDERS("{}"), NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    char path[128];
    snprintf(path, sizeof path, "/api/graphs/%s/execute", json_string_value(json_object_get(r.json, "id")));
    http_free(&r);
    r = http_req(&s, "POST", path, "{}", NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "completion")), "never",
                     "an http-in keeps its execution running");
    http_free(&r);
    r = hook(&s, "POST", "/hooks/orders/double", "21");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.body, "42");
    cr_assert(strstr(r.headers, "Content-Type: application/json"), "%s", r.headers);
    http_free(&r);
    /* through the delay, and again: the execution goes on */
    r = hook(&s, "POST", "/hooks/orders/double", "8");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.body, "16");
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(hooks, raw_mode) {
    server s = serve_start((const char *[]){"--memory", NULL});
    serve_execute(&s, ORDERS("{}"), NULL);
    http_resp r = http_req_h(&s, "GET", "/hooks/orders/raw?x=1&x=2&y=a%20b+c&flag", NULL, NULL,
                             (const char *[]){"X-Signature: sha256=abc", NULL});
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_assert(strstr(r.headers, "X-Hook: raw"), "%s", r.headers);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "method")), "GET");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "path")), "/raw");
    char *q = json_dumps(json_object_get(r.json, "query"), JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert_str_eq(q, "{\"flag\":\"\",\"x\":[\"1\",\"2\"],\"y\":\"a b c\"}");
    free(q);
    json_t *h = json_object_get(r.json, "headers");
    cr_assert_str_eq(json_string_value(json_object_get(h, "x-signature")), "sha256=abc");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "body")), "");
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(hooks, raw_mode_gives_the_body_as_text) {
    server s = serve_start((const char *[]){"--memory", NULL});
    serve_execute(&s,
                  GRAPH("sig", "{}",
                        NODE("in", "symbia.io.http-in", "{\"path\":\"/gh/push\",\"raw\":true}") ","
                        NODE("resp", "symbia.io.http-response", "{}"),
                        E("in", "out", "resp", "in")),
                  NULL);
    http_resp r = hook(&s, "POST", "/hooks/sig/gh/push", "{ \"a\": [1, 2] }");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "body")), "{ \"a\": [1, 2] }", "exactly as sent");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "path")), "/gh/push");
    http_free(&r);
    /* a generated client encodes the slash of the {path} parameter */
    r = hook(&s, "POST", "/hooks/sig/gh%2Fpush", "1");
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

/* A node whose path is "/" serves /hooks/<graph>/ and /hooks/<graph>
 * alike; other paths match exactly (no trailing slash added or taken). */
Test(hooks, path_slash_serves_the_graph_name_with_or_without_a_slash) {
    server s = serve_start((const char *[]){"--memory", NULL});
    serve_execute(&s,
                  GRAPH("root", "{}",
                        NODE("in", "symbia.io.http-in", "{\"path\":\"/\",\"method\":\"GET\",\"raw\":true}") ","
                        NODE("resp", "symbia.io.http-response", "{}"),
                        E("in", "out", "resp", "in")),
                  NULL);
    serve_execute(&s, ORDERS("{}"), NULL);
    static const char *const paths[] = {"/hooks/root", "/hooks/root/", "/hooks/root?a=1", "/hooks/root/?a=1"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        http_resp r = hook(&s, "GET", paths[i], NULL);
        cr_assert_eq(r.status, 200, "%s: %s", paths[i], r.body);
        cr_assert_str_eq(json_string_value(json_object_get(r.json, "path")), "/", "%s: %s", paths[i], r.body);
        http_free(&r);
    }
    http_resp r = hook(&s, "GET", "/hooks/root?a=1", NULL);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "query"), "a")), "1", "%s", r.body);
    http_free(&r);
    /* a name is matched whole: /hooks/roots is no hook of graph root */
    r = hook(&s, "GET", "/hooks/roots", NULL);
    cr_assert_eq(r.status, 404, "%s", r.body);
    cr_assert(strstr(r.body, "no graph with a running execution serves /hooks/roots"), "%s", r.body);
    http_free(&r);
    /* without a "/" node, /hooks/<graph> names the path it looked for */
    r = hook(&s, "POST", "/hooks/orders", "1");
    cr_assert_eq(r.status, 404, "%s", r.body);
    cr_assert(strstr(r.body, "no symbia.io.http-in node for path \\\"/\\\""), "%s", r.body);
    http_free(&r);
    /* other paths match exactly */
    r = hook(&s, "POST", "/hooks/orders/double/", "1");
    cr_assert_eq(r.status, 404, "%s", r.body);
    cr_assert(strstr(r.body, "path \\\"/double/\\\""), "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(hooks, refusals_say_why) {
    server s = serve_start((const char *[]){"--memory", NULL});
    http_resp r = http_req(&s, "POST", "/api/graphs", ORDERS("{}"), NULL);
    cr_assert_eq(r.status, 201);
    char gid[64];
    snprintf(gid, sizeof gid, "%s", json_string_value(json_object_get(r.json, "id")));
    http_free(&r);
    /* loaded, not running */
    r = hook(&s, "POST", "/hooks/orders/double", "1");
    cr_assert_eq(r.status, 404, "%s", r.body);
    cr_assert(strstr(r.body, "graph \\\"orders\\\" has no running execution"), "%s", r.body);
    cr_assert(strstr(r.body, gid), "names the way to start one: %s", r.body);
    http_free(&r);
    serve_execute(&s, ORDERS("{}"), NULL);
    r = hook(&s, "POST", "/hooks/nosuch/double", "1");
    cr_assert_eq(r.status, 404, "%s", r.body);
    cr_assert(strstr(r.body, "no graph with a running execution serves /hooks/nosuch/double"), "%s", r.body);
    http_free(&r);
    r = hook(&s, "POST", "/hooks/orders/nope", "1");
    cr_assert_eq(r.status, 404, "%s", r.body);
    cr_assert(strstr(r.body, "no symbia.io.http-in node for path \\\"/nope\\\"; it serves: POST /double, POST "
                             "/filtered, POST /slow, GET /raw"),
              "%s", r.body);
    http_free(&r);
    r = hook(&s, "PUT", "/hooks/orders/double", "1");
    cr_assert_eq(r.status, 405, "%s", r.body);
    cr_assert(strstr(r.headers, "Allow: POST"), "%s", r.headers);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "code")), "WEIR_EMETHOD");
    http_free(&r);
    r = hook(&s, "POST", "/hooks/orders/double", "{\"a\":\n  [1,}");
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(r.body, "the body is not valid JSON"), "%s", r.body);
    cr_assert(strstr(r.body, "line 2, column"), "says where: %s", r.body);
    http_free(&r);
    r = http_req(&s, "POST", "/hooks/orders/double", "a=1", "application/x-www-form-urlencoded");
    cr_assert_eq(r.status, 415, "a form never acts: %s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

/* Dropped by a filter: everything the inject caused settled without a
 * response: 204 at once (not the 300 ms... 30 s timeout). */
Test(hooks, a_dropped_value_is_answered_204_at_once) {
    server s = serve_start((const char *[]){"--memory", NULL});
    serve_execute(&s, ORDERS("{}"), NULL);
    double t0 = proc_now_ms();
    http_resp r = hook(&s, "POST", "/hooks/orders/filtered", "3");
    double ms = proc_now_ms() - t0;
    cr_assert_eq(r.status, 204, "%s", r.body);
    cr_assert(strstr(r.headers, "Weir-Hook-Outcome: no-response"), "%s", r.headers);
    cr_assert_lt(ms, 5000, "at once, not at the timeout (30 s): %.0f ms", ms);
    http_free(&r);
    r = hook(&s, "POST", "/hooks/orders/filtered", "12");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.body, "12");
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(hooks, no_answer_by_timeout_is_504) {
    server s = serve_start((const char *[]){"--memory", NULL});
    serve_execute(&s, ORDERS("{}"), NULL);
    double t0 = proc_now_ms();
    http_resp r = hook(&s, "POST", "/hooks/orders/slow", "1");
    double ms = proc_now_ms() - t0;
    cr_assert_eq(r.status, 504, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "code")), "WEIR_ETIMEOUT");
    cr_assert(strstr(r.body, "within 300 ms"), "%s", r.body);
    cr_assert_geq(ms, 295, "%.0f ms", ms);
    cr_assert_lt(ms, 4000, "%.0f ms", ms);
    http_free(&r);
    /* the server goes on; the late answer (5 s) goes nowhere */
    r = hook(&s, "POST", "/hooks/orders/double", "5");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.body, "10");
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

typedef struct job {
    server *s;
    int value;
    long status;
    char body[64];
} job;

static void *post_one(void *arg) {
    job *j = arg;
    char v[32];
    snprintf(v, sizeof v, "%d", j->value);
    http_resp r = http_req(j->s, "POST", "/hooks/orders/double", v, NULL);
    j->status = r.status;
    snprintf(j->body, sizeof j->body, "%s", r.body);
    http_free(&r);
    return NULL;
}

/* 50 at once, odd values answered in their own wave and even ones after a
 * timer, so answers come back in another order than the requests came. */
Test(hooks, concurrent_requests_each_get_their_own_answer) {
    server s = serve_start((const char *[]){"--memory", NULL});
    serve_execute(&s, ORDERS("{}"), NULL);
    enum { N = 50 };
    job jobs[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (job){.s = &s, .value = 1000 + i * 7};
        cr_assert_eq(pthread_create(&th[i], NULL, post_one, &jobs[i]), 0);
    }
    for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(jobs[i].status, 200, "request %d: %ld %s", i, jobs[i].status, jobs[i].body);
        char want[32];
        snprintf(want, sizeof want, "%d", jobs[i].value * 2);
        cr_assert_str_eq(jobs[i].body, want, "request %d (value %d) got another's answer", i, jobs[i].value);
    }
    cr_assert_eq(serve_stop(&s), 0);
}

Test(hooks, auth_as_the_api_unless_the_graph_opens_its_hooks) {
    server s = serve_start((const char *[]){"--memory", "--api-keys", "k1", NULL});
    const char *key[] = {"X-API-Key: k1", NULL}, *wrong[] = {"X-API-Key: nope", NULL};
    http_resp r = http_req_h(&s, "POST", "/api/graphs", ORDERS("{}"), NULL, key);
    cr_assert_eq(r.status, 201, "%s", r.body);
    char path[128];
    snprintf(path, sizeof path, "/api/graphs/%s/execute", json_string_value(json_object_get(r.json, "id")));
    http_free(&r);
    r = http_req_h(&s, "POST", path, "{}", NULL, key);
    cr_assert_eq(r.status, 201, "%s", r.body);
    http_free(&r);
    r = hook(&s, "POST", "/hooks/orders/double", "2");
    cr_assert_eq(r.status, 401, "%s", r.body);
    cr_assert(strstr(r.headers, "WWW-Authenticate: Bearer"), "%s", r.headers);
    http_free(&r);
    r = hook(&s, "POST", "/hooks/nosuch/x", "2");
    cr_assert_eq(r.status, 401, "nothing about graphs is told before credentials: %s", r.body);
    http_free(&r);
    r = http_req_h(&s, "POST", "/hooks/orders/double", "2", NULL, wrong);
    cr_assert_eq(r.status, 403, "%s", r.body);
    http_free(&r);
    r = http_req_h(&s, "POST", "/hooks/orders/double", "2", NULL, key);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.body, "4");
    http_free(&r);

    /* metadata.hooks.public: no credentials needed; weir's own never reach the value */
    const char *pub = GRAPH("open", "{\"hooks\":{\"public\":true}}",
                            NODE("in", "symbia.io.http-in", "{\"path\":\"/in\",\"raw\":true}") ","
                            NODE("resp", "symbia.io.http-response", "{}"),
                            E("in", "out", "resp", "in"));
    r = http_req_h(&s, "POST", "/api/graphs", pub, NULL, key);
    cr_assert_eq(r.status, 201, "%s", r.body);
    snprintf(path, sizeof path, "/api/graphs/%s/execute", json_string_value(json_object_get(r.json, "id")));
    http_free(&r);
    r = http_req_h(&s, "POST", path, "{}", NULL, key);
    cr_assert_eq(r.status, 201, "%s", r.body);
    http_free(&r);
    r = hook(&s, "POST", "/hooks/open/in", "{}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    r = http_req_h(&s, "POST", "/hooks/open/in", "{}", NULL,
                   (const char *[]){"X-API-Key: k1", "Cookie: session=s3cret", "Authorization: Bearer theirs", NULL});
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(!strstr(r.body, "k1") && !strstr(r.body, "s3cret"), "credentials and cookies are dropped: %s", r.body);
    cr_assert(strstr(r.body, "Bearer theirs"), "a public hook's Authorization is the sender's own: %s", r.body);
    http_free(&r);
    /* a bad metadata.hooks is refused at load */
    r = http_req_h(&s, "POST", "/api/graphs",
                   GRAPH("bad", "{\"hooks\":{\"public\":\"yes\"}}",
                         NODE("in", "symbia.io.http-in", "{\"path\":\"/in\"}"), ""),
                   NULL, key);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(r.body, "metadata.hooks must be"), "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

/* SPEC §10: a page of another site never acts.  An <img> or a link to a
 * GET hook carries no Origin (the net guard sees nothing), only
 * Sec-Fetch-Site; it is refused and nothing is injected.  Every answer is a
 * sandboxed document (a graph answering HTML cannot run as weir's page). */
Test(hooks, a_page_of_another_site_cannot_call_a_hook) {
    server s = serve_start((const char *[]){"--memory", NULL});
    const char *g = GRAPH("page", "{}",
                          NODE("in", "symbia.io.http-in", "{\"path\":\"/do\",\"method\":\"GET\",\"raw\":true}") ","
                          NODE("q", "symbia.core.map", "{\"expression\":\"value.query\"}") ","
                          NODE("resp", "symbia.io.http-response", "{\"headers\":{\"Content-Type\":\"text/html\"}}"),
                          E("in", "out", "q", "in") "," E("q", "out", "resp", "in"));
    http_resp r = http_req(&s, "POST", "/api/graphs", g, NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    char path[128];
    snprintf(path, sizeof path, "/api/graphs/%s/execute", json_string_value(json_object_get(r.json, "id")));
    http_free(&r);
    r = http_req(&s, "POST", path, "{}", NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    char metrics[160];
    snprintf(metrics, sizeof metrics, "/api/executions/%s/metrics", json_string_value(json_object_get(r.json, "executionId")));
    http_free(&r);
    const char *img[] = {"Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: no-cors", "Sec-Fetch-Dest: image", NULL};
    r = http_req_h(&s, "GET", "/hooks/page/do?x=1", NULL, NULL, img);
    cr_assert_eq(r.status, 403, "%s", r.body);
    cr_assert(strstr(r.body, "a web page cannot call a hook"), "%s", r.body);
    http_free(&r);
    const char *sibling[] = {"Sec-Fetch-Site: same-site", "Sec-Fetch-Mode: navigate", NULL};
    r = http_req_h(&s, "GET", "/hooks/page/do?x=2", NULL, NULL, sibling);
    cr_assert_eq(r.status, 403, "%s", r.body);
    http_free(&r);
    r = http_req(&s, "GET", metrics, NULL, NULL);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "messagesProcessed")), 0, "nothing was injected: %s",
                 r.body);
    http_free(&r);
    /* a server (no Sec-Fetch-*), or the page's own origin, may */
    const char *own[] = {"Sec-Fetch-Site: same-origin", NULL};
    r = http_req_h(&s, "GET", "/hooks/page/do?x=%3Cscript%3E", NULL, NULL, own);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.headers, "Content-Security-Policy: sandbox"), "%s", r.headers);
    cr_assert(strstr(r.headers, "X-Content-Type-Options: nosniff"), "%s", r.headers);
    http_free(&r);
    r = hook(&s, "GET", "/hooks/page/do?x=3", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    r = hook(&s, "GET", "/hooks/nosuch/x", NULL);
    cr_assert_eq(r.status, 404);
    cr_assert(strstr(r.headers, "Content-Security-Policy: sandbox"), "errors too: %s", r.headers);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(hooks, one_method_and_path_per_graph) {
    server s = serve_start((const char *[]){"--memory", NULL});
    http_resp r = http_req(&s, "POST", "/api/graphs",
                           GRAPH("dup", "{}",
                                 NODE("a", "symbia.io.http-in", "{\"path\":\"/x\"}") ","
                                 NODE("b", "symbia.io.http-in", "{\"path\":\"/x\",\"method\":\"POST\"}"),
                                 ""),
                           NULL);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(r.body, "nodes \\\"a\\\" and \\\"b\\\" both serve POST /x"), "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

/* A stored execution: the hook's inject is journaled like any other, its
 * answer leaves once durable, and the journal replays to a match. */
Test(hooks, a_stored_execution_journals_the_hook_and_replays) {
    server s = serve_start(NULL); /* a fresh DATA_DIR */
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, ORDERS("{}"), NULL));
    const char *vals[] = {"21", "4", "3"};
    const char *want[] = {"42", "8", NULL};
    for (int i = 0; i < 3; i++) {
        http_resp r = hook(&s, "POST", i < 2 ? "/hooks/orders/double" : "/hooks/orders/filtered", vals[i]);
        cr_assert_eq(r.status, want[i] ? 200 : 204, "%s", r.body);
        if (want[i]) cr_assert_str_eq(r.body, want[i]);
        http_free(&r);
    }
    char path[160];
    snprintf(path, sizeof path, "/api/executions/%s/journal", x);
    http_resp r = http_req(&s, "GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    int injects = 0;
    for (char *line = strtok(r.body, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strstr(line, "\"op\":\"inject\"")) continue;
        injects++;
        cr_assert(strstr(line, injects == 3 ? "\"node\":\"fin\"" : "\"node\":\"in\""), "%s", line);
    }
    cr_assert_eq(injects, 3, "every hook request is an inject in the journal");
    http_free(&r);
    r = http_req(&s, "GET", path, NULL, NULL);
    char dir[128], file[256];
    proc_tempdir(dir, sizeof dir, "hookjournal");
    snprintf(file, sizeof file, "%s/j.ndjson", dir);
    FILE *f = fopen(file, "w");
    fputs(r.body, f);
    fclose(f);
    http_free(&r);
    char cmd[512];
    snprintf(cmd, sizeof cmd, WEIR_BINARY " replay %s", file);
    proc_result pr = proc_run(cmd);
    cr_assert_eq(pr.status, 0, "%s\n%s", pr.out, pr.err);
    cr_assert(strncmp(pr.out, "match", 5) == 0, "%s", pr.out);
    proc_free(&pr);
    serve_rmdir(dir);
    /* a fork (newer, running) never takes the graph's hooks: a what-if
     * does not steal live traffic (review) */
    snprintf(path, sizeof path, "/api/executions/%s/fork", x);
    r = http_req(&s, "POST", path, "{\"atTick\":1,\"runtime\":\"realtime\"}", NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    char fork_metrics[160], metrics[160];
    snprintf(fork_metrics, sizeof fork_metrics, "/api/executions/%s/metrics",
             json_string_value(json_object_get(r.json, "executionId")));
    snprintf(metrics, sizeof metrics, "/api/executions/%s/metrics", x);
    http_free(&r);
    r = http_req(&s, "GET", fork_metrics, NULL, NULL);
    json_int_t fork_before = json_integer_value(json_object_get(r.json, "messagesProcessed"));
    http_free(&r);
    r = hook(&s, "POST", "/hooks/orders/double", "5");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.body, "10");
    http_free(&r);
    r = http_req(&s, "GET", fork_metrics, NULL, NULL);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "messagesProcessed")), fork_before,
                 "the fork took nothing: %s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

/* The README's example: examples/webhook.json answers its curl. */
Test(hooks, the_readme_example) {
    server s = serve_start((const char *[]){"--memory", NULL});
    FILE *f = fopen(EXAMPLE, "r");
    cr_assert_not_null(f);
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    serve_execute(&s, text, NULL);
    http_resp r = hook(&s, "POST", "/hooks/shop/orders", "{\"id\": \"A-7\", \"qty\": 3, \"price\": 2.5}");
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_assert(strstr(r.headers, "X-Shop: weir"), "%s", r.headers);
    cr_assert_str_eq(r.body, "{\"id\":\"A-7\",\"total\":7.5}");
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

/* pendingEffects of execution x (-1: not found). */
static long pending_effects(server *s, const char *x) {
    char path[160];
    snprintf(path, sizeof path, "/api/executions/%s/metrics", x);
    http_resp r = http_req(s, "GET", path, NULL, NULL);
    long n = r.status == 200 ? (long)json_integer_value(json_object_get(r.json, "pendingEffects")) : -1;
    http_free(&r);
    return n;
}

static void wait_settled(server *s, const char *x) {
    double until = proc_now_ms() + 10000;
    while (pending_effects(s, x) != 0) cr_assert_lt(proc_now_ms(), until, "the delay never fired");
}

/* What rides on an inject (a wait: true inject's answer, a hook request)
 * lives until its inject settles, even when its answer went first: an
 * inject wait that ran out (202) and a hook that timed out (504), whose
 * injects settle later.  (Before, a wait was freed at its timeout and the
 * settlement read it after free: a crash under ASan.) */
Test(hooks, answered_before_settling_then_settled) {
    server s = serve_start((const char *[]){"--memory", "--default-execution-timeout", "300", NULL});
    char x[64];
    snprintf(x, sizeof x, "%s",
             serve_execute(&s,
                           GRAPH("late", "{\"role\":\"pipeline\"}",
                                 NODE("a", "symbia.core.passthrough", "{}") ","
                                 NODE("d", "symbia.core.delay", "{\"delayMs\":900}") ","
                                 NODE("z", "symbia.core.passthrough", "{}"),
                                 E("a", "out", "d", "in") "," E("d", "out", "z", "in")),
                           NULL));
    char path[160];
    snprintf(path, sizeof path, "/api/executions/%s/inject", x);
    http_resp r = http_req(&s, "POST", path, "{\"nodeId\":\"a\",\"value\":1}", NULL);
    cr_assert_eq(r.status, 202, "the wait ran out first (DEFAULT_EXECUTION_TIMEOUT): %s", r.body);
    http_free(&r);
    wait_settled(&s, x);
    r = http_req(&s, "GET", "/health", NULL, NULL);
    cr_assert_eq(r.status, 200);
    http_free(&r);

    snprintf(x, sizeof x, "%s",
             serve_execute(&s,
                           GRAPH("latehook", "{}",
                                 NODE("in", "symbia.io.http-in", "{\"path\":\"/p\",\"timeoutMs\":200}") ","
                                 NODE("d", "symbia.core.delay", "{\"delayMs\":900}") ","
                                 NODE("resp", "symbia.io.http-response", "{}"),
                                 E("in", "out", "d", "in") "," E("d", "out", "resp", "in")),
                           NULL));
    r = hook(&s, "POST", "/hooks/latehook/p", "1");
    cr_assert_eq(r.status, 504, "%s", r.body);
    http_free(&r);
    wait_settled(&s, x);
    r = hook(&s, "POST", "/hooks/latehook/p", "2");
    cr_assert_eq(r.status, 504, "%s", r.body);
    http_free(&r);
    r = http_req(&s, "GET", "/health", NULL, NULL);
    cr_assert_eq(r.status, 200);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

/* in (timeoutMs 20 s) → d (delay 1.5 s) → resp: a request that waits. */
#define LATER                                                                                                        \
    GRAPH("later", "{}",                                                                                             \
          NODE("in", "symbia.io.http-in", "{\"path\":\"/later\",\"timeoutMs\":20000}") ","                          \
          NODE("d", "symbia.core.delay", "{\"delayMs\":1500}") "," NODE("resp", "symbia.io.http-response", "{}"),   \
          E("in", "out", "d", "in") "," E("d", "out", "resp", "in"))

typedef struct waiting {
    int port;
    CURLcode rc;
    long status;
    char body[512];
} waiting;

static size_t keep_body(char *p, size_t size, size_t n, void *ud) {
    waiting *w = ud;
    size_t l = strlen(w->body);
    snprintf(w->body + l, sizeof w->body - l, "%.*s", (int)(size * n), p);
    return size * n;
}

static void *post_waiting(void *arg) {
    waiting *w = arg;
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hooks/later/later", w->port);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "7");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    w->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &w->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

/* Start the request and wait until its inject is in (its timer pending). */
static void start_waiting(server *s, const char *x, waiting *w, pthread_t *th) {
    *w = (waiting){.port = s->port};
    cr_assert_eq(pthread_create(th, NULL, post_waiting, w), 0);
    double until = proc_now_ms() + 10000;
    while (pending_effects(s, x) != 1) cr_assert_lt(proc_now_ms(), until, "the hook's inject never arrived");
}

/* After a restart the execution is back with the request's inject: its
 * timer fires and the graph finishes processing it (the answer goes
 * nowhere). */
static void comes_back_and_finishes(const char *data, const char *x) {
    server s = serve_start((const char *[]){"--data-dir", data, NULL});
    wait_settled(&s, x);
    char path[160];
    snprintf(path, sizeof path, "/api/executions/%s/metrics", x);
    http_resp r = http_req(&s, "GET", path, NULL, NULL);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "messagesProcessed")), 3,
                 "in, d and resp processed the request's value: %s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

/* A graceful stop leaves a stored execution to come back: a request still
 * waiting is answered 202 (accepted, stored, no answer to give). */
Test(hooks, a_graceful_stop_answers_a_waiting_request_202) {
    char data[64];
    proc_tempdir(data, sizeof data, "hookstop");
    server s = serve_start((const char *[]){"--data-dir", data, NULL});
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, LATER, NULL));
    waiting w;
    pthread_t th;
    start_waiting(&s, x, &w, &th);
    cr_assert_eq(serve_stop(&s), 0);
    pthread_join(th, NULL);
    cr_assert_eq(w.rc, CURLE_OK, "%s", curl_easy_strerror(w.rc));
    cr_assert_eq(w.status, 202, "%s", w.body);
    cr_assert(strstr(w.body, "\"answered\":false"), "%s", w.body);
    comes_back_and_finishes(data, x);
    serve_rmdir(data);
}

/* kill -9 while a request waits: its sender gets no answer at all (so
 * nothing acknowledged is lost), and the journaled inject is processed
 * after recovery. */
Test(hooks, a_crash_loses_the_waiting_request_not_its_inject) {
    char data[64];
    proc_tempdir(data, sizeof data, "hookcrash");
    server s = serve_start((const char *[]){"--data-dir", data, NULL});
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, LATER, NULL));
    waiting w;
    pthread_t th;
    start_waiting(&s, x, &w, &th);
    serve_kill(&s);
    pthread_join(th, NULL);
    cr_assert_neq(w.rc, CURLE_OK, "no answer: got %ld %s", w.status, w.body);
    comes_back_and_finishes(data, x);
    serve_rmdir(data);
}

/* Across an http effect: A's hook asks B's hook (another weir) and answers
 * with what B said; 20 requests at once, each gets its own. */
typedef struct via_job {
    server *s;
    int value;
    long status;
    char body[64];
} via_job;

static void *post_via(void *arg) {
    via_job *j = arg;
    char v[32];
    snprintf(v, sizeof v, "%d", j->value);
    http_resp r = http_req(j->s, "POST", "/hooks/front/ask", v, NULL);
    j->status = r.status;
    snprintf(j->body, sizeof j->body, "%s", r.body);
    http_free(&r);
    return NULL;
}

Test(hooks, answered_across_an_http_request) {
    server b = serve_start((const char *[]){"--memory", NULL});
    serve_execute(&b,
                  GRAPH("back", "{}",
                        NODE("in", "symbia.io.http-in", "{\"path\":\"/x\"}") ","
                        NODE("sp", "symbia.core.split", "{\"condition\":\"value % 3 === 0\"}") ","
                        NODE("d", "symbia.core.delay", "{\"delayMs\":40}") ","
                        NODE("ten", "symbia.core.map", "{\"expression\":\"value * 10\"}") ","
                        NODE("resp", "symbia.io.http-response", "{}"),
                        E("in", "out", "sp", "in") "," E("sp", "true", "d", "in") "," E("sp", "false", "ten", "in")
                        "," E("d", "out", "ten", "in") "," E("ten", "out", "resp", "in")),
                  NULL);
    server a = serve_start((const char *[]){"--memory", "--egress-allow-private", "true", NULL});
    char graph[2048];
    snprintf(graph, sizeof graph,
             GRAPH("front", "{}",
                   NODE("in", "symbia.io.http-in", "{\"path\":\"/ask\"}") ","
                   NODE("ask", "symbia.io.http-request",
                        "{\"method\":\"POST\",\"url\":\"http://127.0.0.1:%d/hooks/back/x\"}") ","
                   NODE("body", "symbia.data.json-transform", "{\"path\":\"body\"}") ","
                   NODE("resp", "symbia.io.http-response", "{}"),
                   E("in", "out", "ask", "in") "," E("ask", "out", "body", "in") "," E("body", "out", "resp", "in")),
             b.port);
    serve_execute(&a, graph, NULL);
    enum { N = 20 };
    via_job jobs[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (via_job){.s = &a, .value = 100 + i};
        cr_assert_eq(pthread_create(&th[i], NULL, post_via, &jobs[i]), 0);
    }
    for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) {
        char want[32];
        snprintf(want, sizeof want, "%d", jobs[i].value * 10);
        cr_assert_eq(jobs[i].status, 200, "request %d: %ld %s", i, jobs[i].status, jobs[i].body);
        cr_assert_str_eq(jobs[i].body, want, "request %d (value %d) got another's answer", i, jobs[i].value);
    }
    cr_assert_eq(serve_stop(&a), 0);
    cr_assert_eq(serve_stop(&b), 0);
}
