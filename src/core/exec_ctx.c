/*
 * The handler context: what a component may do while the core calls it.
 * weir_emit is the hot path of routing: one pooled message per edge, the
 * value shared by reference (fan-out never copies).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/exec_internal.h"

static inline const weir_node *ctx_node(const weir_ctx *ctx) { return &ctx->e->g->nodes[ctx->node]; }

const char *weir_ctx_node_id(const weir_ctx *ctx) { return ctx_node(ctx)->id; }
const char *weir_ctx_execution_id(const weir_ctx *ctx) { return ctx->e->id; }
uint64_t weir_ctx_tick(const weir_ctx *ctx) { return ctx->e->tick; }
int64_t weir_ctx_now(const weir_ctx *ctx) { return ctx->e->now; }
json_t *weir_ctx_config(const weir_ctx *ctx) { return ctx_node(ctx)->config; }
void *weir_ctx_prepared(const weir_ctx *ctx) { return ctx_node(ctx)->prepared; }
void *weir_ctx_state(weir_ctx *ctx) { return ctx->e->inst[ctx->node].state; }

size_t weir_ctx_pending_effects(const weir_ctx *ctx) {
    const weir_exec *e = ctx->e;
    size_t n = 0;
    for (size_t s = 0; s < e->fx_cap; s++)
        if (e->fx[s].live && !e->fx[s].internal && e->fx[s].node == ctx->node) n++;
    return n;
}
size_t weir_ctx_input_count(const weir_ctx *ctx) { return ctx_node(ctx)->n_inputs; }
size_t weir_ctx_output_count(const weir_ctx *ctx) { return ctx_node(ctx)->n_outputs; }

const char *weir_ctx_input_name(const weir_ctx *ctx, unsigned port) {
    const weir_node *n = ctx_node(ctx);
    return port < n->n_inputs ? n->inputs[port] : NULL;
}

const char *weir_ctx_output_name(const weir_ctx *ctx, unsigned port) {
    const weir_node *n = ctx_node(ctx);
    return port < n->n_outputs ? n->outputs[port] : NULL;
}

int weir_ctx_output_index(const weir_ctx *ctx, const char *name) {
    const weir_node *n = ctx_node(ctx);
    uint32_t i = weir__port_index(n->outputs, n->n_outputs, name);
    return i == WEIR_NONE ? -1 : (int)i;
}

bool weir_ctx_output_connected(const weir_ctx *ctx, unsigned port) {
    const weir_node *n = ctx_node(ctx);
    return port < n->n_outputs && n->route_start[port + 1] > n->route_start[port];
}

/* -------------------------------------------------------------------- emit */

/* An error value reached no edge: count it, tell, maybe fail (SPEC §4.2). */
static void unhandled_error(weir_exec *e, uint32_t v, json_t *value) {
    e->errors++;
    if (weir__exec_wants(e, WEIR_EV_COMPONENT_ERROR)) weir__event_component_error(e, v, value);
    if (e->on_error == WEIR_ON_ERROR_FAIL) {
        const char *msg = json_string_value(json_object_get(value, "error"));
        char buf[512];
        snprintf(buf, sizeof buf, "unhandled error in node \"%s\": %s", e->g->nodes[v].id, msg ? msg : "(no message)");
        weir__exec_fail(e, v, buf, value);
    }
}

static void terminal_output(weir_exec *e, uint32_t v, const char *port, json_t *value) {
    weir__in_output(e, v, port, value);
    if (weir__exec_wants(e, WEIR_EV_OUTPUT))
        weir__exec_event(e, "output", json_pack("{s:s,s:s,s:s,s:O,s:I}", "executionId", e->id, "nodeId",
                                                e->g->nodes[v].id, "port", port, "value", value, "tick",
                                                (json_int_t)e->tick));
    weir_origin *o = weir__exec_origin(e, e->cur_origin);
    if (!o || !o->outputs) return;
    char buf[256], *key = buf;
    size_t n = (size_t)snprintf(buf, sizeof buf, "%s:%s", e->g->nodes[v].id, port);
    if (n >= sizeof buf) { /* a long id: the key in full, never cut (cut keys collide) */
        if (!(key = weir__malloc(n + 1))) return;
        snprintf(key, n + 1, "%s:%s", e->g->nodes[v].id, port);
    }
    json_object_set(o->outputs, key, value);
    if (key != buf) weir__free(key);
}

