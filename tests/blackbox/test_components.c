/*
 * User components through the real `weir serve` (SPEC §2.3, §6): register
 * the seed's square component and run it, a runaway component's error on
 * its node's error port while another execution keeps working, state and
 * config through the core, every 400 and 409 of POST /api/components;
 * which node runs them (PATH, WEIR_NODE, one too old refused) and a
 * component that hoards ArrayBuffers running out of memory.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "proc.h"
#include "serve.h"

#define SQUARE_SRC "return { process: async (ctx, port, value) => ctx.emit('out', value * value) }"

/* The seed's example (symbia-runtime-service.md, "Register Custom Component"), namespaced. */
static const char *SQUARE =
    "{\"id\": \"acme.math.square\", \"name\": \"Square\", \"version\": \"1.0.0\","
    " \"ports\": {\"inputs\": [{\"name\": \"in\", \"schema\": {\"type\": \"number\"}}],"
    "             \"outputs\": [{\"name\": \"out\", \"schema\": {\"type\": \"number\"}}]},"
    " \"execution\": {\"type\": \"javascript\", \"entrypoint\": \"handler\", \"source\": \"" SQUARE_SRC "\"}}";

static char *file_text(const char *path) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    char *buf = malloc(1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static const char *str(http_resp *r, const char *key) { return json_string_value(json_object_get(r->json, key)); }

static void post_component(server *s, const char *def, long want) {
    http_resp r = http_req(s, "POST", "/api/components", def, NULL);
    cr_assert_eq(r.status, want, "%s", r.body);
    http_free(&r);
}

/* POST def and expect status with `needle` in the error. */
static void refused(server *s, const char *def, long status, const char *needle) {
    http_resp r = http_req(s, "POST", "/api/components", def, NULL);
    cr_assert_eq(r.status, status, "%s -> %s", def, r.body);
    cr_assert_not_null(str(&r, "error"), "%s", r.body);
    cr_assert_not_null(strstr(str(&r, "error"), needle), "wanted \"%s\" in: %s", needle, r.body);
    http_free(&r);
}

static json_t *inject(server *s, const char *exec_id, const char *body) {
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/inject", exec_id);
    http_resp r = http_req(s, "POST", path, body, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *out = json_incref(r.json);
    http_free(&r);
    return out;
}

static const char *dump(json_t *v) {
    static char buf[4096];
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    snprintf(buf, sizeof buf, "%s", t ? t : "(null)");
    free(t);
    return buf;
}

Test(components, register_the_square_component_and_inject_7) {
    server s = serve_start(NULL);
    http_resp r = http_req(&s, "POST", "/api/components", SQUARE, NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_assert_str_eq(str(&r, "id"), "acme.math.square");
    cr_assert_str_eq(str(&r, "origin"), "user");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "execution"), "source")), SQUARE_SRC);
    /* The error port comes with every user component. */
    cr_assert_str_eq(dump(json_object_get(json_object_get(r.json, "ports"), "outputs")),
                     "[{\"name\":\"out\",\"schema\":{\"type\":\"number\"}},{\"description\":\"{error, component, "
                     "hook}: what user code threw, a time limit or a crash of its host\",\"name\":\"error\"}]");
    http_resp g = http_req(&s, "GET", "/api/components/acme.math.square", NULL, NULL);
    cr_assert_eq(g.status, 200);
    cr_assert_str_eq(g.body, r.body, "201 shows the descriptor as GET does");
    http_free(&g);
    http_free(&r);
    http_resp list = http_req(&s, "GET", "/api/components", NULL, NULL);
    bool listed = false;
    size_t i;
    json_t *c;
    json_array_foreach(list.json, i, c) listed |= strcmp(json_string_value(json_object_get(c, "id")), "acme.math.square") == 0;
    cr_assert(listed, "GET /api/components lists user components");
    http_free(&list);
    const char *x = serve_execute(&s,
                                  "{\"symbia\": \"1.0\", \"name\": \"squares\", \"nodes\": ["
                                  " {\"id\": \"input\", \"component\": \"symbia.core.passthrough\"},"
                                  " {\"id\": \"square\", \"component\": \"acme.math.square\"},"
                                  " {\"id\": \"output\", \"component\": \"symbia.core.logger\"}], \"edges\": ["
                                  " {\"source\": {\"node\": \"input\", \"port\": \"out\"}, \"target\": {\"node\": \"square\", \"port\": \"in\"}},"
                                  " {\"source\": {\"node\": \"square\", \"port\": \"out\"}, \"target\": {\"node\": \"output\", \"port\": \"in\"}}]}",
                                  "{\"completion\": \"never\"}");
    char id[64];
    snprintf(id, sizeof id, "%s", x);
    json_t *out = inject(&s, id, "{\"nodeId\": \"input\", \"port\": \"in\", \"value\": 7}");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(out, "outputs"), "output:out")), 49, "%s",
                 dump(out));
    json_decref(out);
    out = inject(&s, id, "{\"nodeId\": \"input\", \"port\": \"in\", \"value\": 1.5}");
    cr_assert_float_eq(json_number_value(json_object_get(json_object_get(out, "outputs"), "output:out")), 2.25, 1e-9);
    json_decref(out);
    http_resp st = http_req(&s, "GET", "/api/stats", NULL, NULL);
    json_t *hs = json_object_get(st.json, "componentHost");
    cr_assert_eq(json_integer_value(json_object_get(hs, "poolSize")), 10);
    cr_assert_geq(json_integer_value(json_object_get(hs, "calls")), 4, "load, initialize, two calls: %s", st.body);
    http_free(&st);
    cr_assert_eq(serve_stop(&s), 0);
}

