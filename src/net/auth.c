/*
 * API keys and locally verified JWTs (RFC 7519 over JWS compact
 * serialisation, RFC 7515) on OpenSSL libcrypto.
 *
 * Invariants: API keys are kept only as SHA-256 digests and compared in
 * constant time over all of them; the HS256 secret is wiped on destroy; a
 * JWT's alg must be one of the configured kinds (never "none"), its
 * signature is checked before its payload is parsed, and base64url is
 * decoded canonically (no padding, no other characters, zero spare bits),
 * so one signature has exactly one spelling.
 */
#include "net/auth.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/alloc.h"
#include "core/error.h"

#define DIGEST 32          /* SHA-256 */
#define MIN_SECRET 32      /* RFC 7518 §3.2: a key at least as long as the hash */
#define MIN_RSA_BITS 2048  /* RFC 7518 §3.3 */
#define MAX_PEM (1u << 20) /* a PEM file larger than this is not a public key */

struct weir_auth {
    unsigned char (*keys)[DIGEST]; /* SHA-256 of each API key */
    size_t n_keys;
    unsigned char *secret; /* HS256, NULL if not configured */
    size_t secret_len;
    EVP_PKEY *pub; /* RS256, NULL if not configured */
    char *audience, *issuer; /* checked claims, NULL if not configured */
    char summary[192];
};

/* ---------------------------------------------------------------- helpers */

static bool unset(const char *s) { return !s || !*s; }

static bool blank(char ch) { return ch == ' ' || ch == '\t'; }

/* Trim blanks around [*p, *p + *n). */
static void trim(const char **p, size_t *n) {
    while (*n && blank(**p)) (*p)++, (*n)--;
    while (*n && blank((*p)[*n - 1])) (*n)--;
}

/* A peer-supplied word made safe to show in a message and a log line:
 * at most 32 characters, anything outside visible ASCII as '?'. */
static const char *shown(const char *s, size_t n, char out[40]) {
    size_t i = 0;
    for (; i < n && i < 32; i++) out[i] = s[i] > ' ' && s[i] < 127 ? s[i] : '?';
    if (n > 32) out[i++] = '.', out[i++] = '.', out[i++] = '.';
    out[i] = '\0';
    return out;
}

static bool sha256(const void *data, size_t n, unsigned char out[DIGEST]) {
    unsigned int len = 0;
    return EVP_Digest(data, n, out, &len, EVP_sha256(), NULL) == 1 && len == DIGEST;
}

static int b64url_value(unsigned char ch) {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '-') return 62;
    if (ch == '_') return 63;
    return -1;
}

/* Decode unpadded base64url (RFC 7515 §2) into out, which holds at least
 * n * 3 / 4 bytes.  Canonical only: false for padding, any character
 * outside the alphabet, an impossible length or non-zero spare bits. */
static bool b64url_decode(const char *s, size_t n, unsigned char *out, size_t *out_len) {
    if (n % 4 == 1) return false;
    uint32_t acc = 0; /* the `bits` low bits not yet written */
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)s[i]);
        if (v < 0) return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    *out_len = o;
    return acc == 0;
}

/* "2024-05-01T12:00:00Z", or the number itself when it is no date. */
static const char *date(double t, char out[40]) {
    struct tm tm;
    if (t > -6e10 && t < 2.5e11) { /* years 0 to 9999: time_t holds it */
        time_t tt = (time_t)t;
        if (gmtime_r(&tt, &tm) && strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm)) return out;
    }
    snprintf(out, 40, "%.0f", t);
    return out;
}

/* ---------------------------------------------------------- configuration */

static int parse_keys(weir_auth *a, const char *v, weir_error *err) {
    size_t n = 1;
    for (const char *p = v; *p; p++) n += *p == ',';
    a->keys = weir__calloc(n, sizeof *a->keys);
    if (!a->keys) return weir__error(err, WEIR_ENOMEM, "out of memory");
    size_t idx = 0;
    for (const char *p = v;;) {
        size_t len = strcspn(p, ",");
        const char *k = p;
        trim(&k, &len);
        idx++;
        if (len) {
            for (size_t i = 0; i < len; i++)
                if ((unsigned char)k[i] <= ' ' || (unsigned char)k[i] >= 127)
                    return weir__error(err, WEIR_EINVAL,
                                       "API_KEYS: key %zu has a blank, control or non-ASCII character; keys travel in "
                                       "HTTP headers, use visible ASCII only",
                                       idx);
            if (!sha256(k, len, a->keys[a->n_keys++])) return weir__error(err, WEIR_ENOMEM, "out of memory");
        }
        p += strcspn(p, ",");
        if (!*p) break;
        p++;
    }
    if (!a->n_keys) return weir__error(err, WEIR_EINVAL, "API_KEYS is set but holds no key (comma-separated keys)");
    return 0;
}

