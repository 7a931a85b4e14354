/*
 * Expression tokenizer: the JavaScript lexical grammar for the subset, with
 * cooked strings written to a pool.  Refuses what the subset leaves out at
 * the character level (regular expressions, BigInt, legacy octal, private
 * names) with the column and what to write instead.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/expr_int.h"

typedef struct lexer {
    const char *src;
    size_t len, i, col0;
    xlexed *out;
    weir_error *err;
    /* Template nesting: open braces since each enclosing `${`. */
    unsigned tdepth[XMAX_NESTING];
    unsigned ntdepth;
} lexer;

size_t weir__xcolumn(const char *src, size_t pos, size_t col0) {
    size_t col = col0 + 1;
    for (size_t i = 0; i < pos; i++)
        if (((unsigned char)src[i] & 0xC0) != 0x80) col++;
    return col;
}

static int lerr(lexer *L, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int lerr(lexer *L, size_t pos, const char *fmt, ...) {
    char msg[WEIR_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return weir__error(L->err, WEIR_EEXPR, "column %zu: %s", weir__xcolumn(L->src, pos, L->col0), msg);
}

static int oom(lexer *L) { return weir__error(L->err, WEIR_ENOMEM, "out of memory compiling an expression"); }

/* Decode one UTF-8 sequence at s (n bytes available); 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned *cp) {
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t k;
    unsigned c, min;
    if ((s[0] & 0xE0) == 0xC0) k = 2, c = s[0] & 0x1Fu, min = 0x80;
    else if ((s[0] & 0xF0) == 0xE0) k = 3, c = s[0] & 0x0Fu, min = 0x800;
    else if ((s[0] & 0xF8) == 0xF0) k = 4, c = s[0] & 0x07u, min = 0x10000;
    else return 0;
    if (n < k) return 0;
    for (size_t j = 1; j < k; j++) {
        if ((s[j] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[j] & 0x3Fu);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return k;
}

static size_t utf8_encode(unsigned cp, char *o) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static bool is_space_cp(unsigned cp) {
    switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0xA0: case 0xFEFF:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
        return true;
    default: return cp >= 0x2000 && cp <= 0x200A;
    }
}

bool weir__xis_js_space(const char *s, size_t len, size_t *adv) {
    unsigned cp;
    if (!len) return false;
    size_t k = utf8_decode((const unsigned char *)s, len, &cp);
    if (!k || !is_space_cp(cp)) return false;
    *adv = k;
    return true;
}

static bool is_id_start(unsigned char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == '$' || ch >= 0x80;
}
static bool is_id_part(unsigned char ch) { return is_id_start(ch) || (ch >= '0' && ch <= '9'); }

static int pool_add(lexer *L, const char *s, size_t n) {
    xlexed *o = L->out;
    if (weir__grow((void **)&o->pool, &o->cpool, o->npool + n + 1, 1)) return oom(L);
    memcpy(o->pool + o->npool, s, n);
    o->npool += n;
    return 0;
}

static int push_tok(lexer *L, xtok *t) {
    xlexed *o = L->out;
    if (weir__grow((void **)&o->toks, &o->ctoks, o->ntoks + 1, sizeof *t)) return oom(L);
    o->toks[o->ntoks++] = *t;
    return 0;
}

static const struct {
    const char *s;
    unsigned short kind;
} puncts[] = {
    {">>>=", T_ASSIGN_OP}, {"...", T_ELLIPSIS}, {"===", T_SEQ}, {"!==", T_SNE}, {"**=", T_ASSIGN_OP},
    {"<<=", T_ASSIGN_OP}, {">>=", T_ASSIGN_OP}, {">>>", T_USHR}, {"&&=", T_ASSIGN_OP}, {"||=", T_ASSIGN_OP},
    {"?\?=", T_ASSIGN_OP}, {"=>", T_ARROW}, {"==", T_EQ}, {"!=", T_NE}, {"<=", T_LE}, {">=", T_GE},
    {"&&", T_AND}, {"||", T_OR}, {"??", T_NULLISH}, {"?.", T_OPTCHAIN}, {"**", T_STARSTAR}, {"++", T_INC},
    {"--", T_DEC}, {"<<", T_SHL}, {">>", T_SHR}, {"+=", T_ASSIGN_OP}, {"-=", T_ASSIGN_OP}, {"*=", T_ASSIGN_OP},
    {"/=", T_ASSIGN_OP}, {"%=", T_ASSIGN_OP}, {"&=", T_ASSIGN_OP}, {"|=", T_ASSIGN_OP}, {"^=", T_ASSIGN_OP},
    {"(", T_LPAREN}, {")", T_RPAREN}, {"[", T_LBRACK}, {"]", T_RBRACK}, {"{", T_LBRACE}, {"}", T_RBRACE},
    {".", T_DOT}, {";", T_SEMI}, {",", T_COMMA}, {"<", T_LT}, {">", T_GT}, {"+", T_PLUS}, {"-", T_MINUS},
    {"*", T_STAR}, {"/", T_SLASH}, {"%", T_PERCENT}, {"&", T_AMP}, {"|", T_PIPE}, {"^", T_CARET},
    {"!", T_BANG}, {"~", T_TILDE}, {"?", T_QUESTION}, {":", T_COLON}, {"=", T_ASSIGN},
};

static int hexval(int ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Digits of `radix` with numeric separators; returns count of digits read,
 * appends them (without '_') to buf. */
static int scan_digits(lexer *L, int radix, char *buf, size_t *nbuf, size_t cap, size_t *ndig) {
    const char *s = L->src;
    *ndig = 0;
    bool last_sep = false;
    while (L->i < L->len) {
        int ch = (unsigned char)s[L->i];
        if (ch == '_') {
            if (*ndig == 0 || last_sep) return lerr(L, L->i, "misplaced '_' in a number");
            last_sep = true;
            L->i++;
            continue;
        }
        int d = hexval(ch);
        if (d < 0 || d >= radix) break;
        if (*nbuf + 1 < cap) buf[(*nbuf)++] = (char)ch;
        else return lerr(L, L->i, "number literal too long");
        (*ndig)++;
        last_sep = false;
        L->i++;
    }
    if (last_sep) return lerr(L, L->i - 1, "misplaced '_' in a number");
    return 0;
}

static int lex_number(lexer *L, xtok *t) {
    const char *s = L->src;
    size_t start = L->i;
    char buf[512];
    size_t nb = 0, nd;
    int rc;
    if (s[L->i] == '0' && L->i + 1 < L->len && strchr("xXoObB", s[L->i + 1])) {
        int radix = (s[L->i + 1] | 0x20) == 'x' ? 16 : (s[L->i + 1] | 0x20) == 'o' ? 8 : 2;
        L->i += 2;
        if ((rc = scan_digits(L, radix, buf, &nb, sizeof buf, &nd))) return rc;
        if (nd == 0) return lerr(L, start, "number literal has no digits after its prefix");
        t->v.num = weir__xradix_int(buf, nb, radix);
    } else {
        if (s[L->i] == '0' && L->i + 1 < L->len && (s[L->i + 1] >= '0' && s[L->i + 1] <= '9'))
            return lerr(L, start, "numbers with a leading zero (legacy octal) are not supported; write 8 or 0o10");
        if ((rc = scan_digits(L, 10, buf, &nb, sizeof buf, &nd))) return rc;
        bool any = nd > 0;
        if (L->i < L->len && s[L->i] == '.') {
            buf[nb++] = '.';
            L->i++;
            if (L->i < L->len && s[L->i] == '_') return lerr(L, L->i, "misplaced '_' in a number");
            if ((rc = scan_digits(L, 10, buf, &nb, sizeof buf - 8, &nd))) return rc;
            any = any || nd > 0;
        }
        if (!any) return lerr(L, start, "malformed number");
        if (L->i < L->len && (s[L->i] | 0x20) == 'e') {
            buf[nb++] = 'e';
            L->i++;
            if (L->i < L->len && (s[L->i] == '+' || s[L->i] == '-')) buf[nb++] = s[L->i++];
            if ((rc = scan_digits(L, 10, buf, &nb, sizeof buf, &nd))) return rc;
            if (nd == 0) return lerr(L, start, "malformed number: exponent without digits");
        }
        buf[nb] = '\0';
        t->v.num = strtod(buf, NULL);
    }
    if (L->i < L->len && s[L->i] == 'n') return lerr(L, start, "BigInt literals (10n) are not supported");
    if (L->i < L->len && (is_id_part((unsigned char)s[L->i])))
        return lerr(L, L->i, "unexpected character after a number");
    t->kind = T_NUM;
    return 0;
}

static int flush_hi(lexer *L, unsigned *pending_hi) {
    if (!*pending_hi) return 0;
    *pending_hi = 0;
    return pool_add(L, "\xEF\xBF\xBD", 3);
}

/* One escape sequence after the backslash at L->i (already past it).
 * Appends the cooked text to the pool.  `pending_hi` carries a high
 * surrogate waiting for its low half. */
static int lex_escape(lexer *L, unsigned *pending_hi) {
    const char *s = L->src;
    size_t at = L->i - 1;
    if (L->i >= L->len) return lerr(L, at, "unterminated string");
    unsigned char ch = (unsigned char)s[L->i++];
    char o[4];
    unsigned cp;
    int rc;
    if (ch != 'u' && (rc = flush_hi(L, pending_hi))) return rc;
    switch (ch) {
    case 'n': return pool_add(L, "\n", 1);
    case 't': return pool_add(L, "\t", 1);
    case 'r': return pool_add(L, "\r", 1);
    case 'b': return pool_add(L, "\b", 1);
    case 'f': return pool_add(L, "\f", 1);
    case 'v': return pool_add(L, "\v", 1);
    case '0':
        if (L->i < L->len && s[L->i] >= '0' && s[L->i] <= '9')
            return lerr(L, at, "octal escapes are not supported; use \\x or \\u escapes");
        return pool_add(L, "", 1);
    case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
        return lerr(L, at, "octal escapes are not supported; use \\x or \\u escapes");
    case '\r':
        if (L->i < L->len && s[L->i] == '\n') L->i++;
        return 0;
    case '\n': return 0;
    case 'x': {
        int h1 = L->i < L->len ? hexval((unsigned char)s[L->i]) : -1;
        int h2 = L->i + 1 < L->len ? hexval((unsigned char)s[L->i + 1]) : -1;
        if (h1 < 0 || h2 < 0) return lerr(L, at, "malformed \\x escape: write \\xHH");
        L->i += 2;
        cp = (unsigned)(h1 * 16 + h2);
        break;
    }
    case 'u': {
        cp = 0;
        if (L->i < L->len && s[L->i] == '{') {
            L->i++;
            size_t nd = 0;
            while (L->i < L->len && hexval((unsigned char)s[L->i]) >= 0) {
                cp = cp * 16 + (unsigned)hexval((unsigned char)s[L->i++]);
                if (cp > 0x10FFFF) return lerr(L, at, "\\u{...} escape beyond U+10FFFF");
                nd++;
            }
            if (nd == 0 || L->i >= L->len || s[L->i] != '}') return lerr(L, at, "malformed \\u{...} escape");
            L->i++;
        } else {
            for (int k = 0; k < 4; k++) {
                int h = L->i < L->len ? hexval((unsigned char)s[L->i]) : -1;
                if (h < 0) return lerr(L, at, "malformed \\u escape: write \\uHHHH or \\u{H...}");
                cp = cp * 16 + (unsigned)h;
                L->i++;
            }
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if ((rc = flush_hi(L, pending_hi))) return rc;
            *pending_hi = cp;
            return 0;
        }
        if ((cp < 0xDC00 || cp > 0xDFFF) && (rc = flush_hi(L, pending_hi))) return rc;
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
            if (*pending_hi) {
                cp = 0x10000 + ((*pending_hi - 0xD800) << 10) + (cp - 0xDC00);
                *pending_hi = 0;
            } else {
                cp = 0xFFFD; /* a lone surrogate has no UTF-8 form */
            }
        }
        break;
    }
    default: {
        size_t k = utf8_decode((const unsigned char *)s + L->i - 1, L->len - L->i + 1, &cp);
        if (!k) return lerr(L, at, "invalid UTF-8");
        if (cp == 0x2028 || cp == 0x2029) {
            L->i += k - 1;
            return 0;
        }
        L->i += k - 1;
        break;
    }
    }
    return pool_add(L, o, utf8_encode(cp, o));
}

static int lex_string(lexer *L, xtok *t) {
    const char *s = L->src;
    char q = s[L->i];
    size_t start = L->i++;
    t->v.s.off = (uint32_t)L->out->npool;
    unsigned hi = 0;
    int rc;
    for (;;) {
        if (L->i >= L->len) return lerr(L, start, "unterminated string");
        char ch = s[L->i];
        if (ch == q) {
            L->i++;
            break;
        }
        if (ch == '\n' || ch == '\r') return lerr(L, start, "unterminated string (a line break inside quotes)");
        if (ch == '\\') {
            L->i++;
            if ((rc = lex_escape(L, &hi))) return rc;
            continue;
        }
        if ((rc = flush_hi(L, &hi))) return rc;
        size_t run = L->i;
        while (L->i < L->len && s[L->i] != q && s[L->i] != '\\' && s[L->i] != '\n' && s[L->i] != '\r') L->i++;
        if ((rc = pool_add(L, s + run, L->i - run))) return rc;
    }
    if ((rc = flush_hi(L, &hi))) return rc;
    t->v.s.len = (uint32_t)(L->out->npool - t->v.s.off);
    t->kind = T_STR;
    return 0;
}

/* Template characters from L->i up to '`' or '${'. */
static int lex_template_part(lexer *L, xtok *t, bool head) {
    const char *s = L->src;
    t->v.s.off = (uint32_t)L->out->npool;
    unsigned hi = 0;
    int rc;
    for (;;) {
        if (L->i >= L->len) return lerr(L, t->pos, "unterminated template string");
        char ch = s[L->i];
        if (ch == '`') {
            L->i++;
            t->kind = head ? T_TPL_FULL : T_TPL_TAIL;
            break;
        }
        if (ch == '$' && L->i + 1 < L->len && s[L->i + 1] == '{') {
            L->i += 2;
            t->kind = head ? T_TPL_HEAD : T_TPL_MID;
            break;
        }
        if (ch == '\\') {
            L->i++;
            if ((rc = lex_escape(L, &hi))) return rc;
            continue;
        }
        if ((rc = flush_hi(L, &hi))) return rc;
        if (ch == '\r') { /* CR and CRLF read as LF in templates */
            L->i++;
            if (L->i < L->len && s[L->i] == '\n') L->i++;
            if ((rc = pool_add(L, "\n", 1))) return rc;
            continue;
        }
        if ((rc = pool_add(L, s + L->i, 1))) return rc;
        L->i++;
    }
    if ((rc = flush_hi(L, &hi))) return rc;
    t->v.s.len = (uint32_t)(L->out->npool - t->v.s.off);
    if (t->kind == T_TPL_HEAD) { /* a new ${ level: count its braces */
        if (L->ntdepth >= XMAX_NESTING) return lerr(L, t->pos, "template strings nested too deeply");
        L->tdepth[L->ntdepth++] = 0;
    } else if (t->kind == T_TPL_TAIL) {
        L->ntdepth--;
    }
    return 0;
}

/* A '/' where an operand is expected starts a regular expression in JS. */
static bool regex_allowed(lexer *L) {
    xlexed *o = L->out;
    if (o->ntoks == 0) return true;
    const xtok *p = &o->toks[o->ntoks - 1];
    switch (p->kind) {
    case T_NUM: case T_STR: case T_RPAREN: case T_RBRACK: case T_RBRACE: case T_TPL_FULL: case T_TPL_TAIL:
        return false;
    case T_IDENT: {
        static const char *const kw[] = {"typeof", "void", "delete", "in", "instanceof", "return", "new", "case", "do", "else"};
        for (size_t k = 0; k < sizeof kw / sizeof *kw; k++)
            if (p->v.s.len == strlen(kw[k]) && !memcmp(o->pool + p->v.s.off, kw[k], p->v.s.len)) return true;
        return false;
    }
    default: return true;
    }
}

static int lex_all(lexer *L) {
    const char *s = L->src;
    int rc;
    /* The whole source must be UTF-8. */
    for (size_t i = 0; i < L->len;) {
        unsigned cp;
        size_t k = utf8_decode((const unsigned char *)s + i, L->len - i, &cp);
        if (!k) return lerr(L, i, "invalid UTF-8 in the expression");
        i += k;
    }
    for (;;) {
        /* whitespace and comments */
        for (;;) {
            size_t adv;
            if (L->i >= L->len) break;
            unsigned char ch = (unsigned char)s[L->i];
            if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f') {
                L->i++;
            } else if (ch >= 0x80 && weir__xis_js_space(s + L->i, L->len - L->i, &adv)) {
                L->i += adv;
            } else if (ch == '/' && L->i + 1 < L->len && s[L->i + 1] == '/') {
                while (L->i < L->len && s[L->i] != '\n' && s[L->i] != '\r') L->i++;
            } else if (ch == '/' && L->i + 1 < L->len && s[L->i + 1] == '*') {
                const char *e = NULL;
                for (size_t k = L->i + 2; k + 1 < L->len; k++)
                    if (s[k] == '*' && s[k + 1] == '/') {
                        e = s + k;
                        break;
                    }
                if (!e) return lerr(L, L->i, "unterminated /* comment");
                L->i = (size_t)(e - s) + 2;
            } else {
                break;
            }
        }
        xtok t;
        memset(&t, 0, sizeof t);
        t.pos = (uint32_t)L->i;
        if (L->i >= L->len) {
            if (L->ntdepth) return lerr(L, L->len, "unterminated template string");
            t.kind = T_EOF;
            t.end = (uint32_t)L->i;
            return push_tok(L, &t);
        }
        unsigned char ch = (unsigned char)s[L->i];
        if ((ch >= '0' && ch <= '9') || (ch == '.' && L->i + 1 < L->len && s[L->i + 1] >= '0' && s[L->i + 1] <= '9')) {
            if ((rc = lex_number(L, &t))) return rc;
        } else if (ch == '"' || ch == '\'') {
            if ((rc = lex_string(L, &t))) return rc;
        } else if (ch == '`') {
            L->i++;
            if ((rc = lex_template_part(L, &t, true))) return rc;
        } else if (ch == '}' && L->ntdepth && L->tdepth[L->ntdepth - 1] == 0) {
            L->i++;
            if ((rc = lex_template_part(L, &t, false))) return rc;
        } else if (is_id_start(ch)) {
            size_t st = L->i;
            while (L->i < L->len && is_id_part((unsigned char)s[L->i])) {
                size_t adv;
                if ((unsigned char)s[L->i] >= 0x80 && weir__xis_js_space(s + L->i, L->len - L->i, &adv)) break;
                L->i++;
            }
            if (L->i < L->len && s[L->i] == '\\')
                return lerr(L, L->i, "unicode escapes in names are not supported");
            t.kind = T_IDENT;
            t.v.s.off = (uint32_t)L->out->npool;
            t.v.s.len = (uint32_t)(L->i - st);
            if ((rc = pool_add(L, s + st, L->i - st))) return rc;
        } else if (ch == '#') {
            return lerr(L, L->i, "private names (#x) are not supported");
        } else if (ch == '/' && regex_allowed(L)) {
            return lerr(L, L->i,
                        "regular expression literals are not supported; use string methods (includes, startsWith, "
                        "endsWith, indexOf, split, replace with a string pattern)");
        } else {
            size_t k;
            for (k = 0; k < sizeof puncts / sizeof *puncts; k++) {
                size_t pl = strlen(puncts[k].s);
                if (L->i + pl <= L->len && !memcmp(s + L->i, puncts[k].s, pl)) break;
            }
            if (k == sizeof puncts / sizeof *puncts) {
                unsigned cp;
                size_t n = utf8_decode((const unsigned char *)s + L->i, L->len - L->i, &cp);
                if (ch == '\\') return lerr(L, L->i, "unexpected '\\' outside a string");
                if (ch == '@') return lerr(L, L->i, "decorators (@) are not supported");
                return lerr(L, L->i, "unexpected character '%.*s'", (int)(n ? n : 1), s + L->i);
            }
            t.kind = puncts[k].kind;
            /* `?.` followed by a digit is `?` then a number (a ? .5 : 1) */
            if (t.kind == T_OPTCHAIN && L->i + 2 < L->len && s[L->i + 2] >= '0' && s[L->i + 2] <= '9')
                t.kind = T_QUESTION, L->i += 1;
            else L->i += strlen(puncts[k].s);
            if (L->ntdepth) {
                if (t.kind == T_LBRACE) L->tdepth[L->ntdepth - 1]++;
                else if (t.kind == T_RBRACE) L->tdepth[L->ntdepth - 1]--;
            }
        }
        t.end = (uint32_t)L->i;
        if ((rc = push_tok(L, &t))) return rc;
    }
}

int weir__xlex(const char *src, size_t len, size_t col0, xlexed *out, weir_error *err) {
    memset(out, 0, sizeof *out);
    lexer L = {.src = src, .len = len, .col0 = col0, .out = out, .err = err};
    if (len > XMAX_SOURCE)
        return weir__error(err, WEIR_EEXPR, "column 1: expression too long (%zu bytes; at most %u)", len, XMAX_SOURCE);
    /* the pool always exists so offsets into it are valid */
    if (weir__grow((void **)&out->pool, &out->cpool, 16, 1)) return oom(&L);
    int rc = lex_all(&L);
    if (rc) weir__xlex_free(out);
    return rc;
}

void weir__xlex_free(xlexed *lx) {
    weir__free(lx->toks);
    weir__free(lx->pool);
    memset(lx, 0, sizeof *lx);
}
