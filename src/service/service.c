/*
 * The service's store and executions: graphs and executions in memory,
 * each execution on the realtime runtime, injects that wait for their
 * effects to settle, bounded history of finished executions, logging and
 * graceful shutdown.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "service/answer.h"
#include "net/logline.h"
#include "service/service_internal.h"
#include "service/sioapi.h"

const double svc_latency_bounds[LATENCY_BUCKETS] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000};

void weir_service_config_defaults(weir_service_config *c) {
    *c = (weir_service_config){
        .host = "127.0.0.1",
        .port = 5006,
        .max_concurrent_executions = 100,
        .default_execution_timeout = 300000,
        .max_backpressure_queue = 10000,
        .max_wave_hops = WEIR_DEFAULT_MAX_WAVE_HOPS,
        .max_trace_hops = WEIR_DEFAULT_MAX_TRACE_HOPS,
        .max_answer_bytes = 16u << 20,
        .expr = {WEIR_EXPR_MAX_STEPS_DEFAULT, WEIR_EXPR_MAX_BYTES_DEFAULT},
        .max_composed_nodes = WEIR_GRAPH_MAX_FLAT_NODES_DEFAULT,
        .max_composed_bytes = WEIR_GRAPH_MAX_FLAT_BYTES_DEFAULT,
        .max_zone_bytes = WEIR_ZONE_MAX_BYTES_DEFAULT,
        .enable_metrics = true,
        .max_body_bytes = 12u << 20,
        .max_connections = 10000,
        .max_connections_per_ip = 256,
        .header_timeout_ms = 10000,
        .max_finished_history = 1000,
        .metrics_interval_ms = 250,
        .event_flush_ms = 2,
        .event_batch_ms = 10,
        .event_batch_bytes = 65536,
        .event_history = 1000,
        .subscriber_backlog_bytes = 8u << 20,
        .subscriber_linger_ms = 30000,
        .view_interval_ms = 50,
        .view_history = 64,
        .max_views = 4096,
        .default_runtime = "realtime",
        .isolate_pool_size = 10,
        .isolate_timeout_ms = 1000,
        .isolate_memory_mb = 128,
        .isolate_queue = 1000,
        .source_max_bytes = (size_t)6 << 20,
        .source_timeout_ms = 10000,
        .tick_ms = 1,
        .log_level = "info",
        .log_format = "text",
    };
}

int64_t svc_now(const weir_service *s) { return weir_realtime_now(s->rt); }

int64_t svc_exec_now(const svc_exec *x) {
    return x->rt.now_ms ? x->rt.now_ms(x->rt.shell.effect_ud) : svc_now(x->svc);
}

static void runtime_log(void *ud, const char *line) { weir_service_log(ud, WEIR_LOG_INFO, NULL, "%s", line); }

void svc_uuid(char out[40]) {
    unsigned char b[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, b, sizeof b) : -1;
    if (fd >= 0) close(fd);
    if (got != (ssize_t)sizeof b) { /* no urandom: time and a counter still make ids unique here */
        static uint64_t counter;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t a = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30), c = ++counter;
        memcpy(b, &a, 8);
        memcpy(b + 8, &c, 8);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
             b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

bool svc_query_param(const char *query, const char *name, char *out, size_t cap) {
    size_t nl = strlen(name);
    for (const char *p = query; p && *p;) {
        const char *end = strchr(p, '&');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        if (l > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t o = 0;
            for (size_t i = nl + 1; i < l; i++) {
                if (o + 1 >= cap) return false; /* too long: not cut */
                char ch = p[i];
                if (ch == '%' && i + 2 < l && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
                    ch = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
                    i += 2;
                } else if (ch == '+') {
                    ch = ' ';
                }
                out[o++] = ch;
            }
            out[o] = '\0';
            return true;
        }
        p = end ? end + 1 : NULL;
    }
    return false;
}

/* ---------------------------------------------------------------- logging */

void weir_service_log(weir_service *s, weir_log_level level, json_t *fields, const char *fmt, ...) {
    if (level < s->log_level) return;
    va_list ap;
    va_start(ap, fmt);
    weir_logline_vwrite(stderr, s->log_json, level, fields, fmt, ap);
    va_end(ap);
}

static void on_log_effect(void *ud, const weir_effect *eff) {
    weir_service *s = ud;
    weir_log_level level = WEIR_LOG_INFO;
    weir_log_level_parse(json_string_value(json_object_get(eff->payload, "level")), &level);
    json_t *fields = json_pack("{s:s,s:s?}", "executionId", eff->execution_id, "nodeId", eff->node_id);
    weir_service_log(s, level, fields, "%s", json_string_value(json_object_get(eff->payload, "message")));
    json_decref(fields);
}

/* ----------------------------------------------------------------- graphs */

svc_graph *svc_graph_find(weir_service *s, const char *id) { return svc_index_get(&s->graph_ix, id); }

/* JSON text without the whitespace between tokens (NUL-terminated,
 * malloc'd), or NULL when out of memory.  The text is valid JSON. */
static char *json_compact(const char *text, size_t len) {
    char *out = weir__malloc(len + 1), *o = out;
    if (!out) return NULL;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_str) {
            if (c == '\\' && i + 1 < len) { /* the escaped character is copied as it is */
                *o++ = c;
                c = text[++i];
            } else if (c == '"') {
                in_str = false;
            }
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            continue;
        } else if (c == '"') {
            in_str = true;
        }
        *o++ = c;
    }
    *o = '\0';
    return out;
}

/* graph: nodes (SPEC §1) resolved from the stored graphs: the newest of
 * that name (and version) — restoring at start, the newest stored before
 * the graph being restored, which is what it was stored with.  The ids
 * used are gathered in `uses`. */
typedef struct resolving {
    weir_service *s;
    json_t *uses;
} resolving;

static int resolve_graph(void *ud, const char *name, const char *version, json_t **doc, weir_error *err) {
    resolving *r = ud;
    svc_graph *found = NULL;
    size_t named = 0;
    char versions[512] = "";
    for (svc_graph *g = r->s->graphs; g; g = g->next) {
        if (strcmp(weir_graph_name(g->g), name) != 0) continue;
        const char *v = weir_graph_version(g->g);
        size_t len = strlen(versions);
        snprintf(versions + len, sizeof versions - len, "%s%s", named++ ? ", " : "", v ? v : "(none)");
        if (!version || (v && strcmp(v, version) == 0)) found = g; /* the newest wins */
    }
    if (!found) {
        if (!named)
            return weir__error(err, WEIR_ENOTFOUND,
                               "no stored graph is named \"%s\"; store it first (POST /api/graphs), then this one",
                               name);
        return weir__error(err, WEIR_ENOTFOUND,
                           "no stored graph \"%s\" has version \"%s\" (stored versions: %s); name one of those or "
                           "leave the version out for the newest",
                           name, version, versions);
    }
    if (!(*doc = json_loads(found->text, 0, NULL))) return weir__error(err, WEIR_ENOMEM, "out of memory");
    json_t *id = json_string(found->id);
    bool listed = false;
    size_t i;
    json_t *u;
    json_array_foreach(r->uses, i, u) listed = listed || strcmp(json_string_value(u), found->id) == 0;
    if (!id || (!listed && json_array_append(r->uses, id))) {
        json_decref(id);
        json_decref(*doc);
        *doc = NULL;
        return weir__error(err, WEIR_ENOMEM, "out of memory");
    }
    json_decref(id);
    /* nested graph nodes resolve through this again: a stored graph's
     * own uses are found as its document is expanded */
    return 0;
}

