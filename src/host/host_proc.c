/*
 * One process of the component host: spawned with uv_spawn, spoken to in
 * newline-delimited JSON over its stdin/stdout, its stderr kept for the
 * reason it died.  See host.h for the invariants.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "core/alloc.h"
#include "core/error.h"
#include "host/host.h"

#define STARTUP_MS 15000           /* a process that is not ready by then is killed */
#define GRACE_MS 1000              /* beyond the call's time limit, before the C timer kills */
#define COMPILE_MS 15000           /* more when the call compiles TypeScript or WebAssembly first */
#define MAX_LINE ((size_t)64 << 20) /* the longest answer accepted */

/* ---------------------------------------------------------------- closing */

static void proc_free(hproc *p) {
    weir_host *h = p->h;
    for (size_t i = 0; i < p->n_loaded; i++) weir__free(p->loaded[i]);
    weir__free(p->loaded);
    weir__free(p->line);
    weir__free(p);
    weir__host_handle_closed(h);
}

static void handle_closed(uv_handle_t *hd) {
    hproc *p = hd->data;
    if (--p->open_handles == 0) proc_free(p);
}

static void close_handle(uv_handle_t *hd) {
    if (!uv_is_closing(hd)) uv_close(hd, handle_closed);
}

/* Close what can close now: pipes and timer at once; the process handle
 * only once the child has exited (closing it earlier leaves a zombie). */
static void close_handles(hproc *p) {
    uv_timer_stop(&p->timer);
    close_handle((uv_handle_t *)&p->timer);
    close_handle((uv_handle_t *)&p->in);
    close_handle((uv_handle_t *)&p->out);
    close_handle((uv_handle_t *)&p->err);
    if (p->exited) close_handle((uv_handle_t *)&p->process);
}

static void pool_unlink(hproc *p) {
    weir_host *h = p->h;
    for (hproc **pp = &h->procs; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            h->n_procs--;
            if (!p->ready) h->n_starting--;
            break;
        }
    p->next = NULL;
}

/* The process group of pid (field 5 of /proc/<pid>/stat), or -1.  *ppid
 * (when not NULL) gets its parent (field 4). */
static int stat_of(int pid, int *ppid) {
#ifdef __linux__
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *end = strrchr(buf, ')'); /* the command name may hold anything */
    int parent, group;
    if (!end || sscanf(end + 1, " %*c %d %d", &parent, &group) != 2) return -1;
    if (ppid) *ppid = parent;
    return group;
#else
    (void)pid;
    (void)ppid;
    return -1;
#endif
}

#ifdef __linux__
/* Is pid p's spawned process or one of its descendants (its parent chain,
 * read from /proc, reaches the spawned process)?  What a child says about
 * itself is checked this way before weir kills or limits it. */
static bool is_ours(const hproc *p, int pid) {
    int root = p->process.pid;
    for (int depth = 0; depth < 32 && pid > 1; depth++) {
        if (pid == root) return true;
        int parent;
        if (stat_of(pid, &parent) < 0) return false;
        pid = parent;
    }
    return false;
}
#endif

/* SIGKILL p's process group (the spawned process leads its own session:
 * UV_PROCESS_DETACHED), so a node behind a wrapper that did not exec it
 * goes too.  While the leader is not reaped its pid (the group's id) is
 * not reused; once it is, the group is killed only while the node it
 * started is still in it. */
static void kill_group(hproc *p) {
    int group = p->process.pid;
    if (group <= 1) return;
    if (!p->exited || (p->node_pid > 1 && stat_of(p->node_pid, NULL) == group)) kill(-group, SIGKILL);
}

void weir__host_kill(hproc *p) {
    if (p->killed) return;
    p->killed = true;
    pool_unlink(p);
    kill_group(p);
    if (!p->exited) uv_process_kill(&p->process, SIGKILL);
    close_handles(p);
}

/* --------------------------------------------------------------- reasons */

