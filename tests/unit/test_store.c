/* The store (SPEC §7): graphs and components put, listed in order, replaced
 * in place, deleted; kept across a reopen; WAL and the schema version on
 * disk; a newer schema, a directory that cannot be written, a directory in
 * use and a file that is not a database refused with a message that says
 * what to do; allocation failures clean. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sqlq.h"
#include "proc.h"
#include "failalloc.h"
#include "serve.h"
#include "store/store.h"

static char dir[64];

static void make_dir(void) {
    proc_tempdir(dir, sizeof dir, "store");
}

static void drop_dir(void) {
    if (dir[0]) {
        chmod(dir, 0700);
        serve_rmdir(dir);
    }
    dir[0] = '\0';
}

TestSuite(store, .init = make_dir, .fini = drop_dir);

/* What a listing saw, one line per row. */
typedef struct seen {
    char text[4096];
    int rows;
    int stop_at; /* return 7 on this row (1-based); 0: never */
} seen;

static int on_graph(void *ud, const char *id, const char *name, int64_t created_ms, const char *def) {
    seen *s = ud;
    size_t n = strlen(s->text);
    snprintf(s->text + n, sizeof s->text - n, "%s|%s|%lld|%s\n", id, name, (long long)created_ms, def);
    return ++s->rows == s->stop_at ? 7 : 0;
}

static int on_component(void *ud, const char *id, const char *version, const char *def) {
    seen *s = ud;
    size_t n = strlen(s->text);
    snprintf(s->text + n, sizeof s->text - n, "%s|%s|%s\n", id, version ? version : "(null)", def);
    return ++s->rows == s->stop_at ? 7 : 0;
}

static weir_store *open_ok(const char *d) {
    weir_store *st;
    weir_error err;
    cr_assert_eq(weir_store_open(d, &st, &err), 0, "%s", err.message);
    return st;
}

static const char *graphs(weir_store *st) {
    static seen s;
    memset(&s, 0, sizeof s);
    weir_error err;
    cr_assert_eq(weir_store_graph_list(st, on_graph, &s, &err), 0, "%s", err.message);
    return s.text;
}

static const char *components(weir_store *st) {
    static seen s;
    memset(&s, 0, sizeof s);
    weir_error err;
    cr_assert_eq(weir_store_component_list(st, on_component, &s, &err), 0, "%s", err.message);
    return s.text;
}

Test(store, graphs_list_in_creation_order_replace_in_place_and_delete) {
    weir_store *st = open_ok(NULL);
    cr_assert_null(weir_store_path(st), "in memory: no file");
    weir_error err;
    cr_assert_eq(weir_store_graph_put(st, "g3", "third", 300, "{\"n\":3}", &err), 0, "%s", err.message);
    cr_assert_eq(weir_store_graph_put(st, "g1", "first", 100, "{\"n\":1}", &err), 0);
    cr_assert_eq(weir_store_graph_put(st, "g2a", "second", 200, "{\"n\":2}", &err), 0);
    cr_assert_eq(weir_store_graph_put(st, "g2b", "second too", 200, "{}", &err), 0); /* a tie: stored order */
    cr_assert_str_eq(graphs(st), "g1|first|100|{\"n\":1}\n"
                                 "g2a|second|200|{\"n\":2}\n"
                                 "g2b|second too|200|{}\n"
                                 "g3|third|300|{\"n\":3}\n");
    /* the same id again replaces it and keeps its place among equals */
    cr_assert_eq(weir_store_graph_put(st, "g2a", "second v2", 200, "{\"n\":22}", &err), 0);
    cr_assert_str_eq(graphs(st), "g1|first|100|{\"n\":1}\n"
                                 "g2a|second v2|200|{\"n\":22}\n"
                                 "g2b|second too|200|{}\n"
                                 "g3|third|300|{\"n\":3}\n");
    cr_assert_eq(weir_store_graph_delete(st, "g1", &err), 0);
    cr_assert_eq(weir_store_graph_delete(st, "g2b", &err), 0);
    cr_assert_eq(weir_store_graph_delete(st, "never-stored", &err), 0, "deleting what is absent is no error");
    cr_assert_str_eq(graphs(st), "g2a|second v2|200|{\"n\":22}\n"
                                 "g3|third|300|{\"n\":3}\n");
    weir_store_close(st);
    weir_store_close(NULL);
}

