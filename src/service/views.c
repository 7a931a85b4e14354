/*
 * Live views (SPEC §8; the contract is views.h): instances by name, their
 * values rebuilt by sharing, rings of diffs, subscribers sent at most one
 * message per view per round, `since` and `atTick`.
 *
 * Invariants:
 *  - v->value is the value of seq v->seq; nobody changes it (it is shared
 *    with the next value and with the ring's diffs);
 *  - the ring holds diffs in order, each from the value of `base` to the
 *    value of `seq`, the newest to v->seq; base of each is seq of the one
 *    before;
 *  - a subscriber's seq is the seq of the value it has (0: none yet; no
 *    instance's seq is 0); it is behind when that is not v->seq.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "service/service_internal.h"
#include "service/view_diff.h"

typedef enum { VIEW_GRAPHS, VIEW_EXECUTIONS, VIEW_EXECUTION, VIEW_PORT } view_kind;

typedef struct ring_ent {
    uint64_t base, seq;
    json_t *diff;
    size_t weight;
} ring_ent;

typedef struct svc_vsub {
    svc_client *c;
    uint64_t seq; /* the value it has (0: none) */
    json_t *have; /* the value of seq have_seq this server sent it (a reference; NULL: none), so a
                     subscriber held back longer than the ring reaches is sent one diff from it */
    uint64_t have_seq;
    struct svc_vsub *next;
} svc_vsub;

struct svc_view {
    weir_service *s;
    view_kind kind;
    char *name;
    svc_exec *x;       /* execution and port views; NULL once it is freed */
    char exec_id[40];
    json_t *value;     /* immutable; what subscribers have been sent */
    uint64_t seq;
    json_t *staged;    /* built, not sent yet: shows inputs not durable yet (NULL: none) */
    uint64_t staged_mark; /* ... until the journal's j_done reaches this */
    ring_ent *ring;
    size_t head, len, cap, bytes;
    svc_vsub *subs;
    size_t n_subs;
    uint64_t idle_since; /* loop time the last subscriber left */
    svc_view_stamp stamp; /* execution view: what it was built from */
    /* port view: the last n values tapped, a circular buffer */
    char *node, *port;
    size_t n;
    json_t **win;
    size_t win_head, win_len;
    bool tapped, win_dirty;
    json_t *end; /* {view, error, code}: the view ends (its port is gone), sent once durable (NULL: it goes on) */
    uint64_t end_mark;
    /* the wire text of the newest diff (for seq) and of the init (for init_seq) */
    char *diff_text, *init_text;
    size_t diff_len, init_len;
    uint64_t diff_seq, init_seq;
    svc_view *next;
};

static uint64_t interval(const weir_service *s) { return s->cfg.view_interval_ms ? s->cfg.view_interval_ms : 1; }

