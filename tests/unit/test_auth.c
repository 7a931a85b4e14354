/* Auth (server/auth.c): API keys, HS256 and RS256 JWTs, the header forms,
 * and the configuration errors.  Tokens and the RSA key pair are made here
 * with OpenSSL, so nothing depends on fixtures that cannot be regenerated. */
#include <criterion/criterion.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net/auth.h"

#define SECRET "0123456789abcdef0123456789abcdef-test"
#define T0 1700000000 /* a fixed "now" for the _at checks */

/* ----------------------------------------------------------- token making */

static char *b64url(const unsigned char *p, size_t n) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *out = malloc(n * 4 / 3 + 4), *o = out;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = abc[v >> 18], *o++ = abc[(v >> 12) & 63], *o++ = abc[(v >> 6) & 63], *o++ = abc[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = abc[v >> 18], *o++ = abc[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = abc[v >> 18], *o++ = abc[(v >> 12) & 63], *o++ = abc[(v >> 6) & 63];
    }
    *o = '\0';
    return out;
}

static char *b64url_str(const char *s) { return b64url((const unsigned char *)s, strlen(s)); }

/* "header.payload" of two JSON texts. */
static char *signing_input(const char *header, const char *payload) {
    char *h = b64url_str(header), *p = b64url_str(payload);
    char *out = malloc(strlen(h) + strlen(p) + 2);
    sprintf(out, "%s.%s", h, p);
    free(h);
    free(p);
    return out;
}

static char *join_sig(char *input, const unsigned char *sig, size_t n) {
    char *s = b64url(sig, n);
    char *out = malloc(strlen(input) + strlen(s) + 2);
    sprintf(out, "%s.%s", input, s);
    free(s);
    free(input);
    return out;
}

static char *hs256(const char *secret, const char *header, const char *payload) {
    char *in = signing_input(header, payload);
    unsigned char mac[32];
    unsigned int n = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)in, strlen(in), mac, &n);
    cr_assert_eq(n, 32);
    return join_sig(in, mac, n);
}

static char *payload_exp(long long exp) {
    static char buf[128];
    snprintf(buf, sizeof buf, "{\"sub\":\"alice\",\"exp\":%lld}", exp);
    return buf;
}

static EVP_PKEY *rsa_keygen(int bits) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL);
    EVP_PKEY *k = NULL;
    cr_assert(ctx && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) == 1 &&
              EVP_PKEY_keygen(ctx, &k) == 1);
    EVP_PKEY_CTX_free(ctx);
    return k;
}

/* PEM text of a key's public half (or of the private key). */
static char *pem_of(EVP_PKEY *k, bool private_key) {
    BIO *b = BIO_new(BIO_s_mem());
    cr_assert(private_key ? PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1
                          : PEM_write_bio_PUBKEY(b, k) == 1);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *out = strndup(p, (size_t)n);
    BIO_free(b);
    return out;
}

static char *rs256(EVP_PKEY *k, const char *header, const char *payload) {
    char *in = signing_input(header, payload);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t n = 0;
    cr_assert(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) == 1);
    cr_assert(EVP_DigestSign(md, NULL, &n, (unsigned char *)in, strlen(in)) == 1);
    unsigned char *sig = malloc(n);
    cr_assert(EVP_DigestSign(md, sig, &n, (unsigned char *)in, strlen(in)) == 1);
    EVP_MD_CTX_free(md);
    char *out = join_sig(in, sig, n);
    free(sig);
    return out;
}

/* ---------------------------------------------------------- setup helpers */

static weir_auth *make(const char *keys, const char *secret, const char *pub) {
    weir_auth_config c = {.api_keys = keys, .jwt_secret = secret, .jwt_public_key = pub};
    weir_auth *a = NULL;
    weir_error err;
    int rc = weir_auth_create(&c, &a, &err);
    cr_assert_eq(rc, 0, "%s", err.message);
    return a;
}

static void refused_at(weir_auth *a, const char *tok, int64_t now, const char *why) {
    weir_error err = {0};
    int rc = weir_auth_check_token_at(a, tok, now, &err);
    cr_assert_eq(rc, WEIR_EINVAL, "token %s: rc %d (%s), expected refusal with '%s'", tok, rc, err.message, why);
    cr_assert(strstr(err.message, why), "got '%s', expected '%s'", err.message, why);
    cr_assert_null(strstr(err.message, SECRET), "the secret leaked: %s", err.message);
}

