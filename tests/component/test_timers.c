/* Sources that start themselves (symbia.core.interval, symbia.core.cron)
 * on the virtual runtime: they fire at the right virtual times, hold
 * natural completion off while active, show their schedule as state, skip
 * (and count) what a late timer missed, and survive a snapshot. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* timegm, strptime */
#endif
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "failalloc.h"
#include "proc.h"
#include "shell.h"
#include "tzif.h"

static test_shell ts;
static weir_virtual *v;

/* Time zones: the core reads no zone file.  The tests' resolver serves
 * zones made in memory (tzif.h), and TZDIR names an empty directory: a
 * zone read from a file would not be found. */
typedef struct test_zone {
    const char *name, *rule, *abbr;
    int32_t off;
} test_zone;
static const test_zone *served; /* {NULL}-terminated */
static int asked;               /* resolver calls */
static char asked_for[256];
static const test_zone BERLIN[] = {{"Europe/Berlin", "CET-1CEST,M3.5.0,M10.5.0/3", "CET", 3600}, {0}};
static char empty_tzdir[64];

static int resolve_zone(void *ud, const char *name, uint8_t *buf, size_t cap, size_t *len, weir_error *err) {
    (void)ud;
    asked++;
    size_t l = strlen(asked_for);
    snprintf(asked_for + l, sizeof asked_for - l, "%s%s", l ? " " : "", name);
    for (const test_zone *z = served; z && z->name; z++) {
        if (strcmp(z->name, name) != 0) continue;
        uint8_t tmp[512];
        *len = tzif_make(z->rule, z->abbr, z->off, tmp, sizeof tmp);
        if (*len <= cap) memcpy(buf, tmp, *len);
        return 0;
    }
    snprintf(err->message, sizeof err->message, "unknown time zone \"%s\" (the test serves none of that name)", name);
    return err->code = WEIR_ENOTFOUND;
}
static weir_graph_options zone_opts = {.zone = resolve_zone};

static void setup(void) {
    ts_init(&ts, true);
    v = NULL;
    served = BERLIN;
    asked = 0;
    asked_for[0] = '\0';
    zone_opts = (weir_graph_options){.zone = resolve_zone};
    ts.graph_opts = &zone_opts;
    proc_tempdir(empty_tzdir, sizeof empty_tzdir, "tzdir");
    setenv("TZDIR", empty_tzdir, 1);
}
static void teardown(void) {
    fa_uninstall();
    weir_virtual_destroy(v);
    ts_fini(&ts);
    rmdir(empty_tzdir);
}
TestSuite(timers, .init = setup, .fini = teardown);

#define GRAPH(src_comp, src_cfg, md)                                                                              \
    "{\"symbia\":\"1.0\",\"name\":\"t\",\"metadata\":" md ",\"nodes\":[{\"id\":\"src\",\"component\":\"" src_comp \
    "\",\"config\":" src_cfg "},{\"id\":\"z\",\"component\":\"symbia.core.passthrough\"}],"                     \
    "\"edges\":[{\"source\":{\"node\":\"src\",\"port\":\"out\"},\"target\":{\"node\":\"z\",\"port\":\"in\"}}]}"

static int64_t utc_ms(const char *iso) {
    struct tm tm = {0};
    cr_assert_not_null(strptime(iso, "%Y-%m-%dT%H:%M", &tm));
    return (int64_t)timegm(&tm) * 1000;
}

/* A virtual runtime whose clock starts at start_ms, and an execution of
 * graph on it (completion auto unless the graph says otherwise). */
static weir_exec *start(const char *graph, int64_t start_ms) {
    weir_virtual_options o = {.start_ms = start_ms};
    weir_error err;
    cr_assert_eq(weir_virtual_create(&o, &v, &err), 0, "%s", err.message);
    weir_virtual_shell(v, &ts.sh);
    weir_graph *g = ts_graph(&ts, graph);
    weir_exec_options xo = {.id = "x1", .timeout_ms = 0};
    weir_exec *e = NULL;
    cr_assert_eq(weir_exec_create(g, &xo, &ts.sh, &e, &err), 0, "%s", err.message);
    weir_graph_unref(g);
    weir_virtual_bind(v, e);
    cr_assert_eq(weir_exec_start(e, weir_virtual_now(v), &err), 0, "%s", err.message);
    return e;
}

