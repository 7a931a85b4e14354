/*
 * The journal, the loop's side: opening and closing, the chains of the
 * executions being written (a hash map), the bounded queue handed to the
 * writer thread, and the callbacks run by poll.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "store/journal_int.h"

/* How long a connection waits for a lock another holds (the store's own
 * connection writing a graph, a sqlite3 shell) before the call fails. */
#define BUSY_TIMEOUT_MS 5000

const char *weir_journal_kind_name(int kind) {
    switch (kind) {
    case WEIR_JOURNAL_START: return "start";
    case WEIR_JOURNAL_INJECT: return "inject";
    case WEIR_JOURNAL_CONTROL: return "control";
    case WEIR_JOURNAL_EFFECT_RESULT: return "effect result";
    case WEIR_JOURNAL_TIMER: return "timer";
    case WEIR_JOURNAL_SCHEDULED: return "scheduled inject";
    case WEIR_JOURNAL_UPGRADE: return "upgrade";
    default: return "unknown";
    }
}

int weir__journal_db_error(weir_journal *j, sqlite3 *db, int rc, const char *what, weir_error *err) {
    switch (rc & 0xff) {
    case SQLITE_NOMEM: return weir__error(err, WEIR_ENOMEM, "out of memory (SQLite, %s)", what);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return weir__error(err, WEIR_ESTATE, "%s in %s: %s; another process holds a lock on it (a sqlite3 shell?)",
                           what, j->path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    default:
        return weir__error(err, WEIR_EIO, "%s in %s: %s (SQLite code %d); check the disk and DATA_DIR", what,
                           j->path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
    }
}

/* ----------------------------------------------------------------- chain */

static void put_be(unsigned char *p, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; i--, v >>= 8) p[i] = (unsigned char)(v & 0xff);
}

/* SHA-256 fetched once: EVP_sha256() in every init makes OpenSSL 3 look
 * the algorithm up again each time (about half the cost of a record's
 * hash). */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static void fetch_sha256(void) { sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL); }

