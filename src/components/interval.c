/* symbia.core.interval: a source with no input that emits every everyMs
 * (count times, or until the execution ends), through timer effects: it
 * runs on `virtual` time like any timer, holds natural completion off
 * while a firing is pending, and comes back after a restart with the time
 * its pending timer had left (see ticker.h for what it emits and how a late
 * timer is handled).  The first firing is everyMs after the start. */
#include "components/ticker.h"
#include "core/error.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static const weir_port_def outputs[] = {{"out", "config.value, or {n, at} (firing number, scheduled time in ms)", NULL}};
static const weir_config_def config[] = {
    {.key = "everyMs", .type = WEIR_CFG_INTEGER, .required = true,
     .description = "milliseconds between firings (the first is everyMs after the start); at least "
                    STR(WEIR_INTERVAL_MIN_MS) " (WEIR_INTERVAL_MIN_MS), at most a year (" STR(WEIR_INTERVAL_MAX_MS) ")",
     .has_min = true, .min = WEIR_INTERVAL_MIN_MS},
    {.key = "count", .type = WEIR_CFG_INTEGER,
     .description = "stop after this many firings (default: fire until the execution ends)", .has_min = true,
     .min = 1},
    {.key = "value", .type = WEIR_CFG_ANY, .description = "what each firing emits (default: {n, at})"},
};

static json_int_t cfg_int(weir_ctx *ctx, const char *key) {
    return (json_int_t)json_number_value(json_object_get(weir_ctx_config(ctx), key));
}

static int prepare(const weir_node_info *node, json_t *cfg, void **prepared, weir_error *err) {
    (void)node;
    *prepared = NULL;
    double every = json_number_value(json_object_get(cfg, "everyMs"));
    if (every > (double)WEIR_INTERVAL_MAX_MS)
        return weir__error(err, WEIR_EGRAPH,
                           "config \"everyMs\" is %.0f; at most %lld (a year, WEIR_INTERVAL_MAX_MS): use "
                           "symbia.core.cron for rarer firings",
                           every, (long long)WEIR_INTERVAL_MAX_MS);
    return 0;
}

static int init(weir_ctx *ctx) {
    weir_ticker *t = weir_ctx_state(ctx);
    return weir__ticker_arm(ctx, t, weir_ctx_now(ctx) + cfg_int(ctx, "everyMs"));
}

static int resume(weir_ctx *ctx, const weir_effect_result *res, json_t *cont) {
    (void)cont;
    weir_ticker *t = weir_ctx_state(ctx);
    int64_t every = cfg_int(ctx, "everyMs"), due = t->due, now = weir_ctx_now(ctx);
    int rc = weir__ticker_fire(ctx, t, res);
    if (rc < 0) return rc;
    json_int_t count = cfg_int(ctx, "count");
    if (count > 0 && t->fired >= count) return 0; /* done: no timer holds the execution */
    /* The next scheduled time after now, in phase with the first: a late
     * timer skips what it missed rather than firing a burst. */
    int64_t base = now > due ? now : due, next = due + every;
    if (next <= base) {
        int64_t skip = (base - due) / every;
        t->missed += skip;
        next = due + (skip + 1) * every;
    }
    return weir__ticker_arm(ctx, t, next);
}

/* {fired, nextAt, missed, remaining?} (remaining only with count). */
static json_t *state(weir_ctx *ctx) {
    weir_ticker *t = weir_ctx_state(ctx);
    json_int_t count = cfg_int(ctx, "count");
    return weir__ticker_state(t, count > 0 ? json_pack("{s:I}", "remaining", count - t->fired) : NULL);
}

static json_t *save(weir_ctx *ctx) { return weir__ticker_save(weir_ctx_state(ctx)); }
static int load(weir_ctx *ctx, json_t *saved) { return weir__ticker_load(weir_ctx_state(ctx), saved); }

const weir_component weir__interval = {
    .id = "symbia.core.interval",
    .name = "Interval",
    .version = "1.0.0",
    .category = "core",
    .description = "A source with no input: emits config.value (default {n, at}) every everyMs milliseconds, count "
                   "times or until the execution ends, through timer effects (virtual time too). While a firing is "
                   "pending the execution does not complete on its own.",
    .outputs = WEIR_PORTS(outputs),
    .config = WEIR_PORTS(config),
    .state_size = sizeof(weir_ticker),
    .prepare = prepare,
    .init = init,
    .resume = resume,
    .state = state,
    .save = save,
    .load = load,
};
