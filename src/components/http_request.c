/* symbia.io.http-request: an http effect per message.  url, header values
 * and a string body may use {{expression}} templates over value.  out gets
 * {status, headers, body} (body parsed when it is JSON); error gets network
 * failures, timeouts and refused addresses (the shell's egress guard). */
#include <string.h>
#include <strings.h>

#include "components/builtins.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/expr.h"
#include "core/secret_name.h"

enum { OUT, ERROR };
static const weir_port_def inputs[] = {{"in", "the value templates see", NULL}};
static const weir_port_def outputs[] = {{"out", "{status, headers, body} for any HTTP status", NULL},
                                        {"error", "{error, url, method} on network failure, timeout or refusal", NULL}};
static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", NULL};
static const weir_config_def config[] = {
    {.key = "method", .type = WEIR_CFG_STRING, .default_json = "\"GET\"", .enum_values = methods,
     .description = "HTTP method"},
    {.key = "url", .type = WEIR_CFG_STRING, .required = true,
     .description = "http(s) URL; may use {{expression}} templates, e.g. https://api.example.com/items/{{value.id}}"},
    {.key = "headers", .type = WEIR_CFG_OBJECT, .description = "header name → value (values may use templates)"},
    {.key = "body", .type = WEIR_CFG_ANY,
     .description = "request body: a template string, or any JSON sent as is (default: the input value for "
                    "POST/PUT/PATCH)"},
    {.key = "timeoutMs", .type = WEIR_CFG_INTEGER, .default_json = "10000", .description = "request timeout",
     .has_min = true, .min = 1},
};

typedef struct http_prep {
    weir_tmpl *url;
    size_t n_headers;
    char **header_names;
    weir_tmpl **header_values;
    weir_tmpl *body; /* when the body is a string */
    bool body_default; /* no body configured: send the input for POST/PUT/PATCH */
} http_prep;

static void release(void *prepared) {
    http_prep *p = prepared;
    if (!p) return;
    weir__tmpl_free(p->url);
    for (size_t i = 0; i < p->n_headers; i++) {
        weir__free(p->header_names[i]);
        weir__tmpl_free(p->header_values[i]);
    }
    weir__free(p->header_names);
    weir__free(p->header_values);
    weir__tmpl_free(p->body);
    weir__free(p);
}

/* Compile src; an error names `what` and quotes the template unless it is
 * `secret` (a secret-named header's value, never echoed: SPEC §10). */
static int compile(const weir_node_info *node, const char *what, const char *src, bool secret, weir_tmpl **out,
                   weir_error *err) {
    int rc = weir__tmpl_compile_with(src, &node->expr, out, err);
    if (rc == WEIR_EEXPR) {
        char inner[WEIR_ERROR_MAX];
        memcpy(inner, err->message, sizeof inner);
        if (secret)
            return weir__error(err, WEIR_EGRAPH, "template in %s does not compile (not shown: a secret header)",
                               what);
        return weir__error(err, WEIR_EGRAPH, "template in %s does not compile: %s (template: %s)", what, inner, src);
    }
    return rc;
}

static int prepare(const weir_node_info *node, json_t *cfg, void **prepared, weir_error *err) {
    http_prep *p = weir__calloc(1, sizeof *p);
    if (!p) return WEIR_ENOMEM;
    *prepared = p;
    const char *url = json_string_value(json_object_get(cfg, "url"));
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0 && strncmp(url, "{{", 2) != 0)
        return weir__error(err, WEIR_EGRAPH, "\"url\" must start with http:// or https:// (got \"%s\")", url);
    int rc = compile(node, "url", url, false, &p->url, err);
    if (rc) return rc;
    json_t *headers = json_object_get(cfg, "headers");
    size_t n = json_object_size(headers);
    if (n) {
        p->header_names = weir__calloc(n, sizeof *p->header_names);
        p->header_values = weir__calloc(n, sizeof *p->header_values);
        if (!p->header_names || !p->header_values) return WEIR_ENOMEM;
        const char *k;
        json_t *v;
        json_object_foreach(headers, k, v) {
            if (!json_is_string(v))
                return weir__error(err, WEIR_EGRAPH, "header \"%s\" must be a string (templates allowed)", k);
            if (!(p->header_names[p->n_headers] = weir__strdup(k))) return WEIR_ENOMEM;
            p->n_headers++;
            char what[300];
            snprintf(what, sizeof what, "header \"%s\"", k);
            if ((rc = compile(node, what, json_string_value(v), weir__is_secret_name(k),
                              &p->header_values[p->n_headers - 1], err)))
                return rc;
        }
    }
    json_t *body = json_object_get(cfg, "body");
    p->body_default = body == NULL;
    if (json_is_string(body) && (rc = compile(node, "body", json_string_value(body), false, &p->body, err))) return rc;
    return 0;
}

static bool has_header(const json_t *headers, const char *name) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)headers, k, v) if (strcasecmp(k, name) == 0) return true;
    return false;
}

