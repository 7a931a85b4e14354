/*
 * WebSocket connections through the HTTP server: a server on 127.0.0.1 port
 * 0 in the test's own loop, raw client sockets on the same thread speaking
 * the protocol by hand (masked frames out, unmasked frames in).  Every wait
 * steps the loop until a condition holds (bounded by BOUND_MS), never
 * sleeps on a guess.  The handler upgrades /ws (and answers /hold later, for
 * requests pipelined before an upgrade); a text message is echoed unless it
 * is a command ("close:<code>:<reason>", "last-then-close").  Every test
 * ends with finish(): destroy, drain the loop, uv_loop_close() == 0, every
 * on_close called once, no weir allocation left.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>

#include "failalloc.h"
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "net/http.h"
#include "net/ws.h"
#include "net/ws_internal.h"
#include "weir/weir.h"

#include "rawnet.h"

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" /* RFC 6455 §1.3 */

/* ------------------------------------------------------------ loop, server */

static uv_loop_t loop;
static weir_http_server *srv;
static int port;

static uint64_t now_ms(void) { return rn_now_ms(); }

static void step(void) { rn_step(&loop); }

#define WAIT_UNTIL(cond) RN_WAIT_UNTIL(&loop, cond)

/* ------------------------------------------------------- server-side state */

#define MAX_WS 16
static weir_ws_options ws_opts;
static weir_ws *wss[MAX_WS]; /* by accept order; NULL once closed */
static int n_ws;             /* accepted */
static int accept_rc;        /* of the last weir_ws_accept */
static int accept_calls;
static int closes;           /* on_close calls */
static int close_count[MAX_WS];
static uint16_t close_code[MAX_WS];
static char close_reason[MAX_WS][128];
static int texts;
static char last_text[1 << 17];
static size_t last_text_len;
#define MAX_HELD 8
static weir_http_req *held[MAX_HELD];
static int nheld;
static bool allocs_fail; /* the failing-allocator test: WEIR_ENOMEM is an answer */

static int ws_index(weir_ws *ws) { return (int)(intptr_t)weir_ws_user(ws); }

static void on_text(void *ud, weir_ws *ws, const char *data, size_t len) {
    (void)ud;
    cr_assert_eq(data[len], '\0', "text not NUL-terminated");
    texts++;
    cr_assert_lt(len, sizeof last_text);
    memcpy(last_text, data, len);
    last_text[len] = '\0';
    last_text_len = len;
    if (strncmp(data, "close:", 6) == 0) {
        char *end;
        unsigned long code = strtoul(data + 6, &end, 10);
        weir_ws_close(ws, (uint16_t)code, *end == ':' ? end + 1 : "");
    } else if (strcmp(data, "destroy-server") == 0) {
        weir_http_server_destroy(srv); /* on_close for this very ws, from inside on_text */
        srv = NULL;
        cr_assert_eq(close_count[ws_index(ws)], 1);
    } else if (strcmp(data, "last-then-close") == 0) {
        cr_assert_eq(weir_ws_send_text(ws, "last", 4), 0);
        weir_ws_close(ws, 1000, "bye");
        cr_assert_eq(weir_ws_send_text(ws, "too late", 8), WEIR_ESTATE);
    } else {
        int rc = weir_ws_send_text(ws, data, len);
        cr_assert(rc == 0 || (allocs_fail && rc == WEIR_ENOMEM), "send: %d", rc);
    }
}

static void on_close(void *ud, weir_ws *ws, uint16_t code, const char *reason) {
    (void)ud;
    int i = ws_index(ws);
    cr_assert(i >= 0 && i < n_ws && wss[i] == ws, "on_close for an unknown ws");
    close_count[i]++;
    close_code[i] = code;
    snprintf(close_reason[i], sizeof close_reason[i], "%s", reason);
    wss[i] = NULL;
    closes++;
    cr_assert_eq(weir_ws_send_text(ws, "x", 1), WEIR_ESTATE);
}

static const weir_ws_callbacks ws_cb = {on_text, on_close};

static void handler(void *ud, weir_http_req *r) {
    (void)ud;
    if (strcmp(r->path, "/hold") == 0) {
        cr_assert_lt(nheld, MAX_HELD);
        held[nheld++] = r;
        return;
    }
    if (strcmp(r->path, "/ws") == 0) {
        accept_calls++;
        weir_ws *ws = NULL;
        accept_rc = weir_ws_accept(r, &ws_opts, &ws_cb, NULL, &ws);
        if (accept_rc == 0) {
            cr_assert_lt(n_ws, MAX_WS);
            weir_ws_set_user(ws, (void *)(intptr_t)n_ws);
            wss[n_ws++] = ws;
        } else {
            cr_assert_null(ws);
        }
        return;
    }
    weir_http_respond(r, 200, "text/plain", "plain", 5, NULL);
}

/* --------------------------------------------------------- setup / finish */

static void setup(void) {
    fa_install(0, 0);
    memset(&ws_opts, 0, sizeof ws_opts);
    memset(wss, 0, sizeof wss);
    memset(close_count, 0, sizeof close_count);
    n_ws = accept_calls = closes = texts = nheld = 0;
    allocs_fail = false;
    accept_rc = 0;
    cr_assert_eq(uv_loop_init(&loop), 0);
}

static void start(const weir_http_options *opts) {
    weir_http_options def = {.host = "127.0.0.1"};
    weir_error err = {0};
    cr_assert_eq(weir_http_server_start(&loop, opts ? opts : &def, handler, NULL, &srv, &err), 0, "%s",
                 err.message);
    port = weir_http_server_port(srv);
}

static void finish(void) {
    weir_http_server_destroy(srv);
    srv = NULL;
    rn_finish_loop(&loop);
    for (int i = 0; i < n_ws; i++)
        cr_assert_eq(close_count[i], 1, "ws %d: on_close called %d times", i, close_count[i]);
}

TestSuite(ws, .init = setup, .timeout = 60);

/* ----------------------------------------------------------------- client */

typedef rn_client client;

static client *cli_open_rcvbuf(int rcvbuf) { return rn_open(port, rcvbuf); }
static client *cli_open(void) { return cli_open_rcvbuf(0); }

static void cli_close(client *c) { rn_close(c); }

static void cli_sendn(client *c, const void *data, size_t len) { rn_sendn(c, &loop, data, len); }
static void cli_send(client *c, const char *s) { cli_sendn(c, s, strlen(s)); }

static bool cli_pump(client *c) { return rn_pump(c); }

static void cli_consume(client *c, size_t n) { rn_consume(c, n); }

/* An HTTP response head (and its Content-Length body), taken from the buffer. */
typedef struct head {
    int status;
    char text[4096];
    char body[1024];
} head;

