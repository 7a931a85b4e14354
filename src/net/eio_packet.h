/*
 * The Engine.IO 4 and Socket.IO 5 packet codec: pure (no I/O, no clock, no
 * globals), fuzzed by tests/fuzz/fuzz_eio.c.
 *
 * Engine.IO packets are text only: one type digit, then the data
 * ("4hello", "2", "2probe").  A polling payload joins packets with the
 * record separator 0x1e.  A packet starting with 'b' is a base64 binary
 * packet: recognised and refused.
 *
 * A Socket.IO packet is the data of an Engine.IO MESSAGE:
 *   <type>[<attachments>-][<nsp>,][<ack id>][<json>]
 * e.g. "0", "0{\"token\":\"t\"}", "2[\"ev\",1]", "213[\"ev\"]", "3/admin,7[]".
 *
 * Decoding borrows from the input (no copy) except the JSON payload, which
 * jansson parses into a new value.  Errors return a negative WEIR_E code and
 * set *why (when why is not NULL) to a static sentence saying what was wrong.
 */
#ifndef WEIR_NET_EIO_PACKET_H
#define WEIR_NET_EIO_PACKET_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/sbuf.h"

/* ------------------------------------------------------------- Engine.IO */

typedef enum weir_eio_type {
    WEIR_EIO_OPEN = 0,
    WEIR_EIO_CLOSE = 1,
    WEIR_EIO_PING = 2,
    WEIR_EIO_PONG = 3,
    WEIR_EIO_MESSAGE = 4,
    WEIR_EIO_UPGRADE = 5,
    WEIR_EIO_NOOP = 6,
} weir_eio_type;

/* Separates the packets of a polling payload. */
#define WEIR_EIO_SEPARATOR '\x1e'

typedef struct weir_eio_packet {
    weir_eio_type type;
    const char *data; /* BORROWED from the decoded text: the bytes after the type digit */
    size_t len;
} weir_eio_packet;

/* One packet s[0..len).  WEIR_EINVAL: empty, a binary ('b') packet, or an
 * unknown type. */
int weir_eio_packet_decode(const char *s, size_t len, weir_eio_packet *out, const char **why);

/* The next packet of a polling payload s[0..len), starting at *pos (0 for the
 * first).  0: *out is the packet and *pos has moved past it and its
 * separator.  WEIR_ENOTFOUND: no packet left (*pos == len).  WEIR_EINVAL: a
 * bad packet, or an empty one (an empty payload, two separators in a row, a
 * separator at either end). */
int weir_eio_payload_next(const char *s, size_t len, size_t *pos, weir_eio_packet *out, const char **why);

/* "<type digit><data>": a new buffer (one reference), NULL on allocation
 * failure.  data may be NULL when len is 0. */
weir_sbuf *weir_eio_encode(weir_eio_type type, const char *data, size_t len);

/* The open packet: 0{"sid":…,"upgrades":["websocket"] or [],"pingInterval":…,
 * "pingTimeout":…,"maxPayload":…}.  sid: BORROWED, URL-safe characters.
 * NULL on allocation failure. */
weir_sbuf *weir_eio_encode_open(const char *sid, bool upgrade_websocket, uint64_t ping_interval_ms,
                                uint64_t ping_timeout_ms, size_t max_payload);

/* ------------------------------------------------------------- Socket.IO */

typedef enum weir_sio_type {
    WEIR_SIO_CONNECT = 0,
    WEIR_SIO_DISCONNECT = 1,
    WEIR_SIO_EVENT = 2,
    WEIR_SIO_ACK = 3,
    WEIR_SIO_CONNECT_ERROR = 4,
    WEIR_SIO_BINARY_EVENT = 5,
    WEIR_SIO_BINARY_ACK = 6,
} weir_sio_type;

/* The largest ack id accepted (2^53 - 1: the client counts in JavaScript numbers). */
#define WEIR_SIO_MAX_ACK_ID INT64_C(9007199254740991)
/* Attachments a binary packet may announce (socket.io-parser's default). */
#define WEIR_SIO_MAX_ATTACHMENTS 10
/* Longest namespace name, in bytes, with its leading '/'. */
#define WEIR_SIO_MAX_NSP 256

typedef struct weir_sio_packet {
    weir_sio_type type;
    unsigned attachments; /* binary types only, 1..WEIR_SIO_MAX_ATTACHMENTS */
    const char *nsp;      /* BORROWED from the decoded text, or the static "/" when absent */
    size_t nsp_len;
    int64_t ack_id;       /* -1 when absent */
    json_t *data;         /* NEW (freed by weir_sio_packet_clear), NULL when absent */
} weir_sio_packet;

/* Decode one Socket.IO packet s[0..len) (the data of an Engine.IO MESSAGE).
 * The payload must fit its type, as socket.io-parser checks it:
 *   CONNECT        an object, or nothing
 *   DISCONNECT     nothing
 *   EVENT          an array whose first element is a string that is not a
 *                  reserved name ("connect", "disconnect", …); BINARY_EVENT too
 *   ACK            an array (BINARY_ACK too); an ack id is required
 *   CONNECT_ERROR  an object or a string
 * The namespace, when present, is valid UTF-8 without control characters.
 * max_json bounds the JSON text in bytes (0: no bound beyond len).
 * Errors: WEIR_EINVAL (malformed), WEIR_ELIMIT (JSON over max_json, ack id
 * over WEIR_SIO_MAX_ACK_ID, too many attachments, namespace too long),
 * WEIR_ENOMEM (jansson does not always tell a failed allocation from bad
 * JSON: one while parsing may come out as WEIR_EINVAL).  On error *out holds
 * nothing to free. */
int weir_sio_packet_decode(const char *s, size_t len, size_t max_json, weir_sio_packet *out, const char **why);
/* Drop the payload; safe to call twice. */
void weir_sio_packet_clear(weir_sio_packet *p);

/* Encoders: the whole Engine.IO MESSAGE ("4" then the Socket.IO packet), a
 * new buffer with one reference in *out.  JSON texts given as arguments are
 * copied as they are (the caller guarantees one valid JSON value each);
 * names and messages are escaped.  WEIR_EINVAL: a name, sid or message that
 * is NULL or not valid UTF-8; WEIR_ENOMEM. */
/* 40{"sid":"<sid>"} */
int weir_sio_encode_connect(const char *sid, weir_sbuf **out);
/* 44[<nsp>,]{"message":"<message>"}; nsp NULL or "/" for the main namespace. */
int weir_sio_encode_connect_error(const char *nsp, size_t nsp_len, const char *message, weir_sbuf **out);
/* 42["<name>"], or 42["<name>",<data_json>] when data_json is not NULL and
 * len > 0. */
int weir_sio_encode_event(const char *name, const char *data_json, size_t len, weir_sbuf **out);
/* 43<ack_id>[], or 43<ack_id>[<data_json>] when data_json is not NULL and
 * len > 0; ack_id in 0..WEIR_SIO_MAX_ACK_ID (else WEIR_EINVAL). */
int weir_sio_encode_ack(int64_t ack_id, const char *data_json, size_t len, weir_sbuf **out);
/* 41 */
int weir_sio_encode_disconnect(weir_sbuf **out);

#endif
