/*
 * Browser safety (SPEC §10): which Host a request may name and which
 * Origin it may come from.
 *
 * Host stops DNS rebinding: a page whose name was re-pointed at the server
 * still sends its own name as Host, so only the server's names are taken.
 * An IP literal cannot be re-pointed, so the bound address (or, bound to a
 * wildcard address, the local address the connection arrived on) is one.
 * Origin stops cross-site requests that need no preflight (forms, text/plain
 * POSTs, WebSocket and Socket.IO handshakes): only the server's own origin
 * (the Host the request came by, over http or https — a TLS proxy in front
 * keeps the Host) and the listed origins are taken.
 *
 * Names compare case-insensitively, without brackets around IPv6 literals,
 * without one trailing dot; origins without their scheme's default port.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "net/http_internal.h"

/* A Host value or an entry split into its name (no brackets, lower-case,
 * no trailing dot) and port ("" when none). */
typedef struct authority {
    char name[WEIR__HTTP_ORIGIN_MAX];
    char port[8];
} authority;

static bool name_char(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_';
}

/* Parse "name[:port]" or "[v6][:port]" of n bytes.  False if malformed. */
static bool split_authority(const char *s, size_t n, authority *a) {
    const char *end = s + n;
    const char *name = s, *name_end;
    const char *port = NULL;
    bool v6 = n && s[0] == '[';
    if (v6) {
        const char *close = memchr(s, ']', n);
        if (!close) return false;
        name = s + 1;
        name_end = close;
        if (close + 1 < end) {
            if (close[1] != ':') return false;
            port = close + 2;
        }
    } else {
        const char *colon = memchr(s, ':', n);
        name_end = colon ? colon : end;
        if (colon) port = colon + 1;
    }
    size_t nl = (size_t)(name_end - name);
    if (!nl || nl >= sizeof a->name) return false;
    for (size_t i = 0; i < nl; i++) {
        char ch = name[i];
        if (ch >= 'A' && ch <= 'Z') ch = (char)(ch + 32);
        if (!(name_char(ch) || (v6 && (ch == ':' || (ch >= 'a' && ch <= 'f'))))) return false;
        a->name[i] = ch;
    }
    if (!v6 && nl > 1 && a->name[nl - 1] == '.') nl--;
    a->name[nl] = '\0';
    a->port[0] = '\0';
    if (port) {
        size_t pl = (size_t)(end - port);
        if (!pl || pl >= sizeof a->port) return false;
        for (size_t i = 0; i < pl; i++) {
            if (port[i] < '0' || port[i] > '9') return false;
            a->port[i] = port[i];
        }
        a->port[pl] = '\0';
    }
    return true;
}

/* "scheme://authority" lower-case, without the scheme's default port.
 * False if o is not an origin (a path, userinfo, no scheme, too long). */
static bool norm_origin(const char *o, size_t n, char *out, size_t cap) {
    const char *sep = n >= 3 ? strstr(o, "://") : NULL;
    if (!sep || sep == o || (size_t)(sep - o) + 3 >= n) return false;
    size_t sl = (size_t)(sep - o);
    char scheme[32];
    if (sl >= sizeof scheme) return false;
    for (size_t i = 0; i < sl; i++) {
        char ch = o[i];
        if (ch >= 'A' && ch <= 'Z') ch = (char)(ch + 32);
        if (!((ch >= 'a' && ch <= 'z') || (i && ((ch >= '0' && ch <= '9') || ch == '+' || ch == '-' || ch == '.'))))
            return false;
        scheme[i] = ch;
    }
    scheme[sl] = '\0';
    authority a;
    if (!split_authority(sep + 3, n - sl - 3, &a)) return false;
    if ((strcmp(scheme, "http") == 0 && strcmp(a.port, "80") == 0) ||
        (strcmp(scheme, "https") == 0 && strcmp(a.port, "443") == 0))
        a.port[0] = '\0';
    bool v6 = strchr(a.name, ':') != NULL;
    int w = snprintf(out, cap, "%s://%s%s%s%s%s", scheme, v6 ? "[" : "", a.name, v6 ? "]" : "", a.port[0] ? ":" : "",
                     a.port);
    return w > 0 && (size_t)w < cap;
}

/* The entries of a comma-separated list, trimmed, empty ones skipped:
 * each is given to add(); false (with the entry in bad) stops. */
static bool each_entry(const char *list, bool (*add)(weir__http_guard *, const char *, size_t), weir__http_guard *g,
                       char *bad, size_t bad_cap) {
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
        if (b > a && !add(g, a, (size_t)(b - a))) {
            snprintf(bad, bad_cap, "%.*s", (int)(b - a) > 80 ? 80 : (int)(b - a), a);
            return false;
        }
        p = *end ? end + 1 : end;
    }
    return true;
}

static bool push(char ***v, size_t *n, const char *s) {
    char **nv = weir__realloc(*v, (*n + 1) * sizeof **v);
    if (!nv) return false;
    *v = nv;
    if (!(nv[*n] = weir__strdup(s))) return false;
    (*n)++;
    return true;
}

static bool add_host(weir__http_guard *g, const char *e, size_t n) {
    if (n == 1 && e[0] == '*') return g->any_host = true;
    authority a;
    bool domain = e[0] == '.';
    if (domain && (n < 2 || e[1] == '.')) return false;
    if (!split_authority(e + domain, n - domain, &a)) return false;
    char buf[sizeof a.name + sizeof a.port + 2];
    snprintf(buf, sizeof buf, "%s%s%s%s", domain ? "." : "", a.name, a.port[0] ? "\n" : "", a.port);
    return push(&g->hosts, &g->n_hosts, buf); /* "name" or "name\nport" */
}

