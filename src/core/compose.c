/*
 * Composition (SPEC §1): graph:<name>[@<version>] nodes flattened into the
 * outer graph before it loads (weir_graph_flatten; the contract is in
 * weir.h).  Each graph node becomes its graph's nodes with path ids
 * ("enrich/lookup"), and every edge to or from it is rewired to the inner
 * port its graph's metadata.ports maps.  What the load checks anyway
 * (components, config, unknown nodes of an edge, cycles) is left to it:
 * the flat document names the paths, so its messages do too.  Here: the
 * graphs found, the port mappings, recursion, depth and size.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/internal.h"

static const char PREFIX[] = "graph:";

typedef struct flattener {
    const weir_registry *reg;
    weir_graph_resolver resolve;
    void *resolve_ud;
    size_t max_nodes, max_bytes;
    /* what graph nodes brought, all told: their nodes and edges, graph
     * nodes too (bounded by max_nodes), and the bytes of the graph
     * documents, each use counted (bounded by max_bytes) */
    size_t expanded, bytes;
    json_t *nodes, *edges, *subgraphs; /* the flat document's arrays */
    json_t *found; /* "name@version" → the document resolved: a graph used many times is asked for once */
    json_t *sizes; /* "name@version" → its compact JSON's size (counted per use) */
    json_t *problems, *details;
    const char *chain[WEIR_GRAPH_MAX_DEPTH + 2]; /* graph names from the top down */
    int depth;
    bool oom, too_many;
} flattener;

/* A problem, as the load reports one: a message, and {code, message,
 * nodeId?, field?}. */
static void problem(flattener *F, const char *code, const char *node, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void problem(flattener *F, const char *code, const char *node, const char *field, const char *fmt, ...) {
    char buf[WEIR_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof buf) memcpy(buf + sizeof buf - 4, "...", 4);
    json_t *msg = json_string(buf);
    if (!msg || json_array_append(F->problems, msg)) F->oom = true;
    if (F->details && msg) {
        json_t *d = json_pack("{s:s,s:O}", "code", code, "message", msg);
        if (!d || (node && json_object_set_new(d, "nodeId", json_string(node))) ||
            (field && json_object_set_new(d, "field", json_string(field))) || json_array_append(F->details, d))
            F->oom = true;
        json_decref(d);
    }
    json_decref(msg);
}

/* prefix + id, NEW string (NULL: out of memory). */
static json_t *path_of(const char *prefix, const char *id) { return json_sprintf("%s%s", prefix, id); }

/* "a, b, c": the keys of an object (the ports of a mapping, the nodes of a
 * graph), cut to fit. */
static void keys_of(json_t *obj, char *buf, size_t cap) {
    size_t len = 0;
    const char *k;
    json_t *v;
    buf[0] = '\0';
    json_object_foreach(obj, k, v) {
        int n = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", k);
        if (n < 0 || (size_t)n >= cap - len) {
            if (cap >= 4) memcpy(buf + cap - 4, "...", 4);
            return;
        }
        len += (size_t)n;
    }
    if (!len) snprintf(buf, cap, "(none)");
}

/* The chain of graph names so far, then `last`: "a → b → a". */
static void chain_of(const flattener *F, const char *last, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i <= F->depth + 1; i++) {
        const char *name = i <= F->depth ? F->chain[i] : last;
        int n = snprintf(buf + len, cap - len, "%s%s", i ? " → " : "", name ? name : "?");
        if (n < 0 || (size_t)n >= cap - len) return;
        len += (size_t)n;
    }
}

static bool port_declared(const weir_port_def *defs, size_t n, const char *port) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(defs[i].name, port) == 0) return true;
    return false;
}

static void port_list(const weir_port_def *defs, size_t n, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", defs[i].name);
        if (k < 0 || (size_t)k >= cap - len) return;
        len += (size_t)k;
    }
    if (!len) snprintf(buf, cap, "(none)");
}

/* ------------------------------------------------------------- the ports */

/* One entry of metadata.ports (inputs when `in`) resolved against the
 * graph's nodes (locals): *node, *port of the flat graph.  False after a
 * problem is reported (or silently when the inner node is one already
 * reported broken). */
