/*
 * libFuzzer target for the expression compiler and evaluator: the input is
 * an expression; if it compiles, it is evaluated (value and truthiness)
 * against a few fixed values.  Everything is freed; the sanitizers catch
 * the rest.  The committed corpus (tests/fuzz/corpus/expr) replays as a
 * normal test through replay_main.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/expr.h"

static const char *const values[] = {
    ("{\"a\":1,\"s\":\"Hello\",\"n\":-2.5,\"arr\":[3,\"x\",null,[1,2],{\"k\":1}],\"o\":{\"x\":1,\"1\":2},"
     "\"u\":\"\\u00e9\\ud83d\\ude00\",\"t\":true,\"e\":\"\"}"),
    "[5,1,10,2.5,-3,\"7\",null]",
    "\"a string\"",
    "0",
};

/* A small budget (the limits are settings): each input stays cheap, so the
 * fuzzer tries many more of them, and the budget's own paths (steps,
 * strings, results written out) are reached far more often. */
static const weir_expr_limits limits = {.max_steps = 1u << 16, .max_bytes = 1u << 20};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *src = malloc(size + 1);
    if (!src) return 0;
    memcpy(src, data, size);
    src[size] = '\0';
    weir_expr *x = NULL;
    weir_error err;
    if (weir__expr_compile_with(src, &limits, &x, &err) == 0) {
        json_t *config = json_loads("{\"threshold\":10,\"key\":\"a\"}", 0, NULL);
        for (size_t i = 0; i <= sizeof values / sizeof *values; i++) {
            json_t *value = i < sizeof values / sizeof *values ? json_loads(values[i], JSON_DECODE_ANY, NULL) : NULL;
            weir_expr_env env = {value, config, i % 2 ? "in" : NULL};
            json_t *out = NULL;
            if (weir__expr_eval(x, &env, &out, &err) == 0 && out) {
                char *text = NULL;
                if (weir__js_stringify(out, &text, NULL) == 0) weir__free(text);
                json_decref(out);
            }
            bool truthy;
            if (i == 0) (void)weir__expr_truthy(x, &env, &truthy, &err);
            json_decref(value);
        }
        json_decref(config);
        weir__expr_free(x);
    }
    free(src);
    return 0;
}
