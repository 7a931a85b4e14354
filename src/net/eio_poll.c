/*
 * The HTTP long-polling transport of Engine.IO 4.  A GET is held until
 * packets are queued (answered at the next loop turn, so the packets queued
 * during one turn go together) or until poll_timeout (a noop); the packets
 * go joined by the record separator.  A second GET while one is held is an
 * error that closes the session.  A POST carries the client's packets, at
 * most max_payload bytes, answered "ok".
 */
#include <string.h>

#include "core/alloc.h"
#include "net/eio_internal.h"

static void respond_payload(weir_http_req *req, const char *data, size_t len) {
    const char *extra[] = {"Cache-Control", "no-store", NULL};
    weir_http_respond(req, 200, "text/plain; charset=UTF-8", data, len, extra);
}

void weir__eio_queue_clear(weir__eio_session *s) {
    for (size_t i = 0; i < s->q_len; i++) weir_sbuf_unref(s->q[i]);
    s->q_len = 0;
    s->q_bytes = 0;
}

static weir_http_req *take_poll(weir__eio_session *s) {
    weir_http_req *req = s->poll;
    s->poll = NULL;
    s->poll_by = 0;
    return req;
}

void weir__eio_poll_answer(weir__eio_session *s, weir_eio_type type) {
    char c = (char)('0' + (int)type);
    respond_payload(take_poll(s), &c, 1);
}

void weir__eio_poll_flush(weir__eio_session *s) {
    if (!s->poll) return;
    if (!s->q_len) {
        weir__eio_poll_answer(s, WEIR_EIO_NOOP);
        return;
    }
    weir_http_req *req = take_poll(s);
    /* The queue is emptied before the answer goes out: whatever answering
     * leads to (another poll of this session) finds it as it now is. */
    if (s->q_len == 1) {
        weir_sbuf *only = s->q[0];
        s->q_len = 0;
        s->q_bytes = 0;
        respond_payload(req, only->data, only->len);
        weir_sbuf_unref(only);
        return;
    }
    size_t total = s->q_bytes + s->q_len - 1;
    char *body = weir__malloc(total);
    if (!body) { /* out of memory: the first packet alone, the rest later */
        weir_sbuf *first = s->q[0];
        s->q_bytes -= first->len;
        memmove(s->q, s->q + 1, --s->q_len * sizeof *s->q);
        respond_payload(req, first->data, first->len);
        weir_sbuf_unref(first);
        return;
    }
    size_t at = 0;
    for (size_t i = 0; i < s->q_len; i++) {
        if (i) body[at++] = WEIR_EIO_SEPARATOR;
        memcpy(body + at, s->q[i]->data, s->q[i]->len);
        at += s->q[i]->len;
    }
    weir__eio_queue_clear(s);
    respond_payload(req, body, total);
    weir__free(body);
}

static void on_get(weir__eio_session *s, weir_http_req *req) {
    if (s->poll) { /* engine.io: "overlap from client" */
        weir__eio_refuse(req, WEIR__EIO_ERR_REQUEST);
        weir__eio_finish(s, "transport error", false);
        return;
    }
    s->poll = req;
    if (s->q_len) {
        weir__eio_poll_flush(s);
    } else if (s->state == WEIR__EIO_CLOSING) {
        weir__eio_finish(s, s->close_reason, false); /* everything collected: a close packet */
    } else if (s->probe && s->probed) {
        weir__eio_poll_answer(s, WEIR_EIO_NOOP); /* upgrading: let the client pause polling */
    } else {
        s->poll_by = weir__eio_now(s->x) + s->x->o.poll_timeout_ms;
        weir__eio_arm(s);
    }
}

static void on_post(weir__eio_session *s, weir_http_req *req) {
    static const char ok[] = "ok";
    const char *extra[] = {"Cache-Control", "no-store", NULL};
    if (s->state != WEIR__EIO_OPEN) { /* closing: only the client's close packet matters */
        size_t pos = 0;
        weir_eio_packet p;
        while (s->state == WEIR__EIO_CLOSING && weir_eio_payload_next(req->body, req->body_len, &pos, &p, NULL) == 0)
            if (p.type == WEIR_EIO_CLOSE) weir__eio_finish(s, s->close_reason, true);
        weir_http_respond(req, 200, "text/html", ok, 2, extra);
        return;
    }
    if (req->body_len > s->x->o.max_payload) {
        static const char too_big[] = "{\"code\":3,\"message\":\"Payload too large\"}";
        weir_http_respond(req, 413, "application/json", too_big, sizeof too_big - 1, NULL);
        weir__eio_finish(s, "transport error", false);
        return;
    }
    const char *type = weir_http_header(req, "content-type");
    if (type && strncmp(type, "application/octet-stream", 24) == 0) { /* binary payloads are not protocol 4 */
        weir__eio_refuse(req, WEIR__EIO_ERR_REQUEST);
        weir__eio_finish(s, "transport error", false);
        return;
    }
    size_t pos = 0;
    weir_eio_packet p;
    int rc;
    while ((rc = weir_eio_payload_next(req->body, req->body_len, &pos, &p, NULL)) == 0) {
        rc = weir__eio_on_packet(s, &p);
        if (rc || s->state != WEIR__EIO_OPEN) break;
    }
    if (rc == WEIR_EINVAL && s->state == WEIR__EIO_OPEN) weir__eio_finish(s, "parse error", false);
    if (rc && rc != WEIR_ENOTFOUND && rc != WEIR_ESTATE)
        weir__eio_refuse(req, WEIR__EIO_ERR_REQUEST);
    else
        weir_http_respond(req, 200, "text/html", ok, 2, extra);
}

void weir__eio_poll_request(weir__eio_session *s, weir_http_req *req) {
    if (strcmp(req->method, "GET") == 0)
        on_get(s, req);
    else if (strcmp(req->method, "POST") == 0)
        on_post(s, req);
    else
        weir__eio_refuse(req, WEIR__EIO_ERR_REQUEST);
}
