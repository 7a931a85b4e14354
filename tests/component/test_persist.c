/* The service's side of the store, in process: a component stored through
 * svc_store_component comes back through the component host's hook at the
 * next start, before the stored graphs (so a graph using it loads); with no
 * hook, or a hook that refuses it, it is skipped and the start goes on; out
 * of memory in the hook stops the start; in memory nothing is stored. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "serve.h"
#include "service/service_internal.h"

static uv_loop_t loop;
static char dir[64];

static void make_dir(void) {
    proc_tempdir(dir, sizeof dir, "persist");
}

static void drop_dir(void) {
    if (dir[0]) serve_rmdir(dir);
    dir[0] = '\0';
}

TestSuite(persist, .init = make_dir, .fini = drop_dir);

/* A user component stand-in: the passthrough under another id. */
static weir_component echo;

static const weir_component *echo_component(void) {
    if (!echo.id) {
        for (const weir_component *const *c = weir_builtin_components(); *c; c++)
            if (strcmp((*c)->id, "symbia.core.passthrough") == 0) echo = **c;
        echo.id = "user.echo";
    }
    return &echo;
}

static const char *ECHO_GRAPH = "{\"symbia\":\"1.0\",\"name\":\"echoes\",\"nodes\":["
                                "{\"id\":\"e\",\"component\":\"user.echo\"}],\"edges\":[]}";

/* What the hook saw, and what it answers. */
typedef struct hook_log {
    int calls;
    char id[64], version[16];
    char *def; /* JSON text */
    int graphs_when_called;
    int answer; /* 0: register user.echo; else this error */
} hook_log;

static int restore_hook(void *ud, weir_service *s, const char *id, const char *version, json_t *def, weir_error *err) {
    hook_log *h = ud;
    h->calls++;
    snprintf(h->id, sizeof h->id, "%s", id);
    snprintf(h->version, sizeof h->version, "%s", version ? version : "(none)");
    free(h->def);
    h->def = json_dumps(def, JSON_COMPACT | JSON_SORT_KEYS);
    h->graphs_when_called = s->graphs != NULL;
    if (h->answer) {
        err->code = h->answer;
        snprintf(err->message, sizeof err->message, "refused by the test");
        return h->answer;
    }
    return weir_registry_add(s->reg, echo_component(), err);
}

static weir_service *start(const char *data_dir, hook_log *h, int expect_rc) {
    uv_loop_init(&loop);
    weir_service_config c;
    weir_service_config_defaults(&c);
    c.port = 0;
    c.log_level = "error";
    c.data_dir = data_dir;
    if (h) {
        c.component_restore = restore_hook;
        c.component_restore_ud = h;
    }
    weir_service *svc = NULL;
    weir_error err;
    int rc = weir_service_start(&loop, &c, &svc, &err);
    cr_assert_eq(rc, expect_rc, "%s", rc ? err.message : "started");
    if (rc) {
        uv_run(&loop, UV_RUN_DEFAULT);
        cr_assert_eq(uv_loop_close(&loop), 0);
    }
    return svc;
}

static void stop(weir_service *svc) {
    weir_service_destroy(svc);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0, "every handle closed");
}

static size_t count_graphs(weir_service *svc) {
    size_t n = 0;
    for (svc_graph *g = svc->graphs; g; g = g->next) n++;
    return n;
}

/* Store user.echo and a graph that uses it; return the graph's id. */
static void store_echo(char id[40]) {
    weir_service *svc = start(dir, NULL, 0);
    weir_error err;
    cr_assert_eq(weir_registry_add(svc->reg, echo_component(), &err), 0, "%s", err.message);
    json_t *def = json_pack("{s:s,s:s,s:{s:s,s:s}}", "id", "user.echo", "version", "1.0.0", "execution", "type",
                            "javascript", "source", "return {}");
    cr_assert_eq(svc_store_component(svc, "user.echo", "1.0.0", def, &err), 0, "%s", err.message);
    json_decref(def);
    json_t *doc = json_loads(ECHO_GRAPH, 0, NULL);
    svc_graph *g;
    cr_assert_eq(svc_graph_add(svc, doc, &g, NULL, &err), 0, "%s", err.message);
    json_decref(doc);
    snprintf(id, 40, "%s", g->id);
    stop(svc);
}

Test(persist, a_stored_component_comes_back_through_the_hook_before_the_graphs) {
    char gid[40];
    store_echo(gid);
    hook_log h = {0};
    weir_service *svc = start(dir, &h, 0);
    cr_assert_eq(h.calls, 1);
    cr_assert_str_eq(h.id, "user.echo");
    cr_assert_str_eq(h.version, "1.0.0");
    cr_assert_str_eq(h.def, "{\"execution\":{\"source\":\"return {}\",\"type\":\"javascript\"},\"id\":\"user.echo\","
                            "\"version\":\"1.0.0\"}");
    cr_assert_eq(h.graphs_when_called, 0, "components come first");
    cr_assert_eq(count_graphs(svc), 1, "the graph that uses it loads");
    cr_assert_str_eq(svc->graphs->id, gid);
    stop(svc);
    free(h.def);
}

Test(persist, without_a_hook_or_with_a_refusal_the_component_and_its_graphs_are_skipped) {
    char gid[40];
    store_echo(gid);
    weir_service *svc = start(dir, NULL, 0); /* the service's own hook: this stored definition has no ports */
    cr_assert_eq(count_graphs(svc), 0, "its graph no longer loads: skipped, not fatal");
    stop(svc);
    hook_log h = {.answer = WEIR_EINVAL};
    svc = start(dir, &h, 0);
    cr_assert_eq(h.calls, 1);
    cr_assert_eq(count_graphs(svc), 0);
    stop(svc);
    /* still stored: once the host takes it again, both are back */
    hook_log ok = {0};
    svc = start(dir, &ok, 0);
    cr_assert_eq(count_graphs(svc), 1);
    stop(svc);
    free(h.def);
    free(ok.def);
}

Test(persist, out_of_memory_in_the_hook_stops_the_start) {
    char gid[40];
    store_echo(gid);
    hook_log h = {.answer = WEIR_ENOMEM};
    start(dir, &h, WEIR_ENOMEM);
    cr_assert_eq(h.calls, 1);
    free(h.def);
}

Test(persist, an_unstored_component_is_not_handed_back) {
    char gid[40];
    store_echo(gid);
    weir_service *svc = start(dir, NULL, 0);
    weir_error err;
    cr_assert_eq(svc_unstore_component(svc, "user.echo", &err), 0, "%s", err.message);
    stop(svc);
    hook_log h = {0};
    svc = start(dir, &h, 0);
    cr_assert_eq(h.calls, 0);
    stop(svc);
}

Test(persist, in_memory_nothing_is_stored) {
    hook_log h = {0};
    weir_service *svc = start(NULL, &h, 0);
    cr_assert_null(svc->store);
    weir_error err;
    json_t *def = json_object();
    cr_assert_eq(svc_store_component(svc, "user.echo", NULL, def, &err), 0);
    cr_assert_eq(svc_unstore_component(svc, "user.echo", &err), 0);
    json_decref(def);
    stop(svc);
    cr_assert_eq(h.calls, 0);
}
