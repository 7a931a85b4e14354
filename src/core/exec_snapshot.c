/* Snapshots (SPEC §7.1): an execution between inputs as JSON, and back.
 *
 * {"v":1, "state", "tick", "now", "seq", "holds", "stepping", "started",
 *  "startedMs", "finishedMs", "timeoutFx", "fxSeq", "fxLiveUser", "runtime",
 *  "counters": [processed, emittedEdges, emissions, invocations, errors,
 *               backpressure, dropped, latSumNs, latMaxNs, latWeight],
 *  "error": {..}|null,
 *  "fx": [[gen] | [gen, internal, kind, node, payload, cont, requested, order]],
 *  "free": [slot, ...],             the free list, head first
 *  "queue": [[kind, node, port, fxId, value, cont, error, now], ...],
 *  "orgs": [gen, ...], "orgFree": [slot, ...]   tracked injects' slots
 *  "nodes": [[invocations, emitted, errors, latSumNs, latMaxNs, latWeight,
 *             inited, kv, saved], ...]}           in graph order
 *
 * Every effect slot's generation and the free list are kept: the ids of
 * effects requested after a restore are those the saved execution would
 * have given.  Node -1 is none (the execution timeout). */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/exec_internal.h"

#define I(v) json_integer((json_int_t)(v))

static json_t *fx_json(const weir_fx *f) {
    if (!f->live) return json_pack("[I]", (json_int_t)f->gen);
    return json_pack("[I,b,i,I,O,O?,I,I]", (json_int_t)f->gen, f->internal, (int)f->kind,
                     f->node == WEIR_NONE ? (json_int_t)-1 : (json_int_t)f->node, f->payload, f->cont,
                     (json_int_t)f->requested, (json_int_t)f->order);
}

static json_t *input_json(const weir_input *in) {
    return json_pack("[i,I,I,I,O?,O?,s?,I]", in->kind, (json_int_t)in->node, (json_int_t)in->port, (json_int_t)in->fx_id,
                     in->value, in->cont, in->error, (json_int_t)in->now);
}

