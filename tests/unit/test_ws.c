/*
 * The WebSocket module's pure pieces (accept value, key and token checks,
 * UTF-8 validation, frame building) and a whole connection through a
 * detached HTTP connection (no socket: bytes in by weir__http_conn_feed,
 * bytes out through a sink), the way the fuzz target drives it.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"
#include "net/http_internal.h"
#include "net/ws.h"
#include "net/ws_internal.h"

/* ----------------------------------------------------------- accept value */

Test(ws_unit, accept_value_of_the_rfc_example) {
    char out[WEIR__WS_ACCEPT_LEN + 1];
    cr_assert_eq(weir__ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    cr_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="); /* RFC 6455 §1.3 */
    /* another, computed independently (Python hashlib + base64) */
    cr_assert_eq(weir__ws_accept_key("AAAAAAAAAAAAAAAAAAAAAA==", out), 0);
    cr_assert_str_eq(out, "ICX+Yqv66kxgM0FcWaLWlFLwTAI=");
    cr_assert_eq(weir__ws_accept_key("short", out), WEIR_EINVAL);
}

Test(ws_unit, key_must_be_base64_of_16_bytes) {
    cr_assert(weir__ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=="));
    cr_assert(weir__ws_key_valid("++++////0000zzzzZZZZaa=="));
    const char *bad[] = {NULL,
                         "",
                         "dGhlIHNhbXBsZSBub25jZQ",
                         "dGhlIHNhbXBsZSBub25jZQ=",
                         "dGhlIHNhbXBsZSBub25jZQ===",
                         " dGhlIHNhbXBsZSBub25jZQ=",
                         "dGhlIHNhbXBsZSBub25j-Q==",
                         "dGhlIHNhbXBsZSBub25jZXh4",     /* 18 bytes, no padding */
                         "dGhlIHNhbXBsZSBub25jZQ=A",
                         "dGhlIHNhbXBsZSBub25jZ===",    /* 15 bytes */
                         "AAAAAAAAAAAAAAAAAAAAAAAAAA=="}; /* 19 bytes */
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert(!weir__ws_key_valid(bad[i]), "accepted %s", bad[i] ? bad[i] : "NULL");
}

Test(ws_unit, token_lists) {
    cr_assert(weir__ws_has_token("Upgrade", "upgrade"));
    cr_assert(weir__ws_has_token("keep-alive, Upgrade", "upgrade"));
    cr_assert(weir__ws_has_token(" keep-alive ,\tUPGRADE\t, x", "upgrade"));
    cr_assert(weir__ws_has_token(",,upgrade,,", "upgrade"));
    cr_assert(!weir__ws_has_token("upgrades", "upgrade"));
    cr_assert(!weir__ws_has_token("no-upgrade", "upgrade"));
    cr_assert(!weir__ws_has_token("up grade", "upgrade"));
    cr_assert(!weir__ws_has_token("", "upgrade"));
    cr_assert(!weir__ws_has_token(NULL, "upgrade"));
}

/* ------------------------------------------------------------------ UTF-8 */

/* The reference: decode each sequence to its code point, then check the
 * range its length allows, surrogates and the maximum. */
static bool ref_utf8(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (i + len > n) return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}

Test(ws_unit, utf8_examples) {
    const char *good[] = {"", "plain ascii text, longer than eight", "\xc3\xa9", "\xe2\x82\xac", "\xef\xbf\xbf",
                          "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf", ("12345678\xc3\xa9" "12345678")};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        cr_assert(weir__ws_utf8_valid(good[i], strlen(good[i])), "refused case %zu", i);
    const char *bad[] = {"\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf", "\xed\xa0\x80",
                         "\xed\xbf\xbf", "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
                         "\xff", "\xe2\x82", "\xe2\x28\xa1", "abcdefgh\xe2\x82", "abcdefghijklmnop\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert(!weir__ws_utf8_valid(bad[i], strlen(bad[i])), "accepted case %zu", i);
    cr_assert(weir__ws_utf8_valid("a\0b", 3), "NUL is a character");
}

Test(ws_unit, utf8_agrees_with_the_reference_on_every_short_string) {
    unsigned char s[3];
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (unsigned char)a;
        cr_assert_eq(weir__ws_utf8_valid((char *)s, 1), ref_utf8(s, 1), "%02x", a);
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (unsigned char)b;
            cr_assert_eq(weir__ws_utf8_valid((char *)s, 2), ref_utf8(s, 2), "%02x %02x", a, b);
            if (a < 0xC0) continue; /* a third byte changes nothing after an ASCII or continuation lead */
            for (unsigned c = 0; c < 256; c++) {
                s[2] = (unsigned char)c;
                if (weir__ws_utf8_valid((char *)s, 3) != ref_utf8(s, 3))
                    cr_assert_fail("%02x %02x %02x", a, b, c);
            }
        }
    }
    /* four-byte leads with random tails, inside longer strings */
    srand(7);
    unsigned char t[24];
    for (int i = 0; i < 200000; i++) {
        size_t n = 1 + (size_t)rand() % sizeof t;
        for (size_t k = 0; k < n; k++) {
            int r = rand() % 8;
            t[k] = (unsigned char)(r < 3 ? 'a' + r : r < 5 ? 0x80 | rand() % 64 : r == 5 ? 0xF0 | rand() % 8 : rand());
        }
        cr_assert_eq(weir__ws_utf8_valid((char *)t, n), ref_utf8(t, n), "random case %d", i);
    }
}

/* ----------------------------------------------------------------- frames */

Test(ws_unit, text_frames_use_the_shortest_length_form) {
    const size_t lens[] = {0, 5, 125, 126, 65535, 65536, 70000};
    const size_t heads[] = {2, 2, 2, 4, 4, 10, 10};
    char *data = malloc(70000);
    for (size_t i = 0; i < 70000; i++) data[i] = (char)('0' + i % 10);
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        weir_sbuf *f = weir_ws_frame_text(data, lens[i]);
        cr_assert(f);
        cr_assert_eq(f->len, heads[i] + lens[i]);
        cr_assert_eq((unsigned char)f->data[0], 0x81);
        cr_assert_eq((unsigned char)f->data[1] & 0x80, 0, "masked");
        size_t len;
        const char *p = weir_ws_frame_payload(f, &len);
        cr_assert_eq(len, lens[i]);
        cr_assert_eq(p, f->data + heads[i]);
        cr_assert(memcmp(p, data, len) == 0);
        cr_assert_eq(p[len], '\0');
        weir_sbuf_unref(f);
    }
    weir_sbuf *f = weir_ws_frame_text(data, 65536);
    cr_assert_eq((unsigned char)f->data[1], 127);
    cr_assert(memcmp(f->data + 2, "\0\0\0\0\0\1\0\0", 8) == 0);
    weir_sbuf_unref(f);
    free(data);
}

