/*
 * Socket.IO v4 server: the Engine.IO protocol 4 (HTTP long-polling and
 * websocket transports, the upgrade from one to the other, server pings)
 * and the Socket.IO protocol 5 packets on top of it (namespace connect with
 * an auth payload, events, acknowledgements), enough for the stock
 * socket.io-client with default options.  Only the main namespace "/" is
 * served; binary (attachment) packets are refused.
 *
 * Every request whose path is under /socket.io/ is given to weir_eio_handle.
 * The packet codec itself is pure and lives in eio_packet.h (fuzzed).
 *
 * Refusals follow engine.io: 400 (403 for code 4) with
 * {"code":N,"message":…}, N = 0 Transport unknown, 1 Session ID unknown,
 * 2 Bad handshake method, 3 Bad request, 5 Unsupported protocol version.
 * A POST over max_payload is answered 413 and ends the session.
 *
 * Callbacks run from the loop: from weir_eio_handle, a timer or a websocket
 * callback, and from weir_eio_destroy.  `disconnected` is never called from
 * inside a weir_sio_* call or weir_eio_close_all (those only start a close),
 * so a caller may disconnect sockets while walking its own list of them.
 * Protocol errors from the client (bad packets, an ACK or binary packet, an
 * event before CONNECT, a ping from the client, a second GET while one is
 * held) end the session: disconnected(reason "parse error" or "transport
 * error").
 */
#ifndef WEIR_NET_EIO_H
#define WEIR_NET_EIO_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/http.h"
#include "net/sbuf.h"

typedef struct weir_eio weir_eio;
typedef struct weir_sio_socket weir_sio_socket;

typedef struct weir_eio_options {
    uint64_t ping_interval_ms; /* 0: 25000 */
    uint64_t ping_timeout_ms;  /* 0: 20000 */
    size_t max_payload;        /* bytes per polling POST / websocket message; 0: 1000000 */
    uint64_t poll_timeout_ms;  /* a GET poll with nothing to say is answered after at most this; 0: the ping interval */
    uint64_t connect_timeout_ms; /* a session with no socket connected to "/" closes after this; 0: 45000 */
    uint64_t upgrade_timeout_ms; /* websocket handshake to upgrade packet; 0: 10000 */
} weir_eio_options;

typedef struct weir_eio_callbacks {
    /* A client connects to namespace "/".  auth: the CONNECT payload (an
     * object, BORROWED) or NULL; hs: the Engine.IO handshake request (its
     * headers, e.g. Authorization; a copy kept by the session), valid during
     * the call only.  Return 0 to
     * accept; otherwise write the reason into msg and return nonzero: the
     * client gets a CONNECT_ERROR {"message": msg}. */
    int (*authorize)(void *ud, const json_t *auth, const weir_http_req *hs, char *msg, size_t cap);
    /* The socket is connected (after the CONNECT answer was queued). */
    void (*connected)(void *ud, weir_sio_socket *s);
    /* An EVENT: name, the arguments after the name (a JSON array, BORROWED,
     * possibly empty) and the ack id, or -1 when the client wants no ack. */
    void (*event)(void *ud, weir_sio_socket *s, const char *name, json_t *args, int64_t ack_id);
    /* The socket is gone; reason: "client namespace disconnect" (41),
     * "transport close" (the client's close packet, or its websocket
     * closed), "ping timeout", "server namespace disconnect"
     * (weir_sio_disconnect), "server shutting down" (close_all, destroy),
     * "parse error" / "transport error" (protocol errors).  Called once; s is
     * freed after it returns. */
    void (*disconnected)(void *ud, weir_sio_socket *s, const char *reason);
} weir_eio_callbacks;

/* NULL on allocation failure. */
weir_eio *weir_eio_new(uv_loop_t *loop, const weir_eio_options *opts, const weir_eio_callbacks *cb, void *ud);
/* Close every session (disconnected is called for each, during the call;
 * held GETs are answered with a close packet), then free.  Call it before
 * destroying the HTTP server whose requests it holds.  Owns libuv handles:
 * run the loop afterwards until it returns.  NULL: no-op. */
void weir_eio_destroy(weir_eio *x);

/* Handle a request whose path starts with "/socket.io/": the polling GET and
 * POST, or the websocket upgrade.  Answers req (or takes it over). */
void weir_eio_handle(weir_eio *x, weir_http_req *req);

/* Start closing every session with a DISCONNECT (shutdown): sends are
 * refused from now on; disconnected follows from the loop, once each client
 * has collected its packets, or after ping_timeout.  New sessions are
 * refused from now on (503 {"code":3,"message":"Server shutting down"}), so
 * no GET is held any more once the existing clients have collected theirs. */
void weir_eio_close_all(weir_eio *x);
/* Connected Socket.IO sockets. */
size_t weir_eio_sockets(const weir_eio *x);

/* An outgoing Socket.IO packet shared by many sockets: text is the whole
 * Engine.IO packet as sent over polling ("42[\"name\",{...}]"); frame is the
 * WebSocket frame of the same text, built on first use by a websocket
 * socket and kept here (freed by weir_sio_out_clear). */
typedef struct weir_sio_out {
    weir_sbuf *text;
    weir_sbuf *frame;
} weir_sio_out;
void weir_sio_out_clear(weir_sio_out *o);

/* Queue a shared packet (o->text: one reference taken per queue; o->frame
 * is built here on first use over websocket).  WEIR_EINVAL without a text,
 * WEIR_ESTATE when the socket is closing, WEIR_ENOMEM. */
int weir_sio_send(weir_sio_socket *s, weir_sio_out *o);
/* The same, except that over websocket the frame waits for weir_sio_flush
 * (or the next packet sent, or enough waiting: weir_ws_queue_slice), so a
 * stream of events goes out in few writes; over polling it is queued as by
 * weir_sio_send (each poll takes what waits). */
int weir_sio_queue(weir_sio_socket *s, weir_sio_out *o);
/* Write what weir_sio_queue left waiting, before the loop next waits. */
void weir_sio_flush(weir_sio_socket *s);
/* Emit one event: 42["name",<data_json>] (data_json: one JSON value,
 * copied, not checked; NULL or len 0: 42["name"]).  WEIR_EINVAL for a name
 * that is not UTF-8, WEIR_ESTATE, WEIR_ENOMEM. */
int weir_sio_emit(weir_sio_socket *s, const char *name, const char *data_json, size_t len);
/* Acknowledge: 43<ack_id>[<data_json>] (43<ack_id>[] when data_json is
 * NULL or len 0).  WEIR_EINVAL for an ack id out of range. */
int weir_sio_ack(weir_sio_socket *s, int64_t ack_id, const char *data_json, size_t len);
/* Bytes queued toward the client and not yet written (polling: not yet
 * collected by a GET). */
size_t weir_sio_backlog(const weir_sio_socket *s);
/* Disconnect (a DISCONNECT packet, then the transport closes);
 * disconnected follows from the loop.  No-op when already closing. */
void weir_sio_disconnect(weir_sio_socket *s);
const char *weir_sio_id(const weir_sio_socket *s);
void weir_sio_set_user(weir_sio_socket *s, void *user);
void *weir_sio_user(const weir_sio_socket *s);

#endif