int svc_graph_in_use(weir_service *s, const svc_graph *g, weir_error *err) {
    char users[WEIR_ERROR_MAX / 2] = "", running[WEIR_ERROR_MAX / 4] = "";
    size_t n_users = 0, n_running = 0;
    for (svc_graph *it = s->graphs; it; it = it->next) {
        bool uses = false;
        size_t i;
        json_t *u;
        json_array_foreach(it->uses, i, u) uses = uses || strcmp(json_string_value(u), g->id) == 0;
        if (!uses || it == g) continue;
        size_t len = strlen(users);
        snprintf(users + len, sizeof users - len, "%s\"%s\" (%s)", n_users++ ? ", " : "", weir_graph_name(it->g),
                 it->id);
        for (svc_exec *x = s->execs; x; x = x->next) {
            if (x->finished || strcmp(x->graph_id, it->id) != 0) continue;
            len = strlen(running);
            snprintf(running + len, sizeof running - len, "%s%s", n_running++ ? ", " : "", x->id);
        }
    }
    if (!n_users) return 0;
    if (n_running)
        return weir__error(err, WEIR_ESTATE,
                           "graph \"%s\" (%s) is used as a subgraph by graph%s %s, with running execution%s %s; "
                           "delete %s first (that stops %s)",
                           weir_graph_name(g->g), g->id, n_users == 1 ? "" : "s", users, n_running == 1 ? "" : "s",
                           running, n_users == 1 ? "that graph" : "those graphs", n_running == 1 ? "it" : "them");
    return weir__error(err, WEIR_ESTATE, "graph \"%s\" (%s) is used as a subgraph by graph%s %s; delete %s first",
                       weir_graph_name(g->g), g->id, n_users == 1 ? "" : "s", users,
                       n_users == 1 ? "that graph" : "those graphs");
}

/* Load sg (its id set) from doc or text: its graph, text, flattened form
 * and uses.  On failure what was made is left in sg for the caller to free. */
static int graph_build(weir_service *s, svc_graph *sg, json_t *doc, const char *text, size_t len, json_t *problems,
                       weir_error *err) {
    resolving res = {s, json_array()};
    json_t *flat = NULL;
    weir_graph_options o = {.id = sg->id, .problems = problems, .expr = s->cfg.expr, .resolve = resolve_graph,
                            .resolve_ud = &res, .max_nodes = s->cfg.max_composed_nodes,
                            .max_bytes = s->cfg.max_composed_bytes, .flattened = &flat, .zone = weir_zone_files,
                            .max_zone_bytes = s->cfg.max_zone_bytes};
    int rc = !res.uses ? weir__error(err, WEIR_ENOMEM, "out of memory")
             : doc     ? weir_graph_load(s->reg, doc, &o, &sg->g, err)
                       : weir_graph_load_text(s->reg, text, len, &o, &sg->g, err);
    if (!rc && !(sg->text = doc ? json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY) : json_compact(text, len)))
        rc = weir__error(err, WEIR_ENOMEM, "out of memory");
    if (!rc && flat && !(sg->flat = json_dumps(flat, JSON_COMPACT)))
        rc = weir__error(err, WEIR_ENOMEM, "out of memory");
    json_decref(flat);
    if (!rc && json_array_size(res.uses)) sg->uses = json_incref(res.uses);
    json_decref(res.uses);
    return rc;
}

/* id NULL: a new graph (new id, created now, stored before it is added).
 * From doc, or when doc is NULL from JSON text (kept compact: the graph
 * loads node by node, the text is never whole as json_t). */
static int graph_insert(weir_service *s, json_t *doc, const char *text, size_t len, const char *id,
                        int64_t created_ms, svc_graph **out, json_t *problems, weir_error *err) {
    svc_graph *sg = weir__calloc(1, sizeof *sg);
    if (!sg) return weir__error(err, WEIR_ENOMEM, "out of memory");
    if (id) snprintf(sg->id, sizeof sg->id, "%s", id);
    else svc_uuid(sg->id);
    sg->created_ms = id ? created_ms : svc_now(s);
    int rc = graph_build(s, sg, doc, text, len, problems, err);
    if (!rc && !id) rc = svc_hooks_check(sg->g, problems, err); /* new graphs: restored ones loaded before */
    if (!rc && !id) rc = svc_graph_persist(s, sg, err);
    if (!rc && svc_index_put(&s->graph_ix, sg->id, sg)) {
        rc = weir__error(err, WEIR_ENOMEM, "out of memory");
        if (!id && s->store) weir_store_graph_delete(s->store, sg->id, NULL); /* not added: not kept either */
    }
    if (rc) {
        weir_graph_unref(sg->g);
        weir__free(sg->text);
        weir__free(sg->flat);
        json_decref(sg->uses);
        weir__free(sg);
        return rc;
    }
    /* keep declaration order: append */
    svc_graph **tail = &s->graphs;
    while (*tail) tail = &(*tail)->next;
    *tail = sg;
    *out = sg;
    return 0;
}

/* PUT /api/graphs/:id: a new version of stored graph g, loaded and checked
 * as POST does (nothing changes when it does not load), stored under the
 * same id.  Its executions keep the graph they run (an upgrade moves one).
 * A graph other stored graphs use as a subgraph is not replaced (409): they
 * keep what they resolved to, and a restart restores them against the
 * stored graphs — its new version would be what they found.  The new
 * version counts as stored now (createdAt, and its place in the list):
 * graphs are restored in that order, so graph: nodes it has resolve at a
 * restart to what they resolve to now. */
int svc_graph_replace(weir_service *s, svc_graph *g, json_t *doc, const char *text, size_t len, json_t *problems,
                      weir_error *err) {
    weir_error in_use;
    if (svc_graph_in_use(s, g, &in_use))
        return weir__error(err, WEIR_ESTATE,
                           "graph %s is not replaced: %s; or store the new version as a new graph (POST /api/graphs), "
                           "which graphs stored after it find as graph:NAME — the ones stored before keep what they "
                           "resolved to",
                           g->id, in_use.message);
    svc_graph *ng = weir__calloc(1, sizeof *ng);
    if (!ng) return weir__error(err, WEIR_ENOMEM, "out of memory");
    snprintf(ng->id, sizeof ng->id, "%s", g->id);
    ng->created_ms = svc_now(s) > g->created_ms ? svc_now(s) : g->created_ms + 1; /* stored after it */
    int rc = graph_build(s, ng, doc, text, len, problems, err);
    if (!rc) rc = svc_hooks_check(ng->g, problems, err);
    if (!rc) rc = svc_graph_persist(s, ng, err);
    if (rc) {
        weir_graph_unref(ng->g);
        weir__free(ng->text);
        weir__free(ng->flat);
        json_decref(ng->uses);
        weir__free(ng);
        return rc;
    }
    /* the record stays (the index points at it): its contents change, it moves to the end */
    weir_graph_unref(g->g);
    weir__free(g->text);
    weir__free(g->flat);
    json_decref(g->uses);
    g->g = ng->g;
    g->text = ng->text;
    g->flat = ng->flat;
    g->uses = ng->uses;
    g->created_ms = ng->created_ms;
    weir__free(ng);
    svc_graph **p = &s->graphs;
    while (*p && *p != g) p = &(*p)->next;
    if (*p) *p = g->next;
    g->next = NULL;
    p = &s->graphs;
    while (*p) p = &(*p)->next;
    *p = g;
    return 0;
}

