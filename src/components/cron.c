/* symbia.core.cron: a source with no input that fires at every minute its
 * five-field expression matches, in config.timezone (IANA; default UTC),
 * on the runtime's clock (the virtual clock on `virtual`), through timer
 * effects like symbia.core.interval (see ticker.h for what it emits, and
 * cron_expr.h for the syntax and the daylight-saving rule: a local time
 * skipped by a spring-forward never fires, one repeated by a fall-back
 * fires once, at its first occurrence).  The expression and the zone are
 * read at load: a bad one is refused there with the field and column.  The
 * zone's bytes come from the shell (weir_node_zone: its resolver, or the
 * bytes pinned in the execution's journal), never from a file read here,
 * so an execution recovered, replayed or imported elsewhere fires at the
 * instants it did. */
#include <string.h>

#include "components/cron_expr.h"
#include "components/ticker.h"
#include "core/alloc.h"
#include "core/error.h"

static const weir_port_def outputs[] = {{"out", "config.value, or {n, at} (firing number, scheduled time in ms)", NULL}};
static const weir_config_def config[] = {
    {.key = "expression", .type = WEIR_CFG_STRING, .required = true,
     .description = "five fields \"minute hour day-of-month month day-of-week\" with *, lists, ranges, steps and "
                    "names (JAN, MON), e.g. \"*/15 * * * *\" or \"0 9 * * MON-FRI\"; or @hourly, @daily, @weekly, "
                    "@monthly, @yearly"},
    {.key = "timezone", .type = WEIR_CFG_STRING, .default_json = "\"UTC\"",
     .description = "IANA time zone the fields are read in, e.g. \"Europe/Berlin\""},
    {.key = "value", .type = WEIR_CFG_ANY, .description = "what each firing emits (default: {n, at})"},
};

/* The most missed matches one late firing counts (see resume). */
#define MISSED_COUNTED (7 * 1440)

typedef struct cron_prep {
    weir_cron cron;
    weir_tz *tz;
} cron_prep;

static void release(void *prepared) {
    cron_prep *p = prepared;
    if (!p) return;
    weir__tz_free(p->tz);
    weir__free(p);
}

static int prepare(const weir_node_info *node, json_t *cfg, void **prepared, weir_error *err) {
    cron_prep *p = weir__calloc(1, sizeof *p);
    if (!p) return WEIR_ENOMEM;
    *prepared = p;
    const char *expr = json_string_value(json_object_get(cfg, "expression"));
    const char *zone = json_string_value(json_object_get(cfg, "timezone"));
    weir_error e2;
    int rc = weir__cron_parse(expr, &p->cron, &e2);
    if (rc == WEIR_EINVAL)
        return weir__error(err, WEIR_EGRAPH, "config \"expression\" (\"%.200s\"): %s", expr, e2.message);
    if (rc) return rc;
    rc = weir__tz_named(node, zone, &p->tz, &e2);
    if (rc == WEIR_EINVAL) return weir__error(err, WEIR_EGRAPH, "config \"timezone\": %s", e2.message);
    return rc;
}

/* Arm the timer for the first match after now; none (past year 9999):
 * the schedule ends. */
static int arm_next(weir_ctx *ctx, weir_ticker *t, int64_t after) {
    const cron_prep *p = weir_ctx_prepared(ctx);
    int64_t next;
    if (!weir__cron_next(&p->cron, p->tz, after, &next)) return 0;
    return weir__ticker_arm(ctx, t, next);
}

static int init(weir_ctx *ctx) { return arm_next(ctx, weir_ctx_state(ctx), weir_ctx_now(ctx)); }

static int resume(weir_ctx *ctx, const weir_effect_result *res, json_t *cont) {
    (void)cont;
    weir_ticker *t = weir_ctx_state(ctx);
    int64_t due = t->due, now = weir_ctx_now(ctx);
    int rc = weir__ticker_fire(ctx, t, res);
    if (rc < 0) return rc;
    const cron_prep *p = weir_ctx_prepared(ctx);
    int64_t after = now > due ? now : due;
    /* Matches between the scheduled time and now were missed (a late timer):
     * counted (up to MISSED_COUNTED per late firing, a week of minutes,
     * about 20 ms of work), not fired. */
    for (int64_t m = due, k = 0; k < MISSED_COUNTED && weir__cron_next(&p->cron, p->tz, m, &m) && m <= after; k++)
        t->missed++;
    return arm_next(ctx, t, after);
}

/* {fired, nextAt, missed, expression, timezone} */
static json_t *state(weir_ctx *ctx) {
    json_t *cfg = weir_ctx_config(ctx);
    return weir__ticker_state(weir_ctx_state(ctx), json_pack("{s:O,s:O}", "expression", json_object_get(cfg, "expression"),
                                                             "timezone", json_object_get(cfg, "timezone")));
}

static json_t *save(weir_ctx *ctx) { return weir__ticker_save(weir_ctx_state(ctx)); }
static int load(weir_ctx *ctx, json_t *saved) { return weir__ticker_load(weir_ctx_state(ctx), saved); }

const weir_component weir__cron = {
    .id = "symbia.core.cron",
    .name = "Cron",
    .version = "1.0.0",
    .category = "core",
    .description = "A source with no input: emits config.value (default {n, at}) at every minute a five-field cron "
                   "expression matches in config.timezone, on the runtime's clock (virtual time too), through timer "
                   "effects. A local time skipped by a daylight-saving change never fires; one repeated fires once. "
                   "While a firing is pending the execution does not complete on its own.",
    .outputs = WEIR_PORTS(outputs),
    .config = WEIR_PORTS(config),
    .state_size = sizeof(weir_ticker),
    .prepare = prepare,
    .release = release,
    .init = init,
    .resume = resume,
    .state = state,
    .save = save,
    .load = load,
};
