/*
 * The websocket transport of Engine.IO 4, on the connections of ws.h.
 *
 * Direct: GET ?EIO=4&transport=websocket (an upgrade request, no sid) makes
 * a session whose transport is the websocket from the start; the open
 * packet (no further upgrades) is its first frame.
 *
 * Upgrade of a polling session (?transport=websocket&sid=…): the websocket
 * is accepted as a probe.  The client sends "2probe", we answer "3probe" and
 * answer a held GET with a noop, so the client can pause polling (GETs
 * arriving meanwhile are answered with a noop at once).  The client then
 * sends "5": the session switches to the websocket, a GET still held gets a
 * noop, and everything queued goes out as frames.  Any other packet on the
 * probe, its closing, or upgrade_timeout ends the probe and the session goes
 * on polling.  After the switch, polling requests are refused (400, code 3).
 *
 * Each websocket's user pointer is its session while the session wants to
 * hear from it; the session detaches it (NULL) before closing it, so a late
 * callback finds nothing to do.  The callbacks' ud (the server) is never
 * touched: it may be gone when a detached websocket finishes closing.
 */
#include <string.h>

#include "net/eio_internal.h"
#include "net/ws.h"

static void on_text(void *ud, weir_ws *ws, const char *data, size_t len);
static void on_close(void *ud, weir_ws *ws, uint16_t code, const char *reason);
static const weir_ws_callbacks CALLBACKS = {on_text, on_close};

/* Detach a websocket from its session and start closing it. */
static void drop(weir_ws *ws) {
    weir_ws_set_user(ws, NULL);
    weir_ws_close(ws, 1000, "");
}

static void end_probe(weir__eio_session *s) {
    if (!s->probe) return;
    drop(s->probe);
    s->probe = NULL;
    s->probed = false;
    s->upgrade_by = 0;
    weir__eio_arm(s);
}

void weir__eio_ws_request(weir_eio *x, weir__eio_session *s, weir_http_req *req) {
    if (!weir_ws_is_upgrade(req)) {
        weir__eio_refuse(req, WEIR__EIO_ERR_REQUEST); /* engine.io: TRANSPORT_HANDSHAKE_ERROR */
        return;
    }
    weir_ws_options wo = {.max_message = x->o.max_payload};
    weir_ws *ws = NULL;
    if (s) { /* an upgrade */
        if (s->state != WEIR__EIO_OPEN || s->probe || s->transport != WEIR__EIO_POLLING) {
            weir__eio_refuse(req, WEIR__EIO_ERR_REQUEST);
            return;
        }
        if (weir_ws_accept(req, &wo, &CALLBACKS, x, &ws) != 0) return; /* answered */
        weir_ws_set_user(ws, s);
        s->probe = ws;
        s->probed = false;
        s->upgrade_by = weir__eio_now(x) + x->o.upgrade_timeout_ms;
        weir__eio_arm(s);
        return;
    }
    s = weir__eio_session_new(x, WEIR__EIO_WEBSOCKET, req); /* copies the request before it is taken over */
    if (!s) {
        weir__eio_refuse(req, WEIR__EIO_ERR_REQUEST);
        return;
    }
    if (weir_ws_accept(req, &wo, &CALLBACKS, x, &ws) != 0) {
        weir__eio_finish(s, "transport error", false);
        return;
    }
    weir_ws_set_user(ws, s);
    s->ws = ws;
    weir_sbuf *open = weir_eio_encode_open(s->sid, false, x->o.ping_interval_ms, x->o.ping_timeout_ms,
                                           x->o.max_payload);
    int rc = open ? weir__eio_send(s, open) : WEIR_ENOMEM;
    weir_sbuf_unref(open);
    if (rc) weir__eio_finish(s, "transport error", false);
}

/* "5" on the probe: the session moves to the websocket. */
static void upgrade(weir__eio_session *s) {
    s->ws = s->probe;
    s->probe = NULL;
    s->probed = false;
    s->upgrade_by = 0;
    s->transport = WEIR__EIO_WEBSOCKET;
    if (s->poll) weir__eio_poll_answer(s, WEIR_EIO_NOOP);
    for (size_t i = 0; i < s->q_len; i++) {
        if (weir_ws_send_text(s->ws, s->q[i]->data, s->q[i]->len) != 0) {
            weir__eio_finish(s, "transport error", false);
            return;
        }
    }
    weir__eio_queue_clear(s);
    weir__eio_arm(s);
}

