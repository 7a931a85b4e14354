/* The built-in component descriptors (SPEC §2.1), one per file. */
#ifndef WEIR_COMPONENTS_BUILTINS_H
#define WEIR_COMPONENTS_BUILTINS_H
#include "weir/weir.h"

extern const weir_component weir__passthrough;
extern const weir_component weir__logger;
extern const weir_component weir__delay;
extern const weir_component weir__filter;
extern const weir_component weir__map;
extern const weir_component weir__split;
extern const weir_component weir__merge;
extern const weir_component weir__accumulator;
extern const weir_component weir__http_request;
extern const weir_component weir__json_transform;
extern const weir_component weir__state_once;
extern const weir_component weir__interval;
extern const weir_component weir__cron;
extern const weir_component weir__http_in;
extern const weir_component weir__http_response;

#define WEIR_PORTS(a) (a), (sizeof(a) / sizeof *(a))

/* Free a prepared compiled expression (a weir_expr *). */
void weir__release_expr(void *prepared);
/* prepare: compile config[key] (already checked to be a string) as the
 * node's prepared expression, with the node's graph's expression budget. */
int weir__prepare_expr(const weir_node_info *node, json_t *cfg, const char *key, void **prepared, weir_error *err);
/* An expression or template failed (rc) while processing value: WEIR_ENOMEM
 * is returned as is; any other failure is emitted on the error port as
 * {error: "<what>message", value}. */
int weir__expr_failed(weir_ctx *ctx, int rc, json_t *value, const char *what, const weir_error *err);

#endif