void weir__host_oom_message(const weir_host *h, const char *said, char *buf, size_t cap) {
#ifdef __linux__
    snprintf(buf, cap,
             "the component host ran out of memory: %s (the limit is %u MB of JavaScript heap and %llu MB in all, "
             "ISOLATE_MEMORY_MB)",
             said, h->memory_mb, (unsigned long long)h->memory_mb + HOST_NODE_OVERHEAD_MB);
#else
    snprintf(buf, cap, "the component host ran out of memory: %s (the limit is %u MB of JavaScript heap, "
             "ISOLATE_MEMORY_MB)", said, h->memory_mb);
#endif
}

/* Why p exited, from its stderr and its status, into buf; p->oom when it
 * said it ran out of memory (V8 says "FATAL ERROR: ... out of memory" for
 * its heap, "Fatal process out of memory: ..." when the system refused). */
static void exit_reason(hproc *p, char *buf, size_t cap) {
    char head[sizeof p->errhead + 1], tail[sizeof p->errtail + 1];
    memcpy(head, p->errhead, p->errhead_len);
    head[p->errhead_len] = '\0';
    memcpy(tail, p->errtail, p->errtail_len);
    tail[p->errtail_len] = '\0';
    static const char *const marks[] = {"FATAL ERROR:", "Fatal process out of memory"};
    const char *fatal = NULL;
    for (size_t i = 0; i < 2 && !fatal; i++) fatal = strstr(head, marks[i]);
    for (size_t i = 0; i < 2 && !fatal; i++) fatal = strstr(tail, marks[i]);
    char said[512] = "";
    if (fatal) {
        size_t fl = strcspn(fatal, "\n");
        snprintf(said, sizeof said, "%.*s", (int)(fl < 500 ? fl : 500), fatal);
    } else { /* the last line that says something */
        char *end = tail + p->errtail_len;
        while (end > tail && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ')) end--;
        *end = '\0';
        char *start = strrchr(tail, '\n');
        snprintf(said, sizeof said, "%.500s", start ? start + 1 : tail);
    }
    char status[64];
    if (p->term_signal) snprintf(status, sizeof status, "killed by signal %d", p->term_signal);
    else snprintf(status, sizeof status, "exit code %lld", (long long)p->exit_status);
    p->oom = fatal && (strstr(said, "out of memory") || strstr(said, "Allocation failed"));
    if (p->oom) weir__host_oom_message(p->h, said, buf, cap);
    else if (said[0]) snprintf(buf, cap, "%s (%s)", said, status);
    else snprintf(buf, cap, "%s", status);
}

/* Once the child has exited and its stderr is read to the end, whatever it
 * was doing has failed. */
static void maybe_finish_exit(hproc *p) {
    if (!p->exited || (!p->err_eof && !p->killed)) return;
    weir_host *h = p->h;
    if (p->killed) { /* it was taken out of the pool and its call settled already */
        close_handles(p);
        return;
    }
    char reason[800];
    exit_reason(p, reason, sizeof reason);
    bool was_ready = p->ready;
    weir__host_kill(p); /* out of the pool; closes everything */
    char msg[1000];
    if (!was_ready) {
        if (strstr(reason, "bad option"))
            snprintf(msg, sizeof msg,
                     "the component host could not start: %s (Node.js %s refused a flag weir passes for that version)",
                     reason, h->node_version);
        else snprintf(msg, sizeof msg, "the component host could not start: %s", reason);
        weir__host_start_failed(h, msg);
    } else if (p->call) {
        if (p->oom) snprintf(msg, sizeof msg, "%s", reason);
        else snprintf(msg, sizeof msg, "the component host exited: %s", reason);
        weir__host_complete(p, NULL, msg);
    }
    if (!h->destroyed) weir__host_pump(h);
}

static void on_child_exit(uv_process_t *proc, int64_t status, int term_signal) {
    hproc *p = proc->data;
    p->exited = true;
    p->exit_status = status;
    p->term_signal = term_signal;
    if (p->killed) close_handle((uv_handle_t *)&p->process);
    else maybe_finish_exit(p);
}

/* ------------------------------------------------------------------ reads */

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    hproc *p = hd->data;
    *buf = uv_buf_init(p->h->rbuf, sizeof p->h->rbuf);
}

