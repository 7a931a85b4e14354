/* Log lines of `weir serve` (SPEC §6 LOG_FORMAT): a value with a newline
 * stays on its line, LOG_FORMAT=json lines are all JSON (start-up errors
 * included), times carry milliseconds, a failed execution says why. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "serve.h"

#define LOGGER_GRAPH                                                                                                 \
    "{\"symbia\":\"1.0\",\"name\":\"logs\",\"metadata\":{\"completion\":\"never\"},\"nodes\":["                    \
    "{\"id\":\"in\",\"component\":\"symbia.core.passthrough\"},"                                                    \
    "{\"id\":\"say\",\"component\":\"symbia.core.logger\",\"config\":{\"prefix\":\"said: \"}}],"                     \
    "\"edges\":[{\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"say\",\"port\":\"in\"}}]}"

#define FAILING_GRAPH                                                                                                \
    "{\"symbia\":\"1.0\",\"name\":\"fails\",\"nodes\":["                                                            \
    "{\"id\":\"in\",\"component\":\"symbia.core.passthrough\"},"                                                    \
    "{\"id\":\"m\",\"component\":\"symbia.core.map\",\"config\":{\"expression\":\"value.x.y\"}}],"                   \
    "\"edges\":[{\"source\":{\"node\":\"in\",\"port\":\"out\"},\"target\":{\"node\":\"m\",\"port\":\"in\"}}]}"

/* The server's log once it holds `needle` (polled, up to 10 s). */
static const char *log_with(const server *s, const char *needle) {
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        const char *log = serve_log(s);
        if (strstr(log, needle)) return log;
        clock_gettime(CLOCK_MONOTONIC, &now);
        cr_assert_lt(now.tv_sec - t0.tv_sec, 10, "no \"%s\" in the log:\n%s", needle, log);
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* The lines of text (a NEW array of strings). */
static json_t *lines_of(const char *text) {
    json_t *a = json_array();
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        json_array_append_new(a, json_stringn(p, n));
        p += n;
        if (*p) p++;
    }
    return a;
}

/* Every line of log is a JSON object with time, level and msg; returns
 * them (NEW). */
static json_t *json_lines(const char *log) {
    json_t *lines = lines_of(log), *out = json_array();
    cr_assert_gt(json_array_size(lines), 0, "nothing logged");
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) {
        json_error_t e;
        json_t *j = json_loads(json_string_value(l), 0, &e);
        cr_assert(json_is_object(j), "line %zu is not JSON (%s): %s\nlog:\n%s", i + 1, e.text, json_string_value(l),
                  log);
        cr_assert(json_is_string(json_object_get(j, "time")) && json_is_string(json_object_get(j, "level")) &&
                      json_is_string(json_object_get(j, "msg")),
                  "line %zu lacks time, level or msg: %s", i + 1, json_string_value(l));
        json_array_append_new(out, j);
    }
    json_decref(lines);
    return out;
}

static void assert_ms_time(const char *text, const char *line) {
    regex_t re;
    cr_assert_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z", REG_EXTENDED), 0);
    int rc = regexec(&re, text, 0, NULL, 0);
    regfree(&re);
    cr_assert_eq(rc, 0, "no millisecond UTC time (2026-01-02T03:04:05.678Z) at the start of: %s", line);
}

static void inject(server *s, const char *exec_id, const char *body) {
    char path[128];
    snprintf(path, sizeof path, "/api/executions/%s/inject", exec_id);
    http_resp r = http_req(s, "POST", path, body, NULL);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    http_free(&r);
}

/* A logged value with a newline, a carriage return and an escape sequence
 * is one line: escaped in text, a JSON string in json. */
