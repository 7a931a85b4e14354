/*
 * The component host with real Node.js processes on a real loop: load and
 * invoke, state chained between calls of one instance, emitBatch and logs,
 * compile errors, throws, a runaway loop killed at the time limit and the
 * process replaced, a memory blowup (heap, ArrayBuffers, WebAssembly), what
 * user code cannot reach, the queue bound, cancel, which node runs (PATH, a
 * path, too old, missing), destroy with calls in flight.  The loop is
 * stepped until a condition holds, never slept on; every test ends with the
 * host destroyed, the loop drained and closed.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "proc.h"
#include "weir/weir.h"

#define BOUND_NS (60ull * 1000 * 1000 * 1000) /* generous: node starts slowly under sanitizers */

typedef struct answer {
    bool got;
    json_t *answer;
    char *error;
    int order;
} answer;

static int answered; /* answers so far, in order */

static void on_done(void *ud, json_t *a, const char *err) {
    answer *r = ud;
    cr_assert(!r->got, "done called twice");
    r->got = true;
    r->answer = a ? json_incref(a) : NULL;
    r->error = err ? strdup(err) : NULL;
    r->order = ++answered;
}

static void answer_free(answer *r) {
    json_decref(r->answer);
    free(r->error);
    *r = (answer){0};
}

static uv_loop_t loop;
static weir_host *host;

static void setup(void) {
    cr_assert_eq(uv_loop_init(&loop), 0);
    answered = 0;
}

static void start(unsigned pool, int64_t timeout_ms, unsigned memory_mb, size_t max_queue) {
    weir_host_options o = {.pool_size = pool, .timeout_ms = timeout_ms, .memory_mb = memory_mb, .max_queue = max_queue};
    weir_error err;
    cr_assert_eq(weir_host_create(&loop, &o, &host, &err), 0, "%s", err.message);
}

static void finish(void) {
    weir_host_destroy(host);
    host = NULL;
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0, "handles left open");
}

/* Step the loop until *flag holds. */
static void run_until(const bool *flag) {
    uint64_t t0 = uv_hrtime();
    while (!*flag) {
        cr_assert_lt(uv_hrtime() - t0, BOUND_NS, "waited too long");
        uv_run(&loop, UV_RUN_ONCE);
    }
}

static json_t *call(const char *id, const char *source, const char *hook, json_t *value, const char *state) {
    char key[256];
    weir_host_key(id, "1.0.0", source, key, sizeof key);
    json_t *c = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:{},s:s}", "key", key, "source", source, "component", id,
                          "hook", hook, "port", "in", "executionId", "x1", "config", "nodeId", "n1");
    json_object_set_new(c, "value", value ? value : json_null());
    json_object_set_new(c, "state", json_loads(state ? state : "{}", 0, NULL));
    return c;
}

/* Invoke and wait for the answer. */
static answer invoke_wait(const char *id, const char *source, json_t *value, const char *state) {
    answer r = {0};
    json_t *c = call(id, source, "process", value, state);
    uint64_t cid;
    weir_error err;
    cr_assert_eq(weir_host_invoke(host, c, "inst", on_done, &r, &cid, &err), 0, "%s", err.message);
    json_decref(c);
    cr_assert(!r.got, "done must not be called inside invoke");
    run_until(&r.got);
    return r;
}

static const char *dump(json_t *v) {
    static char buf[8192];
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(buf, sizeof buf, "%s", t ? t : "(null)");
    free(t);
    return buf;
}

#define SQUARE "return { process: async (ctx, port, value) => ctx.emit('out', value * value) }"

TestSuite(host, .init = setup, .timeout = 120);

Test(host, load_and_invoke_the_square_component) {
    start(2, 2000, 0, 0);
    answer l = {0};
    uint64_t id;
    char key[256];
    weir_host_key("acme.math.square", "1.0.0", SQUARE, key, sizeof key);
    weir_error err;
    cr_assert_eq(weir_host_load(host, key, SQUARE, on_done, &l, &id, &err), 0);
    run_until(&l.got);
    cr_assert_null(l.error, "%s", l.error);
    cr_assert_str_eq(dump(json_object_get(l.answer, "hooks")), "[\"process\"]");
    answer r = invoke_wait("acme.math.square", SQUARE, json_integer(7), NULL);
    cr_assert_null(r.error, "%s", r.error);
    cr_assert_str_eq(dump(json_object_get(r.answer, "emits")), "[[\"out\",49]]");
    weir_host_stats st;
    weir_host_stats_get(host, &st);
    cr_assert_eq(st.started, 1, "one process served both");
    cr_assert_eq(st.calls, 2);
    answer_free(&l);
    answer_free(&r);
    finish();
}

#define COUNTER                                                                                                      \
    "return {\n"                                                                                                     \
    "  initialize(ctx) { ctx.setState('n', 100) },\n"                                                              \
    "  process: async (ctx, port, value) => {\n"                                                                   \
    "    const n = (await ctx.getState('n') || 0) + 1;\n"                                                         \
    "    ctx.setState('n', n);\n"                                                                                  \
    "    ctx.setState('last', value);\n"                                                                           \
    "    ctx.emit('out', n);\n"                                                                                    \
    "  }\n"                                                                                                          \
    "}"

