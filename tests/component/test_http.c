/*
 * The HTTP server through its interface: a server on 127.0.0.1 port 0 in the
 * test's own loop, driven by raw client sockets on the same thread.  Client
 * sockets are non-blocking; every wait steps the loop until a condition holds
 * (bounded by BOUND_MS), never sleeps on a guess.  The test handler echoes
 * the request as JSON, answers /later?ms=N on a timer (out-of-order answers
 * under pipelining), keeps /hold and /health/hold requests for the test to answer.  Every test
 * ends with finish(): destroy, drain the loop, uv_loop_close() == 0 and no
 * weir allocation left.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>

#include "failalloc.h"
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "net/http.h"
#include "weir/weir.h"

#include "rawnet.h"


/* ------------------------------------------------------------ loop, server */

static uv_loop_t loop;
static weir_http_server *srv;
static int port;

static uint64_t now_ms(void) { return rn_now_ms(); }

static void step(void) { rn_step(&loop); }

#define WAIT_UNTIL(cond) RN_WAIT_UNTIL(&loop, cond)

/* ----------------------------------------------------------------- handler */

static int handler_calls;
#define MAX_HELD 80
static weir_http_req *held[MAX_HELD];
static int nheld;

static json_t *echo_of(const weir_http_req *r) {
    json_t *headers = json_object();
    for (size_t i = 0; i < r->n_headers; i++)
        json_object_set_new(headers, r->header_names[i], json_string(r->header_values[i]));
    json_t *body = json_stringn(r->body, r->body_len);
    return json_pack("{s:s, s:s, s:s, s:o, s:I, s:I, s:b, s:o}", "method", r->method, "path", r->path, "query",
                     r->query, "body", body ? body : json_null(), "bodyLen", (json_int_t)r->body_len, "id",
                     (json_int_t)r->id, "keepAlive", r->keep_alive, "headers", headers);
}

static void echo(weir_http_req *r) { weir_http_respond_json(r, 200, echo_of(r)); }

typedef struct later {
    uv_timer_t t;
    weir_http_req *req;
    struct later *prev, *next;
} later;
static later *laters; /* timers not yet fired */

static void later_closed(uv_handle_t *h) { free(h->data); }
static void later_done(later *l) {
    if (l->prev)
        l->prev->next = l->next;
    else
        laters = l->next;
    if (l->next) l->next->prev = l->prev;
    uv_close((uv_handle_t *)&l->t, later_closed);
}
static void later_fire(uv_timer_t *t) {
    later *l = t->data;
    echo(l->req);
    later_done(l);
}

/* Byte k of the /pattern body for seed. */
static char pattern_byte(size_t k, unsigned seed) { return (char)('a' + (k * 7 + seed * 13 + k / 4099) % 26); }

/* Set while the test answers a request itself: a request must never be
 * handed to the handler from inside an answer (its caller may be a core
 * callback that must not be re-entered). */
static bool answering;
static int handled_inside_an_answer;

static void handler(void *ud, weir_http_req *r) {
    (void)ud;
    handler_calls++;
    if (answering) handled_inside_an_answer++;
    if (strcmp(r->path, "/later") == 0) {
        later *l = calloc(1, sizeof *l);
        l->req = r;
        l->next = laters;
        if (laters) laters->prev = l;
        laters = l;
        uv_timer_init(&loop, &l->t);
        l->t.data = l;
        uv_timer_start(&l->t, later_fire, (uint64_t)strtoull(r->query + 3, NULL, 10), 0); /* ms=N */
    } else if (strcmp(r->path, "/hold") == 0 || strcmp(r->path, "/health/hold") == 0) {
        cr_assert(nheld < MAX_HELD);
        held[nheld++] = r;
    } else if (strcmp(r->path, "/text") == 0) {
        const char *extra[] = {"X-Test", "yes", "X-Bad", "a\r\nInjected: 1", "Content-Length", "99", NULL};
        weir_http_respond(r, 201, "text/plain", "hello", 5, extra);
    } else if (strcmp(r->path, "/null") == 0) {
        weir_http_respond_json(r, 200, NULL);
    } else if (strcmp(r->path, "/error") == 0) {
        weir_http_respond_error(r, 404, "no graph %s", r->query);
    } else if (strcmp(r->path, "/status") == 0) { /* ?N: an error with status N */
        weir_http_respond_error(r, atoi(r->query), "status %s", r->query);
    } else if (strcmp(r->path, "/own-retry") == 0) { /* a 503 that says its own Retry-After */
        const char *extra[] = {"Retry-After", "30", NULL};
        weir_http_respond(r, 503, "application/json", "{}", 2, extra);
    } else if (strcmp(r->path, "/big") == 0) {
        enum { BIG = 1 << 20 };
        char *big = malloc(BIG);
        memset(big, 'b', BIG);
        weir_http_respond(r, 200, "text/plain", big, BIG, NULL);
        free(big);
    } else if (strcmp(r->path, "/pattern") == 0) { /* ?BYTES,SEED: a body only that pair makes */
        size_t n = 0;
        unsigned seed = 0;
        sscanf(r->query, "%zu,%u", &n, &seed);
        char *body = malloc(n ? n : 1);
        for (size_t k = 0; k < n; k++) body[k] = pattern_byte(k, seed);
        weir_http_respond(r, 200, "application/octet-stream", body, n, NULL);
        free(body);
    } else if (strcmp(r->path, "/sum") == 0) { /* the body's length and byte sum */
        unsigned long sum = 0;
        for (size_t k = 0; k < r->body_len; k++) sum += (unsigned char)r->body[k];
        json_t *o = json_pack("{s:I, s:I}", "bodyLen", (json_int_t)r->body_len, "sum", (json_int_t)sum);
        weir_http_respond_json(r, 200, o);
    } else if (strcmp(r->path, "/empty") == 0) {
        weir_http_respond(r, 204, NULL, NULL, 0, NULL);
    } else {
        echo(r);
    }
}

/* --------------------------------------------------------- setup / finish */

static void setup(void) {
    fa_install(0, 0); /* counting only: every weir allocation must be freed */
    handler_calls = 0;
    nheld = 0;
    laters = NULL;
    cr_assert_eq(uv_loop_init(&loop), 0);
}

static void start(const weir_http_options *opts) {
    weir_http_options def = {.host = "127.0.0.1"};
    weir_error err = {0};
    cr_assert_eq(weir_http_server_start(&loop, opts ? opts : &def, handler, NULL, &srv, &err), 0, "%s",
                 err.message);
    port = weir_http_server_port(srv);
    cr_assert_gt(port, 0);
}

/* Destroy (which frees the requests still unanswered: the handler forgets
 * them), run the loop dry. */
static void finish(void) {
    weir_http_server_destroy(srv);
    srv = NULL;
    nheld = 0;
    while (laters) later_done(laters);
    rn_finish_loop(&loop);
}

TestSuite(http, .init = setup, .timeout = 60);

/* ----------------------------------------------------------------- client */

typedef rn_client client;

static client *cli_open_rcvbuf(int rcvbuf) { return rn_open(port, rcvbuf); }
static client *cli_open(void) { return cli_open_rcvbuf(0); }

static void cli_close(client *c) { rn_close(c); }

static void cli_sendn(client *c, const void *data, size_t len) { rn_sendn(c, &loop, data, len); }
static void cli_send(client *c, const char *s) { cli_sendn(c, s, strlen(s)); }

static bool cli_pump(client *c) { return rn_pump(c); }

typedef struct response {
    int status;
    char head[8192];
    char body[1 << 16];
    size_t body_len;
    json_t *json;
} response;

static const char *hdr(const response *r, const char *name) { return rn_header(r->head, name); }

