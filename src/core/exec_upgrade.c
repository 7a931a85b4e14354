/* Change while running: an execution moved to a new version of its graph
 * between inputs (weir_exec_upgrade; the contract is in weir.h).
 *
 * Everything that can fail or refuse is done before anything changes: the
 * checks (state, open wave, orphaned queued injects), the saved states of
 * kept nodes, the report, the new instances, and the input told to the
 * shell (a journal may refuse it).  Then the old graph's instances are
 * moved, cancelled or dropped, every index into the old graph (effects,
 * queued inputs, taps) is mapped to the new one, the graph is swapped, kept
 * states are loaded and added nodes initialized. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/exec_internal.h"

/* The same component: the same id (a user component's new version is the
 * same component, its state carried over). */
static bool same_component(const weir_component *a, const weir_component *b) {
    return a == b || strcmp(a->id, b->id) == 0;
}

/* The state a node shows (as weir_exec_states): what a removed one drops. */
static json_t *shown_state(weir_exec *e, uint32_t v) {
    weir_inst *in = &e->inst[v];
    const weir_component *c = e->g->nodes[v].comp;
    if (c->state && in->inited) return c->state(&in->ctx);
    return in->kv ? json_copy(in->kv) : json_object();
}

/* A queued inject the new graph has nowhere to put: its node or port. */
static int check_orphans(const weir_exec *e, const weir_graph *g, weir_error *err) {
    size_t orphans = 0;
    char first[400] = "";
    for (size_t i = 0; i < e->q_len; i++) {
        const weir_input *q = &e->q[(e->q_head + i) % e->q_cap];
        if (q->kind != INPUT_INJECT) continue;
        const weir_node *old = &e->g->nodes[q->node];
        const char *port = old->inputs[q->port];
        uint32_t v = weir__graph_node(g, old->id);
        bool ok = v != WEIR_NONE && weir__port_index(g->nodes[v].inputs, g->nodes[v].n_inputs, port) != WEIR_NONE;
        if (ok) continue;
        if (!orphans++)
            snprintf(first, sizeof first, "an inject into node \"%.150s\" port \"%.100s\", which the new graph %s",
                     old->id, port, v == WEIR_NONE ? "does not have" : "has without that input port");
    }
    if (!orphans) return 0;
    return weir__error(err, WEIR_ESTATE,
                       "the upgrade of execution %s would orphan %zu queued inject%s (%s): nothing changed; resume "
                       "the execution so the queue drains, or keep that node and port in the new version",
                       e->id, orphans, orphans == 1 ? "" : "s", first);
}

typedef struct plan {
    uint32_t *old_of;  /* new node → old node kept in it (WEIR_NONE: added) */
    uint32_t *new_of;  /* old node → new node it is kept as (WEIR_NONE: removed) */
    json_t **saved;    /* new node → the old one's saved state (NULL: none) */
    bool *fresh;       /* new node → added: initialized */
    weir_inst *inst;   /* the new instances */
    json_t *report;
} plan;

static void plan_free(plan *p, uint32_t n_new) {
    for (uint32_t v = 0; p->saved && v < n_new; v++) json_decref(p->saved[v]);
    if (p->inst)
        for (uint32_t v = 0; v < n_new; v++) weir__free(p->inst[v].state);
    weir__free(p->old_of);
    weir__free(p->new_of);
    weir__free(p->saved);
    weir__free(p->fresh);
    weir__free(p->inst);
    json_decref(p->report);
}

