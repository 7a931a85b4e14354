/* Service internals shared by service.c (store, executions), routes.c, commands.c,
 * the transports (wsapi.c, sioapi.c), timectl.c, components.c and persist.c.
 * The hub (hub.h) is below all of them and includes none of this. */
#ifndef WEIR_SERVICE_SERVICE_INTERNAL_H
#define WEIR_SERVICE_SERVICE_INTERNAL_H
#include "core/canon.h"
#include "net/auth.h"
#include "net/eio.h"
#include "service/hub.h"
#include "service/index.h"
#include "service/service.h"
#include "service/views.h"
#include "store/store.h"

typedef struct svc_graph {
    char id[40];
    weir_graph *g;
    char *text; /* the document as compact JSON (the graph keeps none): what
                   GET /api/graphs/:id answers and the store keeps */
    int64_t created_ms;
    /* Composition (SPEC §1): a graph with graph: nodes is loaded flattened,
     * each resolved to the newest stored graph of that name (and version)
     * at the time it was stored (restoring in creation order finds the
     * same).  flat: the flattened document as compact JSON, what its
     * executions' START records carry (NULL: it has no graph node); uses:
     * the ids of the stored graphs it expanded, nested ones too (NULL:
     * none): those cannot be deleted while it is stored. */
    char *flat;
    json_t *uses;
    struct svc_graph *next;
} svc_graph;

/* Where an answer goes: a REST request, or a socket client's command
 * (acknowledged when ack_id >= 0, else a direct event or `error`). */
typedef struct svc_reply {
    weir_http_req *req;
    svc_client *client; /* a reference is held until answered */
    int64_t ack_id;
    const char *event;  /* the direct event on success without an ack */
    uint64_t start_ns;
} svc_reply;

/* Answer r once: status and body (STOLEN; {"error": ...} when status >= 400).
 * Releases the client reference. */
void svc_answer(weir_service *s, svc_reply *r, int status, json_t *body);
/* The same, never held (what output commit releases). */
void svc_answer_now(weir_service *s, svc_reply *r, int status, json_t *body);

/* What rides on weir_inject.user starts with one of these, so the settled
 * callback knows what it holds. */
enum { SVC_TRACK_WAIT = 0, SVC_TRACK_HOOK = 1 };

/* A request waiting for an inject to settle (wait: true). */
typedef struct svc_wait {
    int track; /* SVC_TRACK_WAIT */
    svc_reply reply;
    uint64_t inject_id;
    uint64_t tick;
    struct svc_exec *x;
    uv_timer_t timer; /* bounded by the execution timeout */
    struct svc_wait *next;
    bool done;
    bool early; /* answered 202 already (virtual time): the settlement goes to x->settled */
} svc_wait;

typedef struct svc_exec {
    char id[40];
    char graph_id[40];
    char graph_name[256];
    weir_exec *e;
    weir_runtime rt; /* made by the registry for this execution */
    weir_service *svc;
    int64_t created_ms;
    bool finished;
    svc_wait *waits;
    struct svc_hook *hooks; /* webhook requests whose inject has not settled (hooks.c) */
    svc_feed *feed;        /* NULL until the first subscription */
    svc_view_row view_row; /* its row in the `executions` view (views.c) */
    struct svc_exec *next; /* creation order, oldest first */
    /* virtual time (timectl.c) */
    json_t *settled;       /* injects answered early that settled since the last time command */
    size_t settled_dropped;
    bool playing;          /* a run is in progress, a slice per loop turn */
    bool play_waiting;     /* ... waiting for real http answers (virtual `arrived` wakes it) */
    svc_reply play_reply;  /* answered when the run ends */
    uint64_t play_left;    /* ticks the run may still play */
    uint64_t play_from;    /* the tick it started at */
    /* the journal (journal.c, SPEC §7.1) */
    bool journaled;        /* its inputs are journaled (a store, not --memory) */
    json_t *start_body;    /* the START record's body, until it is written */
    json_t *rt_options;    /* what its runtime was made with (mocks, tickMs): in switch records */
    int64_t jseq;          /* the newest record appended */
    uint64_t jmark;        /* the service's journal item number of it (s->j_mark then) */
    int64_t dg_seq;        /* the record whose digest is being taken (0: none) */
    unsigned since_snap;   /* inputs journaled since its last snapshot */
    int64_t clock_journaled; /* virtual: the clock as last journaled */
    size_t held_events;      /* its events waiting for output commit */
    bool no_snap;          /* a component cannot save its state: never snapshotted */
    json_t *upgrade_body;  /* the body of its newest upgrade record (NULL: never upgraded): snapshots carry it */
    bool j_broken;         /* an effect result could not be journaled: failed here, not finished in the journal */
    bool derived;          /* a fork or an import (its START says forkOf / importedFrom): never takes hooks */
} svc_exec;

