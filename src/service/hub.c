/*
 * The event hub (see hub.h): clients, subscriptions, per-execution history
 * rings, slow-subscriber cut-off, throttled metrics:update.
 *
 * Invariants:
 *  - a feed's ring holds events with consecutive seqs ring[0].seq == lo ..
 *    lo + n - 1; anything that breaks the run (a quiet spell, an event lost
 *    to out-of-memory) empties it, so `since` is answered from it only when
 *    nothing in between is missing;
 *  - an execution builds events (weir_exec_listen on) exactly while its feed
 *    has subscribers or lingers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "service/hub.h"

struct svc_sub {
    svc_client *c;
    svc_feed *f;
    svc_sub *fprev, *fnext; /* the feed's subscribers */
    svc_sub *cnext;         /* the client's subscriptions */
    uint64_t last_seq;      /* the last event queued to it */
};

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
    uint64_t lo;
    uv_timer_t linger;  /* after the last subscriber left: go quiet when it fires */
    uv_timer_t metrics; /* the next metrics:update */
    uint64_t metrics_last;
    int open_handles;
};

typedef enum { LEAVE_QUIET, LEAVE_LINGER } leave_mode;

/* ----------------------------------------------------------------- messages */

static void evmsg_unref(svc_evmsg *m) {
    if (!m || --m->refs) return;
    weir_sbuf_unref(m->data);
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

static void unlink_client(svc_client *c) {
    svc_hub *h = c->hub;
    while (c->subs) sub_remove(c->subs, LEAVE_LINGER);
    if (c->prev) c->prev->next = c->next;
    else h->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->linked = false;
    h->n_clients--;
}

void svc_client_gone(svc_client *c) {
    if (!c->conn) return;
    if (c->linked) unlink_client(c);
    c->conn = NULL;
    svc_client_unref(c);
}

void svc_client_command(svc_client *c, const char *name, json_t *data, int64_t ack_id) {
    if (c->linked) c->hub->ops->command(c->hub->ud, c, name, data, ack_id);
}

void svc_hub_free(svc_hub *h) {
    while (h->clients) unlink_client(h->clients);
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
    json_t *empty = data ? NULL : json_object();
    size_t len;
    const char *text = dump(c->hub, data ? data : empty, &len);
    if (text) c->ops->emit(c->conn, name, text, len);
    json_decref(empty);
}

void svc_client_reply(svc_client *c, int64_t ack_id, const char *name, json_t *body) {
    if (c->conn && body) {
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

static void ring_clear(svc_feed *f) {
    for (size_t i = 0; i < f->n; i++) evmsg_unref(f->ring[(f->head + i) % f->cap]);
    f->head = f->n = f->bytes = 0;
    f->lo = 0;
}

static svc_evmsg *ring_at(const svc_feed *f, size_t i) { return f->ring[(f->head + i) % f->cap]; }

static void ring_pop(svc_feed *f) {
    svc_evmsg *m = f->ring[f->head];
    f->bytes -= m->data->len;
    evmsg_unref(m);
    f->head = (f->head + 1) % f->cap;
    f->n--;
    f->lo++;
}

/* Keep m (a reference is taken), dropping the oldest beyond the bounds. */
static void ring_push(svc_feed *f, svc_evmsg *m) {
    if (f->cap == 0) return;
    size_t max_bytes = f->h->cfg.backlog_bytes;
    while (f->n && (f->n == f->cap || f->bytes + m->data->len > max_bytes)) ring_pop(f);
    if (f->n == 0) f->lo = m->seq;
    f->ring[(f->head + f->n) % f->cap] = m;
    m->refs++;
    f->n++;
    f->bytes += m->data->len;
}

/* Nobody listens any more: stop building events, forget the history. */
static void go_quiet(svc_feed *f) {
    uv_timer_stop(&f->linger);
    uv_timer_stop(&f->metrics);
    ring_clear(f);
    if (f->e) weir_exec_listen(f->e, false);
}

static void linger_done(uv_timer_t *t) {
    svc_feed *f = t->data;
    if (f->n_subs == 0) go_quiet(f);
}

static void feed_closed(uv_handle_t *h) {
    svc_feed *f = h->data;
    if (--f->open_handles == 0) {
        weir__free(f->ring);
        weir__free(f);
    }
}

static void metrics_fire(uv_timer_t *t);

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
    f->linger.data = f->metrics.data = f;
    f->open_handles = 2;
    weir_exec_listen(e, false); /* until someone subscribes */
    return f;
}

void svc_feed_free(svc_feed *f) {
    if (!f) return;
    while (f->subs) sub_remove(f->subs, LEAVE_QUIET);
    ring_clear(f);
    f->e = NULL;
    uv_timer_stop(&f->linger);
    uv_timer_stop(&f->metrics);
    uv_close((uv_handle_t *)&f->linger, feed_closed);
    uv_close((uv_handle_t *)&f->metrics, feed_closed);
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
    weir__free(sub);
    f->n_subs--;
    h->n_subs--;
    if (f->n_subs || !f->e) return;
    uint64_t linger = h->cfg.linger_ms;
    if (mode == LEAVE_LINGER && linger && !weir_state_finished(weir_exec_state(f->e)))
        uv_timer_start(&f->linger, linger_done, linger, 0);
    else go_quiet(f);
}

static svc_sub *sub_find(svc_feed *f, svc_client *c) {
    for (svc_sub *sub = c->subs; sub; sub = sub->cnext)
        if (sub->f == f) return sub;
    return NULL;
}

int svc_feed_attach(svc_feed *f, svc_client *c, weir_error *err) {
    if (sub_find(f, c)) return 0;
    svc_sub *sub = weir__calloc(1, sizeof *sub);
    if (!sub) return weir__error(err, WEIR_ENOMEM, "out of memory subscribing to execution %s", f->id);
    uv_timer_stop(&f->linger);
    if (f->n_subs == 0) weir_exec_listen(f->e, true); /* no-op while lingering */
    sub->c = c;
    sub->f = f;
    sub->last_seq = weir_exec_seq(f->e);
    sub->fnext = f->subs;
    if (f->subs) f->subs->fprev = sub;
    f->subs = sub;
    sub->cnext = c->subs;
    c->subs = sub;
    f->n_subs++;
    f->h->n_subs++;
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
static void cut(svc_sub *sub) {
    svc_client *c = sub->c;
    svc_feed *f = sub->f;
    svc_hub *h = f->h;
    uint64_t last = sub->last_seq;
    size_t backlog = svc_client_backlog(c);
    sub_remove(sub, LEAVE_LINGER);
    h->subscribers_cut++;
    char reason[160];
    snprintf(reason, sizeof reason,
             "too slow: %zu bytes were waiting to be sent (bound %zu); subscribe again with since", backlog,
             h->cfg.backlog_bytes);
    json_t *d = json_pack("{s:s,s:I,s:s}", "executionId", f->id, "seq", (json_int_t)last, "reason", reason);
    svc_client_emit(c, "subscription:cut", d);
    json_decref(d);
    json_t *fields = json_pack("{s:s,s:s,s:I}", "executionId", f->id, "transport", c->ops->kind, "seq", (json_int_t)last);
    hub_log(h, WEIR_LOG_WARN, fields, "subscriber cut off: %s", reason);
    json_decref(fields);
}

static void deliver(svc_sub *sub, svc_evmsg *m) {
    svc_client *c = sub->c;
    svc_hub *h = c->hub;
    if (svc_client_backlog(c) > h->cfg.backlog_bytes) return cut(sub);
    if (c->ops->send(c->conn, m) == 0) {
        sub->last_seq = m->seq;
        h->events_sent++;
    }
}

static void deliver_all(svc_feed *f, svc_evmsg *m) {
    for (svc_sub *sub = f->subs, *next; sub; sub = next) {
        next = sub->fnext; /* deliver may cut sub */
        deliver(sub, m);
    }
}

static void metrics_fire(uv_timer_t *t) {
    svc_feed *f = t->data;
    if (!f->e || f->n_subs == 0) return;
    svc_hub *h = f->h;
    f->metrics_last = uv_now(h->loop);
    json_t *d = json_pack("{s:s,s:o}", "executionId", f->id, "metrics", f->ops->metrics(f->ud));
    svc_evmsg *m = d ? evmsg_new(h, weir_exec_seq(f->e), "metrics:update", d) : NULL;
    json_decref(d);
    if (m) deliver_all(f, m); /* a snapshot: not kept in the history */
    evmsg_unref(m);
}

static void metrics_schedule(svc_feed *f) {
    svc_hub *h = f->h;
    if (!h->cfg.metrics || f->n_subs == 0 || uv_is_active((uv_handle_t *)&f->metrics)) return;
    uint64_t now = uv_now(h->loop), due = f->metrics_last + h->cfg.metrics_interval_ms;
    uv_timer_start(&f->metrics, metrics_fire, due > now ? due - now : 0, 0);
}

void svc_feed_event(svc_feed *f, uint64_t seq, const char *name, json_t *data) {
    svc_hub *h = f->h;
    h->events_built++;
    svc_evmsg *m = evmsg_new(h, seq, name, data);
    if (!m) { /* the run of seqs is broken: nobody may be told it is whole */
        ring_clear(f);
        while (f->subs) cut(f->subs);
        return;
    }
    ring_push(f, m);
    deliver_all(f, m);
    evmsg_unref(m);
    metrics_schedule(f);
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
    if (since < 0 || !sub || (uint64_t)since == cur) return;
    if ((uint64_t)since > cur) return resync(f, c, since, "since is ahead of this execution's events");
    uint64_t want = (uint64_t)since + 1;
    if (f->n == 0 || f->lo > want || ring_at(f, f->n - 1)->seq != cur)
        return resync(f, c, since, "the events after since are no longer held");
    for (size_t i = (size_t)(want - f->lo); i < f->n && sub; i++) {
        deliver(sub, ring_at(f, i));
        sub = sub_find(f, c); /* NULL once cut */
    }
}
