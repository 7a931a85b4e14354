/*
 * Reading a journal file (journal_file.h): lines cut from whatever chunks
 * arrive, each parsed by a small scanner of its own (the fixed fields read
 * in place, the body's span found and handed to jansson), checked against
 * the previous record (seq, kind, chain) and handed on.  Nothing is kept
 * but an incomplete line spanning two chunks.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "store/journal_canon.h"
#include "store/journal_file.h"
#include "store/journal_int.h"

struct weir_jfile_reader {
    weir_jfile_fn fn;
    void *ud;
    size_t line_max;
    char *part; /* a line begun in an earlier chunk */
    size_t part_len, part_cap;
    char *scratch; /* a body dumped in canonical form */
    size_t scratch_cap;
    EVP_MD_CTX *md;
    uint64_t line; /* the line being read (or that failed); lines read after a clean end */
    int64_t seq;   /* the last record delivered */
    unsigned char chain[WEIR_JOURNAL_CHAIN];
    int failed;      /* sticky: a broken line (fail holds it) or fn's code */
    weir_error fail;
};

int weir_jfile_reader_new(size_t line_max, weir_jfile_fn fn, void *ud, weir_jfile_reader **out, weir_error *err) {
    *out = NULL;
    weir_jfile_reader *rd = weir__calloc(1, sizeof *rd);
    if (!rd || !(rd->md = EVP_MD_CTX_new())) {
        weir__free(rd);
        return weir__error(err, WEIR_ENOMEM, "out of memory (a journal file reader)");
    }
    rd->fn = fn;
    rd->ud = ud;
    rd->line_max = line_max ? line_max : WEIR_JFILE_LINE_MAX_DEFAULT;
    *out = rd;
    return 0;
}

void weir_jfile_reader_free(weir_jfile_reader *rd) {
    if (!rd) return;
    EVP_MD_CTX_free(rd->md);
    weir__free(rd->part);
    weir__free(rd->scratch);
    weir__free(rd);
}

uint64_t weir_jfile_line(const weir_jfile_reader *rd) { return rd->line; }
int64_t weir_jfile_records(const weir_jfile_reader *rd) { return rd->seq; }
const unsigned char *weir_jfile_chain(const weir_jfile_reader *rd) { return rd->chain; }

/* ------------------------------------------------------------ one line */

/* A parse that failed for want of memory: jansson says so, or (an
 * allocation before it began) leaves the message empty. */
static int oom(const json_error_t *e) { return json_error_code(e) == json_error_out_of_memory || !e->text[0]; }

/* A line being parsed: [p, end). */
typedef struct scan {
    const char *p, *start, *end;
    const char *why; /* the first syntax problem (static text) */
} scan;

static void ws(scan *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n')) s->p++;
}

static int eat(scan *s, char c, const char *why) {
    ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return 0;
    }
    if (!s->why) s->why = why;
    return -1;
}

/* A string without escapes: its bytes in [*a, *a + *n).  -1 when it is
 * not one (why says so). */
static int plain_string(scan *s, const char **a, size_t *n) {
    if (eat(s, '"', "a string was expected")) return -1;
    const char *b = s->p, *q = memchr(b, '"', (size_t)(s->end - b));
    if (!q) {
        if (!s->why) s->why = "a string is not closed";
        return -1;
    }
    for (const char *c = b; c < q; c++)
        if (*c == '\\' || (unsigned char)*c < 0x20) {
            if (!s->why) s->why = *c == '\\' ? "an escape where none is expected" : "a control character in a string";
            s->p = c;
            return -1;
        }
    *a = b;
    *n = (size_t)(q - b);
    s->p = q + 1;
    return 0;
}

/* A JSON number that is an integer (no fraction, no exponent) fitting
 * int64.  1: a number that is not one; -1: not a number. */
