/*
 * Webhooks (issue 14): symbia.io.http-in and symbia.io.http-response.
 *
 * Routing.  `METHOD /hooks/<graph name><path>` goes to the newest running
 * (or paused) execution of the graph of that name — the longest name that
 * is a prefix of the path, followed by '/' (or ending it: /hooks/<name> is
 * /hooks/<name>/, path "/") — and to its http-in node whose
 * `path` is the rest exactly and whose `method` is the request's.  No such
 * execution, or no http-in for the path: 404 saying which; an http-in for
 * the path under other methods: 405 with Allow.
 *
 * Auth (SPEC §10).  With auth configured a hook needs the same credentials
 * as the API (X-API-Key or Authorization: Bearer), unless the execution's
 * graph opts out with `metadata.hooks.public: true` — many webhook senders
 * cannot send a header of ours; such a graph accepts requests from anyone
 * who can reach the server, so it should check what it gets (a signature
 * in raw mode's headers).  Credentials are checked before anything about
 * graphs is told.  The server's own credential headers (x-api-key, and
 * authorization when it was checked) and cookies never reach raw mode's
 * value: it is journaled and shown.  The other §10 rules are the API's:
 * the net layer's Host/Origin checks, body and header size bounds,
 * connection bounds; a body must be application/json or a +json type (415
 * otherwise).
 *
 * The inject.  The value (the parsed body, null without one; or with raw
 * {method, path, query, headers, body: its text}) is injected into the
 * http-in node as an ordinary tracked inject (WEIR_INJECT_TRACK): for a
 * stored execution it is journaled before the core sees it (SPEC §7.1),
 * so replay, recovery and time travel cross it like any inject.
 *
 * Correlation.  The core carries each message's lineage: the tracked
 * inject it descends from, through every hop and through effects (a delay,
 * an http-request, a user component call) — weir_exec_current_inject.  A
 * tap on every http-response node's `out` asks it when the node emits: the
 * request whose inject that is gets the answer, the first time (a second
 * response for the same inject is ignored).  A message that merges several
 * (merge zip/latest, an accumulator's batch) answers the request whose
 * message completed it; a flush at completion or stop answers none.
 *
 * Answers, each sent only once what the execution journaled up to then is
 * durable (output commit: svc_out_hold_call):
 *  - an http-response reached: its status, headers and body (JSON; a string
 *    as text when its Content-Type is not JSON);
 *  - everything the inject caused settled without reaching one (a filter
 *    dropped it): 204 at once, with Weir-Hook-Outcome: no-response — the
 *    request was accepted and processed, so a sender must not retry it;
 *  - a wave it caused was cut at MAX_WAVE_HOPS, or the execution failed,
 *    or ended (stop) before answering: 502 with the reason;
 *  - nothing by timeoutMs (the http-in node's): 504.
 * Replayed or recovered, nothing waits: the node only emits.  A crash
 * loses waiting requests with their connections — their senders got no
 * answer, so nothing acknowledged is lost; a journaled inject is processed
 * again at recovery (its answer goes nowhere).  A graceful shutdown answers
 * the waiting requests of stored executions 202 (accepted, durable).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/error.h"
#include "service/service_internal.h"

#define HTTP_IN "symbia.io.http-in"
#define HTTP_RESPONSE "symbia.io.http-response"

struct svc_hook {
    int track;           /* SVC_TRACK_HOOK: first, as svc_wait's */
    svc_exec *x;
    weir_http_req *req;  /* until answered */
    uint64_t start_ns;
    char node[256];      /* the http-in node (for messages) */
    int64_t timeout_ms;
    uv_timer_t timer;
    bool released;       /* out of x->hooks; freed when the timer handle closes */
    struct svc_hook *prev, *next;
};

/* An answer waiting for output commit, self-contained. */
typedef struct hook_answer {
    weir_service *s;
    weir_http_req *req;
    int status;
    char *ctype;  /* NULL: none (no body) */
    char *body;
    size_t len;
    char **hdrs;  /* name/value pairs, NULL-terminated (may be NULL) */
    uint64_t start_ns;
} hook_answer;

/* ---------------------------------------------------------------- answers */

static void answer_free(hook_answer *a) {
    for (size_t i = 0; a->hdrs && a->hdrs[i]; i++) weir__free(a->hdrs[i]);
    weir__free(a->hdrs);
    weir__free(a->ctype);
    weir__free(a->body);
    weir__free(a);
}

