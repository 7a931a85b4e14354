/* Helpers shared by the subcommands: files, options, values, suggestions. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

int cli_error(weir_error *err, int code, const char *fmt, ...) {
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

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

weir_doc_format cli_doc_format(const char *path) {
    const char *dot = strrchr(path, '.');
    if (dot && (strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0)) return WEIR_DOC_YAML;
    if (dot && strcmp(dot, ".json") == 0) return WEIR_DOC_JSON;
    return WEIR_DOC_AUTO;
}

json_t *cli_load_doc(const char *path) {
    size_t len;
    char *text = cli_read_file(path, &len);
    if (!text) return NULL;
    json_t *doc = NULL;
    weir_error err;
    if (weir_doc_parse(text, len, cli_doc_format(path), &doc, &err))
        fprintf(stderr, "weir: %s: %s\n", path, err.message);
    free(text);
    return doc;
}

char *cli_dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash || strcmp(path, "-") == 0) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* <dir>/<base> with one of the graph extensions that exists: its document
 * (NEW), or NULL with *found false when none exists. */
static int load_graph_file(const char *dir, const char *base, json_t **doc, bool *found, char *path, size_t cap,
                           weir_error *err) {
    static const char *const EXT[] = {".json", ".yaml", ".yml"};
    *found = false;
    for (size_t i = 0; i < sizeof EXT / sizeof *EXT; i++) {
        snprintf(path, cap, "%s/%s%s", dir, base, EXT[i]);
        if (access(path, R_OK) != 0) continue;
        *found = true;
        size_t len;
        char *text = cli_read_file(path, &len);
        if (!text) return cli_error(err, WEIR_EIO, "cannot read %s", path);
        weir_error perr;
        int rc = weir_doc_parse(text, len, cli_doc_format(path), doc, &perr);
        free(text);
        if (rc) return cli_error(err, rc == WEIR_ENOMEM ? rc : WEIR_EGRAPH, "%s: %s", path, perr.message);
        return 0;
    }
    return 0;
}

int cli_resolve_graph(void *ud, const char *name, const char *version, json_t **doc, weir_error *err) {
    const char *dir = ud;
    char path[4096], base[1024];
    *doc = NULL;
    if (strchr(name, '/') || name[0] == '.' || (version && (strchr(version, '/') || version[0] == '.')))
        return cli_error(err, WEIR_ENOTFOUND,
                         "graph names are looked up as files in %s, so they may not contain '/' or start with '.'",
                         dir);
    bool found = false;
    int rc = 0;
    if (version) { /* <name>@<version>.json first */
        snprintf(base, sizeof base, "%s@%s", name, version);
        if ((rc = load_graph_file(dir, base, doc, &found, path, sizeof path, err)) || found) return rc;
    }
    if ((rc = load_graph_file(dir, name, doc, &found, path, sizeof path, err))) return rc;
    if (!found) {
        if (version)
            return cli_error(err, WEIR_ENOTFOUND,
                             "no file defines graph \"%s\" version %s: looked for %s/%s@%s and %s/%s (.json, .yaml, "
                             ".yml)",
                             name, version, dir, name, version, dir, name);
        return cli_error(err, WEIR_ENOTFOUND, "no file defines graph \"%s\": looked for %s/%s (.json, .yaml, .yml)",
                         name, dir, name);
    }
    const char *has = json_string_value(json_object_get(*doc, "version"));
    if (version && (!has || strcmp(has, version) != 0)) {
        json_decref(*doc);
        *doc = NULL;
        return cli_error(err, WEIR_ENOTFOUND, "%s is version %s%s%s, not %s; add %s/%s@%s.json", path,
                         has ? "\"" : "", has ? has : "(none)", has ? "\"" : "", version, dir, name, version);
    }
    return 0;
}

