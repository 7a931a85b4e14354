/* Diffs of live views: the format and its rules are in view_diff.h. */
#include "service/view_diff.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

/* ------------------------------------------------------------------ paths */

/* A JSON pointer built while descending (RFC 6901 escapes); a path too long
 * for the buffer ends in "..." and stays that way. */
typedef struct vpath {
    char s[480];
    size_t n;
} vpath;

static size_t path_put(vpath *p, const char *text, bool escape) {
    size_t was = p->n;
    if (p->n + 1 >= sizeof p->s - 4) return was;
    p->s[p->n++] = '/';
    for (const char *c = text; *c; c++) {
        const char *put = NULL;
        char one[2] = {*c, '\0'};
        put = escape && *c == '~' ? "~0" : escape && *c == '/' ? "~1" : one;
        size_t k = strlen(put);
        if (p->n + k >= sizeof p->s - 4) {
            memcpy(p->s + p->n, "...", 4);
            p->n += 3;
            return was;
        }
        memcpy(p->s + p->n, put, k);
        p->n += k;
    }
    p->s[p->n] = '\0';
    return was;
}

static size_t path_key(vpath *p, const char *key) { return path_put(p, key, true); }

/* i in decimal into b (at least 21 bytes); returns b. */
static char *utoa(size_t i, char *b) {
    char t[24], *o = t + sizeof t;
    *--o = '\0';
    do *--o = (char)('0' + i % 10);
    while (i /= 10);
    return memcpy(b, o, (size_t)(t + sizeof t - o));
}

static size_t path_index(vpath *p, size_t i) {
    char b[24];
    return path_put(p, utoa(i, b), false);
}

static void path_pop(vpath *p, size_t was) {
    p->n = was;
    p->s[was] = '\0';
}

static int fail(weir_error *err, const vpath *p, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(weir_error *err, const vpath *p, const char *fmt, ...) {
    char msg[WEIR_ERROR_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return weir__error(err, WEIR_EINVAL, "view diff at %s: %s", p->n ? p->s : "the root", msg);
}

static int nomem(weir_error *err) { return weir__error(err, WEIR_ENOMEM, "view diff: out of memory"); }

static const char *type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* ------------------------------------------------------------ basic facts */

enum kind { K_EMPTY, K_VALUE, K_LIST, K_OBJECT };

/* The shape of a checked diff. */
static enum kind kind_of(const json_t *d) {
    if (json_object_size(d) == 0) return K_EMPTY;
    if (json_object_get(d, "value")) return K_VALUE;
    if (json_object_get(d, "degree")) return K_LIST;
    return K_OBJECT;
}

bool weir_view_diff_is_empty(const json_t *diff) { return json_is_object(diff) && json_object_size(diff) == 0; }

size_t weir_view_diff_nodes(const json_t *doc) {
    size_t n = 1;
    if (json_is_array(doc)) {
        for (size_t i = 0; i < json_array_size(doc); i++) n += weir_view_diff_nodes(json_array_get(doc, i));
    } else if (json_is_object(doc)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)doc, k, v) n += weir_view_diff_nodes(v);
    }
    return n;
}

/* weight(doc) (SIZE in view_diff.h), or some number above cap as soon as
 * it is known to pass cap. */
static size_t weight_capped(const json_t *doc, size_t cap) {
    size_t n = 2;
    const char *k;
    json_t *v;
    switch (json_typeof(doc)) {
    case JSON_OBJECT:
        json_object_foreach((json_t *)doc, k, v) {
            n += strlen(k) + 3 + weight_capped(v, cap) + (n > 2);
            if (n > cap) return n;
        }
        return n;
    case JSON_ARRAY:
        for (size_t i = 0; i < json_array_size(doc); i++) {
            n += weight_capped(json_array_get(doc, i), cap) + (i > 0);
            if (n > cap) return n;
        }
        return n;
    case JSON_STRING: return json_string_length(doc) + 2;
    case JSON_INTEGER: {
        json_int_t x = json_integer_value(doc);
        n = x < 0 ? 2 : 1;
        /* the digits of |x|, without negating INT64_MIN */
        for (x = x < 0 ? -(x / 10) : x / 10; x; x /= 10) n++;
        return n;
    }
    case JSON_REAL: return 8;
    case JSON_FALSE: return 5;
    default: return 4; /* true, null */
    }
}

size_t weir_view_diff_weight(const json_t *doc) { return weight_capped(doc, SIZE_MAX); }

/* "0" or [1-9][0-9]* below limit. */
static bool parse_pos(const char *s, size_t limit, size_t *out) {
    if (!*s || (s[0] == '0' && s[1]) || strlen(s) > 19) return false;
    size_t v = 0;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9') return false;
        v = v * 10 + (size_t)(*c - '0');
    }
    if (v >= limit) return false;
    *out = v;
    return true;
}

static int set_new(json_t *obj, const char *key, json_t *v) {
    if (!v) return -1;
    return json_object_set_new(obj, key, v);
}

/* A shallow copy of an object (jansson's json_copy drops members it
 * cannot insert when out of memory); NULL when out of memory. */
static json_t *object_copy(json_t *o) {
    json_t *c = json_object(), *v;
    const char *k;
    json_object_foreach(o, k, v) if (c && json_object_set(c, k, v)) {
        json_decref(c);
        c = NULL;
    }
    return c;
}

