/* weir replay FILE.ndjson | --data DIR EXECUTION_ID [--json]
 *
 * Re-runs a journal (SPEC §7.3) under this build and checks, record by
 * record, that it produces what the original produced.  The journal is
 * read as a stream and each record applied as it is read and verified
 * (store/journal_file.h), so memory stays flat however long it is.
 *
 * The execution is made from the START record alone: its graph document,
 * the user component definitions it uses (descriptors built here and
 * added to a registry of the built-ins: no component host runs — the
 * journal holds every result their calls gave), its options and runtime
 * name.  The shell performs nothing: every effect's result, every timer
 * firing, is a later record.  Each record is applied through the public
 * call it came from (weir_exec_apply), its tick compared with the
 * execution's before it and, where the journal has one, its wave digest
 * with the one the replay produced.
 *
 * The START body's "options" are the execute options (completion,
 * onError, overflow, timeoutMs) and, when the service wrote them, the
 * settings of the server it ran on: defaultTimeoutMs, maxQueue,
 * maxWaveHops, maxTraceHops, exprMaxSteps, exprMaxBytes (absent: SPEC's
 * defaults). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "store/journal_file.h"

static const char HELP[] =
    "Usage: weir replay FILE.ndjson [--json]\n"
    "       weir replay --data DIR EXECUTION_ID [--json]\n"
    "\n"
    "Re-run an execution's input journal under this build and check that every\n"
    "input produces what it produced when it was recorded (SPEC 7.3): the same\n"
    "tick, hops, terminal outputs and execution state, compared through the wave\n"
    "digest the journal keeps of each record.\n"
    "\n"
    "The journal is an NDJSON file as GET /api/executions/:id/journal streams it\n"
    "(one record a line; '-' reads stdin), or, with --data, the journal of\n"
    "EXECUTION_ID in a weir data directory (DATA_DIR; not while a weir serve holds\n"
    "it). Its first record carries the graph, the user component definitions and\n"
    "the options, so nothing else is needed: user components do not run (their\n"
    "results are in the journal) and no effect is performed.\n"
    "\n"
    "Before anything is applied, each record is verified: its seq (no line missing,\n"
    "repeated or reordered), its kind, its body in canonical form, its hash chain.\n"
    "\n"
    "Result:\n"
    "  match       every record reproduced: \"match (N inputs, M waves)\", exit 0\n"
    "              (a record without a digest is applied and its tick checked;\n"
    "              --json says how many were compared; \"scheduled\" records are\n"
    "              the service's own, its virtual clock: read, not applied)\n"
    "  divergence  the first record that did not: its seq, tick, the input, the\n"
    "              expected and actual tick, hops, outputs, output hash and state,\n"
    "              and the outputs the replay produced for it (the journal keeps only\n"
    "              a digest of the expected ones); also an input this build refuses\n"
    "              (a stale effect id, a state that does not fit), exit 1\n"
    "  broken      the file or the directory cannot be replayed: the line (or\n"
    "              record) and the reason, nothing after it is applied, exit 2;\n"
    "              the whole journal is read even after a divergence, so a broken\n"
    "              file is always reported as broken\n"
    "\n"
    "Options:\n"
    "      --data DIR   read EXECUTION_ID's journal from the data directory DIR\n"
    "      --json       print one JSON object: {\"result\": \"match\", inputs, waves,\n"
    "                   state, compared, skipped} or {\"result\": \"divergence\", seq,\n"
    "                   line?, tick, input, record, expected, actual, outputs,\n"
    "                   error?} or\n"
    "                   {\"result\": \"broken\", line?, error}\n"
    "  -h, --help\n"
    "\n"
    "Exit status: 0 match, 1 divergence, 2 broken or missing journal, or usage.\n"
    "\n"
    "A journal of a running service: curl -s localhost:5006/api/executions/ID/journal\n"
    "> run.ndjson, then weir replay run.ndjson; or, with the service stopped,\n"
    "weir replay --data /var/lib/weir ID.\n"
    "\n"
    "Examples:\n"
    "  weir replay examples/accumulator-batch.ndjson\n"
    "  weir replay --json examples/accumulator-batch.ndjson\n";

static void help(FILE *f) { fputs(HELP, f); }

/* How a callback stops the read (positive: never a WEIR_E code). */
/* STOP_UNREADABLE: the source could not be opened or found at all (not a
 * broken journal: nothing was read). */
