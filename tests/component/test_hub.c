/* The event hub (SPEC §5) inside a real service on a loop, with fake
 * clients standing in for sockets: subscriptions, since/resync, the quiet
 * and linger rules, slow-subscriber cut-off, throttled metrics:update,
 * acknowledgements of every command. */
#include <criterion/criterion.h>
#include <string.h>

#include "rawnet.h"
#include "service/service_internal.h"

/* A fake connection: records what the hub sends it. */
typedef struct fake {
    json_t *got;    /* [{event, data}] in order; acks as {event: "ack", ack, data} */
    size_t backlog; /* what it claims is queued */
    int closed;
} fake;

static void record(fake *f, const char *name, json_int_t ack, const char *json, size_t len) {
    json_error_t e;
    json_t *data = json_loadb(json, len, 0, &e);
    cr_assert_not_null(data, "the hub sent invalid JSON: %.*s", (int)len, json);
    json_t *item = json_pack("{s:s,s:o}", "event", name, "data", data);
    if (ack >= 0) json_object_set_new(item, "ack", json_integer(ack));
    json_array_append_new(f->got, item);
}
static int f_send(void *conn, svc_evmsg *m, bool whole) {
    (void)whole;
    record(conn, m->name, -1, m->data->data, m->data->len);
    return 0;
}
static int f_emit(void *conn, const char *name, const char *json, size_t len) {
    record(conn, name, -1, json, len);
    return 0;
}
static int f_ack(void *conn, int64_t id, const char *json, size_t len) {
    record(conn, "ack", id, json, len);
    return 0;
}
static size_t f_backlog(const void *conn) { return ((const fake *)conn)->backlog; }
static void f_close(void *conn) { ((fake *)conn)->closed++; }
static const svc_client_ops FAKE = {"fake", f_send, f_emit, f_ack, f_backlog, NULL, f_close};

static uv_loop_t loop;
static weir_service *svc;

static void start(weir_service_config *c) {
    uv_loop_init(&loop);
    c->port = 0;
    c->log_level = "error";
    weir_error err;
    cr_assert_eq(weir_service_start(&loop, c, &svc, &err), 0, "%s", err.message);
}

static void setup(void) {
    weir_service_config c;
    weir_service_config_defaults(&c);
    start(&c);
}

static void teardown(void) {
    if (!svc) return;
    weir_service_destroy(svc);
    svc = NULL;
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0, "every handle closed");
}

TestSuite(hub, .init = setup, .fini = teardown);

static const char *CHAIN = "{\"symbia\":\"1.0\",\"name\":\"chain\",\"nodes\":["
                           "{\"id\":\"a\",\"component\":\"symbia.core.passthrough\"},"
                           "{\"id\":\"b\",\"component\":\"symbia.core.map\",\"config\":{\"expression\":\"value*2\"}}],"
                           "\"edges\":[{\"source\":{\"node\":\"a\",\"port\":\"out\"},"
                           "\"target\":{\"node\":\"b\",\"port\":\"in\"}}]}";

static svc_graph *graph(void) {
    json_error_t je;
    json_t *doc = json_loads(CHAIN, 0, &je);
    svc_graph *g;
    weir_error err;
    cr_assert_eq(svc_graph_add(svc, doc, &g, NULL, &err), 0, "%s", err.message);
    json_decref(doc);
    return g;
}

static svc_exec *running(void) {
    json_t *o = json_pack("{s:s}", "completion", "never");
    svc_exec *x;
    weir_error err;
    cr_assert_eq(svc_exec_start(svc, graph(), o, NULL, &x, &err), 0, "%s", err.message);
    json_decref(o);
    return x;
}

typedef struct client {
    fake f;
    svc_client *c;
} client;

static void connect_client(client *cl) {
    cl->f = (fake){.got = json_array()};
    cl->c = svc_client_new(&svc->hub, &FAKE, &cl->f);
    cr_assert_not_null(cl->c);
}

static void disconnect(client *cl) {
    svc_client_gone(cl->c);
    cl->c = NULL;
}

static void free_client(client *cl) {
    if (cl->c) disconnect(cl);
    json_decref(cl->f.got);
}

/* Send a command with an ack; return the ack's data (borrowed from the log). */
static json_t *call(client *cl, const char *name, const char *data_json) {
    json_error_t je;
    json_t *d = json_loads(data_json, 0, &je);
    cr_assert_not_null(d, "%s", data_json);
    size_t before = json_array_size(cl->f.got);
    svc_client_command(cl->c, name, d, 7);
    json_decref(d);
    for (size_t i = before; i < json_array_size(cl->f.got); i++) {
        json_t *it = json_array_get(cl->f.got, i);
        /* (an ack of an earlier command may come first: a run ends on pause) */
        if (strcmp(json_string_value(json_object_get(it, "event")), "ack") == 0 &&
            json_integer_value(json_object_get(it, "ack")) == 7)
            return json_object_get(it, "data");
    }
    cr_assert_fail("%s: no ack", name);
    return NULL;
}

static void inject(svc_exec *x, int v) {
    json_t *val = json_integer(v);
    weir_inject in = {.node = "a", .value = val};
    weir_error err;
    cr_assert_eq(weir_exec_inject(x->e, &in, svc_now(svc), NULL, &err), 0, "%s", err.message);
    json_decref(val);
}

