/*
 * Events delivered to many WebSocket subscribers of one busy execution
 * (issue 10's target: 10,000,000 events/s in total to 100 subscribers).
 *
 * Against a running `weir serve` on 127.0.0.1:PORT: loads a fan-out graph
 * (one passthrough feeding eight), starts an execution, opens N subscribers
 * on /ws and one more connection that keeps a few injects in flight over
 * /ws commands.  Counts the event frames the subscribers receive over a
 * measured window.  Usage: bench_events PORT [SUBSCRIBERS] [SECONDS] [IN_FLIGHT]
 * (IN_FLIGHT: injects kept in flight, default 64, refilled in one write).
 * `bench_events watch PORT EXECUTION_ID [EVENT...]` is one subscriber that
 * reads until killed (bench/serve.sh's inject rate with a subscriber).
 * With BENCH_SERVER_PID set, also the server's CPU time and this client's
 * per event delivered (the machine may be shared: CPU time says more than
 * the rate).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port;

/* CPU seconds (user + system) of process pid so far; 0: this process. */
static double cpu_s(int pid) {
    if (!pid) {
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    }
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "bench_events: %s: %s\n", what, errno ? strerror(errno) : "failed");
    exit(1);
}

#include "loopback.h"

/* Open /ws: the upgrade, then the connection is ours (nonblocking later). */
static int ws_open(void) {
    int fd = lb_dial();
    const char *req = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    lb_send_all(fd, req, strlen(req));
    char buf[1024] = ""; /* not what the previous call left on the stack */
    size_t got = 0;
    while (!strstr(buf, "\r\n\r\n")) { /* byte by byte: nothing after the headers is swallowed */
        ssize_t r = read(fd, buf + got, 1);
        if (r <= 0 || got + 2 >= sizeof buf) die("upgrade");
        buf[++got] = '\0';
    }
    if (strncmp(buf, "HTTP/1.1 101", 12) != 0) {
        fprintf(stderr, "bench_events: /ws answered %s\n", buf);
        exit(1);
    }
    return fd;
}

/* A masked text frame (mask key 0: the payload goes as is) at out (room
 * for strlen(text) + 8); returns its length. */
static size_t ws_frame(char *out, const char *text) {
    size_t n = strlen(text), h = 0;
    out[h++] = (char)0x81;
    if (n < 126) out[h++] = (char)(0x80 | n);
    else {
        out[h++] = (char)(0x80 | 126);
        out[h++] = (char)(n >> 8);
        out[h++] = (char)n;
    }
    memset(out + h, 0, 4);
    h += 4;
    memcpy(out + h, text, n);
    return h + n;
}

static void ws_send(int fd, const char *text) {
    char buf[4096];
    lb_send_all(fd, buf, ws_frame(buf, text));
}

typedef struct conn {
    int fd;
    unsigned char *buf;
    size_t len, cap;
    uint64_t frames, cuts;
} conn;

static const char CUT[] = "{\"event\":\"subscription:cut\"";

