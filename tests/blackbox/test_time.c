/* weir serve, black-box over loopback: time under control (SPEC §4.5) —
 * runtime selection and switching with the five log lines, the virtual
 * runtime's tick / advance / run / step / pause over REST, scheduled
 * injects, mocks, and the errors of each. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "oneshot.h"
#include "proc.h"
#include "serve.h"

#define PT(id) "{\"id\":\"" id "\",\"component\":\"symbia.core.passthrough\"}"
#define EDGE(a, b) "{\"source\":{\"node\":\"" a "\",\"port\":\"out\"},\"target\":{\"node\":\"" b "\",\"port\":\"in\"}}"
/* a → d (delay 50 ms) → z */
#define DELAY_GRAPH(meta)                                                                                            \
    "{\"symbia\":\"1.0\",\"name\":\"delayed\"" meta ",\"nodes\":[" PT("a") ",{\"id\":\"d\",\"component\":"          \
    "\"symbia.core.delay\",\"config\":{\"delayMs\":50}}," PT("z") "],\"edges\":[" EDGE("a", "d") "," EDGE("d", "z") "]}"
#define HTTP_GRAPH                                                                                                   \
    "{\"symbia\":\"1.0\",\"name\":\"fetch\",\"nodes\":[{\"id\":\"get\",\"component\":\"symbia.io.http-request\","  \
    "\"config\":{\"url\":\"http://payments.test/p/{{value}}\"}}," PT("ok") "," PT("bad") "],\"edges\":["             \
    "{\"source\":{\"node\":\"get\",\"port\":\"out\"},\"target\":{\"node\":\"ok\",\"port\":\"in\"}},"                 \
    "{\"source\":{\"node\":\"get\",\"port\":\"error\"},\"target\":{\"node\":\"bad\",\"port\":\"in\"}}]}"

static const char *str(http_resp *r, const char *key) { return json_string_value(json_object_get(r->json, key)); }
static json_int_t num(http_resp *r, const char *key) { return json_integer_value(json_object_get(r->json, key)); }

static char id[64];

static const char *execute(server *s, const char *graph, const char *opts) {
    snprintf(id, sizeof id, "%s", serve_execute(s, graph, opts));
    return id;
}

/* POST /api/executions/<id>/<op> with body; the caller frees. */
static http_resp op(server *s, const char *what, const char *body) {
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/%s", id, what);
    return http_req(s, "POST", path, body, NULL);
}

/* messagesProcessed of the execution once it reaches want, or what it was
 * after 2 s of wall-clock time (a realtime timer firing). */
static json_int_t processed_by_wall_clock(server *s, json_int_t want) {
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s", id);
    json_int_t processed = 0;
    for (int i = 0; i < 400 && processed < want; i++) {
        usleep(5000);
        http_resp r = http_req(s, "GET", path, NULL, NULL);
        processed = json_integer_value(json_object_get(json_object_get(r.json, "metrics"), "messagesProcessed"));
        http_free(&r);
    }
    return processed;
}

static json_t *settled_outputs(http_resp *r, size_t i) {
    return json_object_get(json_array_get(json_object_get(r->json, "settled"), i), "outputs");
}

