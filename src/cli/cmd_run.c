/* weir run GRAPH [--inject NODE[:PORT]=JSON]... [--input FILE.jsonl] [--json | --json-lines] [--trace]
 *              [--virtual [--scenario FILE | --step] [--mocks FILE] [--tick-ms MS]]
 *
 * Drives one execution on the realtime runtime: start, feed the injects,
 * wait until it completes, fails or goes idle; outputs are printed as they
 * happen (run_io.c) and kept only for --json.  With --virtual, on the
 * virtual runtime instead (cmd_virtual.c). */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio_ext.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "cli/cli.h"
#include "cli/run_io.h"
#include "cli/virtual.h"
#include "net/logline.h"

static const char HELP[] =
    "Usage: weir run GRAPH [options]\n"
    "\n"
    "Start an execution of GRAPH (JSON or YAML), inject messages, wait until it\n"
    "completes, fails or goes idle (nothing in flight), then print the final state\n"
    "and the metrics. Timers (delay, accumulator flushMs) and HTTP requests run for\n"
    "real on the event loop.\n"
    "\n"
    "Output streams: each terminal output is printed when it is produced (text or\n"
    "--json-lines; to a pipe or file in 64 KB writes, and whatever is pending\n"
    "whenever run waits for input, timers or requests), and nothing is kept, so\n"
    "memory stays flat however long --input is; --input is read a line at a time.\n"
    "--json is the exception: one document at the end, so it keeps every output,\n"
    "log and trace until then.\n"
    "\n"
    "Options:\n"
    "  -i, --inject NODE[:PORT]=VALUE inject a value (repeatable; PORT defaults to the\n"
    "                                 node's first input port). VALUE is JSON when it\n"
    "                                 starts like JSON ({ [ \" a digit, -digit, or is true,\n"
    "                                 false, null) and must then parse; other text is a\n"
    "                                 string: name=alice, msg='\"{not json\"'\n"
    "  -f, --input FILE.jsonl         inject every line of FILE: {\"nodeId\", \"port\", \"value\"}\n"
    "                                 ('-' reads stdin; a progress bar shows on a terminal)\n"
    "      --json                     print one JSON document at the end instead of text\n"
    "                                 (keeps every output, log and trace in memory)\n"
    "      --json-lines               print one JSON object per line as it happens:\n"
    "                                 {\"type\":\"output\", tick, node, port, value},\n"
    "                                 {\"type\":\"log\", ...}, {\"type\":\"trace\", ...}, and\n"
    "                                 last {\"type\":\"summary\", state, idle, injected,\n"
    "                                 metrics, error?}\n"
    "      --trace                    print every hop of each inject (tick, from, to,\n"
    "                                 value) when everything it caused has settled\n"
    "      --timeout MS               fail the execution after MS milliseconds\n"
    "                                 (default: DEFAULT_EXECUTION_TIMEOUT or 300000; 0 = none)\n"
    "      --allow-private            let http-request reach loopback/private addresses\n"
    "                                 (EGRESS_ALLOW_PRIVATE=true does the same)\n"
    "      --max-wave-hops N          messages one input's wave may process; past it the\n"
    "                                 wave stops with an error (default: MAX_WAVE_HOPS or\n"
    "                                 1000000)\n"
    "      --expr-max-steps N         work one expression evaluation may do (default:\n"
    "                                 EXPR_MAX_STEPS or 1048576, about 10 ms)\n"
    "      --expr-max-bytes N[k|m]    largest string or result of one expression\n"
    "                                 (default: EXPR_MAX_BYTES or 16m)\n"
    "  -h, --help\n"
    "\n"
    "Virtual time (SPEC §4.5): time moves only when asked, so races can be written\n"
    "down and replayed; the clock starts at 0 and every run prints the same thing.\n"
    "      --virtual                  run on the virtual runtime: without --scenario or\n"
    "                                 --step, inject and play until idle\n"
    "      --scenario FILE            play FILE (JSON or YAML): {name?, tickMs?, mocks?,\n"
    "                                 options? (execute options), steps: [...]}, each step\n"
    "                                 one of\n"
    "                                   {inject: {nodeId, port?, value, atTick? | afterTicks?}}\n"
    "                                   {mocks: [...] | \"file.json\"}  {tick: N}  {advance: MS}\n"
    "                                   {run: true | {maxTicks}}  {step: N}\n"
    "                                   {expect: {output: \"node:port\", count | value | values}}\n"
    "                                   {expect: {state: \"running\"}}  {expect: {tick: N}}\n"
    "                                 and any step may carry a note; exit 1 if a check fails\n"
    "      --step                     an interactive stepper: next node, tick, run, pause, quit\n"
    "                                 (commands on stdin; h lists them)\n"
    "      --mocks FILE               http mocks: [{match: {method?, url?}, response:\n"
    "                                 {status?, headers?, body?}, latencyMs?}] (url may end in *)\n"
    "      --tick-ms MS               one tick (default 1; a scenario's tickMs wins)\n"
    "                                 A request no mock matches is performed for real (the\n"
    "                                 egress rules below apply); its answer is delivered at\n"
    "                                 the next tick, in request order; run waits for it.\n"
    "\n"
    "Environment: DEFAULT_EXECUTION_TIMEOUT (ms), ENABLE_METRICS=false (no latency\n"
    "measurement; by default it is sampled: a node's first invocation, every one\n"
    "while it takes 1 us or more, else about 1 in 32), EGRESS_ALLOW_PRIVATE,\n"
    "EGRESS_ALLOWLIST (comma-separated hosts).\n"
    "\n"
    "A node {\"component\": \"graph:NAME\"} (or graph:NAME@V) uses another graph:\n"
    "NAME@V.json, else NAME.json (or .yaml, .yml; its \"version\" must be V) in the\n"
    "graph file's own directory. Its nodes run as NODE/INNER (see the README).\n"
    "\n"    "Exit status: 0 completed or idle, 1 failed, 2 invalid graph or usage.\n"
    "\n"
    "Examples:\n"
    "  weir run examples/quick-reference.json --inject input=21\n"
    "  weir run examples/filter-split.json --inject 'orders={\"total\": 250}' --trace\n"
    "  weir run examples/accumulator-batch.json --input examples/accumulator-batch.jsonl --json\n"
    "  weir run examples/compose/main.json --inject 'order={\"sku\": \"apple\", \"qty\": 2}'\n"
    "  weir run examples/quick-reference.json --input big.jsonl --json-lines | jq .value\n"
    "  weir run examples/double-capture/payment.json --virtual \\\n"
    "           --scenario examples/double-capture/race.yaml\n"
    "  weir run examples/merge-diamond.json --virtual --step --inject 'source={\"celsius\": 100}'\n";

