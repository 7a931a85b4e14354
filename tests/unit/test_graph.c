/* Graph loading and validation (SPEC §1): every rule, messages, topology. */
#include <string.h>

#include "shell.h"

static test_shell ts;
static void setup(void) { ts_init(&ts, false); }
static void teardown(void) { ts_fini(&ts); }
TestSuite(graph, .init = setup, .fini = teardown);

#define PT "\"component\":\"symbia.core.passthrough\""
#define EDGE(a, b) "{\"source\":{\"node\":\"" a "\",\"port\":\"out\"},\"target\":{\"node\":\"" b "\",\"port\":\"in\"}}"

static json_t *topo_of(const char *json) {
    weir_graph *g = ts_graph(&ts, json);
    json_t *t = weir_graph_topology(g);
    weir_graph_unref(g);
    return t;
}

Test(graph, kahn_order_matches_the_spec_example) {
    json_t *t = topo_of("{\"symbia\":\"1.0\",\"name\":\"k\",\"nodes\":[{\"id\":\"a\"," PT "},{\"id\":\"b\"," PT
                        "},{\"id\":\"c\"," PT "},{\"id\":\"d\",\"component\":\"symbia.core.merge\"},{\"id\":\"lone\"," PT
                        "}],\"edges\":[" EDGE("a", "b") "," EDGE("a", "c") ","
                        "{\"source\":{\"node\":\"b\",\"port\":\"out\"},\"target\":{\"node\":\"d\",\"port\":\"left\"}},"
                        "{\"source\":{\"node\":\"c\",\"port\":\"out\"},\"target\":{\"node\":\"d\",\"port\":\"right\"}}]}");
    cr_assert_str_eq(ts_dump(json_object_get(t, "sorted")), "[\"a\",\"lone\",\"b\",\"c\",\"d\"]");
    cr_assert_str_eq(ts_dump(json_object_get(t, "inputNodes")), "[\"a\",\"lone\"]");
    cr_assert_str_eq(ts_dump(json_object_get(t, "outputNodes")), "[\"d\",\"lone\"]");
    cr_assert_str_eq(ts_dump(json_object_get(t, "levels")), "{\"a\":0,\"b\":1,\"c\":1,\"d\":2,\"lone\":0}");
    json_decref(t);
}

Test(graph, levels_are_longest_path_depth) {
    /* a→b→c and a→c: c is at depth 2, not 1 */
    json_t *t = topo_of("{\"symbia\":\"1.0\",\"name\":\"l\",\"nodes\":[{\"id\":\"a\"," PT "},{\"id\":\"b\"," PT
                        "},{\"id\":\"c\",\"component\":\"symbia.core.merge\"}],\"edges\":["
                        "{\"source\":{\"node\":\"a\",\"port\":\"out\"},\"target\":{\"node\":\"c\",\"port\":\"x\"}},"
                        EDGE("a", "b") ","
                        "{\"source\":{\"node\":\"b\",\"port\":\"out\"},\"target\":{\"node\":\"c\",\"port\":\"y\"}}]}");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(t, "levels"), "c")), 2);
    json_decref(t);
}

Test(graph, missing_top_level_fields_are_all_reported) {
    const char *m = ts_graph_error(&ts, "{}");
    cr_assert(strstr(m, "graph missing symbia version"), "%s", m);
    cr_assert(strstr(m, "graph missing name"), "%s", m);
    cr_assert(strstr(m, "graph missing nodes array"), "%s", m);
    cr_assert(strstr(m, "graph missing edges array"), "%s", m);
}

Test(graph, not_json_gives_line_and_column) {
    const char *m = ts_graph_error(&ts, "{\"symbia\": \"1.0\",\n \"name\": }");
    cr_assert(strstr(m, "line 2"), "%s", m);
    cr_assert(strstr(m, "column"), "%s", m);
}

