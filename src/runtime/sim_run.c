/*
 * weir sim: one run of the graph on the simulated world (see sim.h).
 *
 * The shell is the worker's own.  Its clock is a tick counter (time =
 * tick * tickMs).  Everything that will happen waits in a heap on (due
 * tick, request order): the scenario's injects, timers (due at request +
 * delayMs) and mocked http requests (due at request + a latency drawn from
 * the first mock that matches the request).  At a tick, the items due form
 * a tied set; one is drawn (0: the first requested), delivered — an
 * inject, or the effect's result, which starts a wave — and the invariants
 * checked; items that fall due at the same tick meanwhile join the set.
 * A request is served at its due tick: the first mock matching it whose
 * `when` holds over {world, request} answers, and its `set` is merged into
 * the world.  A request whose `fail` fault fires is answered with a
 * network error and never reaches the world; one whose `timeout` fault
 * fires is never answered (it stays pending: a graph waiting on it is
 * stuck).  A user component's call (an invoke effect) is due after a
 * latency drawn from the scenario's userCalls range; at its due tick it
 * is performed by the worker's component host and waited for (calls go
 * one at a time, so their answers come in the order drawn), unless its
 * fail fault fires.  The run is over when nothing is left to deliver, the execution
 * finished, or max ticks or WEIR_SIM_MAX_DELIVERIES were reached; then the
 * `end` invariants are checked.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uv.h>

#include "core/alloc.h"
#include "core/error.h"
#include "runtime/sim_int.h"

/* One chance in PRESENT_ODDS that a generated run leaves an inject out. */
#define PRESENT_ODDS 16
/* The longest dump of the values a failing invariant saw. */
#define DUMP_MAX 4000

/* ------------------------------------------------------------ generator */

