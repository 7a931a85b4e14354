/* Log lines: one call is one line, in text and in json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/logline.h"
#include "shell.h"

/* What one weir_logline_write printed (a NEW string). */
static char *written(bool json, json_t *fields, const char *msg) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    weir_logline_write(f, json, WEIR_LOG_WARN, fields, "%s", msg);
    fclose(f);
    return buf;
}

static size_t count_lines(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

Test(logline, text_escapes_every_control_character_and_bytes_that_are_not_utf8) {
    /* \n \r \t, a backslash, C0, DEL, C1 (U+0085), U+2028, a lone 0xff; é stays */
    char *line = written(false, NULL, "a\nb\r\tc\\d\x01\x7f\xc2\x85\xe2\x80\xa8\xff\xc3\xa9");
    cr_assert_eq(count_lines(line), 1, "%s", line);
    const char *msg = strstr(line, "warn  ");
    cr_assert_not_null(msg, "%s", line);
    cr_assert_str_eq(msg + 6, "a\\nb\\r\\tc\\\\d\\x01\\x7f\\u0085\\u2028\\xff\xc3\xa9\n");
    free(line);
}

Test(logline, text_fields_follow_as_compact_json) {
    json_t *fields = json_pack("{s:s}", "nodeId", "x\ny");
    char *line = written(false, fields, "hello");
    cr_assert_eq(count_lines(line), 1, "%s", line);
    cr_assert(strstr(line, " warn  hello {\"nodeId\":\"x\\ny\"}\n"), "%s", line);
    json_decref(fields);
    free(line);
}

Test(logline, json_is_one_object_per_line_even_for_bytes_that_are_not_utf8) {
    json_t *fields = json_pack("{s:s,s:s}", "nodeId", "n", "msg", "not this one");
    char *line = written(true, fields, "bad \xff byte\nand a newline");
    cr_assert_eq(count_lines(line), 1, "%s", line);
    json_error_t e;
    json_t *j = json_loads(line, 0, &e);
    cr_assert_not_null(j, "%s: %s", e.text, line);
    cr_assert_str_eq(json_string_value(json_object_get(j, "msg")), "bad \xef\xbf\xbd byte\nand a newline");
    cr_assert_str_eq(json_string_value(json_object_get(j, "level")), "warn");
    cr_assert_str_eq(json_string_value(json_object_get(j, "nodeId")), "n");
    cr_assert_eq(strlen(json_string_value(json_object_get(j, "time"))), strlen("2026-01-02T03:04:05.678Z"));
    json_decref(j);
    json_decref(fields);
    free(line);
}

/* A message beyond WEIR_LOGLINE_MAX_MESSAGE is cut on a character boundary
 * and the line says how much went. */
Test(logline, a_long_message_is_cut_and_says_so) {
    size_t n = WEIR_LOGLINE_MAX_MESSAGE + 1000;
    char *msg = malloc(n + 1);
    memset(msg, 'x', n);
    memcpy(msg + WEIR_LOGLINE_MAX_MESSAGE - 1, "\xc3\xa9", 2); /* é across the bound */
    msg[n] = '\0';
    char *line = written(true, NULL, msg);
    json_t *j = json_loads(line, 0, NULL);
    cr_assert_not_null(j, "%.200s", line);
    const char *m = json_string_value(json_object_get(j, "msg"));
    cr_assert_eq(strlen(m), WEIR_LOGLINE_MAX_MESSAGE - 1 + strlen(" ... (1001 more bytes cut)"), "%s",
                 m + WEIR_LOGLINE_MAX_MESSAGE - 10);
    cr_assert_str_eq(m + WEIR_LOGLINE_MAX_MESSAGE - 1, " ... (1001 more bytes cut)");
    json_decref(j);
    free(line);
    free(msg);
}

/* Every length around the bound: the cut tail fits however few bytes the
 * message has past WEIR_LOGLINE_MAX_MESSAGE (run under ASan to see a write
 * past the buffer), and what is kept plus the tail is exactly right. */
Test(logline, every_length_around_the_bound_is_kept_or_cut_exactly) {
    for (size_t n = WEIR_LOGLINE_MAX_MESSAGE - 4; n <= WEIR_LOGLINE_MAX_MESSAGE + 36; n++) {
        char *msg = malloc(n + 1);
        memset(msg, 'x', n);
        msg[n] = '\0';
        for (int json = 0; json <= 1; json++) {
            char *line = written(json, NULL, msg);
            char tail[64] = "";
            if (n > WEIR_LOGLINE_MAX_MESSAGE)
                snprintf(tail, sizeof tail, " ... (%zu more bytes cut)", n - WEIR_LOGLINE_MAX_MESSAGE);
            size_t kept = n > WEIR_LOGLINE_MAX_MESSAGE ? WEIR_LOGLINE_MAX_MESSAGE : n;
            const char *m;
            json_t *j = NULL;
            if (json) {
                j = json_loads(line, 0, NULL);
                cr_assert_not_null(j, "n=%zu", n);
                m = json_string_value(json_object_get(j, "msg"));
            } else {
                m = strstr(line, "warn  ");
                cr_assert_not_null(m, "n=%zu", n);
                m += 6;
            }
            cr_assert_eq(strspn(m, "x"), kept, "n=%zu", n);
            cr_assert(strncmp(m + kept, tail, strlen(tail)) == 0, "n=%zu: %s", n, m + kept);
            cr_assert(m[kept + strlen(tail)] == (json ? '\0' : '\n'), "n=%zu", n);
            json_decref(j);
            free(line);
        }
        free(msg);
    }
}
