/* The bump allocator (arena.h). */
#include "core/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"

struct weir_arena_chunk {
    weir_arena_chunk *next;
    alignas(max_align_t) unsigned char data[];
};

#define ALIGN (sizeof(void *) > sizeof(uint64_t) ? sizeof(void *) : sizeof(uint64_t))

static void *bump(weir_arena *a, size_t n, size_t align) {
    size_t at = (a->used + align - 1) & ~(align - 1);
    if (!a->head || at > a->cap || n > a->cap - at) {
        size_t cap = n > WEIR_ARENA_CHUNK ? n : WEIR_ARENA_CHUNK;
        weir_arena_chunk *c = weir__malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = a->head;
        a->head = c;
        a->cap = cap;
        at = 0;
    }
    a->used = at + n;
    return a->head->data + at;
}

void *weir__arena_alloc(weir_arena *a, size_t n) { return bump(a, n, ALIGN); }

char *weir__arena_strndup(weir_arena *a, const char *s, size_t n) {
    char *p = bump(a, n + 1, 1); /* text needs no alignment */
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void weir__arena_free(weir_arena *a) {
    for (weir_arena_chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        weir__free(c);
    }
    *a = (weir_arena){0};
}
