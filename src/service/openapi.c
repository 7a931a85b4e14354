/*
 * GET /api/openapi.json (SPEC §6): the OpenAPI 3.1 document of the route
 * table, so it lists exactly the routes the router knows.  The table
 * (routes.c) gives method, pattern, summary and statuses; OPERATIONS below
 * adds, keyed by method and pattern, what a generated client needs: the
 * operationId, the request body's schema and the schema of each answer.
 * Who needs credentials (weir_route_access_of) and the media types a body
 * may have (weir_route_body_types) come from the router itself.  A route
 * without an entry here still appears, without an operationId, and the
 * unit test (tests/unit/test_openapi.c) fails on it.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http.h"
#include "service/openapi.h"
#include "service/service.h"

enum {
    BODY_OPTIONAL = 1u << 0, /* an empty body is {} */
    ANSWER_TEXT = 1u << 2,   /* the success answer is text/plain */
    QUERY_WAIT = 1u << 3,    /* ?wait= and ?trace= */
    QUERY_NODE = 1u << 4,    /* ?node= */
    ANSWER_NDJSON = 1u << 5, /* the success answer is application/x-ndjson */
    QUERY_RUNTIME = 1u << 6, /* ?runtime= */
    HOOK = 1u << 7,          /* a webhook: its graph may open it (metadata.hooks.public) */
};

typedef struct operation {
    const char *method, *pattern; /* the route (routes.c) */
    const char *id;               /* operationId: camelCase, unique */
    const char *tag;
    const char *body;    /* schema of the request body, NULL: it reads none */
    const char *answers; /* "status=Schema ...": the schema of each answer that is not an Error */
    unsigned flags;
} operation;

