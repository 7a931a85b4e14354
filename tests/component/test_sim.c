/* weir sim's engine (src/runtime/sim*.c) driven through its internal API:
 * a seed is deterministic; a race is found and shrunk to a 1-minimal input
 * log (removing any one remaining inject or fault makes the failure go
 * away); the shrunk run recorded as a journal replays to the same double
 * capture; the fixed graph passes; a fault (a request never answered)
 * leaves a graph stuck and an `end` invariant catches it; a fail fault
 * reaches the node's error port; a request no mock matches is an error,
 * not a violation; bad scenarios are refused naming the field; the search
 * reports the same first failure with one thread or two. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/sim.h"
#include "store/journal_file.h"

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static char *example_graph(const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/examples/double-capture/%s", WEIR_SOURCE_DIR, name);
    return slurp(path);
}

/* The double-capture world of examples/double-capture/sim.yaml, as JSON. */
static const char DOUBLE_CAPTURE[] =
    "{\"world\":{\"captured\":false},\"mocks\":["
    "{\"match\":{\"method\":\"POST\",\"url\":\"http://payments.test/payments/*\"},\"set\":{\"captured\":true},"
    "\"response\":{\"status\":200,\"body\":{\"id\":\"pay_1\",\"status\":\"captured\"}},\"latencyMs\":[5,40]},"
    "{\"match\":{\"method\":\"GET\",\"url\":\"http://payments.test/payments/*\"},\"when\":\"world.captured === true\","
    "\"response\":{\"status\":200,\"body\":{\"id\":\"pay_1\",\"status\":\"captured\"}},\"latencyMs\":[5,40]},"
    "{\"match\":{\"method\":\"GET\",\"url\":\"http://payments.test/payments/*\"},"
    "\"response\":{\"status\":200,\"body\":{\"id\":\"pay_1\",\"status\":\"pending\"}},\"latencyMs\":[5,40]}],"
    "\"steps\":[{\"inject\":{\"nodeId\":\"webhook\",\"value\":{\"paymentId\":\"pay_1\"},\"atTick\":[0,500]}},"
    "{\"inject\":{\"nodeId\":\"poller\",\"value\":{\"paymentId\":\"pay_1\"},\"atTick\":[0,500]}},"
    "%s{\"run\":true}],"
    "\"invariants\":[{\"name\":\"captured at most once\",\"expression\":\"(outputs['captured:out'] || []).length <= "
    "1\"}]}";

static weir__sim *make(const char *graph_text, const char *scenario_text, weir_error *err, int *rc) {
    json_error_t je;
    json_t *sc = json_loads(scenario_text, 0, &je);
    cr_assert(sc, "scenario JSON: %s", je.text);
    weir__sim_config cfg = {.graph_text = graph_text, .graph_len = strlen(graph_text), .scenario = sc};
    weir__sim *s = NULL;
    *rc = weir__sim_create(&cfg, &s, err);
    json_decref(sc);
    return s;
}

static weir__sim *must_make(const char *graph_text, const char *scenario_text) {
    weir_error err;
    int rc;
    weir__sim *s = make(graph_text, scenario_text, &err, &rc);
    cr_assert_eq(rc, 0, "%s", err.message);
    return s;
}

/* The double capture with extra steps spliced in. */
static char *double_capture(const char *extra) {
    char *t = malloc(sizeof DOUBLE_CAPTURE + strlen(extra) + 1);
    sprintf(t, DOUBLE_CAPTURE, extra);
    return t;
}

/* The first failing seed from 1 on (at most max). */
static uint64_t first_failing(weir__sim *s, uint64_t max, weir__sim_result *r) {
    for (uint64_t seed = 1; seed <= max; seed++) {
        weir__sim_run_seed(s, seed, r);
        if (r->status != WEIR_SIM_PASS) return seed;
    }
    return 0;
}

