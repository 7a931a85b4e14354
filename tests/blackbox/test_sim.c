/* weir sim, black-box (SPEC §7.4): the real binary on the double-capture
 * example — the race is found and shrunk to the two injects, the fix
 * passes; the same --seed prints the same bytes, with one thread or two;
 * --seeds alone prints the first seed it took from the clock, and that
 * seed reruns the same; --out writes a journal that weir replay matches
 * and POST /api/executions/import opens (time travel to the failing wave
 * shows both captures); --json; bad scenarios and arguments exit 2 naming
 * what was wrong; user components run in the component host. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "serve.h"
#include "weir/weir.h"

#define DC WEIR_SOURCE_DIR "/examples/double-capture/"
#define SIM " --scenario " DC "sim.yaml"

static proc_result run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static proc_result run(const char *fmt, ...) {
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s", WEIR_BINARY, args);
    return proc_run(cmd);
}

#define ASSERT_HAS(r, field, needle) \
    cr_assert(strstr((r).field, needle), "expected %s in " #field ":\n%s\nstderr:\n%s", needle, (r).field, (r).err)

Test(sim, finds_the_double_capture_and_the_fix_passes) {
    proc_result r = run("sim " DC "payment.json" SIM " --seed 1 --seeds 1000");
    cr_assert_eq(r.status, 1, "%s\n%s", r.out, r.err);
    ASSERT_HAS(r, out, "weir sim " WEIR_VERSION ": scenario ");
    ASSERT_HAS(r, out, "seeds 1..1000 (1000)");
    ASSERT_HAS(r, out, "violation: seed ");
    ASSERT_HAS(r, out, "invariant \"captured at most once\"");
    ASSERT_HAS(r, out, "world:   {\"captured\":true}");
    ASSERT_HAS(r, out, ": 2 injects, 0 faults");
    ASSERT_HAS(r, out, "tick 0      inject webhook {\"paymentId\":\"pay_1\"}");
    ASSERT_HAS(r, out, "tick 0      inject poller {\"paymentId\":\"pay_1\"}");
    ASSERT_HAS(r, out, "tick 10     invariant \"captured at most once\" fails");
    proc_free(&r);
    r = run("sim " DC "payment-fixed.json" SIM " --seed 1 --seeds 1000");
    cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
    ASSERT_HAS(r, out, "ok: 1000 seeds, ");
    ASSERT_HAS(r, out, "distinct interleavings; every invariant held");
    proc_free(&r);
}

Test(sim, the_same_seed_prints_the_same_bytes_with_one_thread_or_two) {
    proc_result a = run("sim " DC "payment.json" SIM " --seed 40 --seeds 500 --jobs 1");
    proc_result b = run("sim " DC "payment.json" SIM " --seed 40 --seeds 500 --jobs 2");
    proc_result c = run("sim " DC "payment.json" SIM " --seed 40 --seeds 500 --jobs 2");
    cr_assert_eq(a.status, 1, "%s\n%s", a.out, a.err);
    cr_assert_str_eq(a.out, b.out);
    cr_assert_str_eq(b.out, c.out);
    proc_free(&a);
    proc_free(&b);
    proc_free(&c);
    a = run("sim " DC "payment-fixed.json" SIM " --seed 3 --seeds 2000 --jobs 1");
    b = run("sim " DC "payment-fixed.json" SIM " --seed 3 --seeds 2000 --jobs 2");
    cr_assert_eq(a.status, 0, "%s\n%s", a.out, a.err);
    cr_assert_str_eq(a.out, b.out);
    proc_free(&a);
    proc_free(&b);
    /* a seed alone is that seed */
    a = run("sim " DC "payment.json" SIM " --seed 77");
    ASSERT_HAS(a, out, "seeds 77..77 (1)");
    proc_free(&a);
}

Test(sim, seeds_from_the_clock_are_printed_and_rerun_the_same) {
    proc_result a = run("sim " DC "payment.json" SIM " --seeds 300");
    cr_assert(a.status == 0 || a.status == 1, "%s\n%s", a.out, a.err);
    const char *p = strstr(a.out, "first seed ");
    cr_assert(p, "%s", a.out);
    unsigned long long first = strtoull(p + strlen("first seed "), NULL, 10);
    proc_result b = run("sim " DC "payment.json" SIM " --seed %llu --seeds 300", first);
    cr_assert_eq(b.status, a.status);
    /* the same bytes but the line saying where the first seed came from */
    const char *a2 = strchr(a.out, '\n'), *b1 = strchr(b.out, '\n');
    cr_assert(a2 && b1);
    cr_assert_eq(a2 - a.out, b1 - b.out);
    cr_assert_eq(strncmp(a.out, b.out, (size_t)(b1 - b.out)), 0, "%s\n%s", a.out, b.out);
    cr_assert(strstr(a2 + 1, "from the clock") == a2 + 1 + strlen("first seed ") + (size_t)snprintf(NULL, 0, "%llu", first) + 1);
    cr_assert_str_eq(strchr(a2 + 1, '\n') + 1, b1 + 1);
    proc_free(&a);
    proc_free(&b);
}

