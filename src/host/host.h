/*
 * Internals of the component host (weir_host_* in weir.h), shared by host.c
 * (calls, instances, the queue, the public API) and host_proc.c (one Node.js
 * process: spawn, pipes, lines, time limit, exit).
 *
 * Invariants:
 *  - A call is in exactly one place until it completes or is cancelled: the
 *    ready queue (it may be sent now), parked behind the head of its
 *    instance (an earlier call of the instance is queued or in flight), or
 *    in flight in one process (proc->call).  Every live call is also in
 *    h->calls (for cancel and destroy).
 *  - An instance record exists while it has calls; its head is the call
 *    that is in flight or in the ready queue, the others are parked.
 *  - A process is in h->procs from spawn until it is killed or exits;
 *    after that it only waits for its handles to close.  It holds one call
 *    at a time and only once it said it is ready.
 *  - done callbacks are only called from loop callbacks (never from inside
 *    a public function), after the call left every list; code that goes on
 *    after calling one checks h->destroyed.
 */
#ifndef WEIR_HOST_HOST_H
#define WEIR_HOST_HOST_H
#include <uv.h>

#include "weir/weir.h"

typedef struct hproc hproc;
typedef struct hinst hinst;

enum { CALL_READY = 1, CALL_PARKED, CALL_FLIGHT, CALL_DEFERRED };

typedef struct hcall {
    uint64_t id;
    json_t *req;    /* the call (invoke) or {key, source} (load) */
    bool load;
    bool cancelled; /* in flight, cancelled: its answer is thrown away */
    bool resent;    /* the process had dropped the component: sent again with the source */
    bool sent_source; /* the source went with it: the process has the component after an answer */
    int where;        /* CALL_READY, CALL_PARKED, CALL_FLIGHT or CALL_DEFERRED */
    weir_host_done done;
    void *ud;
    hinst *inst;                /* NULL: not serialised */
    struct hcall *inext;        /* the instance's calls */
    struct hcall *qprev, *qnext; /* the ready queue */
    bool queued;                /* in the ready queue */
    struct hcall *aprev, *anext; /* h->calls */
    hproc *proc;                /* in flight there */
    char *fail;                 /* a deferred failure (h->deferred) */
    struct hcall *dnext;
} hcall;

struct hinst {
    char *key;
    json_t *state; /* what its last answered call left, or NULL */
    hcall *head, *tail;
    hinst *hnext;
};

#define HOST_BUCKETS 256

struct hproc {
    weir_host *h;
    uv_process_t process;
    uv_pipe_t in, out, err;
    uv_timer_t timer; /* the startup limit, then the time limit of the call in flight */
    unsigned open_handles;
    bool ready, killed, exited, err_eof;
    int64_t exit_status;
    int term_signal;
    hcall *call;
    uint64_t sent_ms; /* loop time the call was sent */
    char *line;       /* stdout bytes not yet ending in a newline */
    size_t line_len, line_cap;
    char errtail[2048]; /* the last bytes of stderr */
    size_t errtail_len;
    char **loaded; /* cache keys this process has compiled */
    size_t n_loaded, cap_loaded;
    hproc *next;
};

struct weir_host {
    uv_loop_t *loop;
    unsigned pool_size;
    int64_t timeout_ms;
    unsigned memory_mb;
    size_t max_queue;
    char *node;
    const char *script; /* host.js, embedded at build time */
    char rbuf[65536];   /* stdout/stderr reads land here, one read at a time */

    hproc *procs;
    unsigned n_procs, n_starting;
    hcall *calls;           /* every live call */
    hcall *qhead, *qtail;   /* the ready queue */
    size_t n_ready;
    size_t waiting;         /* live calls not in flight */
    hinst *insts[HOST_BUCKETS];
    uint64_t next_id;
    hcall *deferred, *deferred_tail; /* failures to deliver from the loop */
    uv_timer_t defer_timer;
    unsigned open_handles; /* defer_timer and one per process not yet freed: h is freed at 0 once destroyed */
    bool destroyed;
    weir_host_stats stats;
};

/* host_proc.c */
/* Start a process (it joins h->procs and says when it is ready).  A failure
 * to spawn is returned with its message in err (the caller fails what
 * waits); 0 otherwise. */
int weir__host_spawn(weir_host *h, weir_error *err);
/* Send call c to ready, idle process p. */
void weir__host_send(hproc *p, hcall *c);
/* Kill p (if still running) and take it out of the pool; its handles close
 * once it has exited.  Its call, if any, is left to the caller. */
void weir__host_kill(hproc *p);

/* host.c: called by host_proc.c */
/* p answered its call (answer BORROWED), or the call failed (answer NULL,
 * error set).  p->call is cleared first. */
void weir__host_complete(hproc *p, json_t *answer, const char *error);
/* p became ready, or left the pool: send what waits. */
void weir__host_pump(weir_host *h);
/* p exited before it was ready: every call waiting for a process fails with
 * the reason (starting another would fail the same way). */
void weir__host_start_failed(weir_host *h, const char *reason);
void weir__host_handle_closed(weir_host *h);
/* c (in flight, or just taken from the ready queue) fails with msg, told
 * from the loop: it leaves its instance now, so the next call of the
 * instance may go. */
void weir__host_defer_fail(weir_host *h, hcall *c, const char *msg);

#endif
