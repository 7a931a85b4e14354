/*
 * WebSocket connections (RFC 6455) on top of the HTTP server: the upgrade
 * handshake, then frames through wslay on a socket the HTTP server hands
 * over.  Used by the plain event socket at /ws and by the Engine.IO
 * websocket transport.
 *
 * Sending: a text message is framed once into a weir_sbuf (server frames are
 * unmasked, so the bytes are the same for every peer) and the same buffer is
 * queued on as many connections as need it.  Frames queued during one turn
 * of the loop go out in one write.  A connection's backlog (bytes queued and
 * not yet taken by the kernel) is visible, so a caller can cut off a peer
 * that does not read instead of buffering without bound.
 *
 * Receiving: fragmented messages are reassembled, pings answered, the close
 * handshake done; text messages that are not UTF-8, binary messages, frames
 * from the client that are not masked, and messages over max_message are
 * protocol errors that close the connection (1007, 1003, 1002, 1009).
 *
 * Closing: whoever closes, a close handshake the peer does not finish is
 * cut off after WEIR__WS_CLOSE_MS (2 s).  Once it is done, the socket
 * lingers in the HTTP server (write side shut down) until the peer closes
 * it.  The HTTP idle timeout does not apply to a WebSocket: whoever wants
 * liveness pings at its own level.  weir_http_server_stop_accepting closes
 * every WebSocket with 1001; weir_http_server_destroy drops them (on_close
 * with 1001 "server shutting down").
 *
 * One loop thread: no call is thread-safe.
 */
#ifndef WEIR_NET_WS_H
#define WEIR_NET_WS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/http.h"
#include "net/sbuf.h"

typedef struct weir_ws weir_ws;

typedef struct weir_ws_callbacks {
    /* A complete text message (valid UTF-8, NUL-terminated at data[len]).
     * data is valid during the call.  The callee may send, or close ws. */
    void (*on_text)(void *ud, weir_ws *ws, const char *data, size_t len);
    /* The connection is done: the close handshake finished (or was cut off
     * by its timer), the connection failed or dropped, the server was
     * destroyed.  code and reason: the peer's close frame if one came (1005
     * if it had no code), else the close frame sent (ours, or a protocol
     * error's: 1002, 1003, 1007, 1009, 1011), else 1006 (dropped) or 1001
     * (server destroyed).  Called exactly once, never from inside a
     * weir_ws_* call (except through weir_http_server_destroy); ws is freed
     * after it returns and must not be used again. */
    void (*on_close)(void *ud, weir_ws *ws, uint16_t code, const char *reason);
} weir_ws_callbacks;

typedef struct weir_ws_options {
    size_t max_message;     /* larger messages close with 1009; 0: 1 MiB */
    const char *protocol;   /* Sec-WebSocket-Protocol to agree to if offered; NULL: none */
} weir_ws_options;

/* Is req an upgrade to WebSocket (GET, Connection: upgrade, Upgrade:
 * websocket)?  Says nothing about whether it is a valid one. */
bool weir_ws_is_upgrade(const weir_http_req *req);

/* Validate the handshake (version 13, a 16-byte base64 key), answer
 * 101 Switching Protocols and take the connection over from the HTTP server.
 * On success *out is the connection, and req has been answered (do not
 * answer it again).  The 101 is written after the answers to requests
 * pipelined before req; frames sent until then wait, and bytes the client
 * sent after its request are the first input.  On failure req is answered
 * and a negative code returned: WEIR_EINVAL for a bad handshake (400, or
 * 426 with Sec-WebSocket-Version: 13 for a missing or wrong version),
 * WEIR_ESTATE when the request cannot be taken over (its connection is gone,
 * the server is stopping: 503), WEIR_ENOMEM (503), WEIR_EIO (the connection
 * failed as the 101 was queued).  opts may be NULL; cb is copied; ud is
 * given to every callback. */
int weir_ws_accept(weir_http_req *req, const weir_ws_options *opts, const weir_ws_callbacks *cb, void *ud,
                   weir_ws **out);

/* A complete, unmasked text frame carrying data[0..len): one reference.
 * NULL on allocation failure. */
weir_sbuf *weir_ws_frame_text(const char *data, size_t len);
/* The header of a complete, unmasked text frame of a len-byte payload,
 * written to out; returns its length (2, 4 or 10). */
#define WEIR_WS_FRAME_HEAD_MAX 10
size_t weir_ws_frame_head(size_t len, char out[WEIR_WS_FRAME_HEAD_MAX]);
/* The payload of a frame built by weir_ws_frame_text. */
const char *weir_ws_frame_payload(const weir_sbuf *frame, size_t *len);

/* Queue a frame built by weir_ws_frame_text (a reference is taken; the caller
 * keeps its own).  WEIR_ESTATE once the connection is closing, WEIR_ENOMEM
 * (nothing queued; the connection goes on). */
int weir_ws_send_frame(weir_ws *ws, weir_sbuf *frame);
/* Queue the whole frames at buf->data[off .. off + len) (a reference to buf
 * is taken): frames written one after another into one shared batch buffer
 * and queued in that order go out as one contiguous piece of a write.
 * WEIR_EINVAL (not within buf), WEIR_ESTATE, WEIR_ENOMEM. */
int weir_ws_send_slice(weir_ws *ws, weir_sbuf *buf, size_t off, size_t len);
/* The same, without asking for a write yet (unless WEIR_WS_QUEUE_FLUSH_BYTES
 * are waiting): a stream of events queued over several turns of the loop
 * goes out in one write at weir_ws_flush, or with the next message sent,
 * which keeps its place after them. */
#define WEIR_WS_QUEUE_FLUSH_BYTES ((size_t)64 * 1024)
int weir_ws_queue_slice(weir_ws *ws, weir_sbuf *buf, size_t off, size_t len);
/* Write what is queued, before the loop next waits. */
void weir_ws_flush(weir_ws *ws);
/* Frame and queue a text message (copied). */
int weir_ws_send_text(weir_ws *ws, const char *data, size_t len);
/* Bytes queued toward the peer and not yet written to the socket: frames
 * waiting for the next write, and what the kernel has not yet taken of the
 * write in flight. */
size_t weir_ws_backlog(const weir_ws *ws);
/* Start the close handshake (queued frames are written first); on_close
 * follows once the peer answers or after a short timeout.  A code an
 * endpoint may not send (1005, 1006, 1015, < 1000, ...) becomes 1000; the
 * reason is cut to 123 bytes (at a character boundary; dropped if not
 * UTF-8).  No-op once closing. */
void weir_ws_close(weir_ws *ws, uint16_t code, const char *reason);

void weir_ws_set_user(weir_ws *ws, void *user);
void *weir_ws_user(const weir_ws *ws);

#endif
