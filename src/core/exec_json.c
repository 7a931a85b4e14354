/* Events (SPEC §5) and metrics (SPEC §3.1) of an execution, as JSON. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/exec_internal.h"

void weir__iso8601(int64_t ms, char buf[32]) {
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int milli = (int)(ms - (int64_t)secs * 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char tmp[96];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
    snprintf(buf, 32, "%.31s", tmp);
}

char *weir__node_port(const weir_exec *e, uint32_t node, uint32_t port, bool input) {
    const weir_node *n = &e->g->nodes[node];
    const char *p = input ? n->inputs[port] : n->outputs[port];
    size_t a = strlen(n->id), b = strlen(p);
    char *s = weir__malloc(a + b + 2);
    if (!s) return NULL;
    memcpy(s, n->id, a);
    s[a] = ':';
    memcpy(s + a + 1, p, b + 1);
    return s;
}

void weir__exec_event(weir_exec *e, const char *name, json_t *data) {
    if (!data) return; /* out of memory building it: the event is lost, the execution is not */
    if (e->sh.event) e->sh.event(e->sh.ud, e, ++e->seq, name, data);
    json_decref(data);
}

static const char *const kind_names[] = {
    "execution:started", "execution:paused", "execution:resumed", "execution:completed", "execution:failed",
    "execution:cancelled", "execution:state", "port:emit", "component:invoked", "component:error", "log", "output",
    "message:dropped", "metrics:update", "runtime:changed", "time:advanced"};
_Static_assert(sizeof kind_names / sizeof *kind_names == 16, "one name per WEIR_EV_* bit");

uint32_t weir_event_kind(const char *name) {
    for (unsigned i = 0; name && i < sizeof kind_names / sizeof *kind_names; i++)
        if (strcmp(kind_names[i], name) == 0) return 1u << i;
    return 0;
}

const char *weir_event_name(uint32_t kind) {
    for (unsigned i = 0; i < sizeof kind_names / sizeof *kind_names; i++)
        if (kind == 1u << i) return kind_names[i];
    return NULL;
}

/* Does text match pattern, where `*` is any run of characters? */
static bool glob_match(const char *p, const char *t) {
    const char *star = NULL, *resume = NULL;
    while (*t) {
        if (*p == '*') {
            star = p++;
            resume = t;
        } else if (*p == *t) {
            p++;
            t++;
        } else if (star) {
            p = star + 1;
            t = ++resume;
        } else {
            return false;
        }
    }
    while (*p == '*') p++;
    return *p == '\0';
}

uint32_t weir_event_mask(const char *pattern) {
    uint32_t mask = 0;
    for (unsigned i = 0; pattern && i < sizeof kind_names / sizeof *kind_names; i++)
        if (glob_match(pattern, kind_names[i])) mask |= 1u << i;
    return mask;
}

void weir__event_state(weir_exec *e, weir_state prev) {
    weir__exec_event(e, "execution:state", json_pack("{s:s,s:s,s:s,s:I}", "executionId", e->id, "state",
                                                     weir_state_name(e->state), "previous", weir_state_name(prev),
                                                     "tick", (json_int_t)e->tick));
}

/* Members of a per-hop event: built without format parsing or UTF-8
 * checks (node ids and port names came through the graph's JSON).  False
 * when out of memory. */
static bool put_str(json_t *o, const char *key, const char *v) {
    return json_object_set_new_nocheck(o, key, json_string_nocheck(v)) == 0;
}
static bool put_int(json_t *o, const char *key, json_int_t v) {
    return json_object_set_new_nocheck(o, key, json_integer(v)) == 0;
}