Test(graph, node_without_id_and_duplicates) {
    const char *m = ts_graph_error(&ts, "{\"symbia\":\"1\",\"name\":\"n\",\"nodes\":[{" PT "},{\"id\":\"a\"," PT
                                        "},{\"id\":\"a\"," PT "}],\"edges\":[]}");
    cr_assert(strstr(m, "node at index 0 is missing \"id\""), "%s", m);
    cr_assert(strstr(m, "duplicate node id \"a\" (nodes 1 and 2)"), "%s", m);
}

Test(graph, edge_ends_must_be_objects) {
    const char *m = ts_graph_error(&ts, "{\"symbia\":\"1\",\"name\":\"n\",\"nodes\":[{\"id\":\"a\"," PT
                                        "}],\"edges\":[{\"id\":\"e1\",\"source\":\"a\",\"target\":{\"node\":\"a\"}}]}");
    cr_assert(strstr(m, "edge \"e1\" has no source object (found a string)"), "%s", m);
    cr_assert(strstr(m, "source and target are OBJECTS"), "%s", m);
    cr_assert(strstr(m, "edge \"e1\" declares a target with no port"), "%s", m);
}

Test(graph, unknown_node_lists_declared_ones) {
    const char *m = ts_graph_error(&ts, "{\"symbia\":\"1\",\"name\":\"n\",\"nodes\":[{\"id\":\"a\"," PT "},{\"id\":\"b\"," PT
                                        "}],\"edges\":[" EDGE("a", "zz") "]}");
    cr_assert(strstr(m, "edge at index 0 references unknown target node \"zz\". Declared nodes: a, b"), "%s", m);
}

Test(graph, unknown_components_in_one_message) {
    const char *m = ts_graph_error(&ts, "{\"symbia\":\"1\",\"name\":\"n\",\"nodes\":[{\"id\":\"a\",\"component\":\"x.y\"},"
                                        "{\"id\":\"b\",\"component\":\"x.z\"},{\"id\":\"c\"}],\"edges\":[]}");
    cr_assert(strstr(m, "no registered implementation: a -> x.y, b -> x.z"), "%s", m);
    cr_assert(strstr(m, "node \"c\" has no \"component\""), "%s", m);
}

Test(graph, unknown_ports_list_declared_ones) {
    const char *m = ts_graph_error(
        &ts, "{\"symbia\":\"1\",\"name\":\"n\",\"nodes\":[{\"id\":\"a\"," PT "},{\"id\":\"b\"," PT "}],\"edges\":["
             "{\"id\":\"e\",\"source\":{\"node\":\"a\",\"port\":\"output\"},\"target\":{\"node\":\"b\",\"port\":\"in\"}}]}");
    cr_assert(strstr(m, "edge \"e\": node \"a\" (symbia.core.passthrough) has no output port \"output\"; its output "
                        "ports are: out"),
              "%s", m);
}

Test(graph, dynamic_ports_accept_any_name) {
    weir_graph *g = ts_graph(&ts, "{\"symbia\":\"1\",\"name\":\"n\",\"nodes\":[{\"id\":\"a\"," PT
                                  "},{\"id\":\"m\",\"component\":\"symbia.core.merge\"}],\"edges\":["
                                  "{\"source\":{\"node\":\"a\",\"port\":\"out\"},\"target\":{\"node\":\"m\",\"port\":\"whatever\"}}]}");
    weir_graph_unref(g);
}

Test(graph, config_type_required_enum_and_unknown_keys) {
    const char *m = ts_graph_error(
        &ts, "{\"symbia\":\"1\",\"name\":\"n\",\"nodes\":["
             "{\"id\":\"d\",\"component\":\"symbia.core.delay\",\"config\":{\"delayMs\":\"soon\"}},"
             "{\"id\":\"f\",\"component\":\"symbia.core.filter\"},"
             "{\"id\":\"m\",\"component\":\"symbia.core.merge\",\"config\":{\"mode\":\"all\"}},"
             "{\"id\":\"p\"," PT ",\"config\":{\"speed\":1}}],\"edges\":["
             "{\"source\":{\"node\":\"d\",\"port\":\"out\"},\"target\":{\"node\":\"m\",\"port\":\"a\"}}]}");
    cr_assert(strstr(m, "node \"d\": config \"delayMs\" must be an integer (found a string)"), "%s", m);
    cr_assert(strstr(m, "node \"f\": config \"predicate\" is required"), "%s", m);
    cr_assert(strstr(m, "node \"m\": config \"mode\" is \"all\"; it must be one of \"any\", \"zip\", \"latest\""), "%s",
              m);
    cr_assert(strstr(m, "node \"p\": unknown config key \"speed\""), "%s", m);
}