static int process(weir_ctx *ctx, unsigned port, json_t *value) {
    const http_prep *p = weir_ctx_prepared(ctx);
    json_t *cfg = weir_ctx_config(ctx);
    const char *method = json_string_value(json_object_get(cfg, "method"));
    weir_expr_env env = {value, cfg, weir_ctx_input_name(ctx, port)};
    weir_error err;
    json_t *url = NULL, *headers = json_object(), *body = NULL;
    int rc = 0;
    if (!headers) return WEIR_ENOMEM;
    if ((rc = weir__tmpl_render(p->url, &env, &url, &err))) {
        json_decref(headers);
        return weir__expr_failed(ctx, rc, value, "url template failed: ", &err);
    }
    for (size_t i = 0; i < p->n_headers; i++) {
        json_t *hv = NULL;
        if ((rc = weir__tmpl_render(p->header_values[i], &env, &hv, &err))) {
            json_decref(url);
            json_decref(headers);
            return weir__expr_failed(ctx, rc, value, "header template failed: ", &err);
        }
        json_object_set_new(headers, p->header_names[i], hv);
    }
    bool with_body = strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;
    json_t *raw = NULL; /* the body as a value, before encoding */
    if (p->body) {
        if ((rc = weir__tmpl_render_value(p->body, &env, &raw, &err))) {
            json_decref(url);
            json_decref(headers);
            return weir__expr_failed(ctx, rc, value, "body template failed: ", &err);
        }
    } else if (!p->body_default) {
        raw = json_incref(json_object_get(cfg, "body"));
    } else if (with_body) {
        raw = json_incref(value);
    }
    if (raw) {
        if (json_is_string(raw)) {
            body = json_incref(raw);
            if (!has_header(headers, "content-type"))
                json_object_set_new(headers, "content-type", json_string("text/plain; charset=utf-8"));
        } else {
            char *text = json_dumps(raw, JSON_ENCODE_ANY | JSON_COMPACT);
            body = text ? json_string(text) : NULL;
            weir__free(text);
            if (!has_header(headers, "content-type"))
                json_object_set_new(headers, "content-type", json_string("application/json"));
        }
        json_decref(raw);
        if (!body) {
            json_decref(url);
            json_decref(headers);
            return WEIR_ENOMEM;
        }
    }
    json_t *payload = json_pack("{s:s,s:o,s:o,s:I}", "method", method, "url", url, "headers", headers, "timeoutMs",
                                (json_int_t)json_number_value(json_object_get(cfg, "timeoutMs")));
    if (payload && body) json_object_set_new(payload, "body", body);
    else json_decref(body);
    json_t *cont = json_pack("{s:s,s:O}", "method", method, "url", json_object_get(payload, "url"));
    return weir_effect_request(ctx, WEIR_EFFECT_HTTP, payload, cont, NULL);
}

/* Parse the body when the response says it is JSON (or says nothing and it
 * parses); otherwise keep the text. */
static json_t *parse_body(json_t *headers, json_t *body) {
    if (!json_is_string(body)) return json_incref(body ? body : json_null());
    const char *ct = NULL;
    const char *k;
    json_t *v;
    json_object_foreach(headers, k, v) if (strcasecmp(k, "content-type") == 0) ct = json_string_value(v);
    bool jsonish = !ct || strstr(ct, "json") != NULL;
    if (jsonish) {
        json_t *parsed = json_loadb(json_string_value(body), json_string_length(body), JSON_DECODE_ANY, NULL);
        if (parsed) return parsed;
    }
    return json_incref(body);
}

static int resume(weir_ctx *ctx, const weir_effect_result *res, json_t *cont) {
    if (!res->ok) return weir_emit_error(ctx, cont, "%s", res->error ? res->error : "request failed");
    json_t *headers = json_object_get(res->value, "headers");
    json_t *out = json_pack("{s:O?,s:o,s:o}", "status", json_object_get(res->value, "status"), "headers",
                            headers ? json_incref(headers) : json_object(), "body",
                            parse_body(headers, json_object_get(res->value, "body")));
    return weir_emit_new(ctx, OUT, out);
}

/* {pending: requests in flight} */
static json_t *state(weir_ctx *ctx) {
    return json_pack("{s:I}", "pending", (json_int_t)weir_ctx_pending_effects(ctx));
}

const weir_component weir__http_request = {
    .id = "symbia.io.http-request",
    .name = "HTTP request",
    .version = "1.0.0",
    .category = "io",
    .description = "Performs an HTTP request per message through an http effect; out gets {status, headers, body} "
                   "(body parsed when it is JSON), error gets network failures, timeouts and refused addresses.",
    .inputs = WEIR_PORTS(inputs),
    .outputs = WEIR_PORTS(outputs),
    .config = WEIR_PORTS(config),
    .prepare = prepare,
    .release = release,
    .process = process,
    .resume = resume,
    .state = state,
};