typedef struct run_state {
    weir_exec *exec;
    bool json, json_lines, trace, finished;
    /* --json only (one document at the end): what it must hold until then */
    json_t *outputs; /* [{tick, node, port, value}] in order */
    json_t *traces;  /* [{inject, hops, trace, traceTruncated?}] */
    json_t *logs;
    cli_line line;   /* the line being printed (text, --json-lines) */
    size_t injected;
} run_state;

/* Text: `node:port value`.  --json-lines: {"type":"output", tick, node,
 * port, value}.  Written as it happens, one fwrite per line. */
static void print_output(run_state *rs, json_t *data) {
    cli_line *l = &rs->line;
    const char *node = json_string_value(json_object_get(data, "nodeId"));
    const char *port = json_string_value(json_object_get(data, "port"));
    json_t *value = json_object_get(data, "value");
    if (!node || !port || !value) return;
    if (rs->json_lines) {
        cli_line_lit(l, "{\"type\":\"output\",\"tick\":");
        cli_line_json(l, json_object_get(data, "tick"));
        cli_line_lit(l, ",\"node\":");
        cli_line_json_str(l, node);
        cli_line_lit(l, ",\"port\":");
        cli_line_json_str(l, port);
        cli_line_lit(l, ",\"value\":");
        cli_line_json(l, value);
        cli_line_lit(l, "}\n");
    } else {
        cli_line_str(l, node);
        cli_line_lit(l, ":");
        cli_line_str(l, port);
        cli_line_lit(l, " ");
        cli_line_json(l, value);
        cli_line_lit(l, "\n");
    }
    cli_line_write(l, stdout);
}

