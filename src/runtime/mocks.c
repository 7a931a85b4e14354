/*
 * http mocks and the scenario checks shared by the virtual runtime and weir
 * sim: see mocks.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/error.h"
#include "runtime/mocks.h"

/* ------------------------------------------------------------ expressions */

/* The names the scenario's expressions see are fields of the value they
 * are evaluated on: the source is wrapped so that each name it mentions is
 * bound by an array callback's parameter, [value.world].map(world => ...),
 * and the rest of the language is as everywhere (SPEC §2.2).  Columns in
 * error messages are given back in the source's own terms. */
int weir__scn_compile(const char *src, const char *const *names, size_t n, weir_expr **out, weir_error *err) {
    *out = NULL;
    size_t len = strlen(src), cap = len + 16;
    for (size_t i = 0; i < n; i++) cap += 2 * strlen(names[i]) + 32;
    char *w = weir__malloc(cap);
    if (!w) return weir__error(err, WEIR_ENOMEM, "out of memory");
    size_t used = 0, bound = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strstr(src, names[i])) continue;
        used += (size_t)snprintf(w + used, cap - used, "[value.%s].map(%s => ", names[i], names[i]);
        bound++;
    }
    size_t prefix = used + 1;
    used += (size_t)snprintf(w + used, cap - used, "(%s\n)", src);
    for (size_t i = 0; i < bound; i++) used += (size_t)snprintf(w + used, cap - used, ")[0]");
    weir_error e2;
    int rc = weir__expr_compile(w, out, &e2);
    weir__free(w);
    if (!rc) return 0;
    /* an unknown name: say which names this expression sees */
    char *unknown = strstr(e2.message, "unknown name '");
    char *semi = unknown ? strchr(unknown + strlen("unknown name '"), ';') : NULL;
    if (semi) {
        size_t u = (size_t)(semi - e2.message);
        char names_list[256] = "";
        for (size_t i = 0, k = 0; i < n && k < sizeof names_list; i++)
            k += (size_t)snprintf(names_list + k, sizeof names_list - k, "%s%s", i ? ", " : "", names[i]);
        snprintf(semi, sizeof e2.message - u,
                 "; here an expression sees %s (and Math, JSON, Object, Array, Number, String, Boolean, parseInt, "
                 "parseFloat, isNaN, isFinite)", names_list);
    }
    unsigned long col;
    int at = 0;
    if (sscanf(e2.message, "column %lu: %n", &col, &at) == 1 && at > 0) {
        long mine = (long)col - (long)prefix;
        if (mine < 1) mine = 1;
        if ((size_t)mine > len + 1) mine = (long)len + 1;
        return weir__error(err, rc, "column %ld: %s", mine, e2.message + at);
    }
    return weir__error(err, rc, "%s", e2.message);
}

/* ------------------------------------------------------------ checks */

int weir__scn_bad(weir_error *err, const char *fmt, ...) {
    char msg[WEIR_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return weir__error(err, WEIR_EINVAL, "%s", msg);
}

/* n, or [min, max] with 0 <= min <= max <= WEIR_MOCK_MAX_MS. */
int weir__scn_range(json_t *v, const char *where, const char *unit, int64_t *lo, int64_t *hi, weir_error *err) {
    if (json_is_integer(v)) {
        *lo = *hi = json_integer_value(v);
    } else if (json_is_array(v) && json_array_size(v) == 2 && json_is_integer(json_array_get(v, 0)) &&
               json_is_integer(json_array_get(v, 1))) {
        *lo = json_integer_value(json_array_get(v, 0));
        *hi = json_integer_value(json_array_get(v, 1));
    } else {
        return weir__scn_bad(err, "%s must be %s (a whole number) or a range [min, max]", where, unit);
    }
    if (*lo < 0 || *hi > WEIR_MOCK_MAX_MS || *lo > *hi)
        return weir__scn_bad(err, "%s must lie within 0..%d %s, min <= max (got %lld..%lld)", where, WEIR_MOCK_MAX_MS, unit,
                   (long long)*lo, (long long)*hi);
    return 0;
}

int weir__scn_rate(json_t *v, const char *where, double *out, weir_error *err) {
    if (!v) return 0;
    double p = json_number_value(v);
    if (!json_is_number(v) || !(p >= 0 && p <= 1))
        return weir__scn_bad(err, "%s must be a probability from 0 to 1 (e.g. 0.05)", where);
    *out = p;
    return 0;
}

/* Only the keys in allowed (NULL-terminated). */
int weir__scn_keys_only(json_t *obj, const char *where, const char *const *allowed, const char *takes, weir_error *err) {
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++) ok = strcmp(k, allowed[i]) == 0;
        if (!ok) return weir__scn_bad(err, "%s: unknown field \"%.100s\"; %s", where, k, takes);
    }
    return 0;
}

