/*
 * WebSocket connections (ws.h): the handshake, then frames through wslay on
 * a connection taken over from the HTTP server (weir__http_take).
 *
 * Input: bytes go to a wslay server context (it refuses unmasked client
 * frames, reserved bits and opcodes, checks UTF-8 frame by frame, buffers
 * and answers control frames: pong, the close reply).  Data frames are not
 * buffered by wslay: text is reassembled here into msg, bounded by
 * max_message across fragments, checked as UTF-8 once whole (a second
 * check: wslay's runs per frame) and given to on_text NUL-terminated.  A
 * close reason is checked here too (wslay's check misses some, see on_msg).
 *
 * Output: one ordered queue of shared buffers (acc).  weir_ws_send_frame
 * queues a frame by reference.  wslay's own frames (pong, close) come through
 * its send callback, which takes every byte at once by copying it into the
 * same queue: wslay never holds a partly sent frame, so its frames and ours
 * can never interleave mid-frame.  The queue is written by a flush the HTTP
 * server defers until before the loop next waits (weir__http_conn_defer):
 * whatever is queued during a turn, and while a write is in flight, leaves
 * in one uv_write of several buffers.
 *
 * Closing: a close frame is queued (by weir_ws_close, by wslay answering
 * the peer's or refusing a frame, or here refusing a message) and nothing
 * is queued after it; a timer of WEIR__WS_CLOSE_MS bounds the handshake.
 * Once the close frame is written and nothing more will be read (the
 * peer's close arrived, input was refused, or the peer shut down), the ws
 * is done (on_close) and lets the connection go: the HTTP server finishes
 * it as after a last response (write side shut down, input drained until
 * the peer closes or the linger timer fires), so the peer reads the close
 * frame rather than a reset.
 *
 * Lifetime: the connection's on_close hook ends the ws: the on_close
 * callback, then the free.  Hooks that may run user code or close the
 * connection hold `busy`; a close meanwhile defers the free to the
 * outermost hook's return.  The public calls never close synchronously: a
 * failure there (out of memory) marks the ws broken and the deferred flush
 * closes it.
 */
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

#include "core/alloc.h"
#include "net/http_internal.h"
#include "net/ws.h"
#include "net/ws_internal.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define KEY_LEN 24          /* base64 of 16 bytes */
#define MAX_REASON 123      /* a close frame's payload is at most 125 bytes */
#define MSG_KEEP ((size_t)64 * 1024) /* a message buffer larger than this is freed after use */

/* Bytes b->data[off .. off + len) of a shared buffer. */
typedef struct outbuf {
    weir_sbuf *b;
    size_t off, len;
} outbuf;

/* Frames in order; each entry one reference.  Consecutive slices of one
 * buffer (frames written one after another into a shared batch) share an
 * entry: one iovec for a run of frames. */
typedef struct outq {
    outbuf *v;
    size_t n, cap;
} outq;

struct weir_ws {
    weir__http_conn *conn; /* NULL once the connection is closed */
    wslay_event_context_ptr ctx; /* NULL while idle (see ctx_get, ctx_idle) */
    weir_ws_callbacks cb;
    void *ud;
    void *user;
    size_t max_message;
    /* Input wslay's recv callback reads from, during input(). */
    const char *in;
    size_t in_len;
    bool in_recv;    /* inside wslay_event_recv: wslay_event_send waits */
    bool frame_text; /* the frame being received belongs to a text message */
    /* Where the input stands in the frame stream (track()), so that the
     * wslay context can be dropped between messages: header bytes of the
     * next frame so far, payload bytes of the current frame still due, a
     * fragmented data message under way. */
    uint8_t fh[14];
    uint8_t fh_len;
    bool frag;
    uint64_t f_left;
    char *msg;       /* the text message being reassembled, NUL-terminated */
    size_t msg_len, msg_cap;
    /* Output */
    outq acc; /* queued, not yet in a write */
    outq wr;  /* in the write in flight */
    size_t acc_bytes;
    uv_buf_t *bufs;
    size_t bufs_cap;
    unsigned long writes;
    bool writing;
    bool urgent; /* acc holds more than frames queued to wait for weir_ws_flush */
    /* State */
    bool open;      /* the 101 is written: reading and writing */
    bool closing;   /* a close frame is queued (or the connection is gone): nothing more is sent */
    bool close_out; /* the close frame is in acc or written */
    bool failed;    /* input refused: nothing more is read */
    bool broken;    /* close at the next flush (out of memory where no close could be done) */
    bool finishing; /* handed to weir__http_conn_finish */
    bool peer_eof;
    bool dead;      /* on_close was called: free once busy drops to 0 */
    int busy;
    /* What on_close reports: the peer's close, else ours, else 1006. */
    uint16_t code;
    bool code_peer;
    char reason[MAX_REASON + 1];
};