static json_t *value_diff(json_t *v) {
    json_t *d = json_object();
    if (d && json_object_set(d, "value", v)) {
        json_decref(d);
        return NULL;
    }
    return d;
}

/* ------------------------------------------------------------------ check */

static int check_rec(json_t *d, vpath *p, int depth, weir_error *err);

static int check_count(json_t *d, const char *name, bool required, size_t *out, vpath *p, weir_error *err) {
    json_t *v = json_object_get(d, name);
    *out = 0;
    if (!v) return required ? fail(err, p, "a list diff needs \"%s\"", name) : 0;
    size_t was = path_key(p, name);
    int rc = 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        rc = fail(err, p, "must be an integer >= 0, not %s", type_name(v));
    else if (json_integer_value(v) > (json_int_t)WEIR_VIEW_DIFF_MAX_ITEMS)
        rc = fail(err, p, "%lld is above WEIR_VIEW_DIFF_MAX_ITEMS (%u)", (long long)json_integer_value(v),
                  WEIR_VIEW_DIFF_MAX_ITEMS);
    else
        *out = (size_t)json_integer_value(v);
    path_pop(p, was);
    return rc;
}

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static int check_index(json_t *v, size_t degree, size_t *out, vpath *p, weir_error *err) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (size_t)json_integer_value(v) >= degree)
        return fail(err, p, "a position must be an integer in [0, degree %zu)", degree);
    *out = (size_t)json_integer_value(v);
    return 0;
}

/* *span accumulates how many items the rots move. */
static int check_cycle(json_t *c, size_t degree, size_t *span, vpath *p, weir_error *err) {
    if (json_is_object(c)) {
        json_t *r = json_object_get(c, "rot");
        if (json_object_size(c) != 1 || !json_is_array(r) || json_array_size(r) != 2)
            return fail(err, p, "a cycle object must be exactly {\"rot\": [i, j]}");
        size_t i = 0, j = 0, was = path_key(p, "rot");
        int rc = check_index(json_array_get(r, 0), degree, &i, p, err);
        if (!rc) rc = check_index(json_array_get(r, 1), degree, &j, p, err);
        if (!rc && i == j) rc = fail(err, p, "a rot moves an item: i and j must differ");
        path_pop(p, was);
        if (!rc && (*span += (i < j ? j - i : i - j) + 1) > WEIR_VIEW_DIFF_ROT_SPAN * degree)
            rc = fail(err, p, "the rots move more than WEIR_VIEW_DIFF_ROT_SPAN (%d) x degree items", WEIR_VIEW_DIFF_ROT_SPAN);
        return rc;
    }
    if (!json_is_array(c) || json_array_size(c) < 2)
        return fail(err, p, "a cycle is a list of 2 or more positions or {\"rot\": [i, j]}");
    size_t m = json_array_size(c);
    size_t *xs = weir__malloc(m * sizeof *xs);
    if (!xs) return nomem(err);
    int rc = 0;
    for (size_t t = 0; t < m && !rc; t++) rc = check_index(json_array_get(c, t), degree, &xs[t], p, err);
    if (!rc) {
        qsort(xs, m, sizeof *xs, cmp_size);
        for (size_t t = 1; t < m && !rc; t++)
            if (xs[t] == xs[t - 1]) rc = fail(err, p, "position %zu appears twice in a cycle", xs[t]);
    }
    weir__free(xs);
    return rc;
}

/* change/patch/freeze keys or items: positions below n; patch values are
 * diffs; change and patch share no position. */
static int check_list(json_t *d, vpath *p, int depth, weir_error *err) {
    static const char *const members[] = {"degree", "grow", "shrink", "permutation", "change", "patch", "freeze"};
    const char *k;
    json_t *v;
    json_object_foreach(d, k, v) {
        bool known = false;
        for (size_t i = 0; i < sizeof members / sizeof *members; i++) known |= strcmp(k, members[i]) == 0;
        if (!known) return fail(err, p, "\"%s\" is not a member of a list diff", k);
    }
    size_t degree, grow, shrink;
    int rc = check_count(d, "degree", true, &degree, p, err);
    if (!rc) rc = check_count(d, "grow", false, &grow, p, err);
    if (!rc) rc = check_count(d, "shrink", false, &shrink, p, err);
    if (rc) return rc;
    if (grow > degree) return fail(err, p, "grow %zu is above degree %zu", grow, degree);
    if (shrink > degree) return fail(err, p, "shrink %zu is above degree %zu", shrink, degree);
    size_t n1 = degree - shrink;

    json_t *perm = json_object_get(d, "permutation");
    if (perm) {
        size_t was = path_key(p, "permutation");
        size_t span = 0;
        if (!json_is_array(perm)) rc = fail(err, p, "must be a list of cycles");
        for (size_t i = 0; !rc && i < json_array_size(perm); i++) {
            size_t w = path_index(p, i);
            rc = check_cycle(json_array_get(perm, i), degree, &span, p, err);
            path_pop(p, w);
        }
        path_pop(p, was);
        if (rc) return rc;
    }
    json_t *change = json_object_get(d, "change"), *patch = json_object_get(d, "patch");
    const char *names[2] = {"change", "patch"};
    json_t *maps[2] = {change, patch};
    for (int m = 0; m < 2 && !rc; m++) {
        if (!maps[m]) continue;
        size_t was = path_key(p, names[m]);
        if (!json_is_object(maps[m])) rc = fail(err, p, "must be an object of positions");
        json_object_foreach(maps[m], k, v) {
            size_t pos, w = path_key(p, k);
            if (!parse_pos(k, n1, &pos))
                rc = fail(err, p, "a position is a decimal without leading zeros below degree - shrink (%zu)", n1);
            else if (m == 1 && json_object_get(change, k))
                rc = fail(err, p, "position %zu is both changed and patched", pos);
            else if (m == 1)
                rc = check_rec(v, p, depth + 1, err);
            path_pop(p, w);
            if (rc) break;
        }
        path_pop(p, was);
    }
    json_t *freeze = json_object_get(d, "freeze");
    if (!rc && freeze) {
        size_t was = path_key(p, "freeze"), pos;
        if (!json_is_array(freeze)) rc = fail(err, p, "must be a list of positions");
        for (size_t i = 0; !rc && i < json_array_size(freeze); i++) rc = check_index(json_array_get(freeze, i), n1, &pos, p, err);
        path_pop(p, was);
    }
    return rc;
}