int weir_emit(weir_ctx *ctx, unsigned port, json_t *value) {
    weir_exec *e = ctx->e;
    uint32_t v = ctx->node;
    const weir_node *n = &e->g->nodes[v];
    if (port >= n->n_outputs || !value) return WEIR_EINVAL;
    if (e->wave_cut) return WEIR_ELIMIT; /* MAX_WAVE_HOPS: the wave is over */
    if (e->fail_pending) return 0;
    e->inst[v].emitted++;
    e->emissions++;
    if (e->n_taps) weir__tap_emit(e, v, n->outputs[port], value);
    uint32_t r = n->route_start[port], end = n->route_start[port + 1];
    if (port == n->error_port) e->inst[v].errors++;
    if (r == end) {
        terminal_output(e, v, n->outputs[port], value);
        if (port == n->error_port) unhandled_error(e, v, value);
        return 0;
    }
    const weir_route *routes = e->g->routes;
    for (; r < end; r++) {
        int rc = weir__exec_push(e, routes[r].target, routes[r].target_port, value, e->cur_origin, v, port);
        if (rc) return rc;
        e->emitted_edges++;
        if (weir__exec_wants(e, WEIR_EV_PORT_EMIT)) weir__event_port_emit(e, v, port, &routes[r], value);
    }
    return 0;
}

int weir_emit_name(weir_ctx *ctx, const char *port, json_t *value) {
    const weir_node *n = ctx_node(ctx);
    uint32_t p = weir__port_index(n->outputs, n->n_outputs, port);
    if (p != WEIR_NONE) return weir_emit(ctx, p, value);
    if (!(n->comp->flags & WEIR_COMPONENT_DYNAMIC_OUTPUTS) || !value) return WEIR_EINVAL;
    /* A dynamic port with no edge: a terminal output. */
    weir_exec *e = ctx->e;
    if (e->wave_cut) return WEIR_ELIMIT;
    if (e->fail_pending) return 0;
    e->inst[ctx->node].emitted++;
    e->emissions++;
    if (e->n_taps) weir__tap_emit(e, ctx->node, port, value);
    terminal_output(e, ctx->node, port, value);
    return 0;
}

int weir_emit_new(weir_ctx *ctx, unsigned port, json_t *value) {
    if (!value) return WEIR_ENOMEM;
    int rc = weir_emit(ctx, port, value);
    json_decref(value);
    return rc;
}

int weir_emit_batch(weir_ctx *ctx, unsigned port, json_t *values) {
    if (!json_is_array(values)) return WEIR_EINVAL;
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v) {
        int rc = weir_emit(ctx, port, v);
        if (rc) return rc;
    }
    return 0;
}

int weir_emit_error(weir_ctx *ctx, json_t *details, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *err = json_object();
    if (!err) return WEIR_ENOMEM;
    json_object_set_new(err, "error", json_string(msg));
    if (json_is_object(details)) json_object_update_missing(err, details);
    weir_exec *e = ctx->e;
    const weir_node *n = ctx_node(ctx);
    int rc = 0;
    if (n->error_port != WEIR_NONE) {
        rc = weir_emit(ctx, n->error_port, err);
    } else if (e->wave_cut) {
        rc = WEIR_ELIMIT;
    } else if (!e->fail_pending) {
        e->inst[ctx->node].errors++;
        terminal_output(e, ctx->node, "error", err);
        unhandled_error(e, ctx->node, err);
    }
    json_decref(err);
    return rc;
}

/* ------------------------------------------------------------------- state */

json_t *weir_get_state(weir_ctx *ctx, const char *key) { return json_object_get(ctx->e->inst[ctx->node].kv, key); }

json_t *weir_ctx_state_all(weir_ctx *ctx) { return ctx->e->inst[ctx->node].kv; }

int weir_set_state(weir_ctx *ctx, const char *key, json_t *value) {
    weir_inst *in = &ctx->e->inst[ctx->node];
    if (!value) return WEIR_ENOMEM;
    if (!in->kv && !(in->kv = json_object())) {
        json_decref(value);
        return WEIR_ENOMEM;
    }
    return json_object_set_new(in->kv, key, value) ? WEIR_ENOMEM : 0;
}

/* ----------------------------------------------------------------- effects */

static const char *const kind_names[] = {"?", "timer", "http", "invoke", "log"};