static const operation OPERATIONS[] = {
    {"POST", "/api/graphs", "createGraph", "graphs", "GraphDefinition", "201=GraphCreated", 0},
    {"GET", "/api/graphs", "listGraphs", "graphs", NULL, "200=GraphSummary[]", 0},
    {"GET", "/api/graphs/:id", "getGraph", "graphs", NULL, "200=Graph", 0},
    {"DELETE", "/api/graphs/:id", "deleteGraph", "graphs", NULL, "200=GraphDeleted", 0},
    {"PUT", "/api/graphs/:id", "replaceGraph", "graphs", "GraphDefinition", "200=GraphCreated", 0},
    {"POST", "/api/graphs/:id/execute", "executeGraph", "executions", "ExecuteOptions", "201=Execution",
     BODY_OPTIONAL},
    {"GET", "/api/executions", "listExecutions", "executions", NULL, "200=Execution[]", 0},
    {"GET", "/api/executions/:id", "getExecution", "executions", NULL, "200=ExecutionDetail", 0},
    {"GET", "/api/executions/:id/metrics", "getExecutionMetrics", "executions", NULL, "200=Metrics", 0},
    {"GET", "/api/executions/:id/state", "getExecutionState", "executions", NULL, "200=ExecutionState", QUERY_NODE},
    {"GET", "/api/executions/:id/at/:tick", "getExecutionAt", "executions", NULL, "200=ExecutionAt", QUERY_NODE},
    {"POST", "/api/executions/:id/fork", "forkExecution", "executions", "ForkRequest", "201=ExecutionForked", 0},
    {"GET", "/api/executions/:id/journal", "getExecutionJournal", "executions", NULL, "200=", ANSWER_NDJSON},
    {"POST", "/api/executions/import", "importExecution", "executions", "JournalFile", "201=Execution", QUERY_RUNTIME},
    {"POST", "/api/executions/:id/inject", "injectMessage", "executions", "InjectRequest",
     "200=InjectResult 202=InjectAccepted", QUERY_WAIT},
    {"POST", "/api/executions/:id/pause", "pauseExecution", "executions", NULL, "200=Execution", 0},
    {"POST", "/api/executions/:id/resume", "resumeExecution", "executions", NULL, "200=Execution", 0},
    {"POST", "/api/executions/:id/stop", "stopExecution", "executions", NULL, "200=ExecutionStopped", 0},
    {"POST", "/api/executions/:id/upgrade", "upgradeExecution", "executions", "UpgradeRequest", "200=UpgradeReport",
     BODY_OPTIONAL},
    {"POST", "/api/executions/:id/runtime", "switchRuntime", "time", "RuntimeRequest", "200=RuntimeSwitched", 0},
    {"POST", "/api/executions/:id/tick", "tickExecution", "time", "TickRequest", "200=TimeState", BODY_OPTIONAL},
    {"POST", "/api/executions/:id/advance", "advanceExecution", "time", "AdvanceRequest", "200=TimeState", 0},
    {"POST", "/api/executions/:id/run", "runExecution", "time", "RunRequest", "200=RunResult", BODY_OPTIONAL},
    {"POST", "/api/executions/:id/step", "stepExecution", "time", "StepRequest", "200=StepResult", BODY_OPTIONAL},
    {"GET", "/api/components", "listComponents", "components", NULL, "200=Component[]", 0},
    {"GET", "/api/components/:id", "getComponent", "components", NULL, "200=Component", 0},
    {"POST", "/api/components", "registerComponent", "components", "ComponentDefinition", "201=Component", 0},
    {"POST", "/api/ingress/:name", "deliverIngress", "ingress", "IngressBody", "202=IngressAccepted", 0},
    {"POST", "/hooks/:graph/:path", "postHook", "hooks", "HookBody", "200=HookAnswer", BODY_OPTIONAL | HOOK},
    {"GET", "/hooks/:graph/:path", "getHook", "hooks", NULL, "200=HookAnswer", HOOK},
    {"PUT", "/hooks/:graph/:path", "putHook", "hooks", "HookBody", "200=HookAnswer", BODY_OPTIONAL | HOOK},
    {"PATCH", "/hooks/:graph/:path", "patchHook", "hooks", "HookBody", "200=HookAnswer", BODY_OPTIONAL | HOOK},
    {"DELETE", "/hooks/:graph/:path", "deleteHook", "hooks", "HookBody", "200=HookAnswer", BODY_OPTIONAL | HOOK},
    {"GET", "/health", "getHealth", "service", NULL, "200=Health 503=Health", 0},
    {"GET", "/health/live", "getLiveness", "service", NULL, "200=Status", 0},
    {"GET", "/health/ready", "getReadiness", "service", NULL, "200=Status", 0},
    {"GET", "/api/stats", "getStats", "service", NULL, "200=Stats", 0},
    {"GET", "/metrics", "getPrometheusMetrics", "service", NULL, "200=", ANSWER_TEXT},
    {"GET", "/api/openapi.json", "getOpenApiDocument", "service", NULL, "200=OpenApiDocument", 0},
};
#define N_OPERATIONS (sizeof OPERATIONS / sizeof *OPERATIONS)

static const operation *operation_of(const weir_route *r) {
    for (size_t i = 0; i < N_OPERATIONS; i++)
        if (strcmp(OPERATIONS[i].method, r->method) == 0 && strcmp(OPERATIONS[i].pattern, r->pattern) == 0)
            return &OPERATIONS[i];
    return NULL;
}

/* {"$ref": ...} to a schema, or an array of them for "Name[]". */
static json_t *schema_ref(const char *name, size_t len) {
    bool list = len > 2 && strncmp(name + len - 2, "[]", 2) == 0;
    char path[128];
    snprintf(path, sizeof path, "#/components/schemas/%.*s", (int)(list ? len - 2 : len), name);
    json_t *ref = json_pack("{s:s}", "$ref", path);
    return list ? json_pack("{s:s,s:o}", "type", "array", "items", ref) : ref;
}

static json_t *content(const char *type, json_t *schema) { return json_pack("{s:{s:o}}", type, "schema", schema); }

/* The schema op gives for status (its answers), or NULL. */
static json_t *answer_schema(const operation *op, int status) {
    for (const char *a = op ? op->answers : ""; *a;) {
        size_t n = strcspn(a, " ");
        const char *eq = memchr(a, '=', n);
        if (eq && atoi(a) == status) {
            if (op->flags & (ANSWER_TEXT | ANSWER_NDJSON)) return json_pack("{s:s}", "type", "string");
            return schema_ref(eq + 1, n - (size_t)(eq + 1 - a));
        }
        a += n + strspn(a + n, " ");
    }
    return NULL;
}

