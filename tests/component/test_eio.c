/*
 * The Engine.IO / Socket.IO server through its interface: an HTTP server on
 * 127.0.0.1 port 0 in the test's own loop hands /socket.io/ requests to
 * weir_eio_handle; raw client sockets on the same thread speak the protocol
 * by hand (a held GET poll on one connection, POSTs on another, as the real
 * client does).  Every wait steps the loop until a condition holds (bounded
 * by BOUND_MS), never sleeps on a guess.  Every test ends with finish():
 * destroy, drain the loop, uv_loop_close() == 0 and no weir allocation left.
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

#include "net/eio.h"
#include "net/http.h"
#include "weir/weir.h"

#include "rawnet.h"


/* ------------------------------------------------------------ loop, server */

static uv_loop_t loop;
static weir_http_server *srv;
static weir_eio *eio;
static int port;

static uint64_t now_ms(void) { return rn_now_ms(); }

static void step(void) { rn_step(&loop); }

#define WAIT_UNTIL(cond) RN_WAIT_UNTIL(&loop, cond)

/* --------------------------------------------------------------- callbacks */

#define MAX_EVENTS 64
typedef struct seen_event {
    char name[64];
    char *args; /* JSON text, malloc'd */
    int64_t ack;
} seen_event;

static struct {
    int authorize_calls, connected, disconnected;
    char refuse[128];          /* authorize refuses with this message when auth.token != "good" ... */
    bool require_token;        /* ... and only when this is set */
    char auth_seen[256];       /* JSON of the last auth payload, "null" when absent */
    char hs_header[128];       /* x-test header of the handshake seen by authorize */
    weir_sio_socket *socks[16];
    int nsocks;
    char reasons[16][64];      /* disconnect reasons, in order */
    seen_event events[MAX_EVENTS];
    int nevents;
    bool ack_events;           /* answer events that ask for an ack */
    bool disconnect_on_event;  /* weir_sio_disconnect inside the event callback */
    bool disconnect_on_connect;
    bool tolerant;             /* sends may fail (allocation failures are injected) */
    int disconnected_inside;   /* disconnected called while inside a weir_sio_* call of the test */
} cb;
static bool in_api_call;

static int on_authorize(void *ud, const json_t *auth, const weir_http_req *hs, char *msg, size_t cap) {
    (void)ud;
    cb.authorize_calls++;
    if (auth) {
        fa_suspend(1);
        char *s = json_dumps(auth, JSON_COMPACT | JSON_SORT_KEYS);
        fa_suspend(0);
        snprintf(cb.auth_seen, sizeof cb.auth_seen, "%s", s);
        fa_free(s);
    } else {
        snprintf(cb.auth_seen, sizeof cb.auth_seen, "null");
    }
    const char *h = weir_http_header(hs, "x-test");
    snprintf(cb.hs_header, sizeof cb.hs_header, "%s", h ? h : "");
    if (!cb.require_token) return 0;
    const char *tok = json_string_value(json_object_get(auth, "token"));
    if (tok && strcmp(tok, "good") == 0) return 0;
    snprintf(msg, cap, "%s", cb.refuse);
    return -1;
}

static void on_connected(void *ud, weir_sio_socket *s) {
    (void)ud;
    cr_assert_lt(cb.nsocks, 16);
    cb.socks[cb.nsocks++] = s;
    cb.connected++;
    cr_assert_eq(weir_sio_user(s), NULL);
    if (cb.disconnect_on_connect) {
        weir_sio_disconnect(s);
        cr_assert_eq(weir_sio_emit(s, "late", NULL, 0), WEIR_ESTATE);
    }
}

static void on_event(void *ud, weir_sio_socket *s, const char *name, json_t *args, int64_t ack_id) {
    (void)ud;
    cr_assert_lt(cb.nevents, MAX_EVENTS);
    seen_event *e = &cb.events[cb.nevents++];
    snprintf(e->name, sizeof e->name, "%s", name);
    fa_suspend(1);
    e->args = json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY);
    fa_suspend(0);
    e->ack = ack_id;
    if (cb.ack_events && ack_id >= 0) {
        char data[96];
        int n = snprintf(data, sizeof data, "{\"got\":\"%s\"}", name);
        int rc = weir_sio_ack(s, ack_id, data, (size_t)n);
        cr_assert(rc == 0 || (cb.tolerant && rc == WEIR_ENOMEM), "ack: %d", rc);
    }
    if (cb.disconnect_on_event) weir_sio_disconnect(s);
}

static void on_disconnected(void *ud, weir_sio_socket *s, const char *reason) {
    (void)ud;
    if (in_api_call) cb.disconnected_inside++;
    cr_assert_lt(cb.disconnected, 16);
    snprintf(cb.reasons[cb.disconnected++], sizeof cb.reasons[0], "%s", reason);
    for (int i = 0; i < cb.nsocks; i++)
        if (cb.socks[i] == s) cb.socks[i] = NULL; /* freed after we return */
}

static const weir_eio_callbacks CALLBACKS = {on_authorize, on_connected, on_event, on_disconnected};

/* ------------------------------------------------------------ setup / finish */

static void handler(void *ud, weir_http_req *r) {
    (void)ud;
    if (strncmp(r->path, "/socket.io/", 11) == 0)
        weir_eio_handle(eio, r);
    else
        weir_http_respond_error(r, 404, "no route");
}

static void setup(void) {
    fa_install(0, 0); /* counting only: every weir allocation must be freed */
    memset(&cb, 0, sizeof cb);
    snprintf(cb.refuse, sizeof cb.refuse, "bad token");
    in_api_call = false;
    cr_assert_eq(uv_loop_init(&loop), 0);
}

static void start(const weir_eio_options *o) {
    eio = weir_eio_new(&loop, o, &CALLBACKS, NULL);
    cr_assert_not_null(eio);
    weir_http_options def = {.host = "127.0.0.1"};
    weir_error err = {0};
    cr_assert_eq(weir_http_server_start(&loop, &def, handler, NULL, &srv, &err), 0, "%s", err.message);
    port = weir_http_server_port(srv);
}

static void free_events(void) {
    for (int i = 0; i < cb.nevents; i++) fa_free(cb.events[i].args);
    cb.nevents = 0;
}

/* The eio server goes first: it answers the GETs it holds. */
static void finish(void) {
    weir_eio_destroy(eio);
    eio = NULL;
    weir_http_server_destroy(srv);
    srv = NULL;
    free_events();
    rn_finish_loop(&loop);
}

TestSuite(eio, .init = setup, .timeout = 60);

/* ------------------------------------------------------------------ client */

typedef rn_client client;

static client *cli_open(void) { return rn_open(port, 0); }

static void cli_close(client *c) { rn_close(c); }

static void cli_sendn(client *c, const void *data, size_t len) { rn_sendn(c, &loop, data, len); }

static bool cli_pump(client *c) { return rn_pump(c); }

typedef struct response {
    int status;
    char head[8192];
    char *body; /* NUL-terminated */
    size_t body_len;
    json_t *json;
} response;

static const char *hdr(const response *r, const char *name) { return rn_header(r->head, name); }

