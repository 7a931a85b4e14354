/*
 * The event hub (SPEC §5): who listens to which execution, and what they
 * have been sent.
 *
 * What depends on what (arrows point one way):
 *
 *   service.c, commands.c, routes.c, wsapi.c, sioapi.c  ──►  hub.h  ──►  net/, weir.h
 *
 * The service owns the hub (a svc_hub inside weir_service) and makes a feed
 * for an execution it runs; the hub knows nothing of the service, its
 * executions or its commands: it calls back through svc_hub_ops (a client's
 * command, logging) and svc_feed_ops (an execution's snapshot and metrics).
 * The transports (wsapi.c, sioapi.c) make clients and hand their commands
 * to svc_client_command.
 *
 * A *client* is one event connection: a plain WebSocket at /ws or a
 * Socket.IO socket.  A *feed* belongs to one execution: its subscribers and a
 * bounded history ring of the events it built, each serialised once and
 * shared by every subscriber (and every encoding built at most once).
 *
 * Events by interest: each subscriber names the kinds it wants (a WEIR_EV_*
 * mask; all by default) and is sent only those.  The execution builds the
 * union of its subscribers' kinds (weir_exec_listen_mask), updated as they
 * come, go and change their minds; nothing while nobody listens.  A
 * metrics:update is built by the hub (every METRICS_INTERVAL_MS while a
 * subscriber wants it, when the metrics changed), never per hop; the core
 * is not asked for it, so a dashboard joining puts no gap in the others'
 * seqs.  A subscriber cut off during its `since` replay is told the last
 * seq it was really sent.
 *
 * Linger: when a subscriber disconnects or is cut off (not when it
 * unsubscribes), the feed keeps building for SUBSCRIBER_LINGER_MS, besides
 * what the others still watching ask for, the cheap kinds it wanted
 * (execution:*, output, log, component:error,
 * message:dropped, runtime:changed, time:advanced), never port:emit or
 * component:invoked (WEIR_EV_PER_HOP) nor metrics:update: a client that
 * reconnects with `since` finds the states and outputs it missed, and an
 * execution nobody watches pays nothing per hop.
 *
 * Replay with `since`: a subscriber gets the events of its kinds after
 * `since` from the feed's bounded history, or a `resync` (a snapshot) when
 * the history does not reach back that far, or when a kind it wants was not
 * being built for all of that time (joined later, narrowed by a linger, a
 * quiet spell): never a silent gap.
 *
 * A subscriber whose connection backlog passes the bound is cut off with a
 * `subscription:cut` notice naming the last seq it was sent; it may
 * subscribe again with `since`.  The execution never waits for anyone.
 */
#ifndef WEIR_SERVICE_HUB_H
#define WEIR_SERVICE_HUB_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "net/eio.h"
#include "net/sbuf.h"
#include "net/ws.h"
#include "weir/weir.h"

typedef struct svc_hub svc_hub;
typedef struct svc_client svc_client;
typedef struct svc_feed svc_feed;
typedef struct svc_sub svc_sub;

/* A feed's batch buffer: the /ws frames of its events written one after
 * another, so a subscriber sent every event gets a run of them as one piece
 * of a write (weir_ws_send_slice) instead of one piece per event.  A frame
 * stays where it was written: a new buffer is started when one is full. */
typedef struct svc_arena {
    weir_sbuf *buf; /* one reference (NULL: none yet) */
    size_t used;
} svc_arena;

/* One event, serialised once: data is the JSON text of the event's data
 * with "seq" added; the encodings a transport needs are built on first use
 * and kept here, so a hundred subscribers cost one encoding. */
typedef struct svc_evmsg {
    unsigned refs;
    uint64_t seq;
    uint32_t kind; /* its WEIR_EV_* bit (WEIR_EV_ALL: a name of no known kind) */
    char name[48];
    weir_sbuf *data;
    svc_arena *arena;    /* its feed's batch buffer (NULL: a one-off, not in a feed's stream) */
    weir_sbuf *ws_batch; /* /ws: the frame of {"event":name,"data":data} in the arena ... */
    size_t ws_off, ws_len; /* ... at ws_batch->data[ws_off .. ws_off + ws_len) */
    weir_sbuf *ws_frame; /* /ws: the same frame on its own */
    weir_sio_out sio;    /* Socket.IO: 42["name",data] and its frame */
} svc_evmsg;

/* What a transport does for the hub.  Each returns 0, or nonzero when the
 * connection is closing (the message is dropped with it). */