static bool map_port(flattener *F, json_t *locals, const char *gpath, const char *who, bool in, size_t i,
                     json_t *entry, const char **name, json_t **target) {
    const char *dir = in ? "inputs" : "outputs";
    char field[96];
    snprintf(field, sizeof field, "metadata.ports.%s[%zu]", dir, i);
    *name = json_string_value(json_object_get(entry, "name"));
    const char *node = json_string_value(json_object_get(entry, "node"));
    const char *port = json_string_value(json_object_get(entry, "port"));
    if (!json_is_object(entry) || !*name || !(*name)[0] || !node || !node[0] || !port || !port[0]) {
        problem(F, "bad-ports", gpath, field,
                "%s: %s is not {\"name\", \"node\", \"port\"} (each a non-empty string): it maps the graph's %s "
                "port \"name\" to port \"port\" of its node \"node\"",
                who, field, in ? "input" : "output");
        return false;
    }
    json_t *local = json_object_get(locals, node);
    if (!local) {
        char list[1024];
        keys_of(locals, list, sizeof list);
        problem(F, "bad-ports", gpath, field,
                "%s: %s.node \"%s\" is not a node of the graph; map port \"%s\" to one of its nodes: %s",
                who, field, node, *name, list);
        return false;
    }
    if (json_is_true(json_object_get(local, "broken"))) return false;
    json_t *inner = json_object_get(local, in ? "in" : "out");
    const char *flat = json_string_value(json_object_get(local, "flat"));
    if (inner) { /* a graph node: one of its own mapped ports */
        json_t *to = json_object_get(inner, port);
        if (!to) {
            char list[1024];
            keys_of(inner, list, sizeof list);
            problem(F, "bad-ports", flat, field,
                    "%s: %s maps port \"%s\" to %s port \"%s\" of node \"%s\" (%s), which has none; its %s "
                    "ports are: %s",
                    who, field, *name, in ? "input" : "output", port, flat,
                    json_string_value(json_object_get(local, "component")), in ? "input" : "output", list);
            return false;
        }
        *target = json_incref(to);
        return true;
    }
    const weir_component *c = weir_registry_find(F->reg, json_string_value(json_object_get(local, "component")));
    if (c) { /* an unknown component is the load's to report */
        const weir_port_def *mine = in ? c->inputs : c->outputs, *other = in ? c->outputs : c->inputs;
        size_t n_mine = in ? c->n_inputs : c->n_outputs, n_other = in ? c->n_outputs : c->n_inputs;
        unsigned dyn = in ? WEIR_COMPONENT_DYNAMIC_INPUTS : WEIR_COMPONENT_DYNAMIC_OUTPUTS;
        if (!port_declared(mine, n_mine, port) && !(c->flags & dyn)) {
            char list[1024];
            port_list(mine, n_mine, list, sizeof list);
            if (port_declared(other, n_other, port))
                problem(F, "bad-ports", flat, field,
                        "%s: %s maps %s port \"%s\" to port \"%s\" of node \"%s\" (%s), which is an %s port; "
                        "map it to one of its %s ports: %s",
                        who, field, in ? "input" : "output", *name, port, flat, c->id, in ? "output" : "input",
                        in ? "input" : "output", list);
            else
                problem(F, "bad-ports", flat, field,
                        "%s: %s maps port \"%s\" to port \"%s\" of node \"%s\" (%s), which has no such port; "
                        "its %s ports are: %s",
                        who, field, *name, port, flat, c->id, in ? "input" : "output", list);
            return false;
        }
    }
    *target = json_pack("{s:s,s:s}", "node", flat, "port", port);
    if (!*target) F->oom = true;
    return *target != NULL;
}

/* metadata.ports of a graph into *in and *out (NEW objects: name → {node,
 * port} of the flat graph).  gpath: the graph node's path (NULL: the top). */
