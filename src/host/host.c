/*
 * The component host (weir.h, SPEC §2.3): calls, the instances that
 * serialise them, the queue, the pool.  One process is in host_proc.c.
 * See host.h for the invariants.
 */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "host/host.h"

#define DEFAULT_POOL 10
#define DEFAULT_TIMEOUT_MS 1000
#define DEFAULT_MEMORY_MB 128
#define DEFAULT_QUEUE 1000

extern const char weir__host_js[]; /* src/host/host.js, generated at build time */

/* ----------------------------------------------------------------- lists */

static void all_link(weir_host *h, hcall *c) {
    c->aprev = NULL;
    c->anext = h->calls;
    if (h->calls) h->calls->aprev = c;
    h->calls = c;
}

static void all_unlink(weir_host *h, hcall *c) {
    if (c->aprev) c->aprev->anext = c->anext;
    else h->calls = c->anext;
    if (c->anext) c->anext->aprev = c->aprev;
    c->aprev = c->anext = NULL;
}

static void ready_push(weir_host *h, hcall *c) {
    c->where = CALL_READY;
    c->qnext = NULL;
    c->qprev = h->qtail;
    if (h->qtail) h->qtail->qnext = c;
    else h->qhead = c;
    h->qtail = c;
    h->n_ready++;
}

static void ready_unlink(weir_host *h, hcall *c) {
    if (c->qprev) c->qprev->qnext = c->qnext;
    else h->qhead = c->qnext;
    if (c->qnext) c->qnext->qprev = c->qprev;
    else h->qtail = c->qprev;
    c->qprev = c->qnext = NULL;
    h->n_ready--;
}

static void call_free(hcall *c) {
    json_decref(c->req);
    weir__free(c->fail);
    weir__free(c);
}

/* ------------------------------------------------------------- instances */

static unsigned bucket(const char *key) {
    uint32_t x = 2166136261u;
    for (const unsigned char *s = (const unsigned char *)key; *s; s++) x = (x ^ *s) * 16777619u;
    return x % HOST_BUCKETS;
}

static hinst *inst_find(weir_host *h, const char *key) {
    for (hinst *i = h->insts[bucket(key)]; i; i = i->hnext)
        if (strcmp(i->key, key) == 0) return i;
    return NULL;
}

static void inst_free(weir_host *h, hinst *in) {
    for (hinst **pp = &h->insts[bucket(in->key)]; *pp; pp = &(*pp)->hnext)
        if (*pp == in) {
            *pp = in->hnext;
            break;
        }
    json_decref(in->state);
    weir__free(in->key);
    weir__free(in);
}

/* Add c behind the calls of its instance: ready at once when it is the
 * only one, parked otherwise.  WEIR_ENOMEM. */
static int inst_add(weir_host *h, hcall *c, const char *key) {
    hinst *in = inst_find(h, key);
    if (!in) {
        if (!(in = weir__calloc(1, sizeof *in)) || !(in->key = weir__strdup(key))) {
            weir__free(in);
            return WEIR_ENOMEM;
        }
        unsigned b = bucket(key);
        in->hnext = h->insts[b];
        h->insts[b] = in;
    }
    c->inst = in;
    if (in->tail) {
        in->tail->inext = c;
        in->tail = c;
        c->where = CALL_PARKED;
    } else {
        in->head = in->tail = c;
        ready_push(h, c);
    }
    return 0;
}

/* c leaves its instance.  When it was the head, the next call becomes
 * ready; state (BORROWED, or NULL: unchanged) is what it answered.  The
 * instance goes when its last call does. */
