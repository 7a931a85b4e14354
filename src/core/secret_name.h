/*
 * Which names hold secrets (SPEC §10): one predicate for the server's
 * redaction of node config (server/redact.c) and for components that must
 * not echo a secret header's value in an error (http-request).  Internal.
 */
#ifndef WEIR_CORE_SECRET_NAME_H
#define WEIR_CORE_SECRET_NAME_H
#include <stdbool.h>

/* Is `name` (a header or config key; NULL is not) one whose value is a
 * secret.  The name is normalised first: '-' and '_' dropped, ASCII
 * lower-cased.  It is a secret when the normalised name
 *   - contains token, secret, password, passwd, authorization or apikey
 *     (accessToken, client_secret, X-Authorization, x-api-key, APIKEY), or
 *   - ends in cookie (Cookie, Set-Cookie, sessionCookie), or
 *   - ends in key where "key" is a word of the original name: the whole
 *     name, or after '-' or '_', or a camelCase "Key" after a lower-case
 *     letter or digit (private_key, X-Secret-Key, accessKey, privateKey).
 * So keyboard, keyExpression, key-id, monkey, hotkey and cookies-enabled are
 * not secrets; sortKey and primary_key are (shown as "***": a name is
 * redacted when in doubt, never shown when it might hold a credential). */
bool weir__is_secret_name(const char *name);

#endif
