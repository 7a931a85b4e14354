/*
 * Expression evaluator: walks the flat node array over `xval`s with
 * JavaScript semantics (ECMA-262 abstract operations ToBoolean, ToNumber,
 * ToString, ToPrimitive, IsLooselyEqual, IsLessThan).
 *
 * Values are small tagged unions; strings and containers are BORROWED from the
 * input, the compiled pool, or this evaluation's context, which owns an arena
 * (strings, scratch) and a list of json_t it created (released at the end).
 * Scalars never allocate: `value * 2` allocates only its json result.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/expr_int.h"

json_t weir__xundef_json = {JSON_NULL, (size_t)-1};
json_t weir__xnan_json = {JSON_NULL, (size_t)-1};
json_t weir__xinf_json = {JSON_NULL, (size_t)-1};
json_t weir__xninf_json = {JSON_NULL, (size_t)-1};

#define MAX_SAFE 9007199254740992.0 /* 2^53 */

/* ----------------------------------------------------------- the context */

int weir__xthrow(xctx *c, const char *fmt, ...) {
    if (c->fail) return c->fail;
    char msg[WEIR_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->fail = weir__error(c->err, WEIR_EEXPR, "%s", msg);
    return c->fail;
}

int weir__xoom(xctx *c) {
    if (!c->fail) c->fail = weir__error(c->err, WEIR_ENOMEM, "out of memory evaluating an expression");
    return c->fail;
}

static bool budget(xctx *c, size_t n) {
    size_t max = XMEMORY(c->x);
    if (n > max || c->mem + n > max) {
        weir__xthrow(c, "the expression allocated more than 4 x EXPR_MAX_BYTES (%zu bytes); raise EXPR_MAX_BYTES if "
                     "it is meant to", max);
        return false;
    }
    c->mem += n;
    return true;
}

int weir__xstack_exceeded(xctx *c) {
    return weir__xthrow(c, "Maximum call stack size exceeded (expression nested %u levels deep, as deep as this "
                        "thread's stack allows)", c->depth);
}

int weir__xsteps(xctx *c, size_t n) {
    c->steps += n;
    if (c->steps > c->x->max_steps)
        return weir__xthrow(c, "the expression did more than EXPR_MAX_STEPS (%zu) steps of work (callback calls, "
                            "elements visited, text read or copied); raise EXPR_MAX_STEPS if it is meant to",
                            c->x->max_steps);
    return 0;
}

int weir__xtoo_long(xctx *c) {
    return weir__xthrow(c, "Invalid string length: more than EXPR_MAX_BYTES (%zu bytes); raise EXPR_MAX_BYTES if it "
                        "is meant to", c->x->max_bytes);
}

/* A new chunk able to hold `n` more bytes. */
static bool arena_grow(xctx *c, size_t n) {
    size_t last = c->chunks ? c->chunks->cap : 0;
    size_t cap = last * 2 > 2 * n ? last * 2 : 2 * n;
    if (cap < 4096) cap = 4096;
    if (c->mem + cap > XMEMORY(c->x) && c->mem + n <= XMEMORY(c->x)) cap = n;
    if (!budget(c, cap)) return false;
    xchunk *k = weir__malloc(sizeof *k + cap);
    if (!k) {
        weir__xoom(c);
        return false;
    }
    k->next = c->chunks;
    k->cap = cap;
    c->chunks = k;
    c->top = k->data;
    c->lim = k->data + cap;
    return true;
}

/* Bytes for a string: unaligned, so a string at the top can grow in place. */
static char *str_alloc(xctx *c, size_t n) {
    if (!n) n = 1; /* never NULL on success */
    if (n >= 256 && weir__xsteps(c, n / 256)) return NULL; /* building text is work too */
    if ((size_t)(c->lim - c->top) < n && !arena_grow(c, n)) return NULL;
    char *r = c->top;
    c->top += n;
    return r;
}

void *weir__xalloc(xctx *c, size_t n) {
    n = n ? (n + 7) & ~(size_t)7 : 8; /* never NULL on success */
    size_t pad = (size_t)(-(uintptr_t)c->top & 7);
    if ((size_t)(c->lim - c->top) < n + pad) {
        if (!arena_grow(c, n + 8)) return NULL;
        pad = (size_t)(-(uintptr_t)c->top & 7);
    }
    char *r = c->top + pad;
    c->top = r + n;
    return r;
}

int weir__xtemp(xctx *c, json_t *j) {
    if (!j) return weir__xoom(c);
    if (!budget(c, 64) ||
        weir__grow((void **)&c->temps, &c->ctemps, c->ntemps + 1, sizeof *c->temps)) {
        json_decref(j);
        return c->fail ? c->fail : weir__xoom(c);
    }
    c->temps[c->ntemps++] = j;
    return 0;
}

static void ctx_release(xctx *c) {
    /* newest first: a container is released before the ones it holds, so
     * no release recurses deeper than one level however deep they nest */
    for (size_t i = c->ntemps; i-- > 0;) json_decref(c->temps[i]);
    weir__free(c->temps);
    while (c->chunks) {
        xchunk *k = c->chunks;
        c->chunks = k->next;
        weir__free(k);
    }
}

static void set_str(xval *out, const char *s) {
    out->t = V_STR;
    out->u.s.p = s;
    out->u.s.len = strlen(s);
}

int weir__xstr_make(xctx *c, const char *p, size_t len, xval *out) {
    if (len > c->x->max_bytes) return weir__xtoo_long(c);
    if (!len) {
        set_str(out, "");
        return 0;
    }
    char *d = str_alloc(c, len);
    if (!d) return c->fail;
    if (len) memcpy(d, p, len);
    out->t = V_STR;
    out->u.s.p = d;
    out->u.s.len = len;
    return 0;
}

int weir__xstr_concat(xctx *c, const xval *a, const xval *b, xval *out) {
    size_t al = a->u.s.len, bl = b->u.s.len;
    if (!bl) {
        *out = *a;
        return 0;
    }
    if (!al) {
        *out = *b;
        return 0;
    }
    if (al + bl > c->x->max_bytes) return weir__xtoo_long(c);
    const char *ap = a->u.s.p, *bp = b->u.s.p;
    if (ap + al == c->top && (size_t)(c->lim - c->top) >= bl) {
        /* a ends the arena: append in place (a's own view is unchanged) */
        memcpy(c->top, bp, bl);
        c->top += bl;
    } else {
        char *d = str_alloc(c, al + bl);
        if (!d) return c->fail;
        memcpy(d, ap, al);
        memcpy(d + al, bp, bl);
        ap = d;
    }
    out->t = V_STR;
    out->u.s.p = ap;
    out->u.s.len = al + bl;
    return 0;
}

/* ---------------------------------------------------------- xbuf */

void weir__xbuf_add(xbuf *b, const char *s, size_t n) {
    if (b->oom || b->big || b->spent) return;
    if (n > b->limit - b->len) {
        b->big = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        /* Growing past XBUF_FREE_CAP costs the new memory at the rate of
         * bytes handled one at a time: a large text is written to fresh
         * pages, copied again by each reallocation and checked once more
         * when it becomes a value, which per-piece counting at the memcpy
         * rate underprices several times over (a chain of replaceAll
         * growing a text to 8 MB took 60 ms against a 10 ms budget). */
        if (b->c && cap > XBUF_FREE_CAP) {
            size_t from = b->cap > XBUF_FREE_CAP ? b->cap : XBUF_FREE_CAP;
            if ((b->spent = weir__xsteps(b->c, (cap - from) / XSTEP_SCAN))) return;
        }
        char *p = weir__realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void weir__xbuf_addc(xbuf *b, char ch) { weir__xbuf_add(b, &ch, 1); }

void weir__xbuf_free(xbuf *b) {
    weir__free(b->p);
    memset(b, 0, sizeof *b);
}

int weir__xbuf_finish(xctx *c, xbuf *b, xval *out) {
    int rc = 0;
    if (b->spent) rc = b->spent;
    else if (b->oom) rc = weir__xoom(c);
    else if (b->big) rc = weir__xtoo_long(c);
    else rc = weir__xstr_make(c, b->p ? b->p : "", b->len, out);
    weir__xbuf_free(b);
    return rc;
}

/* ------------------------------------------------------------ conversions */

static const xval UNDEF = {.t = V_UNDEF};

static bool nullish(const xval *v) { return v->t <= V_NULL; }

/* A finite number as JSON: integral values in ±2^53 (not -0) are integers. */
static json_t *num_json(double d) {
    if (d == trunc(d) && fabs(d) <= MAX_SAFE && !(d == 0 && signbit(d))) return json_integer((json_int_t)d);
    return json_real(d);
}

int weir__xto_json(xctx *c, const xval *v, json_t **out) {
    json_t *j = NULL;
    switch (v->t) {
    case V_UNDEF: j = &weir__xundef_json; break;
    case V_NULL: j = json_null(); break;
    case V_BOOL: j = json_boolean(v->u.b); break;
    case V_NUM:
        if (isnan(v->u.n)) j = &weir__xnan_json;
        else if (isinf(v->u.n)) j = v->u.n > 0 ? &weir__xinf_json : &weir__xninf_json;
        else j = num_json(v->u.n);
        break;
    case V_STR:
        if (!budget(c, v->u.s.len + 64)) return c->fail;
        j = json_stringn_nocheck(v->u.s.p, v->u.s.len);
        break;
    case V_OBJ: case V_ARR: j = json_incref(v->u.j); break;
    default: j = json_null(); break; /* a function inside a container */
    }
    if (!j) return weir__xoom(c);
    *out = j;
    return 0;
}

bool weir__xtruthy(const xval *v) {
    switch (v->t) {
    case V_UNDEF: case V_NULL: return false;
    case V_BOOL: return v->u.b;
    case V_NUM: return !(v->u.n == 0 || isnan(v->u.n));
    case V_STR: return v->u.s.len > 0;
    default: return true;
    }
}

const char *weir__xtypeof(const xval *v) {
    switch (v->t) {
    case V_UNDEF: return "undefined";
    case V_BOOL: return "boolean";
    case V_NUM: return "number";
    case V_STR: return "string";
    case V_FUNC: return "function";
    default: return "object";
    }
}

int weir__xto_string(xctx *c, const xval *v, xval *out) {
    switch (v->t) {
    case V_UNDEF: set_str(out, "undefined"); return 0;
    case V_NULL: set_str(out, "null"); return 0;
    case V_BOOL: set_str(out, v->u.b ? "true" : "false"); return 0;
    case V_STR: *out = *v; return 0;
    case V_NUM: {
        char buf[32];
        size_t n = weir__xnum_to_str(v->u.n, buf);
        return weir__xstr_make(c, buf, n, out);
    }
    case V_OBJ: set_str(out, "[object Object]"); return 0;
    case V_ARR: return weir__xjoin(c, v->u.j, ",", 1, out, 0);
    default:
        if (v->fk == FK_CLOSURE) {
            const xnode *a = &c->x->nodes[v->u.node];
            return weir__xstr_make(c, c->x->src + a->pos, a->end - a->pos, out);
        } else {
            char buf[128];
            int n = snprintf(buf, sizeof buf, "function %s() { [native code] }", weir__xfn_name(v->id));
            return weir__xstr_make(c, buf, (size_t)n, out);
        }
    }
}

/* ToPrimitive: objects, arrays and functions become their string form. */
static int to_primitive(xctx *c, const xval *v, xval *out) {
    if (v->t >= V_OBJ) return weir__xto_string(c, v, out);
    *out = *v;
    return 0;
}

int weir__xto_number(xctx *c, const xval *v, double *out) {
    switch (v->t) {
    case V_UNDEF: *out = NAN; return 0;
    case V_NULL: *out = 0; return 0;
    case V_BOOL: *out = v->u.b; return 0;
    case V_NUM: *out = v->u.n; return 0;
    case V_STR: *out = weir__xstr_to_num(v->u.s.p, v->u.s.len); return 0;
    case V_FUNC: *out = NAN; return 0;
    default: {
        xval s;
        int rc = weir__xto_string(c, v, &s);
        if (rc) return rc;
        *out = weir__xstr_to_num(s.u.s.p, s.u.s.len);
        return 0;
    }
    }
}

int weir__xto_key(xctx *c, const xval *v, xval *out) { return weir__xto_string(c, v, out); }

/* ------------------------------------------------------------- equality */

bool weir__xstrict_eq(const xval *a, const xval *b) {
    if (a->t != b->t) return false;
    switch (a->t) {
    case V_UNDEF: case V_NULL: return true;
    case V_BOOL: return a->u.b == b->u.b;
    case V_NUM: return a->u.n == b->u.n;
    case V_STR:
        if (a->u.s.len != b->u.s.len) return false;
        if (a->u.s.len <= 16) { /* short keys and tags: no call */
            for (size_t i = 0; i < a->u.s.len; i++)
                if (a->u.s.p[i] != b->u.s.p[i]) return false;
            return true;
        }
        return !memcmp(a->u.s.p, b->u.s.p, a->u.s.len);
    case V_OBJ: case V_ARR: return a->u.j == b->u.j;
    default:
        if (a->fk != b->fk) return false;
        return a->fk == FK_CLOSURE ? a->u.node == b->u.node : a->id == b->id;
    }
}

bool weir__xsame_value_zero(const xval *a, const xval *b) {
    if (a->t == V_NUM && b->t == V_NUM && isnan(a->u.n) && isnan(b->u.n)) return true;
    return weir__xstrict_eq(a, b);
}

/* IsLooselyEqual. */
static int loose_eq(xctx *c, const xval *a, const xval *b, bool *res, int depth) {
    bool ao = a->t >= V_OBJ, bo = b->t >= V_OBJ;
    int rc;
    if (a->t == b->t || (ao && bo)) {
        *res = weir__xstrict_eq(a, b);
        return 0;
    }
    if (nullish(a) || nullish(b) || depth > 4) {
        *res = nullish(a) && nullish(b);
        return 0;
    }
    if (a->t == V_NUM && b->t == V_STR) {
        *res = a->u.n == weir__xstr_to_num(b->u.s.p, b->u.s.len);
        return 0;
    }
    if (a->t == V_STR && b->t == V_NUM) {
        *res = weir__xstr_to_num(a->u.s.p, a->u.s.len) == b->u.n;
        return 0;
    }
    xval x = *a, y = *b;
    if (a->t == V_BOOL) x = (xval){.t = V_NUM, .u.n = a->u.b};
    else if (b->t == V_BOOL) y = (xval){.t = V_NUM, .u.n = b->u.b};
    else if (ao) {
        if ((rc = to_primitive(c, a, &x))) return rc;
    } else if (bo) {
        if ((rc = to_primitive(c, b, &y))) return rc;
    } else {
        *res = false;
        return 0;
    }
    return loose_eq(c, &x, &y, res, depth + 1);
}

/* UTF-16 code unit order of two UTF-8 strings: byte order, except that
 * supplementary characters (surrogates D800-DFFF in UTF-16) sort before
 * U+E000..U+FFFF. */
int weir__xcompare_strings(const char *a, size_t alen, const char *b, size_t blen) {
    size_t n = alen < blen ? alen : blen, i = 0;
    while (i < n && a[i] == b[i]) i++;
    if (i == n) return alen < blen ? -1 : alen > blen ? 1 : 0;
    /* back up to the start of the differing character */
    while (i > 0 && ((unsigned char)a[i] & 0xC0) == 0x80) i--;
    size_t ka, kb;
    unsigned ca = weir__xutf8_at(a, alen, i, &ka), cb = weir__xutf8_at(b, blen, i, &kb);
    unsigned ua = ca >= 0x10000 ? 0xD800 + ((ca - 0x10000) >> 10) : ca;
    unsigned ub = cb >= 0x10000 ? 0xD800 + ((cb - 0x10000) >> 10) : cb;
    if (ua != ub) return ua < ub ? -1 : 1;
    /* same high surrogate: the low surrogates order as the code points */
    return ca < cb ? -1 : ca > cb ? 1 : 0;
}

enum { LT_FALSE, LT_TRUE, LT_UNDEF };

/* IsLessThan(a, b). */
static int less_than(xctx *c, const xval *a, const xval *b, int *res) {
    xval pa, pb;
    int rc;
    if (a->t == V_NUM && b->t == V_NUM) {
        *res = isnan(a->u.n) || isnan(b->u.n) ? LT_UNDEF : a->u.n < b->u.n;
        return 0;
    }
    if ((rc = to_primitive(c, a, &pa)) || (rc = to_primitive(c, b, &pb))) return rc;
    if (pa.t == V_STR && pb.t == V_STR) {
        *res = weir__xcompare_strings(pa.u.s.p, pa.u.s.len, pb.u.s.p, pb.u.s.len) < 0;
        return 0;
    }
    double x, y;
    if ((rc = weir__xto_number(c, &pa, &x)) || (rc = weir__xto_number(c, &pb, &y))) return rc;
    *res = isnan(x) || isnan(y) ? LT_UNDEF : x < y;
    return 0;
}

/* ------------------------------------------------------------ properties */

static void fmt_key(char *buf, size_t cap, const char *k, size_t len) {
    if (len > 64) snprintf(buf, cap, "%.*s...", 64, k);
    else snprintf(buf, cap, "%.*s", (int)len, k);
}

static int read_of_nullish(xctx *c, const xval *base, const char *k, size_t klen) {
    char kb[80];
    fmt_key(kb, sizeof kb, k, klen);
    return weir__xthrow(c, "Cannot read properties of %s (reading '%s')", base->t == V_NULL ? "null" : "undefined",
                        kb);
}

/* A canonical array index ("0", "17"; not "01", "-1", "1.5"); -1 if not. */
static long long array_index(const char *k, size_t len) {
    if (len == 0 || len > 10) return -1;
    if (len > 1 && k[0] == '0') return -1;
    long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (k[i] < '0' || k[i] > '9') return -1;
        v = v * 10 + (k[i] - '0');
    }
    return v < 4294967295LL ? v : -1;
}

static int method_value(xctx *c, unsigned id, const xval *self, xval *out) {
    xval *s = weir__xalloc(c, sizeof *s);
    if (!s) return c->fail;
    *s = *self;
    out->t = V_FUNC;
    out->fk = FK_METHOD;
    out->id = (uint16_t)id;
    out->u.self = s;
    return 0;
}

/* The string's UTF-16 unit at idx (a whole character). */
static int string_at(xctx *c, const xval *s, double idx, xval *out) {
    if (idx < 0 || idx != trunc(idx) || idx >= (double)s->u.s.len) {
        *out = UNDEF;
        return 0;
    }
    if (idx >= XSTEP_SCAN) { /* finding unit idx reads the bytes before it */
        int rc = weir__xsteps(c, (size_t)idx / XSTEP_SCAN);
        if (rc) return rc;
    }
    size_t off = weir__xu16_off(s->u.s.p, s->u.s.len, (size_t)idx);
    if (off >= s->u.s.len || weir__xu16_index(s->u.s.p, off) != (size_t)idx) {
        /* past the end, or the low half of a surrogate pair */
        if (off < s->u.s.len && weir__xu16_index(s->u.s.p, off) + 1 == (size_t)idx) set_str(out, "\xEF\xBF\xBD");
        else *out = UNDEF;
        return 0;
    }
    size_t k;
    weir__xutf8_at(s->u.s.p, s->u.s.len, off, &k);
    out->t = V_STR;
    out->u.s.p = s->u.s.p + off;
    out->u.s.len = k;
    return 0;
}

/* base[key] with key a property name; `mid` is the method id of the name. */
static int get_prop(xctx *c, const xval *base, const char *k, size_t klen, unsigned mid, xval *out) {
    switch (base->t) {
    case V_UNDEF: case V_NULL: return read_of_nullish(c, base, k, klen);
    case V_OBJ: {
        json_t *j = json_object_getn(base->u.j, k, klen);
        if (j) {
            weir__xset_json(out, j);
            return 0;
        }
        break;
    }
    case V_ARR: {
        if (klen == 6 && !memcmp(k, "length", 6)) {
            out->t = V_NUM;
            out->u.n = (double)json_array_size(base->u.j);
            return 0;
        }
        long long i = array_index(k, klen);
        if (i >= 0) {
            *out = weir__xfrom_json(json_array_get(base->u.j, (size_t)i));
            return 0;
        }
        break;
    }
    case V_STR: {
        if (klen == 6 && !memcmp(k, "length", 6)) {
            out->t = V_NUM;
            if (base->u.s.len >= XSTEP_SCAN) {
                int rc = weir__xsteps(c, base->u.s.len / XSTEP_SCAN); /* counting UTF-16 units */
                if (rc) return rc;
            }
            out->u.n = (double)weir__xu16_len(base->u.s.p, base->u.s.len);
            return 0;
        }
        long long i = array_index(k, klen);
        if (i >= 0) return string_at(c, base, (double)i, out);
        break;
    }
    default: break;
    }
    if (mid && weir__xmethod_on(mid, base->t)) return method_value(c, mid, base, out);
    *out = UNDEF;
    return 0;
}

/* base[key] for a computed key. */
static int get_index(xctx *c, const xval *base, const xval *key, xval *out) {
    if (key->t == V_NUM) {
        double d = key->u.n;
        if (base->t == V_ARR) {
            if (d >= 0 && d == trunc(d) && d < (double)json_array_size(base->u.j)) {
                *out = weir__xfrom_json(json_array_get(base->u.j, (size_t)d));
                return 0;
            }
            if (d == trunc(d) && !(d == 0 && signbit(d)) && fabs(d) < 4294967295.0) { /* out of range */
                *out = UNDEF;
                return 0;
            }
        } else if (base->t == V_STR && d >= 0 && d == trunc(d)) {
            return string_at(c, base, d, out);
        }
    }
    xval k;
    int rc;
    if (nullish(base)) {
        if ((rc = weir__xto_key(c, key, &k))) return rc;
        return read_of_nullish(c, base, k.u.s.p, k.u.s.len);
    }
    if ((rc = weir__xto_key(c, key, &k))) return rc;
    return get_prop(c, base, k.u.s.p, k.u.s.len, weir__xmethod_lookup(k.u.s.p, k.u.s.len), out);
}

/* ----------------------------------------------------------------- calls */

static int call_closure(xctx *c, const xval *fn, xval *args, size_t n, xval *out) {
    const xnode *a = &c->x->nodes[fn->u.node];
    int rc = weir__xsteps(c, 1);
    if (rc) return rc;
    for (uint32_t i = 0; i < a->c; i++) c->slots[a->u.k.b + i] = i < n ? args[i] : UNDEF;
    return weir__xeval(c, a->u.k.a, out);
}

int weir__xcall(xctx *c, const xval *fn, const xval *self, xval *args, size_t n, xval *out) {
    switch (fn->fk) {
    case FK_CLOSURE: return call_closure(c, fn, args, n, out);
    case FK_BUILTIN: return weir__xcall_builtin(c, fn->id, args, n, out);
    default: {
        const xval *s = fn->u.self ? fn->u.self : self;
        const char *name = weir__xfn_name(fn->id);
        return weir__xcall_method(c, fn->id, s, args, n, out, name, strlen(name));
    }
    }
}

static int not_function(xctx *c, const xnode *callee, unsigned mid, const xval *base) {
    int len = (int)(callee->end - callee->pos);
    const char *src = c->x->src + callee->pos;
    if (len > 120) len = 120;
    if (mid >= M_MUTATOR_FIRST && base && base->t == V_ARR)
        return weir__xthrow(c, "%.*s is not supported: values are immutable; build a new array with concat, slice, "
                            "filter or [...spread]", len, src);
    return weir__xthrow(c, "%.*s is not a function", len, src);
}

/* Append the elements of an iterable (array, string) for spread. */
typedef struct argv {
    xval *v;
    size_t n, cap;
} argv;

static int args_push(xctx *c, argv *a, const xval *v) {
    if (a->n == a->cap) {
        size_t cap = a->cap * 2;
        xval *nv = weir__xalloc(c, cap * sizeof *nv);
        if (!nv) return c->fail;
        memcpy(nv, a->v, a->n * sizeof *nv);
        a->v = nv;
        a->cap = cap;
    }
    a->v[a->n++] = *v;
    return 0;
}

static int not_iterable(xctx *c, uint32_t ni) {
    const xnode *e = &c->x->nodes[ni];
    int len = (int)(e->end - e->pos);
    if (len > 120) len = 120;
    return weir__xthrow(c, "%.*s is not iterable", len, c->x->src + e->pos);
}

/* Visit each element of a spread operand. */
typedef int (*spread_fn)(xctx *c, void *ud, const xval *v);
static int spread_each(xctx *c, const xval *it, uint32_t ni, spread_fn f, void *ud) {
    int rc;
    if (it->t == V_ARR) {
        size_t n = json_array_size(it->u.j);
        if ((rc = weir__xsteps(c, n))) return rc;
        for (size_t i = 0; i < n; i++) {
            xval e = weir__xfrom_json(json_array_get(it->u.j, i));
            if ((rc = f(c, ud, &e))) return rc;
        }
        return 0;
    }
    if (it->t == V_STR) {
        if ((rc = weir__xsteps(c, it->u.s.len))) return rc;
        for (size_t off = 0; off < it->u.s.len;) {
            size_t k;
            weir__xutf8_at(it->u.s.p, it->u.s.len, off, &k);
            xval e = {.t = V_STR, .u.s = {it->u.s.p + off, k}};
            if ((rc = f(c, ud, &e))) return rc;
            off += k;
        }
        return 0;
    }
    return not_iterable(c, ni);
}

static int spread_to_args(xctx *c, void *ud, const xval *v) { return args_push(c, ud, v); }

static int do_call(xctx *c, const xnode *n, xval *out) {
    const xnode *callee = &c->x->nodes[n->u.k.a];
    xval fn, base, *self = NULL;
    unsigned mid = F_NONE;
    int rc;
    if (callee->op == N_FN) {
        fn.t = V_FUNC;
        fn.fk = FK_BUILTIN;
        fn.id = callee->aux;
    } else if (callee->op == N_MEMBER || callee->op == N_INDEX) {
        if ((rc = weir__xeval(c, callee->u.k.a, &base))) return rc;
        if ((callee->flags & XF_OPT) && nullish(&base)) return XSHORT;
        const char *k;
        size_t klen;
        xval key;
        if (callee->op == N_MEMBER) {
            k = c->x->pool + callee->u.k.b;
            klen = callee->c;
            mid = callee->aux;
        } else {
            if ((rc = weir__xeval(c, callee->u.k.b, &key))) return rc;
            if ((rc = weir__xto_key(c, &key, &key))) return rc;
            k = key.u.s.p;
            klen = key.u.s.len;
            mid = weir__xmethod_lookup(k, klen);
        }
        json_t *own = base.t == V_OBJ ? json_object_getn(base.u.j, k, klen) : NULL;
        if (own) {
            fn = weir__xfrom_json(own);
        } else if (mid && weir__xmethod_on(mid, base.t)) {
            fn.t = V_FUNC;
            fn.fk = FK_METHOD;
            fn.id = (uint16_t)mid;
            fn.u.self = NULL;
        } else if ((rc = get_prop(c, &base, k, klen, mid, &fn))) {
            return rc;
        }
        self = &base;
    } else {
        if ((rc = weir__xeval(c, n->u.k.a, &fn))) return rc;
    }
    if ((n->flags & XF_OPT) && nullish(&fn)) return XSHORT;
    if (fn.t != V_FUNC) return not_function(c, callee, mid, self);

    xval buf[8];
    argv a = {buf, 0, sizeof buf / sizeof *buf};
    const uint32_t *kids = c->x->kids + n->u.k.b;
    for (uint32_t i = 0; i < n->c; i++) {
        const xnode *k = &c->x->nodes[kids[i]];
        xval v;
        if (k->op == N_SPREAD) {
            if ((rc = weir__xeval(c, k->u.k.a, &v))) return rc;
            if ((rc = spread_each(c, &v, k->u.k.a, spread_to_args, &a))) return rc;
            continue;
        }
        if ((rc = weir__xeval(c, kids[i], &v)) || (rc = args_push(c, &a, &v))) return rc;
    }
    return weir__xcall(c, &fn, self ? self : &UNDEF, a.v, a.n, out);
}

/* -------------------------------------------------------------- literals */

static int spread_to_array(xctx *c, void *ud, const xval *v) {
    json_t *j = NULL;
    int rc = weir__xto_json(c, v, &j);
    if (rc) return rc;
    if (json_array_append_new(ud, j)) return weir__xoom(c);
    return 0;
}

static int make_array(xctx *c, const xnode *n, xval *out) {
    json_t *arr = json_array();
    int rc = weir__xtemp(c, arr);
    if (rc) return rc;
    const uint32_t *kids = c->x->kids + n->u.k.a;
    if (!budget(c, (size_t)n->u.k.b * 16)) return c->fail;
    for (uint32_t i = 0; i < n->u.k.b; i++) {
        const xnode *k = &c->x->nodes[kids[i]];
        xval v = UNDEF;
        if (k->op == N_SPREAD) {
            if ((rc = weir__xeval(c, k->u.k.a, &v))) return rc;
            if ((rc = spread_each(c, &v, k->u.k.a, spread_to_array, arr))) return rc;
            continue;
        }
        if (k->op != N_HOLE && (rc = weir__xeval(c, kids[i], &v))) return rc;
        if ((rc = spread_to_array(c, arr, &v))) return rc;
    }
    out->t = V_ARR;
    out->u.j = arr;
    return 0;
}

static int obj_put(xctx *c, json_t *obj, const char *k, size_t klen, const xval *v) {
    json_t *j = NULL;
    int rc = weir__xto_json(c, v, &j);
    if (rc) return rc;
    if (!budget(c, klen + 32)) {
        json_decref(j);
        return c->fail;
    }
    if (json_object_setn_new_nocheck(obj, k, klen, j)) return weir__xoom(c);
    return 0;
}

static int put_unit(xctx *c, void *obj, size_t idx, const xval *unit) {
    char kb[24];
    int kl = snprintf(kb, sizeof kb, "%zu", idx);
    return obj_put(c, obj, kb, (size_t)kl, unit);
}

static int make_object(xctx *c, const xnode *n, xval *out) {
    json_t *obj = json_object();
    int rc = weir__xtemp(c, obj);
    if (rc) return rc;
    const uint32_t *kids = c->x->kids + n->u.k.a;
    for (uint32_t i = 0; i < n->u.k.b; i++) {
        const xnode *k = &c->x->nodes[kids[i]];
        xval v;
        if (k->op == N_SPREAD) {
            if ((rc = weir__xeval(c, k->u.k.a, &v))) return rc;
            if (v.t == V_OBJ) {
                xkey *keys;
                size_t nk;
                if (weir__xobject_keys(v.u.j, &keys, &nk)) return weir__xoom(c);
                rc = weir__xsteps(c, nk);
                for (size_t q = 0; !rc && q < nk; q++) {
                    xval e = weir__xfrom_json(keys[q].v);
                    rc = obj_put(c, obj, keys[q].k, keys[q].len, &e);
                }
                weir__free(keys);
                if (rc) return rc;
            } else if (v.t == V_ARR) {
                size_t len = json_array_size(v.u.j);
                if ((rc = weir__xsteps(c, len))) return rc;
                for (size_t q = 0; q < len; q++) {
                    char kb[24];
                    int kl = snprintf(kb, sizeof kb, "%zu", q);
                    xval e = weir__xfrom_json(json_array_get(v.u.j, q));
                    if ((rc = obj_put(c, obj, kb, (size_t)kl, &e))) return rc;
                }
            } else if (v.t == V_STR) {
                if ((rc = weir__xstring_units(c, &v, put_unit, obj))) return rc;
            }
            continue;
        }
        /* N_PROP */
        xval key;
        const xnode *kn = &c->x->nodes[k->u.k.a];
        if (k->flags & XF_COMPUTED) {
            if ((rc = weir__xeval(c, k->u.k.a, &key)) || (rc = weir__xto_key(c, &key, &key))) return rc;
        } else {
            key.t = V_STR;
            key.u.s.p = c->x->pool + kn->u.k.a;
            key.u.s.len = kn->u.k.b;
        }
        if ((rc = weir__xeval(c, k->u.k.b, &v))) return rc;
        if ((rc = obj_put(c, obj, key.u.s.p, key.u.s.len, &v))) return rc;
    }
    out->t = V_OBJ;
    out->u.j = obj;
    return 0;
}

static int make_template(xctx *c, const xnode *n, xval *out) {
    const uint32_t *kids = c->x->kids + n->u.k.a;
    xval acc = {.t = V_STR, .u.s = {"", 0}};
    int rc;
    for (uint32_t i = 0; i < n->u.k.b; i++) {
        xval v, s;
        if ((rc = weir__xeval(c, kids[i], &v)) || (rc = weir__xto_string(c, &v, &s)) ||
            (rc = weir__xstr_concat(c, &acc, &s, &acc)))
            return rc;
    }
    *out = acc;
    return 0;
}

/* ------------------------------------------------------------ operators */

/* Number::exponentiate as V8 does it: the ECMAScript special cases, x ** 2
 * as x * x, x ** 0.5 as sqrt, then the C library's pow (V8 >= 13.2 calls the
 * platform's std::pow; older V8 used fdlibm, which may differ in the last
 * bit). */
double weir__xpow(double a, double b) {
    if (isnan(b)) return NAN;
    if (b == 0) return 1;
    if ((a == 1 || a == -1) && isinf(b)) return NAN;
    if (b == 2) return a * a;
    if (b == 0.5) return isinf(a) ? INFINITY : sqrt(a + 0);
    return pow(a, b);
}

static int arith(xctx *c, unsigned op, const xval *a, const xval *b, xval *out) {
    double x, y;
    int rc;
    if (a->t == V_NUM) x = a->u.n;
    else if ((rc = weir__xto_number(c, a, &x))) return rc;
    if (b->t == V_NUM) y = b->u.n;
    else if ((rc = weir__xto_number(c, b, &y))) return rc;
    out->t = V_NUM;
    switch (op) {
    case N_SUB: out->u.n = x - y; break;
    case N_MUL: out->u.n = x * y; break;
    case N_DIV: out->u.n = x / y; break;
    case N_MOD: out->u.n = fmod(x, y); break;
    default: out->u.n = weir__xpow(x, y); break;
    }
    return 0;
}

static int add(xctx *c, const xval *a, const xval *b, xval *out) {
    if (a->t == V_NUM && b->t == V_NUM) {
        out->t = V_NUM;
        out->u.n = a->u.n + b->u.n;
        return 0;
    }
    xval pa, pb;
    int rc;
    if ((rc = to_primitive(c, a, &pa)) || (rc = to_primitive(c, b, &pb))) return rc;
    if (pa.t == V_STR || pb.t == V_STR) {
        xval sa, sb;
        if ((rc = weir__xto_string(c, &pa, &sa)) || (rc = weir__xto_string(c, &pb, &sb))) return rc;
        return weir__xstr_concat(c, &sa, &sb, out);
    }
    double x, y;
    if ((rc = weir__xto_number(c, &pa, &x)) || (rc = weir__xto_number(c, &pb, &y))) return rc;
    out->t = V_NUM;
    out->u.n = x + y;
    return 0;
}

/* Comparing two long strings reads them: equality with memcmp, order one
 * character at a time (weir__xcompare_strings). */
static inline int compare_work(xctx *c, const xval *a, const xval *b, size_t per_step) {
    if (a->t != V_STR || b->t != V_STR) return 0;
    size_t n = a->u.s.len < b->u.s.len ? a->u.s.len : b->u.s.len;
    return n < per_step ? 0 : weir__xsteps(c, n / per_step);
}

static void set_bool(xval *out, bool b) {
    out->t = V_BOOL;
    out->u.b = b;
}

/* ------------------------------------------------------------------ eval */

/* Evaluate a child: leaves inline (no dispatch, no recursion), the rest
 * through weir__xeval.  The hot path of `value * 2` and `value.k === 'x'`. */
static inline int child(xctx *c, uint32_t ni, xval *out) {
    const xnode *n = &c->x->nodes[ni];
    switch (n->op) {
    case N_NUM:
        out->t = V_NUM;
        out->u.n = n->u.num;
        return 0;
    case N_STR:
        out->t = V_STR;
        out->u.s.p = c->x->pool + n->u.k.a;
        out->u.s.len = n->u.k.b;
        return 0;
    case N_VALUE: weir__xset_json(out, c->env->value); return 0;
    case N_PARAM: *out = c->slots[n->u.k.a]; return 0;
    case N_MEMBER: { /* value.k or x.k, when k is an own member */
        const xnode *b = &c->x->nodes[n->u.k.a];
        json_t *obj = NULL;
        if (b->op == N_VALUE) obj = c->env->value;
        else if (b->op == N_PARAM && c->slots[b->u.k.a].t == V_OBJ) obj = c->slots[b->u.k.a].u.j;
        if (obj && json_is_object(obj)) {
            json_t *j = json_object_getn(obj, c->x->pool + n->u.k.b, n->c);
            if (j) {
                weir__xset_json(out, j);
                return 0;
            }
        }
        return weir__xeval(c, ni, out);
    }
    default: return weir__xeval(c, ni, out);
    }
}

int weir__xeval(xctx *c, uint32_t ni, xval *out) {
    const xnode *n = &c->x->nodes[ni];
    xval a, b;
    int rc = 0;
    if (++c->depth > XMAX_EVAL_DEPTH) {
        c->depth--;
        return weir__xthrow(c, "Maximum call stack size exceeded (expression nested more than %d levels deep)",
                            XMAX_EVAL_DEPTH);
    }
    if (XSTACK_LOW(c->stack_floor)) {
        c->depth--;
        return weir__xstack_exceeded(c);
    }
    switch (n->op) {
    case N_NUM: out->t = V_NUM, out->u.n = n->u.num; break;
    case N_STR:
        out->t = V_STR;
        out->u.s.p = c->x->pool + n->u.k.a;
        out->u.s.len = n->u.k.b;
        break;
    case N_TRUE: set_bool(out, true); break;
    case N_FALSE: set_bool(out, false); break;
    case N_NULL: out->t = V_NULL; break;
    case N_UNDEF: case N_HOLE: *out = UNDEF; break;
    case N_VALUE: *out = weir__xfrom_json(c->env->value); break;
    case N_CONFIG: *out = weir__xfrom_json(c->env->config); break;
    case N_PORT:
        if (c->env->port) set_str(out, c->env->port);
        else *out = UNDEF;
        break;
    case N_PARAM: *out = c->slots[n->u.k.a]; break;
    case N_FN:
        out->t = V_FUNC;
        out->fk = FK_BUILTIN;
        out->id = n->aux;
        break;
    case N_ARROW:
        out->t = V_FUNC;
        out->fk = FK_CLOSURE;
        out->id = 0;
        out->u.node = ni;
        break;
    case N_ARRAY: rc = make_array(c, n, out); break;
    case N_OBJECT: rc = make_object(c, n, out); break;
    case N_TEMPLATE: rc = make_template(c, n, out); break;
    case N_MEMBER:
        if ((rc = child(c, n->u.k.a, &a))) break;
        if ((n->flags & XF_OPT) && nullish(&a)) {
            rc = XSHORT;
            break;
        }
        rc = get_prop(c, &a, c->x->pool + n->u.k.b, n->c, n->aux, out);
        break;
    case N_INDEX:
        if ((rc = child(c, n->u.k.a, &a))) break;
        if ((n->flags & XF_OPT) && nullish(&a)) {
            rc = XSHORT;
            break;
        }
        if ((rc = child(c, n->u.k.b, &b))) break;
        rc = get_index(c, &a, &b, out);
        break;
    case N_CALL: rc = do_call(c, n, out); break;
    case N_CHAIN:
        rc = weir__xeval(c, n->u.k.a, out);
        if (rc == XSHORT) {
            *out = UNDEF;
            rc = 0;
        }
        break;
    case N_NEG: case N_POS: {
        double d;
        if ((rc = child(c, n->u.k.a, &a)) || (rc = weir__xto_number(c, &a, &d))) break;
        out->t = V_NUM;
        out->u.n = n->op == N_NEG ? -d : d;
        break;
    }
    case N_NOT:
        if ((rc = child(c, n->u.k.a, &a))) break;
        set_bool(out, !weir__xtruthy(&a));
        break;
    case N_TYPEOF:
        if ((rc = child(c, n->u.k.a, &a))) break;
        set_str(out, weir__xtypeof(&a));
        break;
    case N_VOID:
        if ((rc = child(c, n->u.k.a, &a))) break;
        *out = UNDEF;
        break;
    case N_ADD:
        if ((rc = child(c, n->u.k.a, &a)) || (rc = child(c, n->u.k.b, &b))) break;
        rc = add(c, &a, &b, out);
        break;
    case N_SUB: case N_MUL: case N_DIV: case N_MOD: case N_POW:
        if ((rc = child(c, n->u.k.a, &a)) || (rc = child(c, n->u.k.b, &b))) break;
        if (a.t == V_NUM && b.t == V_NUM && n->op == N_MUL) {
            out->t = V_NUM;
            out->u.n = a.u.n * b.u.n;
            break;
        }
        rc = arith(c, n->op, &a, &b, out);
        break;
    case N_LT: case N_LE: case N_GT: case N_GE: {
        int r;
        if ((rc = child(c, n->u.k.a, &a)) || (rc = child(c, n->u.k.b, &b)) ||
            (rc = compare_work(c, &a, &b, XSTEP_SCAN)))
            break;
        if (n->op == N_LT || n->op == N_GE) rc = less_than(c, &a, &b, &r);
        else rc = less_than(c, &b, &a, &r);
        if (rc) break;
        set_bool(out, (n->op == N_LT || n->op == N_GT) ? r == LT_TRUE : r == LT_FALSE);
        break;
    }
    case N_SEQ: case N_SNE:
        if ((rc = child(c, n->u.k.a, &a)) || (rc = child(c, n->u.k.b, &b)) ||
            (rc = compare_work(c, &a, &b, XSTEP_COPY)))
            break;
        set_bool(out, weir__xstrict_eq(&a, &b) == (n->op == N_SEQ));
        break;
    case N_EQ: case N_NE: {
        bool r;
        if ((rc = child(c, n->u.k.a, &a)) || (rc = child(c, n->u.k.b, &b)) ||
            (rc = compare_work(c, &a, &b, XSTEP_COPY)))
            break;
        if ((rc = loose_eq(c, &a, &b, &r, 0))) break;
        set_bool(out, r == (n->op == N_EQ));
        break;
    }
    case N_AND: case N_OR: case N_COALESCE:
        if ((rc = weir__xeval(c, n->u.k.a, out))) break;
        if (n->op == N_AND ? weir__xtruthy(out) : n->op == N_OR ? !weir__xtruthy(out) : nullish(out))
            rc = weir__xeval(c, n->u.k.b, out);
        break;
    case N_COND:
        if ((rc = child(c, n->u.k.a, &a))) break;
        rc = weir__xeval(c, weir__xtruthy(&a) ? n->u.k.b : n->c, out);
        break;
    default:
        /* N_SPREAD, N_PROP, N_NS never evaluate on their own */
        rc = weir__xthrow(c, "internal error: unexpected node %u", n->op);
        break;
    }
    c->depth--;
    return rc;
}

/* ---------------------------------------------------------------- entry */

/* The containers built by this evaluation, sorted by address, with the
 * depth of each once known: the result is walked through them only (never
 * into the input), each at most once (results may share subtrees). */
typedef struct built {
    json_t **sorted;
    uint16_t *depth;
    size_t n;
    uintptr_t floor; /* of the stack */
} built;

static int cmp_ptr(const void *a, const void *b) {
    uintptr_t x = (uintptr_t) * (json_t *const *)a, y = (uintptr_t) * (json_t *const *)b;
    return x < y ? -1 : x > y;
}

static long built_index(const built *w, const json_t *j) {
    size_t lo = 0, hi = w->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (w->sorted[mid] == j) return (long)mid;
        if ((uintptr_t)w->sorted[mid] < (uintptr_t)j) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

/* Depth of j (1 for anything not built here), replacing the placeholders
 * on the way: undefined members leave objects, the rest read null.
 * -1 if deeper than XMAX_VALUE_DEPTH. */
static int settle(built *w, json_t *j, unsigned level) {
    long idx = built_index(w, j);
    if (idx < 0) return 1;
    if (w->depth[idx]) return w->depth[idx];
    if (level > XMAX_VALUE_DEPTH || XSTACK_LOW(w->floor)) return -1;
    int d = 1;
    if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++) {
            json_t *e = json_array_get(j, i);
            if (XIS_SENTINEL(e)) {
                json_array_set_new(j, i, json_null());
            } else if (json_is_array(e) || json_is_object(e)) {
                int cd = settle(w, e, level + 1);
                if (cd < 0) return -1;
                if (cd + 1 > d) d = cd + 1;
            }
        }
    } else {
        const char *k;
        size_t klen;
        json_t *e;
        void *tmp;
        json_object_keylen_foreach_safe(j, tmp, k, klen, e) {
            if (e == &weir__xundef_json) {
                json_object_deln(j, k, klen);
            } else if (XIS_SENTINEL(e)) {
                json_object_setn_new_nocheck(j, k, klen, json_null());
            } else if (json_is_array(e) || json_is_object(e)) {
                int cd = settle(w, e, level + 1);
                if (cd < 0) return -1;
                if (cd + 1 > d) d = cd + 1;
            }
        }
    }
    w->depth[idx] = (uint16_t)d;
    return d;
}

/* What writing a value out costs: values visited as a tree (one held n
 * times counts n times) and about the bytes written.  Values leave an
 * expression as trees, whatever they share inside it, so this is what
 * every later JSON dump of the result costs. */
typedef struct wcost {
    size_t nodes, bytes;
} wcost;

/* The cost of each shared container (more than one parent: one with a
 * single reference, besides the one c->temps holds on what was built here,
 * is reached once per visit of its parent), so the walk is linear in the
 * distinct containers, not in the paths. */
typedef struct wmemo {
    const json_t *k;
    wcost v;
} wmemo;

typedef struct wwalk {
    xctx *c;
    const built *b; /* containers built here hold one more reference (c->temps) */
    wmemo *tab;
    size_t cap, n;
    wcost max; /* what is left of the budget */
} wwalk;

static size_t wslot(const wwalk *w, const json_t *j) {
    size_t h = (size_t)(((uintptr_t)j >> 4) * (uintptr_t)0x9E3779B97F4A7C15ull);
    size_t i = h & (w->cap - 1);
    while (w->tab[i].k && w->tab[i].k != j) i = (i + 1) & (w->cap - 1);
    return i;
}

static int wremember(wwalk *w, const json_t *j, wcost v) {
    if (2 * (w->n + 1) > w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        wmemo *old = w->tab, *tab = weir__xalloc(w->c, cap * sizeof *tab);
        if (!tab) return w->c->fail;
        memset(tab, 0, cap * sizeof *tab);
        size_t ocap = w->cap;
        w->tab = tab;
        w->cap = cap;
        for (size_t i = 0; i < ocap; i++)
            if (old[i].k) w->tab[wslot(w, old[i].k)] = old[i];
    }
    size_t i = wslot(w, j);
    w->tab[i].k = j;
    w->tab[i].v = v;
    w->n++;
    return 0;
}

static int too_big(xctx *c, const wcost *v, const wcost *max) {
    if (v->bytes > max->bytes)
        return weir__xthrow(c, "the expression's result is more than EXPR_MAX_BYTES (%zu bytes) written out (a value "
                            "it holds several times counts each time); raise EXPR_MAX_BYTES if it is meant to",
                            c->x->max_bytes);
    return weir__xthrow(c, "the expression did more than EXPR_MAX_STEPS (%zu) steps of work: writing its result out "
                        "visits too many values with what the evaluation did (a value it holds several times counts "
                        "each time); raise EXPR_MAX_STEPS if it is meant to", c->x->max_steps);
}

/* Bytes of a scalar written out (numbers: about). */
static inline size_t scalar_bytes(const json_t *e) {
    switch (json_typeof(e)) {
    case JSON_STRING: return json_string_length(e) + 2;
    case JSON_INTEGER: case JSON_REAL: return 8;
    default: return 5;
    }
}

/* Add the cost of container j to *acc; an error as soon as it exceeds the
 * budget.  Scalars are counted inline by the caller. */
static int wcost_of(wwalk *w, const json_t *j, unsigned level, wcost *acc) {
    wcost v = {1, 2};
    bool shared = j->refcount > 2 || (j->refcount == 2 && built_index(w->b, j) < 0);
    if (shared && w->cap) {
        size_t i = wslot(w, j);
        if (w->tab[i].k) {
            v = w->tab[i].v;
            goto add;
        }
    }
    if (level > 2 * XMAX_VALUE_DEPTH || XSTACK_LOW(w->c->stack_floor))
        return weir__xthrow(w->c, "the result is nested too deeply (more than %d levels)", XMAX_VALUE_DEPTH);
    int rc;
    if (json_is_array(j)) {
        size_t n = json_array_size(j);
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(j, i);
            if (json_is_array(e) || json_is_object(e)) {
                if ((rc = wcost_of(w, e, level + 1, &v))) return rc;
            } else {
                v.nodes++;
                v.bytes += scalar_bytes(e);
            }
        }
        v.bytes += n;
    } else {
        const char *k;
        size_t klen;
        json_t *e;
        json_object_keylen_foreach((json_t *)j, k, klen, e) {
            if (json_is_array(e) || json_is_object(e)) {
                if ((rc = wcost_of(w, e, level + 1, &v))) return rc;
            } else {
                v.nodes++;
                v.bytes += scalar_bytes(e);
            }
            v.bytes += klen + 4;
        }
    }
    if (shared && (rc = wremember(w, j, v))) return rc;
add:
    acc->nodes += v.nodes;
    acc->bytes += v.bytes;
    if (acc->nodes > w->max.nodes || acc->bytes > w->max.bytes) return too_big(w->c, acc, &w->max);
    return 0;
}

