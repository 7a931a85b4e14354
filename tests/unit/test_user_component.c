/*
 * User component descriptors (SPEC §2.3) on the pure core, with the test
 * shell answering invoke effects by hand: the definition checks, the
 * payload of each call, the answer applied (logs, state, emits, errors),
 * initialize at start and cleanup fire-and-forget, and the lifetime of a
 * descriptor that graphs still use.
 */
#include <string.h>

#include "shell.h"

#define SQUARE_DEF                                                                                                   \
    "{\"id\": \"acme.math.square\", \"name\": \"Square\", \"version\": \"1.0.0\", \"category\": \"math\","        \
    " \"ports\": {\"inputs\": [{\"name\": \"in\", \"schema\": {\"type\": \"number\"}}], \"outputs\": [\"out\"]},"  \
    " \"config\": {\"factor\": {\"type\": \"number\", \"default\": 1, \"description\": \"multiplier\"},"            \
    "            \"mode\": {\"type\": \"string\", \"enum\": [\"fast\", \"slow\"], \"required\": true}},"            \
    " \"execution\": {\"type\": \"javascript\", \"source\": \"return { process: (c, p, v) => c.emit('out', v * v) }\"}}"

static weir_user_component *make(const char *text) {
    json_t *def = json_loads(text, 0, NULL);
    cr_assert_not_null(def, "bad test JSON: %s", text);
    weir_user_component *u = NULL;
    weir_error err;
    int rc = weir_user_component_create(def, &u, &err);
    json_decref(def);
    cr_assert_eq(rc, 0, "%s", err.message);
    return u;
}

static const char *refusal(const char *text) {
    static weir_error err;
    json_t *def = json_loads(text, 0, NULL);
    cr_assert_not_null(def, "bad test JSON: %s", text);
    weir_user_component *u = NULL;
    int rc = weir_user_component_create(def, &u, &err);
    json_decref(def);
    cr_assert_eq(rc, WEIR_EINVAL, "accepted: %s", text);
    cr_assert_null(u);
    return err.message;
}

#define HAS(msg, needle) cr_assert_not_null(strstr((msg), (needle)), "wanted \"%s\" in: %s", (needle), (msg))

Test(user_component, a_definition_becomes_a_descriptor) {
    weir_user_component *u = make(SQUARE_DEF);
    const weir_component *c = weir_user_component_descriptor(u);
    cr_assert_str_eq(c->id, "acme.math.square");
    cr_assert_str_eq(c->version, "1.0.0");
    cr_assert_str_eq(c->category, "math");
    cr_assert_eq(c->n_inputs, 1);
    cr_assert_str_eq(c->inputs[0].schema, "{\"type\":\"number\"}");
    cr_assert_eq(c->n_outputs, 2, "out and the error port");
    cr_assert_str_eq(c->outputs[1].name, "error");
    cr_assert_eq(c->n_config, 2);
    cr_assert_str_eq(c->config[0].key, "factor");
    cr_assert_str_eq(c->config[0].default_json, "1");
    cr_assert_str_eq(c->config[1].enum_values[1], "slow");
    cr_assert(c->config[1].required);
    cr_assert_eq(weir_user_component_of(c), u);
    cr_assert_null(weir_user_component_of(weir_builtin_components()[0]));
    cr_assert_eq(strncmp(weir_user_component_key(u), "acme.math.square@1.0.0#", 23), 0, "%s",
                 weir_user_component_key(u));
    json_t *j = weir_user_component_json(u);
    cr_assert_str_eq(json_string_value(json_object_get(j, "origin")), "user");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "execution"), "type")), "javascript");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(j, "config"), "mode"), "type")),
                     "string");
    json_decref(j);
    weir_user_component_unref(u);
}

