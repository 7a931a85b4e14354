/*
 * The journal's input logs (journal_int.h, "Input logs"): two append-only
 * files beside the database, DIR/weir.db-inputs0 and -inputs1, that make a
 * batch durable with one write (and one fsync) and no SQLite work.  What
 * they hold is applied to SQLite later, in large transactions, by the
 * ingest thread (journal_writer.c), and at open for whatever a crash left.
 *
 * A log is a 32-byte header, then frames:
 *   header  "WEIRINP1" | gen u64 | sum u64 (of the 16 bytes before) | 0 u64
 *   frame   len u32 | 0 u32 | sum u64 (of gen and the payload) | payload
 *   payload op u8 | dig_len u8 | 0 u16 | kind u32 | id_len u32 |
 *           graph_len u32 | text_len u32 | 0 u32 | seq i64 | tick i64 |
 *           time_ms i64 | created_ms i64 | chain [16] |
 *           id | graph id | digest | text
 * Integers little-endian.  A log is rewritten from its start each time it
 * becomes the writer's again, under a new generation (gen), and the frames
 * it holds are those, from the header on, whose sum matches the header's
 * gen: a torn frame, or one left from an older generation, ends it.  The
 * store's input_log.applied_gen, set in the transaction that applies a
 * log, says which generations SQLite already holds: each log is applied
 * once, in generation order.
 *
 * File I/O goes through the SQLite VFS the writer's connection uses, so
 * a test VFS sees (and can fail) the logs' writes and syncs as it does
 * the WAL's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "store/journal_int.h"

#define HEADER 32
#define FRAME_HEAD 16
#define PAYLOAD_FIXED 72
static const char MAGIC[8] = {'W', 'E', 'I', 'R', 'I', 'N', 'P', '1'};

static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++, v >>= 8) p[i] = (unsigned char)(v & 0xff);
}
static void put64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++, v >>= 8) p[i] = (unsigned char)(v & 0xff);
}
static uint32_t get32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const unsigned char *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

/* A 64-bit check sum: a torn or stale frame is told from a whole one (not
 * a defence against tampering: the records' hash chain is). */
static uint64_t sum(uint64_t seed, const unsigned char *p, size_t n) {
    const uint64_t k = 0x9e3779b97f4a7c15ULL;
    uint64_t h = seed * k ^ (uint64_t)n;
    for (; n >= 8; p += 8, n -= 8) {
        h = (h ^ get64(p)) * k;
        h ^= h >> 31;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++) w |= (uint64_t)p[i] << (8 * i);
    h = (h ^ w) * k;
    h ^= h >> 29;
    h *= k;
    return h ^ h >> 32;
}

static void header(unsigned char *p, uint64_t gen) {
    memcpy(p, MAGIC, 8);
    put64(p + 8, gen);
    put64(p + 16, sum(0, p, 16));
    put64(p + 24, 0);
}

/* ------------------------------------------------------------- buffers */

static int reserve(jlog *l, size_t more) {
    if (l->len + more <= l->cap) return 0;
    size_t cap = l->cap ? l->cap : 64 * 1024;
    while (cap < l->len + more) {
        if (cap > SIZE_MAX / 2) return -1;
        cap *= 2;
    }
    unsigned char *b = realloc(l->buf, cap); /* the writer's own memory: not weir's allocator */
    if (!b) return -1;
    l->buf = b;
    l->cap = cap;
    return 0;
}

/* Append it as a frame of l's generation.  0, or -1 out of memory. */
static int put_frame(jlog *l, const jitem *it) {
    size_t idn = strlen(it->id), gn = it->graph_id ? strlen(it->graph_id) : 0;
    size_t textn = it->op == OP_FINISH || it->op == OP_DELETE ? 0 : it->len;
    size_t dign = it->op == OP_START || it->op == OP_RECORD ? it->dig_len : 0;
    size_t n = PAYLOAD_FIXED + idn + gn + dign + textn;
    if (n > UINT32_MAX || reserve(l, FRAME_HEAD + n)) return -1;
    unsigned char *f = l->buf + l->len, *p = f + FRAME_HEAD;
    memset(p, 0, PAYLOAD_FIXED);
    p[0] = (unsigned char)it->op;
    p[1] = (unsigned char)dign;
    put32(p + 4, (uint32_t)it->kind);
    put32(p + 8, (uint32_t)idn);
    put32(p + 12, (uint32_t)gn);
    put32(p + 16, (uint32_t)textn);
    put64(p + 24, (uint64_t)it->seq);
    put64(p + 32, (uint64_t)it->tick);
    put64(p + 40, (uint64_t)it->time_ms);
    put64(p + 48, (uint64_t)it->created_ms);
    memcpy(p + 56, it->chain, WEIR_JOURNAL_CHAIN);
    unsigned char *q = p + PAYLOAD_FIXED;
    memcpy(q, it->id, idn);
    if (gn) memcpy(q + idn, it->graph_id, gn);
    if (dign) memcpy(q + idn + gn, it->dig, dign);
    if (textn) memcpy(q + idn + gn + dign, it->text, textn);
    put32(f, (uint32_t)n);
    put32(f + 4, 0);
    put64(f + 8, sum(l->gen, p, n));
    l->len += FRAME_HEAD + n;
    return 0;
}

