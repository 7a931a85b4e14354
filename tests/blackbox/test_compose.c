/* Graphs that compose (issue 14), black-box: examples/compose stored over
 * REST and run (outputs, topology, metrics and events name the paths),
 * recursion refused with 400 naming the chain, a graph in use as a
 * subgraph not deleted (409 naming the executions), kill -9 and a restart
 * keep a composed execution running on the subgraph it started with (a
 * newer version stored meanwhile changes nothing), and its journal replays
 * after the graphs are gone; weir validate / run find subgraph files beside
 * the graph. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "serve.h"

#define EXAMPLES WEIR_SOURCE_DIR "/examples/compose/"

static char dir[64];

static void make_dir(void) {
    curl_global_init(CURL_GLOBAL_ALL);
    proc_tempdir(dir, sizeof dir, "bbcompose");
}

static void drop_dir(void) {
    if (dir[0]) serve_rmdir(dir);
    dir[0] = '\0';
}

TestSuite(compose, .init = make_dir, .fini = drop_dir, .timeout = 120);

static char *file_text(const char *path) {
    size_t len;
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    char *buf = malloc(1 << 16);
    len = fread(buf, 1, (1 << 16) - 1, f);
    buf[len] = '\0';
    fclose(f);
    return buf;
}

/* POST a graph document: its id (a static buffer per call site's copy). */
static void post_graph(server *s, const char *text, char *id, size_t cap) {
    http_resp r = http_req(s, "POST", "/api/graphs", text, NULL);
    cr_assert_eq(r.status, 201, "POST /api/graphs: %ld %s", r.status, r.body);
    snprintf(id, cap, "%s", json_string_value(json_object_get(r.json, "id")));
    http_free(&r);
}

static void post_example(server *s, const char *name, char *id, size_t cap) {
    char *text = file_text(name);
    post_graph(s, text, id, cap);
    free(text);
}

static void execute(server *s, const char *graph, char *x, size_t cap) {
    char path[128];
    snprintf(path, sizeof path, "/api/graphs/%s/execute", graph);
    http_resp r = http_req(s, "POST", path, "{\"completion\":\"never\"}", NULL);
    cr_assert_eq(r.status, 201, "execute: %s", r.body);
    snprintf(x, cap, "%s", json_string_value(json_object_get(r.json, "executionId")));
    http_free(&r);
}

/* Inject an order into x; its report (a static buffer). */
static const char *order(server *s, const char *x, const char *value) {
    static char out[256];
    char path[128], body[256];
    snprintf(path, sizeof path, "/api/executions/%s/inject", x);
    snprintf(body, sizeof body, "{\"nodeId\":\"order\",\"value\":%s}", value);
    http_resp r = http_req(s, "POST", path, body, NULL);
    cr_assert_eq(r.status, 200, "inject: %ld %s", r.status, r.body);
    const char *rep = json_string_value(json_object_get(json_object_get(r.json, "outputs"), "report:out"));
    cr_assert_not_null(rep, "no report: %s", r.body);
    snprintf(out, sizeof out, "%s", rep);
    http_free(&r);
    return out;
}

static json_t *get(server *s, const char *path) { return http_get_json(s, path); }

static const char *dump(json_t *v) {
    static char buf[4096];
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(buf, sizeof buf, "%s", t ? t : "(null)");
    free(t);
    return buf;
}