static int check_object(json_t *d, vpath *p, int depth, weir_error *err) {
    const char *k;
    json_t *v;
    json_object_foreach(d, k, v) {
        if (strcmp(k, "set") && strcmp(k, "patch") && strcmp(k, "remove"))
            return fail(err, p, "\"%s\" is not a member of an object diff (set, patch, remove; a list diff has degree)", k);
    }
    json_t *set = json_object_get(d, "set"), *patch = json_object_get(d, "patch"), *rm = json_object_get(d, "remove");
    int rc = 0;
    size_t was;
    if (set) {
        was = path_key(p, "set");
        if (!json_is_object(set)) rc = fail(err, p, "must be an object");
        path_pop(p, was);
    }
    if (!rc && patch) {
        was = path_key(p, "patch");
        if (!json_is_object(patch)) rc = fail(err, p, "must be an object of diffs");
        json_object_foreach(patch, k, v) {
            size_t w = path_key(p, k);
            if (json_object_get(set, k))
                rc = fail(err, p, "key is both set and patched");
            else
                rc = check_rec(v, p, depth + 1, err);
            path_pop(p, w);
            if (rc) break;
        }
        path_pop(p, was);
    }
    if (!rc && rm) {
        json_t *seen = json_object();
        was = path_key(p, "remove");
        if (!seen) rc = nomem(err);
        else if (!json_is_array(rm)) rc = fail(err, p, "must be a list of keys");
        for (size_t i = 0; !rc && i < json_array_size(rm); i++) {
            json_t *key = json_array_get(rm, i);
            const char *ks = json_string_value(key);
            size_t w = path_index(p, i);
            if (!json_is_string(key))
                rc = fail(err, p, "a key is a string, not %s", type_name(key));
            else if (json_object_get(set, ks) || json_object_get(patch, ks))
                rc = fail(err, p, "key \"%s\" is removed and also set or patched", ks);
            else if (json_object_get(seen, ks))
                rc = fail(err, p, "key \"%s\" is removed twice", ks);
            else if (json_object_set(seen, ks, json_true()))
                rc = nomem(err);
            path_pop(p, w);
        }
        path_pop(p, was);
        json_decref(seen);
    }
    return rc;
}

static int check_rec(json_t *d, vpath *p, int depth, weir_error *err) {
    if (!json_is_object(d)) return fail(err, p, "a diff is an object, not %s", d ? type_name(d) : "missing");
    if (depth >= WEIR_VIEW_DIFF_MAX_DEPTH)
        return fail(err, p, "diffs nest deeper than WEIR_VIEW_DIFF_MAX_DEPTH (%d)", WEIR_VIEW_DIFF_MAX_DEPTH);
    if (json_object_size(d) == 0) return 0;
    if (json_object_get(d, "value")) {
        if (json_object_size(d) != 1) return fail(err, p, "a {\"value\": v} diff has no other member");
        return 0;
    }
    if (json_object_get(d, "degree")) return check_list(d, p, depth, err);
    static const char *const list_only[] = {"grow", "shrink", "permutation", "change", "freeze"};
    for (size_t i = 0; i < sizeof list_only / sizeof *list_only; i++)
        if (json_object_get(d, list_only[i])) return fail(err, p, "a list diff needs \"degree\" (it has \"%s\")", list_only[i]);
    return check_object(d, p, depth, err);
}

int weir_view_diff_check(json_t *diff, weir_error *err) {
    vpath p = {.n = 0};
    p.s[0] = '\0';
    return check_rec(diff, &p, 0, err);
}

/* ------------------------------------------------------------- list diffs */

/* A checked list diff, its permutation as the index map p (new[i] =
 * old[p[i]] over degree slots) and its change/patch members by position. */
typedef struct ldiff {
    size_t degree, grow, shrink, n1;
    size_t *p;
    json_t **change, **patch; /* n1 entries each, borrowed, NULL = none */
} ldiff;

static void ldiff_free(ldiff *l) {
    weir__free(l->p);
    weir__free(l->change);
    weir__free(l->patch);
}

static void rotate(size_t *p, size_t i, size_t j) {
    size_t t = p[i];
    if (i < j)
        memmove(p + i, p + i + 1, (j - i) * sizeof *p);
    else
        memmove(p + j + 1, p + j, (i - j) * sizeof *p);
    p[j] = t;
}

