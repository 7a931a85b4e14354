/*
 * The virtual runtime performing unmocked http requests for real (SPEC
 * §4.5) through a realtime runtime on the test's loop, against a loopback
 * server in this file that answers only when the test says so.  Answers
 * wait for the virtual clock: they are delivered at the next tick after
 * they came back, in request order.  The loop is stepped until a condition
 * holds, never slept on; every test ends by destroying everything, running
 * the loop dry and checking nothing leaked.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "failalloc.h"
#include "rawnet.h"
#include "runtime/realtime.h"
#include "shell.h"

/* ------------------------------------------------------ the test server */

/* One request the server has read in full, waiting for the test to answer. */
typedef struct conn {
    uv_tcp_t tcp;
    char buf[4096];
    size_t len;
    char path[256];
    bool complete, answered, peer_closed;
} conn;

#define MAX_CONNS 16
static uv_loop_t loop;
static uv_tcp_t listener;
static int port;
static conn *conns[MAX_CONNS];
static int nconns;
static int nrequests;    /* complete requests read */
static int aborted;      /* connections the client closed before an answer */

static void conn_closed(uv_handle_t *h) { free(h->data); }

static void alloc_buf(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
    (void)suggested;
    conn *c = h->data;
    b->base = c->buf + c->len;
    b->len = sizeof c->buf - 1 - c->len;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
    (void)b;
    conn *c = st->data;
    if (n < 0) {
        if (!c->answered) aborted++;
        c->peer_closed = true;
        uv_read_stop(st);
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    if (!c->complete && strstr(c->buf, "\r\n\r\n")) { /* GET: no body */
        char method[16];
        cr_assert_eq(sscanf(c->buf, "%15s %255s", method, c->path), 2);
        cr_assert_str_eq(method, "GET");
        c->complete = true;
        nrequests++;
    }
}

static void on_connection(uv_stream_t *l, int status) {
    cr_assert_eq(status, 0);
    cr_assert_lt(nconns, MAX_CONNS);
    conn *c = calloc(1, sizeof *c);
    uv_tcp_init(&loop, &c->tcp);
    c->tcp.data = c;
    cr_assert_eq(uv_accept(l, (uv_stream_t *)&c->tcp), 0);
    conns[nconns++] = c;
    uv_read_start((uv_stream_t *)&c->tcp, alloc_buf, on_read);
}

static conn *request_for(const char *path) {
    for (int i = 0; i < nconns; i++)
        if (conns[i]->complete && strcmp(conns[i]->path, path) == 0) return conns[i];
    return NULL;
}

static bool has_request(const char *path) { return request_for(path) != NULL; }

/* The request for `path` not answered yet, or NULL. */
static conn *unanswered(const char *path) {
    for (int i = 0; i < nconns; i++)
        if (conns[i]->complete && !conns[i]->answered && strcmp(conns[i]->path, path) == 0) return conns[i];
    return NULL;
}

typedef struct write_req {
    uv_write_t w;
    char text[1024];
} write_req;

static void written(uv_write_t *w, int status) {
    (void)status;
    free(w->data);
}

/* Answer the request for `path` with 200 and a JSON body, Connection: close
 * (the client closes; the server closes everything at the end). */
static void answer(const char *path, const char *json_body) {
    conn *c = unanswered(path);
    cr_assert_not_null(c, "no request for %s waits", path);
    write_req *r = malloc(sizeof *r);
    int n = snprintf(r->text, sizeof r->text,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Served: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     path, strlen(json_body), json_body);
    r->w.data = r;
    uv_buf_t b = uv_buf_init(r->text, (unsigned)n);
    c->answered = true;
    cr_assert_eq(uv_write(&r->w, (uv_stream_t *)&c->tcp, &b, 1, written), 0);
}

static void server_start(void) {
    struct sockaddr_in addr;
    cr_assert_eq(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
    uv_tcp_init(&loop, &listener);
    cr_assert_eq(uv_tcp_bind(&listener, (struct sockaddr *)&addr, 0), 0);
    cr_assert_eq(uv_listen((uv_stream_t *)&listener, 16, on_connection), 0);
    struct sockaddr_in got;
    int len = sizeof got;
    uv_tcp_getsockname(&listener, (struct sockaddr *)&got, &len);
    port = ntohs(got.sin_port);
}

static void server_stop(void) {
    for (int i = 0; i < nconns; i++) uv_close((uv_handle_t *)&conns[i]->tcp, conn_closed);
    nconns = 0;
    uv_close((uv_handle_t *)&listener, NULL);
}

/* A port on 127.0.0.1 where nothing listens. */
static int closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

/* ------------------------------------------------- runtimes and execution */

static test_shell ts;
static weir_realtime *rt;
static weir_virtual *v;
static weir_exec *ex;
static int arrivals;
static bool replay_on_arrival; /* the arrived callback plays on with run */
static int replays_idle;       /* runs from the arrived callback that ended idle */

static void on_arrived(void *ud, weir_virtual *vv) {
    cr_assert_eq(ud, &ts);
    cr_assert_eq(vv, v);
    arrivals++;
    if (replay_on_arrival) {
        bool idle = false;
        weir_error err;
        cr_assert_eq(weir_virtual_run(vv, 0, &idle, &err), 0);
        replays_idle += idle;
    }
}

static void setup(void) {
    fa_install(0, 0); /* counting only: every weir allocation must be freed */
    cr_assert_eq(uv_loop_init(&loop), 0);
    ts_init(&ts, true);
    weir_realtime_options ro = {.allow_private = true}; /* the server is on loopback */
    cr_assert_eq(weir_realtime_create(&loop, &ro, &rt), 0);
    server_start();
    v = NULL;
    ex = NULL;
    arrivals = nrequests = aborted = replays_idle = 0;
    replay_on_arrival = false;
}

static void teardown(void) {
    weir_exec_destroy(ex);
    weir_virtual_destroy(v);
    weir_realtime_destroy(rt);
    ts_fini(&ts);
    server_stop();
    rn_finish_loop(&loop); /* loop dry and closed, no weir allocation left, no LSan leak */
}

TestSuite(virtual_http, .init = setup, .fini = teardown, .timeout = 60);

/* The ids of the effects requested, in order: a shim in front of the
 * virtual runtime's effect callback. */
static uint64_t ids[16];
static size_t nids;
static void (*virtual_effect)(void *ud, weir_exec *e, const weir_effect *eff);
static void record_effect(void *ud, weir_exec *e, const weir_effect *eff) {
    if (eff->kind != WEIR_EFFECT_LOG && nids < 16) ids[nids++] = eff->id;
    virtual_effect(ud, e, eff);
}

/* The virtual runtime (with or without `http`), mocks JSON text or NULL. */
static void make(bool real, const char *mocks_json) {
    json_t *mocks = mocks_json ? json_loads(mocks_json, 0, NULL) : NULL;
    weir_virtual_options o = {.tick_ms = 10, .mocks = mocks, .http = real ? rt : NULL, .arrived = on_arrived,
                              .ud = &ts};
    weir_error err;
    cr_assert_eq(weir_virtual_create(&o, &v, &err), 0, "%s", err.message);
    json_decref(mocks);
    weir_virtual_shell(v, &ts.sh);
    virtual_effect = ts.sh.effect;
    ts.sh.effect = record_effect;
    nids = 0;
}

/* get (http-request to this server's /p/{{value}}) → ok | bad. */
static void start(void) {
    char g[1024];
    snprintf(g, sizeof g,
             "{\"symbia\":\"1.0\",\"name\":\"t\",\"nodes\":["
             "{\"id\":\"get\",\"component\":\"symbia.io.http-request\",\"config\":{\"url\":\"http://127.0.0.1:%d/p/{{value}}\"}},"
             "{\"id\":\"ok\",\"component\":\"symbia.core.passthrough\",\"config\":{}},"
             "{\"id\":\"bad\",\"component\":\"symbia.core.passthrough\",\"config\":{}}],\"edges\":["
             "{\"source\":{\"node\":\"get\",\"port\":\"out\"},\"target\":{\"node\":\"ok\",\"port\":\"in\"}},"
             "{\"source\":{\"node\":\"get\",\"port\":\"error\"},\"target\":{\"node\":\"bad\",\"port\":\"in\"}}]}",
             port);
    weir_graph *gr = ts_graph(&ts, g);
    weir_exec_options o = {.id = "x1", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1};
    ex = ts_start(&ts, gr, &o);
    weir_graph_unref(gr);
    weir_virtual_bind(v, ex);
}

static void inject(const char *value_json) {
    cr_assert_eq(ts_inject(&ts, ex, "get", NULL, value_json, weir_virtual_now(v)), 0);
}

static void tick(void) {
    weir_error err;
    cr_assert_eq(weir_virtual_tick(v, &err), 0, "%s", err.message);
}

/* Compact JSON text of v (static buffer).  Not ts_dump: jansson allocates
 * through the counting allocator here, so its text is freed with fa_free. */
static const char *dump(json_t *val) {
    static char buf[65536];
    char *text = val ? json_dumps(val, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    cr_assert(!text || strlen(text) < sizeof buf, "dump buffer too small");
    snprintf(buf, sizeof buf, "%s", text ? text : "(null)");
    fa_free(text);
    return buf;
}

static size_t settled(void) { return json_array_size(ts.settled); }

/* What the i-th settled inject sent to `port` ("ok:out" / "bad:out"). */
static json_t *output(size_t i, const char *where) {
    return json_object_get(json_object_get(json_array_get(ts.settled, i), "outputs"), where);
}

/* Turn the loop for a while: enough for anything ready to happen. */
static void turn_loop(int steps) {
    for (int i = 0; i < steps; i++) rn_step(&loop);
}

/* ------------------------------------------------------------------ tests */

Test(virtual_http, an_unmocked_request_is_performed_for_real_and_delivered_on_the_next_tick) {
    make(true, "[]");
    start();
    inject("1");
    cr_assert_eq(weir_virtual_inflight(v), 1);
    cr_assert_eq(weir_virtual_pending(v), 1, "an in-flight request is pending");
    RN_WAIT_UNTIL(&loop, has_request("/p/1"));
    tick(); /* the clock moves while the request is out: nothing to deliver */
    cr_assert_eq(settled(), 0);

    answer("/p/1", "{\"n\":1}");
    RN_WAIT_UNTIL(&loop, arrivals == 1);
    cr_assert_eq(weir_virtual_inflight(v), 0);
    cr_assert_eq(weir_virtual_pending(v), 1, "answered, waiting for the clock");
    turn_loop(20);
    RN_WAIT_UNTIL(&loop, request_for("/p/1")->peer_closed);
    cr_assert_eq(settled(), 0, "an answer never arrives between ticks, however long the loop turns");
    cr_assert_eq(ts_count_events(&ts, "port:emit"), 0);
    cr_assert_eq(weir_virtual_ticks(v), 1);

    tick();
    cr_assert_eq(settled(), 1, "delivered at the tick after it came back");
    json_t *ok = output(0, "ok:out");
    cr_assert_not_null(ok, "%s", dump(json_array_get(ts.settled, 0)));
    cr_assert_eq(json_integer_value(json_object_get(ok, "status")), 200);
    cr_assert_str_eq(dump(json_object_get(ok, "body")), "{\"n\":1}", "the JSON body parsed");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(ok, "headers"), "x-served")), "/p/1");
    cr_assert_eq(weir_virtual_pending(v), 0);
    cr_assert_eq(weir__realtime_pending(rt), 0);
    cr_assert_eq(weir_virtual_ticks(v), 2);
    cr_assert_eq(weir_virtual_now(v), 20);
}

