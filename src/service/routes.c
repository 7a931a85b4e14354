/*
 * REST routes (SPEC §6): one table drives dispatch and the OpenAPI
 * document, so the document lists exactly the routes the router knows.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/alloc.h"
#include "service/answer.h"
#include "core/secret_name.h"
#include "service/redact.h"
#include "service/service_internal.h"
#include "service/webui.h"
#include "service/wsapi.h"
#include "store/journal.h"

typedef struct call {
    weir_service *s;
    weir_http_req *req;
    const char *params[2];
    uint64_t start_ns;
    uint64_t mark; /* journal items queued before it: an answer after one it queued waits (output commit) */
    uint64_t need; /* the journal item the execution it reads last queued: the answer waits for it */
    bool resumed;  /* a graph's body again, once the catalog's components are registered */
} call;

typedef void (*handler_fn)(call *c);

/* ------------------------------------------------------------ answering */

/* body STOLEN; extra: headers as weir_http_respond's, or NULL. */
void svc_respond_now(weir_service *s, weir_http_req *req, int status, json_t *body, const char *const *extra,
                     uint64_t start_ns) {
    weir_http_respond_json_h(req, status, body, extra);
    svc_observe(s, (double)(uv_hrtime() - start_ns) / 1e6);
}

/* An answer to a request that journaled an input, or that shows an
 * execution whose newest input is not durable yet, is sent once that input
 * (and everything journaled before it) is durable (output commit): nothing
 * a client sees can be undone by a crash.  Other reads answer at once. */
static void reply_h(call *c, int status, json_t *body, const char *const *extra) {
    uint64_t mark = c->s->j_mark != c->mark ? c->s->j_mark : c->need; /* a write waits for all before it */
    if (svc_out_hold_http(c->s, c->req, mark, status, body, extra, c->start_ns)) return;
    svc_respond_now(c->s, c->req, status, body, extra, c->start_ns);
}

static void reply(call *c, int status, json_t *body) { reply_h(c, status, body, NULL); }

/* 201 with Location: the created resource's path (prefix + id). */
static void created(call *c, json_t *body, const char *prefix, const char *id) {
    char where[128];
    snprintf(where, sizeof where, "%s%s", prefix, id);
    const char *hdr[] = {"Location", where, NULL};
    reply_h(c, 201, body, hdr);
}