static bool add_origin(weir__http_guard *g, const char *e, size_t n) {
    if (n == 1 && e[0] == '*') return g->any_origin = true;
    if (n == 4 && strncasecmp(e, "null", 4) == 0) return g->null_origin = true;
    char copy[WEIR__HTTP_ORIGIN_MAX], norm[WEIR__HTTP_ORIGIN_MAX];
    while (n > 1 && e[n - 1] == '/') n--; /* "http://x/" is taken as http://x */
    if (n >= sizeof copy) return false;
    memcpy(copy, e, n);
    copy[n] = '\0';
    if (!norm_origin(copy, n, norm, sizeof norm)) return false;
    return push(&g->origins, &g->n_origins, norm);
}

int weir__http_guard_init(weir__http_guard *g, const char *allowed_hosts, const char *cors_origins, const char *bound,
                          char *msg, size_t cap) {
    memset(g, 0, sizeof *g);
    char bad[96];
    if (!each_entry(allowed_hosts, add_host, g, bad, sizeof bad)) {
        snprintf(msg, cap, "ALLOWED_HOSTS entry '%s' is not a host: use name, name:port, .domain (it and its "
                           "subdomains) or * (any), comma-separated", bad);
        weir__http_guard_free(g);
        return WEIR_EINVAL;
    }
    if (!each_entry(cors_origins, add_origin, g, bad, sizeof bad)) {
        snprintf(msg, cap, "CORS_ORIGINS entry '%s' is not an origin: use scheme://host[:port] (no path), null "
                           "or * (any), comma-separated", bad);
        weir__http_guard_free(g);
        return WEIR_EINVAL;
    }
    authority a;
    const char *b = bound ? bound : "";
    char v6[WEIR__HTTP_ORIGIN_MAX];
    if (strchr(b, ':') && b[0] != '[') { /* a bare IPv6 address */
        snprintf(v6, sizeof v6, "[%s]", b);
        b = v6;
    }
    if (*b && split_authority(b, strlen(b), &a)) {
        g->wildcard = strcmp(a.name, "0.0.0.0") == 0 || strcmp(a.name, "::") == 0;
        if (!g->wildcard && !(g->bound = weir__strdup(a.name))) {
            weir__http_guard_free(g);
            snprintf(msg, cap, "out of memory");
            return WEIR_ENOMEM;
        }
    }
    return 0;
}

void weir__http_guard_free(weir__http_guard *g) {
    for (size_t i = 0; i < g->n_hosts; i++) weir__free(g->hosts[i]);
    for (size_t i = 0; i < g->n_origins; i++) weir__free(g->origins[i]);
    weir__free(g->hosts);
    weir__free(g->origins);
    weir__free(g->bound);
    memset(g, 0, sizeof *g);
}

bool weir__http_guard_host(const weir__http_guard *g, const char *host, const char *local) {
    if (g->any_host) return true;
    authority a;
    if (!split_authority(host, strlen(host), &a)) return false;
    if (strcmp(a.name, "localhost") == 0 || strcmp(a.name, "127.0.0.1") == 0 || strcmp(a.name, "::1") == 0)
        return true;
    if (g->bound && strcmp(a.name, g->bound) == 0) return true;
    if (g->wildcard && local && *local) {
        if (strcasecmp(a.name, local) == 0) return true;
        /* Bound to :: (dual-stack), an IPv4 client arrives on ::ffff:a.b.c.d
         * and names the server a.b.c.d. */
        if (strncasecmp(local, "::ffff:", 7) == 0 && strchr(local + 7, '.') && strcmp(a.name, local + 7) == 0)
            return true;
    }
    size_t nl = strlen(a.name);
    for (size_t i = 0; i < g->n_hosts; i++) {
        const char *e = g->hosts[i];
        const char *nlpos = strchr(e, '\n');
        size_t el = nlpos ? (size_t)(nlpos - e) : strlen(e);
        if (nlpos && strcmp(nlpos + 1, a.port) != 0) continue;
        if (el == nl && memcmp(e, a.name, nl) == 0) return true;
        if (e[0] == '.' && ((el - 1 == nl && memcmp(e + 1, a.name, nl) == 0) ||
                            (nl > el && memcmp(a.name + nl - el, e, el) == 0)))
            return true;
    }
    return false;
}

bool weir__http_guard_origin(const weir__http_guard *g, const char *origin, const char *host) {
    if (g->any_origin) return true;
    size_t n = strlen(origin);
    if (n == 4 && strncasecmp(origin, "null", 4) == 0) return g->null_origin;
    char norm[WEIR__HTTP_ORIGIN_MAX];
    if (!norm_origin(origin, n, norm, sizeof norm)) return false;
    for (size_t i = 0; i < g->n_origins; i++)
        if (strcmp(norm, g->origins[i]) == 0) return true;
    if (!host || (strncmp(norm, "http://", 7) != 0 && strncmp(norm, "https://", 8) != 0)) return false;
    /* Same origin: the Host, read as an authority of the Origin's scheme. */
    bool tls = norm[4] == 's';
    char own[WEIR__HTTP_ORIGIN_MAX + 16], own_norm[WEIR__HTTP_ORIGIN_MAX];
    int w = snprintf(own, sizeof own, "%s://%s", tls ? "https" : "http", host);
    if (w < 0 || (size_t)w >= sizeof own || !norm_origin(own, (size_t)w, own_norm, sizeof own_norm)) return false;
    return strcmp(norm, own_norm) == 0;
}
