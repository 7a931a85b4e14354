/*
 * weir — a dataflow runtime.  This is the one public header: the contract of
 * libweir.  Everything not declared here is private to the library.
 *
 * Conventions (DESIGN §4):
 *  - Functions return int: 0 on success, a negative WEIR_E* code on failure.
 *    weir_strerror() names a code; a human message naming what was wrong and
 *    how to fix it is written to a weir_error when the caller passes one.
 *  - Every *_create has a *_destroy; destroy(NULL) is a no-op.
 *  - Values are jansson json_t.  Each argument says whether a reference is
 *    BORROWED (the callee increfs if it keeps it), STOLEN (the callee owns the
 *    caller's reference, even on failure) or NEW (the caller must decref).
 *    Values are immutable once emitted: never modify a value you did not
 *    create.
 *  - The core is pure: no clock reads, no I/O, no threads, no globals except
 *    the optional allocator hook.  Time arrives as `now_ms` with each input;
 *    everything the core wants done outside leaves it as an effect, everything
 *    it wants to tell leaves it as an event (see weir_shell).
 */
#ifndef WEIR_WEIR_H
#define WEIR_WEIR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(WEIR_BUILDING_LIBRARY)
#define WEIR_API __attribute__((visibility("default")))
#else
#define WEIR_API
#endif

#define WEIR_VERSION "0.1.0"

/* ---------------------------------------------------------------- errors */

/* X(name, value, description).  The one table of error codes: the library
 * returns them, and the server puts the name ("WEIR_ENOTFOUND") in every
 * error body as `code` beside the human `error` message (SPEC §10).  The
 * names are stable; clients may branch on them.  HTTP status by code:
 *
 *   WEIR_EINVAL 400      the request is malformed or a value is out of range
 *   WEIR_EGRAPH 400      a graph definition does not load (`problems` lists why)
 *   WEIR_EEXPR 400       an expression does not compile
 *   WEIR_EAUTH 401       credentials are required and none were sent
 *   WEIR_EFORBIDDEN 403  the credentials (or the request's origin) were refused
 *   WEIR_ENOTFOUND 404   no such graph, execution, component, node or route
 *   WEIR_EMETHOD 405     the route exists, not with this method (Allow lists them)
 *   WEIR_ETIMEOUT 408    the request did not arrive in time
 *   WEIR_ESTATE 409      the operation does not fit the state (finished, in use)
 *   WEIR_EEXISTS 409     the id (and version) is taken
 *   WEIR_ETOOLARGE 413   the body (or, 431, the headers) exceeds its bound
 *   WEIR_EMEDIATYPE 415  the body's Content-Type is not one the route accepts
 *   WEIR_EHOST 421       the Host header names no host this server answers for
 *   WEIR_EFULL 429       a queue is full (Retry-After: 1)
 *   WEIR_ELIMIT 429      a limit is reached (Retry-After: 1)
 *   WEIR_ENOMEM 503      out of memory (Retry-After: 5)
 *   WEIR_EIO 503         the store cannot write (Retry-After: 5)
 *   WEIR_EUNAVAILABLE 503 shutting down (Retry-After: 5) or at the connection bound (1)
 *   WEIR_EINTERNAL 500   a bug: the server could not build its answer
 *   WEIR_ESTALE, WEIR_ERUNTIME: library-only (effects, runtimes). */
#define WEIR_ERRORS(X)                                                              \
    X(NOMEM, -1, "out of memory")                                                   \
    X(INVAL, -2, "invalid argument")                                                \
    X(GRAPH, -3, "invalid graph definition")                                        \
    X(EXPR, -4, "invalid expression")                                               \
    X(NOTFOUND, -5, "not found")                                                    \
    X(STATE, -6, "operation does not fit the execution's state")                    \
    X(FULL, -7, "queue full")                                                       \
    X(LIMIT, -8, "limit reached")                                                   \
    X(STALE, -9, "unknown, cancelled or already-resolved effect id")                \
    X(EXISTS, -10, "already exists")                                                \
    X(IO, -11, "input/output error")                                                \
    X(RUNTIME, -12, "runtime error")                                                \
    X(AUTH, -13, "credentials required")                                            \
    X(FORBIDDEN, -14, "refused")                                                    \
    X(METHOD, -15, "method not allowed")                                            \
    X(TIMEOUT, -16, "timed out")                                                    \
    X(TOOLARGE, -17, "too large")                                                   \
    X(MEDIATYPE, -18, "unsupported media type")                                     \
    X(HOST, -19, "unknown host")                                                    \
    X(UNAVAILABLE, -20, "service unavailable")                                      \
    X(INTERNAL, -21, "internal error")

enum {
    WEIR_OK = 0,
#define WEIR__ERRENUM(name, value, desc) WEIR_E##name = (value),
    WEIR_ERRORS(WEIR__ERRENUM)
#undef WEIR__ERRENUM
};

/* Static string for a code ("out of memory"); "unknown error" otherwise. */
WEIR_API const char *weir_strerror(int code);
/* Symbolic name of a code ("WEIR_ENOMEM"). */
WEIR_API const char *weir_errname(int code);

#define WEIR_ERROR_MAX 2048
/* Caller-allocated.  `message` is always NUL-terminated; long messages are
 * cut and end in "...". */
typedef struct weir_error {
    int code;
    char message[WEIR_ERROR_MAX];
} weir_error;

/* -------------------------------------------------------------- allocator */

/* Replace the allocator used by weir (and by jansson: the call also sets
 * json_set_alloc_funcs).  For tests of out-of-memory behaviour; call before
 * creating any object.  NULL restores malloc/realloc/free. */
typedef struct weir_allocator {
    void *(*malloc)(size_t);
    void *(*realloc)(void *, size_t);
    void (*free)(void *);
} weir_allocator;
WEIR_API void weir_set_allocator(const weir_allocator *a);

/* ------------------------------------------------------------ components */

typedef struct weir_ctx weir_ctx; /* a node instance inside an execution */
typedef struct weir_exec weir_exec;
typedef struct weir_graph weir_graph;
typedef struct weir_registry weir_registry;

typedef struct weir_component weir_component;

typedef struct weir_port_def {
    const char *name;
    const char *description;
    const char *schema; /* JSON Schema text or NULL */
} weir_port_def;

typedef enum weir_cfg_type {
    WEIR_CFG_ANY = 0,
    WEIR_CFG_STRING,
    WEIR_CFG_NUMBER,
    WEIR_CFG_INTEGER,
    WEIR_CFG_BOOLEAN,
    WEIR_CFG_OBJECT,
    WEIR_CFG_ARRAY,
    WEIR_CFG_EXPRESSION, /* a string compiled as an expression at load */
} weir_cfg_type;

/* One config key of a component.  The table drives validation at load
 * (type, required, enum, minimum), defaults, `weir components` and docs. */
typedef struct weir_config_def {
    const char *key;
    weir_cfg_type type;
    const char *default_json;       /* JSON text of the default (must be valid JSON), or NULL */
    bool required;
    const char *const *enum_values; /* NULL-terminated list, or NULL */
    const char *alias;              /* accepted other name, or NULL */
    const char *description;
    bool has_min;
    double min;
} weir_config_def;

/* Component flags. */
#define WEIR_COMPONENT_DYNAMIC_INPUTS 0x1u  /* any input port name is accepted */
#define WEIR_COMPONENT_DYNAMIC_OUTPUTS 0x2u /* any output port name is accepted */
#define WEIR_COMPONENT_OPEN_CONFIG 0x4u     /* config keys outside the table are kept */
/* An open input source fed from outside the graph (symbia.io.http-in): an
 * execution of a graph with a node of it never completes naturally unless
 * the graph's metadata or the execute options set `completion` (its
 * default is then never, as for role pipeline|service). */
#define WEIR_COMPONENT_SOURCE 0x8u
/* symbia.io.http-in's timeoutMs may not exceed this (ms): a webhook request
 * holds a connection while it waits for its answer. */
#define WEIR_HTTP_IN_MAX_TIMEOUT_MS 600000

/* An effect's outcome as seen by the component that requested it. */
typedef struct weir_effect_result {
    int ok;            /* 1 success, 0 failure */
    json_t *value;     /* BORROWED: the result (timer: null; http: {status, headers, body}) */
    const char *error; /* failure message when !ok */
} weir_effect_result;

/* The budget of one expression evaluation (SPEC §10), per graph: settings
 * EXPR_MAX_STEPS and EXPR_MAX_BYTES.  steps: units of work (callback calls,
 * elements visited, blocks of text compared or copied, values of the result
 * as written out), about 10 ns each; bytes: the largest string value and
 * the largest result written out (an evaluation may allocate 4 times this).
 * 0 means the default.  Past either the evaluation fails with WEIR_EEXPR
 * and a message naming the setting. */
#define WEIR_EXPR_MAX_STEPS_DEFAULT ((size_t)1 << 20)
#define WEIR_EXPR_MAX_BYTES_DEFAULT ((size_t)16 << 20)
typedef struct weir_expr_limits {
    size_t max_steps;
    size_t max_bytes;
} weir_expr_limits;

/* What weir_component.prepare sees of the node it prepares. */
typedef struct weir_node_info {
    const char *node_id;
    size_t n_inputs; /* connected/declared input port names */
    const char *const *inputs;
    size_t n_outputs;
    const char *const *outputs;
    const weir_component *component; /* the descriptor being prepared */
    weir_expr_limits expr;           /* the graph's expression budget (defaults
                                        applied): compile the node's expressions
                                        with it */
    void *zones;                     /* the load's time zones (weir_node_zone) */
} weir_node_info;

/* For prepare: the TZif bytes (RFC 8536) of IANA time zone `name`
 * ("Europe/Berlin"), from the zones pinned in the load's options, else from
 * the shell's zone resolver (weir_graph_options.zone; see
 * weir_zone_resolver).  The core reads no file.  The graph keeps the bytes
 * (weir_graph_zones).  0 and *data, *len (BORROWED, valid until the next
 * call or the end of prepare), or WEIR_EINVAL with err saying what is
 * wrong and how to fix it ("unknown time zone ..."; a malformed name; past
 * MAX_ZONE_BYTES), or WEIR_ENOMEM. */
WEIR_API int weir_node_zone(const weir_node_info *node, const char *name, const uint8_t **data, size_t *len,
                            weir_error *err);

/*
 * A component is a static descriptor: a pure description plus callbacks.
 * Callbacks are called on the core's thread, never concurrently for one
 * execution.  Handler contract:
 *  - prepare: at graph load, with the config already checked against the
 *    table and defaults applied (BORROWED).  Compile what can be compiled;
 *    on a bad config fill `err` (name the key, say the fix) and return
 *    WEIR_EGRAPH.  *prepared is released with `release`.  Optional.
 *  - init: once per instance at execution start.  Optional.
 *  - process: per message; `port` indexes weir_ctx_input_name().  Emit with
 *    weir_emit*, request effects with weir_effect_request.  Component errors
 *    (a thrown expression, bad input) are emitted with weir_emit_error and
 *    return 0; a negative return (e.g. WEIR_ENOMEM) fails the execution.
 *  - resume: an effect this instance requested has settled.
 *  - drain: the execution is about to complete or stop gracefully: flush
 *    partial work by emitting.  Optional.
 *  - cleanup: at stop/complete/fail.  Release what init acquired.  Optional.
 *    Effects requested here are fire-and-forget (told to the shell with id
 *    0, like log effects): nothing resumes a finished instance.
 * Per-instance private memory of `state_size` bytes, zeroed, is available as
 * weir_ctx_state().
 */
