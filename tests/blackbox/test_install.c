/* `make install` output is usable: a tiny program builds against the
 * installed libweir through pkg-config and runs the quick-reference graph. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

static const char PROGRAM[] =
    "#include <weir/weir.h>\n"
    "#include <stdio.h>\n"
    "#include <string.h>\n"
    "static void settled(void *ud, weir_exec *e, const weir_settled *s) {\n"
    "  (void)ud; (void)e; char *t = json_dumps(s->outputs, JSON_COMPACT); printf(\"%s\\n\", t); free(t);\n"
    "}\n"
    "int main(void) {\n"
    "  const char *g = \"{\\\"symbia\\\":\\\"1\\\",\\\"name\\\":\\\"p\\\",\\\"nodes\\\":[{\\\"id\\\":\\\"m\\\","
    "\\\"component\\\":\\\"symbia.core.map\\\",\\\"config\\\":{\\\"expression\\\":\\\"value * 2\\\"}}],\\\"edges\\\":[]}\";\n"
    "  weir_registry *reg; weir_graph *graph; weir_exec *e; weir_error err;\n"
    "  if (weir_registry_create(&reg) || weir_graph_load_text(reg, g, strlen(g), NULL, &graph, &err)) return 3;\n"
    "  weir_shell sh = {0}; sh.settled = settled;\n"
    "  if (weir_exec_create(graph, NULL, &sh, &e, &err) || weir_exec_start(e, 0, &err)) return 4;\n"
    "  json_t *v = json_integer(21); weir_inject in = {.node = \"m\", .value = v, .flags = WEIR_INJECT_OUTPUTS};\n"
    "  if (weir_exec_inject(e, &in, 0, NULL, &err)) return 5;\n"
    "  json_decref(v); weir_exec_destroy(e); weir_graph_unref(graph); weir_registry_destroy(reg);\n"
    "  return 0;\n"
    "}\n";

Test(install, pkg_config_consumer_builds_and_runs, .timeout = 240) {
    char prefix[] = "/tmp/weir-prefix-XXXXXX";
    cr_assert_not_null(mkdtemp(prefix));
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cmake --install %s --prefix %s", WEIR_BUILD_DIR, prefix);
    proc_result r = proc_run(cmd);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    proc_free(&r);
    snprintf(cmd, sizeof cmd, "test -x %s/bin/weir && ls %s/lib*/libweir.a %s/lib*/libweir.so %s/include/weir/weir.h",
             prefix, prefix, prefix, prefix);
    r = proc_run(cmd);
    cr_assert_eq(r.status, 0, "installed files missing: %s", r.err);
    proc_free(&r);
    char *src = proc_tempfile(".c", PROGRAM);
    const char *san = WEIR_CONSUMER_CFLAGS;
    snprintf(cmd, sizeof cmd,
             "libdir=$(ls -d %s/lib*/pkgconfig | head -1) && PKG_CONFIG_PATH=$libdir cc %s -o %s.bin %s "
             "$(PKG_CONFIG_PATH=$libdir pkg-config --cflags --libs weir) && "
             "LD_LIBRARY_PATH=$(dirname $libdir) %s.bin",
             prefix, san, src, src, src);
    r = proc_run(cmd);
    cr_assert_eq(r.status, 0, "consumer failed (%d): %s%s", r.status, r.out, r.err);
    cr_assert_str_eq(r.out, "{\"m:out\":42}\n");
    proc_free(&r);
    snprintf(cmd, sizeof cmd, "rm -rf %s %s %s.bin", prefix, src, src);
    r = proc_run(cmd);
    proc_free(&r);
    free(src);
}