static bool take_response(client *c, response *out) {
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!end) return false;
    size_t head_len = (size_t)(end - c->buf) + 4;
    cr_assert_lt(head_len, sizeof out->head);
    memcpy(out->head, c->buf, head_len - 2);
    out->head[head_len - 2] = '\0';
    cr_assert(sscanf(out->head, "HTTP/1.1 %d", &out->status) == 1, "bad status line: %s", out->head);
    const char *cl = hdr(out, "Content-Length");
    size_t body = cl ? strtoul(cl, NULL, 10) : 0;
    if (c->len < head_len + body) return false;
    out->body = malloc(body + 1);
    memcpy(out->body, c->buf + head_len, body);
    out->body[body] = '\0';
    out->body_len = body;
    memmove(c->buf, c->buf + head_len + body, c->len - head_len - body);
    c->len -= head_len + body;
    fa_suspend(1); /* scaffolding: never a failing allocation */
    out->json = json_loadb(out->body, body, JSON_DECODE_ANY, NULL);
    fa_suspend(0);
    return true;
}

static response *cli_read(client *c) {
    response *r = calloc(1, sizeof *r);
    uint64_t t0 = now_ms();
    while (!take_response(c, r)) {
        cr_assert(!c->eof, "connection closed before a whole response (%zu bytes: %.*s)", c->len, (int)c->len,
                  c->buf);
        cr_assert(now_ms() - t0 < BOUND_MS, "no response within the bound");
        if (!cli_pump(c)) step();
    }
    return r;
}

static void resp_free(response *r) {
    if (!r) return;
    json_decref(r->json);
    free(r->body);
    free(r);
}

/* Nothing arrives while the loop steps for ms. */
static void cli_expect_quiet(client *c, uint64_t ms) {
    uint64_t t0 = now_ms();
    while (now_ms() - t0 < ms) {
        cli_pump(c);
        step();
    }
    cr_assert(!c->eof && c->len == 0, "unexpected: %s %.*s", c->eof ? "closed" : "data", (int)c->len, c->buf);
}

static void send_get(client *c, const char *query) {
    char req[1024];
    int n = snprintf(req, sizeof req, "GET /socket.io/?%s HTTP/1.1\r\nHost: localhost\r\nX-Test: hs-value\r\n\r\n", query);
    cli_sendn(c, req, (size_t)n);
}

static response *get(client *c, const char *query) {
    send_get(c, query);
    return cli_read(c);
}

static response *post_typed(client *c, const char *query, const char *body, size_t len, const char *type) {
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "POST /socket.io/?%s HTTP/1.1\r\nHost: localhost\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                     query, type, len);
    cli_sendn(c, head, (size_t)n);
    cli_sendn(c, body, len);
    return cli_read(c);
}

static response *post(client *c, const char *query, const char *body) {
    return post_typed(c, query, body, strlen(body), "text/plain;charset=UTF-8");
}

/* An upgrade request to the server through c (websocket section). */
static void ws_request(client *c, const char *query);

/* An Engine.IO session as the client sees it: a connection for the held
 * GETs and one for POSTs. */
typedef struct session {
    client *poll, *data;
    char sid[64];
    char q[128]; /* EIO=4&transport=polling&sid=... */
    json_t *open;
} session;

static session *handshake(void) {
    session *s = calloc(1, sizeof *s);
    s->poll = cli_open();
    s->data = cli_open();
    response *r = get(s->poll, "EIO=4&transport=polling&t=N8hyd6w");
    cr_assert_eq(r->status, 200, "%s\n%s", r->head, r->body);
    cr_assert_str_eq(hdr(r, "Content-Type"), "text/plain; charset=UTF-8");
    cr_assert_eq(r->body[0], '0', "not an open packet: %s", r->body);
    s->open = json_loads(r->body + 1, 0, NULL);
    cr_assert_not_null(s->open, "%s", r->body);
    snprintf(s->sid, sizeof s->sid, "%s", json_string_value(json_object_get(s->open, "sid")));
    snprintf(s->q, sizeof s->q, "EIO=4&transport=polling&sid=%s", s->sid);
    resp_free(r);
    return s;
}

static void session_free(session *s) {
    cli_close(s->poll);
    cli_close(s->data);
    json_decref(s->open);
    free(s);
}

/* POST a payload; expect "ok". */
static void say(session *s, const char *payload) {
    response *r = post(s->data, s->q, payload);
    cr_assert_eq(r->status, 200, "POST %s: %d %s", payload, r->status, r->body);
    cr_assert_str_eq(r->body, "ok");
    resp_free(r);
}

/* GET; expect 200 with exactly this payload. */
static void hear(session *s, const char *want) {
    response *r = get(s->poll, s->q);
    cr_assert_eq(r->status, 200, "%d %s", r->status, r->body);
    cr_assert_str_eq(r->body, want);
    resp_free(r);
}

/* GET; the payload (caller frees). */
static response *poll_once(session *s) {
    response *r = get(s->poll, s->q);
    cr_assert_eq(r->status, 200, "%d %s", r->status, r->body);
    return r;
}

/* The socket id from a CONNECT answer 40{"sid":"..."} (static). */
static const char *connect_sid(const char *payload) {
    static char sid[64];
    cr_assert(strncmp(payload, "40{", 3) == 0, "not a CONNECT: %s", payload);
    json_t *j = json_loads(payload + 2, 0, NULL);
    cr_assert_not_null(j, "%s", payload);
    snprintf(sid, sizeof sid, "%s", json_string_value(json_object_get(j, "sid")));
    json_decref(j);
    return sid;
}

/* Handshake and connect to "/": the session, its socket is cb.socks[k]. */
static session *connect_socket(int *k) {
    session *s = handshake();
    int before = cb.connected;
    say(s, "40");
    response *r = poll_once(s);
    cr_assert_eq(strlen(connect_sid(r->body)), 20);
    resp_free(r);
    cr_assert_eq(cb.connected, before + 1);
    if (k) *k = cb.nsocks - 1;
    return s;
}

static void expect_error(response *r, int status, int code, const char *message) {
    cr_assert_eq(r->status, status, "%s\n%s", r->head, r->body);
    cr_assert_str_eq(hdr(r, "Content-Type"), "application/json");
    cr_assert_not_null(r->json, "%s", r->body);
    cr_assert_eq(json_integer_value(json_object_get(r->json, "code")), code, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "message")), message);
    resp_free(r);
}

/* -------------------------------------------------------------- handshake */

Test(eio, handshake_fields) {
    start(NULL);
    session *s = handshake();
    const json_t *o = s->open;
    cr_assert_eq(strlen(s->sid), 20);
    for (const char *p = s->sid; *p; p++)
        cr_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p), "%s", s->sid);
    json_t *up = json_object_get(o, "upgrades");
    cr_assert_eq(json_array_size(up), 1);
    cr_assert_str_eq(json_string_value(json_array_get(up, 0)), "websocket");
    cr_assert_eq(json_integer_value(json_object_get(o, "pingInterval")), 25000);
    cr_assert_eq(json_integer_value(json_object_get(o, "pingTimeout")), 20000);
    cr_assert_eq(json_integer_value(json_object_get(o, "maxPayload")), 1000000);
    cr_assert_eq(json_object_size(o), 5);
    session *s2 = handshake();
    cr_assert_str_neq(s->sid, s2->sid);
    cr_assert_eq(weir_eio_sockets(eio), 0, "no socket before CONNECT");
    cr_assert_eq(weir_eio_sockets(NULL), 0);
    weir_eio_close_all(NULL);
    weir_eio_destroy(NULL);
    session_free(s);
    session_free(s2);
    finish();
}

