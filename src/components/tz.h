/* Time zones for symbia.core.cron: civil-date arithmetic, a TZif (RFC 8536)
 * parser with the POSIX TZ rule of its footer, and the UTC offset in
 * effect at an instant.  No setenv("TZ"), no localtime_r: a zone is a plain
 * value, parsed once at graph load from bytes the shell supplies (pinned
 * with the execution: see weir_node_zone), read-only afterwards (safe on
 * any thread, the same answers on every machine with the same bytes). */
#ifndef WEIR_COMPONENTS_TZ_H
#define WEIR_COMPONENTS_TZ_H
#include <stddef.h>
#include <stdint.h>

#include "weir/weir.h"

/* Bounds of what a zone file may hold (a real one is a few KiB with a few
 * hundred transitions). */
#define WEIR_TZ_MAX_FILE_BYTES WEIR_ZONE_MAX_FILE_BYTES
#define WEIR_TZ_MAX_TRANSITIONS 8192

typedef struct weir_tz weir_tz;

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12, day
 * 1..31), and back; weekday of a day number (0 Sunday .. 6 Saturday). */
int64_t weir__days_from_civil(int64_t y, unsigned m, unsigned d);
void weir__civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
unsigned weir__weekday(int64_t days);
unsigned weir__days_in_month(int64_t y, unsigned m);

/* Parse a TZif file (versions 1 to 4; the 64-bit data of version 2+ and its
 * footer rule, which covers every instant after the last transition).
 * Leap-second records are skipped (offsets are those of POSIX time).  0 and
 * *out (free with weir__tz_free), or WEIR_EINVAL with a message saying what
 * is wrong in the file, or WEIR_ENOMEM. */
int weir__tz_parse(const uint8_t *data, size_t len, weir_tz **out, weir_error *err);
/* The zone named `name` (an IANA name such as "Europe/Berlin") for the
 * node being prepared: "UTC", "Etc/UTC" and "Z" are built in; any other is
 * the TZif bytes weir_node_zone answers (pinned, or the shell's resolver:
 * this reads no file), parsed.  WEIR_EINVAL saying what is wrong (a
 * malformed or unknown name, a file that does not parse, naming the zone);
 * WEIR_ENOMEM. */
int weir__tz_named(const weir_node_info *node, const char *name, weir_tz **out, weir_error *err);
void weir__tz_free(weir_tz *tz);
/* Seconds east of UTC in effect at UTC instant t (seconds since the epoch). */
int32_t weir__tz_offset(const weir_tz *tz, int64_t t);
/* The first UTC instant whose local time is `local` (seconds since the
 * epoch of the local wall clock read as if it were UTC): 1 and *utc when
 * that local time exists (of two, the earlier: an ambiguous time of a
 * fall-back is taken at its first occurrence), 0 when it falls in a gap
 * (spring forward). */
int weir__tz_local_to_utc(const weir_tz *tz, int64_t local, int64_t *utc);

/* Parse a POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3") as a zone of its
 * own: for the fuzz target and the tests.  0, WEIR_EINVAL, WEIR_ENOMEM. */
int weir__tz_parse_rule(const char *rule, weir_tz **out, weir_error *err);

#endif
