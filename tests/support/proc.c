#include "proc.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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
