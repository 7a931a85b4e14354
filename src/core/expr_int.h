/*
 * Internals shared by the expression modules (expr_lex.c, expr_parse.c,
 * expr_eval.c, expr_lib.c, expr_num.c, expr_json.c, expr_tmpl.c).  Not for
 * use outside src/core/expr*.c: the rest of the library sees core/expr.h.
 *
 * Pipeline: source → tokens (expr_lex.c) → flat node array (expr_parse.c) →
 * evaluation over `xval`s (expr_eval.c, library in expr_lib.c).  Nodes refer
 * to children by index; variable-length child lists live in `kids`.
 */
#ifndef WEIR_CORE_EXPR_INT_H
#define WEIR_CORE_EXPR_INT_H
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/expr.h"

/* ---------------------------------------------------------------- limits */

#define XMAX_SOURCE (1u << 20)       /* bytes of expression source */
#define XMAX_NESTING 256             /* parser nesting ((, [, {, unary, ...) */
#define XMAX_HEIGHT 512              /* height of the node tree */
#define XMAX_EVAL_DEPTH 1024         /* nested eval frames at run time */
/* The budget of one evaluation is per expression (weir_expr.max_steps,
 * max_bytes: settings EXPR_MAX_STEPS, EXPR_MAX_BYTES).  By default about
 * 10 ms on a 2020s server core (a step is 10-20 ns): callback calls,
 * elements visited, 256-byte blocks of text compared or copied, and the
 * values of its result as a tree (what writing it out visits: a value held
 * n times counts n times); 16 MiB in one string or written out; 64 MiB
 * allocated. */
#define XSTEP_COPY 256 /* bytes copied (memcpy, memcmp, memchr) per step */
#define XSTEP_SCAN 16  /* bytes compared one at a time (search, string order) per step */
#define XBUF_FREE_CAP 65536 /* a text built in a buffer up to this size costs only its pieces */
#define XMAX_VALUE_DEPTH 2048        /* nesting of values walked recursively (jansson's parser limit) */

/* The stack (expr_stack.c): every recursion of the compiler, the evaluator
 * and the value walkers also stops at the lowest address the current
 * thread's stack allows, so the counts above hold in every build (sanitizer
 * frames are several times larger) and on small thread stacks.  Stacks grow
 * down on every platform weir builds on. */
/* initial-exec: read on every evaluation, so no __tls_get_addr call in the
 * shared library (libweir is linked, never dlopen'ed late) */
#define XSTACK_TLS __attribute__((tls_model("initial-exec")))
extern _Thread_local uintptr_t weir__xstack_floor_cache XSTACK_TLS; /* 0 until measured */
uintptr_t weir__xstack_measure(void);
/* The floor of the current thread's stack, measured once per thread. */
static inline uintptr_t weir__xstack_floor(void) {
    uintptr_t f = weir__xstack_floor_cache;
    return f ? f : weir__xstack_measure();
}
#define XSTACK_LOW(floor) ((uintptr_t)__builtin_frame_address(0) < (floor))
#define XSTACK_PARSE_JSON (512u << 10) /* more stack jansson's parser may take (2048 levels of recursion) */

/* ---------------------------------------------------------------- tokens */

enum {
    T_EOF,
    T_NUM,
    T_STR,
    T_IDENT,
    T_TPL_FULL, /* `text` */
    T_TPL_HEAD, /* `text${ */
    T_TPL_MID,  /* }text${ */
    T_TPL_TAIL, /* }text` */
    T_LPAREN,
    T_RPAREN,
    T_LBRACK,
    T_RBRACK,
    T_LBRACE,
    T_RBRACE,
    T_DOT,
    T_ELLIPSIS,
    T_SEMI,
    T_COMMA,
    T_LT,
    T_GT,
    T_LE,
    T_GE,
    T_EQ,
    T_NE,
    T_SEQ,
    T_SNE,
    T_PLUS,
    T_MINUS,
    T_STAR,
    T_SLASH,
    T_PERCENT,
    T_STARSTAR,
    T_INC,
    T_DEC,
    T_SHL,
    T_SHR,
    T_USHR,
    T_AMP,
    T_PIPE,
    T_CARET,
    T_BANG,
    T_TILDE,
    T_AND,
    T_OR,
    T_NULLISH,
    T_QUESTION,
    T_OPTCHAIN,
    T_COLON,
    T_ASSIGN,
    T_ASSIGN_OP, /* += -= ... ??= */
    T_ARROW,
};

typedef struct xtok {
    uint16_t kind;
    uint32_t pos, end; /* byte offsets in the source */
    union {
        double num;
        struct {
            uint32_t off, len; /* cooked text in the pool (strings, names, templates) */
        } s;
    } v;
} xtok;

