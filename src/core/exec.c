/*
 * Executions (SPEC §3, §4): lifecycle and state machine, inputs (injects,
 * effect results) and the pause queue, waves in topological order,
 * stepping one invocation at a time (SPEC §4.5 `step`), completion,
 * failure, timeout, settled tracking of injects.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/exec_internal.h"

#define DEFAULT_MAX_QUEUE 10000
/* A message pool grown past this many slots is freed when its wave ends, so
 * the memory of one huge wave comes back. */
#define MSG_POOL_KEEP 65536

static const char *const state_names[] = {"pending", "initializing", "running", "paused",
                                          "completed", "failed", "cancelled"};

const char *weir_state_name(weir_state s) {
    return (unsigned)s < sizeof state_names / sizeof *state_names ? state_names[s] : "unknown";
}

bool weir_state_finished(weir_state s) {
    return s == WEIR_STATE_COMPLETED || s == WEIR_STATE_FAILED || s == WEIR_STATE_CANCELLED;
}

/* --------------------------------------------------------------- origins */

weir_origin *weir__exec_origin(weir_exec *e, uint32_t slot) {
    return slot == WEIR_NONE ? NULL : &e->org[slot];
}

static uint64_t origin_id(const weir_exec *e, uint32_t slot) {
    return ((uint64_t)e->org[slot].gen << 32) | (uint64_t)(slot + 1);
}

uint64_t weir_exec_current_inject(const weir_exec *e, void **user) {
    if (user) *user = NULL;
    if (!e || e->cur_origin == WEIR_NONE || e->cur_origin >= e->org_cap || !e->org[e->cur_origin].live) return 0;
    if (user) *user = e->org[e->cur_origin].user;
    return origin_id(e, e->cur_origin);
}

static uint32_t origin_new(weir_exec *e, unsigned flags) {
    if (e->org_free == WEIR_NONE) {
        size_t old = e->org_cap;
        if (weir__grow((void **)&e->org, &e->org_cap, old + 1, sizeof *e->org)) return WEIR_NONE;
        for (size_t i = old; i < e->org_cap; i++) {
            e->org[i] = (weir_origin){.gen = 1, .next_free = i + 1 < e->org_cap ? (uint32_t)(i + 1) : e->org_free};
        }
        e->org_free = (uint32_t)old;
    }
    uint32_t s = e->org_free;
    weir_origin *o = &e->org[s];
    json_t *outputs = NULL, *trace = NULL;
    if (flags & WEIR_INJECT_OUTPUTS && !(outputs = json_object())) return WEIR_NONE;
    if (flags & WEIR_INJECT_TRACE && !(trace = json_array())) {
        json_decref(outputs);
        return WEIR_NONE;
    }
    e->org_free = o->next_free;
    uint32_t gen = o->gen;
    *o = (weir_origin){.gen = gen, .next_free = WEIR_NONE, .live = true, .flags = flags, .outstanding = 1,
                       .outputs = outputs, .trace = trace};
    return s;
}

/* Settle (tell the shell) and free one origin. */
static void origin_settle(weir_exec *e, uint32_t s, int status) {
    weir_origin *o = &e->org[s];
    if (!o->live) return;
    if (e->sh.settled) {
        uint64_t traced = o->trace ? json_array_size(o->trace) : 0;
        weir_settled st = {.inject_id = origin_id(e, s), .outputs = o->outputs, .trace = o->trace, .hops = o->hops,
                           .trace_cut = traced >= e->max_trace_hops && o->hops > traced ? e->max_trace_hops : 0,
                           .first_tick = o->first_tick, .last_tick = o->last_tick, .status = status, .user = o->user,
                           .error = o->error};
        e->sh.settled(e->sh.ud, e, &st);
    }
    json_decref(o->outputs);
    json_decref(o->trace);
    json_decref(o->error);
    uint32_t gen = o->gen + 1;
    *o = (weir_origin){.gen = gen ? gen : 1, .next_free = e->org_free};
    e->org_free = s;
}

void weir__origin_dec(weir_exec *e, uint32_t s) {
    if (s == WEIR_NONE) return;
    weir_origin *o = &e->org[s];
    if (--o->outstanding == 0 && !o->dirty) {
        o->dirty = true;
        if (weir__grow((void **)&e->dirty, &e->dirty_cap, e->dirty_len + 1, sizeof *e->dirty) == 0)
            e->dirty[e->dirty_len++] = s;
        else origin_settle(e, s, 0); /* no room to defer: settle now */
    }
}

static void settle_dirty(weir_exec *e) {
    for (size_t i = 0; i < e->dirty_len; i++) {
        uint32_t s = e->dirty[i];
        weir_origin *o = &e->org[s];
        o->dirty = false;
        if (o->live && o->outstanding == 0) origin_settle(e, s, o->status);
    }
    e->dirty_len = 0;
}

/* Work owed to an origin was thrown away (stop, failure, a cut wave): it
 * settles with WEIR_ESTATE so whoever waits on it learns the execution ended
 * first — unless it already carries the reason (WEIR_ELIMIT). */
static void origin_abort(weir_exec *e, uint32_t s) {
    if (s == WEIR_NONE) return;
    if (!e->org[s].status) e->org[s].status = WEIR_ESTATE;
    weir__origin_dec(e, s);
}

/* -------------------------------------------------------------- messages */

/* The wave reached MAX_WAVE_HOPS while node cur_node emitted: every waiting
 * message would be one more hop, so it cannot end within the bound.  The
 * error goes to the inject that caused the wave (origin), errorCount and a
 * component:error event; the execution fails unless onError is continue. */
static void wave_cut(weir_exec *e, uint32_t origin) {
    uint32_t v = e->cur_node;
    const char *node = v == WEIR_NONE ? "(none)" : e->g->nodes[v].id;
    char msg[512];
    snprintf(msg, sizeof msg,
             "wave of tick %llu stopped at MAX_WAVE_HOPS (%llu): node \"%s\" emitted past it with %llu messages "
             "processed and %llu waiting; raise MAX_WAVE_HOPS (--max-wave-hops) if one input should cause more work",
             (unsigned long long)e->tick, (unsigned long long)e->max_wave_hops, node,
             (unsigned long long)e->wave_hops, (unsigned long long)e->pending_msgs);
    json_t *details = json_pack("{s:s,s:I,s:I,s:I}", "limit", "MAX_WAVE_HOPS", "maxWaveHops",
                                (json_int_t)e->max_wave_hops, "hops", (json_int_t)e->wave_hops, "waiting",
                                (json_int_t)e->pending_msgs);
    weir_origin *o = weir__exec_origin(e, origin);
    if (o && o->live && !o->error) {
        o->status = WEIR_ELIMIT;
        o->error = json_pack("{s:s,s:s,s:s?,s:O?}", "message", msg, "code", weir_errname(WEIR_ELIMIT), "nodeId",
                             v == WEIR_NONE ? NULL : node, "details", details);
    }
    e->errors++;
    if (v != WEIR_NONE && weir__exec_wants(e, WEIR_EV_COMPONENT_ERROR)) {
        json_t *value = json_pack("{s:s,s:s}", "error", msg, "code", weir_errname(WEIR_ELIMIT));
        if (value && details) json_object_update(value, details);
        if (value) weir__event_component_error(e, v, value);
        json_decref(value);
    }
    if (e->on_error == WEIR_ON_ERROR_FAIL) weir__exec_fail(e, v, msg, details);
    json_decref(details);
    e->wave_cut = true;
}

