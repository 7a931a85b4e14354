/* Latency metrics (SPEC §3.1), sampled (weir_shell.clock_ns): a node that
 * is slow is timed every time, a fast one about 1 in WEIR_LATENCY_SAMPLE,
 * and the averages stay unbiased.  The test shell's clock advances by
 * clock_step per read; test.cost advances it by what its invocation is to
 * "cost". */
#include "shell.h"

static test_shell ts;
static void setup(void) { ts_init(&ts, false); }
static void teardown(void) { ts_fini(&ts); }
TestSuite(latency, .init = setup, .fini = teardown);

#define PT(id) "{\"id\":\"" id "\",\"component\":\"symbia.core.passthrough\"}"
#define COST(id) "{\"id\":\"" id "\",\"component\":\"test.cost\"}"
#define E(a, b) "{\"source\":{\"node\":\"" a "\",\"port\":\"out\"},\"target\":{\"node\":\"" b "\",\"port\":\"in\"}}"
#define GRAPH(nodes, edges) "{\"symbia\":\"1.0\",\"name\":\"t\",\"nodes\":[" nodes "],\"edges\":[" edges "]}"

/* test.cost: its n-th invocation (from 0) takes cost(n) ns of the test clock. */
static int64_t (*cost)(uint64_t n);
static uint64_t cost_calls;
static int cost_process(weir_ctx *ctx, unsigned port, json_t *v) {
    (void)port;
    ts.clock_ns += cost(cost_calls++);
    return weir_emit(ctx, 0, v);
}
static const weir_port_def in_ports[] = {{"in", NULL, NULL}}, out_ports[] = {{"out", NULL, NULL}};
static const weir_component cost_c = {.id = "test.cost", .inputs = in_ports, .n_inputs = 1, .outputs = out_ports,
                                      .n_outputs = 1, .process = cost_process};

static weir_exec *start(const char *graph, weir_graph **g) {
    weir_error err;
    cr_assert_eq(weir_registry_add(ts.reg, &cost_c, &err), 0, "%s", err.message);
    cost_calls = 0;
    *g = ts_graph(&ts, graph);
    weir_exec_options o = {.id = "lat", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1};
    return ts_start(&ts, *g, &o);
}

static void inject_n(weir_exec *e, const char *node, long n) {
    json_t *v = json_integer(1);
    weir_inject in = {.node = node, .value = v};
    weir_error err;
    for (long i = 0; i < n; i++) cr_assert_eq(weir_exec_inject(e, &in, 0, NULL, &err), 0, "%s", err.message);
    json_decref(v);
}

/* Per-node metric `key` in ns. */
static double node_ns(weir_exec *e, const char *node, const char *key) {
    json_t *m = weir_exec_metrics(e, 0);
    double ms = json_real_value(json_object_get(json_object_get(json_object_get(m, "nodes"), node), key));
    json_decref(m);
    return ms * 1e6;
}

static int64_t slow_5us(uint64_t n) { (void)n; return 5000; }