static int hdr_count(const response *r, const char *name) {
    int k = 0;
    size_t n = strlen(name);
    for (const char *line = strstr(r->head, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n"))
        if (strncasecmp(line + 2, name, n) == 0 && line[2 + n] == ':') k++;
    return k;
}

/* Take one whole response from the buffer if there is one. */
static bool take_response(client *c, response *out, bool head_only) {
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!end) return false;
    size_t head_len = (size_t)(end - c->buf) + 4;
    cr_assert_lt(head_len, sizeof out->head);
    memcpy(out->head, c->buf, head_len - 2);
    out->head[head_len - 2] = '\0';
    cr_assert(sscanf(out->head, "HTTP/1.1 %d", &out->status) == 1, "bad status line: %s", out->head);
    const char *cl = hdr(out, "Content-Length");
    size_t body = cl && !head_only ? strtoul(cl, NULL, 10) : 0;
    if (c->len < head_len + body) return false;
    cr_assert_lt(body, sizeof out->body);
    memcpy(out->body, c->buf + head_len, body);
    out->body[body] = '\0';
    out->body_len = body;
    memmove(c->buf, c->buf + head_len + body, c->len - head_len - body);
    c->len -= head_len + body;
    out->json = json_loadb(out->body, body, JSON_DECODE_ANY, NULL);
    return true;
}

static response *read_response(client *c, bool head_only) {
    response *r = calloc(1, sizeof *r);
    uint64_t t0 = now_ms();
    while (!take_response(c, r, head_only)) {
        cr_assert(!c->eof, "connection closed before a whole response (%zu bytes: %.*s)", c->len, (int)c->len,
                  c->buf);
        cr_assert(now_ms() - t0 < BOUND_MS, "no response within the bound");
        if (!cli_pump(c)) step();
    }
    return r;
}
static response *cli_read(client *c) { return read_response(c, false); }

static void resp_free(response *r) {
    json_decref(r->json);
    free(r);
}

static const char *jstr(const response *r, const char *key) {
    return json_string_value(json_object_get(r->json, key));
}
static const char *jhdr(const response *r, const char *name) {
    return json_string_value(json_object_get(json_object_get(r->json, "headers"), name));
}

/* The server closes the connection (nothing else arrives first). */
static void cli_expect_closed(client *c) {
    uint64_t t0 = now_ms();
    while (!c->eof) {
        cr_assert(now_ms() - t0 < BOUND_MS, "the server kept the connection open");
        if (!cli_pump(c)) step();
    }
    cr_assert_eq(c->len, 0, "unexpected bytes before close: %.*s", (int)c->len, c->buf);
}

/* Nothing arrives and the connection stays open while the loop steps for ms. */
static void cli_expect_quiet(client *c, uint64_t ms) {
    uint64_t t0 = now_ms();
    while (now_ms() - t0 < ms) {
        cli_pump(c);
        step();
    }
    cr_assert(!c->eof && c->len == 0, "unexpected: %s %.*s", c->eof ? "closed" : "data", (int)c->len, c->buf);
}

static response *roundtrip(client *c, const char *request) {
    cli_send(c, request);
    return cli_read(c);
}

static void expect_error(const response *r, int status, const char *prefix) {
    cr_assert_eq(r->status, status, "%s", r->head);
    cr_assert_str_eq(hdr(r, "Content-Type"), "application/json");
    cr_assert_eq(hdr(r, "Connection") != NULL, 1);
    const char *msg = jstr(r, "error");
    cr_assert(msg, "no error message in %s", r->body);
    cr_assert(strncmp(msg, prefix, strlen(prefix)) == 0, "error message \"%s\" does not start with \"%s\"", msg,
              prefix);
    const char *code = jstr(r, "code"); /* every error body has one (SPEC §6) */
    cr_assert(code && strncmp(code, "WEIR_E", 6) == 0, "no WEIR_E... code in %s", r->body);
}

/* ------------------------------------------------------------------- tests */

Test(http, get_echoes_with_date_length_cors_and_keep_alive) {
    start(NULL);
    client *c = cli_open();
    response *r = roundtrip(c, "GET /hello/world?x=1&y=%20 HTTP/1.1\r\nHost: localhost\r\nX-Foo: Bar  \r\n\r\n");
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(jstr(r, "method"), "GET");
    cr_assert_str_eq(jstr(r, "path"), "/hello/world");
    cr_assert_str_eq(jstr(r, "query"), "x=1&y=%20");
    cr_assert_str_eq(jstr(r, "body"), "");
    cr_assert_str_eq(jhdr(r, "x-foo"), "Bar");
    cr_assert_str_eq(jhdr(r, "host"), "localhost");
    cr_assert(json_is_true(json_object_get(r->json, "keepAlive")));
    cr_assert_str_eq(hdr(r, "Content-Type"), "application/json");
    cr_assert_str_eq(hdr(r, "Connection"), "keep-alive");
    cr_assert_null(hdr(r, "Access-Control-Allow-Origin")); /* no Origin: none */
    cr_assert_str_eq(hdr(r, "Vary"), "Origin");
    char len[32];
    snprintf(len, sizeof len, "%zu", r->body_len);
    cr_assert_str_eq(hdr(r, "Content-Length"), len);
    /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT", within a few seconds of now */
    const char *date = hdr(r, "Date");
    cr_assert(date);
    cr_assert_eq(strlen(date), 29, "%s", date);
    struct tm tm = {0};
    char *end = strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cr_assert(end && !*end, "%s", date);
    long skew = (long)(timegm(&tm) - time(NULL));
    cr_assert(skew > -5 && skew < 5, "%s", date);
    cr_assert_eq(weir_http_server_connections(srv), 1);
    cr_assert_eq(weir_http_server_in_flight(srv), 0);
    resp_free(r);
    cli_close(c);
    finish();
}

Test(http, post_with_content_length) {
    start(NULL);
    client *c = cli_open();
    cli_send(c, "POST /p HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello");
    cli_expect_quiet(c, 30); /* the body is not complete */
    cli_send(c, " world");
    response *r = cli_read(c);
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(jstr(r, "method"), "POST");
    cr_assert_str_eq(jstr(r, "body"), "hello world");
    cr_assert_eq(json_integer_value(json_object_get(r->json, "bodyLen")), 11);
    resp_free(r);
    cli_close(c);
    finish();
}

Test(http, chunked_post_arriving_in_pieces) {
    start(NULL);
    client *c = cli_open();
    const char *pieces[] = {"POST /c HTTP/1.1\r\nHost: localhost\r\nTransfer-", "Encoding: chunked\r\n\r\n5\r\nhel",
                            "lo\r\n6;ext=1\r\n world\r\n", "0\r\nX-Trailer: 1\r\n", "\r\n"};
    for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) {
        cli_send(c, pieces[i]);
        for (int k = 0; k < 3; k++) step();
    }
    response *r = cli_read(c);
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(jstr(r, "body"), "hello world");
    resp_free(r);
    /* the connection goes on */
    r = roundtrip(c, "GET /after HTTP/1.1\r\nHost: localhost\r\n\r\n");
    cr_assert_str_eq(jstr(r, "path"), "/after");
    resp_free(r);
    cli_close(c);
    finish();
}

Test(http, keep_alive_reuses_the_connection) {
    start(NULL);
    client *c = cli_open();
    json_int_t last = 0;
    for (int i = 0; i < 5; i++) {
        response *r = roundtrip(c, "GET /k HTTP/1.1\r\nHost: localhost\r\n\r\n");
        cr_assert_eq(r->status, 200);
        cr_assert_str_eq(hdr(r, "Connection"), "keep-alive");
        json_int_t id = json_integer_value(json_object_get(r->json, "id"));
        cr_assert_gt(id, last);
        last = id;
        cr_assert_eq(weir_http_server_connections(srv), 1);
        resp_free(r);
    }
    cli_close(c);
    finish();
}

Test(http, pipelined_responses_keep_request_order) {
    start(NULL);
    client *c = cli_open();
    /* the first is answered last, the second at once, the third soon */
    cli_send(c, "GET /later?ms=150 HTTP/1.1\r\nHost: localhost\r\n\r\n"
                "GET /now HTTP/1.1\r\nHost: localhost\r\n\r\n"
                "POST /later?ms=10 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc");
    WAIT_UNTIL(handler_calls == 3);
    cr_assert_eq(weir_http_server_in_flight(srv), 2); /* /now is answered, held back */
    response *r1 = cli_read(c);
    response *r2 = cli_read(c);
    response *r3 = cli_read(c);
    cr_assert_str_eq(jstr(r1, "path"), "/later");
    cr_assert_str_eq(jstr(r1, "query"), "ms=150");
    cr_assert_str_eq(jstr(r2, "path"), "/now");
    cr_assert_str_eq(jstr(r3, "query"), "ms=10");
    cr_assert_str_eq(jstr(r3, "body"), "abc");
    cr_assert_eq(weir_http_server_in_flight(srv), 0);
    resp_free(r1);
    resp_free(r2);
    resp_free(r3);
    cli_close(c);
    finish();
}