static void on_err(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    hproc *p = s->data;
    if (n < 0) {
        uv_read_stop(s);
        p->err_eof = true;
        maybe_finish_exit(p);
        return;
    }
    size_t to_head = sizeof p->errhead - p->errhead_len;
    if (to_head > (size_t)n) to_head = (size_t)n;
    memcpy(p->errhead + p->errhead_len, buf->base, to_head);
    p->errhead_len += to_head;
    size_t cap = sizeof p->errtail, add = (size_t)n;
    const char *src = buf->base;
    if (add >= cap) {
        src += add - cap;
        add = cap;
    }
    if (p->errtail_len + add > cap) {
        size_t drop = p->errtail_len + add - cap;
        memmove(p->errtail, p->errtail + drop, p->errtail_len - drop);
        p->errtail_len -= drop;
    }
    memcpy(p->errtail + p->errtail_len, src, add);
    p->errtail_len += add;
}

static bool has_loaded(const hproc *p, const char *key) {
    for (size_t i = 0; i < p->n_loaded; i++)
        if (strcmp(p->loaded[i], key) == 0) return true;
    return false;
}

static void set_loaded(hproc *p, const char *key, bool on) {
    for (size_t i = 0; i < p->n_loaded; i++)
        if (strcmp(p->loaded[i], key) == 0) {
            if (!on) {
                weir__free(p->loaded[i]);
                p->loaded[i] = p->loaded[--p->n_loaded];
            }
            return;
        }
    if (!on || weir__grow((void **)&p->loaded, &p->cap_loaded, p->n_loaded + 1, sizeof *p->loaded)) return;
    char *k = weir__strdup(key);
    if (k) p->loaded[p->n_loaded++] = k; /* not remembered on OOM: the source is sent again */
}

/* Keep what p allocates from now on under HOST_NODE_OVERHEAD_MB +
 * memory_mb: RLIMIT_DATA (private writable memory, touched or not) set to
 * what it holds at ready plus that.  Beyond it the kernel refuses the
 * allocation: V8 dies saying it ran out of memory, or throws a RangeError
 * that host.js turns into an "oom" answer.  Not RLIMIT_AS: V8 reserves
 * address space far beyond what it uses (10 GB per WebAssembly memory),
 * and not a limit set before exec: what Node.js holds at start differs by
 * version (Node 24 counts a 512 MB code range).  ready: p's ready line.
 * 0, or -1 with why. */
static int limit_memory(hproc *p, json_t *ready, char *why, size_t cap) {
#ifdef __linux__
    /* The node process says its pid (p->node_pid, checked): the one
     * spawned may be a wrapper script that runs node without exec. */
    (void)ready;
    int pid = p->node_pid;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    unsigned long long data_kb = 0;
    bool found = false;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmData: %llu kB", &data_kb) == 1) {
            found = true;
            break;
        }
    if (f) fclose(f);
    if (!found) {
        snprintf(why, cap, "cannot read its memory use (%s) to limit it (ISOLATE_MEMORY_MB)", path);
        return -1;
    }
    unsigned long long bytes = data_kb * 1024 + (((unsigned long long)p->h->memory_mb + HOST_NODE_OVERHEAD_MB) << 20);
    struct rlimit rl = {.rlim_cur = (rlim_t)bytes, .rlim_max = (rlim_t)bytes};
    if (prlimit(pid, RLIMIT_DATA, &rl, NULL) != 0) {
        snprintf(why, cap, "cannot limit its memory (RLIMIT_DATA, ISOLATE_MEMORY_MB): %s", strerror(errno));
        return -1;
    }