static int ldiff_read(json_t *d, ldiff *l, weir_error *err) {
    memset(l, 0, sizeof *l);
    l->degree = (size_t)json_integer_value(json_object_get(d, "degree"));
    l->grow = (size_t)json_integer_value(json_object_get(d, "grow"));
    l->shrink = (size_t)json_integer_value(json_object_get(d, "shrink"));
    l->n1 = l->degree - l->shrink;
    l->p = weir__malloc((l->degree + 1) * sizeof *l->p);
    l->change = weir__calloc(l->n1 + 1, sizeof *l->change);
    l->patch = weir__calloc(l->n1 + 1, sizeof *l->patch);
    if (!l->p || !l->change || !l->patch) {
        ldiff_free(l);
        return nomem(err);
    }
    for (size_t i = 0; i < l->degree; i++) l->p[i] = i;
    json_t *perm = json_object_get(d, "permutation");
    for (size_t c = 0; c < json_array_size(perm); c++) {
        json_t *cy = json_array_get(perm, c);
        if (json_is_object(cy)) {
            json_t *r = json_object_get(cy, "rot");
            rotate(l->p, (size_t)json_integer_value(json_array_get(r, 0)), (size_t)json_integer_value(json_array_get(r, 1)));
            continue;
        }
        size_t m = json_array_size(cy), first = (size_t)json_integer_value(json_array_get(cy, 0));
        size_t t0 = l->p[first];
        for (size_t t = 0; t + 1 < m; t++)
            l->p[json_integer_value(json_array_get(cy, t))] = l->p[json_integer_value(json_array_get(cy, t + 1))];
        l->p[json_integer_value(json_array_get(cy, m - 1))] = t0;
    }
    json_t *maps[2] = {json_object_get(d, "change"), json_object_get(d, "patch")};
    json_t **into[2] = {l->change, l->patch};
    for (int m = 0; m < 2; m++) {
        const char *k;
        json_t *v;
        size_t pos;
        json_object_foreach(maps[m], k, v) if (parse_pos(k, l->n1, &pos)) into[m][pos] = v;
    }
    return 0;
}

/* ------------------------------------------------------------------ apply */

static int apply_rec(json_t *v, json_t *d, json_t **out, vpath *p, weir_error *err);

static int apply_list(json_t *a, json_t *d, json_t **out, vpath *p, weir_error *err) {
    ldiff l;
    size_t n0 = json_array_size(a);
    size_t want = (size_t)json_integer_value(json_object_get(d, "degree")) -
                  (size_t)json_integer_value(json_object_get(d, "grow"));
    if (want != n0) return fail(err, p, "the list diff is for %zu items (degree - grow), the list has %zu", want, n0);
    int rc = ldiff_read(d, &l, err);
    if (rc) return rc;
    json_t *res = json_array();
    if (!res) rc = nomem(err);
    for (size_t i = 0; !rc && i < l.n1; i++) {
        json_t *src = l.p[i] < n0 ? json_array_get(a, l.p[i]) : NULL, *item = NULL;
        size_t was = path_index(p, i);
        if (l.change[i])
            item = json_incref(l.change[i]);
        else if (!src)
            rc = fail(err, p, "a grown slot ends here without a value in change");
        else if (l.patch[i])
            rc = apply_rec(src, l.patch[i], &item, p, err);
        else
            item = json_incref(src);
        path_pop(p, was);
        if (!rc && json_array_append_new(res, item)) rc = nomem(err);
    }
    ldiff_free(&l);
    if (rc) {
        json_decref(res);
        return rc;
    }
    *out = res;
    return 0;
}

static int apply_object(json_t *a, json_t *d, json_t **out, vpath *p, weir_error *err) {
    if (!json_is_object(a)) return fail(err, p, "an object diff does not fit %s", type_name(a));
    json_t *res = object_copy(a);
    if (!res) return nomem(err);
    int rc = 0;
    const char *k;
    json_t *v;
    json_t *rm = json_object_get(d, "remove");
    for (size_t i = 0; !rc && i < json_array_size(rm); i++) {
        const char *key = json_string_value(json_array_get(rm, i));
        size_t was = path_key(p, key);
        if (!json_object_get(a, key))
            rc = fail(err, p, "remove of an absent key");
        else
            json_object_del(res, key);
        path_pop(p, was);
    }
    json_object_foreach(json_object_get(d, "set"), k, v) {
        if (rc) break;
        size_t was = path_key(p, k);
        if (json_object_get(a, k))
            rc = fail(err, p, "set of a present key (replace it with patch {\"value\": v})");
        else if (json_object_set(res, k, v))
            rc = nomem(err);
        path_pop(p, was);
    }
    json_object_foreach(json_object_get(d, "patch"), k, v) {
        if (rc) break;
        size_t was = path_key(p, k);
        json_t *cur = json_object_get(a, k), *item = NULL;
        if (!cur)
            rc = fail(err, p, "patch of an absent key");
        else if (!(rc = apply_rec(cur, v, &item, p, err)) && json_object_set_new(res, k, item))
            rc = nomem(err);
        path_pop(p, was);
    }
    if (rc) {
        json_decref(res);
        return rc;
    }
    *out = res;
    return 0;
}

static int apply_rec(json_t *v, json_t *d, json_t **out, vpath *p, weir_error *err) {
    switch (kind_of(d)) {
    case K_EMPTY: *out = json_incref(v); return 0;
    case K_VALUE: *out = json_incref(json_object_get(d, "value")); return 0;
    case K_LIST:
        if (!json_is_array(v)) return fail(err, p, "a list diff does not fit %s", type_name(v));
        return apply_list(v, d, out, p, err);
    default: return apply_object(v, d, out, p, err);
    }
}

