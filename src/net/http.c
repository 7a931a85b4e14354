/*
 * The HTTP server's sockets and lifecycle: the listener, accepting (and
 * putting connections beyond max_connections or max_connections_per_ip in
 * the reserve), reading into one buffer shared by every connection, one
 * timer per connection (idle, header, request, linger), graceful stop and
 * asynchronous destroy.
 *
 * A connection closes in one of two ways.  Hard (weir__http_conn_close):
 * uv_close at once, for idle timeouts, errors, destroy.  Graceful
 * (weir__http_conn_finish): after its last response ("Connection: close") is
 * written, the write side is shut down and input is drained for up to
 * WEIR__HTTP_LINGER_MS, so a peer still sending (a refused body) reads the
 * response instead of a reset.
 *
 * A taken-over connection (weir__http_take) keeps its socket and timer here
 * but its reads, writes and timer events go to the taker's hooks; one
 * uv_prepare per server runs the takers' deferred flushes before the loop
 * waits, so what they queue during a turn goes out in one write.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/sockios.h>
#endif

#include "core/alloc.h"
#include "core/error.h"
#include "net/http_internal.h"

#define DEFAULT_MAX_BODY ((size_t)12 * 1024 * 1024)
#define DEFAULT_MAX_HEADER ((size_t)16 * 1024)
#define DEFAULT_MAX_CONNS 10000u
#define DEFAULT_MAX_PER_PEER 256u
#define DEFAULT_IDLE_MS 60000u
#define DEFAULT_REQUEST_MS 30000u
#define DEFAULT_HEADER_MS 10000u
#define LISTEN_BACKLOG 511

/* ------------------------------------------------------------------ server */

weir_http_server *weir__http_server_new(const weir_http_options *opts, weir_http_handler handler, void *ud) {
    weir_http_options none = {0};
    if (!opts) opts = &none;
    weir_http_server *s = weir__calloc(1, sizeof *s);
    if (!s) return NULL;
    s->handler = handler;
    s->ud = ud;
    s->max_body = opts->max_body_bytes ? opts->max_body_bytes : DEFAULT_MAX_BODY;
    s->max_header = opts->max_header_bytes ? opts->max_header_bytes : DEFAULT_MAX_HEADER;
    s->max_conns = opts->max_connections ? opts->max_connections : DEFAULT_MAX_CONNS;
    s->max_per_peer = opts->max_connections_per_ip ? opts->max_connections_per_ip : DEFAULT_MAX_PER_PEER;
    s->idle_ms = opts->idle_timeout_ms ? opts->idle_timeout_ms : DEFAULT_IDLE_MS;
    s->request_ms = opts->request_timeout_ms ? opts->request_timeout_ms : DEFAULT_REQUEST_MS;
    s->header_ms = opts->header_timeout_ms ? opts->header_timeout_ms : DEFAULT_HEADER_MS;
    s->host = weir__strdup(opts->host ? opts->host : "127.0.0.1");
    s->port = opts->port;
    s->date_sec = (time_t)-1;
    char msg[160];
    if (!s->host || weir__http_guard_init(&s->guard, opts->allowed_hosts, opts->cors_origins, s->host, msg, sizeof msg)) {
        weir__free(s->host);
        weir__free(s);
        return NULL;
    }
    return s;
}

static void server_free(weir_http_server *s) {
    while (s->pool) {
        weir__http_req *r = s->pool;
        s->pool = r->next;
        weir__free(r->buf);
        weir__free(r->hdr);
        weir__free(r->ptrs);
        weir__free(r->out);
        weir__free(r);
    }
    s->pool_n = 0;
    weir__free(s->rbuf);
    weir__free(s->host);
    weir__http_guard_free(&s->guard);
    weir__http_peers_free(&s->peers);
    weir__free(s);
}

static void handle_gone(weir_http_server *s) {
    if (--s->handles == 0 && s->destroying) server_free(s);
}