json_t *weir_exec_snapshot(const weir_exec *e, weir_error *err) {
    if (e->in_input || e->wave_open)
        return weir__error(err, WEIR_ESTATE, "execution %s is part-way through an input: no snapshot now", e->id),
               NULL;
    json_t *nodes = json_array(), *fx = json_array(), *free_list = json_array(), *queue = json_array();
    int bad = !nodes || !fx || !free_list || !queue;
    for (uint32_t v = 0; !bad && v < e->g->n_nodes; v++) {
        const weir_inst *in = &e->inst[v];
        const weir_component *c = e->g->nodes[v].comp;
        json_t *saved = NULL;
        if (c->state_size && in->inited && !weir_state_finished(e->state)) {
            if (!c->save || !c->load) {
                json_decref(nodes);
                json_decref(fx);
                json_decref(free_list);
                json_decref(queue);
                return weir__error(err, WEIR_EINVAL,
                                   "node \"%s\" (%s) keeps state it cannot save: execution %s has no snapshots",
                                   e->g->nodes[v].id, c->id, e->id),
                       NULL;
            }
            if (!(saved = c->save((weir_ctx *)&in->ctx))) bad = 1;
        }
        bad |= json_array_append_new(
            nodes, json_pack("[I,I,I,I,I,I,b,O?,o?]", (json_int_t)in->invocations, (json_int_t)in->emitted,
                             (json_int_t)in->errors, (json_int_t)in->lat_sum_ns, (json_int_t)in->lat_max_ns,
                             (json_int_t)in->lat_weight, in->inited, in->kv, saved));
    }
    for (size_t s = 0; !bad && s < e->fx_cap; s++) bad |= json_array_append_new(fx, fx_json(&e->fx[s]));
    for (uint32_t s = e->fx_free; !bad && s != WEIR_NONE; s = e->fx[s].next_free)
        bad |= json_array_append_new(free_list, I(s));
    for (size_t i = 0; !bad && i < e->q_len; i++)
        bad |= json_array_append_new(queue, input_json(&e->q[(e->q_head + i) % e->q_cap]));
    /* Tracked injects' slots: their generations and free list, so inject
     * ids are never given twice; a live one (nobody waits on it after a
     * restore) is saved free, a generation on, at the back of the list. */
    json_t *orgs = json_array(), *org_free = json_array();
    bad |= !orgs || !org_free;
    for (size_t i = 0; !bad && i < e->org_cap; i++) {
        uint32_t gen = e->org[i].gen;
        if (e->org[i].live) gen = gen + 1 ? gen + 1 : 1;
        bad |= json_array_append_new(orgs, I(gen));
    }
    for (uint32_t i = e->org_free; !bad && i != WEIR_NONE; i = e->org[i].next_free)
        bad |= json_array_append_new(org_free, I(i));
    for (size_t i = 0; !bad && i < e->org_cap; i++)
        if (e->org[i].live) bad |= json_array_append_new(org_free, I(i));
    json_t *counters = bad ? NULL
                           : json_pack("[I,I,I,I,I,I,I,I,I,I]", (json_int_t)e->processed, (json_int_t)e->emitted_edges,
                                       (json_int_t)e->emissions, (json_int_t)e->invocations, (json_int_t)e->errors,
                                       (json_int_t)e->backpressure, (json_int_t)e->dropped, (json_int_t)e->lat_sum_ns,
                                       (json_int_t)e->lat_max_ns, (json_int_t)e->lat_weight);
    json_t *j = counters ? json_pack("{s:i,s:i,s:I,s:I,s:I,s:I,s:b,s:b,s:I,s:I,s:I,s:I,s:I,s:s,s:o,s:O?,s:o,s:o,"
                                     "s:o,s:o}",
                                     "v", 1, "state", (int)e->state, "tick", (json_int_t)e->tick, "now",
                                     (json_int_t)e->now, "seq", (json_int_t)e->seq, "holds", (json_int_t)e->holds,
                                     "stepping", e->stepping, "started", e->started, "startedMs",
                                     (json_int_t)e->started_ms, "finishedMs", (json_int_t)e->finished_ms,
                                     "timeoutFx", (json_int_t)e->timeout_fx, "fxSeq", (json_int_t)e->fx_seq,
                                     "fxLiveUser", (json_int_t)e->fx_live_user, "runtime", e->runtime, "counters",
                                     counters, "error", e->error, "fx", fx, "free", free_list, "queue", queue,
                                     "nodes", nodes)
                             : NULL;
    if (j && (json_object_set_new(j, "orgs", orgs) || json_object_set_new(j, "orgFree", org_free))) {
        json_decref(j);
        j = NULL;
        orgs = org_free = NULL;
    } else if (!j) {
        json_decref(orgs);
        json_decref(org_free);
    }
    if (!j) {
        if (!counters) {
            json_decref(nodes);
            json_decref(fx);
            json_decref(free_list);
            json_decref(queue);
        }
        return weir__error(err, WEIR_ENOMEM, "out of memory taking a snapshot of execution %s", e->id), NULL;
    }
    return j;
}

/* ---------------------------------------------------------------- restore */

static bool int_at(json_t *a, size_t i, json_int_t *out) {
    json_t *v = json_array_get(a, i);
    if (!json_is_integer(v)) return false;
    *out = json_integer_value(v);
    return true;
}

static int bad_snap(weir_exec *e, weir_error *err, const char *what) {
    return weir__error(err, WEIR_EINVAL, "the snapshot does not fit execution %s: %s", e->id, what);
}

static int restore_fx(weir_exec *e, json_t *fx, json_t *free_list, weir_error *err) {
    size_t n = json_array_size(fx);
    if (!json_is_array(fx) || !json_is_array(free_list)) return bad_snap(e, err, "fx or free is not an array");
    if (n && weir__grow((void **)&e->fx, &e->fx_cap, n, sizeof *e->fx))
        return weir__error(err, WEIR_ENOMEM, "out of memory");
    e->fx_cap = n; /* exactly the saved slots: the next new one is slot n, as it was */
    for (size_t s = 0; s < n; s++) {
        json_t *a = json_array_get(fx, s);
        json_int_t gen, kind, node, req, order;
        weir_fx *f = &e->fx[s];
        memset(f, 0, sizeof *f);
        f->next_free = WEIR_NONE;
        if (!json_is_array(a) || !int_at(a, 0, &gen)) return bad_snap(e, err, "an effect slot is malformed");
        f->gen = (uint32_t)gen;
        if (json_array_size(a) == 1) continue;
        json_t *internal = json_array_get(a, 1);
        if (!json_is_boolean(internal) || !int_at(a, 2, &kind) || !int_at(a, 3, &node) || !int_at(a, 6, &req) ||
            !int_at(a, 7, &order) || (node >= 0 && (uint64_t)node >= e->g->n_nodes) || kind < WEIR_EFFECT_TIMER ||
            kind > WEIR_EFFECT_LOG)
            return bad_snap(e, err, "a pending effect is malformed");
        f->live = true;
        f->internal = json_is_true(internal);
        f->kind = (weir_effect_kind)kind;
        f->node = node < 0 ? WEIR_NONE : (uint32_t)node;
        f->origin = WEIR_NONE;
        f->payload = json_incref(json_array_get(a, 4));
        json_t *cont = json_array_get(a, 5);
        f->cont = json_is_null(cont) ? NULL : json_incref(cont);
        f->requested = req;
        f->order = (uint64_t)order;
    }
    /* the free list, head first */
    uint32_t *link = &e->fx_free;
    size_t i;
    json_t *v;
    json_array_foreach(free_list, i, v) {
        json_int_t s = json_integer_value(v);
        if (!json_is_integer(v) || s < 0 || (size_t)s >= n || e->fx[s].live)
            return bad_snap(e, err, "the free list names a slot that is not free");
        *link = (uint32_t)s;
        link = &e->fx[s].next_free;
    }
    *link = WEIR_NONE;
    return 0;
}