/* One JSON object as a line of --json-lines, {"type": type, ...fields}. */
static void print_json_line(run_state *rs, const char *type, json_t *fields /* STOLEN */) {
    json_t *o = json_pack("{s:s}", "type", type);
    if (o && fields) json_object_update(o, fields);
    json_decref(fields);
    if (!o) return;
    cli_line_json(&rs->line, o);
    cli_line_lit(&rs->line, "\n");
    cli_line_write(&rs->line, stdout);
    json_decref(o);
}

static void on_event(void *ud, weir_exec *e, uint64_t seq, const char *name, json_t *data) {
    (void)e;
    (void)seq;
    run_state *rs = ud;
    if (strcmp(name, "output") == 0) {
        if (rs->json)
            json_array_append_new(rs->outputs, json_pack("{s:O,s:O,s:O,s:O}", "tick", json_object_get(data, "tick"),
                                                         "node", json_object_get(data, "nodeId"), "port",
                                                         json_object_get(data, "port"), "value",
                                                         json_object_get(data, "value")));
        else print_output(rs, data);
    } else if (strcmp(name, "log") == 0) {
        if (rs->json) {
            json_array_append(rs->logs, data);
        } else if (rs->json_lines) {
            print_json_line(rs, "log", json_pack("{s:O,s:O,s:O,s:O,s:O*}", "tick", json_object_get(data, "tick"),
                                                 "node", json_object_get(data, "nodeId"), "level",
                                                 json_object_get(data, "level"), "message",
                                                 json_object_get(data, "message"), "meta",
                                                 json_object_get(data, "meta")));
        } else {
            fflush(stdout); /* a log line on stderr comes after the outputs before it (2>&1) */
            fprintf(stderr, "log %s %s: ", json_string_value(json_object_get(data, "level")),
                    json_string_value(json_object_get(data, "nodeId")));
            const char *msg = json_string_value(json_object_get(data, "message"));
            weir_logline_put_escaped(stderr, msg ? msg : ""); /* a newline in the value stays on this line */
            fputc('\n', stderr);
        }
    }
}

static void print_trace(const weir_settled *s) {
    size_t i;
    json_t *h;
    printf("trace of inject %llu (%llu hops):\n", (unsigned long long)(s->inject_id & 0xffffffffu),
           (unsigned long long)s->hops);
    json_array_foreach(s->trace, i, h) {
        char *v = json_dumps(json_object_get(h, "value"), JSON_ENCODE_ANY | JSON_COMPACT);
        const char *from = json_string_value(json_object_get(h, "from"));
        printf("  tick %-4lld %-24s -> %-24s %s\n", (long long)json_integer_value(json_object_get(h, "tick")),
               from ? from : "(inject)", json_string_value(json_object_get(h, "to")), v ? v : "?");
        free(v);
    }
    if (s->trace_cut) /* never a silent cut */
        printf("  ... the trace stopped at MAX_TRACE_HOPS (%llu): %llu more hops not shown\n",
               (unsigned long long)s->trace_cut, (unsigned long long)(s->hops - json_array_size(s->trace)));
}

