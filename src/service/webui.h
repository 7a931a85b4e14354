/*
 * The dashboard's static files (SPEC §8), compiled in: cmake/embed_web.cmake
 * writes every file of src/web (but package.json and tests) into
 * svc_web_files at build time.  Served without credentials (they hold no
 * data: everything the page shows it fetches through the API with its key),
 * GET and HEAD only, each with a strong ETag and a Content-Security-Policy
 * that lets the page load and connect to this server alone.
 */
#ifndef WEIR_SERVICE_WEBUI_H
#define WEIR_SERVICE_WEBUI_H
#include <stdbool.h>
#include <stddef.h>

#include "net/http.h"

typedef struct svc_web_file {
    const char *name;          /* "app.js": served at /app.js (index.html also at /) */
    const char *type;          /* its Content-Type */
    const unsigned char *data; /* len bytes (and a NUL after them) */
    size_t len;
    const char *etag;          /* "\"<32 hex digits of its SHA-256>\"" */
} svc_web_file;

/* The files, sorted by name, then one all-zero entry. */
extern const svc_web_file svc_web_files[];
extern const size_t svc_web_n_files;

/* The file a path names ("/" is index.html), or NULL. */
const svc_web_file *svc_web_find(const char *path);

/* Answer req if its path names a bundled file: 200 (or 304 when
 * If-None-Match has its ETag) to GET and HEAD, 405 with Allow to any other
 * method.  False (nothing answered) for any other path. */
bool svc_web_serve(weir_http_req *req);

#endif