typedef struct svc_client_ops {
    const char *kind;                                   /* "ws", "socket.io" */
    /* A feed event.  whole: this subscriber is sent every event of the feed
     * in order, so the frame in the feed's arena may be sent (runs of
     * them go out as one piece); else a frame of its own (a slice would
     * keep a whole batch buffer alive for a few bytes). */
    int (*send)(void *conn, svc_evmsg *m, bool whole);
    int (*emit)(void *conn, const char *name, const char *json, size_t len); /* one event to this client */
    int (*ack)(void *conn, int64_t ack_id, const char *json, size_t len);
    size_t (*backlog)(const void *conn);                /* bytes queued toward the peer */
    /* NULL: send writes soon by itself.  Else send may only queue, and the
     * hub calls flush within svc_hub_config.flush_ms of the first event it
     * sent since the last flush (emit and ack write everything queued). */
    void (*flush)(void *conn);
    void (*close)(void *conn);                          /* shutdown */
} svc_client_ops;

/* What the hub's owner does for it (ud is svc_hub_init's). */
typedef struct svc_hub_ops {
    /* A client's command (SPEC §5): data BORROWED (may be NULL).  The owner
     * answers through svc_client_reply. */
    void (*command)(void *ud, svc_client *c, const char *name, json_t *data, int64_t ack_id);
    /* A line for the log; fields BORROWED (may be NULL). */
    void (*log)(void *ud, weir_log_level level, json_t *fields, const char *message);
    /* A client is gone (its connection closed, or the hub is freed): the
     * owner drops what it keeps for it (NULL: nothing). */
    void (*gone)(void *ud, svc_client *c);
} svc_hub_ops;

/* What the owner of a feed's execution does for it (ud is svc_feed_new's). */
typedef struct svc_feed_ops {
    /* NEW: what a subscriber is told first, and what a `resync` carries:
     * {executionId, graphId, state, metrics, startedAt, seq}. */
    json_t *(*snapshot)(void *ud);
    /* NEW: the execution's metrics object (SPEC §5 metrics:update). */
    json_t *(*metrics)(void *ud);
} svc_feed_ops;

typedef struct svc_hub_config {
    size_t event_history;         /* EVENT_HISTORY: events kept per feed for `since` (0: none) */
    size_t backlog_bytes;         /* SUBSCRIBER_BACKLOG_BYTES: a subscriber further behind is cut off */
    uint64_t linger_ms;           /* SUBSCRIBER_LINGER_MS (0: quiet at once) */
    uint64_t metrics_interval_ms; /* METRICS_INTERVAL_MS: metrics:update at most this often per feed */
    bool metrics;                 /* ENABLE_METRICS: metrics:update at all */
    uint64_t flush_ms;            /* EVENT_FLUSH_MS: events wait at most this long to be written together (0: at once) */
    uint64_t batch_ms;            /* EVENT_BATCH_MS: a batch subscriber's events wait at most this long (>= 1) */
    size_t batch_bytes;           /* EVENT_BATCH_BYTES: the data of one `events` batch, at most (but one event) */
} svc_hub_config;

struct svc_hub {
    uv_loop_t *loop;
    svc_hub_config cfg;
    const svc_hub_ops *ops;
    void *ud;
    svc_client *clients; /* open clients, newest first */
    svc_client *dirty;   /* clients sent events since their last flush */
    uv_timer_t *flush_timer; /* flush_ms after the first of those (NULL until needed) */
    svc_sub *batched;        /* batch subscribers with events waiting in their batch */
    uv_timer_t *batch_timer; /* batch_ms after the first of those (NULL until needed) */
    size_t n_clients, n_subs;
    uint64_t events_built, events_sent, subscribers_cut; /* for /metrics */
    uint64_t batches_sent; /* `events` batches (their events count in events_sent) */
    uint64_t events_skipped; /* passed over by subscribers' rates (told in events:skipped) */
    char *scratch; /* JSON text of one event or answer at a time */
    size_t scratch_cap;
    /* The last large event value written out and its text (a reference to
     * each): a value shared by many events is written out once. */
    json_t *memo_value;
    weir_sbuf *memo_text;
};

struct svc_client {
    svc_hub *hub;
    const svc_client_ops *ops;
    void *conn;     /* the transport's connection; NULL once it is gone */
    unsigned refs;  /* the connection, plus each reply still pending (an inject waiting to settle) */
    svc_sub *subs;  /* this client's subscriptions */
    bool linked;    /* in the hub's list (false once gone, or detached) */
    bool dirty;     /* in the hub's dirty list */
    svc_client *prev, *next;
    svc_client *dprev, *dnext;
};

