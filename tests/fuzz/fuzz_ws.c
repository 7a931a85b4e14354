/*
 * libFuzzer target for the WebSocket module, without sockets: a detached
 * HTTP connection (src/server/http_internal.h) is fed a handshake, its
 * handler upgrades it (weir_ws_accept), and the rest of the input is what
 * the client sends after it, fed in pieces.  The handler echoes every text
 * message.
 *
 * Checked as the server's bytes come out of the sink: HTTP responses first;
 * after a 101 (with its accept value), only well-formed server frames —
 * final, no reserved bits, unmasked, text, close or pong, control payloads
 * of at most 125 bytes, a close code an endpoint may send, UTF-8 text and
 * close reasons — and nothing after a close frame.  on_text gets UTF-8 text,
 * NUL-terminated, within max_message; on_close comes exactly once for an
 * accepted connection and never for a refused one.  Everything is freed;
 * the sanitizers catch the rest.
 *
 * The first input byte chooses: bits 0-1 max_message (default, 16, 1000,
 * 70000), bits 2-5 the size of the pieces fed (0: all at once), bit 6: the
 * input is the client's whole stream (its own handshake) instead of
 * following a valid one, bit 7: a text starting with 'c' is answered with
 * weir_ws_close (its code and reason taken from the text) and every echo is
 * followed by a shared frame.  The committed corpus (tests/fuzz/corpus/ws)
 * replays as a normal test through replay_main.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_internal.h"
#include "net/ws.h"
#include "net/ws_internal.h"

static const char HANDSHAKE[] = "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "fuzz_ws: %s\n", what);
        abort();
    }
}

/* ------------------------------------------------------ the output checker */

static char *out;
static size_t out_len, out_cap;
static enum { HTTP, FRAMES, CLOSED } phase;
static char accept_line[64]; /* the Sec-WebSocket-Accept line the last handshake's key calls for */