Test(ws_unit, is_upgrade) {
    const char *names[] = {"host", "connection", "upgrade"};
    const char *values[] = {"t", "keep-alive, Upgrade", "WebSocket"};
    weir_http_req r = {.method = "GET", .path = "/ws", .n_headers = 3, .header_names = names,
                       .header_values = values};
    cr_assert(weir_ws_is_upgrade(&r));
    r.method = "POST";
    cr_assert(!weir_ws_is_upgrade(&r));
    r.method = "GET";
    values[2] = "h2c";
    cr_assert(!weir_ws_is_upgrade(&r));
    values[2] = "websocket";
    values[1] = "close";
    cr_assert(!weir_ws_is_upgrade(&r));
    cr_assert(!weir_ws_is_upgrade(NULL));
}

/* ------------------------------------------------- a detached connection */

static char out[1 << 16];
static size_t out_len;
static int closes, texts;
static uint16_t close_code;
static weir_ws *the_ws;

static void sink(void *ud, const char *data, size_t len) {
    (void)ud;
    cr_assert_leq(out_len + len, sizeof out);
    memcpy(out + out_len, data, len);
    out_len += len;
}

static void on_text(void *ud, weir_ws *ws, const char *data, size_t len) {
    (void)ud;
    texts++;
    if (strcmp(data, "bye") == 0)
        weir_ws_close(ws, 4000, "done");
    else
        cr_assert_eq(weir_ws_send_text(ws, data, len), 0);
}

