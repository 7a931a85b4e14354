/*
 * The journal's threads.  The writer takes what is queued (up to batch_max
 * items), lands it in the input log with one write (and one fsync), hands
 * it back for poll, wakes the loop.  The ingest thread applies a full log
 * to SQLite in one transaction, on the write connection.  The checkpoint
 * thread copies the WAL into the database.  None allocates through weir's
 * allocator (the loop made every item; SQLite and the logs allocate their
 * own).
 */
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "store/journal_int.h"

#define BACKGROUND_NICE 10
#define YIELD_ROWS 32

static const char *const WSQL[N_W] = {
    [W_BEGIN] = "BEGIN IMMEDIATE",
    [W_COMMIT] = "COMMIT",
    [W_ROLLBACK] = "ROLLBACK",
    [W_EXEC] = "INSERT INTO executions (id, graph_id, created_ms, state) VALUES (?1, ?2, ?3, 'unfinished')",
    [W_REC] = ("INSERT INTO journal (exec_id, seq, kind, tick, time_ms, body, chain, digest) "
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
    [W_DIG] = "INSERT OR REPLACE INTO wave_digests (exec_id, seq, digest) VALUES (?1, ?2, ?3)",
    [W_SNAP] = ("INSERT OR REPLACE INTO snapshots (exec_id, seq, tick, time_ms, chain, state) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
    [W_FIN] = "UPDATE executions SET state = 'finished', finished_ms = ?2 WHERE id = ?1",
    [W_DEL_J] = "DELETE FROM journal WHERE exec_id = ?1",
    [W_DEL_D] = "DELETE FROM wave_digests WHERE exec_id = ?1",
    [W_DEL_S] = "DELETE FROM snapshots WHERE exec_id = ?1",
    [W_DEL_E] = "DELETE FROM executions WHERE id = ?1",
    [W_GEN] = "UPDATE input_log SET applied_gen = ?1",
};

int weir__journal_writer_prepare(weir_journal *j, weir_error *err) {
    for (int i = 0; i < N_W; i++) {
        int rc = sqlite3_prepare_v3(j->wdb, WSQL[i], -1, SQLITE_PREPARE_PERSISTENT, &j->w[i], NULL);
        if (rc != SQLITE_OK) return weir__journal_db_error(j, j->wdb, rc, "cannot prepare the journal", err);
    }
    /* W_REC's columns, n rows of anonymous parameters (numbered 1, 2 ...) */
    char sql[120 + W_RECS_MAX * 18];
    for (int k = 0; k < 4; k++) {
        int n = 2 << k;
        size_t at = (size_t)snprintf(sql, sizeof sql,
                                     "INSERT INTO journal (exec_id, seq, kind, tick, time_ms, body, chain, digest) VALUES ");
        for (int r = 0; r < n; r++) at += (size_t)snprintf(sql + at, sizeof sql - at, "%s(?,?,?,?,?,?,?,?)", r ? "," : "");
        int rc = sqlite3_prepare_v3(j->wdb, sql, -1, SQLITE_PREPARE_PERSISTENT, &j->w_recs[k], NULL);
        if (rc != SQLITE_OK) return weir__journal_db_error(j, j->wdb, rc, "cannot prepare the journal", err);
    }
    return 0;
}

/* Step q to its end; reset it.  SQLITE_OK or the step's code. */
static int run(sqlite3_stmt *q) {
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int bind_id(sqlite3_stmt *q, const jrow *r) {
    return sqlite3_bind_text(q, 1, r->id, (int)r->id_len, SQLITE_STATIC);
}

/* One row's statements (inside the transaction). */
static int write_row(weir_journal *j, const jrow *r) {
    sqlite3_stmt *q;
    int rc;
    switch (r->op) {
    case OP_START:
        q = j->w[W_EXEC];
        rc = bind_id(q, r);
        if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 2, r->graph_id ? r->graph_id : "", (int)r->graph_len, SQLITE_STATIC);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 3, r->created_ms);
        rc = rc == SQLITE_OK ? run(q) : rc;
        if (rc != SQLITE_OK) return rc;
        __attribute__((fallthrough)); /* record 1 */
    case OP_RECORD:
        q = j->w[W_REC];
        rc = bind_id(q, r);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 2, r->seq);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int(q, 3, r->kind);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 4, r->tick);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 5, r->time_ms);
        if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 6, r->text, (int)r->len, SQLITE_STATIC);
        if (rc == SQLITE_OK) rc = sqlite3_bind_blob(q, 7, r->chain, WEIR_JOURNAL_CHAIN, SQLITE_STATIC);
        if (rc == SQLITE_OK && r->dig_len) rc = sqlite3_bind_blob(q, 8, r->dig, (int)r->dig_len, SQLITE_STATIC);
        return rc == SQLITE_OK ? run(q) : rc;
    case OP_DIGEST:
        q = j->w[W_DIG];
        rc = bind_id(q, r);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 2, r->seq);
        if (rc == SQLITE_OK) rc = sqlite3_bind_blob(q, 3, r->text, (int)r->len, SQLITE_STATIC);
        return rc == SQLITE_OK ? run(q) : rc;
    case OP_SNAPSHOT:
        q = j->w[W_SNAP];
        rc = bind_id(q, r);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 2, r->seq);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 3, r->tick);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 4, r->time_ms);
        if (rc == SQLITE_OK) rc = sqlite3_bind_blob(q, 5, r->chain, WEIR_JOURNAL_CHAIN, SQLITE_STATIC);
        if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 6, r->text, (int)r->len, SQLITE_STATIC);
        return rc == SQLITE_OK ? run(q) : rc;
    case OP_FINISH:
        q = j->w[W_FIN];
        rc = bind_id(q, r);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 2, r->time_ms);
        return rc == SQLITE_OK ? run(q) : rc;
    case OP_DELETE:
        rc = SQLITE_OK;
        for (int s = W_DEL_J; rc == SQLITE_OK && s <= W_DEL_E; s++) {
            rc = bind_id(j->w[s], r);
            if (rc == SQLITE_OK) rc = run(j->w[s]);
        }
        return rc;
    default: return SQLITE_MISUSE;
    }
}

