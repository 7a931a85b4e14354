/* symbia.state.once: the first message for a key passes (out), every later
 * message for the same key goes to duplicate, unchanged.  Check and mark
 * happen in one process call, so two flows that both decided to act cannot
 * both get through (the double capture of a read-then-write race).
 *
 * Keys:
 *   - `key` set: an expression over value giving a string, number or
 *     boolean.  Types never mix: 1 and "1" are two keys, as are true and
 *     "true".  Numbers compare as JavaScript numbers (1 and 1.0 are one key,
 *     so are 0 and -0).  Anything else (an object, an array, null, undefined,
 *     or a throw) goes to error.
 *   - `key` unset: the whole value as JSON.stringify(value) writes it, so
 *     {"a":1,"b":2} and {"b":2,"a":1} are two keys.
 * The set of seen keys belongs to the node instance: one per execution,
 * freed at cleanup.  It holds at most maxKeys keys; a new key beyond that is
 * an error (never a silent forget), while known keys still go to duplicate.
 */
#include <string.h>

#include "components/builtins.h"
#include "core/alloc.h"
#include "core/expr.h"

enum { OUT, DUPLICATE, ERROR };
static const weir_port_def inputs[] = {{"in", "any value", NULL}};
static const weir_port_def outputs[] = {
    {"out", "the first value seen for its key", NULL},
    {"duplicate", "every later value for a key already seen, unchanged", NULL},
    {"error", "{error, value} when the key expression throws, gives no string/number/boolean, or maxKeys is reached",
     NULL}};
static const weir_config_def config[] = {
    {.key = "key", .type = WEIR_CFG_EXPRESSION,
     .description = "expression over value giving a string, number or boolean, e.g. value.paymentId "
                    "(default: the whole value as JSON.stringify writes it); 1 and \"1\" are different keys"},
    {.key = "maxKeys", .type = WEIR_CFG_INTEGER, .default_json = "100000",
     .description = "most keys remembered per execution; a new key beyond that goes to error", .has_min = true,
     .min = 1},
};

typedef struct once_state {
    json_t *seen; /* object used as a set: tagged key → true; NULL until the first key */
} once_state;

static int prepare(const weir_node_info *node, json_t *cfg, void **prepared, weir_error *err) {
    if (!json_object_get(cfg, "key")) return 0; /* NULL prepared: the whole value is the key */
    return weir__prepare_expr(node, cfg, "key", prepared, err);
}

static void cleanup(weir_ctx *ctx) {
    once_state *st = weir_ctx_state(ctx);
    json_decref(st->seen);
    st->seen = NULL;
}

static const char *kind_of(const json_t *v) {
    if (!v) return "undefined";
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    default: return "null";
    }
}

/* The set's key for a key value: a one-letter type tag, then the text
 * (s: string bytes, n: the JavaScript number text, b: true/false, j: the
 * JSON text of the whole value).  The tag keeps types apart.  *out is from
 * weir__malloc.  0; WEIR_EINVAL when k cannot be a key (no string, number
 * or boolean; or, as_json, a value JSON.stringify refuses: nested deeper
 * than it goes); WEIR_ENOMEM. */
static int tagged_key(json_t *k, bool as_json, char **out, size_t *len) {
    char num[32], tag;
    const char *text;
    size_t n;
    char *js = NULL;
    if (as_json) {
        int rc = weir__js_stringify(k, &js, &n);
        if (rc) return rc == WEIR_ENOMEM ? rc : WEIR_EINVAL;
        tag = 'j';
        text = js;
    } else if (json_is_string(k)) {
        tag = 's';
        text = json_string_value(k);
        n = json_string_length(k);
    } else if (json_is_number(k)) {
        tag = 'n';
        n = weir__js_number(json_number_value(k), num);
        text = num;
    } else if (json_is_boolean(k)) {
        tag = 'b';
        text = json_is_true(k) ? "true" : "false";
        n = strlen(text);
    } else {
        return WEIR_EINVAL;
    }
    char *buf = weir__malloc(n + 2);
    if (buf) {
        buf[0] = tag;
        memcpy(buf + 1, text, n);
        buf[n + 1] = '\0';
        *out = buf;
        *len = n + 1;
    }
    weir__free(js);
    return buf ? 0 : WEIR_ENOMEM;
}

/* No key could be made of k (the expression's result, or the whole value):
 * emit {error, value} on the error port. */
static int key_error(weir_ctx *ctx, json_t *value, const weir_expr *x, json_t *k) {
    json_t *details = json_pack("{s:O}", "value", value);
    if (!details) return WEIR_ENOMEM;
    int rc = x ? weir_emit_error(ctx, details,
                                 "key expression (%s) gave %s; it must give a string, number or boolean "
                                 "(e.g. value.id)",
                                 weir__expr_source(x), kind_of(k))
               : weir_emit_error(ctx, details,
                                 "the value cannot be written as JSON to serve as its own key; set config.key to "
                                 "an expression picking a string, number or boolean out of it (e.g. value.id)");
    json_decref(details);
    return rc;
}

/* Is key new?  Then remember it (0 and *fresh); WEIR_ELIMIT when it is new
 * but the set is full; WEIR_ENOMEM. */