enum { STOP_DIVERGED = 1001, STOP_BROKEN = 1002, STOP_DONE = 1003, STOP_UNREADABLE = 1004 };

typedef struct replay {
    /* the execution, made from the START record */
    weir_registry *reg;
    weir_user_component **ucs;
    size_t n_ucs;
    weir_graph *g;
    weir_exec *e;
    const char *exec_id; /* --data's, else the START body's, else "replay" */
    char *owned_id;
    json_t *outputs; /* the output events of the record being applied */
    /* Output events cost (an object per output): they are built only for
     * record listen_at (-1: every record), and the read stops after it. */
    int64_t listen_at;
    /* progress */
    int64_t inputs, compared, skipped;
    bool told; /* the input being applied was told to the shell: accepted */
    bool diverged; /* the rest is read (a broken file is said so first), not applied */
    /* the verdict when not a match */
    int64_t seq;
    uint64_t line;
    int64_t tick;
    json_t *record; /* the diverging record's body */
    bool has_expected;
    weir_input_digest expected, actual;
    char why[WEIR_ERROR_MAX]; /* a refusal, a tick that differs, or what is broken */
} replay;

/* ------------------------------------------------------------ the shell */

static void no_effect(void *ud, weir_exec *e, const weir_effect *eff) {
    (void)ud, (void)e, (void)eff; /* its result is a later record */
}

static void on_event(void *ud, weir_exec *e, uint64_t seq, const char *name, json_t *data) {
    (void)e, (void)seq;
    replay *rp = ud;
    if (strcmp(name, "output") != 0) return;
    json_t *o = json_pack("{s:O,s:O,s:O}", "node", json_object_get(data, "nodeId"), "port",
                          json_object_get(data, "port"), "value", json_object_get(data, "value"));
    if (o) json_array_append_new(rp->outputs, o);
}

/* Told every input the core accepts: an error returned after it is an
 * outcome (an initialize that fails at start), one returned without it a
 * refusal. */
static int on_input(void *ud, weir_exec *e, const struct weir_input_rec *in, weir_error *err) {
    (void)e, (void)in, (void)err;
    ((replay *)ud)->told = true;
    return 0;
}

static const weir_shell NO_RUNTIME = {.effect = no_effect};

/* ------------------------------------------------------------ verdicts */

