/* weir sim GRAPH --scenario FILE [--seeds N] [--seed S] [--out FAIL.ndjson] [--json] [--jobs J] [--max-ticks T]
 *          [--components FILE]
 *
 * Runs the graph many times on a simulated world, one seed each (SPEC
 * §7.4; the engine is src/runtime/sim*.c), checks the scenario's
 * invariants, and on the first failure (the smallest failing seed)
 * shrinks it to the shortest input log and writes it as a journal.  What
 * it prints before the timing line depends only on the graph, the
 * scenario, the seeds and this build: the same --seed prints the same
 * bytes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "runtime/sim.h"
#include "store/journal_file.h"

static const char HELP[] =
    "Usage: weir sim GRAPH --scenario FILE [--seeds N] [--seed S] [--out FAIL.ndjson]\n"
    "                [--json] [--jobs J] [--max-ticks T] [--components FILE]\n"
    "\n"
    "Run GRAPH many times on a simulated world, one seed each, and check the\n"
    "scenario's invariants (SPEC 7.4). A seed fixes every choice the world makes:\n"
    "inject ticks within their windows, request latencies within their ranges,\n"
    "the order of results due on the same tick, and faults (each seed first picks\n"
    "which fault kinds are on). On the first failure (the smallest failing seed)\n"
    "weir sim prints the seed, the invariant, the tick and the values it saw, then\n"
    "shrinks the run - removing injects and faults, pulling every choice toward\n"
    "its minimum while the same invariant still fails - and prints the shrunk\n"
    "input log. --out writes that run as a journal: weir replay checks it and\n"
    "POST /api/executions/import opens it on the dashboard.\n"
    "\n"
    "The scenario is the one of weir run --virtual (JSON or YAML) with:\n"
    "  mocks:       [{match: {method, url}, response, latencyMs: n | [min, max],\n"
    "                fail?: p, timeout?: p, set?: {...}, when?: \"<expression>\"}]\n"
    "               a request's latency is drawn from the first mock matching it;\n"
    "               at its due tick it is served by the first matching mock whose\n"
    "               `when` (over world, request) holds, and that mock's `set` is\n"
    "               merged into the world. fail: a network error; timeout: never\n"
    "               answered (the request stays pending)\n"
    "  world:       {...} the world's state at the start\n"
    "  steps:       [{inject: {nodeId, value, atTick: t | [from, to]}}, ...]\n"
    "  invariants:  [{name, expression, at?: wave | end}] over tick, wave, world,\n"
    "               outputs ({\"node:port\": [values]}), state ({node: state}),\n"
    "               finished, pending; `wave` ones after every wave, `end` ones\n"
    "               once the run is over (nothing left that can happen)\n"
    "  userCalls:   {latencyMs?: n | [min, max], fail?: p} user component calls\n"
    "\n"
    "Options:\n"
    "      --scenario FILE  the simulation scenario (required)\n"
    "      --seeds N        run N seeds (default 1000 without --seed; at most 100000000)\n"
    "      --seed S         the first seed (without --seeds: only S); without it the\n"
    "                       first seed comes from the clock and is printed\n"
    "      --out FILE       write the shrunk failing run as a journal (NDJSON)\n"
    "      --json           print one JSON document (for CI)\n"
    "      --jobs J         worker threads (default: the number of CPUs)\n"
    "      --max-ticks T    a run stops at virtual tick T (default 1000000); its end\n"
    "                       invariants are checked there\n"
    "      --components FILE  user component definitions the graph uses (JSON or\n"
    "                       YAML: one, or an array); their calls run in a component\n"
    "                       host (Node.js), one at a time, and are journaled\n"
    "  -h, --help\n"
    "\n"
    "A node {\"component\": \"graph:NAME\"} (or graph:NAME@V) uses another graph:\n"
    "NAME@V.json, else NAME.json (or .yaml, .yml; its \"version\" must be V) in the\n"
    "graph file's own directory. Its nodes run as NODE/INNER (see the README).\n"
    "\n"    "Exit status: 0 every invariant held, 1 a violation, 2 usage, a bad scenario,\n"
    "or a seed the scenario does not fit (a request no mock matches).\n"
    "\n"
    "Examples (the fix passes; its race, payment.json, fails: add --out fail.ndjson\n"
    "to get the shrunk run as a journal):\n"
    "  weir sim examples/double-capture/payment-fixed.json \\\n"
    "      --scenario examples/double-capture/sim.yaml --seeds 1000\n"
    "  weir sim examples/double-capture/payment-fixed.json \\\n"
    "      --scenario examples/double-capture/sim.yaml --seed 1 --seeds 1000 --json\n";

typedef struct args {
    const char *graph, *scenario, *out, *components;
    bool json, have_seed, have_seeds;
    uint64_t seed, seeds, max_ticks;
    unsigned jobs;
} args;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* mocks: a file name relative to the scenario's folder is read in. */
static int inline_mocks(json_t *sc, const char *scenario_path) {
    json_t *m = json_object_get(sc, "mocks");
    if (!json_is_string(m)) return 0;
    const char *name = json_string_value(m);
    char path[4096];
    const char *slash = strrchr(scenario_path, '/');
    if (name[0] != '/' && slash)
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - scenario_path), scenario_path, name);
    else snprintf(path, sizeof path, "%s", name);
    json_t *doc = cli_load_doc(path);
    if (!doc) return -1;
    json_object_set_new(sc, "mocks", doc);
    return 0;
}

