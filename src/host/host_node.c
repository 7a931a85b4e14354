/*
 * Which Node.js the component host runs, and how: the executable found on
 * the server's PATH (or given), its version asked once with `--version`,
 * and the permission flag that version accepts.  The processes themselves
 * still get an empty environment: only this lookup reads PATH.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "core/alloc.h"
#include "host/host.h"

#define PROBE_MS 10000 /* `node --version` answers in milliseconds; a hung one is killed */
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* ------------------------------------------------------------ versions */

int weir__host_node_version(const char *text, int *major, int *minor, int *patch) {
    if (!text) return -1;
    while (*text == ' ' || *text == '\t') text++;
    if (*text == 'v') text++;
    int a, b, c, used = 0;
    if (sscanf(text, "%d.%d.%d%n", &a, &b, &c, &used) != 3 || used == 0 || a < 0 || b < 0 || c < 0) return -1;
    *major = a;
    *minor = b;
    *patch = c;
    return 0;
}

const char *weir__host_permission_flag(int major, int minor) {
    if (major < 20) return NULL; /* 18's permission model is not there yet */
    if (major == 20 || major == 21) return "--experimental-permission";
    if (major == 22) return minor >= 13 ? "--permission" : "--experimental-permission";
    if (major == 23) return minor >= 5 ? "--permission" : "--experimental-permission";
    return "--permission"; /* 24 refuses --experimental-permission */
}

/* -------------------------------------------------------------- lookup */

static bool is_executable(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int weir__host_find_node(const char *name, const char *path, char *buf, size_t cap) {
    if (strchr(name, '/')) {
        if ((size_t)snprintf(buf, cap, "%s", name) >= cap) return -1;
        return 0;
    }
    if (!path || !*path) path = DEFAULT_PATH;
    for (const char *dir = path; *dir;) {
        size_t n = strcspn(dir, ":");
        /* Only absolute entries: an empty one, ".", "bin" or "./x" would
         * mean somewhere under the working directory, not a place to pick
         * up an executable from (as sudo's secure lookup). */
        if (n > 0 && dir[0] == '/' && (size_t)snprintf(buf, cap, "%.*s/%s", (int)n, dir, name) < cap && is_executable(buf)) return 0;
        dir += n;
        if (*dir == ':') dir++;
    }
    return -1;
}

/* --------------------------------------------------------------- probe */

typedef struct probe {
    uv_process_t proc;
    uv_pipe_t out;
    uv_timer_t timer;
    char text[256];
    size_t len;
    char sink[256]; /* what does not fit in text is read into it and dropped */
    bool exited, eof, timed_out;
    int64_t status;
    int term_signal;
} probe;

static void probe_close(uv_handle_t *hd) {
    if (!uv_is_closing(hd)) uv_close(hd, NULL);
}

static void probe_maybe_done(probe *pr) {
    if (!pr->exited || !pr->eof) return;
    uv_timer_stop(&pr->timer);
    probe_close((uv_handle_t *)&pr->timer);
    probe_close((uv_handle_t *)&pr->out);
    probe_close((uv_handle_t *)&pr->proc);
}

static void probe_exit(uv_process_t *proc, int64_t status, int term_signal) {
    probe *pr = proc->data;
    pr->exited = true;
    pr->status = status;
    pr->term_signal = term_signal;
    probe_maybe_done(pr);
}

static void probe_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    probe *pr = hd->data;
    size_t room = sizeof pr->text - 1 - pr->len;
    *buf = room ? uv_buf_init(pr->text + pr->len, (unsigned)room) : uv_buf_init(pr->sink, sizeof pr->sink);
}

static void probe_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    probe *pr = s->data;
    if (n < 0) {
        uv_read_stop(s);
        pr->eof = true;
        probe_maybe_done(pr);
        return;
    }
    if (buf->base == pr->text + pr->len) pr->len += (size_t)n;
}

static void probe_timeout(uv_timer_t *t) {
    probe *pr = t->data;
    pr->timed_out = true;
    if (!pr->exited) uv_process_kill(&pr->proc, SIGKILL);
    pr->eof = true; /* a child that left the pipe open to someone else is not waited for */
    uv_read_stop((uv_stream_t *)&pr->out);
    probe_close((uv_handle_t *)&pr->out);
    probe_close((uv_handle_t *)&pr->timer);
    if (pr->exited) probe_close((uv_handle_t *)&pr->proc);
}

/* Run `node --version` on a loop of its own (this runs once, at create,
 * before the caller's loop runs anything of ours); its first line into
 * out.  0, or -1 with why in msg. */
static int probe_version(const char *node, char *out, size_t cap, char *msg, size_t msg_cap) {
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) {
        snprintf(msg, msg_cap, "cannot make a loop to run \"%.300s --version\"", node);
        return -1;
    }
    probe pr = {0};
    pr.proc.data = pr.out.data = pr.timer.data = &pr;
    uv_pipe_init(&loop, &pr.out, 0);
    uv_timer_init(&loop, &pr.timer);
    char *args[] = {(char *)node, "--version", NULL};
    char *env[] = {NULL};
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&pr.out},
        {.flags = UV_IGNORE},
    };
    uv_process_options_t o = {.exit_cb = probe_exit, .file = node, .args = args, .env = env, .stdio_count = 3,
                              .stdio = stdio};
    int rc = uv_spawn(&loop, &pr.proc, &o);
    if (rc != 0) {
        snprintf(msg, msg_cap, "cannot run \"%.300s\": %s", node, uv_strerror(rc));
        probe_close((uv_handle_t *)&pr.out);
        probe_close((uv_handle_t *)&pr.timer);
        probe_close((uv_handle_t *)&pr.proc);
    } else {
        uv_read_start((uv_stream_t *)&pr.out, probe_alloc, probe_read);
        uv_timer_start(&pr.timer, probe_timeout, PROBE_MS, 0);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (rc != 0) return -1;
    pr.text[pr.len] = '\0';
    pr.text[strcspn(pr.text, "\r\n")] = '\0';
    if (pr.timed_out) {
        snprintf(msg, msg_cap, "\"%.300s --version\" did not answer within %d s", node, PROBE_MS / 1000);
        return -1;
    }
    if (pr.term_signal || pr.status != 0) {
        snprintf(msg, msg_cap, "\"%.300s --version\" failed (%s %d)", node, pr.term_signal ? "signal" : "exit code",
                 pr.term_signal ? pr.term_signal : (int)pr.status);
        return -1;
    }
    snprintf(out, cap, "%s", pr.text);
    return 0;
}

