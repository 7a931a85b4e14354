/*
 * Expressions (SPEC §2.2): the table of cases whose expectations node
 * computed (data/expr_cases.json, from data/gen_expr_cases.js), then one test
 * per concern: result types, compile errors and their columns, runtime error
 * messages, limits, immutability of inputs, out-of-memory behaviour.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/expr.h"
#include "failalloc.h"

/* ------------------------------------------------------------- helpers */

/* Compile, evaluate; returns the rc and fills *out (NEW) / err. */
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

/* The JSON.stringify text of the result of src over value (a JSON text or
 * NULL); "undefined", or "error: <message>". */
static char *eval_text(const char *src, const char *value_json) {
    static char buf[4096];
    json_t *value = value_json ? json_loads(value_json, JSON_DECODE_ANY, NULL) : NULL;
    json_t *out;
    weir_error err = {0};
    int rc = run(src, value, &out, &err);
    json_decref(value);
    if (rc) {
        snprintf(buf, sizeof buf, "error: %s", err.message);
        return buf;
    }
    if (!out) return strcpy(buf, "undefined");
    char *s;
    cr_assert_eq(weir__js_stringify(out, &s, NULL), 0);
    snprintf(buf, sizeof buf, "%s", s);
    weir__free(s);
    json_decref(out);
    return buf;
}

static void compile_error(const char *src, const char *expected) {
    weir_expr *x = NULL;
    weir_error err = {0};
    int rc = weir__expr_compile(src, &x, &err);
    cr_assert_eq(rc, WEIR_EEXPR, "'%s' should not compile", src);
    cr_assert_null(x);
    cr_assert_eq(err.code, WEIR_EEXPR);
    cr_assert_str_eq(err.message, expected, "'%s': got \"%s\"", src, err.message);
}

static bool has_column(const char *msg) {
    unsigned col;
    char colon;
    return sscanf(msg, "column %u%c", &col, &colon) == 2 && colon == ':' && col >= 1;
}

/* --------------------------------------------------------- table cases */

/* JavaScript messages weir words differently (JSON.parse, spread). */
static bool message_may_differ(const char *js) {
    static const char *const prefixes[] = {"Unexpected", "Expected", "Spread syntax"};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
        if (!strncmp(js, prefixes[i], strlen(prefixes[i]))) return true;
    return false;
}

Test(expr_table, cases_match_javascript) {
    json_error_t jerr;
    json_t *cases = json_load_file(WEIR_TEST_DATA_DIR "/unit/data/expr_cases.json", 0, &jerr);
    cr_assert_not_null(cases, "cannot load expr_cases.json: %s", jerr.text);
    cr_assert_geq(json_array_size(cases), 200);
    size_t i, failures = 0;
    json_t *k;
    json_array_foreach(cases, i, k) {
        const char *src = json_string_value(json_object_get(k, "expr"));
        const char *port = json_string_value(json_object_get(k, "port"));
        weir_expr_env env = {json_object_get(k, "value"), json_object_get(k, "config"), port};
        weir_expr *x = NULL;
        weir_error err = {0};
        int rc = weir__expr_compile(src, &x, &err);
        if (json_is_true(json_object_get(k, "compileError"))) {
            if (rc != WEIR_EEXPR || !has_column(err.message)) {
                cr_log_error("case %zu `%s`: expected a compile error with a column, got rc %d \"%s\"", i, src, rc,
                             err.message);
                failures++;
            }
            weir__expr_free(x);
            continue;
        }
        if (rc) {
            cr_log_error("case %zu `%s`: does not compile: %s", i, src, err.message);
            failures++;
            continue;
        }
        json_t *out = NULL;
        rc = weir__expr_eval(x, &env, &out, &err);
        if (json_is_true(json_object_get(k, "error"))) {
            const char *js = json_string_value(json_object_get(k, "jsError"));
            if (rc != WEIR_EEXPR || !err.message[0]) {
                cr_log_error("case %zu `%s`: expected a runtime error, got rc %d", i, src, rc);
                failures++;
            } else if (js && !message_may_differ(js) && strcmp(js, err.message)) {
                cr_log_error("case %zu `%s`: message \"%s\", JavaScript says \"%s\"", i, src, err.message, js);
                failures++;
            }
        } else if (rc) {
            cr_log_error("case %zu `%s`: runtime error: %s", i, src, err.message);
            failures++;
        } else if (json_is_true(json_object_get(k, "expectUndefined"))) {
            if (out) {
                char *s = NULL;
                weir__js_stringify(out, &s, NULL);
                cr_log_error("case %zu `%s`: expected undefined, got %s", i, src, s);
                weir__free(s);
                failures++;
            }
        } else {
            const char *want = json_string_value(json_object_get(k, "expect"));
            char *got = NULL;
            if (!out || weir__js_stringify(out, &got, NULL) || strcmp(got, want)) {
                cr_log_error("case %zu `%s`: got %s, JavaScript gives %s", i, src, got ? got : "undefined", want);
                failures++;
            }
            weir__free(got);
        }
        json_decref(out);
        json_t *truthy = json_object_get(k, "truthy");
        if (truthy) {
            bool b = !json_is_true(truthy);
            rc = weir__expr_truthy(x, &env, &b, &err);
            if (rc || b != json_is_true(truthy)) {
                cr_log_error("case %zu `%s`: truthy gives %d (rc %d), JavaScript %d", i, src, b, rc,
                             json_is_true(truthy));
                failures++;
            }
        }
        weir__expr_free(x);
    }
    json_decref(cases);
    cr_assert_eq(failures, 0, "%zu of the table cases differ from JavaScript (see the log above)", failures);
}

