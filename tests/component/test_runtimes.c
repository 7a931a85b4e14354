/* The runtime registry (SPEC §4.5) through the public API: an embedder's own
 * runtime registered next to the built-ins, selection with fallback to the
 * default, the five log lines at the moments they describe, and switching
 * a running execution — timers keep the time they had left, a request in
 * flight fails instead of being performed twice. */
#include <stdlib.h>
#include <string.h>

#include "shell.h"

static test_shell ts;
static json_t *log_lines;

static void on_log(void *ud, const char *line) {
    (void)ud;
    json_array_append_new(log_lines, json_string(line));
}

/* The embedder's runtime: records what it is asked, reads a settable clock. */
typedef struct recorder {
    int64_t clock;
    json_t *effects; /* [{kind, payload, requested}] */
    int destroyed;
    weir_exec *bound;
} recorder;

static recorder rec;

static void rec_effect(void *ud, weir_exec *e, const weir_effect *eff) {
    (void)e;
    recorder *r = ud;
    if (eff->kind == WEIR_EFFECT_LOG) return;
    json_array_append_new(r->effects, json_pack("{s:s,s:O,s:I,s:I}", "kind", weir_effect_kind_name(eff->kind),
                                                "payload", eff->payload, "requested", (json_int_t)eff->requested_ms,
                                                "id", (json_int_t)eff->id));
}
static int64_t rec_now(void *ud) { return ((recorder *)ud)->clock; }
static void rec_bind(void *ud, weir_exec *e) { ((recorder *)ud)->bound = e; }
static void rec_destroy(void *ud, weir_exec *e) {
    recorder *r = ud;
    r->destroyed++;
    cr_assert_eq(e, r->bound, "the destroyer is told which execution it served");
}

static int make_recorder(void *ud, json_t *options, weir_runtime *out, weir_error *err) {
    if (json_is_true(json_object_get(options, "refuse"))) {
        snprintf(err->message, sizeof err->message, "the recorder refuses");
        err->code = WEIR_EINVAL;
        return WEIR_EINVAL;
    }
    out->shell.effect_ud = ud;
    out->shell.effect = rec_effect;
    out->now_ms = rec_now;
    out->bind = rec_bind;
    out->destroy = rec_destroy;
    return 0;
}

static weir_runtimes *rts;

static void setup(void) {
    ts_init(&ts, true);
    log_lines = json_array();
    memset(&rec, 0, sizeof rec);
    rec.effects = json_array();
    weir_error err;
    cr_assert_eq(weir_runtimes_create(NULL, on_log, NULL, &rts), 0);
    cr_assert_eq(weir_runtimes_add_builtins(rts, NULL, 10, &err), 0, "%s", err.message);
    cr_assert_eq(weir_runtimes_add(rts, "recorder", make_recorder, &rec, &err), 0, "%s", err.message);
}

static void teardown(void) {
    weir_runtimes_destroy(rts);
    json_decref(rec.effects);
    json_decref(log_lines);
    ts_fini(&ts);
}
TestSuite(runtimes, .init = setup, .fini = teardown);

static const char *lines(void) { return ts_dump(log_lines); }

#define NODE(id, comp, cfg) "{\"id\":\"" id "\",\"component\":\"" comp "\",\"config\":" cfg "}"
#define E(a, ap, b, bp) \
    "{\"source\":{\"node\":\"" a "\",\"port\":\"" ap "\"},\"target\":{\"node\":\"" b "\",\"port\":\"" bp "\"}}"
#define GRAPH(nodes, edges) "{\"symbia\":\"1.0\",\"name\":\"t\",\"nodes\":[" nodes "],\"edges\":[" edges "]}"
#define PT(id) NODE(id, "symbia.core.passthrough", "{}")
static const char *DELAY100 = GRAPH(PT("a") "," NODE("d", "symbia.core.delay", "{\"delayMs\":100}") "," PT("z"),
                                    E("a", "out", "d", "in") "," E("d", "out", "z", "in"));
