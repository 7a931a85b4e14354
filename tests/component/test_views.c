/* Live views (SPEC §8, service/views.h) inside a real service on a loop,
 * with fake clients whose backlog the test sets: a subscriber held back
 * gets ONE diff composed over the ring when it drains (an init once the
 * ring no longer reaches back), seqs are never reused by a new instance,
 * nothing is sent or built when nothing changed, a port view (and its
 * tap) lives exactly as long as its watchers, and what a view shows of a
 * stored execution is sent only once the journal made it durable. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>

#include "proc.h"
#include "serve.h"
#include "service/service_internal.h"
#include "service/view_diff.h"
#include "testvfs.h"

typedef struct fake {
    json_t *got; /* [{event, data}] in order; acks as {event: "ack", data} */
    size_t backlog;
} fake;

static void record(fake *f, const char *name, const char *json, size_t len) {
    json_error_t e;
    json_t *data = json_loadb(json, len, 0, &e);
    cr_assert_not_null(data, "invalid JSON: %.*s", (int)len, json);
    json_array_append_new(f->got, json_pack("{s:s,s:o}", "event", name, "data", data));
}
static int f_send(void *conn, svc_evmsg *m, bool whole) {
    (void)whole;
    record(conn, m->name, m->data->data, m->data->len);
    return 0;
}
static int f_emit(void *conn, const char *name, const char *json, size_t len) {
    record(conn, name, json, len);
    return 0;
}
static int f_ack(void *conn, int64_t id, const char *json, size_t len) {
    (void)id;
    record(conn, "ack", json, len);
    return 0;
}
static size_t f_backlog(const void *conn) { return ((const fake *)conn)->backlog; }
static void f_close(void *conn) { (void)conn; }
static const svc_client_ops FAKE = {"fake", f_send, f_emit, f_ack, f_backlog, NULL, f_close};

static uv_loop_t loop;
static weir_service *svc;

/* A service on loop; stored in dir with the test VFS when dir is set. */
static void start_in(size_t history, const char *dir) {
    uv_loop_init(&loop);
    weir_service_config c;
    weir_service_config_defaults(&c);
    c.port = 0;
    c.log_level = "error";
    c.view_interval_ms = 5;
    c.view_history = history;
    if (dir) {
        c.data_dir = dir;
        c.journal_vfs = TESTVFS_NAME;
    }
    weir_error err;
    cr_assert_eq(weir_service_start(&loop, &c, &svc, &err), 0, "%s", err.message);
}

static void start(size_t history) { start_in(history, NULL); }

static void setup(void) { start(64); }

static void teardown(void) {
    if (!svc) return;
    weir_service_destroy(svc);
    svc = NULL;
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0, "every handle closed");
}

TestSuite(views, .init = setup, .fini = teardown);

static svc_exec *running(void) {
    static const char *G = "{\"symbia\":\"1.0\",\"name\":\"acc\",\"nodes\":["
                           "{\"id\":\"a\",\"component\":\"symbia.core.passthrough\"},"
                           "{\"id\":\"acc\",\"component\":\"symbia.core.accumulator\",\"config\":{\"batchSize\":1000}}],"
                           "\"edges\":[{\"source\":{\"node\":\"a\",\"port\":\"out\"},"
                           "\"target\":{\"node\":\"acc\",\"port\":\"in\"}}]}";
    json_error_t je;
    json_t *doc = json_loads(G, 0, &je);
    svc_graph *g;
    weir_error err;
    cr_assert_eq(svc_graph_add(svc, doc, &g, NULL, &err), 0, "%s", err.message);
    json_decref(doc);
    json_t *o = json_pack("{s:s}", "completion", "never");
    svc_exec *x;
    cr_assert_eq(svc_exec_start(svc, g, o, NULL, &x, &err), 0, "%s", err.message);
    json_decref(o);
    return x;
}

static void inject(svc_exec *x, int v) {
    json_t *val = json_integer(v);
    weir_inject in = {.node = "a", .value = val};
    weir_error err;
    cr_assert_eq(weir_exec_inject(x->e, &in, svc_now(svc), NULL, &err), 0, "%s", err.message);
    json_decref(val);
}

