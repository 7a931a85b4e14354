/*
 * More ways to write a component (SPEC §2, §2.3), through the real `weir
 * serve`: TypeScript end to end and its errors with TypeScript's line and
 * column; WebAssembly end to end (the committed examples/wasm-square), a
 * runaway wasm loop cut by the time limit onto the node's error port, a
 * memory that may not grow past ISOLATE_MEMORY_MB; execution.sourceUrl
 * fetched once from a local server (EGRESS_ALLOW_PRIVATE=true), pinned by
 * its SHA-256, not fetched again after a restart, refused on a private
 * address without the flag; CATALOG_URL resolving a graph's unknown
 * component from a local catalog, and one the catalog does not have.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proc.h"
#include "serve.h"

#define TYPESCRIPT WEIR_BUILD_DIR "/js/node_modules/typescript" /* tests/js/setup.sh installs it */
/* Does the node the server runs (WEIR_NODE, else node on PATH) strip types itself? */
#define STRIPS_TYPES "${WEIR_NODE:-node} -p \"typeof require('module').stripTypeScriptTypes\""

/* ------------------------------------------------------------- helpers */

static char *file_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    char *buf = malloc(1 << 20);
    *n = fread(buf, 1, (1 << 20) - 1, f);
    buf[*n] = '\0';
    fclose(f);
    return buf;
}

