#include "components/builtins.h"

#include "core/expr.h"

static const weir_component *const builtins[] = {
    &weir__passthrough, &weir__logger, &weir__delay, &weir__filter, &weir__map, &weir__split,
    &weir__merge, &weir__accumulator, &weir__http_request, &weir__json_transform,
    &weir__state_once, &weir__interval, &weir__cron, &weir__http_in, &weir__http_response, NULL,
};

const weir_component *const *weir_builtin_components(void) { return builtins; }

void weir__release_expr(void *prepared) { weir__expr_free(prepared); }

int weir__prepare_expr(const weir_node_info *node, json_t *cfg, const char *key, void **prepared, weir_error *err) {
    return weir__expr_compile_with(json_string_value(json_object_get(cfg, key)), &node->expr, (weir_expr **)prepared,
                                   err);
}

int weir__expr_failed(weir_ctx *ctx, int rc, json_t *value, const char *what, const weir_error *err) {
    if (rc == WEIR_ENOMEM) return rc;
    json_t *details = json_pack("{s:O}", "value", value);
    if (!details) return WEIR_ENOMEM;
    rc = weir_emit_error(ctx, details, "%s%s", what, err->message);
    json_decref(details);
    return rc;
}
