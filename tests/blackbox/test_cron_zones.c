/* symbia.core.cron's time zone with the real binary: the zone file's bytes
 * are pinned in the execution's START record, so recovery, import, fork
 * and `weir replay` on a machine whose zone file says otherwise (TZDIR
 * pointing at altered rules) still fire at the original instants; a
 * journal written before zones were pinned still replays (from the zone
 * files); MAX_ZONE_BYTES refuses a graph whose zones are too large.
 *
 * The zones are made by the test (tests/support/tzif.h): zone A is Berlin's
 * rule (UTC+1 in December), zone B the "same" zone altered to UTC+5, so
 * "0 9 * * *" fires at 08:00Z under A and 04:00Z under B. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* timegm, strptime */
#endif
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "serve.h"
#include "store/journal_file.h"
#include "tzif.h"

static char data[64], zone_a[64], zone_b[64];

static void make_dirs(void) {
    curl_global_init(CURL_GLOBAL_ALL);
    proc_tempdir(data, sizeof data, "bbzones");
    proc_tempdir(zone_a, sizeof zone_a, "tzdir-a");
    proc_tempdir(zone_b, sizeof zone_b, "tzdir-b");
    tzif_write(zone_a, "Europe/Berlin", "CET-1CEST,M3.5.0,M10.5.0/3", "CET", 3600);
    tzif_write(zone_b, "Europe/Berlin", "XYZ-5", "XYZ", 5 * 3600);
}
static void drop_dirs(void) {
    serve_rmdir(data);
    serve_rmdir(zone_a);
    serve_rmdir(zone_b);
}
TestSuite(cron_zones, .init = make_dirs, .fini = drop_dirs, .timeout = 120);

static int64_t utc_ms(const char *iso) {
    struct tm tm = {0};
    cr_assert_not_null(strptime(iso, "%Y-%m-%dT%H:%M", &tm));
    return (int64_t)timegm(&tm) * 1000;
}

static server start_with(const char *tzdir, const char *const *more) {
    setenv("TZDIR", tzdir, 1); /* the server reads its zone files there */
    const char *argv[16] = {"--data-dir", data};
    int n = 2;
    for (const char *const *m = more; m && *m && n < 15; m++) argv[n++] = *m;
    argv[n] = NULL;
    return serve_start(argv);
}

#define CRON_GRAPH(name)                                                                                           \
    "{\"symbia\":\"1.0\",\"name\":\"" name "\",\"metadata\":{\"role\":\"service\"},\"nodes\":[{\"id\":\"src\","     \
    "\"component\":\"symbia.core.cron\",\"config\":{\"expression\":\"0 9 * * *\",\"timezone\":\"Europe/Berlin\"}},"  \
    "{\"id\":\"z\",\"component\":\"symbia.core.passthrough\"}],\"edges\":[{\"source\":{\"node\":\"src\",\"port\":"   \
    "\"out\"},\"target\":{\"node\":\"z\",\"port\":\"in\"}}]}"

static json_t *get(server *s, const char *path) { return http_get_json(s, path); }

/* nextAt and fired of node src of execution x */
static int64_t next_at(server *s, const char *x, json_int_t *fired) {
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/state", x);
    json_t *st = get(s, path);
    json_t *src = json_object_get(json_object_get(st, "nodes"), "src");
    cr_assert(json_is_object(src), "no state for src");
    int64_t at = json_integer_value(json_object_get(src, "nextAt"));
    if (fired) *fired = json_integer_value(json_object_get(src, "fired"));
    json_decref(st);
    return at;
}

static void advance_day(server *s, const char *x) {
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/advance", x);
    http_resp r = http_req(s, "POST", path, "{\"ms\":86400000}", NULL);
    cr_assert_eq(r.status, 200, "advance %s: %s", x, r.body);
    http_free(&r);
}

static const char *start_opts(void) {
    static char o[128];
    snprintf(o, sizeof o, "{\"runtime\":\"virtual\",\"startMs\":%lld}", (long long)utc_ms("2026-12-06T00:00"));
    return o;
}