static char *b64(const unsigned char *s, size_t n) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);
        *o++ = A[v >> 18 & 63];
        *o++ = A[v >> 12 & 63];
        *o++ = i + 1 < n ? A[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? A[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

static void sha256_hex(const void *data, size_t n, char out[72]) {
    unsigned char md[32];
    unsigned len = 0;
    cr_assert(EVP_Digest(data, n, md, &len, EVP_sha256(), NULL));
    strcpy(out, "sha256:");
    for (int i = 0; i < 32; i++) sprintf(out + 7 + 2 * i, "%02x", md[i]);
}

static const char *str(http_resp *r, const char *key) { return json_string_value(json_object_get(r->json, key)); }

static json_t *exec_of(http_resp *r) { return json_object_get(r->json, "execution"); }

static void post_component(server *s, const char *def) {
    http_resp r = http_req(s, "POST", "/api/components", def, NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    http_free(&r);
}

static void refused(server *s, const char *def, long status, const char *needle) {
    http_resp r = http_req(s, "POST", "/api/components", def, NULL);
    cr_assert_eq(r.status, status, "%s -> %s", def, r.body);
    cr_assert_not_null(str(&r, "error"), "%s", r.body);
    cr_assert_not_null(strstr(str(&r, "error"), needle), "wanted \"%s\" in: %s", needle, r.body);
    http_free(&r);
}

/* POST an inject and return its answer's outputs (a new reference). */
static json_t *inject(server *s, const char *exec_id, const char *body) {
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/inject", exec_id);
    http_resp r = http_req(s, "POST", path, body, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *out = json_incref(json_object_get(r.json, "outputs"));
    http_free(&r);
    return out;
}

static const char *dump(json_t *v) {
    static char buf[4096];
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    snprintf(buf, sizeof buf, "%s", t ? t : "(null)");
    free(t);
    return buf;
}

/* input → <component> → output, its error port → failed. */
static const char *pipeline(const char *name, const char *component) {
    static char g[2048];
    snprintf(g, sizeof g,
             "{\"symbia\": \"1.0\", \"name\": \"%s\", \"nodes\": ["
             " {\"id\": \"input\", \"component\": \"symbia.core.passthrough\"},"
             " {\"id\": \"c\", \"component\": \"%s\"},"
             " {\"id\": \"output\", \"component\": \"symbia.core.passthrough\"},"
             " {\"id\": \"failed\", \"component\": \"symbia.core.passthrough\"}], \"edges\": ["
             " {\"source\": {\"node\": \"input\", \"port\": \"out\"}, \"target\": {\"node\": \"c\", \"port\": \"in\"}},"
             " {\"source\": {\"node\": \"c\", \"port\": \"out\"}, \"target\": {\"node\": \"output\", \"port\": \"in\"}},"
             " {\"source\": {\"node\": \"c\", \"port\": \"error\"}, \"target\": {\"node\": \"failed\", \"port\": \"in\"}}]}",
             name, component);
    return g;
}

/* A file server on a thread: answers GET <path> from a table, 404
 * otherwise, counting the requests for each path. */
typedef struct file {
    const char *path;
    const char *body;
    size_t len;
    int hits;
} file;

typedef struct files {
    int fd, port;
    file *table;
    size_t n;
    volatile int stop;
    pthread_mutex_t mu;
    pthread_t thread;
} files;

static void *files_serve(void *arg) {
    files *f = arg;
    while (!f->stop) {
        struct pollfd pfd = {f->fd, POLLIN, 0};
        if (poll(&pfd, 1, 50) != 1) continue;
        int c = accept(f->fd, NULL, NULL);
        if (c < 0) continue;
        char req[4096] = "";
        size_t got = 0;
        while (got < sizeof req - 1 && !strstr(req, "\r\n\r\n")) { /* the headers, whole */
            ssize_t n = read(c, req + got, sizeof req - 1 - got);
            if (n <= 0) break;
            got += (size_t)n;
            req[got] = '\0';
        }
        req[got] = '\0';
        char path[512] = "";
        sscanf(req, "GET %511s", path);
        file *hit = NULL;
        pthread_mutex_lock(&f->mu);
        for (size_t i = 0; i < f->n; i++)
            if (strcmp(f->table[i].path, path) == 0) {
                hit = &f->table[i];
                hit->hits++;
            }
        pthread_mutex_unlock(&f->mu);
        const char *body = hit ? hit->body : "no such file";
        size_t len = hit ? hit->len : strlen(body);
        char head[256];
        int hl = snprintf(head, sizeof head,
                          "HTTP/1.1 %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %zu\r\n"
                          "Connection: close\r\n\r\n",
                          hit ? "200 OK" : "404 Not Found", len);
        ssize_t w = write(c, head, (size_t)hl);
        for (size_t off = 0; w >= 0 && off < len; off += (size_t)w) w = write(c, body + off, len - off);
        close(c);
    }
    return NULL;
}

static void files_start(files *f, file *table, size_t n) {
    memset(f, 0, sizeof *f);
    f->table = table;
    f->n = n;
    pthread_mutex_init(&f->mu, NULL);
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(f->fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    getsockname(f->fd, (struct sockaddr *)&a, &al);
    cr_assert_eq(listen(f->fd, 16), 0);
    f->port = ntohs(a.sin_port);
    pthread_create(&f->thread, NULL, files_serve, f);
}

static int files_hits(files *f, const char *path) {
    pthread_mutex_lock(&f->mu);
    int n = 0;
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->table[i].path, path) == 0) n = f->table[i].hits;
    pthread_mutex_unlock(&f->mu);
    return n;
}

/* Stop serving: the port refuses connections from now on. */
static void files_stop(files *f) {
    f->stop = 1;
    pthread_join(f->thread, NULL);
    close(f->fd);
}

/* ---------------------------------------------------------- TypeScript */

static const char *const TS_ARGS[] = {"--memory", "--typescript", TYPESCRIPT, NULL};

Test(langs, a_typescript_component_end_to_end) {
    server s = serve_start(TS_ARGS);
    proc_result v = proc_run(STRIPS_TYPES);
    cr_assert_not_null(strstr(serve_log(&s), strstr(v.out, "function") ? "TypeScript components: types stripped by "
                                                                          "Node.js itself"
                                                                        : "TypeScript components: types stripped with "
                                                                          "the typescript package in "),
                       "%s", serve_log(&s));
    proc_free(&v);
    size_t n;
    char *def = file_bytes(WEIR_SOURCE_DIR "/examples/ts-average/component.json", &n);
    char *graph = file_bytes(WEIR_SOURCE_DIR "/examples/ts-average/graph.json", &n);
    http_resp r = http_req(&s, "POST", "/api/components", def, NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(exec_of(&r), "type")), "typescript");
    cr_assert_not_null(strstr(json_string_value(json_object_get(exec_of(&r), "source")), "interface Ctx"),
                       "the source is kept as written: %s", r.body);
    const char *src = json_string_value(json_object_get(exec_of(&r), "source"));
    char want[72];
    sha256_hex(src, strlen(src), want);
    cr_assert_str_eq(json_string_value(json_object_get(exec_of(&r), "sourceHash")), want);
    http_free(&r);
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, graph, "{\"completion\": \"never\"}"));
    json_t *out = inject(&s, x, "{\"nodeId\": \"input\", \"value\": 4}");
    cr_assert_float_eq(json_number_value(json_object_get(out, "output:out")), 4.0, 1e-9, "%s", dump(out));
    json_decref(out);
    out = inject(&s, x, "{\"nodeId\": \"input\", \"value\": 8}");
    cr_assert_float_eq(json_number_value(json_object_get(out, "output:out")), 6.0, 1e-9, "%s", dump(out));
    json_decref(out);
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/state", x);
    http_resp st = http_req(&s, "GET", path, NULL, NULL);
    cr_assert_str_eq(dump(json_object_get(json_object_get(json_object_get(st.json, "nodes"), "average"), "stats")),
                     "{\"n\":2,\"sum\":12}", "%s", st.body);
    http_free(&st);
    free(def);
    free(graph);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(langs, typescript_errors_keep_typescripts_line_and_column) {
    server s = serve_start(TS_ARGS);
    /* line 3, column 21: the expression missing after '=' */
    refused(&s,
            "{\"id\": \"acme.ts.bad\", \"name\": \"B\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]},"
            " \"execution\": {\"type\": \"typescript\", \"source\":"
            " \"type T = { a: number };\\nconst ok: T = { a: 1 };\\nconst broken: number = ;\\nreturn { process() {} }\"}}",
            400, "execution.source does not compile: TypeScript: Expression expected");
    refused(&s,
            "{\"id\": \"acme.ts.bad\", \"name\": \"B\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]},"
            " \"execution\": {\"type\": \"typescript\", \"source\":"
            " \"type T = { a: number };\\nconst ok: T = { a: 1 };\\nconst broken: number = ;\\nreturn { process() {} }\"}}",
            400, " at line 3, column 24"); /* TS1109 from the typescript package; Node's own says no code */
    /* on the first line, where weir's wrapper is: the column is still the user's */
    refused(&s,
            "{\"id\": \"acme.ts.bad\", \"name\": \"B\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]},"
            " \"execution\": {\"type\": \"typescript\", \"source\": \"let x: = 1; return { process() {} }\"}}",
            400, "at line 1, column 8");
    /* nothing was registered */
    http_resp g = http_req(&s, "GET", "/api/components/acme.ts.bad", NULL, NULL);
    cr_assert_eq(g.status, 404);
    http_free(&g);
    cr_assert_eq(serve_stop(&s), 0);
}

/* A source nested past the compiler's stack is refused as the source's
 * error; the host process lives on (it died before, review). */
Test(langs, a_source_the_typescript_compiler_cannot_take_is_refused) {
    server s = serve_start(TS_ARGS);
    size_t depth = 200000, n = depth + 512;
    char *def = malloc(n);
    cr_assert_not_null(def);
    int at = snprintf(def, n,
                      "{\"id\": \"acme.ts.deep\", \"name\": \"D\", \"version\": \"1\", \"ports\": {\"inputs\": "
                      "[\"in\"]}, \"execution\": {\"type\": \"typescript\", \"source\": \"const x = ");
    memset(def + at, '(', depth);
    snprintf(def + at + depth, n - (size_t)at - depth, "\"}}");
    refused(&s, def, 400, "TypeScript: ");
    free(def);
    /* the same host still compiles */
    post_component(&s, "{\"id\": \"acme.ts.fine\", \"name\": \"F\", \"version\": \"1\", \"ports\": {\"inputs\": "
                       "[\"in\"], \"outputs\": [\"out\"]}, \"execution\": {\"type\": \"typescript\", \"source\": "
                       "\"return { process(ctx: any, port: string, v: number) { ctx.emit('out', v) } }\"}}");
    cr_assert_eq(serve_stop(&s), 0);
}

/* Without the typescript package (and a Node.js that cannot strip types),
 * the error says how to get it. */
Test(langs, typescript_without_the_compiler_says_how_to_install_it) {
    const char *const args[] = {"--memory", "--typescript", "/nonexistent/typescript", NULL};
    server s = serve_start(args);
    http_resp r = http_req(&s, "POST", "/api/components",
                           "{\"id\": \"acme.ts.x\", \"name\": \"X\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]},"
                           " \"execution\": {\"type\": \"typescript\", \"source\": \"return { process() {} }\"}}",
                           NULL);
    proc_result v = proc_run(STRIPS_TYPES);
    if (strstr(v.out, "function")) { /* this Node.js strips types itself */
        cr_assert_eq(r.status, 201, "%s", r.body);
    } else {
        cr_assert_not_null(strstr(serve_log(&s), "TypeScript components are unavailable: WEIR_TYPESCRIPT holds none"),
                           "the start log says so: %s", serve_log(&s));
        cr_assert_eq(r.status, 400, "%s", r.body);
        cr_assert_not_null(strstr(str(&r, "error"), "npm install -g typescript"), "%s", r.body);
        cr_assert_not_null(strstr(str(&r, "error"), "WEIR_TYPESCRIPT"), "%s", r.body);
    }
    proc_free(&v);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

/* --------------------------------------------------------- WebAssembly */

/* examples/wasm-square/loop.c's like: process spins forever. */
static const char LOOP_WASM[] =
    "AGFzbQEAAAABDgJgAX8Bf2AEf39/fwF/AwMCAAEEBQFwAQEBBQQBAQICBggBfwFBgKgECwccAwZtZW1vcnkCAAVhbGxvYwAAB3Byb2Nlc3M"
    "AAQoxAggAQYCIgIAACyYBAX8jgICAgABBEGsiBEEANgIMA38gBCAEKAIMQQFqNgIMDAALCw==";
/* process asks memory.grow for 2560 pages (160 MiB: within what the
 * process may allocate, ISOLATE_MEMORY_MB + 128, beyond what a module's
 * memory may hold, ISOLATE_MEMORY_MB) and emits what it answered on out
 * (-1: refused); its memory declares no maximum. */
static const char GROW_WASM[] =
    "AGFzbQEAAAABDgJgAX8Bf2AEf39/fwF/AwMCAAEEBQFwAQEBBQMBAAIGCAF/AUGAigQLBxwDBm1lbW9yeQIABWFsbG9jAAAHcHJvY2VzcwABCrEE"
    "AhEAQYCIgIAAQQAgAEGBAUkbC5wEAQl/I4CAgIAAQRBrIQRBgBRAACEFQQAhBkEAQTo6AJqJgIAAQQBB5cQAOwGYiYCAAEEAQfbCsasHNgKUiYCA"
    "AEEAQrrEvKvHzoiWIjcCjImAgABBAELb9omB982cuiI3AoSJgIAAQRshBwJAIAVBf0oNAEEAQS06AJuJgIAAQRwhB0EBIQULQQEhCANAIARBBGog"
    "BmogBSAFQQptIglBCmxrQTBqOgAAIAgiCkEBaiEIIAZBAWohBiAFQQlqIQsgCSEFIAtBEksNAAsgBkF/aiEMAkACQCAGQQNxDQAMAQtBACEFQQAg"
    "CkEDcWshCSAEQQRqIAZqIQtBgImAgAAhCANAIAggB2ogCyAFakF/ai0AADoAACAIQQFqIQggCSAFQX9qIgVHDQALIAYgBWohBiAHIAVrIgdBf2oh"
    "BQsCQCAMQQNJDQBBACEIQQAgBmshCSAGIARBBGpqQXxqIQUDQCAHIAhqIgZBgImAgABqIAVBA2otAAA6AAAgBkGBiYCAAGogBUECai0AADoAACAG"
    "QYKJgIAAaiAFQQFqLQAAOgAAIAZBg4mAgABqIAUtAAA6AAAgBUF8aiEFIAkgCEEEaiIIag0ACyAHIAhqIgdBf2ohBQsgB0GAiYCAAGpB/QA6AAAg"
    "BUGCiYCAAGpB3QA6AABBACAHQX5qOgCAiYCAAEEAQQA6AIOJgIAAQQBBADsAgYmAgABBgImAgAAL";

static const char *wasm_def(const char *id, const char *base64) {
    static char buf[8192];
    snprintf(buf, sizeof buf,
             "{\"id\": \"%s\", \"name\": \"W\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"], \"outputs\": "
             "[\"out\"]}, \"execution\": {\"type\": \"wasm\", \"source\": \"%s\"}}",
             id, base64);
    return buf;
}

Test(langs, the_wasm_example_end_to_end) {
    server s = serve_start((const char *const[]){"--memory", NULL});
    size_t n, wn;
    char *def = file_bytes(WEIR_SOURCE_DIR "/examples/wasm-square/component.json", &n);
    char *graph = file_bytes(WEIR_SOURCE_DIR "/examples/wasm-square/graph.json", &n);
    char *wasm = file_bytes(WEIR_SOURCE_DIR "/examples/wasm-square/square.wasm", &wn);
    char *encoded = b64((const unsigned char *)wasm, wn);
    http_resp r = http_req(&s, "POST", "/api/components", def, NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(exec_of(&r), "source")), encoded,
                     "component.json carries the committed square.wasm (examples/wasm-square/build.sh)");
    char want[72];
    sha256_hex(wasm, wn, want);
    cr_assert_str_eq(json_string_value(json_object_get(exec_of(&r), "sourceHash")), want, "of the module's bytes");
    http_free(&r);
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, graph, "{\"completion\": \"never\"}"));
    json_t *out = inject(&s, x, "{\"nodeId\": \"input\", \"value\": 7}");
    cr_assert_eq(json_integer_value(json_object_get(out, "output:out")), 49, "%s", dump(out));
    json_decref(out);
    out = inject(&s, x, "{\"nodeId\": \"input\", \"value\": -30000}");
    cr_assert_eq(json_integer_value(json_object_get(out, "output:out")), 900000000, "%s", dump(out));
    json_decref(out);
    /* {"error"} from process goes to the error port */
    out = inject(&s, x, "{\"nodeId\": \"input\", \"value\": 2.5}");
    cr_assert_not_null(strstr(dump(json_object_get(out, "failed:out")), "square takes an integer"), "%s", dump(out));
    json_decref(out);
    /* state through env.getState / env.setState; logs through env.log */
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/state", x);
    http_resp st = http_req(&s, "GET", path, NULL, NULL);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(json_object_get(st.json, "nodes"), "square"),
                                                    "count")),
                 2, "%s", st.body);
    http_free(&st);
    free(def);
    free(graph);
    free(wasm);
    free(encoded);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(langs, a_runaway_wasm_loop_goes_to_the_error_port_and_the_server_keeps_going) {
    server s = serve_start((const char *const[]){"--memory", "--isolate-timeout-ms", "300", NULL});
    post_component(&s, wasm_def("acme.wasm.loop", LOOP_WASM));
    size_t n;
    char *square = file_bytes(WEIR_SOURCE_DIR "/examples/wasm-square/component.json", &n);
    post_component(&s, square);
    free(square);
    char loop[64], sq[64];
    snprintf(loop, sizeof loop, "%s", serve_execute(&s, pipeline("loop", "acme.wasm.loop"), "{\"completion\": \"never\"}"));
    snprintf(sq, sizeof sq, "%s", serve_execute(&s, pipeline("sq", "acme.wasm.square"), "{\"completion\": \"never\"}"));
    double t0 = proc_now_ms();
    json_t *out = inject(&s, loop, "{\"nodeId\": \"input\", \"value\": 1}");
    double ms = proc_now_ms() - t0;
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "failed:out"), "error")),
                     "component acme.wasm.loop (process): timed out after 300 ms", "%s", dump(out));
    cr_assert_lt(ms, 5000, "cut by the time limit, not left to spin (%.0f ms)", ms);
    json_decref(out);
    /* the server, the other execution and the looping one itself go on */
    out = inject(&s, sq, "{\"nodeId\": \"input\", \"value\": 12}");
    cr_assert_eq(json_integer_value(json_object_get(out, "output:out")), 144, "%s", dump(out));
    json_decref(out);
    http_resp h = http_req(&s, "GET", "/health", NULL, NULL);
    cr_assert_eq(h.status, 200);
    http_free(&h);
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s", loop);
    http_resp e = http_req(&s, "GET", path, NULL, NULL);
    cr_assert_str_eq(str(&e, "state"), "running", "%s", e.body);
    http_free(&e);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(langs, a_wasm_memory_may_not_grow_past_the_limit) {
    server s = serve_start((const char *const[]){"--memory", NULL}); /* ISOLATE_MEMORY_MB 128: 2048 pages */
    post_component(&s, wasm_def("acme.wasm.grow", GROW_WASM));
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, pipeline("grow", "acme.wasm.grow"), "{\"completion\": \"never\"}"));
    json_t *out = inject(&s, x, "{\"nodeId\": \"input\", \"value\": 1}");
    cr_assert_eq(json_integer_value(json_object_get(out, "output:out")), -1, "memory.grow by 160 MiB is refused: %s",
                 dump(out));
    json_decref(out);
    cr_assert_eq(serve_stop(&s), 0);
}