static const char *head_get(const head *h, const char *name) {
    static char vals[4][512];
    static int next;
    size_t n = strlen(name);
    for (const char *l = strstr(h->text, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, name, n) == 0 && l[2 + n] == ':') {
            const char *v = l + 3 + n;
            while (*v == ' ') v++;
            const char *e = strstr(v, "\r\n");
            char *out = vals[next++ % 4];
            snprintf(out, sizeof vals[0], "%.*s", (int)(e - v), v);
            return out;
        }
    }
    return NULL;
}

static void cli_read_head(client *c, head *h) {
    uint64_t t0 = now_ms();
    for (;;) {
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (end) {
            size_t hl = (size_t)(end - c->buf) + 4;
            cr_assert_lt(hl, sizeof h->text);
            memcpy(h->text, c->buf, hl - 2);
            h->text[hl - 2] = '\0';
            cr_assert(sscanf(h->text, "HTTP/1.1 %d", &h->status) == 1, "bad status line: %s", h->text);
            const char *cl = head_get(h, "Content-Length");
            size_t body = cl ? strtoul(cl, NULL, 10) : 0;
            if (c->len >= hl + body) {
                cr_assert_lt(body, sizeof h->body);
                memcpy(h->body, c->buf + hl, body);
                h->body[body] = '\0';
                cli_consume(c, hl + body);
                return;
            }
        }
        cr_assert(!c->eof, "closed before a whole response (%zu bytes)", c->len);
        cr_assert(now_ms() - t0 < BOUND_MS, "no response within the bound");
        if (!cli_pump(c)) step();
    }
}

