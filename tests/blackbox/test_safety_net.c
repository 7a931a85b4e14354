/* weir serve, black-box over raw loopback sockets: SPEC §10 "Connections"
 * (MAX_CONNECTIONS, MAX_CONNECTIONS_PER_IP, HEADER_TIMEOUT_MS, /health* at
 * the cap, the open-file limit) and "Browsers" (Host and 421, Origin and
 * 403 on requests, /ws and Socket.IO, CORS headers; the same-origin case
 * that must keep working). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "serve.h"

#define BOUND_MS 10000

static uint64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* A connection to the server from source (an address of 127/8). */
static int conn_from(const server *s, const char *source) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in from = {.sin_family = AF_INET};
    inet_pton(AF_INET, source, &from.sin_addr);
    cr_assert_eq(bind(fd, (struct sockaddr *)&from, sizeof from), 0, "bind %s: %s", source, strerror(errno));
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&to, sizeof to), 0, "connect: %s", strerror(errno));
    return fd;
}

static void send_all(int fd, const char *text) {
    size_t len = strlen(text);
    while (len) {
        ssize_t n = send(fd, text, len, MSG_NOSIGNAL);
        cr_assert_gt(n, 0, "send: %s", strerror(errno));
        text += n;
        len -= (size_t)n;
    }
}

typedef struct reply {
    int status;
    char text[16384]; /* head and body as received */
    const char *body;
    bool closed;      /* the server closed after it */
} reply;

/* Read one response (its head and Content-Length bytes of body, or up to
 * the close); fails the test after BOUND_MS. */
static void read_reply(int fd, reply *r) {
    memset(r, 0, sizeof *r);
    size_t len = 0;
    uint64_t t0 = now_ms();
    for (;;) {
        char *end = strstr(r->text, "\r\n\r\n");
        if (end) {
            const char *cl = strcasestr(r->text, "\r\nContent-Length: ");
            size_t want = (size_t)(end + 4 - r->text) + (cl && cl < end ? strtoul(cl + 18, NULL, 10) : 0);
            if (len >= want) break;
        }
        cr_assert_lt(now_ms() - t0, BOUND_MS, "no whole response: %s", r->text);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        ssize_t n = recv(fd, r->text + len, sizeof r->text - 1 - len, 0);
        if (n <= 0) {
            r->closed = true;
            break;
        }
        len += (size_t)n;
        r->text[len] = '\0';
    }
    cr_assert(strncmp(r->text, "HTTP/1.1 ", 9) == 0, "not a response: '%s'", r->text);
    r->status = atoi(r->text + 9);
    char *end = strstr(r->text, "\r\n\r\n");
    r->body = end ? end + 4 : "";
}

/* The value of a response header, or NULL (a static buffer). */
static const char *header(const reply *r, const char *name) {
    static char v[512];
    char pat[128];
    snprintf(pat, sizeof pat, "\r\n%s: ", name);
    const char *at = strcasestr(r->text, pat);
    const char *end = strstr(r->text, "\r\n\r\n");
    if (!at || (end && at > end)) return NULL;
    at += strlen(pat);
    size_t n = strcspn(at, "\r\n");
    snprintf(v, sizeof v, "%.*s", (int)n, at);
    return v;
}

/* True once the server has closed fd (within BOUND_MS), reading what is left. */
static bool closed_within(int fd, uint64_t ms) {
    uint64_t t0 = now_ms();
    char buf[4096];
    while (now_ms() - t0 < ms) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0) continue;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return true;
    }
    return false;
}

/* One request on a new connection from source; the reply. */
static void ask(const server *s, const char *source, const char *request, reply *r) {
    int fd = conn_from(s, source);
    send_all(fd, request);
    read_reply(fd, r);
    close(fd);
}

static void get(const server *s, const char *source, const char *path, reply *r) {
    char req[512];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", path, s->port);
    ask(s, source, req, r);
}

/* `weir serve --memory` with settings from the environment (NAME=value
 * strings, NULL-terminated): a server that does not know a setting ignores
 * it, so a test of it fails on behaviour, not on a usage error. */
static server start_env(const char *const *env) {
    for (; env && *env; env++) cr_assert_eq(putenv((char *)*env), 0);
    return serve_start((const char *const[]){"--memory", NULL});
}

/* ------------------------------------------------------------ connections */

