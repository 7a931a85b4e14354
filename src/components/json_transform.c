/* symbia.data.json-transform: extracts a value by path ("data.items[0].name").
 * missing: error (default) | null | skip. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "components/builtins.h"
#include "core/alloc.h"
#include "core/error.h"

enum { OUT, ERROR };
static const weir_port_def inputs[] = {{"in", "an object or array", NULL}};
static const weir_port_def outputs[] = {{"out", "the value at path", NULL},
                                        {"error", "{error, path, value} when the path is missing", NULL}};
static const char *const missing_modes[] = {"error", "null", "skip", NULL};
static const weir_config_def config[] = {
    {.key = "path", .type = WEIR_CFG_STRING, .required = true,
     .description = "dotted path with [index] and [\"key\"] parts, e.g. data.items[0].name"},
    {.key = "missing", .type = WEIR_CFG_STRING, .default_json = "\"error\"", .enum_values = missing_modes,
     .description = "when the path is absent: error → error port, null → emit null, skip → emit nothing"},
};

typedef struct seg {
    char *key; /* NULL for an index */
    size_t index;
} seg;

typedef struct jt_prep {
    seg *segs;
    size_t n;
    int missing; /* 0 error, 1 null, 2 skip */
} jt_prep;

static void release(void *prepared) {
    jt_prep *p = prepared;
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) weir__free(p->segs[i].key);
    weir__free(p->segs);
    weir__free(p);
}

static int add_seg(jt_prep *p, const char *key, size_t len, size_t index) {
    seg *s = weir__realloc(p->segs, (p->n + 1) * sizeof *s);
    if (!s) return WEIR_ENOMEM;
    p->segs = s;
    s[p->n].key = NULL;
    s[p->n].index = index;
    if (key && !(s[p->n].key = weir__strndup(key, len))) return WEIR_ENOMEM;
    p->n++;
    return 0;
}

/* Parse a path into segments.  Column numbers in errors are 1-based. */
static int parse_path(jt_prep *p, const char *path, weir_error *err) {
    const char *s = path;
    if (!*s) return weir__error(err, WEIR_EGRAPH, "\"path\" is empty; give a path such as data.items[0].name");
    bool expect_name = true;
    while (*s) {
        if (*s == '[') {
            const char *b = s + 1;
            if (*b == '"' || *b == '\'') {
                char q = *b;
                const char *e = strchr(b + 1, q);
                if (!e || e[1] != ']')
                    return weir__error(err, WEIR_EGRAPH, "\"path\" column %zu: unterminated [\"key\"] part in %s",
                                       (size_t)(s - path) + 1, path);
                if (add_seg(p, b + 1, (size_t)(e - b - 1), 0)) return WEIR_ENOMEM;
                s = e + 2;
            } else {
                char *e;
                if (!isdigit((unsigned char)*b))
                    return weir__error(err, WEIR_EGRAPH,
                                       "\"path\" column %zu: expected an index or a quoted key after '[' in %s",
                                       (size_t)(b - path) + 1, path);
                unsigned long long idx = strtoull(b, &e, 10);
                if (*e != ']')
                    return weir__error(err, WEIR_EGRAPH, "\"path\" column %zu: expected ']' in %s",
                                       (size_t)(e - path) + 1, path);
                if (add_seg(p, NULL, 0, (size_t)idx)) return WEIR_ENOMEM;
                s = e + 1;
            }
            expect_name = false;
        } else if (*s == '.') {
            if (expect_name)
                return weir__error(err, WEIR_EGRAPH, "\"path\" column %zu: empty name in %s", (size_t)(s - path) + 1,
                                   path);
            s++;
            expect_name = true;
            if (!*s) return weir__error(err, WEIR_EGRAPH, "\"path\" ends with '.' in %s", path);
        } else {
            size_t len = strcspn(s, ".[");
            if (add_seg(p, s, len, 0)) return WEIR_ENOMEM;
            s += len;
            expect_name = false;
        }
    }
    return 0;
}

static int prepare(const weir_node_info *node, json_t *cfg, void **prepared, weir_error *err) {
    (void)node;
    jt_prep *p = weir__calloc(1, sizeof *p);
    if (!p) return WEIR_ENOMEM;
    *prepared = p;
    const char *m = json_string_value(json_object_get(cfg, "missing"));
    p->missing = strcmp(m, "null") == 0 ? 1 : strcmp(m, "skip") == 0 ? 2 : 0;
    return parse_path(p, json_string_value(json_object_get(cfg, "path")), err);
}

static int process(weir_ctx *ctx, unsigned port, json_t *value) {
    (void)port;
    const jt_prep *p = weir_ctx_prepared(ctx);
    json_t *cur = value;
    size_t i = 0;
    for (; i < p->n && cur; i++) {
        const seg *s = &p->segs[i];
        if (s->key) cur = json_is_object(cur) ? json_object_get(cur, s->key) : NULL;
        else cur = json_is_array(cur) ? json_array_get(cur, s->index) : NULL;
    }
    if (cur) return weir_emit(ctx, OUT, cur);
    if (p->missing == 1) return weir_emit(ctx, OUT, json_null());
    if (p->missing == 2) return 0;
    const char *path = json_string_value(json_object_get(weir_ctx_config(ctx), "path"));
    json_t *details = json_pack("{s:s,s:O}", "path", path, "value", value);
    const seg *s = &p->segs[i - 1];
    int rc = s->key ? weir_emit_error(ctx, details, "path %s: no key \"%s\" (part %zu)", path, s->key, i)
                    : weir_emit_error(ctx, details, "path %s: no index [%zu] (part %zu)", path, s->index, i);
    json_decref(details);
    return rc;
}

const weir_component weir__json_transform = {
    .id = "symbia.data.json-transform",
    .name = "JSON transform",
    .version = "1.0.0",
    .category = "data",
    .description = "Extracts the value at a path such as data.items[0].name; missing: error, null or skip.",
    .inputs = WEIR_PORTS(inputs),
    .outputs = WEIR_PORTS(outputs),
    .config = WEIR_PORTS(config),
    .prepare = prepare,
    .release = release,
    .process = process,
};
