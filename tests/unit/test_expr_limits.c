/*
 * The work one expression may cause is bounded (SPEC §10 "Expressions"):
 * results that share sub-values cost what writing them out costs, string
 * search is linear, text compared and copied counts, and recursion stops
 * at the stack the thread really has.  Every test here is time-bounded:
 * before these bounds each input ran for seconds to minutes or crashed.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/expr.h"

/* Compile and evaluate src over value; rc, *out (NEW) and err. */
static int run(const char *src, json_t *value, json_t **out, weir_error *err) {
    weir_expr *x;
    *out = NULL;
    int rc = weir__expr_compile(src, &x, err);
    if (rc) return rc;
    weir_expr_env env = {value, NULL, "in"};
    rc = weir__expr_eval(x, &env, out, err);
    weir__expr_free(x);
    return rc;
}

static json_t *range(int n) {
    json_t *v = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(v, json_integer(i));
    return v;
}

/* The result of src over value as JSON.stringify text (static buffer), or
 * "error: <message>", the expression compiled with these limits (0: the
 * default). */
static const char *text_with(const char *src, json_t *value, size_t max_steps, size_t max_bytes) {
    static char buf[WEIR_ERROR_MAX + 16];
    weir_expr_limits lim = {max_steps, max_bytes};
    weir_expr *x;
    weir_error err = {0};
    cr_assert_eq(weir__expr_compile_with(src, &lim, &x, &err), 0, "%s", err.message);
    weir_expr_env env = {value, NULL, "in"};
    json_t *out;
    int rc = weir__expr_eval(x, &env, &out, &err);
    weir__expr_free(x);
    if (rc) {
        cr_assert_eq(rc, WEIR_EEXPR, "%s", err.message);
        snprintf(buf, sizeof buf, "error: %s", err.message);
        return buf;
    }
    char *s;
    cr_assert_eq(weir__js_stringify(out, &s, NULL), 0);
    snprintf(buf, sizeof buf, "%s", s);
    weir__free(s);
    json_decref(out);
    return buf;
}

static const char *text_of(const char *src, json_t *value) { return text_with(src, value, 0, 0); }

/* ------------------------------------------------------ shared results */

Test(expr_shared, doubling_a_value_is_refused_at_the_budget, .timeout = 10) {
    /* 2^22 leaves (16.7 MB) behind 22 arrays: within every evaluation
     * limit, but writing it out visits 2^23 values */
    json_t *v = range(22), *out;
    weir_error err;
    cr_assert_eq(run("value.reduce(a => [a, a], 0)", v, &out, &err), WEIR_EEXPR);
    cr_assert_null(out);
    cr_assert(strstr(err.message, "did more than EXPR_MAX_STEPS (1048576) steps") && strstr(err.message, "counts each time"), "%s", err.message);
    json_decref(v);
    /* 2^10 leaves are fine, and written out in full */
    v = range(10);
    cr_assert_eq(run("value.reduce(a => [a, a], 0)", v, &out, &err), 0, "%s", err.message);
    char *s;
    size_t len;
    cr_assert_eq(weir__js_stringify(out, &s, &len), 0);
    cr_assert_eq(len, 4 * 1024 - 3);
    weir__free(s);
    json_decref(out);
    json_decref(v);
}

Test(expr_shared, concatenating_a_value_into_itself_is_refused, .timeout = 10) {
    json_t *v = range(30);
    cr_assert(strstr(text_of("value.reduce(a => a.concat([a]), [])", v), "did more than EXPR_MAX_STEPS (1048576) steps"), "%s",
              text_of("value.reduce(a => a.concat([a]), [])", v));
    cr_assert_str_eq(text_of("value.slice(0, 3).reduce(a => a.concat([a]), [])", v), "[[],[[]],[[],[[]]]]");
    json_decref(v);
}

Test(expr_shared, a_large_input_held_many_times_is_refused, .timeout = 10) {
    /* 100 copies of a 1 MB input: few values, 100 MB written out */
    char *big = malloc(1 << 20);
    memset(big, 'x', 1 << 20);
    json_t *v = json_pack("{s:s%,s:o}", "s", big, (size_t)(1 << 20), "items", range(100));
    free(big);
    const char *t = text_of("value.items.map(() => value)", v);
    cr_assert_str_eq(t,
                     "error: the expression's result is more than EXPR_MAX_BYTES (16777216 bytes) written out (a value "
                     "it holds several times counts each time); raise EXPR_MAX_BYTES if it is meant to");
    /* once is fine (and costs nothing: it is the input) */
    cr_assert_str_eq(text_of("value.items.map(() => value).length", v), "100");
    cr_assert_str_eq(text_of("[value].length", v), "1");
    json_t *out;
    weir_error err;
    cr_assert_eq(run("({...value, n: 1})", v, &out, &err), 0, "%s", err.message);
    json_decref(out);
    json_decref(v);
}