typedef struct client {
    fake f;
    svc_client *c;
    json_t *value; /* the view's value as the client rebuilds it */
    json_int_t seq;
    size_t seen;   /* messages of f.got applied */
    size_t inits, diffs;
} client;

static void connect_client(client *cl) {
    *cl = (client){.f = {.got = json_array()}};
    cl->c = svc_client_new(&svc->hub, &FAKE, &cl->f);
    cr_assert_not_null(cl->c);
}

static void free_client(client *cl) {
    if (cl->c) svc_client_gone(cl->c);
    json_decref(cl->f.got);
    json_decref(cl->value);
}

/* Apply what the client was sent since the last call (one view). */
static void take(client *cl) {
    for (; cl->seen < json_array_size(cl->f.got); cl->seen++) {
        json_t *it = json_array_get(cl->f.got, cl->seen);
        const char *ev = json_string_value(json_object_get(it, "event"));
        json_t *d = json_object_get(it, "data");
        if (strcmp(ev, "view:init") == 0) {
            json_decref(cl->value);
            cl->value = json_incref(json_object_get(d, "value"));
            cl->inits++;
        } else if (strcmp(ev, "view:diff") == 0) {
            json_t *next;
            weir_error err;
            cr_assert_eq(weir_view_diff_apply(cl->value, json_object_get(d, "diff"), &next, &err), 0,
                         "a diff that does not fit: %s", err.message);
            json_decref(cl->value);
            cl->value = next;
            cl->diffs++;
        } else {
            continue;
        }
        json_int_t seq = json_integer_value(json_object_get(d, "seq"));
        cr_assert_gt(seq, cl->seq, "seqs only grow");
        cl->seq = seq;
    }
}