static int restore_orgs(weir_exec *e, json_t *orgs, json_t *free_list, weir_error *err) {
    if (!orgs && !free_list) return 0; /* a snapshot of before they were saved */
    size_t n = json_array_size(orgs);
    if (!json_is_array(orgs) || !json_is_array(free_list) || json_array_size(free_list) != n)
        return bad_snap(e, err, "the inject slots are malformed");
    if (n && weir__grow((void **)&e->org, &e->org_cap, n, sizeof *e->org))
        return weir__error(err, WEIR_ENOMEM, "out of memory");
    e->org_cap = n;
    for (size_t i = 0; i < n; i++) {
        json_int_t gen;
        if (!int_at(orgs, i, &gen)) return bad_snap(e, err, "an inject slot is malformed");
        e->org[i] = (weir_origin){.gen = (uint32_t)gen, .next_free = WEIR_NONE};
    }
    uint32_t *link = &e->org_free;
    for (size_t i = 0; i < n; i++) {
        json_int_t slot;
        if (!int_at(free_list, i, &slot) || slot < 0 || (size_t)slot >= n)
            return bad_snap(e, err, "the inject slots' free list is malformed");
        *link = (uint32_t)slot;
        link = &e->org[slot].next_free;
    }
    *link = WEIR_NONE;
    return 0;
}

static int restore_queue(weir_exec *e, json_t *queue, weir_error *err) {
    size_t i;
    json_t *a;
    if (!json_is_array(queue)) return bad_snap(e, err, "queue is not an array");
    json_array_foreach(queue, i, a) {
        json_int_t kind, node, port, fx, now;
        if (!int_at(a, 0, &kind) || !int_at(a, 1, &node) || !int_at(a, 2, &port) || !int_at(a, 3, &fx) ||
            !int_at(a, 7, &now) || (kind != INPUT_INJECT && kind != INPUT_RESOLVE) || node < 0 ||
            (uint64_t)node >= e->g->n_nodes)
            return bad_snap(e, err, "a queued input is malformed");
        json_t *value = json_array_get(a, 4), *cont = json_array_get(a, 5);
        const char *error = json_string_value(json_array_get(a, 6));
        weir_input in = {(int)kind, (uint32_t)node, (uint32_t)port, WEIR_NONE, (uint64_t)fx,
                         json_is_null(value) ? NULL : json_incref(value), json_is_null(cont) ? NULL : json_incref(cont),
                         error ? weir__strdup(error) : NULL, now};
        if (weir__exec_queue_push(e, &in)) {
            json_decref(in.value);
            json_decref(in.cont);
            weir__free(in.error);
            return weir__error(err, WEIR_ENOMEM, "out of memory");
        }
    }
    return 0;
}

