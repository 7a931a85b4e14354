/* The OpenAPI document lists exactly the routes the router knows. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "service/service.h"
#include "weir/weir.h"
#include "shell.h"

Test(openapi, every_route_appears_and_nothing_else) {
    json_t *doc = weir_service_openapi();
    json_t *paths = json_object_get(doc, "paths");
    size_t n;
    const weir_route *routes = weir_service_routes(&n);
    cr_assert_gt(n, 15);
    size_t ops = 0;
    const char *p;
    json_t *item;
    json_object_foreach(paths, p, item) ops += json_object_size(item);
    cr_assert_eq(ops, n, "document has %zu operations, router %zu", ops, n);
    for (size_t i = 0; i < n; i++) {
        char path[256] = "", method[16];
        for (const char *c = routes[i].pattern; *c;) {
            size_t l = strlen(path);
            if (*c == ':') {
                size_t k = strcspn(c + 1, "/");
                snprintf(path + l, sizeof path - l, "{%.*s}", (int)k, c + 1);
                c += k + 1;
            } else {
                path[l] = *c++;
                path[l + 1] = '\0';
            }
        }
        size_t k = 0;
        for (; routes[i].method[k]; k++) method[k] = (char)tolower((unsigned char)routes[i].method[k]);
        method[k] = '\0';
        json_t *op = json_object_get(json_object_get(paths, path), method);
        cr_assert_not_null(op, "%s %s missing", method, path);
        cr_assert_not_null(json_object_get(op, "summary"));
    }
    cr_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    json_decref(doc);
}

/* The document's path of route i ("/api/graphs/{id}") and its method in
 * lower case. */
static json_t *op_of(json_t *doc, const weir_route *r) {
    char path[256] = "", method[16];
    for (const char *c = r->pattern; *c;) {
        size_t l = strlen(path);
        if (*c == ':') {
            size_t k = strcspn(c + 1, "/");
            snprintf(path + l, sizeof path - l, "{%.*s}", (int)k, c + 1);
            c += k + 1;
        } else {
            path[l] = *c++;
            path[l + 1] = '\0';
        }
    }
    size_t k = 0;
    for (; r->method[k]; k++) method[k] = (char)tolower((unsigned char)r->method[k]);
    method[k] = '\0';
    return json_object_get(json_object_get(json_object_get(doc, "paths"), path), method);
}

static bool camel_case(const char *s) {
    if (!s || !islower((unsigned char)s[0])) return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s)) return false;
    return true;
}

/* Every route has an operationId (openapi.c's OPERATIONS: a route added
 * without one fails here), camelCase and unique. */
Test(openapi, every_route_has_a_unique_camel_case_operation_id) {
    json_t *doc = weir_service_openapi();
    size_t n;
    const weir_route *routes = weir_service_routes(&n);
    json_t *seen = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *op = op_of(doc, &routes[i]);
        const char *id = json_string_value(json_object_get(op, "operationId"));
        cr_assert(camel_case(id), "%s %s: operationId %s is missing or not camelCase (add it to OPERATIONS in "
                                  "src/server/openapi.c)",
                  routes[i].method, routes[i].pattern, id ? id : "(none)");
        cr_assert_null(json_object_get(seen, id), "operationId %s twice", id);
        json_object_set_new(seen, id, json_true());
    }
    json_decref(seen);
    json_decref(doc);
}

/* Every $ref inside v names something in components. */
static void refs_resolve(json_t *v, json_t *components, const char *where) {
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) refs_resolve(x, components, where);
        return;
    }
    if (!json_is_object(v)) return;
    const char *key;
    json_t *x;
    json_object_foreach(v, key, x) {
        if (strcmp(key, "$ref") == 0) {
            const char *ref = json_string_value(x);
            const char *prefix = "#/components/";
            cr_assert(ref && strncmp(ref, prefix, strlen(prefix)) == 0, "%s: $ref %s", where, ref ? ref : "?");
            char kind[32];
            const char *name = strchr(ref + strlen(prefix), '/');
            cr_assert_not_null(name, "%s: $ref %s", where, ref);
            snprintf(kind, sizeof kind, "%.*s", (int)(name - ref - strlen(prefix)), ref + strlen(prefix));
            cr_assert_not_null(json_object_get(json_object_get(components, kind), name + 1), "%s: nothing at %s", where,
                               ref);
        } else {
            refs_resolve(x, components, where);
        }
    }
}

/* Path parameters are declared, every answer has a schema (errors: the
 * Error schema), and every $ref resolves. */