/* A container result built here: no placeholders, not too deep, and what
 * writing it out costs within the budget (charged as steps). */
static int settle_result(xctx *c, json_t *j) {
    if (!c->ntemps) return 0;
    built w = {weir__xalloc(c, c->ntemps * sizeof *w.sorted), weir__xalloc(c, c->ntemps * sizeof *w.depth),
               c->ntemps, c->stack_floor};
    if (!w.sorted || !w.depth) return c->fail;
    memcpy(w.sorted, c->temps, c->ntemps * sizeof *w.sorted);
    memset(w.depth, 0, c->ntemps * sizeof *w.depth);
    qsort(w.sorted, w.n, sizeof *w.sorted, cmp_ptr);
    if (built_index(&w, j) < 0) return 0; /* a part of the input, as it came */
    if (settle(&w, j, 0) < 0)
        return weir__xthrow(c, "the result is nested too deeply (more than %d levels)", XMAX_VALUE_DEPTH);
    size_t ms = c->x->max_steps;
    wwalk ww = {c, &w, NULL, 0, 0, {ms - (c->steps < ms ? c->steps : ms), c->x->max_bytes}};
    wcost total = {0, 0};
    int rc = wcost_of(&ww, j, 0, &total);
    if (!rc) c->steps += total.nodes;
    return rc;
}

