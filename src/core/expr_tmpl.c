/*
 * Templates: text with {{ expression }} holes (http-request url, headers,
 * body).  Each hole is an expression compiled once; rendering concatenates
 * the text with String(result) of each hole, except that objects and arrays
 * render as JSON and undefined as nothing.
 *
 * A hole ends at the first "}}" outside the expression's strings, template
 * strings and braces, so `{{ {a: {b: 1}} }}` and `{{ "}}" }}` work.
 */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/expr_int.h"

typedef struct tpart {
    const char *text; /* into weir_tmpl.src; NULL for a hole */
    size_t len;
    weir_expr *x;
} tpart;

struct weir_tmpl {
    char *src;
    tpart *parts;
    size_t nparts;
    bool single; /* exactly one hole and no text */
};

#define MAX_SCAN_DEPTH 64

static bool scan_template(const char *s, size_t len, size_t *i, unsigned depth);

/* Scan an expression from *i; stops at "}}" (top) or "}" closing a ${ (not
 * top) at brace depth 0, leaving *i on it.  False if the text ends first. */
static bool scan_expr(const char *s, size_t len, size_t *i, bool top, unsigned depth) {
    unsigned braces = 0;
    if (depth > MAX_SCAN_DEPTH) return false;
    while (*i < len) {
        char ch = s[*i];
        if (ch == '\'' || ch == '"') {
            for ((*i)++; *i < len && s[*i] != ch && s[*i] != '\n'; (*i)++)
                if (s[*i] == '\\') (*i)++;
        } else if (ch == '`') {
            (*i)++;
            if (!scan_template(s, len, i, depth + 1)) return false;
            continue;
        } else if (ch == '{') {
            braces++;
        } else if (ch == '}') {
            if (braces == 0 && (!top || (*i + 1 < len && s[*i + 1] == '}'))) return true;
            if (braces) braces--;
        }
        (*i)++;
    }
    return false;
}

/* After an opening backquote: up to and past the closing one. */
static bool scan_template(const char *s, size_t len, size_t *i, unsigned depth) {
    while (*i < len) {
        char ch = s[*i];
        if (ch == '\\') {
            *i += 2;
            continue;
        }
        if (ch == '`') {
            (*i)++;
            return true;
        }
        if (ch == '$' && *i + 1 < len && s[*i + 1] == '{') {
            *i += 2;
            if (!scan_expr(s, len, i, false, depth + 1)) return false;
        }
        (*i)++;
    }
    return false;
}

static bool valid_utf8(const char *s, size_t n) {
    json_t *j = json_stringn(s, n);
    json_decref(j);
    return j != NULL;
}

static int add_part(weir_tmpl *t, size_t *cap, tpart p) {
    if (weir__grow((void **)&t->parts, cap, t->nparts + 1, sizeof p)) return WEIR_ENOMEM;
    t->parts[t->nparts++] = p;
    return 0;
}

int weir__tmpl_compile(const char *src, weir_tmpl **out, weir_error *err) {
    *out = NULL;
    if (!src) return weir__error(err, WEIR_EINVAL, "no template given");
    size_t len = strlen(src), cap = 0, holes = 0;
    weir_tmpl *t = weir__calloc(1, sizeof *t);
    if (!t || !(t->src = weir__strndup(src, len))) {
        weir__free(t);
        return weir__error(err, WEIR_ENOMEM, "out of memory compiling a template");
    }
    const char *s = t->src;
    int rc = 0;
    size_t i = 0, text = 0;
    while (!rc) {
        const char *open = strstr(s + i, "{{");
        size_t at = open ? (size_t)(open - s) : len;
        if (at > text) rc = add_part(t, &cap, (tpart){s + text, at - text, NULL});
        if (rc || !open) break;
        size_t start = at + 2, end = start;
        if (!scan_expr(s, len, &end, true, 0)) {
            rc = weir__error(err, WEIR_EEXPR, "column %zu: '{{' is not closed; end the hole with '}}'",
                             weir__xcolumn(s, at, 0));
            break;
        }
        size_t k = start;
        while (k < end && (s[k] == ' ' || s[k] == '\t' || s[k] == '\n' || s[k] == '\r')) k++;
        if (k == end) {
            rc = weir__error(err, WEIR_EEXPR, "column %zu: empty '{{ }}' hole; put an expression inside, e.g. {{ value.id }}",
                             weir__xcolumn(s, at, 0));
            break;
        }
        weir_expr *x;
        rc = weir__expr_compile_span(s + start, end - start, weir__xcolumn(s, start, 0) - 1, &x, err);
        if (rc) {
            if (rc == WEIR_EEXPR)
                weir__error_append(err, " (in template hole %zu: {{%.*s}})", holes + 1,
                                   (int)(end - start > 200 ? 200 : end - start), s + start);
            break;
        }
        if ((rc = add_part(t, &cap, (tpart){NULL, 0, x}))) {
            weir__expr_free(x);
            break;
        }
        holes++;
        i = text = end + 2;
    }
    if (rc == WEIR_ENOMEM) weir__error(err, WEIR_ENOMEM, "out of memory compiling a template");
    if (!rc && !valid_utf8(s, len)) rc = weir__error(err, WEIR_EEXPR, "column 1: the template is not valid UTF-8");
    if (rc) {
        weir__tmpl_free(t);
        return rc;
    }
    t->single = t->nparts == 1 && holes == 1;
    *out = t;
    return 0;
}

int weir__tmpl_compile_with(const char *src, const weir_expr_limits *lim, weir_tmpl **out, weir_error *err) {
    int rc = weir__tmpl_compile(src, out, err);
    if (!rc)
        for (size_t i = 0; i < (*out)->nparts; i++)
            if ((*out)->parts[i].x) weir__xset_limits((*out)->parts[i].x, lim);
    return rc;
}

void weir__tmpl_free(weir_tmpl *t) {
    if (!t) return;
    for (size_t i = 0; i < t->nparts; i++) weir__expr_free(t->parts[i].x);
    weir__free(t->parts);
    weir__free(t->src);
    weir__free(t);
}

bool weir__tmpl_has_holes(const weir_tmpl *t) {
    for (size_t i = 0; t && i < t->nparts; i++)
        if (t->parts[i].x) return true;
    return false;
}

int weir__tmpl_render(const weir_tmpl *t, const weir_expr_env *env, json_t **out, weir_error *err) {
    xbuf b = {.limit = (size_t)-1 / 2};
    *out = NULL;
    for (size_t i = 0; i < t->nparts; i++) {
        const tpart *p = &t->parts[i];
        if (!p->x) {
            weir__xbuf_add(&b, p->text, p->len);
            continue;
        }
        json_t *v;
        int rc = weir__expr_eval(p->x, env, &v, err);
        if (rc) {
            weir__xbuf_free(&b);
            return rc;
        }
        char *s;
        size_t n;
        rc = weir__js_string(v, &s, &n);
        json_decref(v);
        if (rc) {
            weir__xbuf_free(&b);
            return weir__error(err, rc, "out of memory rendering a template");
        }
        weir__xbuf_add(&b, s, n);
        weir__free(s);
    }
    if (!b.oom) *out = json_stringn_nocheck(b.p ? b.p : "", b.len);
    weir__xbuf_free(&b);
    if (!*out) return weir__error(err, WEIR_ENOMEM, "out of memory rendering a template");
    return 0;
}

int weir__tmpl_render_value(const weir_tmpl *t, const weir_expr_env *env, json_t **out, weir_error *err) {
    if (t->single) return weir__expr_eval(t->parts[0].x, env, out, err);
    return weir__tmpl_render(t, env, out, err);
}
