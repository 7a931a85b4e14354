/* The dashboard at / (SPEC §8) over the real binary: its compiled-in files
 * with their types, ETags and Content-Security-Policy, no credentials for
 * them while the API keeps needing its key, the §10 Host and Origin checks
 * still in front of them; and the page itself driven in headless Chromium
 * by tests/js/dashboard.cjs (puppeteer-core). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proc.h"
#include "serve.h"

#define JS WEIR_SOURCE_DIR "/tests/js/"

/* The value of header `name` in raw response headers (a static buffer), or NULL. */
static const char *header(const http_resp *r, const char *name) {
    static char value[2048];
    size_t nl = strlen(name);
    for (const char *p = r->headers; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ') v++;
            size_t n = strcspn(v, "\r\n");
            if (n >= sizeof value) n = sizeof value - 1;
            memcpy(value, v, n);
            value[n] = '\0';
            return value;
        }
    }
    return NULL;
}

static http_resp get(const server *s, const char *path) { return http_req(s, "GET", path, NULL, NULL); }

Test(dashboard, the_page_is_served_at_slash_with_its_type_etag_and_csp) {
    server s = serve_start(NULL);
    http_resp r = get(&s, "/");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(header(&r, "Content-Type"), "text/html; charset=utf-8");
    cr_assert(strstr(r.body, "<script type=\"module\" src=\"app.js\"></script>"), "%s", r.body);
    const char *csp = header(&r, "Content-Security-Policy");
    cr_assert_not_null(csp, "%s", r.headers);
    cr_assert(strstr(csp, "default-src 'none'"), "%s", csp);
    cr_assert(strstr(csp, "script-src 'self'"), "%s", csp);
    cr_assert(strstr(csp, "style-src 'self'"), "%s", csp);
    cr_assert(strstr(csp, "connect-src 'self'"), "%s", csp);
    cr_assert(strstr(csp, "frame-ancestors 'none'"), "%s", csp);
    cr_assert_null(strstr(csp, "unsafe"), "nothing unsafe is allowed: %s", csp);
    cr_assert_null(strstr(csp, "*"), "no wildcard: %s", csp);
    char expect_ws[128];
    snprintf(expect_ws, sizeof expect_ws, "ws://127.0.0.1:%d", s.port);
    cr_assert(strstr(csp, expect_ws), "the socket of this host only: %s", csp);
    cr_assert_str_eq(header(&r, "X-Content-Type-Options"), "nosniff");
    char etag[128];
    snprintf(etag, sizeof etag, "%s", header(&r, "ETag"));
    cr_assert(strlen(etag) == 34 && etag[0] == '"' && etag[33] == '"', "a strong ETag: %s", etag);
    http_resp i = get(&s, "/index.html");
    cr_assert_eq(i.status, 200);
    cr_assert_str_eq(header(&i, "ETag"), etag, "/ is index.html");
    cr_assert_str_eq(i.body, r.body);
    http_free(&i);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(dashboard, every_file_has_its_content_type) {
    server s = serve_start(NULL);
    const char *files[][2] = {
        {"/app.js", "text/javascript; charset=utf-8"}, {"/views.js", "text/javascript; charset=utf-8"},
        {"/graph.js", "text/javascript; charset=utf-8"}, {"/style.css", "text/css; charset=utf-8"},
        {"/graph.css", "text/css; charset=utf-8"},    {"/favicon.svg", "image/svg+xml"},
    };
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        http_resp r = get(&s, files[k][0]);
        cr_assert_eq(r.status, 200, "%s: %ld %s", files[k][0], r.status, r.body);
        cr_assert_str_eq(header(&r, "Content-Type"), files[k][1], "%s", files[k][0]);
        cr_assert_not_null(header(&r, "Content-Security-Policy"), "%s", files[k][0]);
        cr_assert_str_eq(header(&r, "Cache-Control"), "no-cache", "%s", files[k][0]);
        cr_assert(strlen(r.body) > 0, "%s", files[k][0]);
        http_free(&r);
    }
    cr_assert_eq(serve_stop(&s), 0);
}