/* n connections from source that trickle a request line and never finish it */
static void trickle_open(const server *s, const char *source, int *fds, int n) {
    for (int i = 0; i < n; i++) {
        fds[i] = conn_from(s, source);
        send_all(fds[i], "GET /api/graphs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    }
}

Test(safety_net, per_ip_limit_answers_503_with_retry_after_and_health_still_answers) {
    server s = start_env((const char *const[]){"MAX_CONNECTIONS_PER_IP=5", NULL});
    int fds[30];
    trickle_open(&s, "127.0.0.1", fds, 30); /* the brief's 1,100 trickling connections, scaled */
    reply r;
    get(&s, "127.0.0.1", "/api/graphs", &r);
    cr_assert_eq(r.status, 503, "%s", r.text);
    cr_assert_str_eq(header(&r, "Retry-After"), "1");
    cr_assert(strstr(r.body, "MAX_CONNECTIONS_PER_IP 5"), "%s", r.body);
    /* /health* from the same address still answers */
    get(&s, "127.0.0.1", "/health", &r);
    cr_assert_eq(r.status, 200, "%s", r.text);
    get(&s, "127.0.0.1", "/health/ready", &r);
    cr_assert_eq(r.status, 200, "%s", r.text);
    /* another client is not affected */
    get(&s, "127.0.0.2", "/api/graphs", &r);
    cr_assert_eq(r.status, 200, "%s", r.text);
    for (int i = 0; i < 30; i++) close(fds[i]);
    serve_stop(&s);
}

Test(safety_net, at_max_connections_only_health_answers) {
    /* a header timeout long enough that the 20 stay while the test runs */
    server s = start_env(
        (const char *const[]){"MAX_CONNECTIONS=20", "MAX_CONNECTIONS_PER_IP=5", "HEADER_TIMEOUT_MS=5000", NULL});
    /* 20 connections from four addresses (5 each, the per-address limit) */
    int fds[20];
    char src[16];
    for (int k = 0; k < 4; k++) {
        snprintf(src, sizeof src, "127.0.0.%d", 10 + k);
        trickle_open(&s, src, fds + 5 * k, 5);
    }
    reply r;
    get(&s, "127.0.0.20", "/api/graphs", &r);
    cr_assert_eq(r.status, 503, "%s", r.text);
    cr_assert_str_eq(header(&r, "Retry-After"), "1");
    cr_assert(strstr(r.body, "too many connections (MAX_CONNECTIONS 20)"), "%s", r.body);
    get(&s, "127.0.0.20", "/health", &r);
    cr_assert_eq(r.status, 200, "%s", r.text);
    cr_assert_str_eq(header(&r, "Connection"), "close");
    get(&s, "127.0.0.21", "/health/live", &r);
    cr_assert_eq(r.status, 200, "%s", r.text);
    for (int i = 0; i < 20; i++) close(fds[i]);
    /* their slots come back: the header timeout would have closed them anyway */
    uint64_t t0 = now_ms();
    do {
        cr_assert_lt(now_ms() - t0, BOUND_MS);
        get(&s, "127.0.0.20", "/api/graphs", &r);
    } while (r.status == 503);
    cr_assert_eq(r.status, 200, "%s", r.text);
    serve_stop(&s);
}

Test(safety_net, header_timeout_closes_a_trickling_connection) {
    server s = start_env((const char *const[]){"HEADER_TIMEOUT_MS=300", NULL});
    /* one byte every 50 ms: the headers never complete */
    int fd = conn_from(&s, "127.0.0.1");
    const char *req = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    uint64_t t0 = now_ms();
    bool closed = false;
    char buf[4096];
    size_t got = 0;
    for (size_t i = 0; req[i] && !closed; i++) {
        if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1) break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) > 0) {
            ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
            if (n <= 0) closed = true;
            else got += (size_t)n;
        }
    }
    closed = closed || closed_within(fd, 2000);
    uint64_t took = now_ms() - t0;
    buf[got] = '\0';
    cr_assert(closed, "still open after %llu ms", (unsigned long long)took);
    cr_assert_lt(took, 2500, "closed only after %llu ms", (unsigned long long)took);
    cr_assert(strstr(buf, "408") && strstr(buf, "HEADER_TIMEOUT_MS (300 ms)"), "%s", buf);
    close(fd);
    /* one that sends nothing at all */
    fd = conn_from(&s, "127.0.0.1");
    t0 = now_ms();
    cr_assert(closed_within(fd, 2000));
    cr_assert_geq(now_ms() - t0, 250);
    close(fd);
    serve_stop(&s);
}

Test(safety_net, max_connections_is_cut_to_the_open_file_limit) {
    /* the server inherits this (lower, then unraisable) limit */
    struct rlimit rl = {400, 400};
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    server s = serve_start((const char *const[]){"--memory", NULL});
    const char *log = serve_log(&s);
    cr_assert(strstr(log, "open-file limit 400 (hard limit 400)"), "%s", log);
    cr_assert(strstr(log, "MAX_CONNECTIONS 10000 does not fit the open-file limit 400: using 80"), "%s", log);
    serve_stop(&s);
}