/* "tick:value" of every output event on z, joined by spaces. */
static const char *outputs(void) {
    static char buf[8192];
    buf[0] = '\0';
    size_t i;
    json_t *ev;
    json_array_foreach(ts.events, i, ev) {
        if (strcmp(json_string_value(json_object_get(ev, "event")), "output") != 0) continue;
        json_t *d = json_object_get(ev, "data");
        size_t len = strlen(buf);
        snprintf(buf + len, sizeof buf - len, "%s%lld:%s", len ? " " : "",
                 (long long)json_integer_value(json_object_get(d, "tick")), ts_dump(json_object_get(d, "value")));
    }
    return buf;
}

static size_t n_outputs(void) { return ts_count_events(&ts, "output"); }

static const char *node_state(weir_exec *e, const char *node) {
    json_t *s = weir_exec_node_state(e, node);
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s", ts_dump(s));
    json_decref(s);
    return buf;
}

Test(timers, interval_with_count_fires_n_times_at_its_ticks_then_completes) {
    weir_exec *e = start(GRAPH("symbia.core.interval", "{\"everyMs\":100,\"count\":3}", "{}"), 0);
    cr_assert_eq(weir_exec_pending_effects(e), 1, "the first firing is pending from the start");
    cr_assert_str_eq(node_state(e, "src"), "{\"fired\":0,\"missed\":0,\"nextAt\":100,\"remaining\":3}");
    weir_error err;
    cr_assert_eq(weir_virtual_advance(v, 99, &err), 0);
    cr_assert_eq(n_outputs(), 0, "nothing before 100 ms");
    cr_assert_eq(weir_virtual_advance(v, 151, &err), 0);
    cr_assert_str_eq(outputs(), "1:{\"at\":100,\"n\":1} 2:{\"at\":200,\"n\":2}");
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_RUNNING, "a firing is still pending: no completion");
    cr_assert_str_eq(node_state(e, "src"), "{\"fired\":2,\"missed\":0,\"nextAt\":300,\"remaining\":1}");
    bool idle = false;
    cr_assert_eq(weir_virtual_run(v, 0, &idle, &err), 0);
    cr_assert(idle);
    cr_assert_eq(weir_virtual_now(v), 300, "run stopped at the last firing");
    cr_assert_str_eq(outputs(), "1:{\"at\":100,\"n\":1} 2:{\"at\":200,\"n\":2} 3:{\"at\":300,\"n\":3}");
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_COMPLETED, "completes after the last firing");
    cr_assert_eq(ts_count_events(&ts, "execution:completed"), 1);
    weir_exec_destroy(e);
}

Test(timers, an_active_interval_holds_completion_off) {
    weir_exec *e = start(GRAPH("symbia.core.interval", "{\"everyMs\":10,\"value\":{\"ping\":true}}", "{}"), 0);
    weir_error err;
    bool idle = true;
    cr_assert_eq(weir_virtual_run(v, 10000, &idle, &err), 0);
    cr_assert(!idle, "never idle while it is active");
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_RUNNING);
    cr_assert_eq(n_outputs(), 1000);
    json_t *last = NULL, *ev;
    size_t i;
    json_array_foreach(ts.events, i, ev) if (strcmp(json_string_value(json_object_get(ev, "event")), "output") == 0) last = ev;
    cr_assert_str_eq(ts_dump(json_object_get(json_object_get(last, "data"), "value")), "{\"ping\":true}",
                     "config.value is what it emits");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(last, "data"), "tick")), 1000);
    cr_assert_str_eq(node_state(e, "src"), "{\"fired\":1000,\"missed\":0,\"nextAt\":10010}");
    size_t discarded;
    cr_assert_eq(weir_exec_stop(e, weir_virtual_now(v), &discarded, &err), 0);
    cr_assert_eq(weir_virtual_pending(v), 0, "stop cancels the pending firing");
    weir_exec_destroy(e);
}