struct weir_component { /* typedef above (C99 allows one typedef per name) */
    const char *id;
    const char *name;
    const char *version;
    const char *category;
    const char *description;
    const weir_port_def *inputs;
    size_t n_inputs;
    const weir_port_def *outputs;
    size_t n_outputs;
    unsigned flags;
    const weir_config_def *config;
    size_t n_config;
    size_t state_size;
    int (*prepare)(const weir_node_info *node, json_t *config, void **prepared, weir_error *err);
    void (*release)(void *prepared);
    int (*init)(weir_ctx *ctx);
    int (*process)(weir_ctx *ctx, unsigned port, json_t *value /* BORROWED */);
    int (*resume)(weir_ctx *ctx, const weir_effect_result *res, json_t *continuation /* BORROWED */);
    int (*drain)(weir_ctx *ctx);
    void (*cleanup)(weir_ctx *ctx);
    /* NEW: the instance's state as JSON (SPEC §7.2: GET
     * /api/executions/:id/state, time travel, simulation invariants).
     * Optional: without it the state is the instance's key/value map
     * (weir_set_state), {} while nothing is set.  Called between inputs,
     * never inside a wave; it must not emit, request effects or change the
     * state.  NULL: out of memory. */
    json_t *(*state)(weir_ctx *ctx);
    /* NEW (snapshots, SPEC §7.1): everything the instance keeps in its
     * state_size struct, as JSON, and the same put back into a fresh
     * instance (instead of init) — so that an execution restored from a
     * snapshot goes on exactly as the one that was saved.  Required of a
     * component with state_size (an execution using one without them is
     * not snapshotted: time travel and recovery replay its whole journal);
     * the key/value state (weir_set_state) is saved by the core.  save:
     * NULL is out of memory; load: 0, or an error (the saved JSON is not
     * what save makes).  Called between inputs only. */
    json_t *(*save)(weir_ctx *ctx);
    int (*load)(weir_ctx *ctx, json_t *saved /* BORROWED */);
};

/* Registry of component descriptors: the built-ins plus those registered
 * through the API.  Descriptors are BORROWED and must outlive the registry
 * and every graph loaded against it. */
WEIR_API int weir_registry_create(weir_registry **out);          /* with the built-ins */
WEIR_API int weir_registry_create_empty(weir_registry **out);    /* without */
WEIR_API void weir_registry_destroy(weir_registry *reg);
/* WEIR_EEXISTS if the id is taken, WEIR_EINVAL if the descriptor is malformed. */
WEIR_API int weir_registry_add(weir_registry *reg, const weir_component *c, weir_error *err);
WEIR_API const weir_component *weir_registry_find(const weir_registry *reg, const char *id);
/* Take a descriptor out (graphs loaded with it keep using it).
 * WEIR_ENOTFOUND when no component has that id. */
WEIR_API int weir_registry_remove(weir_registry *reg, const char *id);
WEIR_API size_t weir_registry_count(const weir_registry *reg);
WEIR_API const weir_component *weir_registry_at(const weir_registry *reg, size_t i);
/* NEW: the descriptor as JSON ({id, name, version, category, description,
 * ports: {inputs, outputs, dynamicInputs, dynamicOutputs}, config: {key: {...}}}). */
WEIR_API json_t *weir_component_json(const weir_component *c);
/* The built-in descriptors, NULL-terminated. */
WEIR_API const weir_component *const *weir_builtin_components(void);

/* ---- user components (SPEC §2.3): a descriptor built from a JSON definition
 * {id, name, version, category?, description?, ports: {inputs: [{name,
 * schema?}], outputs: [...]}, config?: {key: {type, default, required, enum,
 * description}}, execution: {type: "javascript" | "typescript" | "wasm",
 * entrypoint?, source, sourceUrl?, sourceHash?}} (wasm: source is the
 * module in base64; sourceUrl is fetched by the service at registration,
 * which then stores the source it got with its sourceHash).
 * Its process requests an invoke effect per message (the payload carries the
 * source, the value, the config and the instance state; see
 * weir_host_invoke) and its resume applies the answer: logs as log events,
 * the state written back, emits on the named ports, a failure or an error
 * thrown by user code on the error port (always declared).  initialize
 * runs as an invoke at execution start, cleanup as a fire-and-forget one. */
typedef struct weir_user_component weir_user_component;
/* def BORROWED (copied).  WEIR_EINVAL with a message naming the field and
 * the fix; WEIR_ENOMEM.  The reference returned is the caller's. */
WEIR_API int weir_user_component_create(json_t *def, weir_user_component **out, weir_error *err);
/* Reference counted: every graph node prepared with it holds a reference,
 * so it outlives the registry entry as long as a graph uses it. */
WEIR_API weir_user_component *weir_user_component_ref(weir_user_component *u);
WEIR_API void weir_user_component_unref(weir_user_component *u);
WEIR_API const weir_component *weir_user_component_descriptor(const weir_user_component *u);
/* The user component behind a descriptor, or NULL for any other. */
WEIR_API weir_user_component *weir_user_component_of(const weir_component *c);
/* The host's cache key of its source (weir_host_key) and the source. */
WEIR_API const char *weir_user_component_key(const weir_user_component *u);
WEIR_API const char *weir_user_component_source(const weir_user_component *u);
/* "javascript", "typescript" or "wasm" (static). */
WEIR_API const char *weir_user_component_type(const weir_user_component *u);
/* NEW: the definition it was made from, as given (BORROWED). */
WEIR_API json_t *weir_user_component_definition(const weir_user_component *u);
/* NEW: weir_component_json of the descriptor plus "execution" {type,
 * entrypoint?, source, sourceUrl?, sourceHash?} and "origin": "user". */
WEIR_API json_t *weir_user_component_json(const weir_user_component *u);

/* ---- the handler context (valid only inside a callback) */
WEIR_API const char *weir_ctx_node_id(const weir_ctx *ctx);
WEIR_API const char *weir_ctx_execution_id(const weir_ctx *ctx);
WEIR_API uint64_t weir_ctx_tick(const weir_ctx *ctx);
WEIR_API int64_t weir_ctx_now(const weir_ctx *ctx); /* the input's time, ms */
WEIR_API json_t *weir_ctx_config(const weir_ctx *ctx); /* BORROWED, normalised */
WEIR_API void *weir_ctx_prepared(const weir_ctx *ctx);
WEIR_API void *weir_ctx_state(weir_ctx *ctx);
/* Effects this instance requested that have not settled (timers, http,
 * invokes; fire-and-forget ones are not counted). */
WEIR_API size_t weir_ctx_pending_effects(const weir_ctx *ctx);
WEIR_API size_t weir_ctx_input_count(const weir_ctx *ctx);
WEIR_API const char *weir_ctx_input_name(const weir_ctx *ctx, unsigned port);
WEIR_API size_t weir_ctx_output_count(const weir_ctx *ctx);
WEIR_API const char *weir_ctx_output_name(const weir_ctx *ctx, unsigned port);
/* Index of an output port by name, or -1 (dynamic outputs without an edge
 * have no index: emit them with weir_emit_name). */
WEIR_API int weir_ctx_output_index(const weir_ctx *ctx, const char *name);
/* Is an edge attached to this output port? */
WEIR_API bool weir_ctx_output_connected(const weir_ctx *ctx, unsigned port);

/* Emit on an output port by index (fast path) or by name.  `value` is
 * BORROWED: fan-out shares it, so it must not be modified afterwards. */
WEIR_API int weir_emit(weir_ctx *ctx, unsigned port, json_t *value);
WEIR_API int weir_emit_name(weir_ctx *ctx, const char *port, json_t *value);
/* Emit a STOLEN value (convenience for freshly built values).  NULL is
 * treated as WEIR_ENOMEM. */
WEIR_API int weir_emit_new(weir_ctx *ctx, unsigned port, json_t *value);
/* Emit each element of an array. */
WEIR_API int weir_emit_batch(weir_ctx *ctx, unsigned port, json_t *values);
/* Emit {error: message, ...details} on the port named "error" (details
 * BORROWED object or NULL).  If the component has no error port or it is not
 * connected, the error is unhandled (SPEC §4.2). */
