/* A SQLite VFS shim for tests ("weirtest"): it counts the WAL's fsyncs and
 * the database file's writes (checkpoints), fails WAL writes or fsyncs on
 * demand, and can hold a WAL write until let go.  The journal's input logs
 * (opened as SQLITE_OPEN_MAIN_JOURNAL: a database in WAL mode has no
 * rollback journal) count as the WAL: they are where a batch is made
 * durable.  Give its name as a
 * journal's (or the service's) VFS. */
#include "testvfs.h"

#include <unistd.h>

typedef struct tfile {
    sqlite3_file base;
    sqlite3_file *real; /* follows this struct */
    int wal, sqlite_wal;
} tfile;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs tvfs;
atomic_int testvfs_fail_sqlite_wal_write;
atomic_int testvfs_fail_sync, testvfs_fail_write, testvfs_hold, testvfs_holding, testvfs_wal_syncs,
    testvfs_db_writes;

#define REAL(f) (((tfile *)(f))->real)
static int t_close(sqlite3_file *f) { return REAL(f)->pMethods->xClose(REAL(f)); }
static int t_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o) { return REAL(f)->pMethods->xRead(REAL(f), b, n, o); }
static int t_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o) {
    if (((tfile *)f)->wal) {
        if (atomic_load(&testvfs_hold)) {
            atomic_store(&testvfs_holding, 1);
            while (atomic_load(&testvfs_hold)) usleep(100); /* until the test lets go */
            atomic_store(&testvfs_holding, 0);
        }
        if (atomic_load(&testvfs_fail_write)) return SQLITE_IOERR_WRITE;
        if (((tfile *)f)->sqlite_wal && atomic_load(&testvfs_fail_sqlite_wal_write)) return SQLITE_IOERR_WRITE;
    } else {
        atomic_fetch_add(&testvfs_db_writes, 1); /* the database file: a checkpoint */
    }
    return REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int t_truncate(sqlite3_file *f, sqlite3_int64 size) { return REAL(f)->pMethods->xTruncate(REAL(f), size); }
static int t_sync(sqlite3_file *f, int flags) {
    if (((tfile *)f)->wal) {
        atomic_fetch_add(&testvfs_wal_syncs, 1);
        if (atomic_load(&testvfs_fail_sync)) return SQLITE_IOERR_FSYNC;
    }
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int t_size(sqlite3_file *f, sqlite3_int64 *s) { return REAL(f)->pMethods->xFileSize(REAL(f), s); }
static int t_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int t_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int t_reserved(sqlite3_file *f, int *r) { return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r); }
static int t_fctl(sqlite3_file *f, int op, void *a) { return REAL(f)->pMethods->xFileControl(REAL(f), op, a); }
static int t_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int t_devchar(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int t_shmmap(sqlite3_file *f, int i, int sz, int ext, void volatile **p) {
    return REAL(f)->pMethods->xShmMap(REAL(f), i, sz, ext, p);
}
static int t_shmlock(sqlite3_file *f, int off, int n, int fl) { return REAL(f)->pMethods->xShmLock(REAL(f), off, n, fl); }
static void t_shmbarrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int t_shmunmap(sqlite3_file *f, int del) { return REAL(f)->pMethods->xShmUnmap(REAL(f), del); }
static int t_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **p) { return REAL(f)->pMethods->xFetch(REAL(f), o, n, p); }
static int t_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p) { return REAL(f)->pMethods->xUnfetch(REAL(f), o, p); }

static const sqlite3_io_methods tio = {3, t_close, t_read, t_write, t_truncate, t_sync, t_size, t_lock, t_unlock,
                                       t_reserved, t_fctl, t_sector, t_devchar, t_shmmap, t_shmlock, t_shmbarrier,
                                       t_shmunmap, t_fetch, t_unfetch};

static int t_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out_flags) {
    tfile *t = (tfile *)f;
    t->real = (sqlite3_file *)(t + 1);
    t->wal = (flags & (SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL)) != 0;
    t->sqlite_wal = (flags & SQLITE_OPEN_WAL) != 0;
    int rc = real_vfs->xOpen(real_vfs, name, t->real, flags, out_flags);
    t->base.pMethods = t->real->pMethods ? &tio : NULL;
    return rc;
}

void testvfs_reset(void) {
    if (!real_vfs) {
        real_vfs = sqlite3_vfs_find(NULL);
        tvfs = *real_vfs;
        tvfs.szOsFile = (int)sizeof(tfile) + real_vfs->szOsFile;
        tvfs.zName = "weirtest";
        tvfs.pNext = NULL;
        tvfs.xOpen = t_open;
        sqlite3_vfs_register(&tvfs, 0);
    }
    atomic_store(&testvfs_fail_sync, 0);
    atomic_store(&testvfs_fail_write, 0);
    atomic_store(&testvfs_fail_sqlite_wal_write, 0);
    atomic_store(&testvfs_hold, 0);
    atomic_store(&testvfs_wal_syncs, 0);
    atomic_store(&testvfs_db_writes, 0);
}

