/*
 * User components in the service (SPEC §2.3, §6): POST /api/components
 * (and the catalog, sources.c) fetch a definition's sourceUrl, check it,
 * have a host process compile its source, then register it;
 * svc_component_add registers a checked definition at once (what
 * persistence calls at startup).
 */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "service/service_internal.h"

struct svc_usercomp {
    weir_user_component *u; /* a reference */
    svc_usercomp *next;
};

json_t *svc_component_json(const weir_component *c) {
    weir_user_component *u = weir_user_component_of(c);
    return u ? weir_user_component_json(u) : weir_component_json(c);
}

/* 0 when u may be registered: WEIR_EEXISTS (a built-in, or the same
 * version), with the message; *old receives the registration it replaces.
 * Running executions that use the version it replaces keep it (their
 * graphs hold it) until they are upgraded (POST /api/executions/:id/upgrade
 * moves them to their graph as stored, which then uses the new version). */
static int check_conflicts(weir_service *s, const weir_user_component *u, svc_usercomp **old, weir_error *err) {
    const weir_component *d = weir_user_component_descriptor(u);
    *old = NULL;
    const weir_component *have = weir_registry_find(s->reg, d->id);
    if (!have) return 0;
    if (!weir_user_component_of(have))
        return weir__error(err, WEIR_EEXISTS,
                           "\"%s\" is a built-in component; register yours under a namespace of your own, e.g. "
                           "\"acme.%s\"",
                           d->id, strrchr(d->id, '.') + 1);
    if (strcmp(have->version, d->version) == 0)
        return weir__error(err, WEIR_EEXISTS,
                           "component %s version %s is registered already; register another version to replace it",
                           d->id, d->version);
    for (svc_usercomp *c = s->user_comps; c; c = c->next)
        if (weir_user_component_descriptor(c->u) == have) *old = c;
    return 0;
}

/* Register u (a reference is taken), replacing old. */
static int install(weir_service *s, weir_user_component *u, svc_usercomp *old, weir_error *err) {
    svc_usercomp *c = weir__calloc(1, sizeof *c);
    if (!c) return weir__error(err, WEIR_ENOMEM, "out of memory");
    const weir_component *d = weir_user_component_descriptor(u);
    if (old) weir_registry_remove(s->reg, d->id);
    int rc = weir_registry_add(s->reg, d, err);
    if (rc) {
        if (old) weir_registry_add(s->reg, weir_user_component_descriptor(old->u), NULL); /* put it back */
        weir__free(c);
        return rc;
    }
    if (old) { /* loaded graphs keep the old version through their own references */
        for (svc_usercomp **pp = &s->user_comps; *pp; pp = &(*pp)->next)
            if (*pp == old) {
                *pp = old->next;
                break;
            }
        weir_user_component_unref(old->u);
        weir__free(old);
    }
    c->u = weir_user_component_ref(u);
    svc_usercomp **tail = &s->user_comps;
    while (*tail) tail = &(*tail)->next;
    *tail = c;
    json_t *f = json_pack("{s:s,s:s}", "component", d->id, "version", d->version);
    weir_service_log(s, WEIR_LOG_INFO, f, "user component %s", old ? "replaced" : "registered");
    json_decref(f);
    if (old) svc_graphs_reload(s, d->id); /* stored graphs use the new version from now on */
    return 0;
}

int svc_component_add(weir_service *s, json_t *def, bool store, json_t **out, weir_error *err) {
    if (out) *out = NULL;
    weir_user_component *u;
    int rc = weir_user_component_create(def, &u, err);
    if (rc) return rc;
    const weir_component *d = weir_user_component_descriptor(u);
    svc_usercomp *old;
    rc = check_conflicts(s, u, &old, err);
    /* stored before it is acknowledged (SPEC §7): a failure leaves nothing registered */
    if (!rc && store) rc = svc_store_component(s, d->id, d->version, def, err);
    if (!rc) {
        rc = install(s, u, old, err);
        if (rc && store) { /* put the store back as it was */
            json_t *was = old ? weir_user_component_json(old->u) : NULL;
            if (was) svc_store_component(s, d->id, weir_user_component_descriptor(old->u)->version, was, NULL);
            else svc_unstore_component(s, d->id, NULL);
            json_decref(was);
        }
    }
    if (!rc && out && !(*out = weir_user_component_json(u))) rc = weir__error(err, WEIR_ENOMEM, "out of memory");
    weir_user_component_unref(u);
    return rc;
}