Test(graph, config_minimum) {
    const char *m = ts_graph_error(&ts, "{\"symbia\":\"1\",\"name\":\"n\",\"nodes\":[{\"id\":\"acc\",\"component\":"
                                        "\"symbia.core.accumulator\",\"config\":{\"batchSize\":0}}],\"edges\":[]}");
    cr_assert(strstr(m, "node \"acc\": config \"batchSize\" is 0; the minimum is 1"), "%s", m);
}

Test(graph, alias_is_normalised) {
    weir_graph *g = ts_graph(&ts, "{\"symbia\":\"1\",\"name\":\"n\",\"nodes\":[{\"id\":\"d\",\"component\":"
                                  "\"symbia.core.delay\",\"config\":{\"ms\":5}}],\"edges\":[]}");
    weir_graph_unref(g);
}

Test(graph, cycle_names_the_nodes) {
    const char *m = ts_graph_error(&ts, "{\"symbia\":\"1\",\"name\":\"n\",\"nodes\":[{\"id\":\"s\"," PT
                                        "},{\"id\":\"a\",\"component\":\"symbia.core.merge\"},{\"id\":\"b\"," PT
                                        "},{\"id\":\"c\"," PT "}],\"edges\":["
                                        "{\"source\":{\"node\":\"s\",\"port\":\"out\"},\"target\":{\"node\":\"a\",\"port\":\"x\"}},"
                                        EDGE("a", "b") "," EDGE("b", "c") ","
                                        "{\"source\":{\"node\":\"c\",\"port\":\"out\"},\"target\":{\"node\":\"a\",\"port\":\"y\"}}]}");
    cr_assert(strstr(m, "graph contains a cycle: a → b → c → a"), "%s", m);
}

Test(graph, self_loop_is_a_cycle) {
    const char *m = ts_graph_error(&ts, "{\"symbia\":\"1\",\"name\":\"n\",\"nodes\":[{\"id\":\"a\"," PT "}],\"edges\":["
                                        EDGE("a", "a") "]}");
    cr_assert(strstr(m, "graph contains a cycle: a → a"), "%s", m);
}

Test(graph, problems_array_collects_each_problem) {
    json_t *problems = json_array();
    weir_graph_options o = {.problems = problems};
    weir_graph *g = NULL;
    weir_error err;
    const char *txt = "{\"symbia\":\"1\",\"nodes\":[],\"edges\":{}}";
    cr_assert_eq(weir_graph_load_text(ts.reg, txt, strlen(txt), &o, &g, &err), WEIR_EGRAPH);
    cr_assert_eq(json_array_size(problems), 2, "%s", ts_dump(problems));
    json_decref(problems);
}

Test(graph, metadata_defaults_are_validated) {
    const char *m = ts_graph_error(&ts, "{\"symbia\":\"1\",\"name\":\"n\",\"metadata\":{\"onError\":\"ignore\","
                                        "\"completion\":1},\"nodes\":[],\"edges\":[]}");
    cr_assert(strstr(m, "metadata.onError must be"), "%s", m);
    cr_assert(strstr(m, "metadata.completion must be"), "%s", m);
}

