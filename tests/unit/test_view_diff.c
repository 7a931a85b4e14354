/* Diffs of live views (service/view_diff.c, SPEC §8): hand-written examples,
 * refusals that name the path, and property tests over random nested lists
 * and objects with a seeded generator (WEIR_SEED=<n> replays a run; every
 * failure prints its seed and case).  Also writes the cross-language
 * fixtures that tests/js/view_diff.cjs replays against src/web/views.js. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"
#include "service/view_diff.h"

/* ------------------------------------------------------------- helpers */

static json_t *parse(const char *text) {
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    cr_assert_not_null(j, "%s: %s", text, e.text);
    return j;
}

/* A dump for messages, kept in a ring so several can be in one message. */
static const char *dump(const json_t *v) {
    static char *ring[8];
    static int at;
    at = (at + 1) % 8;
    free(ring[at]);
    ring[at] = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS) : strdup("(null)");
    return ring[at];
}

static json_t *make(json_t *a, json_t *b) {
    json_t *d = NULL;
    weir_error err;
    cr_assert_eq(weir_view_diff_make(a, b, &d, &err), 0, "%s", err.message);
    return d;
}

static json_t *apply_ok(json_t *v, json_t *d) {
    json_t *out = NULL;
    weir_error err;
    int rc = weir_view_diff_apply(v, d, &out, &err);
    cr_assert_eq(rc, 0, "apply %s to %s: %s", dump(d), dump(v), err.message);
    return out;
}

static json_t *compose_ok(json_t *d1, json_t *d2) {
    json_t *out = NULL;
    weir_error err;
    int rc = weir_view_diff_compose(d1, d2, &out, &err);
    cr_assert_eq(rc, 0, "compose %s then %s: %s", dump(d1), dump(d2), err.message);
    return out;
}

/* apply must refuse with WEIR_EINVAL and a message containing want. */
static void apply_refused(const char *value, const char *diff, const char *want) {
    json_t *v = parse(value), *d = parse(diff), *out = NULL;
    weir_error err;
    int rc = weir_view_diff_apply(v, d, &out, &err);
    cr_assert_eq(rc, WEIR_EINVAL, "apply %s to %s: rc %d", diff, value, rc);
    cr_assert_null(out);
    cr_assert(strstr(err.message, want), "apply %s to %s: \"%s\" lacks \"%s\"", diff, value, err.message, want);
    json_decref(v);
    json_decref(d);
}

static void check_refused(const char *diff, const char *want) {
    json_t *d = parse(diff);
    weir_error err;
    cr_assert_eq(weir_view_diff_check(d, &err), WEIR_EINVAL, "%s accepted", diff);
    cr_assert(strstr(err.message, want), "%s: \"%s\" lacks \"%s\"", diff, err.message, want);
    json_decref(d);
}

static void expect_json(json_t *got, const char *want, const char *what) {
    json_t *w = parse(want);
    cr_assert(json_equal(got, w), "%s: got %s, want %s", what, dump(got), dump(w));
    json_decref(w);
}

/* make(a, b) is want, applies to b, and composes with {} to itself. */
static void example(const char *a, const char *b, const char *want) {
    json_t *ja = parse(a), *jb = parse(b), *d = make(ja, jb);
    expect_json(d, want, a);
    json_t *got = apply_ok(ja, d);
    cr_assert(json_equal(got, jb), "%s -> %s: applied %s", a, b, dump(got));
    json_decref(got);
    json_decref(ja);
    json_decref(jb);
    json_decref(d);
}

/* ------------------------------------------------------- the examples */

