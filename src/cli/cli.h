/* The weir command line: subcommands and their shared helpers. */
#ifndef WEIR_CLI_H
#define WEIR_CLI_H
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "weir/weir.h"

/* Exit codes of every subcommand. */
enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

int weir_cmd_run(int argc, char **argv);
int weir_cmd_validate(int argc, char **argv);
int weir_cmd_components(int argc, char **argv);
int weir_cmd_serve(int argc, char **argv);
int weir_cmd_replay(int argc, char **argv);
int weir_cmd_sim(int argc, char **argv);

/* Parse the options shared by validate and components (--json, --help).
 * Returns -1 to go on, or the exit code to return (help printed, or the
 * usage error reported as cli_option_error does). */
int cli_json_help_options(int argc, char **argv, const char *cmd, void (*help)(FILE *), bool *as_json);
/* Read a whole file (or "-" for stdin); NULL and a message on stderr on
 * failure. */
char *cli_read_file(const char *path, size_t *len);
/* The document format a path's extension says (.json, .yaml, .yml), else AUTO. */
weir_doc_format cli_doc_format(const char *path);
/* Read and parse a graph document (JSON or YAML by content).  NEW or NULL
 * with the reason printed. */
json_t *cli_load_doc(const char *path);
/* Load the graph file at path against reg, as weir_graph_load does: JSON
 * (by its extension or its first character) straight from the text
 * (weir_graph_load_text: nodes are parsed one at a time, so a graph of a
 * million nodes loads in about a second), YAML through its document.  A
 * text that does not parse is WEIR_EGRAPH with one problem (code
 * parse-error) in opts->problems / details.  WEIR_EIO when the file cannot
 * be read (said on stderr). */
int cli_load_graph(const weir_registry *reg, const char *path, const weir_graph_options *opts, weir_graph **out,
                   weir_error *err);
/* graph:<name>[@<version>] nodes (SPEC §1) of a graph file are found in
 * its directory (ud: that directory): <name>@<version>.json|.yaml|.yml,
 * else <name>.json|.yaml|.yml (whose "version" must be the one asked for).
 * cli_load_graph uses it when opts has no resolver. */
int cli_resolve_graph(void *ud, const char *name, const char *version, json_t **doc, weir_error *err);
/* The directory of a path ("." for a bare name or "-"), malloc'd. */
char *cli_dir_of(const char *path);
/* Fill err (may be NULL) with code and a message; returns code. */
int cli_error(weir_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Print a JSON value followed by a newline (indented when pretty). */
void cli_print_json(FILE *f, json_t *v, bool pretty);

/* The value of NODE=VALUE: JSON when the text starts like JSON ({ [ " a
 * digit, - and a digit, or is true, false or null), else the text itself as
 * a string (name=alice).  NEW, or NULL with why (cap bytes) holding the
 * parse error and its position. */
json_t *cli_parse_value(const char *text, char *why, size_t cap);
/* NODE[:PORT]=VALUE → node, port (NULL when absent), value (cli_parse_value;
 * all three NEW).  0, or -1 with why (cap bytes) saying what is wrong and,
 * for a value that is not JSON, how to send it as a string.  flag is how the
 * argument was given ("--inject": the fix is quoted for a shell) or NULL. */
int cli_parse_inject(const char *arg, const char *flag, char **node, char **port, json_t **value, char *why,
                     size_t cap);

/* Longest edit distance at which cli_suggest still suggests. */
#define CLI_SUGGEST_MAX_DISTANCE 2
/* The candidate `given` was probably meant to be: the one it equals, else
 * the only one it is a prefix of, else the one nearest by
 * Damerau–Levenshtein (optimal string alignment) distance, when at most CLI_SUGGEST_MAX_DISTANCE, shorter than
 * `given`, and not tied.  Case and '_' / '-' do not count.  NULL if none
 * (or several share the prefix).  BORROWED from candidates. */
const char *cli_suggest(const char *given, const char *const *candidates, size_t n);
/* Report the getopt_long failure c ('?' or ':'; call getopt_long with
 * opterr = 0 and an optstring starting with ':'): what was wrong, "did you
 * mean" when cli_suggest finds an option, and one line pointing at
 * `weir CMD --help`.  Returns EXIT_USAGE. */
int cli_option_error(const char *cmd, int c, int argc, char **argv, const struct option *opts);
/* Report a usage error (printf-style) and the line pointing at `weir CMD
 * --help` (`weir --help` when cmd is NULL).  Returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Is stdout (or fd) a terminal, and should we use colour? */
bool cli_isatty(FILE *f);
/* A whole number >= 0 in v (no sign, nothing after it); with `bytes`, a k or
 * m suffix multiplies it by 2^10 or 2^20.  False if it is not one or does
 * not fit 63 bits. */
bool cli_parse_count(const char *v, bool bytes, uint64_t *out);

#endif