Test(eio, handshake_reflects_options_and_headers) {
    weir_eio_options o = {.ping_interval_ms = 1234, .ping_timeout_ms = 567, .max_payload = 4096};
    start(&o);
    session *s = handshake();
    cr_assert_eq(json_integer_value(json_object_get(s->open, "pingInterval")), 1234);
    cr_assert_eq(json_integer_value(json_object_get(s->open, "pingTimeout")), 567);
    cr_assert_eq(json_integer_value(json_object_get(s->open, "maxPayload")), 4096);
    session_free(s);
    client *c = cli_open();
    response *r = get(c, "EIO=4&transport=polling");
    cr_assert_str_eq(hdr(r, "Cache-Control"), "no-store");
    cr_assert_null(hdr(r, "Access-Control-Allow-Origin")); /* no Origin sent */
    cr_assert_str_eq(hdr(r, "Vary"), "Origin");
    resp_free(r);
    cli_close(c);
    finish();
}

Test(eio, refusals_use_engine_io_codes) {
    start(NULL);
    client *c = cli_open();
    expect_error(get(c, "EIO=3&transport=polling"), 400, 5, "Unsupported protocol version");
    expect_error(get(c, "transport=polling"), 400, 5, "Unsupported protocol version");
    expect_error(get(c, "EIO=5&transport=polling"), 400, 5, "Unsupported protocol version");
    expect_error(get(c, "EIO=4&transport=carrier-pigeon"), 400, 0, "Transport unknown");
    expect_error(get(c, "EIO=4"), 400, 0, "Transport unknown");
    expect_error(get(c, "EIO=4&transport=polling&sid=nope"), 400, 1, "Session ID unknown");
    expect_error(get(c, "EIO=4&transport=polling&sid=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
                 400, 1, "Session ID unknown");
    expect_error(post(c, "EIO=4&transport=polling", "40"), 400, 2, "Bad handshake method");
    expect_error(get(c, "EIO=4&transport=websocket"), 400, 3, "Bad request"); /* not an upgrade */
    session *s = handshake();
    char q[128];
    snprintf(q, sizeof q, "EIO=3&transport=polling&sid=%s", s->sid);
    expect_error(get(c, q), 400, 3, "Bad request");
    char put[256];
    int n = snprintf(put, sizeof put, "PUT /socket.io/?%s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n", s->q);
    cli_sendn(c, put, (size_t)n);
    expect_error(cli_read(c), 400, 3, "Bad request");
    /* the session survived those */
    say(s, "40");
    response *r = poll_once(s);
    connect_sid(r->body);
    resp_free(r);
    session_free(s);
    cli_close(c);
    finish();
}

/* ------------------------------------------------------------- connecting */

Test(eio, connect_is_accepted_and_reaches_the_callbacks) {
    start(NULL);
    session *s = handshake();
    say(s, "40");
    cr_assert_eq(cb.authorize_calls, 1);
    cr_assert_str_eq(cb.auth_seen, "null");
    cr_assert_str_eq(cb.hs_header, "hs-value", "authorize sees the handshake's headers");
    cr_assert_eq(cb.connected, 1);
    cr_assert_eq(weir_eio_sockets(eio), 1);
    response *r = poll_once(s);
    const char *sock_id = connect_sid(r->body);
    cr_assert_str_eq(sock_id, weir_sio_id(cb.socks[0]));
    cr_assert_str_neq(sock_id, s->sid, "the socket id is not the session id");
    resp_free(r);
    int tag = 7;
    weir_sio_set_user(cb.socks[0], &tag);
    cr_assert_eq(weir_sio_user(cb.socks[0]), &tag);
    session_free(s);
    finish();
    cr_assert_eq(cb.disconnected, 1, "destroy tells about live sockets");
    cr_assert_str_eq(cb.reasons[0], "server shutting down");
}

Test(eio, connect_with_auth_refused_then_accepted) {
    start(NULL);
    cb.require_token = true;
    session *s = handshake();
    say(s, "40{\"token\":\"bad\"}");
    cr_assert_str_eq(cb.auth_seen, "{\"token\":\"bad\"}");
    hear(s, "44{\"message\":\"bad token\"}");
    cr_assert_eq(cb.connected, 0);
    cr_assert_eq(weir_eio_sockets(eio), 0);
    say(s, "40"); /* no auth at all */
    snprintf(cb.refuse, sizeof cb.refuse, "%s", "say \"please\"");
    say(s, "40{}");
    hear(s, "44{\"message\":\"bad token\"}\x1e"
            "44{\"message\":\"say \\\"please\\\"\"}");
    cb.refuse[0] = '\0'; /* an empty reason gets a default */
    say(s, "40");
    hear(s, "44{\"message\":\"Not authorized\"}");
    say(s, "40{\"token\":\"good\"}");
    response *r = poll_once(s);
    connect_sid(r->body);
    resp_free(r);
    cr_assert_eq(cb.connected, 1);
    cr_assert_eq(cb.authorize_calls, 5);
    session_free(s);
    finish();
}

Test(eio, other_namespaces_are_invalid) {
    start(NULL);
    session *s = handshake();
    say(s, "40/admin,{\"token\":1}");
    hear(s, "44/admin,{\"message\":\"Invalid namespace\"}");
    cr_assert_eq(cb.authorize_calls, 0);
    say(s, "40/x");
    hear(s, "44/x,{\"message\":\"Invalid namespace\"}");
    session_free(s);
    finish();
}

Test(eio, a_second_connect_is_a_protocol_error) {
    start(NULL);
    session *s = connect_socket(NULL);
    expect_error(post(s->data, s->q, "40"), 400, 3, "Bad request");
    cr_assert_eq(cb.disconnected, 1);
    cr_assert_str_eq(cb.reasons[0], "parse error");
    expect_error(get(s->poll, s->q), 400, 1, "Session ID unknown");
    session_free(s);
    finish();
}

Test(eio, connected_may_disconnect_at_once) {
    start(NULL);
    cb.disconnect_on_connect = true;
    session *s = handshake();
    say(s, "40");
    cr_assert_eq(cb.connected, 1);
    cr_assert_eq(cb.disconnected, 0, "disconnected follows later, from the loop");
    response *r = poll_once(s);
    char *sep = strchr(r->body, '\x1e');
    cr_assert_not_null(sep, "%s", r->body);
    *sep = '\0';
    connect_sid(r->body);
    cr_assert_str_eq(sep + 1, "41");
    resp_free(r);
    cr_assert_eq(cb.disconnected, 0);
    hear(s, "1");
    cr_assert_eq(cb.disconnected, 1);
    cr_assert_str_eq(cb.reasons[0], "server namespace disconnect");
    cr_assert_eq(weir_eio_sockets(eio), 0);
    session_free(s);
    finish();
}

Test(eio, connect_timeout_closes_a_session_without_socket) {
    weir_eio_options o = {.connect_timeout_ms = 50};
    start(&o);
    session *s = handshake();
    send_get(s->poll, s->q);
    response *r = cli_read(s->poll);
    cr_assert_str_eq(r->body, "1", "the held GET gets a close packet");
    resp_free(r);
    expect_error(get(s->poll, s->q), 400, 1, "Session ID unknown");
    cr_assert_eq(cb.disconnected, 0, "no socket, no disconnected");
    session_free(s);
    finish();
}

/* ---------------------------------------------------------------- events */

Test(eio, event_with_ack_reaches_the_callback_and_the_ack_the_client) {
    start(NULL);
    cb.ack_events = true;
    session *s = connect_socket(NULL);
    say(s, "421[\"hello\",{\"a\":1},2]");
    cr_assert_eq(cb.nevents, 1);
    cr_assert_str_eq(cb.events[0].name, "hello");
    cr_assert_str_eq(cb.events[0].args, "[{\"a\":1},2]");
    cr_assert_eq(cb.events[0].ack, 1);
    say(s, "42[\"quiet\"]");
    cr_assert_eq(cb.nevents, 2);
    cr_assert_str_eq(cb.events[1].args, "[]");
    cr_assert_eq(cb.events[1].ack, -1);
    hear(s, "431[{\"got\":\"hello\"}]");
    session_free(s);
    finish();
}

Test(eio, emit_and_ack_arrive_on_the_next_poll_and_backlog_counts_them) {
    start(NULL);
    int k;
    session *s = connect_socket(&k);
    weir_sio_socket *sock = cb.socks[k];
    cr_assert_eq(weir_sio_backlog(sock), 0);
    cr_assert_eq(weir_sio_emit(sock, "news", "{\"x\":1}", 7), 0);
    size_t one = strlen("42[\"news\",{\"x\":1}]");
    cr_assert_eq(weir_sio_backlog(sock), one);
    cr_assert_eq(weir_sio_ack(sock, 5, "\"done\"", 6), 0);
    cr_assert_eq(weir_sio_backlog(sock), one + strlen("435[\"done\"]"));
    cr_assert_eq(weir_sio_emit(sock, "bare", NULL, 0), 0);
    cr_assert_eq(weir_sio_emit(sock, "\xff", NULL, 0), WEIR_EINVAL);
    cr_assert_eq(weir_sio_ack(sock, -3, NULL, 0), WEIR_EINVAL);
    hear(s, "42[\"news\",{\"x\":1}]\x1e"
            "435[\"done\"]\x1e"
            "42[\"bare\"]");
    cr_assert_eq(weir_sio_backlog(sock), 0);
    session_free(s);
    finish();
}

Test(eio, a_held_get_is_answered_when_a_packet_is_queued) {
    start(NULL);
    int k;
    session *s = connect_socket(&k);
    send_get(s->poll, s->q);
    cli_expect_quiet(s->poll, 60);
    /* everything queued in one turn goes in one answer */
    cr_assert_eq(weir_sio_emit(cb.socks[k], "a", "1", 1), 0);
    cr_assert_eq(weir_sio_emit(cb.socks[k], "b", "2", 1), 0);
    response *r = cli_read(s->poll);
    cr_assert_str_eq(r->body, "42[\"a\",1]\x1e"
                              "42[\"b\",2]");
    cr_assert_str_eq(hdr(r, "Content-Type"), "text/plain; charset=UTF-8");
    resp_free(r);
    session_free(s);
    finish();
}

Test(eio, shared_packets_go_to_many_sockets) {
    start(NULL);
    int k1, k2;
    session *s1 = connect_socket(&k1);
    session *s2 = connect_socket(&k2);
    weir_sio_out o = {weir_sbuf_copy("42[\"tick\",{\"n\":1}]", 18), NULL};
    cr_assert_eq(weir_sio_send(cb.socks[k1], &o), 0);
    cr_assert_eq(weir_sio_send(cb.socks[k2], &o), 0);
    cr_assert_eq(o.text->refs, 3, "shared, not copied");
    weir_sio_out_clear(&o);
    cr_assert_null(o.text);
    weir_sio_out_clear(&o); /* twice is safe */
    cr_assert_eq(weir_sio_send(cb.socks[k1], &o), WEIR_EINVAL, "nothing to send");
    hear(s1, "42[\"tick\",{\"n\":1}]");
    hear(s2, "42[\"tick\",{\"n\":1}]");
    cr_assert_eq(weir_eio_sockets(eio), 2);
    session_free(s1);
    session_free(s2);
    finish();
}

Test(eio, a_payload_of_several_packets_is_split) {
    start(NULL);
    session *s = connect_socket(NULL);
    say(s, "42[\"a\",1]\x1e"
           "42[\"b\",\"x\\u001ey\"]\x1e"
           "6\x1e"
           "42[\"c\"]");
    cr_assert_eq(cb.nevents, 3);
    cr_assert_str_eq(cb.events[0].name, "a");
    cr_assert_str_eq(cb.events[1].name, "b");
    cr_assert_str_eq(cb.events[1].args, "[\"x\\u001Ey\"]");
    cr_assert_str_eq(cb.events[2].name, "c");
    session_free(s);
    finish();
}

Test(eio, poll_timeout_answers_with_a_noop) {
    weir_eio_options o = {.poll_timeout_ms = 40};
    start(&o);
    session *s = connect_socket(NULL);
    uint64_t t0 = now_ms();
    hear(s, "6");
    cr_assert_geq(now_ms() - t0, 30);
    session_free(s);
    finish();
}

/* ------------------------------------------------------------- heartbeat */

Test(eio, pings_are_answered_and_a_missing_pong_closes) {
    weir_eio_options o = {.ping_interval_ms = 40, .ping_timeout_ms = 80, .poll_timeout_ms = 5000};
    start(&o);
    session *s = connect_socket(NULL);
    for (int i = 0; i < 3; i++) {
        hear(s, "2");
        say(s, "3");
    }
    cr_assert_eq(cb.disconnected, 0);
    hear(s, "2"); /* and no pong */
    send_get(s->poll, s->q);
    response *r = cli_read(s->poll);
    cr_assert_str_eq(r->body, "1");
    resp_free(r);
    cr_assert_eq(cb.disconnected, 1);
    cr_assert_str_eq(cb.reasons[0], "ping timeout");
    cr_assert_eq(weir_eio_sockets(eio), 0);
    expect_error(post(s->data, s->q, "3"), 400, 1, "Session ID unknown");
    session_free(s);
    finish();
}

Test(eio, a_ping_from_the_client_is_an_error) {
    start(NULL);
    session *s = connect_socket(NULL);
    expect_error(post(s->data, s->q, "2"), 400, 3, "Bad request");
    cr_assert_eq(cb.disconnected, 1);
    cr_assert_str_eq(cb.reasons[0], "transport error");
    session_free(s);
    finish();
}

/* ---------------------------------------------------------------- closing */

Test(eio, the_client_closes_the_session) {
    start(NULL);
    session *s = connect_socket(NULL);
    send_get(s->poll, s->q);
    cli_expect_quiet(s->poll, 20);
    say(s, "1");
    response *r = cli_read(s->poll);
    cr_assert_str_eq(r->body, "6", "the held GET ends with a noop");
    resp_free(r);
    cr_assert_eq(cb.disconnected, 1);
    cr_assert_str_eq(cb.reasons[0], "transport close");
    expect_error(get(s->poll, s->q), 400, 1, "Session ID unknown");
    session_free(s);
    finish();
}

Test(eio, the_client_leaves_the_namespace_and_comes_back) {
    start(NULL);
    session *s = connect_socket(NULL);
    say(s, "41");
    cr_assert_eq(cb.disconnected, 1);
    cr_assert_str_eq(cb.reasons[0], "client namespace disconnect");
    cr_assert_eq(weir_eio_sockets(eio), 0);
    expect_error(post(s->data, s->q, "42[\"after\"]"), 400, 3, "Bad request"); /* no socket */
    cr_assert_eq(cb.nevents, 0);
    session_free(s);
    s = connect_socket(NULL);
    say(s, "41");
    say(s, "40");
    response *r = poll_once(s);
    connect_sid(r->body);
    resp_free(r);
    cr_assert_eq(cb.connected, 3);
    session_free(s);
    finish();
}

Test(eio, server_disconnect_sends_disconnect_then_close) {
    start(NULL);
    int k;
    session *s = connect_socket(&k);
    weir_sio_socket *sock = cb.socks[k];
    in_api_call = true;
    weir_sio_disconnect(sock);
    weir_sio_disconnect(sock); /* twice is harmless */
    cr_assert_eq(weir_sio_emit(sock, "x", NULL, 0), WEIR_ESTATE);
    weir_sio_out o = {weir_sbuf_copy("42[\"y\"]", 7), NULL};
    cr_assert_eq(weir_sio_send(sock, &o), WEIR_ESTATE);
    weir_sio_out_clear(&o);
    in_api_call = false;
    cr_assert_eq(cb.disconnected, 0, "disconnected follows from the loop");
    /* the close packet comes in a later answer: with the DISCONNECT it would
     * overtake it in socket.io-client ("transport close") */
    hear(s, "41");
    cr_assert_eq(cb.disconnected, 0);
    hear(s, "1");
    WAIT_UNTIL(cb.disconnected == 1);
    cr_assert_eq(cb.disconnected_inside, 0);
    cr_assert_str_eq(cb.reasons[0], "server namespace disconnect");
    expect_error(get(s->poll, s->q), 400, 1, "Session ID unknown");
    session_free(s);
    finish();
}

Test(eio, server_disconnect_answers_a_held_get) {
    start(NULL);
    int k;
    session *s = connect_socket(&k);
    send_get(s->poll, s->q);
    cli_expect_quiet(s->poll, 20);
    weir_sio_disconnect(cb.socks[k]);
    cr_assert_eq(cb.disconnected, 0);
    response *r = cli_read(s->poll);
    cr_assert_str_eq(r->body, "41");
    resp_free(r);
    send_get(s->poll, s->q);
    r = cli_read(s->poll);
    cr_assert_str_eq(r->body, "1");
    resp_free(r);
    cr_assert_eq(cb.disconnected, 1);
    session_free(s);
    finish();
}

Test(eio, disconnect_inside_the_event_callback_ignores_the_rest) {
    start(NULL);
    cb.disconnect_on_event = true;
    session *s = connect_socket(NULL);
    say(s, "42[\"first\"]\x1e"
           "42[\"second\"]");
    cr_assert_eq(cb.nevents, 1);
    cr_assert_eq(cb.disconnected, 0);
    hear(s, "41");
    say(s, "42[\"ignored\"]\x1e"
           "1"); /* the client's close ends it */
    cr_assert_eq(cb.nevents, 1);
    cr_assert_eq(cb.disconnected, 1);
    cr_assert_str_eq(cb.reasons[0], "server namespace disconnect");
    session_free(s);
    finish();
}

Test(eio, a_closing_session_ends_after_a_grace_period) {
    weir_eio_options o = {.ping_timeout_ms = 40};
    start(&o);
    int k;
    session *s = connect_socket(&k);
    weir_sio_disconnect(cb.socks[k]);
    WAIT_UNTIL(cb.disconnected == 1); /* the client never came to collect */
    expect_error(get(s->poll, s->q), 400, 1, "Session ID unknown");
    session_free(s);
    finish();
}

Test(eio, close_all_disconnects_everyone) {
    start(NULL);
    session *s[3];
    for (int i = 0; i < 3; i++) s[i] = connect_socket(NULL);
    session *bare = handshake(); /* no socket */
    send_get(s[0]->poll, s[0]->q);
    cli_expect_quiet(s[0]->poll, 20);
    in_api_call = true;
    weir_eio_close_all(eio);
    in_api_call = false;
    cr_assert_eq(cb.disconnected, 0);
    response *r = cli_read(s[0]->poll);
    cr_assert_str_eq(r->body, "41");
    resp_free(r);
    hear(s[0], "1");
    hear(s[1], "41");
    say(s[1], "1");
    hear(bare, "1");
    cr_assert_eq(cb.disconnected, 2);
    /* no new sessions */
    client *late = cli_open();
    response *refused = get(late, "EIO=4&transport=polling");
    cr_assert_eq(refused->status, 503);
    cr_assert_str_eq(refused->body, "{\"code\":3,\"message\":\"Server shutting down\"}");
    resp_free(refused);
    ws_request(late, "EIO=4&transport=websocket");
    refused = cli_read(late);
    cr_assert_eq(refused->status, 503);
    resp_free(refused);
    cli_close(late);
    for (int i = 0; i < 2; i++) cr_assert_str_eq(cb.reasons[i], "server shutting down");
    for (int i = 0; i < 3; i++) session_free(s[i]);
    session_free(bare);
    finish(); /* s[2] never collected: destroy ends it */
    cr_assert_eq(cb.disconnected, 3);
}

Test(eio, a_second_get_closes_the_session) {
    start(NULL);
    session *s = connect_socket(NULL);
    send_get(s->poll, s->q);
    cli_expect_quiet(s->poll, 20);
    client *other = cli_open();
    expect_error(get(other, s->q), 400, 3, "Bad request");
    response *r = cli_read(s->poll);
    cr_assert_str_eq(r->body, "1");
    resp_free(r);
    cr_assert_eq(cb.disconnected, 1);
    cr_assert_str_eq(cb.reasons[0], "transport error");
    cli_close(other);
    session_free(s);
    finish();
}

Test(eio, destroy_with_live_sessions_and_held_gets) {
    start(NULL);
    session *s[4];
    for (int i = 0; i < 4; i++) {
        s[i] = connect_socket(NULL);
        cr_assert_eq(weir_sio_emit(cb.socks[i], "pending", "[1,2,3]", 7), 0);
        if (i % 2) {
            hear(s[i], "42[\"pending\",[1,2,3]]");
            send_get(s[i]->poll, s[i]->q);
        }
    }
    session *bare = handshake();
    send_get(bare->poll, bare->q);
    cli_expect_quiet(bare->poll, 20);
    weir_eio_destroy(eio);
    eio = NULL;
    cr_assert_eq(cb.disconnected, 4);
    for (int i = 1; i < 4; i += 2) {
        response *r = cli_read(s[i]->poll);
        cr_assert_str_eq(r->body, "1");
        resp_free(r);
    }
    response *r = cli_read(bare->poll);
    cr_assert_str_eq(r->body, "1");
    resp_free(r);
    for (int i = 0; i < 4; i++) session_free(s[i]);
    session_free(bare);
    finish();
}

/* ------------------------------------------------ allocation failures */

/* A response, or NULL when the connection closed (or nothing came) first. */
static response *try_read(client *c) {
    response *r = calloc(1, sizeof *r);
    uint64_t t0 = now_ms();
    while (!take_response(c, r)) {
        if (c->eof || now_ms() - t0 > BOUND_MS) {
            free(r);
            return NULL;
        }
        if (!cli_pump(c)) step();
    }
    return r;
}

/* Send a request, read the answer: is it 200 with a body starting with
 * want (NULL: any)? */
static bool try_round(client *c, const char *method, const char *q, const char *body, const char *want,
                      response **keep) {
    char req[2048];
    int n = snprintf(req, sizeof req, "%s /socket.io/?%s HTTP/1.1\r\nHost: localhost\r\nContent-Length: %zu\r\n\r\n%s", method,
                     q, strlen(body), body);
    cli_sendn(c, req, (size_t)n);
    response *r = try_read(c);
    bool ok = r && r->status == 200 && (!want || strncmp(r->body, want, strlen(want)) == 0);
    if (keep && ok)
        *keep = r;
    else
        resp_free(r);
    return ok;
}

/* Handshake, connect, an event with an ack, an emit, the client's close:
 * true when all of it went through. */
static bool flow(client *p, client *d) {
    response *open = NULL;
    if (!try_round(p, "GET", "EIO=4&transport=polling", "", "0{", &open)) return false;
    fa_suspend(1);
    json_t *o = json_loads(open->body + 1, 0, NULL);
    char q[128];
    snprintf(q, sizeof q, "EIO=4&transport=polling&sid=%s", json_string_value(json_object_get(o, "sid")));
    json_decref(o);
    fa_suspend(0);
    resp_free(open);
    if (!try_round(d, "POST", q, "40", "ok", NULL)) return false;
    if (!try_round(p, "GET", q, "", "40{", NULL)) return false;
    if (!try_round(d, "POST", q, "421[\"e\",{\"a\":[1,2]}]", "ok", NULL)) return false;
    if (!try_round(p, "GET", q, "", "431[{\"got\":\"e\"}]", NULL)) return false;
    if (!cb.nsocks || !cb.socks[0] || weir_sio_emit(cb.socks[0], "n", "[1]", 3) != 0) return false;
    if (!try_round(p, "GET", q, "", "42[\"n\",[1]]", NULL)) return false;
    if (!try_round(d, "POST", q, "1", "ok", NULL)) return false;
    return cb.disconnected == 1;
}

Test(eio, allocation_failures_are_errors_without_leaks) {
    weir_eio_options o = {.poll_timeout_ms = 30};
    size_t n;
    int completed = 0;
    for (n = 1; n < 1000; n++) {
        start(&o);
        cb.ack_events = true;
        cb.tolerant = true;
        client *p = cli_open(), *d = cli_open();
        /* accepted before failures start: a failure at accept leaves the
         * connection hanging in http.c (libuv has accepted it already; the
         * drop takes the next one from the backlog) - not this module's */
        WAIT_UNTIL(weir_http_server_connections(srv) == 2);
        fa_arm(n);
        bool ok = flow(p, d);
        size_t used = fa_count();
        fa_arm(0);
        completed += ok;
        cli_close(p);
        cli_close(d);
        finish(); /* no leak, the loop closes */
        memset(&cb, 0, sizeof cb);
        cr_assert_eq(uv_loop_init(&loop), 0);
        if (used < n) {
            cr_assert(ok, "the flow failed with no allocation failing");
            break;
        }
    }
    cr_assert_lt(n, 1000, "the flow never ran out of allocations to fail");
    cr_assert_gt(completed, 0);
    uv_loop_close(&loop);
}

/* ----------------------------------------------------------- bad packets */

Test(eio, bad_packets_close_the_session) {
    start(NULL);
    const char *bad[] = {
        "9",                    /* unknown Engine.IO type */
        "bAQID",                /* binary */
        "42[1]",                /* an event without a name */
        "42{\"a\":1}",          /* not an array */
        "42[\"x\"",             /* bad JSON */
        "431[\"x\"]",           /* an ACK from the client */
        "451-[\"up\",{\"_placeholder\":true,\"num\":0}]", /* a binary event */
        "44{\"message\":\"x\"}", /* CONNECT_ERROR from the client */
        "42/admin,[\"x\"]",     /* a namespace it did not join */
        "42[\"disconnect\"]",   /* a reserved name */
        ("42[\"a\"]\x1e\x1e"
         "42[\"b\"]"),          /* an empty packet */
        "",                     /* an empty payload */
    };
    int n = (int)(sizeof bad / sizeof *bad);
    cr_assert_leq(n, 16);
    for (int i = 0; i < n; i++) {
        session *s = connect_socket(NULL);
        expect_error(post(s->data, s->q, bad[i]), 400, 3, "Bad request");
        cr_assert_eq(cb.disconnected, i + 1, "payload %d", i);
        cr_assert_str_eq(cb.reasons[i], "parse error");
        expect_error(get(s->poll, s->q), 400, 1, "Session ID unknown");
        session_free(s);
    }
    cr_assert_eq(cb.nevents, 1, "only the \"a\" before the empty packet was delivered");
    finish();
}

Test(eio, an_event_before_connect_is_an_error) {
    start(NULL);
    session *s = handshake();
    expect_error(post(s->data, s->q, "42[\"early\"]"), 400, 3, "Bad request");
    cr_assert_eq(cb.nevents, 0);
    expect_error(get(s->poll, s->q), 400, 1, "Session ID unknown");
    session_free(s);
    finish();
}

Test(eio, limits_on_posts) {
    weir_eio_options o = {.max_payload = 64};
    start(&o);
    session *s = connect_socket(NULL);
    char big[65];
    memset(big, 'x', sizeof big);
    memcpy(big, "42[\"", 4);
    response *r = post_typed(s->data, s->q, big, sizeof big, "text/plain");
    cr_assert_eq(r->status, 413);
    resp_free(r);
    cr_assert_eq(cb.disconnected, 1);
    cr_assert_str_eq(cb.reasons[0], "transport error");
    session_free(s);
    s = connect_socket(NULL);
    expect_error(post_typed(s->data, s->q, "\x04\x01", 2, "application/octet-stream"), 400, 3, "Bad request");
    cr_assert_eq(cb.disconnected, 2);
    session_free(s);
    /* exactly max_payload is fine */
    s = connect_socket(NULL);
    char fits[64];
    memset(fits, 'y', sizeof fits);
    memcpy(fits, "42[\"", 4);
    memcpy(fits + 62, "\"]", 2);
    response *ok = post_typed(s->data, s->q, fits, sizeof fits, "text/plain");
    cr_assert_eq(ok->status, 200, "%s", ok->body);
    resp_free(ok);
    cr_assert_eq(cb.nevents, 1);
    cr_assert_eq(strlen(cb.events[0].name), 58);
    session_free(s);
    finish();
}

/* ------------------------------------------------------------- websocket */

/* A client frame: FIN, opcode, masked payload. */
static void ws_send_frame(client *c, int opcode, const char *data, size_t len) {
    unsigned char head[14];
    size_t h = 0;
    head[h++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        head[h++] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        head[h++] = 0x80 | 126;
        head[h++] = (unsigned char)(len >> 8);
        head[h++] = (unsigned char)len;
    } else {
        head[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) head[h++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    memcpy(head + h, mask, 4);
    h += 4;
    char *buf = malloc(h + len + 1);
    memcpy(buf, head, h);
    for (size_t i = 0; i < len; i++) buf[h + i] = (char)(data[i] ^ mask[i % 4]);
    cli_sendn(c, buf, h + len);
    free(buf);
}
static void ws_send(client *c, const char *text) { ws_send_frame(c, 1, text, strlen(text)); }

/* Take one whole server frame from the buffer: its opcode, its payload
 * (malloc'd, NUL-terminated). */
static bool ws_take(client *c, int *opcode, char **payload, size_t *plen) {
    if (c->len < 2) return false;
    const unsigned char *b = (const unsigned char *)c->buf;
    cr_assert_eq(b[1] & 0x80, 0, "server frames are not masked");
    cr_assert(b[0] & 0x80, "fragmented server frame");
    size_t len = b[1] & 0x7f, h = 2;
    if (len == 126) {
        if (c->len < 4) return false;
        len = (size_t)b[2] << 8 | b[3];
        h = 4;
    } else if (len == 127) {
        if (c->len < 10) return false;
        len = 0;
        for (int i = 0; i < 8; i++) len = len << 8 | b[2 + i];
        h = 10;
    }
    if (c->len < h + len) return false;
    *opcode = b[0] & 0x0f;
    *payload = malloc(len + 1);
    memcpy(*payload, c->buf + h, len);
    (*payload)[len] = '\0';
    *plen = len;
    memmove(c->buf, c->buf + h + len, c->len - h - len);
    c->len -= h + len;
    return true;
}

/* The next text message (caller frees). */
static char *ws_read(client *c) {
    int op;
    char *p;
    size_t n;
    uint64_t t0 = now_ms();
    while (!ws_take(c, &op, &p, &n)) {
        cr_assert(!c->eof, "the websocket closed");
        cr_assert(now_ms() - t0 < BOUND_MS, "no frame within the bound");
        if (!cli_pump(c)) step();
    }
    cr_assert_eq(op, 1, "opcode %d (%s) where a text frame was expected", op, n > 2 ? p + 2 : "");
    return p;
}

static void ws_expect(client *c, const char *want) {
    char *got = ws_read(c);
    cr_assert_str_eq(got, want);
    free(got);
}

/* The server closes: a close frame (answered), then the end of the stream. */
static uint16_t ws_expect_close(client *c) {
    int op = 0;
    char *p = NULL;
    size_t n = 0;
    uint64_t t0 = now_ms();
    while (!ws_take(c, &op, &p, &n)) {
        cr_assert(!c->eof, "closed without a close frame");
        cr_assert(now_ms() - t0 < BOUND_MS, "no close within the bound");
        if (!cli_pump(c)) step();
    }
    cr_assert_eq(op, 8, "opcode %d (%s) where a close frame was expected", op, p);
    uint16_t code = n >= 2 ? (uint16_t)((unsigned char)p[0] << 8 | (unsigned char)p[1]) : 0;
    free(p);
    ws_send_frame(c, 8, "\x03\xe8", 2);
    t0 = now_ms();
    while (!c->eof) {
        cr_assert(now_ms() - t0 < BOUND_MS, "the server kept the connection open");
        if (!cli_pump(c)) step();
        c->len = 0;
    }
    return code;
}

/* An upgrade request; the 101 answer is read. */
static client *ws_open(const char *query) {
    client *c = cli_open();
    ws_request(c, query);
    uint64_t t0 = now_ms();
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4))) {
        cr_assert(!c->eof, "closed during the handshake: %.*s", (int)c->len, c->buf);
        cr_assert(now_ms() - t0 < BOUND_MS, "no handshake answer");
        if (!cli_pump(c)) step();
    }
    cr_assert(strncmp(c->buf, "HTTP/1.1 101", 12) == 0, "%.*s", (int)c->len, c->buf);
    size_t head = (size_t)(end - c->buf) + 4;
    memmove(c->buf, c->buf + head, c->len - head);
    c->len -= head;
    return c;
}

