/*
 * The event hub (see hub.h): clients, subscriptions, per-execution history
 * rings, slow-subscriber cut-off, throttled metrics:update.
 *
 * Invariants:
 *  - a feed's ring holds every event built with seq >= from, in order
 *    (seqs no event carries are the core's widening skips); anything that
 *    breaks the run (a quiet spell, an event lost to out-of-memory) moves
 *    `from` past it;
 *  - kind_from[k] is the seq since which kind k has been built without a
 *    break (UINT64_MAX while it is not): `since` is answered from the ring
 *    only when every kind the subscriber wants was built since then;
 *  - the execution builds exactly f->mask: the union of the subscribers'
 *    masks, the linger's cheap kinds, or nothing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "service/hub.h"

/* The event kinds (bits of WEIR_EV_ALL). */
#define WEIR_EV_KINDS 16
_Static_assert(WEIR_EV_ALL == (1u << WEIR_EV_KINDS) - 1, "one bit per kind");
/* What a lingering feed still builds: never the kinds that cost per hop. */
#define LINGER_KINDS (WEIR_EV_ALL & ~(WEIR_EV_PER_HOP | WEIR_EV_METRICS))

struct svc_sub {
    svc_client *c;
    svc_feed *f;
    svc_sub *fprev, *fnext; /* the feed's subscribers */
    svc_sub *cnext;         /* the client's subscriptions */
    uint64_t last_seq;      /* the last event queued to it (or passed over: not of its kinds) */
    uint32_t mask;          /* the kinds it asked for (WEIR_EV_*) */
    /* Bytes it may still be sent before its backlog is looked at again
     * (negative: look at the next event), and events before that anyway. */
    int64_t room;
    unsigned unchecked;
    /* rate: at most this many events of the busy kinds (RATED_KINDS) a
     * second (0: no bound); the rest are passed over, counted, and told in
     * an `events:skipped` notice before the next event it is sent, or at
     * the end of the window when no event comes (svc_feed.skipped) */
    uint32_t rate;
    uint32_t in_window;
    uint64_t window_ms;
    uint64_t skipped, skip_from, skip_to;
    /* batch: its events wait in buf as the text of `events`' data,
     * {"executionId":"<id>","events":[<item>,<item>..., without the closing
     * "]}" (room for it is kept); n items (0: nothing waits, and it is not in
     * the hub's list of batched subscribers) */
    bool batch;
    char *buf;
    size_t len, cap;
    size_t n;
    svc_sub *bprev, *bnext; /* the hub's batched subscribers */
};

/* The kinds a subscriber's rate bounds: one per hop or per output; never
 * the execution's own (state, lifecycle, runtime, time). */
#define RATE_WINDOW_MS 100
#define RATED_KINDS (WEIR_EV_PER_HOP | WEIR_EV_OUTPUT | WEIR_EV_LOG | WEIR_EV_COMPONENT_ERROR | WEIR_EV_DROPPED)

/* A subscriber's backlog is looked at before an event when the bytes queued
 * since the last look could have taken it past the bound (room), and at
 * least every BACKLOG_CHECK_EVENTS events (what the kernel took meanwhile,
 * and other messages to the client, are then seen too): per event and
 * subscriber, a look costs more than the send. */
#define BACKLOG_CHECK_EVENTS 32
/* What a frame adds to an event's data on any transport, at most: the
 * header, {"event":"<name>","data": ...} or 42["<name>", ...]. */
#define FRAME_OVERHEAD 96

struct svc_feed {
    weir_exec *e; /* NULL once the execution is gone (the timers are closing) */
    svc_hub *h;
    char id[40];  /* the execution's, in notices */
    const svc_feed_ops *ops;
    void *ud;
    svc_sub *subs;
    size_t n_subs;
    svc_evmsg **ring;
    size_t cap, head, n, bytes;
    uint64_t from;      /* every event built with a seq >= from is in the ring */
    uint32_t mask;      /* the kinds the execution builds: the subscribers' union (or the linger's) */
    uint64_t kind_from[WEIR_EV_KINDS]; /* kind i built without a break since this seq (UINT64_MAX: not built) */
    uv_timer_t linger;  /* after a subscriber left: its cheap kinds are kept until it fires */
    uint32_t linger_keep; /* the kinds kept for subscribers that left (LINGER_KINDS), while linger runs */
    uv_timer_t metrics; /* metrics:update, every interval while a subscriber wants it */
    uv_timer_t skipped; /* a rate window after a subscriber's first skip: its notice, if no event took it */
    json_t *metrics_prev; /* the metrics last sent, without uptimeMs */
    svc_arena arena;      /* the /ws frames of its events (hub.h) */
    int open_handles;
};



typedef enum { LEAVE_QUIET, LEAVE_LINGER } leave_mode;

