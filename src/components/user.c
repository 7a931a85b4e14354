/*
 * User components (SPEC §2.3): a weir_component descriptor built from a JSON
 * definition.  The handler is pure like every other: process asks for an
 * invoke effect (the host runs the user's JavaScript out of process) and
 * resume applies the answer.  The instance's state stays in the core: it
 * goes with each call and comes back updated.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "weir/weir.h"

#define MAX_ID 128
#define MAX_PORTS 64
#define MAX_SOURCE_BYTES ((size_t)1 << 20)      /* javascript and typescript */
#define MAX_WASM_BASE64_BYTES ((size_t)8 << 20) /* a module of 6 MiB */

struct weir_user_component {
    weir_component desc; /* first: weir_user_component_of checks desc.process */
    unsigned refs;
    json_t *def;          /* the definition as given (copied) */
    json_t *source;       /* a string shared by reference with every call */
    const char *type;     /* "javascript", "typescript" or "wasm" (static) */
    char key[MAX_ID * 3]; /* weir_host_key */
    weir_port_def *inputs, *outputs;
    weir_config_def *config;
};

static int process(weir_ctx *ctx, unsigned port, json_t *value);

/* ------------------------------------------------------------- lifetime */

static void free_ports(weir_port_def *p, size_t n) {
    for (size_t i = 0; p && i < n; i++) {
        weir__free((char *)p[i].name);
        weir__free((char *)p[i].description);
        weir__free((char *)p[i].schema);
    }
    weir__free(p);
}

static void free_user(weir_user_component *u) {
    weir__free((char *)u->desc.id);
    weir__free((char *)u->desc.name);
    weir__free((char *)u->desc.version);
    weir__free((char *)u->desc.category);
    weir__free((char *)u->desc.description);
    free_ports(u->inputs, u->desc.n_inputs);
    free_ports(u->outputs, u->desc.n_outputs);
    for (size_t i = 0; u->config && i < u->desc.n_config; i++) {
        weir_config_def *d = &u->config[i];
        weir__free((char *)d->key);
        weir__free((char *)d->default_json);
        weir__free((char *)d->description);
        for (const char *const *e = d->enum_values; e && *e; e++) weir__free((char *)*e);
        weir__free((void *)d->enum_values);
    }
    weir__free(u->config);
    json_decref(u->def);
    json_decref(u->source);
    weir__free(u);
}

weir_user_component *weir_user_component_ref(weir_user_component *u) {
    if (u) u->refs++;
    return u;
}

void weir_user_component_unref(weir_user_component *u) {
    if (u && --u->refs == 0) free_user(u);
}

const weir_component *weir_user_component_descriptor(const weir_user_component *u) { return u ? &u->desc : NULL; }

weir_user_component *weir_user_component_of(const weir_component *c) {
    return c && c->process == process ? (weir_user_component *)c : NULL;
}

const char *weir_user_component_key(const weir_user_component *u) { return u->key; }
const char *weir_user_component_source(const weir_user_component *u) { return json_string_value(u->source); }
const char *weir_user_component_type(const weir_user_component *u) { return u->type; }
json_t *weir_user_component_definition(const weir_user_component *u) { return u->def; }

