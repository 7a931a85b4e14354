/* weir serve, black-box over loopback: time travel (GET
 * /api/executions/:id/at/:tick) and fork (POST /api/executions/:id/fork)
 * from the journal (SPEC §7.2), on a scripted accumulator history. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "sqlq.h"
#include "serve.h"

/* in → acc (batches of 3) → out */
static const char *GRAPH =
    "{\"symbia\":\"1.0\",\"name\":\"tt\",\"nodes\":["
    "{\"id\":\"in\",\"component\":\"symbia.core.passthrough\"},"
    "{\"id\":\"acc\",\"component\":\"symbia.core.accumulator\",\"config\":{\"batchSize\":3}},"
    "{\"id\":\"out\",\"component\":\"symbia.core.passthrough\"}],"
    "\"edges\":[{\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"acc\",\"port\":\"in\"}},"
    "{\"source\":{\"node\":\"acc\",\"port\":\"out\"},\"target\":{\"node\":\"out\",\"port\":\"in\"}}]}";

static http_resp call(server *s, const char *method, const char *fmt, const char *x, const char *body) {
    char path[256];
    snprintf(path, sizeof path, fmt, x);
    return http_req(s, method, path, body, NULL);
}

static void inject(server *s, const char *x, int v) {
    char body[128];
    snprintf(body, sizeof body, "{\"nodeId\":\"in\",\"value\":%d}", v);
    http_resp r = call(s, "POST", "/api/executions/%s/inject", x, body);
    cr_assert(r.status == 200 || r.status == 202, "%ld %s", r.status, r.body);
    http_free(&r);
}

/* The nodes of an answer as canonical text (malloc'd). */
static char *nodes_of(const http_resp *r) {
    return json_dumps(json_object_get(r->json, "nodes"), JSON_COMPACT | JSON_SORT_KEYS);
}

static char *state_now(server *s, const char *x) {
    http_resp r = call(s, "GET", "/api/executions/%s/state", x, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    char *n = nodes_of(&r);
    http_free(&r);
    return n;
}

static char *state_at(server *s, const char *x, const char *tick, long long *got_tick) {
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/at/%s", x, tick);
    http_resp r = http_req(s, "GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s: %s", path, r.body);
    if (got_tick) *got_tick = json_integer_value(json_object_get(r.json, "tick"));
    char *n = nodes_of(&r);
    http_free(&r);
    return n;
}

/* acc's buffer at ticks 1..n is want[1..n] (JSON text). */
static void buffers_at(server *s, const char *x, const char *const *want, int n) {
    for (int t = 1; t <= n; t++) {
        char ts[16], needle[64];
        snprintf(ts, sizeof ts, "%d", t);
        long long tick;
        char *at = state_at(s, x, ts, &tick);
        snprintf(needle, sizeof needle, "\"acc\":{\"buffer\":%s}", want[t]);
        cr_assert_eq(tick, t);
        cr_assert(strstr(at, needle), "tick %d: %s (want %s)", t, at, needle);
        free(at);
    }
}

static void every_tick(const char *const *extra, bool restart) {
    server s = serve_start(extra);
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, GRAPH, "{\"completion\":\"never\"}"));
    char *seen[8] = {0};
    seen[0] = state_now(&s, x);
    for (int i = 1; i <= 7; i++) {
        inject(&s, x, i * 10);
        seen[i] = state_now(&s, x);
    }
    for (int i = 0; i <= 7; i++) {
        char t[16];
        snprintf(t, sizeof t, "%d", i);
        long long tick;
        char *at = state_at(&s, x, t, &tick);
        cr_assert_eq(tick, i);
        cr_assert_str_eq(at, seen[i], "tick %d: %s, then it was %s", i, at, seen[i]);
        free(at);
    }
    long long tick;
    char *latest = state_at(&s, x, "latest", &tick);
    cr_assert_eq(tick, 7);
    cr_assert_str_eq(latest, seen[7]);
    free(latest);
    cr_assert(strstr(seen[4], "\"buffer\":[40]"), "a batch of 3 was flushed at tick 3: %s", seen[4]);
    if (restart) { /* recovery (from the newest snapshot, when there is one) */
        cr_assert_eq(serve_kill(&s), 128 + 9);
        s = serve_start(extra);
        char *back = state_now(&s, x);
        cr_assert_str_eq(back, seen[7], "the state came back");
        free(back);
        for (int i = 0; i <= 7; i++) {
            char t[16];
            snprintf(t, sizeof t, "%d", i);
            char *at = state_at(&s, x, t, NULL);
            cr_assert_str_eq(at, seen[i], "tick %d after the restart", i);
            free(at);
        }
        inject(&s, x, 80);
        back = state_now(&s, x);
        cr_assert(strstr(back, "\"buffer\":[70,80]"), "it goes on from there: %s", back);
        free(back);
    }

    http_resp r = call(&s, "GET", "/api/executions/%s/at/99", x, NULL);
    cr_assert_eq(r.status, 404);
    cr_assert(strstr(r.body, restart ? "newest tick is 8" : "newest tick is 7"), "%s", r.body);
    http_free(&r);
    r = call(&s, "GET", "/api/executions/%s/at/soon", x, NULL);
    cr_assert_eq(r.status, 400, "%s", r.body);
    http_free(&r);
    for (int i = 0; i <= 7; i++) free(seen[i]);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(travel, the_state_at_every_tick_is_what_it_was_then) { every_tick(NULL, false); }

