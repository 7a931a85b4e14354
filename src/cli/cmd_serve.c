/* weir serve: the REST service (SPEC §6) on one libuv loop. */
#include <getopt.h>
#include <signal.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cli/cli.h"
#include "net/logline.h"
#include "service/service.h"

/* Relative to the working directory, like Prometheus's ./data: visible
 * where weir was started, no HOME or XDG needed (containers, CI, make run);
 * the start log prints the absolute path. */
#define DEFAULT_DATA_DIR "weir-data"

/* Every setting: its environment variable, its flag, its default. */
typedef enum { T_STR, T_INT, T_BOOL, T_BYTES, T_FLAG /* a boolean: --flag alone means true */ } ctype;
typedef struct setting {
    const char *env, *flag;
    ctype type;
    const char *dflt, *help;
} setting;

static const setting SETTINGS[] = {
    {"PORT", "port", T_INT, "5006", "TCP port (0: any free port, printed at start)"},
    {"HOST", "host", T_STR, "127.0.0.1", "address to bind; other than loopback only with auth configured"},
    {"MAX_CONCURRENT_EXECUTIONS", "max-concurrent-executions", T_INT, "100", "executions not finished (429 beyond)"},
    {"DEFAULT_EXECUTION_TIMEOUT", "default-execution-timeout", T_INT, "300000",
     "ms before an auto execution fails (0: none)"},
    {"MAX_BACKPRESSURE_QUEUE", "max-backpressure-queue", T_INT, "10000", "queued inputs per paused execution (429 beyond)"},
    {"MAX_WAVE_HOPS", "max-wave-hops", T_INT, "1000000",
     "messages one input's wave may process; past it the wave stops and the inject gets an error"},
    {"MAX_TRACE_HOPS", "max-trace-hops", T_INT, "10000",
     "trace entries one traced inject records; past them its answer says traceTruncated"},
    {"MAX_ANSWER_BYTES", "max-answer-bytes", T_BYTES, "16777216",
     "written-out size of an inject answer's outputs and trace; past it they are left out with an error (k, m)"},
    {"EXPR_MAX_STEPS", "expr-max-steps", T_INT, "1048576",
     "work one expression evaluation may do (about 10 ms); past it the evaluation fails on the error port"},
    {"EXPR_MAX_BYTES", "expr-max-bytes", T_BYTES, "16777216",
     "largest string or result of one expression (4x this allocated; suffixes k, m)"},
    {"MAX_COMPOSED_NODES", "max-composed-nodes", T_INT, "100000",
     "nodes and edges a graph's graph:NAME nodes may expand to, nested ones included (400 beyond)"},
    {"MAX_COMPOSED_BYTES", "max-composed-bytes", T_BYTES, "67108864",
     "bytes of graphs (JSON) a graph's graph:NAME nodes may expand, each use counted (400 beyond; suffixes k, m)"},
    {"MAX_ZONE_BYTES", "max-zone-bytes", T_BYTES, "262144",
     "bytes of time zone files (TZDIR) one graph's cron nodes may use, all zones together; they are pinned in each "
     "execution's journal (400 beyond; suffixes k, m)"},
    {"ENABLE_METRICS", "enable-metrics", T_BOOL, "true", "measure latencies, send metrics:update (counters always stay)"},
    {"MAX_BODY_BYTES", "max-body-bytes", T_BYTES, "12582912", "largest request body (413 beyond; suffixes k, m)"},
    {"MAX_CONNECTIONS", "max-connections", T_INT, "10000",
     "open connections (WebSockets included); beyond it only /health* is answered, else 503"},
    {"MAX_CONNECTIONS_PER_IP", "max-connections-per-ip", T_INT, "256",
     "open connections from one address (IPv6: one /64); beyond it only /health* is answered, else 503"},
    {"HEADER_TIMEOUT_MS", "header-timeout-ms", T_INT, "10000",
     "a request's line and headers must arrive within this (a new connection's, from its accept)"},
    {"ALLOWED_HOSTS", "allowed-hosts", T_STR, "",
     "Host names taken besides localhost, 127.0.0.1, [::1] and HOST: name, name:port, .domain, * (421 otherwise)"},
    {"CORS_ORIGINS", "cors-origins", T_STR, "",
     "origins besides the server's own that may use it from a browser: scheme://host[:port], null, * (403 otherwise)"},
    {"METRICS_INTERVAL_MS", "metrics-interval-ms", T_INT, "250", "metrics:update at most this often per execution"},
    {"EVENT_HISTORY", "event-history", T_INT, "1000", "events kept per execution for reconnects with since"},
    {"EVENT_FLUSH_MS", "event-flush-ms", T_INT, "2",
     "events to a /ws subscriber wait at most this long to be written together (0: at once)"},
    {"EVENT_BATCH_MS", "event-batch-ms", T_INT, "10",
     "events to a subscriber that asked for batches wait at most this long to go in one `events` message"},
    {"EVENT_BATCH_BYTES", "event-batch-bytes", T_BYTES, "65536",
     "one `events` batch carries at most this many bytes of events (a larger event goes alone)"},
    {"SUBSCRIBER_BACKLOG_BYTES", "subscriber-backlog-bytes", T_BYTES, "8388608",
     "unsent bytes before a slow subscriber is cut off"},
    {"SUBSCRIBER_LINGER_MS", "subscriber-linger-ms", T_INT, "30000",
     "cheap events (states, outputs, logs; never per hop) still kept after the last subscriber disconnects"},
    {"VIEW_INTERVAL_MS", "view-interval-ms", T_INT, "50",
     "a live view subscriber is sent at most one diff per view this often (changes are combined)"},
    {"VIEW_HISTORY", "view-history", T_INT, "64", "diffs kept per live view for reconnects with since"},
    {"MAX_VIEWS", "max-views", T_INT, "4096", "live views the server keeps at once (429 past it)"},
    {"DEFAULT_RUNTIME", "default-runtime", T_STR, "realtime",
     "runtime of executions that name none (realtime or virtual); unknown names fall back to it"},
    {"TICK_MS", "tick-ms", T_INT, "1", "one virtual tick in ms (execute option tickMs overrides it)"},
    {"ISOLATE_POOL_SIZE", "isolate-pool-size", T_INT, "10",
     "Node.js processes running user components at most (started on demand)"},
    {"ISOLATE_TIMEOUT_MS", "isolate-timeout-ms", T_INT, "1000",
     "time limit of one user component call; past it the process is killed and replaced"},
    {"ISOLATE_MEMORY_MB", "isolate-memory-mb", T_INT, "128",
     "JavaScript heap of one component host process in MB; all it allocates after start: this + 128"},
    {"ISOLATE_QUEUE", "isolate-queue", T_INT, "1000",
     "user component calls waiting for a process; beyond it calls fail on the error port"},
    {"WEIR_NODE", "node", T_STR, "", "node executable for user components (20 or newer); none: node on PATH"},
    {"WEIR_TYPESCRIPT", "typescript", T_STR, "",
     "folder of the typescript npm package (TypeScript components before Node 22.13); none: looked for"},
    {"SOURCE_MAX_BYTES", "source-max-bytes", T_BYTES, "6291456",
     "largest source (or catalog definition) fetched for a component (suffixes k, m)"},
    {"SOURCE_TIMEOUT_MS", "source-timeout-ms", T_INT, "10000",
     "time limit of fetching a component's sourceUrl or catalog definition"},
    {"CATALOG_URL", "catalog-url", T_STR, "",
     "components not built in or registered are fetched from <it>/<id>.json (empty: no catalog)"},
    {"LOG_LEVEL", "log-level", T_STR, "info", "debug, info, warn or error"},
    {"LOG_FORMAT", "log-format", T_STR, "text", "text or json (one object per line)"},
    {"EGRESS_ALLOW_PRIVATE", "egress-allow-private", T_BOOL, "false",
     "let http-request reach loopback/private addresses"},
    {"EGRESS_ALLOWLIST", "egress-allowlist", T_STR, "", "comma-separated hosts http-request may reach (empty: any)"},
    {"DATA_DIR", "data-dir", T_STR, DEFAULT_DATA_DIR,
     "directory of the store (weir.db): graphs and components survive a restart"},
    {"MEMORY", "memory", T_FLAG, "false", "keep everything in memory, store nothing (DATA_DIR is not used)"},
    {"DURABILITY", "durability", T_STR, "fsync",
     "fsync: a journaled input survives a machine crash; process: no fsync, it survives a crash of weir"},
    {"SNAPSHOT_EVERY", "snapshot-every", T_INT, "1024",
     "an execution's whole state is stored after this many inputs: recovery and time travel replay at most that many"},
    {"JOURNAL_MAX_BYTES", "journal-max-bytes", T_BYTES, "0",
     "past this much in DATA_DIR/weir.db finished executions and their journals go sooner, oldest first (0: no cap)"},
    {"JOURNAL_QUEUE_MAX", "journal-queue-max", T_INT, "65536",
     "journal writes waiting for the disk; beyond it inputs are refused with 503 and Retry-After"},
    {"API_KEYS", "api-keys", T_STR, "", "comma-separated API keys for X-API-Key or Authorization: Bearer"},
    {"JWT_SECRET", "jwt-secret", T_STR, "", "HS256 secret (32+ bytes) verifying Bearer JWTs"},
    {"JWT_PUBLIC_KEY", "jwt-public-key", T_STR, "", "RS256 RSA public key verifying Bearer JWTs: PEM text or a file"},
    {"JWT_AUDIENCE", "jwt-audience", T_STR, "", "a JWT's aud (string or array) must name this (empty: not checked)"},
    {"JWT_ISSUER", "jwt-issuer", T_STR, "", "a JWT's iss must be this (empty: not checked)"},
    {"PUBLIC_READS", "public-reads", T_BOOL, "false", "with auth: GET /api routes need no credentials"},
    {"METRICS_AUTH", "metrics-auth", T_BOOL, "false", "with auth: GET /metrics needs credentials too"},
};
#define N_SETTINGS (sizeof SETTINGS / sizeof *SETTINGS)

