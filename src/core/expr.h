/*
 * The expression language of SPEC §2.2: a JavaScript subset compiled once at
 * load and evaluated directly on jansson values with JavaScript semantics.
 * No JS engine.  Internal to libweir (components use it).
 */
#ifndef WEIR_CORE_EXPR_H
#define WEIR_CORE_EXPR_H
#include <stdbool.h>

#include "weir/weir.h"

typedef struct weir_expr weir_expr;
typedef struct weir_tmpl weir_tmpl;

/* The names an expression can see.  All BORROWED; NULL means undefined. */
typedef struct weir_expr_env {
    json_t *value;
    json_t *config;
    const char *port;
} weir_expr_env;

/* Compile.  On failure returns WEIR_EEXPR (or WEIR_ENOMEM) and err->message
 * reads "column N: <what is wrong>; <what is allowed>" (columns from 1). */
int weir__expr_compile(const char *src, weir_expr **out, weir_error *err);
/* The same, with the budget every evaluation of it gets (lim BORROWED,
 * copied; NULL or zero fields: WEIR_EXPR_MAX_*_DEFAULT).
 * weir__expr_compile uses the defaults. */
int weir__expr_compile_with(const char *src, const weir_expr_limits *lim, weir_expr **out, weir_error *err);
void weir__expr_free(weir_expr *x);
/* The source text the expression was compiled from. */
const char *weir__expr_source(const weir_expr *x);

/* Evaluate.  On success *out is a NEW reference, or NULL when the result is
 * `undefined`.  Numbers: integral values in ±2^53 (except -0) become
 * json_integer, others json_real; NaN and ±Infinity have no JSON form and
 * become null (as JSON.stringify does).  Functions as results are an error.
 * A runtime error (a property of undefined, calling a non-function, ...)
 * returns WEIR_EEXPR with a JavaScript-like message in err ("Cannot read
 * properties of undefined (reading 'x')").  The work is bounded (SPEC §10)
 * by the limits x was compiled with: WEIR_EEXPR naming EXPR_MAX_STEPS past
 * the step budget, which also counts text read or copied and the values of
 * the result as a tree (what writing it out visits: a value held n times
 * counts n times, so a result never costs more to serialise than the
 * budget); naming EXPR_MAX_BYTES past that many bytes in one string or
 * written out, or 4 times that allocated; "Maximum call stack size
 * exceeded" at 1024 levels or at the
 * calling thread's stack, whichever comes first.  A result that is part of
 * env->value as it came costs nothing to leave. */
int weir__expr_eval(const weir_expr *x, const weir_expr_env *env, json_t **out, weir_error *err);
/* Evaluate for truthiness only (JavaScript ToBoolean); avoids building the
 * result where it can. */
int weir__expr_truthy(const weir_expr *x, const weir_expr_env *env, bool *out, weir_error *err);

/* Templates: text with {{expression}} holes.  Compile errors name the hole
 * and the column within the whole template text. */
int weir__tmpl_compile(const char *src, weir_tmpl **out, weir_error *err);
/* The same, each hole compiled with weir__expr_compile_with(lim). */
int weir__tmpl_compile_with(const char *src, const weir_expr_limits *lim, weir_tmpl **out, weir_error *err);
void weir__tmpl_free(weir_tmpl *t);
/* True if the template has at least one hole. */
bool weir__tmpl_has_holes(const weir_tmpl *t);
/* Render to a string: each hole becomes String(result) as JavaScript would
 * (objects as JSON.stringify for readability, undefined as "").  NEW. */
int weir__tmpl_render(const weir_tmpl *t, const weir_expr_env *env, json_t **out, weir_error *err);
/* A template that is exactly one hole ("{{value.body}}") renders to the
 * value itself (not stringified; NULL when undefined, as weir__expr_eval);
 * otherwise as weir__tmpl_render.  NEW. */
int weir__tmpl_render_value(const weir_tmpl *t, const weir_expr_env *env, json_t **out, weir_error *err);

/* JavaScript text forms of JSON values, for anything that shows values the
 * way the expressions see them (templates, logs, tests). */

/* JSON.stringify(v) as JavaScript writes it: no spaces, numbers as
 * Number::toString (1e+21, 0.30000000000000004), object keys in JavaScript
 * order (integer-like keys ascending first, then insertion order).  v is
 * BORROWED and non-NULL.  *out is NEW text from weir__malloc (free with
 * weir__free), NUL-terminated, *len its length (len may be NULL).
 * 0, WEIR_ENOMEM, WEIR_ELIMIT (nested deeper than 2048) or WEIR_EINVAL. */
int weir__js_stringify(const json_t *v, char **out, size_t *len);
/* String(v) as a template shows it: strings raw, numbers as JavaScript
 * prints them, objects and arrays as JSON.stringify, NULL (undefined) as "".
 * Same ownership and codes as weir__js_stringify. */
int weir__js_string(const json_t *v, char **out, size_t *len);
/* Number::toString(d) into buf (at least 32 bytes); returns the length. */
size_t weir__js_number(double d, char *buf);

#endif
