/* weir serve with a DATA_DIR, black-box (SPEC §7.1, issue 11): durable
 * executions.  kill -9 under a load of concurrent keep-alive clients loses
 * no inject that was answered 2xx and applies none twice (fsync and
 * process); kill -9 during recovery itself loses nothing; every kind of
 * input survives a restart (paused with its queue, a pending timer at its
 * original due time, an in-flight http request performed again with the
 * same Idempotency-Key, stopped, completed, the virtual runtime and its
 * clock, scheduled injects, a runtime switch); a graceful stop keeps
 * executions; an edited journal comes back failed naming the record while
 * the others recover; --memory ignores the data dir. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sqlq.h"
#include "proc.h"
#include "serve.h"

#define EDGE(a, b) "{\"source\":{\"node\":\"" a "\",\"port\":\"out\"},\"target\":{\"node\":\"" b "\",\"port\":\"in\"}}"
#define PT(id) "{\"id\":\"" id "\",\"component\":\"symbia.core.passthrough\"}"
/* in → acc (keeps every value: the batch never fills) */
#define ACC_GRAPH(name)                                                                                              \
    "{\"symbia\":\"1.0\",\"name\":\"" name "\",\"metadata\":{\"role\":\"pipeline\",\"ingress\":{\"node\":\"in\"}},"  \
    "\"nodes\":[" PT("in") ",{\"id\":\"acc\",\"component\":\"symbia.core.accumulator\",\"config\":{\"batchSize\":"   \
    "100000000}}],\"edges\":[" EDGE("in", "acc") "]}"
/* a → d (delay ms) → z */
#define DELAY_GRAPH(ms)                                                                                              \
    "{\"symbia\":\"1.0\",\"name\":\"delayed\",\"metadata\":{\"role\":\"pipeline\"},\"nodes\":[" PT("a") ","          \
    "{\"id\":\"d\",\"component\":\"symbia.core.delay\",\"config\":{\"delayMs\":" #ms "}}," PT("z") "],\"edges\":["   \
    EDGE("a", "d") "," EDGE("d", "z") "]}"

static char dir[64];

static void make_dir(void) {
    curl_global_init(CURL_GLOBAL_ALL); /* before any thread makes a handle */
    proc_tempdir(dir, sizeof dir, "bbdurable");
}

static void drop_dir(void) {
    if (dir[0]) serve_rmdir(dir);
    dir[0] = '\0';
}

TestSuite(durable, .init = make_dir, .fini = drop_dir, .timeout = 280);

/* weir serve --data-dir dir EXTRA... */
static server start_on(const char *const *more) {
    const char *argv[16] = {"--data-dir", dir};
    int n = 2;
    for (const char *const *m = more; m && *m && n < 15; m++) argv[n++] = *m;
    argv[n] = NULL;
    return serve_start(argv);
}

static server start_plain(void) { return start_on(NULL); }

/* POST /api/executions/<x>/<what> with body (the caller frees). */
static http_resp xop(server *s, const char *x, const char *what, const char *body) {
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/%s", x, what);
    return http_req(s, "POST", path, body, NULL);
}

/* GET /api/executions/<x><suffix> (a new reference; NULL when 404). */
static json_t *xget(server *s, const char *x, const char *suffix) {
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s%s", x, suffix);
    http_resp r = http_req(s, "GET", path, NULL, NULL);
    cr_assert(r.status == 200 || r.status == 404, "GET %s: %ld %s", path, r.status, r.body);
    json_t *j = r.status == 200 ? json_incref(r.json) : NULL;
    http_free(&r);
    return j;
}

static const char *state_of(json_t *x) { return json_string_value(json_object_get(x, "state")); }

/* The accumulator's buffer of execution x (a new reference). */
static json_t *buffer_of(server *s, const char *x) {
    json_t *st = xget(s, x, "/state?node=acc");
    cr_assert_not_null(st, "execution %s is not there", x);
    json_t *b = json_incref(json_object_get(json_object_get(json_object_get(st, "nodes"), "acc"), "buffer"));
    cr_assert(json_is_array(b), "no buffer in the state of %s", x);
    json_decref(st);
    return b;
}

/* invocations of node `node` of execution x so far */
static json_int_t invocations(server *s, const char *x, const char *node) {
    json_t *j = xget(s, x, "");
    cr_assert_not_null(j);
    json_int_t n = json_integer_value(
        json_object_get(json_object_get(json_object_get(json_object_get(j, "metrics"), "nodes"), node), "invocations"));
    json_decref(j);
    return n;
}

static void inject_ok(server *s, const char *x, const char *node, const char *value, long want) {
    char body[256];
    snprintf(body, sizeof body, "{\"nodeId\":\"%s\",\"value\":%s}", node, value);
    http_resp r = xop(s, x, "inject", body);
    cr_assert_eq(r.status, want, "inject %s: %s", value, r.body);
    http_free(&r);
}

