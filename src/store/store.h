/*
 * The store (SPEC §7, first slice): graphs and registered components kept
 * in an embedded SQLite database, so they survive a restart.  The input
 * journal of executions (store/journal.h) lives in the same database; this
 * module creates and migrates its tables.
 *
 * One database per data directory, DIR/weir.db, in WAL mode; DIR/weir.lock
 * holds an exclusive lock (flock) for as long as the store is open, so two
 * weir processes never share a directory.  Every put and delete is its own
 * transaction and is durable when the call returns 0 (synchronous=FULL: it
 * survives a crash of the process and of the machine).
 *
 * A store is used from one thread at a time.  Calls block on disk I/O; on
 * the service's loop they are one small transaction each.
 */
#ifndef WEIR_STORE_STORE_H
#define WEIR_STORE_STORE_H
#include <stdint.h>

#include "weir/weir.h"

typedef struct weir_store weir_store;

/* The schema version this build writes (PRAGMA user_version). */
#define WEIR_STORE_SCHEMA_VERSION 4

/* Open (creating what is missing) the store in directory `dir` (BORROWED;
 * created with its parents if absent), or an in-memory store when dir is
 * NULL.  An older schema is migrated; a newer one is refused.
 * Errors (err says the path and what to do):
 *   WEIR_EIO      the directory cannot be created or written, the database
 *                 cannot be read or is not a SQLite database;
 *   WEIR_ESTATE   another process holds the directory (another weir) or the
 *                 database stays locked past the busy timeout;
 *   WEIR_EINVAL   the database was written by a newer weir (schema version);
 *   WEIR_ENOMEM.
 * On failure *out is NULL and nothing stays open. */
int weir_store_open(const char *dir, weir_store **out, weir_error *err);
/* Close; NULL is a no-op.  Releases the directory's lock. */
void weir_store_close(weir_store *st);
/* The database file's absolute path, or NULL in memory.  Owned by st. */
const char *weir_store_path(const weir_store *st);

/* Whether this store's connection checkpoints the WAL when it grows past
 * 1000 pages (on, the default).  The journal turns it off while it is open
 * so that checkpoints run on its writer thread, never on the loop. */
void weir_store_autocheckpoint(weir_store *st, int on);

/* ---------------------------------------------------------------- graphs */

/* Store a graph, replacing one with the same id (which keeps its place in
 * the creation order).  Strings BORROWED; definition is JSON text.
 * WEIR_EIO (disk full, I/O error: err says which and where),
 * WEIR_ESTATE (locked past the busy timeout), WEIR_ENOMEM. */
int weir_store_graph_put(weir_store *st, const char *id, const char *name, int64_t created_ms, const char *definition,
                         weir_error *err);
/* Delete a graph.  An id that is not stored is not an error. */
int weir_store_graph_delete(weir_store *st, const char *id, weir_error *err);

/* One stored graph; the strings are valid only during the call. */
typedef int (*weir_store_graph_fn)(void *ud, const char *id, const char *name, int64_t created_ms,
                                   const char *definition);
/* Call fn for every stored graph, oldest created_ms first (ties: the order
 * they were first stored).  fn returns 0 to go on; any other value stops the
 * listing and is returned.  fn must not call the store. */
int weir_store_graph_list(weir_store *st, weir_store_graph_fn fn, void *ud, weir_error *err);

/* ------------------------------------------------------------ components */

/* Store a registered component definition (JSON text), replacing one with
 * the same id (keeping its place in the registration order).  version may
 * be NULL.  Errors as weir_store_graph_put. */
int weir_store_component_put(weir_store *st, const char *id, const char *version, const char *definition,
                             weir_error *err);
/* Delete a component.  An id that is not stored is not an error. */
int weir_store_component_delete(weir_store *st, const char *id, weir_error *err);

/* version is NULL when none was stored.  Strings valid only during the call. */
typedef int (*weir_store_component_fn)(void *ud, const char *id, const char *version, const char *definition);
/* Call fn for every stored component in registration order; as
 * weir_store_graph_list otherwise. */
int weir_store_component_list(weir_store *st, weir_store_component_fn fn, void *ud, weir_error *err);

#endif