void svc_graphs_reload(weir_service *s, const char *component) {
    for (svc_graph *g = s->graphs; g; g = g->next) {
        if (!weir_graph_uses(g->g, component)) continue;
        svc_graph ng = {0};
        snprintf(ng.id, sizeof ng.id, "%s", g->id);
        weir_error err;
        int rc = graph_build(s, &ng, NULL, g->text, strlen(g->text), NULL, &err);
        if (rc) {
            json_t *f = json_pack("{s:s,s:s}", "graphId", g->id, "component", component);
            weir_service_log(s, WEIR_LOG_WARN, f,
                             "graph %s keeps the version of %s it was loaded with: with the new one it does not load "
                             "(%s); after a restart it is skipped until it loads again",
                             g->id, component, err.message);
            json_decref(f);
        } else {
            weir_graph_unref(g->g);
            weir__free(g->text);
            weir__free(g->flat);
            json_decref(g->uses);
            g->g = ng.g;
            g->text = ng.text;
            g->flat = ng.flat;
            g->uses = ng.uses;
            ng.g = NULL;
            ng.text = ng.flat = NULL;
            ng.uses = NULL;
        }
        weir_graph_unref(ng.g);
        weir__free(ng.text);
        weir__free(ng.flat);
        json_decref(ng.uses);
    }
}

int svc_graph_add(weir_service *s, json_t *doc, svc_graph **out, json_t *problems, weir_error *err) {
    return graph_insert(s, doc, NULL, 0, NULL, 0, out, problems, err);
}

int svc_graph_add_text(weir_service *s, const char *text, size_t len, svc_graph **out, json_t *problems,
                       weir_error *err) {
    return graph_insert(s, NULL, text, len, NULL, 0, out, problems, err);
}

int svc_graph_restore(weir_service *s, json_t *doc, const char *id, int64_t created_ms, svc_graph **out,
                      weir_error *err) {
    if (strlen(id) >= sizeof((svc_graph *)0)->id)
        return weir__error(err, WEIR_EGRAPH, "its id is longer than %zu characters", sizeof((svc_graph *)0)->id - 1);
    return graph_insert(s, doc, NULL, 0, id, created_ms, out, NULL, err);
}

int svc_graph_restore_text(weir_service *s, const char *text, const char *id, int64_t created_ms, svc_graph **out,
                           weir_error *err) {
    if (strlen(id) >= sizeof((svc_graph *)0)->id)
        return weir__error(err, WEIR_EGRAPH, "its id is longer than %zu characters", sizeof((svc_graph *)0)->id - 1);
    return graph_insert(s, NULL, text, strlen(text), id, created_ms, out, NULL, err);
}

void svc_graph_remove(weir_service *s, svc_graph *g) {
    for (svc_exec *x = s->execs; x; x = x->next) {
        if (x->finished || strcmp(x->graph_id, g->id) != 0) continue;
        weir_exec_stop(x->e, svc_exec_now(x), NULL, NULL);
    }
    for (svc_graph **p = &s->graphs; *p; p = &(*p)->next)
        if (*p == g) {
            *p = g->next;
            break;
        }
    svc_index_del(&s->graph_ix, g->id);
    weir_graph_unref(g->g);
    weir__free(g->text);
    weir__free(g->flat);
    json_decref(g->uses);
    weir__free(g);
}

/* ------------------------------------------------------------- executions */

svc_exec *svc_exec_find(weir_service *s, const char *id) {
    svc_exec *x = svc_index_get(&s->exec_ix, id);
    /* one that finished before this start is read back from its journal
     * when asked for (kept for inspection, SPEC §3) */
    return x ? x : svc_journal_load_finished(s, id);
}

json_t *svc_exec_summary(svc_exec *x) {
    json_t *j = weir_exec_json(x->e);
    if (j) json_object_set_new(j, "graphName", json_string(x->graph_name));
    return j;
}

static void wait_closed(uv_handle_t *h) { weir__free(h->data); }

static void wait_release(svc_wait *w) {
    if (w->reply.client) svc_client_unref(w->reply.client); /* unanswered: the client is not told */
    w->reply.client = NULL;
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *)&w->timer, wait_closed);
}

/* Unlink w from its execution's list. */
static void wait_unlink(svc_wait *w) {
    for (svc_wait **p = &w->x->waits; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            return;
        }
}

int svc_status_of(int code) {
    switch (code) {
    case WEIR_EINVAL:
    case WEIR_EGRAPH:
    case WEIR_EEXPR: return 400;
    case WEIR_ENOTFOUND: return 404;
    case WEIR_ESTATE:
    case WEIR_EEXISTS: return 409;
    case WEIR_EFULL:
    case WEIR_ELIMIT: return 429;
    case WEIR_ENOMEM:
    case WEIR_EUNAVAILABLE:
    case WEIR_EIO: return 503; /* e.g. the store could not write */
    case WEIR_EAUTH: return 401;
    case WEIR_EFORBIDDEN: return 403;
    case WEIR_EMETHOD: return 405;
    case WEIR_ETIMEOUT: return 408;
    case WEIR_ETOOLARGE: return 413;
    case WEIR_EMEDIATYPE: return 415;
    case WEIR_EHOST: return 421;
    default: return 500;
    }
}

json_t *svc_error_of(const weir_error *err) {
    return json_pack("{s:s,s:s}", "error", err->message, "code", weir_errname(err->code));
}

