/*
 * weir sim: shrinking a failure (Hypothesis style, over the choice
 * sequence).  A candidate is the current sequence with one choice
 * changed; it is run, and kept when the same invariant still fails —
 * then the sequence becomes what that run actually drew (shorter when
 * fewer choices were made), with trailing zeros cut (a draw past the end
 * is 0).  Passes repeat until one changes nothing:
 *
 *   1. each present inject: absent — alone, else with every choice drawn
 *      for it deleted (its requests' latencies and faults: the choices
 *      after it then line up with the requests that are left);
 *   2. each fault that fires, each swarm flag that is on: off;
 *   3. each other choice (ticks within windows, latencies, tie orders):
 *      0, else lowered by halves toward 0.
 *
 * So the result is 1-minimal for injects and faults: the last pass tried
 * removing each one left, and the failure went away each time.
 */
#include <string.h>

#include "core/alloc.h"
#include "runtime/sim_int.h"

typedef struct shrink {
    weir__sim *s;
    int inv;
    uint32_t *cur;
    uint8_t *kinds;
    uint32_t *refs, *origins;
    size_t n;
    uint64_t runs;
    bool out_of_runs;
    int rc;
} shrink;

static void drop(shrink *k) {
    weir__free(k->cur);
    weir__free(k->kinds);
    weir__free(k->refs);
    weir__free(k->origins);
    k->cur = NULL;
    k->kinds = NULL;
    k->refs = k->origins = NULL;
}

/* Adopt what the run drew. */
static int adopt(shrink *k, const weir__sim_result *r) {
    size_t n = r->n_choices;
    while (n && r->choices[n - 1] == 0) n--;
    size_t m = n ? n : 1;
    uint32_t *cur = weir__malloc(m * sizeof *cur), *refs = weir__malloc(m * sizeof *refs);
    uint32_t *origins = weir__malloc(m * sizeof *origins);
    uint8_t *kinds = weir__malloc(m * sizeof *kinds);
    if (!cur || !kinds || !refs || !origins) {
        weir__free(cur);
        weir__free(kinds);
        weir__free(refs);
        weir__free(origins);
        return k->rc = WEIR_ENOMEM;
    }
    if (n) {
        memcpy(cur, r->choices, n * sizeof *cur);
        memcpy(kinds, r->kinds, n * sizeof *kinds);
        memcpy(refs, r->refs, n * sizeof *refs);
        memcpy(origins, r->origins, n * sizeof *origins);
    }
    drop(k);
    k->cur = cur;
    k->kinds = kinds;
    k->refs = refs;
    k->origins = origins;
    k->n = n;
    return 0;
}

/* A candidate sequence: kept when the same invariant still fails. */
static bool try_seq(shrink *k, const uint32_t *c, size_t n) {
    if (k->rc || k->runs >= WEIR_SIM_SHRINK_MAX_RUNS) {
        k->out_of_runs = k->runs >= WEIR_SIM_SHRINK_MAX_RUNS;
        return false;
    }
    weir__sim_result r;
    weir__sim_run_choices(k->s, c, n, false, false, NULL, &r);
    k->runs++;
    if (r.status != WEIR_SIM_VIOLATION || r.invariant != k->inv) return false;
    return adopt(k, &r) == 0;
}

/* Choice i set to v. */
static bool try_value(shrink *k, size_t i, uint32_t v) {
    uint32_t old = k->cur[i];
    k->cur[i] = v;
    bool kept = try_seq(k, k->cur, k->n);
    if (!kept) k->cur[i] = old;
    return kept;
}

/* Inject choice i taken out with every choice drawn for it (its requests'
 * latencies and faults): the later choices move up to where they are
 * drawn once it is gone. */
static bool try_without_inject(shrink *k, size_t i) {
    uint32_t inject = k->refs[i];
    uint32_t *c = weir__malloc((k->n ? k->n : 1) * sizeof *c);
    if (!c) {
        k->rc = WEIR_ENOMEM;
        return false;
    }
    size_t m = 0, dropped = 0;
    for (size_t j = 0; j < k->n; j++) {
        if (j > i && k->origins[j] == inject) {
            dropped++;
            continue;
        }
        c[m++] = j == i ? 0 : k->cur[j];
    }
    bool kept = dropped > 0 && try_seq(k, c, m);
    weir__free(c);
    return kept;
}

static bool pass(shrink *k, bool (*wanted)(uint8_t kind), bool halve, bool spans) {
    bool changed = false;
    for (size_t i = 0; i < k->n && !k->rc; i++) {
        if (!wanted(k->kinds[i]) || k->cur[i] == 0) continue;
        if (try_value(k, i, 0)) {
            changed = true;
            continue;
        }
        if (spans && try_without_inject(k, i)) {
            changed = true;
            continue;
        }
        if (!halve) continue;
        for (uint32_t d = k->cur[i] / 2; d > 0 && i < k->n && k->cur[i] >= d;) {
            if (try_value(k, i, k->cur[i] - d)) changed = true;
            else d /= 2;
        }
    }
    return changed;
}

static bool is_present(uint8_t kind) { return kind == WEIR_SIM_C_PRESENT; }
static bool is_fault(uint8_t kind) { return kind == WEIR_SIM_C_FAULT || kind == WEIR_SIM_C_SWARM; }
static bool is_other(uint8_t kind) {
    return kind == WEIR_SIM_C_AT || kind == WEIR_SIM_C_LATENCY || kind == WEIR_SIM_C_TIE;
}

int weir__sim_shrink(weir__sim *s, const uint32_t *choices, size_t n, int inv, uint32_t **out, size_t *nout,
                     uint64_t *runs, bool *complete) {
    shrink k = {.s = s, .inv = inv};
    *out = NULL;
    *nout = 0;
    /* the starting point: the failure as given, normalised */
    weir__sim_result r;
    weir__sim_run_choices(s, choices, n, false, false, NULL, &r);
    k.runs = 1;
    if (r.status != WEIR_SIM_VIOLATION || r.invariant != inv || adopt(&k, &r)) {
        drop(&k);
        if (k.rc) return k.rc;
        /* not reproducible: hand it back as it came */
        uint32_t *c = weir__malloc((n ? n : 1) * sizeof *c);
        if (!c) return WEIR_ENOMEM;
        if (n) memcpy(c, choices, n * sizeof *c);
        *out = c;
        *nout = n;
        *runs = k.runs;
        *complete = false;
        return 0;
    }
    for (;;) {
        bool changed = pass(&k, is_present, false, true);
        changed |= pass(&k, is_fault, false, false);
        changed |= pass(&k, is_other, true, false);
        if (!changed || k.rc || k.out_of_runs) break;
    }
    weir__free(k.kinds);
    weir__free(k.refs);
    weir__free(k.origins);
    if (k.rc) {
        weir__free(k.cur);
        return k.rc;
    }
    *out = k.cur;
    *nout = k.n;
    *runs = k.runs;
    *complete = !k.out_of_runs;
    return 0;
}
