/*
 * Which Node.js the component host runs (src/host/host_node.c): a version
 * read from `node --version`, the permission flag each version accepts,
 * and the lookup of `node` on a PATH.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/host.h"
#include "proc.h"

Test(host_node, versions_are_read_from_what_node_prints) {
    int a, b, c;
    cr_assert_eq(weir__host_node_version("v20.20.2\n", &a, &b, &c), 0);
    cr_assert(a == 20 && b == 20 && c == 2);
    cr_assert_eq(weir__host_node_version("22.13.0", &a, &b, &c), 0);
    cr_assert(a == 22 && b == 13 && c == 0);
    cr_assert_eq(weir__host_node_version("v24.0.0-nightly20250101", &a, &b, &c), 0);
    cr_assert(a == 24 && b == 0 && c == 0);
    cr_assert_eq(weir__host_node_version("", &a, &b, &c), -1);
    cr_assert_eq(weir__host_node_version("hello", &a, &b, &c), -1);
    cr_assert_eq(weir__host_node_version("v20", &a, &b, &c), -1);
    cr_assert_eq(weir__host_node_version("v20.1", &a, &b, &c), -1);
    cr_assert_eq(weir__host_node_version("v-1.2.3", &a, &b, &c), -1);
    cr_assert_eq(weir__host_node_version(NULL, &a, &b, &c), -1);
}

/* Checked against the real binaries: 22.12.0 refuses --permission ("bad
 * option"), 22.23.5 takes both, 24.22.3 refuses --experimental-permission;
 * the others from Node's changelogs (--permission in 22.13.0 and 23.5.0). */
Test(host_node, each_version_gets_the_permission_flag_it_accepts) {
    static const struct {
        int major, minor;
        const char *flag;
    } cases[] = {
        {16, 20, NULL},
        {18, 19, NULL},
        {19, 9, NULL},
        {20, 0, "--experimental-permission"},
        {20, 20, "--experimental-permission"},
        {21, 7, "--experimental-permission"},
        {22, 0, "--experimental-permission"},
        {22, 12, "--experimental-permission"},
        {22, 13, "--permission"},
        {22, 23, "--permission"},
        {23, 0, "--experimental-permission"},
        {23, 4, "--experimental-permission"},
        {23, 5, "--permission"},
        {24, 0, "--permission"},
        {24, 22, "--permission"},
        {26, 12, "--permission"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *got = weir__host_permission_flag(cases[i].major, cases[i].minor);
        if (!cases[i].flag) cr_assert_null(got, "%d.%d: %s", cases[i].major, cases[i].minor, got);
        else cr_assert_str_eq(got, cases[i].flag, "%d.%d", cases[i].major, cases[i].minor);
    }
}

static void touch(const char *path, mode_t mode) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs("#!/bin/sh\n", f);
    fclose(f);
    cr_assert_eq(chmod(path, mode), 0);
}

/* The first regular executable named node along PATH; not a directory or a
 * file that cannot run, not an empty (working directory) entry. */
