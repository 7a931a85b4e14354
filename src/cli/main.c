/* weir: the command line.  Subcommands: run, validate, components. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char USAGE[] =
    "weir " WEIR_VERSION " — a dataflow runtime\n"
    "\n"
    "Usage: weir <command> [options]\n"
    "\n"
    "Commands:\n"
    "  serve            start the REST service (weir serve --help lists its settings)\n"
    "  run GRAPH        start an execution, inject messages, print outputs, state and metrics\n"
    "  validate GRAPH   check a graph and print its topology, or every problem found\n"
    "  components [ID]  list the built-in components, or describe one\n"
    "  help [COMMAND]   show help for a command\n"
    "\n"
    "GRAPH is a JSON or YAML graph definition file ('-' reads stdin).\n"
    "\n"
    "Examples:\n"
    "  weir run examples/quick-reference.json --inject input=21\n"
    "  weir validate examples/merge-diamond.json\n"
    "  weir components symbia.core.map\n"
    "\n"
    "Run 'weir COMMAND --help' for the options of a command.\n";

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* outputs and logs interleave in order */
    if (argc < 2) {
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (argc > 2 && strcmp(cmd, "help") == 0) {
            char *sub[] = {argv[2], "--help", NULL};
            if (strcmp(argv[2], "run") == 0) return weir_cmd_run(2, sub);
            if (strcmp(argv[2], "validate") == 0) return weir_cmd_validate(2, sub);
            if (strcmp(argv[2], "components") == 0) return weir_cmd_components(2, sub);
            if (strcmp(argv[2], "serve") == 0) return weir_cmd_serve(2, sub);
        }
        fputs(USAGE, stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("weir %s\n", WEIR_VERSION);
        return EXIT_OK;
    }
    if (strcmp(cmd, "serve") == 0) return weir_cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0) return weir_cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "validate") == 0) return weir_cmd_validate(argc - 1, argv + 1);
    if (strcmp(cmd, "components") == 0) return weir_cmd_components(argc - 1, argv + 1);
    fprintf(stderr, "weir: unknown command '%s'\n\n%s", cmd, USAGE);
    return EXIT_USAGE;
}