/* ------------------------------------------------------------- results */

Test(expr_result, integral_numbers_become_integers) {
    json_t *v = json_integer(21), *out;
    weir_error err;
    cr_assert_eq(run("value * 2", v, &out, &err), 0);
    cr_assert(json_is_integer(out));
    cr_assert_eq(json_integer_value(out), 42);
    json_decref(out);
    json_decref(v);

    cr_assert_eq(run("1.5 * 2", NULL, &out, &err), 0);
    cr_assert(json_is_integer(out), "3 is integral");
    json_decref(out);
    cr_assert_eq(run("2 ** 53", NULL, &out, &err), 0);
    cr_assert(json_is_integer(out));
    cr_assert_eq(json_integer_value(out), 9007199254740992LL);
    json_decref(out);
    cr_assert_eq(run("2 ** 53 + 2", NULL, &out, &err), 0);
    cr_assert(json_is_real(out), "beyond 2^53 a number stays real");
    json_decref(out);
    cr_assert_eq(run("0.1 * 3", NULL, &out, &err), 0);
    cr_assert(json_is_real(out));
    cr_assert_float_eq(json_real_value(out), 0.30000000000000004, 1e-18);
    json_decref(out);
    cr_assert_eq(run("-0", NULL, &out, &err), 0);
    cr_assert(json_is_real(out), "-0 is not an integer");
    cr_assert(signbit(json_real_value(out)));
    json_decref(out);
}

Test(expr_result, nonfinite_is_null_and_undefined_is_NULL) {
    json_t *out;
    weir_error err;
    cr_assert_eq(run("0 / 0", NULL, &out, &err), 0);
    cr_assert_eq(out, json_null());
    cr_assert_eq(run("-1 / 0", NULL, &out, &err), 0);
    cr_assert_eq(out, json_null());
    out = json_true();
    cr_assert_eq(run("value", NULL, &out, &err), 0);
    cr_assert_null(out);
    cr_assert_eq(run("[1].find(x => x > 1)", NULL, &out, &err), 0);
    cr_assert_null(out);
}

Test(expr_result, placeholders_never_leak) {
    json_t *out;
    weir_error err;
    cr_assert_eq(run("[undefined, NaN, 1 / 0, -1 / 0, [undefined]]", NULL, &out, &err), 0);
    cr_assert_eq(json_array_size(out), 5);
    for (size_t i = 0; i < 4; i++) cr_assert_eq(json_array_get(out, i), json_null(), "element %zu", i);
    cr_assert_eq(json_array_get(json_array_get(out, 4), 0), json_null());
    json_decref(out);

    cr_assert_eq(run("({a: undefined, b: NaN, c: {d: undefined, e: 1}})", NULL, &out, &err), 0);
    cr_assert_null(json_object_get(out, "a"), "undefined members are dropped");
    cr_assert_eq(json_object_get(out, "b"), json_null());
    cr_assert_eq(json_object_size(json_object_get(out, "c")), 1);
    json_decref(out);
}