/* wait: false (answered 202 once durable) */
static void inject_nowait(server *s, const char *x, const char *node, const char *value) {
    char body[256];
    snprintf(body, sizeof body, "{\"nodeId\":\"%s\",\"value\":%s,\"wait\":false}", node, value);
    http_resp r = xop(s, x, "inject", body);
    cr_assert_eq(r.status, 202, "inject %s: %s", value, r.body);
    http_free(&r);
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------ kill -9 under load */

#define LOAD_THREADS 8
#define LOAD_PER_THREAD 4000

typedef struct load {
    int port;
    char path[160];
    int stop;                                      /* atomic */
    int answered;                                  /* atomic: 2xx answers */
    signed char sent[LOAD_THREADS * LOAD_PER_THREAD];  /* 1 once its request was begun */
    short status[LOAD_THREADS * LOAD_PER_THREAD];  /* http status; -1: no answer */
} load;

typedef struct loader {
    load *l;
    int t;
} loader;

static size_t discard(char *p, size_t size, size_t n, void *ud) {
    (void)p;
    (void)ud;
    return size * n;
}

/* One keep-alive client injecting its own values t, t + T, t + 2T, ... */
static void *load_thread(void *arg) {
    loader *ld = arg;
    load *l = ld->l;
    CURL *c = curl_easy_init();
    char url[256], body[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", l->port, l->path);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    for (int k = 0; k < LOAD_PER_THREAD && !__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE); k++) {
        int v = ld->t + LOAD_THREADS * k;
        snprintf(body, sizeof body, "{\"nodeId\":\"in\",\"value\":%d}", v);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        l->sent[v] = 1;
        CURLcode rc = curl_easy_perform(c);
        long code = -1;
        if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        l->status[v] = (short)code;
        if (code >= 200 && code < 300) __atomic_add_fetch(&l->answered, 1, __ATOMIC_ACQ_REL);
        if (rc != CURLE_OK) break; /* the server is gone */
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

/* kill -9 a server once `kill_at` injects were answered 2xx by concurrent
 * keep-alive clients, restart it on the same data dir: the execution is
 * back running with the same id, and its accumulator holds every value
 * answered 2xx exactly once (others may or may not be there; nothing that
 * was never sent). */
static void kill_under_load_snap(int kill_at, const char *durability, const char *snapshot_every) {
    const char *more[] = {"--durability", durability, snapshot_every ? "--snapshot-every" : NULL, snapshot_every,
                          NULL};
    server s = start_on(more);
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, ACC_GRAPH("acc"), NULL));
    load *l = calloc(1, sizeof *l);
    l->port = s.port;
    snprintf(l->path, sizeof l->path, "/api/executions/%s/inject", x);
    pthread_t th[LOAD_THREADS];
    loader ld[LOAD_THREADS];
    for (int t = 0; t < LOAD_THREADS; t++) {
        ld[t] = (loader){l, t};
        cr_assert_eq(pthread_create(&th[t], NULL, load_thread, &ld[t]), 0);
    }
    double t0 = proc_now_ms();
    while (__atomic_load_n(&l->answered, __ATOMIC_ACQUIRE) < kill_at) {
        cr_assert_lt(proc_now_ms() - t0, 120000, "only %d answers in 120 s", l->answered);
        sleep_ms(1);
    }
    cr_assert_eq(serve_kill(&s), 128 + 9);
    __atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
    for (int t = 0; t < LOAD_THREADS; t++) pthread_join(th[t], NULL);
    int ok = 0, failed = 0, unanswered = 0;
    for (int v = 0; v < LOAD_THREADS * LOAD_PER_THREAD; v++) {
        if (!l->sent[v]) continue;
        if (l->status[v] >= 200 && l->status[v] < 300) ok++;
        else if (l->status[v] > 0) failed++;
        else unanswered++;
    }
    cr_assert_geq(ok, kill_at);

    s = start_on(more);
    char line[256];
    snprintf(line, sizeof line, "recovery: 1 execution came back and 0 failed, in ");
    cr_assert(strstr(serve_log(&s), line), "the start log says what came back: %s", serve_log(&s));
    json_t *xj = xget(&s, x, "");
    cr_assert_not_null(xj, "execution %s came back", x);
    cr_assert_str_eq(state_of(xj), "running");
    json_decref(xj);
    json_t *b = buffer_of(&s, x);
    static unsigned char seen[LOAD_THREADS * LOAD_PER_THREAD];
    memset(seen, 0, sizeof seen);
    size_t i;
    json_t *v;
    json_array_foreach(b, i, v) {
        cr_assert(json_is_integer(v));
        json_int_t n = json_integer_value(v);
        cr_assert(n >= 0 && n < LOAD_THREADS * LOAD_PER_THREAD && l->sent[n], "%lld was never sent", (long long)n);
        cr_assert_eq(seen[n], 0, "%lld is there twice", (long long)n);
        seen[n] = 1;
    }
    int lost = 0, first_lost = -1;
    for (int n = 0; n < LOAD_THREADS * LOAD_PER_THREAD; n++)
        if (l->status[n] >= 200 && l->status[n] < 300 && !seen[n]) {
            if (first_lost < 0) first_lost = n;
            lost++;
        }
    cr_assert_eq(lost, 0, "%d of %d injects answered 2xx were lost (the first: %d); %d answered an error, %d not "
                          "answered, %zu values back",
                 lost, ok, first_lost, failed, unanswered, json_array_size(b));
    cr_log_info("kill -9 after %d answers (%s): %d answered 2xx, %d an error, %d unanswered; %zu values back", kill_at,
                durability, ok, failed, unanswered, json_array_size(b));
    json_decref(b);
    /* and it goes on */
    inject_ok(&s, x, "in", "-1", 200);
    b = buffer_of(&s, x);
    cr_assert_eq(json_integer_value(json_array_get(b, json_array_size(b) - 1)), -1);
    json_decref(b);
    cr_assert_eq(serve_stop(&s), 0);
    free(l);
}

static void kill_under_load(int kill_at, const char *durability) { kill_under_load_snap(kill_at, durability, NULL); }

Test(durable, kill9_after_50_answers_loses_nothing_answered) { kill_under_load(50, "fsync"); }
Test(durable, kill9_after_500_answers_loses_nothing_answered) { kill_under_load(500, "fsync"); }
Test(durable, kill9_after_3000_answers_loses_nothing_answered) { kill_under_load(3000, "fsync"); }
Test(durable, kill9_after_500_answers_durability_process) { kill_under_load(500, "process"); }
Test(durable, kill9_after_3000_answers_durability_process) { kill_under_load(3000, "process"); }
/* A snapshot every 7 inputs under load: the kill lands among snapshots
 * being written, and recovery starts from the newest one that is there. */
Test(durable, kill9_among_snapshots_loses_nothing_answered) { kill_under_load_snap(1500, "fsync", "7"); }

/* --------------------------------------------------- kill -9 during recovery */

/* Start weir serve on dir without waiting for it to listen; its stderr goes
 * to log_path. */
static pid_t spawn_on(const char *log_path) {
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(fd, 2);
        execl(WEIR_BINARY, WEIR_BINARY, "serve", "--port", "0", "--data-dir", dir, "--max-concurrent-executions",
              "1000", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return strdup("");
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The ms of the start log's "recovery: ... in X ms", or -1. */
static double recovery_ms(const char *log, int *back, int *failed) {
    const char *at = strstr(log, "recovery: ");
    if (!at) return -1;
    int b = 0, f = 0;
    double ms = -1;
    const char *in = strstr(at, " in ");
    if (sscanf(at, "recovery: %d execution%*[s] came back and %d failed", &b, &f) < 2 &&
        sscanf(at, "recovery: %d execution came back and %d failed", &b, &f) < 2)
        return -1;
    if (in) sscanf(in, " in %lf ms", &ms);
    if (back) *back = b;
    if (failed) *failed = f;
    return ms;
}

#define BULK_X 100
#define BULK_N 2000

Test(durable, kill9_during_recovery_loses_nothing) {
    const char *more[] = {"--max-concurrent-executions", "1000", "--durability", "process", NULL};
    server s = start_on(more);
    /* BULK_X executions of BULK_N values each (one ingress batch each: the
     * newest execution of the graph takes it) */
    http_resp g = http_req(&s, "POST", "/api/graphs", ACC_GRAPH("bulk"), NULL);
    cr_assert_eq(g.status, 201, "%s", g.body);
    char path[160];
    snprintf(path, sizeof path, "/api/graphs/%s/execute", json_string_value(json_object_get(g.json, "id")));
    http_free(&g);
    size_t cap = (size_t)BULK_N * 8 + 4;
    char *batch = malloc(cap), *p = batch;
    *p++ = '[';
    for (int i = 0; i < BULK_N; i++) p += sprintf(p, "%s%d", i ? "," : "", i);
    *p++ = ']';
    *p = '\0';
    static char ids[BULK_X][64];
    for (int k = 0; k < BULK_X; k++) {
        http_resp x = http_req(&s, "POST", path, NULL, NULL);
        cr_assert_eq(x.status, 201, "%s", x.body);
        snprintf(ids[k], sizeof ids[k], "%s", json_string_value(json_object_get(x.json, "executionId")));
        http_free(&x);
        http_resp r = http_req(&s, "POST", "/api/ingress/bulk", batch, NULL);
        cr_assert_eq(r.status, 202, "%s", r.body);
        cr_assert_eq(json_integer_value(json_object_get(r.json, "accepted")), BULK_N);
        http_free(&r);
    }
    free(batch);
    cr_assert_eq(serve_kill(&s), 128 + 9);

    /* How long recovery takes here, then kills at a third and two thirds
     * of it: the log shows they came before recovery ended. */
    char log_path[96];
    snprintf(log_path, sizeof log_path, "%s.log", dir);
    double full = -1;
    int interrupted = 0;
    double frac = 0.5;
    for (int round = 0; round < 10 && interrupted < 2; round++) {
        unlink(log_path);
        pid_t pid = spawn_on(log_path);
        double t0 = proc_now_ms(), wait_ms = round == 0 ? 1e9 : full * frac;
        char *log = NULL;
        for (;;) {
            free(log);
            log = slurp(log_path);
            if (strstr(log, "recovery: ")) break;
            cr_assert_lt(proc_now_ms() - t0, 60000, "no recovery line: %s", log);
            if (round > 0 && strstr(log, "open-file limit")) { /* recovery comes next */
                sleep_ms((int)wait_ms);
                break;
            }
            sleep_ms(1);
        }
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        free(log);
        log = slurp(log_path);
        if (round == 0) {
            int back = 0;
            full = recovery_ms(log, &back, NULL);
            cr_assert_eq(back, BULK_X, "%s", log);
            cr_log_info("recovery of %d executions x %d inputs: %.1f ms", BULK_X, BULK_N, full);
            cr_assert_gt(full, 30, "recovery is too fast to be interrupted (%.1f ms); make the journal bigger", full);
        } else if (strstr(log, "recovery: ")) {
            frac /= 2; /* it had finished already (a faster run): earlier next time */
        } else {
            cr_log_info("killed %.0f ms into recovery", wait_ms);
            interrupted++;
        }
        free(log);
    }
    cr_assert_eq(interrupted, 2, "recovery was not interrupted twice");
    unlink(log_path);
    s = start_on(more);
    int back = -1, failed = -1;
    recovery_ms(serve_log(&s), &back, &failed);
    cr_assert_eq(back, BULK_X, "%s", serve_log(&s));
    cr_assert_eq(failed, 0, "%s", serve_log(&s));
    for (int k = 0; k < BULK_X; k++) {
        json_t *b = buffer_of(&s, ids[k]);
        cr_assert_eq(json_array_size(b), BULK_N, "execution %d has %zu values", k, json_array_size(b));
        for (int i = 0; i < BULK_N; i++) cr_assert_eq(json_integer_value(json_array_get(b, (size_t)i)), i);
        json_decref(b);
    }
    cr_assert_eq(serve_stop(&s), 0);
}

/* ------------------------------------------------ every input kind survives */

Test(durable, paused_stays_paused_with_its_queued_injects) {
    server s = start_plain();
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, ACC_GRAPH("acc"), NULL));
    inject_ok(&s, x, "in", "1", 200);
    inject_ok(&s, x, "in", "2", 200);
    http_resp r = xop(&s, x, "pause", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    for (int v = 3; v <= 5; v++) {
        char body[96];
        snprintf(body, sizeof body, "{\"nodeId\":\"in\",\"value\":%d,\"wait\":false}", v);
        r = xop(&s, x, "inject", body);
        cr_assert_eq(r.status, 202, "%s", r.body);
        cr_assert(json_is_true(json_object_get(r.json, "queued")), "%s", r.body);
        http_free(&r);
    }
    cr_assert_eq(serve_kill(&s), 128 + 9);
    s = start_plain();
    json_t *j = xget(&s, x, "");
    cr_assert_not_null(j);
    cr_assert_str_eq(state_of(j), "paused");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "metrics"), "queueDepth")), 3, "queued: %s",
                 json_dumps(j, 0));
    json_decref(j);
    json_t *b = buffer_of(&s, x);
    cr_assert_eq(json_array_size(b), 2);
    json_decref(b);
    r = xop(&s, x, "resume", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    b = buffer_of(&s, x);
    cr_assert_eq(json_array_size(b), 5, "the queue drained in order");
    for (size_t i = 0; i < 5; i++) cr_assert_eq(json_integer_value(json_array_get(b, i)), (json_int_t)i + 1);
    json_decref(b);
    cr_assert_eq(serve_stop(&s), 0);
}

