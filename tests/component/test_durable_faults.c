/* Output commit under store faults (SPEC §7.1), the service in process with
 * a SQLite VFS that fails the journal's fsync or write on demand: an inject
 * whose record cannot be made durable is answered 503, never 200; once the
 * journal has failed every input is refused with 503 and nothing changes;
 * after a restart what was acknowledged is there and what was refused is
 * not.  Requests come from a thread over loopback while the loop runs
 * here. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "serve.h"
#include "service/service_internal.h"
#include "svcloop.h"
#include "testvfs.h"

static uv_loop_t loop;
static char dir[64];

static void make_dir(void) { proc_tempdir(dir, sizeof dir, "durfault"); }
static void drop_dir(void) {
    if (dir[0]) serve_rmdir(dir);
    dir[0] = '\0';
}

TestSuite(durable_faults, .init = make_dir, .fini = drop_dir, .timeout = 120);

static const char *GRAPH =
    "{\"symbia\":\"1.0\",\"name\":\"acc\",\"nodes\":["
    "{\"id\":\"in\",\"component\":\"symbia.core.passthrough\"},"
    "{\"id\":\"acc\",\"component\":\"symbia.core.accumulator\",\"config\":{\"batchSize\":1000}}],"
    "\"edges\":[{\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"acc\",\"port\":\"in\"}}]}";

static weir_service *start(const char *vfs) {
    weir_service_config c = svcloop_config(dir, vfs);
    return svcloop_start(&loop, &c);
}

static void stop(weir_service *svc) { svcloop_stop(&loop, svc); }

/* The client thread and what it saw. */
typedef struct client {
    server srv; /* only the port is used */
    atomic_int done;
    char exec[64];
    long status[4];
    char body[4][512];
} client;

static void keep(client *k, int i, http_resp *r) {
    k->status[i] = r->status;
    snprintf(k->body[i], sizeof k->body[i], "%s", r->body ? r->body : "");
    http_free(r);
}

static void inject(client *k, int i, int value) {
    char path[160], body[64];
    snprintf(path, sizeof path, "/api/executions/%s/inject", k->exec);
    snprintf(body, sizeof body, "{\"nodeId\":\"in\",\"value\":%d}", value);
    http_resp r = http_req(&k->srv, "POST", path, body, NULL);
    keep(k, i, &r);
}

/* POST graph, execute it (completion never): k->exec. */
static void execute(client *k, const char *graph) {
    http_resp r = http_req(&k->srv, "POST", "/api/graphs", graph, NULL);
    char path[160];
    snprintf(path, sizeof path, "/api/graphs/%s/execute", json_string_value(json_object_get(r.json, "id")) ?: "?");
    http_free(&r);
    r = http_req(&k->srv, "POST", path, "{\"completion\":\"never\"}", NULL);
    snprintf(k->exec, sizeof k->exec, "%s", json_string_value(json_object_get(r.json, "executionId")) ?: "?");
    http_free(&r);
}

static void *run_client(void *ud) {
    client *k = ud;
    execute(k, GRAPH);
    http_resp r;
    inject(k, 0, 1);                         /* durable: 200 */
    atomic_store(&testvfs_fail_sync, 1);     /* the disk fails from here */
    inject(k, 1, 2);                         /* processed, never made durable: 503 */
    inject(k, 2, 3);                         /* refused before it is processed: 503 */
    r = http_req(&k->srv, "GET", "/health", NULL, NULL);
    keep(k, 3, &r);
    atomic_store(&k->done, 1);
    return NULL;
}

static void watch(uv_timer_t *t) {
    client *k = t->data;
    if (atomic_load(&k->done)) uv_stop(t->loop);
}

/* Run the loop while fn(arg) talks to the server from a thread, until it
 * sets k->done. */
static void drive(client *k, void *(*fn)(void *), void *arg) {
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = k;
    uv_timer_start(&t, watch, 5, 5);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, fn, arg), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    pthread_join(th, NULL);
    uv_timer_stop(&t);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_NOWAIT); /* closed before it leaves the stack */
}

static json_t *buffer_of(weir_service *svc, const char *id) {
    svc_exec *x = svc_exec_find(svc, id);
    cr_assert(x, "execution %s came back", id);
    json_t *st = weir_exec_node_state(x->e, "acc");
    json_t *b = json_incref(json_object_get(st, "buffer"));
    json_decref(st);
    return b;
}

static bool holds(json_t *buf, int v) {
    size_t i;
    json_t *e;
    json_array_foreach(buf, i, e) if (json_integer_value(e) == v) return true;
    return false;
}

