/* Graphs that start themselves at server start (issue 14): every stored
 * graph whose metadata.autostart is true is executed once the store and
 * the journal are back, as POST /api/graphs/:id/execute with an empty body
 * would: metadata.runtime, completion, timeoutMs and the rest of its
 * metadata apply.
 *
 * The rule against doubles: a graph is started only when no unfinished
 * execution of it came back from recovery.  A restart therefore resumes
 * the one that was running (its schedule, its state) instead of adding a
 * second; a graph whose execution finished (completed, failed, stopped)
 * gets a new one at the next start.  A failure to start one graph (the
 * execution limit, an initialize that fails) is logged with the graph and
 * the reason; the others still start and so does the server.  A stored
 * graph that no longer loads is logged by persist.c and never started. */
#include <string.h>

#include "core/error.h"
#include "service/service_internal.h"

static bool running_of(weir_service *s, const svc_graph *g) {
    for (svc_exec *x = s->execs; x; x = x->next)
        if (!x->derived && strcmp(x->graph_id, g->id) == 0 && !weir_state_finished(weir_exec_state(x->e)))
            return true; /* a fork or an import is a what-if, not the graph's own execution */
    return false;
}

void svc_autostart(weir_service *s) {
    size_t started = 0, already = 0, failed = 0;
    for (svc_graph *g = s->graphs; g; g = g->next) {
        if (!json_is_true(json_object_get(weir_graph_metadata(g->g), "autostart"))) continue;
        json_t *f = json_pack("{s:s,s:s}", "graphId", g->id, "name", weir_graph_name(g->g));
        if (running_of(s, g)) {
            already++;
            weir_service_log(s, WEIR_LOG_INFO, f,
                             "autostart: graph %s (\"%s\") is not started again: an unfinished execution of it came "
                             "back from recovery",
                             g->id, weir_graph_name(g->g));
            json_decref(f);
            continue;
        }
        json_t *opts = json_object();
        svc_exec *x = NULL;
        weir_error err = {0};
        int rc = opts ? svc_exec_start(s, g, opts, NULL, &x, &err) : weir__error(&err, WEIR_ENOMEM, "out of memory");
        json_decref(opts);
        if (rc || weir_state_finished(weir_exec_state(x->e))) {
            failed++;
            const char *why = rc ? err.message
                                 : json_string_value(json_object_get(weir_exec_error(x->e), "message"));
            weir_service_log(s, WEIR_LOG_ERROR, f, "autostart: graph %s (\"%s\") could not be started: %s", g->id,
                             weir_graph_name(g->g), why ? why : weir_state_name(weir_exec_state(x->e)));
        } else {
            started++;
            json_object_set_new(f, "executionId", json_string(x->id));
            weir_service_log(s, WEIR_LOG_INFO, f, "autostart: graph %s (\"%s\") started as execution %s on %s",
                             g->id, weir_graph_name(g->g), x->id, x->rt.name ? x->rt.name : "?");
        }
        json_decref(f);
    }
    if (started + already + failed == 0) return; /* no graph asks for it: nothing to say */
    json_t *f = json_pack("{s:I,s:I,s:I}", "started", (json_int_t)started, "alreadyRunning", (json_int_t)already,
                          "failed", (json_int_t)failed);
    weir_service_log(s, failed ? WEIR_LOG_WARN : WEIR_LOG_INFO, f,
                     "autostart: %zu graph%s started, %zu already running, %zu failed", started,
                     started == 1 ? "" : "s", already, failed);
    json_decref(f);
}
