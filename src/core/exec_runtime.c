/* An execution's runtime can change while it runs (SPEC §4.5), and a shell
 * can add events of its own (time:advanced, runtime:changed) to the
 * execution's numbered stream. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/exec_internal.h"

static uint64_t fx_id(const weir_exec *e, size_t slot) { return ((uint64_t)e->fx[slot].gen << 32) | (slot + 1); }

/* What timer f has left at now: requested + delayMs - now, saturated (a
 * delay of 2^63 ms stays "never"; a real delayMs out of range is not cast). */
int64_t weir__fx_time_left(const weir_fx *f, int64_t now) {
    json_t *d = json_object_get(f->payload, "delayMs");
    int64_t delay, due, left;
    if (json_is_integer(d)) {
        delay = json_integer_value(d);
    } else {
        double x = json_number_value(d);
        delay = !(x > 0) ? 0 : x >= 9223372036854775807.0 ? INT64_MAX : (int64_t)x;
    }
    if (__builtin_add_overflow(f->requested, delay, &due)) due = delay > 0 ? INT64_MAX : INT64_MIN;
    if (__builtin_sub_overflow(due, now, &left)) left = now < 0 ? INT64_MAX : 0;
    return left;
}

void weir__fx_retime(weir_fx *f, int64_t at, int64_t requested) {
    int64_t left = weir__fx_time_left(f, at);
    json_t *p = json_pack("{s:I}", "delayMs", (json_int_t)(left > 0 ? left : 0));
    if (p) { /* without memory for the new payload a timer keeps its whole delay: late, never lost */
        json_decref(f->payload);
        f->payload = p;
    }
    f->requested = requested;
}

int weir_exec_switch_runtime(weir_exec *e, const weir_shell *rt, int64_t old_now_ms, int64_t new_now_ms,
                             const char *from, const char *to, weir_error *err) {
    if (weir_state_finished(e->state))
        return weir__error(err, WEIR_ESTATE, "execution %s is %s: it has no runtime to switch", e->id,
                           weir_state_name(e->state));
    weir_input_rec r = {.kind = WEIR_IN_SWITCH, .now_ms = new_now_ms, .old_now_ms = old_now_ms, .from = from,
                        .to = to};
    int rc = weir__in_begin(e, &r, err);
    if (rc) return rc;
    e->sh.effect_ud = rt->effect_ud;
    e->sh.effect = rt->effect;
    e->sh.cancel = rt->cancel;
    e->sh.clock_ns = rt->clock_ns;
    e->now = new_now_ms;
    char *name = weir__strdup(to ? to : "");
    if (name) {
        weir__free(e->runtime);
        e->runtime = name;
    }
    /* The new runtime performs every timer (the old one has forgotten this
     * execution), with the time it had left.  Without memory for the new
     * payload a timer keeps its whole delay: late, never lost. */
    for (size_t s = 0; s < e->fx_cap; s++) {
        weir_fx *f = &e->fx[s];
        if (!f->live) continue;
        if (f->kind != WEIR_EFFECT_TIMER) {
            f->doomed = !f->internal;
            continue;
        }
        weir__fx_retime(f, old_now_ms, new_now_ms);
        weir_effect eff = {fx_id(e, s), f->kind, e->id, f->node == WEIR_NONE ? NULL : e->g->nodes[f->node].id,
                           f->payload, f->requested};
        if (e->sh.effect) e->sh.effect(e->sh.effect_ud, e, &eff);
    }
    /* Any other request (http, invoke) was the old runtime's: it may or may
     * not have reached the world, so it is neither performed twice nor lost
     * silently — it fails, on the node's error port.  (Effects requested
     * while these results are processed live in fresh slots, not doomed.) */
    char msg[256];
    snprintf(msg, sizeof msg,
             "the request was in flight when the execution switched from the %s runtime to the %s runtime; it may or "
             "may not have been performed",
             from ? from : "previous", to ? to : "new");
    e->in_internal++; /* part of this input: not inputs of their own */
    for (size_t s = 0; s < e->fx_cap && !weir_state_finished(e->state); s++) {
        if (!e->fx[s].live || !e->fx[s].doomed) continue;
        e->fx[s].doomed = false;
        weir_exec_resolve(e, fx_id(e, s), NULL, msg, new_now_ms, NULL);
    }
    e->in_internal--;
    weir__in_end(e);
    return 0;
}

void weir_exec_event(weir_exec *e, const char *name, json_t *data) {
    uint32_t kind = weir_event_kind(name);
    if (!weir__exec_wants(e, kind ? kind : WEIR_EV_ALL)) {
        json_decref(data);
        return;
    }
    weir__exec_event(e, name, data);
}