int weir__exec_push(weir_exec *e, uint32_t node, uint32_t port, json_t *value, uint32_t origin, uint32_t from,
                    uint32_t from_port) {
    if (e->wave_cut) return WEIR_ELIMIT;
    if (e->wave_hops + e->pending_msgs >= e->max_wave_hops) {
        wave_cut(e, origin);
        return WEIR_ELIMIT;
    }
    if (e->msg_free == WEIR_NONE) {
        size_t old = e->msgs_cap;
        if (old >= WEIR_NONE - 1) return WEIR_ELIMIT;
        if (weir__grow((void **)&e->msgs, &e->msgs_cap, old + 1, sizeof *e->msgs)) return WEIR_ENOMEM;
        for (size_t i = old; i < e->msgs_cap; i++)
            e->msgs[i].next = i + 1 < e->msgs_cap ? (uint32_t)(i + 1) : WEIR_NONE;
        e->msg_free = (uint32_t)old;
    }
    uint32_t m = e->msg_free;
    weir_msg *msg = &e->msgs[m];
    e->msg_free = msg->next;
    if (value == e->cur_value) e->cur_value = NULL; /* invoke's reference, handed on */
    else json_incref(value);
    msg->value = value;
    msg->next = WEIR_NONE;
    msg->port = port;
    msg->origin = origin;
    msg->from = from;
    msg->from_port = from_port;
    weir_inst *in = &e->inst[node];
    if (in->tail == WEIR_NONE) in->head = m;
    else e->msgs[in->tail].next = m;
    in->tail = m;
    e->pending_msgs++;
    uint32_t pos = e->g->nodes[node].topo_pos;
    if (pos < e->cursor) e->cursor = pos;
    if (origin != WEIR_NONE) e->org[origin].outstanding++;
    return 0;
}

static void free_inboxes(weir_exec *e) {
    for (uint32_t v = 0; v < e->g->n_nodes; v++) {
        weir_inst *in = &e->inst[v];
        for (uint32_t m = in->head; m != WEIR_NONE;) {
            weir_msg *msg = &e->msgs[m];
            uint32_t next = msg->next;
            json_decref(msg->value);
            origin_abort(e, msg->origin);
            msg->next = e->msg_free;
            e->msg_free = m;
            m = next;
        }
        in->head = in->tail = WEIR_NONE;
    }
    e->pending_msgs = 0;
}

/* ----------------------------------------------------------------- waves */

static void trace_hop(weir_exec *e, weir_origin *o, const weir_msg *msg, uint32_t node) {
    o->hops++;
    o->last_tick = e->tick;
    /* MAX_TRACE_HOPS: past it the hops are counted, not recorded */
    if (!o->trace || json_array_size(o->trace) >= e->max_trace_hops) return;
    char *to = weir__node_port(e, node, msg->port, true);
    char *from = msg->from == WEIR_NONE ? NULL : weir__node_port(e, msg->from, msg->from_port, false);
    json_t *entry = json_pack("{s:I,s:s?,s:s?,s:O}", "tick", (json_int_t)e->tick, "from", from, "to", to, "value",
                              msg->value);
    if (entry) json_array_append_new(o->trace, entry);
    weir__free(to);
    weir__free(from);
}

/* ---------------------------------------------------------------- latency */

/* How many invocations of a fast node to let pass untimed before the next
 * timed one: geometric with p = 1/WEIR_LATENCY_SAMPLE, so that each
 * invocation is timed with probability p whatever came before (an unbiased
 * sample, however the node's durations are patterned). */
static uint32_t latency_gap(weir_exec *e) {
    uint64_t x = e->lat_rng; /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    e->lat_rng = x;
    double u = (double)((x >> 11) + 1) * 0x1p-53; /* (0, 1] */
    double gap = log(u) / log1p(-1.0 / WEIR_LATENCY_SAMPLE);
    return gap < 65536.0 ? (uint32_t)gap : 65536u; /* (1 - p)^65536: never */
}

/* A timed invocation of node `in` took dt ns.  It stands for 1/p
 * invocations (p: the chance it had to be timed).  After one of at least
 * WEIR_LATENCY_FULL_NS the next invocation is timed too (p = 1); after a
 * faster one, sampling goes on at p = 1/WEIR_LATENCY_SAMPLE. */
static void latency_sample(weir_exec *e, weir_inst *in, int64_t dt) {
    if (dt < 0) dt = 0;
    int64_t w = in->lat_sampling ? WEIR_LATENCY_SAMPLE : 1;
    in->lat_sum_ns += dt * w;
    in->lat_weight += (uint64_t)w;
    if (dt > in->lat_max_ns) in->lat_max_ns = dt;
    e->lat_sum_ns += dt * w;
    e->lat_weight += (uint64_t)w;
    if (dt > e->lat_max_ns) e->lat_max_ns = dt;
    in->lat_sampling = dt < WEIR_LATENCY_FULL_NS;
    in->lat_skip = in->lat_sampling ? latency_gap(e) : 0;
}

/* Process one message from node v's inbox. */
static void invoke(weir_exec *e, uint32_t v) {
    weir_inst *in = &e->inst[v];
    uint32_t m = in->head;
    weir_msg msg = e->msgs[m];
    in->head = msg.next;
    if (in->head == WEIR_NONE) in->tail = WEIR_NONE;
    e->msgs[m].next = e->msg_free;
    e->msg_free = m;
    e->pending_msgs--;

    e->cur_node = v;
    e->cur_origin = msg.origin;
    e->wave_hops++;
    e->processed++;
    e->invocations++;
    in->invocations++;
    if (msg.origin != WEIR_NONE) trace_hop(e, &e->org[msg.origin], &msg, v);
    if (weir__exec_wants(e, WEIR_EV_INVOKED)) weir__event_invoked(e, v, msg.port);

    const weir_component *c = e->g->nodes[v].comp;
    /* latency: this invocation is timed when the node's countdown is out */
    int64_t (*clock)(void *) = e->sh.clock_ns, t0 = 0;
    void *clock_ud = e->sh.effect_ud;
    if (clock) {
        if (in->lat_skip) {
            in->lat_skip--;
            clock = NULL;
        } else {
            t0 = clock(clock_ud);
        }
    }
    e->cur_value = msg.value;
    int rc = c->process(&in->ctx, msg.port, msg.value);
    if (clock) latency_sample(e, in, clock(clock_ud) - t0);
    json_decref(e->cur_value); /* unless a push took it over */
    e->cur_value = NULL;
    if (rc < 0 && !e->fail_pending) {
        char buf[256];
        snprintf(buf, sizeof buf, "node \"%s\" (%s) failed: %s", e->g->nodes[v].id, c->id, weir_strerror(rc));
        weir__exec_fail(e, v, buf, NULL);
    }
    if (msg.origin != WEIR_NONE) weir__origin_dec(e, msg.origin);
    e->cur_origin = WEIR_NONE;
}

/* Start counting a wave's hops (MAX_WAVE_HOPS). */
static void wave_begin(weir_exec *e) {
    e->wave_hops = 0;
    e->wave_cut = false;
}

/* A wave is over (or was stopped part-way by a failure): what a cut left in
 * the inboxes is freed (its origin settles with WEIR_ELIMIT), and a message
 * pool one big wave grew is given back. */