Test(host_node, node_is_looked_up_along_the_path) {
    char root[128], a[200], b[200], c[200], p[300], path[2048], buf[512];
    proc_tempdir(root, sizeof root, "host-node");
    snprintf(a, sizeof a, "%s/a", root);
    snprintf(b, sizeof b, "%s/b", root);
    snprintf(c, sizeof c, "%s/c", root);
    cr_assert_eq(mkdir(a, 0755), 0);
    cr_assert_eq(mkdir(b, 0755), 0);
    cr_assert_eq(mkdir(c, 0755), 0);
    snprintf(p, sizeof p, "%s/node", a); /* a directory named node */
    cr_assert_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/node", b); /* not executable */
    touch(p, 0644);
    snprintf(p, sizeof p, "%s/node", c);
    touch(p, 0755);
    snprintf(path, sizeof path, "::%s:%s:%s:/nonexistent", a, b, c);
    cr_assert_eq(weir__host_find_node("node", path, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, p);
    /* The first that qualifies wins. */
    char first[300];
    snprintf(first, sizeof first, "%s/node2", b);
    touch(first, 0755);
    char n2[300];
    snprintf(n2, sizeof n2, "%s/node2", c);
    touch(n2, 0755);
    cr_assert_eq(weir__host_find_node("node2", path, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, first);
    /* Not there; and a cwd entry is not searched. */
    cr_assert_eq(weir__host_find_node("nodeX", path, buf, sizeof buf), -1);
    cr_assert_eq(chdir(c), 0);
    cr_assert_eq(weir__host_find_node("node", ":.nonexistent", buf, sizeof buf), -1);
    /* A name with a slash is taken as it is. */
    cr_assert_eq(weir__host_find_node("./node", "", buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "./node");
    /* No room: refused, never cut. */
    cr_assert_eq(weir__host_find_node("node", path, buf, 8), -1);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -r %s", root);
    proc_result r = proc_run(cmd);
    proc_free(&r);
}

/* Relative PATH entries (".", "bin", "./bin", "../x") are never searched:
 * they would pick up a node from the working directory. */
Test(host_node, relative_path_entries_are_skipped) {
    char root[128], bin[200], abs_dir[200], p[300], path[1024], buf[512], cwd[1024];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    proc_tempdir(root, sizeof root, "host-node-rel");
    snprintf(bin, sizeof bin, "%s/bin", root);
    snprintf(abs_dir, sizeof abs_dir, "%s/abs", root);
    cr_assert_eq(mkdir(bin, 0755), 0);
    cr_assert_eq(mkdir(abs_dir, 0755), 0);
    snprintf(p, sizeof p, "%s/node", root);
    touch(p, 0755);
    snprintf(p, sizeof p, "%s/node", bin);
    touch(p, 0755);
    cr_assert_eq(chdir(root), 0);
    bool found_rel = weir__host_find_node("node", ".:bin:./bin:../host-node-rel:abs", buf, sizeof buf) == 0;
    char got[512];
    snprintf(got, sizeof got, "%s", found_rel ? buf : "");
    /* an absolute entry after the relative ones is still found */
    snprintf(p, sizeof p, "%s/node", abs_dir);
    touch(p, 0755);
    snprintf(path, sizeof path, ".:bin:%s", abs_dir);
    int rc = weir__host_find_node("node", path, buf, sizeof buf);
    cr_assert_eq(chdir(cwd), 0);
    cr_assert_not(found_rel, "a relative PATH entry was searched: %s", got);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(buf, p);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -r %s", root);
    proc_result r = proc_run(cmd);
    proc_free(&r);
}

/* Which versions strip TypeScript themselves (module.stripTypeScriptTypes),
 * and where the typescript package is found for the others. */
Test(host_node, typescript_is_stripped_by_node_or_found_as_a_package) {
    cr_assert(!weir__host_node_strips_types(20, 20));
    cr_assert(!weir__host_node_strips_types(22, 12));
    cr_assert(weir__host_node_strips_types(22, 13));
    cr_assert(!weir__host_node_strips_types(23, 1));
    cr_assert(weir__host_node_strips_types(23, 2));
    cr_assert(weir__host_node_strips_types(24, 0));
    char root[128], prefix[200], pkg[300], p[1024], buf[512], nodedir[300];
    proc_tempdir(root, sizeof root, "host-ts");
    snprintf(prefix, sizeof prefix, "%s/prefix", root);
    snprintf(nodedir, sizeof nodedir, "%s/bin", prefix);
    snprintf(pkg, sizeof pkg, "%s/lib/node_modules/typescript", prefix);
    snprintf(p, sizeof p, "mkdir -p %s %s/lib", nodedir, pkg);
    proc_result r = proc_run(p);
    cr_assert_eq(r.status, 0);
    proc_free(&r);
    /* a folder without the compiler is not the package */
    cr_assert_eq(weir__host_find_typescript(pkg, NULL, buf, sizeof buf), -1);
    snprintf(p, sizeof p, "%s/lib/typescript.js", pkg);
    touch(p, 0644);
    cr_assert_eq(weir__host_find_typescript(pkg, NULL, buf, sizeof buf), -1, "no package.json yet");
    snprintf(p, sizeof p, "%s/package.json", pkg);
    touch(p, 0644);
    cr_assert_eq(weir__host_find_typescript(pkg, NULL, buf, sizeof buf), 0, "as given");
    cr_assert_str_eq(buf, pkg);
    /* next to node's npm prefix: <bin>/../lib/node_modules/typescript, resolved */
    cr_assert_eq(weir__host_find_typescript(NULL, nodedir, buf, sizeof buf), 0);
    char real[400];
    cr_assert_not_null(realpath(pkg, real));
    cr_assert_str_eq(buf, real);
    /* given but wrong: not looked for elsewhere */
    cr_assert_eq(weir__host_find_typescript("/nonexistent", nodedir, buf, sizeof buf), -1);
    snprintf(p, sizeof p, "rm -r %s", root);
    r = proc_run(p);
    proc_free(&r);
}
