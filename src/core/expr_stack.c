/*
 * How deep expression code may recurse on the current thread: the lowest
 * stack address it may reach, measured once per thread from the thread's
 * real stack (pthread_getattr_np: the main thread's RLIMIT_STACK, a libuv
 * or Criterion worker's own size), so the bound holds whatever the build's
 * frame sizes (sanitizers make them several times larger).
 */
#include <pthread.h>
#include <stdint.h>

#include "core/expr_int.h"

/* Kept free below the floor for what runs between two checks: a leaf of
 * the evaluator, vsnprintf, jansson (whose own parser is checked apart,
 * XSTACK_PARSE_JSON).  Half the stack when the stack is smaller than twice
 * this. */
#define RESERVE (256u << 10)
/* A thread whose stack cannot be measured gets this much below the frame
 * that first asks: the smallest stack of the threads weir runs on. */
#define UNKNOWN_STACK (512u << 10)

_Thread_local uintptr_t weir__xstack_floor_cache XSTACK_TLS;

uintptr_t weir__xstack_measure(void) {
    uintptr_t here = (uintptr_t)__builtin_frame_address(0), lo = 0;
#if defined(__linux__)
    pthread_attr_t a;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        void *addr;
        size_t size;
        if (pthread_attr_getstack(&a, &addr, &size) == 0 && (uintptr_t)addr < here) lo = (uintptr_t)addr;
        pthread_attr_destroy(&a);
    }
#endif
    if (!lo) lo = here > UNKNOWN_STACK ? here - UNKNOWN_STACK : 1;
    uintptr_t avail = here - lo, reserve = avail < 2 * (uintptr_t)RESERVE ? avail / 2 : RESERVE;
    weir__xstack_floor_cache = lo + reserve;
    return weir__xstack_floor_cache;
}
