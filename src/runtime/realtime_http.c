/*
 * http effects of the realtime runtime: libcurl multi driven by the runtime's
 * libuv loop (curl_multi_socket_action, a uv_poll per socket curl watches and
 * a uv timer for curl's timeouts).
 *
 * The egress guard (SPEC §2.1) sits at two points: every URL requested,
 * redirects included, must be http(s) and its host in the allowlist; every
 * address curl is about to connect to is classified in the open-socket
 * callback, after DNS, so rebinding cannot bypass it.  Redirects are followed
 * here, not by curl, so each hop goes through both checks.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/alloc.h"
#include "runtime/realtime.h"

#define DEFAULT_TIMEOUT_MS 10000
#define MSG_MAX 1024

struct rt_socket {
    uv_poll_t poll;
    weir_realtime *rt;
    curl_socket_t fd;
    rt_socket *prev, *next; /* rt->sockets */
};

typedef struct header {
    char *name; /* as given, for matching */
    char *line; /* "Name: value", or "Name;" for an empty value (curl's syntax) */
} header;

struct rt_http {
    CURL *easy;
    bool in_multi;
    /* the request, as it stands after the redirects followed so far */
    char *url;
    char *origin; /* scheme://host:port of url */
    char *method;
    char *body; /* NULL: no body */
    size_t body_len;
    header *headers;
    size_t nheaders, cap_headers;
    struct curl_slist *slist; /* built from headers for the current hop */
    int redirects;
    int64_t timeout_ms;
    uint64_t deadline; /* uv_now() ms */
    /* the current response */
    char *resp;
    size_t resp_len, resp_cap;
    json_t *resp_headers;
    bool too_large, oom;
    bool refused; /* the open-socket check refused an address: msg says which */
    bool base64;  /* payload responseEncoding "base64": the body's bytes as base64 (not text) */
    size_t max_bytes; /* the response limit: max_response_bytes, or the payload's maxBytes when lower */
    char last_addr[64];
    char errbuf[CURL_ERROR_SIZE];
    char msg[MSG_MAX]; /* the failure handed to the resolver */
};

/* -------------------------------------------------------------- helpers */

