/* The journal's insides, shared by journal.c (the loop's side: the queue,
 * the chains), journal_writer.c (the writer thread) and journal_read.c
 * (the reader connection).  Not for use outside src/store. */
#ifndef WEIR_STORE_JOURNAL_INT_H
#define WEIR_STORE_JOURNAL_INT_H
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <sqlite3.h>

#include "core/canon.h"
#include "store/journal.h"

/* What a queued item asks the writer to do. */
enum { OP_START, OP_RECORD, OP_DIGEST, OP_SNAPSHOT, OP_FINISH, OP_DELETE };

/* One queued write.  Made and freed on the loop; the writer reads it and
 * sets status, under the rules of struct weir_journal. */
typedef struct jitem {
    struct jitem *next;
    int op, kind, status;
    int64_t seq, tick, time_ms; /* FINISH: time_ms is finished_ms */
    int64_t created_ms;
    uint64_t ticket; /* its number in queue order (j->queued when pushed) */
    unsigned char chain[WEIR_JOURNAL_CHAIN];
    char *text; /* canonical JSON (body, state) or digest bytes; in the item's own block */
    size_t len;
    /* START, RECORD: the digest of the wave the record started, when it
     * came before the writer took the record (weir_journal_digest); it is
     * stored in the record's row. */
    size_t dig_len;
    unsigned char dig[64];
    weir_journal_done_fn done;
    void *ud;
    const char *graph_id; /* START: points into id[] after the exec id */
    char id[];            /* the execution's id, NUL-terminated */
} jitem;

/* An item as its input log frame reads back (journal_log.c): what the
 * ingest writes into SQLite.  Pointers into the frame; id, graph_id and
 * text are not NUL-terminated. */
typedef struct jrow {
    int op, kind;
    int64_t seq, tick, time_ms, created_ms;
    const unsigned char *chain;
    const char *id, *graph_id;
    size_t id_len, graph_len;
    const unsigned char *dig;
    size_t dig_len;
    const char *text;
    size_t len;
} jrow;

/* Input logs.  A batch is durable once it is in the writer's log (one
 * write, and in fsync mode one fsync), not in SQLite: the per-row and
 * per-transaction work of SQLite, paid once per batch before, is paid once
 * per JLOG_SWITCH_BYTES of records, by the ingest thread, beside the
 * landing.  There are two logs: the writer appends to one (ACTIVE) while
 * the ingest thread applies the other (INGEST); a FREE one is empty.
 * Reads see SQLite: they flush first (weir_journal_flush). */
enum { JLOG_FREE, JLOG_ACTIVE, JLOG_INGEST };
#define JLOG_HEADER 32
#define JLOG_SWITCH_BYTES (1u << 20) /* a log this big is handed on when the other is free */
#define JLOG_HOLD_BYTES (64u << 20)  /* past this the writer waits for the ingest */
#define JLOG_IDLE_MS 20              /* a log is handed on after this long without work */
typedef struct jlog {
    sqlite3_file *f; /* through the writer's VFS */
    char *path;
    uint64_t gen;                /* its generation: 0 until its first frame */
    unsigned char *buf;          /* header and frames, as on the file */
    size_t len, cap, written;    /* written: bytes of buf on the file */
    size_t items;                /* frames in it */
    uint64_t last_ticket;        /* of the newest item landed in it */
    int state;                   /* JLOG_…, under mu */
} jlog;

/* What the journal knows of an execution it writes to (loop only). */
typedef struct jexec {
    struct jexec *next;
    uint64_t hash;
    int64_t last_seq;
    unsigned char chain[WEIR_JOURNAL_CHAIN]; /* of record last_seq */
    jitem *tail;          /* the item of record last_seq (NULL after a resume), valid while */
    uint64_t tail_ticket; /* its ticket is above j->taken (mu held) */
    int finished;
    char id[];
} jexec;

/* The most records one INSERT statement writes (w_recs). */
#define W_RECS_MAX 16

enum {
    W_BEGIN,
    W_COMMIT,
    W_ROLLBACK,
    W_EXEC,
    W_REC,
    W_DIG,
    W_SNAP,
    W_FIN,
    W_DEL_J,
    W_DEL_D,
    W_DEL_S,
    W_DEL_E,
    W_GEN,
    N_W
};
enum { R_READ, R_CHAIN, R_TAIL, R_EXEC, R_SNAP, R_LIST_UNF, R_LIST_FIN, R_LIST_ALL, N_R };

struct weir_journal {
    weir_store *st;
    const char *path;
    weir_journal_config cfg;

    /* The loop's: the reader connection, the hash context, the chains. */
    sqlite3 *rdb;
    sqlite3_stmt *r[N_R];
    EVP_MD_CTX *md;
    weir_cbuf scratch; /* where bodies are encoded */
    jexec **buckets; /* nbuckets is a power of two */
    size_t nbuckets, nexec;

