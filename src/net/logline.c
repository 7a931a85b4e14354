/* Log lines: one call, one line (logline.h). */
#include "net/logline.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"

void weir_logline_time(char out[32]) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    char tmp[96]; /* room for any int the compiler imagines */
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(now.tv_nsec / 1000000));
    snprintf(out, 32, "%.31s", tmp);
}

/* The length of the UTF-8 sequence at p (n bytes left) with its code point
 * in *cp, or 0 when p does not start one (overlong forms and surrogates
 * included). */
static size_t utf8_char(const unsigned char *p, size_t n, uint32_t *cp) {
    unsigned char c = p[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) len = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, v = c & 0x07, min = 0x10000;
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (p[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

/* Characters a terminal or a line-based reader may take for a line break or
 * a command: C0, DEL, C1, and the Unicode line and paragraph separators. */
static bool control(uint32_t cp) {
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029;
}

/* text escaped (logline.h).  NEW, or NULL. */
static char *escape(const char *text) {
    size_t n = strlen(text);
    char *out = weir__malloc(4 * n + 1); /* the most: \xHH for each byte */
    if (!out) return NULL;
    const unsigned char *p = (const unsigned char *)text;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = utf8_char(p + i, n - i, &cp);
        if (len == 0) { /* not UTF-8: the byte as it is, visibly */
            o += (size_t)snprintf(out + o, 5, "\\x%02x", p[i]);
            i++;
            continue;
        }
        if (cp == '\\' || cp == '\n' || cp == '\r' || cp == '\t') {
            out[o++] = '\\';
            out[o++] = cp == '\\' ? '\\' : cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't';
        } else if (control(cp) && cp < 0x80) {
            o += (size_t)snprintf(out + o, 5, "\\x%02x", (unsigned)cp);
        } else if (control(cp)) { /* 2 or 3 bytes become 6 */
            o += (size_t)snprintf(out + o, 7, "\\u%04x", (unsigned)cp);
        } else {
            memcpy(out + o, p + i, len);
            o += len;
        }
        i += len;
    }
    out[o] = '\0';
    return out;
}

/* text with every byte that is not UTF-8 replaced by U+FFFD, so it can be a
 * JSON string (jansson refuses anything else).  NEW, or NULL. */
static char *valid_utf8(const char *text) {
    size_t n = strlen(text);
    char *out = weir__malloc(3 * n + 1);
    if (!out) return NULL;
    const unsigned char *p = (const unsigned char *)text;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = utf8_char(p + i, n - i, &cp);
        if (len == 0) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, p + i, len);
            o += len;
            i += len;
        }
    }
    out[o] = '\0';
    return out;
}

/* The message, cut at WEIR_LOGLINE_MAX_MESSAGE (on a character boundary,
 * saying how much went).  NEW, or NULL. */
static char *message(const char *fmt, va_list ap) {
    va_list again;
    va_copy(again, ap);
    int full = vsnprintf(NULL, 0, fmt, ap);
    if (full < 0) {
        va_end(again);
        return weir__strdup("(a log message that could not be formatted)");
    }
    size_t n = (size_t)full, keep = n < WEIR_LOGLINE_MAX_MESSAGE ? n : WEIR_LOGLINE_MAX_MESSAGE;
    /* Room for the text and, when it is cut, the tail: a cut keeps at most
     * WEIR_LOGLINE_MAX_MESSAGE bytes, which may leave fewer than the tail's
     * length after it (n just above the bound), so the tail gets its own room. */
    char tail[64];
    char *msg = weir__malloc(n + 1 + sizeof tail);
    if (!msg) {
        va_end(again);
        return NULL;
    }
    vsnprintf(msg, n + 1, fmt, again);
    va_end(again);
    if (keep == n) return msg;
    while (keep > 0 && ((unsigned char)msg[keep] & 0xC0) == 0x80) keep--;
    int t = snprintf(tail, sizeof tail, " ... (%zu more bytes cut)", n - keep);
    memcpy(msg + keep, tail, (size_t)t + 1); /* keep <= n and t < sizeof tail: it fits */
    return msg;
}

static void put(FILE *f, const char *line) {
    fputs(line, f);
    fflush(f);
}

void weir_logline_vwrite(FILE *f, bool json, weir_log_level level, json_t *fields, const char *fmt, va_list ap) {
    char ts[32];
    weir_logline_time(ts);
    const char *lvl = weir_log_level_name(level);
    char *msg = message(fmt, ap);
    char *line = NULL;
    if (json) {
        char *text = msg ? valid_utf8(msg) : NULL;
        json_t *j = text ? json_pack("{s:s,s:s,s:s}", "time", ts, "level", lvl, "msg", text) : NULL;
        if (j && fields) json_object_update_missing(j, fields);
        char *dumped = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (dumped && (line = weir__malloc(strlen(dumped) + 2))) sprintf(line, "%s\n", dumped);
        weir__free(dumped);
        json_decref(j);
        weir__free(text);
    } else {
        char *text = msg ? escape(msg) : NULL;
        char *extra = fields ? json_dumps(fields, JSON_COMPACT) : NULL;
        size_t need = text ? strlen(ts) + strlen(text) + (extra ? strlen(extra) : 0) + 16 : 0;
        if (text && (!fields || extra) && (line = weir__malloc(need)))
            snprintf(line, need, "%s %-5s %s%s%s\n", ts, lvl, text, extra ? " " : "", extra ? extra : "");
        weir__free(extra);
        weir__free(text);
    }
    weir__free(msg);
    if (line) {
        put(f, line);
        weir__free(line);
        return;
    }
    /* out of memory: still one line, in the format asked for */
    char fallback[160];
    if (json)
        snprintf(fallback, sizeof fallback,
                 "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"(out of memory: a log line was lost)\"}\n", ts, lvl);
    else snprintf(fallback, sizeof fallback, "%s %-5s (out of memory: a log line was lost)\n", ts, lvl);
    put(f, fallback);
}

void weir_logline_put_escaped(FILE *f, const char *text) {
    char *e = escape(text);
    fputs(e ? e : "(out of memory)", f);
    weir__free(e);
}

void weir_logline_write(FILE *f, bool json, weir_log_level level, json_t *fields, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    weir_logline_vwrite(f, json, level, fields, fmt, ap);
    va_end(ap);
}
