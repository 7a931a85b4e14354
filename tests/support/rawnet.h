/*
 * Component tests of the server pieces (HTTP, WebSocket, Engine.IO) talk to
 * a server on the test's own loop through raw loopback sockets: these
 * helpers step that loop while a client waits (never sleeping), and keep
 * what a client received in a growing buffer.
 */
#ifndef WEIR_TEST_RAWNET_H
#define WEIR_TEST_RAWNET_H
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_LSAN 1
#endif
#endif
#ifdef HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

#define BOUND_MS 10000 /* generous bound for every wait */

uint64_t rn_now_ms(void);
/* One step: wait briefly for the loop's own events, then run what is ready. */
void rn_step(uv_loop_t *loop);

/* Step `loop` until cond holds; fails the test after BOUND_MS. */
#define RN_WAIT_UNTIL(loop, cond)                                                         \
    do {                                                                                  \
        uint64_t t0_ = rn_now_ms();                                                       \
        while (!(cond)) {                                                                 \
            cr_assert(rn_now_ms() - t0_ < BOUND_MS, "timed out waiting for: %s", #cond); \
            rn_step(loop);                                                                \
        }                                                                                 \
    } while (0)

typedef struct rn_client {
    int fd;
    char *buf; /* what arrived and was not consumed */
    size_t len, cap;
    bool eof;  /* the server closed (or reset) */
} rn_client;

/* Connect to 127.0.0.1:port (nonblocking afterwards).  rcvbuf > 0: a fixed
 * receive buffer (no autotuning), set before connecting. */
rn_client *rn_open(int port, int rcvbuf);
/* The same from a source address of the loopback net ("127.0.0.2"; NULL:
 * any), as another client machine would be. */
rn_client *rn_open_from(int port, int rcvbuf, const char *source);
void rn_close(rn_client *c);
/* Send everything, stepping the loop while the socket is full. */
void rn_sendn(rn_client *c, uv_loop_t *loop, const void *data, size_t len);
/* Read what is there; true if anything changed. */
bool rn_pump(rn_client *c);
/* Drop the first n bytes of the buffer. */
void rn_consume(rn_client *c, size_t n);
/* The value of header `name` (case-insensitive) in a response head whose
 * lines follow the status line, or NULL; copied into one of a few rotating
 * static buffers. */
const char *rn_header(const char *head, const char *name);
/* After the server is destroyed: run the loop dry (bounded), close it, and
 * check nothing leaked (weir's allocator, and LeakSanitizer when built in). */
void rn_finish_loop(uv_loop_t *loop);

#endif
