/*
 * The service behind `weir serve`: graphs and executions held in memory,
 * executions driven on the realtime runtime, and the REST routes of SPEC §6
 * as thin adapters from JSON to core calls.
 */
#ifndef WEIR_SERVICE_SERVICE_H
#define WEIR_SERVICE_SERVICE_H
#include <uv.h>

#include "net/http.h"
#include "weir/weir.h"

typedef struct weir_service weir_service;

/* Hands a stored component definition (def BORROWED) back to whoever runs
 * user components, at start, before the stored graphs load.  0, or an error
 * in err: the component is logged and skipped (WEIR_ENOMEM stops the start). */
typedef int (*weir_service_component_restore_fn)(void *ud, weir_service *s, const char *id, const char *version,
                                                 json_t *def, weir_error *err);

typedef struct weir_service_config {
    const char *host;
    int port;
    unsigned max_concurrent_executions; /* not finished */
    int64_t default_execution_timeout;  /* ms */
    size_t max_backpressure_queue;
    uint64_t max_wave_hops;             /* MAX_WAVE_HOPS: messages one wave may process (SPEC §10) */
    uint64_t max_trace_hops;            /* MAX_TRACE_HOPS (10000): trace entries one inject records */
    size_t max_answer_bytes;            /* MAX_ANSWER_BYTES (16 MiB): an inject answer's outputs + trace */
    weir_expr_limits expr;              /* EXPR_MAX_STEPS, EXPR_MAX_BYTES: every graph's expression budget */
    size_t max_composed_nodes;          /* MAX_COMPOSED_NODES (100000): nodes and edges graph: nodes expand to */
    size_t max_composed_bytes;          /* MAX_COMPOSED_BYTES (64 MiB): bytes of graphs they expand, per use */
    size_t max_zone_bytes;              /* MAX_ZONE_BYTES (256 KiB): bytes of zone files one graph's zones hold */
    bool enable_metrics;
    size_t max_body_bytes;
    /* Connections and browsers (SPEC §10), see weir_http_options. */
    unsigned max_connections;           /* MAX_CONNECTIONS (10000), cut to what the open-file limit allows */
    unsigned max_connections_per_ip;    /* MAX_CONNECTIONS_PER_IP (256) */
    uint64_t header_timeout_ms;         /* HEADER_TIMEOUT_MS (10000) */
    const char *allowed_hosts;          /* ALLOWED_HOSTS: more names Host may give (none) */
    const char *cors_origins;           /* CORS_ORIGINS: more origins that may use the API (none) */
    size_t max_finished_history;        /* finished executions kept for inspection */
    uint64_t metrics_interval_ms;       /* metrics:update at most this often per execution */
    uint64_t event_flush_ms;            /* events to a /ws subscriber written together at most this late (0: at once) */
    uint64_t event_batch_ms;            /* EVENT_BATCH_MS (10): a batch subscriber's events wait at most this long */
    size_t event_batch_bytes;           /* EVENT_BATCH_BYTES (64 KiB): one `events` batch's data, at most (but one event) */
    size_t event_history;               /* events kept per execution for `since` */
    size_t subscriber_backlog_bytes;    /* a subscriber further behind is cut off */
    uint64_t subscriber_linger_ms;      /* cheap events (never per hop) still built after the last subscriber disconnected */
    uint64_t view_interval_ms;          /* VIEW_INTERVAL_MS (50): a view subscriber gets at most one diff this often */
    size_t view_history;                /* VIEW_HISTORY (64): diffs kept per view for `since` */
    size_t max_views;                   /* MAX_VIEWS (4096): view instances kept at once (429 past it) */
    const char *default_runtime;        /* DEFAULT_RUNTIME: realtime */
    int64_t tick_ms;                    /* TICK_MS: one virtual tick */
    bool egress_allow_private;
    const char *egress_allowlist;
    /* The component host (user components, SPEC §2.3). */
    unsigned isolate_pool_size;   /* ISOLATE_POOL_SIZE: Node.js processes at most (10) */
    int64_t isolate_timeout_ms;   /* ISOLATE_TIMEOUT_MS: time limit of one call (1000) */
    unsigned isolate_memory_mb;   /* ISOLATE_MEMORY_MB: heap of one process, and +128 MB all it allocates (128) */
    size_t isolate_queue;         /* ISOLATE_QUEUE: calls waiting for a process (1000) */
    const char *node;             /* WEIR_NODE: the node executable; NULL or "": node on PATH */
    const char *typescript;       /* WEIR_TYPESCRIPT: the typescript package's folder; NULL or "": looked for */
    size_t source_max_bytes;      /* SOURCE_MAX_BYTES: a source (or catalog definition) fetched (6 MiB) */
    int64_t source_timeout_ms;    /* SOURCE_TIMEOUT_MS: one such fetch (10000) */
    const char *catalog_url;      /* CATALOG_URL: components not built in or registered come from
                                     GET <it>/<id>.json; NULL or "": none */
    const char *log_level;  /* debug|info|warn|error */
    const char *log_format; /* text|json */
    /* Auth (SPEC §6, §10), see server/auth.h; NULL or "": not set.  With
     * none set every route is open (bind to loopback only then); with one
     * set every /api route and event socket needs credentials, /health*
     * never does. */
    const char *api_keys;       /* comma-separated */
    const char *jwt_secret;     /* HS256 */
    const char *jwt_public_key; /* RS256: PEM text or the path of a PEM file */
    const char *jwt_audience;   /* JWT_AUDIENCE: a JWT's aud must name it */
    const char *jwt_issuer;     /* JWT_ISSUER: a JWT's iss must be it */
    bool public_reads;          /* PUBLIC_READS: GET/HEAD of /api need no credentials (false) */
    bool metrics_auth;          /* METRICS_AUTH: GET /metrics needs credentials (false) */
    /* DATA_DIR (SPEC §7): graphs and registered components are stored in
     * DATA_DIR/weir.db and restored at start.  NULL: in memory, nothing is
     * stored (--memory). */
    const char *data_dir;
    /* DURABILITY (SPEC §7.1): 0 fsync (survives a machine crash, the
     * default), 1 process (no fsync: survives a crash of weir).  With a
     * data directory every execution's inputs are journaled and unfinished
     * executions come back at start. */
    int durability;
    size_t journal_queue_max; /* JOURNAL_QUEUE_MAX: journal items outstanding; 0: 65536 */
    const char *journal_vfs;  /* tests: the SQLite VFS of the journal's writer (NULL: the default) */
    /* SNAPSHOT_EVERY: an execution's whole state is stored after every this
     * many journaled inputs, so recovery and time travel replay at most
     * that many (0: 1024). */
    unsigned snapshot_every;
    /* JOURNAL_MAX_BYTES: past this much in DATA_DIR/weir.db the journals of
     * finished executions go, oldest first, before the bounded history
     * would drop them (0: no size cap). */
    uint64_t journal_max_bytes;
    /* How stored user components come back at start; NULL: the service
     * registers them itself (as POST /api/components would, without storing
     * them again).  A test or embedder may replace it. */
    weir_service_component_restore_fn component_restore;
    void *component_restore_ud;
} weir_service_config;