static void wave_end(weir_exec *e) {
    if (e->wave_cut) {
        free_inboxes(e);
        e->cursor = e->g->n_nodes;
        e->wave_cut = false;
    }
    if (e->pending_msgs == 0 && e->msgs_cap > MSG_POOL_KEEP) {
        weir__free(e->msgs);
        e->msgs = NULL;
        e->msgs_cap = 0;
        e->msg_free = WEIR_NONE;
    }
}

/* Run until no message is pending (or the execution fails, or the wave is
 * cut at MAX_WAVE_HOPS). */
static void run_wave(weir_exec *e) {
    const uint32_t *topo = e->g->topo;
    while (e->pending_msgs && !e->fail_pending && !e->wave_cut) {
        uint32_t v = topo[e->cursor];
        if (e->inst[v].head == WEIR_NONE) {
            e->cursor++;
            continue;
        }
        invoke(e, v);
    }
    e->cursor = e->g->n_nodes;
}

/* A wave that also gives every component a chance to flush (completion and
 * graceful stop): each node sees upstream flushes before its own drain. */
static void drain_wave(weir_exec *e) {
    uint64_t emissions = e->emissions, invocations = e->invocations;
    e->tick++;
    wave_begin(e);
    for (uint32_t pos = 0; pos < e->g->n_nodes && !e->fail_pending && !e->wave_cut; pos++) {
        uint32_t v = e->g->topo[pos];
        while (e->inst[v].head != WEIR_NONE && !e->fail_pending && !e->wave_cut) invoke(e, v);
        const weir_component *c = e->g->nodes[v].comp;
        if (!c->drain || !e->inst[v].inited || e->fail_pending || e->wave_cut) continue;
        e->cur_node = v;
        e->cur_origin = WEIR_NONE;
        int rc = c->drain(&e->inst[v].ctx);
        if (rc < 0) weir__exec_fail(e, v, "drain failed", NULL);
    }
    e->cursor = e->g->n_nodes;
    wave_end(e);
    /* Nothing flushed: no wave happened, so no tick is spent. */
    if (e->emissions == emissions && e->invocations == invocations && !e->fail_pending) e->tick--;
}

/* --------------------------------------------------------------- effects */

static void cancel_all_effects(weir_exec *e) {
    for (size_t s = 0; s < e->fx_cap; s++) {
        weir_fx *f = &e->fx[s];
        if (!f->live) continue;
        uint64_t id = ((uint64_t)f->gen << 32) | (uint64_t)(s + 1);
        if (e->sh.cancel) e->sh.cancel(e->sh.effect_ud, e, id);
        json_decref(f->payload);
        json_decref(f->cont);
        origin_abort(e, f->origin);
        f->live = false;
        f->payload = f->cont = NULL;
        f->gen = f->gen + 1 ? f->gen + 1 : 1;
        f->next_free = e->fx_free;
        e->fx_free = (uint32_t)s;
    }
    e->fx_live_user = 0;
    e->timeout_fx = 0;
}

/* -------------------------------------------------------------- the queue */

static void input_release(weir_input *in) {
    json_decref(in->value);
    json_decref(in->cont);
    weir__free(in->error);
}

static int queue_push(weir_exec *e, const weir_input *in) {
    if (e->q_len == e->q_cap) {
        size_t old = e->q_cap;
        if (weir__grow((void **)&e->q, &e->q_cap, old + 1, sizeof *e->q)) return WEIR_ENOMEM;
        /* unwrap: move the wrapped head segment to the new end */
        if (e->q_head + e->q_len > old) {
            size_t head_part = old - e->q_head;
            memmove(e->q + e->q_cap - head_part, e->q + e->q_head, head_part * sizeof *e->q);
            e->q_head = e->q_cap - head_part;
        }
    }
    e->q[(e->q_head + e->q_len) % e->q_cap] = *in;
    e->q_len++;
    if (in->kind == INPUT_INJECT) e->q_injects++;
    return 0;
}

int weir__exec_queue_push(weir_exec *e, const weir_input *in) { return queue_push(e, in); }

static weir_input queue_pop(weir_exec *e) {
    weir_input in = e->q[e->q_head];
    e->q_head = (e->q_head + 1) % e->q_cap;
    e->q_len--;
    if (in.kind == INPUT_INJECT) e->q_injects--;
    return in;
}

/* Remove the i-th queued input (0 = the head) into *out. */
static void queue_remove(weir_exec *e, size_t i, weir_input *out) {
    *out = e->q[(e->q_head + i) % e->q_cap];
    for (size_t j = i; j + 1 < e->q_len; j++)
        e->q[(e->q_head + j) % e->q_cap] = e->q[(e->q_head + j + 1) % e->q_cap];
    e->q_len--;
    if (out->kind == INPUT_INJECT) e->q_injects--;
}

/* Remove the oldest queued inject (drop-oldest). */
static bool queue_drop_oldest_inject(weir_exec *e, weir_input *out) {
    for (size_t i = 0; i < e->q_len; i++) {
        if (e->q[(e->q_head + i) % e->q_cap].kind != INPUT_INJECT) continue;
        queue_remove(e, i, out);
        return true;
    }
    return false;
}

bool weir__exec_unqueue_result(weir_exec *e, uint64_t fx_id, uint32_t node) {
    for (size_t i = 0; i < e->q_len; i++) {
        const weir_input *q = &e->q[(e->q_head + i) % e->q_cap];
        if (q->kind != INPUT_RESOLVE || q->fx_id != fx_id || q->node != node) continue;
        weir_input in;
        queue_remove(e, i, &in);
        weir__origin_dec(e, in.origin);
        input_release(&in);
        return true;
    }
    return false;
}

static size_t discard_queue(weir_exec *e) {
    size_t n = e->q_len;
    while (e->q_len) {
        weir_input in = queue_pop(e);
        origin_abort(e, in.origin);
        input_release(&in);
    }
    return n;
}

/* Throw the open wave away (stop, failure, destroy): its pending messages
 * and its input.  What they owed a tracked inject settles with WEIR_ESTATE. */
static void discard_wave(weir_exec *e) {
    if (!e->wave_open) return;
    e->wave_open = false;
    free_inboxes(e);
    e->cursor = e->g->n_nodes;
    origin_abort(e, e->wave_in.origin);
    input_release(&e->wave_in);
    memset(&e->wave_in, 0, sizeof e->wave_in);
}

/* ----------------------------------------------------------- transitions */

static void set_state(weir_exec *e, weir_state s) {
    weir_state prev = e->state;
    e->state = s;
    if (weir__exec_wants(e, WEIR_EV_STATE)) weir__event_state(e, prev);
}

static void cleanup_instances(weir_exec *e) {
    e->cleaning = true; /* effects requested now are fire-and-forget */
    for (uint32_t pos = 0; pos < e->g->n_nodes; pos++) {
        uint32_t v = e->g->topo[pos];
        weir_inst *in = &e->inst[v];
        if (!in->inited) continue;
        in->inited = false;
        const weir_component *c = e->g->nodes[v].comp;
        e->cur_node = v;
        if (c->cleanup) c->cleanup(&in->ctx);
    }
    e->cleaning = false;
}

/* Move to a finished state: cancel effects, drop queued work, clean up,
 * settle every tracked inject, tell the shell. */