static void read_ports(flattener *F, json_t *doc, json_t *locals, const char *gpath, const char *gname, json_t **in,
                       json_t **out) {
    char who[WEIR_ERROR_MAX / 2]; /* how messages name the graph: with the path where it is used */
    if (gpath) snprintf(who, sizeof who, "graph \"%s\" (node \"%s\")", gname, gpath);
    else snprintf(who, sizeof who, "graph \"%s\"", gname);
    *in = json_object();
    *out = json_object();
    if (!*in || !*out) {
        F->oom = true;
        return;
    }
    json_t *ports = json_object_get(json_object_get(doc, "metadata"), "ports");
    if (!ports) return;
    if (!json_is_object(ports)) {
        problem(F, "bad-ports", gpath, "metadata.ports",
                "%s: metadata.ports must be an object {\"inputs\": [{\"name\", \"node\", \"port\"}], "
                "\"outputs\": [...]}",
                who);
        return;
    }
    for (int d = 0; d < 2; d++) {
        bool is_in = d == 0;
        const char *dir = is_in ? "inputs" : "outputs";
        json_t *list = json_object_get(ports, dir), *map = is_in ? *in : *out;
        if (!list) continue;
        char field[64];
        snprintf(field, sizeof field, "metadata.ports.%s", dir);
        if (!json_is_array(list)) {
            problem(F, "bad-ports", gpath, field,
                    "%s: %s must be an array of {\"name\", \"node\", \"port\"}", who, field);
            continue;
        }
        size_t i;
        json_t *entry;
        json_t *seen = json_object(); /* names met, mapped or not */
        if (!seen) F->oom = true;
        json_array_foreach(list, i, entry) {
            const char *name;
            json_t *target = NULL;
            bool ok = map_port(F, locals, gpath, who, is_in, i, entry, &name, &target);
            if (name && name[0] && seen && json_object_get(seen, name)) {
                snprintf(field, sizeof field, "metadata.ports.%s[%zu].name", dir, i);
                problem(F, "bad-ports", gpath, field,
                        "%s: %s port \"%s\" is named twice in metadata.ports.%s; port names are unique "
                        "per direction — rename one",
                        who, is_in ? "input" : "output", name, dir);
            } else if (name && name[0] && seen &&
                       (json_object_set_new(seen, name, json_null()) || (ok && json_object_set(map, name, target)))) {
                F->oom = true;
            }
            json_decref(target);
        }
        json_decref(seen);
    }
}

/* -------------------------------------------------------------- expand */

static void expand(flattener *F, json_t *doc, const char *prefix, const char *gpath, json_t **in, json_t **out,
                   json_t **locals_out);

/* Count n elements (nodes, edges) and bytes of graph documents brought in
 * under gpath; false (reported once, too_many set) past a bound: the
 * graph's own are bounded by its size, what its graph nodes bring can
 * multiply (one graph used k times in each of d levels is k^d). */
static bool count_expanded(flattener *F, const char *gpath, size_t n, size_t bytes) {
    F->expanded += n;
    F->bytes += bytes;
    if (F->too_many) return false;
    if (F->expanded > F->max_nodes)
        problem(F, "too-large", gpath, NULL,
                "the graph's graph nodes expand to more than %zu nodes and edges (MAX_COMPOSED_NODES); use fewer or "
                "smaller graph nodes",
                F->max_nodes);
    else if (F->bytes > F->max_bytes)
        problem(F, "too-large", gpath, NULL,
                "the graph's graph nodes expand more than %zu bytes of graphs (MAX_COMPOSED_BYTES: each use counts "
                "its graph's JSON); use fewer or smaller graph nodes (large config values)",
                F->max_bytes);
    else
        return true;
    F->too_many = true;
    return false;
}

/* "graph:<name>[@<version>]" of node `path` expanded under path + "/";
 * *local receives what the node stands for ({in, out, component, flat} or
 * {broken}). */