json_t *weir_user_component_json(const weir_user_component *u) {
    json_t *j = weir_component_json(&u->desc);
    json_t *x = json_object_get(u->def, "execution");
    json_t *exec = json_pack("{s:s,s:O}", "type", u->type, "source", u->source);
    for (const char *f = "entrypoint\0sourceUrl\0sourceHash\0"; exec && *f; f += strlen(f) + 1) {
        json_t *v = json_object_get(x, f);
        if (json_is_string(v)) json_object_set(exec, f, v);
    }
    if (!j || !exec || json_object_set_new(j, "execution", exec) ||
        json_object_set_new(j, "origin", json_string("user"))) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* ----------------------------------------------------------- definition */

static char *dup_opt(json_t *v) { return json_is_string(v) ? weir__strdup(json_string_value(v)) : NULL; }

static bool valid_id(const char *id) {
    size_t n = strlen(id);
    if (n == 0 || n > MAX_ID || !strchr(id, '.') || id[0] == '.' || id[n - 1] == '.' || strstr(id, ".."))
        return false;
    for (const char *c = id; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-' && *c != '_') return false;
    return true;
}

static bool valid_port_name(const char *n) {
    if (!n[0] || strlen(n) > 64) return false;
    for (const char *c = n; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.') return false;
    return true;
}

/* Read ports.<what>: an array of {name, schema?, description?} (or plain
 * names); with_error adds the error port unless it is declared. */
static int read_ports(json_t *arr, const char *what, bool with_error, weir_port_def **out, size_t *n_out,
                      weir_error *err) {
    *out = NULL;
    *n_out = 0;
    if (!json_is_array(arr))
        return weir__error(err, WEIR_EINVAL,
                           "ports.%s must be an array of ports, e.g. \"%s\": [{\"name\": \"%s\"}]", what, what,
                           strcmp(what, "inputs") == 0 ? "in" : "out");
    size_t n = json_array_size(arr);
    if (n > MAX_PORTS) return weir__error(err, WEIR_EINVAL, "ports.%s declares %zu ports; at most %d", what, n, MAX_PORTS);
    weir_port_def *p = weir__calloc(n + 1, sizeof *p);
    if (!p) return weir__error(err, WEIR_ENOMEM, "out of memory");
    *out = p;
    bool has_error = false;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        json_t *name = json_is_object(e) ? json_object_get(e, "name") : e;
        if (!json_is_string(name) || !valid_port_name(json_string_value(name)))
            return weir__error(err, WEIR_EINVAL,
                               "ports.%s[%zu] needs a name of letters, digits, '-', '_' or '.' (at most 64), e.g. "
                               "{\"name\": \"%s\"}",
                               what, i, strcmp(what, "inputs") == 0 ? "in" : "out");
        const char *nm = json_string_value(name);
        for (size_t j = 0; j < *n_out; j++)
            if (strcmp(p[j].name, nm) == 0)
                return weir__error(err, WEIR_EINVAL, "ports.%s declares \"%s\" twice", what, nm);
        json_t *schema = json_is_object(e) ? json_object_get(e, "schema") : NULL;
        if (schema && !json_is_object(schema) && !json_is_boolean(schema))
            return weir__error(err, WEIR_EINVAL, "ports.%s[%zu].schema must be a JSON Schema object", what, i);
        json_t *desc = json_is_object(e) ? json_object_get(e, "description") : NULL;
        if (desc && !json_is_string(desc))
            return weir__error(err, WEIR_EINVAL, "ports.%s[%zu].description must be a string", what, i);
        p[*n_out].name = weir__strdup(nm);
        p[*n_out].description = dup_opt(desc);
        p[*n_out].schema = schema ? json_dumps(schema, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        (*n_out)++;
        if (!p[*n_out - 1].name || (desc && !p[*n_out - 1].description) || (schema && !p[*n_out - 1].schema))
            return weir__error(err, WEIR_ENOMEM, "out of memory");
        if (strcmp(nm, "error") == 0) has_error = true;
    }
    if (with_error && !has_error) {
        p[*n_out].name = weir__strdup("error");
        p[*n_out].description =
            weir__strdup("{error, component, hook}: what user code threw, a time limit or a crash of its host");
        (*n_out)++;
        if (!p[*n_out - 1].name || !p[*n_out - 1].description) return weir__error(err, WEIR_ENOMEM, "out of memory");
    }
    return 0;
}

static const struct {
    const char *name;
    weir_cfg_type type;
} CFG_TYPES[] = {{"any", WEIR_CFG_ANY},         {"string", WEIR_CFG_STRING}, {"number", WEIR_CFG_NUMBER},
                 {"integer", WEIR_CFG_INTEGER}, {"boolean", WEIR_CFG_BOOLEAN}, {"object", WEIR_CFG_OBJECT},
                 {"array", WEIR_CFG_ARRAY}};

static bool type_ok(weir_cfg_type t, const json_t *v) {
    switch (t) {
    case WEIR_CFG_ANY: return true;
    case WEIR_CFG_STRING:
    case WEIR_CFG_EXPRESSION: return json_is_string(v);
    case WEIR_CFG_NUMBER: return json_is_number(v);
    case WEIR_CFG_INTEGER: return json_is_integer(v);
    case WEIR_CFG_BOOLEAN: return json_is_boolean(v);
    case WEIR_CFG_OBJECT: return json_is_object(v);
    case WEIR_CFG_ARRAY: return json_is_array(v);
    }
    return false;
}

static int read_config(weir_user_component *u, json_t *cfg, weir_error *err) {
    if (!cfg) return 0;
    if (!json_is_object(cfg))
        return weir__error(err, WEIR_EINVAL,
                           "config must be an object of keys, e.g. {\"factor\": {\"type\": \"number\", \"default\": 2}}");
    size_t n = json_object_size(cfg);
    if (!n) return 0;
    if (!(u->config = weir__calloc(n, sizeof *u->config))) return weir__error(err, WEIR_ENOMEM, "out of memory");
    const char *key;
    json_t *spec;
    json_object_foreach(cfg, key, spec) {
        weir_config_def *d = &u->config[u->desc.n_config];
        if (!(d->key = weir__strdup(key))) return weir__error(err, WEIR_ENOMEM, "out of memory");
        u->desc.n_config++;
        if (!json_is_object(spec))
            return weir__error(err, WEIR_EINVAL,
                               "config.%s must be an object {type, default?, required?, enum?, description?}", key);
        json_t *type = json_object_get(spec, "type");
        d->type = WEIR_CFG_ANY;
        if (type) {
            size_t t = 0, nt = sizeof CFG_TYPES / sizeof *CFG_TYPES;
            while (t < nt && !(json_is_string(type) && strcmp(json_string_value(type), CFG_TYPES[t].name) == 0)) t++;
            if (t == nt)
                return weir__error(err, WEIR_EINVAL,
                                   "config.%s.type must be one of string, number, integer, boolean, object, array, any",
                                   key);
            d->type = CFG_TYPES[t].type;
        }
        json_t *req = json_object_get(spec, "required");
        if (req && !json_is_boolean(req))
            return weir__error(err, WEIR_EINVAL, "config.%s.required must be true or false", key);
        d->required = json_is_true(req);
        json_t *desc = json_object_get(spec, "description");
        if (desc && !json_is_string(desc))
            return weir__error(err, WEIR_EINVAL, "config.%s.description must be a string", key);
        if (desc && !(d->description = dup_opt(desc))) return weir__error(err, WEIR_ENOMEM, "out of memory");
        json_t *en = json_object_get(spec, "enum");
        if (en) {
            size_t ne = json_array_size(en);
            if (!json_is_array(en) || ne == 0)
                return weir__error(err, WEIR_EINVAL, "config.%s.enum must be a non-empty array of strings", key);
            const char **vals = weir__calloc(ne + 1, sizeof *vals);
            if (!vals) return weir__error(err, WEIR_ENOMEM, "out of memory");
            d->enum_values = vals;
            for (size_t i = 0; i < ne; i++) {
                json_t *v = json_array_get(en, i);
                if (!json_is_string(v))
                    return weir__error(err, WEIR_EINVAL,
                                       "config.%s.enum: only string values are supported (item %zu is not a string)",
                                       key, i);
                if (!(vals[i] = weir__strdup(json_string_value(v))))
                    return weir__error(err, WEIR_ENOMEM, "out of memory");
            }
            if (d->type != WEIR_CFG_ANY && d->type != WEIR_CFG_STRING)
                return weir__error(err, WEIR_EINVAL, "config.%s has an enum, so its type must be string", key);
        }
        json_t *dv = json_object_get(spec, "default");
        if (dv) {
            if (!type_ok(d->type, dv))
                return weir__error(err, WEIR_EINVAL, "config.%s.default does not match its type %s", key,
                                   json_is_string(type) ? json_string_value(type) : "any");
            bool listed = !d->enum_values;
            for (const char *const *e = d->enum_values; e && *e && !listed; e++)
                listed = strcmp(*e, json_string_value(dv)) == 0;
            if (!listed) return weir__error(err, WEIR_EINVAL, "config.%s.default is not one of its enum values", key);
            if (!(d->default_json = json_dumps(dv, JSON_COMPACT | JSON_ENCODE_ANY)))
                return weir__error(err, WEIR_ENOMEM, "out of memory");
        }
    }
    return 0;
}

/* A wasm module's bytes in base64 (RFC 4648, padded, no line breaks). */
static bool valid_base64(const char *s, size_t n) {
    if (n == 0 || n % 4) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '+' || c == '/') continue;
        if (c == '=' && (i == n - 1 || (i == n - 2 && s[n - 1] == '='))) continue;
        return false;
    }
    return true;
}

static bool valid_hash(const char *h) {
    if (strncmp(h, "sha256:", 7) != 0 || strlen(h) != 7 + 64) return false;
    for (const char *c = h + 7; *c; c++)
        if (!isdigit((unsigned char)*c) && !(*c >= 'a' && *c <= 'f')) return false;
    return true;
}

static const char *const EXEC_TYPES[] = {"javascript", "typescript", "wasm"};

static int read_execution(weir_user_component *u, json_t *x, weir_error *err) {
    if (!json_is_object(x))
        return weir__error(err, WEIR_EINVAL,
                           "execution must be an object {\"type\": \"javascript\", \"source\": \"return { process: "
                           "(ctx, port, value) => ctx.emit('out', value) }\"}");
    json_t *type = json_object_get(x, "type");
    const char *t = json_string_value(type);
    if (!t) return weir__error(err, WEIR_EINVAL, "execution.type is required: \"javascript\", \"typescript\" or \"wasm\"");
    size_t k = 0;
    while (k < 3 && strcmp(t, EXEC_TYPES[k]) != 0) k++;
    if (k == 3)
        return weir__error(err, WEIR_EINVAL, "execution.type \"%s\" is unknown: use \"javascript\", \"typescript\" or \"wasm\"", t);
    u->type = EXEC_TYPES[k];
    bool wasm = k == 2;
    json_t *url = json_object_get(x, "sourceUrl");
    if (url && (!json_is_string(url) || json_string_length(url) == 0 || json_string_length(url) > 2048))
        return weir__error(err, WEIR_EINVAL, "execution.sourceUrl must be an http(s) URL (at most 2048 characters)");
    json_t *hash = json_object_get(x, "sourceHash");
    if (hash && (!json_is_string(hash) || !valid_hash(json_string_value(hash))))
        return weir__error(err, WEIR_EINVAL,
                           "execution.sourceHash must be \"sha256:\" and 64 lowercase hex digits (the SHA-256 of the "
                           "source%s)",
                           wasm ? "'s bytes" : "");
    json_t *entry = json_object_get(x, "entrypoint");
    if (entry && !json_is_string(entry))
        return weir__error(err, WEIR_EINVAL, "execution.entrypoint must be a string when present");
    json_t *src = json_object_get(x, "source");
    if (!src && url)
        return weir__error(err, WEIR_EINVAL,
                           "execution.sourceUrl is fetched by the server when the component is registered (POST "
                           "/api/components); here the source itself must be in execution.source");
    if (src && url && !hash)
        return weir__error(err, WEIR_EINVAL,
                           "execution has both source and sourceUrl: give one (a fetched source carries its "
                           "sourceHash)");
    if (!json_is_string(src) || json_string_length(src) == 0)
        return weir__error(err, WEIR_EINVAL, "%s",
                           wasm ? "execution.source is required: the WebAssembly module's bytes in base64 (or give "
                                  "execution.sourceUrl)"
                                : "execution.source is required: a function body returning a handler, e.g. \"return "
                                  "{ process: (ctx, port, value) => ctx.emit('out', value) }\" (or give "
                                  "execution.sourceUrl)");
    size_t max = wasm ? MAX_WASM_BASE64_BYTES : MAX_SOURCE_BYTES;
    if (json_string_length(src) > max)
        return weir__error(err, WEIR_EINVAL, "execution.source is %zu bytes; at most %zu%s", json_string_length(src),
                           max, wasm ? " (base64)" : "");
    if (strlen(json_string_value(src)) != json_string_length(src))
        return weir__error(err, WEIR_EINVAL, "execution.source must not contain NUL characters");
    if (wasm && !valid_base64(json_string_value(src), json_string_length(src)))
        return weir__error(err, WEIR_EINVAL,
                           "execution.source of a wasm component is the module's bytes in base64 (padded, no line "
                           "breaks), e.g. the output of `base64 -w0 module.wasm`");
    u->source = json_incref(src);
    return 0;
}

static int build(weir_user_component *u, json_t *def, weir_error *err) {
    if (!json_is_object(def))
        return weir__error(err, WEIR_EINVAL, "a component definition is a JSON object with id, name, version, ports "
                                             "and execution");
    static const char *const required[] = {"id", "name", "version", "ports", "execution"};
    char missing[128] = "";
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        if (!json_object_get(def, required[i])) {
            size_t l = strlen(missing);
            snprintf(missing + l, sizeof missing - l, "%s%s", l ? ", " : "", required[i]);
        }
    if (missing[0])
        return weir__error(err, WEIR_EINVAL,
                           "the component definition is missing %s; a definition needs id (namespaced, e.g. "
                           "\"acme.math.square\"), name, version, ports {inputs, outputs} and execution {type, source}",
                           missing);
    const char *id = json_string_value(json_object_get(def, "id"));
    if (!id || !valid_id(id))
        return weir__error(err, WEIR_EINVAL,
                           "id must be a namespaced name of letters, digits, '-' and '_' separated by dots, at most "
                           "%d characters, e.g. \"acme.math.square\"",
                           MAX_ID);
    for (const char *f = "name\0version\0"; *f; f += strlen(f) + 1) {
        json_t *v = json_object_get(def, f);
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 256)
            return weir__error(err, WEIR_EINVAL, "%s must be a non-empty string (at most 256 characters), e.g. %s", f,
                               strcmp(f, "name") == 0 ? "\"Square\"" : "\"1.0.0\"");
    }
    for (const char *f = "category\0description\0"; *f; f += strlen(f) + 1) {
        json_t *v = json_object_get(def, f);
        if (v && !json_is_string(v)) return weir__error(err, WEIR_EINVAL, "%s must be a string when present", f);
    }
    json_t *ports = json_object_get(def, "ports");
    if (!json_is_object(ports))
        return weir__error(err, WEIR_EINVAL,
                           "ports must be an object {\"inputs\": [{\"name\": \"in\"}], \"outputs\": [{\"name\": "
                           "\"out\"}]}");
    int rc = read_ports(json_object_get(ports, "inputs"), "inputs", false, &u->inputs, &u->desc.n_inputs, err);
    if (rc) return rc;
    if (u->desc.n_inputs == 0)
        return weir__error(err, WEIR_EINVAL, "ports.inputs is empty: declare at least one, e.g. [{\"name\": \"in\"}]");
    json_t *outs = json_object_get(ports, "outputs");
    json_t *none = outs ? NULL : json_array(); /* no outputs: a sink (the error port still comes) */
    if (!outs && !none) return weir__error(err, WEIR_ENOMEM, "out of memory");
    rc = read_ports(outs ? outs : none, "outputs", true, &u->outputs, &u->desc.n_outputs, err);
    json_decref(none);
    if (rc) return rc;
    if ((rc = read_config(u, json_object_get(def, "config"), err))) return rc;
    if ((rc = read_execution(u, json_object_get(def, "execution"), err))) return rc;
    u->desc.id = weir__strdup(id);
    u->desc.name = dup_opt(json_object_get(def, "name"));
    u->desc.version = dup_opt(json_object_get(def, "version"));
    u->desc.category = weir__strdup(json_is_string(json_object_get(def, "category"))
                                        ? json_string_value(json_object_get(def, "category"))
                                        : "custom");
    u->desc.description = weir__strdup(json_is_string(json_object_get(def, "description"))
                                           ? json_string_value(json_object_get(def, "description"))
                                           : strcmp(u->type, "wasm") == 0
                                               ? "User component (WebAssembly, run in the component host)"
                                           : strcmp(u->type, "typescript") == 0
                                               ? "User component (TypeScript, run in the component host)"
                                               : "User component (JavaScript, run in the component host)");
    if (!u->desc.id || !u->desc.name || !u->desc.version || !u->desc.category || !u->desc.description ||
        !(u->def = json_deep_copy(def)))
        return weir__error(err, WEIR_ENOMEM, "out of memory");
    weir_host_key(u->desc.id, u->desc.version, json_string_value(u->source), u->key, sizeof u->key);
    return 0;
}