uint64_t weir__sim_splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xoshiro256** */
static uint64_t next64(uint64_t *s) {
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, n) (Lemire's multiply, with its rejection). */
static uint32_t below(uint64_t *s, uint32_t n) {
    uint64_t m = (uint64_t)(uint32_t)(next64(s) >> 32) * n;
    uint32_t l = (uint32_t)m;
    if (l < n) {
        uint32_t t = (uint32_t)(-n) % n;
        while (l < t) {
            m = (uint64_t)(uint32_t)(next64(s) >> 32) * n;
            l = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

/* ------------------------------------------------------------ choices */

/* Record a choice (out of memory: the run stops with an error). */
static void record(weir__sim *s, uint32_t v, weir__sim_choice kind, uint32_t ref) {
    if (s->nc == s->cc) {
        size_t cap = s->cc ? 2 * s->cc : 64;
        uint32_t *cv = weir__realloc(s->cv, cap * sizeof *cv);
        if (cv) s->cv = cv;
        uint8_t *ck = cv ? weir__realloc(s->ck, cap * sizeof *ck) : NULL;
        if (ck) s->ck = ck;
        uint32_t *cr = ck ? weir__realloc(s->cr, cap * sizeof *cr) : NULL;
        if (cr) s->cr = cr;
        uint32_t *co = cr ? weir__realloc(s->co, cap * sizeof *co) : NULL;
        if (!co) {
            snprintf(s->msg, sizeof s->msg, "out of memory recording choices");
            s->stop = true;
            return;
        }
        s->co = co;
        s->cc = cap;
    }
    s->cv[s->nc] = v;
    s->ck[s->nc] = (uint8_t)kind;
    s->cr[s->nc] = ref;
    s->co[s->nc] = kind == WEIR_SIM_C_TIE ? WEIR_SIM_NO_ORIGIN : s->origin;
    s->nc++;
}

/* The one source of choices: a value in [0, n) — drawn uniformly, or (with
 * p_one >= 0 and n == 2) 1 with probability p_one — or the given
 * sequence's next value.  n <= 1 is no choice (nothing recorded). */
static uint32_t draw_p(weir__sim *s, uint32_t n, double p_one, weir__sim_choice kind, uint32_t ref) {
    if (n <= 1) return 0;
    uint32_t v;
    if (s->replay) {
        v = s->nc < s->n_replay ? s->replay[s->nc] : 0;
        if (v > n - 1) v = n - 1;
    } else if (p_one >= 0) {
        v = (double)(next64(s->rng) >> 11) * 0x1.0p-53 < p_one;
    } else {
        v = below(s->rng, n);
    }
    record(s, v, kind, ref);
    return v;
}

static uint32_t draw(weir__sim *s, uint32_t n, weir__sim_choice kind, uint32_t ref) {
    return draw_p(s, n, -1, kind, ref);
}

/* ------------------------------------------------------------ the log */

static void say(weir__sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(weir__sim *s, const char *fmt, ...) {
    if (!s->logging || !s->log) return;
    char line[1024];
    int n = snprintf(line, sizeof line, "tick %-6llu ", (unsigned long long)s->tick);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    json_array_append_new(s->log, json_string(line));
}

/* Compact JSON of v, cut at max bytes ("..."); malloc'd. */
static char *dump_cut(json_t *v, size_t max) {
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!t) return NULL;
    if (strlen(t) > max) strcpy(t + max - 3, "...");
    char *out = strdup(t);
    weir__free(t);
    return out;
}

/* ------------------------------------------------------------ the heap */

static bool before(const sim_item *a, const sim_item *b) {
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void drop_item(sim_item *it) { json_decref(it->payload); }

static int push(weir__sim *s, sim_item *it) {
    if (weir__grow((void **)&s->heap, &s->cheap, s->nheap + 1, sizeof *s->heap)) {
        json_decref(it->payload);
        snprintf(s->msg, sizeof s->msg, "out of memory scheduling an item");
        s->stop = true;
        return WEIR_ENOMEM;
    }
    it->seq = ++s->seq;
    size_t i = s->nheap++;
    s->heap[i] = *it;
    while (i && before(&s->heap[i], &s->heap[(i - 1) / 2])) {
        sim_item t = s->heap[i];
        s->heap[i] = s->heap[(i - 1) / 2];
        s->heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
    return 0;
}

static sim_item pop(weir__sim *s) {
    sim_item top = s->heap[0];
    s->heap[0] = s->heap[--s->nheap];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->nheap && before(&s->heap[l], &s->heap[m])) m = l;
        if (r < s->nheap && before(&s->heap[r], &s->heap[m])) m = r;
        if (m == i) break;
        sim_item t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
    return top;
}

/* Move what is due by the current tick into the tied set (request order). */
static void gather(weir__sim *s) {
    while (s->nheap && s->heap[0].due <= s->tick) {
        if (s->heap[0].cancelled) {
            sim_item it = pop(s);
            drop_item(&it);
            continue;
        }
        if (weir__grow((void **)&s->tied, &s->ctied, s->ntied + 1, sizeof *s->tied)) {
            snprintf(s->msg, sizeof s->msg, "out of memory");
            s->stop = true;
            return;
        }
        s->tied[s->ntied++] = pop(s);
    }
}

/* ------------------------------------------------------------ mocks */

static uint64_t ticks_of(const weir__sim *s, int64_t ms) {
    return ms <= 0 ? 0 : ((uint64_t)ms + (uint64_t)s->tick_ms - 1) / (uint64_t)s->tick_ms;
}

/* ------------------------------------------------------------ the shell */

static void on_effect(void *ud, weir_exec *e, const weir_effect *eff) {
    (void)e;
    weir__sim *s = ud;
    if (eff->id == 0 || eff->kind == WEIR_EFFECT_LOG) return; /* fire and forget */
    sim_item it = {.effect = eff->id, .node_hash = weir__sim_fnv(eff->node_id, WEIR_SIM_FNV_BASIS),
                   .origin = s->origin};
    if (eff->kind == WEIR_EFFECT_TIMER) {
        json_t *d = json_object_get(eff->payload, "delayMs");
        int64_t ms = json_is_integer(d) ? json_integer_value(d) : (int64_t)json_number_value(d);
        it.kind = IT_TIMER;
        it.due = s->tick + ticks_of(s, ms);
        push(s, &it);
        return;
    }
    if (eff->kind == WEIR_EFFECT_INVOKE) {
        /* a user component's call: answered by the component host at its
         * due tick (userCalls' latency), unless its fail fault fires */
        if (!s->host) {
            if (!s->stop)
                snprintf(s->msg, sizeof s->msg, "node %s calls a user component, and no component host runs",
                         eff->node_id ? eff->node_id : "?");
            s->stop = true;
            return;
        }
        uint32_t ref = (uint32_t)s->n_mocks;
        uint32_t span = (uint32_t)(s->call_max - s->call_min + 1);
        int64_t lat = s->call_min + (int64_t)draw(s, span, WEIR_SIM_C_LATENCY, ref);
        it.kind = IT_INVOKE;
        it.due = s->tick + ticks_of(s, lat);
        if (s->swarm[2 * s->n_mocks]) it.fail = draw_p(s, 2, s->call_fail, WEIR_SIM_C_FAULT, 2 * ref) == 1;
        if (s->logging) {
            const char *hook = json_string_value(json_object_get(eff->payload, "hook"));
            say(s, "node %s calls its user component (%s): latency %lld ms, due at tick %llu%s", eff->node_id,
                hook ? hook : "?", (long long)lat, (unsigned long long)it.due,
                it.fail ? "; userCalls.fail fault: it fails" : "");
        }
        it.payload = json_incref(eff->payload);
        push(s, &it);
        return;
    }
    if (eff->kind != WEIR_EFFECT_HTTP) {
        if (!s->stop)
            snprintf(s->msg, sizeof s->msg, "node %s asks for a %s effect, which weir sim cannot perform",
                     eff->node_id ? eff->node_id : "?", weir_effect_kind_name(eff->kind));
        s->stop = true;
        return;
    }
    const char *method = json_string_value(json_object_get(eff->payload, "method"));
    const char *url = json_string_value(json_object_get(eff->payload, "url"));
    if (!method) method = "GET";
    if (!url) url = "";
    size_t m = 0;
    while (m < s->n_mocks && !weir__mock_matches(&s->mocks[m], method, url)) m++;
    if (m == s->n_mocks) {
        if (!s->stop)
            snprintf(s->msg, sizeof s->msg,
                     "no mock matches %s %s (requested by node %s at tick %llu); add a mock {match: {method: %s, url: "
                     "\"%s\"}, response, latencyMs} to the scenario",
                     method, url, eff->node_id ? eff->node_id : "?", (unsigned long long)s->tick, method, url);
        s->stop = true;
        return;
    }
    const sim_mock *mk = &s->mocks[m];
    int64_t lat = mk->lat_min + (int64_t)draw(s, (uint32_t)(mk->lat_max - mk->lat_min + 1), WEIR_SIM_C_LATENCY,
                                              (uint32_t)m);
    it.kind = IT_HTTP;
    it.mock = (uint32_t)m;
    it.due = s->tick + ticks_of(s, lat);
    if (s->swarm[2 * m]) it.fail = draw_p(s, 2, mk->fail, WEIR_SIM_C_FAULT, (uint32_t)(2 * m)) == 1;
    bool lost = !it.fail && s->swarm[2 * m + 1] &&
                draw_p(s, 2, mk->timeout, WEIR_SIM_C_FAULT, (uint32_t)(2 * m + 1)) == 1;
    if (lost) {
        say(s, "%s %s (node %s) is never answered: mocks[%zu].timeout fault", method, url, eff->node_id, m);
        return; /* it stays pending in the execution */
    }
    if (s->logging) {
        char fault[64] = "";
        if (it.fail) snprintf(fault, sizeof fault, "; mocks[%zu].fail fault: it fails", m);
        say(s, "%s %s (node %s): latency %lld ms (mocks[%zu] draws %lld..%lld), due at tick %llu%s", method, url,
            eff->node_id, (long long)lat, m, (long long)mk->lat_min, (long long)mk->lat_max,
            (unsigned long long)it.due, fault);
    }
    it.payload = json_incref(eff->payload);
    push(s, &it);
}

static void on_cancel(void *ud, weir_exec *e, uint64_t id) {
    (void)e;
    weir__sim *s = ud;
    for (size_t i = 0; i < s->ntied; i++) {
        if (s->tied[i].kind != IT_INJECT && s->tied[i].effect == id) {
            drop_item(&s->tied[i]);
            memmove(&s->tied[i], &s->tied[i + 1], (s->ntied - i - 1) * sizeof *s->tied);
            s->ntied--;
            return;
        }
    }
    for (size_t i = 0; i < s->nheap; i++) {
        if (s->heap[i].kind != IT_INJECT && s->heap[i].effect == id && !s->heap[i].cancelled) {
            s->heap[i].cancelled = true; /* skipped when it comes up */
            return;
        }
    }
}

static void on_event(void *ud, weir_exec *e, uint64_t seq, const char *name, json_t *data) {
    (void)e, (void)seq;
    weir__sim *s = ud;
    if (strcmp(name, "output") != 0) return;
    const char *node = json_string_value(json_object_get(data, "nodeId"));
    const char *port = json_string_value(json_object_get(data, "port"));
    char key[512];
    snprintf(key, sizeof key, "%s:%s", node ? node : "?", port ? port : "?");
    json_t *list = json_object_get(s->outputs, key);
    if (!list) json_object_set_new(s->outputs, key, list = json_array());
    json_t *value = json_object_get(data, "value");
    json_array_append(list, value ? value : json_null());
    if (s->logging) {
        char *v = dump_cut(value, 300);
        say(s, "output %s %s", key, v ? v : "?");
        free(v);
    }
}

static void on_finished(void *ud, weir_exec *e) {
    (void)e;
    ((weir__sim *)ud)->finished = true;
}

static int on_input(void *ud, weir_exec *e, const struct weir_input_rec *in, weir_error *err) {
    weir__sim *s = ud;
    return s->hooks && s->hooks->input ? s->hooks->input(s->hooks->ud, e, in, err) : 0;
}

static void on_input_done(void *ud, weir_exec *e, const struct weir_input_digest *d) {
    weir__sim *s = ud;
    if (s->hooks && s->hooks->input_done) s->hooks->input_done(s->hooks->ud, e, d);
}

/* ------------------------------------------------------------ invariants */

/* The context's numbers are set in place (no allocation per wave). */
static void fill_ctx(weir__sim *s) {
    json_integer_set(s->v_tick, (json_int_t)s->tick);
    json_integer_set(s->v_wave, (json_int_t)weir_exec_tick(s->e));
    json_integer_set(s->v_pending, (json_int_t)weir_exec_pending_effects(s->e));
    bool fin = weir_state_finished(weir_exec_state(s->e));
    if (fin != s->ctx_finished) {
        json_object_set_new(s->ctx, "finished", json_boolean(fin));
        s->ctx_finished = fin;
    }
    if (s->need_state) {
        json_t *st = weir_exec_states(s->e);
        json_object_set_new(s->ctx, "state", st ? st : json_object());
    }
}

static void failed(weir__sim *s, int i, const char *message) {
    s->res.status = WEIR_SIM_VIOLATION;
    s->res.invariant = i;
    s->res.tick = s->tick;
    s->res.wave = weir_exec_tick(s->e);
    if (message) {
        snprintf(s->msg, sizeof s->msg, "%s", message);
        s->res.message = s->msg;
    }
    if (s->details) {
        s->res.outputs_json = s->dump_outputs = dump_cut(s->outputs, DUMP_MAX);
        s->res.world_json = s->dump_world = dump_cut(s->world, DUMP_MAX);
        if (s->need_state) s->res.state_json = s->dump_state = dump_cut(json_object_get(s->ctx, "state"), DUMP_MAX);
    }
    say(s, "invariant \"%s\" fails (wave %llu)%s%s", s->invs[i].name, (unsigned long long)s->res.wave,
        message ? ": " : "", message ? message : "");
}

/* Check the wave (or end) invariants; true when one failed. */
static bool check(weir__sim *s, bool end) {
    fill_ctx(s);
    weir_expr_env env = {.value = s->ctx};
    for (size_t i = 0; i < s->n_invs; i++) {
        if (s->invs[i].at_end != end) continue;
        bool ok = false;
        weir_error err;
        if (weir__expr_truthy(s->invs[i].x, &env, &ok, &err)) {
            char m[WEIR_ERROR_MAX];
            snprintf(m, sizeof m, "the expression could not be evaluated: %.1900s", err.message);
            failed(s, (int)i, m);
            return true;
        }
        if (!ok) {
            failed(s, (int)i, NULL);
            return true;
        }
    }
    return false;
}

/* ------------------------------------------------------------ deliveries */

static void error_stop(weir__sim *s, const char *what, const weir_error *err) {
    if (!s->stop) snprintf(s->msg, sizeof s->msg, "%.100s: %.1900s", what, err->message);
    s->stop = true;
}

/* ------------------------------------------------------------ the host */

typedef struct host_call {
    bool done;
    json_t *answer;
    char *error;
} host_call;

static void call_done(void *ud, json_t *answer, const char *error) {
    host_call *c = ud;
    c->done = true;
    /* the host's own call number is no part of the answer: a run must not
     * depend on how many calls the worker made before it */
    c->answer = json_is_object(answer) && json_object_get(answer, "id") ? json_copy(answer) : json_incref(answer);
    if (c->answer && json_is_object(c->answer)) json_object_del(c->answer, "id");
    c->error = error ? strdup(error) : NULL;
}

/* One user component call, waited for (the host bounds its time): 0 with
 * its answer (NEW) or *why (malloc'd) a failure the component sees; else
 * the run stops with the error. */
static int call_host(weir__sim *s, json_t *payload, const char *node, json_t **answer, char **why) {
    host_call c = {0};
    uint64_t id;
    weir_error err;
    if (weir_host_invoke(s->host, payload, node, call_done, &c, &id, &err)) {
        error_stop(s, "the component host refused a call", &err);
        return -1;
    }
    while (!c.done) uv_run(s->loop, UV_RUN_ONCE);
    *answer = c.answer;
    *why = c.error;
    if (s->logging) {
        char *a = c.answer ? dump_cut(c.answer, 300) : NULL;
        say(s, "node %s's user component answers %s", node ? node : "?", a ? a : c.error ? c.error : "?");
        free(a);
    }
    return 0;
}

static void deliver(weir__sim *s, sim_item *it) {
    int64_t now = (int64_t)s->tick * s->tick_ms;
    /* what this delivery's wave requests, and draws, belongs to the same inject */
    s->origin = it->kind == IT_INJECT ? it->inject : it->origin;
    weir_error err;
    int rc = 0;
    switch (it->kind) {
    case IT_INJECT: {
        const sim_inject *in = &s->injects[it->inject];
        weir_inject inj = {.node = in->node, .port = in->port, .value = in->value, .flags = WEIR_INJECT_SCHEDULED};
        if (s->logging) {
            char *v = dump_cut(in->value, 300);
            say(s, "inject %s%s%s %s (the scenario's inject %u of %zu, window %llu..%llu)", in->node,
                in->port ? ":" : "", in->port ? in->port : "", v ? v : "?", it->inject + 1, s->n_injects,
                (unsigned long long)in->from, (unsigned long long)in->to);
            free(v);
        }
        rc = weir_exec_inject(s->e, &inj, now, NULL, &err);
        if (rc == WEIR_ESTATE) rc = 0; /* a finished execution takes no inject: as in production */
        if (rc) error_stop(s, "an inject was refused", &err);
        s->hash = (s->hash ^ (0x100 + it->inject)) * 1099511628211ull;
        break;
    }
    case IT_TIMER:
        rc = weir_exec_resolve(s->e, it->effect, NULL, NULL, now, &err);
        s->hash = ((s->hash ^ it->node_hash) * 1099511628211ull ^ 't') * 1099511628211ull;
        break;
    case IT_INVOKE: {
        const char *node = json_string_value(json_object_get(it->payload, "nodeId"));
        if (it->fail) {
            say(s, "node %s's user component call fails (userCalls.fail)", node ? node : "?");
            rc = weir_exec_resolve(s->e, it->effect, NULL, "weir sim: the user component call failed (userCalls.fail)",
                                   now, &err);
            s->hash = ((s->hash ^ it->node_hash) * 1099511628211ull ^ 'F') * 1099511628211ull;
            break;
        }
        json_t *answer = NULL;
        char *why = NULL;
        if (call_host(s, it->payload, node, &answer, &why)) return;
        rc = weir_exec_resolve(s->e, it->effect, answer, why, now, &err);
        json_decref(answer);
        free(why);
        s->hash = ((s->hash ^ it->node_hash) * 1099511628211ull ^ 'i') * 1099511628211ull;
        break;
    }
    case IT_HTTP: {
        const char *method = json_string_value(json_object_get(it->payload, "method"));
        const char *url = json_string_value(json_object_get(it->payload, "url"));
        if (!method) method = "GET";
        if (!url) url = "";
        if (it->fail) {
            char why[600];
            snprintf(why, sizeof why, "network error: %s %s failed (weir sim: mocks[%u].fail)", method, url, it->mock);
            say(s, "%s %s fails: network error (mocks[%u].fail)", method, url, it->mock);
            rc = weir_exec_resolve(s->e, it->effect, NULL, why, now, &err);
            s->hash = ((s->hash ^ it->node_hash) * 1099511628211ull ^ 'f') * 1099511628211ull;
            break;
        }
        /* served now: the first mock matching it whose `when` holds */
        size_t m;
        if (weir__mocks_serve(s->mocks, s->n_mocks, method, url, s->world, it->payload, &m, &err)) {
            char what[96];
            snprintf(what, sizeof what, "mocks[%zu].when could not be evaluated", m);
            error_stop(s, what, &err);
            return;
        }
        if (m == s->n_mocks) {
            char *w = dump_cut(s->world, 500);
            if (!s->stop)
                snprintf(s->msg, sizeof s->msg,
                         "no mock answers %s %s at tick %llu: every mock matching it has a `when` that does not hold "
                         "for the world %s; add one without `when`",
                         method, url, (unsigned long long)s->tick, w ? w : "?");
            free(w);
            s->stop = true;
            return;
        }
        const sim_mock *mk = &s->mocks[m];
        if (mk->set) json_object_update(s->world, mk->set);
        if (s->logging) {
            char *w = mk->set ? dump_cut(s->world, 300) : NULL;
            say(s, "%s %s served by mocks[%zu]: status %d%s%s", method, url, m, mk->status, w ? "; world now " : "",
                w ? w : "");
            free(w);
        }
        rc = weir_exec_resolve(s->e, it->effect, mk->result, NULL, now, &err);
        s->hash = ((s->hash ^ it->node_hash) * 1099511628211ull ^ 'h') * 1099511628211ull;
        break;
    }
    }
    if (rc == WEIR_ESTALE) rc = 0; /* cancelled meanwhile */
    if (rc && !s->stop) error_stop(s, "a result was refused", &err);
}

/* ------------------------------------------------------------ a run */

static void reset(weir__sim *s) {
    weir_exec_destroy(s->e);
    s->e = NULL;
    for (size_t i = 0; i < s->nheap; i++) drop_item(&s->heap[i]);
    for (size_t i = 0; i < s->ntied; i++) drop_item(&s->tied[i]);
    s->nheap = s->ntied = 0;
    json_decref(s->ctx);
    s->ctx = NULL;
    s->world = s->outputs = NULL;
    json_decref(s->log);
    s->log = NULL;
    free(s->dump_outputs);
    free(s->dump_world);
    free(s->dump_state);
    s->dump_outputs = s->dump_world = s->dump_state = NULL;
}

static void run(weir__sim *s) {
    reset(s);
    memset(&s->res, 0, sizeof s->res);
    s->res.invariant = -1;
    s->nc = 0;
    s->seq = s->tick = s->deliveries = 0;
    s->finished = s->stop = false;
    s->msg[0] = '\0';
    s->hash = WEIR_SIM_FNV_BASIS;
    s->origin = WEIR_SIM_NO_ORIGIN;
    s->world = json_deep_copy(s->world0);
    s->outputs = json_object();
    s->ctx = json_object();
    if (s->logging) s->log = json_array();
    if (!s->world || !s->outputs || !s->ctx) {
        json_decref(s->world);
        json_decref(s->outputs);
        snprintf(s->msg, sizeof s->msg, "out of memory");
        s->stop = true;
        goto out;
    }
    json_object_set_new(s->ctx, "world", s->world);
    json_object_set_new(s->ctx, "outputs", s->outputs);
    json_object_set_new(s->ctx, "tick", s->v_tick = json_integer(0));
    json_object_set_new(s->ctx, "wave", s->v_wave = json_integer(0));
    json_object_set_new(s->ctx, "pending", s->v_pending = json_integer(0));
    json_object_set_new(s->ctx, "finished", json_false());
    s->ctx_finished = false;
    if (!s->v_tick || !s->v_wave || !s->v_pending) {
        snprintf(s->msg, sizeof s->msg, "out of memory");
        s->stop = true;
        goto out;
    }

    /* swarm: which fault kinds are on for this run */
    for (size_t m = 0; m < s->n_mocks; m++) {
        s->swarm[2 * m] = s->mocks[m].fail > 0 && draw_p(s, 2, 0.5, WEIR_SIM_C_SWARM, (uint32_t)(2 * m));
        s->swarm[2 * m + 1] = s->mocks[m].timeout > 0 && draw_p(s, 2, 0.5, WEIR_SIM_C_SWARM, (uint32_t)(2 * m + 1));
    }
    s->swarm[2 * s->n_mocks] = s->call_fail > 0 && draw_p(s, 2, 0.5, WEIR_SIM_C_SWARM, (uint32_t)(2 * s->n_mocks));
    /* the injects: present or not, and when */
    for (size_t i = 0; i < s->n_injects; i++) {
        const sim_inject *in = &s->injects[i];
        bool present = draw_p(s, 2, 1.0 - 1.0 / PRESENT_ODDS, WEIR_SIM_C_PRESENT, (uint32_t)i) == 1;
        uint64_t at = in->from + draw(s, (uint32_t)(in->to - in->from + 1), WEIR_SIM_C_AT, (uint32_t)i);
        if (!present) continue;
        sim_item it = {.kind = IT_INJECT, .inject = (uint32_t)i, .due = at};
        if (push(s, &it)) goto out;
    }

    weir_shell sh = {.effect_ud = s, .effect = on_effect, .cancel = on_cancel, .ud = s, .event = on_event,
                     .finished = on_finished};
    if (s->hooks && s->hooks->input) {
        sh.input = on_input;
        sh.input_done = on_input_done;
    }
    weir_error err;
    if (weir_exec_create(s->g, &s->eo, &sh, &s->e, &err)) {
        error_stop(s, "the execution cannot be created", &err);
        goto out;
    }
    weir_exec_listen_mask(s->e, WEIR_EV_OUTPUT);
    if (weir_exec_start(s->e, 0, &err)) {
        error_stop(s, "the execution does not start", &err);
        goto out;
    }
    s->res.waves++;
    if (check(s, false)) goto out;
    for (;;) {
        if (s->stop) goto out;
        if (s->finished) break;
        if (!s->ntied) {
            while (s->nheap && s->heap[0].cancelled) {
                sim_item it = pop(s);
                drop_item(&it);
            }
            if (!s->nheap) break; /* nothing left that can happen */
            if (s->heap[0].due > s->max_ticks) {
                s->tick = s->max_ticks;
                s->res.at_limit = true;
                break;
            }
            s->tick = s->heap[0].due;
            gather(s);
            continue;
        }
        if (s->deliveries >= WEIR_SIM_MAX_DELIVERIES) {
            s->res.at_limit = true;
            break;
        }
        uint32_t k = (uint32_t)s->ntied;
        uint32_t pick = draw(s, k, WEIR_SIM_C_TIE, 0);
        sim_item it = s->tied[pick];
        memmove(&s->tied[pick], &s->tied[pick + 1], (s->ntied - pick - 1) * sizeof *s->tied);
        s->ntied--;
        s->deliveries++;
        deliver(s, &it);
        s->origin = WEIR_SIM_NO_ORIGIN;
        drop_item(&it);
        if (s->stop) goto out;
        gather(s); /* what fell due at this tick meanwhile */
        s->res.waves++;
        if (check(s, false)) goto out;
    }
    if (check(s, true)) goto out;
out:
    if (s->stop) {
        s->res.status = WEIR_SIM_ERROR;
        s->res.message = s->msg;
        s->res.tick = s->tick;
        s->res.wave = s->e ? weir_exec_tick(s->e) : 0;
    } else if (s->res.status == WEIR_SIM_PASS) {
        s->res.tick = s->tick;
        s->res.wave = weir_exec_tick(s->e);
        if (s->logging)
            say(s, "the run is over: %s%s, %zu pending",
                s->finished ? "the execution finished" : "nothing left to happen", s->res.at_limit ? " (stopped at the limit)" : "", weir_exec_pending_effects(s->e));
    }
    s->res.interleaving = s->hash;
    s->res.choices = s->cv;
    s->res.kinds = s->ck;
    s->res.refs = s->cr;
    s->res.origins = s->co;
    s->res.n_choices = s->nc;
    s->res.log = s->log;
    /* the execution goes now: nothing of it is read after the run */
    weir_exec_destroy(s->e);
    s->e = NULL;
}

void weir__sim_run_seed(weir__sim *s, uint64_t seed, weir__sim_result *res) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) s->rng[i] = weir__sim_splitmix64(&x);
    s->replay = NULL;
    s->n_replay = 0;
    s->details = s->logging = false;
    s->hooks = NULL;
    run(s);
    *res = s->res;
}

void weir__sim_run_seed_full(weir__sim *s, uint64_t seed, bool logging, weir__sim_result *res) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) s->rng[i] = weir__sim_splitmix64(&x);
    s->replay = NULL;
    s->n_replay = 0;
    s->details = true;
    s->logging = logging;
    s->hooks = NULL;
    run(s);
    *res = s->res;
}

void weir__sim_run_choices(weir__sim *s, const uint32_t *choices, size_t n, bool details, bool logging,
                           const weir__sim_hooks *hooks, weir__sim_result *res) {
    static const uint32_t none[1] = {0};
    s->replay = choices ? choices : none;
    s->n_replay = choices ? n : 0;
    s->details = details;
    s->logging = logging;
    s->hooks = hooks;
    run(s);
    s->replay = NULL;
    s->hooks = NULL;
    *res = s->res;
}

/* ------------------------------------------------------------ the worker */

/* A graph naming a component that is not a built-in: say why here. */
static void graph_problems(json_t *doc, json_t *details, weir_error *err) {
    size_t i, k;
    json_t *d, *node;
    json_array_foreach(details, i, d) {
        const char *code = json_string_value(json_object_get(d, "code"));
        const char *id = json_string_value(json_object_get(d, "nodeId"));
        if (!code || strcmp(code, "unknown-component") != 0 || !id) continue;
        const char *comp = "?";
        json_array_foreach(json_object_get(doc, "nodes"), k, node) {
            const char *nid = json_string_value(json_object_get(node, "id"));
            if (nid && !strcmp(nid, id) && json_is_string(json_object_get(node, "component")))
                comp = json_string_value(json_object_get(node, "component"));
        }
        weir__error(err, WEIR_EGRAPH,
                    "node %s uses component %s, which is not a built-in: give its definition with --components "
                    "FILE (user components run in a component host, Node.js)",
                    id, comp);
        return;
    }
}

/* The user components' descriptors in the worker's registry, and a host
 * of one process on a loop of its own to run their calls. */
static int add_components(weir__sim *s, json_t *defs, weir_error *err) {
    if (!json_is_array(defs))
        return weir__error(err, WEIR_EINVAL, "the user components must be an array of definitions");
    s->components = json_deep_copy(defs);
    s->ucs = weir__calloc(json_array_size(defs), sizeof *s->ucs);
    s->loop = weir__calloc(1, sizeof *s->loop);
    if (!s->components || !s->ucs || !s->loop) return weir__error(err, WEIR_ENOMEM, "out of memory");
    size_t i;
    json_t *def;
    json_array_foreach(s->components, i, def) {
        weir_error e2;
        int rc = weir_user_component_create(def, &s->ucs[s->n_ucs], &e2);
        if (rc) return weir__error(err, WEIR_EINVAL, "user component %zu: %s", i + 1, e2.message);
        const weir_component *d = weir_user_component_descriptor(s->ucs[s->n_ucs++]);
        if (weir_registry_find(s->reg, d->id)) weir_registry_remove(s->reg, d->id);
        if ((rc = weir_registry_add(s->reg, d, &e2)))
            return weir__error(err, rc, "user component %s: %s", d->id, e2.message);
    }
    if (uv_loop_init(s->loop)) {
        weir__free(s->loop);
        s->loop = NULL;
        return weir__error(err, WEIR_EINTERNAL, "cannot make an event loop for the component host");
    }
    weir_host_options ho = {.pool_size = 1};
    int rc = weir_host_create(s->loop, &ho, &s->host, err);
    if (rc) return rc;
    weir_host_node hn;
    weir_host_node_get(s->host, &hn);
    if (hn.problem) return weir__error(err, WEIR_EINVAL, "%s", hn.problem);
    return 0;
}

int weir__sim_create(const weir__sim_config *cfg, weir__sim **out, weir_error *err) {
    *out = NULL;
    weir__sim *s = weir__calloc(1, sizeof *s);
    if (!s) return weir__error(err, WEIR_ENOMEM, "out of memory");
    int rc = weir__sim_scenario_load(s, cfg->scenario, err);
    if (rc) goto fail;
    s->max_ticks = cfg->max_ticks ? cfg->max_ticks : WEIR_SIM_MAX_TICKS_DEFAULT;
    if ((rc = weir_registry_create(&s->reg))) {
        rc = weir__error(err, WEIR_ENOMEM, "out of memory");
        goto fail;
    }
    if (cfg->components && json_array_size(cfg->components)) {
        if ((rc = add_components(s, cfg->components, err))) goto fail;
    }
    json_error_t je;
    s->graph_doc = json_loadb(cfg->graph_text, cfg->graph_len, 0, &je);
    if (!s->graph_doc) {
        rc = weir__error(err, WEIR_EGRAPH, "the graph is not JSON: %s (line %d)", je.text, je.line);
        goto fail;
    }
    json_t *details = json_array();
    weir_graph_options go = {.details = details, .zone = weir_zone_files};
    rc = weir_graph_load(s->reg, s->graph_doc, &go, &s->g, err);
    if (rc == WEIR_EGRAPH) graph_problems(s->graph_doc, details, err);
    json_decref(details);
    if (rc) goto fail;
    /* every inject names a node and one of its input ports */
    weir_shell none = {0};
    weir_exec *e;
    if ((rc = weir_exec_create(s->g, &s->eo, &none, &e, err))) goto fail;
    for (size_t i = 0; i < s->n_injects && !rc; i++) {
        weir_inject in = {.node = s->injects[i].node, .port = s->injects[i].port, .value = s->injects[i].value};
        weir_error e2;
        if (weir_exec_check_inject(e, &in, &e2))
            rc = weir__error(err, WEIR_EINVAL, "the scenario's inject %zu (node %s): %s", i + 1, s->injects[i].node,
                             e2.message);
    }
    weir_exec_destroy(e);
    if (rc) goto fail;
    *out = s;
    return 0;
fail:
    weir__sim_destroy(s);
    return rc;
}

void weir__sim_destroy(weir__sim *s) {
    if (!s) return;
    reset(s);
    weir__sim_scenario_free(s);
    weir_graph_unref(s->g);
    weir_registry_destroy(s->reg);
    for (size_t i = 0; i < s->n_ucs; i++) weir_user_component_unref(s->ucs[i]);
    weir__free(s->ucs);
    json_decref(s->components);
    if (s->host) weir_host_destroy(s->host);
    if (s->loop) {
        uv_run(s->loop, UV_RUN_DEFAULT);
        uv_loop_close(s->loop);
        weir__free(s->loop);
    }
    json_decref(s->graph_doc);
    weir__free(s->cv);
    weir__free(s->ck);
    weir__free(s->cr);
    weir__free(s->co);
    weir__free(s->heap);
    weir__free(s->tied);
    weir__free(s);
}

size_t weir__sim_invariant_count(const weir__sim *s) { return s->n_invs; }
const char *weir__sim_invariant_name(const weir__sim *s, int i) { return s->invs[i].name; }
const char *weir__sim_invariant_source(const weir__sim *s, int i) { return s->invs[i].source; }
bool weir__sim_invariant_at_end(const weir__sim *s, int i) { return s->invs[i].at_end; }

json_t *weir__sim_start_body(const weir__sim *s) {
    const char *name = json_string_value(json_object_get(s->graph_doc, "name"));
    json_t *opts = json_deep_copy(s->options);
    if (opts) {
        json_object_set_new(opts, "maxWaveHops", json_integer((json_int_t)WEIR_DEFAULT_MAX_WAVE_HOPS));
        json_object_set_new(opts, "maxTraceHops", json_integer((json_int_t)WEIR_DEFAULT_MAX_TRACE_HOPS));
    }
    json_t *comps = s->components ? json_deep_copy(s->components) : json_array();
    json_t *b = json_pack("{s:s,s:s,s:O,s:o,s:o,s:s,s:s}", "op", "start", "graphId", name ? name : "sim", "graph",
                          s->graph_doc, "components", comps, "options", opts, "runtime", "virtual", "executionId",
                          "sim");
    /* the time zones' bytes, pinned as weir serve pins them */
    json_t *zones = weir_graph_zones(s->g);
    if (b && zones && json_object_set_new(b, "zones", json_deep_copy(zones))) {
        json_decref(b);
        return NULL;
    }
    return b;
}
