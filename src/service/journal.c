/*
 * Durable executions in the service (SPEC §7.1): every input of a stored
 * execution is journaled (store/journal.h) before anything it causes leaves
 * the process, and unfinished executions come back at start.
 *
 * Journaling.  The core tells every accepted input (weir_shell.input); it
 * is queued to the journal's writer thread as one record (group commit: one
 * transaction and one fsync for whatever is queued) and processed at once.
 * A record the journal cannot take (its queue full, a failed commit)
 * refuses the input: the caller answers 503 and nothing changed.
 *
 * Output commit.  What an input causes is processed at once but held until
 * its record is durable: answers (REST and socket acknowledgements), events
 * and http requests wait in one list, in the order they were made, each
 * marked with the number of journal items queued when it was made; the
 * journal's done callbacks (run in queue order on the loop) release them.
 * A commit that fails answers what waits 503 (its input may or may not be
 * stored: it is not acknowledged), drops held events and requests, and the
 * journal refuses every write until weir restarts.  Timer and user
 * component effects are not held: they touch nothing outside, and their
 * results are inputs journaled after the record that caused them.
 *
 * Recovery.  Each unfinished execution is read back (its hash chain
 * verified) and its records applied to a fresh core with no runtime: the
 * states, metrics, pending timers and effects are what they were.  Then its
 * runtime is made again and handed every pending effect (weir_exec_adopt):
 * timers with the time they have left (measured from when they were
 * requested: a timer that fell due while weir was down fires at once), http
 * requests performed again with the same Idempotency-Key.  A journal that
 * does not verify, or does not replay, comes back failed naming the record
 * and the reason; the others recover.  The journals of executions that
 * finished before the start are not loaded, but they count in the bounded
 * history of finished executions (MAX_FINISHED_HISTORY) as its oldest: they
 * are deleted first, so the journals on disk stay within it across
 * restarts.
 */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "service/service_internal.h"
#include "store/journal.h"
#include "store/journal_file.h"

/* ------------------------------------------------------------ held outputs */

enum { HELD_REPLY = 1, HELD_HTTP, HELD_EVENT, HELD_EFFECT, HELD_CALL };

typedef struct svc_held {
    int kind;
    uint64_t mark;
    int status;
    json_t *body;      /* reply, http: the body; event: data; effect: payload */
    svc_reply reply;   /* HELD_REPLY (holds the client reference) */
    weir_http_req *req; /* HELD_HTTP */
    uint64_t start_ns;
    char *extra[4];    /* HELD_HTTP: up to two header pairs */
    svc_exec *x;       /* HELD_EVENT, HELD_EFFECT */
    uint64_t seq;      /* event seq / effect id */
    char name[48];     /* event name */
    weir_effect_kind fx_kind;
    char *node;
    int64_t requested;
    void (*fn)(void *ud, const char *failed); /* HELD_CALL */
    void *ud;
    struct svc_held *next;
} svc_held;

static bool holding(const weir_service *s) { return s->journal && s->j_done < s->j_mark; }

static svc_held *held_new(weir_service *s, int kind) {
    svc_held *h = weir__calloc(1, sizeof *h);
    if (!h) return NULL;
    h->kind = kind;
    h->mark = s->j_mark;
    if (s->held_tail) s->held_tail->next = h;
    else s->held = h;
    s->held_tail = h;
    s->n_held++;
    return h;
}

static void held_free(svc_held *h) {
    json_decref(h->body);
    for (int i = 0; i < 4; i++) weir__free(h->extra[i]);
    weir__free(h->node);
    weir__free(h);
}

bool svc_out_hold_reply(weir_service *s, const svc_reply *r, int status, json_t *body) {
    if (!holding(s)) return false;
    svc_held *h = held_new(s, HELD_REPLY);
    if (!h) return false; /* out of memory: sent now rather than lost */
    h->reply = *r;
    h->status = status;
    h->body = body;
    return true;
}

bool svc_out_hold_http(weir_service *s, weir_http_req *req, uint64_t mark, int status, json_t *body,
                       const char *const *extra, uint64_t start_ns) {
    if (!s->journal || s->j_done >= mark) return false;
    svc_held *h = held_new(s, HELD_HTTP);
    if (!h) return false;
    h->mark = mark;
    h->req = req;
    h->status = status;
    h->body = body;
    h->start_ns = start_ns;
    for (int i = 0; extra && extra[i] && i < 4; i++) h->extra[i] = weir__strdup(extra[i]);
    return true;
}

bool svc_out_hold_call(weir_service *s, uint64_t mark, void (*fn)(void *ud, const char *failed), void *ud) {
    if (!s->journal || s->j_done >= mark) return false;
    svc_held *h = held_new(s, HELD_CALL);
    if (!h) return false;
    h->mark = mark;
    h->fn = fn;
    h->ud = ud;
    return true;
}

/* Events one execution may have waiting for output commit: past it (a
 * wave of a million hops, each an event, made faster than the disk takes
 * its input) they are dropped and its subscribers cut off, to subscribe
 * again with since and be told what they missed (a resync). */
#define HELD_EVENTS_MAX 16384

static void held_drop(weir_service *s, svc_exec *x, int kind);

void svc_out_event(svc_exec *x, uint64_t seq, const char *name, json_t *data) {
    weir_service *s = x->svc;
    if (!x->feed) return;
    if (!holding(s)) x->held_events = 0;
    if (holding(s) && x->held_events >= HELD_EVENTS_MAX) {
        held_drop(s, x, HELD_EVENT);
        x->held_events = 0;
        char why[160];
        snprintf(why, sizeof why,
                 "more than %d events waited for their input to be durable; subscribe again with since",
                 HELD_EVENTS_MAX);
        svc_feed_break(x->feed, seq, why);
        return;
    }
    svc_held *h = holding(s) ? held_new(s, HELD_EVENT) : NULL;
    if (!h) return svc_feed_event(x->feed, seq, name, data);
    x->held_events++;
    h->x = x;
    h->seq = seq;
    snprintf(h->name, sizeof h->name, "%s", name);
    h->body = json_incref(data);
}