const char *weir_effect_kind_name(weir_effect_kind k) {
    return (unsigned)k < sizeof kind_names / sizeof *kind_names ? kind_names[k] : "?";
}

static int fx_alloc(weir_exec *e, uint32_t *slot) {
    if (e->fx_free == WEIR_NONE) {
        size_t old = e->fx_cap;
        if (old >= WEIR_NONE - 1) return WEIR_ELIMIT;
        if (weir__grow((void **)&e->fx, &e->fx_cap, old + 1, sizeof *e->fx)) return WEIR_ENOMEM;
        for (size_t i = old; i < e->fx_cap; i++)
            e->fx[i] = (weir_fx){.gen = 1, .next_free = i + 1 < e->fx_cap ? (uint32_t)(i + 1) : WEIR_NONE};
        e->fx_free = (uint32_t)old;
    }
    *slot = e->fx_free;
    e->fx_free = e->fx[*slot].next_free;
    return 0;
}

static uint64_t fx_id(const weir_exec *e, uint32_t slot) { return ((uint64_t)e->fx[slot].gen << 32) | (slot + 1); }

static void fx_tell(weir_exec *e, uint32_t slot) {
    if (!e->sh.effect) return;
    weir_fx *f = &e->fx[slot];
    weir_effect eff = {fx_id(e, slot), f->kind, e->id, f->node == WEIR_NONE ? NULL : e->g->nodes[f->node].id,
                       f->payload, f->requested};
    e->sh.effect(e->sh.effect_ud, e, &eff);
}

int weir__request_internal_timer(weir_exec *e, int64_t delay_ms, uint64_t *id) {
    uint32_t s;
    json_t *payload = json_pack("{s:I}", "delayMs", (json_int_t)delay_ms);
    if (!payload || fx_alloc(e, &s)) {
        json_decref(payload);
        return WEIR_ENOMEM;
    }
    uint32_t gen = e->fx[s].gen;
    e->fx[s] = (weir_fx){.gen = gen, .next_free = WEIR_NONE, .live = true, .internal = true,
                         .kind = WEIR_EFFECT_TIMER, .node = WEIR_NONE, .origin = WEIR_NONE, .payload = payload,
                         .requested = e->now, .order = ++e->fx_seq};
    *id = fx_id(e, s);
    fx_tell(e, s);
    return 0;
}

int weir_effect_request(weir_ctx *ctx, weir_effect_kind kind, json_t *payload, json_t *continuation, uint64_t *id) {
    weir_exec *e = ctx->e;
    if (id) *id = 0;
    if (!payload) {
        json_decref(continuation);
        return WEIR_ENOMEM;
    }
    if (kind == WEIR_EFFECT_LOG || e->cleaning) { /* fire-and-forget: nothing to resolve */
        if (e->sh.effect) {
            weir_effect eff = {0, kind, e->id, weir_ctx_node_id(ctx), payload, e->now};
            e->sh.effect(e->sh.effect_ud, e, &eff);
        }
        json_decref(payload);
        json_decref(continuation);
        return 0;
    }
    uint32_t s;
    int rc = fx_alloc(e, &s);
    if (rc) {
        json_decref(payload);
        json_decref(continuation);
        return rc;
    }
    uint32_t gen = e->fx[s].gen;
    e->fx[s] = (weir_fx){.gen = gen, .next_free = WEIR_NONE, .live = true, .kind = kind, .node = ctx->node,
                         .origin = e->cur_origin, .payload = payload, .cont = continuation, .requested = e->now,
                         .order = ++e->fx_seq};
    e->fx_live_user++;
    if (e->cur_origin != WEIR_NONE) weir__exec_origin(e, e->cur_origin)->outstanding++;
    if (id) *id = fx_id(e, s);
    fx_tell(e, s);
    return 0;
}

int weir_effect_cancel(weir_ctx *ctx, uint64_t id) {
    weir_exec *e = ctx->e;
    uint32_t slot = (uint32_t)(id & 0xffffffffu);
    if (slot == 0 || slot > e->fx_cap) return WEIR_ESTALE;
    weir_fx *f = &e->fx[slot - 1];
    if (!f->live || f->gen != (uint32_t)(id >> 32) || f->node != ctx->node) {
        /* Settled but not yet delivered (paused, or mid-input): the instance
         * has not seen it, so the cancel still holds.  The shell is done. */
        return weir__exec_unqueue_result(e, id, ctx->node) ? 0 : WEIR_ESTALE;
    }
    if (e->sh.cancel) e->sh.cancel(e->sh.effect_ud, e, id);
    json_decref(f->payload);
    json_decref(f->cont);
    uint32_t origin = f->origin;
    f->live = false;
    f->payload = f->cont = NULL;
    f->gen = f->gen + 1 ? f->gen + 1 : 1;
    f->next_free = e->fx_free;
    e->fx_free = slot - 1;
    e->fx_live_user--;
    weir__origin_dec(e, origin);
    return 0;
}

