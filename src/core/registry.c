/* The component registry: descriptors by id, and their JSON form. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

struct weir_registry {
    const weir_component **items;
    size_t n, cap;
};

int weir_registry_create_empty(weir_registry **out) {
    *out = weir__calloc(1, sizeof **out);
    return *out ? 0 : WEIR_ENOMEM;
}

int weir_registry_create(weir_registry **out) {
    int rc = weir_registry_create_empty(out);
    if (rc) return rc;
    for (const weir_component *const *c = weir_builtin_components(); *c; c++) {
        rc = weir_registry_add(*out, *c, NULL);
        if (rc) {
            weir_registry_destroy(*out);
            *out = NULL;
            return rc;
        }
    }
    return 0;
}

void weir_registry_destroy(weir_registry *reg) {
    if (!reg) return;
    weir__free(reg->items);
    weir__free(reg);
}

static int check_ports(const weir_port_def *ports, size_t n, const char *what, const weir_component *c,
                       weir_error *err) {
    if (n && !ports) return weir__error(err, WEIR_EINVAL, "component %s: %s is NULL but n_%s is %zu", c->id, what, what, n);
    for (size_t i = 0; i < n; i++) {
        if (!ports[i].name || !ports[i].name[0])
            return weir__error(err, WEIR_EINVAL, "component %s: %s[%zu] has no name", c->id, what, i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(ports[i].name, ports[j].name) == 0)
                return weir__error(err, WEIR_EINVAL, "component %s: %s port \"%s\" is declared twice", c->id,
                                   what, ports[i].name);
    }
    return 0;
}

/* 0, WEIR_EINVAL when `text` is not JSON, or WEIR_ENOMEM.  jansson reports an
 * allocation failure inside a token as a syntax error, so a failure only
 * counts as bad JSON when it repeats with memory to spare. */
static int check_default(const char *text) {
    for (int attempt = 0; attempt < 2; attempt++) {
        json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
        if (v) {
            json_decref(v);
            return 0;
        }
        void *probe = weir__malloc(4096);
        if (!probe) return WEIR_ENOMEM;
        weir__free(probe);
    }
    return WEIR_EINVAL;
}

int weir_registry_add(weir_registry *reg, const weir_component *c, weir_error *err) {
    if (!reg || !c) return weir__error(err, WEIR_EINVAL, "registry and component are required");
    if (!c->id || !c->id[0] || !strchr(c->id, '.'))
        return weir__error(err, WEIR_EINVAL,
                           "a component needs a namespaced id such as \"acme.math.square\" (got \"%s\")",
                           c->id ? c->id : "");
    /* A source (no input port: symbia.core.interval) starts itself in init
     * and is never sent a message; every other component needs process. */
    bool source = c->n_inputs == 0 && !(c->flags & WEIR_COMPONENT_DYNAMIC_INPUTS);
    if (!c->process && !source) return weir__error(err, WEIR_EINVAL, "component %s has no process callback", c->id);
    int rc = check_ports(c->inputs, c->n_inputs, "inputs", c, err);
    if (!rc) rc = check_ports(c->outputs, c->n_outputs, "outputs", c, err);
    if (rc) return rc;
    if (source && !c->init)
        return weir__error(err, WEIR_EINVAL, "component %s declares no input port and has no init to start itself",
                           c->id);
    if (c->n_config && !c->config)
        return weir__error(err, WEIR_EINVAL, "component %s: config is NULL but n_config is %zu", c->id, c->n_config);
    for (size_t i = 0; i < c->n_config; i++) {
        const weir_config_def *d = &c->config[i];
        if (!d->key) return weir__error(err, WEIR_EINVAL, "component %s: config[%zu] has no key", c->id, i);
        /* Checked here: graph loading takes a bad default for out of memory. */
        rc = d->default_json ? check_default(d->default_json) : 0;
        if (rc == WEIR_ENOMEM) return weir__error(err, WEIR_ENOMEM, "out of memory");
        if (rc)
            return weir__error(err, WEIR_EINVAL, "component %s: config \"%s\" has a default that is not JSON: %s",
                               c->id, d->key, d->default_json);
    }
    if (weir_registry_find(reg, c->id))
        return weir__error(err, WEIR_EEXISTS, "a component with id \"%s\" is already registered", c->id);
    if (weir__grow((void **)&reg->items, &reg->cap, reg->n + 1, sizeof *reg->items))
        return weir__error(err, WEIR_ENOMEM, "out of memory");
    reg->items[reg->n++] = c;
    return 0;
}