static uint64_t fnv(const char *s) {
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int parse_args(int argc, char **argv, args *a) {
    enum { OPT_SEEDS = 256, OPT_SEED, OPT_OUT, OPT_JOBS, OPT_MAX_TICKS, OPT_COMPONENTS };
    static const struct option opts[] = {{"scenario", required_argument, NULL, 's'},
                                         {"seeds", required_argument, NULL, OPT_SEEDS},
                                         {"seed", required_argument, NULL, OPT_SEED},
                                         {"out", required_argument, NULL, OPT_OUT},
                                         {"json", no_argument, NULL, 'j'},
                                         {"jobs", required_argument, NULL, OPT_JOBS},
                                         {"max-ticks", required_argument, NULL, OPT_MAX_TICKS},
                                         {"components", required_argument, NULL, OPT_COMPONENTS},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":s:jh", opts, NULL)) != -1) {
        uint64_t v = 0;
        switch (c) {
        case 's': a->scenario = optarg; break;
        case 'j': a->json = true; break;
        case 'h': fputs(HELP, stdout); return EXIT_OK;
        case OPT_OUT: a->out = optarg; break;
        case OPT_COMPONENTS: a->components = optarg; break;
        case OPT_SEEDS:
            if (!cli_parse_count(optarg, false, &v) || v < 1 || v > WEIR_SIM_MAX_SEEDS)
                return cli_usage_error("sim", "--seeds takes a count from 1 to %u (got '%s')", WEIR_SIM_MAX_SEEDS,
                                       optarg);
            a->seeds = v;
            a->have_seeds = true;
            break;
        case OPT_SEED: {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(optarg, &end, 0);
            if (errno || end == optarg || *end || optarg[0] == '-')
                return cli_usage_error("sim", "--seed takes a whole number (decimal or 0x hex; got '%s')", optarg);
            a->seed = s;
            a->have_seed = true;
            break;
        }
        case OPT_JOBS:
            if (!cli_parse_count(optarg, false, &v) || v < 1 || v > 256)
                return cli_usage_error("sim", "--jobs takes a count of threads from 1 to 256 (got '%s')", optarg);
            a->jobs = (unsigned)v;
            break;
        case OPT_MAX_TICKS:
            if (!cli_parse_count(optarg, false, &v) || v < 1 || v > (uint64_t)1 << 53)
                return cli_usage_error("sim", "--max-ticks takes a count of ticks from 1 (got '%s')", optarg);
            a->max_ticks = v;
            break;
        default: return cli_option_error("sim", c, argc, argv, opts);
        }
    }
    if (optind != argc - 1) return cli_usage_error("sim", "expected one graph file (GRAPH)");
    a->graph = argv[optind];
    if (!a->scenario) return cli_usage_error("sim", "--scenario FILE is required: the mocks, injects and invariants");
    if (a->have_seed && a->have_seeds && a->seed > UINT64_MAX - a->seeds)
        return cli_usage_error("sim", "--seed %llu with --seeds %llu runs past the largest seed",
                               (unsigned long long)a->seed, (unsigned long long)a->seeds);
    return -1;
}

