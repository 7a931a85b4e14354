#include <string.h>

#include "comp.h"

Test(delay, forwards_after_a_timer_effect_without_blocking) {
    test_shell ts;
    ts_init(&ts, false);
    weir_exec *e = comp_start(&ts, "symbia.core.delay", "{\"ms\":250}");
    cr_assert_null(comp_send(&ts, e, "1"), "not settled until the timer fires");
    cr_assert_null(comp_send(&ts, e, "2"), "a second message is accepted at once");
    cr_assert_eq(json_array_size(ts.effects), 2);
    cr_assert_str_eq(ts_dump(json_object_get(json_array_get(ts.effects, 0), "payload")), "{\"delayMs\":250}");
    weir_error err;
    /* timers may fire in any order the shell decides; each releases its own value */
    cr_assert_eq(weir_exec_resolve(e, ts_effect_id(&ts, 1), NULL, NULL, 250, &err), 0);
    cr_assert_str_eq(ts_dump(json_object_get(ts_last_settled(&ts), "outputs")), "{\"n:out\":2}");
    cr_assert_eq(weir_exec_resolve(e, ts_effect_id(&ts, 0), NULL, NULL, 251, &err), 0);
    cr_assert_str_eq(ts_dump(json_object_get(ts_last_settled(&ts), "outputs")), "{\"n:out\":1}");
    comp_stop(e);
    ts_fini(&ts);
}

Test(delay, default_is_1000_ms) {
    test_shell ts;
    ts_init(&ts, false);
    weir_exec *e = comp_start(&ts, "symbia.core.delay", NULL);
    comp_send(&ts, e, "1");
    cr_assert_str_eq(ts_dump(json_object_get(json_array_get(ts.effects, 0), "payload")), "{\"delayMs\":1000}");
    comp_stop(e);
    ts_fini(&ts);
}