json_t *svc_error_body(const char *fmt, ...) {
    char msg[WEIR_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return json_pack("{s:s}", "error", msg);
}

void svc_answer(weir_service *s, svc_reply *r, int status, json_t *body) {
    if (svc_out_hold_reply(s, r, status, body)) { /* output commit: sent once durable */
        r->req = NULL;
        r->client = NULL;
        return;
    }
    svc_answer_now(s, r, status, body);
}

void svc_answer_now(weir_service *s, svc_reply *r, int status, json_t *body) {
    if (r->req) {
        weir_http_respond_json(r->req, status, body);
        r->req = NULL;
        svc_observe(s, (double)(uv_hrtime() - r->start_ns) / 1e6);
        return;
    }
    svc_client *c = r->client;
    r->client = NULL;
    if (!c) {
        json_decref(body);
        return;
    }
    if (!body) body = svc_error_body("out of memory");
    /* acknowledgements carry the same code as the HTTP answer would */
    if (status >= 400 && json_is_object(body) && json_object_get(body, "error") && !json_object_get(body, "code"))
        json_object_set_new(body, "code", json_string(weir_errname(weir_http_status_code(status))));
    svc_client_reply(c, r->ack_id, r->event, body);
    svc_client_unref(c);
}

void svc_wait_answer(svc_wait *w, const weir_settled *st) {
    if (w->done) {
        /* answered before its inject settled (the wait ran out, a shutdown):
         * the core held w as the inject's user until now */
        if (st) {
            wait_unlink(w);
            wait_release(w);
        }
        return;
    }
    w->done = true;
    svc_exec *x = w->x;
    weir_service *s = x->svc;
    bool dropped = st && st->status == WEIR_EFULL; /* overflow drop-newest */
    bool settled = st && !dropped;
    json_t *body = json_pack("{s:s,s:I,s:I,s:b,s:s}", "executionId", x->id, "injectId",
                             (json_int_t)(st ? st->inject_id : w->inject_id), "tick",
                             (json_int_t)(settled ? st->first_tick : w->tick), "settled", settled, "state",
                             weir_state_name(weir_exec_state(x->e)));
    if (body && settled) {
        json_object_set_new(body, "hops", json_integer((json_int_t)st->hops));
        /* MAX_ANSWER_BYTES: shared values count once per use, as written */
        svc_answer_settled(body, st, s->cfg.max_answer_bytes);
    }
    if (body && dropped) json_object_set_new(body, "dropped", json_true());
    /* Why its wave stopped (MAX_WAVE_HOPS), else why the execution failed. */
    json_t *err = st && st->error ? st->error : weir_exec_error(x->e);
    if (body && err) json_object_set(body, "error", err);
    /* 200: settled; 202: still running when the wait ran out, or dropped */
    if (w->early) svc_time_settled(x, body); /* answered already: told with the next time command */
    else svc_answer(s, &w->reply, settled ? 200 : 202, body);
    if (!st) { /* its inject has not settled: w stays its user until it does (or x is freed) */
        uv_timer_stop(&w->timer);
        return;
    }
    wait_unlink(w);
    wait_release(w);
}

/* The wait rides on its inject (weir_inject.user), so a settlement inside
 * weir_exec_inject itself finds it too. */
static void on_settled(void *ud, weir_exec *e, const weir_settled *st) {
    (void)ud;
    (void)e;
    if (!st->user) return;
    if (*(const int *)st->user == SVC_TRACK_HOOK) svc_hook_settled(st->user, st);
    else svc_wait_answer(st->user, st);
}

static void wait_timeout(uv_timer_t *t) { svc_wait_answer(t->data, NULL); }

void svc_inject(weir_service *s, svc_exec *x, const svc_reply *r, const weir_inject *in, bool wait) {
    svc_reply rep = *r;
    svc_wait *w = NULL;
    if (wait) {
        if (!(w = weir__calloc(1, sizeof *w))) return svc_answer(s, &rep, 503, svc_error_body("out of memory"));
        w->reply = rep;
        w->x = x;
        uv_timer_init(s->loop, &w->timer);
        w->timer.data = w;
        w->next = x->waits;
        x->waits = w;
    }
    weir_inject tracked = *in;
    tracked.user = w;
    weir_inject_ack ack;
    weir_error err;
    int rc = weir_exec_inject(x->e, &tracked, svc_exec_now(x), &ack, &err);
    if (rc) {
        if (w) { /* refused: nothing will settle */
            rep = w->reply;
            w->reply.client = NULL; /* the reference moves back to rep */
            wait_unlink(w);
            wait_release(w);
        }
        /* an unknown node or port is a bad inject body, not a missing resource */
        return svc_answer(s, &rep, rc == WEIR_ENOTFOUND ? 400 : svc_status_of(rc),
                          rc == WEIR_ENOTFOUND ? svc_error_body("%s", err.message) : svc_error_of(&err));
    }
    s->injects_total++;
    if (!wait)
        return svc_answer(s, &rep, 202,
                          json_pack("{s:s,s:I,s:b,s:b}", "executionId", x->id, "tick", (json_int_t)ack.tick, "queued",
                                    ack.queued, "dropped", ack.dropped));
    if (w->done) return; /* settled inside the call (its memory goes when the loop turns) */
    w->inject_id = ack.inject_id;
    w->tick = ack.tick;
    if (x->rt.virt) {
        /* Virtual time moves only when asked: waiting for it would hang.
         * Answered now; the settlement comes with the time command that
         * brings it (svc_time_settled). */
        w->early = true;
        svc_answer(s, &w->reply, 202,
                   json_pack("{s:s,s:I,s:I,s:b,s:b,s:s,s:s}", "executionId", x->id, "injectId",
                             (json_int_t)ack.inject_id, "tick", (json_int_t)ack.tick, "queued", ack.queued, "settled",
                             0, "state", weir_state_name(weir_exec_state(x->e)), "waitsFor",
                             "virtual time: its outputs come in the answer of the tick, advance, run or step that "
                             "settles it"));
        return;
    }
    /* Bounded by the execution timeout, or the default one. */
    json_t *xj = weir_exec_json(x->e);
    int64_t bound = json_integer_value(json_object_get(xj, "timeoutMs"));
    json_decref(xj);
    if (bound <= 0) bound = s->cfg.default_execution_timeout;
    uv_timer_start(&w->timer, wait_timeout, (uint64_t)bound, 0);
}

/* Free x and all it holds; unanswered waits and a run's answer are let go
 * (the server is going).  The execution goes before its runtime: destroying
 * an execution that still runs cancels its effects through the runtime, and
 * once destroyed the runtime holds nothing of it. */
void svc_exec_free(svc_exec *x) {
    svc_views_exec_gone(x->svc, x);
    svc_journal_forget(x, false);
    svc_hooks_free(x);
    while (x->waits) {
        svc_wait *w = x->waits;
        x->waits = w->next;
        wait_release(w);
    }
    if (x->play_reply.client) svc_client_unref(x->play_reply.client);
    svc_feed_free(x->feed);
    x->feed = NULL;
    weir_exec_destroy(x->e);
    weir_runtimes_release(x->svc->runtimes, &x->rt, NULL);
    json_decref(x->settled);
    json_decref(x->start_body);
    json_decref(x->rt_options);
    json_decref(x->upgrade_body);
    weir__free(x);
}

/* Evict the oldest finished executions beyond the history bound. */
static void evict_finished(weir_service *s) {
    /* those finished before this start are the oldest */
    while (svc_journal_old(s) && s->n_finished + svc_journal_old(s) > s->cfg.max_finished_history)
        svc_journal_evict_old(s);
    /* JOURNAL_MAX_BYTES: past it the oldest finished one goes at each start
     * (its delete is committed later: one at a time, not all at once) */
    bool over = svc_journal_over(s);
    if (over && svc_journal_old(s)) {
        svc_journal_evict_old(s);
        over = false;
    }
    size_t keep = s->cfg.max_finished_history;
    svc_exec **p = &s->execs, *prev = NULL;
    while (*p && (s->n_finished > keep || over)) {
        svc_exec *x = *p;
        if (!x->finished || x->waits || x->playing) { /* a run's answer is still owed */
            prev = x;
            p = &x->next;
            continue;
        }
        *p = x->next;
        if (s->execs_tail == x) s->execs_tail = prev;
        svc_index_del(&s->exec_ix, x->id);
        svc_journal_forget(x, true); /* its journal goes with it */
        svc_exec_free(x);
        s->n_execs--;
        s->n_finished--;
        over = false;
    }
}

static void on_finished(void *ud, weir_exec *e) { svc_exec_on_finished(ud); (void)e; }

void svc_exec_on_finished(svc_exec *x) {
    weir_exec *e = x->e;
    weir_service *s = x->svc;
    if (x->finished) return;
    x->finished = true;
    svc_journal_finished(x);
    s->n_running--;
    s->n_finished++;
    json_t *m = weir_exec_metrics(e, svc_now(s));
    s->messages_finished += (uint64_t)json_integer_value(json_object_get(m, "messagesProcessed"));
    s->errors_finished += (uint64_t)json_integer_value(json_object_get(m, "errorCount"));
    json_decref(m);
    json_t *f = json_pack("{s:s,s:s}", "executionId", x->id, "state", weir_state_name(weir_exec_state(e)));
    if (weir_exec_state(e) == WEIR_STATE_FAILED) { /* with its reason (SPEC §3: error {message, nodeId?}) */
        json_t *why = weir_exec_error(e);
        const char *reason = json_string_value(json_object_get(why, "message"));
        json_t *node = json_object_get(why, "nodeId");
        if (f && json_is_string(node)) json_object_set(f, "nodeId", node);
        weir_service_log(s, WEIR_LOG_WARN, f, "execution failed: %s", reason ? reason : "(no reason recorded)");
    } else {
        weir_service_log(s, WEIR_LOG_INFO, f, "execution %s", weir_state_name(weir_exec_state(e)));
    }
    json_decref(f);
    /* eviction happens outside the core's call */
}

/* ------------------------------------------------------------------ events */

/* The shell's event callback: to x's feed, if anyone ever subscribed. */
static void on_event(void *ud, weir_exec *e, uint64_t seq, const char *name, json_t *data) {
    (void)e;
    svc_exec *x = ud;
    if (x->journaled) return svc_out_event(x, seq, name, data); /* output commit */
    if (x->feed) svc_feed_event(x->feed, seq, name, data);
}

json_t *svc_exec_snapshot(svc_exec *x) {
    json_t *j = weir_exec_json(x->e);
    if (!j) return NULL;
    json_t *out = json_pack("{s:s,s:s,s:O,s:o,s:O?,s:I}", "executionId", x->id, "graphId", x->graph_id, "state",
                            json_object_get(j, "state"), "metrics", weir_exec_metrics(x->e, svc_exec_now(x)),
                            "startedAt", json_object_get(j, "startedAt"), "seq", (json_int_t)weir_exec_seq(x->e));
    json_decref(j);
    return out;
}

static json_t *feed_snapshot(void *ud) { return svc_exec_snapshot(ud); }
static json_t *feed_metrics(void *ud) {
    svc_exec *x = ud;
    if (x->journaled && x->jmark > x->svc->j_done) return NULL; /* not durable yet: the next tick tells */
    return weir_exec_metrics(x->e, svc_exec_now(x));
}
static const svc_feed_ops FEED_OPS = {feed_snapshot, feed_metrics};

svc_feed *svc_exec_feed(svc_exec *x, weir_error *err) {
    if (!x->feed && !(x->feed = svc_feed_new(&x->svc->hub, x->e, x->id, &FEED_OPS, x)))
        weir__error(err, WEIR_ENOMEM, "out of memory subscribing to execution %s", x->id);
    return x->feed;
}

static void hub_log(void *ud, weir_log_level level, json_t *fields, const char *message) {
    weir_service_log(ud, level, fields, "%s", message);
}
static void hub_gone(void *ud, svc_client *c) { svc_views_client_gone(ud, c); }
static const svc_hub_ops HUB_OPS = {svc_command, hub_log, hub_gone};

static int parse_options(json_t *opts, weir_exec_options *o, weir_error *err) {
    if (opts && !json_is_object(opts)) return weir__error(err, WEIR_EINVAL, "execute options must be a JSON object");
    int rc = weir_exec_options_read(opts, "", o, NULL, err);
    if (rc) return rc;
    json_t *v = json_object_get(opts, "runtime");
    if (v && !json_is_string(v))
        return weir__error(err, WEIR_EINVAL, "runtime must be a string (\"realtime\", \"virtual\", ...)");
    return 0;
}

void svc_exec_settings(json_t *opts, weir_exec_options *o) {
    json_t *v;
    if (json_is_integer(v = json_object_get(opts, "defaultTimeoutMs"))) o->default_timeout_ms = json_integer_value(v);
    if (json_is_integer(v = json_object_get(opts, "maxQueue")) && json_integer_value(v) > 0)
        o->max_queue = (size_t)json_integer_value(v);
    if (json_is_integer(v = json_object_get(opts, "maxWaveHops")) && json_integer_value(v) > 0)
        o->max_wave_hops = (uint64_t)json_integer_value(v);
    if (json_is_integer(v = json_object_get(opts, "maxTraceHops")) && json_integer_value(v) > 0)
        o->max_trace_hops = (uint64_t)json_integer_value(v);
}

int svc_exec_make(weir_service *s, weir_graph *g, const char *graph_id, json_t *opts, const char *id,
                  const char *rt_name, json_t *rt_opts, unsigned flags, svc_exec **out, weir_error *err) {
    bool journal = flags & SVC_MAKE_JOURNAL;
    *out = NULL;
    weir_exec_options o = {.timeout_ms = -1,
                           .default_timeout_ms = s->cfg.default_execution_timeout,
                           .max_queue = s->cfg.max_backpressure_queue,
                           .max_wave_hops = s->cfg.max_wave_hops,
                           .max_trace_hops = s->cfg.max_trace_hops};
    int rc = parse_options(opts, &o, err);
    if (rc) return rc;
    svc_exec_settings(opts, &o);
    /* Selection (SPEC §4.5): the execute option, else metadata.runtime, else the default. */
    const char *want = rt_name ? rt_name : json_string_value(json_object_get(opts, "runtime"));
    if (!want) want = json_string_value(json_object_get(weir_graph_metadata(g), "runtime"));
    weir_runtime rt = {0};
    if (!(flags & SVC_MAKE_NO_RUNTIME) && (rc = weir_runtimes_make(s->runtimes, want, rt_opts, &rt, err))) return rc;
    o.runtime = rt.name ? rt.name : want;
    svc_exec *x = weir__calloc(1, sizeof *x);
    if (!x) {
        weir_runtimes_release(s->runtimes, &rt, NULL);
        return weir__error(err, WEIR_ENOMEM, "out of memory");
    }
    x->rt = rt;
    x->rt_options = json_incref(rt_opts);
    if (id) snprintf(x->id, sizeof x->id, "%s", id);
    else svc_uuid(x->id);
    snprintf(x->graph_id, sizeof x->graph_id, "%s", graph_id);
    snprintf(x->graph_name, sizeof x->graph_name, "%s", weir_graph_name(g));
    x->svc = s;
    x->created_ms = svc_now(s);
    o.id = x->id;
    weir_shell sh = x->rt.shell;
    if (!s->cfg.enable_metrics) sh.clock_ns = NULL;
    sh.ud = x;
    sh.event = on_event;
    sh.settled = on_settled;
    sh.finished = on_finished;
    if (journal) svc_journal_attach(x, &sh);
    rc = weir_exec_create(g, &o, &sh, &x->e, err);
    if (rc) {
        weir_runtimes_release(s->runtimes, &x->rt, NULL);
        json_decref(x->rt_options);
        weir__free(x);
        return rc;
    }
    if (x->rt.bind) x->rt.bind(x->rt.shell.effect_ud, x->e);
    svc_time_attach(x);
    svc_hooks_attach(x);
    weir_exec_listen(x->e, false); /* until someone subscribes */
    *out = x;
    return 0;
}

int svc_exec_list(weir_service *s, svc_exec *x, weir_error *err) {
    if (svc_index_put(&s->exec_ix, x->id, x)) return weir__error(err, WEIR_ENOMEM, "out of memory");
    if (s->execs_tail) s->execs_tail->next = x;
    else s->execs = x;
    s->execs_tail = x;
    s->n_execs++;
    s->n_running++;
    return 0;
}

/* Take x out of the list again (it never started: its START could not be
 * journaled). */
void svc_exec_to_front(weir_service *s, svc_exec *x) {
    svc_exec **p = &s->execs, *prev = NULL;
    while (*p && *p != x) {
        prev = *p;
        p = &(*p)->next;
    }
    if (!*p || x == s->execs) return;
    *p = x->next;
    if (s->execs_tail == x) s->execs_tail = prev;
    x->next = s->execs;
    s->execs = x;
}

void svc_exec_unlist(weir_service *s, svc_exec *x) {
    svc_exec **p = &s->execs, *prev = NULL;
    while (*p && *p != x) {
        prev = *p;
        p = &(*p)->next;
    }
    if (*p) *p = x->next;
    if (s->execs_tail == x) s->execs_tail = prev;
    svc_index_del(&s->exec_ix, x->id);
    s->n_execs--;
    if (x->finished) s->n_finished--;
    else s->n_running--;
}

int svc_graph_zones(json_t *body, weir_graph *g) {
    json_t *zones = weir_graph_zones(g);
    return zones ? json_object_set_new(body, "zones", json_deep_copy(zones)) : 0;
}

json_t *svc_graph_user_components(weir_service *s, weir_graph *g) {
    json_t *comps = json_array();
    for (size_t i = 0; comps && i < weir_registry_count(s->reg); i++) {
        const weir_component *c = weir_registry_at(s->reg, i);
        weir_user_component *u = weir_user_component_of(c);
        if (u && weir_graph_uses(g, c->id)) json_array_append(comps, weir_user_component_definition(u));
    }
    return comps;
}

/* The START record's body (SPEC §7.1): self-contained — the graph's
 * document and the definitions of the user components it uses ride in it,
 * so the execution comes back (and its journal replays) whatever happens
 * to the stored graph and components later. */
static json_t *start_body(weir_service *s, svc_exec *x, svc_graph *g, json_t *opts, const char *runtime) {
    /* a composed graph's flattened document: it loads with no other graph
     * (the versions it was made from are in its "subgraphs") */
    json_t *doc = json_loads(g->flat ? g->flat : g->text, 0, NULL);
    /* the execute options and the settings that shape the execution */
    json_t *o = json_is_object(opts) ? json_deep_copy(opts) : json_object();
    if (o) {
        json_object_set_new(o, "defaultTimeoutMs", json_integer((json_int_t)s->cfg.default_execution_timeout));
        json_object_set_new(o, "maxQueue", json_integer((json_int_t)s->cfg.max_backpressure_queue));
        json_object_set_new(o, "maxWaveHops", json_integer((json_int_t)s->cfg.max_wave_hops));
        json_object_set_new(o, "maxTraceHops", json_integer((json_int_t)s->cfg.max_trace_hops));
        json_object_set_new(o, "exprMaxSteps", json_integer((json_int_t)s->cfg.expr.max_steps));
        json_object_set_new(o, "exprMaxBytes", json_integer((json_int_t)s->cfg.expr.max_bytes));
    }
    json_t *comps = svc_graph_user_components(s, g->g);
    json_t *b = doc && comps && o ? json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:s}", "op", "start", "executionId", x->id,
                                              "graphId", g->id, "graph", doc, "components", comps, "options", o,
                                              "runtime", runtime)
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