static size_t handshake_text(char *out, size_t cap, const char *extra) {
    return (size_t)snprintf(out, cap,
                            "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                            extra ? extra : "");
}

/* A client frame: masked unless told otherwise. */
static size_t frame(uint8_t *out, int fin, int opcode, const void *payload, size_t len, bool masked) {
    static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t h = 0;
    out[h++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    uint8_t m = masked ? 0x80 : 0;
    if (len < 126) {
        out[h++] = (uint8_t)(m | len);
    } else if (len <= 0xFFFF) {
        out[h++] = m | 126;
        out[h++] = (uint8_t)(len >> 8);
        out[h++] = (uint8_t)len;
    } else {
        out[h++] = m | 127;
        for (int i = 7; i >= 0; i--) out[h++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    if (masked) {
        memcpy(out + h, mask, 4);
        h += 4;
    }
    const uint8_t *p = payload;
    for (size_t i = 0; i < len; i++) out[h + i] = masked ? p[i] ^ mask[i % 4] : p[i];
    return h + len;
}

static void cli_frame(client *c, int fin, int opcode, const void *payload, size_t len) {
    uint8_t *f = malloc(len + 14);
    size_t n = frame(f, fin, opcode, payload, len, true);
    cli_sendn(c, f, n);
    free(f);
}
static void cli_text(client *c, const char *s) { cli_frame(c, 1, 1, s, strlen(s)); }

static void cli_close_frame(client *c, uint16_t code, const char *reason) {
    uint8_t p[128];
    p[0] = (uint8_t)(code >> 8);
    p[1] = (uint8_t)code;
    size_t n = strlen(reason);
    memcpy(p + 2, reason, n);
    cli_frame(c, 1, 8, p, n + 2);
}

typedef struct wsframe {
    int fin, opcode;
    size_t len;     /* payload */
    size_t hlen;    /* header */
    char *payload;  /* malloc'd, NUL-terminated */
} wsframe;

/* One server frame if whole in the buffer. */
static bool take_frame(client *c, wsframe *f) {
    if (c->len < 2) return false;
    const uint8_t *b = (const uint8_t *)c->buf;
    cr_assert_eq(b[0] & 0x70, 0, "reserved bits set by the server");
    cr_assert_eq(b[1] & 0x80, 0, "a masked server frame");
    size_t len = b[1] & 0x7F, h = 2;
    if (len == 126) {
        if (c->len < 4) return false;
        len = (size_t)b[2] << 8 | b[3];
        h = 4;
        cr_assert_geq(len, 126, "16-bit length for a short payload");
    } else if (len == 127) {
        if (c->len < 10) return false;
        len = 0;
        for (int i = 0; i < 8; i++) len = len << 8 | b[2 + i];
        h = 10;
        cr_assert_gt(len, 0xFFFF, "64-bit length for a 16-bit payload");
    }
    if (c->len < h + len) return false;
    f->fin = b[0] >> 7;
    f->opcode = b[0] & 0x0F;
    f->len = len;
    f->hlen = h;
    f->payload = malloc(len + 1);
    memcpy(f->payload, c->buf + h, len);
    f->payload[len] = '\0';
    cli_consume(c, h + len);
    return true;
}

static wsframe cli_read_frame(client *c) {
    wsframe f = {0};
    uint64_t t0 = now_ms();
    while (!take_frame(c, &f)) {
        cr_assert(!c->eof, "closed before a whole frame (%zu bytes)", c->len);
        cr_assert(now_ms() - t0 < BOUND_MS, "no frame within the bound");
        if (!cli_pump(c)) step();
    }
    return f;
}

static void expect_text(client *c, const char *want, size_t len) {
    wsframe f = cli_read_frame(c);
    cr_assert_eq(f.opcode, 1, "opcode %d, not text", f.opcode);
    cr_assert(f.fin);
    cr_assert_eq(f.len, len, "length %zu, not %zu", f.len, len);
    cr_assert(memcmp(f.payload, want, len) == 0, "payload differs");
    free(f.payload);
}

/* A close frame with code (and reason if not NULL). */
static void expect_close_frame(client *c, uint16_t code, const char *reason) {
    wsframe f = cli_read_frame(c);
    cr_assert_eq(f.opcode, 8, "opcode %d, not close (payload %s)", f.opcode, f.payload);
    cr_assert_geq(f.len, 2);
    uint16_t got = (uint16_t)((uint8_t)f.payload[0] << 8 | (uint8_t)f.payload[1]);
    cr_assert_eq(got, code, "close code %u, not %u", got, code);
    if (reason) cr_assert_str_eq(f.payload + 2, reason);
    free(f.payload);
}

/* The server closes the connection, nothing else arriving first. */
static void expect_eof(client *c) {
    uint64_t t0 = now_ms();
    while (!c->eof) {
        cr_assert(now_ms() - t0 < BOUND_MS, "the server kept the connection open");
        if (!cli_pump(c)) step();
    }
    cr_assert_eq(c->len, 0, "unexpected %zu bytes before the end", c->len);
}

/* Nothing arrives and the connection stays open while the loop steps for ms. */
static void expect_quiet(client *c, uint64_t ms) {
    uint64_t t0 = now_ms();
    while (now_ms() - t0 < ms) {
        cli_pump(c);
        step();
    }
    cr_assert(!c->eof && c->len == 0, "unexpected: %s (%zu bytes)", c->eof ? "closed" : "data", c->len);
}

/* Connect, upgrade (extra headers appended), check the 101. */
static client *ws_connect(const char *extra) {
    client *c = cli_open();
    char req[1024];
    handshake_text(req, sizeof req, extra);
    cli_send(c, req);
    head h;
    cli_read_head(c, &h);
    cr_assert_eq(h.status, 101, "%s", h.text);
    cr_assert_str_eq(head_get(&h, "Sec-WebSocket-Accept"), ACCEPT);
    cr_assert(weir__ws_has_token(head_get(&h, "Upgrade"), "websocket"));
    cr_assert(weir__ws_has_token(head_get(&h, "Connection"), "upgrade"));
    WAIT_UNTIL(weir_http_server_upgraded(srv) == (size_t)(n_ws - closes));
    return c;
}

/* ------------------------------------------------------------------- tests */

Test(ws, handshake_answers_101_with_the_rfc_accept_value) {
    start(NULL);
    client *c = ws_connect(NULL);
    cr_assert_eq(accept_rc, 0);
    cr_assert_eq(n_ws, 1);
    cr_assert_eq(weir_http_server_connections(srv), 1);
    cr_assert_eq(weir_http_server_upgraded(srv), 1);
    cr_assert_eq(weir_http_server_in_flight(srv), 0);
    cli_text(c, "hello");
    expect_text(c, "hello", 5);
    cr_assert_str_eq(last_text, "hello");
    cli_close(c);
    WAIT_UNTIL(closes == 1);
    cr_assert_eq(close_code[0], 1006, "a peer gone without a close frame: %u", close_code[0]);
    WAIT_UNTIL(weir_http_server_connections(srv) == 0);
    cr_assert_eq(weir_http_server_upgraded(srv), 0);
    finish();
}

static void expect_refused(const char *req, int status, const char *msg_part) {
    client *c = cli_open();
    cli_send(c, req);
    head h;
    cli_read_head(c, &h);
    cr_assert_eq(h.status, status, "%s\n-> %s", req, h.text);
    cr_assert(strstr(h.body, msg_part), "%s: body %s", req, h.body);
    if (status == 426) cr_assert_str_eq(head_get(&h, "Sec-WebSocket-Version"), "13");
    cr_assert_eq(accept_rc, WEIR_EINVAL);
    cli_close(c);
}

Test(ws, every_handshake_refusal) {
    start(NULL);
    const char *up = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
    const char *key = "Sec-WebSocket-Key: " KEY "\r\n";
    const char *ver = "Sec-WebSocket-Version: 13\r\n";
    char req[1024];
    snprintf(req, sizeof req, "POST /ws HTTP/1.1\r\nHost: localhost\r\n%s%s%sContent-Length: 0\r\n\r\n", up, key, ver);
    expect_refused(req, 400, "the method must be GET");
    snprintf(req, sizeof req, "GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n%s%s\r\n", key, ver);
    expect_refused(req, 400, "Upgrade: websocket");
    snprintf(req, sizeof req, "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n%s%s\r\n", key,
             ver);
    expect_refused(req, 400, "Upgrade: websocket");
    snprintf(req, sizeof req, "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n%s%s\r\n", key, ver);
    expect_refused(req, 400, "Connection: upgrade");
    snprintf(req, sizeof req,
             "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n%s%s\r\n", key, ver);
    expect_refused(req, 400, "Connection: upgrade");
    snprintf(req, sizeof req, "GET /ws HTTP/1.1\r\nHost: localhost\r\n%s%sSec-WebSocket-Version: 8\r\n\r\n", up, key);
    expect_refused(req, 426, "Sec-WebSocket-Version must be 13");
    snprintf(req, sizeof req, "GET /ws HTTP/1.1\r\nHost: localhost\r\n%s%s\r\n", up, key);
    expect_refused(req, 426, "Sec-WebSocket-Version must be 13");
    snprintf(req, sizeof req, "GET /ws HTTP/1.1\r\nHost: localhost\r\n%s%s\r\n", up, ver);
    expect_refused(req, 400, "Sec-WebSocket-Key");
    const char *bad_keys[] = {"", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZQ===",
                              "dGhlIHNhbXBsZSBub25j!Q==", "dGhlIHNhbXBsZSBub25jZXh4", "AAAAAAAAAAAAAAAAAAAAAAAAAA=="};
    for (size_t i = 0; i < sizeof bad_keys / sizeof *bad_keys; i++) {
        snprintf(req, sizeof req, "GET /ws HTTP/1.1\r\nHost: localhost\r\n%s%sSec-WebSocket-Key: %s\r\n\r\n", up, ver,
                 bad_keys[i]);
        expect_refused(req, 400, "Sec-WebSocket-Key");
    }
    cr_assert_eq(n_ws, 0);
    cr_assert_eq(weir_http_server_in_flight(srv), 0);
    /* token lists and case */
    client *c = ws_connect("X-Pad: 1\r\n");
    cli_close(c);
    c = cli_open();
    cli_send(c, "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: foo, WebSocket\r\nConnection: keep-alive, UPGRADE\r\n"
                "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n");
    head h;
    cli_read_head(c, &h);
    cr_assert_eq(h.status, 101, "%s", h.text);
    cli_close(c);
    WAIT_UNTIL(closes == 2);
    finish();
}

Test(ws, subprotocol_is_agreed_only_if_offered) {
    ws_opts.protocol = "weir.v1";
    start(NULL);
    client *c = cli_open();
    char req[1024];
    handshake_text(req, sizeof req, "Sec-WebSocket-Protocol: chat, weir.v1\r\n");
    cli_send(c, req);
    head h;
    cli_read_head(c, &h);
    cr_assert_eq(h.status, 101);
    cr_assert_str_eq(head_get(&h, "Sec-WebSocket-Protocol"), "weir.v1");
    cli_close(c);
    c = cli_open();
    handshake_text(req, sizeof req, "Sec-WebSocket-Protocol: chat\r\n");
    cli_send(c, req);
    cli_read_head(c, &h);
    cr_assert_eq(h.status, 101);
    cr_assert_null(head_get(&h, "Sec-WebSocket-Protocol"));
    cli_close(c);
    finish();
}

Test(ws, echo_at_every_length_encoding) {
    start(NULL);
    client *c = ws_connect(NULL);
    const size_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 100000};
    char *big = malloc(100001);
    for (size_t i = 0; i < 100000; i++) big[i] = (char)('a' + i % 26);
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        cli_frame(c, 1, 1, big, lens[i]);
        wsframe f = cli_read_frame(c);
        cr_assert_eq(f.opcode, 1);
        cr_assert_eq(f.len, lens[i]);
        cr_assert_eq(f.hlen, lens[i] < 126 ? 2u : lens[i] <= 0xFFFF ? 4u : 10u, "header of %zu bytes for %zu",
                     f.hlen, lens[i]);
        cr_assert(memcmp(f.payload, big, lens[i]) == 0);
        free(f.payload);
    }
    cr_assert_eq(texts, 8);
    cr_assert_eq(last_text_len, 100000);
    /* several messages in one write come back in order */
    uint8_t buf[256];
    size_t n = frame(buf, 1, 1, "one", 3, true);
    n += frame(buf + n, 1, 1, "two", 3, true);
    n += frame(buf + n, 1, 1, "\xc3\xa9t\xc3\xa9", 6, true);
    cli_sendn(c, buf, n);
    expect_text(c, "one", 3);
    expect_text(c, "two", 3);
    expect_text(c, "\xc3\xa9t\xc3\xa9", 6);
    free(big);
    cli_close(c);
    finish();
}

Test(ws, fragmented_messages_are_reassembled_around_control_frames) {
    start(NULL);
    client *c = ws_connect(NULL);
    cli_frame(c, 0, 1, "Hel", 3);
    cli_frame(c, 1, 9, "ping!", 5); /* a ping between fragments */
    cli_frame(c, 0, 0, "lo \xc3", 4); /* é split across fragments */
    wsframe f = cli_read_frame(c);   /* the pong comes before the message is whole */
    cr_assert_eq(f.opcode, 10);
    cr_assert_str_eq(f.payload, "ping!");
    free(f.payload);
    cr_assert_eq(texts, 0);
    cli_frame(c, 1, 0, "\xa9!", 2);
    expect_text(c, "Hello \xc3\xa9!", 9);
    cr_assert_eq(texts, 1);
    /* an empty first fragment and many small ones */
    cli_frame(c, 0, 1, "", 0);
    for (int i = 0; i < 50; i++) cli_frame(c, 0, 0, "x", 1);
    cli_frame(c, 1, 0, "", 0);
    char want[51];
    memset(want, 'x', 50);
    want[50] = '\0';
    expect_text(c, want, 50);
    cli_close(c);
    finish();
}

Test(ws, ping_gets_pong_and_pong_gets_nothing) {
    start(NULL);
    client *c = ws_connect(NULL);
    cli_frame(c, 1, 9, "abc", 3);
    wsframe f = cli_read_frame(c);
    cr_assert_eq(f.opcode, 10);
    cr_assert_eq(f.len, 3);
    cr_assert_str_eq(f.payload, "abc");
    free(f.payload);
    cli_frame(c, 1, 9, "", 0);
    f = cli_read_frame(c);
    cr_assert_eq(f.opcode, 10);
    cr_assert_eq(f.len, 0);
    free(f.payload);
    cli_frame(c, 1, 10, "unsolicited", 11);
    expect_quiet(c, 50);
    cr_assert_eq(texts, 0);
    cli_text(c, "still here");
    expect_text(c, "still here", 10);
    cli_close(c);
    finish();
}

Test(ws, close_from_the_client_is_answered_then_closed) {
    start(NULL);
    client *c = ws_connect(NULL);
    cli_close_frame(c, 1000, "bye");
    cli_text(c, "after the close"); /* not delivered */
    expect_close_frame(c, 1000, "bye");
    expect_eof(c);
    WAIT_UNTIL(closes == 1);
    cr_assert_eq(close_code[0], 1000);
    cr_assert_str_eq(close_reason[0], "bye");
    cr_assert_eq(texts, 0);
    cli_close(c);
    WAIT_UNTIL(weir_http_server_connections(srv) == 0); /* it lingered until the client closed */
    /* a close without a code is answered without one, reported as 1005 */
    c = ws_connect(NULL);
    cli_frame(c, 1, 8, "", 0);
    wsframe f = cli_read_frame(c);
    cr_assert_eq(f.opcode, 8);
    cr_assert_eq(f.len, 0);
    free(f.payload);
    expect_eof(c);
    WAIT_UNTIL(closes == 2);
    cr_assert_eq(close_code[1], 1005);
    cli_close(c);
    /* a client that shuts its side down right after its close frame still gets the answer */
    c = ws_connect(NULL);
    uint8_t buf[64];
    size_t n = frame(buf, 1, 1, "ping me", 7, true);
    n += frame(buf + n, 1, 8, "\x03\xe9", 2, true);
    cli_sendn(c, buf, n);
    shutdown(c->fd, SHUT_WR);
    expect_text(c, "ping me", 7);
    expect_close_frame(c, 1001, "");
    expect_eof(c);
    WAIT_UNTIL(closes == 3);
    cr_assert_eq(close_code[2], 1001);
    cli_close(c);
    WAIT_UNTIL(weir_http_server_connections(srv) == 0);
    finish();
}

Test(ws, close_from_the_server_writes_queued_frames_first) {
    start(NULL);
    client *c = ws_connect(NULL);
    cli_text(c, "last-then-close");
    expect_text(c, "last", 4);
    expect_close_frame(c, 1000, "bye");
    cr_assert_eq(closes, 0); /* waiting for the answer */
    cli_close_frame(c, 1000, "bye");
    expect_eof(c);
    WAIT_UNTIL(closes == 1);
    cr_assert_eq(close_code[0], 1000);
    cr_assert_str_eq(close_reason[0], "bye");
    cli_close(c);
    /* weir_ws_close from outside a callback; the peer answers with its own code */
    c = ws_connect(NULL);
    weir_ws_close(wss[1], 4001, "done");
    weir_ws_close(wss[1], 4002, "twice"); /* no-op */
    cr_assert_eq(weir_ws_send_text(wss[1], "x", 1), WEIR_ESTATE);
    expect_close_frame(c, 4001, "done");
    cli_close_frame(c, 1000, "");
    expect_eof(c);
    WAIT_UNTIL(closes == 2);
    cr_assert_eq(close_code[1], 1000, "the peer's code is reported");
    cli_close(c);
    /* codes an endpoint may not send become 1000 */
    c = ws_connect(NULL);
    cli_text(c, "close:1006:not allowed");
    expect_close_frame(c, 1000, "not allowed");
    cli_close(c);
    WAIT_UNTIL(closes == 3);
    finish();
}

Test(ws, an_unanswered_close_is_cut_off_after_the_timeout) {
    start(NULL);
    client *c = ws_connect(NULL);
    uint64_t t0 = now_ms();
    weir_ws_close(wss[0], 4000, "going");
    expect_close_frame(c, 4000, "going");
    WAIT_UNTIL(closes == 1); /* the client never answers */
    uint64_t took = now_ms() - t0;
    cr_assert_geq(took, WEIR__WS_CLOSE_MS - 100, "closed after %llu ms", (unsigned long long)took);
    cr_assert_lt(took, WEIR__WS_CLOSE_MS + 2000, "closed after %llu ms", (unsigned long long)took);
    cr_assert_eq(close_code[0], 4000);
    cr_assert_str_eq(close_reason[0], "going");
    cli_pump(c);
    cr_assert(c->eof);
    cli_close(c);
    finish();
}

/* The server refuses with code: a close frame, then the end of the stream. */
static void expect_failure(client *c, uint16_t code, int index) {
    expect_close_frame(c, code, NULL);
    expect_eof(c);
    WAIT_UNTIL(closes == index + 1);
    cr_assert_eq(close_code[index], code, "on_close got %u, not %u", close_code[index], code);
}

Test(ws, unmasked_client_frame_is_a_protocol_error) {
    start(NULL);
    client *c = ws_connect(NULL);
    uint8_t buf[32];
    size_t n = frame(buf, 1, 1, "plain", 5, false);
    cli_sendn(c, buf, n);
    expect_failure(c, 1002, 0);
    cr_assert_eq(texts, 0);
    cli_close(c);
    finish();
}

Test(ws, protocol_errors_close_with_1002) {
    start(NULL);
    uint8_t buf[256];
    memset(buf, 'p', sizeof buf);
    int k = 0;
    /* a control frame over 125 bytes */
    client *c = ws_connect(NULL);
    cli_frame(c, 1, 9, buf, 126);
    expect_failure(c, 1002, k++);
    cli_close(c);
    /* a fragmented control frame */
    c = ws_connect(NULL);
    cli_frame(c, 0, 9, "x", 1);
    expect_failure(c, 1002, k++);
    cli_close(c);
    /* a continuation with no message begun */
    c = ws_connect(NULL);
    cli_frame(c, 1, 0, "x", 1);
    expect_failure(c, 1002, k++);
    cli_close(c);
    /* a new message while one is fragmented */
    c = ws_connect(NULL);
    cli_frame(c, 0, 1, "a", 1);
    cli_frame(c, 1, 1, "b", 1);
    expect_failure(c, 1002, k++);
    cli_close(c);
    /* a reserved opcode, reserved bits */
    c = ws_connect(NULL);
    cli_frame(c, 1, 3, "x", 1);
    expect_failure(c, 1002, k++);
    cli_close(c);
    c = ws_connect(NULL);
    cli_frame(c, 1, 0x40 | 1, "x", 1);
    expect_failure(c, 1002, k++);
    cli_close(c);
    /* a close code no endpoint may send */
    c = ws_connect(NULL);
    cli_close_frame(c, 1005, "");
    expect_failure(c, 1002, k++);
    cli_close(c);
    cr_assert_eq(texts, 0);
    finish();
}

Test(ws, invalid_utf8_closes_with_1007) {
    start(NULL);
    const char *bad[] = {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "ok\x80"};
    int k = 0;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++, k++) {
        client *c = ws_connect(NULL);
        cli_frame(c, 1, 1, bad[i], strlen(bad[i]));
        expect_failure(c, 1007, k);
        cli_close(c);
    }
    /* a sequence cut by the end of a fragmented message */
    client *c = ws_connect(NULL);
    cli_frame(c, 0, 1, "ab\xe2\x82", 4);
    cli_frame(c, 1, 0, "", 0);
    expect_failure(c, 1007, k++);
    cli_close(c);
    /* a close reason that is not UTF-8 */
    c = ws_connect(NULL);
    cli_frame(c, 1, 8, "\x03\xe8\xff", 3);
    expect_failure(c, 1007, k++);
    cli_close(c);
    /* ... arriving in two reads, the bad byte first in the second (wslay's
     * own check skips it): not echoed back */
    c = ws_connect(NULL);
    uint8_t f[32];
    size_t n = frame(f, 1, 8, "\x03\xe8" "ab\xff" "c", 6, true);
    cli_sendn(c, f, n - 2);
    for (int i = 0; i < 20; i++) step();
    cli_sendn(c, f + n - 2, 2);
    expect_failure(c, 1007, k);
    cr_assert_str_eq(close_reason[k], "invalid UTF-8");
    k++;
    cli_close(c);
    cr_assert_eq(texts, 0);
    finish();
}

Test(ws, binary_message_closes_with_1003) {
    start(NULL);
    client *c = ws_connect(NULL);
    cli_frame(c, 1, 2, "\x00\x01\x02", 3);
    expect_failure(c, 1003, 0);
    cr_assert_str_eq(close_reason[0], "binary messages are not supported");
    cli_close(c);
    /* a fragmented binary message: refused at its first frame */
    c = ws_connect(NULL);
    cli_frame(c, 0, 2, "\x00", 1);
    expect_failure(c, 1003, 1);
    cli_close(c);
    cr_assert_eq(texts, 0);
    finish();
}

Test(ws, a_message_over_max_message_closes_with_1009) {
    ws_opts.max_message = 1000;
    start(NULL);
    char *big = malloc(2000);
    memset(big, 'm', 2000);
    client *c = ws_connect(NULL);
    cli_frame(c, 1, 1, big, 1000); /* exactly the limit passes */
    wsframe f = cli_read_frame(c);
    cr_assert_eq(f.len, 1000);
    free(f.payload);
    cli_frame(c, 1, 1, big, 1001);
    expect_failure(c, 1009, 0);
    cli_close(c);
    /* over the limit across fragments, each under it */
    c = ws_connect(NULL);
    cli_frame(c, 0, 1, big, 600);
    cli_frame(c, 1, 0, big, 600);
    expect_failure(c, 1009, 1);
    cli_close(c);
    cr_assert_eq(texts, 1);
    free(big);
    finish();
}

Test(ws, a_small_max_message_still_lets_pings_through) {
    ws_opts.max_message = 4;
    start(NULL);
    client *c = ws_connect(NULL);
    char ping[125];
    memset(ping, 'p', sizeof ping);
    cli_frame(c, 1, 9, ping, sizeof ping);
    wsframe f = cli_read_frame(c);
    cr_assert_eq(f.opcode, 10);
    cr_assert_eq(f.len, 125);
    free(f.payload);
    cli_text(c, "four");
    expect_text(c, "four", 4);
    cli_text(c, "fives");
    expect_failure(c, 1009, 0);
    cli_close(c);
    finish();
}

Test(ws, frames_sent_with_the_handshake_are_not_lost) {
    start(NULL);
    client *c = cli_open();
    char buf[2048];
    size_t n = handshake_text(buf, sizeof buf, NULL);
    n += frame((uint8_t *)buf + n, 1, 1, "first", 5, true);
    n += frame((uint8_t *)buf + n, 1, 9, "p", 1, true);
    n += frame((uint8_t *)buf + n, 0, 1, "sec", 3, true); /* the rest comes later */
    cli_sendn(c, buf, n);
    head h;
    cli_read_head(c, &h);
    cr_assert_eq(h.status, 101);
    expect_text(c, "first", 5);
    wsframe f = cli_read_frame(c);
    cr_assert_eq(f.opcode, 10);
    free(f.payload);
    cli_frame(c, 1, 0, "ond", 3);
    expect_text(c, "second", 6);
    cli_close(c);
    finish();
}

Test(ws, an_upgrade_pipelined_behind_a_request_waits_its_turn) {
    start(NULL);
    client *c = cli_open();
    char buf[2048];
    size_t n = (size_t)snprintf(buf, sizeof buf, "GET /hold HTTP/1.1\r\nHost: localhost\r\n\r\n");
    n += handshake_text(buf + n, sizeof buf - n, NULL);
    n += frame((uint8_t *)buf + n, 1, 1, "early", 5, true);
    cli_sendn(c, buf, n);
    WAIT_UNTIL(nheld == 1 && n_ws == 1);
    cli_frame(c, 1, 1, "later", 5); /* arrives before the 101 is written */
    expect_quiet(c, 30);
    cr_assert_eq(weir_http_server_upgraded(srv), 0);
    cr_assert_eq(weir_ws_send_text(wss[0], "queued", 6), 0); /* before the take-over: kept */
    cr_assert_eq(weir_ws_backlog(wss[0]), 8);
    weir_http_respond(held[0], 200, "text/plain", "held", 4, NULL);
    nheld = 0;
    head h;
    cli_read_head(c, &h);
    cr_assert_eq(h.status, 200);
    cr_assert_str_eq(h.body, "held");
    cr_assert_str_eq(head_get(&h, "Connection"), "keep-alive");
    cli_read_head(c, &h);
    cr_assert_eq(h.status, 101);
    expect_text(c, "queued", 6);
    expect_text(c, "early", 5);
    expect_text(c, "later", 5);
    cr_assert_eq(weir_http_server_upgraded(srv), 1);
    cli_close(c);
    finish();
}

Test(ws, one_shared_frame_queued_many_times_in_a_turn_is_one_write) {
    start(NULL);
    client *c = ws_connect(NULL);
    weir_ws *ws = wss[0];
    weir_sbuf *shared = weir_ws_frame_text("shared", 6);
    size_t plen;
    cr_assert_str_eq(weir_ws_frame_payload(shared, &plen), "shared");
    cr_assert_eq(plen, 6);
    unsigned long w0 = weir__ws_writes(ws);
    enum { N = 2000 };
    for (int i = 0; i < N; i++) {
        cr_assert_eq(weir_ws_send_frame(ws, shared), 0);
        char num[16];
        int k = snprintf(num, sizeof num, "#%d", i);
        cr_assert_eq(weir_ws_send_text(ws, num, (size_t)k), 0);
    }
    cr_assert_eq(shared->refs, 1u + N);
    cr_assert_gt(weir_ws_backlog(ws), (size_t)N * 8);
    for (int i = 0; i < N; i++) {
        expect_text(c, "shared", 6);
        char num[16];
        int k = snprintf(num, sizeof num, "#%d", i);
        expect_text(c, num, (size_t)k);
    }
    cr_assert_eq(weir__ws_writes(ws) - w0, 1, "%lu writes for one turn's frames", weir__ws_writes(ws) - w0);
    WAIT_UNTIL(shared->refs == 1);
    cr_assert_eq(weir_ws_backlog(ws), 0);
    weir_sbuf_unref(shared);
    cli_close(c);
    finish();
}

/* Frames written one after another into one batch buffer and queued as
 * slices in that order are one piece of the write; anything queued between
 * them keeps its place. */
Test(ws, contiguous_slices_of_one_buffer_are_one_piece_in_order) {
    start(NULL);
    client *c = ws_connect(NULL);
    weir_ws *ws = wss[0];
    weir_sbuf *batch = weir_sbuf_new(256);
    size_t off[4] = {0};
    const char *msgs[3] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++) {
        weir_sbuf *f = weir_ws_frame_text(msgs[i], strlen(msgs[i]));
        memcpy(batch->data + off[i], f->data, f->len);
        off[i + 1] = off[i] + f->len;
        weir_sbuf_unref(f);
    }
    cr_assert_eq(weir_ws_send_slice(ws, batch, off[2], 300), WEIR_EINVAL, "not within the buffer");
    size_t p0 = weir__ws_queued_pieces(ws);
    cr_assert_eq(weir_ws_send_slice(ws, batch, off[0], off[1] - off[0]), 0);
    cr_assert_eq(weir_ws_send_slice(ws, batch, off[1], off[2] - off[1]), 0);
    cr_assert_eq(weir__ws_queued_pieces(ws) - p0, 1, "two contiguous slices: one piece");
    cr_assert_eq(weir_ws_send_text(ws, "between", 7), 0);
    cr_assert_eq(weir_ws_send_slice(ws, batch, off[2], off[3] - off[2]), 0);
    cr_assert_eq(weir__ws_queued_pieces(ws) - p0, 3, "a frame between: its own piece, the next slice a new one");
    cr_assert_eq(weir_ws_backlog(ws), off[3] + 9);
    expect_text(c, "one", 3);
    expect_text(c, "two", 3);
    expect_text(c, "between", 7);
    expect_text(c, "three", 5);
    WAIT_UNTIL(batch->refs == 1);
    weir_sbuf_unref(batch);
    cli_close(c);
    finish();
}

