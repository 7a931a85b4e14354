/* symbia.io.http-response: the answer to the webhook request whose inject
 * the value descends from (src/service/hooks.c; lineage:
 * weir_exec_current_inject).  Pure like every built-in: it emits
 * {status, headers, body: the value} on `out`, and `weir serve` sends that
 * to the waiting request (a tap on `out`).  Replayed, or reached by an
 * inject that no request waits on, it only emits. */
#include <string.h>
#include <strings.h>

#include "components/builtins.h"
#include "core/error.h"

static const weir_port_def inputs[] = {{"in", "the body of the answer (sent as JSON)", NULL}};
static const weir_port_def outputs[] = {{"out", "{status, headers, body}: the answer as sent", NULL}};
static const weir_config_def config[] = {
    {.key = "status", .type = WEIR_CFG_INTEGER, .default_json = "200", .has_min = true, .min = 200,
     .description = "HTTP status of the answer (200..599)"},
    {.key = "headers", .type = WEIR_CFG_OBJECT, .default_json = "{}",
     .description = "header name → string value; Content-Type (default application/json) may be set: a string "
                    "value is then sent as its text unless the type is JSON"},
};

/* At most this many headers: each is written into every answer. */
#define MAX_HEADERS 32
#define MAX_HEADER_VALUE 8192

static bool token(const char *s) {
    if (!*s) return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", c)) return false;
    }
    return true;
}

static int prepare(const weir_node_info *node, json_t *cfg, void **prepared, weir_error *err) {
    (void)node;
    *prepared = NULL;
    json_int_t status = json_integer_value(json_object_get(cfg, "status"));
    if (status > 599)
        return weir__error(err, WEIR_EGRAPH, "\"status\" must be an HTTP status from 200 to 599 (got %lld)",
                           (long long)status);
    json_t *headers = json_object_get(cfg, "headers");
    if (json_object_size(headers) > MAX_HEADERS)
        return weir__error(err, WEIR_EGRAPH, "\"headers\" may hold at most %d headers (got %zu)", MAX_HEADERS,
                           json_object_size(headers));
    static const char *const reserved[] = {"content-length", "transfer-encoding", "connection", "date", "keep-alive",
                                           "upgrade", "trailer", "vary"};
    const char *name;
    json_t *v;
    json_object_foreach(headers, name, v) {
        if (!token(name))
            return weir__error(err, WEIR_EGRAPH, "header name \"%.64s\" in \"headers\" is not a valid HTTP token",
                               name);
        for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
            if (strcasecmp(name, reserved[i]) == 0)
                return weir__error(err, WEIR_EGRAPH,
                                   "header \"%s\" in \"headers\" is set by the server; remove it", name);
        if (strncasecmp(name, "access-control-", 15) == 0)
            return weir__error(err, WEIR_EGRAPH,
                               "header \"%s\" in \"headers\": CORS headers are the server's (set CORS_ORIGINS)", name);
        const char *s = json_string_value(v);
        if (!s)
            return weir__error(err, WEIR_EGRAPH, "header \"%s\" in \"headers\" must be a string", name);
        if (strlen(s) > MAX_HEADER_VALUE)
            return weir__error(err, WEIR_EGRAPH, "header \"%s\" in \"headers\" is longer than %d bytes", name,
                               MAX_HEADER_VALUE);
        for (const char *p = s; *p; p++)
            if ((unsigned char)*p < ' ' && *p != '\t')
                return weir__error(err, WEIR_EGRAPH,
                                   "header \"%s\" in \"headers\" may not contain control characters (line breaks)",
                                   name);
    }
    return 0;
}

static int process(weir_ctx *ctx, unsigned port, json_t *value) {
    (void)port;
    json_t *cfg = weir_ctx_config(ctx);
    return weir_emit_new(ctx, 0,
                         json_pack("{s:O?,s:O?,s:O}", "status", json_object_get(cfg, "status"), "headers",
                                   json_object_get(cfg, "headers"), "body", value));
}

const weir_component weir__http_response = {
    .id = "symbia.io.http-response",
    .name = "HTTP response",
    .version = "1.0.0",
    .category = "io",
    .description = "Answers the webhook request (symbia.io.http-in) that the value descends from: the value is the "
                   "body (JSON), with status and headers; emits {status, headers, body} on out.",
    .inputs = WEIR_PORTS(inputs),
    .outputs = WEIR_PORTS(outputs),
    .config = WEIR_PORTS(config),
    .prepare = prepare,
    .process = process,
};
