#include <string.h>

#include "comp.h"

Test(split, condition_routes_true_and_false) {
    test_shell ts;
    ts_init(&ts, false);
    weir_exec *e = comp_start(&ts, "symbia.core.split", "{\"condition\":\"value > 10\"}");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "11")), "{\"n:true\":11}");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "3")), "{\"n:false\":3}");
    comp_stop(e);
    ts_fini(&ts);
}

Test(split, cases_first_match_wins_else_default) {
    test_shell ts;
    ts_init(&ts, false);
    weir_exec *e = comp_start(&ts, "symbia.core.split",
                              "{\"cases\":[{\"port\":\"big\",\"condition\":\"value >= 100\"},"
                              "{\"port\":\"mid\",\"condition\":\"value >= 10\"}],\"default\":\"tiny\"}");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "500")), "{\"n:big\":500}");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "50")), "{\"n:mid\":50}");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "5")), "{\"n:tiny\":5}");
    json_t *out = comp_send(&ts, e, "{\"a\":1}");
    cr_assert_str_eq(ts_dump(out), "{\"n:tiny\":{\"a\":1}}");
    comp_stop(e);
    ts_fini(&ts);
}

Test(split, needs_condition_or_cases) {
    test_shell ts;
    ts_init(&ts, false);
    const char *m = ts_graph_error(&ts, "{\"symbia\":\"1\",\"name\":\"c\",\"nodes\":[{\"id\":\"n\",\"component\":"
                                        "\"symbia.core.split\"}],\"edges\":[]}");
    cr_assert(strstr(m, "set either \"condition\""), "%s", m);
    m = ts_graph_error(&ts, "{\"symbia\":\"1\",\"name\":\"c\",\"nodes\":[{\"id\":\"n\",\"component\":"
                            "\"symbia.core.split\",\"config\":{\"cases\":[{\"port\":\"a\"}]}}],\"edges\":[]}");
    cr_assert(strstr(m, "cases[0] must be an object"), "%s", m);
    ts_fini(&ts);
}

Test(split, default_port_error_is_reserved_like_cases) {
    test_shell ts;
    ts_init(&ts, false);
    const char *m = ts_graph_error(&ts, "{\"symbia\":\"1\",\"name\":\"c\",\"nodes\":[{\"id\":\"n\",\"component\":"
                                        "\"symbia.core.split\",\"config\":{\"cases\":[{\"port\":\"big\",\"condition\":"
                                        "\"value > 1\"}],\"default\":\"error\"}}],\"edges\":[]}");
    cr_assert(strstr(m, "\"default\"") && strstr(m, "reserved"), "%s", m);
    ts_fini(&ts);
}