Test(host, state_goes_with_the_call_and_chains_between_calls_of_one_instance) {
    start(3, 2000, 0, 0);
    answer r = invoke_wait("acme.counter", COUNTER, json_string("a"), "{\"n\": 4}");
    cr_assert_null(r.error, "%s", r.error);
    cr_assert_str_eq(dump(json_object_get(r.answer, "state")), "{\"n\":5,\"last\":\"a\"}");
    cr_assert_str_eq(dump(json_object_get(r.answer, "emits")), "[[\"out\",5]]");
    answer_free(&r);
    /* Three calls of one instance at once, each built with the same (stale)
     * state: they run one after the other, each from what the last left. */
    answer a[3] = {{0}};
    for (int i = 0; i < 3; i++) {
        json_t *c = call("acme.counter", COUNTER, "process", json_integer(i), "{\"n\": 10}");
        uint64_t id;
        cr_assert_eq(weir_host_invoke(host, c, "exec-1/counter", on_done, &a[i], &id, NULL), 0);
        json_decref(c);
    }
    /* Another instance is independent of them. */
    answer other = {0};
    json_t *c = call("acme.counter", COUNTER, "process", json_integer(9), "{\"n\": 0}");
    uint64_t id;
    cr_assert_eq(weir_host_invoke(host, c, "exec-2/counter", on_done, &other, &id, NULL), 0);
    json_decref(c);
    run_until(&a[2].got);
    run_until(&other.got);
    for (int i = 0; i < 3; i++) {
        cr_assert_null(a[i].error, "%s", a[i].error);
        char want[64];
        snprintf(want, sizeof want, "[[\"out\",%d]]", 11 + i);
        cr_assert_str_eq(dump(json_object_get(a[i].answer, "emits")), want, "call %d", i);
        answer_free(&a[i]);
    }
    cr_assert_str_eq(dump(json_object_get(other.answer, "emits")), "[[\"out\",1]]");
    answer_free(&other);
    /* A missing hook answers at once with the state unchanged; initialize
     * runs when present. */
    answer init = {0};
    c = call("acme.counter", COUNTER, "initialize", NULL, "{\"n\": 3}");
    cr_assert_eq(weir_host_invoke(host, c, NULL, on_done, &init, &id, NULL), 0);
    json_decref(c);
    run_until(&init.got);
    cr_assert_str_eq(dump(json_object_get(init.answer, "state")), "{\"n\":100}");
    answer_free(&init);
    answer clean = {0};
    c = call("acme.counter", COUNTER, "cleanup", NULL, "{\"n\": 3}");
    cr_assert_eq(weir_host_invoke(host, c, NULL, on_done, &clean, &id, NULL), 0);
    json_decref(c);
    run_until(&clean.got);
    cr_assert_null(clean.error);
    cr_assert_str_eq(dump(json_object_get(clean.answer, "emits")), "[]");
    cr_assert_str_eq(dump(json_object_get(clean.answer, "state")), "{\"n\":3}");
    answer_free(&clean);
    finish();
}

Test(host, emit_batch_and_logs) {
    start(1, 2000, 0, 0);
    const char *src = "return { process(ctx, port, value) {\n"
                      "  ctx.log('warn', 'splitting ' + value.length);\n"
                      "  ctx.log('info', {n: value.length});\n"
                      "  ctx.emitBatch('items', value);\n"
                      "  ctx.emit('count', value.length);\n"
                      "} }";
    answer r = invoke_wait("acme.split", src, json_pack("[i,s,{s:b}]", 1, "two", "three", 1), NULL);
    cr_assert_null(r.error, "%s", r.error);
    cr_assert_str_eq(dump(json_object_get(r.answer, "emits")),
                     "[[\"items\",1],[\"items\",\"two\"],[\"items\",{\"three\":true}],[\"count\",3]]");
    cr_assert_str_eq(dump(json_object_get(r.answer, "logs")),
                     "[{\"level\":\"warn\",\"message\":\"splitting 3\"},{\"level\":\"info\",\"message\":\"{\\\"n\\\":3}\"}]");
    answer_free(&r);
    finish();
}

Test(host, a_syntax_error_is_a_load_failure_with_its_line) {
    start(1, 2000, 0, 0);
    const char *src = "return {\n  process: (ctx, port, value) => ctx.emit('out', value * ) }";
    char key[256];
    weir_host_key("acme.bad", "1", src, key, sizeof key);
    answer l = {0};
    uint64_t id;
    cr_assert_eq(weir_host_load(host, key, src, on_done, &l, &id, NULL), 0);
    run_until(&l.got);
    cr_assert_null(l.error, "a compile error is an answer, not a host failure");
    const char *msg = json_string_value(json_object_get(l.answer, "error"));
    cr_assert_not_null(strstr(msg, "SyntaxError: Unexpected token ')' (line 2)"), "%s", msg);
    answer_free(&l);
    /* A handler without process is refused at load too. */
    const char *noproc = "return { handle: () => 1 }";
    weir_host_key("acme.noproc", "1", noproc, key, sizeof key);
    cr_assert_eq(weir_host_load(host, key, noproc, on_done, &l, &id, NULL), 0);
    run_until(&l.got);
    msg = json_string_value(json_object_get(l.answer, "error"));
    cr_assert_not_null(strstr(msg, "has no process function"), "%s", msg);
    answer_free(&l);
    /* A top level that never returns is cut at the time limit. */
    const char *spin = "for (;;) {}";
    weir_host_key("acme.spintop", "1", spin, key, sizeof key);
    cr_assert_eq(weir_host_load(host, key, spin, on_done, &l, &id, NULL), 0);
    run_until(&l.got);
    cr_assert_str_eq(l.error, "building the handler timed out after 2000 ms");
    answer_free(&l);
    finish();
}

