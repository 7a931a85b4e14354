/* Canonical JSON written fast: see canon.h.  Every rule here mirrors
 * jansson 2.x's dump.c and strconv.c (jsonp_dtostr) for JSON_COMPACT |
 * JSON_SORT_KEYS | JSON_ENCODE_ANY; what is not mirrored is handed to
 * jansson itself. */
#include "core/canon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#define CANON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)

int weir__cbuf_reserve(weir_cbuf *b, size_t n) {
    if (b->cap - b->len >= n) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n) {
        if (cap > ((size_t)-1) / 2) return -1;
        cap *= 2;
    }
    char *p = weir__realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

void weir__cbuf_free(weir_cbuf *b) {
    weir__free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static int put(weir_cbuf *b, const char *s, size_t n) {
    if (weir__cbuf_reserve(b, n)) return -1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

static int put_c(weir_cbuf *b, char c) {
    if (b->len == b->cap && weir__cbuf_reserve(b, 1)) return -1;
    b->p[b->len++] = c;
    return 0;
}

/* jansson's own dump of v appended (the rare cases). */
static int jansson_cb(const char *buf, size_t n, void *ud) { return put(ud, buf, n); }

static int jansson_dump(const json_t *v, weir_cbuf *b) {
    size_t at = b->len;
    if (json_dump_callback(v, jansson_cb, b, CANON_FLAGS)) {
        b->len = at;
        return -1;
    }
    return 0;
}

int weir__canon_int(long long v, weir_cbuf *b) {
    char tmp[24], *e = tmp + sizeof tmp, *p = e;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0) *--p = '-';
    return put(b, p, (size_t)(e - p));
}

/* jsonp_dtostr with precision 17 in the C locale. */
static int canon_real(double v, weir_cbuf *b) {
    char buf[100];
    int ret = snprintf(buf, sizeof buf, "%.17g", v);
    if (ret < 0 || (size_t)ret >= sizeof buf) return -1;
    size_t len = (size_t)ret;
    if (!strchr(buf, '.') && !strchr(buf, 'e')) {
        if (len + 3 >= sizeof buf) return -1;
        buf[len++] = '.';
        buf[len++] = '0';
        buf[len] = '\0';
    }
    char *start = strchr(buf, 'e');
    if (start) {
        start++;
        char *end = start + 1;
        if (*start == '-') start++;
        while (*end == '0') end++;
        if (end != start) {
            memmove(start, end, len - (size_t)(end - buf));
            len -= (size_t)(end - start);
        }
    }
    return put(b, buf, len);
}

static const char hexd[] = "0123456789ABCDEF";

/* An ASCII-only string (no byte >= 0x80) quoted and escaped; 1 when it has
 * a byte >= 0x80 (nothing appended), -1 out of memory. */
static int ascii_string(const char *s, size_t len, weir_cbuf *b) {
    /* worst case: every byte \u00XX */
    if (weir__cbuf_reserve(b, len * 6 + 2)) return -1;
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) return 1;
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hexd[c >> 4];
            *o++ = hexd[c & 15];
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    return 0;
}

int weir__canon_string(const char *s, size_t len, weir_cbuf *b) {
    int rc = ascii_string(s, len, b);
    if (rc <= 0) return rc;
    /* UTF-8: jansson checks and writes it (same bytes, same failures). */
    json_t *t = json_stringn_nocheck(s, len);
    if (!t) return -1;
    rc = jansson_dump(t, b);
    json_decref(t);
    return rc;
}

typedef struct kv {
    const char *key;
    size_t len;
    json_t *value;
} kv;

/* jansson's compare_keys: bytes, then the shorter first. */
static int key_cmp(const kv *a, const kv *b) {
    size_t n = a->len < b->len ? a->len : b->len;
    int r = memcmp(a->key, b->key, n);
    if (r) return r;
    return a->len < b->len ? -1 : a->len > b->len;
}

static int key_qcmp(const void *a, const void *b) { return key_cmp(a, b); }

static int dump(const json_t *v, weir_cbuf *b, int depth);

static int dump_object(const json_t *v, weir_cbuf *b, int depth) {
    size_t n = json_object_size(v);
    if (n == 0) return put(b, "{}", 2);
    kv small[16], *keys = n <= 16 ? small : weir__malloc(n * sizeof *keys);
    if (!keys) return -1;
    size_t i = 0;
    int rc = 0;
    for (void *it = json_object_iter((json_t *)v); it && i < n; it = json_object_iter_next((json_t *)v, it), i++) {
        keys[i].key = json_object_iter_key(it);
        keys[i].len = json_object_iter_key_len(it);
        keys[i].value = json_object_iter_value(it);
        for (size_t k = 0; k < keys[i].len; k++)
            if ((unsigned char)keys[i].key[k] >= 0x80) rc = 1; /* a UTF-8 key: jansson's */
    }
    if (rc || i != n) {
        if (keys != small) weir__free(keys);
        return jansson_dump(v, b);
    }
    if (n <= 16) {
        for (i = 1; i < n; i++) { /* insertion sort: a handful of keys */
            kv t = keys[i];
            size_t k = i;
            while (k && key_cmp(&keys[k - 1], &t) > 0) {
                keys[k] = keys[k - 1];
                k--;
            }
            keys[k] = t;
        }
    } else {
        qsort(keys, n, sizeof *keys, key_qcmp);
    }
    rc = put_c(b, '{');
    for (i = 0; !rc && i < n; i++) {
        if (i) rc = put_c(b, ',');
        if (!rc) rc = ascii_string(keys[i].key, keys[i].len, b);
        if (!rc) rc = put_c(b, ':');
        if (!rc) rc = dump(keys[i].value, b, depth + 1);
    }
    if (!rc) rc = put_c(b, '}');
    if (keys != small) weir__free(keys);
    return rc;
}

static int dump(const json_t *v, weir_cbuf *b, int depth) {
    if (!v) return -1;
    if (depth > WEIR_CANON_DEPTH) return jansson_dump(v, b); /* and its cycle check */
    switch (json_typeof(v)) {
    case JSON_NULL: return put(b, "null", 4);
    case JSON_TRUE: return put(b, "true", 4);
    case JSON_FALSE: return put(b, "false", 5);
    case JSON_INTEGER: return weir__canon_int((long long)json_integer_value(v), b);
    case JSON_REAL: return canon_real(json_real_value(v), b);
    case JSON_STRING: {
        int rc = ascii_string(json_string_value(v), json_string_length(v), b);
        return rc <= 0 ? rc : jansson_dump(v, b);
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        int rc = put_c(b, '[');
        for (size_t i = 0; !rc && i < n; i++) {
            if (i) rc = put_c(b, ',');
            if (!rc) rc = dump(json_array_get(v, i), b, depth + 1);
        }
        return rc ? rc : put_c(b, ']');
    }
    case JSON_OBJECT: return dump_object(v, b, depth);
    default: return -1;
    }
}

int weir__canon_dump(const json_t *v, weir_cbuf *b) {
    size_t at = b->len;
    if (dump(v, b, 0)) {
        b->len = at;
        return -1;
    }
    return 0;
}
