/* MAX_WAVE_HOPS (SPEC §10): the work one input can cause is bounded.  A
 * fan-out lattice (every node of a layer wired to both nodes of the next)
 * doubles the messages at each layer; the wave stops at the bound, the
 * inject settles with an error naming it, the execution fails or, with
 * onError continue, goes on, and the memory of the stopped wave comes back. */
#include <string.h>
#include <time.h>

#include "graphs.h"
#include "failalloc.h"
#include "shell.h"

static test_shell ts;
static void setup(void) { ts_init(&ts, true); }
static void teardown(void) {
    ts_fini(&ts);
    fa_uninstall();
}
TestSuite(wave, .init = setup, .fini = teardown);

static weir_graph *lattice_graph(int layers) {
    char *text = tg_lattice(layers);
    weir_graph *g = ts_graph(&ts, text);
    free(text);
    return g;
}

static double cpu_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static const char *msg_of(json_t *err) { return json_string_value(json_object_get(err, "message")); }

Test(wave, a_26_layer_lattice_is_stopped_at_the_default_bound_in_milliseconds) {
    ts_fini(&ts);
    ts_init(&ts, false); /* a shell that builds no event, as when nobody watches */
    weir_graph *g = lattice_graph(26); /* 2^26 - 1 hops unbounded */
    weir_exec_options o = {.id = "x", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1};
    weir_exec *e = ts_start(&ts, g, &o);
    /* outputs, as the REST inject asks (a trace would cost a JSON entry per hop) */
    weir_inject in = {.node = "n0_0", .value = json_integer(1), .flags = WEIR_INJECT_OUTPUTS};
    weir_error err;
    double t0 = cpu_ms();
    cr_assert_eq(weir_exec_inject(e, &in, 0, NULL, &err), 0, "%s", err.message);
    double spent = cpu_ms() - t0;
    json_decref(in.value);
    json_t *s = ts_last_settled(&ts);
    cr_assert_not_null(s, "the inject settled");
    cr_assert_eq(json_integer_value(json_object_get(s, "status")), WEIR_ELIMIT, "%s", ts_dump(s));
    json_t *serr = json_object_get(s, "error");
    cr_assert(strstr(msg_of(serr), "MAX_WAVE_HOPS (1000000)"), "%s", ts_dump(serr));
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(serr, "details"), "limit")), "MAX_WAVE_HOPS");
    json_int_t hops = json_integer_value(json_object_get(s, "hops"));
    cr_assert(hops > 0 && hops <= 1000000, "hops %lld", (long long)hops);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_FAILED);
    cr_assert(strstr(msg_of(weir_exec_error(e)), "MAX_WAVE_HOPS"), "%s", ts_dump(weir_exec_error(e)));
    cr_assert_not_null(json_object_get(weir_exec_error(e), "nodeId"));
    cr_assert_eq(ts.finished, 1);
    /* Generous for sanitizer builds and a loaded machine; unbounded it is
     * 2^26 hops, tens of seconds. */
    cr_assert_lt(spent, 2000.0, "the refusal took %.0f ms of CPU", spent);
    json_t *m = weir_exec_metrics(e, 0);
    cr_assert_eq(json_integer_value(json_object_get(m, "errorCount")), 1);
    cr_assert_eq(json_integer_value(json_object_get(m, "messagesProcessed")), hops);
    json_decref(m);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

/* A chain a → b → c → d: the bound counts messages processed, the unit of
 * the inject's `hops`, and the node that emitted past it is named. */
#define PT(id) "{\"id\":\"" id "\",\"component\":\"symbia.core.passthrough\"}"
#define E(a, b) "{\"source\":{\"node\":\"" a "\",\"port\":\"out\"},\"target\":{\"node\":\"" b "\",\"port\":\"in\"}}"
static const char *CHAIN = "{\"symbia\":\"1.0\",\"name\":\"chain\",\"nodes\":[" PT("a") "," PT("b") "," PT("c") "," PT(
    "d") "],\"edges\":[" E("a", "b") "," E("b", "c") "," E("c", "d") "]}";