Test(expr_shared, ordinary_results_pass) {
    json_t *v = range(1000);
    cr_assert_str_eq(text_of("value.map(x => [x, x]).length", v), "1000");
    json_t *out;
    weir_error err;
    cr_assert_eq(run("value.map(x => ({id: x, tags: ['a', 'b'], pair: [x, x]}))", v, &out, &err), 0, "%s",
                 err.message);
    cr_assert_eq(json_array_size(out), 1000);
    json_decref(out);
    json_decref(v);
}

/* ------------------------------------------------------- string search */

/* indexOf/lastIndexOf/includes/split/replaceAll as a naive search finds them. */
static int naive_index(const char *h, const char *n, int from) {
    int hn = (int)strlen(h), nn = (int)strlen(n);
    if (from < 0) from = 0;
    if (from > hn) from = hn;
    for (int i = from; i + nn <= hn; i++)
        if (!memcmp(h + i, n, (size_t)nn)) return i;
    return -1;
}

static int naive_last(const char *h, const char *n, int from) {
    int hn = (int)strlen(h), nn = (int)strlen(n);
    if (from > hn) from = hn;
    for (int i = from; i >= 0; i--)
        if (i + nn <= hn && !memcmp(h + i, n, (size_t)nn)) return i;
    return -1;
}

static int naive_count(const char *h, const char *n) { /* non-overlapping, nn > 0 */
    int c = 0, i = 0;
    while ((i = naive_index(h, n, i)) >= 0) c++, i += (int)strlen(n);
    return c;
}

Test(expr_search, agrees_with_a_naive_search) {
    weir_expr *xi, *xl, *xs, *xr;
    weir_error err;
    cr_assert_eq(weir__expr_compile("value.h.indexOf(value.n, value.i)", &xi, &err), 0);
    cr_assert_eq(weir__expr_compile("value.h.lastIndexOf(value.n, value.i)", &xl, &err), 0);
    cr_assert_eq(weir__expr_compile("value.h.split(value.n).length", &xs, &err), 0);
    cr_assert_eq(weir__expr_compile("value.h.replaceAll(value.n, '').length", &xr, &err), 0);
    srand(9);
    for (int t = 0; t < 20000; t++) {
        char h[48], n[12];
        int hn = rand() % 40, nn = rand() % 10, alpha = 2 + rand() % 2;
        for (int i = 0; i < hn; i++) h[i] = (char)('a' + rand() % alpha);
        for (int i = 0; i < nn; i++) n[i] = (char)('a' + rand() % alpha);
        h[hn] = n[nn] = '\0';
        if (t % 3 == 0 && nn <= hn) { /* a needle that occurs, often periodic */
            int at = rand() % (hn - nn + 1);
            memcpy(n, h + at, (size_t)nn);
        }
        int from = rand() % (hn + 3) - 1;
        json_t *v = json_pack("{s:s,s:s,s:i}", "h", h, "n", n, "i", from), *out;
        weir_expr_env env = {v, NULL, NULL};
        cr_assert_eq(weir__expr_eval(xi, &env, &out, &err), 0);
        cr_assert_eq(json_integer_value(out), naive_index(h, n, from), "'%s'.indexOf('%s', %d)", h, n, from);
        json_decref(out);
        cr_assert_eq(weir__expr_eval(xl, &env, &out, &err), 0);
        cr_assert_eq(json_integer_value(out), naive_last(h, n, from < 0 ? 0 : from), "'%s'.lastIndexOf('%s', %d)",
                     h, n, from);
        json_decref(out);
        if (nn) {
            cr_assert_eq(weir__expr_eval(xs, &env, &out, &err), 0);
            cr_assert_eq(json_integer_value(out), naive_count(h, n) + 1, "'%s'.split('%s')", h, n);
            json_decref(out);
            cr_assert_eq(weir__expr_eval(xr, &env, &out, &err), 0);
            cr_assert_eq(json_integer_value(out), hn - nn * naive_count(h, n), "'%s'.replaceAll('%s')", h, n);
            json_decref(out);
        }
        json_decref(v);
    }
    weir__expr_free(xi);
    weir__expr_free(xl);
    weir__expr_free(xs);
    weir__expr_free(xr);
}