static void on_listener_closed(uv_handle_t *h) { handle_gone(h->data); }
static void on_prepare_closed(uv_handle_t *h) { handle_gone(h->data); }

static void close_listener(weir_http_server *s) {
    if (!s->listening) return;
    s->listening = false;
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
}

/* A bound, listening socket for host:port, or a negative errno. */
static int listen_socket(const char *host, int port) {
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) == 0) {
        len = sizeof(struct sockaddr_in);
    } else if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) == 0) {
        len = sizeof(struct sockaddr_in6);
    } else {
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
        struct addrinfo *ai = NULL;
        char service[16];
        snprintf(service, sizeof service, "%d", port);
        int rc = getaddrinfo(host, service, &hints, &ai);
        if (rc != 0 || !ai) return rc == EAI_SYSTEM ? -errno : UV_EAI_NONAME;
        memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
        len = ai->ai_addrlen;
        freeaddrinfo(ai);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

static void on_connection(uv_stream_t *l, int status);
static void on_prepare(uv_prepare_t *p);

int weir_http_server_start(uv_loop_t *loop, const weir_http_options *opts, weir_http_handler handler, void *ud,
                           weir_http_server **out, weir_error *err) {
    *out = NULL;
    if (!loop || !handler) return weir__error(err, WEIR_EINVAL, "http server: a loop and a handler are needed");
    weir__http_guard g;
    char msg[200];
    int grc = weir__http_guard_init(&g, opts ? opts->allowed_hosts : NULL, opts ? opts->cors_origins : NULL, NULL, msg,
                                    sizeof msg);
    if (grc) return weir__error(err, grc, "%s", msg);
    weir__http_guard_free(&g);
    weir_http_server *s = weir__http_server_new(opts, handler, ud);
    if (s) s->rbuf = weir__malloc(WEIR__HTTP_READ_BUF);
    if (!s || !s->rbuf) {
        if (s) server_free(s);
        return weir__error(err, WEIR_ENOMEM, "out of memory");
    }
    s->loop = loop;
    int fd = listen_socket(s->host, s->port);
    if (fd < 0) {
        weir__error(err, WEIR_EIO, "cannot listen on %s port %d: %s", s->host, s->port, uv_strerror(fd));
        server_free(s);
        return WEIR_EIO;
    }
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    s->handles = 1;
    s->listening = true;
    int rc = uv_tcp_open(&s->listener, fd);
    if (rc != 0)
        close(fd);
    else
        rc = uv_listen((uv_stream_t *)&s->listener, LISTEN_BACKLOG, on_connection);
    if (rc != 0) {
        weir__error(err, WEIR_EIO, "cannot listen on %s port %d: %s", s->host, s->port, uv_strerror(rc));
        s->destroying = true;
        close_listener(s); /* frees s once the loop runs */
        return WEIR_EIO;
    }
    uv_prepare_init(loop, &s->prepare);
    s->prepare.data = s;
    s->prepare_init = true;
    s->handles++;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len) == 0)
        s->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                           : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    *out = s;
    return 0;
}

int weir_http_server_port(const weir_http_server *s) { return s ? s->port : 0; }
size_t weir_http_server_in_flight(const weir_http_server *s) { return s ? s->in_flight : 0; }
size_t weir_http_server_connections(const weir_http_server *s) { return s ? s->n_conns : 0; }
size_t weir_http_server_upgraded(const weir_http_server *s) { return s ? s->n_taken : 0; }

void weir_http_server_stop_accepting(weir_http_server *s) {
    if (!s) return;
    s->stopping = true;
    close_listener(s);
    weir__http_conn *next;
    for (weir__http_conn *c = s->conns; c; c = next) {
        next = c->next;
        if (c->finishing || c->closing) continue;
        if (c->taken) {
            c->to->on_stop(c->to_ud); /* closes nothing now: next stays valid */
            continue;
        }
        if (!c->head) {
            weir__http_conn_close(c);
            continue;
        }
        weir__http_conn_drop_partial(c);
        c->no_more = true;
        c->pending_len = 0;
        weir__http_conn_timer(c);
        weir__http_conn_flush(c);
    }
}