Test(expr_result, strings_keep_nul_bytes) {
    json_t *out;
    weir_error err;
    cr_assert_eq(run("\"a\\0b\" + \"!\"", NULL, &out, &err), 0);
    cr_assert_eq(json_string_length(out), 4);
    cr_assert_eq(memcmp(json_string_value(out), "a\0b!", 4), 0);
    json_decref(out);
    cr_assert_str_eq(eval_text("\"a\\0b\".length", NULL), "3");
}

Test(expr_result, function_result_is_an_error) {
    cr_assert_str_eq(eval_text("Math.abs", NULL),
                     "error: the expression's result is a function; call it, or pass it to an array method");
    cr_assert_str_eq(eval_text("typeof Math.abs", NULL), "\"function\"");
}

Test(expr_result, result_shares_input_and_input_is_never_modified) {
    json_t *v = json_loads("{\"items\":[3,1,2],\"o\":{\"k\":1}}", 0, NULL), *out;
    char *before, *after;
    weir_error err;
    cr_assert_eq(weir__js_stringify(v, &before, NULL), 0);
    cr_assert_eq(run("[value.items.sort(), value.items.reverse(), value.o]", v, &out, &err), 0);
    cr_assert_eq(weir__js_stringify(v, &after, NULL), 0);
    cr_assert_str_eq(before, after, "sort and reverse return new arrays");
    cr_assert_eq(json_array_get(out, 2), json_object_get(v, "o"), "unchanged parts are shared, not copied");
    weir__free(before);
    weir__free(after);
    json_decref(out);
    json_decref(v);
}

Test(expr_result, environment) {
    weir_expr *x;
    weir_error err;
    cr_assert_eq(weir__expr_compile("[value, config, port]", &x, &err), 0);
    cr_assert_str_eq(weir__expr_source(x), "[value, config, port]");
    json_t *out;
    cr_assert_eq(weir__expr_eval(x, NULL, &out, &err), 0, "a NULL environment reads as all undefined");
    char *s;
    weir__js_stringify(out, &s, NULL);
    cr_assert_str_eq(s, "[null,null,null]");
    weir__free(s);
    json_decref(out);
    json_t *cfg = json_pack("{s:i}", "n", 7);
    weir_expr_env env = {json_integer(1), cfg, "left"};
    cr_assert_eq(weir__expr_eval(x, &env, &out, &err), 0);
    weir__js_stringify(out, &s, NULL);
    cr_assert_str_eq(s, "[1,{\"n\":7},\"left\"]");
    weir__free(s);
    json_decref(out);
    json_decref(env.value);
    json_decref(cfg);
    weir__expr_free(x);
    weir__expr_free(NULL);
}

Test(expr_truthy, follows_to_boolean) {
    static const struct {
        const char *src;
        bool want;
    } t[] = {
        {"value.status === 'active'", true}, {"value.status === 'x'", false}, {"value.n", false},
        {"value.s", true}, {"value.missing", false}, {"value.missing?.x", false}, {"[]", true},
        {"NaN", false}, {"-0", false}, {"\"0\"", true}, {"value", true},
    };
    json_t *v = json_loads("{\"status\":\"active\",\"n\":0,\"s\":\" \"}", 0, NULL);
    weir_expr_env env = {v, NULL, NULL};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        weir_expr *x;
        weir_error err;
        bool b = !t[i].want;
        cr_assert_eq(weir__expr_compile(t[i].src, &x, &err), 0, "%s", err.message);
        cr_assert_eq(weir__expr_truthy(x, &env, &b, &err), 0);
        cr_assert_eq(b, t[i].want, "%s", t[i].src);
        weir__expr_free(x);
    }
    weir_expr *x;
    weir_error err;
    bool b = true;
    cr_assert_eq(weir__expr_compile("value.missing.x", &x, &err), 0);
    cr_assert_eq(weir__expr_truthy(x, &env, &b, &err), WEIR_EEXPR);
    cr_assert_str_eq(err.message, "Cannot read properties of undefined (reading 'x')");
    weir__expr_free(x);
    json_decref(v);
}

