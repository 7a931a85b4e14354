/* Canonical JSON written fast (core/canon.h): byte for byte jansson's
 * JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY dump, over many random
 * values (every type, escapes, control characters, UTF-8 and bad UTF-8,
 * keys that sort by length and by byte, reals of every magnitude, deep
 * nesting past WEIR_CANON_DEPTH), and the same failures. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/canon.h"

#define FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next(void) { /* xorshift64*: the same values on every run */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717u;
}
static unsigned pick(unsigned n) { return (unsigned)(next() % n); }

/* A random string: ASCII, escapes, control bytes, UTF-8 (1..4 bytes),
 * sometimes a NUL inside, sometimes (bad != 0) invalid UTF-8. */
static size_t rand_text(char *out, size_t cap, int bad) {
    static const char *const pieces[] = {"a", "Z", "0", " ", "\"", "\\", "/", "\b", "\f", "\n", "\r", "\t",
                                         "\x01", "\x1f", "\x7f", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                         "key", "value", "~", "{", "}", "[", ":"};
    size_t n = pick(12), len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = pieces[pick(sizeof pieces / sizeof *pieces)];
        size_t l = strlen(p);
        if (len + l + 2 >= cap) break;
        memcpy(out + len, p, l);
        len += l;
    }
    if (pick(20) == 0 && len + 1 < cap) out[len++] = '\0'; /* a NUL inside (json_stringn) */
    if (bad && len + 2 < cap) {
        static const char *const bads[] = {"\xc3", "\xff", "\xed\xa0\x80", "\xc0\xaf", "\xf8\x88\x80\x80\x80"};
        const char *p = bads[pick(5)];
        size_t l = strlen(p);
        if (len + l < cap) {
            memcpy(out + len, p, l);
            len += l;
        }
    }
    return len;
}

static json_t *rand_value(int depth) {
    char s[96];
    unsigned t = depth > 5 ? pick(6) : pick(9);
    switch (t) {
    case 0: return json_null();
    case 1: return json_true();
    case 2: return json_false();
    case 3: {
        static const json_int_t edge[] = {0, 1, -1, 9, 10, -10, INT64_MAX, INT64_MIN, 1000000007, -2147483648LL};
        return json_integer(pick(3) ? (json_int_t)(next() >> pick(64)) * (pick(2) ? 1 : -1) : edge[pick(10)]);
    }
    case 4: {
        double d;
        switch (pick(6)) {
        case 0: d = (double)(int64_t)(next() >> 40); break;          /* integral: ".0" appended */
        case 1: d = ldexp((double)(next() >> 11), (int)pick(200) - 100); break;
        case 2: d = 0.1 * (double)pick(1000); break;
        case 3: d = ldexp(1.0, (int)pick(2000) - 1000); break;          /* exponents of every size */
        case 4: d = pick(2) ? 1e21 : 1e-7; break;
        default: d = -0.0;
        }
        if (pick(2)) d = -d;
        return json_real(d);
    }
    case 5: {
        size_t n = rand_text(s, sizeof s, 0);
        return json_stringn(s, n);
    }
    case 6:
    case 7: {
        json_t *o = json_object();
        unsigned n = pick(20); /* past 16: the sort that is not insertion */
        for (unsigned i = 0; i < n; i++) {
            size_t kn = pick(4) ? (size_t)snprintf(s, sizeof s, "%c%u", 'a' + pick(5), pick(30)) : rand_text(s, sizeof s, 0);
            json_object_setn_new(o, s, kn, rand_value(depth + 1));
        }
        return o;
    }
    default: {
        json_t *a = json_array();
        unsigned n = pick(6);
        for (unsigned i = 0; i < n; i++) json_array_append_new(a, rand_value(depth + 1));
        return a;
    }
    }
}

/* jansson's bytes, or NULL when it cannot dump v. */
static char *jansson_text(const json_t *v, size_t *len) {
    size_t n = json_dumpb(v, NULL, 0, FLAGS);
    if (!n) return NULL;
    char *p = malloc(n);
    cr_assert(p);
    cr_assert_eq(json_dumpb(v, p, n, FLAGS), n);
    *len = n;
    return p;
}

static void check_same(const json_t *v, const char *what) {
    size_t jn = 0;
    char *want = jansson_text(v, &jn);
    weir_cbuf b = {0};
    cr_assert_eq(weir__cbuf_reserve(&b, 3), 0);
    memcpy(b.p, "pre", 3); /* appended after what is there */
    b.len = 3;
    int rc = weir__canon_dump(v, &b);
    if (!want) {
        cr_assert_neq(rc, 0, "%s: jansson fails, canon gave %.*s", what, (int)b.len - 3, b.p + 3);
        cr_assert_eq(b.len, 3, "%s: a failed dump leaves the buffer as it was", what);
    } else {
        cr_assert_eq(rc, 0, "%s: jansson gives %.*s, canon fails", what, (int)jn, want);
        cr_assert(b.len - 3 == jn && memcmp(b.p + 3, want, jn) == 0, "%s:\n jansson %.*s\n canon   %.*s", what,
                  (int)jn, want, (int)(b.len - 3), b.p + 3);
    }
    free(want);
    weir__cbuf_free(&b);
}