int weir_view_diff_apply(json_t *value, json_t *diff, json_t **out, weir_error *err) {
    *out = NULL;
    int rc = weir_view_diff_check(diff, err);
    if (rc) return rc;
    vpath p = {.n = 0};
    p.s[0] = '\0';
    json_t *nul = json_null();
    return apply_rec(value ? value : nul, diff, out, &p, err);
}

/* ------------------------------------------------- symbolic list, encoding */

/* An item of a list described against the old list: the old item k with a
 * pending nested diff x (NULL: unchanged), or a new value x. */
typedef struct ent {
    json_t *x; /* owned */
    size_t k;
    bool fresh;
} ent;

static void ents_free(ent *e, size_t n) {
    for (size_t i = 0; e && i < n; i++) json_decref(e[i].x);
    weir__free(e);
}

/* An old item with pending diff x (owned), normalised: {} is no diff,
 * {"value": v} makes it a new value. */
static ent old_ent(size_t k, json_t *x) {
    ent e = {.x = x, .k = k, .fresh = false};
    if (x && kind_of(x) == K_EMPTY) {
        json_decref(x);
        e.x = NULL;
    } else if (x && kind_of(x) == K_VALUE) {
        e.x = json_incref(json_object_get(x, "value"));
        e.fresh = true;
        json_decref(x);
    }
    return e;
}

/* The canonical list diff taking a list of n0 items to r[0..n2) (entries
 * consumed: their references move into the diff).  NULL when out of memory. */
static json_t *encode_list(size_t n0, ent *r, size_t n2) {
    size_t D = n0 > n2 ? n0 : n2;
    size_t *p = weir__malloc((D + 1) * sizeof *p), *cyc = weir__malloc((D + 1) * sizeof *cyc);
    unsigned char *used = weir__calloc(D + 1, 1), *need = weir__calloc(D + 1, 1);
    json_t *d = json_object(), *perm = json_array(), *change = json_object(), *patch = json_object();
    bool ok = p && cyc && used && need && d && perm && change && patch;
    for (size_t i = 0; ok && i < D; i++) {
        if (i < n2 && !r[i].fresh) {
            p[i] = r[i].k;
            used[r[i].k] = 1;
        } else {
            need[i] = 1;
        }
    }
    /* a freed slot that is itself needed stays where it is */
    for (size_t t = 0; ok && t < D; t++)
        if (need[t] && !used[t]) {
            p[t] = t;
            used[t] = 1;
            need[t] = 0;
        }
    for (size_t t = 0, s = 0; ok && t < D; t++)
        if (need[t]) {
            while (used[s]) s++;
            p[t] = s;
            used[s] = 1;
        }
    /* disjoint cycles from their smallest position, following p */
    if (ok) memset(need, 0, D + 1);
    for (size_t i = 0; ok && i < D; i++) {
        if (need[i] || p[i] == i) continue;
        size_t m = 0, j = i;
        do {
            cyc[m++] = j;
            need[j] = 1;
            j = p[j];
        } while (j != i);
        bool up = m >= 3, down = m >= 3;
        for (size_t t = 1; t < m; t++) {
            up &= cyc[t] == i + t;
            down &= cyc[t] == i + m - t;
        }
        json_t *c;
        if (up || down)
            c = json_pack("{s:[I,I]}", "rot", (json_int_t)(up ? i : i + m - 1), (json_int_t)(up ? i + m - 1 : i));
        else {
            c = json_array();
            for (size_t t = 0; c && t < m; t++)
                if (json_array_append_new(c, json_integer((json_int_t)cyc[t]))) {
                    json_decref(c);
                    c = NULL;
                }
        }
        ok = c && !json_array_append_new(perm, c);
    }
    char b[24];
    for (size_t i = 0; ok && i < n2; i++) {
        if (!r[i].x) continue;
        ok = !json_object_set_new(r[i].fresh ? change : patch, utoa(i, b), r[i].x);
        r[i].x = NULL;
    }
    bool empty = D == n0 && D == n2 && !json_array_size(perm) && !json_object_size(change) && !json_object_size(patch);
    if (ok && !empty) {
        ok = !set_new(d, "degree", json_integer((json_int_t)D)) &&
             (D == n0 || !set_new(d, "grow", json_integer((json_int_t)(D - n0)))) &&
             (D == n2 || !set_new(d, "shrink", json_integer((json_int_t)(D - n2)))) &&
             (!json_array_size(perm) || !json_object_set(d, "permutation", perm)) &&
             (!json_object_size(change) || !json_object_set(d, "change", change)) &&
             (!json_object_size(patch) || !json_object_set(d, "patch", patch));
    }
    weir__free(p);
    weir__free(cyc);
    weir__free(used);
    weir__free(need);
    json_decref(perm);
    json_decref(change);
    json_decref(patch);
    for (size_t i = 0; i < n2; i++) {
        json_decref(r[i].x);
        r[i].x = NULL;
    }
    if (!ok) {
        json_decref(d);
        return NULL;
    }
    return d;
}

/* ---------------------------------------------------------------- compose */