static size_t count(client *cl, const char *name) {
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(cl->f.got); i++)
        n += strcmp(json_string_value(json_object_get(json_array_get(cl->f.got, i), "event")), name) == 0;
    return n;
}

/* The data of the last event `name`, or NULL. */
static json_t *last(client *cl, const char *name) {
    for (size_t i = json_array_size(cl->f.got); i-- > 0;) {
        json_t *it = json_array_get(cl->f.got, i);
        if (strcmp(json_string_value(json_object_get(it, "event")), name) == 0) return json_object_get(it, "data");
    }
    return NULL;
}

static json_int_t seq_of(json_t *data) { return json_integer_value(json_object_get(data, "seq")); }

Test(hub, no_event_is_built_while_nobody_listens) {
    svc_exec *x = running();
    inject(x, 1);
    cr_assert_eq(svc->hub.events_built, 0);
    client cl;
    connect_client(&cl);
    json_t *snap = call(&cl, "execution:subscribe", "{}");
    cr_assert_not_null(json_object_get(snap, "error"), "executionId is required");
    char body[128];
    snprintf(body, sizeof body, "{\"executionId\":\"%s\"}", x->id);
    snap = call(&cl, "execution:subscribe", body);
    cr_assert_str_eq(json_string_value(json_object_get(snap, "state")), "running");
    inject(x, 2);
    cr_assert_gt(svc->hub.events_built, 0);
    cr_assert_eq(count(&cl, "port:emit"), 1);
    cr_assert_eq(json_integer_value(json_object_get(last(&cl, "port:emit"), "value")), 2);
    /* explicit unsubscribe: quiet at once */
    json_t *un = call(&cl, "execution:unsubscribe", body);
    cr_assert(json_is_true(json_object_get(un, "unsubscribed")));
    uint64_t built = svc->hub.events_built;
    inject(x, 3);
    cr_assert_eq(svc->hub.events_built, built, "quiet after the last unsubscribe");
    free_client(&cl);
}

Test(hub, since_replays_from_history_and_resyncs_when_too_old) {
    svc_exec *x = running();
    client a, b;
    connect_client(&a);
    connect_client(&b);
    char body[240];
    snprintf(body, sizeof body, "{\"executionId\":\"%s\"}", x->id);
    call(&a, "execution:subscribe", body);
    inject(x, 1);
    json_int_t seen = seq_of(last(&a, "output")); /* the last event of inject 1 */
    disconnect(&a); /* lingers: the cheap kinds still built and kept */
    inject(x, 2);
    inject(x, 3);
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"since\":%lld,\"events\":[\"output\",\"execution:*\"]}",
             x->id, (long long)seen);
    json_t *snap = call(&b, "execution:subscribe", body);
    cr_assert_gt(seq_of(snap), seen);
    /* b got the ack, then every output after `seen`, gap-free */
    json_int_t expect = seen + 1;
    size_t values = 0;
    for (size_t i = 0; i < json_array_size(b.f.got); i++) {
        json_t *it = json_array_get(b.f.got, i);
        const char *ev = json_string_value(json_object_get(it, "event"));
        if (strcmp(ev, "ack") == 0) continue;
        cr_assert_str_eq(ev, "output", "only the kinds it asked for");
        cr_assert_eq(seq_of(json_object_get(it, "data")), expect++, "%s", ev);
        cr_assert_eq(json_integer_value(json_object_get(json_object_get(it, "data"), "value")), 2 * (json_int_t)(values + 2));
        values++;
    }
    cr_assert_eq(values, 2, "the two missed outputs");
    cr_assert_eq(expect - 1, seq_of(snap));
    cr_assert_eq(count(&b, "resync"), 0);
    /* from the future, or older than the history: resync */
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"since\":%lld,\"events\":[\"output\"]}", x->id,
             (long long)seq_of(snap) + 5);
    call(&b, "execution:subscribe", body);
    cr_assert_eq(count(&b, "resync"), 1);
    cr_assert_eq(seq_of(last(&b, "resync")), seq_of(snap));
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"since\":-1}", x->id);
    cr_assert_not_null(json_object_get(call(&b, "execution:subscribe", body), "error"));
    free_client(&a);
    free_client(&b);
}

/* The lingering feed kept no per-hop kinds: a reconnect that wants them
 * gets a resync naming the kind, never a silent gap; and nothing was built
 * per hop while nobody watched. */
Test(hub, the_linger_builds_no_per_hop_events_and_a_reconnect_wanting_them_resyncs) {
    svc_exec *x = running();
    client a, b;
    connect_client(&a);
    connect_client(&b);
    char body[200];
    snprintf(body, sizeof body, "{\"executionId\":\"%s\"}", x->id);
    call(&a, "execution:subscribe", body);
    inject(x, 1);
    json_int_t seen = seq_of(last(&a, "output"));
    disconnect(&a);
    cr_assert_eq(weir_exec_listened(x->e) & WEIR_EV_PER_HOP, 0, "lingering: no per-hop kinds");
    uint64_t built = svc->hub.events_built;
    for (int i = 0; i < 10; i++) inject(x, i);
    cr_assert_eq(svc->hub.events_built - built, 10, "one output per inject, nothing per hop");
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"since\":%lld}", x->id, (long long)seen);
    call(&b, "execution:subscribe", body);
    cr_assert_eq(count(&b, "resync"), 1);
    cr_assert(strstr(json_string_value(json_object_get(last(&b, "resync"), "reason")), "port:emit") ||
                  strstr(json_string_value(json_object_get(last(&b, "resync"), "reason")), "component:invoked"),
              "names the kind");
    cr_assert_eq(count(&b, "output"), 0, "no partial replay before the resync");
    inject(x, 5);
    cr_assert_eq(count(&b, "port:emit"), 1, "all kinds from now on");
    free_client(&a);
    free_client(&b);
}

