/*
 * Time under control in the service (SPEC §4.5): switching an execution's
 * runtime, and the virtual runtime's tick / advance / run / step, with
 * injects scheduled at a tick — the same commands over REST and the event
 * sockets.
 *
 * `run` plays a slice of ticks per loop turn (PLAY_SLICE_TICKS), so other
 * requests are served meanwhile and `pause`, `stop` or a switch end it; its
 * answer comes when it ends, saying why (stoppedBy).  Under the virtual
 * runtime an inject with wait answers at once if what it caused needs
 * virtual time; its outputs come in the answer of the time command during
 * which it settled (`settled`).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "service/service_internal.h"

/* Ticks a run plays per loop turn (empty stretches cost nothing). */
#define PLAY_SLICE_TICKS 4096
/* A run without maxTicks stops after this many ticks. */
#define DEFAULT_RUN_TICKS 10000000ull
/* Bounds of one tick / step request. */
#define MAX_TICKS_PER_REQUEST 1000000
#define MAX_STEPS_PER_REQUEST 10000
/* Settlements kept for the next time command. */
#define MAX_SETTLED 1000

/* ------------------------------------------------------------- answering */

/* The clock and what waits: the body of every time command's answer.
 * Takes the settlements recorded since the last one. */
static json_t *time_body(svc_exec *x) {
    weir_virtual *v = x->rt.virt;
    svc_journal_clock(x); /* where a time command left the clock: recovery goes on from there */
    json_t *j = json_pack("{s:s,s:s?,s:s}", "executionId", x->id, "runtime", x->rt.name, "state",
                          weir_state_name(weir_exec_state(x->e)));
    if (!j) return NULL;
    json_object_set_new(j, "time", json_integer((json_int_t)(v ? weir_virtual_now(v) : svc_exec_now(x))));
    if (v) {
        json_object_set_new(j, "tick", json_integer((json_int_t)weir_virtual_ticks(v)));
        json_object_set_new(j, "pending", json_integer((json_int_t)weir_virtual_pending(v)));
        json_object_set_new(j, "scheduled", json_integer((json_int_t)weir_virtual_scheduled(v)));
    }
    json_object_set_new(j, "settled", x->settled ? x->settled : json_array());
    x->settled = NULL;
    if (x->settled_dropped) {
        json_object_set_new(j, "settledDropped", json_integer((json_int_t)x->settled_dropped));
        x->settled_dropped = 0;
    }
    json_t *err = weir_exec_error(x->e);
    if (err) json_object_set(j, "error", err);
    return j;
}

void svc_time_settled(svc_exec *x, json_t *body) {
    if (!body) return;
    if (!x->settled && !(x->settled = json_array())) {
        json_decref(body);
        return;
    }
    if (json_array_size(x->settled) >= MAX_SETTLED) {
        json_array_remove(x->settled, 0); /* the oldest: counted, never silent */
        x->settled_dropped++;
    }
    json_array_append_new(x->settled, body);
}