static void fail(call *c, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(call *c, int status, const char *fmt, ...) {
    char msg[WEIR_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    reply(c, status, json_pack("{s:s}", "error", msg));
}

static int status_of(int code) { return svc_status_of(code); }

static void fail_err(call *c, const weir_error *err) { reply(c, status_of(err->code), svc_error_of(err)); }

/* ------------------------------------------------------------- bodies */

/* What a route's body may be (SPEC §10).  A web page can POST text/plain,
 * application/x-www-form-urlencoded and multipart/form-data anywhere without
 * a CORS preflight; none of them is ever parsed: a body whose type is not
 * listed here (or that has none) is 415 before the handler runs. */
typedef enum body_kind {
    BODY_NONE,  /* no body is read (GET, DELETE) */
    BODY_JSON,  /* application/json */
    BODY_GRAPH, /* application/json or application/yaml */
    BODY_NDJSON, /* application/x-ndjson (a journal file) */
} body_kind;

static const char *const JSON_TYPES[] = {"application/json", NULL};
static const char *const YAML_TYPES[] = {"application/yaml", "application/x-yaml", "text/yaml", NULL};
static const char *const NDJSON_TYPES[] = {"application/x-ndjson", "application/jsonl", NULL};

static bool blank(char ch) { return ch == ' ' || ch == '\t'; }

/* The media type of a Content-Type value, lower-cased into out (cap bytes),
 * or false when its parameters are not acceptable: a charset, when given,
 * must be utf-8 (JSON and YAML are UTF-8, RFC 8259 §8.1). */
static bool media_type(const char *ct, char *out, size_t cap) {
    while (blank(*ct)) ct++;
    size_t n = strcspn(ct, ";");
    while (n && blank(ct[n - 1])) n--;
    if (n >= cap) n = cap - 1;
    for (size_t i = 0; i < n; i++) out[i] = (char)tolower((unsigned char)ct[i]);
    out[n] = '\0';
    for (const char *p = strchr(ct, ';'); p; p = strchr(p + 1, ';')) {
        const char *q = p + 1;
        while (blank(*q)) q++;
        if (strncasecmp(q, "charset", 7) != 0) continue;
        q += 7;
        while (blank(*q)) q++;
        if (*q != '=') return false;
        q++;
        while (blank(*q)) q++;
        bool quoted = *q == '"';
        q += quoted;
        if (strncasecmp(q, "utf-8", 5) != 0 && strncasecmp(q, "utf8", 4) != 0) return false;
        q += q[3] == '-' ? 5 : 4;
        q += quoted && *q == '"';
        while (blank(*q)) q++;
        if (*q && *q != ';') return false;
    }
    return true;
}

static bool listed(const char *type, const char *const *types) {
    for (; *types; types++)
        if (strcmp(type, *types) == 0) return true;
    return false;
}

/* True when req's content type is one the route accepts; otherwise
 * answered 415 naming what it accepts.  Only a request with neither a body
 * nor a Content-Type needs none: a form or text/plain type is 415 even with
 * an empty body, so such a POST from a page never acts. */
static bool body_type_ok(call *c, body_kind kind) {
    if (kind == BODY_NONE) return true;
    const char *ct = weir_http_header(c->req, "content-type");
    if (c->req->body_len == 0 && !ct) return true;
    char type[64] = "";
    bool params_ok = ct && media_type(ct, type, sizeof type);
    if (params_ok && kind == BODY_NDJSON) {
        if (listed(type, NDJSON_TYPES)) return true;
    } else if (params_ok && (listed(type, JSON_TYPES) || (kind == BODY_GRAPH && listed(type, YAML_TYPES)))) {
        return true;
    }
    const char *accepts = kind == BODY_GRAPH    ? "application/json or application/yaml"
                          : kind == BODY_NDJSON ? "application/x-ndjson"
                                                : "application/json";
    char what[96];
    if (!ct) snprintf(what, sizeof what, "a body without Content-Type");
    else if (!params_ok && type[0] && (listed(type, JSON_TYPES) || listed(type, YAML_TYPES)))
        snprintf(what, sizeof what, "%.40s in another charset than utf-8", type);
    else snprintf(what, sizeof what, "Content-Type %.40s", type[0] ? type : "(empty)");
    for (char *p = what; *p; p++)
        if ((unsigned char)*p < ' ' || (unsigned char)*p >= 127) *p = '?';
    fail(c, 415, "%s %s takes Content-Type: %s (optionally ; charset=utf-8), not %s", c->req->method, c->req->path,
         accepts, what);
    return false;
}

/* Parse the body as JSON (or YAML when the content type says so; the type
 * was checked by body_type_ok before the handler ran). */
static json_t *body_doc(call *c, bool allow_empty) {
    const char *ct = weir_http_header(c->req, "content-type");
    if (c->req->body_len == 0) {
        if (allow_empty) return json_object();
        fail(c, 400, "a JSON body is required");
        return NULL;
    }
    weir_doc_format fmt = WEIR_DOC_JSON;
    char type[64];
    if (ct && media_type(ct, type, sizeof type) && listed(type, YAML_TYPES)) fmt = WEIR_DOC_YAML;
    json_t *doc = NULL;
    weir_error err;
    if (weir_doc_parse(c->req->body, c->req->body_len, fmt, &doc, &err)) {
        fail(c, 400, "%s", err.message);
        return NULL;
    }
    return doc;
}

static bool query_flag(const char *query, const char *name, bool dflt) {
    char v[8];
    if (!svc_query_param(query, name, v, sizeof v)) return dflt;
    return strcmp(v, "false") != 0 && strcmp(v, "0") != 0;
}

/* ---------------------------------------------------------------- graphs */

/* ms since the epoch as "2024-05-01T12:00:00.000Z". */
void svc_iso8601(int64_t ms, char out[32]) {
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char day[24];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%.20s.%03dZ", day, (int)(ms % 1000));
}

/* The summary of g; full: with its topology (the definition is added by
 * graph_summary). */
static json_t *graph_head(svc_graph *g, bool full) {
    json_t *topo = weir_graph_topology(g->g);
    char created[32];
    svc_iso8601(g->created_ms, created);
    json_t *j = json_pack("{s:s,s:s,s:s?,s:I,s:I,s:s}", "id", g->id, "name", weir_graph_name(g->g), "version",
                          weir_graph_version(g->g), "nodeCount",
                          (json_int_t)weir_graph_node_count(g->g), "edgeCount", (json_int_t)weir_graph_edge_count(g->g),
                          "createdAt", created);
    if (!j) {
        json_decref(topo);
        return NULL;
    }
    if (full) {
        json_object_set_new(j, "topology", topo);
    } else {
        json_object_set_new(j, "inputNodes", json_incref(json_object_get(topo, "inputNodes")));
        json_object_set_new(j, "outputNodes", json_incref(json_object_get(topo, "outputNodes")));
        json_decref(topo);
    }
    return j;
}

json_t *svc_graph_entry(svc_graph *g) { return graph_head(g, false); }

static json_t *graph_summary(svc_graph *g, bool full) {
    json_t *j = graph_head(g, full);
    if (!j || !full) return j;
    json_t *doc = json_loads(g->text, JSON_DECODE_ANY, NULL); /* the graph keeps no document */
    json_t *def = doc ? weir_redact_graph(doc) : NULL;        /* secrets read as "***" */
    json_decref(doc);
    if (!def) {
        json_decref(j);
        return NULL;
    }
    json_object_set_new(j, "definition", def);
    if (g->flat) { /* composed (SPEC §1): what runs, with path ids, and the graphs it was made of */
        json_t *flat = json_loads(g->flat, 0, NULL);
        json_t *shown = flat ? weir_redact_graph(flat) : NULL;
        json_t *subs = json_incref(json_object_get(flat, "subgraphs"));
        json_decref(flat);
        if (!shown || !subs || json_object_set_new(j, "subgraphs", subs) ||
            json_object_set_new(j, "flattened", shown)) {
            json_decref(j);
            return NULL;
        }
    }
    return j;
}

/* Could compact JSON text hold a secret (redact.h)?  Every key is checked
 * by name; one written with an escape is taken for one. */
static bool may_hold_secret(const char *text) {
    char key[256];
    for (const char *p = text; (p = strchr(p, '"'));) {
        const char *start = ++p;
        bool escaped = false;
        for (; *p && *p != '"'; p++)
            if (*p == '\\' && p[1]) {
                escaped = true;
                p++;
            }
        if (!*p) return true;
        size_t n = (size_t)(p++ - start);
        if (*p != ':') continue; /* a value, not a key */
        if (escaped || n >= sizeof key) return true;
        memcpy(key, start, n);
        key[n] = '\0';
        if (weir__is_secret_name(key)) return true;
    }
    return false;
}

static void graphs_create(call *c);
static void graphs_put(call *c);
static bool match(const char *pattern, const char *path, char *scratch, size_t cap, const char *params[2]);

/* POST /api/graphs or PUT /api/graphs/:id again, once the catalog's
 * components are registered. */
static void graph_body_resume(weir_service *s, weir_http_req *req, uint64_t start_ns) {
    call c = {s, req, {NULL, NULL}, start_ns, s->j_mark, 0, true};
    char scratch[1024];
    if (strcmp(req->method, "PUT") == 0 && match("/api/graphs/:id", req->path, scratch, sizeof scratch, c.params))
        return graphs_put(&c);
    graphs_create(&c);
}

/* The graph in the request's body, added (g NULL: *out) or stored as g's
 * new version.  A JSON body loads from its text; YAML, or JSON that does
 * not load, from its document, which reports the problems as it always
 * has.  0; a code (WEIR_E…, negative: err and problems say why); ANSWERED
 * when the body itself was answered (it is not JSON or YAML). */
#define ANSWERED 1
static int graph_of_body(call *c, svc_graph *g, svc_graph **out, json_t *problems, weir_error *err) {
    int rc = WEIR_EGRAPH;
    const char *ct = weir_http_header(c->req, "content-type");
    char type[64];
    if (c->req->body_len && !(ct && media_type(ct, type, sizeof type) && listed(type, YAML_TYPES)))
        rc = g ? svc_graph_replace(c->s, g, NULL, c->req->body, c->req->body_len, NULL, err)
               : svc_graph_add_text(c->s, c->req->body, c->req->body_len, out, NULL, err);
    if (rc != WEIR_EGRAPH) return rc;
    json_t *doc = body_doc(c, false);
    if (!doc) return ANSWERED;
    rc = g ? svc_graph_replace(c->s, g, doc, NULL, 0, problems, err) : svc_graph_add(c->s, doc, out, problems, err);
    json_decref(doc);
    return rc;
}

/* A graph refused: its error, with the problems when there are some
 * (problems STOLEN). */
static void graph_refused(call *c, int rc, json_t *problems, weir_error *err) {
    json_t *body = svc_error_of(err);
    if (json_array_size(problems)) json_object_set(body, "problems", problems);
    json_decref(problems);
    reply(c, status_of(rc), body);
}

/* With CATALOG_URL: components the graph names that are neither built in
 * nor registered are fetched and registered first (SPEC §2).  True when
 * that is under way (the request is answered later). */
static bool catalog_first(call *c) {
    if (c->resumed || !c->s->cfg.catalog_url || !c->s->cfg.catalog_url[0] || !c->req->body_len) return false;
    const char *ct = weir_http_header(c->req, "content-type");
    char type[64];
    weir_doc_format fmt = ct && media_type(ct, type, sizeof type) && listed(type, YAML_TYPES) ? WEIR_DOC_YAML
                                                                                           : WEIR_DOC_JSON;
    json_t *doc = NULL;
    weir_error err;
    if (weir_doc_parse(c->req->body, c->req->body_len, fmt, &doc, &err)) return false; /* reported below */
    bool pending = svc_catalog_resolve(c->s, c->req, c->start_ns, doc, graph_body_resume);
    json_decref(doc);
    return pending;
}

/* The body's graph stored (old: as its new version; else a new graph):
 * its summary with its topology, or NULL when c is answered (refused, or
 * waiting for the catalog). */
static json_t *graph_stored(call *c, svc_graph *old, svc_graph **out) {
    if (catalog_first(c)) return NULL;
    weir_error err;
    json_t *problems = json_array();
    int rc = graph_of_body(c, old, old ? NULL : out, problems, &err);
    if (rc == ANSWERED) {
        json_decref(problems);
        return NULL;
    }
    if (rc) {
        graph_refused(c, rc, problems, &err);
        return NULL;
    }
    json_decref(problems);
    if (old) *out = old;
    json_t *j = graph_summary(*out, false);
    json_object_set_new(j, "topology", weir_graph_topology((*out)->g));
    return j;
}

static void graphs_create(call *c) {
    svc_graph *g = NULL;
    json_t *j = graph_stored(c, NULL, &g);
    if (j) created(c, j, "/api/graphs/", g->id);
}

/* PUT /api/graphs/:id: a new version under the same id, loaded and
 * checked as POST does (400 with the same problems; nothing changed;
 * components from the catalog first, as POST). */
static void graphs_put(call *c) {
    svc_graph *g = svc_graph_find(c->s, c->params[0]);
    if (!g) return fail(c, 404, "graph %s not found", c->params[0]);
    json_t *j = graph_stored(c, g, &g);
    if (j) reply(c, 200, j);
}

static void graphs_list(call *c) {
    json_t *a = json_array();
    for (svc_graph *g = c->s->graphs; g; g = g->next) json_array_append_new(a, graph_summary(g, false));
    reply(c, 200, a);
}

static svc_graph *graph_or_404(call *c) {
    svc_graph *g = svc_graph_find(c->s, c->params[0]);
    if (!g) fail(c, 404, "graph %s not found", c->params[0]);
    return g;
}

static void graphs_get(call *c) {
    svc_graph *g = graph_or_404(c);
    if (!g) return;
    if (g->flat || may_hold_secret(g->text)) return reply(c, 200, graph_summary(g, true));
    /* Nothing to redact: the text kept is the definition, spliced in as it
     * is (a large graph is neither parsed nor written out again). */
    json_t *j = graph_head(g, true);
    char *head = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    size_t hl = head ? strlen(head) : 0, tl = strlen(g->text);
    static const char DEF[] = ",\"definition\":";
    char *body = hl ? weir__malloc(hl + sizeof DEF + tl + 1) : NULL;
    if (!body) {
        weir__free(head);
        return fail(c, 503, "out of memory");
    }
    size_t n = hl - 1; /* the head without its closing brace */
    memcpy(body, head, n);
    memcpy(body + n, DEF, sizeof DEF - 1);
    n += sizeof DEF - 1;
    memcpy(body + n, g->text, tl);
    n += tl;
    body[n++] = '}';
    weir_http_respond(c->req, 200, "application/json", body, n, NULL);
    svc_observe(c->s, (double)(uv_hrtime() - c->start_ns) / 1e6); /* as reply() does */
    weir__free(body);
    weir__free(head);
}

static void graphs_delete(call *c) {
    svc_graph *g = graph_or_404(c);
    if (!g) return;
    weir_error err;
    if (svc_graph_in_use(c->s, g, &err)) return fail_err(c, &err); /* a subgraph of others: 409 */
    json_t *body = json_pack("{s:s,s:b}", "id", g->id, "deleted", 1);
    if (svc_graph_delete(c->s, g, &err)) {
        json_decref(body);
        return fail_err(c, &err);
    }
    reply(c, 200, body);
}

static json_t *exec_summary(svc_exec *x) { return svc_exec_summary(x); }

static void graphs_execute(call *c) {
    svc_graph *g = graph_or_404(c);
    if (!g) return;
    json_t *opts = body_doc(c, true);
    if (!opts) return;
    svc_exec *x;
    weir_error err;
    int rc = svc_exec_start(c->s, g, opts, NULL, &x, &err);
    json_decref(opts);
    if (rc) return fail_err(c, &err);
    created(c, exec_summary(x), "/api/executions/", x->id);
}

/* ------------------------------------------------------------ executions */

static svc_exec *exec_or_404(call *c) {
    svc_exec *x = svc_exec_find(c->s, c->params[0]);
    if (!x) fail(c, 404, "execution %s not found", c->params[0]);
    else if (x->jmark > c->need) c->need = x->jmark; /* what it shows must be durable first */
    return x;
}

static void execs_list(call *c) {
    c->need = c->s->j_mark; /* it shows every execution: all that is journaled first */
    json_t *a = json_array();
    for (svc_exec *x = c->s->execs; x; x = x->next) json_array_append_new(a, exec_summary(x));
    reply(c, 200, a);
}

static void execs_get(call *c) {
    svc_exec *x = exec_or_404(c);
    if (!x) return;
    json_t *j = exec_summary(x);
    json_object_set_new(j, "metrics", weir_exec_metrics(x->e, svc_exec_now(x)));
    reply(c, 200, j);
}

static void execs_metrics(call *c) {
    svc_exec *x = exec_or_404(c);
    if (x) reply(c, 200, weir_exec_metrics(x->e, svc_exec_now(x)));
}

/* {executionId, tick, state, nodes: {nodeId: state}} (SPEC §7.2); ?node=ID
 * for one node.  Refused (413) when it would write out more than
 * MAX_ANSWER_BYTES, measured before it is written (as an inject's answer). */
static void state_reply(call *c, const char *at) {
    svc_exec *x = exec_or_404(c);
    if (!x) return;
    char node[256];
    bool one = svc_query_param(c->req->query, "node", node, sizeof node);
    json_t *body;
    weir_error err;
    if (svc_state_body(c->s, x, one ? node : NULL, at, &body, &err)) return fail_err(c, &err);
    reply(c, 200, body);
}

static void execs_state(call *c) { state_reply(c, NULL); }

/* Inject; with wait (default) the answer comes when everything it caused
 * has settled (SPEC §4.1). */
static void execs_inject(call *c) {
    svc_exec *x = exec_or_404(c);
    if (!x) return;
    json_t *body = body_doc(c, false);
    if (!body) return;
    const char *node = json_string_value(json_object_get(body, "nodeId"));
    json_t *value = json_object_get(body, "value");
    json_t *port = json_object_get(body, "port");
    json_t *wait_v = json_object_get(body, "wait");
    if (!json_is_object(body) || !node || !value || (port && !json_is_string(port)) ||
        (wait_v && !json_is_boolean(wait_v))) {
        json_decref(body);
        return fail(c, 400, "an inject body is {\"nodeId\": string, \"port\"?: string, \"value\": any, \"wait\"?: "
                            "boolean, \"trace\"?: boolean, \"afterTicks\"?: n, \"atTick\"?: n}");
    }
    bool wait = wait_v ? json_is_true(wait_v) : query_flag(c->req->query, "wait", true);
    unsigned flags = 0;
    if (wait) {
        flags = WEIR_INJECT_OUTPUTS;
        if (json_is_true(json_object_get(body, "trace")) || query_flag(c->req->query, "trace", false))
            flags |= WEIR_INJECT_TRACE;
    }
    weir_inject in = {.node = node, .port = json_string_value(port), .value = value, .flags = flags};
    svc_reply r = {.req = c->req, .ack_id = -1, .start_ns = c->start_ns};
    if (!svc_time_schedule(c->s, x, &r, &in, body)) svc_inject(c->s, x, &r, &in, wait);
    json_decref(body);
}

/* runtime, tick, advance, run, step (SPEC §4.5): the op is the path's last
 * segment. */
static void execs_time(call *c) {
    svc_exec *x = exec_or_404(c);
    if (!x) return;
    json_t *body = body_doc(c, true);
    if (!body) return;
    const char *op = strrchr(c->req->path, '/') + 1;
    svc_reply r = {.req = c->req, .ack_id = -1, .start_ns = c->start_ns};
    svc_time_command(c->s, x, &r, op, body);
    json_decref(body);
}

typedef int (*control_fn)(weir_exec *, int64_t, weir_error *);

static void control(call *c, control_fn fn) {
    svc_exec *x = exec_or_404(c);
    if (!x) return;
    weir_error err;
    if (fn(x->e, svc_exec_now(x), &err)) return fail_err(c, &err);
    reply(c, 200, exec_summary(x));
}

static void execs_pause(call *c) {
    svc_exec *x = svc_exec_find(c->s, c->params[0]);
    if (x) svc_play_stop(x, "pause"); /* virtual: pause stops playing too */
    control(c, weir_exec_pause);
}
static void execs_resume(call *c) { control(c, weir_exec_resume); }

/* POST /api/executions/:id/upgrade {graphVersion?} (upgrade.c). */
static void execs_upgrade(call *c) {
    svc_exec *x = exec_or_404(c);
    if (!x) return;
    json_t *body = body_doc(c, true);
    if (!body) return;
    json_t *report;
    weir_error err;
    int rc = svc_exec_upgrade(c->s, x, body, &report, &err);
    json_decref(body);
    if (rc) return fail_err(c, &err);
    reply(c, 200, report);
}

static void execs_stop(call *c) {
    svc_exec *x = exec_or_404(c);
    if (!x) return;
    weir_error err;
    size_t discarded = 0;
    if (weir_exec_stop(x->e, svc_exec_now(x), &discarded, &err)) return fail_err(c, &err);
    json_t *j = exec_summary(x);
    json_object_set_new(j, "discarded", json_integer((json_int_t)discarded));
    reply(c, 200, j);
}

/* ---------------------------------------------- time travel and fork */

/* The states as of the end of wave :tick (SPEC §7.2), from the journal;
 * ?node=ID for one node. */
static void execs_at(call *c) { state_reply(c, c->params[1]); }

/* The journal as NDJSON (SPEC §7.2): self-contained, what import and
 * weir replay read. */
static void execs_journal(call *c) {
    svc_exec *x = exec_or_404(c);
    if (!x) return;
    char *text;
    size_t len;
    weir_error err;
    if (svc_travel_export(c->s, x, c->s->cfg.max_answer_bytes, &text, &len, &err)) return fail_err(c, &err);
    char disp[96];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s.ndjson\"", x->id);
    const char *hdr[] = {"Content-Disposition", disp, NULL};
    weir_http_respond(c->req, 200, "application/x-ndjson", text, len, hdr);
    svc_observe(c->s, (double)(uv_hrtime() - c->start_ns) / 1e6);
    weir__free(text);
}

/* POST a journal file (?runtime=virtual|realtime): a new execution that
 * replays it — every record checked — and goes on from its end. */
static void execs_import(call *c) {
    char rt[32];
    bool has_rt = svc_query_param(c->req->query, "runtime", rt, sizeof rt);
    if (!c->req->body_len)
        return fail(c, 400, "POST /api/executions/import takes a journal file (NDJSON, as GET "
                            "/api/executions/:id/journal gives it) as its body");
    svc_exec *f;
    weir_error err;
    if (svc_travel_import(c->s, c->req->body, c->req->body_len, has_rt ? rt : NULL, NULL, &f, &err))
        return fail_err(c, &err);
    json_t *j = exec_summary(f);
    json_object_set_new(j, "tick", json_integer((json_int_t)weir_exec_tick(f->e)));
    created(c, j, "/api/executions/", f->id);
}

/* POST {atTick, runtime?, options?}: a new execution continuing from there. */
static void execs_fork(call *c) {
    svc_exec *x = exec_or_404(c);
    if (!x) return;
    json_t *body = body_doc(c, false);
    if (!body) return;
    json_t *at = json_object_get(body, "atTick"), *rt = json_object_get(body, "runtime"),
           *opts = json_object_get(body, "options");
    bool latest = json_is_string(at) && strcmp(json_string_value(at), "latest") == 0;
    if ((!latest && (!json_is_integer(at) || json_integer_value(at) < 0)) || (rt && !json_is_string(rt)) ||
        (opts && !json_is_object(opts))) {
        json_decref(body);
        return fail(c, 400,
                    "a fork needs {atTick: a tick (a whole number, or \"latest\"), runtime?: \"virtual\" (the "
                    "default) or \"realtime\", options?: {mocks, tickMs}}");
    }
    svc_exec *f;
    weir_error err;
    int rc = svc_travel_fork(c->s, x, latest ? 0 : (uint64_t)json_integer_value(at), latest, json_string_value(rt),
                             opts, &f, &err);
    if (rc) {
        json_decref(body);
        return fail_err(c, &err);
    }
    json_t *j = exec_summary(f);
    json_object_set_new(j, "forkOf", json_pack("{s:s,s:O}", "executionId", x->id, "atTick", at));
    json_decref(body);
    created(c, j, "/api/executions/", f->id);
}

/* ------------------------------------------------------------ components */

static void components_list(call *c) {
    json_t *a = json_array();
    for (size_t i = 0; i < weir_registry_count(c->s->reg); i++)
        json_array_append_new(a, svc_component_json(weir_registry_at(c->s->reg, i)));
    reply(c, 200, a);
}

static void components_get(call *c) {
    const weir_component *comp = weir_registry_find(c->s->reg, c->params[0]);
    if (!comp) return fail(c, 404, "component %s not found; GET /api/components lists them", c->params[0]);
    reply(c, 200, svc_component_json(comp));
}

static void components_post(call *c) { svc_components_post(c->s, c->req, c->start_ns); }

/* ---------------------------------------------------------------- ingress */

static void ingress(call *c) {
    const char *name = c->params[0];
    svc_graph *g = NULL;
    for (svc_graph *it = c->s->graphs; it; it = it->next)
        if (strcmp(weir_graph_name(it->g), name) == 0) g = it;
    if (!g) return fail(c, 404, "no graph named \"%s\" is loaded", name);
    json_t *decl = json_object_get(weir_graph_metadata(g->g), "ingress");
    const char *node = json_string_value(json_object_get(decl, "node"));
    if (!node)
        return fail(c, 400,
                    "graph \"%s\" declares no ingress; add \"metadata\": {\"ingress\": {\"node\": ..., \"port\": ...}}",
                    name);
    svc_exec *x = NULL;
    for (svc_exec *it = c->s->execs; it; it = it->next)
        if (!it->finished && strcmp(it->graph_name, name) == 0) x = it; /* the newest wins */
    if (!x)
        return fail(c, 409, "graph \"%s\" has no running execution; start one with POST /api/graphs/%s/execute", name,
                    g->id);
    json_t *body = body_doc(c, false);
    if (!body) return;
    json_t *items = json_is_array(body) ? body : NULL;
    size_t n = items ? json_array_size(items) : 1, accepted = 0;
    weir_error err;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        weir_inject in = {.node = node,
                          .port = json_string_value(json_object_get(decl, "port")),
                          .value = items ? json_array_get(items, i) : body};
        rc = weir_exec_inject(x->e, &in, svc_exec_now(x), NULL, &err);
        if (rc == 0) accepted++;
    }
    json_decref(body);
    c->s->injects_total += accepted;
    if (rc) {
        /* what was accepted stays accepted; the caller learns where it stopped */
        return reply(c, rc == WEIR_ENOTFOUND ? 400 : status_of(rc),
                     json_pack("{s:s,s:I,s:s}", "error", err.message, "accepted", (json_int_t)accepted, "executionId",
                               x->id));
    }
    reply(c, 202, json_pack("{s:s,s:I}", "executionId", x->id, "accepted", (json_int_t)accepted));
}

