/*
 * The websocket transport of Engine.IO.  Until src/server/ws.c is in, only
 * polling is served: transport=websocket is refused as an unknown
 * transport.
 */
#include "server/eio_internal.h"

void weir__eio_ws_request(weir_eio *x, weir__eio_session *s, weir_http_req *req) {
    (void)x;
    (void)s;
    weir__eio_refuse(req, WEIR__EIO_ERR_REQUEST);
}

int weir__eio_ws_send(weir__eio_session *s, weir_sbuf *pkt) {
    (void)s;
    (void)pkt;
    return WEIR_ESTATE;
}

int weir__eio_ws_send_out(weir__eio_session *s, weir_sio_out *o) {
    (void)s;
    (void)o;
    return WEIR_ESTATE;
}

void weir__eio_ws_close_all(weir__eio_session *s) { (void)s; }
void weir__eio_ws_shutdown(weir__eio_session *s) { (void)s; }
size_t weir__eio_ws_backlog(const weir__eio_session *s) {
    (void)s;
    return 0;
}
void weir__eio_ws_upgrade_expired(weir__eio_session *s) { (void)s; }