/* ------------------------------------------------------------ pure helpers */

static int b64val(unsigned char ch) {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+') return 62;
    if (ch == '/') return 63;
    return -1;
}

bool weir__ws_key_valid(const char *key) {
    if (!key || strlen(key) != KEY_LEN || key[22] != '=' || key[23] != '=') return false;
    for (int i = 0; i < 22; i++)
        if (b64val((unsigned char)key[i]) < 0) return false;
    return true; /* 22 digits carry 132 bits: 16 bytes and 4 unused bits */
}

int weir__ws_accept_key(const char *key, char out[WEIR__WS_ACCEPT_LEN + 1]) {
    if (!weir__ws_key_valid(key)) return WEIR_EINVAL;
    char buf[KEY_LEN + sizeof WS_GUID];
    memcpy(buf, key, KEY_LEN);
    memcpy(buf + KEY_LEN, WS_GUID, sizeof WS_GUID);
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)buf, KEY_LEN + sizeof WS_GUID - 1, md);
    EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH); /* 28 chars and a NUL */
    return 0;
}

bool weir__ws_has_token(const char *list, const char *token) {
    if (!list) return false;
    size_t tlen = strlen(token);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *start = p;
        while (*p && *p != ',') p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) end--;
        if ((size_t)(end - start) == tlen && strncasecmp(start, token, tlen) == 0) return true;
    }
    return false;
}

bool weir__ws_utf8_valid(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        if (end - p >= 8) { /* ASCII, eight bytes at a time */
            uint64_t w;
            memcpy(&w, p, 8);
            if (!(w & 0x8080808080808080ull)) {
                p += 8;
                continue;
            }
        }
        unsigned c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t n;                       /* continuation bytes */
        unsigned lo = 0x80, hi = 0xBF;  /* range of the first one */
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
        } else if (c == 0xE0) {
            n = 2;
            lo = 0xA0; /* overlong below */
        } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
            n = 2;
        } else if (c == 0xED) {
            n = 2;
            hi = 0x9F; /* surrogates above */
        } else if (c == 0xF0) {
            n = 3;
            lo = 0x90;
        } else if (c >= 0xF1 && c <= 0xF3) {
            n = 3;
        } else if (c == 0xF4) {
            n = 3;
            hi = 0x8F; /* above U+10FFFF beyond */
        } else {
            return false; /* a continuation byte, C0/C1 (overlong), F5.. */
        }
        if ((size_t)(end - p) < n + 1 || p[1] < lo || p[1] > hi) return false;
        for (size_t i = 2; i <= n; i++)
            if ((p[i] & 0xC0) != 0x80) return false;
        p += n + 1;
    }
    return true;
}

unsigned long weir__ws_writes(const weir_ws *ws) { return ws ? ws->writes : 0; }
size_t weir__ws_queued_pieces(const weir_ws *ws) { return ws ? ws->acc.n : 0; }

bool weir__ws_has_context(const weir_ws *ws) { return ws && ws->ctx; }

/* ------------------------------------------------------------------ frames */

size_t weir_ws_frame_head(size_t len, char out[WEIR_WS_FRAME_HEAD_MAX]) {
    size_t h = len < 126 ? 2 : len <= 0xFFFF ? 4 : 10;
    unsigned char *p = (unsigned char *)out;
    p[0] = 0x81; /* FIN, text */
    if (h == 2) {
        p[1] = (unsigned char)len;
    } else if (h == 4) {
        p[1] = 126;
        p[2] = (unsigned char)(len >> 8);
        p[3] = (unsigned char)len;
    } else {
        p[1] = 127;
        uint64_t v = len;
        for (int i = 0; i < 8; i++) p[2 + i] = (unsigned char)(v >> (56 - 8 * i));
    }
    return h;
}

weir_sbuf *weir_ws_frame_text(const char *data, size_t len) {
    if (len > (size_t)-1 - 16) return NULL;
    char head[WEIR_WS_FRAME_HEAD_MAX];
    size_t h = weir_ws_frame_head(len, head);
    weir_sbuf *f = weir_sbuf_new(h + len);
    if (!f) return NULL;
    unsigned char *p = (unsigned char *)f->data;
    memcpy(p, head, h);
    if (len) memcpy(p + h, data, len);
    return f;
}

const char *weir_ws_frame_payload(const weir_sbuf *frame, size_t *len) {
    unsigned char l = (unsigned char)frame->data[1] & 0x7F;
    size_t h = l < 126 ? 2 : l == 126 ? 4 : 10;
    if (len) *len = frame->len - h;
    return frame->data + h;
}

