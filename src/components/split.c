/* symbia.core.split: routes by `condition` (true/false), or by `cases`
 * [{port, condition}] where the first match wins, else the `default` port. */
#include <string.h>

#include "components/builtins.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/expr.h"

enum { TRUE_PORT, FALSE_PORT, ERROR };
static const weir_port_def inputs[] = {{"in", "any value", NULL}};
static const weir_port_def outputs[] = {{"true", "condition truthy", NULL},
                                        {"false", "condition falsy", NULL},
                                        {"error", "{error, value} when a condition throws", NULL}};
static const weir_config_def config[] = {
    {.key = "condition", .type = WEIR_CFG_EXPRESSION, .description = "expression: truthy → true, falsy → false"},
    {.key = "cases", .type = WEIR_CFG_ARRAY,
     .description = "[{port, condition}]: the first truthy condition routes to its port"},
    {.key = "default", .type = WEIR_CFG_STRING, .default_json = "\"default\"",
     .description = "port for values no case matches (with cases)"},
};

typedef struct split_case {
    char *port;
    weir_expr *cond;
} split_case;

typedef struct split_prep {
    weir_expr *cond; /* condition mode */
    split_case *cases;
    size_t n_cases;
    char *dflt;
} split_prep;

static void release(void *prepared) {
    split_prep *p = prepared;
    if (!p) return;
    weir__expr_free(p->cond);
    for (size_t i = 0; i < p->n_cases; i++) {
        weir__free(p->cases[i].port);
        weir__expr_free(p->cases[i].cond);
    }
    weir__free(p->cases);
    weir__free(p->dflt);
    weir__free(p);
}

static int prepare(const weir_node_info *node, json_t *cfg, void **prepared, weir_error *err) {
    json_t *cond = json_object_get(cfg, "condition"), *cases = json_object_get(cfg, "cases");
    if (!cond == !cases)
        return weir__error(err, WEIR_EGRAPH,
                           "set either \"condition\" (routes to true/false) or \"cases\": [{\"port\", \"condition\"}]"
                           "%s",
                           cond ? ", not both" : "");
    split_prep *p = weir__calloc(1, sizeof *p);
    if (!p) return WEIR_ENOMEM;
    *prepared = p;
    if (cond) return weir__expr_compile_with(json_string_value(cond), &node->expr, &p->cond, err);
    if (!(p->dflt = weir__strdup(json_string_value(json_object_get(cfg, "default"))))) return WEIR_ENOMEM;
    if (strcmp(p->dflt, "error") == 0)
        return weir__error(err, WEIR_EGRAPH, "\"default\": \"error\" is reserved for errors; pick another port");
    size_t n = json_array_size(cases);
    if (n == 0) return weir__error(err, WEIR_EGRAPH, "\"cases\" is empty; give at least one {\"port\", \"condition\"}");
    if (!(p->cases = weir__calloc(n, sizeof *p->cases))) return WEIR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(cases, i);
        const char *port = json_string_value(json_object_get(c, "port"));
        const char *src = json_string_value(json_object_get(c, "condition"));
        if (!port || !port[0] || !src)
            return weir__error(err, WEIR_EGRAPH,
                               "cases[%zu] must be an object {\"port\": name, \"condition\": expression}", i);
        if (strcmp(port, "error") == 0)
            return weir__error(err, WEIR_EGRAPH, "cases[%zu]: \"error\" is reserved for errors; pick another port", i);
        p->n_cases++;
        if (!(p->cases[i].port = weir__strdup(port))) return WEIR_ENOMEM;
        int rc = weir__expr_compile_with(src, &node->expr, &p->cases[i].cond, err);
        if (rc == WEIR_EEXPR) {
            char inner[WEIR_ERROR_MAX];
            memcpy(inner, err->message, sizeof inner);
            return weir__error(err, WEIR_EGRAPH, "cases[%zu] condition does not compile: %s (expression: %s)", i,
                               inner, src);
        }
        if (rc) return rc;
    }
    return 0;
}

static int process(weir_ctx *ctx, unsigned port, json_t *value) {
    const split_prep *p = weir_ctx_prepared(ctx);
    weir_expr_env env = {value, weir_ctx_config(ctx), weir_ctx_input_name(ctx, port)};
    weir_error err;
    bool truth;
    if (p->cond) {
        int rc = weir__expr_truthy(p->cond, &env, &truth, &err);
        if (rc) return weir__expr_failed(ctx, rc, value, "", &err);
        return weir_emit(ctx, truth ? TRUE_PORT : FALSE_PORT, value);
    }
    for (size_t i = 0; i < p->n_cases; i++) {
        int rc = weir__expr_truthy(p->cases[i].cond, &env, &truth, &err);
        if (rc) return weir__expr_failed(ctx, rc, value, "", &err);
        if (truth) return weir_emit_name(ctx, p->cases[i].port, value);
    }
    return weir_emit_name(ctx, p->dflt, value);
}

const weir_component weir__split = {
    .id = "symbia.core.split",
    .name = "Split",
    .version = "1.0.0",
    .category = "core",
    .description = "Routes each value by a condition (to true or false), or by cases [{port, condition}] where the "
                   "first match wins and the rest go to the default port.",
    .inputs = WEIR_PORTS(inputs),
    .outputs = WEIR_PORTS(outputs),
    .flags = WEIR_COMPONENT_DYNAMIC_OUTPUTS,
    .config = WEIR_PORTS(config),
    .prepare = prepare,
    .release = release,
    .process = process,
};