Test(compose, stored_over_rest_executed_and_every_answer_names_the_paths) {
    server s = serve_start(NULL);
    char sub[64], main_id[64], x[64];
    post_example(&s, EXAMPLES "enrich.json", sub, sizeof sub);
    post_example(&s, EXAMPLES "main.json", main_id, sizeof main_id);
    char path[256];
    snprintf(path, sizeof path, "/api/graphs/%s", main_id);
    json_t *g = get(&s, path);
    cr_assert_str_eq(dump(json_object_get(json_object_get(g, "topology"), "sorted")),
                     "[\"order\",\"retail/lookup\",\"bulkQty\",\"retail/total\",\"bulk/lookup\",\"bulk/total\","
                     "\"join\",\"report\"]");
    cr_assert_str_eq(dump(json_object_get(g, "subgraphs")),
                     "[{\"path\":\"retail\",\"name\":\"enrich\",\"version\":\"1\","
                     "\"inputs\":{\"in\":{\"node\":\"retail/lookup\",\"port\":\"in\"}},"
                     "\"outputs\":{\"out\":{\"node\":\"retail/total\",\"port\":\"out\"},"
                     "\"error\":{\"node\":\"retail/lookup\",\"port\":\"error\"}}},"
                     "{\"path\":\"bulk\",\"name\":\"enrich\",\"version\":\"1\","
                     "\"inputs\":{\"in\":{\"node\":\"bulk/lookup\",\"port\":\"in\"}},"
                     "\"outputs\":{\"out\":{\"node\":\"bulk/total\",\"port\":\"out\"},"
                     "\"error\":{\"node\":\"bulk/lookup\",\"port\":\"error\"}}}]");
    cr_assert_eq(json_array_size(json_object_get(json_object_get(g, "flattened"), "nodes")), 8);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(json_object_get(g, "definition"), "nodes"), 1), "component")),
                     "graph:enrich", "the definition is the one stored");
    json_decref(g);

    execute(&s, main_id, x, sizeof x);
    cr_assert_str_eq(order(&s, x, "{\"sku\":\"apple\",\"qty\":2}"), "2 apple: 6; 20: 60");
    snprintf(path, sizeof path, "/api/executions/%s/metrics", x);
    json_t *m = get(&s, path);
    json_t *nodes = json_object_get(m, "nodes");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(nodes, "retail/lookup"), "invocations")), 1,
                 "%s", dump(nodes));
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(nodes, "bulk/total"), "invocations")), 1);
    json_decref(m);
    /* an inject may name a graph node: it goes where its input is mapped */
    snprintf(path, sizeof path, "/api/executions/%s/inject", x);
    http_resp r = http_req(&s, "POST", path, "{\"nodeId\":\"retail\",\"port\":\"in\",\"value\":{\"sku\":\"pear\",\"qty\":1}}",
                           NULL);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    http_free(&r);
    snprintf(path, sizeof path, "/api/executions/%s/metrics", x);
    m = get(&s, path);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(json_object_get(m, "nodes"), "retail/lookup"),
                                                    "invocations")),
                 2);
    json_decref(m);

    /* the events, with the stock ws client */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "NODE_PATH='%s/js/node_modules' node '%s/tests/js/compose.cjs' %d '%s/examples'",
             WEIR_BUILD_DIR, WEIR_SOURCE_DIR, s.port, WEIR_SOURCE_DIR);
    proc_result pr = proc_run(cmd);
    cr_assert_eq(pr.status, 0, "compose.cjs failed:\n%s\n%s", pr.out, pr.err);
    proc_free(&pr);
    cr_assert_eq(serve_stop(&s), 0);
}

#define PT(id) "{\"id\":\"" id "\",\"component\":\"symbia.core.passthrough\"}"
#define PORTS "\"metadata\":{\"ports\":{\"inputs\":[{\"name\":\"in\",\"node\":\"n\",\"port\":\"in\"}]}}"

