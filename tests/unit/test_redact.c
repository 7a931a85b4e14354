/* Redaction of secrets in node config (server/redact.c, SPEC §10). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "server/redact.h"

static json_t *parse(const char *text) {
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    cr_assert_not_null(j, "%s: %s", text, e.text);
    return j;
}

Test(redact, secret_names_case_insensitive) {
    const char *secret[] = {"authorization", "Authorization", "PROXY-AUTHORIZATION", "cookie", "Set-Cookie",
                            "x-api-key", "X-Api-Key", "api_key", "apiKey", "APIKEY", "x-auth-token", "token",
                            "accessToken", "refresh_token", "client_secret", "Secret", "password", "db-Password",
                            "passwd"};
    for (size_t i = 0; i < sizeof secret / sizeof *secret; i++)
        cr_assert(weir_redact_is_secret_name(secret[i]), "%s should be secret", secret[i]);
    const char *open[] = {"content-type", "accept", "user-agent", "keyboard", "monkey", "x-request-id", "url",
                          "method", "cookies-enabled-note", "", "key-id", "authorizer"};
    for (size_t i = 0; i < sizeof open / sizeof *open; i++)
        cr_assert_not(weir_redact_is_secret_name(open[i]), "%s should not be secret", open[i]);
    cr_assert_not(weir_redact_is_secret_name(NULL));
}

Test(redact, http_request_headers_and_nested_config_read_as_stars) {
    json_t *doc = parse("{\"symbia\":\"1\",\"name\":\"g\",\"metadata\":{\"token\":\"meta-stays\"},\"nodes\":["
                        "{\"id\":\"h\",\"component\":\"symbia.io.http-request\",\"config\":{\"url\":"
                        "\"https://api.example.com/?q=1\",\"method\":\"POST\",\"headers\":{\"Authorization\":"
                        "\"Bearer s3cr3t\",\"X-Api-Key\":\"k-123\",\"Cookie\":\"sid=abc\",\"Accept\":"
                        "\"application/json\",\"X-Count\":7}}},"
                        "{\"id\":\"u\",\"component\":\"acme.thing\",\"config\":{\"apiKey\":\"uk\",\"retries\":3,"
                        "\"auth\":{\"password\":\"pw\",\"user\":\"bob\"},\"list\":[{\"secret\":42}],"
                        "\"tokens\":{\"a\":1}}},"
                        "{\"id\":\"p\",\"component\":\"symbia.core.passthrough\"}],"
                        "\"edges\":[{\"id\":\"e\",\"source\":\"h\",\"target\":\"u\",\"token\":\"edge-stays\"}]}");
    char *before = json_dumps(doc, JSON_SORT_KEYS);
    json_t *r = weir_redact_graph(doc);
    cr_assert_not_null(r);
    /* the original is untouched (the stored graph keeps the real values) */
    char *after = json_dumps(doc, JSON_SORT_KEYS);
    cr_assert_str_eq(before, after);
    json_t *h = json_object_get(json_object_get(json_array_get(json_object_get(r, "nodes"), 0), "config"), "headers");
    cr_assert_str_eq(json_string_value(json_object_get(h, "Authorization")), WEIR_REDACTED);
    cr_assert_str_eq(json_string_value(json_object_get(h, "X-Api-Key")), WEIR_REDACTED);
    cr_assert_str_eq(json_string_value(json_object_get(h, "Cookie")), WEIR_REDACTED);
    cr_assert_str_eq(json_string_value(json_object_get(h, "Accept")), "application/json");
    cr_assert_eq(json_integer_value(json_object_get(h, "X-Count")), 7);
    json_t *cfg0 = json_object_get(json_array_get(json_object_get(r, "nodes"), 0), "config");
    cr_assert_str_eq(json_string_value(json_object_get(cfg0, "url")), "https://api.example.com/?q=1");
    json_t *u = json_object_get(json_array_get(json_object_get(r, "nodes"), 1), "config");
    cr_assert_str_eq(json_string_value(json_object_get(u, "apiKey")), WEIR_REDACTED);
    cr_assert_eq(json_integer_value(json_object_get(u, "retries")), 3);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(u, "auth"), "password")), WEIR_REDACTED);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(u, "auth"), "user")), "bob");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(u, "list"), 0), "secret")),
                     WEIR_REDACTED);
    /* a secret-looking name holding an object is searched, not replaced */
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(u, "tokens"), "a")), 1);
    /* only node config is redacted */
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "metadata"), "token")), "meta-stays");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(r, "edges"), 0), "token")),
                     "edge-stays");
    /* no secret survives anywhere in the text */
    char *text = json_dumps(r, 0);
    const char *values[] = {"s3cr3t", "k-123", "sid=abc", "\"uk\"", "\"pw\"", "42"};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++)
        cr_assert_null(strstr(text, values[i]), "%s survived: %s", values[i], text);
    free(text);
    free(before);
    free(after);
    json_decref(r);
    json_decref(doc);
}

Test(redact, nothing_to_hide_costs_no_copy) {
    /* no graph, or no secret: the document itself */
    const char *texts[] = {"{\"password\":\"top\",\"nodes\":\"not an array\"}", "[1,2]",
                           ("{\"nodes\":[{\"id\":\"a\",\"config\":{\"url\":\"u\",\"headers\":{\"Accept\":\"x\"}}},"
                            "{\"id\":\"b\"}]}")};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        json_t *doc = parse(texts[i]);
        json_t *r = weir_redact_graph(doc);
        cr_assert_eq(r, doc, "%s", texts[i]);
        cr_assert_eq(doc->refcount, 2);
        json_decref(r);
        json_decref(doc);
    }
}

Test(redact, only_nodes_with_secrets_are_copied_the_rest_is_shared) {
    json_t *doc = parse("{\"name\":\"g\",\"nodes\":[{\"id\":\"a\",\"config\":{\"headers\":{\"Cookie\":\"c\"}}},"
                        "{\"id\":\"b\",\"config\":{\"n\":1}}],\"edges\":[]}");
    json_t *r = weir_redact_graph(doc);
    cr_assert_neq(r, doc);
    json_t *na = json_array_get(json_object_get(r, "nodes"), 0), *nb = json_array_get(json_object_get(r, "nodes"), 1);
    cr_assert_neq(na, json_array_get(json_object_get(doc, "nodes"), 0));
    cr_assert_eq(nb, json_array_get(json_object_get(doc, "nodes"), 1), "a node without secrets is shared");
    cr_assert_eq(json_object_get(r, "edges"), json_object_get(doc, "edges"));
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(na, "config"), "headers"),
                                                       "Cookie")),
                     WEIR_REDACTED);
    json_decref(r);
    /* the document is as it was, with no reference left over */
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(json_array_get(json_object_get(doc, "nodes"), 0), "config"),
                                         "headers"),
                         "Cookie")),
                     "c");
    cr_assert_eq(doc->refcount, 1);
    cr_assert_eq(json_object_get(doc, "edges")->refcount, 1);
    cr_assert_eq(json_array_get(json_object_get(doc, "nodes"), 1)->refcount, 1);
    json_decref(doc);
}
