/*
 * libFuzzer target for the Engine.IO / Socket.IO packet codec
 * (src/server/eio_packet.c).  The input is a polling payload: it is split
 * into Engine.IO packets, and every MESSAGE is decoded as a Socket.IO packet
 * (with a JSON bound taken from the first input byte).  Checked:
 *  - packets lie inside the input and are never empty or separators;
 *  - a decoded namespace lies inside the packet, or is the static "/";
 *  - a decoded packet fits its type (EVENT: an array starting with a
 *    string; ACK: an array and an ack id; ...) and its ack id is in bounds;
 *  - an EVENT re-encoded with weir_sio_encode_event and an ACK with
 *    weir_sio_encode_ack decode back to an equal packet;
 *  - the refusal of a connection (CONNECT_ERROR echoing the namespace)
 *    encodes to one packet the client can split off again.
 * Everything is freed; the sanitizers catch the rest.  The committed corpus
 * (tests/fuzz/corpus/eio) replays as a normal test through replay_main.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/eio_packet.h"
#include "weir/weir.h"

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "fuzz_eio: %s\n", what);
        abort();
    }
}

/* A JSON value as text (malloc'd), or NULL. */
static char *dump(const json_t *v, size_t *len) {
    size_t n = json_dumpb(v, NULL, 0, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!n) return NULL;
    char *s = malloc(n);
    if (!s) return NULL;
    *len = json_dumpb(v, s, n, JSON_ENCODE_ANY | JSON_COMPACT);
    return s;
}

/* The packet an encoder produced, decoded again (the "4" stripped). */
static int redecode(const weir_sbuf *b, weir_sio_packet *out) {
    weir_eio_packet e;
    check(weir_eio_packet_decode(b->data, b->len, &e, NULL) == 0, "an encoded packet does not decode");
    check(e.type == WEIR_EIO_MESSAGE, "an encoded Socket.IO packet is not a MESSAGE");
    check(memchr(b->data, WEIR_EIO_SEPARATOR, b->len) == NULL, "an encoded packet contains the separator");
    return weir_sio_packet_decode(e.data, e.len, 0, out, NULL);
}

static void round_trip_event(const weir_sio_packet *p) {
    json_t *args = json_deep_copy(p->data);
    if (!args) return;
    const char *name = json_string_value(json_array_get(args, 0));
    char *name_copy = strdup(name);
    json_array_remove(args, 0);
    /* one value after the name encodes as that value; several as an array
     * (which decodes back as one array argument) */
    json_t *value = json_array_size(args) == 1 ? json_incref(json_array_get(args, 0)) : json_incref(args);
    size_t len = 0;
    char *text = json_array_size(args) ? dump(value, &len) : NULL;
    weir_sbuf *b = NULL;
    if (name_copy && (text || !json_array_size(args)) && weir_sio_encode_event(name_copy, text, len, &b) == 0) {
        weir_sio_packet q;
        check(redecode(b, &q) == 0, "an encoded EVENT does not decode");
        check(q.type == WEIR_SIO_EVENT && q.ack_id == -1, "an encoded EVENT decodes as something else");
        check(strcmp(json_string_value(json_array_get(q.data, 0)), name_copy) == 0, "the event name changed");
        if (json_array_size(args)) check(json_equal(json_array_get(q.data, 1), value), "the event data changed");
        else check(json_array_size(q.data) == 1, "an event without data grew some");
        weir_sio_packet_clear(&q);
        weir_sbuf_unref(b);
    }
    free(text);
    free(name_copy);
    json_decref(value);
    json_decref(args);
}

static void round_trip_ack(const weir_sio_packet *p) {
    json_t *first = json_array_get(p->data, 0);
    size_t len = 0;
    char *text = first ? dump(first, &len) : NULL;
    weir_sbuf *b = NULL;
    if ((text || !first) && weir_sio_encode_ack(p->ack_id, text, len, &b) == 0) {
        weir_sio_packet q;
        check(redecode(b, &q) == 0, "an encoded ACK does not decode");
        check(q.type == WEIR_SIO_ACK && q.ack_id == p->ack_id, "an encoded ACK changed");
        check(json_array_size(q.data) == (first ? 1u : 0u), "an encoded ACK has the wrong arity");
        if (first) check(json_equal(json_array_get(q.data, 0), first), "the ack data changed");
        weir_sio_packet_clear(&q);
        weir_sbuf_unref(b);
    }
    free(text);
}

