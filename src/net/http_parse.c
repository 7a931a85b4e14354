/*
 * http-parser glue: bytes in, complete requests out.  The parser is paused
 * at the end of every message so each request is dispatched outside the
 * parser's callbacks (the handler may answer, stop the server, ...), and so
 * parsing can stop when the connection's FIFO is full.
 *
 * Request text is copied once, into the request's own buffer (requests
 * outlive the read buffer: they may be answered later); offsets are kept
 * while it grows and turned into pointers when the request is complete.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "net/http_internal.h"

enum { CB_NONE, CB_URL, CB_FIELD, CB_VALUE };

/* Request line bytes not seen by any callback (method, spaces, version, CRLFs). */
#define REQUEST_LINE_OVERHEAD 16
/* Per header: ": " and CRLF. */
#define HEADER_OVERHEAD 4

static int stop(weir__http_conn *c, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int stop(weir__http_conn *c, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->server->refuse_msg, sizeof c->server->refuse_msg, fmt, ap);
    va_end(ap);
    c->server->refuse_status = status;
    return -1; /* any non-zero stops the parser; -1 also for on_headers_complete */
}

/* Room for n more bytes and a NUL. */
static bool reserve(weir__http_req *r, size_t n) {
    if (r->len + n + 1 <= r->cap) return true;
    return weir__grow((void **)&r->buf, &r->cap, r->len + n + 1, 1) == 0;
}

static bool append(weir__http_req *r, const char *at, size_t n) {
    if (!reserve(r, n)) return false;
    memcpy(r->buf + r->len, at, n);
    r->len += n;
    return true;
}

static int count_header_bytes(weir__http_conn *c, size_t n) {
    c->hdr_bytes += n;
    if (c->hdr_bytes > c->server->max_header)
        return stop(c, 431, "request line and headers exceed MAX_HEADER_BYTES (%zu bytes)", c->server->max_header);
    return 0;
}

static int no_memory(weir__http_conn *c) { return stop(c, 503, "out of memory"); }

/* NUL-terminate the url or header value that the last callbacks built. */
static void end_text(weir__http_conn *c) {
    weir__http_req *r = c->cur;
    if (c->last_cb == CB_VALUE) {
        weir__http_hdr *h = &r->hdr[r->n_hdr - 1];
        while (h->value_len && (r->buf[h->value_off + h->value_len - 1] == ' ' ||
                                r->buf[h->value_off + h->value_len - 1] == '\t')) {
            h->value_len--;
            r->len--;
        }
    }
    if (c->last_cb != CB_NONE) r->buf[r->len++] = '\0'; /* reserve() kept room */
    c->last_cb = CB_NONE;
}

static int on_message_begin(http_parser *p) {
    weir__http_conn *c = p->data;
    c->cur = weir__http_req_get(c->server);
    if (!c->cur) return no_memory(c);
    c->cur->conn = c;
    c->parsing = true;
    c->hdr_bytes = REQUEST_LINE_OVERHEAD;
    c->last_cb = CB_NONE;
    c->in_body = false;
    weir__http_conn_request_timer(c);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n) {
    weir__http_conn *c = p->data;
    weir__http_req *r = c->cur;
    if (count_header_bytes(c, n)) return -1;
    if (c->last_cb != CB_URL) {
        r->url_off = r->len;
        r->url_len = 0;
        c->last_cb = CB_URL;
    }
    if (!append(r, at, n)) return no_memory(c);
    r->url_len += n;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n) {
    weir__http_conn *c = p->data;
    weir__http_req *r = c->cur;
    if (count_header_bytes(c, n)) return -1;
    if (c->in_body) return 0; /* chunked trailers: counted, not kept */
    if (c->last_cb != CB_FIELD) {
        end_text(c);
        if (count_header_bytes(c, HEADER_OVERHEAD)) return -1;
        if (r->n_hdr == r->hdr_cap && weir__grow((void **)&r->hdr, &r->hdr_cap, r->n_hdr + 1, sizeof *r->hdr))
            return no_memory(c);
        weir__http_hdr *h = &r->hdr[r->n_hdr++];
        h->name_off = r->len;
        h->name_len = h->value_off = h->value_len = 0;
        c->last_cb = CB_FIELD;
    }
    if (!reserve(r, n)) return no_memory(c);
    char *o = r->buf + r->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)at[i];
        o[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    r->len += n;
    r->hdr[r->n_hdr - 1].name_len += n;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n) {
    weir__http_conn *c = p->data;
    weir__http_req *r = c->cur;
    if (count_header_bytes(c, n)) return -1;
    if (c->in_body) return 0;
    if (c->last_cb != CB_VALUE) {
        if (c->last_cb != CB_FIELD) return stop(c, 400, "malformed request: header value without a name");
        r->buf[r->len++] = '\0';
        r->hdr[r->n_hdr - 1].value_off = r->len;
        c->last_cb = CB_VALUE;
    }
    if (!append(r, at, n)) return no_memory(c);
    r->hdr[r->n_hdr - 1].value_len += n;
    return 0;
}

