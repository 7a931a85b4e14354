/*
 * Answers: request records (pooled with their buffers), response formatting,
 * and the per-connection FIFO that writes responses strictly in request
 * order — a response waits until every earlier one is written.
 *
 * A response is built once, at answer time, into the request's own out
 * buffer: status line, "Connection: keep-alive" or "close", Date,
 * Content-Type, Content-Length, the allowed CORS origin, extra headers, body.  It is
 * written as one buffer; consecutive ready responses share one write, tried
 * straight on the socket first (uv_try_write): what the kernel does not
 * take at once goes to a uv_write (so an answer the kernel takes whole
 * costs one write system call, and no epoll_ctl).
 * Whether the connection closes after a response may only become known later
 * (the server stops, the peer shuts down): the keep-alive line is then turned
 * into the shorter close line in place, the status line moved right.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "net/http_internal.h"

static const char KEEP_LINE[] = "Connection: keep-alive\r\n";
static const char CLOSE_LINE[] = "Connection: close\r\n";
#define KEEP_LEN (sizeof KEEP_LINE - 1)
#define CLOSE_LEN (sizeof CLOSE_LINE - 1)

/* ---------------------------------------------------------------- records */

weir__http_req *weir__http_req_get(weir_http_server *s) {
    weir__http_req *r = s->pool;
    if (r) {
        s->pool = r->next;
        s->pool_n--;
        weir__http_req keep = *r;
        memset(r, 0, sizeof *r);
        r->buf = keep.buf;
        r->cap = keep.cap;
        r->hdr = keep.hdr;
        r->hdr_cap = keep.hdr_cap;
        r->ptrs = keep.ptrs;
        r->ptrs_cap = keep.ptrs_cap;
        r->out = keep.out;
        r->out_cap = keep.out_cap;
    } else {
        r = weir__calloc(1, sizeof *r);
        if (!r) return NULL;
    }
    r->server = s;
    return r;
}

static void req_free(weir__http_req *r) {
    weir__free(r->buf);
    weir__free(r->hdr);
    weir__free(r->ptrs);
    weir__free(r->out);
    weir__free(r);
}

void weir__http_req_release(weir__http_req *r) {
    weir_http_server *s = r->server;
    if (!s || s->destroying || s->pool_n >= WEIR__HTTP_POOL_MAX) {
        req_free(r);
        return;
    }
    if (r->cap > WEIR__HTTP_POOL_KEEP_BYTES) {
        weir__free(r->buf);
        r->buf = NULL;
        r->cap = 0;
    }
    if (r->out_cap > WEIR__HTTP_POOL_KEEP_BYTES) {
        weir__free(r->out);
        r->out = NULL;
        r->out_cap = 0;
    }
    if (r->hdr_cap > 256) {
        weir__free(r->hdr);
        r->hdr = NULL;
        r->hdr_cap = 0;
        weir__free(r->ptrs);
        r->ptrs = NULL;
        r->ptrs_cap = 0;
    }
    r->next = s->pool;
    s->pool = r;
    s->pool_n++;
}

void weir__http_conn_push(weir__http_conn *c, weir__http_req *r) {
    r->next = NULL;
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    c->queued++;
}

void weir__http_conn_drop_partial(weir__http_conn *c) {
    if (c->cur) weir__http_req_release(c->cur);
    c->cur = NULL;
    c->parsing = false;
}

void weir__http_conn_orphan_all(weir__http_conn *c) {
    weir_http_server *s = c->server;
    weir__http_req *next;
    for (weir__http_req *r = c->head; r; r = next) {
        next = r->next;
        if (r->answered || r->synthetic || s->destroying) { /* destroy drops the unanswered */
            weir__http_req_release(r);
            continue;
        }
        r->conn = NULL;
        r->next = NULL;
        r->orphan = true;
        r->oprev = NULL;
        r->onext = s->orphans;
        if (s->orphans) s->orphans->oprev = r;
        s->orphans = r;
    }
    c->head = c->tail = NULL;
    c->queued = 0;
    c->writing = 0;
}

/* ------------------------------------------------------------- formatting */

const char *weir_http_reason(int status) {
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: break;
    }
    if (status >= 100 && status < 200) return "Informational";
    if (status >= 200 && status < 300) return "Success";
    if (status >= 300 && status < 400) return "Redirection";
    if (status >= 400 && status < 500) return "Client Error";
    return "Server Error";
}