void weir__journal_chain(EVP_MD_CTX *md, const unsigned char *prev, int kind, int64_t seq, int64_t tick,
                         int64_t time_ms, const char *body, size_t len, unsigned char *out) {
    unsigned char head[WEIR_JOURNAL_CHAIN + 4 + 8 * 3];
    static const unsigned char zero[WEIR_JOURNAL_CHAIN];
    memcpy(head, prev ? prev : zero, WEIR_JOURNAL_CHAIN);
    put_be(head + WEIR_JOURNAL_CHAIN, (uint32_t)kind, 4);
    put_be(head + WEIR_JOURNAL_CHAIN + 4, (uint64_t)seq, 8);
    put_be(head + WEIR_JOURNAL_CHAIN + 12, (uint64_t)tick, 8);
    put_be(head + WEIR_JOURNAL_CHAIN + 20, (uint64_t)time_ms, 8);
    unsigned char full[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    /* SHA-256 on a context made at open cannot fail short of a broken
     * libcrypto; a failure leaves `full` zeroed, which no read verifies. */
    memset(full, 0, sizeof full);
    pthread_once(&sha256_once, fetch_sha256);
    if (!EVP_DigestInit_ex(md, sha256_md ? sha256_md : EVP_sha256(), NULL) || !EVP_DigestUpdate(md, head, sizeof head) ||
        !EVP_DigestUpdate(md, body, len) || !EVP_DigestFinal_ex(md, full, &n))
        memset(full, 0, sizeof full);
    memcpy(out, full, WEIR_JOURNAL_CHAIN);
}

/* ------------------------------------------------------------ executions */

static uint64_t hash_id(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

jexec *weir__journal_exec_find(weir_journal *j, const char *id) {
    if (!j->nbuckets) return NULL;
    uint64_t h = hash_id(id);
    for (jexec *e = j->buckets[h & (j->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && strcmp(e->id, id) == 0) return e;
    return NULL;
}

jexec *weir__journal_exec_add(weir_journal *j, const char *id) {
    if ((j->nexec + 1) * 4 > j->nbuckets * 3) { /* load <= 3/4 */
        size_t n = j->nbuckets ? j->nbuckets * 2 : 64;
        jexec **b = weir__calloc(n, sizeof *b);
        if (!b) return NULL;
        for (size_t i = 0; i < j->nbuckets; i++)
            for (jexec *e = j->buckets[i], *next; e; e = next) {
                next = e->next;
                e->next = b[e->hash & (n - 1)];
                b[e->hash & (n - 1)] = e;
            }
        weir__free(j->buckets);
        j->buckets = b;
        j->nbuckets = n;
    }
    size_t len = strlen(id);
    jexec *e = weir__calloc(1, sizeof *e + len + 1);
    if (!e) return NULL;
    memcpy(e->id, id, len + 1);
    e->hash = hash_id(id);
    e->next = j->buckets[e->hash & (j->nbuckets - 1)];
    j->buckets[e->hash & (j->nbuckets - 1)] = e;
    j->nexec++;
    return e;
}

static void remove_exec(weir_journal *j, const char *id) {
    if (!j->nbuckets) return;
    uint64_t h = hash_id(id);
    for (jexec **p = &j->buckets[h & (j->nbuckets - 1)]; *p; p = &(*p)->next)
        if ((*p)->hash == h && strcmp((*p)->id, id) == 0) {
            jexec *e = *p;
            *p = e->next;
            weir__free(e);
            j->nexec--;
            return;
        }
}

/* The loop's view of an execution it is about to write to. */
static int writable_exec(weir_journal *j, const char *id, jexec **out, weir_error *err) {
    jexec *e = weir__journal_exec_find(j, id);
    if (!e)
        return weir__error(err, WEIR_ENOTFOUND,
                           "execution %.100s has no journal here: start it (weir_journal_start) or resume it "
                           "(weir_journal_resume) first",
                           id);
    if (e->finished) return weir__error(err, WEIR_ESTATE, "execution %.100s is finished: its journal is closed", id);
    *out = e;
    return 0;
}

/* ------------------------------------------------------------- the queue */

/* An item and its text (textlen bytes, NUL-terminated, uninitialised) in
 * one block. */
static jitem *new_item(int op, const char *id, const char *graph_id, size_t textlen) {
    size_t a = strlen(id), b = graph_id ? strlen(graph_id) : 0;
    size_t idn = a + 1 + (graph_id ? b + 1 : 0);
    jitem *it = weir__malloc(sizeof *it + idn + textlen + 1);
    if (!it) return NULL;
    memset(it, 0, sizeof *it);
    it->op = op;
    memcpy(it->id, id, a + 1);
    if (graph_id) {
        memcpy(it->id + a + 1, graph_id, b + 1);
        it->graph_id = it->id + a + 1;
    }
    it->text = it->id + idn;
    it->text[textlen] = '\0';
    it->len = textlen;
    return it;
}

static void free_item(jitem *it) { weir__free(it); }

/* A new item holding the canonical text of v (core/canon.h: jansson's
 * JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY bytes), encoded into the
 * journal's scratch buffer first. */
static int encode_item(weir_journal *j, int op, const char *id, const char *graph_id, json_t *v, jitem **out,
                       weir_error *err) {
    *out = NULL;
    if (!v) return weir__error(err, WEIR_EINVAL, "a journal record needs a JSON body");
    j->scratch.len = 0;
    if (weir__canon_dump(v, &j->scratch)) {
        /* jansson cannot write it either (a string that is not UTF-8, a
         * cycle), or out of memory */
        return weir__error(err, WEIR_ENOMEM, "out of memory (encoding a journal record)");
    }
    jitem *it = new_item(op, id, graph_id, j->scratch.len);
    if (!it) return weir__error(err, WEIR_ENOMEM, "out of memory (encoding a journal record)");
    memcpy(it->text, j->scratch.p, j->scratch.len);
    *out = it;
    return 0;
}

/* Whether a write may be queued now (mu held). */
static int admit_locked(weir_journal *j, weir_error *err) {
    if (j->failed) return weir__error(err, WEIR_EIO, "the journal is refused since a commit failed: %s", j->fail_msg);
    if (j->stop) /* a done callback run by weir_journal_close: the writer is gone */
        return weir__error(err, WEIR_ESTATE, "the journal is closing: nothing more can be written");
    if (j->outstanding >= j->cfg.queue_max)
        return weir__error(err, WEIR_EFULL,
                           "JOURNAL_QUEUE_MAX (%zu) reached: that many journal writes are waiting for the disk; "
                           "retry shortly",
                           j->cfg.queue_max);
    return 0;
}

/* Queue it (ownership passes to the queue) or refuse it (the caller keeps
 * it). */
static int push(weir_journal *j, jitem *it, weir_error *err) {
    pthread_mutex_lock(&j->mu);
    int rc = admit_locked(j, err);
    if (!rc) {
        it->next = NULL;
        if (j->pend_last) j->pend_last->next = it;
        else j->pend_head = it;
        j->pend_last = it;
        j->pend_n++;
        j->outstanding++;
        it->ticket = ++j->queued;
        if (j->writer_waiting && !j->cfg.kick) pthread_cond_signal(&j->work);
    }
    pthread_mutex_unlock(&j->mu);
    return rc;
}

void weir_journal_kick(weir_journal *j) {
    pthread_mutex_lock(&j->mu);
    bool wake = j->writer_waiting && j->pend_head;
    pthread_mutex_unlock(&j->mu);
    /* Signalled with mu released: the writer it wakes takes mu at once,
     * and would otherwise block on it until the unlock (two more futex
     * calls, on both threads).  No wake-up is lost: the writer was seen
     * waiting, and it checks for work under mu before it waits again. */
    if (wake) pthread_cond_signal(&j->work);
}

/* Refuse early (no encoding, no allocation) when the queue would. */
static int precheck(weir_journal *j, weir_error *err) {
    pthread_mutex_lock(&j->mu);
    int rc = admit_locked(j, err);
    pthread_mutex_unlock(&j->mu);
    return rc;
}

int weir_journal_start(weir_journal *j, const char *exec_id, const char *graph_id, int64_t created_ms, int64_t tick,
                       int64_t time_ms, json_t *body, weir_journal_done_fn done, void *ud, weir_error *err) {
    if (!exec_id || !*exec_id || !graph_id) return weir__error(err, WEIR_EINVAL, "an execution needs an id and a graph");
    int rc = weir__journal_exec_find(j, exec_id) ? 1 : weir__journal_stored(j, exec_id, err);
    /* stored in SQLite, and not known here: its delete may still be in an
     * input log (applied now) */
    if (rc == 1 && !weir__journal_exec_find(j, exec_id)) {
        rc = weir_journal_flush(j, err);
        if (!rc) rc = weir__journal_stored(j, exec_id, err);
    }
    if (rc < 0) return rc;
    if (rc) return weir__error(err, WEIR_EEXISTS, "execution %.100s already has a journal", exec_id);
    rc = precheck(j, err);
    if (rc) return rc;
    jitem *it = NULL;
    if ((rc = encode_item(j, OP_START, exec_id, graph_id, body, &it, err))) return rc;
    it->kind = WEIR_JOURNAL_START;
    it->seq = 1;
    it->tick = tick;
    it->time_ms = time_ms;
    it->created_ms = created_ms;
    it->done = done;
    it->ud = ud;
    weir__journal_chain(j->md, NULL, it->kind, 1, tick, time_ms, it->text, it->len, it->chain);
    jexec *e = weir__journal_exec_add(j, exec_id);
    if (!e) {
        rc = weir__error(err, WEIR_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = push(j, it, err))) {
        remove_exec(j, exec_id);
        goto fail;
    }
    e->last_seq = 1;
    memcpy(e->chain, it->chain, WEIR_JOURNAL_CHAIN);
    e->tail = it;
    e->tail_ticket = it->ticket;
    return 0;
fail:
    free_item(it);
    return rc;
}

/* Chain and queue record `it` (its text set) as exec e's next. */
static int append_item(weir_journal *j, jexec *e, jitem *it, int kind, int64_t tick, int64_t time_ms,
                       weir_journal_done_fn done, void *ud, int64_t *seq_out, weir_error *err) {
    it->kind = kind;
    it->seq = e->last_seq + 1;
    it->tick = tick;
    it->time_ms = time_ms;
    it->done = done;
    it->ud = ud;
    weir__journal_chain(j->md, e->chain, kind, it->seq, tick, time_ms, it->text, it->len, it->chain);
    int rc = push(j, it, err);
    if (rc) {
        free_item(it);
        return rc;
    }
    e->last_seq = it->seq;
    memcpy(e->chain, it->chain, WEIR_JOURNAL_CHAIN);
    e->tail = it;
    e->tail_ticket = it->ticket;
    if (seq_out) *seq_out = e->last_seq;
    return 0;
}

/* pre: refuse early, before the body is encoded, when the queue would. */
static int append_check(weir_journal *j, const char *exec_id, int kind, bool pre, jexec **e, weir_error *err) {
    if (kind < 1 || kind == WEIR_JOURNAL_START)
        return weir__error(err, WEIR_EINVAL, "journal record kind %d cannot be appended%s", kind,
                           kind == WEIR_JOURNAL_START ? " (start is weir_journal_start's)" : "");
    int rc = writable_exec(j, exec_id, e, err);
    return rc || !pre ? rc : precheck(j, err);
}

int weir_journal_append(weir_journal *j, const char *exec_id, int kind, int64_t tick, int64_t time_ms, json_t *body,
                        weir_journal_done_fn done, void *ud, int64_t *seq_out, weir_error *err) {
    jexec *e = NULL;
    int rc = append_check(j, exec_id, kind, true, &e, err);
    if (rc) return rc;
    jitem *it = NULL;
    if ((rc = encode_item(j, OP_RECORD, exec_id, NULL, body, &it, err))) return rc;
    return append_item(j, e, it, kind, tick, time_ms, done, ud, seq_out, err);
}

int weir_journal_append_text(weir_journal *j, const char *exec_id, int kind, int64_t tick, int64_t time_ms,
                             const char *text, size_t len, weir_journal_done_fn done, void *ud, int64_t *seq_out,
                             weir_error *err) {
    jexec *e = NULL;
    int rc = append_check(j, exec_id, kind, false, &e, err); /* encoded already: push alone decides */
    if (rc) return rc;
    if (!text || !len) return weir__error(err, WEIR_EINVAL, "a journal record needs a JSON body");
    jitem *it = new_item(OP_RECORD, exec_id, NULL, len);
    if (!it) return weir__error(err, WEIR_ENOMEM, "out of memory");
    memcpy(it->text, text, len);
    return append_item(j, e, it, kind, tick, time_ms, done, ud, seq_out, err);
}

int weir_journal_digest(weir_journal *j, const char *exec_id, int64_t seq, const void *digest, size_t len,
                        weir_error *err) {
    if (!digest || !len || len > 64) return weir__error(err, WEIR_EINVAL, "a wave digest is 1 to 64 bytes");
    jexec *e = NULL;
    int rc = writable_exec(j, exec_id, &e, err);
    if (rc) return rc;
    if (e->tail && e->last_seq == seq) {
        /* Its record not taken by the writer yet: the digest rides in the
         * record's row (no row of its own). */
        pthread_mutex_lock(&j->mu);
        bool merged = !j->failed && e->tail_ticket > j->taken;
        if (merged) {
            memcpy(e->tail->dig, digest, len);
            e->tail->dig_len = len;
        }
        pthread_mutex_unlock(&j->mu);
        if (merged) return 0;
    }
    jitem *it = new_item(OP_DIGEST, exec_id, NULL, len);
    if (!it) return weir__error(err, WEIR_ENOMEM, "out of memory");
    memcpy(it->text, digest, len);
    it->seq = seq;
    if ((rc = push(j, it, err))) free_item(it);
    return rc;
}

int weir_journal_snapshot(weir_journal *j, const char *exec_id, int64_t tick, int64_t time_ms, json_t *state,
                          weir_journal_done_fn done, void *ud, weir_error *err) {
    jexec *e = NULL;
    int rc = writable_exec(j, exec_id, &e, err);
    if (!rc) rc = precheck(j, err);
    if (rc) return rc;
    jitem *it = NULL;
    if ((rc = encode_item(j, OP_SNAPSHOT, exec_id, NULL, state, &it, err))) return rc;
    it->seq = e->last_seq;
    it->tick = tick;
    it->time_ms = time_ms;
    memcpy(it->chain, e->chain, WEIR_JOURNAL_CHAIN);
    it->done = done;
    it->ud = ud;
    if ((rc = push(j, it, err))) free_item(it);
    return rc;
}

int weir_journal_finish(weir_journal *j, const char *exec_id, int64_t finished_ms, weir_journal_done_fn done, void *ud,
                        weir_error *err) {
    jexec *e = NULL;
    int rc = writable_exec(j, exec_id, &e, err);
    if (rc) return rc;
    jitem *it = new_item(OP_FINISH, exec_id, NULL, 0);
    if (!it) return weir__error(err, WEIR_ENOMEM, "out of memory");
    it->time_ms = finished_ms;
    it->done = done;
    it->ud = ud;
    if ((rc = push(j, it, err))) {
        free_item(it);
        return rc;
    }
    e->finished = 1;
    return 0;
}

int weir_journal_delete(weir_journal *j, const char *exec_id, weir_journal_done_fn done, void *ud, weir_error *err) {
    jitem *it = new_item(OP_DELETE, exec_id, NULL, 0);
    if (!it) return weir__error(err, WEIR_ENOMEM, "out of memory");
    it->done = done;
    it->ud = ud;
    int rc = push(j, it, err);
    if (rc) {
        free_item(it);
        return rc;
    }
    pthread_mutex_lock(&j->mu); /* it is not freed before the loop polls */
    j->deleted = it->ticket;
    if (j->flush_want < it->ticket) j->flush_want = it->ticket; /* applied soon; nobody waits */
    pthread_mutex_unlock(&j->mu);
    remove_exec(j, exec_id);
    return 0;
}

/* ------------------------------------------------------------ completion */

size_t weir_journal_poll(weir_journal *j) {
    pthread_mutex_lock(&j->mu);
    jitem *list = j->comp_head;
    j->comp_head = NULL;
    j->comp_tail = &j->comp_head;
    weir_error fail;
    fail.code = 0;
    if (j->failed) weir__error(&fail, WEIR_EIO, "the journal could not commit: %s", j->fail_msg);
    pthread_mutex_unlock(&j->mu);
    size_t n = 0, ran = 0;
    for (jitem *it = list, *next; it; it = next, n++) {
        next = it->next;
        if (it->done) {
            it->done(it->ud, it->status, it->status ? &fail : NULL);
            ran++;
        }
        free_item(it);
    }
    if (n) {
        pthread_mutex_lock(&j->mu);
        j->outstanding -= n;
        pthread_mutex_unlock(&j->mu);
    }
    return ran;
}

int weir_journal_sync(weir_journal *j, weir_error *err) {
    pthread_mutex_lock(&j->mu);
    if (j->writer_waiting && j->pend_head) pthread_cond_signal(&j->work); /* cfg.kick: nobody else will */
    uint64_t ticket = j->queued;
    while (j->completed < ticket) pthread_cond_wait(&j->done, &j->mu);
    int rc = j->failed ? weir__error(err, WEIR_EIO, "the journal could not commit: %s", j->fail_msg) : 0;
    pthread_mutex_unlock(&j->mu);
    return rc;
}

bool weir_journal_deleting(weir_journal *j) {
    pthread_mutex_lock(&j->mu);
    bool out = j->ingested < j->deleted && !j->failed;
    pthread_mutex_unlock(&j->mu);
    return out;
}

int weir_journal_flush(weir_journal *j, weir_error *err) {
    pthread_mutex_lock(&j->mu);
    uint64_t ticket = j->queued;
    for (;;) {
        /* Everything queued; once a landing failed (writes refused), what
         * was landed before it: reads still see every durable record. */
        uint64_t want = j->failed && j->landed < ticket ? j->landed : ticket;
        if (j->ingested >= want || j->ingest_failed) break;
        if (j->flush_want < want) j->flush_want = want;
        pthread_cond_signal(&j->work); /* the writer hands its log on once everything queued is in it */
        pthread_cond_wait(&j->done, &j->mu);
    }
    int rc = j->ingest_failed ? weir__error(err, WEIR_EIO, "the journal could not commit: %s", j->fail_msg) : 0;
    pthread_mutex_unlock(&j->mu);
    return rc;
}

void weir_journal_stats_get(weir_journal *j, weir_journal_stats *out) {
    pthread_mutex_lock(&j->mu);
    *out = j->stats;
    out->outstanding = j->outstanding;
    pthread_mutex_unlock(&j->mu);
}

/* ------------------------------------------------------------- lifecycle */

static int open_db(weir_journal *j, const char *vfs, sqlite3 **db, weir_error *err) {
    int rc = sqlite3_open_v2(j->path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, vfs);
    if (rc != SQLITE_OK) return weir__journal_db_error(j, *db, rc, "cannot open the journal", err);
    sqlite3_extended_result_codes(*db, 1);
    sqlite3_busy_timeout(*db, BUSY_TIMEOUT_MS);
    return 0;
}

int weir_journal_open(weir_store *st, const weir_journal_config *cfg, weir_journal **out, weir_error *err) {
    *out = NULL;
    if (!weir_store_path(st))
        return weir__error(err, WEIR_EINVAL, "a store in memory keeps no journal: give weir a DATA_DIR");
    weir_journal *j = weir__calloc(1, sizeof *j);
    if (!j) return weir__error(err, WEIR_ENOMEM, "out of memory");
    j->st = st;
    j->path = weir_store_path(st);
    if (cfg) j->cfg = *cfg;
    if (!j->cfg.queue_max) j->cfg.queue_max = WEIR_JOURNAL_QUEUE_MAX_DEFAULT;
    if (!j->cfg.batch_max) j->cfg.batch_max = WEIR_JOURNAL_BATCH_MAX_DEFAULT;
    j->comp_tail = &j->comp_head;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->work, NULL);
    pthread_cond_init(&j->done, NULL);
    pthread_cond_init(&j->ckpt_cv, NULL);
    pthread_cond_init(&j->ingest_cv, NULL);
    j->ingest_idx = -1;
    int rc = 0;
    if (!(j->md = EVP_MD_CTX_new())) rc = weir__error(err, WEIR_ENOMEM, "out of memory (a SHA-256 context)");
    if (!rc) rc = open_db(j, j->cfg.vfs, &j->wdb, err);
    if (!rc) rc = open_db(j, NULL, &j->rdb, err);
    if (!rc) {
        /* The schema is the store's (it migrated at open): the journal only
         * sets how its own connection commits. */
        const char *sync = j->cfg.durability == WEIR_DURABILITY_PROCESS ? "PRAGMA synchronous = NORMAL"
                                                                         : "PRAGMA synchronous = FULL";
        int src = sqlite3_exec(j->wdb, sync, NULL, NULL, NULL);
        if (src != SQLITE_OK) rc = weir__journal_db_error(j, j->wdb, src, "cannot set synchronous", err);
    }
    if (!rc) rc = weir__journal_writer_prepare(j, err);
    if (!rc) rc = weir__jlog_open(j, err); /* applies what a crash left in the input logs */
    if (!rc) rc = weir__journal_reader_prepare(j, err);
    if (!rc) rc = open_db(j, j->cfg.vfs, &j->cdb, err);
    if (!rc) { /* a connection is in WAL mode once it has read: until then a checkpoint is a no-op */
        int src = sqlite3_exec(j->cdb, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
        if (src != SQLITE_OK) rc = weir__journal_db_error(j, j->cdb, src, "cannot open the journal's checkpoints", err);
    }
    if (!rc) {
        sqlite3_wal_autocheckpoint(j->wdb, 0);
        sqlite3_wal_hook(j->wdb, weir__journal_wal_hook, j);
        int e = pthread_create(&j->ckpt_thread, NULL, weir__journal_checkpoint_main, j);
        if (e) rc = weir__error(err, WEIR_ENOMEM, "cannot start the journal's checkpoint thread: %s", strerror(e));
        else j->ckpt_started = 1;
    }
    if (!rc) {
        int e = pthread_create(&j->ingest_thread, NULL, weir__journal_ingest_main, j);
        if (e) rc = weir__error(err, WEIR_ENOMEM, "cannot start the journal's ingest thread: %s", strerror(e));
        else j->ingest_started = 1;
    }
    if (!rc) {
        int e = pthread_create(&j->thread, NULL, weir__journal_writer_main, j);
        if (e) rc = weir__error(err, WEIR_ENOMEM, "cannot start the journal's writer thread: %s", strerror(e));
        else j->thread_started = 1;
    }
    if (rc) {
        weir_journal_close(j);
        return rc;
    }
    weir_store_autocheckpoint(st, 0); /* the writer checkpoints (its connection's default) */
    *out = j;
    return 0;
}

void weir_journal_close(weir_journal *j) {
    if (!j) return;
    if (j->thread_started) {
        pthread_mutex_lock(&j->mu);
        j->stop = 1;
        pthread_cond_signal(&j->work);
        pthread_mutex_unlock(&j->mu);
        pthread_join(j->thread, NULL); /* it lands what is pending, and hands its log on, first */
        weir_journal_poll(j);
    }
    if (j->ingest_started) { /* after the writer's last hand-over */
        pthread_mutex_lock(&j->mu);
        j->ingest_stop = 1;
        pthread_cond_signal(&j->ingest_cv);
        pthread_mutex_unlock(&j->mu);
        pthread_join(j->ingest_thread, NULL);
        weir_store_autocheckpoint(j->st, 1);
    }
    if (j->ckpt_started) { /* after the writer's last commit: nothing more asks for one */
        pthread_mutex_lock(&j->mu);
        j->stop = 1;
        pthread_cond_signal(&j->ckpt_cv);
        pthread_mutex_unlock(&j->mu);
        pthread_join(j->ckpt_thread, NULL);
    }
    for (int i = 0; i < N_W; i++) sqlite3_finalize(j->w[i]);
    for (int i = 0; i < 4; i++) sqlite3_finalize(j->w_recs[i]);
    for (int i = 0; i < N_R; i++) sqlite3_finalize(j->r[i]);
    weir__jlog_close(j, j->thread_started && j->ingest_started);
    sqlite3_close(j->wdb);
    sqlite3_close(j->rdb);
    sqlite3_close(j->cdb);
    for (jitem *it = j->pend_head, *next; it; it = next) { /* only when the thread never started */
        next = it->next;
        free_item(it);
    }
    for (size_t i = 0; i < j->nbuckets; i++)
        for (jexec *e = j->buckets[i], *next; e; e = next) {
            next = e->next;
            weir__free(e);
        }
    weir__free(j->buckets);
    weir__cbuf_free(&j->scratch);
    EVP_MD_CTX_free(j->md);
    pthread_cond_destroy(&j->work);
    pthread_cond_destroy(&j->done);
    pthread_cond_destroy(&j->ckpt_cv);
    pthread_cond_destroy(&j->ingest_cv);
    pthread_mutex_destroy(&j->mu);
    weir__free(j);
}
