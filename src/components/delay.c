/* symbia.core.delay: forwards each message after delayMs, through a timer
 * effect, so other messages are never blocked. */
#include "components/builtins.h"

static const weir_port_def inputs[] = {{"in", "any value", NULL}};
static const weir_port_def outputs[] = {{"out", "the same value, later", NULL}};
static const weir_config_def config[] = {
    {.key = "delayMs", .type = WEIR_CFG_INTEGER, .default_json = "1000", .alias = "ms",
     .description = "delay in milliseconds", .has_min = true, .min = 0},
};

static int process(weir_ctx *ctx, unsigned port, json_t *value) {
    (void)port;
    json_int_t ms = json_integer_value(json_object_get(weir_ctx_config(ctx), "delayMs"));
    if (!ms) ms = (json_int_t)json_number_value(json_object_get(weir_ctx_config(ctx), "delayMs"));
    return weir_effect_request(ctx, WEIR_EFFECT_TIMER, json_pack("{s:I}", "delayMs", ms), json_incref(value), NULL);
}

static int resume(weir_ctx *ctx, const weir_effect_result *res, json_t *value) {
    if (!res->ok) return weir_emit_error(ctx, NULL, "delay timer failed: %s", res->error);
    return weir_emit(ctx, 0, value);
}

/* {pending: messages waiting for their timer} */
static json_t *state(weir_ctx *ctx) {
    return json_pack("{s:I}", "pending", (json_int_t)weir_ctx_pending_effects(ctx));
}

const weir_component weir__delay = {
    .id = "symbia.core.delay",
    .name = "Delay",
    .version = "1.0.0",
    .category = "core",
    .description = "Forwards each message after delayMs milliseconds, through a timer effect: never blocks other "
                   "messages.",
    .inputs = WEIR_PORTS(inputs),
    .outputs = WEIR_PORTS(outputs),
    .config = WEIR_PORTS(config),
    .process = process,
    .resume = resume,
    .state = state,
};