void weir_http_server_destroy(weir_http_server *s) {
    if (!s || s->destroying) return;
    s->destroying = true;
    s->stopping = true;
    close_listener(s);
    while (s->conns) weir__http_conn_close(s->conns); /* their unanswered requests are freed */
    while (s->orphans) {
        weir__http_req *r = s->orphans;
        s->orphans = r->onext;
        weir__http_req_release(r);
    }
    if (s->prepare_init) {
        s->prepare_init = false;
        uv_close((uv_handle_t *)&s->prepare, on_prepare_closed);
    }
    if (s->handles == 0) server_free(s);
}

/* ------------------------------------------------------------- connection */

static void on_timer(uv_timer_t *t);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static void conn_link(weir_http_server *s, weir__http_conn *c) {
    c->server = s;
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    s->n_conns++;
    weir__http_conn_parser_init(c);
}

weir__http_conn *weir__http_conn_new_detached(weir_http_server *s, weir__http_sink sink, void *sink_ud) {
    weir__http_conn *c = weir__calloc(1, sizeof *c);
    if (!c) return NULL;
    c->detached = true;
    c->sink = sink;
    c->sink_ud = sink_ud;
    conn_link(s, c);
    return c;
}

void weir__http_conn_free(weir__http_conn *c) {
    if (!c) return;
    weir__http_conn_close(c);
    weir__free(c->pending);
    weir__free(c->early);
    weir__free(c);
}

static void on_conn_closed(uv_handle_t *h) {
    weir__http_conn *c = h->data;
    if (--c->open_handles) return;
    weir_http_server *s = c->server;
    weir__free(c->pending);
    weir__free(c->early);
    weir__free(c);
    handle_gone(s);
}

static void dirty_unlink(weir__http_conn *c) {
    if (!c->deferred) return;
    c->deferred = false;
    if (c->detached) return;
    if (c->dprev)
        c->dprev->dnext = c->dnext;
    else
        c->server->dirty = c->dnext;
    if (c->dnext) c->dnext->dprev = c->dprev;
    c->dprev = c->dnext = NULL;
}

/* Debug builds: the reserve's list and n_reserve agree (at most
 * WEIR__HTTP_RESERVE + 1 links walked). */
static void reserve_check(const weir_http_server *s) {
#ifndef NDEBUG
    size_t n = 0;
    const weir__http_conn *last = NULL;
    for (const weir__http_conn *r = s->reserve; r; last = r, r = r->rnext) {
        assert(r->in_reserve && r->rprev == last && r->over != WEIR__HTTP_OPEN);
        assert(++n <= s->n_reserve);
    }
    assert(n == s->n_reserve && last == s->reserve_tail && s->n_reserve <= s->n_conns);
#else
    (void)s;
#endif
}

/* Take c out of the reserve if it is in it (a connection beyond a limit
 * that the full reserve refused never was). */
static void reserve_unlink(weir__http_conn *c) {
    if (!c->in_reserve) return;
    weir_http_server *s = c->server;
    if (c->rprev)
        c->rprev->rnext = c->rnext;
    else
        s->reserve = c->rnext;
    if (c->rnext)
        c->rnext->rprev = c->rprev;
    else
        s->reserve_tail = c->rprev;
    c->rprev = c->rnext = NULL;
    c->in_reserve = false;
    s->n_reserve--;
}