static json_t *expand_node(flattener *F, const char *ref, const char *path, json_t *jn) {
    char field[] = "component";
    const char *spec = ref + sizeof PREFIX - 1;
    const char *at = strrchr(spec, '@');
    size_t name_len = at ? (size_t)(at - spec) : strlen(spec);
    json_t *broken = json_pack("{s:b}", "broken", 1);
    if (!broken) {
        F->oom = true;
        return NULL;
    }
    if (name_len == 0 || (at && !at[1])) {
        problem(F, "unknown-graph", path, field,
                "node \"%s\": component \"%s\" names no graph; write \"graph:<name>\" or \"graph:<name>@<version>\"",
                path, ref);
        return broken;
    }
    json_t *config = json_object_get(jn, "config");
    if (config && !(json_is_object(config) && json_object_size(config) == 0) && !json_is_null(config)) {
        problem(F, "bad-config", path, "config",
                "node \"%s\" (%s) takes no config: a graph node is configured by its graph's own nodes; remove "
                "\"config\"",
                path, ref);
        return broken;
    }
    char *name = weir__strndup(spec, name_len);
    if (!name) {
        F->oom = true;
        return broken;
    }
    const char *version = at ? at + 1 : NULL;
    for (int i = 0; i <= F->depth; i++) {
        if (!F->chain[i] || strcmp(F->chain[i], name) != 0) continue;
        char chain[WEIR_ERROR_MAX / 2];
        chain_of(F, name, chain, sizeof chain);
        problem(F, "recursion", path, field,
                "graph \"%s\" contains itself: %s (node \"%s\" uses %s); a graph may not contain itself, directly or "
                "through other graphs — remove that node or make it use another graph",
                name, chain, path, ref);
        weir__free(name);
        return broken;
    }
    if (F->depth + 1 > WEIR_GRAPH_MAX_DEPTH) {
        problem(F, "too-large", path, field,
                "node \"%s\": graphs nest deeper than %d levels here (WEIR_GRAPH_MAX_DEPTH); flatten some of them",
                path, WEIR_GRAPH_MAX_DEPTH);
        weir__free(name);
        return broken;
    }
    json_t *sub = NULL;
    weir_error rerr;
    weir__error_clear(&rerr);
    json_t *key = json_sprintf("%s@%s", name, version ? version : "");
    int rc = 0;
    if (!key) rc = WEIR_ENOMEM;
    else if ((sub = json_incref(json_object_get(F->found, json_string_value(key)))))
        rc = 0;
    else if (!(rc = F->resolve ? F->resolve(F->resolve_ud, name, version, &sub, &rerr) : WEIR_ENOTFOUND) &&
             json_is_object(sub) && json_object_set(F->found, json_string_value(key), sub))
        rc = WEIR_ENOMEM;
    size_t size = 0;
    if (!rc && json_is_object(sub)) {
        json_t *known = json_object_get(F->sizes, json_string_value(key));
        size = known ? (size_t)json_integer_value(known) : json_dumpb(sub, NULL, 0, JSON_COMPACT);
        if (!known && json_object_set_new(F->sizes, json_string_value(key), json_integer((json_int_t)size)))
            rc = WEIR_ENOMEM;
    }
    json_decref(key);
    if (rc == WEIR_ENOMEM) {
        F->oom = true;
    } else if (rc || !json_is_object(sub)) {
        problem(F, "unknown-graph", path, field, "node \"%s\": %s: %s", path, ref,
                rc && rerr.message[0] ? rerr.message
                : rc ? "graphs cannot be resolved here (nothing to look them up in); give the loader a resolver"
                     : "the resolver answered something that is not a graph document");
    } else if (!count_expanded(F, path, 0, size)) {
        /* reported: past MAX_COMPOSED_BYTES */
    } else {
        json_t *in = NULL, *out = NULL;
        json_t *sub_prefix = json_sprintf("%s/", path); /* as long as the path is */
        if (!sub_prefix) F->oom = true;
        F->chain[++F->depth] = name;
        const char *v = json_string_value(json_object_get(sub, "version"));
        json_t *entry = json_pack("{s:s,s:s,s:s?}", "path", path, "name", name, "version", v);
        if (!entry || json_array_append_new(F->subgraphs, entry)) F->oom = true;
        size_t before = json_array_size(F->problems);
        if (sub_prefix) expand(F, sub, json_string_value(sub_prefix), path, &in, &out, NULL);
        json_decref(sub_prefix);
        F->depth--;
        /* a graph with problems of its own stays broken: the edges to it
         * would only repeat them */
        if (in && out && json_array_size(F->problems) == before) {
            /* where an inject that names the graph node goes (graph.c), and
             * where its outputs come from (the dashboard names them so) */
            if (entry && ((json_object_size(in) && json_object_set(entry, "inputs", in)) ||
                          (json_object_size(out) && json_object_set(entry, "outputs", out))))
                F->oom = true;
            json_decref(broken);
            broken = json_pack("{s:o,s:o,s:s,s:s}", "in", in, "out", out, "component", ref, "flat", path);
            in = out = NULL;
            if (!broken) F->oom = true;
        }
        json_decref(in);
        json_decref(out);
    }
    json_decref(sub);
    weir__free(name);
    return broken;
}

/* One end ("source" or "target") of an edge of the graph under prefix,
 * rewritten to the flat graph: NEW {node, port}, or NULL when it touches a
 * broken graph node (reported already) or has a problem (reported). */
