/* weir serve, black-box over raw loopback sockets: many idle WebSocket
 * connections (issue 10: an idle connection is cheap).  2,000 /ws clients
 * stay open and silent while /health and /api/stats keep answering; a
 * client among them that speaks up after the others is answered; then they
 * all go and the server counts none.  No timing is asserted: every wait is
 * a bounded poll. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "serve.h"

#define BOUND_MS 20000
#define N_IDLE 2000
#define PER_SOURCE 200 /* below MAX_CONNECTIONS_PER_IP (256): 127.0.0.2, .3, ... */

static uint64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

typedef struct wsc {
    int fd;
    bool sent, open;
    size_t len;
    char buf[512];
} wsc;

static int dial_from(int port, unsigned i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
    struct sockaddr_in from = {.sin_family = AF_INET};
    from.sin_addr.s_addr = htonl(0x7f000002u + i / PER_SOURCE);
    cr_assert_eq(bind(fd, (struct sockaddr *)&from, sizeof from), 0, "bind: %s", strerror(errno));
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, (struct sockaddr *)&to, sizeof to);
    cr_assert(rc == 0 || errno == EINPROGRESS, "connect: %s", strerror(errno));
    return fd;
}

static const char HANDSHAKE[] = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/* One step of a client's handshake: false while it is under way. */
static bool advance(wsc *c) {
    if (c->open) return true;
    if (!c->sent) {
        ssize_t n = send(c->fd, HANDSHAKE, sizeof HANDSHAKE - 1, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == ENOTCONN)) return false; /* still connecting */
        cr_assert_eq(n, (ssize_t)sizeof HANDSHAKE - 1, "handshake send: %s", strerror(errno));
        c->sent = true;
    }
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len, 0);
    if (n < 0 && errno == EAGAIN) return false;
    cr_assert_gt(n, 0, "the server closed a /ws handshake");
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    char *end = strstr(c->buf, "\r\n\r\n");
    if (!end) return false;
    cr_assert(strncmp(c->buf, "HTTP/1.1 101 ", 13) == 0, "the upgrade was answered: %s", c->buf);
    cr_assert_eq((size_t)(end + 4 - c->buf), c->len, "bytes after the 101 on an idle connection");
    c->open = true;
    c->len = 0;
    return true;
}

static long stat_of(server *s, const char *key) {
    http_resp r = http_req(s, "GET", "/api/stats", NULL, NULL);
    cr_assert_eq(r.status, 200);
    long v = (long)json_integer_value(json_object_get(r.json, key));
    http_free(&r);
    return v;
}

Test(idle, two_thousand_idle_websockets_leave_health_answering, .timeout = 120) {
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < N_IDLE + 200) {
        rl.rlim_cur = rl.rlim_max < N_IDLE + 200 ? rl.rlim_max : N_IDLE + 200;
        setrlimit(RLIMIT_NOFILE, &rl);
        cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    if (rl.rlim_cur < N_IDLE + 200) cr_skip_test("the open-file limit (%llu) is too low", (unsigned long long)rl.rlim_cur);
    const char *args[] = {"--memory", "--max-connections", "3000", NULL};
    server s = serve_start(args);
    wsc *cs = calloc(N_IDLE, sizeof *cs);
    for (unsigned i = 0; i < N_IDLE; i++) cs[i].fd = dial_from(s.port, i);
    unsigned open = 0;
    uint64_t t0 = now_ms();
    while (open < N_IDLE) {
        cr_assert_lt(now_ms() - t0, BOUND_MS, "%u of %d handshakes done", open, N_IDLE);
        open = 0;
        for (unsigned i = 0; i < N_IDLE; i++) open += advance(&cs[i]);
        if (open < N_IDLE) (void)poll(NULL, 0, 5);
    }
    /* all idle now: the server keeps answering, and counts them */
    for (int i = 0; i < 20; i++) {
        http_resp r = http_req(&s, "GET", "/health", NULL, NULL);
        cr_assert_eq(r.status, 200, "/health with %d idle websockets: %ld %s", N_IDLE, r.status, r.body);
        http_free(&r);
    }
    cr_assert_geq(stat_of(&s, "connections"), N_IDLE);
    cr_assert_eq(stat_of(&s, "eventClients"), N_IDLE);
    /* one of them speaks up: a ping, answered with a pong */
    wsc *c = &cs[N_IDLE / 2];
    const unsigned char ping[] = {0x89, 0x82, 0, 0, 0, 0, 'h', 'i'};
    cr_assert_eq(send(c->fd, ping, sizeof ping, MSG_NOSIGNAL), (ssize_t)sizeof ping);
    unsigned char pong[16];
    size_t got = 0;
    t0 = now_ms();
    while (got < 4) {
        cr_assert_lt(now_ms() - t0, BOUND_MS, "no pong");
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        ssize_t n = recv(c->fd, pong + got, sizeof pong - got, 0);
        cr_assert_gt(n, 0, "closed instead of a pong");
        got += (size_t)n;
    }
    cr_assert_eq(pong[0], 0x8a);
    cr_assert_eq(pong[1], 2);
    cr_assert(memcmp(pong + 2, "hi", 2) == 0);
    /* they all go: the server counts none of them */
    for (unsigned i = 0; i < N_IDLE; i++) close(cs[i].fd);
    free(cs);
    t0 = now_ms();
    while (stat_of(&s, "eventClients") != 0) {
        cr_assert_lt(now_ms() - t0, BOUND_MS, "the closed websockets are still counted");
        (void)poll(NULL, 0, 20);
    }
    http_resp r = http_req(&s, "GET", "/health", NULL, NULL);
    cr_assert_eq(r.status, 200);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0, "%s", serve_log(&s));
}
