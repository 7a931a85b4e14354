/*
 * Inside the HTTP server: the connection and request records shared by
 * http.c (listener, sockets, timers, lifecycle), http_parse.c (http-parser
 * glue: bytes in, requests out) and http_respond.c (formatting responses,
 * the per-connection FIFO that writes them in request order).
 *
 * A connection can be *detached* (no socket, no timers): bytes go in through
 * weir__http_conn_feed() and responses come out through a sink callback, at
 * once.  The fuzz target drives the parsing glue that way.
 */
#ifndef WEIR_SERVER_HTTP_INTERNAL_H
#define WEIR_SERVER_HTTP_INTERNAL_H
#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "server/http.h"

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

typedef struct weir__http_conn weir__http_conn;
typedef struct weir__http_req weir__http_req;

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

/* What the connection timer bounds: no request (idle_ms), one request
 * arriving (request_ms), a write the peer does not read (idle_ms), the
 * drain after the last response (linger). */
typedef enum { WEIR__T_NONE, WEIR__T_IDLE, WEIR__T_REQUEST, WEIR__T_WRITE, WEIR__T_LINGER } weir__http_timer_kind;

typedef void (*weir__http_sink)(void *ud, const char *data, size_t len);

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
    int refuse_status;            /* set by a callback that stops the parser */
    char refuse_msg[160];
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
    bool write_close;  /* the write in flight ends with a Connection: close response */
    bool finishing;    /* last response written: shut down, draining input */
    bool closing;      /* closed (uv_close called) */
    bool eof;          /* the peer has shut down its side */
    bool refused;      /* refused at accept (503), counted in n_refused */
    bool detached;
    weir__http_sink sink;
    void *sink_ud;
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
    unsigned max_conns;
    uint64_t idle_ms, request_ms;
    char *host;
    char *cors_origin;
    size_t cors_len;
    int port;
    weir__http_conn *conns;
    size_t n_conns;   /* open, not yet closing */
    size_t n_refused; /* of which refused at accept */
    size_t in_flight;
    uint64_t next_id;
    weir__http_req *orphans;
    weir__http_req *pool;
    size_t pool_n;
    time_t date_sec;
    char date[48]; /* "Date: <IMF-fixdate>" (35 bytes), cached per second */
    size_t date_len;
    char *rbuf; /* the read buffer every connection shares */
};

/* ---- http.c */
/* Fill in the defaults of opts (may be NULL) into a new server with no loop
 * and no listener.  NULL on allocation failure. */
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
/* Start the request timer (a new message began). */
void weir__http_conn_request_timer(weir__http_conn *c);
/* The FIFO has room again: parse held-back input, read again. */
void weir__http_conn_resume(weir__http_conn *c);
/* uv_write callback of a connection. */
void weir__http_on_write(uv_write_t *w, int status);
/* Write an interim response ("100 Continue") now, best effort. */
void weir__http_conn_interim(weir__http_conn *c, const char *data, size_t len);

/* ---- http_parse.c */
void weir__http_conn_parser_init(weir__http_conn *c);
/* Parse bytes.  Returns how many were consumed: all of them, unless the FIFO
 * filled up (the caller keeps the rest until weir__http_conn_resume).  Input
 * after the last request of a connection is discarded (counted consumed). */
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
/* Answer an OPTIONS request (CORS preflight). */
void weir__http_preflight(weir__http_req *r);
/* Move the unanswered requests of a closing connection to the orphans,
 * release the answered ones. */
void weir__http_conn_orphan_all(weir__http_conn *c);

#endif
