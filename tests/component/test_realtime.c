/*
 * The realtime runtime through its shell callbacks, without the core: effects
 * are hand-built, executions are fake pointers, and resolutions are caught by
 * a test resolver (weir__realtime_set_resolver).  http effects go to tiny
 * HTTP servers running on the same loop on 127.0.0.1 / 127.0.0.2.  The loop
 * is stepped until a condition holds, never slept on.  Every test ends with
 * finish(): destroy, drain the loop, uv_loop_close() == 0 and no weir
 * allocation left.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>

#include "failalloc.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "runtime/realtime.h"
#include "weir/weir.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_LSAN 1
#endif
#endif
#ifdef HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

#define EXEC_A ((weir_exec *)(uintptr_t)0xa000)
#define EXEC_B ((weir_exec *)(uintptr_t)0xb000)
#define BOUND_MS 10000 /* generous bound for every wait */


/* ------------------------------------------------------------ resolutions */

typedef struct resolution {
    weir_exec *exec;
    uint64_t id;
    json_t *result; /* NULL for null */
    char *error;
    int64_t now_ms;
    uint64_t at_ns;
} resolution;

#define MAX_RES 1024
static resolution res[MAX_RES];
static int nres;
static int in_effect; /* >0 while the test is inside shell.effect/cancel */
static int resolved_inside_effect;
static void (*on_resolve)(const resolution *r);
static int resolve_rc;

static int test_resolve(weir_exec *e, uint64_t id, json_t *result, const char *error, int64_t now_ms,
                        weir_error *err) {
    (void)err;
    if (in_effect) resolved_inside_effect++;
    cr_assert_lt(nres, MAX_RES);
    resolution *r = &res[nres++];
    r->exec = e;
    r->id = id;
    r->result = result ? json_incref(result) : NULL;
    r->error = error ? strdup(error) : NULL;
    r->now_ms = now_ms;
    r->at_ns = uv_hrtime();
    if (on_resolve) on_resolve(r);
    return resolve_rc;
}

static resolution *find_res(weir_exec *e, uint64_t id) {
    for (int i = 0; i < nres; i++)
        if (res[i].exec == e && res[i].id == id) return &res[i];
    return NULL;
}

static int count_res(weir_exec *e, uint64_t id) {
    int n = 0;
    for (int i = 0; i < nres; i++) n += res[i].exec == e && res[i].id == id;
    return n;
}

/* ---------------------------------------------------------------- the loop */

static uv_loop_t loop;
static uv_timer_t watchdog; /* unref'd: wakes UV_RUN_ONCE, never keeps the loop alive */
static weir_realtime *rt;
static weir_shell shell;

static void watchdog_tick(uv_timer_t *t) { (void)t; }

/* Step the loop until cond() holds; fail the test after BOUND_MS. */
#define RUN_UNTIL(cond)                                                                           \
    do {                                                                                          \
        uint64_t deadline_ = uv_hrtime() + (uint64_t)BOUND_MS * 1000000;                          \
        while (!(cond)) {                                                                         \
            cr_assert_lt(uv_hrtime(), deadline_, "timed out waiting for: %s", #cond);             \
            uv_run(&loop, UV_RUN_ONCE);                                                           \
        }                                                                                         \
    } while (0)

static void make_runtime(const weir_realtime_options *opts) {
    cr_assert_eq(weir_realtime_create(&loop, opts, &rt), 0);
    weir__realtime_set_resolver(rt, test_resolve);
    memset(&shell, 0, sizeof shell);
    weir_realtime_shell(rt, &shell);
    cr_assert_eq(shell.effect_ud, rt);
    cr_assert_not_null(shell.effect);
    cr_assert_not_null(shell.cancel);
    cr_assert_not_null(shell.clock_ns);
}

static void effect(weir_exec *e, uint64_t id, weir_effect_kind kind, json_t *payload /* STOLEN */) {
    weir_effect eff = {.id = id, .kind = kind, .execution_id = "exec-1", .node_id = "n1",
                       .payload = payload, .requested_ms = 0};
    in_effect++;
    shell.effect(shell.effect_ud, e, &eff);
    in_effect--;
    json_decref(payload);
}

static void cancel(weir_exec *e, uint64_t id) {
    in_effect++;
    shell.cancel(shell.effect_ud, e, id);
    in_effect--;
}

static void timer(weir_exec *e, uint64_t id, int ms) {
    effect(e, id, WEIR_EFFECT_TIMER, json_pack("{s:i}", "delayMs", ms));
}

/* headers STOLEN (NULL: none); body NULL: none. */
static void http(weir_exec *e, uint64_t id, const char *method, const char *url, json_t *headers,
                 const char *body, int timeout_ms) {
    json_t *p = json_pack("{s:s, s:s, s:o, s:i}", "method", method, "url", url, "headers",
                          headers ? headers : json_object(), "timeoutMs", timeout_ms);
    cr_assert_not_null(p);
    if (body) json_object_set_new(p, "body", json_string(body));
    effect(e, id, WEIR_EFFECT_HTTP, p);
}

static resolution *wait_res(weir_exec *e, uint64_t id) {
    RUN_UNTIL(find_res(e, id) != NULL);
    return find_res(e, id);
}

/* Step the loop until a private 30 ms timer fires: lets anything already due
 * (0 ms timers, deferred failures) run. */
static bool guard_fired;
static void guard_due(uv_timer_t *t) {
    guard_fired = true;
    uv_close((uv_handle_t *)t, NULL);
}
static void timer_settle_guard(void) {
    static uv_timer_t t;
    guard_fired = false;
    uv_timer_init(&loop, &t);
    uv_timer_start(&t, guard_due, 30, 0);
    RUN_UNTIL(guard_fired);
}

/* ------------------------------------------------------- the test servers */

typedef struct conn conn;
typedef struct server {
    uv_tcp_t tcp;
    bool started;
    char ip[32];
    int port;
    int connections, requests, closed_conns;
    char last_method[16];
    char last_path[1024];
    char *last_body;
    json_t *last_headers;
    int redirect_status;
    char redirect_to[1024];
    conn *conns;
} server;

struct conn {
    uv_tcp_t tcp;
    server *srv;
    char *buf;
    size_t len;
    bool answered;
    conn *prev, *next;
};

static server srv1, srv2;

static void conn_closed(uv_handle_t *h) {
    conn *c = h->data;
    server *s = c->srv;
    if (c->prev) c->prev->next = c->next;
    else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    s->closed_conns++;
    free(c->buf);
    free(c);
}

static void conn_close(conn *c) {
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

typedef struct write_req {
    uv_write_t w;
    conn *c;
    char *out;
} write_req;

static void written(uv_write_t *w, int status) {
    (void)status;
    write_req *r = (write_req *)w;
    conn_close(r->c);
    free(r->out);
    free(r);
}

/* Send a response and close.  extra: header lines each ending in \r\n. */
static void reply(conn *c, int status, const char *extra, const char *body, size_t blen, bool with_length) {
    char head[2048];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d Test\r\nConnection: close\r\n%s", status, extra ? extra : "");
    if (with_length) n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", blen);
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    char *out = malloc((size_t)n + blen);
    memcpy(out, head, (size_t)n);
    if (blen) memcpy(out + n, body, blen);
    write_req *r = malloc(sizeof *r);
    r->c = c;
    r->out = out;
    uv_buf_t b = uv_buf_init(out, (unsigned)((size_t)n + blen));
    c->answered = true;
    cr_assert_eq(uv_write(&r->w, (uv_stream_t *)&c->tcp, &b, 1, written), 0);
}

static void handle(conn *c, const char *method, const char *path, json_t *headers, const char *body, size_t blen) {
    server *s = c->srv;
    s->requests++;
    snprintf(s->last_method, sizeof s->last_method, "%s", method);
    snprintf(s->last_path, sizeof s->last_path, "%s", path);
    free(s->last_body);
    s->last_body = strndup(body, blen);
    json_decref(s->last_headers);
    s->last_headers = json_incref(headers);

    if (strncmp(path, "/echo", 5) == 0) {
        json_t *echo = json_pack("{s:s, s:s, s:O, s:s%}", "method", method, "path", path, "headers", headers,
                                 "body", body, blen);
        char *text = json_dumps(echo, JSON_COMPACT);
        reply(c, 200, "Content-Type: application/json\r\nX-Test: yes\r\nX-Multi: a\r\nX-Multi: b\r\n", text,
              strlen(text), true);
        fa_free(text); /* jansson allocates through the counting allocator */
        json_decref(echo);
    } else if (strncmp(path, "/status/", 8) == 0) {
        reply(c, atoi(path + 8), "Content-Type: text/plain\r\n", "teapot", 6, true);
    } else if (strcmp(path, "/hang") == 0) {
        /* never answers */
    } else if (strcmp(path, "/redirect") == 0) {
        char loc[1200];
        snprintf(loc, sizeof loc, "Location: %s\r\n", s->redirect_to);
        reply(c, s->redirect_status, loc, "moved", 5, true);
    } else if (strcmp(path, "/loop") == 0) {
        reply(c, 302, "Location: /loop\r\n", "", 0, true);
    } else if (strcmp(path, "/big") == 0 || strcmp(path, "/big-unsized") == 0) {
        char big[5000];
        memset(big, 'x', sizeof big);
        reply(c, 200, NULL, big, sizeof big, strcmp(path, "/big") == 0);
    } else if (strcmp(path, "/binary") == 0) {
        reply(c, 200, "X-Latin: caf\xe9\r\n", "ok \xff\xfe end", 9, true);
    } else {
        reply(c, 404, NULL, "not found", 9, true);
    }
}

/* Parse what has arrived; answer once a whole request is there. */
static void try_request(conn *c) {
    if (c->answered) return;
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!end) return;
    size_t head_len = (size_t)(end - c->buf) + 4;
    char method[16] = "", path[1024] = "";
    if (sscanf(c->buf, "%15s %1023s", method, path) != 2) return;
    json_t *headers = json_object();
    size_t clen = 0;
    char *line = memchr(c->buf, '\n', head_len) + 1;
    while (line < end) {
        char *eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
        char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon) {
            char name[256];
            size_t nl = (size_t)(colon - line);
            if (nl >= sizeof name) nl = sizeof name - 1;
            for (size_t i = 0; i < nl; i++) name[i] = (char)tolower((unsigned char)line[i]);
            name[nl] = '\0';
            char *v = colon + 1;
            while (*v == ' ') v++;
            json_object_set_new(headers, name, json_stringn(v, (size_t)(eol - v)));
            if (strcmp(name, "content-length") == 0) clen = strtoul(v, NULL, 10);
        }
        line = eol + 2;
    }
    if (c->len >= head_len + clen) handle(c, method, path, headers, c->buf + head_len, clen);
    json_decref(headers);
}