Test(timers, a_late_timer_skips_and_counts_what_it_missed) {
    /* the test shell resolves timers by hand, as late as it likes */
    weir_graph *g = ts_graph(&ts, GRAPH("symbia.core.interval", "{\"everyMs\":100}", "{}"));
    weir_exec_options xo = {.id = "x1", .timeout_ms = 0};
    weir_exec *e = ts_start(&ts, g, &xo);
    weir_graph_unref(g);
    cr_assert_str_eq(ts_dump(json_object_get(json_array_get(ts.effects, 0), "payload")), "{\"delayMs\":100}");
    weir_error err;
    cr_assert_eq(weir_exec_resolve(e, ts_effect_id(&ts, 0), NULL, NULL, 350, &err), 0, "%s", err.message);
    cr_assert_str_eq(outputs(), "1:{\"at\":100,\"n\":1}", "one firing, not a burst");
    cr_assert_str_eq(node_state(e, "src"), "{\"fired\":1,\"missed\":2,\"nextAt\":400}", "200 and 300 missed");
    cr_assert_str_eq(ts_dump(json_object_get(json_array_get(ts.effects, 1), "payload")), "{\"delayMs\":50}",
                     "in phase: due at 400");
    /* a timer a little early (a coarse clock) keeps the phase too */
    cr_assert_eq(weir_exec_resolve(e, ts_effect_id(&ts, 1), NULL, NULL, 398, &err), 0, "%s", err.message);
    cr_assert_str_eq(ts_dump(json_object_get(json_array_get(ts.effects, 2), "payload")), "{\"delayMs\":102}");
    weir_exec_destroy(e);
}

Test(timers, a_late_cron_timer_fires_once_and_counts_the_minutes_it_missed) {
    weir_graph *g = ts_graph(&ts, GRAPH("symbia.core.cron", "{\"expression\":\"*/15 * * * *\"}", "{}"));
    weir_exec_options xo = {.id = "x1", .timeout_ms = 0};
    weir_exec *e = ts_start(&ts, g, &xo); /* at 0: 1970-01-01T00:00Z */
    weir_graph_unref(g);
    cr_assert_str_eq(ts_dump(json_object_get(json_array_get(ts.effects, 0), "payload")), "{\"delayMs\":900000}");
    weir_error err;
    cr_assert_eq(weir_exec_resolve(e, ts_effect_id(&ts, 0), NULL, NULL, 3600001, &err), 0, "%s", err.message);
    cr_assert_str_eq(outputs(), "1:{\"at\":900000,\"n\":1}");
    json_t *st = weir_exec_node_state(e, "src");
    cr_assert_eq(json_integer_value(json_object_get(st, "missed")), 3, "00:30, 00:45 and 01:00: %s", ts_dump(st));
    cr_assert_eq(json_integer_value(json_object_get(st, "nextAt")), 4500000, "01:15");
    json_decref(st);
    cr_assert_str_eq(ts_dump(json_object_get(json_array_get(ts.effects, 1), "payload")), "{\"delayMs\":899999}");
    weir_exec_destroy(e);
}

Test(timers, a_source_takes_no_inject_and_says_why) {
    weir_exec *e = start(GRAPH("symbia.core.interval", "{\"everyMs\":100}", "{}"), 0);
    json_t *v1 = json_integer(1);
    weir_inject in = {.node = "src", .value = v1};
    weir_error err;
    cr_assert_eq(weir_exec_inject(e, &in, 0, NULL, &err), WEIR_ENOTFOUND);
    cr_assert_str_eq(err.message, "node \"src\" (symbia.core.interval) has no input port: it is a source that starts "
                                  "itself; inject into a node it feeds instead");
    json_decref(v1);
    weir_exec_destroy(e);
}

Test(timers, interval_below_its_minimum_is_refused_at_load) {
    const char *msg = ts_graph_error(&ts, GRAPH("symbia.core.interval", "{\"everyMs\":5}", "{}"));
    cr_assert(strstr(msg, "node \"src\": config \"everyMs\" is 5; the minimum is 10"), "%s", msg);
    /* and above its maximum (the schedule's arithmetic overflowed near 2^63, review) */
    msg = ts_graph_error(&ts, GRAPH("symbia.core.interval", "{\"everyMs\":9223372036854775807}", "{}"));
    cr_assert(strstr(msg, "config \"everyMs\" is 9223372036854775808; at most 31622400000 (a year"), "%s", msg);
    msg = ts_graph_error(&ts, GRAPH("symbia.core.interval", "{\"count\":2}", "{}"));
    cr_assert(strstr(msg, "config \"everyMs\" is required"), "%s", msg);
    msg = ts_graph_error(&ts, GRAPH("symbia.core.interval", "{\"everyMs\":100,\"count\":0}", "{}"));
    cr_assert(strstr(msg, "config \"count\" is 0; the minimum is 1"), "%s", msg);
}