Test(store, a_listing_stops_when_the_callback_says_so) {
    weir_store *st = open_ok(NULL);
    weir_error err;
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof id, "g%d", i);
        cr_assert_eq(weir_store_graph_put(st, id, id, i, "{}", &err), 0);
        cr_assert_eq(weir_store_component_put(st, id, "1", "{}", &err), 0);
    }
    seen s = {.stop_at = 2};
    cr_assert_eq(weir_store_graph_list(st, on_graph, &s, &err), 7);
    cr_assert_eq(s.rows, 2);
    seen c = {.stop_at = 1};
    cr_assert_eq(weir_store_component_list(st, on_component, &c, &err), 7);
    cr_assert_eq(c.rows, 1);
    /* a stopped listing leaves nothing half-read: the next one sees all */
    seen all = {0};
    cr_assert_eq(weir_store_graph_list(st, on_graph, &all, &err), 0);
    cr_assert_eq(all.rows, 3);
    weir_store_close(st);
}

Test(store, components_in_registration_order_with_or_without_version) {
    weir_store *st = open_ok(NULL);
    weir_error err;
    cr_assert_eq(weir_store_component_put(st, "user.square", "1.0.0", "{\"a\":1}", &err), 0, "%s", err.message);
    cr_assert_eq(weir_store_component_put(st, "user.cube", NULL, "{\"b\":2}", &err), 0);
    cr_assert_eq(weir_store_component_put(st, "user.square", "1.1.0", "{\"a\":2}", &err), 0); /* a new version */
    cr_assert_str_eq(components(st), "user.square|1.1.0|{\"a\":2}\n"
                                     "user.cube|(null)|{\"b\":2}\n");
    cr_assert_eq(weir_store_component_delete(st, "user.square", &err), 0);
    cr_assert_eq(weir_store_component_delete(st, "user.none", &err), 0);
    cr_assert_str_eq(components(st), "user.cube|(null)|{\"b\":2}\n");
    cr_assert_str_eq(graphs(st), "", "components and graphs are apart");
    weir_store_close(st);
}

Test(store, a_reopened_directory_has_everything_and_is_wal_at_the_current_schema) {
    char sub[128];
    snprintf(sub, sizeof sub, "%s/a/b", dir); /* parents are created */
    weir_store *st = open_ok(sub);
    char want[160];
    snprintf(want, sizeof want, "%s/weir.db", sub);
    cr_assert_str_eq(weir_store_path(st), want);
    weir_error err;
    cr_assert_eq(weir_store_graph_put(st, "g1", "one", 5, "{\"x\":[1,2]}", &err), 0, "%s", err.message);
    cr_assert_eq(weir_store_graph_put(st, "g2", "two", 6, "{}", &err), 0);
    cr_assert_eq(weir_store_component_put(st, "user.c", "2", "{}", &err), 0);
    cr_assert_eq(weir_store_graph_delete(st, "g2", &err), 0);
    weir_store_close(st);

    /* on disk: WAL, the schema version, the rows */
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(want, &db), SQLITE_OK);
    sqlite3_stmt *q;
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    sqlite3_close(db);
    cr_assert_eq(sqlq_int(want, "PRAGMA user_version"), WEIR_STORE_SCHEMA_VERSION);
    cr_assert_eq(sqlq_int(want, "SELECT count(*) FROM graphs"), 1);

    st = open_ok(sub);
    cr_assert_str_eq(graphs(st), "g1|one|5|{\"x\":[1,2]}\n");
    cr_assert_str_eq(components(st), "user.c|2|{}\n");
    weir_store_close(st);
}

Test(store, an_empty_database_of_schema_zero_is_migrated) {
    char path[128];
    snprintf(path, sizeof path, "%s/weir.db", dir);
    sqlq_exec(path, "PRAGMA user_version = 0");
    weir_store *st = open_ok(dir);
    weir_store_close(st);
    cr_assert_eq(sqlq_int(path, "PRAGMA user_version"), WEIR_STORE_SCHEMA_VERSION);
    cr_assert_eq(sqlq_int(path, "SELECT count(*) FROM sqlite_schema WHERE name IN ('graphs', 'components')"), 2);
}

