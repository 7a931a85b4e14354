/*
 * The execution's private state, shared by exec.c (lifecycle, inputs,
 * waves), exec_ctx.c (the handler context: emit, effects, state, log) and
 * exec_json.c (events, metrics).
 *
 * Invariants:
 *  - Between inputs every inbox is empty (a wave runs to the end), except
 *    while an input is being processed (in_input) and while a wave is open
 *    (wave_open: stepping stopped part-way through an input, SPEC §4.5
 *    `step`).  An open wave is the only partly processed input: its
 *    messages wait in the inboxes, its input in wave_in (still counted in
 *    its origin), and every other input waits in the queue until it ends.
 *    A wave is open only while messages are pending (pending_msgs > 0), and
 *    only an execution that steps or is paused keeps one open: turning
 *    stepping off or resuming without it runs the wave to its end.
 *  - Messages only travel to nodes later in topological order, so the wave
 *    cursor (lowest topo position with a pending message) only moves
 *    forward within a wave.
 *  - An origin's `outstanding` counts everything still owed on behalf of a
 *    tracked inject: its own input until processed, inbox messages, pending
 *    effects and queued effect results.  At 0 it is settled.
 */
#ifndef WEIR_CORE_EXEC_INTERNAL_H
#define WEIR_CORE_EXEC_INTERNAL_H
#include "core/canon.h"
#include "core/internal.h"

struct weir_ctx {
    weir_exec *e;
    uint32_t node;
};

typedef struct weir_msg {
    json_t *value;
    uint32_t next;
    uint32_t port;
    uint32_t origin;
    uint32_t from, from_port; /* WEIR_NONE for injects */
} weir_msg;

typedef struct weir_inst {
    weir_ctx ctx;
    void *state;
    json_t *kv;
    uint32_t head, tail; /* inbox: a FIFO list through weir_msg.next */
    uint64_t invocations, emitted, errors;
    /* latency (SPEC §3.1), sampled: see weir_shell.clock_ns.  lat_sum_ns
     * is Σ weight × duration over timed invocations, lat_weight Σ weight
     * (an estimate of the invocations they stand for). */
    int64_t lat_sum_ns, lat_max_ns;
    uint64_t lat_weight;
    uint32_t lat_skip;  /* invocations still to let pass untimed */
    bool lat_sampling;  /* the next timed one stands for 1/p = WEIR_LATENCY_SAMPLE (else 1) */
    bool inited;
} weir_inst;

typedef struct weir_fx {
    uint32_t gen;
    uint32_t next_free;
    bool live;
    bool internal; /* the execution timeout: not "in flight" work */
    bool doomed;   /* a runtime switch fails it (exec_runtime.c) */
    weir_effect_kind kind;
    uint32_t node;
    uint32_t origin;
    json_t *payload;
    json_t *cont;
    int64_t requested;
    uint64_t order; /* request order (weir_exec_pending) */
} weir_fx;

typedef struct weir_origin {
    uint32_t gen;
    uint32_t next_free;
    bool live;
    bool dirty;
    unsigned flags;
    uint32_t outstanding;
    int status;
    json_t *outputs, *trace;
    json_t *error; /* why a wave it caused was stopped (status WEIR_ELIMIT) */
    void *user;
    uint64_t hops, first_tick, last_tick;
} weir_origin;

enum { INPUT_INJECT = 1, INPUT_RESOLVE };

/* A tap on an output port (weir_exec_tap). */
typedef struct weir_tap {
    uint32_t node;
    char *port; /* its name (a dynamic port has no index) */
    weir_tap_fn fn;
    void *ud;
} weir_tap;

/* Tell the taps on node v's port (named port) about value. */
void weir__tap_emit(weir_exec *e, uint32_t v, const char *port, json_t *value);

typedef struct weir_input {
    int kind;
    uint32_t node, port, origin;
    uint64_t fx_id; /* INPUT_RESOLVE: the effect it settles */
    json_t *value; /* inject value, or effect result */
    json_t *cont;
    char *error;
    int64_t now;
} weir_input;

struct weir_exec {
    weir_graph *g;
    char *id;
    char *runtime;
    weir_shell sh;
    weir_state state;
    weir_completion completion;
    weir_on_error on_error;
    weir_overflow overflow;
    size_t max_queue;
    int64_t timeout_ms;
    uint32_t holds; /* open input sources: natural completion waits */

    weir_inst *inst;
    weir_msg *msgs;
    size_t msgs_cap;
    uint32_t msg_free;
    uint32_t pending_msgs;
    uint32_t cursor;

    weir_input *q; /* ring */
    size_t q_cap, q_head, q_len, q_injects;
    /* The last inject was refused at the queue's bound: an input all the
     * same (weir_exec_apply reproduces it and returns 0). */
    bool refused_full;

    weir_fx *fx;
    size_t fx_cap;
    uint32_t fx_free;
    size_t fx_live_user;
    uint64_t timeout_fx;
    uint64_t fx_seq; /* effects requested so far (weir_fx.order) */

    weir_origin *org;
    size_t org_cap;
    uint32_t org_free;
    uint32_t *dirty;
    size_t dirty_len, dirty_cap;