static const char *HTTP = GRAPH(
    NODE("get", "symbia.io.http-request", "{\"url\":\"http://payments.test/p/{{value}}\"}") "," PT("ok") "," PT("bad"),
    E("get", "out", "ok", "in") "," E("get", "error", "bad", "in"));

/* An execution on runtime rt (made by the registry). */
static weir_exec *start_on(weir_runtime *rt, const char *graph) {
    weir_graph *g = ts_graph(&ts, graph);
    weir_shell sh = ts.sh;
    sh.effect_ud = rt->shell.effect_ud;
    sh.effect = rt->shell.effect;
    sh.cancel = rt->shell.cancel;
    sh.clock_ns = rt->shell.clock_ns;
    weir_exec_options o = {.id = "x1", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1, .runtime = rt->name};
    weir_exec *e;
    weir_error err;
    cr_assert_eq(weir_exec_create(g, &o, &sh, &e, &err), 0, "%s", err.message);
    weir_graph_unref(g);
    if (rt->bind) rt->bind(rt->shell.effect_ud, e);
    cr_assert_eq(weir_exec_start(e, rt->now_ms(rt->shell.effect_ud), &err), 0, "%s", err.message);
    return e;
}

static void switch_to(weir_exec *e, weir_runtime *rt, const char *name) {
    char from[32];
    snprintf(from, sizeof from, "%s", rt->name);
    int64_t old_now = rt->now_ms(rt->shell.effect_ud);
    weir_runtimes_release(rts, rt, e);
    weir_error err;
    cr_assert_eq(weir_runtimes_make(rts, name, NULL, rt, &err), 0, "%s", err.message);
    if (rt->bind) rt->bind(rt->shell.effect_ud, e);
    cr_assert_eq(weir_exec_switch_runtime(e, &rt->shell, old_now, rt->now_ms(rt->shell.effect_ud), from, rt->name,
                                          &err),
                 0, "%s", err.message);
}

Test(runtimes, an_embedder_registers_its_own_and_it_is_selected_by_name) {
    weir_runtime rt;
    weir_error err;
    cr_assert(weir_runtimes_has(rts, "recorder"));
    cr_assert(weir_runtimes_has(rts, "virtual"));
    cr_assert(!weir_runtimes_has(rts, "realtime"), "no loop given: no realtime");
    cr_assert_eq(weir_runtimes_make(rts, "recorder", NULL, &rt, &err), 0, "%s", err.message);
    cr_assert_str_eq(rt.name, "recorder");
    cr_assert_str_eq(lines(), "[\"Requesting runtime: recorder\",\"Loaded runtime from registry: recorder\","
                              "\"Successfully initialized runtime: recorder\"]");
    weir_exec *e = start_on(&rt, DELAY100);
    cr_assert_eq(ts_inject(&ts, e, "a", NULL, "1", 0), 0);
    cr_assert_eq(json_array_size(rec.effects), 1, "the recorder performs the timer");
    weir_runtimes_release(rts, &rt, e);
    cr_assert_eq(rec.destroyed, 1);
    cr_assert_str_eq(json_string_value(json_array_get(log_lines, 3)), "Destroying runtime: recorder");
    cr_assert_null(rt.name, "released: cleared");
    weir_runtimes_release(rts, &rt, e); /* twice: harmless */
    cr_assert_eq(rec.destroyed, 1);
    weir_exec_destroy(e);
    cr_assert_eq(weir_runtimes_add(rts, "recorder", make_recorder, &rec, &err), WEIR_EINVAL);
    cr_assert(strstr(err.message, "registered already"), "%s", err.message);
    cr_assert_eq(weir_runtimes_add(rts, "", make_recorder, &rec, &err), WEIR_EINVAL);
}

