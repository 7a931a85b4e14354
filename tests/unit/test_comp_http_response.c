/* symbia.io.http-response: emits {status, headers, body}; headers are
 * checked at load. */
#include <string.h>

#include "comp.h"

#define ONE(cfg)                                                                                                 \
    "{\"symbia\":\"1\",\"name\":\"c\",\"nodes\":[{\"id\":\"n\",\"component\":\"symbia.io.http-response\","        \
    "\"config\":" cfg "}],\"edges\":[]}"

Test(http_response, emits_the_answer) {
    test_shell ts;
    ts_init(&ts, false);
    weir_exec *e = comp_start(&ts, "symbia.io.http-response", NULL);
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "[1,2]")), "{\"n:out\":{\"body\":[1,2],\"headers\":{},\"status\":200}}");
    comp_stop(e);
    e = comp_start(&ts, "symbia.io.http-response", "{\"status\":201,\"headers\":{\"X-Order\":\"new\"}}");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "\"ok\"")),
                     "{\"n:out\":{\"body\":\"ok\",\"headers\":{\"X-Order\":\"new\"},\"status\":201}}");
    comp_stop(e);
    ts_fini(&ts);
}

Test(http_response, config_checks) {
    test_shell ts;
    ts_init(&ts, false);
    cr_assert(strstr(ts_graph_error(&ts, ONE("{\"status\":600}")), "from 200 to 599"));
    cr_assert(strstr(ts_graph_error(&ts, ONE("{\"status\":101}")), "status"));
    cr_assert(strstr(ts_graph_error(&ts, ONE("{\"headers\":{\"X-A\":1}}")), "must be a string"));
    cr_assert(strstr(ts_graph_error(&ts, ONE("{\"headers\":{\"X-A\":\"a\\r\\nSet-Cookie: x\"}}")), "control characters"));
    cr_assert(strstr(ts_graph_error(&ts, ONE("{\"headers\":{\"Bad Name\":\"a\"}}")), "not a valid HTTP token"));
    cr_assert(strstr(ts_graph_error(&ts, ONE("{\"headers\":{\"Content-Length\":\"3\"}}")), "set by the server"));
    cr_assert(strstr(ts_graph_error(&ts, ONE("{\"headers\":{\"Access-Control-Allow-Origin\":\"*\"}}")), "CORS_ORIGINS"));
    weir_graph_unref(ts_graph(&ts, ONE("{\"headers\":{\"Content-Type\":\"text/plain\"}}")));
    ts_fini(&ts);
}