Test(canon, random_values_are_byte_identical_to_jansson) {
    for (int i = 0; i < 20000; i++) {
        json_t *v = rand_value(0);
        char what[32];
        snprintf(what, sizeof what, "value %d", i);
        check_same(v, what);
        json_decref(v);
    }
}

Test(canon, fixed_values) {
    const char *texts[] = {"0", "-0.0", "1.0", "1e+300", "1.5e-300", "123456789012345678", "0.1", "[]", "{}",
                           "{\"b\":1,\"a\":2,\"ab\":3,\"\":4}", "\"\\u0000x\"", "\"\\u007f\\u0080\"",
                           "[1,[2,[3,{\"z\":null,\"y\":true,\"x\":false}]]]", "4.9406564584124654e-324",
                           "1.7976931348623157e308", "100000000000000000000.0", "-1e21"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        json_error_t e;
        json_t *v = json_loads(texts[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
        cr_assert(v, "%s: %s", texts[i], e.text);
        check_same(v, texts[i]);
        json_decref(v);
    }
}

Test(canon, bad_utf8_fails_as_jansson_fails) {
    for (int i = 0; i < 2000; i++) {
        char s[96];
        size_t n = rand_text(s, sizeof s, 1);
        json_t *v = json_stringn_nocheck(s, n); /* what json_string would refuse */
        check_same(v, "a bad string");
        json_t *o = json_object();
        json_object_set_new(o, "k", v);
        check_same(o, "an object holding it");
        json_t *ko = json_object();
        json_object_setn_new_nocheck(ko, s, n, json_integer(1));
        check_same(ko, "a bad key");
        json_decref(o);
        json_decref(ko);
        weir_cbuf b = {0};
        int rc = weir__canon_string(s, n, &b);
        json_t *t = json_stringn_nocheck(s, n);
        size_t jn = 0;
        char *want = jansson_text(t, &jn);
        cr_assert_eq(rc == 0, want != NULL);
        if (want) cr_assert(b.len == jn && memcmp(b.p, want, jn) == 0);
        free(want);
        json_decref(t);
        weir__cbuf_free(&b);
    }
}

Test(canon, deep_nesting_and_cycles) {
    json_t *root = json_array(), *at = root;
    for (int i = 0; i < 3 * WEIR_CANON_DEPTH; i++) { /* jansson writes below WEIR_CANON_DEPTH */
        json_t *o = json_object();
        json_object_set_new(o, i % 2 ? "b\xc3\xa9" : "a", json_integer(i));
        json_t *a = json_array();
        json_object_set_new(o, "next", a);
        json_array_append_new(at, o);
        at = a;
    }
    check_same(root, "deep");
    json_array_append(at, root); /* a cycle: jansson refuses it, and so does canon */
    check_same(root, "a cycle");
    json_array_clear(at);
    json_decref(root);
}

Test(canon, integers) {
    const long long v[] = {0, 1, -1, 42, -42, 9223372036854775807LL, -9223372036854775807LL - 1};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        weir_cbuf b = {0};
        cr_assert_eq(weir__canon_int(v[i], &b), 0);
        char want[32];
        int n = snprintf(want, sizeof want, "%lld", v[i]);
        cr_assert(b.len == (size_t)n && memcmp(b.p, want, b.len) == 0);
        weir__cbuf_free(&b);
    }
}

/* The journal's body of an input written directly (weir__input_canon) is
 * weir_input_json's canonical dump, byte for byte, for every kind. */
Test(canon, input_records_are_byte_identical_to_weir_input_json) {
    static const char *const names[] = {"in", "out", "a\"b", "caf\xc3\xa9", "x\ny", ""};
    for (int i = 0; i < 20000; i++) {
        json_t *value = pick(8) ? rand_value(1) : NULL, *result = pick(8) ? rand_value(1) : NULL;
        weir_input_rec in = {
            .kind = (weir_input_kind)(1 + pick(WEIR_IN_SWITCH)),
            .now_ms = (int64_t)next(),
            .tick = next(),
            .node = pick(10) ? names[pick(6)] : NULL,
            .port = pick(3) ? names[pick(6)] : NULL,
            .value = value,
            .flags = pick(2) ? 0 : (unsigned)pick(1000),
            .effect = pick(2) ? next() : pick(100),
            .effect_kind = (weir_effect_kind)(WEIR_EFFECT_TIMER + pick(WEIR_EFFECT_LOG)),
            .result = result,
            .error = pick(3) ? NULL : names[pick(6)],
            .on = pick(2),
            .old_now_ms = (int64_t)next(),
            .from = names[pick(6)],
            .to = pick(5) ? names[pick(6)] : NULL,
        };
        json_t *j = weir_input_json(&in);
        size_t jn = 0;
        char *want = j ? jansson_text(j, &jn) : NULL;
        weir_cbuf b = {0};
        int rc = weir__input_canon(&in, &b);
        cr_assert_eq(rc == 0, want != NULL, "record %d (kind %d): jansson %s, canon %s", i, (int)in.kind,
                     want ? "writes it" : "fails", rc ? "fails" : "writes it");
        if (want)
            cr_assert(b.len == jn && memcmp(b.p, want, jn) == 0, "record %d:\n jansson %.*s\n canon   %.*s", i,
                      (int)jn, want, (int)b.len, b.p);
        free(want);
        json_decref(j);
        json_decref(value);
        json_decref(result);
        weir__cbuf_free(&b);
    }
}
