/* weir run --virtual, black-box: scenarios (the double-capture race and its
 * fix), their checks and errors, byte-identical replays, and the stepper
 * driven through stdin. */
#include <criterion/criterion.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "weir/weir.h"

#define EX WEIR_SOURCE_DIR "/examples/"
#define DC EX "double-capture/"

static proc_result run(const char *args) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s", WEIR_BINARY, args);
    return proc_run(cmd);
}

#define ASSERT_HAS(r, field, needle) \
    cr_assert(strstr((r).field, needle), "expected %s in " #field ":\n%s\nstderr:\n%s", needle, (r).field, (r).err)

Test(run_virtual, the_race_captures_twice_and_the_fix_once) {
    proc_result r = run("run " DC "payment.json --virtual --scenario " DC "race.yaml");
    cr_assert_eq(r.status, 1, "the invariant check fails for the race:\n%s\n%s", r.out, r.err);
    ASSERT_HAS(r, out, "✓ expect {\"output\":\"captured:out\",\"count\":0}");
    ASSERT_HAS(r, out, "✗ expect {\"output\":\"captured:out\",\"count\":1}: got 2");
    ASSERT_HAS(r, out, "checks: 1 passed, 1 failed");
    proc_free(&r);
    r = run("run " DC "payment-fixed.json --virtual --scenario " DC "race.yaml");
    cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
    ASSERT_HAS(r, out, "output already-captured:out {\"paymentId\":\"pay_1\",\"capturedBy\":\"poller\"}");
    ASSERT_HAS(r, out, "checks: 2 passed, 0 failed");
    proc_free(&r);
}

Test(run_virtual, a_scenario_replays_byte_for_byte) {
    proc_result a = run("run " DC "payment.json --virtual --scenario " DC "race.yaml --json");
    proc_result b = run("run " DC "payment.json --virtual --scenario " DC "race.yaml --json");
    cr_assert_str_eq(a.out, b.out);
    cr_assert_str_eq(a.err, b.err);
    json_t *doc = json_loads(a.out, 0, NULL);
    cr_assert_not_null(doc, "%s", a.out);
    cr_assert_eq(json_integer_value(json_object_get(doc, "failed")), 1);
    cr_assert_eq(json_integer_value(json_object_get(doc, "tick")), 40);
    cr_assert_eq(json_array_size(json_object_get(json_object_get(doc, "outputs"), "captured:out")), 2);
    json_t *first = json_array_get(json_object_get(doc, "log"), 0);
    cr_assert_eq(json_integer_value(json_object_get(first, "tick")), 40, "%s", a.out);
    json_decref(doc);
    proc_free(&a);
    proc_free(&b);
}

Test(run_virtual, scenario_steps_and_checks) {
    char *sc = proc_tempfile(".json",
                             "{\"tickMs\": 10, \"options\": {\"completion\": \"never\"}, \"steps\": ["
                             "{\"inject\": {\"nodeId\": \"source\", \"value\": {\"celsius\": 100}}},"
                             "{\"expect\": {\"output\": \"report:out\", \"values\": [\"100°C is 212°F\"]}},"
                             "{\"inject\": {\"nodeId\": \"source\", \"value\": {\"celsius\": 0}, \"afterTicks\": 3}},"
                             "{\"tick\": 2}, {\"expect\": {\"tick\": 2}},"
                             "{\"expect\": {\"output\": \"report:out\", \"count\": 1}},"
                             "{\"advance\": 10}, {\"expect\": {\"output\": \"report:out\", \"value\": \"0°C is 32°F\"}},"
                             "{\"run\": {\"maxTicks\": 5}}, {\"expect\": {\"state\": \"running\"}}]}");
    char args[1024];
    snprintf(args, sizeof args, "run " EX "merge-diamond.json --virtual --scenario %s", sc);
    proc_result r = run(args);
    cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
    ASSERT_HAS(r, out, "[tick 3] output report:out \"0°C is 32°F\"");
    ASSERT_HAS(r, out, "checks: 5 passed, 0 failed");
    proc_free(&r);
    free(sc);
}

static void refused(const char *scenario, const char *needle) {
    char *sc = proc_tempfile(".json", scenario);
    char args[1024];
    snprintf(args, sizeof args, "run " EX "merge-diamond.json --virtual --scenario %s", sc);
    proc_result r = run(args);
    cr_assert_eq(r.status, 2, "%s: %s\n%s", scenario, r.out, r.err);
    ASSERT_HAS(r, err, needle);
    proc_free(&r);
    free(sc);
}

Test(run_virtual, bad_scenarios_are_refused_saying_where) {
    refused("{\"steps\": [{\"tick\": 1}, {\"jump\": 3}]}", "steps[1]: unknown step {\"jump\":3}");
    refused("{\"steps\": [{\"tick\": -1}]}", "steps[0]: tick takes a count from 1 to 1000000");
    refused("{\"steps\": [{\"tick\": 1000000000000}]}", "advance moves further at no cost");
    refused("{\"steps\": [{\"inject\": {\"nodeId\": \"nope\", \"value\": 1}}]}", "its nodes are: source, celsius");
    refused("{\"steps\": [{\"inject\": {\"nodeId\": \"source\", \"value\": 1, \"atTick\": 0}}]}",
            "steps[0]: inject takes {nodeId, port?, value, atTick? | afterTicks?}");
    refused("{\"steps\": [{\"expect\": {\"output\": \"report:out\"}}]}", "needs count, value or values");
    refused("{\"steps\": [{\"mocks\": [{\"match\": 1}]}]}", "mocks[0]");
    refused("{\"name\": \"no steps\"}", "a scenario is {name?, tickMs?, mocks?, world?, options?, steps: [...]}");
    refused("[1, 2]", "a scenario is");
    refused("{\"options\": {\"completion\": \"sometimes\"}, \"steps\": []}", "options.completion");
    proc_result r = run("run " EX "merge-diamond.json --scenario x.yaml");
    cr_assert_eq(r.status, 2);
    ASSERT_HAS(r, err, "need --virtual");
    proc_free(&r);
}

Test(run_virtual, without_a_scenario_it_plays_until_idle) {
    proc_result r = run("run " EX "merge-diamond.json --virtual --inject 'source={\"celsius\": 100}'");
    cr_assert_eq(r.status, 0, "%s", r.err);
    ASSERT_HAS(r, out, "[tick 0] output report:out \"100°C is 212°F\"");
    ASSERT_HAS(r, out, "state: completed");
    proc_free(&r);
}

Test(run_virtual, the_stepper_walks_one_node_at_a_time) {
    char *keys = proc_tempfile(".txt", "n\ns\nn\nn\nn\nn\nn\nbogus\nq\n");
    char args[1024];
    snprintf(args, sizeof args, "run " EX "merge-diamond.json --virtual --step --inject 'source={\"celsius\": 100}' < %s",
             keys);
    proc_result r = run(args);
    free(keys);
    cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
    const char *order[] = {"invoke source ← in", "invoke celsius ← in", "invoke fahrenheit ← in",
                           "invoke join ← c",    "invoke join ← f",     "invoke report ← in"};
    const char *at = r.out;
    for (size_t i = 0; i < 6; i++) {
        const char *p = strstr(at, order[i]);
        cr_assert_not_null(p, "%s (in order) in:\n%s", order[i], r.out);
        at = p + 1;
    }
    ASSERT_HAS(r, out, "source:out → celsius:in {\"celsius\":100}");
    ASSERT_HAS(r, out, "a wave is open");
    ASSERT_HAS(r, out, "output report:out \"100°C is 212°F\"");
    ASSERT_HAS(r, out, "(wave done)");
    ASSERT_HAS(r, out, "unknown command 'bogus'");
    proc_free(&r);
}

/* On a terminal the stepper prompts with the clock and reads commands. */
static void read_until(int fd, char *buf, size_t cap, size_t *len, const char *needle) {
    for (int i = 0; i < 500 && !strstr(buf, needle); i++) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 20) != 1) continue;
        ssize_t n = read(fd, buf + *len, cap - 1 - *len);
        if (n <= 0) break;
        *len += (size_t)n;
        buf[*len] = '\0';
    }
    cr_assert_not_null(strstr(buf, needle), "expected %s on the terminal:\n%s", needle, buf);
}

