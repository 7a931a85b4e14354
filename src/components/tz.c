/* Time zones: civil dates, TZif files and POSIX TZ rules (see tz.h). */
#include "components/tz.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

/* ------------------------------------------------------------ civil dates */

/* H. Hinnant's days_from_civil / civil_from_days (public domain): exact for
 * every int64 year a caller here can reach. */
int64_t weir__days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void weir__civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

unsigned weir__weekday(int64_t days) { /* 1970-01-01 was a Thursday */
    int64_t w = (days + 4) % 7;
    return (unsigned)(w < 0 ? w + 7 : w);
}

static bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned weir__days_in_month(int64_t y, unsigned m) {
    static const unsigned n[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : n[m - 1];
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ------------------------------------------------------------- the zone */

typedef struct rule_date {
    char kind;    /* 'J' (1..365, no Feb 29), 'n' (0..365), 'M' (month.week.day) */
    int a, b, c;  /* J/n: day in a; M: month a, week b (5: last), weekday c */
    int32_t time; /* seconds after local midnight (may be negative or past 24 h) */
} rule_date;

typedef struct tz_rule {
    int32_t std_off, dst_off; /* seconds east of UTC */
    bool has_dst;
    rule_date start, end;
} tz_rule;

struct weir_tz {
    size_t n_trans;
    int64_t *trans;   /* UTC instants, ascending */
    uint8_t *idx;     /* the type each transition switches to */
    size_t n_types;
    int32_t *offs;    /* each type's offset */
    bool has_rule;
    tz_rule rule;     /* after the last transition (or always, with none) */
};

void weir__tz_free(weir_tz *tz) {
    if (!tz) return;
    weir__free(tz->trans);
    weir__free(tz->idx);
    weir__free(tz->offs);
    weir__free(tz);
}

/* ----------------------------------------------------- POSIX TZ rules */

typedef struct rparser {
    const char *p;
    weir_error *err;
} rparser;

static int rfail(rparser *r, const char *what) {
    return weir__error(r->err, WEIR_EINVAL, "TZ rule: %s at \"%.24s\"", what, r->p);
}

static int parse_name(rparser *r) {
    const char *s = r->p;
    if (*s == '<') {
        s++;
        const char *e = s;
        while (*e && *e != '>' && e - s < 32) e++;
        if (*e != '>' || e - s < 3) return rfail(r, "a quoted zone abbreviation must be <...> of 3 to 31 characters");
        r->p = e + 1;
        return 0;
    }
    const char *e = s;
    while ((*e >= 'A' && *e <= 'Z') || (*e >= 'a' && *e <= 'z')) e++;
    if (e - s < 3 || e - s > 31) return rfail(r, "a zone abbreviation must be 3 to 31 letters");
    r->p = e;
    return 0;
}

/* [+-]hh[:mm[:ss]] with hh up to max_h: seconds. */
static int parse_hms(rparser *r, int max_h, int32_t *out) {
    int sign = 1;
    if (*r->p == '+' || *r->p == '-') sign = *r->p++ == '-' ? -1 : 1;
    int part[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (i && *r->p != ':') break;
        if (i) r->p++;
        int n = 0, digits = 0;
        while (*r->p >= '0' && *r->p <= '9' && digits < 3) {
            n = n * 10 + (*r->p++ - '0');
            digits++;
        }
        if (!digits) return rfail(r, "expected a number of hours, minutes or seconds");
        if ((i == 0 && n > max_h) || (i > 0 && n > 59)) return rfail(r, "an offset or time is out of range");
        part[i] = n;
    }
    *out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
    return 0;
}

static int parse_num(rparser *r, int lo, int hi, int *out) {
    int n = 0, digits = 0;
    while (*r->p >= '0' && *r->p <= '9' && digits < 4) {
        n = n * 10 + (*r->p++ - '0');
        digits++;
    }
    if (!digits || n < lo || n > hi) return rfail(r, "a rule date is out of range");
    *out = n;
    return 0;
}

static int parse_date(rparser *r, rule_date *d) {
    int rc;
    if (*r->p == 'J') {
        r->p++;
        d->kind = 'J';
        rc = parse_num(r, 1, 365, &d->a);
    } else if (*r->p == 'M') {
        r->p++;
        d->kind = 'M';
        rc = parse_num(r, 1, 12, &d->a);
        if (!rc && *r->p != '.') rc = rfail(r, "expected Mm.w.d");
        if (!rc) r->p++;
        if (!rc) rc = parse_num(r, 1, 5, &d->b);
        if (!rc && *r->p != '.') rc = rfail(r, "expected Mm.w.d");
        if (!rc) r->p++;
        if (!rc) rc = parse_num(r, 0, 6, &d->c);
    } else {
        d->kind = 'n';
        rc = parse_num(r, 0, 365, &d->a);
    }
    d->time = 7200;
    if (!rc && *r->p == '/') {
        r->p++;
        rc = parse_hms(r, 167, &d->time);
    }
    return rc;
}

static int parse_rule(const char *text, tz_rule *out, weir_error *err) {
    rparser r = {text, err};
    memset(out, 0, sizeof *out);
    int32_t off;
    int rc = parse_name(&r);
    if (!rc) rc = parse_hms(&r, 24, &off);
    if (rc) return rc;
    out->std_off = -off; /* POSIX counts west of UTC */
    if (!*r.p) return 0;
    if ((rc = parse_name(&r))) return rc;
    out->has_dst = true;
    out->dst_off = out->std_off + 3600;
    if (*r.p && *r.p != ',') {
        if ((rc = parse_hms(&r, 24, &off))) return rc;
        out->dst_off = -off;
    }
    if (*r.p != ',') return rfail(&r, "a rule with daylight saving time needs ,start[/time],end[/time]");
    r.p++;
    if ((rc = parse_date(&r, &out->start))) return rc;
    if (*r.p != ',') return rfail(&r, "expected ,end[/time]");
    r.p++;
    if ((rc = parse_date(&r, &out->end))) return rc;
    if (*r.p) return rfail(&r, "unexpected text after the rule");
    return 0;
}

/* Days since the epoch of a rule date in year y. */
static int64_t rule_day(const rule_date *d, int64_t y) {
    int64_t jan1 = weir__days_from_civil(y, 1, 1);
    if (d->kind == 'J') return jan1 + d->a - 1 + (leap(y) && d->a >= 60);
    if (d->kind == 'n') return jan1 + d->a;
    unsigned m = (unsigned)d->a, dim = weir__days_in_month(y, m);
    int64_t first = weir__days_from_civil(y, m, 1);
    unsigned day = 1 + ((unsigned)d->c + 7 - weir__weekday(first)) % 7 + 7 * (unsigned)(d->b - 1);
    while (day > dim) day -= 7;
    return first + day - 1;
}

static int32_t rule_offset(const tz_rule *r, int64_t t) {
    if (!r->has_dst) return r->std_off;
    int64_t days;
    int64_t y;
    unsigned m, d;
    days = floor_div(t + r->std_off, 86400);
    weir__civil_from_days(days, &y, &m, &d);
    /* DST starts at a local standard time and ends at a local DST time. */
    int64_t start = rule_day(&r->start, y) * 86400 + r->start.time - r->std_off;
    int64_t end = rule_day(&r->end, y) * 86400 + r->end.time - r->dst_off;
    bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    return dst ? r->dst_off : r->std_off;
}

int weir__tz_parse_rule(const char *rule, weir_tz **out, weir_error *err) {
    *out = NULL;
    tz_rule r;
    int rc = parse_rule(rule, &r, err);
    if (rc) return rc;
    weir_tz *tz = weir__calloc(1, sizeof *tz);
    if (!tz) return weir__error(err, WEIR_ENOMEM, "out of memory");
    tz->has_rule = true;
    tz->rule = r;
    *out = tz;
    return 0;
}

/* ----------------------------------------------------------------- TZif */

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static int64_t be64(const uint8_t *p) { return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4)); }

