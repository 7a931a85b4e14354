/* weir: the command line.  Subcommands: serve, run, validate, replay, sim, components. */
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
    "  replay JOURNAL   re-run an execution's journal and check it does the same again\n"
    "  sim GRAPH        run a graph on many seeded simulated worlds, check invariants, shrink a failure\n"
    "  components [ID]  list the built-in components, or describe one\n"
    "  help [COMMAND]   show help for a command\n"
    "\n"
    "GRAPH is a JSON or YAML graph definition file ('-' reads stdin).\n"
    "\n"
    "Examples:\n"
    "  weir run examples/quick-reference.json --inject input=21\n"
    "  weir validate examples/merge-diamond.json\n"
    "  weir components symbia.core.map\n"
    "  weir replay examples/accumulator-batch.ndjson\n"
    "\n"
    "Run 'weir COMMAND --help' for the options of a command.\n";

/* The subcommands, in the order USAGE lists them. */
typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
} command;
static const command COMMANDS[] = {{"serve", weir_cmd_serve},
                                   {"run", weir_cmd_run},
                                   {"validate", weir_cmd_validate},
                                   {"replay", weir_cmd_replay},
                                   {"sim", weir_cmd_sim},
                                   {"components", weir_cmd_components}};
#define N_COMMANDS (sizeof COMMANDS / sizeof *COMMANDS)

static const command *find(const char *name) {
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(COMMANDS[i].name, name) == 0) return &COMMANDS[i];
    return NULL;
}

/* An unknown command: the error, the nearest name, where the list is. */
static int unknown(const char *name) {
    const char *names[N_COMMANDS + 4] = {"help", "version", "--help", "--version"};
    for (size_t i = 0; i < N_COMMANDS; i++) names[4 + i] = COMMANDS[i].name;
    const char *s = cli_suggest(name, names, N_COMMANDS + 4);
    if (s) return cli_usage_error(NULL, "unknown command '%s'; did you mean '%s'?", name, s);
    return cli_usage_error(NULL, "unknown command '%s'", name);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* outputs and logs interleave in order */
    if (argc < 2) {
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (argc > 2 && strcmp(cmd, "help") == 0 && strcmp(argv[2], "--help") != 0 && strcmp(argv[2], "-h") != 0 &&
            strcmp(argv[2], "help") != 0) {
            char *sub[] = {argv[2], "--help", NULL};
            const command *c = find(argv[2]);
            return c ? c->run(2, sub) : unknown(argv[2]);
        }
        fputs(USAGE, stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("weir %s\n", WEIR_VERSION);
        return EXIT_OK;
    }
    const command *c = find(cmd);
    return c ? c->run(argc - 1, argv + 1) : unknown(cmd);
}