static void refused(weir_auth *a, const char *tok, const char *why) { refused_at(a, tok, T0, why); }

static void accepted_at(weir_auth *a, const char *tok, int64_t now) {
    weir_error err = {0};
    int rc = weir_auth_check_token_at(a, tok, now, &err);
    cr_assert_eq(rc, 0, "token %s refused: %s", tok, err.message);
}

/* A configuration of keys, secret and public key (no aud / iss). */
#define CFG(k, s, p) ((weir_auth_config){.api_keys = (k), .jwt_secret = (s), .jwt_public_key = (p)})

static void config_error(weir_auth_config c, const char *why) {
    weir_auth *a = (weir_auth *)1;
    weir_error err = {0};
    cr_assert_eq(weir_auth_create(&c, &a, &err), WEIR_EINVAL, "expected '%s'", why);
    cr_assert_null(a);
    cr_assert(strstr(err.message, why), "got '%s', expected '%s'", err.message, why);
    if (c.jwt_secret) cr_assert_null(strstr(err.message, c.jwt_secret), "the secret leaked: %s", err.message);
    if (c.api_keys) cr_assert_null(strstr(err.message, c.api_keys), "the keys leaked: %s", err.message);
}

#define HS "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define RS "{\"alg\":\"RS256\",\"typ\":\"JWT\"}"

/* ------------------------------------------------------------------ HS256 */

Test(auth_hs256, valid_token_passes_now_and_at_a_fixed_time) {
    weir_auth *a = make(NULL, SECRET, NULL);
    cr_assert(weir_auth_active(a));
    cr_assert_str_eq(weir_auth_summary(a), "JWT HS256");
    char *tok = hs256(SECRET, HS, payload_exp(T0 + 3600));
    accepted_at(a, tok, T0);
    free(tok);
    tok = hs256(SECRET, HS, payload_exp((long long)time(NULL) + 60));
    weir_error err;
    cr_assert_eq(weir_auth_check_token(a, tok, &err), 0, "%s", err.message);
    free(tok);
    /* no exp: valid (exp is optional, RFC 7519 §4.1.4); iat is ignored */
    tok = hs256(SECRET, "{\"alg\":\"HS256\"}", "{\"sub\":\"svc\",\"iat\":99999999999}");
    accepted_at(a, tok, T0);
    free(tok);
    /* fractional NumericDates */
    tok = hs256(SECRET, HS, "{\"exp\":1700000100.5,\"nbf\":1699999999.25}");
    accepted_at(a, tok, T0);
    free(tok);
    weir_auth_destroy(a);
}

Test(auth_hs256, bad_signature) {
    weir_auth *a = make(NULL, SECRET, NULL);
    char *tok = hs256("another-secret-another-secret-another", HS, payload_exp(T0 + 3600));
    refused(a, tok, "bad signature");
    free(tok);
    /* a payload swapped under a valid signature */
    tok = hs256(SECRET, HS, payload_exp(T0 + 3600));
    char *forged = hs256(SECRET, HS, "{\"sub\":\"mallory\",\"exp\":1700003600}");
    char *dot1 = strchr(tok, '.'), *dot2 = strrchr(tok, '.');
    char *fdot1 = strchr(forged, '.'), *fdot2 = strrchr(forged, '.');
    char mixed[1024];
    snprintf(mixed, sizeof mixed, "%.*s%.*s%s", (int)(dot1 - tok), tok, (int)(fdot2 - fdot1), fdot1, dot2);
    refused(a, mixed, "bad signature");
    /* a truncated signature (40 characters: 30 bytes, canonical) */
    tok[strlen(tok) - 3] = '\0';
    refused(a, tok, "bad signature");
    /* an empty signature */
    *dot2 = '\0';
    snprintf(mixed, sizeof mixed, "%s.", tok);
    refused(a, mixed, "bad signature");
    free(tok);
    free(forged);
    weir_auth_destroy(a);
}

