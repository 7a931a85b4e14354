#include <string.h>

#include "comp.h"

Test(map, emits_the_result) {
    test_shell ts;
    ts_init(&ts, false);
    weir_exec *e = comp_start(&ts, "symbia.core.map", "{\"expression\":\"value * 2\"}");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "21")), "{\"n:out\":42}");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "1.25")), "{\"n:out\":2.5}");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "\"x\"")), "{\"n:out\":null}", "NaN has no JSON form");
    comp_stop(e);
    ts_fini(&ts);
}

Test(map, transform_alias_objects_and_undefined) {
    test_shell ts;
    ts_init(&ts, false);
    weir_exec *e = comp_start(&ts, "symbia.core.map", "{\"transform\":\"({id: value.id, n: value.items.length})\"}");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "{\"id\":\"a\",\"items\":[1,2]}")), "{\"n:out\":{\"id\":\"a\",\"n\":2}}");
    json_t *out = comp_send(&ts, e, "{}");
    cr_assert(strstr(json_string_value(json_object_get(json_object_get(out, "n:error"), "error")),
                     "Cannot read properties of undefined (reading 'length')"),
              "%s", ts_dump(out));
    comp_stop(e);
    e = comp_start(&ts, "symbia.core.map", "{\"expression\":\"value.missing\"}");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "{}")), "{\"n:out\":null}");
    comp_stop(e);
    ts_fini(&ts);
}