static json_t *response(const operation *op, int status) {
    json_t *r = json_pack("{s:s}", "description", weir_http_reason(status));
    json_t *schema = answer_schema(op, status);
    if (!schema && status >= 400) schema = schema_ref("Error", 5);
    if (r && schema)
        json_object_set_new(r, "content",
                            content(op && (op->flags & ANSWER_TEXT) && status < 300     ? "text/plain"
                                    : op && (op->flags & ANSWER_NDJSON) && status < 300 ? "application/x-ndjson"
                                                                                        : "application/json",
                                    schema));
    else json_decref(schema);
    if (r && status == 201)
        json_object_set_new(r, "headers",
                            json_pack("{s:{s:s,s:{s:s}}}", "Location", "description",
                                      "the URL of what was created", "schema", "type", "string"));
    if (r && (status == 429 || status == 503))
        json_object_set_new(r, "headers",
                            json_pack("{s:{s:s,s:{s:s}}}", "Retry-After", "description",
                                      "seconds to wait before trying again", "schema", "type", "integer"));
    return r;
}

/* An error answer of status: a $ref to components/responses, added to
 * shared the first time ("NotFound": the reason phrase without spaces). */
static json_t *shared_error(json_t *shared, int status) {
    const char *description =
        status == 401   ? "No credentials were sent, and auth is configured (see the security schemes)"
        : status == 403 ? "Refused: the credentials, or the request's Origin (neither this server's own origin nor "
                          "one in CORS_ORIGINS)"
        : status == 421 ? "The Host header names no host this server answers for (add it to ALLOWED_HOSTS)"
        : status == 503 ? "Shutting down, out of memory, the store failing, or at MAX_CONNECTIONS / "
                          "MAX_CONNECTIONS_PER_IP: try again after Retry-After"
                        : NULL;
    char name[64] = "", path[96];
    for (const char *c = weir_http_reason(status); *c && strlen(name) < sizeof name - 1; c++)
        if (isalnum((unsigned char)*c)) strncat(name, c, 1);
    if (!json_object_get(shared, name)) {
        json_t *r = response(NULL, status);
        if (r && description) json_object_set_new(r, "description", json_string(description));
        json_object_set_new(shared, name, r);
    }
    snprintf(path, sizeof path, "#/components/responses/%s", name);
    return json_pack("{s:s}", "$ref", path);
}

/* 415 for a route that reads a body: the types it takes (routes.c). */
static json_t *unsupported_media(const weir_route *r) {
    const char *types[16];
    char list[512] = "";
    size_t n = weir_route_body_types(r, types, sizeof types / sizeof *types);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", types[i]);
    }
    json_t *answer = response(NULL, 415);
    char description[640];
    snprintf(description, sizeof description,
             "A body whose Content-Type is not one of %s (optionally ; charset=utf-8): it is not read", list);
    json_object_set_new(answer, "description", json_string(description));
    return answer;
}

/* The answers of r; the error answers every operation shares go to shared.
 * Beyond its route's: 415 when it reads a body; 401 when it may need
 * credentials; on every operation 421 (Host) and 403 (Origin, or the
 * credentials), which the server checks before any route, and, but on
 * /health*, the 503 of MAX_CONNECTIONS / MAX_CONNECTIONS_PER_IP. */
static json_t *responses(const weir_route *r, const operation *op, json_t *shared) {
    json_t *all = json_object();
    char code[8];
    snprintf(code, sizeof code, "%d", r->status);
    json_object_set_new(all, code, response(op, r->status));
    for (const char *e = r->errors; *e;) {
        int st = atoi(e);
        if (st) {
            snprintf(code, sizeof code, "%d", st);
            json_t *own = answer_schema(op, st);
            json_object_set_new(all, code, own || st < 400 ? response(op, st) : shared_error(shared, st));
            json_decref(own);
        }
        e += strcspn(e, " ");
        e += strspn(e, " ");
    }
    const char *types[2];
    if (weir_route_body_types(r, types, 2)) json_object_set_new(all, "415", unsupported_media(r));
    weir_route_access access = weir_route_access_of(r, r->method);
    if (access != WEIR_ROUTE_OPEN) json_object_set_new(all, "401", shared_error(shared, 401));
    json_object_set_new(all, "403", shared_error(shared, 403));
    json_object_set_new(all, "421", shared_error(shared, 421));
    if (access != WEIR_ROUTE_OPEN && !json_object_get(all, "503"))
        json_object_set_new(all, "503", shared_error(shared, 503));
    return all;
}