static char *put(char *p, const char *s, size_t n) {
    memcpy(p, s, n);
    return p + n;
}
#define PUT_LIT(p, lit) put(p, lit, sizeof lit - 1)

static char *put_u64(char *p, uint64_t v) {
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

static char *put2(char *p, int v) {
    *p++ = (char)('0' + v / 10);
    *p++ = (char)('0' + v % 10);
    return p;
}

/* "Date: <IMF-fixdate>", formatted once per second without the locale. */
static void update_date(weir_http_server *s) {
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    if (now == s->date_sec && s->date_len) return;
    struct tm tm;
    gmtime_r(&now, &tm);
    char *p = s->date;
    p = PUT_LIT(p, "Date: ");
    p = put(p, days[tm.tm_wday % 7], 3);
    p = PUT_LIT(p, ", ");
    p = put2(p, tm.tm_mday);
    *p++ = ' ';
    p = put(p, months[tm.tm_mon % 12], 3);
    *p++ = ' ';
    int year = tm.tm_year + 1900;
    p = put2(p, year / 100 % 100);
    p = put2(p, year % 100);
    *p++ = ' ';
    p = put2(p, tm.tm_hour);
    *p++ = ':';
    p = put2(p, tm.tm_min);
    *p++ = ':';
    p = put2(p, tm.tm_sec);
    p = PUT_LIT(p, " GMT");
    s->date_len = (size_t)(p - s->date);
    s->date_sec = now;
}

static bool clean_text(const char *v) {
    for (; *v; v++)
        if (*v == '\r' || *v == '\n') return false;
    return true;
}

/* Extra headers the server sets itself are not taken from the handler. */
static bool extra_ok(const char *name, const char *value) {
    static const char *const reserved[] = {"content-length", "connection", "date", "transfer-encoding",
                                           "access-control-allow-origin"};
    if (!*name || !value || !clean_text(name) || !clean_text(value) || strchr(name, ':')) return false;
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
        if (strcasecmp(name, reserved[i]) == 0) return false;
    return true;
}

static bool will_close(const weir__http_conn *c, const weir__http_req *r) {
    return r->close || (c->no_more && !r->next);
}

/* Format the whole response into r->out.  False on allocation failure. */
static bool build(weir__http_req *r, int status, const char *ctype, const char *body, size_t len,
                  const char *const *extra) {
    weir__http_conn *c = r->conn;
    weir_http_server *s = r->server;
    if (status < 100 || status > 999) status = 500;
    bool bodiless = status < 200 || status == 204 || status == 304;
    bool send_body = !bodiless && !r->head;
    if (ctype && (!*ctype || !clean_text(ctype))) ctype = NULL;
    const char *reason = weir_http_reason(status);
    size_t rlen = strlen(reason), clen = ctype ? strlen(ctype) : 0;
    size_t acao_len = strlen(r->acao);
    size_t need = 200 + rlen + s->date_len + clen + acao_len + (send_body ? len : 0);
    if (extra)
        for (size_t i = 0; extra[i]; i += 2)
            if (extra_ok(extra[i], extra[i + 1])) need += strlen(extra[i]) + strlen(extra[i + 1]) + 4;
    if (need > r->out_cap) {
        size_t cap = r->out_cap ? r->out_cap : 512;
        while (cap < need) cap *= 2;
        char *o = weir__realloc(r->out, cap);
        if (!o) return false;
        r->out = o;
        r->out_cap = cap;
    }
    update_date(s);
    char *p = r->out;
    p = PUT_LIT(p, "HTTP/1.1 ");
    p = put_u64(p, (uint64_t)status);
    *p++ = ' ';
    p = put(p, reason, rlen);
    p = PUT_LIT(p, "\r\n");
    r->status_line_len = (size_t)(p - r->out);
    r->keep_line = !will_close(c, r);
    p = r->keep_line ? put(p, KEEP_LINE, KEEP_LEN) : put(p, CLOSE_LINE, CLOSE_LEN);
    p = put(p, s->date, s->date_len);
    p = PUT_LIT(p, "\r\n");
    if (ctype) {
        p = PUT_LIT(p, "Content-Type: ");
        p = put(p, ctype, clen);
        p = PUT_LIT(p, "\r\n");
    }
    if (!bodiless) {
        p = PUT_LIT(p, "Content-Length: ");
        p = put_u64(p, len);
        p = PUT_LIT(p, "\r\n");
    }
    if (acao_len) { /* an allowed Origin (see http_parse.c guard) */
        p = PUT_LIT(p, "Access-Control-Allow-Origin: ");
        p = put(p, r->acao, acao_len);
        p = PUT_LIT(p, "\r\n");
    }
    if (r->vary) p = PUT_LIT(p, "Vary: Origin\r\n");
    if (extra)
        for (size_t i = 0; extra[i]; i += 2) {
            if (!extra_ok(extra[i], extra[i + 1])) continue;
            p = put(p, extra[i], strlen(extra[i]));
            p = PUT_LIT(p, ": ");
            p = put(p, extra[i + 1], strlen(extra[i + 1]));
            p = PUT_LIT(p, "\r\n");
        }
    p = PUT_LIT(p, "\r\n");
    if (send_body && len) p = put(p, body, len);
    r->out_off = 0;
    r->out_len = (size_t)(p - r->out);
    return true;
}

/* The keep-alive line becomes the close line: same end, 5 bytes shorter. */
static void patch_close(weir__http_req *r) {
    size_t shift = KEEP_LEN - CLOSE_LEN;
    memmove(r->out + r->out_off + shift, r->out + r->out_off, r->status_line_len);
    memcpy(r->out + r->out_off + shift + r->status_line_len, CLOSE_LINE, CLOSE_LEN);
    r->out_off += shift;
    r->out_len -= shift;
    r->keep_line = false;
}

/* ---------------------------------------------------------------- writing */

void weir__http_conn_flush(weir__http_conn *c) {
    bool wrote = false; /* a write finished at once (not detached) */
    while (!c->writing && !c->closing && !c->finishing && !c->taken) {
        uv_buf_t bufs[WEIR__HTTP_MAX_BATCH];
        unsigned n = 0;
        bool last = false, takeover = false;
        for (weir__http_req *r = c->head; r && r->answered && n < WEIR__HTTP_MAX_BATCH; r = r->next) {
            last = will_close(c, r);
            takeover |= r->takeover;
            if (last && r->keep_line) patch_close(r);
            bufs[n++] = uv_buf_init(r->out + r->out_off, (unsigned)r->out_len);
            if (last) break;
        }
        if (!n) {
            if (c->no_more && !c->head) weir__http_conn_finish(c);
            break;
        }
        c->writing = n;
        c->write_close = last;
        if (c->detached) {
            for (unsigned i = 0; i < n; i++)
                if (c->sink) c->sink(c->sink_ud, bufs[i].base, bufs[i].len);
            weir__http_conn_written(c, 0);
            continue;
        }
        /* First straight to the socket: an answer the kernel takes whole
         * needs no write request (whose completion costs libuv an epoll_ctl
         * and a loop turn).  Not a switching response: its taker gets the
         * connection from the write callback, never from inside
         * weir__http_take. */
        unsigned first = 0;
        if (!takeover) {
            int w = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
            if (w < 0 && w != UV_EAGAIN) {
                weir__http_conn_written(c, w); /* closes */
                return;
            }
            size_t done = w > 0 ? (size_t)w : 0;
            while (first < n && done >= bufs[first].len) done -= bufs[first++].len;
            if (first == n) {
                weir__http_conn_written(c, 0);
                wrote = true;
                continue;
            }
            bufs[first].base += done; /* the rest of a response the kernel took part of */
            bufs[first].len -= done;
        }
        if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs + first, n - first, weir__http_on_write) != 0) {
            c->writing = 0;
            weir__http_conn_close(c);
            return;
        }
        weir__http_conn_timer(c);
        return;
    }
    if (wrote && !c->closing && !c->finishing && !c->taken) {
        /* The FIFO has room again; held input is parsed on the next turn,
         * never from inside the answer (its handler is still running). */
        if (c->input_paused) weir__http_conn_defer_resume(c);
        weir__http_conn_timer(c);
    }
}

