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

/* ------------------------------------------------------- --inject values */

#define PASS_GRAPH                                                                                                  \
    "{\"symbia\":\"1\",\"name\":\"p\",\"nodes\":[{\"id\":\"a\",\"component\":\"symbia.core.passthrough\"}],"       \
    "\"edges\":[]}"

/* weir run (args) with --inject 'a=<value>' on a one-passthrough graph. */
static proc_result inject_one(const char *graph, const char *extra, const char *value) {
    char args[1024];
    snprintf(args, sizeof args, "run %s %s --inject 'a=%s'", graph, extra, value);
    return run(args);
}

Test(cli, inject_values_that_start_like_json_must_parse) {
    char *g = proc_tempfile(".json", PASS_GRAPH);
    /* each of these starts like JSON and is not: exit 2, nothing runs */
    const char *bad[] = {"{bad", "[1,2", "\"abc", "12apples", "-5x", "1e999", "{\"a\":1} x", " [1,]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        for (int virt = 0; virt < 2; virt++) {
            proc_result r = inject_one(g, virt ? "--virtual" : "", bad[i]);
            cr_assert_eq(r.status, 2, "%s%s: exit %d\n%s%s", bad[i], virt ? " (virtual)" : "", r.status, r.out, r.err);
            ASSERT_HAS(r, err, "not valid JSON: ");
            ASSERT_HAS(r, err, "column ");
            ASSERT_HAS(r, err, "quote it as a JSON string: --inject 'a=\"");
            cr_assert_str_eq(r.out, "", "nothing ran for %s", bad[i]);
            proc_free(&r);
        }
    }
    /* the message shows the parse error, where, and the fix to copy */
    proc_result r = inject_one(g, "", "{bad");
    ASSERT_HAS(r, err, "weir run: --inject 'a={bad': not valid JSON: string or '}' expected near 'bad' (column 4)\n");
    ASSERT_HAS(r, err, "--inject 'a=\"{bad\"'\n");
    cr_assert_lt(strlen(r.err), 400, "short, not the help:\n%s", r.err);
    proc_free(&r);
    /* and that fix is taken as the string */
    r = inject_one(g, "", "\"{bad\"");
    cr_assert_eq(r.status, 0, "%s", r.err);
    ASSERT_HAS(r, out, "a:out \"{bad\"\n");
    proc_free(&r);
    unlink(g);
    free(g);
}

Test(cli, inject_bare_words_are_strings_and_json_is_json) {
    char *g = proc_tempfile(".json", PASS_GRAPH);
    const char *cases[][2] = {{"alice", "\"alice\""}, {"-x", "\"-x\""},       {"true", "true"},
                              {"null", "null"},       {"truex", "\"truex\""}, {" 42", "42"},
                              {"-5", "-5"},           {"2.5e1", "25.0"},      {"{\"k\": [1]}", "{\"k\":[1]}"},
                              {"", "\"\""},           {"two words", "\"two words\""}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        proc_result r = inject_one(g, "", cases[i][0]);
        cr_assert_eq(r.status, 0, "%s: %s", cases[i][0], r.err);
        char want[128];
        snprintf(want, sizeof want, "a:out %s\n", cases[i][1]);
        ASSERT_HAS(r, out, want);
        proc_free(&r);
    }
    unlink(g);
    free(g);
}

Test(cli, the_stepper_refuses_a_bad_inject_and_goes_on) {
    char *g = proc_tempfile(".json", PASS_GRAPH);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "printf '%%s\\n' 'i a={bad' 'i a=\"{bad\"' r q | %s run %s --virtual --step", WEIR_BINARY,
             g);
    proc_result r = proc_run(cmd);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    ASSERT_HAS(r, out, "a={bad: not valid JSON: string or '}' expected near 'bad' (column 4)\n");
    ASSERT_HAS(r, out, "quote it as a JSON string: a=\"{bad\"\n");
    ASSERT_HAS(r, out, "output a:out \"{bad\"");
    proc_free(&r);
    unlink(g);
    free(g);
}

Test(cli, a_timeout_from_the_environment_must_be_a_number) {
    proc_result r = proc_run("DEFAULT_EXECUTION_TIMEOUT=soon " WEIR_BINARY " run " EX "quick-reference.json "
                             "--inject input=21");
    cr_assert_eq(r.status, 2, "%s%s", r.out, r.err);
    ASSERT_HAS(r, err, "DEFAULT_EXECUTION_TIMEOUT takes milliseconds (0 = none), got 'soon'");
    proc_free(&r);
}