static int result_json(xctx *c, const xval *v, json_t **out) {
    json_t *j = NULL;
    int rc;
    switch (v->t) {
    case V_UNDEF: *out = NULL; return 0;
    case V_NUM: j = isfinite(v->u.n) ? num_json(v->u.n) : json_null(); break;
    case V_STR: j = json_stringn_nocheck(v->u.s.p, v->u.s.len); break;
    case V_FUNC:
        return weir__xthrow(c, "the expression's result is a function; call it, or pass it to an array method");
    case V_OBJ: case V_ARR:
        if ((rc = settle_result(c, v->u.j))) return rc;
        j = json_incref(v->u.j);
        break;
    default: return weir__xto_json(c, v, out);
    }
    if (!j) return weir__xoom(c);
    *out = j;
    return 0;
}

static const weir_expr_env no_env = {NULL, NULL, NULL};

/* Evaluate into *v; the caller must ctx_release(c).  Inlined: it is most
 * of what `value * 2` costs besides the operator. */
static inline __attribute__((always_inline)) int run(const weir_expr *x, const weir_expr_env *env, weir_error *err, xctx *c, xval *slots, xval *v) {
    /* field by field: a memset here is a measurable part of `value * 2` */
    c->x = x;
    c->env = env ? env : &no_env;
    c->err = err;
    c->slots = NULL;
    c->chunks = NULL;
    c->top = c->lim = NULL;
    c->mem = 0;
    c->temps = NULL;
    c->ntemps = c->ctemps = 0;
    c->depth = 0;
    c->stack_floor = weir__xstack_floor();
    c->steps = 0;
    c->fail = 0;
    if (x->nslots > 16) {
        slots = weir__xalloc(c, x->nslots * sizeof *slots);
        if (!slots) return c->fail;
    }
    if (x->nslots) memset(slots, 0, x->nslots * sizeof *slots);
    c->slots = slots;
    int rc = weir__xeval(c, x->root, v);
    return rc == XSHORT ? (*v = UNDEF, 0) : rc;
}

int weir__expr_eval(const weir_expr *x, const weir_expr_env *env, json_t **out, weir_error *err) {
    xctx c;
    xval slots[16], v;
    *out = NULL;
    int rc = run(x, env, err, &c, slots, &v);
    if (!rc) rc = result_json(&c, &v, out);
    ctx_release(&c);
    return rc;
}

int weir__expr_truthy(const weir_expr *x, const weir_expr_env *env, bool *out, weir_error *err) {
    xctx c;
    xval slots[16], v;
    *out = false;
    int rc = run(x, env, err, &c, slots, &v);
    if (!rc) *out = weir__xtruthy(&v);
    ctx_release(&c);
    return rc;
}
