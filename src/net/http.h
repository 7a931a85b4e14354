/*
 * HTTP/1.1 server on libuv + http-parser (DESIGN §3): keep-alive,
 * pipelining, any transfer encoding for request bodies, limits that refuse
 * instead of failing, graceful stop.  Internal to `weir serve`.
 *
 * The handler is called once per complete request, in arrival order.  It
 * answers with weir_http_respond*() exactly once — at once or later (an
 * inject that waits for its effects); responses to pipelined requests are
 * written in request order whatever order they are produced in.  A request
 * stays valid until it is answered, even if its connection has gone (the
 * answer is then dropped).
 */
#ifndef WEIR_NET_HTTP_H
#define WEIR_NET_HTTP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "weir/weir.h"

typedef struct weir_http_server weir_http_server;
typedef struct weir_http_req weir_http_req;

struct weir_http_req {
    const char *method;  /* "GET", "POST", ... */
    const char *path;    /* percent-decoded path without the query ("/api/graphs/x") */
    const char *query;   /* raw query string without '?', "" if none */
    const char *body;    /* NUL-terminated (the NUL is not counted), "" if none */
    size_t body_len;
    size_t n_headers;
    const char *const *header_names;  /* lower-case */
    const char *const *header_values;
    bool keep_alive;
    uint64_t id;         /* per server, increasing */
    void *user;          /* free for the handler */
};

typedef void (*weir_http_handler)(void *ud, weir_http_req *req);

typedef struct weir_http_options {
    const char *host;                /* "127.0.0.1" */
    int port;                        /* 0: an ephemeral port (see weir_http_server_port) */
    size_t max_body_bytes;           /* 413 beyond; 0: 12 MiB */
    size_t max_header_bytes;         /* 431 beyond (request line + headers); 0: 16 KiB */
    /* Connections (SPEC §10).  One beyond max_connections, or beyond
     * max_connections_per_ip from one address (IPv6: one /64), goes to a
     * small reserve (WEIR__HTTP_RESERVE): its request is read, /health and
     * /health/... are answered, anything else gets 503 with Retry-After;
     * then it closes.  A full reserve makes room by closing its oldest
     * connection that has sent no request yet. */
    unsigned max_connections;        /* 0: 10000 */
    unsigned max_connections_per_ip; /* 0: 256 */
    uint64_t header_timeout_ms;      /* a request's line and headers must arrive within this, counted from
                                      * the accept for the first request; 0: 10000 */
    uint64_t idle_timeout_ms;        /* keep-alive connection with no request; 0: 60000 */
    uint64_t request_timeout_ms;     /* a request must arrive whole within this; 0: 30000 */
    /* Browsers (SPEC §10).  Host must name the server: localhost,
     * 127.0.0.1 or [::1] (any port), the bound address, or an entry of
     * allowed_hosts (comma-separated: "name", "name:port", ".domain" for it
     * and its subdomains, "*" for any); else 421.  An Origin, when sent,
     * must be the server's own (http or https, the Host the request came
     * by) or an entry of cors_origins (comma-separated "scheme://host[:port]",
     * "null", or "*" for any); else 403.  Access-Control-Allow-Origin echoes
     * an allowed Origin, never "*" (routes change things: SPEC §10), and
     * every response says Vary: Origin.  NULL or "": nothing more than the
     * defaults. */
    const char *allowed_hosts;
    const char *cors_origins;
} weir_http_options;

/* Bind and listen.  WEIR_EINVAL: allowed_hosts or cors_origins is
 * malformed (err names the setting); WEIR_EIO with the reason (address in
 * use, ...) in err. */
int weir_http_server_start(uv_loop_t *loop, const weir_http_options *opts, weir_http_handler handler, void *ud,
                           weir_http_server **out, weir_error *err);
/* The port actually bound. */
int weir_http_server_port(const weir_http_server *s);
/* Graceful stop, step 1: close the listener; idle connections close now,
 * busy ones after their in-flight responses (sent with Connection: close). */
void weir_http_server_stop_accepting(weir_http_server *s);
/* Requests received and not yet answered. */
size_t weir_http_server_in_flight(const weir_http_server *s);
/* Open connections, including those taken over by another protocol
 * (WebSocket), which also count against max_connections. */
size_t weir_http_server_connections(const weir_http_server *s);
/* Of the open connections, those taken over by another protocol. */
size_t weir_http_server_upgraded(const weir_http_server *s);
/* Close everything (unanswered requests are dropped) and free, asynchronously:
 * run the loop until it returns afterwards.  NULL is a no-op. */
void weir_http_server_destroy(weir_http_server *s);

/* The open-file limit (RLIMIT_NOFILE) and the connections it allows. */
typedef struct weir_http_fd_budget {
    unsigned long long soft_before, soft, hard; /* the soft limit found, the one now, the hard limit */
    unsigned connections;                       /* max_connections this limit allows */
    bool raised;                                /* the soft limit was raised */
} weir_http_fd_budget;
/* Raise the soft open-file limit of the process as far as the hard limit
 * allows (no further than want_connections needs), and say how many
 * connections fit beside the server's other descriptors and its reserve. */
void weir_http_fd_budget_get(unsigned want_connections, weir_http_fd_budget *out);

/* Header value by lower-case name, or NULL. */
const char *weir_http_header(const weir_http_req *r, const char *name);
/* Answer.  Extra headers: NULL-terminated name/value pairs, or NULL.
 * Date, Content-Length, Connection and CORS headers are added, and
 * Retry-After to a 429 (WEIR_HTTP_RETRY_429_S) or a 503
 * (WEIR_HTTP_RETRY_503_S) whose extra headers have none. */
void weir_http_respond(weir_http_req *r, int status, const char *content_type, const char *body, size_t len,
                       const char *const *extra_headers);
/* Answer with a JSON body (STOLEN; NULL answers 500).  An error body (status
 * >= 400, an object with "error") without "code" gets the code of its
 * status (weir_http_status_code). */
void weir_http_respond_json(weir_http_req *r, int status, json_t *body);
/* The same with extra headers (as weir_http_respond's), e.g. Location. */
void weir_http_respond_json_h(weir_http_req *r, int status, json_t *body, const char *const *extra_headers);
/* Answer {"error": message, "code": ...} with status. */
void weir_http_respond_error(weir_http_req *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Seconds a client is told to wait (Retry-After) before trying again:
 * after a 429 a queue or a limit frees up as work finishes, so soon; a 503
 * (shutting down, out of memory, at MAX_CONNECTIONS, the store failing)
 * takes longer to clear. */
#define WEIR_HTTP_RETRY_429_S "1"
#define WEIR_HTTP_RETRY_503_S "5"

/* The WEIR_E... code an error status stands for when nothing more precise
 * is known (the table in weir/weir.h): 400 WEIR_EINVAL, 401 WEIR_EAUTH, ...;
 * another 4xx WEIR_EINVAL, another 5xx WEIR_EINTERNAL. */
int weir_http_status_code(int status);

/* Reason phrase of a status ("Not Found"). */
const char *weir_http_reason(int status);

#endif
