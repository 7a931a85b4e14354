/* A test allocator that fails the Nth allocation and counts live blocks, to
 * prove that operations fail cleanly (an error, no leak, no crash). */
#ifndef WEIR_TEST_FAILALLOC_H
#define WEIR_TEST_FAILALLOC_H
#include <stddef.h>

/* Install: allocation number `fail_at` (1-based) and every later one fail
 * while `sticky`, or only that one.  0 = never fail. */
void fa_install(size_t fail_at, int sticky);
void fa_uninstall(void);
/* Allocations attempted since install, and blocks still live. */
size_t fa_count(void);
long fa_live(void);

#endif