static bool is_tchar(unsigned char c) {
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token(const char *s) {
    if (!*s) return false;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s)) return false;
    return true;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned min;
    if (c >= 0xc2 && c <= 0xdf) len = 2, min = 0x80;
    else if ((c & 0xf0) == 0xe0) len = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, min = 0x10000;
    else return 0;
    if (n < len) return 0;
    unsigned cp = c & (0x3f >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

/* NEW: a JSON string of the bytes, invalid UTF-8 replaced by U+FFFD (as a
 * browser's text decoder does).  NULL on out of memory. */
static json_t *text_value(const char *buf, size_t n) {
    const unsigned char *s = (const unsigned char *)buf;
    size_t i = 0, bad = 0;
    for (i = 0; i < n;) {
        size_t l = utf8_seq(s + i, n - i);
        if (l) i += l;
        else bad++, i++;
    }
    if (!bad) return json_stringn_nocheck(buf, n);
    if (bad > ((size_t)-1 - n) / 2) return NULL;
    char *out = weir__malloc(n + 2 * bad);
    if (!out) return NULL;
    size_t o = 0;
    for (i = 0; i < n;) {
        size_t l = utf8_seq(s + i, n - i);
        if (l) {
            memcpy(out + o, s + i, l);
            o += l;
            i += l;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    json_t *v = json_stringn_nocheck(out, o);
    weir__free(out);
    return v;
}

/* NEW: a JSON string of the bytes in base64 (RFC 4648, padded).  NULL on
 * out of memory. */
static json_t *base64_value(const char *buf, size_t n) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (n > ((size_t)-1 / 4) * 3 - 3) return NULL;
    size_t len = (n + 2) / 3 * 4;
    char *out = weir__malloc(len + 1);
    if (!out) return NULL;
    const unsigned char *s = (const unsigned char *)buf;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);
        out[o++] = A[v >> 18 & 63];
        out[o++] = A[v >> 12 & 63];
        out[o++] = i + 1 < n ? A[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? A[v & 63] : '=';
    }
    json_t *j = json_stringn_nocheck(out, o);
    weir__free(out);
    return j;
}

static void fail(rt_http *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(rt_http *h, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->msg, sizeof h->msg, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------ request headers */

static int header_add(rt_http *h, const char *name, const char *value) {
    if (weir__grow((void **)&h->headers, &h->cap_headers, h->nheaders + 1, sizeof *h->headers))
        return WEIR_ENOMEM;
    size_t nl = strlen(name), vl = strlen(value);
    char *n = weir__strdup(name);
    char *line = weir__malloc(nl + vl + 3);
    if (!n || !line) {
        weir__free(n);
        weir__free(line);
        return WEIR_ENOMEM;
    }
    if (vl) snprintf(line, nl + vl + 3, "%s: %s", name, value);
    else snprintf(line, nl + 2, "%s;", name);
    h->headers[h->nheaders].name = n;
    h->headers[h->nheaders].line = line;
    h->nheaders++;
    return 0;
}

static bool header_has(const rt_http *h, const char *name) {
    for (size_t i = 0; i < h->nheaders; i++)
        if (strcasecmp(h->headers[i].name, name) == 0) return true;
    return false;
}

/* Drop every header whose name is in the NULL-terminated list. */
static void header_drop(rt_http *h, const char *const *names) {
    size_t k = 0;
    for (size_t i = 0; i < h->nheaders; i++) {
        bool drop = false;
        for (const char *const *n = names; *n && !drop; n++) drop = strcasecmp(h->headers[i].name, *n) == 0;
        if (drop) {
            weir__free(h->headers[i].name);
            weir__free(h->headers[i].line);
        } else {
            h->headers[k++] = h->headers[i];
        }
    }
    h->nheaders = k;
}

/* The body method uses curl's POSTFIELDS (body, or an empty one for the
 * methods that carry one). */
static bool sends_postfields(const rt_http *h) {
    return h->body || !strcmp(h->method, "POST") || !strcmp(h->method, "PUT") || !strcmp(h->method, "PATCH");
}

static int build_slist(rt_http *h) {
    struct curl_slist *l = NULL, *t;
    for (size_t i = 0; i < h->nheaders; i++) {
        if (!(t = curl_slist_append(l, h->headers[i].line))) goto nomem;
        l = t;
    }
    /* No "Expect: 100-continue" round trip; no form-encoded default type. */
    if (!(t = curl_slist_append(l, "Expect:"))) goto nomem;
    l = t;
    if (sends_postfields(h) && !header_has(h, "content-type")) {
        t = curl_slist_append(l, h->body ? "Content-Type: text/plain;charset=UTF-8" : "Content-Type:");
        if (!t) goto nomem;
        l = t;
    }
    curl_slist_free_all(h->slist);
    h->slist = l;
    return 0;
nomem:
    curl_slist_free_all(l);
    return WEIR_ENOMEM;
}

/* ----------------------------------------------------- curl callbacks */

static size_t on_body(char *buf, size_t size, size_t n, void *ud) {
    rt_op *op = ud;
    rt_http *h = op->http;
    size_t len = size * n;
    if (len > h->max_bytes - h->resp_len) {
        h->too_large = true;
        return 0;
    }
    if (weir__grow((void **)&h->resp, &h->resp_cap, h->resp_len + len, 1)) {
        h->oom = true;
        return 0;
    }
    memcpy(h->resp + h->resp_len, buf, len);
    h->resp_len += len;
    return len;
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud) {
    rt_op *op = ud;
    rt_http *h = op->http;
    size_t len = size * n;
    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) { /* a new response (1xx, then the final one) */
        json_object_clear(h->resp_headers);
        return len;
    }
    const char *colon = memchr(buf, ':', len);
    if (!colon || colon == buf) return len; /* the blank line, or not a header */
    char name[256];
    size_t nl = (size_t)(colon - buf);
    if (nl >= sizeof name) return len;
    for (size_t i = 0; i < nl; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (!is_tchar(c)) return len;
        name[i] = (char)tolower(c);
    }
    name[nl] = '\0';
    const char *v = colon + 1, *end = buf + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t')) end--;
    json_t *value;
    json_t *prev = json_object_get(h->resp_headers, name);
    if (json_is_string(prev)) { /* repeated: joined with ", " as fetch does */
        size_t pl = json_string_length(prev), vl = (size_t)(end - v);
        char *joined = weir__malloc(pl + 2 + vl);
        if (!joined) goto nomem;
        memcpy(joined, json_string_value(prev), pl);
        memcpy(joined + pl, ", ", 2);
        memcpy(joined + pl + 2, v, vl);
        value = text_value(joined, pl + 2 + vl);
        weir__free(joined);
    } else {
        value = text_value(v, (size_t)(end - v));
    }
    if (!value || json_object_set_new_nocheck(h->resp_headers, name, value) != 0) goto nomem;
    return len;
nomem:
    h->oom = true;
    return 0;
}

static curl_socket_t on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a) {
    (void)purpose;
    rt_op *op = ud;
    weir_realtime *rt = op->rt;
    rt_http *h = op->http;
    weir__egress_format(&a->addr, true, h->last_addr, sizeof h->last_addr);
    if (!rt->allow_private) {
        weir_egress_class c = rt->classify(&a->addr);
        if (c != WEIR_EGRESS_PUBLIC) {
            /* the range that refuses it (a test's classifier may refuse
             * what the table allows: then its class says why) */
            char ip[64], why[384] = "";
            weir_egress_verdict v = weir__egress_check_sockaddr(&a->addr);
            if (v.cls != WEIR_EGRESS_PUBLIC && v.range) weir__egress_verdict_text(&v, why, sizeof why);
            fail(h, "egress refused: %s is %s%s, not globally reachable; set EGRESS_ALLOW_PRIVATE=true to allow",
                 weir__egress_format(&a->addr, false, ip, sizeof ip), why[0] ? "in " : "",
                 why[0] ? why : weir__egress_class_phrase(c));
            h->refused = true;
            return CURL_SOCKET_BAD;
        }
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* ---------------------------------------------------- issuing a request */

/* Check the URL (scheme, allowlist), configure the easy handle for the
 * current hop and add it to the multi handle.  0, or -1 with h->msg set. */
static int issue(rt_op *op) {
    weir_realtime *rt = op->rt;
    rt_http *h = op->http;
    int rc = -1;
    char *scheme = NULL, *host = NULL, *port = NULL;
    CURLU *u = curl_url();
    if (!u) goto nomem;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, h->url, 0);
    if (uc != CURLUE_OK) {
        fail(h, "invalid URL '%s': %s (an absolute http:// or https:// URL is needed)", h->url,
             curl_url_strerror(uc));
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) goto nomem;
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        fail(h, "egress refused: scheme '%s' is not allowed in '%s' (only http and https)", scheme, h->url);
        goto out;
    }
    uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
    if (uc != CURLUE_OK) {
        fail(h, "invalid URL '%s': %s", h->url, curl_url_strerror(uc));
        goto out;
    }
    if (!weir__egress_host_allowed(rt->allowlist, host)) {
        fail(h, "egress refused: host %s is not in EGRESS_ALLOWLIST (%s)", host, rt->allowlist);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) goto nomem;

    /* A hop to another origin drops the credentials (as browsers do). */
    char origin[1024];
    snprintf(origin, sizeof origin, "%s://%s:%s", scheme, host, port);
    for (char *c = origin; *c; c++) *c = (char)tolower((unsigned char)*c);
    if (h->origin && strcmp(h->origin, origin) != 0) {
        static const char *const credentials[] = {"authorization", "cookie", "proxy-authorization", NULL};
        header_drop(h, credentials);
    }
    weir__free(h->origin);
    if (!(h->origin = weir__strdup(origin))) goto nomem;

    uv_update_time(rt->loop);
    uint64_t now = uv_now(rt->loop);
    if (now >= h->deadline) {
        fail(h, "timeout after %lld ms", (long long)h->timeout_ms);
        goto out;
    }
    if (build_slist(h) != 0) goto nomem;
    if (h->easy) curl_easy_reset(h->easy);
    else if (!(h->easy = curl_easy_init())) goto nomem;

    CURL *c = h->easy;
    h->resp_len = 0;
    json_object_clear(h->resp_headers);
    h->too_large = h->oom = h->refused = false;
    h->errbuf[0] = '\0';
    h->last_addr[0] = '\0';
    bool ok = curl_easy_setopt(c, CURLOPT_URL, h->url) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_PROXY, "") == CURLE_OK && /* never an environment proxy */
              curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_PRIVATE, op) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_WRITEDATA, op) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_HEADERDATA, op) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_open_socket) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, op) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->slist) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_USERAGENT, "weir/" WEIR_VERSION) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "") == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->max_bytes) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(h->deadline - now)) == CURLE_OK;
    if (ok) {
        if (!strcmp(h->method, "GET")) {
            ok = curl_easy_setopt(c, CURLOPT_HTTPGET, 1L) == CURLE_OK;
        } else if (!strcmp(h->method, "HEAD")) {
            ok = curl_easy_setopt(c, CURLOPT_NOBODY, 1L) == CURLE_OK;
        } else {
            if (strcmp(h->method, "POST") != 0)
                ok = curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, h->method) == CURLE_OK;
            if (ok && sends_postfields(h))
                ok = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)h->body_len) == CURLE_OK &&
                     curl_easy_setopt(c, CURLOPT_POSTFIELDS, h->body ? h->body : "") == CURLE_OK;
        }
    }
    if (!ok) {
        fail(h, "http request failed: libcurl refused an option (out of memory?)");
        goto out;
    }
    CURLMcode mc = curl_multi_add_handle(rt->multi, c);
    if (mc != CURLM_OK) {
        fail(h, "http request failed: %s", curl_multi_strerror(mc));
        goto out;
    }
    h->in_multi = true;
    rc = 0;
    goto out;
