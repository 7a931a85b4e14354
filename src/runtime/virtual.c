/*
 * The virtual runtime (SPEC §4.5): a shell whose time moves only when asked.
 *
 * Everything an execution asks of the world waits here as a pending item
 * with a due time: timers (due = request time + delayMs), http requests
 * answered from mocks (due = request time + latencyMs) and injects scheduled
 * at a tick.  tick / advance / run move the clock in whole ticks and deliver
 * every item that has fallen due, in (due time, request order) — so the same
 * inputs always give the same waves, byte for byte (SPEC §4.3).  step
 * processes one node invocation at a time (the execution's stepping mode),
 * moving the clock only when nothing is left to step at the current tick.
 * The clock read for latency metrics is absent, so latencies are 0.
 *
 * http requests no mock matches (and user component calls, through its
 * component host) are performed for real through a realtime runtime
 * (o.http) when there is one.  Each waits in the `held` list, in
 * request order, until its answer has come back and every earlier one has
 * joined the heap; then it joins the heap due at the next tick.  So an
 * answer is delivered at a tick boundary, after it came back, in request
 * order, and the same arrival order gives the same waves.  Invariant: the
 * heap's capacity covers every held request (v->cap >= v->n + v->nheld), so
 * an answer joins the heap without allocating.
 *
 * The clock's range: tick t is at start_ms + t * tick_ms, which must stay
 * below INT64_MAX (that value means "never"), so the clock ends at tick
 * max_tick.  A move past it (tick, advance, run, a scheduled inject) is
 * refused with WEIR_EINVAL before anything moves, and every sum of times
 * saturates at INT64_MAX: an item due past the end (a timer of 2^62 ms) is
 * never due, as it would never fire in real time.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/error.h"
#include "runtime/mocks.h"
#include "weir/weir.h"

typedef struct real real;

/* The mocks in force, shared with the requests made while they were: a
 * request is served by the mocks of its time (weir_virtual_set_mocks
 * changes later requests only), against the world as it is when served. */
typedef struct mockset {
    unsigned refs;
    weir__mock *m;
    size_t n;
} mockset;

/* Deliveries one tick may make before it is refused as a runaway (a zero
 * delay timer re-arming itself forever). */
#define MAX_DELIVERIES_PER_TICK 1000000

typedef enum { ITEM_EFFECT, ITEM_INJECT } item_kind;

typedef struct item {
    int64_t due;
    uint64_t seq; /* request order: ties on due keep it */
    item_kind kind;
    uint64_t effect_id;
    json_t *result; /* effect: the result to deliver (NULL: null) */
    char *error;    /* effect: deliver as a failure */
    char *node, *port;
    json_t *value;  /* inject */
    json_t *request; /* a mocked http request (the effect's payload): served when due */
    struct mockset *mocks; /* ... by these (a reference) */
    bool cancelled;
} item;

struct weir_virtual {
    weir_exec *e;
    int64_t start_ms, tick_ms, now;
    uint64_t ticks;
    uint64_t max_tick; /* the end of the clock's range (see above) */
    uint64_t seq;
    item *heap; /* min-heap on (due, seq) */
    size_t n, cap;
    size_t live; /* not cancelled */
    size_t injects; /* of which scheduled injects (never cancelled) */
    mockset *mocks; /* mocks.h; a reference */
    json_t *world; /* what the mocks' `set` changed, their `when` reads */
    real *held, *held_tail; /* real http requests not in the heap yet, in request order */
    size_t nheld, inflight;
    bool pause; /* weir_virtual_pause: the run in progress stops after this tick */
    weir_virtual_options o;
};

/* --------------------------------------------------------------- the clock */

/* The time of tick t (t <= max_tick), or INT64_MAX ("never") past the
 * end. */
static int64_t time_of(const weir_virtual *v, uint64_t t) {
    int64_t span, at;
    if (t > v->max_tick || t > INT64_MAX || __builtin_mul_overflow((int64_t)t, v->tick_ms, &span) ||
        __builtin_add_overflow(v->start_ms, span, &at))
        return INT64_MAX;
    return at;
}

/* now + ms, saturated at INT64_MAX (never due). */
static int64_t later(int64_t now, int64_t ms) {
    int64_t at;
    return __builtin_add_overflow(now, ms > 0 ? ms : 0, &at) ? INT64_MAX : at;
}

