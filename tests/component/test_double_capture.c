/* The double-capture race of examples/double-capture (the Metz demo), run on
 * the virtual runtime through the library API.  A webhook flow and a poller
 * flow each read a payment and capture it while it is pending.  Scheduled on
 * the same tick, both reads are answered before either capture is sent, so
 * payment.json captures twice; payment-fixed.json sends both through one
 * symbia.state.once and captures once.  The same schedule gives the same
 * events byte for byte (SPEC §4.3).
 *
 * The payment service is the example's mocks.json made stateful here: once a
 * capture has been sent, later reads say "captured".  Reads answered before
 * that still said "pending" — which is the race. */
#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "shell.h"

#define DIR WEIR_SOURCE_DIR "/examples/double-capture/"

/* What the payment service saw, and its one piece of state. */
typedef struct service {
    weir_shell rt;        /* the virtual runtime's half, wrapped */
    weir_virtual *v;
    json_t *captured;     /* the mocks once a capture was sent: GET says "captured" */
    json_t *requests;     /* ["@<ms> METHOD url"] in request order */
    int captures;
} service;

static test_shell ts;
static service svc;

static void on_effect(void *ud, weir_exec *e, const weir_effect *eff) {
    service *s = ud;
    s->rt.effect(s->rt.effect_ud, e, eff); /* answered from the mocks as they are now */
    if (eff->kind != WEIR_EFFECT_HTTP) return;
    const char *method = json_string_value(json_object_get(eff->payload, "method"));
    const char *url = json_string_value(json_object_get(eff->payload, "url"));
    char line[512];
    snprintf(line, sizeof line, "@%lld %s %s", (long long)weir_virtual_now(s->v), method, url);
    json_array_append_new(s->requests, json_string(line));
    size_t n = strlen(url), tail = strlen("/capture");
    if (strcmp(method, "POST") == 0 && n > tail && strcmp(url + n - tail, "/capture") == 0) {
        if (s->captures++ == 0) {
            weir_error err;
            cr_assert_eq(weir_virtual_set_mocks(s->v, s->captured, &err), 0, "%s", err.message);
        }
    }
}

static void on_cancel(void *ud, weir_exec *e, uint64_t id) {
    service *s = ud;
    s->rt.cancel(s->rt.effect_ud, e, id);
}

static json_t *load(const char *file) {
    json_error_t je;
    json_t *doc = json_load_file(file, 0, &je);
    cr_assert_not_null(doc, "%s:%d: %s", file, je.line, je.text);
    return doc;
}

/* mocks.json, and the same with every GET answering status "captured". */
static void load_mocks(json_t **pending, json_t **captured) {
    *pending = load(DIR "mocks.json");
    *captured = json_deep_copy(*pending);
    size_t i;
    json_t *m;
    int gets = 0;
    json_array_foreach(*captured, i, m) {
        if (strcmp(json_string_value(json_object_get(json_object_get(m, "match"), "method")), "GET") != 0) continue;
        json_t *body = json_object_get(json_object_get(m, "response"), "body");
        cr_assert_str_eq(json_string_value(json_object_get(body, "status")), "pending", "mocks.json reads pending");
        json_object_set_new(body, "status", json_string("captured"));
        gets++;
    }
    cr_assert_eq(gets, 1, "mocks.json has one GET mock");
}

typedef struct outcome {
    char *events;     /* the event stream, timing fields dropped */
    char *requests;   /* what the service saw, in order */
    int captures;     /* capture POSTs sent */
    size_t captured;  /* outputs of the "captured" node */
    size_t duplicates; /* outputs of "already-captured" (fixed graph) */
    size_t rejected;  /* reads that were no longer pending */
} outcome;

static size_t outputs_of(const char *node, const char *port) {
    size_t n = 0, i;
    json_t *ev;
    json_array_foreach(ts.events, i, ev) {
        json_t *d = json_object_get(ev, "data");
        if (strcmp(json_string_value(json_object_get(ev, "event")), "output") == 0 &&
            strcmp(json_string_value(json_object_get(d, "nodeId")), node) == 0 &&
            strcmp(json_string_value(json_object_get(d, "port")), port) == 0)
            n++;
    }
    return n;
}

/* Run `graph` with the webhook inject at tick `webhook_at` and the poller's
 * at `poller_at`, until nothing is pending. */