static void on_settled(void *ud, weir_exec *e, const weir_settled *s) {
    (void)e;
    run_state *rs = ud;
    if (!s->trace) return;
    if (!rs->json && !rs->json_lines) {
        print_trace(s);
        return;
    }
    json_t *t = json_pack("{s:I,s:I,s:O,s:o*}", "inject", (json_int_t)(s->inject_id & 0xffffffffu), "hops",
                          (json_int_t)s->hops, "trace", s->trace, "traceTruncated",
                          s->trace_cut ? json_pack("{s:s,s:I}", "limit", "MAX_TRACE_HOPS", "maxTraceHops",
                                                   (json_int_t)s->trace_cut)
                                       : NULL);
    if (rs->json) json_array_append_new(rs->traces, t);
    else print_json_line(rs, "trace", t);
}

static void on_finished(void *ud, weir_exec *e) {
    (void)e;
    ((run_state *)ud)->finished = true;
}

/* Inject one value; a failure is reported (with the file and line it came
 * from, unless file is NULL) and ends the run. */
static int do_inject(run_state *rs, weir_realtime *rt, const char *node, const char *port, json_t *value,
                     const char *file, size_t line) {
    unsigned flags = rs->trace ? WEIR_INJECT_TRACE : 0;
    weir_inject in = {.node = node, .port = port, .value = value, .flags = flags};
    weir_error err;
    int rc = weir_exec_inject(rs->exec, &in, weir_realtime_now(rt), NULL, &err);
    if (rc) {
        fflush(stdout);
        if (file) fprintf(stderr, "weir run: %s line %zu: %s\n", file, line, err.message);
        else fprintf(stderr, "weir run: %s\n", err.message);
        return rc == WEIR_ESTATE ? EXIT_FAILED : EXIT_USAGE;
    }
    rs->injected++;
    return 0;
}

/* Would reading f not wait?  True when stdout holds nothing to flush anyway;
 * else whether f's descriptor is readable (a line still in f's buffer may
 * flush early: harmless). */
static bool input_ready(FILE *f) {
    if (__fpending(stdout) == 0) return true; /* nothing to flush anyway */
    struct pollfd p = {.fd = fileno(f), .events = POLLIN};
    return poll(&p, 1, 0) == 1;
}

static void progress(size_t lines, size_t done, size_t total, bool final) {
    int pct = total ? (int)(done * 100 / total) : 100;
    int bar = pct / 4;
    fprintf(stderr, "\r[%.*s%*s] %3d%% %zu lines", bar, "#########################", 25 - bar, "", pct, lines);
    if (final) fputc('\n', stderr);
    fflush(stderr);
}

/* How many lines of --input may be injected between two turns of the
 * event loop while no effect is pending (timers and requests in flight make
 * it turn after every line). */
#define FEED_LOOP_EVERY 64

/* Inject every line of path ('-': stdin), one line at a time: the file is
 * never held whole. */
static int feed_file(run_state *rs, weir_realtime *rt, uv_loop_t *loop, const char *path) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(stderr, "weir run: cannot open %s: %m\n", path);
        return EXIT_USAGE;
    }
    size_t total = 0;
    if (f != stdin && fseek(f, 0, SEEK_END) == 0) {
        total = (size_t)ftell(f);
        fseek(f, 0, SEEK_SET);
    }
    bool bar = cli_isatty(stderr) && total > 0;
    bool piped = f == stdin && !cli_isatty(stdin);
    struct timespec last = {0, 0};
    char *line = NULL;
    size_t cap = 0, lineno = 0, done = 0;
    ssize_t n;
    int rc = 0;
    for (;;) {
        /* About to wait for more input: what was printed goes out first. */
        if (piped && !input_ready(f)) fflush(stdout);
        if ((n = getline(&line, &cap, f)) == -1) break;
        lineno++;
        done += (size_t)n;
        if (strspn(line, " \t\r\n") == (size_t)n) continue;
        const char *node, *port;
        json_t *msg = NULL, *value;
        if (cli_inject_line(line, (size_t)n, &node, &port, &value) == 0) {
            msg = value; /* the reference to drop */
        } else {
            json_error_t je;
            msg = json_loadb(line, (size_t)n, 0, &je);
            node = json_string_value(json_object_get(msg, "nodeId"));
            port = json_string_value(json_object_get(msg, "port"));
            value = json_object_get(msg, "value");
            if (!node || !value) {
                fflush(stdout);
                fprintf(stderr, "weir run: %s line %zu: each line must be {\"nodeId\": \"...\", \"port\": \"...\", "
                                "\"value\": ...}%s%s\n", path, lineno, msg ? "" : " — ", msg ? "" : je.text);
                json_decref(msg);
                rc = EXIT_USAGE;
                break;
            }
        }
        rc = do_inject(rs, rt, node, port, value, path, lineno);
        json_decref(msg);
        if (rc) break;
        if (lineno % FEED_LOOP_EVERY == 0 || weir_exec_pending_effects(rs->exec))
            uv_run(loop, UV_RUN_NOWAIT); /* let timers and requests progress */
        if (rs->finished) break;
        if (bar && lineno % FEED_LOOP_EVERY == 0) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            if ((now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000 > 100) {
                progress(lineno, done, total, false);
                last = now;
            }
        }
    }
    if (bar) progress(lineno, done, total, true);
    free(line);
    if (f != stdin) fclose(f);
    return rc;
}

