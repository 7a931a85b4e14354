/* Time zones (components/tz.c): the TZif reader and its POSIX footer rule
 * checked against glibc's own reading of the same zones (localtime_r with
 * TZ set: fine in this single-threaded test, never in the server), civil
 * dates against timegm, and bad names and files refused. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* timegm, strptime */
#endif
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "components/tz.h"
#include "tzif.h"

static weir_tz *zone(const char *name) {
    static uint8_t buf[WEIR_TZ_MAX_FILE_BYTES];
    size_t len;
    weir_tz *tz;
    weir_error err = {0};
    cr_assert_eq(weir_zone_files(NULL, name, buf, sizeof buf, &len, &err), 0, "%s: %s", name, err.message);
    cr_assert_eq(weir__tz_parse(buf, len, &tz, &err), 0, "%s: %s", name, err.message);
    return tz;
}

/* Every 7 h 13 min from 1901 to 2200 (past the zone files' last
 * transitions, where the footer rule answers), plus the instants around
 * each hour of the DST change days of 2026. */
static void compare_with_glibc(const char *name) {
    weir_tz *tz = zone(name);
    setenv("TZ", name, 1);
    tzset();
    size_t checked = 0;
    for (int64_t t = -2145916800LL; t < 7258118400LL; t += 7 * 3600 + 13 * 60) {
        time_t tt = (time_t)t;
        struct tm tm;
        cr_assert_not_null(localtime_r(&tt, &tm));
        cr_assert_eq(weir__tz_offset(tz, t), (int32_t)tm.tm_gmtoff, "%s at %lld: weir %d, glibc %ld", name,
                     (long long)t, weir__tz_offset(tz, t), tm.tm_gmtoff);
        checked++;
    }
    for (int64_t t = 1774569600LL; t < 1774569600LL + 2 * 86400; t += 600) { /* 2026-03-27 .. 29 */
        time_t tt = (time_t)t;
        struct tm tm;
        localtime_r(&tt, &tm);
        cr_assert_eq(weir__tz_offset(tz, t), (int32_t)tm.tm_gmtoff, "%s at %lld", name, (long long)t);
    }
    cr_assert_gt(checked, 300000);
    weir__tz_free(tz);
}

Test(tz, berlin_matches_glibc) { compare_with_glibc("Europe/Berlin"); }
Test(tz, new_york_matches_glibc) { compare_with_glibc("America/New_York"); }
Test(tz, sydney_matches_glibc) { compare_with_glibc("Australia/Sydney"); } /* DST across the new year */
Test(tz, kolkata_matches_glibc) { compare_with_glibc("Asia/Kolkata"); }      /* half-hour offset, no DST */
Test(tz, apia_matches_glibc) { compare_with_glibc("Pacific/Apia"); }         /* skipped a whole day in 2011 */
Test(tz, lord_howe_matches_glibc) { compare_with_glibc("Australia/Lord_Howe"); } /* a 30-minute DST shift */

Test(tz, local_to_utc_gap_and_overlap) {
    weir_tz *tz = zone("Europe/Berlin");
    int64_t u;
    /* 2026-03-29 02:30 local does not exist */
    cr_assert_eq(weir__tz_local_to_utc(tz, 1774751400LL, &u), 0);
    /* 2026-10-25 02:30 local is 00:30 UTC (CEST) and 01:30 UTC (CET): the first */
    cr_assert_eq(weir__tz_local_to_utc(tz, 1792895400LL, &u), 1);
    cr_assert_eq(u, 1792888200LL);
    /* an ordinary time */
    cr_assert_eq(weir__tz_local_to_utc(tz, 1792895400LL + 86400, &u), 1);
    cr_assert_eq(u, 1792895400LL + 86400 - 3600);
    weir__tz_free(tz);
}

Test(tz, civil_dates_match_timegm) {
    for (int64_t y = 1600; y <= 2500; y += 7) {
        for (unsigned m = 1; m <= 12; m++) {
            struct tm tm = {.tm_year = (int)(y - 1900), .tm_mon = (int)m - 1, .tm_mday = 28};
            int64_t days = (int64_t)timegm(&tm) / 86400;
            cr_assert_eq(weir__days_from_civil(y, m, 28), days);
            int64_t yy;
            unsigned mm, dd;
            weir__civil_from_days(days, &yy, &mm, &dd);
            cr_assert(yy == y && mm == m && dd == 28);
            cr_assert_eq(weir__weekday(days), (unsigned)tm.tm_wday);
        }
    }
}

