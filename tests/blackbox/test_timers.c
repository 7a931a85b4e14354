/* Sources that start themselves, with the real binary: symbia.core.interval
 * and symbia.core.cron on `weir run --virtual` and on a served virtual
 * execution (advance, state, time travel, and the journal's replay crossing
 * the firings), graphs with metadata.autostart started at server start
 * (once: not again when their execution came back from recovery), and an
 * interval that goes on after kill -9. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "serve.h"

static char dir[64];

static void make_dir(void) {
    curl_global_init(CURL_GLOBAL_ALL);
    proc_tempdir(dir, sizeof dir, "bbtimers");
}
static void drop_dir(void) {
    if (dir[0]) serve_rmdir(dir);
    dir[0] = '\0';
}
TestSuite(timers, .init = make_dir, .fini = drop_dir, .timeout = 120);

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static server start_on(const char *const *more) {
    const char *argv[16] = {"--data-dir", dir};
    int n = 2;
    for (const char *const *m = more; m && *m && n < 15; m++) argv[n++] = *m;
    argv[n] = NULL;
    return serve_start(argv);
}

#define SRC_GRAPH(name, md, comp, cfg)                                                                          \
    "{\"symbia\":\"1.0\",\"name\":\"" name "\",\"metadata\":" md ",\"nodes\":[{\"id\":\"src\",\"component\":\"" comp \
    "\",\"config\":" cfg "},{\"id\":\"z\",\"component\":\"symbia.core.passthrough\"}],\"edges\":[{\"source\":"      \
    "{\"node\":\"src\",\"port\":\"out\"},\"target\":{\"node\":\"z\",\"port\":\"in\"}}]}"

static http_resp xop(server *s, const char *x, const char *what, const char *body) {
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/%s", x, what);
    return http_req(s, "POST", path, body, NULL);
}

/* GET path (asserts 200); a new reference. */
static json_t *get(server *s, const char *path) { return http_get_json(s, path); }

/* The state of node src of execution x (a new reference). */
static json_t *src_state(server *s, const char *x) {
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/state", x);
    json_t *st = get(s, path);
    json_t *src = json_incref(json_object_get(json_object_get(st, "nodes"), "src"));
    json_decref(st);
    cr_assert(json_is_object(src), "no state for src");
    return src;
}

static json_int_t fired(server *s, const char *x) {
    json_t *st = src_state(s, x);
    json_int_t n = json_integer_value(json_object_get(st, "fired"));
    json_decref(st);
    return n;
}

Test(timers, weir_run_virtual_plays_the_example_graph) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s run %s/examples/interval-cron.json --virtual --scenario %s/examples/interval-cron.yaml",
             WEIR_BINARY, WEIR_SOURCE_DIR, WEIR_SOURCE_DIR);
    proc_result r = proc_run(cmd);
    cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
    cr_assert(strstr(r.out, "[tick 1000] output log:out {\"n\":1,\"at\":1000}"), "%s", r.out);
    cr_assert(strstr(r.out, "[tick 3000] output log:out {\"n\":3,\"at\":3000}"), "%s", r.out);
    cr_assert(!strstr(r.out, "\"n\":4"), "count 3: no fourth heartbeat\n%s", r.out);
    cr_assert(strstr(r.out, "[tick 900000] output log:out {\"quarter\":true}"), "00:15Z: %s", r.out);
    cr_assert(strstr(r.out, "[tick 1800000] output log:out {\"quarter\":true}"), "00:30Z: %s", r.out);
    cr_assert(strstr(r.out, "checks: 4 passed, 0 failed"), "%s", r.out);
    proc_free(&r);
}

/* On a served virtual execution: advance, read the schedule as state, travel
 * to a tick between firings, run to completion, and replay the exported
 * journal: the firings are timer inputs like any other. */
