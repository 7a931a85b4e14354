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
#include "store/journal_file.h"

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
    json_t *upgrade;   /* from a snapshot taken after an upgrade: its body (the graph the core is made of) */
    bool check;        /* an import: each record's digest, where the file has one, must match */
    unsigned char pend_digest[WEIR_JOURNAL_DIGEST_SIZE];
    bool pend_has_digest;
    const unsigned char *cur_digest; /* the digest of the record being read (a file's) */
    int64_t clock;                   /* a virtual clock record read (0: none) */
    json_t *schedules; /* injects scheduled on the virtual clock by then (their records' bodies) */
    size_t delivered;  /* ... of which came due by then */
    int64_t records;   /* records applied */
    weir_error err;
} travel;

/* Where the records come from: an execution's journal, or a journal file. */
typedef struct source {
    svc_exec *x;
    const char *text;
    size_t len;
    const char *label; /* the execution id, or the file's */
} source;

/* The records applied so far fail to apply: the journal and this build
 * disagree (SPEC §7.3's replay names where). */
static int applied(travel *t, int rc, int64_t seq) {
    if (!rc) return 0;
    char why[WEIR_ERROR_MAX];
    snprintf(why, sizeof why, "%s", t->err.message);
    return weir__error(&t->err, rc, "record %lld of execution %s does not replay: %s", (long long)seq, t->src_id,
                       why);
}

/* A fork or an import journals every record again, in one go: when half
 * the journal's queue is taken, it waits for the disk (the loop is held
 * for the whole copy anyway) rather than fill it. */
static int make_room(travel *t) {
    weir_service *s = t->s;
    if (!t->fork || !s->journal) return 0;
    weir_journal_stats st;
    weir_journal_stats_get(s->journal, &st);
    size_t max = s->cfg.journal_queue_max ? s->cfg.journal_queue_max : WEIR_JOURNAL_QUEUE_MAX_DEFAULT;
    if (st.outstanding < max / 2) return 0;
    if (weir_journal_sync(s->journal, &t->err)) return WEIR_EUNAVAILABLE;
    weir_journal_poll(s->journal);
    return 0;
}

static int apply_body(travel *t, json_t *body, int64_t time, int64_t tick, int64_t seq) {
    weir_input_rec in;
    weir_input_digest got;
    if (make_room(t)) return applied(t, WEIR_EUNAVAILABLE, seq);
    int rc = svc_journal_apply(t->e, body, time, tick, &in, &got, &t->err);
    if (!rc && t->fork && in.kind == WEIR_IN_UPGRADE) svc_hooks_reattach(t->fork);
    if (!rc && in.kind == WEIR_IN_INJECT && (in.flags & WEIR_INJECT_SCHEDULED)) t->delivered++;
    t->last_time = time;
    t->records++;
    weir_input_digest want;
    if (!rc && t->check && t->pend_has_digest && weir_journal_digest_decode(t->pend_digest, &want) == 0 &&
        (want.tick != got.tick || want.hops != got.hops || want.outputs != got.outputs || want.hash != got.hash ||
         want.state != got.state))
        return weir__error(&t->err, WEIR_EINVAL,
                           "record %lld (%s at tick %lld) does not produce what the file says it did (tick %llu, %llu "
                           "hops, %llu outputs, state %s expected; tick %llu, %llu hops, %llu outputs, state %s "
                           "here): weir replay on the file says more",
                           (long long)seq, json_string_value(json_object_get(body, "op")), (long long)tick,
                           (unsigned long long)want.tick, (unsigned long long)want.hops,
                           (unsigned long long)want.outputs, weir_state_name(want.state), (unsigned long long)got.tick,
                           (unsigned long long)got.hops, (unsigned long long)got.outputs, weir_state_name(got.state));
    return applied(t, rc, seq);
}

/* The pending record starts before the tick asked for and may end after
 * it: stepped to the end of that wave. */
/* Step e, invocation by invocation, until the wave of t->tick is over
 * (or nothing is left to step). */