static int broken(replay *rp, const weir_jfile_rec *rec, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int broken(replay *rp, const weir_jfile_rec *rec, const char *fmt, ...) {
    char msg[WEIR_ERROR_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rp->seq = rec->r.seq;
    rp->line = rec->line;
    if (rec->line) snprintf(rp->why, sizeof rp->why, "line %llu: %s", (unsigned long long)rec->line, msg);
    else snprintf(rp->why, sizeof rp->why, "record %lld: %s", (long long)rec->r.seq, msg);
    return STOP_BROKEN;
}

static int diverged(replay *rp, const weir_jfile_rec *rec, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int diverged(replay *rp, const weir_jfile_rec *rec, const char *fmt, ...) {
    rp->seq = rec->r.seq;
    rp->line = rec->line;
    rp->tick = rec->r.tick;
    rp->record = json_incref(rec->r.body);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rp->why, sizeof rp->why, fmt, ap);
    va_end(ap);
    rp->diverged = true;
    return STOP_DIVERGED;
}

/* ------------------------------------------------------------ start */

static json_int_t opt_int(json_t *opts, const char *key, json_int_t dflt, bool *bad) {
    json_t *v = json_object_get(opts, key);
    if (!v) return dflt;
    if (!json_is_integer(v) || json_integer_value(v) < 0) *bad = true;
    return json_integer_value(v);
}

/* The execution the START record describes.  A body that is not one is a
 * broken journal; a graph or component this build does not take is a
 * divergence (the journal is sound: the build differs). */
static int set_up(replay *rp, const weir_jfile_rec *rec) {
    json_t *body = rec->r.body;
    json_t *graph = json_object_get(body, "graph"), *comps = json_object_get(body, "components");
    json_t *opts = json_object_get(body, "options"), *runtime = json_object_get(body, "runtime");
    json_t *gid = json_object_get(body, "graphId"), *xid = json_object_get(body, "executionId");
    json_t *zones = json_object_get(body, "zones");
    if (!json_is_object(graph))
        return broken(rp, rec, "the start record has no graph (\"graph\": the graph document)");
    if ((comps && !json_is_array(comps)) || (opts && !json_is_object(opts)) || (runtime && !json_is_string(runtime)) ||
        (gid && !json_is_string(gid)) || (xid && !json_is_string(xid)) || (zones && !json_is_object(zones)))
        return broken(rp, rec, "the start record's components must be an array, options and zones objects, "
                               "runtime, graphId and executionId strings");
    weir_error err;
    if (weir_registry_create(&rp->reg)) return broken(rp, rec, "out of memory");
    rp->ucs = calloc(json_array_size(comps) + 1, sizeof *rp->ucs);
    if (!rp->ucs) return broken(rp, rec, "out of memory");
    size_t i;
    json_t *def;
    json_array_foreach(comps, i, def) {
        weir_user_component *u;
        if (weir_user_component_create(def, &u, &err))
            return diverged(rp, rec, "user component %zu of the start record is refused by this build: %s", i + 1,
                            err.message);
        rp->ucs[rp->n_ucs++] = u;
        const weir_component *d = weir_user_component_descriptor(u);
        if (weir_registry_find(rp->reg, d->id)) weir_registry_remove(rp->reg, d->id); /* as the service does */
        if (weir_registry_add(rp->reg, d, &err))
            return diverged(rp, rec, "user component %s cannot be registered: %s",
                            weir_user_component_descriptor(u)->id, err.message);
    }
    weir_exec_options o = {.timeout_ms = -1,
                           .default_timeout_ms = 300000, /* DEFAULT_EXECUTION_TIMEOUT's default */
                           .max_wave_hops = WEIR_DEFAULT_MAX_WAVE_HOPS,
                           .max_trace_hops = WEIR_DEFAULT_MAX_TRACE_HOPS};
    if (opts && weir_exec_options_read(opts, "options", &o, NULL, &err))
        return broken(rp, rec, "the start record's %s", err.message);
    bool bad = false;
    o.default_timeout_ms = opt_int(opts, "defaultTimeoutMs", o.default_timeout_ms, &bad);
    o.max_queue = (size_t)opt_int(opts, "maxQueue", 0, &bad);
    o.max_wave_hops = (uint64_t)opt_int(opts, "maxWaveHops", (json_int_t)o.max_wave_hops, &bad);
    o.max_trace_hops = (uint64_t)opt_int(opts, "maxTraceHops", (json_int_t)o.max_trace_hops, &bad);
    weir_expr_limits expr = {(size_t)opt_int(opts, "exprMaxSteps", 0, &bad),
                             (size_t)opt_int(opts, "exprMaxBytes", 0, &bad)};
    if (bad)
        return broken(rp, rec, "the start record's defaultTimeoutMs, maxQueue, maxWaveHops, maxTraceHops, "
                               "exprMaxSteps and exprMaxBytes must be non-negative integers");
    json_t *problems = json_array();
    /* the time zones' bytes pinned in the record, never the machine's
     * files; a journal written before zones were pinned has none */
    weir_graph_options gopts = {.id = json_string_value(gid), .problems = problems, .expr = expr, .zones = zones,
                                .zone = zones ? NULL : weir_zone_files};
    int rc = weir_graph_load(rp->reg, graph, &gopts, &rp->g, &err);
    json_decref(problems);
    if (rc) return diverged(rp, rec, "the graph does not load under this build: %s", err.message);
    if (!rp->exec_id) rp->exec_id = xid ? json_string_value(xid) : "replay";
    if (!(rp->owned_id = strdup(rp->exec_id))) return broken(rp, rec, "out of memory");
    rp->exec_id = rp->owned_id;
    o.id = rp->exec_id;
    o.runtime = runtime ? json_string_value(runtime) : NULL;
    weir_shell sh = NO_RUNTIME;
    sh.ud = rp;
    sh.event = on_event;
    sh.input = on_input;
    if (weir_exec_create(rp->g, &o, &sh, &rp->e, &err))
        return diverged(rp, rec, "the execution cannot be created: %s", err.message);
    weir_exec_listen_mask(rp->e, rp->listen_at < 0 ? WEIR_EV_OUTPUT : 0);
    return 0;
}

/* An upgrade record's graph (it carries it as START does: the graph
 * document, the user components it uses, its graphId and expression
 * limits), loaded against the built-ins and those components.  NEW in
 * *out, or a divergence. */
static int upgrade_graph(replay *rp, const weir_jfile_rec *rec, weir_graph **out) {
    json_t *body = rec->r.body, *comps = json_object_get(body, "components"), *opts = json_object_get(body, "options");
    weir_registry *reg = NULL;
    weir_user_component **ucs = calloc(json_array_size(comps) + 1, sizeof *ucs);
    size_t n = 0, i;
    json_t *def;
    weir_error err = {0};
    int rc = !ucs || weir_registry_create(&reg) ? WEIR_ENOMEM : 0;
    if (rc) snprintf(err.message, sizeof err.message, "out of memory");
    json_array_foreach(comps, i, def) {
        if (rc) break;
        weir_user_component *u;
        if ((rc = weir_user_component_create(def, &u, &err))) break;
        ucs[n++] = u;
        const weir_component *d = weir_user_component_descriptor(u);
        if (weir_registry_find(reg, d->id)) weir_registry_remove(reg, d->id);
        rc = weir_registry_add(reg, d, &err);
    }
    bool bad = false;
    weir_expr_limits expr = {(size_t)opt_int(opts, "exprMaxSteps", 0, &bad),
                             (size_t)opt_int(opts, "exprMaxBytes", 0, &bad)};
    json_t *zones = json_object_get(body, "zones");
    weir_graph_options gopts = {.id = json_string_value(json_object_get(body, "graphId")), .expr = expr,
                                .zones = zones, .zone = zones ? NULL : weir_zone_files};
    if (!rc) rc = weir_graph_load(reg, json_object_get(body, "graph"), &gopts, out, &err);
    weir_registry_destroy(reg);
    for (size_t k = 0; k < n; k++) weir_user_component_unref(ucs[k]);
    free(ucs);
    if (rc) return diverged(rp, rec, "the upgrade's graph does not load under this build: %s", err.message);
    return 0;
}

/* ------------------------------------------------------------ records */

static int apply_record(replay *rp, const weir_jfile_rec *rec) {
    weir_error err;
    int rc;
    if (rec->r.seq == 1 && (rc = set_up(rp, rec))) return rc;
    /* the service's own records (its virtual clock): not inputs of the core */
    if (rec->r.kind == WEIR_JOURNAL_SCHEDULED) {
        rp->skipped++;
        return 0;
    }
    weir_input_rec in;
    if (weir_input_parse(rec->r.body, rec->r.time_ms, (uint64_t)rec->r.tick, &in, &err))
        return broken(rp, rec, "record %lld is not an input: %s", (long long)rec->r.seq, err.message);
    if (rec->r.seq == 1 && in.kind != WEIR_IN_START)
        return broken(rp, rec, "the start record's op is \"%s\", not \"start\"", weir_input_kind_name(in.kind));
    if (rec->digest && rec->digest_len != WEIR_JOURNAL_DIGEST_SIZE)
        return broken(rp, rec, "record %lld's digest has %zu bytes; this build reads digests of %d",
                      (long long)rec->r.seq, rec->digest_len, WEIR_JOURNAL_DIGEST_SIZE);
    if (rec->digest && weir_journal_digest_decode(rec->digest, &rp->expected))
        return broken(rp, rec, "record %lld's digest names no execution state", (long long)rec->r.seq);
    uint64_t before = weir_exec_tick(rp->e);
    if ((uint64_t)rec->r.tick != before)
        return diverged(rp, rec, "the journal has this input at tick %lld; the replay reached tick %llu before it",
                        (long long)rec->r.tick, (unsigned long long)before);
    if (rp->listen_at == rec->r.seq) weir_exec_listen_mask(rp->e, WEIR_EV_OUTPUT);
    json_array_clear(rp->outputs);
    rp->told = false;
    weir_graph *up = NULL;
    if (in.kind == WEIR_IN_UPGRADE && (rc = upgrade_graph(rp, rec, &up))) return rc;
    in.graph = up;
    rc = weir_exec_apply(rp->e, &in, &NO_RUNTIME, &rp->actual, &err);
    weir_graph_unref(up);
    rp->inputs++;
    if (rc && !rp->told) return diverged(rp, rec, "this build refuses the input: %s", err.message);
    if (!rec->digest) return 0;
    rp->compared++;
    const weir_input_digest *x = &rp->expected, *a = &rp->actual;
    if (x->tick != a->tick || x->hops != a->hops || x->outputs != a->outputs || x->hash != a->hash ||
        x->state != a->state) {
        rp->has_expected = true;
        return diverged(rp, rec, "it produced something else");
    }
    return 0;
}

/* After a divergence the rest of the journal is still read and verified,
 * not applied: a file that turns out broken is reported broken. */
static int on_record(void *ud, const weir_jfile_rec *rec) {
    replay *rp = ud;
    if (rp->listen_at > 0 && rec->r.seq > rp->listen_at) return STOP_DONE;
    if (rp->diverged) return 0;
    int rc = apply_record(rp, rec);
    return rc == STOP_DIVERGED ? 0 : rc;
}

/* ------------------------------------------------------------ reports */

/* What the input was, in words: inject into node "acc" port "in". */
static void describe(json_t *body, char *out, size_t cap) {
    weir_input_rec in;
    if (weir_input_parse(body, 0, 0, &in, NULL)) {
        snprintf(out, cap, "an input this build does not read");
        return;
    }
    switch (in.kind) {
    case WEIR_IN_INJECT: {
        char *v = json_dumps(in.value, JSON_COMPACT | JSON_ENCODE_ANY);
        char port[160] = "(its first input port)";
        if (in.port) snprintf(port, sizeof port, "port \"%.100s\"", in.port);
        snprintf(out, cap, "inject into node \"%.100s\" %s of %.200s%s", in.node, port, v ? v : "?",
                 v && strlen(v) > 200 ? "..." : "");
        free(v);
        break;
    }
    case WEIR_IN_RESOLVE:
        if (in.effect_kind == WEIR_EFFECT_TIMER && !in.error)
            snprintf(out, cap, "timer effect %llu fired", (unsigned long long)in.effect);
        else if (in.error)
            snprintf(out, cap, "%s effect %llu failed: %.200s", weir_effect_kind_name(in.effect_kind),
                     (unsigned long long)in.effect, in.error);
        else
            snprintf(out, cap, "the result of %s effect %llu", weir_effect_kind_name(in.effect_kind),
                     (unsigned long long)in.effect);
        break;
    case WEIR_IN_STEPPING:
        snprintf(out, cap, "stepping %s", in.on ? "on" : "off");
        break;
    case WEIR_IN_SWITCH:
        snprintf(out, cap, "runtime switch from %s to %s", in.from, in.to);
        break;
    default:
        snprintf(out, cap, "%s", weir_input_kind_name(in.kind));
    }
}

static json_t *digest_json(const weir_input_digest *d) {
    char hash[24];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)d->hash);
    return json_pack("{s:I,s:I,s:I,s:s,s:s}", "tick", (json_int_t)d->tick, "hops", (json_int_t)d->hops, "outputs",
                     (json_int_t)d->outputs, "outputHash", hash, "state", weir_state_name(d->state));
}