/* A direct websocket session, connected to "/": its socket is cb.socks[*k]. */
static client *ws_connect_socket(int *k) {
    client *c = ws_open("EIO=4&transport=websocket");
    char *open = ws_read(c);
    cr_assert_eq(open[0], '0', "%s", open);
    free(open);
    ws_send(c, "40");
    char *con = ws_read(c);
    connect_sid(con);
    free(con);
    WAIT_UNTIL(cb.nsocks > 0 && cb.socks[cb.nsocks - 1]);
    if (k) *k = cb.nsocks - 1;
    return c;
}

Test(eio, websocket_direct) {
    start(NULL);
    client *c = ws_open("EIO=4&transport=websocket");
    char *open = ws_read(c);
    cr_assert_eq(open[0], '0');
    json_t *o = json_loads(open + 1, 0, NULL);
    free(open);
    cr_assert_not_null(o);
    cr_assert_eq(strlen(json_string_value(json_object_get(o, "sid"))), 20);
    cr_assert_eq(json_array_size(json_object_get(o, "upgrades")), 0, "no upgrade from websocket");
    cr_assert_eq(json_integer_value(json_object_get(o, "pingInterval")), 25000);
    /* polling on a websocket session is refused */
    char q[128];
    snprintf(q, sizeof q, "EIO=4&transport=polling&sid=%s", json_string_value(json_object_get(o, "sid")));
    json_decref(o);
    client *p = cli_open();
    expect_error(get(p, q), 400, 3, "Bad request");
    cli_close(p);
    cb.ack_events = true;
    ws_send(c, "40{\"token\":\"t\"}");
    char *con = ws_read(c);
    connect_sid(con);
    free(con);
    cr_assert_str_eq(cb.auth_seen, "{\"token\":\"t\"}");
    cr_assert_str_eq(cb.hs_header, "ws-hs");
    ws_send(c, "427[\"hello\",\"w\"]");
    ws_expect(c, "437[{\"got\":\"hello\"}]");
    cr_assert_eq(cb.nevents, 1);
    cr_assert_str_eq(cb.events[0].args, "[\"w\"]");
    weir_sio_socket *sock = cb.socks[0];
    cr_assert_eq(weir_sio_emit(sock, "news", "1", 1), 0);
    weir_sio_out out = {weir_sbuf_copy("42[\"tick\"]", 10), NULL};
    cr_assert_eq(weir_sio_send(sock, &out), 0);
    cr_assert_not_null(out.frame, "the frame is built once and kept");
    weir_sbuf *frame = out.frame;
    cr_assert_eq(weir_sio_send(sock, &out), 0);
    cr_assert_eq(out.frame, frame);
    weir_sio_out_clear(&out);
    ws_expect(c, "42[\"news\",1]");
    ws_expect(c, "42[\"tick\"]");
    ws_expect(c, "42[\"tick\"]");
    WAIT_UNTIL(weir_sio_backlog(sock) == 0);
    cli_close(c); /* the transport goes away */
    WAIT_UNTIL(cb.disconnected == 1);
    cr_assert_str_eq(cb.reasons[0], "transport close");
    finish();
}