/* ------------------------------------------------------- compile errors */

Test(expr_compile, errors_name_the_column_and_what_is_allowed) {
    compile_error("foo", "column 1: unknown name 'foo'; expressions may use value, config, port, Math, JSON, Object, "
                         "Array, Number, String, Boolean, parseInt, parseFloat, isNaN, isFinite, undefined, NaN, "
                         "Infinity and the parameters of arrow functions");
    compile_error("value.a + foo(1)",
                  "column 11: unknown name 'foo'; expressions may use value, config, port, Math, JSON, Object, "
                  "Array, Number, String, Boolean, parseInt, parseFloat, isNaN, isFinite, undefined, NaN, Infinity "
                  "and the parameters of arrow functions");
    compile_error("value.map(x => y)",
                  "column 16: unknown name 'y'; expressions may use value, config, port, Math, JSON, Object, Array, "
                  "Number, String, Boolean, parseInt, parseFloat, isNaN, isFinite, undefined, NaN, Infinity and the "
                  "parameters of arrow functions (here: x)");
    compile_error("value.map(function (x) { return x })",
                  "column 11: 'function' is not supported; use arrow functions (x => ...) as callbacks of array "
                  "methods");
    compile_error("\"é\" + foo", "column 7: unknown name 'foo'; expressions may use value, config, port, Math, JSON, "
                                 "Object, Array, Number, String, Boolean, parseInt, parseFloat, isNaN, isFinite, "
                                 "undefined, NaN, Infinity and the parameters of arrow functions");
}

Test(expr_compile, refuses_assignment_and_statements) {
    compile_error("value = 1", "column 7: '=' (assignment) is not supported: expressions cannot assign; use === to compare");
    compile_error("value.n += 1", "column 9: '+=' (assignment) is not supported: expressions cannot assign; write the "
                                  "computation (e.g. value + 1) instead");
    compile_error("value++", "column 6: '++' is not supported: expressions cannot assign; write value + 1 instead");
    compile_error("1, 2", "column 2: comma expressions are not supported; an expression computes a single value");
    compile_error("value; 1", "column 6: ';' is not supported: write a single JavaScript expression, not statements");
    compile_error("new Date()", "column 1: 'new' is not supported: expressions cannot construct objects; use literals "
                                "([...], {...})");
    compile_error("this.x", "column 1: 'this' is not supported; use value, config or port");
    compile_error("delete value.a", "column 1: 'delete' is not supported: expressions cannot modify values");
    compile_error("'a' in value", "column 5: 'in' is not supported; test value.key !== undefined or "
                                  "Object.keys(value).includes(key)");
    compile_error("value instanceof Array",
                  "column 7: 'instanceof' is not supported; use Array.isArray(x) or typeof x");
}

Test(expr_compile, refuses_what_is_outside_the_subset) {
    compile_error("value & 1", "column 7: bitwise operator '&' is not in the subset; use && and || for logic and Math "
                               "functions or arithmetic for numbers");
    compile_error("~value", "column 1: bitwise operator '~' is not in the subset; use && and || for logic and Math "
                            "functions or arithmetic for numbers");
    compile_error("value.s.match(/a+/)", "column 15: regular expression literals are not supported; use string "
                                         "methods (includes, startsWith, endsWith, indexOf, split, replace with a "
                                         "string pattern)");
    compile_error("Math.random() < 0.5", "column 6: Math.random is not supported: expressions must be deterministic "
                                         "(the same input always gives the same result)");
    compile_error("x => x", "column 1: arrow functions are only allowed as callbacks of array methods, e.g. "
                            "value.items.map(x => x.id)");
    compile_error("value.map(x => { return x })",
                  "column 16: arrow function bodies must be expressions (x => x.a + 1), not { blocks }; to return an "
                  "object literal wrap it in parentheses: x => ({ a: x })");
    compile_error("-2 ** 2", "column 1: a unary operator before ** is ambiguous; write (-x) ** y or -(x ** y)");
    compile_error("value ?? 1 || 2",
                  "column 12: ?? cannot be mixed with && or || without parentheses; write (a ?? b) || c");
    compile_error("010", "column 1: numbers with a leading zero (legacy octal) are not supported; write 8 or 0o10");
    compile_error("", "column 1: empty expression; write a JavaScript expression such as value.x * 2");
}