/* canon: the inputs are known canonical (not checked, not normalised). */
static int compose_rec(json_t *d1, json_t *d2, bool canon, json_t **out, vpath *p, weir_error *err);
static int normalise_rec(json_t *d, json_t **out, vpath *p, weir_error *err);

static int norm(json_t *d, bool canon, json_t **out, vpath *p, weir_error *err) {
    if (!canon) return normalise_rec(d, out, p, err);
    *out = json_incref(d);
    return 0;
}

/* The list after the (checked, read) list diff d, against the list before
 * it: *out gets l->n1 entries with their nested diffs normalised. */
static int list_ents(json_t *d, const ldiff *l, bool canon, ent **out, vpath *p, weir_error *err) {
    size_t n0 = l->degree - l->grow;
    ent *r = weir__calloc(l->n1 + 1, sizeof *r);
    int rc = r ? 0 : nomem(err);
    (void)d;
    for (size_t i = 0; !rc && i < l->n1; i++) {
        json_t *x = NULL;
        if (l->change[i]) {
            r[i] = (ent){.x = json_incref(l->change[i]), .fresh = true};
        } else if (l->p[i] < n0 && !l->patch[i]) {
            r[i] = (ent){.k = l->p[i]};
        } else {
            size_t was = path_index(p, i);
            if (l->p[i] >= n0)
                rc = fail(err, p, "a grown slot ends here without a value in change");
            else if (!(rc = norm(l->patch[i], canon, &x, p, err)))
                r[i] = old_ent(l->p[i], x);
            path_pop(p, was);
        }
    }
    if (rc) {
        ents_free(r, r ? l->n1 : 0);
        return rc;
    }
    *out = r;
    return 0;
}

static int compose_list(json_t *d1, json_t *d2, bool canon, json_t **out, vpath *p, weir_error *err) {
    ldiff l1, l2;
    size_t n0 = (size_t)json_integer_value(json_object_get(d1, "degree")) -
                (size_t)json_integer_value(json_object_get(d1, "grow"));
    size_t n1 = (size_t)json_integer_value(json_object_get(d1, "degree")) -
                (size_t)json_integer_value(json_object_get(d1, "shrink"));
    size_t want = (size_t)json_integer_value(json_object_get(d2, "degree")) -
                  (size_t)json_integer_value(json_object_get(d2, "grow"));
    if (want != n1)
        return fail(err, p, "the second list diff is for %zu items (degree - grow), the first leaves %zu", want, n1);
    int rc = ldiff_read(d1, &l1, err);
    if (rc) return rc;
    if ((rc = ldiff_read(d2, &l2, err))) {
        ldiff_free(&l1);
        return rc;
    }
    ent *r1 = NULL, *r2 = weir__calloc(l2.n1 + 1, sizeof *r2);
    if (!r2) rc = nomem(err);
    /* after d1, against the old list */
    if (!rc) rc = list_ents(d1, &l1, canon, &r1, p, err);
    /* then d2 */
    for (size_t i = 0; !rc && i < l2.n1; i++) {
        size_t src = l2.p[i];
        if (!l2.change[i] && src < n1 && !l2.patch[i]) { /* moved or kept as it was */
            r2[i] = r1[src];
            r1[src].x = NULL;
            continue;
        }
        size_t was = path_index(p, i);
        if (l2.change[i]) {
            r2[i] = (ent){.x = json_incref(l2.change[i]), .fresh = true};
        } else if (src >= n1) {
            rc = fail(err, p, "a grown slot ends here without a value in change");
        } else {
            ent e = r1[src];
            r1[src].x = NULL;
            if (!l2.patch[i]) {
                r2[i] = e;
            } else if (e.fresh) {
                json_t *v = NULL;
                rc = apply_rec(e.x, l2.patch[i], &v, p, err);
                json_decref(e.x);
                r2[i] = (ent){.x = v, .fresh = true};
            } else if (!e.x) {
                json_t *x = NULL;
                rc = norm(l2.patch[i], canon, &x, p, err);
                r2[i] = old_ent(e.k, x);
            } else {
                json_t *c = NULL;
                rc = compose_rec(e.x, l2.patch[i], canon, &c, p, err);
                json_decref(e.x);
                r2[i] = rc ? (ent){.k = e.k} : old_ent(e.k, c);
            }
        }
        path_pop(p, was);
    }
    json_t *res = NULL;
    if (!rc) {
        res = encode_list(n0, r2, l2.n1);
        if (!res) rc = nomem(err);
    }
    ents_free(r1, r1 ? n1 : 0);
    ents_free(r2, r2 ? l2.n1 : 0);
    ldiff_free(&l1);
    ldiff_free(&l2);
    *out = res;
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* The canonical object diff from its three members (taken over: patch
 * entries that are {} are dropped; rm is a set of keys as object members). */
static json_t *encode_object(json_t *set, json_t *patch, json_t *rm) {
    json_t *d = json_object(), *list = json_array();
    const char **keys = weir__malloc((json_object_size(rm) + 1) * sizeof *keys);
    bool ok = d && list && keys;
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(patch, tmp, k, v) if (weir_view_diff_is_empty(v)) json_object_del(patch, k);
    size_t n = 0;
    json_object_foreach(rm, k, v) if (keys) keys[n++] = k;
    if (ok) qsort(keys, n, sizeof *keys, cmp_str);
    for (size_t i = 0; ok && i < n; i++) ok = !json_array_append_new(list, json_string(keys[i]));
    if (ok && json_object_size(set)) ok = !json_object_set(d, "set", set);
    if (ok && json_object_size(patch)) ok = !json_object_set(d, "patch", patch);
    if (ok && n) ok = !json_object_set(d, "remove", list);
    weir__free(keys);
    json_decref(list);
    json_decref(set);
    json_decref(patch);
    json_decref(rm);
    if (!ok) {
        json_decref(d);
        return NULL;
    }
    return d;
}

static int compose_object(json_t *d1, json_t *d2, bool canon, json_t **out, vpath *p, weir_error *err) {
    json_t *set1 = json_object_get(d1, "set");
    json_t *set = set1 ? object_copy(set1) : json_object(), *patch = json_object(), *rm = json_object();
    int rc = set && patch && rm ? 0 : nomem(err);
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(d1, "patch"), k, v) {
        if (rc) break;
        json_t *x = NULL;
        size_t was = path_key(p, k);
        if (!(rc = norm(v, canon, &x, p, err)) && json_object_set_new(patch, k, x)) rc = nomem(err);
        path_pop(p, was);
    }
    json_t *r1 = json_object_get(d1, "remove"), *r2 = json_object_get(d2, "remove");
    for (size_t i = 0; !rc && i < json_array_size(r1); i++)
        if (json_object_set(rm, json_string_value(json_array_get(r1, i)), json_true())) rc = nomem(err);
    for (size_t i = 0; !rc && i < json_array_size(r2); i++) {
        const char *key = json_string_value(json_array_get(r2, i));
        size_t was = path_key(p, key);
        if (json_object_get(set, key)) {
            json_object_del(set, key); /* added, then removed: never there */
        } else if (json_object_get(rm, key)) {
            rc = fail(err, p, "remove of a key the first diff removed");
        } else {
            json_object_del(patch, key);
            if (json_object_set(rm, key, json_true())) rc = nomem(err);
        }
        path_pop(p, was);
    }
    json_object_foreach(json_object_get(d2, "set"), k, v) {
        if (rc) break;
        size_t was = path_key(p, k);
        if (json_object_get(set, k) || json_object_get(patch, k)) {
            rc = fail(err, p, "set of a key present after the first diff");
        } else if (json_object_get(rm, k)) {
            json_object_del(rm, k); /* removed, then added: replaced */
            json_t *vd = value_diff(v);
            if (!vd || json_object_set_new(patch, k, vd)) rc = nomem(err);
        } else if (json_object_set(set, k, v)) {
            rc = nomem(err);
        }
        path_pop(p, was);
    }
    json_object_foreach(json_object_get(d2, "patch"), k, v) {
        if (rc) break;
        size_t was = path_key(p, k);
        json_t *s = json_object_get(set, k), *q = json_object_get(patch, k), *r = NULL;
        if (s) {
            if (!(rc = apply_rec(s, v, &r, p, err)) && json_object_set_new(set, k, r)) rc = nomem(err);
        } else if (q) {
            if (!(rc = compose_rec(q, v, canon, &r, p, err)) && json_object_set_new(patch, k, r)) rc = nomem(err);
        } else if (json_object_get(rm, k)) {
            rc = fail(err, p, "patch of a key the first diff removed");
        } else if (!(rc = norm(v, canon, &r, p, err)) && json_object_set_new(patch, k, r)) {
            rc = nomem(err);
        }
        path_pop(p, was);
    }
    if (rc) {
        json_decref(set);
        json_decref(patch);
        json_decref(rm);
        return rc;
    }
    *out = encode_object(set, patch, rm);
    return *out ? 0 : nomem(err);
}