Test(store, a_newer_schema_is_refused_and_left_as_it_is) {
    char path[128];
    snprintf(path, sizeof path, "%s/weir.db", dir);
    sqlq_exec(path, "CREATE TABLE future (x); PRAGMA user_version = 99");
    weir_store *st = (weir_store *)1;
    weir_error err;
    cr_assert_eq(weir_store_open(dir, &st, &err), WEIR_EINVAL);
    cr_assert_null(st);
    char want[96];
    snprintf(want, sizeof want, "schema version 99, newer than this weir understands (%d)", WEIR_STORE_SCHEMA_VERSION);
    cr_assert(strstr(err.message, want), "%s", err.message);
    cr_assert(strstr(err.message, path), "names the file: %s", err.message);
    cr_assert(strstr(err.message, "run that weir, or set DATA_DIR"), "%s", err.message);
    cr_assert_eq(sqlq_int(path, "PRAGMA user_version"), 99, "not touched");
    cr_assert_eq(sqlq_int(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'graphs'"), 0);
}

Test(store, a_directory_that_cannot_be_created_says_so) {
    char file[128], under[160];
    snprintf(file, sizeof file, "%s/plain-file", dir);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fclose(f);
    snprintf(under, sizeof under, "%s/data", file);
    weir_store *st;
    weir_error err;
    cr_assert_eq(weir_store_open(under, &st, &err), WEIR_EIO);
    char want[256];
    snprintf(want, sizeof want, "DATA_DIR %s is not writable: it cannot be created (Not a directory)", under);
    cr_assert(strstr(err.message, want), "%s", err.message);
    cr_assert(strstr(err.message, "--memory"), "says what to do: %s", err.message);
    /* the directory is a file */
    cr_assert_eq(weir_store_open(file, &st, &err), WEIR_EIO);
    cr_assert(strstr(err.message, "is not writable: it is not a directory"), "%s", err.message);
}

/* Opened by an unprivileged user (root writes whatever the mode says, so
 * under root the open runs in a child that became nobody). */
Test(store, a_directory_without_write_permission_says_so) {
    cr_assert_eq(chmod(dir, 0555), 0);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(3);
        weir_store *st;
        weir_error err;
        int rc = weir_store_open(dir, &st, &err);
        dprintf(fds[1], "%d %s", rc, rc ? err.message : "");
        _exit(0);
    }
    close(fds[1]);
    char got[WEIR_ERROR_MAX + 16] = "";
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], got + len, sizeof got - 1 - len)) > 0) len += (size_t)n;
    got[len] = '\0';
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child could not drop privileges");
    char want[160];
    snprintf(want, sizeof want, "%d DATA_DIR %s is not writable: weir.lock cannot be created in it (Permission denied)",
             WEIR_EIO, dir);
    cr_assert(strncmp(got, want, strlen(want)) == 0, "%s", got);
    cr_assert(strstr(got, "--memory"), "%s", got);
}

Test(store, a_directory_in_use_by_another_store_is_refused) {
    weir_store *first = open_ok(dir);
    weir_store *second = (weir_store *)1;
    weir_error err;
    cr_assert_eq(weir_store_open(dir, &second, &err), WEIR_ESTATE);
    cr_assert_null(second);
    char want[160];
    snprintf(want, sizeof want, "DATA_DIR %s is in use by another weir (pid %ld)", dir, (long)getpid());
    cr_assert(strstr(err.message, want), "%s", err.message);
    weir_store_close(first);
    second = open_ok(dir); /* released by close */
    weir_store_close(second);
}

Test(store, a_file_that_is_not_a_database_is_refused) {
    char path[128];
    snprintf(path, sizeof path, "%s/weir.db", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 512; i++) fputs("not sqlite", f);
    fclose(f);
    weir_store *st;
    weir_error err;
    cr_assert_eq(weir_store_open(dir, &st, &err), WEIR_EIO);
    cr_assert(strstr(err.message, path), "%s", err.message);
    cr_assert(strstr(err.message, "file is not a database"), "%s", err.message);
    cr_assert(strstr(err.message, "move it away"), "%s", err.message);
}

/* The store's own allocations (its record, the paths) go through weir's
 * allocator: each one failed in turn gives WEIR_ENOMEM and leaves nothing
 * allocated and no lock held.  (SQLite allocates with its own malloc.) */
Test(store, every_allocation_failure_is_clean) {
    size_t done = 0;
    for (size_t n = 1; n < 100; n++) {
        fa_install(n, 0);
        weir_store *st = NULL;
        weir_error err;
        int rc = weir_store_open(dir, &st, &err);
        size_t attempts = fa_count();
        if (rc) {
            fa_uninstall();
            cr_assert_eq(rc, WEIR_ENOMEM, "allocation %zu: %s", n, err.message);
            cr_assert_null(st);
            cr_assert_eq(fa_live(), 0, "allocation %zu: a failed open leaks", n);
            weir_store *again = open_ok(dir); /* the lock was released */
            weir_store_close(again);
            continue;
        }
        weir_store_close(st);
        fa_uninstall();
        cr_assert_eq(fa_live(), 0);
        if (attempts < n) {
            done = n;
            break;
        }
    }
    cr_assert(done > 1, "open never completed, or allocated nothing through weir");
}