static void inst_remove(weir_host *h, hcall *c, json_t *state) {
    hinst *in = c->inst;
    if (!in) return;
    c->inst = NULL;
    bool head = in->head == c;
    hcall *prev = NULL;
    for (hcall *x = in->head; x && x != c; x = x->inext) prev = x;
    if (prev) prev->inext = c->inext;
    else in->head = c->inext;
    if (in->tail == c) in->tail = prev;
    c->inext = NULL;
    if (json_is_object(state)) {
        json_decref(in->state);
        in->state = json_incref(state);
    }
    if (!in->head) {
        inst_free(h, in);
        return;
    }
    if (head && in->head->where == CALL_PARKED) ready_push(h, in->head); /* still waiting, now for a process */
}

/* A cancel breaks the chain of answered states: what waits behind it
 * starts from the state its own request carries. */
static void inst_forget_state(hinst *in) {
    if (!in) return;
    json_decref(in->state);
    in->state = NULL;
}

/* ------------------------------------------------------------ completion */

static void on_deferred(uv_timer_t *t) {
    weir_host *h = t->data;
    while (h->deferred && !h->destroyed) {
        hcall *c = h->deferred;
        h->deferred = c->dnext;
        if (!h->deferred) h->deferred_tail = NULL;
        all_unlink(h, c);
        h->stats.failures++;
        if (c->done) c->done(c->ud, NULL, c->fail ? c->fail : "out of memory");
        call_free(c);
    }
}

void weir__host_defer_fail(weir_host *h, hcall *c, const char *msg) {
    if (c->where == CALL_READY) {
        ready_unlink(h, c);
        h->waiting--;
    }
    inst_remove(h, c, NULL);
    c->where = CALL_DEFERRED;
    weir__free(c->fail);
    c->fail = weir__strdup(msg); /* NULL reads "out of memory" */
    c->dnext = NULL;
    if (h->deferred_tail) h->deferred_tail->dnext = c;
    else h->deferred = c;
    h->deferred_tail = c;
    uv_timer_start(&h->defer_timer, on_deferred, 0, 0);
}

void weir__host_complete(hproc *p, json_t *answer, const char *error) {
    weir_host *h = p->h;
    hcall *c = p->call;
    if (!c) return;
    p->call = NULL;
    c->proc = NULL;
    if (error) h->stats.failures++;
    else h->stats.calls++;
    inst_remove(h, c, answer && !c->cancelled ? json_object_get(answer, "state") : NULL);
    all_unlink(h, c);
    if (!c->cancelled && c->done) c->done(c->ud, answer, error);
    call_free(c);
    weir__host_pump(h); /* p may be free now, and the instance's next call ready */
}

void weir__host_start_failed(weir_host *h, const char *reason) {
    /* What waits for a process fails; calls parked behind an instance
     * become ready as the one before them fails, and fail too. */
    while (h->qhead) weir__host_defer_fail(h, h->qhead, reason);
}

void weir__host_pump(weir_host *h) {
    if (h->destroyed) return;
    if (h->problem) { /* no process could run: say why to every call */
        weir__host_start_failed(h, h->problem);
        return;
    }
    while (h->qhead) {
        hproc *idle = NULL;
        for (hproc *p = h->procs; p && !idle; p = p->next)
            if (p->ready && !p->call && !p->killed) idle = p;
        if (!idle) {
            if (h->n_starting >= h->n_ready || h->n_procs >= h->pool_size) return;
            weir_error err;
            if (weir__host_spawn(h, &err) != 0) {
                weir__host_start_failed(h, err.message);
                return;
            }
            continue;
        }
        hcall *c = h->qhead;
        ready_unlink(h, c);
        h->waiting--;
        weir__host_send(idle, c);
    }
}

void weir__host_handle_closed(weir_host *h) {
    if (--h->open_handles == 0 && h->destroyed) {
        weir__free(h->typescript);
        weir__free(h->ts_read);
        weir__free(h->node);
        weir__free(h->problem);
        weir__free(h);
    }
}

static void defer_timer_closed(uv_handle_t *hd) { weir__host_handle_closed(hd->data); }

/* ------------------------------------------------------------ public API */

