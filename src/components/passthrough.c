/* symbia.core.passthrough: forwards every message unchanged. */
#include "components/builtins.h"

static const weir_port_def inputs[] = {{"in", "any value", NULL}};
static const weir_port_def outputs[] = {{"out", "the same value", NULL}};

static int process(weir_ctx *ctx, unsigned port, json_t *value) {
    (void)port;
    return weir_emit(ctx, 0, value);
}

const weir_component weir__passthrough = {
    .id = "symbia.core.passthrough",
    .name = "Passthrough",
    .version = "1.0.0",
    .category = "core",
    .description = "Forwards every message unchanged.",
    .inputs = WEIR_PORTS(inputs),
    .outputs = WEIR_PORTS(outputs),
    .process = process,
};