Test(virtual_http, answers_are_delivered_in_request_order) {
    make(true, NULL);
    start();
    inject("1");
    inject("2");
    cr_assert_eq(weir_virtual_inflight(v), 2);
    RN_WAIT_UNTIL(&loop, has_request("/p/1") && has_request("/p/2"));

    answer("/p/2", "{\"n\":2}"); /* the later request comes back first */
    RN_WAIT_UNTIL(&loop, arrivals == 1);
    cr_assert_eq(weir_virtual_inflight(v), 1);
    tick();
    tick();
    cr_assert_eq(settled(), 0, "held until the earlier request is delivered");
    cr_assert_eq(weir_virtual_pending(v), 2);

    answer("/p/1", "{\"n\":1}");
    RN_WAIT_UNTIL(&loop, arrivals == 2);
    cr_assert_eq(settled(), 0);
    tick();
    cr_assert_eq(settled(), 2, "both at the next tick");
    cr_assert_str_eq(dump(json_object_get(output(0, "ok:out"), "body")), "{\"n\":1}");
    cr_assert_str_eq(dump(json_object_get(output(1, "ok:out"), "body")), "{\"n\":2}");
    cr_assert_eq(weir_virtual_pending(v), 0);
}

Test(virtual_http, a_mock_wins_over_a_real_request) {
    char mocks[512];
    snprintf(mocks, sizeof mocks,
             "[{\"match\":{\"url\":\"http://127.0.0.1:%d/p/1\"},\"response\":{\"body\":{\"mocked\":true}}}]", port);
    make(true, mocks);
    start();
    inject("1");
    inject("2");
    cr_assert_eq(weir_virtual_inflight(v), 1, "only the unmocked one goes out");
    tick();
    cr_assert_eq(settled(), 1);
    cr_assert_str_eq(dump(json_object_get(output(0, "ok:out"), "body")), "{\"mocked\":true}");
    RN_WAIT_UNTIL(&loop, has_request("/p/2"));
    answer("/p/2", "{\"n\":2}");
    RN_WAIT_UNTIL(&loop, arrivals == 1);
    tick();
    cr_assert_eq(settled(), 2);
    cr_assert_str_eq(dump(json_object_get(output(1, "ok:out"), "body")), "{\"n\":2}");
    cr_assert_eq(nrequests, 1, "the mocked url never reached the server");
    cr_assert(!has_request("/p/1"));
}

