/*
 * weir sim: the search — seeds split over worker threads, in chunks taken
 * in order from a shared counter.  The failure reported is the one with
 * the smallest seed whatever the number of threads.  `best`, the smallest
 * failing seed found so far, only goes down; a worker skips a seed, or
 * the rest of a chunk, or a whole chunk, only when it lies above `best`
 * at that moment, hence above the final one.  So every seed below the
 * final `best` is run, and the smallest failing seed is found.
 *
 * Distinct interleavings are counted in a hash set per worker, merged at
 * the end.
 */
#include <stdatomic.h>
#include <string.h>
#include <uv.h>

#include "core/alloc.h"
#include "core/error.h"
#include "runtime/sim_int.h"

/* Seeds a worker takes at a time. */
#define CHUNK 16

/* An open-addressing set of nonzero 64-bit hashes. */
typedef struct hset {
    uint64_t *slot;
    size_t cap, n;
    bool oom;
} hset;

static void hset_add(hset *h, uint64_t x) {
    if (!x) x = 1;
    if ((h->n + 1) * 2 > h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 1024;
        uint64_t *slot = weir__calloc(cap, sizeof *slot);
        if (!slot) {
            h->oom = true;
            return;
        }
        for (size_t i = 0; i < h->cap; i++) {
            uint64_t y = h->slot[i];
            if (!y) continue;
            size_t j = (size_t)(y * 0x9e3779b97f4a7c15ull) & (cap - 1);
            while (slot[j]) j = (j + 1) & (cap - 1);
            slot[j] = y;
        }
        weir__free(h->slot);
        h->slot = slot;
        h->cap = cap;
    }
    size_t j = (size_t)(x * 0x9e3779b97f4a7c15ull) & (h->cap - 1);
    while (h->slot[j]) {
        if (h->slot[j] == x) return;
        j = (j + 1) & (h->cap - 1);
    }
    h->slot[j] = x;
    h->n++;
}

typedef struct shared {
    weir__sim_search *sr;
    atomic_uint_fast64_t next;   /* the next chunk's first offset */
    atomic_uint_fast64_t best;   /* the smallest failing offset, or UINT64_MAX */
    atomic_uint_fast64_t done;
    atomic_uint_fast64_t violations;
    atomic_uint running;
    uv_mutex_t lock;             /* the best failure's details */
    weir__sim_status status;
    int invariant;
} shared;

typedef struct worker {
    shared *sh;
    weir__sim *s;
    uv_thread_t t;
    uint64_t waves;
    hset seen;
} worker;

static void work(void *arg) {
    worker *w = arg;
    shared *sh = w->sh;
    uint64_t count = sh->sr->count, first = sh->sr->first;
    for (;;) {
        uint64_t start = atomic_fetch_add(&sh->next, CHUNK);
        if (start >= count || start > atomic_load(&sh->best)) break;
        uint64_t end = start + CHUNK < count ? start + CHUNK : count;
        for (uint64_t off = start; off < end; off++) {
            if (off > atomic_load(&sh->best)) break;
            weir__sim_result r;
            weir__sim_run_seed(w->s, first + off, &r);
            w->waves += r.waves;
            hset_add(&w->seen, r.interleaving);
            atomic_fetch_add(&sh->done, 1);
            if (r.status == WEIR_SIM_PASS) continue;
            atomic_fetch_add(&sh->violations, 1);
            uv_mutex_lock(&sh->lock);
            if (off < atomic_load(&sh->best)) {
                atomic_store(&sh->best, off);
                sh->status = r.status;
                sh->invariant = r.invariant;
            }
            uv_mutex_unlock(&sh->lock);
            break;
        }
    }
    atomic_fetch_sub(&sh->running, 1);
}

int weir__sim_search_run(weir__sim **workers, weir__sim_search *sr,
                         void (*progress)(void *ud, const weir__sim_search *sr),
                         void *ud, weir_error *err) {
    unsigned jobs = sr->jobs ? sr->jobs : 1;
    shared sh = {.sr = sr};
    atomic_init(&sh.next, 0);
    atomic_init(&sh.best, UINT64_MAX);
    atomic_init(&sh.done, 0);
    atomic_init(&sh.violations, 0);
    atomic_init(&sh.running, jobs);
    if (uv_mutex_init(&sh.lock)) return weir__error(err, WEIR_EINTERNAL, "cannot make a mutex");
    worker *ws = weir__calloc(jobs, sizeof *ws);
    if (!ws) {
        uv_mutex_destroy(&sh.lock);
        return weir__error(err, WEIR_ENOMEM, "out of memory");
    }
    unsigned started = 0;
    int rc = 0;
    bool inline_run = jobs == 1 && !progress;
    for (unsigned i = 0; i < jobs; i++) {
        ws[i].sh = &sh;
        ws[i].s = workers[i];
        if (inline_run) break; /* run on this thread */
        if (uv_thread_create(&ws[i].t, work, &ws[i])) {
            rc = weir__error(err, WEIR_EINTERNAL, "cannot start worker thread %u", i + 1);
            atomic_store(&sh.best, 0); /* the others stop at once */
            atomic_fetch_sub(&sh.running, jobs - i);
            break;
        }
        started++;
    }
    if (inline_run) {
        work(&ws[0]);
    } else {
        while (progress && atomic_load(&sh.running) > 0) {
            sr->progress = atomic_load(&sh.done);
            sr->violations = atomic_load(&sh.violations);
            progress(ud, sr);
            uv_sleep(100);
        }
        for (unsigned i = 0; i < started; i++) uv_thread_join(&ws[i].t);
    }
    sr->progress = sr->done = atomic_load(&sh.done);
    sr->violations = atomic_load(&sh.violations);
    uint64_t best = atomic_load(&sh.best);
    sr->failed = !rc && best != UINT64_MAX;
    sr->failing_seed = sr->failed ? sr->first + best : 0;
    sr->status = sr->failed ? sh.status : WEIR_SIM_PASS;
    sr->invariant = sr->failed ? sh.invariant : -1;
    if (sr->failed) sr->done = best + 1; /* the seeds that count: up to the failing one */
    hset all = {0};
    sr->waves = 0;
    for (unsigned i = 0; i < jobs; i++) {
        sr->waves += ws[i].waves;
        for (size_t k = 0; k < ws[i].seen.cap; k++)
            if (ws[i].seen.slot[k]) hset_add(&all, ws[i].seen.slot[k]);
        weir__free(ws[i].seen.slot);
    }
    sr->interleavings = all.n;
    weir__free(all.slot);
    weir__free(ws);
    uv_mutex_destroy(&sh.lock);
    return rc;
}