#define LATENCY_BUCKETS 12

typedef struct svc_usercomp svc_usercomp;         /* components.c */
typedef struct svc_pending_load svc_pending_load; /* components.c */
typedef struct svc_catalog svc_catalog;           /* sources.c */

struct weir_service {
    uv_loop_t *loop;
    weir_service_config cfg;
    weir_registry *reg;
    weir_realtime *rt;
    weir_host *host;            /* user components (SPEC §2.3) */
    svc_usercomp *user_comps;   /* registered user components, oldest first */
    svc_pending_load *loads;    /* registrations waiting for their source or the host */
    svc_catalog *catalogs;      /* graphs waiting for components from CATALOG_URL */
    weir_runtimes *runtimes;
    weir_http_server *http;
    weir_auth *auth; /* always set; inactive when no auth is configured */
    weir_eio *eio;   /* Socket.IO at /socket.io/ */
    svc_hub hub; /* event clients and subscriptions (hub.h) */
    svc_views views; /* live views (views.h) */
    svc_graph *graphs;
    weir_store *store; /* NULL: in memory (persist.c) */
    /* The input journal and output commit (journal.c).  Every journal
     * item the service queues with a done callback is numbered (j_mark);
     * done callbacks run in that order (j_done).  An output made while
     * j_done < j_mark waits in the held list until j_done reaches the
     * j_mark it was made at. */
    struct weir_journal *journal;
    uv_async_t *journal_wake;
    uv_prepare_t *journal_prep; /* the turn's writes go to the writer together (weir_journal_kick) */
    uv_check_t *journal_check;
    struct svc_old *j_old; /* journals of executions finished before this start */
    uint64_t j_mark, j_done, j_failed_at; /* j_failed_at: the first item that failed (0: none) */
    char *j_error;                        /* why it failed */
    weir_cbuf j_text;                     /* where an input's record is written (core/canon.h) */
    struct svc_held *held, *held_tail;
    size_t n_held;
    struct svc_parked *parked; /* effect results waiting for room in the journal's queue */
    bool park_retrying;
    bool j_closing;
    char (*j_dead)[40]; /* journals to delete that the journal could not take yet */
    size_t n_dead;
    svc_exec *execs, *execs_tail;
    svc_index graph_ix, exec_ix; /* id → record: lookups on the request path stay O(1) */
    size_t n_execs, n_running, n_finished;
    bool shutting_down;
    void (*shutdown_done)(void *);
    void *shutdown_ud;
    uv_timer_t shutdown_poll;
    uint64_t shutdown_ms; /* loop time the shutdown began */
    uv_idle_t play_idle; /* plays a slice of every running `run` per loop turn */
    int open_handles;    /* shutdown_poll, play_idle: s is freed when both closed */
    size_t n_playing;
    bool stopped_accepting;
    int64_t started_ms;
    weir_log_level log_level;
    bool log_json;
    /* counters for /metrics */
    uint64_t requests, injects_total, messages_finished, errors_finished;
    uint64_t latency_count, latency_bucket[LATENCY_BUCKETS];
    double latency_sum;
};

int64_t svc_now(const weir_service *s);
/* The clock of x's runtime: pass it to every call on x->e. */
int64_t svc_exec_now(const svc_exec *x);
/* Switch x to runtime `name` (SPEC §4.5).  options BORROWED (mocks, tickMs).
 * The old runtime is destroyed first; pending timers keep their time. */
int svc_exec_switch(svc_exec *x, const char *name, json_t *options, weir_error *err);
/* Time commands (SPEC §4.5), the same over REST and the event sockets:
 * op is runtime, tick, advance, run or step; data BORROWED; answers r. */
void svc_time_command(weir_service *s, svc_exec *x, svc_reply *r, const char *op, json_t *data);
/* An inject with afterTicks / atTick in data: scheduled on x's virtual clock
 * (202), or refused.  True when data asked for scheduling (r answered). */
