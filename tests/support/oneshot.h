/* A tiny HTTP server on a thread for black-box tests: answers `count`
 * connections on loopback with a JSON body chosen by the request line. */
#ifndef WEIR_TEST_ONESHOT_H
#define WEIR_TEST_ONESHOT_H
#include <pthread.h>

typedef struct oneshot {
    int fd, port, count;
    const char *match; /* a request line containing this ... */
    const char *body;  /* ... is answered with this JSON (others with {}) */
    pthread_t thread;
} oneshot;

/* Listen on 127.0.0.1 (a free port, in o->port) and serve in a thread. */
void oneshot_start(oneshot *o, const char *match, const char *body, int count);
/* Wait for the thread (it gives up 20 s after its last connection) and close. */
void oneshot_stop(oneshot *o);

#endif