void weir__http_conn_close(weir__http_conn *c) {
    if (c->closing) return;
    weir_http_server *s = c->server;
    c->closing = true;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    s->n_conns--;
    reserve_unlink(c);
    reserve_check(s);
    if (c->counted) weir__http_peers_remove(&s->peers, &c->peer);
    c->counted = false;
    if (c->taken) s->n_taken--;
    dirty_unlink(c);
    weir__http_conn_drop_partial(c);
    weir__http_conn_orphan_all(c);
    if (!c->detached) {
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        uv_close((uv_handle_t *)&c->timer, on_conn_closed);
    }
    if (c->to) { /* last: the taker may free what it keeps about c */
        const weir__http_takeover *to = c->to;
        c->to = NULL;
        to->on_close(c->to_ud);
    }
}

/* Bytes written and not yet taken by the peer: libuv's queue plus, where
 * the kernel tells, the socket's send queue.  It shrinks whenever the peer
 * reads. */
static size_t unsent(weir__http_conn *c) {
    size_t n = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
#ifdef SIOCOUTQ
    uv_os_fd_t fd;
    int q = 0;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 && ioctl(fd, SIOCOUTQ, &q) == 0 && q > 0) n += (size_t)q;
#endif
    return n;
}

static void timer_start(weir__http_conn *c, weir__http_timer_kind kind, uint64_t ms) {
    c->timer_kind = kind;
    uv_timer_start(&c->timer, on_timer, ms, 0);
}

/* How long a connection's request line and headers may take (the reserve's
 * is shorter: it only serves /health*). */
static uint64_t header_ms(const weir__http_conn *c) {
    uint64_t ms = c->server->header_ms;
    if (c->over != WEIR__HTTP_OPEN && ms > WEIR__HTTP_RESERVE_HEADER_MS) ms = WEIR__HTTP_RESERVE_HEADER_MS;
    return ms;
}

static void timer_until(weir__http_conn *c, weir__http_timer_kind kind, uint64_t deadline) {
    uint64_t now = uv_now(c->server->loop);
    timer_start(c, kind, deadline > now ? deadline - now : 0);
}

/* While the line and headers arrive, both their bound and the request's. */
static void header_timer(weir__http_conn *c) {
    uint64_t end = c->request_start + c->server->request_ms;
    timer_until(c, WEIR__T_HEADER, c->header_deadline < end ? c->header_deadline : end);
}

void weir__http_conn_request_timer(weir__http_conn *c) {
    if (c->detached || c->closing || c->finishing) return;
    uint64_t now = uv_now(c->server->loop);
    c->request_start = now;
    if (c->served) c->header_deadline = now + header_ms(c); /* the first request's counts from the accept */
    header_timer(c);
}

void weir__http_conn_timer(weir__http_conn *c) {
    if (c->detached || c->closing || c->finishing || c->taken) return;
    if (c->parsing && !c->in_body) {
        if (c->timer_kind != WEIR__T_HEADER) header_timer(c);
    } else if (c->parsing) {
        if (c->timer_kind != WEIR__T_REQUEST) timer_until(c, WEIR__T_REQUEST, c->request_start + c->server->request_ms);
    } else if (c->writing) {
        if (c->timer_kind != WEIR__T_WRITE) {
            /* With nothing queued in libuv the write is done at the next
             * loop turn: the kernel's queue (a syscall per response) is only
             * read when a write is really waiting; otherwise "unknown", and
             * the first expiry measures it and waits once more. */
            c->unsent = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) ? unsent(c) : SIZE_MAX;
            timer_start(c, WEIR__T_WRITE, c->server->idle_ms);
        }
    } else if (!c->head && !c->no_more && !c->served) { /* nothing yet: its header time runs */
        if (c->timer_kind != WEIR__T_HEADER) timer_until(c, WEIR__T_HEADER, c->header_deadline);
    } else if (!c->head && !c->no_more) {
        timer_start(c, WEIR__T_IDLE, c->server->idle_ms);
    } else {
        c->timer_kind = WEIR__T_NONE; /* waiting for the handler: no limit here */
        uv_timer_stop(&c->timer);
    }
}