nomem:
    fail(h, "out of memory");
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

/* ------------------------------------------------------------- payload */

/* NEW text of a header value or a body (*len its length): a string as is,
 * anything else as compact JSON. */
static char *value_text(json_t *v, size_t *len) {
    if (json_is_string(v)) {
        *len = json_string_length(v);
        return weir__strndup(json_string_value(v), *len);
    }
    size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    char *s = n ? weir__malloc(n + 1) : NULL;
    if (!s) return NULL;
    json_dumpb(v, s, n, JSON_COMPACT | JSON_ENCODE_ANY);
    s[n] = '\0';
    *len = n;
    return s;
}

/* Read the payload into op->http.  0, or -1 with h->msg set. */
static int parse_payload(rt_op *op, json_t *payload, const char *idempotency_key) {
    rt_http *h = op->http;
    if (!json_is_object(payload)) {
        fail(h, "http effect payload must be an object {method, url, headers, body?, timeoutMs}");
        return -1;
    }
    json_t *url = json_object_get(payload, "url");
    if (!json_is_string(url) || json_string_length(url) == 0) {
        fail(h, "http effect payload needs a non-empty string url");
        return -1;
    }
    if (!(h->url = weir__strdup(json_string_value(url)))) goto nomem;

    json_t *method = json_object_get(payload, "method");
    const char *m = json_is_string(method) ? json_string_value(method) : "GET";
    if (!is_token(m)) {
        fail(h, "invalid HTTP method '%s'", m);
        return -1;
    }
    if (!(h->method = weir__strdup(m))) goto nomem;
    for (char *c = h->method; *c; c++) *c = (char)toupper((unsigned char)*c);

    json_t *headers = json_object_get(payload, "headers");
    if (headers && !json_is_null(headers) && !json_is_object(headers)) {
        fail(h, "http effect headers must be an object {name: value}");
        return -1;
    }
    const char *name;
    json_t *v;
    json_object_foreach(headers, name, v) {
        /* curl frames the body itself: a stated length could only be wrong. */
        if (json_is_null(v) || strcasecmp(name, "content-length") == 0) continue;
        if (!is_token(name)) {
            fail(h, "invalid header name '%s'", name);
            return -1;
        }
        size_t len;
        char *text = value_text(v, &len);
        if (!text) goto nomem;
        if (strpbrk(text, "\r\n") || strlen(text) != len) {
            weir__free(text);
            fail(h, "invalid value of header '%s': it must not contain line breaks or NUL", name);
            return -1;
        }
        int rc = header_add(h, name, text);
        weir__free(text);
        if (rc) goto nomem;
    }
    /* Ours unless the payload names the header (null included: not sent). */
    bool named = false;
    json_object_foreach(headers, name, v) named = named || strcasecmp(name, "idempotency-key") == 0;
    if (idempotency_key && !named && header_add(h, "Idempotency-Key", idempotency_key)) goto nomem;

    json_t *body = json_object_get(payload, "body");
    if (body && !json_is_null(body) && strcmp(h->method, "GET") != 0 && strcmp(h->method, "HEAD") != 0) {
        if (!(h->body = value_text(body, &h->body_len))) goto nomem;
    }

    /* Two fields only weir's own fetches set (the http-request component
     * builds its payload from named fields): the body's bytes as base64,
     * and a lower response limit. */
    h->base64 = json_is_string(json_object_get(payload, "responseEncoding")) &&
                strcmp(json_string_value(json_object_get(payload, "responseEncoding")), "base64") == 0;
    h->max_bytes = op->rt->max_response_bytes;
    json_t *mb = json_object_get(payload, "maxBytes");
    if (json_is_integer(mb) && json_integer_value(mb) > 0 && (uint64_t)json_integer_value(mb) < h->max_bytes)
        h->max_bytes = (size_t)json_integer_value(mb);
    json_t *t = json_object_get(payload, "timeoutMs");
    h->timeout_ms = DEFAULT_TIMEOUT_MS;
    if (json_is_number(t) && json_number_value(t) >= 1 && json_number_value(t) < 1e12)
        h->timeout_ms = (int64_t)json_number_value(t);
    uv_update_time(op->rt->loop);
    h->deadline = uv_now(op->rt->loop) + (uint64_t)h->timeout_ms;
    return 0;
nomem:
    fail(h, "out of memory");
    return -1;
}