Test(log, a_newline_in_a_logged_value_stays_on_its_line) {
    const char *value =
        "{\"nodeId\":\"in\",\"value\":\"first\\nFAKE 2026-01-01T00:00:00Z error  forged\\r\\u001b[31m\"}";
    server s = serve_start(NULL);
    inject(&s, serve_execute(&s, LOGGER_GRAPH, NULL), value);
    const char *log = log_with(&s, "said: ");
    json_t *lines = lines_of(log);
    size_t i, said = 0;
    json_t *l;
    json_array_foreach(lines, i, l) {
        const char *t = json_string_value(l);
        cr_assert_null(strstr(t, "\r"), "a raw carriage return: %s", t);
        cr_assert_null(strstr(t, "\x1b"), "a raw escape: %s", t);
        cr_assert(strncmp(t, "FAKE", 4) != 0, "the value started a line of its own:\n%s", log);
        if (strstr(t, "said: ")) {
            said++;
            cr_assert(strstr(t, "said: first\\nFAKE 2026-01-01T00:00:00Z error  forged\\r\\x1b[31m"), "%s", t);
        }
    }
    cr_assert_eq(said, 1, "%s", log);
    json_decref(lines);
    serve_stop(&s);

    const char *args[] = {"--log-format", "json", NULL};
    s = serve_start(args);
    inject(&s, serve_execute(&s, LOGGER_GRAPH, NULL), value);
    log = log_with(&s, "said: ");
    json_t *js = json_lines(log);
    said = 0;
    json_array_foreach(js, i, l) {
        const char *msg = json_string_value(json_object_get(l, "msg"));
        if (strncmp(msg, "said: ", 6) != 0) continue;
        said++;
        cr_assert_str_eq(msg, "said: first\nFAKE 2026-01-01T00:00:00Z error  forged\r\x1b[31m");
        cr_assert_str_eq(json_string_value(json_object_get(l, "nodeId")), "say");
    }
    cr_assert_eq(said, 1, "%s", log);
    json_decref(js);
    serve_stop(&s);
}

/* LOG_FORMAT=json: a whole run (start, requests, shutdown) logs JSON lines
 * only, with millisecond times. */
Test(log, json_mode_is_json_from_start_to_stop) {
    const char *args[] = {"--log-format", "json", "--memory", NULL};
    server s = serve_start(args);
    inject(&s, serve_execute(&s, LOGGER_GRAPH, NULL), "{\"nodeId\":\"in\",\"value\":{\"a\":[1,2]}}");
    log_with(&s, "said: ");
    server after = s;
    after.err_fd = dup(s.err_fd); /* its log stays readable once it has stopped */
    cr_assert_eq(serve_stop(&s), 0);
    const char *log = serve_log(&after);
    close(after.err_fd);
    json_t *js = json_lines(log);
    json_t *last = json_array_get(js, json_array_size(js) - 1);
    cr_assert_str_eq(json_string_value(json_object_get(last, "msg")), "stopped", "%s", log);
    json_decref(js);
}

/* Start-up errors under LOG_FORMAT=json (environment or flag) are JSON
 * lines too: an invalid setting, an unknown flag, a bad LOG_LEVEL, a port
 * in use. */
Test(log, json_mode_start_up_errors_are_json) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 1), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    char in_use[256];
    snprintf(in_use, sizeof in_use, "LOG_FORMAT=json " WEIR_BINARY " serve --memory --port %d", ntohs(a.sin_port));
    const struct {
        const char *cmd;
        int status;
        const char *says;
    } cases[] = {
        {"LOG_FORMAT=json PORT=abc " WEIR_BINARY " serve --memory", 2, "PORT (--port) must be a non-negative integer"},
        {WEIR_BINARY " serve --memory --log-format json --max-body-bytes 12q", 2, "MAX_BODY_BYTES"},
        {"LOG_FORMAT=json " WEIR_BINARY " serve --memory --no-such-flag", 2, "--no-such-flag"},
        {"LOG_FORMAT=json " WEIR_BINARY " serve --memory stray", 2, "stray"},
        {"LOG_FORMAT=json LOG_LEVEL=loud " WEIR_BINARY " serve --memory", 2, "LOG_LEVEL"},
        {"LOG_FORMAT=json " WEIR_BINARY " serve --memory --host 0.0.0.0", 2, "HOST=0.0.0.0"},
        {in_use, 1, "address already in use"},
        {"LOG_FORMAT=json MAX_WAVE_HOPS=0 " WEIR_BINARY " serve --memory", 2, "MAX_WAVE_HOPS must be at least 1"},
        {"LOG_FORMAT=json MAX_CONNECTIONS=0 " WEIR_BINARY " serve --memory", 2,
         "MAX_CONNECTIONS must be between 1 and 100000000"},
        {WEIR_BINARY " serve --memory --log-format json --max-connections-per-ip 0", 2,
         "MAX_CONNECTIONS_PER_IP must be between 1 and 100000000"},
        {"LOG_FORMAT=json HEADER_TIMEOUT_MS=100000001 " WEIR_BINARY " serve --memory", 2,
         "HEADER_TIMEOUT_MS must be between 1 and 100000000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        proc_result r = proc_run(cases[i].cmd);
        cr_assert_eq(r.status, cases[i].status, "%s: exit %d\n%s", cases[i].cmd, r.status, r.err);
        json_t *lines = json_lines(r.err);
        json_t *last = json_array_get(lines, json_array_size(lines) - 1);
        cr_assert_str_eq(json_string_value(json_object_get(last, "level")), "error", "%s", r.err);
        cr_assert(strstr(json_string_value(json_object_get(last, "msg")), cases[i].says), "%s: %s", cases[i].cmd,
                  r.err);
        assert_ms_time(json_string_value(json_object_get(last, "time")), r.err);
        json_decref(lines);
        proc_free(&r);
    }
    close(fd);
}