Test(expr_search, hostile_needles_take_linear_time, .timeout = 10) {
    /* a needle that matches a million bytes at every position but one:
     * 10^12 comparisons for a naive search (24 s of server time each) */
    static const struct {
        const char *src, *want;
    } t[] = {
        {"h.includes(n)", "false"},
        {"h.indexOf(n)", "-1"},
        {"h.lastIndexOf(n)", "-1"},
        {"h.lastIndexOf('b' + n.slice(0, -1))", "-1"},
        {"h.split(n).length", "1"},
        {"h.replace(n, '').length", "2000000"},
        {"h.replaceAll(n, '').length", "2000000"},
        {"(h + n).indexOf(n)", "2000000"},
        {"(h + n).lastIndexOf(n)", "2000000"},
        {"(n + h).split(n).length", "2"},
        {"(n + h).lastIndexOf(n)", "0"},
        {"(n + h + n).lastIndexOf(n, 2999999)", "0"},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        char src[256];
        snprintf(src, sizeof src,
                 "['a'.padStart(2e6, 'a')].map(h => ['a'.padStart(1e6, 'a') + 'b'].map(n => %s)[0])[0]", t[i].src);
        cr_assert_str_eq(text_of(src, NULL), t[i].want, "%s", src);
    }
}

Test(expr_search, text_compared_counts_as_work, .timeout = 10) {
    /* 4096 scans of a megabyte: 4 GB read for 4096 callback calls */
    json_t *v = range(4096);
    const char *t = text_of("['a'.repeat(1e6)].map(s => value.every(() => !s.includes('b')))[0]", v);
    cr_assert(strstr(t, "did more than EXPR_MAX_STEPS (1048576) steps"), "%s", t);
    t = text_of("['a'.repeat(1e6)].map(s => ['b' + s.slice(1)].map(e => value.every(() => !s.endsWith(e)))[0])[0]",
                v);
    cr_assert(strstr(t, "did more than EXPR_MAX_STEPS (1048576) steps"), "%s", t);
    t = text_of("['a'.repeat(1e6)].map(s => ['a'.repeat(1e6)].map(u => value.every(() => s === u))[0])[0]", v);
    cr_assert(strstr(t, "did more than EXPR_MAX_STEPS (1048576) steps"), "%s", t);
    t = text_of("['a'.repeat(1e6)].map(s => ['a'.repeat(1e6)].map(u => value.every(() => s <= u))[0])[0]", v);
    cr_assert(strstr(t, "did more than EXPR_MAX_STEPS (1048576) steps"), "%s", t);
    /* reading a long string's length or a character far in reads what comes before */
    static const char *const reads[] = {"s.charAt(5) === 'a'", "s.length > 0", "s[999999] === 'a'", "s.at(-1)"};
    for (size_t i = 0; i < sizeof reads / sizeof *reads; i++) {
        char src[160];
        snprintf(src, sizeof src, "['a'.repeat(1e6)].map(s => value.every(() => %s))[0]", reads[i]);
        t = text_of(src, v);
        cr_assert(strstr(t, "did more than EXPR_MAX_STEPS (1048576) steps"), "%s: %s", src, t);
    }
    /* sorting long strings compares them */
    t = text_of("value.map(x => 'a'.repeat(2000) + x).toSorted().length", v);
    cr_assert(strstr(t, "did more than EXPR_MAX_STEPS (1048576) steps"), "%s", t);
    /* small scans are nothing */
    cr_assert_str_eq(text_of("value.every(x => !String(x).includes('z'))", v), "true");
    json_decref(v);
}

/* A text grown by a chain of replaceAll (each 'a' becomes two, with 60
 * bytes between them) to 4 MB is written a piece at a time into fresh
 * memory: found by the fuzzer taking 60 ms against the 10 ms budget when
 * only its copies were counted at the memcpy rate. */