/* A subscriber is sent only the kinds it asked for; the execution builds the
 * union; a metrics-only subscriber costs nothing per hop. */
Test(hub, events_by_interest) {
    svc_exec *x = running();
    client m, o, all;
    connect_client(&m);
    connect_client(&o);
    connect_client(&all);
    char body[240];
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"events\":[\"metrics:update\"]}", x->id);
    json_t *snap = call(&m, "execution:subscribe", body);
    cr_assert_null(json_object_get(snap, "error"));
    cr_assert_eq(weir_exec_listened(x->e), 0u, "metrics:update is the hub's own: the core builds nothing");
    uint64_t built = svc->hub.events_built;
    for (int i = 0; i < 20; i++) inject(x, i);
    cr_assert_eq(svc->hub.events_built, built, "a metrics-only subscriber: no event built per hop");
    RN_WAIT_UNTIL(&loop, count(&m, "metrics:update") > 0);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(last(&m, "metrics:update"), "metrics"),
                                                    "messagesProcessed")),
                 40);
    /* globs: execution:* and output */
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"events\":[\"execution:*\",\"out*\"]}", x->id);
    call(&o, "execution:subscribe", body);
    cr_assert_eq(weir_exec_listened(x->e), weir_event_mask("execution:*") | WEIR_EV_OUTPUT);
    inject(x, 1);
    cr_assert_eq(count(&o, "output"), 1);
    cr_assert_eq(count(&o, "port:emit") + count(&o, "component:invoked") + count(&o, "metrics:update"), 0);
    /* a wider subscriber joins: it gets everything, the narrow ones still only theirs */
    snprintf(body, sizeof body, "{\"executionId\":\"%s\"}", x->id);
    call(&all, "execution:subscribe", body);
    cr_assert_eq(weir_exec_listened(x->e), WEIR_EV_ALL & ~WEIR_EV_METRICS);
    inject(x, 2);
    cr_assert_eq(count(&all, "port:emit"), 1);
    cr_assert_eq(count(&all, "component:invoked"), 2);
    cr_assert_eq(count(&all, "output"), 1);
    cr_assert_eq(count(&o, "output"), 2);
    cr_assert_eq(count(&o, "port:emit") + count(&o, "component:invoked"), 0, "narrow stays narrow");
    cr_assert_eq(count(&m, "port:emit") + count(&m, "output"), 0);
    /* the wide one leaves: back to the union of the rest */
    call(&all, "execution:unsubscribe", body);
    cr_assert_eq(weir_exec_listened(x->e), weir_event_mask("execution:*") | WEIR_EV_OUTPUT);
    /* a second subscribe replaces the kinds */
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"events\":[\"output\"]}", x->id);
    call(&o, "execution:subscribe", body);
    call(&m, "execution:unsubscribe", body);
    cr_assert_eq(weir_exec_listened(x->e), WEIR_EV_OUTPUT);
    free_client(&m);
    free_client(&o);
    free_client(&all);
}

Test(hub, a_bad_events_list_is_refused_naming_the_entry) {
    svc_exec *x = running();
    client a;
    connect_client(&a);
    char body[240];
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"events\":[\"output\",\"port:emitt\"]}", x->id);
    json_t *r = call(&a, "execution:subscribe", body);
    const char *msg = json_string_value(json_object_get(r, "error"));
    cr_assert_not_null(msg);
    cr_assert_not_null(strstr(msg, "port:emitt"), "%s", msg);
    cr_assert_not_null(strstr(msg, "metrics:update"), "lists the valid kinds: %s", msg);
    cr_assert_str_eq(json_string_value(json_object_get(r, "code")), "WEIR_EINVAL");
    cr_assert_eq(svc->hub.n_subs, 0, "not subscribed");
    cr_assert_eq(weir_exec_listened(x->e), 0);
    const char *bad[] = {"\"output\"", "[1]", "[]", "{}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"events\":%s}", x->id, bad[i]);
        cr_assert_not_null(json_object_get(call(&a, "execution:subscribe", body), "error"), "%s", bad[i]);
    }
    cr_assert_eq(svc->hub.n_subs, 0);
    free_client(&a);
}

/* A subscriber back with `since` from before a kind it wants was built
 * (the feed widened for it) gets a resync; one whose kinds were built all
 * along gets the replay. */