static void help(FILE *f) {
    fprintf(f, "Usage: weir serve [options]\n\n"
               "Start the service: load graphs, start executions, inject messages, read\n"
               "metrics (GET /api/openapi.json lists every route), and watch executions live\n"
               "over Socket.IO (io('http://127.0.0.1:5006')) or a plain WebSocket at /ws\n"
               "(JSON {event, data} frames). SIGTERM or SIGINT shut it down\n"
               "gracefully: no new connections, /health/ready answers 503, in-flight requests\n"
               "finish, executions are stopped (with a DATA_DIR: kept, to come back), exit 0.\n\n"
               "Each option also comes from its environment variable; the flag wins.\n\n"
               "Auth: with API_KEYS, JWT_SECRET or JWT_PUBLIC_KEY set, every /api request, reads\n"
               "included, needs X-API-Key: <key> or Authorization: Bearer <key or JWT> (401\n"
               "without, 403 if refused); PUBLIC_READS=true opens the GETs, METRICS_AUTH=true\n"
               "closes /metrics, /health stays open. JWTs are checked for signature, exp, nbf,\n"
               "and aud / iss when JWT_AUDIENCE / JWT_ISSUER are set. Event sockets need the\n"
               "same: Socket.IO auth: { token }, or for /ws a header or ?token=. Without auth the\n"
               "server binds to loopback only. Prefer the environment for secrets: flags show\n"
               "in ps. Request bodies must be Content-Type: application/json (graphs also\n"
               "application/yaml), else 415. Secrets in node config (headers named like\n"
               "authorization, cookie, *-key, *token*, *secret*, *password*) read back as \"***\".\n"
               "Errors are {\"error\": message, \"code\": \"WEIR_E...\"}.\n\n"
               "Browsers: a web page cannot drive the server. Host must be localhost, 127.0.0.1,\n"
               "[::1], the HOST address or in ALLOWED_HOSTS (421 otherwise: no DNS rebinding); a\n"
               "request, WebSocket or Socket.IO handshake with an Origin other than the server's\n"
               "own or one in CORS_ORIGINS gets 403, and CORS headers name only allowed origins.\n"
               "Connections: beyond MAX_CONNECTIONS, or MAX_CONNECTIONS_PER_IP from one address,\n"
               "only /health* is answered (503 with Retry-After otherwise); request headers\n"
               "slower than HEADER_TIMEOUT_MS close the connection. The open-file limit is raised\n"
               "as far as MAX_CONNECTIONS needs and the hard limit allows (logged at start).\n\n"
               "Data: graphs (same ids, same createdAt) and registered components are stored in\n"
               "DATA_DIR/weir.db (SQLite) before they are acknowledged, and loaded back at start; a\n"
               "stored graph that no longer loads is logged and skipped. Every input of an\n"
               "execution (start, inject, pause, resume, stop, effect results, timer firings,\n"
               "time commands) is journaled there first, in groups (one fsync for whatever is\n"
               "queued); an answer, an event or an http request it causes leaves weir only once\n"
               "it is durable (DURABILITY=fsync survives a machine crash, process a crash of\n"
               "weir). At start every unfinished execution comes back, same id and state; a\n"
               "shutdown leaves them to come back. Every SNAPSHOT_EVERY inputs the whole state\n"
               "is stored too. The past: GET /api/executions/:id/at/:tick (node states after\n"
               "that wave), POST /api/executions/:id/fork {atTick} (a new execution going on\n"
               "from there, on virtual), GET /api/executions/:id/journal (NDJSON: weir replay\n"
               "checks it) and POST /api/executions/import. One weir per DATA_DIR\n"
               "(DATA_DIR/weir.lock). --memory stores nothing. After recovery every stored graph\n"
               "with metadata.autostart true is executed, unless an unfinished execution of it\n"
               "came back (logged: autostart: N graphs started, M already running).\n\n"
               "Time: an execution runs on the runtime its execute options name (runtime), else\n"
               "its graph's metadata.runtime, else DEFAULT_RUNTIME. On the virtual runtime time\n"
               "moves only when asked: POST /api/executions/:id/tick {count?}, /advance {ms},\n"
               "/run {maxTicks?} (plays until idle; pause stops it), /step (one node\n"
               "invocation); injects may carry afterTicks or atTick; http is answered from the\n"
               "execute option mocks. POST /api/executions/:id/runtime switches a running\n"
               "execution (pending timers keep their time).\n\n"
               "User components: POST /api/components registers JavaScript (execution.source, a\n"
               "function body returning {process(ctx, port, value), initialize?, cleanup?});\n"
               "it runs out of process in a pool of Node.js processes (node on PATH or WEIR_NODE,\n"
               "20 or newer: the start log says which and with which flags) with no file,\n"
               "network or process access, an empty environment, ISOLATE_MEMORY_MB of\n"
               "JavaScript heap and, on Linux, ISOLATE_MEMORY_MB + 128 MB for all a process\n"
               "allocates after start (heap, ArrayBuffers, WebAssembly; RLIMIT_DATA), and\n"
               "ISOLATE_TIMEOUT_MS per call; a call that fails, runs out of time or memory or\n"
               "crashes its process becomes an error on the node's error port, and the\n"
               "process is replaced. execution.type may also be typescript (types stripped;\n"
               "WEIR_TYPESCRIPT before Node 22.13) or wasm (the module in base64); any type\n"
               "may give execution.sourceUrl instead, fetched once at registration through\n"
               "the egress guard and pinned by execution.sourceHash. With CATALOG_URL, a\n"
               "graph's unknown component is fetched from CATALOG_URL/<id>.json and registered.\n\n");
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const setting *s = &SETTINGS[i];
        char flag[40];
        snprintf(flag, sizeof flag, "%s%s", s->flag, s->type == T_FLAG ? "[=BOOL]" : "");
        fprintf(f, "  --%-28s %-26s %s (default: %s)\n", flag, s->env, s->help, s->dflt[0] ? s->dflt : "none");
    }
    fprintf(f, "  -h, --help\n\nExamples:\n"
               "  weir serve\n"
               "  PORT=8080 LOG_FORMAT=json weir serve\n"
               "  curl -s -X POST localhost:5006/api/graphs -H 'content-type: application/json' \\\n"
               "       -d @examples/quick-reference.json\n");
}