Test(openapi, parameters_answers_and_refs) {
    json_t *doc = weir_service_openapi();
    json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
    cr_assert_gt(json_object_size(schemas), 20);
    size_t n;
    const weir_route *routes = weir_service_routes(&n);
    for (size_t i = 0; i < n; i++) {
        json_t *op = op_of(doc, &routes[i]);
        for (const char *c = strchr(routes[i].pattern, ':'); c; c = strchr(c + 1, ':')) {
            size_t k = strcspn(c + 1, "/");
            bool found = false;
            size_t j;
            json_t *p;
            json_array_foreach(json_object_get(op, "parameters"), j, p) {
                const char *name = json_string_value(json_object_get(p, "name"));
                if (name && strlen(name) == k && strncmp(name, c + 1, k) == 0 &&
                    strcmp(json_string_value(json_object_get(p, "in")), "path") == 0 &&
                    json_is_true(json_object_get(p, "required")))
                    found = true;
            }
            cr_assert(found, "%s %s: path parameter %.*s not declared", routes[i].method, routes[i].pattern, (int)k,
                      c + 1);
        }
        const char *status;
        json_t *answer;
        json_object_foreach(json_object_get(op, "responses"), status, answer) {
            const char *ref = json_string_value(json_object_get(answer, "$ref"));
            if (ref) { /* a shared answer */
                const char *prefix = "#/components/responses/";
                cr_assert(strncmp(ref, prefix, strlen(prefix)) == 0, "%s", ref);
                answer = json_object_get(json_object_get(json_object_get(doc, "components"), "responses"),
                                         ref + strlen(prefix));
                cr_assert_not_null(answer, "%s %s: no %s", routes[i].method, routes[i].pattern, ref);
            }
            cr_assert_not_null(json_object_get(answer, "description"));
            if (atoi(status) == 204) { /* No Content: never a body */
                cr_assert_null(json_object_get(answer, "content"), "%s %s: 204 with content", routes[i].method,
                               routes[i].pattern);
                continue;
            }
            json_t *media = json_object_iter_value(json_object_iter(json_object_get(answer, "content")));
            cr_assert_not_null(json_object_get(media, "schema"), "%s %s: answer %s has no schema", routes[i].method,
                               routes[i].pattern, status);
            if (atoi(status) >= 400 && strcmp(routes[i].pattern, "/health") != 0)
                cr_assert_str_eq(json_string_value(json_object_get(json_object_get(media, "schema"), "$ref")),
                                 "#/components/schemas/Error", "%s %s %s", routes[i].method, routes[i].pattern,
                                 status);
        }
        char where[128];
        snprintf(where, sizeof where, "%s %s", routes[i].method, routes[i].pattern);
        refs_resolve(op, json_object_get(doc, "components"), where);
    }
    refs_resolve(json_object_get(doc, "components"), json_object_get(doc, "components"), "components");
    json_decref(doc);
}

/* Request bodies with their content types: graphs as JSON or YAML, an
 * inject's required fields as the handler checks them. */
Test(openapi, request_bodies) {
    json_t *doc = weir_service_openapi();
    json_t *paths = json_object_get(doc, "paths");
    json_t *upload = json_object_get(json_object_get(json_object_get(paths, "/api/graphs"), "post"), "requestBody");
    cr_assert_not_null(json_object_get(json_object_get(upload, "content"), "application/json"));
    cr_assert_not_null(json_object_get(json_object_get(upload, "content"), "application/yaml"));
    cr_assert(json_is_true(json_object_get(upload, "required")));
    json_t *exec = json_object_get(json_object_get(json_object_get(paths, "/api/graphs/{id}/execute"), "post"),
                                   "requestBody");
    cr_assert(json_is_false(json_object_get(exec, "required")), "execute options are optional");
    json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
    json_t *inject = json_object_get(schemas, "InjectRequest");
    char *req = json_dumps(json_object_get(inject, "required"), JSON_COMPACT);
    cr_assert_str_eq(req, "[\"nodeId\",\"value\"]");
    free(req);
    json_t *error = json_object_get(json_object_get(schemas, "Error"), "properties");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(error, "error"), "type")), "string");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(error, "code"), "type")), "string");
    size_t n;
    const weir_route *routes = weir_service_routes(&n);
    for (size_t i = 0; i < n; i++) /* a GET reads no body */
        if (strcmp(routes[i].method, "GET") == 0)
            cr_assert_null(json_object_get(op_of(doc, &routes[i]), "requestBody"), "GET %s", routes[i].pattern);
    json_decref(doc);
}

/* SPEC §10 auth: security and 401 follow the router's own rule
 * (weir_route_access_of): with auth configured every /api route needs
 * credentials, reads included; only /health* stays open.  403 (Origin) and
 * 421 (Host) can answer any request. */
