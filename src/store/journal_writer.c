/*
 * The journal's writer thread: takes what is queued (up to batch_max items),
 * commits it in one transaction, hands it back for poll, wakes the loop.
 * It owns the write connection and never allocates through weir's
 * allocator (the loop made every item; SQLite allocates its own).
 */
#include <stdio.h>
#include <string.h>

#include "store/journal_int.h"

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

static int bind_id(sqlite3_stmt *q, const jitem *it) { return sqlite3_bind_text(q, 1, it->id, -1, SQLITE_STATIC); }

/* One item's statements (inside the batch's transaction). */
static int write_item(weir_journal *j, const jitem *it) {
    sqlite3_stmt *q;
    int rc;
    switch (it->op) {
    case OP_START:
        q = j->w[W_EXEC];
        rc = bind_id(q, it);
        if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 2, it->graph_id, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 3, it->created_ms);
        rc = rc == SQLITE_OK ? run(q) : rc;
        if (rc != SQLITE_OK) return rc;
        __attribute__((fallthrough)); /* record 1 */
    case OP_RECORD:
        q = j->w[W_REC];
        rc = bind_id(q, it);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 2, it->seq);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int(q, 3, it->kind);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 4, it->tick);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 5, it->time_ms);
        if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 6, it->text, (int)it->len, SQLITE_STATIC);
        if (rc == SQLITE_OK) rc = sqlite3_bind_blob(q, 7, it->chain, WEIR_JOURNAL_CHAIN, SQLITE_STATIC);
        if (rc == SQLITE_OK && it->dig_len) rc = sqlite3_bind_blob(q, 8, it->dig, (int)it->dig_len, SQLITE_STATIC);
        return rc == SQLITE_OK ? run(q) : rc;
    case OP_DIGEST:
        q = j->w[W_DIG];
        rc = bind_id(q, it);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 2, it->seq);
        if (rc == SQLITE_OK) rc = sqlite3_bind_blob(q, 3, it->text, (int)it->len, SQLITE_STATIC);
        return rc == SQLITE_OK ? run(q) : rc;
    case OP_SNAPSHOT:
        q = j->w[W_SNAP];
        rc = bind_id(q, it);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 2, it->seq);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 3, it->tick);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 4, it->time_ms);
        if (rc == SQLITE_OK) rc = sqlite3_bind_blob(q, 5, it->chain, WEIR_JOURNAL_CHAIN, SQLITE_STATIC);
        if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 6, it->text, (int)it->len, SQLITE_STATIC);
        return rc == SQLITE_OK ? run(q) : rc;
    case OP_FINISH:
        q = j->w[W_FIN];
        rc = bind_id(q, it);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 2, it->time_ms);
        return rc == SQLITE_OK ? run(q) : rc;
    case OP_DELETE:
        rc = SQLITE_OK;
        for (int s = W_DEL_J; rc == SQLITE_OK && s <= W_DEL_E; s++) {
            rc = bind_id(j->w[s], it);
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

/* Records it and the n - 1 after it (all OP_RECORD) in one statement
 * (n = 2, 4, 8 or 16); *next gets the item after them. */
static int write_records(weir_journal *j, const jitem *it, int n, const jitem **next) {
    int k = n == 2 ? 0 : n == 4 ? 1 : n == 8 ? 2 : 3;
    sqlite3_stmt *q = j->w_recs[k];
    int rc = SQLITE_OK;
    for (int r = 0; rc == SQLITE_OK && r < n; r++, it = it->next) {
        int p = r * 8;
        rc = sqlite3_bind_text(q, p + 1, it->id, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, p + 2, it->seq);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int(q, p + 3, it->kind);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, p + 4, it->tick);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, p + 5, it->time_ms);
        if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, p + 6, it->text, (int)it->len, SQLITE_STATIC);
        if (rc == SQLITE_OK) rc = sqlite3_bind_blob(q, p + 7, it->chain, WEIR_JOURNAL_CHAIN, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = it->dig_len ? sqlite3_bind_blob(q, p + 8, it->dig, (int)it->dig_len, SQLITE_STATIC)
                             : sqlite3_bind_null(q, p + 8);
    }
    *next = it;
    return rc == SQLITE_OK ? run(q) : rc;
}

/* Commit batch (n items) in one transaction.  SQLITE_OK, or an error code
 * with msg saying what failed; the transaction is then rolled back.  A run
 * of records goes in as few INSERTs as its length has binary digits. */
static int commit_batch(weir_journal *j, const jitem *batch, size_t n, char *msg, size_t cap) {
    const jitem *at = NULL;
    int rc = run(j->w[W_BEGIN]);
    for (const jitem *it = batch, *next; rc == SQLITE_OK && it; it = next) {
        int run_n = 0;
        for (const jitem *r = it; r && r->op == OP_RECORD && run_n < W_RECS_MAX; r = r->next) run_n++;
        int take = 1;
        while (take * 2 <= run_n) take *= 2;
        if (take >= 2) {
            rc = write_records(j, it, take, &next);
        } else {
            rc = write_item(j, it);
            next = it->next;
        }
        if (rc != SQLITE_OK) at = it;
    }
    if (rc == SQLITE_OK) rc = run(j->w[W_COMMIT]);
    if (rc == SQLITE_OK) return rc;
    if (at)
        snprintf(msg, cap, "cannot write %s %lld of execution %.100s in %s: %s (SQLite code %d)", op_name(at->op),
                 (long long)at->seq, at->id, j->path, sqlite3_errmsg(j->wdb), rc);
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

void *weir__journal_writer_main(void *arg) {
    weir_journal *j = arg;
    char msg[sizeof j->fail_msg];
    pthread_mutex_lock(&j->mu);
    for (;;) {
        while (!j->pend_head && !j->stop) {
            j->writer_waiting = 1;
            pthread_cond_wait(&j->work, &j->mu);
            j->writer_waiting = 0;
        }
        if (!j->pend_head) break; /* stopping, and everything is committed */
        /* Take the whole queue in O(1) when it fits (the loop waits on mu
         * meanwhile); walk only past batch_max. */
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
        int rc = refused ? SQLITE_IOERR : commit_batch(j, batch, n, msg, sizeof msg);
        uint64_t records = 0;
        for (jitem *it = batch; it; it = it->next) {
            it->status = rc == SQLITE_OK ? 0 : WEIR_EIO;
            records += it->op == OP_START || it->op == OP_RECORD;
        }

        pthread_mutex_lock(&j->mu);
        complete_locked(j, batch, last, n);
        if (rc == SQLITE_OK) {
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
