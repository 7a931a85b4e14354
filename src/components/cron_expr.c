/* Five-field cron expressions (see cron_expr.h). */
#include "components/cron_expr.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"

typedef struct field_def {
    const char *name;
    int lo, hi;
    const char *const *names; /* names[i] stands for lo + i, or NULL */
    const char *allowed;
} field_def;

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const dow_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

static const field_def fields[5] = {
    {"minute", 0, 59, NULL, "0-59"},
    {"hour", 0, 23, NULL, "0-23"},
    {"day-of-month", 1, 31, NULL, "1-31"},
    {"month", 1, 12, month_names, "1-12 or JAN-DEC"},
    {"day-of-week", 0, 7, dow_names, "0-7 (0 and 7 are Sunday) or SUN-SAT"},
};

typedef struct parser {
    const char *text;
    const field_def *f;
    weir_error *err;
} parser;

static int fail(parser *p, const char *at, const char *fmt, const char *what) {
    weir__error(p->err, WEIR_EINVAL, "%s field (column %d): ", p->f->name, (int)(at - p->text) + 1);
    weir__error_append(p->err, fmt, what);
    weir__error_append(p->err, "; allowed: %s, `*`, lists (1,5), ranges (1-5) and steps (*/15, 1-30/5)",
                       p->f->allowed);
    return WEIR_EINVAL;
}

/* A value at *s (digits or a name) within [f->lo, f->hi]. */
static int value(parser *p, const char **s, const char *end, int *out) {
    const char *at = *s;
    if (*s < end && isdigit((unsigned char)**s)) {
        long n = 0;
        while (*s < end && isdigit((unsigned char)**s)) {
            if (n < 100000) n = n * 10 + (**s - '0');
            (*s)++;
        }
        if (n < p->f->lo || n > p->f->hi) {
            char shown[24];
            snprintf(shown, sizeof shown, "%ld", n);
            return fail(p, at, "%s is out of range", shown);
        }
        *out = (int)n;
        return 0;
    }
    if (p->f->names && end - *s >= 3) {
        for (int i = 0; p->f->names[i]; i++) {
            if (strncasecmp(*s, p->f->names[i], 3) == 0 && (end - *s == 3 || !isalpha((unsigned char)(*s)[3]))) {
                *s += 3;
                *out = p->f->lo + i;
                return 0;
            }
        }
    }
    char shown[24];
    size_t n = 0;
    while (at + n < end && n < sizeof shown - 1 && at[n] != ',' && at[n] != '-' && at[n] != '/') n++;
    memcpy(shown, at, n);
    shown[n] = '\0';
    return fail(p, at, n ? "\"%s\" is not a value" : "a value is missing%s", shown);
}

/* One comma-separated item at [s, end): set its bits in *bits. */
static int item(parser *p, const char *s, const char *end, uint64_t *bits) {
    const char *at = s;
    int lo, hi, step = 1;
    int rc;
    bool star = s < end && *s == '*';
    if (star) {
        s++;
        lo = p->f->lo;
        hi = p->f->hi;
    } else {
        if ((rc = value(p, &s, end, &lo))) return rc;
        hi = lo;
        if (s < end && *s == '-') {
            s++;
            if ((rc = value(p, &s, end, &hi))) return rc;
            if (hi < lo) {
                char shown[32];
                snprintf(shown, sizeof shown, "%d-%d", lo, hi);
                return fail(p, at, "the range %s runs backwards", shown);
            }
        }
    }
    if (s < end && *s == '/') {
        const char *sat = ++s;
        long n = 0;
        if (s == end || !isdigit((unsigned char)*s)) return fail(p, sat, "a step needs a number after /%s", "");
        while (s < end && isdigit((unsigned char)*s)) {
            if (n < 100000) n = n * 10 + (*s - '0');
            s++;
        }
        if (n < 1 || n > p->f->hi) {
            char shown[24];
            snprintf(shown, sizeof shown, "%ld", n);
            return fail(p, sat, "the step %s must be between 1 and the field's largest value", shown);
        }
        step = (int)n;
        if (!star && hi == lo) hi = p->f->hi; /* a/s: from a to the end */
    }
    if (s != end) return fail(p, s, "unexpected \"%.1s\"", s);
    for (int v = lo; v <= hi; v += step) *bits |= (uint64_t)1 << v;
    return 0;
}

static int field(parser *p, const char *s, const char *end, uint64_t *bits) {
    *bits = 0;
    while (true) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *stop = comma ? comma : end;
        if (stop == s) return fail(p, s, "an empty list item%s", "");
        int rc = item(p, s, stop, bits);
        if (rc) return rc;
        if (!comma) return 0;
        s = comma + 1;
    }
}

static const struct {
    const char *name, *fields;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},  {"@midnight", "0 0 * * *"}, {"@hourly", "0 * * * *"},
};