void weir__http_conn_written(weir__http_conn *c, int status) {
    unsigned n = c->writing;
    bool takeover = false;
    c->writing = 0;
    for (unsigned i = 0; i < n && c->head; i++) {
        weir__http_req *r = c->head;
        c->head = r->next;
        if (!c->head) c->tail = NULL;
        c->queued--;
        takeover = r->takeover; /* the last one, if any */
        weir__http_req_release(r);
    }
    if (status < 0)
        weir__http_conn_close(c);
    else if (takeover)
        weir__http_conn_handover(c);
    else if (c->write_close)
        weir__http_conn_finish(c);
}

/* ---------------------------------------------------------------- answers */

int weir_http_status_code(int status) {
    switch (status) {
    case 400: return WEIR_EINVAL;
    case 401: return WEIR_EAUTH;
    case 403: return WEIR_EFORBIDDEN;
    case 404: return WEIR_ENOTFOUND;
    case 405: return WEIR_EMETHOD;
    case 408: return WEIR_ETIMEOUT;
    case 409: return WEIR_ESTATE;
    case 413:
    case 414:
    case 431: return WEIR_ETOOLARGE;
    case 415: return WEIR_EMEDIATYPE;
    case 421: return WEIR_EHOST;
    case 429: return WEIR_ELIMIT;
    case 503: return WEIR_EUNAVAILABLE;
    default: return status < 500 ? WEIR_EINVAL : WEIR_EINTERNAL;
    }
}

