/* symbia.io.http-in: where `weir serve` delivers an external HTTP request
 * (a webhook) to a graph: served at /hooks/<graph name><path> for `method`
 * (src/service/hooks.c).  Each request is an ordinary inject into this
 * node's input, journaled like any other (SPEC §4.3, §7.1), so replay and
 * time travel cross it; the node forwards the value on `out`.  The value is
 * the request's parsed JSON body (null when it has none), or with `raw`
 * {method, path, query, headers, body: the body's text}.  An answer comes
 * from the symbia.io.http-response node that value reaches, or 504 after
 * timeoutMs.  The node is an open input source (WEIR_COMPONENT_SOURCE): its
 * graph's executions do not complete by themselves unless told to. */
#include <string.h>

#include "components/builtins.h"
#include "core/error.h"

static const weir_port_def inputs[] = {
    {"in", "the request: its parsed JSON body, or with raw {method, path, query, headers, body}", NULL}};
static const weir_port_def outputs[] = {{"out", "the same value", NULL}};
static const char *const methods[] = {"POST", "GET", "PUT", "PATCH", "DELETE", NULL};
static const weir_config_def config[] = {
    {.key = "method", .type = WEIR_CFG_STRING, .default_json = "\"POST\"", .enum_values = methods,
     .description = "the HTTP method served"},
    {.key = "path", .type = WEIR_CFG_STRING, .required = true,
     .description = "the path under /hooks/<graph name>, e.g. /orders (matched exactly; \"/\" also serves "
                    "/hooks/<graph name>)"},
    {.key = "raw", .type = WEIR_CFG_BOOLEAN, .default_json = "false",
     .description = "true: the value is {method, path, query, headers, body: the body's text} instead of the "
                    "parsed body"},
    {.key = "timeoutMs", .type = WEIR_CFG_INTEGER, .default_json = "30000", .has_min = true, .min = 1,
     .description = "504 when no http-response node answered by then (at most WEIR_HTTP_IN_MAX_TIMEOUT_MS, "
                    "600000)"},
};

#define PATH_MAX_LEN 1024

static int prepare(const weir_node_info *node, json_t *cfg, void **prepared, weir_error *err) {
    (void)node;
    *prepared = NULL;
    const char *path = json_string_value(json_object_get(cfg, "path"));
    size_t n = strlen(path);
    if (path[0] != '/' || n > PATH_MAX_LEN)
        return weir__error(err, WEIR_EGRAPH,
                           "\"path\" must start with / and be at most %d characters, e.g. \"/orders\" (got \"%.64s\")",
                           PATH_MAX_LEN, path);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c <= ' ' || c == 0x7f || c == '?' || c == '#' || c == '%')
            return weir__error(err, WEIR_EGRAPH,
                               "\"path\" may not contain spaces, control characters, '?', '#' or '%%' (the query "
                               "string reaches raw mode's value as `query`); got \"%.64s\"",
                               path);
    }
    json_int_t ms = json_integer_value(json_object_get(cfg, "timeoutMs"));
    if (ms > WEIR_HTTP_IN_MAX_TIMEOUT_MS)
        return weir__error(err, WEIR_EGRAPH, "\"timeoutMs\" must be at most %d (WEIR_HTTP_IN_MAX_TIMEOUT_MS); got %lld",
                           WEIR_HTTP_IN_MAX_TIMEOUT_MS, (long long)ms);
    return 0;
}

static int process(weir_ctx *ctx, unsigned port, json_t *value) {
    (void)port;
    return weir_emit(ctx, 0, value);
}

const weir_component weir__http_in = {
    .id = "symbia.io.http-in",
    .name = "HTTP in",
    .version = "1.0.0",
    .category = "io",
    .description = "A webhook: weir serve delivers each request to /hooks/<graph name><path> as an inject here; "
                   "the answer comes from the http-response node its value reaches (504 after timeoutMs).",
    .inputs = WEIR_PORTS(inputs),
    .outputs = WEIR_PORTS(outputs),
    .flags = WEIR_COMPONENT_SOURCE,
    .config = WEIR_PORTS(config),
    .prepare = prepare,
    .process = process,
};