Test(latency, a_slow_node_is_timed_on_every_invocation_exactly) {
    cost = slow_5us;
    ts.clock_step = 10;
    weir_graph *g;
    weir_exec *e = start(GRAPH(PT("a") "," COST("slow") "," PT("z"), E("a", "slow") "," E("slow", "z")), &g);
    inject_n(e, "a", 1000);
    /* 5000 ns of work plus the 10 ns step of the read that ends it */
    cr_assert_float_eq(node_ns(e, "slow", "avgLatencyMs"), 5010.0, 0.01);
    cr_assert_float_eq(node_ns(e, "slow", "maxLatencyMs"), 5010.0, 0.01);
    cr_assert_float_eq(node_ns(e, "a", "avgLatencyMs"), 10.0, 0.01, "a fast node's samples are measured too");
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(latency, a_node_invoked_once_is_timed) {
    ts.clock_step = 7;
    weir_graph *g;
    weir_exec *e = start(GRAPH(PT("a") "," PT("b"), E("a", "b")), &g);
    inject_n(e, "a", 1);
    cr_assert_float_eq(node_ns(e, "a", "avgLatencyMs"), 7.0, 0.01, "its first invocation is always timed");
    cr_assert_float_eq(node_ns(e, "b", "maxLatencyMs"), 7.0, 0.01);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(latency, fast_nodes_read_the_clock_on_few_hops) {
    ts.clock_step = 10;
    weir_graph *g;
    weir_exec *e = start(GRAPH(PT("n0") "," PT("n1") "," PT("n2") "," PT("n3") "," PT("n4") "," PT("n5") ","
                                   PT("n6") "," PT("n7") "," PT("n8") "," PT("n9"),
                               E("n0", "n1") "," E("n1", "n2") "," E("n2", "n3") "," E("n3", "n4") "," E("n4", "n5")
                                   "," E("n5", "n6") "," E("n6", "n7") "," E("n7", "n8") "," E("n8", "n9")),
                         &g);
    size_t before = ts.clock_reads;
    inject_n(e, "n0", 10000); /* 100,000 hops */
    size_t reads = ts.clock_reads - before;
    /* two reads per timed invocation, 1 in WEIR_LATENCY_SAMPLE (32) expected:
     * about 6,250; every hop timed would be 100,000 or more */
    cr_assert_lt(reads, 100000 * 2 / 16, "%zu clock reads for 100,000 fast hops", reads);
    cr_assert_gt(reads, 100000 * 2 / 64, "%zu clock reads: sampling stopped", reads);
    cr_assert_float_eq(node_ns(e, "n5", "avgLatencyMs"), 10.0, 0.01);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

/* Every 4th invocation slow (4 µs), the rest fast (100 ns): the true mean is
 * 1075 ns (+10 per read step).  Timed ones switch the node between timing
 * every invocation and sampling; weighting each by 1/p keeps the mean. */
static int64_t every_4th_slow(uint64_t n) { return n % 4 == 3 ? 4000 : 100; }

Test(latency, the_sampled_average_is_unbiased_for_a_patterned_node) {
    cost = every_4th_slow;
    ts.clock_step = 10;
    weir_graph *g;
    weir_exec *e = start(GRAPH(PT("a") "," COST("c"), E("a", "c")), &g);
    inject_n(e, "a", 200000);
    double avg = node_ns(e, "c", "avgLatencyMs");
    cr_assert_float_eq(avg, 1085.0, 1085.0 * 0.05, "avgLatencyMs %.1f ns, the mean is 1085", avg);
    cr_assert_float_eq(node_ns(e, "c", "maxLatencyMs"), 4010.0, 0.01);
    json_t *m = weir_exec_metrics(e, 0);
    double all = json_real_value(json_object_get(m, "avgLatencyMs")) * 1e6;
    json_decref(m);
    /* the execution's mean over both nodes' invocations: (10 + 1085) / 2 */
    cr_assert_float_eq(all, 547.5, 547.5 * 0.05, "execution avgLatencyMs %.1f ns", all);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(latency, no_clock_no_latency) {
    cost = slow_5us;
    ts.sh.clock_ns = NULL; /* ENABLE_METRICS=false */
    weir_graph *g;
    weir_exec *e = start(GRAPH(PT("a") "," COST("slow"), E("a", "slow")), &g);
    inject_n(e, "a", 100);
    cr_assert_eq(node_ns(e, "slow", "avgLatencyMs"), 0.0);
    cr_assert_eq(node_ns(e, "slow", "maxLatencyMs"), 0.0);
    cr_assert_eq(ts.clock_reads, 0);
    json_t *m = weir_exec_metrics(e, 0);
    cr_assert_eq(json_integer_value(json_object_get(m, "messagesProcessed")), 200, "counters stay");
    json_decref(m);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}
