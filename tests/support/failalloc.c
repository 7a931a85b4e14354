#include "failalloc.h"

#include <stdlib.h>
#include <string.h>

#include "weir/weir.h"

/* Each block carries its size in a header so realloc and free can count. */
typedef union header {
    size_t size;
    max_align_t align;
} header;

static size_t fail_at_n, count_n;
static int sticky_flag, suspended_flag;
static long live_n;
static long long live_bytes;

static int should_fail(void) {
    if (suspended_flag) return 0;
    count_n++;
    if (!fail_at_n) return 0;
    return sticky_flag ? count_n >= fail_at_n : count_n == fail_at_n;
}

static void *fa_malloc(size_t n) {
    if (should_fail()) return NULL;
    header *h = malloc(sizeof *h + n);
    if (!h) return NULL;
    h->size = n;
    live_n++;
    live_bytes += (long long)n;
    return h + 1;
}

void fa_free(void *p) {
    if (!p) return;
    live_n--;
    live_bytes -= (long long)((header *)p - 1)->size;
    free((header *)p - 1);
}

static void *fa_realloc(void *p, size_t n) {
    if (!p) return fa_malloc(n);
    if (should_fail()) return NULL;
    size_t old = ((header *)p - 1)->size;
    header *h = realloc((header *)p - 1, sizeof *h + n);
    if (!h) return NULL;
    live_bytes += (long long)n - (long long)old;
    h->size = n;
    return h + 1;
}

void fa_install(size_t fail_at, int sticky) {
    fail_at_n = fail_at;
    sticky_flag = sticky;
    suspended_flag = 0;
    count_n = 0;
    live_n = 0;
    live_bytes = 0;
    weir_allocator a = {fa_malloc, fa_realloc, fa_free};
    weir_set_allocator(&a);
}

void fa_uninstall(void) { weir_set_allocator(NULL); }

void fa_arm(size_t fail_at) {
    fail_at_n = fail_at;
    sticky_flag = 0;
    count_n = 0;
}

void fa_suspend(int suspended) { suspended_flag = suspended; }
size_t fa_count(void) { return count_n; }
long fa_live(void) { return live_n; }
long long fa_live_bytes(void) { return live_bytes; }
