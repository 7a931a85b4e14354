/*
 * The expression library: global functions (Number, String, parseInt, ...),
 * Math, JSON, Object, Array and Number statics, and the methods of strings,
 * arrays, numbers, booleans and objects, with JavaScript semantics.
 *
 * Strings are UTF-8 here but JavaScript indexes them by UTF-16 code unit:
 * every index/length goes through weir__xu16_* (ASCII takes a fast path).
 * Arrays are immutable: the would-be mutators (sort, reverse) return new
 * arrays, push/splice/... are refused.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/expr_int.h"

#define B(t) (1u << (t))
#define NOT_HANDLED 2 /* a method the receiver's type does not have */
#define ON_STR B(V_STR)
#define ON_ARR B(V_ARR)
#define ON_NUM B(V_NUM)
#define ON_BOOL B(V_BOOL)
#define ON_OBJ B(V_OBJ)

static const struct {
    const char *name;
    unsigned on; /* receiver types of a method */
} fns[F_COUNT] = {
    [F_NUMBER] = {"Number", 0}, [F_STRING] = {"String", 0}, [F_BOOLEAN] = {"Boolean", 0},
    [F_PARSEINT] = {"parseInt", 0}, [F_PARSEFLOAT] = {"parseFloat", 0}, [F_ISNAN] = {"isNaN", 0},
    [F_ISFINITE] = {"isFinite", 0}, [F_MATH_ABS] = {"abs", 0}, [F_MATH_FLOOR] = {"floor", 0},
    [F_MATH_CEIL] = {"ceil", 0}, [F_MATH_ROUND] = {"round", 0}, [F_MATH_TRUNC] = {"trunc", 0},
    [F_MATH_SIGN] = {"sign", 0}, [F_MATH_MIN] = {"min", 0}, [F_MATH_MAX] = {"max", 0}, [F_MATH_POW] = {"pow", 0},
    [F_MATH_SQRT] = {"sqrt", 0}, [F_MATH_CBRT] = {"cbrt", 0}, [F_MATH_LOG] = {"log", 0},
    [F_MATH_LOG2] = {"log2", 0}, [F_MATH_LOG10] = {"log10", 0}, [F_MATH_LOG1P] = {"log1p", 0},
    [F_MATH_EXP] = {"exp", 0}, [F_MATH_EXPM1] = {"expm1", 0}, [F_MATH_HYPOT] = {"hypot", 0},
    [F_MATH_SIN] = {"sin", 0}, [F_MATH_COS] = {"cos", 0}, [F_MATH_TAN] = {"tan", 0}, [F_MATH_ASIN] = {"asin", 0},
    [F_MATH_ACOS] = {"acos", 0}, [F_MATH_ATAN] = {"atan", 0}, [F_MATH_ATAN2] = {"atan2", 0},
    [F_JSON_STRINGIFY] = {"stringify", 0}, [F_JSON_PARSE] = {"parse", 0}, [F_OBJECT_KEYS] = {"keys", 0},
    [F_OBJECT_VALUES] = {"values", 0}, [F_OBJECT_ENTRIES] = {"entries", 0},
    [F_OBJECT_FROMENTRIES] = {"fromEntries", 0}, [F_ARRAY_ISARRAY] = {"isArray", 0},
    [F_NUMBER_ISINTEGER] = {"isInteger", 0}, [F_NUMBER_ISSAFEINTEGER] = {"isSafeInteger", 0},
    [F_NUMBER_ISFINITE] = {"isFinite", 0}, [F_NUMBER_ISNAN] = {"isNaN", 0},
    [M_AT] = {"at", ON_STR | ON_ARR}, [M_CHARAT] = {"charAt", ON_STR}, [M_CHARCODEAT] = {"charCodeAt", ON_STR},
    [M_CODEPOINTAT] = {"codePointAt", ON_STR}, [M_CONCAT] = {"concat", ON_STR | ON_ARR},
    [M_ENDSWITH] = {"endsWith", ON_STR}, [M_EVERY] = {"every", ON_ARR}, [M_FILTER] = {"filter", ON_ARR},
    [M_FIND] = {"find", ON_ARR}, [M_FINDINDEX] = {"findIndex", ON_ARR}, [M_FINDLAST] = {"findLast", ON_ARR},
    [M_FINDLASTINDEX] = {"findLastIndex", ON_ARR}, [M_FLAT] = {"flat", ON_ARR}, [M_FLATMAP] = {"flatMap", ON_ARR},
    [M_FOREACH] = {"forEach", ON_ARR}, [M_HASOWNPROPERTY] = {"hasOwnProperty", ON_OBJ},
    [M_INCLUDES] = {"includes", ON_STR | ON_ARR}, [M_INDEXOF] = {"indexOf", ON_STR | ON_ARR},
    [M_JOIN] = {"join", ON_ARR}, [M_LASTINDEXOF] = {"lastIndexOf", ON_STR | ON_ARR}, [M_MAP] = {"map", ON_ARR},
    [M_PADEND] = {"padEnd", ON_STR}, [M_PADSTART] = {"padStart", ON_STR}, [M_REDUCE] = {"reduce", ON_ARR},
    [M_REDUCERIGHT] = {"reduceRight", ON_ARR}, [M_REPEAT] = {"repeat", ON_STR},
    [M_REPLACE] = {"replace", ON_STR}, [M_REPLACEALL] = {"replaceAll", ON_STR},
    [M_REVERSE] = {"reverse", ON_ARR}, [M_SLICE] = {"slice", ON_STR | ON_ARR}, [M_SOME] = {"some", ON_ARR},
    [M_SORT] = {"sort", ON_ARR}, [M_SPLIT] = {"split", ON_STR}, [M_STARTSWITH] = {"startsWith", ON_STR},
    [M_SUBSTRING] = {"substring", ON_STR}, [M_TOFIXED] = {"toFixed", ON_NUM},
    [M_TOLOWERCASE] = {"toLowerCase", ON_STR}, [M_TOREVERSED] = {"toReversed", ON_ARR},
    [M_TOSORTED] = {"toSorted", ON_ARR},
    [M_TOSTRING] = {"toString", ON_STR | ON_ARR | ON_NUM | ON_BOOL | ON_OBJ},
    [M_TOUPPERCASE] = {"toUpperCase", ON_STR}, [M_TRIM] = {"trim", ON_STR}, [M_TRIMEND] = {"trimEnd", ON_STR},
    [M_TRIMSTART] = {"trimStart", ON_STR}, [M_VALUEOF] = {"valueOf", ON_STR | ON_ARR | ON_NUM | ON_BOOL | ON_OBJ},
    [M_PUSH] = {"push", 0}, [M_POP] = {"pop", 0}, [M_SHIFT] = {"shift", 0}, [M_UNSHIFT] = {"unshift", 0},
    [M_SPLICE] = {"splice", 0}, [M_FILL] = {"fill", 0}, [M_COPYWITHIN] = {"copyWithin", 0},
};

const char *weir__xfn_name(unsigned id) { return id < F_COUNT && fns[id].name ? fns[id].name : ""; }

unsigned weir__xmethod_lookup(const char *name, size_t len) {
    for (unsigned id = M_AT; id < F_COUNT; id++)
        if (strlen(fns[id].name) == len && !memcmp(fns[id].name, name, len)) return id;
    return F_NONE;
}

bool weir__xmethod_on(unsigned id, unsigned vtype) { return id < F_COUNT && (fns[id].on & B(vtype)); }

/* ---------------------------------------------------------------- UTF-16 */

static size_t seq_len(unsigned char b) { return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }

size_t weir__xu16_len(const char *s, size_t n) {
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if ((b & 0xC0) != 0x80) u += b >= 0xF0 ? 2 : 1;
    }
    return u;
}

size_t weir__xu16_off(const char *s, size_t n, size_t idx) {
    size_t u = 0, i = 0;
    while (i < n) {
        size_t k = seq_len((unsigned char)s[i]), w = k == 4 ? 2 : 1;
        if (u + w > idx) return i;
        u += w;
        i += k;
    }
    return n;
}

size_t weir__xu16_index(const char *s, size_t off) { return weir__xu16_len(s, off); }