static void on_probe_packet(weir__eio_session *s, const weir_eio_packet *p) {
    if (s->state != WEIR__EIO_OPEN) {
        end_probe(s);
    } else if (p->type == WEIR_EIO_PING && p->len == 5 && memcmp(p->data, "probe", 5) == 0 && !s->probed) {
        if (weir_ws_send_text(s->probe, "3probe", 6) != 0) {
            end_probe(s);
            return;
        }
        s->probed = true;
        if (s->poll) weir__eio_poll_answer(s, WEIR_EIO_NOOP); /* the client pauses polling */
    } else if (p->type == WEIR_EIO_UPGRADE && s->probed) {
        upgrade(s);
    } else {
        end_probe(s); /* engine.io closes a probe that says anything else */
    }
}

static void on_text(void *ud, weir_ws *ws, const char *data, size_t len) {
    (void)ud;
    weir__eio_session *s = weir_ws_user(ws);
    if (!s) return;
    weir_eio_packet p;
    if (weir_eio_packet_decode(data, len, &p, NULL) != 0) {
        if (ws == s->probe)
            end_probe(s);
        else
            weir__eio_finish(s, "parse error", false);
        return;
    }
    if (ws == s->probe)
        on_probe_packet(s, &p);
    else
        (void)weir__eio_on_packet(s, &p);
}

static void on_close(void *ud, weir_ws *ws, uint16_t code, const char *reason) {
    (void)ud;
    (void)code;
    (void)reason;
    weir__eio_session *s = weir_ws_user(ws);
    if (!s) return;
    weir_ws_set_user(ws, NULL);
    if (ws == s->probe) {
        s->probe = NULL;
        s->probed = false;
        s->upgrade_by = 0;
        weir__eio_arm(s);
        return;
    }
    s->ws = NULL;
    weir__eio_finish(s, s->state == WEIR__EIO_CLOSING ? s->close_reason : "transport close", true);
}

int weir__eio_ws_send(weir__eio_session *s, weir_sbuf *pkt) {
    if (!s->ws || s->ws_closing) return WEIR_ESTATE;
    return weir_ws_send_text(s->ws, pkt->data, pkt->len);
}

static int out_frame(weir__eio_session *s, weir_sio_out *o, bool now) {
    if (!s->ws || s->ws_closing) return WEIR_ESTATE;
    if (!o->frame && !(o->frame = weir_ws_frame_text(o->text->data, o->text->len))) return WEIR_ENOMEM;
    return now ? weir_ws_send_frame(s->ws, o->frame) : weir_ws_queue_slice(s->ws, o->frame, 0, o->frame->len);
}

int weir__eio_ws_send_out(weir__eio_session *s, weir_sio_out *o) { return out_frame(s, o, true); }
int weir__eio_ws_queue_out(weir__eio_session *s, weir_sio_out *o) { return out_frame(s, o, false); }

void weir__eio_ws_flush(weir__eio_session *s) {
    if (s->ws) weir_ws_flush(s->ws);
}

void weir__eio_ws_shutdown(weir__eio_session *s) {
    end_probe(s);
    if (s->ws && !s->ws_closing) {
        s->ws_closing = true;
        weir_ws_close(s->ws, 1000, ""); /* after the queued frames; on_close finishes the session */
    }
}

void weir__eio_ws_close_all(weir__eio_session *s) {
    end_probe(s);
    if (s->ws) {
        if (s->ws_closing)
            weir_ws_set_user(s->ws, NULL);
        else
            drop(s->ws);
        s->ws = NULL;
    }
}

size_t weir__eio_ws_backlog(const weir__eio_session *s) { return s->ws ? weir_ws_backlog(s->ws) : 0; }

void weir__eio_ws_upgrade_expired(weir__eio_session *s) { end_probe(s); }