/* When node z of execution x first ran (proc_now_ms), polling; bound ms. */
static double when_z_ran(server *s, const char *x, double bound_ms) {
    double t0 = proc_now_ms();
    while (invocations(s, x, "z") < 1) {
        cr_assert_lt(proc_now_ms() - t0, bound_ms, "the timer did not fire within %.0f ms", bound_ms);
        sleep_ms(10);
    }
    return proc_now_ms();
}

Test(durable, a_pending_timer_fires_at_its_original_due_time) {
    server s = start_plain();
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, DELAY_GRAPH(4000), NULL));
    double t0 = proc_now_ms();
    inject_nowait(&s, x, "a", "7");
    while (proc_now_ms() - t0 < 1500) sleep_ms(20); /* the server dies 1.5 s into the 4 s delay */
    cr_assert_eq(serve_kill(&s), 128 + 9);
    s = start_plain();
    cr_assert_eq(invocations(&s, x, "z"), 0, "not fired yet");
    double fired = when_z_ran(&s, x, 10000) - t0;
    /* due at 4000 ms after the inject; a full delay after the restart would be
     * 5500 ms or later */
    cr_assert(fired >= 3900 && fired < 4900, "fired %.0f ms after the inject (due at 4000)", fired);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(durable, a_timer_that_fell_due_while_down_fires_at_once) {
    server s = start_plain();
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, DELAY_GRAPH(800), NULL));
    double t0 = proc_now_ms();
    inject_nowait(&s, x, "a", "7");
    cr_assert_eq(serve_kill(&s), 128 + 9);
    while (proc_now_ms() - t0 < 1500) sleep_ms(50); /* down past its due time */
    s = start_plain();
    double back = proc_now_ms();
    double fired = when_z_ran(&s, x, 5000) - back;
    cr_assert_lt(fired, 500, "fired %.0f ms after the restart", fired);
    cr_assert_eq(serve_stop(&s), 0);
}