Test(user_component, bad_definitions_say_what_to_fix) {
    HAS(refusal("[]"), "a component definition is a JSON object");
    HAS(refusal("{\"id\": \"a.b\", \"ports\": {}}"), "missing name, version, execution");
    const char *base = "{\"name\": \"N\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]}, \"execution\": "
                       "{\"type\": \"javascript\", \"source\": \"return {process(){}}\"}, ";
    char buf[1024];
#define WITH(extra) (snprintf(buf, sizeof buf, "%s%s}", base, extra), buf)
    HAS(refusal(WITH("\"id\": \"nodots\"")), "namespaced");
    HAS(refusal(WITH("\"id\": \"a..b\"")), "namespaced");
    HAS(refusal(WITH("\"id\": \"a.b c\"")), "namespaced");
    HAS(refusal(WITH("\"id\": \"a.b\", \"category\": 3")), "category must be a string");
    HAS(refusal(WITH("\"id\": \"a.b\", \"config\": []")), "config must be an object");
    HAS(refusal(WITH("\"id\": \"a.b\", \"config\": {\"k\": 1}")), "config.k must be an object");
    HAS(refusal(WITH("\"id\": \"a.b\", \"config\": {\"k\": {\"required\": \"yes\"}}")),
        "config.k.required must be true or false");
    HAS(refusal(WITH("\"id\": \"a.b\", \"config\": {\"k\": {\"enum\": [1, 2]}}")),
        "config.k.enum: only string values are supported");
    HAS(refusal(WITH("\"id\": \"a.b\", \"config\": {\"k\": {\"type\": \"number\", \"enum\": [\"x\"]}}")),
        "its type must be string");
    HAS(refusal(WITH("\"id\": \"a.b\", \"config\": {\"k\": {\"enum\": [\"x\"], \"default\": \"y\"}}")),
        "config.k.default is not one of its enum values");
    HAS(refusal("{\"id\": \"a.b\", \"name\": \"\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]}, "
                "\"execution\": {\"type\": \"javascript\", \"source\": \"x\"}}"),
        "name must be a non-empty string");
    HAS(refusal("{\"id\": \"a.b\", \"name\": \"N\", \"version\": \"1\", \"ports\": {\"inputs\": []}, "
                "\"execution\": {\"type\": \"javascript\", \"source\": \"x\"}}"),
        "ports.inputs is empty");
    HAS(refusal("{\"id\": \"a.b\", \"name\": \"N\", \"version\": \"1\", \"ports\": {\"inputs\": [{\"name\": \"a:b\"}]}, "
                "\"execution\": {\"type\": \"javascript\", \"source\": \"x\"}}"),
        "ports.inputs[0] needs a name");
    HAS(refusal("{\"id\": \"a.b\", \"name\": \"N\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"], "
                "\"outputs\": [{\"name\": \"o\", \"schema\": 3}]}, \"execution\": {\"type\": \"javascript\", "
                "\"source\": \"x\"}}"),
        "ports.outputs[0].schema must be a JSON Schema object");
    HAS(refusal("{\"id\": \"a.b\", \"name\": \"N\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]}, "
                "\"execution\": \"return {}\"}"),
        "execution must be an object");
    HAS(refusal("{\"id\": \"a.b\", \"name\": \"N\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]}, "
                "\"execution\": {\"type\": \"python\", \"source\": \"x\"}}"),
        "execution.type \"python\" is unknown");
    HAS(refusal("{\"id\": \"a.b\", \"name\": \"N\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]}, "
                "\"execution\": {\"type\": \"javascript\", \"source\": \"x\", \"entrypoint\": 3}}"),
        "execution.entrypoint must be a string");
#undef WITH
}

#define DEF_WITH(exec)                                                                                               \
    "{\"id\": \"a.b\", \"name\": \"N\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]}, \"execution\": " exec "}"

/* typescript and wasm (SPEC §2.3): the type goes with every call; a wasm
 * source is base64; sourceUrl is the service's to fetch; sourceHash pins. */
