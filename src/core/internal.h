/*
 * Internal structures of the core, shared by graph.c, exec*.c and ctx.c.
 * Not part of the public contract.
 */
#ifndef WEIR_CORE_INTERNAL_H
#define WEIR_CORE_INTERNAL_H
#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "weir/weir.h"

#define WEIR_NONE UINT32_MAX

/* An edge resolved to indexes: where a message emitted on (node, out port)
 * goes.  Routes of one (node, port) are contiguous, in edge-declaration
 * order. */
typedef struct weir_route {
    uint32_t target;      /* node index */
    uint32_t target_port; /* input port index on the target */
    uint32_t edge;        /* edge index (declaration order) */
} weir_route;

/* A node as running needs it.  Strings live in the graph's arena; port
 * tables are shared by the nodes of one component until an edge adds a
 * dynamic port to a node, which then gets its own (own_ports). */
typedef struct weir_node {
    const char *id;
    const weir_component *comp;
    json_t *config; /* normalised: defaults applied, aliases renamed; an empty
                       one is the graph's shared empty object */
    void *prepared;
    const char **inputs; /* port names: declared, then dynamic ones from edges */
    const char **outputs;
    uint32_t *route_start; /* n_outputs + 1 offsets into graph->routes (in graph->route_starts) */
    uint32_t n_inputs, n_outputs;
    uint32_t error_port; /* index of output "error" or WEIR_NONE */
    uint32_t topo_pos;
    uint32_t level;
    uint32_t out_degree, in_degree;
    uint8_t own_ports; /* OWN_INPUTS | OWN_OUTPUTS: the table is this node's (malloc'd) */
} weir_node;

/* What a loaded graph keeps: no copy of its document (SPEC §1 names what a
 * definition says; running needs only the resolved form below). */
struct weir_graph {
    int refs;
    char *id;
    char *name;
    char *version;      /* the document's "version", or NULL */
    json_t *metadata;   /* the document's "metadata" object, or NULL */
    /* A composed graph's graph nodes: path → {input port name → {node, port}
     * of the flat graph} (from its flattened document's subgraphs[].inputs),
     * so an inject may name a graph node and its port; NULL: none. */
    json_t *graph_inputs;
    json_t *zones;      /* {name: base64 TZif} of the zones its nodes read (weir_graph_zones), or NULL */
    json_t *empty;      /* the config of every node whose config is empty */
    weir_arena arena;   /* node ids, port names, shared port tables */
    weir_node *nodes;
    uint32_t n_nodes;
    uint32_t n_edges;
    weir_route *routes;
    uint32_t *route_starts; /* every node's route_start, back to back */
    uint32_t *topo; /* node indexes in topological order */
    /* node ids → indexes, open addressing (WEIR_NONE = empty) */
    uint32_t *ids;
    size_t ids_mask;
    /* metadata-derived defaults */
    weir_completion completion;
    weir_on_error on_error;
    weir_overflow overflow;
    int64_t timeout_ms; /* -1 unset */
};

const char *weir__cfg_type_name(weir_cfg_type t);
/* Index of the node with this id, or WEIR_NONE: O(1). */
uint32_t weir__graph_node(const weir_graph *g, const char *id);
/* Index of a port name in a list, or WEIR_NONE. */
uint32_t weir__port_index(const char *const *names, uint32_t n, const char *name);
/* ISO-8601 UTC with milliseconds ("2026-11-21T10:00:00.000Z"). */
void weir__iso8601(int64_t ms, char buf[32]);
/* compose.c: does doc have a graph: node or metadata.ports (it is
 * flattened before it loads)? */
bool weir__graph_composes(json_t *doc);
/* weir_graph_flatten for a doc that composes, its problems appended to
 * problems (strings) and details (objects, or NULL): 0 and *flat NEW,
 * WEIR_EGRAPH (problems say why) or WEIR_ENOMEM. */
int weir__graph_flatten(const weir_registry *reg, json_t *doc, const weir_graph_options *opts, json_t **flat,
                        json_t *problems, json_t *details);
/* The end of a load or flatten that collected problems (strings) and
 * details (objects, or NULL), both STOLEN: rc, with err saying them all
 * (WEIR_EGRAPH) or out of memory while `doing`, and them appended to
 * opts->problems / opts->details when asked for. */
int weir__graph_problems_end(int rc, json_t *problems, json_t *details, const weir_graph_options *opts,
                             const char *doing, weir_error *err);
/* Join names as "a, b, c" into err (appending). */
void weir__append_names(weir_error *err, const char *const *names, uint32_t n);

#endif