#else
    (void)p; /* the heap limit only */
    (void)ready;
    (void)why;
    (void)cap;
#endif
    return 0;
}

/* Something p said makes no sense: it cannot be trusted with more calls. */
static void protocol_error(hproc *p, const char *what) {
    weir_host *h = p->h;
    char msg[256];
    snprintf(msg, sizeof msg, "the component host broke the protocol: %s", what);
    weir__host_kill(p);
    if (p->call) weir__host_complete(p, NULL, msg);
    else if (!p->ready) weir__host_start_failed(h, msg);
    if (!h->destroyed) weir__host_pump(h);
}

static void on_line(hproc *p, const char *s, size_t n) {
    weir_host *h = p->h;
    json_t *msg = json_loadb(s, n, 0, NULL);
    if (!json_is_object(msg)) {
        json_decref(msg);
        return protocol_error(p, "a line that is not a JSON object");
    }
    if (!p->ready) {
        if (!json_is_true(json_object_get(msg, "ready"))) {
            json_decref(msg);
            return protocol_error(p, "no ready line at start");
        }
        char why[256];
        /* The pid it names must be the process spawned or a descendant:
         * a child that lies gets no other process killed or limited. */
        json_int_t said = json_integer_value(json_object_get(msg, "pid"));
        p->node_pid = said > 0 && said <= INT_MAX ? (int)said : p->process.pid;
        int limited = 0;
#ifdef __linux__
        bool ours = is_ours(p, p->node_pid);
#else
        bool ours = p->node_pid == p->process.pid; /* no /proc to follow: the spawned process only */
        if (!ours) p->node_pid = p->process.pid, ours = true; /* nothing is limited by pid here */
#endif
        if (!ours) {
            snprintf(why, sizeof why, "its ready line names pid %d, which is not the process weir started (%d) "
                     "or one of its children", p->node_pid, p->process.pid);
            p->node_pid = 0;
            limited = -1;
        } else {
            limited = limit_memory(p, msg, why, sizeof why);
        }
        json_decref(msg);
        if (limited != 0) {
            char fail[400];
            snprintf(fail, sizeof fail, "the component host could not start: %s", why);
            weir__host_kill(p);
            weir__host_start_failed(h, fail);
            if (!h->destroyed) weir__host_pump(h);
            return;
        }
        p->ready = true;
        h->n_starting--;
        uv_timer_stop(&p->timer);
        weir__host_pump(h);
        return;
    }
    hcall *c = p->call;
    json_t *idv = json_object_get(msg, "id");
    if (!c || !json_is_integer(idv) || (uint64_t)json_integer_value(idv) != c->id) {
        json_decref(msg);
        return protocol_error(p, "an answer to no call in flight");
    }
    const char *key = json_string_value(json_object_get(c->req, "key"));
    if (json_is_true(json_object_get(msg, "missing"))) {
        json_decref(msg);
        set_loaded(p, key, false);
        if (c->resent || !json_is_string(json_object_get(c->req, "source")))
            return protocol_error(p, "the component was not loaded after it was sent");
        c->resent = true;
        p->call = NULL;
        weir__host_send(p, c); /* the same call, with its source this time */
        return;
    }
    uv_timer_stop(&p->timer);
    const char *error = json_string_value(json_object_get(msg, "error"));
    if (json_is_true(json_object_get(msg, "fatal"))) {
        char buf[1024];
        if (json_is_true(json_object_get(msg, "oom"))) weir__host_oom_message(h, error ? error : "", buf, sizeof buf);
        else snprintf(buf, sizeof buf, "%s", error ? error : "the component host failed");
        json_decref(msg);
        weir__host_kill(p); /* a call cut short may have left the component half-way */
        weir__host_complete(p, NULL, buf);
        if (!h->destroyed) weir__host_pump(h);
        return;
    }
    if (c->sent_source && !(c->load && error)) set_loaded(p, key, true);
    weir__host_complete(p, msg, NULL);
    json_decref(msg);
}