Test(user_component, typescript_wasm_and_where_the_source_comes_from) {
    weir_user_component *u = make(DEF_WITH("{\"type\": \"typescript\", \"source\": \"return {process(){}}\"}"));
    cr_assert_str_eq(weir_user_component_type(u), "typescript");
    json_t *j = weir_user_component_json(u);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "execution"), "type")), "typescript");
    cr_assert_null(json_object_get(json_object_get(j, "execution"), "sourceHash"), "the core computes no hash");
    json_decref(j);
    test_shell ts;
    ts_init(&ts, true);
    cr_assert_eq(weir_registry_add(ts.reg, weir_user_component_descriptor(u), NULL), 0);
    weir_graph *graph = ts_graph(&ts, "{\"symbia\": \"1\", \"name\": \"g\", \"nodes\": [{\"id\": \"t\", "
                                      "\"component\": \"a.b\"}], \"edges\": []}");
    weir_exec_options o = {.completion = WEIR_COMPLETION_NEVER};
    weir_exec *e = ts_start(&ts, graph, &o);
    weir_graph_unref(graph);
    json_t *init = json_object_get(json_array_get(ts.effects, 0), "payload");
    cr_assert_str_eq(json_string_value(json_object_get(init, "type")), "typescript", "the host strips its types");
    weir_exec_destroy(e);
    ts_fini(&ts);
    weir_user_component_unref(u);

    u = make(DEF_WITH("{\"type\": \"wasm\", \"source\": \"AGFzbQEAAAA=\"}"));
    cr_assert_str_eq(weir_user_component_type(u), "wasm");
    weir_user_component_unref(u);
    /* the stored form of a fetched source: source, sourceUrl and its hash */
    u = make(DEF_WITH("{\"type\": \"javascript\", \"source\": \"x\", \"sourceUrl\": \"http://h/c.js\", "
                      "\"sourceHash\": \"sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881\"}"));
    j = weir_user_component_json(u);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "execution"), "sourceUrl")), "http://h/c.js");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "execution"), "sourceHash")),
                     "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881");
    json_decref(j);
    weir_user_component_unref(u);

    HAS(refusal(DEF_WITH("{\"type\": \"wasm\", \"source\": \"not base64!\"}")), "the module's bytes in base64");
    HAS(refusal(DEF_WITH("{\"type\": \"wasm\", \"source\": \"AGFzbQ\"}")), "base64 (padded");
    HAS(refusal(DEF_WITH("{\"type\": \"wasm\"}")), "the WebAssembly module's bytes in base64");
    HAS(refusal(DEF_WITH("{\"type\": \"javascript\", \"sourceUrl\": \"http://h/c.js\"}")),
        "execution.sourceUrl is fetched by the server when the component is registered");
    HAS(refusal(DEF_WITH("{\"type\": \"javascript\", \"source\": \"x\", \"sourceUrl\": \"http://h/c.js\"}")),
        "execution has both source and sourceUrl");
    HAS(refusal(DEF_WITH("{\"type\": \"javascript\", \"sourceUrl\": 3}")), "execution.sourceUrl must be an http(s) URL");
    HAS(refusal(DEF_WITH("{\"type\": \"javascript\", \"source\": \"x\", \"sourceHash\": \"md5:00\"}")),
        "execution.sourceHash must be \"sha256:\" and 64 lowercase hex digits");
    HAS(refusal(DEF_WITH("{\"type\": \"python\", \"source\": \"x\"}")),
        "use \"javascript\", \"typescript\" or \"wasm\"");
}

/* A graph: a passthrough feeding the user component, whose error port is
 * wired to a catcher. */
static weir_exec *start(test_shell *ts, weir_user_component *u, bool wire_error) {
    cr_assert_eq(weir_registry_add(ts->reg, weir_user_component_descriptor(u), NULL), 0);
    char g[1024];
    snprintf(g, sizeof g,
             "{\"symbia\": \"1\", \"name\": \"g\", \"nodes\": [{\"id\": \"in\", \"component\": "
             "\"symbia.core.passthrough\"}, {\"id\": \"sq\", \"component\": \"acme.math.square\", \"config\": "
             "{\"mode\": \"fast\"}}%s], \"edges\": [{\"source\": {\"node\": \"in\", \"port\": \"out\"}, \"target\": "
             "{\"node\": \"sq\", \"port\": \"in\"}}%s]}",
             wire_error ? ", {\"id\": \"caught\", \"component\": \"symbia.core.passthrough\"}" : "",
             wire_error ? ", {\"source\": {\"node\": \"sq\", \"port\": \"error\"}, \"target\": {\"node\": \"caught\", "
                          "\"port\": \"in\"}}"
                        : "");
    weir_graph *graph = ts_graph(ts, g);
    weir_exec_options o = {.completion = WEIR_COMPLETION_NEVER};
    weir_exec *e = ts_start(ts, graph, &o);
    weir_graph_unref(graph);
    return e;
}

