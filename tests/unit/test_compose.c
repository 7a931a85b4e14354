/* Composition (SPEC §1, issue 14): graph:<name>[@version] nodes flattened
 * at load (src/core/compose.c) — path ids, rewired edges, metadata.ports
 * checked, recursion refused naming the chain, nesting, one graph used
 * twice, the bounds, and the flattened document that a journal keeps. */
#include <stdio.h>
#include <string.h>

#include "shell.h"

static test_shell ts;
static void setup(void) { ts_init(&ts, false); }
static void teardown(void) { ts_fini(&ts); }
TestSuite(compose, .init = setup, .fini = teardown);

/* Graph documents are written with ' for " (none of them needs a '). */
static json_t *doc_of(const char *text) {
    char buf[8192];
    size_t n = strlen(text);
    cr_assert_lt(n, sizeof buf);
    for (size_t i = 0; i <= n; i++) buf[i] = text[i] == '\'' ? '"' : text[i];
    json_error_t je;
    json_t *d = json_loads(buf, 0, &je);
    cr_assert_not_null(d, "bad test JSON: %s: %s", je.text, buf);
    return d;
}

/* The graphs the resolver knows: name → document text (with '). */
typedef struct known {
    const char *name, *text;
} known;

typedef struct lib {
    const known *graphs;
    char asked[16][64]; /* "name@version" per call */
    int calls;
    int deep;           /* > 0: "d<N>" resolves to a graph using d<N+1> */
} lib;

static int resolve(void *ud, const char *name, const char *version, json_t **doc, weir_error *err) {
    lib *l = ud;
    if (l->calls < 16) snprintf(l->asked[l->calls], sizeof l->asked[0], "%s@%s", name, version ? version : "");
    l->calls++;
    if (l->deep && name[0] == 'd') {
        int k = atoi(name + 1);
        char text[512];
        snprintf(text, sizeof text,
                 "{'symbia':'1.0','name':'d%d','metadata':{'ports':{'inputs':[{'name':'in','node':'n','port':'in'}]}},"
                 "'nodes':[{'id':'n','component':'graph:d%d'}],'edges':[]}",
                 k, k + 1);
        *doc = doc_of(text);
        return 0;
    }
    for (const known *k = l->graphs; k && k->name; k++)
        if (strcmp(k->name, name) == 0) {
            *doc = doc_of(k->text);
            const char *v = json_string_value(json_object_get(*doc, "version"));
            if (version && (!v || strcmp(v, version) != 0)) {
                json_decref(*doc);
                *doc = NULL;
                snprintf(err->message, sizeof err->message, "no version %s of %s", version, name);
                return err->code = WEIR_ENOTFOUND;
            }
            return 0;
        }
    snprintf(err->message, sizeof err->message, "no graph named %s here", name);
    return err->code = WEIR_ENOTFOUND;
}

/* in → m (value + 1) → out */
static const char INC[] =
    "{'symbia':'1.0','name':'inc','version':'2','metadata':{'ports':{'inputs':[{'name':'in','node':'m','port':'in'}],"
    "'outputs':[{'name':'out','node':'m','port':'out'}]}},"
    "'nodes':[{'id':'m','component':'symbia.core.map','config':{'expression':'value + 1'}}],'edges':[]}";
/* in → k (graph:inc) → t (value * 10) → out */
static const char OUTER[] =
    "{'symbia':'1.0','name':'outer','metadata':{'ports':{'inputs':[{'name':'in','node':'k','port':'in'}],"
    "'outputs':[{'name':'out','node':'t','port':'out'}]}},"
    "'nodes':[{'id':'k','component':'graph:inc'},{'id':'t','component':'symbia.core.map','config':{'expression':"
    "'value * 10'}}],'edges':[{'id':'e','source':{'node':'k','port':'out'},'target':{'node':'t','port':'in'}}]}";
static const known LIB[] = {{"inc", INC}, {"outer", OUTER}, {NULL, NULL}};

#define PT(id) "{'id':'" id "','component':'symbia.core.passthrough'}"
#define EDGE(a, ap, b, bp) "{'source':{'node':'" a "','port':'" ap "'},'target':{'node':'" b "','port':'" bp "'}}"

