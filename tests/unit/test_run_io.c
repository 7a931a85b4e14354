/* weir run's lines (src/cli/run_io.c): compact JSON without jansson's
 * encoder must give jansson's bytes; the quick --input line parser must
 * agree with jansson or step aside. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cli/run_io.h"

static void same_as_jansson(json_t *v) {
    cli_line l = {0};
    cli_line_lit(&l, "<");
    cli_line_json(&l, v);
    cli_line_lit(&l, ">");
    char *want = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    cr_assert(!l.oom);
    cr_assert_eq(l.len, strlen(want) + 2, "%.*s vs %s", (int)l.len, l.buf, want);
    cr_assert(memcmp(l.buf + 1, want, strlen(want)) == 0, "%.*s vs %s", (int)l.len, l.buf, want);
    free(want);
    cli_line_free(&l);
    json_decref(v);
}

Test(run_io, compact_json_is_janssons) {
    same_as_jansson(json_integer(0));
    same_as_jansson(json_integer(-42));
    same_as_jansson(json_integer(INT64_MAX));
    same_as_jansson(json_integer(INT64_MIN));
    same_as_jansson(json_true());
    same_as_jansson(json_false());
    same_as_jansson(json_null());
    same_as_jansson(json_string(""));
    same_as_jansson(json_string("caf\xc3\xa9 \"q\" \\ / \x7f \x01\x1f\b\f\n\r\t end"));
    same_as_jansson(json_stringn("a\0b", 3));
    same_as_jansson(json_real(0.1));
    same_as_jansson(json_real(3.0));
    json_t *big = json_array();
    for (int i = 0; i < 2000; i++) json_array_append_new(big, json_pack("{s:i,s:s}", "i", i, "s", "a longer string"));
    same_as_jansson(big); /* grows the line past its first buffer */
}

/* The quick parser gives what jansson gives for the whole line, or -1. */
static void line_agrees(const char *text, bool quick) {
    size_t n = strlen(text);
    char *line = strdup(text);
    const char *node, *port;
    json_t *value;
    int rc = cli_inject_line(line, n, &node, &port, &value);
    cr_assert_eq(rc, quick ? 0 : -1, "%s: rc %d", text, rc);
    if (rc == 0) {
        json_t *whole = json_loads(text, 0, NULL);
        cr_assert_not_null(whole, "%s: jansson refuses what the quick parser took", text);
        cr_assert_str_eq(node, json_string_value(json_object_get(whole, "nodeId")));
        const char *wport = json_string_value(json_object_get(whole, "port"));
        if (wport) cr_assert_str_eq(port, wport);
        else cr_assert_null(port);
        cr_assert(json_equal(value, json_object_get(whole, "value")), "%s", text);
        cr_assert_eq(json_typeof(value), json_typeof(json_object_get(whole, "value")), "%s", text);
        json_decref(whole);
        json_decref(value);
    } else {
        cr_assert_str_eq(line, text, "a line it steps aside from is left as it was");
    }
    free(line);
}

Test(run_io, the_quick_input_line_parser) {
    line_agrees("{\"nodeId\":\"n0\",\"port\":\"in\",\"value\":42}\n", true);
    line_agrees("  { \"value\" : -7 , \"nodeId\" : \"a b\" }  \r\n", true);
    line_agrees("{\"nodeId\":\"n\",\"value\":{\"a\":[1,\"x}],\\\"\"],\"b\":{}}}", true);
    line_agrees("{\"nodeId\":\"n\",\"value\":\"caf\\u00e9\",\"port\":\"p\"}", true);
    line_agrees("{\"nodeId\":\"n\",\"value\":1.5e3}", true);
    line_agrees("{\"nodeId\":\"n\",\"value\":123456789012345678}", true);
    line_agrees("{\"nodeId\":\"n\",\"value\":12345678901234567890}", false); /* too big: jansson says so */
    line_agrees("{\"nodeId\":\"n\",\"value\":0}", true);
    line_agrees("{\"nodeId\":\"n\",\"value\":-0}", true);
    line_agrees("{\"nodeId\":\"n\",\"value\":null}", true);
    /* not the quick shape: jansson decides (and explains) */
    line_agrees("{\"nodeId\":\"n\",\"value\":01}", false);
    line_agrees("{\"nodeId\":\"n\",\"value\":-}", false);
    line_agrees("{\"nodeId\":\"n\\u0030\",\"value\":1}", false);
    line_agrees("{\"nodeId\":\"caf\xc3\xa9\",\"value\":1}", false);
    line_agrees("{\"nodeId\":\"n\",\"value\":1,\"extra\":2}", false);
    line_agrees("{\"nodeId\":\"n\",\"nodeId\":\"m\",\"value\":1}", false);
    line_agrees("{\"nodeId\":\"n\",\"value\":1,\"value\":2}", false);
    line_agrees("{\"nodeId\":\"n\",\"value\":1} x", false);
    line_agrees("{\"nodeId\":\"n\",\"value\":[1,2}", false);
    line_agrees("{\"nodeId\":\"n\",\"value\":\"open}", false);
    line_agrees("{\"nodeId\":\"n\"}", false);
    line_agrees("{\"value\":1}", false);
    line_agrees("{\"nodeId\":3,\"value\":1}", false);
    line_agrees("[1]", false);
    line_agrees("", false);
}