static json_t *effect(test_shell *ts, size_t i) { return json_array_get(ts->effects, i); }

static void answer(test_shell *ts, weir_exec *e, size_t i, const char *json) {
    json_t *a = json_loads(json, 0, NULL);
    cr_assert_not_null(a);
    weir_error err;
    cr_assert_eq(weir_exec_resolve(e, ts_effect_id(ts, i), a, NULL, 10, &err), 0, "%s", err.message);
    json_decref(a);
}

Test(user_component, calls_carry_what_the_host_needs_and_answers_are_applied) {
    test_shell ts;
    ts_init(&ts, true);
    weir_user_component *u = make(SQUARE_DEF);
    weir_exec *e = start(&ts, u, false);
    /* initialize is a call at start. */
    json_t *init = json_object_get(effect(&ts, 0), "payload");
    cr_assert_str_eq(json_string_value(json_object_get(effect(&ts, 0), "kind")), "invoke");
    cr_assert_str_eq(json_string_value(json_object_get(init, "hook")), "initialize");
    cr_assert_str_eq(json_string_value(json_object_get(init, "key")), weir_user_component_key(u));
    cr_assert_str_eq(json_string_value(json_object_get(init, "source")), weir_user_component_source(u));
    cr_assert_str_eq(ts_dump(json_object_get(init, "config")), "{\"factor\":1,\"mode\":\"fast\"}");
    cr_assert_str_eq(ts_dump(json_object_get(init, "state")), "{}");
    answer(&ts, e, 0, "{\"emits\": [], \"state\": {\"seen\": 0}, \"logs\": [{\"level\": \"warn\", \"message\": \"up\"}]}");
    cr_assert_str_eq(ts_dump(json_array_get(ts.logs, 0)), "{\"level\":\"warn\",\"message\":\"up\"}");
    ts_inject(&ts, e, "in", "in", "7", 20);
    json_t *call = json_object_get(effect(&ts, 1), "payload");
    cr_assert_str_eq(json_string_value(json_object_get(call, "hook")), "process");
    cr_assert_str_eq(json_string_value(json_object_get(call, "port")), "in");
    cr_assert_eq(json_integer_value(json_object_get(call, "value")), 7);
    cr_assert_str_eq(ts_dump(json_object_get(call, "state")), "{\"seen\":0}", "the state initialize left");
    cr_assert_str_eq(json_string_value(json_object_get(call, "nodeId")), "sq");
    answer(&ts, e, 1, "{\"emits\": [[\"out\", 49], [\"out\", 50]], \"state\": {\"seen\": 1}, \"logs\": []}");
    json_t *st = ts_last_settled(&ts);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(st, "outputs"), "sq:out")), 50, "%s", ts_dump(st));
    cr_assert_eq(ts_count_events(&ts, "port:emit"), 1, "in → sq only; sq:out has no edge");
    ts_inject(&ts, e, "in", "in", "8", 30);
    cr_assert_str_eq(ts_dump(json_object_get(json_object_get(effect(&ts, 2), "payload"), "state")), "{\"seen\":1}");
    /* Emitting on an undeclared port is the component's error. */
    answer(&ts, e, 2, "{\"emits\": [[\"nope\", 1]], \"state\": {}, \"logs\": []}");
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_FAILED, "unhandled: the error port has no edge");
    cr_assert_str_eq(json_string_value(json_object_get(weir_exec_error(e), "message")),
                     "unhandled error in node \"sq\": component acme.math.square (process): ctx.emit on port "
                     "\"nope\", which it does not declare (its outputs: out, error)");
    /* cleanup ran as a fire-and-forget call (id 0). */
    json_t *last = json_array_get(ts.effects, json_array_size(ts.effects) - 1);
    cr_assert_eq(json_integer_value(json_object_get(last, "id")), 0);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(last, "payload"), "hook")), "cleanup");
    weir_exec_destroy(e);
    weir_user_component_unref(u);
    ts_fini(&ts);
}

