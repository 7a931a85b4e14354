/*
 * A shared byte string: immutable once built, reference-counted, so one
 * serialised event (or one pre-encoded WebSocket frame) is written to many
 * connections without a copy per connection.  Single-threaded (the service
 * runs on one loop), so the count is a plain integer.
 */
#ifndef WEIR_NET_SBUF_H
#define WEIR_NET_SBUF_H
#include <stddef.h>

typedef struct weir_sbuf {
    unsigned refs;
    size_t len;
    char data[]; /* len bytes, then a NUL (not counted) */
} weir_sbuf;

/* A buffer of len bytes (contents uninitialised, data[len] = NUL), one
 * reference.  NULL on allocation failure. */
weir_sbuf *weir_sbuf_new(size_t len);
/* A copy of data[0..len), one reference.  NULL on allocation failure. */
weir_sbuf *weir_sbuf_copy(const char *data, size_t len);
static inline weir_sbuf *weir_sbuf_ref(weir_sbuf *b) {
    if (b) b->refs++;
    return b;
}
/* Drop one reference; the last frees.  NULL is a no-op. */
void weir_sbuf_unref(weir_sbuf *b);

#endif