static void on_close(void *ud, weir_ws *ws, uint16_t code, const char *reason) {
    (void)ud;
    (void)reason;
    cr_assert_eq(ws, the_ws);
    closes++;
    close_code = code;
}

static void handler(void *ud, weir_http_req *r) {
    (void)ud;
    static const weir_ws_callbacks cb = {on_text, on_close};
    cr_assert_eq(weir_ws_accept(r, NULL, &cb, NULL, &the_ws), 0);
}

static size_t masked(uint8_t *o, int opcode, const char *payload) {
    size_t n = strlen(payload);
    o[0] = (uint8_t)(0x80 | opcode);
    o[1] = (uint8_t)(0x80 | n);
    memcpy(o + 2, "\x01\x02\x03\x04", 4);
    for (size_t i = 0; i < n; i++) o[6 + i] = (uint8_t)(payload[i] ^ (i % 4 + 1));
    return 6 + n;
}

static const char HANDSHAKE[] = "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

Test(ws_unit, a_detached_connection_upgrades_echoes_and_closes) {
    fa_install(0, 0);
    out_len = 0;
    closes = texts = 0;
    weir_http_server *s = weir__http_server_new(NULL, handler, NULL);
    weir__http_conn *c = weir__http_conn_new_detached(s, sink, NULL);
    uint8_t in[512];
    size_t n = sizeof HANDSHAKE - 1;
    memcpy(in, HANDSHAKE, n);
    n += masked(in + n, 1, "hi");
    cr_assert_eq(weir__http_conn_feed(c, (char *)in, n), n);
    cr_assert(the_ws);
    cr_assert_eq(texts, 0, "no hook from inside the feed that took the connection over");
    cr_assert_eq(weir_http_server_upgraded(s), 1);
    const char *end = memmem(out, out_len, "\r\n\r\n", 4);
    cr_assert(end);
    cr_assert(strncmp(out, "HTTP/1.1 101 Switching Protocols\r\n", 34) == 0);
    cr_assert(memmem(out, out_len, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", 52));
    size_t head = (size_t)(end - out) + 4;
    cr_assert_eq(out_len, head);
    weir__http_conn_feed(c, NULL, 0); /* the kept frame */
    cr_assert_eq(texts, 1);
    cr_assert_eq(out_len, head + 4);
    cr_assert(memcmp(out + head, "\x81\x02hi", 4) == 0);
    n = masked(in, 9, "p");
    weir__http_conn_feed(c, (char *)in, n);
    n = masked(in, 1, "bye"); /* (a pong still queued when a close is would be dropped by wslay) */
    weir__http_conn_feed(c, (char *)in, n);
    cr_assert_eq(out_len, head + 4 + 3 + 8, "%zu", out_len - head);
    cr_assert(memcmp(out + head + 4, "\x8a\x01p\x88\x06\x0f\xa0" "done", 11) == 0);
    cr_assert_eq(closes, 0);
    n = masked(in, 8, "\x0f\xa0");
    weir__http_conn_feed(c, (char *)in, n);
    cr_assert_eq(closes, 1, "the close handshake is done");
    cr_assert_eq(close_code, 4000);
    cr_assert_eq(weir_http_server_upgraded(s), 1, "the connection lingers until its server closes it");
    weir__http_conn_free(c);
    cr_assert_eq(closes, 1);
    cr_assert_eq(weir_http_server_upgraded(s), 0);
    weir_http_server_destroy(s);
    cr_assert_eq(fa_live(), 0, "%ld weir allocations leaked", fa_live());
    fa_uninstall();
}