/* Queued without a flush, frames wait across turns of the loop and leave in
 * one write at weir_ws_flush; a message sent meanwhile takes them along,
 * after them; enough waiting asks for the write by itself. */
Test(ws, queued_frames_wait_for_a_flush_across_turns) {
    start(NULL);
    client *c = ws_connect(NULL);
    weir_ws *ws = wss[0];
    weir_sbuf *f = weir_ws_frame_text("ev", 2);
    unsigned long w0 = weir__ws_writes(ws);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(weir_ws_queue_slice(ws, f, 0, f->len), 0);
        step(); /* turns of the loop: nothing written */
    }
    cr_assert_eq(weir__ws_writes(ws), w0, "queued, not written");
    cr_assert_eq(weir_ws_backlog(ws), 5 * f->len);
    weir_ws_flush(ws);
    for (int i = 0; i < 5; i++) expect_text(c, "ev", 2);
    cr_assert_eq(weir__ws_writes(ws) - w0, 1, "one write for five turns' frames");
    /* a message sent after queued frames takes them along, in order */
    cr_assert_eq(weir_ws_queue_slice(ws, f, 0, f->len), 0);
    cr_assert_eq(weir_ws_send_text(ws, "ack", 3), 0);
    expect_text(c, "ev", 2);
    expect_text(c, "ack", 3);
    /* enough waiting: written without a flush */
    weir_sbuf *big = weir_sbuf_new(WEIR_WS_QUEUE_FLUSH_BYTES);
    memset(big->data, 'x', big->len);
    unsigned long w1 = weir__ws_writes(ws);
    cr_assert_eq(weir_ws_queue_slice(ws, big, 0, big->len), 0);
    WAIT_UNTIL(weir__ws_writes(ws) > w1);
    weir_sbuf_unref(big);
    weir_sbuf_unref(f);
    cli_close(c);
    finish();
}