/* The README's flow: the example files as they are. */
Test(components, the_readme_example) {
    server s = serve_start(NULL);
    char *def = file_text(WEIR_SOURCE_DIR "/examples/square-component.json");
    char *graph = file_text(WEIR_SOURCE_DIR "/examples/squares.json");
    post_component(&s, def, 201);
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, graph, NULL));
    json_t *out = inject(&s, x, "{\"nodeId\": \"input\", \"value\": 7}");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(out, "outputs"), "output:out")), 49, "%s",
                 dump(out));
    json_decref(out);
    out = inject(&s, x, "{\"nodeId\": \"input\", \"value\": \"seven\"}");
    /* "seven" * "seven" is NaN, which JSON carries as null: no error. */
    cr_assert(json_is_null(json_object_get(json_object_get(out, "outputs"), "output:out")), "%s", dump(out));
    cr_assert_null(json_object_get(json_object_get(out, "outputs"), "failed:out"));
    json_decref(out);
    cr_assert_not_null(strstr(serve_log(&s), "squared: 49"), "%s", serve_log(&s));
    free(def);
    free(graph);
    cr_assert_eq(serve_stop(&s), 0);
}

#define SPIN                                                                                                         \
    "{\"id\": \"acme.test.spin\", \"name\": \"Spin\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"], "     \
    "\"outputs\": [\"out\"]}, \"execution\": {\"type\": \"javascript\", \"source\": \"return { process: (ctx, p, "  \
    "v) => { if (v === 'spin') { while (true) {} } ctx.emit('out', v) } }\"}}"