static void on_timer(uv_timer_t *t) {
    weir__http_conn *c = t->data;
    weir__http_timer_kind kind = c->timer_kind;
    c->timer_kind = WEIR__T_NONE;
    if (c->closing) return;
    switch (kind) {
    case WEIR__T_IDLE:
        if (!c->head && !c->parsing) weir__http_conn_close(c);
        break;
    case WEIR__T_HEADER:
        if (c->parsing && !c->in_body && c->request_start + c->server->request_ms <= c->header_deadline)
            weir__http_conn_refuse(c, 408, "request not received whole within %llu ms",
                                   (unsigned long long)c->server->request_ms);
        else if (c->parsing && !c->in_body)
            weir__http_conn_refuse(c, 408, "request line and headers not received within HEADER_TIMEOUT_MS (%llu ms)",
                                   (unsigned long long)header_ms(c));
        else if (!c->parsing && !c->head && !c->served)
            weir__http_conn_close(c); /* sent nothing: no answer */
        break;
    case WEIR__T_REQUEST:
        if (c->parsing)
            weir__http_conn_refuse(c, 408, "request not received whole within %llu ms",
                                   (unsigned long long)c->server->request_ms);
        break;
    case WEIR__T_WRITE: { /* closed if the peer read nothing of it in idle_ms */
        size_t left = unsent(c);
        if (c->writing && left < c->unsent) {
            c->unsent = left;
            timer_start(c, WEIR__T_WRITE, c->server->idle_ms);
        } else if (c->writing) {
            weir__http_conn_close(c);
        }
        break;
    }
    case WEIR__T_LINGER: weir__http_conn_close(c); break;
    case WEIR__T_TAKEN:
        if (c->to) c->to->on_timer(c->to_ud);
        break;
    case WEIR__T_NONE: break;
    }
}

static void read_start(weir__http_conn *c);

static void on_shutdown(uv_shutdown_t *req, int status) {
    weir__http_conn *c = req->data;
    if (c->closing) return;
    if (status < 0 || c->eof) weir__http_conn_close(c);
}

void weir__http_conn_finish(weir__http_conn *c) {
    if (c->closing || c->finishing) return;
    weir__http_conn_drop_partial(c);
    c->no_more = true;
    c->finishing = true;
    if (c->detached) return;
    c->input_paused = false;
    c->pending_len = 0;
    if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        weir__http_conn_close(c);
        return;
    }
    if (!c->eof) read_start(c); /* drain what the peer still sends */
    uint64_t linger = c->server->idle_ms < WEIR__HTTP_LINGER_MS ? c->server->idle_ms : WEIR__HTTP_LINGER_MS;
    timer_start(c, WEIR__T_LINGER, linger);
}

void weir__http_conn_interim(weir__http_conn *c, const char *data, size_t len) {
    if (c->detached) {
        if (c->sink) c->sink(c->sink_ud, data, len);
        return;
    }
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    /* Nothing is queued (the FIFO is empty): all or nothing in practice.
     * Nothing sent: the client goes on after a while.  A part: the stream
     * is broken. */
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n > 0 && (size_t)n < len) weir__http_conn_close(c);
}

