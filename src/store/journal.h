/*
 * The input journal (SPEC §7.1): every input of a stored execution, in
 * order, in the store's SQLite database (DIR/weir.db, WAL), committed in
 * groups by a writer thread of its own.
 *
 * Records.  Per execution a dense sequence seq = 1, 2, 3 ...; each record
 * has a kind (weir_journal_kind; the numbers are stored and never change),
 * the tick and the time (ms) handed to the core with the input, and a body.
 * The body is stored in its canonical form: jansson's
 * JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY text of the json_t the
 * caller gives (no whitespace, object keys sorted bytewise, integers as
 * integers, reals as jansson's "%.17g"), so the same input always gives
 * the same bytes (written by core/canon.h, byte for byte jansson's).  A
 * record's row also holds the digest of the wave it started when that
 * came before the writer took the record (nearly always: one row per
 * input); other digests, and all those of journals from before schema 3,
 * are rows of wave_digests.
 *
 * Hash chain.  Each record carries
 *   chain[seq] = SHA-256(chain[seq-1] || kind || seq || tick || time_ms || body)
 * truncated to WEIR_JOURNAL_CHAIN bytes, with chain[0] = 16 zero bytes and
 * the integers as big-endian 32 (kind) and 64 bits (the others), the body
 * to the end.  16 bytes: the chain detects torn, edited, reordered or
 * missing records, for which 128 bits are far past any accidental match
 * (and a forged collision would still cost 2^64 work); it halves what each
 * ~120-byte record carries compared with the full 32.  The execution's id
 * is not hashed, so a fork's copied prefix keeps its chain.
 *
 * What "durable" means.  A record is durable when the batch holding it is
 * in the writer's input log (DIR/weir.db-inputs0 or -inputs1, see
 * journal_int.h): one write, and with WEIR_DURABILITY_FSYNC one fsync, so
 * it survives a crash of the machine; with WEIR_DURABILITY_PROCESS (no
 * fsync) it is in the operating system's cache and survives a crash of
 * weir, not of the machine.  The logs are applied to SQLite later, in
 * large transactions, by an ingest thread (and at open, for what a crash
 * left); the reads flush first, so they see every durable record.  The loop knows a record is durable when its done callback runs
 * with status 0, or when weir_journal_sync, called after it was queued,
 * returns 0: only then may anything it caused leave the process (output
 * commit).  A record whose done got WEIR_EIO is
 * in an unknown state, never "absent": when a write reached the disk and
 * only its fsync failed, the record may be there after a reopen.
 *
 * Threads.  One thread (the "loop") makes every call on a weir_journal;
 * the journal's own writer thread owns the write connection.  The writer
 * takes whatever is queued (up to batch_max items) as soon as anything is
 * queued and it is idle — no added wait — and lands it in the input log in
 * one write: one fsync for all of them.  While it commits, the next
 * batch accumulates.  After each commit it calls cfg.notify(notify_ud) from
 * the writer thread (the service does a uv_async_send there); the loop then
 * calls weir_journal_poll, which runs the done callbacks on the loop.  The
 * calls on the loop never wait for the disk, except weir_journal_sync,
 * weir_journal_close, the reads, and weir_journal_start's look-up of the
 * id (all on the reader connection: WAL readers never wait for the
 * writer).  WAL checkpoints run on the writer
 * thread: while the journal is open the store's own connection does not
 * checkpoint (weir_store_autocheckpoint).
 *
 * Order.  Items (records, snapshots, digests, finish, delete) are committed
 * in the order they were queued, across executions; done callbacks run in
 * that order too.  A failed commit fails its whole batch and everything
 * queued after it, with WEIR_EIO, and from then on every call that writes
 * returns WEIR_EIO naming the first error: the journal stays refused until
 * it is closed and opened again (the service answers 503).
 *
 * Queue bound.  At most queue_max items are queued, committing, or
 * committed with their done not yet run by weir_journal_poll; past that a
 * write returns WEIR_EFULL ("JOURNAL_QUEUE_MAX ... reached") at once —
 * nothing is dropped and the caller is never blocked; the service answers
 * 503 with Retry-After.
 */
#ifndef WEIR_STORE_JOURNAL_H
#define WEIR_STORE_JOURNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "weir/weir.h"

typedef struct weir_journal weir_journal;

/* Bytes of a chain value (SHA-256 truncated; see above). */
#define WEIR_JOURNAL_CHAIN 16
/* Items per transaction, by default; queued items, by default. */
#define WEIR_JOURNAL_BATCH_MAX_DEFAULT 4096
#define WEIR_JOURNAL_QUEUE_MAX_DEFAULT 65536