Test(virtual_http, stop_cancels_the_transfer) {
    make(true, NULL);
    start();
    inject("1");
    RN_WAIT_UNTIL(&loop, has_request("/p/1"));
    cr_assert_eq(weir__realtime_pending(rt), 1);
    weir_error err;
    cr_assert_eq(weir_exec_stop(ex, weir_virtual_now(v), NULL, &err), 0, "%s", err.message);
    cr_assert_eq(weir_virtual_inflight(v), 0);
    cr_assert_eq(weir_virtual_pending(v), 0);
    cr_assert_eq(weir__realtime_pending(rt), 0, "the fetch was cancelled");
    RN_WAIT_UNTIL(&loop, aborted == 1); /* the client hung up unanswered */
    bool idle = false;
    cr_assert_eq(weir_virtual_run(v, 0, &idle, &err), 0);
    cr_assert(idle);
    cr_assert_eq(weir_virtual_ticks(v), 0, "nothing to play");
    cr_assert_eq(arrivals, 0);
}

Test(virtual_http, a_cancelled_earlier_request_releases_the_later_answers) {
    make(true, NULL);
    start();
    inject("1");
    inject("2");
    RN_WAIT_UNTIL(&loop, has_request("/p/1") && has_request("/p/2"));
    answer("/p/2", "{\"n\":2}");
    RN_WAIT_UNTIL(&loop, arrivals == 1);
    ts.sh.cancel(ts.sh.effect_ud, ex, 999999);
    cr_assert_eq(weir_virtual_inflight(v), 1, "a cancel for an unknown id changes nothing");
    cr_assert_eq(weir_virtual_pending(v), 2);
    /* the first request is cancelled, as the core calls the shell when a
     * component cancels its effect */
    cr_assert_eq(nids, 2);
    ts.sh.cancel(ts.sh.effect_ud, ex, ids[0]);
    cr_assert_eq(weir_virtual_inflight(v), 0);
    cr_assert_eq(weir_virtual_pending(v), 1, "the answer it held back is due now");
    RN_WAIT_UNTIL(&loop, aborted == 1); /* its transfer was aborted */
    cr_assert_eq(settled(), 0, "still not before a tick");
    tick();
    cr_assert_eq(settled(), 1);
    cr_assert_str_eq(dump(json_object_get(output(0, "ok:out"), "body")), "{\"n\":2}");
    cr_assert_eq(weir_virtual_pending(v), 0);
}