int svc_exec_start(weir_service *s, svc_graph *g, json_t *opts, svc_client *first, svc_exec **out, weir_error *err) {
    if (s->shutting_down) return weir__error(err, WEIR_ESTATE, "the server is shutting down");
    evict_finished(s);
    if (s->n_running >= s->cfg.max_concurrent_executions)
        return weir__error(err, WEIR_ELIMIT,
                           "maximum concurrent executions reached (%u, MAX_CONCURRENT_EXECUTIONS); stop one or retry "
                           "later",
                           s->cfg.max_concurrent_executions);
    svc_exec *x;
    int rc = svc_exec_make(s, g->g, g->id, opts, NULL, NULL, opts, SVC_MAKE_JOURNAL, &x, err);
    if (rc) return rc;
    if (x->journaled && !(x->start_body = start_body(s, x, g, opts, x->rt.name))) {
        svc_exec_free(x);
        return weir__error(err, WEIR_ENOMEM, "out of memory");
    }
    if (first) {
        svc_feed *f = svc_exec_feed(x, err);
        rc = f ? svc_feed_attach(f, first, WEIR_EV_ALL, 0, false, err) : WEIR_ENOMEM;
    }
    if (!rc) rc = svc_exec_list(s, x, err);
    if (rc) {
        svc_exec_free(x);
        return rc;
    }
    rc = weir_exec_start(x->e, svc_exec_now(x), err);
    if (rc && weir_exec_state(x->e) == WEIR_STATE_PENDING) { /* its start was not journaled: it never was */
        svc_exec_unlist(s, x);
        svc_exec_free(x);
        return rc;
    }
    if (rc) { /* it failed in initialize: kept for inspection */
        *out = x;
        return 0;
    }
    json_t *f = json_pack("{s:s,s:s}", "executionId", x->id, "graphId", g->id);
    weir_service_log(s, WEIR_LOG_INFO, f, "execution started");
    json_decref(f);
    *out = x;
    return 0;
}

