/* Composed graphs running (SPEC §1, §4.1, issue 14), driven as a tiny
 * shell: a wave stays glitch-free across a graph's boundary (the inner
 * nodes take their place in the one topological order), two uses of one
 * graph keep separate state, and events, metrics and state name the
 * paths. */
#include <string.h>

#include "shell.h"

static test_shell ts;
static void setup(void) { ts_init(&ts, true); }
static void teardown(void) { ts_fini(&ts); }
TestSuite(compose_run, .init = setup, .fini = teardown);

#define EDGE(a, ap, b, bp)                                                                                             \
    "{\"source\":{\"node\":\"" a "\",\"port\":\"" ap "\"},\"target\":{\"node\":\"" b "\",\"port\":\"" bp "\"}}"
#define MAP(id, expr) "{\"id\":\"" id "\",\"component\":\"symbia.core.map\",\"config\":{\"expression\":\"" expr "\"}}"
#define PORTS(in_node, out_node)                                                                                       \
    "\"metadata\":{\"ports\":{\"inputs\":[{\"name\":\"in\",\"node\":\"" in_node "\",\"port\":\"in\"}],"              \
    "\"outputs\":[{\"name\":\"out\",\"node\":\"" out_node "\",\"port\":\"out\"}]}}"

/* a long way through: in → s1 → s2 → s3 → out */
static const char SLOW[] = "{\"symbia\":\"1.0\",\"name\":\"slow\"," PORTS("s1", "s3") ",\"nodes\":[" MAP(
    "s1", "value + 1") "," MAP("s2", "value + 1") "," MAP("s3", "value + 1") "],\"edges\":[" EDGE("s1", "out", "s2", "in") "," EDGE("s2", "out", "s3", "in") "]}";
/* batches of two */
static const char BATCH[] =
    "{\"symbia\":\"1.0\",\"name\":\"batch\"," PORTS("acc", "acc") ",\"nodes\":[{\"id\":\"acc\",\"component\":"
    "\"symbia.core.accumulator\",\"config\":{\"batchSize\":2}}],\"edges\":[]}";

static int resolve(void *ud, const char *name, const char *version, json_t **doc, weir_error *err) {
    (void)ud;
    (void)version;
    const char *text = strcmp(name, "slow") == 0 ? SLOW : strcmp(name, "batch") == 0 ? BATCH : NULL;
    if (!text) {
        snprintf(err->message, sizeof err->message, "none");
        return err->code = WEIR_ENOTFOUND;
    }
    *doc = json_loads(text, 0, NULL);
    return *doc ? 0 : WEIR_ENOMEM;
}

static weir_graph *load(const char *text) {
    weir_graph *g = NULL;
    weir_error err;
    weir_graph_options o = {.resolve = resolve};
    int rc = weir_graph_load_text(ts.reg, text, strlen(text), &o, &g, &err);
    cr_assert_eq(rc, 0, "%s", err.message);
    return g;
}

/* A diamond whose one side runs through a graph of three nodes and the
 * other is one node: join (zip) runs once both sides are in, in the same
 * wave — every hop inside the graph comes before join runs. */
