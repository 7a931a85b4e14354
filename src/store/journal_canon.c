/*
 * The fast path of a journal file's bodies (journal_canon.h): canonical
 * JSON parsed straight into jansson values, checking as it goes that the
 * text is exactly what jansson's JSON_COMPACT | JSON_SORT_KEYS |
 * JSON_ENCODE_ANY dump of the result would be.  About three times faster
 * than json_loadb followed by json_dumpb and a compare, which is what it
 * stands in for; anything it is not sure of (an escape in a key, a number
 * jansson would write otherwise, a nesting deeper than jansson takes) it
 * leaves to that slow path, which then gives the verdict.
 *
 * What jansson writes, and so what is canonical here:
 *   - no whitespace; object keys in bytewise order (a key that is a
 *     prefix of another first), each once;
 *   - strings as valid UTF-8 (no overlong forms, surrogates or code points
 *     past U+10FFFF), with \" \\ \b \f \n \r \t escaped so and every other
 *     byte below 0x20 as \u00XX in uppercase hex, nothing else escaped;
 *   - integers without a leading zero or a "-0", fitting 64 bits;
 *   - reals as jansson formats them ("%.17g", ".0" added when it has no
 *     '.' or 'e', the exponent's '+' and leading zeros cut): checked by
 *     formatting the value with jansson and comparing.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "store/journal_canon.h"

/* jansson's own bound (JSON_PARSER_MAX_DEPTH). */
#define MAX_DEPTH 2048

typedef struct cp {
    const char *p, *end;
    int depth;
    char *buf; /* unescaped string bytes */
    size_t cap;
} cp;

static json_t *value(cp *c);

/* One UTF-8 sequence at p (first byte >= 0x80): its length, 0 if invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned char a = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (a >= 0xC2 && a <= 0xDF) n = 2;
    else if (a >= 0xE0 && a <= 0xEF) {
        n = 3;
        if (a == 0xE0) lo = 0xA0;
        if (a == 0xED) hi = 0x9F;
    } else if (a >= 0xF0 && a <= 0xF4) {
        n = 4;
        if (a == 0xF0) lo = 0x90;
        if (a == 0xF4) hi = 0x8F;
    } else return 0;
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return n;
}

static const char UHEX[] = "0123456789ABCDEF";

/* A string at c->p (the opening quote): its bytes in [*s, *s + *n), in
 * c->buf when it had escapes (*escaped).  -1: not canonical. */
static int string(cp *c, const char **s, size_t *n, int *escaped) {
    const unsigned char *p = (const unsigned char *)c->p + 1, *end = (const unsigned char *)c->end;
    const unsigned char *start = p;
    *escaped = 0;
    /* the common case: no escape, ASCII or valid UTF-8 */
    for (;;) {
        if (p == end) return -1;
        unsigned char ch = *p;
        if (ch == '"') break;
        if (ch == '\\') {
            *escaped = 1;
            break;
        }
        if (ch < 0x20) return -1;
        if (ch < 0x80) {
            p++;
            continue;
        }
        size_t k = utf8_len(p, end);
        if (!k) return -1;
        p += k;
    }
    if (!*escaped) {
        *s = (const char *)start;
        *n = (size_t)(p - start);
        c->p = (const char *)p + 1;
        return 0;
    }
    /* escapes: decode into c->buf (never longer than the text) */
    size_t need = (size_t)(end - start) + 1;
    if (need > c->cap) {
        char *b = weir__realloc(c->buf, need);
        if (!b) return -1;
        c->buf = b;
        c->cap = need;
    }
    size_t o = (size_t)(p - start);
    memcpy(c->buf, start, o);
    while (p < end && *p != '"') {
        unsigned char ch = *p;
        if (ch == '\\') {
            if (end - p < 2) return -1;
            unsigned char e = p[1], out;
            switch (e) {
            case '"': out = '"'; break;
            case '\\': out = '\\'; break;
            case 'b': out = '\b'; break;
            case 'f': out = '\f'; break;
            case 'n': out = '\n'; break;
            case 'r': out = '\r'; break;
            case 't': out = '\t'; break;
            case 'u': {
                /* only \u00XX for a control byte jansson has no short form of */
                if (end - p < 6 || p[2] != '0' || p[3] != '0' || (p[4] != '0' && p[4] != '1')) return -1;
                const char *h = memchr(UHEX, p[5], 16);
                if (!h) return -1;
                out = (unsigned char)((p[4] - '0') * 16 + (h - UHEX));
                if (out == '\b' || out == '\f' || out == '\n' || out == '\r' || out == '\t') return -1;
                c->buf[o++] = (char)out;
                p += 6;
                continue;
            }
            default: return -1;
            }
            c->buf[o++] = (char)out;
            p += 2;
            continue;
        }
        if (ch < 0x20) return -1;
        size_t k = ch < 0x80 ? 1 : utf8_len(p, end);
        if (!k) return -1;
        memcpy(c->buf + o, p, k);
        o += k;
        p += k;
    }
    if (p == end) return -1;
    *s = c->buf;
    *n = o;
    c->p = (const char *)p + 1;
    return 0;
}

