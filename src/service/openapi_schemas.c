/*
 * The JSON Schemas of the OpenAPI document (components/schemas): the bodies
 * the routes read and answer, written from the handlers (routes.c,
 * timectl.c, components.c, service.c) and the core's JSON (exec_json.c,
 * registry.c).  Objects stay open (no additionalProperties: false): a field
 * added to an answer does not break a client generated from an older
 * document.
 */
#include <stdarg.h>
#include <string.h>

#include "service/openapi.h"
#include "weir/weir.h"

/* ------------------------------------------------------------- builders */

/* Each returns a new reference, NULL when out of memory; a NULL argument
 * makes the result NULL too (json_pack's "o" refuses it), so a failure
 * anywhere empties the whole document instead of cutting it silently. */

static json_t *ref(const char *name) {
    char path[128];
    snprintf(path, sizeof path, "#/components/schemas/%s", name);
    return json_pack("{s:s}", "$ref", path);
}

static json_t *typed(const char *type, const char *desc) {
    return json_pack("{s:s,s:s*}", "type", type, "description", desc);
}
static json_t *str(const char *desc) { return typed("string", desc); }
static json_t *integer(const char *desc) { return typed("integer", desc); }
static json_t *count(const char *desc) {
    return json_pack("{s:s,s:i,s:s*}", "type", "integer", "minimum", 0, "description", desc);
}
static json_t *number(const char *desc) { return typed("number", desc); }
static json_t *boolean(const char *desc) { return typed("boolean", desc); }
static json_t *any(const char *desc) { return json_pack("{s:s*}", "description", desc); }
static json_t *timestamp(const char *desc) {
    return json_pack("{s:s,s:s,s:s*}", "type", "string", "format", "date-time", "description", desc);
}
static json_t *array_of(json_t *items, const char *desc) {
    return json_pack("{s:s,s:o,s:s*}", "type", "array", "items", items, "description", desc);
}
static json_t *strings(const char *desc) { return array_of(str(NULL), desc); }
static json_t *map_of(json_t *values, const char *desc) {
    return json_pack("{s:s,s:o,s:s*}", "type", "object", "additionalProperties", values, "description", desc);
}

/* A string of one of `values` (space-separated). */
static json_t *one_of(const char *values, const char *desc) {
    json_t *e = json_array();
    for (const char *v = values; e && *v;) {
        size_t n = strcspn(v, " ");
        json_array_append_new(e, json_stringn(v, n));
        v += n + strspn(v + n, " ");
    }
    return json_pack("{s:s,s:o,s:s*}", "type", "string", "enum", e, "description", desc);
}

/* An object: `required` names its required properties (space-separated),
 * then name, schema pairs end with NULL. */
static json_t *object(const char *desc, const char *required, ...) {
    json_t *props = json_object(), *req = json_array();
    bool ok = props && req;
    va_list ap;
    va_start(ap, required);
    for (const char *name; (name = va_arg(ap, const char *));) {
        json_t *schema = va_arg(ap, json_t *);
        if (!schema || json_object_set_new(props, name, schema)) ok = false;
    }
    va_end(ap);
    for (const char *r = required; ok && *r;) {
        size_t n = strcspn(r, " ");
        if (json_array_append_new(req, json_stringn(r, n))) ok = false;
        r += n + strspn(r + n, " ");
    }
    if (!ok) {
        json_decref(props);
        json_decref(req);
        return NULL;
    }
    json_t *o = json_pack("{s:s,s:o,s:s*}", "type", "object", "properties", props, "description", desc);
    if (o && json_array_size(req)) json_object_set_new(o, "required", req);
    else json_decref(req);
    return o;
}

/* base's properties and more's. */
static json_t *extend(const char *base, json_t *more) { return json_pack("{s:[o,o]}", "allOf", ref(base), more); }

/* -------------------------------------------------------------- schemas */

static const char STATES[] = "pending initializing running paused completed failed cancelled";