Test(components, a_runaway_ends_on_its_error_port_while_another_execution_keeps_working) {
    const char *args[] = {"--isolate-timeout-ms", "300", "--isolate-pool-size", "2", NULL};
    server s = serve_start(args);
    post_component(&s, SQUARE, 201);
    post_component(&s, SPIN, 201);
    char spin_x[64], square_x[64];
    snprintf(spin_x, sizeof spin_x, "%s",
             serve_execute(&s,
                           "{\"symbia\": \"1.0\", \"name\": \"spinner\", \"nodes\": ["
                           " {\"id\": \"spin\", \"component\": \"acme.test.spin\"},"
                           " {\"id\": \"caught\", \"component\": \"symbia.core.passthrough\"}], \"edges\": ["
                           " {\"source\": {\"node\": \"spin\", \"port\": \"error\"}, \"target\": {\"node\": \"caught\", \"port\": \"in\"}}]}",
                           "{\"completion\": \"never\"}"));
    snprintf(square_x, sizeof square_x, "%s",
             serve_execute(&s,
                           "{\"symbia\": \"1.0\", \"name\": \"squares\", \"nodes\": ["
                           " {\"id\": \"square\", \"component\": \"acme.math.square\"}], \"edges\": []}",
                           "{\"completion\": \"never\"}"));
    /* The runaway first, without waiting; the other execution is answered
     * meanwhile by the other process. */
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/inject", spin_x);
    http_resp r = http_req(&s, "POST", path, "{\"nodeId\": \"spin\", \"value\": \"spin\", \"wait\": false}", NULL);
    cr_assert_eq(r.status, 202, "%s", r.body);
    http_free(&r);
    json_t *out = inject(&s, square_x, "{\"nodeId\": \"square\", \"value\": 7}");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(out, "outputs"), "square:out")), 49);
    json_decref(out);
    /* A second runaway on the same node waits behind the first, then runs
     * out of time itself: its error is the wired error port's output. */
    out = inject(&s, spin_x, "{\"nodeId\": \"spin\", \"value\": \"spin\"}");
    json_t *err = json_object_get(json_object_get(out, "outputs"), "caught:out");
    cr_assert_str_eq(json_string_value(json_object_get(err, "error")),
                     "component acme.test.spin (process): timed out after 300 ms", "%s", dump(out));
    cr_assert_str_eq(json_string_value(json_object_get(err, "component")), "acme.test.spin");
    cr_assert_str_eq(json_string_value(json_object_get(out, "state")), "running", "a handled error fails nothing");
    json_decref(out);
    /* Both keep working after the killed processes were replaced. */
    out = inject(&s, spin_x, "{\"nodeId\": \"spin\", \"value\": \"fine\"}");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "outputs"), "spin:out")), "fine");
    json_decref(out);
    out = inject(&s, square_x, "{\"nodeId\": \"square\", \"value\": 9}");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(out, "outputs"), "square:out")), 81);
    json_decref(out);
    http_resp st = http_req(&s, "GET", "/api/stats", NULL, NULL);
    cr_assert_geq(json_integer_value(json_object_get(json_object_get(st.json, "componentHost"), "failures")), 2, "%s",
                  st.body);
    http_free(&st);
    cr_assert_eq(serve_stop(&s), 0);
}

#define COUNTER                                                                                                      \
    "{\"id\": \"acme.test.counter\", \"name\": \"Counter\", \"version\": \"1\","                                  \
    " \"ports\": {\"inputs\": [{\"name\": \"in\"}], \"outputs\": [{\"name\": \"out\"}]},"                          \
    " \"config\": {\"step\": {\"type\": \"integer\", \"default\": 1}, \"label\": {\"type\": \"string\","          \
    " \"required\": true, \"enum\": [\"a\", \"b\"]}},"                                                            \
    " \"execution\": {\"type\": \"javascript\", \"source\": \"return {"                                          \
    " initialize(ctx) { ctx.setState('n', 100); ctx.log('info', 'counter ready') },"                             \
    " process: async (ctx, port, v) => { const n = (await ctx.getState('n')) + ctx.config.step;"                \
    " ctx.setState('n', n); ctx.emit('out', ctx.config.label + n) },"                                             \
    " cleanup(ctx) { ctx.log('info', 'counter done at ' + ctx.getState('n')) } }\"}}"