Test(safety_net, the_open_file_limit_is_raised_and_logged) {
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 1000) cr_skip_test("hard open-file limit below 1000");
    rl.rlim_cur = 256;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    server s = start_env((const char *const[]){"MAX_CONNECTIONS=500", NULL});
    const char *log = serve_log(&s);
    cr_assert(strstr(log, "open-file limit raised from 256 to 820"), "%s", log);
    cr_assert_null(strstr(log, "does not fit"), "%s", log);
    serve_stop(&s);
}

/* --------------------------------------------------------------- browsers */

Test(safety_net, a_foreign_host_gets_421) {
    server s = serve_start((const char *const[]){"--memory", NULL});
    reply r;
    const char *hosts[] = {"evil.example", "evil.example:5006", "127.0.0.1.evil.example"};
    for (size_t i = 0; i < 3; i++) {
        char req[256];
        snprintf(req, sizeof req, "GET /api/graphs HTTP/1.1\r\nHost: %s\r\n\r\n", hosts[i]);
        ask(&s, "127.0.0.1", req, &r);
        cr_assert_eq(r.status, 421, "%s", r.text);
        cr_assert(strncmp(r.text, "HTTP/1.1 421 Misdirected Request\r\n", 34) == 0, "%s", r.text);
        cr_assert(strstr(r.body, "ALLOWED_HOSTS"), "%s", r.body);
    }
    /* a rebinding page posting a graph */
    ask(&s, "127.0.0.1",
        "POST /api/graphs HTTP/1.1\r\nHost: evil.example:5006\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\n\r\n{}",
        &r);
    cr_assert_eq(r.status, 421, "%s", r.text);
    /* loopback names at any port, and no Host at all (HTTP/1.0) */
    const char *ok[] = {"GET /health HTTP/1.1\r\nHost: localhost:1\r\n\r\n", "GET /health HTTP/1.1\r\nHost: [::1]\r\n\r\n",
                        "GET /health HTTP/1.0\r\n\r\n"};
    for (size_t i = 0; i < 3; i++) {
        ask(&s, "127.0.0.1", ok[i], &r);
        cr_assert_eq(r.status, 200, "%s", r.text);
    }
    serve_stop(&s);
    s = start_env((const char *const[]){"ALLOWED_HOSTS=evil.example", NULL});
    ask(&s, "127.0.0.1", "GET /api/graphs HTTP/1.1\r\nHost: evil.example:5006\r\n\r\n", &r);
    cr_assert_eq(r.status, 200, "%s", r.text);
    serve_stop(&s);
}

static void ask_origin(const server *s, const char *method, const char *path, const char *origin, const char *extra,
                       reply *r) {
    char req[9300];
    snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: %s\r\n%s\r\n", method, path, s->port,
             origin, extra ? extra : "");
    ask(s, "127.0.0.1", req, r);
}

#define WS_HEADERS \
    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" \
    "Sec-WebSocket-Version: 13\r\n"

Test(safety_net, a_foreign_origin_gets_403_everywhere) {
    server s = serve_start((const char *const[]){"--memory", NULL});
    const char *origins[] = {"http://evil.example", "null", "http://127.0.0.1:1"};
    for (size_t i = 0; i < 3; i++) {
        reply r;
        /* a text/plain POST (no preflight) creating a graph */
        ask_origin(&s, "POST", "/api/graphs", origins[i],
                   "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}", &r);
        cr_assert_eq(r.status, 403, "%s", r.text);
        cr_assert(strstr(r.body, "CORS_ORIGINS"), "%s", r.body);
        cr_assert_null(header(&r, "Access-Control-Allow-Origin"));
        ask_origin(&s, "GET", "/api/graphs", origins[i], NULL, &r);
        cr_assert_eq(r.status, 403, "%s", r.text);
        ask_origin(&s, "OPTIONS", "/api/graphs", origins[i], "Access-Control-Request-Method: POST\r\n", &r);
        cr_assert_eq(r.status, 403, "%s", r.text);
        cr_assert_null(header(&r, "Access-Control-Allow-Origin"));
        ask_origin(&s, "GET", "/ws", origins[i], WS_HEADERS, &r);
        cr_assert_eq(r.status, 403, "%s", r.text);
        ask_origin(&s, "GET", "/socket.io/?EIO=4&transport=polling", origins[i], NULL, &r);
        cr_assert_eq(r.status, 403, "%s", r.text);
        ask_origin(&s, "GET", "/socket.io/?EIO=4&transport=websocket", origins[i], WS_HEADERS, &r);
        cr_assert_eq(r.status, 403, "%s", r.text);
    }
    /* nothing was made */
    http_resp g = http_req(&s, "GET", "/api/graphs", NULL, NULL);
    cr_assert_eq(g.status, 200);
    cr_assert_eq(json_array_size(g.json), 0, "%s", g.body);
    http_free(&g);
    serve_stop(&s);
}

