/*
 * Where user components' code comes from (SPEC §2, §2.3): execution.sourceUrl
 * fetched once at registration through the egress guard and pinned by its
 * SHA-256 (execution.sourceHash); and CATALOG_URL, the last place a graph's
 * component is looked for (built-in, then registered, then the catalog):
 * `GET <CATALOG_URL>/<component id>.json` answers a definition as POST
 * /api/components takes it, which is registered (and stored) like one
 * posted, before the graph is loaded.
 */
#include <ctype.h>
#include <stdarg.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/error.h"
#include "service/service_internal.h"

#define CATALOG_MAX_IDS 64     /* components one graph may take from the catalog at once */
#define ANSWER_SHOWN 200       /* characters of a refusing answer quoted in the error */

/* ------------------------------------------------------------- hashing */

static int b64val(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* NEW bytes of base64 text, *n their count.  The text need not be
 * checked yet (a registration pins its hash before the definition is
 * checked): unpadded lengths and stray characters are safe. */
static unsigned char *b64decode(const char *s, size_t len, size_t *n) {
    unsigned char *out = weir__malloc((len + 3) / 4 * 3 + 1);
    if (!out) return NULL;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len && s[i] != '='; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0) continue;
        acc = acc << 6 | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    *n = o;
    return out;
}

/* "sha256:<hex>" of the source's bytes (a wasm source: of the module's,
 * not of its base64) into out. */
static int source_hash(const char *type, const char *src, size_t len, char out[72]) {
    unsigned char *bytes = NULL;
    size_t n = len;
    if (type && strcmp(type, "wasm") == 0 && !(bytes = b64decode(src, len, &n))) return WEIR_ENOMEM;
    unsigned char md[32];
    unsigned mdlen = 0;
    int ok = EVP_Digest(bytes ? (const void *)bytes : (const void *)src, n, md, &mdlen, EVP_sha256(), NULL);
    weir__free(bytes);
    if (!ok || mdlen != 32) return WEIR_ENOMEM;
    memcpy(out, "sha256:", 7);
    for (unsigned i = 0; i < 32; i++) snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
    return 0;
}

int svc_source_pin(json_t *x, weir_error *err) {
    json_t *src = json_object_get(x, "source");
    char hash[72];
    if (source_hash(json_string_value(json_object_get(x, "type")), json_string_value(src), json_string_length(src),
                    hash))
        return weir__error(err, WEIR_ENOMEM, "out of memory");
    json_t *given = json_object_get(x, "sourceHash");
    if (json_is_string(given) && strcmp(json_string_value(given), hash) != 0)
        return weir__error(err, WEIR_EINVAL,
                           "execution.sourceHash is %.80s but %s %s: the source is not the one pinned",
                           json_string_value(given),
                           json_object_get(x, "sourceUrl") ? "the source fetched from sourceUrl has SHA-256"
                                                           : "the source's SHA-256 is",
                           hash);
    if (json_object_set_new(x, "sourceHash", json_string(hash))) return weir__error(err, WEIR_ENOMEM, "out of memory");
    return 0;
}

/* ------------------------------------------------------------ fetching */

static int64_t timeout_of(const weir_service *s) {
    return s->cfg.source_timeout_ms > 0 ? s->cfg.source_timeout_ms : 10000;
}

int svc_source_fetch(weir_service *s, json_t *x, weir_realtime_fetch_done done, void *ud, uint64_t *id,
                     weir_error *err) {
    const char *url = json_string_value(json_object_get(x, "sourceUrl"));
    if (!url || (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0))
        return weir__error(err, WEIR_EINVAL, "execution.sourceUrl must be an http:// or https:// URL");
    bool wasm = json_is_string(json_object_get(x, "type")) &&
                strcmp(json_string_value(json_object_get(x, "type")), "wasm") == 0;
    json_t *payload = json_pack("{s:s,s:s,s:I,s:I,s:s}", "method", "GET", "url", url, "timeoutMs",
                                (json_int_t)timeout_of(s), "maxBytes", (json_int_t)s->cfg.source_max_bytes,
                                "responseEncoding", wasm ? "base64" : "text");
    if (!payload) return weir__error(err, WEIR_ENOMEM, "out of memory");
    int rc = weir_realtime_fetch(s->rt, payload, done, ud, id);
    json_decref(payload);
    if (rc) return weir__error(err, rc, "cannot fetch execution.sourceUrl %s: %s", url, weir_strerror(rc));
    return 0;
}