/* ---------------------------------------------------------------- service */

static void health(call *c) {
    reply(c, c->s->shutting_down ? 503 : 200,
          json_pack("{s:s,s:s,s:I}", "status", c->s->shutting_down ? "shutting-down" : "ok", "version", WEIR_VERSION,
                    "uptimeMs", (json_int_t)(svc_now(c->s) - c->s->started_ms)));
}

static void health_live(call *c) { reply(c, 200, json_pack("{s:s}", "status", "alive")); }

static void health_ready(call *c) {
    if (c->s->shutting_down) return fail(c, 503, "shutting down");
    reply(c, 200, json_pack("{s:s}", "status", "ready"));
}

typedef struct totals {
    size_t by_state[7];
    uint64_t processed, errors;
    size_t queued;
} totals;

static totals count(weir_service *s) {
    totals t = {.processed = s->messages_finished, .errors = s->errors_finished};
    for (svc_exec *x = s->execs; x; x = x->next) {
        t.by_state[weir_exec_state(x->e)]++;
        t.queued += weir_exec_queue_depth(x->e);
        if (x->finished) continue;
        json_t *m = weir_exec_metrics(x->e, 0);
        t.processed += (uint64_t)json_integer_value(json_object_get(m, "messagesProcessed"));
        t.errors += (uint64_t)json_integer_value(json_object_get(m, "errorCount"));
        json_decref(m);
    }
    return t;
}