int cli_load_graph(const weir_registry *reg, const char *path, const weir_graph_options *given, weir_graph **out,
                   weir_error *err) {
    *out = NULL;
    /* graph: nodes are found beside the graph file unless the caller resolves */
    weir_graph_options o = given ? *given : (weir_graph_options){0};
    char *dir = NULL;
    if (!o.resolve) {
        if (!(dir = cli_dir_of(path))) return cli_error(err, WEIR_ENOMEM, "out of memory");
        o.resolve = cli_resolve_graph;
        o.resolve_ud = dir;
    }
    if (!o.zone) o.zone = weir_zone_files; /* time zones: the machine's zone files */
    const weir_graph_options *opts = &o;
    size_t len;
    char *text = cli_read_file(path, &len);
    if (!text) {
        free(dir);
        err->code = WEIR_EIO;
        snprintf(err->message, sizeof err->message, "cannot read %s", path);
        return WEIR_EIO;
    }
    weir_doc_format fmt = cli_doc_format(path);
    size_t i = 0;
    while (i < len && strchr(" \t\r\n", text[i])) i++;
    int rc;
    if (fmt == WEIR_DOC_JSON || (fmt == WEIR_DOC_AUTO && i < len && (text[i] == '{' || text[i] == '['))) {
        rc = weir_graph_load_text(reg, text, len, opts, out, err);
    } else {
        json_t *doc = NULL;
        rc = weir_doc_parse(text, len, fmt, &doc, err);
        if (rc == 0) {
            rc = weir_graph_load(reg, doc, opts, out, err);
        } else if (rc != WEIR_ENOMEM) {
            if (opts && opts->problems) json_array_append_new(opts->problems, json_string(err->message));
            if (opts && opts->details)
                json_array_append_new(opts->details,
                                      json_pack("{s:s,s:s}", "code", "parse-error", "message", err->message));
            rc = err->code = WEIR_EGRAPH;
        }
        json_decref(doc);
    }
    free(text);
    free(dir);
    return rc;
}

void cli_print_json(FILE *f, json_t *v, bool pretty) {
    char *s = json_dumps(v, JSON_ENCODE_ANY | (pretty ? JSON_INDENT(2) : JSON_COMPACT));
    if (s) fprintf(f, "%s\n", s);
    free(s);
}

bool cli_isatty(FILE *f) { return isatty(fileno(f)) == 1; }

int cli_json_help_options(int argc, char **argv, const char *cmd, void (*help)(FILE *), bool *as_json) {
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0}};
    int c;
    *as_json = false;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
        if (c == 'j') {
            *as_json = true;
        } else if (c == 'h') {
            help(stdout);
            return EXIT_OK;
        } else {
            return cli_option_error(cmd, c, argc, argv, opts);
        }
    }
    return -1;
}

/* ------------------------------------------------------------ suggestions */

/* Letters compared without case, '_' as '-': --MAX_BODY_BYTES is --max-body-bytes. */
static int fold(int ch) { return ch == '_' ? '-' : tolower((unsigned char)ch); }

#define SUGGEST_MAX_LEN 64

/* The optimal-string-alignment distance (Damerau–Levenshtein where a
 * transposed pair is one edit and no substring is edited twice), or
 * SUGGEST_MAX_LEN when a string is longer than that. */
static size_t distance(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    if (n >= SUGGEST_MAX_LEN || m >= SUGGEST_MAX_LEN) return SUGGEST_MAX_LEN;
    size_t d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1];
    for (size_t i = 0; i <= n; i++) d[i][0] = i;
    for (size_t j = 0; j <= m; j++) d[0][j] = j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            size_t cost = fold(a[i - 1]) != fold(b[j - 1]);
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) && fold(a[i - 2]) == fold(b[j - 1]) &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[n][m];
}

static bool is_prefix(const char *given, const char *of) {
    for (; *given; given++, of++)
        if (!*of || fold(*given) != fold(*of)) return false;
    return true;
}

