/* The packaging files at the root work: the Dockerfile builds an image that
 * serves and turns healthy (where a Docker engine is available), and
 * packaging/weir.service passes systemd-analyze (where systemd's tools are).
 * A missing tool skips its test with a message saying so. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

/* The command in a subshell, so proc_run captures the output of all of it. */
static proc_result run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static proc_result run(const char *fmt, ...) {
    char cmd[4096], sub[4100];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    cr_assert(n > 0 && (size_t)n < sizeof cmd, "command too long");
    snprintf(sub, sizeof sub, "(%s)", cmd);
    return proc_run(sub);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ Docker */

static char image[64], container[128];

static void docker_cleanup(void) {
    proc_result r;
    if (container[0]) {
        r = run("docker rm -f %s", container);
        proc_free(&r);
    }
    if (image[0]) {
        r = run("docker rmi -f %s", image);
        proc_free(&r);
    }
}

Test(packaging, docker_image_builds_serves_and_turns_healthy, .fini = docker_cleanup, .timeout = 1800) {
    proc_result r = run("docker info");
    if (r.status != 0) {
        char *nl = strchr(r.err, '\n');
        if (nl) *nl = '\0';
        cr_skip_test("no Docker engine (docker info failed: %s): the Dockerfile is not built here", r.err);
    }
    proc_free(&r);
    snprintf(image, sizeof image, "weir-test-%ld", (long)getpid());
    r = run("docker build -t %s %s", image, WEIR_SOURCE_DIR);
    cr_assert_eq(r.status, 0, "docker build failed (%d):\n%s%s", r.status, r.out, r.err);
    proc_free(&r);

    /* the runtime stage has every library weir and node need */
    r = run("docker run --rm --entrypoint sh %s -c 'weir --version && node --version && id -u'", image);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    cr_assert(strncmp(r.out, "weir ", 5) == 0, "weir --version said: %s", r.out);
    cr_assert(strstr(r.out, "\n10001\n"), "not the weir user (10001): %s", r.out);
    const char *v = strstr(r.out, "\nv");
    cr_assert(v && atoi(v + 2) >= 20, "node older than 20: %s", r.out);
    proc_free(&r);

    /* HOST=0.0.0.0 and no auth: refused at start, naming how to configure auth */
    r = run("docker run --rm %s", image);
    cr_assert_eq(r.status, 2, "served without auth (%d): %s%s", r.status, r.out, r.err);
    cr_assert(strstr(r.err, "API_KEYS"), "the refusal does not name API_KEYS: %s", r.err);
    proc_free(&r);

    /* with auth it serves, and the HEALTHCHECK finds /health/ready */
    r = run("docker run -d --health-interval=1s --health-start-period=1s -e API_KEYS=test-key-0123456789 %s", image);
    cr_assert_eq(r.status, 0, "docker run failed: %s%s", r.out, r.err);
    snprintf(container, sizeof container, "%.*s", (int)strcspn(r.out, "\n"), r.out);
    proc_free(&r);
    char status[64] = "";
    for (double t0 = now_s(); now_s() - t0 < 120;) {
        r = run("docker inspect -f '{{.State.Health.Status}}' %s", container);
        snprintf(status, sizeof status, "%.*s", (int)strcspn(r.out, "\n"), r.out);
        proc_free(&r);
        if (strcmp(status, "healthy") == 0 || strcmp(status, "unhealthy") == 0) break;
        usleep(200 * 1000); /* a container state change has no event to wait on here */
    }
    if (strcmp(status, "healthy") != 0) {
        r = run("docker logs %s", container);
        cr_assert_str_eq(status, "healthy", "the container's log:\n%s%s", r.out, r.err);
    }
}

/* ----------------------------------------------------------------- systemd */

/* The unit with ExecStart pointing at this build's weir (verify checks that
 * the program exists). */
static char *unit_copy(void) {
    char dir[256];
    proc_tempdir(dir, sizeof dir, "unit");
    char *path = malloc(strlen(dir) + 32);
    sprintf(path, "%s/weir.service", dir);
    proc_result r = run("sed 's#^ExecStart=/usr/local/bin/weir #ExecStart=%s #' %s/packaging/weir.service >%s && "
                        "grep -q '^ExecStart=%s serve$' %s",
                        WEIR_BINARY, WEIR_SOURCE_DIR, path, WEIR_BINARY, path);
    cr_assert_eq(r.status, 0, "ExecStart not rewritten: %s", r.err);
    proc_free(&r);
    return path;
}

static void need_systemd_analyze(void) {
    proc_result r = run("command -v systemd-analyze");
    if (r.status != 0) cr_skip_test("systemd-analyze not installed: packaging/weir.service is not checked here");
    proc_free(&r);
}

Test(packaging, systemd_unit_verifies_clean) {
    need_systemd_analyze();
    char *unit = unit_copy();
    proc_result r = run("systemd-analyze verify --man=no %s", unit);
    cr_assert_eq(r.status, 0, "systemd-analyze verify failed (%d): %s%s", r.status, r.out, r.err);
    cr_assert_str_eq(r.err, "", "systemd-analyze verify warns:\n%s", r.err);
    proc_free(&r);
    r = run("rm -rf $(dirname %s)", unit);
    proc_free(&r);
    free(unit);
}

/* Hardened: systemd's own exposure score stays at 2.0 or lower ("OK"), and
 * MemoryDenyWriteExecute is not set (Node.js's JIT needs W+X memory). */
Test(packaging, systemd_unit_is_hardened_but_lets_node_jit) {
    need_systemd_analyze();
    char *unit = unit_copy();
    proc_result r = run("systemd-analyze security --offline=yes --threshold=20 %s", unit);
    cr_assert_eq(r.status, 0, "exposure above 2.0 (%d):\n%s%s", r.status, r.out, r.err);
    proc_free(&r);
    r = run("grep -E '^(DynamicUser|StateDirectory|Environment|NoNewPrivileges|ProtectSystem|ProtectHome|PrivateTmp|"
            "PrivateDevices|RestrictAddressFamilies|SystemCallArchitectures)=' %s",
            unit);
    cr_assert(strstr(r.out, "DynamicUser=yes\n") && strstr(r.out, "StateDirectory=weir\n") &&
                  strstr(r.out, "Environment=DATA_DIR=/var/lib/weir\n") && strstr(r.out, "ProtectSystem=strict\n"),
              "unit lacks its user, state or hardening lines:\n%s", r.out);
    proc_free(&r);
    r = run("grep -E '^[[:space:]]*MemoryDenyWriteExecute' %s", unit);
    cr_assert_neq(r.status, 0, "MemoryDenyWriteExecute is set: user components' Node.js cannot JIT: %s", r.out);
    proc_free(&r);
    r = run("rm -rf $(dirname %s)", unit);
    proc_free(&r);
    free(unit);
}