/* Read a PEM file (the path is shown, the content never). */
static int read_pem_file(const char *path, char **out, size_t *len, weir_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return weir__error(err, WEIR_EINVAL,
                           "JWT_PUBLIC_KEY: cannot read '%.200s': %s (give the PEM text itself or the path of a PEM "
                           "file)",
                           path, strerror(errno));
    char *buf = weir__malloc(MAX_PEM + 1);
    size_t n = buf ? fread(buf, 1, MAX_PEM + 1, f) : 0;
    bool bad = buf && ferror(f);
    fclose(f);
    if (!buf) return weir__error(err, WEIR_ENOMEM, "out of memory");
    if (bad || n > MAX_PEM) {
        weir__free(buf);
        return weir__error(err, WEIR_EINVAL, "JWT_PUBLIC_KEY: '%.200s' is %s", path,
                           bad ? "unreadable" : "over 1 MiB: not a PEM public key");
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static const char *pem_hint(const char *text) {
    if (strstr(text, "PRIVATE KEY"))
        return "it holds a private key; give the public half (openssl pkey -in key.pem -pubout)";
    if (strstr(text, "CERTIFICATE"))
        return "it holds a certificate; extract its key (openssl x509 -in cert.pem -pubkey -noout)";
    if (strstr(text, "RSA PUBLIC KEY"))
        return "it is a PKCS#1 key; convert it (openssl rsa -RSAPublicKey_in -in key.pem -pubout)";
    return "expected -----BEGIN PUBLIC KEY-----";
}

static int load_public_key(weir_auth *a, const char *v, weir_error *err) {
    char *owned = NULL;
    const char *text = v;
    size_t len = strlen(v);
    bool from_file = !strstr(v, "-----BEGIN");
    if (from_file) {
        int rc = read_pem_file(v, &owned, &len, err);
        if (rc) return rc;
        text = owned;
    } else if (!strchr(v, '\n') && strstr(v, "\\n")) {
        /* PEM pasted into one environment line with literal \n */
        owned = weir__malloc(len + 1);
        if (!owned) return weir__error(err, WEIR_ENOMEM, "out of memory");
        size_t o = 0;
        for (size_t i = 0; i < len; i++) {
            if (v[i] == '\\' && v[i + 1] == 'n') owned[o++] = '\n', i++;
            else owned[o++] = v[i];
        }
        owned[o] = '\0';
        text = owned;
        len = o;
    }
    int rc = 0;
    BIO *bio = len <= MAX_PEM ? BIO_new_mem_buf(text, (int)len) : NULL;
    EVP_PKEY *k = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    ERR_clear_error();
    if (!k) {
        if (from_file)
            rc = weir__error(err, WEIR_EINVAL, "JWT_PUBLIC_KEY: '%.200s' holds no PEM public key: %s", v,
                             pem_hint(text));
        else
            rc = weir__error(err, WEIR_EINVAL, "JWT_PUBLIC_KEY holds no PEM public key: %s", pem_hint(text));
    } else if (!EVP_PKEY_is_a(k, "RSA")) {
        const char *type = EVP_PKEY_get0_type_name(k);
        rc = weir__error(err, WEIR_EINVAL, "JWT_PUBLIC_KEY is not an RSA key (it is %s); RS256 needs one",
                         type ? type : "another kind");
    } else if (EVP_PKEY_get_bits(k) < MIN_RSA_BITS) {
        rc = weir__error(err, WEIR_EINVAL,
                         "JWT_PUBLIC_KEY is a %d-bit RSA key; RS256 needs at least %d bits (RFC 7518 §3.3)",
                         EVP_PKEY_get_bits(k), MIN_RSA_BITS);
    }
    if (owned) {
        OPENSSL_cleanse(owned, len);
        weir__free(owned);
    }
    if (rc) {
        EVP_PKEY_free(k);
        return rc;
    }
    a->pub = k;
    return 0;
}

int weir_auth_create(const weir_auth_config *c, weir_auth **out, weir_error *err) {
    *out = NULL;
    weir_auth *a = weir__calloc(1, sizeof *a);
    if (!a) return weir__error(err, WEIR_ENOMEM, "out of memory");
    int rc = 0;
    if (!unset(c->api_keys)) rc = parse_keys(a, c->api_keys, err);
    if (!rc && !unset(c->jwt_secret)) {
        a->secret_len = strlen(c->jwt_secret);
        if (a->secret_len < MIN_SECRET) {
            rc = weir__error(err, WEIR_EINVAL,
                             "JWT_SECRET is too short: HS256 needs at least %d bytes (RFC 7518 §3.2); generate one "
                             "with: openssl rand -base64 48",
                             MIN_SECRET);
        } else if (!(a->secret = weir__malloc(a->secret_len))) {
            rc = weir__error(err, WEIR_ENOMEM, "out of memory");
        } else {
            memcpy(a->secret, c->jwt_secret, a->secret_len);
        }
    }
    if (!rc && !unset(c->jwt_public_key)) rc = load_public_key(a, c->jwt_public_key, err);
    for (int i = 0; i < 2 && !rc; i++) {
        const char *v = i ? c->jwt_issuer : c->jwt_audience, *name = i ? "JWT_ISSUER" : "JWT_AUDIENCE";
        char **to = i ? &a->issuer : &a->audience;
        if (unset(v)) continue;
        if (!a->secret && !a->pub)
            rc = weir__error(err, WEIR_EINVAL, "%s is set but no JWT is accepted: set JWT_SECRET or JWT_PUBLIC_KEY",
                             name);
        else if (!(*to = weir__strdup(v)))
            rc = weir__error(err, WEIR_ENOMEM, "out of memory");
    }
    if (rc) {
        weir_auth_destroy(a);
        return rc;
    }
    size_t l = 0;
    char *s = a->summary;
    if (a->n_keys) l += (size_t)snprintf(s + l, sizeof a->summary - l, "API keys (%zu)", a->n_keys);
    if (a->secret) l += (size_t)snprintf(s + l, sizeof a->summary - l, "%sJWT HS256", l ? ", " : "");
    if (a->pub)
        l += (size_t)snprintf(s + l, sizeof a->summary - l, "%sJWT RS256 (%d-bit key)", l ? ", " : "",
                              EVP_PKEY_get_bits(a->pub));
    if (a->audience || a->issuer)
        snprintf(s + l, sizeof a->summary - l, " checking %s%s%s", a->audience ? "aud" : "",
                 a->audience && a->issuer ? " and " : "", a->issuer ? "iss" : "");
    *out = a;
    return 0;
}

void weir_auth_destroy(weir_auth *a) {
    if (!a) return;
    if (a->secret) OPENSSL_cleanse(a->secret, a->secret_len);
    weir__free(a->secret);
    weir__free(a->keys);
    EVP_PKEY_free(a->pub);
    weir__free(a->audience);
    weir__free(a->issuer);
    weir__free(a);
}

bool weir_auth_active(const weir_auth *a) { return a && (a->n_keys || a->secret || a->pub); }

const char *weir_auth_summary(const weir_auth *a) { return a ? a->summary : ""; }

/* ------------------------------------------------------------ API keys */

/* Constant time in the key and in which configured key it matches. */
static bool key_matches(const weir_auth *a, const char *tok, size_t len) {
    unsigned char d[DIGEST];
    if (!a->n_keys || !sha256(tok, len, d)) return false;
    unsigned found = 0;
    for (size_t i = 0; i < a->n_keys; i++) found |= (unsigned)(CRYPTO_memcmp(d, a->keys[i], DIGEST) == 0);
    OPENSSL_cleanse(d, sizeof d);
    return found != 0;
}

/* ---------------------------------------------------------------- JWTs */

static bool verify_hs256(const weir_auth *a, const char *input, size_t n, const unsigned char *sig, size_t sig_len) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha256(), a->secret, (int)a->secret_len, (const unsigned char *)input, n, mac, &mac_len)) {
        ERR_clear_error();
        return false;
    }
    bool ok = mac_len == DIGEST && sig_len == DIGEST && CRYPTO_memcmp(mac, sig, DIGEST) == 0;
    OPENSSL_cleanse(mac, sizeof mac);
    return ok;
}