/* A graph as answered: what every answer has, and two fields more. */
static json_t *graph_answer(const char *desc, const char *more, const char *k1, json_t *v1, const char *k2,
                            json_t *v2) {
    char required[128];
    snprintf(required, sizeof required, "id name nodeCount edgeCount createdAt %s", more);
    json_t *version = json_pack("{s:[s,s],s:s}", "type", "string", "null", "description",
                                "the definition's version (null: none)");
    return object(desc, required, "id", str("the graph id (a UUID)"), "name", str(NULL), "version", version,
                  "nodeCount", count(NULL), "edgeCount", count(NULL), "createdAt", timestamp(NULL), k1, v1, k2, v2,
                  NULL);
}

static json_t *graph_schemas(void) {
    json_t *end = object("One end of an edge", "node port", "node", str("a node id"), "port", str("a port of it"),
                         NULL);
    json_t *node = object("A node: an instance of a component", "id component", "id", str("unique in the graph"),
                          "component",
                          str("a component id, e.g. symbia.core.map (GET /api/components), or graph:<name>[@<version>]: "
                              "another stored graph used as a component (its metadata.ports are its ports; the newest "
                              "of that name, or that version; its nodes run as <id>/<inner id>)"),
                          "config",
                          map_of(any(NULL), "the component's config (its schema: the component's config)"),
                          "position", typed("object", "where an editor draws it ({x, y}); not used by the runtime"),
                          NULL);
    json_t *edge = object("An edge from an output port to an input port", "source target", "id", str(NULL), "source",
                          ref("EdgeEnd"), "target", ref("EdgeEnd"), NULL);
    json_t *metadata = object(
        "Graph metadata: defaults of its executions, its ingress", "", "role",
        str("pipeline or service: executions never complete by themselves"), "runtime",
        str("the runtime of its executions unless the execute options name one"), "completion",
        one_of("auto never", NULL), "onError", one_of("fail continue", NULL), "overflow",
        one_of("refuse drop-oldest drop-newest", NULL), "timeoutMs", count("0: none"), "ingress",
        object("Where POST /api/ingress/{name} delivers", "node", "node", str(NULL), "port", str(NULL), NULL),
        "autostart", typed("boolean", "a stored graph with true is executed when the server starts (unless an "
                                      "unfinished execution of it came back from recovery)"),
        "hooks",
        object("Its webhooks (symbia.io.http-in, served at /hooks/{graph}/{path})", "", "public",
               boolean("true: they take requests without credentials when auth is configured"), NULL),
        "ports",
        object("The graph's own ports when it is used as a component (graph:<name>): each maps a port name to a port "
               "of one of its nodes. Names are unique per direction; an input maps to an input port, an output to an "
               "output port",
               "", "inputs", array_of(ref("PortMapping"), NULL), "outputs", array_of(ref("PortMapping"), NULL), NULL),
        NULL);
    json_t *mapping = object("One port of a graph used as a component", "name node port", "name",
                             str("the port's name on the graph node"), "node", str("a node of this graph"), "port",
                             str("a port of that node"), NULL);
    json_t *def = object(
        "A graph definition (JSON, or YAML of the same structure)", "symbia name nodes edges", "symbia",
        json_pack("{s:s,s:i,s:s}", "type", "string", "minLength", 1, "description", "format version, e.g. \"1.0\""),
        "name", json_pack("{s:s,s:i}", "type", "string", "minLength", 1), "version", str(NULL), "description",
        str(NULL), "metadata", ref("GraphMetadata"), "nodes", array_of(ref("GraphNode"), NULL), "edges",
        array_of(ref("GraphEdge"), "may be empty"), NULL);
    json_t *topo = object("Topological order (Kahn's algorithm, declaration order for ties)",
                          "sorted levels inputNodes outputNodes", "sorted", strings("node ids in topological order"),
                          "levels", map_of(count(NULL), "node id: longest-path depth"), "inputNodes",
                          strings("nodes without incoming edges"), "outputNodes",
                          strings("nodes without outgoing edges"), NULL);
    json_t *summary = graph_answer("A loaded graph, as listed", "inputNodes outputNodes", "inputNodes", strings(NULL),
                                   "outputNodes", strings(NULL));
    json_t *graph = graph_answer("A loaded graph with its topology and definition", "topology definition", "topology",
                                 ref("Topology"), "definition", ref("GraphDefinition"));
    /* a composed graph: what runs, and what it was made of */
    json_t *sub = object("A graph node expanded", "path name", "path", str("the graph node's id (nested: a/b)"), "name",
                         str("the graph it stands for"), "version", str("that graph's version, when it has one"),
                         "inputs",
                         map_of(ref("EdgeEnd"), "its input ports: where an inject that names the graph node (and "
                                                "the port) goes"),
                         "outputs", map_of(ref("EdgeEnd"), "its output ports: the inner node and port each comes from"),
                         NULL);
    json_t *props = json_object_get(graph, "properties");
    if (props && (json_object_set_new(props, "subgraphs",
                                      array_of(sub, "only for a graph with graph: nodes: each one expanded, in order")) ||
                  json_object_set_new(props, "flattened",
                                      extend("GraphDefinition",
                                             object("only for a graph with graph: nodes: the graph as it runs — "
                                                    "inner nodes with path ids, edges rewired (what an execution's "
                                                    "journal keeps)",
                                                    "", NULL)))))
        props = NULL;
    if (!props) {
        json_decref(graph);
        graph = NULL;
    }
    json_t *created = extend("GraphSummary", object(NULL, "topology", "topology", ref("Topology"), NULL));
    json_t *deleted = object("A graph unloaded", "id deleted", "id", str(NULL), "deleted", boolean(NULL), NULL);
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "EdgeEnd", end, "GraphNode", node, "GraphEdge",
                     edge, "GraphMetadata", metadata, "PortMapping", mapping, "GraphDefinition", def, "Topology", topo,
                     "GraphSummary", summary, "Graph", graph, "GraphCreated", created, "GraphDeleted", deleted);
}