bool svc_time_schedule(weir_service *s, svc_exec *x, svc_reply *r, const weir_inject *in, json_t *data);
/* A running `run` of x ends (pause, stop, switch, shutdown): answered with
 * stoppedBy = reason. */
void svc_play_stop(svc_exec *x, const char *reason);
/* Record the settlement of an inject answered early (body STOLEN). */
void svc_time_settled(svc_exec *x, json_t *body);
void svc_time_init(weir_service *s);
/* x's runtime was just made: hook what the service needs of it. */
void svc_time_attach(svc_exec *x);
void svc_uuid(char out[40]);
svc_graph *svc_graph_find(weir_service *s, const char *id);
/* Load doc (BORROWED) as a new graph, store it (persist.c), then add it;
 * when storing fails it is not added (WEIR_EIO, err says why). */
int svc_graph_add(weir_service *s, json_t *doc, svc_graph **out, json_t *problems, weir_error *err);
/* The same from JSON text (weir_graph_load_text: a large graph is never
 * whole as json_t).  Its problems are those of svc_graph_add except for
 * text that is not JSON (WEIR_EGRAPH, "graph is not valid JSON: ..."). */
int svc_graph_add_text(weir_service *s, const char *text, size_t len, svc_graph **out, json_t *problems,
                       weir_error *err);
/* Load doc as the graph `id` created at created_ms and add it, without
 * storing it (restoring it from the store). */
int svc_graph_restore(weir_service *s, json_t *doc, const char *id, int64_t created_ms, svc_graph **out,
                      weir_error *err);
/* The same from its stored JSON text (weir_graph_load_text). */
int svc_graph_restore_text(weir_service *s, const char *text, const char *id, int64_t created_ms, svc_graph **out,
                           weir_error *err);
void svc_graph_remove(weir_service *s, svc_graph *g);
/* PUT: a new version of g under its id (doc, or when NULL JSON text);
 * problems and err as svc_graph_add's; WEIR_ESTATE while other stored
 * graphs use it as a subgraph.  Nothing changes unless it returns 0. */
int svc_graph_replace(weir_service *s, svc_graph *g, json_t *doc, const char *text, size_t len, json_t *problems,
                      weir_error *err);
/* A user component's new version was registered: every stored graph that
 * uses it is loaded again (the same document), so new executions and
 * upgrades take the new version; one that does not load with it keeps
 * the old (logged). */
void svc_graphs_reload(weir_service *s, const char *component);
/* POST /api/executions/:id/upgrade {graphVersion?} and execution:upgrade
 * (upgrade.c): x moved to its graph's stored version (or the newest stored
 * graph of its name with that version).  *out: the report. */
int svc_exec_upgrade(weir_service *s, svc_exec *x, json_t *data, json_t **out, weir_error *err);
/* WEIR_ESTATE when g is used as a subgraph by other stored graphs (the
 * message names them and their unfinished executions, and the fix), else 0. */
int svc_graph_in_use(weir_service *s, const svc_graph *g, weir_error *err);

/* User components' sources and the catalog (sources.c, components.c). */
/* Register def (STOLEN) as POST /api/components does (its sourceUrl
 * fetched, checked, compiled, stored); the outcome goes to
 * svc_catalog_registered(s, cat, ...). */
void svc_component_register(weir_service *s, json_t *def, svc_catalog *cat);
/* Set execution x's sourceHash to the SHA-256 of its source (a wasm
 * source: of the module's bytes), "sha256:<hex>"; WEIR_EINVAL when x
 * gives another one (the source is not the one pinned). */
int svc_source_pin(json_t *x, weir_error *err);
/* NEW: the definitions of the user components graph g uses (what a START
 * or an upgrade record carries, so the journal stands alone); NULL when out
 * of memory. */
json_t *svc_graph_user_components(weir_service *s, weir_graph *g);
/* Pin the time zones g's nodes read (weir_graph_zones) in a START or
 * upgrade record's body as "zones" {name: base64 TZif}, nothing when none:
 * loading the record (svc_journal_body_graph, weir replay) reads them, not
 * the machine's zone files.  0, or nonzero when out of memory. */
int svc_graph_zones(json_t *body, weir_graph *g);
/* Fetch execution x's sourceUrl once through the egress guard (at most
 * SOURCE_MAX_BYTES; a wasm module as base64); done as weir_realtime_fetch's.
 * 0, or why it could not start. */