static size_t finish(weir_exec *e, weir_state s, size_t discarded_before) {
    cancel_all_effects(e);
    size_t discarded = discarded_before + discard_queue(e);
    discard_wave(e);
    free_inboxes(e);
    cleanup_instances(e);
    e->finished_ms = e->now;
    set_state(e, s);
    if (weir__exec_wants(e, s == WEIR_STATE_COMPLETED ? WEIR_EV_COMPLETED
                            : s == WEIR_STATE_FAILED  ? WEIR_EV_FAILED
                                                      : WEIR_EV_CANCELLED)) {
        if (s == WEIR_STATE_COMPLETED)
            weir__exec_event(e, "execution:completed",
                             json_pack("{s:s,s:o}", "executionId", e->id, "metrics", weir_exec_metrics(e, e->now)));
        else if (s == WEIR_STATE_FAILED)
            weir__exec_event(e, "execution:failed", json_pack("{s:s,s:O}", "executionId", e->id, "error", e->error));
        else
            weir__exec_event(e, "execution:cancelled",
                             json_pack("{s:s,s:I}", "executionId", e->id, "discarded", (json_int_t)discarded));
    }
    settle_dirty(e);
    for (size_t i = 0; i < e->org_cap; i++)
        if (e->org[i].live) origin_settle(e, (uint32_t)i, e->org[i].status ? e->org[i].status : WEIR_ESTATE);
    if (e->sh.finished) e->sh.finished(e->sh.ud, e);
    return discarded;
}

void weir__exec_fail(weir_exec *e, uint32_t node, const char *message, json_t *details) {
    if (e->fail_pending || e->wave_cut || weir_state_finished(e->state)) return;
    json_t *err = json_pack("{s:s}", "message", message);
    if (err && node != WEIR_NONE) json_object_set_new(err, "nodeId", json_string(e->g->nodes[node].id));
    if (err && details) json_object_set(err, "details", details);
    e->fail_pending = true;
    e->fail_error = err ? err : json_null();
}

/* If a failure was requested during the input, carry it out. */
static bool apply_failure(weir_exec *e) {
    if (!e->fail_pending) return false;
    json_decref(e->error);
    e->error = e->fail_error;
    e->fail_error = NULL;
    finish(e, WEIR_STATE_FAILED, 0);
    e->fail_pending = false;
    return true;
}

static bool outputs_all_emitted(const weir_exec *e) {
    for (uint32_t v = 0; v < e->g->n_nodes; v++)
        if (e->g->nodes[v].out_degree == 0 && e->inst[v].emitted == 0) return false;
    return true;
}

static bool in_flight(const weir_exec *e) { return e->q_len || e->fx_live_user || e->pending_msgs; }

static void maybe_complete(weir_exec *e) {
    if (e->state != WEIR_STATE_RUNNING || e->completion != WEIR_COMPLETION_AUTO || e->holds) return;
    if (in_flight(e) || !outputs_all_emitted(e)) return;
    /* Let components flush; repeat while flushing produces more. */
    for (int round = 0; round < 64; round++) {
        uint64_t before = e->emissions;
        e->in_input = true;
        drain_wave(e);
        e->in_input = false;
        if (apply_failure(e)) return;
        if (in_flight(e)) return; /* the flush asked for effects: wait for them */
        if (e->emissions == before) break;
    }
    finish(e, WEIR_STATE_COMPLETED, 0);
}

/* ----------------------------------------------------------------- inputs */

/* Begin an input: a tick is spent and in_input is set until input_end.  An
 * inject's message is put in its node's inbox (the wave invokes it first);
 * an effect result's resume is invoked here (the input's first invocation).
 * A failure is left pending (fail_pending) for input_end. */
static void input_begin(weir_exec *e, const weir_input *in) {
    e->in_input = true;
    e->now = in->now;
    e->tick++;
    wave_begin(e);
    if (in->kind == INPUT_INJECT) {
        weir_origin *o = weir__exec_origin(e, in->origin);
        if (o) o->first_tick = o->last_tick = e->tick;
        int rc = weir__exec_push(e, in->node, in->port, in->value, in->origin, WEIR_NONE, WEIR_NONE);
        if (rc) weir__exec_fail(e, in->node, "out of memory queueing an injected message", NULL);
    } else {
        uint32_t v = in->node;
        const weir_component *c = e->g->nodes[v].comp;
        e->cur_node = v;
        e->cur_origin = in->origin;
        weir_origin *o = weir__exec_origin(e, in->origin);
        if (o) o->last_tick = e->tick;
        weir_effect_result res = {in->error == NULL, in->value ? in->value : json_null(), in->error};
        e->inst[v].invocations++;
        e->invocations++;
        int rc = c->resume ? c->resume(&e->inst[v].ctx, &res, in->cont) : 0;
        e->cur_origin = WEIR_NONE;
        if (rc < 0) weir__exec_fail(e, v, "resuming after an effect failed", NULL);
    }
}

/* End an input whose wave is over (no message pending, or a failure
 * pending): the input stops counting in its origin and is released, a
 * pending failure is carried out, else completion and settled injects are
 * checked. */
static void input_end(weir_exec *e, weir_input *in) {
    wave_end(e);
    if (in->origin != WEIR_NONE) weir__origin_dec(e, in->origin);
    input_release(in);
    e->in_input = false;
    if (apply_failure(e)) return;
    /* Completion first: whoever learns that an inject settled also sees
     * the state it led to (finish settles what is still dirty). */
    maybe_complete(e);
    settle_dirty(e);
}

static void drain_queue(weir_exec *e);

/* The upgrade's wave (exec_upgrade.c): init the nodes marked fresh, in
 * topological order, run what they emitted, then end as an input does
 * (failure, completion, settled injects).  The tick is spent by the
 * caller. */
void weir__exec_init_fresh(weir_exec *e, const bool *fresh) {
    e->in_input = true;
    wave_begin(e);
    for (uint32_t pos = 0; pos < e->g->n_nodes && !e->fail_pending; pos++) {
        uint32_t v = e->g->topo[pos];
        if (!fresh[v]) continue;
        weir_inst *in = &e->inst[v];
        const weir_component *c = e->g->nodes[v].comp;
        e->cur_node = v;
        int rc = c->init ? c->init(&in->ctx) : 0;
        if (rc < 0 && !e->wave_cut) {
            char buf[256];
            snprintf(buf, sizeof buf, "node \"%s\" (%s) added by an upgrade failed to initialize: %s",
                     e->g->nodes[v].id, c->id, weir_strerror(rc));
            weir__exec_fail(e, v, buf, NULL);
        } else {
            in->inited = true;
        }
    }
    e->cur_node = WEIR_NONE;
    if (!e->fail_pending && !e->wave_cut && e->pending_msgs) run_wave(e);
    wave_end(e);
    e->in_input = false;
    if (apply_failure(e)) return;
    drain_queue(e);
    maybe_complete(e);
    settle_dirty(e);
}

/* Process one input as a whole wave (not stepping). */
static void process_input(weir_exec *e, weir_input *in) {
    input_begin(e, in);
    run_wave(e); /* does nothing after a failure */
    input_end(e, in);
}

/* Process queued inputs in arrival order while running and not stepping. */
static void drain_queue(weir_exec *e) {
    while (e->q_len && e->state == WEIR_STATE_RUNNING && !e->in_input && !e->stepping && !e->wave_open) {
        weir_input in = queue_pop(e);
        process_input(e, &in);
    }
}

/* -------------------------------------------------------------- stepping */

/* Invoke the next message of the wave: the first in topological order from
 * the cursor (the order run_wave takes).  Requires pending_msgs.  Names the
 * node and the port in *out. */