static void alloc_buf(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
    (void)h;
    b->base = malloc(suggested);
    b->len = suggested;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
    conn *c = st->data;
    fa_suspend(1); /* the server is not under test */
    if (n < 0) {
        free(b->base);
        conn_close(c);
        fa_suspend(0);
        return;
    }
    if (n > 0) {
        c->buf = realloc(c->buf, c->len + (size_t)n + 1);
        memcpy(c->buf + c->len, b->base, (size_t)n);
        c->len += (size_t)n;
        c->buf[c->len] = '\0';
        try_request(c);
    }
    free(b->base);
    fa_suspend(0);
}

static void on_connection(uv_stream_t *l, int status) {
    server *s = l->data;
    cr_assert_eq(status, 0);
    conn *c = calloc(1, sizeof *c);
    c->srv = s;
    uv_tcp_init(&loop, &c->tcp);
    c->tcp.data = c;
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    cr_assert_eq(uv_accept(l, (uv_stream_t *)&c->tcp), 0);
    s->connections++;
    uv_read_start((uv_stream_t *)&c->tcp, alloc_buf, on_read);
}

static void server_start(server *s, const char *ip) {
    memset(s, 0, sizeof *s);
    snprintf(s->ip, sizeof s->ip, "%s", ip);
    struct sockaddr_in addr;
    cr_assert_eq(uv_ip4_addr(ip, 0, &addr), 0);
    uv_tcp_init(&loop, &s->tcp);
    s->tcp.data = s;
    cr_assert_eq(uv_tcp_bind(&s->tcp, (struct sockaddr *)&addr, 0), 0);
    cr_assert_eq(uv_listen((uv_stream_t *)&s->tcp, 64, on_connection), 0);
    struct sockaddr_in got;
    int len = sizeof got;
    uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&got, &len);
    s->port = ntohs(got.sin_port);
    s->started = true;
}

static void server_stop(server *s) {
    if (!s->started) return;
    s->started = false;
    for (conn *c = s->conns; c; c = c->next) conn_close(c);
    uv_close((uv_handle_t *)&s->tcp, NULL);
    free(s->last_body);
    s->last_body = NULL;
    json_decref(s->last_headers);
    s->last_headers = NULL;
}