unsigned weir__xutf8_at(const char *s, size_t n, size_t off, size_t *k) {
    const unsigned char *p = (const unsigned char *)s + off;
    size_t avail = n - off, len = seq_len(p[0]);
    if (len > avail) len = 1;
    unsigned cp = len == 1 ? p[0] : len == 2 ? p[0] & 0x1Fu : len == 3 ? p[0] & 0x0Fu : p[0] & 0x07u;
    for (size_t j = 1; j < len; j++) cp = (cp << 6) | (p[j] & 0x3Fu);
    *k = len;
    return cp;
}

/* A string with its UTF-16 length; ASCII strings index bytes directly. */
typedef struct ustr {
    const char *p;
    size_t n;
    size_t u16;
    bool ascii;
} ustr;

static ustr mk_ustr(const xval *v) {
    ustr s = {v->u.s.p, v->u.s.len, 0, true};
    for (size_t i = 0; i < s.n; i++)
        if ((unsigned char)s.p[i] >= 0x80) {
            s.ascii = false;
            break;
        }
    s.u16 = s.ascii ? s.n : weir__xu16_len(s.p, s.n);
    return s;
}
static size_t uoff(const ustr *s, size_t idx) {
    if (s->ascii) return idx < s->n ? idx : s->n;
    return weir__xu16_off(s->p, s->n, idx);
}
static size_t uidx(const ustr *s, size_t off) { return s->ascii ? off : weir__xu16_index(s->p, off); }

/* Characters compared or copied count as work: one step per XSTEP_COPY
 * bytes copied, as building a string does (str_alloc), and per XSTEP_SCAN
 * bytes a search may compare one at a time. */
static int text_work(xctx *c, size_t bytes) { return weir__xsteps(c, bytes / XSTEP_COPY); }
static int scan_work(xctx *c, size_t bytes) { return weir__xsteps(c, bytes / XSTEP_SCAN); }

/* ------------------------------------------------------------ arguments */

static const xval UNDEF = {.t = V_UNDEF};

static const xval *arg(const xval *args, size_t n, size_t i) { return i < n ? &args[i] : &UNDEF; }

static void ret_num(xval *out, double d) {
    out->t = V_NUM;
    out->u.n = d;
}
static void ret_bool(xval *out, bool b) {
    out->t = V_BOOL;
    out->u.b = b;
}
static void ret_str(xval *out, const char *p, size_t n) {
    out->t = V_STR;
    out->u.s.p = p;
    out->u.s.len = n;
}

static int num_arg(xctx *c, const xval *args, size_t n, size_t i, double *d) {
    return weir__xto_number(c, arg(args, n, i), d);
}

/* ToIntegerOrInfinity. */
static int int_arg(xctx *c, const xval *args, size_t n, size_t i, double *d) {
    int rc = num_arg(c, args, n, i, d);
    if (rc) return rc;
    *d = isnan(*d) ? 0 : trunc(*d) + 0.0;
    return 0;
}

/* A relative index (negative from the end) clamped to [0, len]. */
static size_t rel_index(double d, size_t len) {
    if (d < 0) {
        d += (double)len;
        return d < 0 ? 0 : (size_t)d;
    }
    return d > (double)len ? len : (size_t)d;
}

static int str_arg(xctx *c, const xval *args, size_t n, size_t i, xval *s) {
    return weir__xto_string(c, arg(args, n, i), s);
}

static int new_array(xctx *c, json_t **arr, xval *out) {
    *arr = json_array();
    int rc = weir__xtemp(c, *arr);
    if (rc) return rc;
    out->t = V_ARR;
    out->u.j = *arr;
    return 0;
}

static int push(xctx *c, json_t *arr, const xval *v) {
    json_t *j;
    int rc = weir__xto_json(c, v, &j);
    if (rc) return rc;
    if (json_array_append_new(arr, j)) return weir__xoom(c);
    return 0;
}

static int push_str(xctx *c, json_t *arr, const char *p, size_t n) {
    xval v;
    ret_str(&v, p, n);
    return push(c, arr, &v);
}

static xval elem(json_t *arr, size_t i) { return weir__xfrom_json(json_array_get(arr, i)); }

/* The callback argument of an array method. */
static int callback_arg(xctx *c, const xval *args, size_t n, const xval **fn) {
    *fn = arg(args, n, 0);
    if ((*fn)->t == V_FUNC) return 0;
    xval s;
    int rc = weir__xto_string(c, *fn, &s);
    if (rc) return rc;
    if ((*fn)->t == V_STR)
        return weir__xthrow(c, "\"%.*s\" is not a function", (int)(s.u.s.len > 60 ? 60 : s.u.s.len), s.u.s.p);
    return weir__xthrow(c, "%.*s is not a function", (int)(s.u.s.len > 60 ? 60 : s.u.s.len), s.u.s.p);
}

/* ------------------------------------------------------- global functions */

/* cbrt as V8 computes it (fdlibm s_cbrt.c); the C library's differs in
 * the last bit for some inputs (cbrt(27)). */
static double fdlibm_cbrt(double x) {
    static const uint32_t B1 = 715094163, B2 = 696219795;
    static const double P0 = 1.87595182427177009643, P1 = -1.88497979543377169875, P2 = 1.621429720105354466140,
                        P3 = -0.758397934778766047437, P4 = 0.145996192886612446982;
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    uint32_t hx = (uint32_t)(bits >> 32), low = (uint32_t)bits, sign = hx & 0x80000000u;
    hx &= 0x7fffffffu;
    if (hx >= 0x7ff00000u) return x + x;
    double t;
    uint64_t tb;
    if (hx < 0x00100000u) {
        if ((hx | low) == 0) return x;
        t = 18014398509481984.0 * x; /* 2^54 */
        memcpy(&tb, &t, sizeof tb);
        uint32_t high = (uint32_t)(tb >> 32);
        tb = (uint64_t)(sign | ((high & 0x7fffffffu) / 3 + B2)) << 32;
    } else {
        tb = (uint64_t)(sign | (hx / 3 + B1)) << 32;
    }
    memcpy(&t, &tb, sizeof t);
    double r = (t * t) * (t / x);
    t = t * ((P0 + r * (P1 + r * P2)) + ((r * r) * r) * (P3 + r * P4));
    memcpy(&tb, &t, sizeof tb);
    tb = (tb + 0x80000000u) & 0xffffffffc0000000ULL;
    memcpy(&t, &tb, sizeof t);
    double s = t * t;
    r = x / s;
    double w = t + t;
    r = (r - t) / (w + r);
    return t + t * r;
}

static double js_round(double x) {
    if (!isfinite(x) || x == 0) return x;
    if (x > 0 && x < 0.5) return 0.0;
    if (x < 0 && x >= -0.5) return -0.0;
    double r = floor(x);
    if (x - r >= 0.5) r += 1;
    return r;
}

static int math1(xctx *c, unsigned id, xval *args, size_t n, xval *out) {
    double x;
    int rc = num_arg(c, args, n, 0, &x);
    if (rc) return rc;
    double r;
    switch (id) {
    case F_MATH_ABS: r = fabs(x); break;
    case F_MATH_FLOOR: r = floor(x); break;
    case F_MATH_CEIL: r = ceil(x); break;
    case F_MATH_ROUND: r = js_round(x); break;
    case F_MATH_TRUNC: r = trunc(x); break;
    case F_MATH_SIGN: r = isnan(x) ? x : x > 0 ? 1 : x < 0 ? -1 : x; break;
    case F_MATH_SQRT: r = sqrt(x); break;
    case F_MATH_CBRT: r = fdlibm_cbrt(x); break;
    case F_MATH_LOG: r = log(x); break;
    case F_MATH_LOG2: r = log2(x); break;
    case F_MATH_LOG10: r = log10(x); break;
    case F_MATH_LOG1P: r = log1p(x); break;
    case F_MATH_EXP: r = exp(x); break;
    case F_MATH_EXPM1: r = expm1(x); break;
    case F_MATH_SIN: r = sin(x); break;
    case F_MATH_COS: r = cos(x); break;
    case F_MATH_TAN: r = tan(x); break;
    case F_MATH_ASIN: r = asin(x); break;
    case F_MATH_ACOS: r = acos(x); break;
    default: r = atan(x); break;
    }
    ret_num(out, r);
    return 0;
}

