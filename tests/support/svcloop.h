/* A weir_service on a test's own libuv loop (component tests that drive
 * the service in-process): started on an ephemeral port, stopped with every
 * handle closed. */
#ifndef WEIR_TEST_SVCLOOP_H
#define WEIR_TEST_SVCLOOP_H
#include <uv.h>

#include "service/service.h"

/* The defaults, port 0, errors only in the log; data_dir and journal_vfs
 * as given (NULL: none). */
weir_service_config svcloop_config(const char *data_dir, const char *journal_vfs);
/* uv_loop_init(loop) and start the service on it (asserted). */
weir_service *svcloop_start(uv_loop_t *loop, const weir_service_config *c);
/* Destroy it, run the loop dry, and assert every handle closed. */
void svcloop_stop(uv_loop_t *loop, weir_service *svc);

#endif