static void refuse_namespace(const weir_sio_packet *p) {
    weir_sbuf *b = NULL;
    if (weir_sio_encode_connect_error(p->nsp, p->nsp_len, "Invalid namespace", &b) != 0) return;
    weir_sio_packet q;
    check(redecode(b, &q) == 0, "an encoded CONNECT_ERROR does not decode");
    check(q.type == WEIR_SIO_CONNECT_ERROR, "an encoded CONNECT_ERROR decodes as something else");
    check(q.nsp_len == p->nsp_len && memcmp(q.nsp, p->nsp, p->nsp_len) == 0, "the namespace changed");
    weir_sio_packet_clear(&q);
    weir_sbuf_unref(b);
}

static void socket_io(const char *s, size_t len, size_t max_json) {
    weir_sio_packet p;
    const char *why = NULL;
    int rc = weir_sio_packet_decode(s, len, max_json, &p, &why);
    if (rc) {
        check(why != NULL && p.data == NULL, "an error without a reason, or with a payload left");
        check(rc == WEIR_EINVAL || rc == WEIR_ELIMIT || rc == WEIR_ENOMEM, "an unexpected error code");
        return;
    }
    check((p.nsp_len == 1 && p.nsp[0] == '/') || (p.nsp >= s && p.nsp + p.nsp_len <= s + len),
          "the namespace is outside the packet");
    check(p.nsp_len >= 1 && p.nsp[0] == '/' && p.nsp_len <= WEIR_SIO_MAX_NSP, "a bad namespace");
    check(p.ack_id >= -1 && p.ack_id <= WEIR_SIO_MAX_ACK_ID, "an ack id out of bounds");
    switch (p.type) {
    case WEIR_SIO_CONNECT:
        check(!p.data || json_is_object(p.data), "CONNECT with a payload that is not an object");
        refuse_namespace(&p);
        break;
    case WEIR_SIO_DISCONNECT: check(!p.data, "DISCONNECT with a payload"); break;
    case WEIR_SIO_EVENT:
    case WEIR_SIO_BINARY_EVENT:
        check(json_is_string(json_array_get(p.data, 0)), "EVENT without a name");
        if (p.type == WEIR_SIO_EVENT) round_trip_event(&p);
        break;
    case WEIR_SIO_ACK:
    case WEIR_SIO_BINARY_ACK:
        check(json_is_array(p.data) && p.ack_id >= 0, "ACK without an array or an id");
        if (p.type == WEIR_SIO_ACK) round_trip_ack(&p);
        break;
    case WEIR_SIO_CONNECT_ERROR:
        check(json_is_object(p.data) || json_is_string(p.data), "a bad CONNECT_ERROR payload");
        break;
    default: check(0, "an unknown type decoded");
    }
    if (p.type == WEIR_SIO_BINARY_EVENT || p.type == WEIR_SIO_BINARY_ACK)
        check(p.attachments >= 1 && p.attachments <= WEIR_SIO_MAX_ATTACHMENTS, "attachments out of bounds");
    weir_sio_packet_clear(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t max_json = data[0] < 128 ? 0 : (size_t)(data[0] - 127) * 4;
    const char *s = (const char *)data + 1;
    size_t len = size - 1;
    size_t pos = 0;
    weir_eio_packet e;
    int rc;
    while ((rc = weir_eio_payload_next(s, len, &pos, &e, NULL)) == 0) {
        check(e.data > s && e.data + e.len <= s + len, "a packet outside the payload");
        check(memchr(e.data, WEIR_EIO_SEPARATOR, e.len) == NULL, "a packet holds a separator");
        check(e.type >= WEIR_EIO_OPEN && e.type <= WEIR_EIO_NOOP, "an unknown type decoded");
        if (e.type == WEIR_EIO_MESSAGE) socket_io(e.data, e.len, max_json);
    }
    check(rc == WEIR_ENOTFOUND || rc == WEIR_EINVAL, "an unexpected error code");
    check(pos <= len, "the payload position ran past the end");
    /* the whole input as one packet, as a websocket message carries it */
    if (weir_eio_packet_decode(s, len, &e, NULL) == 0 && e.type == WEIR_EIO_MESSAGE) socket_io(e.data, e.len, 0);
    return 0;
}
