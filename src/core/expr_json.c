/*
 * JSON.stringify as JavaScript writes it: numbers in Number::toString form,
 * object keys in JavaScript order (array indexes first, ascending, then
 * insertion order), only ", \ and control characters escaped, optional
 * indentation.  Also the exported weir__js_* helpers of core/expr.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/expr_int.h"

static long long index_key(const char *k, size_t len) {
    if (len == 0 || len > 10 || (len > 1 && k[0] == '0')) return -1;
    long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (k[i] < '0' || k[i] > '9') return -1;
        v = v * 10 + (k[i] - '0');
    }
    return v < 4294967295LL ? v : -1;
}

static int cmp_index(const void *a, const void *b) {
    long long x = index_key(((const xkey *)a)->k, ((const xkey *)a)->len);
    long long y = index_key(((const xkey *)b)->k, ((const xkey *)b)->len);
    return x < y ? -1 : x > y;
}

int weir__xobject_keys(json_t *obj, xkey **keys, size_t *n) {
    size_t total = json_object_size(obj), nidx = 0, i = 0;
    *keys = NULL;
    *n = 0;
    if (!total) return 0;
    xkey *k = weir__malloc(total * sizeof *k);
    if (!k) return WEIR_ENOMEM;
    const char *key;
    size_t klen;
    json_t *v;
    json_object_keylen_foreach(obj, key, klen, v) {
        if (index_key(key, klen) >= 0) k[i++] = (xkey){key, klen, v}, nidx++;
    }
    if (nidx) qsort(k, nidx, sizeof *k, cmp_index);
    json_object_keylen_foreach(obj, key, klen, v) {
        if (!nidx || index_key(key, klen) < 0) k[i++] = (xkey){key, klen, v};
    }
    *keys = k;
    *n = i;
    return 0;
}

void weir__xstringify_string(const char *s, size_t len, xbuf *b) {
    weir__xbuf_addc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        const char *esc = NULL;
        char tmp[8];
        switch (ch) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (ch < 0x20) {
                snprintf(tmp, sizeof tmp, "\\u%04x", ch);
                esc = tmp;
            }
        }
        if (!esc) continue;
        weir__xbuf_add(b, s + run, i - run);
        weir__xbuf_add(b, esc, strlen(esc));
        run = i + 1;
    }
    weir__xbuf_add(b, s + run, len - run);
    weir__xbuf_addc(b, '"');
}

static void newline(xbuf *b, const char *gap, size_t gaplen, unsigned level) {
    weir__xbuf_addc(b, '\n');
    for (unsigned i = 0; i < level; i++) weir__xbuf_add(b, gap, gaplen);
}

/* Is this member omitted from an object (undefined)? */
static bool omitted(const json_t *v) { return v == &weir__xundef_json; }

typedef struct emitter {
    const char *gap;
    size_t gaplen;
    const xkey *allow; /* an array replacer's property list, or NULL */
    size_t nallow;
    xbuf *b;
    uintptr_t floor; /* of the stack */
} emitter;

static int emit(const emitter *e, const json_t *v, unsigned level);

/* An object's members: all of them in JavaScript order, or the replacer's
 * list in its order.  *keys is weir__malloc'd. */
static int members(const emitter *e, json_t *obj, xkey **keys, size_t *n) {
    if (!e->allow) return weir__xobject_keys(obj, keys, n);
    *n = 0;
    *keys = e->nallow ? weir__malloc(e->nallow * sizeof **keys) : NULL;
    if (e->nallow && !*keys) return WEIR_ENOMEM;
    for (size_t i = 0; i < e->nallow; i++) {
        json_t *v = json_object_getn(obj, e->allow[i].k, e->allow[i].len);
        if (v) (*keys)[(*n)++] = (xkey){e->allow[i].k, e->allow[i].len, v};
    }
    return 0;
}

