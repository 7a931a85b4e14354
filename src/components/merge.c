/* symbia.core.merge: combines any number of inputs.
 *   any    forward each message
 *   zip    wait for one message on every connected input, emit {port: value}
 *   latest after each message, once every input has a value, emit {port: latest} */
#include <string.h>

#include "components/builtins.h"
#include "core/alloc.h"
#include "core/error.h"

static const weir_port_def outputs[] = {{"out", "the merged messages", NULL}};
static const char *const modes[] = {"any", "zip", "latest", NULL};
static const weir_config_def config[] = {
    {.key = "mode", .type = WEIR_CFG_STRING, .default_json = "\"any\"", .enum_values = modes,
     .description = "any: forward each; zip: one from every input; latest: latest of every input"},
};

enum { MODE_ANY, MODE_ZIP, MODE_LATEST };

typedef struct merge_state {
    json_t **slots; /* per input: zip → array queue, latest → last value */
} merge_state;

static int prepare(const weir_node_info *node, json_t *cfg, void **prepared, weir_error *err) {
    const char *m = json_string_value(json_object_get(cfg, "mode"));
    int mode = strcmp(m, "zip") == 0 ? MODE_ZIP : strcmp(m, "latest") == 0 ? MODE_LATEST : MODE_ANY;
    if (node->n_inputs == 0)
        return weir__error(err, WEIR_EGRAPH, "merge has no input edges; connect at least one edge to any port name");
    *prepared = (void *)(intptr_t)(mode + 1);
    return 0;
}

static int mode_of(weir_ctx *ctx) { return (int)(intptr_t)weir_ctx_prepared(ctx) - 1; }

static int init(weir_ctx *ctx) {
    merge_state *st = weir_ctx_state(ctx);
    if (mode_of(ctx) == MODE_ANY) return 0;
    st->slots = weir__calloc(weir_ctx_input_count(ctx), sizeof *st->slots);
    return st->slots ? 0 : WEIR_ENOMEM;
}

static void cleanup(weir_ctx *ctx) {
    merge_state *st = weir_ctx_state(ctx);
    if (!st->slots) return;
    for (size_t i = 0; i < weir_ctx_input_count(ctx); i++) json_decref(st->slots[i]);
    weir__free(st->slots);
    st->slots = NULL;
}

static json_t *combined(weir_ctx *ctx, merge_state *st, bool pop) {
    json_t *o = json_object();
    for (size_t i = 0; o && i < weir_ctx_input_count(ctx); i++) {
        json_t *v = pop ? json_array_get(st->slots[i], 0) : st->slots[i];
        if (json_object_set(o, weir_ctx_input_name(ctx, (unsigned)i), v)) {
            json_decref(o);
            return NULL;
        }
        if (pop) json_array_remove(st->slots[i], 0);
    }
    return o;
}

static int process(weir_ctx *ctx, unsigned port, json_t *value) {
    merge_state *st = weir_ctx_state(ctx);
    size_t n = weir_ctx_input_count(ctx);
    switch (mode_of(ctx)) {
    case MODE_ZIP:
        if (!st->slots[port] && !(st->slots[port] = json_array())) return WEIR_ENOMEM;
        if (json_array_append(st->slots[port], value)) return WEIR_ENOMEM;
        for (size_t i = 0; i < n; i++)
            if (json_array_size(st->slots[i]) == 0) return 0;
        return weir_emit_new(ctx, 0, combined(ctx, st, true));
    case MODE_LATEST:
        json_decref(st->slots[port]);
        st->slots[port] = json_incref(value);
        for (size_t i = 0; i < n; i++)
            if (!st->slots[i]) return 0;
        return weir_emit_new(ctx, 0, combined(ctx, st, false));
    default: return weir_emit(ctx, 0, value);
    }
}

/* any: {}; zip: {pending: {port: [values waiting for a partner]}};
 * latest: {latest: {port: value}} (ports with no value yet left out). */
static json_t *state(weir_ctx *ctx) {
    merge_state *st = weir_ctx_state(ctx);
    int mode = mode_of(ctx);
    if (mode == MODE_ANY) return json_object();
    json_t *by_port = json_object();
    for (size_t i = 0; by_port && st->slots && i < weir_ctx_input_count(ctx); i++) {
        json_t *v = st->slots[i];
        if (!v) continue;
        if (json_object_set_new(by_port, weir_ctx_input_name(ctx, (unsigned)i), mode == MODE_ZIP ? json_copy(v)
                                                                                                  : json_incref(v))) {
            json_decref(by_port);
            return NULL;
        }
    }
    return json_pack("{s:o}", mode == MODE_ZIP ? "pending" : "latest", by_port);
}

/* Snapshots: every input's slot (zip: the values waiting; latest: the
 * value), null where there is none. */
static json_t *save(weir_ctx *ctx) {
    merge_state *st = weir_ctx_state(ctx);
    json_t *slots = json_array();
    for (size_t i = 0; slots && st->slots && i < weir_ctx_input_count(ctx); i++)
        if (json_array_append(slots, st->slots[i] ? st->slots[i] : json_null())) {
            json_decref(slots);
            return NULL;
        }
    return slots ? json_pack("{s:o}", "slots", slots) : NULL;
}

static int load(weir_ctx *ctx, json_t *saved) {
    merge_state *st = weir_ctx_state(ctx);
    json_t *slots = json_object_get(saved, "slots");
    size_t n = weir_ctx_input_count(ctx);
    if (!json_is_array(slots)) return WEIR_EINVAL;
    if (mode_of(ctx) == MODE_ANY) return json_array_size(slots) ? WEIR_EINVAL : 0;
    if (json_array_size(slots) != n) return WEIR_EINVAL;
    if (!(st->slots = weir__calloc(n, sizeof *st->slots))) return WEIR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(slots, i);
        if (json_is_null(v)) continue;
        if (mode_of(ctx) == MODE_ZIP && !json_is_array(v)) return WEIR_EINVAL;
        st->slots[i] = mode_of(ctx) == MODE_ZIP ? json_copy(v) : json_incref(v);
        if (!st->slots[i]) return WEIR_ENOMEM;
    }
    return 0;
}

const weir_component weir__merge = {
    .id = "symbia.core.merge",
    .name = "Merge",
    .version = "1.0.0",
    .category = "core",
    .description = "Combines inputs (any port names): any forwards each message; zip waits for one message on every "
                   "connected input and emits {port: value}; latest emits {port: latestValue} once every input has "
                   "a value.",
    .outputs = WEIR_PORTS(outputs),
    .flags = WEIR_COMPONENT_DYNAMIC_INPUTS,
    .config = WEIR_PORTS(config),
    .state_size = sizeof(merge_state),
    .prepare = prepare,
    .init = init,
    .process = process,
    .cleanup = cleanup,
    .state = state,
    .save = save,
    .load = load,
};