Test(tz, rules_alone) {
    weir_tz *tz;
    weir_error err;
    cr_assert_eq(weir__tz_parse_rule("<-03>3", &tz, &err), 0, "%s", err.message);
    cr_assert_eq(weir__tz_offset(tz, 0), -3 * 3600);
    weir__tz_free(tz);
    cr_assert_eq(weir__tz_parse_rule("EST5EDT,M3.2.0,M11.1.0", &tz, &err), 0, "%s", err.message);
    cr_assert_eq(weir__tz_offset(tz, 1783000000LL), -4 * 3600, "July 2026: EDT");
    cr_assert_eq(weir__tz_offset(tz, 1767225600LL), -5 * 3600, "January 2026: EST");
    weir__tz_free(tz);
    cr_assert_eq(weir__tz_parse_rule("CET-1CEST,M3.5.0", &tz, &err), WEIR_EINVAL);
    cr_assert(strstr(err.message, "expected ,end"), "%s", err.message);
    cr_assert_eq(weir__tz_parse_rule("X1", &tz, &err), WEIR_EINVAL);
    cr_assert(strstr(err.message, "3 to 31 letters"), "%s", err.message);
}

/* The shells' resolver (weir_zone_files) refuses what is not a zone file
 * under its directory; the parser refuses what is not TZif. */
Test(tz, bad_names_and_files_are_refused) {
    weir_tz *tz;
    weir_error err;
    uint8_t small[64];
    size_t len;
    cr_assert_eq(weir_zone_files(NULL, "Mars/Olympus_Mons", small, sizeof small, &len, &err), WEIR_ENOTFOUND);
    cr_assert(strstr(err.message, "unknown time zone \"Mars/Olympus_Mons\""), "%s", err.message);
    cr_assert_eq(weir_zone_files(NULL, "../../etc/passwd", small, sizeof small, &len, &err), WEIR_ENOTFOUND);
    cr_assert(strstr(err.message, "is not an IANA time zone name"), "%s", err.message);
    cr_assert_eq(weir_zone_files(NULL, "/etc/passwd", small, sizeof small, &len, &err), WEIR_ENOTFOUND);
    cr_assert_eq(weir_zone_files(NULL, "Europe", small, sizeof small, &len, &err), WEIR_ENOTFOUND);
    cr_assert(strstr(err.message, "unknown time zone \"Europe\""), "%s", err.message);
    cr_assert_eq(weir_zone_files(NULL, "", small, sizeof small, &len, &err), WEIR_ENOTFOUND);
    /* a zone larger than the room given: its size, nothing copied */
    cr_assert_eq(weir_zone_files(NULL, "Europe/Berlin", small, sizeof small, &len, &err), 0, "%s", err.message);
    cr_assert_gt(len, sizeof small);
    /* a real file cut short, and one that is not TZif */
    FILE *f = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
    cr_assert_not_null(f);
    static uint8_t buf[WEIR_TZ_MAX_FILE_BYTES];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    cr_assert_eq(weir__tz_parse(buf, n, &tz, &err), 0, "%s", err.message);
    weir__tz_free(tz);
    for (size_t cut = 0; cut < n; cut += 13) {
        int rc = weir__tz_parse(buf, cut, &tz, &err);
        if (rc == 0) weir__tz_free(tz); /* a cut inside the footer may still be a whole v1 zone */
        else cr_assert_eq(rc, WEIR_EINVAL);
    }
    cr_assert_eq(weir__tz_parse((const uint8_t *)"TZjunk", 6, &tz, &err), WEIR_EINVAL);
    cr_assert(strstr(err.message, "not a usable TZif zone file"), "%s", err.message);
}

/* The tests' zone files made in memory (tests/support/tzif.h) read as
 * their rule says, the same as glibc reads the real Europe/Berlin in 2026. */
Test(tz, a_made_zone_file_reads_as_its_rule) {
    uint8_t buf[512];
    size_t n = tzif_make("CET-1CEST,M3.5.0,M10.5.0/3", "CET", 3600, buf, sizeof buf);
    weir_tz *made, *real = zone("Europe/Berlin");
    weir_error err;
    cr_assert_eq(weir__tz_parse(buf, n, &made, &err), 0, "%s", err.message);
    for (int64_t t = 1767225600LL; t < 1798761600LL; t += 1800) /* 2026 */
        cr_assert_eq(weir__tz_offset(made, t), weir__tz_offset(real, t), "at %lld", (long long)t);
    weir__tz_free(made);
    weir__tz_free(real);
}