static void release(weir_service *s, svc_held *h, bool failed) {
    char msg[WEIR_ERROR_MAX];
    snprintf(msg, sizeof msg,
             "the request was processed but could not be made durable (%s); it is not acknowledged: its input may "
             "or may not be there after a restart",
             s->j_error ? s->j_error : "journal write failed");
    switch (h->kind) {
    case HELD_REPLY:
        if (failed && h->status < 300) {
            json_decref(h->body);
            h->body = NULL;
            svc_answer_now(s, &h->reply, 503, svc_error_body("%s", msg));
        } else {
            json_t *b = h->body;
            h->body = NULL;
            svc_answer_now(s, &h->reply, h->status, b);
        }
        break;
    case HELD_HTTP: {
        json_t *b = h->body;
        h->body = NULL;
        if (failed && h->status < 300) {
            json_decref(b);
            svc_respond_now(s, h->req, 503, svc_error_body("%s", msg), NULL, h->start_ns);
        } else {
            svc_respond_now(s, h->req, h->status, b, (const char *const *)h->extra, h->start_ns);
        }
        break;
    }
    case HELD_EVENT:
        if (h->x->held_events) h->x->held_events--;
        if (!failed && h->x->feed) svc_feed_event(h->x->feed, h->seq, h->name, h->body);
        break;
    case HELD_CALL: h->fn(h->ud, failed ? msg : NULL); break;
    case HELD_EFFECT:
        if (!failed) {
            svc_exec *x = h->x;
            weir_effect eff = {h->seq, h->fx_kind, x->id, h->node, h->body, h->requested};
            if (x->rt.shell.effect) x->rt.shell.effect(x->rt.shell.effect_ud, x->e, &eff);
        }
        break;
    }
}

/* Send what waited for items up to j_done (all of it when the journal
 * failed or is gone). */
static void release_durable(weir_service *s, bool all) {
    while (s->held && (all || s->held->mark <= s->j_done)) {
        svc_held *h = s->held;
        s->held = h->next;
        if (!s->held) s->held_tail = NULL;
        s->n_held--;
        release(s, h, s->j_failed_at && h->mark >= s->j_failed_at);
        held_free(h);
    }
}

/* Drop what x holds of kind (0: events and effects); its held answers
 * still go out. */
static void held_drop(weir_service *s, svc_exec *x, int kind) {
    svc_held **p = &s->held, *prev = NULL;
    while (*p) {
        svc_held *h = *p;
        if ((kind ? h->kind == kind : (h->kind == HELD_EVENT || h->kind == HELD_EFFECT)) && h->x == x) {
            *p = h->next;
            if (s->held_tail == h) s->held_tail = prev;
            s->n_held--;
            held_free(h);
            continue;
        }
        prev = h;
        p = &h->next;
    }
}

/* --------------------------------------------------------- the journal */

void svc_journal_drop_effects(svc_exec *x) { held_drop(x->svc, x, HELD_EFFECT); }

int svc_journal_settle(svc_exec *x, weir_error *err) {
    weir_service *s = x->svc;
    if (!x->journaled || !s->journal || x->jmark <= s->j_done) return 0;
    if (weir_journal_sync(s->journal, err)) return err->code = WEIR_EUNAVAILABLE; /* err says why */
    weir_journal_poll(s->journal); /* its done callbacks: j_done catches up */
    return 0;
}

static void park_retry(weir_service *s);
static void delete_retry(weir_service *s);

static void on_done(void *ud, int status, const weir_error *err) {
    weir_service *s = ud;
    s->j_done++;
    if (status && !s->j_failed_at) {
        s->j_failed_at = s->j_done;
        s->j_error = weir__strdup(err ? err->message : weir_strerror(status));
        weir_service_log(s, WEIR_LOG_ERROR, NULL,
                         "%s: inputs are refused (503) until weir is restarted; "
                         "what was acknowledged before is safe",
                         s->j_error ? s->j_error : "?");
    }
    release_durable(s, false);
    park_retry(s);
}

static void on_wake(uv_async_t *a) {
    weir_service *s = a->data;
    if (!s->journal) return;
    weir_journal_poll(s->journal);
    park_retry(s); /* the room those items left */
    delete_retry(s);
}

static void wake(void *ud) { uv_async_send(ud); }

static void kick_prep(uv_prepare_t *h) {
    weir_service *s = h->data;
    if (s->journal) weir_journal_kick(s->journal);
}

static void kick_check(uv_check_t *h) {
    weir_service *s = h->data;
    if (s->journal) weir_journal_kick(s->journal);
}

int svc_journal_open(weir_service *s, weir_error *err) {
    if (!s->store) return 0;
    if (!(s->journal_wake = weir__calloc(1, sizeof *s->journal_wake)))
        return weir__error(err, WEIR_ENOMEM, "out of memory");
    uv_async_init(s->loop, s->journal_wake, on_wake);
    s->journal_wake->data = s;
    if (!(s->journal_prep = weir__calloc(1, sizeof *s->journal_prep)))
        return weir__error(err, WEIR_ENOMEM, "out of memory");
    uv_prepare_init(s->loop, s->journal_prep);
    s->journal_prep->data = s;
    uv_prepare_start(s->journal_prep, kick_prep);
    uv_unref((uv_handle_t *)s->journal_prep);
    if (!(s->journal_check = weir__calloc(1, sizeof *s->journal_check)))
        return weir__error(err, WEIR_ENOMEM, "out of memory");
    uv_check_init(s->loop, s->journal_check);
    s->journal_check->data = s;
    uv_check_start(s->journal_check, kick_check);
    uv_unref((uv_handle_t *)s->journal_check);
    weir_journal_config jc = {.durability = s->cfg.durability ? WEIR_DURABILITY_PROCESS : WEIR_DURABILITY_FSYNC,
                              .kick = 1,
                              .queue_max = s->cfg.journal_queue_max,
                              .notify = wake,
                              .notify_ud = s->journal_wake,
                              .vfs = s->cfg.journal_vfs};
    int rc = weir_journal_open(s->store, &jc, &s->journal, err);
    if (rc) return rc;
    weir_journal_stats st;
    weir_journal_stats_get(s->journal, &st);
    if (st.recovered)
        weir_service_log(s, WEIR_LOG_INFO, NULL, "journal: %llu items left in its input logs by the last stop applied",
                         (unsigned long long)st.recovered);
    return 0;
}

static void wake_closed(uv_handle_t *h) { weir__free(h); }

static void old_free(weir_service *s);

void svc_journal_close(weir_service *s) {
    s->j_closing = true; /* parked inputs are not given again now: they happen again after the restart */
    if (s->journal) {
        weir_journal_close(s->journal); /* commits what is queued; runs the last done callbacks */
        s->journal = NULL;
    }
    release_durable(s, true);
    old_free(s);
    if (s->journal_wake) {
        uv_close((uv_handle_t *)s->journal_wake, wake_closed);
        s->journal_wake = NULL;
    }
    if (s->journal_prep) {
        uv_close((uv_handle_t *)s->journal_prep, wake_closed);
        s->journal_prep = NULL;
    }
    if (s->journal_check) {
        uv_close((uv_handle_t *)s->journal_check, wake_closed);
        s->journal_check = NULL;
    }
    weir__free(s->j_error);
    s->j_error = NULL;
    weir__cbuf_free(&s->j_text);
    weir__free(s->j_dead);
    s->j_dead = NULL;
    s->n_dead = 0;
}