static int step_to(travel *t, int64_t now, int64_t seq) {
    weir_exec *e = t->e;
    int rc = 0;
    while (weir_exec_state(e) == WEIR_STATE_RUNNING &&
           (weir_exec_wave_open(e) || weir_exec_tick(e) < t->tick)) {
        weir_step st;
        rc = weir_exec_step(e, now, &st, &t->err);
        if (rc || !st.stepped || (st.wave_done && weir_exec_tick(e) >= t->tick)) break;
    }
    return applied(t, rc, seq);
}

static int apply_crossing(travel *t) {
    weir_exec *e = t->e;
    if (weir_exec_tick(e) >= t->tick && !weir_exec_wave_open(e)) return 0;
    const char *op = json_string_value(json_object_get(t->pend, "op"));
    /* stepping turned off runs every queued input at once: stepped instead */
    bool off = op && strcmp(op, "stepping") == 0 && !json_is_true(json_object_get(t->pend, "on"));
    weir_exec_stepping(e, true, t->pend_time);
    int rc = off ? 0 : apply_body(t, t->pend, t->pend_time, t->pend_tick, t->pend_seq);
    return rc ? rc : step_to(t, t->pend_time, t->pend_seq);
}

static void pend_clear(travel *t) {
    json_decref(t->pend);
    t->pend = NULL;
}

