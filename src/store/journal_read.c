/*
 * The journal's reads, on the loop's reader connection: records with their
 * chain verified, snapshots, the executions, and resuming an execution's
 * chain after a reopen.  Reads of what the loop writes flush first: what
 * is still in an input log is applied to SQLite.
 */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "store/journal_int.h"

static const char *const RSQL[N_R] = {
    [R_READ] = ("SELECT seq, kind, tick, time_ms, body, chain FROM journal "
                "WHERE exec_id = ?1 AND seq >= ?2 ORDER BY seq"),
    [R_CHAIN] = "SELECT chain FROM journal WHERE exec_id = ?1 AND seq = ?2",
    [R_TAIL] = "SELECT seq, chain FROM journal WHERE exec_id = ?1 ORDER BY seq DESC LIMIT 1",
    [R_EXEC] = "SELECT state FROM executions WHERE id = ?1",
    [R_SNAP] = ("SELECT seq, tick, time_ms, chain, state FROM snapshots "
                "WHERE exec_id = ?1 AND seq <= ?2 AND tick <= ?3 ORDER BY seq DESC LIMIT 1"),
    [R_LIST_UNF] = ("SELECT id, graph_id, created_ms, state, finished_ms FROM executions "
                    "WHERE state = 'unfinished' ORDER BY created_ms, seq"),
    [R_LIST_FIN] = ("SELECT id, graph_id, created_ms, state, finished_ms FROM executions "
                    "WHERE state = 'finished' ORDER BY finished_ms, seq"),
    [R_LIST_ALL] = "SELECT id, graph_id, created_ms, state, finished_ms FROM executions ORDER BY created_ms, seq",
};

int weir__journal_reader_prepare(weir_journal *j, weir_error *err) {
    for (int i = 0; i < N_R; i++) {
        int rc = sqlite3_prepare_v3(j->rdb, RSQL[i], -1, SQLITE_PREPARE_PERSISTENT, &j->r[i], NULL);
        if (rc != SQLITE_OK) return weir__journal_db_error(j, j->rdb, rc, "cannot prepare the journal's reads", err);
    }
    return 0;
}

static void done_with(sqlite3_stmt *q) {
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
}

/* The execution's state: 0 unfinished, 1 finished; WEIR_ENOTFOUND; WEIR_EIO. */
static int exec_state(weir_journal *j, const char *id, weir_error *err) {
    sqlite3_stmt *q = j->r[R_EXEC];
    int rc = sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(q);
    int out;
    if (rc == SQLITE_ROW) {
        const unsigned char *s = sqlite3_column_text(q, 0);
        out = s && strcmp((const char *)s, "finished") == 0;
    } else if (rc == SQLITE_DONE) {
        out = weir__error(err, WEIR_ENOTFOUND, "execution %.100s has no journal", id);
    } else {
        out = weir__journal_db_error(j, j->rdb, rc, "cannot read the executions", err);
    }
    done_with(q);
    return out;
}

int weir__journal_stored(weir_journal *j, const char *exec_id, weir_error *err) {
    int rc = exec_state(j, exec_id, err);
    return rc == WEIR_ENOTFOUND ? 0 : rc < 0 ? rc : 1;
}

/* err and *fault for a journal that does not verify at seq. */
static int broken(const char *id, int64_t seq, weir_journal_fault_kind kind, const char *detail,
                  weir_journal_fault *fault, weir_error *err) {
    static const char *const why[] = {
        [WEIR_JOURNAL_FAULT_HASH] = "hash mismatch (the record or one before it was altered or torn)",
        [WEIR_JOURNAL_FAULT_GAP] = "gap (the record is missing)",
        [WEIR_JOURNAL_FAULT_JSON] = "unreadable JSON",
        [WEIR_JOURNAL_FAULT_FIELD] = "a field has the wrong type or size",
    };
    if (fault) {
        fault->kind = kind;
        fault->seq = seq;
    }
    return weir__error(err, WEIR_EIO, "journal of execution %.100s is broken at record %lld: %s%s%s", id,
                       (long long)seq, why[kind], detail ? ": " : "", detail ? detail : "");
}