Test(http, deep_pipeline_is_answered_in_order) {
    start(NULL);
    client *c = cli_open();
    enum { N = 100 };
    static char reqs[N * 64];
    size_t n = 0;
    for (int i = 0; i < N; i++)
        n += (size_t)snprintf(reqs + n, sizeof reqs - n,
                              i % 7 == 0 ? "GET /later?ms=%d HTTP/1.1\r\n\r\n" : "GET /p%d HTTP/1.1\r\n\r\n",
                              i % 7 == 0 ? 5 : i);
    cli_sendn(c, reqs, n);
    for (int i = 0; i < N; i++) {
        response *r = cli_read(c);
        char want[32];
        snprintf(want, sizeof want, "/p%d", i);
        cr_assert_str_eq(jstr(r, "path"), i % 7 == 0 ? "/later" : want, "response %d", i);
        resp_free(r);
    }
    cli_close(c);
    finish();
}

Test(http, head_has_length_but_no_body) {
    start(NULL);
    client *c = cli_open();
    cli_send(c, "HEAD /h HTTP/1.1\r\nHost: localhost\r\n\r\nGET /g HTTP/1.1\r\nHost: localhost\r\n\r\n");
    response *h = read_response(c, true);
    cr_assert_eq(h->status, 200);
    cr_assert_gt(strtoul(hdr(h, "Content-Length"), NULL, 10), 0);
    response *g = cli_read(c);
    cr_assert_eq(g->status, 200, "the HEAD response carried a body: %s", g->head);
    cr_assert_str_eq(jstr(g, "path"), "/g");
    resp_free(h);
    resp_free(g);
    cli_close(c);
    finish();
}

Test(http, options_preflight_is_answered_without_the_handler) {
    weir_http_options o = {.cors_origins = "http://ui"};
    start(&o);
    client *c = cli_open();
    response *r = roundtrip(c, "OPTIONS /api/graphs HTTP/1.1\r\nHost: localhost\r\nOrigin: http://ui\r\n"
                               "Access-Control-Request-Method: POST\r\n"
                               "Access-Control-Request-Headers: x-custom, content-type\r\n\r\n");
    cr_assert_eq(r->status, 204);
    cr_assert_str_eq(hdr(r, "Access-Control-Allow-Origin"), "http://ui");
    cr_assert_str_eq(hdr(r, "Vary"), "Origin");
    cr_assert_str_eq(hdr(r, "Access-Control-Allow-Methods"), "GET, POST, PUT, PATCH, DELETE, OPTIONS");
    cr_assert_str_eq(hdr(r, "Access-Control-Allow-Headers"), "x-custom, content-type");
    cr_assert_str_eq(hdr(r, "Access-Control-Max-Age"), "600");
    cr_assert(hdr(r, "Date"));
    cr_assert_eq(r->body_len, 0);
    resp_free(r);
    r = roundtrip(c, "OPTIONS /x HTTP/1.1\r\nHost: localhost\r\nAccess-Control-Request-Method: GET\r\n\r\n");
    cr_assert_eq(r->status, 204);
    cr_assert_str_eq(hdr(r, "Access-Control-Allow-Headers"), "content-type, authorization, x-api-key");
    resp_free(r);
    cr_assert_eq(handler_calls, 0);
    cr_assert_eq(weir_http_server_in_flight(srv), 0);
    cli_close(c);
    finish();
}

Test(http, cors_origins_option_and_handler_headers) {
    weir_http_options o = {.cors_origins = "https://other.example, https://app.example:443/"};
    start(&o);
    client *c = cli_open();
    response *r = roundtrip(c, "GET /text HTTP/1.1\r\nHost: localhost\r\nOrigin: https://app.example\r\n\r\n");
    cr_assert_eq(r->status, 201);
    cr_assert(strncmp(r->head, "HTTP/1.1 201 Created\r\n", 22) == 0, "%s", r->head);
    cr_assert_str_eq(hdr(r, "Access-Control-Allow-Origin"), "https://app.example");
    cr_assert_str_eq(hdr(r, "Content-Type"), "text/plain");
    cr_assert_str_eq(hdr(r, "X-Test"), "yes");
    cr_assert_null(hdr(r, "X-Bad")); /* CR/LF in a value: dropped */
    cr_assert_null(hdr(r, "Injected"));
    cr_assert_eq(hdr_count(r, "Content-Length"), 1);
    cr_assert_str_eq(hdr(r, "Content-Length"), "5");
    cr_assert_str_eq(r->body, "hello");
    resp_free(r);
    cli_close(c);
    finish();
}

Test(http, error_json_null_json_and_no_content) {
    start(NULL);
    client *c = cli_open();
    response *r = roundtrip(c, "GET /error?g1 HTTP/1.1\r\nHost: localhost\r\n\r\n");
    expect_error(r, 404, "no graph g1");
    cr_assert_str_eq(hdr(r, "Connection"), "keep-alive");
    resp_free(r);
    r = roundtrip(c, "GET /null HTTP/1.1\r\nHost: localhost\r\n\r\n");
    expect_error(r, 500, "internal error");
    resp_free(r);
    r = roundtrip(c, "GET /empty HTTP/1.1\r\nHost: localhost\r\n\r\n");
    cr_assert_eq(r->status, 204);
    cr_assert_null(hdr(r, "Content-Length")); /* RFC 9110: never on 204 */
    cr_assert(hdr(r, "Date"));
    resp_free(r);
    r = roundtrip(c, "GET /still-open HTTP/1.1\r\nHost: localhost\r\n\r\n");
    cr_assert_eq(r->status, 200);
    resp_free(r);
    cli_close(c);
    finish();
}

/* SPEC §10: every error body carries a stable code; 429 and 503 carry
 * Retry-After unless the handler set its own. */
Test(http, error_bodies_carry_a_code_and_429_503_retry_after) {
    start(NULL);
    client *c = cli_open();
    static const struct {
        int status;
        const char *code, *retry;
    } cases[] = {{400, "WEIR_EINVAL", NULL},       {401, "WEIR_EAUTH", NULL},        {403, "WEIR_EFORBIDDEN", NULL},
                 {404, "WEIR_ENOTFOUND", NULL},    {405, "WEIR_EMETHOD", NULL},      {409, "WEIR_ESTATE", NULL},
                 {413, "WEIR_ETOOLARGE", NULL},    {415, "WEIR_EMEDIATYPE", NULL},   {421, "WEIR_EHOST", NULL},
                 {429, "WEIR_ELIMIT", "1"},        {503, "WEIR_EUNAVAILABLE", "5"}, {500, "WEIR_EINTERNAL", NULL},
                 {418, "WEIR_EINVAL", NULL}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char req[128];
        snprintf(req, sizeof req, "GET /status?%d HTTP/1.1\r\nHost: localhost\r\n\r\n", cases[i].status);
        response *r = roundtrip(c, req);
        char msg[32];
        snprintf(msg, sizeof msg, "status %d", cases[i].status);
        expect_error(r, cases[i].status, msg);
        cr_assert_str_eq(jstr(r, "code"), cases[i].code, "%d: %s", cases[i].status, r->body);
        if (cases[i].retry) cr_assert_str_eq(hdr(r, "Retry-After"), cases[i].retry, "%s", r->head);
        else cr_assert_null(hdr(r, "Retry-After"), "%s", r->head);
        resp_free(r);
    }
    response *r = roundtrip(c, "GET /own-retry HTTP/1.1\r\nHost: localhost\r\n\r\n");
    cr_assert_eq(r->status, 503);
    cr_assert_str_eq(hdr(r, "Retry-After"), "30", "%s", r->head);
    cr_assert_null(strstr(strstr(r->head, "Retry-After") + 1, "Retry-After"), "one Retry-After only: %s", r->head);
    resp_free(r);
    cli_close(c);
    finish();
}