/* ------------------------------------------------------------- handlers */

static int prepare(const weir_node_info *node, json_t *config, void **prepared, weir_error *err) {
    (void)config;
    weir_user_component *u = weir_user_component_of(node->component);
    if (!u) return weir__error(err, WEIR_EINVAL, "not a user component");
    *prepared = weir_user_component_ref(u);
    return 0;
}

static void release(void *prepared) { weir_user_component_unref(prepared); }

/* An invoke effect for a hook: the call the host performs. */
static int request(weir_ctx *ctx, const char *hook, const char *port, json_t *value) {
    weir_user_component *u = weir_ctx_prepared(ctx);
    json_t *state = weir_ctx_state_all(ctx);
    json_t *payload = json_pack("{s:s,s:O,s:s,s:s,s:s,s:O,s:o,s:s,s:s}", "key", u->key, "source", u->source, "type",
                                u->type, "component", u->desc.id, "hook", hook, "config", weir_ctx_config(ctx), "state",
                                state ? json_incref(state) : json_object(), "executionId",
                                weir_ctx_execution_id(ctx), "nodeId", weir_ctx_node_id(ctx));
    if (payload && port && (json_object_set_new(payload, "port", json_string(port)) ||
                            json_object_set(payload, "value", value ? value : json_null()))) {
        json_decref(payload);
        payload = NULL;
    }
    json_t *cont = json_pack("{s:s}", "hook", hook);
    if (!cont) {
        json_decref(payload);
        return WEIR_ENOMEM;
    }
    return weir_effect_request(ctx, WEIR_EFFECT_INVOKE, payload, cont, NULL);
}