/* Everything that can fail, with nothing changed yet. */
static int plan_make(weir_exec *e, weir_graph *g, plan *p, weir_error *err) {
    uint32_t n_old = e->g->n_nodes, n_new = g->n_nodes;
    p->old_of = weir__calloc(n_new ? n_new : 1, sizeof *p->old_of);
    p->new_of = weir__calloc(n_old ? n_old : 1, sizeof *p->new_of);
    p->saved = weir__calloc(n_new ? n_new : 1, sizeof *p->saved);
    p->fresh = weir__calloc(n_new ? n_new : 1, sizeof *p->fresh);
    p->inst = weir__calloc(n_new ? n_new : 1, sizeof *p->inst);
    json_t *kept = json_array(), *added = json_array(), *removed = json_array(), *dropped = json_object();
    p->report = json_pack("{s:o*,s:o*,s:o*,s:[],s:o*}", "kept", kept, "added", added, "removed", removed,
                          "cancelledEffects", "droppedState", dropped);
    if (!p->old_of || !p->new_of || !p->saved || !p->fresh || !p->inst || !p->report) goto oom;
    for (uint32_t v = 0; v < n_old; v++) p->new_of[v] = WEIR_NONE;
    int bad = 0;
    for (uint32_t v = 0; v < n_new; v++) {
        const weir_node *nd = &g->nodes[v];
        uint32_t o = weir__graph_node(e->g, nd->id);
        if (o != WEIR_NONE && !same_component(e->g->nodes[o].comp, nd->comp)) o = WEIR_NONE;
        p->old_of[v] = o;
        p->fresh[v] = o == WEIR_NONE;
        if (o != WEIR_NONE) p->new_of[o] = v;
        bad |= json_array_append_new(o == WEIR_NONE ? added : kept, json_string(nd->id));
        weir_inst *in = &p->inst[v];
        in->ctx.e = e;
        in->ctx.node = v;
        in->head = in->tail = WEIR_NONE;
        const weir_component *c = nd->comp;
        bool loads = o != WEIR_NONE && c->save && c->load && e->inst[o].inited;
        /* a kept node whose component cannot save its state takes the old memory as it is */
        bool moves = o != WEIR_NONE && !loads && e->inst[o].state;
        if (c->state_size && !moves && !(in->state = weir__calloc(1, c->state_size))) goto oom;
        if (loads && c->state_size && !(p->saved[v] = c->save((weir_ctx *)&e->inst[o].ctx))) goto oom;
    }
    for (uint32_t v = 0; v < n_old; v++) {
        if (p->new_of[v] != WEIR_NONE) continue;
        bad |= json_array_append_new(removed, json_string(e->g->nodes[v].id));
        json_t *st = shown_state(e, v);
        bad |= !st || json_object_set_new(dropped, e->g->nodes[v].id, st);
    }
    if (bad) goto oom;
    return 0;
oom:
    plan_free(p, n_new);
    return weir__error(err, WEIR_ENOMEM, "out of memory upgrading execution %s", e->id);
}

static uint64_t fx_id(const weir_exec *e, size_t slot) { return ((uint64_t)e->fx[slot].gen << 32) | (slot + 1); }

static void report_cancel(json_t *report, uint64_t id, weir_effect_kind kind, const char *node) {
    json_array_append_new(json_object_get(report, "cancelledEffects"),
                          json_pack("{s:I,s:s,s:s}", "effectId", (json_int_t)id, "kind", weir_effect_kind_name(kind),
                                    "nodeId", node));
}

/* Removed nodes: their pending effects cancelled, their queued results
 * dropped, their cleanup run (the old graph still in place).  A kept node
 * whose state was saved (to be loaded into its new instance) is cleaned up
 * too: its old instance goes. */
static void let_go(weir_exec *e, plan *p) {
    for (size_t s = 0; s < e->fx_cap; s++) {
        weir_fx *f = &e->fx[s];
        if (!f->live || f->node == WEIR_NONE || p->new_of[f->node] != WEIR_NONE) continue;
        uint64_t id = fx_id(e, s);
        report_cancel(p->report, id, f->kind, e->g->nodes[f->node].id);
        weir_effect_cancel(&e->inst[f->node].ctx, id);
    }
    for (size_t i = 0; i < e->q_len;) {
        const weir_input *q = &e->q[(e->q_head + i) % e->q_cap];
        if (q->kind != INPUT_RESOLVE || p->new_of[q->node] != WEIR_NONE) {
            i++;
            continue;
        }
        uint32_t node = q->node;
        uint64_t id = q->fx_id;
        /* its kind is gone with its slot: a settled result queued is what it was */
        json_t *report = p->report;
        weir__exec_unqueue_result(e, id, node);
        json_array_append_new(json_object_get(report, "cancelledEffects"),
                              json_pack("{s:I,s:s,s:s}", "effectId", (json_int_t)id, "kind", "result",
                                        "nodeId", e->g->nodes[node].id));
    }
    e->cleaning = true; /* effects requested now are fire-and-forget */
    for (uint32_t pos = 0; pos < e->g->n_nodes; pos++) {
        uint32_t v = e->g->topo[pos];
        weir_inst *in = &e->inst[v];
        if ((p->new_of[v] != WEIR_NONE && !p->saved[p->new_of[v]]) || !in->inited) continue;
        in->inited = false;
        e->cur_node = v;
        if (e->g->nodes[v].comp->cleanup) e->g->nodes[v].comp->cleanup(&in->ctx);
    }
    e->cleaning = false;
    e->cur_node = WEIR_NONE;
}