static int emit(const emitter *e, const json_t *v, unsigned level) {
    const char *gap = e->gap;
    size_t gaplen = e->gaplen;
    xbuf *b = e->b;
    char num[40];
    if (level > XMAX_VALUE_DEPTH || XSTACK_LOW(e->floor)) return WEIR_ELIMIT;
    switch (json_typeof(v)) {
    case JSON_NULL: weir__xbuf_add(b, "null", 4); return 0;
    case JSON_TRUE: weir__xbuf_add(b, "true", 4); return 0;
    case JSON_FALSE: weir__xbuf_add(b, "false", 5); return 0;
    case JSON_INTEGER: {
        int n = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        weir__xbuf_add(b, num, (size_t)n);
        return 0;
    }
    case JSON_REAL: weir__xbuf_add(b, num, weir__xnum_to_str(json_real_value(v), num)); return 0;
    case JSON_STRING: weir__xstringify_string(json_string_value(v), json_string_length(v), b); return 0;
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (!n) {
            weir__xbuf_add(b, "[]", 2);
            return 0;
        }
        weir__xbuf_addc(b, '[');
        for (size_t i = 0; i < n; i++) {
            if (i) weir__xbuf_addc(b, ',');
            if (gaplen) newline(b, gap, gaplen, level + 1);
            int rc = emit(e, json_array_get(v, i), level + 1);
            if (rc) return rc;
            if (b->oom || b->big) return 0;
        }
        if (gaplen) newline(b, gap, gaplen, level);
        weir__xbuf_addc(b, ']');
        return 0;
    }
    case JSON_OBJECT: {
        xkey *keys;
        size_t n, shown = 0;
        if (members(e, (json_t *)v, &keys, &n)) {
            b->oom = true;
            return 0;
        }
        weir__xbuf_addc(b, '{');
        int rc = 0;
        for (size_t i = 0; i < n && !rc && !b->oom && !b->big; i++) {
            if (omitted(keys[i].v)) continue;
            if (shown++) weir__xbuf_addc(b, ',');
            if (gaplen) newline(b, gap, gaplen, level + 1);
            weir__xstringify_string(keys[i].k, keys[i].len, b);
            weir__xbuf_add(b, gaplen ? ": " : ":", gaplen ? 2 : 1);
            rc = emit(e, keys[i].v, level + 1);
        }
        weir__free(keys);
        if (rc) return rc;
        if (shown && gaplen) newline(b, gap, gaplen, level);
        weir__xbuf_addc(b, '}');
        return 0;
    }
    }
    return 0;
}

int weir__xstringify_json(const json_t *v, const char *indent, size_t indent_len, const xkey *allow, size_t nallow,
                          xbuf *b) {
    emitter e = {indent, indent_len, allow, nallow, b, weir__xstack_floor()};
    return emit(&e, v, 0);
}

static int finish(xbuf *b, int rc, char **out, size_t *len) {
    if (!rc && b->oom) rc = WEIR_ENOMEM;
    if (!rc && !b->p && !(b->p = weir__strdup(""))) rc = WEIR_ENOMEM;
    if (rc) {
        weir__xbuf_free(b);
        *out = NULL;
        if (len) *len = 0;
        return rc;
    }
    *out = b->p;
    if (len) *len = b->len;
    return 0;
}

int weir__js_stringify(const json_t *v, char **out, size_t *len) {
    xbuf b = {.limit = (size_t)-1 / 2};
    if (!v) return finish(&b, WEIR_EINVAL, out, len);
    return finish(&b, weir__xstringify_json(v, "", 0, NULL, 0, &b), out, len);
}

int weir__js_string(const json_t *v, char **out, size_t *len) {
    xbuf b = {.limit = (size_t)-1 / 2};
    int rc = 0;
    char num[40];
    if (!v || v == &weir__xundef_json) {
        /* undefined renders as nothing */
    } else if (json_is_string(v)) {
        weir__xbuf_add(&b, json_string_value(v), json_string_length(v));
    } else if (json_is_real(v)) {
        weir__xbuf_add(&b, num, weir__xnum_to_str(json_real_value(v), num));
    } else {
        rc = weir__xstringify_json(v, "", 0, NULL, 0, &b);
    }
    return finish(&b, rc, out, len);
}