    /* the input being processed */
    bool in_input;
    /* stepping (weir_exec_stepping): inputs queue, weir_exec_step moves */
    bool stepping;
    /* an open wave (see the invariants) and the input it is processing */
    bool wave_open;
    weir_input wave_in;
    uint64_t tick;
    int64_t now;
    /* MAX_WAVE_HOPS: messages processed by the current wave, and the bound.
     * wave_cut: the bound was reached; the wave's messages are dropped and
     * its emits refused (WEIR_ELIMIT) until it ends (wave_end). */
    uint64_t wave_hops, max_wave_hops;
    uint64_t max_trace_hops; /* MAX_TRACE_HOPS: trace entries per inject */
    bool wave_cut;
    uint32_t cur_node, cur_origin;
    /* The reference to the value being processed that invoke holds; the
     * first push of that same value takes it over instead of taking a new
     * one (a value passed on saves an atomic incref and decref per hop).
     * NULL outside invoke, or once taken. */
    json_t *cur_value;
    bool fail_pending;
    bool cleaning; /* inside cleanup callbacks */
    json_t *fail_error;
    uint64_t lat_rng; /* xorshift state drawing the sampled latency gaps */

    /* metrics */
    uint64_t processed, emitted_edges, emissions, invocations, errors, backpressure, dropped;
    int64_t lat_sum_ns, lat_max_ns; /* over every node, as weir_inst's */
    uint64_t lat_weight;
    int64_t started_ms, finished_ms;
    bool started;
    uint64_t seq;
    uint32_t listen; /* WEIR_EV_* kinds built (weir_exec_listen_mask) */
    json_t *id_json; /* the id as a JSON string, made with the first per-hop event */
    struct weir_tap *taps; /* weir_exec_tap: n_taps of them (NULL: none, the emit path only tests it) */
    size_t n_taps;
    /* Inputs told to shell.input (exec_input.c): told calls in progress,
     * calls the core makes itself (not told), and the digest of the
     * outermost told call, folded while dg_on. */
    unsigned in_depth, in_internal;
    bool dg_on;
    uint64_t dg_hops0, dg_outputs, dg_hash;
    json_t *dg_value; /* the last output value hashed (a reference), and its hash */
    uint64_t dg_value_hash;
    weir_cbuf dg_text; /* where an output value's canonical text is written to be hashed */
    json_t *error;
};

/* exec_input.c: telling the shell of inputs (weir_shell.input).  in_begin
 * returns the hook's refusal (nothing may change then); every in_begin that
 * returned 0 is paired with one in_end. */
int weir__in_begin(weir_exec *e, weir_input_rec *r, weir_error *err);
void weir__in_end(weir_exec *e);
/* A terminal output, folded into the digest while one is taken. */
void weir__in_output(weir_exec *e, uint32_t node, const char *port, json_t *value);

/* exec_runtime.c: what timer f has left at now (saturated). */
int64_t weir__fx_time_left(const weir_fx *f, int64_t now);
/* Timer f again with the time it has left at `at`, requested at `requested`. */
void weir__fx_retime(weir_fx *f, int64_t at, int64_t requested);

/* exec.c */
/* Fail the execution at the end of the current input (or now, outside one).
 * Ignored once a failure is pending, when finished, and while the wave is
 * cut (what fails after a cut is the cut's doing). */
void weir__exec_fail(weir_exec *e, uint32_t node, const char *message, json_t *details /* BORROWED */);
/* Put a message in node's inbox.  WEIR_ELIMIT once the wave is cut (this
 * push may be the one that cuts it, at MAX_WAVE_HOPS), WEIR_ENOMEM. */
int weir__exec_push(weir_exec *e, uint32_t node, uint32_t port, json_t *value /* BORROWED */, uint32_t origin,
                    uint32_t from, uint32_t from_port);
weir_origin *weir__exec_origin(weir_exec *e, uint32_t slot);
/* Drop the queued result of effect `fx_id` requested by `node` (a cancel of
 * an effect that settled while the execution could not process it).  True
 * when one was dropped. */
bool weir__exec_unqueue_result(weir_exec *e, uint64_t fx_id, uint32_t node);
void weir__origin_dec(weir_exec *e, uint32_t slot);
/* The upgrade's wave: init the nodes marked fresh and run what they emit
 * (exec_upgrade.c; the caller spends the tick and tells the input). */
void weir__exec_init_fresh(weir_exec *e, const bool *fresh);
/* Queue an input at the back (exec_snapshot.c's restore). */
int weir__exec_queue_push(weir_exec *e, const weir_input *in);

/* exec_json.c: events are built only for kinds the shell listens to. */
static inline bool weir__exec_wants(const weir_exec *e, uint32_t kind) {
    return (e->listen & kind) != 0 && e->sh.event != NULL;
}
/* Deliver an event of a kind the shell wants (check weir__exec_wants before
 * building data). */
void weir__exec_event(weir_exec *e, const char *name, json_t *data /* STOLEN */);
void weir__event_state(weir_exec *e, weir_state prev);
void weir__event_port_emit(weir_exec *e, uint32_t from, uint32_t from_port, const weir_route *r, json_t *value);
void weir__event_invoked(weir_exec *e, uint32_t node, uint32_t port);
void weir__event_component_error(weir_exec *e, uint32_t node, json_t *value);
/* "node:port" as a new string (NULL on OOM). */
char *weir__node_port(const weir_exec *e, uint32_t node, uint32_t port, bool input);

#endif