Test(components, state_stays_in_the_core_and_config_is_checked) {
    server s = serve_start(NULL);
    post_component(&s, COUNTER, 201);
    /* The config schema is the graph's to check. */
    http_resp g = http_req(&s, "POST", "/api/graphs",
                           "{\"symbia\": \"1.0\", \"name\": \"c\", \"nodes\": [{\"id\": \"c\", \"component\": "
                           "\"acme.test.counter\", \"config\": {\"label\": \"z\"}}], \"edges\": []}",
                           NULL);
    cr_assert_eq(g.status, 400, "%s", g.body);
    cr_assert_not_null(strstr(str(&g, "error"), "config \"label\" is \"z\"; it must be one of \"a\", \"b\""), "%s",
                       g.body);
    http_free(&g);
    char x[64];
    snprintf(x, sizeof x, "%s",
             serve_execute(&s,
                           "{\"symbia\": \"1.0\", \"name\": \"c\", \"nodes\": [{\"id\": \"c\", \"component\": "
                           "\"acme.test.counter\", \"config\": {\"label\": \"b\", \"step\": 5}}], \"edges\": []}",
                           "{\"completion\": \"never\"}"));
    for (int i = 1; i <= 3; i++) {
        json_t *out = inject(&s, x, "{\"nodeId\": \"c\", \"value\": null}");
        char want[16];
        snprintf(want, sizeof want, "b%d", 100 + 5 * i);
        cr_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "outputs"), "c:out")), want, "%s",
                         dump(out));
        json_decref(out);
    }
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/stop", x);
    http_resp stop = http_req(&s, "POST", path, NULL, NULL);
    cr_assert_eq(stop.status, 200);
    http_free(&stop);
    /* initialize's log went to the server log. */
    cr_assert_not_null(strstr(serve_log(&s), "counter ready"), "%s", serve_log(&s));
    cr_assert_eq(serve_stop(&s), 0);
}