/* Shrink the run r failed with (its first invariant); true when the
 * shrinker finished before its bound.  *shrunk is the caller's to free. */
static bool shrink_failure(weir__sim *s, const weir__sim_result *r, uint32_t **shrunk, size_t *ns) {
    uint32_t orig[256];
    size_t n = r->n_choices;
    cr_assert_leq(n, 256);
    memcpy(orig, r->choices, n * sizeof *orig);
    uint64_t runs;
    bool complete;
    cr_assert_eq(weir__sim_shrink(s, orig, n, 0, shrunk, ns, &runs, &complete), 0);
    if (!complete) cr_log_warn("the shrink stopped at its bound after %llu runs", (unsigned long long)runs);
    return complete;
}

Test(sim, the_generator_is_splitmix64_as_published) {
    /* the reference outputs of splitmix64 (Vigna), which seeds xoshiro256** */
    uint64_t x = 1234567;
    cr_assert_eq(weir__sim_splitmix64(&x), 6457827717110365317ull);
    cr_assert_eq(weir__sim_splitmix64(&x), 3203168211198807973ull);
    cr_assert_eq(weir__sim_splitmix64(&x), 9817491932198370423ull);
    x = 0;
    cr_assert_eq(weir__sim_splitmix64(&x), 0xe220a8397b1dcdafull);
}

Test(sim, a_seed_is_deterministic) {
    char *g = example_graph("payment.json"), *sc = double_capture("");
    weir__sim *s = must_make(g, sc);
    weir__sim *s2 = must_make(g, sc);
    for (uint64_t seed = 1; seed <= 50; seed++) {
        weir__sim_result a, b;
        weir__sim_run_seed(s, seed, &a);
        uint32_t ch[256];
        size_t n = a.n_choices;
        cr_assert_leq(n, 256);
        memcpy(ch, a.choices, n * sizeof *ch);
        uint64_t hash = a.interleaving, tick = a.tick, waves = a.waves;
        weir__sim_status st = a.status;
        weir__sim_run_seed(s2, seed, &b); /* another worker, same seed */
        cr_assert_eq(b.status, st);
        cr_assert_eq(b.interleaving, hash);
        cr_assert_eq(b.tick, tick);
        cr_assert_eq(b.waves, waves);
        cr_assert_eq(b.n_choices, n);
        cr_assert_eq(memcmp(b.choices, ch, n * sizeof *ch), 0, "seed %llu drew other choices", (unsigned long long)seed);
        /* and its choices, given back, are the same run */
        weir__sim_run_choices(s, ch, n, false, false, NULL, &b);
        cr_assert_eq(b.status, st);
        cr_assert_eq(b.interleaving, hash);
        cr_assert_eq(b.tick, tick);
    }
    /* seeds differ: not every seed draws the same */
    weir__sim_result a;
    weir__sim_run_seed(s, 1, &a);
    uint64_t h1 = a.interleaving, t1 = a.tick;
    bool differs = false;
    for (uint64_t seed = 2; seed < 20 && !differs; seed++) {
        weir__sim_run_seed(s, seed, &a);
        differs = a.interleaving != h1 || a.tick != t1;
    }
    cr_assert(differs);
    weir__sim_destroy(s);
    weir__sim_destroy(s2);
    free(g);
    free(sc);
}

/* Every present inject, fault and swarm flag of ch, turned off one at a
 * time, makes invariant inv pass. */
