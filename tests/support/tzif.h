/* Zone files made in memory for the tests: a TZif (RFC 8536, version 2)
 * file with no transitions, one local time type and a footer POSIX TZ rule
 * that covers every instant, so a test owns its zone's rules (and can
 * change them) without the machine's tzdata. */
#ifndef WEIR_TEST_TZIF_H
#define WEIR_TEST_TZIF_H
#include <stddef.h>
#include <stdint.h>

/* The file for `rule` ("CET-1CEST,M3.5.0,M10.5.0/3"): its standard time is
 * std_off seconds east of UTC, named abbr (3 letters).  Writes at most cap
 * bytes to buf; returns the file's length (asserts it fits). */
size_t tzif_make(const char *rule, const char *abbr, int32_t std_off, uint8_t *buf, size_t cap);
/* Write that file to dir/name, making the directories of name. */
void tzif_write(const char *dir, const char *name, const char *rule, const char *abbr, int32_t std_off);

#endif