Test(graph, id_name_counts_version_metadata) {
    weir_graph_options o = {.id = "g-1"};
    weir_graph *g = NULL;
    weir_error err;
    const char *txt = "{\"symbia\":\"1\",\"name\":\"pipe\",\"nodes\":[{\"id\":\"a\"," PT "},{\"id\":\"b\"," PT
                      "}],\"edges\":[" EDGE("a", "b") "]}";
    cr_assert_eq(weir_graph_load_text(ts.reg, txt, strlen(txt), &o, &g, &err), 0, "%s", err.message);
    cr_assert_str_eq(weir_graph_id(g), "g-1");
    cr_assert_str_eq(weir_graph_name(g), "pipe");
    cr_assert_eq(weir_graph_node_count(g), 2);
    cr_assert_eq(weir_graph_edge_count(g), 1);
    cr_assert_null(weir_graph_version(g)); /* the document has none */
    cr_assert_null(weir_graph_metadata(g));
    cr_assert(weir_graph_uses(g, "symbia.core.passthrough"));
    cr_assert_not(weir_graph_uses(g, "symbia.core.merge"));
    weir_graph_unref(g);
}

Test(graph, integer_config_beyond_int64_is_refused) {
    /* 1e300 is integral and above the minimum, but no component can read it
     * as an integer: it must not load (it ran as batchSize INT64_MIN). */
    const char *m = ts_graph_error(&ts, "{\"symbia\":\"1\",\"name\":\"n\",\"nodes\":[{\"id\":\"acc\",\"component\":"
                                        "\"symbia.core.accumulator\",\"config\":{\"batchSize\":1e300}},"
                                        "{\"id\":\"d\",\"component\":\"symbia.core.delay\",\"config\":{\"delayMs\":"
                                        "-1e19}}],\"edges\":[]}");
    cr_assert(strstr(m, "node \"acc\": config \"batchSize\" is 1e+300; it must be an integer between"), "%s", m);
    cr_assert(strstr(m, "node \"d\": config \"delayMs\" is -1e+19"), "%s", m);
    weir_graph *g = ts_graph(&ts, "{\"symbia\":\"1\",\"name\":\"n\",\"nodes\":[{\"id\":\"acc\",\"component\":"
                                  "\"symbia.core.accumulator\",\"config\":{\"batchSize\":2.0}}],\"edges\":[]}");
    weir_graph_unref(g);
}

/* A chain of n passthroughs (a cycle when `close`), built as JSON values. */
static json_t *chain(size_t n, bool close) {
    json_t *nodes = json_array(), *edges = json_array();
    char a[32], b[32];
    for (size_t i = 0; i < n; i++) {
        snprintf(a, sizeof a, "n%zu", i);
        json_array_append_new(nodes, json_pack("{s:s,s:s}", "id", a, "component", "symbia.core.passthrough"));
        if (i + 1 == n && !close) break;
        snprintf(b, sizeof b, "n%zu", (i + 1) % n);
        json_array_append_new(edges, json_pack("{s:{s:s,s:s},s:{s:s,s:s}}", "source", "node", a, "port", "out",
                                               "target", "node", b, "port", "in"));
    }
    return json_pack("{s:s,s:s,s:o,s:o}", "symbia", "1", "name", "big", "nodes", nodes, "edges", edges);
}

/* Loading scanned every node per id lookup and every edge per node: a 6 MB
 * graph of 40k nodes took 12 s of the event loop.  It is linear now. */
Test(graph, large_graphs_load_in_linear_time, .timeout = 30) {
    const size_t n = 100000;
    json_t *doc = chain(n, false);
    weir_graph *g = NULL;
    weir_error err;
    cr_assert_eq(weir_graph_load(ts.reg, doc, NULL, &g, &err), 0, "%s", err.message);
    json_t *t = weir_graph_topology(g);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(t, "sorted"), n - 1)), "n99999");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(t, "levels"), "n99999")), (json_int_t)n - 1);
    json_decref(t);
    weir_graph_unref(g);
    json_decref(doc);

    doc = chain(n, true); /* one cycle through every node */
    cr_assert_eq(weir_graph_load(ts.reg, doc, NULL, &g, &err), WEIR_EGRAPH);
    cr_assert(strstr(err.message, "graph contains a cycle: n0 → n1 → n2"), "%s", err.message);
    json_decref(doc);

    doc = chain(n, false); /* every edge names an unknown target */
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "edges"), i, e)
        json_object_set_new(json_object_get(e, "target"), "node", json_string("nowhere"));
    cr_assert_eq(weir_graph_load(ts.reg, doc, NULL, &g, &err), WEIR_EGRAPH);
    cr_assert(strstr(err.message, "unknown target node \"nowhere\". Declared nodes: n0, n1"), "%s", err.message);
    json_decref(doc);
}

