/*
 * weir_store on SQLite: the data directory, its lock, the schema and its
 * migrations, and one prepared statement per operation.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"

/* How long a statement waits for a lock held by another connection (a
 * sqlite3 shell reading the file, a checkpoint) before failing. */
#define BUSY_TIMEOUT_MS 2000

/* MIGRATIONS[v] takes a database from schema version v to v + 1.  Append
 * only: a released entry never changes. */
static const char *const MIGRATIONS[] = {
    /* 0 -> 1: graphs and registered components */
    "CREATE TABLE graphs ("
    "  seq INTEGER PRIMARY KEY,"    /* first-stored order, the tie-breaker */
    "  id TEXT NOT NULL UNIQUE,"
    "  name TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL," /* ms since the epoch */
    "  definition TEXT NOT NULL"     /* JSON */
    ");"
    "CREATE TABLE components ("
    "  seq INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE,"
    "  version TEXT,"
    "  definition TEXT NOT NULL"
    ");",
    /* 1 -> 2: the input journal (store/journal.h) */
    "CREATE TABLE executions ("
    "  seq INTEGER PRIMARY KEY,"     /* creation order, the tie-breaker */
    "  id TEXT NOT NULL UNIQUE,"
    "  graph_id TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('unfinished', 'finished')),"
    "  finished_ms INTEGER"
    ");"
    "CREATE INDEX executions_by_state ON executions (state, finished_ms);"
    "CREATE TABLE journal ("
    "  exec_id TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"        /* dense from 1 per execution */
    "  kind INTEGER NOT NULL,"       /* weir_journal_kind */
    "  tick INTEGER NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  body TEXT NOT NULL,"          /* canonical JSON */
    "  chain BLOB NOT NULL,"         /* 16 bytes of the hash chain */
    "  PRIMARY KEY (exec_id, seq)"
    ") WITHOUT ROWID;"
    "CREATE TABLE wave_digests ("
    "  exec_id TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  digest BLOB NOT NULL,"
    "  PRIMARY KEY (exec_id, seq)"
    ") WITHOUT ROWID;"
    "CREATE TABLE snapshots ("
    "  exec_id TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"        /* the record it follows */
    "  tick INTEGER NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  chain BLOB NOT NULL,"         /* that record's chain */
    "  state TEXT NOT NULL,"         /* canonical JSON */
    "  PRIMARY KEY (exec_id, seq)"
    ") WITHOUT ROWID;",
    /* 2 -> 3: a record's wave digest in its own row when it is known before
     * the record is written (one row per input); wave_digests keeps the
     * others, and those of journals written before. */
    "ALTER TABLE journal ADD COLUMN digest BLOB;",
    /* 3 -> 4: the newest generation of the journal's input logs applied
     * here (store/journal_log.c): set in the transaction that applies it,
     * so each log is applied once. */
    ("CREATE TABLE input_log (applied_gen INTEGER NOT NULL);"
     "INSERT INTO input_log (applied_gen) VALUES (0);"),
};
_Static_assert(sizeof MIGRATIONS / sizeof *MIGRATIONS == WEIR_STORE_SCHEMA_VERSION,
               "one migration per schema version");

enum { S_GRAPH_PUT, S_GRAPH_DEL, S_GRAPH_LIST, S_COMP_PUT, S_COMP_DEL, S_COMP_LIST, N_STMT };

static const char *const SQL[N_STMT] = {
    /* parenthesised: one string from several lines, not several strings (clang's -Wstring-concatenation) */
    [S_GRAPH_PUT] = ("INSERT INTO graphs (id, name, created_ms, definition) VALUES (?1, ?2, ?3, ?4) "
                     "ON CONFLICT (id) DO UPDATE SET name = excluded.name, created_ms = excluded.created_ms, "
                     "definition = excluded.definition"),
    [S_GRAPH_DEL] = "DELETE FROM graphs WHERE id = ?1",
    [S_GRAPH_LIST] = "SELECT id, name, created_ms, definition FROM graphs ORDER BY created_ms, seq",
    [S_COMP_PUT] = ("INSERT INTO components (id, version, definition) VALUES (?1, ?2, ?3) "
                    "ON CONFLICT (id) DO UPDATE SET version = excluded.version, definition = excluded.definition"),
    [S_COMP_DEL] = "DELETE FROM components WHERE id = ?1",
    [S_COMP_LIST] = "SELECT id, version, definition FROM components ORDER BY seq",
};