static int math_minmax(xctx *c, bool max, xval *args, size_t n, xval *out) {
    double r = max ? -INFINITY : INFINITY;
    bool nan = false;
    for (size_t i = 0; i < n; i++) {
        double x;
        int rc = weir__xto_number(c, &args[i], &x);
        if (rc) return rc;
        if (isnan(x)) nan = true;
        else if (max ? (x > r || (x == 0 && r == 0 && !signbit(x))) : (x < r || (x == 0 && r == 0 && signbit(x))))
            r = x;
    }
    ret_num(out, nan ? NAN : r);
    return 0;
}

static int js_hypot(xctx *c, xval *args, size_t n, xval *out) {
    double acc = 0;
    bool inf = false, nan = false;
    for (size_t i = 0; i < n; i++) {
        double x;
        int rc = weir__xto_number(c, &args[i], &x);
        if (rc) return rc;
        if (isinf(x)) inf = true;
        else if (isnan(x)) nan = true;
        else acc = hypot(acc, x);
    }
    ret_num(out, inf ? INFINITY : nan ? NAN : acc);
    return 0;
}

static int json_stringify(xctx *c, xval *args, size_t n, xval *out) {
    const xval *v = arg(args, n, 0), *rep = arg(args, n, 1), *sp = arg(args, n, 2);
    if (rep->t == V_FUNC)
        return weir__xthrow(c, "JSON.stringify with a replacer function is not supported; map the value first");
    xkey *allow = NULL;
    size_t nallow = 0;
    int rc = 0;
    if (rep->t == V_ARR) { /* the property list: strings and numbers, once each */
        size_t nrep = json_array_size(rep->u.j);
        if (!(allow = weir__xalloc(c, nrep * sizeof *allow))) return c->fail;
        for (size_t i = 0; i < nrep; i++) {
            xval e = elem(rep->u.j, i), k;
            if (e.t != V_STR && e.t != V_NUM) continue;
            if ((rc = weir__xto_string(c, &e, &k))) return rc;
            bool dup = false;
            for (size_t q = 0; q < nallow && !dup; q++)
                dup = allow[q].len == k.u.s.len && !memcmp(allow[q].k, k.u.s.p, k.u.s.len);
            if (!dup) allow[nallow++] = (xkey){k.u.s.p, k.u.s.len, NULL};
        }
    }
    char gap[16] = "";
    size_t gaplen = 0;
    if (sp->t == V_NUM) {
        double d = isnan(sp->u.n) ? 0 : trunc(sp->u.n);
        gaplen = d < 1 ? 0 : d > 10 ? 10 : (size_t)d;
        memset(gap, ' ', gaplen);
    } else if (sp->t == V_STR) {
        gaplen = sp->u.s.len;
        if (gaplen > 10) gaplen = weir__xu16_off(sp->u.s.p, sp->u.s.len, 10);
        memcpy(gap, sp->u.s.p, gaplen);
    }
    xbuf b = {.limit = c->x->max_bytes, .c = c};
    char num[32];
    switch (v->t) {
    case V_UNDEF: case V_FUNC: *out = UNDEF; return 0;
    case V_NULL: weir__xbuf_add(&b, "null", 4); break;
    case V_BOOL: weir__xbuf_add(&b, v->u.b ? "true" : "false", v->u.b ? 4 : 5); break;
    case V_NUM:
        if (isfinite(v->u.n)) weir__xbuf_add(&b, num, weir__xnum_to_str(v->u.n, num));
        else weir__xbuf_add(&b, "null", 4);
        break;
    case V_STR: weir__xstringify_string(v->u.s.p, v->u.s.len, &b); break;
    default:
        rc = weir__xsteps(c, 1);
        if (!rc && weir__xstringify_json(v->u.j, gap, gaplen, allow, allow ? nallow : 0, &b))
            rc = weir__xthrow(c, "JSON.stringify: value nested too deeply");
        break;
    }
    if (rc) {
        weir__xbuf_free(&b);
        return rc;
    }
    return weir__xbuf_finish(c, &b, out);
}

/* JSON.parse reads numbers as reals (JavaScript has no int64): integral
 * ones in ±2^53 go back to integers so results look as the input did. */
static bool integral_real(const json_t *e) {
    if (!json_is_real(e)) return false;
    double d = json_real_value(e);
    return d == trunc(d) && fabs(d) <= 9007199254740992.0 && !(d == 0 && signbit(d));
}

static void normalize_numbers(json_t *j, unsigned depth) {
    if (depth > XMAX_VALUE_DEPTH) return;
    if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++) {
            json_t *e = json_array_get(j, i);
            if (integral_real(e)) {
                json_t *k = json_integer((json_int_t)json_real_value(e));
                if (k) json_array_set_new(j, i, k);
            } else {
                normalize_numbers(e, depth + 1);
            }
        }
    } else if (json_is_object(j)) {
        void *it;
        for (it = json_object_iter(j); it; it = json_object_iter_next(j, it)) {
            json_t *e = json_object_iter_value(it);
            if (integral_real(e)) {
                json_t *k = json_integer((json_int_t)json_real_value(e));
                if (k) json_object_iter_set_new(j, it, k);
            } else {
                normalize_numbers(e, depth + 1);
            }
        }
    }
}

static int json_parse(xctx *c, xval *args, size_t n, xval *out) {
    xval s;
    int rc = str_arg(c, args, n, 0, &s);
    if (rc) return rc;
    if ((rc = weir__xsteps(c, s.u.s.len / 16 + 1))) return rc;
    if (XSTACK_LOW(c->stack_floor + XSTACK_PARSE_JSON)) return weir__xstack_exceeded(c);
    json_error_t e;
    json_t *j = json_loadb(s.u.s.p, s.u.s.len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &e);
    if (!j) {
        /* jansson leaves the text empty when it could not even start */
        if (json_error_code(&e) == json_error_out_of_memory || !e.text[0]) return weir__xoom(c);
        if (e.position >= 0 && (size_t)e.position >= s.u.s.len)
            return weir__xthrow(c, "Unexpected end of JSON input (%s)", e.text);
        return weir__xthrow(c, "Unexpected token in JSON at position %d: %s", e.position, e.text);
    }
    if (json_is_real(j)) {
        *out = weir__xfrom_json(j);
        json_decref(j);
        return 0;
    }
    normalize_numbers(j, 0);
    if ((rc = weir__xtemp(c, j))) return rc;
    *out = weir__xfrom_json(j);
    return 0;
}

int weir__xstring_units(xctx *c, const xval *s, int (*f)(xctx *, void *, size_t, const xval *), void *ud) {
    int rc = weir__xsteps(c, s->u.s.len);
    size_t idx = 0;
    for (size_t off = 0; !rc && off < s->u.s.len; idx++) {
        size_t k;
        unsigned cp = weir__xutf8_at(s->u.s.p, s->u.s.len, off, &k);
        xval unit;
        ret_str(&unit, s->u.s.p + off, k);
        rc = f(c, ud, idx, &unit);
        if (!rc && cp >= 0x10000) { /* the low half of the pair */
            ret_str(&unit, "\xEF\xBF\xBD", 3);
            rc = f(c, ud, ++idx, &unit);
        }
        off += k;
    }
    return rc;
}

/* One member of Object.keys/values/entries. */
static int list_entry(xctx *c, json_t *arr, unsigned id, const xval *k, const xval *v) {
    if (id == F_OBJECT_KEYS) return push(c, arr, k);
    if (id == F_OBJECT_VALUES) return push(c, arr, v);
    json_t *pair;
    xval pv;
    int rc;
    if ((rc = new_array(c, &pair, &pv)) || (rc = push(c, pair, k)) || (rc = push(c, pair, v))) return rc;
    return push(c, arr, &pv);
}

typedef struct listing {
    json_t *arr;
    unsigned id;
} listing;

static int list_unit(xctx *c, void *ud, size_t idx, const xval *unit) {
    listing *l = ud;
    char kb[24];
    xval k;
    int kl = snprintf(kb, sizeof kb, "%zu", idx), rc;
    if ((rc = weir__xstr_make(c, kb, (size_t)kl, &k))) return rc;
    return list_entry(c, l->arr, l->id, &k, unit);
}