static json_t *execution_schemas(void) {
    json_t *mock = object(
        "A canned answer to http requests on the virtual runtime", "match", "match",
        object("What it answers: the first mock that matches wins", "", "method", str(NULL), "url",
               str("exact, or a prefix when it ends with *"), NULL),
        "response",
        object(NULL, "", "status", json_pack("{s:s,s:i,s:i}", "type", "integer", "minimum", 100, "maximum", 599),
               "headers", map_of(str(NULL), NULL), "body", any("a string, or JSON sent as text"), NULL),
        "latencyMs", any("virtual ms until it is served: n, or [min, max] (the minimum here; weir sim draws)"),
        "set", map_of(any(NULL), "merged into the world when it is served"), "when",
        str("an expression over {world, request}: this mock serves only while it holds"), "fail",
        any("weir sim: chance of a network error"), "timeout", any("weir sim: chance it is never answered"), NULL);
    json_t *opts = object(
        "Execute options (every one optional; graph metadata gives the defaults)", "", "runtime",
        str("realtime or virtual (an unknown name falls back to DEFAULT_RUNTIME)"), "completion",
        one_of("auto never", "auto: completes when idle and every output has emitted"), "timeoutMs",
        count("ms before an auto execution fails (0: none)"), "onError",
        one_of("fail continue", "what an unhandled component error does"), "overflow",
        one_of("refuse drop-oldest drop-newest", "when the pause queue is full"), "tickMs",
        json_pack("{s:s,s:i,s:s}", "type", "integer", "minimum", 1, "description", "virtual: ms per tick"), "mocks",
        array_of(ref("Mock"), "virtual: canned http answers"), "world",
        map_of(any(NULL), "virtual: the state the mocks' set and when share, at the start"), NULL);
    json_t *error = object("Why an execution failed", "message", "message", str(NULL), "nodeId",
                           str("the node whose error failed it"), "details", any(NULL), NULL);
    json_t *exec = object(
        "An execution", "executionId graphId state runtime completion onError timeoutMs", "executionId", str(NULL),
        "graphId", str(NULL), "graphName", str(NULL), "state", one_of(STATES, NULL), "runtime", str(NULL),
        "completion", one_of("auto never", NULL), "onError", one_of("fail continue", NULL), "startedAt",
        timestamp(NULL), "completedAt", timestamp("once finished"), "timeoutMs", integer("-1 or 0: none"), "error",
        ref("ExecutionError"), NULL);
    json_t *node = object("Per-node metrics", "invocations emitted errors avgLatencyMs maxLatencyMs", "invocations",
                          count(NULL), "emitted", count(NULL), "errors", count(NULL), "avgLatencyMs", number(NULL),
                          "maxLatencyMs", number(NULL), NULL);
    json_t *metrics = object(
        "Metrics of an execution (latencies are 0 with ENABLE_METRICS=false)",
        "messagesProcessed messagesEmitted componentInvocations avgLatencyMs maxLatencyMs errorCount "
        "backpressureEvents droppedMessages queueDepth pendingEffects ticks uptimeMs nodes",
        "messagesProcessed", count(NULL), "messagesEmitted", count(NULL), "componentInvocations", count(NULL),
        "avgLatencyMs", number(NULL), "maxLatencyMs", number(NULL), "errorCount", count(NULL), "backpressureEvents",
        count(NULL), "droppedMessages", count(NULL), "queueDepth", count(NULL), "pendingEffects", count(NULL), "ticks",
        count(NULL), "startedAt", timestamp(NULL), "uptimeMs", count(NULL), "nodes",
        map_of(ref("NodeMetrics"), "node id: its metrics"), NULL);
    json_t *detail = extend("Execution", object(NULL, "metrics", "metrics", ref("Metrics"), NULL));
    json_t *stopped = extend("Execution", object(NULL, "discarded", "discarded",
                                                 count("queued messages discarded"), NULL));
    json_t *state = object("Every node's state as JSON (SPEC §7.2): accumulator {buffer}, merge {latest} or {pending}, "
                           "delay {pending}, state.once {keys}, http-request {pending}, user components their state map",
                           "executionId tick state nodes", "executionId", str(NULL), "tick",
                           count("the tick of the last wave"), "state", one_of(STATES, NULL), "nodes",
                           map_of(any(NULL), "node id: its state"), NULL);
    json_t *at = extend("ExecutionState",
                        object("The node states as of the end of a wave, rebuilt from the journal (SPEC §7.2)",
                               "atTick metrics", "atTick", any("the tick asked for, or \"latest\""), "metrics",
                               ref("Metrics"), NULL));
    json_t *fork_req = object("Where to fork and how the fork runs", "atTick", "atTick",
                              any("a tick of the source (a whole number), or \"latest\""), "runtime",
                              str("virtual (the default) or realtime"), "options",
                              object("Its runtime's options", "", "tickMs", count("virtual: ms per tick"), "mocks",
                                     array_of(ref("Mock"), "virtual: canned http answers"), NULL),
                              NULL);
    json_t *forked = extend("Execution", object(NULL, "forkOf", "forkOf",
                                                object("What it was forked from", "executionId atTick", "executionId",
                                                       str(NULL), "atTick", any(NULL), NULL),
                                                NULL));
    json_t *file = json_pack("{s:s,s:s}", "type", "string", "description",
                             "a journal file: NDJSON, one record a line {seq, kind, tick, time, body, chain, digest?}, "
                             "as GET /api/executions/{id}/journal gives it");
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "JournalFile", file, "Mock", mock,
                     "ExecuteOptions", opts,
                     "ExecutionError", error, "Execution", exec, "NodeMetrics", node, "Metrics", metrics,
                     "ExecutionDetail", detail, "ExecutionStopped", stopped, "ExecutionState", state, "ExecutionAt",
                     at, "ForkRequest", fork_req, "ExecutionForked", forked);
}