/* A JSON number of ms as an int64: reals are cut toward zero and saturate
 * (a cast of a double out of range is undefined); NaN and negatives are 0. */
static int64_t ms_of(json_t *n) {
    if (json_is_integer(n)) return json_integer_value(n);
    double d = json_number_value(n);
    if (!(d > 0)) return 0;
    return d >= 9223372036854775807.0 ? INT64_MAX : (int64_t)d;
}

/* What is left of the range, for the messages. */
static int range_error(const weir_virtual *v, weir_error *err, const char *what) {
    return weir__error(err, WEIR_EINVAL,
                       "%s: past the end of the virtual clock's range (ms in a 64-bit integer); the clock is at tick "
                       "%llu (%lld ms) and can move %llu more ticks of %lld ms, to tick %llu (%lld ms)",
                       what, (unsigned long long)v->ticks, (long long)v->now,
                       (unsigned long long)(v->max_tick - v->ticks), (long long)v->tick_ms,
                       (unsigned long long)v->max_tick, (long long)time_of(v, v->max_tick));
}

/* ---------------------------------------------------------------- the heap */

static bool before(const item *a, const item *b) { return a->due < b->due || (a->due == b->due && a->seq < b->seq); }

static void swap(item *a, item *b) {
    item t = *a;
    *a = *b;
    *b = t;
}

/* Insert into a heap with room for it (see the capacity invariant). */
static void heap_insert(weir_virtual *v, item *it) {
    it->seq = ++v->seq;
    size_t i = v->n++;
    v->heap[i] = *it;
    while (i && before(&v->heap[i], &v->heap[(i - 1) / 2])) {
        swap(&v->heap[i], &v->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    v->live++;
}

static int heap_push(weir_virtual *v, item *it) {
    if (weir__grow((void **)&v->heap, &v->cap, v->n + 1 + v->nheld, sizeof *v->heap)) return WEIR_ENOMEM;
    heap_insert(v, it);
    return 0;
}

static item heap_pop(weir_virtual *v) {
    item top = v->heap[0];
    v->heap[0] = v->heap[--v->n];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < v->n && before(&v->heap[l], &v->heap[m])) m = l;
        if (r < v->n && before(&v->heap[r], &v->heap[m])) m = r;
        if (m == i) break;
        swap(&v->heap[i], &v->heap[m]);
        i = m;
    }
    return top;
}

static void mockset_unref(mockset *ms) {
    if (!ms || --ms->refs) return;
    weir__mocks_free(ms->m, ms->n);
    weir__free(ms);
}

/* mocks (NULL: none) checked and compiled into a new set (one reference). */
static int mockset_new(json_t *mocks, mockset **out, weir_error *err) {
    mockset *ms = weir__calloc(1, sizeof *ms);
    if (!ms) return weir__error(err, WEIR_ENOMEM, "out of memory");
    int rc = weir__mocks_load(mocks, &ms->m, &ms->n, err);
    if (rc) {
        weir__free(ms);
        return rc;
    }
    ms->refs = 1;
    *out = ms;
    return 0;
}

static void item_free(item *it) {
    json_decref(it->result);
    json_decref(it->value);
    json_decref(it->request);
    mockset_unref(it->mocks);
    weir__free(it->error);
    weir__free(it->node);
    weir__free(it->port);
}

/* ------------------------------------------------------------------ mocks */

/* A mocked request comes due: served by the first mock of its time matching
 * it whose `when` holds for the world now, whose `set` then changes the
 * world. */
static void serve(weir_virtual *v, item *it) {
    const char *method = json_string_value(json_object_get(it->request, "method"));
    const char *url = json_string_value(json_object_get(it->request, "url"));
    if (!method) method = "GET";
    if (!url) url = "";
    size_t m;
    weir_error err;
    char buf[WEIR_ERROR_MAX + 128];
    const mockset *ms = it->mocks;
    if (weir__mocks_serve(ms->m, ms->n, method, url, v->world, it->request, &m, &err)) {
        snprintf(buf, sizeof buf, "mocks[%zu].when could not be evaluated for %s %s: %s", m, method, url, err.message);
        it->error = weir__strdup(buf);
    } else if (m == ms->n) {
        char *w = json_dumps(v->world, JSON_COMPACT);
        snprintf(buf, sizeof buf,
                 "no mock answers %s %s now: no mock matches it, or each one that does has a `when` that does not "
                 "hold for the world %.300s (add one without `when`)",
                 method, url, w ? w : "?");
        weir__free(w);
        it->error = weir__strdup(buf);
    } else {
        const weir__mock *mk = &ms->m[m];
        if (mk->set) json_object_update(v->world, mk->set);
        it->result = json_incref(mk->result);
    }
    if (!it->result && !it->error) it->error = weir__strdup("out of memory");
}