/* ------------------------------------------------ examples cited in help */

/* The lines of a help text that hold an examples/ path, and the commands
 * of its Example(s) section (lines starting with `weir `, prefixed "$ "),
 * continuation lines ("\" at the end) joined. */
static size_t example_lines(const char *text, char lines[][512], size_t cap) {
    size_t n = 0;
    bool in_examples = false;
    const char *p = text;
    while (*p && n < cap) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line - 1 ? len : sizeof line - 1), p);
        p += len + (eol ? 1 : 0);
        if (!line[0]) in_examples = false;
        if (strncmp(line, "Example", 7) == 0) in_examples = true;
        const char *t = line + strspn(line, " ");
        bool command = in_examples && strncmp(t, "weir ", 5) == 0;
        if (!command && !strstr(t, "examples/")) continue;
        snprintf(lines[n], 512, "%s%s", command ? "$ " : "", t);
        while (lines[n][0] && lines[n][strlen(lines[n]) - 1] == '\\' && *p) {
            lines[n][strlen(lines[n]) - 1] = '\0';
            eol = strchr(p, '\n');
            len = eol ? (size_t)(eol - p) : strlen(p);
            size_t have = strlen(lines[n]);
            const char *c = p + strspn(p, " ");
            size_t clen = len - (size_t)(c - p);
            snprintf(lines[n] + have, 512 - have, " %.*s", (int)clen, c);
            p += len + (eol ? 1 : 0);
        }
        n++;
    }
    return n;
}

Test(cli, every_example_cited_in_help_exists_validates_and_runs) {
    proc_result top = run("--help");
    cr_assert_eq(top.status, 0);
    /* the commands: the lines under "Commands:" */
    char cmds[16][32];
    size_t n_cmds = 0;
    const char *c = strstr(top.out, "Commands:\n");
    cr_assert_not_null(c);
    for (c = strchr(c, '\n') + 1; strncmp(c, "  ", 2) == 0 && n_cmds < 16; c = strchr(c, '\n') + 1)
        sscanf(c, " %31s", cmds[n_cmds++]);
    cr_assert_geq(n_cmds, 4, "%s", top.out);
    size_t cited = 0, ran = 0;
    for (size_t k = 0; k <= n_cmds; k++) {
        char args[64];
        snprintf(args, sizeof args, "%s --help", k < n_cmds ? cmds[k] : "");
        proc_result h = k < n_cmds ? run(args) : top;
        cr_assert_eq(h.status, 0, "weir %s", args);
        static char lines[64][512];
        size_t n = example_lines(h.out, lines, 64);
        for (size_t i = 0; i < n; i++) {
            /* every examples/ path on the line exists; graphs validate */
            char *s = lines[i];
            while ((s = strstr(s, "examples/"))) {
                char path[256];
                size_t len = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-");
                snprintf(path, sizeof path, "%.*s", (int)len, s);
                bool graph = true; /* unless the option before it says it is something else */
                const char *opts[] = {"--input ", "--scenario ", "--mocks ", "-f "};
                for (size_t o = 0; o < 4; o++) {
                    size_t ol = strlen(opts[o]);
                    if ((size_t)(s - lines[i]) >= ol && strncmp(s - ol, opts[o], ol) == 0) graph = false;
                }
                char full[512];
                snprintf(full, sizeof full, WEIR_SOURCE_DIR "/%s", path);
                cr_assert_eq(access(full, R_OK), 0, "weir %s cites %s, which does not exist:\n  %s", args, path,
                             lines[i]);
                if (graph && (strstr(path, ".json") || strstr(path, ".yaml")) && !strstr(path, ".jsonl")) {
                    char v[600];
                    snprintf(v, sizeof v, "validate %s", full);
                    proc_result r = run(v);
                    cr_assert_eq(r.status, 0, "weir %s cites %s, which is not a valid graph:\n%s", args, path, r.err);
                    proc_free(&r);
                }
                cited++;
                s += len;
            }
            /* and the example itself runs (not serve: it would not return) */
            if (strncmp(lines[i], "$ weir ", 7) != 0 || strncmp(lines[i], "$ weir serve", 12) == 0) continue;
            char cmd[1024];
            snprintf(cmd, sizeof cmd, "cd " WEIR_SOURCE_DIR " && %s%s </dev/null", WEIR_BINARY, lines[i] + 6);
            proc_result r = proc_run(cmd);
            /* exit 1 only where a scenario check fails, as the race example's does on purpose */
            bool check_failed = strstr(r.out, "checks: ") && !strstr(r.out, ", 0 failed");
            cr_assert(r.status == 0 || (r.status == 1 && check_failed), "weir %s: example `%s` exited %d:\n%s%s", args,
                      lines[i], r.status, r.out, r.err);
            proc_free(&r);
            ran++;
        }
        if (k < n_cmds) proc_free(&h);
    }
    proc_free(&top);
    cr_assert_geq(cited, 8, "the help texts cite the examples");
    cr_assert_geq(ran, 8, "the help texts show commands to run");
}