Test(expr_search, text_grown_piece_by_piece_counts_as_work, .timeout = 10) {
    char src[1024] = "'a'.repeat(64)";
    for (int i = 0; i < 10; i++) strcat(src, ".replaceAll('a', '$&' + 'k'.repeat(60) + 'a')");
    strcat(src, ".length");
    const char *t = text_of(src, json_null());
    cr_assert(strstr(t, "did more than EXPR_MAX_STEPS (1048576) steps"), "%s", t);
    /* the same chain, short, is fine */
    char small[1024] = "'a'.repeat(4)";
    for (int i = 0; i < 3; i++) strcat(small, ".replaceAll('a', '$&' + 'k'.repeat(60) + 'a')");
    strcat(small, ".length");
    cr_assert_str_eq(text_of(small, json_null()), "1712"); /* 4 + 61 * (4 + 8 + 16) */
}

/* ---------------------------------------------------------------- stack */

typedef struct job {
    const char *src;
    json_t *value;
    int compile_rc, eval_rc;
    char message[WEIR_ERROR_MAX];
} job;

static void *job_main(void *arg) {
    job *j = arg;
    weir_expr *x = NULL;
    weir_error err = {0};
    j->compile_rc = weir__expr_compile(j->src, &x, &err);
    if (!j->compile_rc) {
        weir_expr_env env = {j->value, NULL, NULL};
        json_t *out = NULL;
        j->eval_rc = weir__expr_eval(x, &env, &out, &err);
        if (!j->eval_rc && out) {
            char *s;
            if (!weir__js_stringify(out, &s, NULL)) weir__free(s);
        }
        json_decref(out);
        weir__expr_free(x);
    }
    snprintf(j->message, sizeof j->message, "%s", err.message);
    return NULL;
}

