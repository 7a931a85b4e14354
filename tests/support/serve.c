#include "serve.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

server serve_start(const char *const *extra) {
    /* stderr goes to a file: a pipe nobody drains would block the server */
    char log[] = "/tmp/weir-serve-XXXXXX";
    int fd = mkstemp(log);
    cr_assert_geq(fd, 0);
    const char *argv[32] = {WEIR_BINARY, "serve", "--port", "0"};
    int argc = 4;
    bool own_data = false;
    for (const char *const *e = extra; e && *e && argc < 28; e++) {
        own_data = own_data || strncmp(*e, "--data-dir", 10) == 0 || strncmp(*e, "--memory", 8) == 0;
        argv[argc++] = *e;
    }
    server srv = {0};
    if (!own_data) {
        proc_tempdir(srv.data_dir, sizeof srv.data_dir, "data");
        argv[argc++] = "--data-dir";
        argv[argc++] = srv.data_dir;
    }
    argv[argc] = NULL;
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        /* A failed assertion ends the test at once: the server must not
         * outlive it, nor hold CTest's output pipe open. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(fd, 2);
        close(fd);
        execv(WEIR_BINARY, (char *const *)argv);
        _exit(127);
    }
    int rd = open(log, O_RDONLY);
    unlink(log);
    close(fd);
    /* the start log grows with what the start restores (a line or more per
     * recovered execution): read all of it */
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    int port = 0;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!port) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        cr_assert_lt(now.tv_sec - t0.tv_sec, 20, "weir serve did not start: %.*s", (int)len, buf);
        if (cap - len < 4096) buf = realloc(buf, cap *= 2);
        ssize_t n = pread(rd, buf + len, cap - 1 - len, (off_t)len);
        if (n > 0) {
            len += (size_t)n;
            buf[len] = '\0';
            /* "listening on http://HOST:PORT ..." whatever HOST is bound */
            const char *at = strstr(buf, "listening on http://");
            const char *eol = at ? strchr(at, '\n') : NULL;
            if (eol) {
                const char *colon = at + strlen("listening on http://");
                colon += strcspn(colon, " \n");
                while (colon > at && *colon != ':') colon--;
                port = atoi(colon + 1);
                cr_assert_gt(port, 0, "no port in: %.*s", (int)(eol - at), at);
            }
            continue;
        }
        int st;
        cr_assert_eq(waitpid(pid, &st, WNOHANG), 0, "weir serve exited: %.*s", (int)len, buf);
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    free(buf);
    srv.pid = pid;
    srv.port = port;
    srv.err_fd = rd;
    return srv;
}

static char *read_all(int fd);

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void serve_rmdir(const char *path) { nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static void drop_data(server *s) {
    if (s->data_dir[0]) serve_rmdir(s->data_dir);
    s->data_dir[0] = '\0';
}

int serve_kill(server *s) {
    if (s->pid <= 0) return -1;
    kill(s->pid, SIGKILL);
    int st = 0;
    waitpid(s->pid, &st, 0);
    s->pid = 0;
    close(s->err_fd);
    drop_data(s);
    return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
}

int serve_stop(server *s) {
    if (s->pid <= 0) return -1;
    /* SIGTERM is the graceful stop under test; a second one must be harmless */
    kill(s->pid, SIGTERM);
    int st = 0;
    for (int i = 0; i < 2000; i++) { /* up to 20 s */
        pid_t r = waitpid(s->pid, &st, WNOHANG);
        if (r == s->pid) break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (i == 1999) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &st, 0);
            s->pid = 0;
            close(s->err_fd);
            drop_data(s);
            return -1;
        }
    }
    s->pid = 0;
    drop_data(s);
    /* A sanitizer report in the server process fails the test too. */
    char *log = read_all(s->err_fd);
    close(s->err_fd);
    cr_assert_null(strstr(log, "Sanitizer"), "the server reported:\n%s", log);
    cr_assert_null(strstr(log, "runtime error:"), "the server reported:\n%s", log);
    free(log);
    /* as a shell reports it: the exit code, or 128 + the killing signal */
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
}

