/* weir run's lines.  Input: a line of --input parsed without building the
 * whole object when it has the usual shape.  Output: each line is built in
 * one buffer and handed to stdio with one fwrite, so a line is never split
 * and printing an output costs no allocation (the buffer is reused). */
#ifndef WEIR_CLI_RUN_IO_H
#define WEIR_CLI_RUN_IO_H
#include <stdbool.h>
#include <stdio.h>

#include "weir/weir.h"

typedef struct cli_line {
    char *buf;
    size_t len, cap;
    bool oom; /* an append failed: the line is dropped by cli_line_write */
} cli_line;

/* Append n raw bytes. */
void cli_line_raw(cli_line *l, const char *s, size_t n);
/* Append a string literal. */
#define cli_line_lit(l, lit) cli_line_raw((l), "" lit, sizeof(lit) - 1)
/* Append a NUL-terminated text as is. */
void cli_line_str(cli_line *l, const char *s);
/* Append s as a JSON string (quoted and escaped as jansson does). */
void cli_line_json_str(cli_line *l, const char *s);
/* Append v as compact JSON: the bytes json_dumps(v, JSON_ENCODE_ANY |
 * JSON_COMPACT) gives (integers, strings and literals without jansson's
 * encoder; anything else through json_dumpb into the buffer). */
void cli_line_json(cli_line *l, const json_t *v);
/* Write the line (with one fwrite) and empty it.  -1 if it could not be
 * built (out of memory) or written. */
int cli_line_write(cli_line *l, FILE *f);
void cli_line_free(cli_line *l);

/* A line of --input, {"nodeId": "...", "port": "...", "value": ...}, the
 * quick way: keys in any order, port optional, nodeId and port plain
 * printable ASCII (no escapes), no other key, nothing but blanks after.
 * 0: *node and *port (NULL when absent) point into line (their closing
 * quotes overwritten with NUL) and *value is NEW.  -1: not that shape (line
 * untouched): parse it whole with jansson, which also says what is wrong. */
int cli_inject_line(char *line, size_t n, const char **node, const char **port, json_t **value);

#endif