Test(host, a_throw_is_an_answer_with_the_error_and_the_process_stays) {
    start(1, 2000, 0, 0);
    const char *src = "return { process: async (ctx, port, value) => { ctx.emit('out', 1); "
                      "if (value) throw new TypeError('bad value ' + value); ctx.emit('out', 2) } }";
    answer r = invoke_wait("acme.thrower", src, json_integer(3), NULL);
    cr_assert_null(r.error, "a throw is user code's error, not the host's");
    cr_assert_str_eq(json_string_value(json_object_get(r.answer, "error")), "TypeError: bad value 3");
    cr_assert_str_eq(dump(json_object_get(r.answer, "emits")), "[[\"out\",1]]", "emits before the throw stay");
    answer_free(&r);
    r = invoke_wait("acme.thrower", src, json_integer(0), NULL);
    cr_assert_str_eq(dump(json_object_get(r.answer, "emits")), "[[\"out\",1],[\"out\",2]]");
    answer_free(&r);
    weir_host_stats st;
    weir_host_stats_get(host, &st);
    cr_assert_eq(st.started, 1);
    finish();
}

Test(host, a_runaway_loop_is_killed_at_the_time_limit_and_the_process_replaced) {
    start(1, 300, 0, 0);
    const char *spin = "return { process: () => { while (true) {} } }";
    /* The runaway and a call queued behind it on the only process. */
    answer r = {0}, next = {0};
    json_t *c = call("acme.spin", spin, "process", json_integer(1), NULL);
    json_t *c2 = call("acme.math.square", SQUARE, "process", json_integer(12), NULL);
    uint64_t id;
    cr_assert_eq(weir_host_invoke(host, c, "a", on_done, &r, &id, NULL), 0);
    cr_assert_eq(weir_host_invoke(host, c2, "b", on_done, &next, &id, NULL), 0);
    json_decref(c);
    json_decref(c2);
    uint64_t t0 = uv_hrtime();
    run_until(&r.got);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    cr_assert_null(r.answer);
    cr_assert_str_eq(r.error, "timed out after 300 ms");
    cr_assert_geq(ms, 300);
    run_until(&next.got);
    cr_assert_null(next.error, "%s", next.error);
    cr_assert_str_eq(dump(json_object_get(next.answer, "emits")), "[[\"out\",144]]");
    weir_host_stats st;
    weir_host_stats_get(host, &st);
    cr_assert_eq(st.started, 2, "the killed process was replaced");
    cr_assert_eq(st.processes, 1);
    cr_assert_eq(st.failures, 1);
    /* An async runaway (a microtask loop) is cut off the same way. */
    answer_free(&r);
    r = invoke_wait("acme.spin2", "return { process: async () => { for (;;) await null } }", json_integer(1), NULL);
    cr_assert_str_eq(r.error, "timed out after 300 ms");
    answer_free(&r);
    answer_free(&next);
    finish();
}

Test(host, a_memory_blowup_kills_only_its_process) {
    start(1, 10000, 64, 0);
    const char *hog = "return { process: () => { const a = []; for (;;) a.push(new Array(1e6).fill(1)) } }";
    answer r = invoke_wait("acme.hog", hog, json_integer(1), NULL);
    cr_assert_null(r.answer);
    cr_assert_not_null(strstr(r.error, "the component host ran out of memory: FATAL ERROR:"), "%s", r.error);
    cr_assert_not_null(strstr(r.error, "heap out of memory (the limit is 64 MB of JavaScript heap and 192 MB in all, "
                                       "ISOLATE_MEMORY_MB)"),
                       "%s", r.error);
    answer_free(&r);
    r = invoke_wait("acme.math.square", SQUARE, json_integer(5), NULL);
    cr_assert_str_eq(dump(json_object_get(r.answer, "emits")), "[[\"out\",25]]");
    answer_free(&r);
    finish();
}

/* The largest resident size a child process of this test (a host
 * process) reached, sampled every 5 ms while the loop runs; one past
 * RSS_CEILING is killed at once, so a test of the memory limit cannot take
 * the machine down when the limit does not hold. */
#define RSS_CEILING ((uint64_t)1536 << 20)
static uint64_t peak_rss;
static bool ceiling_hit;
static uv_timer_t sampler;