static const char NOTE[] = "the journal keeps only a digest of the expected outputs";

static void report_divergence(replay *rp, bool as_json) {
    char what[512];
    describe(rp->record, what, sizeof what);
    if (as_json) {
        json_t *o = json_pack("{s:s,s:I,s:I,s:s,s:O,s:O}", "result", "divergence", "seq", (json_int_t)rp->seq, "tick",
                              (json_int_t)rp->tick, "input", what, "record", rp->record, "outputs", rp->outputs);
        if (o && rp->line) json_object_set_new(o, "line", json_integer((json_int_t)rp->line));
        if (o && rp->has_expected) {
            json_object_set_new(o, "expected", digest_json(&rp->expected));
            json_object_set_new(o, "actual", digest_json(&rp->actual));
            json_object_set_new(o, "note", json_string(NOTE));
        } else if (o) {
            json_object_set_new(o, "error", json_string(rp->why));
        }
        cli_print_json(stdout, o, true);
        json_decref(o);
        return;
    }
    char where[64] = "";
    if (rp->line) snprintf(where, sizeof where, " (line %llu)", (unsigned long long)rp->line);
    printf("divergence at record %lld%s, tick %lld: %s\n", (long long)rp->seq, where, (long long)rp->tick, what);
    if (!rp->has_expected) {
        printf("  %s\n", rp->why);
        return;
    }
    const weir_input_digest *x = &rp->expected, *a = &rp->actual;
#define DIFF(f) (x->f != a->f ? "   <- differs" : "")
    printf("  %-12s %-20s %s\n", "", "expected", "actual");
    printf("  %-12s %-20llu %-20llu%s\n", "tick", (unsigned long long)x->tick, (unsigned long long)a->tick, DIFF(tick));
    printf("  %-12s %-20llu %-20llu%s\n", "hops", (unsigned long long)x->hops, (unsigned long long)a->hops, DIFF(hops));
    printf("  %-12s %-20llu %-20llu%s\n", "outputs", (unsigned long long)x->outputs, (unsigned long long)a->outputs,
           DIFF(outputs));
    printf("  %-12s %016llx     %016llx    %s\n", "output hash", (unsigned long long)x->hash,
           (unsigned long long)a->hash, DIFF(hash));
    printf("  %-12s %-20s %-20s%s\n", "state", weir_state_name(x->state), weir_state_name(a->state), DIFF(state));
#undef DIFF
    printf("outputs the replay produced for this record (%s):\n", NOTE);
    if (!json_array_size(rp->outputs)) printf("  (none)\n");
    size_t i;
    json_t *o;
    json_array_foreach(rp->outputs, i, o) {
        char *v = json_dumps(json_object_get(o, "value"), JSON_COMPACT | JSON_ENCODE_ANY);
        printf("  %s:%s %s\n", json_string_value(json_object_get(o, "node")),
               json_string_value(json_object_get(o, "port")), v ? v : "?");
        free(v);
    }
}

