/* Fuzz target: composed graphs (SPEC §1, src/core/compose.c).  The input
 * is {"graph": <a graph document>, "graphs": {<name>: <document>, ...}}:
 * graph: nodes resolve from "graphs" (a version must equal the document's).
 * Whatever loads must also load from its flattened document alone (what a
 * journal keeps) to the same topology, and run. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weir/weir.h"

static int resolve(void *ud, const char *name, const char *version, json_t **doc, weir_error *err) {
    json_t *d = json_object_get((json_t *)ud, name);
    const char *v = json_string_value(json_object_get(d, "version"));
    if (!d || (version && (!v || strcmp(v, version) != 0))) {
        snprintf(err->message, sizeof err->message, "no graph %s", name);
        return err->code = WEIR_ENOTFOUND;
    }
    *doc = json_incref(d);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *in = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!in) return 0;
    weir_registry *reg = NULL;
    if (weir_registry_create(&reg)) {
        json_decref(in);
        return 0;
    }
    weir_graph *g = NULL;
    weir_error err;
    json_t *flat = NULL, *problems = json_array(), *details = json_array();
    weir_graph_options o = {.problems = problems, .details = details, .resolve = resolve,
                            .resolve_ud = json_object_get(in, "graphs"), .max_nodes = 2000, .flattened = &flat};
    int rc = weir_graph_load(reg, json_object_get(in, "graph"), &o, &g, &err);
    if (rc == WEIR_EGRAPH && (json_array_size(problems) == 0 || !err.message[0])) abort(); /* a refusal says why */
    if (rc == 0 && flat) {
        weir_graph *again = NULL;
        weir_graph_options plain = {0};
        int rc2 = weir_graph_load(reg, flat, &plain, &again, &err);
        if (rc2 && rc2 != WEIR_ENOMEM) abort(); /* the flattened document loads alone */
        if (!rc2) {
            json_t *t1 = weir_graph_topology(g), *t2 = weir_graph_topology(again);
            if (t1 && t2 && !json_equal(t1, t2)) abort(); /* ... to the same graph */
            json_decref(t1);
            json_decref(t2);
        }
        weir_graph_unref(again);
    }
    if (rc == 0) {
        weir_exec *e = NULL;
        weir_shell sh = {0};
        weir_exec_options eo = {.id = "fz", .timeout_ms = 0, .max_queue = 4};
        if (weir_exec_create(g, &eo, &sh, &e, &err) == 0 && weir_exec_start(e, 0, &err) == 0) {
            json_t *topo = weir_graph_topology(g), *v = json_integer(21);
            size_t i;
            json_t *node;
            json_array_foreach(json_object_get(topo, "inputNodes"), i, node) {
                weir_inject inj = {.node = json_string_value(node), .value = v, .flags = WEIR_INJECT_OUTPUTS};
                weir_exec_inject(e, &inj, (int64_t)i, NULL, &err);
            }
            weir_exec_stop(e, 100, NULL, &err);
            json_decref(v);
            json_decref(topo);
        }
        weir_exec_destroy(e);
    }
    weir_graph_unref(g);
    json_decref(flat);
    json_decref(problems);
    json_decref(details);
    json_decref(in);
    weir_registry_destroy(reg);
    return 0;
}