/* An execution under zone file A: it fired once, at 08:00Z; its journal. */
static char *run_under_a(char *x, size_t cap) {
    server s = start_with(zone_a, NULL);
    snprintf(x, cap, "%s", serve_execute(&s, CRON_GRAPH("berlin"), start_opts()));
    cr_assert_eq(next_at(&s, x, NULL), utc_ms("2026-12-06T08:00"), "09:00 CET");
    advance_day(&s, x);
    json_int_t fired;
    cr_assert_eq(next_at(&s, x, &fired), utc_ms("2026-12-07T08:00"));
    cr_assert_eq(fired, 1);
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/journal", x);
    http_resp r = http_req(&s, "GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    char *text = strdup(r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
    return text;
}

static int replay_under(const char *tzdir, const char *file, char *out, size_t cap) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "TZDIR=%s %s replay %s", tzdir, WEIR_BINARY, file);
    proc_result pr = proc_run(cmd);
    snprintf(out, cap, "%s%s", pr.out, pr.err);
    int st = pr.status;
    proc_free(&pr);
    return st;
}

Test(cron_zones, recovery_import_fork_and_replay_fire_at_the_pinned_instants_whatever_the_zone_files_say) {
    char x[64];
    char *journal = run_under_a(x, sizeof x);
    /* the START record pins the zone file's bytes */
    const char *nl = strchr(journal, '\n');
    cr_assert_not_null(nl);
    char *first = strndup(journal, (size_t)(nl - journal));
    cr_assert(strstr(first, "\"zones\":{\"Europe/Berlin\":\"VFppZjI"), "%s", first); /* base64 of "TZif2" */
    free(first);

    /* the machine's zone file changes (zone B) and weir restarts */
    server s = start_with(zone_b, NULL);
    /* what zone B says, for a new execution: 04:00Z */
    char y[64];
    snprintf(y, sizeof y, "%s", serve_execute(&s, CRON_GRAPH("berlin-now"), start_opts()));
    cr_assert_eq(next_at(&s, y, NULL), utc_ms("2026-12-06T04:00"), "zone B is in effect for new executions");

    /* recovery: the execution x goes on at 08:00Z */
    json_int_t fired;
    cr_assert_eq(next_at(&s, x, &fired), utc_ms("2026-12-07T08:00"));
    advance_day(&s, x);
    cr_assert_eq(next_at(&s, x, &fired), utc_ms("2026-12-08T08:00"), "recovered: the pinned zone, not zone B");
    cr_assert_eq(fired, 2);

    /* a fork of it, too */
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/fork", x);
    http_resp r = http_req(&s, "POST", path, "{\"atTick\":1}", NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    char f[64];
    snprintf(f, sizeof f, "%s", json_string_value(json_object_get(r.json, "executionId")));
    http_free(&r);
    cr_assert_eq(next_at(&s, f, NULL), utc_ms("2026-12-07T08:00"));
    advance_day(&s, f);
    cr_assert_eq(next_at(&s, f, NULL), utc_ms("2026-12-08T08:00"), "forked: the pinned zone");

    /* import of the journal exported under zone A */
    r = http_req(&s, "POST", "/api/executions/import", journal, "application/x-ndjson");
    cr_assert_eq(r.status, 201, "import: %s", r.body);
    char im[64];
    snprintf(im, sizeof im, "%s", json_string_value(json_object_get(r.json, "executionId")));
    http_free(&r);
    cr_assert_eq(next_at(&s, im, &fired), utc_ms("2026-12-07T08:00"), "imported: the pinned zone");
    cr_assert_eq(fired, 1);
    advance_day(&s, im);
    cr_assert_eq(next_at(&s, im, &fired), utc_ms("2026-12-08T08:00"));
    cr_assert_eq(fired, 2);
    cr_assert_eq(serve_stop(&s), 0);

    /* weir replay under zone B: the firings' `at` match the original's */
    char *file = proc_tempfile(".ndjson", journal);
    char out[8192];
    cr_assert_eq(replay_under(zone_b, file, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "match"), "%s", out);
    unlink(file);
    free(file);
    free(journal);
}

static int sink_file(void *ud, const char *d, size_t len) { return fwrite(d, 1, len, ud) == len ? 0 : WEIR_EIO; }

static int hexval(char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; }

/* The journal as weir wrote it before zones were pinned: the same records,
 * without "zones" in START, chained again. */
static char *without_zones(const char *journal) {
    char *path = proc_tempfile(".ndjson", "");
    FILE *out = fopen(path, "wb");
    cr_assert_not_null(out);
    weir_jfile_writer *w;
    weir_error err;
    cr_assert_eq(weir_jfile_writer_new(sink_file, out, &w, &err), 0);
    for (const char *p = journal; *p;) {
        const char *e = strchr(p, '\n');
        cr_assert_not_null(e);
        json_error_t je;
        json_t *line = json_loadb(p, (size_t)(e - p), 0, &je);
        cr_assert_not_null(line, "%s", je.text);
        json_t *body = json_object_get(line, "body");
        const char *kind = json_string_value(json_object_get(line, "kind"));
        weir_journal_record r = {.seq = json_integer_value(json_object_get(line, "seq")),
                                 .kind = weir_jfile_kind(kind, strlen(kind)),
                                 .tick = json_integer_value(json_object_get(line, "tick")),
                                 .time_ms = json_integer_value(json_object_get(line, "time")),
                                 .body = body};
        if (r.seq == 1) cr_assert_eq(json_object_del(body, "zones"), 0, "START pins zones");
        const char *hex = json_string_value(json_object_get(line, "digest"));
        unsigned char dg[64];
        size_t dlen = hex ? strlen(hex) / 2 : 0;
        for (size_t i = 0; i < dlen; i++) dg[i] = (unsigned char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
        cr_assert_eq(weir_jfile_write(w, &r, hex ? dg : NULL, dlen, &err), 0, "%s", err.message);
        json_decref(line);
        p = e + 1;
    }
    weir_jfile_writer_free(w);
    fclose(out);
    return path;
}

Test(cron_zones, a_journal_from_before_zones_were_pinned_replays_from_the_zone_files) {
    char x[64];
    char *journal = run_under_a(x, sizeof x);
    char *old = without_zones(journal);
    char out[8192];
    /* read from the zone files: the same as then, a match */
    cr_assert_eq(replay_under(zone_a, old, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "match"), "%s", out);
    /* ... and the files are what it read: zone B diverges (the pinned
     * journal, under zone B, matched above) */
    cr_assert_eq(replay_under(zone_b, old, out, sizeof out), 1, "%s", out);
    /* imported, it pins what it read (zone A here), so it goes on as it was */
    FILE *f = fopen(old, "rb");
    cr_assert_not_null(f);
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    cr_assert_null(strstr(text, "\"zones\""));
    server s = start_with(zone_a, NULL);
    http_resp r = http_req(&s, "POST", "/api/executions/import", text, "application/x-ndjson");
    cr_assert_eq(r.status, 201, "import: %s", r.body);
    char im[64];
    snprintf(im, sizeof im, "%s", json_string_value(json_object_get(r.json, "executionId")));
    http_free(&r);
    cr_assert_eq(next_at(&s, im, NULL), utc_ms("2026-12-07T08:00"));
    char path[256];
    snprintf(path, sizeof path, "/api/executions/%s/journal", im);
    r = http_req(&s, "GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "\"zones\":{\"Europe/Berlin\":\"VFppZjI"), "the import pins its zones: %.300s", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
    unlink(old);
    free(old);
    free(journal);
}

Test(cron_zones, zone_files_past_max_zone_bytes_are_a_400_naming_the_setting) {
    const char *more[] = {"--max-zone-bytes", "100", NULL};
    server s = start_with(zone_a, more);
    http_resp r = http_req(&s, "POST", "/api/graphs", CRON_GRAPH("big"), NULL);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(r.body, "node \\\"src\\\" (symbia.core.cron): config \\\"timezone\\\": time zone "
                             "\\\"Europe/Berlin\\\": its zone file is "),
              "%s", r.body);
    cr_assert(strstr(r.body, "more than the 100 bytes left of MAX_ZONE_BYTES"), "%s", r.body);
    http_free(&r);
    /* an unknown zone names the node, the field and the fix */
    r = http_req(&s, "POST", "/api/graphs",
                 "{\"symbia\":\"1.0\",\"name\":\"nowhere\",\"nodes\":[{\"id\":\"src\",\"component\":"
                 "\"symbia.core.cron\",\"config\":{\"expression\":\"@daily\",\"timezone\":\"Europe/Paris\"}}],"
                 "\"edges\":[]}",
                 NULL);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(r.body, "node \\\"src\\\" (symbia.core.cron): config \\\"timezone\\\": unknown time zone "
                             "\\\"Europe/Paris\\\" (no zone file "),
              "%s", r.body);
    cr_assert(strstr(r.body, "the zone files come with the tzdata package, in TZDIR or /usr/share/zoneinfo"), "%s",
              r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);
}

