/* The Engine.IO / Socket.IO packet codec (see eio_packet.h). */
#include "net/eio_packet.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "weir/weir.h"

static int fail(const char **why, int code, const char *msg) {
    if (why) *why = msg;
    return code;
}

/* ------------------------------------------------------------- Engine.IO */

int weir_eio_packet_decode(const char *s, size_t len, weir_eio_packet *out, const char **why) {
    if (len == 0) return fail(why, WEIR_EINVAL, "empty Engine.IO packet");
    if (s[0] == 'b') return fail(why, WEIR_EINVAL, "binary Engine.IO packets are not supported");
    if (s[0] < '0' || s[0] > '6') return fail(why, WEIR_EINVAL, "unknown Engine.IO packet type");
    out->type = (weir_eio_type)(s[0] - '0');
    out->data = s + 1;
    out->len = len - 1;
    return 0;
}

int weir_eio_payload_next(const char *s, size_t len, size_t *pos, weir_eio_packet *out, const char **why) {
    size_t at = *pos;
    if (len == 0) return fail(why, WEIR_EINVAL, "empty polling payload");
    if (at >= len) return WEIR_ENOTFOUND;
    const char *sep = memchr(s + at, WEIR_EIO_SEPARATOR, len - at);
    size_t end = sep ? (size_t)(sep - s) : len;
    if (sep && end + 1 == len) return fail(why, WEIR_EINVAL, "polling payload ends with a separator");
    int rc = weir_eio_packet_decode(s + at, end - at, out, why);
    if (rc) return rc;
    *pos = sep ? end + 1 : len;
    return 0;
}

weir_sbuf *weir_eio_encode(weir_eio_type type, const char *data, size_t len) {
    weir_sbuf *b = weir_sbuf_new(len + 1);
    if (!b) return NULL;
    b->data[0] = (char)('0' + (int)type);
    if (len) memcpy(b->data + 1, data, len);
    return b;
}

weir_sbuf *weir_eio_encode_open(const char *sid, bool upgrade_websocket, uint64_t ping_interval_ms,
                                uint64_t ping_timeout_ms, size_t max_payload) {
    char buf[256];
    int n = snprintf(buf, sizeof buf,
                     "0{\"sid\":\"%s\",\"upgrades\":[%s],\"pingInterval\":%" PRIu64 ",\"pingTimeout\":%" PRIu64
                     ",\"maxPayload\":%zu}",
                     sid, upgrade_websocket ? "\"websocket\"" : "", ping_interval_ms, ping_timeout_ms, max_payload);
    if (n < 0 || (size_t)n >= sizeof buf) return NULL;
    return weir_sbuf_copy(buf, (size_t)n);
}

/* ------------------------------------------------------------- Socket.IO */

static const char *const reserved_events[] = {"connect",       "connect_error", "disconnect",
                                              "disconnecting", "newListener",   "removeListener"};

/* Valid UTF-8 (no overlongs, no surrogates, at most U+10FFFF); with
 * no_controls, no C0/C1 control characters or DEL either. */
static bool utf8_ok(const unsigned char *s, size_t n, bool no_controls) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (no_controls && (c < 0x20 || c == 0x7f)) return false;
            i++;
            continue;
        }
        size_t k;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= k) return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        if (no_controls && cp >= 0x80 && cp < 0xa0) return false;
        i += k + 1;
    }
    return true;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Does the decoded payload fit the packet type? */