static char *url(const server *s, const char *path) {
    static char buf[4][1200];
    static int i;
    char *b = buf[i++ % 4];
    snprintf(b, sizeof buf[0], "http://%s:%d%s", s->ip, s->port, path);
    return b;
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

/* --------------------------------------------------------- setup / finish */

static void setup(void) {
    fa_install(0, 0); /* counting only until a test arms it */
    cr_assert_eq(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &watchdog);
    uv_timer_start(&watchdog, watchdog_tick, 20, 20);
    uv_unref((uv_handle_t *)&watchdog);
}

/* Destroy everything, run the loop dry, check nothing is left. */
static void finish(void) {
    weir_realtime_destroy(rt);
    rt = NULL;
    server_stop(&srv1);
    server_stop(&srv2);
    for (int i = 0; i < nres; i++) {
        json_decref(res[i].result);
        free(res[i].error);
    }
    nres = 0;
    RUN_UNTIL(!uv_loop_alive(&loop));
    uv_close((uv_handle_t *)&watchdog, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(uv_loop_close(&loop), 0, "a uv handle was left open");
    cr_assert_eq(fa_live(), 0, "%ld weir allocations leaked", fa_live());
#ifdef HAVE_LSAN
    /* Leaks outside weir's allocator (curl, libuv) fail the test too. */
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "LeakSanitizer found leaks (see above)");
#endif
}

static const weir_realtime_options allow_private = {.allow_private = true};

TestSuite(realtime, .init = setup, .timeout = 60);

/* ------------------------------------------------------------------ basics */

Test(realtime, create_destroy_and_null_arguments) {
    cr_expect_eq(weir_realtime_create(NULL, NULL, &rt), WEIR_EINVAL);
    cr_expect_null(rt);
    cr_expect_eq(weir_realtime_create(&loop, NULL, NULL), WEIR_EINVAL);
    weir_realtime_destroy(NULL);
    weir_realtime_forget(NULL, EXEC_A);
    make_runtime(NULL);
    weir_realtime_shell(rt, NULL);
    finish();
}

Test(realtime, shell_leaves_the_embedders_half_alone) {
    make_runtime(NULL);
    weir_shell s = {.ud = (void *)&s, .event = NULL};
    weir_realtime_shell(rt, &s);
    cr_expect_eq(s.ud, (void *)&s);
    cr_expect_eq(s.effect_ud, rt);
    finish();
}

Test(realtime, clocks) {
    make_runtime(NULL);
    int64_t a = shell.clock_ns(shell.effect_ud);
    int64_t b = shell.clock_ns(shell.effect_ud);
    cr_expect_geq(b, a);
    cr_expect_gt(a, 0);
    int64_t now = weir_realtime_now(rt);
    int64_t wall = (int64_t)time(NULL) * 1000;
    cr_expect(now >= wall - 2000 && now <= wall + 2000, "now %lld vs wall %lld", (long long)now, (long long)wall);
    finish();
}

/* ------------------------------------------------------------------ timers */

Test(realtime, timer_resolves_after_its_delay) {
    make_runtime(NULL);
    uint64_t t0 = uv_hrtime();
    timer(EXEC_A, 7, 50);
    cr_expect_eq(nres, 0, "never resolved inside effect()");
    cr_expect_eq(weir__realtime_pending(rt), 1);
    resolution *r = wait_res(EXEC_A, 7);
    uint64_t elapsed_ms = (r->at_ns - t0) / 1000000;
    cr_expect_geq(elapsed_ms, 49, "fired after %llu ms", (unsigned long long)elapsed_ms);
    cr_expect_lt(elapsed_ms, 5000);
    cr_expect_null(r->result);
    cr_expect_null(r->error);
    cr_expect_eq(r->exec, EXEC_A);
    int64_t wall = weir_realtime_now(rt);
    cr_expect(r->now_ms <= wall && r->now_ms > wall - 5000);
    cr_expect_eq(weir__realtime_pending(rt), 0);
    cr_expect_eq(resolved_inside_effect, 0);
    finish();
}

Test(realtime, timers_resolve_in_due_order) {
    make_runtime(NULL);
    timer(EXEC_A, 1, 60);
    timer(EXEC_A, 2, 0);
    timer(EXEC_B, 3, 30);
    cr_expect_eq(nres, 0, "a 0 ms timer still waits for the loop");
    RUN_UNTIL(nres == 3);
    cr_expect_eq(res[0].id, 2);
    cr_expect_eq(res[1].id, 3);
    cr_expect_eq(res[1].exec, EXEC_B);
    cr_expect_eq(res[2].id, 1);
    finish();
}

Test(realtime, cancel_prevents_resolution) {
    make_runtime(NULL);
    timer(EXEC_A, 1, 10);
    timer(EXEC_A, 2, 40);
    timer(EXEC_B, 1, 10); /* same id, other execution: not cancelled */
    cancel(EXEC_A, 1);
    cancel(EXEC_A, 99); /* unknown: ignored */
    cr_expect_eq(weir__realtime_pending(rt), 2);
    wait_res(EXEC_A, 2);
    cr_expect_eq(count_res(EXEC_A, 1), 0);
    cr_expect_eq(count_res(EXEC_B, 1), 1);
    cancel(EXEC_A, 2); /* already resolved: ignored */
    cr_expect_eq(nres, 2);
    finish();
}

Test(realtime, bad_timer_payload_fails_asynchronously) {
    make_runtime(NULL);
    effect(EXEC_A, 5, WEIR_EFFECT_TIMER, json_pack("{s:s}", "delayMs", "soon"));
    effect(EXEC_A, 6, WEIR_EFFECT_TIMER, json_null());
    cr_expect_eq(nres, 0);
    resolution *r = wait_res(EXEC_A, 5);
    cr_assert_not_null(r->error);
    cr_expect(strstr(r->error, "delayMs") != NULL, "%s", r->error);
    cr_expect_not_null(wait_res(EXEC_A, 6)->error);
    cr_expect_eq(resolved_inside_effect, 0);
    finish();
}

Test(realtime, many_timers_with_half_cancelled) {
    make_runtime(NULL);
    for (uint64_t i = 1; i <= 600; i++) timer(i % 2 ? EXEC_A : EXEC_B, i, (int)(i % 7));
    cr_expect_eq(weir__realtime_pending(rt), 600);
    for (uint64_t i = 2; i <= 600; i += 2) cancel(EXEC_B, i);
    cr_expect_eq(weir__realtime_pending(rt), 300);
    RUN_UNTIL(weir__realtime_pending(rt) == 0);
    cr_expect_eq(nres, 300);
    for (int i = 0; i < nres; i++) cr_expect_eq(res[i].exec, EXEC_A);
    finish();
}

/* ------------------------------------------------------------- log, invoke */

static int logs;
static char last_log[256];
static void log_cb(void *ud, const weir_effect *eff) {
    cr_expect_eq(ud, (void *)&logs);
    logs++;
    snprintf(last_log, sizeof last_log, "%s", json_string_value(json_object_get(eff->payload, "message")));
}

Test(realtime, log_is_fire_and_forget) {
    weir_realtime_options o = {.log = log_cb, .log_ud = &logs};
    make_runtime(&o);
    effect(EXEC_A, 1, WEIR_EFFECT_LOG, json_pack("{s:s, s:s}", "level", "info", "message", "hello"));
    cr_expect_eq(logs, 1);
    cr_expect_str_eq(last_log, "hello");
    cr_expect_eq(weir__realtime_pending(rt), 0);
    timer(EXEC_A, 2, 20);
    wait_res(EXEC_A, 2);
    cr_expect_eq(count_res(EXEC_A, 1), 0, "a log effect is never resolved");
    finish();
}

Test(realtime, log_without_callback_is_ignored) {
    make_runtime(NULL);
    effect(EXEC_A, 1, WEIR_EFFECT_LOG, json_pack("{s:s}", "message", "x"));
    cr_expect_eq(weir__realtime_pending(rt), 0);
    finish();
}

/* Without a component host (weir_realtime_options.host) invoke fails, saying so. */
Test(realtime, invoke_fails_on_the_next_iteration) {
    make_runtime(NULL);
    effect(EXEC_A, 3, WEIR_EFFECT_INVOKE, json_pack("{s:s}", "component", "user.square"));
    effect(EXEC_A, 4, (weir_effect_kind)77, json_object());
    cr_expect_eq(nres, 0);
    resolution *r = wait_res(EXEC_A, 3);
    cr_expect_str_eq(r->error, "user components need the component host (weir serve runs one; a runtime made "
                               "without weir_realtime_options.host cannot run them)");
    cr_expect_null(r->result);
    cr_expect_not_null(wait_res(EXEC_A, 4)->error);
    finish();
}

Test(realtime, cancelled_invoke_is_never_resolved) {
    make_runtime(NULL);
    effect(EXEC_A, 3, WEIR_EFFECT_INVOKE, json_object());
    cancel(EXEC_A, 3);
    timer(EXEC_A, 4, 10);
    wait_res(EXEC_A, 4);
    cr_expect_eq(count_res(EXEC_A, 3), 0);
    finish();
}

/* ----------------------------------------------------------------- forget */

Test(realtime, forget_cancels_everything_of_one_execution) {
    make_runtime(&allow_private);
    server_start(&srv1, "127.0.0.1");
    http(EXEC_A, 3, "GET", url(&srv1, "/hang"), NULL, NULL, 5000);
    RUN_UNTIL(srv1.requests == 1); /* the http request is really in flight */
    timer(EXEC_A, 1, 5);
    effect(EXEC_A, 2, WEIR_EFFECT_INVOKE, json_object());
    timer(EXEC_B, 1, 40);
    cr_expect_eq(weir__realtime_pending(rt), 4);
    in_effect++;
    weir_realtime_forget(rt, EXEC_A);
    in_effect--;
    cr_expect_eq(weir__realtime_pending(rt), 1);
    wait_res(EXEC_B, 1);
    cr_expect_eq(nres, 1, "only EXEC_B's timer resolved");
    RUN_UNTIL(srv1.closed_conns == 1); /* the transfer was torn down */
    finish();
}

/* ------------------------------------------------------------------- http */

Test(realtime, http_get_returns_status_headers_and_raw_body) {
    make_runtime(&allow_private);
    server_start(&srv1, "127.0.0.1");
    http(EXEC_A, 1, "GET", url(&srv1, "/echo?x=1"), json_pack("{s:s, s:s, s:i}", "X-Custom", "abc", "Accept",
                                                              "application/json", "X-Num", 42),
         NULL, 5000);
    cr_expect_eq(nres, 0);
    resolution *r = wait_res(EXEC_A, 1);
    cr_assert_null(r->error, "%s", r->error);
    cr_assert(json_is_object(r->result));
    cr_expect_eq(json_integer_value(json_object_get(r->result, "status")), 200);
    json_t *h = json_object_get(r->result, "headers");
    cr_expect_str_eq(json_string_value(json_object_get(h, "content-type")), "application/json");
    cr_expect_str_eq(json_string_value(json_object_get(h, "x-test")), "yes");
    cr_expect_str_eq(json_string_value(json_object_get(h, "x-multi")), "a, b");
    json_t *body = json_object_get(r->result, "body");
    cr_assert(json_is_string(body), "the body is raw text");
    json_t *echo = json_loads(json_string_value(body), 0, NULL);
    cr_assert_not_null(echo);
    cr_expect_str_eq(json_string_value(json_object_get(echo, "method")), "GET");
    cr_expect_str_eq(json_string_value(json_object_get(echo, "path")), "/echo?x=1");
    json_t *sent = json_object_get(echo, "headers");
    cr_expect_str_eq(json_string_value(json_object_get(sent, "x-custom")), "abc");
    cr_expect_str_eq(json_string_value(json_object_get(sent, "x-num")), "42");
    cr_expect_str_eq(json_string_value(json_object_get(sent, "accept")), "application/json");
    cr_expect_null(json_object_get(sent, "expect"));
    json_decref(echo);
    cr_expect_eq(srv1.connections, 1);
    finish();
}

/* SPEC §7.1: a request performed again after recovery carries the same
 * Idempotency-Key (<executionId>:<effect id>); the payload may name its own,
 * or send none with null. */
Test(realtime, http_requests_carry_an_idempotency_key) {
    make_runtime(&allow_private);
    server_start(&srv1, "127.0.0.1");
    http(EXEC_A, (7ull << 32) | 3, "GET", url(&srv1, "/echo"), NULL, NULL, 5000);
    wait_res(EXEC_A, (7ull << 32) | 3);
    cr_expect_str_eq(json_string_value(json_object_get(srv1.last_headers, "idempotency-key")), "exec-1:30064771075");
    http(EXEC_A, 2, "GET", url(&srv1, "/echo"), json_pack("{s:s}", "IDEMPOTENCY-KEY", "mine"), NULL, 5000);
    wait_res(EXEC_A, 2);
    cr_expect_str_eq(json_string_value(json_object_get(srv1.last_headers, "idempotency-key")), "mine");
    http(EXEC_A, 4, "GET", url(&srv1, "/echo"), json_pack("{s:n}", "Idempotency-Key"), NULL, 5000);
    wait_res(EXEC_A, 4);
    cr_expect_null(json_object_get(srv1.last_headers, "idempotency-key"), "null: not sent");
    finish();
}

Test(realtime, http_post_sends_the_body) {
    make_runtime(&allow_private);
    server_start(&srv1, "127.0.0.1");
    const char *json_body = "{\"a\":1,\"b\":[true,null]}";
    http(EXEC_A, 1, "post", url(&srv1, "/echo"), json_pack("{s:s}", "Content-Type", "application/json"), json_body,
         5000);
    resolution *r = wait_res(EXEC_A, 1);
    cr_assert_null(r->error, "%s", r->error);
    cr_expect_str_eq(srv1.last_method, "POST");
    cr_expect_str_eq(srv1.last_body, json_body);
    cr_expect_str_eq(json_string_value(json_object_get(srv1.last_headers, "content-type")), "application/json");
    json_t *echo = json_loads(json_string_value(json_object_get(r->result, "body")), 0, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(echo, "body")), json_body);
    json_decref(echo);
    finish();
}

