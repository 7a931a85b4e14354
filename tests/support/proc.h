/* Running the real weir binary from black-box tests. */
#ifndef WEIR_TEST_PROC_H
#define WEIR_TEST_PROC_H
#include <stddef.h>
#include <sys/types.h>

typedef struct proc_result {
    int status; /* exit code, or -1 if killed */
    char *out;  /* stdout, NUL-terminated (malloc) */
    char *err;  /* stderr */
} proc_result;

/* Run `cmd` through /bin/sh with stdout and stderr captured. */
proc_result proc_run(const char *cmd);
void proc_free(proc_result *r);
/* Make a fresh directory /tmp/weir-<name>-<random> and write its path into
 * out (cap bytes); asserts it was made. */
void proc_tempdir(char *out, size_t cap, const char *name);
/* Write text to a fresh temporary file; returns its path (malloc). */
char *proc_tempfile(const char *suffix, const char *text);

/* Monotonic time in ms. */
double proc_now_ms(void);
/* CPU time process pid has used (user + system), in ms (from /proc). */
double proc_cpu_ms(pid_t pid);
/* Resident size of process pid in MB (from /proc). */
long proc_rss_mb(pid_t pid);

#endif
