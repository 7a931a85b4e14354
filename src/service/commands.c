/*
 * Client commands over the event sockets (SPEC §5), the same for /ws and
 * Socket.IO: each is answered once — an acknowledgement carrying the result
 * or {"error": ...} when the client asked for one; otherwise an `error`
 * event on failure, and for subscribe and inject the direct event the
 * Symbia runtime sent (`execution:state`, `execution:injected`).
 */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "service/service_internal.h"

typedef struct cmd {
    weir_service *s;
    svc_client *c;
    json_t *data;
    svc_reply r;
} cmd;

static void fail(cmd *k, int status, json_t *body) { svc_answer(k->s, &k->r, status, body); }

/* The execution named by data.executionId, or NULL (answered). */
static svc_exec *exec_of(cmd *k) {
    const char *id = json_string_value(json_object_get(k->data, "executionId"));
    if (!id) {
        fail(k, 400, svc_error_body("executionId (a string) is required"));
        return NULL;
    }
    svc_exec *x = svc_exec_find(k->s, id);
    if (!x) {
        json_t *b = svc_error_body("execution %s not found", id);
        json_object_set_new(b, "executionId", json_string(id));
        fail(k, 404, b);
    }
    return x;
}

static void fail_exec(cmd *k, svc_exec *x, const weir_error *err) {
    json_t *b = svc_error_of(err);
    json_object_set_new(b, "executionId", json_string(x->id));
    fail(k, svc_status_of(err->code), b);
}

/* "execution:started, execution:paused, ..." */
static void kind_list(char *out, size_t cap) {
    size_t o = 0;
    out[0] = '\0';
    for (uint32_t bit = 1; bit & WEIR_EV_ALL; bit <<= 1) {
        int n = snprintf(out + o, cap - o, "%s%s", o ? ", " : "", weir_event_name(bit));
        if (n < 0 || (size_t)n >= cap - o) break;
        o += (size_t)n;
    }
}

/* The kinds a subscribe's `events` asks for (absent or null: all), or NEW
 * the error body saying what is wrong with it (SPEC §5). */
static json_t *events_mask(json_t *events, uint32_t *mask) {
    *mask = WEIR_EV_ALL;
    if (!events || json_is_null(events)) return NULL;
    char kinds[600];
    kind_list(kinds, sizeof kinds);
    if (!json_is_array(events) || json_array_size(events) == 0)
        return svc_error_body("events must be a non-empty array of event names or globs, e.g. [\"metrics:update\", "
                              "\"execution:*\"] (leave it out for every event); the kinds are %s",
                              kinds);
    *mask = 0;
    size_t i;
    json_t *v;
    json_array_foreach(events, i, v) {
        const char *p = json_string_value(v);
        if (!p) return svc_error_body("events[%zu] is not a string: events lists event names or globs", i);
        uint32_t m = weir_event_mask(p);
        if (!m) return svc_error_body("events[%zu] \"%.100s\" names no event kind; the kinds are %s", i, p, kinds);
        *mask |= m;
    }
    return NULL;
}

static void subscribe(cmd *k) {
    svc_exec *x = exec_of(k);
    if (!x) return;
    json_t *since_v = json_object_get(k->data, "since");
    if (since_v && !json_is_null(since_v) && (!json_is_integer(since_v) || json_integer_value(since_v) < 0))
        return fail(k, 400, svc_error_body("since must be a non-negative integer: the seq of the last event seen"));
    int64_t since = json_is_integer(since_v) ? json_integer_value(since_v) : -1;
    json_t *rate_v = json_object_get(k->data, "rate");
    if (rate_v && !json_is_null(rate_v) &&
        (!json_is_integer(rate_v) || json_integer_value(rate_v) < 1 || json_integer_value(rate_v) > 1000000))
        return fail(k, 400, svc_error_body("rate must be a whole number from 1 to 1000000: at most that many per-hop, "
                                           "output and log events a second (the rest are counted in events:skipped)"));
    uint32_t rate = json_is_integer(rate_v) ? (uint32_t)json_integer_value(rate_v) : 0;
    json_t *batch_v = json_object_get(k->data, "batch");
    if (batch_v && !json_is_null(batch_v) && !json_is_boolean(batch_v))
        return fail(k, 400, svc_error_body("batch must be true or false: true sends the events as `events` batches "
                                           "{executionId, events: [{event, data}, ...]} instead of one message each"));
    uint32_t mask;
    json_t *bad = events_mask(json_object_get(k->data, "events"), &mask);
    if (bad) {
        json_object_set_new(bad, "executionId", json_string(x->id));
        return fail(k, 400, bad);
    }
    weir_error err;
    /* What it is told first shows the execution as it is: durable first
     * (the snapshot and a resync go out at once, not held). */
    if (svc_journal_settle(x, &err)) return fail_exec(k, x, &err);
    svc_feed *f = svc_exec_feed(x, &err);
    if (!f || svc_feed_attach(f, k->c, mask, rate, json_is_true(batch_v), &err)) return fail_exec(k, x, &err);
    k->r.event = "execution:state";
    svc_answer(k->s, &k->r, 200, svc_exec_snapshot(x));
    svc_feed_replay(f, k->c, since); /* after the answer: the snapshot comes first */
}