/* Record kinds, as stored.  New kinds get new numbers; a number is never
 * reused.  The journal stores and returns any kind >= 1; only START has a
 * meaning to it (the first record, written by weir_journal_start). */
typedef enum weir_journal_kind {
    WEIR_JOURNAL_START = 1,         /* {graph, version|hash, options, runtime} */
    WEIR_JOURNAL_INJECT = 2,        /* {node, port, value, ...} */
    WEIR_JOURNAL_CONTROL = 3,       /* {op: pause|resume|stop|runtime|tick|advance|run|step, ...} */
    WEIR_JOURNAL_EFFECT_RESULT = 4, /* {effect, ok|error, value} */
    WEIR_JOURNAL_TIMER = 5,         /* {effect} a timer fired */
    WEIR_JOURNAL_SCHEDULED = 6,     /* the virtual clock's own: {op: schedule, node, port?, value, dueMs}
                                       (an inject scheduled on it) or {op: clock, now} (it moved);
                                       not an input of the core: replay skips it */
    WEIR_JOURNAL_UPGRADE = 7,       /* {op: upgrade, graph, components, graphId, options, version?}: the
                                       execution moved to a new version of its graph (weir_exec_upgrade);
                                       the graph rides in it, flattened, as in START */
} weir_journal_kind;

/* Static name of a kind ("inject"), "unknown" for a number without one. */
const char *weir_journal_kind_name(int kind);

typedef enum weir_durability {
    WEIR_DURABILITY_FSYNC = 0,   /* synchronous=FULL: survives a machine crash */
    WEIR_DURABILITY_PROCESS = 1, /* synchronous=NORMAL: survives a process crash */
} weir_durability;

typedef struct weir_journal_config {
    weir_durability durability;
    size_t queue_max; /* JOURNAL_QUEUE_MAX; 0 = WEIR_JOURNAL_QUEUE_MAX_DEFAULT */
    size_t batch_max; /* items per transaction; 0 = WEIR_JOURNAL_BATCH_MAX_DEFAULT */
    /* Called from the writer thread after each commit (or failed commit),
     * with no lock held, until weir_journal_close returns; it must only
     * wake the loop.  NULL: nobody is told (the loop polls, or uses
     * weir_journal_sync). */
    void (*notify)(void *notify_ud);
    void *notify_ud;
    /* The SQLite VFS the writer connection uses (NULL: the default).  For
     * tests that inject I/O errors. */
    const char *vfs;
    /* Nonzero: a write does not wake an idle writer; the loop calls
     * weir_journal_kick once per turn (before it waits for I/O, and after),
     * so the writes one turn makes go in one commit instead of the first of
     * them alone (no added wait: nothing waits longer than the turn that
     * made it; a busy writer takes whatever is queued when it is done). */
    int kick;
    /* How long the writer's input log waits without work before it is
     * applied to SQLite, in ms (0: JLOG_IDLE_MS).  Tests set it long to
     * keep what they write in the log. */
    int idle_ms;
} weir_journal_config;

/* Runs on the loop, from weir_journal_poll or weir_journal_close, once per
 * item that was given one: status 0 = durable; WEIR_EIO = the commit failed
 * (err says why; err is NULL when status is 0). */
typedef void (*weir_journal_done_fn)(void *ud, int status, const weir_error *err);

/* Open the journal of store st (BORROWED; it must outlive the journal and
 * have a data directory: a store in memory keeps no journal, WEIR_EINVAL).
 * cfg may be NULL (defaults).  Starts the writer thread.
 * Errors: WEIR_EIO (the database cannot be opened), WEIR_ENOMEM, WEIR_EINVAL. */
int weir_journal_open(weir_store *st, const weir_journal_config *cfg, weir_journal **out, weir_error *err);
/* Commit everything queued, run the remaining done callbacks (here, on the
 * calling thread), stop the writer and free.  NULL is a no-op. */
void weir_journal_close(weir_journal *j);

/* ---------------------------------------------------------------- writing
 * Every write is queued, not done: it returns 0 when queued (done, if not
 * NULL, runs later from weir_journal_poll), or an error with nothing queued
 * and done never called:
 *   WEIR_EFULL      queue_max items outstanding (retry after a poll);
 *   WEIR_EIO        an earlier commit failed: the journal is refused;
 *   WEIR_ENOTFOUND  the execution is not known to this journal (neither
 *                   started nor resumed) — deleted ones included;
 *   WEIR_ESTATE     the execution is finished, or the journal is closing (a
 *                   done callback run by weir_journal_close writes);
 *   WEIR_EEXISTS    (start) the id has a journal already, stored or queued
 *                   (an id whose delete is not committed yet counts);
 *   WEIR_EINVAL     a bad argument (kind < 1 or START to append);
 *   WEIR_ENOMEM.
 * Strings and JSON are BORROWED (copied or encoded before the call returns). */

