/* SQL on a database file straight from a test (a server or journal that is
 * down, or another process holding it): every step asserted. */
#ifndef WEIR_TEST_SQLQ_H
#define WEIR_TEST_SQLQ_H

/* The first column of the first row of `query` on the database at path. */
long long sqlq_int(const char *path, const char *query);
/* Run `statements` on it; the rows the last one changed. */
int sqlq_exec(const char *path, const char *statements);
/* DIR/weir.db, the database of a data directory, in buf. */
const char *sqlq_db_of(char *buf, size_t size, const char *dir);

#endif
