/*
 * Inside the HTTP server: the connection and request records shared by
 * http.c (listener, sockets, timers, lifecycle), http_parse.c (http-parser
 * glue: bytes in, requests out) and http_respond.c (formatting responses,
 * the per-connection FIFO that writes them in request order).
 *
 * A connection can be *detached* (no socket, no timers): bytes go in through
 * weir__http_conn_feed() and responses come out through a sink callback, at
 * once.  The fuzz target drives the parsing glue that way.
 *
 * Take-over (weir__http_take): another protocol (WebSocket) answers an
 * upgrade request with its own switching response and gets the connection.
 * The response waits its turn in the FIFO like any other (requests
 * pipelined before the upgrade are answered first); once it is written the
 * connection is *taken*: the HTTP timers stop, reads go to the taker's
 * hooks (first the bytes that arrived after the upgrade request's headers,
 * kept meanwhile), and the taker writes through weir__http_conn_write().
 * A taken connection stays in the server's list, so it counts in
 * weir_http_server_connections() and against max_connections; it is no
 * longer in in_flight (its request was answered).  stop_accepting asks the
 * taker to leave (on_stop); destroy closes it (on_close).
 */
#ifndef WEIR_NET_HTTP_INTERNAL_H
#define WEIR_NET_HTTP_INTERNAL_H
#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "net/http.h"

/* Unanswered requests one connection may hold before it stops reading. */
#define WEIR__HTTP_MAX_PIPELINE 32
/* Responses gathered into one write. */
#define WEIR__HTTP_MAX_BATCH 16
/* Released request records the server keeps for reuse. */
#define WEIR__HTTP_POOL_MAX 256
/* A pooled record keeps buffers up to this size. */
#define WEIR__HTTP_POOL_KEEP_BYTES ((size_t)16 * 1024)
/* After the last response of a closing connection: how long unread input is
 * drained (so the peer reads the response instead of a reset). */
#define WEIR__HTTP_LINGER_MS 2000
#define WEIR__HTTP_READ_BUF ((size_t)64 * 1024)
/* Input kept for a taker before the take-over completes: reading pauses
 * beyond this. */
#define WEIR__HTTP_EARLY_MAX ((size_t)64 * 1024)
/* Connections beyond max_connections (or the per-address limit) kept to
 * answer /health* (see weir_http_options). */
#define WEIR__HTTP_RESERVE 64
/* A reserve connection's request must arrive within this (or the header
 * timeout, if shorter). */
#define WEIR__HTTP_RESERVE_HEADER_MS 1000
/* Retry-After of the 503 a connection beyond a limit gets, in seconds. */
#define WEIR__HTTP_RETRY_AFTER "1"
/* Longest Origin (or Host) taken: scheme, a 253-byte name, a port. */
#define WEIR__HTTP_ORIGIN_MAX 300
/* Descriptors kept for everything but connections (store, log, component
 * host pipes, outgoing requests, libuv's own). */
#define WEIR__HTTP_FD_HEADROOM 256

typedef struct weir__http_conn weir__http_conn;
typedef struct weir__http_req weir__http_req;

/* ---- http_guard.c: Host and Origin (see weir_http_options) */
typedef struct weir__http_guard {
    bool any_host, any_origin, null_origin;
    bool wildcard;   /* bound to 0.0.0.0 or ::: the connection's local address names the server */
    char *bound;     /* the bound address, or NULL */
    char **hosts;    /* allowed_hosts entries: "name", ".domain", with "\nport" when one is given */
    size_t n_hosts;
    char **origins;  /* cors_origins entries, normalised */
    size_t n_origins;
} weir__http_guard;
/* 0, or WEIR_EINVAL with a message naming the setting and its entry. */
int weir__http_guard_init(weir__http_guard *g, const char *allowed_hosts, const char *cors_origins, const char *bound,
                          char *msg, size_t cap);
void weir__http_guard_free(weir__http_guard *g);
/* Host (a header value) names the server; local: the address the
 * connection arrived on, or NULL. */
bool weir__http_guard_host(const weir__http_guard *g, const char *host, const char *local);
/* Origin (a header value) may act: listed, or the server's own for host
 * (the request's Host, NULL when none). */
bool weir__http_guard_origin(const weir__http_guard *g, const char *origin, const char *host);

/* ---- http_peers.c: open connections per client address */
typedef struct weir__http_peer {
    uint8_t b[16];
} weir__http_peer;
typedef struct weir__http_peers_slot {
    weir__http_peer key;
    unsigned n; /* 0: empty */
} weir__http_peers_slot;
typedef struct weir__http_peers {
    weir__http_peers_slot *slots;
    size_t cap, used;
} weir__http_peers;
struct sockaddr;
/* The key counting sa (IPv4, or an IPv6 /64); false for other families. */
bool weir__http_peer_key(const struct sockaddr *sa, weir__http_peer *k);
unsigned weir__http_peers_count(const weir__http_peers *p, const weir__http_peer *k);
int weir__http_peers_add(weir__http_peers *p, const weir__http_peer *k); /* WEIR_ENOMEM */
void weir__http_peers_remove(weir__http_peers *p, const weir__http_peer *k);
void weir__http_peers_free(weir__http_peers *p);