static void report_broken(const char *source, uint64_t line, const char *why, bool as_json) {
    if (as_json) {
        json_t *o = json_pack("{s:s,s:s}", "result", "broken", "error", why);
        if (o && line) json_object_set_new(o, "line", json_integer((json_int_t)line));
        cli_print_json(stdout, o, true);
        json_decref(o);
    }
    fprintf(stderr, "weir replay: %s: broken journal: %s\n", source, why);
}

/* ------------------------------------------------------------ sources */

/* The journal of exec_id in data directory dir: 0, or the error with
 * *why set.  The directory is never created. */
static int from_data(replay *rp, const char *dir, const char *exec_id, char *why, size_t cap) {
    char db[4096];
    struct stat sb;
    snprintf(db, sizeof db, "%s/weir.db", dir);
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(why, cap, "%s is not a directory", dir);
        return STOP_UNREADABLE;
    }
    if (stat(db, &sb) != 0) {
        snprintf(why, cap, "%s holds no weir data (no weir.db): is it a DATA_DIR?", dir);
        return STOP_UNREADABLE;
    }
    weir_store *st = NULL;
    weir_journal *j = NULL;
    weir_error err;
    int rc = weir_store_open(dir, &st, &err);
    if (!rc) rc = weir_journal_open(st, NULL, &j, &err);
    if (!rc) {
        weir_journal_fault fault;
        rc = weir_jfile_read_journal(j, exec_id, on_record, rp, &fault, &err);
        if (rc == WEIR_ENOTFOUND) {
            snprintf(why, cap, "no execution %s in %s (finished journals are deleted after JOURNAL_RETENTION)", exec_id, dir);
            rc = STOP_UNREADABLE;
        }
    }
    if (rc && rc != STOP_BROKEN && rc != STOP_DONE && rc != STOP_UNREADABLE) snprintf(why, cap, "%s", err.message);
    weir_journal_close(j);
    weir_store_close(st);
    return rc;
}

