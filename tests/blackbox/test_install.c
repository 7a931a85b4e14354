/* `make install` output is usable: a tiny program builds against the
 * installed libweir through pkg-config and through CMake's find_package(weir)
 * and runs the quick-reference graph; the installed weir.h compiles as C99
 * and C11 with -pedantic; the installed man pages have no warnings. */
#include <criterion/criterion.h>
#include <stdarg.h>
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

/* What every consumer prints: the map doubled 21. */
static const char EXPECTED[] = "{\"m:out\":42}\n";

/* The compiler and flags the library was built with (a sanitizer build's
 * consumers must link the same sanitizer runtime). */
static const char *const CC = WEIR_CONSUMER_CC;
static const char *const SAN = WEIR_CONSUMER_CFLAGS;

static proc_result run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The command in a subshell, so proc_run captures the output of all of it. */
static proc_result vrun(const char *fmt, va_list ap) {
    char cmd[8192], sub[8200];
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    cr_assert(n > 0 && (size_t)n < sizeof cmd, "command too long");
    snprintf(sub, sizeof sub, "(%s)", cmd);
    return proc_run(sub);
}

static proc_result run(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    proc_result r = vrun(fmt, ap);
    va_end(ap);
    return r;
}

static void run_ok(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void run_ok(const char *what, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    proc_result r = vrun(fmt, ap);
    va_end(ap);
    static char msg[8192]; /* the output outlives proc_free: a failing assert leaks nothing */
    snprintf(msg, sizeof msg, "%s%s", r.out, r.err);
    int status = r.status;
    proc_free(&r);
    cr_assert_eq(status, 0, "%s failed (%d):\n%s", what, status, msg);
}

static void write_file(const char *dir, const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* `cmake --install` of this build into a fresh prefix (the caller removes it). */
static void install_into(char *prefix, size_t cap) {
    proc_tempdir(prefix, cap, "prefix");
    run_ok("cmake --install", "cmake --install %s --prefix %s", WEIR_BUILD_DIR, prefix);
}

static void remove_tree(const char *dir) {
    proc_result r = run("rm -rf %s", dir);
    proc_free(&r);
}

Test(install, pkg_config_consumer_builds_and_runs, .timeout = 240) {
    char prefix[256];
    install_into(prefix, sizeof prefix);
    run_ok("installed files", "test -x %s/bin/weir && ls %s/lib*/libweir.a %s/lib*/libweir.so %s/include/weir/weir.h",
           prefix, prefix, prefix, prefix);
    write_file(prefix, "consumer.c", PROGRAM);
    proc_result r = run("libdir=$(ls -d %s/lib*/pkgconfig | head -1) && PKG_CONFIG_PATH=$libdir %s %s -o %s/consumer "
                        "%s/consumer.c $(PKG_CONFIG_PATH=$libdir pkg-config --cflags --libs weir) && "
                        "LD_LIBRARY_PATH=$(dirname $libdir) %s/consumer",
                        prefix, CC, SAN, prefix, prefix, prefix);
    cr_assert_eq(r.status, 0, "consumer failed (%d): %s%s", r.status, r.out, r.err);
    cr_assert_str_eq(r.out, EXPECTED);
    proc_free(&r);
    remove_tree(prefix);
}

/* weir.pc: only jansson (whose types weir.h shows) is a public dependency;
 * the rest is for static linking, and the licence is stated. */
Test(install, pkg_config_file_names_public_and_private_dependencies, .timeout = 240) {
    char prefix[256];
    install_into(prefix, sizeof prefix);
    proc_result r = run("PKG_CONFIG_PATH=$(ls -d %s/lib*/pkgconfig | head -1) pkg-config --print-requires weir && "
                        "echo -- && PKG_CONFIG_PATH=$(ls -d %s/lib*/pkgconfig | head -1) "
                        "pkg-config --print-requires-private weir && head -1 %s/lib*/pkgconfig/weir.pc",
                        prefix, prefix, prefix);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    cr_assert_str_eq(r.out, "jansson\n--\nlibuv\nlibcurl\nyaml-0.1\n# SPDX-License-Identifier: MIT\n");
    proc_free(&r);
    remove_tree(prefix);
}

static const char CMAKE_PROJECT[] = "cmake_minimum_required(VERSION 3.18)\n"
                                    "project(consumer C)\n"
                                    "find_package(weir 0.1 REQUIRED)\n"
                                    "add_executable(shared_consumer consumer.c)\n"
                                    "target_link_libraries(shared_consumer PRIVATE weir::weir)\n"
                                    "add_executable(static_consumer consumer.c)\n"
                                    "target_link_libraries(static_consumer PRIVATE weir::weir_static)\n";

Test(install, cmake_find_package_consumer_builds_and_runs, .timeout = 300) {
    char prefix[256];
    install_into(prefix, sizeof prefix);
    char src[300];
    snprintf(src, sizeof src, "%s/consumer", prefix);
    run_ok("mkdir", "mkdir -p %s", src);
    write_file(src, "consumer.c", PROGRAM);
    write_file(src, "CMakeLists.txt", CMAKE_PROJECT);
    run_ok("consumer configure",
           "cmake -S %s -B %s/build -DCMAKE_PREFIX_PATH=%s -DCMAKE_C_COMPILER=%s '-DCMAKE_C_FLAGS=%s' "
           "'-DCMAKE_EXE_LINKER_FLAGS=%s'",
           src, src, prefix, CC, SAN, SAN);
    run_ok("consumer build", "cmake --build %s/build", src);
    /* the shared consumer finds libweir.so through the RPATH CMake gave it */
    proc_result r = run("%s/build/shared_consumer && %s/build/static_consumer", src, src);
    cr_assert_eq(r.status, 0, "consumer failed (%d): %s%s", r.status, r.out, r.err);
    char both[64];
    snprintf(both, sizeof both, "%s%s", EXPECTED, EXPECTED);
    cr_assert_str_eq(r.out, both);
    proc_free(&r);
    r = run("ldd %s/build/shared_consumer", src);
    cr_assert(strstr(r.out, "libweir.so.0"), "shared_consumer is not linked to libweir.so: %s", r.out);
    proc_free(&r);
    /* another minor version does not match (0.x may break the API) */
    write_file(src, "CMakeLists.txt", "cmake_minimum_required(VERSION 3.18)\nproject(c C)\nfind_package(weir 0.2 REQUIRED)\n");
    r = run("cmake -S %s -B %s/build2 -DCMAKE_PREFIX_PATH=%s", src, src, prefix);
    cr_assert_neq(r.status, 0, "find_package(weir 0.2) matched 0.1: %s", r.out);
    proc_free(&r);
    remove_tree(prefix);
}

/* The public header is C99 (and C11): a consumer with -pedantic -Werror. */
Test(install, header_compiles_as_c99_and_c11_pedantic, .timeout = 240) {
    char prefix[256];
    install_into(prefix, sizeof prefix);
    write_file(prefix, "one.c", "#include <weir/weir.h>\nint main(void) { return weir_strerror(WEIR_ENOMEM) == 0; }\n");
    static const char *const STDS[] = {"c99", "c11"};
    for (size_t i = 0; i < sizeof STDS / sizeof *STDS; i++)
        run_ok(STDS[i],
               "PKG_CONFIG_PATH=$(ls -d %s/lib*/pkgconfig | head -1) && export PKG_CONFIG_PATH && "
               "%s -std=%s -pedantic -Wall -Wextra -Werror -c -o %s/one.o %s/one.c $(pkg-config --cflags weir)",
               prefix, CC, STDS[i], prefix, prefix);
    remove_tree(prefix);
}

/* weir.1 and weir-serve.1 are installed, format without a warning, and say
 * what --help says: every setting of `weir serve --help`, every command of
 * `weir --help`. */
Test(install, man_pages_are_installed_clean_and_follow_help, .timeout = 240) {
    char prefix[256];
    install_into(prefix, sizeof prefix);
    static const char *const PAGES[] = {"weir", "weir-serve"};
    for (size_t i = 0; i < sizeof PAGES / sizeof *PAGES; i++) {
        proc_result r = run("man --warnings -l %s/share/man/man1/%s.1 >/dev/null", prefix, PAGES[i]);
        cr_assert_eq(r.status, 0, "man %s failed (%d): %s", PAGES[i], r.status, r.err);
        cr_assert_str_eq(r.err, "", "man --warnings on %s.1 warns:\n%s", PAGES[i], r.err);
        proc_free(&r);
    }
    /* each environment variable of the settings table, from the binary's own help */
    proc_result r = run("%s serve --help | awk '/^  --/ {print $2}' >%s/envs && test -s %s/envs && "
                        "while read env; do grep -q -- \", $env\\$\" %s/share/man/man1/weir-serve.1 || "
                        "echo \"missing $env\"; done <%s/envs",
                        WEIR_BINARY, prefix, prefix, prefix, prefix);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    cr_assert_str_eq(r.out, "", "weir-serve.1 lacks settings of weir serve --help:\n%s", r.out);
    proc_free(&r);
    r = run("%s --help | awk '/^Commands:/ {c = 1; next} /^$/ {c = 0} c {print $1}' >%s/cmds && test -s %s/cmds && "
            "while read cmd; do grep -qx \"$cmd.*\" %s/share/man/man1/weir.1 || echo \"missing $cmd\"; done <%s/cmds",
            WEIR_BINARY, prefix, prefix, prefix, prefix);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    cr_assert_str_eq(r.out, "", "weir.1 lacks commands of weir --help:\n%s", r.out);
    proc_free(&r);
    remove_tree(prefix);
}