Test(auth_hs256, expired_with_30s_leeway) {
    weir_auth *a = make(NULL, SECRET, NULL);
    char *tok = hs256(SECRET, HS, payload_exp(T0));
    accepted_at(a, tok, T0 - 1);
    accepted_at(a, tok, T0 + WEIR_AUTH_LEEWAY_S - 1);
    refused_at(a, tok, T0 + WEIR_AUTH_LEEWAY_S, "token expired at 2023-11-14T22:13:20Z");
    refused_at(a, tok, T0 + 86400, "token expired at");
    free(tok);
    tok = hs256(SECRET, HS, payload_exp((long long)time(NULL) - 120));
    weir_error err;
    cr_assert_eq(weir_auth_check_token(a, tok, &err), WEIR_EINVAL);
    cr_assert(strstr(err.message, "token expired at"), "%s", err.message);
    free(tok);
    tok = hs256(SECRET, HS, "{\"exp\":\"tomorrow\"}");
    refused(a, tok, "exp must be a number");
    free(tok);
    tok = hs256(SECRET, HS, "{\"exp\":1e300}");
    accepted_at(a, tok, T0);
    free(tok);
    weir_auth_destroy(a);
}

Test(auth_hs256, nbf_in_the_future) {
    weir_auth *a = make(NULL, SECRET, NULL);
    char payload[128];
    snprintf(payload, sizeof payload, "{\"nbf\":%d,\"exp\":%d}", T0 + 600, T0 + 3600);
    char *tok = hs256(SECRET, HS, payload);
    refused_at(a, tok, T0, "token not valid before 2023-11-14T22:23:20Z");
    refused_at(a, tok, T0 + 600 - WEIR_AUTH_LEEWAY_S - 1, "not valid before");
    accepted_at(a, tok, T0 + 600 - WEIR_AUTH_LEEWAY_S);
    accepted_at(a, tok, T0 + 600);
    free(tok);
    tok = hs256(SECRET, HS, "{\"nbf\":null}");
    refused(a, tok, "nbf must be a number");
    free(tok);
    weir_auth_destroy(a);
}

Test(auth_hs256, alg_none_and_other_algs_refused) {
    weir_auth *a = make(NULL, SECRET, NULL);
    /* unsigned token: empty signature */
    char *in = signing_input("{\"alg\":\"none\"}", payload_exp(T0 + 3600));
    char tok[1024];
    snprintf(tok, sizeof tok, "%s.", in);
    refused(a, tok, "alg none not accepted");
    free(in);
    /* alg none with a valid HMAC still refused: the alg decides first */
    char *t = hs256(SECRET, "{\"alg\":\"none\"}", payload_exp(T0 + 3600));
    refused(a, t, "alg none not accepted");
    free(t);
    t = hs256(SECRET, "{\"alg\":\"HS512\"}", payload_exp(T0 + 3600));
    refused(a, t, "alg HS512 not accepted");
    free(t);
    t = hs256(SECRET, "{\"alg\":\"hs256\"}", payload_exp(T0 + 3600));
    refused(a, t, "alg hs256 not accepted");
    free(t);
    t = hs256(SECRET, "{\"alg\":\"RS256\"}", payload_exp(T0 + 3600));
    refused(a, t, "alg RS256 not accepted (only HS256 is)");
    free(t);
    /* a peer-chosen alg is shown sanitised and cut */
    t = hs256(SECRET, "{\"alg\":\"A\\nB0123456789012345678901234567890123456789\"}", "{}");
    refused(a, t, "alg A?B01234567890123456789012345678... not accepted");
    free(t);
    t = hs256(SECRET, "{\"alg\":256}", "{}");
    refused(a, t, "the header has no alg");
    free(t);
    t = hs256(SECRET, "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", "{}");
    refused(a, t, "crit");
    free(t);
    weir_auth_destroy(a);
}