Test(hub, since_across_a_widening_resyncs) {
    svc_exec *x = running();
    client narrow, wide, back;
    connect_client(&narrow);
    connect_client(&wide);
    connect_client(&back);
    char body[240];
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"events\":[\"output\"]}", x->id);
    call(&narrow, "execution:subscribe", body);
    inject(x, 1);
    json_int_t seen = seq_of(last(&narrow, "output"));
    snprintf(body, sizeof body, "{\"executionId\":\"%s\"}", x->id);
    call(&wide, "execution:subscribe", body); /* widens: port:emit built from now */
    inject(x, 2);
    /* wants port:emit since `seen`: it was not built then */
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"since\":%lld}", x->id, (long long)seen);
    call(&back, "execution:subscribe", body);
    cr_assert_eq(count(&back, "resync"), 1);
    cr_assert_eq(count(&back, "port:emit") + count(&back, "output"), 0);
    /* wants only outputs since `seen`: built all along, replayed */
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"since\":%lld,\"events\":[\"output\"]}", x->id,
             (long long)seen);
    call(&back, "execution:subscribe", body);
    cr_assert_eq(count(&back, "resync"), 1, "no second resync");
    cr_assert_eq(count(&back, "output"), 1, "the output of inject 2");
    cr_assert_eq(json_integer_value(json_object_get(last(&back, "output"), "value")), 4);
    cr_assert_eq(count(&back, "port:emit"), 0);
    free_client(&narrow);
    free_client(&wide);
    free_client(&back);
}

Test(hub, a_quiet_spell_means_resync_never_a_silent_gap) {
    weir_service_destroy(svc);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    weir_service_config c;
    weir_service_config_defaults(&c);
    c.subscriber_linger_ms = 0; /* quiet as soon as the last one leaves */
    start(&c);
    svc_exec *x = running();
    client a;
    connect_client(&a);
    char body[160];
    snprintf(body, sizeof body, "{\"executionId\":\"%s\"}", x->id);
    call(&a, "execution:subscribe", body);
    inject(x, 1);
    json_int_t seen = seq_of(last(&a, "port:emit"));
    disconnect(&a);
    inject(x, 2); /* nobody listens: not built */
    client b;
    connect_client(&b);
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"since\":%lld}", x->id, (long long)seen);
    call(&b, "execution:subscribe", body);
    cr_assert_eq(count(&b, "resync"), 1, "what happened while quiet is unknown: resync");
    cr_assert_eq(count(&b, "port:emit"), 0);
    free_client(&a);
    free_client(&b);
}

Test(hub, history_is_bounded) {
    weir_service_destroy(svc);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    weir_service_config c;
    weir_service_config_defaults(&c);
    c.event_history = 4;
    start(&c);
    svc_exec *x = running();
    client a, b;
    connect_client(&a);
    connect_client(&b);
    char body[160];
    snprintf(body, sizeof body, "{\"executionId\":\"%s\"}", x->id);
    call(&a, "execution:subscribe", body);
    json_int_t first = seq_of(call(&b, "execution:subscribe", body));
    for (int i = 0; i < 5; i++) inject(x, i);
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"since\":%lld}", x->id, (long long)first);
    call(&a, "execution:subscribe", body);
    cr_assert_eq(count(&a, "resync"), 1, "more than 4 events ago");
    json_int_t cur = seq_of(last(&a, "resync"));
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"since\":%lld}", x->id, (long long)cur - 3);
    size_t before = json_array_size(b.f.got);
    call(&b, "execution:subscribe", body);
    cr_assert_eq(json_array_size(b.f.got) - before, 4, "the ack and the last three");
    free_client(&a);
    free_client(&b);
}

Test(hub, a_slow_subscriber_is_cut_off_with_a_notice) {
    svc_exec *x = running();
    client slow, fast;
    connect_client(&slow);
    connect_client(&fast);
    char body[160];
    snprintf(body, sizeof body, "{\"executionId\":\"%s\"}", x->id);
    call(&slow, "execution:subscribe", body);
    call(&fast, "execution:subscribe", body);
    inject(x, 1);
    slow.f.backlog = svc->cfg.subscriber_backlog_bytes + 1;
    /* its backlog is looked at every few events (32 at most), not before
     * each: it is cut within a few injects of four events each */
    int injects = 1;
    while (count(&slow, "subscription:cut") == 0 && injects < 12) inject(x, ++injects);
    cr_assert_eq(count(&slow, "subscription:cut"), 1, "cut within %d injects", injects);
    cr_assert_leq(injects, 1 + 32 / 4 + 1);
    json_t *n = last(&slow, "subscription:cut");
    json_int_t last_event = 0;
    for (size_t i = 0; i < json_array_size(slow.f.got); i++) {
        json_t *it = json_array_get(slow.f.got, i);
        if (strcmp(json_string_value(json_object_get(it, "event")), "subscription:cut") == 0) break;
        json_int_t s = seq_of(json_object_get(it, "data"));
        if (s > last_event) last_event = s;
    }
    cr_assert_eq(seq_of(n), last_event, "names the last seq it was sent");
    cr_assert_str_eq(json_string_value(json_object_get(n, "executionId")), x->id);
    size_t got = json_array_size(slow.f.got);
    inject(x, 100);
    cr_assert_eq(json_array_size(slow.f.got), got, "nothing after the cut");
    cr_assert_eq(count(&fast, "port:emit"), (size_t)injects + 1, "the other subscriber is untouched");
    cr_assert_eq(svc->hub.subscribers_cut, 1);
    cr_assert_eq(svc->hub.n_subs, 1);
    free_client(&slow);
    free_client(&fast);
}

