/* weir run --virtual: one execution on the virtual runtime (SPEC §4.5),
 * driven by a scenario file (timed injects, mocks, tick / advance / run /
 * step, checks on outputs) or by an interactive stepper.  Virtual time
 * starts at 0, so the same scenario prints the same thing every time. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "cli/virtual.h"

/* What a `run` plays at most without maxTicks. */
#define DEFAULT_RUN_TICKS 10000000ull
/* The most ticks (or steps) one scenario step or stepper command takes, one
 * by one. */
#define MAX_TICK_COUNT 1000000
/* Ticks a stepper `run` plays between looks at the keyboard. */
#define RUN_SLICE 1000

typedef struct vrun {
    const cli_virtual_args *a;
    uv_loop_t loop;    /* performs unmocked http for real */
    weir_realtime *rt;
    weir_virtual *v;
    weir_exec *e;
    FILE *out;       /* the narration (stderr with --json) */
    FILE *err;       /* errors */
    json_t *outputs; /* "node:port" → [values] */
    json_t *log;     /* --json: [{tick, output: "node:port", value}] */
    json_t *checks;  /* --json: [{check, ok, got?}] */
    bool verbose;    /* print every hop (stepper) */
    bool finished;
    unsigned passed, failed;
} vrun;

static char *dump(json_t *v) { return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT); }

static void on_event(void *ud, weir_exec *e, uint64_t seq, const char *name, json_t *data) {
    (void)e;
    (void)seq;
    vrun *r = ud;
    if (strcmp(name, "output") == 0) {
        char key[512];
        snprintf(key, sizeof key, "%s:%s", json_string_value(json_object_get(data, "nodeId")),
                 json_string_value(json_object_get(data, "port")));
        json_t *list = json_object_get(r->outputs, key);
        if (!list) json_object_set_new(r->outputs, key, list = json_array());
        json_array_append(list, json_object_get(data, "value"));
        if (r->log)
            json_array_append_new(r->log, json_pack("{s:I,s:s,s:O}", "tick", (json_int_t)weir_virtual_ticks(r->v),
                                                    "output", key, "value", json_object_get(data, "value")));
        char *v = dump(json_object_get(data, "value"));
        fprintf(r->out, "  [tick %llu] output %s %s\n", (unsigned long long)weir_virtual_ticks(r->v), key, v ? v : "?");
        free(v);
    } else if (strcmp(name, "log") == 0) {
        fprintf(r->out, "  [tick %llu] log %s %s: %s\n", (unsigned long long)weir_virtual_ticks(r->v),
                json_string_value(json_object_get(data, "level")), json_string_value(json_object_get(data, "nodeId")),
                json_string_value(json_object_get(data, "message")));
    } else if (r->verbose && strcmp(name, "port:emit") == 0) {
        char *v = dump(json_object_get(data, "value"));
        fprintf(r->out, "      %s:%s → %s:%s %s\n", json_string_value(json_object_get(data, "sourceNode")),
                json_string_value(json_object_get(data, "sourcePort")),
                json_string_value(json_object_get(data, "targetNode")),
                json_string_value(json_object_get(data, "targetPort")), v ? v : "?");
        free(v);
    } else if (strcmp(name, "component:error") == 0) {
        char *v = dump(json_object_get(data, "error"));
        fprintf(r->out, "  [tick %llu] error in %s: %s\n", (unsigned long long)weir_virtual_ticks(r->v),
                json_string_value(json_object_get(data, "nodeId")), v ? v : "?");
        free(v);
    }
}

static void on_finished(void *ud, weir_exec *e) {
    vrun *r = ud;
    r->finished = true;
    fprintf(r->out, "  [tick %llu] execution %s\n", (unsigned long long)weir_virtual_ticks(r->v),
            weir_state_name(weir_exec_state(e)));
}

/* ------------------------------------------------------------- commands */

static int fail(vrun *r, const char *where, const weir_error *err) {
    fprintf(r->err, "weir run: %s%s%s\n", where ? where : "", where ? ": " : "", err->message);
    return err->code == WEIR_EINVAL || err->code == WEIR_ENOTFOUND ? EXIT_USAGE : EXIT_FAILED;
}

