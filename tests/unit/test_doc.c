/* JSON and YAML documents. */
#include <string.h>

#include "shell.h"

static json_t *parse(const char *text, weir_doc_format f, int expect_rc, weir_error *err) {
    json_t *out = NULL;
    int rc = weir_doc_parse(text, strlen(text), f, &out, err);
    cr_assert_eq(rc, expect_rc, "rc %d: %s", rc, err->message);
    return out;
}

Test(doc, yaml_graph_has_the_same_structure_as_json) {
    weir_error err;
    json_t *y = parse("symbia: '1.0'\nname: pipe\nnodes:\n  - id: a\n    component: symbia.core.passthrough\n"
                      "    config: {}\nedges: []\nmetadata:\n  timeoutMs: 5000\n  flag: true\n  none: ~\n  ratio: 0.5\n",
                      WEIR_DOC_AUTO, 0, &err);
    cr_assert_str_eq(ts_dump(y), "{\"edges\":[],\"metadata\":{\"flag\":true,\"none\":null,\"ratio\":0.5,\"timeoutMs\":5000},"
                                 "\"name\":\"pipe\",\"nodes\":[{\"component\":\"symbia.core.passthrough\",\"config\":{},"
                                 "\"id\":\"a\"}],\"symbia\":\"1.0\"}");
    json_decref(y);
}

Test(doc, quoted_yaml_scalars_stay_strings) {
    weir_error err;
    json_t *y = parse("a: '42'\nb: \"true\"\nc: 42\nd: 0x10\ne: 1e3\n", WEIR_DOC_YAML, 0, &err);
    cr_assert_str_eq(ts_dump(y), "{\"a\":\"42\",\"b\":\"true\",\"c\":42,\"d\":\"0x10\",\"e\":1000.0}");
    json_decref(y);
}

Test(doc, yaml_errors_give_line_and_column) {
    weir_error err;
    parse("a: [1, 2\nb: 3\n", WEIR_DOC_YAML, WEIR_EINVAL, &err);
    cr_assert(strstr(err.message, "YAML line"), "%s", err.message);
}

Test(doc, yaml_aliases_are_refused) {
    weir_error err;
    parse("a: &x [1]\nb: *x\n", WEIR_DOC_YAML, WEIR_EINVAL, &err);
    cr_assert(strstr(err.message, "not supported"), "%s", err.message);
}

Test(doc, deep_yaml_nesting_is_refused) {
    char buf[2000];
    memset(buf, '[', 600);
    memset(buf + 600, ']', 600);
    buf[1200] = '\0';
    weir_error err;
    parse(buf, WEIR_DOC_YAML, WEIR_EINVAL, &err);
    cr_assert(strstr(err.message, "256 levels"), "%s", err.message);
}

Test(doc, json_errors_give_line_and_column) {
    weir_error err;
    parse("{\n\"a\": tru}", WEIR_DOC_AUTO, WEIR_EINVAL, &err);
    cr_assert(strstr(err.message, "line 2"), "%s", err.message);
}

Test(doc, empty_yaml_is_an_error) {
    weir_error err;
    parse("", WEIR_DOC_YAML, WEIR_EINVAL, &err);
}

Test(doc, yaml_duplicate_keys_are_refused_like_json) {
    weir_error err;
    parse("name: a\nnodes: []\nname: b\n", WEIR_DOC_YAML, WEIR_EINVAL, &err);
    cr_assert(strstr(err.message, "YAML line 3") && strstr(err.message, "\"name\""), "%s", err.message);
    parse("{\"name\": 1, \"name\": 2}", WEIR_DOC_JSON, WEIR_EINVAL, &err);
}

Test(doc, yaml_explicit_str_tag_keeps_a_string) {
    weir_error err;
    json_t *y = parse("symbia: !!str 1.0\nb: !!str true\nc: !!int 7\nd: 1.0\n", WEIR_DOC_YAML, 0, &err);
    cr_assert_str_eq(ts_dump(y), "{\"b\":\"true\",\"c\":7,\"d\":1.0,\"symbia\":\"1.0\"}");
    json_decref(y);
}
