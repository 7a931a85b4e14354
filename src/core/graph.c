/*
 * Graph loading (SPEC §1): structural validation, component and port
 * resolution, config normalisation against each component's table,
 * preparation (expressions compile here), and topology by Kahn's algorithm.
 * Every problem found is reported, each naming the node or edge and the fix.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/expr.h"
#include "core/internal.h"
#include "core/zones.h"

static const char EDGE_SHAPE[] =
    "each edge needs {\"id\",\"source\":{\"node\",\"port\"},\"target\":{\"node\",\"port\"}} — source and target "
    "are OBJECTS naming a node and one of its ports, not bare node ids";

/* The ports of one component, shared by its nodes: names in the graph's
 * arena, declared order, duplicates dropped. */
typedef struct comp_ports {
    const weir_component *c;
    const char **in, **out;
    uint32_t n_in, n_out;
} comp_ports;

/* The elements of the document's "nodes" or "edges" array: the array
 * itself (weir_graph_load), or spans of JSON text each parsed when its turn
 * comes and freed after (weir_graph_load_text), so that a large document is
 * never whole in memory. */
typedef struct span {
    size_t off, len;
} span;
typedef struct elems {
    bool present;     /* the document has this member and it is an array */
    json_t *arr;      /* the array, or NULL: text and spans */
    const char *text;
    span *spans;
    size_t n, cap;
} elems;

/* An edge resolved: nodes and port indexes (ports only grow, so an index
 * stays valid while later edges add dynamic ones). */
typedef struct edge_ref {
    uint32_t src, dst;
    uint32_t src_port, dst_port;
    bool ok;
} edge_ref;

typedef struct loader {
    const weir_registry *reg;
    comp_ports *comps; /* the components met so far */
    size_t n_comps, comps_cap, last_comp;
    bool reparse;      /* an element of the text did not parse: load the text whole instead */
    json_t *problems; /* the messages, strings */
    json_t *details;  /* the same problems as objects, or NULL when the caller wants none */
    bool oom;
    weir_graph *g;
    char *declared; /* "a, b, c" for messages, built once */
    weir_expr_limits expr; /* the options' expression budget, defaults applied */
    size_t reported;       /* problems reported (at most MAX_PROBLEMS are kept) */
    weir__zones zones;     /* the time zones prepare asks for (weir_node_zone) */
} loader;

/* Problems kept per load: a document of millions of bad elements (POST
 * /api/graphs) says how many more there were instead of keeping a message
 * for each (SPEC §10). */
#define MAX_PROBLEMS 1000
/* Ports an edge may add to a node of a component with dynamic ports (merge:
 * one per input), per direction: port names are looked up by a scan, so
 * the bound keeps a document of many edges to distinct ports linear. */
#define MAX_DYNAMIC_PORTS 1024

enum {
#define X(name, code, desc) P_##name,
    WEIR_GRAPH_PROBLEMS(X)
#undef X
};
static const char *const CODES[] = {
#define X(name, code, desc) code,
    WEIR_GRAPH_PROBLEMS(X)
#undef X
};

/* Where a problem lies; each may be NULL.  field is relative to the node or
 * edge when one is named, else to the document. */
typedef struct at {
    const char *node, *edge, *field;
} at;

enum { TEXT = 1, DETAIL = 2, BOTH = TEXT | DETAIL };

/* Record a problem as a message (TEXT), as an object (DETAIL), or both. */
static void report(loader *L, unsigned to, int code, at where, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void report(loader *L, unsigned to, int code, at where, const char *fmt, ...) {
    char buf[WEIR_ERROR_MAX];
    if (to & TEXT) L->reported++;
    if (L->reported > MAX_PROBLEMS + 1) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (L->reported == MAX_PROBLEMS + 1) {
        n = snprintf(buf, sizeof buf, "more problems than the %d listed; fix these and validate again", MAX_PROBLEMS);
        code = P_TOO_LARGE;
        where = (at){0};
    }
    if (n >= (int)sizeof buf) memcpy(buf + sizeof buf - 4, "...", 4);
    json_t *msg = json_string(buf); /* shared by both arrays */
    if (!msg || ((to & TEXT) && json_array_append(L->problems, msg))) L->oom = true;
    if ((to & DETAIL) && L->details && msg) {
        json_t *d = json_pack("{s:s,s:O}", "code", CODES[code], "message", msg);
        bool failed = !d || (where.node && json_object_set_new(d, "nodeId", json_string(where.node))) ||
                      (where.edge && json_object_set_new(d, "edgeId", json_string(where.edge))) ||
                      (where.field && json_object_set_new(d, "field", json_string(where.field)));
        if (failed || json_array_append(L->details, d)) L->oom = true;
        json_decref(d);
    }
    json_decref(msg);
}
#define problem(L, code, where, ...) report(L, BOTH, code, where, __VA_ARGS__)

/* "config.KEY" (or "config" when key is NULL), cut to fit. */
static const char *cfg_field(char *buf, size_t cap, const char *key) {
    if (snprintf(buf, cap, "config%s%s", key ? "." : "", key ? key : "") < 0) buf[0] = '\0';
    return buf;
}

uint32_t weir__port_index(const char *const *names, uint32_t n, const char *name) {
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return i;
    return WEIR_NONE;
}

void weir__append_names(weir_error *err, const char *const *names, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) weir__error_append(err, "%s%s", i ? ", " : "", names[i]);
    if (n == 0) weir__error_append(err, "(none)");
}

/* The names as "a, b, c" in buf; a list longer than cap ends in "..." (never cut silently). */
static void names_to_buf(char *buf, size_t cap, const char *const *names, uint32_t n) {
    weir_error tmp;
    tmp.message[0] = '\0';
    weir__append_names(&tmp, names, n);
    int len = snprintf(buf, cap, "%s", tmp.message);
    if (len >= (int)cap && cap >= 4) memcpy(buf + cap - 4, "...", 4);
}

/* --------------------------------------------------------------- ownership */

enum { OWN_INPUTS = 1, OWN_OUTPUTS = 2 };

static void free_node(weir_node *n) {
    if (n->prepared && n->comp && n->comp->release) n->comp->release(n->prepared);
    json_decref(n->config);
    if (n->own_ports & OWN_INPUTS) weir__free((void *)n->inputs);
    if (n->own_ports & OWN_OUTPUTS) weir__free((void *)n->outputs);
}

static void graph_free(weir_graph *g) {
    if (!g) return;
    for (uint32_t i = 0; g->nodes && i < g->n_nodes; i++) free_node(&g->nodes[i]);
    weir__free(g->nodes);
    weir__free(g->routes);
    weir__free(g->route_starts);
    weir__free(g->topo);
    weir__free(g->ids);
    weir__arena_free(&g->arena);
    json_decref(g->metadata);
    json_decref(g->graph_inputs);
    json_decref(g->zones);
    json_decref(g->empty);
    weir__free(g->id);
    weir__free(g->name);
    weir__free(g->version);
    weir__free(g);
}

weir_graph *weir_graph_ref(weir_graph *g) {
    if (g) g->refs++;
    return g;
}

void weir_graph_unref(weir_graph *g) {
    if (g && --g->refs == 0) graph_free(g);
}

const char *weir_graph_id(const weir_graph *g) { return g->id; }
json_t *weir_graph_zones(const weir_graph *g) { return g->zones; }
const char *weir_graph_name(const weir_graph *g) { return g->name; }
size_t weir_graph_node_count(const weir_graph *g) { return g->n_nodes; }
const char *weir_graph_node_id(const weir_graph *g, size_t i) { return i < g->n_nodes ? g->nodes[i].id : NULL; }
const weir_component *weir_graph_node_component(const weir_graph *g, size_t i) {
    return i < g->n_nodes ? g->nodes[i].comp : NULL;
}
json_t *weir_graph_node_config(const weir_graph *g, size_t i) { return i < g->n_nodes ? g->nodes[i].config : NULL; }
size_t weir_graph_edge_count(const weir_graph *g) { return g->n_edges; }
const char *weir_graph_version(const weir_graph *g) { return g->version; }
json_t *weir_graph_metadata(const weir_graph *g) { return g->metadata; }