/* extra, or a copy of it with Retry-After added to a 429 or 503 that has
 * none (into buf, which holds cap entries). */
static const char *const *with_retry_after(int status, const char *const *extra, const char **buf, size_t cap) {
    if (status != 429 && status != 503) return extra;
    size_t n = 0;
    for (; extra && extra[n]; n += 2)
        if (strcasecmp(extra[n], "Retry-After") == 0) return extra;
    if (n + 3 > cap) return extra;
    for (size_t i = 0; i < n; i++) buf[i] = extra[i];
    buf[n] = "Retry-After";
    buf[n + 1] = status == 429 ? WEIR_HTTP_RETRY_429_S : WEIR_HTTP_RETRY_503_S;
    buf[n + 2] = NULL;
    return buf;
}

static void answer(weir__http_req *r, int status, const char *ctype, const char *body, size_t len,
                   const char *const *extra) {
    const char *retry[16];
    extra = with_retry_after(status, extra, retry, sizeof retry / sizeof *retry);
    weir__http_conn *c = r->conn;
    weir_http_server *s = r->server;
    if (r->answered) return;
    if (!r->synthetic && s && s->in_flight) s->in_flight--;
    if (!c) {
        if (r->orphan && s) {
            if (r->oprev)
                r->oprev->onext = r->onext;
            else
                s->orphans = r->onext;
            if (r->onext) r->onext->oprev = r->oprev;
        }
        weir__http_req_release(r);
        return;
    }
    r->answered = true;
    if (!build(r, status, ctype, body, len, extra)) {
        weir__http_conn_close(c);
        return;
    }
    weir__http_conn_flush(c);
}

void weir_http_respond(weir_http_req *req, int status, const char *content_type, const char *body, size_t len,
                       const char *const *extra_headers) {
    if (!req) return;
    answer((weir__http_req *)req, status, content_type, body ? body : "", body ? len : 0, extra_headers);
}

void weir_http_respond_json(weir_http_req *req, int status, json_t *body) {
    weir_http_respond_json_h(req, status, body, NULL);
}

void weir_http_respond_json_h(weir_http_req *req, int status, json_t *body, const char *const *extra) {
    weir__http_req *r = (weir__http_req *)req;
    if (!r) {
        json_decref(body);
        return;
    }
    if (!body) {
        weir_http_respond_error(req, 500, "internal error: no response body");
        return;
    }
    if (status >= 400 && json_is_object(body) && json_object_get(body, "error") && !json_object_get(body, "code"))
        json_object_set_new(body, "code", json_string(weir_errname(weir_http_status_code(status))));
    if (!r->conn) { /* nobody to send it to */
        json_decref(body);
        answer(r, status, NULL, "", 0, NULL);
        return;
    }
    /* The request text is no longer needed: its buffer takes the JSON. */
    const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    size_t n = json_dumpb(body, r->buf, r->cap, flags);
    if (n >= r->cap && n) {
        if (weir__grow((void **)&r->buf, &r->cap, n + 1, 1) == 0)
            n = json_dumpb(body, r->buf, r->cap, flags);
        else
            n = 0;
    }
    json_decref(body);
    if (!n) {
        static const char failed[] =
            "{\"error\":\"internal error: cannot encode the response\",\"code\":\"WEIR_EINTERNAL\"}";
        answer(r, 500, "application/json", failed, sizeof failed - 1, NULL);
        return;
    }
    answer(r, status, "application/json", r->buf, n, extra);
}