static int kind_of(const weir_input_rec *in) {
    switch (in->kind) {
    case WEIR_IN_START: return WEIR_JOURNAL_START;
    case WEIR_IN_INJECT: return WEIR_JOURNAL_INJECT;
    case WEIR_IN_UPGRADE: return WEIR_JOURNAL_UPGRADE;
    case WEIR_IN_RESOLVE: return in->effect_kind == WEIR_EFFECT_TIMER ? WEIR_JOURNAL_TIMER : WEIR_JOURNAL_EFFECT_RESULT;
    default: return WEIR_JOURNAL_CONTROL;
    }
}

/* An effect's result that cannot be journaled cannot be taken (it would
 * be lost in a crash and the journal would not replay): nobody can retry
 * it, so rather than leave the execution waiting for it forever, it fails
 * here, visibly, and its journal is left unfinished — after a restart the
 * execution comes back from what is durable and the effect is performed
 * again. */
/* An effect result the journal's queue had no room for: kept and given
 * again once commits have made room (park_retry, from the done
 * callbacks).  Nothing else could: the runtime that performed it has let
 * it go. */
typedef struct svc_parked {
    svc_exec *x;
    json_t *body; /* the input as weir_input_json made it */
    struct svc_parked *next;
} svc_parked;

static int park(svc_exec *x, const weir_input_rec *in) {
    weir_service *s = x->svc;
    svc_parked *p = weir__calloc(1, sizeof *p);
    if (!p || !(p->body = weir_input_json(in))) {
        weir__free(p);
        return WEIR_ENOMEM;
    }
    p->x = x;
    svc_parked **t = &s->parked;
    while (*t) t = &(*t)->next;
    *t = p;
    return 0;
}

static void parked_free(svc_parked *p) {
    json_decref(p->body);
    weir__free(p);
}

/* Give parked results again, oldest first, while the queue takes them. */
static void park_retry(weir_service *s) {
    while (s->parked && !s->park_retrying && !s->j_closing) {
        svc_parked *p = s->parked;
        weir_error err;
        weir_input_rec in;
        s->park_retrying = true; /* refused again: it stays first (lost_result does not park it twice) */
        int rc = weir_input_parse(p->body, svc_exec_now(p->x), weir_exec_tick(p->x->e), &in, &err);
        if (!rc) rc = weir_exec_apply(p->x->e, &in, NULL, NULL, &err);
        s->park_retrying = false;
        if (rc == WEIR_EFULL) return;
        s->parked = p->next; /* given, or no longer wanted (the effect was cancelled meanwhile) */
        parked_free(p);
    }
}

static void park_drop(svc_exec *x) {
    for (svc_parked **p = &x->svc->parked; *p;) {
        svc_parked *q = *p;
        if (q->x != x) {
            p = &q->next;
            continue;
        }
        *p = q->next;
        parked_free(q);
    }
}

static int lost_result(svc_exec *x, weir_exec *e, const weir_input_rec *in, const weir_error *je, weir_error *err) {
    if (je->code == WEIR_EFULL && (x->svc->park_retrying || park(x, in) == 0))
        return weir__error(err, WEIR_EFULL, "the journal's queue is full: this input is given again once it has room");
    char msg[WEIR_ERROR_MAX];
    snprintf(msg, sizeof msg,
             "%s could not be journaled (%.1500s): the execution stops here; after a restart it comes back from its "
             "journal and it happens again",
             in->kind == WEIR_IN_RESOLVE ? "an effect's result" : "a scheduled inject coming due", je->message);
    x->j_broken = true;
    weir_exec_abort(e, in->now_ms, msg);
    return weir__error(err, WEIR_EUNAVAILABLE, "%s", msg);
}

/* Inputs a client gives (start, inject, pause, resume, stop, hold,
 * release, upgrade): refused, nothing changed, it may retry.  Those weir makes
 * itself — effect results, a scheduled inject coming due, the runtime's own
 * stepping and switching — nobody could retry. */
static bool from_client(const weir_input_rec *in) {
    switch (in->kind) {
    case WEIR_IN_INJECT: return !(in->flags & WEIR_INJECT_SCHEDULED);
    case WEIR_IN_START:
    case WEIR_IN_PAUSE:
    case WEIR_IN_RESUME:
    case WEIR_IN_STOP:
    case WEIR_IN_HOLD:
    case WEIR_IN_RELEASE:
    case WEIR_IN_UPGRADE: return true;
    default: return false;
    }
}

static int journal_input(svc_exec *x, weir_exec *e, const weir_input_rec *in, weir_error *err);

/* Every input: journaled; an upgrade also changes what x says of its graph
 * (its id, its name, and the body later snapshots carry), whether it is
 * journaled now or applied again (recovery, fork). */
static int on_input(void *ud, weir_exec *e, const weir_input_rec *in, weir_error *err) {
    svc_exec *x = ud;
    int rc = journal_input(x, e, in, err);
    if (rc || in->kind != WEIR_IN_UPGRADE || !in->graph) return rc;
    json_decref(x->upgrade_body);
    x->upgrade_body = json_incref(in->upgrade);
    snprintf(x->graph_id, sizeof x->graph_id, "%s", weir_graph_id(in->graph));
    snprintf(x->graph_name, sizeof x->graph_name, "%s", weir_graph_name(in->graph));
    return 0;
}

