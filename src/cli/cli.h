/* The weir command line: subcommands and their shared helpers. */
#ifndef WEIR_CLI_H
#define WEIR_CLI_H
#include <stdio.h>
#include <unistd.h>

#include "weir/weir.h"

/* Exit codes of every subcommand. */
enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

int weir_cmd_run(int argc, char **argv);
int weir_cmd_validate(int argc, char **argv);
int weir_cmd_components(int argc, char **argv);
int weir_cmd_serve(int argc, char **argv);

/* Parse the options shared by validate and components (--json, --help).
 * Returns -1 to go on, or the exit code to return (help printed). */
int cli_json_help_options(int argc, char **argv, const char *help, bool *as_json);
/* Read a whole file (or "-" for stdin); NULL and a message on stderr on
 * failure. */
char *cli_read_file(const char *path, size_t *len);
/* Read and parse a graph document (JSON or YAML by content).  NEW or NULL
 * with the reason printed. */
json_t *cli_load_doc(const char *path);
/* Print a JSON value followed by a newline (indented when pretty). */
void cli_print_json(FILE *f, json_t *v, bool pretty);
/* NODE[:PORT]=JSON → node, port (NULL when absent), value (NEW; a value
 * that is not JSON is taken as a string, so name=alice works).  -1 when
 * there is no '='. */
int cli_parse_inject(const char *arg, char **node, char **port, json_t **value);
/* Is stdout (or fd) a terminal, and should we use colour? */
bool cli_isatty(FILE *f);

#endif