/* Load text (') with the resolver; 0 or the code, err filled. */
static int load(lib *l, const char *text, weir_graph **g, json_t *details, json_t **flat, weir_error *err) {
    json_t *d = doc_of(text);
    weir_graph_options o = {.id = "g", .details = details, .resolve = resolve, .resolve_ud = l, .flattened = flat};
    int rc = weir_graph_load(ts.reg, d, &o, g, err);
    json_decref(d);
    return rc;
}

static weir_graph *load_ok(lib *l, const char *text, json_t **flat) {
    weir_graph *g = NULL;
    weir_error err;
    int rc = load(l, text, &g, NULL, flat, &err);
    cr_assert_eq(rc, 0, "load failed: %s", err.message);
    return g;
}

/* The message of a load that must fail (a static buffer); details too. */
static const char *load_fails(lib *l, const char *text, json_t *details) {
    static weir_error err;
    weir_graph *g = NULL;
    int rc = load(l, text, &g, details, NULL, &err);
    cr_assert_eq(rc, WEIR_EGRAPH, "loaded (rc %d) but should not have", rc);
    cr_assert_null(g);
    return err.message;
}

static json_t *topo(weir_graph *g, const char *key) {
    json_t *t = weir_graph_topology(g);
    json_t *v = json_incref(json_object_get(t, key));
    json_decref(t);
    return v;
}

static void assert_sorted(weir_graph *g, const char *want) {
    json_t *s = topo(g, "sorted");
    cr_assert_str_eq(ts_dump(s), want);
    json_decref(s);
}

/* Inject v into node:in of g and return the settled outputs as text. */
static const char *run_once(weir_graph *g, const char *node, const char *v) {
    weir_exec *e = ts_start(&ts, g, NULL);
    cr_assert_eq(ts_inject(&ts, e, node, "in", v, 1), 0);
    const char *out = ts_dump(json_object_get(ts_last_settled(&ts), "outputs"));
    weir_exec_destroy(e);
    return out;
}

Test(compose, a_graph_node_becomes_its_nodes_with_path_ids_and_its_edges_are_rewired) {
    lib l = {.graphs = LIB};
    json_t *flat = NULL;
    weir_graph *g = load_ok(&l,
                            "{'symbia':'1.0','name':'main','nodes':[" PT("a") ",{'id':'x','component':'graph:inc'}," PT(
                                "b") "],'edges':[" EDGE("a", "out", "x", "in") "," EDGE("x", "out", "b", "in") "]}",
                            &flat);
    assert_sorted(g, "[\"a\",\"x/m\",\"b\"]");
    cr_assert_eq(weir_graph_node_count(g), 3);
    cr_assert_str_eq(run_once(g, "a", "1"), "{\"b:out\":2}");
    /* the flattened document: plain nodes and edges, and where they came from */
    cr_assert_not_null(flat);
    cr_assert_str_eq(ts_dump(json_object_get(flat, "subgraphs")), "[{\"inputs\":{\"in\":{\"node\":\"x/m\",\"port\":\"in\"}},\"name\":\"inc\",\"outputs\":{\"out\":{\"node\":\"x/m\",\"port\":\"out\"}},\"path\":\"x\",\"version\":\"2\"}]");
    cr_assert_str_eq(ts_dump(json_object_get(json_array_get(json_object_get(flat, "edges"), 0), "target")),
                     "{\"node\":\"x/m\",\"port\":\"in\"}");
    cr_assert_str_eq(l.asked[0], "inc@");
    json_decref(flat);
    weir_graph_unref(g);
}

Test(compose, the_same_graph_twice_gives_two_prefixes_and_a_version_is_asked_for) {
    lib l = {.graphs = LIB};
    weir_graph *g = load_ok(&l,
                            "{'symbia':'1.0','name':'main','nodes':[" PT("a") ",{'id':'x','component':'graph:inc'},"
                            "{'id':'y','component':'graph:inc@2'}," PT("b") "],'edges':[" EDGE("a", "out", "x", "in") ","
                            EDGE("x", "out", "y", "in") "," EDGE("y", "out", "b", "in") "]}",
                            NULL);
    assert_sorted(g, "[\"a\",\"x/m\",\"y/m\",\"b\"]");
    cr_assert_str_eq(run_once(g, "a", "1"), "{\"b:out\":3}");
    cr_assert_str_eq(l.asked[1], "inc@2");
    weir_graph_unref(g);
}