static int journal_input(svc_exec *x, weir_exec *e, const weir_input_rec *in, weir_error *err) {
    weir_service *s = x->svc;
    if (!x->journaled || !s->journal) return 0;
    if (from_client(in)) {
        /* The last quarter of the queue is kept for effect results, which
         * nobody could retry: a client's input is refused first. */
        weir_journal_stats st;
        weir_journal_stats_get(s->journal, &st);
        size_t max = s->cfg.journal_queue_max ? s->cfg.journal_queue_max : WEIR_JOURNAL_QUEUE_MAX_DEFAULT;
        if (st.outstanding >= max - max / 4)
            return weir__error(err, WEIR_EUNAVAILABLE,
                               "the input was not accepted: the journal is behind (%zu writes waiting for the disk, "
                               "JOURNAL_QUEUE_MAX %zu); nothing changed, retry later",
                               st.outstanding, max);
    }
    weir_error je = {0};
    int64_t seq = 1;
    int rc;
    if (in->kind == WEIR_IN_START || (in->kind == WEIR_IN_SWITCH && x->rt_options)) {
        json_t *body;
        if (in->kind == WEIR_IN_START) {
            body = json_incref(x->start_body);
        } else if ((body = weir_input_json(in))) {
            json_object_set(body, "options", x->rt_options);
        }
        if (!body) return weir__error(err, WEIR_ENOMEM, "out of memory journaling an input of execution %s", x->id);
        rc = in->kind == WEIR_IN_START
                 ? weir_journal_start(s->journal, x->id, x->graph_id, x->created_ms, (int64_t)in->tick, in->now_ms,
                                      body, on_done, s, &je)
                 : weir_journal_append(s->journal, x->id, kind_of(in), (int64_t)in->tick, in->now_ms, body, on_done,
                                       s, &seq, &je);
        json_decref(body);
    } else {
        /* the record's canonical text written straight from the input */
        s->j_text.len = 0;
        if (weir__input_canon(in, &s->j_text))
            return weir__error(err, WEIR_ENOMEM, "out of memory journaling an input of execution %s", x->id);
        rc = weir_journal_append_text(s->journal, x->id, kind_of(in), (int64_t)in->tick, in->now_ms, s->j_text.p,
                                      s->j_text.len, on_done, s, &seq, &je);
    }
    if (rc && (in->kind == WEIR_IN_RESOLVE || (in->kind == WEIR_IN_INJECT && (in->flags & WEIR_INJECT_SCHEDULED))))
        return lost_result(x, e, in, &je, err);
    if (rc == WEIR_ENOMEM) return weir__error(err, rc, "out of memory journaling an input of execution %s", x->id);
    if (rc)
        return weir__error(err, WEIR_EUNAVAILABLE,
                           "the input was not accepted: it could not be journaled (%s); nothing changed, retry later",
                           je.message);
    x->jmark = ++s->j_mark;
    x->jseq = seq;
    if (in->kind == WEIR_IN_START) {
        json_decref(x->start_body);
        x->start_body = NULL;
    }
    if (!x->dg_seq) x->dg_seq = seq;
    return 0;
}

/* SNAPSHOT_EVERY: x's whole state, as of its newest record: {core, rtOptions}.
 * An execution whose components cannot save their state is never
 * snapshotted (time travel and recovery replay its whole journal). */
static void snapshot(svc_exec *x) {
    weir_service *s = x->svc;
    weir_error err;
    json_t *core = weir_exec_snapshot(x->e, &err);
    if (!core) {
        if (err.code != WEIR_EINVAL) return; /* out of memory: the next input tries again */
        x->no_snap = true;
        json_t *f = json_pack("{s:s}", "executionId", x->id);
        weir_service_log(s, WEIR_LOG_INFO, f, "no snapshots for execution %s: %s", x->id, err.message);
        json_decref(f);
        return;
    }
    /* after an upgrade the snapshot restores into the upgraded graph: its body rides along */
    json_t *body = json_pack("{s:o,s:O?,s:O?}", "core", core, "rtOptions", x->rt_options, "upgrade", x->upgrade_body);
    if (body && weir_journal_snapshot(s->journal, x->id, (int64_t)weir_exec_tick(x->e), svc_exec_now(x), body, NULL,
                                      NULL, NULL) == 0)
        x->since_snap = 0;
    json_decref(body);
}

static int append_own(svc_exec *x, json_t *body, weir_error *err) {
    weir_service *s = x->svc;
    weir_error je = {0};
    int64_t seq;
    int rc = body ? weir_journal_append(s->journal, x->id, WEIR_JOURNAL_SCHEDULED, (int64_t)weir_exec_tick(x->e),
                                        svc_exec_now(x), body, on_done, s, &seq, &je)
                  : weir__error(&je, WEIR_ENOMEM, "out of memory");
    json_decref(body);
    if (rc)
        return weir__error(err, rc == WEIR_ENOMEM ? rc : WEIR_EUNAVAILABLE, "it could not be journaled (%s); retry later",
                           je.message);
    x->jmark = ++s->j_mark;
    x->jseq = seq;
    return 0;
}

int svc_journal_schedule(svc_exec *x, const weir_inject *in, int64_t due_ms, weir_error *err) {
    if (!x->journaled || !x->svc->journal) return 0;
    return append_own(x, json_pack("{s:s,s:s,s:s?,s:O,s:I}", "op", "schedule", "node", in->node, "port", in->port,
                                   "value", in->value, "dueMs", (json_int_t)due_ms),
                      err);
}

void svc_journal_clock(svc_exec *x) {
    if (!x->journaled || !x->svc->journal || !x->rt.virt) return;
    int64_t now = weir_virtual_now(x->rt.virt);
    if (now == x->clock_journaled) return;
    if (append_own(x, json_pack("{s:s,s:I}", "op", "clock", "now", (json_int_t)now), NULL) == 0)
        x->clock_journaled = now;
}

static void on_input_done(void *ud, weir_exec *e, const weir_input_digest *d) {
    (void)e;
    svc_exec *x = ud;
    weir_service *s = x->svc;
    int64_t seq = x->dg_seq;
    x->dg_seq = 0;
    if (!x->journaled || !s->journal || !seq) return;
    unsigned char b[WEIR_JOURNAL_DIGEST_SIZE];
    weir_journal_digest_encode(d, b);
    weir_journal_digest(s->journal, x->id, seq, b, sizeof b, NULL); /* lost in a crash: replay compares what it has */
    unsigned every = s->cfg.snapshot_every ? s->cfg.snapshot_every : 1024;
    if (++x->since_snap >= every && !x->no_snap && !weir_exec_wave_open(x->e)) snapshot(x);
}

/* The runtime half the core sees while x is journaled: http requests wait
 * for output commit. */
static void fx_effect(void *ud, weir_exec *e, const weir_effect *eff) {
    svc_exec *x = ud;
    weir_service *s = x->svc;
    if (eff->kind == WEIR_EFFECT_HTTP && holding(s)) {
        svc_held *h = held_new(s, HELD_EFFECT);
        if (h) {
            h->x = x;
            h->seq = eff->id;
            h->fx_kind = eff->kind;
            h->node = eff->node_id ? weir__strdup(eff->node_id) : NULL;
            h->body = json_incref(eff->payload);
            h->requested = eff->requested_ms;
            return;
        }
    }
    if (x->rt.shell.effect) x->rt.shell.effect(x->rt.shell.effect_ud, e, eff);
}

