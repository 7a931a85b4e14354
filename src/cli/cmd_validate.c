/* weir validate GRAPH [--json] */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char HELP[] =
    "Usage: weir validate GRAPH [--json]\n"
    "\n"
    "Load a graph definition (JSON or YAML) and check it as weir serve and weir run\n"
    "would: required fields, unique node ids, edge shape, unknown nodes, components\n"
    "and ports, config against each component's table, expressions, cycles.\n"
    "\n"
    "A node {\"component\": \"graph:NAME\"} (or graph:NAME@V) uses another graph:\n"
    "NAME@V.json, else NAME.json (or .yaml, .yml; its \"version\" must be V) in the\n"
    "graph file's own directory. Its nodes run as NODE/INNER (see the README).\n"
    "\n"    "Valid: prints the topology (sorted, levels, inputNodes, outputNodes), exit 0.\n"
    "Invalid: prints every problem found, one per line, exit 2.\n"
    "\n"
    "Options:\n"
    "  --json    print {\"valid\": true, \"topology\": {...}} or\n"
    "            {\"valid\": false, \"errors\": [...]}, each error\n"
    "            {\"code\", \"message\", \"nodeId\"?, \"edgeId\"?, \"field\"?}: field is relative\n"
    "            to the node or edge named, else to the document (\"config.flushMs\",\n"
    "            \"target.port\", \"edges[2].source\", \"name\")\n"
    "  -h, --help\n"
    "\n"
    "Error codes (stable; match on these, not on messages):\n";

static const char HELP_END[] =
    "\n"
    "Example:\n"
    "  weir validate examples/merge-diamond.json\n"
    "  weir validate --json examples/accumulator-batch.yaml\n"
    "  weir validate examples/compose/main.json\n";

static void help(FILE *f) {
    fputs(HELP, f);
#define X(name, code, desc) fprintf(f, "  %-20s %s\n", code, desc);
    WEIR_GRAPH_PROBLEMS(X)
#undef X
    fputs(HELP_END, f);
}

static void print_topology(const char *path, weir_graph *g, bool as_json) {
    json_t *topo = weir_graph_topology(g);
    if (as_json) {
        json_t *out = json_pack("{s:b,s:s,s:I,s:I,s:O}", "valid", 1, "name", weir_graph_name(g), "nodeCount",
                                (json_int_t)weir_graph_node_count(g), "edgeCount", (json_int_t)weir_graph_edge_count(g),
                                "topology", topo);
        cli_print_json(stdout, out, true);
        json_decref(out);
    } else {
        printf("%s: valid (%zu nodes, %zu edges)\n", path, weir_graph_node_count(g), weir_graph_edge_count(g));
        const char *keys[] = {"sorted", "inputNodes", "outputNodes"};
        for (int i = 0; i < 3; i++) {
            printf("%-12s", keys[i]);
            size_t k;
            json_t *v;
            json_array_foreach(json_object_get(topo, keys[i]), k, v) printf(" %s", json_string_value(v));
            printf("\n");
        }
        printf("%-12s", "levels");
        const char *id;
        json_t *lv;
        json_object_foreach(json_object_get(topo, "levels"), id, lv) printf(" %s=%lld", id,
                                                                            (long long)json_integer_value(lv));
        printf("\n");
    }
    json_decref(topo);
}

/* The problems: as text the messages, as JSON the objects. */
static void print_problems(const char *path, json_t *problems, json_t *details, bool as_json) {
    if (as_json) {
        json_t *out = json_pack("{s:b,s:O}", "valid", 0, "errors", details);
        cli_print_json(stdout, out, true);
        json_decref(out);
        return;
    }
    fprintf(stderr, "%s: invalid graph (%zu problem%s)\n", path, json_array_size(problems),
            json_array_size(problems) == 1 ? "" : "s");
    size_t i;
    json_t *p;
    json_array_foreach(problems, i, p) fprintf(stderr, "  - %s\n", json_string_value(p));
}

int weir_cmd_validate(int argc, char **argv) {
    bool as_json;
    int done = cli_json_help_options(argc, argv, "validate", help, &as_json);
    if (done >= 0) return done;
    if (optind != argc - 1) return cli_usage_error("validate", "expected one GRAPH file");
    const char *path = argv[optind];
    json_t *problems = json_array(), *details = json_array();
    weir_registry *reg = NULL;
    weir_graph *g = NULL;
    weir_error err;
    int exit_code = EXIT_OK;
    if (weir_registry_create(&reg)) {
        fprintf(stderr, "weir: out of memory\n");
        exit_code = EXIT_FAILED;
        goto out;
    }
    weir_graph_options gopts = {.problems = problems, .details = details};
    int rc = cli_load_graph(reg, path, &gopts, &g, &err);
    if (rc == 0) {
        print_topology(path, g, as_json);
    } else if (rc == WEIR_EGRAPH) {
        print_problems(path, problems, details, as_json);
        exit_code = EXIT_USAGE;
    } else if (rc == WEIR_EIO) {
        exit_code = EXIT_USAGE; /* cli_read_file said why */
    } else {
        fprintf(stderr, "weir: %s\n", err.message);
        exit_code = EXIT_FAILED;
    }
out:
    weir_graph_unref(g);
    json_decref(problems);
    json_decref(details);
    weir_registry_destroy(reg);
    return exit_code;
}