Test(eio, websocket_pings_and_ping_timeout) {
    weir_eio_options o = {.ping_interval_ms = 30, .ping_timeout_ms = 60};
    start(&o);
    client *c = ws_connect_socket(NULL);
    for (int i = 0; i < 3; i++) {
        ws_expect(c, "2");
        ws_send(c, "3");
    }
    ws_expect(c, "2");
    WAIT_UNTIL(cb.disconnected == 1);
    cr_assert_str_eq(cb.reasons[0], "ping timeout");
    ws_expect_close(c);
    cli_close(c);
    finish();
}

Test(eio, websocket_client_close_and_bad_packets) {
    start(NULL);
    client *c = ws_connect_socket(NULL);
    ws_send(c, "1");
    WAIT_UNTIL(cb.disconnected == 1);
    cr_assert_str_eq(cb.reasons[0], "transport close");
    ws_expect_close(c);
    cli_close(c);
    const char *bad[] = {"9", "42[1]", "431[]", "2", "bAQID"};
    for (int i = 0; i < 5; i++) {
        c = ws_connect_socket(NULL);
        ws_send(c, bad[i]);
        WAIT_UNTIL(cb.disconnected == i + 2);
        cr_assert_str_eq(cb.reasons[i + 1], bad[i][0] == '2' ? "transport error" : "parse error", "%s", bad[i]);
        ws_expect_close(c);
        cli_close(c);
    }
    finish();
}

