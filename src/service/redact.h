/*
 * Secrets in node config (SPEC §10): an http-request node's Authorization
 * header, a user component's apiKey.  Every graph document that leaves the
 * server (GET /api/graphs/:id, and any event or log line that would carry
 * node config) goes through weir_redact_graph first; the stored graph and
 * the running execution keep the real values.
 */
#ifndef WEIR_SERVICE_REDACT_H
#define WEIR_SERVICE_REDACT_H
#include <jansson.h>
#include <stdbool.h>

/* What a secret value is shown as. */
#define WEIR_REDACTED "***"

/* Graph definition doc (BORROWED, never modified) as it may be shown:
 * every value under a node's config whose member name is a secret name
 * (weir__is_secret_name in core/secret_name.h; at any depth:
 * config.headers.Authorization, config.apiKey) reads WEIR_REDACTED, the
 * whole value when it is an object or array; null, true and false stay.  NEW reference, to be read and serialised only, not
 * modified: it shares what needs no change with doc (doc itself when it
 * holds no secret, or is no graph).  NULL when out of memory. */
json_t *weir_redact_graph(const json_t *doc);

#endif