static int inject_now_or_at(vrun *r, const char *node, const char *port, json_t *value, int64_t at_tick,
                            const char *where) {
    weir_inject in = {.node = node, .port = port, .value = value};
    weir_error err;
    int rc = weir_exec_check_inject(r->e, &in, &err);
    if (!rc && at_tick > 0) rc = weir_virtual_schedule(r->v, &in, (uint64_t)at_tick, &err);
    else if (!rc) rc = weir_exec_inject(r->e, &in, weir_virtual_now(r->v), NULL, &err);
    if (rc) return fail(r, where, &err);
    char *v = dump(value);
    if (at_tick > 0)
        fprintf(r->out, "[tick %llu] inject %s%s%s %s at tick %lld\n", (unsigned long long)weir_virtual_ticks(r->v),
                node, port ? ":" : "", port ? port : "", v ? v : "?", (long long)at_tick);
    else
        fprintf(r->out, "[tick %llu] inject %s%s%s %s\n", (unsigned long long)weir_virtual_ticks(r->v), node,
                port ? ":" : "", port ? port : "", v ? v : "?");
    free(v);
    return 0;
}

static void say_step(vrun *r, const weir_step *st) {
    fprintf(r->out, "[tick %llu] wave %llu: %s %s%s%s%s\n", (unsigned long long)weir_virtual_ticks(r->v),
            (unsigned long long)st->tick, st->resumed ? "resume" : "invoke", st->node,
            st->port && !st->resumed ? " ← " : "", st->port && !st->resumed ? st->port : "",
            st->wave_done ? "  (wave done)" : "");
}

/* Let real http answers that came back in meanwhile reach the runtime
 * (the next tick delivers them). */
static void pump(vrun *r) { uv_run(&r->loop, UV_RUN_NOWAIT); }

/* One node invocation; *stepped false when nothing was left.  What it
 * emits is told after the node it ran. */
static int do_step(vrun *r, bool *stepped, const char *where) {
    pump(r);
    weir_step st;
    weir_error err;
    FILE *out = r->out;
    char *told = NULL;
    size_t told_len = 0;
    FILE *buf = open_memstream(&told, &told_len);
    if (buf) r->out = buf;
    r->verbose = true; /* every hop it emits */
    int rc = weir_virtual_step(r->v, &st, &err);
    r->verbose = false;
    r->out = out;
    if (buf) fclose(buf);
    if (!rc && st.stepped) say_step(r, &st);
    if (told) fputs(told, out);
    free(told);
    if (rc) return fail(r, where, &err);
    *stepped = st.stepped;
    return 0;
}