/* ------------------------------------------------------ real requests */

/* A real http request.  Owned by v while in the held list; its answer is
 * kept in `it`, ready to join the heap. */
struct real {
    weir_virtual *v;
    uint64_t fetch_id; /* in flight on o.http; 0 once answered */
    item it;           /* effect_id set at the request; result / error at the answer */
    real *next;
};

static void held_unlink(weir_virtual *v, real *h) {
    real **pp = &v->held, *prev = NULL;
    while (*pp != h) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    *pp = h->next;
    if (v->held_tail == h) v->held_tail = prev;
    v->nheld--;
}

/* Move the answered requests at the head of the list into the heap, due at
 * the next tick: those behind one still in flight keep waiting. */
static void admit_answered(weir_virtual *v) {
    while (v->held && !v->held->fetch_id) {
        real *h = v->held;
        held_unlink(v, h);
        h->it.due = v->ticks < v->max_tick ? time_of(v, v->ticks + 1) : INT64_MAX;
        heap_insert(v, &h->it); /* room kept for it: no allocation */
        weir__free(h);
    }
}

/* The answer came back (from the realtime runtime's loop).  result and error
 * BORROWED. */
static void real_done(void *ud, json_t *result, const char *error) {
    real *h = ud;
    weir_virtual *v = h->v;
    h->fetch_id = 0;
    v->inflight--;
    if (error) {
        /* Out of memory copying the text: a shorter one; should even that
         * fail, the answer is delivered as null (as a mock's would be). */
        h->it.error = weir__strdup(error);
        if (!h->it.error) h->it.error = weir__strdup("out of memory");
    } else {
        h->it.result = json_incref(result);
    }
    admit_answered(v);
    if (v->o.arrived) v->o.arrived(v->o.ud, v); /* last: it may destroy v */
}

/* Send the effect's request through o.http.  0 when it is on its way (held),
 * or a WEIR_E* code with nothing kept. */
static int start_real(weir_virtual *v, const weir_effect *eff) {
    real *h = weir__calloc(1, sizeof *h);
    if (!h) return WEIR_ENOMEM;
    if (weir__grow((void **)&v->heap, &v->cap, v->n + v->nheld + 1, sizeof *v->heap)) {
        weir__free(h);
        return WEIR_ENOMEM;
    }
    h->v = v;
    h->it.kind = ITEM_EFFECT;
    h->it.effect_id = eff->id;
    int rc = weir_realtime_perform(v->o.http, v->e, eff, real_done, h, &h->fetch_id);
    if (rc) {
        weir__free(h);
        return rc;
    }
    if (v->held_tail) v->held_tail->next = h;
    else v->held = h;
    v->held_tail = h;
    v->nheld++;
    v->inflight++;
    return 0;
}

/* Drop a held request: its transfer is aborted if still in flight. */
static void held_drop(weir_virtual *v, real *h) {
    if (h->fetch_id) {
        (void)weir_realtime_fetch_cancel(v->o.http, h->fetch_id);
        v->inflight--;
    }
    item_free(&h->it);
    weir__free(h);
}

/* ------------------------------------------------------------ the shell */

