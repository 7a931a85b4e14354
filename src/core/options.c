/* Execution settings read from JSON (execute bodies, graph metadata). */
#include <string.h>

#include "core/error.h"

typedef struct choice {
    const char *name;
    int value;
} choice;

static const choice COMPLETION[] = {{"auto", WEIR_COMPLETION_AUTO}, {"never", WEIR_COMPLETION_NEVER}, {NULL, 0}};
static const choice ON_ERROR[] = {{"fail", WEIR_ON_ERROR_FAIL}, {"continue", WEIR_ON_ERROR_CONTINUE}, {NULL, 0}};
static const choice OVERFLOW[] = {{"refuse", WEIR_OVERFLOW_REFUSE},
                                  {"drop-oldest", WEIR_OVERFLOW_DROP_OLDEST},
                                  {"drop-newest", WEIR_OVERFLOW_DROP_NEWEST},
                                  {NULL, 0}};

typedef struct reader {
    const char *where;
    json_t *problems;
    weir_error *err;
    int rc;
} reader;

static void problem(reader *r, const char *field, const char *must) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s%s%s must be %s", r->where, r->where[0] ? "." : "", field, must);
    if (r->problems) json_array_append_new(r->problems, json_string(msg));
    if (!r->rc) r->rc = weir__error(r->err, WEIR_EINVAL, "%s", msg);
}

static void pick(reader *r, json_t *obj, const char *field, const choice *choices, int *out) {
    json_t *v = json_object_get(obj, field);
    if (!v) return;
    const char *s = json_string_value(v);
    for (const choice *c = choices; s && c->name; c++)
        if (strcmp(s, c->name) == 0) {
            *out = c->value;
            return;
        }
    char must[128] = "";
    for (const choice *c = choices; c->name; c++) {
        size_t l = strlen(must);
        snprintf(must + l, sizeof must - l, "%s\"%s\"", c == choices ? "" : c[1].name ? ", " : " or ", c->name);
    }
    problem(r, field, must);
}

int weir_exec_options_read(json_t *obj, const char *where, weir_exec_options *o, json_t *problems, weir_error *err) {
    reader r = {where ? where : "", problems, err, 0};
    int completion = o->completion, on_error = o->on_error, overflow = o->overflow;
    pick(&r, obj, "completion", COMPLETION, &completion);
    pick(&r, obj, "onError", ON_ERROR, &on_error);
    pick(&r, obj, "overflow", OVERFLOW, &overflow);
    o->completion = (weir_completion)completion;
    o->on_error = (weir_on_error)on_error;
    o->overflow = (weir_overflow)overflow;
    json_t *v = json_object_get(obj, "timeoutMs");
    if (v && (!json_is_integer(v) || json_integer_value(v) < 0))
        problem(&r, "timeoutMs", "a non-negative integer (0 = no timeout)");
    else if (v) o->timeout_ms = json_integer_value(v);
    return r.rc;
}