/* The first characters of an answer's body (base64: of its bytes), on one
 * line, into buf. */
static const char *shown(json_t *result, bool base64, char *buf, size_t cap) {
    json_t *body = json_object_get(result, "body");
    const char *b = json_string_value(body);
    size_t n = json_string_length(body);
    unsigned char *bytes = base64 && b ? b64decode(b, n < 4 * ANSWER_SHOWN ? n : 4 * ANSWER_SHOWN, &n) : NULL;
    if (bytes) b = (const char *)bytes;
    snprintf(buf, cap, "%.*s", (int)(n < ANSWER_SHOWN ? n : ANSWER_SHOWN), b ? b : "");
    weir__free(bytes);
    for (char *c = buf; *c; c++)
        if ((unsigned char)*c < ' ' || (unsigned char)*c == 0x7f) *c = ' ';
    return buf;
}

/* A fetch refused for its size (the realtime runtime's failure "response
 * larger than N bytes ..."): what to say of it — the limit, the setting and
 * the way past it — into buf; else NULL.  N is SOURCE_MAX_BYTES unless the
 * runtime's own bound on any answer is lower. */
static const char *over_limit(size_t source_max, const char *error, const char *what, char *buf, size_t cap) {
    size_t n;
    if (!error || sscanf(error, "response larger than %zu bytes", &n) != 1) return NULL;
    if (n == source_max)
        snprintf(buf, cap, "is larger than SOURCE_MAX_BYTES (%zu bytes): serve a smaller %s, or raise SOURCE_MAX_BYTES "
                 "(--source-max-bytes)", n, what);
    else
        snprintf(buf, cap, "is larger than %zu bytes, the most any fetch of weir's takes (SOURCE_MAX_BYTES is %zu): "
                 "serve a smaller %s", n, source_max, what);
    return buf;
}

int svc_source_fetched(size_t source_max, const char *url, bool base64, json_t *result, const char *error,
                       json_t **src, weir_error *err) {
    *src = NULL;
    char why[256];
    if (over_limit(source_max, error, "source", why, sizeof why))
        return weir__error(err, WEIR_EINVAL, "execution.sourceUrl %s %s", url, why);
    if (error) return weir__error(err, WEIR_EINVAL, "execution.sourceUrl %s could not be fetched: %s", url, error);
    json_int_t status = json_integer_value(json_object_get(result, "status"));
    char body[ANSWER_SHOWN + 1];
    if (status < 200 || status > 299)
        return weir__error(err, WEIR_EINVAL, "execution.sourceUrl %s answered %lld: %s", url, (long long)status,
                           shown(result, base64, body, sizeof body));
    json_t *b = json_object_get(result, "body");
    if (!json_is_string(b) || json_string_length(b) == 0)
        return weir__error(err, WEIR_EINVAL, "execution.sourceUrl %s answered an empty body", url);
    *src = json_incref(b);
    return 0;
}

/* ------------------------------------------------------------- catalog */

typedef struct cat_fetch {
    svc_catalog *cat;
    char id[160];
    uint64_t fetch_id; /* 0 once answered */
} cat_fetch;

struct svc_catalog {
    weir_service *s;
    weir_http_req *req;
    uint64_t start_ns;
    svc_catalog_cont cont;
    cat_fetch *fetches;
    size_t n;
    size_t left;   /* components not settled yet */
    int status;    /* the first failure's (0: none) ... */
    json_t *error; /* ... and its body */
    svc_catalog *next;
};

