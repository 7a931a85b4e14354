/* Time zones while a graph loads (zones.h, weir_node_zone in weir.h).  The
 * core reads no file: a zone's bytes come from the options' pinned zones
 * (base64, as a journal keeps them) or from the shell's resolver, and every
 * zone answered is kept, base64, for the graph (weir_graph_zones). */
#include "core/zones.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

/* ---------------------------------------------------------------- base64 */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* NEW: data as base64 (RFC 4648, padded), NULL when out of memory. */
static json_t *b64_encode(const uint8_t *data, size_t len) {
    size_t n = (len + 2) / 3 * 4;
    char *s = weir__malloc(n + 1);
    if (!s) return NULL;
    char *o = s;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < len ? (uint32_t)data[i + 1] << 8 : 0) |
                     (i + 2 < len ? data[i + 2] : 0);
        *o++ = B64[v >> 18 & 63];
        *o++ = B64[v >> 12 & 63];
        *o++ = i + 1 < len ? B64[v >> 6 & 63] : '=';
        *o++ = i + 2 < len ? B64[v & 63] : '=';
    }
    *o = '\0';
    json_t *j = json_stringn(s, n);
    weir__free(s);
    return j;
}

static int b64_value(char c) {
    const char *p = c ? strchr(B64, c) : NULL;
    return p ? (int)(p - B64) : -1;
}

/* Decode s (n chars, padded, no line breaks) into out (room for n / 4 * 3
 * bytes): the length, or -1 when s is not such base64. */
static long b64_decode(const char *s, size_t n, uint8_t *out) {
    if (n % 4) return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        size_t pad = 0;
        for (int k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == n && k >= 2 && (k == 3 || s[i + 3] == '=')) {
                v[k] = 0;
                pad++;
            } else if ((v[k] = b64_value(s[i + k])) < 0) {
                return -1;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[o++] = (uint8_t)(w >> 16);
        if (pad < 2) out[o++] = (uint8_t)(w >> 8);
        if (pad < 1) out[o++] = (uint8_t)w;
    }
    return (long)o;
}

/* ----------------------------------------------------------------- zones */

bool weir__zone_name_ok(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > WEIR_ZONE_MAX_NAME || name[0] == '/' || name[0] == '.') return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
                  ch == '-' || ch == '+' || ch == '/' || ch == '.';
        if (!ok) return false;
        if (ch == '.' && name[i + 1] == '.') return false;
        if (ch == '/' && (name[i + 1] == '.' || name[i + 1] == '/' || name[i + 1] == '\0')) return false;
    }
    return true;
}

void weir__zones_init(weir__zones *z, const weir_graph_options *opts) { *z = (weir__zones){.opts = opts}; }

json_t *weir__zones_take(weir__zones *z) {
    json_t *u = z->used;
    z->used = NULL;
    return u;
}

void weir__zones_fini(weir__zones *z) {
    json_decref(z->used);
    weir__free(z->buf);
    *z = (weir__zones){0};
}

/* Keep b64 as zone `name` of the graph.  0 or WEIR_ENOMEM. */
static int keep(weir__zones *z, const char *name, json_t *b64) {
    if ((!z->used && !(z->used = json_object())) || json_object_set(z->used, name, b64)) {
        z->oom = true;
        return WEIR_ENOMEM;
    }
    return 0;
}

/* The bytes of a pinned (or already answered) zone, decoded into z->buf. */
static int from_pinned(weir__zones *z, const char *name, json_t *b64, const uint8_t **data, size_t *len,
                       weir_error *err) {
    if (!json_is_string(b64))
        return weir__error(err, WEIR_EINVAL,
                           "time zone \"%s\": its pinned zone file is not a string (base64 of the zone file's bytes)",
                           name);
    size_t n = json_string_length(b64);
    if (n / 4 * 3 > WEIR_ZONE_MAX_FILE_BYTES + 2)
        return weir__error(err, WEIR_EINVAL,
                           "time zone \"%s\": its pinned zone file is larger than a zone file can be (%zu bytes)", name,
                           (size_t)WEIR_ZONE_MAX_FILE_BYTES);
    weir__free(z->buf);
    if (!(z->buf = weir__malloc(n / 4 * 3 + 1))) return weir__error(err, WEIR_ENOMEM, "out of memory");
    long got = b64_decode(json_string_value(b64), n, z->buf);
    if (got < 0)
        return weir__error(err, WEIR_EINVAL,
                           "time zone \"%s\": its pinned zone file is not base64 (padded, with no line breaks)", name);
    *data = z->buf;
    *len = (size_t)got;
    return 0;
}