bool weir_graph_uses(const weir_graph *g, const char *component_id) {
    for (uint32_t v = 0; v < g->n_nodes; v++)
        if (g->nodes[v].comp && strcmp(g->nodes[v].comp->id, component_id) == 0) return true;
    return false;
}

/* The capacity of a node's own port table of n names: powers of two, so
 * that adding ports one edge at a time stays linear. */
static size_t table_cap(size_t n) {
    size_t cap = 4;
    while (cap < n) cap *= 2;
    return cap;
}

/* Add a dynamic port to a node (its name is not in the list yet); the node
 * gets its own table on the first.  *index receives its index.  0 or
 * WEIR_ENOMEM. */
static int add_port(weir_graph *g, weir_node *nd, bool input, const char *name, uint32_t *index) {
    const char ***names = input ? &nd->inputs : &nd->outputs;
    uint32_t *n = input ? &nd->n_inputs : &nd->n_outputs;
    uint8_t own = input ? OWN_INPUTS : OWN_OUTPUTS;
    if (!(nd->own_ports & own)) {
        const char **p = weir__malloc(table_cap((size_t)*n + 1) * sizeof *p);
        if (!p) return WEIR_ENOMEM;
        if (*n) memcpy(p, *names, *n * sizeof *p);
        *names = p;
        nd->own_ports |= own;
    } else if (*n == table_cap(*n)) {
        const char **p = weir__realloc((void *)*names, table_cap((size_t)*n + 1) * sizeof *p);
        if (!p) return WEIR_ENOMEM;
        *names = p;
    }
    if (!((*names)[*n] = weir__arena_strndup(&g->arena, name, strlen(name)))) return WEIR_ENOMEM;
    *index = (*n)++;
    return 0;
}

/* A component's port table in the arena: names copied, duplicates dropped. */
static const char **port_table(weir_arena *a, const weir_port_def *defs, size_t n_defs, uint32_t *n) {
    const char **t = weir__arena_alloc(a, (n_defs ? n_defs : 1) * sizeof *t);
    if (!t) return NULL;
    *n = 0;
    for (size_t i = 0; i < n_defs; i++) {
        if (weir__port_index(t, *n, defs[i].name) != WEIR_NONE) continue;
        if (!(t[*n] = weir__arena_strndup(a, defs[i].name, strlen(defs[i].name)))) return NULL;
        (*n)++;
    }
    return t;
}

/* Elements of a text not parsed yet (their spans only). */
static bool text_unread(const elems *e) { return e->present && !e->arr && e->n; }

/* ------------------------------------------------------------------ config */

static const char *json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static bool type_ok(weir_cfg_type t, const json_t *v) {
    switch (t) {
    case WEIR_CFG_ANY: return true;
    case WEIR_CFG_STRING:
    case WEIR_CFG_EXPRESSION: return json_is_string(v);
    case WEIR_CFG_NUMBER: return json_is_number(v);
    case WEIR_CFG_INTEGER:
        return json_is_integer(v) || (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)));
    case WEIR_CFG_BOOLEAN: return json_is_boolean(v);
    case WEIR_CFG_OBJECT: return json_is_object(v);
    case WEIR_CFG_ARRAY: return json_is_array(v);
    }
    return false;
}

/* Check node config against the component's table; build the normalised
 * config (defaults applied, aliases renamed).  NULL on a problem (reported). */
static json_t *normalise_config(loader *L, const char *node_id, const weir_component *c, json_t *given) {
    if (!given && c->n_config == 0) return json_incref(L->g->empty);
    json_t *out = json_object();
    if (!out) {
        L->oom = true;
        return NULL;
    }
    bool bad = false;
    if (given && !json_is_object(given)) {
        problem(L, P_BAD_CONFIG, ((at){node_id, NULL, "config"}), "node \"%s\": config must be an object (found %s)",
                node_id, json_kind(given));
        json_decref(out);
        return NULL;
    }
    const char *key;
    json_t *v;
    char field[256];
    json_object_foreach(given, key, v) {
        bool known = false;
        for (size_t i = 0; i < c->n_config && !known; i++)
            known = strcmp(c->config[i].key, key) == 0 || (c->config[i].alias && strcmp(c->config[i].alias, key) == 0);
        if (known) continue;
        if (c->flags & WEIR_COMPONENT_OPEN_CONFIG) {
            json_object_set(out, key, v);
            continue;
        }
        char allowed[1024] = "";
        for (size_t i = 0; i < c->n_config; i++) {
            size_t len = strlen(allowed);
            snprintf(allowed + len, sizeof allowed - len, "%s%s", i ? ", " : "", c->config[i].key);
        }
        problem(L, P_UNKNOWN_CONFIG_KEY, ((at){node_id, NULL, cfg_field(field, sizeof field, key)}),
                "node \"%s\": unknown config key \"%s\" for %s; allowed keys: %s", node_id, key, c->id,
                c->n_config ? allowed : "(none: this component takes no config)");
        bad = true;
    }
    for (size_t i = 0; i < c->n_config; i++) {
        const weir_config_def *d = &c->config[i];
        json_t *val = json_object_get(given, d->key);
        const char *written = d->key;
        if (!val && d->alias && (val = json_object_get(given, d->alias))) written = d->alias;
        at where = {node_id, NULL, cfg_field(field, sizeof field, written)};
        if (!val || json_is_null(val)) {
            if (d->required) {
                problem(L, P_MISSING_CONFIG, where, "node \"%s\": config \"%s\" is required by %s (%s)", node_id,
                        d->key, c->id, d->description ? d->description : weir__cfg_type_name(d->type));
                bad = true;
            } else if (d->default_json) {
                json_t *def = json_loads(d->default_json, JSON_DECODE_ANY, NULL);
                if (!def || json_object_set_new(out, d->key, def)) L->oom = true;
            }
            continue;
        }
        if (!type_ok(d->type, val)) {
            problem(L, P_BAD_CONFIG, where, "node \"%s\": config \"%s\" must be %s %s (found %s)", node_id, d->key,
                    d->type == WEIR_CFG_INTEGER || d->type == WEIR_CFG_ARRAY || d->type == WEIR_CFG_OBJECT ? "an" : "a",
                    d->type == WEIR_CFG_EXPRESSION ? "expression string" : weir__cfg_type_name(d->type),
                    json_kind(val));
            bad = true;
            continue;
        }
        /* Integral reals are integers only while they fit the json_int_t
         * every component reads them as (casting 1e300 is undefined). */
        if (d->type == WEIR_CFG_INTEGER && json_is_real(val) &&
            !(json_real_value(val) >= -0x1p63 && json_real_value(val) < 0x1p63)) {
            problem(L, P_BAD_CONFIG, where,
                    "node \"%s\": config \"%s\" is %g; it must be an integer between -2^63 and 2^63-1", node_id, d->key,
                    json_real_value(val));
            bad = true;
            continue;
        }
        if (d->enum_values) {
            bool found = false;
            for (const char *const *e = d->enum_values; *e && !found; e++)
                found = json_is_string(val) && strcmp(json_string_value(val), *e) == 0;
            if (!found) {
                char allowed[512] = "";
                for (const char *const *e = d->enum_values; *e; e++) {
                    size_t len = strlen(allowed);
                    snprintf(allowed + len, sizeof allowed - len, "%s\"%s\"", e == d->enum_values ? "" : ", ", *e);
                }
                char *shown = json_dumps(val, JSON_ENCODE_ANY | JSON_COMPACT);
                problem(L, P_BAD_CONFIG, where, "node \"%s\": config \"%s\" is %s; it must be one of %s", node_id,
                        d->key, shown ? shown : "?", allowed);
                weir__free(shown);
                bad = true;
                continue;
            }
        }
        if (d->has_min && json_is_number(val) && json_number_value(val) < d->min) {
            problem(L, P_BAD_CONFIG, where, "node \"%s\": config \"%s\" is %g; the minimum is %g", node_id, d->key,
                    json_number_value(val), d->min);
            bad = true;
            continue;
        }
        if (d->type == WEIR_CFG_EXPRESSION) {
            weir_expr *x = NULL;
            weir_error xe;
            int rc = weir__expr_compile(json_string_value(val), &x, &xe);
            weir__expr_free(x);
            if (rc == WEIR_ENOMEM) {
                L->oom = true;
            } else if (rc) {
                problem(L, P_BAD_EXPRESSION, where,
                        "node \"%s\": expression in config \"%s\" does not compile: %s (expression: %s)", node_id,
                        d->key, xe.message, json_string_value(val));
                bad = true;
                continue;
            }
        }
        if (json_object_set(out, d->key, val)) L->oom = true;
    }
    if (bad) {
        json_decref(out);
        return NULL;
    }
    if (json_object_size(out) == 0) { /* shared: an empty object costs about 200 bytes */
        json_decref(out);
        return json_incref(L->g->empty);
    }
    return out;
}

