/*
 * The runtime registry (SPEC §4.5): names → factories.  A factory makes a
 * runtime for one execution; the runtime's destroyer forgets it.  The two
 * built-ins: `realtime` (a weir_realtime shared by every execution) and
 * `virtual` (a weir_virtual per execution, announcing time:advanced).
 */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "weir/weir.h"

#define MAX_RUNTIMES 32

typedef struct entry {
    char *name;
    weir_runtime_factory make;
    void *ud;
    bool owned; /* ud is the registry's to free */
} entry;

struct weir_runtimes {
    entry list[MAX_RUNTIMES];
    size_t n;
    char *dflt;
    void (*log)(void *ud, const char *line);
    void *log_ud;
};

static void say(const weir_runtimes *r, const char *fmt, const char *a, const char *b) {
    if (!r->log) return;
    char line[512];
    snprintf(line, sizeof line, fmt, a, b);
    r->log(r->log_ud, line);
}

int weir_runtimes_create(const char *default_name, void (*log)(void *ud, const char *line), void *log_ud,
                         weir_runtimes **out) {
    *out = NULL;
    weir_runtimes *r = weir__calloc(1, sizeof *r);
    if (!r || !(r->dflt = weir__strdup(default_name ? default_name : "realtime"))) {
        weir__free(r);
        return WEIR_ENOMEM;
    }
    r->log = log;
    r->log_ud = log_ud;
    *out = r;
    return 0;
}

void weir_runtimes_destroy(weir_runtimes *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        weir__free(r->list[i].name);
        if (r->list[i].owned) weir__free(r->list[i].ud);
    }
    weir__free(r->dflt);
    weir__free(r);
}

static entry *find(weir_runtimes *r, const char *name) {
    for (size_t i = 0; name && i < r->n; i++)
        if (strcmp(r->list[i].name, name) == 0) return &r->list[i];
    return NULL;
}

int weir_runtimes_add(weir_runtimes *r, const char *name, weir_runtime_factory make, void *ud, weir_error *err) {
    if (!name || !*name || !make) return weir__error(err, WEIR_EINVAL, "a runtime needs a name and a factory");
    if (find(r, name)) return weir__error(err, WEIR_EINVAL, "a runtime named \"%s\" is registered already", name);
    if (r->n == MAX_RUNTIMES) return weir__error(err, WEIR_ELIMIT, "at most %d runtimes can be registered", MAX_RUNTIMES);
    if (!(r->list[r->n].name = weir__strdup(name))) return weir__error(err, WEIR_ENOMEM, "out of memory");
    r->list[r->n].make = make;
    r->list[r->n].ud = ud;
    r->n++;
    return 0;
}

const char *weir_runtimes_default(const weir_runtimes *r) { return r->dflt; }

bool weir_runtimes_has(const weir_runtimes *r, const char *name) { return find((weir_runtimes *)r, name) != NULL; }

const char *weir_runtimes_resolve(weir_runtimes *r, const char *name) {
    const char *want = name ? name : r->dflt;
    say(r, "Requesting runtime: %s", want, NULL);
    entry *en = find(r, want);
    if (en) {
        say(r, "Loaded runtime from registry: %s", want, NULL);
        return en->name;
    }
    say(r, "Unknown runtime %s, falling back to default: %s", want, r->dflt);
    en = find(r, r->dflt);
    return en ? en->name : NULL;
}

int weir_runtimes_make(weir_runtimes *r, const char *name, json_t *options, weir_runtime *out, weir_error *err) {
    memset(out, 0, sizeof *out);
    entry *en = find(r, weir_runtimes_resolve(r, name));
    if (!en) return weir__error(err, WEIR_ENOTFOUND, "the default runtime \"%s\" is not registered", r->dflt);
    int rc = en->make(en->ud, options, out, err);
    if (rc) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->name = en->name;
    say(r, "Successfully initialized runtime: %s", en->name, NULL);
    return 0;
}