int weir__cron_parse(const char *text, weir_cron *out, weir_error *err) {
    memset(out, 0, sizeof *out);
    size_t len = strlen(text);
    if (len > WEIR_CRON_MAX_LEN)
        return weir__error(err, WEIR_EINVAL, "the expression is longer than %d characters", WEIR_CRON_MAX_LEN);
    const char *s = text;
    while (*s == ' ' || *s == '\t') s++;
    if (*s == '@') {
        const char *e = s;
        while (*e && *e != ' ' && *e != '\t') e++;
        const char *rest = e;
        while (*rest == ' ' || *rest == '\t') rest++;
        for (size_t i = 0; i < sizeof macros / sizeof *macros && !*rest; i++)
            if ((size_t)(e - s) == strlen(macros[i].name) && strncasecmp(s, macros[i].name, (size_t)(e - s)) == 0)
                return weir__cron_parse(macros[i].fields, out, err);
        return weir__error(err, WEIR_EINVAL,
                           "column %d: \"%.*s\" is not a cron macro (allowed: @yearly, @annually, @monthly, @weekly, "
                           "@daily, @midnight, @hourly) or five fields",
                           (int)(s - text) + 1, (int)(e - s > 32 ? 32 : e - s), s);
    }
    const char *start[6], *stop[6];
    int n = 0;
    while (*s) {
        if (n == 5) {
            return weir__error(err, WEIR_EINVAL,
                               "column %d: more than five fields; a cron expression is \"minute hour day-of-month "
                               "month day-of-week\" (e.g. \"*/15 * * * *\")",
                               (int)(s - text) + 1);
        }
        start[n] = s;
        while (*s && *s != ' ' && *s != '\t') s++;
        stop[n++] = s;
        while (*s == ' ' || *s == '\t') s++;
    }
    if (n < 5)
        return weir__error(err, WEIR_EINVAL,
                           "%d field%s found, five needed: \"minute hour day-of-month month day-of-week\" (e.g. "
                           "\"*/15 * * * *\", \"0 9 * * MON-FRI\")",
                           n, n == 1 ? "" : "s");
    uint64_t bits[5];
    for (int i = 0; i < 5; i++) {
        parser p = {text, &fields[i], err};
        int rc = field(&p, start[i], stop[i], &bits[i]);
        if (rc) return rc;
    }
    out->minutes = bits[0];
    out->hours = (uint32_t)bits[1];
    out->dom = (uint32_t)bits[2];
    out->months = (uint16_t)bits[3];
    out->dow = (uint8_t)((bits[4] | bits[4] >> 7) & 0x7f); /* 7 is Sunday too */
    out->dom_star = *start[2] == '*';
    out->dow_star = *start[4] == '*';
    /* When only the day of the month restricts days, some allowed month
     * must have some allowed day, or the expression never fires. */
    if (!out->dom_star && out->dow_star) {
        bool any = false;
        for (unsigned m = 1; m <= 12 && !any; m++)
            if (out->months >> m & 1)
                any = (out->dom & ((((uint64_t)1 << (weir__days_in_month(2000, m) + 1)) - 2))) != 0;
        if (!any)
            return weir__error(err, WEIR_EINVAL,
                               "day-of-month field (column %d): no month the month field allows has such a day (e.g. "
                               "30 in February), so the expression would never fire",
                               (int)(start[2] - text) + 1);
    }
    return 0;
}

static bool day_matches(const weir_cron *c, int64_t days, unsigned d) {
    bool dom = c->dom >> d & 1, dow = c->dow >> weir__weekday(days) & 1;
    if (!c->dom_star && !c->dow_star) return dom || dow;
    return dom && dow;
}

bool weir__cron_next_local(const weir_cron *c, int64_t t, int64_t limit, int64_t *out) {
    int64_t stop = t + limit;
    while (t <= stop) {
        int64_t days = t >= 0 ? t / 1440 : -((-t + 1439) / 1440);
        int64_t mod = t - days * 1440;
        unsigned h = (unsigned)(mod / 60), m = (unsigned)(mod % 60);
        int64_t y;
        unsigned mo, d;
        weir__civil_from_days(days, &y, &mo, &d);
        if (!(c->months >> mo & 1)) { /* the first of the next month */
            if (++mo > 12) {
                mo = 1;
                y++;
            }
            t = weir__days_from_civil(y, mo, 1) * 1440;
            continue;
        }
        if (!day_matches(c, days, d)) {
            t = (days + 1) * 1440;
            continue;
        }
        if (!(c->hours >> h & 1)) {
            t = days * 1440 + (int64_t)(h + 1) * 60;
            continue;
        }
        uint64_t later = c->minutes >> m;
        if (!later) {
            t = days * 1440 + (int64_t)(h + 1) * 60;
            continue;
        }
        *out = days * 1440 + h * 60 + m + __builtin_ctzll(later);
        return true;
    }
    return false;
}

/* 30 years of minutes: every expression that parses fires within 8. */
#define SEARCH_MINUTES (30LL * 366 * 1440)
/* Year 9999's end, in seconds: nothing is searched beyond. */
#define LAST_SECOND 253402300799LL

bool weir__cron_next(const weir_cron *c, const weir_tz *tz, int64_t now_ms, int64_t *out_ms) {
    if (now_ms < -LAST_SECOND * 1000 || now_ms >= LAST_SECOND * 1000) return false;
    int64_t now_s = now_ms >= 0 ? now_ms / 1000 : -((-now_ms + 999) / 1000);
    int64_t local = now_s + weir__tz_offset(tz, now_s);
    int64_t from = (local >= 0 ? local / 60 : -((-local + 59) / 60)) + 1;
    int64_t until = from + SEARCH_MINUTES;
    /* Candidates that do not exist (a gap) or whose first occurrence is not
     * after now (now is in the repeated hour of a fall-back) are passed
     * over; both runs are bounded by a day's worth of minutes. */
    for (int guard = 0; guard < 3 * 1440 && from <= until; guard++) {
        int64_t L;
        if (!weir__cron_next_local(c, from, until - from, &L)) return false;
        int64_t u;
        if (weir__tz_local_to_utc(tz, L * 60, &u) && u > now_s) {
            if (u > LAST_SECOND) return false;
            *out_ms = u * 1000;
            return true;
        }
        from = L + 1;
    }
    return false;
}