/* The lexer's output; `pool` holds cooked strings and names and is handed
 * over to the compiled expression. */
typedef struct xlexed {
    xtok *toks;
    size_t ntoks, ctoks;
    char *pool;
    size_t npool, cpool;
} xlexed;

/* Tokenize src[0..len).  `col0` is added to every column in messages (for
 * template holes).  On failure fills err (WEIR_EEXPR / WEIR_ENOMEM) and frees
 * what it built. */
int weir__xlex(const char *src, size_t len, size_t col0, xlexed *out, weir_error *err);
void weir__xlex_free(xlexed *lx);
/* 1-based column (in code points) of byte offset `pos`. */
size_t weir__xcolumn(const char *src, size_t pos, size_t col0);

/* ----------------------------------------------------------------- nodes */

enum {
    N_NUM,     /* u.num */
    N_STR,     /* u.k.a = pool offset, u.k.b = length */
    N_TRUE,
    N_FALSE,
    N_NULL,
    N_UNDEF,
    N_VALUE,
    N_CONFIG,
    N_PORT,
    N_PARAM,   /* u.k.a = slot */
    N_FN,      /* a library function as a value; aux = function id */
    N_NS,      /* parser-only: Math, JSON, ... before '.name'; aux = namespace */
    N_ARRAY,   /* kids[u.k.a .. +u.k.b]: elements, N_SPREAD or N_HOLE */
    N_OBJECT,  /* kids: N_PROP or N_SPREAD */
    N_PROP,    /* u.k.a = key node (N_STR, or computed if flag XF_COMPUTED), u.k.b = value */
    N_SPREAD,  /* u.k.a = operand */
    N_HOLE,
    N_TEMPLATE, /* kids: N_STR pieces and expressions, concatenated as strings */
    N_MEMBER,  /* u.k.a = object, u.k.b/c = key (pool offset / length); aux = method id; flag XF_OPT */
    N_INDEX,   /* u.k.a = object, u.k.b = key expression; flag XF_OPT */
    N_CALL,    /* u.k.a = callee, kids[u.k.b .. +c] = args; flag XF_OPT, XF_SPREAD */
    N_CHAIN,   /* u.k.a = an optional chain: a short-circuit inside becomes undefined */
    N_ARROW,   /* u.k.a = body, u.k.b = first slot, c = parameter count */
    N_NEG,
    N_POS,
    N_NOT,
    N_TYPEOF,
    N_VOID,
    N_ADD,     /* binary: u.k.a, u.k.b */
    N_SUB,
    N_MUL,
    N_DIV,
    N_MOD,
    N_POW,
    N_LT,
    N_LE,
    N_GT,
    N_GE,
    N_EQ,
    N_NE,
    N_SEQ,
    N_SNE,
    N_AND,
    N_OR,
    N_COALESCE,
    N_COND,    /* u.k.a ? u.k.b : c */
};

#define XF_OPT 0x1u      /* ?. on this link */
#define XF_SPREAD 0x2u   /* a call with ...spread arguments */
#define XF_COMPUTED 0x4u /* object literal [key] */

typedef struct xnode {
    uint8_t op;
    uint8_t flags;
    uint16_t aux;
    uint32_t pos, end; /* source span (byte offsets), for messages */
    union {
        double num;
        struct {
            uint32_t a, b;
        } k;
    } u;
    uint32_t c;
} xnode;

struct weir_expr {
    char *src;
    size_t src_len;
    xnode *nodes;
    size_t nnodes;
    uint32_t *kids;
    char *pool;
    uint32_t root;
    uint32_t nslots; /* arrow parameters, each with its own slot */
    size_t max_steps; /* the budget of one evaluation (weir_expr_limits, defaults applied) */
    size_t max_bytes; /* longest string, largest result written out; allocation: XMEMORY(x) */
};
/* Set x's budget (lim NULL or zero fields: the defaults). */
void weir__xset_limits(weir_expr *x, const weir_expr_limits *lim);
/* Bytes one evaluation may allocate: 4 times its EXPR_MAX_BYTES (64 MiB by default). */
#define XMEMORY(x) ((x)->max_bytes * 4)

/* Compile src[0..len) (not necessarily NUL-terminated); columns in messages
 * are offset by col0.  Used by templates for their holes. */
int weir__expr_compile_span(const char *src, size_t len, size_t col0, weir_expr **out, weir_error *err);

/* --------------------------------------------------------------- library */

/* Functions reachable as values or calls: the global ones, namespace members
 * and methods of strings, arrays, numbers and objects. */