static json_t *edge_end(flattener *F, json_t *locals, const char *prefix, const char *gname, const char *eid,
                        json_t *end, bool source) {
    const char *node = json_string_value(json_object_get(end, "node"));
    const char *port = json_string_value(json_object_get(end, "port"));
    json_t *local = json_object_get(locals, node);
    if (!local) { /* unknown: the load names it (with the path) */
        json_t *p = path_of(prefix, node), *r = json_pack("{s:o,s:s}", "node", p, "port", port);
        if (!r) F->oom = true;
        return r;
    }
    if (json_is_true(json_object_get(local, "broken"))) return NULL;
    json_t *map = json_object_get(local, source ? "out" : "in");
    if (!map) {
        json_t *r = json_pack("{s:O,s:s}", "node", json_object_get(local, "flat"), "port", port);
        if (!r) F->oom = true;
        return r;
    }
    json_t *to = json_object_get(map, port);
    if (!to) {
        char list[1024], field[16];
        keys_of(map, list, sizeof list);
        snprintf(field, sizeof field, "%s.port", source ? "source" : "target");
        const char *flat = json_string_value(json_object_get(local, "flat"));
        problem(F, "unknown-port", flat, field,
                "edge \"%s%s\" of graph \"%s\": node \"%s\" (%s) has no %s port \"%s\"; its %s ports "
                "(metadata.ports.%s of its graph) are: %s",
                prefix, eid, gname, flat, json_string_value(json_object_get(local, "component")), source ? "output" : "input",
                port, source ? "output" : "input", source ? "outputs" : "inputs", list);
        return NULL;
    }
    return json_deep_copy(to);
}

static bool edge_shape_ok(json_t *e) {
    if (!json_is_object(e)) return false;
    const char *ends[2] = {"source", "target"};
    for (int k = 0; k < 2; k++) {
        json_t *end = json_object_get(e, ends[k]);
        const char *n = json_string_value(json_object_get(end, "node"));
        const char *p = json_string_value(json_object_get(end, "port"));
        if (!n || !p || !p[0]) return false;
    }
    return true;
}

/* Expand doc's nodes and edges into F's arrays, ids under prefix ("" at
 * the top); *in and *out: its metadata.ports resolved (NEW).  gpath: the
 * path of the graph node it stands in (NULL at the top).  locals_out
 * (may be NULL) receives NEW its node ids → what each stands for. */
