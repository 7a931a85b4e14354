/* Redaction of secrets in node config (server/redact.c, SPEC §10). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "core/secret_name.h"
#include "service/redact.h"

static json_t *parse(const char *text) {
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    cr_assert_not_null(j, "%s: %s", text, e.text);
    return j;
}

/* The rule of core/secret_name.h: normalised (no '-' or '_', lower case)
 * it contains token, secret, password, passwd, authorization or apikey, or
 * ends in cookie, or ends in the word key (whole, after '-'/'_', camelCase). */
Test(redact, secret_names_case_insensitive) {
    const char *secret[] = {"authorization", "Authorization", "PROXY-AUTHORIZATION", "X-Authorization",
                            "x_authorization", "cookie", "Set-Cookie", "sessionCookie", "x-api-key", "X-Api-Key",
                            "X-API-KEY", "api_key", "apiKey", "APIKEY", "Api-Key", "x-auth-token", "token",
                            "accessToken", "refresh_token", "client_secret", "clientSecret", "Secret", "password",
                            "db-Password", "passwd", "accessKey", "privateKey", "private_key", "PRIVATE_KEY",
                            "secretKey", "key", "Key", "aws2Key", "X-Secret-Key", "signing-key", "tokens"};
    for (size_t i = 0; i < sizeof secret / sizeof *secret; i++)
        cr_assert(weir__is_secret_name(secret[i]), "%s should be secret", secret[i]);
    const char *open[] = {"content-type", "accept", "user-agent", "keyboard", "monkey", "MONKEY", "hotkey",
                          "turkey", "keyExpression", "keys", "x-request-id", "url", "method",
                          "cookies-enabled-note", "", "key-id", "keyId", "authorizer", "author", "passage"};
    for (size_t i = 0; i < sizeof open / sizeof *open; i++)
        cr_assert_not(weir__is_secret_name(open[i]), "%s should not be secret", open[i]);
    cr_assert_not(weir__is_secret_name(NULL));
    /* a long name is normalised whole */
    char longname[600];
    memset(longname, 'a', sizeof longname);
    memcpy(longname + 590, "_tok-en", 8);
    cr_assert(weir__is_secret_name(longname));
}

/* A secret name holding an object or array hides all of it; null and
 * booleans under one stay (they carry no secret). */
Test(redact, a_secret_name_hides_its_whole_value) {
    json_t *doc = parse("{\"nodes\":[{\"id\":\"u\",\"component\":\"acme.thing\",\"config\":{"
                        "\"tokens\":[\"s3cr3t\"],\"clientSecret\":{\"v\":\"cs-1\"},\"accessKey\":\"ak-1\","
                        "\"useToken\":true,\"password\":null,\"keyExpression\":\"value.k\"}}]}");
    json_t *r = weir_redact_graph(doc);
    cr_assert_not_null(r);
    json_t *cfg = json_object_get(json_array_get(json_object_get(r, "nodes"), 0), "config");
    cr_assert_str_eq(json_string_value(json_object_get(cfg, "tokens")), WEIR_REDACTED);
    cr_assert_str_eq(json_string_value(json_object_get(cfg, "clientSecret")), WEIR_REDACTED);
    cr_assert_str_eq(json_string_value(json_object_get(cfg, "accessKey")), WEIR_REDACTED);
    cr_assert(json_is_true(json_object_get(cfg, "useToken")));
    cr_assert(json_is_null(json_object_get(cfg, "password")));
    cr_assert_str_eq(json_string_value(json_object_get(cfg, "keyExpression")), "value.k");
    char *text = json_dumps(r, 0);
    cr_assert_null(strstr(text, "s3cr3t"), "%s", text);
    cr_assert_null(strstr(text, "cs-1"), "%s", text);
    free(text);
    json_decref(r);
    json_decref(doc);
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
    /* a secret name holding an object is hidden whole */
    cr_assert_str_eq(json_string_value(json_object_get(u, "tokens")), WEIR_REDACTED);
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