enum {
    F_NONE,
    /* globals */
    F_NUMBER,
    F_STRING,
    F_BOOLEAN,
    F_PARSEINT,
    F_PARSEFLOAT,
    F_ISNAN,
    F_ISFINITE,
    /* Math */
    F_MATH_ABS,
    F_MATH_FLOOR,
    F_MATH_CEIL,
    F_MATH_ROUND,
    F_MATH_TRUNC,
    F_MATH_SIGN,
    F_MATH_MIN,
    F_MATH_MAX,
    F_MATH_POW,
    F_MATH_SQRT,
    F_MATH_CBRT,
    F_MATH_LOG,
    F_MATH_LOG2,
    F_MATH_LOG10,
    F_MATH_LOG1P,
    F_MATH_EXP,
    F_MATH_EXPM1,
    F_MATH_HYPOT,
    F_MATH_SIN,
    F_MATH_COS,
    F_MATH_TAN,
    F_MATH_ASIN,
    F_MATH_ACOS,
    F_MATH_ATAN,
    F_MATH_ATAN2,
    /* JSON, Object, Array, Number */
    F_JSON_STRINGIFY,
    F_JSON_PARSE,
    F_OBJECT_KEYS,
    F_OBJECT_VALUES,
    F_OBJECT_ENTRIES,
    F_OBJECT_FROMENTRIES,
    F_ARRAY_ISARRAY,
    F_NUMBER_ISINTEGER,
    F_NUMBER_ISSAFEINTEGER,
    F_NUMBER_ISFINITE,
    F_NUMBER_ISNAN,
    F_GLOBAL_LAST = F_NUMBER_ISNAN,
    /* methods (looked up by name on the receiver's type) */
    M_AT,
    M_CHARAT,
    M_CHARCODEAT,
    M_CODEPOINTAT,
    M_CONCAT,
    M_ENDSWITH,
    M_EVERY,
    M_FILTER,
    M_FIND,
    M_FINDINDEX,
    M_FINDLAST,
    M_FINDLASTINDEX,
    M_FLAT,
    M_FLATMAP,
    M_FOREACH,
    M_HASOWNPROPERTY,
    M_INCLUDES,
    M_INDEXOF,
    M_JOIN,
    M_LASTINDEXOF,
    M_MAP,
    M_PADEND,
    M_PADSTART,
    M_REDUCE,
    M_REDUCERIGHT,
    M_REPEAT,
    M_REPLACE,
    M_REPLACEALL,
    M_REVERSE,
    M_SLICE,
    M_SOME,
    M_SORT,
    M_SPLIT,
    M_STARTSWITH,
    M_SUBSTRING,
    M_TOFIXED,
    M_TOLOWERCASE,
    M_TOREVERSED,
    M_TOSORTED,
    M_TOSTRING,
    M_TOUPPERCASE,
    M_TRIM,
    M_TRIMEND,
    M_TRIMSTART,
    M_VALUEOF,
    /* known array mutators: refused with a helpful message */
    M_MUTATOR_FIRST,
    M_PUSH = M_MUTATOR_FIRST,
    M_POP,
    M_SHIFT,
    M_UNSHIFT,
    M_SPLICE,
    M_FILL,
    M_COPYWITHIN,
    F_COUNT
};

/* Namespaces (N_NS aux). */
enum { NS_MATH = 1, NS_JSON, NS_OBJECT, NS_ARRAY, NS_NUMBER, NS_STRING };

/* Name of a function id ("abs", "map"); "" if none. */
const char *weir__xfn_name(unsigned id);
/* Method id for a property name, or F_NONE. */
unsigned weir__xmethod_lookup(const char *name, size_t len);

/* ---------------------------------------------------------------- values */

enum { V_UNDEF, V_NULL, V_BOOL, V_NUM, V_STR, V_OBJ, V_ARR, V_FUNC };
enum { FK_CLOSURE, FK_BUILTIN, FK_METHOD };

typedef struct xval {
    uint8_t t;
    uint8_t fk;  /* V_FUNC: FK_* */
    uint16_t id; /* V_FUNC builtin/method: function id */
    union {
        int b;
        double n;
        struct {
            const char *p;
            size_t len;
        } s;             /* BORROWED from a json_t, the pool or the arena */
        json_t *j;       /* V_OBJ/V_ARR: BORROWED (input, or kept alive by the context) */
        uint32_t node;   /* FK_CLOSURE: the N_ARROW node */
        struct xval *self; /* FK_METHOD: the receiver (arena) */
    } u;
} xval;

