/*
 * weir sim: the scenario (SPEC §7.4), read and compiled once per worker.
 *
 *   {name?, description?, tickMs?, options?, world?: {...},
 *    mocks: [{match: {method?, url?}, response?: {status?, headers?, body?},
 *             latencyMs?: n | [min, max], fail?: p, timeout?: p,
 *             set?: {...}, when?: "<expression over world, request>"}],
 *    steps: [{inject: {nodeId, port?, value, atTick?: t | [from, to],
 *                      afterTicks?: n | [from, to]}} | {advance: ms} |
 *            {tick: n} | {run: ...} | {note: "..."}],
 *    invariants: [{name, expression, at?: "wave" | "end"}],
 *    userCalls?: {latencyMs?: n | [min, max], fail?: p}}
 *
 * `mocks` must be inlined by the caller (the command line reads a file
 * name).  advance and tick move the point the next inject's afterTicks
 * counts from (and where an inject without a time goes); run is where the
 * simulation plays, and is otherwise ignored.  Every error names the field
 * and what it takes.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/error.h"
#include "runtime/sim_int.h"

uint64_t weir__sim_fnv(const char *s, uint64_t h) {
    for (; s && *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* ------------------------------------------------------------ expressions */

/* ------------------------------------------------------------ checks */

static char *dup_or_null(const char *s) { return s ? weir__strdup(s) : (char *)NULL; }

static const char *const INV_NAMES[] = {"tick", "wave", "world", "outputs", "state", "finished", "pending"};

static int load_steps(weir__sim *s, json_t *steps, weir_error *err) {
    static const char *const inject_keys[] = {"nodeId", "port", "value", "atTick", "afterTicks", NULL};
    if (!json_is_array(steps))
        return weir__scn_bad(err, "steps must be an array of {inject: {nodeId, value, atTick?: t | [from, to]}} (and advance, "
                        "tick, run, note)");
    s->injects = weir__calloc(json_array_size(steps) + 1, sizeof *s->injects);
    if (!s->injects) return weir__error(err, WEIR_ENOMEM, "out of memory");
    uint64_t cursor = 0; /* where advance and tick have moved to */
    size_t i;
    json_t *st;
    json_array_foreach(steps, i, st) {
        char where[64];
        snprintf(where, sizeof where, "steps[%zu]", i);
        if (!json_is_object(st)) return weir__scn_bad(err, "%s must be an object", where);
        json_t *v;
        if ((v = json_object_get(st, "inject"))) {
            char w2[96];
            snprintf(w2, sizeof w2, "%s.inject", where);
            if (!json_is_object(v)) return weir__scn_bad(err, "%s must be {nodeId, port?, value, atTick? | afterTicks?}", w2);
            int rc = weir__scn_keys_only(v, w2, inject_keys, "an inject takes nodeId, port, value, atTick, afterTicks", err);
            if (rc) return rc;
            json_t *node = json_object_get(v, "nodeId"), *port = json_object_get(v, "port");
            json_t *value = json_object_get(v, "value");
            json_t *at = json_object_get(v, "atTick"), *after = json_object_get(v, "afterTicks");
            if (!json_is_string(node)) return weir__scn_bad(err, "%s.nodeId must be a node id (a string)", w2);
            if (port && !json_is_string(port)) return weir__scn_bad(err, "%s.port must be a port name (a string)", w2);
            if (!value) return weir__scn_bad(err, "%s.value is missing: the value to inject", w2);
            if (at && after) return weir__scn_bad(err, "%s: give atTick or afterTicks, not both", w2);
            int64_t lo = 0, hi = 0;
            char w3[128];
            snprintf(w3, sizeof w3, "%s.%s", w2, at ? "atTick" : "afterTicks");
            if ((at || after) && (rc = weir__scn_range(at ? at : after, w3, "ticks", &lo, &hi, err))) return rc;
            sim_inject *in = &s->injects[s->n_injects++];
            in->from = (uint64_t)lo + (at ? 0 : cursor);
            in->to = (uint64_t)hi + (at ? 0 : cursor);
            in->node = weir__strdup(json_string_value(node));
            in->port = dup_or_null(json_string_value(port));
            in->value = json_incref(value);
            if (!in->node || (port && !in->port)) return weir__error(err, WEIR_ENOMEM, "out of memory");
        } else if ((v = json_object_get(st, "advance"))) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > WEIR_SIM_MAX_MS)
                return weir__scn_bad(err, "%s.advance takes milliseconds (0..%d)", where, WEIR_SIM_MAX_MS);
            cursor += ((uint64_t)json_integer_value(v) + (uint64_t)s->tick_ms - 1) / (uint64_t)s->tick_ms;
        } else if ((v = json_object_get(st, "tick"))) {
            if (!json_is_true(v) && (!json_is_integer(v) || json_integer_value(v) < 1 ||
                                     json_integer_value(v) > WEIR_SIM_MAX_MS))
                return weir__scn_bad(err, "%s.tick takes a count of ticks (1..%d) or true", where, WEIR_SIM_MAX_MS);
            cursor += json_is_true(v) ? 1 : (uint64_t)json_integer_value(v);
        } else if (json_object_get(st, "run")) {
            /* the simulation plays here */
        } else if (json_object_get(st, "expect")) {
            return weir__scn_bad(err, "%s: expect is for weir run; weir sim checks invariants: write it as {name, expression, "
                            "at: end} under invariants", where);
        } else if (json_object_get(st, "step") || json_object_get(st, "mocks")) {
            return weir__scn_bad(err, "%s: weir sim takes inject, advance, tick, run and note steps (step and mocks are for weir "
                            "run --virtual)", where);
        } else if (!json_object_get(st, "note")) {
            return weir__scn_bad(err, "%s: unknown step; a step is one of inject, advance, tick, run, note", where);
        }
    }
    return 0;
}