Test(components, an_unhandled_user_error_fails_the_execution) {
    server s = serve_start(NULL);
    post_component(&s,
                   "{\"id\": \"acme.test.thrower\", \"name\": \"T\", \"version\": \"1\", \"ports\": {\"inputs\": "
                   "[\"in\"]}, \"execution\": {\"type\": \"javascript\", \"source\": \"return { process() { throw new "
                   "RangeError('no such thing') } }\"}}",
                   201);
    char x[64];
    snprintf(x, sizeof x, "%s",
             serve_execute(&s,
                           "{\"symbia\": \"1.0\", \"name\": \"t\", \"nodes\": [{\"id\": \"t\", \"component\": "
                           "\"acme.test.thrower\"}], \"edges\": []}",
                           "{\"completion\": \"never\"}"));
    json_t *out = inject(&s, x, "{\"nodeId\": \"t\", \"value\": 1}");
    cr_assert_str_eq(json_string_value(json_object_get(out, "state")), "failed", "%s", dump(out));
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "error"), "message")),
                     "unhandled error in node \"t\": component acme.test.thrower (process): RangeError: no such thing",
                     "%s", dump(out));
    json_decref(out);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(components, every_refusal_names_the_problem) {
    server s = serve_start(NULL);
    refused(&s, "{nope", 400, "line 1");
    refused(&s, "{\"id\": \"acme.x\"}", 400, "missing name, version, ports, execution");
    refused(&s,
            "{\"id\": \"square\", \"name\": \"S\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]}, "
            "\"execution\": {\"type\": \"javascript\", \"source\": \"return {process(){}}\"}}",
            400, "namespaced");
    refused(&s,
            "{\"id\": \"acme.s\", \"name\": \"S\", \"version\": \"1\", \"ports\": {\"outputs\": [\"out\"]}, "
            "\"execution\": {\"type\": \"javascript\", \"source\": \"return {process(){}}\"}}",
            400, "ports.inputs must be an array");
    refused(&s,
            "{\"id\": \"acme.s\", \"name\": \"S\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\", \"in\"]}, "
            "\"execution\": {\"type\": \"javascript\", \"source\": \"return {process(){}}\"}}",
            400, "declares \"in\" twice");
    refused(&s,
            "{\"id\": \"acme.s\", \"name\": \"S\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]}, "
            "\"config\": {\"k\": {\"type\": \"float\"}}, "
            "\"execution\": {\"type\": \"javascript\", \"source\": \"return {process(){}}\"}}",
            400, "config.k.type must be one of string, number, integer, boolean, object, array, any");
    refused(&s,
            "{\"id\": \"acme.s\", \"name\": \"S\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]}, "
            "\"config\": {\"k\": {\"type\": \"integer\", \"default\": \"two\"}}, "
            "\"execution\": {\"type\": \"javascript\", \"source\": \"return {process(){}}\"}}",
            400, "config.k.default does not match its type integer");
    /* typescript, wasm and sourceUrl: tests/blackbox/test_langs.c */
    refused(&s,
            "{\"id\": \"acme.s\", \"name\": \"S\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]}, "
            "\"execution\": {\"type\": \"wasm\", \"source\": \"AGFzbQ==\"}}",
            400, "execution.source does not compile: execution.source is not a WebAssembly module in base64");
    refused(&s,
            "{\"id\": \"acme.s\", \"name\": \"S\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]}, "
            "\"execution\": {\"type\": \"javascript\", \"sourceUrl\": \"ftp://example.com/c.js\"}}",
            400, "execution.sourceUrl must be an http:// or https:// URL");
    refused(&s,
            "{\"id\": \"acme.s\", \"name\": \"S\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]}, "
            "\"execution\": {\"type\": \"javascript\"}}",
            400, "execution.source is required");
    refused(&s,
            "{\"id\": \"acme.s\", \"name\": \"S\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]}, "
            "\"execution\": {\"type\": \"javascript\", \"source\": \"return { process: (ctx) => ctx.emit('out', 1 + ) }\"}}",
            400, "execution.source does not compile: SyntaxError: Unexpected token ')' (line 1)");
    refused(&s,
            "{\"id\": \"acme.s\", \"name\": \"S\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]}, "
            "\"execution\": {\"type\": \"javascript\", \"source\": \"return 42\"}}",
            400, "does not compile: the source failed while building its handler: TypeError: the source must return a handler object");
    refused(&s,
            "{\"id\": \"symbia.core.map\", \"name\": \"M\", \"version\": \"9\", \"ports\": {\"inputs\": [\"in\"]}, "
            "\"execution\": {\"type\": \"javascript\", \"source\": \"return {process(){}}\"}}",
            409, "\"symbia.core.map\" is a built-in component");
    post_component(&s, SQUARE, 201);
    refused(&s, SQUARE, 409, "component acme.math.square version 1.0.0 is registered already");
    /* A new version replaces the old while a running execution uses it: the
     * execution keeps the version it started with until it is upgraded. */
    char x[64];
    snprintf(x, sizeof x, "%s",
             serve_execute(&s,
                           "{\"symbia\": \"1.0\", \"name\": \"sq\", \"nodes\": [{\"id\": \"sq\", \"component\": "
                           "\"acme.math.square\"}], \"edges\": []}",
                           "{\"completion\": \"never\"}"));
    const char *v2 = "{\"id\": \"acme.math.square\", \"name\": \"Square\", \"version\": \"2.0.0\", \"ports\": "
                     "{\"inputs\": [\"in\"], \"outputs\": [\"out\"]}, \"execution\": {\"type\": \"javascript\", "
                     "\"source\": \"return { process: (ctx, p, v) => ctx.emit('out', -v * v) }\"}}";
    post_component(&s, v2, 201);
    json_t *was = inject(&s, x, "{\"nodeId\": \"sq\", \"value\": 3}");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(was, "outputs"), "sq:out")), 9,
                 "still the version it started with: %s", dump(was));
    json_decref(was);
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/upgrade", x);
    http_resp up = http_req(&s, "POST", path, "{}", NULL);
    cr_assert_eq(up.status, 200, "%s", up.body);
    cr_assert(strstr(up.body, "\"kept\":[\"sq\"]"), "the node is kept: %s", up.body);
    http_free(&up);
    was = inject(&s, x, "{\"nodeId\": \"sq\", \"value\": 3}");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(was, "outputs"), "sq:out")), -9,
                 "upgraded: the new version: %s", dump(was));
    json_decref(was);
    http_resp g = http_req(&s, "GET", "/api/components/acme.math.square", NULL, NULL);
    cr_assert_str_eq(str(&g, "version"), "2.0.0");
    http_free(&g);
    snprintf(x, sizeof x, "%s",
             serve_execute(&s,
                           "{\"symbia\": \"1.0\", \"name\": \"sq2\", \"nodes\": [{\"id\": \"sq\", \"component\": "
                           "\"acme.math.square\"}], \"edges\": []}",
                           "{\"completion\": \"never\"}"));
    json_t *out = inject(&s, x, "{\"nodeId\": \"sq\", \"value\": 3}");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(out, "outputs"), "sq:out")), -9, "%s", dump(out));
    json_decref(out);
    cr_assert_eq(serve_stop(&s), 0);
}