static void on_out(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    hproc *p = s->data;
    weir_host *h = p->h;
    if (n < 0) {
        uv_read_stop(s);
        return; /* the exit callback says what happened */
    }
    size_t add = (size_t)n;
    if (p->line_len + add > MAX_LINE) return protocol_error(p, "an answer larger than 64 MiB");
    if (weir__grow((void **)&p->line, &p->line_cap, p->line_len + add, 1)) {
        weir__host_kill(p);
        if (p->call) weir__host_complete(p, NULL, "out of memory reading the component host's answer");
        if (!h->destroyed) weir__host_pump(h);
        return;
    }
    size_t from = p->line_len;
    memcpy(p->line + p->line_len, buf->base, add);
    p->line_len += add;
    size_t start = 0;
    for (size_t i = from; i < p->line_len; i++) {
        if (p->line[i] != '\n') continue;
        on_line(p, p->line + start, i - start);
        if (p->killed || h->destroyed) return; /* p's buffer may be gone with it: read no further */
        start = i + 1;
    }
    memmove(p->line, p->line + start, p->line_len - start);
    p->line_len -= start;
}

/* ----------------------------------------------------------------- timers */

static void on_timer(uv_timer_t *t) {
    hproc *p = t->data;
    weir_host *h = p->h;
    if (!p->ready) {
        weir__host_kill(p);
        weir__host_start_failed(h, "the component host could not start: node did not say it was ready within 15 s");
    } else if (p->call) {
        char msg[128];
        snprintf(msg, sizeof msg, "timed out after %lld ms", (long long)h->timeout_ms);
        weir__host_kill(p);
        weir__host_complete(p, NULL, msg);
    }
    if (!h->destroyed) weir__host_pump(h);
}

/* ------------------------------------------------------------------ write */

typedef struct wreq {
    uv_write_t req;
    char *text;
} wreq;

static void on_written(uv_write_t *w, int status) {
    (void)status; /* a failed write shows as the process exiting */
    wreq *r = (wreq *)w;
    weir__free(r->text);
    weir__free(r);
}