Test(ws, backlog_grows_while_the_client_does_not_read) {
    start(NULL);
    client *c = cli_open_rcvbuf(64 * 1024);
    char req[1024];
    handshake_text(req, sizeof req, NULL);
    cli_send(c, req);
    head h;
    cli_read_head(c, &h);
    cr_assert_eq(h.status, 101);
    weir_ws *ws = wss[0];
    /* More than the kernel can hold: its largest send buffer, twice, and 16 MiB */
    enum { MB = 1 << 20 };
    long wmem_max = 4 * MB;
    FILE *sys = fopen("/proc/sys/net/ipv4/tcp_wmem", "r");
    if (sys) {
        long lo, def;
        if (fscanf(sys, "%ld %ld %ld", &lo, &def, &wmem_max) != 3) wmem_max = 4 * MB;
        fclose(sys);
    }
    const int N = (int)(2 * wmem_max / MB) + 16;
    char *payload = malloc(MB);
    for (size_t i = 0; i < MB; i++) payload[i] = (char)('A' + i % 26);
    weir_sbuf *big = weir_ws_frame_text(payload, MB);
    for (int i = 0; i < N; i++) cr_assert_eq(weir_ws_send_frame(ws, big), 0);
    cr_assert_geq(weir_ws_backlog(ws), (size_t)N * MB);
    for (int i = 0; i < 100; i++) step(); /* the kernel takes what it can */
    size_t backlog = weir_ws_backlog(ws);
    cr_assert_gt(backlog, (size_t)N * MB - (size_t)wmem_max - 2 * MB, "backlog %zu of %d MiB queued", backlog, N);
    cr_assert_lt(backlog, (size_t)N * MB + 64, "%zu", backlog);
    /* more queued while the peer is stuck: the backlog grows */
    cr_assert_eq(weir_ws_send_frame(ws, big), 0);
    for (int i = 0; i < 10; i++) step();
    cr_assert_gt(weir_ws_backlog(ws), backlog);
    /* the client reads everything: intact, and the backlog drains */
    for (int i = 0; i < N + 1; i++) {
        wsframe f = cli_read_frame(c);
        cr_assert_eq(f.len, (size_t)MB);
        cr_assert(memcmp(f.payload, payload, MB) == 0, "frame %d differs", i);
        free(f.payload);
    }
    WAIT_UNTIL(weir_ws_backlog(ws) == 0);
    weir_sbuf_unref(big);
    free(payload);
    cli_close(c);
    finish();
}