static json_t *inject_schemas(void) {
    json_t *req = object(
        "An inject", "nodeId value", "nodeId", str("the node to deliver to"), "port",
        str("its input port (default: its first)"), "value", any("any JSON value, null included"), "wait",
        boolean("answer when everything it caused has settled (default true; also ?wait=)"), "trace",
        boolean("with wait: list every hop (also ?trace=)"), "afterTicks",
        json_pack("{s:s,s:i,s:s}", "type", "integer", "minimum", 0, "description", "virtual: deliver N ticks from now"),
        "atTick",
        json_pack("{s:s,s:i,s:s}", "type", "integer", "minimum", 1, "description", "virtual: deliver at tick N"),
        NULL);
    json_t *from = json_pack("{s:[s,s],s:s}", "type", "string", "null", "description",
                             "node:port it came from (null: the inject itself)");
    json_t *hop = object("One hop of a traced inject", "tick to value", "tick", count(NULL), "from", from, "to",
                         str("node:port it went to"), "value", any(NULL), NULL);
    json_t *result = object(
        "What an inject caused (settled: everything it caused has finished)",
        "executionId injectId tick settled state", "executionId", str(NULL), "injectId", count(NULL), "tick",
        count(NULL), "settled", boolean(NULL), "state", one_of(STATES, NULL), "outputs",
        map_of(any(NULL), "\"node:port\" of each output node: the last value it emitted"), "trace",
        array_of(ref("TraceHop"), NULL), "hops", count(NULL), "dropped", boolean("dropped by overflow: drop-newest"),
        "error", ref("ExecutionError"), NULL);
    json_t *accepted = object(
        "An inject accepted but not settled: wait false, a wait that ran out, virtual time (waitsFor), or scheduled "
        "with afterTicks / atTick",
        "executionId tick", "executionId", str(NULL), "tick", count(NULL), "injectId", count(NULL), "queued",
        boolean("queued while paused"), "dropped", boolean(NULL), "settled", boolean(NULL), "state",
        one_of(STATES, NULL), "waitsFor", str(NULL), "scheduled", boolean(NULL), "atTick", count(NULL), "error",
        ref("ExecutionError"), NULL);
    return json_pack("{s:o,s:o,s:o,s:o}", "InjectRequest", req, "TraceHop", hop, "InjectResult", result,
                     "InjectAccepted", accepted);
}

