/* Five-field cron expressions for symbia.core.cron, and the next instant one
 * matches in a time zone.
 *
 * Syntax: "minute hour day-of-month month day-of-week", fields separated by
 * spaces or tabs.  A field is a comma-separated list of items: `*`, a value,
 * a range `a-b`, each optionally with a step `/s` (`*\/15`, `1-30/5`; `a/s`
 * is `a-<max>/s`).  Values: minute 0-59, hour 0-23, day-of-month 1-31,
 * month 1-12 or JAN-DEC, day-of-week 0-7 (0 and 7 are Sunday) or SUN-SAT;
 * names are case-insensitive.  The macros @yearly (@annually), @monthly,
 * @weekly, @daily (@midnight) and @hourly stand for their five fields.
 *
 * Days: as in Vixie cron, when both day-of-month and day-of-week are
 * restricted (neither starts with `*`), a day matches if EITHER matches;
 * otherwise both must.
 *
 * Time zones and daylight saving time (weir__cron_next): fields are matched
 * against the local wall clock of the zone.  A local time that does not
 * exist (skipped by a spring-forward) never fires; a local time that occurs
 * twice (repeated by a fall-back) fires once, at its first occurrence. */
#ifndef WEIR_COMPONENTS_CRON_EXPR_H
#define WEIR_COMPONENTS_CRON_EXPR_H
#include <stdbool.h>
#include <stdint.h>

#include "components/tz.h"

/* The longest expression accepted (SPEC §10: a bound on what a client sends). */
#define WEIR_CRON_MAX_LEN 1024

typedef struct weir_cron {
    uint64_t minutes; /* bit m: minute m */
    uint32_t hours;   /* bit h */
    uint32_t dom;     /* bit d: day d of the month (1..31) */
    uint16_t months;  /* bit m: month m (1..12) */
    uint8_t dow;      /* bit d: weekday d (0 Sunday .. 6 Saturday) */
    bool dom_star, dow_star; /* the field starts with `*` */
} weir_cron;

/* Parse text.  0 and *out, or WEIR_EINVAL with a message naming the field
 * ("day-of-week field"), the column (1-based, in text) of the item that is
 * wrong, what is wrong and what is allowed.  An expression that can never
 * fire (day 30 in February only) is refused the same way. */
int weir__cron_parse(const char *text, weir_cron *out, weir_error *err);
/* The first local minute >= from (minutes since the epoch of the local wall
 * clock read as UTC) that matches, searching at most `limit` minutes past
 * from.  true and *out, or false. */
bool weir__cron_next_local(const weir_cron *c, int64_t from, int64_t limit, int64_t *out);
/* The first instant after now_ms (UTC ms) at which c fires in tz, by the
 * rules above.  true and *out_ms (a whole UTC second, ms), or false when
 * none falls within the next 30 years (or beyond year 9999). */
bool weir__cron_next(const weir_cron *c, const weir_tz *tz, int64_t now_ms, int64_t *out_ms);

#endif