static void assert_one_minimal(weir__sim *s, const uint32_t *ch, size_t n, int inv, size_t *injects, size_t *faults) {
    weir__sim_result r;
    weir__sim_run_choices(s, ch, n, false, false, NULL, &r);
    cr_assert_eq(r.status, WEIR_SIM_VIOLATION);
    cr_assert_eq(r.invariant, inv);
    uint8_t kinds[512];
    cr_assert_leq(r.n_choices, 512);
    size_t nk = r.n_choices;
    memcpy(kinds, r.kinds, nk);
    uint32_t *c = calloc(nk + n + 1, sizeof *c);
    *injects = *faults = 0;
    for (size_t i = 0; i < nk && i < n; i++) {
        bool removable = kinds[i] == WEIR_SIM_C_PRESENT || kinds[i] == WEIR_SIM_C_FAULT || kinds[i] == WEIR_SIM_C_SWARM;
        if (!removable || ch[i] == 0) continue;
        *injects += kinds[i] == WEIR_SIM_C_PRESENT;
        *faults += kinds[i] == WEIR_SIM_C_FAULT;
        memcpy(c, ch, n * sizeof *c);
        c[i] = 0;
        weir__sim_run_choices(s, c, n, false, false, NULL, &r);
        cr_assert(!(r.status == WEIR_SIM_VIOLATION && r.invariant == inv),
                  "choice %zu (kind %d) turned off still fails: not 1-minimal", i, kinds[i]);
    }
    free(c);
}

Test(sim, finds_the_double_capture_and_shrinks_it_to_the_two_injects) {
    /* a third inject, of a payment nobody reads twice, is noise the
     * shrinker must remove */
    char *g = example_graph("payment.json");
    char *sc = double_capture("{\"inject\":{\"nodeId\":\"webhook\",\"value\":{\"paymentId\":\"pay_1\"},\"atTick\":[900,"
                              "1000]}},");
    weir__sim *s = must_make(g, sc);
    weir__sim_result r;
    uint64_t seed = first_failing(s, 1000, &r);
    cr_assert_neq(seed, 0, "no seed of 1000 found the double capture");
    cr_assert_eq(r.status, WEIR_SIM_VIOLATION, "%s", r.message ? r.message : "");
    cr_assert_eq(r.invariant, 0);
    uint32_t *shrunk;
    size_t ns;
    cr_assert(shrink_failure(s, &r, &shrunk, &ns), "the shrink stopped at its bound");
    size_t injects, faults;
    assert_one_minimal(s, shrunk, ns, 0, &injects, &faults);
    cr_assert_eq(injects, 2, "shrunk to %zu injects", injects);
    cr_assert_eq(faults, 0);
    /* pulled to the simplest: both injects at their window's start, every
     * latency its minimum (the choices after the two presences are 0) */
    weir__sim_run_choices(s, shrunk, ns, true, true, NULL, &r);
    cr_assert_eq(r.status, WEIR_SIM_VIOLATION);
    cr_assert_eq(r.tick, 10, "two reads of 5 ticks then two captures of 5: tick 10, got %llu",
                 (unsigned long long)r.tick);
    cr_assert(strstr(r.outputs_json, "captured"));
    cr_assert_str_eq(r.world_json, "{\"captured\":true}");
    free(shrunk);
    weir__sim_destroy(s);
    free(g);
    free(sc);
}

Test(sim, the_fixed_graph_passes_every_seed) {
    char *g = example_graph("payment-fixed.json"), *sc = double_capture("");
    weir__sim *s = must_make(g, sc);
    weir__sim_result r;
    cr_assert_eq(first_failing(s, 2000, &r), 0, "seed failed: %s", r.message ? r.message : "the invariant");
    /* and the race graph fails within those seeds: the check can fail */
    char *bad = example_graph("payment.json");
    weir__sim *s2 = must_make(bad, sc);
    cr_assert_neq(first_failing(s2, 2000, &r), 0);
    weir__sim_destroy(s);
    weir__sim_destroy(s2);
    free(g);
    free(bad);
    free(sc);
}

/* ---- the journal of the shrunk run */

typedef struct replayed {
    weir_registry *reg;
    weir_graph *g;
    weir_exec *e;
    int captured;
    int records;
} replayed;

static void no_effect(void *ud, weir_exec *e, const weir_effect *eff) { (void)ud, (void)e, (void)eff; }

