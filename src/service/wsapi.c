/*
 * The plain event socket at /ws (SPEC §5): JSON text frames.
 *
 *   server → client   {"event": "port:emit", "data": {..., "seq": 7}}
 *   client → server   {"event": "execution:subscribe", "data": {...}, "ack": 1}
 *   acknowledgement   {"event": "ack", "ack": 1, "data": <result or {"error": ...}>}
 *
 * "ack" is optional: without it a failure comes back as an `error` event.
 * With auth configured the upgrade request carries X-API-Key,
 * Authorization: Bearer, or (for browsers, which cannot set headers on a
 * WebSocket) a `token` query parameter.
 */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "service/service_internal.h"
#include "service/wsapi.h"

/* ------------------------------------------------------------ transport ops */

/* A feed's batch buffer: large enough that a turn of the loop's events for
 * a busy execution fill few, small enough that one frame pins little. */
#define ARENA_BYTES ((size_t)64 * 1024)
/* A frame larger than this goes in a buffer of its own. */
#define ARENA_MAX_FRAME (ARENA_BYTES / 8)

/* The frame of m: {"event":"<name>","data":<data>}, written at out (room
 * for WEIR_WS_FRAME_HEAD_MAX + payload_len(m) bytes); returns its length. */
static size_t payload_len(const svc_evmsg *m) { return 19 + strlen(m->name) + m->data->len + 1; }
static size_t write_frame(const svc_evmsg *m, char *out) {
    size_t len = payload_len(m), h = weir_ws_frame_head(len, out);
    char *p = out + h;
    memcpy(p, "{\"event\":\"", 10);
    size_t nl = strlen(m->name);
    memcpy(p + 10, m->name, nl);
    memcpy(p + 10 + nl, "\",\"data\":", 9);
    memcpy(p + 19 + nl, m->data->data, m->data->len);
    p[len - 1] = '}';
    return h + len;
}

static weir_sbuf *frame_of(svc_evmsg *m) {
    if (m->ws_frame) return m->ws_frame;
    char head[WEIR_WS_FRAME_HEAD_MAX];
    size_t len = payload_len(m), total = weir_ws_frame_head(len, head) + len;
    weir_sbuf *f = weir_sbuf_new(total);
    if (f) write_frame(m, f->data);
    return m->ws_frame = f;
}

/* m's frame in its feed's arena (false: it does not fit one, or out of
 * memory: send frame_of instead). */
static bool batched(svc_evmsg *m) {
    if (m->ws_batch) return true;
    svc_arena *a = m->arena;
    char head[WEIR_WS_FRAME_HEAD_MAX];
    size_t len = payload_len(m), total = weir_ws_frame_head(len, head) + len;
    if (!a || total > ARENA_MAX_FRAME) return false;
    if (!a->buf || a->buf->len - a->used < total) {
        weir_sbuf *b = weir_sbuf_new(ARENA_BYTES);
        if (!b) return false;
        weir_sbuf_unref(a->buf); /* the frames in it keep it while they are held */
        a->buf = b;
        a->used = 0;
    }
    m->ws_batch = weir_sbuf_ref(a->buf);
    m->ws_off = a->used;
    m->ws_len = write_frame(m, a->buf->data + a->used);
    a->used += m->ws_len;
    return true;
}

static int ws_send(void *conn, svc_evmsg *m, bool whole) {
    if (whole && batched(m)) return weir_ws_queue_slice(conn, m->ws_batch, m->ws_off, m->ws_len);
    weir_sbuf *f = frame_of(m);
    return f ? weir_ws_queue_slice(conn, f, 0, f->len) : -1;
}

static void ws_flush(void *conn) { weir_ws_flush(conn); }

/* {"event":<name>,<key>:<json>} with an optional ack member. */
static int ws_text(void *conn, const char *name, int64_t ack, const char *json, size_t len) {
    char head[128];
    int h = ack >= 0 ? snprintf(head, sizeof head, "{\"event\":\"ack\",\"ack\":%lld,\"data\":", (long long)ack)
                     : snprintf(head, sizeof head, "{\"event\":\"%.64s\",\"data\":", name ? name : "");
    char *buf = weir__malloc((size_t)h + len + 1);
    if (!buf) return -1;
    memcpy(buf, head, (size_t)h);
    memcpy(buf + h, json, len);
    buf[(size_t)h + len] = '}';
    int rc = weir_ws_send_text(conn, buf, (size_t)h + len + 1);
    weir__free(buf);
    return rc;
}