const weir_component *weir_registry_find(const weir_registry *reg, const char *id) {
    if (!reg || !id) return NULL;
    for (size_t i = 0; i < reg->n; i++)
        if (strcmp(reg->items[i]->id, id) == 0) return reg->items[i];
    return NULL;
}

int weir_registry_remove(weir_registry *reg, const char *id) {
    for (size_t i = 0; reg && id && i < reg->n; i++)
        if (strcmp(reg->items[i]->id, id) == 0) {
            memmove(&reg->items[i], &reg->items[i + 1], (reg->n - i - 1) * sizeof *reg->items);
            reg->n--;
            return 0;
        }
    return WEIR_ENOTFOUND;
}

size_t weir_registry_count(const weir_registry *reg) { return reg ? reg->n : 0; }

const weir_component *weir_registry_at(const weir_registry *reg, size_t i) {
    return reg && i < reg->n ? reg->items[i] : NULL;
}

static const char *const type_names[] = {"any", "string", "number", "integer", "boolean", "object", "array",
                                         "expression"};

const char *weir__cfg_type_name(weir_cfg_type t) {
    return (unsigned)t < sizeof type_names / sizeof *type_names ? type_names[t] : "any";
}

static json_t *ports_json(const weir_port_def *p, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_t *o = json_pack("{s:s}", "name", p[i].name);
        if (o && p[i].description) json_object_set_new(o, "description", json_string(p[i].description));
        if (o && p[i].schema) {
            json_t *s = json_loads(p[i].schema, 0, NULL);
            if (s) json_object_set_new(o, "schema", s);
        }
        if (!o || json_array_append_new(a, o)) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *weir_component_json(const weir_component *c) {
    if (!c) return NULL;
    json_t *cfg = json_object();
    for (size_t i = 0; cfg && i < c->n_config; i++) {
        const weir_config_def *d = &c->config[i];
        json_t *o = json_pack("{s:s,s:b}", "type", weir__cfg_type_name(d->type), "required", d->required);
        if (!o) break;
        if (d->default_json) json_object_set_new(o, "default", json_loads(d->default_json, JSON_DECODE_ANY, NULL));
        if (d->enum_values) {
            json_t *e = json_array();
            for (const char *const *v = d->enum_values; e && *v; v++) json_array_append_new(e, json_string(*v));
            json_object_set_new(o, "enum", e);
        }
        if (d->alias) json_object_set_new(o, "alias", json_string(d->alias));
        if (d->has_min) json_object_set_new(o, "minimum", json_real(d->min));
        if (d->description) json_object_set_new(o, "description", json_string(d->description));
        json_object_set_new(cfg, d->key, o);
    }
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:o,s:o,s:b,s:b},s:o}", "id", c->id, "name",
                          c->name ? c->name : c->id, "version", c->version ? c->version : "1.0.0", "category",
                          c->category ? c->category : "custom", "description",
                          c->description ? c->description : "", "ports", "inputs",
                          ports_json(c->inputs, c->n_inputs), "outputs", ports_json(c->outputs, c->n_outputs),
                          "dynamicInputs", (c->flags & WEIR_COMPONENT_DYNAMIC_INPUTS) != 0, "dynamicOutputs",
                          (c->flags & WEIR_COMPONENT_DYNAMIC_OUTPUTS) != 0, "config", cfg);
    return j;
}