Test(durable_faults, an_inject_that_cannot_be_made_durable_is_answered_503_never_200) {
    testvfs_reset();
    weir_service *svc = start(TESTVFS_NAME);
    client k = {.srv = {.port = weir_service_port(svc)}};
    drive(&k, run_client, &k);

    cr_assert_eq(k.status[0], 200, "%s", k.body[0]);
    cr_assert_eq(k.status[1], 503, "a failed fsync is never acknowledged: %ld %s", k.status[1], k.body[1]);
    cr_assert(strstr(k.body[1], "could not be made durable"), "%s", k.body[1]);
    cr_assert_eq(k.status[2], 503, "%ld %s", k.status[2], k.body[2]);
    cr_assert(strstr(k.body[2], "could not be journaled"), "%s", k.body[2]);
    cr_assert_eq(k.status[3], 200, "reads still work: %s", k.body[3]);
    json_t *b = buffer_of(svc, k.exec);
    cr_assert(holds(b, 1) && holds(b, 2) && !holds(b, 3), "refused means not processed: %s",
              json_dumps(b, JSON_COMPACT));
    json_decref(b);
    stop(svc);

    /* The same data with a sound disk: the acknowledged value is there, the
     * refused one is not (the one whose fsync failed may or may not be). */
    testvfs_reset();
    svc = start(NULL);
    b = buffer_of(svc, k.exec);
    cr_assert(holds(b, 1), "what was answered 200 survives: %s", json_dumps(b, JSON_COMPACT));
    cr_assert(!holds(b, 3), "what was refused never happened: %s", json_dumps(b, JSON_COMPACT));
    json_decref(b);
    stop(svc);
}

/* in → dly (delay 100 ms) → acc: an effect result that cannot be journaled
 * (the journal failed meanwhile) fails the execution here, visibly, and
 * leaves its journal unfinished: after a restart it comes back and the
 * timer fires again. */
static const char *DELAYED =
    "{\"symbia\":\"1.0\",\"name\":\"later\",\"nodes\":["
    "{\"id\":\"in\",\"component\":\"symbia.core.passthrough\"},"
    "{\"id\":\"dly\",\"component\":\"symbia.core.delay\",\"config\":{\"delayMs\":100}},"
    "{\"id\":\"acc\",\"component\":\"symbia.core.accumulator\",\"config\":{\"batchSize\":1000}}],"
    "\"edges\":[{\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"dly\",\"port\":\"in\"}},"
    "{\"source\":{\"node\":\"dly\",\"port\":\"out\"},\"target\":{\"node\":\"acc\",\"port\":\"in\"}}]}";

static void *run_delayed(void *ud) {
    client *k = ud;
    execute(k, DELAYED);
    http_resp r;
    char path[160];
    char body[] = "{\"nodeId\":\"in\",\"value\":5,\"wait\":false}";
    snprintf(path, sizeof path, "/api/executions/%s/inject", k->exec);
    r = http_req(&k->srv, "POST", path, body, NULL); /* durable: its timer is pending */
    keep(k, 0, &r);
    atomic_store(&testvfs_fail_sync, 1);
    r = http_req(&k->srv, "POST", path, "{\"nodeId\":\"in\",\"value\":6,\"wait\":false}", NULL); /* fails the journal */
    keep(k, 1, &r);
    snprintf(path, sizeof path, "/api/executions/%s", k->exec);
    for (int i = 0; i < 200; i++) { /* the first timer fires (~100 ms): its result cannot be journaled */
        r = http_req(&k->srv, "GET", path, NULL, NULL);
        const char *st = json_string_value(json_object_get(r.json, "state"));
        bool failed = st && strcmp(st, "failed") == 0;
        keep(k, 2, &r);
        if (failed) break;
        usleep(10000);
    }
    atomic_store(&k->done, 1);
    return NULL;
}

Test(durable_faults, an_effect_result_that_cannot_be_journaled_fails_here_and_comes_back_after_a_restart) {
    testvfs_reset();
    weir_service *svc = start(TESTVFS_NAME);
    client k = {.srv = {.port = weir_service_port(svc)}};
    drive(&k, run_delayed, &k);
    cr_assert_eq(k.status[0], 202, "%s", k.body[0]);
    cr_assert_eq(k.status[1], 503, "%s", k.body[1]);
    cr_assert(strstr(k.body[2], "\"failed\"") && strstr(k.body[2], "could not be journaled"),
              "the execution says why it stopped: %s", k.body[2]);
    stop(svc);

    testvfs_reset();
    svc = start(NULL);
    svc_exec *x = svc_exec_find(svc, k.exec);
    cr_assert(x, "it came back");
    cr_assert_eq(weir_exec_state(x->e), WEIR_STATE_RUNNING, "from its journal: running, its timer pending");
    for (int i = 0; i < 100 && weir_exec_pending_effects(x->e); i++) uv_run(&loop, UV_RUN_ONCE);
    json_t *b = buffer_of(svc, k.exec);
    cr_assert(holds(b, 5), "the timer fired again after the restart: %s", json_dumps(b, JSON_COMPACT));
    json_decref(b);
    stop(svc);
}

/* JOURNAL_QUEUE_MAX reached while the disk is slow (the writer held inside
 * a write): client inputs are refused in the queue's last quarter; effect
 * results (three delay timers firing) that find no room are parked and
 * given once the writer goes on — none is lost, the execution goes on. */