WEIR_API int weir_emit_error(weir_ctx *ctx, json_t *details, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Instance key/value state (getState/setState). */
WEIR_API json_t *weir_get_state(weir_ctx *ctx, const char *key);           /* BORROWED or NULL */
/* The whole key/value state: BORROWED object, or NULL while nothing is set. */
WEIR_API json_t *weir_ctx_state_all(weir_ctx *ctx);
WEIR_API int weir_set_state(weir_ctx *ctx, const char *key, json_t *value); /* STOLEN */

typedef enum weir_log_level {
    WEIR_LOG_DEBUG = 0,
    WEIR_LOG_INFO,
    WEIR_LOG_WARN,
    WEIR_LOG_ERROR,
} weir_log_level;
WEIR_API const char *weir_log_level_name(weir_log_level l);
/* 0 and *out set, or WEIR_EINVAL for an unknown name. */
WEIR_API int weir_log_level_parse(const char *name, weir_log_level *out);
/* Write to the execution log: a `log` event and a `log` effect for the shell
 * (the server log).  meta BORROWED or NULL. */
WEIR_API int weir_log(weir_ctx *ctx, weir_log_level level, json_t *meta, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---------------------------------------------------------------- effects */

typedef enum weir_effect_kind {
    WEIR_EFFECT_TIMER = 1, /* payload {delayMs}; resolve with null when due */
    WEIR_EFFECT_HTTP,      /* payload {method, url, headers, body?, timeoutMs}; resolve
                              with {status, headers, body: raw text} or an error */
    WEIR_EFFECT_INVOKE,    /* user component call: payload as weir_host_invoke's call; resolve
                              with {emits, state, logs, error?} or an error */
    WEIR_EFFECT_LOG,       /* payload {level, message, meta?}; fire-and-forget */
} weir_effect_kind;
WEIR_API const char *weir_effect_kind_name(weir_effect_kind k);

/* Request an effect for this instance.  payload STOLEN, continuation STOLEN
 * (may be NULL): it is handed back to `resume`.  *id (optional) receives the
 * 64-bit generational id. */
WEIR_API int weir_effect_request(weir_ctx *ctx, weir_effect_kind kind, json_t *payload,
                                 json_t *continuation, uint64_t *id);
/* Cancel an effect this instance requested and has not seen resolved.  The
 * shell is told; a result that arrived but was not delivered yet (paused,
 * queued) is dropped.  WEIR_ESTALE if it is neither pending nor queued. */
WEIR_API int weir_effect_cancel(weir_ctx *ctx, uint64_t id);

/* An effect as the shell sees it.  All pointers BORROWED for the call. */
typedef struct weir_effect {
    uint64_t id;
    weir_effect_kind kind;
    const char *execution_id;
    const char *node_id; /* NULL for the execution's own timeout timer */
    json_t *payload;
    int64_t requested_ms; /* the time of the input that requested it */
} weir_effect;

/* ----------------------------------------------------------------- graphs */

/* The codes of graph problems: stable names for programs to match on.
 * X(NAME, "code", "what it means"). */
#define WEIR_GRAPH_PROBLEMS(X)                                                                          \
    X(PARSE_ERROR, "parse-error", "the file is not valid JSON or YAML")                                   \
    X(NOT_A_GRAPH, "not-a-graph", "the document is not an object")                                      \
    X(MISSING_FIELD, "missing-field", "a required field is absent or empty (field names it)")           \
    X(BAD_METADATA, "bad-metadata", "metadata, or one of its settings, has the wrong type or value")     \
    X(TOO_LARGE, "too-large", "more nodes or edges than a graph may hold")                              \
    X(BAD_NODE, "bad-node", "a node is not an object")                                                   \
    X(DUPLICATE_NODE, "duplicate-node", "two nodes share an id")                                         \
    X(UNKNOWN_COMPONENT, "unknown-component", "a node names a component that is not registered")        \
    X(UNKNOWN_CONFIG_KEY, "unknown-config-key", "a config key the component does not take")              \
    X(MISSING_CONFIG, "missing-config", "a config key the component requires is absent")                 \
    X(BAD_CONFIG, "bad-config", "config of the wrong type, outside the allowed values, or refused")      \
    X(BAD_EXPRESSION, "bad-expression", "an expression in config does not compile")                      \
    X(BAD_EDGE, "bad-edge", "an edge is not {id, source: {node, port}, target: {node, port}}")           \
    X(UNKNOWN_NODE, "unknown-node", "an edge names a node the graph does not declare")                   \
    X(UNKNOWN_PORT, "unknown-port", "an edge names a port its node does not have")                       \
    X(CYCLE, "cycle", "the edges form a cycle")                                                           \
    X(UNKNOWN_GRAPH, "unknown-graph", "a graph: node names a graph that cannot be found")                  \
    X(BAD_PORTS, "bad-ports", "metadata.ports does not map the graph's ports to its nodes' ports")        \
    X(RECURSION, "recursion", "a graph contains itself, directly or through other graphs")

/* Composition (SPEC §1): a node {"id": "enrich", "component":
 * "graph:<name>[@<version>]"} stands for a whole other graph, whose
 * metadata.ports {"inputs": [{name, node, port}], "outputs": [...]} map
 * its own ports to ports of its nodes (the version is what follows the last
 * '@').  The loader flattens: the inner nodes become nodes of the outer
 * graph with path ids ("enrich/lookup", "a/b/c" when nested), edges to and
 * from the graph node are rewired to the mapped inner ports, and the one
 * topological order covers them all — so waves stay glitch-free across the
 * boundary, and events, metrics and errors name the paths.  The core finds
 * no graph itself: a resolver does.  It returns 0 and *doc (NEW, a graph
 * document), or a code (WEIR_ENOTFOUND when there is none) with err saying
 * what there is.  version is NULL for "the newest". */
typedef int (*weir_graph_resolver)(void *ud, const char *name, const char *version, json_t **doc,
                                   weir_error *err);
/* Time zones (symbia.core.cron's `timezone`).  The core and the components
 * read no file: the shell supplies a zone's bytes, the way it supplies
 * graphs.  Asked for zone `name` (an IANA-style name already checked: no
 * "..", not absolute, letters, digits and "/_-+." only), a resolver returns
 * 0 and the zone's size in *len, with its bytes copied to buf when *len <=
 * cap (a zone larger than cap: *len > cap, buf unspecified); or a code
 * (WEIR_ENOTFOUND: no such zone) with err saying what there is and how to
 * fix it.  weir_zone_files is the shells' resolver. */
typedef int (*weir_zone_resolver)(void *ud, const char *name, uint8_t *buf, size_t cap, size_t *len,
                                  weir_error *err);
/* The most bytes of zone files the zones one graph resolves may hold, all
 * together (options.max_zone_bytes, 0: this; weir serve's MAX_ZONE_BYTES):
 * they ride in the journal's START record.  A zone file is a few KiB. */
#define WEIR_ZONE_MAX_BYTES_DEFAULT ((size_t)256 * 1024)
/* The largest zone file read at all, pinned ones included. */
#define WEIR_ZONE_MAX_FILE_BYTES ((size_t)256 * 1024)
/* The longest zone name. */
#define WEIR_ZONE_MAX_NAME 128

/* The most nodes a graph's graph nodes may expand to, all told
 * (options.max_nodes, 0: this; weir serve's MAX_COMPOSED_NODES): one graph
 * used k times in each of d levels is k^d nodes. */
#define WEIR_GRAPH_MAX_FLAT_NODES_DEFAULT 100000
/* The most bytes (compact JSON) of graph documents a graph's graph nodes
 * may expand, all told, each use counted (options.max_bytes, 0: this;
 * weir serve's MAX_COMPOSED_BYTES): the flat document is journaled. */
#define WEIR_GRAPH_MAX_FLAT_BYTES_DEFAULT ((size_t)64 << 20)
/* The deepest nesting of graph: nodes. */
#define WEIR_GRAPH_MAX_DEPTH 32

typedef struct weir_graph_options {
    const char *id;    /* graph id (the shell makes one); NULL: the graph's name */
    json_t *problems;  /* BORROWED array or NULL: every problem found is appended
                          as a string (err->message holds them joined by "\n") */
    json_t *details;   /* BORROWED array or NULL: every problem found is appended
                          as {code, message, nodeId?, edgeId?, field?}: code from
                          WEIR_GRAPH_PROBLEMS; field relative to the node or edge
                          named, else to the document ("config.flushMs",
                          "target.port", "edges[2].source", "name").  The same
                          problems as `problems`, except that unknown components
                          (one string) are one object per node. */
    weir_expr_limits expr; /* the expressions' budget; zero fields: the defaults */
    weir_graph_resolver resolve; /* graph: nodes; NULL: they are refused (unknown-graph) */
    void *resolve_ud;
    size_t max_nodes;            /* nodes and edges graph: nodes may expand to; 0: WEIR_GRAPH_MAX_FLAT_NODES_DEFAULT */
    size_t max_bytes;            /* bytes of graphs they may expand; 0: WEIR_GRAPH_MAX_FLAT_BYTES_DEFAULT */
    json_t **flattened;          /* optional: receives NEW the flattened document when the
                                    graph composes (what a journal keeps: it loads with no
                                    resolver), else NULL */
    weir_zone_resolver zone;     /* time zones' bytes; NULL: only pinned ones (and UTC, built in) */
    void *zone_ud;
    json_t *zones;               /* BORROWED {name: base64 TZif} or NULL: zones pinned when the
                                    execution started (weir_graph_zones of its graph), answered
                                    before the resolver is asked; not counted in max_zone_bytes */
    size_t max_zone_bytes;       /* bytes of zone files the resolver's answers may total;
                                    0: WEIR_ZONE_MAX_BYTES_DEFAULT */
} weir_graph_options;

/* Load and validate a graph definition (SPEC §1) against a registry.  `doc`
 * BORROWED (the graph keeps a reference to its "metadata" only).  On failure *out is NULL,
 * err->code is WEIR_EGRAPH (or WEIR_ENOMEM) and err->message names the node
 * or edge and the fix. */
WEIR_API int weir_graph_load(const weir_registry *reg, json_t *doc, const weir_graph_options *opts,
                             weir_graph **out, weir_error *err);
/* Flatten a document (see weir_graph_resolver): *flat NEW is doc itself
 * (a reference) when it has no graph: node and no metadata.ports, else a
 * new document: doc's fields, its nodes and edges flattened, metadata.ports
 * and metadata.ingress mapped to the flat ids, and "subgraphs": [{path,
 * name, version?, inputs?, outputs?}] (each graph node expanded, in order;
 * inputs and outputs: its mapped ports, name → {node, port} of the flat
 * graph).  The mapping is
 * checked (unknown inner nodes and ports, duplicate names, an input mapped
 * to an output port), and recursion refused naming the chain ("a → b →
 * a"); each problem is reported as weir_graph_load reports (opts->problems,
 * details), naming the path.  What is left for the load (components,
 * config, cycles) is not checked here.  weir_graph_load calls this. */
WEIR_API int weir_graph_flatten(const weir_registry *reg, json_t *doc, const weir_graph_options *opts, json_t **flat,
                                weir_error *err);
/* Load JSON text as weir_graph_load loads its parse, with the same result
 * and problems; parse errors give line/column.  The text is never parsed
 * whole: each node and edge is parsed in turn and freed (a large graph
 * loads in a fraction of the time and memory). */
WEIR_API int weir_graph_load_text(const weir_registry *reg, const char *text, size_t len,
                                  const weir_graph_options *opts, weir_graph **out, weir_error *err);
typedef enum weir_doc_format {
    WEIR_DOC_AUTO = 0, /* JSON if the text starts with '{' or '[', else YAML */
    WEIR_DOC_JSON,
    WEIR_DOC_YAML,
} weir_doc_format;
/* Parse a JSON or YAML document into a NEW json_t.  Errors give the line and
 * column.  YAML: plain scalars become numbers/booleans/null where YAML 1.2's
 * core schema says so; anchors and aliases are refused (no expansion bombs);
 * nesting is limited to 256 levels. */
WEIR_API int weir_doc_parse(const char *text, size_t len, weir_doc_format fmt, json_t **out, weir_error *err);

/* Graphs are reference-counted: executions keep their graph alive. */
WEIR_API weir_graph *weir_graph_ref(weir_graph *g);
WEIR_API void weir_graph_unref(weir_graph *g);
WEIR_API const char *weir_graph_id(const weir_graph *g);
WEIR_API const char *weir_graph_name(const weir_graph *g);
WEIR_API size_t weir_graph_node_count(const weir_graph *g);
WEIR_API size_t weir_graph_edge_count(const weir_graph *g);
/* A loaded graph keeps what running needs, not its document: a shell that
 * must give the document back keeps it itself (weir serve keeps its JSON
 * text).  What the document said that is not in the calls above: */
/* "version" (BORROWED), or NULL when the document has none. */
WEIR_API const char *weir_graph_version(const weir_graph *g);
/* "metadata" (BORROWED, SPEC §1: role, ingress, runtime, ...), or NULL
 * when the document has none. */
WEIR_API json_t *weir_graph_metadata(const weir_graph *g);
/* {name: base64 of the TZif bytes} (BORROWED) of every time zone g's nodes
 * read as it loaded (weir_node_zone), pinned ones included; NULL when none.
 * A shell pins it with the execution (the journal's START record) and
 * loads the graph again with it as options.zones, so the execution fires
 * at the same instants whatever the machine's zone files say later. */
WEIR_API json_t *weir_graph_zones(const weir_graph *g);
/* Whether a node of g runs the component with this id. */
WEIR_API bool weir_graph_uses(const weir_graph *g, const char *component_id);
/* NEW: {sorted, levels, inputNodes, outputNodes}; `levels` maps node id to
 * longest-path depth. */
WEIR_API json_t *weir_graph_topology(const weir_graph *g);
/* Node i (declaration order, i < weir_graph_node_count): its id, its
 * component and its config as normalised at load (defaults applied, aliases
 * renamed; BORROWED).  NULL for i out of range. */
WEIR_API const char *weir_graph_node_id(const weir_graph *g, size_t i);
WEIR_API const weir_component *weir_graph_node_component(const weir_graph *g, size_t i);
WEIR_API json_t *weir_graph_node_config(const weir_graph *g, size_t i);

/* ------------------------------------------------------------- executions */

typedef enum weir_state {
    WEIR_STATE_PENDING = 0,
    WEIR_STATE_INITIALIZING,
    WEIR_STATE_RUNNING,
    WEIR_STATE_PAUSED,
    WEIR_STATE_COMPLETED,
    WEIR_STATE_FAILED,
    WEIR_STATE_CANCELLED,
} weir_state;
WEIR_API const char *weir_state_name(weir_state s);
WEIR_API bool weir_state_finished(weir_state s);

typedef enum weir_completion {
    WEIR_COMPLETION_DEFAULT = 0, /* never for metadata.role pipeline|service, else auto */
    WEIR_COMPLETION_AUTO,
    WEIR_COMPLETION_NEVER,
} weir_completion;

typedef enum weir_on_error {
    WEIR_ON_ERROR_DEFAULT = 0, /* from metadata.onError, else fail */
    WEIR_ON_ERROR_FAIL,
    WEIR_ON_ERROR_CONTINUE,
} weir_on_error;

typedef enum weir_overflow {
    WEIR_OVERFLOW_DEFAULT = 0, /* from metadata.overflow, else refuse */
    WEIR_OVERFLOW_REFUSE,
    WEIR_OVERFLOW_DROP_OLDEST,
    WEIR_OVERFLOW_DROP_NEWEST,
} weir_overflow;

/* The summary the core hands back when everything an inject caused has
 * settled (all BORROWED for the call). */
typedef struct weir_settled {
    uint64_t inject_id;
    json_t *outputs; /* {"node:port": value}, NULL unless WEIR_INJECT_OUTPUTS */
    json_t *trace;   /* [{tick, from, to, value}], NULL unless WEIR_INJECT_TRACE;
                        at most max_trace_hops entries, the first hops */
    uint64_t trace_cut; /* nonzero: the trace stopped recording at this
                           bound (MAX_TRACE_HOPS) and hops > trace_cut */
    uint64_t hops;   /* messages processed on behalf of this inject */
    uint64_t first_tick, last_tick;
    int status;      /* 0; WEIR_ELIMIT when a wave it caused was stopped at
                        MAX_WAVE_HOPS; else WEIR_ESTATE when the execution
                        ended before it settled */
    void *user;      /* weir_inject.user, as given */
    json_t *error;   /* with WEIR_ELIMIT: {message, code: "WEIR_ELIMIT",
                        nodeId, details: {limit, maxWaveHops, hops,
                        waiting}}; else NULL */
} weir_settled;

/*
 * What an execution needs from the outside.  Every callback is optional and
 * is called synchronously from inside a core call; callbacks must not call
 * back into the same execution (queue the work instead).
 */
struct weir_input_rec;
struct weir_input_digest;
typedef struct weir_shell {
    /* -- the runtime's half (weir_realtime_shell fills it) -- */
    void *effect_ud;
    /* Perform an effect (timer, http, invoke, log). */
    void (*effect)(void *effect_ud, weir_exec *e, const weir_effect *eff);
    /* A pending effect was cancelled (stop, a component cancel, completion). */
    void (*cancel)(void *effect_ud, weir_exec *e, uint64_t effect_id);
    /* Monotonic clock in ns for the latency metrics (SPEC §3.1); NULL:
     * latencies are not measured and read 0 (ENABLE_METRICS=false).
     * Latency is sampled, not read around every invocation: an invocation
     * is timed on its own (one clock read before process, one after) when
     *  - it is the node's first, or the node's last timed invocation took
     *    WEIR_LATENCY_FULL_NS (1 µs) or more: a node that is slow is timed
     *    every time, so its avgLatencyMs and maxLatencyMs are exact;
     *  - otherwise with probability 1/WEIR_LATENCY_SAMPLE (1/32), drawn
     *    before the invocation (a geometric countdown per node).
     * avgLatencyMs (per node, and for the execution over all nodes) is the
     * mean of the timed durations, each weighted by 1/p of its chance to be
     * timed: an unbiased estimate of the mean over every invocation, exact
     * when every invocation was timed, and for a sub-µs node a mean of about
     * n/32 samples of n invocations.  maxLatencyMs is the largest timed
     * duration: exact for a node that is slow (≥ 1 µs) on every invocation;
     * for a node otherwise faster than 1 µs it misses a slow invocation
     * that was not sampled (once a sampled one is slow, the node is timed
     * on every invocation until one is fast again).  Cost: about
     * 2 × (clock read) / 32 per hop of a fast node.  The time a node spends
     * in drain, resume and between steps is not counted. */
    int64_t (*clock_ns)(void *effect_ud);
    /* -- the embedder's half -- */
    void *ud;
    /* An event (SPEC §5).  data BORROWED.  NULL: events are never built. */
    void (*event)(void *ud, weir_exec *e, uint64_t seq, const char *name, json_t *data);
    /* Everything a tracked inject caused has settled. */
    void (*settled)(void *ud, weir_exec *e, const weir_settled *s);
    /* The execution reached a finished state. */
    void (*finished)(void *ud, weir_exec *e);
    /* NEW (SPEC §4.3, §7.1): every input the execution accepts, before it
     * is processed — start, inject, effect result, pause, resume, stop,
     * hold, release, stepping, step, runtime switch — as a weir_input_rec
     * (BORROWED for the call).  Applying the same records in the same order
     * to a fresh execution of the same graph (weir_exec_apply) gives the
     * same states, events and outputs (latencies apart): a journal needs
     * nothing else.  Only the outermost call is told: inputs the core makes
     * itself while processing one (a switch failing in-flight requests)
     * are reproduced by applying that one.  Calls refused for their
     * arguments or the state (unknown node, stale effect id, resume while
     * running) are not told.  An inject refused because the pause queue is
     * full (WEIR_EFULL) is told: it counts (backpressureEvents) and uses up
     * an inject id, so a replay must see it too.  Nonzero refuses the input: the call returns
     * that code, with nothing changed, and err says that the input could
     * not be recorded (a journal that is full or failing: "nothing
     * accepted is lost" holds because nothing was accepted); err is never
     * NULL, whether the caller passed one or not.  NULL: no record is
     * made. */
    int (*input)(void *ud, weir_exec *e, const struct weir_input_rec *in, weir_error *err);
    /* NEW: the input told to `input` was processed: what it produced, for
     * replay to compare (SPEC §7.3).  Called only when `input` is set. */
    void (*input_done)(void *ud, weir_exec *e, const struct weir_input_digest *d);
} weir_shell;

/* Latency sampling (weir_shell.clock_ns): a node's invocations are timed
 * 1 in WEIR_LATENCY_SAMPLE on average, and every one while they take
 * WEIR_LATENCY_FULL_NS or more. */
#define WEIR_LATENCY_SAMPLE 32
#define WEIR_LATENCY_FULL_NS 1000
/* MAX_WAVE_HOPS: messages one wave may process (SPEC §10). */
#define WEIR_DEFAULT_MAX_WAVE_HOPS 1000000u
/* MAX_TRACE_HOPS: trace entries one inject may record (SPEC §10). */
#define WEIR_DEFAULT_MAX_TRACE_HOPS 10000u

typedef struct weir_exec_options {
    const char *id;             /* execution id; NULL: "<graph id>-exec" */
    weir_completion completion;
    int64_t timeout_ms;         /* <0: default (below); 0: none */
    int64_t default_timeout_ms; /* used for auto executions when timeout_ms < 0; 0 none */
    weir_on_error on_error;
    size_t max_queue;           /* pause queue bound; 0: 10000 */
    weir_overflow overflow;
    const char *runtime;        /* recorded for GET; the core does not interpret it */
    /* MAX_WAVE_HOPS; 0: WEIR_DEFAULT_MAX_WAVE_HOPS.  A hop is one message
     * processed by a node (the unit of weir_settled.hops).  A wave stops as
     * soon as the messages it has processed plus those waiting in inboxes
     * exceed the bound — the moment it is certain to exceed it, so a fan-out
     * that grows geometrically is stopped after at most this much work.  The
     * waiting messages are freed, emits of the wave return WEIR_ELIMIT, the
     * inject that caused it settles with WEIR_ELIMIT and an error naming
     * the bound, and the execution fails, or with onError continue counts
     * an error (component:error on the node that emitted past the bound)
     * and goes on with the next input. */
    uint64_t max_wave_hops;
    /* MAX_TRACE_HOPS; 0: WEIR_DEFAULT_MAX_TRACE_HOPS.  A traced inject
     * records its first max_trace_hops hops; past them it goes on
     * untraced and settles with weir_settled.trace_cut set. */
    uint64_t max_trace_hops;
} weir_exec_options;

/* Read the execution settings of an object — the body of an execute request
 * or a graph's metadata: completion, onError, overflow, timeoutMs.  Absent
 * fields leave *o unchanged; other fields are ignored.  Every problem is
 * appended to `problems` (BORROWED array, or NULL) as "<where>.<field> must
 * be ..."; returns 0, or WEIR_EINVAL with the first problem in err. */
WEIR_API int weir_exec_options_read(json_t *obj, const char *where, weir_exec_options *o, json_t *problems,
                                    weir_error *err);

/* Create an execution (state pending).  The graph is ref'd; the shell is
 * copied. */
WEIR_API int weir_exec_create(weir_graph *g, const weir_exec_options *opts, const weir_shell *shell,
                              weir_exec **out, weir_error *err);
WEIR_API void weir_exec_destroy(weir_exec *e);
/* pending → initializing → running (or failed if an instance's init fails). */
WEIR_API int weir_exec_start(weir_exec *e, int64_t now_ms, weir_error *err);

#define WEIR_INJECT_TRACK 0x1u   /* call shell.settled when it has settled */
#define WEIR_INJECT_OUTPUTS 0x2u /* collect terminal outputs (implies TRACK) */
#define WEIR_INJECT_TRACE 0x4u   /* collect one trace entry per hop (implies TRACK) */
#define WEIR_INJECT_SCHEDULED 0x8u /* a scheduled inject coming due (the virtual runtime's; recorded, not interpreted) */

typedef struct weir_inject {
    const char *node;
    const char *port; /* NULL: the node's first input port */
    json_t *value;    /* BORROWED */
    unsigned flags;
    void *user; /* handed back in weir_settled (it may settle inside weir_exec_inject) */
} weir_inject;

typedef struct weir_inject_ack {
    uint64_t inject_id; /* nonzero when tracked */
    uint64_t tick;      /* the wave that processed it (0 if queued) */
    bool queued;        /* paused: it waits in the queue */
    bool dropped;       /* overflow drop-newest: accepted and dropped (counted, evented) */
    bool settled;       /* already settled: shell.settled has been called */
} weir_inject_ack;

/* Inject a message.  Running: processed now, in a wave.  Paused: queued, or
 * WEIR_EFULL at the bound (nothing accepted is dropped unless an overflow
 * policy says so).  Unknown node or port: WEIR_ENOTFOUND with the valid ones
 * in err.  Finished/pending: WEIR_ESTATE. */
WEIR_API int weir_exec_inject(weir_exec *e, const weir_inject *in, int64_t now_ms,
                              weir_inject_ack *ack, weir_error *err);
/* Check that inj names a node and one of its input ports (and has a value),
 * without injecting: WEIR_ENOTFOUND / WEIR_EINVAL naming what exists. */
WEIR_API int weir_exec_check_inject(const weir_exec *e, const weir_inject *inj, weir_error *err);
WEIR_API int weir_exec_pause(weir_exec *e, int64_t now_ms, weir_error *err);
WEIR_API int weir_exec_resume(weir_exec *e, int64_t now_ms, weir_error *err);
/* Stop: drain (graceful flush), cleanup, cancel pending effects, clear
 * queues; *discarded (optional) receives the number of queued inputs
 * thrown away.  State cancelled. */
WEIR_API int weir_exec_stop(weir_exec *e, int64_t now_ms, size_t *discarded, weir_error *err);
/* Resolve an effect.  result BORROWED (NULL = null); error non-NULL marks a
 * failure.  WEIR_ESTALE for unknown, cancelled or already-resolved ids. */
WEIR_API int weir_exec_resolve(weir_exec *e, uint64_t effect_id, json_t *result, const char *error,
                               int64_t now_ms, weir_error *err);

/* An input source is open (hold) or closed (release).  While any source is
 * open the execution does not complete naturally: a CLI feeding a file, an
 * ingress, a timer source.  Releasing the last hold re-checks completion.
 * WEIR_ESTATE when finished; WEIR_EINVAL when releasing with none held. */
WEIR_API int weir_exec_hold(weir_exec *e, bool hold, int64_t now_ms, weir_error *err);

/* One step (SPEC §4.5 `step`): what was invoked. */
typedef struct weir_step {
    bool stepped;     /* false: there was nothing to step (no open wave, nothing queued / due) */
    const char *node; /* the node invoked (BORROWED from the graph) */
    const char *port; /* the input port it was invoked on (for an effect result: the node's first input, or NULL) */
    uint64_t tick;    /* the wave's tick */
    bool resumed;     /* the invocation was the resume of an effect result, not a message */
    bool wave_done;   /* the wave ended with this invocation (its input is then fully processed) */
} weir_step;

/* Stepping mode.  While on, inputs (injects, effect results) queue instead of
 * being processed (the pause queue and its MAX_BACKPRESSURE_QUEUE bound apply
 * to injects), and only weir_exec_step moves the execution.  Turning it off
 * runs an open wave to its end and then processes the queue, as resume does
 * (while paused, resume does it).  A stepped wave gives the same invocations,
 * events and outputs, in the same order, as the wave unstepped; its
 * invocations see the input's time.  Completion (auto) waits until no wave
 * is open; stop and failure discard an open wave (its tracked injects settle
 * with WEIR_ESTATE); pause keeps it open. */
WEIR_API void weir_exec_stepping(weir_exec *e, bool on, int64_t now_ms);
WEIR_API bool weir_exec_is_stepping(const weir_exec *e);
/* Exactly one node invocation: the next message of the open wave in
 * topological order, or, with no open wave, the start of the next queued
 * input (an inject's first invocation, or an effect result's resume).
 * Requires stepping mode and state running (WEIR_ESTATE otherwise, saying
 * why).  out->stepped is false when there was nothing to do.  A node failing
 * the execution fails it at that step (0 is returned; see the state). */
WEIR_API int weir_exec_step(weir_exec *e, int64_t now_ms, weir_step *out, weir_error *err);
/* True when an input is part-way processed (a wave is open). */
WEIR_API bool weir_exec_wave_open(const weir_exec *e);

/* Event kinds (SPEC §5), one bit each: a listener names the kinds it wants
 * and the core builds only those.  The shell's own kinds (metrics:update,
 * runtime:changed, time:advanced) have bits too, so one mask says what a
 * listener wants whoever builds the event. */
enum {
    WEIR_EV_STARTED = 1u << 0,         /* execution:started */
    WEIR_EV_PAUSED = 1u << 1,          /* execution:paused */
    WEIR_EV_RESUMED = 1u << 2,         /* execution:resumed */
    WEIR_EV_COMPLETED = 1u << 3,       /* execution:completed */
    WEIR_EV_FAILED = 1u << 4,          /* execution:failed */
    WEIR_EV_CANCELLED = 1u << 5,       /* execution:cancelled */
    WEIR_EV_STATE = 1u << 6,           /* execution:state */
    WEIR_EV_PORT_EMIT = 1u << 7,       /* port:emit: one per edge a message crosses */
    WEIR_EV_INVOKED = 1u << 8,         /* component:invoked: one per hop */
    WEIR_EV_COMPONENT_ERROR = 1u << 9, /* component:error */
    WEIR_EV_LOG = 1u << 10,            /* log */
    WEIR_EV_OUTPUT = 1u << 11,         /* output: a value left the graph */
    WEIR_EV_DROPPED = 1u << 12,        /* message:dropped (queue overflow) */
    WEIR_EV_METRICS = 1u << 13,        /* metrics:update (built by the shell) */
    WEIR_EV_RUNTIME = 1u << 14,        /* runtime:changed (the shell's) */
    WEIR_EV_TIME = 1u << 15,           /* time:advanced (the shell's) */
    WEIR_EV_ALL = (1u << 16) - 1,
    /* Kinds built once per hop or per edge: the ones that cost. */
    WEIR_EV_PER_HOP = WEIR_EV_PORT_EMIT | WEIR_EV_INVOKED
};
/* The bit of event kind `name` (0: no such kind). */
WEIR_API uint32_t weir_event_kind(const char *name);
/* The name of the kind with bit `kind` (NULL: not exactly one known bit). */
WEIR_API const char *weir_event_name(uint32_t kind);
/* The kinds a pattern names: an event name, or a glob with `*` (any run of
 * characters, e.g. "execution:*", "*").  0: it names no kind. */
WEIR_API uint32_t weir_event_mask(const char *pattern);
/* Which events to build (WEIR_EV_* bits; 0: none).  Events nobody asked for
 * cost nothing: they are not built and seq does not advance for them.
 * Widening the mask after the execution started advances seq by one that no
 * event carries, so a subscriber's `since` from before never looks
 * contiguous with events of kinds that were not being built.  WEIR_EV_ALL by
 * default when shell.event is set. */
WEIR_API void weir_exec_listen_mask(weir_exec *e, uint32_t mask);
WEIR_API uint32_t weir_exec_listened(const weir_exec *e);
/* weir_exec_listen_mask(e, on ? WEIR_EV_ALL : 0). */
WEIR_API void weir_exec_listen(weir_exec *e, bool on);
/* A tap on one output port (SPEC §8 port views): fn(ud, value) is called
 * with each value the node emits on that port, once per emission whatever
 * its fan-out (a port with no edge too), value BORROWED; fn may not call
 * into e.  An execution with no tap pays one test per emission.  0, or
 * WEIR_ENOTFOUND (no such node, or no such output port and the node has no
 * dynamic outputs), WEIR_ENOMEM.  weir_exec_untap removes the tap with the
 * same node, port, fn and ud (none: a no-op). */
typedef void (*weir_tap_fn)(void *ud, json_t *value);
WEIR_API int weir_exec_tap(weir_exec *e, const char *node, const char *port, weir_tap_fn fn, void *ud,
                           weir_error *err);
WEIR_API void weir_exec_untap(weir_exec *e, const char *node, const char *port, weir_tap_fn fn, void *ud);
/* Lineage (SPEC §4.4): the tracked inject (WEIR_INJECT_TRACK) that the
 * message being processed descends from — through every hop, and through
 * effects (a delay's timer, an http request, a user component call): an
 * effect requested while processing a message carries the message's inject,
 * and so does its result's wave.  A message made of several (merge zip /
 * latest, an accumulator's batch) descends from the one whose arrival made
 * it; a flush at completion or stop descends from none.  Returns the
 * inject's id (weir_inject_ack.inject_id) and *user (optional) its
 * weir_inject.user; 0 and NULL outside a node invocation, for a message of
 * an untracked inject, or one whose inject has settled.  Read-only: a tap
 * (weir_tap_fn) may call it to learn which inject a value answers. */
WEIR_API uint64_t weir_exec_current_inject(const weir_exec *e, void **user);
/* ------------------------------------------------- inputs (SPEC §4.3, §7) */

typedef enum weir_input_kind {
    WEIR_IN_START = 1,  /* weir_exec_start */
    WEIR_IN_INJECT,     /* weir_exec_inject: node, port, value, flags */
    WEIR_IN_RESOLVE,    /* weir_exec_resolve: effect, effect_kind, result, error */
    WEIR_IN_PAUSE,
    WEIR_IN_RESUME,
    WEIR_IN_STOP,
    WEIR_IN_HOLD,       /* weir_exec_hold(true) */
    WEIR_IN_RELEASE,    /* weir_exec_hold(false) */
    WEIR_IN_STEPPING,   /* weir_exec_stepping: on (told only when it changes) */
    WEIR_IN_STEP,       /* weir_exec_step */
    WEIR_IN_SWITCH,     /* weir_exec_switch_runtime: from, to, old_now_ms (now_ms is the new clock) */
    WEIR_IN_UPGRADE,    /* weir_exec_upgrade: graph, upgrade (the record's body) */
} weir_input_kind;

/* One input as the core was given it.  Strings and JSON BORROWED. */
typedef struct weir_input_rec {
    weir_input_kind kind;
    int64_t now_ms;     /* the time handed with it */
    uint64_t tick;      /* the execution's tick before it */
    const char *node;   /* inject */
    const char *port;   /* inject (NULL: the node's first input) */
    json_t *value;      /* inject */
    unsigned flags;     /* inject: WEIR_INJECT_* */
    uint64_t effect;    /* resolve: the effect id */
    weir_effect_kind effect_kind; /* resolve: the effect's kind (timer: a timer firing) */
    json_t *result;     /* resolve (NULL: null) */
    const char *error;  /* resolve: a failure */
    bool on;            /* stepping */
    int64_t old_now_ms; /* switch: the old runtime's clock */
    const char *from, *to; /* switch */
    /* upgrade: the record's body as the embedder gave it to
     * weir_exec_upgrade ({"graph": the new graph's document, ...}: what a
     * journal needs to load that graph again; the core does not read it),
     * and the new graph, loaded — weir_input_parse cannot load it (it has
     * no registry): whoever applies an upgrade record loads body.graph and
     * sets `graph` first. */
    json_t *upgrade;
    weir_graph *graph;
} weir_input_rec;

/* What one input produced: the tick after it, the messages it processed
 * (hops), the terminal outputs it made (count, and a 64-bit FNV-1a hash
 * folding, in order, each output's node id, port and the FNV-1a hash of its
 * canonical JSON text — a value shared by many outputs is dumped once) and
 * the state it left. */
typedef struct weir_input_digest {
    uint64_t tick;
    uint64_t hops;
    uint64_t outputs;
    uint64_t hash;
    weir_state state;
} weir_input_digest;

/* The name of a kind ("inject"), NULL for none. */
WEIR_API const char *weir_input_kind_name(weir_input_kind k);
/* NEW: {op, ...} — the record as canonical JSON, the body a journal stores:
 * {"op":"inject","node","port"?,"value","flags"?}, {"op":"resolve","effect",
 * "kind","result"|"error"} (both when a failure carries a value),
 * {"op":"stepping","on"}, {"op":"switch","from","to","oldNow"},
 * {"op":"upgrade", ...the fields of weir_input_rec.upgrade}, else
 * {"op":name}.  now_ms and tick are not in it (a
 * journal keeps them beside the body).  NULL: out of memory. */
WEIR_API json_t *weir_input_json(const weir_input_rec *in);
/* Read a body made by weir_input_json back into *out (its strings and JSON
 * BORROWED from body); now_ms and tick are set from the arguments.
 * WEIR_EINVAL naming what is wrong. */
WEIR_API int weir_input_parse(json_t *body, int64_t now_ms, uint64_t tick, weir_input_rec *out, weir_error *err);
/* Give e the input again, through the public call it came from.  With
 * switch, rt is the runtime half to install (NULL: none, effects are not
 * performed).  A refusal (stale effect, a state that does not fit) is
 * returned as that call returns it: a journal that replays cleanly never
 * gets one.  An input whose outcome is an error the call reports returns 0,
 * since that outcome is what the recorded input did: an inject refused
 * again for a full pause queue (WEIR_EFULL), a start whose init failed
 * (WEIR_ERUNTIME; the execution is failed).  *digest (may be NULL) gets what it produced. */
WEIR_API int weir_exec_apply(weir_exec *e, const weir_input_rec *in, const weir_shell *rt, weir_input_digest *digest,
                             weir_error *err);
/* NEW: every effect not settled yet, in the order they were requested
 * (their ids ascending by request): kind, id, node, payload and request
 * time, as the shell was told.  fn may not call into e. */
WEIR_API void weir_exec_pending(const weir_exec *e, void (*fn)(void *ud, const weir_effect *eff), void *ud);
/* NEW (recovery): install a runtime's half (as weir_exec_switch_runtime)
 * and hand it every pending effect again: a timer with the time it has
 * left at now_ms, measured from when it was requested (a timer that fell
 * due meanwhile is performed at once); an http or invoke request as it was
 * (the same id: the same Idempotency-Key).  Not an input: the runtime
 * name stays as recorded. */
WEIR_API void weir_exec_adopt(weir_exec *e, const weir_shell *rt, int64_t now_ms);

/* NEW (SPEC §7.1 snapshots): the whole execution between inputs as JSON —
 * its state, clock, tick, counters and metrics, queued inputs, pending
 * effects (ids, payloads, continuations) and every instance's state —
 * such that weir_exec_restore on a fresh execution of the same graph and
 * options gives one that goes on exactly as this one would (the same
 * effect ids, events and outputs for the same later inputs).  Tracked
 * injects are not kept (nobody waits on them after a restore).  NULL with
 * err: a wave is open or an input is being processed (WEIR_ESTATE), a
 * component keeps state it cannot save (WEIR_EINVAL, naming it), out of
 * memory. */
WEIR_API json_t *weir_exec_snapshot(const weir_exec *e, weir_error *err);
/* Put a snapshot into e, which must be pending (created, not started):
 * afterwards it is as the saved one was.  snap BORROWED.  WEIR_ESTATE when
 * e is not pending; WEIR_EINVAL naming what does not fit (another graph, a
 * malformed snapshot, a component that refuses its saved state): e is then
 * unusable, destroy it. */
WEIR_API int weir_exec_restore(weir_exec *e, json_t *snap, weir_error *err);

/* NEW: fail a pending, running or paused execution from outside, with
 * error {message} (a journal that cannot be replayed any further).  Not an
 * input: a journal does not record it.  WEIR_ESTATE when finished. */
WEIR_API int weir_exec_abort(weir_exec *e, int64_t now_ms, const char *message);

/* NEW: every node's state, {nodeId: state} (SPEC §7.2; see
 * weir_component.state).  Before the execution started and after it
 * finished (instances cleaned up) the states are what the components show
 * then ({} for the key/value map).  NULL: out of memory. */
WEIR_API json_t *weir_exec_states(weir_exec *e);
/* NEW: one node's state; NULL when no node has that id (or out of memory). */
WEIR_API json_t *weir_exec_node_state(weir_exec *e, const char *node_id);
/* The seq of the last event built (0: none yet). */
WEIR_API uint64_t weir_exec_seq(const weir_exec *e);
/* An event of the shell's own in the execution's numbered stream
 * (time:advanced, runtime:changed, metrics:update).  data STOLEN; dropped
 * unless its kind is listened to (a name of no known kind: unless the mask
 * is 0). */
WEIR_API void weir_exec_event(weir_exec *e, const char *name, json_t *data);
/* Runtime switching (SPEC §4.5): install a new runtime's half of the shell
 * (effect_ud, effect, cancel, clock_ns of rt; the old runtime must have
 * forgotten the execution first) and record `to` as the execution's runtime.
 * Every pending timer (the execution timeout included) is handed to the new
 * runtime with the time it had left at old_now_ms (the old runtime's clock),
 * requested at new_now_ms (the new one's).  Any other pending request (http,
 * invoke) belonged to the old runtime — it may or may not have been performed
 * — so it fails with a message saying so (the node's error port), never
 * performed twice.  WEIR_ESTATE when finished (the only error). */
WEIR_API int weir_exec_switch_runtime(weir_exec *e, const weir_shell *rt, int64_t old_now_ms, int64_t new_now_ms,
                                      const char *from, const char *to, weir_error *err);
/* NEW (change while running): move a running or paused execution to graph g
 * (a new version of its graph) between inputs.  Nodes are matched by id: a
 * node whose id is in both graphs with the same component id (a user
 * component's new version counts as the same component) is kept — its state (saved with the component's save and loaded into the
 * new node, so a changed config applies, the old instance then cleaned up;
 * moved as it is when the component has no save/load), key/value state, counters, pending effects and queued
 * effect results go with it; a node only in the old graph (or whose
 * component changed) is removed: its pending effects (timers, http
 * requests, user component calls) are cancelled (the shell told, as a
 * component's cancel does), its queued effect results dropped, its cleanup
 * run, its state dropped; a node only in the new graph is added and
 * initialized (init) as at start, in topological order — what the inits
 * emit runs as the upgrade's wave.  Tracked injects, taps on kept nodes,
 * the execution's options (completion, onError, overflow, timeout) and
 * its runtime stay.  An input (record WEIR_IN_UPGRADE with `record`, its
 * body, BORROWED): it spends a tick, whether the inits emit or not, so a
 * tick names the execution before it and the one after.  Refused with
 * nothing changed: WEIR_ESTATE when the execution is not running or paused,
 * part-way through an input, or a stepped wave is open ("finish the wave
 * first"), or a queued inject targets a node or input port the new graph
 * does not have (it would be orphaned); WEIR_ENOMEM.  *report (optional,
 * NEW): {kept, added, removed: [node ids], cancelledEffects: [{effectId,
 * kind, nodeId}], droppedState: {nodeId: its state}}. */
WEIR_API int weir_exec_upgrade(weir_exec *e, weir_graph *g, json_t *record, int64_t now_ms, json_t **report,
                               weir_error *err);

WEIR_API const char *weir_exec_id(const weir_exec *e);
WEIR_API weir_graph *weir_exec_graph(const weir_exec *e);
WEIR_API weir_state weir_exec_state(const weir_exec *e);
/* The tick of the last wave (0: none yet). */
WEIR_API uint64_t weir_exec_tick(const weir_exec *e);
/* Nothing in flight: no queued input, no pending effect. */
WEIR_API bool weir_exec_idle(const weir_exec *e);
WEIR_API size_t weir_exec_pending_effects(const weir_exec *e);
WEIR_API size_t weir_exec_queue_depth(const weir_exec *e);
/* NEW: metrics of SPEC §3.1 (with per-node metrics under "nodes"). */
WEIR_API json_t *weir_exec_metrics(const weir_exec *e, int64_t now_ms);
/* NEW: {executionId, graphId, state, runtime, completion, onError, startedAt,
 * completedAt?, error?}. */
WEIR_API json_t *weir_exec_json(const weir_exec *e);
/* BORROWED: {message, nodeId?, details?} when failed, else NULL. */
WEIR_API json_t *weir_exec_error(const weir_exec *e);

/* ---------------------------------------------------------- component host */

/*
 * The component host (SPEC §2.3): user components run out of process, in a
 * pool of up to pool_size Node.js processes started lazily on a libuv loop,
 * spoken to in newline-delimited JSON over stdio pipes (src/host/host.js is
 * the other end).  Each process runs user code in a vm context of its own
 * per component, under Node's permission model (no file system, child
 * processes or workers) and a heap limit; each call has a time limit.  A
 * call that runs out of time, or whose process crashes, fails with a
 * message; the process is killed and replaced on demand, and every other
 * call goes on.
 *
 * Calls of one instance (the `instance` key) run one at a time in request
 * order; a call queued behind another of the same instance starts from the
 * state that call answered (the state a core applies when it resumes), so
 * the host keeps no state between calls and a replaced process loses
 * nothing.  Calls wait in a queue while every process is busy; beyond
 * max_queue waiting calls a new one is refused (WEIR_EFULL).
 */
struct uv_loop_s;
typedef struct weir_host weir_host;

typedef struct weir_host_options {
    unsigned pool_size;  /* ISOLATE_POOL_SIZE: processes at most; 0: 10 */
    int64_t timeout_ms;  /* ISOLATE_TIMEOUT_MS: time limit of one call; 0: 1000 */
    /* ISOLATE_MEMORY_MB: a process's JavaScript heap (--max-old-space-size),
     * and on Linux all it allocates after start (heap, ArrayBuffers,
     * WebAssembly memories) is kept under this + 128 MB (RLIMIT_DATA): past
     * either the call fails with "the component host ran out of memory: ..."
     * and the process is replaced; 0: 128 */
    unsigned memory_mb;
    size_t max_queue;    /* ISOLATE_QUEUE: calls waiting for a process; 0: 1000 */
    /* WEIR_NODE: the node executable (copied): a path, or a name looked up
     * on the caller's PATH at create; NULL: "node".  Its version is asked at
     * create (it must be 20 or newer) and decides the permission flag; the
     * processes themselves get an empty environment. */
    const char *node;
    /* WEIR_TYPESCRIPT: the folder of the `typescript` npm package (copied),
     * which strips the types of TypeScript components where Node.js cannot
     * (before 22.13); NULL or "": looked for next to node's npm prefix
     * (<prefix>/lib/node_modules/typescript), then in /usr/local/lib,
     * /usr/lib and /usr/share/nodejs.  The processes may read that folder
     * and nothing else. */
    const char *typescript;
} weir_host_options;

/* Which Node.js a host runs and how (strings owned by the host). */
typedef struct weir_host_node {
    const char *path;    /* the executable found (or the name, when none was) */
    const char *version; /* "v20.20.2"; NULL when it could not be told */
    const char *flags;   /* the isolation flags every process gets; NULL with a problem */
    uint64_t memory_mb;  /* what a process may allocate after start, in MB; 0: not enforced (not Linux) */
    /* NULL when usable; else why no process can run ("user components need
     * Node.js 20 or newer: ..."): every call fails with it. */
    const char *problem;
    /* How TypeScript components have their types stripped: "node" (Node.js
     * itself), the typescript package's folder, or NULL (neither: they are
     * refused, saying how to install it). */
    const char *typescript;
} weir_host_node;

/* A call's answer: answer BORROWED for the call and error NULL, or answer
 * NULL and error (BORROWED) saying why the call failed. */
typedef void (*weir_host_done)(void *ud, json_t *answer, const char *error);

/* Finds node and asks its version (blocking for that, bounded); processes
 * start only when a call needs one.  A node that is missing or too old is
 * not an error here: weir_host_node_get says so, and every call fails with
 * that message.  WEIR_EINVAL for a missing loop; WEIR_ENOMEM. */
WEIR_API int weir_host_create(struct uv_loop_s *loop, const weir_host_options *opts, weir_host **out,
                              weir_error *err);
/* Kill every process and drop every call (their done is never called).
 * Handles close asynchronously: run the loop until it returns afterwards.
 * Safe inside a done callback.  NULL is a no-op. */
WEIR_API void weir_host_destroy(weir_host *h);
/* The cache key of a component's source: "<id>@<version>#<hash of source>"
 * into buf (NUL-terminated, cut to cap). */
WEIR_API void weir_host_key(const char *id, const char *version, const char *source, char *buf, size_t cap);
/*
 * Invoke a hook of a user component.  call (BORROWED, read now and kept by
 * reference): {key, source, type?, hook: "initialize" | "process" | "cleanup",
 * port?, value?, config, state, executionId, nodeId}.  instance (copied)
 * names the node instance (calls of one instance are serialised; NULL: not
 * serialised).  done(ud, answer, NULL) receives {emits: [[port, value]...],
 * state, logs: [{level, message}], error?} — `error` when user code threw
 * or failed — and done(ud, NULL, message) a call the host could not
 * complete (time limit, crash, no Node.js).  done is called exactly once,
 * from the loop and never from inside this call, unless the call is
 * cancelled or the host destroyed first.  *id receives the call's handle.
 * WEIR_EFULL when max_queue calls wait already, WEIR_EINVAL for a malformed
 * call, WEIR_ESTATE after destroy: done is then never called.
 */
WEIR_API int weir_host_invoke(weir_host *h, json_t *call, const char *instance, weir_host_done done, void *ud,
                              uint64_t *id, weir_error *err);
/* Compile a component's source in a host process (and keep it there):
 * done(ud, {hooks: [...]}, NULL), or done(ud, {error}, NULL) for a source
 * that does not compile or whose handler is malformed ("SyntaxError: ...
 * (line 3)"); done(ud, NULL, message) when the host could not tell (a
 * source whose top level runs out of time or memory, no Node.js).
 * Otherwise as weir_host_invoke. */
WEIR_API int weir_host_load(weir_host *h, const char *key, const char *source, weir_host_done done, void *ud,
                            uint64_t *id, weir_error *err);
/* The same for a source of `type`: "javascript", "typescript" (its types
 * stripped first; an error keeps TypeScript's "line L, column C") or "wasm"
 * (the module in base64, compiled and checked against the ABI). */
WEIR_API int weir_host_load_as(weir_host *h, const char *key, const char *type, const char *source,
                               weir_host_done done, void *ud, uint64_t *id, weir_error *err);
/* A call not answered yet is dropped: its done is never called (one in
 * flight runs to its end in its process, its answer thrown away).
 * WEIR_ESTALE for an unknown, answered or cancelled id. */
WEIR_API int weir_host_cancel(weir_host *h, uint64_t id);

typedef struct weir_host_stats {
    unsigned processes; /* running or starting */
    unsigned busy;      /* with a call in flight */
    size_t queued;      /* calls waiting (for a process, or behind their instance) */
    uint64_t calls;     /* calls answered by a process */
    uint64_t failures;  /* calls failed by the host: time limit, crash, refusal */
    uint64_t started;   /* processes started */
} weir_host_stats;
WEIR_API void weir_host_stats_get(const weir_host *h, weir_host_stats *out);
WEIR_API void weir_host_node_get(const weir_host *h, weir_host_node *out);

/* -------------------------------------------------------- realtime runtime */

typedef struct weir_realtime weir_realtime;

typedef struct weir_realtime_options {
    bool allow_private;        /* EGRESS_ALLOW_PRIVATE */
    const char *allowlist;     /* EGRESS_ALLOWLIST: comma-separated hosts, NULL: any */
    int max_redirects;         /* <=0: 5 */
    size_t max_response_bytes; /* 0: 16 MiB */
    /* Called for every `log` effect (the server log).  NULL: ignored. */
    void (*log)(void *ud, const weir_effect *eff);
    void *log_ud;
    /* BORROWED, optional; it must outlive the runtime.  invoke effects (user
     * components) are performed through it; NULL: they fail with a message
     * saying user components need a component host. */
    weir_host *host;
} weir_realtime_options;

/* A shell on a libuv loop: timers on uv timers, http on libcurl multi driven
 * by the same loop, invoke through opts.host.  Results are fed back with weir_exec_resolve.  Destroy
 * closes handles asynchronously: run the loop until it returns afterwards. */
WEIR_API int weir_realtime_create(struct uv_loop_s *loop, const weir_realtime_options *opts,
                                  weir_realtime **out);
WEIR_API void weir_realtime_destroy(weir_realtime *rt);
/* Fill the runtime's half of a weir_shell (effect_ud, effect, cancel,
 * clock_ns); the embedder's half is left untouched. */
WEIR_API void weir_realtime_shell(weir_realtime *rt, weir_shell *shell);
/* Forget every effect of an execution (before weir_exec_destroy). */
WEIR_API void weir_realtime_forget(weir_realtime *rt, weir_exec *e);
/* Wall clock in ms since the epoch (for now_ms). */
WEIR_API int64_t weir_realtime_now(weir_realtime *rt);

/* The answer to a weir_realtime_fetch: result BORROWED for the call
 * ({status, headers, body}, exactly what an http effect resolves with) and
 * error NULL; or result NULL and error (BORROWED) saying why it failed. */
typedef void (*weir_realtime_fetch_done)(void *ud, json_t *result, const char *error);
/* Perform one http effect payload ({method?, url, headers?, body?,
 * timeoutMs?}; BORROWED, read during the call) for a caller other than an
 * execution (the virtual runtime's unmocked requests), exactly as an http
 * effect: the same egress guard, redirects, limits and timeouts.  done(ud,
 * ...) is called exactly once, from the loop — never from inside this call
 * — unless the fetch is cancelled or rt destroyed first: then it is never
 * called.  *id receives the fetch's handle (nonzero).  WEIR_EINVAL for a
 * missing rt, done or id; WEIR_ENOMEM.  A bad payload is a failure handed
 * to done. */
WEIR_API int weir_realtime_fetch(weir_realtime *rt, json_t *payload, weir_realtime_fetch_done done, void *ud,
                                 uint64_t *id);
/* The same for an effect of e that another runtime passes on (the virtual
 * runtime's unmocked http and its user component calls): http as
 * weir_realtime_fetch does; invoke through rt's component host (calls of one
 * node instance of e keep their order; without a host, done gets the
 * failure).  eff BORROWED, read during the call; other kinds: WEIR_EINVAL.
 * Cancel with weir_realtime_fetch_cancel. */
WEIR_API int weir_realtime_perform(weir_realtime *rt, weir_exec *e, const weir_effect *eff,
                                   weir_realtime_fetch_done done, void *ud, uint64_t *id);
/* Stop a fetch not answered yet: the transfer is aborted and its done is
 * never called.  WEIR_ESTALE for an unknown, answered or cancelled id. */
WEIR_API int weir_realtime_fetch_cancel(weir_realtime *rt, uint64_t id);

/* --------------------------------------------------------- virtual runtime */

/* A shell whose time moves only when asked (SPEC §4.5), for one execution.
 * Timers fall due at request time + delayMs; http requests are answered from
 * mocks after their latencyMs (one no mock matches is performed for real
 * through `http`, below, or else fails with a message naming it); injects
 * can be scheduled at a tick.  tick / advance / run move
 * the clock in whole ticks and deliver everything that has fallen due in
 * (due time, request order), so the same inputs give the same events byte
 * for byte (SPEC §4.3); latencies read 0.  Pass weir_virtual_now() as now_ms
 * to every call on the execution. */
typedef struct weir_virtual weir_virtual;

typedef struct weir_virtual_options {
    int64_t tick_ms;  /* one tick (TICK_MS); 0: 1 ms */
    int64_t start_ms; /* the clock at tick 0 */
    json_t *mocks;    /* BORROWED (compiled): [{match: {method?, url?}, response?: {status?, headers?, body?},
                         latencyMs?: n | [min, max], set?: {...}, when?: "expr", fail?: p, timeout?: p}]
                         (SPEC §7.4); url matches exactly, or as a prefix when it ends with '*'.  A request's
                         latency is the minimum of the first matching mock's; it is served when due by the
                         first matching mock whose `when` holds over {world, request}, whose `set` is then
                         merged into the world.  fail and timeout are weir sim's: never fired here.  A
                         non-string body is sent as JSON text */
    json_t *world;    /* BORROWED (copied), optional: the world's state at the start (an object) */
    /* After every tick / advance / run, and every step that moves the clock:
     * the clock and the tick (time:advanced). */
    void (*advanced)(void *ud, weir_exec *e, int64_t now_ms, uint64_t tick);
    /* log effects (the execution's `log` events are built by the core). */
    void (*log)(void *ud, const weir_effect *eff);
    /* BORROWED, optional; it must outlive the virtual runtime.  A request no
     * mock matches is performed for real through it (weir_realtime_fetch, on
     * its loop).  Its answer waits for the clock: the first tick / advance /
     * run that moves the clock after it came back delivers it, at that tick,
     * and never before every earlier real request of this runtime has been
     * delivered (a later answer that comes back first is held), so the same
     * arrival order gives the same events.  A cancelled request (stop, a
     * component cancel, destroy) aborts its transfer.  NULL: an unmocked
     * request fails with "no mock matches ...".  User component calls
     * (invoke) go the same way, to its component host. */
    weir_realtime *http;
    /* Optional: called from http's loop each time a real answer comes back
     * (it may now be delivered by moving the clock: a shell playing with run
     * calls run again).  v may be used, even destroyed, inside. */
    void (*arrived)(void *ud, weir_virtual *v);
    void *ud;
} weir_virtual_options;

/* WEIR_EINVAL for malformed mocks or world or a negative tick, with the reason. */
WEIR_API int weir_virtual_create(const weir_virtual_options *opts, weir_virtual **out, weir_error *err);
/* Pending items are dropped (not resolved).  NULL is a no-op. */
WEIR_API void weir_virtual_destroy(weir_virtual *v);
/* Fill the runtime's half of a weir_shell (clock_ns is NULL). */
WEIR_API void weir_virtual_shell(weir_virtual *v, weir_shell *shell);
/* The execution it delivers to (also learnt from its first effect). */
WEIR_API void weir_virtual_bind(weir_virtual *v, weir_exec *e);
WEIR_API int64_t weir_virtual_now(const weir_virtual *v);
WEIR_API uint64_t weir_virtual_ticks(const weir_virtual *v);
/* The end of the clock's range: the last tick whose time (start_ms + tick *
 * tick_ms) is below INT64_MAX ms (which stands for "never").  tick, advance, run and schedule refuse
 * to go past it with WEIR_EINVAL (nothing moves); an item due past it (a
 * timer of 2^62 ms) is never due. */
WEIR_API uint64_t weir_virtual_max_tick(const weir_virtual *v);
/* One tick, in ms. */
WEIR_API int64_t weir_virtual_tick_ms(const weir_virtual *v);
/* Items waiting: effects not yet due, scheduled injects, real http requests
 * in flight or waiting for an earlier one. */
WEIR_API size_t weir_virtual_pending(const weir_virtual *v);
/* Real http requests sent and not answered yet (nor cancelled). */
WEIR_API size_t weir_virtual_inflight(const weir_virtual *v);
/* Of which scheduled injects. */
WEIR_API size_t weir_virtual_scheduled(const weir_virtual *v);
/* Replace opts.arrived and opts.ud (a shell that learns of v only after a
 * registry made it). */
WEIR_API void weir_virtual_on_arrived(weir_virtual *v, void (*arrived)(void *ud, weir_virtual *v), void *ud);
/* Replace the mocks: later requests use them (one made before is served by
 * the mocks of its time), against the same world. */
WEIR_API int weir_virtual_set_mocks(weir_virtual *v, json_t *mocks, weir_error *err);
/* Inject `in` (node, port, value: copied) when the clock reaches tick
 * at_tick (afterTicks N: at_tick = weir_virtual_ticks() + N).  WEIR_EINVAL
 * for a tick that has passed or lies past weir_virtual_max_tick. */
WEIR_API int weir_virtual_schedule(weir_virtual *v, const weir_inject *in, uint64_t at_tick, weir_error *err);
/* The tick `afterTicks: n` names: n ticks from now, and 0 the next tick (the
 * earliest a scheduled inject can run).  UINT64_MAX when that overflows
 * (weir_virtual_schedule refuses it). */
WEIR_API uint64_t weir_virtual_tick_after(const weir_virtual *v, uint64_t n);
/* One tick: everything due by then is delivered.  Errors from deliveries
 * (a scheduled inject into a finished execution) are reported, the first in
 * err; time still moves.  WEIR_ELIMIT: a runaway zero-delay loop stopped
 * the clock there.  WEIR_EINVAL at the end of the clock's range. */
WEIR_API int weir_virtual_tick(weir_virtual *v, weir_error *err);
/* Advance by ms (rounded up to whole ticks), delivering on the way.
 * WEIR_EINVAL for a negative ms or a move past the end of the range. */
WEIR_API int weir_virtual_advance(weir_virtual *v, int64_t ms, weir_error *err);
/* Advance by n ticks, as weir_virtual_advance does (WEIR_EINVAL past the
 * end of the range). */
WEIR_API int weir_virtual_advance_ticks(weir_virtual *v, uint64_t n, weir_error *err);
/* Play until idle, or max_ticks (0: to the end of the clock's range) have
 * passed; *idle (optional) says which.  WEIR_EINVAL when max_ticks would go
 * past the end of the range (nothing moves).  Idle: no scheduled inject and the execution has nothing in
 * flight (its own execution timeout does not count), or nothing is due at
 * all.  Real http requests are not waited for (run never blocks): while any
 * is in flight or held, the clock stays where it is and run returns with
 * *idle false; turn http's loop (the `arrived` callback says when an answer
 * came back) and call run again — the answer is delivered at the next tick,
 * so real latency never shows in virtual time. */
WEIR_API int weir_virtual_run(weir_virtual *v, uint64_t max_ticks, bool *idle, weir_error *err);
/* Pause (SPEC §4.5: stop playing): called while run plays — from an event,
 * a settled or an advanced callback — it makes run return after the tick in
 * progress, the clock there (a breakpoint; *idle says whether anything is
 * left).  Outside a run it does nothing. */
WEIR_API void weir_virtual_pause(weir_virtual *v);
/* tick, advance and run first turn stepping off for the bound execution
 * (weir_exec_stepping): an open wave finishes and the queue drains before
 * the clock moves. */

/* Virtual runtime: one node invocation.  Turns stepping on for the bound
 * execution.  Steps the open wave or the next queued input; with neither,
 * moves the clock to the next tick at which something is due (announcing
 * time:advanced through opts.advanced), delivers everything due then (it
 * queues, in (due, request) order) and steps the first.  out->stepped is
 * false when nothing is pending at all.  Items already due at the current
 * tick (a zero-delay timer requested by an earlier step) are delivered
 * without moving the clock, as tick would have.  A delivery error (a
 * scheduled inject refused) is returned after that tick's deliveries, the
 * clock having moved; WEIR_ESTATE when no execution is bound, or when it is
 * not running while something is pending. */
WEIR_API int weir_virtual_step(weir_virtual *v, weir_step *out, weir_error *err);

/* ------------------------------------------------------------ zone files */

/* The shells' zone resolver (weir_zone_resolver): the zone file `name`
 * under the directory ud (a const char *; NULL: $TZDIR, else
 * /usr/share/zoneinfo, package tzdata).  WEIR_ENOTFOUND "unknown time zone
 * "X" (no zone file ...)" when there is none (a directory, an empty file,
 * a malformed name); WEIR_EIO when it cannot be read. */
WEIR_API int weir_zone_files(void *ud, const char *name, uint8_t *buf, size_t cap, size_t *len, weir_error *err);

/* -------------------------------------------------------- runtime registry */

/* A runtime made for one execution (SPEC §4.5). */
typedef struct weir_runtime {
    const char *name;   /* the registered name it was made from (set by the registry) */
    weir_shell shell;   /* the runtime's half: effect_ud, effect, cancel, clock_ns */
    int64_t (*now_ms)(void *effect_ud);             /* its clock: pass it as now_ms to the execution */
    void (*bind)(void *effect_ud, weir_exec *e);    /* optional: the execution it serves, once created */
    void (*destroy)(void *effect_ud, weir_exec *e); /* the destroyer: forget e's effects, free what it made */
    weir_virtual *virt; /* the virtual runtime behind it, or NULL */
} weir_runtime;

/* Make a runtime: options BORROWED (the execute options: mocks, tickMs, ...).
 * Fill out->shell, now_ms, destroy (bind, virt optional). */
typedef int (*weir_runtime_factory)(void *ud, json_t *options, weir_runtime *out, weir_error *err);

typedef struct weir_runtimes weir_runtimes;

/* A registry whose default is default_name (NULL: "realtime").  log
 * (optional) receives the five lines of SPEC §4.5 as they happen. */
WEIR_API int weir_runtimes_create(const char *default_name, void (*log)(void *ud, const char *line), void *log_ud,
                                  weir_runtimes **out);
WEIR_API void weir_runtimes_destroy(weir_runtimes *r);
/* Register a factory (ud BORROWED for the registry's life).  WEIR_EINVAL for
 * a duplicate name. */
WEIR_API int weir_runtimes_add(weir_runtimes *r, const char *name, weir_runtime_factory make, void *ud,
                               weir_error *err);
/* `realtime` on rt (skipped when NULL) and `virtual` (ticks of tick_ms; its
 * clock starts at rt's wall clock, or 0). */
WEIR_API int weir_runtimes_add_builtins(weir_runtimes *r, weir_realtime *rt, int64_t tick_ms, weir_error *err);
WEIR_API const char *weir_runtimes_default(const weir_runtimes *r);
WEIR_API bool weir_runtimes_has(const weir_runtimes *r, const char *name);
/* The registered name `name` resolves to (NULL: the default; unknown: the
 * default), logging "Requesting runtime" and "Loaded runtime from registry"
 * or "Unknown runtime ..., falling back to default".  NULL when even the
 * default is not registered. */
WEIR_API const char *weir_runtimes_resolve(weir_runtimes *r, const char *name);
/* Make runtime `name`, resolved as above; logs "Successfully initialized
 * runtime" once the factory succeeded. */
WEIR_API int weir_runtimes_make(weir_runtimes *r, const char *name, json_t *options, weir_runtime *out,
                                weir_error *err);
/* Whether runtime `name` (resolved as weir_runtimes_make does, without its
 * log lines) can be made with these options: it is made and destroyed at
 * once.  0, or the factory's error — for a switch that must not destroy the
 * old runtime for a request that cannot succeed. */
WEIR_API int weir_runtimes_check(weir_runtimes *r, const char *name, json_t *options, weir_error *err);
/* Destroy a runtime made here: its destroyer forgets e (the execution it
 * served; NULL once that execution is destroyed, which leaves nothing behind). */
WEIR_API void weir_runtimes_release(weir_runtimes *r, weir_runtime *rt, weir_exec *e);

#ifdef __cplusplus
}
#endif
#endif /* WEIR_WEIR_H */
