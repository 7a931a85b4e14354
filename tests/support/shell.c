#include "shell.h"

#include <stdlib.h>
#include <string.h>

static void on_effect(void *ud, weir_exec *e, const weir_effect *eff) {
    (void)e;
    test_shell *ts = ud;
    if (eff->kind == WEIR_EFFECT_LOG) {
        json_array_append(ts->logs, eff->payload);
        return;
    }
    json_array_append_new(ts->effects, json_pack("{s:I,s:s,s:s?,s:O}", "id", (json_int_t)eff->id, "kind",
                                                 weir_effect_kind_name(eff->kind), "node", eff->node_id, "payload",
                                                 eff->payload));
}

static void on_cancel(void *ud, weir_exec *e, uint64_t id) {
    (void)e;
    json_array_append_new(((test_shell *)ud)->cancelled, json_integer((json_int_t)id));
}

static int64_t on_clock(void *ud) {
    test_shell *ts = ud;
    ts->clock_reads++;
    return ts->clock_ns += ts->clock_step ? ts->clock_step : 1000;
}

static void on_event(void *ud, weir_exec *e, uint64_t seq, const char *name, json_t *data) {
    (void)e;
    json_array_append_new(((test_shell *)ud)->events,
                          json_pack("{s:I,s:s,s:O}", "seq", (json_int_t)seq, "event", name, "data", data));
}

static void on_settled(void *ud, weir_exec *e, const weir_settled *s) {
    (void)e;
    json_array_append_new(((test_shell *)ud)->settled,
                          json_pack("{s:I,s:O?,s:O?,s:I,s:i,s:O?}", "injectId", (json_int_t)s->inject_id, "outputs",
                                    s->outputs, "trace", s->trace, "hops", (json_int_t)s->hops, "status", s->status,
                                    "error", s->error));
}

static void on_finished(void *ud, weir_exec *e) {
    (void)e;
    ((test_shell *)ud)->finished++;
}

void ts_init(test_shell *ts, bool with_events) {
    memset(ts, 0, sizeof *ts);
    cr_assert_eq(weir_registry_create(&ts->reg), 0);
    ts->events = json_array();
    ts->effects = json_array();
    ts->logs = json_array();
    ts->cancelled = json_array();
    ts->settled = json_array();
    ts->sh.effect_ud = ts;
    ts->sh.effect = on_effect;
    ts->sh.cancel = on_cancel;
    ts->sh.clock_ns = on_clock;
    ts->sh.ud = ts;
    ts->sh.event = with_events ? on_event : NULL;
    ts->sh.settled = on_settled;
    ts->sh.finished = on_finished;
}

void ts_fini(test_shell *ts) {
    json_decref(ts->events);
    json_decref(ts->effects);
    json_decref(ts->logs);
    json_decref(ts->cancelled);
    json_decref(ts->settled);
    weir_registry_destroy(ts->reg);
}

weir_graph *ts_graph(test_shell *ts, const char *json) {
    weir_graph *g = NULL;
    weir_error err;
    int rc = weir_graph_load_text(ts->reg, json, strlen(json), ts->graph_opts, &g, &err);
    cr_assert_eq(rc, 0, "graph load failed: %s", err.message);
    return g;
}

const char *ts_graph_error(test_shell *ts, const char *json) {
    static weir_error err;
    weir_graph *g = NULL;
    int rc = weir_graph_load_text(ts->reg, json, strlen(json), ts->graph_opts, &g, &err);
    cr_assert_neq(rc, 0, "graph loaded but should not have");
    cr_assert_null(g);
    return err.message;
}

weir_exec *ts_start(test_shell *ts, weir_graph *g, const weir_exec_options *opts) {
    weir_exec *e = NULL;
    weir_error err;
    weir_exec_options o = opts ? *opts : (weir_exec_options){.id = "x1", .timeout_ms = -1};
    cr_assert_eq(weir_exec_create(g, &o, &ts->sh, &e, &err), 0, "%s", err.message);
    cr_assert_eq(weir_exec_start(e, 0, &err), 0, "%s", err.message);
    return e;
}

int ts_inject(test_shell *ts, weir_exec *e, const char *node, const char *port, const char *value_json, int64_t now) {
    (void)ts;
    json_t *v = json_loads(value_json, JSON_DECODE_ANY, NULL);
    cr_assert_not_null(v, "bad test JSON %s", value_json);
    weir_inject in = {.node = node, .port = port, .value = v, .flags = WEIR_INJECT_OUTPUTS | WEIR_INJECT_TRACE};
    weir_error err;
    int rc = weir_exec_inject(e, &in, now, NULL, &err);
    json_decref(v);
    return rc;
}

json_t *ts_last_settled(test_shell *ts) {
    size_t n = json_array_size(ts->settled);
    return n ? json_array_get(ts->settled, n - 1) : NULL;
}

uint64_t ts_effect_id(test_shell *ts, size_t i) {
    json_t *eff = json_array_get(ts->effects, i);
    cr_assert_not_null(eff, "no effect #%zu (have %zu)", i, json_array_size(ts->effects));
    return (uint64_t)json_integer_value(json_object_get(eff, "id"));
}

size_t ts_count_events(test_shell *ts, const char *name) {
    size_t n = 0, i;
    json_t *ev;
    json_array_foreach(ts->events, i, ev) if (strcmp(json_string_value(json_object_get(ev, "event")), name) == 0) n++;
    return n;
}

const char *ts_dump(json_t *v) {
    static char buf[8192];
    char *s = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    snprintf(buf, sizeof buf, "%s", s ? s : "(null)");
    free(s);
    return buf;
}

static void strip_timing(json_t *v) {
    if (json_is_object(v)) {
        json_object_del(v, "avgLatencyMs");
        json_object_del(v, "maxLatencyMs");
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c) strip_timing(c);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) strip_timing(c);
    }
}

char *ts_events_text(test_shell *ts) {
    json_t *copy = json_deep_copy(ts->events);
    strip_timing(copy);
    char *s = json_dumps(copy, JSON_COMPACT);
    json_decref(copy);
    return s;
}