void weir__host_send(hproc *p, hcall *c) {
    weir_host *h = p->h;
    p->call = c;
    c->proc = p;
    c->where = CALL_FLIGHT;
    const char *key = json_string_value(json_object_get(c->req, "key"));
    c->sent_source = !has_loaded(p, key);
    json_t *line = json_object();
    char *text = NULL;
    if (line) {
        const char *k;
        json_t *v;
        json_object_foreach(c->req, k, v) {
            if (strcmp(k, "source") == 0 && !c->sent_source) continue;
            if (strcmp(k, "state") == 0 && c->inst && c->inst->state) v = c->inst->state;
            json_object_set(line, k, v);
        }
        json_object_set_new(line, "id", json_integer((json_int_t)c->id));
        json_object_set_new(line, "op", json_string(c->load ? "load" : "invoke"));
        json_object_set_new(line, "timeoutMs", json_integer((json_int_t)h->timeout_ms));
        text = json_dumps(line, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(line);
    }
    size_t len = text ? strlen(text) : 0;
    wreq *r = text ? weir__malloc(sizeof *r) : NULL;
    char *grown = r ? weir__realloc(text, len + 2) : NULL;
    if (!grown) {
        weir__free(text);
        weir__free(r);
        /* Nothing was sent and the process stays as it was; the call fails,
         * from the loop (this may run inside weir_host_invoke). */
        p->call = NULL;
        c->proc = NULL;
        weir__host_defer_fail(h, c, "out of memory sending a call to the component host");
        return;
    }
    text = grown;
    text[len] = '\n';
    text[len + 1] = '\0';
    r->text = text;
    uv_buf_t b = uv_buf_init(text, (unsigned)(len + 1));
    if (uv_write(&r->req, (uv_stream_t *)&p->in, &b, 1, on_written) != 0) {
        weir__free(text);
        weir__free(r); /* the exit callback fails the call */
    }
    uv_update_time(h->loop);
    p->sent_ms = uv_now(h->loop);
    /* Compiling TypeScript or WebAssembly first (the typescript package
     * loads in ~0.5 s) is not user code: only the call's own run is held
     * to the time limit (host.js), this timer is the backstop. */
    const char *type = json_string_value(json_object_get(c->req, "type"));
    uint64_t extra = c->sent_source && type && strcmp(type, "javascript") != 0 ? COMPILE_MS : 0;
    uv_timer_start(&p->timer, on_timer, (uint64_t)h->timeout_ms + GRACE_MS + extra, 0);
}

/* ------------------------------------------------------------------ spawn */

int weir__host_spawn(weir_host *h, weir_error *err) {
    hproc *p = weir__calloc(1, sizeof *p);
    if (!p) return weir__error(err, WEIR_ENOMEM, "out of memory starting a component host process");
    p->h = h;
    uv_pipe_init(h->loop, &p->in, 0);
    uv_pipe_init(h->loop, &p->out, 0);
    uv_pipe_init(h->loop, &p->err, 0);
    uv_timer_init(h->loop, &p->timer);
    p->in.data = p->out.data = p->err.data = p->timer.data = p->process.data = p;
    p->open_handles = 5;
    h->open_handles++; /* released when the last of p's handles has closed (proc_free) */
    char mem[48];
    snprintf(mem, sizeof mem, "--max-old-space-size=%u", h->memory_mb);
    /* The permission flag is the one h->node's version accepts (host_node.c);
     * keep the list in step with h->flags (host.c). */
    /* The typescript package's folder (readable, nothing else) and its
     * path as the script's argument ("" when not needed or not found). */
    char *args[12];
    size_t na = 0;
    args[na++] = h->node;
    args[na++] = mem;
    args[na++] = (char *)h->permission_flag;
    if (h->ts_read) args[na++] = h->ts_read;
    args[na++] = "--experimental-vm-modules";
    args[na++] = "--disallow-code-generation-from-strings";
    args[na++] = "--no-warnings";
    args[na++] = "-e";
    args[na++] = (char *)h->script;
    args[na++] = h->typescript ? h->typescript : "";
    args[na] = NULL;
    /* An empty environment: NODE_OPTIONS and the like must not loosen what
     * the flags set, and user code has nothing to read there anyway. */
    char *env[] = {NULL};
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&p->in},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&p->out},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&p->err},
    };
    /* DETACHED: the child leads a new session and process group (setsid),
     * so weir__host_kill reaches every process in it; it no longer gets a
     * terminal's signals (Ctrl-C), which weir relays by closing its stdin
     * or killing it. */
    uv_process_options_t o = {.exit_cb = on_child_exit, .file = h->node, .args = args, .env = env,
                              .stdio_count = 3, .stdio = stdio, .flags = UV_PROCESS_DETACHED};
    int rc = uv_spawn(h->loop, &p->process, &o);
    if (rc != 0) {
        p->killed = p->exited = true; /* never in the pool; the handles just close */
        close_handles(p);
        if (rc == UV_ENOENT)
            return weir__error(err, WEIR_ERUNTIME, "user components need Node.js 20 or newer: cannot run \"%s\": %s",
                               h->node, uv_strerror(rc));
        return weir__error(err, WEIR_ERUNTIME, "cannot start the component host (%s): %s", h->node, uv_strerror(rc));
    }
    p->next = h->procs;
    h->procs = p;
    h->n_procs++;
    h->n_starting++;
    h->stats.started++;
    uv_read_start((uv_stream_t *)&p->out, on_alloc, on_out);
    uv_read_start((uv_stream_t *)&p->err, on_alloc, on_err);
    uv_timer_start(&p->timer, on_timer, STARTUP_MS, 0);
    return 0;
}