static bool has_metrics(void *ud) { return count(ud, "metrics:update") > 0; }

Test(hub, metrics_update_is_throttled_and_carries_the_metrics) {
    svc_exec *x = running();
    client a;
    connect_client(&a);
    char body[160];
    snprintf(body, sizeof body, "{\"executionId\":\"%s\"}", x->id);
    call(&a, "execution:subscribe", body);
    for (int i = 0; i < 50; i++) inject(x, i);
    cr_assert_eq(count(&a, "metrics:update"), 0, "not inside the wave");
    RN_WAIT_UNTIL(&loop, has_metrics(&a));
    cr_assert_eq(count(&a, "metrics:update"), 1, "fifty injects, one update");
    json_t *m = last(&a, "metrics:update");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(m, "metrics"), "messagesProcessed")), 100);
    free_client(&a);
}

Test(hub, commands_answer_with_acks_or_events) {
    svc_exec *x = running();
    client a;
    connect_client(&a);
    char body[200];
    snprintf(body, sizeof body, "{\"executionId\":\"%s\"}", x->id);
    cr_assert_str_eq(json_string_value(json_object_get(call(&a, "execution:pause", body), "state")), "paused");
    cr_assert_not_null(json_object_get(call(&a, "execution:pause", body), "error"), "409: already paused");
    cr_assert_str_eq(json_string_value(json_object_get(call(&a, "execution:resume", body), "state")), "running");
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"nodeId\":\"a\",\"value\":21}", x->id);
    json_t *r = call(&a, "execution:inject", body);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(r, "outputs"), "b:out")), 42);
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"nodeId\":\"zz\",\"value\":1}", x->id);
    cr_assert_not_null(strstr(json_string_value(json_object_get(call(&a, "execution:inject", body), "error")), "zz"));
    cr_assert_not_null(json_object_get(call(&a, "execution:frob", "{}"), "error"));
    cr_assert_not_null(json_object_get(call(&a, "execution:start", "{\"graphId\":\"nope\"}"), "error"));
    /* without an ack: failures are `error` events, inject answers execution:injected */
    json_t *d = json_pack("{s:s}", "executionId", "nope");
    svc_client_command(a.c, "execution:stop", d, -1);
    json_decref(d);
    cr_assert_eq(count(&a, "error"), 1);
    d = json_pack("{s:s,s:s,s:i}", "executionId", x->id, "nodeId", "a", "value", 1);
    svc_client_command(a.c, "execution:inject", d, -1);
    json_decref(d);
    cr_assert_eq(count(&a, "execution:injected"), 1);
    snprintf(body, sizeof body, "{\"executionId\":\"%s\"}", x->id);
    cr_assert_str_eq(json_string_value(json_object_get(call(&a, "execution:stop", body), "state")), "cancelled");
    free_client(&a);
}

Test(hub, start_subscribes_first_so_the_client_sees_started) {
    svc_graph *g = graph();
    client a;
    connect_client(&a);
    char body[160];
    snprintf(body, sizeof body, "{\"graphId\":\"%s\",\"completion\":\"never\"}", g->id);
    json_t *r = call(&a, "execution:start", body);
    cr_assert_str_eq(json_string_value(json_object_get(r, "state")), "running");
    json_t *st = last(&a, "execution:started");
    cr_assert_not_null(st);
    cr_assert_str_eq(json_string_value(json_object_get(st, "executionId")),
                     json_string_value(json_object_get(r, "executionId")));
    free_client(&a);
}

/* Destroy the service while cl is still connected: every handle closes,
 * then the connection goes (only its reference is left to drop). */
static void destroy_before_client(client *cl) {
    weir_service_destroy(svc);
    svc = NULL;
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
    svc_client_gone(cl->c);
    cl->c = NULL;
    json_decref(cl->f.got);
}

/* Destroying the service with clients still connected and an inject of a
 * client still waiting: nothing leaks, nothing is touched after free. */
Test(hub, destroy_with_clients_subscribed_and_waiting) {
    svc_exec *x = running();
    client a;
    connect_client(&a);
    char body[200];
    snprintf(body, sizeof body, "{\"executionId\":\"%s\"}", x->id);
    call(&a, "execution:subscribe", body);
    call(&a, "execution:pause", body);
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"nodeId\":\"a\",\"value\":1}", x->id);
    json_t *d = json_loads(body, 0, NULL);
    svc_client_command(a.c, "execution:inject", d, 9); /* queued while paused: waits */
    json_decref(d);
    destroy_before_client(&a);
}

/* ------------------------------------------------------------ time (§4.5) */

static const char *DELAYED = "{\"symbia\":\"1.0\",\"name\":\"delayed\",\"nodes\":["
                             "{\"id\":\"a\",\"component\":\"symbia.core.passthrough\"},"
                             "{\"id\":\"d\",\"component\":\"symbia.core.delay\",\"config\":{\"delayMs\":30}}],"
                             "\"edges\":[{\"source\":{\"node\":\"a\",\"port\":\"out\"},"
                             "\"target\":{\"node\":\"d\",\"port\":\"in\"}}]}";