void weir__rt_http_start(rt_op *op, json_t *payload, const char *idempotency_key) {
    rt_http *h = weir__calloc(1, sizeof *h);
    if (!h) {
        weir__rt_defer_error(op, "out of memory");
        return;
    }
    op->http = h;
    if (!(h->resp_headers = json_object())) {
        weir__rt_defer_error(op, "out of memory");
        return;
    }
    if (parse_payload(op, payload, idempotency_key) != 0 || issue(op) != 0) weir__rt_defer_error(op, "%s", h->msg);
}

void weir__rt_http_abort(rt_op *op) {
    rt_http *h = op->http;
    if (!h || !h->easy) return;
    if (h->in_multi) curl_multi_remove_handle(op->rt->multi, h->easy);
    h->in_multi = false;
    curl_easy_cleanup(h->easy);
    h->easy = NULL;
}

void weir__rt_http_free(rt_op *op) {
    rt_http *h = op->http;
    if (!h) return;
    weir__rt_http_abort(op);
    weir__free(h->url);
    weir__free(h->origin);
    weir__free(h->method);
    weir__free(h->body);
    for (size_t i = 0; i < h->nheaders; i++) {
        weir__free(h->headers[i].name);
        weir__free(h->headers[i].line);
    }
    weir__free(h->headers);
    curl_slist_free_all(h->slist);
    weir__free(h->resp);
    json_decref(h->resp_headers);
    weir__free(h);
    op->http = NULL;
}

