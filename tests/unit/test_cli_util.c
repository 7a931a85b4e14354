/* The command line's shared helpers (src/cli/util.c): suggestions for
 * mistyped names, values given as NODE=VALUE. */
#include <criterion/criterion.h>
#include <string.h>

#include "cli/cli.h"

static const char *const OPTS[] = {"inject", "input", "json", "trace", "timeout", "allow-private", "virtual",
                                   "scenario", "step", "mocks", "tick-ms", "help"};
#define N_OPTS (sizeof OPTS / sizeof *OPTS)
static const char *const CMDS[] = {"serve", "run", "validate", "components", "help", "version"};
#define N_CMDS (sizeof CMDS / sizeof *CMDS)

static void suggests(const char *given, const char *const *c, size_t n, const char *want) {
    const char *got = cli_suggest(given, c, n);
    if (want) cr_assert(got && strcmp(got, want) == 0, "%s: want %s, got %s", given, want, got ? got : "NULL");
    else cr_assert_null(got, "%s: want none, got %s", given, got);
}

Test(cli_suggest, within_two_edits) {
    suggests("injct", OPTS, N_OPTS, "inject");      /* a deletion */
    suggests("injectt", OPTS, N_OPTS, "inject");    /* an insertion */
    suggests("tarce", OPTS, N_OPTS, "trace");       /* a transposition is one edit */
    suggests("rnu", CMDS, N_CMDS, "run");
    suggests("valdiate", CMDS, N_CMDS, "validate");
    suggests("scenaro", OPTS, N_OPTS, "scenario");
    suggests("alow-privte", OPTS, N_OPTS, "allow-private"); /* two */
    suggests("alw-prvte", OPTS, N_OPTS, NULL);              /* four */
    suggests("frobnicate", CMDS, N_CMDS, NULL);
}

Test(cli_suggest, a_unique_prefix) {
    suggests("comp", CMDS, N_CMDS, "components");
    suggests("vir", OPTS, N_OPTS, "virtual");
    suggests("in", OPTS, N_OPTS, NULL); /* inject or input: ambiguous */
    suggests("ti", OPTS, N_OPTS, NULL); /* timeout or tick-ms */
}

Test(cli_suggest, a_name_that_is_also_a_prefix_is_itself) {
    static const char *const run[] = {"json", "json-lines", "trace"};
    suggests("json", run, 3, "json"); /* -json: --json, though it begins --json-lines too */
    suggests("JSON", run, 3, "json");
    suggests("json-l", run, 3, "json-lines");
}

Test(cli_suggest, case_and_underscores_do_not_count) {
    static const char *const serve[] = {"port", "host", "max-body-bytes", "max-backpressure-queue"};
    suggests("PORT", serve, 4, "port");
    suggests("MAX_BODY_BYTES", serve, 4, "max-body-bytes");
    suggests("JSON", OPTS, N_OPTS, "json");
}

Test(cli_suggest, nothing_for_ties_short_or_empty_names) {
    static const char *const two[] = {"ax", "ay"};
    suggests("az", two, 2, NULL); /* one edit from both */
    static const char *const one[] = {"h"};
    suggests("x", one, 1, NULL); /* every one-letter name is one edit away */
    suggests("", OPTS, N_OPTS, NULL);
    suggests(NULL, OPTS, N_OPTS, NULL);
    char longer[300];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    suggests(longer, OPTS, N_OPTS, NULL);
}

static json_t *value(const char *text, char *why) {
    why[0] = '\0';
    return cli_parse_value(text, why, 256);
}

Test(cli_parse_value, bare_words_are_strings_json_is_json) {
    char why[256];
    const char *cases[][2] = {{"alice", "\"alice\""}, {"-x", "\"-x\""},    {"true", "true"},         {" false ", "false"},
                              {"null", "null"},       {"truex", "\"truex\""}, {"-5", "-5"},         {"[1]", "[1]"},
                              {"\"{bad\"", "\"{bad\""}, {"", "\"\""},      {".5", "\".5\""},          {"two words", "\"two words\""}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *v = value(cases[i][0], why);
        cr_assert_not_null(v, "%s: %s", cases[i][0], why);
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        cr_assert_str_eq(s, cases[i][1], "%s", cases[i][0]);
        free(s);
        json_decref(v);
    }
}

Test(cli_parse_value, what_starts_like_json_must_parse) {
    char why[256];
    const char *bad[] = {"{bad", "[1,2", "\"abc", "12apples", "-5x", "1e999", " {", "0x10"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_null(value(bad[i], why), "%s", bad[i]);
        cr_assert(strstr(why, "not valid JSON: ") && strstr(why, "column "), "%s: %s", bad[i], why);
    }
    cr_assert_null(value("{bad", why));
    cr_assert_str_eq(why, "not valid JSON: string or '}' expected near 'bad' (column 4)");
    cr_assert_null(value("\xff", why), "not UTF-8");
    cr_assert_str_eq(why, "not valid UTF-8");
}

Test(cli_parse_inject, the_fix_is_quoted_for_where_it_is_typed) {
    char *node, *port, why[1024];
    json_t *v;
    cr_assert_eq(cli_parse_inject("it's={x", "--inject", &node, &port, &v, why, sizeof why), -1);
    cr_assert_null(node);
    cr_assert_null(v);
    cr_assert(strstr(why, "--inject 'it'\\''s={x': not valid JSON"), "%s", why);
    cr_assert(strstr(why, "quote it as a JSON string: --inject 'it'\\''s=\"{x\"'"), "%s", why);
    cr_assert_eq(cli_parse_inject("a={x", NULL, &node, &port, &v, why, sizeof why), -1);
    cr_assert(strstr(why, "quote it as a JSON string: a=\"{x\""), "%s", why);
    cr_assert_eq(cli_parse_inject("noequals", "--inject", &node, &port, &v, why, sizeof why), -1);
    cr_assert_str_eq(why, "--inject takes NODE[:PORT]=VALUE, got 'noequals'");
    cr_assert_eq(cli_parse_inject("n:p={\"k\":1}", "--inject", &node, &port, &v, why, sizeof why), 0);
    cr_assert_str_eq(node, "n");
    cr_assert_str_eq(port, "p");
    cr_assert_eq(json_integer_value(json_object_get(v, "k")), 1);
    free(node);
    free(port);
    json_decref(v);
}