static int check_payload(const weir_sio_packet *p, const char **why) {
    json_t *d = p->data;
    switch (p->type) {
    case WEIR_SIO_CONNECT:
        if (d && !json_is_object(d)) return fail(why, WEIR_EINVAL, "CONNECT payload must be an object");
        return 0;
    case WEIR_SIO_DISCONNECT:
        if (d) return fail(why, WEIR_EINVAL, "DISCONNECT carries no payload");
        return 0;
    case WEIR_SIO_EVENT:
    case WEIR_SIO_BINARY_EVENT: {
        json_t *name = json_array_get(d, 0);
        if (!json_is_string(name))
            return fail(why, WEIR_EINVAL, "EVENT payload must be an array starting with the event name");
        for (size_t i = 0; i < sizeof reserved_events / sizeof *reserved_events; i++)
            if (strcmp(json_string_value(name), reserved_events[i]) == 0)
                return fail(why, WEIR_EINVAL, "EVENT uses a reserved event name");
        return 0;
    }
    case WEIR_SIO_ACK:
    case WEIR_SIO_BINARY_ACK:
        if (!json_is_array(d)) return fail(why, WEIR_EINVAL, "ACK payload must be an array");
        if (p->ack_id < 0) return fail(why, WEIR_EINVAL, "ACK without an ack id");
        return 0;
    case WEIR_SIO_CONNECT_ERROR:
        if (!json_is_object(d) && !json_is_string(d))
            return fail(why, WEIR_EINVAL, "CONNECT_ERROR payload must be an object or a string");
        return 0;
    }
    return fail(why, WEIR_EINVAL, "unknown Socket.IO packet type");
}

int weir_sio_packet_decode(const char *s, size_t len, size_t max_json, weir_sio_packet *out, const char **why) {
    memset(out, 0, sizeof *out);
    out->nsp = "/";
    out->nsp_len = 1;
    out->ack_id = -1;
    if (len == 0) return fail(why, WEIR_EINVAL, "empty Socket.IO packet");
    if (s[0] < '0' || s[0] > '6') return fail(why, WEIR_EINVAL, "unknown Socket.IO packet type");
    out->type = (weir_sio_type)(s[0] - '0');
    size_t i = 1;
    if (out->type == WEIR_SIO_BINARY_EVENT || out->type == WEIR_SIO_BINARY_ACK) {
        unsigned n = 0;
        size_t start = i;
        while (i < len && is_digit(s[i])) {
            if (n > WEIR_SIO_MAX_ATTACHMENTS) return fail(why, WEIR_ELIMIT, "too many attachments");
            n = n * 10 + (unsigned)(s[i] - '0');
            i++;
        }
        if (i == start || i == len || s[i] != '-')
            return fail(why, WEIR_EINVAL, "binary packet without an attachment count");
        if (n < 1) return fail(why, WEIR_EINVAL, "binary packet with no attachment");
        if (n > WEIR_SIO_MAX_ATTACHMENTS) return fail(why, WEIR_ELIMIT, "too many attachments");
        out->attachments = n;
        i++;
    }
    if (i < len && s[i] == '/') {
        const char *comma = memchr(s + i, ',', len - i);
        size_t end = comma ? (size_t)(comma - s) : len;
        if (end - i > WEIR_SIO_MAX_NSP) return fail(why, WEIR_ELIMIT, "namespace name too long");
        if (!utf8_ok((const unsigned char *)s + i, end - i, true))
            return fail(why, WEIR_EINVAL, "namespace name is not valid UTF-8 text");
        out->nsp = s + i;
        out->nsp_len = end - i;
        i = comma ? end + 1 : len;
    }
    if (i < len && is_digit(s[i])) {
        int64_t id = 0;
        while (i < len && is_digit(s[i])) {
            id = id * 10 + (s[i] - '0');
            if (id > WEIR_SIO_MAX_ACK_ID) return fail(why, WEIR_ELIMIT, "ack id too large");
            i++;
        }
        out->ack_id = id;
    }
    if (i < len) {
        if (max_json && len - i > max_json) return fail(why, WEIR_ELIMIT, "JSON payload too large");
        json_error_t jerr;
        out->data = json_loadb(s + i, len - i, JSON_DECODE_ANY, &jerr);
        if (!out->data) {
            if (json_error_code(&jerr) == json_error_out_of_memory) return fail(why, WEIR_ENOMEM, "out of memory");
            return fail(why, WEIR_EINVAL, "payload is not valid JSON");
        }
    }
    int rc = check_payload(out, why);
    if (rc) weir_sio_packet_clear(out);
    return rc;
}