Test(auth_hs256, malformed_tokens) {
    weir_auth *a = make(NULL, SECRET, NULL);
    char *good = hs256(SECRET, HS, payload_exp(T0 + 3600));
    char buf[2048];
    /* two parts, four parts, one part */
    char *last = strrchr(good, '.');
    snprintf(buf, sizeof buf, "%.*s", (int)(last - good), good);
    refused(a, buf, "three base64url parts joined by dots, this has 2");
    snprintf(buf, sizeof buf, "%s.x", good);
    refused(a, buf, "this has 4");
    refused(a, "garbage", "this has 1");
    refused(a, "..", "the header is not a JSON object");
    /* characters outside base64url, padding, impossible length, spare bits */
    snprintf(buf, sizeof buf, "%s", good);
    buf[3] = '+';
    refused(a, buf, "the header is not base64url");
    snprintf(buf, sizeof buf, "%s=", good);
    refused(a, buf, "the signature is not base64url");
    snprintf(buf, sizeof buf, "%sA", good); /* 43 + 1 = 44 chars: 33 bytes, no longer 32 */
    refused(a, buf, "bad signature");
    snprintf(buf, sizeof buf, "%sAB", good); /* 45 chars: n % 4 == 1 */
    refused(a, buf, "the signature is not base64url");
    /* the signature's last character carries 2 spare bits: flip one */
    snprintf(buf, sizeof buf, "%s", good);
    char *end = buf + strlen(buf) - 1;
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    *end = abc[(strchr(abc, *end) - abc) ^ 1];
    refused(a, buf, "the signature is not base64url");
    snprintf(buf, sizeof buf, "%s", good);
    char *dot = strchr(buf, '.');
    dot[1] = '\x01';
    refused(a, buf, "the payload is not base64url");
    /* garbage JSON: in the header, and signed in the payload */
    char *t = hs256(SECRET, "{\"alg\":", "{}");
    refused(a, t, "the header is not a JSON object");
    free(t);
    t = hs256(SECRET, "[\"HS256\"]", "{}");
    refused(a, t, "the header is not a JSON object");
    free(t);
    t = hs256(SECRET, "{\"alg\":\"HS256\",\"alg\":\"none\"}", "{}");
    refused(a, t, "the header is not a JSON object");
    free(t);
    t = hs256(SECRET, HS, "not json");
    refused(a, t, "the payload is not a JSON object");
    free(t);
    t = hs256(SECRET, HS, "42");
    refused(a, t, "the payload is not a JSON object");
    free(t);
    /* far too long */
    char *huge = malloc(WEIR_AUTH_MAX_TOKEN + 2);
    memset(huge, 'a', WEIR_AUTH_MAX_TOKEN + 1);
    huge[WEIR_AUTH_MAX_TOKEN + 1] = '\0';
    refused(a, huge, "token too long");
    free(huge);
    free(good);
    weir_auth_destroy(a);
}

/* --------------------------------------------------------------- API keys */

Test(auth_keys, match_and_mismatch) {
    weir_auth *a = make(" key-one-1234 , second-key,, third ", NULL, NULL);
    cr_assert_str_eq(weir_auth_summary(a), "API keys (3)");
    weir_error err;
    cr_assert_eq(weir_auth_check_token(a, "key-one-1234", &err), 0);
    cr_assert_eq(weir_auth_check_token(a, "second-key", &err), 0);
    cr_assert_eq(weir_auth_check_token(a, "third", &err), 0);
    refused(a, "key-one-123", "unknown API key");  /* a prefix */
    refused(a, "key-one-12345", "unknown API key"); /* an extension */
    refused(a, "KEY-ONE-1234", "unknown API key");
    refused(a, "key-one-1234,second-key", "unknown API key");
    refused(a, "a.b.c", "JWTs are not accepted");
    cr_assert_eq(weir_auth_check_token(a, "", &err), WEIR_ENOTFOUND);
    cr_assert_eq(weir_auth_check_token(a, NULL, &err), WEIR_ENOTFOUND);
    weir_auth_destroy(a);
}

