/* weir sim's insides, shared by src/runtime/sim_*.c only. */
#ifndef WEIR_RUNTIME_SIM_INT_H
#define WEIR_RUNTIME_SIM_INT_H
#include "core/expr.h"
#include "runtime/mocks.h"
#include "runtime/sim.h"

/* A mock, compiled (mocks.h). */
typedef weir__mock sim_mock;

typedef struct sim_inject {
    char *node, *port;
    json_t *value;
    uint64_t from, to; /* the window, in ticks */
} sim_inject;

typedef struct sim_invariant {
    char *name;
    char *source;
    weir_expr *x;
    bool at_end;
} sim_invariant;

typedef enum { IT_INJECT, IT_TIMER, IT_HTTP, IT_INVOKE } item_kind;

/* Something due at a tick: a scheduled inject or an effect's result. */
typedef struct sim_item {
    uint64_t due, seq;
    item_kind kind;
    uint32_t inject;     /* IT_INJECT */
    uint32_t mock;       /* IT_HTTP: the mock its latency came from */
    bool fail;           /* IT_HTTP: a fail fault fires */
    bool cancelled;      /* in the heap: skipped when due */
    uint64_t effect;     /* the effect id */
    uint64_t node_hash;  /* FNV-1a of the requesting node's id */
    uint32_t origin;     /* the inject whose waves requested it, or WEIR_SIM_NO_ORIGIN */
    json_t *payload;     /* IT_HTTP, IT_INVOKE: the request (a reference) */
} sim_item;

struct weir__sim {
    /* made once */
    weir_registry *reg;
    weir_graph *g;
    json_t *graph_doc;
    json_t *options;     /* the execute options the runs use (and the journal says) */
    weir_exec_options eo;
    int64_t tick_ms;
    uint64_t max_ticks;
    sim_mock *mocks;
    size_t n_mocks;
    sim_inject *injects;
    size_t n_injects;
    sim_invariant *invs;
    size_t n_invs;
    bool need_state; /* an invariant mentions `state` */
    json_t *world0;
    /* user components: their definitions, descriptors and the host that
     * runs their calls (on a loop of the worker's own), and the calls'
     * latency range and fault rate (scenario `userCalls`) */
    json_t *components;
    weir_user_component **ucs;
    size_t n_ucs;
    struct uv_loop_s *loop;
    weir_host *host;
    int64_t call_min, call_max;
    double call_fail;

    /* one run */
    weir_exec *e;
    uint64_t rng[4];
    const uint32_t *replay; /* choices given, or NULL: drawn */
    size_t n_replay;
    uint32_t *cv;
    uint8_t *ck;
    uint32_t *cr;
    uint32_t *co; /* each choice's origin */
    size_t nc, cc;
    uint32_t origin; /* the inject the delivery in progress belongs to */
    bool *swarm; /* per mock: [2m] fail on, [2m+1] timeout on */
    sim_item *heap;
    size_t nheap, cheap;
    sim_item *tied; /* due at the current tick, in request order */
    size_t ntied, ctied;
    uint64_t seq, tick, deliveries;
    json_t *world, *outputs, *ctx;
    json_t *v_tick, *v_wave, *v_pending; /* ctx's numbers, BORROWED from it */
    bool ctx_finished;
    bool finished;
    bool stop; /* an error was met inside a callback */
    bool details, logging;
    const weir__sim_hooks *hooks;
    uint64_t hash;
    weir__sim_result res;
    char msg[WEIR_ERROR_MAX];
    char *dump_outputs, *dump_world, *dump_state;
    json_t *log;
};

/* sim_scenario.c */
int weir__sim_scenario_load(weir__sim *s, json_t *sc, weir_error *err);
void weir__sim_scenario_free(weir__sim *s);
/* Compile src with the given names bound (world, request, ...): the names
 * are read from the evaluated value's fields of the same names. */
uint64_t weir__sim_fnv(const char *s, uint64_t h);
#define WEIR_SIM_FNV_BASIS 14695981039346656037ull

#endif