static void answer_send(void *ud, const char *failed) {
    hook_answer *a = ud;
    /* what says "accepted" (2xx, and 504: it goes on being processed) is
     * not true when its inject could not be made durable */
    if (failed && (a->status < 300 || a->status == 504)) {
        weir_http_respond_error(a->req, 503, "%s", failed);
    } else {
        weir_http_respond(a->req, a->status, a->ctype, a->body, a->len, (const char *const *)a->hdrs);
    }
    svc_observe(a->s, (double)(uv_hrtime() - a->start_ns) / 1e6);
    answer_free(a);
}

/* Send a (taken over) now, or once what was journaled so far is durable. */
static void answer_commit(weir_service *s, hook_answer *a) {
    if (!svc_out_hold_call(s, s->j_mark, answer_send, a)) answer_send(a, NULL);
}

static bool answer_header(hook_answer *a, const char *name, const char *value);

/* Every hook answer is a document of its own: a graph answering HTML (from
 * a value a caller chose) must not run as a page of weir's origin, where
 * it could drive the API (SPEC §10). */
static const char *const HOOK_HEADERS[] = {"Content-Security-Policy", "sandbox", "X-Content-Type-Options", "nosniff",
                                           NULL};

/* An answer to req with status, no body yet; NULL when out of memory. */
static hook_answer *answer_new(weir_service *s, weir_http_req *req, uint64_t start_ns, int status) {
    hook_answer *a = weir__calloc(1, sizeof *a);
    if (!a) return NULL;
    a->s = s;
    a->req = req;
    a->status = status;
    a->start_ns = start_ns;
    for (size_t i = 0; HOOK_HEADERS[i]; i += 2)
        if (!answer_header(a, HOOK_HEADERS[i], HOOK_HEADERS[i + 1])) {
            answer_free(a);
            return NULL;
        }
    return a;
}

static bool answer_header(hook_answer *a, const char *name, const char *value) {
    size_t n = 0;
    while (a->hdrs && a->hdrs[n]) n++;
    char **grown = weir__realloc(a->hdrs, (n + 3) * sizeof *grown);
    if (!grown) return false;
    a->hdrs = grown;
    a->hdrs[n] = weir__strdup(name);
    a->hdrs[n + 1] = weir__strdup(value);
    a->hdrs[n + 2] = NULL;
    if (a->hdrs[n] && a->hdrs[n + 1]) return true;
    weir__free(a->hdrs[n]);
    weir__free(a->hdrs[n + 1]);
    a->hdrs[n] = NULL;
    return false;
}

static bool answer_json(hook_answer *a, json_t *body) {
    a->body = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    a->len = a->body ? strlen(a->body) : 0;
    a->ctype = weir__strdup("application/json");
    return a->body && a->ctype;
}

