/* Canonical JSON read fast (journal_canon.c), for journal_file_read.c. */
#ifndef WEIR_STORE_JOURNAL_CANON_H
#define WEIR_STORE_JOURNAL_CANON_H
#include <jansson.h>
#include <stddef.h>

/* The value text holds, when text is exactly jansson's JSON_COMPACT |
 * JSON_SORT_KEYS | JSON_ENCODE_ANY dump of it (NEW); NULL when it is not,
 * when this parser cannot tell (then json_loadb, json_dumpb and a compare
 * decide), or out of memory. */
json_t *weir__jcanon_parse(const char *text, size_t len);
/* The same for the value text begins with; *end gets where it ends. */
json_t *weir__jcanon_parse_prefix(const char *text, size_t len, const char **end);

#endif