static void fail(weir_service *s, svc_reply *r, int status, svc_exec *x, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void fail(weir_service *s, svc_reply *r, int status, svc_exec *x, const char *fmt, ...) {
    char msg[WEIR_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *b = json_pack("{s:s}", "error", msg);
    if (b && x) json_object_set_new(b, "executionId", json_string(x->id));
    svc_answer(s, r, status, b);
}

static void fail_err(weir_service *s, svc_reply *r, svc_exec *x, const weir_error *err) {
    fail(s, r, svc_status_of(err->code), x, "%s", err->message);
}

/* x's virtual runtime, or NULL (answered: 409 saying how to get one). */
static weir_virtual *virtual_of(weir_service *s, svc_exec *x, svc_reply *r, const char *op) {
    if (weir_state_finished(weir_exec_state(x->e))) {
        fail(s, r, 409, x, "execution %s is %s: its time no longer moves", x->id,
             weir_state_name(weir_exec_state(x->e)));
        return NULL;
    }
    if (!x->rt.virt) {
        fail(s, r, 409, x,
             "%s needs the virtual runtime and execution %s runs on %s; switch it first: POST "
             "/api/executions/%s/runtime {\"runtime\": \"virtual\"}",
             op, x->id, x->rt.name ? x->rt.name : "another runtime", x->id);
        return NULL;
    }
    if (x->playing) {
        fail(s, r, 409, x, "execution %s is playing (a run is in progress); pause it first", x->id);
        return NULL;
    }
    return x->rt.virt;
}

/* An optional positive integer field, at most max; false when answered. */
static bool count_field(weir_service *s, svc_reply *r, svc_exec *x, json_t *data, const char *key, uint64_t dflt,
                        uint64_t max, uint64_t *out) {
    json_t *v = json_object_get(data, key);
    if (!v || json_is_null(v)) {
        *out = dflt;
        return true;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1 || (uint64_t)json_integer_value(v) > max) {
        fail(s, r, 400, x, "%s must be an integer from 1 to %llu", key, (unsigned long long)max);
        return false;
    }
    *out = (uint64_t)json_integer_value(v);
    return true;
}

/* ---------------------------------------------------------------- runtime */

static void runtime_cmd(weir_service *s, svc_exec *x, svc_reply *r, json_t *data) {
    json_t *name_v = json_object_get(data, "runtime");
    if (!json_is_string(name_v))
        return fail(s, r, 400, x,
                    "runtime (a string) is required: {\"runtime\": \"virtual\", \"mocks\"?: [...], \"tickMs\"?: n} "
                    "or {\"runtime\": \"realtime\"}");
    char from[64];
    snprintf(from, sizeof from, "%s", x->rt.name ? x->rt.name : "");
    weir_error err;
    if (svc_exec_switch(x, json_string_value(name_v), data, &err)) return fail_err(s, r, x, &err);
    json_t *j = time_body(x);
    if (j) {
        json_object_set_new(j, "from", json_string(from));
        json_object_set_new(j, "requested", json_incref(name_v));
    }
    svc_answer(s, r, 200, j);
}

/* ------------------------------------------------------------- tick, advance */

static void tick_cmd(weir_service *s, svc_exec *x, svc_reply *r, json_t *data) {
    weir_virtual *v = virtual_of(s, x, r, "tick");
    if (!v) return;
    uint64_t n;
    if (!count_field(s, r, x, data, "count", 1, MAX_TICKS_PER_REQUEST, &n)) return;
    weir_error err;
    /* N ticks are an advance of N ticks: the same deliveries at the same
     * ticks, empty stretches skipped, one time:advanced for the command
     * (past the end of the clock's range: WEIR_EINVAL, 400) */
    int rc = n == 1 ? weir_virtual_tick(v, &err) : weir_virtual_advance_ticks(v, n, &err);
    if (rc) return fail_err(s, r, x, &err);
    svc_answer(s, r, 200, time_body(x));
}

static void advance_cmd(weir_service *s, svc_exec *x, svc_reply *r, json_t *data) {
    weir_virtual *v = virtual_of(s, x, r, "advance");
    if (!v) return;
    json_t *ms = json_object_get(data, "ms");
    if (!json_is_integer(ms) || json_integer_value(ms) < 0)
        return fail(s, r, 400, x, "advance takes {\"ms\": a non-negative integer} (rounded up to whole ticks)");
    weir_error err;
    if (weir_virtual_advance(v, json_integer_value(ms), &err)) return fail_err(s, r, x, &err);
    svc_answer(s, r, 200, time_body(x));
}

/* -------------------------------------------------------------------- run */

static void play_end(svc_exec *x, const char *reason, const weir_error *err) {
    weir_service *s = x->svc;
    x->playing = false;
    s->n_playing--;
    svc_reply r = x->play_reply;
    memset(&x->play_reply, 0, sizeof x->play_reply);
    if (err) return fail_err(s, &r, x, err);
    json_t *j = time_body(x);
    if (j) {
        json_object_set_new(j, "stoppedBy", json_string(reason));
        json_object_set_new(j, "idle", json_boolean(strcmp(reason, "idle") == 0));
        uint64_t played = x->rt.virt ? weir_virtual_ticks(x->rt.virt) - x->play_from : 0;
        json_object_set_new(j, "played", json_integer((json_int_t)played));
    }
    svc_answer(s, &r, 200, j);
}

void svc_play_stop(svc_exec *x, const char *reason) {
    if (x->playing) play_end(x, reason, NULL);
}

/* One slice of every run in progress that is not waiting for real http
 * answers (virtual time does not move while they are out). */
static void play(uv_idle_t *t) {
    weir_service *s = t->data;
    size_t active = 0;
    for (svc_exec *x = s->execs; x; x = x->next) {
        if (!x->playing || x->play_waiting) continue;
        weir_virtual *v = x->rt.virt;
        if (weir_state_finished(weir_exec_state(x->e))) {
            play_end(x, weir_state_name(weir_exec_state(x->e)), NULL);
            continue;
        }
        uint64_t before = weir_virtual_ticks(v);
        uint64_t slice = x->play_left < PLAY_SLICE_TICKS ? x->play_left : PLAY_SLICE_TICKS;
        bool idle = false;
        weir_error err;
        int rc = weir_virtual_run(v, slice, &idle, &err);
        uint64_t played = weir_virtual_ticks(v) - before;
        x->play_left -= played < x->play_left ? played : x->play_left;
        if (rc) play_end(x, "error", &err);
        else if (weir_state_finished(weir_exec_state(x->e))) play_end(x, weir_state_name(weir_exec_state(x->e)), NULL);
        else if (idle) play_end(x, "idle", NULL);
        else if (x->play_left == 0) play_end(x, "maxTicks", NULL);
        else if (played == 0 && weir_virtual_inflight(v) > 0) x->play_waiting = true;
        else if (played == 0) play_end(x, "nothing left to play", NULL); /* never spin */
        else active++;
    }
    if (active == 0) uv_idle_stop(t);
}

/* A real http answer came back to x's virtual runtime: a run waiting for it
 * goes on. */
static void arrived(void *ud, weir_virtual *v) {
    (void)v;
    svc_exec *x = ud;
    if (!x->playing || !x->play_waiting) return;
    x->play_waiting = false;
    uv_idle_start(&x->svc->play_idle, play);
}

void svc_time_attach(svc_exec *x) {
    if (x->rt.virt) weir_virtual_on_arrived(x->rt.virt, arrived, x);
}

static void run_cmd(weir_service *s, svc_exec *x, svc_reply *r, json_t *data) {
    weir_virtual *v = virtual_of(s, x, r, "run");
    if (!v) return;
    uint64_t max, left = weir_virtual_max_tick(v) - weir_virtual_ticks(v);
    if (!count_field(s, r, x, data, "maxTicks", 0, INT64_MAX, &max)) return;
    if (max > left)
        return fail(s, r, 400, x,
                    "maxTicks %llu would take the virtual clock past the end of its range: it is at tick %llu and can "
                    "move %llu more ticks",
                    (unsigned long long)max, (unsigned long long)weir_virtual_ticks(v), (unsigned long long)left);
    if (!max) max = left < DEFAULT_RUN_TICKS ? left : DEFAULT_RUN_TICKS;
    x->playing = true;
    x->play_waiting = false;
    x->play_reply = *r;
    r->client = NULL; /* the reference moves to play_reply */
    r->req = NULL;
    x->play_left = max;
    x->play_from = weir_virtual_ticks(v);
    s->n_playing++;
    uv_idle_start(&s->play_idle, play); /* (already started: no change) */
}

/* ------------------------------------------------------------------- step */

static void step_cmd(weir_service *s, svc_exec *x, svc_reply *r, json_t *data) {
    weir_virtual *v = virtual_of(s, x, r, "step");
    if (!v) return;
    uint64_t n;
    if (!count_field(s, r, x, data, "count", 1, MAX_STEPS_PER_REQUEST, &n)) return;
    json_t *steps = json_array();
    if (!steps) return fail(s, r, 503, x, "out of memory");
    weir_error err;
    for (uint64_t i = 0; i < n && !weir_state_finished(weir_exec_state(x->e)); i++) {
        weir_step st;
        if (weir_virtual_step(v, &st, &err)) {
            json_decref(steps);
            return fail_err(s, r, x, &err);
        }
        if (!st.stepped) break;
        json_array_append_new(steps, json_pack("{s:s,s:s?,s:I,s:b,s:b}", "nodeId", st.node, "port", st.port, "wave",
                                               (json_int_t)st.tick, "resumed", st.resumed, "waveDone", st.wave_done));
    }
    json_t *j = time_body(x);
    if (j) {
        json_object_set_new(j, "idle", json_boolean(json_array_size(steps) < n));
        json_object_set_new(j, "steps", steps);
    } else {
        json_decref(steps);
    }
    svc_answer(s, r, 200, j);
}

/* --------------------------------------------------------------- dispatch */

void svc_time_command(weir_service *s, svc_exec *x, svc_reply *r, const char *op, json_t *data) {
    if (data && !json_is_object(data)) return fail(s, r, 400, x, "%s takes a JSON object", op);
    if (strcmp(op, "runtime") == 0) runtime_cmd(s, x, r, data);
    else if (strcmp(op, "tick") == 0) tick_cmd(s, x, r, data);
    else if (strcmp(op, "advance") == 0) advance_cmd(s, x, r, data);
    else if (strcmp(op, "run") == 0) run_cmd(s, x, r, data);
    else if (strcmp(op, "step") == 0) step_cmd(s, x, r, data);
    else fail(s, r, 400, x, "unknown time command %s", op);
}

bool svc_time_schedule(weir_service *s, svc_exec *x, svc_reply *r, const weir_inject *in, json_t *data) {
    json_t *after = json_object_get(data, "afterTicks"), *at = json_object_get(data, "atTick");
    if (!after && !at) return false;
    if (after && at) {
        fail(s, r, 400, x, "give afterTicks or atTick, not both");
        return true;
    }
    json_t *n = after ? after : at;
    if (!json_is_integer(n) || json_integer_value(n) < (after ? 0 : 1)) {
        fail(s, r, 400, x, "%s must be an integer (%s)", after ? "afterTicks" : "atTick",
             after ? "0 or more ticks from now" : "a tick after the current one");
        return true;
    }
    weir_virtual *v = x->rt.virt;
    if (!v || weir_state_finished(weir_exec_state(x->e))) {
        virtual_of(s, x, r, after ? "afterTicks" : "atTick");
        return true;
    }
    weir_error err;
    if (weir_exec_check_inject(x->e, in, &err)) { /* a bad node or port is bad input, as for injects */
        fail(s, r, 400, x, "%s", err.message);
        return true;
    }
    uint64_t left = weir_virtual_max_tick(v) - weir_virtual_ticks(v);
    uint64_t ahead = after ? (uint64_t)json_integer_value(after) : 0;
    if (after && (ahead ? ahead : 1) > left) {
        fail(s, r, 400, x,
             "afterTicks %llu is past the end of the virtual clock's range: it is at tick %llu and can move %llu more "
             "ticks",
             (unsigned long long)ahead, (unsigned long long)weir_virtual_ticks(v), (unsigned long long)left);
        return true;
    }
    uint64_t tick = after ? weir_virtual_tick_after(v, ahead)
                          : (uint64_t)json_integer_value(at); /* past the range: weir_virtual_schedule says so */
    /* Journaled first (one the journal cannot take is not scheduled at
     * all); a tick that has passed or lies past the clock's range is
     * refused by weir_virtual_schedule, with nothing journaled. */
    bool fits = tick > weir_virtual_ticks(v) && tick <= weir_virtual_max_tick(v);
    int64_t due = fits ? weir_virtual_now(v) + (int64_t)(tick - weir_virtual_ticks(v)) * weir_virtual_tick_ms(v) : 0;
    if ((fits && svc_journal_schedule(x, in, due, &err)) || weir_virtual_schedule(v, in, tick, &err)) {
        fail_err(s, r, x, &err);
        return true;
    }
    s->injects_total++;
    svc_answer(s, r, 202,
               json_pack("{s:s,s:b,s:I,s:I}", "executionId", x->id, "scheduled", 1, "atTick", (json_int_t)tick,
                         "tick", (json_int_t)weir_virtual_ticks(v)));
    return true;
}

/* ------------------------------------------------------------- lifecycle */

void svc_time_init(weir_service *s) {
    uv_idle_init(s->loop, &s->play_idle);
    s->play_idle.data = s;
}