/* Compile and evaluate on a thread with a stack of `stack` bytes. */
static void on_small_stack(job *j, size_t stack) {
    pthread_attr_t a;
    pthread_t t;
    cr_assert_eq(pthread_attr_init(&a), 0);
    cr_assert_eq(pthread_attr_setstacksize(&a, stack), 0);
    cr_assert_eq(pthread_create(&t, &a, job_main, j), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    pthread_attr_destroy(&a);
}

Test(expr_stack, self_application_stops_at_the_stack, .timeout = 20) {
    /* tests/fuzz/corpus/expr/seed48.txt: f => f(f), 1024 levels deep before
     * the count stops it, more than a small stack holds */
    job j = {.src = "[].reduce(a => a, f => f(f))([].reduce(a => a, f => f(f)))"};
    on_small_stack(&j, 256 << 10);
    cr_assert_eq(j.compile_rc, 0, "%s", j.message);
    cr_assert_eq(j.eval_rc, WEIR_EEXPR);
    cr_assert(!strncmp(j.message, "Maximum call stack size exceeded", 32), "%s", j.message);
}

Test(expr_stack, deep_source_stops_at_the_stack, .timeout = 20) {
    /* 250 nested brackets are within the parser's count (256) */
    char src[1024];
    size_t n = 0;
    for (int i = 0; i < 250; i++) src[n++] = '[';
    src[n++] = '1';
    for (int i = 0; i < 250; i++) src[n++] = ']';
    src[n] = '\0';
    job j = {.src = src};
    on_small_stack(&j, 64 << 10);
    cr_assert_eq(j.compile_rc, WEIR_EEXPR, "compiled on 64 KiB");
    cr_assert(strstr(j.message, "nested too deeply"), "%s", j.message);
    /* and on an ordinary stack it compiles and runs */
    job k = {.src = src};
    on_small_stack(&k, 8 << 20);
    cr_assert_eq(k.compile_rc, 0, "%s", k.message);
    cr_assert_eq(k.eval_rc, 0, "%s", k.message);
}

Test(expr_stack, deep_values_stop_at_the_stack, .timeout = 20) {
    /* 2000 nested arrays (within jansson's 2048) walked by String, JSON.stringify, flat */
    json_t *v = json_array(), *in = v;
    for (int i = 0; i < 2000; i++) {
        json_t *a = json_array();
        json_array_append_new(in, a);
        in = a;
    }
    static const char *const srcs[] = {"String(value)", "JSON.stringify(value)", "value.flat(Infinity)",
                                       "[value, value]"};
    for (size_t i = 0; i < sizeof srcs / sizeof *srcs; i++) {
        job j = {.src = srcs[i], .value = v};
        on_small_stack(&j, 128 << 10);
        cr_assert_eq(j.compile_rc, 0);
        cr_assert(j.eval_rc == 0 || j.eval_rc == WEIR_EEXPR, "%s: %d %s", srcs[i], j.eval_rc, j.message);
    }
    json_decref(v);
}

/* ---------------------------------------------- the budget is a setting */


Test(expr_settings, a_small_step_budget_stops_a_cheap_expression_and_names_the_setting) {
    json_t *v = range(100);
    cr_assert_str_eq(text_with("value.map(x => x * 2).length", v, 50, 0),
                     "error: the expression did more than EXPR_MAX_STEPS (50) steps of work (callback calls, elements "
                     "visited, text read or copied); raise EXPR_MAX_STEPS if it is meant to");
    /* the result written out counts too */
    cr_assert(strstr(text_with("value.map(x => [x])", v, 150, 0),
                     "did more than EXPR_MAX_STEPS (150) steps of work: writing its result out"));
    /* the same with the default budget, or one just large enough */
    cr_assert_str_eq(text_with("value.map(x => x * 2).length", v, 0, 0), "100");
    cr_assert_str_eq(text_with("value.map(x => x * 2).length", v, 1000, 0), "100");
    json_decref(v);
}

Test(expr_settings, a_large_step_budget_lets_a_heavier_expression_pass, .timeout = 20) {
    /* 1100 x 1100 callback calls: more than the default 2^20 */
    json_t *v = range(1100);
    const char *src = "value.reduce(a => value.reduce(b => b + 1, a), 0)";
    cr_assert(strstr(text_with(src, v, 0, 0), "did more than EXPR_MAX_STEPS (1048576) steps"));
    cr_assert_str_eq(text_with(src, v, (size_t)4 << 20, 0), "1210000");
    json_decref(v);
}

Test(expr_settings, the_byte_budget_bounds_strings_results_and_memory, .timeout = 20) {
    static const char *const big =
        "error: Invalid string length: more than EXPR_MAX_BYTES (1000 bytes); raise EXPR_MAX_BYTES if it is meant to";
    cr_assert_str_eq(text_with("'x'.repeat(1000).length", NULL, 0, 1000), "1000");
    cr_assert_str_eq(text_with("'x'.repeat(1001).length", NULL, 0, 1000), big);
    cr_assert_str_eq(text_with("'x'.padEnd(1001).length", NULL, 0, 1000), big);
    cr_assert_str_eq(text_with("('x'.repeat(600) + 'y'.repeat(600)).length", NULL, 0, 1000), big);
    cr_assert_str_eq(text_with("['x'.repeat(600), 'y'.repeat(600)].join('').length", NULL, 0, 1000), big);
    cr_assert_str_eq(text_with("JSON.stringify(['x'.repeat(600), 'y'.repeat(600)]).length", NULL, 0, 1000), big);
    /* a result larger than the bound written out */
    cr_assert(strstr(text_with("['x'.repeat(600), 'y'.repeat(600)]", NULL, 0, 1000),
                     "result is more than EXPR_MAX_BYTES (1000 bytes) written out"));
    /* allocation: 4 times the bound in all */
    cr_assert(strstr(text_with("[1,2,3,4,5,6,7,8,9,10].map(i => 'ab'.repeat(400) + i).length", NULL, 0, 1000),
                     "allocated more than 4 x EXPR_MAX_BYTES (4000 bytes); raise EXPR_MAX_BYTES"));
    /* a larger bound lets a larger string through (reading its length is
     * more steps than the default too) */
    cr_assert(strstr(text_with("'x'.repeat(20e6).length", NULL, (size_t)4 << 20, 0),
                     "more than EXPR_MAX_BYTES (16777216 bytes)"));
    cr_assert_str_eq(text_with("'x'.repeat(20e6).length", NULL, (size_t)4 << 20, (size_t)32 << 20), "20000000");
}

Test(expr_settings, template_holes_get_the_budget) {
    weir_expr_limits lim = {0, 10};
    weir_tmpl *t;
    weir_error err = {0};
    cr_assert_eq(weir__tmpl_compile_with("id={{ 'x'.repeat(value) }}", &lim, &t, &err), 0, "%s", err.message);
    json_t *n = json_integer(10), *out = NULL;
    weir_expr_env env = {n, NULL, "in"};
    cr_assert_eq(weir__tmpl_render(t, &env, &out, &err), 0, "%s", err.message);
    cr_assert_str_eq(json_string_value(out), "id=xxxxxxxxxx");
    json_decref(out);
    json_integer_set(n, 11);
    cr_assert_eq(weir__tmpl_render(t, &env, &out, &err), WEIR_EEXPR);
    cr_assert(strstr(err.message, "EXPR_MAX_BYTES (10 bytes)"), "%s", err.message);
    weir__tmpl_free(t);
    json_decref(n);
}