Test(ws, destroy_with_open_connections_calls_on_close_once) {
    start(NULL);
    client *a = ws_connect(NULL), *b = ws_connect(NULL);
    cli_text(a, "x");
    expect_text(a, "x", 1);
    weir_ws_send_text(wss[1], "unsent", 6); /* still queued at destroy */
    weir_ws_close(wss[0], 1000, "");        /* in its close handshake */
    cr_assert_eq(weir_http_server_connections(srv), 2);
    finish(); /* asserts one on_close each, no leaks */
    cr_assert_eq(closes, 2);
    cr_assert_eq(close_code[0], 1000);
    cr_assert_eq(close_code[1], 1001);
    cr_assert_str_eq(close_reason[1], "server shutting down");
    cli_pump(a);
    cli_pump(b);
    cli_close(a);
    cli_close(b);
}

Test(ws, destroying_the_server_from_inside_on_text) {
    start(NULL);
    client *a = ws_connect(NULL), *b = ws_connect(NULL);
    uint8_t buf[64];
    size_t n = frame(buf, 1, 1, "destroy-server", 14, true);
    n += frame(buf + n, 1, 1, "never delivered", 15, true);
    cli_sendn(a, buf, n);
    WAIT_UNTIL(closes == 2);
    cr_assert_null(srv);
    cr_assert_eq(texts, 1);
    cr_assert_eq(close_code[0], 1001);
    cr_assert_eq(close_code[1], 1001);
    finish();
    cli_close(a);
    cli_close(b);
}