/* The stored chain of record seq into out: 0, 1 when absent, or an error. */
static int stored_chain(weir_journal *j, const char *id, int64_t seq, unsigned char *out, weir_error *err) {
    sqlite3_stmt *q = j->r[R_CHAIN];
    int rc = sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 2, seq);
    if (rc == SQLITE_OK) rc = sqlite3_step(q);
    int result;
    if (rc == SQLITE_ROW) {
        result = sqlite3_column_bytes(q, 0) == WEIR_JOURNAL_CHAIN ? 0 : 2;
        if (!result) memcpy(out, sqlite3_column_blob(q, 0), WEIR_JOURNAL_CHAIN);
    } else if (rc == SQLITE_DONE) {
        result = 1;
    } else {
        result = weir__journal_db_error(j, j->rdb, rc, "cannot read the journal", err);
    }
    done_with(q);
    return result;
}

int weir_journal_read(weir_journal *j, const char *exec_id, int64_t from_seq, const unsigned char *anchor,
                      weir_journal_record_fn fn, void *ud, weir_journal_fault *fault, weir_error *err) {
    if (fault) *fault = (weir_journal_fault){WEIR_JOURNAL_FAULT_NONE, 0};
    if (from_seq < 1) return weir__error(err, WEIR_EINVAL, "journal records start at seq 1");
    int rc = weir_journal_flush(j, err);
    if (!rc) rc = exec_state(j, exec_id, err);
    if (rc < 0) return rc;
    unsigned char prev[WEIR_JOURNAL_CHAIN] = {0};
    if (anchor) {
        memcpy(prev, anchor, WEIR_JOURNAL_CHAIN);
    } else if (from_seq > 1) {
        rc = stored_chain(j, exec_id, from_seq - 1, prev, err);
        if (rc < 0) return rc;
        if (rc == 1) return broken(exec_id, from_seq - 1, WEIR_JOURNAL_FAULT_GAP, NULL, fault, err);
        if (rc == 2) return broken(exec_id, from_seq - 1, WEIR_JOURNAL_FAULT_FIELD, "chain", fault, err);
    }
    /* One read transaction: every row from the same committed state. */
    if (sqlite3_exec(j->rdb, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return weir__journal_db_error(j, j->rdb, sqlite3_errcode(j->rdb), "cannot read the journal", err);
    sqlite3_stmt *q = j->r[R_READ];
    int out = 0;
    int64_t want = from_seq;
    rc = sqlite3_bind_text(q, 1, exec_id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 2, from_seq);
    while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        rc = SQLITE_OK;
        weir_journal_record r = {0};
        r.seq = sqlite3_column_int64(q, 0);
        if (r.seq != want) {
            out = broken(exec_id, want, WEIR_JOURNAL_FAULT_GAP, NULL, fault, err);
            break;
        }
        want++;
        r.kind = sqlite3_column_int(q, 1);
        r.tick = sqlite3_column_int64(q, 2);
        r.time_ms = sqlite3_column_int64(q, 3);
        if (sqlite3_column_type(q, 4) != SQLITE_TEXT || sqlite3_column_type(q, 5) != SQLITE_BLOB ||
            sqlite3_column_bytes(q, 5) != WEIR_JOURNAL_CHAIN || sqlite3_column_type(q, 1) != SQLITE_INTEGER) {
            out = broken(exec_id, r.seq, WEIR_JOURNAL_FAULT_FIELD, NULL, fault, err);
            break;
        }
        r.text = (const char *)sqlite3_column_text(q, 4);
        r.len = (size_t)sqlite3_column_bytes(q, 4);
        r.chain = sqlite3_column_blob(q, 5);
        if (!r.text || !r.chain) {
            rc = SQLITE_NOMEM;
            break;
        }
        unsigned char h[WEIR_JOURNAL_CHAIN];
        weir__journal_chain(j->md, prev, r.kind, r.seq, r.tick, r.time_ms, r.text, r.len, h);
        if (memcmp(h, r.chain, WEIR_JOURNAL_CHAIN) != 0) {
            out = broken(exec_id, r.seq, WEIR_JOURNAL_FAULT_HASH, NULL, fault, err);
            break;
        }
        json_error_t jerr;
        r.body = json_loadb(r.text, r.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (!r.body) {
            /* The chain held, so the bytes are as written: out of memory,
             * or a writer that stored text that is not JSON. */
            out = broken(exec_id, r.seq, WEIR_JOURNAL_FAULT_JSON, jerr.text, fault, err);
            break;
        }
        memcpy(prev, h, WEIR_JOURNAL_CHAIN);
        out = fn(ud, &r);
        json_decref(r.body);
        if (out) break;
    }
    if (!out && rc != SQLITE_DONE && rc != SQLITE_OK)
        out = weir__journal_db_error(j, j->rdb, rc, "cannot read the journal", err);
    done_with(q);
    /* A journal with its row but no record 1: the start was lost. */
    if (!out && from_seq == 1 && want == 1) out = broken(exec_id, 1, WEIR_JOURNAL_FAULT_GAP, NULL, fault, err);
    sqlite3_exec(j->rdb, "COMMIT", NULL, NULL, NULL);
    return out;
}

int weir_journal_snapshot_find(weir_journal *j, const char *exec_id, int64_t max_seq, int64_t max_tick,
                               weir_journal_snap *out, weir_error *err) {
    memset(out, 0, sizeof *out);
    int frc = weir_journal_flush(j, err);
    if (frc) return frc;
    sqlite3_stmt *q = j->r[R_SNAP];
    int rc = sqlite3_bind_text(q, 1, exec_id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 2, max_seq);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 3, max_tick);
    if (rc == SQLITE_OK) rc = sqlite3_step(q);
    int result = 0;
    if (rc == SQLITE_ROW) {
        out->seq = sqlite3_column_int64(q, 0);
        out->tick = sqlite3_column_int64(q, 1);
        out->time_ms = sqlite3_column_int64(q, 2);
        const char *state = (const char *)sqlite3_column_text(q, 4);
        json_error_t jerr;
        if (sqlite3_column_bytes(q, 3) != WEIR_JOURNAL_CHAIN || !state) {
            result = weir__error(err, WEIR_EIO, "snapshot %lld of execution %.100s is damaged (chain or state)",
                                 (long long)out->seq, exec_id);
        } else if (!(out->state = json_loadb(state, (size_t)sqlite3_column_bytes(q, 4), JSON_DECODE_ANY, &jerr))) {
            result = weir__error(err, WEIR_EIO, "snapshot %lld of execution %.100s is not JSON: %s",
                                 (long long)out->seq, exec_id, jerr.text);
        } else {
            memcpy(out->chain, sqlite3_column_blob(q, 3), WEIR_JOURNAL_CHAIN);
        }
    } else if (rc == SQLITE_DONE) {
        result = weir__error(err, WEIR_ENOTFOUND, "execution %.100s has no snapshot at or before seq %lld, tick %lld",
                             exec_id, (long long)max_seq, (long long)max_tick);
    } else {
        result = weir__journal_db_error(j, j->rdb, rc, "cannot read the snapshots", err);
    }
    done_with(q);
    return result;
}

int weir_journal_executions(weir_journal *j, int which, weir_journal_exec_fn fn, void *ud, weir_error *err) {
    int frc = weir_journal_flush(j, err);
    if (frc) return frc;
    sqlite3_stmt *q = which == WEIR_JOURNAL_UNFINISHED ? j->r[R_LIST_UNF]
                      : which == WEIR_JOURNAL_FINISHED ? j->r[R_LIST_FIN]
                                                       : j->r[R_LIST_ALL];
    int rc, out = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(q, 0), *graph = (const char *)sqlite3_column_text(q, 1);
        const char *state = (const char *)sqlite3_column_text(q, 3);
        if (!id || !graph || !state) {
            rc = SQLITE_NOMEM;
            break;
        }
        if ((out = fn(ud, id, graph, sqlite3_column_int64(q, 2), strcmp(state, "finished") == 0,
                      sqlite3_column_int64(q, 4))))
            break;
    }
    if (!out && rc != SQLITE_DONE) out = weir__journal_db_error(j, j->rdb, rc, "cannot list the executions", err);
    done_with(q);
    return out;
}