int svc_source_fetch(weir_service *s, json_t *x, weir_realtime_fetch_done done, void *ud, uint64_t *id,
                     weir_error *err);
/* The source a fetch answered (*src NEW; base64: the fetch asked for it),
 * or WEIR_EINVAL saying what url answered instead (a failure, a status
 * other than 2xx, nothing, more than SOURCE_MAX_BYTES). */
int svc_source_fetched(size_t source_max, const char *url, bool base64, json_t *result, const char *error,
                       json_t **src, weir_error *err);
/* What a catalog lookup does once its components are registered. */
typedef void (*svc_catalog_cont)(weir_service *s, weir_http_req *req, uint64_t start_ns);
/* With CATALOG_URL set: when graph doc (BORROWED) names components that are
 * neither built in nor registered, fetch each from the catalog and register
 * it, then call cont (or answer req with why not: 400 naming the component
 * and what the catalog answered).  True when that is under way (req is
 * answered later); false: nothing to look up, go on. */
bool svc_catalog_resolve(weir_service *s, weir_http_req *req, uint64_t start_ns, json_t *doc, svc_catalog_cont cont);
/* A registration svc_component_register started for cat ended (body
 * STOLEN: 201's descriptor or an error body). */
void svc_catalog_registered(weir_service *s, svc_catalog *cat, const char *id, int status, json_t *body);
/* Drop every lookup unanswered (the server is destroyed). */
void svc_catalog_free(weir_service *s);

/* Persistence (persist.c, SPEC §7).  With no store (in memory) each is a
 * no-op that succeeds.  Storing errors are WEIR_EIO (503) or WEIR_ENOMEM. */
/* Open the store in cfg.data_dir and restore what it holds: components
 * through cfg.component_restore, then graphs.  One that no longer loads is
 * logged and skipped.  Logs where data lives. */
int svc_persist_open(weir_service *s, weir_error *err);
void svc_persist_close(weir_service *s);
int svc_graph_persist(weir_service *s, const svc_graph *g, weir_error *err);
/* Delete g from the store, then remove it (svc_graph_remove); on a storing
 * error it stays. */
int svc_graph_delete(weir_service *s, svc_graph *g, weir_error *err);
/* For the component host: store a registered component (def BORROWED)
 * before acknowledging it; delete it when it is unregistered. */
int svc_store_component(weir_service *s, const char *id, const char *version, json_t *def, weir_error *err);
int svc_unstore_component(weir_service *s, const char *id, weir_error *err);
svc_exec *svc_exec_find(weir_service *s, const char *id);
/* x's feed, made on first use (WEIR_ENOMEM). */
svc_feed *svc_exec_feed(svc_exec *x, weir_error *err);
/* What a subscriber is told first: {executionId, graphId, state, metrics,
 * startedAt, seq}.  NEW. */
json_t *svc_exec_snapshot(svc_exec *x);
/* A client command (SPEC §5): execution:subscribe / unsubscribe / start /
 * pause / resume / stop / inject and the time commands.  The hub's command
 * callback (svc is the weir_service).  data BORROWED (may be NULL).
 * Answers through svc_client_reply (commands.c). */
void svc_command(void *svc, svc_client *c, const char *name, json_t *data, int64_t ack_id);
/* Live views (views.c, SPEC §8, views.h).  view:subscribe and
 * view:unsubscribe: data BORROWED, r answered (taken over). */
void svc_view_subscribe(weir_service *s, svc_reply *r, svc_client *c, json_t *data);
void svc_view_unsubscribe(weir_service *s, svc_reply *r, svc_client *c, json_t *data);
/* A client is gone: drop its view subscriptions. */
void svc_views_client_gone(weir_service *s, svc_client *c);
/* x is being freed: its views keep what they show and stop reading it. */
void svc_views_exec_gone(weir_service *s, svc_exec *x);
/* x was upgraded to graph graph_id: its port views follow their port into
 * the new graph; one whose node or port is gone ends — its subscribers get
 * `view:error {view, error, code}` (once the upgrade is durable) and are
 * dropped. */