/* Memory of one evaluation: a bump arena for strings and scratch, plus the
 * json_t values built along the way (released at the end). */
typedef struct xchunk {
    struct xchunk *next;
    size_t cap;
    char data[];
} xchunk;

typedef struct xctx {
    const weir_expr *x;
    const weir_expr_env *env;
    weir_error *err;
    xval *slots;
    xchunk *chunks;
    char *top, *lim;
    size_t mem;
    json_t **temps;
    size_t ntemps, ctemps;
    unsigned depth;
    uintptr_t stack_floor; /* weir__xstack_floor() of the evaluating thread */
    size_t steps;
    int fail; /* the error already reported (allocation, budget) */
} xctx;

/* weir__xeval's result when an optional chain (a?.b) met null/undefined:
 * propagates to the enclosing N_CHAIN, which turns it into undefined. */
#define XSHORT 1

/* Placeholders inside containers built during evaluation: jansson has no
 * undefined and refuses non-finite reals.  They are static JSON_NULLs with
 * the never-freed refcount (so a leak would read as null); weir__expr_eval
 * replaces them in its result before returning it. */
extern json_t weir__xundef_json, weir__xnan_json, weir__xinf_json, weir__xninf_json;
#define XIS_SENTINEL(j) \
    ((j) == &weir__xundef_json || (j) == &weir__xnan_json || (j) == &weir__xinf_json || (j) == &weir__xninf_json)

/* The value of a JSON member (NULL: undefined).  Inline and writing in
 * place: this is on every property read. */
static inline void weir__xset_json(xval *v, json_t *j) {
    if (!j) {
        v->t = V_UNDEF;
        return;
    }
    switch (json_typeof(j)) {
    case JSON_OBJECT: v->t = V_OBJ, v->u.j = j; break;
    case JSON_ARRAY: v->t = V_ARR, v->u.j = j; break;
    case JSON_STRING:
        v->t = V_STR;
        v->u.s.p = json_string_value(j);
        v->u.s.len = json_string_length(j);
        break;
    case JSON_INTEGER: v->t = V_NUM, v->u.n = (double)json_integer_value(j); break;
    case JSON_REAL: v->t = V_NUM, v->u.n = json_real_value(j); break;
    case JSON_TRUE: v->t = V_BOOL, v->u.b = 1; break;
    case JSON_FALSE: v->t = V_BOOL, v->u.b = 0; break;
    default:
        if (j == &weir__xundef_json) v->t = V_UNDEF;
        else if (j == &weir__xnan_json) v->t = V_NUM, v->u.n = (double)NAN;
        else if (j == &weir__xinf_json) v->t = V_NUM, v->u.n = (double)INFINITY;
        else if (j == &weir__xninf_json) v->t = V_NUM, v->u.n = -(double)INFINITY;
        else v->t = V_NULL;
        break;
    }
}
static inline xval weir__xfrom_json(json_t *j) {
    xval v = {0};
    weir__xset_json(&v, j);
    return v;
}