Test(realtime, http_put_delete_and_default_content_type) {
    make_runtime(&allow_private);
    server_start(&srv1, "127.0.0.1");
    http(EXEC_A, 1, "PUT", url(&srv1, "/echo"), json_pack("{s:s}", "Content-Length", "999"), "plain words", 5000);
    wait_res(EXEC_A, 1);
    cr_expect_str_eq(srv1.last_method, "PUT");
    cr_expect_str_eq(srv1.last_body, "plain words");
    cr_expect_str_eq(json_string_value(json_object_get(srv1.last_headers, "content-length")), "11",
                     "a stated Content-Length is ignored");
    cr_expect_str_eq(json_string_value(json_object_get(srv1.last_headers, "content-type")),
                     "text/plain;charset=UTF-8");
    http(EXEC_A, 2, "DELETE", url(&srv1, "/echo"), NULL, NULL, 5000);
    resolution *r = wait_res(EXEC_A, 2);
    cr_assert_null(r->error, "%s", r->error);
    cr_expect_str_eq(srv1.last_method, "DELETE");
    cr_expect_str_eq(srv1.last_body, "");
    cr_expect_null(json_object_get(srv1.last_headers, "content-type"));
    /* an empty POST: Content-Length 0 and no invented type */
    http(EXEC_A, 3, "POST", url(&srv1, "/echo"), NULL, NULL, 5000);
    wait_res(EXEC_A, 3);
    cr_expect_str_eq(json_string_value(json_object_get(srv1.last_headers, "content-length")), "0");
    cr_expect_null(json_object_get(srv1.last_headers, "content-type"));
    finish();
}

Test(realtime, http_non_2xx_is_a_result_not_an_error) {
    make_runtime(&allow_private);
    server_start(&srv1, "127.0.0.1");
    http(EXEC_A, 1, "GET", url(&srv1, "/status/418"), NULL, NULL, 5000);
    http(EXEC_A, 2, "GET", url(&srv1, "/nowhere"), NULL, NULL, 5000);
    resolution *r = wait_res(EXEC_A, 1);
    cr_assert_null(r->error, "%s", r->error);
    cr_expect_eq(json_integer_value(json_object_get(r->result, "status")), 418);
    cr_expect_str_eq(json_string_value(json_object_get(r->result, "body")), "teapot");
    r = wait_res(EXEC_A, 2);
    cr_expect_eq(json_integer_value(json_object_get(r->result, "status")), 404);
    finish();
}

Test(realtime, http_invalid_utf8_is_replaced) {
    make_runtime(&allow_private);
    server_start(&srv1, "127.0.0.1");
    http(EXEC_A, 1, "GET", url(&srv1, "/binary"), NULL, NULL, 5000);
    resolution *r = wait_res(EXEC_A, 1);
    cr_assert_null(r->error, "%s", r->error);
    cr_expect_str_eq(json_string_value(json_object_get(r->result, "body")), "ok \xef\xbf\xbd\xef\xbf\xbd end");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(r->result, "headers"), "x-latin")),
                     "caf\xef\xbf\xbd");
    char *dump = json_dumps(r->result, 0);
    cr_expect_not_null(dump, "the result serialises");
    fa_free(dump);
    finish();
}