Test(user_component, failures_and_throws_go_to_the_error_port) {
    test_shell ts;
    ts_init(&ts, false);
    weir_user_component *u = make(SQUARE_DEF);
    weir_exec *e = start(&ts, u, true);
    answer(&ts, e, 0, "{\"emits\": [], \"state\": {}, \"logs\": []}");
    ts_inject(&ts, e, "in", "in", "1", 20);
    weir_error err;
    cr_assert_eq(weir_exec_resolve(e, ts_effect_id(&ts, 1), NULL, "timed out after 1000 ms", 30, &err), 0);
    json_t *caught = json_object_get(json_object_get(ts_last_settled(&ts), "outputs"), "caught:out");
    cr_assert_str_eq(ts_dump(caught),
                     "{\"component\":\"acme.math.square\",\"error\":\"component acme.math.square (process): "
                     "timed out after 1000 ms\",\"hook\":\"process\"}");
    ts_inject(&ts, e, "in", "in", "2", 40);
    answer(&ts, e, 2, "{\"emits\": [[\"out\", 4]], \"state\": {\"k\": true}, \"logs\": [], \"error\": \"TypeError: x\"}");
    json_t *outs = json_object_get(ts_last_settled(&ts), "outputs");
    cr_assert_eq(json_integer_value(json_object_get(outs, "sq:out")), 4, "emits before the throw stay");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(outs, "caught:out"), "error")),
                     "component acme.math.square (process): TypeError: x");
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_RUNNING);
    ts_inject(&ts, e, "in", "in", "3", 50);
    cr_assert_str_eq(ts_dump(json_object_get(json_object_get(effect(&ts, 3), "payload"), "state")), "{\"k\":true}");
    weir_exec_destroy(e);
    weir_user_component_unref(u);
    ts_fini(&ts);
}

Test(user_component, a_graph_keeps_the_descriptor_it_was_loaded_with) {
    test_shell ts;
    ts_init(&ts, false);
    weir_user_component *u = make(SQUARE_DEF);
    cr_assert_eq(weir_registry_add(ts.reg, weir_user_component_descriptor(u), NULL), 0);
    weir_graph *g = ts_graph(&ts, "{\"symbia\": \"1\", \"name\": \"g\", \"nodes\": [{\"id\": \"sq\", \"component\": "
                                  "\"acme.math.square\", \"config\": {\"mode\": \"slow\"}}], \"edges\": []}");
    cr_assert_eq(weir_registry_remove(ts.reg, "acme.math.square"), 0);
    cr_assert_eq(weir_registry_remove(ts.reg, "acme.math.square"), WEIR_ENOTFOUND);
    weir_user_component_unref(u); /* the graph's reference keeps it */
    weir_exec_options o = {.completion = WEIR_COMPLETION_NEVER};
    weir_exec *e = ts_start(&ts, g, &o);
    json_t *init = json_object_get(effect(&ts, 0), "payload");
    cr_assert_str_eq(json_string_value(json_object_get(init, "component")), "acme.math.square");
    weir_exec_destroy(e);
    weir_graph_unref(g); /* the last reference: freed here (ASan checks) */
    /* The config schema is checked at load. */
    u = make(SQUARE_DEF);
    cr_assert_eq(weir_registry_add(ts.reg, weir_user_component_descriptor(u), NULL), 0);
    HAS(ts_graph_error(&ts, "{\"symbia\": \"1\", \"name\": \"g\", \"nodes\": [{\"id\": \"sq\", \"component\": "
                            "\"acme.math.square\", \"config\": {\"factor\": 2}}], \"edges\": []}"),
        "config \"mode\" is required");
    weir_user_component_unref(u);
    ts_fini(&ts);
}