/* ------------------------------------------------------------ progress */

typedef struct prog {
    double t0;
    bool shown;
} prog;

static void show_progress(void *ud, const weir__sim_search *sr) {
    prog *p = ud;
    double dt = now_s() - p->t0;
    int width = 30, filled = (int)(width * (double)sr->progress / (double)(sr->count ? sr->count : 1));
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\r[%s] %llu/%llu seeds, %.0f seeds/s, %llu violations ", bar, (unsigned long long)sr->progress,
            (unsigned long long)sr->count, dt > 0 ? (double)sr->progress / dt : 0.0,
            (unsigned long long)sr->violations);
    p->shown = true;
}

/* ------------------------------------------------------------ journal */

static int to_file(void *ud, const char *data, size_t len) {
    return fwrite(data, 1, len, (FILE *)ud) == len ? 0 : WEIR_EIO;
}

/* The shrunk run again, recorded.  0, or the exit code with the error said. */
static int write_journal(weir__sim *s, const uint32_t *ch, size_t n, const char *path, weir__sim_result *res) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "weir sim: cannot write %s: %s\n", path, strerror(errno));
        return EXIT_FAILED;
    }
    weir_error err;
    weir_jfile_writer *w = NULL;
    json_t *start = weir__sim_start_body(s);
    int rc = start ? weir_jfile_writer_new(to_file, f, &w, &err) : WEIR_ENOMEM;
    weir_jfile_recorder rec;
    if (!rc) {
        weir_jfile_recorder_init(&rec, w, start);
        weir__sim_hooks hooks = {.ud = &rec, .input = weir_jfile_recorder_input,
                                 .input_done = weir_jfile_recorder_done};
        weir__sim_run_choices(s, ch, n, true, true, &hooks, res);
        rc = weir_jfile_recorder_finish(&rec, &err);
        if (!rc) rc = weir_jfile_flush(w, &err);
    }
    weir_jfile_writer_free(w);
    json_decref(start);
    if (fclose(f) && !rc) {
        rc = WEIR_EIO;
        snprintf(err.message, sizeof err.message, "%s", strerror(errno));
    }
    if (rc) {
        fprintf(stderr, "weir sim: cannot write the journal %s: %s\n", path,
                rc == WEIR_ENOMEM ? "out of memory" : err.message);
        return EXIT_FAILED;
    }
    return 0;
}

/* ------------------------------------------------------------ reports */

static json_t *parse_or_string(const char *s) {
    json_t *v = s ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;
    return v ? v : s ? json_string(s) : json_null();
}

static void print_result_lines(FILE *f, const weir__sim *s, const weir__sim_result *r) {
    fprintf(f, "  invariant \"%s\": %s\n", weir__sim_invariant_name(s, r->invariant),
            weir__sim_invariant_source(s, r->invariant));
    if (r->message) fprintf(f, "  %s\n", r->message);
    if (r->outputs_json) fprintf(f, "  outputs: %s\n", r->outputs_json);
    if (r->world_json) fprintf(f, "  world:   %s\n", r->world_json);
    if (r->state_json) fprintf(f, "  state:   %s\n", r->state_json);
}

static size_t count_kind(const weir__sim_result *r, int kind) {
    size_t n = 0;
    for (size_t i = 0; i < r->n_choices; i++) n += r->kinds[i] == kind && r->choices[i] == 1;
    return n;
}