static void on_effect(void *ud, weir_exec *e, const weir_effect *eff) {
    weir_virtual *v = ud;
    if (!v->e) v->e = e;
    item it = {.kind = ITEM_EFFECT, .effect_id = eff->id, .due = v->now};
    switch (eff->kind) {
    case WEIR_EFFECT_TIMER:
        it.due = later(v->now, ms_of(json_object_get(eff->payload, "delayMs")));
        break;
    case WEIR_EFFECT_HTTP: {
        const char *method = json_string_value(json_object_get(eff->payload, "method"));
        const char *url = json_string_value(json_object_get(eff->payload, "url"));
        const mockset *ms = v->mocks;
        size_t m = 0;
        while (m < ms->n && !weir__mock_matches(&ms->m[m], method ? method : "GET", url ? url : "")) m++;
        if (m < ms->n) { /* served when due (serve); a range's minimum, no faults */
            it.request = json_incref(eff->payload);
            it.mocks = v->mocks;
            v->mocks->refs++;
            it.due = later(v->now, ms->m[m].lat_min);
        } else if (v->o.http) {
            int rc = start_real(v, eff);
            if (!rc) return; /* held until its answer comes back */
            char buf[512];
            snprintf(buf, sizeof buf, "could not send %s %s for real under the virtual runtime: %s",
                     method ? method : "GET", url ? url : "", weir_strerror(rc));
            it.error = weir__strdup(buf);
        } else {
            char buf[512];
            snprintf(buf, sizeof buf,
                     "no mock matches %s %s under the virtual runtime; add {match: {method, url}, response} to mocks",
                     method ? method : "GET", url ? url : "");
            it.error = weir__strdup(buf);
        }
        break;
    }
    case WEIR_EFFECT_LOG:
        if (v->o.log) v->o.log(v->o.ud, eff);
        return; /* fire and forget */
    case WEIR_EFFECT_INVOKE:
        /* A user component's call runs for real in the component host
         * behind o.http; its answer is delivered like a real http answer:
         * at the next tick, in request order. */
        if (v->o.http && eff->id == 0) { /* a cleanup's call: fire-and-forget, as realtime does it */
            weir_shell rs = {0};
            weir_realtime_shell(v->o.http, &rs);
            rs.effect(rs.effect_ud, e, eff);
            return;
        }
        if (v->o.http) {
            int rc = start_real(v, eff);
            if (!rc) return;
            char buf[256];
            snprintf(buf, sizeof buf, "could not call the component host under the virtual runtime: %s",
                     weir_strerror(rc));
            it.error = weir__strdup(buf);
        } else {
            it.error = weir__strdup("user components need the component host: this virtual runtime has no realtime "
                                    "runtime to reach it through (weir_virtual_options.http; weir serve gives it one)");
        }
        break;
    default:
        it.error = weir__strdup("the virtual runtime cannot perform this kind of effect");
        break;
    }
    /* Out of memory keeping it: the effect stays pending in the core (the
     * shell cannot answer from inside the request) and the execution's
     * timeout ends it. */
    if (heap_push(v, &it)) item_free(&it);
}

static void on_cancel(void *ud, weir_exec *e, uint64_t id) {
    (void)e;
    weir_virtual *v = ud;
    for (size_t i = 0; i < v->n; i++) {
        item *it = &v->heap[i];
        if (it->kind == ITEM_EFFECT && it->effect_id == id && !it->cancelled) {
            it->cancelled = true;
            v->live--;
            return;
        }
    }
    for (real *h = v->held; h; h = h->next) {
        if (h->it.effect_id == id) {
            held_unlink(v, h);
            held_drop(v, h);
            admit_answered(v); /* those it held back may go now */
            return;
        }
    }
}

/* ------------------------------------------------------------------- API */

int weir_virtual_create(const weir_virtual_options *o, weir_virtual **out, weir_error *err) {
    *out = NULL;
    weir_virtual_options def = {0};
    if (!o) o = &def;
    if (o->tick_ms < 0)
        return weir__error(err, WEIR_EINVAL, "TICK_MS must be at least 1 (got %lld)", (long long)o->tick_ms);
    json_t *world = o->world;
    if (world && !json_is_object(world))
        return weir__error(err, WEIR_EINVAL, "world must be an object: the state the mocks' `set` and `when` share");
    mockset *ms = NULL;
    int rc = mockset_new(o->mocks, &ms, err);
    if (rc) return rc;
    weir_virtual *v = weir__calloc(1, sizeof *v);
    if (!v || !(world = world ? json_deep_copy(world) : json_object())) {
        mockset_unref(ms);
        weir__free(v);
        return weir__error(err, WEIR_ENOMEM, "out of memory");
    }
    v->mocks = ms;
    v->world = world;
    v->o = *o;
    v->tick_ms = o->tick_ms ? o->tick_ms : 1;
    v->start_ms = v->now = o->start_ms;
    /* the last t with start_ms + t * tick_ms < INT64_MAX (unsigned: the
     * span is exact for any start_ms below it), and a tick JSON can carry */
    v->max_tick = v->start_ms >= INT64_MAX - 1
                      ? 0
                      : ((uint64_t)(INT64_MAX - 1) - (uint64_t)v->start_ms) / (uint64_t)v->tick_ms;
    if (v->max_tick > INT64_MAX) v->max_tick = INT64_MAX;
    *out = v;
    return 0;
}

