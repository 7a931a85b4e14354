/*
 * Templates: text with {{ expression }} holes (http-request url, headers,
 * body).  Rendering, the single-hole value form, hole boundaries, and compile
 * errors that name the hole and the column within the whole template.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/alloc.h"
#include "core/expr.h"

static json_t *value;

static void setup(void) {
    value = json_loads("{\"id\":42,\"name\":\"Ada\",\"tags\":[\"a\",\"b\"],\"user\":{\"x\":1},\"ratio\":0.1,"
                       "\"q\":\"a b&c\"}",
                       0, NULL);
    cr_assert_not_null(value);
}
static void teardown(void) { json_decref(value); }

TestSuite(expr_tmpl, .init = setup, .fini = teardown);

/* Render src over `value`; the rendered string (static buffer). */
static const char *render(const char *src) {
    static char buf[1024];
    weir_tmpl *t;
    weir_error err;
    int rc = weir__tmpl_compile(src, &t, &err);
    cr_assert_eq(rc, 0, "'%s': %s", src, err.message);
    weir_expr_env env = {value, NULL, "in"};
    json_t *out;
    rc = weir__tmpl_render(t, &env, &out, &err);
    cr_assert_eq(rc, 0, "'%s': %s", src, err.message);
    cr_assert(json_is_string(out));
    snprintf(buf, sizeof buf, "%s", json_string_value(out));
    json_decref(out);
    weir__tmpl_free(t);
    return buf;
}

static void compile_error(const char *src, const char *expected) {
    weir_tmpl *t = (weir_tmpl *)1;
    weir_error err;
    cr_assert_eq(weir__tmpl_compile(src, &t, &err), WEIR_EEXPR, "'%s' should not compile", src);
    cr_assert_null(t);
    cr_assert_str_eq(err.message, expected);
}

Test(expr_tmpl, text_without_holes) {
    cr_assert_str_eq(render("https://example.com/a?b=c"), "https://example.com/a?b=c");
    cr_assert_str_eq(render(""), "");
    cr_assert_str_eq(render("a } b }} c {"), "a } b }} c {");
    weir_tmpl *t;
    weir_error err;
    cr_assert_eq(weir__tmpl_compile("plain", &t, &err), 0);
    cr_assert_not(weir__tmpl_has_holes(t));
    weir__tmpl_free(t);
    weir__tmpl_free(NULL);
}

Test(expr_tmpl, holes_render_as_javascript_strings) {
    cr_assert_str_eq(render("https://api/items/{{value.id}}?n={{ value.name }}"), "https://api/items/42?n=Ada");
    cr_assert_str_eq(render("{{value.ratio + 0.2}}"), "0.30000000000000004");
    cr_assert_str_eq(render("[{{ value.missing }}]"), "[]", "undefined renders as nothing");
    cr_assert_str_eq(render("{{null}}/{{true}}/{{1e21}}/{{-0}}"), "null/true/1e+21/0");
    cr_assert_str_eq(render("{{ value.name.toUpperCase() }}-{{ port }}"), "ADA-in");
}

Test(expr_tmpl, objects_and_arrays_render_as_json) {
    cr_assert_str_eq(render("body={{value.user}}"), "body={\"x\":1}");
    cr_assert_str_eq(render("tags={{ value.tags }}"), "tags=[\"a\",\"b\"]");
    cr_assert_str_eq(render("{{ ({b: [1, {c: 'd'}]}) }}"), "{\"b\":[1,{\"c\":\"d\"}]}");
}

Test(expr_tmpl, hole_boundaries_respect_strings_and_braces) {
    cr_assert_str_eq(render("{{ {a: {b: 1}}.a.b }}"), "1");
    cr_assert_str_eq(render("{{ \"}}\" }}!"), "}}!");
    cr_assert_str_eq(render("{{ '{{' + \"x\" }}"), "{{x");
    cr_assert_str_eq(render("{{ `id-${ {v: value.id}.v }` }}"), "id-42");
    cr_assert_str_eq(render("{{1}}{{2}}"), "12");
    cr_assert_str_eq(render("a{{ value.tags.map(t => `<${t}>`).join('') }}b"), "a<a><b>b");
}