static void fx_cancel(void *ud, weir_exec *e, uint64_t id) {
    svc_exec *x = ud;
    weir_service *s = x->svc;
    svc_held **p = &s->held, *prev = NULL;
    for (; *p; prev = *p, p = &(*p)->next) {
        svc_held *h = *p;
        if (h->kind != HELD_EFFECT || h->x != x || h->seq != id) continue;
        *p = h->next; /* never performed: nothing to cancel */
        if (s->held_tail == h) s->held_tail = prev;
        s->n_held--;
        held_free(h);
        return;
    }
    if (x->rt.shell.cancel) x->rt.shell.cancel(x->rt.shell.effect_ud, e, id);
}

static int64_t fx_clock(void *ud) {
    svc_exec *x = ud;
    return x->rt.shell.clock_ns ? x->rt.shell.clock_ns(x->rt.shell.effect_ud) : 0;
}

void svc_journal_half(svc_exec *x, weir_shell *half) {
    *half = x->rt.shell;
    if (!x->svc->cfg.enable_metrics) half->clock_ns = NULL;
    if (!x->journaled) return;
    half->effect_ud = x;
    half->effect = fx_effect;
    half->cancel = fx_cancel;
    if (half->clock_ns) half->clock_ns = fx_clock;
}

void svc_journal_attach(svc_exec *x, weir_shell *sh) {
    if (!x->svc->journal) return;
    x->journaled = true;
    sh->input = on_input;
    sh->input_done = on_input_done;
    weir_shell half;
    svc_journal_half(x, &half);
    sh->effect_ud = half.effect_ud;
    sh->effect = half.effect;
    sh->cancel = half.cancel;
    sh->clock_ns = half.clock_ns;
}

void svc_journal_finished(svc_exec *x) {
    weir_service *s = x->svc;
    if (!x->journaled || !s->journal || x->j_broken) return; /* broken: it comes back at the next start */
    if (weir_journal_finish(s->journal, x->id, svc_now(s), on_done, s, NULL) == 0) s->j_mark++;
}

/* Delete a journal; one the journal cannot take now (full, failing) is
 * remembered and deleted after the next commits (delete_retry), so that it
 * never comes back at a start as an execution that was let go. */
static void delete_journal(weir_service *s, const char *id) {
    if (!s->journal) return;
    if (weir_journal_delete(s->journal, id, on_done, s, NULL) == 0) {
        s->j_mark++;
        return;
    }
    char (*ids)[40] = weir__realloc(s->j_dead, (s->n_dead + 1) * sizeof *ids);
    if (!ids) return; /* out of memory: it comes back at the next start, as a finished one would */
    s->j_dead = ids;
    snprintf(s->j_dead[s->n_dead++], 40, "%s", id);
}

static void delete_retry(weir_service *s) {
    while (s->n_dead && s->journal && !s->j_closing &&
           weir_journal_delete(s->journal, s->j_dead[s->n_dead - 1], on_done, s, NULL) == 0) {
        s->j_mark++;
        s->n_dead--;
    }
}

void svc_journal_forget(svc_exec *x, bool evicted) {
    weir_service *s = x->svc;
    held_drop(s, x, 0);
    park_drop(x);
    if (evicted && x->journaled) delete_journal(s, x->id);
}

/* ------------------------------------------------------------- recovery */

typedef struct rec_list {
    char (*ids)[40];
    size_t n, cap;
} rec_list;

static int list_one(void *ud, const char *exec_id, const char *graph_id, int64_t created_ms, int finished,
                    int64_t finished_ms) {
    (void)graph_id;
    (void)created_ms;
    (void)finished;
    (void)finished_ms;
    rec_list *l = ud;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        void *p = weir__realloc(l->ids, cap * sizeof *l->ids);
        if (!p) return WEIR_ENOMEM;
        l->ids = p;
        l->cap = cap;
    }
    snprintf(l->ids[l->n++], 40, "%s", exec_id);
    return 0;
}

/* The journals of executions that finished before this start, oldest
 * finished first (the store's order): the front of the bounded history. */
typedef struct svc_old {
    rec_list l;
    size_t next;   /* those before it are deleted */
    size_t loaded; /* of those after it, loaded since (asked for: their id is "") */
} svc_old;

bool svc_journal_over(weir_service *s) {
    if (!s->journal || !s->cfg.journal_max_bytes) return false;
    /* The deletes of the last starts free nothing while they are in the
     * journal's input log: no more deletes until they are applied (soon:
     * a delete asks for it), and the loop never waits for the disk. */
    if (weir_journal_deleting(s->journal)) return false;
    int64_t b = weir_journal_bytes(s->journal);
    return b > 0 && (uint64_t)b > s->cfg.journal_max_bytes;
}

size_t svc_journal_old(const weir_service *s) {
    return s->j_old ? s->j_old->l.n - s->j_old->next - s->j_old->loaded : 0;
}

static void old_free(weir_service *s) {
    if (!s->j_old) return;
    weir__free(s->j_old->l.ids);
    weir__free(s->j_old);
    s->j_old = NULL;
}

void svc_journal_evict_old(weir_service *s) {
    svc_old *o = s->j_old;
    while (o && o->next < o->l.n && !o->l.ids[o->next][0]) { /* loaded: evicted as executions in memory are */
        o->next++;
        o->loaded--;
    }
    if (!o || o->next == o->l.n) return;
    delete_journal(s, o->l.ids[o->next]);
    o->next++;
}

/* One execution being read back. */
typedef struct recovering {
    weir_service *s;
    const char *id;
    svc_exec *x;
    weir_graph *g;
    json_t *rt_opts;  /* the options of the runtime it ran on last */
    int64_t last_now; /* the time of its newest record */
    int64_t seq;      /* the newest record applied */
    weir_error err;   /* why it did not come back whole */
    /* the virtual clock's own records */
    int64_t clock;     /* as it was last journaled (0: never) */
    json_t *schedules; /* [{node, port?, value, dueMs}] in the order scheduled */
    size_t delivered;  /* scheduled injects that came due */
    int64_t skip_to;   /* records up to this seq are in the snapshot: read, not applied */
    json_t *upgrade;   /* a snapshot taken after an upgrade: the upgrade's body (its graph is the one made) */
} recovering;

/* A registry with the built-ins and the user components the START body
 * carries, exactly as they were when it started.  The registry holds no
 * reference: ucs (*n of them, NEW) keeps each alive until the graph, whose
 * nodes take their own, is loaded. */