/* An execution of graph (JSON text) on the virtual runtime. */
static svc_exec *virtual_exec_of(const char *graph) {
    json_t *doc = json_loads(graph, 0, NULL);
    svc_graph *g;
    weir_error err;
    cr_assert_eq(svc_graph_add(svc, doc, &g, NULL, &err), 0, "%s", err.message);
    json_decref(doc);
    json_t *o = json_pack("{s:s,s:s}", "completion", "never", "runtime", "virtual");
    svc_exec *x;
    cr_assert_eq(svc_exec_start(svc, g, o, NULL, &x, &err), 0, "%s", err.message);
    json_decref(o);
    return x;
}

static svc_exec *virtual_exec(void) { return virtual_exec_of(DELAYED); }

/* Turn the loop until the client has ack 8 (a run answers when it ends). */
static json_t *ack_after_loop(client *cl, size_t from) {
    for (int turns = 0; turns < 1000; turns++) {
        for (size_t i = from; i < json_array_size(cl->f.got); i++) {
            json_t *it = json_array_get(cl->f.got, i);
            if (strcmp(json_string_value(json_object_get(it, "event")), "ack") == 0 &&
                json_integer_value(json_object_get(it, "ack")) == 8)
                return json_object_get(it, "data");
        }
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    cr_assert_fail("no ack after 1000 loop turns");
    return NULL;
}

Test(hub, time_commands_over_sockets_and_their_events) {
    svc_exec *x = virtual_exec();
    client a;
    connect_client(&a);
    char body[240];
    snprintf(body, sizeof body, "{\"executionId\":\"%s\"}", x->id);
    call(&a, "execution:subscribe", body);
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"nodeId\":\"a\",\"value\":3}", x->id);
    json_t *r = call(&a, "execution:inject", body);
    cr_assert(json_is_false(json_object_get(r, "settled")), "answered before virtual time moved");
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"count\":29}", x->id);
    r = call(&a, "execution:tick", body);
    cr_assert_eq(json_integer_value(json_object_get(r, "tick")), 29);
    cr_assert_eq(count(&a, "time:advanced"), 1, "one per command");
    cr_assert_eq(json_integer_value(json_object_get(last(&a, "time:advanced"), "tick")), 29);
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"ms\":1}", x->id);
    r = call(&a, "execution:advance", body);
    json_t *settled = json_array_get(json_object_get(r, "settled"), 0);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(settled, "outputs"), "d:out")), 3, "%s",
                 json_dumps(r, 0));
    cr_assert_not_null(last(&a, "port:emit"));
    /* a run answers when it ends; its time:advanced is in the stream */
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"nodeId\":\"a\",\"value\":4,\"afterTicks\":5}", x->id);
    r = call(&a, "execution:inject", body);
    cr_assert_eq(json_integer_value(json_object_get(r, "atTick")), 35);
    size_t from = json_array_size(a.f.got);
    json_t *d = json_pack("{s:s}", "executionId", x->id);
    svc_client_command(a.c, "execution:run", d, 8);
    json_decref(d);
    r = ack_after_loop(&a, from);
    cr_assert_str_eq(json_string_value(json_object_get(r, "stoppedBy")), "idle");
    cr_assert_eq(json_integer_value(json_object_get(r, "tick")), 65);
    /* switching: runtime:changed in the stream */
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"runtime\":\"realtime\"}", x->id);
    r = call(&a, "execution:runtime", body);
    cr_assert_str_eq(json_string_value(json_object_get(r, "runtime")), "realtime");
    json_t *ch = last(&a, "runtime:changed");
    cr_assert_not_null(ch);
    cr_assert_str_eq(json_string_value(json_object_get(ch, "from")), "virtual");
    cr_assert_str_eq(json_string_value(json_object_get(ch, "to")), "realtime");
    snprintf(body, sizeof body, "{\"executionId\":\"%s\"}", x->id);
    cr_assert(strstr(json_string_value(json_object_get(call(&a, "execution:tick", body), "error")),
                     "needs the virtual runtime"));
    free_client(&a);
}

Test(hub, pause_ends_a_run_in_progress) {
    svc_exec *x = virtual_exec();
    client a;
    connect_client(&a);
    /* a timer re-armed forever would keep a run going: here a long bound */
    char body[200];
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"nodeId\":\"a\",\"value\":1,\"atTick\":1000000}", x->id);
    call(&a, "execution:inject", body);
    json_t *d = json_pack("{s:s,s:i}", "executionId", x->id, "maxTicks", 2000000);
    size_t from = json_array_size(a.f.got);
    svc_client_command(a.c, "execution:run", d, 8);
    json_decref(d);
    cr_assert(x->playing, "a run plays across loop turns");
    snprintf(body, sizeof body, "{\"executionId\":\"%s\"}", x->id);
    json_t *busy = call(&a, "execution:tick", body);
    cr_assert(strstr(json_string_value(json_object_get(busy, "error")), "playing"), "one clock, one driver");
    call(&a, "execution:pause", body);
    json_t *r = ack_after_loop(&a, from);
    cr_assert_str_eq(json_string_value(json_object_get(r, "stoppedBy")), "pause");
    cr_assert(!x->playing);
    free_client(&a);
}