static void unsubscribe(cmd *k) {
    svc_exec *x = exec_of(k);
    if (!x) return;
    bool was = svc_feed_unsubscribe(x->feed, k->c);
    svc_answer(k->s, &k->r, 200, json_pack("{s:s,s:b}", "executionId", x->id, "unsubscribed", was));
}

static void start(cmd *k) {
    const char *gid = json_string_value(json_object_get(k->data, "graphId"));
    if (!gid) return fail(k, 400, svc_error_body("graphId (a string) is required"));
    svc_graph *g = svc_graph_find(k->s, gid);
    if (!g) {
        json_t *b = svc_error_body("graph %s not found", gid);
        json_object_set_new(b, "graphId", json_string(gid));
        return fail(k, 404, b);
    }
    svc_exec *x;
    weir_error err;
    /* the client is subscribed before it starts, so it sees execution:started */
    if (svc_exec_start(k->s, g, k->data, k->c, &x, &err)) {
        json_t *b = svc_error_of(&err);
        json_object_set_new(b, "graphId", json_string(gid));
        return fail(k, svc_status_of(err.code), b);
    }
    svc_answer(k->s, &k->r, 201, svc_exec_summary(x));
}

static void pause_or_resume(cmd *k, bool pause) {
    svc_exec *x = exec_of(k);
    if (!x) return;
    weir_error err;
    if (pause) svc_play_stop(x, "pause"); /* virtual: pause stops playing too */
    int rc = pause ? weir_exec_pause(x->e, svc_exec_now(x), &err) : weir_exec_resume(x->e, svc_exec_now(x), &err);
    if (rc) return fail_exec(k, x, &err);
    svc_answer(k->s, &k->r, 200, svc_exec_summary(x));
}

static void pause_cmd(cmd *k) { pause_or_resume(k, true); }
static void resume_cmd(cmd *k) { pause_or_resume(k, false); }

static void stop(cmd *k) {
    svc_exec *x = exec_of(k);
    if (!x) return;
    weir_error err;
    size_t discarded = 0;
    if (weir_exec_stop(x->e, svc_exec_now(x), &discarded, &err)) return fail_exec(k, x, &err);
    json_t *j = svc_exec_summary(x);
    if (j) json_object_set_new(j, "discarded", json_integer((json_int_t)discarded));
    svc_answer(k->s, &k->r, 200, j);
}

static void inject(cmd *k) {
    svc_exec *x = exec_of(k);
    if (!x) return;
    const char *node = json_string_value(json_object_get(k->data, "nodeId"));
    json_t *value = json_object_get(k->data, "value");
    json_t *port = json_object_get(k->data, "port");
    json_t *wait_v = json_object_get(k->data, "wait");
    if (!node || !value || (port && !json_is_string(port)) || (wait_v && !json_is_boolean(wait_v)))
        return fail(k, 400, svc_error_body("an inject is {\"executionId\": string, \"nodeId\": string, \"port\"?: "
                                           "string, \"value\": any, \"wait\"?: boolean, \"trace\"?: boolean}"));
    bool wait = !wait_v || json_is_true(wait_v);
    unsigned flags = 0;
    if (wait) {
        flags = WEIR_INJECT_OUTPUTS;
        if (json_is_true(json_object_get(k->data, "trace"))) flags |= WEIR_INJECT_TRACE;
    }
    weir_inject in = {.node = node, .port = json_string_value(port), .value = value, .flags = flags};
    k->r.event = "execution:injected";
    if (!svc_time_schedule(k->s, x, &k->r, &in, k->data))
        svc_inject(k->s, x, &k->r, &in, wait); /* takes over the reply (and its client reference) */
    k->r.client = NULL;
}

/* execution:runtime|tick|advance|run|step: the time commands of SPEC §4.5. */
static void time_cmd(cmd *k, const char *op) {
    svc_exec *x = exec_of(k);
    if (!x) return;
    svc_time_command(k->s, x, &k->r, op, k->data); /* answers (a run: when it ends) */
    k->r.client = NULL;
}

/* execution:state {executionId, nodeId?, atTick?}: the node states now, or
 * as of a tick of the journal (SPEC §7.2). */
static void state_cmd(cmd *k) {
    svc_exec *x = exec_of(k);
    if (!x) return;
    json_t *node = json_object_get(k->data, "nodeId"), *at = json_object_get(k->data, "atTick");
    char tick[32] = "";
    if (json_is_integer(at) && json_integer_value(at) >= 0)
        snprintf(tick, sizeof tick, "%lld", (long long)json_integer_value(at));
    else if (json_is_string(at) && strcmp(json_string_value(at), "latest") == 0)
        snprintf(tick, sizeof tick, "latest");
    if ((node && !json_is_string(node)) || (at && !tick[0]))
        return fail(k, 400, svc_error_body("execution:state is {\"executionId\": string, \"nodeId\"?: string, "
                                           "\"atTick\"?: a tick or \"latest\"}"));
    json_t *body;
    weir_error err;
    if (svc_state_body(k->s, x, json_string_value(node), at ? tick : NULL, &body, &err)) return fail_exec(k, x, &err);
    svc_answer(k->s, &k->r, 200, body);
}