int weir_host_create(struct uv_loop_s *loop, const weir_host_options *opts, weir_host **out, weir_error *err) {
    if (!out) return weir__error(err, WEIR_EINVAL, "weir_host_create needs somewhere to put the host");
    *out = NULL;
    if (!loop) return weir__error(err, WEIR_EINVAL, "the component host needs a libuv loop");
    weir_host *h = weir__calloc(1, sizeof *h);
    if (!h) return weir__error(err, WEIR_ENOMEM, "out of memory");
    h->loop = loop;
    h->pool_size = opts && opts->pool_size ? opts->pool_size : DEFAULT_POOL;
    h->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    h->memory_mb = opts && opts->memory_mb ? opts->memory_mb : DEFAULT_MEMORY_MB;
    h->max_queue = opts && opts->max_queue ? opts->max_queue : DEFAULT_QUEUE;
    h->script = weir__host_js;
    if (weir__host_node_setup(h, opts && opts->node && opts->node[0] ? opts->node : "node") ||
        weir__host_typescript_setup(h, opts ? opts->typescript : NULL)) {
        weir__free(h->node);
        weir__free(h->problem);
        weir__free(h->typescript);
        weir__free(h);
        return weir__error(err, WEIR_ENOMEM, "out of memory");
    }
    snprintf(h->flags, sizeof h->flags,
             "--max-old-space-size=%u %s%s%.160s --experimental-vm-modules --disallow-code-generation-from-strings",
             h->memory_mb, h->permission_flag ? h->permission_flag : "", h->ts_read ? " " : "",
             h->ts_read ? h->ts_read : "");
    uv_timer_init(loop, &h->defer_timer);
    h->defer_timer.data = h;
    h->open_handles = 1;
    *out = h;
    return 0;
}

void weir_host_destroy(weir_host *h) {
    if (!h || h->destroyed) return;
    h->destroyed = true;
    h->open_handles++; /* h lives to the end of this function at least */
    while (h->procs) {
        hproc *p = h->procs;
        p->call = NULL; /* freed below */
        weir__host_kill(p);
    }
    while (h->calls) {
        hcall *c = h->calls;
        all_unlink(h, c);
        call_free(c);
    }
    for (unsigned b = 0; b < HOST_BUCKETS; b++)
        while (h->insts[b]) {
            hinst *in = h->insts[b];
            h->insts[b] = in->hnext;
            json_decref(in->state);
            weir__free(in->key);
            weir__free(in);
        }
    h->qhead = h->qtail = h->deferred = h->deferred_tail = NULL;
    h->n_ready = h->waiting = 0;
    uv_timer_stop(&h->defer_timer);
    uv_close((uv_handle_t *)&h->defer_timer, defer_timer_closed);
    weir__host_handle_closed(h);
}

void weir_host_key(const char *id, const char *version, const char *source, char *buf, size_t cap) {
    uint64_t x = 14695981039346656037ull;
    for (const unsigned char *s = (const unsigned char *)(source ? source : ""); *s; s++)
        x = (x ^ *s) * 1099511628211ull;
    snprintf(buf, cap, "%s@%s#%016llx", id ? id : "", version ? version : "", (unsigned long long)x);
}

static int add_call(weir_host *h, json_t *req, bool load, const char *instance, weir_host_done done, void *ud,
                    uint64_t *id, weir_error *err) {
    if (h->waiting >= h->max_queue) {
        json_decref(req);
        return weir__error(err, WEIR_EFULL,
                           "the component host is busy: %zu calls wait for one of its %u processes already "
                           "(ISOLATE_QUEUE, ISOLATE_POOL_SIZE); retry later",
                           h->waiting, h->pool_size);
    }
    hcall *c = weir__calloc(1, sizeof *c);
    if (!c) {
        json_decref(req);
        return weir__error(err, WEIR_ENOMEM, "out of memory");
    }
    c->id = ++h->next_id;
    c->req = req;
    c->load = load;
    c->done = done;
    c->ud = ud;
    if (instance) {
        if (inst_add(h, c, instance)) {
            call_free(c);
            return weir__error(err, WEIR_ENOMEM, "out of memory");
        }
    } else {
        ready_push(h, c);
    }
    all_link(h, c);
    h->waiting++;
    *id = c->id;
    weir__host_pump(h);
    return 0;
}