/* Evaluation core (expr_eval.c). */
int weir__xeval(xctx *c, uint32_t n, xval *out);
void *weir__xalloc(xctx *c, size_t n);
int weir__xoom(xctx *c);
int weir__xthrow(xctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int weir__xtemp(xctx *c, json_t *j); /* STOLEN: kept alive until the end */
int weir__xsteps(xctx *c, size_t n);
/* Throw "Invalid string length" naming EXPR_MAX_BYTES (a string would be longer). */
int weir__xtoo_long(xctx *c);
/* The "Maximum call stack size exceeded" error for a stack at its floor. */
int weir__xstack_exceeded(xctx *c);
int weir__xto_json(xctx *c, const xval *v, json_t **out); /* NEW; sentinels for undefined/NaN */
bool weir__xtruthy(const xval *v);
int weir__xto_number(xctx *c, const xval *v, double *out);
int weir__xto_string(xctx *c, const xval *v, xval *out);
int weir__xto_key(xctx *c, const xval *v, xval *out); /* ToPropertyKey */
bool weir__xstrict_eq(const xval *a, const xval *b);
bool weir__xsame_value_zero(const xval *a, const xval *b);
int weir__xcall(xctx *c, const xval *fn, const xval *self, xval *args, size_t n, xval *out);
int weir__xcompare_strings(const char *a, size_t alen, const char *b, size_t blen); /* UTF-16 order */
const char *weir__xtypeof(const xval *v);
/* Strings in the arena. */
int weir__xstr_make(xctx *c, const char *p, size_t len, xval *out); /* copy */
int weir__xstr_concat(xctx *c, const xval *a, const xval *b, xval *out);

/* A growable byte buffer on the allocator (not the arena). */
typedef struct xbuf {
    char *p;
    size_t len, cap;
    size_t limit; /* most bytes (the expression's max_bytes, or more for texts outside it) */
    bool oom;  /* an append failed */
    bool big;  /* exceeded limit */
    xctx *c;   /* charged for growth past XBUF_FREE_CAP (NULL: a text outside an evaluation) */
    int spent; /* the step budget ran out while growing: its error code */
} xbuf;
void weir__xbuf_add(xbuf *b, const char *s, size_t n);
void weir__xbuf_addc(xbuf *b, char ch);
void weir__xbuf_free(xbuf *b);
/* Move the buffer's contents into the arena as a string value (frees b). */
int weir__xbuf_finish(xctx *c, xbuf *b, xval *out);

/* UTF-16 views of UTF-8 strings (expr_lib.c): JavaScript indexes strings by
 * UTF-16 code unit.  An index inside a surrogate pair rounds down. */
size_t weir__xu16_len(const char *s, size_t n);
size_t weir__xu16_off(const char *s, size_t n, size_t idx); /* byte offset of unit idx (<= n) */
size_t weir__xu16_index(const char *s, size_t off);         /* unit index of byte offset */
/* The code point at byte offset `off`; its byte length in *k. */
unsigned weir__xutf8_at(const char *s, size_t n, size_t off, size_t *k);
/* Array.prototype.join over a json array (elements via ToString, null and
 * undefined as ""). */
int weir__xjoin(xctx *c, json_t *arr, const char *sep, size_t seplen, xval *out, unsigned depth);
/* Visit a string's UTF-16 code units (Object.keys, {...s}): a supplementary
 * character is its index (the whole character) then index+1 (U+FFFD). */
int weir__xstring_units(xctx *c, const xval *s, int (*f)(xctx *, void *, size_t, const xval *), void *ud);
/* Does a receiver of type V_* have method `id`? */
bool weir__xmethod_on(unsigned id, unsigned vtype);

/* Substring search in linear time (expr_search.c, two-way).  The needle is
 * BORROWED by the xsearch for its searches.  Offsets are bytes. */
typedef struct xsearch {
    const unsigned char *x;
    ptrdiff_t m, ell, per;
    bool periodic;
} xsearch;
void weir__xsearch_init(xsearch *s, const char *needle, size_t m);
/* The first occurrence starting at or after `from` in h[0..n), or -1. */
ptrdiff_t weir__xsearch_first(const xsearch *s, const char *h, size_t n, size_t from);
/* The last occurrence starting at or before `last` (and on a character
 * boundary), or -1. */
ptrdiff_t weir__xsearch_last(const xsearch *s, const char *h, size_t n, size_t last);

/* Library (expr_lib.c). */
int weir__xcall_builtin(xctx *c, unsigned id, xval *args, size_t n, xval *out);
int weir__xcall_method(xctx *c, unsigned id, const xval *self, xval *args, size_t n, xval *out, const char *what,
                       size_t what_len);
/* Object keys in JavaScript order (array indexes ascending, then insertion
 * order).  *keys is weir__malloc'd (free it), NULL when the object is empty. */
typedef struct xkey {
    const char *k;
    size_t len;
    json_t *v;
} xkey;
int weir__xobject_keys(json_t *obj, xkey **keys, size_t *n);

/* Numbers (expr_num.c; weir__xpow in expr_eval.c). */
double weir__xpow(double x, double y); /* x ** y */
size_t weir__xnum_to_str(double d, char *buf); /* buf >= 32 bytes */
double weir__xstr_to_num(const char *s, size_t len);
double weir__xradix_int(const char *digits, size_t n, int radix); /* digits valid in radix */
double weir__xparse_int(const char *s, size_t len, double radix);
double weir__xparse_float(const char *s, size_t len);
bool weir__xis_js_space(const char *s, size_t len, size_t *adv); /* whitespace or line terminator at s */
/* toFixed: buf >= 1200 bytes.  Returns length. */
size_t weir__xnum_to_fixed(double d, int digits, char *buf);
/* Integer toString(radix); returns 0 if d is not an integer in safe range. */
size_t weir__xnum_to_radix(double d, int radix, char *buf /* >= 2200 */);

/* JSON.stringify (expr_json.c).  `indent` is the gap ("" for compact);
 * `allow`, if not NULL, the property list of an array replacer. */
int weir__xstringify_json(const json_t *v, const char *indent, size_t indent_len, const xkey *allow, size_t nallow,
                          xbuf *b);
void weir__xstringify_string(const char *s, size_t len, xbuf *b);

#endif