/* A receiver that never answers its first request (weir dies with it in
 * flight) and answers the second: both Idempotency-Keys are kept. */
typedef struct receiver {
    int fd, port;
    char key[2][160];
    char line[2][160]; /* request lines */
    int got;           /* atomic: requests read */
    pthread_t thread;
} receiver;

static void read_request(int c, char *line, char *key) {
    char buf[8192] = "";
    size_t len = 0;
    while (len < sizeof buf - 1 && !strstr(buf, "\r\n\r\n")) {
        struct pollfd p = {c, POLLIN, 0};
        if (poll(&p, 1, 20000) != 1) break;
        ssize_t n = read(c, buf + len, sizeof buf - 1 - len);
        if (n <= 0) break;
        len += (size_t)n;
        buf[len] = '\0';
    }
    buf[len] = '\0';
    snprintf(line, 160, "%.*s", (int)strcspn(buf, "\r\n"), buf);
    const char *k = strcasestr(buf, "\r\nIdempotency-Key: ");
    if (k) snprintf(key, 160, "%.*s", (int)strcspn(k + 19, "\r\n"), k + 19);
}

/* Holds the first request, answers those after it. */
static void *receive(void *arg) {
    receiver *rv = arg;
    int held = -1;
    for (int i = 0; i < 2;) {
        struct pollfd p = {rv->fd, POLLIN, 0};
        if (poll(&p, 1, 30000) != 1) break;
        int c = accept(rv->fd, NULL, NULL);
        if (c < 0) break;
        read_request(c, rv->line[i], rv->key[i]);
        if (!rv->line[i][0]) { /* closed before a request (not one) */
            close(c);
            continue;
        }
        __atomic_store_n(&rv->got, i + 1, __ATOMIC_RELEASE);
        if (i++ == 0) {
            held = c; /* never answered */
            continue;
        }
        const char *resp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n"
                           "Connection: close\r\n\r\n{\"paid\":42}";
        ssize_t w = write(c, resp, strlen(resp));
        (void)w;
        close(c);
    }
    if (held >= 0) close(held);
    return NULL;
}