void weir_virtual_destroy(weir_virtual *v) {
    if (!v) return;
    while (v->held) {
        real *h = v->held;
        v->held = h->next;
        held_drop(v, h);
    }
    for (size_t i = 0; i < v->n; i++) item_free(&v->heap[i]);
    weir__free(v->heap);
    mockset_unref(v->mocks);
    json_decref(v->world);
    weir__free(v);
}

void weir_virtual_shell(weir_virtual *v, weir_shell *sh) {
    sh->effect_ud = v;
    sh->effect = on_effect;
    sh->cancel = on_cancel;
    sh->clock_ns = NULL; /* deterministic: latencies are 0 */
}

void weir_virtual_bind(weir_virtual *v, weir_exec *e) { v->e = e; }
int64_t weir_virtual_now(const weir_virtual *v) { return v->now; }
uint64_t weir_virtual_ticks(const weir_virtual *v) { return v->ticks; }
uint64_t weir_virtual_max_tick(const weir_virtual *v) { return v->max_tick; }
int64_t weir_virtual_tick_ms(const weir_virtual *v) { return v->tick_ms; }
size_t weir_virtual_pending(const weir_virtual *v) { return v->live + v->nheld; }
size_t weir_virtual_inflight(const weir_virtual *v) { return v->inflight; }

size_t weir_virtual_scheduled(const weir_virtual *v) { return v->injects; }

void weir_virtual_on_arrived(weir_virtual *v, void (*arrived)(void *ud, weir_virtual *v), void *ud) {
    v->o.arrived = arrived;
    v->o.ud = ud;
}

int weir_virtual_set_mocks(weir_virtual *v, json_t *mocks, weir_error *err) {
    mockset *ms = NULL;
    int rc = mockset_new(mocks, &ms, err);
    if (rc) return rc;
    mockset_unref(v->mocks);
    v->mocks = ms;
    return 0;
}

uint64_t weir_virtual_tick_after(const weir_virtual *v, uint64_t n) {
    uint64_t t;
    return __builtin_add_overflow(v->ticks, n ? n : 1, &t) ? UINT64_MAX : t;
}

int weir_virtual_schedule(weir_virtual *v, const weir_inject *in, uint64_t at_tick, weir_error *err) {
    if (!in->node || !in->value) return weir__error(err, WEIR_EINVAL, "a scheduled inject needs a node and a value");
    if (at_tick <= v->ticks)
        return weir__error(err, WEIR_EINVAL, "tick %llu has passed (the virtual clock is at tick %llu)",
                           (unsigned long long)at_tick, (unsigned long long)v->ticks);
    if (at_tick > v->max_tick) {
        char what[96];
        snprintf(what, sizeof what, "an inject at tick %llu", (unsigned long long)at_tick);
        return range_error(v, err, what);
    }
    item it = {.kind = ITEM_INJECT, .due = time_of(v, at_tick)};
    it.node = weir__strdup(in->node);
    it.port = in->port ? weir__strdup(in->port) : NULL;
    it.value = json_incref(in->value);
    if (!it.node || (in->port && !it.port) || heap_push(v, &it)) {
        item_free(&it);
        return weir__error(err, WEIR_ENOMEM, "out of memory scheduling an inject");
    }
    v->injects++;
    return 0;
}

