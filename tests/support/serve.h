/* Black-box helpers for `weir serve`: start the real binary on a free
 * loopback port, talk HTTP to it with libcurl, stop it. */
#ifndef WEIR_TEST_SERVE_H
#define WEIR_TEST_SERVE_H
#include <jansson.h>
#include <sys/types.h>

typedef struct server {
    pid_t pid;
    int port;
    int err_fd; /* the server's stderr */
} server;

/* Start `weir serve --port 0 EXTRA...` (extra: a NULL-terminated list). */
server serve_start(const char *const *extra);
/* The server's stderr so far (a static buffer). */
const char *serve_log(const server *s);
/* POST graph_json, then execute it with opts (NULL: no body); asserts 201s
 * and returns the execution id (a static buffer). */
const char *serve_execute(server *s, const char *graph_json, const char *opts);
/* SIGTERM, wait; returns the exit status (or -1). */
int serve_stop(server *s);

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

#endif