static void print_summary(run_state *rs, weir_realtime *rt) {
    weir_exec *e = rs->exec;
    weir_state st = weir_exec_state(e);
    bool idle = !weir_state_finished(st);
    json_t *metrics = weir_exec_metrics(e, weir_realtime_now(rt));
    if (rs->json_lines) {
        json_t *sum = json_pack("{s:s,s:b,s:I,s:o}", "state", weir_state_name(st), "idle", idle, "injected",
                                (json_int_t)rs->injected, "metrics", metrics);
        if (sum && weir_exec_error(e)) json_object_set(sum, "error", weir_exec_error(e));
        print_json_line(rs, "summary", sum);
        return;
    }
    if (rs->json) {
        json_t *out = json_pack("{s:s,s:b,s:I,s:O,s:o}", "state", weir_state_name(st), "idle", idle, "injected",
                                (json_int_t)rs->injected, "outputs", rs->outputs, "metrics", metrics);
        if (weir_exec_error(e)) json_object_set(out, "error", weir_exec_error(e));
        if (rs->trace) json_object_set(out, "traces", rs->traces);
        json_object_set(out, "logs", rs->logs);
        cli_print_json(stdout, out, true);
        json_decref(out);
        return;
    }
    printf("state: %s%s\n", weir_state_name(st), idle ? " (idle: nothing in flight)" : "");
    json_t *err = weir_exec_error(e);
    if (err) {
        const char *node = json_string_value(json_object_get(err, "nodeId"));
        printf("error: %s%s%s%s\n", json_string_value(json_object_get(err, "message")), node ? " (node " : "",
               node ? node : "", node ? ")" : "");
    }
    printf("metrics: messagesProcessed=%lld messagesEmitted=%lld errorCount=%lld ticks=%lld avgLatencyMs=%.4f "
           "maxLatencyMs=%.4f uptimeMs=%lld\n",
           (long long)json_integer_value(json_object_get(metrics, "messagesProcessed")),
           (long long)json_integer_value(json_object_get(metrics, "messagesEmitted")),
           (long long)json_integer_value(json_object_get(metrics, "errorCount")),
           (long long)json_integer_value(json_object_get(metrics, "ticks")),
           json_number_value(json_object_get(metrics, "avgLatencyMs")),
           json_number_value(json_object_get(metrics, "maxLatencyMs")),
           (long long)json_integer_value(json_object_get(metrics, "uptimeMs")));
    json_decref(metrics);
}

static bool env_true(const char *name) {
    const char *v = getenv(name);
    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0);
}