Test(timers, cron_every_15_minutes_fires_at_the_right_virtual_minutes) {
    int64_t t0 = utc_ms("2026-12-06T20:07");
    weir_exec *e = start(GRAPH("symbia.core.cron", "{\"expression\":\"*/15 * * * *\"}", "{}"), t0);
    cr_assert_str_eq(node_state(e, "src"),
                     "{\"expression\":\"*/15 * * * *\",\"fired\":0,\"missed\":0,\"nextAt\":1796588100000,"
                     "\"timezone\":\"UTC\"}");
    cr_assert_eq(utc_ms("2026-12-06T20:15"), 1796588100000LL);
    weir_error err;
    cr_assert_eq(weir_virtual_advance(v, 60 * 60000, &err), 0, "%s", err.message); /* to 21:07 */
    /* the event's tick is the execution's, not the clock's: compare the times */
    cr_assert_eq(n_outputs(), 4);
    const char *o = outputs();
    cr_assert(strstr(o, "{\"at\":1796588100000,\"n\":1}"), "%s", o);
    cr_assert(strstr(o, "{\"at\":1796590800000,\"n\":4}"), "%s", o);
    cr_assert_eq(utc_ms("2026-12-06T21:00"), 1796590800000LL);
    cr_assert_eq(weir_exec_state(e), WEIR_STATE_RUNNING, "cron never completes on its own");
    weir_exec_destroy(e);
}

Test(timers, cron_in_berlin_skips_the_missing_hour_on_virtual_time) {
    int64_t t0 = utc_ms("2026-03-28T00:00");
    weir_exec *e = start(GRAPH("symbia.core.cron",
                               "{\"expression\":\"30 2 * * *\",\"timezone\":\"Europe/Berlin\",\"value\":\"wake\"}",
                               "{}"),
                         t0);
    weir_error err;
    cr_assert_eq(weir_virtual_advance(v, 3 * 86400000LL, &err), 0, "%s", err.message);
    cr_assert_eq(n_outputs(), 2, "the 28th and the 30th; 02:30 did not exist on the 29th: %s", outputs());
    json_t *st = weir_exec_node_state(e, "src");
    cr_assert_eq(json_integer_value(json_object_get(st, "nextAt")), utc_ms("2026-03-31T00:30"));
    json_decref(st);
    weir_exec_destroy(e);
}

Test(timers, cron_bad_expression_or_zone_is_refused_naming_node_field_and_column) {
    const char *msg = ts_graph_error(&ts, GRAPH("symbia.core.cron", "{\"expression\":\"*/15 * * * MOO\"}", "{}"));
    cr_assert(strstr(msg, "node \"src\" (symbia.core.cron): config \"expression\" (\"*/15 * * * MOO\"): day-of-week "
                          "field (column 12): \"MOO\" is not a value"),
              "%s", msg);
    msg = ts_graph_error(&ts,
                         GRAPH("symbia.core.cron", "{\"expression\":\"0 * * * *\",\"timezone\":\"Europe/Nowhere\"}", "{}"));
    cr_assert(strstr(msg, "node \"src\" (symbia.core.cron): config \"timezone\": unknown time zone \"Europe/Nowhere\""),
              "%s", msg);
}

#define CRON_9(zone) GRAPH("symbia.core.cron", "{\"expression\":\"0 9 * * *\",\"timezone\":\"" zone "\"}", "{}")

/* The shells' resolver (weir_zone_files) answering for an unknown zone: the
 * node, the field, the zone, where it looked and how to fix it. */