static void sample_children(uv_timer_t *t) {
    (void)t;
    DIR *d = opendir("/proc");
    if (!d) return;
    long page = sysconf(_SC_PAGESIZE);
    for (struct dirent *e; (e = readdir(d));) {
        int pid = atoi(e->d_name);
        if (pid <= 0) continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *close_paren = strrchr(buf, ')');
        int ppid = 0;
        if (!close_paren || sscanf(close_paren + 1, " %*c %d", &ppid) != 1 || ppid != getpid()) continue;
        snprintf(path, sizeof path, "/proc/%d/statm", pid);
        unsigned long long size = 0, resident = 0;
        f = fopen(path, "r");
        if (!f) continue;
        if (fscanf(f, "%llu %llu", &size, &resident) == 2) {
            uint64_t rss = (uint64_t)resident * (uint64_t)page;
            if (rss > peak_rss) peak_rss = rss;
            if (rss > RSS_CEILING) {
                ceiling_hit = true;
                kill(pid, SIGKILL);
            }
        }
        fclose(f);
    }
    closedir(d);
}

static void sampler_start(void) {
    peak_rss = 0;
    ceiling_hit = false;
    uv_timer_init(&loop, &sampler);
    uv_timer_start(&sampler, sample_children, 0, 5);
}

static void sampler_stop(void) {
    uv_timer_stop(&sampler);
    uv_close((uv_handle_t *)&sampler, NULL);
}

/* Memory outside V8's heap (SPEC §10): components that keep what they
 * allocate in a global, in ArrayBuffers never written (not resident, but
 * committed), written, and in WebAssembly memories.  Each fails with the
 * out-of-memory error well before its time limit, its process stays under
 * the limit all along, and the next call gets a fresh process. */
Test(host, memory_outside_the_heap_is_limited_too) {
    start(1, 20000, 128, 0);
    sampler_start();
    const char *hogs[] = {
        "const keep = []; return { process: () => { for (;;) keep.push(new ArrayBuffer(100 * 1024 * 1024)) } }",
        "const keep = []; return { process: () => { for (;;) keep.push(new Uint8Array(100 * 1024 * 1024).fill(1)) } }",
        ("const keep = []; return { process: () => { for (;;) { const m = new WebAssembly.Memory({initial: 1600}); "
         "new Uint8Array(m.buffer).fill(1); keep.push(m) } } }"),
        /* at the top level, while the handler is built */
        "const keep = []; for (;;) keep.push(new ArrayBuffer(100 * 1024 * 1024)); return { process: () => {} }",
    };
    for (size_t i = 0; i < sizeof hogs / sizeof *hogs; i++) {
        char id[32];
        snprintf(id, sizeof id, "acme.hog%zu", i);
        uint64_t t0 = uv_hrtime();
        answer r = invoke_wait(id, hogs[i], json_integer(1), NULL);
        uint64_t ms = (uv_hrtime() - t0) / 1000000;
        cr_assert(!ceiling_hit, "hog %zu: a host process passed %llu MB resident", i,
                  (unsigned long long)(RSS_CEILING >> 20));
        cr_assert_null(r.answer, "hog %zu: %s", i, dump(r.answer));
        cr_assert_not_null(strstr(r.error, "the component host ran out of memory: "), "hog %zu: %s", i, r.error);
        cr_assert_not_null(strstr(r.error, "(the limit is 128 MB of JavaScript heap and 256 MB in all, "
                                           "ISOLATE_MEMORY_MB)"),
                           "hog %zu: %s", i, r.error);
        cr_assert_lt(ms, 10000, "hog %zu: %llu ms", i, (unsigned long long)ms);
        cr_log_info("hog %zu: %s after %llu ms, peak RSS so far %llu MB", i, r.error, (unsigned long long)ms,
                    (unsigned long long)(peak_rss >> 20));
        answer_free(&r);
        r = invoke_wait("acme.math.square", SQUARE, json_integer(5), NULL);
        cr_assert_str_eq(dump(json_object_get(r.answer, "emits")), "[[\"out\",25]]", "after hog %zu", i);
        answer_free(&r);
    }
    /* What Node.js holds at start (~40 MB resident on Node 20) + 256 MB. */
    cr_assert_lt(peak_rss, (uint64_t)(256 + 100) << 20, "peak RSS %llu MB", (unsigned long long)(peak_rss >> 20));
    weir_host_stats st;
    weir_host_stats_get(host, &st);
    cr_assert_eq(st.started, 5, "each hog's process was replaced");
    /* Under the limit, memory outside the heap is there to use. */
    answer r = invoke_wait("acme.buffers",
                           "return { process: (ctx) => { const a = []; for (let i = 0; i < 15; i++) "
                           "a.push(new Uint8Array(10 * 1024 * 1024).fill(i)); ctx.emit('out', a.length) } }",
                           json_integer(1), NULL);
    cr_assert_null(r.error, "%s", r.error);
    cr_assert_str_eq(dump(json_object_get(r.answer, "emits")), "[[\"out\",15]]");
    answer_free(&r);
    sampler_stop();
    finish();
}