Test(realtime, http_timeout) {
    make_runtime(&allow_private);
    server_start(&srv1, "127.0.0.1");
    uint64_t t0 = uv_hrtime();
    http(EXEC_A, 1, "GET", url(&srv1, "/hang"), NULL, NULL, 200);
    resolution *r = wait_res(EXEC_A, 1);
    cr_assert_not_null(r->error);
    cr_expect_str_eq(r->error, "timeout after 200 ms");
    cr_expect_null(r->result);
    cr_expect_geq((r->at_ns - t0) / 1000000, 190);
    finish();
}

Test(realtime, http_connection_refused) {
    make_runtime(&allow_private);
    int port = closed_port();
    char u[64], want[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", port);
    snprintf(want, sizeof want, "connection refused: 127.0.0.1:%d", port);
    http(EXEC_A, 1, "GET", u, NULL, NULL, 5000);
    resolution *r = wait_res(EXEC_A, 1);
    cr_assert_not_null(r->error);
    cr_expect_str_eq(r->error, want);
    finish();
}

Test(realtime, http_cancel_in_flight) {
    make_runtime(&allow_private);
    server_start(&srv1, "127.0.0.1");
    http(EXEC_A, 1, "GET", url(&srv1, "/hang"), NULL, NULL, 300);
    RUN_UNTIL(srv1.requests == 1);
    cancel(EXEC_A, 1);
    cr_expect_eq(weir__realtime_pending(rt), 0);
    RUN_UNTIL(srv1.closed_conns == 1);
    timer(EXEC_A, 2, 400); /* past the cancelled request's timeout */
    wait_res(EXEC_A, 2);
    cr_expect_eq(count_res(EXEC_A, 1), 0);
    finish();
}

Test(realtime, http_response_too_large) {
    weir_realtime_options o = {.allow_private = true, .max_response_bytes = 1024};
    make_runtime(&o);
    server_start(&srv1, "127.0.0.1");
    http(EXEC_A, 1, "GET", url(&srv1, "/big"), NULL, NULL, 5000);
    http(EXEC_A, 2, "GET", url(&srv1, "/big-unsized"), NULL, NULL, 5000);
    resolution *r = wait_res(EXEC_A, 1);
    cr_assert_not_null(r->error);
    cr_expect(strstr(r->error, "response larger than 1024 bytes") != NULL, "%s", r->error);
    r = wait_res(EXEC_A, 2);
    cr_assert_not_null(r->error);
    cr_expect(strstr(r->error, "response larger than 1024 bytes") != NULL, "%s", r->error);
    finish();
}

Test(realtime, http_bad_payloads_fail_asynchronously) {
    make_runtime(&allow_private);
    effect(EXEC_A, 1, WEIR_EFFECT_HTTP, json_pack("{s:s}", "method", "GET"));
    http(EXEC_A, 2, "GET", "http://127.0.0.1:1/", json_pack("{s:s}", "X-Evil", "a\r\nInjected: 1"), NULL, 5000);
    http(EXEC_A, 3, "GE T", "http://127.0.0.1:1/", NULL, NULL, 5000);
    http(EXEC_A, 4, "GET", "not a url at all", NULL, NULL, 5000);
    effect(EXEC_A, 5, WEIR_EFFECT_HTTP, json_string("http://example.com"));
    cr_expect_eq(nres, 0);
    RUN_UNTIL(nres == 5);
    cr_expect(strstr(find_res(EXEC_A, 1)->error, "url") != NULL, "%s", find_res(EXEC_A, 1)->error);
    cr_expect(strstr(find_res(EXEC_A, 2)->error, "X-Evil") != NULL, "%s", find_res(EXEC_A, 2)->error);
    cr_expect(strstr(find_res(EXEC_A, 3)->error, "method") != NULL, "%s", find_res(EXEC_A, 3)->error);
    cr_expect(strstr(find_res(EXEC_A, 4)->error, "URL") != NULL, "%s", find_res(EXEC_A, 4)->error);
    cr_expect_not_null(find_res(EXEC_A, 5)->error);
    finish();
}

/* ------------------------------------------------------------ egress guard */

Test(realtime, egress_refuses_loopback_without_connecting) {
    make_runtime(NULL); /* allow_private = false */
    server_start(&srv1, "127.0.0.1");
    http(EXEC_A, 1, "GET", url(&srv1, "/echo"), NULL, NULL, 5000);
    char u6[64];
    snprintf(u6, sizeof u6, "http://[::1]:%d/echo", srv1.port);
    http(EXEC_A, 2, "GET", u6, NULL, NULL, 5000);
    char ul[64];
    snprintf(ul, sizeof ul, "http://localhost:%d/echo", srv1.port);
    http(EXEC_A, 3, "GET", ul, NULL, NULL, 5000);
    http(EXEC_A, 4, "GET", "http://[::ffff:127.0.0.1]:1/", NULL, NULL, 5000);
    RUN_UNTIL(nres == 4);
    cr_expect_str_eq(find_res(EXEC_A, 1)->error,
                     "egress refused: 127.0.0.1 is in 127.0.0.0/8: loopback (RFC 1122), not globally reachable; set "
                     "EGRESS_ALLOW_PRIVATE=true to allow");
    cr_expect_str_eq(find_res(EXEC_A, 2)->error,
                     "egress refused: ::1 is in ::1/128: loopback (RFC 4291), not globally reachable; set "
                     "EGRESS_ALLOW_PRIVATE=true to allow");
    cr_expect(strncmp(find_res(EXEC_A, 3)->error, "egress refused: ", 16) == 0, "%s", find_res(EXEC_A, 3)->error);
    cr_expect(strstr(find_res(EXEC_A, 4)->error,
                     "::ffff:0:0/96: IPv4-mapped (RFC 4291), embedding an IPv4 address in 127.0.0.0/8: loopback") !=
                  NULL,
              "%s", find_res(EXEC_A, 4)->error);
    cr_expect_eq(srv1.connections, 0, "no connection was made");
    finish();
}

/* SPEC §10: every special-purpose range of the IANA registries, and the
 * error names the range (unit/test_egress.c checks the ranges one by one). */
Test(realtime, egress_refuses_special_purpose_ranges_naming_them) {
    make_runtime(NULL);
    http(EXEC_A, 1, "GET", "http://198.18.0.1:1/", NULL, NULL, 1000);
    http(EXEC_A, 2, "GET", "http://[2001:db8::1]:1/", NULL, NULL, 1000);
    http(EXEC_A, 3, "GET", "http://[64:ff9b::a00:1]:1/", NULL, NULL, 1000);
    RUN_UNTIL(nres == 3);
    cr_expect_str_eq(find_res(EXEC_A, 1)->error,
                     "egress refused: 198.18.0.1 is in 198.18.0.0/15: benchmarking (RFC 2544), not globally "
                     "reachable; set EGRESS_ALLOW_PRIVATE=true to allow");
    cr_expect(strstr(find_res(EXEC_A, 2)->error, "is in 2001:db8::/32: documentation (RFC 3849)") != NULL, "%s",
              find_res(EXEC_A, 2)->error);
    cr_expect(strstr(find_res(EXEC_A, 3)->error, "embedding an IPv4 address in 10.0.0.0/8: private-use (RFC 1918)") !=
                  NULL,
              "%s", find_res(EXEC_A, 3)->error);
    finish();
}

Test(realtime, egress_refuses_other_schemes) {
    make_runtime(&allow_private);
    http(EXEC_A, 1, "GET", "ftp://127.0.0.1/file", NULL, NULL, 5000);
    http(EXEC_A, 2, "GET", "file:///etc/passwd", NULL, NULL, 5000);
    RUN_UNTIL(nres == 2);
    cr_expect(strstr(find_res(EXEC_A, 1)->error, "scheme 'ftp'") != NULL, "%s", find_res(EXEC_A, 1)->error);
    cr_expect(strstr(find_res(EXEC_A, 2)->error, "scheme 'file'") != NULL, "%s", find_res(EXEC_A, 2)->error);
    finish();
}

Test(realtime, egress_allowlist) {
    weir_realtime_options o = {.allow_private = true, .allowlist = "api.example.com, *.example.org"};
    make_runtime(&o);
    server_start(&srv1, "127.0.0.1");
    http(EXEC_A, 1, "GET", url(&srv1, "/echo"), NULL, NULL, 5000);
    resolution *r = wait_res(EXEC_A, 1);
    cr_assert_not_null(r->error);
    cr_expect_str_eq(r->error,
                     "egress refused: host 127.0.0.1 is not in EGRESS_ALLOWLIST (api.example.com, *.example.org)");
    cr_expect_eq(srv1.connections, 0);
    finish();
}

Test(realtime, egress_allowlist_admits_listed_hosts) {
    weir_realtime_options o = {.allow_private = true, .allowlist = "example.com,127.0.0.1"};
    make_runtime(&o);
    server_start(&srv1, "127.0.0.1");
    http(EXEC_A, 1, "GET", url(&srv1, "/echo"), NULL, NULL, 5000);
    resolution *r = wait_res(EXEC_A, 1);
    cr_assert_null(r->error, "%s", r->error);
    cr_expect_eq(json_integer_value(json_object_get(r->result, "status")), 200);
    finish();
}

/* ---------------------------------------------------------------- redirects */

Test(realtime, redirect_is_followed) {
    make_runtime(&allow_private);
    server_start(&srv1, "127.0.0.1");
    srv1.redirect_status = 302;
    snprintf(srv1.redirect_to, sizeof srv1.redirect_to, "/echo?from=redirect");
    http(EXEC_A, 1, "GET", url(&srv1, "/redirect"), NULL, NULL, 5000);
    resolution *r = wait_res(EXEC_A, 1);
    cr_assert_null(r->error, "%s", r->error);
    cr_expect_eq(json_integer_value(json_object_get(r->result, "status")), 200);
    cr_expect_str_eq(srv1.last_path, "/echo?from=redirect");
    cr_expect_eq(srv1.requests, 2);
    finish();
}

Test(realtime, redirect_303_and_302_post_become_get) {
    make_runtime(&allow_private);
    server_start(&srv1, "127.0.0.1");
    srv1.redirect_to[0] = '\0';
    snprintf(srv1.redirect_to, sizeof srv1.redirect_to, "/echo");
    int statuses[] = {303, 302, 301};
    for (int i = 0; i < 3; i++) {
        srv1.redirect_status = statuses[i];
        http(EXEC_A, (uint64_t)i + 1, "POST", url(&srv1, "/redirect"),
             json_pack("{s:s}", "Content-Type", "application/json"), "{\"x\":1}", 5000);
        resolution *r = wait_res(EXEC_A, (uint64_t)i + 1);
        cr_assert_null(r->error, "%s", r->error);
        cr_expect_str_eq(srv1.last_method, "GET", "after %d", statuses[i]);
        cr_expect_str_eq(srv1.last_body, "");
        cr_expect_null(json_object_get(srv1.last_headers, "content-type"), "after %d", statuses[i]);
    }
    finish();
}

Test(realtime, redirect_307_and_308_keep_method_and_body) {
    make_runtime(&allow_private);
    server_start(&srv1, "127.0.0.1");
    snprintf(srv1.redirect_to, sizeof srv1.redirect_to, "/echo");
    int statuses[] = {307, 308};
    for (int i = 0; i < 2; i++) {
        srv1.redirect_status = statuses[i];
        http(EXEC_A, (uint64_t)i + 1, "PUT", url(&srv1, "/redirect"), NULL, "payload", 5000);
        resolution *r = wait_res(EXEC_A, (uint64_t)i + 1);
        cr_assert_null(r->error, "%s", r->error);
        cr_expect_str_eq(srv1.last_method, "PUT");
        cr_expect_str_eq(srv1.last_body, "payload");
    }
    finish();
}

Test(realtime, redirect_to_another_origin_drops_credentials) {
    make_runtime(&allow_private);
    server_start(&srv1, "127.0.0.1");
    server_start(&srv2, "127.0.0.2");
    srv1.redirect_status = 302;
    snprintf(srv1.redirect_to, sizeof srv1.redirect_to, "%s", url(&srv2, "/echo"));
    http(EXEC_A, 1, "GET", url(&srv1, "/redirect"),
         json_pack("{s:s, s:s, s:s}", "Authorization", "Bearer secret", "Cookie", "a=b", "X-Keep", "1"), NULL,
         5000);
    resolution *r = wait_res(EXEC_A, 1);
    cr_assert_null(r->error, "%s", r->error);
    cr_expect_eq(srv2.requests, 1);
    cr_expect_str_eq(json_string_value(json_object_get(srv1.last_headers, "authorization")), "Bearer secret");
    cr_expect_null(json_object_get(srv2.last_headers, "authorization"));
    cr_expect_null(json_object_get(srv2.last_headers, "cookie"));
    cr_expect_str_eq(json_string_value(json_object_get(srv2.last_headers, "x-keep")), "1");
    finish();
}

/* The test server's address counts as public, every other address is
 * classified as usual: so a redirect from it to 127.0.0.2 must be refused. */
static weir_egress_class srv1_is_public(const struct sockaddr *sa) {
    char buf[64];
    if (strcmp(weir__egress_format(sa, false, buf, sizeof buf), "127.0.0.1") == 0) return WEIR_EGRESS_PUBLIC;
    return weir__egress_classify_sockaddr(sa);
}

Test(realtime, redirect_to_private_address_is_refused) {
    make_runtime(NULL);
    weir__realtime_set_classifier(rt, srv1_is_public);
    server_start(&srv1, "127.0.0.1");
    server_start(&srv2, "127.0.0.2");
    srv1.redirect_status = 307;
    snprintf(srv1.redirect_to, sizeof srv1.redirect_to, "%s", url(&srv2, "/echo"));
    http(EXEC_A, 1, "GET", url(&srv1, "/echo"), NULL, NULL, 5000);
    resolution *r = wait_res(EXEC_A, 1);
    cr_assert_null(r->error, "the public server is reachable: %s", r->error);
    http(EXEC_A, 2, "GET", url(&srv1, "/redirect"), NULL, NULL, 5000);
    r = wait_res(EXEC_A, 2);
    cr_assert_not_null(r->error);
    cr_expect_str_eq(r->error,
                     "egress refused: 127.0.0.2 is in 127.0.0.0/8: loopback (RFC 1122), not globally reachable; set "
                     "EGRESS_ALLOW_PRIVATE=true to allow");
    cr_expect_eq(srv1.requests, 2);
    cr_expect_eq(srv2.connections, 0, "no connection to the private address");
    finish();
}

Test(realtime, redirect_rechecks_allowlist_and_scheme) {
    weir_realtime_options o = {.allow_private = true, .allowlist = "127.0.0.1"};
    make_runtime(&o);
    server_start(&srv1, "127.0.0.1");
    server_start(&srv2, "127.0.0.2");
    srv1.redirect_status = 301;
    snprintf(srv1.redirect_to, sizeof srv1.redirect_to, "%s", url(&srv2, "/echo"));
    http(EXEC_A, 1, "GET", url(&srv1, "/redirect"), NULL, NULL, 5000);
    resolution *r = wait_res(EXEC_A, 1);
    cr_assert_not_null(r->error);
    cr_expect(strstr(r->error, "host 127.0.0.2 is not in EGRESS_ALLOWLIST") != NULL, "%s", r->error);
    cr_expect_eq(srv2.connections, 0);
    snprintf(srv1.redirect_to, sizeof srv1.redirect_to, "ftp://127.0.0.1/x");
    http(EXEC_A, 2, "GET", url(&srv1, "/redirect"), NULL, NULL, 5000);
    r = wait_res(EXEC_A, 2);
    cr_assert_not_null(r->error);
    cr_expect(strstr(r->error, "scheme 'ftp'") != NULL, "%s", r->error);
    finish();
}

Test(realtime, too_many_redirects) {
    weir_realtime_options o = {.allow_private = true, .max_redirects = 3};
    make_runtime(&o);
    server_start(&srv1, "127.0.0.1");
    http(EXEC_A, 1, "GET", url(&srv1, "/loop"), NULL, NULL, 5000);
    resolution *r = wait_res(EXEC_A, 1);
    cr_assert_not_null(r->error);
    cr_expect(strncmp(r->error, "too many redirects (more than 3)", 32) == 0, "%s", r->error);
    cr_expect_eq(srv1.requests, 4, "the first request and 3 redirects");
    finish();
}

/* ----------------------------------------------------------------- fetch */

/* Fetch answers are recorded as resolutions of this pseudo execution, the
 * tag passed as ud as their id. */
#define EXEC_FETCH ((weir_exec *)(uintptr_t)0xf000)
static uint64_t tags[] = {0, 1, 2, 3};

static void fetch_done(void *ud, json_t *result, const char *error) {
    (void)test_resolve(EXEC_FETCH, *(uint64_t *)ud, result, error, 0, NULL);
}

/* Start a fetch of `payload` (STOLEN) tagged `tag`; returns its id. */
static uint64_t fetch(json_t *payload, int tag) {
    uint64_t id = 0;
    in_effect++; /* an answer from inside the call would be counted */
    cr_assert_eq(weir_realtime_fetch(rt, payload, fetch_done, &tags[tag], &id), 0);
    in_effect--;
    json_decref(payload);
    cr_assert_neq(id, 0);
    return id;
}

static int non_fetch_resolutions(void) {
    int n = 0;
    for (int i = 0; i < nres; i++) n += res[i].exec != EXEC_FETCH;
    return n;
}

/* weir's own fetches (a component's sourceUrl, the catalog): the body's
 * bytes as base64, untouched by the text decoding; a lower limit. */
Test(realtime, a_fetch_may_ask_for_base64_and_a_lower_limit) {
    make_runtime(&allow_private);
    server_start(&srv1, "127.0.0.1");
    fetch(json_pack("{s:s, s:s}", "url", url(&srv1, "/binary"), "responseEncoding", "base64"), 1);
    resolution *r = wait_res(EXEC_FETCH, 1);
    cr_assert_null(r->error, "%s", r->error);
    cr_expect_str_eq(json_string_value(json_object_get(r->result, "body")), "b2sg//4gZW5k", "\"ok \\xff\\xfe end\"");
    fetch(json_pack("{s:s, s:i}", "url", url(&srv1, "/big"), "maxBytes", 1000), 2);
    r = wait_res(EXEC_FETCH, 2);
    cr_assert_not_null(r->error);
    cr_expect_str_eq(r->error, "response larger than 1000 bytes (the limit of this request)");
    fetch(json_pack("{s:s, s:i}", "url", url(&srv1, "/big"), "maxBytes", 6000), 3);
    r = wait_res(EXEC_FETCH, 3);
    cr_assert_null(r->error, "%s", r->error);
    cr_expect_eq(json_string_length(json_object_get(r->result, "body")), 5000);
    finish();
}

Test(realtime, fetch_answers_through_done_from_the_loop) {
    make_runtime(&allow_private);
    server_start(&srv1, "127.0.0.1");
    uint64_t a = fetch(json_pack("{s:s, s:s, s:{s:s}}", "method", "GET", "url", url(&srv1, "/echo?f=1"), "headers",
                                 "X-Custom", "abc"),
                       1);
    uint64_t b = fetch(json_pack("{s:s}", "url", url(&srv1, "/status/418")), 2);
    cr_expect_neq(a, b);
    cr_expect_eq(nres, 0, "never answered from inside the call");
    cr_expect_eq(weir__realtime_pending(rt), 2);
    resolution *r = wait_res(EXEC_FETCH, 1);
    cr_assert_null(r->error, "%s", r->error);
    cr_expect_eq(json_integer_value(json_object_get(r->result, "status")), 200);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(r->result, "headers"), "content-type")),
                     "application/json");
    cr_assert(json_is_string(json_object_get(r->result, "body")), "the body is raw text, as for an effect");
    json_t *echo = json_loads(json_string_value(json_object_get(r->result, "body")), 0, NULL);
    cr_assert_not_null(echo);
    cr_expect_str_eq(json_string_value(json_object_get(echo, "path")), "/echo?f=1");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(echo, "headers"), "x-custom")), "abc");
    json_decref(echo);
    r = wait_res(EXEC_FETCH, 2);
    cr_expect_eq(json_integer_value(json_object_get(r->result, "status")), 418);
    cr_expect_eq(resolved_inside_effect, 0);
    cr_expect_eq(non_fetch_resolutions(), 0, "the resolver is not involved");
    cr_expect_eq(weir__realtime_pending(rt), 0);
    cr_expect_eq(weir_realtime_fetch_cancel(rt, a), WEIR_ESTALE, "answered");
    finish();
}