Test(expr_compile, syntax_errors) {
    compile_error("(1", "column 3: unexpected end of expression; expected ')'");
    compile_error("[1, 2", "column 6: unexpected end of expression; expected ',' or ']'");
    compile_error("value.", "column 7: unexpected end of expression; expected a property name after '.'");
    compile_error("\"abc", "column 1: unterminated string");
    compile_error("1 +", "column 4: unexpected end of expression; expected an operand");
    compile_error("value )", "column 7: unexpected ')'; expected the end of the expression");
    compile_error("\xff", "column 1: invalid UTF-8 in the expression");
}

Test(expr_compile, nesting_is_bounded) {
    char src[4096];
    size_t n = 0;
    for (int i = 0; i < 300; i++) src[n++] = '(';
    src[n++] = '1';
    for (int i = 0; i < 300; i++) src[n++] = ')';
    src[n] = '\0';
    weir_expr *x;
    weir_error err;
    cr_assert_eq(weir__expr_compile(src, &x, &err), WEIR_EEXPR);
    cr_assert(strstr(err.message, "nested too deeply"), "%s", err.message);

    n = 0;
    src[n++] = '1';
    for (int i = 0; i < 1000; i++) src[n++] = '+', src[n++] = '1';
    src[n] = '\0';
    cr_assert_eq(weir__expr_compile(src, &x, &err), WEIR_EEXPR);
    cr_assert(strstr(err.message, "too long a chain"), "%s", err.message);

    n = 0;
    src[n++] = '1';
    for (int i = 0; i < 200; i++) src[n++] = '+', src[n++] = '1';
    src[n] = '\0';
    cr_assert_eq(weir__expr_compile(src, &x, &err), 0, "200 terms are fine: %s", err.message);
    json_t *out;
    cr_assert_eq(weir__expr_eval(x, NULL, &out, &err), 0);
    cr_assert_eq(json_integer_value(out), 201);
    json_decref(out);
    weir__expr_free(x);
}

/* ------------------------------------------------------- runtime errors */

Test(expr_runtime, type_errors_read_like_javascript) {
    cr_assert_str_eq(eval_text("value.a.b", "{}"), "error: Cannot read properties of undefined (reading 'b')");
    cr_assert_str_eq(eval_text("value.a.b", "{\"a\":null}"), "error: Cannot read properties of null (reading 'b')");
    cr_assert_str_eq(eval_text("value[0][1]", "[]"), "error: Cannot read properties of undefined (reading '1')");
    cr_assert_str_eq(eval_text("value.a()", "{\"a\":1}"), "error: value.a is not a function");
    cr_assert_str_eq(eval_text("value.s.nope(1)", "{\"s\":\"x\"}"), "error: value.s.nope is not a function");
    cr_assert_str_eq(eval_text("value.map(1)", "[1]"), "error: 1 is not a function");
    cr_assert_str_eq(eval_text("[...value]", "3"), "error: value is not iterable");
    cr_assert_str_eq(eval_text("JSON.parse('{')", NULL),
                     "error: Unexpected end of JSON input (string or '}' expected near end of file)");
}

Test(expr_runtime, mutating_methods_are_refused) {
    cr_assert_str_eq(eval_text("value.push(4)", "[1]"),
                     "error: value.push is not supported: values are immutable; build a new array with concat, "
                     "slice, filter or [...spread]");
    cr_assert_str_eq(eval_text("value.splice(0, 1)", "[1]"),
                     "error: value.splice is not supported: values are immutable; build a new array with concat, "
                     "slice, filter or [...spread]");
    cr_assert_str_eq(eval_text("[...value, 4]", "[1]"), "[1,4]");
}