Test(cli, the_json_and_yaml_batch_examples_are_the_same_graph) {
    proc_result j = run("validate --json " EX "accumulator-batch.json");
    proc_result y = run("validate --json " EX "accumulator-batch.yaml");
    cr_assert_eq(j.status, 0, "%s", j.err);
    cr_assert_str_eq(j.out, y.out);
    proc_free(&j);
    proc_free(&y);
    j = run("run " EX "accumulator-batch.json --input " EX "accumulator-batch.jsonl");
    cr_assert_eq(j.status, 0, "%s", j.err);
    ASSERT_HAS(j, out, "sum:out {\"count\":3,\"sum\":60}\nsum:out {\"count\":3,\"sum\":150}\n"
                       "sum:out {\"count\":1,\"sum\":70}\n");
    proc_free(&j);
}

/* ------------------------------------------------------- mistyped options */

static size_t count_lines(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* A usage error: exit 2, the error, maybe a suggestion, one line pointing at
 * the help; never the help itself. */
static void usage_error(const char *args, const char *error, const char *suggestion, const char *help_cmd) {
    proc_result r = run(args);
    cr_assert_eq(r.status, 2, "weir %s: exit %d\n%s", args, r.status, r.err);
    ASSERT_HAS(r, err, error);
    if (suggestion) {
        char want[128];
        snprintf(want, sizeof want, "did you mean '%s'?\n", suggestion);
        ASSERT_HAS(r, err, want);
    } else {
        cr_assert_null(strstr(r.err, "did you mean"), "weir %s:\n%s", args, r.err);
    }
    char pointer[128];
    snprintf(pointer, sizeof pointer, "\nRun 'weir %s--help' to see every ", help_cmd);
    ASSERT_HAS(r, err, pointer);
    cr_assert_eq(count_lines(r.err), 2, "weir %s: two lines, not the help:\n%s", args, r.err);
    cr_assert_str_eq(r.out, "");
    proc_free(&r);
}

Test(cli, a_mistyped_option_gets_a_suggestion_not_the_help) {
    usage_error("run --injct a=1 " EX "quick-reference.json", "weir run: unknown option '--injct'", "--inject", "run ");
    usage_error("run " EX "quick-reference.json --tarce", "unknown option '--tarce'", "--trace", "run ");
    usage_error("run -json " EX "quick-reference.json", "unknown option '-j' in '-json'", "--json", "run ");
    usage_error("run --JSON " EX "quick-reference.json", "unknown option '--JSON'", "--json", "run ");
    usage_error("run --zzzzzz " EX "quick-reference.json", "unknown option '--zzzzzz'", NULL, "run ");
    usage_error("run " EX "quick-reference.json --inject", "option '--inject' needs a value", NULL, "run ");
    usage_error("run --json=yes " EX "quick-reference.json", "option '--json' takes no value", NULL, "run ");
    usage_error("run --in a=1 " EX "quick-reference.json", "'--in' is ambiguous; it could be '--inject' or '--input'",
                NULL, "run ");
    usage_error("run", "weir run: expected one GRAPH file", NULL, "run ");
    usage_error("validate --jsno " EX "merge-diamond.json", "weir validate: unknown option '--jsno'", "--json",
                "validate ");
    usage_error("validate", "weir validate: expected one GRAPH file", NULL, "validate ");
    usage_error("components --jsn", "weir components: unknown option '--jsn'", "--json", "components ");
    usage_error("serve --prot 8080", "weir serve: unknown option '--prot'", "--port", "serve ");
    usage_error("serve --MAX_BODY_BYTES=1k", "weir serve: unknown option '--MAX_BODY_BYTES'", "--max-body-bytes",
                "serve ");
    usage_error("serve --port", "weir serve: option '--port' needs a value", NULL, "serve ");
    usage_error("serve now", "weir serve: unexpected argument 'now'", NULL, "serve ");
    usage_error("rnu " EX "quick-reference.json", "weir: unknown command 'rnu'", "run", "");
    usage_error("valdiate x", "weir: unknown command 'valdiate'", "validate", "");
    usage_error("help sreve", "weir: unknown command 'sreve'", "serve", "");
    usage_error("--hepl", "weir: unknown command '--hepl'", "--help", "");
    usage_error("frobnicate", "weir: unknown command 'frobnicate'", NULL, "");
}

Test(cli, an_unknown_component_id_gets_a_suggestion) {
    proc_result r = run("components symbia.core.mpa");
    cr_assert_eq(r.status, 2);
    ASSERT_HAS(r, err, "no component \"symbia.core.mpa\"; did you mean \"symbia.core.map\"?");
    proc_free(&r);
}

/* ------------------------------------------------------ validate --json */

/* weir validate --json on text; the errors array (NEW) and the exit code. */
static json_t *validate_errors(const char *suffix, const char *text, int *status) {
    char *g = proc_tempfile(suffix, text);
    char args[512];
    snprintf(args, sizeof args, "validate --json %s", g);
    proc_result r = run(args);
    *status = r.status;
    json_t *doc = json_loads(r.out, 0, NULL);
    cr_assert_not_null(doc, "%s%s", r.out, r.err);
    cr_assert(json_is_false(json_object_get(doc, "valid")), "%s", r.out);
    json_t *errors = json_incref(json_object_get(doc, "errors"));
    json_decref(doc);
    proc_free(&r);
    unlink(g);
    free(g);
    return errors;
}

/* The error with this code and field (NULL: any field); asserts it is there
 * and that every error is {code, message, nodeId?, edgeId?, field?}. */
static json_t *find_error(json_t *errors, const char *code, const char *field) {
    size_t i;
    json_t *e, *found = NULL;
    json_array_foreach(errors, i, e) {
        const char *k;
        json_t *v;
        json_object_foreach(e, k, v) {
            cr_assert(!strcmp(k, "code") || !strcmp(k, "message") || !strcmp(k, "nodeId") || !strcmp(k, "edgeId") ||
                          !strcmp(k, "field"),
                      "unexpected member %s", k);
            cr_assert(json_is_string(v), "%s is a string", k);
        }
        cr_assert(json_string_length(json_object_get(e, "message")) > 0);
        const char *f = json_string_value(json_object_get(e, "field"));
        if (!found && !strcmp(json_string_value(json_object_get(e, "code")), code) &&
            (!field || (f && !strcmp(f, field))))
            found = e;
    }
    char *all = json_dumps(errors, JSON_INDENT(1));
    cr_assert_not_null(found, "no %s error with field %s in\n%s", code, field ? field : "(any)", all);
    free(all);
    return found;
}

static const char *member(json_t *e, const char *k) { return json_string_value(json_object_get(e, k)); }

Test(cli, validate_json_gives_each_problem_a_code_and_where) {
    int status;
    json_t *errors = validate_errors(
        ".yaml",
        "symbia: '1'\nmetadata: {onError: maybe}\nnodes:\n"
        "  - {id: a, component: nope.x}\n"
        "  - {id: b, component: symbia.core.filter}\n"
        "  - {id: c, component: symbia.core.delay, config: {delayMs: soon, speed: 2}}\n"
        "  - {id: d, component: symbia.core.map, config: {expression: 'value +'}}\n"
        "  - {id: b, component: symbia.core.passthrough}\n"
        "  - {component: symbia.core.passthrough}\n"
        "  - 7\n"
        "edges:\n"
        "  - {id: e1, source: {node: c, port: out}, target: {node: zz, port: in}}\n"
        "  - {source: a}\n",
        &status);
    cr_assert_eq(status, 2);
    json_t *e = find_error(errors, "missing-field", "name");
    cr_assert_null(json_object_get(e, "nodeId"));
    e = find_error(errors, "bad-metadata", "metadata.onError");
    cr_assert(strstr(member(e, "message"), "metadata.onError must be \"fail\" or \"continue\""), "the text stays");
    e = find_error(errors, "unknown-component", "component");
    cr_assert_str_eq(member(e, "nodeId"), "a");
    cr_assert(strstr(member(e, "message"), "nope.x"));
    cr_assert_str_eq(member(find_error(errors, "missing-config", "config.predicate"), "nodeId"), "b");
    cr_assert_str_eq(member(find_error(errors, "unknown-config-key", "config.speed"), "nodeId"), "c");
    cr_assert_str_eq(member(find_error(errors, "bad-config", "config.delayMs"), "nodeId"), "c");
    e = find_error(errors, "bad-expression", "config.expression");
    cr_assert_str_eq(member(e, "nodeId"), "d");
    cr_assert(strstr(member(e, "message"), "does not compile"));
    cr_assert_str_eq(member(find_error(errors, "duplicate-node", NULL), "nodeId"), "b");
    find_error(errors, "missing-field", "nodes[5].id");
    find_error(errors, "bad-node", "nodes[6]");
    e = find_error(errors, "unknown-node", "target.node");
    cr_assert_str_eq(member(e, "edgeId"), "e1");
    e = find_error(errors, "bad-edge", "edges[1].target");
    cr_assert_null(json_object_get(e, "edgeId"), "no id: the field says which edge");
    json_decref(errors);

    errors = validate_errors(".json",
                             "{\"symbia\":\"1\",\"name\":\"n\",\"nodes\":[{\"id\":\"a\",\"component\":"
                             "\"symbia.core.passthrough\"},{\"id\":\"b\",\"component\":\"symbia.core.passthrough\"}],"
                             "\"edges\":[{\"id\":\"x\",\"source\":{\"node\":\"a\",\"port\":\"output\"},\"target\":{"
                             "\"node\":\"b\",\"port\":\"in\"}}]}",
                             &status);
    e = find_error(errors, "unknown-port", "source.port");
    cr_assert_str_eq(member(e, "edgeId"), "x");
    cr_assert_str_eq(member(e, "nodeId"), "a");
    json_decref(errors);

    errors = validate_errors(".json",
                             "{\"symbia\":\"1\",\"name\":\"n\",\"nodes\":[{\"id\":\"a\",\"component\":"
                             "\"symbia.core.passthrough\"},{\"id\":\"b\",\"component\":\"symbia.core.passthrough\"}],"
                             "\"edges\":[{\"id\":\"1\",\"source\":{\"node\":\"a\",\"port\":\"out\"},\"target\":{"
                             "\"node\":\"b\",\"port\":\"in\"}},{\"id\":\"2\",\"source\":{\"node\":\"b\",\"port\":"
                             "\"out\"},\"target\":{\"node\":\"a\",\"port\":\"in\"}}]}",
                             &status);
    cr_assert(strstr(member(find_error(errors, "cycle", NULL), "message"), "a → b → a"));
    json_decref(errors);

    errors = validate_errors(".json", "[1, 2]", &status);
    find_error(errors, "not-a-graph", NULL);
    json_decref(errors);
    errors = validate_errors(".json", "{\"symbia\": ", &status);
    cr_assert_eq(status, 2);
    find_error(errors, "parse-error", NULL);
    json_decref(errors);
}

Test(cli, validate_help_documents_every_code) {
    proc_result h = run("validate --help");
    cr_assert_eq(h.status, 0);
    const char *codes[] = {"parse-error",       "not-a-graph",        "missing-field",  "bad-metadata",
                           "too-large",         "bad-node",           "duplicate-node", "unknown-component",
                           "unknown-config-key", "missing-config",    "bad-config",     "bad-expression",
                           "bad-edge",          "unknown-node",       "unknown-port",   "cycle"};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
        char want[64];
        snprintf(want, sizeof want, "\n  %s ", codes[i]);
        ASSERT_HAS(h, out, want);
    }
    ASSERT_HAS(h, out, "{\"code\", \"message\", \"nodeId\"?, \"edgeId\"?, \"field\"?}");
    proc_free(&h);
}