static bool verify_rs256(const weir_auth *a, const char *input, size_t n, const unsigned char *sig, size_t sig_len) {
    if (sig_len != (size_t)EVP_PKEY_get_size(a->pub)) return false;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, a->pub) == 1 &&
              EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)input, n) == 1;
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return ok;
}

/* A JSON object from decoded bytes, or NULL. */
static json_t *object_of(const unsigned char *p, size_t n) {
    json_t *j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static int refuse(weir_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(weir_error *err, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return weir__error(err, WEIR_EINVAL, "%s", msg);
}

static const char *accepted_algs(const weir_auth *a) {
    return a->secret && a->pub ? "HS256 and RS256 are" : a->secret ? "HS256 is" : "RS256 is";
}

/* aud (RFC 7519 §4.1.3): a string or an array of strings, one of which
 * must be the configured audience. */
static bool audience_ok(json_t *aud, const char *want) {
    if (json_is_string(aud)) return strcmp(json_string_value(aud), want) == 0;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v) if (json_is_string(v) && strcmp(json_string_value(v), want) == 0) return true;
    return false;
}

/* Registered claims: exp and nbf are NumericDates (RFC 7519 §4.1.4-5);
 * aud and iss when configured. */
static int check_claims(const weir_auth *a, json_t *claims, int64_t now, weir_error *err) {
    char when[40], what[40];
    if (a->audience) {
        json_t *aud = json_object_get(claims, "aud");
        if (!aud) return refuse(err, "token has no aud claim; JWT_AUDIENCE requires one");
        if (!json_is_string(aud) && !json_is_array(aud))
            return refuse(err, "token aud must be a string or an array of strings");
        if (!audience_ok(aud, a->audience))
            return refuse(err, "token aud %s does not name this service (JWT_AUDIENCE)",
                          json_is_string(aud) ? shown(json_string_value(aud), json_string_length(aud), what)
                                              : "(an array)");
    }
    if (a->issuer) {
        json_t *iss = json_object_get(claims, "iss");
        if (!iss) return refuse(err, "token has no iss claim; JWT_ISSUER requires one");
        if (!json_is_string(iss) || strcmp(json_string_value(iss), a->issuer) != 0)
            return refuse(err, "token iss %s is not the accepted issuer (JWT_ISSUER)",
                          json_is_string(iss) ? shown(json_string_value(iss), json_string_length(iss), what)
                                              : "(not a string)");
    }
    json_t *exp = json_object_get(claims, "exp"), *nbf = json_object_get(claims, "nbf");
    if (exp && !json_is_number(exp)) return refuse(err, "token exp must be a number of seconds since 1970");
    if (nbf && !json_is_number(nbf)) return refuse(err, "token nbf must be a number of seconds since 1970");
    if (exp && (double)now >= json_number_value(exp) + WEIR_AUTH_LEEWAY_S)
        return refuse(err, "token expired at %s", date(json_number_value(exp), when));
    if (nbf && (double)now + WEIR_AUTH_LEEWAY_S < json_number_value(nbf))
        return refuse(err, "token not valid before %s", date(json_number_value(nbf), when));
    return 0;
}

static int check_jwt(const weir_auth *a, const char *tok, size_t len, int64_t now, weir_error *err) {
    const char *dot1 = memchr(tok, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - tok)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - tok))) {
        size_t parts = 1;
        for (size_t i = 0; i < len; i++) parts += tok[i] == '.';
        return refuse(err, "malformed token: a JWT is three base64url parts joined by dots, this has %zu", parts);
    }
    const char *part[3] = {tok, dot1 + 1, dot2 + 1};
    size_t part_len[3] = {(size_t)(dot1 - tok), (size_t)(dot2 - dot1 - 1), len - (size_t)(dot2 + 1 - tok)};
    static const char *const names[3] = {"header", "payload", "signature"};
    unsigned char *buf = weir__malloc(len + 3); /* every decoded part, each at most 3/4 of its text */
    if (!buf) return weir__error(err, WEIR_ENOMEM, "out of memory");
    unsigned char *dec[3];
    size_t dec_len[3];
    unsigned char *at = buf;
    for (int i = 0; i < 3; i++) {
        dec[i] = at;
        if (!b64url_decode(part[i], part_len[i], dec[i], &dec_len[i])) {
            weir__free(buf);
            return refuse(err, "malformed token: the %s is not base64url (unpadded, A-Z a-z 0-9 - _)", names[i]);
        }
        at += dec_len[i] + 1;
    }
    int rc = 0;
    json_t *header = object_of(dec[0], dec_len[0]), *claims = NULL;
    const char *alg = json_string_value(json_object_get(header, "alg"));
    char what[40];
    if (!header) {
        rc = refuse(err, "malformed token: the header is not a JSON object");
    } else if (!alg) {
        rc = refuse(err, "malformed token: the header has no alg");
    } else if (json_object_get(header, "crit")) {
        rc = refuse(err, "token header lists crit extensions; none are supported");
    } else {
        const char *input = tok;
        size_t input_len = (size_t)(dot2 - tok);
        bool hs = strcmp(alg, "HS256") == 0 && a->secret, rs = strcmp(alg, "RS256") == 0 && a->pub;
        if (!hs && !rs)
            rc = refuse(err, "alg %s not accepted (only %s)",
                        shown(alg, json_string_length(json_object_get(header, "alg")), what), accepted_algs(a));
        else if (!(hs ? verify_hs256 : verify_rs256)(a, input, input_len, dec[2], dec_len[2]))
            rc = refuse(err, "bad signature");
        else if (!(claims = object_of(dec[1], dec_len[1])))
            rc = refuse(err, "malformed token: the payload is not a JSON object");
        else
            rc = check_claims(a, claims, now, err);
    }
    json_decref(header);
    json_decref(claims);
    weir__free(buf);
    return rc;
}