int weir_cmd_run(int argc, char **argv) {
    enum { OPT_JSON = 256, OPT_JSON_LINES, OPT_TRACE, OPT_TIMEOUT, OPT_PRIVATE, OPT_VIRTUAL, OPT_SCENARIO, OPT_STEP,
           OPT_MOCKS, OPT_TICK, OPT_WAVE, OPT_XSTEPS, OPT_XBYTES };
    static const struct option opts[] = {{"inject", required_argument, NULL, 'i'},
                                         {"input", required_argument, NULL, 'f'},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {"json-lines", no_argument, NULL, OPT_JSON_LINES},
                                         {"trace", no_argument, NULL, OPT_TRACE},
                                         {"timeout", required_argument, NULL, OPT_TIMEOUT},
                                         {"allow-private", no_argument, NULL, OPT_PRIVATE},
                                         {"virtual", no_argument, NULL, OPT_VIRTUAL},
                                         {"scenario", required_argument, NULL, OPT_SCENARIO},
                                         {"step", no_argument, NULL, OPT_STEP},
                                         {"mocks", required_argument, NULL, OPT_MOCKS},
                                         {"tick-ms", required_argument, NULL, OPT_TICK},
                                         {"max-wave-hops", required_argument, NULL, OPT_WAVE},
                                         {"expr-max-steps", required_argument, NULL, OPT_XSTEPS},
                                         {"expr-max-bytes", required_argument, NULL, OPT_XBYTES},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    run_state rs = {0};
    const char **injects = calloc((size_t)argc, sizeof *injects);
    size_t n_injects = 0;
    const char *input = NULL;
    long long timeout = -1;
    bool allow_private = env_true("EGRESS_ALLOW_PRIVATE");
    const char *env_timeout = getenv("DEFAULT_EXECUTION_TIMEOUT");
    long long default_timeout = 300000;
    int c, code = EXIT_OK;
    if (env_timeout) {
        char *end;
        default_timeout = strtoll(env_timeout, &end, 10);
        if (end == env_timeout || *end || default_timeout < 0) {
            fprintf(stderr, "weir run: DEFAULT_EXECUTION_TIMEOUT takes milliseconds (0 = none), got '%s'\n",
                    env_timeout);
            code = EXIT_USAGE;
        }
    }
    cli_virtual_args virt = {.tick_ms = 1};
    bool is_virtual = false;
    const char *wave_hops = getenv("MAX_WAVE_HOPS");
    const char *xsteps = getenv("EXPR_MAX_STEPS"), *xbytes = getenv("EXPR_MAX_BYTES");
    weir_graph_options gopts = {0};
    optind = 1;
    opterr = 0;
    while (code == EXIT_OK && (c = getopt_long(argc, argv, ":i:f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': {
            /* checked here, so that a bad value stops the run before it starts */
            char *node, *port, why[1024];
            json_t *value;
            if (cli_parse_inject(optarg, "--inject", &node, &port, &value, why, sizeof why)) {
                fprintf(stderr, "weir run: %s\n", why);
                code = EXIT_USAGE;
            }
            free(node);
            free(port);
            json_decref(value);
            injects[n_injects++] = optarg;
            break;
        }
        case 'f': input = optarg; break;
        case OPT_JSON: rs.json = true; break;
        case OPT_JSON_LINES: rs.json_lines = true; break;
        case OPT_TRACE: rs.trace = true; break;
        case OPT_TIMEOUT: {
            char *end;
            timeout = strtoll(optarg, &end, 10);
            if (end == optarg || *end || timeout < 0) {
                fprintf(stderr, "weir run: --timeout takes milliseconds (0 = none), got '%s'\n", optarg);
                code = EXIT_USAGE;
            }
            break;
        }
        case OPT_PRIVATE: allow_private = true; break;
        case OPT_VIRTUAL: is_virtual = true; break;
        case OPT_SCENARIO: virt.scenario = optarg; break;
        case OPT_STEP: virt.step = true; break;
        case OPT_MOCKS: virt.mocks = optarg; break;
        case OPT_TICK: {
            char *end;
            virt.tick_ms = strtoll(optarg, &end, 10);
            if (end == optarg || *end || virt.tick_ms < 1) {
                fprintf(stderr, "weir run: --tick-ms takes a positive number of milliseconds, got '%s'\n", optarg);
                code = EXIT_USAGE;
            }
            break;
        }
        case OPT_WAVE: wave_hops = optarg; break;
        case OPT_XSTEPS: xsteps = optarg; break;
        case OPT_XBYTES: xbytes = optarg; break;
        case 'h': fputs(HELP, stdout); goto out_early;
        default: code = cli_option_error("run", c, argc, argv, opts); goto out_early;
        }
    }
    uint64_t n;
    if (!code && wave_hops) {
        if (!cli_parse_count(wave_hops, false, &n) || n < 1) {
            fprintf(stderr, "weir run: --max-wave-hops (MAX_WAVE_HOPS) takes a positive number of hops, got '%s'\n",
                    wave_hops);
            code = EXIT_USAGE;
        }
        virt.max_wave_hops = n;
    }
    if (!code && xsteps && (!cli_parse_count(xsteps, false, &n) || n < 1 || n > SIZE_MAX)) {
        fprintf(stderr, "weir run: --expr-max-steps (EXPR_MAX_STEPS) takes a positive number of steps, got '%s'\n",
                xsteps);
        code = EXIT_USAGE;
    }
    if (!code && xsteps) gopts.expr.max_steps = (size_t)n;
    if (!code && xbytes && (!cli_parse_count(xbytes, true, &n) || n < 1 || n > SIZE_MAX)) {
        fprintf(stderr, "weir run: --expr-max-bytes (EXPR_MAX_BYTES) takes a positive number of bytes (suffixes k, "
                        "m), got '%s'\n", xbytes);
        code = EXIT_USAGE;
    }
    if (!code && xbytes) gopts.expr.max_bytes = (size_t)n;
    if (code) goto out_early;
    if (optind != argc - 1) {
        code = cli_usage_error("run", "expected one GRAPH file%s%s%s", optind < argc - 1 ? ", got '" : "",
                               optind < argc - 1 ? argv[optind + 1] : "", optind < argc - 1 ? "' too" : "");
        goto out_early;
    }
    if (!is_virtual && (virt.scenario || virt.step || virt.mocks)) {
        fprintf(stderr, "weir run: --scenario, --step and --mocks need --virtual\n");
        code = EXIT_USAGE;
        goto out_early;
    }
    if (rs.json && rs.json_lines) {
        code = cli_usage_error("run", "give --json or --json-lines, not both");
        goto out_early;
    }
    if (is_virtual && rs.json_lines) {
        code = cli_usage_error("run", "--json-lines is for the realtime runtime (with --virtual, use --json)");
        goto out_early;
    }
    if (is_virtual && ((virt.scenario && virt.step) || input || rs.trace)) {
        fprintf(stderr, "weir run: with --virtual, give --scenario or --step (not both); --input and --trace are "
                        "for the realtime runtime\n");
        code = EXIT_USAGE;
        goto out_early;
    }

    weir_registry *reg = NULL;
    weir_graph *g = NULL;
    weir_error err;
    if (weir_registry_create(&reg)) {
        code = EXIT_FAILED;
        goto out_early;
    }
    json_t *problems = json_array();
    gopts.problems = problems;
    int lrc = cli_load_graph(reg, argv[optind], &gopts, &g, &err);
    if (lrc) {
        if (lrc != WEIR_EIO) {
            fprintf(stderr, "weir run: %s: invalid graph\n", argv[optind]);
            size_t i;
            json_t *p;
            json_array_foreach(problems, i, p) fprintf(stderr, "  - %s\n", json_string_value(p));
            if (!json_array_size(problems)) fprintf(stderr, "  - %s\n", err.message);
        }
        json_decref(problems);
        weir_registry_destroy(reg);
        code = lrc == WEIR_ENOMEM ? EXIT_FAILED : EXIT_USAGE;
        goto out_early;
    }
    json_decref(problems);
    if (is_virtual) {
        virt.g = g;
        virt.json = rs.json;
        virt.injects = injects;
        virt.n_injects = n_injects;
        virt.allow_private = allow_private;
        code = weir_cli_run_virtual(&virt);
        goto out_graph;
    }

    /* Outputs stream to stdout: a terminal sees each line (line buffered);
     * a pipe or file gets them in 64 KB writes, and whatever is pending
     * whenever run waits (for input, timers or requests). */
    if (!cli_isatty(stdout)) setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    uv_loop_t loop;
    uv_loop_init(&loop);
    weir_realtime *rt = NULL;
    weir_realtime_options ro = {.allow_private = allow_private, .allowlist = getenv("EGRESS_ALLOWLIST")};
    if (weir_realtime_create(&loop, &ro, &rt)) {
        fprintf(stderr, "weir run: cannot start the realtime runtime\n");
        code = EXIT_FAILED;
        goto out_graph;
    }
    weir_shell sh = {0};
    weir_realtime_shell(rt, &sh);
    const char *metrics = getenv("ENABLE_METRICS");
    if (metrics && strcmp(metrics, "false") == 0) sh.clock_ns = NULL; /* counters stay, latencies are 0 */
    sh.ud = &rs;
    sh.event = on_event;
    sh.settled = on_settled;
    sh.finished = on_finished;
    if (rs.json) {
        rs.outputs = json_array();
        rs.traces = json_array();
        rs.logs = json_array();
    }
    weir_exec_options eo = {.id = "run", .timeout_ms = timeout, .default_timeout_ms = default_timeout,
                            .max_wave_hops = virt.max_wave_hops};
    int rc = weir_exec_create(g, &eo, &sh, &rs.exec, &err);
    /* Build only the events printed: outputs and logs.  --trace prints each
     * inject's own trace (WEIR_INJECT_TRACE), never per-hop events. */
    if (!rc) weir_exec_listen_mask(rs.exec, WEIR_EV_OUTPUT | WEIR_EV_LOG);
    if (rc || weir_exec_start(rs.exec, weir_realtime_now(rt), &err)) {
        fprintf(stderr, "weir run: %s\n", err.message);
        code = EXIT_FAILED;
        goto out_exec;
    }
    /* While injects remain to be fed, the execution may not complete. */
    bool held = (n_injects > 1 || input) && weir_exec_hold(rs.exec, true, weir_realtime_now(rt), NULL) == 0;
    for (size_t i = 0; i < n_injects && code == EXIT_OK && !rs.finished; i++) {
        char *node, *port, why[1024];
        json_t *value;
        if (cli_parse_inject(injects[i], "--inject", &node, &port, &value, why, sizeof why)) {
            fprintf(stderr, "weir run: %s\n", why);
            code = EXIT_USAGE;
            break;
        }
        code = do_inject(&rs, rt, node, port, value, NULL, 0);
        free(node);
        free(port);
        json_decref(value);
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    if (code == EXIT_OK && input && !rs.finished) code = feed_file(&rs, rt, &loop, input);
    if (held && !rs.finished) weir_exec_hold(rs.exec, false, weir_realtime_now(rt), NULL);
    /* Wait for effects to settle: completed, failed, or idle. */
    while (code == EXIT_OK && !rs.finished && !weir_exec_idle(rs.exec)) {
        fflush(stdout); /* what was printed is seen while waiting for timers and requests */
        uv_run(&loop, UV_RUN_ONCE);
    }
    if (code == EXIT_OK) {
        print_summary(&rs, rt);
        if (weir_exec_state(rs.exec) == WEIR_STATE_FAILED) code = EXIT_FAILED;
    }
out_exec:
    if (rs.exec) weir_realtime_forget(rt, rs.exec);
    weir_exec_destroy(rs.exec);
    weir_realtime_destroy(rt);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
out_graph:
    weir_graph_unref(g);
    weir_registry_destroy(reg);
out_early:
    free(injects);
    json_decref(rs.outputs);
    json_decref(rs.traces);
    json_decref(rs.logs);
    cli_line_free(&rs.line);
    return code;
}