Test(http, http10_closes_unless_keep_alive) {
    start(NULL);
    client *c = cli_open();
    response *r = roundtrip(c, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    cr_assert_str_eq(hdr(r, "Connection"), "keep-alive");
    cr_assert(json_is_true(json_object_get(r->json, "keepAlive")));
    resp_free(r);
    r = roundtrip(c, "GET /b HTTP/1.0\r\n\r\n");
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(hdr(r, "Connection"), "close");
    cr_assert(json_is_false(json_object_get(r->json, "keepAlive")));
    resp_free(r);
    cli_expect_closed(c);
    cli_close(c);
    /* HTTP/1.1 with Connection: close likewise */
    c = cli_open();
    r = roundtrip(c, "GET /c HTTP/1.1\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\n\r\n");
    cr_assert_str_eq(hdr(r, "Connection"), "close");
    resp_free(r);
    cli_expect_closed(c);
    cli_close(c);
    cr_assert_eq(handler_calls, 3);
    finish();
}

Test(http, body_over_the_limit_by_content_length) {
    weir_http_options o = {.max_body_bytes = 100};
    start(&o);
    client *c = cli_open();
    static char body[101];
    memset(body, 'x', 100);
    char req[512];
    snprintf(req, sizeof req, "POST /ok HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n%s", body);
    response *r = roundtrip(c, req); /* exactly the limit passes */
    cr_assert_eq(r->status, 200);
    cr_assert_eq(json_integer_value(json_object_get(r->json, "bodyLen")), 100);
    resp_free(r);
    /* refused as soon as the headers say so: the body is never sent */
    r = roundtrip(c, "POST /big HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n");
    expect_error(r, 413, "request body exceeds MAX_BODY_BYTES (100 bytes)");
    cr_assert_str_eq(jstr(r, "error"), "request body exceeds MAX_BODY_BYTES (100 bytes)");
    cr_assert_str_eq(hdr(r, "Connection"), "close");
    resp_free(r);
    cli_expect_closed(c);
    cli_close(c);
    cr_assert_eq(handler_calls, 1);
    finish();
}

Test(http, body_over_the_limit_by_chunks) {
    weir_http_options o = {.max_body_bytes = 100};
    start(&o);
    client *c = cli_open();
    cli_send(c, "POST /big HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[64];
    memset(chunk, 'y', 40);
    snprintf(chunk + 40, sizeof chunk - 40, "\r\n");
    for (int i = 0; i < 2; i++) {
        cli_send(c, "28\r\n");
        cli_send(c, chunk);
    }
    cli_expect_quiet(c, 30); /* 80 bytes: still fine */
    cli_send(c, "28\r\n");
    cli_send(c, chunk); /* 120 */
    response *r = cli_read(c);
    expect_error(r, 413, "request body exceeds MAX_BODY_BYTES (100 bytes)");
    resp_free(r);
    cli_expect_closed(c);
    cli_close(c);
    cr_assert_eq(handler_calls, 0);
    finish();
}

Test(http, headers_over_the_limit) {
    weir_http_options o = {.max_header_bytes = 1024};
    start(&o);
    client *c = cli_open();
    char big[2048];
    memset(big, 'v', 900);
    big[900] = '\0';
    char req[4096];
    snprintf(req, sizeof req, "GET /fits HTTP/1.1\r\nHost: localhost\r\nX-Big: %s\r\n\r\n", big);
    response *r = roundtrip(c, req);
    cr_assert_eq(r->status, 200);
    cr_assert_eq(strlen(jhdr(r, "x-big")), 900);
    resp_free(r);
    memset(big, 'v', 1100);
    big[1100] = '\0';
    snprintf(req, sizeof req, "GET /big HTTP/1.1\r\nHost: localhost\r\nX-Big: %s\r\n\r\n", big);
    r = roundtrip(c, req);
    expect_error(r, 431, "request line and headers exceed MAX_HEADER_BYTES (1024 bytes)");
    cr_assert(strncmp(r->head, "HTTP/1.1 431 Request Header Fields Too Large\r\n", 46) == 0);
    resp_free(r);
    cli_expect_closed(c);
    cli_close(c);
    /* many small headers count too; so does a long URL */
    c = cli_open();
    cli_send(c, "GET /many HTTP/1.1\r\n");
    for (int i = 0; i < 200; i++) cli_send(c, "A: b\r\n"); /* 1200 bytes */
    cli_send(c, "\r\n");
    r = cli_read(c);
    cr_assert_eq(r->status, 431);
    resp_free(r);
    cli_expect_closed(c);
    cli_close(c);
    c = cli_open();
    memset(big, 'u', 1100);
    snprintf(req, sizeof req, "GET /%s HTTP/1.1\r\n\r\n", big);
    r = roundtrip(c, req);
    cr_assert_eq(r->status, 431);
    resp_free(r);
    cli_expect_closed(c);
    cli_close(c);
    cr_assert_eq(handler_calls, 1);
    finish();
}

Test(http, garbage_gets_400_and_the_connection_closes) {
    start(NULL);
    client *c = cli_open();
    response *r = roundtrip(c, "GET /ok HTTP/1.1\r\nHost: localhost\r\n\r\n\x01\x02 garbage \r\n\r\n");
    cr_assert_eq(r->status, 200);
    resp_free(r);
    r = cli_read(c);
    expect_error(r, 400, "malformed request: ");
    cr_assert_str_eq(hdr(r, "Connection"), "close");
    resp_free(r);
    cli_expect_closed(c);
    cli_close(c);
    /* a bad chunk size */
    c = cli_open();
    r = roundtrip(c, "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    expect_error(r, 400, "malformed request: invalid character in chunk size");
    resp_free(r);
    cli_expect_closed(c);
    cli_close(c);
    cr_assert_eq(handler_calls, 1);
    cr_assert_eq(weir_http_server_in_flight(srv), 0);
    finish();
}

Test(http, percent_decoding_of_the_path) {
    start(NULL);
    client *c = cli_open();
    response *r = roundtrip(c, "GET /a%20b/%C3%A9%2fz?q=%20x+y&r=%zz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(jstr(r, "path"), "/a b/\xc3\xa9/z");
    cr_assert_str_eq(jstr(r, "query"), "q=%20x+y&r=%zz");
    resp_free(r);
    r = roundtrip(c, "GET http://localhost:8080/abs%21?k=v HTTP/1.1\r\nHost: localhost\r\n\r\n");
    cr_assert_str_eq(jstr(r, "path"), "/abs!");
    cr_assert_str_eq(jstr(r, "query"), "k=v");
    resp_free(r);
    cli_close(c);
    const char *bad[] = {"/a%00b", "/a%zz", "/a%4", "/a%"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        c = cli_open();
        char req[128];
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", bad[i]);
        r = roundtrip(c, req);
        expect_error(r, 400, "malformed request: ");
        resp_free(r);
        cli_expect_closed(c);
        cli_close(c);
    }
    cr_assert_eq(handler_calls, 2);
    finish();
}

Test(http, slow_client_gets_408) {
    weir_http_options o = {.request_timeout_ms = 200};
    start(&o);
    client *c = cli_open();
    uint64_t t0 = now_ms();
    cli_send(c, "GET /slow HTTP/1.1\r\nHost: localhost\r\n");
    response *r = cli_read(c);
    uint64_t took = now_ms() - t0;
    expect_error(r, 408, "request not received whole within 200 ms");
    cr_assert_geq(took, 190);
    resp_free(r);
    cli_expect_closed(c);
    cli_close(c);
    /* trickling bytes does not extend the deadline */
    c = cli_open();
    t0 = now_ms();
    cli_send(c, "POST /slow HTTP/1.1\r\nContent-Length: 100\r\n\r\n");
    while (!cli_pump(c)) {
        cr_assert_lt(now_ms() - t0, BOUND_MS);
        cli_send(c, "x");
        for (int i = 0; i < 5; i++) step();
    }
    r = cli_read(c);
    cr_assert_eq(r->status, 408);
    resp_free(r);
    cli_close(c);
    cr_assert_eq(handler_calls, 0);
    finish();
}

Test(http, idle_keep_alive_connection_is_closed) {
    weir_http_options o = {.idle_timeout_ms = 200};
    start(&o);
    client *c = cli_open();
    response *r = roundtrip(c, "GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n");
    cr_assert_eq(r->status, 200);
    resp_free(r);
    uint64_t t0 = now_ms();
    cli_expect_closed(c);
    cr_assert_geq(now_ms() - t0, 150);
    WAIT_UNTIL(weir_http_server_connections(srv) == 0);
    cli_close(c);
    /* a connection that never sends anything too */
    c = cli_open();
    WAIT_UNTIL(weir_http_server_connections(srv) == 1);
    cli_expect_closed(c);
    cli_close(c);
    finish();
}

Test(http, a_client_that_does_not_read_is_closed) {
    weir_http_options o = {.idle_timeout_ms = 300};
    start(&o);
    /* 8 MiB of answers: more than the kernel's send buffer (4 MiB at most)
     * and this small receive buffer hold */
    client *c = cli_open_rcvbuf(64 * 1024);
    uint64_t t0 = now_ms();
    for (int i = 0; i < 8; i++) cli_send(c, "GET /big HTTP/1.1\r\n\r\n");
    WAIT_UNTIL(handler_calls == 8);
    WAIT_UNTIL(weir_http_server_connections(srv) == 0);
    cr_assert_geq(now_ms() - t0, 250);
    cli_close(c);
    /* one that reads slowly but steadily gets everything */
    c = cli_open_rcvbuf(64 * 1024);
    cli_send(c, "GET /big HTTP/1.1\r\n\r\nGET /big HTTP/1.1\r\n\r\nGET /big HTTP/1.1\r\n\r\n");
    static char sink[1 << 16];
    size_t got = 0;
    t0 = now_ms();
    while (got < 3 * (1u << 20)) { /* the bodies at least */
        cr_assert_lt(now_ms() - t0, BOUND_MS);
        ssize_t n = recv(c->fd, sink, 16384, 0);
        if (n > 0) got += (size_t)n;
        cr_assert(n != 0, "closed after %zu bytes", got);
        step();
        (void)poll(NULL, 0, 3); /* pace the reader: about 5 MB/s at most */
    }
    cr_assert_gt(now_ms() - t0, 2 * 300, "the reader was not slow enough to test anything");
    cli_close(c);
    finish();
}

Test(http, over_max_connections_only_health_is_answered) {
    weir_http_options o = {.max_connections = 2};
    start(&o);
    client *a = cli_open(), *b = cli_open();
    WAIT_UNTIL(weir_http_server_connections(srv) == 2);
    client *x = cli_open();
    response *r = roundtrip(x, "GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n");
    expect_error(r, 503, "too many connections (MAX_CONNECTIONS 2)");
    cr_assert_str_eq(jstr(r, "code"), weir_errname(WEIR_EUNAVAILABLE));
    cr_assert_str_eq(hdr(r, "Connection"), "close");
    cr_assert_str_eq(hdr(r, "Retry-After"), "1");
    resp_free(r);
    cli_expect_closed(x);
    cli_close(x);
    cr_assert_eq(handler_calls, 0);
    /* the reserved slot: /health* goes to the handler, then the connection closes */
    const char *health[] = {"/health", "/health/ready"};
    for (int i = 0; i < 2; i++) {
        x = cli_open();
        char req[96];
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", health[i]);
        r = roundtrip(x, req);
        cr_assert_eq(r->status, 200);
        cr_assert_str_eq(jstr(r, "path"), health[i]);
        cr_assert_str_eq(hdr(r, "Connection"), "close");
        resp_free(r);
        cli_expect_closed(x);
        cli_close(x);
    }
    x = cli_open(); /* not a /health path */
    r = roundtrip(x, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    cr_assert_eq(r->status, 503);
    resp_free(r);
    cli_close(x);
    r = roundtrip(a, "GET /a HTTP/1.1\r\n\r\n");
    cr_assert_eq(r->status, 200);
    resp_free(r);
    cli_close(b);
    WAIT_UNTIL(weir_http_server_connections(srv) == 1);
    client *d = cli_open();
    r = roundtrip(d, "GET /d HTTP/1.1\r\n\r\n");
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(hdr(r, "Connection"), "keep-alive");
    resp_free(r);
    cli_close(a);
    cli_close(d);
    finish();
}

Test(http, stop_accepting_finishes_in_flight_with_connection_close) {
    start(NULL);
    client *idle = cli_open();
    response *r = roundtrip(idle, "GET /a HTTP/1.1\r\n\r\n");
    resp_free(r);
    client *busy = cli_open();
    cli_send(busy, "GET /hold HTTP/1.1\r\n\r\n");
    WAIT_UNTIL(nheld == 1);
    weir_http_server_stop_accepting(srv);
    /* new connections are refused */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    cr_assert_neq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(errno, ECONNREFUSED);
    close(fd);
    /* the idle one closes now, the busy one stays until it is answered */
    cli_expect_closed(idle);
    cli_close(idle);
    cli_expect_quiet(busy, 30);
    cr_assert_eq(weir_http_server_connections(srv), 1);
    cr_assert_eq(weir_http_server_in_flight(srv), 1);
    echo(held[0]);
    nheld = 0;
    r = cli_read(busy);
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(hdr(r, "Connection"), "close");
    resp_free(r);
    cli_expect_closed(busy);
    cli_close(busy);
    WAIT_UNTIL(weir_http_server_connections(srv) == 0);
    finish();
}

Test(http, stop_accepting_with_pipelined_requests_answers_them_all) {
    start(NULL);
    client *c = cli_open();
    cli_send(c, "GET /hold HTTP/1.1\r\n\r\nGET /hold HTTP/1.1\r\n\r\n");
    WAIT_UNTIL(nheld == 2);
    weir_http_server_stop_accepting(srv);
    echo(held[1]);
    echo(held[0]);
    nheld = 0;
    response *r1 = cli_read(c), *r2 = cli_read(c);
    cr_assert_str_eq(hdr(r1, "Connection"), "keep-alive");
    cr_assert_str_eq(hdr(r2, "Connection"), "close");
    cr_assert_lt(json_integer_value(json_object_get(r1->json, "id")),
                 json_integer_value(json_object_get(r2->json, "id")));
    resp_free(r1);
    resp_free(r2);
    cli_expect_closed(c);
    cli_close(c);
    finish();
}

Test(http, destroy_with_requests_in_flight) {
    start(NULL);
    client *a = cli_open(), *b = cli_open();
    cli_send(a, "GET /hold HTTP/1.1\r\n\r\nGET /later?ms=50 HTTP/1.1\r\n\r\nGET /hold HTTP/1.1\r\n\r\n");
    cli_send(b, "POST /hold HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody");
    cli_send(b, "GET /partial HTTP/1.1\r\n"); /* half a request */
    WAIT_UNTIL(nheld == 3 && handler_calls == 4);
    cr_assert_eq(weir_http_server_in_flight(srv), 4);
    echo(held[2]); /* answered, waiting behind the earlier ones */
    finish(); /* destroy drops the held requests and the one /later waits on */
    cli_pump(a);
    cli_pump(b);
    cr_assert(a->eof && b->eof);
    cli_close(a);
    cli_close(b);
}

Test(http, respond_after_the_connection_died) {
    start(NULL);
    client *c = cli_open();
    cli_send(c, "GET /hold HTTP/1.1\r\n\r\nGET /hold HTTP/1.1\r\n\r\n");
    WAIT_UNTIL(nheld == 2);
    struct linger l = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l); /* close with a reset */
    cli_close(c);
    WAIT_UNTIL(weir_http_server_connections(srv) == 0);
    cr_assert_eq(weir_http_server_in_flight(srv), 2);
    echo(held[1]);
    weir_http_respond_error(held[0], 500, "gone");
    nheld = 0;
    cr_assert_eq(weir_http_server_in_flight(srv), 0);
    finish();
}

Test(http, half_closed_client_still_gets_its_answers) {
    start(NULL);
    client *c = cli_open();
    cli_send(c, "GET /hold HTTP/1.1\r\n\r\nGET /later?ms=5 HTTP/1.1\r\n\r\n");
    shutdown(c->fd, SHUT_WR);
    WAIT_UNTIL(nheld == 1 && handler_calls == 2);
    echo(held[0]);
    nheld = 0;
    response *r1 = cli_read(c), *r2 = cli_read(c);
    cr_assert_str_eq(jstr(r1, "path"), "/hold");
    cr_assert_str_eq(jstr(r2, "path"), "/later");
    cr_assert_str_eq(hdr(r2, "Connection"), "close");
    resp_free(r1);
    resp_free(r2);
    cli_expect_closed(c);
    cli_close(c);
    WAIT_UNTIL(weir_http_server_connections(srv) == 0);
    finish();
}

Test(http, expect_100_continue) {
    start(NULL);
    client *c = cli_open();
    cli_send(c, "POST /e HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    response *r = cli_read(c);
    cr_assert_eq(r->status, 100);
    resp_free(r);
    cli_send(c, "data");
    r = cli_read(c);
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(jstr(r, "body"), "data");
    resp_free(r);
    cli_close(c);
    finish();
}

Test(http, upgrade_request_goes_to_the_handler) {
    start(NULL);
    client *c = cli_open();
    cli_send(c, "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                "\x81\x85 not http");
    response *r = cli_read(c);
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(jhdr(r, "upgrade"), "websocket");
    cr_assert_str_eq(hdr(r, "Connection"), "close");
    resp_free(r);
    cli_expect_closed(c);
    cli_close(c);
    cr_assert_eq(handler_calls, 1);
    finish();
}

Test(http, start_fails_cleanly_when_the_port_is_taken) {
    start(NULL);
    weir_http_options o = {.host = "127.0.0.1", .port = port};
    weir_http_server *second = (weir_http_server *)1;
    weir_error err = {0};
    cr_assert_eq(weir_http_server_start(&loop, &o, handler, NULL, &second, &err), WEIR_EIO);
    cr_assert_null(second);
    cr_assert(strstr(err.message, "address already in use"), "%s", err.message);
    o.host = "not an address";
    cr_assert_eq(weir_http_server_start(&loop, &o, handler, NULL, &second, &err), WEIR_EIO);
    weir_http_server_destroy(NULL);
    cr_assert_str_eq(weir_http_reason(404), "Not Found");
    cr_assert_str_eq(weir_http_reason(299), "Success");
    finish();
}

/* ------------------------------------------------- browsers (SPEC §10) */

/* One request on a fresh connection; the response. */
static response *once(const char *request) {
    client *c = cli_open();
    response *r = roundtrip(c, request);
    cli_close(c);
    return r;
}

static void expect_host(const char *host, int status) {
    char req[256];
    snprintf(req, sizeof req, "GET /h HTTP/1.1\r\nHost: %s\r\n\r\n", host);
    response *r = once(req);
    cr_assert_eq(r->status, status, "Host: %s answered %d: %s", host, r->status, r->body);
    if (status == 421) {
        cr_assert(strncmp(r->head, "HTTP/1.1 421 Misdirected Request\r\n", 34) == 0, "%s", r->head);
        cr_assert(strstr(jstr(r, "error"), "ALLOWED_HOSTS"), "%s", r->body);
    }
    resp_free(r);
}

Test(http, host_must_name_the_server) {
    start(NULL);
    const char *ok[] = {"localhost", "LOCALHOST:1234", "127.0.0.1", "127.0.0.1:5006", "[::1]", "[::1]:99",
                        "localhost."};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) expect_host(ok[i], 200);
    const char *bad[] = {"evil.example", "evil.example:5006", "localhost.evil.example", "127.0.0.2", "",
                         "local host", "[::1", "localhost:x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) expect_host(bad[i], 421);
    /* an absolute-form target stands for Host */
    response *r = once("GET http://evil.example/x HTTP/1.1\r\nHost: localhost\r\n\r\n");
    cr_assert_eq(r->status, 421);
    resp_free(r);
    r = once("GET /x HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n");
    expect_error(r, 400, "malformed request: more than one Host header");
    resp_free(r);
    /* no Host at all (HTTP/1.0, tools): taken */
    r = once("GET /x HTTP/1.0\r\n\r\n");
    cr_assert_eq(r->status, 200);
    resp_free(r);
    cr_assert_eq(handler_calls, 8);
    finish();
}

Test(http, allowed_hosts_add_names) {
    weir_http_options o = {.allowed_hosts = " weir.example , .corp.example,pinned.example:8080"};
    start(&o);
    expect_host("weir.example", 200);
    expect_host("WEIR.example:1", 200);
    expect_host("corp.example", 200);
    expect_host("a.b.corp.example:9", 200);
    expect_host("xcorp.example", 421);
    expect_host("pinned.example:8080", 200);
    expect_host("pinned.example:8081", 421);
    expect_host("pinned.example", 421);
    expect_host("localhost", 200);
    finish();
    setup();
    weir_http_options any = {.allowed_hosts = "*"};
    start(&any);
    expect_host("anything.example:1", 200);
    finish();
    /* malformed lists are refused at start, naming the setting */
    setup();
    const char *bad_hosts[] = {"a/b", "http://x", "..x", "x:", "[::1"};
    for (size_t i = 0; i < sizeof bad_hosts / sizeof *bad_hosts; i++) {
        weir_http_options b = {.allowed_hosts = bad_hosts[i]};
        weir_error err = {0};
        cr_assert_eq(weir_http_server_start(&loop, &b, handler, NULL, &srv, &err), WEIR_EINVAL, "%s", bad_hosts[i]);
        cr_assert(strstr(err.message, "ALLOWED_HOSTS"), "%s", err.message);
    }
    const char *bad_origins[] = {"ui.example", "http://x/path", "http://", "http://a b"};
    for (size_t i = 0; i < sizeof bad_origins / sizeof *bad_origins; i++) {
        weir_http_options b = {.cors_origins = bad_origins[i]};
        weir_error err = {0};
        cr_assert_eq(weir_http_server_start(&loop, &b, handler, NULL, &srv, &err), WEIR_EINVAL, "%s",
                     bad_origins[i]);
        cr_assert(strstr(err.message, "CORS_ORIGINS"), "%s", err.message);
    }
    rn_finish_loop(&loop);
}

/* An IPv4 client of the server at addr:port, or NULL when nothing listens
 * there for IPv4. */
static client *cli_open_at(const char *addr) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    cr_assert_eq(inet_pton(AF_INET, addr, &a.sin_addr), 1);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return NULL;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    client *c = calloc(1, sizeof *c);
    c->cap = 1 << 18;
    c->buf = malloc(c->cap);
    c->fd = fd;
    return c;
}

/* Bound to :: (dual-stack), an IPv4 client arrives on ::ffff:a.b.c.d: the
 * server is a.b.c.d to it. */
Test(http, bound_to_the_ipv6_wildcard_an_ipv4_client_may_name_the_local_address) {
    weir_http_options o = {.host = "::"};
    weir_error err = {0};
    if (weir_http_server_start(&loop, &o, handler, NULL, &srv, &err) != 0) {
        rn_finish_loop(&loop);
        cr_skip_test("no IPv6 here: %s", err.message);
    }
    port = weir_http_server_port(srv);
    const char *hosts[] = {"127.0.0.5", "127.0.0.5:1234", "127.0.0.6", "[::ffff:127.0.0.5]"};
    const int want[] = {200, 200, 421, 200};
    for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
        client *c = cli_open_at("127.0.0.5");
        if (!c) { /* net.ipv6.bindv6only: :: takes no IPv4 */
            finish();
            cr_skip_test("a socket bound to :: takes no IPv4 connection here");
        }
        char req[128];
        snprintf(req, sizeof req, "GET /h HTTP/1.1\r\nHost: %s\r\n\r\n", hosts[i]);
        response *r = roundtrip(c, req);
        cr_assert_eq(r->status, want[i], "Host: %s answered %d: %s", hosts[i], r->status, r->body);
        resp_free(r);
        cli_close(c);
    }
    finish();
}

static response *with_origin(const char *method, const char *host, const char *origin) {
    char req[512];
    snprintf(req, sizeof req, "%s /o HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\nContent-Length: 0\r\n\r\n", method, host,
             origin);
    return once(req);
}

static void expect_origin(const char *host, const char *origin, int status, const char *acao) {
    response *r = with_origin("POST", host, origin);
    cr_assert_eq(r->status, status, "Origin %s with Host %s answered %d", origin, host, r->status);
    if (status == 403) cr_assert(strstr(jstr(r, "error"), "CORS_ORIGINS"), "%s", r->body);
    if (acao)
        cr_assert_str_eq(hdr(r, "Access-Control-Allow-Origin"), acao);
    else
        cr_assert_null(hdr(r, "Access-Control-Allow-Origin"));
    resp_free(r);
}

Test(http, origin_must_be_the_servers_own_or_listed) {
    start(NULL);
    /* the server's own origin: the Host it was reached by */
    expect_origin("127.0.0.1:5006", "http://127.0.0.1:5006", 200, "http://127.0.0.1:5006");
    expect_origin("localhost:7", "http://LOCALHOST:7", 200, "http://LOCALHOST:7");
    expect_origin("localhost", "http://localhost:80", 200, "http://localhost:80");
    expect_origin("localhost", "https://localhost", 200, "https://localhost"); /* behind a TLS proxy */
    expect_origin("[::1]:9", "http://[::1]:9", 200, "http://[::1]:9");
    /* any other */
    expect_origin("127.0.0.1:5006", "http://127.0.0.1:5007", 403, NULL);
    expect_origin("127.0.0.1:5006", "http://localhost:5006", 403, NULL);
    expect_origin("localhost", "http://evil.example", 403, NULL);
    expect_origin("localhost", "null", 403, NULL);
    expect_origin("localhost", "http://localhost/", 403, NULL);
    expect_origin("localhost", "garbage", 403, NULL);
    /* preflights and upgrades too */
    response *r = with_origin("OPTIONS", "localhost", "http://evil.example");
    cr_assert_eq(r->status, 403);
    resp_free(r);
    r = once("GET /ws HTTP/1.1\r\nHost: localhost\r\nOrigin: http://evil.example\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    cr_assert_eq(r->status, 403);
    cr_assert_str_eq(hdr(r, "Connection"), "close");
    resp_free(r);
    r = once("GET /o HTTP/1.1\r\nHost: localhost\r\nOrigin: http://localhost\r\nOrigin: http://evil.example\r\n\r\n");
    cr_assert_eq(r->status, 400);
    resp_free(r);
    cr_assert_eq(handler_calls, 5);
    finish();
}

Test(http, cors_origins_list_null_and_any) {
    weir_http_options o = {.cors_origins = "http://ui.example:8080,null"};
    start(&o);
    expect_origin("localhost", "http://ui.example:8080", 200, "http://ui.example:8080");
    expect_origin("localhost", "http://UI.example:8080", 200, "http://UI.example:8080");
    expect_origin("localhost", "null", 200, "null");
    expect_origin("localhost", "http://ui.example", 403, NULL);
    expect_origin("localhost", "https://ui.example:8080", 403, NULL);
    response *r = with_origin("OPTIONS", "localhost", "http://ui.example:8080");
    cr_assert_eq(r->status, 204);
    cr_assert_str_eq(hdr(r, "Access-Control-Allow-Origin"), "http://ui.example:8080");
    cr_assert_str_eq(hdr(r, "Vary"), "Origin");
    resp_free(r);
    finish();
    setup();
    weir_http_options any = {.cors_origins = "*"};
    start(&any);
    /* any Origin may act, and is echoed: never "*" (SPEC §10) */
    expect_origin("localhost", "http://evil.example", 200, "http://evil.example");
    expect_origin("localhost", "null", 200, "null");
    r = with_origin("POST", "localhost", "https://other.example:8443");
    cr_assert_str_eq(hdr(r, "Vary"), "Origin");
    resp_free(r);
    r = with_origin("OPTIONS", "localhost", "http://evil.example");
    cr_assert_eq(r->status, 204);
    cr_assert_str_eq(hdr(r, "Access-Control-Allow-Origin"), "http://evil.example");
    cr_assert_str_eq(hdr(r, "Vary"), "Origin");
    resp_free(r);
    r = once("GET /o HTTP/1.1\r\nHost: localhost\r\n\r\n");
    cr_assert_null(hdr(r, "Access-Control-Allow-Origin")); /* no Origin: none */
    cr_assert_str_eq(hdr(r, "Vary"), "Origin");
    resp_free(r);
    finish();
}

/* ----------------------------------------------- connections (SPEC §10) */

Test(http, header_timeout_closes_trickling_and_silent_connections) {
    weir_http_options o = {.header_timeout_ms = 200};
    start(&o);
    /* a byte every 20 ms: headers never complete */
    client *c = cli_open();
    uint64_t t0 = now_ms();
    const char *req = "GET /slow HTTP/1.1\r\nHost: localhost\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    size_t sent = 0;
    while (!cli_pump(c)) {
        cr_assert_lt(now_ms() - t0, BOUND_MS);
        if (req[sent]) cli_sendn(c, req + sent++, 1);
        uint64_t t1 = now_ms();
        while (now_ms() - t1 < 20) step();
    }
    response *r = cli_read(c);
    uint64_t took = now_ms() - t0;
    expect_error(r, 408, "request line and headers not received within HEADER_TIMEOUT_MS (200 ms)");
    cr_assert_geq(took, 190);
    cr_assert_lt(took, 2000);
    resp_free(r);
    cli_expect_closed(c);
    cli_close(c);
    /* one that sends nothing: closed without an answer */
    c = cli_open();
    t0 = now_ms();
    cli_expect_closed(c);
    cr_assert_eq(c->len, 0);
    cr_assert_geq(now_ms() - t0, 150);
    cr_assert_lt(now_ms() - t0, 2000);
    cli_close(c);
    /* counted from the accept: a request whose first byte comes late has less */
    c = cli_open();
    t0 = now_ms();
    while (now_ms() - t0 < 150) step();
    cli_send(c, "GET /late HTTP/1.1\r\n");
    r = cli_read(c);
    cr_assert_eq(r->status, 408);
    cr_assert_lt(now_ms() - t0, 1000);
    resp_free(r);
    cli_close(c);
    /* a keep-alive connection's next request gets its own header time */
    c = cli_open();
    r = roundtrip(c, "GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n");
    cr_assert_eq(r->status, 200);
    resp_free(r);
    t0 = now_ms();
    while (now_ms() - t0 < 300) step();
    r = roundtrip(c, "GET /b HTTP/1.1\r\nHost: localhost\r\n\r\n");
    cr_assert_eq(r->status, 200);
    resp_free(r);
    cli_close(c);
    cr_assert_eq(handler_calls, 2);
    finish();
}

Test(http, max_connections_per_ip_then_the_reserve) {
    weir_http_options o = {.max_connections_per_ip = 2};
    start(&o);
    client *a = cli_open(), *b = cli_open();
    WAIT_UNTIL(weir_http_server_connections(srv) == 2);
    client *x = cli_open();
    response *r = roundtrip(x, "GET /api HTTP/1.1\r\nHost: localhost\r\n\r\n");
    expect_error(r, 503, "too many connections from your address (MAX_CONNECTIONS_PER_IP 2)");
    cr_assert_str_eq(jstr(r, "code"), weir_errname(WEIR_EUNAVAILABLE));
    cr_assert_str_eq(hdr(r, "Retry-After"), "1");
    resp_free(r);
    cli_close(x);
    x = cli_open();
    r = roundtrip(x, "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n");
    cr_assert_eq(r->status, 200);
    resp_free(r);
    cli_close(x);
    /* another address is not affected */
    client *other = rn_open_from(port, 0, "127.0.0.2");
    r = roundtrip(other, "GET /api HTTP/1.1\r\nHost: localhost\r\n\r\n");
    cr_assert_eq(r->status, 200);
    resp_free(r);
    cli_close(other);
    /* a slot freed is a slot again */
    cli_close(b);
    WAIT_UNTIL(weir_http_server_connections(srv) == 1);
    x = cli_open();
    r = roundtrip(x, "GET /api HTTP/1.1\r\nHost: localhost\r\n\r\n");
    cr_assert_eq(r->status, 200);
    resp_free(r);
    cli_close(x);
    cli_close(a);
    finish();
}

Test(http, a_full_reserve_makes_room_for_health) {
    weir_http_options o = {.max_connections = 1};
    start(&o);
    client *a = cli_open();
    WAIT_UNTIL(weir_http_server_connections(srv) == 1);
    /* more silent connections than the reserve holds (64) */
    enum { N = 80 };
    client *silent[N];
    for (int i = 0; i < N; i++) silent[i] = cli_open();
    WAIT_UNTIL(weir_http_server_connections(srv) == 1 + 64);
    client *x = cli_open();
    response *r = roundtrip(x, "GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n");
    cr_assert_eq(r->status, 200);
    resp_free(r);
    cli_close(x);
    cli_expect_closed(silent[0]); /* the oldest made room */
    for (int i = 0; i < N; i++) cli_close(silent[i]);
    cli_close(a);
    finish();
}

/* A reserve full of connections whose requests are in the handler refuses
 * one more (closed, no answer); that refusal must not upset the reserve's
 * count: once they are gone, the limits are as before. */
Test(http, a_refusal_by_a_full_reserve_leaves_the_counts_exact) {
    weir_http_options o = {.max_connections = 1};
    start(&o);
    client *a = cli_open();
    WAIT_UNTIL(weir_http_server_connections(srv) == 1);
    enum { N = 64 }; /* the reserve's size */
    client *busy[N];
    for (int i = 0; i < N; i++) {
        busy[i] = cli_open();
        cli_send(busy[i], "GET /health/hold HTTP/1.1\r\nHost: localhost\r\n\r\n");
    }
    WAIT_UNTIL(nheld == N);
    for (int k = 0; k < 3; k++) {
        client *x = cli_open();
        cli_expect_closed(x);
        cli_close(x);
    }
    cr_assert_eq(weir_http_server_connections(srv), 1 + N);
    for (int i = 0; i < N; i++) echo(held[i]);
    nheld = 0;
    for (int i = 0; i < N; i++) {
        response *r = cli_read(busy[i]);
        cr_assert_eq(r->status, 200, "%s", r->head);
        resp_free(r);
        cli_close(busy[i]);
    }
    WAIT_UNTIL(weir_http_server_connections(srv) == 1);
    client *x = cli_open(); /* beyond the limit: the reserve answers /health */
    response *r = roundtrip(x, "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n");
    cr_assert_eq(r->status, 200);
    resp_free(r);
    cli_close(x);
    cli_close(a);
    WAIT_UNTIL(weir_http_server_connections(srv) == 0);
    /* the one slot is a slot again, and only one */
    a = cli_open();
    r = roundtrip(a, "GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n");
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(hdr(r, "Connection"), "keep-alive");
    resp_free(r);
    x = cli_open();
    r = roundtrip(x, "GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n");
    expect_error(r, 503, "too many connections (MAX_CONNECTIONS 1)");
    resp_free(r);
    cli_close(x);
    cli_close(a);
    finish();
}

/* ------------------------------------------- writes and per-request buffers */

/* Read one /pattern?n,seed response and check every byte of it, streaming
 * (the body may be larger than any response buffer here). */
static void read_pattern(client *c, size_t n, unsigned seed) {
    uint64_t t0 = now_ms();
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4))) {
        cr_assert(!c->eof, "closed before the head");
        cr_assert(now_ms() - t0 < BOUND_MS, "no head within the bound");
        if (!cli_pump(c)) step();
    }
    size_t head_len = (size_t)(end - c->buf) + 4;
    char head[1024];
    cr_assert_lt(head_len, sizeof head);
    memcpy(head, c->buf, head_len - 2);
    head[head_len - 2] = '\0';
    cr_assert(strncmp(head, "HTTP/1.1 200 ", 13) == 0, "%s", head);
    const char *cl = rn_header(strstr(head, "\r\n"), "Content-Length");
    cr_assert(cl && strtoull(cl, NULL, 10) == n, "Content-Length %s, want %zu", cl ? cl : "none", n);
    rn_consume(c, head_len);
    size_t k = 0;
    while (k < n) {
        size_t take = c->len < n - k ? c->len : n - k;
        for (size_t i = 0; i < take; i++)
            cr_assert_eq(c->buf[i], pattern_byte(k + i, seed), "byte %zu of the %zu-byte body (seed %u)", k + i, n,
                         seed);
        rn_consume(c, take);
        k += take;
        if (k == n) break;
        cr_assert(!c->eof, "closed after %zu of %zu body bytes", k, n);
        cr_assert(now_ms() - t0 < BOUND_MS, "no whole body within the bound");
        if (!cli_pump(c)) step();
    }
}

static void expect_path(client *c, const char *path) {
    response *r = cli_read(c);
    cr_assert_eq(r->status, 200, "%s", r->head);
    cr_assert_str_eq(jstr(r, "path"), path);
    resp_free(r);
}

/* Answers are tried straight on the socket; one the kernel takes only part
 * of (the client does not read yet) goes on through a write request, and
 * the answers behind it wait their turn: every byte arrives, in order. */
Test(http, answers_the_kernel_takes_in_part_arrive_whole_and_in_order) {
    start(NULL);
    client *c = cli_open_rcvbuf(64 * 1024);
    cli_send(c, "GET /pattern?1048576,1 HTTP/1.1\r\n\r\n"
                "GET /p1 HTTP/1.1\r\n\r\n"
                "GET /pattern?300001,2 HTTP/1.1\r\n\r\n"
                "GET /p2 HTTP/1.1\r\n\r\n"
                "GET /p3 HTTP/1.1\r\n\r\n"
                "GET /pattern?2097152,3 HTTP/1.1\r\n\r\n"
                "GET /p4 HTTP/1.1\r\n\r\n");
    WAIT_UNTIL(handler_calls == 7); /* all answered while the client reads nothing */
    read_pattern(c, 1048576, 1);
    expect_path(c, "/p1");
    read_pattern(c, 300001, 2);
    expect_path(c, "/p2");
    expect_path(c, "/p3");
    read_pattern(c, 2097152, 3);
    expect_path(c, "/p4");
    /* and the connection goes on: a small answer, then a large one again */
    cli_send(c, "GET /p5 HTTP/1.1\r\n\r\n");
    expect_path(c, "/p5");
    cli_send(c, "GET /pattern?700000,4 HTTP/1.1\r\n\r\nGET /p6 HTTP/1.1\r\n\r\n");
    read_pattern(c, 700000, 4);
    expect_path(c, "/p6");
    cli_close(c);
    finish();
}

/* A request or response buffer grown past the pool's bound is given back
 * after its answer, and the connection's next requests (small and large)
 * are parsed and answered as before. */
Test(http, a_grown_buffer_is_shrunk_after_its_answer_and_keeps_working) {
    start(NULL);
    client *c = cli_open();
    cli_send(c, "GET /warm HTTP/1.1\r\n\r\n");
    expect_path(c, "/warm");
    long long base = fa_live_bytes();
    enum { BODY = 400 * 1024 };
    char *body = malloc(BODY);
    unsigned long sum = 0;
    for (size_t k = 0; k < BODY; k++) sum += (unsigned char)(body[k] = (char)('A' + k % 50));
    char head[128];
    for (int round = 0; round < 2; round++) {
        snprintf(head, sizeof head, "POST /sum HTTP/1.1\r\nContent-Length: %d\r\n\r\n", BODY);
        cli_send(c, head);
        cli_sendn(c, body, BODY);
        response *r = cli_read(c);
        cr_assert_eq(r->status, 200, "%s", r->head);
        cr_assert_eq(json_integer_value(json_object_get(r->json, "bodyLen")), BODY);
        cr_assert_eq((unsigned long)json_integer_value(json_object_get(r->json, "sum")), sum);
        resp_free(r);
        cli_send(c, "GET /pattern?500000,9 HTTP/1.1\r\n\r\n");
        read_pattern(c, 500000, 9);
        /* both large buffers were freed with their records' release */
        cr_assert_lt(fa_live_bytes() - base, 64 * 1024, "%lld bytes more than before the large exchange",
                     fa_live_bytes() - base);
        cli_send(c, "GET /small?a=1 HTTP/1.1\r\nX-After: big\r\n\r\n");
        response *s = cli_read(c);
        cr_assert_str_eq(jstr(s, "path"), "/small");
        cr_assert_str_eq(jstr(s, "query"), "a=1");
        cr_assert_str_eq(jhdr(s, "x-after"), "big");
        resp_free(s);
    }
    free(body);
    cli_close(c);
    finish();
}

/* More pipelined requests than the FIFO holds, answered later: each answer
 * written at once makes room, and the held-back input is parsed again from
 * there (not only from a write callback). */
Test(http, a_full_pipeline_goes_on_when_later_answers_are_written_at_once) {
    start(NULL);
    client *c = cli_open();
    enum { N = 45 };
    static char reqs[N * 32];
    size_t n = 0;
    for (int i = 0; i < N; i++) n += (size_t)snprintf(reqs + n, sizeof reqs - n, "GET /hold?%d HTTP/1.1\r\n\r\n", i);
    cli_sendn(c, reqs, n);
    WAIT_UNTIL(nheld == 32); /* the FIFO is full: the rest waits unparsed */
    handled_inside_an_answer = 0;
    for (int i = 0; i < N; i++) {
        WAIT_UNTIL(nheld > i);
        answering = true;
        echo(held[i]);
        answering = false;
        cr_assert_eq(handled_inside_an_answer, 0, "request %d was handed to the handler from inside an answer",
                     nheld - 1);
        response *r = cli_read(c);
        char want[8];
        snprintf(want, sizeof want, "%d", i);
        cr_assert_str_eq(jstr(r, "query"), want, "response %d", i);
        resp_free(r);
    }
    cr_assert_eq(nheld, N);
    cli_close(c);
    finish();
}
