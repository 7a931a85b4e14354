/*
 * Time travel and fork (SPEC §7.2): an execution as of the end of any wave
 * of its past, rebuilt from its journal in a scratch core; and a new
 * execution that continues from there.
 *
 * A record carries the tick the execution had before it, so the record
 * after it says where it ended.  The records are applied one behind the
 * read: a record that ends at or before the tick asked for is applied
 * whole; one that starts before it and ends after it (a resume that drains
 * a queue, a wave of an effect result that runs several) is applied in
 * stepping mode and stepped, invocation by invocation, to the end of the
 * wave asked for.  Applying is what the execution did, so the states are
 * exactly those it had then (SPEC §4.3).
 *
 * What is read is what is committed: the journal is synced first (its
 * newest records may still be on their way to the disk).
 *
 * Cost: from the newest snapshot at or before the tick (SNAPSHOT_EVERY),
 * at most that many records are replayed.  A fork replays the whole past:
 * its own journal gets every record again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "service/service_internal.h"
#include "service/answer.h"
#include "store/journal.h"

typedef struct travel {
    weir_service *s;
    uint64_t tick;   /* the end of this wave */
    bool latest;     /* or everything */
    weir_exec *e;    /* where the records are applied */
    svc_exec *fork;  /* forking: e is fork->e (NULL: a scratch core) */
    const char *src_id;
    weir_graph *g;
    json_t *start;   /* the START body (a reference) */
    json_t *pend;    /* the record read but not applied yet (its body, a reference) */
    int pend_kind;
    int64_t pend_seq, pend_time, pend_tick;
    int64_t last_time; /* the time of the last record applied */
    json_t *rt_opts;   /* a fork: the runtime options the source had last (unused otherwise) */
    weir_error err;
} travel;

/* The records applied so far fail to apply: the journal and this build
 * disagree (SPEC §7.3's replay names where). */
static int applied(travel *t, int rc, int64_t seq) {
    if (!rc) return 0;
    char why[WEIR_ERROR_MAX];
    snprintf(why, sizeof why, "%s", t->err.message);
    return weir__error(&t->err, rc, "record %lld of execution %s does not replay: %s", (long long)seq, t->src_id,
                       why);
}

static int apply_body(travel *t, json_t *body, int64_t time, int64_t tick, int64_t seq) {
    weir_input_rec in;
    int rc = weir_input_parse(body, time, (uint64_t)tick, &in, &t->err);
    if (!rc) rc = weir_exec_apply(t->e, &in, NULL, NULL, &t->err);
    t->last_time = time;
    return applied(t, rc, seq);
}

/* The pending record starts before the tick asked for and may end after
 * it: stepped to the end of that wave. */
static int apply_crossing(travel *t) {
    weir_exec *e = t->e;
    if (weir_exec_tick(e) >= t->tick) return 0;
    weir_exec_stepping(e, true, t->pend_time);
    int rc = apply_body(t, t->pend, t->pend_time, t->pend_tick, t->pend_seq);
    while (!rc && weir_exec_state(e) == WEIR_STATE_RUNNING) {
        weir_step st;
        rc = weir_exec_step(e, t->pend_time, &st, &t->err);
        if (rc || !st.stepped || (st.wave_done && weir_exec_tick(e) >= t->tick)) break;
    }
    return applied(t, rc, t->pend_seq);
}

static void pend_clear(travel *t) {
    json_decref(t->pend);
    t->pend = NULL;
}

/* Record 1: the graph, and (time travel) the scratch core made. */
static int make(travel *t, const weir_journal_record *r) {
    weir_service *s = t->s;
    int rc = svc_journal_start_graph(r->body, r->kind, &t->g, &t->err);
    if (rc) return rc;
    t->start = json_incref(r->body);
    json_t *opts = json_object_get(r->body, "options");
    t->rt_opts = json_incref(opts);
    if (t->fork) {
        t->e = t->fork->e;
        return 0;
    }
    weir_exec_options o = {.timeout_ms = -1,
                           .default_timeout_ms = s->cfg.default_execution_timeout,
                           .max_queue = s->cfg.max_backpressure_queue,
                           .max_wave_hops = s->cfg.max_wave_hops,
                           .max_trace_hops = s->cfg.max_trace_hops,
                           .id = t->src_id,
                           .runtime = json_string_value(json_object_get(r->body, "runtime"))};
    if ((rc = weir_exec_options_read(json_is_object(opts) ? opts : NULL, "", &o, NULL, &t->err))) return rc;
    weir_shell none = {0}; /* no events, no effects: a scratch core */
    return weir_exec_create(t->g, &o, &none, &t->e, &t->err);
}

