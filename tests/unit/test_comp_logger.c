#include <string.h>

#include "comp.h"

Test(logger, logs_prefix_and_value_and_forwards) {
    test_shell ts;
    ts_init(&ts, true);
    weir_exec *e = comp_start(&ts, "symbia.core.logger", "{\"level\":\"warn\",\"prefix\":\"got: \"}");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "{\"a\":1}")), "{\"n:out\":{\"a\":1}}");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "\"text\"")), "{\"n:out\":\"text\"}");
    cr_assert_str_eq(ts_dump(ts.logs), "[{\"level\":\"warn\",\"message\":\"got: {\\\"a\\\":1}\"},"
                                       "{\"level\":\"warn\",\"message\":\"got: text\"}]");
    cr_assert_eq(ts_count_events(&ts, "log"), 2);
    comp_stop(e);
    ts_fini(&ts);
}

Test(logger, level_must_be_known) {
    test_shell ts;
    ts_init(&ts, false);
    const char *m = ts_graph_error(&ts, "{\"symbia\":\"1\",\"name\":\"c\",\"nodes\":[{\"id\":\"n\",\"component\":"
                                        "\"symbia.core.logger\",\"config\":{\"level\":\"loud\"}}],\"edges\":[]}");
    cr_assert(strstr(m, "must be one of \"debug\", \"info\", \"warn\", \"error\""), "%s", m);
    ts_fini(&ts);
}