int weir_host_invoke(weir_host *h, json_t *call, const char *instance, weir_host_done done, void *ud, uint64_t *id,
                     weir_error *err) {
    if (id) *id = 0;
    if (!h || !done || !id) return weir__error(err, WEIR_EINVAL, "weir_host_invoke needs a host, done and id");
    if (h->destroyed) return weir__error(err, WEIR_ESTATE, "the component host has been destroyed");
    const char *hook = json_string_value(json_object_get(call, "hook"));
    if (!json_is_string(json_object_get(call, "key")) || !json_is_string(json_object_get(call, "source")) || !hook ||
        (strcmp(hook, "initialize") != 0 && strcmp(hook, "process") != 0 && strcmp(hook, "cleanup") != 0))
        return weir__error(err, WEIR_EINVAL,
                           "an invoke call needs key, source and hook (initialize, process or cleanup)");
    return add_call(h, json_incref(call), false, instance, done, ud, id, err);
}

int weir_host_load(weir_host *h, const char *key, const char *source, weir_host_done done, void *ud, uint64_t *id,
                   weir_error *err) {
    return weir_host_load_as(h, key, "javascript", source, done, ud, id, err);
}

int weir_host_load_as(weir_host *h, const char *key, const char *type, const char *source, weir_host_done done,
                      void *ud, uint64_t *id, weir_error *err) {
    if (id) *id = 0;
    if (!h || !key || !type || !source || !done || !id)
        return weir__error(err, WEIR_EINVAL, "weir_host_load needs a host, key, type, source, done and id");
    if (h->destroyed) return weir__error(err, WEIR_ESTATE, "the component host has been destroyed");
    json_t *req = json_pack("{s:s,s:s,s:s}", "key", key, "type", type, "source", source);
    if (!req) return weir__error(err, WEIR_ENOMEM, "out of memory");
    return add_call(h, req, true, NULL, done, ud, id, err);
}

int weir_host_cancel(weir_host *h, uint64_t id) {
    if (!h || h->destroyed || !id) return WEIR_ESTALE;
    hcall *c = h->calls;
    while (c && c->id != id) c = c->anext;
    if (!c || c->cancelled) return WEIR_ESTALE;
    inst_forget_state(c->inst);
    switch (c->where) {
    case CALL_FLIGHT: c->cancelled = true; return 0; /* it runs to its end; the answer is dropped */
    case CALL_READY:
        ready_unlink(h, c);
        h->waiting--;
        break;
    case CALL_PARKED: h->waiting--; break;
    case CALL_DEFERRED:
        for (hcall **pp = &h->deferred, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->dnext)
            if (*pp == c) {
                *pp = c->dnext;
                if (h->deferred_tail == c) h->deferred_tail = prev;
                break;
            }
        break;
    }
    inst_remove(h, c, NULL);
    all_unlink(h, c);
    call_free(c);
    weir__host_pump(h);
    return 0;
}

void weir_host_stats_get(const weir_host *h, weir_host_stats *out) {
    *out = h->stats;
    out->processes = h->n_procs;
    out->busy = 0;
    for (hproc *p = h->procs; p; p = p->next)
        if (p->call) out->busy++;
    out->queued = h->waiting;
}

void weir_host_node_get(const weir_host *h, weir_host_node *out) {
    *out = (weir_host_node){.path = h->node, .version = h->node_version[0] ? h->node_version : NULL,
                            .problem = h->problem};
    if (h->problem) return;
    out->flags = h->flags;
    out->typescript = h->strips_types ? "node" : h->typescript;
#ifdef __linux__
    out->memory_mb = (uint64_t)h->memory_mb + HOST_NODE_OVERHEAD_MB;
#endif
}
