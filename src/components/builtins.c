#include "components/builtins.h"

#include "core/expr.h"

static const weir_component *const builtins[] = {
    &weir__passthrough, &weir__logger, &weir__delay, &weir__filter, &weir__map, &weir__split,
    &weir__merge, &weir__accumulator, &weir__http_request, &weir__json_transform, NULL,
};

const weir_component *const *weir_builtin_components(void) { return builtins; }

void weir__release_expr(void *prepared) { weir__expr_free(prepared); }
