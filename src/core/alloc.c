#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

#include "weir/weir.h"

static weir_allocator current = {malloc, realloc, free};

void weir_set_allocator(const weir_allocator *a) {
    if (a) {
        current = *a;
    } else {
        current.malloc = malloc;
        current.realloc = realloc;
        current.free = free;
    }
    json_set_alloc_funcs(current.malloc, current.free);
}

void *weir__malloc(size_t n) { return current.malloc(n ? n : 1); }

void *weir__calloc(size_t n, size_t size) {
    if (size && n > (size_t)-1 / size) return NULL;
    size_t bytes = n * size;
    void *p = current.malloc(bytes ? bytes : 1);
    if (p) memset(p, 0, bytes);
    return p;
}

void *weir__realloc(void *p, size_t n) { return current.realloc(p, n ? n : 1); }

void weir__free(void *p) {
    if (p) current.free(p);
}

char *weir__strndup(const char *s, size_t n) {
    char *d = weir__malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *weir__strdup(const char *s) { return weir__strndup(s, strlen(s)); }

int weir__grow(void **arr, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return 0;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need) {
        if (ncap > ((size_t)-1 / 2) / size) return WEIR_ENOMEM;
        ncap *= 2;
    }
    void *p = weir__realloc(*arr, ncap * size);
    if (!p) return WEIR_ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}
