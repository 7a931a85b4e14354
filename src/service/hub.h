/*
 * The event hub (SPEC §5): who listens to which execution, and what they
 * have been sent.
 *
 * A *client* is one event connection: a plain WebSocket at /ws or a
 * Socket.IO socket.  A *feed* belongs to one execution: its subscribers and a
 * bounded history ring of the events it built, each serialised once and
 * shared by every subscriber (and every encoding built at most once).
 *
 * Events are built only while a feed has subscribers, or for a short linger
 * after the last one disconnected (so a client that reconnects with `since`
 * finds what it missed).  A subscriber whose connection backlog passes the
 * bound is cut off with a `subscription:cut` notice naming the last seq it
 * was sent; it may subscribe again with `since`.  The execution never waits
 * for anyone.
 */
#ifndef WEIR_SERVICE_HUB_H
#define WEIR_SERVICE_HUB_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/eio.h"
#include "net/sbuf.h"
#include "net/ws.h"

typedef struct weir_service weir_service;
typedef struct svc_exec svc_exec;
typedef struct svc_feed svc_feed;
typedef struct svc_sub svc_sub;

/* One event, serialised once: data is the JSON text of the event's data
 * with "seq" added; the encodings a transport needs are built on first use
 * and kept here, so a hundred subscribers cost one encoding. */
typedef struct svc_evmsg {
    unsigned refs;
    uint64_t seq;
    char name[48];
    weir_sbuf *data;
    weir_sbuf *ws_frame; /* /ws: the frame of {"event":name,"data":data} */
    weir_sio_out sio;    /* Socket.IO: 42["name",data] and its frame */
} svc_evmsg;

/* What a transport does for the hub.  Each returns 0, or nonzero when the
 * connection is closing (the message is dropped with it). */
typedef struct svc_client_ops {
    const char *kind;                                   /* "ws", "socket.io" */
    int (*send)(void *conn, svc_evmsg *m);              /* a feed event */
    int (*emit)(void *conn, const char *name, const char *json, size_t len); /* one event to this client */
    int (*ack)(void *conn, int64_t ack_id, const char *json, size_t len);
    size_t (*backlog)(const void *conn);                /* bytes queued toward the peer */
    void (*close)(void *conn);                          /* shutdown */
} svc_client_ops;

typedef struct svc_client {
    weir_service *s;
    const svc_client_ops *ops;
    void *conn;     /* the transport's connection; NULL once it is gone */
    unsigned refs;  /* the connection, plus each reply still pending (an inject waiting to settle) */
    svc_sub *subs;  /* this client's subscriptions */
    bool linked;    /* in the service's list (false once gone, or detached at destroy) */
    struct svc_client *prev, *next; /* the service's open clients */
} svc_client;

/* ---- clients (hub.c) */
/* A new client for an accepted connection (one reference: the connection's).
 * NULL on allocation failure. */
svc_client *svc_client_new(weir_service *s, const svc_client_ops *ops, void *conn);
/* The connection is gone: drop its subscriptions (the feeds linger), forget
 * conn, drop the connection's reference. */
void svc_client_gone(svc_client *c);
void svc_client_ref(svc_client *c);
void svc_client_unref(svc_client *c);
/* Send one event to this client only; data BORROWED (NULL: {}). */
void svc_client_emit(svc_client *c, const char *name, json_t *data);
/* Answer a command: an ack when ack_id >= 0; otherwise, on failure (body
 * has "error") an `error` event, on success the event `name` (if not NULL).
 * body STOLEN. */
void svc_client_reply(svc_client *c, int64_t ack_id, const char *name, json_t *body);
/* Bytes queued toward the client. */
size_t svc_client_backlog(const svc_client *c);
/* The service is being destroyed: drop every subscription and forget every
 * client; connections closing later only release their reference. */
void svc_clients_detach_all(weir_service *s);
/* Close every client (shutdown). */
void svc_clients_close_all(weir_service *s);
size_t svc_clients_count(const weir_service *s);
size_t svc_subscriptions_count(const weir_service *s);

/* ---- feeds (hub.c) */
/* The execution's event callback (shell.event; ud is the svc_exec). */
void svc_feed_event(void *ud, weir_exec *e, uint64_t seq, const char *name, json_t *data);
/* Subscribe c to x (again: no change).  Events are built from now on.
 * WEIR_ENOMEM. */
int svc_feed_attach(svc_exec *x, svc_client *c, weir_error *err);
/* What a subscriber is told first: {executionId, graphId, state, metrics,
 * startedAt, seq}. */
json_t *svc_exec_snapshot(svc_exec *x);
/* After the subscribe answer went out: send what the client missed since
 * `since`, or a `resync` when the history no longer holds it all. */
void svc_feed_replay(svc_exec *x, svc_client *c, int64_t since);
/* False when c was not subscribed. */
bool svc_feed_unsubscribe(svc_exec *x, svc_client *c);
/* The execution is being destroyed: drop every subscription, free the feed. */
void svc_feed_free(svc_exec *x);

/* ---- commands (commands.c) */
/* A client command (SPEC §5): execution:subscribe / unsubscribe / start /
 * pause / resume / stop / inject.  data BORROWED (may be NULL).  Answers
 * through svc_client_reply. */
void svc_command(svc_client *c, const char *name, json_t *data, int64_t ack_id);

#endif