static const char *values[N_SETTINGS];

/* LOG_FORMAT=json makes every line JSON, start-up errors included: known
 * before the settings are read, from the flag (last wins) or the
 * environment. */
static bool log_json;

static bool json_wanted(int argc, char **argv) {
    const char *v = getenv("LOG_FORMAT");
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--log-format=", 13) == 0) v = argv[i] + 13;
        else if (strcmp(argv[i], "--log-format") == 0 && i + 1 < argc) v = argv[++i];
    }
    return v && strcmp(v, "json") == 0;
}

/* A start-up error: one line, JSON under LOG_FORMAT=json. */
static void startup_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void startup_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (log_json) {
        weir_logline_vwrite(stderr, true, WEIR_LOG_ERROR, NULL, fmt, ap);
    } else {
        char msg[1024];
        vsnprintf(msg, sizeof msg, fmt, ap);
        fputs("weir serve: ", stderr);
        weir_logline_put_escaped(stderr, msg); /* a value with a newline stays on its line */
        fputc('\n', stderr);
    }
    va_end(ap);
}

/* n outside lo..hi (hi LLONG_MAX: no upper bound): said, and true. */
static bool out_of_range(const char *env, long long n, long long lo, long long hi) {
    if (n >= lo && n <= hi) return false;
    if (hi == LLONG_MAX) startup_error("%s must be at least %lld, got %lld", env, lo, n);
    else startup_error("%s must be between %lld and %lld, got %lld", env, lo, hi, n);
    return true;
}