/* Is a line waiting on stdin (a terminal's pause)? */
static bool key_waiting(void) {
    struct pollfd p = {.fd = 0, .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* n ticks fit in what is left of the clock's range; else refused (said as
 * weir_virtual_tick says it), before anything moves. */
static int ticks_fit(vrun *r, uint64_t n, const char *where) {
    uint64_t room = weir_virtual_max_tick(r->v) - weir_virtual_ticks(r->v);
    if (n <= room) return 0;
    weir_error err = {WEIR_EINVAL, ""};
    snprintf(err.message, sizeof err.message,
             "tick %llu: past the end of the virtual clock's range; the clock is at tick %llu and can move %llu more "
             "ticks",
             (unsigned long long)n, (unsigned long long)weir_virtual_ticks(r->v), (unsigned long long)room);
    return fail(r, where, &err);
}

/* Play up to max ticks (0: DEFAULT_RUN_TICKS, or to the end of the clock's
 * range if that is nearer); a max past the end is refused before anything
 * moves. */
static int do_run(vrun *r, uint64_t max, bool interruptible, const char *where) {
    uint64_t room = weir_virtual_max_tick(r->v) - weir_virtual_ticks(r->v);
    if (max > room) {
        weir_error err = {WEIR_EINVAL, ""};
        snprintf(err.message, sizeof err.message,
                 "run maxTicks %llu: past the end of the virtual clock's range; the clock is at tick %llu and can "
                 "move %llu more ticks",
                 (unsigned long long)max, (unsigned long long)weir_virtual_ticks(r->v), (unsigned long long)room);
        return fail(r, where, &err);
    }
    if (!max) max = room < DEFAULT_RUN_TICKS ? room : DEFAULT_RUN_TICKS;
    uint64_t from = weir_virtual_ticks(r->v), left = max;
    bool idle = false;
    const char *why = "idle";
    while (!r->finished) {
        uint64_t slice = interruptible && left > RUN_SLICE ? RUN_SLICE : left;
        uint64_t before = weir_virtual_ticks(r->v);
        weir_error err;
        if (weir_virtual_run(r->v, slice, &idle, &err)) return fail(r, where, &err);
        uint64_t played = weir_virtual_ticks(r->v) - before;
        left -= played < left ? played : left;
        if (idle) break;
        if (played == 0 && weir_virtual_inflight(r->v) > 0) {
            uv_run(&r->loop, UV_RUN_ONCE); /* time waits for real answers */
            continue;
        }
        if (played == 0) { /* never spin: nothing more would move */
            why = "nothing left to play";
            break;
        }
        if (left == 0) {
            why = "maxTicks";
            break;
        }
        if (interruptible && key_waiting()) {
            why = "pause";
            break;
        }
    }
    if (r->finished) why = weir_state_name(weir_exec_state(r->e));
    fprintf(r->out, "[tick %llu] run played %llu ticks: %s\n", (unsigned long long)weir_virtual_ticks(r->v),
            (unsigned long long)(weir_virtual_ticks(r->v) - from), why);
    return 0;
}

/* --------------------------------------------------------------- checks */

static void check(vrun *r, bool ok, json_t *spec, const char *got_fmt, const char *got) {
    char *s = dump(spec);
    if (ok) r->passed++;
    else r->failed++;
    fprintf(r->out, "%s expect %s%s", ok ? "✓" : "✗", s ? s : "?", ok ? "\n" : "");
    if (!ok) {
        fputs(": got ", r->out);
        fprintf(r->out, got_fmt, got);
        fputc('\n', r->out);
    }
    if (r->checks) json_array_append_new(r->checks, json_pack("{s:O,s:b,s:s?}", "expect", spec, "ok", ok, "got", got));
    free(s);
}

static int do_expect(vrun *r, json_t *spec, const char *where) {
    const char *output = json_string_value(json_object_get(spec, "output"));
    json_t *count = json_object_get(spec, "count"), *value = json_object_get(spec, "value");
    json_t *values = json_object_get(spec, "values"), *state = json_object_get(spec, "state");
    json_t *tick = json_object_get(spec, "tick");
    char got[4096];
    if (output) {
        json_t *list = json_object_get(r->outputs, output);
        size_t n = json_array_size(list);
        if (json_is_integer(count)) {
            snprintf(got, sizeof got, "%zu", n);
            check(r, (json_int_t)n == json_integer_value(count), spec, "%s", got);
        }
        if (value) {
            json_t *lastv = n ? json_array_get(list, n - 1) : NULL;
            char *s = lastv ? dump(lastv) : NULL;
            snprintf(got, sizeof got, "%s", s ? s : "no output");
            free(s);
            check(r, lastv && json_equal(lastv, value), spec, "%s", got);
        }
        if (values) {
            char *s = list ? dump(list) : NULL; /* no output yet: [] */
            snprintf(got, sizeof got, "%s", s ? s : "[]");
            free(s);
            check(r, json_equal(list ? list : values, values) && (list || json_array_size(values) == 0), spec, "%s",
                  got);
        }
        if (!json_is_integer(count) && !value && !values) {
            fprintf(r->err, "weir run: %s: an output check needs count, value or values\n", where);
            return EXIT_USAGE;
        }
        return 0;
    }
    if (json_is_string(state)) {
        const char *now = weir_state_name(weir_exec_state(r->e));
        check(r, strcmp(now, json_string_value(state)) == 0, spec, "%s", now);
        return 0;
    }
    if (json_is_integer(tick)) {
        snprintf(got, sizeof got, "%llu", (unsigned long long)weir_virtual_ticks(r->v));
        check(r, (json_int_t)weir_virtual_ticks(r->v) == json_integer_value(tick), spec, "%s", got);
        return 0;
    }
    fprintf(r->err,
            "weir run: %s: expect takes {output: \"node:port\", count | value | values}, {state: \"...\"} or "
            "{tick: n}\n",
            where);
    return EXIT_USAGE;
}

/* ------------------------------------------------------------- scenario */

/* A positive integer field of a step (dflt when absent); -1 when bad. */
static int64_t positive(json_t *v, int64_t dflt) {
    if (!v || json_is_true(v) || json_is_null(v)) return dflt;
    return json_is_integer(v) && json_integer_value(v) >= 1 ? json_integer_value(v) : -1;
}

/* Read mocks: an array, or a file name relative to the scenario's folder. */
static json_t *load_mocks(json_t *m, const char *base) {
    if (!json_is_string(m)) return json_incref(m);
    const char *name = json_string_value(m);
    char path[4096];
    const char *slash = base ? strrchr(base, '/') : NULL;
    if (name[0] != '/' && slash) snprintf(path, sizeof path, "%.*s/%s", (int)(slash - base), base, name);
    else snprintf(path, sizeof path, "%s", name);
    return cli_load_doc(path);
}

static int run_step(vrun *r, json_t *step, size_t i) {
    char where[64];
    snprintf(where, sizeof where, "steps[%zu]", i);
    const char *note = json_string_value(json_object_get(step, "note"));
    if (note) fprintf(r->out, "# %s\n", note);
    json_t *v;
    if ((v = json_object_get(step, "inject"))) {
        const char *node = json_string_value(json_object_get(v, "nodeId"));
        json_t *value = json_object_get(v, "value");
        json_t *at = json_object_get(v, "atTick"), *after = json_object_get(v, "afterTicks");
        bool bad_after = after && (!json_is_integer(after) || json_integer_value(after) < 0);
        if (!node || !value || (at && positive(at, 0) < 0) || bad_after) {
            fprintf(r->err, "weir run: %s: inject takes {nodeId, port?, value, atTick? | afterTicks?}\n", where);
            return EXIT_USAGE;
        }
        uint64_t room = weir_virtual_max_tick(r->v) - weir_virtual_ticks(r->v);
        uint64_t ahead = after ? (uint64_t)json_integer_value(after) : 0;
        if (after && (ahead ? ahead : 1) > room) {
            fprintf(r->err,
                    "weir run: %s: inject afterTicks %llu: past the end of the virtual clock's range; the clock is at "
                    "tick %llu and can move %llu more ticks\n",
                    where, (unsigned long long)ahead, (unsigned long long)weir_virtual_ticks(r->v),
                    (unsigned long long)room);
            return EXIT_USAGE;
        }
        /* atTick past the range: weir_virtual_schedule refuses it */
        int64_t tick = at ? json_integer_value(at) : after ? (int64_t)weir_virtual_tick_after(r->v, ahead) : 0;
        return inject_now_or_at(r, node, json_string_value(json_object_get(v, "port")), value, tick, where);
    }
    if ((v = json_object_get(step, "mocks"))) {
        json_t *m = load_mocks(v, r->a->scenario);
        weir_error err;
        int rc = m ? weir_virtual_set_mocks(r->v, m, &err) : EXIT_USAGE;
        json_decref(m);
        if (rc && m) return fail(r, where, &err);
        if (rc) return rc;
        fprintf(r->out, "[tick %llu] mocks replaced\n", (unsigned long long)weir_virtual_ticks(r->v));
        return 0;
    }
    if ((v = json_object_get(step, "tick"))) {
        int64_t n = positive(v, 1);
        if (n < 0 || n > MAX_TICK_COUNT) {
            fprintf(r->err, "weir run: %s: tick takes a count from 1 to %d (or true for one); advance moves further "
                            "at no cost\n",
                    where, MAX_TICK_COUNT);
            return EXIT_USAGE;
        }
        int rc = ticks_fit(r, (uint64_t)n, where);
        if (rc) return rc;
        for (int64_t k = 0; k < n && !r->finished; k++) {
            weir_error err;
            pump(r);
            if (weir_virtual_tick(r->v, &err)) return fail(r, where, &err);
        }
        fprintf(r->out, "[tick %llu] ticked %lld\n", (unsigned long long)weir_virtual_ticks(r->v), (long long)n);
        return 0;
    }
    if ((v = json_object_get(step, "advance"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            fprintf(r->err, "weir run: %s: advance takes milliseconds (a non-negative integer)\n", where);
            return EXIT_USAGE;
        }
        weir_error err;
        pump(r);
        if (weir_virtual_advance(r->v, json_integer_value(v), &err)) return fail(r, where, &err);
        fprintf(r->out, "[tick %llu] advanced %lld ms\n", (unsigned long long)weir_virtual_ticks(r->v),
                (long long)json_integer_value(v));
        return 0;
    }
    if ((v = json_object_get(step, "run"))) {
        json_t *max = json_is_object(v) ? json_object_get(v, "maxTicks") : NULL;
        int64_t n = max ? positive(max, 0) : 0;
        if (n < 0 || !(json_is_object(v) || json_is_true(v))) {
            fprintf(r->err, "weir run: %s: run takes true or {maxTicks: n}\n", where);
            return EXIT_USAGE;
        }
        return do_run(r, (uint64_t)n, false, where);
    }
    if ((v = json_object_get(step, "step"))) {
        int64_t n = positive(v, 1);
        if (n < 0 || n > MAX_TICK_COUNT) {
            fprintf(r->err, "weir run: %s: step takes a count from 1 to %d (or true for one)\n", where,
                    MAX_TICK_COUNT);
            return EXIT_USAGE;
        }
        for (int64_t k = 0; k < n; k++) {
            bool stepped;
            int rc = do_step(r, &stepped, where);
            if (rc) return rc;
            if (!stepped) {
                fprintf(r->out, "[tick %llu] nothing left to step\n", (unsigned long long)weir_virtual_ticks(r->v));
                break;
            }
        }
        return 0;
    }
    if ((v = json_object_get(step, "expect"))) {
        if (!json_is_object(v)) {
            fprintf(r->err, "weir run: %s: expect takes an object\n", where);
            return EXIT_USAGE;
        }
        return do_expect(r, v, where);
    }
    if (note && json_object_size(step) == 1) return 0;
    char *s = dump(step);
    fprintf(r->err,
            "weir run: %s: unknown step %s; a step is one of inject, mocks, tick, advance, run, step, expect "
            "(each may carry a note)\n",
            where, s ? s : "?");
    free(s);
    return EXIT_USAGE;
}

static int play_scenario(vrun *r, json_t *sc) {
    json_t *steps = json_object_get(sc, "steps");
    if (!json_is_array(steps)) {
        fprintf(r->err, "weir run: %s: a scenario is {name?, tickMs?, mocks?, world?, options?, steps: [...]}\n",
                r->a->scenario ? r->a->scenario : "scenario");
        return EXIT_USAGE;
    }
    const char *name = json_string_value(json_object_get(sc, "name"));
    fprintf(r->out, "scenario %s: %zu steps\n", name ? name : r->a->scenario ? r->a->scenario : "(unnamed)",
            json_array_size(steps));
    size_t i;
    json_t *step;
    json_array_foreach(steps, i, step) {
        if (!json_is_object(step)) {
            fprintf(r->err, "weir run: steps[%zu] must be an object\n", i);
            return EXIT_USAGE;
        }
        int rc = run_step(r, step, i);
        if (rc) return rc;
    }
    return 0;
}

/* -------------------------------------------------------------- stepper */

static const char STEPPER_HELP[] = "  n, next          one node invocation (Enter does the same)\n"
                                   "  t, tick [N]      N ticks (1)\n"
                                   "  a, advance MS    move the clock MS milliseconds\n"
                                   "  r, run [MAX]     play until idle (a line typed on the terminal pauses)\n"
                                   "  i, inject NODE[:PORT]=JSON\n"
                                   "  s, status        the clock, what waits, the outputs so far\n"
                                   "  q, quit\n";

static void status(vrun *r) {
    char *o = dump(r->outputs);
    fprintf(r->out, "tick %llu (%lld ms), %zu pending, %zu scheduled, execution %s%s\noutputs %s\n",
            (unsigned long long)weir_virtual_ticks(r->v), (long long)weir_virtual_now(r->v),
            weir_virtual_pending(r->v), weir_virtual_scheduled(r->v), weir_state_name(weir_exec_state(r->e)),
            weir_exec_wave_open(r->e) ? ", a wave is open" : "", o ? o : "{}");
    free(o);
}

static int stepper(vrun *r) {
    bool tty = isatty(0) == 1;
    fprintf(r->out, "weir stepper: virtual time, one node invocation at a time. h for help.\n");
    weir_exec_stepping(r->e, true, weir_virtual_now(r->v));
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    for (;;) {
        if (tty) {
            fprintf(r->err, "weir[%llu]> ", (unsigned long long)weir_virtual_ticks(r->v));
            fflush(stderr);
        }
        if (getline(&line, &cap, stdin) < 0) break;
        line[strcspn(line, "\r\n")] = '\0';
        char *cmd = line + strspn(line, " \t"), *arg = cmd + strcspn(cmd, " \t");
        if (*arg) *arg++ = '\0';
        arg += strspn(arg, " \t");
        rc = 0;
        if (!*cmd || !strcmp(cmd, "n") || !strcmp(cmd, "next")) {
            bool stepped;
            rc = do_step(r, &stepped, NULL);
            if (!rc && !stepped) fprintf(r->out, "nothing left to step: idle\n");
        } else if (!strcmp(cmd, "t") || !strcmp(cmd, "tick")) {
            long long n = *arg ? atoll(arg) : 1;
            if (n < 1 || n > MAX_TICK_COUNT) {
                fprintf(r->out, "tick takes a count from 1 to %d\n", MAX_TICK_COUNT);
                n = 0;
            }
            if (n >= 1) rc = ticks_fit(r, (uint64_t)n, NULL);
            if (rc) n = 0;
            for (long long k = 0; k < n && !rc && !r->finished; k++) {
                weir_error err;
                pump(r);
                if (weir_virtual_tick(r->v, &err)) rc = fail(r, NULL, &err);
            }
            if (!rc && n >= 1) status(r);
        } else if (!strcmp(cmd, "a") || !strcmp(cmd, "advance")) {
            char *end;
            long long ms = strtoll(arg, &end, 10);
            weir_error err;
            pump(r);
            if (!*arg || *end || ms < 0) fprintf(r->out, "advance takes milliseconds\n");
            else if (weir_virtual_advance(r->v, ms, &err)) rc = fail(r, NULL, &err);
            else status(r);
        } else if (!strcmp(cmd, "r") || !strcmp(cmd, "run")) {
            long long max = *arg ? strtoll(arg, NULL, 10) : 0;
            rc = do_run(r, max > 0 ? (uint64_t)max : 0, tty, NULL);
            if (tty && key_waiting() && getline(&line, &cap, stdin) < 0) break; /* the pausing line */
        } else if (!strcmp(cmd, "i") || !strcmp(cmd, "inject")) {
            char *node, *port, why[1024];
            json_t *value;
            if (cli_parse_inject(arg, NULL, &node, &port, &value, why, sizeof why)) {
                fprintf(r->out, "%s\n", why);
            } else {
                rc = inject_now_or_at(r, node, port, value, 0, NULL);
                free(node);
                free(port);
                json_decref(value);
            }
        } else if (!strcmp(cmd, "s") || !strcmp(cmd, "status")) {
            status(r);
        } else if (!strcmp(cmd, "p") || !strcmp(cmd, "pause")) {
            fprintf(r->out, "not playing (pause stops a run: type a line while it plays)\n");
        } else if (!strcmp(cmd, "q") || !strcmp(cmd, "quit")) {
            break;
        } else if (!strcmp(cmd, "h") || !strcmp(cmd, "help") || !strcmp(cmd, "?")) {
            fputs(STEPPER_HELP, r->out);
        } else {
            fprintf(r->out, "unknown command '%s'\n%s", cmd, STEPPER_HELP);
        }
        if (rc == EXIT_FAILED) break; /* usage slips are said and forgiven */
        rc = 0;
        fflush(r->out);
    }
    free(line);
    return rc;
}

/* ------------------------------------------------------------------ main */

int weir_cli_run_virtual(const cli_virtual_args *a) {
    FILE *const errf = a->err ? a->err : stderr;
    const char *name = a->scenario ? a->scenario : "scenario";
    int rc = 0;
    json_t *sc = json_incref(a->scenario_doc), *mocks = NULL;
    if (!sc && a->scenario && !(sc = cli_load_doc(a->scenario))) return EXIT_USAGE;
    if (sc && !json_is_object(sc)) {
        fprintf(errf, "weir run: %s: a scenario is {name?, tickMs?, mocks?, world?, options?, steps: [...]}\n", name);
        json_decref(sc);
        return EXIT_USAGE;
    }
    int64_t tick_ms = a->tick_ms;
    json_t *t = json_object_get(sc, "tickMs");
    if (t && positive(t, 1) < 0) {
        fprintf(errf, "weir run: %s: tickMs must be a positive integer\n", name);
        json_decref(sc);
        return EXIT_USAGE;
    }
    if (t) tick_ms = json_integer_value(t);
    if (a->mocks) mocks = cli_load_doc(a->mocks);
    else if (json_object_get(sc, "mocks")) mocks = load_mocks(json_object_get(sc, "mocks"), a->scenario);
    if ((a->mocks || json_object_get(sc, "mocks")) && !mocks) {
        json_decref(sc);
        return EXIT_USAGE;
    }
    vrun r = {.a = a, .out = a->out ? a->out : a->json ? stderr : stdout, .err = errf, .outputs = json_object()};
    if (a->json) {
        r.log = json_array();
        r.checks = json_array();
    }
    uv_loop_init(&r.loop);
    const char *allow = getenv("EGRESS_ALLOW_PRIVATE");
    weir_realtime_options ro = {.allow_private = a->allow_private || (allow && strcmp(allow, "true") == 0),
                                .allowlist = getenv("EGRESS_ALLOWLIST")};
    weir_error err;
    if (weir_realtime_create(&r.loop, &ro, &r.rt)) {
        fprintf(errf, "weir run: cannot start the event loop for http\n");
        rc = EXIT_FAILED;
        goto out;
    }
    weir_virtual_options vo = {.tick_ms = tick_ms, .mocks = mocks, .world = json_object_get(sc, "world"), .http = r.rt};
    if (weir_virtual_create(&vo, &r.v, &err)) {
        rc = fail(&r, a->mocks ? a->mocks : a->scenario, &err);
        goto out;
    }
    weir_shell sh = {0};
    weir_virtual_shell(r.v, &sh);
    sh.ud = &r;
    sh.event = on_event;
    sh.finished = on_finished;
    weir_exec_options eo = {.id = "run", .timeout_ms = -1, .runtime = "virtual", .max_wave_hops = a->max_wave_hops};
    json_t *problems = json_array();
    if (weir_exec_options_read(json_object_get(sc, "options"), "options", &eo, problems, &err)) {
        fprintf(errf, "weir run: %s: %s\n", name, err.message);
        json_decref(problems);
        rc = EXIT_USAGE;
        goto out;
    }
    json_decref(problems);
    if (weir_exec_create(a->g, &eo, &sh, &r.e, &err)) {
        rc = fail(&r, NULL, &err);
        goto out;
    }
    weir_virtual_bind(r.v, r.e);
    if (weir_exec_start(r.e, weir_virtual_now(r.v), &err)) {
        rc = fail(&r, NULL, &err);
        goto out;
    }
    if (a->step) weir_exec_stepping(r.e, true, weir_virtual_now(r.v)); /* --inject values are stepped too */
    for (size_t i = 0; i < a->n_injects && !rc; i++) {
        char *node, *port, why[1024];
        json_t *value;
        if (cli_parse_inject(a->injects[i], "--inject", &node, &port, &value, why, sizeof why)) {
            fprintf(errf, "weir run: %s\n", why);
            rc = EXIT_USAGE;
            break;
        }
        rc = inject_now_or_at(&r, node, port, value, 0, NULL);
        free(node);
        free(port);
        json_decref(value);
    }
    if (!rc && sc) rc = play_scenario(&r, sc);
    else if (!rc && a->step) rc = stepper(&r);
    else if (!rc) rc = do_run(&r, 0, false, NULL);
    if (rc) goto out;
    const char *st = weir_state_name(weir_exec_state(r.e));
    if (a->json) {
        json_t *doc = json_pack("{s:s,s:I,s:I,s:O,s:O,s:O,s:I,s:I}", "state", st, "tick",
                                (json_int_t)weir_virtual_ticks(r.v), "time", (json_int_t)weir_virtual_now(r.v),
                                "outputs", r.outputs, "log", r.log, "checks", r.checks, "passed", (json_int_t)r.passed,
                                "failed", (json_int_t)r.failed);
        if (weir_exec_error(r.e)) json_object_set(doc, "error", weir_exec_error(r.e));
        cli_print_json(stdout, doc, true);
        json_decref(doc);
    } else {
        fprintf(r.out, "state: %s at tick %llu (%lld ms)\n", st, (unsigned long long)weir_virtual_ticks(r.v),
                (long long)weir_virtual_now(r.v));
        if (r.passed + r.failed)
            fprintf(r.out, "checks: %u passed, %u failed\n", r.passed, r.failed);
    }
    if (r.failed || weir_exec_state(r.e) == WEIR_STATE_FAILED) rc = EXIT_FAILED;
out:
    weir_exec_destroy(r.e);
    weir_virtual_destroy(r.v);
    weir_realtime_destroy(r.rt);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    uv_loop_close(&r.loop);
    json_decref(r.outputs);
    json_decref(r.log);
    json_decref(r.checks);
    json_decref(mocks);
    json_decref(sc);
    return rc;
}
