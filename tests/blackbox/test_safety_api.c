/* weir serve, black-box over loopback, SPEC §10 for the API: 415 for bodies
 * a web page could send without a preflight, credentials for reads when
 * auth is configured (PUBLIC_READS, METRICS_AUTH, JWT aud / iss), secrets in
 * node config read back as "***", and the response contract (Location,
 * Retry-After, {"error", "code"}).  Requests whose headers matter are sent
 * as raw bytes, so nothing adds or rewrites a header behind the test. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "jwt.h"
#include "proc.h"
#include "serve.h"

/* ------------------------------------------------------------- raw HTTP */

typedef struct raw_resp {
    int status;
    char head[8192]; /* status line and headers */
    json_t *json;    /* the body parsed, or NULL */
    char *body;
} raw_resp;

/* Send `request` (bytes as given, Connection: close expected in it) and
 * read the whole answer. */
static raw_resp raw(const server *s, const char *request) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    size_t n = strlen(request);
    cr_assert_eq(write(fd, request, n), (ssize_t)n);
    size_t cap = 1 << 20, len = 0; /* the OpenAPI document is over 64 KiB */
    char *buf = malloc(cap + 1);
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        cr_assert_eq(poll(&p, 1, 10000), 1, "no answer within 10 s to: %s", request);
        ssize_t got = read(fd, buf + len, cap - len);
        if (got <= 0) break;
        len += (size_t)got;
        cr_assert(len < cap, "answer too long");
    }
    close(fd);
    buf[len] = '\0';
    raw_resp r = {0};
    cr_assert_eq(sscanf(buf, "HTTP/1.1 %d", &r.status), 1, "%s", buf);
    char *end = strstr(buf, "\r\n\r\n");
    cr_assert_not_null(end, "%s", buf);
    snprintf(r.head, sizeof r.head, "%.*s", (int)(end + 2 - buf), buf);
    r.body = strdup(end + 4);
    r.json = json_loads(r.body, JSON_DECODE_ANY, NULL);
    free(buf);
    return r;
}

static void raw_free(raw_resp *r) {
    json_decref(r->json);
    free(r->body);
}

/* A header's value in a response head, or NULL (a static buffer). */
static const char *header(const char *head, const char *name) {
    static char out[512];
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ') v++;
            snprintf(out, sizeof out, "%.*s", (int)strcspn(v, "\r"), v);
            return out;
        }
    }
    return NULL;
}

/* "POST path" with the given extra header lines ("" for none) and body. */
static raw_resp post(const server *s, const char *path, const char *headers, const char *body) {
    size_t n = strlen(path) + strlen(headers) + strlen(body) + 256;
    char *req = malloc(n);
    snprintf(req, n, "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%sContent-Length: %zu\r\n\r\n%s",
             path, s->port, headers, strlen(body), body);
    raw_resp r = raw(s, req);
    free(req);
    return r;
}

static raw_resp get(const server *s, const char *path, const char *headers) {
    char req[4096]; /* room for a bearer header (2 KiB) */
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s\r\n", path, s->port,
             headers);
    return raw(s, req);
}

static const char *jstr(const json_t *j, const char *key) { return json_string_value(json_object_get(j, key)); }

/* status, and for an error the code; the body is freed. */
static void expect(raw_resp r, int status, const char *code) {
    cr_assert_eq(r.status, status, "expected %d, got %d: %s%s", status, r.status, r.head, r.body);
    if (code) {
        cr_assert_not_null(jstr(r.json, "error"), "%s", r.body);
        cr_assert_str_eq(jstr(r.json, "code"), code, "%s", r.body);
    }
    raw_free(&r);
}

#define JSON_CT "Content-Type: application/json\r\n"
#define PASSTHROUGH                                                                                               \
    "{\"symbia\":\"1\",\"name\":\"pt\",\"metadata\":{\"role\":\"pipeline\"},"                                     \
    "\"nodes\":[{\"id\":\"a\",\"component\":\"symbia.core.passthrough\"}],\"edges\":[]}"
