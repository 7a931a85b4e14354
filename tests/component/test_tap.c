/* weir_exec_tap (the port views' source, SPEC §8): each value emitted on a
 * tapped output port, once per emission whatever its fan-out, a port with
 * no edge and a dynamic one too; removal; refusals.  The core driven by the
 * tiny shell, without events. */
#include <string.h>

#include "shell.h"

static test_shell ts;
static void setup(void) { ts_init(&ts, false); }
static void teardown(void) { ts_fini(&ts); }
TestSuite(tap, .init = setup, .fini = teardown);

#define PT(id) "{\"id\":\"" id "\",\"component\":\"symbia.core.passthrough\"}"
#define E(a, ap, b, bp) \
    "{\"source\":{\"node\":\"" a "\",\"port\":\"" ap "\"},\"target\":{\"node\":\"" b "\",\"port\":\"" bp "\"}}"
/* a fans out to b and c; b's out has no edge; s splits (true/false, no
 * edges); d routes by cases to ports it names itself (dynamic) */
static const char *G = "{\"symbia\":\"1.0\",\"name\":\"t\",\"nodes\":[" PT("a") "," PT("b") "," PT("c") ","
                       "{\"id\":\"s\",\"component\":\"symbia.core.split\",\"config\":{\"condition\":\"value > 1\"}},"
                       "{\"id\":\"d\",\"component\":\"symbia.core.split\",\"config\":{\"cases\":"
                       "[{\"port\":\"big\",\"condition\":\"value > 2\"}]}}"
                       "],\"edges\":[" E("a", "out", "b", "in") "," E("a", "out", "c", "in") ","
                       E("c", "out", "s", "in") "," E("c", "out", "d", "in") "]}";

static void record(void *ud, json_t *value) { json_array_append((json_t *)ud, value); }

Test(tap, each_emission_once_whatever_the_fan_out) {
    weir_graph *g = ts_graph(&ts, G);
    weir_exec_options o = {.id = "x", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1};
    weir_exec *e = ts_start(&ts, g, &o);
    json_t *a = json_array(), *b = json_array(), *t = json_array(), *a2 = json_array(), *big = json_array();
    weir_error err;
    cr_assert_eq(weir_exec_tap(e, "a", "out", record, a, &err), 0, "%s", err.message);
    cr_assert_eq(weir_exec_tap(e, "b", "out", record, b, &err), 0, "%s", err.message);
    cr_assert_eq(weir_exec_tap(e, "s", "true", record, t, &err), 0, "%s", err.message);
    cr_assert_eq(weir_exec_tap(e, "a", "out", record, a2, &err), 0, "two taps on one port");
    cr_assert_eq(weir_exec_tap(e, "d", "big", record, big, &err), 0, "a dynamic port: %s", err.message);
    ts_inject(&ts, e, "a", NULL, "1", 1);
    ts_inject(&ts, e, "a", NULL, "2", 2);
    cr_assert_str_eq(ts_dump(a), "[1,2]", "once per emission, not once per edge (a fans out to 2)");
    cr_assert_str_eq(ts_dump(a2), "[1,2]");
    cr_assert_str_eq(ts_dump(b), "[1,2]", "a port with no edge");
    cr_assert_str_eq(ts_dump(t), "[2]", "only its own port");
    cr_assert_str_eq(ts_dump(big), "[]");
    weir_exec_untap(e, "a", "out", record, a);
    weir_exec_untap(e, "a", "out", record, a); /* again: a no-op */
    ts_inject(&ts, e, "a", NULL, "3", 3);
    cr_assert_str_eq(ts_dump(a), "[1,2]", "untapped");
    cr_assert_str_eq(ts_dump(a2), "[1,2,3]", "the other tap stays");
    cr_assert_str_eq(ts_dump(big), "[3]", "a dynamic port");
    /* refusals name what is wrong */
    cr_assert_eq(weir_exec_tap(e, "nope", "out", record, a, &err), WEIR_ENOTFOUND);
    cr_assert(strstr(err.message, "no node \"nope\""), "%s", err.message);
    cr_assert_eq(weir_exec_tap(e, "a", "nope", record, a, &err), WEIR_ENOTFOUND);
    cr_assert(strstr(err.message, "no output port \"nope\""), "%s", err.message);
    weir_exec_destroy(e); /* with taps left: freed */
    weir_graph_unref(g);
    json_decref(a);
    json_decref(a2);
    json_decref(b);
    json_decref(t);
    json_decref(big);
}
