/*
 * User components in the service (SPEC §2.3, §6): POST /api/components
 * checks a definition, has a host process compile its source, then
 * registers it; svc_component_add registers a checked definition at once
 * (what persistence calls at startup).
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

/* A POST waiting for the host to compile its source. */
struct svc_pending_load {
    weir_service *s;
    weir_http_req *req;
    uint64_t start_ns;
    json_t *def;
    uint64_t load_id;
    svc_pending_load *next;
};

json_t *svc_component_json(const weir_component *c) {
    weir_user_component *u = weir_user_component_of(c);
    return u ? weir_user_component_json(u) : weir_component_json(c);
}

/* 0 when u may be registered: WEIR_EEXISTS (a built-in, or the same
 * version), WEIR_ESTATE (a running execution uses the version it would
 * replace), with the message; *old receives the registration it replaces. */
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
    char users[512] = "";
    size_t n = 0;
    for (svc_exec *x = s->execs; x; x = x->next) {
        if (x->finished) continue;
        if (!weir_graph_uses(weir_exec_graph(x->e), d->id)) continue;
        size_t l = strlen(users);
        if (n++ < 5) snprintf(users + l, sizeof users - l, "%s%s", l ? ", " : "", x->id);
    }
    if (n)
        return weir__error(err, WEIR_ESTATE,
                           "component %s version %s is in use by %zu running execution%s (%s%s): stop %s first "
                           "(POST /api/executions/:id/stop), then register version %s",
                           d->id, have->version, n, n == 1 ? "" : "s", users, n > 5 ? ", ..." : "",
                           n == 1 ? "it" : "them", d->version);
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

/* ------------------------------------------------------------------- POST */

static void answer(svc_pending_load *p, int status, json_t *body) {
    svc_reply r = {.req = p->req, .start_ns = p->start_ns};
    svc_answer(p->s, &r, status, body);
}

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

static void on_loaded(void *ud, json_t *result, const char *error) {
    svc_pending_load *p = ud;
    const char *thrown = json_string_value(json_object_get(result, "error"));
    if (error && (strstr(error, "could not start") || strstr(error, "need Node.js"))) {
        answer(p, 503, svc_error_body("cannot check the source: %s", error));
    } else if (error || thrown) {
        answer(p, 400, svc_error_body("execution.source does not compile: %s", error ? error : thrown));
    } else {
        json_t *body;
        weir_error err;
        int rc = svc_component_add(p->s, p->def, true, &body, &err); /* checked again: things may have changed */
        if (rc) {
            answer(p, svc_status_of(rc), svc_error_of(&err));
        } else if (p->req) { /* 201 with Location */
            char where[300];
            snprintf(where, sizeof where, "/api/components/%s", json_string_value(json_object_get(p->def, "id")));
            const char *hdr[] = {"Location", where, NULL};
            weir_http_respond_json_h(p->req, 201, body, hdr);
            svc_observe(p->s, (double)(uv_hrtime() - p->start_ns) / 1e6);
        } else {
            json_decref(body);
        }
    }
    pending_free(p);
}

void svc_components_post(weir_service *s, weir_http_req *req, uint64_t start_ns) {
    svc_pending_load tmp = {s, req, start_ns, NULL, 0, NULL};
    if (s->shutting_down) return answer(&tmp, 503, svc_error_body("the server is shutting down"));
    json_t *def = NULL;
    weir_error err;
    if (req->body_len == 0)
        return answer(&tmp, 400, svc_error_body("a JSON body is required: the component definition"));
    if (weir_doc_parse(req->body, req->body_len, WEIR_DOC_JSON, &def, &err))
        return answer(&tmp, 400, svc_error_body("%s", err.message));
    weir_user_component *u;
    int rc = weir_user_component_create(def, &u, &err);
    svc_usercomp *old;
    if (!rc) {
        rc = check_conflicts(s, u, &old, &err);
        weir_user_component_unref(u);
    }
    if (rc) {
        json_decref(def);
        return answer(&tmp, svc_status_of(rc), svc_error_of(&err));
    }
    svc_pending_load *p = weir__calloc(1, sizeof *p);
    if (!p) {
        json_decref(def);
        return answer(&tmp, 503, svc_error_body("out of memory"));
    }
    *p = tmp;
    p->def = def;
    char key[512];
    json_t *exec = json_object_get(def, "execution");
    weir_host_key(json_string_value(json_object_get(def, "id")), json_string_value(json_object_get(def, "version")),
                  json_string_value(json_object_get(exec, "source")), key, sizeof key);
    rc = weir_host_load(s->host, key, json_string_value(json_object_get(exec, "source")), on_loaded, p, &p->load_id,
                        &err);
    if (rc) {
        answer(p, rc == WEIR_EFULL ? 429 : 503, svc_error_body("cannot check the source: %s", err.message));
        json_decref(def);
        weir__free(p);
        return;
    }
    p->next = s->loads;
    s->loads = p;
}

void svc_components_free(weir_service *s) {
    while (s->loads) { /* unanswered: the server is going (the host is gone, nothing calls back) */
        svc_pending_load *p = s->loads;
        s->loads = p->next;
        json_decref(p->def);
        weir__free(p);
    }
    while (s->user_comps) {
        svc_usercomp *c = s->user_comps;
        s->user_comps = c->next;
        weir_user_component_unref(c->u);
        weir__free(c);
    }
}