static json_t *time_schemas(void) {
    json_t *runtime = object("Switch the runtime", "runtime", "runtime", str("realtime or virtual"), "tickMs",
                             json_pack("{s:s,s:i}", "type", "integer", "minimum", 1), "mocks",
                             array_of(ref("Mock"), NULL), NULL);
    json_t *positive = json_pack("{s:s,s:i}", "type", "integer", "minimum", 1);
    json_t *tick = object(NULL, "", "count", json_pack("{s:s,s:i,s:i,s:s}", "type", "integer", "minimum", 1,
                                                        "maximum", 1000000, "description", "ticks (default 1)"),
                          NULL);
    json_t *advance = object(NULL, "ms", "ms", count("virtual ms, rounded up to whole ticks"), NULL);
    json_t *run = object(NULL, "", "maxTicks", positive, NULL);
    json_t *step = object(NULL, "", "count", json_pack("{s:s,s:i,s:i,s:s}", "type", "integer", "minimum", 1,
                                                        "maximum", 10000, "description", "invocations (default 1)"),
                          NULL);
    json_t *state = object(
        "The clock of an execution and what waits", "executionId state time settled", "executionId", str(NULL),
        "runtime", str(NULL), "state", one_of(STATES, NULL), "time", integer("ms (virtual: the virtual clock)"),
        "tick", count("virtual"), "pending", count("virtual: timers and requests waiting"), "scheduled",
        count("virtual: injects scheduled"), "settled",
        array_of(ref("InjectResult"), "injects answered early that settled since the last time command"),
        "settledDropped", count(NULL), "error", ref("ExecutionError"), NULL);
    json_t *switched = extend("TimeState", object(NULL, "from requested", "from", str(NULL), "requested", str(NULL),
                                                  NULL));
    json_t *ran = extend("TimeState",
                         object(NULL, "stoppedBy idle played", "stoppedBy",
                                str("idle, maxTicks, pause, stop, a final state, ..."), "idle", boolean(NULL),
                                "played", count("ticks played"), NULL));
    json_t *one = object("One node invocation", "nodeId wave resumed waveDone", "nodeId", str(NULL), "port", str(NULL),
                         "wave", count(NULL), "resumed", boolean(NULL), "waveDone", boolean(NULL), NULL);
    json_t *stepped = extend("TimeState", object(NULL, "idle steps", "idle", boolean(NULL), "steps",
                                                 array_of(ref("Step"), NULL), NULL));
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "RuntimeRequest", runtime, "TickRequest", tick,
                     "AdvanceRequest", advance, "RunRequest", run, "StepRequest", step, "TimeState", state,
                     "RuntimeSwitched", switched, "RunResult", ran, "Step", one, "StepResult", stepped);
}

