/* The virtual clock's range (SPEC §10): tick t is at start_ms + t * tick_ms,
 * an int64 of ms below INT64_MAX (which stands for "never").  A tick, advance, run or scheduled inject past the end
 * is refused with WEIR_EINVAL and nothing moves; huge delays and latencies
 * saturate ("never due") instead of wrapping to the past.  Before this,
 * advance(INT64_MAX) wrapped the clock negative (and aborted under UBSan). */
#include <stdint.h>
#include <string.h>

#include "shell.h"

static test_shell ts;
static weir_virtual *v;

static void make(int64_t start_ms, int64_t tick_ms) {
    weir_virtual_options o = {.tick_ms = tick_ms, .start_ms = start_ms};
    weir_error err;
    cr_assert_eq(weir_virtual_create(&o, &v, &err), 0, "%s", err.message);
    weir_virtual_shell(v, &ts.sh);
}

static void setup(void) {
    ts_init(&ts, true);
    v = NULL;
}
static void teardown(void) {
    weir_virtual_destroy(v);
    ts_fini(&ts);
}
TestSuite(virtual_range, .init = setup, .fini = teardown);

#define NODE(id, comp, cfg) "{\"id\":\"" id "\",\"component\":\"" comp "\",\"config\":" cfg "}"
#define E(a, b) "{\"source\":{\"node\":\"" a "\",\"port\":\"out\"},\"target\":{\"node\":\"" b "\",\"port\":\"in\"}}"
#define PT(id) NODE(id, "symbia.core.passthrough", "{}")
#define DELAY(ms)                                                                                                    \
    "{\"symbia\":\"1.0\",\"name\":\"t\",\"nodes\":[" PT("a") "," NODE("d", "symbia.core.delay", "{\"delayMs\":" ms "}") \
    "," PT("z") "],\"edges\":[" E("a", "d") "," E("d", "z") "]}"

static weir_exec *start(const char *graph, int64_t timeout_ms) {
    weir_graph *g = ts_graph(&ts, graph);
    weir_exec_options o = {.id = "x1", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = timeout_ms};
    weir_exec *e = NULL;
    weir_error err;
    cr_assert_eq(weir_exec_create(g, &o, &ts.sh, &e, &err), 0, "%s", err.message);
    weir_virtual_bind(v, e);
    cr_assert_eq(weir_exec_start(e, weir_virtual_now(v), &err), 0, "%s", err.message);
    weir_graph_unref(g);
    return e;
}

/* The clock did not move: tick and time as given. */
static void unmoved(uint64_t tick, int64_t now) {
    cr_assert_eq(weir_virtual_ticks(v), tick, "tick %llu", (unsigned long long)weir_virtual_ticks(v));
    cr_assert_eq(weir_virtual_now(v), now, "now %lld", (long long)weir_virtual_now(v));
}

Test(virtual_range, advance_past_the_end_is_refused_and_nothing_moves) {
    make(1000, 1);
    weir_error err;
    cr_assert_eq(weir_virtual_max_tick(v), (uint64_t)INT64_MAX - 1001);
    cr_assert_eq(weir_virtual_advance(v, INT64_MAX, &err), WEIR_EINVAL, "%s", err.message);
    cr_assert(strstr(err.message, "past the end of the virtual clock's range"), "%s", err.message);
    unmoved(0, 1000);
    cr_assert_eq(weir_virtual_advance(v, INT64_MAX - 1000, &err), WEIR_EINVAL, "one tick too far");
    unmoved(0, 1000);
    /* to the very end, exactly, is fine; one more tick is not */
    cr_assert_eq(weir_virtual_advance(v, INT64_MAX - 1001, &err), 0, "%s", err.message);
    unmoved((uint64_t)INT64_MAX - 1001, INT64_MAX - 1);
    cr_assert_eq(weir_virtual_tick(v, &err), WEIR_EINVAL);
    cr_assert_eq(weir_virtual_advance(v, 1, &err), WEIR_EINVAL);
    cr_assert_eq(weir_virtual_advance_ticks(v, 1, &err), WEIR_EINVAL);
    cr_assert_eq(weir_virtual_advance(v, 0, &err), 0, "advancing 0 ms stays in range");
    unmoved((uint64_t)INT64_MAX - 1001, INT64_MAX - 1);
}

Test(virtual_range, ms_round_up_to_ticks_without_overflow) {
    make(0, 1000);
    weir_error err;
    /* INT64_MAX ms is 9223372036854776 ticks of 1 s rounded up: one past the
     * end (9223372036854775 ticks reach 9223372036854775000 ms) */
    cr_assert_eq(weir_virtual_max_tick(v), INT64_MAX / 1000);
    cr_assert_eq(weir_virtual_advance(v, INT64_MAX, &err), WEIR_EINVAL, "%s", err.message);
    cr_assert_eq(weir_virtual_advance(v, INT64_MAX - 807, &err), 0, "%s", err.message);
    unmoved(INT64_MAX / 1000, (INT64_MAX / 1000) * 1000);
    cr_assert_geq(weir_virtual_now(v), 0);
}