/* ----------------------------------------------------------------- messages */

static void evmsg_unref(svc_evmsg *m) {
    if (!m || --m->refs) return;
    weir_sbuf_unref(m->data);
    weir_sbuf_unref(m->ws_batch);
    weir_sbuf_unref(m->ws_frame);
    weir_sbuf_unref(m->sio.text);
    weir_sbuf_unref(m->sio.frame);
    weir__free(m);
}

/* The JSON text of v in the service's scratch buffer (valid until the next
 * use), or NULL. */
static const char *dump(svc_hub *s, json_t *v, size_t *len) {
    size_t need = json_dumpb(v, s->scratch, s->scratch_cap, JSON_COMPACT | JSON_ENCODE_ANY);
    if (need == 0) return NULL;
    if (need >= s->scratch_cap) {
        char *p = weir__realloc(s->scratch, need + 1024);
        if (!p) return NULL;
        s->scratch = p;
        s->scratch_cap = need + 1024;
        need = json_dumpb(v, s->scratch, s->scratch_cap, JSON_COMPACT | JSON_ENCODE_ANY);
    }
    s->scratch[need] = '\0';
    *len = need;
    return s->scratch;
}

/* Values worth writing out once for many events: long strings, and
 * containers held by more than their event and one message (shared by a
 * fan-out); small values are written out in place. */
#define MEMO_MIN_STRING 4096

static bool memo_worth(const json_t *v) {
    if (json_is_string(v)) return json_string_length(v) >= MEMO_MIN_STRING;
    return (json_is_object(v) || json_is_array(v)) && v->refcount > 2;
}

/* v's JSON text, written out once while events carry the same value one
 * after another (a fan-out's port:emit and output events share it: written
 * out per event, a 5 MB value sent to 60 nodes was 600 MB of writing in one
 * turn of the loop).  Values are not changed once emitted, and the memo
 * holds a reference, so the pointer names the same text. */
static weir_sbuf *memo_text(svc_hub *s, json_t *v) {
    if (s->memo_value == v) return s->memo_text;
    size_t len;
    const char *text = dump(s, v, &len);
    weir_sbuf *b = text ? weir_sbuf_copy(text, len) : NULL;
    if (!b) return NULL;
    json_decref(s->memo_value);
    weir_sbuf_unref(s->memo_text);
    s->memo_value = json_incref(v);
    s->memo_text = b;
    return b;
}

/* data's JSON text with "seq" added as its last member (and a large
 * "value" just before it, from memo_text). */
static weir_sbuf *data_with_seq(svc_hub *s, json_t *data, uint64_t seq) {
    json_t *value = json_object_get(data, "value"), *rest = NULL;
    weir_sbuf *vt = NULL;
    if (value && memo_worth(value) && (vt = memo_text(s, value)) && (rest = json_copy(data)))
        json_object_del(rest, "value"); /* a shallow copy: only the member goes */
    size_t need = json_dumpb(rest ? rest : data, s->scratch, s->scratch_cap, JSON_COMPACT);
    if (need > s->scratch_cap) {
        size_t cap = need + 1024;
        char *p = weir__realloc(s->scratch, cap);
        if (!p) {
            json_decref(rest);
            return NULL;
        }
        s->scratch = p;
        s->scratch_cap = cap;
        need = json_dumpb(rest ? rest : data, s->scratch, s->scratch_cap, JSON_COMPACT);
    }
    json_decref(rest);
    if (need < 2 || s->scratch[need - 1] != '}') return NULL; /* events are objects */
    char tail[40];
    int tl = snprintf(tail, sizeof tail, "%s\"seq\":%llu}", need > 2 || rest ? "," : "", (unsigned long long)seq);
    static const char key[] = "\"value\":";
    size_t vl = rest ? (need > 2 ? 1 : 0) + sizeof key - 1 + vt->len : 0;
    weir_sbuf *b = weir_sbuf_new(need - 1 + vl + (size_t)tl);
    if (!b) return NULL;
    char *at = b->data;
    memcpy(at, s->scratch, need - 1);
    at += need - 1;
    if (rest) {
        if (need > 2) *at++ = ',';
        memcpy(at, key, sizeof key - 1);
        at += sizeof key - 1;
        memcpy(at, vt->data, vt->len);
        at += vt->len;
    }
    memcpy(at, tail, (size_t)tl);
    return b;
}

static svc_evmsg *evmsg_new(svc_hub *s, uint64_t seq, const char *name, json_t *data) {
    svc_evmsg *m = weir__calloc(1, sizeof *m);
    if (!m) return NULL;
    m->refs = 1;
    m->seq = seq;
    m->kind = weir_event_kind(name);
    if (!m->kind) m->kind = WEIR_EV_ALL;
    snprintf(m->name, sizeof m->name, "%s", name);
    if (!(m->data = data_with_seq(s, data, seq))) {
        weir__free(m);
        return NULL;
    }
    return m;
}