/* A close frame made here (not by wslay): code and reason. */
static weir_sbuf *close_frame(uint16_t code, const char *reason) {
    size_t rlen = strlen(reason);
    weir_sbuf *f = weir_sbuf_new(4 + rlen);
    if (!f) return NULL;
    unsigned char *p = (unsigned char *)f->data;
    p[0] = 0x88;
    p[1] = (unsigned char)(2 + rlen);
    p[2] = (unsigned char)(code >> 8);
    p[3] = (unsigned char)code;
    memcpy(p + 4, reason, rlen);
    return f;
}

/* ------------------------------------------------------------------- queue */

/* Append b->data[off .. off + len): to the last entry when it ends where
 * this begins in the same buffer, else as a new entry holding one
 * reference (taken here).  WEIR_ENOMEM: nothing queued. */
static int q_push_slice(outq *q, weir_sbuf *b, size_t off, size_t len) {
    if (q->n) {
        outbuf *last = &q->v[q->n - 1];
        if (last->b == b && last->off + last->len == off) {
            last->len += len;
            return 0;
        }
    }
    if (q->n == q->cap && weir__grow((void **)&q->v, &q->cap, q->n + 1, sizeof *q->v)) return WEIR_ENOMEM;
    q->v[q->n++] = (outbuf){weir_sbuf_ref(b), off, len};
    return 0;
}

static int q_push(outq *q, weir_sbuf *b) { return q_push_slice(q, b, 0, b->len); }

static void q_clear(outq *q) {
    for (size_t i = 0; i < q->n; i++) weir_sbuf_unref(q->v[i].b);
    q->n = 0;
}

static void q_free(outq *q) {
    q_clear(q);
    weir__free(q->v);
    q->v = NULL;
    q->cap = 0;
}

/* ---------------------------------------------------------------- lifetime */

static void ws_free(weir_ws *ws) {
    if (ws->ctx) wslay_event_context_free(ws->ctx);
    q_free(&ws->acc);
    q_free(&ws->wr);
    weir__free(ws->bufs);
    weir__free(ws->msg);
    weir__free(ws);
}

/* ------------------------------------------------------ the wslay context */

static const struct wslay_event_callbacks wslay_cbs;

/* The wslay context, made when first needed (input, a close): NULL on
 * allocation failure.  A fresh one is in the state an idle one is in
 * (between messages, nothing queued, nothing closed). */
static wslay_event_context_ptr ctx_get(weir_ws *ws) {
    if (ws->ctx) return ws->ctx;
    if (wslay_event_context_server_init(&ws->ctx, &wslay_cbs, ws) != 0) {
        ws->ctx = NULL;
        return NULL;
    }
    wslay_event_config_set_no_buffering(ws->ctx, 1);
    /* wslay bounds each frame (control frames too: never below 125); on_frame_start bounds messages */
    wslay_event_config_set_max_recv_msg_length(ws->ctx, ws->max_message < 125 ? 125 : ws->max_message);
    return ws->ctx;
}

/* Follow the frame boundaries of the input wslay is given (the client's
 * frames: 2 header bytes, 2 or 8 of extended length, 4 of mask key). */
static void track(weir_ws *ws, const uint8_t *p, size_t len) {
    while (len) {
        if (ws->f_left) {
            size_t take = ws->f_left < len ? (size_t)ws->f_left : len;
            ws->f_left -= take;
            p += take;
            len -= take;
            continue;
        }
        ws->fh[ws->fh_len++] = *p++;
        len--;
        if (ws->fh_len < 2) continue;
        unsigned l = ws->fh[1] & 0x7f;
        size_t ext = l == 126 ? 2 : l == 127 ? 8 : 0;
        if (ws->fh_len < 2 + ext + ((ws->fh[1] & 0x80) ? 4 : 0)) continue;
        uint64_t n = l;
        if (ext) {
            n = 0;
            for (size_t i = 0; i < ext; i++) n = n << 8 | ws->fh[2 + i];
        }
        if (!(ws->fh[0] & 0x08)) ws->frag = !(ws->fh[0] & 0x80); /* a data frame: FIN ends the message */
        ws->f_left = n;
        ws->fh_len = 0;
    }
}

/* Between messages with nothing under way in wslay: its context (about
 * 9 KB) and the message buffer are given back, so an idle connection keeps
 * neither.  Not once a close is under way (wslay keeps that state). */
