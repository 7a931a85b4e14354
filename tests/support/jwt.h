/* JWTs for the auth tests: signed here with OpenSSL, checked by the server. */
#ifndef WEIR_TEST_JWT_H
#define WEIR_TEST_JWT_H
#include <openssl/evp.h>
#include <stddef.h>

/* base64url without padding of n bytes (malloc'd). */
char *tj_b64url(const unsigned char *p, size_t n);
/* "header.payload.signature" of a JSON payload: RS256 with rs_key when it
 * is not NULL, else HS256 with hs_secret (malloc'd). */
char *tj_jwt(const char *payload, const char *hs_secret, EVP_PKEY *rs_key);

#endif
