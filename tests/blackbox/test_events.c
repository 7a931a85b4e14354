/* Events over the real binary (SPEC §5), watched by the stock clients from
 * the npm registry: socket.io-client (default options: polling, then the
 * upgrade to websocket) and ws for /ws.  tests/js/setup.sh installs them
 * into the build tree first (the js_clients CTest fixture). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "proc.h"
#include "serve.h"

#define JS WEIR_SOURCE_DIR "/tests/js/"

/* Run tests/js/<script> against s; its output is shown when it fails. */
static void node(const server *s, const char *script) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "NODE_PATH='%s/js/node_modules' node '" JS "%s' %d '%s/examples' %d", WEIR_BUILD_DIR,
             script, s->port, WEIR_SOURCE_DIR, (int)s->pid);
    proc_result r = proc_run(cmd);
    cr_assert_eq(r.status, 0, "%s failed (exit %d):\n%s\n%s", script, r.status, r.out, r.err);
    proc_free(&r);
}

Test(events, socket_io_client_default_options_subscribe_inject_since_commands) {
    server s = serve_start(NULL);
    node(&s, "sio_flow.cjs");
    cr_assert_eq(serve_stop(&s), 0);
}

Test(events, plain_websocket_at_ws) {
    server s = serve_start(NULL);
    node(&s, "ws_flow.cjs");
    cr_assert_eq(serve_stop(&s), 0);
}

Test(events, events_by_interest_over_ws_and_socket_io) {
    server s = serve_start(NULL);
    node(&s, "interest.cjs");
    cr_assert_eq(serve_stop(&s), 0);
}

Test(events, sockets_need_credentials_when_auth_is_configured) {
    const char *args[] = {"--api-keys", "k-one", NULL};
    server s = serve_start(args);
    node(&s, "auth.cjs");
    cr_assert_eq(serve_stop(&s), 0);
}

/* execution:subscribe {batch: true}: the same events in `events` batches,
 * each at most EVENT_BATCH_BYTES but one larger event alone; a batch
 * subscriber that stops reading is cut off at SUBSCRIBER_BACKLOG_BYTES. */
Test(events, batch_subscribers_get_the_same_events_in_bounded_batches) {
    const char *args[] = {"--event-batch-bytes", "4096", "--subscriber-backlog-bytes", "262144", NULL};
    server s = serve_start(args);
    node(&s, "batch.cjs");
    cr_assert_eq(serve_stop(&s), 0);
}

Test(events, a_slow_subscriber_is_cut_off_and_never_slows_the_execution) {
    const char *args[] = {"--subscriber-backlog-bytes", "262144", NULL};
    server s = serve_start(args);
    node(&s, "slow.cjs");
    cr_assert_eq(serve_stop(&s), 0);
}

/* In memory a shutdown ends the executions (with a data directory they are
 * kept to come back: test_durable). */
Test(events, shutdown_closes_every_event_socket_after_telling_subscribers) {
    const char *args[] = {"--memory", NULL};
    server s = serve_start(args);
    node(&s, "shutdown.cjs"); /* it sends the SIGTERM */
    cr_assert_eq(serve_stop(&s), 0, "exit 0 after a graceful shutdown");
}

Test(events, time_commands_over_socket_io) {
    server s = serve_start(NULL);
    node(&s, "sio_time.cjs");
    cr_assert_eq(serve_stop(&s), 0);
}

/* execution:state (now, a node, a tick) and execution:fork over both sockets. */
Test(events, state_time_travel_and_fork_over_the_sockets) {
    server s = serve_start(NULL);
    node(&s, "travel.cjs");
    cr_assert_eq(serve_stop(&s), 0);
}

/* Held events are bounded: a huge wave while the journal is behind cuts the
 * subscriber off instead of holding every event in memory. */
Test(events, held_events_are_bounded) {
    const char *args[] = {"--max-wave-hops", "300000", NULL};
    server s = serve_start(args);
    node(&s, "held_events.cjs");
    cr_assert_eq(serve_stop(&s), 0);
}