/* Count the complete frames in c's buffer, keep the partial one. */
static uint64_t drain(conn *c) {
    uint64_t frames = 0;
    size_t off = 0;
    for (;;) {
        if (c->len - off < 2) break;
        unsigned char *p = c->buf + off;
        uint64_t n = p[1] & 0x7f;
        size_t h = 2;
        if (n == 126) {
            if (c->len - off < 4) break;
            n = ((uint64_t)p[2] << 8) | p[3];
            h = 4;
        } else if (n == 127) {
            if (c->len - off < 10) break;
            n = 0;
            for (int i = 0; i < 8; i++) n = (n << 8) | p[2 + i];
            h = 10;
        }
        if (c->len - off < h + n) break;
        if (n >= sizeof CUT - 1 && memcmp(p + h, CUT, sizeof CUT - 1) == 0) c->cuts++;
        off += h + (size_t)n;
        frames++;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    c->frames += frames;
    return frames;
}

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

/* watch PORT EXECUTION_ID [EVENT...]: one /ws subscriber of that execution
 * (asking for those kinds; none named: every kind) that reads until
 * SIGTERM/SIGINT, then says how many frames it read.  Prints "subscribed"
 * once the subscribe is answered. */
static int watch(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_events watch PORT EXECUTION_ID [EVENT...]\n");
        return 2;
    }
    port = atoi(argv[0]);
    char msg[2048], list[1024] = "";
    size_t o = 0;
    for (int i = 2; i < argc && o + strlen(argv[i]) + 4 < sizeof list; i++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s\"%s\"", i > 2 ? "," : "", argv[i]);
    snprintf(msg, sizeof msg, "{\"event\":\"execution:subscribe\",\"data\":{\"executionId\":\"%s\"%s%s%s}}", argv[1],
             argc > 2 ? ",\"events\":[" : "", list, argc > 2 ? "]" : "");
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    conn c = {.fd = ws_open(), .cap = 1 << 20};
    c.buf = malloc(c.cap);
    ws_send(c.fd, msg);
    bool told = false;
    while (!stop) {
        ssize_t r = read(c.fd, c.buf + c.len, c.cap - c.len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) die("watch read (cut off or closed?)");
        c.len += (size_t)r;
        drain(&c);
        if (!told && c.frames) {
            printf("subscribed\n");
            fflush(stdout);
            told = true;
        }
    }
    printf("watched: %llu frames, %llu cut-off notices\n", (unsigned long long)c.frames, (unsigned long long)c.cuts);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "watch") == 0) return watch(argc - 2, argv + 2);
    if (argc < 2) {
        fprintf(stderr, "usage: bench_events PORT [SUBSCRIBERS] [SECONDS] [IN_FLIGHT]\n"
                        "       bench_events watch PORT EXECUTION_ID [EVENT...]\n");
        return 2;
    }
    port = atoi(argv[1]);
    int nsub = argc > 2 ? atoi(argv[2]) : 100;
    double seconds = argc > 3 ? atof(argv[3]) : 5;
    const char *graph =
        "{\"symbia\":\"1.0\",\"name\":\"fanout\",\"nodes\":[{\"id\":\"in\",\"component\":\"symbia.core.passthrough\"}"
        ",{\"id\":\"o1\",\"component\":\"symbia.core.passthrough\"},{\"id\":\"o2\",\"component\":\"symbia.core."
        "passthrough\"},{\"id\":\"o3\",\"component\":\"symbia.core.passthrough\"},{\"id\":\"o4\",\"component\":"
        "\"symbia.core.passthrough\"},{\"id\":\"o5\",\"component\":\"symbia.core.passthrough\"},{\"id\":\"o6\","
        "\"component\":\"symbia.core.passthrough\"},{\"id\":\"o7\",\"component\":\"symbia.core.passthrough\"},"
        "{\"id\":\"o8\",\"component\":\"symbia.core.passthrough\"}],\"edges\":["
        "{\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"o1\",\"port\":\"in\"}},"
        "{\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"o2\",\"port\":\"in\"}},"
        "{\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"o3\",\"port\":\"in\"}},"
        "{\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"o4\",\"port\":\"in\"}},"
        "{\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"o5\",\"port\":\"in\"}},"
        "{\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"o6\",\"port\":\"in\"}},"
        "{\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"o7\",\"port\":\"in\"}},"
        "{\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"o8\",\"port\":\"in\"}}]}";
    char gid[64], xid[64], path[160], msg[512];
    lb_field(lb_http("POST", "/api/graphs", graph), "id", gid, sizeof gid);
    snprintf(path, sizeof path, "/api/graphs/%s/execute", gid);
    lb_field(lb_http("POST", path, "{\"completion\":\"never\"}"), "executionId", xid, sizeof xid);

    int ep = epoll_create1(0);
    conn *subs = calloc((size_t)nsub + 1, sizeof *subs);
    for (int i = 0; i <= nsub; i++) {
        subs[i].fd = ws_open();
        subs[i].cap = 1 << 20;
        subs[i].buf = malloc(subs[i].cap);
        if (i < nsub) {
            snprintf(msg, sizeof msg, "{\"event\":\"execution:subscribe\",\"data\":{\"executionId\":\"%s\"}}", xid);
            ws_send(subs[i].fd, msg);
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, subs[i].fd, &ev);
    }
    conn *inj = &subs[nsub];
    snprintf(msg, sizeof msg,
             "{\"event\":\"execution:inject\",\"ack\":1,\"data\":{\"executionId\":\"%s\",\"nodeId\":\"in\","
             "\"value\":{\"n\":1,\"s\":\"hello\"}}}",
             xid);
    int in_flight = 0;
    const int window = argc > 4 ? atoi(argv[4]) : 64;
    char frame[1024];
    size_t flen = ws_frame(frame, msg);
    char *burst = malloc(flen * (size_t)window);
    uint64_t acks = 0, base_frames = 0, base_acks = 0;
    double start = now_s(), measure_from = start + 1.0, end = measure_from + seconds;
    bool measuring = false;
    const char *sp = getenv("BENCH_SERVER_PID");
    int server_pid = sp ? atoi(sp) : 0;
    double cpu_from = 0, own_from = 0;
    struct epoll_event evs[128];
    for (;;) {
        if (in_flight < window) { /* the free slots in one write */
            size_t n = 0;
            for (; in_flight < window; in_flight++, n += flen) memcpy(burst + n, frame, flen);
            lb_send_all(inj->fd, burst, n);
        }
        double t = now_s();
        if (!measuring && t >= measure_from) {
            measuring = true;
            base_frames = 0;
            for (int i = 0; i < nsub; i++) base_frames += subs[i].frames;
            base_acks = acks;
            measure_from = t;
            cpu_from = cpu_s(server_pid);
            own_from = cpu_s(0);
        }
        if (t >= end) break;
        int n = epoll_wait(ep, evs, 128, 100);
        for (int k = 0; k < n; k++) {
            conn *c = &subs[evs[k].data.u32];
            ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
            if (r <= 0) die("subscriber read (cut off or closed?)");
            c->len += (size_t)r;
            uint64_t f = drain(c);
            if (c == inj) {
                acks += f;
                in_flight -= (int)f;
                if (in_flight < 0) {
                    fprintf(stderr, "bench_events: %d more answers than injects\n", -in_flight);
                    exit(1);
                }
            }
        }
    }
    double dt = now_s() - measure_from;
    uint64_t frames = 0, cuts = 0;
    for (int i = 0; i < nsub; i++) {
        frames += subs[i].frames;
        cuts += subs[i].cuts;
    }
    frames -= base_frames;
    double cpu_end = cpu_s(server_pid), own_end = cpu_s(0);
    printf("events delivered to %d /ws subscribers of one execution (fan-out 1→8, %d injects in flight): "
           "%.0f events/s in total (%.0f per subscriber), %.0f injects/s",
           nsub, window, (double)frames / dt, (double)frames / dt / nsub, (double)(acks - base_acks) / dt);
    if (server_pid)
        printf("; CPU per event delivered: server %.0f ns, this client %.0f ns", (cpu_end - cpu_from) / frames * 1e9,
               (own_end - own_from) / frames * 1e9);
    printf("\n");
    if (cuts) printf("  %llu subscribers were cut off as too slow: the figure is not all delivered\n", (unsigned long long)cuts);
    snprintf(path, sizeof path, "/api/executions/%s/stop", xid);
    lb_http("POST", path, NULL);
    return 0;
}