/* Offsets into weir__http_req.buf while a request is parsed (buf moves). */
typedef struct weir__http_hdr {
    size_t name_off, name_len, value_off, value_len;
} weir__http_hdr;

struct weir__http_req {
    weir_http_req pub;         /* first: the handler's pointer is this record */
    weir__http_conn *conn;     /* NULL once its connection has gone */
    weir_http_server *server;  /* requests never outlive it: destroy frees the unanswered */
    weir__http_req *next;      /* connection FIFO, or the server pool */
    weir__http_req *oprev, *onext; /* server orphan list (unanswered, no connection) */
    bool answered;
    bool close;     /* the connection closes after this response */
    bool synthetic; /* made by the server (errors, 503 at accept): not in in_flight */
    bool head;      /* HEAD: answered without a body */
    bool orphan;
    bool takeover;  /* its response switches protocols: the connection is taken once it is written */
    bool vary;      /* "Vary: Origin" goes with the response */
    /* Access-Control-Allow-Origin of the response ("" for none): the
     * request's allowed Origin, never "*" (decided at dispatch: buf is
     * reused for the answer). */
    char acao[WEIR__HTTP_ORIGIN_MAX];
    /* Request text: url, header names and values, decoded path, query, body,
     * each NUL-terminated; pub's pointers point here once it is complete. */
    char *buf;
    size_t len, cap;
    size_t url_off, url_len, path_off, query_off, body_off;
    weir__http_hdr *hdr;
    size_t n_hdr, hdr_cap;
    const char **ptrs; /* header names, then values */
    size_t ptrs_cap;
    /* Response: out[out_off .. out_off + out_len) is written.  It starts
     * with the status line then "Connection: keep-alive\r\n" or "close";
     * keep_line says which, so a late close can be patched in place. */
    char *out;
    size_t out_cap, out_off, out_len, status_line_len;
    bool keep_line;
};

/* What the connection timer bounds: no request (idle_ms), a request line
 * and headers arriving (header_ms, from the accept for the first request;
 * request_ms too), the rest of a request arriving (request_ms), a write the
 * peer does not read (idle_ms), the drain after the last response (linger). */
typedef enum {
    WEIR__T_NONE,
    WEIR__T_IDLE,
    WEIR__T_HEADER,
    WEIR__T_REQUEST,
    WEIR__T_WRITE,
    WEIR__T_LINGER,
    WEIR__T_TAKEN /* the taker's (weir__http_conn_set_timer) */
} weir__http_timer_kind;

typedef void (*weir__http_sink)(void *ud, const char *data, size_t len);

/* What the taker of a connection is told.  ud is the one given to
 * weir__http_take.  No hook is called from inside weir__http_take, nor from
 * inside a weir__http_conn_* call the taker makes, except on_close from
 * weir__http_conn_close, _finish and _let_go.  Every hook but on_close may
 * close the connection. */
typedef struct weir__http_takeover {
    /* The switching response is written: the connection is the taker's.
     * on_read follows with the bytes kept since the upgrade request. */
    void (*on_start)(void *ud);
    /* Bytes from the peer, BORROWED for the call; len 0: the peer shut its
     * side down (nothing more will be read). */
    void (*on_read)(void *ud, const char *data, size_t len);
    /* The write started by weir__http_conn_write finished (status < 0: failed). */
    void (*on_written)(void *ud, int status);
    /* After weir__http_conn_defer: once, before the loop next waits for I/O. */
    void (*on_flush)(void *ud);
    /* The timer set by weir__http_conn_set_timer expired. */
    void (*on_timer)(void *ud);
    /* The server stops accepting: leave gracefully.  Must not close any
     * connection before returning (the server is walking its list). */
    void (*on_stop)(void *ud);
    /* The connection is closed (by the taker, an error, destroy, or before
     * the switching response was written).  Last call; the connection must
     * not be used any more. */
    void (*on_close)(void *ud);
} weir__http_takeover;