static void catalog_free(svc_catalog *cat) {
    weir_service *s = cat->s;
    for (svc_catalog **pp = &s->catalogs; *pp; pp = &(*pp)->next)
        if (*pp == cat) {
            *pp = cat->next;
            break;
        }
    json_decref(cat->error);
    weir__free(cat->fetches);
    weir__free(cat);
}

/* The catalog's base URL without its trailing slashes, into buf. */
static const char *catalog_base(const weir_service *s, char *buf, size_t cap) {
    size_t n = strlen(s->cfg.catalog_url);
    while (n && s->cfg.catalog_url[n - 1] == '/') n--;
    snprintf(buf, cap, "%.*s", (int)n, s->cfg.catalog_url);
    return buf;
}

static void settle(svc_catalog *cat) {
    if (--cat->left) return;
    weir_service *s = cat->s;
    if (cat->status) {
        svc_reply r = {.req = cat->req, .start_ns = cat->start_ns};
        json_t *body = cat->error;
        cat->error = NULL;
        int status = cat->status;
        catalog_free(cat);
        svc_answer(s, &r, status, body);
        return;
    }
    weir_http_req *req = cat->req;
    uint64_t start_ns = cat->start_ns;
    svc_catalog_cont cont = cat->cont;
    catalog_free(cat);
    cont(s, req, start_ns);
}