static json_t *number(cp *c) {
    const char *p = c->p, *end = c->end;
    int neg = *p == '-';
    const char *d = p + neg;
    if (d == end || *d < '0' || *d > '9') return NULL;
    const char *q = d;
    while (q < end && *q >= '0' && *q <= '9') q++;
    if (*d == '0' && q - d > 1) return NULL; /* a leading zero */
    if (q < end && (*q == '.' || *q == 'e' || *q == 'E')) {
        /* a real: the token must be what jansson writes for its value */
        while (q < end && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E' || *q == '-' || *q == '+'))
            q++;
        char tok[64], back[64];
        size_t n = (size_t)(q - p);
        if (n >= sizeof tok) return NULL;
        memcpy(tok, p, n);
        tok[n] = '\0';
        char *stop;
        double v = strtod(tok, &stop);
        if (stop != tok + n) return NULL;
        json_t *r = json_real(v); /* NULL for a value that is not finite */
        if (!r) return NULL;
        size_t m = json_dumpb(r, back, sizeof back, JSON_ENCODE_ANY);
        if (m != n || memcmp(back, tok, n) != 0) {
            json_decref(r);
            return NULL;
        }
        c->p = q;
        return r;
    }
    if (neg && q - d == 1 && *d == '0') return NULL; /* -0 is written 0 */
    if (q - d > 19) return NULL; /* json_int_t is long long */
    unsigned long long v = 0;
    for (const char *k = d; k < q; k++) v = v * 10 + (unsigned long long)(*k - '0');
    if (v > (unsigned long long)LLONG_MAX + (unsigned long long)neg) return NULL;
    c->p = q;
    return json_integer(neg ? (json_int_t)(0 - v) : (json_int_t)v);
}

static json_t *object(cp *c) {
    c->p++;
    json_t *o = json_object();
    if (!o) return NULL;
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return o;
    }
    const char *prev = NULL;
    size_t prev_n = 0;
    for (;;) {
        const char *k;
        size_t kn;
        int esc;
        if (c->p == c->end || *c->p != '"' || string(c, &k, &kn, &esc) || esc) goto fail;
        if (prev) { /* strictly after the previous key, bytewise */
            int r = memcmp(prev, k, prev_n < kn ? prev_n : kn);
            if (r > 0 || (r == 0 && prev_n >= kn)) goto fail;
        }
        prev = k;
        prev_n = kn;
        if (c->p == c->end || *c->p != ':') goto fail;
        c->p++;
        json_t *v = value(c);
        if (!v || json_object_setn_new_nocheck(o, k, kn, v)) goto fail;
        if (c->p == c->end) goto fail;
        if (*c->p == '}') {
            c->p++;
            return o;
        }
        if (*c->p++ != ',') goto fail;
    }
fail:
    json_decref(o);
    return NULL;
}

static json_t *array(cp *c) {
    c->p++;
    json_t *a = json_array();
    if (!a) return NULL;
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return a;
    }
    for (;;) {
        json_t *v = value(c);
        if (!v || json_array_append_new(a, v) || c->p == c->end) break;
        if (*c->p == ']') {
            c->p++;
            return a;
        }
        if (*c->p++ != ',') break;
    }
    json_decref(a);
    return NULL;
}

static json_t *literal(cp *c, const char *word, size_t n, json_t *v) {
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) return NULL;
    c->p += n;
    return v;
}

static json_t *value(cp *c) {
    if (c->p == c->end) return NULL;
    json_t *v = NULL;
    switch (*c->p) {
    case '{':
    case '[':
        if (++c->depth > MAX_DEPTH) return NULL;
        v = *c->p == '{' ? object(c) : array(c);
        c->depth--;
        return v;
    case '"': {
        const char *s;
        size_t n;
        int esc;
        return string(c, &s, &n, &esc) ? NULL : json_stringn_nocheck(s, n);
    }
    case 't': return literal(c, "true", 4, json_true());
    case 'f': return literal(c, "false", 5, json_false());
    case 'n': return literal(c, "null", 4, json_null());
    default: return number(c);
    }
}

json_t *weir__jcanon_parse_prefix(const char *text, size_t len, const char **end) {
    cp c = {text, text + len, 0, NULL, 0};
    json_t *v = value(&c);
    weir__free(c.buf);
    *end = c.p;
    return v;
}

json_t *weir__jcanon_parse(const char *text, size_t len) {
    const char *end;
    json_t *v = weir__jcanon_parse_prefix(text, len, &end);
    if (v && end != text + len) {
        json_decref(v);
        v = NULL;
    }
    return v;
}
