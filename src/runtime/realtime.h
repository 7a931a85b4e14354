/*
 * Internals of the realtime runtime (weir_realtime_* in weir.h), shared by
 * realtime.c (the shell, the table of outstanding effects, timers) and
 * realtime_http.c (http effects on libcurl multi, driven by the same loop).
 *
 * Invariants:
 *  - An outstanding effect is one rt_op, present in rt's table (keyed by
 *    (exec, id)) and list until it settles or is cancelled; then it leaves
 *    both at once and its handles are closed: its memory is freed by the
 *    close callback, so it stays readable until the loop turns.
 *  - A fetch (weir_realtime_fetch: an http effect performed for a caller
 *    other than an execution) is an rt_op too, with `done` set, exec NULL
 *    and an id of its own sequence; it settles by calling done instead of
 *    the resolver.  Lookups say which kind they want, so an execution's
 *    effect id never reaches a fetch and forget leaves fetches alone.
 *  - Nothing calls the resolver or a done callback from inside shell.effect
 *    / shell.cancel / weir_realtime_forget / weir_realtime_fetch /
 *    weir_realtime_fetch_cancel: failures found there are delivered by a
 *    0 ms timer.  Destroy and cancel call nothing.
 *  - The resolver and done callbacks may call back into the runtime (effect,
 *    cancel, forget, fetch, even destroy); code that continues after calling
 *    them checks rt->destroyed.
 */
#ifndef WEIR_RUNTIME_REALTIME_H
#define WEIR_RUNTIME_REALTIME_H
#include <curl/curl.h>
#include <uv.h>

#include "runtime/egress.h"
#include "weir/weir.h"

typedef int (*weir_realtime_resolver)(weir_exec *e, uint64_t effect_id, json_t *result,
                                      const char *error, int64_t now_ms, weir_error *err);

/* Test hooks.  The resolver defaults to weir_exec_resolve; NULL restores it. */
void weir__realtime_set_resolver(weir_realtime *rt, weir_realtime_resolver resolve);
/* Replace the address classifier of the egress guard (default
 * weir__egress_classify_sockaddr), e.g. to treat the test server's loopback
 * address as public.  NULL restores the default. */
void weir__realtime_set_classifier(weir_realtime *rt,
                                   weir_egress_class (*classify)(const struct sockaddr *sa));
/* Outstanding (unsettled, uncancelled) effects and fetches. */
size_t weir__realtime_pending(const weir_realtime *rt);

/* ---------------------------------------------------------- shared parts */

typedef struct rt_http rt_http;

typedef struct rt_op {
    weir_realtime *rt;
    weir_exec *exec;
    const void *owner;         /* a performed invoke: the execution it is for (exec stays NULL) */
    uint64_t id;
    weir_effect_kind kind;
    struct rt_op *prev, *next; /* rt->ops */
    struct rt_op *hnext;       /* hash chain */
    uv_timer_t timer;          /* the timer effect, or the deferred failure */
    int64_t due_ms;            /* the timer effect: when it is due by weir_realtime_now */
    char *deferred_error;      /* resolve with this when `timer` fires */
    rt_http *http;             /* http effects */
    weir_realtime_fetch_done done; /* a fetch: settles here, not in an execution */
    void *done_ud;
    uint64_t host_call;  /* an invoke in the component host, 0 once answered */
    json_t *oneway;      /* a fire-and-forget invoke (cleanup): its payload; exec NULL, id 0 */
} rt_op;

typedef struct rt_socket rt_socket;

struct weir_realtime {
    uv_loop_t *loop;
    bool allow_private;
    char *allowlist; /* NULL: any host */
    int max_redirects;
    size_t max_response_bytes;
    void (*log)(void *ud, const weir_effect *eff);
    void *log_ud;
    weir_host *host; /* invoke effects; NULL: they fail */
    weir_realtime_resolver resolve;
    weir_egress_class (*classify)(const struct sockaddr *sa);

    rt_op *ops; /* every outstanding effect */
    rt_op **buckets;
    size_t nbuckets, count;
    uint64_t last_fetch; /* the id of the last fetch started */

    CURLM *multi;
    uv_timer_t curl_timer;
    rt_socket *sockets; /* poll handles of the sockets curl watches */

    unsigned open_handles; /* uv handles not yet closed; rt is freed at 0 once destroyed */
    bool destroyed;
};

/* Take op out of the table and free it (handles closed asynchronously). */
void weir__rt_op_release(rt_op *op);
/* op leaves the table, then the resolver (or a fetch's done) is called:
 * result BORROWED (NULL is null), error non-NULL marks a failure.
 * WEIR_ESTALE is ignored. */
void weir__rt_settle(rt_op *op, json_t *result, const char *error);
/* Resolve op with `error` on the next loop iteration (never synchronously). */
void weir__rt_defer_error(rt_op *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Every uv handle rt owns counts in rt->open_handles from init; its close
 * callback calls this, which frees rt once destroyed and the last handle has
 * closed. */
void weir__rt_handle_closed(weir_realtime *rt);

/* realtime_http.c */
int weir__rt_http_init(weir_realtime *rt);
/* Stop watching sockets, curl_multi_cleanup, close curl handles. */
void weir__rt_http_fini(weir_realtime *rt);
/* Start the http effect op (payload BORROWED); failures are deferred.
 * idempotency_key (may be NULL): sent as Idempotency-Key unless the
 * payload's headers name one. */
void weir__rt_http_start(rt_op *op, json_t *payload, const char *idempotency_key);
/* Stop the transfer (nothing more happens on the network); the state stays
 * readable until weir__rt_http_free. */
void weir__rt_http_abort(rt_op *op);
/* Free what weir__rt_http_start allocated (from the op's close callback). */
void weir__rt_http_free(rt_op *op);

#endif