static int from_file(replay *rp, const char *path, uint64_t *line, char *why, size_t cap) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        snprintf(why, cap, "cannot open %s: %s", path, strerror(errno));
        return STOP_UNREADABLE;
    }
    weir_error err;
    int rc = weir_jfile_read_stream(f, on_record, rp, line, &err);
    if (rc && rc != STOP_BROKEN && rc != STOP_DONE) snprintf(why, cap, "%s", err.message);
    if (f != stdin) fclose(f);
    return rc;
}

static void replay_free(replay *rp) {
    weir_exec_destroy(rp->e);
    weir_graph_unref(rp->g);
    weir_registry_destroy(rp->reg);
    for (size_t i = 0; i < rp->n_ucs; i++) weir_user_component_unref(rp->ucs[i]);
    free(rp->ucs);
    free(rp->owned_id);
    json_decref(rp->record);
    json_decref(rp->outputs);
}

/* One pass over the journal: 0, a STOP_ code, or an error with why. */
static int run(replay *rp, const char *data, const char *source, uint64_t *line, char *why, size_t cap) {
    if (!(rp->outputs = json_array())) {
        snprintf(why, cap, "out of memory");
        return WEIR_ENOMEM;
    }
    if (!data) return from_file(rp, source, line, why, cap);
    rp->exec_id = source;
    return from_data(rp, data, source, why, cap);
}