#define SQUARE_COMPONENT                                                                                          \
    "{\"id\": \"acme.safety.square\", \"name\": \"Square\", \"version\": \"1.0.0\","                               \
    " \"ports\": {\"inputs\": [{\"name\": \"in\"}], \"outputs\": [{\"name\": \"out\"}]},"                         \
    " \"execution\": {\"type\": \"javascript\", \"source\": "                                                     \
    "\"return { process: async (ctx, port, value) => ctx.emit('out', value * value) }\"}}"

/* POST PASSTHROUGH (creds: extra header lines) and return its id (static). */
static const char *load_graph(const server *s, const char *creds) {
    static char id[64];
    char h[512];
    snprintf(h, sizeof h, JSON_CT "%s", creds);
    raw_resp r = post(s, "/api/graphs", h, PASSTHROUGH);
    cr_assert_eq(r.status, 201, "%s", r.body);
    snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
    raw_free(&r);
    return id;
}

/* ------------------------------------------------------------------ 415 */

Test(safety_415, a_text_plain_or_form_post_from_a_page_never_acts) {
    server s = serve_start(NULL);
    /* what a page can send without a preflight: text/plain, a form, or no type at all */
    raw_resp r = post(&s, "/api/components", "Content-Type: text/plain\r\n", SQUARE_COMPONENT);
    cr_assert_eq(r.status, 415, "%s", r.body);
    cr_assert_str_eq(jstr(r.json, "code"), "WEIR_EMEDIATYPE");
    cr_assert(strstr(jstr(r.json, "error"), "POST /api/components takes Content-Type: application/json"), "%s",
              r.body);
    cr_assert(strstr(jstr(r.json, "error"), "not Content-Type text/plain"), "%s", r.body);
    raw_free(&r);
    expect(post(&s, "/api/components", "Content-Type: application/x-www-form-urlencoded\r\n", SQUARE_COMPONENT), 415,
           "WEIR_EMEDIATYPE");
    expect(post(&s, "/api/components", "Content-Type: multipart/form-data; boundary=x\r\n", SQUARE_COMPONENT), 415,
           "WEIR_EMEDIATYPE");
    r = post(&s, "/api/components", "", SQUARE_COMPONENT);
    cr_assert_eq(r.status, 415, "%s", r.body);
    cr_assert(strstr(jstr(r.json, "error"), "not a body without Content-Type"), "%s", r.body);
    raw_free(&r);
    /* nothing was registered */
    expect(get(&s, "/api/components/acme.safety.square", ""), 404, "WEIR_ENOTFOUND");
    expect(post(&s, "/api/graphs", "Content-Type: text/plain;charset=UTF-8\r\n", PASSTHROUGH), 415,
           "WEIR_EMEDIATYPE");
    raw_resp list = get(&s, "/api/graphs", "");
    cr_assert_eq(json_array_size(list.json), 0, "%s", list.body);
    raw_free(&list);

    /* JSON with or without a utf-8 charset, in any case */
    const char *id = load_graph(&s, "");
    expect(post(&s, "/api/graphs", "Content-Type: application/json; charset=utf-8\r\n", PASSTHROUGH), 201, NULL);
    expect(post(&s, "/api/graphs", "Content-Type: Application/JSON;Charset=\"UTF-8\"\r\n", PASSTHROUGH), 201, NULL);
    expect(post(&s, "/api/graphs", "Content-Type: application/json; charset=latin1\r\n", PASSTHROUGH), 415,
           "WEIR_EMEDIATYPE");
    expect(post(&s, "/api/graphs", "Content-Type: application/jsonx\r\n", PASSTHROUGH), 415, "WEIR_EMEDIATYPE");
    /* YAML for graphs only */
    const char *yaml = "symbia: '1'\nname: y\nnodes:\n  - {id: a, component: symbia.core.passthrough}\nedges: []\n";
    expect(post(&s, "/api/graphs", "Content-Type: application/yaml\r\n", yaml), 201, NULL);

    /* a request without a body needs no type; one with a body does, even where the body is ignored */
    char path[256];
    snprintf(path, sizeof path, "/api/graphs/%s/execute", id);
    r = post(&s, path, "", "");
    cr_assert_eq(r.status, 201, "%s", r.body);
    char x[64];
    snprintf(x, sizeof x, "%s", jstr(r.json, "executionId"));
    raw_free(&r);
    snprintf(path, sizeof path, "/api/executions/%s/inject", x);
    r = post(&s, path, "Content-Type: application/yaml\r\n", "{\"nodeId\":\"a\",\"value\":1}");
    cr_assert_eq(r.status, 415, "%s", r.body);
    cr_assert(strstr(jstr(r.json, "error"), "takes Content-Type: application/json (optionally ; charset=utf-8)"),
              "%s", r.body);
    raw_free(&r);
    expect(post(&s, path, "Content-Type: text/plain\r\n", "{\"nodeId\":\"a\",\"value\":1}"), 415, "WEIR_EMEDIATYPE");
    expect(post(&s, path, JSON_CT, "{\"nodeId\":\"a\",\"value\":1}"), 200, NULL);
    snprintf(path, sizeof path, "/api/executions/%s/stop", x);
    expect(post(&s, path, "Content-Type: text/plain\r\n", "{}"), 415, "WEIR_EMEDIATYPE");
    snprintf(path, sizeof path, "/api/executions/%s", x);
    r = get(&s, path, "");
    cr_assert_str_eq(jstr(r.json, "state"), "running", "a refused stop stopped nothing: %s", r.body);
    raw_free(&r);
    expect(post(&s, "/api/ingress/pt", "Content-Type: text/plain\r\n", "[1]"), 415, "WEIR_EMEDIATYPE");
    cr_assert_eq(serve_stop(&s), 0);
}