Test(timers, cron_unknown_zone_names_node_field_zone_and_fix) {
    zone_opts = (weir_graph_options){.zone = weir_zone_files}; /* $TZDIR: empty */
    const char *msg = ts_graph_error(&ts, CRON_9("Europe/Berlin"));
    char want[512];
    snprintf(want, sizeof want,
             "node \"src\" (symbia.core.cron): config \"timezone\": unknown time zone \"Europe/Berlin\" (no zone "
             "file %s/Europe/Berlin: No such file or directory; names are IANA ones such as \"Europe/Berlin\"; the "
             "zone files come with the tzdata package, in TZDIR or /usr/share/zoneinfo)",
             empty_tzdir);
    cr_assert(strstr(msg, want), "%s", msg);
    msg = ts_graph_error(&ts, CRON_9("../etc/passwd"));
    cr_assert(strstr(msg, "config \"timezone\": \"../etc/passwd\" is not an IANA time zone name"), "%s", msg);
    /* a program that supplies no zones: only UTC */
    zone_opts = (weir_graph_options){0};
    msg = ts_graph_error(&ts, CRON_9("Europe/Berlin"));
    cr_assert(strstr(msg, "config \"timezone\": unknown time zone \"Europe/Berlin\" (the program loading the graph "
                          "supplies no zone files; only \"UTC\" is built in)"),
              "%s", msg);
    weir_graph_unref(ts_graph(&ts, CRON_9("UTC")));
    /* a zone file that is not one */
    zone_opts = (weir_graph_options){.zone = resolve_zone};
    static const test_zone BAD[] = {{"Bad/Rule", "CET-1CEST,M3.5.0", "CET", 3600}, {0}};
    served = BAD;
    msg = ts_graph_error(&ts, CRON_9("Bad/Rule"));
    cr_assert(strstr(msg, "node \"src\" (symbia.core.cron): config \"timezone\": time zone \"Bad/Rule\": "), "%s",
              msg);
}

/* A zone's bytes come from the shell's resolver (no file is read: TZDIR is
 * empty), once per load, and the graph keeps exactly those bytes. */
Test(timers, cron_fires_in_a_zone_the_shell_supplies) {
    static const test_zone PLUS5[] = {{"Test/Plus_Five", "XYZ-5", "XYZ", 5 * 3600}, {0}};
    served = PLUS5;
    int64_t t0 = utc_ms("2026-12-06T00:00");
    weir_exec *e = start(CRON_9("Test/Plus_Five"), t0);
    cr_assert_eq(asked, 1, "asked once: %s", asked_for);
    cr_assert_str_eq(asked_for, "Test/Plus_Five");
    weir_error err;
    cr_assert_eq(weir_virtual_advance(v, 2 * 86400000LL, &err), 0, "%s", err.message);
    /* 09:00 at UTC+5 is 04:00Z */
    char want[256];
    snprintf(want, sizeof want, "{\"at\":%lld,\"n\":1}", (long long)utc_ms("2026-12-06T04:00"));
    cr_assert(strstr(outputs(), want), "%s", outputs());
    snprintf(want, sizeof want, "{\"at\":%lld,\"n\":2}", (long long)utc_ms("2026-12-07T04:00"));
    cr_assert(strstr(outputs(), want), "%s", outputs());
    cr_assert_eq(n_outputs(), 2);
    json_t *zones = weir_graph_zones(weir_exec_graph(e));
    cr_assert_eq(json_object_size(zones), 1);
    uint8_t bytes[512];
    size_t n = tzif_make("XYZ-5", "XYZ", 5 * 3600, bytes, sizeof bytes);
    /* base64 of the bytes, made here independently of the core's encoder */
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char enc[1024], *o = enc;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t w = (uint32_t)bytes[i] << 16 | (i + 1 < n ? (uint32_t)bytes[i + 1] << 8 : 0) |
                     (i + 2 < n ? bytes[i + 2] : 0);
        *o++ = b64[w >> 18 & 63];
        *o++ = b64[w >> 12 & 63];
        *o++ = i + 1 < n ? b64[w >> 6 & 63] : '=';
        *o++ = i + 2 < n ? b64[w & 63] : '=';
    }
    *o = '\0';
    cr_assert_str_eq(json_string_value(json_object_get(zones, "Test/Plus_Five")), enc);
    weir_exec_destroy(e);
}

/* Zones pinned in the options win over the resolver: the same graph loaded
 * again with its first load's zones fires at the first load's instants
 * though the resolver (the machine's files) now says otherwise — or
 * supplies nothing at all. */