static void ctx_idle(weir_ws *ws) {
    if (!ws->ctx || ws->in_recv || ws->failed || ws->closing || ws->broken || ws->fh_len || ws->f_left || ws->frag)
        return;
    if (!wslay_event_get_read_enabled(ws->ctx) || !wslay_event_get_write_enabled(ws->ctx) ||
        wslay_event_want_write(ws->ctx) || wslay_event_get_queued_msg_count(ws->ctx))
        return;
    wslay_event_context_free(ws->ctx);
    ws->ctx = NULL;
    weir__free(ws->msg);
    ws->msg = NULL;
    ws->msg_len = ws->msg_cap = 0;
}

static void enter(weir_ws *ws) { ws->busy++; }

/* After leave() returns true, ws is freed. */
static bool leave(weir_ws *ws) {
    if (--ws->busy || !ws->dead) return false;
    ws_free(ws);
    return true;
}

static void set_reason(weir_ws *ws, const char *reason, size_t len) {
    if (len > MAX_REASON) len = MAX_REASON;
    memcpy(ws->reason, reason, len);
    ws->reason[len] = '\0';
}

/* The close handshake has begun: nothing more is sent, the timer runs. */
static void set_closing(weir_ws *ws) {
    if (ws->closing) return;
    ws->closing = true;
    if (ws->open && ws->conn) weir__http_conn_set_timer(ws->conn, WEIR__WS_CLOSE_MS);
}

static void want_flush(weir_ws *ws) {
    if (ws->conn && (ws->open || ws->broken)) weir__http_conn_defer(ws->conn);
}

/* Move what wslay has to send into acc, note the close state, ask for a flush. */
static void pump(weir_ws *ws) {
    if (ws->in_recv || !ws->conn) return; /* after wslay_event_recv returns */
    if (ws->ctx) {
        if (!ws->broken && wslay_event_want_write(ws->ctx) && wslay_event_send(ws->ctx) != 0)
            ws->broken = true; /* out of memory in send_cb: acc may end in half a frame */
        if (!ws->close_out && wslay_event_get_close_sent(ws->ctx)) {
            ws->close_out = true;
            if (!ws->code) ws->code = wslay_event_get_status_code_sent(ws->ctx); /* a close wslay made */
        }
        if (!wslay_event_get_read_enabled(ws->ctx)) set_closing(ws);
    }
    if (ws->close_out) set_closing(ws);
    if (ws->broken || ws->acc.n || ws->closing) want_flush(ws);
}

/* Queue a close frame through wslay (nothing if one is queued already). */
static void queue_close(weir_ws *ws, uint16_t code, const char *reason) {
    size_t rlen = strlen(reason);
    if (!ctx_get(ws)) {
        ws->broken = true;
        set_closing(ws);
        return;
    }
    int rv = wslay_event_queue_close(ws->ctx, code, (const uint8_t *)reason, rlen);
    if (rv == 0) {
        if (!ws->code_peer) {
            ws->code = code;
            set_reason(ws, reason, rlen);
        }
    } else if (rv != WSLAY_ERR_NO_MORE_MSG) {
        ws->broken = true;
    }
    set_closing(ws);
}

/* Refuse the input: close with code, read nothing more. */
static void fail(weir_ws *ws, uint16_t code, const char *reason) {
    if (ws->failed) return;
    ws->failed = true;
    if (ws->ctx) wslay_event_shutdown_read(ws->ctx);
    queue_close(ws, code, reason);
}

/* Refuse the input with a close frame made here, in place of the one wslay
 * queued (or would queue) and has not sent: nothing more from wslay. */
static void own_close(weir_ws *ws, uint16_t code, const char *reason) {
    ws->failed = true;
    if (!ctx_get(ws)) {
        ws->broken = true;
        set_closing(ws);
        return;
    }
    wslay_event_shutdown_read(ws->ctx);
    if (!ws->close_out && !wslay_event_get_close_sent(ws->ctx)) {
        wslay_event_shutdown_write(ws->ctx);
        weir_sbuf *f = close_frame(code, reason);
        if (!f || q_push(&ws->acc, f) != 0) {
            ws->broken = true;
        } else {
            ws->acc_bytes += f->len;
            ws->close_out = true;
            if (!ws->code_peer) {
                ws->code = code;
                set_reason(ws, reason, strlen(reason));
            }
        }
        weir_sbuf_unref(f);
    }
    set_closing(ws);
}

/* ------------------------------------------------------------------ output */

/* The close frame is written and nothing more will be read: finish. */
static void maybe_finish(weir_ws *ws) {
    if (!ws->conn || !ws->open || ws->finishing || !ws->close_out || ws->writing || ws->acc.n) return;
    if ((!ws->ctx || wslay_event_get_read_enabled(ws->ctx)) && !ws->peer_eof) return; /* the peer's close is due */
    ws->finishing = true;
    weir__http_conn_let_go(ws->conn); /* on_close now; the socket lingers on without us */
}