/* Its content: each media type the route takes (routes.c). */
static json_t *request_body(const weir_route *r, const operation *op) {
    json_t *types = json_object();
    const char *type[16];
    size_t n = weir_route_body_types(r, type, sizeof type / sizeof *type);
    for (size_t i = 0; i < n; i++)
        json_object_set_new(types, type[i], json_pack("{s:o}", "schema", schema_ref(op->body, strlen(op->body))));
    return json_pack("{s:b,s:o}", "required", !(op->flags & BODY_OPTIONAL), "content", types);
}

static const char *param_description(const char *pattern, const char *name) {
    if (strcmp(name, "name") == 0) return "a graph's name (its definition's name)";
    if (strcmp(name, "graph") == 0) return "the name of a graph with a running execution";
    if (strcmp(name, "path") == 0)
        return "the path of one of its symbia.io.http-in nodes, without its leading / (it may hold more segments: "
               "/hooks/shop/orders/new serves path /orders/new of graph shop); matched exactly, but empty for path /, "
               "which /hooks/shop serves too";
    if (strncmp(pattern, "/api/graphs/", 12) == 0) return "a graph id";
    if (strncmp(pattern, "/api/executions/", 16) == 0) return "an execution id";
    if (strncmp(pattern, "/api/components/", 16) == 0) return "a component id";
    return NULL;
}

/* The document's path for a pattern ("/api/graphs/{id}"), and its
 * parameters appended to params. */
static void path_of(const char *pattern, char *path, size_t cap, json_t *params) {
    path[0] = '\0';
    for (const char *p = pattern; *p;) {
        size_t l = strlen(path);
        if (p[0] == ':') {
            int n = (int)strcspn(p + 1, "/");
            snprintf(path + l, cap - l, "{%.*s}", n, p + 1);
            char name[64];
            snprintf(name, sizeof name, "%.*s", n, p + 1);
            json_array_append_new(params, json_pack("{s:s,s:s,s:b,s:s*,s:{s:s}}", "name", name, "in", "path",
                                                    "required", 1, "description", param_description(pattern, name),
                                                    "schema", "type", "string"));
            p += n + 1;
        } else {
            snprintf(path + l, cap - l, "%c", *p);
            p++;
        }
    }
}

static json_t *operation_json(const weir_route *r, json_t *shared) {
    const operation *op = operation_of(r);
    char path[256];
    json_t *params = json_array();
    path_of(r->pattern, path, sizeof path, params);
    if (op && (op->flags & QUERY_WAIT)) {
        json_array_append_new(params, json_pack("{s:s,s:s,s:s,s:{s:s}}", "name", "wait", "in", "query", "description",
                                                "as the body's wait (the body wins)", "schema", "type", "boolean"));
        json_array_append_new(params, json_pack("{s:s,s:s,s:s,s:{s:s}}", "name", "trace", "in", "query",
                                                "description", "as the body's trace", "schema", "type", "boolean"));
    }
    if (op && (op->flags & QUERY_RUNTIME))
        json_array_append_new(params, json_pack("{s:s,s:s,s:s,s:{s:s}}", "name", "runtime", "in", "query",
                                                "description", "what it runs on once its journal is applied "
                                                "(virtual by default, or realtime)", "schema", "type", "string"));
    if (op && (op->flags & QUERY_NODE))
        json_array_append_new(params, json_pack("{s:s,s:s,s:s,s:{s:s}}", "name", "node", "in", "query", "description",
                                                "only this node", "schema", "type", "string"));
    json_t *j = json_pack("{s:s,s:o}", "summary", r->summary, "responses", responses(r, op, shared));
    if (!j) {
        json_decref(params);
        return NULL;
    }
    if (op) {
        json_object_set_new(j, "operationId", json_string(op->id));
        json_object_set_new(j, "tags", json_pack("[s]", op->tag));
        if (op->body) json_object_set_new(j, "requestBody", request_body(r, op));
    }
    weir_route_access access = weir_route_access_of(r, r->method);
    if (access != WEIR_ROUTE_OPEN) /* {}: open when the server runs without auth */
        json_object_set_new(j, "security", json_pack("[{s:[]},{s:[]},{}]", "apiKey", "bearer"));
    if (op && (op->flags & HOOK))
        json_object_set_new(j, "description",
                            json_string("Needs credentials like the API unless the graph says \"metadata\": "
                                        "{\"hooks\": {\"public\": true}}. The answer's status, headers and body "
                                        "are the http-response node's (its value as JSON; a string as text when its "
                                        "Content-Type is not JSON); 204 with Weir-Hook-Outcome: no-response when "
                                        "everything the request caused finished without reaching one; 502 when the "
                                        "graph failed or the execution ended first; 504 after the http-in node's "
                                        "timeoutMs. Sent once the inject is durable (stored executions)."));
    else if (access == WEIR_ROUTE_READ)
        json_object_set_new(j, "description", json_string("A read: open under PUBLIC_READS=true"));
    else if (access == WEIR_ROUTE_METRICS)
        json_object_set_new(j, "description", json_string("Needs credentials only under METRICS_AUTH=true"));
    if (json_array_size(params)) json_object_set_new(j, "parameters", params);
    else json_decref(params);
    return j;
}

