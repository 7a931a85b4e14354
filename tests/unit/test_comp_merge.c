#include <string.h>

#include "shell.h"

#define PT(id) "{\"id\":\"" id "\",\"component\":\"symbia.core.passthrough\"}"
#define TO_M(a, p) "{\"source\":{\"node\":\"" a "\",\"port\":\"out\"},\"target\":{\"node\":\"m\",\"port\":\"" p "\"}}"

static weir_exec *merge_graph(test_shell *ts, const char *mode) {
    char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"symbia\":\"1\",\"name\":\"m\",\"nodes\":[" PT("a") "," PT("b") ",{\"id\":\"m\",\"component\":"
             "\"symbia.core.merge\",\"config\":{\"mode\":\"%s\"}}],\"edges\":[" TO_M("a", "x") "," TO_M("b", "y") "]}",
             mode);
    weir_graph *g = ts_graph(ts, buf);
    weir_exec_options o = {.id = "m", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1};
    weir_exec *e = ts_start(ts, g, &o);
    weir_graph_unref(g);
    return e;
}

static const char *send(test_shell *ts, weir_exec *e, const char *node, const char *v) {
    ts_inject(ts, e, node, "in", v, 0);
    return ts_dump(json_object_get(ts_last_settled(ts), "outputs"));
}

Test(merge, any_forwards_each) {
    test_shell ts;
    ts_init(&ts, false);
    weir_exec *e = merge_graph(&ts, "any");
    cr_assert_str_eq(send(&ts, e, "a", "1"), "{\"m:out\":1}");
    cr_assert_str_eq(send(&ts, e, "b", "2"), "{\"m:out\":2}");
    weir_exec_destroy(e);
    ts_fini(&ts);
}

Test(merge, zip_waits_for_every_input_and_pairs_in_order) {
    test_shell ts;
    ts_init(&ts, false);
    weir_exec *e = merge_graph(&ts, "zip");
    cr_assert_str_eq(send(&ts, e, "a", "1"), "{}");
    cr_assert_str_eq(send(&ts, e, "a", "2"), "{}");
    cr_assert_str_eq(send(&ts, e, "b", "\"p\""), "{\"m:out\":{\"x\":1,\"y\":\"p\"}}");
    cr_assert_str_eq(send(&ts, e, "b", "\"q\""), "{\"m:out\":{\"x\":2,\"y\":\"q\"}}");
    cr_assert_str_eq(send(&ts, e, "b", "\"r\""), "{}");
    weir_exec_destroy(e);
    ts_fini(&ts);
}

Test(merge, latest_emits_once_every_input_has_a_value) {
    test_shell ts;
    ts_init(&ts, false);
    weir_exec *e = merge_graph(&ts, "latest");
    cr_assert_str_eq(send(&ts, e, "a", "1"), "{}");
    cr_assert_str_eq(send(&ts, e, "a", "2"), "{}");
    cr_assert_str_eq(send(&ts, e, "b", "3"), "{\"m:out\":{\"x\":2,\"y\":3}}");
    cr_assert_str_eq(send(&ts, e, "a", "4"), "{\"m:out\":{\"x\":4,\"y\":3}}");
    weir_exec_destroy(e);
    ts_fini(&ts);
}
