/*
 * Idle WebSocket connections (issue 10's figure: 10,000 idle connections
 * under 150 MB RSS, /health answered in under 10 ms).
 *
 * Against a running `weir serve` on 127.0.0.1:PORT (process PID): opens N
 * WebSocket connections (mode ws: /ws; ws-sub: /ws, each subscribed to one
 * execution, which stays quiet, and acknowledged; sio: Socket.IO over its
 * websocket transport, connected to "/"), handshakes done, then leaves them
 * idle; prints the server's RSS (VmRSS of /proc/PID/status) before and
 * after, per connection, and the latency of GET /health (a new connection
 * per request, then one keep-alive connection): median and max.
 *
 * The connections come from several loopback source addresses, at most
 * PER_SOURCE (200) each: 127.0.0.2, 127.0.0.3, ... (every 127/8 address is
 * the local host on Linux), so the server's MAX_CONNECTIONS_PER_IP (256)
 * stays as it is; its MAX_CONNECTIONS must allow N (the script raises it).
 * The open-file limit of this process is raised to its hard limit.
 *
 * Usage: bench_idle PORT N PID [ws|ws-sub|sio]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define PER_SOURCE 200     /* connections per source address */
#define IN_FLIGHT 256      /* handshakes under way at once */
#define HEALTH_PROBES 30   /* /health requests per kind */
#define RX_CAP 2048        /* per connection: the 101 and the first frames */
#define SETTLE_MS 1000     /* after the last handshake, before RSS is read */

static int port;
static bool sio;
static char subscribe[256]; /* ws-sub: the message each connection sends once open */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what) {
    fprintf(stderr, "bench_idle: %s: %s\n", what, errno ? strerror(errno) : "failed");
    exit(1);
}

#include "loopback.h"

static long rss_kib(int pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

typedef enum { C_CONNECTING, C_UPGRADING, C_OPENING, C_CONNECTING_NS, C_SUBSCRIBING, C_IDLE, C_DEAD } cstate;

typedef struct conn {
    int fd;
    cstate st;
    size_t len;
    char rx[RX_CAP];
} conn;

static int source_socket(unsigned i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in from = {.sin_family = AF_INET};
    from.sin_addr.s_addr = htonl(0x7f000002u + i / PER_SOURCE); /* 127.0.0.2 + ... */
    if (bind(fd, (struct sockaddr *)&from, sizeof from)) die("bind");
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&to, sizeof to) && errno != EINPROGRESS) die("connect");
    return fd;
}

static bool send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            poll(&pf, 1, 1000);
            continue;
        }
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* A masked text frame (mask key 0: the payload goes as is). */
static bool ws_send(int fd, const char *text) {
    size_t n = strlen(text); /* < 126 here */
    if (n > 125) return false;
    char f[140];
    f[0] = (char)0x81;
    f[1] = (char)(0x80 | n);
    memset(f + 2, 0, 4);
    memcpy(f + 6, text, n);
    return send_all(fd, f, n + 6);
}

static bool handshake(conn *c) {
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     sio ? "/socket.io/?EIO=4&transport=websocket" : "/ws", port);
    return send_all(c->fd, req, (size_t)n);
}

/* Consume whole server frames from rx: returns false on a close frame or a
 * frame too large for rx.  Engine.IO: "0{...}" (open) asks for "40", "40"
 * means connected, "2" (ping) is answered with "3". */
static bool frames(conn *c) {
    for (;;) {
        if (c->len < 2) return true;
        unsigned char *p = (unsigned char *)c->rx;
        size_t plen = p[1] & 0x7f, h = 2;
        if (plen == 126) {
            if (c->len < 4) return true;
            plen = (size_t)p[2] << 8 | p[3];
            h = 4;
        } else if (plen == 127) {
            return false;
        }
        if (h + plen > RX_CAP) return false;
        if (c->len < h + plen) return true;
        int op = p[0] & 0x0f;
        const char *d = c->rx + h;
        if (op == 8) return false;
        if (op == 9) { /* ping: pong with the same payload (at most 125) */
            char f[140] = {(char)0x8a, (char)(0x80 | plen), 0, 0, 0, 0};
            memcpy(f + 6, d, plen);
            send_all(c->fd, f, plen + 6);
        } else if (sio && op == 1 && plen >= 1) {
            if (d[0] == '0' && c->st == C_OPENING) {
                if (!ws_send(c->fd, "40")) return false;
                c->st = C_CONNECTING_NS;
            } else if (d[0] == '4' && plen >= 2 && d[1] == '0' && c->st == C_CONNECTING_NS) {
                c->st = C_IDLE;
            } else if (d[0] == '2' && plen == 1) {
                if (!ws_send(c->fd, "3")) return false;
            }
        } else if (op == 1 && c->st == C_SUBSCRIBING) {
            if (!memmem(d, plen, "\"ack\"", 5) || memmem(d, plen, "\"error\"", 7)) {
                fprintf(stderr, "bench_idle: the subscription was answered: %.*s\n", (int)plen, d);
                return false;
            }
            c->st = C_IDLE;
        }
        memmove(c->rx, c->rx + h + plen, c->len - h - plen);
        c->len -= h + plen;
    }
}