Test(timers, served_virtual_interval_advances_travels_and_replays) {
    server s = start_on(NULL);
    char x[64];
    snprintf(x, sizeof x, "%s",
             serve_execute(&s, SRC_GRAPH("iv", "{}", "symbia.core.interval", "{\"everyMs\":100,\"count\":4}"),
                           "{\"runtime\":\"virtual\",\"startMs\":0}"));
    http_resp r = xop(&s, x, "advance", "{\"ms\":250}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    json_t *st = src_state(&s, x);
    char *txt = json_dumps(st, JSON_SORT_KEYS | JSON_COMPACT);
    cr_assert_str_eq(txt, "{\"fired\":2,\"missed\":0,\"nextAt\":300,\"remaining\":2}");
    free(txt);
    json_decref(st);
    /* tick 1 is the first firing's wave */
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/at/1", x);
    json_t *at = get(&s, path);
    json_t *src = json_object_get(json_object_get(at, "nodes"), "src");
    cr_assert_eq(json_integer_value(json_object_get(src, "fired")), 1, "%s", json_dumps(at, 0));
    cr_assert_eq(json_integer_value(json_object_get(src, "nextAt")), 200);
    json_decref(at);
    /* a fork at tick 2 has the schedule of tick 2 and plays the rest of it */
    r = xop(&s, x, "fork", "{\"atTick\":2}");
    cr_assert_eq(r.status, 201, "%s", r.body);
    char f[64];
    snprintf(f, sizeof f, "%s", json_string_value(json_object_get(r.json, "executionId")));
    http_free(&r);
    st = src_state(&s, f);
    cr_assert_eq(json_integer_value(json_object_get(st, "fired")), 2);
    cr_assert_eq(json_integer_value(json_object_get(st, "nextAt")), 300);
    json_decref(st);
    r = xop(&s, f, "run", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    cr_assert_eq(fired(&s, f), 4, "the fork fires the last two");
    r = xop(&s, x, "run", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    snprintf(path, sizeof path, "/api/executions/%s", x);
    json_t *xj = get(&s, path);
    cr_assert_str_eq(json_string_value(json_object_get(xj, "state")), "completed", "completes after the 4th");
    json_decref(xj);
    cr_assert_eq(fired(&s, x), 4);
    snprintf(path, sizeof path, "/api/executions/%s/journal", x);
    cr_assert_eq(fired(&s, x), 4, "the source is not touched by its fork");
    r = http_req(&s, "GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    char *file = proc_tempfile(".ndjson", r.body);
    size_t resolves = 0;
    for (const char *p = r.body; (p = strstr(p, "\"kind\":\"timer\"")); p++) resolves++;
    http_free(&r);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s replay %s", WEIR_BINARY, file);
    proc_result pr = proc_run(cmd);
    cr_assert_eq(pr.status, 0, "%s\n%s", pr.out, pr.err);
    cr_assert(strstr(pr.out, "match"), "%s", pr.out);
    proc_free(&pr);
    unlink(file);
    free(file);
    cr_assert_geq(resolves, 4, "each firing is a journaled timer result");
    cr_assert_eq(serve_stop(&s), 0);
}

Test(timers, served_virtual_cron_fires_at_the_right_virtual_minutes) {
    server s = start_on(NULL);
    char x[64];
    /* 2026-12-06T20:07:00Z */
    snprintf(x, sizeof x, "%s",
             serve_execute(&s,
                           SRC_GRAPH("cr", "{\"role\":\"service\"}", "symbia.core.cron",
                                     "{\"expression\":\"*/15 * * * *\",\"timezone\":\"Europe/Berlin\"}"),
                           "{\"runtime\":\"virtual\",\"startMs\":1796587620000}"));
    json_t *st = src_state(&s, x);
    cr_assert_eq(json_integer_value(json_object_get(st, "nextAt")), 1796588100000LL, "20:15Z");
    json_decref(st);
    http_resp r = xop(&s, x, "advance", "{\"ms\":479999}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    cr_assert_eq(fired(&s, x), 0, "not at 20:14:59.999");
    r = xop(&s, x, "advance", "{\"ms\":1}");
    http_free(&r);
    cr_assert_eq(fired(&s, x), 1, "at 20:15");
    r = xop(&s, x, "advance", "{\"ms\":3600000}");
    http_free(&r);
    st = src_state(&s, x);
    cr_assert_eq(json_integer_value(json_object_get(st, "fired")), 5, "20:15, 20:30, 20:45, 21:00, 21:15");
    cr_assert_eq(json_integer_value(json_object_get(st, "nextAt")), 1796592600000LL, "21:30Z");
    json_decref(st);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(timers, a_bad_cron_expression_or_zone_is_a_400_naming_node_field_and_column) {
    server s = start_on(NULL);
    http_resp r = http_req(&s, "POST", "/api/graphs",
                           SRC_GRAPH("bad", "{}", "symbia.core.cron", "{\"expression\":\"0 25 * * *\"}"), NULL);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "code")), "WEIR_EGRAPH");
    cr_assert(strstr(r.body, "node \\\"src\\\" (symbia.core.cron): config \\\"expression\\\" (\\\"0 25 * * *\\\"): "
                             "hour field (column 3): 25 is out of range"),
              "%s", r.body);
    http_free(&r);
    r = http_req(&s, "POST", "/api/graphs",
                 SRC_GRAPH("bad", "{}", "symbia.core.cron", "{\"expression\":\"@daily\",\"timezone\":\"Mars/Base\"}"),
                 NULL);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(r.body, "config \\\"timezone\\\": unknown time zone \\\"Mars/Base\\\""), "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

/* The executions of graph g (its id) that are not finished. */
static size_t unfinished_of(server *s, const char *gid, char *one, size_t cap) {
    json_t *list = get(s, "/api/executions");
    size_t i, n = 0;
    json_t *x;
    json_array_foreach(list, i, x) {
        const char *state = json_string_value(json_object_get(x, "state"));
        if (strcmp(json_string_value(json_object_get(x, "graphId")), gid) != 0) continue;
        if (strcmp(state, "running") != 0 && strcmp(state, "paused") != 0) continue;
        n++;
        if (one) snprintf(one, cap, "%s", json_string_value(json_object_get(x, "executionId")));
    }
    json_decref(list);
    return n;
}

static const char *post_graph(server *s, const char *graph) {
    static char id[64];
    http_resp r = http_req(s, "POST", "/api/graphs", graph, NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "id")));
    http_free(&r);
    return id;
}

Test(timers, autostart_starts_a_stored_graph_once) {
    server s = start_on(NULL);
    char gid[64], other[64];
    snprintf(gid, sizeof gid, "%s",
             post_graph(&s, SRC_GRAPH("beats", "{\"autostart\":true,\"role\":\"service\",\"runtime\":\"virtual\"}",
                                      "symbia.core.interval", "{\"everyMs\":1000}")));
    snprintf(other, sizeof other, "%s",
             post_graph(&s, SRC_GRAPH("manual", "{\"role\":\"service\"}", "symbia.core.interval",
                                      "{\"everyMs\":1000}")));
    http_resp r = http_req(&s, "POST", "/api/graphs",
                           SRC_GRAPH("bad", "{\"autostart\":\"yes\"}", "symbia.core.interval", "{\"everyMs\":1000}"),
                           NULL);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(r.body, "metadata.autostart must be true"), "%s", r.body);
    http_free(&r);
    cr_assert_eq(unfinished_of(&s, gid, NULL, 0), 0, "storing it does not start it");
    cr_assert_eq(serve_stop(&s), 0);

    s = start_on(NULL);
    char x[64] = "";
    cr_assert_eq(unfinished_of(&s, gid, x, sizeof x), 1, "started at server start");
    cr_assert_eq(unfinished_of(&s, other, NULL, 0), 0, "a graph without autostart is not");
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s", x);
    json_t *xj = get(&s, path);
    cr_assert_str_eq(json_string_value(json_object_get(xj, "runtime")), "virtual", "with its metadata.runtime");
    json_decref(xj);
    r = xop(&s, x, "advance", "{\"ms\":3000}");
    http_free(&r);
    cr_assert_eq(fired(&s, x), 3);
    cr_assert(strstr(serve_log(&s), "autostart: 1 graph started, 0 already running, 0 failed"), "%s", serve_log(&s));
    cr_assert_eq(serve_kill(&s), 128 + 9);

    s = start_on(NULL);
    char again[64] = "";
    cr_assert_eq(unfinished_of(&s, gid, again, sizeof again), 1, "not a second one after recovery");
    cr_assert_str_eq(again, x, "the recovered execution is the one that runs");
    cr_assert_eq(fired(&s, x), 3, "with its state");
    cr_assert(strstr(serve_log(&s), "autostart: 0 graphs started, 1 already running, 0 failed"), "%s", serve_log(&s));
    /* once it has finished, the next start makes a new one */
    r = xop(&s, x, "stop", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
    s = start_on(NULL);
    char third[64] = "";
    cr_assert_eq(unfinished_of(&s, gid, third, sizeof third), 1);
    cr_assert_str_neq(third, x);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(timers, autostart_failures_are_logged_and_the_server_still_starts) {
    const char *one[] = {"--max-concurrent-executions", "1", NULL};
    server s = start_on(one);
    post_graph(&s, SRC_GRAPH("first", "{\"autostart\":true,\"role\":\"service\"}", "symbia.core.interval",
                             "{\"everyMs\":60000}"));
    post_graph(&s, SRC_GRAPH("second", "{\"autostart\":true,\"role\":\"service\"}", "symbia.core.interval",
                             "{\"everyMs\":60000}"));
    cr_assert_eq(serve_stop(&s), 0);
    s = start_on(one);
    http_resp r = http_req(&s, "GET", "/health", NULL, NULL);
    cr_assert_eq(r.status, 200);
    http_free(&r);
    const char *log = serve_log(&s);
    cr_assert(strstr(log, "autostart: 1 graph started, 0 already running, 1 failed"), "%s", log);
    cr_assert(strstr(log, "(\\\"second\\\") could not be started: maximum concurrent executions reached") ||
                  strstr(log, "(\"second\") could not be started: maximum concurrent executions reached"),
              "%s", log);
    cr_assert_eq(serve_stop(&s), 0);
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* kill -9 between two firings of a slow interval: the restarted server
 * keeps the schedule (the same nextAt) and fires at that time, not a whole
 * period after the restart. */
Test(timers, after_kill_9_the_next_firing_keeps_its_time) {
    server s = start_on(NULL);
    char x[64];
    snprintf(x, sizeof x, "%s",
             serve_execute(&s, SRC_GRAPH("slow", "{\"role\":\"service\"}", "symbia.core.interval", "{\"everyMs\":4000}"),
                           NULL));
    json_t *st = src_state(&s, x);
    json_int_t next = json_integer_value(json_object_get(st, "nextAt"));
    json_decref(st);
    cr_assert_gt(next, wall_ms(), "the first firing is ahead");
    cr_assert_eq(serve_kill(&s), 128 + 9);
    s = start_on(NULL);
    st = src_state(&s, x);
    cr_assert_eq(json_integer_value(json_object_get(st, "fired")), 0);
    cr_assert_eq(json_integer_value(json_object_get(st, "nextAt")), next, "the same schedule after the restart");
    json_decref(st);
    while (fired(&s, x) < 1) {
        cr_assert_lt(wall_ms(), next + 1500, "it fires at its time (%lld), not a period after the restart",
                     (long long)next);
        sleep_ms(20);
    }
    cr_assert_geq(wall_ms(), next - 50, "not before its time");
    cr_assert_eq(serve_stop(&s), 0);
}

/* kill -9 while an interval is active: the same execution comes back and
 * goes on firing, its count going on from where it was. */
Test(timers, an_interval_goes_on_after_kill_9) {
    server s = start_on(NULL);
    char x[64];
    snprintf(x, sizeof x, "%s",
             serve_execute(&s, SRC_GRAPH("live", "{\"role\":\"service\"}", "symbia.core.interval", "{\"everyMs\":200}"),
                           NULL));
    double t0 = proc_now_ms();
    while (fired(&s, x) < 3) {
        cr_assert_lt(proc_now_ms() - t0, 10000, "three firings within 10 s");
        sleep_ms(20);
    }
    cr_assert_eq(serve_kill(&s), 128 + 9);
    s = start_on(NULL);
    json_int_t back = fired(&s, x);
    cr_assert_geq(back, 3, "its firings came back with it");
    t0 = proc_now_ms();
    while (fired(&s, x) < back + 3) {
        cr_assert_lt(proc_now_ms() - t0, 10000, "it goes on firing after the restart");
        sleep_ms(20);
    }
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s", x);
    json_t *xj = get(&s, path);
    cr_assert_str_eq(json_string_value(json_object_get(xj, "state")), "running");
    json_decref(xj);
    cr_assert_eq(serve_stop(&s), 0);
}
