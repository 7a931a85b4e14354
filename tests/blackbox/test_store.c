/* weir serve with a DATA_DIR, black-box (SPEC §7, first slice): graphs
 * survive a SIGTERM and a kill -9 right after their 201, deletes stay
 * deleted, --memory keeps nothing, a graph that no longer loads is skipped,
 * a store that cannot write answers 503 and adds nothing, and a DATA_DIR
 * that cannot be used stops the start with exit 2 and the reason. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sqlq.h"
#include "proc.h"
#include "serve.h"

static const char *DOUBLER =
    "{\"symbia\":\"1.0\",\"name\":\"doubler\",\"metadata\":{\"role\":\"pipeline\"},\"nodes\":["
    "{\"id\":\"in\",\"component\":\"symbia.core.passthrough\"},"
    "{\"id\":\"out\",\"component\":\"symbia.core.map\",\"config\":{\"expression\":\"value * 2\"}}],"
    "\"edges\":[{\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"out\",\"port\":\"in\"}}]}";
static const char *ADDER =
    "{\"symbia\":\"1.0\",\"name\":\"adder\",\"metadata\":{\"role\":\"pipeline\"},\"nodes\":["
    "{\"id\":\"in\",\"component\":\"symbia.core.passthrough\"},"
    "{\"id\":\"out\",\"component\":\"symbia.core.map\",\"config\":{\"expression\":\"value + 1\"}}],"
    "\"edges\":[{\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"out\",\"port\":\"in\"}}]}";

static char dir[64];

static void make_dir(void) {
    proc_tempdir(dir, sizeof dir, "bbstore");
}

static void drop_dir(void) {
    if (dir[0]) serve_rmdir(dir);
    dir[0] = '\0';
}

TestSuite(store, .init = make_dir, .fini = drop_dir);

static server start_on(const char *d) {
    const char *extra[] = {"--data-dir", d, NULL};
    return serve_start(extra);
}

/* POST a graph; its id into id. */
static void post(server *s, const char *graph, char id[64]) {
    http_resp r = http_req(s, "POST", "/api/graphs", graph, NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_assert_not_null(json_string_value(json_object_get(r.json, "createdAt")), "%s", r.body);
    snprintf(id, 64, "%s", json_string_value(json_object_get(r.json, "id")));
    http_free(&r);
}

/* GET /api/graphs (a new reference). */
static json_t *graphs(server *s) {
    http_resp r = http_req(s, "GET", "/api/graphs", NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *a = json_incref(r.json);
    http_free(&r);
    return a;
}

/* Execute graph id, inject value into in, expect out:out == want. */
static void runs(server *s, const char *id, int value, int want) {
    char path[256], body[128];
    snprintf(path, sizeof path, "/api/graphs/%s/execute", id);
    http_resp x = http_req(s, "POST", path, NULL, NULL);
    cr_assert_eq(x.status, 201, "%s", x.body);
    snprintf(path, sizeof path, "/api/executions/%s/inject", json_string_value(json_object_get(x.json, "executionId")));
    snprintf(body, sizeof body, "{\"nodeId\":\"in\",\"value\":%d}", value);
    http_resp i = http_req(s, "POST", path, body, NULL);
    cr_assert_eq(i.status, 200, "%s", i.body);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(i.json, "outputs"), "out:out")), want, "%s",
                 i.body);
    http_free(&x);
    http_free(&i);
}

static char *dumps(json_t *j) { return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS); }

/* GET /api/graphs/:id's definition, written out compact in its order (malloc'd). */
static char *definition(server *s, const char *id) {
    char path[256];
    snprintf(path, sizeof path, "/api/graphs/%s", id);
    http_resp r = http_req(s, "GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    char *d = json_dumps(json_object_get(r.json, "definition"), JSON_COMPACT);
    http_free(&r);
    return d;
}

Test(store, graphs_survive_a_restart_with_their_ids_and_creation_times) {
    server s = start_on(dir);
    char a[64], b[64];
    post(&s, DOUBLER, a);
    post(&s, ADDER, b);
    json_t *before = graphs(&s);
    cr_assert_eq(json_array_size(before), 2);
    char *def_a = definition(&s, a);
    cr_assert_eq(serve_stop(&s), 0);

    s = start_on(dir);
    char line[256];
    snprintf(line, sizeof line, "data: %s/weir.db (2 graphs and 0 components restored)",
             dir);
    cr_assert(strstr(serve_log(&s), line), "the start log says where data lives: %s", serve_log(&s));
    json_t *after = graphs(&s);
    char *x = dumps(before), *y = dumps(after);
    cr_assert_str_eq(y, x, "the same graphs in the same order: ids, names, createdAt, counts");
    free(x);
    free(y);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(after, 0), "id")), a);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(after, 1), "id")), b);
    char *def_a2 = definition(&s, a);
    cr_assert_str_eq(def_a2, def_a, "the same document, restored from its stored text");
    free(def_a);
    free(def_a2);
    runs(&s, a, 21, 42);
    runs(&s, b, 41, 42);
    /* and a graph added after the restart is stored too */
    char c[64];
    post(&s, DOUBLER, c);
    cr_assert_eq(serve_stop(&s), 0);
    s = start_on(dir);
    json_t *third = graphs(&s);
    cr_assert_eq(json_array_size(third), 3);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(third, 2), "id")), c);
    cr_assert_eq(serve_stop(&s), 0);
    json_decref(before);
    json_decref(after);
    json_decref(third);
}