struct weir__http_conn {
    uv_tcp_t tcp; /* handle->data = this connection */
    uv_timer_t timer;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    http_parser parser;
    weir_http_server *server;
    weir__http_conn *prev, *next; /* server's open connections */
    weir__http_req *head, *tail;  /* requests in arrival order, until written */
    unsigned queued;              /* length of the FIFO */
    unsigned writing;             /* requests at the head inside the write in flight */
    weir__http_req *cur;          /* being parsed */
    size_t hdr_bytes;             /* request line + headers of cur so far */
    char *pending; /* input held back while the FIFO is full */
    size_t pending_len, pending_cap;
    weir__http_timer_kind timer_kind;
    size_t unsent; /* write queue bytes when the write timer started */
    int open_handles;
    uint8_t last_cb;
    bool parsing;      /* between message begin and complete */
    bool in_body;      /* cur's headers are complete */
    bool no_more;      /* no further requests: close once the FIFO is written */
    bool reading;
    bool input_paused; /* FIFO full: pending holds unparsed input, reading stopped */
    bool resuming;     /* inside weir__http_conn_resume's feed of pending */
    bool write_close;  /* the write in flight ends with a Connection: close response */
    bool finishing;    /* last response written: shut down, draining input */
    bool closing;      /* closed (uv_close called) */
    bool eof;          /* the peer has shut down its side */
    /* Limits (see weir_http_options) */
    enum { WEIR__HTTP_OPEN, WEIR__HTTP_OVER_TOTAL, WEIR__HTTP_OVER_PEER } over; /* not OPEN: in the reserve */
    bool counted;       /* counted in the server's peers under peer */
    bool served;        /* a request was dispatched: the next one's header time starts with its first byte */
    weir__http_peer peer;
    uint64_t header_deadline; /* loop time the current request's headers must be in by */
    uint64_t request_start;   /* loop time the current request began */
    weir__http_conn *rprev, *rnext; /* the server's reserve, oldest first */
    bool in_reserve;    /* linked in the server's reserve (over is set before it is admitted) */
    char local[48];     /* the address the connection arrived on, when the server is bound to a wildcard */
    bool detached;
    weir__http_sink sink;
    void *sink_ud;
    /* Take-over */
    bool upgrade_hold;  /* the parser stopped at an upgrade: later input is kept in early */
    bool taken;         /* the switching response is written: the taker owns the connection */
    bool start_pending; /* detached: on_start is due at the next feed */
    bool deferred;      /* in the server's dirty list (or, detached, due at the end of feed) */
    char *early;        /* input after the upgrade request, for the taker */
    size_t early_len, early_cap;
    const weir__http_takeover *to; /* set once weir__http_take succeeded, until on_close */
    void *to_ud;
    weir__http_conn *dprev, *dnext; /* the server's dirty list */
};

struct weir_http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    bool listening;
    bool stopping;
    bool destroying;
    int handles; /* libuv handles not yet closed (listener, connections) */
    weir_http_handler handler;
    void *ud;
    size_t max_body, max_header;
    unsigned max_conns, max_per_peer;
    uint64_t idle_ms, request_ms, header_ms;
    char *host;
    weir__http_guard guard;
    weir__http_peers peers;
    int port;
    weir__http_conn *conns;
    size_t n_conns;   /* open, not yet closing */
    size_t n_reserve; /* of which in the reserve: exactly those with in_reserve */
    weir__http_conn *reserve, *reserve_tail; /* oldest first */
    size_t n_taken;   /* of which taken over (weir__http_take) */
    uv_prepare_t prepare; /* runs on_flush of the dirty connections before the loop waits */
    bool prepare_init, prepare_active;
    weir__http_conn *dirty;
    size_t in_flight;
    uint64_t next_id;
    weir__http_req *orphans;
    weir__http_req *pool;
    size_t pool_n;
    time_t date_sec;
    char date[48]; /* "Date: <IMF-fixdate>" (35 bytes), cached per second */
    size_t date_len;
    char *rbuf; /* the read buffer every connection shares */
    /* Why a parser callback stopped the parser, for the refusal made as
     * soon as http_parser_execute returns (one connection at a time, so
     * the server keeps it, not every connection). */
    int refuse_status;
    char refuse_msg[160];
};

/* ---- http.c */
/* Fill in the defaults of opts (may be NULL) into a new server with no loop
 * and no listener.  NULL on allocation failure or a malformed allowed_hosts
 * or cors_origins (weir_http_server_start says which). */
weir_http_server *weir__http_server_new(const weir_http_options *opts, weir_http_handler handler, void *ud);
/* A detached connection: bytes in through weir__http_conn_feed(), every
 * response given to sink at once.  Free with weir__http_conn_free(). */
weir__http_conn *weir__http_conn_new_detached(weir_http_server *s, weir__http_sink sink, void *sink_ud);
void weir__http_conn_free(weir__http_conn *c);
/* Close the connection now: unanswered requests become orphans. */
void weir__http_conn_close(weir__http_conn *c);
/* The last response is written: shut down and drain, then close. */
void weir__http_conn_finish(weir__http_conn *c);
/* Re-arm the timer after a state change. */
void weir__http_conn_timer(weir__http_conn *c);
/* Start the header timer (a new message began). */
void weir__http_conn_request_timer(weir__http_conn *c);
/* The FIFO has room again: parse held-back input, read again. */
void weir__http_conn_resume(weir__http_conn *c);
/* The same before the loop next waits for I/O: for an answer written at
 * once from inside a handler, which must never be re-entered from there
 * (a handler may be answering from inside a core callback). */
