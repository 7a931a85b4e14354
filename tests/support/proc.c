#include "proc.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

void proc_tempdir(char *out, size_t cap, const char *name) {
    int n = snprintf(out, cap, "/tmp/weir-%s-XXXXXX", name); /* mkdtemp's template */
    cr_assert(n > 0 && (size_t)n < cap, "no room for the directory name %s", name);
    cr_assert_not_null(mkdtemp(out), "mkdtemp %s", out);
}

char *proc_tempfile(const char *suffix, const char *text) {
    char tmpl[] = "/tmp/weir-test-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0) return NULL;
    close(fd);
    char *path = malloc(strlen(tmpl) + strlen(suffix) + 1);
    sprintf(path, "%s%s", tmpl, suffix);
    rename(tmpl, path);
    FILE *f = fopen(path, "w");
    if (text) fputs(text, f);
    fclose(f);
    return path;
}

proc_result proc_run(const char *cmd) {
    char *o = proc_tempfile(".out", NULL), *e = proc_tempfile(".err", NULL);
    size_t len = strlen(cmd) + strlen(o) + strlen(e) + 32;
    char *full = malloc(len);
    snprintf(full, len, "%s >%s 2>%s", cmd, o, e);
    int st = system(full);
    proc_result r = {WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(o), slurp(e)};
    unlink(o);
    unlink(e);
    free(o);
    free(e);
    free(full);
    return r;
}

void proc_free(proc_result *r) {
    free(r->out);
    free(r->err);
}

double proc_now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

double proc_cpu_ms(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    unsigned long utime = 0, stime = 0;
    /* fields 14 and 15, after the ")" that ends the command name */
    cr_assert_eq(sscanf(strrchr(buf, ')') + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime),
                 2);
    return (double)(utime + stime) * 1e3 / (double)sysconf(_SC_CLK_TCK);
}

long proc_rss_mb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
    fclose(f);
    return kb / 1024;
}