static outcome run(const char *graph, uint64_t webhook_at, uint64_t poller_at) {
    ts_init(&ts, true);
    json_t *mocks;
    memset(&svc, 0, sizeof svc);
    load_mocks(&mocks, &svc.captured);
    svc.requests = json_array();
    weir_virtual_options vo = {.mocks = mocks};
    weir_error err;
    cr_assert_eq(weir_virtual_create(&vo, &svc.v, &err), 0, "%s", err.message);
    json_decref(mocks);
    weir_virtual_shell(svc.v, &ts.sh);
    svc.rt = ts.sh;
    ts.sh.effect_ud = &svc;
    ts.sh.effect = on_effect;
    ts.sh.cancel = on_cancel;

    json_t *doc = load(graph);
    weir_graph *g = NULL;
    cr_assert_eq(weir_graph_load(ts.reg, doc, NULL, &g, &err), 0, "%s", err.message);
    json_decref(doc);
    weir_exec_options o = {.id = "race", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1};
    weir_exec *e = NULL;
    cr_assert_eq(weir_exec_create(g, &o, &ts.sh, &e, &err), 0, "%s", err.message);
    weir_graph_unref(g);
    weir_virtual_bind(svc.v, e);
    cr_assert_eq(weir_exec_start(e, weir_virtual_now(svc.v), &err), 0, "%s", err.message);

    json_t *payment = json_pack("{s:s}", "paymentId", "pay_1");
    weir_inject wh = {.node = "webhook", .value = payment}, po = {.node = "poller", .value = payment};
    cr_assert_eq(weir_virtual_schedule(svc.v, &wh, webhook_at, &err), 0, "%s", err.message);
    cr_assert_eq(weir_virtual_schedule(svc.v, &po, poller_at, &err), 0, "%s", err.message);
    json_decref(payment);
    bool idle = false;
    cr_assert_eq(weir_virtual_run(svc.v, 0, &idle, &err), 0, "%s", err.message);
    cr_assert(idle);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_RUNNING, "no unhandled error: %s", ts_dump(weir_exec_error(e)));

    outcome out = {.events = ts_events_text(&ts), .captures = svc.captures,
                   .captured = outputs_of("captured", "out"), .duplicates = outputs_of("already-captured", "out"),
                   .rejected = outputs_of("webhook-pending", "rejected") + outputs_of("poller-pending", "rejected")};
    out.requests = json_dumps(svc.requests, JSON_COMPACT);
    weir_exec_destroy(e);
    weir_virtual_destroy(svc.v);
    json_decref(svc.captured);
    json_decref(svc.requests);
    ts_fini(&ts);
    return out;
}

static void outcome_free(outcome *o) {
    free(o->events);
    free(o->requests);
}

#define READ "http://payments.test/payments/pay_1"
#define CAPTURE "http://payments.test/payments/pay_1/capture"

Test(double_capture, lined_up_the_plain_graph_captures_twice) {
    outcome o = run(DIR "payment.json", 10, 10);
    cr_assert_eq(o.captures, 2, "%s", o.requests);
    cr_assert_eq(o.captured, 2);
    cr_assert_eq(o.rejected, 0);
    /* both reads go out at tick 10 and come back "pending" at 30 (latency
     * 20), before either capture is sent */
    cr_assert_str_eq(o.requests, "[\"@10 GET " READ "\",\"@10 GET " READ "\",\"@30 POST " CAPTURE "\",\"@30 POST " CAPTURE
                                 "\"]");
    outcome_free(&o);
}

Test(double_capture, staggered_the_plain_graph_captures_once) {
    /* the poller reads after the webhook's capture went out: it sees
     * "captured" and stops — the bug needs the lined-up schedule */
    outcome o = run(DIR "payment.json", 10, 100);
    cr_assert_eq(o.captures, 1, "%s", o.requests);
    cr_assert_eq(o.captured, 1);
    cr_assert_eq(o.rejected, 1);
    outcome_free(&o);
}

Test(double_capture, lined_up_the_fixed_graph_captures_once) {
    outcome o = run(DIR "payment-fixed.json", 10, 10);
    cr_assert_eq(o.captures, 1, "%s", o.requests);
    cr_assert_eq(o.captured, 1);
    cr_assert_eq(o.duplicates, 1, "the poller's capture went to duplicate");
    cr_assert_str_eq(o.requests, "[\"@10 GET " READ "\",\"@10 GET " READ "\",\"@30 POST " CAPTURE "\"]",
                     "both still read pending; only one capture is sent");
    cr_assert(strstr(o.events, "\"capturedBy\":\"webhook\""), "the webhook, first in request order, won");
    outcome_free(&o);
    o = run(DIR "payment-fixed.json", 10, 100);
    cr_assert_eq(o.captures, 1, "%s", o.requests);
    cr_assert_eq(o.duplicates, 0, "staggered, the poller stops at its read");
    outcome_free(&o);
}

Test(double_capture, each_run_twice_gives_the_same_events_byte_for_byte) {
    const char *graphs[] = {DIR "payment.json", DIR "payment-fixed.json"};
    for (size_t i = 0; i < 2; i++) {
        outcome a = run(graphs[i], 10, 10), b = run(graphs[i], 10, 10);
        cr_assert_gt(strlen(a.events), 1000, "a real stream: %s", a.events);
        cr_assert(strstr(a.events, "\"port:emit\""), "%s", a.events);
        cr_assert_str_eq(a.events, b.events, "%s", graphs[i]);
        cr_assert_str_eq(a.requests, b.requests);
        outcome_free(&a);
        outcome_free(&b);
    }
}

Test(double_capture, the_cli_validates_both_graphs) {
    const char *graphs[] = {"payment.json", "payment-fixed.json"};
    for (size_t i = 0; i < 2; i++) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "%s validate %s%s", WEIR_BINARY, DIR, graphs[i]);
        proc_result r = proc_run(cmd);
        cr_assert_eq(r.status, 0, "%s: %s%s", cmd, r.out, r.err);
        cr_assert(strstr(r.out, "valid"), "%s", r.out);
        proc_free(&r);
    }
}
