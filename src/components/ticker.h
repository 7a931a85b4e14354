/* What symbia.core.interval and symbia.core.cron share: a source with no
 * input that fires on a schedule through timer effects (SPEC §4.4), one
 * timer at a time.  The pending timer keeps the execution from completing
 * (SPEC §3 natural completion); once the schedule ends no timer is left
 * and the execution may complete.
 *
 * A firing emits config.value, or {n, at}: n the firing's number (1, 2,
 * ...), at its scheduled time (ms since the epoch, on the runtime's clock:
 * the virtual clock on `virtual`).  A timer that comes back later than the
 * next scheduled time (the server was down, the loop was blocked) fires
 * once and the firings it missed are skipped and counted (`missed`): there
 * is no burst of catch-up firings.  Times come from the inputs' times
 * (weir_ctx_now), which the journal records, so replay and time travel see
 * the same schedule. */
#ifndef WEIR_COMPONENTS_TICKER_H
#define WEIR_COMPONENTS_TICKER_H
#include "components/builtins.h"

/* The shortest interval (symbia.core.interval everyMs): SPEC §10, a bound
 * on the work a client's graph can ask for — each interval node fires at
 * most 100 times a second. */
#define WEIR_INTERVAL_MIN_MS 10
/* The longest (a year): the schedule's arithmetic stays far inside int64. */
#define WEIR_INTERVAL_MAX_MS 31622400000LL

typedef struct weir_ticker {
    json_int_t fired;  /* firings so far */
    json_int_t missed; /* scheduled firings skipped because a timer came back late */
    int64_t due;       /* the pending timer's scheduled time (ms); meaningful while timer != 0 */
    uint64_t timer;    /* the pending timer effect, 0 when the schedule has ended */
} weir_ticker;

/* Arm the timer for scheduled time `due` (ms): delayMs is due - now, at
 * least 0.  0 or a negative code. */
int weir__ticker_arm(weir_ctx *ctx, weir_ticker *t, int64_t due);
/* The pending timer came back (res): emit the firing (config.value or
 * {n, at}) on output 0.  The timer is forgotten; the caller arms the next. */
int weir__ticker_fire(weir_ctx *ctx, weir_ticker *t, const weir_effect_result *res);
/* {fired, nextAt (ms or null when the schedule has ended), missed} plus
 * `extra` (STOLEN object or NULL) merged in. */
json_t *weir__ticker_state(const weir_ticker *t, json_t *extra);
/* Snapshots (weir_component.save / load). */
json_t *weir__ticker_save(const weir_ticker *t);
int weir__ticker_load(weir_ticker *t, json_t *saved);

#endif