/* Entries a queue keeps room for once it is empty: after a burst the
 * arrays are given back (an idle connection holds little), the usual few
 * frames reuse them. */
#define Q_KEEP 16

static void q_trim(outq *q) {
    if (q->n || q->cap <= Q_KEEP) return;
    weir__free(q->v);
    q->v = NULL;
    q->cap = 0;
}

static void release_wr(weir_ws *ws) {
    q_clear(&ws->wr);
    ws->writing = false;
    q_trim(&ws->wr);
    if (ws->acc.n) return;
    q_trim(&ws->acc);
    if (ws->bufs_cap > Q_KEEP) {
        weir__free(ws->bufs);
        ws->bufs = NULL;
        ws->bufs_cap = 0;
    }
}

/* Write acc in one write (detached: at once, as often as needed). */
static void flush(weir_ws *ws) {
    if (!ws->conn) return;
    if (ws->broken) {
        weir__http_conn_close(ws->conn);
        return;
    }
    if (!ws->open || ws->finishing) return;
    while (!ws->writing && ws->acc.n) {
        if (ws->bufs_cap < ws->acc.n &&
            weir__grow((void **)&ws->bufs, &ws->bufs_cap, ws->acc.n, sizeof *ws->bufs) != 0) {
            weir__http_conn_close(ws->conn);
            return;
        }
        ws->urgent = false;
        outq t = ws->wr; /* wr is empty: swap */
        ws->wr = ws->acc;
        ws->acc = t;
        ws->acc_bytes = 0;
        for (size_t i = 0; i < ws->wr.n; i++)
            ws->bufs[i] = uv_buf_init(ws->wr.v[i].b->data + ws->wr.v[i].off, (unsigned)ws->wr.v[i].len);
        ws->writing = true;
        ws->writes++;
        int rc = weir__http_conn_write(ws->conn, ws->bufs, (unsigned)ws->wr.n);
        if (rc == 1) {
            release_wr(ws);
        } else if (rc < 0) {
            release_wr(ws);
            weir__http_conn_close(ws->conn);
            return;
        }
    }
    maybe_finish(ws);
}

/* ------------------------------------------------------------------- wslay */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud) {
    (void)flags;
    weir_ws *ws = ud;
    if (!ws->in_len) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < ws->in_len ? len : ws->in_len;
    memcpy(buf, ws->in, n);
    ws->in += n;
    ws->in_len -= n;
    return (ssize_t)n;
}

/* Everything wslay sends is taken at once, copied to the queue. */
static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *ud) {
    (void)flags;
    weir_ws *ws = ud;
    weir_sbuf *b = weir_sbuf_copy((const char *)data, len);
    if (!b || q_push(&ws->acc, b) != 0) {
        weir_sbuf_unref(b);
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    weir_sbuf_unref(b); /* the queue's reference remains */
    ws->acc_bytes += len;
    ws->urgent = true;
    return (ssize_t)len;
}

static void on_frame_start(wslay_event_context_ptr ctx, const struct wslay_event_on_frame_recv_start_arg *arg,
                           void *ud) {
    (void)ctx;
    weir_ws *ws = ud;
    if (wslay_is_ctrl_frame(arg->opcode)) { /* wslay buffers these itself */
        ws->frame_text = false;
        return;
    }
    if (ws->failed || !ws->conn) return;
    if (arg->opcode == WSLAY_BINARY_FRAME) {
        fail(ws, WSLAY_CODE_UNSUPPORTED_DATA, "binary messages are not supported");
        return;
    }
    if (arg->opcode == WSLAY_TEXT_FRAME) ws->msg_len = 0; /* wslay checked continuations follow a start */
    ws->frame_text = true;
    if (arg->payload_length > ws->max_message - ws->msg_len)
        fail(ws, WSLAY_CODE_MESSAGE_TOO_BIG, "message too big");
}

static void on_frame_chunk(wslay_event_context_ptr ctx, const struct wslay_event_on_frame_recv_chunk_arg *arg,
                           void *ud) {
    (void)ctx;
    weir_ws *ws = ud;
    if (!ws->frame_text || ws->failed || !ws->conn || !arg->data_length) return;
    size_t need = ws->msg_len + arg->data_length + 1; /* bounded by max_message */
    if (need > ws->msg_cap && weir__grow((void **)&ws->msg, &ws->msg_cap, need, 1) != 0) {
        fail(ws, WSLAY_CODE_INTERNAL_SERVER_ERROR, "out of memory");
        return;
    }
    memcpy(ws->msg + ws->msg_len, arg->data, arg->data_length);
    ws->msg_len += arg->data_length;
    ws->msg[ws->msg_len] = '\0';
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *ud) {
    (void)ctx;
    weir_ws *ws = ud;
    if (!ws->conn) return;
    if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
        const char *reason = arg->msg_length > 2 ? (const char *)arg->msg + 2 : "";
        size_t rlen = arg->msg_length > 2 ? arg->msg_length - 2 : 0;
        /* wslay checks a close reason chunk by chunk and skips the first two
         * bytes of every chunk, not only the code's: a bad reason that
         * arrives in pieces passes, and its echo would carry it back. */
        if (!weir__ws_utf8_valid(reason, rlen)) {
            own_close(ws, WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA, "invalid UTF-8");
            return;
        }
        ws->code_peer = true;
        ws->code = arg->status_code ? arg->status_code : WSLAY_CODE_NO_STATUS_RCVD;
        set_reason(ws, reason, rlen);
        return;
    }
    if (arg->opcode != WSLAY_TEXT_FRAME || ws->failed) return; /* wslay answered a ping; a pong needs nothing */
    size_t len = ws->msg_len;
    const char *text = len ? ws->msg : ""; /* an empty message leaves msg as it was */
    ws->msg_len = 0;
    if (!weir__ws_utf8_valid(text, len)) {
        fail(ws, WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA, "invalid UTF-8");
        return;
    }
    if (ws->closing) return; /* weir_ws_close was called: no more messages */
    if (ws->cb.on_text) ws->cb.on_text(ws->ud, ws, text, len);
    if (ws->msg_cap > MSG_KEEP && !ws->dead) {
        weir__free(ws->msg);
        ws->msg = NULL;
        ws->msg_cap = 0;
    }
}

