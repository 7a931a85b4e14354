/* The weir binary, black-box: weir run / validate / components. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oneshot.h"
#include "proc.h"
#include "weir/weir.h"

#define EX WEIR_SOURCE_DIR "/examples/"

static proc_result run(const char *args) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s", WEIR_BINARY, args);
    return proc_run(cmd);
}

#define ASSERT_HAS(r, field, needle) \
    cr_assert(strstr((r).field, needle), "expected %s in " #field ":\n%s\nstderr:\n%s", needle, (r).field, (r).err)

Test(cli, quick_reference_prints_42_and_completes) {
    proc_result r = run("run " EX "quick-reference.json --inject input=21");
    cr_assert_eq(r.status, 0, "%s", r.err);
    ASSERT_HAS(r, out, "output:out 42\n");
    ASSERT_HAS(r, out, "state: completed");
    ASSERT_HAS(r, out, "messagesProcessed=3");
    ASSERT_HAS(r, err, "log info output: 42");
    proc_free(&r);
}

Test(cli, json_output_and_trace) {
    proc_result r = run("run " EX "quick-reference.json --inject input:in=21 --json --trace");
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *doc = json_loads(r.out, 0, NULL);
    cr_assert_not_null(doc, "%s", r.out);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "state")), "completed");
    json_t *o = json_array_get(json_object_get(doc, "outputs"), 0);
    cr_assert_eq(json_integer_value(json_object_get(o, "value")), 42);
    cr_assert_str_eq(json_string_value(json_object_get(o, "node")), "output");
    json_t *trace = json_object_get(json_array_get(json_object_get(doc, "traces"), 0), "trace");
    cr_assert_eq(json_array_size(trace), 3);
    json_decref(doc);
    proc_free(&r);
}

Test(cli, filter_split_routes_by_size) {
    proc_result r = run("run " EX "filter-split.json --inject 'orders={\"total\":5}' --inject 'orders={\"total\":50}' "
                        "--inject 'orders={\"total\":500}' --inject 'orders={\"total\":5000}'");
    cr_assert_eq(r.status, 0, "%s", r.err);
    ASSERT_HAS(r, out, "valid:rejected {\"total\":5}\nsmall:out {\"total\":50}\nmedium:out {\"total\":500}\n"
                       "large:out {\"total\":5000}\n");
    ASSERT_HAS(r, out, "state: running (idle: nothing in flight)");
    proc_free(&r);
}

Test(cli, merge_diamond_joins_in_one_wave) {
    proc_result r = run("run " EX "merge-diamond.json --inject 'source={\"celsius\":100}'");
    cr_assert_eq(r.status, 0, "%s", r.err);
    ASSERT_HAS(r, out, "report:out \"100°C is 212°F\"");
    ASSERT_HAS(r, out, "ticks=1 ");
    proc_free(&r);
}

Test(cli, accumulator_from_jsonl_with_flush_timer) {
    proc_result r = run("run " EX "accumulator-batch.yaml --input " EX "accumulator-batch.jsonl");
    cr_assert_eq(r.status, 0, "%s", r.err);
    ASSERT_HAS(r, out, "sum:out {\"count\":3,\"sum\":60}\nsum:out {\"count\":3,\"sum\":150}\n"
                       "sum:out {\"count\":1,\"sum\":70}\n");
    ASSERT_HAS(r, out, "state: completed");
    proc_free(&r);
}

Test(cli, bad_input_line_names_the_line) {
    char *f = proc_tempfile(".jsonl", "{\"nodeId\":\"a\",\"value\":1}\nnot json\n");
    char *g = proc_tempfile(".json", "{\"symbia\":\"1\",\"name\":\"p\",\"metadata\":{\"role\":\"pipeline\"},"
                                     "\"nodes\":[{\"id\":\"a\",\"component\":\"symbia.core.passthrough\"}],\"edges\":[]}");
    char args[512];
    snprintf(args, sizeof args, "run %s --input %s", g, f);
    proc_result r = run(args);
    cr_assert_eq(r.status, 2);
    ASSERT_HAS(r, err, "line 2: each line must be");
    proc_free(&r);
    unlink(f);
    unlink(g);
    free(f);
    free(g);
}

Test(cli, unknown_inject_target_is_a_usage_error) {
    proc_result r = run("run " EX "quick-reference.json --inject nowhere=1");
    cr_assert_eq(r.status, 2);
    ASSERT_HAS(r, err, "node \"nowhere\" is not in graph");
    proc_free(&r);
}

Test(cli, failure_exits_1_with_the_error) {
    char *g = proc_tempfile(".json", "{\"symbia\":\"1\",\"name\":\"f\",\"nodes\":[{\"id\":\"m\",\"component\":"
                                     "\"symbia.core.map\",\"config\":{\"expression\":\"value.a.b\"}}],\"edges\":[]}");
    char args[512];
    snprintf(args, sizeof args, "run %s --inject m=1", g);
    proc_result r = run(args);
    cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
    ASSERT_HAS(r, out, "state: failed");
    ASSERT_HAS(r, out, "Cannot read properties of undefined (reading 'b')");
    proc_free(&r);
    unlink(g);
    free(g);
}

Test(cli, delay_waits_for_its_timer) {
    char *g = proc_tempfile(".json", "{\"symbia\":\"1\",\"name\":\"d\",\"nodes\":[{\"id\":\"d\",\"component\":"
                                     "\"symbia.core.delay\",\"config\":{\"delayMs\":150}}],\"edges\":[]}");
    char args[512];
    snprintf(args, sizeof args, "run %s --inject d=1 --json", g);
    proc_result r = run(args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *doc = json_loads(r.out, 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "state")), "completed");
    cr_assert_geq(json_integer_value(json_object_get(json_object_get(doc, "metrics"), "uptimeMs")), 150);
    json_decref(doc);
    proc_free(&r);
    unlink(g);
    free(g);
}

Test(cli, validate_prints_topology_or_every_problem) {
    proc_result r = run("validate " EX "merge-diamond.json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    ASSERT_HAS(r, out, "sorted       source celsius fahrenheit join report");
    proc_free(&r);
    r = run("validate --json " EX "merge-diamond.json");
    json_t *doc = json_loads(r.out, 0, NULL);
    cr_assert(json_is_true(json_object_get(doc, "valid")));
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(json_object_get(doc, "topology"), "levels"), "report")),
                 3);
    json_decref(doc);
    proc_free(&r);
    char *g = proc_tempfile(".yaml", "symbia: '1'\nname: bad\nnodes:\n  - {id: a, component: nope.x}\n"
                                     "  - {id: b, component: symbia.core.filter}\nedges: []\n");
    char args[512];
    snprintf(args, sizeof args, "validate %s", g);
    r = run(args);
    cr_assert_eq(r.status, 2);
    ASSERT_HAS(r, err, "invalid graph (2 problems)");
    ASSERT_HAS(r, err, "a -> nope.x");
    ASSERT_HAS(r, err, "config \"predicate\" is required");
    proc_free(&r);
    unlink(g);
    free(g);
}

Test(cli, components_list_and_describe) {
    proc_result r = run("components");
    cr_assert_eq(r.status, 0);
    const char *ids[] = {"symbia.core.passthrough", "symbia.core.logger", "symbia.core.delay", "symbia.core.filter",
                         "symbia.core.map", "symbia.core.split", "symbia.core.merge", "symbia.core.accumulator",
                         "symbia.io.http-request", "symbia.data.json-transform", "symbia.state.once"};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) ASSERT_HAS(r, out, ids[i]);
    proc_free(&r);
    r = run("components symbia.core.delay");
    ASSERT_HAS(r, out, "delayMs    integer, default 1000, alias ms");
    proc_free(&r);
    r = run("components symbia.state.once");
    ASSERT_HAS(r, out, "outputs out, duplicate, error");
    ASSERT_HAS(r, out, "maxKeys    integer, default 100000");
    proc_free(&r);
    r = run("components --json symbia.core.merge");
    json_t *doc = json_loads(r.out, 0, NULL);
    cr_assert(json_is_true(json_object_get(json_object_get(doc, "ports"), "dynamicInputs")));
    json_decref(doc);
    proc_free(&r);
    r = run("components nope.x");
    cr_assert_eq(r.status, 2);
    ASSERT_HAS(r, err, "no component \"nope.x\"");
    proc_free(&r);
}

Test(cli, help_everywhere_and_usage_errors) {
    const char *cmds[] = {"--help", "run --help", "validate --help", "components --help", "help run"};
    for (size_t i = 0; i < 5; i++) {
        proc_result r = run(cmds[i]);
        cr_assert_eq(r.status, 0, "%s", cmds[i]);
        ASSERT_HAS(r, out, "Usage: weir");
        ASSERT_HAS(r, out, "xample");
        proc_free(&r);
    }
    proc_result r = run("frobnicate");
    cr_assert_eq(r.status, 2);
    proc_free(&r);
    r = run("run");
    cr_assert_eq(r.status, 2);
    ASSERT_HAS(r, err, "expected one GRAPH file");
    proc_free(&r);
}

Test(cli, http_request_example_against_a_local_server) {
    oneshot srv;
    oneshot_start(&srv, "GET /users/7 ", "{\"id\":7,\"name\":\"Ada\"}", 2); /* weir run, then --virtual */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "sed 's/127.0.0.1:8080/127.0.0.1:%d/' " EX "http-request.json > /tmp/weir-http-%d.json",
             srv.port, getpid());
    cr_assert_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "run /tmp/weir-http-%d.json --allow-private --inject ids=7", getpid());
    proc_result r = run(cmd);
    cr_assert_eq(r.status, 0, "%s", r.err);
    ASSERT_HAS(r, out, "name:out \"Ada\"");
    proc_free(&r);
    /* virtual time: no mock matches, so it is performed for real; the answer
     * is delivered at the first tick after it came back (run waits for it) */
    snprintf(cmd, sizeof cmd, "run /tmp/weir-http-%d.json --virtual --allow-private --inject ids=7", getpid());
    r = run(cmd);
    oneshot_stop(&srv);
    cr_assert_eq(r.status, 0, "%s", r.err);
    ASSERT_HAS(r, out, "[tick 1] output name:out \"Ada\"");
    proc_free(&r);
    /* without --allow-private the egress guard refuses loopback */
    snprintf(cmd, sizeof cmd, "run /tmp/weir-http-%d.json --inject ids=7", getpid());
    r = run(cmd);
    ASSERT_HAS(r, err, "request failed: ");
    ASSERT_HAS(r, err, "EGRESS_ALLOW_PRIVATE");
    proc_free(&r);
    snprintf(cmd, sizeof cmd, "/tmp/weir-http-%d.json", getpid());
    unlink(cmd);
}