/* The start line says what needs credentials: everything but /health*,
 * /metrics unless METRICS_AUTH, GETs when PUBLIC_READS (SPEC §10). */
Test(log, the_start_line_says_what_needs_credentials) {
    const struct {
        const char *args[8];
        const char *says;
    } cases[] = {
        {{"--api-keys", "k1", NULL}, "(auth: API keys (1); every request needs credentials but /health*, /metrics)"},
        {{"--api-keys", "k1", "--public-reads", "true", "--metrics-auth", "true"},
         "every request needs credentials but /health*, GET and HEAD (PUBLIC_READS))"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        server s = serve_start(cases[i].args);
        const char *log = log_with(&s, "listening on");
        cr_assert(strstr(log, cases[i].says), "case %zu: %s", i, log);
        cr_assert_null(strstr(log, "POST, PUT, PATCH and DELETE"), "%s", log);
        serve_stop(&s);
    }
}

/* Text lines start with a millisecond UTC time; JSON lines' time is one. */
Test(log, times_have_milliseconds) {
    server s = serve_start(NULL);
    json_t *lines = lines_of(serve_log(&s));
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) assert_ms_time(json_string_value(l), json_string_value(l));
    json_decref(lines);
    serve_stop(&s);
    const char *args[] = {"--log-format", "json", NULL};
    s = serve_start(args);
    json_t *js = json_lines(serve_log(&s));
    json_array_foreach(js, i, l) assert_ms_time(json_string_value(json_object_get(l, "time")), "a JSON line");
    json_decref(js);
    serve_stop(&s);
}

/* "execution failed" says why (the execution's error message) and where. */
Test(log, a_failed_execution_logs_its_reason) {
    server s = serve_start(NULL);
    const char *x = serve_execute(&s, FAILING_GRAPH, NULL);
    char path[128];
    snprintf(path, sizeof path, "/api/executions/%s/inject", x);
    http_resp r = http_req(&s, "POST", path, "{\"nodeId\":\"in\",\"value\":1}", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_free(&r);
    const char *log = log_with(&s, "execution failed");
    const char *line = strstr(log, "execution failed");
    cr_assert(strncmp(line, "execution failed: unhandled error in node \"m\": Cannot read properties of undefined",
                      strlen("execution failed: unhandled error in node \"m\": Cannot read properties of undefined")) ==
                  0,
              "%s", log);
    serve_stop(&s);

    const char *args[] = {"--log-format", "json", NULL};
    s = serve_start(args);
    x = serve_execute(&s, FAILING_GRAPH, NULL);
    snprintf(path, sizeof path, "/api/executions/%s/inject", x);
    r = http_req(&s, "POST", path, "{\"nodeId\":\"in\",\"value\":1}", NULL);
    http_free(&r);
    log = log_with(&s, "execution failed");
    json_t *js = json_lines(log);
    size_t i, found = 0;
    json_t *l;
    json_array_foreach(js, i, l) {
        const char *msg = json_string_value(json_object_get(l, "msg"));
        if (strncmp(msg, "execution failed", 16) != 0) continue;
        found++;
        cr_assert(strstr(msg, "unhandled error in node \"m\""), "%s", msg);
        cr_assert_str_eq(json_string_value(json_object_get(l, "level")), "warn");
        cr_assert_str_eq(json_string_value(json_object_get(l, "state")), "failed");
        cr_assert_str_eq(json_string_value(json_object_get(l, "nodeId")), "m");
        cr_assert_str_eq(json_string_value(json_object_get(l, "executionId")), x);
    }
    cr_assert_eq(found, 1, "%s", log);
    json_decref(js);
    serve_stop(&s);
}

/* weir run's log lines too: a value with a newline stays on its line. */
Test(log, weir_run_keeps_a_logged_newline_on_its_line) {
    char *graph = proc_tempfile(".json", LOGGER_GRAPH);
    char cmd[512];
    snprintf(cmd, sizeof cmd, WEIR_BINARY " run %s --inject 'in=\"first\\nFAKE second\"' --timeout 2000", graph);
    proc_result r = proc_run(cmd);
    cr_assert_not_null(strstr(r.err, "said: first\\nFAKE second\n"), "%s", r.err);
    cr_assert_null(strstr(r.err, "\nFAKE"), "%s", r.err);
    proc_free(&r);
    unlink(graph);
    free(graph);
}