size_t weir__jlog_next(const unsigned char *p, size_t n, uint64_t gen, jrow *row) {
    if (n < FRAME_HEAD + PAYLOAD_FIXED) return 0;
    size_t len = get32(p);
    if (len < PAYLOAD_FIXED || len > n - FRAME_HEAD || get32(p + 4) != 0) return 0;
    const unsigned char *q = p + FRAME_HEAD;
    if (get64(p + 8) != sum(gen, q, len)) return 0;
    size_t idn = get32(q + 8), gn = get32(q + 12), textn = get32(q + 16), dign = q[1];
    if (idn + gn + textn + dign != len - PAYLOAD_FIXED || q[0] > OP_DELETE || !idn) return 0;
    const char *d = (const char *)q + PAYLOAD_FIXED;
    *row = (jrow){
        .op = q[0],
        .kind = (int)get32(q + 4),
        .seq = (int64_t)get64(q + 24),
        .tick = (int64_t)get64(q + 32),
        .time_ms = (int64_t)get64(q + 40),
        .created_ms = (int64_t)get64(q + 48),
        .chain = q + 56,
        .id = d,
        .id_len = idn,
        .graph_id = gn ? d + idn : NULL,
        .graph_len = gn,
        .dig = dign ? (const unsigned char *)d + idn + gn : NULL,
        .dig_len = dign,
        .text = d + idn + gn + dign,
        .len = textn,
    };
    return FRAME_HEAD + len;
}

/* ---------------------------------------------------------------- files */

static int io_error(weir_journal *j, const jlog *l, int rc, const char *what, char *msg, size_t cap) {
    snprintf(msg, cap, "cannot %s the journal's input log %s: %s (SQLite code %d); check the disk and DATA_DIR", what,
             l->path, sqlite3_errstr(rc), rc);
    (void)j;
    return rc;
}

/* SQLite's VFS methods move at most 128 KiB per call (the unix one masks
 * the amount to 17 bits): bigger amounts go in pieces. */
#define IO_PIECE (64 * 1024)

static int write_at(sqlite3_file *f, const unsigned char *p, size_t n, size_t off) {
    int rc = SQLITE_OK;
    for (size_t k; rc == SQLITE_OK && n; p += k, n -= k, off += k) {
        k = n < IO_PIECE ? n : IO_PIECE;
        rc = f->pMethods->xWrite(f, p, (int)k, (sqlite3_int64)off);
    }
    return rc;
}

static int read_at(sqlite3_file *f, unsigned char *p, size_t n, size_t off) {
    int rc = SQLITE_OK;
    for (size_t k; rc == SQLITE_OK && n; p += k, n -= k, off += k) {
        k = n < IO_PIECE ? n : IO_PIECE;
        rc = f->pMethods->xRead(f, p, (int)k, (sqlite3_int64)off);
    }
    return rc;
}

/* Begin generation gen in l: the header alone, written with its first
 * frames. */
static int start_gen(jlog *l, uint64_t gen) {
    l->gen = gen;
    l->len = l->written = 0;
    l->items = 0;
    if (reserve(l, HEADER)) return -1;
    header(l->buf, gen);
    l->len = HEADER;
    return 0;
}

int weir__jlog_land(weir_journal *j, const jitem *batch, uint64_t *last_ticket, char *msg, size_t cap) {
    jlog *l = &j->logs[j->active];
    if (!l->len && start_gen(l, ++j->gen)) {
        snprintf(msg, cap, "out of memory (the journal's input log)");
        return SQLITE_NOMEM;
    }
    size_t mark = l->len, items = 0;
    for (const jitem *it = batch; it; it = it->next, items++) {
        if (put_frame(l, it)) {
            l->len = mark;
            snprintf(msg, cap, "out of memory (the journal's input log)");
            return SQLITE_NOMEM;
        }
        *last_ticket = it->ticket;
    }
    int rc = write_at(l->f, l->buf + l->written, l->len - l->written, l->written);
    if (rc == SQLITE_OK && j->cfg.durability == WEIR_DURABILITY_FSYNC)
        rc = l->f->pMethods->xSync(l->f, SQLITE_SYNC_NORMAL | SQLITE_SYNC_DATAONLY);
    if (rc != SQLITE_OK) {
        l->len = mark; /* those frames are not the log's: the journal is refused from here on */
        return io_error(j, l, rc, "write", msg, cap);
    }
    l->written = l->len;
    l->items += items;
    return SQLITE_OK;
}