static int start_registry(json_t *comps, weir_registry **out, weir_user_component ***ucs, size_t *n,
                          weir_error *err) {
    *n = 0;
    int rc = weir_registry_create(out);
    if (rc) return weir__error(err, rc, "out of memory");
    if (!(*ucs = weir__calloc(json_array_size(comps) + 1, sizeof **ucs))) return weir__error(err, WEIR_ENOMEM, "out of memory");
    size_t i;
    json_t *def;
    json_array_foreach(comps, i, def) {
        weir_user_component *u;
        if ((rc = weir_user_component_create(def, &u, err))) return rc;
        (*ucs)[(*n)++] = u;
        const weir_component *d = weir_user_component_descriptor(u);
        if (weir_registry_find(*out, d->id)) /* the built-ins are there: none may be replaced */
            return weir__error(err, WEIR_EINVAL, "the journal's start record defines component %s, a built-in id",
                               d->id);
        if ((rc = weir_registry_add(*out, d, err))) return rc;
    }
    return 0;
}

int svc_journal_start_graph(json_t *start, int kind, weir_graph **out, weir_error *err) {
    *out = NULL;
    if (kind != WEIR_JOURNAL_START || !json_is_object(json_object_get(start, "graph")))
        return weir__error(err, WEIR_EINVAL, "record 1 is not a start record with the graph");
    return svc_journal_body_graph(start, out, err);
}

int svc_journal_body_graph(json_t *start, weir_graph **out, weir_error *err) {
    *out = NULL;
    if (!json_is_object(json_object_get(start, "graph")))
        return weir__error(err, WEIR_EINVAL, "the record carries no graph");
    weir_registry *reg = NULL;
    weir_user_component **ucs = NULL;
    size_t n_ucs = 0;
    int rc = start_registry(json_object_get(start, "components"), &reg, &ucs, &n_ucs, err);
    json_t *opts = json_object_get(start, "options");
    json_t *steps = json_object_get(opts, "exprMaxSteps"), *bytes = json_object_get(opts, "exprMaxBytes");
    /* the time zones' bytes pinned in the record (svc_graph_zones), never
     * the machine's files: recovery, time travel, fork and import fire at
     * the instants the execution did; a record written before zones were
     * pinned has none, and its zones are read from the files */
    json_t *zones = json_object_get(start, "zones");
    if (!rc && zones && !json_is_object(zones))
        rc = weir__error(err, WEIR_EINVAL, "the record's \"zones\" is not an object ({name: base64 zone file})");
    weir_graph_options go = {.id = json_string_value(json_object_get(start, "graphId")),
                             .expr = {json_is_integer(steps) ? (size_t)json_integer_value(steps) : 0,
                                      json_is_integer(bytes) ? (size_t)json_integer_value(bytes) : 0},
                             .zones = zones,
                             .zone = zones ? NULL : weir_zone_files};
    if (!rc) rc = weir_graph_load(reg, json_object_get(start, "graph"), &go, out, err);
    weir_registry_destroy(reg);
    for (size_t i = 0; i < n_ucs; i++) weir_user_component_unref(ucs[i]);
    weir__free(ucs);
    return rc;
}

int svc_journal_apply(weir_exec *e, json_t *body, int64_t time_ms, int64_t tick, weir_input_rec *in,
                      weir_input_digest *digest, weir_error *err) {
    int rc = weir_input_parse(body, time_ms, (uint64_t)tick, in, err);
    if (rc) return rc;
    weir_graph *g = NULL;
    if (in->kind == WEIR_IN_UPGRADE) {
        char why[WEIR_ERROR_MAX];
        if ((rc = svc_journal_body_graph(body, &g, err))) {
            snprintf(why, sizeof why, "%s", err->message);
            return weir__error(err, rc, "the upgrade's graph does not load: %s", why);
        }
        in->graph = g;
    }
    rc = weir_exec_apply(e, in, NULL, digest, err);
    weir_graph_unref(g);
    in->graph = NULL;
    return rc;
}

/* Record 1: the execution made again from its START body (not listed,
 * nothing performed, nothing journaled while its past is applied). */
static int make(recovering *rv, const weir_journal_record *r) {
    weir_service *s = rv->s;
    json_t *b = r->body;
    int rc = svc_journal_start_graph(b, r->kind, &rv->g, &rv->err);
    if (!rc && rv->upgrade) { /* the snapshot's graph: the one it was upgraded to */
        weir_graph_unref(rv->g);
        rc = svc_journal_body_graph(rv->upgrade, &rv->g, &rv->err);
    }
    if (rc) return rc;
    json_t *opts = json_object_get(b, "options");
    const char *rt = json_string_value(json_object_get(b, "runtime"));
    json_decref(rv->rt_opts);
    rv->rt_opts = json_incref(opts);
    rc = svc_exec_make(s, rv->g, weir_graph_id(rv->g), opts, rv->id, rt, opts, SVC_MAKE_JOURNAL | SVC_MAKE_NO_RUNTIME,
                       &rv->x, &rv->err);
    if (rc) return rc;
    rv->x->created_ms = r->time_ms;
    rv->x->journaled = false;
    rv->x->derived = json_object_get(b, "forkOf") || json_object_get(b, "importedFrom");
    rv->x->upgrade_body = json_incref(rv->upgrade);
    weir_shell none = {0};
    weir_exec_adopt(rv->x->e, &none, r->time_ms);
    return 0;
}

static int begin(recovering *rv, const weir_journal_record *r) {
    int rc = make(rv, r);
    if (!rc && (rc = svc_exec_list(rv->s, rv->x, &rv->err))) {
        svc_exec_free(rv->x);
        rv->x = NULL;
    }
    if (rc) return rc;
    weir_input_rec st = {.kind = WEIR_IN_START, .now_ms = r->time_ms};
    rc = weir_exec_apply(rv->x->e, &st, NULL, NULL, &rv->err);
    return rc == WEIR_ERUNTIME ? 0 : rc; /* failed in initialize, as it did then */
}

/* Reading record 1 only (a snapshot gives the rest up to its seq). */
static int make_only(void *ud, const weir_journal_record *r) {
    recovering *rv = ud;
    int rc = r->seq == 1 ? make(rv, r) : 0;
    return rc ? rc : 1;
}

/* From the newest snapshot when there is one that restores: true, and the
 * records after it are to be applied (from *from, chained to anchor). */