static int begin(travel *t, const weir_journal_record *r) {
    int rc = make(t, r);
    if (rc) return rc;
    t->last_time = r->time_ms;
    weir_input_rec st = {.kind = WEIR_IN_START, .now_ms = r->time_ms};
    rc = weir_exec_apply(t->e, &st, NULL, NULL, &t->err);
    return rc == WEIR_ERUNTIME ? 0 : applied(t, rc, 1); /* failed in initialize, as it did then */
}

static int make_only(void *ud, const weir_journal_record *r) {
    travel *t = ud;
    int rc = r->seq == 1 ? make(t, r) : 0;
    return rc ? rc : 1;
}

/* Time travel starts from the newest snapshot at or before the tick, when
 * there is one that restores: *from and anchor say where to read on. */
static bool from_snapshot(travel *t, const char *id, weir_journal_snap *snap) {
    weir_service *s = t->s;
    weir_error err;
    if (t->fork) return false; /* a fork journals its whole past again */
    if (weir_journal_snapshot_find(s->journal, id, INT64_MAX, t->latest ? INT64_MAX : (int64_t)t->tick, snap, &err))
        return false;
    if (weir_journal_read(s->journal, id, 1, NULL, make_only, t, NULL, &err) == 1 && t->e &&
        weir_exec_restore(t->e, json_object_get(snap->state, "core"), &err) == 0) {
        t->last_time = snap->time_ms;
        return true;
    }
    weir_exec_destroy(t->e); /* it does not restore: the whole journal is replayed */
    t->e = NULL;
    weir_graph_unref(t->g);
    t->g = NULL;
    json_decref(t->start);
    t->start = NULL;
    json_decref(t->rt_opts);
    t->rt_opts = NULL;
    return false;
}

/* Read one record ahead: the next record's tick is where the pending one
 * ended. */
static int on_record(void *ud, const weir_journal_record *r) {
    travel *t = ud;
    if (r->kind == WEIR_JOURNAL_SCHEDULED) return 0; /* the virtual clock's own: not an input */
    if (r->seq == 1) return begin(t, r);
    if (!t->e) return weir__error(&t->err, WEIR_EINVAL, "record %lld comes before a start record", (long long)r->seq);
    int rc = 0;
    if (t->pend) {
        bool crosses = !t->latest && (uint64_t)r->tick > t->tick;
        rc = crosses ? apply_crossing(t) : apply_body(t, t->pend, t->pend_time, t->pend_tick, t->pend_seq);
        if (!rc && t->fork && json_is_string(json_object_get(t->pend, "op")) &&
            strcmp(json_string_value(json_object_get(t->pend, "op")), "switch") == 0) {
            json_decref(t->rt_opts);
            t->rt_opts = json_incref(json_object_get(t->pend, "options"));
        }
        pend_clear(t);
        if (rc) return rc;
        if (crosses) return 1; /* done */
    }
    if (!t->latest && (uint64_t)r->tick >= t->tick) return 1; /* the rest is after it */
    t->pend = json_incref(r->body);
    t->pend_kind = r->kind;
    t->pend_seq = r->seq;
    t->pend_time = r->time_ms;
    t->pend_tick = r->tick;
    return 0;
}