Test(graph, execution_settings_read_from_json_name_each_bad_field) {
    json_t *problems = json_array();
    json_t *obj = json_pack("{s:s,s:s,s:s,s:i}", "completion", "sometimes", "onError", "continue", "overflow", "drop",
                            "timeoutMs", -1);
    weir_exec_options o = {.timeout_ms = 7};
    weir_error err;
    cr_assert_eq(weir_exec_options_read(obj, "metadata", &o, problems, &err), WEIR_EINVAL);
    cr_assert_str_eq(err.message, "metadata.completion must be \"auto\" or \"never\"");
    cr_assert_str_eq(ts_dump(problems),
                     "[\"metadata.completion must be \\\"auto\\\" or \\\"never\\\"\","
                     "\"metadata.overflow must be \\\"refuse\\\", \\\"drop-oldest\\\" or \\\"drop-newest\\\"\","
                     "\"metadata.timeoutMs must be a non-negative integer (0 = no timeout)\"]");
    cr_assert_eq(o.on_error, WEIR_ON_ERROR_CONTINUE, "good fields are read");
    cr_assert_eq(o.timeout_ms, 7, "bad fields leave the value");
    json_decref(obj);
    json_decref(problems);
}

/* details: each problem as {code, message, nodeId?, edgeId?, field?}. */
static json_t *details_of(const char *json) {
    json_t *problems = json_array(), *details = json_array();
    weir_graph_options o = {.problems = problems, .details = details};
    weir_graph *g = NULL;
    weir_error err;
    cr_assert_eq(weir_graph_load_text(ts.reg, json, strlen(json), &o, &g, &err), WEIR_EGRAPH);
    json_decref(problems);
    return details;
}

Test(graph, details_give_each_problem_a_code_and_where) {
    json_t *d = details_of("{\"symbia\":\"1\",\"name\":\"n\",\"metadata\":{\"overflow\":\"drop\"},\"nodes\":["
                           "{\"id\":\"a\",\"component\":\"x.y\"},{\"id\":\"b\",\"component\":\"x.z\"},"
                           "{\"id\":\"c\"," PT ",\"config\":{\"speed\":1}}],\"edges\":[]}");
    /* (ts_dump sorts the keys) */
    cr_assert_str_eq(
        ts_dump(d),
        "[{\"code\":\"bad-metadata\",\"field\":\"metadata.overflow\",\"message\":\"metadata.overflow must be "
        "\\\"refuse\\\", \\\"drop-oldest\\\" or \\\"drop-newest\\\"\"},"
        "{\"code\":\"unknown-component\",\"field\":\"component\",\"message\":\"node \\\"a\\\": component \\\"x.y\\\" "
        "has no registered implementation; `weir components` lists the available ones\",\"nodeId\":\"a\"},"
        "{\"code\":\"unknown-component\",\"field\":\"component\",\"message\":\"node \\\"b\\\": component \\\"x.z\\\" "
        "has no registered implementation; `weir components` lists the available ones\",\"nodeId\":\"b\"},"
        "{\"code\":\"unknown-config-key\",\"field\":\"config.speed\",\"message\":\"node \\\"c\\\": unknown config "
        "key \\\"speed\\\" for symbia.core.passthrough; allowed keys: (none: this component takes no config)\","
        "\"nodeId\":\"c\"}]");
    json_decref(d);
    d = details_of("{\"symbia\":\"1\",\"name\":\"n\",\"nodes\":[{\"id\":\"a\"," PT "}],\"edges\":["
                   "{\"source\":{\"node\":\"a\",\"port\":\"out\"},\"target\":{\"node\":\"a\"}}]}");
    cr_assert_str_eq(ts_dump(json_object_get(json_array_get(d, 0), "code")), "\"bad-edge\"");
    cr_assert_str_eq(ts_dump(json_object_get(json_array_get(d, 0), "field")), "\"edges[0].target.port\"");
    cr_assert_null(json_object_get(json_array_get(d, 0), "edgeId"));
    json_decref(d);
    d = details_of("{\"symbia\": ");
    cr_assert_str_eq(ts_dump(json_object_get(json_array_get(d, 0), "code")), "\"parse-error\"");
    json_decref(d);
}