static void wave_next(weir_exec *e, weir_step *out) {
    const uint32_t *topo = e->g->topo;
    while (e->inst[topo[e->cursor]].head == WEIR_NONE) e->cursor++;
    uint32_t v = topo[e->cursor];
    const weir_node *nd = &e->g->nodes[v];
    out->node = nd->id;
    out->port = nd->inputs[e->msgs[e->inst[v].head].port];
    invoke(e, v);
}

/* After a step of input `in`: the wave stays open while messages are
 * pending, else (or on a failure) it ends and so does the input. */
static void wave_after_step(weir_exec *e, weir_input *in, weir_step *out) {
    out->stepped = true;
    out->tick = e->tick; /* before completion's flush spends another */
    if (e->pending_msgs && !e->fail_pending && !e->wave_cut) {
        e->wave_in = *in;
        e->wave_open = true;
        e->in_input = false;
        return;
    }
    out->wave_done = true;
    e->cursor = e->g->n_nodes;
    input_end(e, in);
}

/* Run the open wave to its end, as if it had never been stepped (stepping
 * turned off, or resumed with stepping off). */
static void wave_finish(weir_exec *e) {
    if (!e->wave_open || e->stepping || e->state != WEIR_STATE_RUNNING) return;
    weir_input in = e->wave_in;
    e->wave_open = false;
    memset(&e->wave_in, 0, sizeof e->wave_in);
    e->in_input = true;
    e->now = in.now;
    run_wave(e);
    input_end(e, &in);
}

/* Accept an input: process it now, or queue it (paused, stepping, or
 * mid-input). */
static int submit(weir_exec *e, weir_input *in, bool bounded, bool *queued, bool *dropped) {
    *queued = *dropped = false;
    if (e->state == WEIR_STATE_RUNNING && !e->in_input && e->q_len == 0 && !e->stepping && !e->wave_open) {
        process_input(e, in);
        drain_queue(e); /* inputs that arrived while it ran */
        return 0;
    }
    if (bounded && e->q_injects >= e->max_queue) {
        e->backpressure++;
        weir_input victim;
        if (e->overflow == WEIR_OVERFLOW_DROP_NEWEST || e->overflow == WEIR_OVERFLOW_DROP_OLDEST) {
            bool newest = e->overflow == WEIR_OVERFLOW_DROP_NEWEST || !queue_drop_oldest_inject(e, &victim);
            if (newest) victim = *in;
            e->dropped++;
            if (weir__exec_wants(e, WEIR_EV_DROPPED))
                weir__exec_event(e, "message:dropped",
                                 json_pack("{s:s,s:s,s:s,s:s,s:O}", "executionId", e->id, "policy",
                                           e->overflow == WEIR_OVERFLOW_DROP_NEWEST ? "drop-newest" : "drop-oldest",
                                           "nodeId", e->g->nodes[victim.node].id, "port",
                                           e->g->nodes[victim.node].inputs[victim.port], "value", victim.value));
            if (victim.origin != WEIR_NONE) {
                weir_origin *o = &e->org[victim.origin];
                if (--o->outstanding == 0) origin_settle(e, victim.origin, WEIR_EFULL);
            }
            input_release(&victim);
            if (newest) {
                *dropped = true;
                return 0;
            }
        } else {
            return WEIR_EFULL;
        }
    }
    int rc = queue_push(e, in);
    if (rc) return rc;
    drain_queue(e); /* running with a backlog: keep arrival order */
    *queued = e->state != WEIR_STATE_RUNNING || e->in_input || e->stepping || e->wave_open;
    return 0;
}

/* ------------------------------------------------------------- public API */

int weir_exec_create(weir_graph *g, const weir_exec_options *opts, const weir_shell *shell, weir_exec **out,
                     weir_error *err) {
    *out = NULL;
    weir_exec_options o = opts ? *opts : (weir_exec_options){.timeout_ms = -1};
    weir_exec *e = weir__calloc(1, sizeof *e);
    if (!e) return weir__error(err, WEIR_ENOMEM, "out of memory creating an execution");
    e->g = weir_graph_ref(g);
    if (shell) e->sh = *shell;
    e->listen = WEIR_EV_ALL;
    e->lat_rng = 0x9e3779b97f4a7c15u; /* fixed: the same durations sample the same way */
    char defid[256];
    snprintf(defid, sizeof defid, "%s-exec", g->id);
    e->id = weir__strdup(o.id ? o.id : defid);
    e->runtime = weir__strdup(o.runtime ? o.runtime : "realtime");
    e->inst = weir__calloc(g->n_nodes ? g->n_nodes : 1, sizeof *e->inst);
    e->msg_free = e->fx_free = e->org_free = WEIR_NONE;
    e->cur_node = e->cur_origin = WEIR_NONE;
    e->cursor = g->n_nodes;
    if (!e->id || !e->runtime || !e->inst) goto oom;
    for (uint32_t v = 0; v < g->n_nodes; v++) {
        weir_inst *in = &e->inst[v];
        in->ctx.e = e;
        in->ctx.node = v;
        in->head = in->tail = WEIR_NONE;
        size_t sz = g->nodes[v].comp->state_size;
        if (sz && !(in->state = weir__calloc(1, sz))) goto oom;
    }
    e->completion = o.completion != WEIR_COMPLETION_DEFAULT ? o.completion
                    : g->completion != WEIR_COMPLETION_DEFAULT ? g->completion
                                                               : WEIR_COMPLETION_AUTO;
    e->on_error = o.on_error != WEIR_ON_ERROR_DEFAULT ? o.on_error
                  : g->on_error != WEIR_ON_ERROR_DEFAULT  ? g->on_error
                                                          : WEIR_ON_ERROR_FAIL;
    e->overflow = o.overflow != WEIR_OVERFLOW_DEFAULT ? o.overflow
                  : g->overflow != WEIR_OVERFLOW_DEFAULT ? g->overflow
                                                         : WEIR_OVERFLOW_REFUSE;
    e->max_queue = o.max_queue ? o.max_queue : DEFAULT_MAX_QUEUE;
    e->max_wave_hops = o.max_wave_hops ? o.max_wave_hops : WEIR_DEFAULT_MAX_WAVE_HOPS;
    e->max_trace_hops = o.max_trace_hops ? o.max_trace_hops : WEIR_DEFAULT_MAX_TRACE_HOPS;
    if (o.timeout_ms >= 0) e->timeout_ms = o.timeout_ms;
    else if (g->timeout_ms >= 0) e->timeout_ms = g->timeout_ms;
    else e->timeout_ms = e->completion == WEIR_COMPLETION_AUTO ? o.default_timeout_ms : 0;
    if (e->timeout_ms < 0) e->timeout_ms = 0;
    e->state = WEIR_STATE_PENDING;
    *out = e;
    return 0;
oom:
    weir_exec_destroy(e);
    return weir__error(err, WEIR_ENOMEM, "out of memory creating an execution");
}

void weir_exec_destroy(weir_exec *e) {
    if (!e) return;
    /* Destroying a live execution: release without telling anyone. */
    e->sh.event = NULL;
    e->sh.settled = NULL;
    e->sh.finished = NULL;
    if (e->inst) {
        if (!weir_state_finished(e->state) && e->state != WEIR_STATE_PENDING) {
            cancel_all_effects(e);
            discard_queue(e);
            discard_wave(e);
            free_inboxes(e);
            cleanup_instances(e);
        }
        for (uint32_t v = 0; v < e->g->n_nodes; v++) {
            weir__free(e->inst[v].state);
            json_decref(e->inst[v].kv);
        }
    }
    for (size_t i = 0; i < e->org_cap; i++) {
        json_decref(e->org[i].outputs);
        json_decref(e->org[i].trace);
        json_decref(e->org[i].error);
    }
    weir__free(e->inst);
    weir__free(e->msgs);
    weir__free(e->q);
    weir__free(e->fx);
    weir__free(e->org);
    weir__free(e->dirty);
    json_decref(e->error);
    json_decref(e->id_json);
    for (size_t i = 0; i < e->n_taps; i++) weir__free(e->taps[i].port);
    weir__free(e->taps);
    json_decref(e->dg_value);
    weir__cbuf_free(&e->dg_text);
    json_decref(e->fail_error);
    weir__free(e->id);
    weir__free(e->runtime);
    weir_graph_unref(e->g);
    weir__free(e);
}

