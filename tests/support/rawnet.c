/* Raw loopback clients and loop stepping (see rawnet.h). */
#include "rawnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "failalloc.h"

uint64_t rn_now_ms(void) { return uv_hrtime() / 1000000u; }

void rn_step(uv_loop_t *loop) {
    int timeout = uv_backend_timeout(loop);
    if (timeout < 0 || timeout > 5) timeout = 5;
    struct pollfd p = {.fd = uv_backend_fd(loop), .events = POLLIN};
    (void)poll(&p, 1, timeout);
    uv_run(loop, UV_RUN_NOWAIT);
}

rn_client *rn_open(int port, int rcvbuf) { return rn_open_from(port, rcvbuf, NULL); }

rn_client *rn_open_from(int port, int rcvbuf, const char *source) {
    rn_client *c = calloc(1, sizeof *c);
    cr_assert_not_null(c);
    c->cap = 1 << 18;
    c->buf = malloc(c->cap);
    cr_assert_not_null(c->buf);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (source) {
        struct sockaddr_in from = {.sin_family = AF_INET};
        inet_pton(AF_INET, source, &from.sin_addr);
        cr_assert_eq(bind(c->fd, (struct sockaddr *)&from, sizeof from), 0, "bind %s: %s", source, strerror(errno));
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    cr_assert_eq(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0, "connect: %s", strerror(errno));
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    return c;
}

void rn_close(rn_client *c) {
    close(c->fd);
    free(c->buf);
    free(c);
}

void rn_sendn(rn_client *c, uv_loop_t *loop, const void *data, size_t len) {
    const char *p = data;
    uint64_t t0 = rn_now_ms();
    while (len) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        cr_assert(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), "send: %s", strerror(errno));
        cr_assert(rn_now_ms() - t0 < BOUND_MS, "send timed out");
        rn_step(loop);
    }
}

bool rn_pump(rn_client *c) {
    bool any = false;
    while (!c->eof) {
        if (c->len + 1 >= c->cap) { /* one byte kept for a NUL a test may add */
            c->cap *= 2;
            c->buf = realloc(c->buf, c->cap);
            cr_assert_not_null(c->buf);
        }
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
        if (n > 0) {
            c->len += (size_t)n;
            any = true;
        } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            c->eof = true; /* closed or reset */
            any = true;
        } else {
            break;
        }
    }
    return any;
}

void rn_consume(rn_client *c, size_t n) {
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

const char *rn_header(const char *head, const char *name) {
    static char vals[8][1024];
    static int next;
    size_t n = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n")) {
        const char *l = line + 2;
        if (strncasecmp(l, name, n) == 0 && l[n] == ':') {
            const char *v = l + n + 1;
            while (*v == ' ') v++;
            const char *e = strstr(v, "\r\n");
            char *out = vals[next++ % 8];
            snprintf(out, sizeof vals[0], "%.*s", e ? (int)(e - v) : (int)strlen(v), v);
            return out;
        }
    }
    return NULL;
}

void rn_finish_loop(uv_loop_t *loop) {
    uint64_t t0 = rn_now_ms();
    while (uv_loop_alive(loop)) {
        cr_assert(rn_now_ms() - t0 < BOUND_MS, "the loop did not run dry");
        rn_step(loop);
    }
    cr_assert_eq(uv_loop_close(loop), 0, "a uv handle was left open");
    cr_assert_eq(fa_live(), 0, "%ld weir allocations leaked", fa_live());
#ifdef HAVE_LSAN
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "LeakSanitizer found leaks (see above)");
#endif
}
