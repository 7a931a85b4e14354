/*
 * Expression evaluator micro-benchmarks (SPEC §2.2, DESIGN §2): nanoseconds
 * per evaluation for the hot shapes of map/filter predicates.  Each figure is
 * the best of 5 runs of 10M evaluations, including building the result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/expr.h"

#define N 10000000L

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static weir_expr *compile(const char *src) {
    weir_expr *x;
    weir_error err;
    if (weir__expr_compile(src, &x, &err)) {
        fprintf(stderr, "bench_expr: %s: %s\n", src, err.message);
        exit(1);
    }
    return x;
}

/* ns per weir__expr_eval (result built and released). */
static double bench_eval(const char *src, json_t *value) {
    weir_expr *x = compile(src);
    weir_expr_env env = {value, NULL, "in"};
    weir_error err;
    double best = 1e30;
    long sink = 0;
    for (int run = 0; run < 5; run++) {
        double t0 = now_ns();
        for (long i = 0; i < N; i++) {
            json_t *out;
            if (weir__expr_eval(x, &env, &out, &err)) exit(1);
            sink += json_integer_value(out);
            json_decref(out);
        }
        double ns = (now_ns() - t0) / N;
        if (ns < best) best = ns;
    }
    weir__expr_free(x);
    return sink ? best : best;
}

/* ns per weir__expr_truthy. */
static double bench_truthy(const char *src, json_t *value) {
    weir_expr *x = compile(src);
    weir_expr_env env = {value, NULL, "in"};
    weir_error err;
    double best = 1e30;
    long hits = 0;
    for (int run = 0; run < 5; run++) {
        double t0 = now_ns();
        for (long i = 0; i < N; i++) {
            bool b;
            if (weir__expr_truthy(x, &env, &b, &err)) exit(1);
            hits += b;
        }
        double ns = (now_ns() - t0) / N;
        if (ns < best) best = ns;
    }
    weir__expr_free(x);
    return hits ? best : best;
}

int main(void) {
    json_t *num = json_integer(21);
    json_t *obj = json_pack("{s:s,s:i,s:s}", "status", "active", "id", 7, "name", "widget");
    printf("expr value*2: %.1f ns/eval\n", bench_eval("value*2", num));
    printf("expr value.status==='active': %.1f ns/eval\n", bench_truthy("value.status==='active'", obj));
    printf("expr value.id + 1: %.1f ns/eval\n", bench_eval("value.id + 1", obj));
    json_decref(num);
    json_decref(obj);
    return 0;
}