const char *cli_suggest(const char *given, const char *const *candidates, size_t n) {
    if (!given || !*given) return NULL;
    const char *best = NULL;
    size_t prefixed = 0;
    for (size_t i = 0; i < n; i++)
        if (is_prefix(given, candidates[i])) {
            if (distance(given, candidates[i]) == 0) return candidates[i]; /* -json: --json, not --json-lines */
            best = candidates[i];
            prefixed++;
        }
    if (prefixed == 1) return best;
    if (prefixed > 1) return NULL; /* ambiguous: the caller lists them */
    size_t least = CLI_SUGGEST_MAX_DISTANCE + 1, ties = 0, len = strlen(given);
    for (size_t i = 0; i < n; i++) {
        size_t d = distance(given, candidates[i]);
        if (d >= len) continue; /* "x" is one edit from every one-letter name */
        if (d < least) {
            least = d;
            best = candidates[i];
            ties = 1;
        } else if (d == least) {
            ties++;
        }
    }
    return least <= CLI_SUGGEST_MAX_DISTANCE && ties == 1 ? best : NULL;
}

/* The long option names of opts. */
static size_t long_names(const struct option *opts, const char **names, size_t cap) {
    size_t n = 0;
    for (; opts->name && n < cap; opts++) names[n++] = opts->name;
    return n;
}

int cli_option_error(const char *cmd, int c, int argc, char **argv, const struct option *opts) {
    const char *names[128];
    size_t n = long_names(opts, names, sizeof names / sizeof *names);
    const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
    bool is_long = strncmp(arg, "--", 2) == 0;
    if (!is_long && optopt) {
        /* A short option: -x, or a long name written with one dash (-json). */
        const char *word = optind < argc && argv[optind][0] == '-' && strchr(argv[optind], optopt) ? argv[optind] : arg;
        if (c == ':') {
            fprintf(stderr, "weir %s: option '-%c' needs a value\n", cmd, optopt);
        } else {
            const char *s = word[0] == '-' && word[1] && word[1] != '-' && word[2] ? cli_suggest(word + 1, names, n)
                                                                                    : NULL;
            fprintf(stderr, "weir %s: unknown option '-%c'", cmd, optopt);
            if (s) fprintf(stderr, " in '%s'; did you mean '--%s'?", word, s);
            fputc('\n', stderr);
        }
    } else {
        /* A long option: --name or --name=value. */
        const char *given = is_long ? arg + 2 : arg;
        size_t len = strcspn(given, "=");
        char name[SUGGEST_MAX_LEN + 1];
        snprintf(name, sizeof name, "%.*s", (int)(len < SUGGEST_MAX_LEN ? len : SUGGEST_MAX_LEN), given);
        if (c == ':') {
            fprintf(stderr, "weir %s: option '--%s' needs a value\n", cmd, name);
        } else if (optopt) {
            fprintf(stderr, "weir %s: option '--%s' takes no value\n", cmd, name);
        } else {
            size_t matches = 0, exact = 0;
            for (size_t i = 0; i < n; i++) {
                matches += is_prefix(name, names[i]);
                exact += distance(name, names[i]) == 0;
            }
            if (matches > 1 && !exact) { /* --JSON is --json misspelt, not a prefix of --json-lines too */
                fprintf(stderr, "weir %s: option '--%s' is ambiguous; it could be", cmd, name);
                size_t k = 0;
                for (size_t i = 0; i < n; i++)
                    if (is_prefix(name, names[i]))
                        fprintf(stderr, "%s'--%s'", k++ == 0 ? " " : k == matches ? " or " : ", ", names[i]);
                fputc('\n', stderr);
            } else {
                const char *s = cli_suggest(name, names, n);
                fprintf(stderr, "weir %s: unknown option '--%s'", cmd, name);
                if (s) fprintf(stderr, "; did you mean '--%s'?", s);
                fputc('\n', stderr);
            }
        }
    }
    fprintf(stderr, "Run 'weir %s --help' to see every option.\n", cmd);
    return EXIT_USAGE;
}

/* ----------------------------------------------------------------- values */

/* Does text start like a JSON value (after blanks): { [ " a digit, - and a
 * digit, or is it one of the words true, false, null? */
static bool looks_like_json(const char *text) {
    text += strspn(text, " \t\r\n");
    if (*text && strchr("{[\"", *text)) return true;
    if (isdigit((unsigned char)*text) || (*text == '-' && isdigit((unsigned char)text[1]))) return true;
    size_t len = strcspn(text, " \t\r\n");
    if (text[len + strspn(text + len, " \t\r\n")]) return false;
    return (len == 4 && !strncmp(text, "true", 4)) || (len == 5 && !strncmp(text, "false", 5)) ||
           (len == 4 && !strncmp(text, "null", 4));
}