/* A new execution: its row in executions (unfinished) and its record 1
 * (kind START, the body), in one transaction. */
int weir_journal_start(weir_journal *j, const char *exec_id, const char *graph_id, int64_t created_ms, int64_t tick,
                       int64_t time_ms, json_t *body, weir_journal_done_fn done, void *ud, weir_error *err);
/* The next record of an execution; *seq_out (may be NULL) gets its seq. */
int weir_journal_append(weir_journal *j, const char *exec_id, int kind, int64_t tick, int64_t time_ms, json_t *body,
                        weir_journal_done_fn done, void *ud, int64_t *seq_out, weir_error *err);
/* The same with the body given as its canonical text (len bytes,
 * BORROWED): the exact bytes weir_journal_append would write for it (the
 * caller's promise: core/canon.h writes them), so the caller need not make
 * the JSON. */
int weir_journal_append_text(weir_journal *j, const char *exec_id, int kind, int64_t tick, int64_t time_ms,
                             const char *text, size_t len, weir_journal_done_fn done, void *ud, int64_t *seq_out,
                             weir_error *err);
/* The digest of the wave started by record seq (bytes BORROWED, at most
 * 64).  No callback: when record seq is the execution's newest and the
 * writer has not taken it yet, the digest is stored in its row (one row
 * per input); else it rides in the next commit in a row of its own.
 * Losing the newest ones in a crash is harmless (replay compares what it
 * has). */
int weir_journal_digest(weir_journal *j, const char *exec_id, int64_t seq, const void *digest, size_t len,
                        weir_error *err);
/* A snapshot of the execution as of its newest appended record (that
 * record's seq and chain are stored with it); state is stored canonical. */
int weir_journal_snapshot(weir_journal *j, const char *exec_id, int64_t tick, int64_t time_ms, json_t *state,
                          weir_journal_done_fn done, void *ud, weir_error *err);
/* Mark finished (no more appends; retention may delete it later). */
int weir_journal_finish(weir_journal *j, const char *exec_id, int64_t finished_ms, weir_journal_done_fn done, void *ud,
                        weir_error *err);
/* Delete the execution's row, records, digests and snapshots (retention,
 * or a recovery that gave up on it).  Known or not to this journal. */
int weir_journal_delete(weir_journal *j, const char *exec_id, weir_journal_done_fn done, void *ud, weir_error *err);
/* Whether a delete is queued or in an input log, not yet applied to SQLite
 * (so weir_journal_bytes does not show what it frees yet).  A delete asks
 * for its log to be applied soon, without waiting for it. */
bool weir_journal_deleting(weir_journal *j);

/* Wake the writer for what is queued (cfg.kick). */
void weir_journal_kick(weir_journal *j);

/* Run the done callbacks of every item whose commit has ended, in queue
 * order; returns how many ran.  A callback may write to the journal. */
size_t weir_journal_poll(weir_journal *j);
/* Wait until every item queued before the call is committed (or failed).
 * Does not run callbacks.  0, or WEIR_EIO when the journal is refused. */
int weir_journal_sync(weir_journal *j, weir_error *err);
/* weir_journal_sync, and then wait until those items are in SQLite, where
 * the reads look (the input logs are applied now, not when full).  The
 * reads below flush first themselves.  Once a landing failed (writes are
 * refused), it waits for what was landed before the failure: the reads
 * still see every durable record.  0, or WEIR_EIO when a log could not be
 * applied to SQLite. */
int weir_journal_flush(weir_journal *j, weir_error *err);

typedef struct weir_journal_stats {
    uint64_t commits;        /* batches made durable (landed in an input log: one write, one fsync) */
    uint64_t records;        /* records (start + append) made durable */
    uint64_t items;          /* items of any sort made durable */
    uint64_t max_batch;      /* the most items one batch held */
    uint64_t failed_commits; /* 0 or 1: after one the journal is refused */
    uint64_t checkpoints;    /* WAL checkpoints run (by their own thread, beside the commits) */
    uint64_t ingests;        /* input logs applied to SQLite (by their own thread) */
    uint64_t recovered;      /* items applied at open from input logs a crash left */
    size_t outstanding;      /* items queued, committing, or awaiting poll */
} weir_journal_stats;
void weir_journal_stats_get(weir_journal *j, weir_journal_stats *out);

/* ---------------------------------------------------------------- reading
 * Reads see what is committed (not what is only queued), on the loop's
 * reader connection.  They block on the disk for as long as they read. */

/* The bytes the database holds in use (its pages less the free ones: the
 * journals, snapshots, digests, graphs and components), as of what is
 * committed; -1 when it cannot be told. */
int64_t weir_journal_bytes(weir_journal *j);