Test(expr_tmpl, single_hole_renders_the_value_itself) {
    weir_tmpl *t;
    weir_error err;
    weir_expr_env env = {value, NULL, NULL};
    json_t *out;
    cr_assert_eq(weir__tmpl_compile("{{value.user}}", &t, &err), 0);
    cr_assert(weir__tmpl_has_holes(t));
    cr_assert_eq(weir__tmpl_render_value(t, &env, &out, &err), 0);
    cr_assert_eq(out, json_object_get(value, "user"), "the value itself, shared");
    json_decref(out);
    cr_assert_eq(weir__tmpl_render(t, &env, &out, &err), 0);
    cr_assert_str_eq(json_string_value(out), "{\"x\":1}");
    json_decref(out);
    weir__tmpl_free(t);

    cr_assert_eq(weir__tmpl_compile("{{ value.id }}", &t, &err), 0);
    cr_assert_eq(weir__tmpl_render_value(t, &env, &out, &err), 0);
    cr_assert(json_is_integer(out));
    cr_assert_eq(json_integer_value(out), 42);
    json_decref(out);
    weir__tmpl_free(t);

    cr_assert_eq(weir__tmpl_compile("{{ value.missing }}", &t, &err), 0);
    out = json_true();
    cr_assert_eq(weir__tmpl_render_value(t, &env, &out, &err), 0);
    cr_assert_null(out, "undefined stays NULL");
    weir__tmpl_free(t);

    cr_assert_eq(weir__tmpl_compile("id={{ value.id }}", &t, &err), 0);
    cr_assert_eq(weir__tmpl_render_value(t, &env, &out, &err), 0);
    cr_assert_str_eq(json_string_value(out), "id=42", "text around the hole: a string");
    json_decref(out);
    weir__tmpl_free(t);
}

Test(expr_tmpl, compile_errors_name_the_hole_and_column) {
    compile_error("https://x/{{ foo }}",
                  "column 14: unknown name 'foo'; expressions may use value, config, port, Math, JSON, Object, Array, "
                  "Number, String, Boolean, parseInt, parseFloat, isNaN, isFinite, undefined, NaN, Infinity and the "
                  "parameters of arrow functions (in template hole 1: {{ foo }})");
    compile_error("{{value.id}} and {{ value.a = 1 }}",
                  "column 29: '=' (assignment) is not supported: expressions cannot assign; use === to compare (in "
                  "template hole 2: {{ value.a = 1 }})");
    compile_error("é {{ x => 1 }}", "column 6: arrow functions are only allowed as callbacks of array methods, e.g. "
                                    "value.items.map(x => x.id) (in template hole 1: {{ x => 1 }})");
    compile_error("a {{ value.id", "column 3: '{{' is not closed; end the hole with '}}'");
    compile_error("a {{ }} b", "column 3: empty '{{ }}' hole; put an expression inside, e.g. {{ value.id }}");
    compile_error("{{ \"}} }}", "column 1: '{{' is not closed; end the hole with '}}'");
}

Test(expr_tmpl, runtime_errors_propagate) {
    weir_tmpl *t;
    weir_error err;
    weir_expr_env env = {value, NULL, NULL};
    json_t *out = json_true();
    cr_assert_eq(weir__tmpl_compile("/u/{{ value.nope.id }}", &t, &err), 0);
    cr_assert_eq(weir__tmpl_render(t, &env, &out, &err), WEIR_EEXPR);
    cr_assert_null(out);
    cr_assert_str_eq(err.message, "Cannot read properties of undefined (reading 'id')");
    weir__tmpl_free(t);
}