/* Deliver one item (already popped). */
static int deliver(weir_virtual *v, item *it, weir_error *err) {
    int rc = 0;
    if (!v->e) return 0; /* nothing bound: nothing to deliver to */
    if (it->kind == ITEM_EFFECT) {
        if (it->request) serve(v, it);
        rc = weir_exec_resolve(v->e, it->effect_id, it->result, it->error, v->now, err);
        if (rc == WEIR_ESTALE) rc = 0; /* cancelled by the core meanwhile */
    } else {
        weir_inject in = {.node = it->node, .port = it->port, .value = it->value, .flags = WEIR_INJECT_SCHEDULED};
        rc = weir_exec_inject(v->e, &in, v->now, NULL, err);
        /* a finished execution or a bad node: the scheduled inject is the
         * caller's problem, reported; time still moves */
    }
    return rc;
}

/* Deliver everything due at or before now, in (due, request) order. */
static int deliver_due(weir_virtual *v, weir_error *err) {
    int first_rc = 0;
    for (size_t n = 0; v->n && v->heap[0].due <= v->now; n++) {
        if (n >= MAX_DELIVERIES_PER_TICK)
            return weir__error(err, WEIR_ELIMIT,
                               "more than %d deliveries at virtual time %lld ms: a zero-delay loop? time stopped there",
                               MAX_DELIVERIES_PER_TICK, (long long)v->now);
        item it = heap_pop(v);
        if (!it.cancelled) {
            v->live--;
            if (it.kind == ITEM_INJECT) v->injects--;
            weir_error e2;
            int rc = deliver(v, &it, &e2);
            if (rc && !first_rc) {
                first_rc = rc;
                if (err) *err = e2;
            }
        }
        item_free(&it);
    }
    return first_rc;
}

static void advanced(weir_virtual *v) {
    if (v->o.advanced) v->o.advanced(v->o.ud, v->e, v->now, v->ticks);
}

/* Move to tick t (>= the current one, <= max_tick), delivering what falls
 * due. */
static int move_to(weir_virtual *v, uint64_t t, weir_error *err) {
    v->ticks = t;
    v->now = time_of(v, t);
    return deliver_due(v, err);
}

/* The first tick at which the next live item is due, or 0 if none is due
 * within the clock's range. */
static uint64_t next_due_tick(weir_virtual *v) {
    while (v->n && v->heap[0].cancelled) {
        item it = heap_pop(v);
        item_free(&it);
    }
    if (!v->n || v->heap[0].due > time_of(v, v->max_tick)) return 0;
    int64_t due = v->heap[0].due;
    /* start_ms <= due: the difference is exact in unsigned arithmetic */
    uint64_t span = due <= v->start_ms ? 0 : (uint64_t)due - (uint64_t)v->start_ms;
    uint64_t t = span / (uint64_t)v->tick_ms + (span % (uint64_t)v->tick_ms != 0);
    if (t > v->ticks) return t;
    return v->ticks < v->max_tick ? v->ticks + 1 : 0; /* due now: delivered at the next tick */
}

/* Time is about to move: a stepped execution catches up first (its open
 * wave ends, its queue drains), so time never moves under a part-way input. */
static void stop_stepping(weir_virtual *v) {
    if (v->e) weir_exec_stepping(v->e, false, v->now);
}

int weir_virtual_tick(weir_virtual *v, weir_error *err) {
    if (v->ticks >= v->max_tick) return range_error(v, err, "tick");
    stop_stepping(v);
    int rc = move_to(v, v->ticks + 1, err);
    advanced(v);
    return rc;
}

/* Jump from due item to due item up to tick `target` (empty stretches cost
 * nothing). */
static int run_to(weir_virtual *v, uint64_t target, weir_error *err) {
    int first_rc = 0;
    for (;;) {
        uint64_t t = next_due_tick(v);
        if (!t || t > target) break;
        weir_error e2;
        int rc = move_to(v, t, &e2);
        if (rc == WEIR_ELIMIT) {
            if (err) *err = e2;
            return rc;
        }
        if (rc && !first_rc) {
            first_rc = rc;
            if (err) *err = e2;
        }
    }
    v->ticks = target;
    v->now = time_of(v, target);
    return first_rc;
}

int weir_virtual_advance_ticks(weir_virtual *v, uint64_t n, weir_error *err) {
    if (n > v->max_tick - v->ticks) {
        char what[96];
        snprintf(what, sizeof what, "advance %llu ticks", (unsigned long long)n);
        return range_error(v, err, what);
    }
    stop_stepping(v);
    int rc = run_to(v, v->ticks + n, err);
    advanced(v);
    return rc;
}