void weir_sio_packet_clear(weir_sio_packet *p) {
    json_decref(p->data);
    p->data = NULL;
}

/* ---------------------------------------------------------------- encode */

/* The pieces of an encoded packet, concatenated into a new buffer. */
typedef struct piece {
    const char *text; /* NULL: skipped */
    size_t len;
    bool quote; /* encode text as a JSON string */
} piece;

/* Length of text as a JSON string (*tmp: the jansson string to dump). */
static int quoted_len(const char *text, json_t **tmp, size_t *len) {
    size_t n = strlen(text);
    if (!utf8_ok((const unsigned char *)text, n, false)) return WEIR_EINVAL;
    *tmp = json_stringn_nocheck(text, n);
    if (!*tmp) return WEIR_ENOMEM;
    *len = json_dumpb(*tmp, NULL, 0, JSON_ENCODE_ANY);
    return *len ? 0 : WEIR_ENOMEM;
}

static int build(const piece *pieces, size_t n, weir_sbuf **out) {
    *out = NULL;
    json_t *tmp[8] = {0};
    size_t lens[8];
    size_t total = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (!pieces[i].text) {
            if (pieces[i].quote) {
                rc = WEIR_EINVAL;
                goto done;
            }
            lens[i] = 0;
        } else if (pieces[i].quote) {
            rc = quoted_len(pieces[i].text, &tmp[i], &lens[i]);
            if (rc) goto done;
        } else {
            lens[i] = pieces[i].len;
        }
        total += lens[i];
    }
    weir_sbuf *b = weir_sbuf_new(total);
    if (!b) {
        rc = WEIR_ENOMEM;
        goto done;
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (!lens[i]) continue;
        if (pieces[i].quote)
            json_dumpb(tmp[i], b->data + at, lens[i], JSON_ENCODE_ANY);
        else
            memcpy(b->data + at, pieces[i].text, lens[i]);
        at += lens[i];
    }
    *out = b;
done:
    for (size_t i = 0; i < n; i++) json_decref(tmp[i]);
    return rc;
}

int weir_sio_encode_connect(const char *sid, weir_sbuf **out) {
    piece p[] = {{"40{\"sid\":", 9, false}, {sid, 0, true}, {"}", 1, false}};
    return build(p, 3, out);
}

int weir_sio_encode_connect_error(const char *nsp, size_t nsp_len, const char *message, weir_sbuf **out) {
    bool main_nsp = !nsp || (nsp_len == 1 && nsp[0] == '/');
    piece p[] = {{"44", 2, false},
                 {main_nsp ? NULL : nsp, nsp_len, false},
                 {main_nsp ? NULL : ",", 1, false},
                 {"{\"message\":", 11, false},
                 {message, 0, true},
                 {"}", 1, false}};
    return build(p, 6, out);
}

int weir_sio_encode_event(const char *name, const char *data_json, size_t len, weir_sbuf **out) {
    bool data = data_json && len;
    piece p[] = {{"42[", 3, false}, {name, 0, true}, {data ? "," : NULL, 1, false},
                 {data ? data_json : NULL, len, false}, {"]", 1, false}};
    return build(p, 5, out);
}

int weir_sio_encode_ack(int64_t ack_id, const char *data_json, size_t len, weir_sbuf **out) {
    if (ack_id < 0 || ack_id > WEIR_SIO_MAX_ACK_ID) {
        *out = NULL;
        return WEIR_EINVAL;
    }
    char head[32];
    int n = snprintf(head, sizeof head, "43%" PRId64 "[", ack_id);
    piece p[] = {{head, (size_t)n, false}, {data_json && len ? data_json : NULL, len, false}, {"]", 1, false}};
    return build(p, 3, out);
}

int weir_sio_encode_disconnect(weir_sbuf **out) {
    *out = weir_sbuf_copy("41", 2);
    return *out ? 0 : WEIR_ENOMEM;
}
