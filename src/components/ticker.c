/* The schedule of a timer-driven source (see ticker.h). */
#include "components/ticker.h"

int weir__ticker_arm(weir_ctx *ctx, weir_ticker *t, int64_t due) {
    int64_t delay = due - weir_ctx_now(ctx);
    if (delay < 0) delay = 0;
    t->due = due;
    t->timer = 0;
    return weir_effect_request(ctx, WEIR_EFFECT_TIMER, json_pack("{s:I}", "delayMs", (json_int_t)delay), NULL,
                               &t->timer);
}

int weir__ticker_fire(weir_ctx *ctx, weir_ticker *t, const weir_effect_result *res) {
    t->timer = 0; /* this was the pending timer */
    if (!res->ok) return weir_emit_error(ctx, NULL, "the schedule's timer failed: %s", res->error);
    t->fired++;
    json_t *v = json_object_get(weir_ctx_config(ctx), "value");
    if (v) return weir_emit_new(ctx, 0, json_deep_copy(v));
    return weir_emit_new(ctx, 0, json_pack("{s:I,s:I}", "n", t->fired, "at", (json_int_t)t->due));
}

json_t *weir__ticker_state(const weir_ticker *t, json_t *extra) {
    json_t *s = json_pack("{s:I,s:o,s:I}", "fired", t->fired, "nextAt",
                          t->timer ? json_integer((json_int_t)t->due) : json_null(), "missed", t->missed);
    if (s && extra && json_object_update(s, extra)) {
        json_decref(s);
        s = NULL;
    }
    json_decref(extra);
    return s;
}

json_t *weir__ticker_save(const weir_ticker *t) {
    return json_pack("{s:I,s:I,s:I,s:I}", "fired", t->fired, "missed", t->missed, "due", (json_int_t)t->due, "timer",
                     (json_int_t)t->timer);
}

int weir__ticker_load(weir_ticker *t, json_t *saved) {
    json_t *f = json_object_get(saved, "fired"), *m = json_object_get(saved, "missed");
    json_t *d = json_object_get(saved, "due"), *tm = json_object_get(saved, "timer");
    if (!json_is_integer(f) || !json_is_integer(m) || !json_is_integer(d) || !json_is_integer(tm)) return WEIR_EINVAL;
    t->fired = json_integer_value(f);
    t->missed = json_integer_value(m);
    t->due = json_integer_value(d);
    t->timer = (uint64_t)json_integer_value(tm);
    return 0;
}