/* ---------------------------------------------------------------- checks */

static int check_span(const weir_auth *a, const char *tok, size_t len, int64_t now, weir_error *err) {
    if (len > WEIR_AUTH_MAX_TOKEN) return refuse(err, "token too long (over %d characters)", WEIR_AUTH_MAX_TOKEN);
    if (key_matches(a, tok, len)) return 0;
    size_t dots = 0;
    for (size_t i = 0; i < len; i++) dots += tok[i] == '.';
    bool jwt = a->secret || a->pub;
    if (jwt && (dots || !a->n_keys)) return check_jwt(a, tok, len, now, err);
    if (!jwt && dots == 2)
        return refuse(err, "unknown API key (JWTs are not accepted: neither JWT_SECRET nor JWT_PUBLIC_KEY is set)");
    return refuse(err, "unknown API key");
}

int weir_auth_check_token_at(const weir_auth *a, const char *token, int64_t now_s, weir_error *err) {
    if (!weir_auth_active(a)) return 0;
    size_t len = token ? strnlen(token, WEIR_AUTH_MAX_TOKEN + 1) : 0;
    if (!len) return weir__error(err, WEIR_ENOTFOUND, "no credentials");
    return check_span(a, token, len, now_s, err);
}

int weir_auth_check_token(const weir_auth *a, const char *token, weir_error *err) {
    return weir_auth_check_token_at(a, token, (int64_t)time(NULL), err);
}