/* ---------------------------------------------------------- completion */

static bool is_redirect(long status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* Follow the redirect the response asks for.  0 when the next hop is on its
 * way; -1 with h->msg set. */
static int follow(rt_op *op, long status, const char *location) {
    rt_http *h = op->http;
    if (h->redirects >= op->rt->max_redirects) {
        fail(h, "too many redirects (more than %d), last to %s", op->rt->max_redirects, location);
        return -1;
    }
    h->redirects++;
    char *next = weir__strdup(location); /* location belongs to the easy handle */
    if (!next) {
        fail(h, "out of memory");
        return -1;
    }
    weir__free(h->url);
    h->url = next;
    bool to_get = (status == 303 && strcmp(h->method, "HEAD") != 0) ||
                  ((status == 301 || status == 302) && strcmp(h->method, "POST") == 0);
    if (to_get) {
        static const char *const body_headers[] = {"content-type", "content-length", "content-encoding",
                                                   "content-language", "content-location", NULL};
        char *get = weir__strdup("GET");
        if (!get) {
            fail(h, "out of memory");
            return -1;
        }
        weir__free(h->method);
        h->method = get;
        weir__free(h->body);
        h->body = NULL;
        h->body_len = 0;
        header_drop(h, body_headers);
    }
    return issue(op);
}

static const char *describe(rt_op *op, CURLcode res) {
    rt_http *h = op->http;
    const char *detail = h->errbuf[0] ? h->errbuf : curl_easy_strerror(res);
    if (h->refused && res == CURLE_COULDNT_CONNECT) return h->msg;
    if (h->oom) return "out of memory";
    if (h->too_large || res == CURLE_FILESIZE_EXCEEDED) {
        fail(h, "response larger than %zu bytes (%s)", h->max_bytes,
             h->max_bytes < op->rt->max_response_bytes ? "the limit of this request" : "max_response_bytes");
        return h->msg;
    }
    long os_errno = 0;
    switch (res) {
    case CURLE_OPERATION_TIMEDOUT: fail(h, "timeout after %lld ms", (long long)h->timeout_ms); break;
    case CURLE_COULDNT_RESOLVE_HOST: fail(h, "could not resolve host in %s: %s", h->url, detail); break;
    case CURLE_COULDNT_CONNECT:
        curl_easy_getinfo(h->easy, CURLINFO_OS_ERRNO, &os_errno);
        if (os_errno == ECONNREFUSED)
            fail(h, "connection refused: %s", h->last_addr[0] ? h->last_addr : h->url);
        else fail(h, "could not connect to %s: %s", h->last_addr[0] ? h->last_addr : h->url, detail);
        break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED: fail(h, "TLS error for %s: %s", h->url, detail); break;
    case CURLE_GOT_NOTHING: fail(h, "empty reply from server for %s", h->url); break;
    default: fail(h, "http request to %s failed: %s", h->url, detail); break;
    }
    return h->msg;
}

/* A transfer finished: follow a redirect, or settle with the response or the
 * failure. */
static void done(rt_op *op, CURLcode res) {
    weir_realtime *rt = op->rt;
    rt_http *h = op->http;
    curl_multi_remove_handle(rt->multi, h->easy);
    h->in_multi = false;
    if (res != CURLE_OK) {
        weir__rt_settle(op, NULL, describe(op, res));
        return;
    }
    long status = 0;
    curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
    char *location = NULL;
    if (is_redirect(status)) curl_easy_getinfo(h->easy, CURLINFO_REDIRECT_URL, &location);
    if (location) {
        if (follow(op, status, location) != 0) weir__rt_settle(op, NULL, h->msg);
        return;
    }
    json_t *result = json_object();
    json_t *body = h->base64 ? base64_value(h->resp, h->resp_len) : text_value(h->resp ? h->resp : "", h->resp_len);
    if (!result || !body || json_object_set_new(result, "status", json_integer(status)) != 0 ||
        json_object_set(result, "headers", h->resp_headers) != 0 || json_object_set(result, "body", body) != 0) {
        json_decref(result);
        json_decref(body);
        weir__rt_settle(op, NULL, "out of memory");
        return;
    }
    json_decref(body);
    weir__rt_settle(op, result, NULL);
    json_decref(result);
}

static void check_done(weir_realtime *rt) {
    CURLMsg *msg;
    int left;
    /* One message at a time: settling may cancel other transfers (removing
     * their messages) or destroy the runtime. */
    while (!rt->destroyed && (msg = curl_multi_info_read(rt->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURLcode res = msg->data.result;
        char *priv = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        if (priv) done((rt_op *)(void *)priv, res);
    }
}

/* --------------------------------------------------- loop integration */

static void socket_closed(uv_handle_t *h) {
    rt_socket *s = h->data;
    weir_realtime *rt = s->rt;
    weir__free(s);
    weir__rt_handle_closed(rt);
}

static void socket_close(rt_socket *s) {
    weir_realtime *rt = s->rt;
    if (s->prev) s->prev->next = s->next;
    else rt->sockets = s->next;
    if (s->next) s->next->prev = s->prev;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, socket_closed);
}

static void on_poll(uv_poll_t *p, int status, int events) {
    rt_socket *s = p->data;
    weir_realtime *rt = s->rt;
    int flags = 0;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    int running;
    curl_multi_socket_action(rt->multi, s->fd, flags, &running);
    check_done(rt);
}

/* A socket that cannot be watched would stall its transfer: fail the
 * transfer from the op's own timer (curl must not be re-entered here). */
static int unwatchable(CURL *easy) {
    char *priv = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    if (priv) weir__rt_defer_error((rt_op *)(void *)priv, "out of memory");
    return 0;
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *ud, void *socketp) {
    weir_realtime *rt = ud;
    rt_socket *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(rt->multi, fd, NULL);
            socket_close(s);
        }
        return 0;
    }
    if (!s) {
        if (rt->destroyed) return 0; /* curl_multi_cleanup shutting connections down */
        if (!(s = weir__calloc(1, sizeof *s))) return unwatchable(easy);
        if (uv_poll_init_socket(rt->loop, &s->poll, fd) != 0) {
            weir__free(s);
            return unwatchable(easy);
        }
        s->poll.data = s;
        s->rt = rt;
        s->fd = fd;
        s->next = rt->sockets;
        if (rt->sockets) rt->sockets->prev = s;
        rt->sockets = s;
        rt->open_handles++;
        curl_multi_assign(rt->multi, fd, s);
    }
    int events = 0;
    if (what & CURL_POLL_IN) events |= UV_READABLE;
    if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
    uv_poll_start(&s->poll, events, on_poll);
    return 0;
}

