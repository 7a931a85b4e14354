/* The input journal (SPEC §7.1, store/journal.h): records read back as
 * written with their chain verified, across a reopen and a resume; an
 * edited, missing or unreadable record named by its seq and reason; group
 * commit (many records in one transaction, callbacks in order); the bounded
 * queue; fsync vs process modes (fsyncs counted); a failing write or fsync
 * fails its batch and everything after it, never reported durable;
 * snapshots, digests, finish, delete and the executions listing; a process
 * killed mid-stream keeps every record it reported durable.
 *
 * I/O faults come from a SQLite VFS shim (below) under the writer's
 * connection: it counts the WAL's fsyncs, fails its writes or fsyncs on
 * demand, and can hold the writer inside a write so the test knows exactly
 * what queues up behind it. */
#include <criterion/criterion.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/eventfd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sqlq.h"
#include "failalloc.h"
#include "proc.h"
#include "serve.h"
#include "store/journal.h"
#include "store/journal_int.h"
#include "testvfs.h"

static char dir[64];

static void make_dir(void) { proc_tempdir(dir, sizeof dir, "journal"); }

static void drop_dir(void) {
    if (dir[0]) serve_rmdir(dir);
    dir[0] = '\0';
}

TestSuite(journal, .init = make_dir, .fini = drop_dir, .timeout = 120);

/* ------------------------------------------------------------ test VFS */

#define fail_sync testvfs_fail_sync
#define fail_write testvfs_fail_write
#define hold testvfs_hold
#define holding testvfs_holding
#define wal_syncs testvfs_wal_syncs
#define db_writes testvfs_db_writes
#define vfs_reset testvfs_reset

/* Hold the writer in its next WAL write, and wait till it is there. */
static void hold_writer(void) { atomic_store(&hold, 1); }
static void wait_held(void) {
    for (int i = 0; i < 200000 && !atomic_load(&holding); i++) usleep(50);
    cr_assert(atomic_load(&holding), "the writer never reached its write");
}
static void release_writer(void) { atomic_store(&hold, 0); }

/* ------------------------------------------------------------- helpers */

typedef struct handles {
    weir_store *st;
    weir_journal *j;
} handles;

/* The store and a journal on the test VFS, with cfg (its vfs set here). */
static handles open_cfg(weir_journal_config cfg) {
    vfs_reset();
    handles h;
    weir_error err;
    cr_assert_eq(weir_store_open(dir, &h.st, &err), 0, "%s", err.message);
    cfg.vfs = "weirtest";
    cr_assert_eq(weir_journal_open(h.st, &cfg, &h.j, &err), 0, "%s", err.message);
    return h;
}
static handles open_with(weir_durability mode, size_t queue_max, size_t batch_max) {
    return open_cfg((weir_journal_config){.durability = mode, .queue_max = queue_max, .batch_max = batch_max});
}
static handles open_ok(void) { return open_with(WEIR_DURABILITY_FSYNC, 0, 0); }

static void close_all(handles *h) {
    weir_journal_close(h->j);
    weir_store_close(h->st);
}

/* Every done callback, in the order they ran. */
#define MAXDONE 70000
static struct {
    int n;
    intptr_t ud[MAXDONE];
    int status[MAXDONE];
    char first_err[512];
} dones;

static void on_done(void *ud, int status, const weir_error *err) {
    cr_assert_lt(dones.n, MAXDONE);
    if (status) {
        cr_assert_not_null(err);
        if (!dones.first_err[0]) snprintf(dones.first_err, sizeof dones.first_err, "%.500s", err->message);
    } else {
        cr_assert_null(err);
    }
    dones.ud[dones.n] = (intptr_t)ud;
    dones.status[dones.n++] = status;
}

static void sync_poll(weir_journal *j) {
    weir_error err;
    cr_assert_eq(weir_journal_sync(j, &err), 0, "%s", err.message);
    weir_journal_poll(j);
}

static json_t *body_of(int64_t i) {
    /* keys out of order: the journal stores them sorted */
    return json_pack("{s:I,s:s,s:[i,i]}", "value", (json_int_t)i, "node", "in", "a", 1, 2);
}
static const char *canon_of(int64_t i) {
    static char s[128];
    snprintf(s, sizeof s, "{\"a\":[1,2],\"node\":\"in\",\"value\":%lld}", (long long)i);
    return s;
}

static void start(weir_journal *j, const char *id, intptr_t ud) {
    weir_error err;
    json_t *b = json_pack("{s:s}", "graph", "g1");
    cr_assert_eq(weir_journal_start(j, id, "g1", 1000, 0, 5, b, on_done, (void *)ud, &err), 0, "%s", err.message);
    json_decref(b);
}

/* Append the inject whose value is i to id; returns its seq. */
static int64_t append(weir_journal *j, const char *id, int64_t i, intptr_t ud) {
    weir_error err;
    json_t *b = body_of(i);
    int64_t seq = 0;
    int rc = weir_journal_append(j, id, WEIR_JOURNAL_INJECT, i, 100 + i, b, on_done, (void *)ud, &seq, &err);
    json_decref(b);
    cr_assert_eq(rc, 0, "%s", err.message);
    return seq;
}

/* What a read saw. */
typedef struct readback {
    int n;
    int64_t first, last;
    int bad; /* a record that is not what append wrote for it */
    char why[256];
    int stop_at;
} readback;

/* Records 2.. of an execution written by append(j, id, seq, ...) (a value
 * equal to its seq minus one: record 1 is the start). */
static int on_record(void *ud, const weir_journal_record *r) {
    readback *rb = ud;
    if (!rb->n) rb->first = r->seq;
    rb->last = r->seq;
    rb->n++;
    if (r->seq == 1) {
        if (r->kind != WEIR_JOURNAL_START || strcmp(r->text, "{\"graph\":\"g1\"}") != 0 || r->tick != 0 ||
            r->time_ms != 5)
            rb->bad = 1;
    } else {
        int64_t v = r->seq - 1;
        if (r->kind != WEIR_JOURNAL_INJECT || strcmp(r->text, canon_of(v)) != 0 || r->len != strlen(r->text) ||
            r->tick != v || r->time_ms != 100 + v || json_integer_value(json_object_get(r->body, "value")) != v) {
            if (!rb->bad) snprintf(rb->why, sizeof rb->why, "seq %lld: %s", (long long)r->seq, r->text);
            rb->bad = 1;
        }
    }
    return rb->stop_at && rb->n == rb->stop_at ? 9 : 0;
}

static int read_all(weir_journal *j, const char *id, int64_t from, const unsigned char *anchor, readback *rb,
                    weir_journal_fault *fault, weir_error *err) {
    memset(rb, 0, sizeof *rb);
    return weir_journal_read(j, id, from, anchor, on_record, rb, fault, err);
}

static char *db_path(void) {
    static char p[128];
    snprintf(p, sizeof p, "%s/weir.db", dir);
    return p;
}

/* Run SQL on the database directly (the journal closed). */
static void sql(const char *text) { sqlq_exec(db_path(), text); }

static long long sql_int(const char *text) { return sqlq_int(db_path(), text); }

/* --------------------------------------------------------------- tests */