static const char *op_name(int op) {
    static const char *const names[] = {"start", "record", "wave digest", "snapshot", "finish", "delete"};
    return op >= 0 && op < (int)(sizeof names / sizeof *names) ? names[op] : "item";
}

/* rows[0 .. n) (all OP_RECORD; n = 2, 4, 8 or 16) in one statement. */
static int write_records(weir_journal *j, const jrow *rows, int n) {
    int k = n == 2 ? 0 : n == 4 ? 1 : n == 8 ? 2 : 3;
    sqlite3_stmt *q = j->w_recs[k];
    int rc = SQLITE_OK;
    for (int i = 0; rc == SQLITE_OK && i < n; i++) {
        const jrow *r = &rows[i];
        int p = i * 8;
        rc = sqlite3_bind_text(q, p + 1, r->id, (int)r->id_len, SQLITE_STATIC);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, p + 2, r->seq);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int(q, p + 3, r->kind);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, p + 4, r->tick);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, p + 5, r->time_ms);
        if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, p + 6, r->text, (int)r->len, SQLITE_STATIC);
        if (rc == SQLITE_OK) rc = sqlite3_bind_blob(q, p + 7, r->chain, WEIR_JOURNAL_CHAIN, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = r->dig_len ? sqlite3_bind_blob(q, p + 8, r->dig, (int)r->dig_len, SQLITE_STATIC)
                            : sqlite3_bind_null(q, p + 8);
    }
    return rc == SQLITE_OK ? run(q) : rc;
}

int weir__journal_apply(weir_journal *j, const unsigned char *frames, size_t len, uint64_t gen, size_t *items,
                        char *msg, size_t cap) {
    jrow rows[W_RECS_MAX];
    const jrow *bad = NULL;
    size_t at = 0, n = 0;
    int rc = run(j->w[W_BEGIN]);
    while (rc == SQLITE_OK && at < len) {
        /* a run of records, as many as fit in one INSERT; else one row */
        int got = 0;
        size_t used;
        while (got < W_RECS_MAX && (used = weir__jlog_next(frames + at, len - at, gen, &rows[got])) != 0) {
            at += used;
            got++;
            if (rows[got - 1].op != OP_RECORD) break;
        }
        if (!got) break; /* the end of the log's generation: a torn frame or an older one's */
        if (n / YIELD_ROWS != (n + (size_t)got) / YIELD_ROWS) sched_yield(); /* give way (see background) */
        n += (size_t)got;
        int nrec = rows[got - 1].op == OP_RECORD ? got : got - 1;
        int i = 0;
        for (int take = W_RECS_MAX; rc == SQLITE_OK && take >= 2; take /= 2)
            if (nrec - i >= take) {
                rc = write_records(j, rows + i, take);
                if (rc != SQLITE_OK) bad = &rows[i];
                i += take;
            }
        for (; rc == SQLITE_OK && i < got; i++)
            if ((rc = write_row(j, &rows[i])) != SQLITE_OK) bad = &rows[i];
    }
    if (rc == SQLITE_OK) {
        sqlite3_stmt *q = j->w[W_GEN];
        rc = sqlite3_bind_int64(q, 1, (sqlite3_int64)gen);
        if (rc == SQLITE_OK) rc = run(q);
    }
    if (rc == SQLITE_OK) rc = run(j->w[W_COMMIT]);
    if (rc == SQLITE_OK) {
        *items = n;
        return rc;
    }
    if (bad)
        snprintf(msg, cap, "cannot write %s %lld of execution %.*s in %s: %s (SQLite code %d)", op_name(bad->op),
                 (long long)bad->seq, (int)(bad->id_len > 100 ? 100 : bad->id_len), bad->id, j->path,
                 sqlite3_errmsg(j->wdb), rc);
    else
        snprintf(msg, cap, "cannot commit %zu journal items in %s: %s (SQLite code %d); check the disk and DATA_DIR",
                 n, j->path, sqlite3_errmsg(j->wdb), rc);
    if (!sqlite3_get_autocommit(j->wdb)) run(j->w[W_ROLLBACK]);
    return rc;
}