static void on_event(void *ud, weir_exec *e, uint64_t seq, const char *name, json_t *data) {
    (void)e, (void)seq;
    replayed *rp = ud;
    if (!strcmp(name, "output") && !strcmp(json_string_value(json_object_get(data, "nodeId")), "captured"))
        rp->captured++;
}

static int apply(void *ud, const weir_jfile_rec *rec) {
    replayed *rp = ud;
    weir_error err;
    rp->records++;
    if (rec->r.seq == 1) {
        json_t *graph = json_object_get(rec->r.body, "graph");
        cr_assert_eq(weir_registry_create(&rp->reg), 0);
        cr_assert_eq(weir_graph_load(rp->reg, graph, NULL, &rp->g, &err), 0, "%s", err.message);
        weir_exec_options o = {.timeout_ms = -1};
        cr_assert_eq(weir_exec_options_read(json_object_get(rec->r.body, "options"), "options", &o, NULL, &err), 0);
        weir_shell sh = {.effect = no_effect, .ud = rp, .event = on_event};
        cr_assert_eq(weir_exec_create(rp->g, &o, &sh, &rp->e, &err), 0);
        weir_exec_listen_mask(rp->e, WEIR_EV_OUTPUT);
    }
    weir_input_rec in;
    cr_assert_eq(weir_input_parse(rec->r.body, rec->r.time_ms, (uint64_t)rec->r.tick, &in, &err), 0, "%s", err.message);
    cr_assert_eq(weir_exec_tick(rp->e), (uint64_t)rec->r.tick, "record %lld at another tick", (long long)rec->r.seq);
    weir_input_digest d;
    cr_assert_eq(weir_exec_apply(rp->e, &in, NULL, &d, &err), 0, "%s", err.message);
    weir_input_digest x;
    cr_assert(rec->digest, "record %lld has no digest", (long long)rec->r.seq);
    cr_assert_eq(weir_journal_digest_decode(rec->digest, &x), 0);
    cr_assert(x.tick == d.tick && x.hops == d.hops && x.outputs == d.outputs && x.hash == d.hash && x.state == d.state,
              "record %lld produced something else", (long long)rec->r.seq);
    return 0;
}

Test(sim, the_shrunk_run_recorded_replays_to_the_double_capture) {
    char *g = example_graph("payment.json"), *sc = double_capture("");
    weir__sim *s = must_make(g, sc);
    weir__sim_result r;
    cr_assert_neq(first_failing(s, 1000, &r), 0);
    uint32_t *shrunk;
    size_t ns;
    shrink_failure(s, &r, &shrunk, &ns);
    weir_jfile_writer *w;
    weir_error err;
    cr_assert_eq(weir_jfile_writer_new(NULL, NULL, &w, &err), 0);
    json_t *start = weir__sim_start_body(s);
    weir_jfile_recorder rec;
    weir_jfile_recorder_init(&rec, w, start);
    weir__sim_hooks hooks = {.ud = &rec, .input = weir_jfile_recorder_input, .input_done = weir_jfile_recorder_done};
    weir__sim_run_choices(s, shrunk, ns, false, false, &hooks, &r);
    cr_assert_eq(r.status, WEIR_SIM_VIOLATION);
    cr_assert_eq(weir_jfile_recorder_finish(&rec, &err), 0, "%s", err.message);
    size_t len;
    const char *text = weir_jfile_text(w, &len);
    replayed rp = {0};
    cr_assert_eq(weir_jfile_read(text, len, apply, &rp, NULL, &err), 0, "%s", err.message);
    /* start, two injects, two reads, two captures */
    cr_assert_eq(rp.records, 7);
    cr_assert_eq(rp.captured, 2, "the replay captured %d times", rp.captured);
    weir_exec_destroy(rp.e);
    weir_graph_unref(rp.g);
    weir_registry_destroy(rp.reg);
    weir_jfile_writer_free(w);
    json_decref(start);
    free(shrunk);
    weir__sim_destroy(s);
    free(g);
    free(sc);
}

