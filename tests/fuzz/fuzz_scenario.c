/* Fuzz target: `weir run --virtual` scenarios (any JSON document) played
 * against a fixed graph with a delay, a split and a merge, through the same
 * code as the command line; narration and errors go to /dev/null. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/virtual.h"

static const char GRAPH[] =
    "{\"symbia\":\"1.0\",\"name\":\"fz\",\"nodes\":["
    "{\"id\":\"a\",\"component\":\"symbia.core.passthrough\"},"
    "{\"id\":\"d\",\"component\":\"symbia.core.delay\",\"config\":{\"delayMs\":3}},"
    "{\"id\":\"s\",\"component\":\"symbia.core.split\",\"config\":{\"condition\":\"value > 1\"}},"
    "{\"id\":\"m\",\"component\":\"symbia.core.merge\",\"config\":{\"mode\":\"zip\"}},"
    "{\"id\":\"z\",\"component\":\"symbia.core.passthrough\"}],\"edges\":["
    "{\"source\":{\"node\":\"a\",\"port\":\"out\"},\"target\":{\"node\":\"d\",\"port\":\"in\"}},"
    "{\"source\":{\"node\":\"d\",\"port\":\"out\"},\"target\":{\"node\":\"s\",\"port\":\"in\"}},"
    "{\"source\":{\"node\":\"s\",\"port\":\"true\"},\"target\":{\"node\":\"m\",\"port\":\"t\"}},"
    "{\"source\":{\"node\":\"s\",\"port\":\"false\"},\"target\":{\"node\":\"m\",\"port\":\"f\"}},"
    "{\"source\":{\"node\":\"m\",\"port\":\"out\"},\"target\":{\"node\":\"z\",\"port\":\"in\"}}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static weir_registry *reg;
    static weir_graph *g;
    static FILE *null;
    if (!g) {
        weir_error err;
        if (weir_registry_create(&reg) || weir_graph_load_text(reg, GRAPH, strlen(GRAPH), NULL, &g, &err)) {
            fprintf(stderr, "fuzz_scenario: the fixed graph does not load: %s\n", err.message);
            abort(); /* the target itself is broken */
        }
        null = fopen("/dev/null", "w");
    }
    json_t *doc = json_loadb((const char *)data, size, 0, NULL);
    if (!doc) return 0;
    cli_virtual_args a = {.g = g, .scenario_doc = doc, .tick_ms = 1, .out = null, .err = null};
    if (getenv("FUZZ_SCENARIO_VERBOSE")) a.out = a.err = stderr;
    weir_cli_run_virtual(&a);
    json_decref(doc);
    return 0;
}
