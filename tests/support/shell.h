/*
 * A tiny shell for tests: drives the core through the public API, records
 * every event, effect request, cancel and settled inject as JSON so tests can
 * assert on them, and lets the test resolve effects by hand.
 */
#ifndef WEIR_TEST_SHELL_H
#define WEIR_TEST_SHELL_H
#include <criterion/criterion.h>

#include "weir/weir.h"

typedef struct test_shell {
    weir_shell sh;
    weir_registry *reg;
    json_t *events;    /* [{seq, event, data}] */
    json_t *effects;   /* [{id, kind, node, payload}] in request order (not log) */
    json_t *logs;      /* log effect payloads */
    json_t *cancelled; /* [id] */
    json_t *settled;   /* [{injectId, outputs, trace, hops, status, error?}] */
    int finished;
    int64_t clock_ns;   /* the test clock: each read advances it by clock_step */
    int64_t clock_step; /* ns per read (0: 1000) */
    size_t clock_reads; /* reads so far */
    const weir_graph_options *graph_opts; /* what ts_graph and ts_graph_error load with (NULL: none) */
} test_shell;

/* with_events: install the event callback (otherwise no events are built). */
void ts_init(test_shell *ts, bool with_events);
void ts_fini(test_shell *ts);
/* Load a graph from JSON text against the built-in registry (+ extras
 * registered on ts->reg); asserts success. */
weir_graph *ts_graph(test_shell *ts, const char *json);
/* Load expecting failure; returns the error message (static buffer). */
const char *ts_graph_error(test_shell *ts, const char *json);
/* Create and start an execution at time 0; asserts success. */
weir_exec *ts_start(test_shell *ts, weir_graph *g, const weir_exec_options *opts);
/* Inject value (JSON text) into node:port with OUTPUTS|TRACE; asserts rc. */
int ts_inject(test_shell *ts, weir_exec *e, const char *node, const char *port, const char *value_json, int64_t now);
/* The last settled record, or NULL. */
json_t *ts_last_settled(test_shell *ts);
/* The id of the i-th effect request. */
uint64_t ts_effect_id(test_shell *ts, size_t i);
/* Count events with this name. */
size_t ts_count_events(test_shell *ts, const char *name);
/* Compact JSON text of a value (static buffer, for asserts). */
const char *ts_dump(json_t *v);
/* Events as one string, dropping timing fields (avgLatencyMs, maxLatencyMs). */
char *ts_events_text(test_shell *ts);

#endif