Test(timers, pinned_zone_bytes_win_over_the_resolver) {
    static const test_zone PLUS5[] = {{"Test/Zone", "XYZ-5", "XYZ", 5 * 3600}, {0}};
    static const test_zone MINUS3[] = {{"Test/Zone", "ABC3", "ABC", -3 * 3600}, {0}};
    served = PLUS5;
    weir_graph *first = ts_graph(&ts, CRON_9("Test/Zone"));
    json_t *pinned = json_deep_copy(weir_graph_zones(first));
    weir_graph_unref(first);
    cr_assert_not_null(pinned);
    served = MINUS3; /* the machine's zone changed */
    asked = 0;
    zone_opts = (weir_graph_options){.zone = resolve_zone, .zones = pinned};
    int64_t t0 = utc_ms("2026-12-06T00:00");
    weir_exec *e = start(CRON_9("Test/Zone"), t0);
    cr_assert_eq(asked, 0, "the resolver is not asked for a pinned zone: %s", asked_for);
    json_t *st = weir_exec_node_state(e, "src");
    cr_assert_eq(json_integer_value(json_object_get(st, "nextAt")), utc_ms("2026-12-06T04:00"),
                 "09:00 at UTC+5 (the pinned bytes), not 12:00Z (UTC-3, the resolver's)");
    json_decref(st);
    cr_assert(json_equal(weir_graph_zones(weir_exec_graph(e)), pinned), "the graph keeps the pinned bytes");
    weir_exec_destroy(e);
    weir_virtual_destroy(v);
    v = NULL;
    /* pinned only, no resolver at all */
    zone_opts = (weir_graph_options){.zones = pinned};
    e = start(CRON_9("Test/Zone"), t0);
    st = weir_exec_node_state(e, "src");
    cr_assert_eq(json_integer_value(json_object_get(st, "nextAt")), utc_ms("2026-12-06T04:00"));
    json_decref(st);
    weir_exec_destroy(e);
    /* a zone not pinned, with no resolver: named as such */
    const char *msg = ts_graph_error(&ts, CRON_9("Europe/Berlin"));
    cr_assert(strstr(msg, "unknown time zone \"Europe/Berlin\" (it is not among the zones pinned when the execution "
                          "started)"),
              "%s", msg);
    /* pinned bytes that are not base64 */
    json_t *broken = json_pack("{s:s}", "Test/Zone", "not base64!");
    zone_opts = (weir_graph_options){.zones = broken};
    msg = ts_graph_error(&ts, CRON_9("Test/Zone"));
    cr_assert(strstr(msg, "time zone \"Test/Zone\": its pinned zone file is not base64"), "%s", msg);
    json_decref(broken);
    json_decref(pinned);
}

/* MAX_ZONE_BYTES bounds what a graph's zones pin, all together. */
Test(timers, zone_files_past_max_zone_bytes_are_refused_naming_the_setting) {
    static const test_zone TWO[] = {{"A/One", "XYZ-5", "XYZ", 5 * 3600}, {"B/Two", "ABC3", "ABC", -3 * 3600}, {0}};
    served = TWO;
    uint8_t tmp[512];
    size_t one = tzif_make("XYZ-5", "XYZ", 5 * 3600, tmp, sizeof tmp);
    zone_opts = (weir_graph_options){.zone = resolve_zone, .max_zone_bytes = one + 10};
    weir_graph_unref(ts_graph(&ts, CRON_9("A/One")));
    const char *two = "{\"symbia\":\"1.0\",\"name\":\"t\",\"nodes\":["
                      "{\"id\":\"a\",\"component\":\"symbia.core.cron\",\"config\":{\"expression\":\"@daily\","
                      "\"timezone\":\"A/One\"}},{\"id\":\"b\",\"component\":\"symbia.core.cron\",\"config\":{"
                      "\"expression\":\"@daily\",\"timezone\":\"B/Two\"}},{\"id\":\"c\",\"component\":"
                      "\"symbia.core.cron\",\"config\":{\"expression\":\"@hourly\",\"timezone\":\"A/One\"}}],"
                      "\"edges\":[]}";
    const char *msg = ts_graph_error(&ts, two);
    char want[256];
    snprintf(want, sizeof want, "node \"b\" (symbia.core.cron): config \"timezone\": time zone \"B/Two\": its zone "
             "file is %zu bytes, more than the 10 bytes left of MAX_ZONE_BYTES (%zu bytes",
             tzif_make("ABC3", "ABC", -3 * 3600, tmp, sizeof tmp), one + 10);
    cr_assert(strstr(msg, want), "%s", msg);
    cr_assert_null(strstr(msg, "node \"c\""), "a zone used twice counts once: %s", msg);
    zone_opts.max_zone_bytes = 2 * one;
    weir_graph *g = ts_graph(&ts, two);
    cr_assert_eq(json_object_size(weir_graph_zones(g)), 2);
    weir_graph_unref(g);
}