static void answer_error(weir__http_req *r, int status, const char *msg) {
    json_t *text = json_string(msg);
    if (!text) { /* not UTF-8 (a path echoed in the message, ...) */
        char *copy = weir__strdup(msg);
        if (copy) {
            for (char *p = copy; *p; p++)
                if ((unsigned char)*p >= 0x80) *p = '?';
            text = json_string(copy);
            weir__free(copy);
        }
    }
    json_t *o = text ? json_object() : NULL;
    if (o && json_object_set_new(o, "error", text) == 0) {
        weir_http_respond_json(&r->pub, status, o);
        return;
    }
    if (!o) json_decref(text);
    json_decref(o);
    static const char fallback[] = "{\"error\":\"out of memory\",\"code\":\"WEIR_ENOMEM\"}";
    answer(r, status, "application/json", fallback, sizeof fallback - 1, NULL);
}

static void answer_errorv(weir__http_req *r, int status, const char *fmt, va_list ap) {
    char small[512];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n >= (int)sizeof small) {
        char *big = weir__malloc((size_t)n + 1);
        if (big) {
            vsnprintf(big, (size_t)n + 1, fmt, ap2);
            answer_error(r, status, big);
            weir__free(big);
            va_end(ap2);
            return;
        }
    }
    va_end(ap2);
    answer_error(r, status, n < 0 ? "error" : small);
}

void weir_http_respond_error(weir_http_req *req, int status, const char *fmt, ...) {
    if (!req) return;
    va_list ap;
    va_start(ap, fmt);
    answer_errorv((weir__http_req *)req, status, fmt, ap);
    va_end(ap);
}

void weir__http_conn_refuse(weir__http_conn *c, int status, const char *fmt, ...) {
    weir__http_conn_drop_partial(c);
    c->no_more = true;
    if (c->closing || c->finishing) return;
    weir__http_req *r = weir__http_req_get(c->server);
    if (!r) {
        weir__http_conn_close(c);
        return;
    }
    r->conn = c;
    r->synthetic = true;
    r->close = true;
    weir__http_conn_push(c, r);
    weir__http_conn_timer(c);
    va_list ap;
    va_start(ap, fmt);
    answer_errorv(r, status, fmt, ap);
    va_end(ap);
}

int weir__http_take(weir_http_req *req, const char *response, size_t len, const weir__http_takeover *hooks, void *ud,
                    weir__http_conn **out) {
    weir__http_req *r = (weir__http_req *)req;
    weir__http_conn *c = r->conn;
    *out = NULL;
    if (r->answered || !c || c->closing || c->finishing || !c->upgrade_hold || r != c->tail || r->server->stopping)
        return WEIR_ESTATE;
    if (len > r->out_cap) {
        char *o = weir__realloc(r->out, len);
        if (!o) return WEIR_ENOMEM;
        r->out = o;
        r->out_cap = len;
    }
    memcpy(r->out, response, len);
    r->out_off = 0;
    r->out_len = len;
    r->status_line_len = 0;
    r->keep_line = false; /* sent as given */
    r->takeover = true;
    r->answered = true;
    if (r->server->in_flight) r->server->in_flight--;
    weir__http_conn_flush(c); /* detached: written and handed over already */
    if (c->closing) return WEIR_EIO;
    c->to = hooks;
    c->to_ud = ud;
    *out = c;
    return 0;
}

void weir__http_preflight(weir__http_req *r) {
    const char *asked = weir_http_header(&r->pub, "access-control-request-headers");
    const char *extra[] = {"Access-Control-Allow-Methods",
                           "GET, POST, PUT, PATCH, DELETE, OPTIONS",
                           "Access-Control-Allow-Headers",
                           asked && *asked ? asked : "content-type, authorization, x-api-key",
                           "Access-Control-Max-Age",
                           "600",
                           NULL};
    answer(r, 204, NULL, "", 0, extra);
}

const char *weir_http_header(const weir_http_req *r, const char *name) {
    if (!r || !name) return NULL;
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->header_names[i], name) == 0) return r->header_values[i];
    return NULL;
}