static void failed(svc_catalog *cat, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void failed(svc_catalog *cat, int status, const char *fmt, ...) {
    if (!cat->status) {
        char msg[WEIR_ERROR_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        cat->status = status;
        cat->error = svc_error_body("%s", msg);
    }
    settle(cat);
}

void svc_catalog_registered(weir_service *s, svc_catalog *cat, const char *id, int status, json_t *body) {
    const char *why = json_string_value(json_object_get(body, "error"));
    char base[1024];
    if (status == 201 || (status == 409 && id && weir_registry_find(s->reg, id))) { /* or another lookup's */
        json_decref(body);
        settle(cat);
        return;
    }
    char msg[WEIR_ERROR_MAX];
    snprintf(msg, sizeof msg, "%s", why ? why : "failed");
    json_decref(body);
    failed(cat, status >= 500 ? status : 400, "component %s from the catalog (%s/%s.json) cannot be registered: %s",
           id ? id : "?", catalog_base(s, base, sizeof base), id ? id : "?", msg);
}

static void on_definition(void *ud, json_t *result, const char *error) {
    cat_fetch *f = ud;
    svc_catalog *cat = f->cat;
    weir_service *s = cat->s;
    f->fetch_id = 0;
    char base[1024], body[ANSWER_SHOWN + 1], why[256];
    catalog_base(s, base, sizeof base);
    if (over_limit(s->cfg.source_max_bytes, error, "definition", why, sizeof why))
        return failed(cat, 400, "component %s is not built in or registered, and the catalog's definition (GET "
                                "%s/%s.json) %s", f->id, base, f->id, why);
    if (error)
        return failed(cat, 400, "component %s is not built in or registered, and the catalog could not be asked "
                                "(GET %s/%s.json): %s", f->id, base, f->id, error);
    json_int_t status = json_integer_value(json_object_get(result, "status"));
    if (status == 404 || status == 410)
        return failed(cat, 400, "unknown component %s: not built in, not registered, and not in the catalog (GET "
                                "%s/%s.json answered %lld)", f->id, base, f->id, (long long)status);
    if (status != 200)
        return failed(cat, 400, "component %s is not built in or registered, and the catalog answered GET %s/%s.json "
                                "with %lld: %s", f->id, base, f->id, (long long)status, shown(result, false, body, sizeof body));
    json_t *text = json_object_get(result, "body");
    json_error_t jerr;
    json_t *def = json_loadb(json_string_value(text), json_string_length(text), 0, &jerr);
    if (!json_is_object(def)) {
        json_decref(def);
        return failed(cat, 400, "the catalog's answer for component %s (GET %s/%s.json) is not a JSON object: %s",
                      f->id, base, f->id, def ? "another JSON value" : jerr.text);
    }
    const char *got = json_string_value(json_object_get(def, "id"));
    if (!got || strcmp(got, f->id) != 0) {
        failed(cat, 400, "the catalog's definition for component %s (GET %s/%s.json) has id \"%.160s\"", f->id, base,
               f->id, got ? got : "(none)");
        json_decref(def);
        return;
    }
    if (weir_registry_find(s->reg, f->id)) { /* registered meanwhile */
        json_decref(def);
        return settle(cat);
    }
    json_t *fields = json_pack("{s:s,s:s}", "component", f->id, "catalog", base);
    weir_service_log(s, WEIR_LOG_INFO, fields, "component %s found in the catalog: registering it", f->id);
    json_decref(fields);
    svc_component_register(s, def, cat);
}

/* A name a component could have (user.c's rule, loosely): the catalog is
 * asked only for those. */
static bool plausible_id(const char *id) {
    size_t n = strlen(id);
    if (n == 0 || n >= sizeof ((cat_fetch *)0)->id || !strchr(id, '.')) return false;
    for (const char *c = id; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-' && *c != '_') return false;
    return true;
}

bool svc_catalog_resolve(weir_service *s, weir_http_req *req, uint64_t start_ns, json_t *doc, svc_catalog_cont cont) {
    if (!s->cfg.catalog_url || !s->cfg.catalog_url[0]) return false;
    const char *ids[CATALOG_MAX_IDS];
    size_t n = 0, i;
    json_t *node;
    json_array_foreach(json_object_get(doc, "nodes"), i, node) {
        const char *id = json_string_value(json_object_get(node, "component"));
        if (!id || !plausible_id(id) || weir_registry_find(s->reg, id) || n == CATALOG_MAX_IDS) continue;
        bool seen = false;
        for (size_t k = 0; k < n && !seen; k++) seen = strcmp(ids[k], id) == 0;
        if (!seen) ids[n++] = id;
    }
    if (!n) return false;
    svc_catalog *cat = weir__calloc(1, sizeof *cat);
    cat_fetch *fetches = cat ? weir__calloc(n, sizeof *fetches) : NULL;
    if (!fetches) {
        weir__free(cat);
        return false; /* loaded as it is: unknown components are refused as always */
    }
    *cat = (svc_catalog){.s = s, .req = req, .start_ns = start_ns, .cont = cont, .fetches = fetches, .n = n,
                         .left = n + 1, .next = s->catalogs};
    s->catalogs = cat;
    char base[1024];
    catalog_base(s, base, sizeof base);
    for (i = 0; i < n; i++) {
        cat_fetch *f = &fetches[i];
        f->cat = cat;
        snprintf(f->id, sizeof f->id, "%s", ids[i]);
        char url[1200];
        snprintf(url, sizeof url, "%s/%s.json", base, f->id);
        json_t *payload = json_pack("{s:s,s:s,s:I,s:I,s:{s:s}}", "method", "GET", "url", url, "timeoutMs",
                                    (json_int_t)timeout_of(s), "maxBytes", (json_int_t)s->cfg.source_max_bytes,
                                    "headers", "Accept", "application/json");
        int rc = payload ? weir_realtime_fetch(s->rt, payload, on_definition, f, &f->fetch_id) : WEIR_ENOMEM;
        json_decref(payload);
        if (rc) failed(cat, 503, "cannot ask the catalog for component %s: %s", f->id, weir_strerror(rc));
    }
    settle(cat); /* the start's own count: answers may all have come already */
    return true;
}

void svc_catalog_free(weir_service *s) {
    while (s->catalogs) catalog_free(s->catalogs); /* unanswered: the server is going */
}