static int load_invariants(weir__sim *s, json_t *invs, weir_error *err) {
    static const char *const keys[] = {"name", "expression", "at", "note", NULL};
    if (!json_is_array(invs) || json_array_size(invs) == 0)
        return weir__scn_bad(err, "invariants must be a non-empty array of {name, expression, at?: \"wave\" | \"end\"}: what "
                        "weir sim checks");
    s->invs = weir__calloc(json_array_size(invs), sizeof *s->invs);
    if (!s->invs) return weir__error(err, WEIR_ENOMEM, "out of memory");
    size_t i;
    json_t *v;
    json_array_foreach(invs, i, v) {
        char where[64];
        snprintf(where, sizeof where, "invariants[%zu]", i);
        if (!json_is_object(v)) return weir__scn_bad(err, "%s must be {name, expression, at?}", where);
        int rc = weir__scn_keys_only(v, where, keys, "an invariant takes name, expression, at", err);
        if (rc) return rc;
        json_t *name = json_object_get(v, "name"), *expr = json_object_get(v, "expression");
        json_t *at = json_object_get(v, "at");
        const char *at_s = json_string_value(at);
        if (!json_is_string(name) || !json_string_length(name))
            return weir__scn_bad(err, "%s.name must be a non-empty string", where);
        if (!json_is_string(expr))
            return weir__scn_bad(err, "%s.expression must be an expression (a string) over tick, world, outputs, state, "
                            "finished, pending", where);
        if (at && !(at_s && (!strcmp(at_s, "wave") || !strcmp(at_s, "end"))))
            return weir__scn_bad(err, "%s.at must be \"wave\" (checked after every wave, the default) or \"end\" (once, when the "
                            "run is over)", where);
        sim_invariant *iv = &s->invs[s->n_invs++];
        iv->name = weir__strdup(json_string_value(name));
        iv->source = weir__strdup(json_string_value(expr));
        iv->at_end = at_s && !strcmp(at_s, "end");
        if (!iv->name || !iv->source) return weir__error(err, WEIR_ENOMEM, "out of memory");
        weir_error e2;
        rc = weir__scn_compile(iv->source, INV_NAMES, sizeof INV_NAMES / sizeof *INV_NAMES, &iv->x, &e2);
        if (rc) return weir__error(err, rc == WEIR_ENOMEM ? rc : WEIR_EINVAL, "%s.expression: %s", where, e2.message);
        if (strstr(iv->source, "state")) s->need_state = true;
    }
    return 0;
}