/* d in canonical form (view_diff.h); WEIR_EINVAL when it cannot fit any
 * value (a grown slot left without a value). */
static int normalise_rec(json_t *d, json_t **out, vpath *p, weir_error *err) {
    *out = NULL;
    switch (kind_of(d)) {
    case K_EMPTY: *out = json_object(); return *out ? 0 : nomem(err);
    case K_VALUE: *out = json_incref(d); return 0;
    case K_LIST: {
        ldiff l;
        ent *r = NULL;
        int rc = ldiff_read(d, &l, err);
        if (rc) return rc;
        if (!(rc = list_ents(d, &l, false, &r, p, err))) {
            *out = encode_list(l.degree - l.grow, r, l.n1);
            if (!*out) rc = nomem(err);
            ents_free(r, l.n1);
        }
        ldiff_free(&l);
        return rc;
    }
    default: {
        json_t *e = json_object();
        if (!e) return nomem(err);
        int rc = compose_object(d, e, false, out, p, err);
        json_decref(e);
        return rc;
    }
    }
}

static int compose_rec(json_t *d1, json_t *d2, bool canon, json_t **out, vpath *p, weir_error *err) {
    enum kind k1 = kind_of(d1), k2 = kind_of(d2);
    *out = NULL;
    if (k2 == K_EMPTY) return norm(d1, canon, out, p, err);
    if (k1 == K_EMPTY) return norm(d2, canon, out, p, err);
    if (k2 == K_VALUE) {
        *out = json_incref(d2);
        return 0;
    }
    if (k1 == K_VALUE) {
        json_t *v = NULL;
        int rc = apply_rec(json_object_get(d1, "value"), d2, &v, p, err);
        if (rc) return rc;
        *out = value_diff(v);
        json_decref(v);
        return *out ? 0 : nomem(err);
    }
    if (k1 != k2)
        return fail(err, p, "%s diff cannot follow %s diff", k2 == K_LIST ? "a list" : "an object",
                    k1 == K_LIST ? "a list" : "an object");
    return k1 == K_LIST ? compose_list(d1, d2, canon, out, p, err) : compose_object(d1, d2, canon, out, p, err);
}