static uint64_t next_seq(weir_service *s) {
    if (!s->views.seq) { /* from the wall clock: a later run of the server hands out larger seqs */
        uv_timeval64_t tv;
        s->views.seq = uv_gettimeofday(&tv) == 0 ? (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec : 1;
    }
    return ++s->views.seq;
}

/* The newest value built: what the next one is built against (shared with,
 * and told apart from cheaply). */
static json_t *latest(const svc_view *v) { return v->staged ? v->staged : v->value; }

/* ------------------------------------------------------------------ stamps */

/* Take x's stamp into st; true when it moved (or an open wave is stepped). */
static bool stamp_moved(svc_exec *x, svc_view_stamp *st) {
    weir_exec *e = x->e;
    svc_view_stamp now = {.tick = weir_exec_tick(e), .queue = weir_exec_queue_depth(e),
                          .pending = weir_exec_pending_effects(e), .state = (int)weir_exec_state(e), .set = true};
    snprintf(now.runtime, sizeof now.runtime, "%s", x->rt.name ? x->rt.name : "");
    bool moved = !st->set || weir_exec_wave_open(e) || st->tick != now.tick || st->queue != now.queue ||
                 st->pending != now.pending || st->state != now.state || strcmp(st->runtime, now.runtime) != 0;
    *st = now;
    return moved;
}

/* ------------------------------------------------------------------ values */

/* o[key] = v (STOLEN), false when out of memory. */
static bool put(json_t *o, const char *key, json_t *v) { return v && json_object_set_new(o, key, v) == 0; }

/* prev when it equals now (now released), else now: the unchanged part is
 * shared, so the diff skips it. */
static json_t *share(json_t *prev, json_t *now) {
    if (prev && now && json_equal(prev, now)) {
        json_decref(now);
        return json_incref(prev);
    }
    return now;
}

static json_t *pick(json_t *from, const char *const *keys, json_t *prev) {
    json_t *o = json_object();
    for (size_t i = 0; o && keys[i]; i++) {
        json_t *v = json_object_get(from, keys[i]);
        if (!put(o, keys[i], v ? json_incref(v) : json_integer(0))) {
            json_decref(o);
            return NULL;
        }
    }
    return share(prev, o);
}

static const char *const EXEC_METRICS[] = {"messagesProcessed", "messagesEmitted", "componentInvocations",
                                           "errorCount", "droppedMessages", "queueDepth", "pendingEffects", "ticks",
                                           "avgLatencyMs", "maxLatencyMs", NULL};
static const char *const ROW_METRICS[] = {"messagesProcessed", "messagesEmitted", "errorCount", "queueDepth",
                                          "pendingEffects", NULL};
static const char *const NODE_COUNTERS[] = {"invocations", "emitted", "errors", NULL};

/* The fields every execution value and row has. */
static json_t *exec_head(svc_exec *x, json_t *j, uint64_t tick, const char *state) {
    json_t *started = json_object_get(j, "startedAt");
    return json_pack("{s:s,s:s,s:s,s:s,s:O?,s:O,s:I,s:b}", "executionId", x->id, "graphId", x->graph_id, "graphName",
                     x->graph_name, "state", state ? state : json_string_value(json_object_get(j, "state")),
                     "runtime", json_object_get(j, "runtime"), "startedAt", started, "tick",
                     (json_int_t)tick, "stored", x->journaled);
}

/* Are a node's counters in metrics m those of its value n? */
static bool same_counters(json_t *m, json_t *n) {
    for (size_t i = 0; NODE_COUNTERS[i]; i++) {
        json_t *a = json_object_get(m, NODE_COUNTERS[i]), *b = json_object_get(n, NODE_COUNTERS[i]);
        if (!a || !b || json_integer_value(a) != json_integer_value(b)) return false;
    }
    return true;
}

/* {nodeId: {invocations, emitted, errors, state}} from metrics.nodes and
 * the states, sharing what equals prev's.  states NULL: read from e, and
 * only for nodes whose counters moved (a node's state changes only when it
 * is invoked, besides when the execution starts and finishes: the caller
 * passes every state then); the others are prev's as they are. */
static json_t *node_values(weir_exec *e, json_t *counters, json_t *states, json_t *prev) {
    json_t *nodes = json_object();
    const char *id;
    json_t *m;
    json_object_foreach(counters, id, m) {
        json_t *was = json_object_get(prev, id);
        if (!states && was && same_counters(m, was)) {
            if (!nodes || !put(nodes, id, json_incref(was))) goto fail;
            continue;
        }
        json_t *st = states ? json_incref(json_object_get(states, id)) : weir_exec_node_state(e, id);
        json_t *n = pick(m, NODE_COUNTERS, NULL);
        json_t *state = share(json_object_get(was, "state"), st ? st : json_object());
        if (!n || !put(n, "state", state)) {
            json_decref(n);
            goto fail;
        }
        if (!nodes || !put(nodes, id, share(was, n))) goto fail;
    }
    return nodes;
fail:
    json_decref(nodes);
    return NULL;
}

/* The execution value from its summary j, metrics m (with nodes) and
 * states (NULL: read from x as node_values says), sharing with prev. */
static json_t *exec_value(svc_exec *x, json_t *j, json_t *m, json_t *states, uint64_t tick, const char *state,
                          json_t *prev) {
    json_t *v = exec_head(x, j, tick, state);
    if (!v || !put(v, "metrics", pick(m, EXEC_METRICS, json_object_get(prev, "metrics"))) ||
        !put(v, "nodes", node_values(x->e, json_object_get(m, "nodes"), states, json_object_get(prev, "nodes")))) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* full: every node's state is read (the first value, and after the
 * execution's state changed: started, finished, cleaned up). */
static json_t *build_execution(svc_view *v, bool full) {
    svc_exec *x = v->x;
    json_t *j = weir_exec_json(x->e), *m = weir_exec_metrics(x->e, svc_exec_now(x));
    json_t *st = full ? weir_exec_states(x->e) : NULL;
    json_t *out = j && m && (st || !full) ? exec_value(x, j, m, st, weir_exec_tick(x->e), NULL, latest(v)) : NULL;
    json_decref(j);
    json_decref(m);
    json_decref(st);
    return out;
}

/* x's row of the executions view, rebuilt only when its stamp moved. */
static json_t *exec_row(svc_exec *x) {
    svc_view_row *r = &x->view_row;
    if (!stamp_moved(x, &r->stamp) && r->row) return json_incref(r->row);
    json_t *j = weir_exec_json(x->e), *m = weir_exec_metrics(x->e, svc_exec_now(x));
    json_t *row = j && m ? exec_head(x, j, weir_exec_tick(x->e), NULL) : NULL;
    if (row && !put(row, "metrics", pick(m, ROW_METRICS, json_object_get(r->row, "metrics")))) {
        json_decref(row);
        row = NULL;
    }
    json_decref(j);
    json_decref(m);
    if (!row) {
        r->stamp.set = false; /* built again next round */
        return NULL;
    }
    row = share(r->row, row);
    json_decref(r->row);
    r->row = json_incref(row);
    return row;
}

/* The rows in list order; NULL when nothing changed (same rows). */
static json_t *build_executions(svc_view *v) {
    json_t *a = json_array();
    size_t i = 0;
    bool same = latest(v) != NULL;
    for (svc_exec *x = v->s->execs; a && x; x = x->next, i++) {
        json_t *row = exec_row(x);
        if (!row || json_array_append_new(a, row)) {
            json_decref(a);
            return NULL;
        }
        if (same && json_array_get(latest(v), i) != row) same = false;
    }
    if (same && json_array_size(latest(v)) == i) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static json_t *build_graphs(svc_view *v) {
    weir_service *s = v->s;
    size_t n = 0;
    bool same = latest(v) != NULL;
    char at[32];
    /* a graph replaced (PUT) keeps its id and is stored anew: its createdAt tells */
    for (svc_graph *g = s->graphs; g; g = g->next, n++)
        if (same) {
            json_t *e = json_array_get(latest(v), n);
            const char *was = json_string_value(json_object_get(e, "id"));
            const char *when = json_string_value(json_object_get(e, "createdAt"));
            svc_iso8601(g->created_ms, at);
            same = was && strcmp(was, g->id) == 0 && when && strcmp(when, at) == 0;
        }
    if (same && json_array_size(latest(v)) == n) return NULL;
    json_t *by_id = json_object(), *a = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(latest(v), i, e) {
        const char *id = json_string_value(json_object_get(e, "id"));
        if (by_id && id) json_object_set(by_id, id, e);
    }
    for (svc_graph *g = s->graphs; a && by_id && g; g = g->next) {
        json_t *was = json_object_get(by_id, g->id);
        svc_iso8601(g->created_ms, at);
        const char *when = json_string_value(json_object_get(was, "createdAt"));
        json_t *entry = was && when && strcmp(when, at) == 0 ? json_incref(was) : svc_graph_entry(g);
        if (!entry || json_array_append_new(a, entry)) {
            json_decref(a);
            a = NULL;
        }
    }
    json_decref(by_id);
    return a;
}

/* The port view's tap: the newest n values, oldest dropped. */
static void on_tap(void *ud, json_t *value) {
    svc_view *v = ud;
    size_t at = (v->win_head + v->win_len) % v->n;
    if (v->win_len == v->n) {
        json_decref(v->win[v->win_head]);
        v->win_head = (v->win_head + 1) % v->n;
    } else {
        v->win_len++;
    }
    v->win[at] = json_incref(value);
    v->win_dirty = true;
}

static json_t *build_port(svc_view *v) {
    if (latest(v) && !v->win_dirty) return NULL;
    json_t *a = json_array();
    for (size_t i = 0; a && i < v->win_len; i++)
        if (json_array_append(a, v->win[(v->win_head + i) % v->n])) {
            json_decref(a);
            return NULL;
        }
    if (a) v->win_dirty = false;
    return a;
}

/* NEW: the value now, or NULL when it did not change (or could not be
 * built: out of memory, tried again next round). */
static json_t *build(svc_view *v) {
    switch (v->kind) {
    case VIEW_GRAPHS: return build_graphs(v);
    case VIEW_EXECUTIONS: return build_executions(v);
    case VIEW_EXECUTION: {
        if (!v->x) return NULL;
        svc_view_stamp was = v->stamp;
        bool first = !latest(v), moved = stamp_moved(v->x, &v->stamp);
        if (!first && !moved) return NULL;
        bool full = first || !was.set || was.state != v->stamp.state || strcmp(was.runtime, v->stamp.runtime) != 0;
        json_t *now = build_execution(v, full);
        if (!now) v->stamp.set = false; /* built again next round */
        return now;
    }
    case VIEW_PORT: return build_port(v);
    }
    return NULL;
}

/* -------------------------------------------------------------------- ring */

static ring_ent *ring_at(svc_view *v, size_t i) { return &v->ring[(v->head + i) % v->cap]; }

static void ring_pop(svc_view *v) {
    ring_ent *r = ring_at(v, 0);
    v->bytes -= r->weight;
    json_decref(r->diff);
    v->head = (v->head + 1) % v->cap;
    v->len--;
}

/* Keep diff (a reference is taken) from base to seq, dropping the oldest
 * beyond VIEW_HISTORY and VIEW_HISTORY_BYTES. */
static void ring_push(svc_view *v, uint64_t base, uint64_t seq, json_t *diff) {
    size_t w = weir_view_diff_weight(diff);
    while (v->len && (v->len == v->cap || v->bytes + w > VIEW_HISTORY_BYTES)) ring_pop(v);
    if (w > VIEW_HISTORY_BYTES) return; /* larger than the whole ring: since gets an init */
    *ring_at(v, v->len) = (ring_ent){base, seq, json_incref(diff), w};
    v->len++;
    v->bytes += w;
}

/* v->staged becomes the value: its diff goes in the ring under a new seq
 * (nothing, when it is the same value after all). */
static void publish(svc_view *v) {
    json_t *now = v->staged, *d = NULL;
    v->staged = NULL;
    weir_error err;
    int rc = weir_view_diff_make(v->value, now, &d, &err);
    if (rc || weir_view_diff_is_empty(d)) {
        json_decref(d);
        json_decref(now); /* the same value */
        if (rc) v->stamp.set = false; /* no memory: built again next round */
        return;
    }
    uint64_t seq = next_seq(v->s);
    ring_push(v, v->seq, seq, d);
    json_decref(d);
    json_decref(v->value);
    v->value = now;
    v->seq = seq;
}

/* Output commit (SPEC §7.1): a value built when journal item `mark` was the
 * newest is sent once the journal made it durable. */
static bool durable(const weir_service *s, uint64_t mark) { return !s->journal || s->j_done >= mark; }

/* Bring v up to date: a new value built when something changed, sent (its
 * diff in the ring) once what it shows is durable.  A staged value is
 * published before a newer one is built, so a busy journal delays a view
 * by the time its commits take, never for good (a newer value, always
 * less durable, never replaces it). */
static void refresh(svc_view *v) {
    weir_service *s = v->s;
    if (v->staged) {
        if (!durable(s, v->staged_mark)) return;
        publish(v);
    }
    json_t *now = build(v);
    if (now) {
        json_decref(v->staged);
        v->staged = now;
        v->staged_mark = s->j_mark;
    }
    if (v->staged && durable(s, v->staged_mark)) publish(v);
}

/* -------------------------------------------------------------- delivering */

/* The wire text of {view, seq, key: doc} (malloc'd). */
static char *message(svc_view *v, const char *key, json_t *doc, size_t *len) {
    json_t *m = json_pack("{s:s,s:I,s:O}", "view", v->name, "seq", (json_int_t)v->seq, key, doc);
    char *t = m ? json_dumps(m, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(m);
    *len = t ? strlen(t) : 0;
    return t;
}

static void emit(svc_view *v, svc_vsub *sub, bool init, const char *text, size_t len) {
    const char *name = init ? "view:init" : "view:diff";
    svc_client *c = sub->c;
    if (!text || !c->conn || c->ops->emit(c->conn, name, text, len)) return;
    sub->seq = v->seq;
    if (sub->have != v->value) {
        json_decref(sub->have);
        sub->have = json_incref(v->value);
    }
    sub->have_seq = v->seq;
    weir_service *s = v->s;
    s->views.bytes_sent += len;
    if (init) s->views.inits_sent++;
    else s->views.diffs_sent++;
}

static void send_init(svc_view *v, svc_vsub *sub) {
    if (v->init_seq != v->seq || !v->init_text) {
        weir__free(v->init_text);
        v->init_text = message(v, "value", v->value, &v->init_len);
        v->init_seq = v->seq;
    }
    emit(v, sub, true, v->init_text, v->init_len);
}

/* Send sub what takes it from its seq to v->seq: one diff (the newest, or
 * the ring's since its seq composed), or an init. */
static void catch_up(svc_view *v, svc_vsub *sub) {
    if (sub->seq == v->seq) return;
    size_t i = v->len;
    while (i > 0 && ring_at(v, i - 1)->base != sub->seq) i--;
    if (i == 0 && sub->seq && sub->have && sub->have_seq == sub->seq) {
        /* held back longer than the ring reaches: one diff from what it has */
        json_t *d = NULL;
        weir_error err;
        if (weir_view_diff_make(sub->have, v->value, &d, &err)) return send_init(v, sub);
        size_t len;
        char *text = message(v, "diff", d, &len);
        json_decref(d);
        emit(v, sub, false, text, len);
        weir__free(text);
        return;
    }
    if (i == 0 || sub->seq == 0) return send_init(v, sub);
    i--; /* the diff from its seq */
    if (i == v->len - 1) { /* the newest: the same text for everyone */
        if (v->diff_seq != v->seq || !v->diff_text) {
            weir__free(v->diff_text);
            v->diff_text = message(v, "diff", ring_at(v, i)->diff, &v->diff_len);
            v->diff_seq = v->seq;
        }
        return emit(v, sub, false, v->diff_text, v->diff_len);
    }
    json_t *d = json_incref(ring_at(v, i)->diff);
    weir_error err;
    for (i++; d && i < v->len; i++) {
        json_t *next = NULL;
        if (weir_view_diff_compose_canonical(d, ring_at(v, i)->diff, &next, &err)) next = NULL;
        json_decref(d);
        d = next;
    }
    if (!d) return send_init(v, sub); /* cannot happen with a well-kept ring; an init is never wrong */
    size_t len;
    char *text = message(v, "diff", d, &len);
    json_decref(d);
    emit(v, sub, false, text, len);
    weir__free(text);
}

/* A round's delivery: each subscriber behind gets one message, unless its
 * connection is still behind with what it was sent before. */
static void deliver(svc_view *v) {
    for (svc_vsub *sub = v->subs; sub; sub = sub->next) {
        if (sub->seq == v->seq) continue;
        if (svc_client_backlog(sub->c) > VIEW_BACKLOG_BYTES) {
            v->s->views.held++;
            continue;
        }
        catch_up(v, sub);
    }
}

/* --------------------------------------------------------------- instances */

static void view_discard(svc_view *v);

static void view_free(svc_view *v) {
    weir_service *s = v->s;
    for (svc_view **p = &s->views.list; *p; p = &(*p)->next)
        if (*p == v) {
            *p = v->next;
            break;
        }
    s->views.n_views--;
    while (v->subs) {
        svc_vsub *sub = v->subs;
        v->subs = sub->next;
        json_decref(sub->have);
        weir__free(sub);
        s->views.n_subs--;
    }
    view_discard(v);
}

static void timer_freed(uv_handle_t *h) { weir__free(h); }

/* Tell every subscriber that v ended (view:error v->end) and free it: a
 * client that wants that port again subscribes again. */
static void view_end(svc_view *v) {
    for (svc_vsub *sub = v->subs; sub; sub = sub->next) svc_client_emit(sub->c, "view:error", v->end);
    view_free(v);
}

static void round_fire(uv_timer_t *t) {
    weir_service *s = t->data;
    uint64_t now = uv_now(s->loop);
    for (svc_view *v = s->views.list, *next; v; v = next) {
        next = v->next;
        if (!v->n_subs) { /* nothing is built while nobody watches: a resume builds what it missed */
            if (v->kind == VIEW_PORT || now - v->idle_since >= VIEW_LINGER_MS) view_free(v);
            continue;
        }
        refresh(v);
        deliver(v);
        if (v->end && durable(s, v->end_mark)) view_end(v);
    }
    if (!s->views.list) uv_timer_stop(t);
}

static void rounds_start(weir_service *s) {
    if (!s->views.timer) {
        if (!(s->views.timer = weir__malloc(sizeof *s->views.timer))) return;
        uv_timer_init(s->loop, s->views.timer);
        s->views.timer->data = s;
    }
    if (!uv_is_active((uv_handle_t *)s->views.timer))
        uv_timer_start(s->views.timer, round_fire, interval(s), interval(s));
}

static svc_view *view_find(weir_service *s, const char *name) {
    for (svc_view *v = s->views.list; v; v = v->next)
        if (strcmp(v->name, name) == 0) return v;
    return NULL;
}

/* What a view name says: its kind, and for execution and port views the
 * execution, node, port and n.  NEW the error body when it names no view. */
typedef struct view_name {
    view_kind kind;
    char exec_id[64];
    char node[256], port[256];
    long n;
} view_name;

static json_t *parse_name(const char *name, view_name *out) {
    memset(out, 0, sizeof *out);
    if (strcmp(name, "graphs") == 0) {
        out->kind = VIEW_GRAPHS;
        return NULL;
    }
    if (strcmp(name, "executions") == 0) {
        out->kind = VIEW_EXECUTIONS;
        return NULL;
    }
    if (strncmp(name, "execution:", 10) == 0 && name[10]) {
        out->kind = VIEW_EXECUTION;
        snprintf(out->exec_id, sizeof out->exec_id, "%s", name + 10);
        return NULL;
    }
    if (strncmp(name, "port:", 5) == 0) {
        const char *id = name + 5, *c1 = strchr(id, ':'), *last = strrchr(id, ':');
        const char *pc = NULL; /* the ':' before the port */
        for (const char *p = last; c1 && last > c1 && --p > c1;)
            if (*p == ':') {
                pc = p;
                break;
            }
        if (!c1 || !pc || pc == c1 + 1 || last == pc + 1 || (size_t)(c1 - id) >= sizeof out->exec_id ||
            (size_t)(pc - c1 - 1) >= sizeof out->node || (size_t)(last - pc - 1) >= sizeof out->port)
            return svc_error_body("view \"%.200s\": a port view is port:<executionId>:<nodeId>:<port>:<n> (the port "
                                  "name holds no ':'), e.g. port:%s:double:out:10",
                                  name, "<id>");
        char *end;
        long n = strtol(last + 1, &end, 10);
        if (*end || !last[1] || n < 1 || n > VIEW_PORT_MAX)
            return svc_error_body("view \"%.200s\": n (its last part) must be a whole number from 1 to %d: how many "
                                  "of the port's last values it shows",
                                  name, VIEW_PORT_MAX);
        out->kind = VIEW_PORT;
        memcpy(out->exec_id, id, (size_t)(c1 - id));
        memcpy(out->node, c1 + 1, (size_t)(pc - c1 - 1));
        memcpy(out->port, pc + 1, (size_t)(last - pc - 1));
        out->n = n;
        return NULL;
    }
    return svc_error_body("unknown view \"%.200s\"; the views are graphs, executions, execution:<executionId> and "
                          "port:<executionId>:<nodeId>:<port>:<n> (the last n values, 1 to %d, emitted on an output "
                          "port)",
                          name, VIEW_PORT_MAX);
}

/* Free a view that is in no list. */
static void view_discard(svc_view *v) {
    if (v->tapped && v->x) weir_exec_untap(v->x->e, v->node, v->port, on_tap, v);
    for (size_t i = 0; i < v->win_len; i++) json_decref(v->win[(v->win_head + i) % v->n]);
    weir__free(v->win);
    while (v->len) ring_pop(v);
    weir__free(v->ring);
    json_decref(v->value);
    json_decref(v->staged);
    json_decref(v->end);
    weir__free(v->diff_text);
    weir__free(v->init_text);
    weir__free(v->name);
    weir__free(v->node);
    weir__free(v->port);
    weir__free(v);
}

/* A new instance of view `name` (its first value built), or NULL with err. */
static svc_view *view_new(weir_service *s, const char *name, const view_name *vn, svc_exec *x, weir_error *err) {
    svc_view *v = weir__calloc(1, sizeof *v);
    if (!v) {
        weir__error(err, WEIR_ENOMEM, "out of memory making view %s", name);
        return NULL;
    }
    v->s = s;
    v->kind = vn->kind;
    v->x = x;
    v->cap = s->cfg.view_history ? s->cfg.view_history : 1; /* the newest diff at least: no init each round */
    v->n = (size_t)vn->n;
    bool port = vn->kind == VIEW_PORT;
    if (!(v->name = weir__strdup(name)) || (v->cap && !(v->ring = weir__calloc(v->cap, sizeof *v->ring))) ||
        (port && (!(v->node = weir__strdup(vn->node)) || !(v->port = weir__strdup(vn->port)) ||
                  !(v->win = weir__calloc(v->n, sizeof *v->win))))) {
        weir__error(err, WEIR_ENOMEM, "out of memory making view %s", name);
        view_discard(v);
        return NULL;
    }
    if (port) {
        if (weir_exec_tap(x->e, vn->node, vn->port, on_tap, v, err)) {
            view_discard(v);
            return NULL;
        }
        v->tapped = true;
    }
    if (!(v->value = build(v))) {
        weir__error(err, WEIR_ENOMEM, "out of memory building view %s", name);
        view_discard(v);
        return NULL;
    }
    v->seq = next_seq(s);
    v->idle_since = uv_now(s->loop);
    v->next = s->views.list;
    s->views.list = v;
    s->views.n_views++;
    return v;
}

static svc_vsub *sub_find(svc_view *v, svc_client *c) {
    for (svc_vsub *sub = v->subs; sub; sub = sub->next)
        if (sub->c == c) return sub;
    return NULL;
}

static bool sub_remove(svc_view *v, svc_client *c) {
    for (svc_vsub **p = &v->subs; *p; p = &(*p)->next) {
        if ((*p)->c != c) continue;
        svc_vsub *sub = *p;
        *p = sub->next;
        json_decref(sub->have);
        weir__free(sub);
        v->n_subs--;
        v->s->views.n_subs--;
        if (!v->n_subs) v->idle_since = uv_now(v->s->loop);
        if (!v->n_subs && v->kind == VIEW_PORT) view_free(v); /* its tap goes at once */
        return true;
    }
    return false;
}

/* ---------------------------------------------------------------- commands */

/* view:subscribe {view, atTick}: one init from time travel, no instance. */
static void subscribe_at(weir_service *s, svc_reply *r, svc_client *c, const char *name, svc_exec *x, json_t *at) {
    bool latest = json_is_string(at) && strcmp(json_string_value(at), "latest") == 0;
    json_t *body = NULL, *j = NULL, *v = NULL;
    weir_error err;
    if (svc_client_backlog(c) > VIEW_BACKLOG_BYTES) {
        s->views.held++;
        json_t *b = svc_error_body("view %s at a tick: this connection has not read what it was sent yet (over %u "
                                   "bytes queued); ask again once it has",
                                   name, VIEW_BACKLOG_BYTES);
        json_object_set_new(b, "view", json_string(name));
        return svc_answer_now(s, r, 429, b);
    }
    if (svc_travel_at(s, x, latest ? 0 : (uint64_t)json_integer_value(at), latest, &body, &err)) {
        json_t *b = svc_error_of(&err);
        json_object_set_new(b, "view", json_string(name));
        return svc_answer_now(s, r, svc_status_of(err.code), b);
    }
    json_t *m = json_object_get(body, "metrics");
    if ((j = weir_exec_json(x->e)))
        v = exec_value(x, j, m, json_object_get(body, "nodes"), (uint64_t)json_integer_value(json_object_get(body, "tick")),
                       json_string_value(json_object_get(body, "state")), NULL);
    uint64_t seq = next_seq(s);
    json_t *msg = v ? json_pack("{s:s,s:I,s:O,s:o}", "view", name, "seq", (json_int_t)seq, "atTick", at, "value", v)
                    : NULL;
    json_decref(j);
    json_decref(body);
    if (!msg) return svc_answer_now(s, r, 503, svc_error_body("out of memory building view %s at a tick", name));
    svc_answer_now(s, r, 200, json_pack("{s:s,s:I}", "view", name, "seq", (json_int_t)seq));
    svc_client_emit(c, "view:init", msg);
    s->views.inits_sent++;
    json_decref(msg);
}

/* What a new view shows first is durable, as execution:subscribe's
 * snapshot is (blocks the loop for one commit at most). */
static int settle(weir_service *s, view_kind kind, svc_exec *x, weir_error *err) {
    if (kind == VIEW_EXECUTION) return svc_journal_settle(x, err);
    for (svc_exec *y = kind == VIEW_EXECUTIONS ? s->execs : NULL; y; y = y->next) {
        int rc = svc_journal_settle(y, err);
        if (rc) return rc;
    }
    return 0;
}

void svc_view_subscribe(weir_service *s, svc_reply *r, svc_client *c, json_t *data) {
    const char *name = json_string_value(json_object_get(data, "view"));
    json_t *since_v = json_object_get(data, "since"), *at = json_object_get(data, "atTick");
    if (!name)
        return svc_answer_now(s, r, 400,
                              svc_error_body("view:subscribe is {\"view\": string, \"since\"?: seq, \"atTick\"?: "
                                             "tick}; the views are graphs, executions, execution:<executionId> and "
                                             "port:<executionId>:<nodeId>:<port>:<n>"));
    if (since_v && !json_is_null(since_v) && (!json_is_integer(since_v) || json_integer_value(since_v) < 0))
        return svc_answer_now(s, r, 400,
                              svc_error_body("since must be a non-negative integer: the seq of the last view:init or "
                                             "view:diff of view %s you applied",
                                             name));
    if (at && !json_is_null(at) && !(json_is_integer(at) && json_integer_value(at) >= 0) &&
        !(json_is_string(at) && strcmp(json_string_value(at), "latest") == 0))
        return svc_answer_now(s, r, 400, svc_error_body("atTick must be a tick (a whole number) or \"latest\""));
    view_name vn;
    json_t *bad = parse_name(name, &vn);
    if (bad) return svc_answer_now(s, r, 400, bad);
    svc_exec *x = NULL;
    bool at_tick = at && !json_is_null(at);
    if ((vn.kind == VIEW_EXECUTION || vn.kind == VIEW_PORT) && (at_tick || !view_find(s, name))) {
        if (!(x = svc_exec_find(s, vn.exec_id))) {
            json_t *b = svc_error_body("view %s: execution %s not found", name, vn.exec_id);
            json_object_set_new(b, "executionId", json_string(vn.exec_id));
            return svc_answer_now(s, r, 404, b);
        }
    }
    if (at_tick) {
        if (vn.kind != VIEW_EXECUTION)
            return svc_answer_now(s, r, 400,
                                  svc_error_body("atTick opens an execution:<executionId> view at a tick; view %s has "
                                                 "no past",
                                                 name));
        return subscribe_at(s, r, c, name, x, at);
    }
    weir_error err;
    svc_view *v = view_find(s, name); /* one kept (an execution's final value, its execution gone) is served */
    if (v && v->end) return svc_answer_now(s, r, 404, json_copy(v->end)); /* ended: its port is gone */
    if (!v && settle(s, vn.kind, x, &err)) {
        json_t *b = svc_error_of(&err);
        json_object_set_new(b, "view", json_string(name));
        return svc_answer_now(s, r, svc_status_of(err.code), b);
    }
    size_t max_views = s->cfg.max_views ? s->cfg.max_views : 4096;
    if (!v && s->views.n_views >= max_views) {
        json_t *b = svc_error_body("the server keeps at most %zu views at once (MAX_VIEWS; some linger %d ms after "
                                   "their last subscriber left); try again later",
                                   max_views, VIEW_LINGER_MS);
        json_object_set_new(b, "view", json_string(name));
        return svc_answer_now(s, r, 429, b);
    }
    if (!v && !(v = view_new(s, name, &vn, x, &err))) {
        json_t *b = svc_error_of(&err);
        json_object_set_new(b, "view", json_string(name));
        return svc_answer_now(s, r, svc_status_of(err.code), b);
    }
    svc_vsub *sub = sub_find(v, c);
    if (!sub) {
        size_t n = 0;
        for (svc_view *o = s->views.list; o; o = o->next) n += sub_find(o, c) != NULL;
        if (n >= VIEW_MAX_PER_CLIENT) {
            if (!v->n_subs && v->kind == VIEW_PORT) view_free(v); /* made for it: nobody else has it */
            return svc_answer_now(s, r, 429,
                                  svc_error_body("a client watches at most %d views at once; unsubscribe from one "
                                                 "first (view:unsubscribe)",
                                                 VIEW_MAX_PER_CLIENT));
        }
        if (!(sub = weir__calloc(1, sizeof *sub)))
            return svc_answer_now(s, r, 503, svc_error_body("out of memory subscribing to view %s", name));
        sub->c = c;
        sub->next = v->subs;
        v->subs = sub;
        v->n_subs++;
        s->views.n_subs++;
    }
    sub->seq = json_is_integer(since_v) ? (uint64_t)json_integer_value(since_v) : 0;
    rounds_start(s);
    refresh(v); /* what it is sent now is the value now */
    svc_answer_now(s, r, 200, json_pack("{s:s,s:I}", "view", name, "seq", (json_int_t)v->seq));
    /* after the answer: an init, or what it missed since `since`, or nothing;
     * a connection still behind with what it was sent gets it from a round
     * once it drains (subscribing again and again queues nothing more) */
    if (svc_client_backlog(c) > VIEW_BACKLOG_BYTES) s->views.held++;
    else catch_up(v, sub);
}

void svc_view_unsubscribe(weir_service *s, svc_reply *r, svc_client *c, json_t *data) {
    const char *name = json_string_value(json_object_get(data, "view"));
    if (!name) return svc_answer_now(s, r, 400, svc_error_body("view:unsubscribe is {\"view\": string}"));
    svc_view *v = view_find(s, name);
    bool was = v && sub_remove(v, c);
    svc_answer_now(s, r, 200, json_pack("{s:s,s:b}", "view", name, "unsubscribed", was));
}

void svc_views_client_gone(weir_service *s, svc_client *c) {
    for (svc_view *v = s->views.list, *next; v; v = next) {
        next = v->next; /* a port view may be freed */
        sub_remove(v, c);
    }
}

void svc_views_exec_gone(weir_service *s, svc_exec *x) {
    for (svc_view *v = s->views.list; v; v = v->next) {
        if (v->x != x) continue;
        if (v->kind == VIEW_EXECUTION) refresh(v); /* it shows the final state from now on */
        if (v->tapped) weir_exec_untap(x->e, v->node, v->port, on_tap, v);
        v->tapped = false;
        v->x = NULL;
    }
    json_decref(x->view_row.row);
    x->view_row.row = NULL;
}

/* What an upgraded x's graph lacks for port view v, into buf (tap: why
 * its tap failed). */
static const char *lacks(svc_view *v, svc_exec *x, const weir_error *tap, char *buf, size_t cap) {
    weir_graph *g = weir_exec_graph(x->e);
    bool node = false;
    for (size_t i = 0; i < weir_graph_node_count(g) && !node; i++)
        node = strcmp(weir_graph_node_id(g, i), v->node) == 0;
    if (tap->code != WEIR_ENOTFOUND) snprintf(buf, cap, "%.400s", tap->message);
    else if (node) snprintf(buf, cap, "its node \"%.200s\" has no output port \"%.200s\"", v->node, v->port);
    else snprintf(buf, cap, "it has no node \"%.200s\"", v->node);
    return buf;
}

void svc_views_exec_upgraded(weir_service *s, svc_exec *x, const char *graph_id) {
    for (svc_view *v = s->views.list, *next; v; v = next) {
        next = v->next; /* one may be freed */
        if (v->x != x || v->kind != VIEW_PORT || v->end) continue;
        /* tapped again on the new graph: the core dropped the tap with its node, or kept it */
        if (v->tapped) weir_exec_untap(x->e, v->node, v->port, on_tap, v);
        weir_error err;
        v->tapped = !weir_exec_tap(x->e, v->node, v->port, on_tap, v, &err);
        if (v->tapped) continue;
        const char *version = weir_graph_version(weir_exec_graph(x->e));
        char msg[WEIR_ERROR_MAX], why[512];
        snprintf(msg, sizeof msg, "view %.600s ended: execution %s was upgraded to graph %.64s%s%.64s, and %s; "
                 "subscribe to a port of the new graph", v->name, x->id, graph_id, version ? " version " : "",
                 version ? version : "", lacks(v, x, &err, why, sizeof why));
        v->end = json_pack("{s:s,s:s,s:s}", "view", v->name, "error", msg, "code", weir_errname(err.code));
        v->end_mark = s->j_mark; /* the upgrade's record: told once it is durable */
        if (!v->end) view_free(v); /* out of memory: dropped untold (a subscriber re-subscribing learns why) */
    }
}

void svc_views_free(weir_service *s) {
    while (s->views.list) view_free(s->views.list);
    if (s->views.timer) {
        uv_timer_stop(s->views.timer);
        uv_close((uv_handle_t *)s->views.timer, timer_freed);
        s->views.timer = NULL;
    }
}
