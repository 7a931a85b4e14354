#include "comp.h"

#include <stdio.h>
#include <string.h>

static weir_graph *last_graph;

weir_exec *comp_start(test_shell *ts, const char *component, const char *config_json) {
    char buf[8192];
    snprintf(buf, sizeof buf,
             "{\"symbia\":\"1\",\"name\":\"c\",\"nodes\":[{\"id\":\"n\",\"component\":\"%s\"%s%s}],\"edges\":[]}",
             component, config_json ? ",\"config\":" : "", config_json ? config_json : "");
    last_graph = ts_graph(ts, buf);
    weir_exec_options o = {.id = "c1", .completion = WEIR_COMPLETION_NEVER, .on_error = WEIR_ON_ERROR_CONTINUE,
                           .timeout_ms = -1};
    weir_exec *e = ts_start(ts, last_graph, &o);
    weir_graph_unref(last_graph); /* the execution keeps it alive */
    return e;
}

json_t *comp_send(test_shell *ts, weir_exec *e, const char *value_json) {
    size_t before = json_array_size(ts->settled);
    cr_assert_eq(ts_inject(ts, e, "n", "in", value_json, 0), 0);
    if (json_array_size(ts->settled) == before) return NULL;
    return json_object_get(ts_last_settled(ts), "outputs");
}

void comp_stop(weir_exec *e) { weir_exec_destroy(e); }