/* ---------------------------------------------------------------- metadata */

static void read_metadata(loader *L, json_t *doc) {
    weir_graph *g = L->g;
    g->completion = WEIR_COMPLETION_DEFAULT;
    g->on_error = WEIR_ON_ERROR_DEFAULT;
    g->overflow = WEIR_OVERFLOW_DEFAULT;
    g->timeout_ms = -1;
    json_t *md = json_object_get(doc, "metadata");
    if (!md) return;
    if (!json_is_object(md)) {
        problem(L, P_BAD_METADATA, ((at){NULL, NULL, "metadata"}), "graph \"metadata\" must be an object (found %s)",
                json_kind(md));
        return;
    }
    const char *role = json_string_value(json_object_get(md, "role"));
    weir_exec_options o = {.timeout_ms = -1};
    if (role && (strcmp(role, "pipeline") == 0 || strcmp(role, "service") == 0)) o.completion = WEIR_COMPLETION_NEVER;
    /* One key at a time, so that each problem is known to concern that key;
     * o carries what the keys read so far set. */
    const char *key;
    json_t *v;
    json_object_foreach(md, key, v) {
        json_t *one = json_pack("{s:O}", key, v), *found = json_array();
        if (!one || !found) L->oom = true;
        else if (weir_exec_options_read(one, "metadata", &o, found, NULL) && json_array_size(found) == 0)
            L->oom = true; /* a problem that could not be recorded */
        char field[256];
        if (snprintf(field, sizeof field, "metadata.%s", key) < 0) field[0] = '\0';
        size_t i;
        json_t *msg;
        json_array_foreach(found, i, msg)
            problem(L, P_BAD_METADATA, ((at){NULL, NULL, field}), "%s", json_string_value(msg));
        json_decref(one);
        json_decref(found);
    }
    json_t *autostart = json_object_get(md, "autostart");
    if (autostart && !json_is_boolean(autostart))
        problem(L, P_BAD_METADATA, ((at){NULL, NULL, "metadata.autostart"}),
                "metadata.autostart must be true (start the stored graph when the server starts) or false (found %s)",
                json_kind(autostart));
    g->completion = o.completion;
    g->on_error = o.on_error;
    g->overflow = o.overflow;
    g->timeout_ms = o.timeout_ms;
}

/* ------------------------------------------------------------------- nodes */

static size_t id_hash(const char *s) {
    uint64_t h = 14695981039346656037u; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
    return (size_t)h;
}

uint32_t weir__graph_node(const weir_graph *g, const char *id) {
    if (!g->ids) return WEIR_NONE;
    for (size_t i = id_hash(id) & g->ids_mask;; i = (i + 1) & g->ids_mask) {
        uint32_t v = g->ids[i];
        if (v == WEIR_NONE || strcmp(g->nodes[v].id, id) == 0) return v;
    }
}

static uint32_t node_index(const loader *L, const char *id) { return weir__graph_node(L->g, id); }

static void node_index_add(loader *L, uint32_t v) {
    weir_graph *g = L->g;
    size_t i = id_hash(g->nodes[v].id) & g->ids_mask;
    while (g->ids[i] != WEIR_NONE) i = (i + 1) & g->ids_mask;
    g->ids[i] = v;
}

/* The component named id with its shared port tables, or NULL when no
 * component has that id (L->oom when the tables could not be built).  Nodes
 * of one component mostly come in runs: the last one found is tried first. */
static const comp_ports *component(loader *L, const char *id) {
    if (L->n_comps && strcmp(L->comps[L->last_comp].c->id, id) == 0) return &L->comps[L->last_comp];
    for (size_t i = 0; i < L->n_comps; i++)
        if (strcmp(L->comps[i].c->id, id) == 0) return &L->comps[L->last_comp = i];
    const weir_component *c = weir_registry_find(L->reg, id);
    if (!c) return NULL;
    if (weir__grow((void **)&L->comps, &L->comps_cap, L->n_comps + 1, sizeof *L->comps)) {
        L->oom = true;
        return NULL;
    }
    comp_ports *cp = &L->comps[L->n_comps];
    cp->c = c;
    cp->in = port_table(&L->g->arena, c->inputs, c->n_inputs, &cp->n_in);
    cp->out = port_table(&L->g->arena, c->outputs, c->n_outputs, &cp->n_out);
    if (!cp->in || !cp->out) {
        L->oom = true;
        return NULL;
    }
    return &L->comps[L->last_comp = L->n_comps++];
}

/* ---------------------------------------------------- elements of a text */

/* Most elements of a large graph's text are plain: an object whose values
 * are strings with no escape, control or non-ASCII byte, or (one level
 * down) objects of such strings.  Those are read here without building a
 * json_t; any other element, and any plain one with a problem, goes to
 * jansson and the checks on json_t, which report it (loading it twice is
 * harmless: a second pass finds the same ports).  This is what makes
 * weir_graph_load_text fast. */
static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

#define PLAIN_FIELDS 8
#define PLAIN_ID_MAX 256

typedef struct str {
    const char *p;
    size_t n;
} str;

typedef struct plain_obj {
    int n;
    str key[PLAIN_FIELDS], val[PLAIN_FIELDS]; /* val.p NULL: an object, in sub */
    struct plain_obj *sub;                     /* PLAIN_FIELDS of them, or NULL: no nesting */
} plain_obj;

static bool str_is(str s, const char *lit) { return strlen(lit) == s.n && memcmp(s.p, lit, s.n) == 0; }

static void plain_ws(const char **p, const char *end) {
    while (*p < end && is_ws(**p)) (*p)++;
}

static bool plain_str(const char **p, const char *end, str *out) {
    const char *q = *p;
    if (q >= end || *q != '"') return false;
    const char *start = ++q;
    while (q < end && *q != '"') {
        unsigned char c = (unsigned char)*q;
        if (c == '\\' || c < 0x20 || c >= 0x80) return false;
        q++;
    }
    if (q >= end) return false;
    *out = (str){start, (size_t)(q - start)};
    *p = q + 1;
    return true;
}

/* An object of plain strings (and, with o->sub, plain objects) at *p. */
static bool plain_object(const char **p, const char *end, plain_obj *o) {
    const char *q = *p;
    o->n = 0;
    if (q >= end || *q != '{') return false;
    q++;
    plain_ws(&q, end);
    if (q < end && *q == '}') {
        *p = q + 1;
        return true;
    }
    for (;;) {
        if (o->n == PLAIN_FIELDS) return false;
        str *k = &o->key[o->n], *v = &o->val[o->n];
        if (!plain_str(&q, end, k)) return false;
        for (int j = 0; j < o->n; j++)
            if (o->key[j].n == k->n && memcmp(o->key[j].p, k->p, k->n) == 0) return false; /* jansson refuses it */
        plain_ws(&q, end);
        if (q >= end || *q != ':') return false;
        q++;
        plain_ws(&q, end);
        if (q < end && *q == '{' && o->sub) {
            o->sub[o->n].sub = NULL;
            if (!plain_object(&q, end, &o->sub[o->n])) return false;
            v->p = NULL;
        } else if (!plain_str(&q, end, v)) {
            return false;
        }
        o->n++;
        plain_ws(&q, end);
        if (q >= end) return false;
        char c = *q++;
        if (c == '}') break;
        if (c != ',') return false;
        plain_ws(&q, end);
    }
    *p = q;
    return true;
}