/* A runtime switch (SPEC §4.5): the old runtime is destroyed with one
 * request answered and held and one in flight, then the execution moves to a
 * new virtual runtime that has no `http`. */
Test(virtual_http, destroying_the_virtual_runtime_aborts_its_transfers) {
    make(true, NULL);
    start();
    inject("1");
    inject("2");
    RN_WAIT_UNTIL(&loop, has_request("/p/1") && has_request("/p/2"));
    answer("/p/2", "{\"n\":2}");
    RN_WAIT_UNTIL(&loop, arrivals == 1); /* one answered and held, one in flight */
    weir_virtual_destroy(v);
    v = NULL;
    cr_assert_eq(weir__realtime_pending(rt), 0);
    RN_WAIT_UNTIL(&loop, aborted == 1);
    turn_loop(10);
    cr_assert_eq(arrivals, 1, "a cancelled fetch never answers");

    make(false, "[]");
    weir_error err;
    cr_assert_eq(weir_exec_switch_runtime(ex, &ts.sh, 0, weir_virtual_now(v), "virtual", "virtual", &err), 0, "%s",
                 err.message);
    cr_assert_eq(weir_virtual_pending(v), 0, "requests in flight are not performed again by the new runtime");
    cr_assert_eq(settled(), 2, "they failed at the switch");
    cr_assert(strstr(dump(output(0, "bad:out")), "in flight when the execution switched"), "%s",
              dump(output(0, "bad:out")));
    cr_assert_eq(nrequests, 2, "nothing more went out");
}

