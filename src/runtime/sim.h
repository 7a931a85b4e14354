/*
 * weir sim (SPEC §7.4): the graph run many times on a simulated world, one
 * seed each, every choice the world makes drawn from one recorded choice
 * sequence.  Internal to weir (the command line and the tests use it).
 *
 * A weir__sim is one worker: the graph loaded once, the scenario compiled
 * once (mocks, `when` and invariant expressions), and a shell of its own
 * (not the virtual runtime's: no JSON or string work per request beyond
 * what the core asks), with a component host of its own when the graph
 * uses user components.  A worker is used by one thread at a time;
 * workers share nothing (make one per thread).
 *
 * Choices.  Every choice goes through one function, draw(n) -> [0, n),
 * which appends the value to the run's choice sequence; 0 is always the
 * simplest value.  In order: per mock with a fault rate, whether `fail`
 * and `timeout` are on for this seed (swarm); per inject of the scenario,
 * whether it is present and its tick within its window; then, as the run
 * goes, per request (an http request or a user component call) its
 * latency within its range and whether a fault fires, and among results
 * due on the same tick, which goes next (0: the one requested first).  A run from a seed draws from xoshiro256** seeded
 * by splitmix64(seed); a run from a given sequence takes its i-th draw as
 * min(seq[i], n-1) and 0 past its end.  Both record what they drew, so a
 * seed, a shrunk failure and a written journal are one mechanism.
 */
#ifndef WEIR_RUNTIME_SIM_H
#define WEIR_RUNTIME_SIM_H
#include <stdbool.h>
#include <stdint.h>

#include "weir/weir.h"

/* Limits (SPEC §10).  --max-ticks: a run stops there (its `end`
 * invariants are checked); deliveries per run likewise; --seeds. */
#define WEIR_SIM_MAX_TICKS_DEFAULT 1000000u
#define WEIR_SIM_MAX_DELIVERIES 100000u
#define WEIR_SIM_MAX_SEEDS 100000000u
/* Shrinking stops after this many runs (deterministic: never a time). */
#define WEIR_SIM_SHRINK_MAX_RUNS 20000u
/* Bounds of a scenario's numbers. */
#define WEIR_SIM_MAX_MS 1000000000 /* a latency, a window end, ms or ticks */

/* What a choice decides (its kind), for shrinking and the log. */
typedef enum weir__sim_choice {
    WEIR_SIM_C_SWARM = 1, /* a fault kind on for this seed (ref: mock * 2 + timeout; 2 * mocks: user calls fail) */
    WEIR_SIM_C_PRESENT,   /* an inject is present (ref: inject index) */
    WEIR_SIM_C_AT,        /* an inject's tick within its window (ref: inject) */
    WEIR_SIM_C_LATENCY,   /* a request's latency within its range (ref: mock; mocks: a user call) */
    WEIR_SIM_C_FAULT,     /* a fault fires on a request (ref: mock * 2 + timeout; 2 * mocks: a user call) */
    WEIR_SIM_C_TIE,       /* which of the results due on one tick goes next */
} weir__sim_choice;

#define WEIR_SIM_NO_ORIGIN UINT32_MAX

typedef enum weir__sim_status {
    WEIR_SIM_PASS = 0,   /* every invariant held */
    WEIR_SIM_VIOLATION,  /* an invariant failed (or could not be evaluated) */
    WEIR_SIM_ERROR,      /* the scenario does not fit the run (no mock matches a request, ...) */
} weir__sim_status;

/* What a run did.  Strings and arrays are the worker's, valid until its
 * next run. */
typedef struct weir__sim_result {
    weir__sim_status status;
    int invariant;        /* the one that failed (index), or -1 */
    uint64_t tick;        /* the virtual clock (ticks) when it failed, or at the end */
    uint64_t wave;        /* the execution's tick (wave) then */
    uint64_t waves;       /* waves checked (deliveries and the start) */
    uint64_t interleaving; /* hash of the order of deliveries by (node, kind) */
    bool at_limit;        /* stopped at max ticks or WEIR_SIM_MAX_DELIVERIES */
    const char *message;  /* why (an invariant that threw, an error), or NULL */
    /* the choices drawn, their kinds and refs, and the inject each was
     * drawn for: a latency or fault drawn for a request made in a wave
     * that inject started (or a wave one of its requests' results
     * started, and so on), WEIR_SIM_NO_ORIGIN for the rest */
    const uint32_t *choices;
    const uint8_t *kinds;
    const uint32_t *refs;
    const uint32_t *origins;
    size_t n_choices;
    /* with details: compact JSON of the outputs, world (and state) the
     * failing invariant saw, NULL otherwise */
    const char *outputs_json, *world_json, *state_json;
    /* with logging: the run told line by line ("tick 3  inject ..."), NULL otherwise */
    json_t *log;
} weir__sim_result;