Test(compose, nested_graphs_get_nested_paths) {
    lib l = {.graphs = LIB};
    json_t *flat = NULL;
    weir_graph *g = load_ok(&l,
                            "{'symbia':'1.0','name':'main','nodes':[" PT("a") ",{'id':'o','component':'graph:outer'}],"
                            "'edges':[" EDGE("a", "out", "o", "in") "]}",
                            &flat);
    assert_sorted(g, "[\"a\",\"o/k/m\",\"o/t\"]");
    cr_assert_str_eq(run_once(g, "a", "4"), "{\"o/t:out\":50}");
    /* each level's ports name the flat node and port they come down to */
    cr_assert_str_eq(ts_dump(json_object_get(flat, "subgraphs")),
                     "[{\"inputs\":{\"in\":{\"node\":\"o/k/m\",\"port\":\"in\"}},\"name\":\"outer\",\"outputs\":{"
                     "\"out\":{\"node\":\"o/t\",\"port\":\"out\"}},\"path\":\"o\",\"version\":null},{\"inputs\":{\"in\":{\"node\":"
                     "\"o/k/m\",\"port\":\"in\"}},\"name\":\"inc\",\"outputs\":{\"out\":{\"node\":\"o/k/m\",\"port\":"
                     "\"out\"}},\"path\":\"o/k\",\"version\":\"2\"}]");
    json_decref(flat);
    weir_graph_unref(g);
}

Test(compose, the_flattened_document_loads_alone_to_the_same_graph) {
    lib l = {.graphs = LIB};
    json_t *flat = NULL;
    const char *text = "{'symbia':'1.0','name':'main','metadata':{'ingress':{'node':'o','port':'in'},'ports':{"
                       "'outputs':[{'name':'result','node':'o','port':'out'}]}},'nodes':[{'id':'o','component':'graph:"
                       "outer'}],'edges':[]}";
    weir_graph *g = load_ok(&l, text, &flat);
    /* ingress and ports name the inner ports the graph node stood for */
    json_t *md = json_object_get(flat, "metadata");
    cr_assert_str_eq(ts_dump(json_object_get(md, "ingress")), "{\"node\":\"o/k/m\",\"port\":\"in\"}");
    cr_assert_str_eq(ts_dump(json_object_get(json_object_get(md, "ports"), "outputs")),
                     "[{\"name\":\"result\",\"node\":\"o/t\",\"port\":\"out\"}]");
    /* an ingress without a port: the graph node's only input */
    json_t *flat2 = NULL;
    weir_graph *g2 = load_ok(&l,
                             "{'symbia':'1.0','name':'main','metadata':{'ingress':{'node':'o'}},'nodes':[{'id':'o',"
                             "'component':'graph:outer'}],'edges':[]}",
                             &flat2);
    cr_assert_str_eq(ts_dump(json_object_get(json_object_get(flat2, "metadata"), "ingress")),
                     "{\"node\":\"o/k/m\",\"port\":\"in\"}");
    json_decref(flat2);
    weir_graph_unref(g2);
    /* no resolver: what a journal's start record loads */
    weir_graph *again = NULL;
    weir_error err;
    weir_graph_options o = {.id = "g"};
    cr_assert_eq(weir_graph_load(ts.reg, flat, &o, &again, &err), 0, "%s", err.message);
    json_t *t1 = weir_graph_topology(g), *t2 = weir_graph_topology(again);
    cr_assert(json_equal(t1, t2), "%s", ts_dump(t2));
    /* and so does its text */
    char *s = json_dumps(flat, JSON_COMPACT);
    weir_graph *third = NULL;
    cr_assert_eq(weir_graph_load_text(ts.reg, s, strlen(s), &o, &third, &err), 0, "%s", err.message);
    cr_assert_eq(weir_graph_node_count(third), 2);
    free(s);
    json_decref(t1);
    json_decref(t2);
    json_decref(flat);
    weir_graph_unref(g);
    weir_graph_unref(again);
    weir_graph_unref(third);
}