int weir_node_zone(const weir_node_info *node, const char *name, const uint8_t **data, size_t *len,
                   weir_error *err) {
    *data = NULL;
    *len = 0;
    if (!name || !weir__zone_name_ok(name))
        return weir__error(err, WEIR_EINVAL,
                           "\"%s\" is not an IANA time zone name (e.g. \"Europe/Berlin\", \"America/New_York\", "
                           "\"UTC\")",
                           name ? name : "(null)");
    weir__zones *z = node ? node->zones : NULL;
    if (!z)
        return weir__error(err, WEIR_EINVAL, "unknown time zone \"%s\" (time zones are read as a graph loads)", name);
    const weir_graph_options *o = z->opts;
    json_t *b64 = z->used ? json_object_get(z->used, name) : NULL;
    if (b64) return from_pinned(z, name, b64, data, len, err);
    if (o && json_is_object(o->zones) && (b64 = json_object_get(o->zones, name))) {
        int rc = from_pinned(z, name, b64, data, len, err);
        if (!rc && keep(z, name, b64)) rc = weir__error(err, WEIR_ENOMEM, "out of memory");
        return rc;
    }
    if (!o || !o->zone)
        return weir__error(err, WEIR_EINVAL, "unknown time zone \"%s\" (%s)", name,
                           o && json_is_object(o->zones)
                               ? "it is not among the zones pinned when the execution started"
                               : "the program loading the graph supplies no zone files; only \"UTC\" is built in");
    size_t max = o->max_zone_bytes ? o->max_zone_bytes : WEIR_ZONE_MAX_BYTES_DEFAULT;
    size_t left = max > z->resolved ? max - z->resolved : 0;
    size_t cap = left < WEIR_ZONE_MAX_FILE_BYTES ? left : WEIR_ZONE_MAX_FILE_BYTES;
    weir__free(z->buf);
    if (!(z->buf = weir__malloc(cap + 1))) return weir__error(err, WEIR_ENOMEM, "out of memory");
    weir_error rerr;
    weir__error_clear(&rerr);
    size_t n = 0;
    int rc = o->zone(o->zone_ud, name, z->buf, cap, &n, &rerr);
    if (rc == WEIR_ENOMEM) return weir__error(err, rc, "out of memory");
    if (rc)
        return weir__error(err, WEIR_EINVAL, "%s",
                           rerr.message[0] ? rerr.message : "unknown time zone (the zone resolver found none)");
    if (n > cap && cap == left)
        return weir__error(err, WEIR_EINVAL,
                           "time zone \"%s\": its zone file is %zu bytes, more than the %zu bytes left of "
                           "MAX_ZONE_BYTES (%zu bytes of zone files per graph, all its zones together; a zone file "
                           "is a few KiB): raise MAX_ZONE_BYTES or use fewer zones",
                           name, n, left, max);
    if (n > cap)
        return weir__error(err, WEIR_EINVAL,
                           "time zone \"%s\": its zone file is %zu bytes, more than a zone file can be (%zu)", name,
                           n, (size_t)WEIR_ZONE_MAX_FILE_BYTES);
    json_t *enc = b64_encode(z->buf, n);
    if (!enc || keep(z, name, enc)) {
        json_decref(enc);
        z->oom = true;
        return weir__error(err, WEIR_ENOMEM, "out of memory");
    }
    json_decref(enc);
    z->resolved += n;
    *data = z->buf;
    *len = n;
    return 0;
}