static int object_listing(xctx *c, unsigned id, xval *args, size_t n, xval *out) {
    const xval *o = arg(args, n, 0);
    json_t *arr;
    int rc;
    if (o->t <= V_NULL) return weir__xthrow(c, "Cannot convert undefined or null to object");
    if ((rc = new_array(c, &arr, out))) return rc;
    char kb[24];
    if (o->t == V_OBJ) {
        xkey *keys;
        size_t nk;
        if (weir__xobject_keys(o->u.j, &keys, &nk)) return weir__xoom(c);
        rc = weir__xsteps(c, nk);
        for (size_t i = 0; !rc && i < nk; i++) {
            xval k, v = weir__xfrom_json(keys[i].v);
            ret_str(&k, keys[i].k, keys[i].len);
            rc = list_entry(c, arr, id, &k, &v);
        }
        weir__free(keys);
        return rc;
    }
    if (o->t == V_STR) {
        listing l = {arr, id};
        return weir__xstring_units(c, o, list_unit, &l);
    }
    if (o->t != V_ARR) return 0;
    size_t len = json_array_size(o->u.j);
    if ((rc = weir__xsteps(c, len))) return rc;
    for (size_t q = 0; q < len; q++) {
        xval k, v = elem(o->u.j, q);
        int kl = snprintf(kb, sizeof kb, "%zu", q);
        if ((rc = weir__xstr_make(c, kb, (size_t)kl, &k)) || (rc = list_entry(c, arr, id, &k, &v))) return rc;
    }
    return 0;
}

static int from_entries(xctx *c, xval *args, size_t n, xval *out) {
    const xval *it = arg(args, n, 0);
    if (it->t != V_ARR) return weir__xthrow(c, "Object.fromEntries expects an array of [key, value] pairs");
    json_t *obj = json_object();
    int rc = weir__xtemp(c, obj);
    if (rc) return rc;
    size_t len = json_array_size(it->u.j);
    if ((rc = weir__xsteps(c, len))) return rc;
    for (size_t i = 0; i < len; i++) {
        xval e = elem(it->u.j, i), k, v;
        if (e.t != V_ARR && e.t != V_OBJ) {
            xval s;
            if ((rc = weir__xto_string(c, &e, &s))) return rc;
            return weir__xthrow(c, "Iterator value %.*s is not an entry object", (int)(s.u.s.len > 60 ? 60 : s.u.s.len),
                                s.u.s.p);
        }
        if (e.t == V_ARR) {
            k = elem(e.u.j, 0);
            v = elem(e.u.j, 1);
        } else {
            k = weir__xfrom_json(json_object_get(e.u.j, "0"));
            v = weir__xfrom_json(json_object_get(e.u.j, "1"));
        }
        json_t *j;
        if ((rc = weir__xto_key(c, &k, &k)) || (rc = weir__xto_json(c, &v, &j))) return rc;
        if (json_object_setn_new_nocheck(obj, k.u.s.p, k.u.s.len, j)) return weir__xoom(c);
    }
    out->t = V_OBJ;
    out->u.j = obj;
    return 0;
}

int weir__xcall_builtin(xctx *c, unsigned id, xval *args, size_t n, xval *out) {
    double x, y;
    int rc = 0;
    xval s;
    switch (id) {
    case F_NUMBER:
        if (!n) x = 0;
        else if ((rc = num_arg(c, args, n, 0, &x))) return rc;
        ret_num(out, x);
        return 0;
    case F_STRING:
        if (!n) {
            ret_str(out, "", 0);
            return 0;
        }
        return weir__xto_string(c, &args[0], out);
    case F_BOOLEAN: ret_bool(out, weir__xtruthy(arg(args, n, 0))); return 0;
    case F_PARSEINT:
        if ((rc = str_arg(c, args, n, 0, &s)) || (rc = num_arg(c, args, n, 1, &y))) return rc;
        ret_num(out, weir__xparse_int(s.u.s.p, s.u.s.len, arg(args, n, 1)->t == V_UNDEF ? 0 : y));
        return 0;
    case F_PARSEFLOAT:
        if ((rc = str_arg(c, args, n, 0, &s))) return rc;
        ret_num(out, weir__xparse_float(s.u.s.p, s.u.s.len));
        return 0;
    case F_ISNAN: case F_ISFINITE:
        if ((rc = num_arg(c, args, n, 0, &x))) return rc;
        ret_bool(out, id == F_ISNAN ? isnan(x) : isfinite(x));
        return 0;
    case F_MATH_MIN: case F_MATH_MAX: return math_minmax(c, id == F_MATH_MAX, args, n, out);
    case F_MATH_HYPOT: return js_hypot(c, args, n, out);
    case F_MATH_POW: case F_MATH_ATAN2:
        if ((rc = num_arg(c, args, n, 0, &x)) || (rc = num_arg(c, args, n, 1, &y))) return rc;
        if (id == F_MATH_ATAN2) ret_num(out, atan2(x, y));
        else ret_num(out, weir__xpow(x, y));
        return 0;
    case F_JSON_STRINGIFY: return json_stringify(c, args, n, out);
    case F_JSON_PARSE: return json_parse(c, args, n, out);
    case F_OBJECT_KEYS: case F_OBJECT_VALUES: case F_OBJECT_ENTRIES: return object_listing(c, id, args, n, out);
    case F_OBJECT_FROMENTRIES: return from_entries(c, args, n, out);
    case F_ARRAY_ISARRAY: ret_bool(out, arg(args, n, 0)->t == V_ARR); return 0;
    case F_NUMBER_ISINTEGER: case F_NUMBER_ISSAFEINTEGER: case F_NUMBER_ISFINITE: case F_NUMBER_ISNAN: {
        const xval *v = arg(args, n, 0);
        bool r = false;
        if (v->t == V_NUM) {
            x = v->u.n;
            if (id == F_NUMBER_ISNAN) r = isnan(x);
            else if (id == F_NUMBER_ISFINITE) r = isfinite(x);
            else r = isfinite(x) && x == trunc(x) && (id == F_NUMBER_ISINTEGER || fabs(x) <= 9007199254740991.0);
        }
        ret_bool(out, r);
        return 0;
    }
    default:
        if (id >= F_MATH_ABS && id <= F_MATH_ATAN) return math1(c, id, args, n, out);
        return weir__xthrow(c, "%s is not a function", weir__xfn_name(id));
    }
}

/* ---------------------------------------------------------------- join */

int weir__xjoin(xctx *c, json_t *arr, const char *sep, size_t seplen, xval *out, unsigned depth) {
    if (depth > XMAX_VALUE_DEPTH || XSTACK_LOW(c->stack_floor))
        return weir__xthrow(c, "Maximum call stack size exceeded (array nested too deeply)");
    size_t n = json_array_size(arr);
    int rc = weir__xsteps(c, n);
    if (rc) return rc;
    if (n == 1) { /* common: no copy for a single string */
        xval e = elem(arr, 0);
        if (e.t == V_STR) {
            *out = e;
            return 0;
        }
    }
    xbuf b = {.limit = c->x->max_bytes, .c = c};
    for (size_t i = 0; i < n && !rc && !b.oom && !b.big; i++) {
        if (i) weir__xbuf_add(&b, sep, seplen);
        xval e = elem(arr, i), s;
        if (e.t <= V_NULL) continue;
        if (e.t == V_ARR) rc = weir__xjoin(c, e.u.j, ",", 1, &s, depth + 1);
        else rc = weir__xto_string(c, &e, &s);
        if (!rc) weir__xbuf_add(&b, s.u.s.p, s.u.s.len);
    }
    if (rc) {
        weir__xbuf_free(&b);
        return rc;
    }
    return weir__xbuf_finish(c, &b, out);
}

/* -------------------------------------------------------- string methods */

/* Simple case mapping: ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic. */
static unsigned lower_cp(unsigned c) {
    if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    if (c >= 0x100 && c <= 0x17F) {
        if (c == 0x178) return 0xFF;
        if ((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
            return c | 1;
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c + 1 : c;
        return c;
    }
    if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 32;
    switch (c) {
    case 0x386: return 0x3AC;
    case 0x388: return 0x3AD;
    case 0x389: return 0x3AE;
    case 0x38A: return 0x3AF;
    case 0x38C: return 0x3CC;
    case 0x38E: return 0x3CD;
    case 0x38F: return 0x3CE;
    default: break;
    }
    if (c >= 0x410 && c <= 0x42F) return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF)) return c | 1;
    return c;
}

