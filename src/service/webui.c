/*
 * Serving the dashboard's compiled-in files (see webui.h).
 */
#include <stdio.h>
#include <string.h>

#include "service/webui.h"

/* What the page may load and reach: its own files, its own API and its own
 * sockets, nothing else (no inline script, no other origin, no framing).
 * CSP 3 lets 'self' match ws: and wss: to the same host; the Host is named
 * as well for browsers that predate it (only a Host of plain name
 * characters: anything else cannot name this server and gets 'self' alone). */
#define CSP_HEAD                                                                                                      \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "               \
    "manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; connect-src 'self'"
#define HOST_MAX 255

const svc_web_file *svc_web_find(const char *path) {
    if (path[0] != '/') return NULL;
    const char *name = path[1] ? path + 1 : "index.html";
    for (size_t i = 0; i < svc_web_n_files; i++)
        if (strcmp(svc_web_files[i].name, name) == 0) return &svc_web_files[i];
    return NULL;
}

static bool plain_host(const char *h) {
    size_t n = strlen(h);
    if (n == 0 || n > HOST_MAX) return false;
    for (; *h; h++) {
        char ch = *h;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                  ch == '-' || ch == ':' || ch == '[' || ch == ']';
        if (!ok) return false;
    }
    return true;
}

/* Does an If-None-Match value hold etag (or "*")?  Compared weakly, as
 * RFC 9110 §13.1.2 says for If-None-Match: W/"x" matches "x". */
static bool etag_listed(const char *inm, const char *etag) {
    if (!inm) return false;
    size_t el = strlen(etag);
    for (const char *p = inm; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        if (*p == '*') return true;
        if (p[0] == 'W' && p[1] == '/') p += 2;
        if (strncmp(p, etag, el) == 0 && (p[el] == '\0' || p[el] == ',' || p[el] == ' ' || p[el] == '\t'))
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

bool svc_web_serve(weir_http_req *req) {
    const svc_web_file *f = svc_web_find(req->path);
    if (!f) return false;
    bool get = strcmp(req->method, "GET") == 0, head = strcmp(req->method, "HEAD") == 0;
    if (!get && !head) {
        const char *hdr[] = {"Allow", "GET, HEAD", NULL};
        const char *body = "{\"error\":\"the dashboard's files are read-only: GET or HEAD them\","
                           "\"code\":\"WEIR_EMETHOD\"}";
        weir_http_respond(req, 405, "application/json", body, strlen(body), hdr);
        return true;
    }
    char csp[sizeof CSP_HEAD + 2 * (HOST_MAX + 8)];
    const char *host = weir_http_header(req, "host");
    if (host && plain_host(host))
        snprintf(csp, sizeof csp, "%s ws://%s wss://%s", CSP_HEAD, host, host);
    else
        snprintf(csp, sizeof csp, "%s", CSP_HEAD);
    /* no-cache: a browser asks again each time (a new weir serves new
     * files at once) and gets a bodiless 304 while the file is the same */
    const char *hdr[] = {"ETag", f->etag,
                         "Cache-Control", "no-cache",
                         "Content-Security-Policy", csp,
                         "X-Content-Type-Options", "nosniff",
                         "Referrer-Policy", "no-referrer",
                         "Cross-Origin-Opener-Policy", "same-origin",
                         NULL};
    if (etag_listed(weir_http_header(req, "if-none-match"), f->etag)) {
        weir_http_respond(req, 304, NULL, NULL, 0, hdr);
        return true;
    }
    weir_http_respond(req, 200, f->type, (const char *)f->data, f->len, hdr);
    return true;
}