/* The ack's data of a command (borrowed from the log). */
static json_t *call(client *cl, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static json_t *call(client *cl, const char *name, const char *fmt, ...) {
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    json_error_t je;
    json_t *d = json_loads(text, 0, &je);
    cr_assert_not_null(d, "%s", text);
    size_t before = json_array_size(cl->f.got);
    svc_client_command(cl->c, name, d, 7);
    json_decref(d);
    for (size_t i = before; i < json_array_size(cl->f.got); i++) {
        json_t *it = json_array_get(cl->f.got, i);
        if (strcmp(json_string_value(json_object_get(it, "event")), "ack") == 0) return json_object_get(it, "data");
    }
    cr_assert_fail("%s: no ack", name);
    return NULL;
}

static void on_wake(uv_timer_t *t) { *(bool *)t->data = true; }

/* Let the loop run for ms (several rounds of VIEW_INTERVAL_MS = 5). */
static void run_for(uint64_t ms) {
    bool done = false;
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = &done;
    uv_timer_start(&t, on_wake, ms, 0);
    while (!done) uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
}

/* Run rounds until cl was sent something new (a deadline of 2 s). */
static void wait_raw(client *cl) {
    size_t n = json_array_size(cl->f.got);
    for (int i = 0; i < 400 && json_array_size(cl->f.got) == n; i++) run_for(5);
    cr_assert_gt(json_array_size(cl->f.got), n, "nothing sent within 2 s");
}

/* The same, applying what came (a client of one view). */
static void wait_msg(client *cl) {
    wait_raw(cl);
    take(cl);
}

static json_t *fresh_value(const char *view) {
    client f;
    connect_client(&f);
    json_t *a = call(&f, "view:subscribe", "{\"view\":\"%s\"}", view);
    cr_assert_null(json_object_get(a, "error"), "%s", json_string_value(json_object_get(a, "error")));
    take(&f);
    cr_assert_eq(f.inits, 1);
    json_t *v = json_incref(f.value);
    free_client(&f);
    return v;
}

/* A held subscriber: nothing while its backlog is over the bound; then one
 * diff, composed over the ring, equal to what the reader got diff by diff. */
static void held_then_caught_up(bool beyond_ring) {
    svc_exec *x = running();
    char view[80];
    snprintf(view, sizeof view, "execution:%s", x->id);
    client slow, reader;
    connect_client(&slow);
    connect_client(&reader);
    call(&slow, "view:subscribe", "{\"view\":\"%s\"}", view);
    call(&reader, "view:subscribe", "{\"view\":\"%s\"}", view);
    take(&slow);
    take(&reader);
    cr_assert_eq(slow.inits, 1);
    slow.f.backlog = VIEW_BACKLOG_BYTES + 1;
    uint64_t held = svc->views.held;
    for (int i = 1; i <= 5; i++) {
        inject(x, i);
        wait_msg(&reader); /* each inject in a round of its own: a diff each in the ring */
    }
    cr_assert_eq(reader.diffs, 5);
    take(&slow);
    cr_assert_eq(slow.diffs + slow.inits, 1, "nothing was sent while it was behind");
    cr_assert_gt(svc->views.held, held);
    slow.f.backlog = 0;
    wait_msg(&slow);
    run_for(30);
    take(&slow);
    if (beyond_ring) {
        cr_assert_eq(slow.inits, 1, "beyond the ring too: never the whole value again");
        cr_assert_eq(slow.diffs, 1, "ONE diff from the value it has");
    } else {
        cr_assert_eq(slow.inits, 1);
        cr_assert_eq(slow.diffs, 1, "ONE diff for the five rounds it missed");
        json_t *d = json_object_get(json_object_get(json_array_get(slow.f.got, slow.seen - 1), "data"), "diff");
        cr_assert_not_null(json_object_get(d, "patch"));
    }
    cr_assert_eq(slow.seq, reader.seq, "both at the newest seq");
    cr_assert(json_equal(slow.value, reader.value), "the same value");
    json_t *now = fresh_value(view);
    cr_assert(json_equal(now, reader.value), "the value a fresh subscribe gives");
    json_t *buf = json_object_get(json_object_get(json_object_get(json_object_get(now, "nodes"), "acc"), "state"), "buffer");
    cr_assert_eq(json_array_size(buf), 5);
    json_decref(now);
    free_client(&slow);
    free_client(&reader);
}

Test(views, a_held_subscriber_gets_one_diff_composed_over_the_ring) { held_then_caught_up(false); }

static void setup_small_ring(void) { start(2); }

Test(views_small_ring, a_held_subscriber_beyond_the_ring_gets_one_diff_from_what_it_has, .init = setup_small_ring,
     .fini = teardown) {
    held_then_caught_up(true);
}

/* A new instance never hands out a seq an old one did: a since from the
 * old one gets an init, never a diff for another base, and never nothing. */
Test(views, seqs_are_never_reused_by_a_new_instance) {
    svc_exec *x = running();
    char view[100];
    snprintf(view, sizeof view, "port:%s:a:out:2", x->id);
    client cl;
    connect_client(&cl);
    json_t *a = call(&cl, "view:subscribe", "{\"view\":\"%s\"}", view);
    json_int_t s1 = json_integer_value(json_object_get(a, "seq"));
    take(&cl);
    cr_assert_eq(svc->views.n_views, 1);
    call(&cl, "view:unsubscribe", "{\"view\":\"%s\"}", view);
    cr_assert_eq(svc->views.n_views, 0, "a port view goes with its last watcher");
    inject(x, 1); /* its tap went with it (else a use after free under ASan) */
    a = call(&cl, "view:subscribe", "{\"view\":\"%s\",\"since\":%lld}", view, (long long)s1);
    cr_assert_gt(json_integer_value(json_object_get(a, "seq")), s1);
    size_t inits = cl.inits;
    take(&cl);
    cr_assert_eq(cl.inits, inits + 1, "an init for a since of an instance that is gone");
    cr_assert_eq(json_array_size(cl.value), 0, "the new instance saw nothing before it tapped");
    inject(x, 2);
    inject(x, 3);
    inject(x, 4);
    wait_msg(&cl);
    json_t *want = json_pack("[i,i]", 3, 4);
    cr_assert(json_equal(cl.value, want), "the last 2 values");
    json_decref(want);
    free_client(&cl);
}

/* Nothing changes: no round builds a new value or sends anything; a
 * since at the newest seq gets nothing either. */
Test(views, nothing_is_sent_when_nothing_changed) {
    svc_exec *x = running();
    char view[80];
    snprintf(view, sizeof view, "execution:%s", x->id);
    client cl;
    connect_client(&cl);
    call(&cl, "view:subscribe", "{\"view\":\"executions\"}");
    call(&cl, "view:subscribe", "{\"view\":\"graphs\"}");
    json_t *a = call(&cl, "view:subscribe", "{\"view\":\"%s\"}", view);
    json_int_t seq = json_integer_value(json_object_get(a, "seq"));
    uint64_t counter = svc->views.seq;
    size_t n = json_array_size(cl.f.got);
    run_for(60);
    cr_assert_eq(json_array_size(cl.f.got), n, "nothing sent");
    cr_assert_eq(svc->views.seq, counter, "no new value built");
    a = call(&cl, "view:subscribe", "{\"view\":\"%s\",\"since\":%lld}", view, (long long)seq);
    cr_assert_eq(json_integer_value(json_object_get(a, "seq")), seq);
    run_for(20);
    cr_assert_eq(json_array_size(cl.f.got), n + 1, "only the ack");
    cr_assert_eq(weir_exec_listened(x->e), 0, "views ask the execution for no event");
    free_client(&cl);
}

/* Clients that go, and a service destroyed under live subscriptions (of
 * every kind, one held back): everything is freed (ASan). */
Test(views, gone_clients_and_shutdown_free_everything) {
    svc_exec *x = running();
    client a, b;
    connect_client(&a);
    connect_client(&b);
    char v1[80], v2[100];
    snprintf(v1, sizeof v1, "execution:%s", x->id);
    snprintf(v2, sizeof v2, "port:%s:a:out:3", x->id);
    const char *views[] = {"graphs", "executions", v1, v2};
    for (int i = 0; i < 4; i++) {
        call(&a, "view:subscribe", "{\"view\":\"%s\"}", views[i]);
        call(&b, "view:subscribe", "{\"view\":\"%s\"}", views[i]);
    }
    cr_assert_eq(svc->views.n_subs, 8);
    b.f.backlog = VIEW_BACKLOG_BYTES * 2;
    inject(x, 1);
    wait_raw(&a);
    svc_client_gone(a.c);
    a.c = NULL;
    cr_assert_eq(svc->views.n_subs, 4);
    inject(x, 2);
    run_for(20);
    free_client(&a);
    /* b is still connected: the service goes first, then its connection */
    weir_service_destroy(svc);
    svc = NULL;
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
    svc_client_gone(b.c);
    json_decref(b.f.got);
    json_decref(b.value);
}

/* The last watcher leaves: the view lingers, built no further while
 * nobody watches, and keeps its ring, so a reconnect with since gets only
 * the diff it missed. */
Test(views, a_lingering_view_resumes_with_since) {
    svc_exec *x = running();
    char view[80];
    snprintf(view, sizeof view, "execution:%s", x->id);
    client cl;
    connect_client(&cl);
    call(&cl, "view:subscribe", "{\"view\":\"%s\"}", view);
    take(&cl);
    json_int_t seen = cl.seq;
    json_t *un = call(&cl, "view:unsubscribe", "{\"view\":\"%s\"}", view);
    cr_assert(json_is_true(json_object_get(un, "unsubscribed")));
    cr_assert_eq(svc->views.n_views, 1, "kept for VIEW_LINGER_MS");
    uint64_t counter = svc->views.seq;
    inject(x, 1);
    run_for(40);
    inject(x, 2);
    run_for(40);
    cr_assert_eq(svc->views.seq, counter, "nothing built while nobody watches");
    size_t n = json_array_size(cl.f.got);
    json_t *a = call(&cl, "view:subscribe", "{\"view\":\"%s\",\"since\":%lld}", view, (long long)seen);
    cr_assert_null(json_object_get(a, "error"));
    take(&cl);
    cr_assert_eq(json_array_size(cl.f.got), n + 2, "the ack and one message");
    cr_assert_eq(cl.inits, 1, "no new init");
    cr_assert_eq(cl.diffs, 1, "one diff for both injects");
    json_t *now = fresh_value(view);
    cr_assert(json_equal(now, cl.value));
    json_decref(now);
    free_client(&cl);
}

/* ------------------------------------------------ output commit (§7.1) */

static char data_dir[64];

static void setup_stored(void) {
    proc_tempdir(data_dir, sizeof data_dir, "views");
    testvfs_reset();
    start_in(64, data_dir);
}

static void teardown_stored(void) {
    atomic_store(&testvfs_hold, 0);
    teardown();
    serve_rmdir(data_dir);
}

/* A view shows what a crash cannot undo: while the journal has not made an
 * inject durable, its effect is not sent; once it has, it is. */
Test(views_stored, a_diff_waits_until_what_it_shows_is_durable, .init = setup_stored, .fini = teardown_stored,
     .timeout = 60) {
    svc_exec *x = running();
    cr_assert(x->journaled);
    char view[80];
    snprintf(view, sizeof view, "execution:%s", x->id);
    client cl;
    connect_client(&cl);
    call(&cl, "view:subscribe", "{\"view\":\"%s\"}", view);
    take(&cl);
    cr_assert_eq(cl.inits, 1);
    for (int i = 0; i < 2000 && svc->j_done < svc->j_mark; i++) run_for(1);
    cr_assert_eq(svc->j_done, svc->j_mark, "committed");
    atomic_store(&testvfs_hold, 1); /* the disk stalls */
    inject(x, 1);
    cr_assert_lt(svc->j_done, svc->j_mark, "its record waits for the disk");
    size_t n = json_array_size(cl.f.got);
    run_for(80); /* 16 rounds */
    cr_assert_eq(json_array_size(cl.f.got), n, "nothing sent before it is durable");
    atomic_store(&testvfs_hold, 0); /* the disk goes on */
    wait_msg(&cl);
    cr_assert_eq(cl.diffs, 1);
    json_t *buf = json_object_get(
        json_object_get(json_object_get(json_object_get(cl.value, "nodes"), "acc"), "state"), "buffer");
    cr_assert_eq(json_array_size(buf), 1, "%s", json_dumps(cl.value, JSON_COMPACT));
    free_client(&cl);
}

/* One client watches at most VIEW_MAX_PER_CLIENT views; past it a 429
 * that says so, and nothing is kept for the refused one. */
Test(views, a_client_watches_a_bounded_number_of_views) {
    svc_exec *x = running();
    client cl;
    connect_client(&cl);
    for (int n = 1; n <= VIEW_MAX_PER_CLIENT; n++) {
        json_t *a = call(&cl, "view:subscribe", "{\"view\":\"port:%s:a:out:%d\"}", x->id, n);
        cr_assert_null(json_object_get(a, "error"), "%s", json_string_value(json_object_get(a, "error")));
    }
    json_t *a = call(&cl, "view:subscribe", "{\"view\":\"port:%s:a:out:%d\"}", x->id, VIEW_MAX_PER_CLIENT + 1);
    cr_assert_str_eq(json_string_value(json_object_get(a, "code")), "WEIR_ELIMIT");
    cr_assert(strstr(json_string_value(json_object_get(a, "error")), "at most 256 views"));
    cr_assert_eq(svc->views.n_views, VIEW_MAX_PER_CLIENT, "the refused port view is not kept");
    a = call(&cl, "view:subscribe", "{\"view\":\"port:%s:a:out:1\"}", x->id);
    cr_assert_null(json_object_get(a, "error"), "subscribing again to one it watches is fine");
    inject(x, 1); /* every tap sees it */
    free_client(&cl);
    cr_assert_eq(svc->views.n_views, 0, "its port views went with it");
}

/* A connection that reads nothing cannot make the server queue a view's
 * value again and again by subscribing again and again: while it is
 * behind, subscribing sends nothing; once it drains, one init. */
Test(views, subscribing_again_and_again_while_behind_queues_nothing) {
    svc_exec *x = running();
    for (int i = 0; i < 20; i++) inject(x, i);
    char view[100];
    snprintf(view, sizeof view, "port:%s:a:out:20", x->id);
    client cl;
    connect_client(&cl);
    cl.f.backlog = VIEW_BACKLOG_BYTES + 1;
    for (int i = 0; i < 50; i++) {
        json_t *a = call(&cl, "view:subscribe", "{\"view\":\"%s\"}", view);
        cr_assert_null(json_object_get(a, "error"));
    }
    take(&cl);
    cr_assert_eq(cl.inits + cl.diffs, 0, "nothing queued while it is behind");
    run_for(30);
    take(&cl);
    cr_assert_eq(cl.inits + cl.diffs, 0, "nor in the rounds");
    cl.f.backlog = 0;
    wait_msg(&cl);
    run_for(30);
    take(&cl);
    cr_assert_eq(cl.inits, 1, "one init once it drained");
    cr_assert_eq(json_array_size(cl.value), 0, "(the port view taps from its subscribe on)");
    json_t *a = call(&cl, "view:subscribe", "{\"view\":\"execution:%s\",\"atTick\":0}", x->id);
    cr_assert_str_eq(json_string_value(json_object_get(a, "code")), "WEIR_ESTATE", "not stored (and not behind)");
    cl.f.backlog = VIEW_BACKLOG_BYTES + 1;
    a = call(&cl, "view:subscribe", "{\"view\":\"execution:%s\",\"atTick\":0}", x->id);
    cr_assert_str_eq(json_string_value(json_object_get(a, "code")), "WEIR_ELIMIT", "a view at a tick neither");
    free_client(&cl);
}

/* A port view's name is checked whole before it is taken apart. */
Test(views, malformed_port_view_names_are_refused) {
    client cl;
    connect_client(&cl);
    static const char *const bad[] = {"port:", "port:abc", "port::", "port:a:b", "port:a::c:1", "port:a:b::1", "port:a:b:c:"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *a = call(&cl, "view:subscribe", "{\"view\":\"%s\"}", bad[i]);
        cr_assert_str_eq(json_string_value(json_object_get(a, "code")), "WEIR_EINVAL", "%s", bad[i]);
    }
    free_client(&cl);
}

static void setup_few_views(void) {
    uv_loop_init(&loop);
    weir_service_config c;
    weir_service_config_defaults(&c);
    c.port = 0;
    c.log_level = "error";
    c.view_interval_ms = 5;
    c.max_views = 3;
    weir_error err;
    cr_assert_eq(weir_service_start(&loop, &c, &svc, &err), 0, "%s", err.message);
}

/* MAX_VIEWS bounds the instances of the whole server, whoever asks. */
Test(views_few, the_server_keeps_a_bounded_number_of_views, .init = setup_few_views, .fini = teardown) {
    svc_exec *x = running();
    client a, b;
    connect_client(&a);
    connect_client(&b);
    for (int n = 1; n <= 2; n++) cr_assert_null(json_object_get(call(&a, "view:subscribe", "{\"view\":\"port:%s:a:out:%d\"}", x->id, n), "error"));
    cr_assert_null(json_object_get(call(&b, "view:subscribe", "{\"view\":\"executions\"}"), "error"));
    json_t *r = call(&b, "view:subscribe", "{\"view\":\"graphs\"}");
    cr_assert_str_eq(json_string_value(json_object_get(r, "code")), "WEIR_ELIMIT");
    cr_assert(strstr(json_string_value(json_object_get(r, "error")), "at most 3 views at once (MAX_VIEWS"),
              "%s", json_string_value(json_object_get(r, "error")));
    cr_assert_null(json_object_get(call(&a, "view:subscribe", "{\"view\":\"executions\"}"), "error"),
                   "one the server has is shared");
    free_client(&a);
    free_client(&b);
}