static int state_error(const weir_exec *e, weir_error *err, const char *op, const char *need) {
    return weir__error(err, WEIR_ESTATE, "cannot %s execution %s: it is %s (it must be %s)", op, e->id,
                       weir_state_name(e->state), need);
}

int weir__request_internal_timer(weir_exec *e, int64_t delay_ms, uint64_t *id);

static int exec_start(weir_exec *e, int64_t now_ms, weir_error *err) {
    e->now = now_ms;
    e->started_ms = now_ms;
    e->started = true;
    set_state(e, WEIR_STATE_INITIALIZING);
    e->in_input = true;
    wave_begin(e); /* what init emits is the first wave's */
    for (uint32_t pos = 0; pos < e->g->n_nodes && !e->fail_pending; pos++) {
        uint32_t v = e->g->topo[pos];
        weir_inst *in = &e->inst[v];
        const weir_component *c = e->g->nodes[v].comp;
        e->cur_node = v;
        int rc = c->init ? c->init(&in->ctx) : 0;
        if (rc < 0 && !e->wave_cut) { /* a cut (MAX_WAVE_HOPS) refuses emits, not init */
            char buf[256];
            snprintf(buf, sizeof buf, "node \"%s\" (%s) failed to initialize: %s", e->g->nodes[v].id, c->id,
                     weir_strerror(rc));
            weir__exec_fail(e, v, buf, NULL);
        } else {
            in->inited = true;
        }
    }
    if (!e->fail_pending && e->timeout_ms > 0 && weir__request_internal_timer(e, e->timeout_ms, &e->timeout_fx))
        weir__exec_fail(e, WEIR_NONE, "out of memory arming the execution timeout", NULL);
    /* Anything init emitted runs as the first wave. */
    if (!e->fail_pending && !e->wave_cut && e->pending_msgs) {
        e->tick++;
        run_wave(e);
    }
    wave_end(e);
    e->in_input = false;
    if (apply_failure(e)) return weir__error(err, WEIR_ERUNTIME, "%s", json_string_value(json_object_get(e->error, "message")));
    set_state(e, WEIR_STATE_RUNNING);
    if (weir__exec_wants(e, WEIR_EV_STARTED))
        weir__exec_event(e, "execution:started", json_pack("{s:s,s:s,s:s}", "executionId", e->id, "graphId", e->g->id,
                                                           "state", weir_state_name(e->state)));
    drain_queue(e);
    maybe_complete(e);
    return 0;
}

static void list_ports(weir_error *err, const weir_node *nd) { weir__append_names(err, nd->inputs, nd->n_inputs); }

/* Resolve inj's node and input port, or say what exists. */
/* The node and input port an inject targets; on failure *node is WEIR_NONE and *port 0. */
/* An inject that names a graph node of a composed graph (its path, and
 * one of the input ports its metadata.ports maps; the only one when none
 * is named) goes to the inner node and port that port is mapped to. */
static int graph_node_target(const weir_exec *e, const weir_inject *inj, json_t *gin, uint32_t *node,
                             uint32_t *port, weir_error *err) {
    json_t *to = NULL;
    if (inj->port) to = json_object_get(gin, inj->port);
    else if (json_object_size(gin) == 1) to = json_object_iter_value(json_object_iter(gin));
    if (!to) {
        weir__error(err, WEIR_ENOTFOUND, "graph node \"%s\" has %s input port%s%s%s; its input ports are: ", inj->node,
                    inj->port ? "no" : "more than one", inj->port ? " \"" : "", inj->port ? inj->port : "",
                    inj->port ? "\"" : " (name one)");
        const char *name;
        json_t *v;
        size_t k = 0;
        json_object_foreach(gin, name, v) weir__error_append(err, "%s%s", k++ ? ", " : "", name);
        return WEIR_ENOTFOUND;
    }
    uint32_t v = weir__graph_node(e->g, json_string_value(json_object_get(to, "node")));
    const weir_node *nd = &e->g->nodes[v];
    uint32_t p = weir__port_index(nd->inputs, nd->n_inputs, json_string_value(json_object_get(to, "port")));
    if (p == WEIR_NONE) /* a dynamic port the flattening allowed: its name is not in the node's table yet */
        return weir__error(err, WEIR_ENOTFOUND, "graph node \"%s\" maps port \"%s\" to node \"%s\", which takes no "
                           "inject there; inject into node \"%s\" directly", inj->node, inj->port ? inj->port : "",
                           nd->id, nd->id);
    *node = v;
    *port = p;
    return 0;
}

static int inject_target(const weir_exec *e, const weir_inject *inj, uint32_t *node, uint32_t *port, weir_error *err) {
    *node = WEIR_NONE;
    *port = 0;
    if (!inj || !inj->node || !inj->value) return weir__error(err, WEIR_EINVAL, "an inject needs nodeId and value");
    const weir_graph *g = e->g;
    uint32_t v = weir__graph_node(g, inj->node);
    json_t *gin = v == WEIR_NONE ? json_object_get(g->graph_inputs, inj->node) : NULL;
    if (gin) return graph_node_target(e, inj, gin, node, port, err);
    if (v == WEIR_NONE) {
        weir__error(err, WEIR_ENOTFOUND, "node \"%s\" is not in graph %s; its nodes are: ", inj->node, g->id);
        for (uint32_t i = 0; i < g->n_nodes; i++) weir__error_append(err, "%s%s", i ? ", " : "", g->nodes[i].id);
        const char *path;
        json_t *ports;
        size_t k = 0;
        json_object_foreach(g->graph_inputs, path, ports)
            weir__error_append(err, "%s%s", k++ ? ", " : "; and its graph nodes (inject into one by its id): ", path);
        return WEIR_ENOTFOUND;
    }
    const weir_node *nd = &g->nodes[v];
    if (nd->n_inputs == 0)
        return weir__error(err, WEIR_ENOTFOUND,
                           "node \"%s\" (%s) has no input port: it is a source that starts itself; inject into a "
                           "node it feeds instead",
                           nd->id, nd->comp->id);
    uint32_t p = 0;
    if (inj->port) p = weir__port_index(nd->inputs, nd->n_inputs, inj->port);
    if (p == WEIR_NONE || nd->n_inputs == 0) {
        weir__error(err, WEIR_ENOTFOUND, "node \"%s\" (%s) has no input port \"%s\"; its input ports are: ", nd->id,
                    nd->comp->id, inj->port ? inj->port : "");
        list_ports(err, nd);
        return WEIR_ENOTFOUND;
    }
    *node = v;
    *port = p;
    return 0;
}

int weir_exec_check_inject(const weir_exec *e, const weir_inject *inj, weir_error *err) {
    uint32_t v, port;
    return inject_target(e, inj, &v, &port, err);
}