/* ---- faults */

static const char FETCH_GRAPH[] =
    "{\"symbia\":\"1.0\",\"name\":\"fetch\",\"nodes\":["
    "{\"id\":\"in\",\"component\":\"symbia.core.passthrough\"},"
    "{\"id\":\"get\",\"component\":\"symbia.io.http-request\",\"config\":{\"url\":\"http://svc.test/item/{{value}}\"}},"
    "{\"id\":\"done\",\"component\":\"symbia.core.passthrough\"},"
    "{\"id\":\"failed\",\"component\":\"symbia.core.passthrough\"}],\"edges\":["
    "{\"id\":\"e1\",\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"get\",\"port\":\"in\"}},"
    "{\"id\":\"e2\",\"source\":{\"node\":\"get\",\"port\":\"out\"},\"target\":{\"node\":\"done\",\"port\":\"in\"}},"
    "{\"id\":\"e3\",\"source\":{\"node\":\"get\",\"port\":\"error\"},\"target\":{\"node\":\"failed\",\"port\":\"in\"}}"
    "]}";

Test(sim, a_request_never_answered_leaves_the_graph_stuck_and_an_end_invariant_sees_it) {
    const char *sc =
        "{\"mocks\":[{\"match\":{\"url\":\"http://svc.test/*\"},\"response\":{\"body\":\"ok\"},\"latencyMs\":[1,9],"
        "\"timeout\":0.3}],"
        "\"steps\":[{\"inject\":{\"nodeId\":\"in\",\"value\":1,\"atTick\":[0,20]}},"
        "{\"inject\":{\"nodeId\":\"in\",\"value\":2,\"atTick\":[0,20]}}],"
        "\"invariants\":[{\"name\":\"nothing left hanging\",\"expression\":\"pending === 0\",\"at\":\"end\"},"
        "{\"name\":\"answers are ok\",\"expression\":\"(outputs['done:out'] || []).every(o => o.status === 200)\"}]}";
    weir__sim *s = must_make(FETCH_GRAPH, sc);
    weir__sim_result r;
    uint64_t seed = first_failing(s, 500, &r);
    cr_assert_neq(seed, 0, "no seed turned the timeout fault on");
    cr_assert_eq(r.status, WEIR_SIM_VIOLATION, "%s", r.message ? r.message : "");
    cr_assert_eq(r.invariant, 0);
    cr_assert(weir__sim_invariant_at_end(s, 0));
    uint32_t *shrunk;
    size_t ns;
    cr_assert(shrink_failure(s, &r, &shrunk, &ns), "the shrink stopped at its bound");
    size_t injects, faults;
    assert_one_minimal(s, shrunk, ns, 0, &injects, &faults);
    cr_assert_eq(injects, 1, "one request is enough to hang: %zu injects left", injects);
    cr_assert_eq(faults, 1);
    weir__sim_run_choices(s, shrunk, ns, true, true, NULL, &r);
    bool told = false;
    size_t i;
    json_t *line;
    json_array_foreach(r.log, i, line) told |= strstr(json_string_value(line), "never answered") != NULL;
    cr_assert(told, "the log says which request was never answered");
    free(shrunk);
    weir__sim_destroy(s);
}