static unsigned upper_cp(unsigned c) {
    if (c < 0x80) return c >= 'a' && c <= 'z' ? c - 32 : c;
    if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
    if (c == 0xFF) return 0x178;
    if (c == 0xB5) return 0x39C;
    if (c >= 0x100 && c <= 0x17F) {
        if (c == 0x131) return 'I';
        if (c == 0x17F) return 'S';
        if ((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
            return c & ~1u;
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c : c - 1;
        return c;
    }
    if (c == 0x3C2) return 0x3A3;
    if (c >= 0x3B1 && c <= 0x3CB) return c - 32;
    switch (c) {
    case 0x3AC: return 0x386;
    case 0x3AD: return 0x388;
    case 0x3AE: return 0x389;
    case 0x3AF: return 0x38A;
    case 0x3CC: return 0x38C;
    case 0x3CD: return 0x38E;
    case 0x3CE: return 0x38F;
    default: break;
    }
    if (c >= 0x430 && c <= 0x44F) return c - 32;
    if (c >= 0x450 && c <= 0x45F) return c - 80;
    if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF)) return c & ~1u;
    return c;
}

static size_t put_cp(unsigned cp, char *o) {
    if (cp < 0x80) return o[0] = (char)cp, 1;
    if (cp < 0x800) return o[0] = (char)(0xC0 | (cp >> 6)), o[1] = (char)(0x80 | (cp & 0x3F)), 2;
    if (cp < 0x10000)
        return o[0] = (char)(0xE0 | (cp >> 12)), o[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
               o[2] = (char)(0x80 | (cp & 0x3F)), 3;
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static bool is_letter_cp(unsigned c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= 0xC0 && c <= 0x24F && c != 0xD7 && c != 0xF7) ||
           (c >= 0x370 && c <= 0x3FF) || (c >= 0x400 && c <= 0x4FF);
}

static int change_case(xctx *c, const xval *self, bool upper, xval *out) {
    const char *p = self->u.s.p;
    size_t n = self->u.s.len, i;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch >= 0x80 || (upper ? (ch >= 'a' && ch <= 'z') : (ch >= 'A' && ch <= 'Z'))) break;
    }
    if (i == n) {
        *out = *self;
        return 0;
    }
    if (n > c->x->max_bytes / 2) return weir__xtoo_long(c);
    int rc = text_work(c, n);
    if (rc) return rc;
    char *d = weir__xalloc(c, n * 2 + 4);
    if (!d) return c->fail;
    size_t o = 0;
    unsigned prev = 0;
    for (i = 0; i < n;) {
        size_t k;
        unsigned cp = weir__xutf8_at(p, n, i, &k), m;
        if (upper && cp == 0xDF) {
            d[o++] = 'S', d[o++] = 'S';
        } else if (!upper && cp == 0x130) {
            d[o++] = 'i';
            o += put_cp(0x307, d + o);
        } else if (!upper && cp == 0x3A3) {
            /* Final_Sigma: after a letter and not before one */
            size_t k2;
            unsigned next = i + k < n ? weir__xutf8_at(p, n, i + k, &k2) : 0;
            m = is_letter_cp(prev) && !is_letter_cp(next) ? 0x3C2 : 0x3C3;
            o += put_cp(m, d + o);
        } else {
            m = upper ? upper_cp(cp) : lower_cp(cp);
            if (m == cp) memcpy(d + o, p + i, k), o += k;
            else o += put_cp(m, d + o);
        }
        prev = cp;
        i += k;
    }
    ret_str(out, d, o);
    return 0;
}

/* A search of h from `from` for a needle of m bytes that ended at `hit`
 * (-1: not found) looked at this many bytes. */
static size_t search_span(size_t n, size_t from, ptrdiff_t hit, size_t m) {
    size_t end = hit < 0 ? n : (size_t)hit + m;
    return (end > from ? end - from : 0) + m;
}

/* d = reps copies of p[0..n), doubling what is written: a few large
 * copies, not one per repetition ('a'.repeat(2e6) is 21 memcpy calls). */
static void fill_reps(char *d, const char *p, size_t n, size_t reps) {
    size_t total = n * reps, done = reps ? n : 0;
    if (reps) memcpy(d, p, n);
    while (done < total) {
        size_t k = done < total - done ? done : total - done;
        memcpy(d + done, d, k);
        done += k;
    }
}

static int str_pad(xctx *c, const xval *self, xval *args, size_t n, bool start, xval *out) {
    double target;
    int rc = weir__xto_number(c, arg(args, n, 0), &target);
    if (rc) return rc;
    ustr s = mk_ustr(self);
    xval fill;
    if (arg(args, n, 1)->t == V_UNDEF) ret_str(&fill, " ", 1);
    else if ((rc = str_arg(c, args, n, 1, &fill))) return rc;
    if (isnan(target) || target <= (double)s.u16 || fill.u.s.len == 0) {
        *out = *self;
        return 0;
    }
    double want = trunc(target) - (double)s.u16;
    if (want + (double)s.n > (double)c->x->max_bytes) return weir__xtoo_long(c);
    size_t fill_units = (size_t)want;
    ustr f = mk_ustr(&fill);
    size_t reps = fill_units / f.u16, rest = fill_units % f.u16;
    size_t rest_bytes = uoff(&f, rest);
    size_t total = s.n + reps * f.n + rest_bytes;
    if (total > c->x->max_bytes) return weir__xtoo_long(c);
    if ((rc = text_work(c, total))) return rc;
    char *d = weir__xalloc(c, total);
    if (!d) return c->fail;
    size_t o = 0;
    if (!start) memcpy(d, s.p, s.n), o = s.n;
    fill_reps(d + o, f.p, f.n, reps), o += reps * f.n;
    memcpy(d + o, f.p, rest_bytes), o += rest_bytes;
    if (start) memcpy(d + o, s.p, s.n), o += s.n;
    ret_str(out, d, o);
    return 0;
}

/* GetSubstitution for a string pattern: $$, $&, $` and $' (no captures). */
static void substitute(xbuf *b, const xval *rep, const ustr *s, size_t at, size_t mlen) {
    const char *r = rep->u.s.p, *end = r + rep->u.s.len;
    while (r < end) {
        const char *d = memchr(r, '$', (size_t)(end - r));
        if (!d || d + 1 == end) {
            weir__xbuf_add(b, r, (size_t)(end - r));
            return;
        }
        weir__xbuf_add(b, r, (size_t)(d - r));
        r = d + 2;
        switch (d[1]) {
        case '$': weir__xbuf_addc(b, '$'); break;
        case '&': weir__xbuf_add(b, s->p + at, mlen); break;
        case '`': weir__xbuf_add(b, s->p, at); break;
        case '\'': weir__xbuf_add(b, s->p + at + mlen, s->n - at - mlen); break;
        default: weir__xbuf_add(b, d, 1), r = d + 1; break; /* a lone $ */
        }
    }
}

static int str_replace(xctx *c, const xval *self, xval *args, size_t n, bool all, xval *out) {
    xval pat, rep = UNDEF;
    int rc = str_arg(c, args, n, 0, &pat);
    if (rc) return rc;
    const xval *fn = arg(args, n, 1);
    if (fn->t != V_FUNC && (rc = str_arg(c, args, n, 1, &rep))) return rc;
    ustr s = mk_ustr(self);
    xbuf b = {.limit = c->x->max_bytes, .c = c};
    xsearch sr;
    weir__xsearch_init(&sr, pat.u.s.p, pat.u.s.len);
    size_t pos = 0, last = 0;
    for (;;) {
        ptrdiff_t hit = weir__xsearch_first(&sr, s.p, s.n, pos);
        if ((rc = weir__xsteps(c, 1 + search_span(s.n, pos, hit, pat.u.s.len) / XSTEP_SCAN))) break;
        if (hit < 0) break;
        size_t at = (size_t)hit;
        weir__xbuf_add(&b, s.p + last, at - last);
        if (fn->t == V_FUNC) {
            xval a[3], r, rs;
            ret_str(&a[0], s.p + at, pat.u.s.len);
            ret_num(&a[1], (double)uidx(&s, at));
            a[2] = *self;
            if ((rc = weir__xcall(c, fn, &UNDEF, a, 3, &r)) || (rc = weir__xto_string(c, &r, &rs))) break;
            weir__xbuf_add(&b, rs.u.s.p, rs.u.s.len);
        } else {
            /* the substitution is written a piece at a time ($&, $`, $'):
             * it counts at the rate of bytes handled one at a time */
            size_t before = b.len;
            substitute(&b, &rep, &s, at, pat.u.s.len);
            if ((rc = weir__xsteps(c, (b.len - before) / XSTEP_SCAN))) break;
        }
        last = at + pat.u.s.len;
        if (!all) break;
        if (pat.u.s.len) {
            pos = last;
        } else {
            if (at >= s.n) break;
            size_t k;
            weir__xutf8_at(s.p, s.n, at, &k);
            pos = at + k;
            /* the empty match at `at` consumed nothing: copy the character */
        }
        if (b.oom || b.big) break;
    }
    if (rc) {
        weir__xbuf_free(&b);
        return rc;
    }
    weir__xbuf_add(&b, s.p + last, s.n - last);
    if ((rc = text_work(c, b.len))) {
        weir__xbuf_free(&b);
        return rc;
    }
    return weir__xbuf_finish(c, &b, out);
}