Test(view_diff, sliding_window_of_last_three) {
    example("[1,2,3]", "[2,3,4]", "{\"degree\":3,\"permutation\":[{\"rot\":[0,2]}],\"change\":{\"2\":4}}");
    /* two windows later, composed: item 3 stays, two slots refilled */
    json_t *a = parse("[1,2,3]"), *b = parse("[2,3,4]"), *c = parse("[3,4,5]");
    json_t *d1 = make(a, b), *d2 = make(b, c), *d = compose_ok(d1, d2);
    expect_json(d, "{\"degree\":3,\"permutation\":[[0,2]],\"change\":{\"1\":4,\"2\":5}}",
                "two slides composed");
    json_t *got = apply_ok(a, d);
    cr_assert(json_equal(got, c), "%s", dump(got));
    /* a window that is still filling grows */
    example("[1,2]", "[1,2,3]", "{\"degree\":3,\"grow\":1,\"change\":{\"2\":3}}");
    /* a window shifted by its whole length is changed by position */
    example("[1,2,3]", "[7,8,9]", "{\"degree\":3,\"change\":{\"0\":7,\"1\":8,\"2\":9}}");
    /* below the root, a small list is replaced whole when that is smaller */
    example("{\"w\":[1,2,3]}", "{\"w\":[2,3,4]}", "{\"patch\":{\"w\":{\"value\":[2,3,4]}}}");
    example("{\"w\":[\"a reading of the north sensor: 1\",\"a reading of the north sensor: 2\","
            "\"a reading of the north sensor: 3\"]}",
            "{\"w\":[\"a reading of the north sensor: 2\",\"a reading of the north sensor: 3\","
            "\"a reading of the north sensor: 4\"]}",
            "{\"patch\":{\"w\":{\"degree\":3,\"permutation\":[{\"rot\":[0,2]}],"
            "\"change\":{\"2\":\"a reading of the north sensor: 4\"}}}}");
    json_decref(got);
    json_decref(d);
    json_decref(d1);
    json_decref(d2);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

Test(view_diff, appending_to_the_executions_list) {
    example("[{\"id\":\"x1\",\"state\":\"running\",\"hops\":3}]",
            "[{\"id\":\"x1\",\"state\":\"running\",\"hops\":3},{\"id\":\"x2\",\"state\":\"running\",\"hops\":0}]",
            "{\"degree\":2,\"grow\":1,\"change\":{\"1\":{\"id\":\"x2\",\"state\":\"running\",\"hops\":0}}}");
    /* and one of them completing: a nested patch at its position */
    example("[{\"id\":\"x1\",\"state\":\"running\",\"hops\":3,\"graphId\":\"g\"},{\"id\":\"x2\"}]",
            "[{\"id\":\"x1\",\"state\":\"completed\",\"hops\":3,\"graphId\":\"g\"},{\"id\":\"x2\"}]",
            "{\"degree\":2,\"patch\":{\"0\":{\"patch\":{\"state\":{\"value\":\"completed\"}}}}}");
    /* the oldest trimmed at the front */
    example("[1,2,3,4]", "[3,4]", "{\"degree\":4,\"shrink\":2,\"permutation\":[[0,2],[1,3]]}");
    example("[1,2,3]", "[2,3]", "{\"degree\":3,\"shrink\":1,\"permutation\":[{\"rot\":[0,2]}]}");
    example("[1,2,3]", "[1,2]", "{\"degree\":3,\"shrink\":1}");
}

Test(view_diff, removing_and_adding_keys) {
    example("{\"a\":1,\"b\":2,\"c\":[1,2]}", "{\"a\":1,\"c\":[1,2]}", "{\"remove\":[\"b\"]}");
    example("{\"a\":1,\"b\":2}", "{\"a\":1,\"b\":2,\"z\":{\"q\":1}}", "{\"set\":{\"z\":{\"q\":1}}}");
    example("{\"a\":1,\"b\":2,\"c\":3}", "{\"c\":4,\"d\":5}",
            "{\"set\":{\"d\":5},\"patch\":{\"c\":{\"value\":4}},\"remove\":[\"a\",\"b\"]}");
    /* removed keys in code point order (U+FF41 before U+1F600, unlike UTF-16) */
    example("{\"\xf0\x9f\x98\x80\":1,\"z\":2,\"\xef\xbd\x81\":3,\"q\":[1,2,3,4,5,6,7,8,9]}", "{\"q\":[1,2,3,4,5,6,7,8,9]}",
            "{\"remove\":[\"z\",\"\xef\xbd\x81\",\"\xf0\x9f\x98\x80\"]}");
    /* added then removed cancels; removed then added is a replacement */
    json_t *d1 = parse("{\"set\":{\"k\":1}}"), *d2 = parse("{\"remove\":[\"k\"]}");
    json_t *c = compose_ok(d1, d2);
    expect_json(c, "{}", "set then remove");
    json_t *c2 = compose_ok(d2, d1);
    expect_json(c2, "{\"patch\":{\"k\":{\"value\":1}}}", "remove then set");
    json_t *d3 = parse("{\"patch\":{\"k\":{\"value\":7}}}"), *c3 = compose_ok(d1, d3);
    expect_json(c3, "{\"set\":{\"k\":7}}", "set then patch folds into one set");
    json_decref(d1);
    json_decref(d2);
    json_decref(d3);
    json_decref(c);
    json_decref(c2);
    json_decref(c3);
}

Test(view_diff, nested_node_state_change) {
    const char *a = "{\"state\":\"running\",\"metrics\":{\"hops\":10,\"injects\":2,\"errors\":0,\"outputs\":1},\"nodes\":{"
                    "\"n1\":{\"component\":\"symbia.core.accumulator\",\"in\":4,\"out\":4,\"errors\":0,"
                    "\"state\":{\"count\":4,\"sum\":10}},"
                    "\"n2\":{\"component\":\"symbia.core.logger\",\"in\":4,\"out\":0,\"errors\":0,\"state\":null}}}";
    const char *b = "{\"state\":\"running\",\"metrics\":{\"hops\":12,\"injects\":2,\"errors\":0,\"outputs\":1},\"nodes\":{"
                    "\"n1\":{\"component\":\"symbia.core.accumulator\",\"in\":5,\"out\":5,\"errors\":0,"
                    "\"state\":{\"count\":5,\"sum\":15}},"
                    "\"n2\":{\"component\":\"symbia.core.logger\",\"in\":4,\"out\":0,\"errors\":0,\"state\":null}}}";
    /* counters patched one by one; the small state object replaced whole
     * (smaller than patching both its members) */
    example(a, b,
            "{\"patch\":{\"metrics\":{\"patch\":{\"hops\":{\"value\":12}}},\"nodes\":{\"patch\":{\"n1\":{\"patch\":{"
            "\"in\":{\"value\":5},\"out\":{\"value\":5},\"state\":{\"value\":{\"count\":5,\"sum\":15}}}}}}}}");
}

Test(view_diff, permutation_cycles_mean_what_the_header_says) {
    const char *cases[][2] = {
        {"[{\"rot\":[0,2]}]", "[\"b\",\"c\",\"a\",\"d\"]"}, /* a moves to 2, b and c shift back */
        {"[{\"rot\":[2,0]}]", "[\"c\",\"a\",\"b\",\"d\"]"}, /* c moves to 0 */
        {"[[0,1,2]]", "[\"b\",\"c\",\"a\",\"d\"]"},         /* the same as rot [0,2] */
        {"[[2,1,0]]", "[\"c\",\"a\",\"b\",\"d\"]"},         /* the same as rot [2,0] */
        {"[[0,3]]", "[\"d\",\"b\",\"c\",\"a\"]"},           /* a swap */
        {"[[0,1],[0,1]]", "[\"a\",\"b\",\"c\",\"d\"]"},     /* cycles apply one after another */
        {"[{\"rot\":[0,3]},{\"rot\":[0,3]}]", "[\"c\",\"d\",\"a\",\"b\"]"},
    };
    json_t *v = parse("[\"a\",\"b\",\"c\",\"d\"]");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char d[256];
        snprintf(d, sizeof d, "{\"degree\":4,\"permutation\":%s}", cases[i][0]);
        json_t *jd = parse(d), *got = apply_ok(v, jd);
        expect_json(got, cases[i][1], d);
        json_decref(jd);
        json_decref(got);
    }
    /* grow, permute, shrink, change in that order */
    json_t *d = parse("{\"degree\":5,\"grow\":1,\"shrink\":2,\"permutation\":[{\"rot\":[4,0]}],\"change\":{\"0\":\"e\"}}");
    json_t *got = apply_ok(v, d);
    expect_json(got, "[\"e\",\"a\",\"b\"]", "the order of steps");
    json_decref(got);
    json_decref(d);
    json_decref(v);
}

