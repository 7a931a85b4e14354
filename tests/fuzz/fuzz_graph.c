/* Fuzz target: graph definitions (JSON).  Loads the input as a graph from
 * its text and, when it is JSON, from its document too: both ways must give
 * the same answer (result, message, problems).  When it is valid, runs an
 * execution and injects into every input node, so the engine is exercised
 * on whatever shape the fuzzer finds. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weir/weir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    weir_registry *reg = NULL;
    if (weir_registry_create(&reg)) return 0;
    weir_graph *g = NULL;
    weir_error err;
    json_t *p1 = json_array(), *p2 = json_array();
    weir_graph_options o1 = {.problems = p1}, o2 = {.problems = p2};
    int rc = weir_graph_load_text(reg, (const char *)data, size, &o1, &g, &err);
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (doc) {
        weir_graph *g2 = NULL;
        weir_error err2;
        int rc2 = weir_graph_load(reg, doc, &o2, &g2, &err2);
        bool same = rc == rc2 && (!p1 || !p2 || json_equal(p1, p2)) &&
                    (!rc || rc == WEIR_ENOMEM || strcmp(err.message, err2.message) == 0);
        if (!same) abort(); /* the text and the document disagree */
        weir_graph_unref(g2);
        json_decref(doc);
    }
    json_decref(p1);
    json_decref(p2);
    if (rc == 0) {
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