Test(host, user_code_reaches_nothing_but_ctx) {
    start(1, 1000, 0, 0);
    answer r = invoke_wait("acme.probe",
                           "return { process: (ctx) => ctx.emit('out', [typeof require, typeof process, typeof fetch, "
                           "typeof setTimeout, typeof console, typeof module, typeof globalThis.__weir_req]) }",
                           json_null(), NULL);
    cr_assert_str_eq(dump(json_object_get(r.answer, "emits")),
                     "[[\"out\",[\"undefined\",\"undefined\",\"undefined\",\"undefined\",\"undefined\","
                     "\"undefined\",\"string\"]]]");
    answer_free(&r);
    /* The classic escapes through constructors end in code generation,
     * which is off. */
    r = invoke_wait("acme.escape1", "return { process: (ctx) => this.constructor.constructor('return process')() }",
                    json_null(), NULL);
    cr_assert_not_null(strstr(json_string_value(json_object_get(r.answer, "error")), "Code generation from strings"),
                       "%s", dump(r.answer));
    answer_free(&r);
    r = invoke_wait("acme.escape2", "return { process: (ctx) => ctx.emit.constructor('return process')() }",
                    json_null(), NULL);
    cr_assert_not_null(strstr(json_string_value(json_object_get(r.answer, "error")), "Code generation from strings"),
                       "%s", dump(r.answer));
    answer_free(&r);
    /* import() never loads anything. */
    r = invoke_wait("acme.import", "return { process: async () => { await import('fs') } }", json_null(), NULL);
    cr_assert_not_null(strstr(json_string_value(json_object_get(r.answer, "error")), "still pending"), "%s",
                       dump(r.answer));
    answer_free(&r);
    /* A value that is not JSON cannot leave. */
    r = invoke_wait("acme.bigint", "return { process: (ctx) => ctx.emit('out', 1n) }", json_null(), NULL);
    cr_assert_not_null(strstr(json_string_value(json_object_get(r.answer, "error")), "cannot be sent as JSON"),
                       "%s", dump(r.answer));
    answer_free(&r);
    finish();
}

Test(host, the_queue_is_bounded) {
    start(1, 2000, 0, 2);
    answer a[3] = {{0}};
    uint64_t id;
    weir_error err;
    for (int i = 0; i < 2; i++) {
        json_t *c = call("acme.math.square", SQUARE, "process", json_integer(i), NULL);
        cr_assert_eq(weir_host_invoke(host, c, NULL, on_done, &a[i], &id, &err), 0, "%s", err.message);
        json_decref(c);
    }
    json_t *c = call("acme.math.square", SQUARE, "process", json_integer(2), NULL);
    cr_assert_eq(weir_host_invoke(host, c, NULL, on_done, &a[2], &id, &err), WEIR_EFULL);
    cr_assert_not_null(strstr(err.message, "the component host is busy: 2 calls wait"), "%s", err.message);
    run_until(&a[1].got);
    /* Once they are answered there is room again. */
    cr_assert_eq(weir_host_invoke(host, c, NULL, on_done, &a[2], &id, &err), 0, "%s", err.message);
    json_decref(c);
    run_until(&a[2].got);
    cr_assert_str_eq(dump(json_object_get(a[2].answer, "emits")), "[[\"out\",4]]");
    for (int i = 0; i < 3; i++) answer_free(&a[i]);
    finish();
}

Test(host, a_cancelled_call_is_never_answered) {
    start(1, 2000, 0, 0);
    answer a = {0}, b = {0}, c3 = {0};
    uint64_t ia, ib, ic;
    json_t *c = call("acme.math.square", SQUARE, "process", json_integer(2), NULL);
    cr_assert_eq(weir_host_invoke(host, c, "i", on_done, &a, &ia, NULL), 0);
    cr_assert_eq(weir_host_invoke(host, c, "i", on_done, &b, &ib, NULL), 0);
    cr_assert_eq(weir_host_invoke(host, c, "i", on_done, &c3, &ic, NULL), 0);
    json_decref(c);
    cr_assert_eq(weir_host_cancel(host, ib), 0);
    cr_assert_eq(weir_host_cancel(host, ib), WEIR_ESTALE);
    run_until(&c3.got);
    cr_assert(a.got);
    cr_assert(!b.got);
    cr_assert_eq(weir_host_cancel(host, ia), WEIR_ESTALE, "answered already");
    answer_free(&a);
    answer_free(&c3);
    finish();
}

/* Invoke SQUARE and wait: its error, or NULL when it answered 4 (malloc). */
static char *square_error(void) {
    answer r = {0};
    json_t *c = call("acme.math.square", SQUARE, "process", json_integer(2), NULL);
    uint64_t id;
    cr_assert_eq(weir_host_invoke(host, c, "i", on_done, &r, &id, NULL), 0);
    json_decref(c);
    cr_assert(!r.got);
    run_until(&r.got);
    char *e = r.error ? strdup(r.error) : NULL;
    if (!e) cr_assert_str_eq(dump(json_object_get(r.answer, "emits")), "[[\"out\",4]]");
    answer_free(&r);
    return e;
}