/* weir_route_access_of in words, for the security schemes. */
#define WHO_NEEDS_AUTH                                                                                                \
    "With auth configured (API_KEYS, JWT_SECRET or JWT_PUBLIC_KEY) every /api operation needs credentials, reads "  \
    "included; PUBLIC_READS=true opens the GET operations; /health, /health/live and /health/ready stay open; "     \
    "GET /metrics needs them only under METRICS_AUTH=true; OPTIONS (CORS preflight) is open. Without auth "         \
    "configured nothing does: hence the empty alternative {} in each operation's security."

static json_t *build(void) {
    size_t n;
    const weir_route *routes = weir_service_routes(&n);
    json_t *paths = json_object(), *shared = json_object();
    for (size_t i = 0; paths && shared && i < n; i++) {
        char path[256], method[16];
        json_t *ignored = json_array();
        path_of(routes[i].pattern, path, sizeof path, ignored);
        json_decref(ignored);
        size_t k = 0;
        for (; routes[i].method[k] && k < sizeof method - 1; k++)
            method[k] = (char)tolower((unsigned char)routes[i].method[k]);
        method[k] = '\0';
        json_t *item = json_object_get(paths, path);
        if (!item) {
            item = json_object();
            json_object_set_new(paths, path, item);
        }
        json_object_set_new(item, method, operation_json(&routes[i], shared));
    }
    json_t *schemes = json_pack("{s:{s:s,s:s,s:s,s:s+},s:{s:s,s:s,s:s,s:s+}}", "apiKey", "type", "apiKey", "in",
                                "header", "name", "X-API-Key", "description",
                                "One of API_KEYS (also accepted as Authorization: Bearer <key>). ", WHO_NEEDS_AUTH,
                                "bearer", "type", "http", "scheme", "bearer", "bearerFormat", "JWT", "description",
                                "A JWT verified with JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256): signature, exp, "
                                "nbf. ",
                                WHO_NEEDS_AUTH);
    return json_pack("{s:s,s:{s:s,s:s,s:s},s:o,s:{s:o,s:o,s:o}}", "openapi", "3.1.0", "info", "title", "weir",
                     "version", WEIR_VERSION, "description",
                     "A dataflow runtime: graphs, executions, injects, metrics (SPEC §6). Events: Socket.IO at "
                     "/socket.io/ and a plain WebSocket at /ws (SPEC §5).",
                     "paths", paths, "components", "schemas", weir__openapi_schemas(), "responses", shared,
                     "securitySchemes", schemes);
}

/* Built once: the routes and schemas never change while the process runs,
 * and building it costs as much as sending it. */
json_t *weir_service_openapi(void) {
    static json_t *doc;
    if (!doc) doc = build(); /* (out of memory: NULL, tried again next time) */
    return json_incref(doc);
}