Test(hub, destroy_while_a_run_plays) {
    svc_exec *x = virtual_exec();
    client a;
    connect_client(&a);
    json_t *d = json_pack("{s:s,s:s,s:i,s:i}", "executionId", x->id, "nodeId", "a", "value", 1, "atTick", 900000);
    svc_client_command(a.c, "execution:inject", d, 1);
    json_decref(d);
    d = json_pack("{s:s}", "executionId", x->id);
    svc_client_command(a.c, "execution:run", d, 2);
    json_decref(d);
    destroy_before_client(&a);
}

/* A switch ends a run in progress (its answer says so); a refused switch
 * leaves it playing. */
Test(hub, a_switch_ends_a_run_and_a_refused_one_does_not) {
    svc_exec *x = virtual_exec_of("{\"symbia\":\"1.0\",\"name\":\"slow\",\"nodes\":["
                                  "{\"id\":\"a\",\"component\":\"symbia.core.passthrough\"},"
                                  "{\"id\":\"d\",\"component\":\"symbia.core.delay\",\"config\":{\"delayMs\":"
                                  "1000000}}],\"edges\":[{\"source\":{\"node\":\"a\",\"port\":\"out\"},"
                                  "\"target\":{\"node\":\"d\",\"port\":\"in\"}}]}");
    client a;
    connect_client(&a);
    char body[200];
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"nodeId\":\"a\",\"value\":1}", x->id);
    call(&a, "execution:inject", body);
    json_t *d = json_pack("{s:s,s:i}", "executionId", x->id, "maxTicks", 2000000);
    size_t from = json_array_size(a.f.got);
    svc_client_command(a.c, "execution:run", d, 8);
    json_decref(d);
    cr_assert(x->playing);
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"runtime\":\"virtual\",\"tickMs\":5}", x->id);
    cr_assert_not_null(json_object_get(call(&a, "execution:runtime", body), "error"), "tickMs cannot change");
    cr_assert(x->playing, "a refused switch leaves the run playing");
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"runtime\":\"realtime\"}", x->id);
    json_t *sw = call(&a, "execution:runtime", body);
    cr_assert_str_eq(json_string_value(json_object_get(sw, "runtime")), "realtime");
    cr_assert(!x->playing);
    json_t *r = ack_after_loop(&a, from);
    cr_assert_str_eq(json_string_value(json_object_get(r, "stoppedBy")), "runtime switched");
    free_client(&a);
}

/* A subscriber cut on the first event of its `since` replay is told the
 * last seq it was really sent (since), so coming back with it replays the
 * rest; it was told the execution's current seq, and the events between
 * were silently gone. */
Test(hub, a_cut_during_a_replay_names_the_last_seq_really_sent) {
    svc_exec *x = running();
    client a, b;
    connect_client(&a);
    connect_client(&b);
    char body[240];
    snprintf(body, sizeof body, "{\"executionId\":\"%s\"}", x->id);
    call(&a, "execution:subscribe", body);
    inject(x, 1);
    json_int_t seen = seq_of(last(&a, "output"));
    inject(x, 2);
    inject(x, 3);
    b.f.backlog = svc->cfg.subscriber_backlog_bytes + 1; /* b's connection is busy (other feeds, ...) */
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"since\":%lld}", x->id, (long long)seen);
    call(&b, "execution:subscribe", body);
    cr_assert_eq(count(&b, "subscription:cut"), 1);
    json_int_t told = seq_of(last(&b, "subscription:cut"));
    cr_assert_eq(told, seen, "the notice names the last seq it was sent");
    b.f.backlog = 0;
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"since\":%lld}", x->id, (long long)told);
    call(&b, "execution:subscribe", body);
    cr_assert_eq(count(&b, "output"), 2, "the outputs of injects 2 and 3, replayed");
    cr_assert_eq(count(&b, "resync"), 0);
    free_client(&a);
    free_client(&b);
}

/* A client that drops while a metrics-only dashboard watches (or starts
 * watching during the linger) still gets its replay on reconnecting: the
 * linger keeps the cheap kinds of whoever left, not only of the last. */
static size_t resyncs_on_reconnect(bool dashboard_before, bool dashboard_during) {
    svc_exec *x = running();
    client a, d, a2;
    connect_client(&a);
    connect_client(&d);
    connect_client(&a2);
    char body[240], dbody[240];
    snprintf(body, sizeof body, "{\"executionId\":\"%s\"}", x->id);
    snprintf(dbody, sizeof dbody, "{\"executionId\":\"%s\",\"events\":[\"metrics:update\"]}", x->id);
    call(&a, "execution:subscribe", body);
    if (dashboard_before) call(&d, "execution:subscribe", dbody);
    inject(x, 1);
    json_int_t seen = seq_of(last(&a, "output"));
    disconnect(&a);
    if (dashboard_during) call(&d, "execution:subscribe", dbody);
    inject(x, 2);
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"since\":%lld,\"events\":[\"output\",\"execution:*\"]}",
             x->id, (long long)seen);
    call(&a2, "execution:subscribe", body);
    size_t resyncs = count(&a2, "resync");
    cr_assert_eq(count(&a2, "output"), resyncs ? 0 : 1);
    free_client(&a);
    free_client(&d);
    free_client(&a2);
    return resyncs;
}