Test(wave, the_bound_is_exact_in_hops) {
    weir_graph *g = ts_graph(&ts, CHAIN);
    weir_exec_options o = {.id = "x", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1, .max_wave_hops = 4};
    weir_exec *e = ts_start(&ts, g, &o);
    ts_inject(&ts, e, "a", "in", "1", 0);
    json_t *s = ts_last_settled(&ts);
    cr_assert_eq(json_integer_value(json_object_get(s, "status")), 0, "4 hops fit in 4: %s", ts_dump(s));
    cr_assert_eq(json_integer_value(json_object_get(s, "hops")), 4);
    cr_assert_str_eq(ts_dump(json_object_get(s, "outputs")), "{\"d:out\":1}");
    weir_exec_destroy(e);

    o.max_wave_hops = 3;
    e = ts_start(&ts, g, &o);
    ts_inject(&ts, e, "a", "in", "2", 0);
    s = ts_last_settled(&ts);
    cr_assert_eq(json_integer_value(json_object_get(s, "status")), WEIR_ELIMIT, "%s", ts_dump(s));
    cr_assert_eq(json_integer_value(json_object_get(s, "hops")), 3);
    cr_assert_str_eq(ts_dump(json_object_get(s, "outputs")), "{}", "the cut wave emits nothing more");
    json_t *serr = json_object_get(s, "error");
    cr_assert_str_eq(json_string_value(json_object_get(serr, "nodeId")), "c", "%s", ts_dump(serr));
    cr_assert(strstr(msg_of(serr), "MAX_WAVE_HOPS (3)"), "%s", msg_of(serr));
    cr_assert_str_eq(msg_of(weir_exec_error(e)), msg_of(serr));
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(wave, on_error_continue_keeps_running_and_later_injects_work) {
    weir_graph *g = lattice_graph(12); /* 4095 hops */
    weir_exec_options o = {.id = "x", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1,
                           .on_error = WEIR_ON_ERROR_CONTINUE, .max_wave_hops = 1000};
    weir_exec *e = ts_start(&ts, g, &o);
    for (int round = 0; round < 2; round++) { /* every wave has its own budget */
        ts_inject(&ts, e, "n0_0", "in", "1", 0);
        json_t *s = ts_last_settled(&ts);
        cr_assert_eq(json_integer_value(json_object_get(s, "status")), WEIR_ELIMIT, "%s", ts_dump(s));
        cr_assert(strstr(msg_of(json_object_get(s, "error")), "MAX_WAVE_HOPS (1000)"), "%s", ts_dump(s));
        cr_assert_leq(json_integer_value(json_object_get(s, "hops")), 1000);
        cr_assert_eq(weir_exec_state(e), WEIR_STATE_RUNNING);
        cr_assert_null(weir_exec_error(e));
        cr_assert(weir_exec_idle(e), "nothing of the cut wave is left");
    }
    cr_assert_eq(ts_count_events(&ts, "component:error"), 2);
    json_t *m = weir_exec_metrics(e, 0);
    cr_assert_eq(json_integer_value(json_object_get(m, "errorCount")), 2);
    json_decref(m);
    /* Into the tenth layer: 1 + 2 + 4 = 7 hops, well within the bound. */
    ts_inject(&ts, e, "n9_0", "in", "7", 0);
    json_t *s = ts_last_settled(&ts);
    cr_assert_eq(json_integer_value(json_object_get(s, "status")), 0, "%s", ts_dump(s));
    cr_assert(json_is_null(json_object_get(s, "error")), "%s", ts_dump(s));
    cr_assert_eq(json_integer_value(json_object_get(s, "hops")), 7);
    cr_assert_str_eq(ts_dump(json_object_get(s, "outputs")), "{\"n11_0:out\":7,\"n11_1:out\":7}");
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(wave, a_stepped_wave_is_stopped_too) {
    weir_graph *g = lattice_graph(12);
    weir_exec_options o = {.id = "x", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1,
                           .on_error = WEIR_ON_ERROR_CONTINUE, .max_wave_hops = 10};
    weir_exec *e = ts_start(&ts, g, &o);
    weir_exec_stepping(e, true, 0);
    ts_inject(&ts, e, "n0_0", "in", "1", 0);
    weir_step st;
    weir_error err;
    int steps = 0;
    do {
        cr_assert_eq(weir_exec_step(e, 0, &st, &err), 0, "%s", err.message);
        steps++;
    } while (st.stepped && !st.wave_done && steps < 100);
    cr_assert(st.wave_done, "the wave ended at the bound");
    cr_assert_leq(steps, 10);
    cr_assert_not(weir_exec_wave_open(e));
    json_t *s = ts_last_settled(&ts);
    cr_assert_eq(json_integer_value(json_object_get(s, "status")), WEIR_ELIMIT, "%s", ts_dump(s));
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_RUNNING);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

/* The messages of the stopped wave are freed, and the pool they needed is
 * given back: the execution holds no more memory than before the inject. */
Test(wave_memory, the_memory_of_a_stopped_wave_comes_back) {
    fa_install(0, 0); /* count bytes (before anything is allocated) */
    ts_init(&ts, false);
    weir_graph *g = lattice_graph(22);
    weir_exec_options o = {.id = "x", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1,
                           .on_error = WEIR_ON_ERROR_CONTINUE, .max_wave_hops = 200000};
    weir_exec *e = ts_start(&ts, g, &o);
    weir_inject in = {.node = "n0_0", .value = json_integer(1), .flags = WEIR_INJECT_TRACK};
    weir_error err;
    long long before = fa_live_bytes();
    cr_assert_eq(weir_exec_inject(e, &in, 0, NULL, &err), 0, "%s", err.message);
    long long after = fa_live_bytes();
    cr_assert_eq(json_integer_value(json_object_get(ts_last_settled(&ts), "status")), WEIR_ELIMIT);
    /* The settled record (in the test shell) and a few small blocks at
     * most; the pool of ~200,000 messages was megabytes. */
    cr_assert_lt(after - before, 64 * 1024, "%lld bytes kept", after - before);
    json_decref(in.value);
    weir_exec_destroy(e);
    weir_graph_unref(g);
    ts_fini(&ts);
    fa_uninstall();
    cr_assert_eq(fa_live(), 0, "no leak");
}