/* Why a journal does not verify. */
typedef enum weir_journal_fault_kind {
    WEIR_JOURNAL_FAULT_NONE = 0,
    WEIR_JOURNAL_FAULT_HASH,  /* the record's chain does not match what precedes it */
    WEIR_JOURNAL_FAULT_GAP,   /* a record is missing: seq is the first one absent */
    WEIR_JOURNAL_FAULT_JSON,  /* the body is not JSON */
    WEIR_JOURNAL_FAULT_FIELD, /* a column has the wrong type or size */
} weir_journal_fault_kind;

typedef struct weir_journal_fault {
    weir_journal_fault_kind kind;
    int64_t seq; /* the record at fault (for a gap, the first missing one) */
} weir_journal_fault;

typedef struct weir_journal_record {
    int64_t seq;
    int kind;
    int64_t tick, time_ms;
    const char *text; /* the canonical body */
    size_t len;
    json_t *body;     /* decoded; BORROWED (json_incref to keep it) */
    const unsigned char *chain; /* WEIR_JOURNAL_CHAIN bytes */
} weir_journal_record;

/* fn returns 0 to go on; any other value stops the read and is returned.
 * The record is valid only during the call; fn must not read the journal
 * (writing to it is fine). */
typedef int (*weir_journal_record_fn)(void *ud, const weir_journal_record *r);

/* Call fn for each record of exec_id from seq from_seq (>= 1) to the end,
 * verifying the chain as it goes.  The first record read is checked against
 * anchor (WEIR_JOURNAL_CHAIN bytes: a snapshot's chain when reading from
 * snapshot.seq + 1), or when anchor is NULL against the stored chain of
 * record from_seq - 1 (zeros for seq 1).  A journal that does not verify
 * stops the read at the bad record, before fn sees it: WEIR_EIO, err
 * "journal of execution X is broken at record N: hash mismatch" (or "gap",
 * "unreadable JSON", ...), and *fault (may be NULL) says which record and
 * why.  Records before it were delivered and are sound.  A read past the end
 * delivers nothing and returns 0.  WEIR_ENOTFOUND: no such execution. */
int weir_journal_read(weir_journal *j, const char *exec_id, int64_t from_seq, const unsigned char *anchor,
                      weir_journal_record_fn fn, void *ud, weir_journal_fault *fault, weir_error *err);

/* One stored wave digest (weir_journal_digest); bytes valid only during
 * the call.  0 to go on; any other value stops and is returned. */
typedef int (*weir_journal_digest_fn)(void *ud, int64_t seq, const void *digest, size_t len);
/* Call fn for each stored digest of exec_id, seq ascending (none: 0, fn
 * never called).  WEIR_EIO when they cannot be read. */
int weir_journal_digests(weir_journal *j, const char *exec_id, weir_journal_digest_fn fn, void *ud, weir_error *err);

typedef struct weir_journal_snap {
    int64_t seq, tick, time_ms;
    unsigned char chain[WEIR_JOURNAL_CHAIN];
    json_t *state; /* OWNED by the caller: json_decref */
} weir_journal_snap;

/* The newest snapshot of exec_id with seq <= max_seq and tick <= max_tick
 * (INT64_MAX for no bound).  WEIR_ENOTFOUND when there is none; WEIR_EIO
 * when it cannot be read or its state is not JSON. */
int weir_journal_snapshot_find(weir_journal *j, const char *exec_id, int64_t max_seq, int64_t max_tick,
                               weir_journal_snap *out, weir_error *err);

enum { WEIR_JOURNAL_UNFINISHED = 1, WEIR_JOURNAL_FINISHED = 2, WEIR_JOURNAL_ALL = 3 };
/* One execution; strings valid only during the call.  finished_ms is 0
 * for an unfinished one. */
typedef int (*weir_journal_exec_fn)(void *ud, const char *exec_id, const char *graph_id, int64_t created_ms,
                                    int finished, int64_t finished_ms);
/* Call fn for each stored execution of the sort asked: unfinished ones in
 * creation order; finished ones oldest finished first (retention deletes
 * from the front).  fn returns 0 to go on, else that value is returned. */
int weir_journal_executions(weir_journal *j, int which, weir_journal_exec_fn fn, void *ud, weir_error *err);

/* Take up an unfinished execution after a reopen: its newest committed
 * record becomes the tail the next append chains to (trusted as stored:
 * read and verify the journal first).  A no-op for an execution already
 * known.  WEIR_ENOTFOUND (no such execution or no records), WEIR_ESTATE
 * (finished), WEIR_EIO.  *last_seq (may be NULL) gets the newest seq. */
int weir_journal_resume(weir_journal *j, const char *exec_id, int64_t *last_seq, weir_error *err);

#endif
