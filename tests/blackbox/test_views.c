/* Live views (SPEC §8) over the real binary, watched by the stock clients
 * (socket.io-client, ws) with the client model of src/web/views.js applying
 * the diffs: tests/js/views.cjs in one mode per server. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "proc.h"
#include "serve.h"

#define JS WEIR_SOURCE_DIR "/tests/js/"

static void views(const server *s, const char *mode) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "NODE_PATH='%s/js/node_modules' node '" JS "views.cjs' %d '%s/examples' %d %s",
             WEIR_BUILD_DIR, s->port, WEIR_SOURCE_DIR, (int)s->pid, mode);
    proc_result r = proc_run(cmd);
    static char why[1 << 16]; /* the output outlives the result: no leak report when it fails */
    snprintf(why, sizeof why, "views.cjs %s failed (exit %d):\n%s\n%s", mode, r.status, r.out, r.err);
    int status = r.status;
    proc_free(&r);
    cr_assert_eq(status, 0, "%s", why);
}

/* graphs, executions, execution:<id> and port views over both transports
 * equal to REST; since (the missed diff; an init when too old); atTick;
 * unsubscribe; errors.  A stored server: time travel works. */
Test(views, values_since_at_tick_and_errors) {
    const char *args[] = {"--view-history", "4", NULL};
    server s = serve_start(args);
    views(&s, "main");
    cr_assert_eq(serve_stop(&s), 0);
}

/* In memory: atTick is 409; an evicted execution leaves the list, and its
 * view keeps its final value. */
Test(views, in_memory_at_tick_refused_and_evicted_executions) {
    const char *args[] = {"--memory", NULL};
    server s = serve_start(args);
    views(&s, "memory");
    cr_assert_eq(serve_stop(&s), 0);
}

/* At most one diff per VIEW_INTERVAL_MS per subscriber while hops run flat out. */
Test(views, throttled_to_one_diff_per_interval) {
    const char *args[] = {"--memory", NULL};
    server s = serve_start(args);
    views(&s, "throttle");
    cr_assert_eq(serve_stop(&s), 0);
}

/* A subscriber that stops reading: held back, bounded by the view's size. */
Test(views, a_slow_subscriber_is_bounded_by_the_view_size) {
    const char *args[] = {"--memory", NULL};
    server s = serve_start(args);
    views(&s, "slow");
    cr_assert_eq(serve_stop(&s), 0);
}

/* Views need the socket's credentials, as execution:subscribe does. */
Test(views, views_need_credentials_when_auth_is_configured) {
    const char *args[] = {"--api-keys", "k-views", NULL};
    server s = serve_start(args);
    views(&s, "auth");
    cr_assert_eq(serve_stop(&s), 0);
}
