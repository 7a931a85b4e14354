/* weir serve, black-box over loopback: MAX_WAVE_HOPS (SPEC §10).  A fan-out
 * lattice of 2^26 paths is refused in milliseconds with an error naming the
 * bound, /health keeps answering, the memory of the wave comes back; the
 * bound is a setting of weir serve and weir run. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "graphs.h"
#include "proc.h"
#include "serve.h"

static const char *error_message(http_resp *r) {
    const char *m = json_string_value(json_object_get(json_object_get(r->json, "error"), "message"));
    return m ? m : "";
}

Test(wave, a_fan_out_lattice_is_refused_fast_and_health_answers, .timeout = 120) {
    server s = serve_start(NULL);
    char *graph = tg_lattice(26);
    const char *exec = serve_execute(&s, graph, NULL);
    free(graph);
    long rss_before = proc_rss_mb(s.pid);
    double cpu0 = proc_cpu_ms(s.pid);
    /* /health, again and again while the inject is in flight: the slowest
     * answer is how long the loop was held. */
    serve_probe in = serve_inject_polling_health(&s, exec, "{\"nodeId\":\"n0_0\",\"value\":1}");
    double health_ms = in.slowest;
    int checks = in.checks;
    double cpu = proc_cpu_ms(s.pid) - cpu0;
    cr_assert_eq(in.r.status, 200, "%s", in.r.body);
    cr_assert(strstr(error_message(&in.r), "MAX_WAVE_HOPS (1000000)"), "%s", in.r.body);
    cr_assert_str_eq(json_string_value(json_object_get(in.r.json, "state")), "failed", "%s", in.r.body);
    json_int_t hops = json_integer_value(json_object_get(in.r.json, "hops"));
    cr_assert(hops > 0 && hops <= 1000000, "%s", in.r.body);
    /* Unbounded this was 2^26 hops: ~17 s of CPU and /health blocked as
     * long.  Refused, it is tens of ms; the bounds leave room for sanitizer
     * builds and a loaded machine. */
    cr_log_info("lattice refused in %.0f ms (%.0f ms of server CPU); /health answered %d times meanwhile, the "
                "slowest in %.0f ms",
                in.ms, cpu, checks, health_ms);
    cr_assert_lt(cpu, 1500.0, "the refusal cost %.0f ms of server CPU", cpu);
    cr_assert_lt(in.ms, 5000.0, "the refusal took %.0f ms", in.ms);
    cr_assert_lt(health_ms, 5000.0, "/health took %.0f ms", health_ms);
    /* The stopped wave's messages are freed (unbounded: over 1 GB kept). */
    long rss_after = proc_rss_mb(s.pid);
    cr_assert_lt(rss_after - rss_before, 300, "RSS %ld MB → %ld MB", rss_before, rss_after);
    http_free(&in.r);
    http_resp h = http_req(&s, "GET", "/health", NULL, NULL);
    cr_assert_eq(h.status, 200);
    http_free(&h);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(wave, the_bound_is_a_setting_and_on_error_continue_goes_on) {
    const char *const extra[] = {"--max-wave-hops", "100", NULL};
    server s = serve_start(extra);
    char *graph = tg_lattice(12); /* 4095 hops */
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/inject",
             serve_execute(&s, graph, "{\"onError\":\"continue\",\"completion\":\"never\"}"));
    free(graph);
    http_resp r = http_req(&s, "POST", path, "{\"nodeId\":\"n0_0\",\"value\":1}", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(error_message(&r), "MAX_WAVE_HOPS (100)"), "the inject's answer names the bound: %s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "state")), "running", "%s", r.body);
    cr_assert_leq(json_integer_value(json_object_get(r.json, "hops")), 100, "%s", r.body);
    http_free(&r);
    /* Later injects still work: 1 + 2 + 4 hops from the tenth layer. */
    r = http_req(&s, "POST", path, "{\"nodeId\":\"n9_1\",\"value\":5}", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_null(json_object_get(r.json, "error"), "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "hops")), 7, "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(r.json, "outputs"), "n11_1:out")), 5, "%s",
                 r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

/* The stopped wave's error carries its code, "WEIR_ELIMIT", in the REST
 * answer and in the Socket.IO and /ws acknowledgements (tests/js/wave_ack.cjs,
 * with the stock npm clients). */
Test(wave, a_stopped_wave_answers_with_its_code_on_every_transport) {
    const char *const extra[] = {"--max-wave-hops", "100", NULL};
    server s = serve_start(extra);
    char *graph = tg_lattice(12); /* 4095 hops */
    char *cmd = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&cmd, &len);
    cr_assert_not_null(f);
    fprintf(f, "NODE_PATH='%s/js/node_modules' node '%s/tests/js/wave_ack.cjs' %d '' '%s'", WEIR_BUILD_DIR,
            WEIR_SOURCE_DIR, s.port, graph);
    fclose(f);
    free(graph);
    proc_result r = proc_run(cmd);
    cr_assert_eq(r.status, 0, "wave_ack.cjs failed (exit %d):\n%s\n%s", r.status, r.out, r.err);
    proc_free(&r);
    free(cmd);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(wave, a_bound_below_one_is_refused_at_start) {
    proc_result r = proc_run("MAX_WAVE_HOPS=0 " WEIR_BINARY " serve --memory --port 0");
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, "MAX_WAVE_HOPS must be at least 1"), "%s", r.err);
    proc_free(&r);
    r = proc_run(WEIR_BINARY " run " WEIR_SOURCE_DIR "/examples/squares.json --max-wave-hops lots");
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, "--max-wave-hops (MAX_WAVE_HOPS) takes a positive number"), "%s", r.err);
    proc_free(&r);
}

Test(wave, weir_run_takes_the_bound) {
    char *graph = tg_lattice(12);
    char *file = proc_tempfile(".json", graph);
    free(graph);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s run %s --inject n0_0=1 --max-wave-hops 50", WEIR_BINARY, file);
    proc_result r = proc_run(cmd);
    cr_assert_eq(r.status, 1, "the execution failed: %s%s", r.out, r.err);
    cr_assert(strstr(r.out, "MAX_WAVE_HOPS (50)"), "%s", r.out);
    proc_free(&r);
    snprintf(cmd, sizeof cmd, "MAX_WAVE_HOPS=50 %s run %s --inject n0_0=1 --virtual", WEIR_BINARY, file);
    r = proc_run(cmd);
    cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
    cr_assert(strstr(r.out, "MAX_WAVE_HOPS (50)"), "%s", r.out);
    proc_free(&r);
    unlink(file);
    free(file);
}