int weir__sim_scenario_load(weir__sim *s, json_t *sc, weir_error *err) {
    static const char *const keys[] = {"name", "description", "note", "tickMs", "options", "world", "mocks", "steps",
                                       "invariants", "userCalls", NULL};
    if (!json_is_object(sc))
        return weir__scn_bad(err, "a simulation scenario is an object {name?, tickMs?, options?, world?, mocks, steps, "
                        "invariants}");
    int rc = weir__scn_keys_only(sc, "scenario", keys,
                       "a simulation scenario takes name, description, tickMs, options, world, mocks, steps, "
                       "invariants, userCalls",
                       err);
    if (rc) return rc;
    json_t *t = json_object_get(sc, "tickMs");
    if (t && (!json_is_integer(t) || json_integer_value(t) < 1 || json_integer_value(t) > WEIR_SIM_MAX_MS))
        return weir__scn_bad(err, "tickMs must be a whole number of ms from 1 to %d", WEIR_SIM_MAX_MS);
    s->tick_ms = t ? json_integer_value(t) : 1;
    json_t *opts = json_object_get(sc, "options");
    if (opts && !json_is_object(opts)) return weir__scn_bad(err, "options must be an object {completion?, onError?, timeoutMs?}");
    s->options = opts ? json_deep_copy(opts) : json_object();
    if (!s->options) return weir__error(err, WEIR_ENOMEM, "out of memory");
    /* A run is over when nothing can still happen; an execution that
     * completed by itself at start could take no inject. */
    if (!json_object_get(s->options, "completion")) json_object_set_new(s->options, "completion", json_string("never"));
    json_object_set_new(s->options, "defaultTimeoutMs", json_integer(0));
    s->eo = (weir_exec_options){.id = "sim", .timeout_ms = -1, .runtime = "virtual"};
    weir_error e2;
    if (weir_exec_options_read(s->options, "options", &s->eo, NULL, &e2)) return weir__scn_bad(err, "%s", e2.message);
    json_t *world = json_object_get(sc, "world");
    if (world && !json_is_object(world)) return weir__scn_bad(err, "world must be an object: the world's state at the start");
    s->world0 = world ? json_deep_copy(world) : json_object();
    json_t *mocks = json_object_get(sc, "mocks");
    if (mocks && !json_is_array(mocks))
        return weir__scn_bad(err, "mocks must be an array of {match, response, latencyMs, fail?, timeout?, set?, when?}");
    s->mocks = weir__calloc(json_array_size(mocks) + 1, sizeof *s->mocks);
    s->swarm = weir__calloc(2 * json_array_size(mocks) + 1, sizeof *s->swarm); /* + user calls */
    if (!s->world0 || !s->mocks || !s->swarm) return weir__error(err, WEIR_ENOMEM, "out of memory");
    size_t i;
    json_t *m;
    json_array_foreach(mocks, i, m) {
        s->n_mocks = i + 1;
        if ((rc = weir__mock_load(m, i, &s->mocks[i], err))) return rc;
    }
    json_t *calls = json_object_get(sc, "userCalls");
    if (calls) {
        static const char *const call_keys[] = {"latencyMs", "fail", "note", NULL};
        if (!json_is_object(calls))
            return weir__scn_bad(err, "userCalls must be an object {latencyMs?: n | [min, max], fail?: p}: how user component "
                            "calls behave");
        if ((rc = weir__scn_keys_only(calls, "userCalls", call_keys, "userCalls takes latencyMs and fail", err))) return rc;
        json_t *lat = json_object_get(calls, "latencyMs");
        if (lat && (rc = weir__scn_range(lat, "userCalls.latencyMs", "ms", &s->call_min, &s->call_max, err))) return rc;
        if ((rc = weir__scn_rate(json_object_get(calls, "fail"), "userCalls.fail", &s->call_fail, err))) return rc;
    }
    if (!json_object_get(sc, "steps"))
        return weir__scn_bad(err, "steps is missing: the injects, e.g. [{inject: {nodeId, value, atTick: [0, 100]}}]");
    if ((rc = load_steps(s, json_object_get(sc, "steps"), err))) return rc;
    if (s->n_injects == 0) return weir__scn_bad(err, "steps has no inject: nothing would happen");
    return load_invariants(s, json_object_get(sc, "invariants"), err);
}

void weir__sim_scenario_free(weir__sim *s) {
    for (size_t i = 0; i < s->n_mocks; i++) weir__mock_free(&s->mocks[i]);
    weir__free(s->mocks);
    weir__free(s->swarm);
    for (size_t i = 0; i < s->n_injects; i++) {
        weir__free(s->injects[i].node);
        weir__free(s->injects[i].port);
        json_decref(s->injects[i].value);
    }
    weir__free(s->injects);
    for (size_t i = 0; i < s->n_invs; i++) {
        weir__free(s->invs[i].name);
        weir__free(s->invs[i].source);
        weir__expr_free(s->invs[i].x);
    }
    weir__free(s->invs);
    json_decref(s->world0);
    json_decref(s->options);
}

int weir__sim_check_scenario(json_t *scenario, weir_error *err) {
    weir__sim s = {0};
    int rc = weir__sim_scenario_load(&s, scenario, err);
    weir__sim_scenario_free(&s);
    return rc;
}