int weir_virtual_advance(weir_virtual *v, int64_t ms, weir_error *err) {
    if (ms < 0)
        return weir__error(err, WEIR_EINVAL, "advance takes a non-negative number of ms (got %lld)", (long long)ms);
    uint64_t ticks = (uint64_t)(ms / v->tick_ms) + (ms % v->tick_ms != 0); /* rounded up, without overflow */
    if (ticks > v->max_tick - v->ticks) {
        char what[96];
        snprintf(what, sizeof what, "advance %lld ms", (long long)ms);
        return range_error(v, err, what);
    }
    return weir_virtual_advance_ticks(v, ticks, err);
}

/* Nothing left that run plays for: no scheduled inject, no real request
 * out, and the execution has nothing in flight — its own deadline (the
 * execution timeout) does not keep it playing — or nothing is due at all
 * (a paused execution's queue waits for resume, not for time). */
static bool played_out(weir_virtual *v) {
    if (v->nheld) return false;
    if (next_due_tick(v) == 0) return true;
    return v->e && weir_exec_idle(v->e) && weir_virtual_scheduled(v) == 0;
}

void weir_virtual_pause(weir_virtual *v) { v->pause = true; }

int weir_virtual_run(weir_virtual *v, uint64_t max_ticks, bool *idle, weir_error *err) {
    if (idle) *idle = false;
    if (max_ticks > v->max_tick - v->ticks) {
        char what[96];
        snprintf(what, sizeof what, "run maxTicks %llu", (unsigned long long)max_ticks);
        return range_error(v, err, what);
    }
    stop_stepping(v);
    v->pause = false;
    uint64_t limit = max_ticks ? v->ticks + max_ticks : v->max_tick;
    int first_rc = 0;
    /* A real request out stops the clock: its answer is delivered at the
     * next tick whenever it comes back, so real latency never shows in
     * virtual time. */
    while (!played_out(v) && !v->nheld) {
        uint64_t t = next_due_tick(v);
        if (!t || t > limit) break;
        weir_error e2;
        int rc = move_to(v, t, &e2);
        if (rc == WEIR_ELIMIT) {
            if (err) *err = e2;
            advanced(v);
            return rc;
        }
        if (rc && !first_rc) {
            first_rc = rc;
            if (err) *err = e2;
        }
        if (v->pause) break;
    }
    bool done = played_out(v);
    if (!done && !v->nheld && !v->pause) { /* the bound: played that long */
        v->ticks = limit;
        v->now = time_of(v, limit);
    }
    if (idle) *idle = done;
    v->pause = false;
    advanced(v);
    return first_rc;
}

/* Something is due at the current tick (cancelled items on top dropped). */
static bool due_now(weir_virtual *v) {
    while (v->n && v->heap[0].cancelled) {
        item it = heap_pop(v);
        item_free(&it);
    }
    return v->n && v->heap[0].due <= v->now;
}

/* The execution has an input part-way or waiting: a step has work. */
static bool has_input(const weir_exec *e) { return weir_exec_wave_open(e) || weir_exec_queue_depth(e) > 0; }

int weir_virtual_step(weir_virtual *v, weir_step *out, weir_error *err) {
    memset(out, 0, sizeof *out);
    if (!v->e) return weir__error(err, WEIR_ESTATE, "the virtual runtime has no execution to step (bind one first)");
    weir_exec *e = v->e;
    weir_exec_stepping(e, true, v->now);
    if (!has_input(e) && v->live == 0) return 0; /* nothing pending at all */
    if (weir_exec_state(e) != WEIR_STATE_RUNNING) return weir_exec_step(e, v->now, out, err); /* says why */
    /* Deliveries queue while stepping, so one tick's worth is bounded by
     * what is pending: no runaway is possible here.  Deliveries that queue
     * nothing (stale results) move on to the next due tick. */
    while (!has_input(e)) {
        int rc;
        if (due_now(v)) {
            rc = deliver_due(v, err);
        } else {
            uint64_t t = next_due_tick(v);
            if (!t) return 0;
            rc = move_to(v, t, err);
            advanced(v);
        }
        if (rc) return rc; /* reported; what did queue is stepped next time */
    }
    return weir_exec_step(e, v->now, out, err);
}