/* With a snapshot every 2 inputs, time travel starts from the newest one at
 * or before the tick, and recovery from the newest: the same answers. */
Test(travel, from_snapshots_the_same_states_and_the_same_recovery) {
    char dir[128];
    proc_tempdir(dir, sizeof dir, "travelsnap");
    const char *extra[] = {"--data-dir", dir, "--snapshot-every", "2", NULL};
    every_tick(extra, true);
    serve_rmdir(dir);
}

/* A resume that drains three queued injects is one input and three waves:
 * each wave's end is reachable. */
Test(travel, a_tick_inside_a_multi_wave_input) {
    server s = serve_start(NULL);
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, GRAPH, "{\"completion\":\"never\"}"));
    inject(&s, x, 1);
    http_resp r = call(&s, "POST", "/api/executions/%s/pause", x, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    for (int v = 2; v <= 4; v++) {
        char body[128];
        snprintf(body, sizeof body, "{\"nodeId\":\"in\",\"value\":%d,\"wait\":false}", v);
        r = call(&s, "POST", "/api/executions/%s/inject", x, body);
        cr_assert_eq(r.status, 202, "%s", r.body);
        http_free(&r);
    }
    r = call(&s, "POST", "/api/executions/%s/resume", x, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    const char *want[] = {NULL, "[1]", "[1,2]", "[]", "[4]"};
    buffers_at(&s, x, want, 4);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(travel, a_fork_continues_from_a_tick_on_virtual_and_survives_a_restart) {
    char dir[128];
    proc_tempdir(dir, sizeof dir, "travel");
    const char *extra[] = {"--data-dir", dir, NULL};
    server s = serve_start(extra);
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, GRAPH, "{\"completion\":\"never\"}"));
    for (int i = 1; i <= 5; i++) inject(&s, x, i);
    char *at2 = state_at(&s, x, "2", NULL);
    http_resp r = call(&s, "POST", "/api/executions/%s/fork", x, "{\"atTick\":2}");
    cr_assert_eq(r.status, 201, "%s", r.body);
    char f[64];
    snprintf(f, sizeof f, "%s", json_string_value(json_object_get(r.json, "executionId")));
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "runtime")), "virtual");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "forkOf"), "executionId")), x);
    cr_assert_str_neq(f, x);
    http_free(&r);
    char *fork_now = state_now(&s, f);
    cr_assert_str_eq(fork_now, at2, "the fork starts where the source was at tick 2");
    free(fork_now);
    inject(&s, f, 99);
    fork_now = state_now(&s, f);
    cr_assert(strstr(fork_now, "\"buffer\":[]"), "1, 2, 99 made a batch of 3: %s", fork_now);
    char *src_now = state_now(&s, x);
    cr_assert(strstr(src_now, "\"buffer\":[4,5]"), "the source goes on as it was: %s", src_now);
    char *fork_at2 = state_at(&s, f, "2", NULL);
    cr_assert_str_eq(fork_at2, at2, "the fork's journal is the source's up to tick 2");

    /* fork errors: a tick beyond, a malformed body, an unknown execution */
    r = call(&s, "POST", "/api/executions/%s/fork", x, "{\"atTick\":50}");
    cr_assert_eq(r.status, 404, "%s", r.body);
    http_free(&r);
    r = call(&s, "POST", "/api/executions/%s/fork", x, "{\"atTick\":\"soon\"}");
    cr_assert_eq(r.status, 400, "%s", r.body);
    http_free(&r);

    cr_assert_eq(serve_kill(&s), 128 + 9);
    s = serve_start(extra);
    char *fork_back = state_now(&s, f);
    cr_assert_str_eq(fork_back, fork_now, "the fork came back as it was");
    r = call(&s, "GET", "/api/executions/%s", f, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "runtime")), "virtual");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "state")), "running");
    http_free(&r);
    char *src_back = state_now(&s, x);
    cr_assert_str_eq(src_back, src_now);
    free(fork_back);
    free(src_back);
    free(fork_now);
    free(src_now);
    free(fork_at2);
    free(at2);
    cr_assert_eq(serve_stop(&s), 0);
    serve_rmdir(dir);
}

