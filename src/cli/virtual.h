/* weir run --virtual: the virtual runtime from the command line. */
#ifndef WEIR_CLI_VIRTUAL_H
#define WEIR_CLI_VIRTUAL_H
#include <stdio.h>
#include <uv.h>

#include "weir/weir.h"

typedef struct cli_virtual_args {
    weir_graph *g;          /* BORROWED */
    const char *scenario;   /* a scenario file, or NULL */
    const char *mocks;      /* a mocks file, or NULL (the scenario's mocks) */
    bool step;              /* the interactive stepper */
    bool json;              /* one JSON document on stdout; the narration on stderr */
    int64_t tick_ms;        /* one tick */
    const char *const *injects; /* NODE[:PORT]=JSON, injected at tick 0 */
    size_t n_injects;
    bool allow_private;     /* unmocked http may reach loopback/private addresses */
    uint64_t max_wave_hops; /* MAX_WAVE_HOPS (0: the default) */
    json_t *scenario_doc;   /* BORROWED: a scenario already parsed (scenario names its folder, or NULL) */
    FILE *out, *err;        /* the narration and the errors (NULL: stdout / stderr) */
} cli_virtual_args;

/* Run; returns the exit code (0 ok, 1 failed or a check failed, 2 usage). */
int weir_cli_run_virtual(const cli_virtual_args *a);

#endif