/* ---- the hub */
void svc_hub_init(svc_hub *h, uv_loop_t *loop, const svc_hub_config *cfg, const svc_hub_ops *ops, void *ud);
/* Drop every subscription and forget every client (connections closing
 * later only release their reference); free what the hub holds.  Feeds are
 * freed by their owners (svc_feed_free), before or after. */
void svc_hub_free(svc_hub *h);
/* Close every client (shutdown). */
void svc_hub_close_all(svc_hub *h);

/* ---- clients */
/* A new client for an accepted connection (one reference: the connection's).
 * NULL on allocation failure. */
svc_client *svc_client_new(svc_hub *h, const svc_client_ops *ops, void *conn);
/* The connection is gone: drop its subscriptions (the feeds linger), forget
 * conn, drop the connection's reference. */
void svc_client_gone(svc_client *c);
void svc_client_ref(svc_client *c);
void svc_client_unref(svc_client *c);
/* A command from the client's connection: to the hub's owner. */
void svc_client_command(svc_client *c, const char *name, json_t *data, int64_t ack_id);
/* Send one event to this client only; data BORROWED (NULL: {}). */
void svc_client_emit(svc_client *c, const char *name, json_t *data);
/* Answer a command: an ack when ack_id >= 0; otherwise, on failure (body
 * has "error") an `error` event, on success the event `name` (if not NULL).
 * body STOLEN. */
void svc_client_reply(svc_client *c, int64_t ack_id, const char *name, json_t *body);
/* Bytes queued toward the client. */
size_t svc_client_backlog(const svc_client *c);

/* ---- feeds */
/* A feed for execution e (named exec_id in notices; BORROWED until
 * svc_feed_free).  The execution builds no event until someone subscribes
 * (its listen mask is set to none here).  NULL on allocation failure. */
svc_feed *svc_feed_new(svc_hub *h, weir_exec *e, const char *exec_id, const svc_feed_ops *ops, void *ud);
/* An event of the feed's execution (from its shell.event callback). */
void svc_feed_event(svc_feed *f, uint64_t seq, const char *name, json_t *data);
/* Subscribe c to the kinds in mask (WEIR_EV_* bits, nonzero; again: the
 * new mask and rate replace the old).  The execution builds the union of
 * its subscribers' kinds from now on.  rate (0: none): at most that many
 * events a second (rate / 10 in each tenth of a second) of the busy kinds (per hop, output, log, component:error,
 * message:dropped); the others are passed over, and an `events:skipped
 * {executionId, count, fromSeq, toSeq, rate}` notice before the next event
 * it is sent says how many (a page that cannot draw 100,000 hops a second
 * is never sent them).
 *
 * batch: its events (and its events:skipped notices) come as `events
 * {executionId, events: [{event, data}, ...]}`: the same objects as the
 * per-event frames' {event, data}, in the same order, none left out, each
 * batch sent batch_ms after its first event at the latest, or once its data
 * would pass batch_bytes (an event larger than that goes alone).  An answer
 * or a notice to the client (svc_client_reply, svc_client_emit: a resync,
 * subscription:cut) sends what waits in its batches first, so the client
 * sees an execution's events in the order it would have without batches,
 * and in the same place among its answers and notices (the events of two
 * executions it watches, and views' diffs, are streams of their own, with
 * seqs of their own, and may come in either order).  The backlog bound
 * counts what waits in its batch.  Without batch: one message per
 * event, as always.  WEIR_ENOMEM. */
int svc_feed_attach(svc_feed *f, svc_client *c, uint32_t mask, uint32_t rate, bool batch, weir_error *err);
/* After the subscribe answer went out: send what the client missed since
 * `since`, or a `resync` when the history no longer holds it all. */
void svc_feed_replay(svc_feed *f, svc_client *c, int64_t since);
/* False when c was not subscribed. */
bool svc_feed_unsubscribe(svc_feed *f, svc_client *c);
/* The execution is being destroyed: drop every subscription, free the feed
 * (NULL: nothing). */
void svc_feed_free(svc_feed *f);
/* The events of f after seq will not come (they were dropped): every
 * subscriber is cut off with `why` (subscription:cut names the last seq it
 * was sent: it may subscribe again with since, and gets a resync), and the
 * history forgets what came before. */
void svc_feed_break(svc_feed *f, uint64_t seq, const char *why);

#endif