Test(sim, the_journal_replays_and_imports_at_the_double_capture) {
    char dir[128], path[256];
    proc_tempdir(dir, sizeof dir, "sim");
    snprintf(path, sizeof path, "%s/fail.ndjson", dir);
    proc_result r = run("sim " DC "payment.json" SIM " --seed 1 --seeds 1000 --out %s", path);
    cr_assert_eq(r.status, 1, "%s\n%s", r.out, r.err);
    ASSERT_HAS(r, out, "journal: ");
    proc_free(&r);
    r = run("replay %s", path);
    cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
    cr_assert_str_eq(r.out, "match (7 inputs, 6 waves)\n");
    proc_free(&r);
    r = run("replay --json %s", path);
    ASSERT_HAS(r, out, "\"result\": \"match\"");
    proc_free(&r);

    size_t len;
    FILE *f = fopen(path, "rb");
    cr_assert(f);
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = calloc(1, len + 1);
    cr_assert_eq(fread(text, 1, len, f), len);
    fclose(f);
    server s = serve_start(NULL);
    http_resp h = http_req(&s, "POST", "/api/executions/import", text, "application/x-ndjson");
    cr_assert_eq(h.status, 201, "%s", h.body);
    char id[128];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(h.json, "executionId")));
    http_free(&h);
    /* the wave that failed: both captures answered, the payment captured twice */
    char url[256];
    snprintf(url, sizeof url, "/api/executions/%s/at/6", id);
    h = http_req(&s, "GET", url, NULL, NULL);
    cr_assert_eq(h.status, 200, "%s", h.body);
    snprintf(url, sizeof url, "/api/executions/%s/at/5", id);
    http_resp h5 = http_req(&s, "GET", url, NULL, NULL);
    cr_assert_eq(h5.status, 200, "%s", h5.body);
    cr_assert(strcmp(h.body, h5.body) != 0, "wave 6 changed something");
    http_free(&h);
    http_free(&h5);
    cr_assert_eq(serve_stop(&s), 0);
    free(text);
    serve_rmdir(dir);
}

Test(sim, json_for_ci) {
    proc_result r = run("sim " DC "payment.json" SIM " --seed 1 --seeds 1000 --json");
    cr_assert_eq(r.status, 1, "%s\n%s", r.out, r.err);
    json_error_t je;
    json_t *doc = json_loads(r.out, 0, &je);
    cr_assert(doc, "%s: %s", je.text, r.out);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "result")), "violation");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "weir")), WEIR_VERSION);
    json_t *v = json_object_get(doc, "violation"), *sh = json_object_get(doc, "shrunk");
    cr_assert_str_eq(json_string_value(json_object_get(v, "invariant")), "captured at most once");
    cr_assert_eq(json_array_size(json_object_get(json_object_get(v, "outputs"), "captured:out")), 2);
    cr_assert_eq(json_integer_value(json_object_get(sh, "injects")), 2);
    cr_assert_eq(json_integer_value(json_object_get(sh, "faults")), 0);
    cr_assert(json_object_get(json_object_get(doc, "timing"), "seedsPerSecond"));
    json_decref(doc);
    proc_free(&r);
    r = run("sim " DC "payment-fixed.json" SIM " --seed 1 --seeds 500 --json");
    cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
    doc = json_loads(r.out, 0, &je);
    cr_assert(doc, "%s", r.out);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "result")), "pass");
    cr_assert_eq(json_integer_value(json_object_get(doc, "seedsRun")), 500);
    cr_assert_gt(json_integer_value(json_object_get(doc, "interleavings")), 1);
    cr_assert_gt(json_integer_value(json_object_get(doc, "wavesChecked")), 500);
    json_decref(doc);
    proc_free(&r);
}

Test(sim, bad_scenarios_and_arguments_exit_2_saying_what_is_wrong) {
    char *bad = proc_tempfile(".yaml", "mocks: []\nsteps:\n  - inject: {nodeId: webhook, value: 1, atTick: [5, 2]}\n"
                                       "invariants: [{name: x, expression: 'true'}]\n");
    proc_result r = run("sim " DC "payment.json --scenario %s --seed 1", bad);
    cr_assert_eq(r.status, 2, "%s\n%s", r.out, r.err);
    ASSERT_HAS(r, err, "steps[0].inject.atTick must lie within");
    proc_free(&r);
    free(bad);
    /* a request no mock answers: the seed, the method and the url */
    bad = proc_tempfile(".yaml", "steps:\n  - inject: {nodeId: webhook, value: {paymentId: p9}}\n"
                                 "invariants: [{name: x, expression: 'true'}]\n");
    r = run("sim " DC "payment.json --scenario %s --seed 5", bad);
    cr_assert_eq(r.status, 2, "%s\n%s", r.out, r.err);
    ASSERT_HAS(r, err, "seed 5: no mock matches GET http://payments.test/payments/p9");
    proc_free(&r);
    free(bad);
    r = run("sim " DC "payment.json");
    cr_assert_eq(r.status, 2);
    ASSERT_HAS(r, err, "--scenario FILE is required");
    proc_free(&r);
    r = run("sim " DC "payment.json" SIM " --seeds 0");
    cr_assert_eq(r.status, 2);
    ASSERT_HAS(r, err, "--seeds takes a count");
    proc_free(&r);
    r = run("sim " DC "payment.json" SIM " --sede 3");
    cr_assert_eq(r.status, 2);
    ASSERT_HAS(r, err, "--seed");
    proc_free(&r);
    r = run("help sim");
    cr_assert_eq(r.status, 0);
    ASSERT_HAS(r, out, "Usage: weir sim GRAPH --scenario FILE");
    proc_free(&r);
}

