/*
 * The Socket.IO 5 layer on an Engine.IO session: the namespace connect on
 * "/" (authorize, then CONNECT or CONNECT_ERROR), events to the `event`
 * callback, the client's DISCONNECT, and the weir_sio_* calls that send.
 * Only "/" is served: CONNECT to another namespace is refused with
 * "Invalid namespace"; the client's ACK, CONNECT_ERROR and binary packets,
 * and packets for a namespace it has not joined, are protocol errors that
 * end the session (as socket.io's "invalid state").
 */
#include <string.h>

#include "core/alloc.h"
#include "net/eio_internal.h"

static bool main_nsp(const weir_sio_packet *p) { return p->nsp_len == 1 && p->nsp[0] == '/'; }

/* Send a packet just encoded (rc: the encoder's result), dropping our
 * reference. */
static int send_new(weir__eio_session *s, int rc, weir_sbuf *b) {
    if (rc) return rc;
    rc = weir__eio_send(s, b);
    weir_sbuf_unref(b);
    return rc;
}

static int refuse(weir__eio_session *s, const char *nsp, size_t nsp_len, const char *message) {
    weir_sbuf *b = NULL;
    int rc = weir_sio_encode_connect_error(nsp, nsp_len, message, &b);
    return send_new(s, rc, b);
}

static int on_connect(weir__eio_session *s, weir_sio_packet *p) {
    weir_eio *x = s->x;
    if (!main_nsp(p)) return refuse(s, p->nsp, p->nsp_len, "Invalid namespace");
    if (s->sock) return WEIR_EINVAL; /* already connected */
    char msg[WEIR__EIO_MAX_REFUSAL] = "";
    if (x->cb.authorize && x->cb.authorize(x->ud, p->data, &s->hs, msg, sizeof msg) != 0) {
        msg[sizeof msg - 1] = '\0';
        return refuse(s, NULL, 0, msg[0] ? msg : "Not authorized");
    }
    if (s->state != WEIR__EIO_OPEN) return 0; /* closed by the callback */
    weir_sio_socket *sock = weir__calloc(1, sizeof *sock);
    if (!sock) return WEIR_ENOMEM;
    weir_sbuf *b = NULL;
    int rc = weir__eio_random_id(sock->id);
    if (!rc) rc = weir_sio_encode_connect(sock->id, &b);
    if (!rc) rc = weir__eio_send(s, b);
    weir_sbuf_unref(b);
    if (rc) {
        weir__free(sock);
        return rc;
    }
    sock->sess = s;
    s->sock = sock;
    x->nsockets++;
    weir__eio_arm(s); /* no connect timeout any more */
    if (x->cb.connected) x->cb.connected(x->ud, sock);
    return 0;
}

static int on_event(weir__eio_session *s, weir_sio_packet *p) {
    weir_eio *x = s->x;
    if (!main_nsp(p) || !s->sock) return WEIR_EINVAL;
    if (s->sock->closing) return 0;
    json_t *name = json_incref(json_array_get(p->data, 0));
    json_array_remove(p->data, 0); /* p->data is ours alone: the arguments after the name */
    if (x->cb.event) x->cb.event(x->ud, s->sock, json_string_value(name), p->data, p->ack_id);
    json_decref(name);
    return 0;
}

/* Free the socket after telling the callback. */
static void socket_gone(weir__eio_session *s, const char *reason) {
    weir_sio_socket *sock = s->sock;
    weir_eio *x = s->x;
    sock->closing = true;
    if (x->cb.disconnected) x->cb.disconnected(x->ud, sock, reason);
    s->sock = NULL;
    x->nsockets--;
    weir__free(sock);
}

int weir__sio_on_message(weir__eio_session *s, const char *data, size_t len) {
    weir_sio_packet p;
    int rc = weir_sio_packet_decode(data, len, s->x->o.max_payload, &p, NULL);
    if (rc) return rc;
    switch (p.type) {
    case WEIR_SIO_CONNECT: rc = on_connect(s, &p); break;
    case WEIR_SIO_EVENT: rc = on_event(s, &p); break;
    case WEIR_SIO_DISCONNECT:
        if (!main_nsp(&p) || !s->sock) {
            rc = WEIR_EINVAL;
        } else {
            socket_gone(s, "client namespace disconnect");
            /* the session stays, for a new CONNECT, until the connect timeout */
            s->connect_by = weir__eio_now(s->x) + s->x->o.connect_timeout_ms;
            weir__eio_arm(s);
        }
        break;
    default: rc = WEIR_EINVAL; /* ACK (we never ask for one), CONNECT_ERROR, binary */
    }
    weir_sio_packet_clear(&p);
    return rc;
}

void weir__sio_gone(weir__eio_session *s, const char *reason) {
    if (s->sock) socket_gone(s, reason);
}

/* ----------------------------------------------------------------- API */

void weir_sio_out_clear(weir_sio_out *o) {
    weir_sbuf_unref(o->text);
    weir_sbuf_unref(o->frame);
    o->text = NULL;
    o->frame = NULL;
}

static bool can_send(const weir_sio_socket *s) { return !s->closing && s->sess->state == WEIR__EIO_OPEN; }

int weir_sio_send(weir_sio_socket *s, weir_sio_out *o) {
    if (!o || !o->text) return WEIR_EINVAL;
    if (!can_send(s)) return WEIR_ESTATE;
    if (s->sess->transport == WEIR__EIO_WEBSOCKET) return weir__eio_ws_send_out(s->sess, o);
    return weir__eio_send(s->sess, o->text);
}

int weir_sio_queue(weir_sio_socket *s, weir_sio_out *o) {
    if (!o || !o->text) return WEIR_EINVAL;
    if (!can_send(s)) return WEIR_ESTATE;
    if (s->sess->transport == WEIR__EIO_WEBSOCKET) return weir__eio_ws_queue_out(s->sess, o);
    return weir__eio_send(s->sess, o->text);
}

void weir_sio_flush(weir_sio_socket *s) {
    if (s->sess->transport == WEIR__EIO_WEBSOCKET) weir__eio_ws_flush(s->sess);
}

int weir_sio_emit(weir_sio_socket *s, const char *name, const char *data_json, size_t len) {
    if (!can_send(s)) return WEIR_ESTATE;
    weir_sbuf *b = NULL;
    int rc = weir_sio_encode_event(name, data_json, len, &b);
    return send_new(s->sess, rc, b);
}

int weir_sio_ack(weir_sio_socket *s, int64_t ack_id, const char *data_json, size_t len) {
    if (!can_send(s)) return WEIR_ESTATE;
    weir_sbuf *b = NULL;
    int rc = weir_sio_encode_ack(ack_id, data_json, len, &b);
    return send_new(s->sess, rc, b);
}

size_t weir_sio_backlog(const weir_sio_socket *s) {
    const weir__eio_session *e = s->sess;
    return e->q_bytes + (e->transport == WEIR__EIO_WEBSOCKET ? weir__eio_ws_backlog(e) : 0);
}

void weir_sio_disconnect(weir_sio_socket *s) {
    if (s->closing) return;
    weir__eio_close(s->sess, "server namespace disconnect", true);
}

const char *weir_sio_id(const weir_sio_socket *s) { return s->id; }
void weir_sio_set_user(weir_sio_socket *s, void *user) { s->user = user; }
void *weir_sio_user(const weir_sio_socket *s) { return s->user; }