Test(hub, a_metrics_dashboard_does_not_end_the_linger) {
    cr_assert_eq(resyncs_on_reconnect(false, false), 0, "alone: replayed");
    cr_assert_eq(resyncs_on_reconnect(false, true), 0, "a dashboard subscribing during the linger");
    cr_assert_eq(resyncs_on_reconnect(true, false), 0, "a dashboard already subscribed");
}

/* The counts of every events:skipped notice cl was sent. */
static json_int_t skipped_total(client *cl) {
    json_int_t n = 0;
    for (size_t i = 0; i < json_array_size(cl->f.got); i++) {
        json_t *it = json_array_get(cl->f.got, i);
        if (strcmp(json_string_value(json_object_get(it, "event")), "events:skipped") == 0)
            n += json_integer_value(json_object_get(json_object_get(it, "data"), "count"));
    }
    return n;
}

static bool was_told_skipped(void *ud) { return count(ud, "events:skipped") > 0; }

/* A burst over the rate, then silence: the notice does not wait for an
 * event that may never come (a subscriber of the busy kinds alone has no
 * metrics:update to carry it); it comes when the rate's window ends. */
Test(hub, a_burst_then_silence_is_still_told_what_was_skipped) {
    svc_exec *x = running();
    client cl, all;
    connect_client(&cl);
    connect_client(&all);
    char body[160];
    /* the busy kinds only: no metrics:update that would carry the notice */
    snprintf(body, sizeof body,
             "{\"executionId\":\"%s\",\"rate\":100,\"events\":[\"port:emit\",\"component:invoked\",\"output\"]}",
             x->id);
    call(&cl, "execution:subscribe", body);
    snprintf(body, sizeof body, "{\"executionId\":\"%s\"}", x->id);
    call(&all, "execution:subscribe", body);
    for (int i = 0; i < 50; i++) inject(x, i);
    size_t sent = count(&cl, "port:emit") + count(&cl, "component:invoked") + count(&cl, "output");
    size_t busy_all = count(&all, "port:emit") + count(&all, "component:invoked") + count(&all, "output");
    cr_assert_eq(sent, 10);
    RN_WAIT_UNTIL(&loop, was_told_skipped(&cl));
    cr_assert_eq(count(&cl, "events:skipped"), 1, "one notice for the window");
    cr_assert_eq(skipped_total(&cl) + (json_int_t)sent, (json_int_t)busy_all, "every busy event is sent or counted");
    free_client(&cl);
    free_client(&all);
}

/* A subscriber's rate: at most that many busy events (per hop, outputs,
 * logs) a second; the others are passed over, and an events:skipped notice
 * before the next event it is sent counts them and names their seqs; the
 * execution's own events (state changes) are never passed over. */
Test(hub, a_rate_bounds_the_busy_events_and_says_what_it_passed_over) {
    svc_exec *x = running();
    client cl, all;
    connect_client(&cl);
    connect_client(&all);
    char body[160];
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"rate\":100}", x->id);
    json_t *snap = call(&cl, "execution:subscribe", body);
    cr_assert_null(json_object_get(snap, "error"), "%s", json_string_value(json_object_get(snap, "error")));
    snprintf(body, sizeof body, "{\"executionId\":\"%s\"}", x->id);
    call(&all, "execution:subscribe", body);
    for (int i = 0; i < 50; i++) inject(x, i); /* 50 injects: 100 port:emit, 100 component:invoked */
    size_t busy = count(&cl, "port:emit") + count(&cl, "component:invoked") + count(&cl, "output");
    cr_assert_eq(busy, 10, "10 of the busy kinds within a tenth of a second (rate 100), got %zu", busy);
    cr_assert_eq(count(&all, "port:emit"), 50, "another subscriber is not bounded by it");
    cr_assert_eq(count(&cl, "events:skipped"), 0, "told before the next event it is sent");
    json_t *p = call(&cl, "execution:pause", body);
    cr_assert_null(json_object_get(p, "error"));
    cr_assert_eq(count(&cl, "execution:paused"), 1, "the execution's own events are never passed over");
    json_t *sk = last(&cl, "events:skipped");
    cr_assert_not_null(sk, "the pause's event came with a notice first");
    size_t busy_all = count(&all, "port:emit") + count(&all, "component:invoked") + count(&all, "output");
    cr_assert_eq(skipped_total(&cl) + 10, (json_int_t)busy_all, "every busy event is sent or counted");
    cr_assert_lt(json_integer_value(json_object_get(sk, "fromSeq")), json_integer_value(json_object_get(sk, "toSeq")));
    cr_assert_eq(svc->hub.events_skipped, (uint64_t)skipped_total(&cl));
    snprintf(body, sizeof body, "{\"executionId\":\"%s\",\"rate\":0}", x->id);
    json_t *bad = call(&cl, "execution:subscribe", body);
    cr_assert(strstr(json_string_value(json_object_get(bad, "error")), "rate must be a whole number"), "%s",
              json_string_value(json_object_get(bad, "error")));
    free_client(&cl);
    free_client(&all);
}