static int ws_emit(void *conn, const char *name, const char *json, size_t len) { return ws_text(conn, name, -1, json, len); }
static int ws_ack(void *conn, int64_t id, const char *json, size_t len) { return ws_text(conn, "ack", id, json, len); }
static size_t ws_backlog(const void *conn) { return weir_ws_backlog(conn); }
static void ws_close(void *conn) { weir_ws_close(conn, 1001, "server shutting down"); }

static const svc_client_ops WS_OPS = {"ws", ws_send, ws_emit, ws_ack, ws_backlog, ws_flush, ws_close};

/* --------------------------------------------------------------- callbacks */

static void on_text(void *ud, weir_ws *ws, const char *data, size_t len) {
    (void)ud;
    svc_client *c = weir_ws_user(ws);
    if (!c) return;
    json_error_t jerr;
    json_t *msg = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *event = json_string_value(json_object_get(msg, "event"));
    json_t *ack = json_object_get(msg, "ack");
    if (!event || (ack && (!json_is_integer(ack) || json_integer_value(ack) < 0))) {
        json_t *e = msg ? svc_error_body("a message is {\"event\": string, \"data\"?: object, \"ack\"?: "
                                         "non-negative integer}")
                        : svc_error_body("not JSON: %s at line %d column %d", jerr.text, jerr.line, jerr.column);
        json_object_set_new(e, "code", json_string(weir_errname(WEIR_EINVAL)));
        svc_client_emit(c, "error", e);
        json_decref(e);
        json_decref(msg);
        return;
    }
    svc_client_command(c, event, json_object_get(msg, "data"), ack ? json_integer_value(ack) : -1);
    json_decref(msg);
}

static void on_close(void *ud, weir_ws *ws, uint16_t code, const char *reason) {
    (void)ud;
    (void)code;
    (void)reason;
    svc_client *c = weir_ws_user(ws);
    if (c) svc_client_gone(c);
}

static const weir_ws_callbacks CALLBACKS = {on_text, on_close};

void svc_ws_upgrade(weir_service *s, weir_http_req *req) {
    if (!weir_ws_is_upgrade(req)) {
        const char *hdr[] = {"Upgrade", "websocket", NULL};
        const char *body = "{\"error\":\"/ws is a WebSocket: connect with a WebSocket client (Upgrade: websocket)\","
                           "\"code\":\"WEIR_EINVAL\"}";
        weir_http_respond(req, 426, "application/json", body, strlen(body), hdr);
        return;
    }
    if (s->shutting_down) return weir_http_respond_error(req, 503, "the server is shutting down");
    if (weir_auth_active(s->auth)) {
        char token[WEIR_AUTH_MAX_TOKEN + 1];
        weir_error err;
        int rc = svc_query_param(req->query, "token", token, sizeof token)
                     ? weir_auth_check_token(s->auth, token, &err)
                     : weir_auth_check_headers(s->auth, weir_http_header(req, "x-api-key"),
                                               weir_http_header(req, "authorization"), &err);
        if (rc == WEIR_ENOTFOUND) {
            const char *hdr[] = {"WWW-Authenticate", "Bearer", NULL};
            const char *body = "{\"error\":\"authentication required: send X-API-Key, Authorization: Bearer "
                               "<token>, or ?token=<token>\",\"code\":\"WEIR_EAUTH\"}";
            weir_http_respond(req, 401, "application/json", body, strlen(body), hdr);
            return;
        }
        if (rc) return weir_http_respond_error(req, rc == WEIR_ENOMEM ? 503 : 403, "%s", err.message);
    }
    weir_ws_options o = {.max_message = s->cfg.max_body_bytes};
    weir_ws *ws;
    if (weir_ws_accept(req, &o, &CALLBACKS, s, &ws)) return; /* answered */
    svc_client *c = svc_client_new(&s->hub, &WS_OPS, ws);
    if (!c) return weir_ws_close(ws, 1011, "out of memory");
    weir_ws_set_user(ws, c);
}
