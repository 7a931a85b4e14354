/* weir run's input and output lines (run_io.h). */
#include "cli/run_io.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Room for n more bytes; false (and oom set) if there is none. */
static bool reserve(cli_line *l, size_t n) {
    if (l->oom) return false;
    if (l->cap - l->len >= n) return true;
    size_t cap = l->cap ? l->cap : 256;
    while (cap - l->len < n) {
        if (cap > SIZE_MAX / 2) {
            l->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *b = realloc(l->buf, cap);
    if (!b) {
        l->oom = true;
        return false;
    }
    l->buf = b;
    l->cap = cap;
    return true;
}

void cli_line_raw(cli_line *l, const char *s, size_t n) {
    if (!reserve(l, n)) return;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

void cli_line_str(cli_line *l, const char *s) { cli_line_raw(l, s, strlen(s)); }

void cli_line_json_str(cli_line *l, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    /* worst case: every byte a \u00XX escape */
    if (n > (SIZE_MAX - 2) / 6 || !reserve(l, n * 6 + 2)) {
        l->oom = true;
        return;
    }
    char *p = l->buf + l->len;
    *p++ = '"';
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c >= 0x20 && *c != '"' && *c != '\\') { /* jansson leaves UTF-8, '/' and DEL as they are */
            *p++ = (char)*c;
            continue;
        }
        *p++ = '\\';
        switch (*c) {
        case '"': *p++ = '"'; break;
        case '\\': *p++ = '\\'; break;
        case '\b': *p++ = 'b'; break;
        case '\f': *p++ = 'f'; break;
        case '\n': *p++ = 'n'; break;
        case '\r': *p++ = 'r'; break;
        case '\t': *p++ = 't'; break;
        default:
            *p++ = 'u';
            *p++ = '0';
            *p++ = '0';
            *p++ = hex[*c >> 4];
            *p++ = hex[*c & 15];
        }
    }
    *p++ = '"';
    l->len = (size_t)(p - l->buf);
}

static void put_int(cli_line *l, json_int_t v) {
    char tmp[24], *p = tmp + sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0) *--p = '-';
    cli_line_raw(l, p, (size_t)(tmp + sizeof tmp - p));
}

void cli_line_json(cli_line *l, const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_INTEGER: put_int(l, json_integer_value(v)); return;
    case JSON_STRING: {
        /* a string with a NUL inside goes through jansson (it escapes it) */
        const char *s = json_string_value(v);
        if (strlen(s) == json_string_length(v)) {
            cli_line_json_str(l, s);
            return;
        }
        break;
    }
    case JSON_TRUE: cli_line_raw(l, "true", 4); return;
    case JSON_FALSE: cli_line_raw(l, "false", 5); return;
    case JSON_NULL: cli_line_raw(l, "null", 4); return;
    default: break;
    }
    size_t flags = JSON_ENCODE_ANY | JSON_COMPACT;
    size_t room = l->cap - l->len;
    size_t n = l->oom ? 0 : json_dumpb(v, l->buf ? l->buf + l->len : NULL, room, flags);
    if (n == 0) {
        l->oom = true;
        return;
    }
    if (n > room) { /* it did not fit: grow and write it again */
        if (!reserve(l, n)) return;
        json_dumpb(v, l->buf + l->len, n, flags);
    }
    l->len += n;
}

int cli_line_write(cli_line *l, FILE *f) {
    bool ok = !l->oom && fwrite(l->buf, 1, l->len, f) == l->len;
    l->len = 0;
    l->oom = false;
    return ok ? 0 : -1;
}

void cli_line_free(cli_line *l) {
    free(l->buf);
    *l = (cli_line){0};
}

/* ------------------------------------------------------------------ input */

static const char *skip_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
    return p;
}

/* A plain string at p ('"' ... '"', printable ASCII, no escapes): its
 * closing quote, or NULL. */
static char *plain_string(char *p, const char *end) {
    if (p >= end || *p != '"') return NULL;
    for (p++; p < end; p++) {
        if (*p == '"') return p;
        if (*p == '\\' || (unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) return NULL;
    }
    return NULL;
}

/* The end of the JSON value starting at p: the first ',' or '}' outside
 * strings and brackets, or NULL.  (Only where the value ends: jansson
 * checks the value itself.) */
static const char *value_end(const char *p, const char *end) {
    int depth = 0;
    for (; p < end; p++) {
        switch (*p) {
        case '"':
            for (p++; p < end && *p != '"'; p++)
                if (*p == '\\') p++;
            if (p >= end) return NULL;
            break;
        case '{':
        case '[': depth++; break;
        case ']':
        case '}':
            if (depth == 0) return *p == '}' ? p : NULL;
            depth--;
            break;
        case ',':
            if (depth == 0) return p;
            break;
        default: break;
        }
    }
    return NULL;
}

/* The value text [p, q) (trailing blanks trimmed), NEW or NULL: a plain
 * integer directly, anything else through jansson. */
static json_t *parse_value(const char *p, const char *q) {
    while (q > p && (q[-1] == ' ' || q[-1] == '\t' || q[-1] == '\r' || q[-1] == '\n')) q--;
    const char *d = p + (p < q && *p == '-');
    size_t digits = (size_t)(q - d);
    if (digits >= 1 && digits <= 18 && (*d != '0' || digits == 1)) {
        json_int_t v = 0;
        const char *c = d;
        for (; c < q && *c >= '0' && *c <= '9'; c++) v = v * 10 + (*c - '0');
        if (c == q) return json_integer(*p == '-' ? -v : v);
    }
    return json_loadb(p, (size_t)(q - p), JSON_DECODE_ANY, NULL);
}

int cli_inject_line(char *line, size_t n, const char **node, const char **port, json_t **value) {
    const char *end = line + n;
    char *p = (char *)skip_ws(line, end);
    char *open[2] = {NULL, NULL}, *cut[2] = {NULL, NULL}; /* the quotes around nodeId's and port's values */
    const char *vp = NULL, *vq = NULL;
    if (p >= end || *p != '{') return -1;
    p = (char *)skip_ws(p + 1, end);
    for (;;) {
        char *kq = plain_string(p, end);
        if (!kq) return -1;
        size_t klen = (size_t)(kq - p - 1);
        int which = klen == 6 && memcmp(p + 1, "nodeId", 6) == 0 ? 0
                    : klen == 4 && memcmp(p + 1, "port", 4) == 0  ? 1
                    : klen == 5 && memcmp(p + 1, "value", 5) == 0 ? 2
                                                                  : -1;
        p = (char *)skip_ws(kq + 1, end);
        if (which < 0 || p >= end || *p != ':') return -1;
        p = (char *)skip_ws(p + 1, end);
        if (which == 2) {
            if (vp || !(vq = value_end(p, end))) return -1;
            vp = p;
            p = (char *)vq;
        } else {
            char *q = plain_string(p, end);
            if (!q || cut[which]) return -1;
            open[which] = p;
            cut[which] = q;
            p = (char *)skip_ws(q + 1, end);
        }
        if (p >= end) return -1;
        if (*p == '}') break;
        if (*p != ',') return -1;
        p = (char *)skip_ws(p + 1, end);
    }
    if (!cut[0] || !vp || skip_ws(p + 1, end) != end) return -1;
    json_t *v = parse_value(vp, vq);
    if (!v) return -1;
    for (int i = 0; i < 2; i++)
        if (cut[i]) *cut[i] = '\0';
    *node = open[0] + 1;
    *port = open[1] ? open[1] + 1 : NULL;
    *value = v;
    return 0;
}