Test(ws, stop_accepting_closes_websockets_with_1001) {
    start(NULL);
    client *c = ws_connect(NULL);
    weir_http_server_stop_accepting(srv);
    expect_close_frame(c, 1001, "server shutting down");
    cli_close_frame(c, 1001, "");
    expect_eof(c);
    WAIT_UNTIL(closes == 1);
    cli_close(c);
    WAIT_UNTIL(weir_http_server_connections(srv) == 0);
    finish();
}

Test(ws, stop_accepting_before_the_101_is_written) {
    start(NULL);
    client *c = cli_open();
    char buf[2048];
    size_t n = (size_t)snprintf(buf, sizeof buf, "GET /hold HTTP/1.1\r\nHost: localhost\r\n\r\n");
    n += handshake_text(buf + n, sizeof buf - n, NULL);
    cli_sendn(c, buf, n);
    WAIT_UNTIL(nheld == 1 && n_ws == 1);
    weir_http_server_stop_accepting(srv);
    weir_http_respond(held[0], 200, "text/plain", "held", 4, NULL);
    nheld = 0;
    head h;
    cli_read_head(c, &h);
    cr_assert_eq(h.status, 200);
    cli_read_head(c, &h);
    cr_assert_eq(h.status, 101);
    expect_close_frame(c, 1001, NULL); /* taken over while stopping: leaves at once */
    cli_close_frame(c, 1001, "");
    expect_eof(c);
    WAIT_UNTIL(closes == 1);
    cli_close(c);
    finish();
}

Test(ws, websockets_count_as_connections_but_not_for_the_idle_timeout) {
    weir_http_options o = {.host = "127.0.0.1", .idle_timeout_ms = 100, .max_connections = 1};
    start(&o);
    client *c = ws_connect(NULL);
    expect_quiet(c, 400); /* four idle timeouts */
    cli_text(c, "alive");
    expect_text(c, "alive", 5);
    /* max_connections counts it */
    client *x = cli_open();
    cli_send(x, "GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n");
    head h;
    cli_read_head(x, &h);
    cr_assert_eq(h.status, 503);
    cli_close(x);
    cli_close(c);
    WAIT_UNTIL(closes == 1);
    finish();
}

Test(ws, a_request_whose_connection_is_gone_is_not_upgraded) {
    start(NULL);
    client *c = cli_open();
    cli_send(c, "GET /hold HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n");
    WAIT_UNTIL(nheld == 1);
    struct linger l = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    cli_close(c);
    WAIT_UNTIL(weir_http_server_connections(srv) == 0);
    weir_ws *ws = (weir_ws *)1;
    cr_assert_eq(weir_ws_accept(held[0], NULL, &ws_cb, NULL, &ws), WEIR_ESTATE);
    cr_assert_null(ws);
    nheld = 0;
    cr_assert_eq(weir_http_server_in_flight(srv), 0);
    finish();
}