Test(travel, in_memory_there_is_no_past) {
    const char *extra[] = {"--memory", NULL};
    server s = serve_start(extra);
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, GRAPH, "{\"completion\":\"never\"}"));
    http_resp r = call(&s, "GET", "/api/executions/%s/at/0", x, NULL);
    cr_assert_eq(r.status, 409, "%s", r.body);
    cr_assert(strstr(r.body, "keeps no journal"), "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

/* The virtual clock's own records: an inject scheduled on it that had not
 * come due, and where time commands left the clock, survive a kill -9. */
Test(travel, a_virtual_clock_and_its_scheduled_injects_come_back) {
    char dir[128];
    proc_tempdir(dir, sizeof dir, "travelvirt");
    const char *extra[] = {"--data-dir", dir, NULL};
    server s = serve_start(extra);
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, GRAPH, "{\"completion\":\"never\",\"runtime\":\"virtual\"}"));
    http_resp r = call(&s, "POST", "/api/executions/%s/inject", x, "{\"nodeId\":\"in\",\"value\":1,\"afterTicks\":3}");
    cr_assert_eq(r.status, 202, "%s", r.body);
    http_free(&r);
    r = call(&s, "POST", "/api/executions/%s/inject", x, "{\"nodeId\":\"in\",\"value\":2,\"afterTicks\":10}");
    cr_assert_eq(r.status, 202, "%s", r.body);
    http_free(&r);
    r = call(&s, "POST", "/api/executions/%s/tick", x, "{\"count\":5}"); /* the first comes due, not the second */
    cr_assert_eq(r.status, 200, "%s", r.body);
    long long time = json_integer_value(json_object_get(r.json, "time"));
    http_free(&r);
    char *before = state_now(&s, x);
    cr_assert(strstr(before, "\"buffer\":[1]"), "%s", before);
    cr_assert_eq(serve_kill(&s), 128 + 9);

    s = serve_start(extra);
    char *back = state_now(&s, x);
    cr_assert_str_eq(back, before);
    r = call(&s, "POST", "/api/executions/%s/tick", x, "{\"count\":1}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "time")), time + 1, "the clock goes on from where it was");
    cr_assert_eq(json_integer_value(json_object_get(r.json, "scheduled")), 1, "the one not yet due came back: %s",
                 r.body);
    http_free(&r);
    r = call(&s, "POST", "/api/executions/%s/tick", x, "{\"count\":10}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    char *after = state_now(&s, x);
    cr_assert(strstr(after, "\"buffer\":[1,2]"), "it came due after the restart, once: %s", after);
    /* a fork's virtual clock goes on from where the source's was */
    r = call(&s, "POST", "/api/executions/%s/tick", x, "{}");
    long long src_time = json_integer_value(json_object_get(r.json, "time"));
    http_free(&r);
    r = call(&s, "POST", "/api/executions/%s/fork", x, "{\"atTick\":\"latest\"}");
    cr_assert_eq(r.status, 201, "%s", r.body);
    char f[64];
    snprintf(f, sizeof f, "%s", json_string_value(json_object_get(r.json, "executionId")));
    http_free(&r);
    r = call(&s, "POST", "/api/executions/%s/tick", f, "{}");
    cr_assert_eq(json_integer_value(json_object_get(r.json, "time")), src_time + 1, "%s", r.body);
    http_free(&r);
    free(before);
    free(back);
    free(after);
    cr_assert_eq(serve_stop(&s), 0);
    serve_rmdir(dir);
}

/* A fork takes the injects its source had scheduled that had not come due
 * by the fork's tick: they come due on the fork's clock at their time, once,
 * and survive the fork's own restart (journaled in its journal). */
Test(travel, a_fork_takes_the_scheduled_injects_not_yet_due) {
    char dir[128];
    proc_tempdir(dir, sizeof dir, "travelfsched");
    const char *extra[] = {"--data-dir", dir, NULL};
    server s = serve_start(extra);
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, GRAPH, "{\"completion\":\"never\",\"runtime\":\"virtual\"}"));
    http_resp r = call(&s, "POST", "/api/executions/%s/inject", x, "{\"nodeId\":\"in\",\"value\":1,\"afterTicks\":2}");
    cr_assert_eq(r.status, 202, "%s", r.body);
    http_free(&r);
    r = call(&s, "POST", "/api/executions/%s/inject", x, "{\"nodeId\":\"in\",\"value\":2,\"afterTicks\":20}");
    cr_assert_eq(r.status, 202, "%s", r.body);
    http_free(&r);
    r = call(&s, "POST", "/api/executions/%s/tick", x, "{\"count\":5}"); /* the first comes due (tick 1) */
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    long long at = 0;
    char *then = state_at(&s, x, "latest", &at);
    cr_assert(strstr(then, "\"buffer\":[1]"), "%s", then);
    char body[64];
    snprintf(body, sizeof body, "{\"atTick\":%lld}", at);
    r = call(&s, "POST", "/api/executions/%s/fork", x, body);
    cr_assert_eq(r.status, 201, "%s", r.body);
    char f[64];
    snprintf(f, sizeof f, "%s", json_string_value(json_object_get(r.json, "executionId")));
    http_free(&r);
    r = call(&s, "POST", "/api/executions/%s/tick", f, "{}");
    cr_assert_eq(json_integer_value(json_object_get(r.json, "scheduled")), 1, "the one not yet due came along: %s",
                 r.body);
    http_free(&r);
    cr_assert_eq(serve_kill(&s), 128 + 9);
    s = serve_start(extra);
    r = call(&s, "POST", "/api/executions/%s/tick", f, "{\"count\":30}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    char *fork_now = state_now(&s, f), *src_now = state_now(&s, x);
    cr_assert(strstr(fork_now, "\"buffer\":[1,2]"), "it came due on the fork's clock, once: %s", fork_now);
    cr_assert(strstr(src_now, "\"buffer\":[1]"), "the source still has its own: %s", src_now);
    free(then);
    free(fork_now);
    free(src_now);
    cr_assert_eq(serve_stop(&s), 0);
    serve_rmdir(dir);
}

