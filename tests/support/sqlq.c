#include <stddef.h>
#include <stdio.h>

#include <criterion/criterion.h>
#include <sqlite3.h>

#include "sqlq.h"

long long sqlq_int(const char *path, const char *query) {
    sqlite3 *db;
    sqlite3_stmt *q;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK, "%s", path);
    cr_assert_eq(sqlite3_prepare_v2(db, query, -1, &q, NULL), SQLITE_OK, "%s: %s", query, sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW, "%s", query);
    long long v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

int sqlq_exec(const char *path, const char *statements) {
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK, "%s", path);
    char *msg = NULL;
    cr_assert_eq(sqlite3_exec(db, statements, NULL, NULL, &msg), SQLITE_OK, "%s: %s", statements, msg ? msg : "");
    int changed = sqlite3_changes(db);
    sqlite3_close(db);
    return changed;
}

const char *sqlq_db_of(char *buf, size_t size, const char *dir) {
    snprintf(buf, size, "%s/weir.db", dir);
    return buf;
}