Test(virtual_http, without_http_an_unmocked_request_still_fails) {
    make(false, "[]");
    start();
    inject("9");
    cr_assert_eq(weir_virtual_inflight(v), 0);
    tick();
    json_t *bad = output(0, "bad:out");
    cr_assert_not_null(bad, "%s", dump(ts_last_settled(&ts)));
    char want[128];
    snprintf(want, sizeof want, "no mock matches GET http://127.0.0.1:%d/p/9", port);
    cr_assert(strstr(dump(bad), want), "%s", dump(bad));
    turn_loop(10);
    cr_assert_eq(nconns, 0, "nothing went out");
}

Test(virtual_http, a_failed_real_request_is_delivered_as_a_failure_at_a_tick) {
    make(true, NULL);
    int closed = closed_port();
    char g[1024];
    snprintf(g, sizeof g,
             "{\"symbia\":\"1.0\",\"name\":\"t\",\"nodes\":["
             "{\"id\":\"get\",\"component\":\"symbia.io.http-request\",\"config\":{\"url\":\"http://127.0.0.1:%d/\"}},"
             "{\"id\":\"bad\",\"component\":\"symbia.core.passthrough\",\"config\":{}}],\"edges\":["
             "{\"source\":{\"node\":\"get\",\"port\":\"error\"},\"target\":{\"node\":\"bad\",\"port\":\"in\"}}]}",
             closed);
    weir_graph *gr = ts_graph(&ts, g);
    weir_exec_options o = {.id = "x1", .completion = WEIR_COMPLETION_NEVER, .timeout_ms = -1};
    ex = ts_start(&ts, gr, &o);
    weir_graph_unref(gr);
    weir_virtual_bind(v, ex);
    inject("1");
    RN_WAIT_UNTIL(&loop, arrivals == 1);
    cr_assert_eq(settled(), 0);
    tick();
    json_t *bad = output(0, "bad:out");
    cr_assert_not_null(bad, "%s", dump(ts_last_settled(&ts)));
    cr_assert(strstr(dump(bad), "connection refused"), "%s", dump(bad));
}

Test(virtual_http, run_is_not_idle_while_a_request_is_in_flight) {
    make(true, NULL);
    start();
    inject("1");
    weir_error err;
    bool idle = true;
    cr_assert_eq(weir_virtual_run(v, 0, &idle, &err), 0);
    cr_assert(!idle, "a request is in flight");
    cr_assert_eq(weir_virtual_ticks(v), 0, "run does not wait, nor make time pass for nothing");
    RN_WAIT_UNTIL(&loop, has_request("/p/1"));
    cr_assert_eq(weir_virtual_run(v, 0, &idle, &err), 0);
    cr_assert(!idle);

    replay_on_arrival = true; /* a shell playing on: run again when an answer is back */
    answer("/p/1", "{\"n\":1}");
    RN_WAIT_UNTIL(&loop, arrivals == 1);
    cr_assert_eq(replays_idle, 1, "the run after the answer delivered it and ended idle");
    cr_assert_eq(settled(), 1);
    cr_assert_eq(weir_virtual_ticks(v), 1, "delivered at the next tick");
    cr_assert_eq(weir_virtual_run(v, 0, &idle, &err), 0);
    cr_assert(idle);
}

/* Three requests whose answers come back 3, 1, 2 with ticks between; the
 * events as text (NEW, malloc'd). */
static char *scenario(void) {
    make(true, NULL);
    start();
    arrivals = 0;
    inject("1");
    inject("2");
    inject("3");
    RN_WAIT_UNTIL(&loop, unanswered("/p/1") && unanswered("/p/2") && unanswered("/p/3"));
    answer("/p/3", "{\"n\":3}");
    RN_WAIT_UNTIL(&loop, arrivals == 1);
    tick();
    cr_assert_eq(settled(), 0);
    answer("/p/1", "{\"n\":1}");
    RN_WAIT_UNTIL(&loop, arrivals == 2);
    tick();
    cr_assert_eq(settled(), 1, "the first, alone: the second is still out");
    answer("/p/2", "{\"n\":2}");
    RN_WAIT_UNTIL(&loop, arrivals == 3);
    tick();
    cr_assert_eq(settled(), 3);
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(json_integer_value(json_object_get(json_object_get(output(i, "ok:out"), "body"), "n")),
                     (json_int_t)i + 1);
    char *text = strdup(dump(ts.events));
    weir_exec_destroy(ex);
    ex = NULL;
    weir_virtual_destroy(v);
    v = NULL;
    json_array_clear(ts.events);
    json_array_clear(ts.settled);
    return text;
}

Test(virtual_http, the_same_arrival_order_gives_the_same_events) {
    char *a = scenario();
    char *b = scenario();
    cr_assert_str_eq(a, b);
    cr_assert_not_null(strstr(a, "\"port:emit\""), "a real event stream: %s", a);
    free(a);
    free(b);
}