static json_t *component_schemas(void) {
    json_t *port = object("A port", "name", "name", str(NULL), "description", str(NULL), "schema",
                          typed("object", "a JSON Schema of its values"), NULL);
    json_t *field = object("One config key", "type required", "type",
                           one_of("any string number integer boolean object array expression", NULL), "required",
                           boolean(NULL), "default", any(NULL), "enum", strings(NULL), "alias", str(NULL), "minimum",
                           number(NULL), "description", str(NULL), NULL);
    json_t *exec = object(
        "User components, run in the component host: JavaScript, TypeScript (types stripped) or WebAssembly (the "
        "README's ABI). A definition gives source or sourceUrl; a descriptor always shows source and sourceHash",
        "type", "type", one_of("javascript typescript wasm", NULL), "source",
        str("javascript, typescript: a function body returning {process(ctx, port, value), initialize?, cleanup?}; "
            "wasm: the module in base64"),
        "sourceUrl",
        json_pack("{s:s,s:s,s:s}", "type", "string", "format", "uri", "description",
                  "http(s) URL the source is fetched from once, at registration, through the egress guard "
                  "(EGRESS_ALLOW_PRIVATE, EGRESS_ALLOWLIST; at most SOURCE_MAX_BYTES); it is then stored with the "
                  "definition"),
        "sourceHash",
        json_pack("{s:s,s:s,s:s}", "type", "string", "pattern", "^sha256:[0-9a-f]{64}$", "description",
                  "SHA-256 of the source (of a wasm module's bytes); given in a definition, it pins the source"),
        "entrypoint", str(NULL), NULL);
    json_t *comp = object(
        "A component descriptor", "id name version category description ports config", "id", str(NULL), "name",
        str(NULL), "version", str(NULL), "category", str(NULL), "description", str(NULL), "ports",
        object(NULL, "inputs outputs dynamicInputs dynamicOutputs", "inputs", array_of(ref("Port"), NULL), "outputs",
               array_of(ref("Port"), NULL), "dynamicInputs", boolean(NULL), "dynamicOutputs", boolean(NULL), NULL),
        "config", map_of(ref("ConfigField"), NULL), "execution", ref("ComponentExecution"), "origin",
        one_of("user", "user components only"), NULL);
    json_t *def_port = object(NULL, "name", "name", str(NULL), "description", str(NULL), "schema",
                              typed("object", NULL), NULL);
    json_t *def = object(
        "A user component definition", "id name version ports execution", "id",
        str("namespaced: letters, digits, - and _ separated by dots, e.g. acme.math.square"), "name", str(NULL),
        "version", str(NULL), "category", str(NULL), "description", str(NULL), "ports",
        object(NULL, "inputs", "inputs", array_of(json_incref(def_port), "at least one"), "outputs",
               array_of(def_port, "an error port is added"), NULL),
        "config",
        map_of(object(NULL, "type", "type", one_of("string number integer boolean object array any", NULL), "default",
                      any(NULL), "required", boolean(NULL), "enum", strings(NULL), "description", str(NULL), NULL),
               NULL),
        "execution", ref("ComponentExecution"), NULL);
    return json_pack("{s:o,s:o,s:o,s:o,s:o}", "Port", port, "ConfigField", field, "ComponentExecution", exec,
                     "Component", comp, "ComponentDefinition", def);
}

/* Error's code: a string of one of the codes (weir/weir.h's WEIR_ERRORS,
 * spelled by weir_errname). */
static json_t *error_code(void) {
    json_t *codes = json_array();
    bool ok = codes != NULL;
#define X(name, value, desc) \
    if (ok && json_array_append_new(codes, json_string(weir_errname(value)))) ok = false;
    WEIR_ERRORS(X)
#undef X
    if (!ok) { /* out of memory: NULL empties the document (see the builders) */
        json_decref(codes);
        codes = NULL;
    }
    return json_pack("{s:s,s:o,s:s}", "type", "string", "enum", codes, "description",
                     "what kind of error, stable across versions (the table in weir/weir.h maps each to its HTTP "
                     "status); the message in error may change");
}

