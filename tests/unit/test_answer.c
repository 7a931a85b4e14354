/* svc_json_size: the written-out size of an answer, counted per use of a
 * shared value, and a walk bounded by its limit (server/answer.c). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/answer.h"

static size_t dumped(json_t *v) { return json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY); }

Test(answer, the_size_is_what_jansson_writes) {
    const char *const docs[] = {
        "{}", "[]", "\"\"", "0", "-12345678901234", "1.5", "1e300", "-0.0", "true", "false", "null",
        "\"tab\\tnew\\nline \\\"quoted\\\" back\\\\slash \\u0001 \\u001f /slash \\u00e9\\u4e2d\"",
        "{\"a\\nkey\":[1,{\"b\":[]},\"c\"],\"d\":{},\"\\u0002\":null}", "[[[[[]]]],[{}],\"x\"]",
    };
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
        json_t *v = json_loads(docs[i], JSON_DECODE_ANY, NULL);
        cr_assert_not_null(v, "%s", docs[i]);
        cr_assert_eq(svc_json_size(v, 1u << 20), dumped(v), "%s: %zu, written %zu", docs[i],
                     svc_json_size(v, 1u << 20), dumped(v));
        json_decref(v);
    }
}

Test(answer, a_shared_value_counts_once_per_use) {
    json_t *s = json_string("0123456789"), *o = json_object();
    for (int i = 0; i < 50; i++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", i);
        json_object_set(o, key, s);
    }
    json_t *a = json_pack("[O,O,O]", o, o, o);
    cr_assert_eq(svc_json_size(a, 1u << 20), dumped(a));
    json_decref(a);
    json_decref(o);
    json_decref(s);
}

/* 60 uses of one 5 MB string: 300 MB written out; measured against 16 MiB
 * the walk stops after a few uses, in far less time than writing it. */
Test(answer, the_walk_stops_past_its_limit) {
    size_t n = 5u << 20, limit = 16u << 20;
    char *text = malloc(n);
    cr_assert_not_null(text);
    memset(text, 'x', n);
    json_t *s = json_stringn(text, n), *a = json_array();
    free(text);
    for (int i = 0; i < 60; i++) json_array_append(a, s);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t size = svc_json_size(a, limit);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    cr_assert_gt(size, limit);
    cr_assert_lt(size, limit + n + 3, "%zu: the walk went on past the limit", size);
    cr_log_info("measured past 16 MiB in %.1f ms", ms);
    cr_assert_eq(svc_json_size(a, 300u << 20), 60 * (n + 2) + 61);
    json_decref(a);
    json_decref(s);
}

/* The answer keeps what fits and says what it left out. */
Test(answer, outputs_that_fit_stay_and_a_trace_that_does_not_goes) {
    json_t *outputs = json_pack("{s:s}", "n:out", "abcdefghij");
    json_t *trace = json_pack("[{s:s},{s:s}]", "value", "abcdefghij", "value", "abcdefghij");
    weir_settled st = {.outputs = outputs, .trace = trace, .hops = 2};
    json_t *body = json_pack("{s:b}", "settled", 1);
    svc_answer_settled(body, &st, 80);
    cr_assert(json_equal(json_object_get(body, "outputs"), outputs));
    cr_assert_null(json_object_get(body, "trace"));
    json_t *t = json_object_get(body, "truncated");
    cr_assert_str_eq(json_string_value(json_object_get(t, "code")), "WEIR_ETOOLARGE");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(t, "omitted"), 0)), "trace");
    cr_assert(strstr(json_string_value(json_object_get(t, "error")), "MAX_ANSWER_BYTES (80)"));
    json_decref(body);
    body = json_pack("{s:b}", "settled", 1);
    svc_answer_settled(body, &st, 4096);
    cr_assert_null(json_object_get(body, "truncated"));
    cr_assert(json_equal(json_object_get(body, "trace"), trace));
    char *text = json_dumps(body, JSON_COMPACT);
    cr_assert_leq(strlen(text), 4096);
    free(text);
    json_decref(body);
    json_decref(outputs);
    json_decref(trace);
}