static const char *const WHEN_NAMES[] = {"world", "request"};

static char *dup_or_null(const char *s) { return s ? weir__strdup(s) : (char *)NULL; }

/* {status, headers, body: text}, as the virtual runtime answers. */
static json_t *mock_result(json_t *resp) {
    json_t *status = json_object_get(resp, "status"), *headers = json_object_get(resp, "headers");
    json_t *body = json_object_get(resp, "body");
    json_t *h = headers ? json_deep_copy(headers) : json_object();
    json_t *text;
    if (!body || json_is_null(body)) {
        text = json_string("");
    } else if (json_is_string(body)) {
        text = json_incref(body);
    } else {
        char *s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        text = s ? json_string(s) : NULL;
        weir__free(s);
        bool has_ct = false;
        const char *k;
        json_t *val;
        json_object_foreach(h, k, val) has_ct |= strcasecmp(k, "content-type") == 0;
        if (h && !has_ct) json_object_set_new(h, "content-type", json_string("application/json"));
    }
    return json_pack("{s:I,s:o,s:o}", "status", status ? json_integer_value(status) : 200, "headers", h, "body",
                     text);
}

int weir__mock_load(json_t *m, size_t i, weir__mock *mk, weir_error *err) {
    static const char *const keys[] = {"match", "response", "latencyMs", "fail", "timeout", "set", "when", "note",
                                       NULL};
    char where[64];
    snprintf(where, sizeof where, "mocks[%zu]", i);
    if (!json_is_object(m))
        return weir__scn_bad(err, "%s must be an object {match: {method?, url?}, response?, latencyMs?, fail?, timeout?, set?, "
                        "when?}", where);
    int rc = weir__scn_keys_only(m, where, keys, "a mock takes match, response, latencyMs, fail, timeout, set, when", err);
    if (rc) return rc;
    json_t *match = json_object_get(m, "match"), *resp = json_object_get(m, "response");
    if (!json_is_object(match)) return weir__scn_bad(err, "%s.match must be an object {method?, url?}", where);
    json_t *method = json_object_get(match, "method"), *url = json_object_get(match, "url");
    if ((method && !json_is_string(method)) || (url && !json_is_string(url)))
        return weir__scn_bad(err, "%s.match: method and url must be strings (url may end in '*')", where);
    if (resp && !json_is_object(resp))
        return weir__scn_bad(err, "%s.response must be an object {status?, headers?, body?}", where);
    json_t *status = json_object_get(resp, "status"), *headers = json_object_get(resp, "headers");
    if (status && (!json_is_integer(status) || json_integer_value(status) < 100 || json_integer_value(status) > 599))
        return weir__scn_bad(err, "%s.response.status must be an HTTP status (100-599)", where);
    if (headers && !json_is_object(headers)) return weir__scn_bad(err, "%s.response.headers must be an object", where);
    json_t *lat = json_object_get(m, "latencyMs");
    char w2[96];
    snprintf(w2, sizeof w2, "%s.latencyMs", where);
    if (lat && (rc = weir__scn_range(lat, w2, "ms", &mk->lat_min, &mk->lat_max, err))) return rc;
    snprintf(w2, sizeof w2, "%s.fail", where);
    if ((rc = weir__scn_rate(json_object_get(m, "fail"), w2, &mk->fail, err))) return rc;
    snprintf(w2, sizeof w2, "%s.timeout", where);
    if ((rc = weir__scn_rate(json_object_get(m, "timeout"), w2, &mk->timeout, err))) return rc;
    json_t *set = json_object_get(m, "set"), *when = json_object_get(m, "when");
    if (set && !json_is_object(set)) return weir__scn_bad(err, "%s.set must be an object (merged into the world)", where);
    if (when && !json_is_string(when))
        return weir__scn_bad(err, "%s.when must be an expression (a string) over world and request", where);
    mk->method = dup_or_null(json_string_value(method));
    mk->url = dup_or_null(json_string_value(url));
    mk->set = json_incref(set);
    mk->result = mock_result(resp);
    mk->status = status ? (int)json_integer_value(status) : 200;
    if ((method && !mk->method) || (url && !mk->url) || !mk->result)
        return weir__error(err, WEIR_ENOMEM, "out of memory");
    if (when) {
        weir_error e2;
        rc = weir__scn_compile(json_string_value(when), WHEN_NAMES, 2, &mk->when, &e2);
        if (rc) return weir__error(err, rc == WEIR_ENOMEM ? rc : WEIR_EINVAL, "%s.when: %s", where, e2.message);
    }
    return 0;
}



