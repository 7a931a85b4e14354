#include "oneshot.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void *serve(void *arg) {
    oneshot *o = arg;
    for (int i = 0; i < o->count; i++) {
        struct pollfd pfd = {o->fd, POLLIN, 0};
        if (poll(&pfd, 1, 20000) != 1) return NULL; /* the test fails on its own; never hang */
        int c = accept(o->fd, NULL, NULL);
        if (c < 0) return NULL;
        char buf[4096];
        ssize_t n = read(c, buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = '\0';
        const char *body = strstr(buf, o->match) ? o->body : "{}";
        char resp[4096];
        int len = snprintf(resp, sizeof resp,
                           "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                           "Connection: close\r\n\r\n%s",
                           strlen(body), body);
        ssize_t w = write(c, resp, (size_t)len);
        (void)w;
        close(c);
    }
    return NULL;
}

void oneshot_start(oneshot *o, const char *match, const char *body, int count) {
    o->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(o->fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    getsockname(o->fd, (struct sockaddr *)&a, &al);
    cr_assert_eq(listen(o->fd, 8), 0);
    o->port = ntohs(a.sin_port);
    o->match = match;
    o->body = body;
    o->count = count;
    pthread_create(&o->thread, NULL, serve, o);
}

void oneshot_stop(oneshot *o) {
    pthread_join(o->thread, NULL);
    close(o->fd);
}