static int hexval(unsigned char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Split the request target into the decoded path and the raw query, both
 * appended to the buffer.  -1 (stopping the parser) if it is malformed. */
static int parse_target(weir__http_conn *c, weir__http_req *r) {
    size_t n = r->url_len;
    size_t path_at = 0, path_len = 0, query_at = 0, query_len = 0;
    bool root = false;
    const char *url = r->buf + r->url_off;
    if (n && (url[0] == '/' || (n == 1 && url[0] == '*'))) {
        size_t i = 0;
        while (i < n && url[i] != '?' && url[i] != '#') i++;
        path_len = i;
        if (i < n && url[i] == '?') {
            size_t j = i + 1;
            while (j < n && url[j] != '#') j++;
            query_at = i + 1;
            query_len = j - i - 1;
        }
    } else {
        bool connect = c->parser.method == HTTP_CONNECT;
        struct http_parser_url u;
        http_parser_url_init(&u);
        if (n == 0 || http_parser_parse_url(url, n, connect, &u) != 0)
            return stop(c, 400, "malformed request: invalid request target");
        if (connect) {
            path_len = n;
        } else {
            if (u.field_set & (1 << UF_PATH)) {
                path_at = u.field_data[UF_PATH].off;
                path_len = u.field_data[UF_PATH].len;
            } else {
                root = true;
            }
            if (u.field_set & (1 << UF_QUERY)) {
                query_at = u.field_data[UF_QUERY].off;
                query_len = u.field_data[UF_QUERY].len;
            }
        }
    }
    if (!reserve(r, path_len + query_len + 3)) return no_memory(c); /* moves buf */
    url = r->buf + r->url_off;
    char *o = r->buf + r->len;
    r->path_off = r->len;
    if (root) *o++ = '/';
    for (size_t i = path_at; i < path_at + path_len; i++) {
        unsigned char ch = (unsigned char)url[i];
        if (ch == '%') {
            int hi = i + 2 < path_at + path_len ? hexval((unsigned char)url[i + 1]) : -1;
            int lo = hi >= 0 ? hexval((unsigned char)url[i + 2]) : -1;
            if (lo < 0) return stop(c, 400, "malformed request: invalid percent-escape in the path");
            ch = (unsigned char)(hi << 4 | lo);
            if (ch == 0) return stop(c, 400, "malformed request: %%00 in the path");
            i += 2;
        }
        *o++ = (char)ch;
    }
    *o++ = '\0';
    r->query_off = (size_t)(o - r->buf);
    memcpy(o, url + query_at, query_len);
    o += query_len;
    *o++ = '\0';
    r->len = (size_t)(o - r->buf);
    return 0;
}

static const char *find_header(const weir__http_req *r, const char *name) {
    for (size_t i = 0; i < r->n_hdr; i++)
        if (strcmp(r->buf + r->hdr[i].name_off, name) == 0) return r->buf + r->hdr[i].value_off;
    return NULL;
}

static int on_headers_complete(http_parser *p) {
    weir__http_conn *c = p->data;
    weir__http_req *r = c->cur;
    weir_http_server *s = c->server;
    end_text(c);
    c->in_body = true;
    if (parse_target(c, r)) return -1;
    r->head = p->method == HTTP_HEAD;
    bool has_length = (p->flags & F_CONTENTLENGTH) && !(p->flags & F_CHUNKED);
    if (has_length && p->content_length > s->max_body)
        return stop(c, 413, "request body exceeds MAX_BODY_BYTES (%zu bytes)", s->max_body);
    if (has_length && !reserve(r, (size_t)p->content_length)) return no_memory(c);
    bool has_body = (p->flags & F_CHUNKED) || (has_length && p->content_length > 0);
    if (has_body && p->http_major == 1 && p->http_minor >= 1 && !c->head) {
        const char *expect = find_header(r, "expect");
        if (expect && strcasecmp(expect, "100-continue") == 0) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            weir__http_conn_interim(c, cont, sizeof cont - 1);
            if (c->closing) return -1;
        }
    }
    r->body_off = r->len;
    weir__http_conn_timer(c); /* the header time is over: the request's goes on */
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n) {
    weir__http_conn *c = p->data;
    weir__http_req *r = c->cur;
    if (r->len - r->body_off + n > c->server->max_body)
        return stop(c, 413, "request body exceeds MAX_BODY_BYTES (%zu bytes)", c->server->max_body);
    if (!append(r, at, n)) return no_memory(c);
    return 0;
}