/* Every index into the old graph, to the new one. */
static void remap(weir_exec *e, weir_graph *g, plan *p) {
    for (size_t s = 0; s < e->fx_cap; s++)
        if (e->fx[s].live && e->fx[s].node != WEIR_NONE) e->fx[s].node = p->new_of[e->fx[s].node];
    for (size_t i = 0; i < e->q_len; i++) {
        weir_input *q = &e->q[(e->q_head + i) % e->q_cap];
        uint32_t v = weir__graph_node(g, e->g->nodes[q->node].id); /* checked: every inject has one */
        if (q->kind == INPUT_INJECT)
            q->port = weir__port_index(g->nodes[v].inputs, g->nodes[v].n_inputs, e->g->nodes[q->node].inputs[q->port]);
        q->node = v;
    }
    size_t k = 0;
    for (size_t i = 0; i < e->n_taps; i++) {
        weir_tap t = e->taps[i];
        uint32_t v = p->new_of[t.node];
        if (v == WEIR_NONE) { /* its node is gone */
            weir__free(t.port);
            continue;
        }
        t.node = v;
        e->taps[k++] = t;
    }
    e->n_taps = k;
}

int weir_exec_upgrade(weir_exec *e, weir_graph *g, json_t *record, int64_t now_ms, json_t **report, weir_error *err) {
    if (report) *report = NULL;
    if (e->state != WEIR_STATE_RUNNING && e->state != WEIR_STATE_PAUSED)
        return weir__error(err, WEIR_ESTATE, "cannot upgrade execution %s: it is %s (it must be running or paused)",
                           e->id, weir_state_name(e->state));
    if (e->in_input)
        return weir__error(err, WEIR_ESTATE, "cannot upgrade execution %s part-way through an input", e->id);
    if (e->wave_open)
        return weir__error(err, WEIR_ESTATE,
                           "execution %s has a stepped wave open (tick %llu): finish the wave first (step until it "
                           "ends), then upgrade",
                           e->id, (unsigned long long)e->tick);
    int rc = check_orphans(e, g, err);
    if (rc) return rc;
    plan p = {0};
    if ((rc = plan_make(e, g, &p, err))) return rc;
    weir_input_rec r = {.kind = WEIR_IN_UPGRADE, .now_ms = now_ms, .upgrade = record, .graph = g};
    if ((rc = weir__in_begin(e, &r, err))) {
        plan_free(&p, g->n_nodes);
        return rc;
    }
    e->now = now_ms;
    e->tick++; /* the upgrade's wave: a tick names the execution before it and the one after */
    let_go(e, &p);
    remap(e, g, &p);
    /* kept instances move (counters, latency, key/value state, memory
     * that cannot be saved); removed ones are freed */
    for (uint32_t v = 0; v < g->n_nodes; v++) {
        uint32_t o = p.old_of[v];
        if (o == WEIR_NONE) continue;
        weir_inst *in = &p.inst[v], *was = &e->inst[o];
        in->invocations = was->invocations;
        in->emitted = was->emitted;
        in->errors = was->errors;
        in->lat_sum_ns = was->lat_sum_ns;
        in->lat_max_ns = was->lat_max_ns;
        in->lat_weight = was->lat_weight;
        in->lat_skip = was->lat_skip;
        in->lat_sampling = was->lat_sampling;
        in->inited = p.saved[v] ? true : was->inited; /* a saved one's old instance was cleaned up */
        in->kv = was->kv;
        was->kv = NULL;
        if (!in->state) {
            in->state = was->state;
            was->state = NULL;
        }
    }
    for (uint32_t v = 0; v < e->g->n_nodes; v++) {
        weir__free(e->inst[v].state);
        json_decref(e->inst[v].kv);
    }
    weir__free(e->inst);
    e->inst = p.inst;
    p.inst = NULL;
    weir_graph *old = e->g;
    e->g = weir_graph_ref(g);
    weir_graph_unref(old);
    e->cursor = g->n_nodes;
    /* kept states into the new nodes (their new config applies) */
    for (uint32_t v = 0; v < g->n_nodes && !e->fail_pending; v++) {
        if (!p.saved[v]) continue;
        e->cur_node = v;
        int lr = g->nodes[v].comp->load(&e->inst[v].ctx, p.saved[v]);
        if (lr) {
            char buf[300];
            snprintf(buf, sizeof buf, "node \"%s\" (%s) refused its state when the execution was upgraded: %s",
                     g->nodes[v].id, g->nodes[v].comp->id, weir_strerror(lr));
            weir__exec_fail(e, v, buf, NULL);
        }
    }
    e->cur_node = WEIR_NONE;
    weir__exec_init_fresh(e, p.fresh);
    weir__in_end(e);
    if (report) {
        *report = p.report;
        p.report = NULL;
    }
    plan_free(&p, g->n_nodes);
    return 0;
}