/* Append list .. last (n items, their status set) to completed (mu held). */
static void complete_locked(weir_journal *j, jitem *list, jitem *last, size_t n) {
    if (!list) return;
    *j->comp_tail = list;
    j->comp_tail = &last->next;
    j->completed += n;
}

/* Hand the writer's log to the ingest thread and take the other, when the
 * other is free (mu held).  True when the writer's log is empty now. */
static bool switch_log(weir_journal *j) {
    jlog *l = &j->logs[j->active], *o = &j->logs[!j->active];
    if (!l->items) return true;
    if (o->state != JLOG_FREE) return false;
    l->state = JLOG_INGEST;
    j->ingest_idx = j->active;
    j->handed = l->last_ticket;
    j->active = !j->active;
    o->state = JLOG_ACTIVE;
    pthread_cond_signal(&j->ingest_cv);
    return true;
}

/* One batch off pending, landed (mu held on entry and on return). */
static void land_batch(weir_journal *j, char *msg, size_t cap) {
    jitem *batch = j->pend_head, *last = j->pend_last;
    size_t n = j->pend_n;
    if (n > j->cfg.batch_max) {
        last = batch;
        for (n = 1; n < j->cfg.batch_max; n++) last = last->next;
    }
    j->pend_head = last->next;
    j->taken = last->ticket; /* a digest no longer joins them (weir_journal_digest) */
    if (!j->pend_head) j->pend_last = NULL;
    j->pend_n -= n;
    last->next = NULL;
    int refused = j->failed;
    pthread_mutex_unlock(&j->mu);

    /* The batch is the writer's until it is on completed. */
    jlog *l = &j->logs[j->active];
    uint64_t ticket = l->last_ticket;
    int rc = refused ? SQLITE_IOERR : weir__jlog_land(j, batch, &ticket, msg, cap);
    uint64_t records = 0;
    for (jitem *it = batch; it; it = it->next) {
        it->status = rc == SQLITE_OK ? 0 : WEIR_EIO;
        records += it->op == OP_START || it->op == OP_RECORD;
    }

    pthread_mutex_lock(&j->mu);
    complete_locked(j, batch, last, n);
    if (rc == SQLITE_OK) {
        l->last_ticket = ticket;
        j->landed = ticket;
        j->stats.commits++;
        j->stats.items += n;
        j->stats.records += records;
        if (n > j->stats.max_batch) j->stats.max_batch = n;
    } else if (!refused) {
        /* Everything queued after a failed batch fails with it: the
         * chains in memory run ahead of the disk now. */
        j->failed = 1;
        j->stats.failed_commits++;
        memcpy(j->fail_msg, msg, sizeof j->fail_msg);
        for (jitem *it = j->pend_head; it; it = it->next) it->status = WEIR_EIO;
        j->taken = j->queued;
        complete_locked(j, j->pend_head, j->pend_last, j->pend_n);
        j->pend_head = j->pend_last = NULL;
        j->pend_n = 0;
    }
    pthread_cond_broadcast(&j->done);
    pthread_mutex_unlock(&j->mu);
    if (j->cfg.notify) j->cfg.notify(j->cfg.notify_ud);
    pthread_mutex_lock(&j->mu);
}