struct weir_store {
    sqlite3 *db;
    char *dir;  /* absolute; NULL in memory */
    char *path; /* dir/weir.db; NULL in memory */
    int lock_fd;
    sqlite3_stmt *stmt[N_STMT];
};

/* ------------------------------------------------------------ messages */

/* What to do about a failed SQLite call, by its primary result code. */
static const char *advice(int code) {
    switch (code & 0xff) {
    case SQLITE_FULL: return "free space on its file system or move DATA_DIR";
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return "make DATA_DIR and the files in it writable by this user, set DATA_DIR (--data-dir) to another "
               "directory, or use --memory";
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return "it is not a weir database or it is damaged: move it away (weir starts a new one) or set DATA_DIR "
               "(--data-dir) to another directory";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return "another process holds a lock on it (a sqlite3 shell?): close it and retry";
    default: return "check the disk and the files in DATA_DIR";
    }
}

static int code_of(int sqlite_code) {
    switch (sqlite_code & 0xff) {
    case SQLITE_NOMEM: return WEIR_ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return WEIR_ESTATE;
    default: return WEIR_EIO;
    }
}

/* err := "<what> in <path>: <sqlite message>; <advice>". */
static int db_error(weir_store *st, int rc, const char *what, weir_error *err) {
    int code = code_of(rc);
    if (code == WEIR_ENOMEM) return weir__error(err, code, "out of memory (SQLite, %s)", what);
    return weir__error(err, code, "%s in %s: %s; %s", what, st->path ? st->path : "the in-memory store",
                       st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc), advice(rc));
}

/* err := "DATA_DIR <dir> is not writable: <how> (<errno text>); <advice>". */
static int dir_error(const char *dir, const char *how, int e, weir_error *err) {
    if (e == ENOMEM) return weir__error(err, WEIR_ENOMEM, "out of memory");
    return weir__error(err, WEIR_EIO,
                       "DATA_DIR %s is not writable: %s (%s); make it a directory this user can write, set DATA_DIR "
                       "(--data-dir) to another one, or use --memory to keep everything in memory",
                       dir, how, strerror(e));
}

/* ----------------------------------------------------------- directory */

/* mkdir -p.  0, an errno, or -1 when dir exists and is not a directory. */
static int make_dirs(const char *dir) {
    char *p = weir__strdup(dir);
    if (!p) return ENOMEM;
    int e = 0;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) e = errno;
        *s = c;
        if (e || c == '\0') break;
    }
    weir__free(p);
    if (e) return e;
    struct stat sb;
    if (stat(dir, &sb) != 0) return errno;
    return S_ISDIR(sb.st_mode) ? 0 : -1;
}

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = weir__malloc(a + 1 + b + 1);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

/* Create the directory, check it can be written, take its lock. */
static int claim_dir(weir_store *st, const char *dir, weir_error *err) {
    int e = make_dirs(dir);
    if (e) return dir_error(dir, e < 0 ? "it is not a directory" : "it cannot be created", e < 0 ? ENOTDIR : e, err);
    char abs[PATH_MAX];
    if (!realpath(dir, abs)) return dir_error(dir, "its path cannot be resolved", errno, err);
    if (!(st->dir = weir__strdup(abs)) || !(st->path = join(abs, "weir.db")))
        return weir__error(err, WEIR_ENOMEM, "out of memory");
    char *lock = join(abs, "weir.lock");
    if (!lock) return weir__error(err, WEIR_ENOMEM, "out of memory");
    st->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    e = errno;
    weir__free(lock);
    if (st->lock_fd < 0) return dir_error(abs, "weir.lock cannot be created in it", e, err);
    if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        e = errno;
        if (e != EWOULDBLOCK) return dir_error(abs, "weir.lock cannot be locked", e, err);
        char pid[32] = "";
        ssize_t n = pread(st->lock_fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        return weir__error(err, WEIR_ESTATE,
                           "DATA_DIR %s is in use by another weir (pid %s): stop it, or give this one another "
                           "DATA_DIR (--data-dir) or --memory",
                           abs, pid[0] ? pid : "unknown");
    }
    char line[32];
    int len = snprintf(line, sizeof line, "%ld\n", (long)getpid());
    if (ftruncate(st->lock_fd, 0) != 0 || pwrite(st->lock_fd, line, (size_t)len, 0) != len)
        return dir_error(abs, "weir.lock cannot be written", errno, err);
    return 0;
}