/* Export, replay and import (SPEC §7.2, §7.3): the journal file replays to
 * a match; imported, it is a new execution with the same states that goes
 * on from there; a file edited without its chain is refused, naming the
 * line, and nothing is made. */
Test(travel, export_replay_and_import) {
    server s = serve_start(NULL);
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, GRAPH, "{\"completion\":\"never\"}"));
    for (int i = 1; i <= 4; i++) inject(&s, x, i * 7);
    char *src = state_now(&s, x);
    http_resp r = call(&s, "GET", "/api/executions/%s/journal", x, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.headers, "application/x-ndjson"), "%s", r.headers);
    char file[128];
    proc_tempdir(file, sizeof file, "journalfile");
    char path[256];
    snprintf(path, sizeof path, "%s/j.ndjson", file);
    FILE *f = fopen(path, "w");
    fputs(r.body, f);
    fclose(f);
    char *text = strdup(r.body);
    http_free(&r);

    char cmd[512];
    snprintf(cmd, sizeof cmd, WEIR_BINARY " replay %s", path);
    proc_result pr = proc_run(cmd);
    cr_assert_eq(pr.status, 0, "%s\n%s", pr.out, pr.err);
    cr_assert_str_eq(pr.out, "match (5 inputs, 4 waves)\n");
    proc_free(&pr);

    r = http_req(&s, "POST", "/api/executions/import", text, "application/x-ndjson");
    cr_assert_eq(r.status, 201, "%s", r.body);
    char y[64];
    snprintf(y, sizeof y, "%s", json_string_value(json_object_get(r.json, "executionId")));
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "runtime")), "virtual");
    http_free(&r);
    char *imported = state_now(&s, y);
    cr_assert_str_eq(imported, src, "the imported execution is where the exported one was");
    inject(&s, y, 99);
    char *later = state_now(&s, y);
    cr_assert(strstr(later, "\"buffer\":[28,99]"), "it goes on: %s", later);

    /* edited without its chain: refused, nothing made */
    r = http_req(&s, "GET", "/api/executions", NULL, NULL);
    size_t before = json_array_size(r.json);
    http_free(&r);
    char *edit = strstr(text, "\"value\":14");
    cr_assert(edit, "%s", text);
    edit[9] = '5';
    r = http_req(&s, "POST", "/api/executions/import", text, "application/x-ndjson");
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(r.body, "line 3: hash chain broken"), "%s", r.body);
    http_free(&r);
    r = http_req(&s, "GET", "/api/executions", NULL, NULL);
    cr_assert_eq(json_array_size(r.json), before, "nothing was made");
    http_free(&r);
    r = http_req(&s, "POST", "/api/executions/import", "{}", "application/json");
    cr_assert_eq(r.status, 415, "%s", r.body);
    http_free(&r);

    free(text);
    free(src);
    free(imported);
    free(later);
    serve_rmdir(file);
    cr_assert_eq(serve_stop(&s), 0);
}

