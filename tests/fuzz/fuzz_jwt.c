/*
 * libFuzzer target for the token verifier (src/server/auth.c): the input,
 * cut at its first NUL, is checked as a token by a verifier configured
 * with an HS256 secret and one API key, at a fixed time, then as an
 * X-API-Key header value and as an Authorization header.
 *
 * Checked, besides what the sanitizers catch: only the documented codes
 * come back, every refusal carries a message that never shows the secret,
 * a token is accepted only if it is the API key or its third part is
 * exactly the base64url HMAC-SHA256 of the first two (an independent
 * oracle), and X-API-Key accepts exactly the key.  The committed corpus
 * (tests/fuzz/corpus/jwt) replays as a normal test through replay_main.c.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/auth.h"

#define SECRET "fuzz-secret-fuzz-secret-fuzz-secret!"
#define API_KEY "fuzz-api-key"
#define NOW 1700000000

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "fuzz_jwt: %s\n", what);
        abort();
    }
}

static void check_refusal(int rc, const weir_error *err) {
    check(rc == 0 || rc == WEIR_EINVAL || rc == WEIR_ENOTFOUND || rc == WEIR_ENOMEM, "an undocumented code");
    if (rc) check(err->message[0] != '\0', "a refusal without a message");
    if (rc) check(strstr(err->message, SECRET) == NULL, "the secret in a message");
}

/* Is the third part the canonical base64url HMAC of the first two? */
static int signed_here(const char *tok) {
    const char *last = strrchr(tok, '.');
    if (!last) return 0;
    unsigned char mac[32];
    unsigned int n = 0;
    HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)tok, (size_t)(last - tok), mac, &n);
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char enc[64], *o = enc;
    uint32_t acc = 0;
    int bits = 0;
    for (unsigned i = 0; i < n; i++) {
        acc = (acc << 8) | mac[i];
        bits += 8;
        while (bits >= 6) *o++ = abc[(acc >> (bits -= 6)) & 63];
    }
    if (bits) *o++ = abc[(acc << (6 - bits)) & 63];
    *o = '\0';
    return strcmp(last + 1, enc) == 0;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* The value with blanks around it removed equals the key. */
static int is_key_trimmed(const char *v) {
    while (is_blank(*v)) v++;
    size_t n = strlen(v);
    while (n && is_blank(v[n - 1])) n--;
    return n == strlen(API_KEY) && memcmp(v, API_KEY, n) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    weir_auth_config c = {.api_keys = API_KEY, .jwt_secret = SECRET};
    weir_auth *a = NULL;
    if (weir_auth_create(&c, &a, NULL)) return 0;
    char *tok = malloc(size + 1);
    char *hdr = malloc(size + 8);
    if (!tok || !hdr) {
        free(tok);
        free(hdr);
        weir_auth_destroy(a);
        return 0;
    }
    memcpy(tok, data, size);
    tok[size] = '\0';
    weir_error err;
    err.message[0] = '\0';
    int rc = weir_auth_check_token_at(a, tok, NOW, &err);
    check_refusal(rc, &err);
    if (rc == 0) check(strcmp(tok, API_KEY) == 0 || signed_here(tok), "a token accepted without its signature");
    if (tok[0] == '\0') check(rc == WEIR_ENOTFOUND, "an empty token not taken as absent");

    err.message[0] = '\0';
    rc = weir_auth_check_headers(a, tok, NULL, &err);
    check_refusal(rc, &err);
    check((rc == 0) == is_key_trimmed(tok), "X-API-Key accepted something other than the key, or refused it");

    snprintf(hdr, size + 8, "Bearer %s", tok);
    err.message[0] = '\0';
    rc = weir_auth_check_headers(a, NULL, hdr, &err);
    check_refusal(rc, &err);

    free(hdr);
    free(tok);
    weir_auth_destroy(a);
    return 0;
}