/* execution:fork {executionId, atTick, runtime?, options?} (SPEC §7.2). */
static void fork_cmd(cmd *k) {
    svc_exec *x = exec_of(k);
    if (!x) return;
    json_t *at = json_object_get(k->data, "atTick"), *rt = json_object_get(k->data, "runtime"),
           *opts = json_object_get(k->data, "options");
    bool latest = json_is_string(at) && strcmp(json_string_value(at), "latest") == 0;
    if ((!latest && (!json_is_integer(at) || json_integer_value(at) < 0)) || (rt && !json_is_string(rt)) ||
        (opts && !json_is_object(opts)))
        return fail(k, 400, svc_error_body("execution:fork is {\"executionId\": string, \"atTick\": a tick or "
                                           "\"latest\", \"runtime\"?: string, \"options\"?: object}"));
    svc_exec *f;
    weir_error err;
    if (svc_travel_fork(k->s, x, latest ? 0 : (uint64_t)json_integer_value(at), latest, json_string_value(rt), opts,
                        &f, &err))
        return fail_exec(k, x, &err);
    json_t *j = svc_exec_summary(f);
    json_object_set_new(j, "forkOf", json_pack("{s:s,s:O}", "executionId", x->id, "atTick", at));
    svc_answer(k->s, &k->r, 201, j);
}

/* execution:upgrade {executionId, graphVersion?} (upgrade.c). */
static void upgrade_cmd(cmd *k) {
    svc_exec *x = exec_of(k);
    if (!x) return;
    json_t *report;
    weir_error err;
    if (svc_exec_upgrade(k->s, x, k->data, &report, &err)) return fail_exec(k, x, &err);
    svc_answer(k->s, &k->r, 200, report);
}

static void runtime_cmd(cmd *k) { time_cmd(k, "runtime"); }
static void tick_cmd(cmd *k) { time_cmd(k, "tick"); }
static void advance_cmd(cmd *k) { time_cmd(k, "advance"); }
static void run_cmd(cmd *k) { time_cmd(k, "run"); }
static void step_cmd(cmd *k) { time_cmd(k, "step"); }

/* view:subscribe / view:unsubscribe (SPEC §8, views.c). */
static void view_sub_cmd(cmd *k) {
    svc_view_subscribe(k->s, &k->r, k->c, k->data);
    k->r.client = NULL;
}
static void view_unsub_cmd(cmd *k) {
    svc_view_unsubscribe(k->s, &k->r, k->c, k->data);
    k->r.client = NULL;
}

static const struct {
    const char *name;
    void (*fn)(cmd *k);
} COMMANDS[] = {
    {"execution:subscribe", subscribe}, {"execution:unsubscribe", unsubscribe}, {"execution:start", start},
    {"execution:pause", pause_cmd},     {"execution:resume", resume_cmd},       {"execution:stop", stop},
    {"execution:inject", inject},       {"execution:runtime", runtime_cmd},     {"execution:tick", tick_cmd},
    {"execution:advance", advance_cmd}, {"execution:run", run_cmd},             {"execution:step", step_cmd},
    {"execution:state", state_cmd},     {"execution:fork", fork_cmd},           {"view:subscribe", view_sub_cmd},
    {"view:unsubscribe", view_unsub_cmd}, {"execution:upgrade", upgrade_cmd},
};

void svc_command(void *svc, svc_client *c, const char *name, json_t *data, int64_t ack_id) {
    svc_client_ref(c); /* the reply's */
    cmd k = {svc, c, data, {.client = c, .ack_id = ack_id, .start_ns = uv_hrtime()}};
    size_t n = sizeof COMMANDS / sizeof COMMANDS[0];
    for (size_t i = 0; i < n; i++) {
        if (strcmp(name, COMMANDS[i].name) != 0) continue;
        if (!json_is_object(data)) return fail(&k, 400, svc_error_body("%s takes an object", name));
        if (k.s->shutting_down && strcmp(name, "execution:unsubscribe") != 0 && strcmp(name, "view:unsubscribe") != 0)
            return fail(&k, 503, svc_error_body("the server is shutting down"));
        return COMMANDS[i].fn(&k);
    }
    fail(&k, 400, svc_error_body("unknown command \"%s\"; the commands are execution:subscribe, "
                                 "execution:unsubscribe, execution:start, execution:pause, execution:resume, "
                                 "execution:stop, execution:inject, execution:state, execution:fork, execution:upgrade, and "
                                 "for time "
                                 "execution:runtime, execution:tick, execution:advance, execution:run and "
                                 "execution:step; for live views view:subscribe and view:unsubscribe",
                                 name));
}
