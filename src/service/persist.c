/*
 * The service's side of the store (SPEC §7, first slice): open it in
 * DATA_DIR at start and restore the stored components (through the
 * component host's hook) and graphs; store each graph before its 201 and
 * delete it with DELETE; store and delete components for the component
 * host.  Executions are journaled by journal.c.
 */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "service/service_internal.h"

typedef struct restore {
    weir_service *s;
    size_t loaded, skipped;
    weir_error fatal; /* out of memory: the start fails */
} restore;

static json_t *parse(const char *text, weir_error *err) {
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    if (!doc) weir__error(err, WEIR_EGRAPH, "its stored definition is not valid JSON (line %d: %s)", je.line, je.text);
    return doc;
}

/* Count an outcome: loaded, or out of memory (kept in r->fatal: the start
 * fails), or skipped — true then: the caller says why in the log. */
static bool skipped(restore *r, int rc, const weir_error *err) {
    if (rc == WEIR_ENOMEM) r->fatal = *err;
    else if (!rc) r->loaded++;
    else {
        r->skipped++;
        return true;
    }
    return false;
}

static int restore_component(void *ud, const char *id, const char *version, const char *definition) {
    restore *r = ud;
    weir_service *s = r->s;
    weir_error err = {0};
    json_t *def = parse(definition, &err);
    /* cfg.component_restore is always set: the service's own, unless the embedder gave one */
    int rc = def ? s->cfg.component_restore(s->cfg.component_restore_ud, s, id, version, def, &err) : err.code;
    json_decref(def);
    if (!skipped(r, rc, &err)) return rc == WEIR_ENOMEM ? rc : 0;
    json_t *f = json_pack("{s:s,s:s?}", "componentId", id, "version", version);
    weir_service_log(s, WEIR_LOG_WARN, f, "stored component %s was not loaded and is skipped (it stays stored): %s",
                     id, err.message);
    json_decref(f);
    return 0;
}

static int restore_graph(void *ud, const char *id, const char *name, int64_t created_ms, const char *definition) {
    restore *r = ud;
    weir_service *s = r->s;
    weir_error err = {0};
    svc_graph *g;
    int rc;
    rc = svc_graph_restore_text(s, definition, id, created_ms, &g, &err);
    if (rc == WEIR_EGRAPH) { /* it does not load: the document path says why, as it always has */
        json_t *doc = parse(definition, &err);
        rc = doc ? svc_graph_restore(s, doc, id, created_ms, &g, &err) : err.code;
        json_decref(doc);
    }
    if (!skipped(r, rc, &err)) return rc == WEIR_ENOMEM ? rc : 0;
    json_t *f = json_pack("{s:s,s:s}", "graphId", id, "name", name);
    weir_service_log(s, WEIR_LOG_WARN, f,
                     "stored graph %s (\"%s\") no longer loads and is skipped (it stays stored and loads again once "
                     "what it needs is back): %s",
                     id, name, err.message);
    json_t *doc = json_loads(definition, 0, NULL);
    if (json_is_true(json_object_get(json_object_get(doc, "metadata"), "autostart")))
        weir_service_log(s, WEIR_LOG_ERROR, f, "autostart: graph %s (\"%s\") is not started: it does not load", id,
                         name);
    json_decref(doc);
    json_decref(f);
    return 0;
}

int svc_persist_open(weir_service *s, weir_error *err) {
    if (!s->cfg.data_dir) {
        weir_service_log(s, WEIR_LOG_INFO, NULL,
                         "data: in memory (--memory): graphs, components and executions are lost when weir stops");
        return 0;
    }
    int rc = weir_store_open(s->cfg.data_dir, &s->store, err);
    if (rc) return rc == WEIR_ENOMEM ? rc : WEIR_EINVAL; /* DATA_DIR cannot be used: a setting to fix */
    restore comps = {.s = s}, graphs = {.s = s};
    /* components first: the graphs may use them */
    rc = weir_store_component_list(s->store, restore_component, &comps, err);
    if (!rc) rc = weir_store_graph_list(s->store, restore_graph, &graphs, err);
    if (rc) {
        if (comps.fatal.code) *err = comps.fatal;
        else if (graphs.fatal.code) *err = graphs.fatal;
        svc_persist_close(s);
        return rc == WEIR_ENOMEM ? rc : WEIR_EIO;
    }
    json_t *f = json_pack("{s:s,s:I,s:I,s:I,s:I}", "dataPath", weir_store_path(s->store), "graphs",
                          (json_int_t)graphs.loaded, "graphsSkipped", (json_int_t)graphs.skipped, "components",
                          (json_int_t)comps.loaded, "componentsSkipped", (json_int_t)comps.skipped);
    weir_service_log(s, WEIR_LOG_INFO, f,
                     "data: %s (%zu graph%s and %zu component%s restored%s)",
                     weir_store_path(s->store), graphs.loaded, graphs.loaded == 1 ? "" : "s", comps.loaded,
                     comps.loaded == 1 ? "" : "s", graphs.skipped || comps.skipped ? ", some skipped: see above" : "");
    json_decref(f);
    return 0;
}

void svc_persist_close(weir_service *s) {
    weir_store_close(s->store);
    s->store = NULL;
}

/* A store error as the service reports it: WEIR_ENOMEM, else WEIR_EIO
 * (503) with what was not done in front of the store's reason. */
static int store_failed(int rc, weir_error *err, const char *what) {
    if (rc == WEIR_ENOMEM) return rc;
    char reason[WEIR_ERROR_MAX];
    snprintf(reason, sizeof reason, "%s", err ? err->message : "");
    return weir__error(err, WEIR_EIO, "%s: %s", what, reason);
}

static char *dump(json_t *doc) { return json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY); }

int svc_graph_persist(weir_service *s, const svc_graph *g, weir_error *err) {
    if (!s->store) return 0;
    int rc = weir_store_graph_put(s->store, g->id, weir_graph_name(g->g), g->created_ms, g->text, err);
    return rc ? store_failed(rc, err, "the graph was not stored, so it was not added") : 0;
}

int svc_graph_delete(weir_service *s, svc_graph *g, weir_error *err) {
    int rc = s->store ? weir_store_graph_delete(s->store, g->id, err) : 0;
    if (rc) {
        char what[128];
        snprintf(what, sizeof what, "graph %s was not deleted from the store, so it stays", g->id);
        return store_failed(rc, err, what);
    }
    svc_graph_remove(s, g);
    return 0;
}

int svc_store_component(weir_service *s, const char *id, const char *version, json_t *def, weir_error *err) {
    if (!s->store) return 0;
    char *text = dump(def);
    if (!text) return weir__error(err, WEIR_ENOMEM, "out of memory");
    int rc = weir_store_component_put(s->store, id, version, text, err);
    weir__free(text);
    return rc ? store_failed(rc, err, "the component was not stored") : 0;
}

int svc_unstore_component(weir_service *s, const char *id, weir_error *err) {
    int rc = s->store ? weir_store_component_delete(s->store, id, err) : 0;
    return rc ? store_failed(rc, err, "the component was not deleted from the store") : 0;
}
