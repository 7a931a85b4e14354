/* Shared byte strings (see sbuf.h). */
#include "net/sbuf.h"

#include "core/alloc.h"
#include <string.h>

weir_sbuf *weir_sbuf_new(size_t len) {
    if (len > (size_t)-1 - sizeof(weir_sbuf) - 1) return NULL;
    weir_sbuf *b = weir__malloc(sizeof *b + len + 1);
    if (!b) return NULL;
    b->refs = 1;
    b->len = len;
    b->data[len] = '\0';
    return b;
}

weir_sbuf *weir_sbuf_copy(const char *data, size_t len) {
    weir_sbuf *b = weir_sbuf_new(len);
    if (b && len) memcpy(b->data, data, len);
    return b;
}

void weir_sbuf_unref(weir_sbuf *b) {
    if (b && --b->refs == 0) weir__free(b);
}