/* {executionId, ...}: the id's string is made once per execution. */
static json_t *event_object(weir_exec *e) {
    if (!e->id_json && !(e->id_json = json_string(e->id))) return NULL;
    json_t *o = json_object();
    if (o && json_object_set_nocheck(o, "executionId", e->id_json)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

void weir__event_port_emit(weir_exec *e, uint32_t from, uint32_t from_port, const weir_route *r, json_t *value) {
    const weir_node *s = &e->g->nodes[from], *t = &e->g->nodes[r->target];
    json_t *o = event_object(e);
    if (o && !(put_str(o, "sourceNode", s->id) && put_str(o, "sourcePort", s->outputs[from_port]) &&
               put_str(o, "targetNode", t->id) && put_str(o, "targetPort", t->inputs[r->target_port]) &&
               json_object_set_nocheck(o, "value", value) == 0 && put_int(o, "sequence", (json_int_t)e->emitted_edges) &&
               put_int(o, "tick", (json_int_t)e->tick))) {
        json_decref(o);
        o = NULL;
    }
    weir__exec_event(e, "port:emit", o);
}

void weir__event_invoked(weir_exec *e, uint32_t node, uint32_t port) {
    const weir_node *n = &e->g->nodes[node];
    json_t *o = event_object(e);
    if (o && !(put_str(o, "nodeId", n->id) && put_str(o, "port", n->inputs[port]) &&
               put_int(o, "tick", (json_int_t)e->tick))) {
        json_decref(o);
        o = NULL;
    }
    weir__exec_event(e, "component:invoked", o);
}

void weir__event_component_error(weir_exec *e, uint32_t node, json_t *value) {
    weir__exec_event(e, "component:error", json_pack("{s:s,s:s,s:O,s:I}", "executionId", e->id, "nodeId",
                                                     e->g->nodes[node].id, "error", value, "tick", (json_int_t)e->tick));
}

/* One node's state: its component's view, or its key/value map. */
static json_t *node_state(weir_exec *e, uint32_t v) {
    weir_inst *in = &e->inst[v];
    const weir_component *c = e->g->nodes[v].comp;
    if (c->state) return c->state(&in->ctx);
    return in->kv ? json_copy(in->kv) : json_object(); /* values are immutable: shared */
}

json_t *weir_exec_states(weir_exec *e) {
    json_t *o = json_object();
    for (uint32_t v = 0; o && v < e->g->n_nodes; v++) {
        if (json_object_set_new_nocheck(o, e->g->nodes[v].id, node_state(e, v))) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

json_t *weir_exec_node_state(weir_exec *e, const char *node_id) {
    uint32_t v = node_id ? weir__graph_node(e->g, node_id) : WEIR_NONE;
    return v == WEIR_NONE ? NULL : node_state(e, v);
}

static double ms_of(int64_t ns) { return (double)ns / 1e6; }

json_t *weir_exec_metrics(const weir_exec *e, int64_t now_ms) {
    json_t *nodes = json_object();
    for (uint32_t v = 0; nodes && v < e->g->n_nodes; v++) {
        const weir_inst *in = &e->inst[v];
        json_object_set_new(
            nodes, e->g->nodes[v].id,
            json_pack("{s:I,s:I,s:I,s:f,s:f}", "invocations", (json_int_t)in->invocations, "emitted",
                      (json_int_t)in->emitted, "errors", (json_int_t)in->errors, "avgLatencyMs",
                      in->lat_weight ? ms_of(in->lat_sum_ns) / (double)in->lat_weight : 0.0, "maxLatencyMs",
                      ms_of(in->lat_max_ns)));
    }
    char started[32] = "";
    if (e->started) weir__iso8601(e->started_ms, started);
    int64_t end = weir_state_finished(e->state) ? e->finished_ms : now_ms;
    return json_pack("{s:I,s:I,s:I,s:f,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:s?,s:I,s:o}", "messagesProcessed",
                     (json_int_t)e->processed, "messagesEmitted", (json_int_t)e->emitted_edges,
                     "componentInvocations", (json_int_t)e->invocations, "avgLatencyMs",
                     e->lat_weight ? ms_of(e->lat_sum_ns) / (double)e->lat_weight : 0.0, "maxLatencyMs",
                     ms_of(e->lat_max_ns), "errorCount", (json_int_t)e->errors, "backpressureEvents",
                     (json_int_t)e->backpressure, "droppedMessages", (json_int_t)e->dropped, "queueDepth",
                     (json_int_t)e->q_len, "pendingEffects", (json_int_t)e->fx_live_user, "ticks",
                     (json_int_t)e->tick, "startedAt", e->started ? started : NULL, "uptimeMs",
                     (json_int_t)(e->started && end > e->started_ms ? end - e->started_ms : 0), "nodes", nodes);
}

static const char *completion_name(weir_completion c) { return c == WEIR_COMPLETION_NEVER ? "never" : "auto"; }

json_t *weir_exec_json(const weir_exec *e) {
    char started[32], done[32];
    weir__iso8601(e->started_ms, started);
    weir__iso8601(e->finished_ms, done);
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s?,s:I}", "executionId", e->id, "graphId", e->g->id, "state",
                          weir_state_name(e->state), "runtime", e->runtime, "completion",
                          completion_name(e->completion), "onError",
                          e->on_error == WEIR_ON_ERROR_CONTINUE ? "continue" : "fail", "startedAt",
                          e->started ? started : NULL, "timeoutMs", (json_int_t)e->timeout_ms);
    if (j && weir_state_finished(e->state)) json_object_set_new(j, "completedAt", json_string(done));
    if (j && e->error) json_object_set(j, "error", e->error);
    return j;
}