/* Read what is there; false when the connection is over. */
static bool on_input(conn *c) {
    for (;;) {
        if (c->len == RX_CAP) return false;
        ssize_t r = recv(c->fd, c->rx + c->len, RX_CAP - c->len, 0);
        if (r < 0 && errno == EAGAIN) return true;
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        c->len += (size_t)r;
        if (c->st == C_UPGRADING) {
            char *end = memmem(c->rx, c->len, "\r\n\r\n", 4);
            if (!end) continue;
            if (c->len < 12 || memcmp(c->rx, "HTTP/1.1 101", 12) != 0) {
                fprintf(stderr, "bench_idle: the upgrade was answered: %.*s\n", (int)(end - c->rx), c->rx);
                return false;
            }
            size_t used = (size_t)(end + 4 - c->rx);
            memmove(c->rx, c->rx + used, c->len - used);
            c->len -= used;
            c->st = sio ? C_OPENING : subscribe[0] ? C_SUBSCRIBING : C_IDLE;
            if (subscribe[0] && !ws_send(c->fd, subscribe)) return false;
        }
        if (!frames(c)) return false;
    }
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One /health request: on fd (keep-alive) or on a new connection (fd < 0).
 * Milliseconds from the connect (or the send) to the whole response. */
static double health(int *keep) {
    double t0 = now_ms();
    int fd = *keep;
    bool fresh = fd < 0;
    if (fresh) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof to)) die("connect /health");
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    char req[128];
    int n = snprintf(req, sizeof req, "GET /health HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n", port,
                     fresh ? "Connection: close\r\n" : "");
    if (!send_all(fd, req, (size_t)n)) die("send /health");
    char buf[4096];
    size_t len = 0;
    for (;;) {
        ssize_t r = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (r <= 0) break;
        len += (size_t)r;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        const char *cl = end ? strcasestr(buf, "\r\nContent-Length: ") : NULL;
        if (cl && len >= (size_t)(end + 4 - buf) + strtoul(cl + 18, NULL, 10)) break;
    }
    double ms = now_ms() - t0;
    if (len < 12 || memcmp(buf, "HTTP/1.1 200", 12) != 0) {
        fprintf(stderr, "bench_idle: /health answered: %.80s\n", buf);
        exit(1);
    }
    if (fresh)
        close(fd);
    else
        *keep = fd;
    return ms;
}

/* Keep the idle connections serviced (Engine.IO pings) for ms. */
static void service(int ep, double ms) {
    double end = now_ms() + ms;
    struct epoll_event ev[256];
    for (double t = now_ms(); t < end; t = now_ms()) {
        int k = epoll_wait(ep, ev, 256, (int)(end - t) + 1);
        for (int i = 0; i < k; i++) {
            conn *c = ev[i].data.ptr;
            if (c->st != C_DEAD && !on_input(c)) {
                c->st = C_DEAD;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
            }
        }
    }
}

