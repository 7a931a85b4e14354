/* weir validate GRAPH [--json] */
#include <string.h>

#include "cli/cli.h"

static const char HELP[] =
    "Usage: weir validate GRAPH [--json]\n"
    "\n"
    "Load a graph definition (JSON or YAML) and check it as weir serve and weir run\n"
    "would: required fields, unique node ids, edge shape, unknown nodes, components\n"
    "and ports, config against each component's table, expressions, cycles.\n"
    "\n"
    "Valid: prints the topology (sorted, levels, inputNodes, outputNodes), exit 0.\n"
    "Invalid: prints every problem found, one per line, exit 2.\n"
    "\n"
    "Options:\n"
    "  --json    print {\"valid\": true, \"topology\": {...}} or {\"valid\": false, \"errors\": [...]}\n"
    "  -h, --help\n"
    "\n"
    "Example:\n"
    "  weir validate examples/merge-diamond.json\n";

int weir_cmd_validate(int argc, char **argv) {
    bool as_json;
    int done = cli_json_help_options(argc, argv, HELP, &as_json);
    if (done >= 0) return done;
    if (optind != argc - 1) {
        fprintf(stderr, "weir validate: expected one GRAPH file\n\n%s", HELP);
        return EXIT_USAGE;
    }
    const char *path = argv[optind];
    json_t *doc = cli_load_doc(path);
    if (!doc) return EXIT_USAGE;
    weir_registry *reg = NULL;
    if (weir_registry_create(&reg)) {
        fprintf(stderr, "weir: out of memory\n");
        json_decref(doc);
        return EXIT_FAILED;
    }
    json_t *problems = json_array();
    weir_graph_options gopts = {.problems = problems};
    weir_graph *g = NULL;
    weir_error err;
    int rc = weir_graph_load(reg, doc, &gopts, &g, &err);
    int exit_code = EXIT_OK;
    if (rc == 0) {
        json_t *topo = weir_graph_topology(g);
        if (as_json) {
            json_t *out = json_pack("{s:b,s:s,s:I,s:I,s:O}", "valid", 1, "name", weir_graph_name(g), "nodeCount",
                                    (json_int_t)weir_graph_node_count(g), "edgeCount",
                                    (json_int_t)weir_graph_edge_count(g), "topology", topo);
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
    } else if (rc == WEIR_EGRAPH) {
        exit_code = EXIT_USAGE;
        if (as_json) {
            json_t *out = json_pack("{s:b,s:O}", "valid", 0, "errors", problems);
            cli_print_json(stdout, out, true);
            json_decref(out);
        } else {
            fprintf(stderr, "%s: invalid graph (%zu problem%s)\n", path, json_array_size(problems),
                    json_array_size(problems) == 1 ? "" : "s");
            size_t i;
            json_t *p;
            json_array_foreach(problems, i, p) fprintf(stderr, "  - %s\n", json_string_value(p));
        }
    } else {
        fprintf(stderr, "weir: %s\n", err.message);
        exit_code = EXIT_FAILED;
    }
    weir_graph_unref(g);
    json_decref(problems);
    json_decref(doc);
    weir_registry_destroy(reg);
    return exit_code;
}