Test(eio, websocket_message_over_max_payload) {
    weir_eio_options o = {.max_payload = 100};
    start(&o);
    client *c = ws_connect_socket(NULL);
    char big[101];
    memset(big, 'x', sizeof big);
    memcpy(big, "42[\"", 4);
    ws_send_frame(c, 1, big, sizeof big);
    cr_assert_eq(ws_expect_close(c), 1009);
    WAIT_UNTIL(cb.disconnected == 1);
    cr_assert_str_eq(cb.reasons[0], "transport close");
    cli_close(c);
    finish();
}

Test(eio, websocket_server_disconnect) {
    start(NULL);
    int k;
    client *c = ws_connect_socket(&k);
    in_api_call = true;
    weir_sio_disconnect(cb.socks[k]);
    cr_assert_eq(weir_sio_emit(cb.socks[k], "x", NULL, 0), WEIR_ESTATE);
    in_api_call = false;
    cr_assert_eq(cb.disconnected, 0);
    ws_expect(c, "41");
    ws_expect_close(c);
    WAIT_UNTIL(cb.disconnected == 1);
    cr_assert_eq(cb.disconnected_inside, 0);
    cr_assert_str_eq(cb.reasons[0], "server namespace disconnect");
    cli_close(c);
    finish();
}

static void ws_request(client *c, const char *query) {
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET /socket.io/?%s HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Test: ws-hs\r\n\r\n",
                     query);
    cli_sendn(c, req, (size_t)n);
}