void weir_service_config_defaults(weir_service_config *c);

/* Strings in c are borrowed for the service's lifetime (auth settings only
 * during the call).  WEIR_EINVAL: a setting is wrong (err names it; a
 * DATA_DIR that cannot be used, or is in use by another weir, is one);
 * other codes: the server could not start.  Stored graphs are loaded back
 * before it listens. */
int weir_service_start(uv_loop_t *loop, const weir_service_config *c, weir_service **out, weir_error *err);
int weir_service_port(const weir_service *s);
/* What credentials are accepted ("API keys (2), JWT HS256"), or NULL when
 * no auth is configured.  Owned by s. */
const char *weir_service_auth_summary(const weir_service *s);
/* Graceful shutdown: refuse new connections, /health/ready answers 503,
 * stop every execution; `done` is called once no request is in flight. */
void weir_service_shutdown(weir_service *s, void (*done)(void *ud), void *ud);
void weir_service_destroy(weir_service *s);

/* The route table, for the OpenAPI document and its test. */
typedef struct weir_route {
    const char *method;
    const char *pattern; /* "/api/graphs/:id" */
    const char *summary;
    int status;          /* success status */
    const char *errors;  /* other statuses it answers, e.g. "400 404 409" */
} weir_route;
const weir_route *weir_service_routes(size_t *n);
/* Who may call route r with method when auth is configured (SPEC §10): the
 * router's rule, shared with the OpenAPI document.  r NULL: no route. */
typedef enum weir_route_access {
    WEIR_ROUTE_GUARDED, /* needs credentials */
    WEIR_ROUTE_READ,    /* a read (GET, HEAD): needs them unless PUBLIC_READS */
    WEIR_ROUTE_METRICS, /* /metrics: needs them only under METRICS_AUTH */
    WEIR_ROUTE_OPEN,    /* /health*, and OPTIONS anywhere: never */
} weir_route_access;
weir_route_access weir_route_access_of(const weir_route *r, const char *method);
/* The media types r's body may have, into out (NULL-terminated, cap >= 1
 * entries); their count, 0 when r reads no body.  Any other is 415. */
size_t weir_route_body_types(const weir_route *r, const char **out, size_t cap);
/* The OpenAPI 3.1 document of the routes: a reference to one built once
 * (read-only), or NULL when out of memory. */
json_t *weir_service_openapi(void);

/* Logging shared by the server parts. */
void weir_service_log(weir_service *s, weir_log_level level, json_t *fields /* BORROWED or NULL */, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

#endif
