/* Documents: JSON (jansson) or YAML (libyaml events → json_t). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/alloc.h"
#include "core/error.h"

#define MAX_DEPTH 256

typedef struct yreader {
    yaml_parser_t p;
    weir_error *err;
    int rc;
} yreader;

static int yerr(yreader *r, const yaml_event_t *ev, const char *what) {
    r->rc = weir__error(r->err, WEIR_EINVAL, "YAML line %zu, column %zu: %s", ev->start_mark.line + 1,
                        ev->start_mark.column + 1, what);
    return r->rc;
}

/* A plain scalar with no tag, or one the core schema resolves anyway; `!!str`
 * and the non-specific `!` keep it a string. */
static bool is_plain(const yaml_event_t *ev) {
    const char *tag = (const char *)ev->data.scalar.tag;
    if (tag && (strcmp(tag, "!") == 0 || strcmp(tag, YAML_STR_TAG) == 0)) return false;
    return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* YAML 1.2 core schema for plain scalars. */
static json_t *scalar(const yaml_event_t *ev) {
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    if (!is_plain(ev)) return json_stringn(s, n);
    if (n == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0)
        return json_null();
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0) return json_true();
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0) return json_false();
    char *end;
    errno = 0;
    if (strspn(s, "+-0123456789") == n && n < 20) {
        long long v = strtoll(s, &end, 10);
        if (!*end && errno == 0) return json_integer(v);
    }
    if (strchr("+-.0123456789", s[0])) {
        double d = strtod(s, &end);
        if (!*end && isfinite(d) && strpbrk(s, "xXnN") == NULL) return json_real(d);
    }
    return json_stringn(s, n);
}

static json_t *node(yreader *r, yaml_event_t *ev, int depth);

static json_t *collection(yreader *r, bool mapping, int depth) {
    json_t *c = mapping ? json_object() : json_array();
    if (!c) {
        r->rc = weir__error(r->err, WEIR_ENOMEM, "out of memory reading YAML");
        return NULL;
    }
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&r->p, &ev)) {
            r->rc = weir__error(r->err, WEIR_EINVAL, "YAML line %zu, column %zu: %s", r->p.problem_mark.line + 1,
                                r->p.problem_mark.column + 1, r->p.problem ? r->p.problem : "syntax error");
            json_decref(c);
            return NULL;
        }
        if (ev.type == (mapping ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT)) {
            yaml_event_delete(&ev);
            return c;
        }
        char *key = NULL;
        if (mapping) {
            if (ev.type != YAML_SCALAR_EVENT) {
                yerr(r, &ev, "mapping keys must be plain strings");
                yaml_event_delete(&ev);
                json_decref(c);
                return NULL;
            }
            key = weir__strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
            if (key && json_object_get(c, key)) { /* YAML keys are unique, as JSON's are here */
                char what[300];
                snprintf(what, sizeof what, "duplicate key \"%.200s\"; a key may appear once in a mapping", key);
                yerr(r, &ev, what);
                weir__free(key);
                yaml_event_delete(&ev);
                json_decref(c);
                return NULL;
            }
            yaml_event_delete(&ev);
            if (!key || !yaml_parser_parse(&r->p, &ev)) {
                if (key) r->rc = weir__error(r->err, WEIR_EINVAL, "YAML line %zu: %s", r->p.problem_mark.line + 1,
                                            r->p.problem ? r->p.problem : "syntax error");
                else r->rc = weir__error(r->err, WEIR_ENOMEM, "out of memory reading YAML");
                weir__free(key);
                json_decref(c);
                return NULL;
            }
        }
        json_t *v = node(r, &ev, depth + 1);
        yaml_event_delete(&ev);
        if (!v || (mapping ? json_object_set_new(c, key, v) : json_array_append_new(c, v))) {
            if (v && !r->rc) r->rc = weir__error(r->err, WEIR_EINVAL, "YAML: invalid key");
            weir__free(key);
            json_decref(c);
            return NULL;
        }
        weir__free(key);
    }
}

static json_t *node(yreader *r, yaml_event_t *ev, int depth) {
    if (depth > MAX_DEPTH) {
        yerr(r, ev, "nesting deeper than 256 levels");
        return NULL;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        if (ev->data.scalar.anchor) break;
        {
            json_t *v = scalar(ev);
            if (!v) r->rc = weir__error(r->err, WEIR_EINVAL, "YAML line %zu: scalar is not valid UTF-8",
                                        ev->start_mark.line + 1);
            return v;
        }
    case YAML_SEQUENCE_START_EVENT:
        if (ev->data.sequence_start.anchor) break;
        return collection(r, false, depth);
    case YAML_MAPPING_START_EVENT:
        if (ev->data.mapping_start.anchor) break;
        return collection(r, true, depth);
    case YAML_ALIAS_EVENT: yerr(r, ev, "aliases (*name) are not supported; write the value out"); return NULL;
    default: yerr(r, ev, "unexpected YAML structure"); return NULL;
    }
    yerr(r, ev, "anchors (&name) are not supported; write the value out");
    return NULL;
}

static int parse_yaml(const char *text, size_t len, json_t **out, weir_error *err) {
    yreader r = {.err = err};
    if (!yaml_parser_initialize(&r.p)) return weir__error(err, WEIR_ENOMEM, "out of memory reading YAML");
    yaml_parser_set_input_string(&r.p, (const unsigned char *)text, len);
    json_t *doc = NULL;
    bool in_doc = false;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&r.p, &ev)) {
            r.rc = weir__error(err, WEIR_EINVAL, "YAML line %zu, column %zu: %s", r.p.problem_mark.line + 1,
                               r.p.problem_mark.column + 1, r.p.problem ? r.p.problem : "syntax error");
            break;
        }
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_DOCUMENT_START_EVENT) {
            if (doc) {
                yerr(&r, &ev, "more than one document; a graph is one YAML document");
                yaml_event_delete(&ev);
                break;
            }
            in_doc = true;
        } else if (in_doc && t != YAML_DOCUMENT_END_EVENT && t != YAML_STREAM_START_EVENT) {
            doc = node(&r, &ev, 0);
            in_doc = false;
            if (!doc) {
                yaml_event_delete(&ev);
                break;
            }
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&r.p);
    if (r.rc) {
        json_decref(doc);
        return r.rc;
    }
    if (!doc) return weir__error(err, WEIR_EINVAL, "YAML document is empty");
    *out = doc;
    return 0;
}

int weir_doc_parse(const char *text, size_t len, weir_doc_format fmt, json_t **out, weir_error *err) {
    *out = NULL;
    if (fmt == WEIR_DOC_AUTO) {
        size_t i = 0;
        while (i < len && strchr(" \t\r\n", text[i])) i++;
        fmt = i < len && (text[i] == '{' || text[i] == '[') ? WEIR_DOC_JSON : WEIR_DOC_YAML;
    }
    if (fmt == WEIR_DOC_YAML) return parse_yaml(text, len, out, err);
    json_error_t je;
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (*out) return 0;
    return weir__error(err, WEIR_EINVAL, "invalid JSON at line %d, column %d: %s", je.line, je.column, je.text);
}