static void expand(flattener *F, json_t *doc, const char *prefix, const char *gpath, json_t **in, json_t **out,
                   json_t **locals_out) {
    const char *gname = json_string_value(json_object_get(doc, "name"));
    if (!gname) gname = "?";
    json_t *nodes = json_object_get(doc, "nodes"), *edges = json_object_get(doc, "edges");
    bool top = gpath == NULL;
    *in = *out = NULL;
    if (locals_out) *locals_out = NULL;
    if (!top && (!json_is_array(nodes) || !json_is_array(edges))) {
        problem(F, "unknown-graph", gpath, "component",
                "node \"%s\": graph \"%s\" has no \"nodes\" and \"edges\" arrays; fix that graph (weir validate)",
                gpath, gname);
        return;
    }
    json_t *locals = json_object();
    if (!locals) {
        F->oom = true;
        return;
    }
    size_t i;
    json_t *jn;
    json_array_foreach(nodes, i, jn) {
        if (F->oom || F->too_many) break;
        const char *id = json_string_value(json_object_get(jn, "id"));
        const char *comp = json_string_value(json_object_get(jn, "component"));
        if (!json_is_object(jn) || !id || !id[0]) {
            if (top) { /* the load reports it */
                if (json_array_append(F->nodes, jn)) F->oom = true;
            } else {
                char field[48];
                snprintf(field, sizeof field, "nodes[%zu]", i);
                problem(F, "bad-node", gpath, field,
                        "node \"%s\": node at index %zu of graph \"%s\" is not {\"id\", \"component\"}; fix that graph "
                        "(weir validate)",
                        gpath, i, gname);
            }
            continue;
        }
        json_t *path = path_of(prefix, id);
        if (!path) {
            F->oom = true;
            break;
        }
        if (json_object_get(locals, id)) { /* the load would name the flat id; name the one written */
            problem(F, "duplicate-node", json_string_value(path), "id",
                    "duplicate node id \"%s\"%s%s%s; node ids must be unique", json_string_value(path),
                    top ? "" : " in graph \"", top ? "" : gname, top ? "" : "\"");
            json_decref(path);
            continue;
        }
        json_t *local;
        if (!top && !count_expanded(F, gpath, 1, 0)) {
            json_decref(path);
            break;
        }
        if (comp && strncmp(comp, PREFIX, sizeof PREFIX - 1) == 0) {
            local = expand_node(F, comp, json_string_value(path), jn);
        } else {
            json_t *copy = json_copy(jn);
            if (!copy || json_object_set(copy, "id", path) || json_array_append_new(F->nodes, copy)) F->oom = true;
            local = json_pack("{s:O,s:s?}", "flat", path, "component", comp);
        }
        if (!local || json_object_set_new(locals, id, local)) F->oom = true;
        json_decref(path);
    }
    json_t *e;
    json_array_foreach(edges, i, e) {
        if (F->oom || F->too_many) break;
        const char *eid = json_string_value(json_object_get(e, "id"));
        char idx[48];
        if (!edge_shape_ok(e)) {
            if (top) {
                if (json_array_append(F->edges, e)) F->oom = true;
            } else {
                snprintf(idx, sizeof idx, "edges[%zu]", i);
                problem(F, "bad-edge", gpath, idx,
                        "node \"%s\": edge %s%s%s of graph \"%s\" is not {\"source\": {\"node\", \"port\"}, "
                        "\"target\": {\"node\", \"port\"}}; fix that graph (weir validate)",
                        gpath, eid ? "\"" : "", eid ? eid : idx, eid ? "\"" : "", gname);
            }
            continue;
        }
        if (!top && !count_expanded(F, gpath, 1, 0)) break;
        if (!eid) {
            snprintf(idx, sizeof idx, "edges[%zu]", i);
            eid = idx;
        }
        json_t *src = edge_end(F, locals, prefix, gname, eid, json_object_get(e, "source"), true);
        json_t *dst = edge_end(F, locals, prefix, gname, eid, json_object_get(e, "target"), false);
        if (src && dst) {
            json_t *copy = json_copy(e);
            /* inner edges get a path id (one was made for those without), so
             * the load's messages name where they are */
            bool named = !top || json_is_string(json_object_get(e, "id"));
            json_t *id = named ? path_of(prefix, eid) : NULL;
            if (!copy || (named && (!id || json_object_set(copy, "id", id))) || json_object_set(copy, "source", src) ||
                json_object_set(copy, "target", dst) || json_array_append(F->edges, copy))
                F->oom = true;
            json_decref(id);
            json_decref(copy);
        }
        json_decref(src);
        json_decref(dst);
    }
    if (!F->oom && !F->too_many) read_ports(F, doc, locals, gpath, gname, in, out);
    if (locals_out) *locals_out = locals;
    else json_decref(locals);
}

/* Does doc need flattening: a graph: node, or metadata.ports to check? */
static bool composes(json_t *doc) {
    if (json_object_get(json_object_get(doc, "metadata"), "ports")) return true;
    size_t i;
    json_t *jn;
    json_array_foreach(json_object_get(doc, "nodes"), i, jn) {
        const char *comp = json_string_value(json_object_get(jn, "component"));
        if (comp && strncmp(comp, PREFIX, sizeof PREFIX - 1) == 0) return true;
    }
    return false;
}

bool weir__graph_composes(json_t *doc) { return json_is_object(doc) && json_is_array(json_object_get(doc, "nodes")) && composes(doc); }

/* metadata with ports and ingress mapped to the flat ids: NEW.  locals:
 * the top graph's node ids → what each stands for. */
