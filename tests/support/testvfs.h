/* The test VFS (testvfs.c): knobs shared with the test, all atomic. */
#ifndef WEIR_TEST_TESTVFS_H
#define WEIR_TEST_TESTVFS_H
#include <sqlite3.h>
#include <stdatomic.h>

#define TESTVFS_NAME "weirtest"
/* nonzero: fail the WAL's fsyncs / writes */
extern atomic_int testvfs_fail_sync, testvfs_fail_write;
/* nonzero: fail writes to SQLite's own WAL only (not the input logs):
 * the journal's ingest fails while its landing works */
extern atomic_int testvfs_fail_sqlite_wal_write;
/* nonzero: hold the next WAL write (testvfs_holding is set while held) */
extern atomic_int testvfs_hold, testvfs_holding;
/* counted: WAL fsyncs, database file writes */
extern atomic_int testvfs_wal_syncs, testvfs_db_writes;
/* Register the VFS (once) and clear every knob and count. */
void testvfs_reset(void);

#endif