/* The plain element of span sp as o, or false. */
static bool plain_elem(const elems *s, size_t i, plain_obj *o) {
    const char *p = s->text + s->spans[i].off, *end = p + s->spans[i].len;
    return plain_object(&p, end, o) && p == end;
}

/* Field `name` of o: its index, or -1. */
static int plain_get(const plain_obj *o, const char *name) {
    for (int j = 0; j < o->n; j++)
        if (str_is(o->key[j], name)) return j;
    return -1;
}

/* A plain string field as a C string in buf (PLAIN_ID_MAX), or NULL when
 * absent, not a string or too long. */
static const char *plain_cstr(const plain_obj *o, const char *name, char *buf) {
    int j = plain_get(o, name);
    if (j < 0 || !o->val[j].p || o->val[j].n >= PLAIN_ID_MAX) return NULL;
    memcpy(buf, o->val[j].p, o->val[j].n);
    buf[o->val[j].n] = '\0';
    return buf;
}

/* Node i from a plain element, when it has no problem and no config.
 * False: nothing was changed; the element goes to the json_t path. */
static bool plain_node(loader *L, const elems *s, size_t i) {
    plain_obj o = {0};
    char id[PLAIN_ID_MAX], comp[PLAIN_ID_MAX];
    if (!plain_elem(s, i, &o) || plain_get(&o, "config") >= 0) return false;
    if (!plain_cstr(&o, "id", id) || !id[0] || !plain_cstr(&o, "component", comp) || !comp[0]) return false;
    if (node_index(L, id) != WEIR_NONE) return false;
    const comp_ports *cp = component(L, comp);
    if (!cp) return false;
    weir_node *nd = &L->g->nodes[i];
    if (!(nd->id = weir__arena_strndup(&L->g->arena, id, strlen(id)))) {
        L->oom = true;
        return true;
    }
    node_index_add(L, (uint32_t)i);
    nd->comp = cp->c;
    nd->inputs = cp->in;
    nd->n_inputs = cp->n_in;
    nd->outputs = cp->out;
    nd->n_outputs = cp->n_out;
    nd->config = normalise_config(L, nd->id, cp->c, NULL);
    return true;
}

static bool plain_port(loader *L, weir_node *nd, bool input, const char *port, uint32_t *index) {
    if ((*index = weir__port_index(input ? nd->inputs : nd->outputs, input ? nd->n_inputs : nd->n_outputs, port)) !=
        WEIR_NONE)
        return true;
    if (!(nd->comp->flags & (input ? WEIR_COMPONENT_DYNAMIC_INPUTS : WEIR_COMPONENT_DYNAMIC_OUTPUTS))) return false;
    if ((input ? nd->n_inputs : nd->n_outputs) >= MAX_DYNAMIC_PORTS) {
        L->reparse = true; /* the document path reports it */
        return true;
    }
    if (add_port(L->g, nd, input, port, index)) L->oom = true;
    return true;
}

/* One end of a plain edge: its node and port, when both exist. */
static bool plain_end(loader *L, const plain_obj *o, const char *which, uint32_t *node, const char **port,
                      char *buf) {
    int j = plain_get(o, which);
    if (j < 0 || o->val[j].p) return false; /* absent, or a string */
    char nid[PLAIN_ID_MAX];
    const plain_obj *end = &o->sub[j];
    if (!plain_cstr(end, "node", nid) || !(*port = plain_cstr(end, "port", buf)) || !(*port)[0]) return false;
    *node = node_index(L, nid);
    return *node != WEIR_NONE && L->g->nodes[*node].comp;
}

/* Edge i from a plain element, when it has no problem.  False: the element
 * goes to the json_t path (a dynamic port added here is found again there). */
static bool plain_edge(loader *L, const elems *s, size_t i, edge_ref *r) {
    plain_obj sub[PLAIN_FIELDS], o = {.sub = sub};
    char sport[PLAIN_ID_MAX], tport[PLAIN_ID_MAX];
    const char *sp, *tp;
    if (!plain_elem(s, i, &o)) return false;
    int id = plain_get(&o, "id");
    if (id >= 0 && !o.val[id].p) return false;
    if (!plain_end(L, &o, "source", &r->src, &sp, sport) || !plain_end(L, &o, "target", &r->dst, &tp, tport))
        return false;
    if (!plain_port(L, &L->g->nodes[r->src], false, sp, &r->src_port) ||
        !plain_port(L, &L->g->nodes[r->dst], true, tp, &r->dst_port))
        return false;
    r->ok = true;
    return true;
}

/* The element i of a document array: NEW, or NULL when an element of the
 * text does not parse (L->reparse: the whole text is loaded instead, which
 * reports the error where it lies). */
