#include <string.h>

#include "comp.h"

Test(filter, routes_truthy_falsy_and_thrown) {
    test_shell ts;
    ts_init(&ts, false);
    weir_exec *e = comp_start(&ts, "symbia.core.filter", "{\"predicate\":\"value.status === 'active'\"}");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "{\"status\":\"active\"}")), "{\"n:out\":{\"status\":\"active\"}}");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "{\"status\":\"gone\"}")), "{\"n:rejected\":{\"status\":\"gone\"}}");
    json_t *out = comp_send(&ts, e, "null");
    json_t *err = json_object_get(out, "n:error");
    cr_assert_not_null(err, "%s", ts_dump(out));
    cr_assert(strstr(json_string_value(json_object_get(err, "error")), "Cannot read properties of null"), "%s",
              ts_dump(err));
    cr_assert(json_is_null(json_object_get(err, "value")));
    comp_stop(e);
    ts_fini(&ts);
}

Test(filter, bad_predicate_is_refused_at_load_with_column) {
    test_shell ts;
    ts_init(&ts, false);
    const char *m = ts_graph_error(&ts, "{\"symbia\":\"1\",\"name\":\"c\",\"nodes\":[{\"id\":\"n\",\"component\":"
                                        "\"symbia.core.filter\",\"config\":{\"predicate\":\"value = 3\"}}],\"edges\":[]}");
    cr_assert(strstr(m, "node \"n\": expression in config \"predicate\" does not compile: column"), "%s", m);
    cr_assert(strstr(m, "(expression: value = 3)"), "%s", m);
    ts_fini(&ts);
}