/* Apply x's journal into t (t->e or the fork's core) up to t->tick. */
static int travel_run(travel *t, svc_exec *x, weir_error *err) {
    weir_service *s = t->s;
    if (!s->journal || !x->journaled)
        return weir__error(err, WEIR_ESTATE,
                           "execution %s keeps no journal (the server runs with --memory, or it was started before "
                           "the journal was there): there is no past to go back to",
                           x->id);
    int rc = weir_journal_sync(s->journal, err);
    if (rc) return weir__error(err, WEIR_EUNAVAILABLE, "the journal cannot be read now: %s", err->message);
    weir_journal_fault fault;
    weir_error rerr = {0};
    weir_journal_snap snap = {0};
    bool snapped = from_snapshot(t, x->id, &snap);
    rc = weir_journal_read(s->journal, x->id, snapped ? snap.seq + 1 : 1, snapped ? snap.chain : NULL, on_record, t,
                           &fault, &rerr);
    json_decref(snap.state);
    if (rc == 1) rc = 0;
    else if (!rc && t->pend) {
        rc = t->latest ? apply_body(t, t->pend, t->pend_time, t->pend_tick, t->pend_seq) : apply_crossing(t);
        pend_clear(t);
    }
    if (rc) {
        *err = t->err.code ? t->err : rerr;
        return rc == WEIR_ENOMEM ? rc : err->code ? err->code : rc;
    }
    if (!t->e) return weir__error(err, WEIR_ENOTFOUND, "execution %s has no journal yet", x->id);
    if (!t->latest && weir_exec_tick(t->e) < t->tick)
        return weir__error(err, WEIR_ENOTFOUND,
                           "tick %llu is beyond the journal of execution %s: its newest tick is %llu (GET "
                           "/api/executions/%s/at/latest)",
                           (unsigned long long)t->tick, x->id, (unsigned long long)weir_exec_tick(t->e), x->id);
    return 0;
}

static void travel_free(travel *t) {
    pend_clear(t);
    json_decref(t->start);
    json_decref(t->rt_opts);
    if (!t->fork) weir_exec_destroy(t->e);
    weir_graph_unref(t->g);
}

int svc_travel_at(weir_service *s, svc_exec *x, uint64_t tick, bool latest, json_t **out, weir_error *err) {
    *out = NULL;
    travel t = {.s = s, .tick = tick, .latest = latest, .src_id = x->id};
    int rc = travel_run(&t, x, err);
    if (!rc) {
        *out = json_pack("{s:s,s:I,s:s,s:o,s:o}", "executionId", x->id, "tick", (json_int_t)weir_exec_tick(t.e),
                         "state", weir_state_name(weir_exec_state(t.e)), "nodes", weir_exec_states(t.e), "metrics",
                         weir_exec_metrics(t.e, t.last_time));
        if (!*out) rc = weir__error(err, WEIR_ENOMEM, "out of memory");
    }
    travel_free(&t);
    return rc;
}

/* The fork's START body: the source's, on its own runtime, saying where it
 * came from. */
static json_t *fork_start(json_t *src, const char *src_id, uint64_t tick, const char *runtime) {
    json_t *b = json_deep_copy(src);
    if (!b) return NULL;
    json_object_set_new(b, "runtime", json_string(runtime));
    json_object_set_new(b, "forkOf", json_pack("{s:s,s:I}", "executionId", src_id, "tick", (json_int_t)tick));
    return b;
}