/* ------------------------------------------------------------------ the hub */

void svc_hub_init(svc_hub *h, uv_loop_t *loop, const svc_hub_config *cfg, const svc_hub_ops *ops, void *ud) {
    *h = (svc_hub){.loop = loop, .cfg = *cfg, .ops = ops, .ud = ud};
}

static void hub_log(svc_hub *h, weir_log_level level, json_t *fields, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void hub_log(svc_hub *h, weir_log_level level, json_t *fields, const char *fmt, ...) {
    if (!h->ops->log) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    h->ops->log(h->ud, level, fields, msg);
}

/* ------------------------------------------------------------------ batches */

/* What a batch adds around its items: {"executionId":"<id>","events":[ and
 * ]}, and around an event's data: {"event":"<name>","data": and }. */
#define BATCH_TAIL "]}"
#define ITEM_OVERHEAD 20

static void batch_unlist(svc_sub *sub) {
    svc_hub *h = sub->f->h;
    if (sub->bprev) sub->bprev->bnext = sub->bnext;
    else if (h->batched == sub) h->batched = sub->bnext;
    if (sub->bnext) sub->bnext->bprev = sub->bprev;
    sub->bprev = sub->bnext = NULL;
}

/* Send what waits in sub's batch (nothing when nothing waits). */
static void batch_send(svc_sub *sub) {
    if (!sub->n) return;
    batch_unlist(sub);
    svc_client *c = sub->c;
    memcpy(sub->buf + sub->len, BATCH_TAIL, sizeof BATCH_TAIL - 1); /* room was kept */
    size_t len = sub->len + sizeof BATCH_TAIL - 1;
    sub->len = sub->n = 0;
    if (c->conn && c->ops->emit(c->conn, "events", sub->buf, len) == 0) c->hub->batches_sent++;
}

/* Forget what waits in sub's batch (its connection is gone) and its buffer. */
static void batch_free(svc_sub *sub) {
    if (sub->n) batch_unlist(sub);
    weir__free(sub->buf);
    sub->buf = NULL;
    sub->len = sub->cap = sub->n = 0;
}

/* Send what waits in c's batches: before anything else goes to c. */
static void batches_out(svc_client *c) {
    for (svc_sub *sub = c->subs; sub; sub = sub->cnext) batch_send(sub);
}

static void batch_fire(uv_timer_t *t) {
    svc_hub *h = t->data;
    while (h->batched) batch_send(h->batched);
}

/* Add {"event":name,"data":data} to sub's batch, sending the batch first
 * when it would pass batch_bytes and at once when it is full; the first
 * item of a batch sees that it goes within batch_ms.  WEIR_ENOMEM. */
static int batch_add(svc_sub *sub, const char *name, const char *data, size_t len) {
    svc_hub *h = sub->f->h;
    size_t nl = strlen(name), item = ITEM_OVERHEAD + nl + len;
    size_t head = 32 + strlen(sub->f->id); /* {"executionId":"<id>","events":[ */
    if (sub->n && sub->len + 1 + item + sizeof BATCH_TAIL - 1 > h->cfg.batch_bytes) batch_send(sub);
    size_t need = (sub->n ? sub->len + 1 : head) + item + sizeof BATCH_TAIL;
    if (need > sub->cap) {
        size_t cap = need > h->cfg.batch_bytes ? need : h->cfg.batch_bytes + 1;
        char *p = weir__realloc(sub->buf, cap);
        if (!p) return WEIR_ENOMEM;
        sub->buf = p;
        sub->cap = cap;
    }
    char *at;
    if (sub->n) {
        at = sub->buf + sub->len;
        *at++ = ',';
    } else {
        at = sub->buf + snprintf(sub->buf, sub->cap, "{\"executionId\":\"%s\",\"events\":[", sub->f->id);
    }
    memcpy(at, "{\"event\":\"", 10);
    memcpy(at + 10, name, nl);
    memcpy(at + 10 + nl, "\",\"data\":", 9);
    memcpy(at + 19 + nl, data, len);
    at[19 + nl + len] = '}';
    sub->len = (size_t)(at + item - sub->buf);
    if (sub->n++ == 0) {
        sub->bprev = NULL;
        sub->bnext = h->batched;
        if (h->batched) h->batched->bprev = sub;
        h->batched = sub;
        if (!h->batch_timer) {
            if (!(h->batch_timer = weir__malloc(sizeof *h->batch_timer))) {
                batch_send(sub);
                return 0;
            }
            uv_timer_init(h->loop, h->batch_timer);
            h->batch_timer->data = h;
        }
        if (!uv_is_active((uv_handle_t *)h->batch_timer))
            uv_timer_start(h->batch_timer, batch_fire, h->cfg.batch_ms ? h->cfg.batch_ms : 1, 0);
    }
    if (sub->len + sizeof BATCH_TAIL - 1 >= h->cfg.batch_bytes) batch_send(sub);
    return 0;
}

/* ------------------------------------------------------------------ clients */

svc_client *svc_client_new(svc_hub *h, const svc_client_ops *ops, void *conn) {
    svc_client *c = weir__calloc(1, sizeof *c);
    if (!c) return NULL;
    c->hub = h;
    c->ops = ops;
    c->conn = conn;
    c->refs = 1;
    c->linked = true;
    c->next = h->clients;
    if (h->clients) h->clients->prev = c;
    h->clients = c;
    h->n_clients++;
    return c;
}

void svc_client_ref(svc_client *c) { c->refs++; }

void svc_client_unref(svc_client *c) {
    if (c && --c->refs == 0) weir__free(c);
}

static void sub_remove(svc_sub *sub, leave_mode mode);

static void undirty(svc_client *c) {
    if (!c->dirty) return;
    if (c->dprev) c->dprev->dnext = c->dnext;
    else c->hub->dirty = c->dnext;
    if (c->dnext) c->dnext->dprev = c->dprev;
    c->dprev = c->dnext = NULL;
    c->dirty = false;
}

static void flush_fire(uv_timer_t *t) {
    svc_hub *h = t->data;
    while (h->dirty) {
        svc_client *c = h->dirty;
        undirty(c);
        if (c->conn) c->ops->flush(c->conn);
    }
}

/* c was sent an event: see that it is written within flush_ms. */
static void mark_dirty(svc_client *c) {
    svc_hub *h = c->hub;
    if (!c->ops->flush || c->dirty) return;
    if (!h->cfg.flush_ms) return c->ops->flush(c->conn);
    if (!h->flush_timer) {
        if (!(h->flush_timer = weir__malloc(sizeof *h->flush_timer))) return c->ops->flush(c->conn);
        uv_timer_init(h->loop, h->flush_timer);
        h->flush_timer->data = h;
    }
    c->dirty = true;
    c->dprev = NULL;
    c->dnext = h->dirty;
    if (h->dirty) h->dirty->dprev = c;
    h->dirty = c;
    if (!uv_is_active((uv_handle_t *)h->flush_timer)) uv_timer_start(h->flush_timer, flush_fire, h->cfg.flush_ms, 0);
}

static void unlink_client(svc_client *c) {
    svc_hub *h = c->hub;
    if (h->ops->gone) h->ops->gone(h->ud, c);
    while (c->subs) sub_remove(c->subs, LEAVE_LINGER);
    undirty(c);
    if (c->prev) c->prev->next = c->next;
    else h->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->linked = false;
    h->n_clients--;
}

void svc_client_gone(svc_client *c) {
    if (!c->conn) return;
    for (svc_sub *sub = c->subs; sub; sub = sub->cnext) batch_free(sub); /* nowhere to send it */
    if (c->linked) unlink_client(c);
    c->conn = NULL;
    svc_client_unref(c);
}

void svc_client_command(svc_client *c, const char *name, json_t *data, int64_t ack_id) {
    if (c->linked) c->hub->ops->command(c->hub->ud, c, name, data, ack_id);
}

static void timer_freed(uv_handle_t *t) { weir__free(t); }

void svc_hub_free(svc_hub *h) {
    for (svc_client *c = h->clients; c; c = c->next)
        for (svc_sub *sub = c->subs; sub; sub = sub->cnext) batch_free(sub); /* nothing more is sent */
    while (h->clients) unlink_client(h->clients);
    if (h->flush_timer) {
        uv_timer_stop(h->flush_timer);
        uv_close((uv_handle_t *)h->flush_timer, timer_freed);
        h->flush_timer = NULL;
    }
    if (h->batch_timer) {
        uv_timer_stop(h->batch_timer);
        uv_close((uv_handle_t *)h->batch_timer, timer_freed);
        h->batch_timer = NULL;
    }
    weir__free(h->scratch);
    h->scratch = NULL;
    h->scratch_cap = 0;
    json_decref(h->memo_value);
    weir_sbuf_unref(h->memo_text);
    h->memo_value = NULL;
    h->memo_text = NULL;
}

void svc_client_emit(svc_client *c, const char *name, json_t *data) {
    if (!c->conn) return;
    batches_out(c);
    json_t *empty = data ? NULL : json_object();
    size_t len;
    const char *text = dump(c->hub, data ? data : empty, &len);
    if (text) c->ops->emit(c->conn, name, text, len);
    json_decref(empty);
}

void svc_client_reply(svc_client *c, int64_t ack_id, const char *name, json_t *body) {
    if (c->conn && body) {
        batches_out(c);
        if (ack_id >= 0) {
            size_t len;
            const char *text = dump(c->hub, body, &len);
            if (text) c->ops->ack(c->conn, ack_id, text, len);
        } else if (json_object_get(body, "error")) {
            /* the Symbia runtime's clients read `message` */
            json_object_set(body, "message", json_object_get(body, "error"));
            svc_client_emit(c, "error", body);
        } else if (name) {
            svc_client_emit(c, name, body);
        }
    }
    json_decref(body);
}

size_t svc_client_backlog(const svc_client *c) { return c->conn ? c->ops->backlog(c->conn) : 0; }

void svc_hub_close_all(svc_hub *h) {
    for (svc_client *c = h->clients, *next; c; c = next) {
        next = c->next; /* close may call svc_client_gone at once */
        c->ops->close(c->conn);
    }
}

/* -------------------------------------------------------------------- feeds */

/* The next seq an event built from now on can carry. */
static uint64_t next_seq(const svc_feed *f) { return weir_exec_seq(f->e) + 1; }

static void ring_clear(svc_feed *f) {
    for (size_t i = 0; i < f->n; i++) evmsg_unref(f->ring[(f->head + i) % f->cap]);
    f->head = f->n = f->bytes = 0;
    f->from = f->e ? next_seq(f) : 0;
}

static svc_evmsg *ring_at(const svc_feed *f, size_t i) { return f->ring[(f->head + i) % f->cap]; }

static void ring_pop(svc_feed *f) {
    svc_evmsg *m = f->ring[f->head];
    f->bytes -= m->data->len;
    f->from = m->seq + 1;
    evmsg_unref(m);
    f->head = (f->head + 1) % f->cap;
    f->n--;
}

/* Keep m (a reference is taken), dropping the oldest beyond the bounds. */
static void ring_push(svc_feed *f, svc_evmsg *m) {
    if (f->cap == 0) {
        f->from = m->seq + 1;
        return;
    }
    size_t max_bytes = f->h->cfg.backlog_bytes;
    while (f->n && (f->n == f->cap || f->bytes + m->data->len > max_bytes)) ring_pop(f);
    f->ring[(f->head + f->n) % f->cap] = m;
    m->refs++;
    f->n++;
    f->bytes += m->data->len;
}

static void metrics_fire(uv_timer_t *t);

/* Build exactly the kinds in mask from now on.  A kind that starts being
 * built is whole from the next seq on (the core skips a seq on widening, so
 * nothing before looks contiguous); one that stops is whole from nowhere. */
static void set_mask(svc_feed *f, uint32_t mask) {
    if (!f->e) return;
    svc_hub *h = f->h;
    uint32_t old = f->mask;
    /* metrics:update is the hub's own: the core is not asked for it, so a
     * dashboard joining puts no gap in the others' numbers */
    uint32_t core = mask & ~WEIR_EV_METRICS;
    if (mask != old || weir_exec_listened(f->e) != core) {
        weir_exec_listen_mask(f->e, core);
        f->mask = mask;
        uint64_t next = next_seq(f);
        for (unsigned k = 0; k < WEIR_EV_KINDS; k++) {
            uint32_t bit = 1u << k;
            if (!(mask & bit)) f->kind_from[k] = UINT64_MAX;
            else if (!(old & bit)) f->kind_from[k] = next;
        }
        if (!mask) ring_clear(f); /* nothing is built: the history ends here */
    }
    bool metrics = h->cfg.metrics && (mask & WEIR_EV_METRICS) && f->n_subs;
    if (!metrics) {
        uv_timer_stop(&f->metrics);
        json_decref(f->metrics_prev);
        f->metrics_prev = NULL;
    } else if (!uv_is_active((uv_handle_t *)&f->metrics)) {
        uint64_t every = h->cfg.metrics_interval_ms ? h->cfg.metrics_interval_ms : 1;
        uv_timer_start(&f->metrics, metrics_fire, every, every);
    }
}

/* The union of what the subscribers asked for. */
static uint32_t subs_mask(const svc_feed *f) {
    uint32_t m = 0;
    for (const svc_sub *sub = f->subs; sub; sub = sub->fnext) m |= sub->mask;
    return m;
}

/* Nobody listens any more: stop building events, forget the history. */
static void go_quiet(svc_feed *f) {
    uv_timer_stop(&f->linger);
    f->linger_keep = 0;
    set_mask(f, 0);
}

/* What the execution builds: what its subscribers ask for, and, for a
 * while, the cheap kinds of those that left (a reconnect with `since`). */
static uint32_t want_mask(const svc_feed *f) { return subs_mask(f) | f->linger_keep; }

static void linger_done(uv_timer_t *t) {
    svc_feed *f = t->data;
    f->linger_keep = 0;
    if (f->n_subs == 0) go_quiet(f);
    else set_mask(f, want_mask(f));
}

static void feed_closed(uv_handle_t *h) {
    svc_feed *f = h->data;
    if (--f->open_handles == 0) {
        weir__free(f->ring);
        weir__free(f);
    }
}

svc_feed *svc_feed_new(svc_hub *h, weir_exec *e, const char *exec_id, const svc_feed_ops *ops, void *ud) {
    svc_feed *f = weir__calloc(1, sizeof *f);
    if (!f) return NULL;
    f->cap = h->cfg.event_history;
    if (f->cap && !(f->ring = weir__calloc(f->cap, sizeof *f->ring))) {
        weir__free(f);
        return NULL;
    }
    f->e = e;
    f->h = h;
    snprintf(f->id, sizeof f->id, "%s", exec_id);
    f->ops = ops;
    f->ud = ud;
    uv_timer_init(h->loop, &f->linger);
    uv_timer_init(h->loop, &f->metrics);
    uv_timer_init(h->loop, &f->skipped);
    f->linger.data = f->metrics.data = f->skipped.data = f;
    f->open_handles = 3;
    f->mask = 1; /* not what set_mask is asked for: it sets every kind_from */
    set_mask(f, 0); /* until someone subscribes */
    return f;
}

static void sub_remove(svc_sub *sub, leave_mode mode);

void svc_feed_free(svc_feed *f) {
    if (!f) return;
    while (f->subs) sub_remove(f->subs, LEAVE_QUIET);
    go_quiet(f);
    f->e = NULL;
    weir_sbuf_unref(f->arena.buf);
    f->arena = (svc_arena){0};
    json_decref(f->metrics_prev);
    f->metrics_prev = NULL;
    uv_timer_stop(&f->metrics);
    uv_close((uv_handle_t *)&f->linger, feed_closed);
    uv_close((uv_handle_t *)&f->metrics, feed_closed);
    uv_close((uv_handle_t *)&f->skipped, feed_closed);
}

static void sub_remove(svc_sub *sub, leave_mode mode) {
    svc_feed *f = sub->f;
    svc_client *c = sub->c;
    svc_hub *h = f->h;
    if (sub->fprev) sub->fprev->fnext = sub->fnext;
    else f->subs = sub->fnext;
    if (sub->fnext) sub->fnext->fprev = sub->fprev;
    for (svc_sub **p = &c->subs; *p; p = &(*p)->cnext)
        if (*p == sub) {
            *p = sub->cnext;
            break;
        }
    uint32_t left = sub->mask;
    batch_send(sub); /* what it was sent before it left */
    batch_free(sub);
    weir__free(sub);
    f->n_subs--;
    h->n_subs--;
    if (!f->e) return;
    /* A subscriber that went away (not one that unsubscribed): lingering
     * keeps what its reconnect with `since` most likely needs (states,
     * outputs, logs), whoever else still watches, but never the per-hop
     * kinds: an execution nobody watches pays nothing per hop. */
    uint32_t keep = left & f->mask & LINGER_KINDS;
    if (mode == LEAVE_LINGER && h->cfg.linger_ms && keep && !weir_state_finished(weir_exec_state(f->e))) {
        f->linger_keep |= keep;
        uv_timer_start(&f->linger, linger_done, h->cfg.linger_ms, 0);
    }
    uint32_t m = want_mask(f);
    if (m) set_mask(f, m); /* narrower, perhaps */
    else go_quiet(f);
}

static svc_sub *sub_find(svc_feed *f, svc_client *c) {
    for (svc_sub *sub = c->subs; sub; sub = sub->cnext)
        if (sub->f == f) return sub;
    return NULL;
}

int svc_feed_attach(svc_feed *f, svc_client *c, uint32_t mask, uint32_t rate, bool batch, weir_error *err) {
    svc_sub *sub = sub_find(f, c);
    if (!sub) {
        if (!(sub = weir__calloc(1, sizeof *sub)))
            return weir__error(err, WEIR_ENOMEM, "out of memory subscribing to execution %s", f->id);
        sub->c = c;
        sub->f = f;
        sub->fnext = f->subs;
        if (f->subs) f->subs->fprev = sub;
        f->subs = sub;
        sub->cnext = c->subs;
        c->subs = sub;
        f->n_subs++;
        f->h->n_subs++;
    }
    sub->mask = mask; /* again: what it asks for now */
    sub->room = -1;   /* look at its backlog before the first event */
    sub->rate = rate;
    if (!batch) { /* no more batches: what waits goes first */
        batch_send(sub);
        batch_free(sub);
    }
    sub->batch = batch;
    set_mask(f, want_mask(f));
    sub->last_seq = weir_exec_seq(f->e);
    return 0;
}

bool svc_feed_unsubscribe(svc_feed *f, svc_client *c) {
    svc_sub *sub = f ? sub_find(f, c) : NULL;
    if (!sub) return false;
    sub_remove(sub, LEAVE_QUIET);
    return true;
}

/* Cut a subscriber that fell too far behind; it is told the last seq it
 * was sent, so it can come back with `since`. */
static void cut_why(svc_sub *sub, const char *reason) {
    svc_client *c = sub->c;
    svc_feed *f = sub->f;
    svc_hub *h = f->h;
    uint64_t last = sub->last_seq;
    sub_remove(sub, LEAVE_LINGER);
    h->subscribers_cut++;
    json_t *d = json_pack("{s:s,s:I,s:s}", "executionId", f->id, "seq", (json_int_t)last, "reason", reason);
    svc_client_emit(c, "subscription:cut", d);
    json_decref(d);
    json_t *fields = json_pack("{s:s,s:s,s:I}", "executionId", f->id, "transport", c->ops->kind, "seq", (json_int_t)last);
    hub_log(h, WEIR_LOG_WARN, fields, "subscriber cut off: %s", reason);
    json_decref(fields);
}

static void cut(svc_sub *sub) {
    char reason[160];
    snprintf(reason, sizeof reason,
             "too slow: %zu bytes were waiting to be sent (bound %zu); subscribe again with since",
             svc_client_backlog(sub->c), sub->f->h->cfg.backlog_bytes);
    cut_why(sub, reason);
}

void svc_feed_break(svc_feed *f, uint64_t seq, const char *why) {
    ring_clear(f);
    f->from = seq + 1;
    while (f->subs) cut_why(f->subs, why);
}

/* Tell sub which events its rate passed over (since the last notice). */
static void tell_skipped(svc_sub *sub) {
    json_t *d = json_pack("{s:s,s:I,s:I,s:I,s:I}", "executionId", sub->f->id, "count", (json_int_t)sub->skipped,
                          "fromSeq", (json_int_t)sub->skip_from, "toSeq", (json_int_t)sub->skip_to, "rate",
                          (json_int_t)sub->rate);
    size_t len;
    const char *text = sub->batch && d ? dump(sub->c->hub, d, &len) : NULL;
    /* a batch subscriber finds it in its batch, where it belongs (out of
     * memory: on its own, after what waits) */
    if (!text || batch_add(sub, "events:skipped", text, len)) svc_client_emit(sub->c, "events:skipped", d);
    json_decref(d);
    sub->c->hub->events_skipped += sub->skipped;
    sub->skipped = 0;
}

/* A rate window after a subscriber began to skip: those whose next event
 * has not come to carry the notice are told now, so a burst followed by
 * silence is still told (at most one notice per subscriber per window). */
static void skipped_fire(uv_timer_t *t) {
    svc_feed *f = t->data;
    for (svc_sub *sub = f->subs; sub; sub = sub->fnext)
        if (sub->skipped) tell_skipped(sub);
}

/* Over its rate: passed over and counted.  The rate is kept per tenth of
 * a second (rate / 10 in each, at least one), so what a subscriber is sent
 * comes evenly, not as a second's worth in one burst. */
static bool over_rate(svc_sub *sub, svc_evmsg *m) {
    if (!sub->rate || !(m->kind & RATED_KINDS)) return false;
    uint64_t now = uv_now(sub->c->hub->loop);
    if (now - sub->window_ms >= RATE_WINDOW_MS) {
        sub->window_ms = now;
        sub->in_window = 0;
    }
    uint32_t allowed = (uint32_t)((uint64_t)sub->rate * RATE_WINDOW_MS / 1000);
    if (sub->in_window < (allowed ? allowed : 1)) {
        sub->in_window++;
        return false;
    }
    if (!sub->skipped) {
        sub->skip_from = m->seq;
        if (!uv_is_active((uv_handle_t *)&sub->f->skipped))
            uv_timer_start(&sub->f->skipped, skipped_fire, RATE_WINDOW_MS, 0);
    }
    sub->skipped++;
    sub->skip_to = m->seq;
    return true;
}

static void deliver(svc_sub *sub, svc_evmsg *m) {
    if (!(sub->mask & m->kind) || over_rate(sub, m)) { /* not of its kinds, or over its rate: passed over */
        sub->last_seq = m->seq;
        return;
    }
    if (sub->skipped) tell_skipped(sub);
    svc_client *c = sub->c;
    svc_hub *h = c->hub;
    int64_t cost = (int64_t)(m->data->len + FRAME_OVERHEAD);
    if (sub->room < cost || ++sub->unchecked >= BACKLOG_CHECK_EVENTS) {
        size_t backlog = svc_client_backlog(c) + sub->len; /* and what waits in its batch */
        if (backlog > h->cfg.backlog_bytes) return cut(sub);
        sub->room = (int64_t)(h->cfg.backlog_bytes - backlog);
        sub->unchecked = 0;
    }
    sub->room -= cost;
    if (sub->batch) {
        if (batch_add(sub, m->name, m->data->data, m->data->len))
            return cut_why(sub, "out of memory batching its events; subscribe again with since");
        sub->last_seq = m->seq;
        h->events_sent++;
        return;
    }
    /* every kind the feed builds (metrics:update never goes in the batch) */
    bool whole = m->arena && ((sub->mask | WEIR_EV_METRICS) & sub->f->mask) == sub->f->mask;
    if (c->ops->send(c->conn, m, whole) == 0) {
        sub->last_seq = m->seq;
        h->events_sent++;
        mark_dirty(c);
    }
}

static void deliver_all(svc_feed *f, svc_evmsg *m) {
    for (svc_sub *sub = f->subs, *next; sub; sub = next) {
        next = sub->fnext; /* deliver may cut sub */
        deliver(sub, m);
    }
}

/* Every interval while a subscriber wants metrics:update: one, when the
 * metrics changed since the last (the uptime alone does not count). */
static void metrics_fire(uv_timer_t *t) {
    svc_feed *f = t->data;
    if (!f->e || f->n_subs == 0) return;
    svc_hub *h = f->h;
    json_t *now = f->ops->metrics(f->ud);
    if (!now) return;
    json_t *uptime = json_incref(json_object_get(now, "uptimeMs"));
    json_object_del(now, "uptimeMs");
    if (f->metrics_prev && json_equal(now, f->metrics_prev)) {
        json_decref(uptime);
        json_decref(now);
        return;
    }
    json_t *sent = json_copy(now); /* shallow: the per-node objects are shared, not changed */
    if (sent && uptime) json_object_set(sent, "uptimeMs", uptime);
    json_decref(uptime);
    json_decref(f->metrics_prev);
    f->metrics_prev = now;
    json_t *d = sent ? json_pack("{s:s,s:o}", "executionId", f->id, "metrics", sent) : NULL;
    svc_evmsg *m = d ? evmsg_new(h, weir_exec_seq(f->e), "metrics:update", d) : NULL;
    json_decref(d);
    if (m) deliver_all(f, m); /* a snapshot: not kept in the history */
    evmsg_unref(m);
}

void svc_feed_event(svc_feed *f, uint64_t seq, const char *name, json_t *data) {
    svc_hub *h = f->h;
    h->events_built++;
    svc_evmsg *m = evmsg_new(h, seq, name, data);
    if (m) m->arena = &f->arena;
    if (!m) { /* the run of seqs is broken: nobody may be told it is whole */
        ring_clear(f);
        f->from = seq + 1;
        while (f->subs) cut(f->subs);
        return;
    }
    ring_push(f, m);
    deliver_all(f, m);
    evmsg_unref(m);
}

static void resync(svc_feed *f, svc_client *c, int64_t since, const char *why) {
    json_t *d = f->ops->snapshot(f->ud);
    if (d) {
        json_object_set_new(d, "since", json_integer(since));
        json_object_set_new(d, "reason", json_string(why));
    }
    svc_client_emit(c, "resync", d);
    json_decref(d);
}

void svc_feed_replay(svc_feed *f, svc_client *c, int64_t since) {
    svc_sub *sub = sub_find(f, c);
    uint64_t cur = weir_exec_seq(f->e);
    if (since < 0 || !sub) return;
    if ((uint64_t)since > cur) return resync(f, c, since, "since is ahead of this execution's events");
    uint64_t want = (uint64_t)since + 1;
    /* Every kind it wants must have been built all along since `since`
     * (metrics:update is a snapshot, never history). */
    uint32_t need = sub->mask & ~WEIR_EV_METRICS;
    for (unsigned k = 0; k < WEIR_EV_KINDS; k++)
        if ((need & (1u << k)) && f->kind_from[k] > want) {
            char why[128];
            snprintf(why, sizeof why, "%s events were not being built for all of the time since then",
                     weir_event_name(1u << k));
            return resync(f, c, since, why);
        }
    if ((uint64_t)since == cur) return;
    if (f->from > want) return resync(f, c, since, "the events after since are no longer held");
    /* Cut during the replay, it is told the last seq it was really sent. */
    sub->last_seq = (uint64_t)since;
    size_t i = 0;
    while (i < f->n && ring_at(f, i)->seq < want) i++;
    for (; i < f->n && sub; i++) {
        deliver(sub, ring_at(f, i));
        sub = sub_find(f, c); /* NULL once cut */
    }
}