/* text in single quotes for a POSIX shell ('\'' for each quote). */
static void shell_quote(char *buf, size_t cap, const char *text) {
    size_t k = 0;
    if (cap < 3) return;
    buf[k++] = '\'';
    for (; *text && k + 6 < cap; text++) {
        if (*text == '\'') {
            memcpy(buf + k, "'\\''", 4);
            k += 4;
        } else {
            buf[k++] = *text;
        }
    }
    buf[k++] = '\'';
    buf[k] = '\0';
}

json_t *cli_parse_value(const char *text, char *why, size_t cap) {
    if (!looks_like_json(text)) {
        json_t *s = json_string(text);
        if (!s) snprintf(why, cap, "not valid UTF-8");
        return s;
    }
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    if (v) return v;
    if (je.line > 1) snprintf(why, cap, "not valid JSON: %s (line %d, column %d)", je.text, je.line, je.column);
    else snprintf(why, cap, "not valid JSON: %s (column %d)", je.text, je.column);
    return v;
}

int cli_parse_inject(const char *arg, const char *flag, char **node, char **port, json_t **value, char *why,
                     size_t cap) {
    *node = *port = NULL;
    *value = NULL;
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        snprintf(why, cap, "%s takes NODE[:PORT]=VALUE, got '%s'", flag ? flag : "inject", arg);
        return -1;
    }
    char jwhy[256];
    *value = cli_parse_value(eq + 1, jwhy, sizeof jwhy);
    if (!*value) {
        /* The same argument with the value as a JSON string, quoted for where
         * it is typed: a shell (flag) or the stepper. */
        json_t *s = json_string(eq + 1);
        char *quoted = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
        json_decref(s);
        char fixed[512] = "", shown[512];
        if (quoted) {
            char plain[512];
            snprintf(plain, sizeof plain, "%.*s=%s", (int)(eq - arg), arg, quoted);
            if (flag) shell_quote(fixed, sizeof fixed, plain);
            else snprintf(fixed, sizeof fixed, "%s", plain);
        }
        if (flag) shell_quote(shown, sizeof shown, arg);
        else snprintf(shown, sizeof shown, "%s", arg);
        int k = snprintf(why, cap, "%s%s%s: %s", flag ? flag : "", flag ? " " : "", shown, jwhy);
        if (quoted && k > 0 && (size_t)k < cap)
            k += snprintf(why + k, cap - (size_t)k,
                          "\n  (a value that starts with {, [, \", a digit or -digit is read as JSON; other text "
                          "is a string)");
        if (quoted && k > 0 && (size_t)k < cap)
            snprintf(why + k, cap - (size_t)k, "\n  to send the text itself, quote it as a JSON string: %s%s%s",
                     flag ? flag : "", flag ? " " : "", fixed);
        free(quoted);
        return -1;
    }
    char *target = strndup(arg, (size_t)(eq - arg));
    if (!target) {
        json_decref(*value);
        *value = NULL;
        snprintf(why, cap, "out of memory");
        return -1;
    }
    char *colon = strchr(target, ':');
    *port = colon ? strdup(colon + 1) : NULL;
    if (colon) *colon = '\0';
    *node = target;
    return 0;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "weir%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'weir%s%s --help' to see every %s.\n", cmd ? " " : "", cmd ? cmd : "",
            cmd ? "option" : "command");
    return EXIT_USAGE;
}

bool cli_parse_count(const char *v, bool bytes, uint64_t *out) {
    if (!(v[0] >= '0' && v[0] <= '9')) return false;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno) return false;
    unsigned shift = 0;
    if (bytes && (*end == 'k' || *end == 'K')) shift = 10, end++;
    else if (bytes && (*end == 'm' || *end == 'M')) shift = 20, end++;
    if (*end || n > ((uint64_t)INT64_MAX >> shift)) return false;
    *out = (uint64_t)n << shift;
    return true;
}