static const struct wslay_event_callbacks wslay_cbs = {
    .recv_callback = recv_cb,
    .send_callback = send_cb,
    .on_frame_recv_start_callback = on_frame_start,
    .on_frame_recv_chunk_callback = on_frame_chunk,
    .on_msg_recv_callback = on_msg,
};

/* Bytes from the peer through wslay; then what wslay has to send. */
static void input(weir_ws *ws, const char *data, size_t len) {
    if (ws->failed || (ws->ctx && !wslay_event_get_read_enabled(ws->ctx))) return; /* dropped */
    if (!ctx_get(ws)) {
        ws->broken = true; /* no context to refuse the input with: closed at the flush */
        want_flush(ws);
        return;
    }
    track(ws, (const uint8_t *)data, len);
    ws->in = data;
    ws->in_len = len;
    ws->in_recv = true;
    int rv = wslay_event_recv(ws->ctx);
    ws->in_recv = false;
    ws->in = NULL;
    ws->in_len = 0;
    if (!ws->conn) return;
    if (rv != 0 && !ws->failed) {
        /* Refused by wslay's frame parser (a control frame over 125 bytes or
         * fragmented, a 64-bit length with the top bit set) or out of
         * memory: wslay queued a close without a code; ours replaces it. */
        if (rv == WSLAY_ERR_NOMEM)
            own_close(ws, WSLAY_CODE_INTERNAL_SERVER_ERROR, "out of memory");
        else
            own_close(ws, WSLAY_CODE_PROTOCOL_ERROR, "protocol error");
    }
    pump(ws);
    ctx_idle(ws);
}

/* ------------------------------------------------------ connection hooks */

static void h_start(void *ud) {
    weir_ws *ws = ud;
    enter(ws);
    ws->open = true;
    if (ws->closing) weir__http_conn_set_timer(ws->conn, WEIR__WS_CLOSE_MS);
    if (ws->urgent || ws->closing || ws->broken) want_flush(ws); /* frames queued to wait for a flush wait */
    leave(ws);
}

static void h_read(void *ud, const char *data, size_t len) {
    weir_ws *ws = ud;
    enter(ws);
    if (len) {
        input(ws, data, len);
    } else {
        ws->peer_eof = true;
        if (ws->closing && !ws->broken) /* write what the handshake still needs, then finish */
            want_flush(ws);
        else /* gone without a close: 1006 */
            weir__http_conn_close(ws->conn);
    }
    leave(ws);
}

static void h_written(void *ud, int status) {
    weir_ws *ws = ud;
    enter(ws);
    release_wr(ws);
    if (status < 0)
        weir__http_conn_close(ws->conn);
    else if ((ws->acc.n && (ws->urgent || ws->closing)) || ws->broken)
        want_flush(ws); /* what was queued meanwhile goes in one write, before the loop waits (frames
                         * queued to wait for weir_ws_flush alone wait: see urgent) */
    else
        maybe_finish(ws);
    leave(ws);
}