Test(realtime, fetch_follows_redirects_and_keeps_the_egress_guard) {
    make_runtime(NULL); /* allow_private = false */
    server_start(&srv1, "127.0.0.1");
    fetch(json_pack("{s:s}", "url", url(&srv1, "/echo")), 1);
    fetch(json_pack("{s:s}", "method", "GET"), 2);
    RUN_UNTIL(nres == 2);
    cr_expect_str_eq(find_res(EXEC_FETCH, 1)->error,
                     "egress refused: 127.0.0.1 is in 127.0.0.0/8: loopback (RFC 1122), not globally reachable; set "
                     "EGRESS_ALLOW_PRIVATE=true to allow");
    cr_expect_null(find_res(EXEC_FETCH, 1)->result);
    cr_expect(strstr(find_res(EXEC_FETCH, 2)->error, "url") != NULL, "%s", find_res(EXEC_FETCH, 2)->error);
    cr_expect_eq(srv1.connections, 0, "no connection was made");
    cr_expect_eq(resolved_inside_effect, 0, "failures are deferred too");
    uint64_t id = 7;
    cr_expect_eq(weir_realtime_fetch(rt, NULL, NULL, NULL, &id), WEIR_EINVAL);
    cr_expect_eq(id, 0);
    cr_expect_eq(weir_realtime_fetch(NULL, NULL, fetch_done, NULL, &id), WEIR_EINVAL);
    cr_expect_eq(weir_realtime_fetch(rt, NULL, fetch_done, NULL, NULL), WEIR_EINVAL);
    weir_realtime_destroy(rt);

    make_runtime(&allow_private);
    srv1.redirect_status = 302;
    snprintf(srv1.redirect_to, sizeof srv1.redirect_to, "/echo?from=redirect");
    fetch(json_pack("{s:s}", "url", url(&srv1, "/redirect")), 3);
    resolution *r = wait_res(EXEC_FETCH, 3);
    cr_assert_null(r->error, "%s", r->error);
    cr_expect_eq(json_integer_value(json_object_get(r->result, "status")), 200);
    cr_expect_str_eq(srv1.last_path, "/echo?from=redirect");
    finish();
}