static int check_and_mark(once_state *st, const char *key, size_t len, json_int_t max, bool *fresh) {
    *fresh = false;
    if (st->seen && json_object_getn(st->seen, key, len)) return 0;
    if ((json_int_t)json_object_size(st->seen) >= max) return WEIR_ELIMIT;
    if (!st->seen && !(st->seen = json_object())) return WEIR_ENOMEM;
    if (json_object_setn_new_nocheck(st->seen, key, len, json_true())) return WEIR_ENOMEM;
    *fresh = true;
    return 0;
}

static int process(weir_ctx *ctx, unsigned port, json_t *value) {
    once_state *st = weir_ctx_state(ctx);
    const weir_expr *x = weir_ctx_prepared(ctx);
    json_t *cfg = weir_ctx_config(ctx);
    json_t *k = value; /* BORROWED without an expression, NEW (or NULL) with one */
    if (x) {
        weir_expr_env env = {value, cfg, weir_ctx_input_name(ctx, port)};
        weir_error err;
        k = NULL;
        int rc = weir__expr_eval(x, &env, &k, &err);
        if (rc) return weir__expr_failed(ctx, rc, value, "key expression failed: ", &err);
    }
    char *key = NULL;
    size_t len = 0;
    json_int_t max = (json_int_t)json_number_value(json_object_get(cfg, "maxKeys"));
    bool fresh = false;
    int rc = tagged_key(k, x == NULL, &key, &len);
    if (rc == 0) rc = check_and_mark(st, key, len, max, &fresh);
    if (rc == 0) {
        rc = weir_emit(ctx, fresh ? OUT : DUPLICATE, value);
    } else if (rc == WEIR_EINVAL) {
        rc = key_error(ctx, value, x, k);
    } else if (rc == WEIR_ELIMIT) {
        json_t *details = json_pack("{s:O,s:I}", "value", value, "maxKeys", max);
        if (details && x) json_object_set(details, "key", k);
        rc = details ? weir_emit_error(ctx, details,
                                       "node \"%s\" already remembers maxKeys (%lld) keys and never forgets one, so "
                                       "this new key was not let through; raise config.maxKeys, or key on "
                                       "something with fewer distinct values",
                                       weir_ctx_node_id(ctx), (long long)max)
                     : WEIR_ENOMEM;
        json_decref(details);
    }
    weir__free(key);
    if (x) json_decref(k);
    return rc;
}

/* {keys: [the keys seen, first seen first, as the values they were made of]} */
static json_t *state(weir_ctx *ctx) {
    once_state *st = weir_ctx_state(ctx);
    json_t *keys = json_array();
    const char *key;
    size_t len;
    json_t *unused;
    json_object_keylen_foreach(st->seen, key, len, unused) {
        (void)unused;
        if (!keys) break;
        json_t *k;
        switch (key[0]) {
        case 's': k = json_stringn_nocheck(key + 1, len - 1); break;
        case 'b': k = json_boolean(key[1] == 't'); break;
        default: k = json_loadb(key + 1, len - 1, JSON_DECODE_ANY, NULL); break; /* n, j: JSON text */
        }
        if (json_array_append_new(keys, k)) {
            json_decref(keys);
            keys = NULL;
        }
    }
    return keys ? json_pack("{s:o}", "keys", keys) : NULL;
}

/* Snapshots: the set's tagged keys, first seen first. */
static json_t *save(weir_ctx *ctx) {
    once_state *st = weir_ctx_state(ctx);
    json_t *keys = json_array();
    const char *key;
    size_t len;
    json_t *unused;
    json_object_keylen_foreach(st->seen, key, len, unused) {
        (void)unused;
        if (keys && json_array_append_new(keys, json_stringn_nocheck(key, len))) {
            json_decref(keys);
            keys = NULL;
        }
    }
    return keys ? json_pack("{s:o}", "seen", keys) : NULL;
}

static int load(weir_ctx *ctx, json_t *saved) {
    once_state *st = weir_ctx_state(ctx);
    json_t *keys = json_object_get(saved, "seen");
    if (!json_is_array(keys)) return WEIR_EINVAL;
    if (!json_array_size(keys)) return 0;
    if (!(st->seen = json_object())) return WEIR_ENOMEM;
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        if (!json_is_string(k)) return WEIR_EINVAL;
        if (json_object_setn_new_nocheck(st->seen, json_string_value(k), json_string_length(k), json_true()))
            return WEIR_ENOMEM;
    }
    return 0;
}

const weir_component weir__state_once = {
    .id = "symbia.state.once",
    .name = "Once",
    .version = "1.0.0",
    .category = "state",
    .description = "Lets the first message for each key through to out and sends every later message for that key "
                   "to duplicate, checking and marking in one step (per execution). key is an expression over "
                   "value (default: the whole value as JSON); 1 and \"1\" are different keys; at most maxKeys keys "
                   "are remembered and a new key beyond that goes to error.",
    .inputs = WEIR_PORTS(inputs),
    .outputs = WEIR_PORTS(outputs),
    .config = WEIR_PORTS(config),
    .state_size = sizeof(once_state),
    .prepare = prepare,
    .release = weir__release_expr,
    .process = process,
    .cleanup = cleanup,
    .state = state,
    .save = save,
    .load = load,
};