int weir_cmd_sim(int argc, char **argv) {
    args a = {0};
    int code = parse_args(argc, argv, &a);
    if (code >= 0) return code;

    /* the graph and the scenario */
    json_t *gdoc = cli_load_doc(a.graph);
    if (!gdoc) return EXIT_USAGE;
    json_t *sc = cli_load_doc(a.scenario);
    if (!sc) {
        json_decref(gdoc);
        return EXIT_USAGE;
    }
    /* graph: nodes expanded here, found beside the graph file (the journal
     * keeps the flat graph, so weir replay needs nothing else) */
    weir_registry *freg = NULL;
    char *gdir = cli_dir_of(a.graph);
    json_t *flat = NULL;
    weir_graph_options fo = {.resolve = cli_resolve_graph, .resolve_ud = gdir};
    weir_error ferr;
    int frc = gdir && !weir_registry_create(&freg) ? weir_graph_flatten(freg, gdoc, &fo, &flat, &ferr) : WEIR_ENOMEM;
    weir_registry_destroy(freg);
    free(gdir);
    if (frc) {
        fprintf(stderr, "weir sim: %s: invalid graph\n", a.graph);
        for (const char *p = frc == WEIR_ENOMEM ? "out of memory" : ferr.message; *p;) {
            size_t n = strcspn(p, "\n");
            fprintf(stderr, "  - %.*s\n", (int)n, p);
            p += n + (p[n] == '\n');
        }
        json_decref(gdoc);
        json_decref(sc);
        return frc == WEIR_ENOMEM ? EXIT_FAILED : EXIT_USAGE;
    }
    json_decref(gdoc);
    gdoc = flat;
    char *gtext = json_dumps(gdoc, JSON_COMPACT);
    char *sctext = NULL;
    json_t *comps = NULL;
    weir__sim **workers = NULL;
    unsigned jobs = a.jobs;
    if (!jobs) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        jobs = n > 0 && n <= 256 ? (unsigned)n : 1;
    }
    code = EXIT_USAGE;
    if (!gtext) goto out;
    if (json_is_object(sc) && inline_mocks(sc, a.scenario)) goto out;
    sctext = json_dumps(sc, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!sctext) goto out;
    workers = calloc(jobs, sizeof *workers);
    if (!workers) goto out;
    if (a.components) {
        comps = cli_load_doc(a.components);
        if (!comps) goto out;
        if (json_is_object(comps)) {
            json_t *one = json_array();
            json_array_append_new(one, comps);
            comps = one;
        }
        if (!json_is_array(comps)) {
            fprintf(stderr, "weir sim: %s: expected a user component definition or an array of them\n", a.components);
            goto out;
        }
    }
    weir__sim_config cfg = {.graph_text = gtext, .graph_len = strlen(gtext), .scenario = sc, .max_ticks = a.max_ticks,
                            .components = comps};
    for (unsigned i = 0; i < jobs; i++) {
        weir_error err;
        /* each worker its own copy: no jansson value is shared between threads */
        weir__sim_config mine = cfg;
        mine.scenario = json_deep_copy(sc);
        mine.components = comps ? json_deep_copy(comps) : NULL;
        int rc = WEIR_ENOMEM;
        snprintf(err.message, sizeof err.message, "out of memory");
        if (mine.scenario && (!comps || mine.components)) rc = weir__sim_create(&mine, &workers[i], &err);
        json_decref(mine.scenario);
        json_decref(mine.components);
        if (rc) {
            fprintf(stderr, "weir sim: %s: %s\n",
                    rc == WEIR_EGRAPH ? a.graph : a.components && strncmp(err.message, "user component", 14) == 0
                                                      ? a.components
                                                      : a.scenario,
                    err.message);
            code = rc == WEIR_ENOMEM ? EXIT_FAILED : EXIT_USAGE;
            goto out;
        }
    }

    /* the seeds */
    bool from_clock = !a.have_seed;
    uint64_t first = a.seed, count = a.have_seeds ? a.seeds : a.have_seed ? 1 : 1000;
    if (from_clock) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) ^ ((uint64_t)getpid() << 32);
        first = weir__sim_splitmix64(&x) % 1000000000ull;
    }
    char hash[24];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)fnv(sctext));
    FILE *o = a.json ? stderr : stdout;
    if (!a.json) {
        printf("weir sim %s: scenario %s (fnv1a %s), seeds %llu..%llu (%llu)\n", WEIR_VERSION, a.scenario, hash,
               (unsigned long long)first, (unsigned long long)(first + count - 1), (unsigned long long)count);
        if (from_clock)
            printf("first seed %llu from the clock: rerun these with --seed %llu --seeds %llu\n",
                   (unsigned long long)first, (unsigned long long)first, (unsigned long long)count);
    }

    /* the search */
    weir__sim_search sr = {.first = first, .count = count, .jobs = jobs};
    prog p = {.t0 = now_s()};
    bool tty_err = cli_isatty(stderr);
    weir_error err;
    if (weir__sim_search_run(workers, &sr, tty_err ? show_progress : NULL, &p, &err)) {
        fprintf(stderr, "weir sim: %s\n", err.message);
        code = EXIT_FAILED;
        goto out;
    }
    double search_s = now_s() - p.t0;
    if (p.shown) {
        show_progress(&p, &sr);
        fputc('\n', stderr);
    }
    json_t *doc = a.json ? json_pack("{s:s,s:s,s:s,s:{s:I,s:I},s:b}", "weir", WEIR_VERSION, "scenario", a.scenario,
                                     "scenarioHash", hash, "seeds", "first", (json_int_t)first, "count",
                                     (json_int_t)count, "seedFromClock", from_clock)
                         : NULL;
    json_t *timing = a.json ? json_pack("{s:f,s:f}", "searchSeconds", search_s, "seedsPerSecond",
                                        search_s > 0 ? (double)sr.progress / search_s : 0.0)
                            : NULL;
    if (!sr.failed) {
        if (a.json) {
            json_object_set_new(doc, "result", json_string("pass"));
            json_object_set_new(doc, "seedsRun", json_integer((json_int_t)sr.done));
            json_object_set_new(doc, "wavesChecked", json_integer((json_int_t)sr.waves));
            json_object_set_new(doc, "interleavings", json_integer((json_int_t)sr.interleavings));
        } else {
            printf("ok: %llu seeds, %llu waves checked, %llu distinct interleavings; every invariant held\n",
                   (unsigned long long)sr.done, (unsigned long long)sr.waves, (unsigned long long)sr.interleavings);
        }
        code = EXIT_OK;
    } else {
        weir__sim *s = workers[0];
        weir__sim_result r;
        weir__sim_run_seed_full(s, sr.failing_seed, false, &r);
        if (r.status == WEIR_SIM_ERROR) {
            fprintf(stderr, "weir sim: seed %llu: %s\n", (unsigned long long)sr.failing_seed, r.message);
            if (a.json) {
                json_object_set_new(doc, "result", json_string("error"));
                json_object_set_new(doc, "seed", json_integer((json_int_t)sr.failing_seed));
                json_object_set_new(doc, "error", json_string(r.message));
            }
            code = EXIT_USAGE;
            goto report;
        }
        if (r.status != WEIR_SIM_VIOLATION) {
            if (comps)
                fprintf(stderr,
                        "weir sim: seed %llu failed in the search but not when run again: does a user component keep "
                        "state outside getState/setState (a module-level variable)? Its runs then depend on what ran "
                        "before on the same worker\n",
                        (unsigned long long)sr.failing_seed);
            else
                fprintf(stderr, "weir sim: seed %llu failed in the search but not when run again: a bug in weir sim\n",
                        (unsigned long long)sr.failing_seed);
            code = EXIT_FAILED;
            goto report;
        }
        int inv = r.invariant;
        if (!a.json) {
            printf("violation: seed %llu (after %llu seeds), tick %llu (wave %llu)%s\n",
                   (unsigned long long)sr.failing_seed, (unsigned long long)sr.done, (unsigned long long)r.tick,
                   (unsigned long long)r.wave, r.at_limit ? ", where the run stopped (--max-ticks)" : "");
            print_result_lines(o, s, &r);
        } else {
            json_object_set_new(doc, "result", json_string("violation"));
            json_object_set_new(doc, "violation",
                                json_pack("{s:I,s:I,s:s,s:s,s:I,s:I,s:o,s:o,s:s?}", "seed", (json_int_t)sr.failing_seed,
                                          "seedsRun", (json_int_t)sr.done, "invariant",
                                          weir__sim_invariant_name(s, inv), "expression",
                                          weir__sim_invariant_source(s, inv), "tick", (json_int_t)r.tick, "wave",
                                          (json_int_t)r.wave, "outputs", parse_or_string(r.outputs_json), "world",
                                          parse_or_string(r.world_json), "message", r.message));
        }
        /* shrink */
        uint32_t *orig = malloc((r.n_choices ? r.n_choices : 1) * sizeof *orig);
        if (!orig) goto report;
        memcpy(orig, r.choices, r.n_choices * sizeof *orig);
        size_t n_orig = r.n_choices;
        double t1 = now_s();
        uint32_t *shrunk = NULL;
        size_t n_shrunk = 0;
        uint64_t runs = 0;
        bool complete = false;
        int rc = weir__sim_shrink(s, orig, n_orig, inv, &shrunk, &n_shrunk, &runs, &complete);
        free(orig);
        double shrink_s = now_s() - t1;
        if (timing) json_object_set_new(timing, "shrinkSeconds", json_real(shrink_s));
        if (rc) {
            fprintf(stderr, "weir sim: out of memory shrinking\n");
            code = EXIT_FAILED;
            goto report;
        }
        /* the shrunk run, told (and recorded) */
        code = EXIT_FAILED;
        if (a.out) {
            int wc = write_journal(s, shrunk, n_shrunk, a.out, &r);
            if (wc) {
                free(shrunk);
                code = wc;
                goto report;
            }
        } else {
            weir__sim_run_choices(s, shrunk, n_shrunk, true, true, NULL, &r);
        }
        size_t injects = count_kind(&r, WEIR_SIM_C_PRESENT), faults = count_kind(&r, WEIR_SIM_C_FAULT);
        if (!a.json) {
            printf("shrunk in %llu runs%s: %zu inject%s, %zu fault%s, %zu choices\n", (unsigned long long)runs,
                   complete ? "" : " (stopped at the bound: it may not be the shortest)", injects,
                   injects == 1 ? "" : "s", faults, faults == 1 ? "" : "s", n_shrunk);
            size_t i;
            json_t *line;
            json_array_foreach(r.log, i, line) printf("  %s\n", json_string_value(line));
            if (r.status != WEIR_SIM_VIOLATION) /* never: the shrink keeps only failing runs */
                printf("  (the shrunk run did not fail again: a bug in weir sim)\n");
            if (n_shrunk <= 64) {
                printf("shrunk choices: [");
                for (size_t k = 0; k < n_shrunk; k++) printf("%s%u", k ? "," : "", shrunk[k]);
                printf("]\n");
            } else {
                printf("shrunk choices: %zu, all 0 but (index=value)", n_shrunk);
                for (size_t k = 0; k < n_shrunk; k++)
                    if (shrunk[k]) printf(" %zu=%u", k, shrunk[k]);
                printf("\n");
            }
            if (a.out) printf("journal: %s (weir replay %s)\n", a.out, a.out);
        } else {
            json_t *ch = json_array();
            for (size_t k = 0; k < n_shrunk; k++) json_array_append_new(ch, json_integer(shrunk[k]));
            json_object_set_new(doc, "shrunk",
                                json_pack("{s:I,s:b,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:o}", "runs", (json_int_t)runs,
                                          "complete", complete, "injects", (json_int_t)injects, "faults",
                                          (json_int_t)faults, "tick", (json_int_t)r.tick, "wave", (json_int_t)r.wave,
                                          "choices", ch, "log", r.log ? json_incref(r.log) : json_array(), "outputs",
                                          parse_or_string(r.outputs_json), "world", parse_or_string(r.world_json)));
            if (a.out) json_object_set_new(doc, "journal", json_string(a.out));
        }
        free(shrunk);
    }
report:
    if (a.json) {
        json_object_set_new(doc, "timing", timing);
        cli_print_json(stdout, doc, true);
        json_decref(doc);
    } else if (cli_isatty(stdout)) {
        printf("(%.2f s, %.0f seeds/s)\n", search_s, search_s > 0 ? (double)sr.progress / search_s : 0.0);
    }
out:
    if (workers)
        for (unsigned i = 0; i < jobs; i++) weir__sim_destroy(workers[i]);
    free(workers);
    free(gtext);
    free(sctext);
    json_decref(sc);
    json_decref(gdoc);
    json_decref(comps);
    return code;
}