static int exec_inject(weir_exec *e, const weir_inject *inj, uint32_t v, uint32_t port, int64_t now_ms,
                       weir_inject_ack *ack, weir_error *err) {
    unsigned flags = inj->flags;
    if (flags & (WEIR_INJECT_OUTPUTS | WEIR_INJECT_TRACE)) flags |= WEIR_INJECT_TRACK;
    uint32_t origin = WEIR_NONE;
    if (flags & WEIR_INJECT_TRACK) {
        origin = origin_new(e, flags);
        if (origin == WEIR_NONE) return weir__error(err, WEIR_ENOMEM, "out of memory accepting an inject");
        ack->inject_id = origin_id(e, origin);
        e->org[origin].user = inj->user;
    }
    weir_input in = {INPUT_INJECT, v, port, origin, 0, json_incref(inj->value), NULL, NULL, now_ms};
    uint64_t tick_before = e->tick;
    bool queued, dropped;
    int rc = submit(e, &in, true, &queued, &dropped);
    if (rc) {
        input_release(&in);
        if (origin != WEIR_NONE) {
            /* refused: free the origin without telling the shell */
            e->org[origin].outstanding = 0;
            void (*saved)(void *, weir_exec *, const weir_settled *) = e->sh.settled;
            e->sh.settled = NULL;
            origin_settle(e, origin, rc);
            e->sh.settled = saved;
        }
        ack->inject_id = 0;
        e->refused_full = rc == WEIR_EFULL;
        if (rc == WEIR_EFULL && e->state == WEIR_STATE_PAUSED)
            return weir__error(err, WEIR_EFULL,
                               "execution %s is paused and its queue is full (%zu messages, MAX_BACKPRESSURE_QUEUE); "
                               "resume it or retry later",
                               e->id, e->max_queue);
        if (rc == WEIR_EFULL)
            return weir__error(err, WEIR_EFULL,
                               "execution %s is stepping and its queue is full (%zu messages, "
                               "MAX_BACKPRESSURE_QUEUE); step it, turn stepping off or retry later",
                               e->id, e->max_queue);
        return weir__error(err, rc, "cannot accept the inject: %s", weir_strerror(rc));
    }
    ack->queued = queued;
    ack->dropped = dropped;
    if (!queued && !dropped) ack->tick = tick_before + 1;
    ack->settled = origin != WEIR_NONE ? !e->org[origin].live || e->org[origin].gen != (uint32_t)(ack->inject_id >> 32)
                                       : !queued;
    return 0;
}

static int exec_pause(weir_exec *e, int64_t now_ms) {
    e->now = now_ms;
    set_state(e, WEIR_STATE_PAUSED);
    if (weir__exec_wants(e, WEIR_EV_PAUSED))
        weir__exec_event(e, "execution:paused", json_pack("{s:s,s:s}", "executionId", e->id, "state", "paused"));
    return 0;
}

static int exec_resume(weir_exec *e, int64_t now_ms) {
    e->now = now_ms;
    set_state(e, WEIR_STATE_RUNNING);
    if (weir__exec_wants(e, WEIR_EV_RESUMED))
        weir__exec_event(e, "execution:resumed",
                         json_pack("{s:s,s:s,s:I}", "executionId", e->id, "state", "running", "queued",
                                   (json_int_t)e->q_len));
    wave_finish(e); /* left open by stepping, which is off now */
    drain_queue(e);
    if (e->state == WEIR_STATE_RUNNING) maybe_complete(e);
    return 0;
}

static int exec_stop(weir_exec *e, int64_t now_ms, size_t *discarded) {
    e->now = now_ms;
    size_t n = discard_queue(e);
    discard_wave(e); /* not counted: it is no queued input */
    if (e->state != WEIR_STATE_PENDING) {
        /* Graceful: components flush partial work before cleanup. */
        e->in_input = true;
        drain_wave(e);
        e->in_input = false;
        if (apply_failure(e)) {
            if (discarded) *discarded = n;
            return 0;
        }
    }
    n = finish(e, WEIR_STATE_CANCELLED, n);
    if (discarded) *discarded = n;
    return 0;
}

static int exec_resolve(weir_exec *e, uint64_t id, uint32_t slot, json_t *result, const char *error, int64_t now_ms,
                        weir_error *err) {
    weir_fx *f = &e->fx[slot - 1];
    weir_input in = {INPUT_RESOLVE, f->node, 0, f->origin, id, json_incref(result), f->cont, NULL, now_ms};
    bool internal = f->internal;
    json_decref(f->payload);
    f->live = false;
    f->payload = f->cont = NULL;
    f->gen = f->gen + 1 ? f->gen + 1 : 1;
    f->next_free = e->fx_free;
    e->fx_free = slot - 1;
    if (internal) {
        e->timeout_fx = 0;
        input_release(&in);
        if (weir_state_finished(e->state)) return 0;
        e->now = now_ms;
        char buf[128];
        snprintf(buf, sizeof buf, "execution timed out after %lld ms", (long long)e->timeout_ms);
        weir__exec_fail(e, WEIR_NONE, buf, NULL);
        if (!e->in_input) apply_failure(e);
        return 0;
    }
    e->fx_live_user--;
    if (error && !(in.error = weir__strdup(error))) {
        input_release(&in);
        if (in.origin != WEIR_NONE) weir__origin_dec(e, in.origin);
        return weir__error(err, WEIR_ENOMEM, "out of memory resolving an effect");
    }
    bool queued, dropped;
    int rc = submit(e, &in, false, &queued, &dropped);
    if (rc) {
        /* Could not even queue it: the work it owed is lost, so fail loudly. */
        input_release(&in);
        if (in.origin != WEIR_NONE) weir__origin_dec(e, in.origin);
        weir__exec_fail(e, in.node, "out of memory queueing an effect result", NULL);
        if (!e->in_input) apply_failure(e);
        return weir__error(err, rc, "cannot accept the effect result: %s", weir_strerror(rc));
    }
    return 0;
}

static int exec_hold(weir_exec *e, bool hold, int64_t now_ms) {
    if (hold) {
        e->holds++;
        return 0;
    }
    if (--e->holds == 0 && !e->in_input) {
        e->now = now_ms;
        maybe_complete(e);
    }
    return 0;
}

static void exec_stepping(weir_exec *e, bool on, int64_t now_ms) {
    e->stepping = on;
    if (on || e->state != WEIR_STATE_RUNNING || e->in_input) return;
    e->now = now_ms;
    wave_finish(e);
    drain_queue(e);
    if (e->state == WEIR_STATE_RUNNING) maybe_complete(e);
}

bool weir_exec_is_stepping(const weir_exec *e) { return e->stepping; }
bool weir_exec_wave_open(const weir_exec *e) { return e->wave_open; }

static int exec_step(weir_exec *e, int64_t now_ms, weir_step *out) {
    e->now = now_ms;
    weir_input in;
    if (e->wave_open) {
        in = e->wave_in;
        e->wave_open = false;
        memset(&e->wave_in, 0, sizeof e->wave_in);
        e->in_input = true;
        e->now = in.now; /* the wave's time, as unstepped */
        wave_next(e, out);
    } else if (e->q_len) {
        in = queue_pop(e);
        input_begin(e, &in);
        const weir_node *nd = &e->g->nodes[in.node];
        if (in.kind == INPUT_RESOLVE) {
            out->node = nd->id;
            out->port = nd->n_inputs ? nd->inputs[0] : NULL;
            out->resumed = true;
        } else if (!e->fail_pending) {
            wave_next(e, out);
        } else { /* its message could not even be queued */
            out->node = nd->id;
            out->port = nd->inputs[in.port];
        }
    } else {
        return 0;
    }
    wave_after_step(e, &in, out);
    return 0;
}