static json_t *elem_get(loader *L, const elems *s, size_t i) {
    if (s->arr) return json_incref(json_array_get(s->arr, i));
    json_t *v = json_loadb(s->text + s->spans[i].off, s->spans[i].len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (!v) L->reparse = true;
    return v;
}

static void load_node(loader *L, size_t i, json_t *jn, char *unknown) {
    weir_graph *g = L->g;
    weir_node *nd = &g->nodes[i];
    char field[64];
    if (!json_is_object(jn)) {
        snprintf(field, sizeof field, "nodes[%zu]", i);
        problem(L, P_BAD_NODE, ((at){NULL, NULL, field}),
                "node at index %zu is %s; each node is an object {\"id\", \"component\", \"config\"?}", i,
                json_kind(jn));
        return;
    }
    json_t *jid = json_object_get(jn, "id");
    const char *id = json_string_value(jid);
    if (!id || !id[0]) {
        snprintf(field, sizeof field, "nodes[%zu].id", i);
        problem(L, P_MISSING_FIELD, ((at){NULL, NULL, field}),
                "node at index %zu is missing \"id\" (a non-empty string, unique in the graph)", i);
        return;
    }
    uint32_t first = node_index(L, id);
    if (first != WEIR_NONE) {
        problem(L, P_DUPLICATE_NODE, ((at){id, NULL, "id"}),
                "duplicate node id \"%s\" (nodes %u and %zu); node ids must be unique", id, first, i);
        return;
    }
    if (!(nd->id = weir__arena_strndup(&g->arena, id, json_string_length(jid)))) {
        L->oom = true;
        return;
    }
    node_index_add(L, (uint32_t)i);
    json_t *jc = json_object_get(jn, "component");
    const char *comp = json_string_value(jc);
    if (!comp || !comp[0]) {
        problem(L, P_MISSING_FIELD, ((at){id, NULL, "component"}),
                "node \"%s\" has no \"component\"; name one, e.g. \"symbia.core.passthrough\" (see `weir "
                "components`)",
                id);
        return;
    }
    const comp_ports *cp = component(L, comp);
    if (!cp) {
        if (L->oom) return;
        report(L, DETAIL, P_UNKNOWN_COMPONENT, ((at){id, NULL, "component"}),
               "node \"%s\": component \"%s\" has no registered implementation; `weir components` lists the "
               "available ones",
               id, comp);
        size_t len = strlen(unknown);
        snprintf(unknown + len, WEIR_ERROR_MAX - len, "%s%s -> %s", len ? ", " : "", id, comp);
        return;
    }
    nd->comp = cp->c;
    nd->inputs = cp->in;
    nd->n_inputs = cp->n_in;
    nd->outputs = cp->out;
    nd->n_outputs = cp->n_out;
    nd->config = normalise_config(L, id, cp->c, json_object_get(jn, "config"));
}

static void load_nodes(loader *L, const elems *nodes) {
    weir_graph *g = L->g;
    size_t n = nodes->n;
    if (n >= WEIR_NONE) {
        problem(L, P_TOO_LARGE, ((at){NULL, NULL, "nodes"}), "graph has too many nodes");
        return;
    }
    g->nodes = weir__calloc(n ? n : 1, sizeof *g->nodes);
    if (!g->nodes) {
        L->oom = true;
        return;
    }
    g->n_nodes = (uint32_t)n;
    size_t cap = 8;
    while (cap < 2 * n) cap *= 2;
    if (!(L->g->ids = weir__calloc(cap, sizeof *L->g->ids))) {
        L->oom = true;
        return;
    }
    memset(L->g->ids, 0xff, cap * sizeof *L->g->ids); /* WEIR_NONE */
    L->g->ids_mask = cap - 1;
    char unknown[WEIR_ERROR_MAX] = "";
    for (size_t i = 0; i < n && !L->oom; i++) {
        if (!nodes->arr && plain_node(L, nodes, i)) continue;
        json_t *jn = elem_get(L, nodes, i);
        if (!jn) return;
        load_node(L, i, jn, unknown);
        json_decref(jn);
    }
    if (unknown[0]) /* one message for them all; one detail per node above */
        report(L, TEXT, P_UNKNOWN_COMPONENT, ((at){0}),
               "graph references components with no registered implementation: %s; `weir components` lists the "
               "available ones",
               unknown);
}

/* ------------------------------------------------------------------- edges */


static void where_of(char *buf, size_t cap, json_t *e, size_t i) {
    const char *id = json_string_value(json_object_get(e, "id"));
    if (id) snprintf(buf, cap, "edge \"%s\"", id);
    else snprintf(buf, cap, "edge at index %zu", i);
}

/* A field of edge i: relative to the edge when it has an id, else
 * "edges[i].FIELD".  field (buf, cap) is the storage. */
static at edge_at(json_t *e, size_t i, const char *node, const char *which, const char *part, char *field,
                  size_t cap) {
    const char *id = json_string_value(json_object_get(e, "id"));
    char idx[32] = "";
    if (!id) snprintf(idx, sizeof idx, "edges[%zu].", i);
    if (snprintf(field, cap, "%s%s%s%s", idx, which, part ? "." : "", part ? part : "") < 0) field[0] = '\0';
    return (at){node, id, field};
}

#define DECLARED_MAX (WEIR_ERROR_MAX / 2)

/* The declared node ids joined for messages (cut at DECLARED_MAX), built on
 * first use: every unknown-node problem shows the same list. */
static const char *declared_nodes(loader *L) {
    if (L->declared) return L->declared;
    if (!(L->declared = weir__malloc(DECLARED_MAX))) return "(out of memory)";
    const weir_graph *g = L->g;
    size_t len = 0;
    L->declared[0] = '\0';
    for (uint32_t i = 0; i < g->n_nodes && len + 1 < DECLARED_MAX; i++) {
        if (!g->nodes[i].id) continue;
        int k = snprintf(L->declared + len, DECLARED_MAX - len, "%s%s", len ? ", " : "", g->nodes[i].id);
        len = k < 0 ? len : len + (size_t)k < DECLARED_MAX ? len + (size_t)k : DECLARED_MAX - 1;
    }
    return L->declared;
}

static bool edge_end(loader *L, json_t *e, size_t i, const char *which, uint32_t *node, const char **port) {
    char where[300], field[64]; /* written only for a problem: loading a large graph prints nothing */
    json_t *end = json_object_get(e, which);
    if (!json_is_object(end)) {
        where_of(where, sizeof where, e, i);
        problem(L, P_BAD_EDGE, edge_at(e, i, NULL, which, NULL, field, sizeof field),
                "%s has no %s object (found %s). %s", where, which, end ? json_kind(end) : "nothing", EDGE_SHAPE);
        return false;
    }
    const char *n = json_string_value(json_object_get(end, "node"));
    if (!n) {
        where_of(where, sizeof where, e, i);
        problem(L, P_BAD_EDGE, edge_at(e, i, NULL, which, "node", field, sizeof field),
                "%s declares a %s with no node. %s", where, which, EDGE_SHAPE);
        return false;
    }
    *port = json_string_value(json_object_get(end, "port"));
    if (!*port || !(*port)[0]) {
        where_of(where, sizeof where, e, i);
        problem(L, P_BAD_EDGE, edge_at(e, i, NULL, which, "port", field, sizeof field),
                "%s declares a %s with no port (node \"%s\"). %s", where, which, n, EDGE_SHAPE);
        return false;
    }
    *node = node_index(L, n);
    if (*node == WEIR_NONE) {
        where_of(where, sizeof where, e, i);
        problem(L, P_UNKNOWN_NODE, edge_at(e, i, NULL, which, "node", field, sizeof field),
                "%s references unknown %s node \"%s\". Declared nodes: %s", where, which, n, declared_nodes(L));
        return false;
    }
    return true;
}

/* Resolve a port name on a node to *index, adding dynamic ones.  False if
 * unknown. */
static bool resolve_port(loader *L, json_t *e, size_t i, weir_node *nd, bool input, const char *port,
                         uint32_t *index) {
    const char **names = input ? nd->inputs : nd->outputs;
    uint32_t n = input ? nd->n_inputs : nd->n_outputs;
    if ((*index = weir__port_index(names, n, port)) != WEIR_NONE) return true;
    unsigned dyn = input ? WEIR_COMPONENT_DYNAMIC_INPUTS : WEIR_COMPONENT_DYNAMIC_OUTPUTS;
    char where[300], list[1024], field[64];
    if ((nd->comp->flags & dyn) && n >= MAX_DYNAMIC_PORTS) {
        where_of(where, sizeof where, e, i);
        problem(L, P_TOO_LARGE, edge_at(e, i, nd->id, input ? "target" : "source", "port", field, sizeof field),
                "%s: node \"%s\" (%s) has %d %s ports already, the most edges may give a node", where, nd->id,
                nd->comp->id, MAX_DYNAMIC_PORTS, input ? "input" : "output");
        return false;
    }
    if (nd->comp->flags & dyn) {
        if (add_port(L->g, nd, input, port, index)) L->oom = true;
        return true;
    }
    where_of(where, sizeof where, e, i);
    names_to_buf(list, sizeof list, names, n);
    problem(L, P_UNKNOWN_PORT, edge_at(e, i, nd->id, input ? "target" : "source", "port", field, sizeof field),
            "%s: node \"%s\" (%s) has no %s port \"%s\"; its %s ports are: %s", where, nd->id, nd->comp->id,
            input ? "input" : "output", port, input ? "input" : "output", list);
    return false;
}

static void load_edge(loader *L, json_t *e, size_t i, edge_ref *r) {
    if (!json_is_object(e)) {
        char field[32];
        snprintf(field, sizeof field, "edges[%zu]", i);
        problem(L, P_BAD_EDGE, ((at){NULL, NULL, field}), "edge at index %zu is %s. %s", i, json_kind(e), EDGE_SHAPE);
        return;
    }
    const char *src_port, *dst_port;
    bool s = edge_end(L, e, i, "source", &r->src, &src_port);
    bool t = edge_end(L, e, i, "target", &r->dst, &dst_port);
    if (!s || !t) return;
    weir_node *sn = &L->g->nodes[r->src], *tn = &L->g->nodes[r->dst];
    if (!sn->comp || !tn->comp) return; /* unknown component already reported */
    bool ps = resolve_port(L, e, i, sn, false, src_port, &r->src_port);
    bool pt = resolve_port(L, e, i, tn, true, dst_port, &r->dst_port);
    r->ok = ps && pt;
}

static edge_ref *load_edges(loader *L, const elems *edges) {
    size_t n = edges->n;
    edge_ref *refs = weir__calloc(n ? n : 1, sizeof *refs);
    if (!refs) {
        L->oom = true;
        return NULL;
    }
    L->g->n_edges = (uint32_t)n;
    for (size_t i = 0; i < n && !L->oom; i++) {
        if (!edges->arr && plain_edge(L, edges, i, &refs[i])) continue;
        json_t *e = elem_get(L, edges, i);
        if (!e) break;
        load_edge(L, e, i, &refs[i]);
        json_decref(e);
    }
    return refs;
}

/* Edge indexes grouped by source (or target) node, in declaration order
 * within a node: node v's edges are list[start[v] .. start[v+1]).  Adjacency
 * in O(nodes + edges), where scanning every edge per node was quadratic. */
typedef struct edge_groups {
    uint32_t *start, *list;
} edge_groups;

static int group_edges(const weir_graph *g, const edge_ref *refs, bool by_target, edge_groups *out) {
    uint32_t n = g->n_nodes, m = g->n_edges;
    out->start = weir__calloc((size_t)n + 2, sizeof *out->start);
    out->list = weir__calloc(m ? m : 1, sizeof *out->list);
    if (!out->start || !out->list) return WEIR_ENOMEM;
    uint32_t *st = out->start;
    for (uint32_t e = 0; e < m; e++) st[(by_target ? refs[e].dst : refs[e].src) + 2]++;
    for (uint32_t v = 2; v < n + 2; v++) st[v] += st[v - 1];
    /* st[v+1] is v's start; filling moves it to v's end, which is v+1's start */
    for (uint32_t e = 0; e < m; e++) out->list[st[(by_target ? refs[e].dst : refs[e].src) + 1]++] = e;
    return 0;
}

static void edge_groups_free(edge_groups *eg) {
    weir__free(eg->start);
    weir__free(eg->list);
}

/* Build per-(node, out port) route ranges in edge order. */
static void build_routes(loader *L, const edge_ref *refs, const edge_groups *out) {
    weir_graph *g = L->g;
    size_t starts = 0;
    for (uint32_t v = 0; v < g->n_nodes; v++) starts += (size_t)g->nodes[v].n_outputs + 1;
    g->routes = weir__calloc(g->n_edges ? g->n_edges : 1, sizeof *g->routes);
    g->route_starts = weir__calloc(starts, sizeof *g->route_starts);
    if (!g->routes || !g->route_starts) {
        L->oom = true;
        return;
    }
    uint32_t k = 0;
    uint32_t *next = g->route_starts;
    for (uint32_t v = 0; v < g->n_nodes; v++) {
        weir_node *nd = &g->nodes[v];
        nd->route_start = next;
        next += nd->n_outputs + 1;
        if (nd->comp) {
            uint32_t ep = weir__port_index(nd->outputs, nd->n_outputs, "error");
            nd->error_port = ep;
        } else {
            nd->error_port = WEIR_NONE;
        }
        for (uint32_t p = 0; p < nd->n_outputs; p++) {
            nd->route_start[p] = k;
            for (uint32_t i = out->start[v]; i < out->start[v + 1]; i++) {
                uint32_t e = out->list[i];
                const edge_ref *r = &refs[e];
                if (r->src_port != p) continue;
                g->routes[k].target = r->dst;
                g->routes[k].target_port = r->dst_port;
                g->routes[k].edge = e;
                k++;
            }
        }
        nd->route_start[nd->n_outputs] = k;
    }
}

/* ---------------------------------------------------------------- topology */

/* Kahn with a FIFO queue seeded by in-degree-0 nodes in declaration order;
 * successors are released in edge-declaration order, one entry per edge. */
static void topology(loader *L, const edge_ref *refs, const edge_groups *out) {
    weir_graph *g = L->g;
    uint32_t n = g->n_nodes;
    uint32_t *indeg = weir__calloc(n ? n : 1, sizeof *indeg);
    g->topo = weir__calloc(n ? n : 1, sizeof *g->topo);
    if (!indeg || !g->topo) {
        weir__free(indeg);
        L->oom = true;
        return;
    }
    for (uint32_t e = 0; e < g->n_edges; e++) {
        indeg[refs[e].dst]++;
        g->nodes[refs[e].dst].in_degree++;
        g->nodes[refs[e].src].out_degree++;
    }
    uint32_t head = 0, tail = 0;
    for (uint32_t v = 0; v < n; v++)
        if (indeg[v] == 0) g->topo[tail++] = v;
    while (head < tail) {
        uint32_t v = g->topo[head++];
        for (uint32_t i = out->start[v]; i < out->start[v + 1]; i++) {
            uint32_t w = refs[out->list[i]].dst;
            if (g->nodes[v].level + 1 > g->nodes[w].level) g->nodes[w].level = g->nodes[v].level + 1;
            if (--indeg[w] == 0) g->topo[tail++] = w;
        }
    }
    if (tail < n) {
        /* Every unsorted node has an unsorted predecessor: walk predecessors
         * until a node repeats, then print that cycle forwards. */
        uint32_t *seen = weir__calloc(n, sizeof *seen), *path = weir__calloc(n + 1, sizeof *path);
        edge_groups in = {0};
        if (!seen || !path || group_edges(g, refs, true, &in)) {
            L->oom = true;
        } else {
            uint32_t v = 0;
            while (indeg[v] == 0) v++;
            uint32_t len = 0;
            while (!seen[v]) {
                seen[v] = ++len;
                path[len - 1] = v;
                for (uint32_t i = in.start[v]; i < in.start[v + 1]; i++)
                    if (indeg[refs[in.list[i]].src] > 0) {
                        v = refs[in.list[i]].src;
                        break;
                    }
            }
            /* path[seen[v]-1 .. len-1] is the cycle, walked backwards; print
             * it forwards, starting from its first-declared node. */
            uint32_t first = seen[v] - 1, start = first;
            for (uint32_t i = first; i < len; i++)
                if (path[i] < path[start]) start = i;
            char buf[WEIR_ERROR_MAX / 2] = "";
            uint32_t cyc = len - first;
            for (uint32_t k = 0; k <= cyc; k++) {
                /* walking backwards through path from start, wrapping */
                uint32_t i = first + (start - first + cyc - k % cyc) % cyc;
                size_t l = strlen(buf);
                if (l + 1 >= sizeof buf) break;
                snprintf(buf + l, sizeof buf - l, "%s%s", k ? " → " : "", g->nodes[path[i]].id);
            }
            problem(L, P_CYCLE, ((at){0}),
                    "graph contains a cycle: %s; a graph must be acyclic — remove one of these edges", buf);
        }
        weir__free(seen);
        weir__free(path);
        edge_groups_free(&in);
    }
    for (uint32_t i = 0; i < tail; i++) g->nodes[g->topo[i]].topo_pos = i;
    weir__free(indeg);
}

json_t *weir_graph_topology(const weir_graph *g) {
    json_t *sorted = json_array(), *levels = json_object(), *in = json_array(), *out = json_array();
    for (uint32_t i = 0; i < g->n_nodes; i++) json_array_append_new(sorted, json_string(g->nodes[g->topo[i]].id));
    for (uint32_t v = 0; v < g->n_nodes; v++) {
        const weir_node *nd = &g->nodes[v];
        json_object_set_new(levels, nd->id, json_integer(nd->level));
        if (nd->in_degree == 0) json_array_append_new(in, json_string(nd->id));
        if (nd->out_degree == 0) json_array_append_new(out, json_string(nd->id));
    }
    return json_pack("{s:o,s:o,s:o,s:o}", "sorted", sorted, "levels", levels, "inputNodes", in, "outputNodes", out);
}

/* -------------------------------------------------------------- prepare */

static void prepare_nodes(loader *L) {
    weir_graph *g = L->g;
    for (uint32_t v = 0; v < g->n_nodes; v++) {
        weir_node *nd = &g->nodes[v];
        if (!nd->comp || !nd->comp->prepare || !nd->config) continue;
        weir_node_info info = {nd->id, nd->n_inputs, (const char *const *)nd->inputs, nd->n_outputs,
                               (const char *const *)nd->outputs, nd->comp, L->expr, &L->zones};
        weir_error perr;
        weir__error_clear(&perr);
        int rc = nd->comp->prepare(&info, nd->config, &nd->prepared, &perr);
        if (rc == WEIR_ENOMEM || L->zones.oom) L->oom = true;
        else if (rc)
            problem(L, P_BAD_CONFIG, ((at){nd->id, NULL, "config"}), "node \"%s\" (%s): %s", nd->id, nd->comp->id,
                    perr.message[0] ? perr.message : weir_strerror(rc));
    }
}

/* ------------------------------------------------------------------- load */

/* Load a document whose "nodes" and "edges" arrays are given as elems (a
 * member given as anything but an array is in doc, and reported).  With
 * *reparse set on return an element of the text did not parse: nothing was
 * reported, the caller loads the text whole. */
/* g->graph_inputs from a flattened document's subgraphs: each entry's
 * inputs (name → {node, port}) whose inner node is one of g's.  Nonzero
 * when out of memory. */
static int graph_inputs(weir_graph *g, json_t *subgraphs) {
    size_t i;
    json_t *sg;
    json_array_foreach(subgraphs, i, sg) {
        const char *path = json_string_value(json_object_get(sg, "path"));
        json_t *in = json_object_get(sg, "inputs");
        if (!path || !json_is_object(in) || weir__graph_node(g, path) != WEIR_NONE) continue;
        const char *name;
        json_t *to, *ports = json_object();
        if (!ports) return 1;
        json_object_foreach(in, name, to) {
            const char *node = json_string_value(json_object_get(to, "node"));
            if (json_is_string(json_object_get(to, "port")) && node && weir__graph_node(g, node) != WEIR_NONE &&
                json_object_set(ports, name, to)) {
                json_decref(ports);
                return 1;
            }
        }
        if (!g->graph_inputs && !(g->graph_inputs = json_object())) {
            json_decref(ports);
            return 1;
        }
        if (json_object_set_new(g->graph_inputs, path, ports)) return 1;
    }
    return 0;
}

static int load(const weir_registry *reg, json_t *doc, const elems *nodes, const elems *edges,
                const weir_graph_options *opts, weir_graph **out, weir_error *err, bool *reparse) {
    *out = NULL;
    *reparse = false;
    weir__error_clear(err);
    bool want_details = opts && opts->details;
    loader L = {.reg = reg,
                .problems = json_array(),
                .details = want_details ? json_array() : NULL,
                .g = weir__calloc(1, sizeof(weir_graph)),
                .expr = {WEIR_EXPR_MAX_STEPS_DEFAULT, WEIR_EXPR_MAX_BYTES_DEFAULT}};
    if (opts && opts->expr.max_steps) L.expr.max_steps = opts->expr.max_steps;
    if (opts && opts->expr.max_bytes) L.expr.max_bytes = opts->expr.max_bytes;
    weir__zones_init(&L.zones, opts);
    if (!L.problems || (want_details && !L.details) || !L.g || !(L.g->empty = json_object())) {
        json_decref(L.problems);
        json_decref(L.details);
        weir__free(L.g);
        return weir__error(err, WEIR_ENOMEM, "out of memory loading graph");
    }
    weir_graph *g = L.g;
    g->refs = 1;
    edge_ref *refs = NULL;
    edge_groups by_src = {0};
    bool parsed_all = false; /* every node and edge element was read */

    if (!json_is_object(doc)) {
        problem(&L, P_NOT_A_GRAPH, ((at){0}),
                "a graph definition is a JSON object with \"symbia\", \"name\", \"nodes\" and \"edges\"");
        goto done;
    }
    const char *sym = json_string_value(json_object_get(doc, "symbia"));
    if (!sym || !sym[0])
        problem(&L, P_MISSING_FIELD, ((at){NULL, NULL, "symbia"}),
                "graph missing symbia version: add \"symbia\": \"1.0\"");
    const char *name = json_string_value(json_object_get(doc, "name"));
    if (!name || !name[0])
        problem(&L, P_MISSING_FIELD, ((at){NULL, NULL, "name"}), "graph missing name: add \"name\": \"my-graph\"");
    if (!nodes->present)
        problem(&L, P_MISSING_FIELD, ((at){NULL, NULL, "nodes"}),
                "graph missing nodes array: add \"nodes\": [{\"id\": ..., \"component\": ...}]");
    if (!edges->present)
        problem(&L, P_MISSING_FIELD, ((at){NULL, NULL, "edges"}),
                "graph missing edges array: add \"edges\": [] (it may be empty)");
    read_metadata(&L, doc);
    if (!nodes->present || !edges->present) goto done;
    if (edges->n >= WEIR_NONE) {
        problem(&L, P_TOO_LARGE, ((at){NULL, NULL, "edges"}), "graph has too many edges");
        goto done;
    }
    load_nodes(&L, nodes);
    if (L.oom || L.reparse || !g->nodes) goto done;
    refs = load_edges(&L, edges);
    parsed_all = true;
    if (L.oom || L.reparse || json_array_size(L.problems)) goto done;
    if (group_edges(g, refs, false, &by_src)) {
        L.oom = true;
        goto done;
    }
    build_routes(&L, refs, &by_src);
    if (L.oom) goto done;
    topology(&L, refs, &by_src);
    if (L.oom || json_array_size(L.problems)) goto done;
    prepare_nodes(&L);
    if (L.oom || json_array_size(L.problems)) goto done;
    /* An open input source (WEIR_COMPONENT_SOURCE) keeps its executions
     * running unless the graph's metadata says otherwise. */
    for (uint32_t i = 0; g->completion == WEIR_COMPLETION_DEFAULT && i < g->n_nodes; i++)
        if (g->nodes[i].comp->flags & WEIR_COMPONENT_SOURCE) g->completion = WEIR_COMPLETION_NEVER;
    const char *gid = opts && opts->id ? opts->id : name;
    const char *version = json_string_value(json_object_get(doc, "version"));
    json_t *md = json_object_get(doc, "metadata");
    g->metadata = json_is_object(md) ? json_incref(md) : NULL;
    if (graph_inputs(g, json_object_get(doc, "subgraphs"))) L.oom = true;
    g->id = weir__strdup(gid);
    g->name = weir__strdup(name);
    if (!g->id || !g->name || (version && !(g->version = weir__strdup(version)))) L.oom = true;
    g->zones = weir__zones_take(&L.zones);

done:
    /* Problems found before some elements of a text were parsed: one of
     * those may not be JSON, and then that is the answer (the whole
     * document's), so the text is loaded whole instead. */
    if (!parsed_all && !L.oom && (text_unread(nodes) || text_unread(edges))) L.reparse = true;
    weir__free(refs);
    edge_groups_free(&by_src);
    weir__free(L.declared);
    weir__free(L.comps);
    weir__zones_fini(&L.zones);
    int rc = 0;
    if (L.reparse) {
        *reparse = true;
        rc = WEIR_EGRAPH;
        json_decref(L.problems);
        json_decref(L.details);
    } else {
        rc = L.oom ? WEIR_ENOMEM : json_array_size(L.problems) ? WEIR_EGRAPH : 0;
        weir__graph_problems_end(rc, L.problems, L.details, opts, "loading", err);
    }
    if (rc) {
        graph_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

/* Flatten doc (compose.c) into *flat.  When that finds problems, what
 * could be flattened is loaded too, so that the answer lists the other
 * problems as well (components, config, cycles), after those of the
 * composition: WEIR_EGRAPH with them all, as load reports. */
static int compose_problems(const weir_registry *reg, json_t *doc, const weir_graph_options *opts, json_t **flat,
                            weir_error *err) {
    bool want_details = opts && opts->details;
    json_t *problems = json_array(), *details = want_details ? json_array() : NULL;
    if (!problems || (want_details && !details)) {
        json_decref(problems);
        json_decref(details);
        return weir__error(err, WEIR_ENOMEM, "out of memory loading graph");
    }
    int rc = weir__graph_flatten(reg, doc, opts, flat, problems, details);
    if (rc == WEIR_EGRAPH) {
        weir_graph_options more = opts ? *opts : (weir_graph_options){0};
        more.problems = problems;
        more.details = details;
        json_t *n = json_object_get(*flat, "nodes"), *e = json_object_get(*flat, "edges");
        elems nodes = {.present = json_is_array(n), .arr = n, .n = json_array_size(n)};
        elems edges = {.present = json_is_array(e), .arr = e, .n = json_array_size(e)};
        bool reparse;
        weir_graph *g = NULL;
        weir_error lerr;
        if (load(reg, *flat, &nodes, &edges, &more, &g, &lerr, &reparse) == WEIR_ENOMEM) rc = WEIR_ENOMEM;
        weir_graph_unref(g);
        json_decref(*flat);
        *flat = NULL;
    }
    return weir__graph_problems_end(rc, problems, details, opts, "loading", err);
}

int weir__graph_problems_end(int rc, json_t *problems, json_t *details, const weir_graph_options *opts,
                             const char *doing, weir_error *err) {
    if (rc == WEIR_ENOMEM) {
        weir__error(err, rc, "out of memory %s graph", doing);
    } else if (rc) {
        weir__error(err, WEIR_EGRAPH, "%s", "");
        size_t i;
        json_t *p;
        json_array_foreach(problems, i, p) weir__error_append(err, "%s%s", i ? "\n" : "", json_string_value(p));
        if (opts && opts->problems) json_array_extend(opts->problems, problems);
        if (details && opts && opts->details) json_array_extend(opts->details, details);
    }
    json_decref(problems);
    json_decref(details);
    return rc;
}

int weir_graph_load(const weir_registry *reg, json_t *doc, const weir_graph_options *opts, weir_graph **out,
                    weir_error *err) {
    if (opts && opts->flattened) *opts->flattened = NULL;
    json_t *flat = NULL;
    if (weir__graph_composes(doc)) { /* graph: nodes become nodes with path ids first (compose.c) */
        *out = NULL;
        int rc = compose_problems(reg, doc, opts, &flat, err);
        if (rc) return rc;
        doc = flat;
    }
    json_t *n = json_object_get(doc, "nodes"), *e = json_object_get(doc, "edges");
    elems nodes = {.present = json_is_array(n), .arr = n, .n = json_array_size(n)};
    elems edges = {.present = json_is_array(e), .arr = e, .n = json_array_size(e)};
    bool reparse;
    int rc = load(reg, doc, &nodes, &edges, opts, out, err, &reparse);
    if (!rc && flat && opts && opts->flattened && json_object_get(flat, "subgraphs")) *opts->flattened = flat;
    else json_decref(flat);
    return rc;
}

/* ------------------------------------------------------------ load text */

/* A graph's text is read in two passes so that it is never whole in memory
 * as json_t: a scan of the top-level object that parses every member but
 * "nodes" and "edges" (a skeleton document) and records where each element
 * of those two arrays lies; then the load, which parses each element when
 * its turn comes and frees it after.  The scan checks the punctuation
 * between the pieces; jansson checks each piece.  Anything the scan does
 * not take as given — a top-level key with an escape or a non-ASCII byte, a
 * repeated key, nesting near jansson's depth limit, a piece that does not
 * parse — sends the text to the whole-document path (json_loadb), which
 * gives the same result and reports errors where they lie. */
#define SCAN_DEPTH_MAX 2000 /* below jansson's 2048, counting the two levels above an element */
#define SCAN_KEY_MAX 256

typedef struct scanner {
    const char *p, *end;
} scanner;


static void scan_ws(scanner *s) {
    while (s->p < s->end && is_ws(*s->p)) s->p++;
}

/* Past one value: strings and nesting followed, contents left to jansson.
 * False when it does not end, nests too deep, or is empty. */
static bool scan_value(scanner *s) {
    const char *p = s->p, *end = s->end;
    if (p >= end) return false;
    if (*p != '"' && *p != '{' && *p != '[') { /* a number or a literal: up to a delimiter */
        while (p < end && *p != ',' && *p != '}' && *p != ']' && !is_ws(*p)) p++;
        if (p == s->p) return false;
        s->p = p;
        return true;
    }
    int depth = 0;
    do {
        if (p >= end) return false;
        char c = *p++;
        if (c == '"') {
            for (;; p++) {
                if (p >= end) return false;
                if (*p == '\\') p++;
                else if (*p == '"') break;
            }
            p++;
        } else if (c == '{' || c == '[') {
            if (++depth > SCAN_DEPTH_MAX) return false;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    } while (depth > 0);
    s->p = p;
    return true;
}

/* The elements of the array at s->p ('['). */
static int scan_array(scanner *s, elems *out) {
    out->present = true;
    s->p++;
    scan_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return 0;
    }
    for (;;) {
        const char *start = s->p;
        if (!scan_value(s)) return WEIR_EINVAL;
        if (weir__grow((void **)&out->spans, &out->cap, out->n + 1, sizeof *out->spans)) return WEIR_ENOMEM;
        out->spans[out->n++] = (span){(size_t)(start - out->text), (size_t)(s->p - start)};
        scan_ws(s);
        if (s->p >= s->end) return WEIR_EINVAL;
        char c = *s->p++;
        if (c == ']') return 0;
        if (c != ',') return WEIR_EINVAL;
        scan_ws(s);
    }
}

/* The skeleton of text into *doc (NEW) and the elements of its arrays.
 * WEIR_EINVAL: the text is for the whole-document path. */
static int scan_graph(const char *text, size_t len, json_t **doc, elems *nodes, elems *edges) {
    scanner s = {text, text + len};
    nodes->text = edges->text = text;
    scan_ws(&s);
    if (s.p >= s.end || *s.p != '{') return WEIR_EINVAL;
    s.p++;
    if (!(*doc = json_object())) return WEIR_ENOMEM;
    scan_ws(&s);
    if (s.p < s.end && *s.p == '}') s.p++;
    else
        for (;;) {
            if (s.p >= s.end || *s.p != '"') return WEIR_EINVAL;
            const char *key = ++s.p;
            while (s.p < s.end && *s.p != '"' && *s.p != '\\' && (unsigned char)*s.p >= 0x20 &&
                   (unsigned char)*s.p < 0x80)
                s.p++;
            size_t klen = (size_t)(s.p - key);
            if (s.p >= s.end || *s.p != '"' || klen >= SCAN_KEY_MAX) return WEIR_EINVAL;
            char name[SCAN_KEY_MAX];
            memcpy(name, key, klen);
            name[klen] = '\0';
            s.p++;
            scan_ws(&s);
            if (s.p >= s.end || *s.p != ':') return WEIR_EINVAL;
            s.p++;
            scan_ws(&s);
            elems *arr = strcmp(name, "nodes") == 0 ? nodes : strcmp(name, "edges") == 0 ? edges : NULL;
            if (json_object_get(*doc, name) || (arr && arr->present)) return WEIR_EINVAL; /* jansson refuses it */
            if (arr && s.p < s.end && *s.p == '[') {
                int rc = scan_array(&s, arr);
                if (rc) return rc;
            } else {
                const char *start = s.p;
                if (!scan_value(&s)) return WEIR_EINVAL;
                json_t *v = json_loadb(start, (size_t)(s.p - start), JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
                if (!v || json_object_set_new(*doc, name, v)) return WEIR_EINVAL;
            }
            scan_ws(&s);
            if (s.p >= s.end) return WEIR_EINVAL;
            char c = *s.p++;
            if (c == '}') break;
            if (c != ',') return WEIR_EINVAL;
            scan_ws(&s);
        }
    scan_ws(&s);
    return s.p == s.end ? 0 : WEIR_EINVAL;
}

int weir_graph_load_text(const weir_registry *reg, const char *text, size_t len, const weir_graph_options *opts,
                         weir_graph **out, weir_error *err) {
    *out = NULL;
    json_t *doc = NULL;
    elems nodes = {0}, edges = {0};
    bool reparse = true;
    /* a graph that may compose is flattened as a document (compose.c) */
    int rc = memmem(text, len, "\"graph:", 7) || memmem(text, len, "\"ports\"", 7)
                 ? WEIR_EINVAL
                 : scan_graph(text, len, &doc, &nodes, &edges);
    if (rc == 0) rc = load(reg, doc, &nodes, &edges, opts, out, err, &reparse);
    json_decref(doc);
    weir__free(nodes.spans);
    weir__free(edges.spans);
    if (!reparse) return rc;
    json_error_t je;
    doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        rc = weir__error(err, WEIR_EGRAPH, "graph is not valid JSON: %s at line %d, column %d", je.text, je.line,
                         je.column);
        const char *msg = err ? err->message : je.text;
        if (opts && opts->problems) json_array_append_new(opts->problems, json_string(msg));
        if (opts && opts->details)
            json_array_append_new(opts->details, json_pack("{s:s,s:s}", "code", CODES[P_PARSE_ERROR], "message", msg));
        return rc;
    }
    rc = weir_graph_load(reg, doc, opts, out, err);
    json_decref(doc);
    return rc;
}