int weir_view_diff_compose(json_t *d1, json_t *d2, json_t **out, weir_error *err) {
    *out = NULL;
    int rc = weir_view_diff_check(d1, err);
    if (!rc) rc = weir_view_diff_check(d2, err);
    if (rc) return rc;
    vpath p = {.n = 0};
    p.s[0] = '\0';
    return compose_rec(d1, d2, false, out, &p, err);
}

int weir_view_diff_compose_canonical(json_t *d1, json_t *d2, json_t **out, weir_error *err) {
    *out = NULL;
    vpath p = {.n = 0};
    p.s[0] = '\0';
    return compose_rec(d1, d2, true, out, &p, err);
}

/* ------------------------------------------------------------------- make */

static json_t *make_rec(json_t *a, json_t *b, int depth);

static json_t *make_object(json_t *a, json_t *b, int depth) {
    json_t *set = json_object(), *patch = json_object(), *rm = json_object();
    bool ok = set && patch && rm;
    const char *k;
    json_t *v;
    json_object_foreach(b, k, v) {
        if (!ok) break;
        json_t *old = json_object_get(a, k);
        if (!old)
            ok = !json_object_set(set, k, v);
        else if (!json_equal(old, v))
            ok = !set_new(patch, k, make_rec(old, v, depth + 1)); /* known to differ */
    }
    json_object_foreach(a, k, v) if (ok && !json_object_get(b, k)) ok = !json_object_set(rm, k, json_true());
    if (!ok) {
        json_decref(set);
        json_decref(patch);
        json_decref(rm);
        return NULL;
    }
    return encode_object(set, patch, rm);
}

static bool same_run(json_t *a, size_t from, json_t *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!json_equal(json_array_get(a, from + i), json_array_get(b, i))) return false;
    return true;
}

static json_t *make_list(json_t *a, json_t *b, int depth) {
    size_t n0 = json_array_size(a), n1 = json_array_size(b), m = n0 < n1 ? n0 : n1;
    size_t unequal = 0;
    unsigned char *same = weir__malloc(m + 1);
    if (!same) return NULL;
    for (size_t i = 0; i < m; i++) {
        same[i] = (unsigned char)json_equal(json_array_get(a, i), json_array_get(b, i));
        unequal += !same[i];
    }
    size_t cost = unequal + (n1 > n0 ? n1 - n0 : 0), shift = 0, keep = 0;
    for (size_t k = 1; unequal && k < n0 && k <= WEIR_VIEW_DIFF_MAX_SHIFT; k++) {
        size_t ov = n0 - k < n1 ? n0 - k : n1;
        if (ov && n1 - ov < cost && same_run(a, k, b, ov)) {
            shift = k;
            keep = ov;
            break;
        }
    }
    ent *r = weir__calloc(n1 + 1, sizeof *r);
    if (!r) {
        weir__free(same);
        return NULL;
    }
    bool ok = true;
    for (size_t i = 0; ok && i < n1; i++) {
        json_t *bi = json_array_get(b, i);
        if (shift && i < keep) {
            r[i] = (ent){.k = i + shift};
        } else if (!shift && i < n0) {
            json_t *d = same[i] ? NULL : make_rec(json_array_get(a, i), bi, depth + 1); /* known to differ */
            ok = same[i] || d;
            r[i] = old_ent(i, d);
        } else {
            r[i] = (ent){.x = json_incref(bi), .fresh = true};
        }
    }
    json_t *d = ok ? encode_list(n0, r, n1) : NULL;
    ents_free(r, n1);
    weir__free(same);
    return d;
}

/* What {"value": v} weighs more than v. */
#define VALUE_WRAP 10

/* {} / structural / {"value": b}: at the root (depth 0) the structural
 * diff whenever a and b are both objects or both lists (a view's value is
 * never sent again whole, SPEC §8), below it only when it weighs no more
 * than {"value": b}.  Two objects or two lists are not compared first (the
 * structural diff of equal ones is {}; below the root the caller compared
 * them already).  NULL only when out of memory. */
static json_t *make_rec(json_t *a, json_t *b, int depth) {
    json_t *d = NULL;
    if (depth < WEIR_VIEW_DIFF_MAX_DEPTH - 1 && json_is_object(a) && json_is_object(b))
        d = make_object(a, b, depth);
    else if (depth < WEIR_VIEW_DIFF_MAX_DEPTH - 1 && json_is_array(a) && json_is_array(b))
        d = make_list(a, b, depth);
    else
        return json_equal(a, b) ? json_object() : value_diff(b);
    if (d && depth > 0) {
        size_t wd = weir_view_diff_weight(d);
        if (wd > VALUE_WRAP && weight_capped(b, wd) < wd - VALUE_WRAP) {
            json_decref(d);
            return value_diff(b);
        }
    }
    return d;
}

int weir_view_diff_make(json_t *old_, json_t *new_, json_t **out, weir_error *err) {
    json_t *nul = json_null();
    *out = make_rec(old_ ? old_ : nul, new_ ? new_ : nul, 0);
    return *out ? 0 : nomem(err);
}
