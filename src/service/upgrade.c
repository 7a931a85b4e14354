/*
 * Change while running (POST /api/executions/:id/upgrade, execution:upgrade):
 * a running or paused execution moved to its graph's current stored version
 * (PUT /api/graphs/:id), or to the newest stored graph of its name with the
 * `graphVersion` asked for, at a wave boundary — the service handles
 * commands between waves; an open stepped wave is refused (409 "finish the
 * wave first").  What moves, what is dropped and what is cancelled is
 * weir_exec_upgrade's (weir.h); its report is the answer, with {from, to},
 * and subscribers get `execution:upgraded` {executionId, from, to, kept,
 * added, removed, cancelledEffects, tick}.
 *
 * The upgrade is an input (SPEC §7): its record (kind upgrade) carries the
 * new graph as START does — flattened, with the definitions of the user
 * components it uses and the expression limits it was loaded with — so the
 * journal stays self-contained: recovery, time travel, fork, import and
 * weir replay load that graph from the record and apply it again.
 */
#include <string.h>

#include "core/error.h"
#include "service/service_internal.h"

/* The graph x moves to, or NULL with err (404). */
static svc_graph *target(weir_service *s, svc_exec *x, const char *version, weir_error *err) {
    svc_graph *own = svc_graph_find(s, x->graph_id);
    if (!version) {
        if (!own)
            weir__error(err, WEIR_ENOTFOUND,
                        "graph %s of execution %s is no longer stored; name a stored version with graphVersion",
                        x->graph_id, x->id);
        return own;
    }
    const char *name = own ? weir_graph_name(own->g) : x->graph_name;
    svc_graph *found = NULL;
    for (svc_graph *g = s->graphs; g; g = g->next) {
        const char *v = weir_graph_version(g->g);
        if (strcmp(weir_graph_name(g->g), name) == 0 && v && strcmp(v, version) == 0) found = g; /* the newest */
    }
    if (!found)
        weir__error(err, WEIR_ENOTFOUND, "no stored graph \"%s\" has version \"%s\" (GET /api/graphs lists them)",
                    name, version);
    return found;
}

/* The record's body: what START carries of a graph. */
static json_t *record_body(weir_service *s, svc_graph *g) {
    json_t *doc = json_loads(g->flat ? g->flat : g->text, 0, NULL);
    json_t *comps = svc_graph_user_components(s, g->g);
    json_t *o = json_pack("{s:I,s:I}", "exprMaxSteps", (json_int_t)s->cfg.expr.max_steps, "exprMaxBytes",
                          (json_int_t)s->cfg.expr.max_bytes);
    json_t *b = doc && comps && o ? json_pack("{s:s,s:s,s:o,s:o,s:o}", "op", "upgrade", "graphId", g->id, "graph", doc,
                                              "components", comps, "options", o)
                                  : NULL;
    if (!b) {
        json_decref(doc);
        json_decref(comps);
        json_decref(o);
    }
    if (b && svc_graph_zones(b, g->g)) {
        json_decref(b);
        b = NULL;
    }
    return b;
}

/* {graphId, name, version?} (no version: the document has none) */
static json_t *graph_ref(const char *id, weir_graph *g) {
    json_t *j = json_pack("{s:s,s:s}", "graphId", id, "name", weir_graph_name(g));
    if (j && weir_graph_version(g)) json_object_set_new(j, "version", json_string(weir_graph_version(g)));
    return j;
}

int svc_exec_upgrade(weir_service *s, svc_exec *x, json_t *data, json_t **out, weir_error *err) {
    *out = NULL;
    json_t *v = json_object_get(data, "graphVersion");
    if (v && !json_is_null(v) && !json_is_string(v))
        return weir__error(err, WEIR_EINVAL,
                           "an upgrade is {\"graphVersion\"?: string}: the version of a stored graph of the same "
                           "name (leave it out for the graph's current stored version)");
    if (x->finished || weir_state_finished(weir_exec_state(x->e)))
        return weir__error(err, WEIR_ESTATE, "execution %s is %s: only a running or paused one is upgraded", x->id,
                           weir_state_name(weir_exec_state(x->e)));
    svc_graph *g = target(s, x, json_string_value(v), err);
    if (!g) return err->code;
    json_t *from = graph_ref(x->graph_id, weir_exec_graph(x->e));
    json_t *body = record_body(s, g);
    if (!from || !body) {
        json_decref(from);
        json_decref(body);
        return weir__error(err, WEIR_ENOMEM, "out of memory");
    }
    json_t *report = NULL;
    int rc = weir_exec_upgrade(x->e, g->g, body, svc_exec_now(x), &report, err);
    json_decref(body);
    if (rc) {
        json_decref(from);
        return rc;
    }
    svc_hooks_reattach(x);
    svc_views_exec_upgraded(s, x, g->id);
    snprintf(x->graph_id, sizeof x->graph_id, "%s", g->id);
    snprintf(x->graph_name, sizeof x->graph_name, "%s", weir_graph_name(g->g));
    json_object_set_new(report, "executionId", json_string(x->id));
    json_object_set_new(report, "from", from);
    json_object_set_new(report, "to", graph_ref(g->id, g->g));
    json_object_set_new(report, "tick", json_integer((json_int_t)weir_exec_tick(x->e)));
    json_object_set_new(report, "state", json_string(weir_state_name(weir_exec_state(x->e))));
    /* subscribers learn of it (the graph they draw changed): the shell's own event, as runtime:changed */
    weir_exec_event(x->e, "execution:upgraded",
                    json_pack("{s:s,s:O,s:O,s:O,s:O,s:O,s:O,s:I}", "executionId", x->id, "from",
                              json_object_get(report, "from"), "to", json_object_get(report, "to"), "kept",
                              json_object_get(report, "kept"), "added", json_object_get(report, "added"), "removed",
                              json_object_get(report, "removed"), "cancelledEffects",
                              json_object_get(report, "cancelledEffects"), "tick",
                              (json_int_t)weir_exec_tick(x->e)));
    json_t *f = json_pack("{s:s,s:s,s:O}", "executionId", x->id, "graphId", g->id, "removed",
                          json_object_get(report, "removed"));
    weir_service_log(s, WEIR_LOG_INFO, f, "execution %s upgraded to graph %s", x->id, g->id);
    json_decref(f);
    *out = report;
    return 0;
}