Test(durable, an_inflight_http_request_is_performed_again_with_the_same_key) {
    receiver rv = {0};
    rv.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(rv.fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    getsockname(rv.fd, (struct sockaddr *)&a, &al);
    cr_assert_eq(listen(rv.fd, 8), 0);
    rv.port = ntohs(a.sin_port);
    pthread_create(&rv.thread, NULL, receive, &rv);
    char graph[1024];
    snprintf(graph, sizeof graph,
             "{\"symbia\":\"1.0\",\"name\":\"pay\",\"metadata\":{\"role\":\"pipeline\"},\"nodes\":[" PT("a")
             ",{\"id\":\"get\",\"component\":\"symbia.io.http-request\",\"config\":{\"url\":"
             "\"http://127.0.0.1:%d/pay/{{value}}\",\"timeoutMs\":60000}}," PT("z") "],\"edges\":[" EDGE("a", "get")
             "," EDGE("get", "z") "]}",
             rv.port);
    const char *more[] = {"--egress-allow-private", "true", NULL};
    server s = start_on(more);
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, graph, NULL));
    inject_nowait(&s, x, "a", "17");
    double t0 = proc_now_ms();
    while (__atomic_load_n(&rv.got, __ATOMIC_ACQUIRE) < 1) {
        cr_assert_lt(proc_now_ms() - t0, 10000, "the request was never made");
        sleep_ms(5);
    }
    cr_assert_eq(serve_kill(&s), 128 + 9);
    s = start_on(more);
    t0 = proc_now_ms();
    while (__atomic_load_n(&rv.got, __ATOMIC_ACQUIRE) < 2) {
        cr_assert_lt(proc_now_ms() - t0, 10000, "the request was not made again after the restart");
        sleep_ms(5);
    }
    pthread_join(rv.thread, NULL);
    close(rv.fd);
    cr_assert_str_eq(rv.line[1], rv.line[0]);
    cr_assert(strstr(rv.line[0], "/pay/17"), "%s", rv.line[0]);
    char want[160];
    snprintf(want, sizeof want, "%s:", x);
    cr_assert(strncmp(rv.key[0], want, strlen(want)) == 0, "Idempotency-Key <executionId>:<effect>: %s", rv.key[0]);
    cr_assert_str_eq(rv.key[1], rv.key[0], "the same Idempotency-Key both times");
    /* its answer goes on through the graph */
    when_z_ran(&s, x, 10000);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(durable, stopped_stays_cancelled_and_completed_stays_completed) {
    server s = start_plain();
    char stopped[64], done[64];
    snprintf(stopped, sizeof stopped, "%s", serve_execute(&s, ACC_GRAPH("acc"), NULL));
    inject_ok(&s, stopped, "in", "1", 200);
    http_resp r = xop(&s, stopped, "stop", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    /* completion auto: done once its output node emitted */
    snprintf(done, sizeof done, "%s",
             serve_execute(&s,
                           "{\"symbia\":\"1.0\",\"name\":\"once\",\"nodes\":[" PT("a") "," PT("z") "],\"edges\":["
                           EDGE("a", "z") "]}",
                           NULL));
    inject_ok(&s, done, "a", "1", 200);
    json_t *j = xget(&s, done, "");
    cr_assert_str_eq(state_of(j), "completed");
    json_decref(j);
    cr_assert_eq(serve_kill(&s), 128 + 9);
    s = start_plain();
    cr_assert(strstr(serve_log(&s), "recovery: 0 executions came back"), "%s", serve_log(&s));
    /* finished before the restart: read back from the journal when asked for (kept for inspection) */
    j = xget(&s, stopped, "");
    cr_assert(j && strcmp(state_of(j), "cancelled") == 0, "%s", j ? json_dumps(j, 0) : "404");
    json_decref(j);
    j = xget(&s, done, "");
    cr_assert(j && strcmp(state_of(j), "completed") == 0, "%s", j ? json_dumps(j, 0) : "404");
    json_decref(j);
    j = xget(&s, done, "/at/latest");
    cr_assert(j && strcmp(state_of(j), "completed") == 0, "its past too: %s", j ? json_dumps(j, 0) : "404");
    json_decref(j);
    r = xop(&s, stopped, "inject", "{\"nodeId\":\"in\",\"value\":2}");
    cr_assert(r.status == 404 || r.status == 409, "a stopped execution takes no input: %ld %s", r.status, r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(durable, a_virtual_execution_comes_back_on_virtual_and_its_timer_still_fires) {
    server s = start_plain();
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, DELAY_GRAPH(50), "{\"runtime\":\"virtual\"}"));
    inject_nowait(&s, x, "a", "7");
    http_resp r = xop(&s, x, "tick", "{\"count\":10}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_kill(&s), 128 + 9);
    s = start_plain();
    json_t *j = xget(&s, x, "");
    cr_assert_not_null(j);
    cr_assert_str_eq(json_string_value(json_object_get(j, "runtime")), "virtual");
    cr_assert_str_eq(state_of(j), "running");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "metrics"), "pendingEffects")), 1);
    json_decref(j);
    r = xop(&s, x, "tick", NULL);
    cr_assert_eq(r.status, 200, "tick works after the restart: %s", r.body);
    http_free(&r);
    r = xop(&s, x, "run", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    cr_assert_eq(invocations(&s, x, "z"), 1, "the delayed 7 came out");
    r = xop(&s, x, "tick", NULL);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

/* DEFECT (not fixed here, see the report): time commands are not journaled,
 * so the virtual clock comes back at the time of the newest record (here
 * the inject at tick 0), not where tick / advance left it: the 50 ms timer
 * needs 50 more ticks after the restart instead of 40. */
Test(durable, the_virtual_clock_comes_back_where_it_was) {
    server s = start_plain();
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, DELAY_GRAPH(50), "{\"runtime\":\"virtual\"}"));
    inject_nowait(&s, x, "a", "7");
    http_resp r = xop(&s, x, "tick", "{\"count\":10}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_int_t time_before = json_integer_value(json_object_get(r.json, "time"));
    http_free(&r);
    cr_assert_eq(serve_kill(&s), 128 + 9);
    s = start_plain();
    r = xop(&s, x, "tick", "{\"count\":40}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "time")), time_before + 40, "%s", r.body);
    cr_assert_eq(invocations(&s, x, "z"), 1, "the timer due at tick 50 fired at tick 50: %s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

/* DEFECT (not fixed here, see the report): an inject scheduled with
 * afterTicks is answered 202 but held by the virtual runtime only; it is
 * journaled when it comes due, so a restart before then loses it (SPEC
 * §7.1: "an inject answered 200/201/202 is never lost"). */
Test(durable, a_scheduled_inject_survives_a_restart) {
    server s = start_plain();
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, DELAY_GRAPH(50), "{\"runtime\":\"virtual\"}"));
    http_resp r = xop(&s, x, "inject", "{\"nodeId\":\"a\",\"value\":8,\"afterTicks\":100}");
    cr_assert_eq(r.status, 202, "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_kill(&s), 128 + 9);
    s = start_plain();
    r = xop(&s, x, "run", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(invocations(&s, x, "z"), 1, "the scheduled 8 was injected and came out: %s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(durable, a_runtime_switch_survives_a_restart) {
    server s = start_plain();
    char x[64];
    /* realtime → virtual with a 60 s timer pending: it comes back on virtual
     * with the timer, and virtual time fires it */
    snprintf(x, sizeof x, "%s", serve_execute(&s, DELAY_GRAPH(60000), NULL));
    inject_nowait(&s, x, "a", "3");
    http_resp r = xop(&s, x, "runtime", "{\"runtime\":\"virtual\"}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    /* virtual → realtime with 200 ms left */
    char y[64];
    snprintf(y, sizeof y, "%s", serve_execute(&s, DELAY_GRAPH(300), "{\"runtime\":\"virtual\"}"));
    inject_nowait(&s, y, "a", "4");
    r = xop(&s, y, "tick", "{\"count\":100}");
    http_free(&r);
    r = xop(&s, y, "runtime", "{\"runtime\":\"realtime\"}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_kill(&s), 128 + 9);
    s = start_plain();
    json_t *j = xget(&s, x, "");
    cr_assert_str_eq(json_string_value(json_object_get(j, "runtime")), "virtual");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "metrics"), "pendingEffects")), 1);
    json_decref(j);
    r = xop(&s, x, "advance", "{\"ms\":60000}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(invocations(&s, x, "z"), 1, "%s", r.body);
    http_free(&r);
    j = xget(&s, y, "");
    cr_assert_str_eq(json_string_value(json_object_get(j, "runtime")), "realtime");
    json_decref(j);
    when_z_ran(&s, y, 3000);
    cr_assert_eq(serve_stop(&s), 0);
}

typedef struct waiter {
    server *s;
    const char *x;
    http_resp r;
} waiter;

static void *wait_inject(void *arg) {
    waiter *w = arg;
    w->r = xop(w->s, w->x, "inject", "{\"nodeId\":\"a\",\"value\":9}");
    return NULL;
}

Test(durable, a_graceful_stop_keeps_executions) {
    server s = start_plain();
    char x[64], d[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, ACC_GRAPH("acc"), NULL));
    for (int v = 1; v <= 5; v++) {
        char val[16];
        snprintf(val, sizeof val, "%d", v);
        inject_ok(&s, x, "in", val, 200);
    }
    /* an inject waiting on a 60 s timer when SIGTERM comes is answered 202 */
    snprintf(d, sizeof d, "%s", serve_execute(&s, DELAY_GRAPH(60000), NULL));
    waiter w = {&s, d, {0}};
    pthread_t t;
    pthread_create(&t, NULL, wait_inject, &w);
    double t0 = proc_now_ms();
    for (;;) {
        json_t *j = xget(&s, d, "");
        json_int_t pending = json_integer_value(json_object_get(json_object_get(j, "metrics"), "pendingEffects"));
        json_decref(j);
        if (pending == 1) break;
        cr_assert_lt(proc_now_ms() - t0, 10000);
        sleep_ms(5);
    }
    cr_assert_eq(serve_stop(&s), 0, "a graceful stop exits 0");
    pthread_join(t, NULL);
    cr_assert_eq(w.r.status, 202, "the waiting inject is answered 202, not settled: %s", w.r.body);
    cr_assert(json_is_false(json_object_get(w.r.json, "settled")), "%s", w.r.body);
    http_free(&w.r);
    s = start_plain();
    cr_assert(strstr(serve_log(&s), "recovery: 2 executions came back and 0 failed"), "%s", serve_log(&s));
    json_t *j = xget(&s, x, "");
    cr_assert_not_null(j, "the execution is kept");
    cr_assert_str_eq(state_of(j), "running");
    json_decref(j);
    json_t *b = buffer_of(&s, x);
    cr_assert_eq(json_array_size(b), 5);
    for (size_t i = 0; i < 5; i++) cr_assert_eq(json_integer_value(json_array_get(b, i)), (json_int_t)i + 1);
    json_decref(b);
    j = xget(&s, d, "");
    cr_assert_str_eq(state_of(j), "running");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "metrics"), "pendingEffects")), 1,
                 "its timer is pending again");
    json_decref(j);
    cr_assert_eq(serve_stop(&s), 0);
}

