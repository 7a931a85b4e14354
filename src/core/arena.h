/* A bump allocator for what lives exactly as long as its owner (a loaded
 * graph's node ids, port names and port tables): one malloc per chunk, one
 * free for all. */
#ifndef WEIR_CORE_ARENA_H
#define WEIR_CORE_ARENA_H
#include <stddef.h>

/* Chunks are this large unless one allocation needs more. */
#define WEIR_ARENA_CHUNK ((size_t)64 << 10)

typedef struct weir_arena_chunk weir_arena_chunk;
typedef struct weir_arena {
    weir_arena_chunk *head; /* the chunk being filled; older ones follow */
    size_t used, cap;       /* bytes used and available in head */
} weir_arena;

/* n bytes aligned for any pointer or integer type, valid until
 * weir__arena_free; NULL when out of memory.  A zeroed arena is empty. */
void *weir__arena_alloc(weir_arena *a, size_t n);
/* A copy of s (n bytes, then NUL) in the arena, or NULL. */
char *weir__arena_strndup(weir_arena *a, const char *s, size_t n);
/* Free every chunk; the arena is empty again. */
void weir__arena_free(weir_arena *a);

#endif
