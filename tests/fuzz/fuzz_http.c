/*
 * libFuzzer target for the HTTP server's request parsing glue, without
 * sockets: a detached connection (src/server/http_internal.h) is fed the
 * input in pieces, its handler answers some requests at once and defers
 * others (answered later in reverse order, some after the connection or the
 * server is destroyed).  Checked: every response written starts with a status
 * line, and echoed request ids come out in increasing order (responses in
 * request order whatever order they were answered in).  The requests still
 * deferred at the end are dropped by the server's destroy.  Everything is
 * freed; the sanitizers catch the rest.
 *
 * The first input byte chooses the configuration: bits 0-1 the limits,
 * bits 2-5 the size of the pieces fed (0: all at once), bits 6-7 which
 * requests are deferred.  The committed corpus (tests/fuzz/corpus/http)
 * replays as a normal test through replay_main.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_internal.h"

#define MAX_DEFERRED 64

static weir_http_req *deferred[MAX_DEFERRED];
static int ndeferred;
static unsigned defer_mode;
static uint64_t last_id;

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "fuzz_http: %s\n", what);
        abort();
    }
}

static void sink(void *ud, const char *data, size_t len) {
    (void)ud;
    check(len >= 12 && memcmp(data, "HTTP/1.1 ", 9) == 0, "a response without a status line");
    const char *end = memmem(data, len, "\r\n\r\n", 4);
    check(end != NULL, "a response without the end of its headers");
    for (const char *q = data; q < end; q++)
        check(*q != '\n' || q[-1] == '\r', "a bare LF in the response head (header injection)");
    const char *id = memmem(data, (size_t)(end - data), "\r\nX-Id: ", 8);
    if (id) {
        uint64_t v = strtoull(id + 8, NULL, 10);
        check(v > last_id, "responses out of request order");
        last_id = v;
    }
}

static void answer(weir_http_req *r) {
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)r->id);
    const char *extra[] = {"X-Id", id, "X-Path", r->path, NULL};
    switch (r->id % 4) {
    case 0: weir_http_respond(r, 200, "application/json", "{}", 2, extra); break;
    case 1: weir_http_respond(r, 200, "text/plain", r->body, r->body_len, extra); break;
    case 2: weir_http_respond(r, 204, NULL, NULL, 0, extra); break;
    default: weir_http_respond(r, 404, "text/plain", r->path, strlen(r->path), extra); break;
    }
}

static void handler(void *ud, weir_http_req *r) {
    (void)ud;
    /* Touch everything the handler is given. */
    size_t sum = strlen(r->method) + strlen(r->path) + strlen(r->query) + strlen(r->body);
    for (size_t i = 0; i < r->n_headers; i++) sum += strlen(r->header_names[i]) + strlen(r->header_values[i]);
    check(r->body[r->body_len] == '\0', "body not NUL-terminated");
    (void)weir_http_header(r, "host");
    (void)sum;
    bool defer = (defer_mode == 1 && r->id % 2) || (defer_mode == 2 && r->id % 3 != 1) || defer_mode == 3;
    if (defer && ndeferred < MAX_DEFERRED) {
        deferred[ndeferred++] = r;
        return;
    }
    if (r->id % 5 == 4)
        weir_http_respond_error(r, 400, "bad %s", r->path);
    else if (r->id % 7 == 6)
        weir_http_respond_json(r, 201, json_pack("{s:s}", "path", r->path));
    else
        answer(r);
}

/* Answer the deferred requests from the newest; keep `keep` of them. */
static void answer_deferred(int keep) {
    while (ndeferred > keep) answer(deferred[--ndeferred]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned cfg = data[0];
    data++;
    size--;
    weir_http_options o = {0};
    switch (cfg & 3) {
    case 1:
        o.max_header_bytes = 256;
        o.max_body_bytes = 64;
        break;
    case 2:
        o.max_header_bytes = 1024;
        o.max_body_bytes = 1;
        break;
    case 3: /* the lists of http_guard.c */
        o.allowed_hosts = "x, h, .example.com:443";
        o.cors_origins = "http://ui, null";
        break;
    default: break;
    }
    size_t piece = (cfg >> 2) & 15;
    defer_mode = cfg >> 6;
    ndeferred = 0;
    last_id = 0;
    weir_http_server *s = weir__http_server_new(&o, handler, NULL);
    if (!s) return 0;
    weir__http_conn *c = weir__http_conn_new_detached(s, sink, NULL);
    if (!c) {
        weir_http_server_destroy(s);
        return 0;
    }
    const char *p = (const char *)data;
    size_t left = size;
    while (left) {
        size_t n = piece && piece < left ? piece : left;
        size_t used = weir__http_conn_feed(c, p, n);
        if (used < n) { /* the FIFO is full: answers make room */
            if (!ndeferred) break;
            answer_deferred(0);
        }
        p += used;
        left -= used;
    }
    answer_deferred(ndeferred / 2 + ndeferred % 2);
    weir__http_conn_free(c); /* the rest become orphans */
    answer_deferred(ndeferred / 2);
    check(weir_http_server_in_flight(s) == (size_t)ndeferred, "in_flight does not count the unanswered");
    weir_http_server_destroy(s); /* frees the requests still unanswered */
    ndeferred = 0;
    return 0;
}