void weir__http_on_write(uv_write_t *w, int status) {
    weir__http_conn *c = w->data;
    if (c->closing) return;
    if (c->taken) {
        if (c->to) c->to->on_written(c->to_ud, status);
        return;
    }
    if (c->timer_kind == WEIR__T_WRITE) c->timer_kind = WEIR__T_NONE; /* progress: the next write starts anew */
    weir__http_conn_written(c, status);
    if (c->closing || c->finishing || c->taken) return;
    weir__http_conn_flush(c);
    weir__http_conn_resume(c);
    weir__http_conn_timer(c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    (void)hint;
    weir__http_conn *c = h->data;
    /* Shared: every read is parsed (or copied to pending) before the next. */
    *buf = uv_buf_init(c->server->rbuf, (unsigned)WEIR__HTTP_READ_BUF);
}

static void read_start(weir__http_conn *c) {
    if (c->reading) return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = true;
    else
        weir__http_conn_close(c);
}

static void read_stop(weir__http_conn *c) {
    if (!c->reading) return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
}

/* Keep the unparsed rest until the FIFO has room. */
static void hold(weir__http_conn *c, const char *data, size_t len) {
    if (c->pending_cap < len) {
        char *p = weir__realloc(c->pending, len);
        if (!p) {
            weir__http_conn_close(c);
            return;
        }
        c->pending = p;
        c->pending_cap = len;
    }
    memmove(c->pending, data, len);
    c->pending_len = len;
    c->input_paused = true;
    read_stop(c);
}

void weir__http_conn_resume(weir__http_conn *c) {
    /* Not again from inside its own feed (an answer written at once there
     * frees room too): that feed goes on parsing by itself. */
    if (!c->input_paused || c->resuming || c->closing || c->finishing || c->queued >= WEIR__HTTP_MAX_PIPELINE) return;
    c->resuming = true;
    size_t used = weir__http_conn_feed(c, c->pending, c->pending_len);
    c->resuming = false;
    if (c->closing || c->finishing) return;
    if (used < c->pending_len) {
        hold(c, c->pending + used, c->pending_len - used);
        return;
    }
    weir__free(c->pending); /* held input is rare (a full FIFO): an idle connection keeps no buffer for it */
    c->pending = NULL;
    c->pending_len = c->pending_cap = 0;
    c->input_paused = false;
    if (!c->eof) read_start(c);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
    weir__http_conn *c = st->data;
    if (c->closing || nread == 0) return;
    if (nread < 0) {
        if (nread != UV_EOF || c->finishing) {
            weir__http_conn_close(c);
            return;
        }
        c->eof = true;
        read_stop(c);
        if (c->taken) {
            c->to->on_read(c->to_ud, NULL, 0);
            return;
        }
        weir__http_conn_drop_partial(c);
        c->no_more = true;
        c->input_paused = false;
        c->pending_len = 0;
        if (!c->head) {
            weir__http_conn_close(c);
            return;
        }
        weir__http_conn_timer(c);
        weir__http_conn_flush(c);
        return;
    }
    if (c->finishing) return; /* drained */
    if (c->taken) {
        c->to->on_read(c->to_ud, buf->base, (size_t)nread);
        return;
    }
    if (c->upgrade_hold) {
        weir__http_conn_keep(c, buf->base, (size_t)nread);
        return;
    }
    if (c->no_more) return; /* drained */
    size_t used = weir__http_conn_feed(c, buf->base, (size_t)nread);
    if (used < (size_t)nread && !c->closing && !c->finishing && !c->no_more)
        hold(c, buf->base + used, (size_t)nread - used);
}

/* -------------------------------------------------------------- take-over */

void weir__http_conn_keep(weir__http_conn *c, const char *data, size_t len) {
    if (!len || c->closing) return;
    if (c->early_len + len > c->early_cap &&
        weir__grow((void **)&c->early, &c->early_cap, c->early_len + len, 1) != 0) {
        weir__http_conn_close(c);
        return;
    }
    memcpy(c->early + c->early_len, data, len);
    c->early_len += len;
    if (c->early_len >= WEIR__HTTP_EARLY_MAX && !c->detached) read_stop(c); /* until the take-over */
}

/* on_start, then the kept input (or the end of it), then reading. */
static void start_taken(weir__http_conn *c) {
    c->start_pending = false;
    c->to->on_start(c->to_ud);
    if (c->closing) return;
    if (c->server->stopping) {
        c->to->on_stop(c->to_ud);
        if (c->closing) return;
    }
    char *early = c->early;
    size_t n = c->early_len;
    c->early = NULL;
    c->early_len = c->early_cap = 0;
    if (n) c->to->on_read(c->to_ud, early, n);
    weir__free(early);
    if (c->closing || c->finishing) return;
    if (c->eof)
        c->to->on_read(c->to_ud, NULL, 0);
    else if (!c->detached)
        read_start(c);
}

void weir__http_conn_handover(weir__http_conn *c) {
    if (c->closing || c->taken) return;
    c->taken = true;
    c->upgrade_hold = false;
    c->server->n_taken++;
    if (c->detached) { /* no hook from inside weir__http_take: at the next feed */
        c->start_pending = true;
        return;
    }
    c->timer_kind = WEIR__T_NONE;
    uv_timer_stop(&c->timer);
    start_taken(c);
}

static void run_deferred(weir__http_conn *c) {
    if (!c->deferred) return;
    dirty_unlink(c);
    if (c->closing) return;
    if (c->to) {
        c->to->on_flush(c->to_ud);
    } else if (!c->taken && !c->finishing) { /* weir__http_conn_defer_resume */
        weir__http_conn_resume(c);
        if (!c->closing) weir__http_conn_timer(c);
    }
}

size_t weir__http_conn_feed_taken(weir__http_conn *c, const char *data, size_t len) {
    if (c->start_pending) start_taken(c);
    if (!c->closing && !c->finishing && len) c->to->on_read(c->to_ud, data, len);
    run_deferred(c);
    return len;
}

int weir__http_conn_write(weir__http_conn *c, uv_buf_t *bufs, unsigned n) {
    if (c->closing || !c->taken) return WEIR_EIO;
    if (c->detached) {
        for (unsigned i = 0; i < n; i++)
            if (c->sink) c->sink(c->sink_ud, bufs[i].base, bufs[i].len);
        return 1;
    }
    /* As for HTTP answers (weir__http_conn_flush): what the kernel takes at
     * once needs no write request, nor its epoll_ctl and callback. */
    int w = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
    if (w < 0 && w != UV_EAGAIN) return WEIR_EIO;
    size_t done = w > 0 ? (size_t)w : 0;
    unsigned first = 0;
    while (first < n && done >= bufs[first].len) done -= bufs[first++].len;
    if (first == n) return 1;
    bufs[first].base += done;
    bufs[first].len -= done;
    return uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs + first, n - first, weir__http_on_write) == 0 ? 0
                                                                                                      : WEIR_EIO;
}