static char *graph_text(void) {
    FILE *f = fopen(WEIR_SOURCE_DIR "/examples/quick-reference.json", "rb");
    cr_assert_not_null(f);
    char *buf = calloc(1, 6000);
    size_t n = fread(buf, 1, 5999, f);
    fclose(f);
    cr_assert(n > 0 && n < 5999);
    return buf;
}

Test(safety_net, the_servers_own_origin_keeps_working) {
    server s = serve_start((const char *const[]){"--memory", NULL});
    char own[64];
    snprintf(own, sizeof own, "http://127.0.0.1:%d", s.port);
    reply r;
    char *graph = graph_text();
    char post[8192];
    snprintf(post, sizeof post, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", strlen(graph),
             graph);
    free(graph);
    ask_origin(&s, "POST", "/api/graphs", own, post, &r);
    cr_assert_eq(r.status, 201, "%s", r.text);
    cr_assert_str_eq(header(&r, "Access-Control-Allow-Origin"), own);
    cr_assert_str_eq(header(&r, "Vary"), "Origin");
    ask_origin(&s, "GET", "/api/graphs", own, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.text);
    cr_assert_str_eq(header(&r, "Access-Control-Allow-Origin"), own);
    /* /ws upgrade */
    ask_origin(&s, "GET", "/ws", own, WS_HEADERS, &r);
    cr_assert_eq(r.status, 101, "%s", r.text);
    /* Socket.IO: polling handshake, then the upgrade of that session */
    ask_origin(&s, "GET", "/socket.io/?EIO=4&transport=polling", own, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.text);
    cr_assert_str_eq(header(&r, "Access-Control-Allow-Origin"), own);
    const char *sid = strstr(r.body, "\"sid\":\"");
    cr_assert(sid, "%s", r.body);
    char q[160];
    snprintf(q, sizeof q, "/socket.io/?EIO=4&transport=websocket&sid=%.*s", (int)strcspn(sid + 7, "\""), sid + 7);
    ask_origin(&s, "GET", q, own, WS_HEADERS, &r);
    cr_assert_eq(r.status, 101, "%s", r.text);
    serve_stop(&s);
}

Test(safety_net, cors_origins_opens_listed_origins_only) {
    server s = start_env((const char *const[]){"CORS_ORIGINS=http://ui.example:8080", NULL});
    reply r;
    ask_origin(&s, "OPTIONS", "/api/graphs", "http://ui.example:8080",
               "Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n", &r);
    cr_assert_eq(r.status, 204, "%s", r.text);
    cr_assert_str_eq(header(&r, "Access-Control-Allow-Origin"), "http://ui.example:8080");
    cr_assert_str_eq(header(&r, "Vary"), "Origin");
    ask_origin(&s, "GET", "/ws", "http://ui.example:8080", WS_HEADERS, &r);
    cr_assert_eq(r.status, 101, "%s", r.text);
    ask_origin(&s, "GET", "/api/graphs", "http://ui.example", NULL, &r);
    cr_assert_eq(r.status, 403, "%s", r.text);
    ask_origin(&s, "GET", "/api/graphs", "null", NULL, &r);
    cr_assert_eq(r.status, 403, "%s", r.text);
    serve_stop(&s);
    s = serve_start((const char *const[]){"--memory", "--cors-origins", "*", NULL}); /* the flag form too */
    ask_origin(&s, "GET", "/api/graphs", "http://anything.example", NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.text);
    /* any Origin may act, but is echoed, never "*" (routes change things) */
    cr_assert_str_eq(header(&r, "Access-Control-Allow-Origin"), "http://anything.example");
    cr_assert_str_eq(header(&r, "Vary"), "Origin");
    ask_origin(&s, "OPTIONS", "/api/graphs", "http://anything.example",
               "Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n", &r);
    cr_assert_eq(r.status, 204, "%s", r.text);
    cr_assert_str_eq(header(&r, "Access-Control-Allow-Origin"), "http://anything.example");
    cr_assert_str_eq(header(&r, "Vary"), "Origin");
    serve_stop(&s);
}

Test(safety_net, malformed_lists_stop_the_start_naming_the_setting) {
    proc_result p = proc_run("CORS_ORIGINS=ui.example timeout 10 " WEIR_BINARY " serve --memory --port 0");
    cr_assert_eq(p.status, 2, "%s", p.err);
    cr_assert(strstr(p.err, "CORS_ORIGINS entry 'ui.example' is not an origin"), "%s", p.err);
    proc_free(&p);
    p = proc_run("ALLOWED_HOSTS=http://x timeout 10 " WEIR_BINARY " serve --memory --port 0");
    cr_assert_eq(p.status, 2, "%s", p.err);
    cr_assert(strstr(p.err, "ALLOWED_HOSTS entry 'http://x' is not a host"), "%s", p.err);
    proc_free(&p);
}