/* Record 1: the graph, and (time travel) the scratch core made. */
static int make(travel *t, const weir_journal_record *r) {
    weir_service *s = t->s;
    int rc = svc_journal_start_graph(r->body, r->kind, &t->g, &t->err);
    if (!rc && t->upgrade) {
        weir_graph_unref(t->g);
        rc = svc_journal_body_graph(t->upgrade, &t->g, &t->err);
    }
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
    svc_exec_settings(opts, &o);
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
    /* A snapshot taken at tick T may hold inputs after wave T (a pause at
     * the same tick): one from before it, and the records after it. */
    if (!t->latest && t->tick == 0) return false;
    if (weir_journal_snapshot_find(s->journal, id, INT64_MAX, t->latest ? INT64_MAX : (int64_t)t->tick - 1, snap,
                                   &err))
        return false;
    t->upgrade = json_object_get(snap->state, "upgrade");
    int rc = weir_journal_read(s->journal, id, 1, NULL, make_only, t, NULL, &err);
    t->upgrade = NULL;
    if (rc == 1 && t->e && weir_exec_restore(t->e, json_object_get(snap->state, "core"), &err) == 0) {
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
    if (r->kind == WEIR_JOURNAL_SCHEDULED) { /* the virtual clock's own: not an input */
        const char *op = json_string_value(json_object_get(r->body, "op"));
        bool by_then = t->latest || (uint64_t)r->tick <= t->tick;
        if (op && strcmp(op, "clock") == 0 && by_then) t->clock = json_integer_value(json_object_get(r->body, "now"));
        if (op && strcmp(op, "schedule") == 0 && by_then && t->fork &&
            (t->schedules || (t->schedules = json_array())))
            json_array_append(t->schedules, r->body);
        return 0;
    }
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
    t->pend_has_digest = t->cur_digest != NULL;
    if (t->cur_digest) memcpy(t->pend_digest, t->cur_digest, WEIR_JOURNAL_DIGEST_SIZE);
    t->pend_kind = r->kind;
    t->pend_seq = r->seq;
    t->pend_time = r->time_ms;
    t->pend_tick = r->tick;
    return 0;
}

/* A line of a journal file, as a record of the store. */
static int file_record(void *ud, const weir_jfile_rec *rec) {
    travel *t = ud;
    t->cur_digest = rec->digest && rec->digest_len == WEIR_JOURNAL_DIGEST_SIZE ? rec->digest : NULL;
    int rc = on_record(ud, &rec->r);
    t->cur_digest = NULL;
    return rc;
}

/* Apply the source's records into t (t->e or the fork's core) up to
 * t->tick. */
static int travel_run(travel *t, const source *src, weir_error *err) {
    weir_service *s = t->s;
    svc_exec *x = src->x;
    weir_error rerr = {0};
    int rc;
    if (x) {
        if (!s->journal || !x->journaled)
            return weir__error(err, WEIR_ESTATE,
                               "execution %s keeps no journal (the server runs with --memory, or it was started "
                               "before the journal was there): there is no past to go back to",
                               x->id);
        rc = weir_journal_sync(s->journal, err);
        if (rc) return weir__error(err, WEIR_EUNAVAILABLE, "the journal cannot be read now: %s", err->message);
        weir_journal_fault fault;
        weir_journal_snap snap = {0};
        bool snapped = from_snapshot(t, x->id, &snap);
        rc = weir_journal_read(s->journal, x->id, snapped ? snap.seq + 1 : 1, snapped ? snap.chain : NULL, on_record,
                               t, &fault, &rerr);
        json_decref(snap.state);
    } else {
        uint64_t line = 0;
        rc = weir_jfile_read(src->text, src->len, file_record, t, &line, &rerr);
        if (rc && rc != 1 && !t->err.code && rc != WEIR_ENOMEM) rc = WEIR_EINVAL; /* a broken file: bad input */
    }
    if (rc == 1) rc = 0;
    else if (!rc && t->pend) {
        rc = t->latest ? apply_body(t, t->pend, t->pend_time, t->pend_tick, t->pend_seq) : apply_crossing(t);
        pend_clear(t);
    }
    /* stopped inside a stepped wave: to its end, as the tick asks */
    if (!rc && !t->latest && t->e && weir_exec_wave_open(t->e)) rc = step_to(t, t->last_time, 0);
    if (rc) {
        *err = t->err.code ? t->err : rerr;
        return rc == WEIR_ENOMEM ? rc : err->code ? err->code : rc;
    }
    if (!t->e) return weir__error(err, WEIR_ENOTFOUND, "%s has no journal yet", src->label);
    if (!t->latest && weir_exec_tick(t->e) < t->tick)
        return weir__error(err, WEIR_ENOTFOUND,
                           "tick %llu is beyond the journal of execution %s: its newest tick is %llu (GET "
                           "/api/executions/%s/at/latest)",
                           (unsigned long long)t->tick, src->label, (unsigned long long)weir_exec_tick(t->e),
                           src->label);
    return 0;
}

static void travel_free(travel *t) {
    pend_clear(t);
    json_decref(t->schedules);
    json_decref(t->start);
    json_decref(t->rt_opts);
    if (!t->fork) weir_exec_destroy(t->e);
    weir_graph_unref(t->g);
}

int svc_travel_at(weir_service *s, svc_exec *x, uint64_t tick, bool latest, json_t **out, weir_error *err) {
    *out = NULL;
    travel t = {.s = s, .tick = tick, .latest = latest, .src_id = x->id};
    source src = {.x = x, .label = x->id};
    int rc = travel_run(&t, &src, err);
    if (!rc) {
        *out = json_pack("{s:s,s:I,s:s,s:o,s:o}", "executionId", x->id, "tick", (json_int_t)weir_exec_tick(t.e),
                         "state", weir_state_name(weir_exec_state(t.e)), "nodes", weir_exec_states(t.e), "metrics",
                         weir_exec_metrics(t.e, t.last_time));
        if (!*out) rc = weir__error(err, WEIR_ENOMEM, "out of memory");
    }
    travel_free(&t);
    return rc;
}

/* The new execution's START body: the source's, on its own runtime,
 * saying where it came from (from: {"forkOf": ...} or {"importedFrom": ...}). */
static json_t *new_start(json_t *src, const char *id, const char *key, json_t *from, const char *runtime) {
    json_t *b = json_deep_copy(src);
    if (!b) return NULL;
    json_object_set_new(b, "executionId", json_string(id));
    json_object_set_new(b, "runtime", json_string(runtime));
    json_object_del(b, "forkOf");
    json_object_del(b, "importedFrom");
    json_object_set(b, key, from);
    return b;
}

/* A new execution whose journal is the source's up to the tick (its
 * records applied and journaled again as its own), going on from there on
 * `runtime` (NULL: virtual).  key/from: what its START says it came from. */
static int continue_from(weir_service *s, const source *src, uint64_t tick, bool latest, bool check,
                         const char *runtime, json_t *rt_opts, const char *key, json_t *from, svc_exec **out,
                         weir_error *err) {
    *out = NULL;
    if (s->shutting_down) return weir__error(err, WEIR_ESTATE, "the server is shutting down");
    if (s->n_running >= s->cfg.max_concurrent_executions)
        return weir__error(err, WEIR_ELIMIT,
                           "maximum concurrent executions reached (%u, MAX_CONCURRENT_EXECUTIONS); stop one or retry "
                           "later",
                           s->cfg.max_concurrent_executions);
    if (!runtime) runtime = "virtual";
    if (!weir_runtimes_has(s->runtimes, runtime)) runtime = weir_runtimes_default(s->runtimes); /* as a switch does */
    /* The graph and options first (record 1), then the new execution is
     * made and the rest applied to it. */
    travel probe = {.s = s, .tick = 0, .latest = false, .src_id = src->label};
    int rc = travel_run(&probe, src, err);
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
        return weir__error(err, WEIR_ENOTFOUND, "%s has no journal yet", src->label);
    }
    const char *gid = json_string_value(json_object_get(start, "graphId"));
    svc_exec *f;
    rc = svc_exec_make(s, g, gid ? gid : weir_graph_id(g), json_object_get(start, "options"), NULL, runtime, rt_opts,
                       SVC_MAKE_JOURNAL | SVC_MAKE_NO_RUNTIME, &f, err);
    weir_graph_unref(g);
    /* its zones pinned: the source's (a source journaled before zones were
     * pinned: what its graph read now, so the new one stays as it is) */
    if (!rc && (!(f->start_body = new_start(start, f->id, key, from, runtime)) ||
                svc_graph_zones(f->start_body, weir_exec_graph(f->e))))
        rc = weir__error(err, WEIR_ENOMEM, "out of memory");
    if (!rc) f->derived = true; /* a what-if: the graph's hooks stay with the execution it came from */
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
    travel t = {.s = s, .tick = tick, .latest = latest, .fork = f, .src_id = src->label, .check = check};
    rc = travel_run(&t, src, err);
    int64_t clock = t.clock > t.last_time ? t.clock : t.last_time; /* a virtual clock goes on from where it was */
    char *name = weir__strdup(f->rt.name ? f->rt.name : runtime);
    json_t *schedules = json_incref(t.schedules);
    size_t delivered = t.delivered;
    travel_free(&t);
    if (!rc && !name) rc = weir__error(err, WEIR_ENOMEM, "out of memory");
    if (!rc) {
        /* Its own runtime, the clock going on from the tick; if the source
         * ran on another, the switch is its first input of its own
         * (journaled: its recovery makes the same runtime). */
        json_t *xj = weir_exec_json(f->e);
        const char *was = json_string_value(json_object_get(xj, "runtime"));
        bool same = was && strcmp(was, name) == 0;
        rc = svc_journal_reattach(f, name, rt_opts, clock, same, err);
        f->clock_journaled = 0;
        if (!rc) svc_journal_clock(f); /* a virtual clock: where it starts, for its own recovery */
        /* the injects the source had scheduled go on with it: all of them
         * in its own journal (its recovery counts which came due), those
         * not due yet on its clock (a virtual one; on another runtime they
         * are dropped, and said so) */
        size_t k;
        json_t *b;
        json_array_foreach(schedules, k, b) {
            weir_inject in = {json_string_value(json_object_get(b, "node")),
                              json_string_value(json_object_get(b, "port")), json_object_get(b, "value"), 0, NULL};
            if (!rc) rc = svc_journal_schedule(f, &in, json_integer_value(json_object_get(b, "dueMs")), err);
        }
        int lost = rc ? 0 : svc_journal_reschedule(f, schedules, delivered);
        if (lost) {
            json_t *lf = json_pack("{s:s,s:i}", "executionId", f->id, "scheduled", lost);
            weir_service_log(s, WEIR_LOG_WARN, lf,
                             "execution %s: %d scheduled inject(s) of %s did not come with it (they need the virtual "
                             "runtime)",
                             f->id, lost, src->label);
            json_decref(lf);
        }
        if (!rc && !same && !weir_state_finished(weir_exec_state(f->e))) {
            weir_shell half;
            svc_journal_half(f, &half);
            rc = weir_exec_switch_runtime(f->e, &half, clock, svc_exec_now(f), was, f->rt.name, err);
        }
        json_decref(xj);
    }
    weir__free(name);
    json_decref(schedules);
    if (rc) { /* nothing is made: not listed, its journal deleted */
        svc_exec_unlist(s, f);
        svc_journal_forget(f, true);
        svc_exec_free(f);
        return rc;
    }
    json_t *fl = json_pack("{s:s,s:O,s:I}", "executionId", f->id, key, from, "tick", (json_int_t)weir_exec_tick(f->e));
    weir_service_log(s, WEIR_LOG_INFO, fl, "execution %s", strcmp(key, "forkOf") == 0 ? "forked" : "imported");
    json_decref(fl);
    *out = f;
    return 0;
}

