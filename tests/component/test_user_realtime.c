/*
 * A user component end to end below the service: the core's descriptor,
 * the realtime runtime performing invoke effects through the component
 * host, real Node.js processes.  initialize at start, state kept in the
 * core across calls, cleanup's log reaching the runtime's log callback,
 * and the clear failure of a runtime that has no host.  The loop is stepped
 * until a condition holds.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <uv.h>

#include "weir/weir.h"

#define BOUND_NS (60ull * 1000 * 1000 * 1000)

static uv_loop_t loop;
static weir_host *host;
static weir_realtime *rt;
static weir_registry *reg;
static weir_user_component *comp;
static json_t *settled, *logs;

static void on_log(void *ud, const weir_effect *eff) {
    (void)ud;
    json_array_append_new(logs, json_pack("{s:s?,s:O}", "node", eff->node_id, "payload", eff->payload));
}

static void on_settled(void *ud, weir_exec *e, const weir_settled *s) {
    (void)ud;
    (void)e;
    json_array_append_new(settled, json_pack("{s:O?,s:i}", "outputs", s->outputs, "status", s->status));
}

#define COUNTER                                                                                                      \
    "{\"id\": \"acme.test.counter\", \"name\": \"Counter\", \"version\": \"1\","                                  \
    " \"ports\": {\"inputs\": [\"in\"], \"outputs\": [\"out\"]},"                                                  \
    " \"execution\": {\"type\": \"javascript\", \"source\": \"return {"                                          \
    " initialize(ctx) { ctx.setState('n', 10) },"                                                                 \
    " process: (ctx, port, v) => { const n = ctx.getState('n') + v; ctx.setState('n', n); ctx.emit('out', n) }," \
    " cleanup(ctx) { ctx.log('info', 'counter done at ' + ctx.getState('n')) } }\"}}"

static void setup_with(bool with_host) {
    cr_assert_eq(uv_loop_init(&loop), 0);
    settled = json_array();
    logs = json_array();
    if (with_host) {
        weir_host_options ho = {.pool_size = 2, .timeout_ms = 2000};
        cr_assert_eq(weir_host_create(&loop, &ho, &host, NULL), 0);
    }
    weir_realtime_options ro = {.log = on_log, .host = host};
    cr_assert_eq(weir_realtime_create(&loop, &ro, &rt), 0);
    cr_assert_eq(weir_registry_create(&reg), 0);
    json_t *def = json_loads(COUNTER, 0, NULL);
    weir_error err;
    cr_assert_eq(weir_user_component_create(def, &comp, &err), 0, "%s", err.message);
    json_decref(def);
    cr_assert_eq(weir_registry_add(reg, weir_user_component_descriptor(comp), NULL), 0);
}

static weir_exec *start(void) {
    weir_graph *g = NULL;
    const char *text = "{\"symbia\": \"1\", \"name\": \"g\", \"nodes\": [{\"id\": \"c\", \"component\": "
                       "\"acme.test.counter\"}], \"edges\": []}";
    weir_error err;
    cr_assert_eq(weir_graph_load_text(reg, text, strlen(text), NULL, &g, &err), 0, "%s", err.message);
    weir_shell sh = {0};
    weir_realtime_shell(rt, &sh);
    sh.settled = on_settled;
    weir_exec_options o = {.completion = WEIR_COMPLETION_NEVER};
    weir_exec *e;
    cr_assert_eq(weir_exec_create(g, &o, &sh, &e, &err), 0);
    weir_graph_unref(g);
    cr_assert_eq(weir_exec_start(e, weir_realtime_now(rt), &err), 0, "%s", err.message);
    return e;
}

static void finish(weir_exec *e) {
    weir_realtime_forget(rt, e);
    weir_exec_destroy(e);
    weir_realtime_destroy(rt);
    weir_host_destroy(host);
    host = NULL;
    weir_registry_destroy(reg);
    weir_user_component_unref(comp);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
    json_decref(settled);
    json_decref(logs);
}

/* Step the loop until cond(e) holds. */
static void run_until(weir_exec *e, bool (*cond)(weir_exec *e)) {
    uint64_t t0 = uv_hrtime();
    while (!cond(e)) {
        cr_assert_lt(uv_hrtime() - t0, BOUND_NS, "waited too long");
        uv_run(&loop, UV_RUN_ONCE);
    }
}

static bool idle(weir_exec *e) { return weir_exec_pending_effects(e) == 0; }
static bool cleanup_logged(weir_exec *e) {
    (void)e;
    return json_array_size(logs) > 0;
}

static const char *dump(json_t *v) {
    static char buf[4096];
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(buf, sizeof buf, "%s", t ? t : "(null)");
    free(t);
    return buf;
}

Test(user_realtime, calls_go_through_the_host_and_state_stays_in_the_core, .timeout = 120) {
    setup_with(true);
    weir_exec *e = start();
    run_until(e, idle); /* initialize answered */
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_RUNNING);
    for (int i = 1; i <= 3; i++) {
        weir_inject in = {.node = "c", .value = json_integer(i), .flags = WEIR_INJECT_OUTPUTS};
        weir_error err;
        cr_assert_eq(weir_exec_inject(e, &in, weir_realtime_now(rt), NULL, &err), 0, "%s", err.message);
        json_decref(in.value);
        run_until(e, idle);
    }
    cr_assert_eq(json_array_size(settled), 3);
    const int want[] = {11, 13, 16};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(json_integer_value(json_object_get(json_object_get(json_array_get(settled, i), "outputs"), "c:out")),
                     want[i], "%s", dump(settled));
    /* Stop: cleanup runs fire-and-forget; its log reaches the runtime's log. */
    cr_assert_eq(weir_exec_stop(e, weir_realtime_now(rt), NULL, NULL), 0);
    run_until(e, cleanup_logged);
    cr_assert_str_eq(dump(json_array_get(logs, 0)),
                     "{\"node\":\"c\",\"payload\":{\"level\":\"info\",\"message\":\"counter done at 16\"}}");
    finish(e);
}

Test(user_realtime, without_a_host_invoke_fails_saying_what_is_missing, .timeout = 60) {
    setup_with(false);
    weir_exec *e = start();
    run_until(e, idle);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_FAILED, "initialize failed and nothing handles the error port");
    cr_assert_str_eq(json_string_value(json_object_get(weir_exec_error(e), "message")),
                     "unhandled error in node \"c\": component acme.test.counter (initialize): user components need "
                     "the component host (weir serve runs one; a runtime made without weir_realtime_options.host "
                     "cannot run them)");
    finish(e);
}