Test(view_diff, empty_diff_is_canonical_no_op) {
    json_t *a = parse("{\"x\":[1,{\"y\":2}]}"), *e = json_object();
    json_t *d = make(a, a);
    expect_json(d, "{}", "make(a, a)");
    cr_assert(weir_view_diff_is_empty(d));
    json_t *got = apply_ok(a, e);
    cr_assert(json_equal(got, a));
    json_t *a2 = parse("{\"x\":[1,{\"y\":3}]}"), *d2 = make(a, a2);
    json_t *c1 = compose_ok(d2, e), *c2 = compose_ok(e, d2);
    cr_assert(json_equal(c1, d2) && json_equal(c2, d2), "%s %s", dump(c1), dump(c2));
    /* a list diff that does nothing composes to {} */
    json_t *noop = parse("{\"degree\":2,\"grow\":0,\"shrink\":0,\"permutation\":[[0,1],[1,0]]}");
    json_t *l = parse("{\"degree\":2}"), *c3 = compose_ok(noop, l);
    expect_json(c3, "{}", "a no-op list diff");
    /* the initial value is the diff from null */
    json_t *init = make(NULL, a);
    expect_json(init, "{\"value\":{\"x\":[1,{\"y\":2}]}}", "init");
    json_decref(init);
    json_decref(noop);
    json_decref(l);
    json_decref(c1);
    json_decref(c2);
    json_decref(c3);
    json_decref(got);
    json_decref(d);
    json_decref(d2);
    json_decref(a2);
    json_decref(a);
    json_decref(e);
}

Test(view_diff, apply_refuses_what_does_not_fit_naming_the_path) {
    apply_refused("[1,2]", "{\"degree\":3,\"shrink\":3}", "view diff at the root: the list diff is for 3 items");
    apply_refused("{\"n\":[1,2]}", "{\"patch\":{\"n\":{\"degree\":2,\"shrink\":3}}}", "at /patch/n: shrink 3 is above degree 2");
    apply_refused("{\"n\":{\"a\":[1]}}", "{\"patch\":{\"n\":{\"patch\":{\"a\":{\"set\":{\"x\":1}}}}}}",
                  "view diff at /n/a: an object diff does not fit a list");
    apply_refused("{\"n\":5}", "{\"patch\":{\"n\":{\"remove\":[\"q\"]}}}", "at /n: an object diff does not fit a number");
    apply_refused("[{\"a\":1}]", "{\"degree\":1,\"patch\":{\"0\":{\"degree\":0}}}", "at /0: a list diff does not fit an object");
    apply_refused("{\"a\":1}", "{\"set\":{\"a\":2}}", "at /a: set of a present key");
    apply_refused("{\"a\":1}", "{\"remove\":[\"b\"]}", "at /b: remove of an absent key");
    apply_refused("{\"a/b\":{}}", "{\"patch\":{\"a~b\":{\"set\":{\"x\":1}}}}", "at /a~0b: patch of an absent key");
    apply_refused("{\"a/b\":[]}", "{\"patch\":{\"a/b\":{\"set\":{\"x\":1}}}}", "at /a~1b: an object diff does not fit a list");
    apply_refused("[1]", "{\"degree\":2,\"grow\":1}", "at /1: a grown slot ends here without a value in change");
    apply_refused("[1]", "{\"degree\":2,\"grow\":1,\"permutation\":[[0,1]],\"change\":{\"1\":5}}", "at /0: a grown slot");
    apply_refused("[[1]]", "{\"degree\":1,\"patch\":{\"0\":{\"degree\":2,\"grow\":0,\"shrink\":1}}}", "at /0: the list diff is for 2 items");
}