static int open_log(weir_journal *j, jlog *l, int which, weir_error *err) {
    size_t n = strlen(j->path) + 16;
    l->path = malloc(n);
    l->f = calloc(1, (size_t)j->vfs->szOsFile);
    if (!l->path || !l->f) return weir__error(err, WEIR_ENOMEM, "out of memory");
    snprintf(l->path, n, "%s-inputs%d", j->path, which);
    int out = 0;
    int rc = j->vfs->xOpen(j->vfs, l->path, l->f,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MAIN_JOURNAL, &out);
    if (rc != SQLITE_OK) {
        free(l->f); /* xOpen failed: nothing to close */
        l->f = NULL;
        return weir__error(err, rc == SQLITE_NOMEM ? WEIR_ENOMEM : WEIR_EIO,
                           "cannot open the journal's input log %s: %s; check DATA_DIR's permissions and free space",
                           l->path, sqlite3_errstr(rc));
    }
    return 0;
}

/* Read l whole into its buffer; its generation when its header holds
 * (0 when empty or not a log of this format). */
static int read_log(weir_journal *j, jlog *l, weir_error *err) {
    sqlite3_int64 size = 0;
    int rc = l->f->pMethods->xFileSize(l->f, &size);
    if (rc != SQLITE_OK)
        return weir__error(err, WEIR_EIO, "cannot read the journal's input log %s: %s", l->path, sqlite3_errstr(rc));
    l->gen = 0;
    l->len = 0;
    if (size < HEADER) return 0;
    if ((uint64_t)size > SIZE_MAX / 2 || size > INT32_MAX || reserve(l, (size_t)size))
        return weir__error(err, WEIR_ENOMEM, "out of memory reading the journal's input log %s (%lld bytes)", l->path,
                           (long long)size);
    rc = read_at(l->f, l->buf, (size_t)size, 0);
    if (rc != SQLITE_OK)
        return weir__error(err, WEIR_EIO, "cannot read the journal's input log %s: %s", l->path, sqlite3_errstr(rc));
    l->len = (size_t)size;
    if (memcmp(l->buf, MAGIC, 8) != 0 || get64(l->buf + 16) != sum(0, l->buf, 16)) {
        /* A header torn by a crash of the machine before anything after
         * it was synced (so nothing in it was acknowledged), or not ours. */
        l->len = 0;
        return 0;
    }
    l->gen = get64(l->buf + 8);
    if (l->gen > UINT64_MAX / 2) l->gen = 0, l->len = 0; /* no weir got there: not a log it wrote */
    return 0;
}

static int applied_gen(weir_journal *j, uint64_t *out, weir_error *err) {
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(j->wdb, "SELECT applied_gen FROM input_log", -1, &q, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) *out = (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return rc == SQLITE_ROW ? 0 : weir__journal_db_error(j, j->wdb, rc, "cannot read input_log", err);
}

int weir__jlog_open(weir_journal *j, weir_error *err) {
    j->vfs = sqlite3_vfs_find(j->cfg.vfs);
    if (!j->vfs) return weir__error(err, WEIR_EINVAL, "no SQLite VFS named %s", j->cfg.vfs ? j->cfg.vfs : "(default)");
    uint64_t done = 0;
    int rc = applied_gen(j, &done, err);
    for (int i = 0; !rc && i < 2; i++) rc = open_log(j, &j->logs[i], i, err);
    for (int i = 0; !rc && i < 2; i++) rc = read_log(j, &j->logs[i], err);
    if (rc) return rc;
    /* What a crash left: the generations SQLite does not hold yet, oldest
     * first. */
    jlog *order[2] = {&j->logs[0], &j->logs[1]};
    if (order[0]->gen > order[1]->gen) order[0] = &j->logs[1], order[1] = &j->logs[0];
    j->gen = done;
    for (int i = 0; i < 2; i++) {
        jlog *l = order[i];
        if (l->gen > j->gen) j->gen = l->gen;
        if (l->gen <= done) continue;
        char msg[WEIR_ERROR_MAX / 2];
        size_t items = 0;
        rc = weir__journal_apply(j, l->buf + HEADER, l->len - HEADER, l->gen, &items, msg, sizeof msg);
        if (rc != SQLITE_OK) return weir__error(err, rc == SQLITE_NOMEM ? WEIR_ENOMEM : WEIR_EIO, "%s", msg);
        j->stats.recovered += items;
        done = l->gen;
    }
    for (int i = 0; i < 2; i++) {
        j->logs[i].len = j->logs[i].written = 0;
        j->logs[i].gen = 0;
        j->logs[i].state = i == 0 ? JLOG_ACTIVE : JLOG_FREE;
    }
    j->active = 0;
    return 0;
}

void weir__jlog_close(weir_journal *j, bool applied) {
    for (int i = 0; i < 2; i++) {
        jlog *l = &j->logs[i];
        if (l->f) {
            /* Everything in it is in SQLite: a journal closed cleanly
             * leaves its logs empty. */
            if (applied && l->state != JLOG_INGEST && !l->items && l->f->pMethods)
                l->f->pMethods->xTruncate(l->f, 0);
            if (l->f->pMethods) l->f->pMethods->xClose(l->f);
            free(l->f);
        }
        free(l->path);
        free(l->buf);
        memset(l, 0, sizeof *l);
    }
}
