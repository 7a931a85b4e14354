/* The shells' zone resolver (weir_zone_files in weir.h): zone files from
 * $TZDIR or /usr/share/zoneinfo.  The shells read the machine's files; the
 * core only ever sees the bytes (and the journal pins them). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/zones.h"

int weir_zone_files(void *ud, const char *name, uint8_t *buf, size_t cap, size_t *len, weir_error *err) {
    *len = 0;
    const char *dir = ud;
    if (!dir) dir = getenv("TZDIR");
    if (!dir || !*dir) dir = "/usr/share/zoneinfo";
    if (!weir__zone_name_ok(name))
        return weir__error(err, WEIR_ENOTFOUND,
                           "\"%s\" is not an IANA time zone name (e.g. \"Europe/Berlin\", \"America/New_York\", "
                           "\"UTC\")",
                           name);
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return weir__error(err, WEIR_ENOTFOUND, "time zone \"%s\": the zone directory %s is too long a path", name,
                           dir);
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
        int e = errno;
        bool there = f != NULL;
        if (f) fclose(f);
        return weir__error(err, WEIR_ENOTFOUND,
                           "unknown time zone \"%s\" (%s %s%s%s; names are IANA ones such as \"Europe/Berlin\"; the "
                           "zone files come with the tzdata package, in TZDIR or /usr/share/zoneinfo)",
                           name, there ? path : "no zone file", there ? "is not a zone file" : path,
                           there ? "" : ": ", there ? "" : strerror(e));
    }
    if ((uint64_t)st.st_size > cap) {
        fclose(f);
        *len = (size_t)st.st_size;
        return 0;
    }
    size_t n = fread(buf, 1, cap, f);
    bool bad = ferror(f);
    fclose(f);
    if (bad) return weir__error(err, WEIR_EIO, "time zone \"%s\": cannot read %s", name, path);
    *len = n;
    return 0;
}
