/* symbia.core.logger: writes prefix + value to the execution log, forwards. */
#include <string.h>

#include "components/builtins.h"
#include "core/alloc.h"

static const weir_port_def inputs[] = {{"in", "any value", NULL}};
static const weir_port_def outputs[] = {{"out", "the same value", NULL}};
static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
static const weir_config_def config[] = {
    {.key = "level", .type = WEIR_CFG_STRING, .default_json = "\"info\"", .enum_values = levels,
     .description = "log level"},
    {.key = "prefix", .type = WEIR_CFG_STRING, .default_json = "\"\"", .description = "text written before the value"},
};

typedef struct logger_prep {
    weir_log_level level;
    char *prefix;
} logger_prep;

static int prepare(const weir_node_info *node, json_t *cfg, void **prepared, weir_error *err) {
    (void)node;
    (void)err;
    logger_prep *p = weir__calloc(1, sizeof *p);
    if (!p) return WEIR_ENOMEM;
    weir_log_level_parse(json_string_value(json_object_get(cfg, "level")), &p->level);
    if (!(p->prefix = weir__strdup(json_string_value(json_object_get(cfg, "prefix"))))) {
        weir__free(p);
        return WEIR_ENOMEM;
    }
    *prepared = p;
    return 0;
}

static void release(void *prepared) {
    logger_prep *p = prepared;
    if (!p) return;
    weir__free(p->prefix);
    weir__free(p);
}

static int process(weir_ctx *ctx, unsigned port, json_t *value) {
    (void)port;
    const logger_prep *p = weir_ctx_prepared(ctx);
    if (json_is_string(value)) {
        weir_log(ctx, p->level, NULL, "%s%s", p->prefix, json_string_value(value));
    } else {
        char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
        if (!text) return WEIR_ENOMEM;
        weir_log(ctx, p->level, NULL, "%s%s", p->prefix, text);
        weir__free(text);
    }
    return weir_emit(ctx, 0, value);
}

const weir_component weir__logger = {
    .id = "symbia.core.logger",
    .name = "Logger",
    .version = "1.0.0",
    .category = "core",
    .description = "Writes prefix + value to the execution log (a log event and the server log) and forwards the "
                   "value unchanged.",
    .inputs = WEIR_PORTS(inputs),
    .outputs = WEIR_PORTS(outputs),
    .config = WEIR_PORTS(config),
    .prepare = prepare,
    .release = release,
    .process = process,
};
