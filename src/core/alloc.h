/* The allocator hook every weir module allocates through (weir_set_allocator). */
#ifndef WEIR_CORE_ALLOC_H
#define WEIR_CORE_ALLOC_H
#include <stddef.h>

void *weir__malloc(size_t n);
void *weir__calloc(size_t n, size_t size);
void *weir__realloc(void *p, size_t n);
void weir__free(void *p);
char *weir__strdup(const char *s);
char *weir__strndup(const char *s, size_t n);
/* Grow *arr (element size `size`) so it holds at least `need` elements;
 * capacity doubles.  0 or WEIR_ENOMEM (the array is unchanged). */
int weir__grow(void **arr, size_t *cap, size_t need, size_t size);

#endif