/* Stepped waves (the virtual runtime's step): a tick whose wave a step left
 * open is shown at its end; a tick inside the queue that turning stepping
 * off drained in one input is reached by stepping. */
Test(travel, ticks_of_stepped_waves) {
    server s = serve_start(NULL);
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, GRAPH, "{\"completion\":\"never\",\"runtime\":\"virtual\"}"));
    http_resp r = call(&s, "POST", "/api/executions/%s/step", x, "{}"); /* stepping on: nothing to step */
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    inject(&s, x, 7); /* queued: stepping */
    r = call(&s, "POST", "/api/executions/%s/step", x, "{}"); /* wave 1 starts: in */
    http_free(&r);
    r = call(&s, "POST", "/api/executions/%s/step", x, "{}"); /* acc: wave 1 ends */
    http_free(&r);
    for (int v = 1; v <= 3; v++) inject(&s, x, v); /* queued */
    r = call(&s, "POST", "/api/executions/%s/tick", x, "{}"); /* stepping off: drains the three */
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    const char *want[] = {NULL, "[7]", "[7,1]", "[]", "[3]"};
    buffers_at(&s, x, want, 4);
    r = call(&s, "POST", "/api/executions/%s/fork", x, "{\"atTick\":2}");
    cr_assert_eq(r.status, 201, "a fork inside the drained queue: %s", r.body);
    char f[64];
    snprintf(f, sizeof f, "%s", json_string_value(json_object_get(r.json, "executionId")));
    http_free(&r);
    char *fs = state_now(&s, f);
    cr_assert(strstr(fs, "\"buffer\":[7,1]"), "%s", fs);
    free(fs);
    cr_assert_eq(serve_stop(&s), 0);
}

/* A fork copies its whole past into its own journal: longer than the
 * journal's queue, it waits for the disk on the way instead of failing. */
