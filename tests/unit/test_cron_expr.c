/* Cron expressions (components/cron_expr.c): the parser, its error
 * messages, and the next firing in UTC and in a zone with daylight saving
 * time (Europe/Berlin), where a skipped local time never fires and a
 * repeated one fires once, at its first occurrence. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* timegm, strptime */
#endif
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include "components/cron_expr.h"

/* "2026-03-29T02:30" read as UTC, in ms. */
static int64_t utc_ms(const char *iso) {
    struct tm tm = {0};
    cr_assert_not_null(strptime(iso, "%Y-%m-%dT%H:%M", &tm), "bad test date %s", iso);
    return (int64_t)timegm(&tm) * 1000;
}

static weir_cron parse_ok(const char *text) {
    weir_cron c;
    weir_error err = {0};
    cr_assert_eq(weir__cron_parse(text, &c, &err), 0, "%s: %s", text, err.message);
    return c;
}

static const char *parse_err(const char *text) {
    static weir_error err;
    weir_cron c;
    cr_assert_eq(weir__cron_parse(text, &c, &err), WEIR_EINVAL, "%s should not parse", text);
    return err.message;
}

static weir_tz *zone(const char *name) {
    static uint8_t buf[WEIR_TZ_MAX_FILE_BYTES];
    size_t len;
    weir_tz *tz;
    weir_error err = {0};
    cr_assert_eq(weir_zone_files(NULL, name, buf, sizeof buf, &len, &err), 0, "%s: %s", name, err.message);
    cr_assert_eq(weir__tz_parse(buf, len, &tz, &err), 0, "%s: %s", name, err.message);
    return tz;
}

static int64_t next(const char *expr, const weir_tz *tz, int64_t now) {
    weir_cron c = parse_ok(expr);
    int64_t out = 0;
    cr_assert(weir__cron_next(&c, tz, now, &out), "%s: no next firing", expr);
    return out;
}

Test(cron_parse, fields_lists_ranges_steps_names) {
    weir_cron c = parse_ok("*/15 9-17/4 1,15 JAN,jul mon-FRI");
    cr_assert_eq(c.minutes, (1ull << 0) | (1ull << 15) | (1ull << 30) | (1ull << 45));
    cr_assert_eq(c.hours, (1u << 9) | (1u << 13) | (1u << 17));
    cr_assert_eq(c.dom, (1u << 1) | (1u << 15));
    cr_assert_eq(c.months, (1u << 1) | (1u << 7));
    cr_assert_eq(c.dow, 0x3e); /* Monday .. Friday */
    cr_assert(!c.dom_star && !c.dow_star);
    c = parse_ok("  5/20 * * * 7 ");
    cr_assert_eq(c.minutes, (1ull << 5) | (1ull << 25) | (1ull << 45), "a/s runs from a to the field's end");
    cr_assert_eq(c.dow, 1, "7 is Sunday");
    cr_assert(c.dom_star && !c.dow_star);
    c = parse_ok("@hourly");
    cr_assert_eq(c.minutes, 1);
    cr_assert_eq(c.hours, 0xffffff);
    c = parse_ok("0\t0\t*\t*\tSUN,6");
    cr_assert_eq(c.dow, 0x41);
}

