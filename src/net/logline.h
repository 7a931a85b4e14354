/*
 * Log lines of `weir serve` (SPEC §6 LOG_LEVEL, LOG_FORMAT): one call is one
 * line, whatever the message holds.  Text: "2026-12-06T11:00:40.123Z info
 * message {fields}" with the message's control characters escaped (a
 * newline in a logged value is written \n); json: one JSON object per line
 * {"time", "level", "msg", ...fields}.  Times are UTC with milliseconds.
 */
#ifndef WEIR_NET_LOGLINE_H
#define WEIR_NET_LOGLINE_H
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "weir/weir.h"

/* A message longer than this is cut, and the line says how much was cut. */
#define WEIR_LOGLINE_MAX_MESSAGE 16384

/* The time now, "2026-12-06T11:00:40.123Z". */
void weir_logline_time(char out[32]);

/* Write one line to f.  fields: BORROWED or NULL (their keys beside time,
 * level and msg in json; appended as compact JSON in text). */
void weir_logline_write(FILE *f, bool json, weir_log_level level, json_t *fields, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void weir_logline_vwrite(FILE *f, bool json, weir_log_level level, json_t *fields, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

/* Write text to f escaped as in a text line: \n \r \t \\, other control
 * characters (C0, DEL, C1, U+2028, U+2029) as \xHH or \uHHHH, bytes that
 * are not UTF-8 as \xHH; so it never breaks the line it is on. */
void weir_logline_put_escaped(FILE *f, const char *text);

#endif
