/* symbia.io.http-in: forwards the request's value; its config is checked at
 * load (path, timeoutMs bound); it keeps its executions running. */
#include <string.h>

#include "comp.h"

#define ONE(cfg) \
    "{\"symbia\":\"1\",\"name\":\"c\",\"nodes\":[{\"id\":\"n\",\"component\":\"symbia.io.http-in\",\"config\":" cfg "}],\"edges\":[]}"

Test(http_in, forwards_the_value) {
    test_shell ts;
    ts_init(&ts, false);
    weir_exec *e = comp_start(&ts, "symbia.io.http-in", "{\"path\":\"/orders\"}");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "{\"id\":7}")), "{\"n:out\":{\"id\":7}}");
    comp_stop(e);
    ts_fini(&ts);
}

Test(http_in, config_defaults_and_checks) {
    test_shell ts;
    ts_init(&ts, false);
    weir_graph *g = ts_graph(&ts, ONE("{\"path\":\"/a/b\"}"));
    json_t *cfg = weir_graph_node_config(g, 0);
    cr_assert_str_eq(ts_dump(cfg), "{\"method\":\"POST\",\"path\":\"/a/b\",\"raw\":false,\"timeoutMs\":30000}");
    weir_graph_unref(g);
    cr_assert(strstr(ts_graph_error(&ts, ONE("{}")), "path"));
    cr_assert(strstr(ts_graph_error(&ts, ONE("{\"path\":\"orders\"}")), "must start with /"));
    cr_assert(strstr(ts_graph_error(&ts, ONE("{\"path\":\"/a?b=1\"}")), "may not contain"));
    cr_assert(strstr(ts_graph_error(&ts, ONE("{\"path\":\"/a b\"}")), "may not contain"));
    cr_assert(strstr(ts_graph_error(&ts, ONE("{\"path\":\"/a\",\"method\":\"TRACE\"}")), "method"));
    cr_assert(strstr(ts_graph_error(&ts, ONE("{\"path\":\"/a\",\"timeoutMs\":600001}")),
                     "at most 600000 (WEIR_HTTP_IN_MAX_TIMEOUT_MS)"));
    cr_assert(strstr(ts_graph_error(&ts, ONE("{\"path\":\"/a\",\"timeoutMs\":0}")), "timeoutMs"));
    weir_graph_unref(ts_graph(&ts, ONE("{\"path\":\"/a\",\"timeoutMs\":600000}")));
    ts_fini(&ts);
}

/* An open input source: completion defaults to never, unless metadata says. */
Test(http_in, keeps_its_executions_running) {
    test_shell ts;
    ts_init(&ts, false);
    weir_graph *g = ts_graph(&ts, ONE("{\"path\":\"/a\"}"));
    weir_exec_options o = {0};
    weir_exec *e = ts_start(&ts, g, &o);
    ts_inject(&ts, e, "n", NULL, "1", 1);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_RUNNING, "an output node emitted and nothing is in flight: still running");
    weir_exec_destroy(e);
    weir_graph_unref(g);
    g = ts_graph(&ts, "{\"symbia\":\"1\",\"name\":\"c\",\"metadata\":{\"completion\":\"auto\"},\"nodes\":[{\"id\":\"n\","
                      "\"component\":\"symbia.io.http-in\",\"config\":{\"path\":\"/a\"}}],\"edges\":[]}");
    e = ts_start(&ts, g, &o);
    ts_inject(&ts, e, "n", NULL, "1", 1);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_COMPLETED, "metadata.completion auto wins");
    weir_exec_destroy(e);
    weir_graph_unref(g);
    ts_fini(&ts);
}
