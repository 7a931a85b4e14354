/*
 * Inside the Engine.IO / Socket.IO server: the records shared by eio.c
 * (the server object, sessions by sid, timers, request routing, closing),
 * eio_poll.c (the long-polling transport), eio_ws.c (the websocket
 * transport and the upgrade to it) and sio.c (the Socket.IO layer and the
 * weir_sio_* calls).
 *
 * Closing, and when the callbacks run.  A session ends in exactly one place,
 * session_finish (weir__eio_finish), which calls `disconnected` for its
 * socket.  It is called only from the loop (the session timer, a request
 * given to weir_eio_handle, a websocket callback) or from weir_eio_destroy,
 * never from inside a weir_sio_* call: weir_sio_disconnect and
 * weir_eio_close_all only start a graceful close (DISCONNECT and close
 * packets queued, sends refused), and the finish follows from the loop.  So
 * a caller may disconnect sockets while it walks its own lists of them.
 */
#ifndef WEIR_NET_EIO_INTERNAL_H
#define WEIR_NET_EIO_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/eio.h"
#include "net/eio_packet.h"

/* Characters of a session or socket id (15 random bytes in base64url). */
#define WEIR__EIO_ID_LEN 20
/* Default time a session may stay without a connected socket (socket.io's
 * connectTimeout). */
#define WEIR__EIO_CONNECT_TIMEOUT_MS 45000
/* Default time an upgrade may take from the websocket handshake to the
 * client's upgrade packet (engine.io's upgradeTimeout). */
#define WEIR__EIO_UPGRADE_TIMEOUT_MS 10000
/* Longest CONNECT_ERROR message an authorize callback may write. */
#define WEIR__EIO_MAX_REFUSAL 256

typedef struct weir__eio_session weir__eio_session;

typedef enum { WEIR__EIO_POLLING, WEIR__EIO_WEBSOCKET } weir__eio_transport;
typedef enum { WEIR__EIO_OPEN, WEIR__EIO_CLOSING, WEIR__EIO_CLOSED } weir__eio_state;

struct weir_sio_socket {
    weir__eio_session *sess;
    char id[WEIR__EIO_ID_LEN + 1];
    void *user;
    bool closing; /* disconnect started: sends are refused */
};

struct weir__eio_session {
    weir_eio *x;
    weir__eio_session *hnext;      /* hash chain */
    weir__eio_session *prev, *next; /* every live session */
    char sid[WEIR__EIO_ID_LEN + 1];
    weir__eio_transport transport;
    weir__eio_state state;
    const char *close_reason; /* static; set when closing starts */
    uv_timer_t timer;         /* one timer for every deadline below */
    /* Deadlines in loop milliseconds; 0 when not armed. */
    uint64_t ping_at;    /* next server ping */
    uint64_t pong_by;    /* a pong is due (a ping is outstanding) */
    uint64_t poll_by;    /* the held GET is answered with a noop */
    uint64_t connect_by; /* no socket connected yet: the session closes */
    uint64_t upgrade_by; /* an upgrade in progress is given up */
    uint64_t close_by;   /* a graceful close is finished regardless */
    bool flush_soon;     /* answer the held GET on the next loop turn */
    /* Engine.IO packets queued toward the client and not yet collected
     * (polling, and during an upgrade).  One reference each. */
    weir_sbuf **q;
    size_t q_len, q_cap, q_bytes;
    weir_http_req *poll; /* the held GET, if any */
    void *ws;            /* weir_ws *: the websocket transport, once upgraded or when direct */
    void *probe;         /* weir_ws *: an upgrade in progress */
    bool probed;         /* the probe ping was answered */
    bool ws_closing;     /* weir_ws_close was called on ws */
    /* A copy of the handshake request for authorize (body ""). */
    weir_http_req hs;
    char *hs_text;
    const char **hs_ptrs;
    weir_sio_socket *sock; /* connected to "/", or NULL */
};

struct weir_eio {
    uv_loop_t *loop;
    weir_eio_options o; /* defaults filled in */
    weir_eio_callbacks cb;
    void *ud;
    weir__eio_session **buckets;
    size_t nbuckets, nsessions;
    weir__eio_session *all;
    size_t nsockets;
    unsigned closing_handles; /* session timers whose uv_close has not completed */
    bool closed;              /* weir_eio_close_all was called: no new sessions */
    bool destroying;
};

/* ---- eio.c */
/* Answer with the Engine.IO error JSON {"code":code,"message":…}: 400, or
 * 403 for code 4 (Forbidden). */
