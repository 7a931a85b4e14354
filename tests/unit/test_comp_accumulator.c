#include "comp.h"

Test(accumulator, emits_full_batches) {
    test_shell ts;
    ts_init(&ts, false);
    weir_exec *e = comp_start(&ts, "symbia.core.accumulator", "{\"batchSize\":2}");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "1")), "{}");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "2")), "{\"n:out\":[1,2]}");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "3")), "{}");
    cr_assert_eq(json_array_size(ts.effects), 0, "no flushMs: no timers");
    comp_stop(e);
    ts_fini(&ts);
}

Test(accumulator, flush_ms_rearms_on_each_value_and_flushes_partial) {
    test_shell ts;
    ts_init(&ts, false);
    weir_exec *e = comp_start(&ts, "symbia.core.accumulator", "{\"batchSize\":5,\"flushMs\":100}");
    comp_send(&ts, e, "1");
    comp_send(&ts, e, "2");
    cr_assert_eq(json_array_size(ts.effects), 2, "one timer per value");
    cr_assert_eq(json_array_size(ts.cancelled), 1, "the first was re-armed");
    cr_assert_eq(json_integer_value(json_array_get(ts.cancelled, 0)), (json_int_t)ts_effect_id(&ts, 0));
    weir_error err;
    cr_assert_eq(weir_exec_resolve(e, ts_effect_id(&ts, 0), NULL, NULL, 100, &err), WEIR_ESTALE);
    cr_assert_eq(weir_exec_resolve(e, ts_effect_id(&ts, 1), NULL, NULL, 200, &err), 0);
    cr_assert_str_eq(ts_dump(json_object_get(ts_last_settled(&ts), "outputs")), "{\"n:out\":[1,2]}");
    comp_stop(e);
    ts_fini(&ts);
}

Test(accumulator, full_batch_cancels_the_quiet_timer) {
    test_shell ts;
    ts_init(&ts, false);
    weir_exec *e = comp_start(&ts, "symbia.core.accumulator", "{\"batchSize\":2,\"flushMs\":100}");
    comp_send(&ts, e, "1");
    cr_assert_str_eq(ts_dump(comp_send(&ts, e, "2")), "{\"n:out\":[1,2]}");
    cr_assert_eq(json_array_size(ts.cancelled), 1);
    cr_assert_eq(weir_exec_pending_effects(e), 0);
    comp_stop(e);
    ts_fini(&ts);
}