static json_t *flat_metadata(json_t *md, json_t *locals, json_t *in, json_t *out) {
    json_t *m = json_copy(md);
    if (!m) return NULL;
    /* a graph node named by metadata.ingress stands for its inner port */
    json_t *ingress = json_object_get(md, "ingress");
    json_t *local = json_object_get(locals, json_string_value(json_object_get(ingress, "node")));
    json_t *mapped = json_object_get(local, "in");
    const char *port = json_string_value(json_object_get(ingress, "port"));
    json_t *to = port ? json_object_get(mapped, port) : NULL;
    if (!port && json_object_size(mapped) == 1) { /* no port: its only input, as for a node's first */
        void *it = json_object_iter(mapped);
        to = json_object_iter_value(it);
    }
    if (to) {
        json_t *ing = json_copy(ingress);
        if (!ing || json_object_update(ing, to) || json_object_set_new(m, "ingress", ing)) {
            json_decref(m);
            return NULL;
        }
    }
    if (json_object_get(md, "ports")) {
        json_t *ports = json_pack("{s:[],s:[]}", "inputs", "outputs");
        for (int d = 0; ports && d < 2; d++) {
            const char *k;
            json_t *v;
            json_t *arr = json_object_get(ports, d ? "outputs" : "inputs");
            json_object_foreach(d ? out : in, k, v) {
                json_t *entry = json_pack("{s:s,s:O,s:O}", "name", k, "node", json_object_get(v, "node"), "port",
                                          json_object_get(v, "port"));
                if (!entry || json_array_append_new(arr, entry)) {
                    json_decref(ports);
                    ports = NULL;
                    break;
                }
            }
        }
        if (!ports || json_object_set_new(m, "ports", ports)) {
            json_decref(m);
            return NULL;
        }
    }
    return m;
}

int weir__graph_flatten(const weir_registry *reg, json_t *doc, const weir_graph_options *opts, json_t **flat,
                        json_t *problems, json_t *details) {
    *flat = NULL;
    flattener F = {.reg = reg,
                   .resolve = opts ? opts->resolve : NULL,
                   .resolve_ud = opts ? opts->resolve_ud : NULL,
                   .max_nodes = opts && opts->max_nodes ? opts->max_nodes : WEIR_GRAPH_MAX_FLAT_NODES_DEFAULT,
                   .max_bytes = opts && opts->max_bytes ? opts->max_bytes : WEIR_GRAPH_MAX_FLAT_BYTES_DEFAULT,
                   .nodes = json_array(),
                   .edges = json_array(),
                   .sizes = json_object(),
                   .subgraphs = json_array(),
                   .found = json_object(),
                   .problems = problems,
                   .details = details};
    F.chain[0] = json_string_value(json_object_get(doc, "name"));
    json_t *in = NULL, *out = NULL, *res = NULL, *locals = NULL;
    if (F.nodes && F.edges && F.subgraphs && F.found && F.sizes) expand(&F, doc, "", NULL, &in, &out, &locals);
    else F.oom = true;
    bool bad = json_array_size(problems) > 0;
    if (!F.oom) {
        /* with problems, what could be flattened: graph nodes that did not
         * expand and the edges touching them left out, so that the load
         * finds the other problems without repeating these */
        json_t *md = json_object_get(doc, "metadata");
        json_t *m = !json_is_object(md) ? NULL
                    : in && out && !bad ? flat_metadata(md, locals, in, out)
                                        : json_copy(md);
        if (m && bad) json_object_del(m, "ports");
        res = json_copy(doc);
        if (!res || (json_is_object(md) && (!m || json_object_set(res, "metadata", m))) ||
            json_object_set(res, "nodes", F.nodes) || json_object_set(res, "edges", F.edges) ||
            (json_array_size(F.subgraphs) && json_object_set(res, "subgraphs", F.subgraphs))) {
            json_decref(res);
            res = NULL;
            F.oom = true;
        }
        json_decref(m);
    }
    json_decref(in);
    json_decref(out);
    json_decref(locals);
    json_decref(F.nodes);
    json_decref(F.edges);
    json_decref(F.subgraphs);
    json_decref(F.found);
    json_decref(F.sizes);
    if (F.oom) {
        json_decref(res);
        return WEIR_ENOMEM;
    }
    *flat = res;
    return bad ? WEIR_EGRAPH : 0;
}

int weir_graph_flatten(const weir_registry *reg, json_t *doc, const weir_graph_options *opts, json_t **flat,
                       weir_error *err) {
    *flat = NULL;
    weir__error_clear(err);
    if (!weir__graph_composes(doc)) {
        *flat = json_incref(doc);
        return 0;
    }
    json_t *problems = json_array(), *details = opts && opts->details ? json_array() : NULL;
    if (!problems || (opts && opts->details && !details)) {
        json_decref(problems);
        json_decref(details);
        return weir__error(err, WEIR_ENOMEM, "out of memory flattening graph");
    }
    int rc = weir__graph_flatten(reg, doc, opts, flat, problems, details);
    if (rc) {
        json_decref(*flat);
        *flat = NULL;
    }
    return weir__graph_problems_end(rc, problems, details, opts, "flattening", err);
}