Test(auth_keys, headers_x_api_key_and_bearer) {
    weir_auth *a = make("k1,k2", SECRET, NULL);
    weir_error err = {0};
    cr_assert_eq(weir_auth_check_headers(a, NULL, NULL, &err), WEIR_ENOTFOUND);
    cr_assert_eq(weir_auth_check_headers(a, "", "  ", &err), WEIR_ENOTFOUND);
    cr_assert_eq(weir_auth_check_headers(a, "k1", NULL, &err), 0);
    cr_assert_eq(weir_auth_check_headers(a, " k2 ", NULL, &err), 0);
    cr_assert_eq(weir_auth_check_headers(a, "k3", NULL, &err), WEIR_EINVAL);
    cr_assert_str_eq(err.message, "unknown API key");
    cr_assert_eq(weir_auth_check_headers(a, "k", NULL, &err), WEIR_EINVAL);
    /* X-API-Key wins: a wrong one is not rescued by a good bearer */
    cr_assert_eq(weir_auth_check_headers(a, "nope", "Bearer k1", &err), WEIR_EINVAL);
    cr_assert_eq(weir_auth_check_headers(a, NULL, "Bearer k1", &err), 0);
    cr_assert_eq(weir_auth_check_headers(a, NULL, "bearer \t k2  ", &err), 0);
    cr_assert_eq(weir_auth_check_headers(a, NULL, "Bearer k1x", &err), WEIR_EINVAL);
    cr_assert_eq(weir_auth_check_headers(a, NULL, "Bearer", &err), WEIR_ENOTFOUND);
    cr_assert_eq(weir_auth_check_headers(a, NULL, "Bearer    ", &err), WEIR_ENOTFOUND);
    cr_assert_eq(weir_auth_check_headers(a, NULL, "Basic azE6", &err), WEIR_EINVAL);
    cr_assert(strstr(err.message, "Authorization scheme Basic not accepted"), "%s", err.message);
    cr_assert_eq(weir_auth_check_headers(a, NULL, "Bearerk1", &err), WEIR_EINVAL);
    cr_assert_eq(weir_auth_check_headers(a, NULL, "Bearer k1 k2", &err), WEIR_EINVAL);
    /* a key followed by blanks and more is not the key */
    char *padded = malloc(WEIR_AUTH_MAX_TOKEN + 16);
    memset(padded, ' ', WEIR_AUTH_MAX_TOKEN + 15);
    memcpy(padded, "k1", 2);
    padded[WEIR_AUTH_MAX_TOKEN + 10] = 'x';
    padded[WEIR_AUTH_MAX_TOKEN + 15] = '\0';
    cr_assert_eq(weir_auth_check_headers(a, padded, NULL, &err), WEIR_EINVAL);
    free(padded);
    /* a JWT in the bearer */
    char *tok = hs256(SECRET, HS, payload_exp((long long)time(NULL) + 60));
    char hdr[1024];
    snprintf(hdr, sizeof hdr, "Bearer %s", tok);
    cr_assert_eq(weir_auth_check_headers(a, NULL, hdr, &err), 0, "%s", err.message);
    free(tok);
    tok = hs256(SECRET, HS, payload_exp((long long)time(NULL) - 60));
    snprintf(hdr, sizeof hdr, "Bearer %s", tok);
    cr_assert_eq(weir_auth_check_headers(a, NULL, hdr, &err), WEIR_EINVAL);
    cr_assert(strstr(err.message, "token expired at"), "%s", err.message);
    free(tok);
    weir_auth_destroy(a);
}

Test(auth_keys, x_api_key_without_keys_configured) {
    weir_auth *a = make(NULL, SECRET, NULL);
    weir_error err;
    cr_assert_eq(weir_auth_check_headers(a, "k1", NULL, &err), WEIR_EINVAL);
    cr_assert(strstr(err.message, "no API_KEYS are configured"), "%s", err.message);
    weir_auth_destroy(a);
}

Test(auth_keys, nothing_configured_is_open) {
    weir_auth *a = make(NULL, "", "");
    cr_assert_not(weir_auth_active(a));
    cr_assert_str_eq(weir_auth_summary(a), "");
    weir_error err;
    cr_assert_eq(weir_auth_check_headers(a, NULL, NULL, &err), 0);
    cr_assert_eq(weir_auth_check_token(a, "anything", &err), 0);
    weir_auth_destroy(a);
    weir_auth_destroy(NULL);
}

/* ------------------------------------------------------------------ RS256 */

Test(auth_rs256, valid_and_tampered) {
    EVP_PKEY *k = rsa_keygen(2048);
    char *pem = pem_of(k, false);
    weir_auth *a = make(NULL, NULL, pem);
    cr_assert_str_eq(weir_auth_summary(a), "JWT RS256 (2048-bit key)");
    char *tok = rs256(k, RS, payload_exp(T0 + 3600));
    accepted_at(a, tok, T0);
    refused_at(a, tok, T0 + 3600 + WEIR_AUTH_LEEWAY_S, "token expired at");
    /* one signature byte changed */
    char *sig = strrchr(tok, '.') + 1;
    char saved = sig[10];
    sig[10] = sig[10] == 'A' ? 'B' : 'A';
    refused(a, tok, "bad signature");
    sig[10] = saved;
    /* the payload changed under the signature */
    char *forged = rs256(k, RS, "{\"sub\":\"root\",\"exp\":1700003600}");
    char mixed[4096];
    char *d1 = strchr(tok, '.'), *fd1 = strchr(forged, '.'), *fd2 = strrchr(forged, '.');
    snprintf(mixed, sizeof mixed, "%.*s%.*s%s", (int)(d1 - tok), tok, (int)(fd2 - fd1), fd1, strrchr(tok, '.'));
    refused(a, mixed, "bad signature");
    /* signed by another key */
    EVP_PKEY *other = rsa_keygen(2048);
    char *t2 = rs256(other, RS, payload_exp(T0 + 3600));
    refused(a, t2, "bad signature");
    /* HS256 is not accepted with only a public key: no alg confusion */
    char *t3 = hs256(pem, HS, payload_exp(T0 + 3600));
    refused(a, t3, "alg HS256 not accepted (only RS256 is)");
    free(t3);
    free(t2);
    free(forged);
    free(tok);
    EVP_PKEY_free(other);
    weir_auth_destroy(a);
    free(pem);
    EVP_PKEY_free(k);
}