static int str_split(xctx *c, const xval *self, xval *args, size_t n, xval *out) {
    json_t *arr;
    int rc;
    double lim = 4294967295.0;
    if (arg(args, n, 1)->t != V_UNDEF) {
        if ((rc = num_arg(c, args, n, 1, &lim))) return rc;
        lim = isfinite(lim) ? fmod(trunc(lim), 4294967296.0) : 0; /* ToUint32 */
        if (lim < 0) lim += 4294967296.0;
    }
    xval sep;
    bool has_sep = arg(args, n, 0)->t != V_UNDEF;
    if (has_sep && (rc = str_arg(c, args, n, 0, &sep))) return rc;
    if ((rc = new_array(c, &arr, out))) return rc;
    if (lim == 0) return 0;
    const char *p = self->u.s.p;
    size_t len = self->u.s.len;
    if (!has_sep) return push(c, arr, self);
    size_t count = 0;
    if (sep.u.s.len == 0) { /* a piece per character */
        if ((rc = weir__xsteps(c, len + 1))) return rc;
        for (size_t i = 0; i < len && count < lim; count++) {
            size_t k;
            weir__xutf8_at(p, len, i, &k);
            if ((rc = push_str(c, arr, p + i, k))) return rc;
            i += k;
        }
        return 0;
    }
    xsearch sr;
    weir__xsearch_init(&sr, sep.u.s.p, sep.u.s.len);
    size_t pos = 0;
    while (count < lim) {
        ptrdiff_t hit = weir__xsearch_first(&sr, p, len, pos);
        if ((rc = weir__xsteps(c, 1)) || (rc = scan_work(c, search_span(len, pos, hit, sep.u.s.len)))) return rc;
        size_t end = hit >= 0 ? (size_t)hit : len;
        if ((rc = push_str(c, arr, p + pos, end - pos))) return rc;
        count++;
        if (hit < 0) break;
        pos = end + sep.u.s.len;
    }
    return 0;
}

static int str_method(xctx *c, unsigned id, const xval *self, xval *args, size_t n, xval *out) {
    ustr s;
    xval a;
    double x, y;
    int rc;
    if (id == M_TOSTRING || id == M_VALUEOF) {
        *out = *self;
        return 0;
    }
    /* every other method reads the receiver (its UTF-16 length at least) */
    if (self->u.s.len >= XSTEP_SCAN && (rc = scan_work(c, self->u.s.len))) return rc;
    switch (id) {
    case M_TOUPPERCASE: case M_TOLOWERCASE: return change_case(c, self, id == M_TOUPPERCASE, out);
    case M_TRIM: case M_TRIMSTART: case M_TRIMEND: {
        const char *p = self->u.s.p;
        size_t len = self->u.s.len, adv;
        if (id != M_TRIMEND)
            while (len && weir__xis_js_space(p, len, &adv)) p += adv, len -= adv;
        if (id != M_TRIMSTART)
            while (len) {
                size_t k = 1;
                while (k < len && k < 4 && ((unsigned char)p[len - k] & 0xC0) == 0x80) k++;
                if (!weir__xis_js_space(p + len - k, k, &adv) || adv != k) break;
                len -= k;
            }
        ret_str(out, p, len);
        return 0;
    }
    case M_AT: case M_CHARAT: case M_CHARCODEAT: case M_CODEPOINTAT: {
        if ((rc = int_arg(c, args, n, 0, &x))) return rc;
        s = mk_ustr(self);
        if (id == M_AT && x < 0) x += (double)s.u16;
        if (x < 0 || x >= (double)s.u16) {
            if (id == M_CHARAT) ret_str(out, "", 0);
            else if (id == M_CHARCODEAT) ret_num(out, NAN);
            else *out = UNDEF;
            return 0;
        }
        size_t off = uoff(&s, (size_t)x), k;
        unsigned cp = weir__xutf8_at(s.p, s.n, off, &k);
        bool low = uidx(&s, off) != (size_t)x; /* the low half of a pair */
        if (id == M_CHARCODEAT || id == M_CODEPOINTAT) {
            if (cp >= 0x10000) {
                unsigned hi = 0xD800 + ((cp - 0x10000) >> 10), lo = 0xDC00 + ((cp - 0x10000) & 0x3FF);
                ret_num(out, low ? lo : id == M_CHARCODEAT ? hi : cp);
            } else {
                ret_num(out, cp);
            }
            return 0;
        }
        if (low) ret_str(out, "\xEF\xBF\xBD", 3);
        else ret_str(out, s.p + off, k);
        return 0;
    }
    case M_CONCAT: {
        *out = *self;
        for (size_t i = 0; i < n; i++)
            if ((rc = weir__xto_string(c, &args[i], &a)) || (rc = weir__xstr_concat(c, out, &a, out))) return rc;
        return 0;
    }
    case M_INCLUDES: case M_INDEXOF: case M_STARTSWITH: case M_ENDSWITH: case M_LASTINDEXOF: {
        if ((rc = str_arg(c, args, n, 0, &a))) return rc;
        s = mk_ustr(self);
        if (id == M_ENDSWITH) {
            if (arg(args, n, 1)->t == V_UNDEF) x = (double)s.u16;
            else if ((rc = int_arg(c, args, n, 1, &x))) return rc;
            size_t end = uoff(&s, x < 0 ? 0 : x > (double)s.u16 ? s.u16 : (size_t)x);
            if ((rc = text_work(c, a.u.s.len))) return rc;
            ret_bool(out, a.u.s.len <= end && !memcmp(s.p + end - a.u.s.len, a.u.s.p, a.u.s.len));
            return 0;
        }
        if (id == M_LASTINDEXOF) {
            if ((rc = num_arg(c, args, n, 1, &x))) return rc;
            x = isnan(x) ? INFINITY : trunc(x);
            size_t from = x < 0 ? 0 : x > (double)s.u16 ? s.u16 : (size_t)x;
            size_t limit = uoff(&s, from); /* the match may start at or before this byte */
            xsearch sr;
            weir__xsearch_init(&sr, a.u.s.p, a.u.s.len);
            ptrdiff_t hit = weir__xsearch_last(&sr, s.p, s.n, limit);
            if ((rc = scan_work(c, search_span(s.n, 0, limit + a.u.s.len < s.n ? (ptrdiff_t)limit : -1, a.u.s.len))))
                return rc;
            ret_num(out, hit < 0 ? -1 : (double)uidx(&s, (size_t)hit));
            return 0;
        }
        if ((rc = int_arg(c, args, n, 1, &x))) return rc;
        size_t from = uoff(&s, x < 0 ? 0 : x > (double)s.u16 ? s.u16 : (size_t)x);
        if (id == M_STARTSWITH) {
            if ((rc = text_work(c, a.u.s.len))) return rc;
            ret_bool(out, s.n - from >= a.u.s.len && !memcmp(s.p + from, a.u.s.p, a.u.s.len));
            return 0;
        }
        xsearch sr;
        weir__xsearch_init(&sr, a.u.s.p, a.u.s.len);
        ptrdiff_t hit = weir__xsearch_first(&sr, s.p, s.n, from);
        if ((rc = scan_work(c, search_span(s.n, from, hit, a.u.s.len)))) return rc;
        if (id == M_INCLUDES) ret_bool(out, hit >= 0);
        else ret_num(out, hit >= 0 ? (double)uidx(&s, (size_t)hit) : -1);
        return 0;
    }
    case M_SLICE: case M_SUBSTRING: {
        s = mk_ustr(self);
        size_t st, en;
        if ((rc = int_arg(c, args, n, 0, &x))) return rc;
        if (arg(args, n, 1)->t == V_UNDEF) y = (double)s.u16;
        else if ((rc = int_arg(c, args, n, 1, &y))) return rc;
        if (id == M_SLICE) {
            st = rel_index(x, s.u16);
            en = rel_index(y, s.u16);
        } else {
            st = x < 0 ? 0 : x > (double)s.u16 ? s.u16 : (size_t)x;
            en = y < 0 ? 0 : y > (double)s.u16 ? s.u16 : (size_t)y;
            if (st > en) {
                size_t t = st;
                st = en;
                en = t;
            }
        }
        if (st >= en) {
            ret_str(out, "", 0);
            return 0;
        }
        size_t bo = uoff(&s, st), be = uoff(&s, en);
        ret_str(out, s.p + bo, be - bo);
        return 0;
    }
    case M_PADSTART: case M_PADEND: return str_pad(c, self, args, n, id == M_PADSTART, out);
    case M_REPEAT: {
        if ((rc = int_arg(c, args, n, 0, &x))) return rc;
        if (x < 0 || isinf(x)) {
            char nb[32];
            weir__xnum_to_str(x, nb);
            return weir__xthrow(c, "Invalid count value: %s", nb);
        }
        if (self->u.s.len == 0 || x == 0) {
            ret_str(out, "", 0);
            return 0;
        }
        if (x * (double)self->u.s.len > (double)c->x->max_bytes) return weir__xtoo_long(c);
        size_t reps = (size_t)x, len = self->u.s.len;
        if ((rc = text_work(c, reps * len))) return rc;
        char *d = weir__xalloc(c, reps * len);
        if (!d) return c->fail;
        fill_reps(d, self->u.s.p, len, reps);
        ret_str(out, d, reps * len);
        return 0;
    }
    case M_REPLACE: case M_REPLACEALL: return str_replace(c, self, args, n, id == M_REPLACEALL, out);
    case M_SPLIT: return str_split(c, self, args, n, out);
    default: return NOT_HANDLED;
    }
}

