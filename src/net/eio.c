/*
 * The Engine.IO server (see eio.h): the server object, sessions found by sid
 * in a hash table, the one timer per session that carries every deadline
 * (pings, pongs, the held GET, connect and upgrade timeouts, a graceful
 * close), request routing with engine.io's error codes, and closing (see
 * eio_internal.h for when callbacks run).
 */
#include <ctype.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "net/eio_internal.h"

static const char *const error_messages[] = {
    "Transport unknown", "Session ID unknown", "Bad handshake method",
    "Bad request",       "Forbidden",          "Unsupported protocol version",
};

void weir__eio_refuse(weir_http_req *req, int code) {
    char body[96];
    int n = snprintf(body, sizeof body, "{\"code\":%d,\"message\":\"%s\"}", code, error_messages[code]);
    weir_http_respond(req, code == WEIR__EIO_ERR_FORBIDDEN ? 403 : 400, "application/json", body, (size_t)n, NULL);
}

void weir__eio_refuse_closed(weir_http_req *req) {
    static const char body[] = "{\"code\":3,\"message\":\"Server shutting down\"}";
    weir_http_respond(req, 503, "application/json", body, sizeof body - 1, NULL);
}

uint64_t weir__eio_now(const weir_eio *x) { return uv_now(x->loop); }

int weir__eio_random_id(char out[WEIR__EIO_ID_LEN + 1]) {
    static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[15];
    if (RAND_bytes(raw, sizeof raw) != 1) return WEIR_EIO;
    for (int i = 0, o = 0; i < 15; i += 3) {
        unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 | raw[i + 2];
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
        out[o++] = b64url[v >> 6 & 63];
        out[o++] = b64url[v & 63];
    }
    out[WEIR__EIO_ID_LEN] = '\0';
    return 0;
}

/* ------------------------------------------------------------ sid table */

static size_t hash_sid(const char *sid) {
    size_t h = 2166136261u;
    for (; *sid; sid++) h = (h ^ (unsigned char)*sid) * 16777619u;
    return h;
}

static weir__eio_session *find(const weir_eio *x, const char *sid) {
    if (!x->nbuckets) return NULL;
    for (weir__eio_session *s = x->buckets[hash_sid(sid) & (x->nbuckets - 1)]; s; s = s->hnext)
        if (strcmp(s->sid, sid) == 0) return s;
    return NULL;
}

static int table_put(weir_eio *x, weir__eio_session *s) {
    if (x->nsessions + 1 > x->nbuckets) {
        size_t n = x->nbuckets ? x->nbuckets * 2 : 64;
        weir__eio_session **b = weir__calloc(n, sizeof *b);
        if (!b) return WEIR_ENOMEM;
        for (size_t i = 0; i < x->nbuckets; i++) {
            for (weir__eio_session *e = x->buckets[i], *next; e; e = next) {
                next = e->hnext;
                size_t k = hash_sid(e->sid) & (n - 1);
                e->hnext = b[k];
                b[k] = e;
            }
        }
        weir__free(x->buckets);
        x->buckets = b;
        x->nbuckets = n;
    }
    size_t k = hash_sid(s->sid) & (x->nbuckets - 1);
    s->hnext = x->buckets[k];
    x->buckets[k] = s;
    x->nsessions++;
    s->next = x->all;
    if (x->all) x->all->prev = s;
    x->all = s;
    return 0;
}