Test(langs, wasm_modules_are_checked_at_registration) {
    server s = serve_start((const char *const[]){"--memory", NULL});
    refused(&s, wasm_def("acme.wasm.bad", "AGFzbQ=="), 400, "is not a WebAssembly module in base64");
    /* the ABI's exports: a module exporting only memory, alloc and nothing else */
    refused(&s, wasm_def("acme.wasm.bad", "AGFzbQEAAAAFAwEAAQcKAQZtZW1vcnkCAA=="), 400,
            "the module does not export alloc (function), process (function)");
    refused(&s, wasm_def("acme.wasm.bad", "not base64"), 400, "the module's bytes in base64");
    cr_assert_eq(serve_stop(&s), 0);
}

/* ----------------------------------------------------------- sourceUrl */

#define INC_JS "return { process: (ctx, port, value) => ctx.emit('out', value + 1) }"

Test(langs, a_source_url_is_fetched_once_pinned_and_kept_over_a_restart) {
    file table[] = {{"/inc.js", INC_JS, sizeof INC_JS - 1, 0}};
    files f;
    files_start(&f, table, 1);
    char dir[64];
    proc_tempdir(dir, sizeof dir, "langs");
    const char *const args[] = {"--data-dir", dir, "--egress-allow-private", "true", NULL};
    server s = serve_start(args);
    char def[1024];
    snprintf(def, sizeof def,
             "{\"id\": \"acme.url.inc\", \"name\": \"Inc\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"],"
             " \"outputs\": [\"out\"]}, \"execution\": {\"type\": \"javascript\", \"sourceUrl\":"
             " \"http://127.0.0.1:%d/inc.js\"}}",
             f.port);
    http_resp r = http_req(&s, "POST", "/api/components", def, NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    char want[72];
    sha256_hex(INC_JS, strlen(INC_JS), want);
    cr_assert_str_eq(json_string_value(json_object_get(exec_of(&r), "sourceHash")), want);
    cr_assert_str_eq(json_string_value(json_object_get(exec_of(&r), "source")), INC_JS, "stored like an inline one");
    cr_assert_not_null(strstr(json_string_value(json_object_get(exec_of(&r), "sourceUrl")), "/inc.js"));
    http_free(&r);
    cr_assert_eq(files_hits(&f, "/inc.js"), 1);
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, pipeline("inc", "acme.url.inc"), "{\"completion\": \"never\"}"));
    json_t *out = inject(&s, x, "{\"nodeId\": \"input\", \"value\": 41}");
    cr_assert_eq(json_integer_value(json_object_get(out, "output:out")), 42, "%s", dump(out));
    json_decref(out);
    /* A pin that does not match is refused (the same URL, another hash). */
    char pinned[1200];
    snprintf(pinned, sizeof pinned,
             "{\"id\": \"acme.url.pinned\", \"name\": \"Inc\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]},"
             " \"execution\": {\"type\": \"javascript\", \"sourceUrl\": \"http://127.0.0.1:%d/inc.js\", \"sourceHash\":"
             " \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"}}",
             f.port);
    refused(&s, pinned, 400, "the source fetched from sourceUrl has SHA-256 ");
    cr_assert_eq(serve_stop(&s), 0);
    /* The source server is gone; the restarted server has the source. */
    int hits = files_hits(&f, "/inc.js");
    files_stop(&f);
    s = serve_start(args);
    http_resp g = http_req(&s, "GET", "/api/components/acme.url.inc", NULL, NULL);
    cr_assert_eq(g.status, 200, "%s", g.body);
    cr_assert_str_eq(json_string_value(json_object_get(exec_of(&g), "sourceHash")), want);
    http_free(&g);
    snprintf(x, sizeof x, "%s", serve_execute(&s, pipeline("inc2", "acme.url.inc"), "{\"completion\": \"never\"}"));
    out = inject(&s, x, "{\"nodeId\": \"input\", \"value\": 1}");
    cr_assert_eq(json_integer_value(json_object_get(out, "output:out")), 2, "%s", dump(out));
    json_decref(out);
    cr_assert_eq(files_hits(&f, "/inc.js"), hits, "not fetched again");
    cr_assert_eq(serve_stop(&s), 0);
    serve_rmdir(dir);
}