static bool parse_bool(const char *v, bool *out) {
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0) *out = true;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 || strcmp(v, "no") == 0) *out = false;
    else return false;
    return true;
}

static bool parse_int(const char *v, ctype t, long long *out) {
    uint64_t n;
    if (!cli_parse_count(v, t == T_BYTES, &n)) return false;
    *out = (long long)n;
    return true;
}

static int apply(weir_service_config *c) {
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const setting *s = &SETTINGS[i];
        const char *v = values[i] ? values[i] : getenv(s->env);
        if (!v) continue;
        long long n = 0;
        bool b = false;
        bool is_bool = s->type == T_BOOL || s->type == T_FLAG;
        bool ok = s->type == T_STR || (is_bool ? parse_bool(v, &b) : parse_int(v, s->type, &n));
        if (!ok) {
            startup_error("%s (--%s) must be %s, got '%s'", s->env, s->flag,
                          is_bool ? "true or false" : "a non-negative integer", v);
            return EXIT_USAGE;
        }
        if (strcmp(s->env, "PORT") == 0) {
            if (n > 65535) {
                startup_error("PORT must be at most 65535, got %lld", n);
                return EXIT_USAGE;
            }
            c->port = (int)n;
        } else if (strcmp(s->env, "HOST") == 0) c->host = v;
        else if (strcmp(s->env, "MAX_CONCURRENT_EXECUTIONS") == 0) c->max_concurrent_executions = (unsigned)n;
        else if (strcmp(s->env, "DEFAULT_EXECUTION_TIMEOUT") == 0) c->default_execution_timeout = n;
        else if (strcmp(s->env, "MAX_BACKPRESSURE_QUEUE") == 0) c->max_backpressure_queue = (size_t)(n ? n : 1);
        else if (strcmp(s->env, "MAX_WAVE_HOPS") == 0) {
            if (out_of_range(s->env, n, 1, LLONG_MAX)) return EXIT_USAGE;
            c->max_wave_hops = (uint64_t)n;
        } else if (strcmp(s->env, "MAX_TRACE_HOPS") == 0 || strcmp(s->env, "MAX_ANSWER_BYTES") == 0) {
            if (out_of_range(s->env, n, 1, LLONG_MAX)) return EXIT_USAGE;
            if (s->env[4] == 'T') c->max_trace_hops = (uint64_t)n;
            else c->max_answer_bytes = (size_t)n;
        } else if (strcmp(s->env, "EXPR_MAX_STEPS") == 0 || strcmp(s->env, "EXPR_MAX_BYTES") == 0) {
            if (out_of_range(s->env, n, 1, LLONG_MAX)) return EXIT_USAGE;
            if (strcmp(s->env, "EXPR_MAX_STEPS") == 0) c->expr.max_steps = (size_t)n;
            else c->expr.max_bytes = (size_t)n;
        } else if (strcmp(s->env, "MAX_COMPOSED_NODES") == 0) {
            if (out_of_range(s->env, n, 1, 100000000)) return EXIT_USAGE;
            c->max_composed_nodes = (size_t)n;
        } else if (strcmp(s->env, "MAX_COMPOSED_BYTES") == 0) {
            if (out_of_range(s->env, n, 1, LLONG_MAX)) return EXIT_USAGE;
            c->max_composed_bytes = (size_t)n;
        } else if (strcmp(s->env, "MAX_ZONE_BYTES") == 0) {
            if (out_of_range(s->env, n, 1, LLONG_MAX)) return EXIT_USAGE;
            c->max_zone_bytes = (size_t)n;
        } else if (strcmp(s->env, "ENABLE_METRICS") == 0) c->enable_metrics = b;
        else if (strcmp(s->env, "MAX_BODY_BYTES") == 0) c->max_body_bytes = (size_t)n;
        else if (strcmp(s->env, "MAX_CONNECTIONS") == 0 || strcmp(s->env, "MAX_CONNECTIONS_PER_IP") == 0 ||
                 strcmp(s->env, "HEADER_TIMEOUT_MS") == 0) {
            if (out_of_range(s->env, n, 1, 100000000)) return EXIT_USAGE;
            if (strcmp(s->env, "MAX_CONNECTIONS") == 0) c->max_connections = (unsigned)n;
            else if (strcmp(s->env, "MAX_CONNECTIONS_PER_IP") == 0) c->max_connections_per_ip = (unsigned)n;
            else c->header_timeout_ms = (uint64_t)n;
        }
        else if (strcmp(s->env, "ALLOWED_HOSTS") == 0) c->allowed_hosts = v;
        else if (strcmp(s->env, "CORS_ORIGINS") == 0) c->cors_origins = v;
        else if (strcmp(s->env, "METRICS_INTERVAL_MS") == 0) c->metrics_interval_ms = (uint64_t)n;
        else if (strcmp(s->env, "EVENT_HISTORY") == 0) c->event_history = (size_t)n;
        else if (strcmp(s->env, "EVENT_FLUSH_MS") == 0) c->event_flush_ms = (uint64_t)n;
        else if (strcmp(s->env, "EVENT_BATCH_MS") == 0) {
            if (out_of_range(s->env, n, 1, 1000)) return EXIT_USAGE;
            c->event_batch_ms = (uint64_t)n;
        } else if (strcmp(s->env, "EVENT_BATCH_BYTES") == 0) {
            if (out_of_range(s->env, n, 1024, 16777216)) return EXIT_USAGE;
            c->event_batch_bytes = (size_t)n;
        }
        else if (strcmp(s->env, "SUBSCRIBER_BACKLOG_BYTES") == 0) c->subscriber_backlog_bytes = (size_t)(n ? n : 1);
        else if (strcmp(s->env, "SUBSCRIBER_LINGER_MS") == 0) c->subscriber_linger_ms = (uint64_t)n;
        else if (strcmp(s->env, "VIEW_INTERVAL_MS") == 0) {
            if (out_of_range(s->env, n, 1, 60000)) return EXIT_USAGE;
            c->view_interval_ms = (uint64_t)n;
        } else if (strcmp(s->env, "VIEW_HISTORY") == 0) {
            if (out_of_range(s->env, n, 1, 100000)) return EXIT_USAGE;
            c->view_history = (size_t)n;
        } else if (strcmp(s->env, "MAX_VIEWS") == 0) {
            if (out_of_range(s->env, n, 1, 1000000)) return EXIT_USAGE;
            c->max_views = (size_t)n;
        }
        else if (strcmp(s->env, "DEFAULT_RUNTIME") == 0) c->default_runtime = v;
        else if (strcmp(s->env, "ISOLATE_POOL_SIZE") == 0 || strcmp(s->env, "ISOLATE_TIMEOUT_MS") == 0 ||
                 strcmp(s->env, "ISOLATE_MEMORY_MB") == 0 || strcmp(s->env, "ISOLATE_QUEUE") == 0) {
            bool mem = strcmp(s->env, "ISOLATE_MEMORY_MB") == 0;
            if (out_of_range(s->env, n, mem ? 16 : 1, mem ? 65536 : 1000000)) return EXIT_USAGE;
            if (strcmp(s->env, "ISOLATE_POOL_SIZE") == 0) c->isolate_pool_size = (unsigned)n;
            else if (strcmp(s->env, "ISOLATE_TIMEOUT_MS") == 0) c->isolate_timeout_ms = n;
            else if (mem) c->isolate_memory_mb = (unsigned)n;
            else c->isolate_queue = (size_t)n;
        }
        else if (strcmp(s->env, "TICK_MS") == 0) {
            if (out_of_range(s->env, n, 1, LLONG_MAX)) return EXIT_USAGE;
            c->tick_ms = n;
        } else if (strcmp(s->env, "WEIR_NODE") == 0) c->node = v[0] ? v : NULL;
        else if (strcmp(s->env, "WEIR_TYPESCRIPT") == 0) c->typescript = v[0] ? v : NULL;
        else if (strcmp(s->env, "SOURCE_MAX_BYTES") == 0) {
            if (out_of_range(s->env, n, 1, 64 << 20)) return EXIT_USAGE;
            c->source_max_bytes = (size_t)n;
        } else if (strcmp(s->env, "SOURCE_TIMEOUT_MS") == 0) {
            if (out_of_range(s->env, n, 1, 600000)) return EXIT_USAGE;
            c->source_timeout_ms = n;
        } else if (strcmp(s->env, "CATALOG_URL") == 0) c->catalog_url = v[0] ? v : NULL;
        else if (strcmp(s->env, "LOG_LEVEL") == 0) c->log_level = v;
        else if (strcmp(s->env, "LOG_FORMAT") == 0) c->log_format = v;
        else if (strcmp(s->env, "EGRESS_ALLOW_PRIVATE") == 0) c->egress_allow_private = b;
        else if (strcmp(s->env, "EGRESS_ALLOWLIST") == 0) c->egress_allowlist = v[0] ? v : NULL;
        else if (strcmp(s->env, "API_KEYS") == 0) c->api_keys = v;
        else if (strcmp(s->env, "JWT_SECRET") == 0) c->jwt_secret = v;
        else if (strcmp(s->env, "JWT_PUBLIC_KEY") == 0) c->jwt_public_key = v;
        else if (strcmp(s->env, "JWT_AUDIENCE") == 0) c->jwt_audience = v;
        else if (strcmp(s->env, "JWT_ISSUER") == 0) c->jwt_issuer = v;
        else if (strcmp(s->env, "PUBLIC_READS") == 0) c->public_reads = b;
        else if (strcmp(s->env, "METRICS_AUTH") == 0) c->metrics_auth = b;
        else if (strcmp(s->env, "DATA_DIR") == 0) {
            if (!v[0]) {
                startup_error("DATA_DIR must name a directory (or use --memory to store nothing)");
                return EXIT_USAGE;
            }
            c->data_dir = v;
        } else if (strcmp(s->env, "MEMORY") == 0) { /* after DATA_DIR in SETTINGS: memory wins */
            if (b) c->data_dir = NULL;
        } else if (strcmp(s->env, "DURABILITY") == 0) {
            if (strcmp(v, "fsync") != 0 && strcmp(v, "process") != 0) {
                startup_error("DURABILITY must be fsync or process, got '%s' (--memory stores nothing)", v);
                return EXIT_USAGE;
            }
            c->durability = strcmp(v, "process") == 0;
        } else if (strcmp(s->env, "JOURNAL_MAX_BYTES") == 0) {
            c->journal_max_bytes = (uint64_t)n;
        } else if (strcmp(s->env, "SNAPSHOT_EVERY") == 0) {
            if (out_of_range(s->env, n, 1, 1000000000)) return EXIT_USAGE;
            c->snapshot_every = (unsigned)n;
        } else if (strcmp(s->env, "JOURNAL_QUEUE_MAX") == 0) {
            if (out_of_range(s->env, n, 1, LLONG_MAX)) return EXIT_USAGE;
            c->journal_queue_max = (size_t)n;
        }
    }
    if (strcmp(c->log_format, "text") != 0 && strcmp(c->log_format, "json") != 0) {
        startup_error("LOG_FORMAT must be text or json, got '%s'", c->log_format);
        return EXIT_USAGE;
    }
    bool auth = (c->api_keys && *c->api_keys) || (c->jwt_secret && *c->jwt_secret) ||
                (c->jwt_public_key && *c->jwt_public_key);
    if (!auth && strcmp(c->host, "127.0.0.1") != 0 && strcmp(c->host, "localhost") != 0 &&
        strcmp(c->host, "::1") != 0) {
        startup_error("HOST=%s would expose the API without authentication; without auth the server binds to "
                      "loopback only: set API_KEYS, JWT_SECRET or JWT_PUBLIC_KEY to listen on other addresses",
                      c->host);
        return EXIT_USAGE;
    }
    return 0;
}