static void h_flush(void *ud) {
    weir_ws *ws = ud;
    enter(ws);
    flush(ws);
    leave(ws);
}

static void h_timer(void *ud) {
    weir_ws *ws = ud;
    enter(ws);
    weir__http_conn_close(ws->conn); /* the peer did not finish the close handshake */
    leave(ws);
}

static void h_stop(void *ud) {
    weir_ws *ws = ud;
    if (ws->closing) return;
    queue_close(ws, WSLAY_CODE_GOING_AWAY, "server shutting down");
    pump(ws); /* queues and defers; closes nothing now */
}

static void h_close(void *ud) {
    weir_ws *ws = ud;
    bool destroying = ws->conn && ws->conn->server->destroying;
    ws->conn = NULL;
    ws->closing = true;
    if (ws->ctx) wslay_event_shutdown_read(ws->ctx); /* if inside wslay_event_recv: stop there */
    uint16_t code = ws->code;
    if (!code) { /* no close frame either way */
        const char *why = destroying ? "server shutting down" : "";
        code = destroying ? WSLAY_CODE_GOING_AWAY : WSLAY_CODE_ABNORMAL_CLOSURE;
        set_reason(ws, why, strlen(why));
    }
    enter(ws);
    if (ws->cb.on_close) ws->cb.on_close(ws->ud, ws, code, ws->reason);
    ws->dead = true;
    leave(ws);
}

static const weir__http_takeover hooks = {
    .on_start = h_start,
    .on_read = h_read,
    .on_written = h_written,
    .on_flush = h_flush,
    .on_timer = h_timer,
    .on_stop = h_stop,
    .on_close = h_close,
};

/* --------------------------------------------------------------- handshake */

/* Does any header called name hold token? */
static bool header_token(const weir_http_req *req, const char *name, const char *token) {
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcasecmp(req->header_names[i], name) == 0 && weir__ws_has_token(req->header_values[i], token))
            return true;
    return false;
}

bool weir_ws_is_upgrade(const weir_http_req *req) {
    return req && strcmp(req->method, "GET") == 0 && header_token(req, "connection", "upgrade") &&
           header_token(req, "upgrade", "websocket");
}

static void refuse(weir_http_req *req, int status, const char *msg) {
    if (status == 426) {
        char body[160];
        int n = snprintf(body, sizeof body, "{\"error\":\"%s\"}", msg);
        const char *extra[] = {"Sec-WebSocket-Version", "13", NULL};
        weir_http_respond(req, 426, "application/json", body, (size_t)n, extra);
        return;
    }
    weir_http_respond_error(req, status, "%s", msg);
}

/* The first reason req is not a valid handshake, or NULL; *status 400 or 426. */
static const char *check_handshake(const weir_http_req *req, int *status) {
    *status = 400;
    if (strcmp(req->method, "GET") != 0) return "WebSocket handshake: the method must be GET";
    if (!header_token(req, "upgrade", "websocket")) return "WebSocket handshake: no \"Upgrade: websocket\"";
    if (!header_token(req, "connection", "upgrade")) return "WebSocket handshake: no \"Connection: upgrade\"";
    const char *version = weir_http_header(req, "sec-websocket-version");
    if (!version || strcmp(version, "13") != 0) {
        *status = 426;
        return "WebSocket handshake: Sec-WebSocket-Version must be 13";
    }
    if (!weir__ws_key_valid(weir_http_header(req, "sec-websocket-key")))
        return "WebSocket handshake: Sec-WebSocket-Key must be the base64 of 16 bytes";
    return NULL;
}

/* A protocol name fit for a header line. */
static bool token_ok(const char *p) {
    size_t n = 0;
    for (; p[n]; n++)
        if (p[n] <= ' ' || p[n] == ',' || (unsigned char)p[n] >= 0x7F) return false;
    return n > 0 && n <= 128;
}

static weir_ws *ws_new(const weir_ws_options *opts, const weir_ws_callbacks *cb, void *ud) {
    weir_ws *ws = weir__calloc(1, sizeof *ws); /* the wslay context comes with the first input */
    if (!ws) return NULL;
    ws->max_message = opts && opts->max_message ? opts->max_message : WEIR__WS_MAX_MESSAGE;
    if (cb) ws->cb = *cb;
    ws->ud = ud;
    return ws;
}