Test(dashboard, a_known_etag_gets_304_and_head_gets_no_body) {
    server s = serve_start(NULL);
    http_resp r = get(&s, "/app.js");
    cr_assert_eq(r.status, 200);
    char etag[128], inm[192], len[32];
    snprintf(etag, sizeof etag, "%s", header(&r, "ETag"));
    snprintf(len, sizeof len, "%zu", strlen(r.body));
    http_free(&r);

    snprintf(inm, sizeof inm, "If-None-Match: \"0000\", %s", etag);
    const char *h1[] = {inm, NULL};
    r = http_req_h(&s, "GET", "/app.js", NULL, NULL, h1);
    cr_assert_eq(r.status, 304, "%s", r.headers);
    cr_assert_str_eq(r.body, "");
    cr_assert_str_eq(header(&r, "ETag"), etag);
    http_free(&r);

    snprintf(inm, sizeof inm, "If-None-Match: W/%s", etag); /* weak comparison */
    const char *h2[] = {inm, NULL};
    r = http_req_h(&s, "GET", "/app.js", NULL, NULL, h2);
    cr_assert_eq(r.status, 304);
    http_free(&r);

    const char *h3[] = {"If-None-Match: \"a-different-tag\"", NULL};
    r = http_req_h(&s, "GET", "/app.js", NULL, NULL, h3);
    cr_assert_eq(r.status, 200, "another ETag: the file");
    http_free(&r);

    r = http_req(&s, "HEAD", "/app.js", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "");
    cr_assert_str_eq(header(&r, "Content-Length"), len, "HEAD says the length of what GET sends");
    cr_assert_str_eq(header(&r, "ETag"), etag);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(dashboard, a_file_not_in_the_bundle_is_404_and_other_methods_405) {
    server s = serve_start(NULL);
    const char *missing[] = {"/nothere.js", "/package.json", "/web/app.js", "/app.js/", "/APP.JS", "/.hidden"};
    for (size_t k = 0; k < sizeof missing / sizeof *missing; k++) {
        http_resp r = get(&s, missing[k]);
        cr_assert_eq(r.status, 404, "%s: %ld", missing[k], r.status);
        cr_assert_str_eq(header(&r, "Content-Type"), "application/json", "%s", missing[k]);
        http_free(&r);
    }
    const char *methods[] = {"POST", "PUT", "DELETE", "PATCH"};
    for (size_t k = 0; k < sizeof methods / sizeof *methods; k++) {
        http_resp r = http_req(&s, methods[k], "/", "{}", NULL);
        cr_assert_eq(r.status, 405, "%s /: %ld", methods[k], r.status);
        cr_assert_str_eq(header(&r, "Allow"), "GET, HEAD");
        cr_assert_str_eq(json_string_value(json_object_get(r.json, "code")), "WEIR_EMETHOD");
        http_free(&r);
    }
    cr_assert_eq(serve_stop(&s), 0);
}

Test(dashboard, the_files_need_no_key_while_the_api_does) {
    const char *args[] = {"--api-keys", "k-dash", NULL};
    server s = serve_start(args);
    http_resp r = get(&s, "/");
    cr_assert_eq(r.status, 200, "%ld", r.status);
    http_free(&r);
    r = get(&s, "/app.js");
    cr_assert_eq(r.status, 200);
    http_free(&r);
    r = get(&s, "/api/graphs");
    cr_assert_eq(r.status, 401, "the API still needs its key");
    http_free(&r);
    const char *key[] = {"Authorization: Bearer k-dash", NULL};
    r = http_req_h(&s, "GET", "/api/graphs", NULL, NULL, key);
    cr_assert_eq(r.status, 200);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(dashboard, host_and_origin_checks_hold_for_the_page) {
    server s = serve_start(NULL);
    const char *foreign_host[] = {"Host: rebound.example", NULL};
    http_resp r = http_req_h(&s, "GET", "/", NULL, NULL, foreign_host);
    cr_assert_eq(r.status, 421, "DNS rebinding: %ld", r.status);
    http_free(&r);
    const char *foreign_origin[] = {"Origin: http://evil.example", NULL};
    r = http_req_h(&s, "GET", "/app.js", NULL, NULL, foreign_origin);
    cr_assert_eq(r.status, 403, "%ld", r.status);
    http_free(&r);
    char own[96];
    snprintf(own, sizeof own, "Origin: http://127.0.0.1:%d", s.port);
    const char *same[] = {own, NULL};
    r = http_req_h(&s, "GET", "/app.js", NULL, NULL, same); /* a module script: the page's own origin */
    cr_assert_eq(r.status, 200, "%ld", r.status);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

/* ------------------------------------------------------ in a real browser */

/* Run tests/js/dashboard.cjs SCENARIO against s in headless `which`
 * (chromium or firefox); its screenshots go to <build>/tests/artifacts. */
static void browser_run(const server *s, const char *which, const char *scenario, const char *key) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "WEIR_BROWSER=%s PUPPETEER_SKIP_DOWNLOAD=1 NODE_PATH='%s/js/node_modules' node '" JS "dashboard.cjs' %d "
             "'%s/examples' %s '%s/tests/artifacts' %s",
             which, WEIR_BUILD_DIR, s->port, WEIR_SOURCE_DIR, scenario, WEIR_BUILD_DIR, key ? key : "");
    proc_result r = proc_run(cmd);
    cr_assert_eq(r.status, 0, "dashboard.cjs %s in %s failed (exit %d):\n%s\n%s\nserver log:\n%s", scenario, which,
                 r.status, r.out, r.err, serve_log(s));
    proc_free(&r);
}
static void browser(const server *s, const char *scenario, const char *key) {
    browser_run(s, "chromium", scenario, key);
}

/* Load /, see the graph drawn, execute, inject 21 and see 42 and the
 * counters move, explain it, pause and resume, drag the time slider of a
 * stored execution (the server has a data directory) to an earlier tick and
 * fork from there, step a virtual execution, register a component. */
Test(dashboard, the_page_in_chromium, .timeout = 240) {
    server s = serve_start(NULL);
    browser(&s, "page", NULL);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(dashboard, the_page_asks_for_the_key_in_chromium, .timeout = 240) {
    const char *args[] = {"--api-keys", "k-dash", NULL};
    server s = serve_start(args);
    browser(&s, "auth", "k-dash");
    cr_assert_eq(serve_stop(&s), 0);
}

/* Above 5,000 hops/s (where the page used to stop drawing hops) busy edges
 * show their rates, drawn, and a rate that falls is shown fallen. */
static const char *const in_memory[] = {"--memory", NULL}; /* injects not journaled: faster */

Test(dashboard, busy_edges_show_their_rates_in_chromium, .timeout = 240) {
    server s = serve_start(in_memory);
    browser(&s, "rates", NULL);
    cr_assert_eq(serve_stop(&s), 0);
}

/* A graph used twice as a subgraph (examples/compose): each use drawn as
 * one node counting its inner nodes' invocations, offered to the inject
 * form with its input port; it opens (click, Enter, Space) to its inner
 * nodes and their counters and goes back (Escape, the breadcrumb), live and
 * at a past tick. */
Test(dashboard, subgraphs_drawn_as_one_node_that_opens_in_chromium, .timeout = 240) {
    server s = serve_start(NULL);
    browser(&s, "compose", NULL);
    cr_assert_eq(serve_stop(&s), 0);
}

/* The same four in Firefox (Debian's firefox-esr over WebDriver BiDi). */
Test(dashboard, the_page_in_firefox, .timeout = 240) {
    server s = serve_start(NULL);
    browser_run(&s, "firefox", "page", NULL);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(dashboard, the_page_asks_for_the_key_in_firefox, .timeout = 240) {
    const char *args[] = {"--api-keys", "k-dash", NULL};
    server s = serve_start(args);
    browser_run(&s, "firefox", "auth", "k-dash");
    cr_assert_eq(serve_stop(&s), 0);
}

Test(dashboard, busy_edges_show_their_rates_in_firefox, .timeout = 240) {
    server s = serve_start(in_memory);
    browser_run(&s, "firefox", "rates", NULL);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(dashboard, subgraphs_drawn_as_one_node_that_opens_in_firefox, .timeout = 240) {
    server s = serve_start(NULL);
    browser_run(&s, "firefox", "compose", NULL);
    cr_assert_eq(serve_stop(&s), 0);
}