Test(travel, a_fork_longer_than_the_journal_queue) {
    const char *extra[] = {"--journal-queue-max", "50", NULL};
    server s = serve_start(extra);
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, GRAPH, "{\"completion\":\"never\"}"));
    for (int i = 1; i <= 80; i++) inject(&s, x, i);
    http_resp r = call(&s, "POST", "/api/executions/%s/fork", x, "{\"atTick\":\"latest\"}");
    cr_assert_eq(r.status, 201, "%s", r.body);
    char f[64];
    snprintf(f, sizeof f, "%s", json_string_value(json_object_get(r.json, "executionId")));
    http_free(&r);
    char *a = state_now(&s, x), *b = state_now(&s, f);
    cr_assert_str_eq(a, b);
    free(a);
    free(b);
    cr_assert_eq(serve_stop(&s), 0);
}

/* JOURNAL_MAX_BYTES: past it, a finished execution and its journal go at
 * the next start, oldest first, long before the bounded history would. */
Test(travel, finished_journals_go_sooner_past_the_size_cap) {
    const char *extra[] = {"--journal-max-bytes", "1", NULL};
    server s = serve_start(extra);
    char a[64], b[64];
    snprintf(a, sizeof a, "%s", serve_execute(&s, GRAPH, "{\"completion\":\"never\"}"));
    inject(&s, a, 1);
    http_resp r = call(&s, "POST", "/api/executions/%s/stop", a, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    snprintf(b, sizeof b, "%s", serve_execute(&s, GRAPH, "{\"completion\":\"never\"}"));
    r = call(&s, "GET", "/api/executions/%s", a, NULL);
    cr_assert_eq(r.status, 404, "the finished one went: %s", r.body);
    http_free(&r);
    r = call(&s, "GET", "/api/executions/%s", b, NULL);
    cr_assert_eq(r.status, 200, "the running one stays: %s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

/* Injects scheduled on the virtual clock that come due together while the
 * journal's queue is small are never refused (they were answered 202): the
 * ones that find no room wait for it. */
Test(travel, scheduled_injects_coming_due_are_never_refused) {
    const char *extra[] = {"--journal-queue-max", "8", NULL};
    server s = serve_start(extra);
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, GRAPH, "{\"completion\":\"never\",\"runtime\":\"virtual\"}"));
    for (int v = 1; v <= 6; v++) {
        char body[128];
        snprintf(body, sizeof body, "{\"nodeId\":\"in\",\"value\":%d,\"atTick\":1}", v);
        http_resp r = call(&s, "POST", "/api/executions/%s/inject", x, body);
        cr_assert_eq(r.status, 202, "%s", r.body);
        http_free(&r);
    }
    http_resp r = call(&s, "POST", "/api/executions/%s/tick", x, "{}");
    http_free(&r);
    char *st = NULL;
    for (int i = 0; i < 200; i++) { /* batches of 3: [1,2,3] [4,5,6] flushed, then nothing left */
        free(st);
        st = state_now(&s, x);
        r = call(&s, "GET", "/api/executions/%s", x, NULL);
        long long processed =
            json_integer_value(json_object_get(json_object_get(r.json, "metrics"), "messagesProcessed"));
        http_free(&r);
        if (processed >= 6 * 2 + 2 * 1) break; /* 6 injects × 2 hops + 2 batches to out */
        usleep(10000);
    }
    r = call(&s, "GET", "/api/executions/%s", x, NULL);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(r.json, "metrics"), "messagesProcessed")), 14,
                 "every scheduled inject came due: %s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "state")), "running");
    http_free(&r);
    free(st);
    cr_assert_eq(serve_stop(&s), 0);
}

/* A snapshot taken right after an input at tick T that was not a wave (a
 * pause) holds more than the end of wave T: time travel to T does not use
 * it. */
Test(travel, a_snapshot_at_the_tick_is_not_taken_for_it) {
    const char *extra[] = {"--snapshot-every", "4", NULL};
    server s = serve_start(extra);
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, GRAPH, "{\"completion\":\"never\"}"));
    inject(&s, x, 1);
    inject(&s, x, 2);
    http_resp r = call(&s, "POST", "/api/executions/%s/pause", x, NULL); /* the 4th input: a snapshot at tick 2 */
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    r = call(&s, "GET", "/api/executions/%s/at/2", x, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "state")), "running",
                     "at the end of wave 2 it was running: %s", r.body);
    http_free(&r);
    r = call(&s, "GET", "/api/executions/%s/at/latest", x, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "state")), "paused", "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