Test(journal, a_round_trip_reads_back_every_record_in_order_after_a_reopen_and_a_resume) {
    handles h = open_ok();
    memset(&dones, 0, sizeof dones);
    start(h.j, "e1", 0);
    for (int64_t i = 1; i <= 2000; i++) cr_assert_eq(append(h.j, "e1", i, i), i + 1);
    sync_poll(h.j);
    cr_assert_eq(dones.n, 2001);
    for (int i = 0; i < dones.n; i++) {
        cr_assert_eq(dones.ud[i], i, "callback %d ran out of order (ud %ld)", i, (long)dones.ud[i]);
        cr_assert_eq(dones.status[i], 0);
    }
    close_all(&h);

    h = open_ok();
    readback rb;
    weir_error err;
    weir_journal_fault fault;
    cr_assert_eq(read_all(h.j, "e1", 1, NULL, &rb, &fault, &err), 0, "%s", err.message);
    cr_assert_eq(rb.n, 2001);
    cr_assert_eq(rb.first, 1);
    cr_assert_eq(rb.last, 2001);
    cr_assert_not(rb.bad, "%s", rb.why);
    cr_assert_eq(fault.kind, WEIR_JOURNAL_FAULT_NONE);
    /* from the middle, anchored on the stored chain of the one before */
    cr_assert_eq(read_all(h.j, "e1", 1500, NULL, &rb, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(rb.n, 502);
    cr_assert_eq(rb.first, 1500);
    /* the callback stops a read and its value comes back */
    memset(&rb, 0, sizeof rb);
    rb.stop_at = 3;
    cr_assert_eq(weir_journal_read(h.j, "e1", 1, NULL, on_record, &rb, NULL, &err), 9);
    cr_assert_eq(rb.n, 3);
    /* past the end: nothing, no error */
    cr_assert_eq(read_all(h.j, "e1", 2002, NULL, &rb, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(rb.n, 0);
    cr_assert_eq(read_all(h.j, "nope", 1, NULL, &rb, NULL, &err), WEIR_ENOTFOUND);

    /* appending needs a resume after a reopen; then the chain goes on */
    json_t *b = body_of(2001);
    cr_assert_eq(weir_journal_append(h.j, "e1", WEIR_JOURNAL_INJECT, 2001, 2101, b, NULL, NULL, NULL, &err),
                 WEIR_ENOTFOUND);
    cr_assert(strstr(err.message, "resume"), "%s", err.message);
    json_decref(b);
    int64_t last = 0;
    cr_assert_eq(weir_journal_resume(h.j, "e1", &last, &err), 0, "%s", err.message);
    cr_assert_eq(last, 2001);
    memset(&dones, 0, sizeof dones);
    for (int64_t i = 2001; i <= 2010; i++) cr_assert_eq(append(h.j, "e1", i, i), i + 1);
    sync_poll(h.j);
    cr_assert_eq(read_all(h.j, "e1", 1, NULL, &rb, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(rb.n, 2011);
    cr_assert_not(rb.bad, "%s", rb.why);
    close_all(&h);
    cr_assert_eq(sql_int("PRAGMA user_version"), WEIR_STORE_SCHEMA_VERSION);
    cr_assert_eq(sql_int("SELECT count(*) FROM journal WHERE length(chain) = 16"), 2011);
}

/* Write e1: start + n injects, then close. */
static void write_journal(int n) {
    handles h = open_ok();
    start(h.j, "e1", 0);
    for (int64_t i = 1; i <= n; i++) append(h.j, "e1", i, 0);
    start(h.j, "e2", 0);
    append(h.j, "e2", 1, 0);
    sync_poll(h.j);
    close_all(&h);
}

/* Read e1 after tampering; expect a fault of kind at seq. */
static void expect_fault(const char *tamper, weir_journal_fault_kind kind, int64_t seq, const char *reason,
                         int delivered) {
    write_journal(10);
    sql(tamper);
    handles h = open_ok();
    readback rb;
    weir_error err;
    weir_journal_fault fault;
    int rc = read_all(h.j, "e1", 1, NULL, &rb, &fault, &err);
    cr_assert_eq(rc, WEIR_EIO, "%s: %d %s", tamper, rc, err.message);
    cr_assert_eq(fault.kind, kind, "%s: fault %d", tamper, fault.kind);
    cr_assert_eq(fault.seq, seq, "%s: fault at %lld", tamper, (long long)fault.seq);
    char want[64];
    snprintf(want, sizeof want, "is broken at record %lld: %s", (long long)seq, reason);
    cr_assert(strstr(err.message, want) && strstr(err.message, "execution e1"), "%s", err.message);
    cr_assert_eq(rb.n, delivered, "%s: the sound records before it are delivered (%d)", tamper, rb.n);
    cr_assert_not(rb.bad, "%s", rb.why);
    /* the other execution is untouched */
    cr_assert_eq(read_all(h.j, "e2", 1, NULL, &rb, &fault, &err), 0, "%s", err.message);
    cr_assert_eq(rb.n, 2);
    close_all(&h);
    drop_dir();
    make_dir();
}

Test(journal, an_edited_record_is_a_hash_mismatch_named_by_its_seq) {
    expect_fault("UPDATE journal SET body = '{\"a\":[1,2],\"node\":\"in\",\"value\":99}' WHERE exec_id = 'e1' AND "
                 "seq = 5",
                 WEIR_JOURNAL_FAULT_HASH, 5, "hash mismatch", 4);
    expect_fault("UPDATE journal SET time_ms = time_ms + 1 WHERE exec_id = 'e1' AND seq = 7", WEIR_JOURNAL_FAULT_HASH,
                 7, "hash mismatch", 6);
    expect_fault("UPDATE journal SET kind = 3 WHERE exec_id = 'e1' AND seq = 2", WEIR_JOURNAL_FAULT_HASH, 2,
                 "hash mismatch", 1);
    /* two records swapped (bodies and ticks both) */
    expect_fault("UPDATE journal SET seq = -seq WHERE exec_id = 'e1' AND seq IN (3, 4);"
                 "UPDATE journal SET seq = 7 + seq WHERE exec_id = 'e1' AND seq IN (-3, -4)",
                 WEIR_JOURNAL_FAULT_HASH, 3, "hash mismatch", 2);
    expect_fault("UPDATE journal SET chain = x'00' WHERE exec_id = 'e1' AND seq = 4", WEIR_JOURNAL_FAULT_FIELD, 4,
                 "a field", 3);
}

Test(journal, a_missing_record_is_a_gap_named_by_its_seq) {
    expect_fault("DELETE FROM journal WHERE exec_id = 'e1' AND seq = 6", WEIR_JOURNAL_FAULT_GAP, 6, "gap", 5);
    expect_fault("DELETE FROM journal WHERE exec_id = 'e1' AND seq = 1", WEIR_JOURNAL_FAULT_GAP, 1, "gap", 0);
    expect_fault("DELETE FROM journal WHERE exec_id = 'e1'", WEIR_JOURNAL_FAULT_GAP, 1, "gap", 0);
}

Test(journal, a_body_that_is_not_json_under_a_valid_chain_is_named) {
    write_journal(10);
    /* recompute the chain from record 5 on over a body that is not JSON:
     * only the JSON check can catch it */
    handles h = open_ok();
    unsigned char prev[WEIR_JOURNAL_CHAIN], next[WEIR_JOURNAL_CHAIN];
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(db_path(), &db), SQLITE_OK);
    sqlite3_stmt *q;
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT chain FROM journal WHERE exec_id = 'e1' AND seq = 4", -1, &q, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    memcpy(prev, sqlite3_column_blob(q, 0), WEIR_JOURNAL_CHAIN);
    sqlite3_finalize(q);
    const char *bad = "{\"value\":";
    weir__journal_chain(h.j->md, prev, WEIR_JOURNAL_INJECT, 5, 4, 104, bad, strlen(bad), next);
    cr_assert_eq(sqlite3_prepare_v2(db, "UPDATE journal SET body = ?1, chain = ?2 WHERE exec_id = 'e1' AND seq = 5",
                                    -1, &q, NULL),
                 SQLITE_OK);
    sqlite3_bind_text(q, 1, bad, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 2, next, WEIR_JOURNAL_CHAIN, SQLITE_STATIC);
    cr_assert_eq(sqlite3_step(q), SQLITE_DONE);
    sqlite3_finalize(q);
    sqlite3_close(db);
    readback rb;
    weir_error err;
    weir_journal_fault fault;
    cr_assert_eq(read_all(h.j, "e1", 1, NULL, &rb, &fault, &err), WEIR_EIO);
    cr_assert_eq(fault.kind, WEIR_JOURNAL_FAULT_JSON);
    cr_assert_eq(fault.seq, 5);
    cr_assert(strstr(err.message, "broken at record 5: unreadable JSON"), "%s", err.message);
    cr_assert_eq(rb.n, 4);
    close_all(&h);
}

Test(journal, group_commit_puts_everything_queued_behind_a_commit_into_the_next_one) {
    handles h = open_with(WEIR_DURABILITY_FSYNC, 0, 1000);
    memset(&dones, 0, sizeof dones);
    hold_writer();
    start(h.j, "e1", 0);
    wait_held(); /* the writer is committing the start, alone */
    start(h.j, "e2", 1);
    intptr_t ud = 2;
    for (int64_t i = 1; i <= 1500; i++) { /* interleaved over two executions */
        append(h.j, "e1", i, ud++);
        append(h.j, "e2", i, ud++);
    }
    weir_journal_stats s;
    weir_journal_stats_get(h.j, &s);
    cr_assert_eq(s.commits, 0);
    cr_assert_eq(s.outstanding, 3002);
    cr_assert_eq(weir_journal_poll(h.j), 0, "nothing is durable yet");
    release_writer();
    sync_poll(h.j);
    weir_journal_stats_get(h.j, &s);
    /* the start alone, then 3001 queued behind it: 1000 (batch_max) + 1000 + 1000 + 1 */
    cr_assert_eq(s.commits, 5, "commits %llu", (unsigned long long)s.commits);
    cr_assert_eq(s.records, 3002);
    cr_assert_eq(s.items, 3002);
    cr_assert_eq(s.max_batch, 1000);
    cr_assert_eq(s.outstanding, 0);
    cr_assert_eq(dones.n, 3002);
    for (int i = 0; i < dones.n; i++) {
        cr_assert_eq(dones.ud[i], i, "callback %d ran out of order", i);
        cr_assert_eq(dones.status[i], 0);
    }
    readback rb;
    weir_error err;
    for (int e = 0; e < 2; e++) {
        cr_assert_eq(read_all(h.j, e ? "e2" : "e1", 1, NULL, &rb, NULL, &err), 0, "%s", err.message);
        cr_assert_eq(rb.n, 1501);
        cr_assert_not(rb.bad, "%s", rb.why);
    }
    close_all(&h);
}

/* A loop that appends as it goes while the writer commits: every record is
 * there, in order, and commits were shared. */
Test(journal, appends_while_the_writer_commits_keep_their_order_and_share_commits) {
    handles h = open_with(WEIR_DURABILITY_FSYNC, 0, 0);
    memset(&dones, 0, sizeof dones);
    start(h.j, "e1", 0);
    for (int64_t i = 1; i <= 20000; i++) {
        append(h.j, "e1", i, i);
        if (i % 256 == 0) weir_journal_poll(h.j);
    }
    sync_poll(h.j);
    weir_journal_stats s;
    weir_journal_stats_get(h.j, &s);
    cr_assert_eq(s.records, 20001);
    cr_assert_lt(s.commits * 4, s.records, "%llu commits for %llu records", (unsigned long long)s.commits,
                 (unsigned long long)s.records);
    cr_assert_eq(dones.n, 20001);
    for (int i = 0; i < dones.n; i++) cr_assert_eq(dones.ud[i], i);
    readback rb;
    weir_error err;
    cr_assert_eq(read_all(h.j, "e1", 1, NULL, &rb, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(rb.n, 20001);
    cr_assert_not(rb.bad, "%s", rb.why);
    close_all(&h);
}

Test(journal, a_full_queue_refuses_at_once_and_takes_writes_again_after_a_poll) {
    handles h = open_with(WEIR_DURABILITY_PROCESS, 10, 0);
    memset(&dones, 0, sizeof dones);
    hold_writer();
    start(h.j, "e1", 0);
    wait_held();
    for (int64_t i = 1; i <= 9; i++) append(h.j, "e1", i, i);
    weir_error err;
    json_t *b = body_of(10);
    int64_t seq = -1;
    cr_assert_eq(weir_journal_append(h.j, "e1", WEIR_JOURNAL_INJECT, 10, 110, b, on_done, NULL, &seq, &err),
                 WEIR_EFULL);
    cr_assert(strstr(err.message, "JOURNAL_QUEUE_MAX (10) reached"), "%s", err.message);
    cr_assert_eq(seq, -1);
    cr_assert_eq(weir_journal_snapshot(h.j, "e1", 9, 109, b, on_done, NULL, &err), WEIR_EFULL);
    release_writer();
    cr_assert_eq(weir_journal_sync(h.j, &err), 0, "%s", err.message);
    /* committed but not yet polled still counts */
    cr_assert_eq(weir_journal_append(h.j, "e1", WEIR_JOURNAL_INJECT, 10, 110, b, on_done, NULL, &seq, &err),
                 WEIR_EFULL);
    cr_assert_eq(weir_journal_poll(h.j), 10);
    cr_assert_eq(dones.n, 10, "a refused write never gets a callback");
    json_decref(b);
    cr_assert_eq(append(h.j, "e1", 10, 10), 11, "a refusal leaves no hole in the sequence");
    sync_poll(h.j);
    readback rb;
    cr_assert_eq(read_all(h.j, "e1", 1, NULL, &rb, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(rb.n, 11);
    cr_assert_not(rb.bad, "%s", rb.why);
    close_all(&h);
}

/* fsync: at least one fsync of the WAL per commit; process: none. */
Test(journal, fsync_mode_syncs_every_commit_and_process_mode_none) {
    for (int m = 0; m < 2; m++) {
        weir_durability mode = m ? WEIR_DURABILITY_PROCESS : WEIR_DURABILITY_FSYNC;
        handles h = open_with(mode, 0, 0);
        char id[8];
        snprintf(id, sizeof id, "m%d", m);
        start(h.j, id, 0);
        sync_poll(h.j);
        atomic_store(&wal_syncs, 0);
        for (int64_t i = 1; i <= 40; i++) {
            append(h.j, id, i, 0);
            sync_poll(h.j);
        }
        weir_journal_stats s;
        weir_journal_stats_get(h.j, &s);
        cr_assert_eq(s.commits, 41);
        int syncs = atomic_load(&wal_syncs);
        if (mode == WEIR_DURABILITY_FSYNC)
            cr_assert_geq(syncs, 40, "fsync mode: %d WAL fsyncs for 40 commits", syncs);
        else
            cr_assert_eq(syncs, 0, "process mode: %d WAL fsyncs", syncs);
        close_all(&h);
        h = open_ok();
        readback rb;
        weir_error err;
        cr_assert_eq(read_all(h.j, id, 1, NULL, &rb, NULL, &err), 0, "%s", err.message);
        cr_assert_eq(rb.n, 41);
        close_all(&h);
    }
}

/* A failed commit: its batch and everything queued after it fail with
 * WEIR_EIO, nothing of it is reported durable, the journal refuses writes
 * until reopened, and what was durable before is intact. */
static void failing_commit(weir_durability mode, atomic_int *fault) {
    handles h = open_with(mode, 0, 0);
    memset(&dones, 0, sizeof dones);
    start(h.j, "e1", 0);
    for (int64_t i = 1; i <= 5; i++) append(h.j, "e1", i, i);
    sync_poll(h.j);
    cr_assert_eq(dones.n, 6);
    hold_writer();
    append(h.j, "e1", 6, 6); /* the batch that will fail */
    wait_held();
    for (int64_t i = 7; i <= 20; i++) append(h.j, "e1", i, i); /* queued behind it */
    atomic_store(fault, 1);
    release_writer();
    weir_error err;
    cr_assert_eq(weir_journal_sync(h.j, &err), WEIR_EIO);
    cr_assert(strstr(err.message, "weir.db"), "%s", err.message);
    cr_assert_eq(weir_journal_poll(h.j), 15);
    cr_assert_eq(dones.n, 21);
    for (int i = 6; i < 21; i++) {
        cr_assert_eq(dones.ud[i], i);
        cr_assert_eq(dones.status[i], WEIR_EIO, "record %d reported %d", i, dones.status[i]);
    }
    cr_assert(strstr(dones.first_err, "could not commit"), "%s", dones.first_err);
    weir_journal_stats s;
    weir_journal_stats_get(h.j, &s);
    cr_assert_eq(s.failed_commits, 1);
    cr_assert_eq(s.records, 6);
    /* refused until reopened, even with the disk well again */
    atomic_store(fault, 0);
    json_t *b = body_of(21);
    cr_assert_eq(weir_journal_append(h.j, "e1", WEIR_JOURNAL_INJECT, 21, 121, b, on_done, NULL, NULL, &err), WEIR_EIO);
    cr_assert(strstr(err.message, "refused since a commit failed"), "%s", err.message);
    json_decref(b);
    cr_assert_eq(weir_journal_delete(h.j, "e1", NULL, NULL, &err), WEIR_EIO);
    cr_assert_eq(dones.n, 21);
    close_all(&h);

    h = open_ok();
    readback rb;
    cr_assert_eq(read_all(h.j, "e1", 1, NULL, &rb, NULL, &err), 0, "%s", err.message);
    cr_assert_geq(rb.n, 6, "a durable record was lost");
    cr_assert_not(rb.bad, "%s", rb.why);
    int64_t last;
    cr_assert_eq(weir_journal_resume(h.j, "e1", &last, &err), 0, "%s", err.message);
    cr_assert_eq(append(h.j, "e1", last, 0), last + 1);
    sync_poll(h.j);
    close_all(&h);
}

Test(journal, a_failing_fsync_fails_its_batch_and_all_after_never_durable) {
    failing_commit(WEIR_DURABILITY_FSYNC, &fail_sync);
}

Test(journal, a_failing_write_fails_its_batch_and_all_after_never_durable) {
    failing_commit(WEIR_DURABILITY_PROCESS, &fail_write);
}

static int on_exec(void *ud, const char *id, const char *graph, int64_t created, int finished, int64_t finished_ms) {
    char *s = ud;
    size_t n = strlen(s);
    snprintf(s + n, 256 - n, "%s:%s:%lld:%d:%lld;", id, graph, (long long)created, finished, (long long)finished_ms);
    return 0;
}

static const char *executions(weir_journal *j, int which) {
    static char s[256];
    s[0] = '\0';
    weir_error err;
    cr_assert_eq(weir_journal_executions(j, which, on_exec, s, &err), 0, "%s", err.message);
    return s;
}

Test(journal, snapshots_digests_finish_delete_and_the_executions_listing) {
    handles h = open_ok();
    weir_error err;
    start(h.j, "e1", 0);
    for (int64_t i = 1; i <= 10; i++) append(h.j, "e1", i, 0);
    json_t *st = json_pack("{s:i,s:s}", "n", 10, "a", "x");
    cr_assert_eq(weir_journal_snapshot(h.j, "e1", 10, 110, st, NULL, NULL, &err), 0, "%s", err.message);
    json_decref(st);
    for (int64_t i = 11; i <= 20; i++) append(h.j, "e1", i, 0);
    st = json_pack("{s:i}", "n", 20);
    cr_assert_eq(weir_journal_snapshot(h.j, "e1", 20, 120, st, NULL, NULL, &err), 0, "%s", err.message);
    json_decref(st);
    cr_assert_eq(weir_journal_digest(h.j, "e1", 3, "0123456789abcdef", 16, &err), 0, "%s", err.message);
    start(h.j, "e2", 0);
    cr_assert_eq(weir_journal_finish(h.j, "e2", 7777, NULL, NULL, &err), 0, "%s", err.message);
    json_t *b = body_of(1);
    cr_assert_eq(weir_journal_append(h.j, "e2", WEIR_JOURNAL_INJECT, 1, 1, b, NULL, NULL, NULL, &err), WEIR_ESTATE);
    cr_assert_eq(weir_journal_append(h.j, "e1", 0, 1, 1, b, NULL, NULL, NULL, &err), WEIR_EINVAL);
    cr_assert_eq(weir_journal_append(h.j, "e1", WEIR_JOURNAL_START, 1, 1, b, NULL, NULL, NULL, &err), WEIR_EINVAL);
    json_decref(b);
    start(h.j, "e3", 0);
    sync_poll(h.j);
    b = json_pack("{}");
    cr_assert_eq(weir_journal_start(h.j, "e3", "g1", 1, 0, 0, b, NULL, NULL, &err), WEIR_EEXISTS);
    json_decref(b);

    cr_assert_str_eq(executions(h.j, WEIR_JOURNAL_UNFINISHED), "e1:g1:1000:0:0;e3:g1:1000:0:0;");
    cr_assert_str_eq(executions(h.j, WEIR_JOURNAL_FINISHED), "e2:g1:1000:1:7777;");
    cr_assert_str_eq(executions(h.j, WEIR_JOURNAL_ALL), "e1:g1:1000:0:0;e2:g1:1000:1:7777;e3:g1:1000:0:0;");

    weir_journal_snap snap;
    cr_assert_eq(weir_journal_snapshot_find(h.j, "e1", INT64_MAX, INT64_MAX, &snap, &err), 0, "%s", err.message);
    cr_assert_eq(snap.seq, 21);
    cr_assert_eq(snap.tick, 20);
    cr_assert_eq(snap.time_ms, 120);
    cr_assert_eq(json_integer_value(json_object_get(snap.state, "n")), 20);
    json_decref(snap.state);
    cr_assert_eq(weir_journal_snapshot_find(h.j, "e1", INT64_MAX, 15, &snap, &err), 0, "%s", err.message);
    cr_assert_eq(snap.seq, 11);
    cr_assert_eq(json_integer_value(json_object_get(snap.state, "n")), 10);
    json_decref(snap.state);
    cr_assert_eq(weir_journal_snapshot_find(h.j, "e1", 5, INT64_MAX, &snap, &err), WEIR_ENOTFOUND);
    cr_assert_null(snap.state);
    cr_assert_eq(sql_int("SELECT count(*) FROM snapshots WHERE state = '{\"a\":\"x\",\"n\":10}'"), 1, "canonical");

    /* from a snapshot on: anchored on its chain */
    cr_assert_eq(weir_journal_snapshot_find(h.j, "e1", INT64_MAX, 15, &snap, &err), 0, "%s", err.message);
    json_decref(snap.state);
    readback rb;
    weir_journal_fault fault;
    cr_assert_eq(read_all(h.j, "e1", snap.seq + 1, snap.chain, &rb, &fault, &err), 0, "%s", err.message);
    cr_assert_eq(rb.n, 10);
    cr_assert_eq(rb.first, 12);
    cr_assert_not(rb.bad, "%s", rb.why);
    snap.chain[0] ^= 1; /* a snapshot that does not belong to this journal */
    cr_assert_eq(read_all(h.j, "e1", snap.seq + 1, snap.chain, &rb, &fault, &err), WEIR_EIO);
    cr_assert_eq(fault.kind, WEIR_JOURNAL_FAULT_HASH);
    cr_assert_eq(fault.seq, 12);

    cr_assert_eq(sql_int("SELECT count(*) FROM wave_digests WHERE exec_id = 'e1' AND seq = 3 AND "
                         "digest = CAST('0123456789abcdef' AS BLOB)"),
                 1);
    cr_assert_eq(weir_journal_delete(h.j, "e1", NULL, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(weir_journal_delete(h.j, "e2", NULL, NULL, &err), 0, "%s", err.message);
    sync_poll(h.j);
    cr_assert_str_eq(executions(h.j, WEIR_JOURNAL_ALL), "e3:g1:1000:0:0;");
    cr_assert_eq(read_all(h.j, "e1", 1, NULL, &rb, NULL, &err), WEIR_ENOTFOUND);
    b = body_of(21);
    cr_assert_eq(weir_journal_append(h.j, "e1", WEIR_JOURNAL_INJECT, 21, 121, b, NULL, NULL, NULL, &err),
                 WEIR_ENOTFOUND);
    json_decref(b);
    close_all(&h);
    cr_assert_eq(sql_int("SELECT count(*) FROM journal WHERE exec_id IN ('e1', 'e2')"), 0);
    cr_assert_eq(sql_int("SELECT count(*) FROM snapshots"), 0);
    cr_assert_eq(sql_int("SELECT count(*) FROM wave_digests"), 0);
    cr_assert_eq(sql_int("SELECT count(*) FROM journal WHERE exec_id = 'e3'"), 1);

    h = open_ok();
    /* stored, not yet resumed: a start of the same id is refused at once
     * (it would fail the writer's whole batch) */
    b = json_pack("{}");
    cr_assert_eq(weir_journal_start(h.j, "e3", "g1", 1, 0, 0, b, NULL, NULL, &err), WEIR_EEXISTS);
    cr_assert(strstr(err.message, "already has a journal"), "%s", err.message);
    json_decref(b);
    cr_assert_eq(weir_journal_resume(h.j, "e2", NULL, &err), WEIR_ENOTFOUND);
    cr_assert_eq(weir_journal_resume(h.j, "e3", NULL, &err), 0, "%s", err.message);
    cr_assert_eq(weir_journal_finish(h.j, "e3", 9, NULL, NULL, &err), 0, "%s", err.message);
    sync_poll(h.j);
    close_all(&h);
    h = open_ok();
    cr_assert_eq(weir_journal_resume(h.j, "e3", NULL, &err), WEIR_ESTATE);
    close_all(&h);
}

/* The child: append as fast as it can, tell the parent each record the
 * journal reported durable, and die by SIGKILL at some point. */
static void crash_child(int fd, weir_durability mode, int kill_after) {
    vfs_reset();
    weir_store *st;
    weir_journal *j;
    weir_journal_config cfg = {.durability = mode};
    weir_error err;
    if (weir_store_open(dir, &st, &err) || weir_journal_open(st, &cfg, &j, &err)) _exit(3);
    json_t *b = json_pack("{s:s}", "graph", "g1");
    if (weir_journal_start(j, "e1", "g1", 1000, 0, 5, b, NULL, NULL, &err)) _exit(4);
    json_decref(b);
    static int64_t durable;
    for (int64_t i = 1;; i++) {
        b = body_of(i);
        int rc = weir_journal_append(j, "e1", WEIR_JOURNAL_INJECT, i, 100 + i, b, on_done, (void *)(intptr_t)(i + 1),
                                     NULL, &err);
        json_decref(b);
        if (rc == WEIR_EFULL) {
            i--;
            weir_journal_poll(j);
        } else if (rc) {
            _exit(5);
        }
        if (dones.n) {
            for (int k = 0; k < dones.n; k++) {
                if (dones.status[k]) _exit(6);
                int64_t seq = dones.ud[k];
                if (write(fd, &seq, sizeof seq) != sizeof seq) _exit(7);
                durable = seq;
            }
            dones.n = 0;
        }
        if (durable >= kill_after) raise(SIGKILL); /* records still queued and committing */
        if (i % 64 == 0) weir_journal_poll(j);
    }
}

Test(journal, a_killed_process_keeps_every_record_it_reported_durable) {
    for (int run = 0; run < 6; run++) {
        weir_durability mode = run % 2 ? WEIR_DURABILITY_PROCESS : WEIR_DURABILITY_FSYNC;
        int kill_after = 200 + run * 1700;
        int fds[2];
        cr_assert_eq(pipe(fds), 0);
        memset(&dones, 0, sizeof dones);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            close(fds[0]);
            crash_child(fds[1], mode, kill_after);
            _exit(2);
        }
        close(fds[1]);
        int64_t seq, max = 1, n = 0; /* record 1, the start, has no callback */
        while (read(fds[0], &seq, sizeof seq) == sizeof seq) {
            cr_assert_eq(seq, max + 1, "durable out of order: %lld after %lld", (long long)seq, (long long)max);
            max = seq;
            n++;
        }
        close(fds[0]);
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "run %d: child status %#x", run, status);
        cr_assert_geq(max, kill_after);

        handles h = open_ok();
        readback rb;
        weir_error err;
        cr_assert_eq(read_all(h.j, "e1", 1, NULL, &rb, NULL, &err), 0, "run %d: %s", run, err.message);
        cr_assert_not(rb.bad, "%s", rb.why);
        cr_assert_geq(rb.last, max, "run %d (%s): reported durable up to %lld, found %lld", run,
                      mode ? "process" : "fsync", (long long)max, (long long)rb.last);
        int64_t last;
        cr_assert_eq(weir_journal_resume(h.j, "e1", &last, &err), 0, "%s", err.message);
        cr_assert_eq(last, rb.last);
        close_all(&h);
        drop_dir();
        make_dir();
    }
}

/* The journal's own allocations (items, the map, encodings, the context)
 * fail cleanly: an error, nothing queued, no leak. */
Test(journal, every_allocation_failure_is_clean) {
    handles h = open_ok();
    start(h.j, "e0", 0);
    sync_poll(h.j);
    size_t done = 0;
    for (size_t n = 1; n < 200 && !done; n++) {
        fa_install(n, 0);
        weir_error err;
        char id[32];
        snprintf(id, sizeof id, "x%zu", n);
        json_t *b = json_pack("{s:i}", "k", 1);
        int rc = b ? weir_journal_start(h.j, id, "g", 1, 0, 0, b, NULL, NULL, &err) : WEIR_ENOMEM;
        int64_t seq = 0;
        if (!rc) rc = weir_journal_append(h.j, id, WEIR_JOURNAL_INJECT, 1, 1, b, NULL, NULL, &seq, &err);
        json_decref(b);
        size_t attempts = fa_count();
        if (rc) {
            cr_assert_eq(rc, WEIR_ENOMEM, "allocation %zu: %s", n, err.message);
        } else if (attempts < n) {
            done = n;
        }
        /* what was queued is freed by poll, through the same allocator */
        fa_suspend(1);
        cr_assert_eq(weir_journal_delete(h.j, id, NULL, NULL, &err), 0, "%s", err.message);
        sync_poll(h.j);
        cr_assert_eq(fa_live(), 0, "allocation %zu: %ld blocks leak", n, fa_live());
        fa_uninstall();
    }
    cr_assert(done > 2, "never completed");
    close_all(&h);
    h = open_ok();
    weir_error err;
    readback rb;
    cr_assert_eq(read_all(h.j, "e0", 1, NULL, &rb, NULL, &err), 0, "%s", err.message);
    close_all(&h);
}

/* A database of schema 1 (graphs and components, no journal) gains the
 * journal's tables and keeps its graphs. */
Test(journal, a_schema_1_database_is_migrated_with_its_graphs) {
    weir_store *st;
    weir_error err;
    cr_assert_eq(weir_store_open(dir, &st, &err), 0, "%s", err.message);
    cr_assert_eq(weir_store_graph_put(st, "g1", "one", 5, "{}", &err), 0, "%s", err.message);
    weir_store_close(st);
    sql("DROP TABLE executions; DROP TABLE journal; DROP TABLE wave_digests; DROP TABLE snapshots;"
        "DROP TABLE input_log; PRAGMA user_version = 1");
    handles h = open_ok();
    start(h.j, "e1", 0);
    sync_poll(h.j);
    close_all(&h);
    cr_assert_eq(sql_int("PRAGMA user_version"), WEIR_STORE_SCHEMA_VERSION);
    cr_assert_eq(sql_int("SELECT count(*) FROM graphs WHERE id = 'g1'"), 1);
    cr_assert_eq(sql_int("SELECT count(*) FROM journal"), 1);
}

/* The writer tells the loop after each commit (the service's uv_async):
 * waiting on that alone, the loop sees every callback. */
static atomic_int notified;
static void on_notify(void *ud) {
    atomic_fetch_add(&notified, 1);
    uint64_t one = 1;
    cr_assert_eq(write(*(int *)ud, &one, sizeof one), (ssize_t)sizeof one);
}

Test(journal, the_writer_wakes_the_loop_after_each_commit) {
    vfs_reset();
    int efd = eventfd(0, EFD_CLOEXEC);
    cr_assert_geq(efd, 0);
    weir_store *st;
    weir_journal *j;
    weir_error err;
    weir_journal_config cfg = {.notify = on_notify, .notify_ud = &efd};
    cr_assert_eq(weir_store_open(dir, &st, &err), 0, "%s", err.message);
    cr_assert_eq(weir_journal_open(st, &cfg, &j, &err), 0, "%s", err.message);
    memset(&dones, 0, sizeof dones);
    start(j, "e1", 0);
    for (int64_t i = 1; i <= 300; i++) append(j, "e1", i, i);
    while (dones.n < 301) {
        uint64_t v;
        cr_assert_eq(read(efd, &v, sizeof v), (ssize_t)sizeof v); /* blocks until a commit ends */
        weir_journal_poll(j);
    }
    weir_journal_stats s;
    weir_journal_stats_get(j, &s);
    for (int i = 0; i < dones.n; i++) cr_assert_eq(dones.ud[i], i);
    weir_journal_close(j); /* joins the writer: its last notify is done */
    cr_assert_eq(atomic_load(&notified), (int)s.commits);
    weir_store_close(st);
    close(efd);
}

/* Close commits what is queued and runs its callbacks. */
Test(journal, close_commits_what_is_queued_and_runs_its_callbacks) {
    handles h = open_ok();
    memset(&dones, 0, sizeof dones);
    hold_writer();
    start(h.j, "e1", 0);
    wait_held();
    for (int64_t i = 1; i <= 500; i++) append(h.j, "e1", i, i);
    release_writer();
    close_all(&h);
    cr_assert_eq(dones.n, 501);
    for (int i = 0; i < dones.n; i++) cr_assert_eq(dones.status[i], 0);
    h = open_ok();
    readback rb;
    weir_error err;
    cr_assert_eq(read_all(h.j, "e1", 1, NULL, &rb, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(rb.n, 501);
    cr_assert_not(rb.bad, "%s", rb.why);
    close_all(&h);
}

/* A done callback run by close that writes is refused (the writer is
 * gone): never queued and silently dropped. */
static weir_journal *closing_j;
static int write_in_close_rc = 1;
static void write_in_close(void *ud, int status, const weir_error *e) {
    (void)ud;
    (void)status;
    (void)e;
    weir_error err;
    json_t *b = json_integer(1);
    write_in_close_rc = weir_journal_append(closing_j, "e1", WEIR_JOURNAL_INJECT, 9, 9, b, NULL, NULL, NULL, &err);
    json_decref(b);
}

Test(journal, a_write_from_a_callback_run_by_close_is_refused) {
    handles h = open_ok();
    start(h.j, "e1", 0);
    weir_error err;
    cr_assert_eq(weir_journal_sync(h.j, &err), 0, "%s", err.message);
    json_t *b = json_integer(0);
    cr_assert_eq(weir_journal_append(h.j, "e1", WEIR_JOURNAL_INJECT, 1, 1, b, write_in_close, NULL, NULL, &err), 0);
    json_decref(b);
    closing_j = h.j;
    close_all(&h); /* the append's callback runs in close */
    cr_assert_eq(write_in_close_rc, WEIR_ESTATE, "a write in close must be refused, not dropped (rc %d)",
                 write_in_close_rc);
}

/* The WAL is checkpointed into the database as it grows: by the
 * checkpoint thread, on its own connection through the same VFS, beside
 * the commits (a commit never waits behind one). */
Test(journal, the_wal_is_checkpointed_beside_the_commits) {
    handles h = open_with(WEIR_DURABILITY_PROCESS, 0, 0);
    start(h.j, "e1", 0);
    char big[4000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    weir_error err;
    for (int i = 1; i <= 1500; i++) {
        json_t *b = json_pack("{s:s}", "pad", big);
        cr_assert_eq(weir_journal_append(h.j, "e1", WEIR_JOURNAL_INJECT, i, i, b, NULL, NULL, NULL, &err), 0);
        json_decref(b);
        if (i % 100 == 0) sync_poll(h.j);
    }
    sync_poll(h.j);
    weir_journal_stats st;
    for (int tries = 0; tries < 500; tries++) { /* the thread runs when asked, soon after */
        weir_journal_stats_get(h.j, &st);
        if (st.checkpoints && atomic_load(&db_writes)) break;
        usleep(10000);
    }
    cr_assert_gt(atomic_load(&db_writes), 0, "no checkpoint wrote the database");
    cr_assert_gt(st.checkpoints, 0, "no checkpoint copied pages");
    close_all(&h);
}

/* cfg.kick: writes do not wake an idle writer; one kick sends everything
 * queued in one commit; sync needs no kick. */
Test(journal, with_kick_a_turns_writes_go_in_one_commit) {
    handles h = open_cfg((weir_journal_config){.durability = WEIR_DURABILITY_PROCESS, .kick = 1});
    usleep(20000); /* the writer is idle, waiting */
    start(h.j, "e1", 0);
    for (int64_t i = 1; i <= 9; i++) append(h.j, "e1", i, i);
    usleep(50000);
    weir_journal_stats st;
    weir_journal_stats_get(h.j, &st);
    cr_assert_eq(st.commits, 0, "not woken by the writes themselves");
    weir_journal_kick(h.j);
    for (int i = 0; i < 2000 && (weir_journal_stats_get(h.j, &st), st.records < 10); i++) usleep(1000);
    cr_assert_eq(st.records, 10);
    cr_assert_eq(st.commits, 1, "the ten writes in one commit");
    append(h.j, "e1", 10, 10);
    sync_poll(h.j); /* no kick: sync wakes it */
    weir_journal_stats_get(h.j, &st);
    cr_assert_eq(st.records, 11);
    close_all(&h);
}

/* Digests, as weir_journal_digests gives them: "seq:hex;" */
static int on_digest(void *ud, int64_t seq, const void *d, size_t len) {
    char *out = ud;
    size_t at = strlen(out);
    at += (size_t)snprintf(out + at, 4096 - at, "%lld:", (long long)seq);
    for (size_t i = 0; i < len; i++) at += (size_t)snprintf(out + at, 4096 - at, "%02x", ((const unsigned char *)d)[i]);
    snprintf(out + at, 4096 - at, ";");
    return 0;
}

static const char *digests(weir_journal *j, const char *id) {
    static char out[4096];
    out[0] = '\0';
    weir_error err;
    cr_assert_eq(weir_journal_digests(j, id, on_digest, out, &err), 0, "%s", err.message);
    return out;
}

/* A digest told before the writer took its record is stored in the
 * record's row (one row per input); one told after (the record committed
 * already, or not the newest) has a row of its own; both read back, in
 * seq order, and go with the journal when it is deleted. */
Test(journal, a_digest_rides_in_its_records_row_unless_the_record_was_taken) {
    handles h = open_ok();
    weir_error err;
    hold_writer(); /* nothing is taken while the digests come */
    start(h.j, "e1", 0);
    wait_held();
    append(h.j, "e1", 1, 0);
    cr_assert_eq(weir_journal_digest(h.j, "e1", 2, "\x02\x02", 2, &err), 0, "%s", err.message);
    append(h.j, "e1", 2, 0);
    append(h.j, "e1", 3, 0);
    cr_assert_eq(weir_journal_digest(h.j, "e1", 3, "\x03", 1, &err), 0, "%s", err.message); /* not the newest */
    cr_assert_eq(weir_journal_digest(h.j, "e1", 4, "\x04\x04\x04", 3, &err), 0, "%s", err.message);
    release_writer();
    sync_poll(h.j);
    append(h.j, "e1", 4, 0);
    sync_poll(h.j); /* committed: its digest comes after */
    cr_assert_eq(weir_journal_digest(h.j, "e1", 5, "\x05", 1, &err), 0, "%s", err.message);
    sync_poll(h.j);
    cr_assert_str_eq(digests(h.j, "e1"), "2:0202;3:03;4:040404;5:05;");
    close_all(&h);
    cr_assert_eq(sql_int("SELECT count(*) FROM journal WHERE digest IS NOT NULL"), 2);
    cr_assert_eq(sql_int("SELECT count(*) FROM wave_digests"), 2);
    h = open_ok();
    readback rb;
    cr_assert_eq(read_all(h.j, "e1", 1, NULL, &rb, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(rb.n, 5);
    cr_assert_not(rb.bad, "%s", rb.why);
    cr_assert_str_eq(digests(h.j, "e1"), "2:0202;3:03;4:040404;5:05;");
    cr_assert_eq(weir_journal_delete(h.j, "e1", NULL, NULL, &err), 0, "%s", err.message);
    sync_poll(h.j);
    cr_assert_str_eq(digests(h.j, "e1"), "");
    close_all(&h);
}

/* A database of schema 2 (every digest in wave_digests, no digest column)
 * is migrated: its journals verify and give their digests as before, and
 * appends go on. */
Test(journal, a_schema_2_journal_reads_back_after_the_migration) {
    handles h = open_ok();
    weir_error err;
    start(h.j, "e1", 0);
    for (int64_t i = 1; i <= 5; i++) append(h.j, "e1", i, 0);
    sync_poll(h.j);
    cr_assert_eq(weir_journal_digest(h.j, "e1", 3, "\x33", 1, &err), 0, "%s", err.message);
    sync_poll(h.j);
    close_all(&h);
    /* what schema 2 had: the same tables less the column */
    sql("CREATE TABLE j2 (exec_id TEXT NOT NULL, seq INTEGER NOT NULL, kind INTEGER NOT NULL, tick INTEGER NOT NULL,"
        " time_ms INTEGER NOT NULL, body TEXT NOT NULL, chain BLOB NOT NULL, PRIMARY KEY (exec_id, seq)) WITHOUT ROWID;"
        "INSERT INTO j2 SELECT exec_id, seq, kind, tick, time_ms, body, chain FROM journal;"
        "INSERT INTO wave_digests VALUES ('e1', 5, x'55');"
        "DROP TABLE journal; ALTER TABLE j2 RENAME TO journal; DROP TABLE input_log; PRAGMA user_version = 2");
    h = open_ok();
    cr_assert_eq(sql_int("PRAGMA user_version"), WEIR_STORE_SCHEMA_VERSION);
    readback rb;
    cr_assert_eq(read_all(h.j, "e1", 1, NULL, &rb, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(rb.n, 6);
    cr_assert_not(rb.bad, "%s", rb.why);
    cr_assert_str_eq(digests(h.j, "e1"), "3:33;5:55;");
    cr_assert_eq(weir_journal_resume(h.j, "e1", NULL, &err), 0, "%s", err.message);
    append(h.j, "e1", 6, 0);
    cr_assert_eq(weir_journal_digest(h.j, "e1", 7, "\x77", 1, &err), 0, "%s", err.message);
    sync_poll(h.j);
    cr_assert_eq(read_all(h.j, "e1", 1, NULL, &rb, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(rb.n, 7);
    cr_assert_not(rb.bad, "%s", rb.why);
    cr_assert_str_eq(digests(h.j, "e1"), "3:33;5:55;7:77;");
    close_all(&h);
}

/* A body given as its canonical text is stored and chained exactly as the
 * same body given as JSON. */
Test(journal, append_text_stores_what_append_stores) {
    handles h = open_ok();
    weir_error err;
    start(h.j, "e1", 0);
    start(h.j, "e2", 0);
    for (int64_t i = 1; i <= 3; i++) {
        append(h.j, "e1", i, 0);
        const char *t = canon_of(i);
        cr_assert_eq(weir_journal_append_text(h.j, "e2", WEIR_JOURNAL_INJECT, i, 100 + i, t, strlen(t), NULL, NULL,
                                              NULL, &err),
                     0, "%s", err.message);
    }
    cr_assert_eq(weir_journal_append_text(h.j, "e2", WEIR_JOURNAL_START, 1, 1, "{}", 2, NULL, NULL, NULL, &err),
                 WEIR_EINVAL);
    cr_assert_eq(weir_journal_append_text(h.j, "nope", WEIR_JOURNAL_INJECT, 1, 1, "{}", 2, NULL, NULL, NULL, &err),
                 WEIR_ENOTFOUND);
    sync_poll(h.j);
    readback rb;
    cr_assert_eq(read_all(h.j, "e2", 1, NULL, &rb, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(rb.n, 4);
    cr_assert_not(rb.bad, "%s", rb.why);
    close_all(&h);
    cr_assert_eq(sql_int("SELECT count(*) FROM journal a JOIN journal b ON a.seq = b.seq AND a.exec_id = 'e1' AND "
                         "b.exec_id = 'e2' AND a.chain = b.chain AND a.body = b.body"),
                 4);
}

/* ------------------------------------------------------------ input logs */

/* The writer's log is applied to SQLite only when asked (a flush, a close). */
static handles open_idle(weir_durability mode) {
    return open_cfg((weir_journal_config){.durability = mode, .idle_ms = 600000});
}

static long long rows_of(const char *id) {
    char q[128];
    snprintf(q, sizeof q, "SELECT count(*) FROM journal WHERE exec_id = '%s'", id);
    return sql_int(q);
}

/* Start e1 and append 1 .. 10, all reported durable. */
static void start_ten(weir_journal *j) {
    memset(&dones, 0, sizeof dones);
    start(j, "e1", 0);
    for (int64_t i = 1; i <= 10; i++) append(j, "e1", i, i);
    sync_poll(j);
    cr_assert_eq(dones.n, 11);
}

/* A record is durable once in the input log; a read applies the log to
 * SQLite first, so it sees every record reported durable. */
Test(journal, reads_see_records_still_in_an_input_log) {
    handles h = open_idle(WEIR_DURABILITY_FSYNC);
    start_ten(h.j);
    cr_assert_eq(rows_of("e1"), 0, "durable in the log, not in SQLite yet");
    weir_journal_stats s;
    weir_journal_stats_get(h.j, &s);
    cr_assert_eq(s.ingests, 0);
    readback rb;
    weir_error err;
    cr_assert_eq(read_all(h.j, "e1", 1, NULL, &rb, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(rb.n, 11);
    cr_assert_eq(rows_of("e1"), 11);
    weir_journal_stats_get(h.j, &s);
    cr_assert_eq(s.ingests, 1);
    /* the next ones go to the other log, and a flush applies them too */
    for (int64_t i = 11; i <= 15; i++) append(h.j, "e1", i, i);
    cr_assert_eq(weir_journal_flush(h.j, &err), 0, "%s", err.message);
    cr_assert_eq(rows_of("e1"), 16);
    close_all(&h);
}

/* The child: start e1, append n records, wait until they are durable (in
 * the log: nothing is applied to SQLite), and end without closing. */
static void land_child(int n) {
    handles h = open_idle(WEIR_DURABILITY_PROCESS);
    start(h.j, "e1", 0);
    for (int64_t i = 1; i <= n; i++) append(h.j, "e1", i, i);
    weir_error err;
    if (weir_journal_sync(h.j, &err)) _exit(3);
    _exit(0);
}

static void file_copy(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    cr_assert(a && b, "%s -> %s", from, to);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0) cr_assert_eq(fwrite(buf, 1, n, b), n);
    fclose(a);
    fclose(b);
}

static long file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* What a crash leaves in a log is applied at the next open, up to a torn
 * frame (its end cut off) and not past bytes that are not frames of the
 * log's generation; and a log already applied is not applied again. */
Test(journal, a_log_a_crash_left_is_applied_at_open_up_to_a_torn_frame_and_only_once) {
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) land_child(30);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
    cr_assert_eq(rows_of("e1"), 0, "the child applied nothing to SQLite");

    char log[160], keep[170];
    snprintf(log, sizeof log, "%s-inputs0", db_path());
    snprintf(keep, sizeof keep, "%s.keep", log);
    long size = file_size(log);
    cr_assert_gt(size, 31 * 100, "the log holds the 31 records: %ld bytes", size);
    /* tear the last frame, then add bytes that are no frame at all */
    cr_assert_eq(truncate(log, size - 5), 0);
    FILE *f = fopen(log, "ab");
    cr_assert_not_null(f);
    for (int i = 0; i < 300; i++) fputc(i * 7 & 0xff, f);
    fclose(f);
    file_copy(log, keep);

    handles h = open_ok();
    weir_journal_stats s;
    weir_journal_stats_get(h.j, &s);
    cr_assert_eq(s.recovered, 30, "the start and 29 appends: %llu", (unsigned long long)s.recovered);
    readback rb;
    weir_error err;
    cr_assert_eq(read_all(h.j, "e1", 1, NULL, &rb, NULL, &err), 0, "%s", err.message);
    cr_assert_not(rb.bad, "%s", rb.why);
    cr_assert_eq(rb.n, 30);
    cr_assert_eq(rb.last, 30);
    close_all(&h);
    cr_assert_eq(file_size(log), 0, "closed cleanly: its logs are empty");

    /* the same log again (a crash after it was applied, before anything
     * else): its generation is applied already */
    file_copy(keep, log);
    h = open_ok();
    weir_journal_stats_get(h.j, &s);
    cr_assert_eq(s.recovered, 0);
    cr_assert_eq(read_all(h.j, "e1", 1, NULL, &rb, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(rb.n, 30);
    /* and the chain goes on from the last whole record */
    int64_t last;
    cr_assert_eq(weir_journal_resume(h.j, "e1", &last, &err), 0, "%s", err.message);
    cr_assert_eq(last, 30);
    memset(&dones, 0, sizeof dones);
    cr_assert_eq(append(h.j, "e1", 30, 1), 31);
    sync_poll(h.j);
    close_all(&h);
    h = open_ok();
    cr_assert_eq(read_all(h.j, "e1", 1, NULL, &rb, NULL, &err), 0, "%s", err.message);
    cr_assert_not(rb.bad, "%s", rb.why);
    cr_assert_eq(rb.n, 31);
    close_all(&h);
    unlink(keep);
}

/* Applying a log to SQLite fails after its records were reported durable:
 * the journal refuses writes from then on, and nothing reported durable
 * is lost (the next open applies the log). */
Test(journal, a_failed_ingest_refuses_writes_and_loses_nothing_reported_durable) {
    handles h = open_idle(WEIR_DURABILITY_FSYNC);
    start_ten(h.j);
    for (int i = 0; i < 11; i++) cr_assert_eq(dones.status[i], 0);
    atomic_store(&testvfs_fail_sqlite_wal_write, 1);
    weir_error err;
    cr_assert_eq(weir_journal_flush(h.j, &err), WEIR_EIO);
    cr_assert(strstr(err.message, "weir.db"), "%s", err.message);
    json_t *b = body_of(11);
    cr_assert_eq(weir_journal_append(h.j, "e1", WEIR_JOURNAL_INJECT, 11, 111, b, on_done, NULL, NULL, &err), WEIR_EIO);
    cr_assert(strstr(err.message, "refused since a commit failed"), "%s", err.message);
    json_decref(b);
    weir_journal_stats s;
    weir_journal_stats_get(h.j, &s);
    cr_assert_eq(s.failed_commits, 1);
    atomic_store(&testvfs_fail_sqlite_wal_write, 0);
    close_all(&h);

    h = open_ok();
    weir_journal_stats_get(h.j, &s);
    cr_assert_eq(s.recovered, 11);
    readback rb;
    cr_assert_eq(read_all(h.j, "e1", 1, NULL, &rb, NULL, &err), 0, "%s", err.message);
    cr_assert_not(rb.bad, "%s", rb.why);
    cr_assert_eq(rb.n, 11);
    close_all(&h);
}

/* A delete reported durable (weir_journal_sync returned 0) frees its id at
 * once, as it did when a batch was durable in SQLite: a start of the same
 * id is taken though the delete is still in an input log. */
Test(journal, a_start_after_a_synced_delete_of_the_same_id_is_taken) {
    handles h = open_idle(WEIR_DURABILITY_FSYNC);
    memset(&dones, 0, sizeof dones);
    start(h.j, "e1", 0);
    append(h.j, "e1", 1, 1);
    weir_error err;
    cr_assert_eq(weir_journal_flush(h.j, &err), 0, "%s", err.message); /* e1 is in SQLite */
    cr_assert_eq(weir_journal_delete(h.j, "e1", NULL, NULL, &err), 0, "%s", err.message);
    sync_poll(h.j); /* the delete is durable (in the log) */
    json_t *b = json_pack("{s:s}", "graph", "g1");
    int rc = weir_journal_start(h.j, "e1", "g1", 1000, 0, 5, b, on_done, NULL, &err);
    json_decref(b);
    cr_assert_eq(rc, 0, "%s", err.message);
    sync_poll(h.j);
    readback rb;
    cr_assert_eq(read_all(h.j, "e1", 1, NULL, &rb, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(rb.n, 1, "the new e1 holds its start alone: %d records", rb.n);
    close_all(&h);
}

/* A failed write refuses further writes; what was reported durable before
 * it is still read (it is in the log, and reads apply it), as it was read
 * from SQLite before input logs. */
Test(journal, records_reported_durable_are_read_after_a_failed_write) {
    handles h = open_idle(WEIR_DURABILITY_PROCESS);
    memset(&dones, 0, sizeof dones);
    start(h.j, "e1", 0);
    for (int64_t i = 1; i <= 5; i++) append(h.j, "e1", i, i);
    sync_poll(h.j);
    atomic_store(&fail_write, 1);
    append(h.j, "e1", 6, 6);
    weir_error err;
    cr_assert_eq(weir_journal_sync(h.j, &err), WEIR_EIO);
    weir_journal_poll(h.j);
    atomic_store(&fail_write, 0);
    readback rb;
    cr_assert_eq(read_all(h.j, "e1", 1, NULL, &rb, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(rb.n, 6);
    cr_assert_not(rb.bad, "%s", rb.why);
    close_all(&h);
}
