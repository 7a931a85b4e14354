/*
 * libFuzzer target for cron expressions (components/cron_expr.c): the input
 * is an expression; if it parses, its next firings are computed from a few
 * instants (around a DST change, before 1970, near year 9999) in UTC and in
 * a zone with daylight saving time given by its POSIX rule (no zone file
 * needed), and each must lie after the instant it was computed from.  The
 * committed corpus (tests/fuzz/corpus/cron) replays as a normal test.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "components/cron_expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *src = malloc(size + 1);
    if (!src) return 0;
    memcpy(src, data, size);
    src[size] = '\0';
    weir_cron c;
    weir_error err;
    if (weir__cron_parse(src, &c, &err) == 0) {
        weir_tz *zones[2] = {NULL, NULL};
        weir__tz_parse_rule("UTC0", &zones[0], &err);
        weir__tz_parse_rule("CET-1CEST,M3.5.0,M10.5.0/3", &zones[1], &err);
        static const int64_t from[] = {0, 1774745940000LL, 1792891800000LL, -86400000LL, 253402300000000LL};
        for (size_t z = 0; z < 2; z++) {
            if (!zones[z]) continue;
            for (size_t i = 0; i < sizeof from / sizeof *from; i++) {
                int64_t t = from[i], next;
                for (int k = 0; k < 3 && weir__cron_next(&c, zones[z], t, &next); k++) {
                    if (next <= t) abort(); /* never at or before now: a schedule that would not move */
                    t = next;
                }
            }
            weir__tz_free(zones[z]);
        }
    }
    free(src);
    return 0;
}
