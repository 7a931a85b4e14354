/* Output commit for webhooks (SPEC §7.1, issue 14), the service in process
 * with a SQLite VFS that stalls or fails the journal on demand: the answer
 * of an http-response leaves only once the hook's inject is durable; when
 * its record cannot be made durable the sender gets 503, never the graph's
 * 2xx.  Requests come from a thread over loopback while the loop runs
 * here. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
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

static void make_dir(void) { proc_tempdir(dir, sizeof dir, "hookcommit"); }
static void drop_dir(void) {
    if (dir[0]) serve_rmdir(dir);
    dir[0] = '\0';
}

TestSuite(hook_commit, .init = make_dir, .fini = drop_dir, .timeout = 120);

/* in (http-in POST /d) → dbl (map value * 2) → resp (http-response) */
static const char *GRAPH =
    "{\"symbia\":\"1.0\",\"name\":\"twice\",\"nodes\":["
    "{\"id\":\"in\",\"component\":\"symbia.io.http-in\",\"config\":{\"path\":\"/d\"}},"
    "{\"id\":\"dbl\",\"component\":\"symbia.core.map\",\"config\":{\"expression\":\"value * 2\"}},"
    "{\"id\":\"resp\",\"component\":\"symbia.io.http-response\"}],"
    "\"edges\":[{\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"dbl\",\"port\":\"in\"}},"
    "{\"source\":{\"node\":\"dbl\",\"port\":\"out\"},\"target\":{\"node\":\"resp\",\"port\":\"in\"}}]}";

static weir_service *start(void) {
    weir_service_config c = svcloop_config(dir, TESTVFS_NAME);
    return svcloop_start(&loop, &c);
}

static void stop(weir_service *svc) { svcloop_stop(&loop, svc); }

static long long mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct client {
    server srv; /* only the port is used */
    atomic_int done;
    atomic_llong released_ms, answered_ms;
    bool fail; /* fail the fsync instead of stalling it */
    long status;
    char body[512];
} client;

static void execute(client *k) {
    http_resp r = http_req(&k->srv, "POST", "/api/graphs", GRAPH, NULL);
    char path[160];
    snprintf(path, sizeof path, "/api/graphs/%s/execute", json_string_value(json_object_get(r.json, "id")) ?: "?");
    http_free(&r);
    r = http_req(&k->srv, "POST", path, "{}", NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    http_free(&r);
}

static void *release_later(void *ud) {
    client *k = ud;
    usleep(300000);
    atomic_store(&k->released_ms, mono_ms());
    atomic_store(&testvfs_hold, 0); /* the disk goes on */
    return NULL;
}

static void *run_client(void *ud) {
    client *k = ud;
    execute(k);
    pthread_t rel;
    if (k->fail) {
        atomic_store(&testvfs_fail_sync, 1);
    } else {
        atomic_store(&testvfs_hold, 1); /* the disk stalls */
        pthread_create(&rel, NULL, release_later, k);
    }
    http_resp r = http_req(&k->srv, "POST", "/hooks/twice/d", "21", NULL);
    atomic_store(&k->answered_ms, mono_ms());
    k->status = r.status;
    snprintf(k->body, sizeof k->body, "%s", r.body ? r.body : "");
    http_free(&r);
    if (!k->fail) pthread_join(rel, NULL);
    atomic_store(&k->done, 1);
    return NULL;
}

static void watch(uv_timer_t *t) {
    client *k = t->data;
    if (atomic_load(&k->done)) uv_stop(t->loop);
}

static void drive(client *k) {
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = k;
    uv_timer_start(&t, watch, 5, 5);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, run_client, k), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    pthread_join(th, NULL);
    uv_timer_stop(&t);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
}

Test(hook_commit, the_answer_waits_until_the_inject_is_durable) {
    testvfs_reset();
    weir_service *svc = start();
    client k = {.srv = {.port = weir_service_port(svc)}};
    drive(&k);
    cr_assert_eq(k.status, 200, "%s", k.body);
    cr_assert_str_eq(k.body, "42");
    cr_assert_geq(atomic_load(&k.answered_ms), atomic_load(&k.released_ms),
                  "answered only once the inject was durable");
    stop(svc);
}

Test(hook_commit, an_inject_that_cannot_be_made_durable_is_answered_503) {
    testvfs_reset();
    weir_service *svc = start();
    client k = {.srv = {.port = weir_service_port(svc)}, .fail = true};
    drive(&k);
    cr_assert_eq(k.status, 503, "the graph's 200 is never sent for what is not durable: %ld %s", k.status, k.body);
    cr_assert(strstr(k.body, "could not be made durable"), "%s", k.body);
    stop(svc);
}