int svc_travel_fork(weir_service *s, svc_exec *x, uint64_t tick, bool latest, const char *runtime, json_t *rt_opts,
                    svc_exec **out, weir_error *err) {
    *out = NULL;
    if (s->shutting_down) return weir__error(err, WEIR_ESTATE, "the server is shutting down");
    if (s->n_running >= s->cfg.max_concurrent_executions)
        return weir__error(err, WEIR_ELIMIT,
                           "maximum concurrent executions reached (%u, MAX_CONCURRENT_EXECUTIONS); stop one or retry "
                           "later",
                           s->cfg.max_concurrent_executions);
    if (!runtime) runtime = "virtual";
    /* The graph and options first (record 1), then the fork is made and the
     * rest applied to it: each record is journaled again as its own. */
    travel probe = {.s = s, .tick = 0, .latest = false, .src_id = x->id};
    int rc = travel_run(&probe, x, err);
    weir_graph *g = probe.g ? weir_graph_ref(probe.g) : NULL;
    json_t *start = json_incref(probe.start);
    travel_free(&probe);
    if (rc && rc != WEIR_ENOTFOUND) {
        weir_graph_unref(g);
        json_decref(start);
        return rc;
    }
    if (!g || !start) {
        weir_graph_unref(g);
        json_decref(start);
        return weir__error(err, WEIR_ENOTFOUND, "execution %s has no journal yet", x->id);
    }
    svc_exec *f;
    rc = svc_exec_make(s, g, x->graph_id, json_object_get(start, "options"), NULL, runtime, rt_opts, true, &f, err);
    weir_graph_unref(g);
    if (!rc && !(f->start_body = fork_start(start, x->id, tick, f->rt.name))) rc = weir__error(err, WEIR_ENOMEM, "out of memory");
    json_decref(start);
    if (rc) {
        if (f) svc_exec_free(f);
        return rc;
    }
    weir_shell none = {0};
    weir_exec_adopt(f->e, &none, svc_now(s)); /* nothing is performed while the past is applied */
    if ((rc = svc_exec_list(s, f, err))) {
        svc_exec_free(f);
        return rc;
    }
    travel t = {.s = s, .tick = tick, .latest = latest, .fork = f, .src_id = x->id};
    rc = travel_run(&t, x, err);
    int64_t clock = t.last_time;
    char *name = weir__strdup(f->rt.name ? f->rt.name : runtime);
    travel_free(&t);
    if (!rc && !name) rc = weir__error(err, WEIR_ENOMEM, "out of memory");
    if (!rc) {
        /* Its own runtime, the clock going on from the fork's tick; if the
         * source ran on another, the switch is its first input of its own
         * (journaled: its recovery makes the same runtime). */
        json_t *xj = weir_exec_json(f->e);
        const char *was = json_string_value(json_object_get(xj, "runtime"));
        bool same = was && strcmp(was, name) == 0;
        rc = svc_journal_reattach(f, name, rt_opts, clock, same, err);
        if (!rc && !same && !weir_state_finished(weir_exec_state(f->e))) {
            weir_shell half;
            svc_journal_half(f, &half);
            rc = weir_exec_switch_runtime(f->e, &half, clock, svc_exec_now(f), was, f->rt.name, err);
        }
        json_decref(xj);
    }
    weir__free(name);
    if (rc) {
        /* what it journaled stays, finished: the fork failed, visibly */
        weir_exec_abort(f->e, svc_now(s), err->message);
        return rc;
    }
    json_t *fl = json_pack("{s:s,s:s,s:I}", "executionId", f->id, "forkOf", x->id, "tick",
                           (json_int_t)weir_exec_tick(f->e));
    weir_service_log(s, WEIR_LOG_INFO, fl, "execution forked");
    json_decref(fl);
    *out = f;
    return 0;
}

/* Keep only node `node` of body.nodes (WEIR_ENOTFOUND when absent). */
static int only_node(json_t *body, const char *id, const char *node, weir_error *err) {
    json_t *nodes = json_object_get(body, "nodes");
    json_t *one = json_incref(json_object_get(nodes, node));
    if (!one) return weir__error(err, WEIR_ENOTFOUND, "execution %s has no node \"%s\"", id, node);
    json_object_clear(nodes);
    json_object_set_new(nodes, node, one);
    return 0;
}

int svc_state_body(weir_service *s, svc_exec *x, const char *node, const char *at, json_t **out, weir_error *err) {
    *out = NULL;
    json_t *body = NULL;
    int rc = 0;
    if (at) {
        bool latest = strcmp(at, "latest") == 0;
        char *end;
        unsigned long long tick = latest ? 0 : strtoull(at, &end, 10);
        if (!latest && (!at[0] || *end || at[0] == '-'))
            return weir__error(err, WEIR_EINVAL, "tick must be a whole number or \"latest\" (got \"%s\")", at);
        if ((rc = svc_travel_at(s, x, tick, latest, &body, err))) return rc;
        json_object_set_new(body, "atTick", latest ? json_string("latest") : json_integer((json_int_t)tick));
    } else {
        body = json_pack("{s:s,s:I,s:s,s:o*}", "executionId", x->id, "tick", (json_int_t)weir_exec_tick(x->e), "state",
                         weir_state_name(weir_exec_state(x->e)), "nodes", weir_exec_states(x->e));
        if (!body) return weir__error(err, WEIR_ENOMEM, "out of memory building the node states of %s", x->id);
    }
    if (node && (rc = only_node(body, x->id, node, err))) {
        json_decref(body);
        return rc;
    }
    size_t limit = s->cfg.max_answer_bytes;
    if (svc_json_size(body, limit) > limit) {
        json_decref(body);
        return weir__error(err, WEIR_ETOOLARGE,
                           "the node states of %s are larger than MAX_ANSWER_BYTES (%zu bytes): ask for one node "
                           "(?node=ID), or raise MAX_ANSWER_BYTES",
                           x->id, limit);
    }
    *out = body;
    return 0;
}