/* ---------------------------------------------------------------- schema */

static int exec(weir_store *st, const char *sql, const char *what, weir_error *err) {
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : db_error(st, rc, what, err);
}

static int pragma_int(weir_store *st, const char *sql, int *out, weir_error *err) {
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &q, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int(q, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(q);
    return rc == SQLITE_OK ? 0 : db_error(st, rc, "cannot read the schema version", err);
}

/* Bring the schema to WEIR_STORE_SCHEMA_VERSION in one transaction. */
static int migrate(weir_store *st, weir_error *err) {
    int rc = exec(st, "BEGIN IMMEDIATE", "cannot open the database", err);
    if (rc) return rc;
    int version = 0;
    rc = pragma_int(st, "PRAGMA user_version", &version, err);
    if (!rc && version > WEIR_STORE_SCHEMA_VERSION)
        rc = weir__error(err, WEIR_EINVAL,
                         "%s has schema version %d, newer than this weir understands (%d): it was written by a "
                         "newer weir; run that weir, or set DATA_DIR (--data-dir) to another directory",
                         st->path ? st->path : "the store", version, WEIR_STORE_SCHEMA_VERSION);
    for (int v = version; !rc && v < WEIR_STORE_SCHEMA_VERSION; v++) {
        char what[64];
        snprintf(what, sizeof what, "cannot migrate the schema to version %d", v + 1);
        rc = exec(st, MIGRATIONS[v], what, err);
    }
    if (!rc && version < WEIR_STORE_SCHEMA_VERSION) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", WEIR_STORE_SCHEMA_VERSION);
        rc = exec(st, sql, "cannot record the schema version", err);
    }
    if (!rc) return exec(st, "COMMIT", "cannot commit the schema", err);
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int configure(weir_store *st, weir_error *err) {
    sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
    if (st->path) {
        /* WAL: readers never block the writer; one fsync per commit
         * (synchronous=FULL) makes each acknowledged put survive a crash of
         * the machine, not only of the process. */
        sqlite3_stmt *q;
        int rc = sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &q, NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
            const char *mode = (const char *)sqlite3_column_text(q, 0);
            rc = mode && strcmp(mode, "wal") == 0 ? SQLITE_OK : SQLITE_CANTOPEN;
        }
        sqlite3_finalize(q);
        if (rc != SQLITE_OK) return db_error(st, rc, "cannot open the database", err);
        if (sqlite3_db_readonly(st->db, "main") == 1)
            return weir__error(err, WEIR_EIO, "DATA_DIR %s is not writable: %s is read-only; %s", st->dir, st->path,
                               advice(SQLITE_READONLY));
        rc = exec(st, "PRAGMA synchronous = FULL", "cannot set synchronous", err);
        if (rc) return rc;
    }
    int rc = migrate(st, err);
    for (int i = 0; !rc && i < N_STMT; i++) {
        int src = sqlite3_prepare_v3(st->db, SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i], NULL);
        if (src != SQLITE_OK) rc = db_error(st, src, "cannot prepare a statement", err);
    }
    return rc;
}

/* ------------------------------------------------------------- lifecycle */