static void table_del(weir_eio *x, weir__eio_session *s) {
    for (weir__eio_session **p = &x->buckets[hash_sid(s->sid) & (x->nbuckets - 1)]; *p; p = &(*p)->hnext) {
        if (*p == s) {
            *p = s->hnext;
            break;
        }
    }
    x->nsessions--;
    if (s->prev)
        s->prev->next = s->next;
    else
        x->all = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

/* ------------------------------------------------------------- sessions */

/* Copy the handshake request: method, path, query and headers. */
static int copy_handshake(weir__eio_session *s, const weir_http_req *r) {
    size_t n = r->n_headers;
    size_t total = strlen(r->method) + strlen(r->path) + strlen(r->query) + 3;
    for (size_t i = 0; i < n; i++) total += strlen(r->header_names[i]) + strlen(r->header_values[i]) + 2;
    s->hs_text = weir__malloc(total);
    s->hs_ptrs = n ? weir__calloc(2 * n, sizeof *s->hs_ptrs) : NULL;
    if (!s->hs_text || (n && !s->hs_ptrs)) return WEIR_ENOMEM;
    char *p = s->hs_text;
#define COPY(dst, src)                                                                                             \
    do {                                                                                                           \
        size_t len_ = strlen(src) + 1;                                                                             \
        memcpy(p, src, len_);                                                                                      \
        dst = p;                                                                                                   \
        p += len_;                                                                                                 \
    } while (0)
    COPY(s->hs.method, r->method);
    COPY(s->hs.path, r->path);
    COPY(s->hs.query, r->query);
    for (size_t i = 0; i < n; i++) {
        COPY(s->hs_ptrs[i], r->header_names[i]);
        COPY(s->hs_ptrs[n + i], r->header_values[i]);
    }
#undef COPY
    s->hs.body = "";
    s->hs.body_len = 0;
    s->hs.n_headers = n;
    s->hs.header_names = s->hs_ptrs;
    s->hs.header_values = s->hs_ptrs + n;
    s->hs.keep_alive = r->keep_alive;
    s->hs.id = r->id;
    s->hs.user = NULL;
    return 0;
}

static void on_timer(uv_timer_t *t);

weir__eio_session *weir__eio_session_new(weir_eio *x, weir__eio_transport t, const weir_http_req *hs) {
    weir__eio_session *s = weir__calloc(1, sizeof *s);
    if (!s) return NULL;
    s->x = x;
    s->transport = t;
    s->state = WEIR__EIO_OPEN;
    do {
        if (weir__eio_random_id(s->sid) != 0) goto fail;
    } while (find(x, s->sid));
    if (copy_handshake(s, hs) != 0 || table_put(x, s) != 0) goto fail;
    uv_timer_init(x->loop, &s->timer);
    s->timer.data = s;
    uint64_t now = weir__eio_now(x);
    s->ping_at = now + x->o.ping_interval_ms;
    s->connect_by = now + x->o.connect_timeout_ms;
    weir__eio_arm(s);
    return s;
fail:
    weir__free(s->hs_text);
    weir__free(s->hs_ptrs);
    weir__free(s);
    return NULL;
}

static void timer_closed(uv_handle_t *h) {
    weir__eio_session *s = h->data;
    weir_eio *x = s->x;
    weir__free(s);
    if (--x->closing_handles == 0 && x->destroying) {
        weir__free(x->buckets);
        weir__free(x);
    }
}

void weir__eio_finish(weir__eio_session *s, const char *reason, bool client_gone) {
    if (s->state == WEIR__EIO_CLOSED) return;
    weir_eio *x = s->x;
    s->state = WEIR__EIO_CLOSED;
    if (!s->close_reason) s->close_reason = reason;
    table_del(x, s);
    if (s->poll) weir__eio_poll_answer(s, client_gone ? WEIR_EIO_NOOP : WEIR_EIO_CLOSE);
    weir__eio_ws_close_all(s);
    weir__eio_queue_clear(s);
    weir__sio_gone(s, reason);
    weir__free(s->q);
    s->q = NULL;
    weir__free(s->hs_text);
    weir__free(s->hs_ptrs);
    s->hs_text = NULL;
    s->hs_ptrs = NULL;
    x->closing_handles++;
    uv_close((uv_handle_t *)&s->timer, timer_closed);
}

void weir__eio_close(weir__eio_session *s, const char *reason, bool disconnect_socket) {
    if (s->state != WEIR__EIO_OPEN) return;
    weir_eio *x = s->x;
    if (s->sock) {
        s->sock->closing = true;
        if (disconnect_socket) {
            weir_sbuf *b = NULL;
            if (weir_sio_encode_disconnect(&b) == 0) {
                (void)weir__eio_send(s, b);
                weir_sbuf_unref(b);
            }
        }
    }
    s->state = WEIR__EIO_CLOSING;
    s->close_reason = reason;
    /* Polling: the queued packets (the DISCONNECT last) go to the held GET at
     * the next turn, or to the next GET; the GET after that gets the close
     * packet, unless the client sends its own close first (socket.io-client
     * does once its last socket is gone).  Sent together, the close would
     * overtake the DISCONNECT in the client.  WebSocket: the queued frames go
     * out, then the close handshake; the session ends when the websocket has
     * closed.  Either way close_by bounds the wait. */
    s->close_by = weir__eio_now(x) + x->o.ping_timeout_ms;
    if (s->transport == WEIR__EIO_POLLING) {
        if (s->poll) s->flush_soon = true;
    } else {
        weir__eio_ws_shutdown(s);
    }
    s->ping_at = s->pong_by = s->poll_by = s->connect_by = s->upgrade_by = 0;
    weir__eio_arm(s);
}

/* Queue pkt for the next GET, whatever the state. */
static int enqueue(weir__eio_session *s, weir_sbuf *pkt) {
    if (s->q_len == s->q_cap && weir__grow((void **)&s->q, &s->q_cap, s->q_len + 1, sizeof *s->q) != 0)
        return WEIR_ENOMEM;
    s->q[s->q_len++] = weir_sbuf_ref(pkt);
    s->q_bytes += pkt->len;
    if (s->poll && !s->flush_soon) {
        s->flush_soon = true;
        weir__eio_arm(s);
    }
    return 0;
}

int weir__eio_send(weir__eio_session *s, weir_sbuf *pkt) {
    if (s->state != WEIR__EIO_OPEN) return WEIR_ESTATE;
    if (s->transport == WEIR__EIO_WEBSOCKET) return weir__eio_ws_send(s, pkt);
    return enqueue(s, pkt);
}

int weir__eio_send_type(weir__eio_session *s, weir_eio_type type, const char *data, size_t len) {
    weir_sbuf *b = weir_eio_encode(type, data, len);
    if (!b) return WEIR_ENOMEM;
    int rc = weir__eio_send(s, b);
    weir_sbuf_unref(b);
    return rc;
}

static uint64_t earliest(uint64_t a, uint64_t b) { return !a ? b : !b ? a : a < b ? a : b; }

void weir__eio_arm(weir__eio_session *s) {
    if (s->state == WEIR__EIO_CLOSED) return;
    uint64_t now = weir__eio_now(s->x);
    uint64_t due = s->flush_soon ? now : 0;
    due = earliest(due, s->ping_at);
    due = earliest(due, s->pong_by);
    due = earliest(due, s->poll ? s->poll_by : 0);
    due = earliest(due, s->sock ? 0 : s->connect_by);
    due = earliest(due, s->upgrade_by);
    due = earliest(due, s->close_by);
    if (!due) {
        uv_timer_stop(&s->timer);
        return;
    }
    uv_timer_start(&s->timer, on_timer, due > now ? due - now : 0, 0);
}

static void on_timer(uv_timer_t *t) {
    weir__eio_session *s = t->data;
    weir_eio *x = s->x;
    uint64_t now = weir__eio_now(x);
    if (s->flush_soon) {
        s->flush_soon = false;
        if (s->poll && s->state == WEIR__EIO_CLOSING && !s->q_len) {
            weir__eio_finish(s, s->close_reason, false); /* the held GET gets the close packet */
            return;
        }
        if (s->poll && s->q_len) weir__eio_poll_flush(s);
    }
    if (s->close_by && now >= s->close_by) {
        weir__eio_finish(s, s->close_reason, false);
        return;
    }
    if (s->pong_by && now >= s->pong_by) {
        weir__eio_finish(s, "ping timeout", false);
        return;
    }
    if (!s->sock && s->connect_by && now >= s->connect_by) {
        weir__eio_finish(s, "connect timeout", false);
        return;
    }
    if (s->upgrade_by && now >= s->upgrade_by) {
        s->upgrade_by = 0;
        weir__eio_ws_upgrade_expired(s);
    }
    if (s->ping_at && now >= s->ping_at) {
        s->ping_at = 0;
        s->pong_by = now + x->o.ping_timeout_ms;
        if (weir__eio_send_type(s, WEIR_EIO_PING, NULL, 0) != 0) {
            weir__eio_finish(s, "transport error", false);
            return;
        }
    }
    if (s->poll && s->poll_by && now >= s->poll_by && !s->flush_soon) weir__eio_poll_flush(s);
    weir__eio_arm(s);
}

int weir__eio_on_packet(weir__eio_session *s, const weir_eio_packet *p) {
    if (s->state != WEIR__EIO_OPEN) return 0; /* closing: the client's packets are ignored */
    switch (p->type) {
    case WEIR_EIO_PONG:
        if (s->pong_by) {
            s->pong_by = 0;
            s->ping_at = weir__eio_now(s->x) + s->x->o.ping_interval_ms;
            weir__eio_arm(s);
        }
        return 0;
    case WEIR_EIO_CLOSE: weir__eio_finish(s, "transport close", true); return WEIR_ESTATE;
    case WEIR_EIO_PING: /* protocol 4: only the server pings */
        weir__eio_finish(s, "transport error", false);
        return WEIR_EINVAL;
    case WEIR_EIO_MESSAGE: {
        int rc = weir__sio_on_message(s, p->data, p->len);
        if (rc) weir__eio_finish(s, "parse error", false);
        return rc;
    }
    default: return 0; /* open, upgrade, noop: ignored, as engine.io does */
    }
}

/* ------------------------------------------------------------- routing */

/* The value of key in a query string, percent-decoded into buf (cap bytes
 * with the NUL): 1, or 0 when absent or empty, or -1 when too long for buf. */
static int query_get(const char *q, const char *key, char *buf, size_t cap) {
    size_t klen = strlen(key);
    for (const char *p = q; *p;) {
        const char *amp = strchr(p, '&');
        const char *end = amp ? amp : p + strlen(p);
        if ((size_t)(end - p) > klen + 1 && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t n = 0;
            for (const char *v = p + klen + 1; v < end; v++) {
                char c = *v;
                if (c == '+') {
                    c = ' ';
                } else if (c == '%' && end - v > 2 && isxdigit((unsigned char)v[1]) && isxdigit((unsigned char)v[2])) {
                    char hex[3] = {v[1], v[2], 0};
                    c = (char)strtol(hex, NULL, 16);
                    v += 2;
                }
                if (n + 1 >= cap) return -1;
                buf[n++] = c;
            }
            buf[n] = '\0';
            return 1;
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
}

static void handshake_polling(weir_eio *x, weir_http_req *req) {
    weir__eio_session *s = weir__eio_session_new(x, WEIR__EIO_POLLING, req);
    weir_sbuf *open = s ? weir_eio_encode_open(s->sid, true, x->o.ping_interval_ms, x->o.ping_timeout_ms,
                                               x->o.max_payload)
                        : NULL;
    if (!open) {
        if (s) weir__eio_finish(s, "transport error", false);
        weir__eio_refuse(req, WEIR__EIO_ERR_REQUEST);
        return;
    }
    const char *extra[] = {"Cache-Control", "no-store", NULL};
    weir_http_respond(req, 200, "text/plain; charset=UTF-8", open->data, open->len, extra);
    weir_sbuf_unref(open);
}

/* Route a request as engine.io's verify() does: the transport first, then
 * the session (its protocol and transport), or the handshake (GET only, the
 * protocol version). */
void weir_eio_handle(weir_eio *x, weir_http_req *req) {
    char transport[16], eio[8], sid[WEIR__EIO_ID_LEN + 2];
    bool has_t = query_get(req->query, "transport", transport, sizeof transport) == 1;
    bool v4 = query_get(req->query, "EIO", eio, sizeof eio) == 1 && strcmp(eio, "4") == 0;
    int has_sid = query_get(req->query, "sid", sid, sizeof sid);
    bool websocket = has_t && strcmp(transport, "websocket") == 0;
    if (!has_t || (!websocket && strcmp(transport, "polling") != 0)) {
        weir__eio_refuse(req, WEIR__EIO_ERR_TRANSPORT);
    } else if (has_sid) {
        weir__eio_session *s = has_sid == 1 ? find(x, sid) : NULL;
        if (!s)
            weir__eio_refuse(req, WEIR__EIO_ERR_SID);
        else if (!v4)
            weir__eio_refuse(req, WEIR__EIO_ERR_REQUEST);
        else if (websocket)
            weir__eio_ws_request(x, s, req);
        else if (s->transport != WEIR__EIO_POLLING)
            weir__eio_refuse(req, WEIR__EIO_ERR_REQUEST); /* upgraded: polling is over */
        else
            weir__eio_poll_request(s, req);
    } else if (strcmp(req->method, "GET") != 0) {
        weir__eio_refuse(req, WEIR__EIO_ERR_METHOD);
    } else if (!v4) {
        weir__eio_refuse(req, WEIR__EIO_ERR_VERSION);
    } else if (x->closed) {
        weir__eio_refuse_closed(req);
    } else if (websocket) {
        weir__eio_ws_request(x, NULL, req);
    } else {
        handshake_polling(x, req);
    }
}

/* --------------------------------------------------------- the object */

weir_eio *weir_eio_new(uv_loop_t *loop, const weir_eio_options *opts, const weir_eio_callbacks *cb, void *ud) {
    weir_eio *x = weir__calloc(1, sizeof *x);
    if (!x) return NULL;
    x->loop = loop;
    if (opts) x->o = *opts;
    if (!x->o.ping_interval_ms) x->o.ping_interval_ms = 25000;
    if (!x->o.ping_timeout_ms) x->o.ping_timeout_ms = 20000;
    if (!x->o.max_payload) x->o.max_payload = 1000000;
    if (!x->o.poll_timeout_ms) x->o.poll_timeout_ms = x->o.ping_interval_ms;
    if (!x->o.connect_timeout_ms) x->o.connect_timeout_ms = WEIR__EIO_CONNECT_TIMEOUT_MS;
    if (!x->o.upgrade_timeout_ms) x->o.upgrade_timeout_ms = WEIR__EIO_UPGRADE_TIMEOUT_MS;
    if (cb) x->cb = *cb;
    x->ud = ud;
    return x;
}

void weir_eio_destroy(weir_eio *x) {
    if (!x || x->destroying) return;
    x->destroying = true;
    while (x->all) weir__eio_finish(x->all, "server shutting down", false);
    if (x->closing_handles == 0) {
        weir__free(x->buckets);
        weir__free(x);
    }
}

void weir_eio_close_all(weir_eio *x) {
    if (!x) return;
    x->closed = true;
    for (weir__eio_session *s = x->all; s; s = s->next) weir__eio_close(s, "server shutting down", true);
}

size_t weir_eio_sockets(const weir_eio *x) { return x ? x->nsockets : 0; }