Test(view_diff, compose_refuses_what_cannot_follow) {
    const char *cases[][3] = {
        {"{\"degree\":3,\"grow\":1,\"change\":{\"2\":1}}", "{\"degree\":2}", "the first leaves 3"},
        {"{\"remove\":[\"k\"]}", "{\"patch\":{\"k\":{\"value\":1}}}", "at /k: patch of a key the first diff removed"},
        {"{\"remove\":[\"k\"]}", "{\"remove\":[\"k\"]}", "at /k: remove of a key the first diff removed"},
        {"{\"set\":{\"k\":1}}", "{\"set\":{\"k\":2}}", "at /k: set of a key present"},
        {"{\"patch\":{\"k\":{\"set\":{\"a\":1}}}}", "{\"patch\":{\"k\":{\"degree\":1}}}", "at /k: a list diff cannot follow an object diff"},
        {"{\"value\":[1]}", "{\"patch\":{\"k\":{}}}", "an object diff does not fit a list"},
        {"{\"degree\":1,\"patch\":{\"0\":{\"value\":{\"a\":1}}}}", "{\"degree\":1,\"patch\":{\"0\":{\"patch\":{\"b\":{}}}}}",
         "at /0/b: patch of an absent key"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *d1 = parse(cases[i][0]), *d2 = parse(cases[i][1]), *out = NULL;
        weir_error err;
        cr_assert_eq(weir_view_diff_compose(d1, d2, &out, &err), WEIR_EINVAL, "%s then %s", cases[i][0], cases[i][1]);
        cr_assert_null(out);
        cr_assert(strstr(err.message, cases[i][2]), "%s then %s: \"%s\"", cases[i][0], cases[i][1], err.message);
        json_decref(d1);
        json_decref(d2);
    }
}

Test(view_diff, check_refuses_malformed_wire_diffs) {
    check_refused("[]", "at the root: a diff is an object, not a list");
    check_refused("{\"value\":1,\"set\":{}}", "no other member");
    check_refused("{\"grow\":1}", "a list diff needs \"degree\"");
    check_refused("{\"degree\":-1}", "at /degree: must be an integer >= 0");
    check_refused("{\"degree\":1.5}", "at /degree: must be an integer");
    check_refused("{\"degree\":2,\"grow\":3}", "grow 3 is above degree 2");
    check_refused("{\"degree\":99999999999}", "WEIR_VIEW_DIFF_MAX_ITEMS");
    check_refused("{\"degree\":2,\"change\":{\"01\":1}}", "at /change/01: a position");
    check_refused("{\"degree\":2,\"shrink\":1,\"change\":{\"1\":1}}", "at /change/1: a position is a decimal");
    check_refused("{\"degree\":2,\"change\":{\"-1\":1}}", "a position");
    check_refused("{\"degree\":2,\"change\":{\"1\":1},\"patch\":{\"1\":{}}}", "at /patch/1: position 1 is both");
    check_refused("{\"degree\":2,\"patch\":{\"1\":[]}}", "at /patch/1: a diff is an object");
    check_refused("{\"degree\":3,\"permutation\":[[0,0]]}", "at /permutation/0: position 0 appears twice");
    check_refused("{\"degree\":3,\"permutation\":[[0]]}", "at /permutation/0: a cycle is a list of 2");
    check_refused("{\"degree\":3,\"permutation\":[[0,3]]}", "in [0, degree 3)");
    check_refused("{\"degree\":3,\"permutation\":[{\"rot\":[1,1]}]}", "at /permutation/0/rot: a rot moves");
    check_refused("{\"degree\":3,\"permutation\":[{\"rot\":[1]}]}", "exactly {\"rot\": [i, j]}");
    check_refused("{\"degree\":3,\"permutation\":{}}", "at /permutation: must be a list of cycles");
    check_refused("{\"degree\":3,\"permutation\":[{\"rot\":[0,2]},{\"rot\":[2,0]},{\"rot\":[0,2]},{\"rot\":[2,0]},"
                  "{\"rot\":[0,1]}]}",
                  "at /permutation/4: the rots move more than WEIR_VIEW_DIFF_ROT_SPAN (4) x degree items");
    check_refused("{\"degree\":3,\"freeze\":[5]}", "at /freeze");
    check_refused("{\"degree\":3,\"set\":{}}", "\"set\" is not a member of a list diff");
    check_refused("{\"sett\":{}}", "\"sett\" is not a member of an object diff");
    check_refused("{\"set\":{\"a\":1},\"patch\":{\"a\":{}}}", "at /patch/a: key is both set and patched");
    check_refused("{\"remove\":[\"a\",\"a\"]}", "at /remove/1: key \"a\" is removed twice");
    check_refused("{\"remove\":[1]}", "at /remove/0: a key is a string");
    check_refused("{\"set\":{\"a\":1},\"remove\":[\"a\"]}", "removed and also set");
    check_refused("{\"patch\":{\"a\":{\"patch\":{\"b~/\":{\"degree\":\"x\"}}}}}", "at /patch/a/patch/b~0~1/degree");
    /* nesting beyond the limit */
    char deep[(WEIR_VIEW_DIFF_MAX_DEPTH + 1) * 16 + 8] = "", *o = deep;
    for (int i = 0; i < WEIR_VIEW_DIFF_MAX_DEPTH + 1; i++) o += sprintf(o, "{\"patch\":{\"a\":");
    o += sprintf(o, "{}");
    for (int i = 0; i < WEIR_VIEW_DIFF_MAX_DEPTH + 1; i++) o += sprintf(o, "}}");
    check_refused(deep, "WEIR_VIEW_DIFF_MAX_DEPTH");
    /* and accepts what the header allows */
    const char *good[] = {"{}", "{\"value\":null}", "{\"degree\":0}", "{\"patch\":{}}", "{\"degree\":2,\"patch\":{\"0\":{}}}",
                          "{\"degree\":2,\"freeze\":[0,1],\"permutation\":[]}"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        json_t *d = parse(good[i]);
        weir_error err;
        cr_assert_eq(weir_view_diff_check(d, &err), 0, "%s: %s", good[i], err.message);
        json_decref(d);
    }
}

Test(view_diff, make_replaces_whole_at_the_depth_limit) {
    json_t *a = json_integer(1), *b = json_integer(2);
    for (int i = 0; i < WEIR_VIEW_DIFF_MAX_DEPTH + 10; i++) {
        a = json_pack("{s:o,s:i}", "x", a, "pad", 1);
        b = json_pack("{s:o,s:i}", "x", b, "pad", 1);
    }
    json_t *d = make(a, b), *got = apply_ok(a, d);
    cr_assert(json_equal(got, b));
    weir_error err;
    cr_assert_eq(weir_view_diff_check(d, &err), 0, "%s", err.message);
    json_decref(got);
    json_decref(d);
    json_decref(a);
    json_decref(b);
}

/* ---------------------------------------------------- random generation */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next(rng *r) { /* splitmix64 */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t below(rng *r, size_t n) { return n ? (size_t)(next(r) % n) : 0; }

static uint64_t seed_of_run(void) {
    const char *s = getenv("WEIR_SEED");
    return s && *s ? strtoull(s, NULL, 0) : 0x5eed0f3e1dull;
}

/* keys with characters that need escaping and that sort differently in
 * UTF-16 and in code points */
static const char *const KEYS[] = {"a", "b", "c", "d", "e", "a/b", "~", "", "__proto__", "constructor", "\xc3\xa9", "\xef\xbd\x81", "\xf0\x9f\x98\x80"};
#define NKEYS (sizeof KEYS / sizeof *KEYS)

static json_t *gen(rng *r, int depth) {
    size_t t = below(r, depth > 0 ? 10 : 5);
    switch (t) {
    case 0:
    case 1: return json_integer((json_int_t)below(r, 5));
    case 2: return json_string((const char *[]){"x", "y", "z"}[below(r, 3)]);
    case 3: return json_boolean(below(r, 2));
    case 4: return json_null();
    case 5:
    case 6:
    case 7: {
        json_t *a = json_array();
        for (size_t i = 0, n = below(r, 6); i < n; i++) json_array_append_new(a, gen(r, depth - 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (size_t i = 0, n = below(r, 5); i < n; i++) json_object_set_new(o, KEYS[below(r, NKEYS)], gen(r, depth - 1));
        return o;
    }
    }
}

/* A new value near v (NEW reference; v is not modified). */
static json_t *mutate(rng *r, json_t *v, int depth) {
    if (json_is_array(v) && below(r, 8)) {
        json_t *a = json_copy(v);
        size_t n = json_array_size(a);
        switch (below(r, 7)) {
        case 0: json_array_append_new(a, gen(r, depth)); break;
        case 1: if (n) json_array_remove(a, 0); break;
        case 2: if (n) json_array_remove(a, n - 1); break;
        case 3: /* a window slides by 1 or 2 */
            for (size_t k = 1 + below(r, 2); k && json_array_size(a); k--) {
                json_array_remove(a, 0);
                json_array_append_new(a, gen(r, depth));
            }
            break;
        case 4:
            if (n) {
                size_t i = below(r, n);
                json_array_set_new(a, i, mutate(r, json_array_get(a, i), depth - 1));
            }
            break;
        case 5: json_array_insert_new(a, below(r, n + 1), gen(r, depth)); break;
        default:
            if (n > 1) {
                size_t i = below(r, n), j = below(r, n);
                json_t *x = json_incref(json_array_get(a, i));
                json_array_set(a, i, json_array_get(a, j));
                json_array_set_new(a, j, x);
            }
        }
        return a;
    }
    if (json_is_object(v) && below(r, 8)) {
        json_t *o = json_copy(v);
        const char *k = KEYS[below(r, NKEYS)];
        switch (below(r, 3)) {
        case 0: json_object_set_new(o, k, gen(r, depth)); break;
        case 1: json_object_del(o, k); break;
        default: {
            json_t *x = json_object_get(o, k);
            if (x) json_object_set_new(o, k, mutate(r, x, depth - 1));
        }
        }
        return o;
    }
    return gen(r, depth);
}

/* A random diff that fits v, often not canonical (explicit and rot cycles
 * that overlap, grown slots shrunk again, {} and {"value"} patches), and
 * *want the value it must give, computed here without the library. */
static json_t *rand_diff(rng *r, json_t *v, int depth, json_t **want) {
    size_t t = below(r, 8);
    if (t == 0) {
        *want = json_incref(v);
        return json_object();
    }
    if (t == 1 || (!json_is_array(v) && !json_is_object(v))) {
        *want = gen(r, depth);
        return json_pack("{s:O}", "value", *want);
    }
    if (json_is_object(v)) {
        json_t *set = json_object(), *patch = json_object(), *rm = json_array(), *res = json_copy(v);
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            size_t c = below(r, 5);
            if (c == 0) {
                json_array_append_new(rm, json_string(k));
                json_object_del(res, k);
            } else if (c == 1) {
                json_t *w;
                json_object_set_new(patch, k, rand_diff(r, x, depth - 1, &w));
                json_object_set_new(res, k, w);
            }
        }
        for (size_t i = below(r, 3); i; i--) {
            k = KEYS[below(r, NKEYS)];
            if (json_object_get(v, k)) continue;
            json_t *g = gen(r, depth - 1);
            json_object_set(set, k, g);
            json_object_set_new(res, k, g);
        }
        *want = res;
        json_t *d = json_object();
        if (below(r, 2) || json_object_size(set)) json_object_set_new(d, "set", set); else json_decref(set);
        if (below(r, 2) || json_object_size(patch)) json_object_set_new(d, "patch", patch); else json_decref(patch);
        if (below(r, 2) || json_array_size(rm)) json_object_set_new(d, "remove", rm); else json_decref(rm);
        return d;
    }
    size_t n0 = json_array_size(v), g = below(r, 3), D = n0 + g;
    size_t *p = malloc((D + 1) * sizeof *p), *q = malloc((D + 1) * sizeof *q);
    for (size_t i = 0; i < D; i++) p[i] = i;
    json_t *perm = json_array();
    for (size_t c = below(r, 4); c && D >= 2; c--) {
        memcpy(q, p, D * sizeof *p);
        if (below(r, 2)) { /* rot: the item at i to j */
            size_t i = below(r, D), j = below(r, D);
            if (i == j) continue;
            json_array_append_new(perm, json_pack("{s:[I,I]}", "rot", (json_int_t)i, (json_int_t)j));
            for (size_t x = 0; x < D; x++) {
                size_t from = x;
                if (x == j) from = i;
                else if (i < j && x >= i && x < j) from = x + 1;
                else if (i > j && x > j && x <= i) from = x - 1;
                p[x] = q[from];
            }
        } else { /* explicit: new[c_t] = old[c_(t+1)] */
            size_t m = 2 + below(r, D - 1 < 3 ? D - 1 : 3), cyc[5], used = 0;
            while (used < m) {
                size_t x = below(r, D), dup = 0;
                for (size_t u = 0; u < used; u++) dup |= cyc[u] == x;
                if (!dup) cyc[used++] = x;
            }
            json_t *cj = json_array();
            for (size_t u = 0; u < m; u++) {
                json_array_append_new(cj, json_integer((json_int_t)cyc[u]));
                p[cyc[u]] = q[cyc[(u + 1) % m]];
            }
            json_array_append_new(perm, cj);
        }
    }
    size_t s = below(r, 3);
    if (s > D) s = D;
    size_t n1 = D - s;
    json_t *change = json_object(), *patch = json_object(), *res = json_array();
    for (size_t i = 0; i < n1; i++) {
        char key[24];
        snprintf(key, sizeof key, "%zu", i);
        size_t c = below(r, 5);
        if (p[i] >= n0 || c == 0) {
            json_t *x = gen(r, depth - 1);
            json_object_set(change, key, x);
            json_array_append_new(res, x);
        } else if (c == 1) {
            json_t *w;
            json_object_set_new(patch, key, rand_diff(r, json_array_get(v, p[i]), depth - 1, &w));
            json_array_append_new(res, w);
        } else {
            json_array_append(res, json_array_get(v, p[i]));
        }
    }
    free(p);
    free(q);
    *want = res;
    json_t *d = json_pack("{s:I}", "degree", (json_int_t)D);
    if (g || below(r, 2)) json_object_set_new(d, "grow", json_integer((json_int_t)g));
    if (s || below(r, 2)) json_object_set_new(d, "shrink", json_integer((json_int_t)s));
    if (json_array_size(perm) || below(r, 2)) json_object_set_new(d, "permutation", perm); else json_decref(perm);
    if (json_object_size(change) || below(r, 2)) json_object_set_new(d, "change", change); else json_decref(change);
    if (json_object_size(patch) || below(r, 2)) json_object_set_new(d, "patch", patch); else json_decref(patch);
    return d;
}

/* d (a private deep copy) with one member somewhere set to something
 * random, or removed: mostly malformed diffs, for check. */
static void corrupt(rng *r, json_t *d) {
    static const char *const names[] = {"degree", "grow",  "shrink", "permutation", "change", "patch", "set",
                                        "remove", "value", "rot",    "0",           "1",      "x",     "freeze"};
    json_t *cur = d;
    for (size_t k = below(r, 4); k; k--) {
        json_t *kids[32];
        size_t n = 0;
        if (json_is_object(cur)) {
            const char *key;
            json_t *v;
            json_object_foreach(cur, key, v) if (n < 32 && (json_is_object(v) || json_is_array(v))) kids[n++] = v;
        } else {
            for (size_t i = 0; i < json_array_size(cur) && n < 32; i++)
                if (json_is_object(json_array_get(cur, i)) || json_is_array(json_array_get(cur, i))) kids[n++] = json_array_get(cur, i);
        }
        if (!n) break;
        cur = kids[below(r, n)];
    }
    json_t *x = below(r, 2) ? json_integer((json_int_t)below(r, 8) - 2) : gen(r, 2);
    if (json_is_object(cur)) {
        if (json_object_size(cur) && !below(r, 3)) {
            json_decref(x);
            void *it = json_object_iter(cur);
            for (size_t k = below(r, json_object_size(cur)); k; k--) it = json_object_iter_next(cur, it);
            json_object_del(cur, json_object_iter_key(it));
        } else {
            json_object_set_new(cur, names[below(r, sizeof names / sizeof *names)], x);
        }
    } else if (json_array_size(cur)) {
        json_array_set_new(cur, below(r, json_array_size(cur)), x);
    } else {
        json_array_append_new(cur, x);
    }
}

/* The next diff of a chain from v: made by the library or random. */
static json_t *step(rng *r, json_t *v, json_t **next_value) {
    if (below(r, 2)) return rand_diff(r, v, 3, next_value);
    *next_value = below(r, 4) ? mutate(r, v, 3) : gen(r, 3);
    return make(v, *next_value);
}

/* Canonical form (view_diff.h): what make and compose of canonical
 * diffs must give. */
static bool canonical(json_t *d, bool top) {
    if (json_object_size(d) == 0) return top;
    if (json_object_get(d, "value")) return true;
    const char *k;
    json_t *v;
    if (json_object_get(d, "degree")) {
        json_int_t D = json_integer_value(json_object_get(d, "degree")), g = json_integer_value(json_object_get(d, "grow")),
                   s = json_integer_value(json_object_get(d, "shrink"));
        if ((json_object_get(d, "grow") && !g) || (json_object_get(d, "shrink") && !s) || (g && s)) return false;
        if (json_object_get(d, "freeze")) return false;
        json_t *perm = json_object_get(d, "permutation"), *ch = json_object_get(d, "change"), *pt = json_object_get(d, "patch");
        if ((perm && !json_array_size(perm)) || (ch && !json_object_size(ch)) || (pt && !json_object_size(pt))) return false;
        if (!g && !s && !perm && !ch && !pt) return false;
        (void)D;
        json_object_foreach(pt, k, v) if (json_object_get(v, "value") || !canonical(v, false)) return false;
        return true;
    }
    json_t *set = json_object_get(d, "set"), *pt = json_object_get(d, "patch"), *rm = json_object_get(d, "remove");
    if ((set && !json_object_size(set)) || (pt && !json_object_size(pt)) || (rm && !json_array_size(rm))) return false;
    for (size_t i = 1; i < json_array_size(rm); i++)
        if (strcmp(json_string_value(json_array_get(rm, i - 1)), json_string_value(json_array_get(rm, i))) >= 0) return false;
    json_object_foreach(pt, k, v) if (!canonical(v, false)) return false;
    return true;
}

/* ---------------------------------------------------------- properties */

#define CASES 3000

/* apply(a, make(a, b)) == b, make is canonical and never bigger than
 * replacing the value; make(a, a) == {}. */
Test(view_diff, make_then_apply_gives_the_new_value) {
    uint64_t seed = seed_of_run();
    rng r = {seed};
    for (int c = 0; c < CASES; c++) {
        json_t *a = gen(&r, 4), *b = below(&r, 4) ? mutate(&r, a, 4) : gen(&r, 4);
        json_t *d = make(a, b);
        weir_error err;
        cr_assert_eq(weir_view_diff_check(d, &err), 0, "seed %" PRIu64 " case %d: %s", seed, c, err.message);
        cr_assert(canonical(d, true), "seed %" PRIu64 " case %d: not canonical %s", seed, c, dump(d));
        json_t *got = apply_ok(a, d);
        cr_assert(json_equal(got, b), "seed %" PRIu64 " case %d: apply(%s, %s) = %s, want %s", seed, c, dump(a), dump(d),
                  dump(got), dump(b));
        cr_assert_leq(weir_view_diff_nodes(d), 2 * (weir_view_diff_nodes(a) + weir_view_diff_nodes(b)) + 8, "seed %" PRIu64 " case %d: %s for %s", seed, c,
                      dump(d), dump(b));
        json_t *same = make(a, a);
        cr_assert(weir_view_diff_is_empty(same), "seed %" PRIu64 " case %d", seed, c);
        json_decref(same);
        json_decref(got);
        json_decref(d);
        json_decref(a);
        json_decref(b);
    }
}

/* A random diff applies to what the test computes on its own. */
Test(view_diff, apply_follows_the_model) {
    uint64_t seed = seed_of_run() + 1;
    rng r = {seed};
    for (int c = 0; c < CASES; c++) {
        json_t *a = gen(&r, 4), *want = NULL, *d = rand_diff(&r, a, 3, &want);
        json_t *got = apply_ok(a, d);
        cr_assert(json_equal(got, want), "seed %" PRIu64 " case %d: apply(%s, %s) = %s, want %s", seed, c, dump(a), dump(d),
                  dump(got), dump(want));
        json_decref(got);
        json_decref(want);
        json_decref(d);
        json_decref(a);
    }
}

/* apply(apply(v, d1), d2) == apply(v, compose(d1, d2)); composing three
 * either way gives the same diff (so the same value); compose gives
 * canonical diffs. */
Test(view_diff, compose_equals_applying_in_turn_and_is_associative) {
    uint64_t seed = seed_of_run() + 2;
    rng r = {seed};
    for (int c = 0; c < CASES; c++) {
        json_t *v0 = gen(&r, 4), *v1, *v2, *v3;
        json_t *d1 = step(&r, v0, &v1), *d2 = step(&r, v1, &v2), *d3 = step(&r, v2, &v3);
        json_t *c12 = compose_ok(d1, d2);
        json_t *got = apply_ok(v0, c12);
        cr_assert(json_equal(got, v2), "seed %" PRIu64 " case %d: compose(%s, %s) = %s gives %s from %s, want %s", seed, c,
                  dump(d1), dump(d2), dump(c12), dump(got), dump(v0), dump(v2));
        json_decref(got);
        json_t *c23 = compose_ok(d2, d3), *left = compose_ok(c12, d3), *right = compose_ok(d1, c23);
        json_t *gl = apply_ok(v0, left), *gr = apply_ok(v0, right);
        cr_assert(json_equal(gl, v3) && json_equal(gr, v3), "seed %" PRIu64 " case %d: (d1 d2) d3 = %s, d1 (d2 d3) = %s", seed,
                  c, dump(left), dump(right));
        cr_assert(json_equal(left, right), "seed %" PRIu64 " case %d: (d1 d2) d3 = %s, d1 (d2 d3) = %s", seed, c, dump(left),
                  dump(right));
        cr_assert(canonical(c12, true) && canonical(left, true) && canonical(right, true), "seed %" PRIu64 " case %d: %s %s",
                  seed, c, dump(left), dump(right));
        json_decref(gl);
        json_decref(gr);
        json_decref(left);
        json_decref(right);
        json_decref(c23);
        json_decref(c12);
        json_decref(d1);
        json_decref(d2);
        json_decref(d3);
        json_decref(v0);
        json_decref(v1);
        json_decref(v2);
        json_decref(v3);
    }
}

/* The point of composing: a slow subscriber's pending diff, however many
 * diffs went into it, stays within 2 * (nodes(old) + nodes(new)) + 8. */
Test(view_diff, composed_size_is_bounded_by_the_values) {
    uint64_t seed = seed_of_run() + 3;
    rng r = {seed};
    double worst = 0;
    for (int c = 0; c < CASES / 3; c++) {
        json_t *v0 = gen(&r, 4), *v = json_incref(v0), *pending = json_object();
        for (int k = 0; k < 24; k++) {
            json_t *nv, *d = step(&r, v, &nv), *cd = compose_ok(pending, d);
            json_decref(pending);
            pending = cd;
            json_decref(d);
            json_decref(v);
            v = nv;
            size_t bound = 2 * (weir_view_diff_nodes(v0) + weir_view_diff_nodes(v)) + 8, n = weir_view_diff_nodes(pending);
            cr_assert_leq(n, bound, "seed %" PRIu64 " case %d step %d: %zu nodes > %zu: %s from %s to %s", seed, c, k, n, bound,
                          dump(pending), dump(v0), dump(v));
            double ratio = (double)n / (double)(weir_view_diff_nodes(v0) + weir_view_diff_nodes(v));
            if (ratio > worst) worst = ratio;
            json_t *got = apply_ok(v0, pending);
            cr_assert(json_equal(got, v), "seed %" PRIu64 " case %d step %d", seed, c, k);
            json_decref(got);
        }
        json_decref(pending);
        json_decref(v);
        json_decref(v0);
    }
    cr_log_info("compose: worst nodes(pending) / (nodes(old) + nodes(new)) = %.2f", worst);
}

/* weight is the length of the compact JSON text (no escapes needed here). */
Test(view_diff, weight_is_the_compact_json_length) {
    uint64_t seed = seed_of_run() + 6;
    rng r = {seed};
    json_t *edge = json_pack("[I,I,i,i,i,s,{}]", (json_int_t)INT64_MIN, (json_int_t)INT64_MAX, -7, 0, -10, "\xf0\x9f\x98\x80");
    for (int c = 0; c <= CASES; c++) {
        json_t *v = c < CASES ? gen(&r, 4) : json_incref(edge);
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        cr_assert_eq(weir_view_diff_weight(v), strlen(text), "seed %" PRIu64 " case %d: %s", seed, c, text);
        cr_assert_eq(weir_view_diff_nodes(v) > 0, 1);
        free(text);
        json_decref(v);
    }
    json_decref(edge);
}

/* The fast path for canonical inputs gives what the checked one gives. */
Test(view_diff, compose_canonical_agrees_with_compose) {
    uint64_t seed = seed_of_run() + 5;
    rng r = {seed};
    for (int c = 0; c < CASES / 3; c++) {
        json_t *v = gen(&r, 4), *slow = json_object(), *fast = json_object();
        for (int k = 0; k < 12; k++) {
            json_t *nv = below(&r, 4) ? mutate(&r, v, 3) : gen(&r, 3), *d = make(v, nv), *s2 = compose_ok(slow, d), *f2 = NULL;
            weir_error err;
            cr_assert_eq(weir_view_diff_compose_canonical(fast, d, &f2, &err), 0, "seed %" PRIu64 " case %d: %s", seed, c,
                         err.message);
            cr_assert(json_equal(s2, f2), "seed %" PRIu64 " case %d step %d: %s vs %s", seed, c, k, dump(s2), dump(f2));
            json_decref(slow);
            json_decref(fast);
            json_decref(d);
            json_decref(v);
            slow = s2;
            fast = f2;
            v = nv;
        }
        json_decref(slow);
        json_decref(fast);
        json_decref(v);
    }
}

/* Every allocation of make, apply and compose failed in turn: each attempt
 * succeeds or reports WEIR_ENOMEM, and leaves nothing allocated. */
Test(view_diff_oom, every_allocation_failure_is_clean) {
    fa_install(0, 0);
    json_t *a = parse("{\"s\":\"running\",\"xs\":[{\"id\":1,\"n\":[1,2]},{\"id\":2},3,4],\"gone\":1,\"o\":{\"p\":{\"q\":[1]}}}");
    json_t *b = parse("{\"s\":\"done\",\"xs\":[{\"id\":2},3,4,{\"id\":5,\"n\":[2,1]}],\"new\":[1],\"o\":{\"p\":{\"q\":[1,2]}}}");
    json_t *c = parse("{\"s\":\"done\",\"xs\":[3,4,{\"id\":5,\"n\":[2,1,0]}],\"o\":{\"p\":{}}}");
    json_t *d1 = make(a, b), *d2 = make(b, c), *want[5] = {make(a, c), apply_ok(a, d1), compose_ok(d1, d2), NULL, NULL};
    want[3] = json_incref(want[2]);
    const char *what[] = {"make", "apply", "compose", "compose_canonical", "check"};
    for (int op = 0; op < 5; op++) {
        bool done = false;
        for (size_t n = 1; n < 100000 && !done; n++) {
            fa_install(n, 0);
            json_t *out = NULL;
            weir_error err;
            int rc = op == 0   ? weir_view_diff_make(a, c, &out, &err)
                     : op == 1 ? weir_view_diff_apply(a, d1, &out, &err)
                     : op == 2 ? weir_view_diff_compose(d1, d2, &out, &err)
                     : op == 3 ? weir_view_diff_compose_canonical(d1, d2, &out, &err)
                               : weir_view_diff_check(d1, &err);
            size_t attempts = fa_count();
            if (rc) {
                cr_assert_eq(rc, WEIR_ENOMEM, "%s, allocation %zu: %s", what[op], n, err.message);
                cr_assert_null(out);
                cr_assert_eq(fa_live(), 0, "%s, allocation %zu: a failure leaks", what[op], n);
                continue;
            }
            cr_assert(op == 4 || json_equal(out, want[op]), "%s, allocation %zu: succeeded with %s, want %s", what[op], n,
                      dump(out), dump(want[op]));
            json_decref(out);
            cr_assert_eq(fa_live(), 0, "%s leaks", what[op]);
            done = attempts < n;
        }
        cr_assert(done, "%s never completed", what[op]);
    }
    fa_install(0, 0);
    for (int op = 0; op < 4; op++) json_decref(want[op]);
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(d1);
    json_decref(d2);
    fa_uninstall();
}

/* ------------------------------------------- cross-language fixtures */

/* For tests/js/view_diff.cjs: one JSON line per case with a, b, c, the
 * diffs this library makes and composes, a random diff and its result, and
 * a diff applied to a value it was not made for (ok or the refusal). */
Test(view_diff, write_fixtures_for_javascript) {
    const char *path = WEIR_BUILD_DIR "/view_diff_fixtures.jsonl";
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    uint64_t seed = seed_of_run() + 4;
    rng r = {seed};
    for (int c = 0; c < 1500; c++) {
        json_t *a = gen(&r, 4), *b = below(&r, 4) ? mutate(&r, a, 4) : gen(&r, 4), *cc = mutate(&r, b, 4);
        json_t *d1 = make(a, b), *d2 = make(b, cc), *comp = compose_ok(d1, d2);
        json_t *rv = NULL, *rd = rand_diff(&r, a, 3, &rv), *back = make(rv, b), *rcomp = compose_ok(rd, back);
        json_t *other = gen(&r, 3), *bad = NULL;
        weir_error err;
        int rc = weir_view_diff_apply(other, d1, &bad, &err);
        /* a corrupted diff: checked, then applied to what its source fits */
        json_t *broken = json_deep_copy(below(&r, 2) ? d1 : rd), *fixed = NULL;
        corrupt(&r, broken);
        int checked = weir_view_diff_check(broken, &err);
        json_t *verdict = json_pack("{s:b,s:s}", "ok", !checked, "message", checked ? err.message : "");
        if (!checked) {
            int arc = weir_view_diff_apply(a, broken, &fixed, &err);
            json_object_set_new(verdict, "applied", arc ? json_pack("{s:s}", "error", err.message) : json_pack("{s:O}", "value", fixed));
        }
        json_t *line = json_pack("{s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:o,s:O,s:o}", "a", a, "b", b, "c", cc, "d1", d1, "d2",
                                 d2, "comp", comp, "rd", rd, "rv", rv, "rcomp", rcomp, "other", other, "otherApplied",
                                 rc ? json_pack("{s:s}", "error", err.message) : json_pack("{s:O}", "value", bad), "broken",
                                 broken, "brokenVerdict", verdict);
        cr_assert_not_null(line);
        char *text = json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII);
        fprintf(f, "%s\n", text);
        free(text);
        json_t *parts[] = {a, b, cc, d1, d2, comp, rv, rd, back, rcomp, other, bad, broken, fixed, line};
        for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) json_decref(parts[i]);
    }
    cr_assert_eq(fclose(f), 0);
}