/* Bytes the journal's database holds, as JOURNAL_MAX_BYTES counts them
 * (the server stopped: its input logs are applied). */
static long long db_bytes(const char *data, const char *exec_body_of) {
    char db[256], q[256];
    if (exec_body_of)
        snprintf(q, sizeof q, "SELECT sum(length(body)) FROM journal WHERE exec_id = '%s'", exec_body_of);
    else
        snprintf(q, sizeof q,
                 "SELECT (p.page_count - f.freelist_count) * s.page_size FROM pragma_page_count() p, "
                 "pragma_freelist_count() f, pragma_page_size() s");
    return sqlq_int(sqlq_db_of(db, sizeof db, data), q);
}

static int stored_execution(const char *data, const char *id) {
    char db[256], q[256];
    snprintf(q, sizeof q, "SELECT count(*) FROM executions WHERE id = '%s'", id);
    return (int)sqlq_int(sqlq_db_of(db, sizeof db, data), q);
}

/* JOURNAL_MAX_BYTES: one finished journal deleted brings the journal under
 * the cap, so starts that come right after it delete no more (a delete
 * still in the journal's input log has freed nothing yet: the size is
 * measured once it is applied). */
Test(travel, past_the_size_cap_a_start_deletes_only_what_brings_it_under) {
    char data[64];
    proc_tempdir(data, sizeof data, "cap");
    const char *plain[] = {"--data-dir", data, NULL};
    server s = serve_start(plain);
    char ids[4][64];
    static char body[9000];
    for (int k = 0; k < 4; k++) {
        char x[64];
        snprintf(x, sizeof x, "%s", serve_execute(&s, GRAPH, "{\"completion\":\"never\"}"));
        memcpy(ids[k], x, sizeof x);
        for (int i = 0; i < 40; i++) {
            int n = snprintf(body, sizeof body, "{\"nodeId\":\"in\",\"value\":\"%d:", i);
            memset(body + n, 'x', 8000);
            snprintf(body + n + 8000, sizeof body - (size_t)n - 8000, "\"}");
            http_resp r = call(&s, "POST", "/api/executions/%s/inject", x, body);
            cr_assert(r.status == 200 || r.status == 202, "%ld %s", r.status, r.body);
            http_free(&r);
        }
        http_resp r = call(&s, "POST", "/api/executions/%s/stop", x, NULL);
        cr_assert_eq(r.status, 200, "%s", r.body);
        http_free(&r);
    }
    cr_assert_eq(serve_stop(&s), 0);
    long long all = db_bytes(data, NULL), one = db_bytes(data, ids[0]);
    cr_assert_gt(one, 300000, "%lld", one);
    /* over the cap by half of one journal: deleting the oldest is enough */
    char cap[32];
    snprintf(cap, sizeof cap, "%lld", all - one / 2);
    const char *capped[] = {"--data-dir", data, "--journal-max-bytes", cap, NULL};
    s = serve_start(capped);
    http_resp g = http_req(&s, "POST", "/api/graphs", GRAPH, NULL);
    cr_assert_eq(g.status, 201, "%s", g.body);
    char path[256];
    snprintf(path, sizeof path, "/api/graphs/%s/execute", json_string_value(json_object_get(g.json, "id")));
    http_free(&g);
    for (int k = 0; k < 3; k++) {
        http_resp x = http_req(&s, "POST", path, "{\"completion\":\"never\"}", NULL);
        cr_assert_eq(x.status, 201, "%s", x.body);
        http_free(&x);
    }
    cr_assert_eq(serve_stop(&s), 0);
    cr_assert_eq(stored_execution(data, ids[0]), 0, "the oldest finished journal went");
    for (int k = 1; k < 4; k++)
        cr_assert_eq(stored_execution(data, ids[k]), 1, "finished journal %d of 4 was deleted too, though the cap "
                     "(%s bytes) was met once the oldest went (%lld bytes before, the oldest %lld)", k + 1, cap, all,
                     one);
    serve_rmdir(data);
}