int weir_journal_resume(weir_journal *j, const char *exec_id, int64_t *last_seq, weir_error *err) {
    jexec *known = weir__journal_exec_find(j, exec_id);
    if (known) {
        if (last_seq) *last_seq = known->last_seq;
        return known->finished ? weir__error(err, WEIR_ESTATE, "execution %.100s is finished", exec_id) : 0;
    }
    int rc = weir_journal_flush(j, err); /* its delete may still be in an input log */
    if (!rc) rc = exec_state(j, exec_id, err);
    if (rc < 0) return rc;
    if (rc == 1) return weir__error(err, WEIR_ESTATE, "execution %.100s is finished: its journal is closed", exec_id);
    sqlite3_stmt *q = j->r[R_TAIL];
    rc = sqlite3_bind_text(q, 1, exec_id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(q);
    int64_t seq = 0;
    unsigned char chain[WEIR_JOURNAL_CHAIN] = {0};
    int out = 0;
    if (rc == SQLITE_ROW && sqlite3_column_bytes(q, 1) == WEIR_JOURNAL_CHAIN) {
        seq = sqlite3_column_int64(q, 0);
        memcpy(chain, sqlite3_column_blob(q, 1), WEIR_JOURNAL_CHAIN);
    } else if (rc == SQLITE_ROW) {
        out = weir__error(err, WEIR_EIO, "journal of execution %.100s is broken at its last record: its chain is "
                          "damaged", exec_id);
    } else if (rc == SQLITE_DONE) {
        out = weir__error(err, WEIR_ENOTFOUND, "execution %.100s has no journal records", exec_id);
    } else {
        out = weir__journal_db_error(j, j->rdb, rc, "cannot read the journal", err);
    }
    done_with(q);
    if (out) return out;
    jexec *e = weir__journal_exec_add(j, exec_id);
    if (!e) return weir__error(err, WEIR_ENOMEM, "out of memory");
    e->last_seq = seq;
    memcpy(e->chain, chain, WEIR_JOURNAL_CHAIN);
    if (last_seq) *last_seq = seq;
    return 0;
}

int weir_journal_digests(weir_journal *j, const char *exec_id, weir_journal_digest_fn fn, void *ud, weir_error *err) {
    int frc = weir_journal_flush(j, err);
    if (frc) return frc;
    sqlite3_stmt *q = NULL;
    /* In the record's row (schema 3 on), or a row of their own (a digest
     * that came after its record was written, and every one before). */
    int rc = sqlite3_prepare_v2(j->rdb,
                                "SELECT seq, digest FROM journal WHERE exec_id = ?1 AND digest IS NOT NULL "
                                "UNION ALL SELECT seq, digest FROM wave_digests WHERE exec_id = ?1 ORDER BY seq",
                                -1, &q, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 1, exec_id, -1, SQLITE_STATIC);
    int out = 0;
    while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        rc = SQLITE_OK;
        const void *d = sqlite3_column_blob(q, 1);
        int n = sqlite3_column_bytes(q, 1);
        if (!d || n <= 0) continue; /* an empty digest compares with nothing */
        if ((out = fn(ud, sqlite3_column_int64(q, 0), d, (size_t)n))) break;
    }
    if (!out && rc != SQLITE_DONE) out = weir__journal_db_error(j, j->rdb, rc, "cannot read the wave digests", err);
    sqlite3_finalize(q);
    return out;
}

static int64_t pragma_int(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

int64_t weir_journal_bytes(weir_journal *j) {
    int64_t pages = pragma_int(j->rdb, "PRAGMA page_count"), free_pages = pragma_int(j->rdb, "PRAGMA freelist_count"),
            size = pragma_int(j->rdb, "PRAGMA page_size");
    if (pages < 0 || free_pages < 0 || size < 0) return -1;
    return (pages - free_pages) * size;
}