Test(durable_faults, effect_results_wait_for_room_in_a_full_queue_and_are_not_lost) {
    testvfs_reset();
    weir_service_config c = svcloop_config(dir, TESTVFS_NAME);
    c.journal_queue_max = 12; /* items: a record and its digest are two */
    c.durability = 1;
    weir_service *svc = svcloop_start(&loop, &c);
    weir_error err;
    json_t *doc = json_loads(DELAYED, 0, NULL);
    svc_graph *g;
    cr_assert_eq(svc_graph_add(svc, doc, &g, NULL, &err), 0, "%s", err.message);
    json_decref(doc);
    json_t *opts = json_pack("{s:s}", "completion", "never");
    svc_exec *x;
    cr_assert_eq(svc_exec_start(svc, g, opts, NULL, &x, &err), 0, "%s", err.message);
    json_decref(opts);
    for (int v = 1; v <= 3; v++) { /* three timers (100 ms) */
        json_t *val = json_integer(v);
        weir_inject in = {"in", NULL, val, 0, NULL};
        cr_assert_eq(weir_exec_inject(x->e, &in, svc_exec_now(x), NULL, &err), 0, "%s", err.message);
        json_decref(val);
        for (int i = 0; i < 200 && svc->j_done < svc->j_mark; i++) uv_run(&loop, UV_RUN_NOWAIT), usleep(1000);
    }
    cr_assert_eq(svc->j_done, svc->j_mark, "committed");
    atomic_store(&testvfs_hold, 1); /* the disk stalls */
    int refused = 0, v = 10;
    for (; v < 40 && !refused; v++) {
        json_t *val = json_integer(v);
        weir_inject in = {"in", NULL, val, 0, NULL};
        int rc = weir_exec_inject(x->e, &in, svc_exec_now(x), NULL, &err);
        json_decref(val);
        if (rc) {
            cr_assert_eq(rc, WEIR_EUNAVAILABLE, "%s", err.message);
            cr_assert(strstr(err.message, "journal is behind"), "%s", err.message);
            refused = v;
        }
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    cr_assert(refused, "client inputs are refused before the queue is full");
    /* the three timers fire into the remaining room and past it */
    uint64_t t0 = uv_now(&loop);
    while (uv_now(&loop) - t0 < 400) uv_run(&loop, UV_RUN_NOWAIT), usleep(2000);
    cr_assert(svc->parked, "a result found no room: parked");
    cr_assert_eq(weir_exec_state(x->e), WEIR_STATE_RUNNING, "nothing failed");
    atomic_store(&testvfs_hold, 0); /* the disk goes on */
    for (int i = 0; i < 2000 && (svc->parked || weir_exec_pending_effects(x->e)); i++)
        uv_run(&loop, UV_RUN_NOWAIT), usleep(1000);
    cr_assert_null(svc->parked);
    json_t *b = buffer_of(svc, x->id);
    cr_assert(holds(b, 1) && holds(b, 2) && holds(b, 3), "every timer's value arrived: %s",
              json_dumps(b, JSON_COMPACT));
    json_decref(b);
    cr_assert_eq(weir_exec_state(x->e), WEIR_STATE_RUNNING);
    stop(svc);
}

/* A read of an execution whose newest input is not durable waits for it:
 * nothing a client sees can be undone by a crash (output commit). */
typedef struct reader {
    client k;
    atomic_llong released_ms, answered_ms;
    char state[512];
} reader;

static long long mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *inject_one(void *ud) {
    inject(ud, 1, 42);
    return NULL;
}

static void *release_later(void *ud) {
    reader *rd = ud;
    usleep(300000);
    atomic_store(&rd->released_ms, mono_ms());
    atomic_store(&testvfs_hold, 0); /* the disk goes on */
    return NULL;
}

static void *run_reader(void *ud) {
    reader *rd = ud;
    client *k = &rd->k;
    execute(k, GRAPH);
    http_resp r;
    char path[160];
    atomic_store(&testvfs_hold, 1); /* the disk stalls */
    pthread_t inj, rel;
    pthread_create(&inj, NULL, inject_one, k);
    usleep(100000); /* the inject is processed; its record waits for the disk */
    pthread_create(&rel, NULL, release_later, rd);
    snprintf(path, sizeof path, "/api/executions/%s/state", k->exec);
    r = http_req(&k->srv, "GET", path, NULL, NULL);
    atomic_store(&rd->answered_ms, mono_ms());
    snprintf(rd->state, sizeof rd->state, "%s", r.body ? r.body : "");
    http_free(&r);
    pthread_join(inj, NULL);
    pthread_join(rel, NULL);
    atomic_store(&k->done, 1);
    return NULL;
}

Test(durable_faults, a_read_of_what_is_not_durable_yet_waits_for_it) {
    testvfs_reset();
    weir_service *svc = start(TESTVFS_NAME);
    reader rd = {.k = {.srv = {.port = weir_service_port(svc)}}};
    drive(&rd.k, run_reader, &rd);
    cr_assert(strstr(rd.state, "42"), "the read shows the inject: %s", rd.state);
    cr_assert_geq(atomic_load(&rd.answered_ms), atomic_load(&rd.released_ms),
                  "it was answered only once the inject was durable");
    cr_assert_eq(rd.k.status[1], 200, "%s", rd.k.body[1]);
    stop(svc);
}