/* An empty body does not lift the check: a form or text/plain type with
 * no body is 415 and acts on nothing; no body and no type stays fine. */
Test(safety_415, a_form_post_without_a_body_never_acts) {
    server s = serve_start(NULL);
    const char *id = load_graph(&s, "");
    char path[256];
    snprintf(path, sizeof path, "/api/graphs/%s/execute", id);
    expect(post(&s, path, "Content-Type: application/x-www-form-urlencoded\r\n", ""), 415, "WEIR_EMEDIATYPE");
    expect(post(&s, path, "Content-Type: text/plain\r\n", ""), 415, "WEIR_EMEDIATYPE");
    expect(post(&s, path, "Content-Type: multipart/form-data; boundary=x\r\n", ""), 415, "WEIR_EMEDIATYPE");
    raw_resp r = get(&s, "/api/executions", "");
    cr_assert(json_is_array(r.json) && json_array_size(r.json) == 0, "a refused execute ran: %s", r.body);
    raw_free(&r);
    r = post(&s, path, JSON_CT, "");
    cr_assert_eq(r.status, 201, "%s", r.body);
    char x[64];
    snprintf(x, sizeof x, "%s", jstr(r.json, "executionId"));
    raw_free(&r);
    static const char *const acts[] = {"pause", "resume", "stop"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "/api/executions/%s/%s", x, acts[i]);
        expect(post(&s, path, "Content-Type: application/x-www-form-urlencoded\r\n", ""), 415, "WEIR_EMEDIATYPE");
        expect(post(&s, path, "Content-Type: text/plain\r\n", ""), 415, "WEIR_EMEDIATYPE");
    }
    snprintf(path, sizeof path, "/api/executions/%s", x);
    r = get(&s, path, "");
    cr_assert_str_eq(jstr(r.json, "state"), "running", "a refused pause or stop acted: %s", r.body);
    raw_free(&r);
    snprintf(path, sizeof path, "/api/executions/%s/stop", x);
    expect(post(&s, path, "", ""), 200, NULL);
    cr_assert_eq(serve_stop(&s), 0);
}

