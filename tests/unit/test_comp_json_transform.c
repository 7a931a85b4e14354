#include <string.h>

#include "comp.h"

Test(json_transform, extracts_by_path) {
    test_shell ts;
    ts_init(&ts, false);
    weir_exec *e = comp_start(&ts, "symbia.data.json-transform", "{\"path\":\"data.items[1][\\\"a b\\\"].name\"}");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "{\"data\":{\"items\":[0,{\"a b\":{\"name\":\"x\"}}]}}")),
                     "{\"n:out\":\"x\"}");
    json_t *out = comp_send(&ts, e, "{\"data\":{\"items\":[]}}");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "n:error"), "error")),
                     "path data.items[1][\"a b\"].name: no index [1] (part 3)");
    comp_stop(e);
    ts_fini(&ts);
}

Test(json_transform, missing_null_and_skip) {
    test_shell ts;
    ts_init(&ts, false);
    weir_exec *e = comp_start(&ts, "symbia.data.json-transform", "{\"path\":\"a.b\",\"missing\":\"null\"}");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "{}")), "{\"n:out\":null}");
    comp_stop(e);
    e = comp_start(&ts, "symbia.data.json-transform", "{\"path\":\"a\",\"missing\":\"skip\"}");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "[1]")), "{}");
    comp_stop(e);
    ts_fini(&ts);
}

Test(json_transform, bad_paths_refused_at_load) {
    test_shell ts;
    ts_init(&ts, false);
    const char *m = ts_graph_error(&ts, "{\"symbia\":\"1\",\"name\":\"c\",\"nodes\":[{\"id\":\"n\",\"component\":"
                                        "\"symbia.data.json-transform\",\"config\":{\"path\":\"a..b\"}}],\"edges\":[]}");
    cr_assert(strstr(m, "column 3: empty name"), "%s", m);
    ts_fini(&ts);
}