int svc_exec_switch(svc_exec *x, const char *name, json_t *options, weir_error *err) {
    weir_service *s = x->svc;
    if (weir_state_finished(weir_exec_state(x->e)))
        return weir__error(err, WEIR_ESTATE, "execution %s is %s: there is no runtime to switch", x->id,
                           weir_state_name(weir_exec_state(x->e)));
    const char *to = weir_runtimes_has(s->runtimes, name) ? name : weir_runtimes_default(s->runtimes);
    if (x->rt.name && to && strcmp(to, x->rt.name) == 0) {
        /* The runtime it runs on already: nothing is destroyed (SPEC §4.5's
         * switch is for a different runtime).  On virtual, the clock, what
         * waits on it and scheduled injects stay; only the mocks change. */
        weir_runtimes_resolve(s->runtimes, name);
        if (!x->rt.virt) return 0;
        json_t *mocks = json_object_get(options, "mocks");
        if (json_object_get(options, "tickMs"))
            return weir__error(err, WEIR_EINVAL,
                               "execution %s already runs on the virtual runtime; its tickMs cannot change while it "
                               "runs (switch to realtime and back to start a new clock)",
                               x->id);
        return mocks ? weir_virtual_set_mocks(x->rt.virt, mocks, err) : 0;
    }
    size_t scheduled = x->rt.virt ? weir_virtual_scheduled(x->rt.virt) : 0;
    if (scheduled)
        return weir__error(err, WEIR_ESTATE,
                           "%zu scheduled inject(s) wait on the virtual clock of execution %s; play them first "
                           "(POST /api/executions/%s/run) so nothing accepted is dropped",
                           scheduled, x->id, x->id);
    /* a request that cannot succeed leaves the execution as it was */
    int rc = weir_runtimes_check(s->runtimes, to, options, err);
    if (rc) return rc;
    svc_play_stop(x, "runtime switched"); /* a run in progress ends: its clock goes */
    if (x->rt.virt) weir_exec_stepping(x->e, false, svc_exec_now(x)); /* an open wave ends first */
    if (weir_state_finished(weir_exec_state(x->e))) return 0;
    char from[64];
    snprintf(from, sizeof from, "%s", x->rt.name ? x->rt.name : "");
    int64_t old_now = svc_exec_now(x);
    /* http requests held for output commit were never sent: the switch
     * fails them (in flight), so they are never sent now */
    svc_journal_drop_effects(x);
    /* the old runtime first (SPEC §4.5), then the new one */
    weir_runtimes_release(s->runtimes, &x->rt, x->e);
    weir_error e2;
    rc = weir_runtimes_make(s->runtimes, name, options, &x->rt, &e2);
    if (rc) { /* never without a runtime: the default takes over */
        if (weir_runtimes_make(s->runtimes, NULL, NULL, &x->rt, err)) {
            /* nothing can perform its effects: off the destroyed runtime, then stopped */
            weir_shell none = {0};
            if (weir_exec_switch_runtime(x->e, &none, old_now, old_now, from, "none", NULL))
                weir_exec_adopt(x->e, &none, old_now); /* not journaled: at least off the destroyed runtime */
            weir_exec_stop(x->e, old_now, NULL, NULL);
            return rc;
        }
        weir__error(err, rc, "%s; execution %s continues on the %s runtime", e2.message, x->id, x->rt.name);
    }
    if (x->rt.bind) x->rt.bind(x->rt.shell.effect_ud, x->e);
    svc_time_attach(x);
    json_decref(x->rt_options);
    x->rt_options = json_incref(options); /* journaled with the switch: recovery makes it again */
    weir_shell half;
    svc_journal_half(x, &half);
    int64_t new_now = svc_exec_now(x);
    weir_exec_event(x->e, "runtime:changed",
                    json_pack("{s:s,s:s,s:s,s:I}", "executionId", x->id, "from", from, "to", x->rt.name, "time",
                              (json_int_t)new_now));
    weir_error e3;
    if (weir_exec_switch_runtime(x->e, &half, old_now, new_now, from, x->rt.name, &e3)) {
        /* The journal refused the switch (full or failing): the old runtime
         * is gone, so the new one takes the pending effects all the same —
         * unrecorded: after a restart the execution comes back on the
         * runtime its journal names.  The caller is told. */
        weir_exec_adopt(x->e, &half, new_now);
        return weir__error(err, e3.code, "%s; execution %s runs on the %s runtime until weir restarts", e3.message,
                           x->id, x->rt.name);
    }
    json_t *f = json_pack("{s:s,s:s,s:s}", "executionId", x->id, "from", from, "to", x->rt.name);
    weir_service_log(s, WEIR_LOG_INFO, f, "execution switched runtime");
    json_decref(f);
    return rc;
}