static void on_curl_timeout(uv_timer_t *t) {
    weir_realtime *rt = t->data;
    int running;
    curl_multi_socket_action(rt->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(rt);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *ud) {
    (void)multi;
    weir_realtime *rt = ud;
    if (timeout_ms < 0) uv_timer_stop(&rt->curl_timer);
    else uv_timer_start(&rt->curl_timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

int weir__rt_http_init(weir_realtime *rt) {
    if (!(rt->multi = curl_multi_init())) return WEIR_ENOMEM;
    if (curl_multi_setopt(rt->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
        curl_multi_setopt(rt->multi, CURLMOPT_SOCKETDATA, rt) != CURLM_OK ||
        curl_multi_setopt(rt->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
        curl_multi_setopt(rt->multi, CURLMOPT_TIMERDATA, rt) != CURLM_OK) {
        curl_multi_cleanup(rt->multi);
        rt->multi = NULL;
        return WEIR_ERUNTIME;
    }
    uv_timer_init(rt->loop, &rt->curl_timer);
    rt->curl_timer.data = rt;
    rt->open_handles++;
    return 0;
}

static void curl_timer_closed(uv_handle_t *h) { weir__rt_handle_closed(h->data); }

void weir__rt_http_fini(weir_realtime *rt) {
    /* Unwatch the sockets while curl still has them open, then let curl
     * close them (its remove callbacks find nothing assigned). */
    while (rt->sockets) {
        curl_multi_assign(rt->multi, rt->sockets->fd, NULL);
        socket_close(rt->sockets);
    }
    curl_multi_cleanup(rt->multi);
    rt->multi = NULL;
    uv_timer_stop(&rt->curl_timer);
    uv_close((uv_handle_t *)&rt->curl_timer, curl_timer_closed);
}