Test(auth_rs256, key_from_a_file_and_from_one_line_with_backslash_n) {
    EVP_PKEY *k = rsa_keygen(2048);
    char *pem = pem_of(k, false);
    char path[] = "/tmp/weir-auth-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, pem, strlen(pem)), (ssize_t)strlen(pem));
    close(fd);
    weir_auth *a = make("k1", SECRET, path);
    unlink(path);
    cr_assert_str_eq(weir_auth_summary(a), "API keys (1), JWT HS256, JWT RS256 (2048-bit key)");
    char *tok = rs256(k, RS, payload_exp(T0 + 60));
    accepted_at(a, tok, T0);
    char *htok = hs256(SECRET, HS, payload_exp(T0 + 60));
    accepted_at(a, htok, T0);
    accepted_at(a, "k1", T0);
    weir_auth_destroy(a);
    /* the PEM on one line with literal \n, as environment files often hold it */
    char *line = malloc(strlen(pem) * 2 + 1), *o = line;
    for (const char *p = pem; *p; p++) {
        if (*p == '\n') *o++ = '\\', *o++ = 'n';
        else *o++ = *p;
    }
    *o = '\0';
    a = make(NULL, NULL, line);
    accepted_at(a, tok, T0);
    weir_auth_destroy(a);
    free(line);
    free(htok);
    free(tok);
    free(pem);
    EVP_PKEY_free(k);
}

/* ---------------------------------------------------------- configuration */

Test(auth_config, bad_settings_are_refused_without_showing_secrets) {
    config_error(CFG(NULL, "short-secret", NULL), "JWT_SECRET is too short");
    config_error(CFG(" , ,", NULL, NULL), "API_KEYS is set but holds no key");
    config_error(CFG("good,with space", NULL, NULL), "API_KEYS: key 2 has a blank");
    config_error(CFG("ok,caf\xc3\xa9", NULL, NULL), "key 2");
    config_error(CFG(NULL, NULL, "/nonexistent/key.pem"),
                 "JWT_PUBLIC_KEY: cannot read '/nonexistent/key.pem'");
    config_error(CFG(NULL, NULL, "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n"),
                 "JWT_PUBLIC_KEY holds no PEM public key");
    config_error(CFG(NULL, NULL, "/dev/null"), "'/dev/null' holds no PEM public key");
    EVP_PKEY *k = rsa_keygen(2048);
    char *priv = pem_of(k, true);
    config_error(CFG(NULL, NULL, priv), "it holds a private key");
    free(priv);
    EVP_PKEY_free(k);
    k = rsa_keygen(1024);
    char *weak = pem_of(k, false);
    config_error(CFG(NULL, NULL, weak), "1024-bit RSA key; RS256 needs at least 2048");
    free(weak);
    EVP_PKEY_free(k);
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    cr_assert_not_null(ec);
    char *ecpem = pem_of(ec, false);
    config_error(CFG(NULL, NULL, ecpem), "is not an RSA key (it is EC)");
    free(ecpem);
    EVP_PKEY_free(ec);
}

/* ---------------------------------------------------------- aud and iss */

static weir_auth *make_claims(const char *secret, const char *pub, const char *aud, const char *iss) {
    weir_auth_config c = {NULL, secret, pub, aud, iss};
    weir_auth *a = NULL;
    weir_error err;
    int rc = weir_auth_create(&c, &a, &err);
    cr_assert_eq(rc, 0, "%s", err.message);
    return a;
}

static void hs_ok(weir_auth *a, const char *payload) {
    char *tok = hs256(SECRET, HS, payload);
    accepted_at(a, tok, T0);
    free(tok);
}

static void hs_refused(weir_auth *a, const char *payload, const char *why) {
    char *tok = hs256(SECRET, HS, payload);
    refused(a, tok, why);
    free(tok);
}