Test(compose, text_with_graph_nodes_loads_through_the_document) {
    lib l = {.graphs = LIB};
    char text[] = "{\"symbia\":\"1.0\",\"name\":\"t\",\"nodes\":[{\"id\":\"x\",\"component\":\"graph:inc\"}],\"edges\":[]}";
    weir_graph *g = NULL;
    weir_error err;
    weir_graph_options o = {.resolve = resolve, .resolve_ud = &l};
    cr_assert_eq(weir_graph_load_text(ts.reg, text, strlen(text), &o, &g, &err), 0, "%s", err.message);
    assert_sorted(g, "[\"x/m\"]");
    weir_graph_unref(g);
}

/* ------------------------------------------------------------ mappings */

static const char *bad_sub(const char *ports, json_t *details) {
    static char text[4096];
    snprintf(text, sizeof text,
             "{'symbia':'1.0','name':'sub','metadata':{'ports':%s},'nodes':[{'id':'m','component':'symbia.core.map',"
             "'config':{'expression':'value'}}," PT("p") "],'edges':[" EDGE("m", "out", "p", "in") "]}",
             ports);
    known graphs[] = {{"sub", text}, {NULL, NULL}};
    lib l = {.graphs = graphs};
    return load_fails(&l,
                      "{'symbia':'1.0','name':'main','nodes':[" PT("a") ",{'id':'use','component':'graph:sub'}],"
                      "'edges':[" EDGE("a", "out", "use", "in") "]}",
                      details);
}

Test(compose, a_mapping_to_an_unknown_inner_node_names_the_nodes_and_the_path) {
    json_t *details = json_array();
    const char *m = bad_sub("{'inputs':[{'name':'in','node':'zz','port':'in'}]}", details);
    cr_assert(strstr(m, "graph \"sub\" (node \"use\"): metadata.ports.inputs[0].node \"zz\" is not a node of the graph; "
                        "map port \"in\" to one of its nodes: m, p"),
              "%s", m);
    json_t *d = json_array_get(details, 0);
    cr_assert_str_eq(json_string_value(json_object_get(d, "code")), "bad-ports");
    cr_assert_str_eq(json_string_value(json_object_get(d, "nodeId")), "use");
    cr_assert_str_eq(json_string_value(json_object_get(d, "field")), "metadata.ports.inputs[0]");
    json_decref(details);
}

Test(compose, a_mapping_to_an_unknown_port_lists_the_ports) {
    const char *m = bad_sub("{'inputs':[{'name':'in','node':'m','port':'inn'}]}", NULL);
    cr_assert(strstr(m, "maps port \"in\" to port \"inn\" of node \"use/m\" (symbia.core.map), which has no such port; "
                        "its input ports are: in"),
              "%s", m);
}

Test(compose, an_output_mapped_to_an_input_port_says_which_it_is) {
    const char *m = bad_sub("{'inputs':[{'name':'in','node':'m','port':'in'}],"
                            "'outputs':[{'name':'out','node':'p','port':'in'}]}",
                            NULL);
    cr_assert(strstr(m, "metadata.ports.outputs[0] maps output port \"out\" to port \"in\" of node \"use/p\" "
                        "(symbia.core.passthrough), which is an input port; map it to one of its output ports: out"),
              "%s", m);
}

Test(compose, a_port_name_mapped_twice_is_refused) {
    const char *m = bad_sub("{'inputs':[{'name':'in','node':'m','port':'in'},{'name':'in','node':'p','port':'in'}]}",
                            NULL);
    cr_assert(strstr(m, "graph \"sub\" (node \"use\"): input port \"in\" is named twice in metadata.ports.inputs"), "%s",
              m);
}

Test(compose, malformed_ports_are_refused) {
    cr_assert(strstr(bad_sub("[1]", NULL), "metadata.ports must be an object"));
    cr_assert(strstr(bad_sub("{'inputs':{}}", NULL), "metadata.ports.inputs must be an array"));
    cr_assert(strstr(bad_sub("{'inputs':[{'name':'in','node':'m'}]}", NULL),
                     "metadata.ports.inputs[0] is not {\"name\", \"node\", \"port\"}"));
}

