/* A graph load's time zones (weir_node_zone): what prepare asks for, from
 * the pinned zones of the options or the shell's resolver, and what the
 * graph keeps of them (weir_graph_zones). */
#ifndef WEIR_CORE_ZONES_H
#define WEIR_CORE_ZONES_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/weir.h"

typedef struct weir__zones {
    const weir_graph_options *opts; /* BORROWED; NULL: no options */
    json_t *used;     /* {name: base64} of every zone answered, or NULL */
    size_t resolved;  /* bytes the resolver answered (max_zone_bytes) */
    uint8_t *buf;     /* the last answer's bytes (weir_node_zone's BORROWED data) */
    bool oom;         /* out of memory keeping an answer: the load fails */
} weir__zones;

/* Whether name is an IANA-style zone name: 1 to WEIR_ZONE_MAX_NAME of
 * letters, digits and "/_-+.", not absolute, no "..", no empty part. */
bool weir__zone_name_ok(const char *name);
void weir__zones_init(weir__zones *z, const weir_graph_options *opts);
/* NEW: the zones answered ({name: base64}), or NULL when none. */
json_t *weir__zones_take(weir__zones *z);
void weir__zones_fini(weir__zones *z);

#endif