void weir__eio_refuse(weir_http_req *req, int code);
enum {
    WEIR__EIO_ERR_TRANSPORT = 0, /* Transport unknown */
    WEIR__EIO_ERR_SID = 1,       /* Session ID unknown */
    WEIR__EIO_ERR_METHOD = 2,    /* Bad handshake method */
    WEIR__EIO_ERR_REQUEST = 3,   /* Bad request */
    WEIR__EIO_ERR_FORBIDDEN = 4, /* Forbidden */
    WEIR__EIO_ERR_VERSION = 5,   /* Unsupported protocol version */
};
/* Answer a handshake after weir_eio_close_all: 503. */
void weir__eio_refuse_closed(weir_http_req *req);
/* A new session (registered, its timer running, the open packet NOT yet
 * sent); hs is copied.  NULL on failure (allocation, randomness). */
weir__eio_session *weir__eio_session_new(weir_eio *x, weir__eio_transport t, const weir_http_req *hs);
/* Queue an Engine.IO packet toward the client (a reference is taken):
 * on the websocket when upgraded, else for the next GET.  0, WEIR_ENOMEM,
 * WEIR_ESTATE when the session is closed. */
int weir__eio_send(weir__eio_session *s, weir_sbuf *pkt);
/* The same for a packet of one type with data (encoded here). */
int weir__eio_send_type(weir__eio_session *s, weir_eio_type type, const char *data, size_t len);
/* Start a graceful close: a DISCONNECT first when disconnect_socket and a
 * socket is connected, then the transport closes; the finish follows from
 * the loop.  No-op unless the session is open. */
void weir__eio_close(weir__eio_session *s, const char *reason, bool disconnect_socket);
/* End the session now (see the top of this file): the held GET is answered
 * with a noop when client_gone, else with a close packet; `disconnected` is
 * called; the session is freed once its timer has closed. */
void weir__eio_finish(weir__eio_session *s, const char *reason, bool client_gone);
/* One Engine.IO packet from the client on the session's transport.  0, or
 * a negative code after which the caller must stop (the session is over or
 * closing). */
int weir__eio_on_packet(weir__eio_session *s, const weir_eio_packet *p);
/* Re-arm the session timer after a deadline changed. */
void weir__eio_arm(weir__eio_session *s);
/* Loop milliseconds now. */
uint64_t weir__eio_now(const weir_eio *x);
/* 20 random base64url characters and a NUL into out.  0 or WEIR_EIO. */
int weir__eio_random_id(char out[WEIR__EIO_ID_LEN + 1]);

/* ---- eio_poll.c */
/* A GET or POST for a polling session. */
void weir__eio_poll_request(weir__eio_session *s, weir_http_req *req);
/* Answer the held GET with every queued packet (or a noop when none). */
void weir__eio_poll_flush(weir__eio_session *s);
/* Answer the held GET with exactly this one packet type (noop or close),
 * dropping nothing from the queue. */
void weir__eio_poll_answer(weir__eio_session *s, weir_eio_type type);
/* Drop the queue. */
void weir__eio_queue_clear(weir__eio_session *s);

/* ---- sio.c */
/* The data of an Engine.IO MESSAGE.  0, or a negative code for a protocol
 * error (the caller ends the session). */
int weir__sio_on_message(weir__eio_session *s, const char *data, size_t len);
/* The session is over: `disconnected` for its socket, which is freed. */
void weir__sio_gone(weir__eio_session *s, const char *reason);

/* ---- eio_ws.c */
/* transport=websocket: a new session over WebSocket (s NULL), or the
 * upgrade of polling session s. */
void weir__eio_ws_request(weir_eio *x, weir__eio_session *s, weir_http_req *req);
/* Send pkt on the session's websocket (framed here). */
int weir__eio_ws_send(weir__eio_session *s, weir_sbuf *pkt);
/* Send a shared packet on the session's websocket: its frame is built on
 * first use and kept in o. */
int weir__eio_ws_send_out(weir__eio_session *s, weir_sio_out *o);
/* The same, left waiting for weir__eio_ws_flush (weir_ws_queue_slice). */
int weir__eio_ws_queue_out(weir__eio_session *s, weir_sio_out *o);
void weir__eio_ws_flush(weir__eio_session *s);
/* Graceful: the websocket closes after its queued frames, then the
 * session finishes (from on_close); a probe is dropped. */
void weir__eio_ws_shutdown(weir__eio_session *s);
/* Close the session's websockets now (their callbacks detached first). */
void weir__eio_ws_close_all(weir__eio_session *s);
/* Bytes queued on the session's websocket. */
size_t weir__eio_ws_backlog(const weir__eio_session *s);
/* The upgrade deadline passed: give up the probe. */
void weir__eio_ws_upgrade_expired(weir__eio_session *s);

#endif