Test(realtime, fetch_cancel_aborts_the_transfer) {
    make_runtime(&allow_private);
    server_start(&srv1, "127.0.0.1");
    uint64_t id = fetch(json_pack("{s:s, s:i}", "url", url(&srv1, "/hang"), "timeoutMs", 300), 1);
    RUN_UNTIL(srv1.requests == 1);
    cr_expect_eq(weir_realtime_fetch_cancel(rt, id), 0);
    cr_expect_eq(weir__realtime_pending(rt), 0);
    cr_expect_eq(weir_realtime_fetch_cancel(rt, id), WEIR_ESTALE, "cancelled already");
    cr_expect_eq(weir_realtime_fetch_cancel(rt, 0), WEIR_ESTALE);
    cr_expect_eq(weir_realtime_fetch_cancel(NULL, id), WEIR_ESTALE);
    RUN_UNTIL(srv1.closed_conns == 1);
    timer(EXEC_A, 2, 400); /* past the cancelled request's timeout */
    wait_res(EXEC_A, 2);
    cr_expect_eq(count_res(EXEC_FETCH, 1), 0, "done is never called after cancel");
    finish();
}

Test(realtime, fetches_are_no_executions_effects) {
    make_runtime(&allow_private);
    server_start(&srv1, "127.0.0.1");
    uint64_t id = fetch(json_pack("{s:s}", "url", url(&srv1, "/hang")), 1);
    http(EXEC_A, id, "GET", url(&srv1, "/hang"), NULL, NULL, 5000); /* the same id, an execution's */
    RUN_UNTIL(srv1.requests == 2);
    cancel(EXEC_A, id);
    cancel(NULL, id);
    in_effect++;
    weir_realtime_forget(rt, NULL);
    weir_realtime_forget(rt, EXEC_A);
    in_effect--;
    cr_expect_eq(weir__realtime_pending(rt), 1, "the fetch is still out");
    RUN_UNTIL(srv1.closed_conns == 1);
    /* destroy with the fetch in flight: torn down, done never called */
    weir_realtime_destroy(rt);
    rt = NULL;
    RUN_UNTIL(srv1.closed_conns == 2);
    timer_settle_guard();
    cr_expect_eq(nres, 0);
    finish();
}

