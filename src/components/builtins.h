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

#define WEIR_PORTS(a) (a), (sizeof(a) / sizeof *(a))

/* Free a prepared compiled expression (a weir_expr *). */
void weir__release_expr(void *prepared);

#endif