Test(host, without_node_every_call_fails_saying_so) {
    weir_host_options o = {.node = "/nonexistent/bin/node"};
    cr_assert_eq(weir_host_create(&loop, &o, &host, NULL), 0);
    char *e = square_error();
    cr_assert_not_null(strstr(e, "user components need Node.js 20 or newer: cannot run \"/nonexistent/bin/node\": "),
                       "%s", e);
    free(e);
    finish();
    /* Nor on PATH. */
    cr_assert_eq(uv_loop_init(&loop), 0);
    setenv("PATH", "/nonexistent/bin:/nonexistent/usr/bin", 1);
    cr_assert_eq(weir_host_create(&loop, NULL, &host, NULL), 0);
    weir_host_node n;
    weir_host_node_get(host, &n);
    cr_assert_str_eq(n.problem, "user components need Node.js 20 or newer: no \"node\" on PATH "
                                "(/nonexistent/bin:/nonexistent/usr/bin); install Node.js 20 or newer "
                                "(scripts/deps.sh does) or set WEIR_NODE to its path");
    e = square_error();
    cr_assert_str_eq(e, n.problem);
    free(e);
    finish();
}

/* A shell script `name` in dir doing `body`, executable. */
static void script(const char *dir, const char *name, const char *body) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    cr_assert_eq(chmod(path, 0755), 0);
}

/* The node this test itself finds on PATH. */
static void real_node(char *buf, size_t cap) {
    proc_result r = proc_run("command -v node");
    cr_assert_eq(r.status, 0, "these tests need node on PATH");
    r.out[strcspn(r.out, "\n")] = '\0';
    snprintf(buf, cap, "%s", r.out);
    proc_free(&r);
}

static int lines_in(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int n = 0;
    for (int ch; (ch = fgetc(f)) != EOF;)
        if (ch == '\n') n++;
    fclose(f);
    return n;
}

/* The host runs the node first on the server's PATH (not the one an empty
 * environment would find), and a path given instead; each is asked its
 * version once and then runs every process. */
Test(host, the_node_first_on_path_or_the_one_given_runs_the_components) {
    char dir[256], node[512], body[1200], wrapper[512], log[512];
    proc_tempdir(dir, sizeof dir, "node-path");
    real_node(node, sizeof node);
    snprintf(log, sizeof log, "%s/ran", dir);
    snprintf(body, sizeof body, "echo \"$1\" >> %s\nexec %s \"$@\"", log, node);
    script(dir, "node", body);
    char path[4096];
    snprintf(path, sizeof path, "%s:%s", dir, getenv("PATH") ? getenv("PATH") : "");
    setenv("PATH", path, 1);
    start(1, 2000, 0, 0);
    weir_host_node n;
    weir_host_node_get(host, &n);
    snprintf(wrapper, sizeof wrapper, "%s/node", dir);
    cr_assert_null(n.problem, "%s", n.problem);
    cr_assert_str_eq(n.path, wrapper);
    cr_assert_not_null(n.version);
    cr_assert_not_null(strstr(n.flags, "permission"), "%s", n.flags);
    char *e = square_error();
    cr_assert_null(e, "%s", e);
    /* --version once, then one process (its first argument: the heap limit). */
    cr_assert_eq(lines_in(log), 2);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cat %s", log);
    proc_result r = proc_run(cmd);
    cr_assert_str_eq(r.out, "--version\n--max-old-space-size=128\n");
    proc_free(&r);
    finish();
    /* Given as a path, a node off PATH runs instead. */
    cr_assert_eq(uv_loop_init(&loop), 0);
    snprintf(body, sizeof body, "echo \"$1\" >> %s.mine\nexec %s \"$@\"", log, node);
    script(dir, "my-node", body);
    snprintf(wrapper, sizeof wrapper, "%s/my-node", dir);
    weir_host_options o = {.node = wrapper};
    cr_assert_eq(weir_host_create(&loop, &o, &host, NULL), 0);
    weir_host_node_get(host, &n);
    cr_assert_str_eq(n.path, wrapper);
    e = square_error();
    cr_assert_null(e, "%s", e);
    char mine[600];
    snprintf(mine, sizeof mine, "%s.mine", log);
    cr_assert_eq(lines_in(mine), 2);
    cr_assert_eq(lines_in(log), 2, "the one on PATH ran no more");
    finish();
    snprintf(cmd, sizeof cmd, "rm -r %s", dir);
    r = proc_run(cmd);
    proc_free(&r);
}

/* A node run by a wrapper that does not exec it (the process weir spawned
 * is the shell): the memory limit is still on the node process. */