Test(sim, a_fail_fault_reaches_the_error_port) {
    const char *sc =
        "{\"mocks\":[{\"match\":{\"url\":\"http://svc.test/*\"},\"response\":{\"body\":\"ok\"},\"latencyMs\":3,"
        "\"fail\":1}],"
        "\"steps\":[{\"inject\":{\"nodeId\":\"in\",\"value\":1}}],"
        "\"invariants\":[{\"name\":\"never fails\",\"expression\":\"!outputs['failed:out']\"}]}";
    weir__sim *s = must_make(FETCH_GRAPH, sc);
    weir__sim_result r;
    uint64_t seed = first_failing(s, 100, &r);
    cr_assert_neq(seed, 0);
    cr_assert_eq(r.status, WEIR_SIM_VIOLATION);
    cr_assert_eq(r.tick, 3);
    /* with the fault's swarm flag off (the first choice) it passes */
    uint32_t off[1] = {0};
    weir__sim_run_choices(s, off, 1, true, false, NULL, &r);
    cr_assert_eq(r.status, WEIR_SIM_PASS);
    uint32_t on[3] = {1, 1, 1}; /* the swarm flag, the inject present, the fault fires */
    weir__sim_run_choices(s, on, 3, true, false, NULL, &r);
    cr_assert_eq(r.status, WEIR_SIM_VIOLATION);
    cr_assert(strstr(r.outputs_json, "network error"), "%s", r.outputs_json);
    weir__sim_destroy(s);
}

Test(sim, a_request_no_mock_matches_is_an_error_naming_it) {
    const char *sc = "{\"mocks\":[{\"match\":{\"url\":\"http://other.test/*\"}}],"
                     "\"steps\":[{\"inject\":{\"nodeId\":\"in\",\"value\":7}}],"
                     "\"invariants\":[{\"name\":\"x\",\"expression\":\"true\"}]}";
    weir__sim *s = must_make(FETCH_GRAPH, sc);
    weir__sim_result r;
    weir__sim_run_seed(s, 1, &r);
    cr_assert_eq(r.status, WEIR_SIM_ERROR);
    cr_assert(strstr(r.message, "no mock matches GET http://svc.test/item/7"), "%s", r.message);
    weir__sim_destroy(s);
}

