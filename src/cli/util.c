#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

char *cli_read_file(const char *path, size_t *len) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "weir: cannot open %s: %m\n", path);
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    bool failed = ferror(f);
    if (f != stdin) fclose(f);
    if (!buf || failed) {
        fprintf(stderr, "weir: cannot read %s\n", path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

json_t *cli_load_doc(const char *path) {
    size_t len;
    char *text = cli_read_file(path, &len);
    if (!text) return NULL;
    const char *dot = strrchr(path, '.');
    weir_doc_format fmt = WEIR_DOC_AUTO;
    if (dot && (strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0)) fmt = WEIR_DOC_YAML;
    else if (dot && strcmp(dot, ".json") == 0) fmt = WEIR_DOC_JSON;
    json_t *doc = NULL;
    weir_error err;
    if (weir_doc_parse(text, len, fmt, &doc, &err)) fprintf(stderr, "weir: %s: %s\n", path, err.message);
    free(text);
    return doc;
}

void cli_print_json(FILE *f, json_t *v, bool pretty) {
    char *s = json_dumps(v, JSON_ENCODE_ANY | (pretty ? JSON_INDENT(2) : JSON_COMPACT));
    if (s) fprintf(f, "%s\n", s);
    free(s);
}

bool cli_isatty(FILE *f) { return isatty(fileno(f)) == 1; }

int cli_json_help_options(int argc, char **argv, const char *help, bool *as_json) {
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0}};
    int c;
    *as_json = false;
    optind = 1;
    while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        if (c == 'j') {
            *as_json = true;
        } else if (c == 'h') {
            fputs(help, stdout);
            return EXIT_OK;
        } else {
            fputs(help, stderr);
            return EXIT_USAGE;
        }
    }
    return -1;
}

int cli_parse_inject(const char *arg, char **node, char **port, json_t **value) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) return -1;
    char *target = strndup(arg, (size_t)(eq - arg));
    if (!target) return -1;
    char *colon = strchr(target, ':');
    *port = colon ? strdup(colon + 1) : NULL;
    if (colon) *colon = '\0';
    *node = target;
    *value = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
    if (!*value) *value = json_string(eq + 1);
    return 0;
}