static client *ws_upgrade(const session *s) {
    char q[160];
    snprintf(q, sizeof q, "EIO=4&transport=websocket&sid=%s", s->sid);
    return ws_open(q);
}

Test(eio, upgrade_from_polling) {
    start(NULL);
    int k;
    session *s = connect_socket(&k);
    weir_sio_socket *sock = cb.socks[k];
    send_get(s->poll, s->q);
    cli_expect_quiet(s->poll, 20);
    client *w = ws_upgrade(s);
    cli_expect_quiet(s->poll, 20); /* still held: the probe has not pinged yet */
    /* a second upgrade meanwhile is refused */
    client *w2 = cli_open();
    char q[160];
    snprintf(q, sizeof q, "EIO=4&transport=websocket&sid=%s", s->sid);
    ws_request(w2, q);
    expect_error(cli_read(w2), 400, 3, "Bad request");
    cli_close(w2);
    ws_send(w, "2probe");
    ws_expect(w, "3probe");
    response *r = cli_read(s->poll);
    cr_assert_str_eq(r->body, "6", "the held GET is let go with a noop");
    resp_free(r);
    hear(s, "6"); /* while upgrading a GET is not held */
    /* packets queued during the upgrade wait for it */
    cr_assert_eq(weir_sio_emit(sock, "during", "1", 1), 0);
    cr_assert_eq(weir_sio_backlog(sock), strlen("42[\"during\",1]"));
    ws_send(w, "5");
    ws_expect(w, "42[\"during\",1]");
    WAIT_UNTIL(weir_sio_backlog(sock) == 0);
    /* polling is over */
    expect_error(get(s->poll, s->q), 400, 3, "Bad request");
    expect_error(post(s->data, s->q, "3"), 400, 3, "Bad request");
    w2 = cli_open();
    ws_request(w2, q);
    expect_error(cli_read(w2), 400, 3, "Bad request"); /* upgraded already */
    cli_close(w2);
    /* the same socket goes on over the websocket */
    cb.ack_events = true;
    ws_send(w, "423[\"after\"]");
    ws_expect(w, "433[{\"got\":\"after\"}]");
    cr_assert_eq(weir_sio_emit(sock, "later", NULL, 0), 0);
    ws_expect(w, "42[\"later\"]");
    cr_assert_eq(cb.connected, 1);
    cr_assert_eq(cb.disconnected, 0);
    cr_assert_eq(cb.authorize_calls, 1);
    cli_close(w);
    WAIT_UNTIL(cb.disconnected == 1);
    cr_assert_str_eq(cb.reasons[0], "transport close");
    session_free(s);
    finish();
}