/* weir_graph_load_text reads the text node by node (plain elements without
 * json_t); it must give exactly what loading the parsed document gives:
 * the same code, message, problems and details, the same topology and
 * ports. */
static void same_either_way(const char *text) {
    json_t *p1 = json_array(), *d1 = json_array(), *p2 = json_array(), *d2 = json_array();
    weir_graph_options o1 = {.problems = p1, .details = d1}, o2 = {.problems = p2, .details = d2};
    weir_graph *g1 = NULL, *g2 = NULL;
    weir_error e1, e2;
    int rc1 = weir_graph_load_text(ts.reg, text, strlen(text), &o1, &g1, &e1);
    json_error_t je;
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    int rc2;
    if (doc) {
        rc2 = weir_graph_load(ts.reg, doc, &o2, &g2, &e2);
    } else {
        rc2 = WEIR_EGRAPH;
        snprintf(e2.message, sizeof e2.message, "graph is not valid JSON: %s at line %d, column %d", je.text, je.line,
                 je.column);
    }
    json_decref(doc);
    cr_assert_eq(rc1, rc2, "%s", text);
    if (rc1) {
        cr_assert_str_eq(e1.message, e2.message, "%s", text);
        if (doc) {
            cr_assert(json_equal(p1, p2), "%s: %s vs %s", text, ts_dump(p1), ts_dump(p2));
            cr_assert(json_equal(d1, d2), "%s: %s vs %s", text, ts_dump(d1), ts_dump(d2));
        }
    } else {
        json_t *t1 = weir_graph_topology(g1), *t2 = weir_graph_topology(g2);
        cr_assert(json_equal(t1, t2), "%s", text);
        json_decref(t1);
        json_decref(t2);
        cr_assert_eq(weir_graph_edge_count(g1), weir_graph_edge_count(g2));
        cr_assert(json_equal(weir_graph_metadata(g1), weir_graph_metadata(g2)) ||
                  (!weir_graph_metadata(g1) && !weir_graph_metadata(g2)));
    }
    weir_graph_unref(g1);
    weir_graph_unref(g2);
    json_decref(p1);
    json_decref(d1);
    json_decref(p2);
    json_decref(d2);
}