/* ------------------------------------------------------ reentrancy, destroy */

static uint64_t chained;
static void chain_effects(const resolution *r) {
    if (r->id == 1) { /* as the core would: a new effect and a cancel from inside resolve */
        timer(EXEC_A, 2, 1);
        cancel(EXEC_A, 3);
        chained++;
    }
}

Test(realtime, resolver_may_request_and_cancel) {
    make_runtime(NULL);
    on_resolve = chain_effects;
    timer(EXEC_A, 1, 1);
    timer(EXEC_A, 3, 30);
    timer(EXEC_A, 4, 60);
    wait_res(EXEC_A, 4);
    cr_expect_eq(chained, 1);
    cr_expect_eq(count_res(EXEC_A, 2), 1);
    cr_expect_eq(count_res(EXEC_A, 3), 0);
    on_resolve = NULL;
    finish();
}

static void destroy_on_first(const resolution *r) {
    (void)r;
    weir_realtime_destroy(rt);
    rt = NULL;
}

Test(realtime, destroy_from_inside_the_resolver) {
    make_runtime(&allow_private);
    server_start(&srv1, "127.0.0.1");
    on_resolve = destroy_on_first;
    http(EXEC_A, 9, "GET", url(&srv1, "/hang"), NULL, NULL, 5000);
    RUN_UNTIL(srv1.requests == 1);
    timer(EXEC_A, 1, 0);
    timer(EXEC_A, 2, 0);
    timer(EXEC_A, 3, 0);
    RUN_UNTIL(nres >= 1);
    cr_expect_null(rt);
    RUN_UNTIL(srv1.closed_conns == 1);
    cr_expect_eq(nres, 1);
    on_resolve = NULL;
    finish();
}

Test(realtime, destroy_with_pending_effects) {
    weir_realtime_options o = {.allow_private = true, .allowlist = "127.0.0.1"};
    make_runtime(&o);
    server_start(&srv1, "127.0.0.1");
    timer(EXEC_A, 1, 10000);
    http(EXEC_A, 4, "POST", url(&srv1, "/hang"), json_pack("{s:s}", "X-A", "b"), "body", 5000);
    http(EXEC_B, 5, "GET", url(&srv1, "/hang"), NULL, NULL, 5000);
    RUN_UNTIL(srv1.requests == 2); /* both transfers in flight */
    timer(EXEC_B, 2, 0);
    effect(EXEC_A, 3, WEIR_EFFECT_INVOKE, json_object());
    http(EXEC_B, 6, "GET", "http://bad host/", NULL, NULL, 5000);
    cr_expect_eq(weir__realtime_pending(rt), 6);
    cr_expect_eq(nres, 0);
    weir_realtime_destroy(rt);
    rt = NULL;
    RUN_UNTIL(srv1.closed_conns == 2); /* both transfers torn down */
    timer_settle_guard();
    cr_expect_eq(nres, 0, "nothing is resolved after destroy");
    finish(); /* drain: no handle and no allocation left */
}

Test(realtime, stale_resolution_is_ignored) {
    make_runtime(NULL);
    resolve_rc = WEIR_ESTALE;
    timer(EXEC_A, 1, 0);
    timer(EXEC_A, 2, 5);
    RUN_UNTIL(nres == 2);
    cr_expect_eq(weir__realtime_pending(rt), 0);
    resolve_rc = 0;
    finish();
}

/* Fail each allocation in turn (create, effect, transfer, response): the
 * runtime never crashes, every effect it accepted settles (with the result
 * or an error), and nothing leaks. */
Test(realtime, out_of_memory_at_every_allocation) {
    server_start(&srv1, "127.0.0.1");
    int failures = 0, ok = 0;
    for (long n = 1; n < 10000; n++) {
        json_t *p1 = json_pack("{s:s, s:s, s:{s:s}, s:s, s:i}", "method", "POST", "url", url(&srv1, "/echo"),
                               "headers", "X-A", "b", "body", "body", "timeoutMs", 5000);
        json_t *p2 = json_object();
        fa_arm((size_t)n);
        weir_realtime *r = NULL;
        int rc = weir_realtime_create(&loop, &allow_private, &r);
        if (rc != 0) {
            fa_arm(0);
            json_decref(p1);
            json_decref(p2);
            cr_expect_eq(rc, WEIR_ENOMEM);
            cr_expect_null(r);
            failures++;
            continue;
        }
        rt = r;
        weir__realtime_set_resolver(rt, test_resolve);
        weir_realtime_shell(rt, &shell);
        effect(EXEC_A, 1, WEIR_EFFECT_HTTP, p1);
        effect(EXEC_A, 2, WEIR_EFFECT_INVOKE, p2);
        uint64_t deadline = uv_hrtime() + (uint64_t)BOUND_MS * 1000000;
        while (weir__realtime_pending(rt) != 0) {
            cr_assert_lt(uv_hrtime(), deadline, "an effect never settled when allocation %ld failed", n);
            uv_run(&loop, UV_RUN_ONCE);
        }
        bool triggered = fa_count() >= (size_t)n;
        fa_arm(0);
        resolution *h = find_res(EXEC_A, 1);
        if (h && !h->error) {
            cr_expect_eq(json_integer_value(json_object_get(h->result, "status")), 200);
            ok++;
        }
        weir_realtime_destroy(rt);
        rt = NULL;
        uv_run(&loop, UV_RUN_NOWAIT); /* the close callbacks */
        for (int i = 0; i < nres; i++) {
            json_decref(res[i].result);
            free(res[i].error);
        }
        nres = 0;
        if (!triggered) break;
        failures++;
    }
    cr_expect_gt(failures, 10, "allocations were failed (%d)", failures);
    cr_expect_gt(ok, 0, "and the last run succeeded");
    finish();
}