Test(run_virtual, the_stepper_on_a_terminal) {
    int fd;
    pid_t pid = forkpty(&fd, NULL, NULL, NULL);
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        execl(WEIR_BINARY, "weir", "run", EX "merge-diamond.json", "--virtual", "--step", "--inject",
              "source={\"celsius\": 100}", (char *)NULL);
        _exit(127);
    }
    char buf[16384] = "";
    size_t len = 0;
    read_until(fd, buf, sizeof buf, &len, "weir[0]> ");
    cr_assert_eq(write(fd, "n\n", 2), 2);
    read_until(fd, buf, sizeof buf, &len, "wave 1: invoke source ← in");
    cr_assert_eq(write(fd, "q\n", 2), 2);
    read_until(fd, buf, sizeof buf, &len, "state: running");
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", buf);
    close(fd);
}

/* SPEC §10: a scenario whose counts or times would overflow the virtual
 * clock (ms in an int64, so the last tick is INT64_MAX - 1 at 1 ms) is
 * refused with exit 2, saying where, instead of wrapping time negative. */
#define NEAR_END "{\"advance\": 9223372036854775800}"
Test(run_virtual, scenarios_that_overflow_the_clock_are_refused) {
    refused("{\"steps\": [{\"advance\": 9223372036854775807}]}",
            "steps[0]: advance 9223372036854775807 ms: past the end of the virtual clock's range");
    refused("{\"steps\": [" NEAR_END ", {\"advance\": 7}]}", "steps[1]: advance 7 ms: past the end");
    refused("{\"steps\": [" NEAR_END ", {\"tick\": 7}]}", "steps[1]: tick 7: past the end");
    refused("{\"steps\": [" NEAR_END ", {\"run\": {\"maxTicks\": 7}}]}", "steps[1]: run maxTicks 7: past the end");
    refused("{\"steps\": [" NEAR_END ", {\"inject\": {\"nodeId\": \"source\", \"value\": 1, \"afterTicks\": 7}}]}",
            "steps[1]: inject afterTicks 7: past the end");
    refused("{\"steps\": [{\"inject\": {\"nodeId\": \"source\", \"value\": 1, \"afterTicks\": 9223372036854775807}}]}",
            "steps[0]: inject afterTicks 9223372036854775807: past the end");
    refused("{\"steps\": [{\"inject\": {\"nodeId\": \"source\", \"value\": 1, \"atTick\": 9223372036854775807}}]}",
            "steps[0]: an inject at tick 9223372036854775807: past the end");
    refused("{\"tickMs\": 4611686018427387904, \"steps\": [{\"tick\": 2}]}", "steps[0]: tick 2: past the end");
    refused("{\"tickMs\": 4611686018427387904, \"steps\": [{\"tick\": 1}, {\"tick\": 1}]}",
            "steps[1]: tick 1: past the end");
    /* what is left of the range is usable */
    char *sc = proc_tempfile(".json", "{\"steps\": [" NEAR_END ", {\"tick\": 6}, {\"run\": true},"
                                      " {\"expect\": {\"tick\": 9223372036854775806}}]}");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "run " EX "merge-diamond.json --virtual --scenario %s", sc);
    proc_result r = run(cmd);
    cr_assert_eq(r.status, 0, "%s\n%s", r.out, r.err);
    ASSERT_HAS(r, out, "checks: 1 passed, 0 failed");
    proc_free(&r);
    unlink(sc);
    free(sc);
}