    /* The writer's: its connection (the loop touches it only before the
     * thread starts and after it is joined). */
    sqlite3 *wdb;
    sqlite3_stmt *w[N_W];
    /* INSERTs of 2, 4, 8 and 16 records in one statement (W_RECS_MAX):
     * a run of records is written in as few steps as its binary digits. */
    sqlite3_stmt *w_recs[4];
    pthread_t thread;
    int thread_started;
    /* Checkpoints: the writer's connection never checkpoints (a checkpoint
     * copies the WAL into the database and syncs it: a commit behind one
     * waited for it, p99 6.5-7.5 ms in process mode against 2.1-3.4 without).
     * When a commit leaves WAL_CHECKPOINT_PAGES or more in the WAL, the
     * checkpoint thread runs a passive one on its own connection, beside
     * the commits (ckpt_wanted, stats.checkpoints under mu). */
    sqlite3 *cdb;
    pthread_t ckpt_thread;
    int ckpt_started, ckpt_wanted;
    pthread_cond_t ckpt_cv;
    /* The input logs: logs[active] is the writer's; the one handed on is
     * the ingest thread's (ingest_idx, under mu, -1 when none).  gen: the
     * newest generation given out (the writer's). */
    sqlite3_vfs *vfs;
    jlog logs[2];
    int active, ingest_idx;
    uint64_t gen;
    pthread_t ingest_thread;
    int ingest_started, ingest_stop, ingest_failed;
    pthread_cond_t ingest_cv;
    uint64_t handed;     /* the ticket of the newest item handed to the ingest (mu) */
    uint64_t ingested;   /* ... and applied to SQLite (mu) */
    uint64_t flush_want; /* a flush waits until ingested reaches it (mu) */
    uint64_t landed;     /* the ticket of the newest item landed in a log (mu) */
    uint64_t deleted;    /* the ticket of the newest delete queued (mu) */

    /* Shared, under mu.  pending: queued, not yet taken; the writer takes a
     * prefix (the batch: its own, not shared), commits it and sets each
     * item's status with mu released, then moves it to completed under mu;
     * poll takes completed.  An item is on exactly one of pending, the
     * batch, completed; its other fields are set before it is queued and
     * never change. */
    pthread_mutex_t mu;
    pthread_cond_t work; /* pending became non-empty, or stop */
    pthread_cond_t done; /* completed grew */
    jitem *pend_head, *pend_last; /* both NULL when empty */
    size_t pend_n;
    int writer_waiting; /* on work: a push signals only then */
    jitem *comp_head, **comp_tail;
    size_t outstanding;         /* on any of the three */
    uint64_t queued, completed; /* items ever queued / ever completed */
    uint64_t taken;             /* the ticket of the newest item taken off pending */
    int stop;
    int failed;                        /* a commit failed: refuse writes */
    char fail_msg[WEIR_ERROR_MAX / 2]; /* why, once failed */
    weir_journal_stats stats;
};

/* chain := SHA-256(prev || kind || seq || tick || time_ms || body)[0..16). */
void weir__journal_chain(EVP_MD_CTX *md, const unsigned char *prev, int kind, int64_t seq, int64_t tick,
                         int64_t time_ms, const char *body, size_t len, unsigned char *out);

/* The execution's entry, or NULL; a new entry for an id not known (NULL
 * when out of memory). */
jexec *weir__journal_exec_find(weir_journal *j, const char *id);
jexec *weir__journal_exec_add(weir_journal *j, const char *id);
/* journal_read.c: 1 when exec_id has a row in executions, 0 when not, or
 * an error. */
int weir__journal_stored(weir_journal *j, const char *exec_id, weir_error *err);
/* journal_writer.c: prepare the writer's statements; the thread's body. */
int weir__journal_writer_prepare(weir_journal *j, weir_error *err);
void *weir__journal_writer_main(void *arg);
void *weir__journal_ingest_main(void *arg);
/* Apply the frames of generation gen (a log's, after its header) to SQLite
 * in one transaction that also records gen as applied.  SQLITE_OK with
 * *items set, or an error code with msg saying what failed (rolled back). */
int weir__journal_apply(weir_journal *j, const unsigned char *frames, size_t len, uint64_t gen, size_t *items,
                        char *msg, size_t cap);
/* journal_log.c: open the logs and apply what a crash left in them (the
 * writer's connection, before the threads start); close them (applied:
 * the threads ran and are joined, so an empty log may be truncated). */
int weir__jlog_open(weir_journal *j, weir_error *err);
void weir__jlog_close(weir_journal *j, bool applied);
/* Land batch (a list) in the writer's log; *last_ticket gets its last
 * item's ticket.  SQLITE_OK, or an error code with msg saying why (the
 * log is as before). */
int weir__jlog_land(weir_journal *j, const jitem *batch, uint64_t *last_ticket, char *msg, size_t cap);
/* The frame at p (n bytes on) of generation gen into *row: its size, or 0
 * at the end (a torn frame, or one of another generation). */
size_t weir__jlog_next(const unsigned char *p, size_t n, uint64_t gen, jrow *row);
#define WAL_CHECKPOINT_PAGES 1000 /* SQLite's own default */
int weir__journal_wal_hook(void *ud, sqlite3 *db, const char *name, int pages);
void *weir__journal_checkpoint_main(void *arg);
/* journal_read.c: prepare the reader's statements. */
int weir__journal_reader_prepare(weir_journal *j, weir_error *err);
/* err := "<what> in <path>: <sqlite message>"; returns WEIR_EIO or
 * WEIR_ENOMEM (or WEIR_ESTATE for a lock held past the busy timeout). */
int weir__journal_db_error(weir_journal *j, sqlite3 *db, int rc, const char *what, weir_error *err);

#endif