Test(auth_claims, audience_as_a_string_or_in_an_array) {
    weir_auth *a = make_claims(SECRET, NULL, "weir-api", NULL);
    cr_assert_str_eq(weir_auth_summary(a), "JWT HS256 checking aud");
    hs_ok(a, "{\"sub\":\"alice\",\"aud\":\"weir-api\"}");
    hs_ok(a, "{\"sub\":\"alice\",\"aud\":[\"other\",\"weir-api\"]}");
    hs_refused(a, "{\"sub\":\"alice\"}", "token has no aud claim; JWT_AUDIENCE requires one");
    hs_refused(a, "{\"sub\":\"alice\",\"aud\":\"weir-apix\"}", "token aud weir-apix does not name this service");
    hs_refused(a, "{\"sub\":\"alice\",\"aud\":\"WEIR-API\"}", "does not name this service");
    hs_refused(a, "{\"sub\":\"alice\",\"aud\":[\"other\",\"x\"]}", "token aud (an array) does not name");
    hs_refused(a, "{\"sub\":\"alice\",\"aud\":[]}", "does not name this service");
    hs_refused(a, "{\"sub\":\"alice\",\"aud\":[1,{\"weir-api\":1}]}", "does not name this service");
    hs_refused(a, "{\"sub\":\"alice\",\"aud\":7}", "aud must be a string or an array of strings");
    /* the signature still comes first: a forged token with the right aud is refused for its signature */
    char *forged = hs256("another-secret-another-secret-another", HS, "{\"aud\":\"weir-api\"}");
    refused(a, forged, "bad signature");
    free(forged);
    /* exp is still checked next to aud */
    char p[128];
    snprintf(p, sizeof p, "{\"aud\":\"weir-api\",\"exp\":%lld}", (long long)T0 - 3600);
    hs_refused(a, p, "token expired at");
    weir_auth_destroy(a);
}

Test(auth_claims, issuer_must_match_exactly) {
    weir_auth *a = make_claims(SECRET, NULL, NULL, "https://id.example.com/");
    cr_assert_str_eq(weir_auth_summary(a), "JWT HS256 checking iss");
    hs_ok(a, "{\"iss\":\"https://id.example.com/\"}");
    hs_refused(a, "{\"sub\":\"alice\"}", "token has no iss claim; JWT_ISSUER requires one");
    hs_refused(a, "{\"iss\":\"https://id.example.com\"}", "is not the accepted issuer (JWT_ISSUER)");
    hs_refused(a, "{\"iss\":[\"https://id.example.com/\"]}", "token iss (not a string) is not the accepted issuer");
    weir_auth_destroy(a);
}

Test(auth_claims, both_with_rs256_and_api_keys_unaffected) {
    EVP_PKEY *k = rsa_keygen(2048);
    char *pem = pem_of(k, false);
    weir_auth_config c = {"k1", NULL, pem, "weir", "issuer"};
    weir_auth *a = NULL;
    weir_error err;
    cr_assert_eq(weir_auth_create(&c, &a, &err), 0, "%s", err.message);
    cr_assert_str_eq(weir_auth_summary(a), "API keys (1), JWT RS256 (2048-bit key) checking aud and iss");
    char *good = rs256(k, RS, "{\"aud\":\"weir\",\"iss\":\"issuer\"}");
    accepted_at(a, good, T0);
    char *no_iss = rs256(k, RS, "{\"aud\":\"weir\"}");
    refused(a, no_iss, "no iss claim");
    char *wrong_aud = rs256(k, RS, "{\"aud\":\"other\",\"iss\":\"issuer\"}");
    refused(a, wrong_aud, "token aud other does not name this service");
    accepted_at(a, "k1", T0); /* API keys carry no claims */
    free(good);
    free(no_iss);
    free(wrong_aud);
    free(pem);
    EVP_PKEY_free(k);
    weir_auth_destroy(a);
}

Test(auth_claims, audience_or_issuer_without_a_jwt_key_is_a_config_error) {
    config_error((weir_auth_config){"k1", NULL, NULL, "weir", NULL},
                 "JWT_AUDIENCE is set but no JWT is accepted: set JWT_SECRET or JWT_PUBLIC_KEY");
    config_error((weir_auth_config){NULL, NULL, NULL, NULL, "issuer"},
                 "JWT_ISSUER is set but no JWT is accepted");
}