typedef struct tzif_counts {
    uint32_t isut, isstd, leap, time, type, chars;
} tzif_counts;

static int bad_file(weir_error *err, const char *what) {
    return weir__error(err, WEIR_EINVAL, "not a usable TZif zone file: %s", what);
}

/* The header at p (44 bytes) and the size of the data block after it with
 * transition times of `tsize` bytes; -1 if it does not fit in `left`. */
static int header(const uint8_t *p, size_t left, size_t tsize, tzif_counts *c, size_t *block, weir_error *err) {
    if (left < 44 || memcmp(p, "TZif", 4) != 0) return bad_file(err, "no TZif header");
    c->isut = be32(p + 20);
    c->isstd = be32(p + 24);
    c->leap = be32(p + 28);
    c->time = be32(p + 32);
    c->type = be32(p + 36);
    c->chars = be32(p + 40);
    if (c->time > WEIR_TZ_MAX_TRANSITIONS) return bad_file(err, "too many transitions");
    if (c->type == 0 || c->type > 256) return bad_file(err, "it must have 1 to 256 local time types");
    if ((c->isut && c->isut != c->type) || (c->isstd && c->isstd != c->type))
        return bad_file(err, "its indicator counts do not match its type count");
    if (c->leap > 100000 || c->chars > 100000) return bad_file(err, "a count is out of range");
    uint64_t n = (uint64_t)c->time * (tsize + 1) + (uint64_t)c->type * 6 + c->chars +
                 (uint64_t)c->leap * (tsize + 4) + c->isstd + c->isut;
    if (n > left - 44) return bad_file(err, "it is cut short");
    *block = (size_t)n;
    return 0;
}