/* ---------------------------------------------------------------- lifecycle */

static void free_graphs(weir_service *s) {
    for (svc_graph *g = s->graphs, *next; g; g = next) {
        next = g->next;
        weir_graph_unref(g->g);
        weir__free(g->text);
        weir__free(g->flat);
        json_decref(g->uses);
        weir__free(g);
    }
    s->graphs = NULL;
    svc_index_free(&s->graph_ix);
}

/* Say what the open-file limit is, and when it cuts MAX_CONNECTIONS. */
static void svc_log_fd_budget(weir_service *s, const weir_http_fd_budget *b) {
    unsigned want = s->cfg.max_connections ? s->cfg.max_connections : 10000;
    if (!b->hard) return; /* unknown */
    if (b->raised)
        weir_service_log(s, WEIR_LOG_INFO, NULL, "open-file limit raised from %llu to %llu (hard limit %llu)",
                         b->soft_before, b->soft, b->hard);
    else
        weir_service_log(s, WEIR_LOG_INFO, NULL, "open-file limit %llu (hard limit %llu)", b->soft, b->hard);
    if (b->connections < want)
        weir_service_log(s, WEIR_LOG_WARN, NULL,
                         "MAX_CONNECTIONS %u does not fit the open-file limit %llu: using %u; raise the hard limit "
                         "(ulimit -Hn, systemd LimitNOFILE=) to allow more",
                         want, b->soft, b->connections);
}

/* Undo a start that failed part-way (whatever was made; NULLs are no-ops). */
static void start_failed(weir_service *s) {
    free_graphs(s); /* those restored before it failed */
    svc_journal_close(s);
    svc_persist_close(s);
    weir_runtimes_destroy(s->runtimes);
    weir_realtime_destroy(s->rt);
    weir_host_destroy(s->host);
    svc_components_free(s); /* those restored before it failed */
    weir_registry_destroy(s->reg);
    weir_auth_destroy(s->auth);
    weir__free(s);
}

/* Which node runs user components, and how; or why none can (a warning:
 * the rest of the server works without them). */
static void log_node(weir_service *s) {
    weir_host_node n;
    weir_host_node_get(s->host, &n);
    json_t *f = json_pack("{s:s}", "node", n.path);
    if (f && n.version) json_object_set_new(f, "nodeVersion", json_string(n.version));
    if (f && n.flags) json_object_set_new(f, "nodeFlags", json_string(n.flags));
    if (n.problem) weir_service_log(s, WEIR_LOG_WARN, f, "user components are unavailable: %s", n.problem);
    else if (n.memory_mb)
        weir_service_log(s, WEIR_LOG_INFO, f,
                         "user components run in %s %s with %s, and at most %llu MB more than at start "
                         "(RLIMIT_DATA; ISOLATE_MEMORY_MB)",
                         n.path, n.version, n.flags, (unsigned long long)n.memory_mb);
    else
        weir_service_log(s, WEIR_LOG_INFO, f, "user components run in %s %s with %s", n.path, n.version, n.flags);
    json_decref(f);
    if (n.problem) return;
    if (n.typescript && strcmp(n.typescript, "node") != 0) {
        f = json_pack("{s:s}", "typescript", n.typescript);
        weir_service_log(s, WEIR_LOG_INFO, f, "TypeScript components: types stripped with the typescript package in %s",
                         n.typescript);
        json_decref(f);
    } else if (n.typescript) {
        weir_service_log(s, WEIR_LOG_INFO, NULL, "TypeScript components: types stripped by Node.js itself");
    } else {
        weir_service_log(s, WEIR_LOG_INFO, NULL,
                         "TypeScript components are unavailable: %s%s%s cannot strip types and no typescript package "
                         "was found (npm install -g typescript, or WEIR_TYPESCRIPT=<its folder>)",
                         s->cfg.typescript ? "WEIR_TYPESCRIPT holds none, and " : "", "Node.js ", n.version);
    }
}

