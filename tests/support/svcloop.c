#include "svcloop.h"

#include <criterion/criterion.h>

weir_service_config svcloop_config(const char *data_dir, const char *journal_vfs) {
    weir_service_config c;
    weir_service_config_defaults(&c);
    c.port = 0;
    c.log_level = "error";
    c.data_dir = data_dir;
    c.journal_vfs = journal_vfs;
    return c;
}

weir_service *svcloop_start(uv_loop_t *loop, const weir_service_config *c) {
    uv_loop_init(loop);
    weir_service *svc = NULL;
    weir_error err;
    cr_assert_eq(weir_service_start(loop, c, &svc, &err), 0, "%s", err.message);
    return svc;
}

void svcloop_stop(uv_loop_t *loop, weir_service *svc) {
    weir_service_destroy(svc);
    uv_run(loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(loop), 0, "every handle closed");
}
