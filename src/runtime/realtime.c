/*
 * The realtime runtime: a weir_shell on a libuv loop.  This file holds the
 * shell callbacks, the table of outstanding effects, timers, log and invoke;
 * http lives in realtime_http.c.
 */
#include "runtime/realtime.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"

#define DEFAULT_MAX_REDIRECTS 5
#define DEFAULT_MAX_RESPONSE_BYTES ((size_t)16 * 1024 * 1024)
#define INITIAL_BUCKETS 64

/* ------------------------------------------------------------------ table */

static size_t bucket_of(const weir_realtime *rt, const weir_exec *e, uint64_t id) {
    uint64_t x = (uint64_t)(uintptr_t)e ^ (id * 0x9e3779b97f4a7c15ull);
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return (size_t)(x & (rt->nbuckets - 1));
}

/* Double the buckets and rehash every op in the list.  False on allocation
 * failure: the table keeps working with longer chains. */
static bool table_grow(weir_realtime *rt) {
    size_t n = rt->nbuckets * 2;
    rt_op **b = weir__calloc(n, sizeof *b);
    if (!b) return false;
    weir__free(rt->buckets);
    rt->buckets = b;
    rt->nbuckets = n;
    for (rt_op *op = rt->ops; op; op = op->next) {
        size_t i = bucket_of(rt, op->exec, op->id);
        op->hnext = rt->buckets[i];
        rt->buckets[i] = op;
    }
    return true;
}

static void table_add(weir_realtime *rt, rt_op *op) {
    op->prev = NULL;
    op->next = rt->ops;
    if (rt->ops) rt->ops->prev = op;
    rt->ops = op;
    rt->count++;
    if (rt->count > rt->nbuckets && table_grow(rt)) return; /* this op included */
    size_t i = bucket_of(rt, op->exec, op->id);
    op->hnext = rt->buckets[i];
    rt->buckets[i] = op;
}

/* The effect (exec, id), or with `fetch` the fetch id (exec NULL). */
static rt_op *table_find(const weir_realtime *rt, const weir_exec *e, uint64_t id, bool fetch) {
    for (rt_op *op = rt->buckets[bucket_of(rt, e, id)]; op; op = op->hnext)
        if (op->exec == e && op->id == id && (op->done != NULL) == fetch) return op;
    return NULL;
}

static void table_remove(weir_realtime *rt, rt_op *op) {
    rt_op **pp = &rt->buckets[bucket_of(rt, op->exec, op->id)];
    while (*pp && *pp != op) pp = &(*pp)->hnext;
    if (*pp) *pp = op->hnext;
    if (op->prev) op->prev->next = op->next;
    else rt->ops = op->next;
    if (op->next) op->next->prev = op->prev;
    op->prev = op->next = op->hnext = NULL;
    rt->count--;
}

/* --------------------------------------------------------------- handles */

static void free_rt(weir_realtime *rt) {
    weir__free(rt->buckets);
    weir__free(rt->allowlist);
    weir__free(rt);
}

void weir__rt_handle_closed(weir_realtime *rt) {
    rt->open_handles--;
    if (rt->destroyed && rt->open_handles == 0) free_rt(rt);
}

static void op_closed(uv_handle_t *h) {
    rt_op *op = h->data;
    weir_realtime *rt = op->rt;
    json_decref(op->oneway);
    weir__rt_http_free(op);
    weir__free(op->deferred_error);
    weir__free(op);
    weir__rt_handle_closed(rt);
}

void weir__rt_op_release(rt_op *op) {
    weir_realtime *rt = op->rt;
    table_remove(rt, op);
    if (op->http) weir__rt_http_abort(op);
    if (op->host_call) weir_host_cancel(rt->host, op->host_call);
    op->host_call = 0;
    uv_timer_stop(&op->timer);
    uv_close((uv_handle_t *)&op->timer, op_closed);
}

void weir__rt_settle(rt_op *op, json_t *result, const char *error) {
    weir_realtime *rt = op->rt;
    weir_exec *e = op->exec;
    uint64_t id = op->id;
    weir_realtime_fetch_done done = op->done;
    void *done_ud = op->done_ud;
    /* Out of the table before the callback runs: whatever it does (cancel,
     * forget, destroy) cannot reach this op again.  Its memory, and so
     * `error` when it points into it, lives until the close callback. */
    weir__rt_op_release(op);
    if (done) done(done_ud, result, error);
    else (void)rt->resolve(e, id, result, error, weir_realtime_now(rt), NULL); /* ESTALE is fine */
}