/* One connection through handshake, echo and close while allocation number
 * n fails.  Whatever the outcome (refused, closed, done), nothing leaks and
 * on_close comes once for an accepted ws. */
static void failing_run(size_t n) {
    fa_arm(n);
    client *c = cli_open();
    char buf[2048];
    size_t len = handshake_text(buf, sizeof buf, NULL);
    len += frame((uint8_t *)buf + len, 0, 1, "hel", 3, true);
    cli_sendn(c, buf, len);
    uint64_t t0 = now_ms();
    bool sent = false;
    while (!c->eof && now_ms() - t0 < 3000) {
        if (!cli_pump(c)) step();
        if (!sent && n_ws && wss[n_ws - 1]) {
            cli_frame(c, 1, 0, "lo", 2);
            cli_close_frame(c, 1000, "");
            sent = true;
        }
    }
    cr_assert(c->eof, "allocation %zu failing: the connection hangs", n);
    cli_close(c);
    WAIT_UNTIL(weir_http_server_connections(srv) == 0);
}

Test(ws, every_failing_allocation_fails_cleanly) {
    start(NULL);
    allocs_fail = true;
    size_t n;
    for (n = 1; n < 200; n++) {
        int before = n_ws;
        failing_run(n);
        if (fa_count() < n) break; /* nothing failed: the run went through */
        (void)before;
    }
    cr_assert_lt(n, 200, "still failing after %zu allocations", n);
    cr_assert_gt(n, 3, "the run makes too few allocations to test anything");
    fa_arm(0);
    cr_assert_eq(close_code[n_ws - 1], 1000);
    finish();
}

/* ------------------------------------------------- idle connections' memory */

/* Send n bytes, then let the loop read them (a few steps: the next piece
 * then usually arrives as a read of its own). */
static void send_piece(client *c, const uint8_t *p, size_t n) {
    cli_sendn(c, p, n);
    for (int i = 0; i < 3; i++) step();
}

/* Between messages a websocket keeps no wslay context and no message
 * buffer; within a frame, or a fragmented message, it does; frames that
 * arrive in pieces split anywhere (inside the extended length, the mask,
 * the payload) are read whole across the context coming and going. */
Test(ws, an_idle_websocket_keeps_no_wslay_context_between_messages) {
    start(NULL);
    client *c = ws_connect(NULL);
    cr_assert_not(weir__ws_has_context(wss[0]), "a context before any input");
    cli_text(c, "hello");
    expect_text(c, "hello", 5);
    cr_assert_not(weir__ws_has_context(wss[0]), "the context stays after a whole message");
    /* the message buffer goes too */
    long long base = fa_live_bytes();
    enum { BIG = 50000 };
    char *big = malloc(BIG + 1);
    for (size_t i = 0; i < BIG; i++) big[i] = (char)('a' + i % 26);
    cli_frame(c, 1, 1, big, BIG);
    expect_text(c, big, BIG);
    cr_assert_lt(fa_live_bytes() - base, 8 * 1024, "%lld bytes kept after a %d-byte message",
                 fa_live_bytes() - base, BIG);
    /* a fragmented message keeps it until its last fragment, pings between */
    cli_frame(c, 0, 1, "frag", 4);
    WAIT_UNTIL(weir__ws_has_context(wss[0]));
    cli_frame(c, 1, 9, "p", 1);
    wsframe f = cli_read_frame(c);
    cr_assert_eq(f.opcode, 10);
    free(f.payload);
    cr_assert(weir__ws_has_context(wss[0]), "the context went in the middle of a message");
    cli_frame(c, 1, 0, "ment", 4);
    expect_text(c, "fragment", 8);
    cr_assert_not(weir__ws_has_context(wss[0]));
    /* frames in pieces: a 16-bit and a 64-bit length, cut everywhere */
    const size_t lens[] = {300, 70000};
    uint8_t *fr = malloc(70000 + 14);
    for (size_t k = 0; k < 2; k++) {
        size_t n = frame(fr, 1, 1, big, lens[k] < BIG ? lens[k] : BIG, true);
        if (lens[k] > BIG) { /* 70000: the payload repeats big */
            char *p = malloc(lens[k]);
            for (size_t i = 0; i < lens[k]; i++) p[i] = big[i % BIG];
            n = frame(fr, 1, 1, p, lens[k], true);
            free(p);
        }
        size_t hl = lens[k] <= 0xFFFF ? 8 : 14; /* header with its mask */
        size_t cuts[] = {1, 2, 3, hl - 2, hl, hl + 1, hl + 100, n};
        size_t at = 0;
        for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
            send_piece(c, fr + at, cuts[i] - at);
            at = cuts[i];
            if (at < n) WAIT_UNTIL(weir__ws_has_context(wss[0])); /* a frame under way holds one */
        }
        f = cli_read_frame(c);
        cr_assert_eq(f.opcode, 1);
        cr_assert_eq(f.len, lens[k]);
        for (size_t i = 0; i < lens[k]; i++) cr_assert_eq(f.payload[i], big[i % BIG], "byte %zu of %zu", i, lens[k]);
        free(f.payload);
        cr_assert_not(weir__ws_has_context(wss[0]));
    }
    free(fr);
    free(big);
    /* and it still closes properly */
    cli_close_frame(c, 1000, "done");
    expect_close_frame(c, 1000, "done");
    WAIT_UNTIL(closes == 1);
    cr_assert_eq(close_code[0], 1000);
    cli_close(c);
    finish();
}

/* After a burst, the queue arrays are given back once everything is
 * written: an idle connection keeps little (they held 1.3 MB after 20,000
 * pieces). */
Test(ws, a_burst_leaves_no_queue_arrays_behind) {
    start(NULL);
    client *c = ws_connect(NULL);
    weir_ws *ws = wss[0];
    cli_text(c, "x");
    expect_text(c, "x", 1);
    long long base = fa_live_bytes();
    weir_sbuf *f = weir_ws_frame_text("ev", 2);
    for (int i = 0; i < 10000; i++) {
        cr_assert_eq(weir_ws_queue_slice(ws, f, 0, f->len), 0);
        cr_assert_eq(weir_ws_send_text(ws, "a", 1), 0);
    }
    for (int i = 0; i < 10000; i++) {
        expect_text(c, "ev", 2);
        expect_text(c, "a", 1);
    }
    WAIT_UNTIL(f->refs == 1 && weir_ws_backlog(ws) == 0);
    long long kept = fa_live_bytes() - base;
    cr_assert_lt(kept, 16 * 1024, "%lld bytes kept after a 20,000-piece burst", kept);
    weir_sbuf_unref(f);
    cli_close(c);
    finish();
}