static int on_message_complete(http_parser *p) {
    weir__http_conn *c = p->data;
    weir__http_req *r = c->cur;
    if (!reserve(r, 0)) return no_memory(c);
    r->buf[r->len] = '\0';
    r->pub.keep_alive = http_should_keep_alive(p) && !p->upgrade;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void weir__http_conn_parser_init(weir__http_conn *c) {
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
}

/* Turn the offsets of the complete request into the handler's pointers. */
static bool finalize(weir__http_conn *c, weir__http_req *r) {
    size_t n = r->n_hdr;
    if (n && r->ptrs_cap < 2 * n && weir__grow((void **)&r->ptrs, &r->ptrs_cap, 2 * n, sizeof *r->ptrs)) return false;
    for (size_t i = 0; i < n; i++) {
        r->ptrs[i] = r->buf + r->hdr[i].name_off;
        r->ptrs[n + i] = r->buf + r->hdr[i].value_off;
    }
    r->pub.method = http_method_str((enum http_method)c->parser.method);
    r->pub.path = r->buf + r->path_off;
    r->pub.query = r->buf + r->query_off;
    r->pub.body = r->buf + r->body_off;
    r->pub.body_len = r->len - r->body_off;
    r->pub.n_headers = n;
    r->pub.header_names = r->ptrs;
    r->pub.header_values = n ? r->ptrs + n : r->ptrs; /* ptrs is NULL while no request had headers */
    return true;
}

/* The authority of an absolute-form target ("http://host:port/..."), which
 * stands for Host (RFC 9112 §3.2.2), into out; false if there is none. */
static bool target_authority(const weir__http_req *r, char *out, size_t cap) {
    const char *url = r->buf + r->url_off;
    size_t n = r->url_len;
    if (!n || url[0] == '/' || url[0] == '*') return false;
    const char *sep = memmem(url, n, "://", 3);
    if (!sep) return false;
    const char *a = sep + 3, *end = url + n;
    const char *e = a;
    while (e < end && *e != '/' && *e != '?' && *e != '#') e++;
    for (const char *at = a; at < e; at++)
        if (*at == '@') a = at + 1; /* userinfo */
    snprintf(out, cap, "%.*s", (int)(e - a), a);
    return true;
}

/* Host and Origin (SPEC §10, see http_guard.c): 0 and r's CORS answer set,
 * or the status to refuse r with and why in msg. */
static int guard(weir__http_conn *c, weir__http_req *r, char *msg, size_t cap) {
    const weir__http_guard *g = &c->server->guard;
    const char *host = NULL, *origin = NULL;
    int n_host = 0, n_origin = 0;
    for (size_t i = 0; i < r->pub.n_headers; i++) {
        const char *name = r->pub.header_names[i];
        if (strcmp(name, "host") == 0) host = r->pub.header_values[i], n_host++;
        if (strcmp(name, "origin") == 0) origin = r->pub.header_values[i], n_origin++;
    }
    if (n_host > 1) return snprintf(msg, cap, "malformed request: more than one Host header"), 400;
    if (n_origin > 1) return snprintf(msg, cap, "malformed request: more than one Origin header"), 400;
    char authority[WEIR__HTTP_ORIGIN_MAX];
    if (target_authority(r, authority, sizeof authority)) host = authority;
    /* No Host (HTTP/1.0, tools): no browser sends such a request, so it
     * cannot be a rebinding page's; it is taken. */
    if (host && !weir__http_guard_host(g, host, c->local[0] ? c->local : NULL)) {
        snprintf(msg, cap,
                 "Host '%.100s' is not a name of this server: use localhost or 127.0.0.1, or add the name to "
                 "ALLOWED_HOSTS (comma-separated; * allows any)",
                 host);
        return 421;
    }
    r->vary = true; /* the answer depends on Origin, even with cors_origins "*" */
    if (origin && !weir__http_guard_origin(g, origin, host)) {
        snprintf(msg, cap,
                 "Origin '%.100s' may not use this server: only its own origin and those listed in CORS_ORIGINS "
                 "(comma-separated; * allows any) may",
                 origin);
        return 403;
    }
    /* Never "*", even when any Origin may act (SPEC §10: routes change
     * things): the allowed Origin itself. */
    if (origin && strlen(origin) < sizeof r->acao && !strpbrk(origin, "\r\n"))
        snprintf(r->acao, sizeof r->acao, "%s", origin);
    return 0;
}

static bool health_path(const char *path) {
    return strncmp(path, "/health", 7) == 0 && (path[7] == '\0' || path[7] == '/');
}

/* A request on a connection beyond a limit, other than /health*. */
static void over_limit(weir__http_conn *c, weir__http_req *r) {
    weir_http_server *s = c->server;
    char msg[160];
    if (c->over == WEIR__HTTP_OVER_PEER)
        snprintf(msg, sizeof msg,
                 "too many connections from your address (MAX_CONNECTIONS_PER_IP %u); retry after closing some",
                 s->max_per_peer);
    else
        snprintf(msg, sizeof msg, "too many connections (MAX_CONNECTIONS %u); retry later", s->max_conns);
    char body[320]; /* msg and the code have nothing to escape */
    int n = snprintf(body, sizeof body, "{\"error\":\"%s\",\"code\":\"%s\"}", msg,
                     weir_errname(weir_http_status_code(503)));
    static const char *const retry[] = {"Retry-After", WEIR__HTTP_RETRY_AFTER, NULL};
    weir_http_respond(&r->pub, 503, "application/json", body, (size_t)n, retry);
}

static void dispatch(weir__http_conn *c) {
    weir_http_server *s = c->server;
    weir__http_req *r = c->cur;
    c->cur = NULL;
    c->parsing = false;
    if (!finalize(c, r)) {
        weir__http_req_release(r);
        weir__http_conn_refuse(c, 503, "out of memory");
        return;
    }
    c->served = true;
    if (c->parser.upgrade || s->stopping || c->over != WEIR__HTTP_OPEN) r->pub.keep_alive = false;
    r->close = !r->pub.keep_alive;
    if (r->close) c->no_more = true;
    if (c->parser.upgrade) c->upgrade_hold = true; /* further bytes are another protocol's: kept for a taker */
    weir__http_conn_push(c, r);
    s->in_flight++;
    r->pub.id = ++s->next_id;
    weir__http_conn_timer(c);
    char msg[400];
    int refuse = guard(c, r, msg, sizeof msg);
    if (refuse)
        weir_http_respond_error(&r->pub, refuse, "%s", msg);
    else if (c->over != WEIR__HTTP_OPEN && !health_path(r->pub.path))
        over_limit(c, r);
    else if (c->parser.method == HTTP_OPTIONS)
        weir__http_preflight(r);
    else
        s->handler(s->ud, &r->pub);
}

static void parse_failed(weir__http_conn *c, enum http_errno e) {
    weir_http_server *s = c->server;
    int status = s->refuse_status;
    s->refuse_status = 0;
    if (status)
        weir__http_conn_refuse(c, status, "%s", s->refuse_msg);
    else if (e == HPE_HEADER_OVERFLOW)
        weir__http_conn_refuse(c, 431, "request line and headers exceed MAX_HEADER_BYTES (%zu bytes)",
                               c->server->max_header);
    else
        weir__http_conn_refuse(c, 400, "malformed request: %s", http_errno_description(e));
}

size_t weir__http_conn_feed(weir__http_conn *c, const char *data, size_t len) {
    if (c->taken) return weir__http_conn_feed_taken(c, data, len);
    size_t off = 0;
    while (off < len) {
        if (c->closing || c->finishing || c->no_more) return len;
        if (c->queued >= WEIR__HTTP_MAX_PIPELINE) return off;
        c->server->refuse_status = 0;
        size_t n = http_parser_execute(&c->parser, &settings, data + off, len - off);
        off += n;
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
            dispatch(c);
            if ((c->upgrade_hold || c->taken) && !c->closing && !c->finishing) {
                weir__http_conn_keep(c, data + off, len - off);
                return len;
            }
        } else if (e != HPE_OK) {
            parse_failed(c, e);
            return len;
        } else if (n == 0) {
            c->no_more = true; /* the parser takes no more (cannot happen with a request parser) */
            return len;
        }
    }
    return off;
}