/* libuv counts whole milliseconds of its own monotonic clock; the core is
 * given weir_realtime_now, another clock truncated to ms, so a timer can
 * fire up to a millisecond before it is due by the time the core sees.
 * That last millisecond is waited out (a larger gap is the wall clock
 * having jumped, and is not waited for). */
static void timer_due(uv_timer_t *t) {
    rt_op *op = t->data;
    int64_t left = op->due_ms - weir_realtime_now(op->rt);
    if (left > 0 && left <= 2) {
        uv_timer_start(t, timer_due, (uint64_t)left, 0);
        return;
    }
    weir__rt_settle(op, NULL, NULL);
}

static void invoke_done(void *ud, json_t *answer, const char *error);

static void deferred_due(uv_timer_t *t) {
    rt_op *op = t->data;
    const char *msg = op->deferred_error ? op->deferred_error : "out of memory";
    if (op->oneway) invoke_done(op, NULL, msg); /* no execution waits for it */
    else weir__rt_settle(op, NULL, msg);
}

void weir__rt_defer_error(rt_op *op, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    weir__free(op->deferred_error);
    op->deferred_error = weir__strdup(buf); /* NULL reads "out of memory" */
    uv_timer_stop(&op->timer);
    uv_timer_start(&op->timer, deferred_due, 0, 0);
}

/* ----------------------------------------------------------------- shell */

/* A number of milliseconds from a payload field: 0 and *ms set, or -1. */
static int payload_ms(json_t *payload, const char *key, uint64_t *ms) {
    json_t *v = json_object_get(payload, key);
    if (!json_is_number(v)) return -1;
    double d = json_number_value(v);
    if (d != d) return -1;
    if (d <= 0) *ms = 0;
    else if (d >= 9.0e15) *ms = (uint64_t)9.0e15;
    else *ms = (uint64_t)(d + 0.5);
    return 0;
}

static void start_timer(rt_op *op, json_t *payload) {
    uint64_t ms;
    if (payload_ms(payload, "delayMs", &ms) != 0) {
        weir__rt_defer_error(op, "timer effect payload needs a numeric delayMs, e.g. {\"delayMs\": 1000}");
        return;
    }
    /* The loop's cached time may be stale after a long wave: measure the
     * delay from now, never less. */
    uv_update_time(op->rt->loop);
    int64_t now = weir_realtime_now(op->rt);
    op->due_ms = (int64_t)ms > INT64_MAX - now ? INT64_MAX : now + (int64_t)ms;
    uv_timer_start(&op->timer, timer_due, ms, 0);
}

/* ----------------------------------------------------------------- invoke */

/* The server log hears a fire-and-forget call's logs and failure. */
static void oneway_log(rt_op *op, const char *level, const char *message) {
    weir_realtime *rt = op->rt;
    if (!rt->log) return;
    json_t *payload = json_pack("{s:s,s:s}", "level", level, "message", message ? message : "");
    if (!payload) return;
    weir_effect eff = {0, WEIR_EFFECT_LOG, json_string_value(json_object_get(op->oneway, "executionId")),
                       json_string_value(json_object_get(op->oneway, "nodeId")), payload, 0};
    rt->log(rt->log_ud, &eff);
    json_decref(payload);
}

static void invoke_done(void *ud, json_t *answer, const char *error) {
    rt_op *op = ud;
    op->host_call = 0;
    if (!op->oneway) {
        weir__rt_settle(op, answer, error);
        return;
    }
    /* Nothing resumes a finished instance: its logs and failure go to the
     * server log, its emits and state nowhere. */
    char buf[1024];
    const char *comp = json_string_value(json_object_get(op->oneway, "component"));
    const char *hook = json_string_value(json_object_get(op->oneway, "hook"));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(answer, "logs"), i, v)
        oneway_log(op, json_string_value(json_object_get(v, "level")), json_string_value(json_object_get(v, "message")));
    const char *failed = error ? error : json_string_value(json_object_get(answer, "error"));
    if (failed) {
        snprintf(buf, sizeof buf, "component %s (%s): %s", comp ? comp : "?", hook ? hook : "?", failed);
        oneway_log(op, "error", buf);
    }
    weir__rt_op_release(op);
}

