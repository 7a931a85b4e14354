/* symbia.core.accumulator: emits arrays of batchSize values; with flushMs a
 * partial batch is flushed after that much quiet (a timer effect re-armed by
 * each message); a partial batch is also flushed when the execution
 * completes or stops gracefully. */
#include "components/builtins.h"

static const weir_port_def inputs[] = {{"in", "values to batch", NULL}};
static const weir_port_def outputs[] = {{"out", "arrays of up to batchSize values", NULL}};
static const weir_config_def config[] = {
    {.key = "batchSize", .type = WEIR_CFG_INTEGER, .default_json = "10", .description = "values per batch",
     .has_min = true, .min = 1},
    {.key = "flushMs", .type = WEIR_CFG_INTEGER,
     .description = "flush a partial batch after this many ms without a new value (default: never)", .has_min = true,
     .min = 1},
};

typedef struct acc_state {
    json_t *batch;
    uint64_t timer; /* pending flush timer, 0 if none */
} acc_state;

static json_int_t cfg_int(weir_ctx *ctx, const char *key) {
    return (json_int_t)json_number_value(json_object_get(weir_ctx_config(ctx), key));
}

static int flush(weir_ctx *ctx, acc_state *st) {
    if (st->timer) {
        weir_effect_cancel(ctx, st->timer);
        st->timer = 0;
    }
    if (!st->batch || json_array_size(st->batch) == 0) return 0;
    json_t *b = st->batch;
    st->batch = NULL;
    return weir_emit_new(ctx, 0, b);
}

static int process(weir_ctx *ctx, unsigned port, json_t *value) {
    (void)port;
    acc_state *st = weir_ctx_state(ctx);
    if (!st->batch && !(st->batch = json_array())) return WEIR_ENOMEM;
    if (json_array_append(st->batch, value)) return WEIR_ENOMEM;
    if ((json_int_t)json_array_size(st->batch) >= cfg_int(ctx, "batchSize")) return flush(ctx, st);
    json_int_t quiet = cfg_int(ctx, "flushMs");
    if (quiet <= 0) return 0;
    if (st->timer) weir_effect_cancel(ctx, st->timer);
    st->timer = 0;
    return weir_effect_request(ctx, WEIR_EFFECT_TIMER, json_pack("{s:I}", "delayMs", quiet), NULL, &st->timer);
}

static int resume(weir_ctx *ctx, const weir_effect_result *res, json_t *cont) {
    (void)res;
    (void)cont;
    acc_state *st = weir_ctx_state(ctx);
    st->timer = 0; /* this was the pending timer: cancelled ones never resolve */
    return flush(ctx, st);
}

static int drain(weir_ctx *ctx) { return flush(ctx, weir_ctx_state(ctx)); }

static void cleanup(weir_ctx *ctx) {
    acc_state *st = weir_ctx_state(ctx);
    json_decref(st->batch);
    st->batch = NULL;
}

/* {buffer: [values of the partial batch]} */
static json_t *state(weir_ctx *ctx) {
    acc_state *st = weir_ctx_state(ctx);
    return json_pack("{s:o}", "buffer", st->batch ? json_copy(st->batch) : json_array());
}

/* Snapshots: the partial batch and the pending flush timer. */
static json_t *save(weir_ctx *ctx) {
    acc_state *st = weir_ctx_state(ctx);
    return json_pack("{s:O?,s:I}", "batch", st->batch, "timer", (json_int_t)st->timer);
}

static int load(weir_ctx *ctx, json_t *saved) {
    acc_state *st = weir_ctx_state(ctx);
    json_t *batch = json_object_get(saved, "batch"), *timer = json_object_get(saved, "timer");
    if (!json_is_integer(timer) || (batch && !json_is_array(batch) && !json_is_null(batch))) return WEIR_EINVAL;
    if (json_is_array(batch) && !(st->batch = json_copy(batch))) return WEIR_ENOMEM;
    st->timer = (uint64_t)json_integer_value(timer);
    return 0;
}

const weir_component weir__accumulator = {
    .id = "symbia.core.accumulator",
    .name = "Accumulator",
    .version = "1.0.0",
    .category = "core",
    .description = "Collects values into arrays of batchSize; flushMs flushes a partial batch after that much "
                   "quiet; a partial batch is flushed when the execution completes or stops gracefully.",
    .inputs = WEIR_PORTS(inputs),
    .outputs = WEIR_PORTS(outputs),
    .config = WEIR_PORTS(config),
    .state_size = sizeof(acc_state),
    .process = process,
    .resume = resume,
    .drain = drain,
    .cleanup = cleanup,
    .state = state,
    .save = save,
    .load = load,
};
