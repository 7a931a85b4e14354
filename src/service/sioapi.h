/* Socket.IO sockets as event clients of the service (SPEC §5). */
#ifndef WEIR_SERVICE_SIOAPI_H
#define WEIR_SERVICE_SIOAPI_H
#include "net/eio.h"

typedef struct weir_service weir_service;

/* The Engine.IO/Socket.IO server wired to the service's hub and auth.
 * NULL on allocation failure. */
weir_eio *svc_sio_new(weir_service *s);

#endif