static void start_invoke(rt_op *op, json_t *payload, const char *node_id) {
    weir_realtime *rt = op->rt;
    if (!rt->host) {
        weir__rt_defer_error(op, "user components need the component host (weir serve runs one; a runtime made "
                                 "without weir_realtime_options.host cannot run them)");
        return;
    }
    char instance[320];
    snprintf(instance, sizeof instance, "%p/%s", op->exec ? (const void *)op->exec : op->owner, node_id ? node_id : "");
    weir_error err;
    if (weir_host_invoke(rt->host, payload, op->oneway ? NULL : instance, invoke_done, op, &op->host_call, &err))
        weir__rt_defer_error(op, "%s", err.message);
}

/* A NEW op in the table, its timer initialised (not started); NULL on out
 * of memory. */
static rt_op *op_new(weir_realtime *rt, weir_exec *e, uint64_t id, weir_effect_kind kind,
                     weir_realtime_fetch_done done, void *done_ud) {
    rt_op *op = weir__calloc(1, sizeof *op);
    if (!op) return NULL;
    op->rt = rt;
    op->exec = e;
    op->id = id;
    op->kind = kind;
    op->done = done;
    op->done_ud = done_ud;
    uv_timer_init(rt->loop, &op->timer);
    op->timer.data = op;
    rt->open_handles++;
    table_add(rt, op);
    return op;
}

static void rt_effect(void *ud, weir_exec *e, const weir_effect *eff) {
    weir_realtime *rt = ud;
    if (!rt || !eff || rt->destroyed) return;
    if (eff->kind == WEIR_EFFECT_LOG) {
        if (rt->log) rt->log(rt->log_ud, eff);
        return;
    }
    if (eff->kind == WEIR_EFFECT_INVOKE && eff->id == 0) { /* from a cleanup: fire-and-forget */
        rt_op *op = rt->host ? op_new(rt, NULL, 0, eff->kind, NULL, NULL) : NULL;
        if (!op) return;
        op->oneway = json_incref(eff->payload);
        start_invoke(op, eff->payload, eff->node_id);
        return;
    }
    /* Out of memory here has nowhere to go (the shell callback returns
     * nothing): the effect stays pending until the execution's timeout. */
    rt_op *op = op_new(rt, e, eff->id, eff->kind, NULL, NULL);
    if (!op) return;
    switch (eff->kind) {
    case WEIR_EFFECT_TIMER: start_timer(op, eff->payload); break;
    case WEIR_EFFECT_HTTP: {
        /* <executionId>:<effect id>: effect ids are deterministic (SPEC
         * §4.3), so a request performed again after recovery carries the
         * same key (SPEC §7.1) and a careful receiver can drop the repeat. */
        char key[160];
        snprintf(key, sizeof key, "%.120s:%" PRIu64, eff->execution_id ? eff->execution_id : "", eff->id);
        weir__rt_http_start(op, eff->payload, key);
        break;
    }
    case WEIR_EFFECT_INVOKE: start_invoke(op, eff->payload, eff->node_id); break;
    default: weir__rt_defer_error(op, "the realtime runtime cannot perform effects of kind %d", (int)eff->kind); break;
    }
}

static void rt_cancel(void *ud, weir_exec *e, uint64_t effect_id) {
    weir_realtime *rt = ud;
    if (!rt || rt->destroyed) return;
    rt_op *op = table_find(rt, e, effect_id, false);
    if (op) weir__rt_op_release(op);
}

static int64_t rt_clock_ns(void *ud) {
    (void)ud;
    return (int64_t)uv_hrtime();
}

/* ------------------------------------------------------------ public API */

int weir_realtime_create(struct uv_loop_s *loop, const weir_realtime_options *opts, weir_realtime **out) {
    static bool curl_ready;
    if (!out) return WEIR_EINVAL;
    *out = NULL;
    if (!loop) return WEIR_EINVAL;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return WEIR_ERUNTIME;
        curl_ready = true;
    }
    weir_realtime *rt = weir__calloc(1, sizeof *rt);
    if (!rt) return WEIR_ENOMEM;
    rt->loop = loop;
    rt->resolve = weir_exec_resolve;
    rt->classify = weir__egress_classify_sockaddr;
    rt->max_redirects = DEFAULT_MAX_REDIRECTS;
    rt->max_response_bytes = DEFAULT_MAX_RESPONSE_BYTES;
    if (opts) {
        rt->allow_private = opts->allow_private;
        if (opts->max_redirects > 0) rt->max_redirects = opts->max_redirects;
        if (opts->max_response_bytes > 0) rt->max_response_bytes = opts->max_response_bytes;
        rt->log = opts->log;
        rt->log_ud = opts->log_ud;
        rt->host = opts->host;
        if (opts->allowlist && !(rt->allowlist = weir__strdup(opts->allowlist))) goto nomem;
    }
    rt->nbuckets = INITIAL_BUCKETS;
    if (!(rt->buckets = weir__calloc(rt->nbuckets, sizeof *rt->buckets))) goto nomem;
    int rc = weir__rt_http_init(rt); /* last: it starts owning uv handles */
    if (rc != 0) {
        free_rt(rt);
        return rc;
    }
    *out = rt;
    return 0;