int weir_auth_check_headers(const weir_auth *a, const char *x_api_key, const char *authorization, weir_error *err) {
    if (!weir_auth_active(a)) return 0;
    int64_t now = (int64_t)time(NULL);
    const char *p = x_api_key;
    size_t n = p ? strlen(p) : 0;
    trim(&p, &n);
    if (n) {
        if (!a->n_keys)
            return refuse(err, "X-API-Key is not accepted: no API_KEYS are configured; send Authorization: Bearer "
                               "<JWT>");
        if (n > WEIR_AUTH_MAX_TOKEN) return refuse(err, "unknown API key");
        return key_matches(a, p, n) ? 0 : refuse(err, "unknown API key");
    }
    p = authorization;
    n = p ? strlen(p) : 0;
    trim(&p, &n);
    if (!n) return weir__error(err, WEIR_ENOTFOUND, "no credentials");
    size_t scheme = 0;
    while (scheme < n && !blank(p[scheme])) scheme++;
    char what[40];
    if (scheme != 6 || strncasecmp(p, "Bearer", 6) != 0)
        return refuse(err, "Authorization scheme %s not accepted: send Authorization: Bearer <api key or JWT>",
                      shown(p, scheme, what));
    p += scheme;
    n -= scheme;
    trim(&p, &n);
    if (!n) return weir__error(err, WEIR_ENOTFOUND, "no credentials: Authorization: Bearer has no token");
    return check_span(a, p, n, now, err);
}