typedef struct serve_state {
    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    weir_service *svc;
    bool stopping;
} serve_state;

static void shutdown_done(void *ud) {
    serve_state *st = ud;
    uv_signal_stop(&st->sigterm);
    uv_signal_stop(&st->sigint);
    /* Shutdown is complete: a late signal must not turn exit 0 into a kill.
     * (After the stops: libuv restores SIG_DFL when its last watcher goes.) */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    uv_close((uv_handle_t *)&st->sigterm, NULL);
    uv_close((uv_handle_t *)&st->sigint, NULL);
    weir_service_destroy(st->svc);
    st->svc = NULL;
}

static void on_signal(uv_signal_t *h, int signum) {
    serve_state *st = h->data;
    if (st->stopping) return;
    st->stopping = true;
    weir_service_log(st->svc, WEIR_LOG_INFO, NULL, "received %s", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    weir_service_shutdown(st->svc, shutdown_done, st);
}

/* getopt_long's values of the settings: above every character getopt
 * itself returns (':', '?', 'h'), however many settings there are. */
#define OPT_BASE 256

int weir_cmd_serve(int argc, char **argv) {
    static struct option opts[N_SETTINGS + 2];
    for (size_t i = 0; i < N_SETTINGS; i++)
        opts[i] = (struct option){SETTINGS[i].flag, SETTINGS[i].type == T_FLAG ? optional_argument : required_argument,
                                  NULL, (int)(OPT_BASE + i)};
    opts[N_SETTINGS] = (struct option){"help", no_argument, NULL, 'h'};
    int c;
    optind = 1;
    log_json = json_wanted(argc, argv);
    opterr = 0; /* the error is said below: two lines of text, or one JSON line */
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h') {
            help(stdout);
            return EXIT_OK;
        }
        if (c < OPT_BASE || c >= OPT_BASE + (int)N_SETTINGS) {
            if (log_json) {
                startup_error("invalid option '%s' (unknown, or its value is missing); weir serve --help lists them",
                              argv[optind - 1]);
                return EXIT_USAGE;
            }
            return cli_option_error("serve", c, argc, argv, opts);
        }
        values[c - OPT_BASE] = optarg ? optarg : "true"; /* a T_FLAG alone */
    }
    if (optind < argc && log_json) {
        startup_error("unexpected argument '%s'; weir serve --help lists the options", argv[optind]);
        return EXIT_USAGE;
    }
    if (optind < argc) return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    weir_service_config cfg;
    weir_service_config_defaults(&cfg);
    cfg.data_dir = DEFAULT_DATA_DIR;
    int rc = apply(&cfg);
    if (rc) return rc;
    signal(SIGPIPE, SIG_IGN);
    serve_state st = {0};
    uv_loop_init(&st.loop);
    weir_error err;
    rc = weir_service_start(&st.loop, &cfg, &st.svc, &err);
    if (rc) {
        startup_error("%s", err.message);
        uv_run(&st.loop, UV_RUN_DEFAULT); /* what the failed start made closes its handles */
        uv_loop_close(&st.loop);
        return rc == WEIR_EINVAL ? EXIT_USAGE : EXIT_FAILED;
    }
    bool v6 = strchr(cfg.host, ':') != NULL;
    const char *auth = weir_service_auth_summary(st.svc);
    if (auth) /* what needs no credentials (SPEC §10; routes.c needs_credentials) */
        weir_service_log(st.svc, WEIR_LOG_INFO, NULL,
                         "weir %s listening on http://%s%s%s:%d (auth: %s; every request needs credentials but "
                         "/health*%s%s)",
                         WEIR_VERSION, v6 ? "[" : "", cfg.host, v6 ? "]" : "", weir_service_port(st.svc), auth,
                         cfg.metrics_auth ? "" : ", /metrics", cfg.public_reads ? ", GET and HEAD (PUBLIC_READS)" : "");
    else
        weir_service_log(st.svc, WEIR_LOG_INFO, NULL,
                         "weir %s listening on http://%s%s%s:%d (no auth configured: bound to loopback only)",
                         WEIR_VERSION, v6 ? "[" : "", cfg.host, v6 ? "]" : "", weir_service_port(st.svc));
    uv_signal_init(&st.loop, &st.sigterm);
    uv_signal_init(&st.loop, &st.sigint);
    st.sigterm.data = st.sigint.data = &st;
    uv_signal_start(&st.sigterm, on_signal, SIGTERM);
    uv_signal_start(&st.sigint, on_signal, SIGINT);
    uv_run(&st.loop, UV_RUN_DEFAULT);
    uv_loop_close(&st.loop);
    if (log_json) weir_logline_write(stderr, true, WEIR_LOG_INFO, NULL, "stopped");
    else fprintf(stderr, "weir serve: stopped\n");
    return EXIT_OK;
}
