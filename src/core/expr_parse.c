/*
 * Expression parser: tokens → flat node array (struct weir_expr).
 *
 * Recursive descent over the JavaScript grammar, restricted to the subset of
 * SPEC §2.2.  Names are resolved here (arrow parameters to slots, library
 * namespaces to function ids and constants), so evaluation never looks a name
 * up.  Everything outside the subset is refused with "column N: <problem>;
 * <what is allowed>".  Nesting is bounded (XMAX_NESTING while parsing,
 * XMAX_HEIGHT for the resulting tree) so evaluation recursion is bounded too.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/expr_int.h"

#define NIL UINT32_MAX

static const char ALLOWED_NAMES[] =
    "expressions may use value, config, port, Math, JSON, Object, Array, Number, String, Boolean, parseInt, "
    "parseFloat, isNaN, isFinite, undefined, NaN, Infinity and the parameters of arrow functions";

typedef struct scope_ent {
    uint32_t off; /* name in the pool (offsets survive the pool growing) */
    size_t len;
    uint32_t slot;
} scope_ent;

typedef struct parser {
    const char *src;
    size_t len, col0;
    xlexed lx;
    uint32_t *match; /* token index of the ')' closing each '(' */
    size_t i;
    xnode *nodes;
    size_t nn, cn;
    uint16_t *h; /* tree height per node */
    size_t ch;
    uint32_t *kids;
    size_t nk, ck;
    scope_ent *scope;
    size_t nscope, cscope;
    uint32_t nslots;
    unsigned depth;
    uintptr_t stack_floor;
    weir_error *err;
    int rc;
} parser;

/* ------------------------------------------------------------- plumbing */