static bool from_snapshot(recovering *rv, weir_journal_snap *snap) {
    weir_service *s = rv->s;
    weir_error err;
    if (weir_journal_snapshot_find(s->journal, rv->id, INT64_MAX, INT64_MAX, snap, &err)) return false;
    rv->upgrade = json_object_get(snap->state, "upgrade"); /* borrowed while snap->state lives */
    int rc = weir_journal_read(s->journal, rv->id, 1, NULL, make_only, rv, NULL, &err);
    rv->upgrade = NULL;
    if (rc == 1 && rv->x && weir_exec_restore(rv->x->e, json_object_get(snap->state, "core"), &err) == 0 &&
        svc_exec_list(s, rv->x, &err) == 0) {
        json_decref(rv->rt_opts);
        rv->rt_opts = json_incref(json_object_get(snap->state, "rtOptions"));
        rv->seq = snap->seq;
        rv->last_now = snap->time_ms;
        return true;
    }
    /* it does not restore: the whole journal is replayed instead */
    json_t *f = json_pack("{s:s}", "executionId", rv->id);
    weir_service_log(s, WEIR_LOG_WARN, f, "the snapshot of execution %s does not restore (%s): replaying its whole journal",
                     rv->id, err.message);
    json_decref(f);
    if (rv->x) svc_exec_free(rv->x);
    rv->x = NULL;
    weir_graph_unref(rv->g);
    rv->g = NULL;
    json_decref(snap->state);
    snap->state = NULL;
    return false;
}

/* A record of the virtual clock's own (kind SCHEDULED). */
static void clock_record(recovering *rv, json_t *b) {
    const char *op = json_string_value(json_object_get(b, "op"));
    if (op && strcmp(op, "clock") == 0) {
        rv->clock = json_integer_value(json_object_get(b, "now"));
    } else if (op && strcmp(op, "schedule") == 0) {
        if (!rv->schedules) rv->schedules = json_array();
        json_array_append(rv->schedules, b);
    }
}

static int apply_one(void *ud, const weir_journal_record *r) {
    recovering *rv = ud;
    if (r->kind == WEIR_JOURNAL_SCHEDULED) {
        clock_record(rv, r->body);
        return 0;
    }
    if (r->kind == WEIR_JOURNAL_INJECT &&
        (json_integer_value(json_object_get(r->body, "flags")) & WEIR_INJECT_SCHEDULED))
        rv->delivered++;
    if (r->seq <= rv->skip_to) return 0; /* in the snapshot */
    rv->seq = r->seq;
    rv->last_now = r->time_ms;
    if (r->seq == 1) return begin(rv, r);
    if (!rv->x) return weir__error(&rv->err, WEIR_EINVAL, "record %lld comes before a start record", (long long)r->seq);
    weir_input_rec in;
    int rc = svc_journal_apply(rv->x->e, r->body, r->time_ms, r->tick, &in, NULL, &rv->err);
    if (!rc && in.kind == WEIR_IN_UPGRADE) svc_hooks_reattach(rv->x);
    if (!rc && in.kind == WEIR_IN_SWITCH) {
        json_decref(rv->rt_opts);
        rv->rt_opts = json_incref(json_object_get(r->body, "options"));
    }
    if (rc) {
        char why[WEIR_ERROR_MAX];
        snprintf(why, sizeof why, "%s", rv->err.message);
        weir__error(&rv->err, rc, "record %lld (%s) does not replay: %s", (long long)r->seq,
                    weir_journal_kind_name(r->kind), why);
    }
    return rc;
}

int svc_journal_reattach(svc_exec *x, const char *name, json_t *rt_opts, int64_t clock_ms, bool adopt,
                         weir_error *err) {
    weir_service *s = x->svc;
    json_t *opts = json_is_object(rt_opts) ? json_copy(rt_opts) : json_object();
    if (opts) json_object_set_new(opts, "startMs", json_integer(clock_ms)); /* a virtual clock goes on from there */
    weir_runtimes_release(s->runtimes, &x->rt, NULL);
    int rc = weir_runtimes_make(s->runtimes, name, opts, &x->rt, err);
    if (rc) rc = weir_runtimes_make(s->runtimes, NULL, NULL, &x->rt, err);
    json_decref(opts);
    if (rc) return rc;
    json_decref(x->rt_options);
    x->rt_options = json_incref(rt_opts);
    if (x->rt.bind) x->rt.bind(x->rt.shell.effect_ud, x->e);
    svc_time_attach(x);
    x->journaled = s->journal != NULL;
    if (!adopt) return 0;
    weir_shell half;
    svc_journal_half(x, &half);
    weir_exec_adopt(x->e, &half, svc_exec_now(x));
    return 0;
}

int svc_journal_reschedule(svc_exec *x, json_t *schedules, size_t delivered) {
    weir_service *s = x->svc;
    weir_virtual *v = x->rt.virt;
    size_t n = json_array_size(schedules);
    if (n <= delivered) return 0;
    if (!v) return (int)(n - delivered);
    size_t *ix = weir__malloc(n * sizeof *ix);
    if (!ix) return (int)(n - delivered);
    for (size_t i = 0; i < n; i++) ix[i] = i;
    for (size_t i = 1; i < n; i++) { /* stable by dueMs */
        size_t k = ix[i], j = i;
        json_int_t due = json_integer_value(json_object_get(json_array_get(schedules, k), "dueMs"));
        while (j && json_integer_value(json_object_get(json_array_get(schedules, ix[j - 1]), "dueMs")) > due) {
            ix[j] = ix[j - 1];
            j--;
        }
        ix[j] = k;
    }
    int lost = 0;
    int64_t tms = weir_virtual_tick_ms(v), now = weir_virtual_now(v);
    for (size_t i = delivered; i < n; i++) {
        json_t *b = json_array_get(schedules, ix[i]);
        int64_t ahead = json_integer_value(json_object_get(b, "dueMs")) - now;
        uint64_t ticks = ahead <= 0 ? 1 : (uint64_t)((ahead + tms - 1) / tms);
        weir_inject in = {json_string_value(json_object_get(b, "node")), json_string_value(json_object_get(b, "port")),
                          json_object_get(b, "value"), 0, NULL};
        weir_error err;
        if (weir_virtual_schedule(v, &in, weir_virtual_ticks(v) + ticks, &err)) {
            json_t *f = json_pack("{s:s}", "executionId", x->id);
            weir_service_log(s, WEIR_LOG_ERROR, f, "a scheduled inject of execution %s could not be scheduled again: %s",
                             x->id, err.message);
            json_decref(f);
            lost++;
        }
    }
    weir__free(ix);
    return lost;
}

/* Make x's runtime again (the one it ran on last) and hand it what is
 * pending; a virtual clock goes on from where it was. */