Test(host, the_memory_limit_is_on_node_behind_a_wrapper_too) {
    char dir[256], node[512], body[1200], wrapper[512];
    proc_tempdir(dir, sizeof dir, "node-wrapped");
    real_node(node, sizeof node);
    snprintf(body, sizeof body, "%s \"$@\"", node);
    script(dir, "node", body);
    snprintf(wrapper, sizeof wrapper, "%s/node", dir);
    weir_host_options o = {.node = wrapper, .pool_size = 1, .timeout_ms = 20000, .memory_mb = 64};
    cr_assert_eq(weir_host_create(&loop, &o, &host, NULL), 0);
    answer r = invoke_wait(
        "acme.hoard",
        "const keep = []; return { process: () => { for (;;) keep.push(new ArrayBuffer(100 * 1024 * 1024)) } }",
        json_integer(1), NULL);
    cr_assert_not_null(r.error);
    cr_assert_not_null(strstr(r.error, "the component host ran out of memory: "), "%s", r.error);
    answer_free(&r);
    char *e = square_error();
    cr_assert_null(e, "%s", e);
    finish();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -r %s", dir);
    proc_result pr = proc_run(cmd);
    proc_free(&pr);
}

/* The state letter of pid (/proc/<pid>/stat), or 0 when it is gone. */
static char proc_state(int pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *end = strrchr(buf, ')');
    return end && end[1] == ' ' ? end[2] : 0;
}

/* A node run by a wrapper that does not exec it, killed at the time limit:
 * the node goes with the wrapper (not left running as an orphan). */
Test(host, a_call_past_the_time_limit_kills_node_behind_a_wrapper) {
    char dir[256], node[512], body[2048], wrapper[512], pidfile[512];
    proc_tempdir(dir, sizeof dir, "node-orphan");
    real_node(node, sizeof node);
    snprintf(pidfile, sizeof pidfile, "%s/pids", dir);
    /* --version is asked first; then a node that says it is ready and then
     * never answers (as one stuck past the time limit, deaf to its stdin
     * closing) runs as a child of the shell */
    snprintf(body, sizeof body,
             "[ \"$1\" = --version ] && exec %s --version\n"
             "%s -e 'console.log(JSON.stringify({ready: true, node: process.version, pid: process.pid}));"
             " setInterval(() => {}, 1000)' &\necho $! >> %s\nwait $!",
             node, node, pidfile);
    script(dir, "node", body);
    snprintf(wrapper, sizeof wrapper, "%s/node", dir);
    weir_host_options o = {.node = wrapper, .pool_size = 1, .timeout_ms = 300};
    cr_assert_eq(weir_host_create(&loop, &o, &host, NULL), 0);
    answer r = invoke_wait("acme.math.square", SQUARE, json_integer(3), NULL);
    cr_assert_str_eq(r.error, "timed out after 300 ms");
    answer_free(&r);
    FILE *f = fopen(pidfile, "r");
    cr_assert_not_null(f);
    int pid = 0;
    cr_assert_eq(fscanf(f, "%d", &pid), 1);
    fclose(f);
    /* gone, or dead and waiting for whoever adopted it to reap it */
    uint64_t t0 = uv_hrtime();
    char st;
    while ((st = proc_state(pid)) != 0 && st != 'Z' && st != 'X' && uv_hrtime() - t0 < 5000000000ull) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (st && st != 'Z' && st != 'X') kill(pid, SIGKILL); /* leave nothing running when it fails */
    cr_assert(st == 0 || st == 'Z' || st == 'X', "node %d is still running (state %c) after its call was killed", pid,
              st);
    finish();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -r %s", dir);
    proc_result pr = proc_run(cmd);
    proc_free(&pr);
}

/* A child whose ready line names a process that is not its own (here the
 * test itself) does not start: weir neither limits nor ever kills it. */
Test(host, a_ready_line_naming_another_process_is_refused) {
    char dir[256], node[512], body[1200], wrapper[512];
    proc_tempdir(dir, sizeof dir, "node-liar");
    real_node(node, sizeof node);
    snprintf(body, sizeof body,
             "[ \"$1\" = --version ] && exec %s --version\n"
             "echo '{\"ready\":true,\"node\":\"v22.0.0\",\"pid\":%d}'\nexec cat >/dev/null",
             node, (int)getpid());
    script(dir, "node", body);
    snprintf(wrapper, sizeof wrapper, "%s/node", dir);
    struct rlimit before, after;
    cr_assert_eq(getrlimit(RLIMIT_DATA, &before), 0);
    weir_host_options o = {.node = wrapper, .pool_size = 1, .timeout_ms = 2000, .memory_mb = 64};
    cr_assert_eq(weir_host_create(&loop, &o, &host, NULL), 0);
    answer r = invoke_wait("acme.math.square", SQUARE, json_integer(3), NULL);
    cr_assert_not_null(r.error);
    cr_assert(strstr(r.error, "its ready line names pid"), "%s", r.error);
    cr_assert(strstr(r.error, "which is not the process weir started"), "%s", r.error);
    answer_free(&r);
    cr_assert_eq(getrlimit(RLIMIT_DATA, &after), 0);
    cr_assert_eq(after.rlim_cur, before.rlim_cur, "the test's own memory limit was changed");
    finish();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -r %s", dir);
    proc_result pr = proc_run(cmd);
    proc_free(&pr);
}