/* Run one SQL statement on DATA_DIR/weir.db (the server is down). */
static void sql(const char *stmt) {
    char db[128];
    int changed = sqlq_exec(sqlq_db_of(db, sizeof db, dir), stmt);
    cr_assert_eq(changed, 1, "%s changed %d rows", stmt, changed);
}

Test(durable, an_edited_journal_comes_back_failed_naming_the_record) {
    server s = start_plain();
    char bad[64], good[64];
    snprintf(bad, sizeof bad, "%s", serve_execute(&s, ACC_GRAPH("acc"), NULL));
    snprintf(good, sizeof good, "%s", serve_execute(&s, ACC_GRAPH("acc"), NULL));
    for (int v = 1; v <= 4; v++) {
        char val[16];
        snprintf(val, sizeof val, "%d", v);
        inject_ok(&s, bad, "in", val, 200);
        inject_ok(&s, good, "in", val, 200);
    }
    /* stopped (not killed): its input logs are applied to weir.db, where
     * the edit is made */
    cr_assert_eq(serve_stop(&s), 0);
    /* record 3 of bad is {"node":"in",...,"value":2}: its value becomes 20 */
    char stmt[512];
    snprintf(stmt, sizeof stmt,
             "UPDATE journal SET body = replace(body, '\"value\":2', '\"value\":20') WHERE exec_id = '%s' AND seq = 3",
             bad);
    sql(stmt);
    s = start_plain();
    const char *log = serve_log(&s);
    cr_assert(strstr(log, "recovery: 1 execution came back and 1 failed, in "), "%s", log);
    json_t *j = xget(&s, bad, "");
    cr_assert_not_null(j, "the broken one is there, failed");
    cr_assert_str_eq(state_of(j), "failed", "%s", json_dumps(j, 0));
    const char *why = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    cr_assert(why && strstr(why, "record 3"), "the error names the record: %s", why);
    cr_assert(why && strstr(why, "hash"), "and the reason (its chain): %s", why);
    json_decref(j);
    json_t *b = buffer_of(&s, good);
    cr_assert_eq(json_array_size(b), 4, "the other one recovered");
    json_decref(b);
    j = xget(&s, good, "");
    cr_assert_str_eq(state_of(j), "running");
    json_decref(j);
    cr_assert_eq(serve_stop(&s), 0);
    /* and a failed one stays failed (its journal is closed), the other runs on */
    s = start_plain();
    j = xget(&s, good, "");
    cr_assert_str_eq(state_of(j), "running");
    json_decref(j);
    cr_assert(strstr(serve_log(&s), "recovery: 1 execution came back and 0 failed"), "%s", serve_log(&s));
    cr_assert_eq(serve_stop(&s), 0);
}