static json_t *host_stats(weir_service *s) {
    weir_host_stats h;
    weir_host_stats_get(s->host, &h);
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "poolSize", (json_int_t)s->cfg.isolate_pool_size, "processes",
                     (json_int_t)h.processes, "busy", (json_int_t)h.busy, "queued", (json_int_t)h.queued, "calls",
                     (json_int_t)h.calls, "failures", (json_int_t)h.failures, "processesStarted", (json_int_t)h.started);
}

static void stats(call *c) {
    c->need = c->s->j_mark; /* counts every execution: all that is journaled first */
    totals t = count(c->s);
    json_t *by = json_object();
    for (int st = 0; st < 7; st++) json_object_set_new(by, weir_state_name(st), json_integer((json_int_t)t.by_state[st]));
    size_t graphs = 0;
    for (svc_graph *g = c->s->graphs; g; g = g->next) graphs++;
    reply(c, 200,
          json_pack("{s:I,s:I,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "graphs", (json_int_t)graphs, "executions",
                    (json_int_t)c->s->n_execs, "executionsByState", by, "activeExecutions",
                    (json_int_t)c->s->n_running, "totalMessagesProcessed", (json_int_t)t.processed, "queueDepth",
                    (json_int_t)t.queued, "connections", (json_int_t)weir_http_server_connections(c->s->http),
                    "eventClients", (json_int_t)c->s->hub.n_clients, "subscribers",
                    (json_int_t)c->s->hub.n_subs, "uptimeMs",
                    (json_int_t)(svc_now(c->s) - c->s->started_ms), "componentHost", host_stats(c->s)));
}