int weir_runtimes_check(weir_runtimes *r, const char *name, json_t *options, weir_error *err) {
    entry *en = find(r, name);
    if (!en) en = find(r, r->dflt);
    if (!en) return weir__error(err, WEIR_ENOTFOUND, "the default runtime \"%s\" is not registered", r->dflt);
    weir_runtime probe = {0};
    int rc = en->make(en->ud, options, &probe, err);
    if (!rc && probe.destroy) probe.destroy(probe.shell.effect_ud, NULL);
    return rc;
}

void weir_runtimes_release(weir_runtimes *r, weir_runtime *rt, weir_exec *e) {
    if (!rt->name) return;
    say(r, "Destroying runtime: %s", rt->name, NULL);
    if (rt->destroy) rt->destroy(rt->shell.effect_ud, e);
    memset(rt, 0, sizeof *rt);
}

/* ------------------------------------------------------------ realtime */

static int64_t realtime_now(void *ud) { return weir_realtime_now(ud); }
static void realtime_forget(void *ud, weir_exec *e) {
    if (e) weir_realtime_forget(ud, e);
}

static int make_realtime(void *ud, json_t *options, weir_runtime *out, weir_error *err) {
    (void)options;
    (void)err;
    weir_realtime_shell(ud, &out->shell);
    out->now_ms = realtime_now;
    out->destroy = realtime_forget;
    return 0;
}

/* ------------------------------------------------------------- virtual */

typedef struct virtual_conf {
    int64_t tick_ms;
    weir_realtime *clock; /* where virtual time starts (the wall clock now; NULL: 0) and what performs
                             unmocked http (NULL: such requests fail, naming the request) */
} virtual_conf;

static void announce(void *ud, weir_exec *e, int64_t now, uint64_t tick) {
    (void)ud;
    if (e)
        weir_exec_event(e, "time:advanced", json_pack("{s:s,s:I,s:I}", "executionId", weir_exec_id(e), "time",
                                                      (json_int_t)now, "tick", (json_int_t)tick));
}

static int64_t virtual_now(void *ud) { return weir_virtual_now(ud); }
static void virtual_destroy(void *ud, weir_exec *e) {
    (void)e;
    weir_virtual_destroy(ud);
}
static void virtual_bind(void *ud, weir_exec *e) { weir_virtual_bind(ud, e); }

static int make_virtual(void *ud, json_t *options, weir_runtime *out, weir_error *err) {
    virtual_conf *c = ud;
    json_t *tick = json_object_get(options, "tickMs");
    if (tick && (!json_is_integer(tick) || json_integer_value(tick) < 1))
        return weir__error(err, WEIR_EINVAL, "tickMs must be a positive integer (ms per tick)");
    json_t *start = json_object_get(options, "startMs");
    if (start && !json_is_integer(start))
        return weir__error(err, WEIR_EINVAL, "startMs must be an integer (the clock at tick 0, ms since the epoch)");
    weir_virtual_options vo = {.tick_ms = tick ? json_integer_value(tick) : c->tick_ms,
                               .start_ms = start ? json_integer_value(start)
                                           : c->clock ? weir_realtime_now(c->clock)
                                                      : 0,
                               .mocks = json_object_get(options, "mocks"),
                               .world = json_object_get(options, "world"),
                               .advanced = announce,
                               .http = c->clock}; /* unmocked requests are performed for real */
    weir_virtual *v;
    int rc = weir_virtual_create(&vo, &v, err);
    if (rc) return rc;
    weir_virtual_shell(v, &out->shell);
    out->now_ms = virtual_now;
    out->destroy = virtual_destroy;
    out->bind = virtual_bind;
    out->virt = v;
    return 0;
}

int weir_runtimes_add_builtins(weir_runtimes *r, weir_realtime *rt, int64_t tick_ms, weir_error *err) {
    int rc = 0;
    if (rt) rc = weir_runtimes_add(r, "realtime", make_realtime, rt, err);
    if (rc) return rc;
    virtual_conf *c = weir__calloc(1, sizeof *c);
    if (!c) return weir__error(err, WEIR_ENOMEM, "out of memory");
    c->tick_ms = tick_ms > 0 ? tick_ms : 1;
    c->clock = rt;
    rc = weir_runtimes_add(r, "virtual", make_virtual, c, err);
    if (rc) {
        weir__free(c);
        return rc;
    }
    r->list[r->n - 1].owned = true;
    return 0;
}
