/* The plain event socket at /ws (SPEC §5); see wsapi.c for the frames. */
#ifndef WEIR_SERVICE_WSAPI_H
#define WEIR_SERVICE_WSAPI_H
#include "net/http.h"

typedef struct weir_service weir_service;

/* Answer GET /ws: check credentials, upgrade, register the client.  A
 * request that is not an upgrade gets 426. */
void svc_ws_upgrade(weir_service *s, weir_http_req *req);

#endif