static bool sendable(unsigned code) {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/* One HTTP response if whole: 0 none yet, else its length. */
static size_t take_response(void) {
    const char *end = memmem(out, out_len, "\r\n\r\n", 4);
    if (!end) return 0;
    check(out_len >= 12 && memcmp(out, "HTTP/1.1 ", 9) == 0, "a response without a status line");
    size_t head = (size_t)(end - out) + 4;
    size_t body = 0;
    const char *cl = memmem(out, head, "\r\nContent-Length: ", 18);
    if (cl) body = strtoul(cl + 18, NULL, 10);
    if (out_len < head + body) return 0;
    if (memcmp(out + 9, "101 ", 4) == 0) {
        check(accept_line[0] && memmem(out, head, accept_line, strlen(accept_line)) != NULL,
              "a 101 without the accept value of its key");
        check(body == 0, "a 101 with a body");
        phase = FRAMES;
    }
    return head + body;
}

/* One server frame if whole: 0 none yet, else its length. */
static size_t take_frame(void) {
    if (out_len < 2) return 0;
    const unsigned char *b = (const unsigned char *)out;
    check(b[0] & 0x80, "a server frame without FIN");
    check(!(b[0] & 0x70), "reserved bits in a server frame");
    check(!(b[1] & 0x80), "a masked server frame");
    unsigned op = b[0] & 0x0F;
    check(op == 1 || op == 8 || op == 10, "a server frame neither text, close nor pong");
    size_t len = b[1] & 0x7F, h = 2;
    if (len == 126) {
        if (out_len < 4) return 0;
        len = (size_t)b[2] << 8 | b[3];
        h = 4;
    } else if (len == 127) {
        if (out_len < 10) return 0;
        len = 0;
        for (int i = 0; i < 8; i++) len = len << 8 | b[2 + i];
        h = 10;
    }
    if (op != 1) check(len <= 125, "a control frame over 125 bytes");
    if (out_len < h + len) return 0;
    const char *p = out + h;
    if (op == 1) check(weir__ws_utf8_valid(p, len), "a text frame that is not UTF-8");
    if (op == 8) {
        check(len != 1, "a close frame with half a code");
        if (len >= 2) {
            check(sendable((unsigned)(unsigned char)p[0] << 8 | (unsigned char)p[1]), "a close code not to be sent");
            check(weir__ws_utf8_valid(p + 2, len - 2), "a close reason that is not UTF-8");
        }
        phase = CLOSED;
    }
    return h + len;
}

static void sink(void *ud, const char *data, size_t len) {
    (void)ud;
    check(phase != CLOSED, "bytes after a close frame");
    if (out_len + len > out_cap) {
        out_cap = (out_len + len) * 2;
        out = realloc(out, out_cap);
        check(out != NULL, "out of memory");
    }
    memcpy(out + out_len, data, len);
    out_len += len;
    for (;;) {
        size_t n = phase == HTTP ? take_response() : phase == FRAMES ? take_frame() : 0;
        if (!n) break;
        memmove(out, out + n, out_len - n);
        out_len -= n;
        if (phase == CLOSED) check(out_len == 0, "bytes after a close frame");
    }
}

/* --------------------------------------------------------------- handlers */

static unsigned cfg;
static size_t max_message;
static weir_ws *the_ws;
static int accepted, closes;
static weir_sbuf *shared;

static void on_text(void *ud, weir_ws *ws, const char *data, size_t len) {
    (void)ud;
    check(ws == the_ws, "on_text for another ws");
    check(data[len] == '\0', "text not NUL-terminated");
    check(len <= max_message, "a message over max_message");
    check(weir__ws_utf8_valid(data, len), "text that is not UTF-8");
    if ((cfg & 128) && len && data[0] == 'c') {
        weir_ws_close(ws, (uint16_t)(len > 2 ? (unsigned char)data[1] << 8 | (unsigned char)data[2] : 1000),
                      len > 3 ? data + 3 : "");
        check(weir_ws_send_text(ws, "x", 1) == WEIR_ESTATE, "sent after a close");
        return;
    }
    weir_ws_send_text(ws, data, len);
    if (cfg & 128) weir_ws_send_frame(ws, shared);
    (void)weir_ws_backlog(ws);
}

static void on_close(void *ud, weir_ws *ws, uint16_t code, const char *reason) {
    (void)ud;
    check(ws == the_ws, "on_close for another ws");
    check(code >= 1000 && code <= 4999, "a close code out of range");
    check(strlen(reason) <= 123, "a reason over 123 bytes");
    closes++;
    the_ws = NULL;
}

static void handler(void *ud, weir_http_req *r) {
    (void)ud;
    if (!weir_ws_is_upgrade(r) && strncmp(r->path, "/w", 2) != 0) {
        weir_http_respond(r, 404, "text/plain", "no", 2, NULL);
        return;
    }
    static const weir_ws_callbacks cb = {on_text, on_close};
    char value[WEIR__WS_ACCEPT_LEN + 1];
    accept_line[0] = '\0';
    if (weir__ws_accept_key(weir_http_header(r, "sec-websocket-key"), value) == 0)
        snprintf(accept_line, sizeof accept_line, "\r\nSec-WebSocket-Accept: %s\r\n", value);
    weir_ws_options o = {.max_message = max_message, .protocol = "p"};
    weir_ws *ws = NULL;
    int rc = weir_ws_accept(r, &o, &cb, NULL, &ws);
    check((rc == 0) == (ws != NULL), "accept: a ws without success or success without one");
    if (rc == 0) {
        check(!the_ws, "two upgrades on one connection");
        the_ws = ws;
        accepted++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static const size_t maxes[4] = {0, 16, 1000, 70000};
    cfg = data[0];
    data++;
    size--;
    max_message = maxes[cfg & 3] ? maxes[cfg & 3] : WEIR__WS_MAX_MESSAGE;
    size_t piece = (cfg >> 2) & 15;
    phase = HTTP;
    out_len = 0;
    accept_line[0] = '\0';
    accepted = closes = 0;
    the_ws = NULL;
    shared = weir_ws_frame_text("shared", 6);
    /* any Host: the corpus's raw requests name "t"; http_guard is fuzz_http's */
    weir_http_options o = {.allowed_hosts = "*"};
    weir_http_server *s = weir__http_server_new(&o, handler, NULL);
    weir__http_conn *c = s ? weir__http_conn_new_detached(s, sink, NULL) : NULL;
    if (!shared || !c) {
        weir_sbuf_unref(shared);
        weir_http_server_destroy(s);
        return 0;
    }
    if (!(cfg & 64)) weir__http_conn_feed(c, HANDSHAKE, sizeof HANDSHAKE - 1);
    const char *p = (const char *)data;
    size_t left = size;
    while (left) {
        size_t n = piece && piece < left ? piece : left;
        size_t used = weir__http_conn_feed(c, p, n);
        if (used < n) break; /* every request is answered at once: the FIFO never fills */
        p += used;
        left -= used;
    }
    weir__http_conn_feed(c, NULL, 0); /* a take-over or flush still due */
    weir__http_conn_free(c);
    check(closes == accepted, "on_close not called once per accepted ws");
    check(weir_http_server_in_flight(s) == 0, "a request left unanswered");
    weir_http_server_destroy(s);
    check(shared->refs == 1, "a shared frame still referenced");
    weir_sbuf_unref(shared);
    return 0;
}