int weir_ws_accept(weir_http_req *req, const weir_ws_options *opts, const weir_ws_callbacks *cb, void *ud,
                   weir_ws **out) {
    *out = NULL;
    int status;
    const char *why = check_handshake(req, &status);
    if (why) {
        refuse(req, status, why);
        return WEIR_EINVAL;
    }
    char accept[WEIR__WS_ACCEPT_LEN + 1];
    weir__ws_accept_key(weir_http_header(req, "sec-websocket-key"), accept);
    const char *proto = opts ? opts->protocol : NULL;
    if (proto && (!token_ok(proto) || !header_token(req, "sec-websocket-protocol", proto))) proto = NULL;
    char resp[512];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                     accept, proto ? "Sec-WebSocket-Protocol: " : "", proto ? proto : "", proto ? "\r\n" : "");
    weir_ws *ws = ws_new(opts, cb, ud);
    if (!ws) {
        weir_http_respond_error(req, 503, "out of memory");
        return WEIR_ENOMEM;
    }
    weir__http_req *r = (weir__http_req *)req;
    bool stopping = r->server->stopping;
    int rc = weir__http_take(req, resp, (size_t)n, &hooks, ws, &ws->conn);
    if (rc != 0) {
        ws_free(ws);
        if (rc == WEIR_ENOMEM)
            weir_http_respond_error(req, 503, "out of memory");
        else if (rc == WEIR_ESTATE)
            weir_http_respond_error(req, stopping ? 503 : 400, "%s",
                                    stopping ? "the server is shutting down" : "this request cannot be upgraded");
        return rc;
    }
    *out = ws;
    return 0;
}

/* -------------------------------------------------------------- public API */

/* Queue a slice; ask for a flush when now, or when enough waits. */
static int queue_slice(weir_ws *ws, weir_sbuf *buf, size_t off, size_t len, bool now) {
    if (!ws || !buf || off > buf->len || len > buf->len - off) return WEIR_EINVAL;
    if (!ws->conn || ws->closing) return WEIR_ESTATE;
    if (q_push_slice(&ws->acc, buf, off, len) != 0) return WEIR_ENOMEM;
    ws->acc_bytes += len;
    if (now || ws->acc_bytes >= WEIR_WS_QUEUE_FLUSH_BYTES) ws->urgent = true;
    if (!ws->writing && ws->urgent) want_flush(ws);
    return 0;
}

int weir_ws_send_slice(weir_ws *ws, weir_sbuf *buf, size_t off, size_t len) {
    return queue_slice(ws, buf, off, len, true);
}

int weir_ws_queue_slice(weir_ws *ws, weir_sbuf *buf, size_t off, size_t len) {
    return queue_slice(ws, buf, off, len, false);
}

void weir_ws_flush(weir_ws *ws) {
    if (!ws || !ws->conn || !ws->acc.n) return;
    ws->urgent = true;
    if (!ws->writing) want_flush(ws);
}

int weir_ws_send_frame(weir_ws *ws, weir_sbuf *frame) {
    return frame ? weir_ws_send_slice(ws, frame, 0, frame->len) : WEIR_EINVAL;
}

int weir_ws_send_text(weir_ws *ws, const char *data, size_t len) {
    if (!ws) return WEIR_EINVAL;
    if (!ws->conn || ws->closing) return WEIR_ESTATE;
    weir_sbuf *f = weir_ws_frame_text(data, len);
    if (!f) return WEIR_ENOMEM;
    int rc = weir_ws_send_frame(ws, f);
    weir_sbuf_unref(f);
    return rc;
}

size_t weir_ws_backlog(const weir_ws *ws) {
    if (!ws) return 0;
    return ws->acc_bytes + (ws->writing && ws->conn ? weir__http_conn_write_queue(ws->conn) : 0);
}

/* Codes an endpoint may send (RFC 6455 §7.4, IANA registry). */
static bool sendable(uint16_t code) {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

void weir_ws_close(weir_ws *ws, uint16_t code, const char *reason) {
    if (!ws || !ws->conn || ws->closing) return;
    if (!sendable(code)) code = WSLAY_CODE_NORMAL_CLOSURE;
    char r[MAX_REASON + 1];
    size_t n = reason ? strlen(reason) : 0;
    if (n > MAX_REASON) n = MAX_REASON;
    while (n && ((unsigned char)reason[n] & 0xC0) == 0x80) n--; /* cut at a character boundary */
    if (n && !weir__ws_utf8_valid(reason, n)) n = 0;
    if (n) memcpy(r, reason, n);
    r[n] = '\0';
    queue_close(ws, code, r);
    pump(ws);
}

void weir_ws_set_user(weir_ws *ws, void *user) {
    if (ws) ws->user = user;
}

void *weir_ws_user(const weir_ws *ws) { return ws ? ws->user : NULL; }