/* ----------------------------------------------------------------- setup */

#define NEED "user components need Node.js 20 or newer: "
#define HOW "install Node.js 20 or newer (scripts/deps.sh does) or set WEIR_NODE to its path"

int weir__host_node_setup(weir_host *h, const char *name) {
    char path[4096], msg[1024];
    const char *env_path = getenv("PATH");
    if (weir__host_find_node(name, env_path, path, sizeof path) != 0) {
        snprintf(msg, sizeof msg, NEED "no \"%.100s\" on PATH (%.300s); " HOW, name,
                 env_path && *env_path ? env_path : DEFAULT_PATH);
        snprintf(path, sizeof path, "%s", name);
        h->node = weir__strdup(path);
        h->problem = weir__strdup(msg);
        return h->node && h->problem ? 0 : WEIR_ENOMEM;
    }
    if (!(h->node = weir__strdup(path))) return WEIR_ENOMEM;
    char version[256], why[700];
    int major, minor, patch;
    if (probe_version(path, version, sizeof version, why, sizeof why) != 0) {
        snprintf(msg, sizeof msg, NEED "%.700s; " HOW, why);
    } else if (weir__host_node_version(version, &major, &minor, &patch) != 0) {
        snprintf(msg, sizeof msg, NEED "\"%.300s --version\" said \"%.100s\", not a version; " HOW, path, version);
    } else {
        snprintf(h->node_version, sizeof h->node_version, "v%d.%d.%d", major, minor, patch);
        h->permission_flag = weir__host_permission_flag(major, minor);
        h->strips_types = weir__host_node_strips_types(major, minor);
        if (h->permission_flag) return 0;
        snprintf(msg, sizeof msg, NEED "%.300s is %s, which has no permission model to run them under; " HOW, path,
                 h->node_version);
    }
    return (h->problem = weir__strdup(msg)) ? 0 : WEIR_ENOMEM;
}

/* ------------------------------------------------------------ typescript */

bool weir__host_node_strips_types(int major, int minor) {
    return major > 23 || (major == 23 && minor >= 2) || (major == 22 && minor >= 13);
}

/* dir holds the typescript package (its compiler and package.json). */
static bool is_typescript(const char *dir) {
    char path[4200];
    struct stat st;
    if ((size_t)snprintf(path, sizeof path, "%s/lib/typescript.js", dir) >= sizeof path) return false; /* too long */
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return false;
    if ((size_t)snprintf(path, sizeof path, "%s/package.json", dir) >= sizeof path) return false;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int weir__host_find_typescript(const char *given, const char *node_dir, char *buf, size_t cap) {
    if (given && *given) {
        if (!is_typescript(given) || (size_t)snprintf(buf, cap, "%s", given) >= cap) return -1;
        return 0;
    }
    char places[4][1100];
    size_t n = 0;
    if (node_dir && *node_dir && strlen(node_dir) < 1000)
        snprintf(places[n++], sizeof places[0], "%s/../lib/node_modules/typescript", node_dir);
    snprintf(places[n++], sizeof places[0], "/usr/local/lib/node_modules/typescript");
    snprintf(places[n++], sizeof places[0], "/usr/lib/node_modules/typescript");
    snprintf(places[n++], sizeof places[0], "/usr/share/nodejs/typescript");
    for (size_t i = 0; i < n; i++) {
        char real[PATH_MAX];
        if (!is_typescript(places[i]) || !realpath(places[i], real)) continue;
        if ((size_t)snprintf(buf, cap, "%s", real) >= cap) return -1;
        return 0;
    }
    return -1;
}

int weir__host_typescript_setup(weir_host *h, const char *given) {
    if (h->problem || h->strips_types) return 0;
    char dir[PATH_MAX] = "", found[PATH_MAX];
    const char *slash = h->node ? strrchr(h->node, '/') : NULL;
    if (slash && (size_t)(slash - h->node) < sizeof dir) snprintf(dir, sizeof dir, "%.*s", (int)(slash - h->node), h->node);
    char real[PATH_MAX]; /* node may be a link into its prefix: look there too */
    if (weir__host_find_typescript(given, dir, found, sizeof found) != 0) {
        if ((given && *given) || !h->node || !realpath(h->node, real) || !(slash = strrchr(real, '/'))) return 0;
        *(char *)slash = '\0';
        if (weir__host_find_typescript(NULL, real, found, sizeof found) != 0) return 0;
    }
    size_t n = strlen(found) + 32;
    if (!(h->typescript = weir__strdup(found)) || !(h->ts_read = weir__malloc(n))) return WEIR_ENOMEM;
    snprintf(h->ts_read, n, "--allow-fs-read=%s/*", found);
    return 0;
}