Test(store, a_deleted_graph_stays_deleted) {
    server s = start_on(dir);
    char a[64], b[64], path[128];
    post(&s, DOUBLER, a);
    post(&s, ADDER, b);
    snprintf(path, sizeof path, "/api/graphs/%s", a);
    http_resp d = http_req(&s, "DELETE", path, NULL, NULL);
    cr_assert_eq(d.status, 200, "%s", d.body);
    http_free(&d);
    cr_assert_eq(serve_stop(&s), 0);
    s = start_on(dir);
    json_t *g = graphs(&s);
    cr_assert_eq(json_array_size(g), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(g, 0), "id")), b);
    http_resp r = http_req(&s, "GET", path, NULL, NULL);
    cr_assert_eq(r.status, 404);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
    json_decref(g);
}

Test(store, a_graph_acknowledged_just_before_a_kill_9_is_there_after_it) {
    server s = start_on(dir);
    char a[64];
    post(&s, DOUBLER, a);
    cr_assert_eq(serve_kill(&s), 128 + 9); /* no shutdown, no close, no checkpoint */
    s = start_on(dir);
    json_t *g = graphs(&s);
    cr_assert_eq(json_array_size(g), 1, "what was acknowledged is kept");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(g, 0), "id")), a);
    runs(&s, a, 5, 10);
    cr_assert_eq(serve_stop(&s), 0);
    json_decref(g);
}

Test(store, memory_keeps_nothing) {
    const char *mem[] = {"--memory", NULL};
    server s = serve_start(mem);
    cr_assert(strstr(serve_log(&s), "data: in memory (--memory)"), "%s", serve_log(&s));
    char a[64];
    post(&s, DOUBLER, a);
    cr_assert_eq(serve_stop(&s), 0);
    /* --memory wins over a DATA_DIR, which stays unused */
    const char *both[] = {"--data-dir", dir, "--memory", NULL};
    s = serve_start(both);
    json_t *g = graphs(&s);
    cr_assert_eq(json_array_size(g), 0);
    cr_assert_eq(serve_stop(&s), 0);
    char db[128];
    snprintf(db, sizeof db, "%s/weir.db", dir);
    cr_assert_neq(access(db, F_OK), 0, "nothing written to DATA_DIR");
    json_decref(g);
}

static void sql(const char *statement) {
    char path[128];
    sqlq_exec(sqlq_db_of(path, sizeof path, dir), statement);
}

Test(store, a_stored_graph_that_no_longer_loads_is_logged_and_skipped) {
    server s = start_on(dir);
    char a[64], b[64];
    post(&s, DOUBLER, a);
    post(&s, ADDER, b);
    cr_assert_eq(serve_stop(&s), 0);
    /* as if its component had been removed */
    char stmt[256];
    snprintf(stmt, sizeof stmt,
             "UPDATE graphs SET definition = replace(definition, 'symbia.core.map', 'user.gone') WHERE id = '%s'", a);
    sql(stmt);
    s = start_on(dir);
    const char *log = serve_log(&s);
    char want[256];
    snprintf(want, sizeof want, "stored graph %s (\"doubler\") no longer loads and is skipped", a);
    cr_assert(strstr(log, want), "%s", log);
    cr_assert(strstr(log, "user.gone"), "the reason names the component: %s", log);
    cr_assert(strstr(log, "1 graph and 0 components restored, some skipped"), "%s", log);
    json_t *g = graphs(&s);
    cr_assert_eq(json_array_size(g), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(g, 0), "id")), b);
    runs(&s, b, 1, 2);
    cr_assert_eq(serve_stop(&s), 0);
    json_decref(g);
}