Test(compose, an_edge_to_a_port_the_graph_does_not_map_lists_the_mapped_ones) {
    lib l = {.graphs = LIB};
    json_t *details = json_array();
    const char *m = load_fails(&l,
                               "{'symbia':'1.0','name':'main','nodes':[" PT("a") ",{'id':'x','component':'graph:inc'}],"
                               "'edges':[{'id':'e7','source':{'node':'a','port':'out'},'target':{'node':'x','port':"
                               "'input'}}]}",
                               details);
    cr_assert(strstr(m, "edge \"e7\" of graph \"main\": node \"x\" (graph:inc) has no input port \"input\"; its input "
                        "ports (metadata.ports.inputs of its graph) are: in"),
              "%s", m);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(details, 0), "code")), "unknown-port");
    json_decref(details);
}

Test(compose, problems_inside_a_graph_name_the_path_and_the_rest_are_still_found) {
    known graphs[] = {{"sub", "{'symbia':'1.0','name':'sub','metadata':{'ports':{'inputs':[{'name':'in','node':'m',"
                              "'port':'in'}]}},'nodes':[{'id':'m','component':'symbia.core.map','config':{'expression':"
                              "'value +'}}],'edges':[" EDGE("m", "out", "gone", "in") "]}"},
                      {NULL, NULL}};
    lib l = {.graphs = graphs};
    const char *m = load_fails(&l,
                               "{'symbia':'1.0','name':'main','nodes':[{'id':'s','component':'graph:sub'},{'id':'n',"
                               "'component':'graph:none'}],'edges':[]}",
                               NULL);
    cr_assert(strstr(m, "node \"n\": graph:none: no graph named none here"), "%s", m);
    cr_assert(strstr(m, "node \"s/m\": expression in config \"expression\" does not compile"), "%s", m);
    cr_assert(strstr(m, "edge \"s/edges[0]\" references unknown target node \"s/gone\""), "%s", m);
}

Test(compose, a_malformed_graph_is_refused_naming_where_it_is_used) {
    known graphs[] = {{"nodes", "{'symbia':'1.0','name':'nodes','nodes':{},'edges':[]}"},
                      {"elems", "{'symbia':'1.0','name':'elems','nodes':[7," PT("p") "],'edges':[{'source':'p'},"
                                "{'id':'e2','target':{'node':'p','port':'in'}}]}"},
                      {NULL, NULL}};
    lib l = {.graphs = graphs};
    const char *m = load_fails(&l,
                               "{'symbia':'1.0','name':'main','nodes':[{'id':'a','component':'graph:nodes'},{'id':'b',"
                               "'component':'graph:elems'}],'edges':[]}",
                               NULL);
    cr_assert(strstr(m, "node \"a\": graph \"nodes\" has no \"nodes\" and \"edges\" arrays"), "%s", m);
    cr_assert(strstr(m, "node \"b\": node at index 0 of graph \"elems\" is not {\"id\", \"component\"}"), "%s", m);
    cr_assert(strstr(m, "node \"b\": edge edges[0] of graph \"elems\" is not {\"source\""), "%s", m);
    cr_assert(strstr(m, "node \"b\": edge \"e2\" of graph \"elems\" is not {\"source\""), "%s", m);
}

Test(compose, a_graph_node_takes_no_config_and_must_name_a_graph) {
    lib l = {.graphs = LIB};
    const char *m = load_fails(&l,
                               "{'symbia':'1.0','name':'main','nodes':[{'id':'x','component':'graph:inc','config':{'a':1}},"
                               "{'id':'y','component':'graph:'},{'id':'z','component':'graph:inc@'}],'edges':[]}",
                               NULL);
    cr_assert(strstr(m, "node \"x\" (graph:inc) takes no config"), "%s", m);
    cr_assert(strstr(m, "node \"y\": component \"graph:\" names no graph"), "%s", m);
    cr_assert(strstr(m, "node \"z\": component \"graph:inc@\" names no graph"), "%s", m);
}

