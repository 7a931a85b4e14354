/* Helpers for single-component tests: a graph of one node (plus optional
 * wiring) run on the test shell. */
#ifndef WEIR_TEST_COMP_H
#define WEIR_TEST_COMP_H
#include "shell.h"

/* Graph with one node "n" of `component` and config JSON (or NULL), no edges,
 * started with completion never and onError continue. */
weir_exec *comp_start(test_shell *ts, const char *component, const char *config_json);
/* Inject into n:in; return the outputs of the settled inject (BORROWED) or
 * NULL if it has not settled. */
json_t *comp_send(test_shell *ts, weir_exec *e, const char *value_json);
void comp_stop(weir_exec *e);

#endif