#define BIG_STRING \
    "error: Invalid string length: more than EXPR_MAX_BYTES (16777216 bytes); raise EXPR_MAX_BYTES if it is meant to"

Test(expr_runtime, absurd_sizes_are_errors_not_crashes) {
    cr_assert_str_eq(eval_text("'x'.repeat(1e9)", NULL), BIG_STRING);
    cr_assert_str_eq(eval_text("'x'.padStart(1e9)", NULL),
                     BIG_STRING);
    cr_assert_str_eq(eval_text("'x'.repeat(1 / 0)", NULL), "error: Invalid count value: Infinity");
    cr_assert_str_eq(eval_text("2 ** 1e9", NULL), "null");
    /* doubling a string: fine up to the cap, then an error */
    cr_assert_str_eq(eval_text("[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25]"
                               ".reduce(a => a + a, 'x').length",
                               NULL),
                     BIG_STRING);
    cr_assert_str_eq(eval_text("[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]"
                               ".reduce(a => a + a, 'x').length",
                               NULL),
                     "1048576");
}

Test(expr_runtime, work_is_bounded) {
    /* 4096^2 callback calls: refused, not hours of CPU */
    const char *src = "value.every(a => value.every(b => true))";
    json_t *v = json_array();
    for (int i = 0; i < 4096; i++) json_array_append_new(v, json_integer(i));
    json_t *out;
    weir_error err;
    cr_assert_eq(run(src, v, &out, &err), WEIR_EEXPR);
    cr_assert(strstr(err.message, "did more than EXPR_MAX_STEPS (1048576) steps"), "%s", err.message);
    json_decref(v);
}

Test(expr_runtime, recursion_is_bounded) {
    /* a callback that escapes through reduce's initial value, applied to itself */
    cr_assert_str_eq(eval_text("[].reduce(a => a, f => f(f))([].reduce(a => a, f => f(f)))", NULL),
                     "error: Maximum call stack size exceeded (expression nested more than 1024 levels deep)");
}

Test(expr_runtime, deep_and_shared_results_are_bounded) {
    json_t *v = json_array();
    for (int i = 0; i < 100000; i++) json_array_append_new(v, json_integer(i));
    json_t *out;
    weir_error err;
    /* 100000 nested arrays: refused as a result, released without deep recursion */
    cr_assert_eq(run("value.reduce(a => [a, undefined], [])", v, &out, &err), WEIR_EEXPR);
    cr_assert_str_eq(err.message, "the result is nested too deeply (more than 2048 levels)");
    cr_assert_eq(run("value.reduce(a => [a], []).length", v, &out, &err), 0, "%s", err.message);
    cr_assert_eq(json_integer_value(out), 1);
    json_decref(out);
    /* 2^60 paths through 60 shared levels: settled once per container,
     * and refused for what writing them out would cost */
    cr_assert_eq(run("value.slice(0, 60).reduce(a => [a, a, NaN], [undefined])", v, &out, &err), WEIR_EEXPR);
    cr_assert(strstr(err.message, "did more than EXPR_MAX_STEPS (1048576) steps"), "%s", err.message);
    /* 2^8 paths are fine, placeholders replaced in every one */
    cr_assert_eq(run("value.slice(0, 8).reduce(a => [a, a, NaN], [undefined])", v, &out, &err), 0, "%s",
                 err.message);
    json_t *inner = out;
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(json_array_get(inner, 2), json_null());
        inner = json_array_get(inner, 0);
    }
    cr_assert_eq(json_array_get(inner, 0), json_null());
    json_decref(out);
    json_decref(v);
}

Test(expr_runtime, long_reduce_concatenation_is_linear) {
    json_t *v = json_array();
    for (int i = 0; i < 100000; i++) json_array_append_new(v, json_string("abcdefghij"));
    json_t *out;
    weir_error err;
    cr_assert_eq(run("value.reduce((acc, s) => acc + s + ',', '')", v, &out, &err), 0, "%s", err.message);
    cr_assert_eq(json_string_length(out), 1100000);
    json_decref(out);
    json_decref(v);
}

/* --------------------------------------------------------- formatting */

