/*
 * Live views (SPEC §8): a client subscribes to a view by name and is sent
 * its value once (`view:init {view, seq, value}`), then only diffs of it
 * (`view:diff {view, seq, diff}`, the format of view_diff.h), over
 * Socket.IO and /ws alike (the commands `view:subscribe {view, since?,
 * atTick?}` and `view:unsubscribe {view}`, commands.c).
 *
 * The views: `graphs` (GET /api/graphs's entries), `executions` (a row
 * per execution GET /api/executions lists, oldest first), `execution:<id>`
 * (one execution: state, counters, every node's counters and state) and
 * `port:<id>:<node>:<port>:<n>` (the last n values emitted on an output
 * port; the port name holds no ':').  A port view follows its port across
 * an upgrade; when the new graph has no such node or port, the view ends:
 * its subscribers get `view:error {view, error, code}` (after its last
 * values, once the upgrade is durable) and are dropped.
 *
 * One instance per view name, made on the first subscribe and kept while
 * someone watches it, then VIEW_LINGER_MS more, built no further (a
 * reconnect with `since` resumes: its missed changes are built then, as one
 * diff from the value it last had; a port view does not linger: it taps a
 * port).  An instance
 * holds its value (immutable: rebuilt each round by sharing the unchanged
 * subtrees of the last, so making the diff skips them), the value's seq,
 * and a ring of its last VIEW_HISTORY diffs.
 *
 * Rounds.  Every VIEW_INTERVAL_MS while any instance exists, each one
 * watched is brought up to date (only when something changed, told cheaply: the
 * execution's tick, state, queue, pending effects, runtime; the list's
 * members; a port's taps), and each subscriber not yet at the newest seq is
 * sent ONE message: the newest diff, the ring's diffs since its seq
 * composed into one, or a fresh init when the ring no longer reaches back.
 * So a subscriber gets at most one diff per view per interval, whatever the
 * event rate.  A subscriber with more than VIEW_BACKLOG_BYTES queued toward
 * it is sent nothing that round: what it is sent when it drains is one
 * message no larger than about twice the view, so its backlog is bounded by
 * the view's size, never by the event rate.
 *
 * Seqs come from one counter of the service, started from the wall clock
 * (so a server restarted later hands out larger ones): a seq names one value
 * of one instance, and a `since` from an instance that is gone (or from an
 * earlier run of the server) is in no ring, so it gets an init, never a
 * diff for another base.
 *
 * Costs.  An execution nobody watches pays nothing per hop: the execution
 * view reads counters and node states once per round (and only when its
 * tick or state moved), the port view's tap (weir_exec_tap) is installed
 * only while it is watched.
 *
 * Output commit (SPEC §7.1): with a journal, a value is sent only once every
 * journal item queued when it was built is durable (a new view's first value
 * waits for its execution's inputs, as execution:subscribe's snapshot does),
 * so no subscriber sees what a crash would undo; a busy journal delays a
 * view by a round.
 */
#ifndef WEIR_SERVICE_VIEWS_H
#define WEIR_SERVICE_VIEWS_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* How long an instance nobody watches is kept (a reconnect with since). */
#define VIEW_LINGER_MS 10000
/* A subscriber with more than this queued toward it is sent nothing until
 * it drains below it. */
#define VIEW_BACKLOG_BYTES (256u << 10)
/* The ring of an instance holds at most this much diff (weir_view_diff_weight). */
#define VIEW_HISTORY_BYTES (8u << 20)
/* A port view keeps 1 to this many values. */
#define VIEW_PORT_MAX 1000
/* One client watches at most this many views at once (each port view taps
 * its port: every emission of the execution looks at every tap). */
#define VIEW_MAX_PER_CLIENT 256

typedef struct svc_view svc_view;

/* What a view last saw of an execution: when none of it moved, neither did
 * its counters or node states (every input spends a tick; an open wave,
 * stepped, is always taken as moved). */
typedef struct svc_view_stamp {
    uint64_t tick;
    size_t queue, pending;
    int state;
    char runtime[32];
    bool set;
} svc_view_stamp;

/* The `executions` view's row of an execution, kept with it (svc_exec). */
typedef struct svc_view_row {
    json_t *row; /* NULL: not built yet */
    svc_view_stamp stamp;
} svc_view_row;

/* The views of a service (inside weir_service). */
typedef struct svc_views {
    uv_timer_t *timer; /* rounds, while any instance exists (NULL until the first) */
    svc_view *list;
    size_t n_views, n_subs;
    uint64_t seq; /* the last seq handed out */
    /* for /metrics */
    uint64_t inits_sent, diffs_sent, bytes_sent, held;
} svc_views;

#endif