/* Extra hooks of a run: the inputs the execution accepts (weir_shell.input
 * and input_done, e.g. a journal recorder), NULL for none. */
typedef struct weir__sim_hooks {
    void *ud;
    int (*input)(void *ud, weir_exec *e, const struct weir_input_rec *in, weir_error *err);
    void (*input_done)(void *ud, weir_exec *e, const struct weir_input_digest *d);
} weir__sim_hooks;

typedef struct weir__sim weir__sim;

typedef struct weir__sim_config {
    const char *graph_text; /* the graph document as JSON text */
    size_t graph_len;
    json_t *scenario;       /* BORROWED (deep-copied): the scenario, mocks inlined */
    json_t *components;     /* BORROWED (copied), or NULL: user component definitions
                               (SPEC §2.3), run by a component host (Node.js) of the
                               worker's own; their calls go one at a time */
    uint64_t max_ticks;     /* 0: WEIR_SIM_MAX_TICKS_DEFAULT */
} weir__sim_config;

/* A worker.  WEIR_EINVAL with a message naming the scenario's field and
 * what it takes; WEIR_EGRAPH for a graph that does not load (the message
 * lists the problems; user components: "weir sim does not run user
 * components yet"); WEIR_ENOMEM. */
int weir__sim_create(const weir__sim_config *cfg, weir__sim **out, weir_error *err);
void weir__sim_destroy(weir__sim *s);

/* Check a scenario document alone (the fuzz target): 0 or WEIR_EINVAL as
 * weir__sim_create would say it.  Needs no graph. */
int weir__sim_check_scenario(json_t *scenario, weir_error *err);

/* Run one seed (choices drawn from the seed's generator). */
void weir__sim_run_seed(weir__sim *s, uint64_t seed, weir__sim_result *res);
/* Run a choice sequence (choices BORROWED for the call).  details: dump
 * the values a failing invariant saw; logging: tell the run in res->log;
 * hooks may be NULL. */
void weir__sim_run_choices(weir__sim *s, const uint32_t *choices, size_t n, bool details, bool logging,
                           const weir__sim_hooks *hooks, weir__sim_result *res);
/* The same for a seed, with details and logging. */
void weir__sim_run_seed_full(weir__sim *s, uint64_t seed, bool logging, weir__sim_result *res);

/* Shrink a failing choice sequence (BORROWED) that fails invariant inv:
 * passes until nothing changes (or WEIR_SIM_SHRINK_MAX_RUNS runs) —
 * remove each present inject, each fault and each swarm flag, set every
 * other choice to 0, then halve it toward 0 — keeping a change only when
 * the same invariant still fails.  *out (malloc'd, the caller frees) gets
 * the shrunk sequence, *runs the runs it took; *complete is false when
 * the bound stopped it (the result is then not known to be minimal).
 * WEIR_ENOMEM. */
int weir__sim_shrink(weir__sim *s, const uint32_t *choices, size_t n, int inv, uint32_t **out, size_t *nout,
                     uint64_t *runs, bool *complete);

/* The scenario's numbers, for reports. */
size_t weir__sim_invariant_count(const weir__sim *s);
const char *weir__sim_invariant_name(const weir__sim *s, int i);
const char *weir__sim_invariant_source(const weir__sim *s, int i);
bool weir__sim_invariant_at_end(const weir__sim *s, int i);
/* The START body of a journal of this worker's runs: {"op": "start",
 * graphId, graph (the document), components: [], options, runtime:
 * "virtual", executionId}.  NEW, NULL on out of memory. */
json_t *weir__sim_start_body(const weir__sim *s);

/* ------------------------------------------------------------ search */

/* Seeds first .. first + count - 1 over `jobs` workers (threads).  The
 * reported failure is the one with the smallest seed, whatever the jobs:
 * a worker stops taking seeds above the best failing one found so far,
 * and every seed below it is run. */
typedef struct weir__sim_search {
    uint64_t first, count;
    unsigned jobs;
    /* out: */
    uint64_t done;          /* seeds run (all of them when nothing failed) */
    uint64_t waves;         /* waves checked, summed (when nothing failed) */
    uint64_t interleavings; /* distinct interleavings (when nothing failed) */
    bool failed;
    uint64_t failing_seed;
    weir__sim_status status;
    int invariant;
    /* progress, read by another thread while it runs */
    volatile uint64_t progress, violations;
} weir__sim_search;

/* workers[0..jobs-1], made by the caller.  progress (optional) is called
 * from the calling thread about every 100 ms while the search runs.
 * 0, or WEIR_ENOMEM / WEIR_EINTERNAL (a thread could not start). */
int weir__sim_search_run(weir__sim **workers, weir__sim_search *sr,
                         void (*progress)(void *ud, const weir__sim_search *sr),
                         void *ud, weir_error *err);

/* The generator, for tests: splitmix64 of x. */
uint64_t weir__sim_splitmix64(uint64_t *x);

#endif