int weir__tz_parse(const uint8_t *data, size_t len, weir_tz **out, weir_error *err) {
    *out = NULL;
    if (len > WEIR_TZ_MAX_FILE_BYTES) return bad_file(err, "larger than a zone file can be");
    tzif_counts c;
    size_t block;
    int rc = header(data, len, 4, &c, &block, err);
    if (rc) return rc;
    size_t tsize = 4;
    const uint8_t *p = data + 44;
    const uint8_t *end = data + len;
    if (data[4] >= '2') { /* skip the 32-bit data: use the 64-bit block */
        p += block;
        if ((rc = header(p, (size_t)(end - p), 8, &c, &block, err))) return rc;
        p += 44;
        tsize = 8;
    }
    weir_tz *tz = weir__calloc(1, sizeof *tz);
    if (!tz) return weir__error(err, WEIR_ENOMEM, "out of memory");
    tz->n_trans = c.time;
    tz->n_types = c.type;
    tz->trans = weir__malloc((c.time ? c.time : 1) * sizeof *tz->trans);
    tz->idx = weir__malloc(c.time ? c.time : 1);
    tz->offs = weir__malloc(c.type * sizeof *tz->offs);
    if (!tz->trans || !tz->idx || !tz->offs) {
        weir__tz_free(tz);
        return weir__error(err, WEIR_ENOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < c.time; i++, p += tsize) {
        tz->trans[i] = tsize == 8 ? be64(p) : (int64_t)(int32_t)be32(p);
        if (i && tz->trans[i] <= tz->trans[i - 1]) {
            weir__tz_free(tz);
            return bad_file(err, "its transitions are not in ascending order");
        }
    }
    for (uint32_t i = 0; i < c.time; i++, p++) {
        if (*p >= c.type) {
            weir__tz_free(tz);
            return bad_file(err, "a transition names a local time type that does not exist");
        }
        tz->idx[i] = *p;
    }
    for (uint32_t i = 0; i < c.type; i++, p += 6) {
        int32_t off = (int32_t)be32(p);
        if (off <= -25 * 3600 || off >= 26 * 3600 || p[4] > 1 || p[5] >= c.chars + (c.chars == 0)) {
            weir__tz_free(tz);
            return bad_file(err, "a local time type is out of range");
        }
        tz->offs[i] = off;
    }
    p += c.chars + (size_t)c.leap * (tsize + 4) + c.isstd + c.isut;
    if (tsize == 8 && p < end) { /* footer: \n<TZ rule>\n */
        if (*p != '\n') {
            weir__tz_free(tz);
            return bad_file(err, "its footer does not start with a newline");
        }
        const uint8_t *nl = memchr(p + 1, '\n', (size_t)(end - p - 1));
        if (!nl || nl - p - 1 > 255) {
            weir__tz_free(tz);
            return bad_file(err, "its footer has no closing newline");
        }
        if (nl > p + 1) {
            char rule[256];
            memcpy(rule, p + 1, (size_t)(nl - p - 1));
            rule[nl - p - 1] = '\0';
            if (memchr(rule, '\0', (size_t)(nl - p - 1))) {
                weir__tz_free(tz);
                return bad_file(err, "its footer holds a NUL byte");
            }
            if ((rc = parse_rule(rule, &tz->rule, err))) {
                weir__tz_free(tz);
                return rc;
            }
            tz->has_rule = true;
        }
    }
    *out = tz;
    return 0;
}

int32_t weir__tz_offset(const weir_tz *tz, int64_t t) {
    if (tz->n_trans == 0) return tz->has_rule ? rule_offset(&tz->rule, t) : tz->n_types ? tz->offs[0] : 0;
    if (t < tz->trans[0]) return tz->offs[0]; /* RFC 8536: type 0 before the first transition */
    if (t >= tz->trans[tz->n_trans - 1] && tz->has_rule) return rule_offset(&tz->rule, t);
    size_t lo = 0, hi = tz->n_trans; /* the last transition <= t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t) lo = mid;
        else hi = mid;
    }
    return tz->offs[tz->idx[lo]];
}

/* A local time lies within 16 hours of the UTC instants that show it
 * (offsets, LMT included, stay within ±16 h).  The offsets in effect around
 * it are sampled every hour (no zone has kept an offset for less than
 * that); each is tried. */
int weir__tz_local_to_utc(const weir_tz *tz, int64_t local, int64_t *utc) {
    int32_t seen[8];
    size_t n_seen = 0;
    bool found = false;
    for (int k = -16; k <= 16; k++) {
        int32_t o = weir__tz_offset(tz, local + (int64_t)k * 3600);
        bool dup = false;
        for (size_t i = 0; i < n_seen && !dup; i++) dup = seen[i] == o;
        if (dup) continue;
        if (n_seen < sizeof seen / sizeof *seen) seen[n_seen++] = o;
        int64_t u = local - o;
        if (weir__tz_offset(tz, u) == o && (!found || u < *utc)) {
            *utc = u;
            found = true;
        }
    }
    return found;
}

/* ------------------------------------------------------------- loading */

int weir__tz_named(const weir_node_info *node, const char *name, weir_tz **out, weir_error *err) {
    *out = NULL;
    if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0 || strcmp(name, "Z") == 0)
        return weir__tz_parse_rule("UTC0", out, err);
    const uint8_t *data;
    size_t len;
    int rc = weir_node_zone(node, name, &data, &len, err);
    if (rc) return rc;
    weir_error perr;
    rc = weir__tz_parse(data, len, out, &perr);
    if (rc == WEIR_EINVAL) return weir__error(err, rc, "time zone \"%s\": %s", name, perr.message);
    if (rc) return weir__error(err, rc, "%s", perr.message);
    return 0;
}
