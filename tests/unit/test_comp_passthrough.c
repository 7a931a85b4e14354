#include "comp.h"

Test(passthrough, forwards_unchanged) {
    test_shell ts;
    ts_init(&ts, false);
    weir_exec *e = comp_start(&ts, "symbia.core.passthrough", NULL);
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "{\"a\":[1,null,\"x\"]}")), "{\"n:out\":{\"a\":[1,null,\"x\"]}}");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "null")), "{\"n:out\":null}");
    comp_stop(e);
    ts_fini(&ts);
}