Test(virtual_range, a_huge_tick_leaves_a_short_range) {
    make(0, INT64_MAX / 2);
    weir_error err;
    cr_assert_eq(weir_virtual_max_tick(v), 2);
    cr_assert_eq(weir_virtual_advance_ticks(v, 3, &err), WEIR_EINVAL, "%s", err.message);
    cr_assert_eq(weir_virtual_tick(v, &err), 0);
    cr_assert_eq(weir_virtual_tick(v, &err), 0);
    unmoved(2, INT64_MAX - 1);
    cr_assert_eq(weir_virtual_tick(v, &err), WEIR_EINVAL);
    bool idle = false;
    cr_assert_eq(weir_virtual_run(v, 0, &idle, &err), 0, "a run to the end of the range plays nothing more");
    cr_assert(idle);
    unmoved(2, INT64_MAX - 1);
}

Test(virtual_range, run_past_the_end_is_refused) {
    make(1000, 1);
    weir_error err;
    bool idle = true;
    cr_assert_eq(weir_virtual_run(v, UINT64_MAX, &idle, &err), WEIR_EINVAL, "%s", err.message);
    cr_assert_not(idle);
    cr_assert_eq(weir_virtual_run(v, weir_virtual_max_tick(v) + 1, NULL, &err), WEIR_EINVAL);
    unmoved(0, 1000);
}

Test(virtual_range, scheduled_injects_past_the_end_are_refused) {
    make(1000, 1);
    weir_exec *e = start("{\"symbia\":\"1.0\",\"name\":\"t\",\"nodes\":[" PT("a") "," PT("z") "],\"edges\":[" E(
                             "a", "z") "]}",
                         -1);
    weir_inject in = {.node = "a", .value = json_integer(1)};
    weir_error err;
    cr_assert_eq(weir_virtual_schedule(v, &in, UINT64_MAX, &err), WEIR_EINVAL, "%s", err.message);
    cr_assert_eq(weir_virtual_schedule(v, &in, weir_virtual_max_tick(v) + 1, &err), WEIR_EINVAL, "%s", err.message);
    cr_assert(strstr(err.message, "past the end"), "%s", err.message);
    cr_assert_eq(weir_virtual_tick_after(v, UINT64_MAX), UINT64_MAX, "afterTicks saturates");
    cr_assert_eq(weir_virtual_schedule(v, &in, weir_virtual_tick_after(v, UINT64_MAX), &err), WEIR_EINVAL);
    cr_assert_eq(weir_virtual_scheduled(v), 0);
    /* the last tick itself is in range, and run reaches it */
    cr_assert_eq(weir_virtual_schedule(v, &in, weir_virtual_max_tick(v), &err), 0, "%s", err.message);
    bool idle = false;
    cr_assert_eq(weir_virtual_run(v, 0, &idle, &err), 0, "%s", err.message);
    cr_assert_eq(weir_virtual_ticks(v), weir_virtual_max_tick(v));
    cr_assert_eq(weir_virtual_now(v), INT64_MAX - 1);
    cr_assert_eq(ts_count_events(&ts, "output"), 1, "the inject ran at the end of time");
    json_decref(in.value);
    weir_exec_destroy(e);
}

Test(virtual_range, a_delay_past_the_end_is_never_due) {
    make(1000, 1);
    weir_exec *e = start(DELAY("9223372036854775807"), INT64_MAX); /* the execution timeout too */
    cr_assert_eq(ts_inject(&ts, e, "a", NULL, "1", weir_virtual_now(v)), 0);
    weir_error err;
    bool idle = false;
    cr_assert_eq(weir_virtual_run(v, 0, &idle, &err), 0, "%s", err.message);
    cr_assert(idle, "nothing is due within the range");
    cr_assert_eq(ts_count_events(&ts, "output"), 0, "the timer did not wrap into the past");
    cr_assert_geq(weir_virtual_now(v), 1000);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_RUNNING);
    cr_assert_eq(weir_virtual_advance(v, 1000000, &err), 0);
    cr_assert_eq(ts_count_events(&ts, "output"), 0);
    cr_assert_eq(weir_virtual_pending(v), 2, "the delay and the timeout wait");
    weir_exec_destroy(e);
}

/* Switching runtimes carries a timer's remaining time over: requested +
 * delayMs - now must neither overflow (undefined; UBSan aborts) nor make a
 * huge delay fire at once. */
Test(virtual_range, a_runtime_switch_keeps_a_huge_delay_huge) {
    make(1000, 1);
    weir_exec *e = start(DELAY("9223372036854775807"), -1);
    cr_assert_eq(ts_inject(&ts, e, "a", NULL, "1", weir_virtual_now(v)), 0);
    weir_error err;
    cr_assert_eq(weir_virtual_advance(v, 10, &err), 0);
    weir_virtual *w;
    weir_virtual_options o = {.tick_ms = 1, .start_ms = 5000};
    cr_assert_eq(weir_virtual_create(&o, &w, &err), 0);
    weir_shell half = {0};
    weir_virtual_shell(w, &half);
    cr_assert_eq(weir_exec_switch_runtime(e, &half, weir_virtual_now(v), 5000, "virtual", "virtual", &err), 0, "%s",
                 err.message);
    weir_virtual_bind(w, e);
    cr_assert_eq(weir_virtual_pending(w), 1, "the timer moved over");
    cr_assert_eq(weir_virtual_advance(w, 1000, &err), 0, "%s", err.message);
    cr_assert_eq(ts_count_events(&ts, "output"), 0, "the delay did not fire");
    weir_exec_destroy(e);
    weir_virtual_destroy(w);
}