Test(time, selection_and_the_five_log_lines) {
    server s = serve_start(NULL);
    execute(&s, DELAY_GRAPH(",\"metadata\":{\"runtime\":\"virtual\"}"), NULL);
    http_resp x = http_req(&s, "GET", "/api/executions", NULL, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(x.json, 0), "runtime")), "virtual",
                     "metadata.runtime selects: %s", x.body);
    http_free(&x);
    execute(&s, DELAY_GRAPH(",\"metadata\":{\"runtime\":\"virtual\"}"), "{\"runtime\":\"realtime\"}");
    x = http_req(&s, "GET", "/api/executions", NULL, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(x.json, 1), "runtime")), "realtime",
                     "the execute option wins: %s", x.body);
    http_free(&x);
    execute(&s, DELAY_GRAPH(""), "{\"runtime\":\"warp-drive\"}");
    x = http_req(&s, "GET", "/api/executions", NULL, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(x.json, 2), "runtime")), "realtime",
                     "an unknown name falls back to the default: %s", x.body);
    http_free(&x);
    const char *log = serve_log(&s);
    cr_assert(strstr(log, "Requesting runtime: virtual\n"), "%s", log);
    cr_assert(strstr(log, "Loaded runtime from registry: virtual\n"), "%s", log);
    cr_assert(strstr(log, "Successfully initialized runtime: virtual\n"), "%s", log);
    cr_assert(strstr(log, "Requesting runtime: warp-drive\n"), "%s", log);
    cr_assert(strstr(log, "Unknown runtime warp-drive, falling back to default: realtime\n"), "%s", log);
    /* switching: the old runtime is destroyed first, then the new one made */
    http_resp r = op(&s, "runtime", "{\"runtime\":\"virtual\"}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(str(&r, "runtime"), "virtual");
    cr_assert_str_eq(str(&r, "from"), "realtime");
    http_free(&r);
    log = serve_log(&s);
    const char *d = strstr(log, "Destroying runtime: realtime\n");
    cr_assert_not_null(d, "%s", log);
    const char *q = strstr(d, "Requesting runtime: virtual\n");
    cr_assert_not_null(q, "destroy comes before the new one is requested: %s", log);
    cr_assert_not_null(strstr(q, "Successfully initialized runtime: virtual\n"), "%s", log);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(time, default_runtime_setting) {
    const char *extra[] = {"--default-runtime", "virtual", "--tick-ms", "10", NULL};
    server s = serve_start(extra);
    execute(&s, DELAY_GRAPH(""), NULL);
    http_resp r = op(&s, "inject", "{\"nodeId\":\"a\",\"value\":1}");
    cr_assert_eq(r.status, 202, "waits for virtual time: %s", r.body);
    http_free(&r);
    r = op(&s, "tick", "{\"count\":4}");
    cr_assert_eq(json_array_size(json_object_get(r.json, "settled")), 0, "40 ms: not yet: %s", r.body);
    http_free(&r);
    r = op(&s, "tick", NULL);
    cr_assert_eq(num(&r, "tick"), 5);
    cr_assert_eq(json_integer_value(json_object_get(settled_outputs(&r, 0), "z:out")), 1, "tick 5 = 50 ms: %s",
                 r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
    proc_result bad = proc_run(WEIR_BINARY " serve --port 0 --default-runtime sundial");
    cr_assert_eq(bad.status, 2, "%s", bad.err);
    cr_assert(strstr(bad.err, "DEFAULT_RUNTIME must be realtime or virtual (got \"sundial\")"), "%s", bad.err);
    proc_free(&bad);
    bad = proc_run(WEIR_BINARY " serve --port 0 --tick-ms 0");
    cr_assert_eq(bad.status, 2, "%s", bad.err);
    cr_assert(strstr(bad.err, "TICK_MS must be at least 1"), "%s", bad.err);
    proc_free(&bad);
}

Test(time, tick_advance_run_and_scheduled_injects) {
    server s = serve_start(NULL);
    execute(&s, DELAY_GRAPH(""), "{\"runtime\":\"virtual\",\"completion\":\"never\"}");
    http_resp r = op(&s, "inject", "{\"nodeId\":\"a\",\"value\":7}");
    cr_assert_eq(r.status, 202, "%s", r.body);
    cr_assert(json_is_false(json_object_get(r.json, "settled")));
    http_free(&r);
    r = op(&s, "inject", "{\"nodeId\":\"a\",\"value\":8,\"afterTicks\":100}");
    cr_assert_eq(r.status, 202, "%s", r.body);
    cr_assert_eq(num(&r, "atTick"), 100);
    http_free(&r);
    r = op(&s, "inject", "{\"nodeId\":\"a\",\"value\":9,\"atTick\":120}");
    cr_assert_eq(r.status, 202, "%s", r.body);
    http_free(&r);

    r = op(&s, "tick", "{\"count\":49}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(num(&r, "tick"), 49);
    cr_assert_eq(num(&r, "scheduled"), 2);
    cr_assert_eq(json_array_size(json_object_get(r.json, "settled")), 0);
    http_free(&r);
    r = op(&s, "tick", NULL);
    cr_assert_eq(json_integer_value(json_object_get(settled_outputs(&r, 0), "z:out")), 7, "%s", r.body);
    http_free(&r);
    r = op(&s, "advance", "{\"ms\":60}");
    cr_assert_eq(num(&r, "tick"), 110);
    cr_assert_eq(num(&r, "pending"), 2, "the scheduled 8's delay and the inject at 120: %s", r.body);
    http_free(&r);
    r = op(&s, "run", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(str(&r, "stoppedBy"), "idle");
    cr_assert_eq(num(&r, "tick"), 170, "9 was injected at 120, out at 170: %s", r.body);
    cr_assert_eq(num(&r, "pending"), 0);
    http_free(&r);
    /* errors */
    r = op(&s, "inject", "{\"nodeId\":\"a\",\"value\":1,\"atTick\":5}");
    cr_assert_eq(r.status, 400, "a tick that has passed: %s", r.body);
    cr_assert(strstr(str(&r, "error"), "passed"), "%s", r.body);
    http_free(&r);
    r = op(&s, "inject", "{\"nodeId\":\"nope\",\"value\":1,\"afterTicks\":5}");
    cr_assert_eq(r.status, 400, "an unknown node is refused when scheduled: %s", r.body);
    cr_assert(strstr(str(&r, "error"), "its nodes are: a, d, z"), "%s", r.body);
    http_free(&r);
    r = op(&s, "advance", "{\"ms\":-1}");
    cr_assert_eq(r.status, 400, "%s", r.body);
    http_free(&r);
    r = op(&s, "tick", "{\"count\":0}");
    cr_assert_eq(r.status, 400, "%s", r.body);
    http_free(&r);
    r = op(&s, "run", "{\"maxTicks\":\"lots\"}");
    cr_assert_eq(r.status, 400, "%s", r.body);
    http_free(&r);
    r = http_req(&s, "POST", "/api/executions/no-such/tick", NULL, NULL);
    cr_assert_eq(r.status, 404, "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(time, run_is_bounded_and_pause_stops_playing) {
    server s = serve_start(NULL);
    execute(&s, DELAY_GRAPH(""), "{\"runtime\":\"virtual\",\"completion\":\"never\"}");
    http_resp r = op(&s, "inject", "{\"nodeId\":\"a\",\"value\":1}");
    http_free(&r);
    r = op(&s, "run", "{\"maxTicks\":20}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(str(&r, "stoppedBy"), "maxTicks");
    cr_assert_eq(num(&r, "tick"), 20);
    cr_assert_eq(num(&r, "played"), 20);
    http_free(&r);
    r = op(&s, "pause", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    r = op(&s, "tick", "{\"count\":40}");
    cr_assert_eq(r.status, 200, "time moves while paused; what falls due queues: %s", r.body);
    cr_assert_eq(json_array_size(json_object_get(r.json, "settled")), 0, "%s", r.body);
    http_free(&r);
    r = op(&s, "resume", NULL);
    http_free(&r);
    r = op(&s, "tick", NULL);
    cr_assert_eq(json_integer_value(json_object_get(settled_outputs(&r, 0), "z:out")), 1,
                 "the queued timer ran on resume: %s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(time, mocks_answer_http_and_can_change) {
    server s = serve_start(NULL);
    execute(&s, HTTP_GRAPH,
            "{\"runtime\":\"virtual\",\"completion\":\"never\",\"mocks\":[{\"match\":{\"method\":\"GET\",\"url\":"
            "\"http://payments.test/p/*\"},\"response\":{\"status\":200,\"body\":{\"status\":\"pending\"}},"
            "\"latencyMs\":30}]}");
    http_resp r = op(&s, "inject", "{\"nodeId\":\"get\",\"value\":\"p1\"}");
    http_free(&r);
    r = op(&s, "run", NULL);
    json_t *out = json_object_get(settled_outputs(&r, 0), "ok:out");
    cr_assert_eq(json_integer_value(json_object_get(out, "status")), 200, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "body"), "status")), "pending");
    cr_assert_eq(num(&r, "tick"), 30, "the mock's latency: %s", r.body);
    http_free(&r);
    /* the same runtime again: only the mocks change, the clock stays */
    r = op(&s, "runtime",
           "{\"runtime\":\"virtual\",\"mocks\":[{\"match\":{\"url\":\"http://payments.test/p/*\"},\"response\":{"
           "\"status\":200,\"body\":{\"status\":\"captured\"}}}]}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(num(&r, "tick"), 30);
    http_free(&r);
    r = op(&s, "inject", "{\"nodeId\":\"get\",\"value\":\"p1\"}");
    http_free(&r);
    r = op(&s, "tick", NULL);
    out = json_object_get(settled_outputs(&r, 0), "ok:out");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "body"), "status")), "captured", "%s",
                     r.body);
    http_free(&r);
    r = op(&s, "runtime", "{\"runtime\":\"virtual\",\"mocks\":[{\"match\":[]}]}");
    cr_assert_eq(r.status, 400, "bad mocks are refused: %s", r.body);
    cr_assert(strstr(str(&r, "error"), "mocks[0]"), "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(time, switching_carries_timers_over_and_refuses_what_would_be_lost) {
    server s = serve_start(NULL);
    execute(&s, DELAY_GRAPH(""), "{\"runtime\":\"virtual\",\"completion\":\"never\"}");
    http_resp r = op(&s, "inject", "{\"nodeId\":\"a\",\"value\":5}");
    http_free(&r);
    r = op(&s, "tick", "{\"count\":45}");
    http_free(&r);
    r = op(&s, "inject", "{\"nodeId\":\"a\",\"value\":6,\"afterTicks\":10}");
    http_free(&r);
    r = op(&s, "runtime", "{\"runtime\":\"realtime\"}");
    cr_assert_eq(r.status, 409, "a scheduled inject would be lost: %s", r.body);
    cr_assert(strstr(str(&r, "error"), "scheduled"), "%s", r.body);
    http_free(&r);
    r = op(&s, "tick", "{\"count\":10}");
    http_free(&r);
    r = op(&s, "runtime", "{\"runtime\":\"realtime\"}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    /* 6 was injected at tick 55 and has 50 ms left on the wall clock */
    cr_assert_eq(processed_by_wall_clock(&s, 6), 6, "the carried timer fired on the realtime runtime");
    r = op(&s, "tick", NULL);
    cr_assert_eq(r.status, 409, "%s", r.body);
    cr_assert(strstr(str(&r, "error"), "needs the virtual runtime"), "%s", r.body);
    http_free(&r);
    r = op(&s, "runtime", "{}");
    cr_assert_eq(r.status, 400, "%s", r.body);
    http_free(&r);
    r = op(&s, "stop", NULL);
    http_free(&r);
    r = op(&s, "runtime", "{\"runtime\":\"virtual\"}");
    cr_assert_eq(r.status, 409, "a finished execution has no runtime to switch: %s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(time, openapi_lists_the_time_routes) {
    server s = serve_start(NULL);
    http_resp r = http_req(&s, "GET", "/api/openapi.json", NULL, NULL);
    json_t *paths = json_object_get(r.json, "paths");
    const char *ops[] = {"runtime", "tick", "advance", "run", "step"};
    for (size_t i = 0; i < 5; i++) {
        char p[128];
        snprintf(p, sizeof p, "/api/executions/{id}/%s", ops[i]);
        cr_assert_not_null(json_object_get(json_object_get(paths, p), "post"), "%s", p);
    }
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

/* Two clients switching one execution back and forth at the same time:
 * every request is answered, and each switch's log lines come as one block
 * (serialised, never interleaved). */
typedef struct switcher {
    server *s;
    const char *body;
    int ok;
} switcher;

static void *switch_many(void *arg) {
    switcher *w = arg;
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/runtime", id);
    for (int i = 0; i < 15; i++) {
        http_resp r = http_req(w->s, "POST", path, w->body, NULL);
        w->ok += r.status == 200;
        http_free(&r);
    }
    return NULL;
}

Test(time, concurrent_switches_are_serialised) {
    server s = serve_start(NULL);
    execute(&s, DELAY_GRAPH(""), "{\"completion\":\"never\"}");
    http_resp r = op(&s, "inject", "{\"nodeId\":\"a\",\"value\":1}"); /* a timer to carry back and forth */
    http_free(&r);
    switcher a = {&s, "{\"runtime\":\"virtual\"}", 0}, b = {&s, "{\"runtime\":\"realtime\"}", 0};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, switch_many, &a);
    pthread_create(&tb, NULL, switch_many, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    cr_assert_eq(a.ok + b.ok, 30, "every switch answered 200");
    const char *log = serve_log(&s);
    int destroys = 0;
    for (const char *p = strstr(log, "Destroying runtime: "); p; p = strstr(p + 1, "Destroying runtime: ")) {
        destroys++;
        const char *done = strstr(p, "Successfully initialized runtime: ");
        const char *next = strstr(p + 1, "Destroying runtime: ");
        cr_assert_not_null(done, "%s", log);
        cr_assert(!next || done < next, "a switch's lines are one block:\n%s", log);
    }
    cr_assert_gt(destroys, 0, "%s", log);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(time, unmocked_http_is_performed_for_real_and_a_run_waits_for_it) {
    oneshot srv;
    oneshot_start(&srv, "GET /p/7 ", "{\"status\":\"pending\"}", 1);
    const char *extra[] = {"--egress-allow-private", "true", NULL};
    server s = serve_start(extra);
    char graph[1024];
    snprintf(graph, sizeof graph,
             "{\"symbia\":\"1.0\",\"name\":\"real\",\"nodes\":[{\"id\":\"get\",\"component\":"
             "\"symbia.io.http-request\",\"config\":{\"url\":\"http://127.0.0.1:%d/p/{{value}}\"}}," PT("ok") "],"
             "\"edges\":[{\"source\":{\"node\":\"get\",\"port\":\"out\"},\"target\":{\"node\":\"ok\",\"port\":"
             "\"in\"}}]}",
             srv.port);
    execute(&s, graph, "{\"runtime\":\"virtual\",\"completion\":\"never\"}");
    http_resp r = op(&s, "inject", "{\"nodeId\":\"get\",\"value\":7}");
    cr_assert_eq(r.status, 202, "%s", r.body);
    http_free(&r);
    r = op(&s, "run", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(str(&r, "stoppedBy"), "idle", "%s", r.body);
    json_t *out = json_object_get(settled_outputs(&r, 0), "ok:out");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "body"), "status")), "pending", "%s",
                     r.body);
    cr_assert_eq(num(&r, "tick"), 1, "delivered at the first tick after it came back: %s", r.body);
    http_free(&r);
    oneshot_stop(&srv);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(time, step_walks_one_node_invocation_at_a_time) {
    server s = serve_start(NULL);
    execute(&s, DELAY_GRAPH(""), "{\"runtime\":\"virtual\",\"completion\":\"never\"}");
    http_resp r = op(&s, "inject", "{\"nodeId\":\"a\",\"value\":4,\"atTick\":3}");
    http_free(&r);
    r = op(&s, "step", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(num(&r, "tick"), 3, "the clock moved to what was due: %s", r.body);
    json_t *st = json_array_get(json_object_get(r.json, "steps"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(st, "nodeId")), "a", "%s", r.body);
    cr_assert(json_is_false(json_object_get(st, "waveDone")), "%s", r.body);
    http_free(&r);
    r = op(&s, "inject", "{\"nodeId\":\"a\",\"value\":5}");
    cr_assert_eq(r.status, 202, "while stepping, an inject queues: %s", r.body);
    cr_assert(json_is_true(json_object_get(r.json, "queued")), "%s", r.body);
    http_free(&r);
    r = op(&s, "step", "{\"count\":10}");
    json_t *steps = json_object_get(r.json, "steps");
    /* d (the rest of wave 1), then the queued 5: a, d; then the timers at tick 53 */
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(steps, 0), "nodeId")), "d", "%s", r.body);
    cr_assert(json_is_true(json_object_get(json_array_get(steps, 0), "waveDone")), "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(steps, 1), "nodeId")), "a", "%s", r.body);
    cr_assert_eq(json_array_size(steps), 7, "d | a d | resume d, z | resume d, z: %s", r.body);
    cr_assert(json_is_true(json_object_get(json_array_get(steps, 3), "resumed")), "%s", r.body);
    cr_assert(json_is_true(json_object_get(r.json, "idle")), "fewer than 10 were left: %s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(settled_outputs(&r, 0), "z:out")), 5,
                 "the REST inject settled (a scheduled one has no caller waiting): %s", r.body);
    cr_assert_eq(num(&r, "tick"), 53);
    http_free(&r);
    r = op(&s, "step", "{\"count\":0}");
    cr_assert_eq(r.status, 400, "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(time, a_switch_finishes_an_open_wave_and_ends_a_run) {
    server s = serve_start(NULL);
    execute(&s, DELAY_GRAPH(""), "{\"runtime\":\"virtual\",\"completion\":\"never\"}");
    http_resp r = op(&s, "inject", "{\"nodeId\":\"a\",\"value\":3,\"atTick\":2}");
    http_free(&r);
    r = op(&s, "step", NULL); /* a's invocation: the wave stays open (d is next) */
    cr_assert(json_is_false(json_object_get(json_array_get(json_object_get(r.json, "steps"), 0), "waveDone")), "%s",
              r.body);
    http_free(&r);
    r = op(&s, "runtime", "{\"runtime\":\"realtime\"}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    /* the wave was finished first: d requested its timer, now on the wall clock (50 ms) */
    cr_assert_eq(processed_by_wall_clock(&s, 3), 3, "a, d, then z after the carried timer");
    cr_assert_eq(serve_stop(&s), 0);
}

/* SPEC §10: counts and times that would overflow the virtual clock are 400,
 * and nothing moves.  Before, {"ms": INT64_MAX} answered 200 with a negative
 * time (and aborted under UBSan). */
Test(time, the_clock_refuses_to_overflow) {
    server s = serve_start(NULL);
    execute(&s, DELAY_GRAPH(""), "{\"runtime\":\"virtual\",\"completion\":\"never\"}");
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s", id);
    http_resp r = http_req(&s, "GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    r = op(&s, "advance", "{\"ms\":9223372036854775807}");
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(str(&r, "error"), "past the end of the virtual clock's range"), "%s", r.body);
    http_free(&r);
    r = op(&s, "tick", "{\"count\":1}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(num(&r, "tick"), 1, "nothing moved before: %s", r.body);
    json_int_t t1 = num(&r, "time"); /* the clock's start + 1 tick of 1 ms */
    http_free(&r);
    /* to two ticks before the end: the last time is INT64_MAX - 1 */
    json_int_t room = (INT64_MAX - 1) - t1 - 2;
    char body[128];
    snprintf(body, sizeof body, "{\"ms\":%lld}", (long long)room);
    r = op(&s, "advance", body);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(num(&r, "time"), INT64_MAX - 3, "%s", r.body);
    json_int_t last = num(&r, "tick") + 2;
    http_free(&r);

    const char *refused[] = {"tick", "{\"count\":3}", "run", "{\"maxTicks\":3}", "advance", "{\"ms\":3}",
                             "inject", "{\"nodeId\":\"a\",\"value\":1,\"afterTicks\":3}"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i += 2) {
        r = op(&s, refused[i], refused[i + 1]);
        cr_assert_eq(r.status, 400, "%s %s: %s", refused[i], refused[i + 1], r.body);
        cr_assert(strstr(str(&r, "error"), "past the end"), "%s", r.body);
        http_free(&r);
    }
    snprintf(body, sizeof body, "{\"nodeId\":\"a\",\"value\":1,\"atTick\":%lld}", (long long)last + 1);
    r = op(&s, "inject", body);
    cr_assert_eq(r.status, 400, "%s", r.body);
    http_free(&r);
    r = op(&s, "inject", "{\"nodeId\":\"a\",\"value\":1,\"afterTicks\":9223372036854775807}");
    cr_assert_eq(r.status, 400, "%s", r.body);
    http_free(&r);
    snprintf(body, sizeof body, "{\"nodeId\":\"a\",\"value\":2,\"atTick\":%lld}", (long long)last);
    r = op(&s, "inject", body);
    cr_assert_eq(r.status, 202, "the last tick is in range: %s", r.body);
    http_free(&r);
    /* what is left is fine: two ticks, then the end */
    r = op(&s, "tick", "{\"count\":2}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(num(&r, "tick"), last, "%s", r.body);
    cr_assert_eq(num(&r, "time"), INT64_MAX - 1, "%s", r.body);
    http_free(&r);
    r = op(&s, "tick", NULL);
    cr_assert_eq(r.status, 400, "%s", r.body);
    http_free(&r);
    r = op(&s, "run", NULL);
    cr_assert_eq(r.status, 200, "a run with no bound plays what is left (nothing): %s", r.body);
    cr_assert_eq(num(&r, "tick"), last, "%s", r.body);
    http_free(&r);
    r = http_req(&s, "GET", "/health", NULL, NULL);
    cr_assert_eq(r.status, 200);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}
