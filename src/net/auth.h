/*
 * Authentication for `weir serve` (SPEC §6): API keys and JWTs verified
 * locally (HS256 with a shared secret, RS256 with an RSA public key).
 * Internal to the server; the routes call weir_auth_check_headers() before
 * every request that needs credentials (SPEC §10), the event sockets call
 * weir_auth_check_token() with the token they were given.
 *
 * Check results follow the one error model, with these meanings:
 *   0              accepted (or no auth is configured)
 *   WEIR_ENOTFOUND no credentials were sent            -> 401
 *   WEIR_EINVAL    credentials refused, err says why   -> 403
 *   WEIR_ENOMEM    out of memory                       -> 503
 * Messages never contain a secret, a configured key or the token.
 */
#ifndef WEIR_NET_AUTH_H
#define WEIR_NET_AUTH_H
#include <stdbool.h>
#include <stdint.h>

#include "weir/weir.h"

typedef struct weir_auth weir_auth;

/* Seconds of clock skew allowed on exp and nbf. */
#define WEIR_AUTH_LEEWAY_S 30
/* Longest token looked at (longer ones are refused unparsed). */
#define WEIR_AUTH_MAX_TOKEN 8192

/* All BORROWED; NULL or "" means not set. */
typedef struct weir_auth_config {
    const char *api_keys;       /* comma-separated keys (blanks around them ignored) */
    const char *jwt_secret;     /* HS256 secret, at least 32 bytes (RFC 7518 §3.2) */
    const char *jwt_public_key; /* RS256: PEM text ("-----BEGIN PUBLIC KEY-----...") or a path to a PEM file */
    const char *jwt_audience;   /* a JWT's aud (a string, or an array of them) must hold this one */
    const char *jwt_issuer;     /* a JWT's iss must be exactly this */
} weir_auth_config;

/* Parse and check the configuration.  With nothing set the object is
 * created inactive and every check passes.  jwt_audience / jwt_issuer
 * without a JWT key is WEIR_EINVAL (they would check nothing).  WEIR_EINVAL with the reason
 * (naming the setting, never its value) for a bad key, secret or PEM;
 * WEIR_ENOMEM. */
int weir_auth_create(const weir_auth_config *c, weir_auth **out, weir_error *err);
/* Wipes the secret.  NULL is a no-op. */
void weir_auth_destroy(weir_auth *a);

/* Is any credential required? */
bool weir_auth_active(const weir_auth *a);
/* What is accepted, for the start line: "API keys (2), JWT HS256, JWT RS256
 * (2048-bit key)"; "" when inactive.  Owned by a. */
const char *weir_auth_summary(const weir_auth *a);

/* A request's credentials: the X-API-Key and Authorization header values
 * (BORROWED, NULL when absent).  X-API-Key wins when both are sent;
 * Authorization must be "Bearer <api key or JWT>".  Empty values count as
 * absent. */
int weir_auth_check_headers(const weir_auth *a, const char *x_api_key, const char *authorization, weir_error *err);
/* One token: an API key or a JWT (NULL or "" counts as absent). */
int weir_auth_check_token(const weir_auth *a, const char *token, weir_error *err);
/* The same at a given time (seconds since 1970), for tests. */
int weir_auth_check_token_at(const weir_auth *a, const char *token, int64_t now_s, weir_error *err);

#endif