Test(runtimes, an_unknown_name_falls_back_to_the_default_and_says_so) {
    weir_runtimes *r2;
    cr_assert_eq(weir_runtimes_create("recorder", on_log, NULL, &r2), 0);
    weir_error err;
    cr_assert_eq(weir_runtimes_add(r2, "recorder", make_recorder, &rec, &err), 0);
    cr_assert_str_eq(weir_runtimes_default(r2), "recorder");
    weir_runtime rt;
    cr_assert_eq(weir_runtimes_make(r2, "sundial", NULL, &rt, &err), 0, "%s", err.message);
    cr_assert_str_eq(rt.name, "recorder");
    cr_assert_str_eq(lines(), "[\"Requesting runtime: sundial\",\"Unknown runtime sundial, falling back to default: "
                              "recorder\",\"Successfully initialized runtime: recorder\"]");
    json_array_clear(log_lines);
    cr_assert_eq(weir_runtimes_make(r2, NULL, NULL, &rt, &err), 0, "NULL: the default");
    cr_assert_str_eq(json_string_value(json_array_get(log_lines, 0)), "Requesting runtime: recorder");
    weir_runtimes_destroy(r2);
    /* a registry whose default is not registered says so */
    cr_assert_eq(weir_runtimes_create("nowhere", NULL, NULL, &r2), 0);
    cr_assert_eq(weir_runtimes_make(r2, "x", NULL, &rt, &err), WEIR_ENOTFOUND);
    cr_assert(strstr(err.message, "\"nowhere\" is not registered"), "%s", err.message);
    weir_runtimes_destroy(r2);
}

Test(runtimes, a_factory_that_fails_initializes_nothing) {
    json_t *opts = json_pack("{s:b}", "refuse", 1);
    weir_runtime rt;
    weir_error err;
    cr_assert_eq(weir_runtimes_make(rts, "recorder", opts, &rt, &err), WEIR_EINVAL);
    cr_assert_str_eq(err.message, "the recorder refuses");
    cr_assert_null(rt.name);
    cr_assert_null(strstr(lines(), "Successfully"), "%s", lines());
    json_decref(opts);
    json_t *bad = json_pack("{s:i}", "tickMs", 0);
    cr_assert_eq(weir_runtimes_make(rts, "virtual", bad, &rt, &err), WEIR_EINVAL);
    cr_assert(strstr(err.message, "tickMs"), "%s", err.message);
    json_decref(bad);
}

Test(runtimes, check_makes_and_destroys_quietly) {
    weir_error err;
    json_t *bad = json_pack("{s:i}", "tickMs", 0);
    cr_assert_eq(weir_runtimes_check(rts, "virtual", bad, &err), WEIR_EINVAL);
    cr_assert(strstr(err.message, "tickMs"), "%s", err.message);
    json_decref(bad);
    cr_assert_eq(weir_runtimes_check(rts, "recorder", NULL, &err), 0);
    cr_assert_eq(rec.destroyed, 1, "made and destroyed at once");
    cr_assert_eq(weir_runtimes_check(rts, "sundial", NULL, &err), WEIR_ENOTFOUND,
                 "an unknown name means the default, and this registry's (realtime) is not registered");
    cr_assert_eq(json_array_size(log_lines), 0, "none of the five lines: nothing was switched");
}

Test(runtimes, switching_carries_a_timer_over_with_the_time_it_had_left) {
    weir_runtime rt;
    weir_error err;
    cr_assert_eq(weir_runtimes_make(rts, "virtual", NULL, &rt, &err), 0);
    cr_assert_not_null(rt.virt);
    weir_exec *e = start_on(&rt, DELAY100);
    cr_assert_eq(ts_inject(&ts, e, "a", NULL, "5", 0), 0);
    cr_assert_eq(weir_virtual_advance(rt.virt, 30, &err), 0); /* 3 ticks of 10 ms */
    rec.clock = 5000;
    json_array_clear(log_lines);
    switch_to(e, &rt, "recorder");
    cr_assert_str_eq(lines(), "[\"Destroying runtime: virtual\",\"Requesting runtime: recorder\",\"Loaded runtime "
                              "from registry: recorder\",\"Successfully initialized runtime: recorder\"]");
    cr_assert_eq(json_array_size(rec.effects), 1, "%s", ts_dump(rec.effects));
    json_t *t = json_array_get(rec.effects, 0);
    cr_assert_str_eq(ts_dump(json_object_get(t, "payload")), "{\"delayMs\":70}");
    cr_assert_eq(json_integer_value(json_object_get(t, "requested")), 5000);
    json_t *x = weir_exec_json(e);
    cr_assert_str_eq(json_string_value(json_object_get(x, "runtime")), "recorder");
    json_decref(x);
    /* the recorder fires it: the flow goes on */
    uint64_t id = (uint64_t)json_integer_value(json_object_get(t, "id"));
    cr_assert_eq(weir_exec_resolve(e, id, NULL, NULL, 5070, &err), 0, "%s", err.message);
    cr_assert_str_eq(ts_dump(json_object_get(ts_last_settled(&ts), "outputs")), "{\"z:out\":5}");
    weir_runtimes_release(rts, &rt, e);
    weir_exec_destroy(e);
}