int svc_travel_fork(weir_service *s, svc_exec *x, uint64_t tick, bool latest, const char *runtime, json_t *rt_opts,
                    svc_exec **out, weir_error *err) {
    source src = {.x = x, .label = x->id};
    json_t *from = latest ? json_pack("{s:s,s:s}", "executionId", x->id, "tick", "latest")
                          : json_pack("{s:s,s:I}", "executionId", x->id, "tick", (json_int_t)tick);
    int rc = from ? continue_from(s, &src, tick, latest, false, runtime, rt_opts, "forkOf", from, out, err)
                  : weir__error(err, WEIR_ENOMEM, "out of memory");
    json_decref(from);
    return rc;
}

static int count_record(void *ud, const weir_jfile_rec *rec) {
    (void)rec;
    (*(int64_t *)ud)++;
    return 0;
}

int svc_travel_import(weir_service *s, const char *text, size_t len, const char *runtime, json_t *rt_opts,
                      svc_exec **out, weir_error *err) {
    /* The whole file is verified first: a broken one makes nothing. */
    int64_t n = 0;
    int rc0 = weir_jfile_read(text, len, count_record, &n, NULL, err);
    if (rc0 && rc0 != WEIR_ENOMEM) err->code = rc0 = WEIR_EINVAL; /* a broken file: bad input (400) */
    if (rc0) return rc0;
    /* Where it came from: the execution id its START carries, if any. */
    const char *nl = memchr(text, '\n', len);
    json_t *first = json_loadb(text, nl ? (size_t)(nl - text) : len, 0, NULL);
    const char *orig = json_string_value(json_object_get(json_object_get(first, "body"), "executionId"));
    json_t *from = json_pack("{s:s?,s:s}", "executionId", orig, "as", "journal file");
    source src = {.text = text, .len = len, .label = "the imported journal"};
    int rc = from ? continue_from(s, &src, 0, true, true, runtime, rt_opts, "importedFrom", from, out, err)
                  : weir__error(err, WEIR_ENOMEM, "out of memory");
    json_decref(from);
    json_decref(first);
    return rc;
}