static json_t *service_schemas(void) {
    json_t *error = object("An error", "error code", "error", str("what went wrong and how to fix it"), "code",
                           error_code(), "problems",
                           strings("every problem found (graph upload)"), "executionId", str(NULL), "accepted",
                           count("ingress: items accepted before the one that failed"), NULL);
    json_t *ingress = object("A delivery accepted", "executionId accepted", "executionId", str(NULL), "accepted",
                             count("items delivered"), NULL);
    json_t *health = object("Service health", "status version uptimeMs", "status", one_of("ok shutting-down", NULL),
                            "version", str(NULL), "uptimeMs", count(NULL), NULL);
    json_t *status = object(NULL, "status", "status", str("alive, or ready"), NULL);
    json_t *host = object("The component host pool", "poolSize processes busy queued calls failures processesStarted",
                          "poolSize", count(NULL), "processes", count(NULL), "busy", count(NULL), "queued", count(NULL),
                          "calls", count(NULL), "failures", count(NULL), "processesStarted", count(NULL), NULL);
    json_t *stats = object(
        "Service statistics",
        "graphs executions executionsByState activeExecutions totalMessagesProcessed queueDepth connections "
        "eventClients subscribers uptimeMs componentHost",
        "graphs", count(NULL), "executions", count("kept: running and recently finished"), "executionsByState",
        map_of(count(NULL), "state: executions in it"), "activeExecutions", count(NULL), "totalMessagesProcessed",
        count(NULL), "queueDepth", count(NULL), "connections", count(NULL), "eventClients", count(NULL), "subscribers",
        count(NULL), "uptimeMs", count(NULL), "componentHost", ref("HostStats"), NULL);
    json_t *ingress_body = any("any JSON value; an array is a batch, one delivery per item");
    json_t *hook_body = any("any JSON value: the http-in node's value (empty: null); with raw: true the node gets "
                            "{method, path, query, headers, body: this text} instead");
    json_t *hook_answer = any("what the graph's http-response node answers: the value it received");
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "Error", error, "IngressAccepted", ingress,
                     "IngressBody", ingress_body, "Health", health, "Status", status, "HostStats", host, "Stats", stats,
                     "OpenApiDocument", typed("object", "an OpenAPI 3.1 document"), "HookBody", hook_body,
                     "HookAnswer", hook_answer);
}

/* Change while running: PUT /api/graphs/:id answers GraphCreated. */
static json_t *upgrade_schemas(void) {
    json_t *req = object("Upgrade to the graph's stored version, or to the newest stored graph of its name with a "
                         "version",
                         "", "graphVersion", str("a version of a stored graph of the same name (default: the "
                                                 "execution's graph as stored now)"),
                         NULL);
    json_t *graph = object(NULL, "graphId name", "graphId", str(NULL), "name", str(NULL), "version", str(NULL), NULL);
    json_t *effect = object("A pending effect of a removed node, cancelled (kind result: its result was queued)",
                            "effectId kind nodeId", "effectId", count(NULL), "kind",
                            one_of("timer http invoke result", NULL), "nodeId", str(NULL), NULL);
    json_t *report = object(
        "What an upgrade did: nodes kept by id with the same component keep their state and counters, removed "
        "nodes' state is dropped and their effects cancelled, added nodes start fresh",
        "executionId from to kept added removed cancelledEffects droppedState tick state", "executionId", str(NULL),
        "from", ref("GraphVersion"), "to", ref("GraphVersion"), "kept", strings(NULL), "added", strings(NULL),
        "removed", strings(NULL), "cancelledEffects", array_of(ref("CancelledEffect"), NULL), "droppedState",
        map_of(any(NULL), "removed node id: the state it had"), "tick", count("the upgrade's tick"), "state",
        one_of(STATES, NULL), NULL);
    return json_pack("{s:o,s:o,s:o,s:o}", "UpgradeRequest", req, "GraphVersion", graph, "CancelledEffect", effect,
                     "UpgradeReport", report);
}

json_t *weir__openapi_schemas(void) {
    json_t *all = json_object();
    json_t *parts[] = {graph_schemas(), execution_schemas(), inject_schemas(), time_schemas(), component_schemas(),
                       service_schemas(), upgrade_schemas()};
    bool ok = all != NULL;
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        if (!parts[i] || json_object_update(all, parts[i])) ok = false;
        json_decref(parts[i]);
    }
    if (!ok) {
        json_decref(all);
        return NULL;
    }
    return all;
}