void weir__http_conn_defer_resume(weir__http_conn *c);
/* uv_write callback of a connection. */
void weir__http_on_write(uv_write_t *w, int status);
/* Write an interim response ("100 Continue") now, best effort. */
void weir__http_conn_interim(weir__http_conn *c, const char *data, size_t len);
/* The switching response of the FIFO's last request is written: the
 * connection becomes the taker's. */
void weir__http_conn_handover(weir__http_conn *c);
/* Keep input that arrived after an upgrade request (COPIED) for the taker. */
void weir__http_conn_keep(weir__http_conn *c, const char *data, size_t len);
/* weir__http_conn_feed on a detached taken connection. */
size_t weir__http_conn_feed_taken(weir__http_conn *c, const char *data, size_t len);

/* ---- take-over (http.c; weir__http_take is in http_respond.c) */
/* Write bufs (the memory stays the caller's until on_written; the array
 * itself may be changed) on a taken connection, one write at a time.  It is
 * tried straight on the socket first.  1: written whole at once (detached:
 * given to the sink); no on_written.  0: the kernel took a part or nothing,
 * the rest follows; on_written once it is written.  WEIR_EIO: the
 * connection failed (nothing more will be written). */
int weir__http_conn_write(weir__http_conn *c, uv_buf_t *bufs, unsigned n);
/* Bytes of the write in flight not yet taken by the kernel. */
size_t weir__http_conn_write_queue(const weir__http_conn *c);
/* Ask for on_flush once before the loop next waits for I/O (detached: at
 * the end of the current or next weir__http_conn_feed). */
void weir__http_conn_defer(weir__http_conn *c);
/* The taker's timer: on_timer after ms (0 stops it).  Replaced by the
 * linger timer of weir__http_conn_finish. */
void weir__http_conn_set_timer(weir__http_conn *c, uint64_t ms);
/* The taker is done: finish the connection as after a last response
 * (write side shut down once the writes in flight are done, input drained
 * until the peer closes or the linger timer fires) without it.  on_close
 * is called before this returns; no hook after. */
void weir__http_conn_let_go(weir__http_conn *c);

/* ---- http_parse.c */
void weir__http_conn_parser_init(weir__http_conn *c);
/* Parse bytes.  Returns how many were consumed: all of them, unless the FIFO
 * filled up (the caller keeps the rest until weir__http_conn_resume).  Input
 * after the last request of a connection is discarded (counted consumed),
 * or kept for the taker after an upgrade request.  A detached taken
 * connection gives the bytes to its taker (first on_start and the kept
 * bytes if due), then runs a deferred on_flush; len 0 does only that. */
size_t weir__http_conn_feed(weir__http_conn *c, const char *data, size_t len);

/* ---- http_respond.c */
weir__http_req *weir__http_req_get(weir_http_server *s);
/* Return a record to the pool (or free it). */
void weir__http_req_release(weir__http_req *r);
/* Drop cur (a partial request). */
void weir__http_conn_drop_partial(weir__http_conn *c);
/* Queue a server-made error response {"error": msg} that closes the
 * connection; no request is parsed after it. */
void weir__http_conn_refuse(weir__http_conn *c, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Write the answered responses at the head of the FIFO. */
void weir__http_conn_flush(weir__http_conn *c);
/* The write of c->writing responses finished with status. */
void weir__http_conn_written(weir__http_conn *c, int status);
/* Append r to the FIFO. */
void weir__http_conn_push(weir__http_conn *c, weir__http_req *r);
/* Take-over: answer req, the upgrade request its connection's parser
 * stopped at, with response (len bytes, COPIED: status line and headers,
 * sent as given) and hand the connection to hooks (BORROWED: must outlive
 * it; ud given to each) once that response is written — after the answers
 * to requests pipelined before it.  0 and *out set: req is answered.
 * WEIR_ESTATE (req not answered: answer it): req is not that upgrade, its
 * connection is gone or closing, or the server is stopping.  WEIR_ENOMEM
 * (not answered).  WEIR_EIO: answered, but the connection failed at once
 * (no hook will be called). */
int weir__http_take(weir_http_req *req, const char *response, size_t len, const weir__http_takeover *hooks, void *ud,
                    weir__http_conn **out);
/* Answer an OPTIONS request (CORS preflight). */
void weir__http_preflight(weir__http_req *r);
/* Move the unanswered requests of a closing connection to the orphans,
 * release the answered ones. */
void weir__http_conn_orphan_all(weir__http_conn *c);

#endif
