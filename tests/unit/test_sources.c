/*
 * A component's source pinned by its SHA-256 and what a sourceUrl fetch
 * answered (src/service/sources.c): the hash of a text source and of a
 * wasm module's bytes (not of its base64), a pin that does not match, and
 * the errors naming what the URL answered.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "service/service_internal.h"

static json_t *exec_of(const char *text) {
    json_t *x = json_loads(text, 0, NULL);
    cr_assert_not_null(x, "bad test JSON: %s", text);
    return x;
}

static const char *hash_of(json_t *x) { return json_string_value(json_object_get(x, "sourceHash")); }

Test(sources, a_source_is_pinned_by_its_sha256) {
    weir_error err;
    json_t *x = exec_of("{\"type\": \"javascript\", \"source\": \"abc\"}");
    cr_assert_eq(svc_source_pin(x, &err), 0, "%s", err.message);
    /* sha256("abc") */
    cr_assert_str_eq(hash_of(x), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cr_assert_eq(svc_source_pin(x, &err), 0, "pinned to itself: %s", err.message);
    json_decref(x);
    /* a wasm source: the hash of the bytes "abc" its base64 "YWJj" stands for */
    x = exec_of("{\"type\": \"wasm\", \"source\": \"YWJj\"}");
    cr_assert_eq(svc_source_pin(x, &err), 0, "%s", err.message);
    cr_assert_str_eq(hash_of(x), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    json_decref(x);
    x = exec_of("{\"type\": \"wasm\", \"source\": \"YWI=\"}"); /* "ab": padding */
    cr_assert_eq(svc_source_pin(x, &err), 0, "%s", err.message);
    cr_assert_str_eq(hash_of(x), "sha256:fb8e20fc2e4c3f248c60c39bd652f3c1347298bb977b8b4d5903b85055620603");
    json_decref(x);
    /* another pin is refused, naming both */
    x = exec_of("{\"type\": \"javascript\", \"source\": \"abc\", \"sourceUrl\": \"http://h/a.js\", \"sourceHash\": "
                "\"sha256:0000000000000000000000000000000000000000000000000000000000000000\"}");
    cr_assert_eq(svc_source_pin(x, &err), WEIR_EINVAL);
    cr_assert_str_eq(err.message,
                     "execution.sourceHash is sha256:0000000000000000000000000000000000000000000000000000000000000000 "
                     "but the source fetched from sourceUrl has SHA-256 "
                     "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad: the source is not the "
                     "one pinned");
    json_decref(x);
}

Test(sources, what_a_source_url_answered) {
    weir_error err;
    json_t *src = NULL;
    cr_assert_eq(svc_source_fetched(1024, "http://h/a.js", false, NULL, "egress refused: no", &src, &err), WEIR_EINVAL);
    cr_assert_str_eq(err.message, "execution.sourceUrl http://h/a.js could not be fetched: egress refused: no");
    json_t *r = json_pack("{s:i,s:s}", "status", 404, "body", "not\nhere");
    cr_assert_eq(svc_source_fetched(1024, "http://h/a.js", false, r, NULL, &src, &err), WEIR_EINVAL);
    cr_assert_str_eq(err.message, "execution.sourceUrl http://h/a.js answered 404: not here");
    json_decref(r);
    /* a wasm fetch's body is base64: shown as the text it stands for */
    r = json_pack("{s:i,s:s}", "status", 500, "body", "b29wcw==");
    cr_assert_eq(svc_source_fetched(1024, "http://h/m.wasm", true, r, NULL, &src, &err), WEIR_EINVAL);
    cr_assert_str_eq(err.message, "execution.sourceUrl http://h/m.wasm answered 500: oops");
    json_decref(r);
    r = json_pack("{s:i,s:s}", "status", 200, "body", "");
    cr_assert_eq(svc_source_fetched(1024, "http://h/a.js", false, r, NULL, &src, &err), WEIR_EINVAL);
    cr_assert_str_eq(err.message, "execution.sourceUrl http://h/a.js answered an empty body");
    json_decref(r);
    r = json_pack("{s:i,s:s}", "status", 200, "body", "return {}");
    cr_assert_eq(svc_source_fetched(1024, "http://h/a.js", false, r, NULL, &src, &err), 0);
    cr_assert_str_eq(json_string_value(src), "return {}");
    json_decref(src);
    json_decref(r);
    /* past the limit: the setting named, or the fetch's own bound */
    cr_assert_eq(svc_source_fetched(1024, "http://h/a.js", false, NULL, "response larger than 1024 bytes", &src, &err),
                 WEIR_EINVAL);
    cr_assert_str_eq(err.message, "execution.sourceUrl http://h/a.js is larger than SOURCE_MAX_BYTES (1024 bytes): serve "
                                  "a smaller source, or raise SOURCE_MAX_BYTES (--source-max-bytes)");
}

/* The pin is taken before the definition is checked: base64 that is not
 * padded (3 characters over a multiple of 4) decodes within its buffer
 * (it wrote one byte past it: found by review, caught by ASan). */
Test(sources, a_wasm_source_of_unpadded_base64_is_hashed_within_bounds) {
    const char *texts[] = {"{\"type\": \"wasm\", \"source\": \"AAA\"}", "{\"type\": \"wasm\", \"source\": \"AAAAAAA\"}",
                           "{\"type\": \"wasm\", \"source\": \"A\"}"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        weir_error err;
        json_t *x = exec_of(texts[i]);
        cr_assert_eq(svc_source_pin(x, &err), 0, "%s", err.message);
        cr_assert_not_null(hash_of(x));
        json_decref(x);
    }
}
