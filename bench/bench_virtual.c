/*
 * The virtual runtime, in-process (one core, no subscribers):
 *   timers/s  — 200,000 injects into a → delay → z, each a timer that falls
 *               due on a later tick; `run` plays them all (heap + waves);
 *   steps/s   — a 10-node chain walked one node invocation at a time;
 *   ticks/s   — empty ticks (the cost of moving the clock one tick).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graphs.h"
#include "weir/weir.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what, const weir_error *err) {
    fprintf(stderr, "bench_virtual: %s: %s\n", what, err ? err->message : "failed");
    exit(1);
}

static char buf[16384];

static const char *chain(int n) { return bench_chain(buf, n, ",\"metadata\":{\"completion\":\"never\"}"); }

static const char DELAYED[] =
    "{\"symbia\":\"1\",\"name\":\"d\",\"metadata\":{\"completion\":\"never\"},\"nodes\":["
    "{\"id\":\"a\",\"component\":\"symbia.core.passthrough\"},"
    "{\"id\":\"d\",\"component\":\"symbia.core.delay\",\"config\":{\"delayMs\":7}},"
    "{\"id\":\"z\",\"component\":\"symbia.core.passthrough\"}],\"edges\":["
    "{\"source\":{\"node\":\"a\",\"port\":\"out\"},\"target\":{\"node\":\"d\",\"port\":\"in\"}},"
    "{\"source\":{\"node\":\"d\",\"port\":\"out\"},\"target\":{\"node\":\"z\",\"port\":\"in\"}}]}";

typedef struct rig {
    weir_registry *reg;
    weir_graph *g;
    weir_virtual *v;
    weir_exec *e;
} rig;

static void rig_start(rig *r, const char *graph) {
    weir_error err;
    if (weir_registry_create(&r->reg)) die("registry", NULL);
    if (weir_graph_load_text(r->reg, graph, strlen(graph), NULL, &r->g, &err)) die("graph", &err);
    weir_virtual_options vo = {.tick_ms = 1};
    if (weir_virtual_create(&vo, &r->v, &err)) die("virtual", &err);
    weir_shell sh = {0};
    weir_virtual_shell(r->v, &sh);
    if (weir_exec_create(r->g, NULL, &sh, &r->e, &err)) die("exec", &err);
    weir_virtual_bind(r->v, r->e);
    if (weir_exec_start(r->e, 0, &err)) die("start", &err);
}

static void rig_stop(rig *r) {
    weir_exec_destroy(r->e);
    weir_virtual_destroy(r->v);
    weir_graph_unref(r->g);
    weir_registry_destroy(r->reg);
}

static void timers(void) {
    rig r;
    rig_start(&r, DELAYED);
    const int n = 200000;
    json_t *val = json_integer(1);
    weir_inject in = {.node = "a", .value = val};
    weir_error err;
    double t0 = now_s();
    /* one inject per tick: each arms a timer 7 ticks later */
    for (int i = 0; i < n; i++) {
        if (weir_exec_inject(r.e, &in, weir_virtual_now(r.v), NULL, &err)) die("inject", &err);
        if (weir_virtual_tick(r.v, &err)) die("tick", &err);
    }
    bool idle;
    if (weir_virtual_run(r.v, 0, &idle, &err) || !idle) die("run", &err);
    double dt = now_s() - t0;
    printf("virtual timers          %8.2f M timers/s (inject + tick + delivery + wave; %d in %.3f s)\n", n / dt / 1e6,
           n, dt);
    json_decref(val);
    rig_stop(&r);
}

static void steps(void) {
    rig r;
    rig_start(&r, chain(10));
    json_t *val = json_integer(1);
    weir_inject in = {.node = "n0", .value = val};
    weir_error err;
    const int waves = 100000;
    long stepped = 0;
    double t0 = now_s();
    weir_exec_stepping(r.e, true, 0);
    for (int i = 0; i < waves; i++) {
        if (weir_exec_inject(r.e, &in, 0, NULL, &err)) die("inject", &err);
        weir_step st;
        do {
            if (weir_virtual_step(r.v, &st, &err)) die("step", &err);
            stepped += st.stepped;
        } while (st.stepped && !st.wave_done);
    }
    double dt = now_s() - t0;
    printf("virtual steps (chain 10) %7.2f M steps/s (%ld steps in %.3f s)\n", stepped / dt / 1e6, stepped, dt);
    json_decref(val);
    rig_stop(&r);
}

static void ticks(void) {
    rig r;
    rig_start(&r, chain(2));
    weir_error err;
    const int n = 5000000;
    double t0 = now_s();
    for (int i = 0; i < n; i++)
        if (weir_virtual_tick(r.v, &err)) die("tick", &err);
    double dt = now_s() - t0;
    printf("virtual empty ticks     %8.2f M ticks/s\n", n / dt / 1e6);
    rig_stop(&r);
}

int main(void) {
    timers();
    steps();
    ticks();
    return 0;
}
