/* The component registry and the built-in descriptors. */
#include <string.h>

#include "shell.h"

Test(registry, builtins_are_the_ten_of_the_spec_and_the_sources) {
    weir_registry *reg;
    cr_assert_eq(weir_registry_create(&reg), 0);
    cr_assert_eq(weir_registry_count(reg), 15);
    cr_assert_not_null(weir_registry_find(reg, "symbia.core.interval"));
    cr_assert_not_null(weir_registry_find(reg, "symbia.core.cron"));
    cr_assert_not_null(weir_registry_find(reg, "symbia.io.http-request"));
    cr_assert_not_null(weir_registry_find(reg, "symbia.io.http-in"));
    cr_assert_not_null(weir_registry_find(reg, "symbia.io.http-response"));
    cr_assert_not_null(weir_registry_find(reg, "symbia.state.once"));
    cr_assert_null(weir_registry_find(reg, "symbia.core.nope"));
    weir_registry_destroy(reg);
}

Test(registry, every_builtin_default_is_json_and_allowed_by_its_table) {
    for (const weir_component *const *c = weir_builtin_components(); *c; c++) {
        for (size_t i = 0; i < (*c)->n_config; i++) {
            const weir_config_def *d = &(*c)->config[i];
            cr_assert_not_null(d->description, "%s.%s has no description", (*c)->id, d->key);
            if (!d->default_json) continue;
            json_t *v = json_loads(d->default_json, JSON_DECODE_ANY, NULL);
            cr_assert_not_null(v, "%s.%s default is not JSON", (*c)->id, d->key);
            if (d->enum_values) {
                bool found = false;
                for (const char *const *e = d->enum_values; *e; e++) found |= strcmp(*e, json_string_value(v)) == 0;
                cr_assert(found, "%s.%s default is not in its enum", (*c)->id, d->key);
            }
            json_decref(v);
        }
        json_t *j = weir_component_json(*c);
        cr_assert_not_null(j, "%s has no JSON form", (*c)->id);
        cr_assert_str_eq(json_string_value(json_object_get(j, "id")), (*c)->id);
        json_decref(j);
    }
}

static int noop(weir_ctx *ctx, unsigned port, json_t *v) {
    (void)ctx;
    (void)port;
    (void)v;
    return 0;
}

static int noinit(weir_ctx *ctx) {
    (void)ctx;
    return 0;
}

Test(registry, malformed_descriptors_are_refused_with_a_reason) {
    weir_registry *reg;
    cr_assert_eq(weir_registry_create_empty(&reg), 0);
    weir_error err;
    static const weir_port_def in[] = {{"in", NULL, NULL}}, twice[] = {{"a", NULL, NULL}, {"a", NULL, NULL}};
    weir_component c = {.id = "plain", .inputs = in, .n_inputs = 1, .process = noop};
    cr_assert_eq(weir_registry_add(reg, &c, &err), WEIR_EINVAL);
    cr_assert(strstr(err.message, "namespaced id"), "%s", err.message);
    c.id = "acme.x";
    c.process = NULL;
    cr_assert_eq(weir_registry_add(reg, &c, &err), WEIR_EINVAL);
    c.process = noop;
    c.outputs = twice;
    c.n_outputs = 2;
    cr_assert_eq(weir_registry_add(reg, &c, &err), WEIR_EINVAL);
    cr_assert(strstr(err.message, "declared twice"), "%s", err.message);
    c.n_outputs = 0;
    c.n_inputs = 0;
    cr_assert_eq(weir_registry_add(reg, &c, &err), WEIR_EINVAL);
    cr_assert(strstr(err.message, "no input port"), "%s", err.message);
    /* a source (no input) starts itself in init and needs no process */
    weir_component src = {.id = "acme.src", .init = noinit};
    cr_assert_eq(weir_registry_add(reg, &src, &err), 0, "%s", err.message);
    cr_assert_eq(weir_registry_remove(reg, "acme.src"), 0);
    c.n_inputs = 1;
    cr_assert_eq(weir_registry_add(reg, &c, &err), 0);
    cr_assert_eq(weir_registry_count(reg), 1);
    weir_registry_destroy(reg);
}

Test(registry, strerror_and_errname_cover_every_code) {
    cr_assert_str_eq(weir_strerror(WEIR_EFULL), "queue full");
    cr_assert_str_eq(weir_errname(WEIR_ESTALE), "WEIR_ESTALE");
    cr_assert_str_eq(weir_strerror(12345), "unknown error");
}

Test(registry, a_default_that_is_not_json_is_refused_at_registration) {
    /* Accepted, it made every graph using the component fail to load with
     * "out of memory". */
    weir_registry *reg;
    cr_assert_eq(weir_registry_create_empty(&reg), 0);
    weir_error err;
    static const weir_port_def in[] = {{"in", NULL, NULL}};
    static const weir_config_def cfg[] = {{.key = "mode", .type = WEIR_CFG_STRING, .default_json = "fast"}};
    weir_component c = {.id = "acme.x", .inputs = in, .n_inputs = 1, .config = cfg, .n_config = 1, .process = noop};
    cr_assert_eq(weir_registry_add(reg, &c, &err), WEIR_EINVAL);
    cr_assert(strstr(err.message, "config \"mode\"") && strstr(err.message, "default"), "%s", err.message);
    c.config = NULL; /* n_config 1 and no table */
    cr_assert_eq(weir_registry_add(reg, &c, &err), WEIR_EINVAL);
    cr_assert_eq(weir_registry_count(reg), 0);
    weir_registry_destroy(reg);
}