/* The export's text, bounded. */
typedef struct text_buf {
    char *p;
    size_t len, cap, max;
    bool over;
} text_buf;

static int to_buf(void *ud, const char *data, size_t len) {
    text_buf *b = ud;
    if (b->len + len > b->max) {
        b->over = true;
        return WEIR_ETOOLARGE;
    }
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len + 1) cap *= 2;
        char *p = weir__realloc(b->p, cap);
        if (!p) return WEIR_ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = '\0';
    return 0;
}

int svc_travel_export(weir_service *s, svc_exec *x, size_t max, char **out, size_t *len, weir_error *err) {
    *out = NULL;
    *len = 0;
    if (!s->journal || !x->journaled)
        return weir__error(err, WEIR_ESTATE,
                           "execution %s keeps no journal (the server runs with --memory, or it was started before "
                           "the journal was there)",
                           x->id);
    int rc = weir_journal_sync(s->journal, err);
    if (rc) return weir__error(err, WEIR_EUNAVAILABLE, "the journal cannot be read now: %s", err->message);
    text_buf b = {.max = max};
    weir_journal_fault fault;
    rc = weir_jfile_export(s->journal, x->id, to_buf, &b, &fault, err);
    if (rc && b.over)
        rc = weir__error(err, WEIR_ETOOLARGE,
                    "the journal of %s is larger than MAX_ANSWER_BYTES (%zu bytes): read it with weir replay --data "
                    "DATA_DIR %s (with weir stopped), or raise MAX_ANSWER_BYTES",
                    x->id, max, x->id);
    if (rc) {
        weir__free(b.p);
        return rc;
    }
    *out = b.p;
    *len = b.len;
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