static int integer(scan *s, int64_t *out) {
    ws(s);
    const char *p = s->p;
    int neg = p < s->end && *p == '-';
    if (neg) p++;
    if (p == s->end || *p < '0' || *p > '9') {
        if (!s->why) s->why = "a number was expected";
        return -1;
    }
    uint64_t v = 0;
    int over = 0;
    const char *digits = p;
    while (p < s->end && *p >= '0' && *p <= '9') {
        if (v > (UINT64_MAX - 9) / 10) over = 1;
        v = v * 10 + (uint64_t)(*p++ - '0');
    }
    int frac = p < s->end && (*p == '.' || *p == 'e' || *p == 'E');
    if ((*digits == '0' && p - digits > 1)) {
        if (!s->why) s->why = "a number with a leading zero";
        return -1;
    }
    if (frac) { /* skip it: a number, not an integer */
        while (p < s->end && ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' ||
                              *p == '-'))
            p++;
    }
    s->p = p;
    if (frac || over || v > (uint64_t)INT64_MAX + (uint64_t)neg) return 1;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* Skip one JSON value (the span is checked by whoever parses it). */
static int skip_value(scan *s) {
    ws(s);
    if (s->p == s->end) {
        if (!s->why) s->why = "a value was expected";
        return -1;
    }
    char c = *s->p;
    if (c == '"' || c == '{' || c == '[') {
        int depth = 0, open = 0;
        do {
            c = *s->p++;
            if (c == '"') {
                open = 1;
                while (s->p < s->end && *s->p != '"') s->p += *s->p == '\\' && s->p + 1 < s->end ? 2 : 1;
                if (s->p >= s->end) break;
                s->p++;
                open = 0;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                depth--;
            }
        } while (depth > 0 && s->p < s->end);
        if (depth > 0 || open) {
            if (!s->why) s->why = "a value is not closed";
            s->p = s->end;
            return -1;
        }
        return 0;
    }
    const char *b = s->p;
    while (s->p < s->end && ((*s->p >= '0' && *s->p <= '9') || (*s->p >= 'a' && *s->p <= 'z') ||
                             (*s->p >= 'A' && *s->p <= 'Z') || *s->p == '-' || *s->p == '+' || *s->p == '.'))
        s->p++;
    if (s->p == b) {
        if (!s->why) s->why = "a value was expected";
        return -1;
    }
    return 0;
}

/* A hex digit's value + 1 (0: not one). */
static const unsigned char HEXV[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static int unhex(const char *a, size_t n, unsigned char *out) {
    unsigned bad = 0;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned hi = HEXV[(unsigned char)a[2 * i]], lo = HEXV[(unsigned char)a[2 * i + 1]];
        bad |= (hi == 0) | (lo == 0);
        out[i] = (unsigned char)((hi - 1) << 4 | ((lo - 1) & 15));
    }
    return bad ? -1 : 0;
}

enum { F_SEQ, F_KIND, F_TICK, F_TIME, F_BODY, F_CHAIN, F_DIGEST, N_F };
static const char *const FIELD[N_F] = {"seq", "kind", "tick", "time", "body", "chain", "digest"};

/* The field named k (kn bytes), N_F for one this build does not know. */
static int field_of(const char *k, size_t kn) {
    int i;
    switch (kn) {
    case 3: i = F_SEQ; break;
    case 4: i = k[0] == 'k' ? F_KIND : k[0] == 'b' ? F_BODY : k[1] == 'i' && k[2] == 'c' ? F_TICK : F_TIME; break;
    case 5: i = F_CHAIN; break;
    case 6: i = F_DIGEST; break;
    default: return N_F;
    }
    return memcmp(FIELD[i], k, kn) == 0 ? i : N_F;
}

/* What a line holds once its fields are read. */
typedef struct fields {
    unsigned seen;
    int64_t seq, tick, time_ms;
    int kind;
    const char *body;
    size_t body_len;
    json_t *parsed; /* the body, when the fast path took it (held) */
    unsigned char chain[WEIR_JOURNAL_CHAIN];
    unsigned char digest[64];
    size_t digest_len;
} fields;

