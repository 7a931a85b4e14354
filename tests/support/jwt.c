#include "jwt.h"

#include <criterion/criterion.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *tj_b64url(const unsigned char *p, size_t n) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *out = malloc(n * 4 / 3 + 4), *o = out;
    cr_assert_not_null(out);
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | p[i];
        bits += 8;
        while (bits >= 6) *o++ = abc[(acc >> (bits -= 6)) & 63];
    }
    if (bits) *o++ = abc[(acc << (6 - bits)) & 63];
    *o = '\0';
    return out;
}

char *tj_jwt(const char *payload, const char *hs_secret, EVP_PKEY *rs_key) {
    const char *header = rs_key ? "{\"alg\":\"RS256\",\"typ\":\"JWT\"}" : "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char *h = tj_b64url((const unsigned char *)header, strlen(header));
    char *p = tj_b64url((const unsigned char *)payload, strlen(payload));
    size_t in_len = strlen(h) + 1 + strlen(p);
    char *input = malloc(in_len + 1);
    cr_assert_not_null(input);
    snprintf(input, in_len + 1, "%s.%s", h, p);
    unsigned char sig[1024];
    size_t sig_len = sizeof sig;
    if (rs_key) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        cr_assert(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, rs_key) == 1);
        cr_assert(EVP_DigestSign(md, sig, &sig_len, (unsigned char *)input, in_len) == 1);
        EVP_MD_CTX_free(md);
    } else {
        unsigned int n = 0;
        HMAC(EVP_sha256(), hs_secret, (int)strlen(hs_secret), (unsigned char *)input, in_len, sig, &n);
        sig_len = n;
    }
    char *s = tj_b64url(sig, sig_len);
    char *out = malloc(in_len + strlen(s) + 2);
    cr_assert_not_null(out);
    sprintf(out, "%s.%s", input, s);
    free(h);
    free(p);
    free(s);
    free(input);
    return out;
}
