/* symbia.core.map: emits the expression's result. */
#include "components/builtins.h"
#include "core/expr.h"

enum { OUT, ERROR };
static const weir_port_def inputs[] = {{"in", "any value", NULL}};
static const weir_port_def outputs[] = {{"out", "the expression's result (undefined becomes null)", NULL},
                                        {"error", "{error, value} when the expression throws", NULL}};
static const weir_config_def config[] = {
    {.key = "expression", .type = WEIR_CFG_EXPRESSION, .required = true, .alias = "transform",
     .description = "expression over value, e.g. value * 2 or ({ id: value.id, total: value.a + value.b })"},
};

static int prepare(const weir_node_info *node, json_t *cfg, void **prepared, weir_error *err) {
    return weir__prepare_expr(node, cfg, "expression", prepared, err);
}

static int process(weir_ctx *ctx, unsigned port, json_t *value) {
    weir_expr_env env = {value, weir_ctx_config(ctx), weir_ctx_input_name(ctx, port)};
    weir_error err;
    json_t *out = NULL;
    int rc = weir__expr_eval(weir_ctx_prepared(ctx), &env, &out, &err);
    if (rc) return weir__expr_failed(ctx, rc, value, "", &err);
    return weir_emit_new(ctx, OUT, out ? out : json_null());
}

const weir_component weir__map = {
    .id = "symbia.core.map",
    .name = "Map",
    .version = "1.0.0",
    .category = "core",
    .description = "Emits the result of an expression over each value.",
    .inputs = WEIR_PORTS(inputs),
    .outputs = WEIR_PORTS(outputs),
    .config = WEIR_PORTS(config),
    .prepare = prepare,
    .release = weir__release_expr,
    .process = process,
};
