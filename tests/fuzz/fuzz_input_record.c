/* Fuzz target: a journal record's body, read back with weir_input_parse.
 * Whatever the text, parse either refuses it (WEIR_EINVAL with a message)
 * or reads a record that weir_input_json writes back as a body which parses
 * to the same record and is written the same again: parse → json → parse
 * is a fixed point, through the canonical text too (what a journal keeps). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weir/weir.h"

static bool str_eq(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

/* NULL and JSON null are the same value to the core (a null result). */
static bool val_eq(json_t *a, json_t *b) { return json_equal(a ? a : json_null(), b ? b : json_null()); }

static bool rec_eq(const weir_input_rec *a, const weir_input_rec *b) {
    return a->kind == b->kind && a->now_ms == b->now_ms && a->tick == b->tick && str_eq(a->node, b->node) &&
           str_eq(a->port, b->port) && val_eq(a->value, b->value) && a->flags == b->flags &&
           a->effect == b->effect && a->effect_kind == b->effect_kind && val_eq(a->result, b->result) &&
           str_eq(a->error, b->error) && a->on == b->on && a->old_now_ms == b->old_now_ms &&
           str_eq(a->from, b->from) && str_eq(a->to, b->to) && val_eq(a->upgrade, b->upgrade);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *body = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!body) return 0;
    weir_input_rec a, b, c;
    weir_error err;
    err.message[0] = '\0';
    int64_t now = (int64_t)size * 1000 - 7;
    int rc = weir_input_parse(body, now, size, &a, &err);
    if (rc) {
        if (rc != WEIR_EINVAL || err.message[0] == '\0') abort();
        json_decref(body);
        return 0;
    }
    if (!weir_input_kind_name(a.kind) || a.now_ms != now || a.tick != size) abort();
    json_t *j = weir_input_json(&a);
    if (!j) abort();
    if (weir_input_parse(j, a.now_ms, a.tick, &b, &err) != 0 || !rec_eq(&a, &b)) abort();
    json_t *j2 = weir_input_json(&b);
    if (!j2 || !json_equal(j, j2)) abort();
    /* the canonical text a journal stores reads back the same */
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text) abort();
    json_t *k = json_loads(text, 0, NULL);
    if (!k || weir_input_parse(k, a.now_ms, a.tick, &c, &err) != 0 || !rec_eq(&a, &c)) abort();
    free(text);
    json_decref(k);
    json_decref(j2);
    json_decref(j);
    json_decref(body);
    return 0;
}
