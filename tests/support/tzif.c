/* Zone files made in memory (tzif.h). */
#include "tzif.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static uint8_t *be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

/* A header (44 bytes) and its data block: one type, the abbreviation. */
static uint8_t *part(uint8_t *p, const char *abbr, int32_t off) {
    memcpy(p, "TZif2", 5);
    memset(p + 5, 0, 15);
    p += 20;
    p = be32(p, 0); /* isutcnt */
    p = be32(p, 0); /* isstdcnt */
    p = be32(p, 0); /* leapcnt */
    p = be32(p, 0); /* timecnt */
    p = be32(p, 1); /* typecnt */
    size_t n = strlen(abbr) + 1;
    p = be32(p, (uint32_t)n); /* charcnt */
    p = be32(p, (uint32_t)off);
    *p++ = 0; /* isdst */
    *p++ = 0; /* abbreviation index */
    memcpy(p, abbr, n);
    return p + n;
}

size_t tzif_make(const char *rule, const char *abbr, int32_t std_off, uint8_t *buf, size_t cap) {
    size_t need = 2 * (44 + 6 + strlen(abbr) + 1) + strlen(rule) + 2;
    cr_assert_leq(need, cap, "tzif_make: %zu bytes do not fit in %zu", need, cap);
    uint8_t *p = part(buf, abbr, std_off);
    p = part(p, abbr, std_off);
    *p++ = '\n';
    memcpy(p, rule, strlen(rule));
    p += strlen(rule);
    *p++ = '\n';
    return (size_t)(p - buf);
}

void tzif_write(const char *dir, const char *name, const char *rule, const char *abbr, int32_t std_off) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    for (char *s = path + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        mkdir(path, 0755);
        *s = '/';
    }
    uint8_t buf[512];
    size_t n = tzif_make(rule, abbr, std_off, buf, sizeof buf);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
}