static void report_health(const char *what, double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    printf("  GET /health, %s: median %.2f ms, max %.2f ms (%d requests)\n", what, v[n / 2], v[n - 1], n);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: bench_idle PORT N PID [ws|sio]\n");
        return 2;
    }
    port = atoi(argv[1]);
    unsigned n = (unsigned)strtoul(argv[2], NULL, 10);
    int pid = atoi(argv[3]);
    const char *mode = argc > 4 ? argv[4] : "ws";
    sio = strcmp(mode, "sio") == 0;
    if (strcmp(mode, "ws-sub") == 0) { /* one execution of a passthrough, never injected into */
        char gid[64], xid[64], path[128];
        lb_field(lb_http("POST", "/api/graphs",
                   "{\"symbia\":\"1.0\",\"name\":\"idle\",\"nodes\":[{\"id\":\"in\",\"component\":"
                   "\"symbia.core.passthrough\"}],\"edges\":[]}"),
              "id", gid, sizeof gid);
        snprintf(path, sizeof path, "/api/graphs/%s/execute", gid);
        lb_field(lb_http("POST", path, "{\"completion\":\"never\"}"), "executionId", xid, sizeof xid);
        snprintf(subscribe, sizeof subscribe,
                 "{\"event\":\"execution:subscribe\",\"data\":{\"executionId\":\"%s\"},\"ack\":1}", xid);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 64) {
        fprintf(stderr, "bench_idle: the open-file limit (%llu) is too low for %u connections\n",
                (unsigned long long)rl.rlim_cur, n);
        return 1;
    }
    long rss0 = rss_kib(pid); /* (ws-sub: with its graph and execution) */
    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    conn *cs = calloc(n ? n : 1, sizeof *cs);
    if (!cs) die("calloc");
    double t0 = now_ms();
    unsigned started = 0, idle = 0, dead = 0, pending = 0;
    struct epoll_event ev[256];
    while (idle + dead < n) {
        while (started < n && pending < IN_FLIGHT) {
            conn *c = &cs[started];
            c->fd = source_socket(started);
            c->st = C_CONNECTING;
            struct epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e)) die("epoll_ctl");
            started++;
            pending++;
        }
        int k = epoll_wait(ep, ev, 256, 10000);
        if (k == 0) {
            fprintf(stderr, "bench_idle: no progress for 10 s (%u idle, %u failed of %u)\n", idle, dead, n);
            return 1;
        }
        for (int i = 0; i < k; i++) {
            conn *c = ev[i].data.ptr;
            if (c->st == C_DEAD || c->st == C_IDLE) {
                if (c->st == C_IDLE && !on_input(c)) { /* closed by the server while idle */
                    c->st = C_DEAD;
                    idle--;
                    dead++;
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    close(c->fd);
                }
                continue;
            }
            bool ok = true;
            if (c->st == C_CONNECTING) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                ok = !err && (ev[i].events & EPOLLOUT) && handshake(c);
                if (ok) {
                    c->st = C_UPGRADING;
                    struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
                }
            } else {
                ok = on_input(c);
            }
            if (!ok) {
                c->st = C_DEAD;
                dead++;
                pending--;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
            } else if (c->st == C_IDLE) {
                idle++;
                pending--;
            }
        }
    }
    double t_open = now_ms() - t0;
    service(ep, SETTLE_MS);
    idle = 0;
    for (unsigned i = 0; i < n; i++) idle += cs[i].st == C_IDLE;
    long rss1 = rss_kib(pid);
    printf("%u idle %s connections (%u failed), opened in %.0f ms from %u source addresses\n", idle,
           sio ? "Socket.IO (websocket)" : subscribe[0] ? "/ws (subscribed to an execution)" : "/ws", n - idle, t_open,
           (n + PER_SOURCE - 1) / PER_SOURCE);
    printf("  server RSS: %.1f MB before, %.1f MB with them: %.0f bytes per connection\n", rss0 / 1024.0,
           rss1 / 1024.0, idle ? (double)(rss1 - rss0) * 1024.0 / idle : 0.0);
    double lat[HEALTH_PROBES];
    int none = -1;
    for (int i = 0; i < HEALTH_PROBES; i++) {
        lat[i] = health(&none);
        service(ep, 10);
    }
    report_health("new connection each", lat, HEALTH_PROBES);
    int keep = -1;
    health(&keep); /* opens it */
    for (int i = 0; i < HEALTH_PROBES; i++) {
        lat[i] = health(&keep);
        service(ep, 10);
    }
    report_health("keep-alive", lat, HEALTH_PROBES);
    close(keep);
    idle = 0;
    for (unsigned i = 0; i < n; i++) idle += cs[i].st == C_IDLE;
    printf("  still open after the probes: %u\n", idle);
    for (unsigned i = 0; i < n; i++)
        if (cs[i].st != C_DEAD) close(cs[i].fd);
    free(cs);
    close(ep);
    return 0;
}