/* --------------------------------------------------------- array methods */

static int call_cb(xctx *c, const xval *fn, xval *args, size_t n, xval *out) {
    return weir__xcall(c, fn, &UNDEF, args, n, out);
}

static int flat_into(xctx *c, json_t *dst, json_t *src, double depth, unsigned level) {
    if (level > XMAX_VALUE_DEPTH || XSTACK_LOW(c->stack_floor))
        return weir__xthrow(c, "Maximum call stack size exceeded (flat)");
    size_t n = json_array_size(src);
    int rc = weir__xsteps(c, n);
    for (size_t i = 0; !rc && i < n; i++) {
        json_t *e = json_array_get(src, i);
        if (depth >= 1 && json_is_array(e)) rc = flat_into(c, dst, e, depth - 1, level + 1);
        else if (json_array_append(dst, e)) rc = weir__xoom(c);
    }
    return rc;
}

/* Stable merge sort of vals with a comparator (callback or default). */
typedef struct sorter {
    xctx *c;
    const xval *fn; /* NULL: default order */
    xval *keys;     /* default order: ToString of each value */
} sorter;

static int sort_cmp(sorter *st, size_t i, size_t j, xval *v, int *res) {
    const xval *a = &v[i], *b = &v[j];
    if (a->t == V_UNDEF || b->t == V_UNDEF) {
        *res = (a->t == V_UNDEF) - (b->t == V_UNDEF);
        return 0;
    }
    if (!st->fn) {
        const xval *x = &st->keys[i], *y = &st->keys[j];
        size_t n = x->u.s.len < y->u.s.len ? x->u.s.len : y->u.s.len;
        if (n >= XSTEP_SCAN) {
            int rc = scan_work(st->c, n);
            if (rc) return rc;
        }
        *res = weir__xcompare_strings(x->u.s.p, x->u.s.len, y->u.s.p, y->u.s.len);
        return 0;
    }
    xval args[2] = {*a, *b}, r;
    double d;
    int rc;
    if ((rc = call_cb(st->c, st->fn, args, 2, &r)) || (rc = weir__xto_number(st->c, &r, &d))) return rc;
    *res = d < 0 ? -1 : d > 0 ? 1 : 0;
    return 0;
}

static int merge_sort(sorter *st, size_t *idx, size_t *tmp, size_t n, xval *v) {
    if (n < 2) return 0;
    size_t h = n / 2;
    int rc;
    if ((rc = merge_sort(st, idx, tmp, h, v)) || (rc = merge_sort(st, idx + h, tmp, n - h, v))) return rc;
    size_t i = 0, j = h, o = 0;
    while (i < h && j < n) {
        int r;
        if ((rc = sort_cmp(st, idx[j], idx[i], v, &r))) return rc;
        tmp[o++] = r < 0 ? idx[j++] : idx[i++];
    }
    while (i < h) tmp[o++] = idx[i++];
    while (j < n) tmp[o++] = idx[j++];
    memcpy(idx, tmp, n * sizeof *idx);
    return 0;
}

static int arr_sort(xctx *c, const xval *self, xval *args, size_t n, xval *out) {
    const xval *fn = arg(args, n, 0);
    if (fn->t != V_UNDEF && fn->t != V_FUNC)
        return weir__xthrow(c, "The comparison function must be either a function or undefined");
    size_t len = json_array_size(self->u.j);
    int rc = weir__xsteps(c, len);
    if (rc) return rc;
    json_t *arr;
    if ((rc = new_array(c, &arr, out))) return rc;
    if (!len) return 0;
    xval *v = weir__xalloc(c, len * sizeof *v);
    size_t *idx = weir__xalloc(c, len * sizeof *idx), *tmp = weir__xalloc(c, len * sizeof *tmp);
    if (!v || !idx || !tmp) return c->fail;
    sorter st = {c, fn->t == V_FUNC ? fn : NULL, NULL};
    if (!st.fn && !(st.keys = weir__xalloc(c, len * sizeof *st.keys))) return c->fail;
    for (size_t i = 0; i < len; i++) {
        v[i] = elem(self->u.j, i);
        idx[i] = i;
        if (!st.fn && v[i].t != V_UNDEF && (rc = weir__xto_string(c, &v[i], &st.keys[i]))) return rc;
    }
    if ((rc = merge_sort(&st, idx, tmp, len, v))) return rc;
    for (size_t i = 0; i < len; i++)
        if (json_array_append(arr, json_array_get(self->u.j, idx[i]))) return weir__xoom(c);
    return 0;
}

