/*
 * Redaction of node config (see redact.h).  Names are matched, not values:
 * a secret is recognised by where it sits, so a value that happens to look
 * like a token elsewhere is shown as it is.
 */
#include "server/redact.h"

#include <string.h>
#include <strings.h>

/* Does s contain sub, ignoring ASCII case? */
static bool contains(const char *s, const char *sub) {
    size_t n = strlen(sub);
    for (; *s; s++)
        if (strncasecmp(s, sub, n) == 0) return true;
    return false;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t l = strlen(s), n = strlen(suffix);
    return l >= n && strcasecmp(s + l - n, suffix) == 0;
}

bool weir_redact_is_secret_name(const char *name) {
    static const char *const exact[] = {"authorization", "proxy-authorization", "cookie", "set-cookie"};
    static const char *const suffixes[] = {"-key", "_key", "apikey"};
    static const char *const parts[] = {"token", "secret", "password", "passwd"};
    if (!name) return false;
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
        if (strcasecmp(name, exact[i]) == 0) return true;
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++)
        if (ends_with(name, suffixes[i])) return true;
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        if (contains(name, parts[i])) return true;
    return false;
}

/* Is there a secret under v (a string or number under a secret name)? */
static bool has_secret(const json_t *v) {
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m) {
            if ((json_is_string(m) || json_is_number(m)) && weir_redact_is_secret_name(k)) return true;
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
            if ((json_is_string(m) || json_is_number(m)) && weir_redact_is_secret_name(k)) {
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
