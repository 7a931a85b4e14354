/* A test allocator that fails the Nth allocation and counts live blocks, to
 * prove that operations fail cleanly (an error, no leak, no crash). */
#ifndef WEIR_TEST_FAILALLOC_H
#define WEIR_TEST_FAILALLOC_H
#include <stddef.h>

/* Install: allocation number `fail_at` (1-based) and every later one fail
 * while `sticky`, or only that one.  0 = never fail. */
void fa_install(size_t fail_at, int sticky);
void fa_uninstall(void);
/* Re-arm while installed: allocation number `fail_at` from now fails (0:
 * none); live blocks keep being counted. */
void fa_arm(size_t fail_at);
/* While suspended, allocations neither count toward fail_at nor fail (for
 * test scaffolding that is not under test). */
void fa_suspend(int suspended);
/* Free a block the allocator gave out (e.g. a string jansson dumped). */
void fa_free(void *p);
/* Allocations attempted since install, and blocks still live. */
size_t fa_count(void);
long fa_live(void);
/* Bytes in the blocks still live (as asked for, headers not counted). */
long long fa_live_bytes(void);

#endif