nomem:
    free_rt(rt);
    return WEIR_ENOMEM;
}

void weir_realtime_destroy(weir_realtime *rt) {
    if (!rt || rt->destroyed) return;
    rt->destroyed = true;
    rt->open_handles++; /* keep rt alive until the end of this function */
    while (rt->ops) weir__rt_op_release(rt->ops);
    weir__rt_http_fini(rt);
    weir__rt_handle_closed(rt);
}

void weir_realtime_shell(weir_realtime *rt, weir_shell *shell) {
    if (!shell) return;
    shell->effect_ud = rt;
    shell->effect = rt_effect;
    shell->cancel = rt_cancel;
    shell->clock_ns = rt_clock_ns;
}

void weir_realtime_forget(weir_realtime *rt, weir_exec *e) {
    if (!rt || rt->destroyed) return;
    rt_op *op = rt->ops;
    while (op) {
        rt_op *next = op->next; /* releasing op touches no other op */
        if (op->exec == e && !op->done) weir__rt_op_release(op);
        op = next;
    }
}

/* An op for a caller other than an execution (fetch ids are their own
 * sequence), answered through done. */
static int fetch_op(weir_realtime *rt, weir_effect_kind kind, weir_realtime_fetch_done done, void *ud, uint64_t *id,
                    rt_op **out) {
    if (id) *id = 0;
    if (!rt || !done || !id) return WEIR_EINVAL;
    if (rt->destroyed) return WEIR_ESTATE;
    rt_op *op = op_new(rt, NULL, rt->last_fetch + 1, kind, done, ud);
    if (!op) return WEIR_ENOMEM;
    *id = ++rt->last_fetch;
    *out = op;
    return 0;
}

int weir_realtime_fetch(weir_realtime *rt, json_t *payload, weir_realtime_fetch_done done, void *ud,
                        uint64_t *id) {
    rt_op *op;
    int rc = fetch_op(rt, WEIR_EFFECT_HTTP, done, ud, id, &op);
    if (!rc) weir__rt_http_start(op, payload, NULL); /* its failures are deferred to the loop */
    return rc;
}

int weir_realtime_perform(weir_realtime *rt, weir_exec *e, const weir_effect *eff, weir_realtime_fetch_done done,
                          void *ud, uint64_t *id) {
    if (id) *id = 0;
    if (!eff || (eff->kind != WEIR_EFFECT_HTTP && eff->kind != WEIR_EFFECT_INVOKE)) return WEIR_EINVAL;
    if (eff->kind == WEIR_EFFECT_HTTP) return weir_realtime_fetch(rt, eff->payload, done, ud, id);
    rt_op *op;
    int rc = fetch_op(rt, WEIR_EFFECT_INVOKE, done, ud, id, &op);
    if (rc) return rc;
    op->owner = e;
    start_invoke(op, eff->payload, eff->node_id); /* its failures are deferred to the loop */
    return 0;
}

int weir_realtime_fetch_cancel(weir_realtime *rt, uint64_t id) {
    if (!rt || rt->destroyed) return WEIR_ESTALE;
    rt_op *op = id ? table_find(rt, NULL, id, true) : NULL;
    if (!op) return WEIR_ESTALE;
    weir__rt_op_release(op);
    return 0;
}

int64_t weir_realtime_now(weir_realtime *rt) {
    (void)rt;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ test hooks */

void weir__realtime_set_resolver(weir_realtime *rt, weir_realtime_resolver resolve) {
    rt->resolve = resolve ? resolve : weir_exec_resolve;
}

void weir__realtime_set_classifier(weir_realtime *rt, weir_egress_class (*classify)(const struct sockaddr *sa)) {
    rt->classify = classify ? classify : weir__egress_classify_sockaddr;
}

size_t weir__realtime_pending(const weir_realtime *rt) { return rt->count; }