static int restore_nodes(weir_exec *e, json_t *nodes, weir_error *err) {
    if (json_array_size(nodes) != e->g->n_nodes) return bad_snap(e, err, "it has another number of nodes");
    for (uint32_t v = 0; v < e->g->n_nodes; v++) {
        json_t *a = json_array_get(nodes, v);
        weir_inst *in = &e->inst[v];
        json_int_t inv, emitted, errors, sum, max, weight;
        json_t *inited = json_array_get(a, 6), *kv = json_array_get(a, 7), *saved = json_array_get(a, 8);
        if (!int_at(a, 0, &inv) || !int_at(a, 1, &emitted) || !int_at(a, 2, &errors) || !int_at(a, 3, &sum) ||
            !int_at(a, 4, &max) || !int_at(a, 5, &weight) || !json_is_boolean(inited) || !kv || !saved)
            return bad_snap(e, err, "a node's entry is malformed");
        in->invocations = (uint64_t)inv;
        in->emitted = (uint64_t)emitted;
        in->errors = (uint64_t)errors;
        in->lat_sum_ns = sum;
        in->lat_max_ns = max;
        in->lat_weight = (uint64_t)weight;
        in->inited = json_is_true(inited);
        if (json_is_object(kv) && !(in->kv = json_deep_copy(kv))) return weir__error(err, WEIR_ENOMEM, "out of memory");
        const weir_component *c = e->g->nodes[v].comp;
        if (json_is_null(saved)) continue;
        if (!c->load) return bad_snap(e, err, "a node has saved state its component cannot load");
        int rc = c->load(&in->ctx, saved);
        if (rc)
            return weir__error(err, rc == WEIR_ENOMEM ? rc : WEIR_EINVAL, "node \"%s\" (%s) refused its saved state",
                               e->g->nodes[v].id, c->id);
    }
    return 0;
}

int weir_exec_restore(weir_exec *e, json_t *snap, weir_error *err) {
    if (e->state != WEIR_STATE_PENDING || e->started)
        return weir__error(err, WEIR_ESTATE, "execution %s has started: a snapshot goes into a fresh one", e->id);
    json_int_t ver, state, tick, now, seq, holds, started_ms, finished_ms, timeout_fx, fx_seq, live_user;
    json_t *c = json_object_get(snap, "counters");
    json_int_t k[10];
    for (int i = 0; i < 10; i++)
        if (!int_at(c, (size_t)i, &k[i])) return bad_snap(e, err, "counters are malformed");
#define GET(name, var)                                                                                                 \
    if (!json_is_integer(json_object_get(snap, name))) return bad_snap(e, err, name " is missing");                   \
    var = json_integer_value(json_object_get(snap, name));
    GET("v", ver);
    GET("state", state);
    GET("tick", tick);
    GET("now", now);
    GET("seq", seq);
    GET("holds", holds);
    GET("startedMs", started_ms);
    GET("finishedMs", finished_ms);
    GET("timeoutFx", timeout_fx);
    GET("fxSeq", fx_seq);
    GET("fxLiveUser", live_user);
#undef GET
    if (ver != 1 || state < WEIR_STATE_PENDING || state > WEIR_STATE_CANCELLED)
        return bad_snap(e, err, "an unknown version or state");
    int rc = restore_nodes(e, json_object_get(snap, "nodes"), err);
    if (!rc) rc = restore_fx(e, json_object_get(snap, "fx"), json_object_get(snap, "free"), err);
    if (!rc) rc = restore_queue(e, json_object_get(snap, "queue"), err);
    if (!rc) rc = restore_orgs(e, json_object_get(snap, "orgs"), json_object_get(snap, "orgFree"), err);
    if (rc) return rc;
    const char *rt = json_string_value(json_object_get(snap, "runtime"));
    char *name = rt ? weir__strdup(rt) : NULL;
    if (name) {
        weir__free(e->runtime);
        e->runtime = name;
    }
    json_t *error = json_object_get(snap, "error");
    if (json_is_object(error)) e->error = json_incref(error);
    e->state = (weir_state)state;
    e->tick = (uint64_t)tick;
    e->now = now;
    e->seq = (uint64_t)seq;
    e->holds = (uint32_t)holds;
    e->stepping = json_is_true(json_object_get(snap, "stepping"));
    e->started = json_is_true(json_object_get(snap, "started"));
    e->started_ms = started_ms;
    e->finished_ms = finished_ms;
    e->timeout_fx = (uint64_t)timeout_fx;
    e->fx_seq = (uint64_t)fx_seq;
    e->fx_live_user = (size_t)live_user;
    e->processed = (uint64_t)k[0];
    e->emitted_edges = (uint64_t)k[1];
    e->emissions = (uint64_t)k[2];
    e->invocations = (uint64_t)k[3];
    e->errors = (uint64_t)k[4];
    e->backpressure = (uint64_t)k[5];
    e->dropped = (uint64_t)k[6];
    e->lat_sum_ns = k[7];
    e->lat_max_ns = k[8];
    e->lat_weight = (uint64_t)k[9];
    return 0;
}