/* A registered component is stored in DATA_DIR before its 201 and comes back
 * after a restart, before the graphs that use it (SPEC §7). */
Test(components, a_registered_component_survives_a_restart) {
    char dir[64];
    proc_tempdir(dir, sizeof dir, "bbcomp");
    const char *extra[] = {"--data-dir", dir, NULL};
    server s = serve_start(extra);
    post_component(&s, SQUARE, 201);
    http_resp g = http_req(&s, "POST", "/api/graphs",
                           "{\"symbia\": \"1.0\", \"name\": \"squares\", \"nodes\": ["
                           " {\"id\": \"input\", \"component\": \"symbia.core.passthrough\"},"
                           " {\"id\": \"square\", \"component\": \"acme.math.square\"}], \"edges\": ["
                           " {\"source\": {\"node\": \"input\", \"port\": \"out\"}, \"target\": {\"node\": \"square\","
                           " \"port\": \"in\"}}]}",
                           NULL);
    cr_assert_eq(g.status, 201, "%s", g.body);
    char gid[64];
    snprintf(gid, sizeof gid, "%s", str(&g, "id"));
    http_free(&g);
    http_resp before = http_req(&s, "GET", "/api/components/acme.math.square", NULL, NULL);
    cr_assert_eq(serve_stop(&s), 0);

    s = serve_start(extra);
    http_resp after = http_req(&s, "GET", "/api/components/acme.math.square", NULL, NULL);
    cr_assert_eq(after.status, 200, "%s", after.body);
    cr_assert_str_eq(after.body, before.body, "the same descriptor after the restart");
    char path[128];
    snprintf(path, sizeof path, "/api/graphs/%s/execute", gid);
    http_resp x = http_req(&s, "POST", path, "{\"completion\": \"never\"}", NULL);
    cr_assert_eq(x.status, 201, "the graph that uses it loaded too: %s", x.body);
    json_t *out = inject(&s, str(&x, "executionId"), "{\"nodeId\": \"input\", \"value\": 7}");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(out, "outputs"), "square:out")), 49, "%s",
                 dump(out));
    json_decref(out);
    http_free(&x);
    http_free(&after);
    http_free(&before);
    post_component(&s, SQUARE, 409); /* the same version: registered already, from the store */
    cr_assert_eq(serve_stop(&s), 0);
    serve_rmdir(dir);
}

/* On the virtual runtime a user component's call runs for real in the host;
 * its answer is delivered at the next tick, so a run plays through it. */
Test(components, a_user_component_on_the_virtual_runtime) {
    server s = serve_start(NULL);
    post_component(&s, SQUARE, 201);
    const char *x = serve_execute(&s,
                                  "{\"symbia\": \"1.0\", \"name\": \"squares\", \"nodes\": ["
                                  " {\"id\": \"input\", \"component\": \"symbia.core.passthrough\"},"
                                  " {\"id\": \"square\", \"component\": \"acme.math.square\"}], \"edges\": ["
                                  " {\"source\": {\"node\": \"input\", \"port\": \"out\"}, \"target\": {\"node\": "
                                  "\"square\", \"port\": \"in\"}}]}",
                                  "{\"runtime\": \"virtual\", \"completion\": \"never\"}");
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/inject", x);
    http_resp r = http_req(&s, "POST", path, "{\"nodeId\": \"input\", \"value\": 7}", NULL);
    cr_assert_eq(r.status, 202, "it waits for virtual time: %s", r.body);
    http_free(&r);
    snprintf(path, sizeof path, "/api/executions/%s/run", x);
    r = http_req(&s, "POST", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(str(&r, "stoppedBy"), "idle", "%s", r.body);
    json_t *settled = json_array_get(json_object_get(r.json, "settled"), 0);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(settled, "outputs"), "square:out")), 49, "%s",
                 r.body);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "tick")), 1, "the answer came at the next tick: %s",
                 r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