Test(expr_format, js_number_and_stringify) {
    char buf[32];
    static const struct {
        double d;
        const char *s;
    } t[] = {{0.1 + 0.2, "0.30000000000000004"}, {1e21, "1e+21"}, {-0.0, "0"}, {1e-7, "1e-7"},
             {123456789012345680000.0, "123456789012345680000"}, {5e-324, "5e-324"}, {-1.5, "-1.5"},
             {NAN, "NaN"}, {-INFINITY, "-Infinity"}, {0.000001, "0.000001"}, {1.7976931348623157e308, "1.7976931348623157e+308"}};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        weir__js_number(t[i].d, buf);
        cr_assert_str_eq(buf, t[i].s);
    }
    json_t *v = json_pack("{s:f,s:i,s:[s,n,b],s:{}}", "b", 1e21, "2", 1, "a", "x\"\n\x01", 0, "z");
    char *s;
    size_t len;
    cr_assert_eq(weir__js_stringify(v, &s, &len), 0);
    cr_assert_str_eq(s, "{\"2\":1,\"b\":1e+21,\"a\":[\"x\\\"\\n\\u0001\",null,false],\"z\":{}}");
    cr_assert_eq(len, strlen(s));
    weir__free(s);
    cr_assert_eq(weir__js_string(json_object_get(v, "a"), &s, NULL), 0);
    cr_assert_str_eq(s, "[\"x\\\"\\n\\u0001\",null,false]");
    weir__free(s);
    cr_assert_eq(weir__js_string(NULL, &s, NULL), 0);
    cr_assert_str_eq(s, "");
    weir__free(s);
    json_decref(v);
}

/* ------------------------------------------------------ out of memory */

/* Every allocation of compile and of eval, failed in turn: each attempt
 * either succeeds or reports WEIR_ENOMEM, and leaves nothing allocated. */
Test(expr_oom, every_allocation_failure_is_clean) {
    const char *src = "value.items.filter(x => x.on).map(x => ({id: x.id, tag: `#${x.id}` + 'abc'.repeat(3)}))"
                      ".concat(Object.keys(value), JSON.parse('[1,2]'), [...'ab'], String(0.1 + 0.2))";
    fa_install(0, 0);
    json_t *v = json_loads("{\"items\":[{\"id\":1,\"on\":true},{\"id\":2},{\"id\":3,\"on\":1}],\"k\":[1]}", 0, NULL);
    cr_assert_not_null(v);
    size_t compiled = 0, evaluated = 0;
    for (size_t n = 1; n < 10000; n++) {
        fa_install(n, 0);
        weir_expr *x = NULL;
        weir_error err;
        int rc = weir__expr_compile(src, &x, &err);
        size_t attempts = fa_count();
        if (rc) {
            cr_assert_eq(rc, WEIR_ENOMEM, "allocation %zu: %s", n, err.message);
            cr_assert_eq(fa_live(), 0, "allocation %zu: a failed compile leaks", n);
            continue;
        }
        weir__expr_free(x);
        cr_assert_eq(fa_live(), 0);
        if (attempts < n) {
            compiled = n;
            break;
        }
    }
    cr_assert(compiled, "compile never completed");
    fa_install(0, 0);
    weir_expr *x;
    weir_error err;
    cr_assert_eq(weir__expr_compile(src, &x, &err), 0);
    weir_expr_env env = {v, NULL, NULL};
    for (size_t n = 1; n < 10000; n++) {
        fa_install(n, 0);
        json_t *out = NULL;
        int rc = weir__expr_eval(x, &env, &out, &err);
        size_t attempts = fa_count();
        if (rc) {
            cr_assert_eq(rc, WEIR_ENOMEM, "allocation %zu: %s", n, err.message);
            cr_assert_null(out);
            cr_assert_eq(fa_live(), 0, "allocation %zu: a failed eval leaks", n);
            continue;
        }
        json_decref(out);
        cr_assert_eq(fa_live(), 0);
        if (attempts < n) {
            evaluated = n;
            break;
        }
    }
    cr_assert(evaluated, "eval never completed");
    fa_install(0, 0);
    weir__expr_free(x);
    json_decref(v);
    fa_uninstall();
}