/* A snapshot between firings restores into a fresh execution that goes on
 * firing exactly as the original. */
Test(timers, a_snapshot_keeps_the_schedule) {
    weir_exec *a = start(GRAPH("symbia.core.interval", "{\"everyMs\":100,\"count\":5}", "{}"), 0);
    weir_error err;
    cr_assert_eq(weir_virtual_advance(v, 250, &err), 0);
    json_t *snap = weir_exec_snapshot(a, &err);
    cr_assert_not_null(snap, "%s", err.message);
    weir_graph *g = ts_graph(&ts, GRAPH("symbia.core.interval", "{\"everyMs\":100,\"count\":5}", "{}"));
    weir_exec_options xo = {.id = "x1", .timeout_ms = 0};
    weir_exec *b = NULL;
    test_shell ts2;
    ts_init(&ts2, false);
    cr_assert_eq(weir_exec_create(g, &xo, &ts2.sh, &b, &err), 0);
    weir_graph_unref(g);
    cr_assert_eq(weir_exec_restore(b, snap, &err), 0, "%s", err.message);
    json_decref(snap);
    json_t *sa = weir_exec_node_state(a, "src"), *sb = weir_exec_node_state(b, "src");
    cr_assert_str_eq(ts_dump(sb), "{\"fired\":2,\"missed\":0,\"nextAt\":300,\"remaining\":3}");
    cr_assert(json_equal(sa, sb));
    json_decref(sa);
    json_decref(sb);
    weir_exec_destroy(b);
    ts_fini(&ts2);
    weir_exec_destroy(a);
}

/* Out of memory anywhere in a load that resolves a zone, or reads a pinned
 * one: WEIR_ENOMEM, nothing leaked, no graph. */
Test(timers, a_zone_load_out_of_memory_fails_cleanly) {
    static const test_zone PLUS5[] = {{"Test/Zone", "XYZ-5", "XYZ", 5 * 3600}, {0}};
    served = PLUS5;
    const char *text = "{\"symbia\":\"1.0\",\"name\":\"t\",\"nodes\":["
                       "{\"id\":\"a\",\"component\":\"symbia.core.cron\",\"config\":{\"expression\":\"@daily\","
                       "\"timezone\":\"Test/Zone\"}},{\"id\":\"b\",\"component\":\"symbia.core.cron\",\"config\":{"
                       "\"expression\":\"@hourly\",\"timezone\":\"Test/Zone\"}}],\"edges\":[]}";
    fa_install(0, 0);
    weir_error err;
    weir_graph *g = NULL;
    weir_graph_options by_resolver = {.zone = resolve_zone};
    cr_assert_eq(weir_graph_load_text(ts.reg, text, strlen(text), &by_resolver, &g, &err), 0, "%s", err.message);
    json_t *pinned = json_deep_copy(weir_graph_zones(g));
    weir_graph_unref(g);
    cr_assert_not_null(pinned);
    weir_graph_options by_pin = {.zones = pinned};
    json_t *doc = json_loads(text, 0, NULL);
    cr_assert_not_null(doc);
    const weir_graph_options *modes[] = {&by_resolver, &by_pin};
    for (int m = 0; m < 2; m++) {
        bool loaded = false;
        for (size_t n = 1; n < 100000 && !loaded; n++) {
            long live = fa_live();
            fa_arm(n);
            g = NULL;
            int rc = weir_graph_load(ts.reg, doc, modes[m], &g, &err);
            size_t attempts = fa_count();
            fa_arm(0);
            if (rc) {
                cr_assert_eq(rc, WEIR_ENOMEM, "mode %d, allocation %zu: %s", m, n, err.message);
                cr_assert_null(g);
                cr_assert_eq(fa_live(), live, "mode %d, allocation %zu: a failed load leaks", m, n);
                continue;
            }
            cr_assert(json_equal(weir_graph_zones(g), pinned), "mode %d", m);
            weir_graph_unref(g);
            cr_assert_eq(fa_live(), live);
            loaded = attempts < n;
        }
        cr_assert(loaded, "mode %d: the load never completed", m);
    }
    json_decref(pinned);
    json_decref(doc);
    cr_assert_eq(fa_live(), 0);
    fa_uninstall();
}