/* A shell script dir/name doing body, executable; its path into out. */
static void script(const char *dir, const char *name, const char *body, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s", dir, name);
    FILE *f = fopen(out, "w");
    cr_assert_not_null(f, "%s", out);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    cr_assert_eq(chmod(out, 0755), 0);
}

/* Register SQUARE and inject 7 into it: 49. */
static void square_runs(server *s) {
    post_component(s, SQUARE, 201);
    char x[64];
    snprintf(x, sizeof x, "%s",
             serve_execute(s,
                           "{\"symbia\": \"1.0\", \"name\": \"sq\", \"nodes\": ["
                           " {\"id\": \"square\", \"component\": \"acme.math.square\"}], \"edges\": []}",
                           "{\"completion\": \"never\"}"));
    json_t *out = inject(s, x, "{\"nodeId\": \"square\", \"value\": 7}");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(out, "outputs"), "square:out")), 49, "%s",
                 dump(out));
    json_decref(out);
}

/* Debian 12: /usr/bin/node is 18, the 20 that scripts/deps.sh installs is
 * in /usr/local/bin, first on PATH.  The server runs the node first on its
 * PATH (a wrapper here that notes each run), says so at start, and
 * WEIR_NODE names another. */
Test(components, the_node_first_on_path_runs_user_components_and_weir_node_names_another) {
    char dir[256], real[512], body[1200], wrapper[600], log[600];
    proc_tempdir(dir, sizeof dir, "node-path");
    proc_result which = proc_run("command -v node");
    cr_assert_eq(which.status, 0, "these tests need node on PATH");
    snprintf(real, sizeof real, "%.*s", (int)strcspn(which.out, "\n"), which.out);
    proc_free(&which);
    snprintf(log, sizeof log, "%s/ran", dir);
    snprintf(body, sizeof body, "echo \"$1\" >> %s\nexec %s \"$@\"", log, real);
    script(dir, "node", body, wrapper, sizeof wrapper);
    char path[4096];
    snprintf(path, sizeof path, "%s:%s", dir, getenv("PATH") ? getenv("PATH") : "");
    setenv("PATH", path, 1);
    server s = serve_start(NULL);
    char want[800];
    snprintf(want, sizeof want, "info  user components run in %s v", wrapper);
    cr_assert_not_null(strstr(serve_log(&s), want), "%s", serve_log(&s));
    /* the permission model (and, when the typescript package is found, a
     * read of its folder alone between them) */
    cr_assert_not_null(strstr(serve_log(&s), "--experimental-permission "), "%s", serve_log(&s));
    cr_assert_not_null(strstr(serve_log(&s), " --experimental-vm-modules"), "%s", serve_log(&s));
    square_runs(&s);
    cr_assert_eq(serve_stop(&s), 0);
    char *ran = file_text(log);
    cr_assert_eq(strncmp(ran, "--version\n--max-old-space-size=128\n", 35), 0, "%s", ran);
    free(ran);
    /* WEIR_NODE: a node that is not on PATH. */
    snprintf(body, sizeof body, "echo \"$1\" >> %s.mine\nexec %s \"$@\"", log, real);
    script(dir, "my-node", body, wrapper, sizeof wrapper);
    setenv("WEIR_NODE", wrapper, 1);
    s = serve_start(NULL);
    snprintf(want, sizeof want, "info  user components run in %s v", wrapper);
    cr_assert_not_null(strstr(serve_log(&s), want), "%s", serve_log(&s));
    square_runs(&s);
    cr_assert_eq(serve_stop(&s), 0);
    snprintf(path, sizeof path, "%s.mine", log);
    ran = file_text(path);
    cr_assert_eq(strncmp(ran, "--version\n--max-old-space-size=128\n", 35), 0, "%s", ran);
    free(ran);
    serve_rmdir(dir);
}

/* A node older than 20 has no permission model to run user components
 * under: the server says so at start, and registering one is a 503 that
 * names what was found; the rest of the server works. */
