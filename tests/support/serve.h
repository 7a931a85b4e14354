/* Black-box helpers for `weir serve`: start the real binary on a free
 * loopback port, talk HTTP to it with libcurl, stop it. */
#ifndef WEIR_TEST_SERVE_H
#define WEIR_TEST_SERVE_H
#include <jansson.h>
#include <sys/types.h>

typedef struct server {
    pid_t pid;
    int port;
    int err_fd;         /* the server's stderr */
    char data_dir[64];  /* the fresh DATA_DIR made for it ("" when extra gave one) */
} server;

/* Start `weir serve --port 0 EXTRA...` (extra: a NULL-terminated list).
 * Unless extra has --data-dir or --memory, the server gets a fresh
 * temporary DATA_DIR of its own, removed by serve_stop / serve_kill, so
 * tests never share stored graphs. */
server serve_start(const char *const *extra);
/* The server's stderr so far (a static buffer). */
const char *serve_log(const server *s);
/* POST graph_json, then execute it with opts (NULL: no body); asserts 201s
 * and returns the execution id (a static buffer). */
const char *serve_execute(server *s, const char *graph_json, const char *opts);
/* SIGTERM, wait; returns the exit status (or -1). */
int serve_stop(server *s);
/* SIGKILL (no shutdown at all), wait; returns 128 + 9. */
int serve_kill(server *s);
/* rm -r path (a DATA_DIR a test made). */
void serve_rmdir(const char *path);

typedef struct http_resp {
    long status;
    char *body;       /* NUL-terminated */
    json_t *json;     /* parsed body, or NULL */
    char *headers;    /* raw response headers */
} http_resp;

/* One request.  body may be NULL; content_type defaults to application/json. */
http_resp http_req(const server *s, const char *method, const char *path, const char *body, const char *content_type);
/* The same with extra request headers: a NULL-terminated list of
 * "Name: value" lines. */
http_resp http_req_h(const server *s, const char *method, const char *path, const char *body, const char *content_type,
                     const char *const *headers);
void http_free(http_resp *r);
/* GET path, asserted 200: its JSON body (json_decref it). */
json_t *http_get_json(const server *s, const char *path);

/* An inject sent from another thread while /health is polled: how long the
 * inject took, its answer (http_free it), and the slowest /health answer,
 * that is how long the server's loop was held. */
typedef struct serve_probe {
    http_resp r;     /* the inject's answer */
    double ms;       /* the inject's time */
    double slowest;  /* the slowest /health answer, ms */
    int checks;      /* /health answers while it ran */
} serve_probe;
/* POST body to /api/executions/<exec>/inject, polling /health (each must
 * answer 200) until it is answered. */
serve_probe serve_inject_polling_health(server *s, const char *exec, const char *body);

#endif