Test(sim, bad_scenarios_are_refused_naming_the_field) {
    static const struct {
        const char *scenario, *says;
    } cases[] = {
        {"[]", "a simulation scenario is an object"},
        {"{\"steps\":[],\"invariants\":[{\"name\":\"x\",\"expression\":\"true\"}]}", "steps has no inject"},
        {"{\"steps\":[{\"inject\":{\"nodeId\":\"in\",\"value\":1}}]}", "invariants must be a non-empty array"},
        {"{\"steps\":[{\"inject\":{\"nodeId\":\"in\",\"value\":1,\"atTick\":[9,3]}}],\"invariants\":[{\"name\":\"x\","
         "\"expression\":\"true\"}]}",
         "steps[0].inject.atTick must lie within"},
        {"{\"mocks\":[{\"match\":{},\"latencyMs\":\"slow\"}],\"steps\":[{\"inject\":{\"nodeId\":\"in\",\"value\":1}}],"
         "\"invariants\":[{\"name\":\"x\",\"expression\":\"true\"}]}",
         "mocks[0].latencyMs must be ms"},
        {"{\"mocks\":[{\"match\":{},\"fail\":2}],\"steps\":[{\"inject\":{\"nodeId\":\"in\",\"value\":1}}],"
         "\"invariants\":[{\"name\":\"x\",\"expression\":\"true\"}]}",
         "mocks[0].fail must be a probability"},
        {"{\"mocks\":[{\"match\":{},\"when\":\"world.\"}],\"steps\":[{\"inject\":{\"nodeId\":\"in\",\"value\":1}}],"
         "\"invariants\":[{\"name\":\"x\",\"expression\":\"true\"}]}",
         "mocks[0].when: column 7"},
        {"{\"steps\":[{\"inject\":{\"nodeId\":\"in\",\"value\":1}}],\"invariants\":[{\"name\":\"x\",\"expression\":"
         "\"outputs.a ==\"}]}",
         "invariants[0].expression: column"},
        {"{\"steps\":[{\"inject\":{\"nodeId\":\"in\",\"value\":1}}],\"invariants\":[{\"name\":\"x\",\"expression\":"
         "\"nosuch > 1\"}]}",
         "unknown name 'nosuch'"},
        {"{\"steps\":[{\"inject\":{\"nodeId\":\"in\",\"value\":1}}],\"invariants\":[{\"name\":\"x\",\"expression\":"
         "\"true\",\"at\":\"later\"}]}",
         "invariants[0].at must be \"wave\""},
        {"{\"steps\":[{\"expect\":{\"output\":\"a:out\",\"count\":1}}],\"invariants\":[]}", "steps[0]: expect is for weir run"},
        {"{\"steps\":[{\"inject\":{\"nodeId\":\"nope\",\"value\":1}}],\"invariants\":[{\"name\":\"x\",\"expression\":"
         "\"true\"}]}",
         "inject 1 (node nope)"},
        {"{\"stpes\":[]}", "unknown field \"stpes\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        weir_error err;
        int rc;
        weir__sim *s = make(FETCH_GRAPH, cases[i].scenario, &err, &rc);
        cr_assert_null(s, "case %zu was taken", i);
        cr_assert_eq(rc, WEIR_EINVAL, "case %zu: %d %s", i, rc, err.message);
        cr_assert(strstr(err.message, cases[i].says), "case %zu: \"%s\" does not say \"%s\"", i, err.message,
                  cases[i].says);
    }
}

static const char ECHO_GRAPH[] = "{\"symbia\":\"1.0\",\"name\":\"echo\",\"nodes\":[{\"id\":\"in\",\"component\":"
                                 "\"symbia.core.passthrough\"}],\"edges\":[]}";

Test(sim, results_due_on_one_tick_go_in_the_drawn_order) {
    const char *sc = "{\"steps\":[{\"inject\":{\"nodeId\":\"in\",\"value\":1,\"atTick\":5}},"
                     "{\"inject\":{\"nodeId\":\"in\",\"value\":2,\"atTick\":5}}],"
                     "\"invariants\":[{\"name\":\"first things first\",\"expression\":\"outputs['in:out'][0] === 1\","
                     "\"at\":\"end\"}]}";
    weir__sim *s = must_make(ECHO_GRAPH, sc);
    weir__sim_result r;
    uint32_t in_order[] = {1, 1, 0}, swapped[] = {1, 1, 1}; /* both present; the tie: first or second */
    weir__sim_run_choices(s, in_order, 3, true, false, NULL, &r);
    cr_assert_eq(r.status, WEIR_SIM_PASS, "%s", r.outputs_json ? r.outputs_json : "");
    cr_assert_eq(r.n_choices, 3, "two presences and one tie");
    cr_assert_eq(r.kinds[2], WEIR_SIM_C_TIE);
    weir__sim_run_choices(s, swapped, 3, true, false, NULL, &r);
    cr_assert_eq(r.status, WEIR_SIM_VIOLATION);
    cr_assert_str_eq(r.outputs_json, "{\"in:out\":[2,1]}");
    cr_assert_eq(r.tick, 5);
    /* and the search finds the swap, shrinking to nothing simpler */
    uint64_t seed = first_failing(s, 200, &r);
    cr_assert_neq(seed, 0);
    weir__sim_destroy(s);
}

Test(sim, a_run_stops_at_max_ticks_and_its_end_invariants_are_checked_there) {
    const char *sc = "{\"steps\":[{\"inject\":{\"nodeId\":\"in\",\"value\":1,\"atTick\":500}}],"
                     "\"invariants\":[{\"name\":\"it came\",\"expression\":\"!!outputs['in:out']\",\"at\":\"end\"}]}";
    json_t *doc = json_loads(sc, 0, NULL);
    weir__sim_config cfg = {.graph_text = ECHO_GRAPH, .graph_len = strlen(ECHO_GRAPH), .scenario = doc, .max_ticks = 100};
    weir__sim *s;
    weir_error err;
    cr_assert_eq(weir__sim_create(&cfg, &s, &err), 0, "%s", err.message);
    uint32_t present[] = {1};
    weir__sim_result r;
    weir__sim_run_choices(s, present, 1, false, false, NULL, &r);
    cr_assert_eq(r.status, WEIR_SIM_VIOLATION);
    cr_assert(r.at_limit);
    cr_assert_eq(r.tick, 100);
    weir__sim_destroy(s);
    cfg.max_ticks = 1000; /* and with room, it comes */
    cr_assert_eq(weir__sim_create(&cfg, &s, &err), 0, "%s", err.message);
    weir__sim_run_choices(s, present, 1, false, false, NULL, &r);
    cr_assert_eq(r.status, WEIR_SIM_PASS);
    cr_assert(!r.at_limit);
    cr_assert_eq(r.tick, 500);
    weir__sim_destroy(s);
    json_decref(doc);
}

Test(sim, a_graph_with_a_user_component_is_refused_saying_so) {
    const char *graph = "{\"symbia\":\"1.0\",\"name\":\"u\",\"nodes\":[{\"id\":\"in\",\"component\":"
                        "\"symbia.core.passthrough\"},{\"id\":\"sq\",\"component\":\"acme.square\"}],\"edges\":[{"
                        "\"id\":\"e\",\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"sq\","
                        "\"port\":\"in\"}}]}";
    const char *sc = "{\"steps\":[{\"inject\":{\"nodeId\":\"in\",\"value\":1}}],"
                     "\"invariants\":[{\"name\":\"x\",\"expression\":\"true\"}]}";
    weir_error err;
    int rc;
    cr_assert_null(make(graph, sc, &err, &rc));
    cr_assert_eq(rc, WEIR_EGRAPH);
    cr_assert_str_eq(err.message, "node sq uses component acme.square, which is not a built-in: give its definition "
                                  "with --components FILE (user components run in a component host, Node.js)");
}

Test(sim, the_search_reports_the_same_first_failure_with_one_or_two_threads) {
    char *g = example_graph("payment.json"), *sc = double_capture("");
    weir__sim *ws[2] = {must_make(g, sc), must_make(g, sc)};
    /* the smallest failing seed from 1, found one seed at a time */
    weir__sim_result r;
    uint64_t want = first_failing(ws[0], 1000, &r);
    cr_assert_neq(want, 0);
    for (unsigned jobs = 1; jobs <= 2; jobs++) {
        weir__sim_search sr = {.first = 1, .count = 1000, .jobs = jobs};
        weir_error err;
        cr_assert_eq(weir__sim_search_run(ws, &sr, NULL, NULL, &err), 0);
        cr_assert(sr.failed);
        cr_assert_eq(sr.failing_seed, want, "jobs %u found seed %llu, not %llu", jobs,
                     (unsigned long long)sr.failing_seed, (unsigned long long)want);
        cr_assert_eq(sr.done, want);
    }
    /* the fixed graph: the same counts with one thread or two */
    char *fixed = example_graph("payment-fixed.json");
    weir__sim *fs[2] = {must_make(fixed, sc), must_make(fixed, sc)};
    weir__sim_search a = {.first = 7, .count = 3000, .jobs = 1}, b = {.first = 7, .count = 3000, .jobs = 2};
    weir_error err;
    cr_assert_eq(weir__sim_search_run(fs, &a, NULL, NULL, &err), 0);
    cr_assert_eq(weir__sim_search_run(fs, &b, NULL, NULL, &err), 0);
    cr_assert(!a.failed && !b.failed);
    cr_assert_eq(a.done, 3000);
    cr_assert_eq(b.done, 3000);
    cr_assert_eq(a.waves, b.waves);
    cr_assert_eq(a.interleavings, b.interleavings);
    cr_assert_gt(a.interleavings, 1);
    for (int i = 0; i < 2; i++) {
        weir__sim_destroy(ws[i]);
        weir__sim_destroy(fs[i]);
    }
    free(g);
    free(fixed);
    free(sc);
}