Test(store, a_store_that_cannot_write_answers_503_and_adds_nothing) {
    server s = start_on(dir);
    char a[64];
    post(&s, DOUBLER, a);
    /* another process holds the write lock (a sqlite3 shell in a transaction) */
    char path[128];
    snprintf(path, sizeof path, "%s/weir.db", dir);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    http_resp r = http_req(&s, "POST", "/api/graphs", ADDER, NULL);
    cr_assert_eq(r.status, 503, "%s", r.body);
    const char *msg = json_string_value(json_object_get(r.json, "error"));
    cr_assert(msg && strstr(msg, "the graph was not stored, so it was not added"), "%s", r.body);
    cr_assert(strstr(msg, path) && strstr(msg, "database is locked"), "%s", r.body);
    http_free(&r);
    char del[128];
    snprintf(del, sizeof del, "/api/graphs/%s", a);
    r = http_req(&s, "DELETE", del, NULL, NULL);
    cr_assert_eq(r.status, 503, "%s", r.body);
    cr_assert(strstr(r.body, "was not deleted from the store, so it stays"), "%s", r.body);
    http_free(&r);
    json_t *g = graphs(&s);
    cr_assert_eq(json_array_size(g), 1, "nothing added, nothing removed");
    json_decref(g);
    cr_assert_eq(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    /* the lock gone, both work */
    char b[64];
    post(&s, ADDER, b);
    r = http_req(&s, "DELETE", del, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
    s = start_on(dir);
    g = graphs(&s);
    cr_assert_eq(json_array_size(g), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(g, 0), "id")), b);
    cr_assert_eq(serve_stop(&s), 0);
    json_decref(g);
}

Test(store, a_data_dir_that_cannot_be_created_stops_the_start_with_exit_2) {
    char file[128], cmd[512];
    snprintf(file, sizeof file, "%s/plain-file", dir);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fclose(f);
    snprintf(cmd, sizeof cmd, WEIR_BINARY " serve --port 0 --data-dir %s/data", file);
    proc_result r = proc_run(cmd);
    cr_assert_eq(r.status, 2, "%s", r.err);
    char want[256];
    snprintf(want, sizeof want, "weir serve: DATA_DIR %s/data is not writable: it cannot be created", file);
    cr_assert(strstr(r.err, want), "%s", r.err);
    cr_assert_null(strstr(r.err, "listening"), "%s", r.err);
    proc_free(&r);
    /* the same from the environment */
    snprintf(cmd, sizeof cmd, "DATA_DIR=%s/data " WEIR_BINARY " serve --port 0", file);
    r = proc_run(cmd);
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, want), "%s", r.err);
    proc_free(&r);
}

Test(store, a_data_dir_without_write_permission_stops_the_start_with_exit_2) {
    cr_assert_eq(chmod(dir, 0555), 0);
    char cmd[512];
    /* root writes whatever the mode says: run it as nobody then */
    snprintf(cmd, sizeof cmd, "%s" WEIR_BINARY " serve --port 0 --data-dir %s",
             geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : "", dir);
    proc_result r = proc_run(cmd);
    chmod(dir, 0700);
    cr_assert_eq(r.status, 2, "%s", r.err);
    char want[256];
    snprintf(want, sizeof want, "weir serve: DATA_DIR %s is not writable: weir.lock cannot be created in it", dir);
    cr_assert(strstr(r.err, want), "%s", r.err);
    proc_free(&r);
}

Test(store, a_data_dir_in_use_by_another_weir_stops_the_start_with_exit_2) {
    server s = start_on(dir);
    char cmd[512];
    snprintf(cmd, sizeof cmd, WEIR_BINARY " serve --port 0 --data-dir %s", dir);
    proc_result r = proc_run(cmd);
    cr_assert_eq(r.status, 2, "%s", r.err);
    char want[256];
    snprintf(want, sizeof want, "DATA_DIR %s is in use by another weir (pid %ld)", dir, (long)s.pid);
    cr_assert(strstr(r.err, want), "%s", r.err);
    proc_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(store, a_database_from_a_newer_weir_stops_the_start_with_exit_2) {
    sql("PRAGMA user_version = 99");
    char cmd[512];
    snprintf(cmd, sizeof cmd, WEIR_BINARY " serve --port 0 --data-dir %s", dir);
    proc_result r = proc_run(cmd);
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, "has schema version 99, newer than this weir understands"), "%s", r.err);
    proc_free(&r);
}