void svc_views_exec_upgraded(weir_service *s, svc_exec *x, const char *graph_id);
/* Free every view (the service is destroyed). */
void svc_views_free(weir_service *s);
/* NEW: a graph's entry as GET /api/graphs lists it (routes.c). */
json_t *svc_graph_entry(svc_graph *g);
/* ms since the epoch as "2024-05-01T12:00:00.000Z" (a graph's createdAt). */
void svc_iso8601(int64_t ms, char out[32]);
/* Create and start an execution.  first (may be NULL) is subscribed before
 * it starts, so it sees execution:started. */
int svc_exec_start(weir_service *s, svc_graph *g, json_t *opts, svc_client *first, svc_exec **out, weir_error *err);
/* Answer a wait (settled, timed out or the execution ended). */
void svc_wait_answer(svc_wait *w, const weir_settled *st);
/* Inject with or without waiting; answers r (copied) itself. */
void svc_inject(weir_service *s, svc_exec *x, const svc_reply *r, const weir_inject *in, bool wait);
/* The HTTP status for a core error code. */
int svc_status_of(int code);
/* A {"error": message} body (answering adds the code of its status). */
json_t *svc_error_body(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* {"error": err->message, "code": "WEIR_E..."}: the precise code of err. */
json_t *svc_error_of(const weir_error *err);
/* Record a request's duration (ms) in the latency histogram. */
void svc_observe(weir_service *s, double ms);
void svc_route(void *ud, weir_http_req *req);
/* Query parameter `name`, percent-decoded, into out (NUL-terminated).
 * False when absent or longer than cap - 1. */
bool svc_query_param(const char *query, const char *name, char *out, size_t cap);
/* GET /api/executions/:id's body: weir_exec_json + graphName. */
json_t *svc_exec_summary(svc_exec *x);
extern const double svc_latency_bounds[LATENCY_BUCKETS];

/* journal.c: the input journal of executions (SPEC §7.1) and output
 * commit.  With no store (--memory) every one is a no-op. */
/* Open the journal in the store (after svc_persist_open). */
int svc_journal_open(weir_service *s, weir_error *err);
/* Bring back every unfinished execution (after graphs and components are
 * restored); logs how many and how long it took. */
int svc_journal_recover(weir_service *s, weir_error *err);
/* After recovery: start every stored graph with metadata.autostart true
 * that has no unfinished execution (autostart.c); failures are logged. */
void svc_autostart(weir_service *s);
/* The graph of a START record's body (its document, loaded with the user
 * components the body carries); kind is the record's.  *out NEW. */
int svc_journal_start_graph(json_t *start, int kind, weir_graph **out, weir_error *err);
/* The graph a START or upgrade record's body carries (graph, components,
 * graphId, options.exprMax*), loaded as it was: NEW, or WEIR_EINVAL... */
int svc_journal_body_graph(json_t *body, weir_graph **out, weir_error *err);
/* Parse a record's body into *in and apply it to e (an upgrade's graph
 * loaded from the body first).  0, or why it does not apply. */
int svc_journal_apply(weir_exec *e, json_t *body, int64_t time_ms, int64_t tick, weir_input_rec *in,
                      weir_input_digest *digest, weir_error *err);
/* Make x's runtime `name` (the default when it cannot be made) with
 * rt_opts, its clock (virtual) at clock_ms, journaled from now on when
 * there is a journal; adopt: hand it every pending effect (recovery). */
int svc_journal_reattach(svc_exec *x, const char *name, json_t *rt_opts, int64_t clock_ms, bool adopt,
                         weir_error *err);
/* Time travel and fork (travel.c, SPEC §7.2).  at: the states as of the
 * end of wave `tick` (latest: the newest), answered into *out (NEW
 * {executionId, tick, state, nodes, metrics}); WEIR_ENOTFOUND beyond the
 * journal, naming its newest tick.  fork: a new execution whose journal is
 * x's up to `tick`, continuing on runtime (NULL: virtual) made with
 * rt_opts. */
int svc_travel_at(weir_service *s, svc_exec *x, uint64_t tick, bool latest, json_t **out, weir_error *err);
int svc_travel_fork(weir_service *s, svc_exec *x, uint64_t tick, bool latest, const char *runtime, json_t *rt_opts,
                    svc_exec **out, weir_error *err);
/* {executionId, tick, state, nodes} now, or at tick `at` ("latest", or a
 * number: time travel, with atTick and metrics); node (may be NULL): only
 * that node's.  WEIR_ETOOLARGE past MAX_ANSWER_BYTES, measured first. */
int svc_state_body(weir_service *s, svc_exec *x, const char *node, const char *at, json_t **out, weir_error *err);
/* The virtual clock's own records (not inputs of the core): an inject
 * scheduled on it, and the clock after a time command moved it.  0, or why
 * it could not be journaled (WEIR_EUNAVAILABLE, the message says).  A no-op
 * unless x is journaled. */
int svc_journal_schedule(svc_exec *x, const weir_inject *in, int64_t due_ms, weir_error *err);
/* Injects scheduled on a virtual clock (the `schedule` records' bodies, in
 * the order scheduled) of which the first `delivered` came due (they come
 * due in (dueMs, order) order): the rest scheduled again on x's virtual
 * clock, each at its time left (at least a tick).  Returns how many could
 * not be (all of them when x's runtime is not virtual), each logged. */
int svc_journal_reschedule(svc_exec *x, json_t *schedules, size_t delivered);
void svc_journal_clock(svc_exec *x);
/* The bookkeeping of x reaching a finished state (the shell's finished
 * callback; recovery calls it for one restored finished). */
void svc_exec_on_finished(svc_exec *x);
/* A new execution from a journal file (POST /api/executions/import): its
 * records checked (chain, and digests where it has them) and applied, then
 * on runtime (NULL: virtual).  A broken file or one that does not replay:
 * WEIR_EINVAL naming the line or record. */
int svc_travel_import(weir_service *s, const char *text, size_t len, const char *runtime, json_t *rt_opts,
                      svc_exec **out, weir_error *err);
/* x's journal as NDJSON (GET /api/executions/:id/journal): *out (malloc'd,
 * *len bytes); WEIR_ETOOLARGE past max bytes. */
int svc_travel_export(weir_service *s, svc_exec *x, size_t max, char **out, size_t *len, weir_error *err);
/* Commit what is queued and close (after every execution is freed). */
void svc_journal_close(weir_service *s);
/* Journal x's inputs from now on: sets sh's input hooks and wraps its
 * runtime half (held http effects); start_body STOLEN (the START record's
 * body without the graph: it is added here), or NULL. */
void svc_journal_attach(svc_exec *x, weir_shell *sh);
/* x's runtime half as the core must see it (wrapped while journaled). */
void svc_journal_half(svc_exec *x, weir_shell *half);
/* x finished (mark its journal finished) / is freed (drop what it holds;
 * delete its journal when evicted). */
void svc_journal_finished(svc_exec *x);
void svc_journal_forget(svc_exec *x, bool evicted);
/* Journals of executions that finished before this start: not loaded, but
 * counted in MAX_FINISHED_HISTORY (how many are left); evicting deletes the
 * oldest of them. */
size_t svc_journal_old(const weir_service *s);
/* The database is past JOURNAL_MAX_BYTES (committed pages in use). */
bool svc_journal_over(weir_service *s);
/* One of them read back from its journal into memory, as it ended (or
 * failed, naming where its journal stops); NULL when id is none of them. */
svc_exec *svc_journal_load_finished(weir_service *s, const char *id);
void svc_journal_evict_old(weir_service *s);
/* Output commit: true when the answer was held (it is sent once what was
 * journaled before it is durable); false: send it now. */
bool svc_out_hold_reply(weir_service *s, const svc_reply *r, int status, json_t *body);
/* An HTTP answer waits until journal item `mark` is durable. */
bool svc_out_hold_http(weir_service *s, weir_http_req *req, uint64_t mark, int status, json_t *body,
                       const char *const *extra, uint64_t start_ns);
/* An event of x (the shell's event callback while journaled). */
void svc_out_event(svc_exec *x, uint64_t seq, const char *name, json_t *data);
/* A response for an HTTP request now (routes.c's path, behind the hold). */
void svc_respond_now(weir_service *s, weir_http_req *req, int status, json_t *body, const char *const *extra,
                     uint64_t start_ns);
/* Create an execution record (not started, not listed): graph g (a
 * reference is taken), options as execute's, id (NULL: a new one).  The
 * runtime is made from rt_name/rt_opts (NULL: selection as execute).
 * Used by start, recovery, fork and import. */
/* A journal's START options carry the server's settings the execution ran
 * under (defaultTimeoutMs, maxQueue, maxWaveHops, maxTraceHops): the same
 * execution again (recovery, time travel, fork, import) runs under them. */
void svc_exec_settings(json_t *opts, weir_exec_options *o);
enum {
    SVC_MAKE_JOURNAL = 1,    /* its inputs are journaled (when there is a journal) */
    SVC_MAKE_NO_RUNTIME = 2, /* none yet (recovery makes it once its past is applied) */
};
int svc_exec_make(weir_service *s, weir_graph *g, const char *graph_id, json_t *opts, const char *id,
                  const char *rt_name, json_t *rt_opts, unsigned flags, svc_exec **out, weir_error *err);
/* List x (index and creation order) as a running one. */
int svc_exec_list(weir_service *s, svc_exec *x, weir_error *err);
/* Take x out of the list again (before it is freed). */
void svc_exec_unlist(weir_service *s, svc_exec *x);
/* Move x to the front of the list (the oldest: evicted first). */
void svc_exec_to_front(weir_service *s, svc_exec *x);
/* Drop the http requests of x held for output commit (a runtime switch
 * fails them instead). */
void svc_journal_drop_effects(svc_exec *x);
/* Wait (blocking the loop, one commit at most) until x's newest input is
 * durable: for what must show it at once (a subscriber's first snapshot). */
int svc_journal_settle(svc_exec *x, weir_error *err);
void svc_exec_free(svc_exec *x);

/* hooks.c: webhooks (symbia.io.http-in / http-response, served at
 * /hooks/<graph name><path>). */
typedef struct svc_hook svc_hook;
/* Answer a request under /hooks/ (auth, routing, inject; the answer comes
 * later from the graph). */
void svc_hook_route(weir_service *s, weir_http_req *req, uint64_t start_ns);
/* A new graph's hooks: no two http-in nodes serve the same method and path,
 * and metadata.hooks is {public?: boolean}.  WEIR_EGRAPH naming the nodes
 * (each problem appended to problems, BORROWED array or NULL). */
int svc_hooks_check(weir_graph *g, json_t *problems, weir_error *err);
/* x was made: tap its http-response nodes. */
void svc_hooks_attach(svc_exec *x);
/* Again after x was upgraded: its http-response nodes, kept or new, tapped once. */
void svc_hooks_reattach(svc_exec *x);
/* The inject of h settled (the settled callback). */
void svc_hook_settled(svc_hook *h, const weir_settled *st);
/* Shutdown leaves journaled x as it is: its unanswered hook requests are
 * answered 202 (accepted, durable, no answer to give). */
void svc_hooks_shutdown(svc_exec *x);
/* x is freed: let go of its hook requests (unanswered ones are dropped). */
void svc_hooks_free(svc_exec *x);
/* Output commit for an answer made outside the held kinds: fn(ud, NULL)
 * once journal item `mark` (and all before it) is durable, fn(ud, why)
 * when the journal failed first.  False: nothing is held, answer now. */
bool svc_out_hold_call(weir_service *s, uint64_t mark, void (*fn)(void *ud, const char *failed), void *ud);

/* components.c: user components (SPEC §2.3). */
/* Register a user component from its JSON definition (def BORROWED; the
 * source is not compiled here: POST /api/components has the host do that
 * first; persistence calls this at startup for definitions checked when
 * they were registered).  WEIR_EINVAL: a bad definition (the message names
 * the field and the fix); WEIR_EEXISTS: a built-in id, or that id and
 * version registered already; WEIR_ESTATE: a running execution uses the
 * version it would replace (named).  store: the definition is stored in
 * DATA_DIR first (WEIR_EIO when it cannot be: nothing is registered).  *out
 * (optional) receives NEW the descriptor as GET /api/components/:id shows
 * it. */
int svc_component_add(weir_service *s, json_t *def, bool store, json_t **out, weir_error *err);
/* The component_restore hook the service installs when the embedder set
 * none: stored definitions are registered again (not stored again). */
int svc_component_restore(void *ud, weir_service *s, const char *id, const char *version, json_t *def,
                          weir_error *err);
/* POST /api/components: answers req itself, once the host has compiled the
 * source (201 with the descriptor, 400, 409, 429, 503). */
void svc_components_post(weir_service *s, weir_http_req *req, uint64_t start_ns);
/* NEW: a descriptor as GET shows it (user components with their execution). */
json_t *svc_component_json(const weir_component *c);
/* Free the registrations and the unanswered POSTs (after the host is gone). */
void svc_components_free(weir_service *s);

#endif