Test(components, a_node_older_than_20_is_refused_at_start) {
    char dir[256], fake[600];
    proc_tempdir(dir, sizeof dir, "node-18");
    script(dir, "node", "[ \"$1\" = --version ] && echo v18.19.0 && exit 0\necho \"ran $*\" >&2\nexit 1", fake,
           sizeof fake);
    setenv("WEIR_NODE", fake, 1);
    server s = serve_start(NULL);
    char want[1024];
    snprintf(want, sizeof want,
             "user components need Node.js 20 or newer: %s is v18.19.0, which has no permission model to run them "
             "under; install Node.js 20 or newer (scripts/deps.sh does) or set WEIR_NODE to its path",
             fake);
    char line[1200];
    snprintf(line, sizeof line, "warn  user components are unavailable: %s", want);
    cr_assert_not_null(strstr(serve_log(&s), line), "%s", serve_log(&s));
    snprintf(line, sizeof line, "cannot check the source: %s", want);
    refused(&s, SQUARE, 503, line);
    http_resp h = http_req(&s, "GET", "/health", NULL, NULL);
    cr_assert_eq(h.status, 200);
    http_free(&h);
    cr_assert_eq(serve_stop(&s), 0);
    cr_assert_null(strstr(serve_log(&s), "ran "), "the old node ran something: %s", serve_log(&s));
    serve_rmdir(dir);
}

#define HOARD                                                                                                        \
    "{\"id\": \"acme.test.hoard\", \"name\": \"Hoard\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"], "   \
    "\"outputs\": [\"out\"]}, \"execution\": {\"type\": \"javascript\", \"source\": \"const keep = []; return { " \
    "process: (ctx, p, v) => { if (v === 'hoard') for (;;) keep.push(new ArrayBuffer(100 * 1024 * 1024)); " \
    "ctx.emit('out', v) } }\"}}"

/* ArrayBuffers are outside V8's heap limit, not outside ISOLATE_MEMORY_MB
 * (these are never written: committed, not resident; test_host.c has
 * written ones, with their resident size measured): the hoarding call ends
 * on the node's error port with the out-of-memory error well before its
 * time limit, and the node works again after its process was replaced. */
Test(components, a_component_hoarding_array_buffers_runs_out_of_memory) {
    const char *args[] = {"--isolate-timeout-ms", "20000", "--isolate-memory-mb", "64", "--isolate-pool-size", "1",
                          NULL};
    server s = serve_start(args);
    post_component(&s, HOARD, 201);
    char x[64];
    snprintf(x, sizeof x, "%s",
             serve_execute(&s,
                           "{\"symbia\": \"1.0\", \"name\": \"hoarder\", \"nodes\": ["
                           " {\"id\": \"hoard\", \"component\": \"acme.test.hoard\"},"
                           " {\"id\": \"caught\", \"component\": \"symbia.core.passthrough\"}], \"edges\": ["
                           " {\"source\": {\"node\": \"hoard\", \"port\": \"error\"}, \"target\": {\"node\": \"caught\", \"port\": \"in\"}}]}",
                           "{\"completion\": \"never\"}"));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    json_t *out = inject(&s, x, "{\"nodeId\": \"hoard\", \"value\": \"hoard\"}");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    json_t *err = json_object_get(json_object_get(out, "outputs"), "caught:out");
    /* What ran out says V8: the ArrayBuffer refused, or its heap's young
     * generation that it could not grow any more. */
    const char *msg = json_string_value(json_object_get(err, "error"));
    const char *head = "component acme.test.hoard (process): the component host ran out of memory: ",
               *tail = " (the limit is 64 MB of JavaScript heap and 192 MB in all, ISOLATE_MEMORY_MB)";
    cr_assert(msg && strncmp(msg, head, strlen(head)) == 0, "%s", dump(out));
    cr_assert(strlen(msg) > strlen(tail) && strcmp(msg + strlen(msg) - strlen(tail), tail) == 0, "%s", dump(out));
    cr_assert_lt(ms, 10000, "%ld ms", ms);
    json_decref(out);
    out = inject(&s, x, "{\"nodeId\": \"hoard\", \"value\": \"fine\"}");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "outputs"), "hoard:out")), "fine", "%s",
                     dump(out));
    json_decref(out);
    cr_assert_eq(serve_stop(&s), 0);
}