typedef struct sink {
    char *p;
    size_t n;
} sink;

static size_t collect(char *data, size_t size, size_t nmemb, void *ud) {
    sink *s = ud;
    size_t add = size * nmemb;
    s->p = realloc(s->p, s->n + add + 1);
    memcpy(s->p + s->n, data, add);
    s->n += add;
    s->p[s->n] = '\0';
    return add;
}

http_resp http_req(const server *s, const char *method, const char *path, const char *body, const char *content_type) {
    return http_req_h(s, method, path, body, content_type, NULL);
}

json_t *http_get_json(const server *s, const char *path) {
    http_resp r = http_req(s, "GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "GET %s: %ld %s", path, r.status, r.body);
    json_t *j = json_incref(r.json);
    http_free(&r);
    return j;
}

http_resp http_req_h(const server *s, const char *method, const char *path, const char *body, const char *content_type,
                     const char *const *headers) {
    CURL *c = curl_easy_init();
    char url[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s->port, path);
    sink b = {calloc(1, 1), 0}, h = {calloc(1, 1), 0};
    struct curl_slist *hdrs = NULL;
    char ct[256];
    snprintf(ct, sizeof ct, "Content-Type: %s", content_type ? content_type : "application/json");
    hdrs = curl_slist_append(hdrs, ct);
    for (const char *const *line = headers; line && *line; line++) hdrs = curl_slist_append(hdrs, *line);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    CURLcode rc = curl_easy_perform(c);
    cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    http_resp r = {0, b.p, NULL, h.p};
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    r.json = json_loads(b.p, JSON_DECODE_ANY, NULL);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return r;
}

void http_free(http_resp *r) {
    free(r->body);
    free(r->headers);
    json_decref(r->json);
}

/* All of what fd holds from its start (malloc'd, NUL-terminated). */
static char *read_all(int fd) {
    size_t cap = 65536, len = 0;
    char *p = malloc(cap);
    for (;;) {
        if (cap - len < 4096) p = realloc(p, cap *= 2);
        ssize_t n = pread(fd, p + len, cap - 1 - len, (off_t)len);
        if (n <= 0) break;
        len += (size_t)n;
    }
    p[len] = '\0';
    return p;
}

const char *serve_log(const server *s) {
    static char *log;
    free(log);
    log = read_all(s->err_fd);
    return log;
}

const char *serve_execute(server *s, const char *graph_json, const char *opts) {
    static char id[64];
    http_resp g = http_req(s, "POST", "/api/graphs", graph_json, NULL);
    cr_assert_eq(g.status, 201, "%s", g.body);
    char path[256];
    snprintf(path, sizeof path, "/api/graphs/%s/execute", json_string_value(json_object_get(g.json, "id")));
    http_resp x = http_req(s, "POST", path, opts, NULL);
    cr_assert_eq(x.status, 201, "%s", x.body);
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(x.json, "executionId")));
    http_free(&g);
    http_free(&x);
    return id;
}

typedef struct injector {
    server *s;
    char path[256];
    const char *body;
    serve_probe *p;
    volatile int done;
} injector;

static void *inject_thread(void *arg) {
    injector *in = arg;
    double t0 = proc_now_ms();
    in->p->r = http_req(in->s, "POST", in->path, in->body, NULL);
    in->p->ms = proc_now_ms() - t0;
    __atomic_store_n(&in->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

serve_probe serve_inject_polling_health(server *s, const char *exec, const char *body) {
    serve_probe p = {0};
    injector in = {.s = s, .body = body, .p = &p};
    snprintf(in.path, sizeof in.path, "/api/executions/%s/inject", exec);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, inject_thread, &in), 0);
    do {
        double h0 = proc_now_ms();
        http_resp h = http_req(s, "GET", "/health", NULL, NULL);
        double ms = proc_now_ms() - h0;
        cr_assert_eq(h.status, 200, "%s", h.body);
        http_free(&h);
        if (ms > p.slowest) p.slowest = ms;
        p.checks++;
    } while (!__atomic_load_n(&in.done, __ATOMIC_ACQUIRE));
    pthread_join(t, NULL);
    return p;
}
