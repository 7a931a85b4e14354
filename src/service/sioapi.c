/*
 * Socket.IO clients of the hub (SPEC §5): the Engine.IO/Socket.IO server in
 * eio.c carries packets; this file turns its sockets into hub clients and
 * checks credentials at namespace connect (auth.token, or the handshake's
 * X-API-Key / Authorization headers).
 */
#include <stdio.h>
#include <string.h>

#include "service/service_internal.h"
#include "service/sioapi.h"

static weir_sio_out *out_of(svc_evmsg *m) {
    if (m->sio.text) return &m->sio;
    size_t nl = strlen(m->name), len = 7 + nl + m->data->len;
    weir_sbuf *t = weir_sbuf_new(len);
    if (!t) return NULL;
    int h = snprintf(t->data, len + 1, "42[\"%s\",", m->name);
    memcpy(t->data + h, m->data->data, m->data->len);
    t->data[len - 1] = ']';
    m->sio.text = t;
    return &m->sio;
}

static int sio_send(void *conn, svc_evmsg *m, bool whole) {
    (void)whole;
    weir_sio_out *o = out_of(m);
    return o ? weir_sio_queue(conn, o) : -1;
}
static int sio_emit(void *conn, const char *name, const char *json, size_t len) {
    return weir_sio_emit(conn, name, json, len);
}
static int sio_ack(void *conn, int64_t id, const char *json, size_t len) { return weir_sio_ack(conn, id, json, len); }
static size_t sio_backlog(const void *conn) { return weir_sio_backlog(conn); }
static void sio_flush(void *conn) { weir_sio_flush(conn); }
static void sio_close(void *conn) { weir_sio_disconnect(conn); }

static const svc_client_ops SIO_OPS = {"socket.io", sio_send, sio_emit, sio_ack, sio_backlog, sio_flush, sio_close};

static int authorize(void *ud, const json_t *auth, const weir_http_req *hs, char *msg, size_t cap) {
    weir_service *s = ud;
    if (s->shutting_down) {
        snprintf(msg, cap, "the server is shutting down");
        return -1;
    }
    if (!weir_auth_active(s->auth)) return 0;
    weir_error err;
    json_t *tok = json_object_get(auth, "token");
    int rc = tok ? weir_auth_check_token(s->auth, json_string_value(tok), &err)
                 : weir_auth_check_headers(s->auth, weir_http_header(hs, "x-api-key"),
                                           weir_http_header(hs, "authorization"), &err);
    if (rc == 0) return 0;
    if (rc == WEIR_ENOTFOUND)
        snprintf(msg, cap, "authentication required: io(url, { auth: { token: \"<API key or JWT>\" } })");
    else snprintf(msg, cap, "%s", err.message);
    json_t *f = json_pack("{s:s}", "transport", "socket.io");
    weir_service_log(s, WEIR_LOG_WARN, f, "socket refused: %s", msg);
    json_decref(f);
    return -1;
}

static void connected(void *ud, weir_sio_socket *sock) {
    weir_service *s = ud;
    svc_client *c = svc_client_new(&s->hub, &SIO_OPS, sock);
    if (!c) return weir_sio_disconnect(sock);
    weir_sio_set_user(sock, c);
}

static void event(void *ud, weir_sio_socket *sock, const char *name, json_t *args, int64_t ack_id) {
    (void)ud;
    svc_client *c = weir_sio_user(sock);
    if (c) svc_client_command(c, name, json_array_get(args, 0), ack_id);
}

static void disconnected(void *ud, weir_sio_socket *sock, const char *reason) {
    (void)ud;
    (void)reason;
    svc_client *c = weir_sio_user(sock);
    if (c) svc_client_gone(c);
}

static const weir_eio_callbacks CALLBACKS = {authorize, connected, event, disconnected};

weir_eio *svc_sio_new(weir_service *s) {
    weir_eio_options o = {.max_payload = s->cfg.max_body_bytes < 1000000 ? s->cfg.max_body_bytes : 1000000};
    return weir_eio_new(s->loop, &o, &CALLBACKS, s);
}
