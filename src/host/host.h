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

/* ISOLATE_MEMORY_MB is the JavaScript heap (--max-old-space-size); the
 * process as a whole may allocate that much plus this beyond what it held
 * when it said it was ready (young generation, code, stacks, I/O buffers of
 * Node.js itself, and whatever user code allocates outside the heap:
 * ArrayBuffers, WebAssembly memories).  Measured on Node 20: a process
 * whose heap runs out holds 40-90 MB beyond the heap. */
#define HOST_NODE_OVERHEAD_MB 128

struct hproc {
    weir_host *h;
    uv_process_t process;
    uv_pipe_t in, out, err;
    uv_timer_t timer; /* the startup limit, then the time limit of the call in flight */
    unsigned open_handles;
    bool ready, killed, exited, err_eof;
    bool oom;           /* it ran out of memory: said so, or died saying so */
    int64_t exit_status;
    int term_signal;
    int node_pid; /* the node process its ready line named, checked to be
                     process.pid or a descendant of it; 0 before ready */
    hcall *call;
    uint64_t sent_ms; /* loop time the call was sent */
    char *line;       /* stdout bytes not yet ending in a newline */
    size_t line_len, line_cap;
    char errhead[1024]; /* the first bytes of stderr: V8's FATAL line comes early, before a long stack */
    size_t errhead_len;
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
    char *node;                  /* the executable: found on PATH, or as given */
    char node_version[40];       /* "v20.20.2" (room for three ints); "" when it could not be told */
    const char *permission_flag; /* the one that version accepts (static) */
    bool strips_types;           /* that version strips TypeScript itself (module.stripTypeScriptTypes) */
    char *typescript;            /* the typescript package's folder, or NULL (not needed, or not found) */
    char *ts_read;               /* "--allow-fs-read=FOLDER/\*" (Node 20 takes the wildcard), or NULL */
    char *problem;               /* NULL, or why no process can run: every call fails with it */
    char flags[512];             /* the flags every process gets, for weir_host_node_get */
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

/* host_node.c */
/* "v20.20.2\n" (the "v" optional) into its numbers: 0, or -1. */
int weir__host_node_version(const char *text, int *major, int *minor, int *patch);
/* The permission flag Node.js major.minor accepts: "--experimental-permission"
 * (20, 21, 22.0-22.12, 23.0-23.4) or "--permission" (22.13+, 23.5+, 24 and
 * later, which refuse the other); NULL before 20 (no usable permission
 * model: user components must not run there). */
const char *weir__host_permission_flag(int major, int minor);
/* name (with a slash: as given) or the first regular executable file
 * `name` in the colon-separated path (NULL or empty: /usr/local/bin:
 * /usr/bin:/bin; only absolute entries are searched: empty and relative
 * ones are skipped) into buf.  0, or -1. */
int weir__host_find_node(const char *name, const char *path, char *buf, size_t cap);
/* Fill h->node, h->node_version and h->permission_flag for `name` (found
 * on the server's PATH, asked its version), or h->problem: a message
 * starting "user components need Node.js 20 or newer: " saying what was
 * found.  Blocks for as long as `node --version` takes (bounded).  0 or
 * WEIR_ENOMEM. */
int weir__host_node_setup(weir_host *h, const char *name);

/* Does Node.js major.minor strip TypeScript itself (module.stripTypeScriptTypes:
 * 22.13+, 23.2+)? */
bool weir__host_node_strips_types(int major, int minor);
/* The folder of the typescript package: `given` when it holds one (else
 * NULL), or the first of the usual places that does.  dir: the folder of
 * the node executable (its npm prefix is one level up).  Into buf; 0, or -1. */
int weir__host_find_typescript(const char *given, const char *node_dir, char *buf, size_t cap);
/* Fill h->typescript and h->ts_read (after weir__host_node_setup) unless
 * h's Node.js strips types itself.  0 or WEIR_ENOMEM. */
int weir__host_typescript_setup(weir_host *h, const char *given);

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

/* "the component host ran out of memory: <said> (the limit is ...)" into buf. */
void weir__host_oom_message(const weir_host *h, const char *said, char *buf, size_t cap);

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
