/* symbia.core.filter: truthy predicate → out, falsy → rejected, throw → error. */
#include "components/builtins.h"
#include "core/expr.h"

enum { OUT, REJECTED, ERROR };
static const weir_port_def inputs[] = {{"in", "any value", NULL}};
static const weir_port_def outputs[] = {{"out", "values for which the predicate is truthy", NULL},
                                        {"rejected", "values for which it is falsy", NULL},
                                        {"error", "{error, value} when the predicate throws", NULL}};
static const weir_config_def config[] = {
    {.key = "predicate", .type = WEIR_CFG_EXPRESSION, .required = true,
     .description = "expression over value, e.g. value.status === 'active'"},
};

static int prepare(const weir_node_info *node, json_t *cfg, void **prepared, weir_error *err) {
    return weir__prepare_expr(node, cfg, "predicate", prepared, err);
}

static int process(weir_ctx *ctx, unsigned port, json_t *value) {
    weir_expr_env env = {value, weir_ctx_config(ctx), weir_ctx_input_name(ctx, port)};
    weir_error err;
    bool truth;
    int rc = weir__expr_truthy(weir_ctx_prepared(ctx), &env, &truth, &err);
    if (rc) return weir__expr_failed(ctx, rc, value, "", &err);
    return weir_emit(ctx, truth ? OUT : REJECTED, value);
}

const weir_component weir__filter = {
    .id = "symbia.core.filter",
    .name = "Filter",
    .version = "1.0.0",
    .category = "core",
    .description = "Routes each value by a predicate expression: truthy to out, falsy to rejected, a thrown error "
                   "to error.",
    .inputs = WEIR_PORTS(inputs),
    .outputs = WEIR_PORTS(outputs),
    .config = WEIR_PORTS(config),
    .prepare = prepare,
    .release = weir__release_expr,
    .process = process,
};