static int line_error(weir_jfile_reader *rd, weir_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int line_error(weir_jfile_reader *rd, weir_error *err, const char *fmt, ...) {
    char msg[WEIR_ERROR_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return weir__error(err, WEIR_EINVAL, "line %llu: %s", (unsigned long long)rd->line, msg);
}

/* The syntax problem s found: jansson's word on the whole line when it is
 * not JSON, else what is wrong with its shape. */
static int syntax_error(weir_jfile_reader *rd, scan *s, weir_error *err) {
    json_error_t jerr;
    json_t *v = json_loadb(s->start, (size_t)(s->end - s->start), JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!v && oom(&jerr))
        return weir__error(err, WEIR_ENOMEM, "out of memory (line %llu)", (unsigned long long)rd->line);
    if (!v)
        return line_error(rd, err, "not JSON: %s (column %d)", jerr.text, jerr.column > 0 ? jerr.column : 1);
    json_decref(v);
    return line_error(rd, err, "not a journal record {\"seq\", \"kind\", \"tick\", \"time\", \"body\", \"chain\"}: %s "
                               "(column %d)",
                      s->why ? s->why : "unexpected text", (int)(s->p - s->start) + 1);
}

/* A field's value of the wrong type: "must be ..." when the line is
 * JSON, else why it is not. */
static int type_error(weir_jfile_reader *rd, scan *s, int which, weir_error *err) {
    static const char *const MUST[N_F] = {
        [F_SEQ] = "an integer", [F_TICK] = "an integer", [F_TIME] = "an integer",
        [F_KIND] = "a string (start, inject, control, effect-result, timer, scheduled)",
        [F_CHAIN] = "a string of 32 hex digits", [F_DIGEST] = "a string of hex digits, 1 to 64 bytes"};
    json_error_t jerr;
    json_t *v = json_loadb(s->start, (size_t)(s->end - s->start),
                           JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
    if (!v && oom(&jerr))
        return weir__error(err, WEIR_ENOMEM, "out of memory (line %llu)", (unsigned long long)rd->line);
    if (!v) return syntax_error(rd, s, err);
    json_decref(v);
    return line_error(rd, err, "\"%s\" must be %s", FIELD[which], MUST[which]);
}

/* Read the fields of one line into f.  0, or an error naming the line. */
static int read_fields(weir_jfile_reader *rd, scan *s, fields *f, weir_error *err) {
    if (eat(s, '{', "a record is a JSON object")) return syntax_error(rd, s, err);
    ws(s);
    if (s->p < s->end && *s->p == '}') s->why = "the object is empty";
    while (!s->why) {
        const char *k;
        size_t kn;
        if (plain_string(s, &k, &kn) || eat(s, ':', "':' was expected after a field name"))
            return syntax_error(rd, s, err);
        int which = field_of(k, kn);
        if (which < N_F && (f->seen & 1u << which))
            return line_error(rd, err, "the field \"%s\" appears twice", FIELD[which]);
        if (which < N_F) f->seen |= 1u << which;
        const char *a;
        size_t n;
        switch (which) {
        case F_SEQ:
        case F_TICK:
        case F_TIME: {
            int64_t *to = which == F_SEQ ? &f->seq : which == F_TICK ? &f->tick : &f->time_ms;
            if (integer(s, to)) return type_error(rd, s, which, err);
            break;
        }
        case F_KIND:
            if (plain_string(s, &a, &n)) return type_error(rd, s, which, err);
            if (!(f->kind = weir_jfile_kind(a, n)))
                return line_error(rd, err,
                                  "unknown kind \"%.*s\" (kinds: start, inject, control, effect-result, timer, "
                                  "scheduled)",
                                  (int)(n > 40 ? 40 : n), a);
            break;
        case F_CHAIN:
        case F_DIGEST:
            /* hex: unhex refuses anything else, an escape or a control byte too */
            ws(s);
            if (s->p == s->end || *s->p != '"' || !(a = memchr(s->p + 1, '"', (size_t)(s->end - s->p - 1))))
                return type_error(rd, s, which, err);
            n = (size_t)(a - s->p - 1);
            a = s->p + 1;
            s->p += n + 2;
            if (which == F_CHAIN ? (n != 2 * WEIR_JOURNAL_CHAIN || unhex(a, n, f->chain))
                                 : (n == 0 || n % 2 || n > 128 || unhex(a, n, f->digest)))
                return type_error(rd, s, which, err);
            if (which == F_DIGEST) f->digest_len = n / 2;
            break;
        case F_BODY:
            ws(s);
            f->body = s->p;
            /* parsed and checked canonical where it stands; else only its
             * extent now, the slow path later */
            if (!(f->parsed = weir__jcanon_parse_prefix(s->p, (size_t)(s->end - s->p), &s->p))) {
                s->p = f->body;
                if (skip_value(s)) return syntax_error(rd, s, err);
            }
            f->body_len = (size_t)(s->p - f->body);
            break;
        default: { /* a field this build does not know: its value must be JSON */
            ws(s);
            const char *v0 = s->p;
            if (skip_value(s)) return syntax_error(rd, s, err);
            json_error_t jerr;
            json_t *v = json_loadb(v0, (size_t)(s->p - v0), JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
            if (!v && oom(&jerr))
                return weir__error(err, WEIR_ENOMEM, "out of memory (line %llu)", (unsigned long long)rd->line);
            if (!v) return line_error(rd, err, "not JSON: %s (in the field \"%.*s\")", jerr.text, (int)kn, k);
            json_decref(v);
        }
        }
        ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (eat(s, '}', "',' or '}' was expected")) return syntax_error(rd, s, err);
        break;
    }
    if (s->why) return syntax_error(rd, s, err);
    ws(s);
    if (s->p != s->end) {
        s->why = "text after the record";
        return syntax_error(rd, s, err);
    }
    for (int i = 0; i < N_F; i++)
        if (i != F_DIGEST && !(f->seen & 1u << i)) return line_error(rd, err, "the field \"%s\" is missing", FIELD[i]);
    return 0;
}

/* The body parsed by jansson and checked against its canonical dump. */
static int slow_body(weir_jfile_reader *rd, const fields *f, json_t **out, weir_error *err) {
    json_error_t jerr;
    json_t *body = json_loadb(f->body, f->body_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!body && oom(&jerr))
        return weir__error(err, WEIR_ENOMEM, "out of memory (line %llu)", (unsigned long long)rd->line);
    if (!body) return line_error(rd, err, "not JSON: %s (in the body of record %lld)", jerr.text, (long long)f->seq);
    const size_t flags = JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY;
    size_t n = json_dumpb(body, rd->scratch, rd->scratch_cap, flags);
    if (n > rd->scratch_cap) {
        if (weir__grow((void **)&rd->scratch, &rd->scratch_cap, n, 1)) {
            json_decref(body);
            return weir__error(err, WEIR_ENOMEM, "out of memory (line %llu)", (unsigned long long)rd->line);
        }
        n = json_dumpb(body, rd->scratch, rd->scratch_cap, flags);
    }
    if (n != f->body_len || memcmp(rd->scratch, f->body, n) != 0) {
        json_decref(body);
        if (!n) return weir__error(err, WEIR_ENOMEM, "out of memory (line %llu)", (unsigned long long)rd->line);
        return line_error(rd, err,
                          "the body of record %lld is not in canonical form (compact, keys sorted, as weir writes "
                          "it): the file was reformatted or edited, so its chain cannot verify",
                          (long long)f->seq);
    }
    *out = body;
    return 0;
}

/* The fields of a line, against the records before it. */
static int check_line(weir_jfile_reader *rd, fields *fp, int dry, weir_error *err) {
    fields f = *fp;
    int rc;
    int64_t want = rd->seq + 1;
    if (f.seq != want) {
        if (rd->seq == 0)
            return line_error(rd, err, "the journal starts with record %lld, not record 1: its beginning is missing",
                              (long long)f.seq);
        if (f.seq > want) {
            char gap[64];
            if (f.seq - want > 1) snprintf(gap, sizeof gap, "records %lld to %lld", (long long)want, (long long)f.seq - 1);
            else snprintf(gap, sizeof gap, "record %lld", (long long)want);
            return line_error(rd, err, "record %lld follows record %lld: %s missing", (long long)f.seq,
                              (long long)rd->seq, gap);
        }
        return line_error(rd, err, "record %lld comes after record %lld: lines were reordered or repeated",
                          (long long)f.seq, (long long)rd->seq);
    }
    if (f.seq == 1 && f.kind != WEIR_JOURNAL_START)
        return line_error(rd, err, "record 1 is a \"%s\" record: a journal begins with its \"start\" record",
                          weir_jfile_kind_name(f.kind));
    if (f.seq > 1 && f.kind == WEIR_JOURNAL_START)
        return line_error(rd, err, "record %lld is a second \"start\" record", (long long)f.seq);
    /* The chain covers the stored text: the body must be its canonical
     * form byte for byte.  The fast path parses and checks in one go; what
     * it does not take is parsed, dumped and compared. */
    json_t *body = json_incref(f.parsed);
    if (!body && (rc = slow_body(rd, &f, &body, err))) return rc;
    unsigned char h[WEIR_JOURNAL_CHAIN];
    weir__journal_chain(rd->md, rd->chain, f.kind, f.seq, f.tick, f.time_ms, f.body, f.body_len, h);
    if (memcmp(h, f.chain, WEIR_JOURNAL_CHAIN) != 0) {
        json_decref(body);
        if (f.seq == 1)
            return line_error(rd, err, "hash chain broken (record 1 does not match its chain: it was edited)");
        return line_error(rd, err, "hash chain broken (record %lld does not follow record %lld: one of them was "
                                   "edited)",
                          (long long)f.seq, (long long)rd->seq);
    }
    if (dry) {
        json_decref(body);
        return 0;
    }
    rd->seq = f.seq;
    memcpy(rd->chain, h, WEIR_JOURNAL_CHAIN);
    weir_jfile_rec rec = {
        .r = {f.seq, f.kind, f.tick, f.time_ms, f.body, f.body_len, body, rd->chain},
        .digest = (f.seen & 1u << F_DIGEST) ? f.digest : NULL,
        .digest_len = f.digest_len,
        .line = rd->line,
    };
    rc = rd->fn ? rd->fn(rd->ud, &rec) : 0;
    json_decref(body);
    return rc;
}

/* Verify one line (its newline cut off) and, unless dry, hand it on. */
static int do_line(weir_jfile_reader *rd, const char *text, size_t len, int dry, weir_error *err) {
    scan s = {text, text, text + len, NULL};
    fields f = {0};
    int rc = read_fields(rd, &s, &f, err);
    if (!rc) rc = check_line(rd, &f, dry, err);
    json_decref(f.parsed);
    return rc;
}

/* ------------------------------------------------------------ streams */

static int stop(weir_jfile_reader *rd, int rc, weir_error *err) {
    rd->failed = rc;
    if (err) rd->fail = *err;
    else weir__error(&rd->fail, rc, "line %llu: the read was stopped", (unsigned long long)rd->line);
    return rc;
}

static int too_long(weir_jfile_reader *rd, weir_error *err) {
    line_error(rd, err, "longer than %zu bytes (the longest line this reader takes)", rd->line_max);
    return stop(rd, WEIR_EINVAL, err);
}

int weir_jfile_feed(weir_jfile_reader *rd, const char *data, size_t len, weir_error *err) {
    if (rd->failed) {
        if (err) *err = rd->fail;
        return rd->failed;
    }
    while (len) {
        const char *nl = memchr(data, '\n', len);
        size_t n = nl ? (size_t)(nl - data) : len;
        if (!rd->part_len) rd->line++; /* a line begins here */
        if (rd->part_len + n > rd->line_max) return too_long(rd, err);
        if (!nl || rd->part_len) {
            if (weir__grow((void **)&rd->part, &rd->part_cap, rd->part_len + n + 1, 1))
                return stop(rd, weir__error(err, WEIR_ENOMEM, "out of memory (line %llu)",
                                            (unsigned long long)rd->line), err);
            memcpy(rd->part + rd->part_len, data, n);
            rd->part_len += n;
        }
        if (!nl) return 0;
        int rc = rd->part_len ? do_line(rd, rd->part, rd->part_len, 0, err) : do_line(rd, data, n, 0, err);
        rd->part_len = 0;
        if (rc) return stop(rd, rc, err);
        data += n + 1;
        len -= n + 1;
    }
    return 0;
}

int weir_jfile_end(weir_jfile_reader *rd, weir_error *err) {
    if (rd->failed) {
        if (err) *err = rd->fail;
        return rd->failed;
    }
    if (rd->part_len) {
        weir_error why;
        int rc = do_line(rd, rd->part, rd->part_len, 1, &why);
        rd->part_len = 0;
        if (rc == WEIR_ENOMEM) return stop(rd, weir__error(err, rc, "%s", why.message), err);
        if (rc)
            weir__error(err, WEIR_EINVAL, "torn: the last line (line %llu) is incomplete (it has no newline): %s",
                        (unsigned long long)rd->line, why.message);
        else
            weir__error(err, WEIR_EINVAL,
                        "torn: the last line (line %llu) has no newline: the file was cut while it was written",
                        (unsigned long long)rd->line);
        return stop(rd, WEIR_EINVAL, err);
    }
    if (rd->seq == 0) {
        rd->line = 1;
        weir__error(err, WEIR_EINVAL, "the file is empty: a journal begins with its \"start\" record on line 1");
        return stop(rd, WEIR_EINVAL, err);
    }
    return 0;
}

int weir_jfile_read(const char *text, size_t len, weir_jfile_fn fn, void *ud, uint64_t *line, weir_error *err) {
    weir_jfile_reader *rd;
    int rc = weir_jfile_reader_new(len + 1, fn, ud, &rd, err);
    if (rc) return rc;
    rc = weir_jfile_feed(rd, text, len, err);
    if (!rc) rc = weir_jfile_end(rd, err);
    if (line) *line = rd->line;
    weir_jfile_reader_free(rd);
    return rc;
}

/* How much a stream read takes at once. */
#define READ_CHUNK (1u << 20)

int weir_jfile_read_stream(FILE *f, weir_jfile_fn fn, void *ud, uint64_t *line, weir_error *err) {
    weir_jfile_reader *rd;
    int rc = weir_jfile_reader_new(0, fn, ud, &rd, err);
    if (rc) return rc;
    char *buf = weir__malloc(READ_CHUNK);
    if (!buf) rc = weir__error(err, WEIR_ENOMEM, "out of memory (a read buffer)");
    while (!rc) {
        size_t n = fread(buf, 1, READ_CHUNK, f);
        if (n) rc = weir_jfile_feed(rd, buf, n, err);
        if (rc || n == READ_CHUNK) continue;
        if (ferror(f)) {
            rc = weir__error(err, WEIR_EIO, "cannot read the journal file after line %llu: %s",
                             (unsigned long long)rd->line, strerror(errno));
        } else {
            rc = weir_jfile_end(rd, err);
            break;
        }
    }
    if (line) *line = rd->line;
    weir__free(buf);
    weir_jfile_reader_free(rd);
    return rc;
}