Test(cli, long_input_shows_progress_on_a_terminal) {
    char *g = proc_tempfile(".json", "{\"symbia\":\"1\",\"name\":\"p\",\"metadata\":{\"role\":\"pipeline\"},"
                                     "\"nodes\":[{\"id\":\"a\",\"component\":\"symbia.core.passthrough\"}],\"edges\":[]}");
    char *f = proc_tempfile(".jsonl", NULL);
    FILE *out = fopen(f, "w");
    for (int i = 0; i < 20000; i++) fprintf(out, "{\"nodeId\":\"a\",\"value\":%d}\n", i);
    fclose(out);
    char cmd[1024];
    /* script(1) gives weir a pseudo-terminal, as a person at a shell would */
    snprintf(cmd, sizeof cmd, "script -qec '%s run %s --input %s --json' /dev/null", WEIR_BINARY, g, f);
    proc_result r = proc_run(cmd);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    ASSERT_HAS(r, out, "100% 20000 lines");
    ASSERT_HAS(r, out, "\"injected\": 20000");
    proc_free(&r);
    /* not a terminal: no progress bar */
    snprintf(cmd, sizeof cmd, "%s run %s --input %s --json", WEIR_BINARY, g, f);
    r = proc_run(cmd);
    cr_assert_null(strstr(r.err, "lines"), "%s", r.err);
    proc_free(&r);
    unlink(g);
    unlink(f);
    free(g);
    free(f);
}

Test(cli, enable_metrics_false_keeps_counters_and_zeroes_latency) {
    proc_result r = proc_run("ENABLE_METRICS=false " WEIR_BINARY " run " EX "quick-reference.json --inject input=21");
    cr_assert_eq(r.status, 0, "%s", r.err);
    ASSERT_HAS(r, out, "messagesProcessed=3");
    ASSERT_HAS(r, out, "avgLatencyMs=0.0000 maxLatencyMs=0.0000");
    proc_free(&r);
}
