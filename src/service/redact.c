/*
 * Redaction of node config (see redact.h).  Names are matched, not values:
 * a secret is recognised by where it sits, so a value that happens to look
 * like a token elsewhere is shown as it is.
 */
#include "service/redact.h"

#include "core/secret_name.h"

/* Is m, under member name k, a secret to hide whole: any value but null,
 * true and false (which carry none) under a secret name: a string, a
 * number, or an object or array (tokens: ["…"]) with everything in it. */
static bool hidden(const char *k, const json_t *m) {
    return !json_is_null(m) && !json_is_boolean(m) && weir__is_secret_name(k);
}

/* Is there a secret under v (a value under a secret name, see hidden)? */
static bool has_secret(const json_t *v) {
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m) {
            if (hidden(k, m)) return true;
            if (has_secret(m)) return true;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m) if (has_secret(m)) return true;
    }
    return false;
}

/* Redact in place under v (a copy the caller owns).  False on OOM. */
static bool redact(json_t *v) {
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach(v, k, m) {
            if (hidden(k, m)) {
                if (json_object_set_new(v, k, json_string(WEIR_REDACTED))) return false;
            } else if (!redact(m)) {
                return false;
            }
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m) if (!redact(m)) return false;
    }
    return true;
}

/* node with its config copied and redacted (the rest shared), or NULL. */
static json_t *redacted_node(const json_t *node) {
    json_t *n = json_copy((json_t *)node), *cfg = json_deep_copy(json_object_get(node, "config"));
    if (!n || !cfg || !redact(cfg)) {
        json_decref(n);
        json_decref(cfg);
        return NULL;
    }
    if (json_object_set_new(n, "config", cfg)) { /* cfg is released either way */
        json_decref(n);
        return NULL;
    }
    return n;
}

json_t *weir_redact_graph(const json_t *doc) {
    json_t *nodes = json_object_get(doc, "nodes");
    size_t i;
    json_t *node;
    bool any = false;
    json_array_foreach(nodes, i, node) any = any || has_secret(json_object_get(node, "config"));
    if (!any) return json_incref((json_t *)doc);
    json_t *out = json_copy((json_t *)doc), *list = json_array();
    if (!out || !list) {
        json_decref(out);
        json_decref(list);
        return NULL;
    }
    if (json_object_set_new(out, "nodes", list)) goto oom; /* list is out's (or released) from here on */
    json_array_foreach(nodes, i, node) {
        json_t *n = has_secret(json_object_get(node, "config")) ? redacted_node(node) : json_incref(node);
        if (!n || json_array_append_new(list, n)) goto oom;
    }
    return out;
oom:
    json_decref(out);
    return NULL;
}