int weir_cmd_replay(int argc, char **argv) {
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'}, {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0}};
    const char *data = NULL;
    bool as_json = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":d:jh", opts, NULL)) != -1) {
        if (c == 'd') data = optarg;
        else if (c == 'j') as_json = true;
        else if (c == 'h') {
            help(stdout);
            return EXIT_OK;
        } else return cli_option_error("replay", c, argc, argv, opts);
    }
    if (data && optind != argc - 1) return cli_usage_error("replay", "--data DIR takes one EXECUTION_ID");
    if (!data && optind != argc - 1) return cli_usage_error("replay", "expected one journal file (FILE.ndjson)");
    const char *source = argv[optind];
    char why[WEIR_ERROR_MAX] = "";
    uint64_t line = 0;
    /* stdin cannot be read twice: its outputs are collected as it goes */
    replay rp = {.listen_at = !data && strcmp(source, "-") == 0 ? -1 : 0};
    int rc = run(&rp, data, source, &line, why, sizeof why);
    if (!rc && rp.diverged && rp.has_expected && rp.listen_at == 0) {
        /* The outputs of the diverging record: the journal again up to it,
         * this time with its output events (the replay is deterministic). */
        replay again = {.listen_at = rp.seq};
        char why2[WEIR_ERROR_MAX];
        uint64_t line2;
        int rc2 = run(&again, data, source, &line2, why2, sizeof why2);
        if ((rc2 == 0 || rc2 == STOP_DONE) && again.diverged && again.seq == rp.seq) {
            json_decref(rp.outputs);
            rp.outputs = json_incref(again.outputs);
        }
        replay_free(&again);
    }
    int exit_code;
    if (!rc && rp.diverged) {
        report_divergence(&rp, as_json);
        exit_code = EXIT_FAILED;
    } else if (rc == STOP_UNREADABLE) {
        if (as_json) {
            json_t *o = json_pack("{s:s,s:s}", "result", "error", "error", why);
            cli_print_json(stdout, o, true);
            json_decref(o);
        }
        fprintf(stderr, "weir replay: %s\n", why);
        exit_code = EXIT_USAGE;
    } else if (rc == STOP_BROKEN) {
        report_broken(source, rp.line, rp.why, as_json);
        exit_code = EXIT_USAGE;
    } else if (rc) {
        report_broken(source, rc == WEIR_EINVAL ? line : 0, why, as_json);
        if (rp.diverged)
            fprintf(stderr, "weir replay: (record %lld had diverged before that; a broken journal is not judged)\n",
                    (long long)rp.seq);
        exit_code = EXIT_USAGE;
    } else {
        unsigned long long waves = (unsigned long long)weir_exec_tick(rp.e);
        if (as_json) {
            json_t *o = json_pack("{s:s,s:I,s:I,s:s,s:I,s:I}", "result", "match", "inputs", (json_int_t)rp.inputs,
                                  "waves", (json_int_t)waves, "state", weir_state_name(weir_exec_state(rp.e)),
                                  "compared", (json_int_t)rp.compared, "skipped", (json_int_t)rp.skipped);
            cli_print_json(stdout, o, true);
            json_decref(o);
        } else {
            printf("match (%lld inputs, %llu waves)\n", (long long)rp.inputs, waves);
        }
        exit_code = EXIT_OK;
    }
    replay_free(&rp);
    return exit_code;
}