/* User components (SPEC §2.3) run in a component host: a call that fails
 * (userCalls.fail) is found, shrunk to one inject and that fault, the
 * same with one thread or two (the host's call numbers are no part of a
 * run), and the journal, carrying the definition, replays. */
static const char COUNTER[] =
    "{\"id\": \"acme.counter\", \"name\": \"Counter\", \"version\": \"1\","
    " \"ports\": {\"inputs\": [\"in\"], \"outputs\": [\"out\"]},"
    " \"execution\": {\"type\": \"javascript\", \"source\": \"return { initialize(ctx) { ctx.setState('n', 0) },"
    " process: (ctx, port, v) => { const n = ctx.getState('n') + 1; ctx.setState('n', n); ctx.emit('out', n) } }\"}}";
static const char COUNTED[] =
    "{\"symbia\": \"1.0\", \"name\": \"counted\", \"nodes\": ["
    "{\"id\": \"in\", \"component\": \"symbia.core.passthrough\"},"
    "{\"id\": \"count\", \"component\": \"acme.counter\"},"
    "{\"id\": \"seen\", \"component\": \"symbia.core.passthrough\"},"
    "{\"id\": \"failed\", \"component\": \"symbia.core.passthrough\"}], \"edges\": ["
    "{\"id\": \"e1\", \"source\": {\"node\": \"in\", \"port\": \"out\"}, \"target\": {\"node\": \"count\", \"port\": \"in\"}},"
    "{\"id\": \"e2\", \"source\": {\"node\": \"count\", \"port\": \"out\"}, \"target\": {\"node\": \"seen\", \"port\": \"in\"}},"
    "{\"id\": \"e3\", \"source\": {\"node\": \"count\", \"port\": \"error\"}, \"target\": {\"node\": \"failed\", \"port\": \"in\"}}]}";
static const char COUNTED_SIM[] = "userCalls: {latencyMs: [1, 10], fail: 0.3}\n"
                                  "steps:\n"
                                  "  - inject: {nodeId: in, value: a, atTick: [0, 20]}\n"
                                  "  - inject: {nodeId: in, value: b, atTick: [0, 20]}\n"
                                  "  - inject: {nodeId: in, value: c, atTick: [0, 20]}\n"
                                  "invariants:\n"
                                  "  - {name: never fails, expression: \"!outputs['failed:out']\"}\n";

Test(sim, user_component_calls_run_in_the_host_and_their_faults_are_found) {
    char *comp = proc_tempfile(".json", COUNTER), *graph = proc_tempfile(".json", COUNTED);
    char *sc = proc_tempfile(".yaml", COUNTED_SIM);
    char dir[128], path[256];
    proc_tempdir(dir, sizeof dir, "simuser");
    snprintf(path, sizeof path, "%s/fail.ndjson", dir);
    proc_result a = run("sim %s --scenario %s --components %s --seed 1 --seeds 100 --jobs 1 --out %s", graph, sc, comp,
                        path);
    cr_assert_eq(a.status, 1, "%s\n%s", a.out, a.err);
    ASSERT_HAS(a, out, "invariant \"never fails\"");
    ASSERT_HAS(a, out, ": 1 inject, 1 fault");
    ASSERT_HAS(a, out, "userCalls.fail fault: it fails");
    ASSERT_HAS(a, out, "node count's user component answers {\"emits\":[],\"state\":{\"n\":0},\"logs\":[]}");
    proc_result b = run("sim %s --scenario %s --components %s --seed 1 --seeds 100 --jobs 2 --out %s", graph, sc, comp,
                        path);
    cr_assert_str_eq(a.out, b.out);
    proc_free(&a);
    proc_free(&b);
    a = run("replay %s", path);
    cr_assert_eq(a.status, 0, "%s\n%s", a.out, a.err);
    ASSERT_HAS(a, out, "match (");
    proc_free(&a);
    /* without the definition: said, exit 2 */
    a = run("sim %s --scenario %s --seed 1", graph, sc);
    cr_assert_eq(a.status, 2);
    ASSERT_HAS(a, err, "node count uses component acme.counter, which is not a built-in: give its definition with "
                       "--components FILE");
    proc_free(&a);
    serve_rmdir(dir);
    free(comp);
    free(graph);
    free(sc);
}
