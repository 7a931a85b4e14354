/* Fuzz target: graph definitions (JSON).  Loads the input as a graph; when it
 * is valid, runs an execution and injects into every input node, so the
 * engine is exercised on whatever shape the fuzzer finds. */
#include <stdint.h>
#include <string.h>

#include "weir/weir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    weir_registry *reg = NULL;
    if (weir_registry_create(&reg)) return 0;
    weir_graph *g = NULL;
    weir_error err;
    if (weir_graph_load_text(reg, (const char *)data, size, NULL, &g, &err) == 0) {
        weir_exec *e = NULL;
        weir_shell sh = {0};
        weir_exec_options o = {.id = "fz", .timeout_ms = 0, .max_queue = 4};
        if (weir_exec_create(g, &o, &sh, &e, &err) == 0 && weir_exec_start(e, 0, &err) == 0) {
            json_t *topo = weir_graph_topology(g);
            json_t *values[] = {json_integer(21), json_string("x"), json_pack("{s:i,s:[i,i]}", "a", 1, "items", 1, 2)};
            size_t i;
            json_t *node;
            json_array_foreach(json_object_get(topo, "inputNodes"), i, node) {
                for (size_t k = 0; k < 3; k++) {
                    weir_inject in = {.node = json_string_value(node), .value = values[k],
                                      .flags = WEIR_INJECT_OUTPUTS | WEIR_INJECT_TRACE};
                    weir_exec_inject(e, &in, (int64_t)k, NULL, &err);
                }
                if (i == 0) weir_exec_pause(e, 5, &err);
            }
            weir_exec_resume(e, 6, &err);
            weir_exec_stop(e, 7, NULL, &err);
            for (size_t k = 0; k < 3; k++) json_decref(values[k]);
            json_decref(topo);
        }
        weir_exec_destroy(e);
    }
    weir_graph_unref(g);
    weir_registry_destroy(reg);
    return 0;
}