void weir__mock_free(weir__mock *mk) {
    weir__free(mk->method);
    weir__free(mk->url);
    json_decref(mk->set);
    json_decref(mk->result);
    weir__expr_free(mk->when);
    memset(mk, 0, sizeof *mk);
}

int weir__mocks_load(json_t *mocks, weir__mock **out, size_t *n, weir_error *err) {
    *out = NULL;
    *n = 0;
    if (!mocks) return 0;
    if (!json_is_array(mocks))
        return weir__scn_bad(err, "mocks must be an array of {match, response, latencyMs, fail?, timeout?, set?, when?}");
    weir__mock *ms = weir__calloc(json_array_size(mocks) + 1, sizeof *ms);
    if (!ms) return weir__error(err, WEIR_ENOMEM, "out of memory");
    size_t i;
    json_t *m;
    json_array_foreach(mocks, i, m) {
        int rc = weir__mock_load(m, i, &ms[i], err);
        if (rc) {
            weir__mocks_free(ms, i + 1);
            return rc;
        }
    }
    *out = ms;
    *n = json_array_size(mocks);
    return 0;
}

void weir__mocks_free(weir__mock *ms, size_t n) {
    for (size_t i = 0; ms && i < n; i++) weir__mock_free(&ms[i]);
    weir__free(ms);
}

/* ------------------------------------------------------------ matching */

static bool url_matches(const char *pattern, const char *url) {
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*') return strncmp(pattern, url, n - 1) == 0;
    return strcmp(pattern, url) == 0;
}

bool weir__mock_matches(const weir__mock *m, const char *method, const char *url) {
    return (!m->method || strcasecmp(m->method, method) == 0) && (!m->url || url_matches(m->url, url));
}

int weir__mocks_serve(const weir__mock *ms, size_t n, const char *method, const char *url, json_t *world,
                      json_t *request, size_t *index, weir_error *err) {
    json_t *env_value = NULL; /* {world, request}, made for the first `when` */
    size_t m = 0;
    int rc = 0;
    for (; m < n; m++) {
        const weir__mock *mk = &ms[m];
        if (!weir__mock_matches(mk, method, url)) continue;
        if (!mk->when) break;
        if (!env_value && !(env_value = json_pack("{s:O,s:O}", "world", world, "request", request))) {
            rc = weir__error(err, WEIR_ENOMEM, "out of memory");
            break;
        }
        weir_expr_env env = {.value = env_value};
        bool ok = false;
        if ((rc = weir__expr_truthy(mk->when, &env, &ok, err)) || ok) break;
    }
    json_decref(env_value);
    *index = m;
    return rc;
}
