/* Fuzz target: weir sim scenarios (any JSON or YAML document) — read and
 * compiled (mocks with latency ranges, fail / timeout rates, set, when;
 * injects with windows; invariants), then, when taken, run for a few seeds
 * against a fixed graph (an http request, a delay, an error port), and a
 * failure shrunk.  Nothing may crash, leak or run unbounded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/sim.h"

static const char GRAPH[] =
    "{\"symbia\":\"1.0\",\"name\":\"fz\",\"nodes\":["
    "{\"id\":\"in\",\"component\":\"symbia.core.passthrough\"},"
    "{\"id\":\"get\",\"component\":\"symbia.io.http-request\",\"config\":{\"url\":\"http://svc.test/{{value}}\"}},"
    "{\"id\":\"wait\",\"component\":\"symbia.core.delay\",\"config\":{\"delayMs\":3}},"
    "{\"id\":\"done\",\"component\":\"symbia.core.passthrough\"},"
    "{\"id\":\"failed\",\"component\":\"symbia.core.passthrough\"}],\"edges\":["
    "{\"id\":\"e1\",\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"get\",\"port\":\"in\"}},"
    "{\"id\":\"e2\",\"source\":{\"node\":\"get\",\"port\":\"out\"},\"target\":{\"node\":\"wait\",\"port\":\"in\"}},"
    "{\"id\":\"e3\",\"source\":{\"node\":\"wait\",\"port\":\"out\"},\"target\":{\"node\":\"done\",\"port\":\"in\"}},"
    "{\"id\":\"e4\",\"source\":{\"node\":\"get\",\"port\":\"error\"},\"target\":{\"node\":\"failed\",\"port\":\"in\"}}"
    "]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *doc = NULL;
    weir_error err;
    if (weir_doc_parse((const char *)data, size, WEIR_DOC_AUTO, &doc, &err)) return 0;
    (void)weir__sim_check_scenario(doc, &err);
    weir__sim_config cfg = {.graph_text = GRAPH, .graph_len = strlen(GRAPH), .scenario = doc, .max_ticks = 5000};
    weir__sim *s = NULL;
    if (weir__sim_create(&cfg, &s, &err) == 0) {
        for (uint64_t seed = 1; seed <= 4; seed++) {
            weir__sim_result r;
            weir__sim_run_seed(s, seed, &r);
            if (r.status != WEIR_SIM_VIOLATION) continue;
            uint32_t *orig = malloc((r.n_choices ? r.n_choices : 1) * sizeof *orig);
            if (!orig) break;
            memcpy(orig, r.choices, r.n_choices * sizeof *orig);
            uint32_t *shrunk = NULL;
            size_t n = 0;
            uint64_t runs;
            bool complete;
            if (weir__sim_shrink(s, orig, r.n_choices, r.invariant, &shrunk, &n, &runs, &complete) == 0) {
                weir__sim_run_choices(s, shrunk, n, true, true, NULL, &r);
                if (getenv("FUZZ_SIM_VERBOSE") && r.log) {
                    char *t = json_dumps(r.log, JSON_INDENT(1));
                    fprintf(stderr, "%s\n", t ? t : "?");
                    free(t);
                }
            }
            free(shrunk);
            free(orig);
            break;
        }
    } else if (getenv("FUZZ_SIM_VERBOSE")) {
        fprintf(stderr, "refused: %s\n", err.message);
    }
    weir__sim_destroy(s);
    json_decref(doc);
    return 0;
}