static int arr_method(xctx *c, unsigned id, const xval *self, xval *args, size_t n, xval *out) {
    json_t *a = self->u.j, *arr;
    size_t len = json_array_size(a);
    const xval *fn;
    double x, y;
    int rc;
    switch (id) {
    case M_TOSTRING: return weir__xjoin(c, a, ",", 1, out, 0);
    case M_VALUEOF: *out = *self; return 0;
    case M_JOIN: {
        xval sep;
        if (arg(args, n, 0)->t == V_UNDEF) ret_str(&sep, ",", 1);
        else if ((rc = str_arg(c, args, n, 0, &sep))) return rc;
        return weir__xjoin(c, a, sep.u.s.p, sep.u.s.len, out, 0);
    }
    case M_AT:
        if ((rc = int_arg(c, args, n, 0, &x))) return rc;
        if (x < 0) x += (double)len;
        *out = x < 0 || x >= (double)len ? UNDEF : elem(a, (size_t)x);
        return 0;
    case M_INCLUDES: case M_INDEXOF: case M_LASTINDEXOF: {
        const xval *want = arg(args, n, 0);
        if ((rc = weir__xsteps(c, len))) return rc;
        if (id == M_LASTINDEXOF) {
            if (n > 1) {
                if ((rc = int_arg(c, args, n, 1, &x))) return rc;
            } else {
                x = (double)len - 1;
            }
            double start = x < 0 ? (double)len + x : (x > (double)len - 1 ? (double)len - 1 : x);
            for (double i = start; i >= 0; i--) {
                xval e = elem(a, (size_t)i);
                if (e.t == V_STR && want->t == V_STR && e.u.s.len == want->u.s.len && (rc = text_work(c, e.u.s.len)))
                    return rc;
                if (weir__xstrict_eq(&e, want)) {
                    ret_num(out, i);
                    return 0;
                }
            }
            ret_num(out, -1);
            return 0;
        }
        if ((rc = int_arg(c, args, n, 1, &x))) return rc;
        for (size_t i = rel_index(x, len); i < len; i++) {
            xval e = elem(a, i);
            if (e.t == V_STR && want->t == V_STR && e.u.s.len == want->u.s.len && (rc = text_work(c, e.u.s.len)))
                return rc;
            if (id == M_INCLUDES ? weir__xsame_value_zero(&e, want) : weir__xstrict_eq(&e, want)) {
                if (id == M_INCLUDES) ret_bool(out, true);
                else ret_num(out, (double)i);
                return 0;
            }
        }
        if (id == M_INCLUDES) ret_bool(out, false);
        else ret_num(out, -1);
        return 0;
    }
    case M_SLICE: {
        if ((rc = int_arg(c, args, n, 0, &x))) return rc;
        if (arg(args, n, 1)->t == V_UNDEF) y = (double)len;
        else if ((rc = int_arg(c, args, n, 1, &y))) return rc;
        size_t st = rel_index(x, len), en = rel_index(y, len);
        if ((rc = new_array(c, &arr, out)) || (rc = weir__xsteps(c, en > st ? en - st : 0))) return rc;
        for (size_t i = st; i < en; i++)
            if (json_array_append(arr, json_array_get(a, i))) return weir__xoom(c);
        return 0;
    }
    case M_CONCAT: {
        if ((rc = new_array(c, &arr, out))) return rc;
        for (size_t i = 0; i <= n; i++) {
            const xval *v = i == 0 ? self : &args[i - 1];
            if (v->t == V_ARR) {
                if ((rc = weir__xsteps(c, json_array_size(v->u.j)))) return rc;
                if (json_array_extend(arr, v->u.j)) return weir__xoom(c);
            } else if ((rc = push(c, arr, v))) {
                return rc;
            }
        }
        return 0;
    }
    case M_REVERSE: case M_TOREVERSED:
        if ((rc = new_array(c, &arr, out)) || (rc = weir__xsteps(c, len))) return rc;
        for (size_t i = len; i-- > 0;)
            if (json_array_append(arr, json_array_get(a, i))) return weir__xoom(c);
        return 0;
    case M_SORT: case M_TOSORTED: return arr_sort(c, self, args, n, out);
    case M_FLAT: {
        if (arg(args, n, 0)->t == V_UNDEF) x = 1;
        else if ((rc = int_arg(c, args, n, 0, &x))) return rc;
        if ((rc = new_array(c, &arr, out))) return rc;
        return flat_into(c, arr, a, x, 0);
    }
    case M_REDUCE: case M_REDUCERIGHT: {
        if ((rc = callback_arg(c, args, n, &fn))) return rc;
        bool right = id == M_REDUCERIGHT;
        size_t i = 0;
        xval acc;
        if (n >= 2) {
            acc = args[1];
        } else {
            if (!len) return weir__xthrow(c, "Reduce of empty array with no initial value");
            acc = elem(a, right ? len - 1 : 0);
            i = 1;
        }
        for (; i < len; i++) {
            size_t k = right ? len - 1 - i : i;
            xval cb[4] = {acc, elem(a, k), {.t = V_NUM, .u.n = (double)k}, *self};
            if ((rc = call_cb(c, fn, cb, 4, &acc))) return rc;
        }
        *out = acc;
        return 0;
    }
    default: break;
    }
    /* the callback methods */
    if ((rc = callback_arg(c, args, n, &fn))) return rc;
    arr = NULL;
    if ((id == M_MAP || id == M_FILTER || id == M_FLATMAP) && (rc = new_array(c, &arr, out))) return rc;
    bool last = id == M_FINDLAST || id == M_FINDLASTINDEX;
    for (size_t q = 0; q < len; q++) {
        size_t i = last ? len - 1 - q : q;
        xval e = elem(a, i), r;
        xval cb[3] = {e, {.t = V_NUM, .u.n = (double)i}, *self};
        if ((rc = call_cb(c, fn, cb, 3, &r))) return rc;
        switch (id) {
        case M_MAP: rc = push(c, arr, &r); break;
        case M_FLATMAP:
            if (r.t == V_ARR) {
                if ((rc = weir__xsteps(c, json_array_size(r.u.j)))) return rc;
                if (json_array_extend(arr, r.u.j)) return weir__xoom(c);
            } else {
                rc = push(c, arr, &r);
            }
            break;
        case M_FILTER:
            if (weir__xtruthy(&r) && json_array_append(arr, json_array_get(a, i))) return weir__xoom(c);
            break;
        case M_FIND: case M_FINDLAST:
            if (weir__xtruthy(&r)) {
                *out = e;
                return 0;
            }
            break;
        case M_FINDINDEX: case M_FINDLASTINDEX:
            if (weir__xtruthy(&r)) {
                ret_num(out, (double)i);
                return 0;
            }
            break;
        case M_SOME:
            if (weir__xtruthy(&r)) {
                ret_bool(out, true);
                return 0;
            }
            break;
        case M_EVERY:
            if (!weir__xtruthy(&r)) {
                ret_bool(out, false);
                return 0;
            }
            break;
        default: break; /* forEach */
        }
        if (rc) return rc;
    }
    switch (id) {
    case M_FIND: case M_FINDLAST: case M_FOREACH: *out = UNDEF; break;
    case M_FINDINDEX: case M_FINDLASTINDEX: ret_num(out, -1); break;
    case M_SOME: ret_bool(out, false); break;
    case M_EVERY: ret_bool(out, true); break;
    default: break;
    }
    return 0;
}

/* ---------------------------------------------------- number, bool, object */

static int num_method(xctx *c, unsigned id, const xval *self, xval *args, size_t n, xval *out) {
    double d = self->u.n, x;
    int rc;
    if (id == M_VALUEOF) {
        *out = *self;
        return 0;
    }
    if (id == M_TOFIXED) {
        if ((rc = int_arg(c, args, n, 0, &x))) return rc;
        if (x < 0 || x > 100) return weir__xthrow(c, "toFixed() digits argument must be between 0 and 100");
        char buf[1300];
        size_t len = weir__xnum_to_fixed(d, (int)x, buf);
        return weir__xstr_make(c, buf, len, out);
    }
    /* toString(radix) */
    if (arg(args, n, 0)->t == V_UNDEF) x = 10;
    else if ((rc = int_arg(c, args, n, 0, &x))) return rc;
    if (x < 2 || x > 36) return weir__xthrow(c, "toString() radix argument must be between 2 and 36");
    char buf[2200];
    size_t len = x == 10 ? weir__xnum_to_str(d, buf) : weir__xnum_to_radix(d, (int)x, buf);
    return weir__xstr_make(c, buf, len, out);
}

int weir__xcall_method(xctx *c, unsigned id, const xval *self, xval *args, size_t n, xval *out, const char *what,
                       size_t what_len) {
    int rc = NOT_HANDLED;
    if (weir__xmethod_on(id, self->t)) {
        switch (self->t) {
        case V_STR: rc = str_method(c, id, self, args, n, out); break;
        case V_ARR: rc = arr_method(c, id, self, args, n, out); break;
        case V_NUM: rc = num_method(c, id, self, args, n, out); break;
        case V_BOOL:
            if (id == M_VALUEOF) *out = *self;
            else ret_str(out, self->u.b ? "true" : "false", self->u.b ? 4 : 5);
            rc = 0;
            break;
        case V_OBJ:
            if (id == M_VALUEOF) *out = *self, rc = 0;
            else if (id == M_TOSTRING) ret_str(out, "[object Object]", 15), rc = 0;
            else {
                xval k;
                if ((rc = str_arg(c, args, n, 0, &k))) return rc;
                ret_bool(out, json_object_getn(self->u.j, k.u.s.p, k.u.s.len) != NULL);
            }
            break;
        default: break;
        }
    }
    if (rc != NOT_HANDLED) return rc;
    return weir__xthrow(c, "%.*s is not a function", (int)(what_len > 120 ? 120 : what_len), what);
}