/* ----------------------------------------------------------------- auth */

#define SECRET "s3cret-for-the-safety-test-0123456789abcdef"

/* "Authorization: Bearer <HS256 JWT of payload>\r\n" (static). */
static const char *bearer(const char *payload) {
    static char out[2048];
    char *t = tj_jwt(payload, SECRET, NULL);
    snprintf(out, sizeof out, "Authorization: Bearer %s\r\n", t);
    free(t);
    return out;
}

Test(safety_auth, reads_need_credentials_health_stays_open_metrics_follows_metrics_auth) {
    const char *args[] = {"--api-keys", "k1", NULL};
    server s = serve_start(args);
    const char *key = "X-API-Key: k1\r\n";
    const char *id = load_graph(&s, key);
    char path[256];
    snprintf(path, sizeof path, "/api/graphs/%s", id);
    const char *reads[] = {"/api/graphs", path, "/api/executions", "/api/components", "/api/stats",
                           "/api/openapi.json", "/api/components/symbia.core.passthrough", "/api/nothing"};
    for (size_t i = 0; i < sizeof reads / sizeof *reads; i++) {
        raw_resp r = get(&s, reads[i], "");
        cr_assert_eq(r.status, 401, "GET %s: %d %s", reads[i], r.status, r.body);
        cr_assert_str_eq(jstr(r.json, "code"), "WEIR_EAUTH");
        cr_assert_str_eq(header(r.head, "WWW-Authenticate"), "Bearer");
        cr_assert_null(strstr(r.body, "\"id\""), "nothing of the resource is shown: %s", r.body);
        raw_free(&r);
        expect(get(&s, reads[i], "X-API-Key: nope\r\n"), 403, "WEIR_EFORBIDDEN");
        expect(get(&s, reads[i], key), strcmp(reads[i], "/api/nothing") == 0 ? 404 : 200, NULL);
    }
    /* HEAD is a read too */
    expect(raw(&s, "HEAD /api/graphs HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"), 401, NULL);
    expect(get(&s, "/health", ""), 200, NULL);
    expect(get(&s, "/health/live", ""), 200, NULL);
    expect(get(&s, "/health/ready", ""), 200, NULL);
    expect(get(&s, "/metrics", ""), 200, NULL);
    cr_assert_eq(serve_stop(&s), 0);

    const char *closed[] = {"--api-keys", "k1", "--metrics-auth", "true", NULL};
    s = serve_start(closed);
    expect(get(&s, "/metrics", ""), 401, "WEIR_EAUTH");
    expect(get(&s, "/metrics", key), 200, NULL);
    expect(get(&s, "/health", ""), 200, NULL);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(safety_auth, public_reads_opens_the_gets_only) {
    setenv("PUBLIC_READS", "true", 1); /* from the environment (this test runs in its own process) */
    const char *args[] = {"--api-keys", "k1", NULL};
    server s = serve_start(args);
    unsetenv("PUBLIC_READS");
    expect(get(&s, "/api/graphs", ""), 200, NULL);
    expect(get(&s, "/api/openapi.json", ""), 200, NULL);
    expect(post(&s, "/api/graphs", JSON_CT, PASSTHROUGH), 401, "WEIR_EAUTH");
    const char *id = load_graph(&s, "X-API-Key: k1\r\n");
    char path[256];
    snprintf(path, sizeof path, "/api/graphs/%s", id);
    expect(get(&s, path, ""), 200, NULL);
    expect(raw(&s, "DELETE /api/graphs/x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"), 401,
           "WEIR_EAUTH");
    cr_assert_eq(serve_stop(&s), 0);
}

Test(safety_auth, jwt_audience_and_issuer) {
    const char *args[] = {"--jwt-secret", SECRET, "--jwt-audience", "weir-test", "--jwt-issuer", "https://id.test/",
                          NULL};
    server s = serve_start(args);
    cr_assert(strstr(serve_log(&s), "(auth: JWT HS256 checking aud and iss;"), "%s", serve_log(&s));
    char p[256];
    long long exp = (long long)time(NULL) + 300;
    snprintf(p, sizeof p, "{\"aud\":\"weir-test\",\"iss\":\"https://id.test/\",\"exp\":%lld}", exp);
    expect(get(&s, "/api/graphs", bearer(p)), 200, NULL);
    snprintf(p, sizeof p, "{\"aud\":[\"a\",\"weir-test\"],\"iss\":\"https://id.test/\",\"exp\":%lld}", exp);
    expect(get(&s, "/api/graphs", bearer(p)), 200, NULL);
    snprintf(p, sizeof p, "{\"aud\":\"other\",\"iss\":\"https://id.test/\",\"exp\":%lld}", exp);
    raw_resp r = get(&s, "/api/graphs", bearer(p));
    cr_assert_eq(r.status, 403, "%s", r.body);
    cr_assert(strstr(jstr(r.json, "error"), "token aud other does not name this service (JWT_AUDIENCE)"), "%s",
              r.body);
    raw_free(&r);
    snprintf(p, sizeof p, "{\"aud\":\"weir-test\",\"exp\":%lld}", exp);
    r = get(&s, "/api/graphs", bearer(p));
    cr_assert_eq(r.status, 403, "%s", r.body);
    cr_assert(strstr(jstr(r.json, "error"), "token has no iss claim"), "%s", r.body);
    raw_free(&r);
    snprintf(p, sizeof p, "{\"aud\":\"weir-test\",\"iss\":\"https://evil.test/\",\"exp\":%lld}", exp);
    expect(post(&s, "/api/graphs", bearer(p), PASSTHROUGH), 403, "WEIR_EFORBIDDEN");
    cr_assert_eq(serve_stop(&s), 0);

    proc_result pr = proc_run("JWT_AUDIENCE=x API_KEYS=k " WEIR_BINARY " serve --port 0 --memory");
    cr_assert_eq(pr.status, 2, "%s", pr.err);
    cr_assert(strstr(pr.err, "JWT_AUDIENCE is set but no JWT is accepted"), "%s", pr.err);
    proc_free(&pr);
}

/* ------------------------------------------------------------ redaction */

/* A one-shot HTTP server on 127.0.0.1 that records the request it gets. */
typedef struct catcher {
    int fd, port;
    char request[8192];
    pthread_t thread;
} catcher;

static void *catch_one(void *ud) {
    catcher *c = ud;
    struct pollfd p = {c->fd, POLLIN, 0};
    if (poll(&p, 1, 20000) != 1) return NULL;
    int conn = accept(c->fd, NULL, NULL);
    if (conn < 0) return NULL;
    size_t len = 0;
    while (len < sizeof c->request - 1 && !strstr(c->request, "\r\n\r\n")) {
        struct pollfd q = {conn, POLLIN, 0};
        if (poll(&q, 1, 10000) != 1) break;
        ssize_t got = read(conn, c->request + len, sizeof c->request - 1 - len);
        if (got <= 0) break;
        len += (size_t)got;
        c->request[len] = '\0';
    }
    const char *answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                         "Connection: close\r\n\r\n{}";
    ssize_t w = write(conn, answer, strlen(answer));
    (void)w;
    close(conn);
    return NULL;
}

static void catcher_start(catcher *c) {
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(c->fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    getsockname(c->fd, (struct sockaddr *)&a, &l);
    c->port = ntohs(a.sin_port);
    cr_assert_eq(listen(c->fd, 4), 0);
}

/* Serve the next request (on the same port). */
static void catcher_arm(catcher *c) {
    c->request[0] = '\0';
    cr_assert_eq(pthread_create(&c->thread, NULL, catch_one, c), 0);
}

static void catcher_join(catcher *c) { pthread_join(c->thread, NULL); }

/* Start an execution of graph id, inject into h, and return the request
 * the http-request node sent (into c). */
static void call_through(server *s, const char *id, catcher *c) {
    char path[256];
    snprintf(path, sizeof path, "/api/graphs/%s/execute", id);
    raw_resp r = post(s, path, JSON_CT, "{\"completion\":\"never\"}");
    cr_assert_eq(r.status, 201, "%s", r.body);
    snprintf(path, sizeof path, "/api/executions/%s/inject", jstr(r.json, "executionId"));
    raw_free(&r);
    r = post(s, path, JSON_CT, "{\"nodeId\":\"h\",\"value\":{}}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    raw_free(&r);
    catcher_join(c);
}

Test(safety_redact, secrets_in_node_config_read_as_stars_and_still_reach_the_wire) {
    catcher c;
    catcher_start(&c);
    catcher_arm(&c);
    char graph[2048];
    snprintf(graph, sizeof graph,
             "{\"symbia\":\"1\",\"name\":\"calls\",\"metadata\":{\"role\":\"pipeline\"},\"nodes\":[{\"id\":\"h\","
             "\"component\":\"symbia.io.http-request\",\"config\":{\"url\":\"http://127.0.0.1:%d/hook\","
             "\"method\":\"GET\",\"headers\":{\"Authorization\":\"Bearer s3cr3t-bearer\",\"X-Api-Key\":"
             "\"k-s3cr3t\",\"Cookie\":\"sid=s3cr3t-cookie\",\"Accept\":\"application/json\"}}}],\"edges\":[]}",
             c.port);
    char dir[128];
    proc_tempdir(dir, sizeof dir, "safety-redact");
    const char *args[] = {"--egress-allow-private", "true", "--data-dir", dir, NULL};
    server s = serve_start(args);
    raw_resp r = post(&s, "/api/graphs", JSON_CT, graph);
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_assert_null(strstr(r.body, "s3cr3t"), "%s", r.body);
    char id[64], path[256];
    snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
    raw_free(&r);
    /* every read of the graph */
    snprintf(path, sizeof path, "/api/graphs/%s", id);
    const char *reads[] = {path, "/api/graphs"};
    for (size_t i = 0; i < 2; i++) {
        r = get(&s, reads[i], "");
        cr_assert_eq(r.status, 200, "%s", r.body);
        cr_assert_null(strstr(r.body, "s3cr3t"), "GET %s shows a secret: %s", reads[i], r.body);
        raw_free(&r);
    }
    r = get(&s, path, "");
    json_t *h = json_object_get(
        json_object_get(json_array_get(json_object_get(json_object_get(r.json, "definition"), "nodes"), 0), "config"),
        "headers");
    cr_assert_str_eq(jstr(h, "Authorization"), "***", "%s", r.body);
    cr_assert_str_eq(jstr(h, "X-Api-Key"), "***");
    cr_assert_str_eq(jstr(h, "Cookie"), "***");
    cr_assert_str_eq(jstr(h, "Accept"), "application/json");
    raw_free(&r);
    /* the running execution sends the real values */
    call_through(&s, id, &c);
    cr_assert(strstr(c.request, "Authorization: Bearer s3cr3t-bearer\r\n"), "%s", c.request);
    cr_assert(strstr(c.request, "X-Api-Key: k-s3cr3t\r\n"), "%s", c.request);
    r = get(&s, "/api/executions", "");
    cr_assert_null(strstr(r.body, "s3cr3t"), "%s", r.body);
    raw_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
    cr_assert_null(strstr(serve_log(&s), "s3cr3t"), "a secret was logged: %s", serve_log(&s));

    /* the stored graph keeps the real values: after a restart it still sends them */
    catcher_arm(&c);
    s = serve_start(args);
    call_through(&s, id, &c);
    cr_assert(strstr(c.request, "Authorization: Bearer s3cr3t-bearer\r\n"), "%s", c.request);
    r = get(&s, path, "");
    cr_assert_null(strstr(r.body, "s3cr3t"), "%s", r.body);
    raw_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
    close(c.fd);
    serve_rmdir(dir);
}

/* ------------------------------------------------------------ responses */

Test(safety_responses, created_carries_location_limits_carry_retry_after_errors_carry_codes) {
    const char *args[] = {"--max-concurrent-executions", "1", "--max-body-bytes", "4096", NULL};
    server s = serve_start(args);
    raw_resp r = post(&s, "/api/graphs", JSON_CT, PASSTHROUGH);
    cr_assert_eq(r.status, 201, "%s", r.body);
    char loc[200], path[256];
    snprintf(loc, sizeof loc, "/api/graphs/%s", jstr(r.json, "id"));
    cr_assert_str_eq(header(r.head, "Location"), loc, "%s", r.head);
    raw_free(&r);
    expect(get(&s, loc, ""), 200, NULL); /* Location names the graph */

    snprintf(path, sizeof path, "%s/execute", loc);
    r = post(&s, path, "", "");
    cr_assert_eq(r.status, 201, "%s", r.body);
    snprintf(loc, sizeof loc, "/api/executions/%s", jstr(r.json, "executionId"));
    cr_assert_str_eq(header(r.head, "Location"), loc, "%s", r.head);
    raw_free(&r);
    expect(get(&s, loc, ""), 200, NULL);

    /* MAX_CONCURRENT_EXECUTIONS 1: the second is 429 with Retry-After */
    r = post(&s, path, "", "");
    cr_assert_eq(r.status, 429, "%s", r.body);
    cr_assert_str_eq(header(r.head, "Retry-After"), "1", "%s", r.head);
    cr_assert_str_eq(jstr(r.json, "code"), "WEIR_ELIMIT", "%s", r.body);
    raw_free(&r);

    r = post(&s, "/api/components", JSON_CT, SQUARE_COMPONENT);
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_assert_str_eq(header(r.head, "Location"), "/api/components/acme.safety.square", "%s", r.head);
    raw_free(&r);
    expect(get(&s, "/api/components/acme.safety.square", ""), 200, NULL);

    /* every error has {error, code} */
    expect(get(&s, "/api/graphs/nope", ""), 404, "WEIR_ENOTFOUND");
    expect(get(&s, "/api/nothing", ""), 404, "WEIR_ENOTFOUND");
    expect(post(&s, "/api/graphs", JSON_CT, "{\"symbia\":\"1\",\"name\":\"b\",\"nodes\":[{\"id\":\"a\","
                                            "\"component\":\"no.such\"}],\"edges\":[]}"),
           400, "WEIR_EGRAPH");
    expect(post(&s, "/api/graphs", JSON_CT, "{not json"), 400, "WEIR_EINVAL");
    r = raw(&s, "PUT /api/graphs HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    cr_assert_eq(r.status, 405, "%s", r.body);
    cr_assert_str_eq(jstr(r.json, "code"), "WEIR_EMETHOD");
    cr_assert_str_eq(header(r.head, "Allow"), "POST, GET");
    raw_free(&r);
    expect(post(&s, "/api/components", JSON_CT, SQUARE_COMPONENT), 409, "WEIR_EEXISTS");
    snprintf(path, sizeof path, "%s/stop", loc);
    expect(post(&s, path, "", ""), 200, NULL);
    expect(post(&s, path, "", ""), 409, "WEIR_ESTATE");
    char big[6000];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    expect(post(&s, "/api/graphs", JSON_CT, big), 413, "WEIR_ETOOLARGE");
    cr_assert_eq(serve_stop(&s), 0);
}