Test(openapi, security_follows_the_routers_rule) {
    json_t *doc = weir_service_openapi();
    json_t *schemes = json_object_get(json_object_get(doc, "components"), "securitySchemes");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(schemes, "apiKey"), "name")), "X-API-Key");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(schemes, "bearer"), "scheme")), "bearer");
    const char *says = json_string_value(json_object_get(json_object_get(schemes, "apiKey"), "description"));
    cr_assert(says && strstr(says, "PUBLIC_READS") && strstr(says, "METRICS_AUTH"), "%s", says ? says : "(none)");
    size_t n;
    const weir_route *routes = weir_service_routes(&n);
    size_t open = 0, reads = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *op = op_of(doc, &routes[i]), *answers = json_object_get(op, "responses");
        weir_route_access access = weir_route_access_of(&routes[i], routes[i].method);
        bool guarded = access != WEIR_ROUTE_OPEN;
        open += !guarded;
        reads += access == WEIR_ROUTE_READ;
        cr_assert_eq(json_array_size(json_object_get(op, "security")) == 3, guarded, "%s %s: security",
                     routes[i].method, routes[i].pattern);
        cr_assert_eq(json_object_get(answers, "401") != NULL, guarded, "%s %s: 401", routes[i].method,
                     routes[i].pattern);
        cr_assert_not_null(json_object_get(answers, "403"), "%s %s: 403", routes[i].method, routes[i].pattern);
        cr_assert_not_null(json_object_get(answers, "421"), "%s %s: 421", routes[i].method, routes[i].pattern);
    }
    cr_assert_eq(open, 3, "/health, /health/live, /health/ready");
    cr_assert_gt(reads, 5);
    json_t *paths = json_object_get(doc, "paths");
    json_t *list = json_object_get(json_object_get(paths, "/api/graphs"), "get");
    cr_assert_not_null(json_object_get(list, "security"), "a read needs credentials unless PUBLIC_READS");
    cr_assert_not_null(json_object_get(json_object_get(list, "responses"), "401"));
    cr_assert(strstr(json_string_value(json_object_get(list, "description")), "PUBLIC_READS"));
    json_t *metrics = json_object_get(json_object_get(paths, "/metrics"), "get");
    cr_assert_not_null(json_object_get(metrics, "security"));
    cr_assert(strstr(json_string_value(json_object_get(metrics, "description")), "METRICS_AUTH"));
    json_t *health = json_object_get(json_object_get(paths, "/health/live"), "get");
    cr_assert_null(json_object_get(health, "security"), "/health* stays open");
    cr_assert_null(json_object_get(json_object_get(health, "responses"), "401"));
    json_decref(doc);
}

/* A route that reads a body answers 415 to another media type; the
 * document lists 415 and exactly the types the router takes. */
Test(openapi, bodies_list_the_routers_media_types_and_415) {
    json_t *doc = weir_service_openapi();
    size_t n, with_body = 0;
    const weir_route *routes = weir_service_routes(&n);
    for (size_t i = 0; i < n; i++) {
        const char *types[8];
        size_t k = weir_route_body_types(&routes[i], types, 8);
        json_t *op = op_of(doc, &routes[i]);
        json_t *answer = json_object_get(json_object_get(op, "responses"), "415");
        cr_assert_eq(answer != NULL, k > 0, "%s %s: 415", routes[i].method, routes[i].pattern);
        json_t *content = json_object_get(json_object_get(op, "requestBody"), "content");
        if (!k) {
            cr_assert_null(content, "%s %s reads no body", routes[i].method, routes[i].pattern);
            continue;
        }
        with_body++;
        const char *description = json_string_value(json_object_get(answer, "description"));
        for (size_t t = 0; t < k; t++) {
            cr_assert(strstr(description, types[t]), "%s %s: 415 does not name %s", routes[i].method,
                      routes[i].pattern, types[t]);
            if (content) cr_assert_not_null(json_object_get(content, types[t]), "%s %s: %s", routes[i].method,
                                            routes[i].pattern, types[t]);
        }
        cr_assert(!content || json_object_size(content) == k, "%s %s: a type the router refuses", routes[i].method,
                  routes[i].pattern);
    }
    cr_assert_gt(with_body, 10);
    json_decref(doc);
}

static bool listed_in(json_t *strings, const char *s) {
    size_t i;
    json_t *x;
    json_array_foreach(strings, i, x) if (strcmp(json_string_value(x), s) == 0) return true;
    return false;
}

/* Every error body is {"error", "code"}: code is required, one of the
 * table's codes (weir/weir.h), each of them listed. */
Test(openapi, error_code_is_required_and_one_of_the_table) {
    json_t *doc = weir_service_openapi();
    json_t *error = json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), "Error");
    char *req = json_dumps(json_object_get(error, "required"), JSON_COMPACT);
    cr_assert_str_eq(req, "[\"error\",\"code\"]");
    free(req);
    json_t *codes = json_object_get(json_object_get(json_object_get(error, "properties"), "code"), "enum");
    size_t n = 0;
#define X(name, value, desc)                                                                                         \
    n++;                                                                                                             \
    cr_assert(listed_in(codes, weir_errname(value)), "%s is not in Error.code's enum", weir_errname(value));
    WEIR_ERRORS(X)
#undef X
    cr_assert_eq(json_array_size(codes), n);
    json_decref(doc);
}