/* A node whose --version says `version`: what the host makes of it. */
static weir_host_node fake_node(const char *dir, const char *version) {
    char body[256], path[512];
    snprintf(body, sizeof body, "[ \"$1\" = --version ] && echo %s && exit 0\necho \"$0: bad option: $2\" >&2\nexit 9",
             version);
    script(dir, "fake-node", body);
    snprintf(path, sizeof path, "%s/fake-node", dir);
    cr_assert_eq(uv_loop_init(&loop), 0);
    weir_host_options o = {.node = path};
    cr_assert_eq(weir_host_create(&loop, &o, &host, NULL), 0);
    weir_host_node n;
    weir_host_node_get(host, &n);
    return n;
}

/* Each version gets the permission flag it accepts; one older than 20 is
 * refused with a message naming what was found, and no process starts. */
Test(host, the_node_version_decides_the_flags_and_18_is_refused) {
    char dir[256];
    proc_tempdir(dir, sizeof dir, "node-version");
    uv_loop_close(&loop); /* fake_node makes a loop for each */
    static const struct {
        const char *version, *flag;
    } cases[] = {{"v20.0.0", "--experimental-permission"}, {"v21.7.3", "--experimental-permission"},
                 {"v22.12.0", "--experimental-permission"}, {"v22.13.0", "--permission"},
                 {"v23.4.0", "--experimental-permission"}, {"v23.5.0", "--permission"},
                 {"v24.0.0", "--permission"}, {"v26.1.0", "--permission"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        weir_host_node n = fake_node(dir, cases[i].version);
        cr_assert_null(n.problem, "%s: %s", cases[i].version, n.problem);
        cr_assert_str_eq(n.version, cases[i].version);
        char want[128];
        snprintf(want, sizeof want, "--max-old-space-size=128 %s ", cases[i].flag);
        cr_assert_not_null(strstr(n.flags, want), "%s: %s", cases[i].version, n.flags);
        finish();
    }
    /* A node that refuses what weir passes (here all of it) says so. */
    weir_host_node n = fake_node(dir, "v22.13.0");
    char *e = square_error();
    char want[1024];
    snprintf(want, sizeof want,
             "the component host could not start: %s/fake-node: bad option: --permission (exit code 9) (Node.js "
             "v22.13.0 refused a flag weir passes for that version)",
             dir);
    cr_assert_str_eq(e, want);
    free(e);
    finish();
    n = fake_node(dir, "v18.19.1");
    snprintf(want, sizeof want,
             "user components need Node.js 20 or newer: %s/fake-node is v18.19.1, which has no permission model to "
             "run them under; install Node.js 20 or newer (scripts/deps.sh does) or set WEIR_NODE to its path",
             dir);
    cr_assert_str_eq(n.problem, want);
    cr_assert_str_eq(n.version, "v18.19.1");
    cr_assert_null(n.flags);
    e = square_error();
    cr_assert_str_eq(e, want);
    free(e);
    weir_host_stats st;
    weir_host_stats_get(host, &st);
    cr_assert_eq(st.started, 0, "no process ran without isolation");
    finish();
    n = fake_node(dir, "hello");
    cr_assert_not_null(strstr(n.problem, "fake-node --version\" said \"hello\", not a version"), "%s", n.problem);
    finish();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -r %s", dir);
    proc_result r = proc_run(cmd);
    proc_free(&r);
}

Test(host, destroy_with_calls_in_flight_and_queued) {
    start(2, 5000, 0, 0);
    answer a[4] = {{0}};
    const char *srcs[] = {"return { process: () => { while (true) {} } }", SQUARE, SQUARE, SQUARE};
    for (int i = 0; i < 4; i++) {
        json_t *c = call(i ? "acme.math.square" : "acme.spin", srcs[i], "process", json_integer(i), NULL);
        uint64_t id;
        cr_assert_eq(weir_host_invoke(host, c, i == 3 ? "x" : NULL, on_done, &a[i], &id, NULL), 0);
        json_decref(c);
    }
    /* Until both processes are busy (the spinning one stays so). */
    uint64_t t0 = uv_hrtime();
    for (;;) {
        weir_host_stats st;
        weir_host_stats_get(host, &st);
        if (st.busy == 2) break;
        cr_assert_lt(uv_hrtime() - t0, BOUND_NS);
        uv_run(&loop, UV_RUN_ONCE);
    }
    int before = answered;
    finish(); /* kills them; nothing answered after this */
    cr_assert_eq(answered, before);
    for (int i = 0; i < 4; i++) answer_free(&a[i]);
}

/* Destroy from inside a done callback. */
static void destroy_in_done(void *ud, json_t *a, const char *err) {
    on_done(ud, a, err);
    weir_host_destroy(host);
}

Test(host, destroy_inside_a_done_callback) {
    start(1, 2000, 0, 0);
    answer a = {0}, b = {0};
    json_t *c = call("acme.math.square", SQUARE, "process", json_integer(3), NULL);
    uint64_t id;
    cr_assert_eq(weir_host_invoke(host, c, NULL, destroy_in_done, &a, &id, NULL), 0);
    cr_assert_eq(weir_host_invoke(host, c, NULL, on_done, &b, &id, NULL), 0);
    json_decref(c);
    run_until(&a.got);
    host = NULL;
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert(!b.got);
    cr_assert_eq(uv_loop_close(&loop), 0);
    answer_free(&a);
}
