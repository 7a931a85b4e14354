/* weir serve, black-box over loopback: GET /api/executions/:id/state
 * (SPEC §7.2), every node's state as JSON, one node's with ?node=, and the
 * answer bounded by MAX_ANSWER_BYTES. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "serve.h"

static const char *GRAPH =
    "{\"symbia\":\"1.0\",\"name\":\"st\",\"nodes\":["
    "{\"id\":\"in\",\"component\":\"symbia.core.passthrough\"},"
    "{\"id\":\"acc\",\"component\":\"symbia.core.accumulator\",\"config\":{\"batchSize\":100}}],"
    "\"edges\":[{\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"acc\",\"port\":\"in\"}}]}";

static void inject(server *s, const char *x, const char *value) {
    char path[128], body[4096];
    snprintf(path, sizeof path, "/api/executions/%s/inject", x);
    snprintf(body, sizeof body, "{\"nodeId\":\"in\",\"value\":%s}", value);
    http_resp r = http_req(s, "POST", path, body, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
}

Test(state, every_node_state_and_one_node) {
    const char *const extra[] = {"--memory", NULL};
    server s = serve_start(extra);
    char x[64], path[160];
    snprintf(x, sizeof x, "%s", serve_execute(&s, GRAPH, "{\"completion\":\"never\"}"));
    inject(&s, x, "1");
    inject(&s, x, "{\"a\":\"b\"}");
    snprintf(path, sizeof path, "/api/executions/%s/state", x);
    http_resp r = http_req(&s, "GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "executionId")), x);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "state")), "running");
    cr_assert_eq(json_integer_value(json_object_get(r.json, "tick")), 2, "one wave per inject");
    char *nodes = json_dumps(json_object_get(r.json, "nodes"), JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert_str_eq(nodes, "{\"acc\":{\"buffer\":[1,{\"a\":\"b\"}]},\"in\":{}}");
    free(nodes);
    http_free(&r);

    snprintf(path, sizeof path, "/api/executions/%s/state?node=acc", x);
    r = http_req(&s, "GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    nodes = json_dumps(json_object_get(r.json, "nodes"), JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert_str_eq(nodes, "{\"acc\":{\"buffer\":[1,{\"a\":\"b\"}]}}");
    free(nodes);
    http_free(&r);

    snprintf(path, sizeof path, "/api/executions/%s/state?node=nope", x);
    r = http_req(&s, "GET", path, NULL, NULL);
    cr_assert_eq(r.status, 404);
    cr_assert(strstr(r.body, "no node \\\"nope\\\""), "%s", r.body);
    http_free(&r);
    r = http_req(&s, "GET", "/api/executions/nope/state", NULL, NULL);
    cr_assert_eq(r.status, 404);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(state, a_state_larger_than_max_answer_bytes_is_refused) {
    const char *const extra[] = {"--memory", "--max-answer-bytes", "2000", NULL};
    server s = serve_start(extra);
    char x[64], path[160], big[1200];
    snprintf(x, sizeof x, "%s", serve_execute(&s, GRAPH, "{\"completion\":\"never\"}"));
    memset(big, 'x', sizeof big - 3);
    big[0] = '"';
    big[sizeof big - 3] = '"';
    big[sizeof big - 2] = '\0';
    inject(&s, x, big);
    snprintf(path, sizeof path, "/api/executions/%s/state", x);
    http_resp r = http_req(&s, "GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "one value fits: %s", r.body);
    http_free(&r);
    inject(&s, x, big);
    r = http_req(&s, "GET", path, NULL, NULL);
    cr_assert_eq(r.status, 413, "%s", r.body);
    cr_assert(strstr(r.body, "MAX_ANSWER_BYTES"), "%s", r.body);
    cr_assert(strstr(r.body, "?node=ID"), "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}
