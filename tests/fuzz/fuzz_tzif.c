/*
 * libFuzzer target for the time zone reader (components/tz.c): the input
 * is a TZif file; if it parses, offsets and local-to-UTC conversions are
 * asked of it at instants before, among and after its transitions (where
 * its footer's POSIX rule answers), and a local time that maps to an
 * instant must map back to itself.  The input is also tried as a POSIX TZ
 * rule on its own.  The committed corpus (tests/fuzz/corpus/tzif: real
 * zone files and damaged ones) replays as a normal test.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "components/tz.h"

static void exercise(const weir_tz *tz) {
    static const int64_t at[] = {INT64_MIN / 4, -2208988800LL, 0, 1774745940LL, 1792891800LL, 4102444800LL,
                                 253402300799LL, INT64_MAX / 4};
    for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
        int32_t off = weir__tz_offset(tz, at[i]);
        if (off <= -26 * 3600 || off >= 26 * 3600) abort();
        int64_t u;
        if (at[i] > -4000000000000LL && at[i] < 4000000000000LL && weir__tz_local_to_utc(tz, at[i], &u) &&
            u + weir__tz_offset(tz, u) != at[i])
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    weir_tz *tz = NULL;
    weir_error err;
    if (weir__tz_parse(data, size, &tz, &err) == 0) {
        exercise(tz);
        weir__tz_free(tz);
    }
    if (size < 256) {
        char *rule = malloc(size + 1); /* exactly its size: a read past the NUL is caught */
        if (!rule) return 0;
        memcpy(rule, data, size);
        rule[size] = '\0';
        if (weir__tz_parse_rule(rule, &tz, &err) == 0) {
            exercise(tz);
            weir__tz_free(tz);
        }
        free(rule);
    }
    return 0;
}