Test(langs, a_wasm_source_url_and_a_missing_one) {
    size_t wn;
    char *wasm = file_bytes(WEIR_SOURCE_DIR "/examples/wasm-square/square.wasm", &wn);
    file table[] = {{"/square.wasm", wasm, wn, 0}};
    files f;
    files_start(&f, table, 1);
    server s = serve_start((const char *const[]){"--memory", "--egress-allow-private", "true", NULL});
    char def[1024];
    snprintf(def, sizeof def,
             "{\"id\": \"acme.url.square\", \"name\": \"Sq\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"],"
             " \"outputs\": [\"out\"]}, \"execution\": {\"type\": \"wasm\", \"sourceUrl\":"
             " \"http://127.0.0.1:%d/square.wasm\"}}",
             f.port);
    http_resp r = http_req(&s, "POST", "/api/components", def, NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    char want[72];
    sha256_hex(wasm, wn, want);
    cr_assert_str_eq(json_string_value(json_object_get(exec_of(&r), "sourceHash")), want, "the bytes, unchanged");
    http_free(&r);
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, pipeline("sq", "acme.url.square"), "{\"completion\": \"never\"}"));
    json_t *out = inject(&s, x, "{\"nodeId\": \"input\", \"value\": 9}");
    cr_assert_eq(json_integer_value(json_object_get(out, "output:out")), 81, "%s", dump(out));
    json_decref(out);
    snprintf(def, sizeof def,
             "{\"id\": \"acme.url.gone\", \"name\": \"G\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]},"
             " \"execution\": {\"type\": \"wasm\", \"sourceUrl\": \"http://127.0.0.1:%d/gone.wasm\"}}",
             f.port);
    char needle[200];
    snprintf(needle, sizeof needle, "execution.sourceUrl http://127.0.0.1:%d/gone.wasm answered 404: no such file",
             f.port);
    refused(&s, def, 400, needle);
    cr_assert_eq(serve_stop(&s), 0);
    files_stop(&f);
    free(wasm);
}