static int perr(parser *p, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(parser *p, size_t pos, const char *fmt, ...) {
    if (p->rc) return p->rc;
    char msg[WEIR_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->rc = weir__error(p->err, WEIR_EEXPR, "column %zu: %s", weir__xcolumn(p->src, pos, p->col0), msg);
    return p->rc;
}

static uint32_t fail_oom(parser *p) {
    if (!p->rc) p->rc = weir__error(p->err, WEIR_ENOMEM, "out of memory compiling an expression");
    return NIL;
}

static const xtok *tk(parser *p) { return &p->lx.toks[p->i]; }
static const xtok *tk_at(parser *p, size_t k) {
    return &p->lx.toks[k < p->lx.ntoks ? k : p->lx.ntoks - 1];
}
static void adv(parser *p) {
    if (p->i + 1 < p->lx.ntoks) p->i++;
}
static bool is(parser *p, unsigned kind) { return tk(p)->kind == kind; }
static const char *tok_name(parser *p, const xtok *t) { return p->lx.pool + t->v.s.off; }
static bool ident_is(parser *p, const xtok *t, const char *w) {
    return t->kind == T_IDENT && t->v.s.len == strlen(w) && !memcmp(tok_name(p, t), w, t->v.s.len);
}

static uint32_t mk(parser *p, unsigned op, size_t pos) {
    if (p->nn >= UINT32_MAX - 1) return fail_oom(p);
    if (weir__grow((void **)&p->nodes, &p->cn, p->nn + 1, sizeof *p->nodes)) return fail_oom(p);
    if (weir__grow((void **)&p->h, &p->ch, p->nn + 1, sizeof *p->h)) return fail_oom(p);
    xnode *n = &p->nodes[p->nn];
    memset(n, 0, sizeof *n);
    n->op = (uint8_t)op;
    n->pos = (uint32_t)pos;
    n->end = (uint32_t)pos;
    p->h[p->nn] = 1;
    return (uint32_t)p->nn++;
}

static unsigned hmax(parser *p, unsigned cur, uint32_t child) { return child != NIL && p->h[child] > cur ? p->h[child] : cur; }

/* Record the height of a finished node; refuse trees too tall to evaluate. */
static uint32_t fin(parser *p, uint32_t n, size_t end) {
    if (n == NIL) return NIL;
    xnode *x = &p->nodes[n];
    x->end = (uint32_t)end;
    unsigned m = 0;
    switch (x->op) {
    case N_ARRAY: case N_OBJECT: case N_TEMPLATE:
        for (uint32_t k = 0; k < x->u.k.b; k++) m = hmax(p, m, p->kids[x->u.k.a + k]);
        break;
    case N_CALL:
        m = hmax(p, m, x->u.k.a);
        for (uint32_t k = 0; k < x->c; k++) m = hmax(p, m, p->kids[x->u.k.b + k]);
        break;
    case N_PROP:
        m = hmax(p, m, x->u.k.b);
        if (x->flags & XF_COMPUTED) m = hmax(p, m, x->u.k.a);
        break;
    case N_MEMBER: case N_CHAIN: case N_ARROW: case N_SPREAD: case N_NEG: case N_POS: case N_NOT: case N_TYPEOF:
    case N_VOID:
        m = hmax(p, m, x->u.k.a);
        break;
    case N_COND:
        m = hmax(p, hmax(p, hmax(p, m, x->u.k.a), x->u.k.b), x->c);
        break;
    case N_INDEX:
        m = hmax(p, hmax(p, m, x->u.k.a), x->u.k.b);
        break;
    default:
        if (x->op >= N_ADD && x->op <= N_COALESCE) m = hmax(p, hmax(p, m, x->u.k.a), x->u.k.b);
        break;
    }
    if (m + 1 > XMAX_HEIGHT) {
        perr(p, x->pos, "expression too deeply nested or too long a chain of operators (at most %d levels)",
             XMAX_HEIGHT);
        return NIL;
    }
    p->h[n] = (uint16_t)(m + 1);
    return n;
}

static uint32_t bin(parser *p, unsigned op, uint32_t a, uint32_t b) {
    if (a == NIL || b == NIL) return NIL;
    uint32_t n = mk(p, op, p->nodes[a].pos);
    if (n == NIL) return NIL;
    p->nodes[n].u.k.a = a;
    p->nodes[n].u.k.b = b;
    return fin(p, n, p->nodes[b].end);
}

/* A child list under construction (children parse recursively, so each
 * list collects privately and is copied into `kids` when complete). */
typedef struct klist {
    uint32_t *v;
    size_t n, cap;
} klist;

static bool kpush(parser *p, klist *l, uint32_t n) {
    if (weir__grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v)) {
        fail_oom(p);
        return false;
    }
    l->v[l->n++] = n;
    return true;
}

/* Move a list into `kids`; returns its start (and frees the list). */
static bool kcommit(parser *p, klist *l, uint32_t *start) {
    bool ok = !weir__grow((void **)&p->kids, &p->ck, p->nk + l->n + 1, sizeof *p->kids);
    if (ok) {
        if (l->n) memcpy(p->kids + p->nk, l->v, l->n * sizeof *l->v);
        *start = (uint32_t)p->nk;
        p->nk += l->n;
    } else {
        fail_oom(p);
    }
    weir__free(l->v);
    l->v = NULL;
    return ok;
}

static bool pool_add(parser *p, const char *s, size_t n, uint32_t *off) {
    xlexed *o = &p->lx;
    if (weir__grow((void **)&o->pool, &o->cpool, o->npool + n + 1, 1)) {
        fail_oom(p);
        return false;
    }
    memcpy(o->pool + o->npool, s, n);
    *off = (uint32_t)o->npool;
    o->npool += n;
    return true;
}

static bool enter(parser *p) {
    if (++p->depth > XMAX_NESTING) {
        perr(p, tk(p)->pos, "expression nested too deeply (at most %d levels)", XMAX_NESTING);
        return false;
    }
    if (XSTACK_LOW(p->stack_floor)) {
        perr(p, tk(p)->pos, "expression nested too deeply (%u levels are as deep as this thread's stack allows)",
             p->depth);
        return false;
    }
    return true;
}
static void leave(parser *p) { p->depth--; }

/* What to say about a token that cannot continue the expression. */
static uint32_t unexpected(parser *p, const char *expected) {
    const xtok *t = tk(p);
    size_t pos = t->pos;
    switch (t->kind) {
    case T_EOF: perr(p, pos, "unexpected end of expression; expected %s", expected); break;
    case T_ASSIGN: perr(p, pos, "'=' (assignment) is not supported: expressions cannot assign; use === to compare"); break;
    case T_ASSIGN_OP:
        perr(p, pos, "'%.*s' (assignment) is not supported: expressions cannot assign; write the computation "
             "(e.g. value + 1) instead", (int)(t->end - t->pos), p->src + pos);
        break;
    case T_INC: case T_DEC:
        perr(p, pos, "'%.*s' is not supported: expressions cannot assign; write value %c 1 instead",
             (int)(t->end - t->pos), p->src + pos, t->kind == T_INC ? '+' : '-');
        break;
    case T_COMMA: perr(p, pos, "comma expressions are not supported; an expression computes a single value"); break;
    case T_SEMI:
        perr(p, pos, "';' is not supported: write a single JavaScript expression, not statements");
        break;
    case T_AMP: case T_PIPE: case T_CARET: case T_TILDE: case T_SHL: case T_SHR: case T_USHR:
        perr(p, pos, "bitwise operator '%.*s' is not in the subset; use && and || for logic and Math functions or "
             "arithmetic for numbers", (int)(t->end - t->pos), p->src + pos);
        break;
    case T_ARROW:
        perr(p, pos, "arrow functions are only allowed as callbacks of array methods, e.g. value.items.map(x => x.id)");
        break;
    case T_TPL_FULL: case T_TPL_HEAD:
        perr(p, pos, "tagged templates are not supported; use a plain template string `...${x}...`");
        break;
    case T_IDENT:
        if (ident_is(p, t, "in"))
            perr(p, pos, "'in' is not supported; test value.key !== undefined or Object.keys(value).includes(key)");
        else if (ident_is(p, t, "instanceof"))
            perr(p, pos, "'instanceof' is not supported; use Array.isArray(x) or typeof x");
        else
            perr(p, pos, "unexpected name '%.*s'; expected %s", (int)t->v.s.len, tok_name(p, t), expected);
        break;
    default:
        perr(p, pos, "unexpected '%.*s'; expected %s", (int)(t->end - t->pos), p->src + pos, expected);
        break;
    }
    return NIL;
}

static bool expect(parser *p, unsigned kind, const char *what) {
    if (is(p, kind)) {
        adv(p);
        return true;
    }
    unexpected(p, what);
    return false;
}

/* ---------------------------------------------------------- names, library */

typedef struct nsmember {
    const char *name;
    unsigned fn;  /* function id, or F_NONE for a constant */
    double value; /* constant */
} nsmember;

static const nsmember math_members[] = {
    {"abs", F_MATH_ABS, 0}, {"floor", F_MATH_FLOOR, 0}, {"ceil", F_MATH_CEIL, 0}, {"round", F_MATH_ROUND, 0},
    {"trunc", F_MATH_TRUNC, 0}, {"sign", F_MATH_SIGN, 0}, {"min", F_MATH_MIN, 0}, {"max", F_MATH_MAX, 0},
    {"pow", F_MATH_POW, 0}, {"sqrt", F_MATH_SQRT, 0}, {"cbrt", F_MATH_CBRT, 0}, {"log", F_MATH_LOG, 0},
    {"log2", F_MATH_LOG2, 0}, {"log10", F_MATH_LOG10, 0}, {"log1p", F_MATH_LOG1P, 0}, {"exp", F_MATH_EXP, 0},
    {"expm1", F_MATH_EXPM1, 0}, {"hypot", F_MATH_HYPOT, 0}, {"sin", F_MATH_SIN, 0}, {"cos", F_MATH_COS, 0},
    {"tan", F_MATH_TAN, 0}, {"asin", F_MATH_ASIN, 0}, {"acos", F_MATH_ACOS, 0}, {"atan", F_MATH_ATAN, 0},
    {"atan2", F_MATH_ATAN2, 0}, {"PI", F_NONE, 3.141592653589793}, {"E", F_NONE, 2.718281828459045},
    {"LN2", F_NONE, 0.6931471805599453}, {"LN10", F_NONE, 2.302585092994046},
    {"LOG2E", F_NONE, 1.4426950408889634}, {"LOG10E", F_NONE, 0.4342944819032518},
    {"SQRT2", F_NONE, 1.4142135623730951}, {"SQRT1_2", F_NONE, 0.7071067811865476}, {NULL, 0, 0},
};
static const nsmember json_members[] = {{"stringify", F_JSON_STRINGIFY, 0}, {"parse", F_JSON_PARSE, 0}, {NULL, 0, 0}};
static const nsmember object_members[] = {{"keys", F_OBJECT_KEYS, 0},
                                          {"values", F_OBJECT_VALUES, 0},
                                          {"entries", F_OBJECT_ENTRIES, 0},
                                          {"fromEntries", F_OBJECT_FROMENTRIES, 0},
                                          {NULL, 0, 0}};
static const nsmember array_members[] = {{"isArray", F_ARRAY_ISARRAY, 0}, {NULL, 0, 0}};
static const nsmember number_members[] = {
    {"isInteger", F_NUMBER_ISINTEGER, 0}, {"isSafeInteger", F_NUMBER_ISSAFEINTEGER, 0},
    {"isFinite", F_NUMBER_ISFINITE, 0}, {"isNaN", F_NUMBER_ISNAN, 0}, {"parseFloat", F_PARSEFLOAT, 0},
    {"parseInt", F_PARSEINT, 0}, {"MAX_SAFE_INTEGER", F_NONE, 9007199254740991.0},
    {"MIN_SAFE_INTEGER", F_NONE, -9007199254740991.0}, {"EPSILON", F_NONE, 2.220446049250313e-16},
    {"MAX_VALUE", F_NONE, 1.7976931348623157e308}, {"MIN_VALUE", F_NONE, 5e-324},
    {"POSITIVE_INFINITY", F_NONE, INFINITY}, {"NEGATIVE_INFINITY", F_NONE, -INFINITY}, {"NaN", F_NONE, NAN},
    {NULL, 0, 0},
};
static const nsmember string_members[] = {{NULL, 0, 0}};

static const char *const ns_names[] = {"", "Math", "JSON", "Object", "Array", "Number", "String"};

static const nsmember *ns_table(unsigned ns) {
    switch (ns) {
    case NS_MATH: return math_members;
    case NS_JSON: return json_members;
    case NS_OBJECT: return object_members;
    case NS_ARRAY: return array_members;
    case NS_NUMBER: return number_members;
    default: return string_members;
    }
}

/* `Math.name` and friends: a library function value or a constant. */
static uint32_t ns_member(parser *p, uint32_t ns_node, const xtok *name) {
    unsigned ns = p->nodes[ns_node].aux;
    const char *nm = tok_name(p, name);
    size_t len = name->v.s.len;
    if (ns == NS_MATH && len == 6 && !memcmp(nm, "random", 6)) {
        perr(p, name->pos, "Math.random is not supported: expressions must be deterministic (the same input always "
             "gives the same result)");
        return NIL;
    }
    const nsmember *t = ns_table(ns);
    for (size_t k = 0; t[k].name; k++) {
        if (strlen(t[k].name) != len || memcmp(t[k].name, nm, len)) continue;
        uint32_t n = mk(p, t[k].fn ? N_FN : N_NUM, p->nodes[ns_node].pos);
        if (n == NIL) return NIL;
        if (t[k].fn) p->nodes[n].aux = (uint16_t)t[k].fn;
        else p->nodes[n].u.num = t[k].value;
        return fin(p, n, name->end);
    }
    char list[1024] = "";
    size_t used = 0;
    for (size_t k = 0; t[k].name && used < sizeof list - 64; k++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", k ? ", " : "", t[k].name);
    if (!used) perr(p, name->pos, "%s.%.*s is not available; String may be called as String(x)", ns_names[ns], (int)len, nm);
    else perr(p, name->pos, "%s.%.*s is not available; %s offers %s", ns_names[ns], (int)len, nm, ns_names[ns], list);
    return NIL;
}

/* A namespace not followed by '.': Number and String are functions too. */
static uint32_t ns_finish(parser *p, uint32_t n) {
    xnode *x = &p->nodes[n];
    if (x->aux == NS_NUMBER || x->aux == NS_STRING) {
        x->op = N_FN;
        x->aux = x->aux == NS_NUMBER ? F_NUMBER : F_STRING;
        return n;
    }
    const char *name = ns_names[x->aux];
    const char *eg = x->aux == NS_MATH ? "Math.max(a, b)" : x->aux == NS_JSON ? "JSON.stringify(value)"
                     : x->aux == NS_OBJECT ? "Object.keys(value)" : "Array.isArray(value)";
    perr(p, x->pos, "'%s' can only be used as %s.<name>, e.g. %s", name, name, eg);
    return NIL;
}

static const struct {
    const char *name;
    const char *msg;
} refused_words[] = {
    {"function", "'function' is not supported; use arrow functions (x => ...) as callbacks of array methods"},
    {"new", "'new' is not supported: expressions cannot construct objects; use literals ([...], {...})"},
    {"this", "'this' is not supported; use value, config or port"},
    {"delete", "'delete' is not supported: expressions cannot modify values"},
    {"class", "'class' is not supported: write a single expression"},
    {"var", "declarations (var) are not supported: write a single expression"},
    {"let", "declarations (let) are not supported: write a single expression"},
    {"const", "declarations (const) are not supported: write a single expression"},
    {"return", "'return' is not supported: write just the expression"},
    {"if", "'if' is not supported; use the conditional operator (a ? b : c)"},
    {"for", "loops are not supported; use array methods (map, filter, reduce, ...)"},
    {"while", "loops are not supported; use array methods (map, filter, reduce, ...)"},
    {"do", "loops are not supported; use array methods (map, filter, reduce, ...)"},
    {"switch", "'switch' is not supported; use the conditional operator (a ? b : c)"},
    {"throw", "'throw' is not supported in expressions"},
    {"try", "'try' is not supported in expressions"},
    {"async", "async functions are not supported"},
    {"await", "'await' is not supported: expressions are synchronous"},
    {"yield", "'yield' is not supported"},
    {"import", "'import' is not supported"},
    {"export", "'export' is not supported"},
    {"super", "'super' is not supported"},
    {"with", "'with' is not supported"},
    {"debugger", "'debugger' is not supported"},
    {"eval", "'eval' is not supported"},
    {"arguments", "'arguments' is not supported; name the arrow function's parameters"},
    {"in", "'in' is not supported; test value.key !== undefined"},
    {"instanceof", "'instanceof' is not supported; use Array.isArray(x) or typeof x"},
};

static bool is_reserved(const char *s, size_t n) {
    static const char *const words[] = {"true", "false", "null", "typeof", "void", "else", "case", "default",
                                        "break", "continue", "catch", "finally", "extends", "enum", "static"};
    for (size_t k = 0; k < sizeof refused_words / sizeof *refused_words; k++)
        if (strlen(refused_words[k].name) == n && !memcmp(refused_words[k].name, s, n)) return true;
    for (size_t k = 0; k < sizeof words / sizeof *words; k++)
        if (strlen(words[k]) == n && !memcmp(words[k], s, n)) return true;
    return false;
}

static uint32_t name_node(parser *p, const xtok *t) {
    const char *s = tok_name(p, t);
    size_t n = t->v.s.len;
    for (size_t k = p->nscope; k-- > 0;) {
        if (p->scope[k].len == n && !memcmp(p->lx.pool + p->scope[k].off, s, n)) {
            uint32_t x = mk(p, N_PARAM, t->pos);
            if (x == NIL) return NIL;
            p->nodes[x].u.k.a = p->scope[k].slot;
            return fin(p, x, t->end);
        }
    }
    static const struct {
        const char *name;
        unsigned op, aux;
    } names[] = {
        {"value", N_VALUE, 0}, {"config", N_CONFIG, 0}, {"port", N_PORT, 0}, {"undefined", N_UNDEF, 0},
        {"true", N_TRUE, 0}, {"false", N_FALSE, 0}, {"null", N_NULL, 0}, {"NaN", N_NUM, 1}, {"Infinity", N_NUM, 2},
        {"Math", N_NS, NS_MATH}, {"JSON", N_NS, NS_JSON}, {"Object", N_NS, NS_OBJECT}, {"Array", N_NS, NS_ARRAY},
        {"Number", N_NS, NS_NUMBER}, {"String", N_NS, NS_STRING}, {"Boolean", N_FN, F_BOOLEAN},
        {"parseInt", N_FN, F_PARSEINT}, {"parseFloat", N_FN, F_PARSEFLOAT}, {"isNaN", N_FN, F_ISNAN},
        {"isFinite", N_FN, F_ISFINITE},
    };
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        if (strlen(names[k].name) != n || memcmp(names[k].name, s, n)) continue;
        uint32_t x = mk(p, names[k].op, t->pos);
        if (x == NIL) return NIL;
        if (names[k].op == N_NUM) p->nodes[x].u.num = names[k].aux == 1 ? NAN : INFINITY;
        else p->nodes[x].aux = (uint16_t)names[k].aux;
        return fin(p, x, t->end);
    }
    for (size_t k = 0; k < sizeof refused_words / sizeof *refused_words; k++) {
        if (strlen(refused_words[k].name) == n && !memcmp(refused_words[k].name, s, n)) {
            perr(p, t->pos, "%s", refused_words[k].msg);
            return NIL;
        }
    }
    if (p->nscope) {
        char params[512] = "";
        size_t used = 0;
        for (size_t k = 0; k < p->nscope && used < sizeof params - 80; k++)
            used += (size_t)snprintf(params + used, sizeof params - used, "%s%.*s", k ? ", " : "",
                                     (int)(p->scope[k].len > 64 ? 64 : p->scope[k].len), p->lx.pool + p->scope[k].off);
        perr(p, t->pos, "unknown name '%.*s'; %s (here: %s)", (int)(n > 200 ? 200 : n), s, ALLOWED_NAMES, params);
    } else {
        perr(p, t->pos, "unknown name '%.*s'; %s", (int)(n > 200 ? 200 : n), s, ALLOWED_NAMES);
    }
    return NIL;
}

/* ----------------------------------------------------------- expressions */

static uint32_t parse_assign(parser *p, bool arrow_ok);
static uint32_t parse_unary(parser *p);

/* Is the token at i the start of an arrow function? */
static bool arrow_ahead(parser *p, size_t i) {
    const xtok *t = tk_at(p, i);
    if (t->kind == T_IDENT) return tk_at(p, i + 1)->kind == T_ARROW;
    if (t->kind != T_LPAREN || p->match[i] == NIL) return false;
    return tk_at(p, p->match[i] + 1)->kind == T_ARROW;
}

static uint32_t parse_arrow(parser *p) {
    size_t pos = tk(p)->pos;
    size_t scope0 = p->nscope;
    uint32_t first = p->nslots, count = 0;
    bool paren = is(p, T_LPAREN);
    if (paren) adv(p);
    while (!paren || !is(p, T_RPAREN)) {
        const xtok *t = tk(p);
        if (t->kind == T_ELLIPSIS) {
            perr(p, t->pos, "rest parameters (...args) are not supported; name each parameter");
            return NIL;
        }
        if (t->kind == T_LBRACE || t->kind == T_LBRACK) {
            perr(p, t->pos, "destructuring parameters are not supported; take the whole value (x => x.name)");
            return NIL;
        }
        if (t->kind != T_IDENT) return unexpected(p, "a parameter name");
        if (is_reserved(tok_name(p, t), t->v.s.len)) {
            perr(p, t->pos, "'%.*s' cannot be a parameter name", (int)t->v.s.len, tok_name(p, t));
            return NIL;
        }
        for (size_t k = scope0; k < p->nscope; k++)
            if (p->scope[k].len == t->v.s.len && !memcmp(p->lx.pool + p->scope[k].off, tok_name(p, t), t->v.s.len)) {
                perr(p, t->pos, "duplicate parameter name '%.*s'", (int)t->v.s.len, tok_name(p, t));
                return NIL;
            }
        if (weir__grow((void **)&p->scope, &p->cscope, p->nscope + 1, sizeof *p->scope)) return fail_oom(p);
        p->scope[p->nscope++] = (scope_ent){t->v.s.off, t->v.s.len, p->nslots++};
        count++;
        adv(p);
        if (!paren) break;
        if (is(p, T_ASSIGN)) {
            perr(p, tk(p)->pos, "default parameter values are not supported; use ?? in the body");
            return NIL;
        }
        if (is(p, T_COMMA)) adv(p);
        else if (!is(p, T_RPAREN)) return unexpected(p, "',' or ')'");
    }
    if (paren) adv(p);
    if (!expect(p, T_ARROW, "'=>'")) return NIL;
    if (is(p, T_LBRACE)) {
        perr(p, tk(p)->pos, "arrow function bodies must be expressions (x => x.a + 1), not { blocks }; to return an "
             "object literal wrap it in parentheses: x => ({ a: x })");
        return NIL;
    }
    uint32_t body = parse_assign(p, false);
    if (body == NIL) return NIL;
    p->nscope = scope0;
    uint32_t n = mk(p, N_ARROW, pos);
    if (n == NIL) return NIL;
    p->nodes[n].u.k.a = body;
    p->nodes[n].u.k.b = first;
    p->nodes[n].c = count;
    return fin(p, n, p->nodes[body].end);
}

/* A node of `kind` owning the collected list (u.k.a = start, u.k.b =
 * count), ending at `end`; NIL with the list freed on failure. */
static uint32_t list_node(parser *p, klist *l, unsigned kind, size_t pos, size_t end) {
    uint32_t n = mk(p, kind, pos);
    if (n == NIL) {
        weir__free(l->v);
        l->v = NULL;
        return NIL;
    }
    p->nodes[n].u.k.b = (uint32_t)l->n;
    if (!kcommit(p, l, &p->nodes[n].u.k.a)) return NIL;
    return fin(p, n, end);
}

/* After an element of a literal: ',' moves on, `close` is left for the
 * caller, anything else is an error. */
static bool list_sep(parser *p, unsigned close, const char *expected) {
    if (is(p, T_COMMA)) adv(p);
    else if (!is(p, close)) {
        unexpected(p, expected);
        return false;
    }
    return true;
}

static uint32_t parse_template(parser *p) {
    size_t pos = tk(p)->pos;
    klist l = {0};
    for (;;) {
        const xtok *t = tk(p);
        if (t->v.s.len) {
            uint32_t s = mk(p, N_STR, t->pos);
            if (s == NIL || !kpush(p, &l, s)) goto fail;
            p->nodes[s].u.k.a = t->v.s.off;
            p->nodes[s].u.k.b = t->v.s.len;
            if (fin(p, s, t->end) == NIL) goto fail;
        }
        unsigned kind = t->kind;
        adv(p);
        if (kind == T_TPL_TAIL) break;
        uint32_t e = parse_assign(p, false);
        if (e == NIL || !kpush(p, &l, e)) goto fail;
        if (!is(p, T_TPL_MID) && !is(p, T_TPL_TAIL)) {
            unexpected(p, "'}' closing the template's ${");
            goto fail;
        }
    }
    return list_node(p, &l, N_TEMPLATE, pos, tk_at(p, p->i - 1)->end);
fail:
    weir__free(l.v);
    return NIL;
}

static uint32_t parse_array(parser *p) {
    size_t pos = tk(p)->pos;
    adv(p);
    klist l = {0};
    while (!is(p, T_RBRACK)) {
        uint32_t e;
        if (is(p, T_COMMA)) {
            e = mk(p, N_HOLE, tk(p)->pos);
            if (e == NIL || !kpush(p, &l, e)) goto fail;
            adv(p);
            continue;
        }
        if (is(p, T_ELLIPSIS)) {
            size_t sp = tk(p)->pos;
            adv(p);
            uint32_t a = parse_assign(p, false);
            if (a == NIL) goto fail;
            e = mk(p, N_SPREAD, sp);
            if (e == NIL) goto fail;
            p->nodes[e].u.k.a = a;
            e = fin(p, e, p->nodes[a].end);
        } else {
            e = parse_assign(p, false);
        }
        if (e == NIL || !kpush(p, &l, e)) goto fail;
        if (!list_sep(p, T_RBRACK, "',' or ']'")) goto fail;
    }
    size_t end = tk(p)->end;
    adv(p);
    return list_node(p, &l, N_ARRAY, pos, end);
fail:
    weir__free(l.v);
    return NIL;
}

static uint32_t str_node(parser *p, uint32_t off, uint32_t len, size_t pos, size_t end) {
    uint32_t s = mk(p, N_STR, pos);
    if (s == NIL) return NIL;
    p->nodes[s].u.k.a = off;
    p->nodes[s].u.k.b = len;
    return fin(p, s, end);
}

static uint32_t parse_object(parser *p) {
    size_t pos = tk(p)->pos;
    adv(p);
    klist l = {0};
    while (!is(p, T_RBRACE)) {
        const xtok *t = tk(p);
        size_t epos = t->pos;
        uint32_t e, key = NIL, val = NIL;
        unsigned flags = 0;
        if (t->kind == T_ELLIPSIS) {
            adv(p);
            uint32_t a = parse_assign(p, false);
            if (a == NIL) goto fail;
            e = mk(p, N_SPREAD, epos);
            if (e == NIL) goto fail;
            p->nodes[e].u.k.a = a;
            e = fin(p, e, p->nodes[a].end);
            if (e == NIL || !kpush(p, &l, e)) goto fail;
        } else {
            if (t->kind == T_LBRACK) {
                adv(p);
                if (!enter(p)) goto fail;
                key = parse_assign(p, false);
                leave(p);
                if (key == NIL || !expect(p, T_RBRACK, "']'")) goto fail;
                flags = XF_COMPUTED;
            } else if (t->kind == T_IDENT || t->kind == T_STR) {
                key = str_node(p, t->v.s.off, t->v.s.len, t->pos, t->end);
                adv(p);
            } else if (t->kind == T_NUM) {
                char buf[32];
                size_t n = weir__xnum_to_str(t->v.num, buf);
                uint32_t off;
                if (!pool_add(p, buf, n, &off)) goto fail;
                key = str_node(p, off, (uint32_t)n, t->pos, t->end);
                adv(p);
            } else {
                unexpected(p, "a property name, '...' or '}'");
                goto fail;
            }
            if (key == NIL) goto fail;
            if (is(p, T_COLON)) {
                if (!flags && t->kind != T_NUM && p->nodes[key].u.k.b == 9 &&
                    !memcmp(p->lx.pool + p->nodes[key].u.k.a, "__proto__", 9)) {
                    perr(p, t->pos, "'__proto__' keys are not supported in object literals");
                    goto fail;
                }
                adv(p);
                val = parse_assign(p, false);
            } else if (!flags && t->kind == T_IDENT && (is(p, T_COMMA) || is(p, T_RBRACE))) {
                val = name_node(p, t); /* shorthand {value} */
                if (val != NIL && p->nodes[val].op == N_NS) val = ns_finish(p, val);
            } else if (is(p, T_LPAREN)) {
                perr(p, t->pos, "methods in object literals are not supported; objects hold data");
                goto fail;
            } else if (t->kind == T_IDENT && (ident_is(p, t, "get") || ident_is(p, t, "set") || ident_is(p, t, "async"))) {
                perr(p, t->pos, "getters, setters and methods in object literals are not supported");
                goto fail;
            } else {
                unexpected(p, "':'");
                goto fail;
            }
            if (val == NIL) goto fail;
            e = mk(p, N_PROP, epos);
            if (e == NIL) goto fail;
            p->nodes[e].u.k.a = key;
            p->nodes[e].u.k.b = val;
            p->nodes[e].flags = (uint8_t)flags;
            e = fin(p, e, p->nodes[val].end);
            if (e == NIL || !kpush(p, &l, e)) goto fail;
        }
        if (!list_sep(p, T_RBRACE, "',' or '}'")) goto fail;
    }
    size_t end = tk(p)->end;
    adv(p);
    return list_node(p, &l, N_OBJECT, pos, end);
fail:
    weir__free(l.v);
    return NIL;
}

static uint32_t arrow_refused(parser *p) {
    perr(p, tk(p)->pos, "arrow functions are only allowed as callbacks of array methods, e.g. "
         "value.items.map(x => x.id)");
    return NIL;
}

static uint32_t parse_primary(parser *p) {
    const xtok *t = tk(p);
    uint32_t n;
    switch (t->kind) {
    case T_NUM:
        n = mk(p, N_NUM, t->pos);
        if (n == NIL) return NIL;
        p->nodes[n].u.num = t->v.num;
        adv(p);
        return fin(p, n, t->end);
    case T_STR: case T_TPL_FULL:
        n = str_node(p, t->v.s.off, t->v.s.len, t->pos, t->end);
        adv(p);
        return n;
    case T_TPL_HEAD: return parse_template(p);
    case T_LBRACK: return parse_array(p);
    case T_LBRACE: return parse_object(p);
    case T_LPAREN: {
        if (arrow_ahead(p, p->i)) return arrow_refused(p);
        adv(p);
        if (is(p, T_RPAREN)) return unexpected(p, "an expression inside ( )");
        n = parse_assign(p, false);
        if (n == NIL) return NIL;
        if (!is(p, T_RPAREN)) return unexpected(p, "')'");
        adv(p);
        return n;
    }
    case T_IDENT:
        if (arrow_ahead(p, p->i)) return arrow_refused(p);
        n = name_node(p, t);
        adv(p);
        return n;
    default: return unexpected(p, "an operand");
    }
}

/* Member access, calls, optional chains. */
static uint32_t parse_postfix(parser *p) {
    uint32_t n = parse_primary(p);
    bool chain = false;
    size_t pos = n == NIL ? 0 : p->nodes[n].pos;
    while (n != NIL) {
        const xtok *t = tk(p);
        if (p->nodes[n].op == N_NS) {
            if (t->kind == T_DOT) {
                adv(p);
                if (!is(p, T_IDENT)) return unexpected(p, "a name after '.'");
                n = ns_member(p, n, tk(p));
                adv(p);
                continue;
            }
            if ((n = ns_finish(p, n)) == NIL) return NIL;
        }
        unsigned opt = 0;
        if (t->kind == T_OPTCHAIN) {
            chain = true;
            opt = XF_OPT;
            adv(p);
            t = tk(p);
            if (t->kind != T_IDENT && t->kind != T_LBRACK && t->kind != T_LPAREN)
                return unexpected(p, "a name, '[' or '(' after '?.'");
            if (t->kind == T_IDENT) goto member;
        }
        if (t->kind == T_DOT) {
            adv(p);
            t = tk(p);
            if (t->kind != T_IDENT) return unexpected(p, "a property name after '.'");
        member:;
            uint32_t m = mk(p, N_MEMBER, pos);
            if (m == NIL) return NIL;
            p->nodes[m].u.k.a = n;
            p->nodes[m].u.k.b = t->v.s.off;
            p->nodes[m].c = t->v.s.len;
            p->nodes[m].flags = (uint8_t)opt;
            p->nodes[m].aux = (uint16_t)weir__xmethod_lookup(tok_name(p, t), t->v.s.len);
            adv(p);
            n = fin(p, m, t->end);
        } else if (t->kind == T_LBRACK) {
            adv(p);
            if (!enter(p)) return NIL;
            uint32_t k = parse_assign(p, false);
            leave(p);
            if (k == NIL) return NIL;
            size_t end = tk(p)->end;
            if (!expect(p, T_RBRACK, "']'")) return NIL;
            uint32_t m = mk(p, N_INDEX, pos);
            if (m == NIL) return NIL;
            p->nodes[m].u.k.a = n;
            p->nodes[m].u.k.b = k;
            p->nodes[m].flags = (uint8_t)opt;
            n = fin(p, m, end);
        } else if (t->kind == T_LPAREN) {
            adv(p);
            if (!enter(p)) return NIL;
            klist l = {0};
            unsigned flags = opt;
            while (!is(p, T_RPAREN)) {
                uint32_t a;
                if (is(p, T_ELLIPSIS)) {
                    size_t sp = tk(p)->pos;
                    adv(p);
                    uint32_t e = parse_assign(p, false);
                    a = e == NIL ? NIL : mk(p, N_SPREAD, sp);
                    if (a != NIL) {
                        p->nodes[a].u.k.a = e;
                        a = fin(p, a, p->nodes[e].end);
                    }
                    flags |= XF_SPREAD;
                } else {
                    a = parse_assign(p, true);
                }
                if (a == NIL || !kpush(p, &l, a)) {
                    weir__free(l.v);
                    return NIL;
                }
                if (is(p, T_COMMA)) adv(p);
                else if (!is(p, T_RPAREN)) {
                    weir__free(l.v);
                    return unexpected(p, "',' or ')'");
                }
            }
            leave(p);
            size_t end = tk(p)->end;
            adv(p);
            uint32_t m = mk(p, N_CALL, pos);
            if (m == NIL) {
                weir__free(l.v);
                return NIL;
            }
            p->nodes[m].u.k.a = n;
            p->nodes[m].c = (uint32_t)l.n;
            p->nodes[m].flags = (uint8_t)flags;
            if (!kcommit(p, &l, &p->nodes[m].u.k.b)) return NIL;
            n = fin(p, m, end);
        } else if (t->kind == T_TPL_FULL || t->kind == T_TPL_HEAD) {
            return unexpected(p, "an operator");
        } else {
            break;
        }
    }
    if (n != NIL && chain) {
        uint32_t c = mk(p, N_CHAIN, pos);
        if (c == NIL) return NIL;
        p->nodes[c].u.k.a = n;
        n = fin(p, c, p->nodes[n].end);
    }
    return n;
}

static bool unary_start(parser *p) {
    const xtok *t = tk(p);
    switch (t->kind) {
    case T_MINUS: case T_PLUS: case T_BANG: case T_TILDE: case T_INC: case T_DEC: return true;
    case T_IDENT: return ident_is(p, t, "typeof") || ident_is(p, t, "void") || ident_is(p, t, "delete") || ident_is(p, t, "await");
    default: return false;
    }
}

static uint32_t parse_unary(parser *p) {
    if (!unary_start(p)) return parse_postfix(p);
    const xtok *t = tk(p);
    unsigned op;
    switch (t->kind) {
    case T_MINUS: op = N_NEG; break;
    case T_PLUS: op = N_POS; break;
    case T_BANG: op = N_NOT; break;
    case T_IDENT:
        if (ident_is(p, t, "typeof")) op = N_TYPEOF;
        else if (ident_is(p, t, "void")) op = N_VOID;
        else return name_node(p, t); /* delete, await: refused with their message */
        break;
    default: return unexpected(p, "an operand"); /* ~ ++ -- */
    }
    size_t pos = t->pos;
    adv(p);
    if (!enter(p)) return NIL;
    uint32_t a = parse_unary(p);
    leave(p);
    if (a == NIL) return NIL;
    if (op == N_NEG && p->nodes[a].op == N_NUM) { /* fold -5 */
        p->nodes[a].u.num = -p->nodes[a].u.num;
        p->nodes[a].pos = (uint32_t)pos;
        return a;
    }
    uint32_t n = mk(p, op, pos);
    if (n == NIL) return NIL;
    p->nodes[n].u.k.a = a;
    return fin(p, n, p->nodes[a].end);
}

/* ExponentiationExpression: right-associative; a unary operand needs parentheses. */
static uint32_t parse_exp(parser *p) {
    if (unary_start(p)) {
        size_t pos = tk(p)->pos;
        uint32_t n = parse_unary(p);
        if (n != NIL && is(p, T_STARSTAR)) {
            perr(p, pos, "a unary operator before ** is ambiguous; write (-x) ** y or -(x ** y)");
            return NIL;
        }
        return n;
    }
    uint32_t base = parse_postfix(p);
    if (base == NIL || !is(p, T_STARSTAR)) return base;
    adv(p);
    if (!enter(p)) return NIL;
    uint32_t r = parse_exp(p);
    leave(p);
    return bin(p, N_POW, base, r);
}

/* The left-associative binary levels, loosest first (equality, relational,
 * additive, multiplicative); below them comes `**`, right-associative.  A
 * row ends at T_EOF. */
typedef struct binop {
    unsigned tok, node;
} binop;
enum { BIN_EQ, BIN_REL, BIN_ADD, BIN_MUL, BIN_LEVELS };
static const binop BINARY[BIN_LEVELS][5] = {
    [BIN_EQ] = {{T_EQ, N_EQ}, {T_NE, N_NE}, {T_SEQ, N_SEQ}, {T_SNE, N_SNE}, {T_EOF, 0}},
    [BIN_REL] = {{T_LT, N_LT}, {T_LE, N_LE}, {T_GT, N_GT}, {T_GE, N_GE}, {T_EOF, 0}},
    [BIN_ADD] = {{T_PLUS, N_ADD}, {T_MINUS, N_SUB}, {T_EOF, 0}},
    [BIN_MUL] = {{T_STAR, N_MUL}, {T_SLASH, N_DIV}, {T_PERCENT, N_MOD}, {T_EOF, 0}},
};

static uint32_t parse_binary(parser *p, unsigned level) {
    if (level == BIN_LEVELS) return parse_exp(p);
    uint32_t n = parse_binary(p, level + 1);
    while (n != NIL) {
        unsigned k = tk(p)->kind;
        const binop *b = BINARY[level];
        while (b->tok != T_EOF && b->tok != k) b++;
        if (b->tok == T_EOF) break;
        adv(p);
        n = bin(p, b->node, n, parse_binary(p, level + 1));
    }
    return n;
}

static uint32_t parse_eq(parser *p) { return parse_binary(p, BIN_EQ); }

static uint32_t parse_and_tail(parser *p, uint32_t n) {
    while (n != NIL && is(p, T_AND)) {
        adv(p);
        n = bin(p, N_AND, n, parse_eq(p));
    }
    return n;
}

/* ShortCircuitExpression: ?? may not mix with && / || without parentheses. */
static uint32_t parse_short(parser *p) {
    uint32_t n = parse_eq(p);
    if (n == NIL) return NIL;
    if (is(p, T_NULLISH)) {
        while (n != NIL && is(p, T_NULLISH)) {
            adv(p);
            n = bin(p, N_COALESCE, n, parse_eq(p));
        }
        if (n != NIL && (is(p, T_AND) || is(p, T_OR))) {
            perr(p, tk(p)->pos, "?? cannot be mixed with && or || without parentheses; write (a ?? b) || c");
            return NIL;
        }
        return n;
    }
    n = parse_and_tail(p, n);
    while (n != NIL && is(p, T_OR)) {
        adv(p);
        n = bin(p, N_OR, n, parse_and_tail(p, parse_eq(p)));
    }
    if (n != NIL && is(p, T_NULLISH)) {
        perr(p, tk(p)->pos, "?? cannot be mixed with && or || without parentheses; write (a || b) ?? c");
        return NIL;
    }
    return n;
}

static uint32_t parse_cond(parser *p) {
    uint32_t c = parse_short(p);
    if (c == NIL || !is(p, T_QUESTION)) return c;
    adv(p);
    uint32_t a = parse_assign(p, false);
    if (a == NIL || !expect(p, T_COLON, "':' of the conditional operator")) return NIL;
    uint32_t b = parse_assign(p, false);
    if (b == NIL) return NIL;
    uint32_t n = mk(p, N_COND, p->nodes[c].pos);
    if (n == NIL) return NIL;
    p->nodes[n].u.k.a = c;
    p->nodes[n].u.k.b = a;
    p->nodes[n].c = b;
    return fin(p, n, p->nodes[b].end);
}

static uint32_t parse_assign(parser *p, bool arrow_ok) {
    if (!enter(p)) return NIL;
    uint32_t n;
    if (arrow_ahead(p, p->i)) {
        n = arrow_ok ? parse_arrow(p) : arrow_refused(p);
    } else {
        n = parse_cond(p);
        if (n != NIL && (is(p, T_ASSIGN) || is(p, T_ASSIGN_OP))) n = unexpected(p, "");
    }
    leave(p);
    return n;
}

/* ------------------------------------------------------------- compile */

static void match_parens(parser *p) {
    uint32_t stack[XMAX_NESTING + 1];
    size_t ns = 0, over = 0;
    for (size_t k = 0; k < p->lx.ntoks; k++) {
        p->match[k] = NIL;
        unsigned kind = p->lx.toks[k].kind;
        if (kind == T_LPAREN) {
            if (ns < XMAX_NESTING + 1) stack[ns++] = (uint32_t)k;
            else over++;
        } else if (kind == T_RPAREN) {
            if (over) over--;
            else if (ns) p->match[stack[--ns]] = (uint32_t)k;
        }
    }
}

int weir__expr_compile_span(const char *src, size_t len, size_t col0, weir_expr **out, weir_error *err) {
    *out = NULL;
    parser p = {.src = src, .len = len, .col0 = col0, .stack_floor = weir__xstack_floor(), .err = err};
    int rc = weir__xlex(src, len, col0, &p.lx, err);
    if (rc) return rc;
    weir_expr *x = NULL;
    p.match = weir__malloc(p.lx.ntoks * sizeof *p.match);
    if (!p.match) {
        fail_oom(&p);
        goto done;
    }
    match_parens(&p);
    if (is(&p, T_EOF)) {
        perr(&p, 0, "empty expression; write a JavaScript expression such as value.x * 2");
        goto done;
    }
    uint32_t root = parse_assign(&p, false);
    if (root != NIL && !is(&p, T_EOF)) unexpected(&p, "the end of the expression");
    if (p.rc) goto done;
    x = weir__calloc(1, sizeof *x);
    if (!x || !(x->src = weir__strndup(src, len))) {
        fail_oom(&p);
        goto done;
    }
    x->src_len = len;
    x->nodes = p.nodes;
    x->nnodes = p.nn;
    x->kids = p.kids;
    x->pool = p.lx.pool;
    x->root = root;
    x->nslots = p.nslots;
    weir__xset_limits(x, NULL);
    p.nodes = NULL;
    p.kids = NULL;
    p.lx.pool = NULL;
    *out = x;
    x = NULL;
done:
    if (x) weir__free(x->src);
    weir__free(x);
    weir__free(p.match);
    weir__free(p.nodes);
    weir__free(p.h);
    weir__free(p.kids);
    weir__free(p.scope);
    weir__xlex_free(&p.lx);
    return p.rc;
}

int weir__expr_compile(const char *src, weir_expr **out, weir_error *err) {
    if (!src) {
        *out = NULL;
        return weir__error(err, WEIR_EINVAL, "no expression given");
    }
    return weir__expr_compile_span(src, strlen(src), 0, out, err);
}

int weir__expr_compile_with(const char *src, const weir_expr_limits *lim, weir_expr **out, weir_error *err) {
    int rc = weir__expr_compile(src, out, err);
    if (!rc) weir__xset_limits(*out, lim);
    return rc;
}

void weir__xset_limits(weir_expr *x, const weir_expr_limits *lim) {
    x->max_steps = lim && lim->max_steps ? lim->max_steps : WEIR_EXPR_MAX_STEPS_DEFAULT;
    x->max_bytes = lim && lim->max_bytes ? lim->max_bytes : WEIR_EXPR_MAX_BYTES_DEFAULT;
    /* the sums below (steps + a block, 2 * bytes, 4 * bytes) stay in size_t */
    if (x->max_steps > SIZE_MAX / 4) x->max_steps = SIZE_MAX / 4;
    if (x->max_bytes > SIZE_MAX / 8) x->max_bytes = SIZE_MAX / 8;
}

void weir__expr_free(weir_expr *x) {
    if (!x) return;
    weir__free(x->src);
    weir__free(x->nodes);
    weir__free(x->kids);
    weir__free(x->pool);
    weir__free(x);
}

const char *weir__expr_source(const weir_expr *x) { return x ? x->src : NULL; }
