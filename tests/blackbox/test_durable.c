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
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

__attribute__((unused)) static server start_plain(void) { return start_on(NULL); }

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
__attribute__((unused)) static json_int_t invocations(server *s, const char *x, const char *node) {
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
static void kill_under_load(int kill_at, const char *durability) {
    const char *more[] = {"--durability", durability, NULL};
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

Test(durable, kill9_after_50_answers_loses_nothing_answered) { kill_under_load(50, "fsync"); }
Test(durable, kill9_after_500_answers_loses_nothing_answered) { kill_under_load(500, "fsync"); }
Test(durable, kill9_after_3000_answers_loses_nothing_answered) { kill_under_load(3000, "fsync"); }
Test(durable, kill9_after_500_answers_durability_process) { kill_under_load(500, "process"); }
Test(durable, kill9_after_3000_answers_durability_process) { kill_under_load(3000, "process"); }

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
    for (int round = 0; round < 3; round++) {
        unlink(log_path);
        pid_t pid = spawn_on(log_path);
        double t0 = proc_now_ms(), wait_ms = round == 0 ? 1e9 : full * round / 3;
        char *log = NULL;
        for (;;) {
            free(log);
            log = slurp(log_path);
            if (strstr(log, "recovery: ")) break;
            cr_assert_lt(proc_now_ms() - t0, 60000, "no recovery line: %s", log);
            if (round > 0 && strstr(log, "open-file limit")) { /* recovery comes next */
                if (wait_ms > 0) sleep_ms((int)wait_ms);
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
        } else {
            cr_assert_null(strstr(log, "recovery: "), "killed after %.0f ms: it had finished already:\n%s", wait_ms,
                           log);
        }
        free(log);
    }
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