Test(eio, upgrade_pings_follow_the_session) {
    weir_eio_options o = {.ping_interval_ms = 40, .ping_timeout_ms = 5000, .poll_timeout_ms = 5000};
    start(&o);
    session *s = connect_socket(NULL);
    hear(s, "2"); /* a ping over polling */
    client *w = ws_upgrade(s);
    ws_send(w, "2probe");
    ws_expect(w, "3probe");
    ws_send(w, "5");
    ws_send(w, "3"); /* the pong over the websocket */
    ws_expect(w, "2"); /* the next ping comes there */
    ws_send(w, "3");
    ws_expect(w, "2");
    cr_assert_eq(cb.disconnected, 0);
    cli_close(w);
    WAIT_UNTIL(cb.disconnected == 1);
    session_free(s);
    finish();
}

Test(eio, a_failed_probe_leaves_the_session_polling) {
    weir_eio_options o = {.upgrade_timeout_ms = 50};
    start(&o);
    int k;
    session *s = connect_socket(&k);
    /* a probe that says something else */
    client *w = ws_upgrade(s);
    ws_send(w, "4hello");
    ws_expect_close(w);
    cli_close(w);
    /* "5" before the probe */
    w = ws_upgrade(s);
    ws_send(w, "5");
    ws_expect_close(w);
    cli_close(w);
    /* a probe that never speaks */
    w = ws_upgrade(s);
    ws_expect_close(w);
    cli_close(w);
    /* a probe that goes away after probing */
    w = ws_upgrade(s);
    ws_send(w, "2probe");
    ws_expect(w, "3probe");
    cli_close(w);
    /* still polling */
    cr_assert_eq(weir_sio_emit(cb.socks[k], "still", NULL, 0), 0);
    uint64_t t0 = now_ms();
    for (;;) { /* the probe's end may be seen after a GET or two answered with a noop */
        response *r = poll_once(s);
        bool got = strcmp(r->body, "42[\"still\"]") == 0;
        cr_assert(got || strcmp(r->body, "6") == 0, "%s", r->body);
        resp_free(r);
        if (got) break;
        cr_assert(now_ms() - t0 < BOUND_MS);
    }
    say(s, "42[\"ok\"]");
    cr_assert_eq(cb.nevents, 1);
    cr_assert_eq(cb.disconnected, 0);
    /* and a proper upgrade still works */
    w = ws_upgrade(s);
    ws_send(w, "2probe");
    ws_expect(w, "3probe");
    ws_send(w, "5");
    cr_assert_eq(weir_sio_emit(cb.socks[k], "ws", NULL, 0), 0);
    ws_expect(w, "42[\"ws\"]");
    cli_close(w);
    session_free(s);
    finish();
}

Test(eio, websocket_refusals) {
    start(NULL);
    client *c = cli_open();
    ws_request(c, "EIO=4&transport=websocket&sid=unknown");
    expect_error(cli_read(c), 400, 1, "Session ID unknown");
    cli_close(c);
    c = cli_open();
    ws_request(c, "EIO=3&transport=websocket");
    expect_error(cli_read(c), 400, 5, "Unsupported protocol version");
    cli_close(c);
    finish();
}

Test(eio, destroy_with_websockets_and_a_probe) {
    start(NULL);
    client *a = ws_connect_socket(NULL);
    client *b = ws_connect_socket(NULL);
    session *s = connect_socket(NULL);
    client *w = ws_upgrade(s);
    ws_send(w, "2probe");
    ws_expect(w, "3probe");
    cr_assert_eq(weir_eio_sockets(eio), 3);
    weir_eio_destroy(eio);
    eio = NULL;
    cr_assert_eq(cb.disconnected, 3);
    for (int i = 0; i < 3; i++) cr_assert_str_eq(cb.reasons[i], "server shutting down");
    ws_expect_close(a);
    ws_expect_close(w);
    cli_close(a);
    cli_close(b);
    cli_close(w);
    session_free(s);
    finish();
}