int weir_store_open(const char *dir, weir_store **out, weir_error *err) {
    *out = NULL;
    weir_store *st = weir__calloc(1, sizeof *st);
    if (!st) return weir__error(err, WEIR_ENOMEM, "out of memory");
    st->lock_fd = -1;
    int rc = dir ? claim_dir(st, dir, err) : 0;
    if (!rc) {
        int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
        int src = sqlite3_open_v2(dir ? st->path : ":memory:", &st->db, flags, NULL);
        if (src == SQLITE_OK) sqlite3_extended_result_codes(st->db, 1);
        rc = src == SQLITE_OK ? configure(st, err) : db_error(st, src, "cannot open the database", err);
    }
    if (rc) {
        weir_store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

void weir_store_close(weir_store *st) {
    if (!st) return;
    for (int i = 0; i < N_STMT; i++) sqlite3_finalize(st->stmt[i]);
    sqlite3_close(st->db); /* the last connection: checkpoints and removes the WAL */
    if (st->lock_fd >= 0) close(st->lock_fd);
    weir__free(st->dir);
    weir__free(st->path);
    weir__free(st);
}

const char *weir_store_path(const weir_store *st) { return st->path; }

void weir_store_autocheckpoint(weir_store *st, int on) { sqlite3_wal_autocheckpoint(st->db, on ? 1000 : 0); }

/* ------------------------------------------------------------ operations */

/* Step a write statement to its end and reset it (bindings cleared). */
static int run_write(weir_store *st, sqlite3_stmt *q, int bind_rc, const char *what, weir_error *err) {
    int rc = bind_rc == SQLITE_OK ? sqlite3_step(q) : bind_rc;
    int out = rc == SQLITE_DONE ? 0 : db_error(st, rc, what, err);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return out;
}

static int bind_text(sqlite3_stmt *q, int i, const char *s) {
    return s ? sqlite3_bind_text(q, i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(q, i);
}

int weir_store_graph_put(weir_store *st, const char *id, const char *name, int64_t created_ms, const char *definition,
                         weir_error *err) {
    sqlite3_stmt *q = st->stmt[S_GRAPH_PUT];
    int rc = bind_text(q, 1, id);
    if (rc == SQLITE_OK) rc = bind_text(q, 2, name);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 3, created_ms);
    if (rc == SQLITE_OK) rc = bind_text(q, 4, definition);
    char what[96];
    snprintf(what, sizeof what, "cannot store graph %.40s", id);
    return run_write(st, q, rc, what, err);
}

int weir_store_graph_delete(weir_store *st, const char *id, weir_error *err) {
    sqlite3_stmt *q = st->stmt[S_GRAPH_DEL];
    char what[96];
    snprintf(what, sizeof what, "cannot delete graph %.40s", id);
    return run_write(st, q, bind_text(q, 1, id), what, err);
}

int weir_store_component_put(weir_store *st, const char *id, const char *version, const char *definition,
                             weir_error *err) {
    sqlite3_stmt *q = st->stmt[S_COMP_PUT];
    int rc = bind_text(q, 1, id);
    if (rc == SQLITE_OK) rc = bind_text(q, 2, version);
    if (rc == SQLITE_OK) rc = bind_text(q, 3, definition);
    char what[160];
    snprintf(what, sizeof what, "cannot store component %.100s", id);
    return run_write(st, q, rc, what, err);
}

int weir_store_component_delete(weir_store *st, const char *id, weir_error *err) {
    sqlite3_stmt *q = st->stmt[S_COMP_DEL];
    char what[160];
    snprintf(what, sizeof what, "cannot delete component %.100s", id);
    return run_write(st, q, bind_text(q, 1, id), what, err);
}

static const char *text(sqlite3_stmt *q, int col) { return (const char *)sqlite3_column_text(q, col); }

int weir_store_graph_list(weir_store *st, weir_store_graph_fn fn, void *ud, weir_error *err) {
    sqlite3_stmt *q = st->stmt[S_GRAPH_LIST];
    int rc, out = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *id = text(q, 0), *name = text(q, 1), *def = text(q, 3);
        if (!id || !name || !def) { /* NOT NULL columns: only out of memory makes them NULL */
            rc = SQLITE_NOMEM;
            break;
        }
        if ((out = fn(ud, id, name, sqlite3_column_int64(q, 2), def))) break;
    }
    if (!out && rc != SQLITE_DONE) out = db_error(st, rc, "cannot read the stored graphs", err);
    sqlite3_reset(q);
    return out;
}

int weir_store_component_list(weir_store *st, weir_store_component_fn fn, void *ud, weir_error *err) {
    sqlite3_stmt *q = st->stmt[S_COMP_LIST];
    int rc, out = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *id = text(q, 0), *def = text(q, 2);
        if (!id || !def) {
            rc = SQLITE_NOMEM;
            break;
        }
        if ((out = fn(ud, id, text(q, 1), def))) break;
    }
    if (!out && rc != SQLITE_DONE) out = db_error(st, rc, "cannot read the stored components", err);
    sqlite3_reset(q);
    return out;
}