Test(compose, without_a_resolver_a_graph_node_is_refused_clearly) {
    json_t *d = doc_of("{'symbia':'1.0','name':'main','nodes':[{'id':'x','component':'graph:inc'}],'edges':[]}");
    weir_graph *g = NULL;
    weir_error err;
    cr_assert_eq(weir_graph_load(ts.reg, d, NULL, &g, &err), WEIR_EGRAPH);
    cr_assert(strstr(err.message, "node \"x\": graph:inc: graphs cannot be resolved here"), "%s", err.message);
    json_decref(d);
}

Test(compose, a_version_the_resolver_does_not_have_is_its_answer) {
    lib l = {.graphs = LIB};
    const char *m = load_fails(
        &l, "{'symbia':'1.0','name':'main','nodes':[{'id':'x','component':'graph:inc@7'}],'edges':[]}", NULL);
    cr_assert(strstr(m, "node \"x\": graph:inc@7: no version 7 of inc"), "%s", m);
}

/* ------------------------------------------------------------ recursion */

Test(compose, a_graph_that_contains_itself_directly_is_refused) {
    known graphs[] = {{"self", "{'symbia':'1.0','name':'self','nodes':[{'id':'me','component':'graph:self'}],"
                               "'edges':[]}"},
                      {NULL, NULL}};
    lib l = {.graphs = graphs};
    json_t *details = json_array();
    const char *m = load_fails(&l, graphs[0].text, details);
    cr_assert(strstr(m, "graph \"self\" contains itself: self → self (node \"me\" uses graph:self)"), "%s", m);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(details, 0), "code")), "recursion");
    cr_assert_eq(l.calls, 0, "refused before it is looked up");
    json_decref(details);
}

Test(compose, a_graph_that_contains_itself_through_others_names_the_chain) {
    known graphs[] = {{"a", "{'symbia':'1.0','name':'a','nodes':[{'id':'x','component':'graph:b'}],'edges':[]}"},
                      {"b", "{'symbia':'1.0','name':'b','nodes':[{'id':'y','component':'graph:c'}],'edges':[]}"},
                      {"c", "{'symbia':'1.0','name':'c','nodes':[" PT("p") ",{'id':'z','component':'graph:a'}],"
                            "'edges':[]}"},
                      {NULL, NULL}};
    lib l = {.graphs = graphs};
    const char *m = load_fails(&l, graphs[0].text, NULL);
    cr_assert(strstr(m, "graph \"a\" contains itself: a → b → c → a (node \"x/y/z\" uses graph:a)"), "%s", m);
    /* the same graph twice side by side is no recursion */
    known twice[] = {{"inc", INC},
                     {"two", "{'symbia':'1.0','name':'two','nodes':[{'id':'p','component':'graph:inc'},{'id':'q',"
                             "'component':'graph:inc'}],'edges':[]}"},
                     {NULL, NULL}};
    lib l2 = {.graphs = twice};
    weir_graph *g = load_ok(&l2, "{'symbia':'1.0','name':'top','nodes':[{'id':'t','component':'graph:two'}],'edges':[]}",
                            NULL);
    assert_sorted(g, "[\"t/p/m\",\"t/q/m\"]");
    cr_assert_eq(l2.calls, 2, "one graph used twice is looked up once");
    weir_graph_unref(g);
}

/* --------------------------------------------------------------- bounds */

Test(compose, nesting_is_bounded_by_depth) {
    lib l = {.deep = 1};
    const char *m = load_fails(&l, "{'symbia':'1.0','name':'top','nodes':[{'id':'n','component':'graph:d0'}],'edges':[]}",
                               NULL);
    cr_assert(strstr(m, "graphs nest deeper than 32 levels here (WEIR_GRAPH_MAX_DEPTH)"), "%s", m);
    cr_assert_eq(l.calls, WEIR_GRAPH_MAX_DEPTH);
}