/* An upgrade to a graph with a cron: its record pins the zone as START
 * does, so recovery and replay under zone B cross it at zone A's instants. */
Test(cron_zones, an_upgrade_record_pins_the_zones_of_its_graph) {
    static const char V1[] = "{\"symbia\":\"1.0\",\"name\":\"up\",\"version\":\"1\",\"metadata\":{\"role\":\"service\"},"
                             "\"nodes\":[{\"id\":\"z\",\"component\":\"symbia.core.passthrough\"}],\"edges\":[]}";
    static const char V2[] =
        "{\"symbia\":\"1.0\",\"name\":\"up\",\"version\":\"2\",\"metadata\":{\"role\":\"service\"},\"nodes\":[{\"id\":"
        "\"src\",\"component\":\"symbia.core.cron\",\"config\":{\"expression\":\"0 9 * * *\",\"timezone\":"
        "\"Europe/Berlin\"}},{\"id\":\"z\",\"component\":\"symbia.core.passthrough\"}],\"edges\":[{\"source\":{"
        "\"node\":\"src\",\"port\":\"out\"},\"target\":{\"node\":\"z\",\"port\":\"in\"}}]}";
    server s = start_with(zone_a, NULL);
    http_resp r = http_req(&s, "POST", "/api/graphs", V1, NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    char g[64], x[64], path[256];
    snprintf(g, sizeof g, "%s", json_string_value(json_object_get(r.json, "id")));
    http_free(&r);
    snprintf(path, sizeof path, "/api/graphs/%s/execute", g);
    r = http_req(&s, "POST", path, start_opts(), NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    snprintf(x, sizeof x, "%s", json_string_value(json_object_get(r.json, "executionId")));
    http_free(&r);
    snprintf(path, sizeof path, "/api/graphs/%s", g);
    r = http_req(&s, "PUT", path, V2, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    snprintf(path, sizeof path, "/api/executions/%s/upgrade", x);
    r = http_req(&s, "POST", path, "{}", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    cr_assert_eq(next_at(&s, x, NULL), utc_ms("2026-12-06T08:00"));
    advance_day(&s, x);
    cr_assert_eq(next_at(&s, x, NULL), utc_ms("2026-12-07T08:00"));
    snprintf(path, sizeof path, "/api/executions/%s/journal", x);
    r = http_req(&s, "GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    const char *up = strstr(r.body, "\"kind\":\"upgrade\"");
    cr_assert_not_null(up, "%s", r.body);
    const char *eol = strchr(up, '\n');
    cr_assert_not_null(eol);
    char *line = strndup(up, (size_t)(eol - up));
    cr_assert(strstr(line, "\"zones\":{\"Europe/Berlin\":\"VFppZjI"), "%s", line);
    free(line);
    char *file = proc_tempfile(".ndjson", r.body);
    http_free(&r);
    cr_assert_eq(serve_stop(&s), 0);

    s = start_with(zone_b, NULL);
    cr_assert_eq(next_at(&s, x, NULL), utc_ms("2026-12-07T08:00"), "recovered across the upgrade");
    advance_day(&s, x);
    cr_assert_eq(next_at(&s, x, NULL), utc_ms("2026-12-08T08:00"), "the upgrade's pinned zone, not zone B");
    cr_assert_eq(serve_stop(&s), 0);
    char out[8192];
    cr_assert_eq(replay_under(zone_b, file, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "match"), "%s", out);
    unlink(file);
    free(file);
}