size_t weir__http_conn_write_queue(const weir__http_conn *c) {
    return c->detached || c->closing ? 0 : uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
}

static void defer_link(weir__http_conn *c) {
    c->deferred = true;
    if (c->detached) return;
    weir_http_server *s = c->server;
    c->dprev = NULL;
    c->dnext = s->dirty;
    if (s->dirty) s->dirty->dprev = c;
    s->dirty = c;
    if (!s->prepare_active && s->prepare_init) {
        s->prepare_active = true;
        uv_prepare_start(&s->prepare, on_prepare);
    }
}

void weir__http_conn_defer(weir__http_conn *c) {
    if (c->deferred || c->closing || !c->to) return;
    defer_link(c);
}

void weir__http_conn_defer_resume(weir__http_conn *c) {
    if (c->deferred || c->closing || c->detached) return;
    defer_link(c);
}

static void on_prepare(uv_prepare_t *p) {
    weir_http_server *s = p->data;
    while (s->dirty) run_deferred(s->dirty); /* a flush defers nothing again before its write ends */
    s->prepare_active = false;
    uv_prepare_stop(p);
}

void weir__http_conn_set_timer(weir__http_conn *c, uint64_t ms) {
    if (c->detached || c->closing || c->finishing || !c->taken) return;
    if (!ms) {
        c->timer_kind = WEIR__T_NONE;
        uv_timer_stop(&c->timer);
        return;
    }
    timer_start(c, WEIR__T_TAKEN, ms);
}

void weir__http_conn_let_go(weir__http_conn *c) {
    weir__http_conn_finish(c); /* may close at once: on_close then */
    if (c->to) {
        const weir__http_takeover *to = c->to;
        c->to = NULL;
        to->on_close(c->to_ud);
    }
}

