/* weir components [ID] [--json] */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char HELP[] =
    "Usage: weir components [ID] [--json]\n"
    "\n"
    "Without ID: list every built-in component with its ports.\n"
    "With ID: describe one component: ports, config keys (type, default, allowed\n"
    "values) and behaviour.\n"
    "\n"
    "Options:\n"
    "  --json    print the descriptors as JSON (the same shape as GET /api/components)\n"
    "  -h, --help\n"
    "\n"
    "Examples:\n"
    "  weir components\n"
    "  weir components symbia.core.split\n";

static void help(FILE *f) { fputs(HELP, f); }

static void print_ports(const char *label, json_t *ports, bool dynamic) {
    printf("  %-8s", label);
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p) printf("%s%s", i ? ", " : "", json_string_value(json_object_get(p, "name")));
    if (dynamic) printf("%s(any name)", json_array_size(ports) ? ", " : "");
    printf("\n");
}

static void describe(const weir_component *c) {
    json_t *j = weir_component_json(c);
    printf("%s — %s (v%s, %s)\n  %s\n", c->id, c->name, c->version, c->category, c->description);
    json_t *ports = json_object_get(j, "ports");
    print_ports("inputs", json_object_get(ports, "inputs"), json_is_true(json_object_get(ports, "dynamicInputs")));
    print_ports("outputs", json_object_get(ports, "outputs"), json_is_true(json_object_get(ports, "dynamicOutputs")));
    if (c->n_config) printf("  config:\n");
    for (size_t i = 0; i < c->n_config; i++) {
        const weir_config_def *d = &c->config[i];
        json_t *cj = json_object_get(json_object_get(j, "config"), d->key);
        printf("    %-10s %s%s", d->key, json_string_value(json_object_get(cj, "type")), d->required ? ", required" : "");
        if (d->default_json) printf(", default %s", d->default_json);
        if (d->alias) printf(", alias %s", d->alias);
        if (d->enum_values) {
            printf(", one of");
            for (const char *const *e = d->enum_values; *e; e++) printf(" %s", *e);
        }
        printf("\n      %s\n", d->description ? d->description : "");
    }
    json_decref(j);
}

int weir_cmd_components(int argc, char **argv) {
    bool as_json;
    int done = cli_json_help_options(argc, argv, "components", help, &as_json);
    if (done >= 0) return done;
    if (argc - optind > 1) return cli_usage_error("components", "expected at most one component ID");
    weir_registry *reg = NULL;
    if (weir_registry_create(&reg)) return EXIT_FAILED;
    int exit_code = EXIT_OK;
    if (optind < argc) {
        const weir_component *comp = weir_registry_find(reg, argv[optind]);
        if (!comp) {
            size_t n = weir_registry_count(reg);
            const char **ids = calloc(n ? n : 1, sizeof *ids);
            for (size_t i = 0; ids && i < n; i++) ids[i] = weir_registry_at(reg, i)->id;
            const char *near = ids ? cli_suggest(argv[optind], ids, n) : NULL;
            fprintf(stderr, "weir components: no component \"%s\"", argv[optind]);
            if (near) fprintf(stderr, "; did you mean \"%s\"?", near);
            fprintf(stderr, "\navailable:");
            for (size_t i = 0; i < n; i++) fprintf(stderr, "%s %s", i ? "," : "", weir_registry_at(reg, i)->id);
            fprintf(stderr, "\n");
            free(ids);
            exit_code = EXIT_USAGE;
        } else if (as_json) {
            json_t *j = weir_component_json(comp);
            cli_print_json(stdout, j, true);
            json_decref(j);
        } else {
            describe(comp);
        }
    } else if (as_json) {
        json_t *all = json_array();
        for (size_t i = 0; i < weir_registry_count(reg); i++)
            json_array_append_new(all, weir_component_json(weir_registry_at(reg, i)));
        cli_print_json(stdout, all, true);
        json_decref(all);
    } else {
        for (size_t i = 0; i < weir_registry_count(reg); i++) {
            const weir_component *comp = weir_registry_at(reg, i);
            printf("%-28s %s\n", comp->id, comp->description);
        }
        printf("\n'weir components ID' describes one.\n");
    }
    weir_registry_destroy(reg);
    return exit_code;
}