/* An error answer {error, code} (through output commit like any). */
static void answer_error(weir_service *s, weir_http_req *req, uint64_t start_ns, int status, int code,
                         const char *const *extra, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static void answer_error(weir_service *s, weir_http_req *req, uint64_t start_ns, int status, int code,
                         const char *const *extra, const char *fmt, ...) {
    char msg[WEIR_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hook_answer *a = answer_new(s, req, start_ns, status);
    json_t *body = json_pack("{s:s,s:s}", "error", msg, "code", weir_errname(code));
    bool ok = a && body && answer_json(a, body);
    for (size_t i = 0; ok && extra && extra[i]; i += 2) ok = answer_header(a, extra[i], extra[i + 1]);
    json_decref(body);
    if (!ok) {
        if (a) answer_free(a);
        weir_http_respond_error(req, 503, "out of memory");
        return;
    }
    answer_commit(s, a);
}

static bool json_media(const char *ctype) {
    char t[128];
    size_t n = strcspn(ctype, ";");
    while (n && (ctype[n - 1] == ' ' || ctype[n - 1] == '\t')) n--;
    while (n && (*ctype == ' ' || *ctype == '\t')) ctype++, n--;
    if (n >= sizeof t) return false;
    for (size_t i = 0; i < n; i++) t[i] = (char)tolower((unsigned char)ctype[i]);
    t[n] = '\0';
    return strcmp(t, "application/json") == 0 || (n > 5 && strcmp(t + n - 5, "+json") == 0);
}

/* The answer an http-response node emitted: {status, headers, body}. */
static hook_answer *answer_of_response(weir_service *s, weir_http_req *req, uint64_t start_ns, json_t *v) {
    json_int_t status = json_integer_value(json_object_get(v, "status"));
    if (status < 200 || status > 599) status = 200;
    hook_answer *a = answer_new(s, req, start_ns, (int)status);
    if (!a) return NULL;
    const char *ctype = NULL, *name;
    json_t *hv, *body = json_object_get(v, "body");
    json_object_foreach(json_object_get(v, "headers"), name, hv) {
        if (!json_is_string(hv)) continue;
        if (strcasecmp(name, "content-type") == 0) ctype = json_string_value(hv);
        else if (!answer_header(a, name, json_string_value(hv))) goto oom;
    }
    if (ctype && !json_media(ctype) && json_is_string(body)) { /* text as itself */
        a->len = json_string_length(body);
        if (!(a->body = weir__malloc(a->len + 1)) || !(a->ctype = weir__strdup(ctype))) goto oom;
        memcpy(a->body, json_string_value(body), a->len + 1);
        return a;
    }
    if (!answer_json(a, body ? body : json_null())) goto oom;
    if (ctype) {
        weir__free(a->ctype);
        if (!(a->ctype = weir__strdup(ctype))) goto oom;
    }
    return a;
oom:
    answer_free(a);
    return NULL;
}

/* ------------------------------------------------------------------ hooks */

static void hook_closed(uv_handle_t *t) { weir__free(t->data); }

/* Out of x's list; freed when the loop turns (it may be in use up the
 * stack: a settlement inside weir_exec_inject). */
static void hook_release(svc_hook *h) {
    if (h->released) return;
    h->released = true;
    if (h->prev) h->prev->next = h->next;
    else h->x->hooks = h->next;
    if (h->next) h->next->prev = h->prev;
    uv_timer_stop(&h->timer);
    uv_close((uv_handle_t *)&h->timer, hook_closed);
}

/* Take h's request for an answer (NULL: answered already). */
static weir_http_req *hook_take(svc_hook *h) {
    weir_http_req *req = h->req;
    h->req = NULL;
    uv_timer_stop(&h->timer);
    return req;
}

static void hook_timeout(uv_timer_t *t) {
    svc_hook *h = t->data;
    weir_http_req *req = hook_take(h);
    if (!req) return;
    /* kept until its inject settles: the core still holds h */
    answer_error(h->x->svc, req, h->start_ns, 504, WEIR_ETIMEOUT, NULL,
                 "no http-response node answered within %lld ms (timeoutMs of http-in node \"%s\" of execution %s); "
                 "the request was accepted and goes on being processed",
                 (long long)h->timeout_ms, h->node, h->x->id);
}

void svc_hook_settled(svc_hook *h, const weir_settled *st) {
    if (h->released) return;
    svc_exec *x = h->x;
    weir_http_req *req = hook_take(h);
    if (req) {
        weir_service *s = x->svc;
        weir_state state = weir_exec_state(x->e);
        json_t *why = st->error ? st->error : weir_exec_error(x->e);
        const char *msg = json_string_value(json_object_get(why, "message"));
        if (st->status == WEIR_ELIMIT || state == WEIR_STATE_FAILED) {
            answer_error(s, req, h->start_ns, 502, st->status == WEIR_ELIMIT ? WEIR_ELIMIT : WEIR_ESTATE, NULL,
                         "the graph failed while processing the request (execution %s): %s", x->id,
                         msg ? msg : "no reason recorded");
        } else if (st->status == WEIR_EFULL) {
            answer_error(s, req, h->start_ns, 429, WEIR_EFULL, NULL,
                         "execution %s was paused with its queue full: the request was dropped by its overflow "
                         "policy (overflow: drop-oldest or drop-newest); retry later",
                         x->id);
        } else if (st->status) {
            answer_error(s, req, h->start_ns, 502, WEIR_ESTATE, NULL,
                         "execution %s ended (%s) before an http-response node answered", x->id,
                         weir_state_name(state));
        } else {
            hook_answer *a = answer_new(s, req, h->start_ns, 204);
            if (!a || !answer_header(a, "Weir-Hook-Outcome", "no-response")) {
                if (a) answer_free(a);
                weir_http_respond_error(req, 503, "out of memory");
            } else {
                answer_commit(s, a);
            }
        }
    }
    hook_release(h);
}

/* The tap on an http-response node's out: answer the request its value
 * descends from. */
static void on_response(void *ud, json_t *value) {
    svc_exec *x = ud;
    void *user;
    if (!weir_exec_current_inject(x->e, &user) || !user || *(const int *)user != SVC_TRACK_HOOK) return;
    svc_hook *h = user;
    if (h->released || !h->req) return; /* answered already: the first response wins */
    weir_http_req *req = hook_take(h);
    hook_answer *a = answer_of_response(x->svc, req, h->start_ns, value);
    if (!a) return weir_http_respond_error(req, 503, "out of memory");
    answer_commit(x->svc, a);
}

void svc_hooks_attach(svc_exec *x) {
    weir_graph *g = weir_exec_graph(x->e);
    for (size_t i = 0; i < weir_graph_node_count(g); i++) {
        const weir_component *c = weir_graph_node_component(g, i);
        if (c && strcmp(c->id, HTTP_RESPONSE) == 0)
            weir_exec_tap(x->e, weir_graph_node_id(g, i), "out", on_response, x, NULL);
    }
}

void svc_hooks_reattach(svc_exec *x) {
    weir_graph *g = weir_exec_graph(x->e);
    for (size_t i = 0; i < weir_graph_node_count(g); i++) {
        const weir_component *c = weir_graph_node_component(g, i);
        if (c && strcmp(c->id, HTTP_RESPONSE) == 0)
            weir_exec_untap(x->e, weir_graph_node_id(g, i), "out", on_response, x); /* a kept one's */
    }
    svc_hooks_attach(x);
}

void svc_hooks_shutdown(svc_exec *x) {
    for (svc_hook *h = x->hooks; h; h = h->next) {
        weir_http_req *req = hook_take(h);
        if (!req) continue;
        hook_answer *a = answer_new(x->svc, req, h->start_ns, 202);
        json_t *body = json_pack("{s:s,s:b,s:s}", "executionId", x->id, "answered", 0, "message",
                                 "weir is shutting down: the request was accepted and is stored; it is processed "
                                 "after the restart, but its answer cannot be sent");
        if (!a || !body || !answer_json(a, body)) {
            if (a) answer_free(a);
            weir_http_respond_error(req, 503, "shutting down");
        } else {
            answer_commit(x->svc, a);
        }
        json_decref(body);
    }
}

void svc_hooks_free(svc_exec *x) {
    while (x->hooks) {
        svc_hook *h = x->hooks;
        h->req = NULL; /* the server is going: dropped */
        hook_release(h);
    }
}

/* ------------------------------------------------------------------ check */

int svc_hooks_check(weir_graph *g, json_t *problems, weir_error *err) {
    char msg[WEIR_ERROR_MAX] = "";
    json_t *hooks = json_object_get(weir_graph_metadata(g), "hooks");
    json_t *pub = json_object_get(hooks, "public");
    if (hooks && (!json_is_object(hooks) || (pub && !json_is_boolean(pub))))
        snprintf(msg, sizeof msg, "metadata.hooks must be {\"public\": true|false} (whether this graph's hooks "
                                  "take requests without credentials)");
    size_t n = weir_graph_node_count(g);
    for (size_t i = 0; i < n && !msg[0]; i++) {
        const weir_component *c = weir_graph_node_component(g, i);
        if (!c || strcmp(c->id, HTTP_IN) != 0) continue;
        json_t *ci = weir_graph_node_config(g, i);
        for (size_t j = i + 1; j < n && !msg[0]; j++) {
            const weir_component *d = weir_graph_node_component(g, j);
            json_t *cj = weir_graph_node_config(g, j);
            if (d != c || !json_equal(json_object_get(ci, "method"), json_object_get(cj, "method")) ||
                !json_equal(json_object_get(ci, "path"), json_object_get(cj, "path")))
                continue;
            snprintf(msg, sizeof msg,
                     "nodes \"%s\" and \"%s\" both serve %s %s: give each http-in node its own method and path",
                     weir_graph_node_id(g, i), weir_graph_node_id(g, j),
                     json_string_value(json_object_get(ci, "method")), json_string_value(json_object_get(ci, "path")));
        }
    }
    if (!msg[0]) return 0;
    if (problems) json_array_append_new(problems, json_string(msg));
    return weir__error(err, WEIR_EGRAPH, "%s", msg);
}

/* ------------------------------------------------------------------ route */

static bool graph_public(const svc_exec *x) {
    json_t *hooks = json_object_get(weir_graph_metadata(weir_exec_graph(x->e)), "hooks");
    return json_is_true(json_object_get(hooks, "public"));
}

/* How graph name `name` starts rest ("/<graph name><path>"): 2 followed
 * by '/', 1 ending it (the path is "/": /hooks/<name> is /hooks/<name>/),
 * 0 not at all. */
static int name_fit(const char *rest, const char *name, size_t n) {
    if (!n || strncmp(rest + 1, name, n) != 0) return 0;
    return rest[1 + n] == '/' ? 2 : rest[1 + n] == '\0';
}

/* The newest unfinished execution of the graph with the longest name that
 * rest ("/<name>/...") starts with followed by '/', else of the graph whose
 * name is all of rest ("/<name>"); *name_len its length. */
static svc_exec *find_exec(weir_service *s, const char *rest, size_t *name_len) {
    svc_exec *best = NULL;
    size_t best_len = 0;
    int best_fit = 0;
    for (svc_exec *x = s->execs; x; x = x->next) {
        if (x->finished || x->derived) continue; /* a fork or an import never takes a graph's live traffic */
        size_t n = strlen(x->graph_name);
        int fit = name_fit(rest, x->graph_name, n);
        if (fit && (fit > best_fit || (fit == best_fit && n >= best_len))) { /* a name followed by '/' first */
            best = x;
            best_len = n;
            best_fit = fit;
        }
    }
    *name_len = best_len;
    return best;
}

/* A loaded graph whose name rest starts with (for the 404's message). */
static svc_graph *find_graph(weir_service *s, const char *rest) {
    svc_graph *best = NULL;
    size_t best_len = 0;
    int best_fit = 0;
    for (svc_graph *g = s->graphs; g; g = g->next) {
        const char *name = weir_graph_name(g->g);
        size_t n = strlen(name);
        int fit = name_fit(rest, name, n);
        if (fit && (fit > best_fit || (fit == best_fit && n >= best_len))) {
            best = g;
            best_len = n;
            best_fit = fit;
        }
    }
    return best;
}

static bool authorized(weir_service *s, weir_http_req *req, uint64_t start_ns) {
    weir_error err;
    int rc = weir_auth_check_headers(s->auth, weir_http_header(req, "x-api-key"), weir_http_header(req, "authorization"),
                                     &err);
    if (rc == 0) return true;
    if (rc == WEIR_ENOTFOUND) {
        const char *hdr[] = {"WWW-Authenticate", "Bearer", NULL};
        answer_error(s, req, start_ns, 401, WEIR_EAUTH, hdr,
                     "authentication required: send X-API-Key or Authorization: Bearer <token> (or open this graph's "
                     "hooks with \"metadata\": {\"hooks\": {\"public\": true}})");
    } else if (rc == WEIR_ENOMEM) {
        answer_error(s, req, start_ns, 503, WEIR_ENOMEM, NULL, "out of memory");
    } else {
        answer_error(s, req, start_ns, 403, WEIR_EFORBIDDEN, NULL, "%s", err.message);
    }
    return false;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode [p, p+n) ('+' is a space) into a NEW JSON string; NULL
 * when the result is not UTF-8 (or out of memory). */
static json_t *decode(const char *p, size_t n) {
    char *buf = weir__malloc(n + 1);
    if (!buf) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '+') buf[k++] = ' ';
        else if (p[i] == '%' && i + 2 < n && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
            buf[k++] = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
            i += 2;
        } else buf[k++] = p[i];
    }
    json_t *s = json_stringn(buf, k);
    weir__free(buf);
    return s;
}

/* {name: value} of a query string; a repeated name: an array of its
 * values in order.  NULL: a part is not UTF-8 once decoded. */
static json_t *query_object(const char *q) {
    json_t *o = json_object();
    while (o && *q) {
        size_t n = strcspn(q, "&");
        size_t eq = strcspn(q, "=");
        if (n) {
            json_t *k = decode(q, eq < n ? eq : n);
            json_t *v = eq < n ? decode(q + eq + 1, n - eq - 1) : json_string("");
            if (!k || !v) {
                json_decref(k);
                json_decref(v);
                json_decref(o);
                return NULL;
            }
            const char *key = json_string_value(k);
            json_t *had = json_object_get(o, key);
            if (!had) json_object_set_new(o, key, v);
            else if (json_is_array(had)) json_array_append_new(had, v);
            else json_object_set_new(o, key, json_pack("[O,o]", had, v));
            json_decref(k);
        }
        q += n;
        if (*q == '&') q++;
    }
    return o;
}

/* Raw mode's value.  NULL with *why set when the request cannot be one. */
static json_t *raw_value(weir_http_req *req, const char *path, bool checked_auth, const char **why) {
    *why = "out of memory";
    json_t *query = query_object(req->query);
    if (!query) {
        *why = "the query string is not UTF-8 text once percent-decoded";
        return NULL;
    }
    json_t *headers = json_object();
    for (size_t i = 0; headers && i < req->n_headers; i++) {
        const char *name = req->header_names[i], *value = req->header_values[i];
        /* weir's own credentials and cookies are never journaled */
        if (strcmp(name, "x-api-key") == 0 || strcmp(name, "cookie") == 0 ||
            (checked_auth && strcmp(name, "authorization") == 0))
            continue;
        json_t *had = json_object_get(headers, name);
        if (had) {
            size_t n = json_string_length(had) + 2 + strlen(value);
            char *joined = weir__malloc(n + 1);
            if (joined) snprintf(joined, n + 1, "%s, %s", json_string_value(had), value);
            json_t *j = joined ? json_string(joined) : NULL;
            weir__free(joined);
            if (j) json_object_set_new(headers, name, j);
        } else {
            json_t *v = json_string(value);
            if (!v) {
                *why = "a header value is not UTF-8 text";
                json_decref(headers);
                json_decref(query);
                return NULL;
            }
            json_object_set_new(headers, name, v);
        }
    }
    json_t *body = json_stringn(req->body, req->body_len);
    if (!body) *why = "the body is not UTF-8 text";
    if (!headers || !body) {
        json_decref(headers);
        json_decref(query);
        json_decref(body);
        return NULL;
    }
    return json_pack("{s:s,s:s,s:o,s:o,s:o}", "method", req->method, "path", path, "query", query, "headers", headers,
                     "body", body);
}

void svc_hook_route(weir_service *s, weir_http_req *req, uint64_t start_ns) {
    const char *rest = req->path + 6; /* "/<graph name><path>" */
    size_t name_len;
    svc_exec *x = find_exec(s, rest, &name_len);
    bool open = x && graph_public(x);
    bool checked = weir_auth_active(s->auth) && !open;
    if (checked && !authorized(s, req, start_ns)) return;
    if (s->shutting_down)
        return answer_error(s, req, start_ns, 503, WEIR_EUNAVAILABLE, NULL, "weir is shutting down");
    if (!x) {
        svc_graph *g = find_graph(s, rest);
        if (g)
            return answer_error(s, req, start_ns, 404, WEIR_ENOTFOUND, NULL,
                                "graph \"%s\" has no running execution to take %s; start one with POST "
                                "/api/graphs/%s/execute",
                                weir_graph_name(g->g), req->path, g->id);
        return answer_error(s, req, start_ns, 404, WEIR_ENOTFOUND, NULL,
                            "no graph with a running execution serves %s; hooks are served at /hooks/<graph "
                            "name><path of a symbia.io.http-in node>",
                            req->path);
    }
    /* SPEC §10: a page of another site never acts.  A browser's request
     * that carries an Origin was checked by the net guard; an image, a link
     * or a redirect carries none, but says where it comes from. */
    const char *site = weir_http_header(req, "sec-fetch-site");
    if (site && (strcmp(site, "cross-site") == 0 || strcmp(site, "same-site") == 0) &&
        !weir_http_header(req, "origin"))
        return answer_error(s, req, start_ns, 403, WEIR_EFORBIDDEN, NULL,
                            "%s comes from a page of another site (Sec-Fetch-Site: %s): a web page cannot call a "
                            "hook; call it from a server, or from a page of an origin in CORS_ORIGINS",
                            req->path, site);
    const char *path = rest[1 + name_len] ? rest + 1 + name_len : "/";
    weir_graph *g = weir_exec_graph(x->e);
    const char *node = NULL;
    json_t *cfg = NULL;
    char allowed[128] = "", served[512] = "";
    for (size_t i = 0; i < weir_graph_node_count(g); i++) {
        const weir_component *c = weir_graph_node_component(g, i);
        if (!c || strcmp(c->id, HTTP_IN) != 0) continue;
        json_t *nc = weir_graph_node_config(g, i);
        const char *p = json_string_value(json_object_get(nc, "path"));
        const char *m = json_string_value(json_object_get(nc, "method"));
        size_t l = strlen(served);
        snprintf(served + l, sizeof served - l, "%s%s %s", l ? ", " : "", m, p);
        if (!p || strcmp(p, path) != 0) continue;
        if (strcmp(m, req->method) == 0) {
            if (!node) { /* the first declared wins */
                node = weir_graph_node_id(g, i);
                cfg = nc;
            }
        } else if (!strstr(allowed, m)) {
            l = strlen(allowed);
            snprintf(allowed + l, sizeof allowed - l, "%s%s", l ? ", " : "", m);
        }
    }
    if (!node && allowed[0]) {
        const char *hdr[] = {"Allow", allowed, NULL};
        return answer_error(s, req, start_ns, 405, WEIR_EMETHOD, hdr,
                            "method %.16s is not served at %s (graph \"%s\"); allowed: %s", req->method, req->path,
                            x->graph_name, allowed);
    }
    if (!node)
        return answer_error(s, req, start_ns, 404, WEIR_ENOTFOUND, NULL,
                            "graph \"%s\" (execution %s) has no symbia.io.http-in node for path \"%s\"; it serves: %s",
                            x->graph_name, x->id, path, served[0] ? served : "none");
    /* SPEC §10: a body is JSON (a form or text/plain POST from a page never acts) */
    const char *ct = weir_http_header(req, "content-type");
    if ((req->body_len || ct) && (!ct || !json_media(ct)))
        return answer_error(s, req, start_ns, 415, WEIR_EMEDIATYPE, NULL,
                            "a hook's body must be application/json (got %s)", ct ? ct : "no Content-Type");
    json_t *value;
    if (json_is_true(json_object_get(cfg, "raw"))) {
        const char *why;
        if (!(value = raw_value(req, path, checked, &why)))
            return answer_error(s, req, start_ns, 400, WEIR_EINVAL, NULL, "%s", why);
    } else if (!req->body_len) {
        value = json_null();
    } else {
        json_error_t je;
        value = json_loadb(req->body, req->body_len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
        if (!value)
            return answer_error(s, req, start_ns, 400, WEIR_EINVAL, NULL,
                                "the body is not valid JSON: %s at line %d, column %d (byte %d)", je.text, je.line,
                                je.column, je.position);
    }
    svc_hook *h = weir__calloc(1, sizeof *h);
    if (!h) {
        json_decref(value);
        return answer_error(s, req, start_ns, 503, WEIR_ENOMEM, NULL, "out of memory");
    }
    h->track = SVC_TRACK_HOOK;
    h->x = x;
    h->req = req;
    h->start_ns = start_ns;
    h->timeout_ms = json_integer_value(json_object_get(cfg, "timeoutMs"));
    if (h->timeout_ms <= 0) h->timeout_ms = 30000;
    snprintf(h->node, sizeof h->node, "%s", node);
    uv_timer_init(s->loop, &h->timer);
    h->timer.data = h;
    h->next = x->hooks;
    if (x->hooks) x->hooks->prev = h;
    x->hooks = h;
    weir_inject in = {.node = node, .value = value, .flags = WEIR_INJECT_TRACK, .user = h};
    weir_inject_ack ack;
    weir_error err;
    int rc = weir_exec_inject(x->e, &in, svc_exec_now(x), &ack, &err);
    json_decref(value);
    if (rc) { /* refused: nothing will settle (the core forgot h) */
        h->req = NULL;
        hook_release(h);
        return answer_error(s, req, start_ns, svc_status_of(rc), rc, NULL, "%s", err.message);
    }
    s->injects_total++;
    if (h->released || !h->req) return; /* answered (or settled) inside the call */
    uv_timer_start(&h->timer, hook_timeout, (uint64_t)h->timeout_ms, 0);
}