static int reattach(recovering *rv, weir_error *err) {
    json_t *xj = weir_exec_json(rv->x->e);
    int64_t clock = rv->clock > rv->last_now ? rv->clock : rv->last_now;
    int rc = svc_journal_reattach(rv->x, json_string_value(json_object_get(xj, "runtime")), rv->rt_opts, clock, true,
                                  err);
    json_decref(xj);
    if (!rc) {
        rv->x->clock_journaled = clock;
        svc_journal_reschedule(rv->x, rv->schedules, rv->delivered);
    }
    return rc;
}

/* Apply an execution's journal to a new record of it (rv->x): from its
 * newest snapshot that restores, else from the start.  0, or the read's
 * error (rv->err or rerr, and *fault, say why and where). */
static int read_back(recovering *rv, weir_journal_fault *fault, weir_error *rerr) {
    weir_service *s = rv->s;
    const char *id = rv->id;
    weir_journal_snap snap = {0};
    bool snapped = from_snapshot(rv, &snap);
    /* A virtual execution's clock records before the snapshot count too:
     * its journal is read whole (and applied from the snapshot on). */
    const char *rt = json_string_value(json_object_get(json_object_get(snap.state, "core"), "runtime"));
    bool whole = snapped && rt && strcmp(rt, "virtual") == 0;
    if (whole) rv->skip_to = snap.seq;
    int rc = weir_journal_read(s->journal, id, snapped && !whole ? snap.seq + 1 : 1,
                               snapped && !whole ? snap.chain : NULL, apply_one, rv, fault, rerr);
    json_decref(snap.state);
    if (rc && !rv->err.code) rv->err = *rerr;
    return rc;
}

static void recover_one(weir_service *s, const char *id, size_t *back, size_t *failed) {
    recovering rv = {.s = s, .id = id};
    weir_journal_fault fault = {0};
    weir_error rerr = {0};
    int rc = read_back(&rv, &fault, &rerr);
    svc_exec *x = rv.x;
    int64_t last = 0;
    int rc2 = x ? weir_journal_resume(s->journal, id, &last, NULL) : 0;
    json_t *f = json_pack("{s:s}", "executionId", id);
    if (!x) {
        weir_service_log(s, WEIR_LOG_ERROR, f, "execution %s cannot be recovered and stays stored: %s", id,
                         rv.err.message[0] ? rv.err.message : "its journal is empty");
        (*failed)++;
    } else if (rc || rc2) {
        char msg[WEIR_ERROR_MAX + 64];
        snprintf(msg, sizeof msg, "recovery stopped at record %lld: %s",
                 (long long)(fault.kind ? fault.seq : rv.seq), rv.err.message);
        weir_exec_abort(x->e, svc_exec_now(x), msg);
        weir_service_log(s, WEIR_LOG_ERROR, f, "execution %s came back failed: %s", id, msg);
        x->journaled = true;
        if (!rc2) svc_journal_finished(x);
        (*failed)++;
    } else if (weir_state_finished(weir_exec_state(x->e))) {
        x->journaled = true;
        if (x->finished) svc_journal_finished(x); /* it had finished; its finish was not stored */
        else svc_exec_on_finished(x);             /* restored finished: the same bookkeeping */
        (*back)++;
    } else {
        weir_error e2;
        if (reattach(&rv, &e2)) {
            weir_exec_abort(x->e, svc_exec_now(x), e2.message);
            weir_service_log(s, WEIR_LOG_ERROR, f, "execution %s came back failed: %s", id, e2.message);
            (*failed)++;
        } else {
            (*back)++;
        }
    }
    json_decref(f);
    json_decref(rv.rt_opts);
    json_decref(rv.schedules);
    weir_graph_unref(rv.g);
}

svc_exec *svc_journal_load_finished(weir_service *s, const char *id) {
    svc_old *o = s->j_old;
    if (!o || !s->journal || !id || !*id) return NULL;
    size_t i = o->next;
    while (i < o->l.n && strcmp(o->l.ids[i], id) != 0) i++;
    if (i == o->l.n) return NULL;
    recovering rv = {.s = s, .id = id};
    weir_journal_fault fault = {0};
    weir_error rerr = {0};
    int rc = read_back(&rv, &fault, &rerr);
    svc_exec *x = rv.x;
    if (x) {
        char msg[WEIR_ERROR_MAX + 64];
        if (rc) snprintf(msg, sizeof msg, "its journal stops at record %lld: %s",
                         (long long)(fault.kind ? fault.seq : rv.seq), rv.err.message);
        else snprintf(msg, sizeof msg, "its journal says it finished, but its end was not stored");
        weir_exec_abort(x->e, svc_exec_now(x), msg); /* a no-op when it ended as it did */
        x->journaled = true; /* for time travel; evicting it deletes its journal */
        svc_exec_to_front(s, x); /* it finished before any in memory: the first to go */
        o->l.ids[i][0] = '\0'; /* in memory now: no longer one of the old */
        o->loaded++;
    }
    json_decref(rv.rt_opts);
    json_decref(rv.schedules);
    weir_graph_unref(rv.g);
    return x;
}

int svc_journal_recover(weir_service *s, weir_error *err) {
    if (!s->journal) return 0;
    uint64_t t0 = uv_hrtime();
    /* First those finished before (what recovery finishes now is not among
     * them): beyond MAX_FINISHED_HISTORY the oldest go now. */
    if (!(s->j_old = weir__calloc(1, sizeof *s->j_old))) return weir__error(err, WEIR_ENOMEM, "out of memory");
    int rc = weir_journal_executions(s->journal, WEIR_JOURNAL_FINISHED, list_one, &s->j_old->l, err);
    if (rc) {
        old_free(s);
        return rc;
    }
    while (svc_journal_old(s) > s->cfg.max_finished_history) svc_journal_evict_old(s);
    rec_list l = {0};
    rc = weir_journal_executions(s->journal, WEIR_JOURNAL_UNFINISHED, list_one, &l, err);
    if (rc) {
        weir__free(l.ids);
        return rc;
    }
    size_t back = 0, failed = 0;
    for (size_t i = 0; i < l.n; i++) recover_one(s, l.ids[i], &back, &failed);
    weir__free(l.ids);
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    json_t *f = json_pack("{s:I,s:I,s:f}", "recovered", (json_int_t)back, "failed", (json_int_t)failed, "ms", ms);
    weir_service_log(s, failed ? WEIR_LOG_WARN : WEIR_LOG_INFO, f,
                     "recovery: %zu execution%s came back and %zu failed, in %.1f ms", back, back == 1 ? "" : "s",
                     failed, ms);
    json_decref(f);
    return 0;
}
