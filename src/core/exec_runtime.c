/* An execution's runtime can change while it runs (SPEC §4.5), and a shell
 * can add events of its own (time:advanced, runtime:changed) to the
 * execution's numbered stream. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/exec_internal.h"

int weir_exec_switch_runtime(weir_exec *e, const weir_shell *rt, int64_t old_now_ms, int64_t new_now_ms,
                             weir_error *err) {
    if (weir_state_finished(e->state))
        return weir__error(err, WEIR_ESTATE, "execution %s is %s: it has no runtime to switch", e->id,
                           weir_state_name(e->state));
    /* Timers keep the time they have left; their payload says so from now on. */
    for (size_t s = 0; s < e->fx_cap; s++) {
        weir_fx *f = &e->fx[s];
        if (!f->live || f->kind != WEIR_EFFECT_TIMER) continue;
        json_t *d = json_object_get(f->payload, "delayMs");
        int64_t delay = json_is_integer(d) ? json_integer_value(d) : (int64_t)json_number_value(d);
        int64_t left = f->requested + delay - old_now_ms;
        json_t *p = json_pack("{s:I}", "delayMs", (json_int_t)(left > 0 ? left : 0));
        if (!p) return weir__error(err, WEIR_ENOMEM, "out of memory carrying a timer over");
        json_decref(f->payload);
        f->payload = p;
        f->requested = new_now_ms;
    }
    e->sh.effect_ud = rt->effect_ud;
    e->sh.effect = rt->effect;
    e->sh.cancel = rt->cancel;
    e->sh.clock_ns = rt->clock_ns;
    e->t_valid = false;
    e->now = new_now_ms;
    /* Everything pending is the new runtime's to perform (the old one has
     * forgotten this execution). */
    for (size_t s = 0; s < e->fx_cap && e->sh.effect; s++) {
        weir_fx *f = &e->fx[s];
        if (!f->live) continue;
        weir_effect eff = {((uint64_t)f->gen << 32) | (s + 1), f->kind, e->id,
                           f->node == WEIR_NONE ? NULL : e->g->nodes[f->node].id, f->payload, f->requested};
        e->sh.effect(e->sh.effect_ud, e, &eff);
    }
    return 0;
}

void weir_exec_event(weir_exec *e, const char *name, json_t *data) {
    if (!weir__exec_listening(e)) {
        json_decref(data);
        return;
    }
    weir__exec_event(e, name, data);
}