typedef struct textbuf {
    char *p;
    size_t len, cap;
    bool oom;
} textbuf;

static void out(textbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(textbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = b->oom ? -1 : vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        if (weir__grow((void **)&b->p, &b->cap, b->len + (size_t)n + 1, 1)) {
            b->oom = true;
            return;
        }
    }
}

/* Prometheus text exposition format 0.0.4. */
static void prometheus(call *c) {
    weir_service *s = c->s;
    totals t = count(s);
    textbuf b = {weir__malloc(4096), 0, 4096, false};
    if (!b.p) return fail(c, 503, "out of memory");
    out(&b, "# HELP weir_executions Executions by state.\n# TYPE weir_executions gauge\n");
    for (int st = 0; st < 7; st++) out(&b, "weir_executions{state=\"%s\"} %zu\n", weir_state_name(st), t.by_state[st]);
    out(&b, "# HELP weir_messages_processed_total Messages processed by every execution.\n"
            "# TYPE weir_messages_processed_total counter\nweir_messages_processed_total %llu\n",
        (unsigned long long)t.processed);
    out(&b, "# HELP weir_component_errors_total Unhandled component errors.\n"
            "# TYPE weir_component_errors_total counter\nweir_component_errors_total %llu\n",
        (unsigned long long)t.errors);
    out(&b, "# HELP weir_injects_total Accepted injects.\n# TYPE weir_injects_total counter\nweir_injects_total %llu\n",
        (unsigned long long)s->injects_total);
    out(&b, "# HELP weir_queue_depth Inputs waiting in pause queues.\n# TYPE weir_queue_depth gauge\n"
            "weir_queue_depth %zu\n",
        t.queued);
    out(&b, "# HELP weir_http_connections Open HTTP connections.\n# TYPE weir_http_connections gauge\n"
            "weir_http_connections %zu\n",
        weir_http_server_connections(s->http));
    out(&b, "# HELP weir_event_clients Open event connections (/ws and Socket.IO).\n# TYPE weir_event_clients gauge\n"
            "weir_event_clients %zu\n",
        s->hub.n_clients);
    out(&b, "# HELP weir_subscribers Subscriptions of event clients to executions.\n# TYPE weir_subscribers gauge\n"
            "weir_subscribers %zu\n",
        s->hub.n_subs);
    out(&b, "# HELP weir_events_built_total Events built (only while someone listens).\n"
            "# TYPE weir_events_built_total counter\nweir_events_built_total %llu\n",
        (unsigned long long)s->hub.events_built);
    out(&b, "# HELP weir_events_sent_total Events queued to subscribers.\n# TYPE weir_events_sent_total counter\n"
            "weir_events_sent_total %llu\n",
        (unsigned long long)s->hub.events_sent);
    out(&b, "# HELP weir_event_batches_total events messages sent to batch subscribers (their events count in "
            "weir_events_sent_total).\n# TYPE weir_event_batches_total counter\nweir_event_batches_total %llu\n",
        (unsigned long long)s->hub.batches_sent);
    out(&b, "# HELP weir_events_skipped_total Events passed over by subscribers' rate (events:skipped).\n"
            "# TYPE weir_events_skipped_total counter\nweir_events_skipped_total %llu\n",
        (unsigned long long)s->hub.events_skipped);
    out(&b, "# HELP weir_subscribers_cut_total Subscribers cut off for falling behind.\n"
            "# TYPE weir_subscribers_cut_total counter\nweir_subscribers_cut_total %llu\n",
        (unsigned long long)s->hub.subscribers_cut);
    out(&b, "# HELP weir_views Live view instances (SPEC §8).\n# TYPE weir_views gauge\nweir_views %zu\n",
        s->views.n_views);
    out(&b, "# HELP weir_view_subscribers Subscriptions to live views.\n# TYPE weir_view_subscribers gauge\n"
            "weir_view_subscribers %zu\n",
        s->views.n_subs);
    out(&b, "# HELP weir_view_messages_total view:init and view:diff messages queued to subscribers.\n"
            "# TYPE weir_view_messages_total counter\nweir_view_messages_total{kind=\"init\"} %llu\n"
            "weir_view_messages_total{kind=\"diff\"} %llu\n",
        (unsigned long long)s->views.inits_sent, (unsigned long long)s->views.diffs_sent);
    out(&b, "# HELP weir_view_bytes_total Bytes of view messages queued to subscribers.\n"
            "# TYPE weir_view_bytes_total counter\nweir_view_bytes_total %llu\n",
        (unsigned long long)s->views.bytes_sent);
    out(&b, "# HELP weir_view_held_total Rounds a view subscriber was sent nothing: its backlog was over the bound.\n"
            "# TYPE weir_view_held_total counter\nweir_view_held_total %llu\n",
        (unsigned long long)s->views.held);
    if (s->journal) {
        weir_journal_stats js;
        weir_journal_stats_get(s->journal, &js);
        out(&b, "# HELP weir_journal_commits_total Journal batches made durable in its input log (one write, and one fsync "
                "with DURABILITY=fsync, each).\n"
                "# TYPE weir_journal_commits_total counter\nweir_journal_commits_total %llu\n",
            (unsigned long long)js.commits);
        out(&b, "# HELP weir_journal_records_total Input records committed to the journal.\n"
                "# TYPE weir_journal_records_total counter\nweir_journal_records_total %llu\n",
            (unsigned long long)js.records);
        out(&b, "# HELP weir_journal_max_batch Most items one journal batch held.\n"
                "# TYPE weir_journal_max_batch gauge\nweir_journal_max_batch %llu\n",
            (unsigned long long)js.max_batch);
        out(&b, "# HELP weir_journal_ingests_total Input logs applied to the journal's database, beside the commits.\n"
                "# TYPE weir_journal_ingests_total counter\nweir_journal_ingests_total %llu\n",
            (unsigned long long)js.ingests);
        out(&b, "# HELP weir_journal_checkpoints_total WAL checkpoints that copied pages, run beside the commits.\n"
                "# TYPE weir_journal_checkpoints_total counter\nweir_journal_checkpoints_total %llu\n",
            (unsigned long long)js.checkpoints);
        out(&b, "# HELP weir_journal_outstanding Journal items not yet durable.\n"
                "# TYPE weir_journal_outstanding gauge\nweir_journal_outstanding %zu\n",
            js.outstanding);
        out(&b, "# HELP weir_outputs_held Answers, events and requests waiting for their inputs to be durable.\n"
                "# TYPE weir_outputs_held gauge\nweir_outputs_held %zu\n",
            s->n_held);
    }
    out(&b, "# HELP weir_http_request_duration_seconds Time to answer API requests.\n"
            "# TYPE weir_http_request_duration_seconds histogram\n");
    for (int i = 0; i < LATENCY_BUCKETS; i++)
        out(&b, "weir_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n", svc_latency_bounds[i] / 1000.0,
            (unsigned long long)s->latency_bucket[i]);
    out(&b, "weir_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)s->latency_count);
    out(&b, "weir_http_request_duration_seconds_sum %.6f\nweir_http_request_duration_seconds_count %llu\n",
        s->latency_sum, (unsigned long long)s->latency_count);
    if (b.oom) {
        weir__free(b.p);
        return fail(c, 503, "out of memory");
    }
    weir_http_respond(c->req, 200, "text/plain; version=0.0.4; charset=utf-8", b.p, b.len, NULL);
    svc_observe(s, (double)(uv_hrtime() - c->start_ns) / 1e6);
    weir__free(b.p);
}

static void openapi(call *c) { reply(c, 200, weir_service_openapi()); }

/* Webhooks: svc_route hands every path under /hooks/ to svc_hook_route
 * before this table is searched (a hook's path has any number of segments,
 * and its graph may open it to requests without credentials); the table's
 * entries describe them for the OpenAPI document. */
static void hooks(call *c) { svc_hook_route(c->s, c->req, c->start_ns); }

/* ------------------------------------------------------------------ table */

typedef struct route_def {
    weir_route r;
    handler_fn fn;
    body_kind body; /* BODY_NONE unless given */
} route_def;

static const route_def ROUTES[] = {
    {{"POST", "/api/graphs",
      "Load a graph definition (JSON, or YAML with Content-Type: application/yaml); stored in DATA_DIR before the "
      "201; with CATALOG_URL, components neither built in nor registered are registered from the catalog first",
      201, "400 413 503"},
     graphs_create, BODY_GRAPH},
    {{"GET", "/api/graphs", "List loaded graphs", 200, ""}, graphs_list, BODY_NONE},
    {{"GET", "/api/graphs/:id", "A graph with its topology and definition", 200, "404"}, graphs_get, BODY_NONE},
    {{"PUT", "/api/graphs/:id",
      "Store a new version of a graph under its id (checked as POST: 400 with the problems, nothing changed; "
      "with CATALOG_URL, components from the catalog first as POST); "
      "running executions keep theirs until upgraded; 409 while other graphs use it as a subgraph",
      200, "400 404 409 413 503"},
     graphs_put, BODY_GRAPH},
    {{"DELETE", "/api/graphs/:id",
      "Unload a graph and delete it from DATA_DIR; stops its executions (409 while other graphs use it as a subgraph)",
      200, "404 409 503"},
     graphs_delete, BODY_NONE},
    {{"POST", "/api/graphs/:id/execute",
      "Start an execution (options: completion, timeoutMs, onError, overflow, runtime)", 201, "400 404 409 429"},
     graphs_execute, BODY_JSON},
    {{"GET", "/api/executions", "List executions (running and recently finished)", 200, ""}, execs_list, BODY_NONE},
    {{"GET", "/api/executions/:id", "An execution with its metrics", 200, "404"}, execs_get, BODY_NONE},
    {{"GET", "/api/executions/:id/metrics", "Metrics of an execution", 200, "404"}, execs_metrics, BODY_NONE},
    {{"GET", "/api/executions/:id/state", "Every node's state (?node=ID: one node's)", 200, "404 413"}, execs_state,
     BODY_NONE},
    {{"GET", "/api/executions/:id/at/:tick",
      "The node states as of the end of wave :tick (or latest), rebuilt from the journal", 200, "400 404 409 413"},
     execs_at, BODY_NONE},
    {{"POST", "/api/executions/:id/fork",
      "A new execution continuing from {atTick} of this one's journal (on virtual unless runtime says)", 201,
      "400 404 409 429 503"},
     execs_fork, BODY_JSON},
    {{"GET", "/api/executions/:id/journal",
      "The execution's input journal as NDJSON (self-contained: weir replay and import read it)", 200,
      "404 409 413 503"},
     execs_journal, BODY_NONE},
    {{"POST", "/api/executions/import",
      "A new execution from a journal file: every record checked and applied, then it goes on (?runtime, "
      "virtual by default)", 201, "400 409 413 415 429 503"},
     execs_import, BODY_NDJSON},
    {{"POST", "/api/executions/:id/inject",
      "Inject {nodeId, port, value}; waits until everything it caused has settled unless wait is false; "
      "virtual: afterTicks / atTick schedule it", 200,
      "202 400 404 409 429"},
     execs_inject, BODY_JSON},
    {{"POST", "/api/executions/:id/pause", "Pause: new input queues (bounded by MAX_BACKPRESSURE_QUEUE)", 200,
      "404 409"},
     execs_pause, BODY_JSON},
    {{"POST", "/api/executions/:id/resume", "Resume: drain the queue in arrival order", 200, "404 409"},
     execs_resume, BODY_JSON},
    {{"POST", "/api/executions/:id/stop", "Stop: cancel effects, discard queued input", 200, "404 409"}, execs_stop,
     BODY_JSON},
    {{"POST", "/api/executions/:id/upgrade",
      "Move a running or paused execution to its graph's stored version ({graphVersion?}: the newest stored graph of "
      "its name with that version) between waves: kept nodes keep their state, removed ones' state is dropped and "
      "their effects cancelled (reported); 409 when a wave is open or queued injects would be orphaned",
      200, "400 404 409 503"},
     execs_upgrade, BODY_JSON},
    {{"POST", "/api/executions/:id/runtime",
      "Switch the runtime ({runtime, mocks?, tickMs?}): the old one is destroyed first, pending timers keep their time",
      200, "400 404 409"},
     execs_time, BODY_JSON},
    {{"POST", "/api/executions/:id/tick", "Virtual time: advance {count?} ticks, processing what falls due", 200,
      "400 404 409"},
     execs_time, BODY_JSON},
    {{"POST", "/api/executions/:id/advance", "Virtual time: advance {ms} (whole ticks)", 200, "400 404 409"},
     execs_time, BODY_JSON},
    {{"POST", "/api/executions/:id/run",
      "Virtual time: play until idle, {maxTicks?}, pause or stop; answers when it ends (stoppedBy)", 200,
      "400 404 409"},
     execs_time, BODY_JSON},
    {{"POST", "/api/executions/:id/step", "Virtual time: exactly {count?} node invocations", 200, "400 404 409"},
     execs_time, BODY_JSON},
    {{"GET", "/api/components", "List component descriptors", 200, ""}, components_list, BODY_NONE},
    {{"GET", "/api/components/:id", "A component descriptor", 200, "404"}, components_get, BODY_NONE},
    {{"POST", "/api/components",
      "Register a user component {id, name, version, ports, config?, execution: {type: javascript | typescript | "
      "wasm, source | sourceUrl, sourceHash?}}; a sourceUrl is fetched once, the source compiled in the component "
      "host first; a new version is taken while executions use the old one (they keep it until upgraded)",
      201, "400 409 413 429 503"},
     components_post, BODY_JSON},
    {{"POST", "/api/ingress/:name",
      "Deliver a body (an array is a batch) to the declared metadata.ingress of the graph's newest running execution",
      202, "400 404 409 429"},
     ingress, BODY_JSON},
#define HOOK_SUMMARY                                                                                                 \
    "A webhook: the request becomes an inject into the symbia.io.http-in node of the graph's newest running "    \
    "execution serving this method and path (any number of segments); the answer is what the http-response node " \
    "its value reaches sends (204: the graph did not answer; 504: not within timeoutMs)"
    {{"POST", "/hooks/:graph/:path", HOOK_SUMMARY, 200, "204 400 404 405 429 502 503 504"}, hooks, BODY_JSON},
    {{"GET", "/hooks/:graph/:path", HOOK_SUMMARY, 200, "204 400 404 405 429 502 503 504"}, hooks, BODY_NONE},
    {{"PUT", "/hooks/:graph/:path", HOOK_SUMMARY, 200, "204 400 404 405 429 502 503 504"}, hooks, BODY_JSON},
    {{"PATCH", "/hooks/:graph/:path", HOOK_SUMMARY, 200, "204 400 404 405 429 502 503 504"}, hooks, BODY_JSON},
    {{"DELETE", "/hooks/:graph/:path", HOOK_SUMMARY, 200, "204 400 404 405 429 502 503 504"}, hooks, BODY_JSON},
    {{"GET", "/health", "Service health", 200, "503"}, health, BODY_NONE},
    {{"GET", "/health/live", "Liveness", 200, ""}, health_live, BODY_NONE},
    {{"GET", "/health/ready", "Readiness (503 while shutting down)", 200, "503"}, health_ready, BODY_NONE},
    {{"GET", "/api/stats", "Service statistics", 200, ""}, stats, BODY_NONE},
    {{"GET", "/metrics", "Prometheus metrics", 200, ""}, prometheus, BODY_NONE},
    {{"GET", "/api/openapi.json", "This document", 200, ""}, openapi, BODY_NONE},
};
#define N_ROUTES (sizeof ROUTES / sizeof *ROUTES)

const weir_route *weir_service_routes(size_t *n) {
    static weir_route table[N_ROUTES];
    for (size_t i = 0; i < N_ROUTES; i++) table[i] = ROUTES[i].r;
    *n = N_ROUTES;
    return table;
}

size_t weir_route_body_types(const weir_route *r, const char **out, size_t cap) {
    body_kind kind = BODY_NONE;
    for (size_t i = 0; i < N_ROUTES; i++)
        if (strcmp(ROUTES[i].r.method, r->method) == 0 && strcmp(ROUTES[i].r.pattern, r->pattern) == 0)
            kind = ROUTES[i].body;
    size_t n = 0;
    for (const char *const *t = NDJSON_TYPES; kind == BODY_NDJSON && *t && n + 1 < cap; t++) out[n++] = *t;
    for (const char *const *t = JSON_TYPES; kind != BODY_NONE && kind != BODY_NDJSON && *t && n + 1 < cap; t++)
        out[n++] = *t;
    for (const char *const *t = YAML_TYPES; kind == BODY_GRAPH && *t && n + 1 < cap; t++) out[n++] = *t;
    if (cap) out[n] = NULL;
    return n;
}

/* Match "/api/graphs/:id" against a path; params point into `scratch`. */
static bool match(const char *pattern, const char *path, char *scratch, size_t cap, const char *params[2]) {
    size_t used = 0;
    int np = 0;
    while (*pattern && *path) {
        if (*pattern != '/' || *path != '/') return false;
        pattern++;
        path++;
        size_t pl = strcspn(pattern, "/"), sl = strcspn(path, "/");
        if (pattern[0] == ':') {
            if (sl == 0 || np == 2 || used + sl + 1 > cap) return false;
            memcpy(scratch + used, path, sl);
            scratch[used + sl] = '\0';
            params[np++] = scratch + used;
            used += sl + 1;
        } else if (pl != sl || strncmp(pattern, path, pl) != 0) {
            return false;
        }
        pattern += pl;
        path += sl;
    }
    return *pattern == '\0' && (*path == '\0' || strcmp(path, "/") == 0);
}

static bool is_read(const char *method) { return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0; }

weir_route_access weir_route_access_of(const weir_route *r, const char *method) {
    if (strcmp(method, "OPTIONS") == 0) return WEIR_ROUTE_OPEN; /* it acts on nothing */
    if (!r) return WEIR_ROUTE_GUARDED;
    if (strcmp(r->pattern, "/health") == 0 || strncmp(r->pattern, "/health/", 8) == 0) return WEIR_ROUTE_OPEN;
    if (strcmp(r->pattern, "/metrics") == 0) return WEIR_ROUTE_METRICS;
    if (strncmp(r->pattern, "/hooks/", 7) == 0) return WEIR_ROUTE_GUARDED; /* a GET hook acts: no PUBLIC_READS */
    return is_read(method) ? WEIR_ROUTE_READ : WEIR_ROUTE_GUARDED;
}

/* Does a request for route r (NULL: no route matched, whatever the method)
 * need credentials when auth is configured (SPEC §10)?  Everything does but
 * /health*, /metrics unless METRICS_AUTH, the GET routes under PUBLIC_READS,
 * and OPTIONS.  Decided on the matched route, so no spelling of a path
 * slips past the check. */
static bool needs_credentials(const weir_service *s, const weir_route *r, const char *method) {
    switch (weir_route_access_of(r, method)) {
    case WEIR_ROUTE_OPEN: return false;
    case WEIR_ROUTE_METRICS: return s->cfg.metrics_auth;
    case WEIR_ROUTE_READ: return !s->cfg.public_reads;
    case WEIR_ROUTE_GUARDED: break;
    }
    return true;
}

/* True if the request may go on; otherwise it has been answered: 401 with
 * WWW-Authenticate when no credentials came, 403 saying what was wrong. */
static bool authorized(call *c) {
    weir_error err;
    int rc = weir_auth_check_headers(c->s->auth, weir_http_header(c->req, "x-api-key"),
                                     weir_http_header(c->req, "authorization"), &err);
    if (rc == 0) return true;
    json_t *fields = json_pack("{s:s,s:s}", "method", c->req->method, "path", c->req->path);
    if (rc == WEIR_ENOTFOUND) {
        weir_service_log(c->s, WEIR_LOG_DEBUG, fields, "authentication required");
        const char *hdr[] = {"WWW-Authenticate", "Bearer", NULL};
        reply_h(c, 401,
                json_pack("{s:s,s:s}", "error",
                          "authentication required: send X-API-Key or Authorization: Bearer <token>", "code",
                          weir_errname(WEIR_EAUTH)),
                hdr);
    } else if (rc == WEIR_ENOMEM) {
        fail(c, 503, "out of memory");
    } else {
        weir_service_log(c->s, WEIR_LOG_WARN, fields, "credentials refused: %s", err.message);
        reply(c, 403, json_pack("{s:s,s:s}", "error", err.message, "code", weir_errname(WEIR_EFORBIDDEN)));
    }
    json_decref(fields);
    return false;
}

void svc_route(void *ud, weir_http_req *req) {
    weir_service *s = ud;
    call c = {s, req, {NULL, NULL}, uv_hrtime(), s->j_mark, 0, false};
    /* Event sockets check credentials themselves (at upgrade, or at the
     * Socket.IO namespace connect: polling POSTs carry no headers of ours). */
    if (strcmp(req->path, "/ws") == 0) return svc_ws_upgrade(s, req);
    if (strncmp(req->path, "/socket.io/", 11) == 0) return weir_eio_handle(s->eio, req);
    /* Webhooks check credentials themselves (a graph may open its hooks). */
    if (strncmp(req->path, "/hooks/", 7) == 0) return svc_hook_route(s, req, c.start_ns);
    /* The dashboard's files need no credentials: they hold no data. */
    if (svc_web_serve(req)) return;
    char scratch[1024];
    char allowed[128] = "";
    const route_def *found = NULL, *any = NULL; /* the route of this method; a route of another */
    const char *params[2] = {NULL, NULL};
    for (size_t i = 0; i < N_ROUTES && !found; i++) {
        const char *p[2] = {NULL, NULL};
        if (!match(ROUTES[i].r.pattern, req->path, scratch, sizeof scratch, p)) continue;
        bool head = strcmp(req->method, "HEAD") == 0 && strcmp(ROUTES[i].r.method, "GET") == 0;
        if (strcmp(req->method, ROUTES[i].r.method) == 0 || head) {
            found = &ROUTES[i];
            params[0] = p[0];
            params[1] = p[1];
            break;
        }
        if (!any) any = &ROUTES[i];
        size_t l = strlen(allowed);
        snprintf(allowed + l, sizeof allowed - l, "%s%s", l ? ", " : "", ROUTES[i].r.method);
    }
    /* a path with routes under other methods is judged by one of them: a
     * 405 for an open path stays open, one for a guarded path needs the
     * credentials its routes need */
    const route_def *judged = found ? found : any;
    if (weir_auth_active(s->auth) && needs_credentials(s, judged ? &judged->r : NULL, req->method) &&
        !authorized(&c))
        return;
    if (found) {
        /* match() wrote params into scratch, which later iterations did not touch */
        c.params[0] = params[0];
        c.params[1] = params[1];
        if (!body_type_ok(&c, found->body)) return;
        found->fn(&c);
        return;
    }
    if (allowed[0]) {
        const char *hdr[] = {"Allow", allowed, NULL};
        char msg[256];
        snprintf(msg, sizeof msg, "method %.16s is not allowed here; allowed: %s", req->method, allowed);
        for (char *p = msg; *p; p++)
            if ((unsigned char)*p < ' ' || (unsigned char)*p >= 127) *p = '?';
        reply_h(&c, 405, json_pack("{s:s,s:s}", "error", msg, "code", weir_errname(WEIR_EMETHOD)), hdr);
        return;
    }
    fail(&c, 404, "no route %s %s; GET /api/openapi.json lists the routes", req->method, req->path);
}