Test(langs, a_source_url_to_a_private_address_is_refused_without_the_flag) {
    file table[] = {{"/inc.js", INC_JS, sizeof INC_JS - 1, 0}};
    files f;
    files_start(&f, table, 1);
    server s = serve_start((const char *const[]){"--memory", NULL});
    char def[1024];
    snprintf(def, sizeof def,
             "{\"id\": \"acme.url.inc\", \"name\": \"Inc\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]},"
             " \"execution\": {\"type\": \"javascript\", \"sourceUrl\": \"http://127.0.0.1:%d/inc.js\"}}",
             f.port);
    refused(&s, def, 400, "egress refused: 127.0.0.1 is in 127.0.0.0/8");
    refused(&s, def, 400, "set EGRESS_ALLOW_PRIVATE=true to allow");
    cr_assert_eq(files_hits(&f, "/inc.js"), 0, "never reached");
    cr_assert_eq(serve_stop(&s), 0);
    files_stop(&f);
}

/* A source (or catalog definition) over SOURCE_MAX_BYTES: the error names
 * the setting, its value and how to get past it. */
Test(langs, a_source_over_its_limit_names_the_setting) {
    static char big[4096];
    memset(big, ' ', sizeof big - 1);
    memcpy(big, "//", 2);
    char bigdef[4096];
    int bl = snprintf(bigdef, sizeof bigdef,
                      "{\"id\": \"acme.cat.big\", \"name\": \"B\", \"version\": \"1\", \"ports\": {\"inputs\":"
                      " [\"in\"]}, \"execution\": {\"type\": \"javascript\", \"source\": \"return {process(){}}\"},"
                      " \"description\": \"%2000s\"}",
                      "");
    file table[] = {{"/big.js", big, sizeof big - 1, 0}, {"/cat/acme.cat.big.json", bigdef, (size_t)bl, 0}};
    files f;
    files_start(&f, table, 2);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/cat", f.port);
    server s = serve_start((const char *const[]){"--memory", "--egress-allow-private", "true", "--source-max-bytes",
                                                 "1k", "--catalog-url", url, NULL});
    char def[1024], needle[512];
    snprintf(def, sizeof def,
             "{\"id\": \"acme.url.big\", \"name\": \"B\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]},"
             " \"execution\": {\"type\": \"javascript\", \"sourceUrl\": \"http://127.0.0.1:%d/big.js\"}}",
             f.port);
    snprintf(needle, sizeof needle,
             "execution.sourceUrl http://127.0.0.1:%d/big.js is larger than SOURCE_MAX_BYTES (1024 bytes): serve a "
             "smaller source, or raise SOURCE_MAX_BYTES (--source-max-bytes)",
             f.port);
    refused(&s, def, 400, needle);
    http_resp r = http_req(&s, "POST", "/api/graphs", pipeline("big", "acme.cat.big"), NULL);
    cr_assert_eq(r.status, 400, "%s", r.body);
    snprintf(needle, sizeof needle,
             "component acme.cat.big is not built in or registered, and the catalog's definition (GET "
             "http://127.0.0.1:%d/cat/acme.cat.big.json) is larger than SOURCE_MAX_BYTES (1024 bytes): ",
             f.port);
    cr_assert_not_null(strstr(str(&r, "error"), needle), "%s", r.body);
    cr_assert_not_null(strstr(str(&r, "error"), "raise SOURCE_MAX_BYTES (--source-max-bytes)"), "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
    files_stop(&f);
}

/* SOURCE_MAX_BYTES above what any fetch takes (16 MiB): the error says the
 * lower bound applied, not the setting. */
Test(langs, a_source_over_the_fetch_bound_says_which_bound) {
    size_t n = (17u << 20);
    char *huge = malloc(n);
    memset(huge, ' ', n);
    memcpy(huge, "//", 2);
    file table[] = {{"/huge.js", huge, n, 0}};
    files f;
    files_start(&f, table, 1);
    server s = serve_start(
        (const char *const[]){"--memory", "--egress-allow-private", "true", "--source-max-bytes", "20m", NULL});
    char def[1024];
    snprintf(def, sizeof def,
             "{\"id\": \"acme.url.huge\", \"name\": \"H\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]},"
             " \"execution\": {\"type\": \"javascript\", \"sourceUrl\": \"http://127.0.0.1:%d/huge.js\"}}",
             f.port);
    refused(&s, def, 400, "huge.js is larger than 16777216 bytes, the most any fetch of weir's takes (SOURCE_MAX_BYTES "
                          "is 20971520): serve a smaller source");
    cr_assert_eq(serve_stop(&s), 0);
    files_stop(&f);
    free(huge);
}

/* A source server that never answers: SOURCE_TIMEOUT_MS bounds the wait. */
Test(langs, a_source_that_never_comes_times_out) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    cr_assert_eq(listen(fd, 4), 0); /* connections wait in the backlog, never accepted */
    server s = serve_start(
        (const char *const[]){"--memory", "--egress-allow-private", "true", "--source-timeout-ms", "300", NULL});
    char def[1024];
    snprintf(def, sizeof def,
             "{\"id\": \"acme.url.slow\", \"name\": \"S\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]},"
             " \"execution\": {\"type\": \"javascript\", \"sourceUrl\": \"http://127.0.0.1:%d/slow.js\"}}",
             ntohs(a.sin_port));
    double t0 = proc_now_ms();
    refused(&s, def, 400, "could not be fetched: timeout after 300 ms");
    cr_assert_lt(proc_now_ms() - t0, 5000);
    cr_assert_eq(serve_stop(&s), 0);
    close(fd);
}