Test(runtimes, a_request_in_flight_fails_at_a_switch_and_is_not_performed_twice) {
    weir_runtime rt;
    weir_error err;
    cr_assert_eq(weir_runtimes_make(rts, "recorder", NULL, &rt, &err), 0);
    weir_exec *e = start_on(&rt, HTTP);
    cr_assert_eq(ts_inject(&ts, e, "get", NULL, "1", 0), 0);
    cr_assert_eq(json_array_size(rec.effects), 1);
    switch_to(e, &rt, "virtual");
    cr_assert_eq(weir_virtual_pending(rt.virt), 0, "the virtual runtime was not asked to perform it again");
    cr_assert_eq(json_array_size(rec.effects), 1);
    json_t *bad = json_object_get(json_object_get(ts_last_settled(&ts), "outputs"), "bad:out");
    cr_assert(strstr(ts_dump(bad), "in flight when the execution switched from the recorder runtime to the virtual "
                                   "runtime"),
              "%s", ts_dump(ts_last_settled(&ts)));
    /* a new request goes to the new runtime */
    cr_assert_eq(ts_inject(&ts, e, "get", NULL, "2", weir_virtual_now(rt.virt)), 0);
    cr_assert_eq(weir_virtual_pending(rt.virt), 1);
    weir_exec_destroy(e); /* first: it cancels its pending request through the runtime */
    weir_runtimes_release(rts, &rt, NULL);
}

Test(runtimes, a_finished_execution_has_no_runtime_to_switch) {
    weir_runtime rt;
    weir_error err;
    cr_assert_eq(weir_runtimes_make(rts, "recorder", NULL, &rt, &err), 0);
    weir_exec *e = start_on(&rt, DELAY100);
    cr_assert_eq(weir_exec_stop(e, 0, NULL, &err), 0);
    cr_assert_eq(weir_exec_switch_runtime(e, &rt.shell, 0, 0, "recorder", "recorder", &err), WEIR_ESTATE);
    cr_assert(strstr(err.message, "cancelled"), "%s", err.message);
    weir_runtimes_release(rts, &rt, e);
    weir_exec_destroy(e);
}

Test(runtimes, shell_events_join_the_numbered_stream_only_while_listened_to) {
    weir_runtime rt;
    weir_error err;
    cr_assert_eq(weir_runtimes_make(rts, "virtual", NULL, &rt, &err), 0);
    weir_exec *e = start_on(&rt, DELAY100);
    size_t before = json_array_size(ts.events);
    cr_assert_eq(weir_virtual_tick(rt.virt, &err), 0);
    json_t *last = json_array_get(ts.events, json_array_size(ts.events) - 1);
    cr_assert_eq(json_array_size(ts.events), before + 1);
    cr_assert_str_eq(json_string_value(json_object_get(last, "event")), "time:advanced");
    cr_assert_str_eq(ts_dump(json_object_get(last, "data")), "{\"executionId\":\"x1\",\"tick\":1,\"time\":10}");
    uint64_t seq = weir_exec_seq(e);
    cr_assert_eq((uint64_t)json_integer_value(json_object_get(last, "seq")), seq);
    weir_exec_listen(e, false);
    cr_assert_eq(weir_virtual_tick(rt.virt, &err), 0);
    cr_assert_eq(json_array_size(ts.events), before + 1, "quiet: nothing built");
    cr_assert_eq(weir_exec_seq(e), seq);
    weir_exec_destroy(e);
    weir_runtimes_release(rts, &rt, NULL);
}