static int init(weir_ctx *ctx) { return request(ctx, "initialize", NULL, NULL); }

static int process(weir_ctx *ctx, unsigned port, json_t *value) {
    return request(ctx, "process", weir_ctx_input_name(ctx, port), value);
}

static void cleanup(weir_ctx *ctx) { request(ctx, "cleanup", NULL, NULL); }

/* {error: "component ID (hook): msg", component, hook} on the error port. */
static int user_error(weir_ctx *ctx, const char *hook, const char *msg) {
    weir_user_component *u = weir_ctx_prepared(ctx);
    json_t *details = json_pack("{s:s,s:s}", "component", u->desc.id, "hook", hook);
    if (!details) return WEIR_ENOMEM;
    int rc = weir_emit_error(ctx, details, "component %s (%s): %s", u->desc.id, hook, msg);
    json_decref(details);
    return rc;
}

static int resume(weir_ctx *ctx, const weir_effect_result *res, json_t *cont) {
    const char *hook = json_string_value(json_object_get(cont, "hook"));
    if (!hook) hook = "process";
    if (!res->ok) return user_error(ctx, hook, res->error ? res->error : "the call failed");
    json_t *answer = res->value;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(answer, "logs"), i, v) {
        weir_log_level level = WEIR_LOG_INFO;
        weir_log_level_parse(json_string_value(json_object_get(v, "level")), &level);
        const char *msg = json_string_value(json_object_get(v, "message"));
        int rc = weir_log(ctx, level, NULL, "%s", msg ? msg : "");
        if (rc == WEIR_ENOMEM) return rc;
    }
    json_t *state = json_object_get(answer, "state");
    const char *key;
    json_object_foreach(state, key, v) {
        json_t *old = weir_get_state(ctx, key);
        if (old && json_equal(old, v)) continue;
        int rc = weir_set_state(ctx, key, json_incref(v));
        if (rc) return rc;
    }
    json_array_foreach(json_object_get(answer, "emits"), i, v) {
        const char *port = json_string_value(json_array_get(v, 0));
        json_t *value = json_array_get(v, 1);
        if (!port || !value) continue;
        int rc = weir_emit_name(ctx, port, value);
        if (rc == WEIR_EINVAL) {
            weir_user_component *u = weir_ctx_prepared(ctx);
            char names[512] = "";
            for (size_t p = 0; p < u->desc.n_outputs; p++) {
                size_t l = strlen(names);
                snprintf(names + l, sizeof names - l, "%s%s", p ? ", " : "", u->desc.outputs[p].name);
            }
            char msg[800];
            snprintf(msg, sizeof msg, "ctx.emit on port \"%s\", which it does not declare (its outputs: %s)", port,
                     names);
            rc = user_error(ctx, hook, msg);
        }
        if (rc) return rc;
    }
    const char *thrown = json_string_value(json_object_get(answer, "error"));
    if (thrown) return user_error(ctx, hook, thrown);
    return 0;
}

/* -------------------------------------------------------------- create */

int weir_user_component_create(json_t *def, weir_user_component **out, weir_error *err) {
    *out = NULL;
    weir_user_component *u = weir__calloc(1, sizeof *u);
    if (!u) return weir__error(err, WEIR_ENOMEM, "out of memory");
    u->refs = 1;
    int rc = build(u, def, err);
    u->desc.inputs = u->inputs;
    u->desc.outputs = u->outputs;
    u->desc.config = u->config;
    if (rc) {
        free_user(u);
        return rc;
    }
    u->desc.prepare = prepare;
    u->desc.release = release;
    u->desc.init = init;
    u->desc.process = process;
    u->desc.resume = resume;
    u->desc.cleanup = cleanup;
    *out = u;
    return 0;
}