Test(cron_parse, errors_name_the_field_and_column) {
    cr_assert_str_eq(parse_err("*/0 * * * *"),
                     "minute field (column 3): the step 0 must be between 1 and the field's largest value; allowed: "
                     "0-59, `*`, lists (1,5), ranges (1-5) and steps (*/15, 1-30/5)");
    cr_assert(strstr(parse_err("0 0 * * FOO"), "day-of-week field (column 9): \"FOO\" is not a value; allowed: 0-7 "
                                              "(0 and 7 are Sunday) or SUN-SAT"));
    cr_assert(strstr(parse_err("0 24 * * *"), "hour field (column 3): 24 is out of range; allowed: 0-23"));
    cr_assert(strstr(parse_err("5-2 * * * *"), "minute field (column 1): the range 5-2 runs backwards"));
    cr_assert(strstr(parse_err("0 0 1,,2 * *"), "day-of-month field (column 7): an empty list item"));
    cr_assert(strstr(parse_err("0 0 * 13 *"), "month field (column 7): 13 is out of range; allowed: 1-12 or JAN-DEC"));
    cr_assert(strstr(parse_err("0 0 0 * *"), "day-of-month field (column 5): 0 is out of range"));
    cr_assert(strstr(parse_err("1x * * * *"), "minute field (column 2): unexpected \"x\""));
    cr_assert(strstr(parse_err("* * * *"), "4 fields found, five needed"));
    cr_assert(strstr(parse_err("* * * * * *"), "column 11: more than five fields"));
    cr_assert(strstr(parse_err("@often"), "\"@often\" is not a cron macro"));
    cr_assert(strstr(parse_err(""), "0 fields found"));
    cr_assert(strstr(parse_err("0 0 30 2 *"), "day-of-month field (column 5): no month the month field allows has such "
                                             "a day"));
    parse_ok("0 0 30 2 MON"); /* either: every Monday in February */
    parse_ok("0 0 29 2 *");   /* leap years */
    char longer[WEIR_CRON_MAX_LEN + 8];
    memset(longer, '1', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    cr_assert(strstr(parse_err(longer), "longer than 1024 characters"));
}

Test(cron_next, utc_steps_and_strictly_after_now) {
    weir_tz *utc = zone("UTC");
    cr_assert_eq(next("*/15 * * * *", utc, 0), 15 * 60000);
    cr_assert_eq(next("*/15 * * * *", utc, 15 * 60000), 30 * 60000, "strictly after now");
    cr_assert_eq(next("*/15 * * * *", utc, 15 * 60000 - 1), 15 * 60000);
    cr_assert_eq(next("0 9 * * MON-FRI", utc, utc_ms("2026-12-05T10:00")), utc_ms("2026-12-07T09:00"),
                 "Saturday → Monday 09:00");
    cr_assert_eq(next("0 0 29 2 *", utc, utc_ms("2026-12-06T00:00")), utc_ms("2028-02-29T00:00"));
    /* both day fields restricted: either matches (Vixie cron) */
    cr_assert_eq(next("0 0 13 * FRI", utc, utc_ms("2026-12-06T00:00")), utc_ms("2026-12-11T00:00"), "a Friday");
    cr_assert_eq(next("0 0 13 * FRI", utc, utc_ms("2026-12-11T00:00")), utc_ms("2026-12-13T00:00"), "the 13th");
    /* day-of-month restricted, day-of-week `*`-led: both must match */
    cr_assert_eq(next("0 0 13 * */7", utc, utc_ms("2026-12-06T00:00")), utc_ms("2026-12-13T00:00"),
                 "Sunday the 13th");
    cr_assert_eq(next("0 0 13 * */7", utc, utc_ms("2026-12-13T00:00")), utc_ms("2027-06-13T00:00"),
                 "the next Sunday the 13th");
    cr_assert_eq(next("@yearly", utc, utc_ms("2026-12-06T00:00")), utc_ms("2027-01-01T00:00"));
    weir__tz_free(utc);
}

Test(cron_next, berlin_spring_forward_skips_the_missing_hour) {
    weir_tz *tz = zone("Europe/Berlin");
    /* 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC); 02:30 does not exist that day */
    cr_assert_eq(next("30 2 * * *", tz, utc_ms("2026-03-28T00:00")), utc_ms("2026-03-28T01:30"), "02:30 CET");
    cr_assert_eq(next("30 2 * * *", tz, utc_ms("2026-03-28T01:30")), utc_ms("2026-03-30T00:30"),
                 "the 29th is skipped: 02:30 CEST on the 30th");
    /* every 15 minutes: 01:45 CET, then 03:00 CEST, with nothing in between */
    cr_assert_eq(next("*/15 * * * *", tz, utc_ms("2026-03-29T00:45")), utc_ms("2026-03-29T01:00"));
    cr_assert_eq(next("0 9 * * *", tz, utc_ms("2026-03-29T01:00")), utc_ms("2026-03-29T07:00"), "09:00 CEST");
    weir__tz_free(tz);
}

Test(cron_next, berlin_fall_back_fires_a_repeated_time_once) {
    weir_tz *tz = zone("Europe/Berlin");
    /* 2026-10-25: 03:00 CEST goes back to 02:00 CET (01:00 UTC); 02:00-02:59 happen twice */
    cr_assert_eq(next("30 2 * * *", tz, utc_ms("2026-10-24T12:00")), utc_ms("2026-10-25T00:30"),
                 "the first 02:30 (CEST)");
    cr_assert_eq(next("30 2 * * *", tz, utc_ms("2026-10-25T00:30")), utc_ms("2026-10-26T01:30"),
                 "not the second 02:30 (CET): the next day's");
    cr_assert_eq(next("*/30 * * * *", tz, utc_ms("2026-10-25T00:00")), utc_ms("2026-10-25T00:30"));
    cr_assert_eq(next("*/30 * * * *", tz, utc_ms("2026-10-25T00:30")), utc_ms("2026-10-25T02:00"),
                 "02:00 and 02:30 CET were 02:00 and 02:30 CEST already: next is 03:00 CET");
    /* a server that starts inside the repeated hour does not fire what already fired */
    cr_assert_eq(next("*/15 * * * *", tz, utc_ms("2026-10-25T01:10")), utc_ms("2026-10-25T02:00"));
    weir__tz_free(tz);
}

Test(cron_next, never_past_year_9999) {
    weir_tz *utc = zone("UTC");
    weir_cron c = parse_ok("* * * * *");
    int64_t out;
    cr_assert(!weir__cron_next(&c, utc, 253402300799LL * 1000, &out));
    cr_assert(!weir__cron_next(&c, utc, INT64_MAX, &out));
    cr_assert(weir__cron_next(&c, utc, -86400000, &out), "before 1970 works too");
    cr_assert_eq(out, -86400000 + 60000);
    weir__tz_free(utc);
}
