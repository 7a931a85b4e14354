/*
 * Inside the WebSocket module: the pure pieces of the handshake and of
 * message checking, exposed for the unit tests and the fuzz target.
 */
#ifndef WEIR_NET_WS_INTERNAL_H
#define WEIR_NET_WS_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>

#include "net/ws.h"

/* A close handshake the peer does not finish is cut off after this. */
#define WEIR__WS_CLOSE_MS 2000
/* Default weir_ws_options.max_message. */
#define WEIR__WS_MAX_MESSAGE ((size_t)1 << 20)
/* Length of a Sec-WebSocket-Accept value. */
#define WEIR__WS_ACCEPT_LEN 28

/* Is key a valid Sec-WebSocket-Key: base64 ("=="-padded) of 16 bytes? */
bool weir__ws_key_valid(const char *key);
/* Sec-WebSocket-Accept for a valid key: base64(SHA-1(key + GUID)) into
 * out (WEIR__WS_ACCEPT_LEN chars and a NUL).  0, or WEIR_EINVAL for an
 * invalid key. */
int weir__ws_accept_key(const char *key, char out[WEIR__WS_ACCEPT_LEN + 1]);
/* Does the comma-separated header value list hold token (case-insensitive)? */
bool weir__ws_has_token(const char *list, const char *token);
/* Is s[0..len) well-formed UTF-8 (no overlong forms, surrogates, or code
 * points above U+10FFFF)? */
bool weir__ws_utf8_valid(const char *s, size_t len);
/* uv_writes (or, detached, sink batches) the connection has issued. */
unsigned long weir__ws_writes(const weir_ws *ws);
/* Does ws hold a wslay context now?  (None while idle between messages.) */
bool weir__ws_has_context(const weir_ws *ws);
/* Pieces (iovecs) queued for the next write: runs of contiguous slices of
 * one buffer count once. */
size_t weir__ws_queued_pieces(const weir_ws *ws);

#endif