Test(compose, the_flattened_size_is_bounded) {
    lib l = {.graphs = LIB};
    json_t *d = doc_of("{'symbia':'1.0','name':'main','nodes':[{'id':'x','component':'graph:outer'},{'id':'y',"
                       "'component':'graph:outer'}],'edges':[]}");
    weir_graph *g = NULL;
    weir_error err;
    /* each use of outer brings k (a graph node), t, its edge and inc's m: 4 */
    weir_graph_options o = {.resolve = resolve, .resolve_ud = &l, .max_nodes = 7};
    cr_assert_eq(weir_graph_load(ts.reg, d, &o, &g, &err), WEIR_EGRAPH);
    cr_assert(strstr(err.message, "the graph's graph nodes expand to more than 7 nodes and edges (MAX_COMPOSED_NODES)"),
              "%s", err.message);
    o.max_nodes = 8; /* 2 x 4 */
    cr_assert_eq(weir_graph_load(ts.reg, d, &o, &g, &err), 0, "%s", err.message);
    weir_graph_unref(g);
    /* the bytes of the graphs expanded, each use counted */
    size_t one = strlen(OUTER) + strlen(INC); /* about what their compact JSON is */
    o = (weir_graph_options){.resolve = resolve, .resolve_ud = &l, .max_bytes = one};
    cr_assert_eq(weir_graph_load(ts.reg, d, &o, &g, &err), WEIR_EGRAPH);
    cr_assert(strstr(err.message, "bytes of graphs (MAX_COMPOSED_BYTES"), "%s", err.message);
    o.max_bytes = 4 * one;
    cr_assert_eq(weir_graph_load(ts.reg, d, &o, &g, &err), 0, "%s", err.message);
    weir_graph_unref(g);
    json_decref(d);
}

/* Graph nodes of graphs with nothing in them still cost their expansion:
 * they count, so a lattice of empty graphs cannot make a load run for
 * hours with no node to show for it (found by review: 1,000 x 1,000 empty
 * expansions took 20 s and 637 MB within the node bound). */
Test(compose, graph_nodes_of_empty_graphs_count_toward_the_bound) {
    static const known lattice[] = {
        {"e", "{'symbia':'1.0','name':'e','nodes':[],'edges':[]}"},
        {"l1", "{'symbia':'1.0','name':'l1','nodes':[{'id':'a','component':'graph:e'},{'id':'b','component':"
               "'graph:e'},{'id':'c','component':'graph:e'}],'edges':[]}"},
        {NULL, NULL}};
    lib l = {.graphs = lattice};
    json_t *d = doc_of("{'symbia':'1.0','name':'main','nodes':[{'id':'x','component':'graph:l1'},{'id':'y',"
                       "'component':'graph:l1'},{'id':'z','component':'graph:l1'}],'edges':[]}");
    weir_graph *g = NULL;
    weir_error err;
    weir_graph_options o = {.resolve = resolve, .resolve_ud = &l, .max_nodes = 8}; /* 3 x (a, b, c) = 9 */
    cr_assert_eq(weir_graph_load(ts.reg, d, &o, &g, &err), WEIR_EGRAPH, "no node at all, yet 9 expansions");
    cr_assert(strstr(err.message, "MAX_COMPOSED_NODES"), "%s", err.message);
    json_decref(d);
}

Test(compose, a_graph_without_graph_nodes_has_its_ports_checked_too) {
    lib l = {0};
    json_t *flat = NULL;
    weir_graph *g = load_ok(&l, INC, &flat);
    cr_assert_null(flat, "nothing was expanded: the document itself is what loads");
    weir_graph_unref(g);
    const char *m = load_fails(&l,
                               "{'symbia':'1.0','name':'p','metadata':{'ports':{'inputs':[{'name':'in','node':'m',"
                               "'port':'out'}]}},'nodes':[" PT("m") "],'edges':[]}",
                               NULL);
    cr_assert(strstr(m, "graph \"p\": metadata.ports.inputs[0] maps input port \"in\" to port \"out\" of node \"m\""),
              "%s", m);
}

Test(compose, weir_graph_flatten_gives_the_document_back_when_nothing_composes) {
    json_t *d = doc_of("{'symbia':'1.0','name':'p','nodes':[" PT("m") "],'edges':[]}"), *flat = NULL;
    weir_error err;
    cr_assert_eq(weir_graph_flatten(ts.reg, d, NULL, &flat, &err), 0);
    cr_assert_eq(flat, d);
    json_decref(flat);
    json_decref(d);
}
