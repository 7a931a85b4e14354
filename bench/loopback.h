/*
 * Blocking loopback HTTP for the benchmarks: one request per connection.
 * A bench includes it after it defines `static int port;` (the server's)
 * and `static void die(const char *what);`.
 */
#ifndef WEIR_BENCH_LOOPBACK_H
#define WEIR_BENCH_LOOPBACK_H
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A blocking TCP connection to 127.0.0.1:port (TCP_NODELAY). */
static int lb_dial(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void lb_send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) die("write");
        p += w;
        n -= (size_t)w;
    }
}

/* One request on a new connection; the body of the answer (a static
 * buffer).  body may be NULL. */
static const char *lb_http(const char *method, const char *path, const char *body) {
    static char buf[1 << 16];
    int fd = lb_dial();
    int n = snprintf(buf, sizeof buf,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     method, path, body ? strlen(body) : 0, body ? body : "");
    lb_send_all(fd, buf, (size_t)n);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < sizeof buf && (r = read(fd, buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)r;
    close(fd);
    buf[got] = '\0';
    const char *b = strstr(buf, "\r\n\r\n");
    if (!b) die("HTTP answer");
    return b + 4;
}

/* The string value of "key" in json, into out (exits when absent). */
static void lb_field(const char *json, const char *key, char *out, size_t cap) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(json, pat);
    if (!p) {
        fprintf(stderr, "bench: no %s in %s\n", key, json);
        exit(1);
    }
    p += strlen(pat);
    size_t i = 0;
    while (*p && *p != '"' && i + 1 < cap) out[i++] = *p++;
    out[i] = '\0';
}

#endif
