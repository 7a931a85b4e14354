/* The OpenAPI document lists exactly the routes the router knows. */
#include <ctype.h>
#include <string.h>

#include "server/service.h"
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

/* SPEC §6 auth: the document says which operations need credentials. */
Test(openapi, mutating_operations_declare_auth_and_401_403) {
    json_t *doc = weir_service_openapi();
    json_t *schemes = json_object_get(json_object_get(doc, "components"), "securitySchemes");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(schemes, "apiKey"), "name")), "X-API-Key");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(schemes, "bearer"), "scheme")), "bearer");
    json_t *inject = json_object_get(json_object_get(json_object_get(doc, "paths"), "/api/executions/{id}/inject"),
                                     "post");
    cr_assert_not_null(json_object_get(inject, "security"));
    cr_assert_not_null(json_object_get(json_object_get(inject, "responses"), "401"));
    cr_assert_not_null(json_object_get(json_object_get(inject, "responses"), "403"));
    json_t *list = json_object_get(json_object_get(json_object_get(doc, "paths"), "/api/graphs"), "get");
    cr_assert_null(json_object_get(list, "security"), "GET routes stay open");
    cr_assert_null(json_object_get(json_object_get(list, "responses"), "401"));
    json_decref(doc);
}