void *weir__journal_writer_main(void *arg) {
    weir_journal *j = arg;
    char msg[sizeof j->fail_msg];
    pthread_mutex_lock(&j->mu);
    for (;;) {
        jlog *l = &j->logs[j->active];
        if (j->pend_head) {
            /* A log grows past JLOG_SWITCH_BYTES only while the other is
             * being applied; past JLOG_HOLD_BYTES the writer waits for it
             * (the queue fills, and writes are refused with WEIR_EFULL). */
            if (l->len >= JLOG_SWITCH_BYTES && !switch_log(j) && l->len >= JLOG_HOLD_BYTES && !j->ingest_failed) {
                pthread_cond_wait(&j->work, &j->mu);
                continue;
            }
            land_batch(j, msg, sizeof msg);
            continue;
        }
        /* Nothing queued: apply the log when a flush asks, when stopping,
         * or after JLOG_IDLE_MS without work. */
        if (l->items && (j->flush_want > j->handed || j->stop) && !j->ingest_failed) {
            if (!switch_log(j)) pthread_cond_wait(&j->work, &j->mu); /* the ingest thread frees the other */
            continue;
        }
        if (j->stop) break; /* everything queued is landed, and handed on */
        j->writer_waiting = 1;
        if (l->items && j->logs[!j->active].state == JLOG_FREE && !j->ingest_failed) {
            struct timespec t;
            clock_gettime(CLOCK_REALTIME, &t);
            long idle = j->cfg.idle_ms > 0 ? j->cfg.idle_ms : JLOG_IDLE_MS;
            t.tv_sec += idle / 1000;
            t.tv_nsec += idle % 1000 * 1000000L;
            if (t.tv_nsec >= 1000000000L) t.tv_sec++, t.tv_nsec -= 1000000000L;
            int e = pthread_cond_timedwait(&j->work, &j->mu, &t);
            if (e == ETIMEDOUT && !j->pend_head) switch_log(j);
        } else {
            pthread_cond_wait(&j->work, &j->mu);
        }
        j->writer_waiting = 0;
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* The ingest and the checkpoints are background work: nothing waits for
 * them but reads and a full log.  At a lower priority, and with the ingest
 * yielding every YIELD_ROWS rows (inside its transaction), they give way to
 * the loop and the writer when the cores are busy: a log applied beside a
 * busy loop cost it its p99 (process mode: 4.0-4.2 ms at nice 10 alone,
 * 2.2-2.4 ms with the yields; base 2.5-2.9).  Not SCHED_IDLE: a thread
 * cannot leave it unprivileged, and an overloaded server would starve its
 * ingest. */
static void background(void) {
#ifdef __linux__
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), BACKGROUND_NICE); /* this thread only; best effort */
#endif
}

void *weir__journal_ingest_main(void *arg) {
    weir_journal *j = arg;
    char msg[sizeof j->fail_msg];
    background();
    pthread_mutex_lock(&j->mu);
    for (;;) {
        while (j->ingest_idx < 0 && !j->ingest_stop) pthread_cond_wait(&j->ingest_cv, &j->mu);
        if (j->ingest_idx < 0) break; /* stopping, and every handed log is applied */
        jlog *l = &j->logs[j->ingest_idx];
        pthread_mutex_unlock(&j->mu);
        size_t items = 0;
        int rc = weir__journal_apply(j, l->buf + JLOG_HEADER, l->len - JLOG_HEADER, l->gen, &items, msg, sizeof msg);
        pthread_mutex_lock(&j->mu);
        j->ingest_idx = -1;
        if (rc == SQLITE_OK) {
            j->ingested = l->last_ticket;
            j->stats.ingests++;
            l->len = l->written = 0;
            l->items = 0;
            if (l->cap > 2 * JLOG_SWITCH_BYTES) { /* grown by a burst: not kept */
                free(l->buf);
                l->buf = NULL;
                l->cap = 0;
            }
            l->state = JLOG_FREE;
        } else {
            /* The log stays as it is (the next open applies it); nothing
             * more is written. */
            j->ingest_failed = 1;
            if (!j->failed) {
                j->failed = 1;
                j->stats.failed_commits++;
                memcpy(j->fail_msg, msg, sizeof j->fail_msg);
            }
        }
        pthread_cond_broadcast(&j->done);
        pthread_cond_signal(&j->work);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

int weir__journal_wal_hook(void *ud, sqlite3 *db, const char *name, int pages) {
    (void)db;
    (void)name;
    weir_journal *j = ud;
    if (pages < WAL_CHECKPOINT_PAGES) return SQLITE_OK;
    pthread_mutex_lock(&j->mu);
    if (!j->ckpt_wanted) {
        j->ckpt_wanted = 1;
        pthread_cond_signal(&j->ckpt_cv);
    }
    pthread_mutex_unlock(&j->mu);
    return SQLITE_OK;
}

/* A passive checkpoint takes no writer lock: commits go on while it copies
 * and syncs; what it cannot copy yet waits for the next one. */
void *weir__journal_checkpoint_main(void *arg) {
    weir_journal *j = arg;
    background();
    pthread_mutex_lock(&j->mu);
    for (;;) {
        while (!j->ckpt_wanted && !j->stop) pthread_cond_wait(&j->ckpt_cv, &j->mu);
        if (!j->ckpt_wanted) break; /* stopping */
        j->ckpt_wanted = 0;
        pthread_mutex_unlock(&j->mu);
        int log = 0, copied = 0;
        int rc = sqlite3_wal_checkpoint_v2(j->cdb, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
        pthread_mutex_lock(&j->mu);
        if (rc == SQLITE_OK && copied > 0) j->stats.checkpoints++;
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}