int weir_service_start(uv_loop_t *loop, const weir_service_config *c, weir_service **out, weir_error *err) {
    *out = NULL;
    /* Checked before anything owns loop handles (they close asynchronously). */
    if (c->default_runtime && strcmp(c->default_runtime, "realtime") != 0 && strcmp(c->default_runtime, "virtual") != 0)
        return weir__error(err, WEIR_EINVAL, "DEFAULT_RUNTIME must be realtime or virtual (got \"%s\")",
                           c->default_runtime);
    if (c->tick_ms < 1)
        return weir__error(err, WEIR_EINVAL, "TICK_MS must be at least 1 (got %lld)", (long long)c->tick_ms);
    weir_service *s = weir__calloc(1, sizeof *s);
    if (!s) return weir__error(err, WEIR_ENOMEM, "out of memory");
    s->loop = loop;
    s->cfg = *c;
    if (!s->cfg.component_restore) s->cfg.component_restore = svc_component_restore; /* stored user components */
    s->log_json = c->log_format && strcmp(c->log_format, "json") == 0;
    s->log_level = WEIR_LOG_INFO;
    if (c->log_level && weir_log_level_parse(c->log_level, &s->log_level)) {
        weir__free(s);
        return weir__error(err, WEIR_EINVAL, "LOG_LEVEL must be debug, info, warn or error (got \"%s\")", c->log_level);
    }
    weir_auth_config ac = {c->api_keys, c->jwt_secret, c->jwt_public_key, c->jwt_audience, c->jwt_issuer};
    int rc = weir_auth_create(&ac, &s->auth, err);
    if (rc) {
        weir__free(s);
        return rc;
    }
    rc = weir_registry_create(&s->reg);
    weir_host_options hopts = {.pool_size = c->isolate_pool_size, .timeout_ms = c->isolate_timeout_ms,
                               .memory_mb = c->isolate_memory_mb, .max_queue = c->isolate_queue, .node = c->node,
                               .typescript = c->typescript};
    if (!rc) rc = weir_host_create(loop, &hopts, &s->host, NULL); /* processes start on demand */
    if (!rc) log_node(s);
    weir_realtime_options ro = {.allow_private = c->egress_allow_private, .allowlist = c->egress_allowlist,
                                .log = on_log_effect, .log_ud = s, .host = s->host};
    if (!rc) rc = weir_realtime_create(loop, &ro, &s->rt);
    if (!rc) rc = weir_runtimes_create(c->default_runtime, runtime_log, s, &s->runtimes);
    if (!rc) {
        weir_error e2;
        rc = weir_runtimes_add_builtins(s->runtimes, s->rt, c->tick_ms, &e2);
    }
    if (rc) {
        start_failed(s);
        return weir__error(err, rc, "cannot start the runtime: %s", weir_strerror(rc));
    }
    s->started_ms = svc_now(s);
    svc_hub_config hc = {.event_history = c->event_history, .backlog_bytes = c->subscriber_backlog_bytes,
                         .linger_ms = c->subscriber_linger_ms, .metrics_interval_ms = c->metrics_interval_ms,
                         .metrics = c->enable_metrics, .flush_ms = c->event_flush_ms,
                         .batch_ms = c->event_batch_ms ? c->event_batch_ms : 1,
                         .batch_bytes = c->event_batch_bytes ? c->event_batch_bytes : 1};
    svc_hub_init(&s->hub, loop, &hc, &HUB_OPS, s);
    if ((rc = svc_persist_open(s, err)) || (rc = svc_journal_open(s, err))) {
        start_failed(s);
        return rc;
    }
    weir_http_fd_budget fds;
    weir_http_fd_budget_get(c->max_connections ? c->max_connections : 10000, &fds);
    svc_log_fd_budget(s, &fds);
    weir_http_options ho = {.host = c->host, .port = c->port, .max_body_bytes = c->max_body_bytes,
                            .max_connections = fds.connections, .max_connections_per_ip = c->max_connections_per_ip,
                            .header_timeout_ms = c->header_timeout_ms, .allowed_hosts = c->allowed_hosts,
                            .cors_origins = c->cors_origins};
    if ((rc = weir_http_server_start(loop, &ho, svc_route, s, &s->http, err))) {
        start_failed(s);
        return rc;
    }
    if (!(s->eio = svc_sio_new(s))) {
        weir_http_server_destroy(s->http); /* its handles close on the next loop turn without touching s */
        start_failed(s);
        return weir__error(err, WEIR_ENOMEM, "out of memory starting Socket.IO");
    }
    uv_timer_init(loop, &s->shutdown_poll);
    s->shutdown_poll.data = s;
    svc_time_init(s);
    s->open_handles = 2;
    /* Before the loop turns: no request sees the executions half-way back. */
    if ((rc = svc_journal_recover(s, err))) {
        weir_service_destroy(s);
        return rc;
    }
    svc_autostart(s);
    *out = s;
    return 0;
}

int weir_service_port(const weir_service *s) { return weir_http_server_port(s->http); }

const char *weir_service_auth_summary(const weir_service *s) {
    return weir_auth_active(s->auth) ? weir_auth_summary(s->auth) : NULL;
}

/* Event clients get this long to collect what they were sent and close. */
#define SHUTDOWN_CLIENTS_MS 3000

/* Step 2 of a shutdown: once the event clients are gone (or their time is
 * up), close the listener; once no request is in flight, done.  The
 * listener stays open meanwhile because a polling Socket.IO client needs one
 * more request to collect its DISCONNECT; new work is refused all along. */
static void shutdown_check(uv_timer_t *t) {
    weir_service *s = t->data;
    if (!s->stopped_accepting) {
        bool clients = s->hub.n_clients > 0 || weir_eio_sockets(s->eio) > 0;
        if (clients && uv_now(s->loop) - s->shutdown_ms < SHUTDOWN_CLIENTS_MS) return;
        if (clients) {
            json_t *f = json_pack("{s:I,s:I}", "eventClients", (json_int_t)s->hub.n_clients, "socketIoSockets",
                                  (json_int_t)weir_eio_sockets(s->eio));
            weir_service_log(s, WEIR_LOG_WARN, f, "event clients still open after %d ms: closing them",
                             SHUTDOWN_CLIENTS_MS);
            json_decref(f);
        }
        weir_http_server_stop_accepting(s->http);
        s->stopped_accepting = true;
    }
    if (weir_http_server_in_flight(s->http) > 0) return;
    uv_timer_stop(t);
    if (s->shutdown_done) s->shutdown_done(s->shutdown_ud);
}

void weir_service_shutdown(weir_service *s, void (*done)(void *), void *ud) {
    if (s->shutting_down) return;
    s->shutting_down = true;
    s->shutdown_done = done;
    s->shutdown_ud = ud;
    s->shutdown_ms = uv_now(s->loop);
    weir_service_log(s, WEIR_LOG_INFO, NULL, "shutting down: no new connections, stopping executions");
    /* Stops first, so subscribers hear execution:cancelled; then the event
     * sockets close (after what was queued to them); then the listener
     * (shutdown_check). */
    for (svc_exec *x = s->execs; x; x = x->next) {
        svc_play_stop(x, "shutdown");
        /* A journaled execution is left as it is: it comes back at the next
         * start; an inject waiting on it is answered 202 (not settled). */
        if (!x->finished && !x->journaled) weir_exec_stop(x->e, svc_exec_now(x), NULL, NULL);
        for (svc_wait *w = x->journaled ? x->waits : NULL, *n; w; w = n) {
            n = w->next;
            svc_wait_answer(w, NULL);
        }
        if (x->journaled) svc_hooks_shutdown(x);
    }
    svc_hub_close_all(&s->hub);
    weir_eio_close_all(s->eio); /* Engine.IO sessions not (yet) connected to the namespace too */
    uv_timer_start(&s->shutdown_poll, shutdown_check, 0, 20);
}

static void handle_closed(uv_handle_t *h) {
    weir_service *s = h->data;
    if (--s->open_handles == 0) weir__free(s);
}

void weir_service_destroy(weir_service *s) {
    if (!s) return;
    svc_journal_close(s); /* first: commits what is queued and sends what waited on it */
    svc_views_free(s);
    svc_hub_free(&s->hub); /* first: no client command reaches s any more */
    weir_eio_destroy(s->eio);
    weir_http_server_destroy(s->http);
    for (svc_exec *x = s->execs, *next; x; x = next) {
        next = x->next;
        x->journaled = false; /* going, not stopping: nothing more is journaled */
        svc_exec_free(x);
    }
    free_graphs(s);
    svc_index_free(&s->exec_ix);
    svc_persist_close(s);
    weir_runtimes_destroy(s->runtimes);
    weir_realtime_destroy(s->rt);
    weir_host_destroy(s->host); /* kills its processes; their handles close as the loop turns */
    svc_components_free(s);
    weir_registry_destroy(s->reg);
    weir_auth_destroy(s->auth);
    s->auth = NULL;
    uv_timer_stop(&s->shutdown_poll);
    uv_idle_stop(&s->play_idle);
    uv_close((uv_handle_t *)&s->shutdown_poll, handle_closed); /* the last one frees s */
    uv_close((uv_handle_t *)&s->play_idle, handle_closed);
}

void svc_observe(weir_service *s, double ms) {
    s->requests++;
    s->latency_count++;
    s->latency_sum += ms / 1000.0;
    for (int i = 0; i < LATENCY_BUCKETS; i++)
        if (ms <= svc_latency_bounds[i]) s->latency_bucket[i]++;
}
