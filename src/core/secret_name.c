/* Secret names (see secret_name.h). */
#include "core/secret_name.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"

/* Does name (len bytes) end in the word "key": the whole name, after '-'
 * or '_' in any case, or a camelCase "Key" after a lower-case letter or
 * digit? */
static bool ends_in_key_word(const char *name, size_t len) {
    if (len < 3 || strncasecmp(name + len - 3, "key", 3) != 0) return false;
    if (len == 3) return true;
    unsigned char before = (unsigned char)name[len - 4];
    if (before == '-' || before == '_') return true;
    return name[len - 3] == 'K' && (islower(before) || isdigit(before));
}

bool weir__is_secret_name(const char *name) {
    if (!name) return false;
    size_t len = strlen(name);
    if (ends_in_key_word(name, len)) return true;
    if (len >= 6 && strcasecmp(name + len - 6, "cookie") == 0) return true;
    char small[256], *norm = len < sizeof small ? small : weir__malloc(len + 1);
    if (!norm) return true; /* out of memory: hide rather than show */
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (name[i] != '-' && name[i] != '_') norm[n++] = (char)tolower((unsigned char)name[i]);
    norm[n] = '\0';
    static const char *const parts[] = {"token", "secret", "password", "passwd", "authorization", "apikey"};
    bool secret = false;
    for (size_t i = 0; i < sizeof parts / sizeof *parts && !secret; i++) secret = strstr(norm, parts[i]) != NULL;
    if (norm != small) weir__free(norm);
    return secret;
}