/* --------------------------------------------------------------------- log */

static const char *const level_names[] = {"debug", "info", "warn", "error"};

const char *weir_log_level_name(weir_log_level l) {
    return (unsigned)l < sizeof level_names / sizeof *level_names ? level_names[l] : "info";
}

int weir_log_level_parse(const char *name, weir_log_level *out) {
    for (unsigned i = 0; name && i < sizeof level_names / sizeof *level_names; i++)
        if (strcmp(name, level_names[i]) == 0) {
            *out = (weir_log_level)i;
            return 0;
        }
    if (name && strcmp(name, "warning") == 0) {
        *out = WEIR_LOG_WARN;
        return 0;
    }
    return WEIR_EINVAL;
}

int weir_log(weir_ctx *ctx, weir_log_level level, json_t *meta, const char *fmt, ...) {
    weir_exec *e = ctx->e;
    bool listening = weir__exec_wants(e, WEIR_EV_LOG);
    if (!listening && !e->sh.effect) return 0;
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (listening) {
        json_t *ev = json_pack("{s:s,s:s,s:s,s:s,s:I}", "executionId", e->id, "nodeId", weir_ctx_node_id(ctx), "level",
                               weir_log_level_name(level), "message", buf, "tick", (json_int_t)e->tick);
        if (ev && meta) json_object_set(ev, "meta", meta);
        weir__exec_event(e, "log", ev);
    }
    if (!e->sh.effect) return 0;
    json_t *payload = json_pack("{s:s,s:s}", "level", weir_log_level_name(level), "message", buf);
    if (payload && meta) json_object_set(payload, "meta", meta);
    return weir_effect_request(ctx, WEIR_EFFECT_LOG, payload, NULL, NULL);
}

/* ------------------------------------------------------------------- taps */

void weir__tap_emit(weir_exec *e, uint32_t v, const char *port, json_t *value) {
    for (size_t i = 0; i < e->n_taps; i++) {
        const weir_tap *t = &e->taps[i];
        if (t->node == v && strcmp(t->port, port) == 0) t->fn(t->ud, value);
    }
}

int weir_exec_tap(weir_exec *e, const char *node, const char *port, weir_tap_fn fn, void *ud, weir_error *err) {
    uint32_t v = node ? weir__graph_node(e->g, node) : WEIR_NONE;
    if (v == WEIR_NONE) return weir__error(err, WEIR_ENOTFOUND, "execution %s has no node \"%s\"", e->id, node ? node : "");
    const weir_node *n = &e->g->nodes[v];
    if (!port || (weir__port_index(n->outputs, n->n_outputs, port) == WEIR_NONE &&
                  !(n->comp->flags & WEIR_COMPONENT_DYNAMIC_OUTPUTS)))
        return weir__error(err, WEIR_ENOTFOUND, "node \"%s\" has no output port \"%s\"", node, port ? port : "");
    char *name = weir__strdup(port);
    weir_tap *grown = name ? weir__realloc(e->taps, (e->n_taps + 1) * sizeof *grown) : NULL;
    if (!grown) {
        weir__free(name);
        return weir__error(err, WEIR_ENOMEM, "out of memory tapping %s:%s", node, port);
    }
    e->taps = grown;
    e->taps[e->n_taps++] = (weir_tap){v, name, fn, ud};
    return 0;
}

void weir_exec_untap(weir_exec *e, const char *node, const char *port, weir_tap_fn fn, void *ud) {
    uint32_t v = node ? weir__graph_node(e->g, node) : WEIR_NONE;
    for (size_t i = 0; port && v != WEIR_NONE && i < e->n_taps; i++) {
        weir_tap *t = &e->taps[i];
        if (t->node != v || t->fn != fn || t->ud != ud || strcmp(t->port, port) != 0) continue;
        weir__free(t->port);
        e->taps[i] = e->taps[--e->n_taps];
        return;
    }
}