/* Out of memory for a connection: close it.  libuv has accepted it already
 * and stops watching the listener until uv_accept takes it; with no handle
 * to accept it into, close the descriptor it holds (accepted_fd, a field of
 * the Unix stream) so that it goes on accepting. */
static void drop_connection(uv_stream_t *l) {
    if (l->accepted_fd < 0) return;
    close(l->accepted_fd);
    l->accepted_fd = -1;
}

/* Put c (beyond a limit) in the reserve.  A full reserve closes its oldest
 * connection that has sent no request yet; false if every one has. */
static bool reserve_admit(weir_http_server *s, weir__http_conn *c) {
    if (s->n_reserve >= WEIR__HTTP_RESERVE) {
        weir__http_conn *old = s->reserve;
        while (old && old->served) old = old->rnext;
        if (!old) return false;
        weir__http_conn_close(old);
    }
    c->rprev = s->reserve_tail;
    c->rnext = NULL;
    if (s->reserve_tail)
        s->reserve_tail->rnext = c;
    else
        s->reserve = c;
    s->reserve_tail = c;
    c->in_reserve = true;
    s->n_reserve++;
    reserve_check(s);
    return true;
}

static void on_connection(uv_stream_t *l, int status) {
    weir_http_server *s = l->data;
    if (status < 0 || !s->listening) return;
    weir__http_conn *c = weir__calloc(1, sizeof *c);
    if (!c) {
        drop_connection(l);
        return;
    }
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c->timer.data = c->wreq.data = c->sreq.data = c;
    c->open_handles = 2;
    s->handles++;
    conn_link(s, c);
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
        weir__http_conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    bool keyed = uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0 &&
                 weir__http_peer_key((struct sockaddr *)&ss, &c->peer);
    if (s->n_conns - 1 - s->n_reserve >= s->max_conns) {
        c->over = WEIR__HTTP_OVER_TOTAL;
    } else if (keyed && weir__http_peers_count(&s->peers, &c->peer) >= s->max_per_peer) {
        c->over = WEIR__HTTP_OVER_PEER;
    } else if (keyed) {
        if (weir__http_peers_add(&s->peers, &c->peer)) {
            weir__http_conn_close(c);
            return;
        }
        c->counted = true;
    }
    if (c->over != WEIR__HTTP_OPEN && !reserve_admit(s, c)) {
        weir__http_conn_close(c); /* a flood of requests beyond the limits: no answer */
        return;
    }
    len = sizeof ss;
    if (s->guard.wildcard && uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&ss, c->local, sizeof c->local);
        else
            uv_ip4_name((struct sockaddr_in *)&ss, c->local, sizeof c->local);
    }
    uint64_t first = header_ms(c) < s->idle_ms ? header_ms(c) : s->idle_ms;
    c->header_deadline = uv_now(s->loop) + first;
    read_start(c);
    weir__http_conn_timer(c);
}

/* ------------------------------------------------------------ descriptors */

void weir_http_fd_budget_get(unsigned want, weir_http_fd_budget *out) {
    memset(out, 0, sizeof *out);
    const rlim_t other = WEIR__HTTP_RESERVE + WEIR__HTTP_FD_HEADROOM;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        out->connections = want;
        return;
    }
    out->soft_before = rl.rlim_cur;
    out->hard = rl.rlim_max;
    rlim_t target = (rlim_t)want + other;
    if (rl.rlim_max != RLIM_INFINITY && target > rl.rlim_max) target = rl.rlim_max;
    if (rl.rlim_cur != RLIM_INFINITY && target > rl.rlim_cur) {
        struct rlimit raised = {target, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
            rl.rlim_cur = target;
            out->raised = true;
        }
    }
    out->soft = rl.rlim_cur;
    rlim_t room = rl.rlim_cur > other ? rl.rlim_cur - other : 1;
    out->connections = room < (rlim_t)want ? (unsigned)room : want;
}