Test(compose_run, a_wave_is_glitch_free_across_a_graph_boundary) {
    weir_graph *g = load("{\"symbia\":\"1.0\",\"name\":\"d\",\"nodes\":[{\"id\":\"src\",\"component\":"
                         "\"symbia.core.passthrough\"},{\"id\":\"long\",\"component\":\"graph:slow\"},"
                         MAP("short", "value * 100") ",{\"id\":\"join\",\"component\":\"symbia.core.merge\","
                         "\"config\":{\"mode\":\"zip\"}}],\"edges\":["
                         EDGE("src", "out", "short", "in") "," EDGE("src", "out", "long", "in") ","
                         EDGE("short", "out", "join", "s") "," EDGE("long", "out", "join", "l") "]}");
    weir_exec_options never = {.id = "x1", .timeout_ms = -1, .completion = WEIR_COMPLETION_NEVER};
    weir_exec *e = ts_start(&ts, g, &never);
    for (int v = 1; v <= 3; v++) {
        char value[8];
        snprintf(value, sizeof value, "%d", v);
        cr_assert_eq(ts_inject(&ts, e, "src", "in", value, v), 0);
        json_t *st = ts_last_settled(&ts);
        json_t *out = json_object_get(json_object_get(st, "outputs"), "join:out");
        cr_assert_eq(json_integer_value(json_object_get(out, "l")), v + 3, "%s", ts_dump(st));
        cr_assert_eq(json_integer_value(json_object_get(out, "s")), v * 100, "%s", ts_dump(st));
        /* the hops in order: into the graph, through it, then join */
        size_t i, into = 0, last_inner = 0, first_join = SIZE_MAX;
        json_t *hop;
        json_array_foreach(json_object_get(st, "trace"), i, hop) {
            const char *to = json_string_value(json_object_get(hop, "to"));
            if (strncmp(to, "join:", 5) == 0) {
                into++;
                if (first_join == SIZE_MAX) first_join = i;
            }
            if (strncmp(to, "long/", 5) == 0) last_inner = i;
        }
        cr_assert_eq(into, 2, "%s", ts_dump(st));
        cr_assert_lt(last_inner, first_join, "join ran before the graph's last node: %s", ts_dump(st));
    }
    json_t *t = weir_graph_topology(g);
    cr_assert_str_eq(ts_dump(json_object_get(t, "sorted")),
                     "[\"src\",\"short\",\"long/s1\",\"long/s2\",\"long/s3\",\"join\"]");
    json_decref(t);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

Test(compose_run, one_graph_used_twice_keeps_two_states) {
    weir_graph *g = load("{\"symbia\":\"1.0\",\"name\":\"two\",\"nodes\":[{\"id\":\"p\",\"component\":\"graph:batch\"},"
                         "{\"id\":\"q\",\"component\":\"graph:batch\"}],\"edges\":[]}");
    weir_exec_options never = {.id = "x1", .timeout_ms = -1, .completion = WEIR_COMPLETION_NEVER};
    weir_exec *e = ts_start(&ts, g, &never);
    cr_assert_eq(ts_inject(&ts, e, "p/acc", "in", "1", 1), 0);
    cr_assert_eq(ts_inject(&ts, e, "q/acc", "in", "10", 2), 0);
    cr_assert_str_eq(ts_dump(json_object_get(ts_last_settled(&ts), "outputs")), "{}");
    cr_assert_eq(ts_inject(&ts, e, "p/acc", "in", "2", 3), 0);
    cr_assert_str_eq(ts_dump(json_object_get(ts_last_settled(&ts), "outputs")), "{\"p/acc:out\":[1,2]}");
    json_t *states = weir_exec_states(e);
    cr_assert_str_eq(ts_dump(states), "{\"p/acc\":{\"buffer\":[]},\"q/acc\":{\"buffer\":[10]}}");
    json_decref(states);
    /* events and metrics name the paths */
    size_t i;
    json_t *ev;
    size_t invoked = 0;
    json_array_foreach(ts.events, i, ev) {
        json_t *d = json_object_get(ev, "data");
        if (strcmp(json_string_value(json_object_get(ev, "event")), "component:invoked") == 0)
            cr_assert(strcmp(json_string_value(json_object_get(d, "nodeId")), "p/acc") == 0 ||
                          strcmp(json_string_value(json_object_get(d, "nodeId")), "q/acc") == 0,
                      "%s", ts_dump(d));
        if (strcmp(json_string_value(json_object_get(ev, "event")), "component:invoked") == 0) invoked++;
    }
    cr_assert_eq(invoked, 3);
    json_t *m = weir_exec_metrics(e, 4);
    json_t *nodes = json_object_get(m, "nodes");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(nodes, "p/acc"), "invocations")), 2);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(nodes, "q/acc"), "invocations")), 1);
    json_decref(m);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}

/* An inject may name a graph node: it goes to the inner node and port its
 * metadata.ports maps that input to (the only input when none is named);
 * a port it does not map is refused naming those it does. */
Test(compose_run, an_inject_may_name_a_graph_node_and_its_port) {
    weir_graph *g = load("{\"symbia\":\"1.0\",\"name\":\"two\",\"nodes\":[{\"id\":\"p\",\"component\":\"graph:batch\"},"
                         "{\"id\":\"q\",\"component\":\"graph:slow\"}],\"edges\":[]}");
    weir_exec_options never = {.id = "x1", .timeout_ms = -1, .completion = WEIR_COMPLETION_NEVER};
    weir_exec *e = ts_start(&ts, g, &never);
    cr_assert_eq(ts_inject(&ts, e, "p", "in", "1", 1), 0);
    cr_assert_eq(ts_inject(&ts, e, "p", NULL, "2", 2), 0, "its only input");
    cr_assert_str_eq(ts_dump(json_object_get(ts_last_settled(&ts), "outputs")), "{\"p/acc:out\":[1,2]}");
    cr_assert_eq(ts_inject(&ts, e, "q", "in", "10", 3), 0);
    cr_assert_str_eq(ts_dump(json_object_get(ts_last_settled(&ts), "outputs")), "{\"q/s3:out\":13}");
    json_t *v = json_integer(1);
    weir_inject in = {.node = "p", .port = "nope", .value = v};
    weir_error err;
    cr_assert_eq(weir_exec_inject(e, &in, 4, NULL, &err), WEIR_ENOTFOUND);
    cr_assert_str_eq(err.message, "graph node \"p\" has no input port \"nope\"; its input ports are: in");
    in.node = "nothere";
    cr_assert_eq(weir_exec_inject(e, &in, 4, NULL, &err), WEIR_ENOTFOUND);
    cr_assert(strstr(err.message, "; and its graph nodes (inject into one by its id): p, q"), "%s", err.message);
    json_decref(v);
    weir_exec_destroy(e);
    weir_graph_unref(g);
}