Test(graph, text_and_document_paths_agree) {
    static const char *const texts[] = {
        /* valid: plain, with edges first, whitespace, escapes, non-ASCII, extra fields, config, dynamic ports */
        "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":[{\"id\":\"a\"," PT "},{\"id\":\"b\"," PT "}],\"edges\":["
        EDGE("a", "b") "]}",
        " {\n \"edges\" : [ " EDGE("a", "b") " ] ,\"name\":\"a\" , \"symbia\":\"1\",\n\"nodes\":[ {\"id\" : \"a\" , " PT
        "} , {\"id\":\"b\"," PT "} ] } \n",
        "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":[{\"id\":\"\\u0061\"," PT "},{\"id\":\"b\\u00e9\"," PT "}],"
        "\"edges\":[" EDGE("a", "b\xc3\xa9") "]}",
        "{\"symbia\":\"1\",\"name\":\"a\",\"version\":\"3\",\"metadata\":{\"role\":\"service\"},\"nodes\":[{\"id\":\"a\","
        "\"label\":\"A\",\"position\":{\"x\":1.5,\"y\":-2}," PT "},{\"id\":\"m\",\"component\":\"symbia.core.map\","
        "\"config\":{\"expression\":\"value + 1\"}},{\"id\":\"j\",\"component\":\"symbia.core.merge\"}],\"edges\":["
        "{\"id\":\"e1\",\"ui\":{\"bend\":\"x\"},\"source\":{\"node\":\"a\",\"port\":\"out\"},\"target\":{\"node\":\"m\","
        "\"port\":\"in\"}},{\"source\":{\"node\":\"m\",\"port\":\"out\"},\"target\":{\"node\":\"j\",\"port\":\"p1\"}},"
        "{\"source\":{\"port\":\"out\",\"node\":\"a\"},\"target\":{\"node\":\"j\",\"port\":\"p2\"}}]}",
        "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":[],\"edges\":[]}",
        /* problems: each in a plain element and a non-plain one */
        "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":[{\"id\":\"a\"," PT "},{\"id\":\"a\"," PT "}],\"edges\":[]}",
        "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":[{\"id\":\"a\",\"component\":\"nope\"},{\"id\":\"b\",\"x\":1,"
        "\"component\":\"nope2\"}],\"edges\":[]}",
        "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":[{\"id\":\"a\"," PT "},{\"id\":\"b\"," PT "}],\"edges\":["
        "{\"source\":{\"node\":\"a\",\"port\":\"nope\"},\"target\":{\"node\":\"zz\",\"port\":\"in\"}},"
        "{\"id\":7,\"source\":{\"node\":\"a\",\"port\":\"out\"},\"target\":{\"node\":\"b\",\"port\":\"\"}},"
        "{\"source\":\"a\",\"target\":{\"node\":\"b\",\"port\":\"in\"}},3]}",
        "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":[{\"id\":\"a\"," PT "},{\"id\":\"b\"," PT "}],\"edges\":["
        EDGE("a", "b") "," EDGE("b", "a") "]}",
        "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":[{\"id\":\"m\",\"component\":\"symbia.core.map\"},{\"id\":\"\","
        PT "},{" PT "},null],\"edges\":[]}",
        "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":{},\"edges\":[],\"metadata\":[]}",
        "{\"name\":\"a\",\"nodes\":[],\"edges\":7}",
        /* not JSON, or JSON jansson refuses: the whole-text path reports it */
        "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":[{\"id\":\"a\"," PT ",\"id\":\"b\"}],\"edges\":[]}",
        "{\"symbia\":\"1\",\"name\":\"a\",\"name\":\"b\",\"nodes\":[],\"edges\":[]}",
        "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":[],\"nodes\":[],\"edges\":[]}",
        "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":[{\"id\":\"a\"," PT "},],\"edges\":[]}",
        "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":[{\"id\":\"a\"," PT "}],\"edges\":[]} x",
        "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":[{\"id\":\"a\"," PT "}],\"edges\":[]",
        "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":[{\"id\":\"a\xff\"," PT "}],\"edges\":[]}",
        "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":[{\"id\":\"a\"," PT "}] \"edges\":[]}",
        "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":[{\"id\":\"a\",\"component\":\"symbia.core.passthrough\"]],"
        "\"edges\":[]}",
        "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":[{\"id\":\"a\"," PT "}],\"edges\":[tru]}",
        "[1,2]",
        "",
        "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":[\"unterminated],\"edges\":[]}",
        /* a problem found before an element that is not JSON: the parse error, not the problem */
        "{\"symbia\":\"1\",\"name\":\"x\",\"nodes\":[{\"id\":\"a\",}]}",
        "{\"symbia\":\"1\",\"nodes\":[{\"id\":\"a\"," PT "}],\"edges\":[{\"source\":1,}]}",
        "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":[{\"id\":\"a\",\"component\":\"nope\"},{\"id\":\"b\",\"x\":[}],"
        "\"edges\":[]}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) same_either_way(texts[i]);
}

Test(graph, nesting_near_the_parser_limit_is_refused_either_way) {
    /* jansson refuses nesting past 2048 levels; an element's depth counts
     * the two levels above it */
    size_t depth = 2050, cap = 2 * depth + 256;
    char *t = malloc(cap), *p = t;
    p += sprintf(p, "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":[{\"id\":\"a\"," PT ",\"x\":");
    for (size_t i = 0; i < depth; i++) *p++ = '[';
    for (size_t i = 0; i < depth; i++) *p++ = ']';
    sprintf(p, "}],\"edges\":[]}");
    same_either_way(t);
    free(t);
}

/* SPEC §10: a document of many bad elements keeps MAX_PROBLEMS (1000)
 * messages and says there were more, instead of one message each. */
Test(graph, problems_are_bounded_and_the_rest_counted) {
    size_t n = 5000, cap = n * 2 + 128;
    char *t = malloc(cap), *p = t;
    p += sprintf(p, "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":[");
    for (size_t i = 0; i < n; i++) p += sprintf(p, "%s0", i ? "," : "");
    sprintf(p, "],\"edges\":[]}");
    same_either_way(t);
    json_t *probs = json_array();
    weir_graph_options o = {.problems = probs};
    weir_graph *g = NULL;
    weir_error err;
    cr_assert_eq(weir_graph_load_text(ts.reg, t, strlen(t), &o, &g, &err), WEIR_EGRAPH);
    cr_assert_eq(json_array_size(probs), 1001);
    cr_assert(strstr(json_string_value(json_array_get(probs, 1000)), "more problems than the 1000 listed"), "%s",
              json_string_value(json_array_get(probs, 1000)));
    json_decref(probs);
    free(t);
}

/* Edges may give a node with dynamic ports (merge) at most 1024 ports per
 * direction: a document of many edges to distinct ports stays linear. */
Test(graph, dynamic_ports_per_node_are_bounded) {
    size_t n = 1100, cap = n * 128 + 256;
    char *t = malloc(cap), *p = t;
    p += sprintf(p, "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":[{\"id\":\"a\"," PT "},{\"id\":\"m\",\"component\":"
                    "\"symbia.core.merge\"}],\"edges\":[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s{\"source\":{\"node\":\"a\",\"port\":\"out\"},\"target\":{\"node\":\"m\",\"port\":\"p%zu\"}}",
                     i ? "," : "", i);
    sprintf(p, "]}");
    same_either_way(t);
    json_t *probs = json_array();
    weir_graph_options o = {.problems = probs};
    weir_graph *g = NULL;
    weir_error err;
    cr_assert_eq(weir_graph_load_text(ts.reg, t, strlen(t), &o, &g, &err), WEIR_EGRAPH);
    cr_assert_eq(json_array_size(probs), n - 1024);
    cr_assert(strstr(json_string_value(json_array_get(probs, 0)), "has 1024 input ports already"), "%s",
              json_string_value(json_array_get(probs, 0)));
    json_decref(probs);
    free(t);
    /* 1024 load */
    t = malloc(cap);
    p = t;
    p += sprintf(p, "{\"symbia\":\"1\",\"name\":\"a\",\"nodes\":[{\"id\":\"a\"," PT "},{\"id\":\"m\",\"component\":"
                    "\"symbia.core.merge\"}],\"edges\":[");
    for (size_t i = 0; i < 1024; i++)
        p += sprintf(p, "%s{\"source\":{\"node\":\"a\",\"port\":\"out\"},\"target\":{\"node\":\"m\",\"port\":\"p%zu\"}}",
                     i ? "," : "", i);
    sprintf(p, "]}");
    cr_assert_eq(weir_graph_load_text(ts.reg, t, strlen(t), NULL, &g, &err), 0, "%s", err.message);
    weir_graph_unref(g);
    free(t);
}