int svc_component_restore(void *ud, weir_service *s, const char *id, const char *version, json_t *def,
                          weir_error *err) {
    (void)ud;
    (void)id;
    (void)version;
    return svc_component_add(s, def, false, NULL, err);
}

/* ----------------------------------------------------------- registering */

/* A registration on its way (SPEC §2.3): its source fetched once when the
 * definition names a sourceUrl (through the egress guard), pinned by its
 * SHA-256 (execution.sourceHash), checked, compiled by a host process,
 * then stored and registered — the source stored with it, so a restart
 * never fetches again.  It answers a POST /api/components (req) or tells
 * the catalog lookup it is part of (cat). */
struct svc_pending_load {
    weir_service *s;
    weir_http_req *req; /* or NULL */
    uint64_t start_ns;
    svc_catalog *cat;   /* or NULL */
    json_t *def;
    uint64_t fetch_id;  /* the source fetch in flight, 0: none */
    uint64_t load_id;   /* the host load in flight, 0: none */
    bool loading;
    svc_pending_load *next;
};

static void pending_free(svc_pending_load *p) {
    weir_service *s = p->s;
    for (svc_pending_load **pp = &s->loads; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    json_decref(p->def);
    weir__free(p);
}

/* The registration ends: status and body (STOLEN) go to its POST or its
 * catalog lookup; p is freed. */
static void finish(svc_pending_load *p, int status, json_t *body) {
    if (p->req && status == 201) {
        char where[300];
        snprintf(where, sizeof where, "/api/components/%s", json_string_value(json_object_get(p->def, "id")));
        const char *hdr[] = {"Location", where, NULL};
        weir_http_respond_json_h(p->req, 201, body, hdr);
        svc_observe(p->s, (double)(uv_hrtime() - p->start_ns) / 1e6);
    } else if (p->req) {
        svc_reply r = {.req = p->req, .start_ns = p->start_ns};
        svc_answer(p->s, &r, status, body);
    } else {
        svc_catalog *cat = p->cat;
        weir_service *s = p->s;
        char id[160];
        snprintf(id, sizeof id, "%s", json_string_value(json_object_get(p->def, "id")));
        pending_free(p);
        svc_catalog_registered(s, cat, id, status, body);
        return;
    }
    pending_free(p);
}

static void on_loaded(void *ud, json_t *result, const char *error) {
    svc_pending_load *p = ud;
    p->loading = false;
    const char *thrown = json_string_value(json_object_get(result, "error"));
    if (error && (strstr(error, "could not start") || strstr(error, "need Node.js")))
        return finish(p, 503, svc_error_body("cannot check the source: %s", error));
    if (error || thrown)
        return finish(p, 400, svc_error_body("execution.source does not compile: %s", error ? error : thrown));
    json_t *body;
    weir_error err;
    int rc = svc_component_add(p->s, p->def, true, &body, &err); /* checked again: things may have changed */
    if (rc) return finish(p, svc_status_of(rc), svc_error_of(&err));
    finish(p, 201, body);
}

/* The definition is whole (its source inline): hash, check, compile. */
static void check_and_load(svc_pending_load *p) {
    weir_service *s = p->s;
    weir_error err;
    json_t *x = json_object_get(p->def, "execution");
    if (json_is_object(x) && json_is_string(json_object_get(x, "source"))) {
        int rc = svc_source_pin(x, &err);
        if (rc) return finish(p, svc_status_of(rc), svc_error_of(&err));
    }
    weir_user_component *u;
    int rc = weir_user_component_create(p->def, &u, &err);
    svc_usercomp *old;
    if (!rc) {
        rc = check_conflicts(s, u, &old, &err);
        weir_user_component_unref(u);
    }
    if (rc) return finish(p, svc_status_of(rc), svc_error_of(&err));
    char key[512];
    weir_host_key(json_string_value(json_object_get(p->def, "id")),
                  json_string_value(json_object_get(p->def, "version")),
                  json_string_value(json_object_get(x, "source")), key, sizeof key);
    p->loading = true;
    rc = weir_host_load_as(s->host, key, json_string_value(json_object_get(x, "type")),
                           json_string_value(json_object_get(x, "source")), on_loaded, p, &p->load_id, &err);
    if (rc) {
        p->loading = false;
        finish(p, rc == WEIR_EFULL ? 429 : 503, svc_error_body("cannot check the source: %s", err.message));
    }
}

static void on_source(void *ud, json_t *result, const char *error) {
    svc_pending_load *p = ud;
    p->fetch_id = 0;
    json_t *x = json_object_get(p->def, "execution");
    const char *url = json_string_value(json_object_get(x, "sourceUrl"));
    json_t *src;
    weir_error err;
    const char *type = json_string_value(json_object_get(x, "type"));
    if (svc_source_fetched(p->s->cfg.source_max_bytes, url, type && strcmp(type, "wasm") == 0, result, error, &src, &err))
        return finish(p, svc_status_of(err.code), svc_error_of(&err));
    json_object_set_new(x, "source", src);
    check_and_load(p);
}

/* Start registering def (STOLEN) for req or cat. */
static void registration_start(weir_service *s, json_t *def, weir_http_req *req, uint64_t start_ns,
                               svc_catalog *cat) {
    svc_pending_load *p = weir__calloc(1, sizeof *p);
    if (!p) {
        json_decref(def);
        if (req) {
            svc_reply r = {.req = req, .start_ns = start_ns};
            svc_answer(s, &r, 503, svc_error_body("out of memory"));
        } else {
            svc_catalog_registered(s, cat, NULL, 503, svc_error_body("out of memory"));
        }
        return;
    }
    *p = (svc_pending_load){.s = s, .req = req, .start_ns = start_ns, .cat = cat, .def = def, .next = s->loads};
    s->loads = p;
    json_t *x = json_object_get(def, "execution");
    json_t *url = json_object_get(x, "sourceUrl");
    if (!json_is_object(x) || !url) return check_and_load(p); /* the core says what is wrong */
    if (json_object_get(x, "source")) { /* a descriptor as GET shows it: its hash must match */
        if (json_object_get(x, "sourceHash")) return check_and_load(p);
        return finish(p, 400, svc_error_body("execution has both source and sourceUrl: give one (the source is "
                                             "fetched from sourceUrl once, at registration)"));
    }
    weir_error err;
    int rc = svc_source_fetch(s, x, on_source, p, &p->fetch_id, &err);
    if (rc) finish(p, svc_status_of(rc), svc_error_of(&err));
}

void svc_component_register(weir_service *s, json_t *def, svc_catalog *cat) {
    registration_start(s, def, NULL, 0, cat);
}

void svc_components_post(weir_service *s, weir_http_req *req, uint64_t start_ns) {
    svc_reply r = {.req = req, .start_ns = start_ns};
    if (s->shutting_down) return svc_answer(s, &r, 503, svc_error_body("the server is shutting down"));
    json_t *def = NULL;
    weir_error err;
    if (req->body_len == 0)
        return svc_answer(s, &r, 400, svc_error_body("a JSON body is required: the component definition"));
    if (weir_doc_parse(req->body, req->body_len, WEIR_DOC_JSON, &def, &err))
        return svc_answer(s, &r, 400, svc_error_body("%s", err.message));
    registration_start(s, def, req, start_ns, NULL);
}

void svc_components_free(weir_service *s) {
    /* Unanswered: the server is going (the host and the runtime are gone,
     * nothing calls back). */
    while (s->loads) {
        svc_pending_load *p = s->loads;
        s->loads = p->next;
        json_decref(p->def);
        weir__free(p);
    }
    svc_catalog_free(s);
    while (s->user_comps) {
        svc_usercomp *c = s->user_comps;
        s->user_comps = c->next;
        weir_user_component_unref(c->u);
        weir__free(c);
    }
}