/* The public calls: checked, told to the shell (weir_shell.input), done. */

#define TOLD(e, rec, err, call)                                                                                        \
    do {                                                                                                               \
        int told_ = weir__in_begin((e), (rec), (err));                                                                 \
        if (told_) return told_;                                                                                       \
        int rc_ = (call);                                                                                              \
        weir__in_end(e);                                                                                               \
        return rc_;                                                                                                    \
    } while (0)

int weir_exec_start(weir_exec *e, int64_t now_ms, weir_error *err) {
    if (e->state != WEIR_STATE_PENDING) return state_error(e, err, "start", "pending");
    weir_input_rec r = {.kind = WEIR_IN_START, .now_ms = now_ms};
    TOLD(e, &r, err, exec_start(e, now_ms, err));
}

int weir_exec_inject(weir_exec *e, const weir_inject *inj, int64_t now_ms, weir_inject_ack *ack, weir_error *err) {
    weir_inject_ack dummy;
    if (!ack) ack = &dummy;
    memset(ack, 0, sizeof *ack);
    uint32_t v, port;
    int trc = inject_target(e, inj, &v, &port, err);
    if (trc) return trc;
    if (e->state != WEIR_STATE_RUNNING && e->state != WEIR_STATE_PAUSED)
        return state_error(e, err, "inject into", "running or paused");
    weir_input_rec r = {.kind = WEIR_IN_INJECT, .now_ms = now_ms, .node = inj->node, .port = inj->port,
                        .value = inj->value, .flags = inj->flags};
    TOLD(e, &r, err, exec_inject(e, inj, v, port, now_ms, ack, err));
}

int weir_exec_pause(weir_exec *e, int64_t now_ms, weir_error *err) {
    if (e->state != WEIR_STATE_RUNNING) return state_error(e, err, "pause", "running");
    weir_input_rec r = {.kind = WEIR_IN_PAUSE, .now_ms = now_ms};
    TOLD(e, &r, err, exec_pause(e, now_ms));
}

int weir_exec_resume(weir_exec *e, int64_t now_ms, weir_error *err) {
    if (e->state != WEIR_STATE_PAUSED) return state_error(e, err, "resume", "paused");
    weir_input_rec r = {.kind = WEIR_IN_RESUME, .now_ms = now_ms};
    TOLD(e, &r, err, exec_resume(e, now_ms));
}

int weir_exec_stop(weir_exec *e, int64_t now_ms, size_t *discarded, weir_error *err) {
    if (discarded) *discarded = 0;
    if (e->state != WEIR_STATE_RUNNING && e->state != WEIR_STATE_PAUSED && e->state != WEIR_STATE_PENDING)
        return state_error(e, err, "stop", "pending, running or paused");
    weir_input_rec r = {.kind = WEIR_IN_STOP, .now_ms = now_ms};
    TOLD(e, &r, err, exec_stop(e, now_ms, discarded));
}

int weir_exec_resolve(weir_exec *e, uint64_t id, json_t *result, const char *error, int64_t now_ms, weir_error *err) {
    uint32_t slot = (uint32_t)(id & 0xffffffffu);
    uint32_t gen = (uint32_t)(id >> 32);
    if (slot == 0 || slot > e->fx_cap || !e->fx[slot - 1].live || e->fx[slot - 1].gen != gen)
        return weir__error(err, WEIR_ESTALE, "effect %llu of execution %s is unknown, cancelled or already resolved",
                           (unsigned long long)id, e->id);
    weir_input_rec r = {.kind = WEIR_IN_RESOLVE, .now_ms = now_ms, .effect = id,
                        .effect_kind = e->fx[slot - 1].kind, .result = result, .error = error};
    TOLD(e, &r, err, exec_resolve(e, id, slot, result, error, now_ms, err));
}

int weir_exec_hold(weir_exec *e, bool hold, int64_t now_ms, weir_error *err) {
    if (weir_state_finished(e->state)) return state_error(e, err, hold ? "hold" : "release", "not finished");
    if (!hold && e->holds == 0)
        return weir__error(err, WEIR_EINVAL, "execution %s has no open input source to release", e->id);
    weir_input_rec r = {.kind = hold ? WEIR_IN_HOLD : WEIR_IN_RELEASE, .now_ms = now_ms};
    TOLD(e, &r, err, exec_hold(e, hold, now_ms));
}

void weir_exec_stepping(weir_exec *e, bool on, int64_t now_ms) {
    if (e->stepping == on) return;
    weir_input_rec r = {.kind = WEIR_IN_STEPPING, .now_ms = now_ms, .on = on};
    if (weir__in_begin(e, &r, NULL)) return; /* not recorded: not done (weir_exec_is_stepping tells) */
    exec_stepping(e, on, now_ms);
    weir__in_end(e);
}

int weir_exec_step(weir_exec *e, int64_t now_ms, weir_step *out, weir_error *err) {
    memset(out, 0, sizeof *out);
    if (e->state == WEIR_STATE_PAUSED)
        return weir__error(err, WEIR_ESTATE, "cannot step execution %s: it is paused (resume it first)", e->id);
    if (e->state != WEIR_STATE_RUNNING) return state_error(e, err, "step", "running");
    if (!e->stepping)
        return weir__error(err, WEIR_ESTATE,
                           "cannot step execution %s: it is not in stepping mode (turn stepping on first)", e->id);
    if (e->in_input)
        return weir__error(err, WEIR_ESTATE, "cannot step execution %s from inside one of its own callbacks", e->id);
    if (!e->wave_open && !e->q_len) return 0; /* nothing to step: no input */
    weir_input_rec r = {.kind = WEIR_IN_STEP, .now_ms = now_ms};
    TOLD(e, &r, err, exec_step(e, now_ms, out));
}

int weir_exec_abort(weir_exec *e, int64_t now_ms, const char *message) {
    if (weir_state_finished(e->state) || e->in_input) return WEIR_ESTATE;
    e->now = now_ms;
    weir__exec_fail(e, WEIR_NONE, message ? message : "aborted", NULL);
    apply_failure(e);
    return 0;
}

void weir_exec_listen_mask(weir_exec *e, uint32_t mask) {
    mask &= WEIR_EV_ALL;
    /* Kinds not built until now show as a gap in the numbers. */
    if ((mask & ~e->listen) && e->started) e->seq++;
    e->listen = mask;
}

uint32_t weir_exec_listened(const weir_exec *e) { return e->listen; }

void weir_exec_listen(weir_exec *e, bool on) { weir_exec_listen_mask(e, on ? WEIR_EV_ALL : 0); }

uint64_t weir_exec_seq(const weir_exec *e) { return e->seq; }

const char *weir_exec_id(const weir_exec *e) { return e->id; }
weir_graph *weir_exec_graph(const weir_exec *e) { return e->g; }
weir_state weir_exec_state(const weir_exec *e) { return e->state; }
uint64_t weir_exec_tick(const weir_exec *e) { return e->tick; }
bool weir_exec_idle(const weir_exec *e) { return !in_flight(e); }
size_t weir_exec_pending_effects(const weir_exec *e) { return e->fx_live_user; }
size_t weir_exec_queue_depth(const weir_exec *e) { return e->q_len; }
json_t *weir_exec_error(const weir_exec *e) { return e->error; }