/* ------------------------------------------------------------- catalog */

Test(langs, the_catalog_resolves_an_unknown_component) {
    static const char DOUBLE[] =
        "{\"id\": \"acme.cat.double\", \"name\": \"Double\", \"version\": \"2.0.0\", \"ports\": {\"inputs\": [\"in\"],"
        " \"outputs\": [\"out\"]}, \"execution\": {\"type\": \"typescript\", \"source\":"
        " \"return { process: (ctx: any, port: string, v: number) => ctx.emit('out', v * 2) }\"}}";
    static const char WRONG[] =
        "{\"id\": \"acme.cat.other\", \"name\": \"O\", \"version\": \"1\", \"ports\": {\"inputs\": [\"in\"]},"
        " \"execution\": {\"type\": \"javascript\", \"source\": \"return {process(){}}\"}}";
    file table[] = {{"/components/acme.cat.double.json", DOUBLE, sizeof DOUBLE - 1, 0},
                    {"/components/acme.cat.liar.json", WRONG, sizeof WRONG - 1, 0}};
    files f;
    files_start(&f, table, 2);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/components/", f.port);
    const char *const args[] = {"--memory", "--egress-allow-private", "true", "--catalog-url", url, "--typescript",
                                TYPESCRIPT, NULL};
    server s = serve_start(args);
    http_resp g = http_req(&s, "GET", "/api/components/acme.cat.double", NULL, NULL);
    cr_assert_eq(g.status, 404, "not registered before a graph asks for it");
    http_free(&g);
    char x[64];
    snprintf(x, sizeof x, "%s", serve_execute(&s, pipeline("cat", "acme.cat.double"), "{\"completion\": \"never\"}"));
    json_t *out = inject(&s, x, "{\"nodeId\": \"input\", \"value\": 21}");
    cr_assert_eq(json_integer_value(json_object_get(out, "output:out")), 42, "%s", dump(out));
    json_decref(out);
    g = http_req(&s, "GET", "/api/components/acme.cat.double", NULL, NULL);
    cr_assert_eq(g.status, 200, "registered like a posted one: %s", g.body);
    cr_assert_str_eq(str(&g, "version"), "2.0.0");
    cr_assert_str_eq(str(&g, "origin"), "user");
    http_free(&g);
    /* a second graph finds it registered: the catalog is not asked again */
    snprintf(x, sizeof x, "%s", serve_execute(&s, pipeline("cat2", "acme.cat.double"), NULL));
    cr_assert_eq(files_hits(&f, "/components/acme.cat.double.json"), 1);
    /* one the catalog does not have */
    http_resp r = http_req(&s, "POST", "/api/graphs", pipeline("nope", "acme.cat.nope"), NULL);
    cr_assert_eq(r.status, 400, "%s", r.body);
    char needle[256];
    snprintf(needle, sizeof needle,
             "unknown component acme.cat.nope: not built in, not registered, and not in the catalog (GET "
             "http://127.0.0.1:%d/components/acme.cat.nope.json answered 404)",
             f.port);
    cr_assert_not_null(strstr(str(&r, "error"), needle), "%s", r.body);
    http_free(&r);
    /* one whose definition names another id */
    r = http_req(&s, "POST", "/api/graphs", pipeline("liar", "acme.cat.liar"), NULL);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert_not_null(strstr(str(&r, "error"), "the catalog's definition for component acme.cat.liar"), "%s", r.body);
    cr_assert_not_null(strstr(str(&r, "error"), "has id \"acme.cat.other\""), "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
    files_stop(&f);
}

/* PUT /api/graphs/:id resolves from the catalog as POST does: a new
 * version that uses a catalog component is stored and runs. */
Test(langs, a_new_version_resolves_from_the_catalog) {
    static const char TRIPLE[] =
        "{\"id\": \"acme.cat.triple\", \"name\": \"Triple\", \"version\": \"1.0.0\", \"ports\": {\"inputs\": [\"in\"],"
        " \"outputs\": [\"out\"]}, \"execution\": {\"type\": \"javascript\", \"source\":"
        " \"return { process(ctx, port, v) { ctx.emit('out', v * 3); } }\"}}";
    file table[] = {{"/cat/acme.cat.triple.json", TRIPLE, sizeof TRIPLE - 1, 0}};
    files f;
    files_start(&f, table, 1);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/cat", f.port);
    server s = serve_start((const char *const[]){"--memory", "--egress-allow-private", "true", "--catalog-url", url,
                                                 NULL});
    post_component(&s, "{\"id\": \"acme.local.inc\", \"name\": \"Inc\", \"version\": \"1\", \"ports\": {\"inputs\":"
                       " [\"in\"], \"outputs\": [\"out\"]}, \"execution\": {\"type\": \"javascript\", \"source\":"
                       " \"return { process(ctx, port, v) { ctx.emit('out', v + 1); } }\"}}");
    http_resp r = http_req(&s, "POST", "/api/graphs", pipeline("up", "acme.local.inc"), NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    char gid[64], path[128];
    snprintf(gid, sizeof gid, "%s", str(&r, "id"));
    http_free(&r);
    /* a PUT to a graph that is not stored asks the catalog nothing */
    r = http_req(&s, "PUT", "/api/graphs/nosuchgraph", pipeline("up", "acme.cat.triple"), NULL);
    cr_assert_eq(r.status, 404, "%s", r.body);
    http_free(&r);
    cr_assert_eq(files_hits(&f, "/cat/acme.cat.triple.json"), 0);
    snprintf(path, sizeof path, "/api/graphs/%s", gid);
    r = http_req(&s, "PUT", path, pipeline("up", "acme.cat.triple"), NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(str(&r, "id"), gid, "the same graph, its new version");
    http_free(&r);
    cr_assert_eq(files_hits(&f, "/cat/acme.cat.triple.json"), 1);
    r = http_req(&s, "GET", "/api/components/acme.cat.triple", NULL, NULL);
    cr_assert_eq(r.status, 200, "registered from the catalog: %s", r.body);
    http_free(&r);
    snprintf(path, sizeof path, "/api/graphs/%s/execute", gid);
    r = http_req(&s, "POST", path, "{\"completion\": \"never\"}", NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    char x[64];
    snprintf(x, sizeof x, "%s", str(&r, "executionId"));
    http_free(&r);
    json_t *out = inject(&s, x, "{\"nodeId\": \"input\", \"value\": 5}");
    cr_assert_eq(json_integer_value(json_object_get(out, "output:out")), 15, "%s", dump(out));
    json_decref(out);
    /* one the catalog does not have: refused as POST refuses it */
    snprintf(path, sizeof path, "/api/graphs/%s", gid);
    r = http_req(&s, "PUT", path, pipeline("up", "acme.cat.nope"), NULL);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert_not_null(strstr(str(&r, "error"), "unknown component acme.cat.nope: not built in, not registered, and "
                                                "not in the catalog"),
                       "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
    files_stop(&f);
}

/* Without CATALOG_URL an unknown component is refused as it always was. */
Test(langs, no_catalog_no_lookup) {
    server s = serve_start((const char *const[]){"--memory", NULL});
    http_resp r = http_req(&s, "POST", "/api/graphs", pipeline("nope", "acme.cat.nope"), NULL);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert_null(strstr(r.body, "catalog"), "%s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}