Test(compose, recursion_and_unknown_graphs_are_400_naming_the_chain) {
    const char *args[] = {"--memory", NULL};
    server s = serve_start(args);
    char a1[64], b[64];
    post_graph(&s, "{\"symbia\":\"1.0\",\"name\":\"a\",\"version\":\"1\"," PORTS ",\"nodes\":[" PT("n") "],\"edges\":[]}",
               a1, sizeof a1);
    post_graph(&s, "{\"symbia\":\"1.0\",\"name\":\"b\"," PORTS ",\"nodes\":[{\"id\":\"n\",\"component\":\"graph:a\"}],"
                   "\"edges\":[]}",
               b, sizeof b);
    /* a new a that uses b, which uses a */
    http_resp r = http_req(&s, "POST", "/api/graphs",
                           "{\"symbia\":\"1.0\",\"name\":\"a\",\"version\":\"2\",\"nodes\":[{\"id\":\"top\",\"component\":"
                           "\"graph:b\"}],\"edges\":[]}",
                           NULL);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(json_string_value(json_object_get(r.json, "error")),
                     "graph \"a\" contains itself: a → b → a (node \"top/n\" uses graph:a)"),
              "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "code")), "WEIR_EGRAPH");
    http_free(&r);
    /* the same in YAML, through the document path */
    const char *yaml_ct = "application/yaml";
    r = http_req(&s, "POST", "/api/graphs",
                 "symbia: '1.0'\nname: a\nnodes:\n  - {id: top, component: 'graph:b'}\nedges: []\n", yaml_ct);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(r.body, "a → b → a"), "%s", r.body);
    http_free(&r);
    /* a graph not stored, and a version not stored */
    r = http_req(&s, "POST", "/api/graphs",
                 "{\"symbia\":\"1.0\",\"name\":\"c\",\"nodes\":[{\"id\":\"u\",\"component\":\"graph:nope\"},{\"id\":"
                 "\"v\",\"component\":\"graph:a@9\"}],\"edges\":[]}",
                 NULL);
    cr_assert_eq(r.status, 400, "%s", r.body);
    const char *e = json_string_value(json_object_get(r.json, "error"));
    cr_assert(strstr(e, "node \"u\": graph:nope: no stored graph is named \"nope\""), "%s", e);
    cr_assert(strstr(e, "node \"v\": graph:a@9: no stored graph \"a\" has version \"9\" (stored versions: 1)"), "%s",
              e);
    cr_assert_eq(json_array_size(json_object_get(r.json, "problems")), 2, "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(compose, a_graph_used_as_a_subgraph_is_not_deleted_409_naming_the_executions) {
    const char *args[] = {"--memory", NULL};
    server s = serve_start(args);
    char sub[64], main_id[64], x[64], path[128];
    post_example(&s, EXAMPLES "enrich.json", sub, sizeof sub);
    post_example(&s, EXAMPLES "main.json", main_id, sizeof main_id);
    execute(&s, main_id, x, sizeof x);
    snprintf(path, sizeof path, "/api/graphs/%s", sub);
    http_resp r = http_req(&s, "DELETE", path, NULL, NULL);
    cr_assert_eq(r.status, 409, "%s", r.body);
    const char *e = json_string_value(json_object_get(r.json, "error"));
    cr_assert(strstr(e, "is used as a subgraph by graph \"orders\""), "%s", e);
    cr_assert(strstr(e, x), "names execution %s: %s", x, e);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "code")), "WEIR_ESTATE");
    http_free(&r);
    /* still there and still running */
    cr_assert_str_eq(order(&s, x, "{\"sku\":\"pear\",\"qty\":1}"), "1 pear: 5; 10: 50");
    /* once the graph using it is gone, it goes */
    snprintf(path, sizeof path, "/api/graphs/%s", main_id);
    r = http_req(&s, "DELETE", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    snprintf(path, sizeof path, "/api/graphs/%s", sub);
    r = http_req(&s, "DELETE", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(compose, max_composed_nodes_bounds_what_graph_nodes_expand_to) {
    const char *args[] = {"--memory", "--max-composed-nodes", "3", NULL};
    server s = serve_start(args);
    char sub[64];
    post_example(&s, EXAMPLES "enrich.json", sub, sizeof sub); /* 2 nodes of its own: no bound */
    char *text = file_text(EXAMPLES "main.json");
    http_resp r = http_req(&s, "POST", "/api/graphs", text, NULL); /* 2 x 2 */
    free(text);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(r.body, "expand to more than 3 nodes and edges (MAX_COMPOSED_NODES)"), "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
    /* and the bytes of the graphs they expand, each use counted */
    const char *bytes[] = {"--memory", "--max-composed-bytes", "600", NULL};
    s = serve_start(bytes);
    post_example(&s, EXAMPLES "enrich.json", sub, sizeof sub);
    text = file_text(EXAMPLES "main.json");
    r = http_req(&s, "POST", "/api/graphs", text, NULL);
    free(text);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(r.body, "more than 600 bytes of graphs (MAX_COMPOSED_BYTES"), "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

/* weir serve --data-dir dir */
static server start_on_dir(void) {
    const char *args[] = {"--data-dir", dir, NULL};
    return serve_start(args);
}

Test(compose, kill_9_and_restart_keep_a_composed_execution_on_the_subgraph_it_started_with) {
    server s = start_on_dir();
    char sub[64], sub2[64], main_id[64], x[64], path[256];
    post_example(&s, EXAMPLES "enrich.json", sub, sizeof sub);
    post_example(&s, EXAMPLES "main.json", main_id, sizeof main_id);
    execute(&s, main_id, x, sizeof x);
    cr_assert_str_eq(order(&s, x, "{\"sku\":\"apple\",\"qty\":2}"), "2 apple: 6; 20: 60");
    /* a newer enrich (prices x100): the running execution keeps version 1 */
    char *text = file_text(EXAMPLES "enrich.json");
    char *v = strstr(text, "\"version\": \"1\"");
    cr_assert_not_null(v);
    v[12] = '2';
    char *p = strstr(text, "? 3 : 5");
    cr_assert_not_null(p);
    memcpy(p, "? 7 : 9", 7);
    post_graph(&s, text, sub2, sizeof sub2);
    free(text);
    cr_assert_eq(serve_kill(&s), 128 + 9);

    s = start_on_dir();
    snprintf(path, sizeof path, "/api/executions/%s", x);
    json_t *j = get(&s, path);
    cr_assert_str_eq(json_string_value(json_object_get(j, "state")), "running", "%s", dump(j));
    json_decref(j);
    cr_assert_str_eq(order(&s, x, "{\"sku\":\"apple\",\"qty\":2}"), "2 apple: 6; 20: 60");
    /* time travel and fork over the composed journal */
    snprintf(path, sizeof path, "/api/executions/%s/at/1", x);
    j = get(&s, path);
    cr_assert(json_object_get(json_object_get(j, "nodes"), "bulk/lookup"), "%s", dump(j));
    json_decref(j);
    snprintf(path, sizeof path, "/api/executions/%s/fork", x);
    http_resp fk = http_req(&s, "POST", path, "{\"atTick\":1}", NULL);
    cr_assert_eq(fk.status, 201, "fork: %s", fk.body);
    http_free(&fk);
    /* the stored orders graph still resolves the version it was stored with */
    snprintf(path, sizeof path, "/api/graphs/%s", main_id);
    j = get(&s, path);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "subgraphs"), 0), "version")),
                     "1");
    json_decref(j);
    /* a new orders uses the newest enrich for graph:enrich (retail), and
     * version 1 still for graph:enrich@1 (bulk) */
    char main2[64], x2[64];
    post_example(&s, EXAMPLES "main.json", main2, sizeof main2);
    execute(&s, main2, x2, sizeof x2);
    cr_assert_str_eq(order(&s, x2, "{\"sku\":\"apple\",\"qty\":2}"), "2 apple: 14; 20: 60");

    /* the graphs gone, the first execution's journal is self-contained */
    const char *ids[] = {main_id, main2, sub, sub2};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "/api/graphs/%s", ids[i]);
        http_resp r = http_req(&s, "DELETE", path, NULL, NULL);
        cr_assert_eq(r.status, 200, "DELETE %s: %s", ids[i], r.body);
        http_free(&r);
    }
    snprintf(path, sizeof path, "/api/executions/%s/journal", x);
    http_resp r = http_req(&s, "GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    char *journal = proc_tempfile(".ndjson", r.body);
    r.status = 0;
    http_resp imp = http_req(&s, "POST", "/api/executions/import", r.body, "application/x-ndjson");
    cr_assert_eq(imp.status, 201, "import: %s", imp.body);
    http_free(&imp);
    http_free(&r);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' replay '%s'", WEIR_BINARY, journal);
    proc_result pr = proc_run(cmd);
    cr_assert_eq(pr.status, 0, "weir replay: %s %s", pr.out, pr.err);
    cr_assert(strstr(pr.out, "match"), "%s", pr.out);
    proc_free(&pr);
    unlink(journal);
    free(journal);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(compose, weir_validate_and_run_find_subgraphs_beside_the_graph) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' validate '%smain.json'", WEIR_BINARY, EXAMPLES);
    proc_result pr = proc_run(cmd);
    cr_assert_eq(pr.status, 0, "%s %s", pr.out, pr.err);
    cr_assert(strstr(pr.out, "sorted       order retail/lookup bulkQty retail/total bulk/lookup bulk/total join report"),
              "%s", pr.out);
    proc_free(&pr);
    snprintf(cmd, sizeof cmd, "'%s' run '%smain.json' -i 'order={\"sku\":\"pear\",\"qty\":3}'", WEIR_BINARY, EXAMPLES);
    pr = proc_run(cmd);
    cr_assert_eq(pr.status, 0, "%s %s", pr.out, pr.err);
    cr_assert(strstr(pr.out, "report:out \"3 pear: 15; 30: 150\""), "%s", pr.out);
    proc_free(&pr);
    /* weir sim flattens too: its journal replays with nothing else */
    char *sc = proc_tempfile(".json",
                             "{\"steps\":[{\"inject\":{\"nodeId\":\"order\",\"value\":{\"sku\":\"apple\","
                             "\"qty\":2},\"atTick\":[0,3]}},{\"run\":true}],\"invariants\":[{\"name\":\"no "
                             "report\",\"expression\":\"!outputs['report:out']\"}]}");
    char *out = proc_tempfile(".ndjson", "");
    snprintf(cmd, sizeof cmd, "'%s' sim '%smain.json' --scenario '%s' --seeds 3 --seed 1 --out '%s' && exit 9; '%s' "
             "replay '%s'",
             WEIR_BINARY, EXAMPLES, sc, out, WEIR_BINARY, out);
    pr = proc_run(cmd);
    cr_assert_eq(pr.status, 0, "the invariant fails and its journal replays: %s %s", pr.out, pr.err);
    cr_assert(strstr(pr.out, "match"), "%s", pr.out);
    proc_free(&pr);
    unlink(sc);
    unlink(out);
    free(sc);
    free(out);
    /* a graph file whose subgraph is not beside it */
    char tmp[64];
    proc_tempdir(tmp, sizeof tmp, "compose-cli");
    snprintf(cmd, sizeof cmd, "cp '%smain.json' '%s/' && '%s' validate --json '%s/main.json'", EXAMPLES, tmp,
             WEIR_BINARY, tmp);
    pr = proc_run(cmd);
    cr_assert_eq(pr.status, 2, "%s %s", pr.out, pr.err);
    cr_assert(strstr(pr.out, "\"code\": \"unknown-graph\""), "%s", pr.out);
    cr_assert(strstr(pr.out, "no file defines graph \\\"enrich\\\""), "%s", pr.out);
    proc_free(&pr);
    serve_rmdir(tmp);
}