Test(durable, memory_ignores_the_data_dir) {
    server s = start_plain();
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, ACC_GRAPH("acc"), NULL));
    inject_ok(&s, x, "in", "1", 200);
    cr_assert_eq(serve_kill(&s), 128 + 9);
    const char *more[] = {"--memory", NULL};
    s = start_on(more);
    cr_assert_null(xget(&s, x, ""), "nothing is recovered with --memory");
    cr_assert_null(strstr(serve_log(&s), "recovery: 1"), "%s", serve_log(&s));
    cr_assert_eq(serve_stop(&s), 0);
    s = start_plain(); /* and the data dir still has it */
    json_t *b = buffer_of(&s, x);
    cr_assert_eq(json_array_size(b), 1);
    json_decref(b);
    cr_assert_eq(serve_stop(&s), 0);
}

/* Rows of DATA_DIR/weir.db's executions in state `state`. */
static int stored_executions(const char *state) {
    char db[128], q[160];
    snprintf(q, sizeof q, "SELECT count(*) FROM executions WHERE state = '%s'", state);
    return (int)sqlq_int(sqlq_db_of(db, sizeof db, dir), q);
}

/* The journals of finished executions on disk stay within the history of
 * finished executions (MAX_FINISHED_HISTORY, 1000) across restarts too:
 * those finished before a restart are not loaded again, so no eviction
 * deleted them, and every restart added up to 1000 journals for good. */
Test(durable, finished_journals_stay_bounded_across_restarts) {
    const int history = 1000;
    for (int round = 0; round < 2; round++) {
        server s = start_plain();
        http_resp g = http_req(&s, "POST", "/api/graphs",
                               "{\"symbia\":\"1.0\",\"name\":\"once\",\"nodes\":[" PT("a") "," PT("z")
                               "],\"edges\":[" EDGE("a", "z") "]}",
                               NULL);
        cr_assert_eq(g.status, 201, "%s", g.body);
        char path[160];
        snprintf(path, sizeof path, "/api/graphs/%s/execute", json_string_value(json_object_get(g.json, "id")));
        http_free(&g);
        for (int k = 0; k < history + 1; k++) {
            http_resp x = http_req(&s, "POST", path, NULL, NULL);
            cr_assert_eq(x.status, 201, "%s", x.body);
            inject_ok(&s, json_string_value(json_object_get(x.json, "executionId")), "a", "1", 200);
            http_free(&x);
        }
        cr_assert_eq(serve_stop(&s), 0);
        int kept = stored_executions("finished");
        cr_assert_leq(kept, history + 1, "round %d: %d finished executions kept on disk (history %d)", round, kept,
                      history);
    }
}
