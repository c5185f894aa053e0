/*
 * Unit tests for src/auth/: JWT HS256 (round trips and every forged shape the
 * verifier must refuse, with the reason it gives), password hashing (yescrypt
 * and the source systems' bcrypt), sealed secrets and the key file, opaque
 * tokens, and rate limiting. Forged tokens are built here with OpenSSL's
 * one-shot HMAC() and base64 encoder, independently of jwt.c. A short
 * benchmark prints JWT and password costs (sanitizer builds are slower; the
 * figures in ADR 0006 come from an -O2 build).
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "test.h"

#include "auth/internal.h"
#include "auth/jwt.h"
#include "auth/password.h"
#include "auth/ratelimit.h"
#include "auth/secretbox.h"
#include "auth/tokens.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"

#define NOW 1800000000 /* a fixed "now" for token checks, seconds */

static const uint8_t key_bytes[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t other_key_bytes[32] = "fedcba9876543210fedcba9876543210";

/* ---- helpers: an independent base64url and HS256 signer */

static char *b64url(const void *p, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    int len = EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    for (int i = 0; i < len; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    while (len > 0 && out[len - 1] == '=')
        out[--len] = '\0';
    return out;
}

/* header.payload signed with HMAC() under key (or sig_override when not NULL). */
static char *forge_raw(const char *header, const char *payload, const uint8_t *key, size_t keylen,
                       const char *sig_override)
{
    char *h = b64url(header, strlen(header));
    char *p = b64url(payload, strlen(payload));
    size_t n = strlen(h) + 1 + strlen(p);
    char *tok = malloc(n + 64);
    snprintf(tok, n + 64, "%s.%s", h, p);
    if (sig_override != NULL) {
        strcat(tok, ".");
        strcat(tok, sig_override);
    } else {
        unsigned char mac[32];
        unsigned int ml;
        HMAC(EVP_sha256(), key, (int)keylen, (unsigned char *)tok, n, mac, &ml);
        char *s = b64url(mac, ml);
        strcat(tok, ".");
        strcat(tok, s);
        free(s);
    }
    free(h);
    free(p);
    return tok;
}

static char *forge(const char *header, const char *payload)
{
    return forge_raw(header, payload, key_bytes, sizeof(key_bytes), NULL);
}

static const char *std_hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

/* A payload with the given exp, nbf (0: none) and typ. */
static char *payload_with(const char *typ, long long iat, long long nbf, long long exp)
{
    char *p = malloc(256);
    if (nbf)
        snprintf(p, 256,
                 "{\"sub\":\"b1\",\"app\":\"default\",\"typ\":\"%s\",\"iat\":%lld,\"nbf\":%lld,"
                 "\"exp\":%lld}",
                 typ, iat, nbf, exp);
    else
        snprintf(p, 256,
                 "{\"sub\":\"b1\",\"app\":\"default\",\"typ\":\"%s\",\"iat\":%lld,\"exp\":%lld}",
                 typ, iat, exp);
    return p;
}

static struct jwt_key *test_key(void)
{
    return jwt_key_new(key_bytes, sizeof(key_bytes));
}

/* Verifies tok as a user token at NOW; returns the reason (JWT_OK on success). */
static enum jwt_fail check_tok(const struct jwt_key *k, const char *tok, enum jwt_typ typ)
{
    struct jwt_claims c;
    enum jwt_fail why = (enum jwt_fail) - 1;
    int rc = jwt_verify(k, tok, strlen(tok), typ, NOW, &c, &why);
    if ((rc == 0) != (why == JWT_OK))
        return (enum jwt_fail) - 2;
    if (rc != 0 && (rc != ERR_UNAUTH || c.json != NULL))
        return (enum jwt_fail) - 3;
    jwt_claims_release(&c);
    return why;
}

/* Forges header+payload, checks the verifier's reason, frees. */
static enum jwt_fail check_forged(const struct jwt_key *k, const char *header, const char *payload)
{
    char *t = forge(header, payload);
    enum jwt_fail why = check_tok(k, t, JWT_TYP_USER);
    free(t);
    return why;
}

static const char *good_payload =
    "{\"sub\":\"b1\",\"app\":\"default\",\"typ\":\"user\",\"iat\":1800000000,\"exp\":1800000900}";

/* ---- codecs */

TEST(b64_vectors)
{
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    static const char *const std[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    char out[32];
    uint8_t dec[32];
    for (int i = 0; i < 7; i++) {
        size_t n = strlen(in[i]);
        CHECK_INT(auth__b64url_encode(out, in[i], n), strlen(url[i]));
        CHECK_STR(out, url[i]);
        CHECK_INT(AUTH_B64URL_LEN(n), strlen(url[i]));
        CHECK_INT(auth__b64url_decode(dec, url[i], strlen(url[i])), n);
        CHECK(memcmp(dec, in[i], n) == 0);
        auth__b64_encode(out, in[i], n);
        CHECK_STR(out, std[i]);
        CHECK_INT(auth__b64_decode(dec, std[i], strlen(std[i])), n);
        CHECK(memcmp(dec, in[i], n) == 0);
    }
    /* strictness */
    CHECK_INT(auth__b64url_decode(dec, "Zh", 2), -1);   /* non-zero trailing bits */
    CHECK_INT(auth__b64url_decode(dec, "Zm9", 3), -1);  /* ditto, 2 bytes */
    CHECK_INT(auth__b64url_decode(dec, "Zg==", 4), -1); /* padding */
    CHECK_INT(auth__b64url_decode(dec, "Z", 1), -1);    /* impossible length */
    CHECK_INT(auth__b64url_decode(dec, "Zm+v", 4), -1); /* standard alphabet */
    CHECK_INT(auth__b64url_decode(dec, "Zm v", 4), -1); /* whitespace */
    CHECK_INT(auth__b64url_decode(dec, "-_-_", 4), 3);
    CHECK_INT(auth__b64_decode(dec, "Zg=", 3), -1);  /* not a multiple of 4 */
    CHECK_INT(auth__b64_decode(dec, "Z=g=", 4), -1); /* '=' inside */
    CHECK_INT(auth__b64_decode(dec, "Zm=v", 4), -1);
    CHECK_INT(auth__b64_decode(dec, "Zh==", 4), -1); /* trailing bits */
    CHECK_INT(auth__b64_decode(dec, "Zm-v", 4), -1); /* url alphabet */
    CHECK_INT(auth__b64_decode(dec, "====", 4), -1);
}

TEST(siphash_vector)
{
    /* The reference vector of the SipHash paper (appendix A). */
    uint8_t k[16], m[15];
    for (int i = 0; i < 16; i++)
        k[i] = (uint8_t)i;
    for (int i = 0; i < 15; i++)
        m[i] = (uint8_t)i;
    CHECK(auth__siphash(k, m, sizeof(m)) == 0xa129ca6149be45e5ULL);
    CHECK(auth__siphash(k, "", 0) == 0x726fdb47dd0e0e31ULL);
}

/* ---- JWT */

TEST(jwt_key_rules)
{
    CHECK(jwt_key_new(key_bytes, 31) == NULL);
    CHECK(jwt_key_new(NULL, 32) == NULL);
    struct jwt_key *k = test_key();
    CHECK(k != NULL);
    jwt_key_free(k);
    jwt_key_free(NULL);
    CHECK_STR(jwt_typ_name(JWT_TYP_USER), "user");
    CHECK_STR(jwt_typ_name(JWT_TYP_APP), "app");
    CHECK_STR(jwt_typ_name(JWT_TYP_OPERATOR), "operator");
    CHECK_STR(jwt_fail_str(JWT_FAIL_EXPIRED), "expired");
}

TEST(jwt_round_trip)
{
    struct jwt_key *k = test_key();
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddStringToObject(extra, "name", "Ann \"the\" buyer");
    cJSON_AddNumberToObject(extra, "ver", 3);
    struct jwt_payload p = {.typ = JWT_TYP_USER,
                            .sub = "b1",
                            .app = "default",
                            .iat = NOW,
                            .exp = NOW + 900,
                            .extra = extra};
    char *tok = NULL;
    CHECK_INT(jwt_sign(k, &p, &tok), 0);
    CHECK(tok != NULL && strncmp(tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37) == 0);

    struct jwt_claims c;
    enum jwt_fail why;
    CHECK_INT(jwt_verify(k, tok, strlen(tok), JWT_TYP_USER, NOW, &c, &why), 0);
    CHECK_INT(why, JWT_OK);
    CHECK_INT(c.typ, JWT_TYP_USER);
    CHECK_STR(c.sub, "b1");
    CHECK_STR(c.app, "default");
    CHECK_INT(c.iat, NOW);
    CHECK_INT(c.nbf, 0);
    CHECK_INT(c.exp, NOW + 900);
    CHECK_INT(strlen(c.jti), 32); /* generated */
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(c.json, "name");
    CHECK(cJSON_IsString(name) && strcmp(name->valuestring, "Ann \"the\" buyer") == 0);
    CHECK(cJSON_GetObjectItemCaseSensitive(c.json, "ver")->valuedouble == 3);
    jwt_claims_release(&c);
    jwt_claims_release(&c); /* idempotent */

    /* The token need not be NUL-terminated: a longer buffer is cut by len. */
    size_t n = strlen(tok);
    char *longer = malloc(n + 8);
    memcpy(longer, tok, n);
    memcpy(longer + n, "garbage", 8);
    CHECK_INT(jwt_verify(k, longer, n, JWT_TYP_USER, NOW, &c, NULL), 0);
    jwt_claims_release(&c);
    CHECK_INT(jwt_verify(k, longer, n + 7, JWT_TYP_USER, NOW, &c, NULL), ERR_UNAUTH);
    free(longer);

    /* Two signs of the same payload differ by jti; a given jti is kept. */
    char *tok2 = NULL;
    CHECK_INT(jwt_sign(k, &p, &tok2), 0);
    CHECK(strcmp(tok, tok2) != 0);
    free(tok2);
    p.jti = "fixed-id";
    p.nbf = NOW - 5;
    p.extra = NULL;
    CHECK_INT(jwt_sign(k, &p, &tok2), 0);
    CHECK_INT(jwt_verify(k, tok2, strlen(tok2), JWT_TYP_USER, NOW, &c, NULL), 0);
    CHECK_STR(c.jti, "fixed-id");
    CHECK_INT(c.nbf, NOW - 5);
    jwt_claims_release(&c);
    free(tok2);

    /* app and operator tokens; operators need no app */
    struct jwt_payload pa = {
        .typ = JWT_TYP_APP, .sub = "app_1", .app = "app_1", .iat = NOW, .exp = NOW + 60};
    struct jwt_payload po = {.typ = JWT_TYP_OPERATOR, .sub = "op_7", .iat = NOW, .exp = NOW + 60};
    char *ta = NULL, *to = NULL;
    CHECK_INT(jwt_sign(k, &pa, &ta), 0);
    CHECK_INT(jwt_sign(k, &po, &to), 0);
    CHECK_INT(check_tok(k, ta, JWT_TYP_APP), JWT_OK);
    CHECK_INT(jwt_verify(k, to, strlen(to), JWT_TYP_OPERATOR, NOW, &c, NULL), 0);
    CHECK_STR(c.app, "");
    CHECK_STR(c.sub, "op_7");
    jwt_claims_release(&c);

    /* Each kind is refused in the place of each other kind. */
    CHECK_INT(check_tok(k, tok, JWT_TYP_APP), JWT_FAIL_TYP);
    CHECK_INT(check_tok(k, tok, JWT_TYP_OPERATOR), JWT_FAIL_TYP);
    CHECK_INT(check_tok(k, ta, JWT_TYP_USER), JWT_FAIL_TYP);
    CHECK_INT(check_tok(k, ta, JWT_TYP_OPERATOR), JWT_FAIL_TYP);
    CHECK_INT(check_tok(k, to, JWT_TYP_USER), JWT_FAIL_TYP);
    CHECK_INT(check_tok(k, to, JWT_TYP_APP), JWT_FAIL_TYP);

    /* Another key refuses them all. */
    struct jwt_key *k2 = jwt_key_new(other_key_bytes, sizeof(other_key_bytes));
    CHECK_INT(check_tok(k2, tok, JWT_TYP_USER), JWT_FAIL_SIGNATURE);
    CHECK_INT(check_tok(k2, to, JWT_TYP_OPERATOR), JWT_FAIL_SIGNATURE);
    jwt_key_free(k2);

    free(ta);
    free(to);
    free(tok);
    cJSON_Delete(extra);
    jwt_key_free(k);
}

TEST(jwt_sign_rules)
{
    struct jwt_key *k = test_key();
    char *tok = NULL;
    struct jwt_payload p = {
        .typ = JWT_TYP_USER, .sub = "b1", .app = "default", .iat = NOW, .exp = NOW + 60};
    struct jwt_payload q;

    q = p, q.sub = NULL;
    CHECK_INT(jwt_sign(k, &q, &tok), ERR_INVAL);
    q = p, q.sub = "";
    CHECK_INT(jwt_sign(k, &q, &tok), ERR_INVAL);
    q = p, q.app = NULL; /* user tokens carry their app */
    CHECK_INT(jwt_sign(k, &q, &tok), ERR_INVAL);
    q = p, q.typ = JWT_TYP_APP, q.app = "";
    CHECK_INT(jwt_sign(k, &q, &tok), ERR_INVAL);
    q = p, q.exp = NOW;
    CHECK_INT(jwt_sign(k, &q, &tok), ERR_INVAL);
    q = p, q.nbf = NOW + 60;
    CHECK_INT(jwt_sign(k, &q, &tok), ERR_INVAL);
    q = p, q.typ = (enum jwt_typ)7;
    CHECK_INT(jwt_sign(k, &q, &tok), ERR_INVAL);
    char big[JWT_SUB_MAX + 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    q = p, q.sub = big;
    CHECK_INT(jwt_sign(k, &q, &tok), ERR_INVAL);
    big[JWT_SUB_MAX] = '\0'; /* exactly the maximum is fine */
    CHECK_INT(jwt_sign(k, &q, &tok), 0);
    CHECK_INT(check_tok(k, tok, JWT_TYP_USER), JWT_OK);
    free(tok);
    tok = NULL;

    /* extra: must be an object without registered names */
    cJSON *arr = cJSON_CreateArray();
    q = p, q.extra = arr;
    CHECK_INT(jwt_sign(k, &q, &tok), ERR_INVAL);
    cJSON_Delete(arr);
    cJSON *ex = cJSON_CreateObject();
    cJSON_AddStringToObject(ex, "typ", "operator");
    q = p, q.extra = ex;
    CHECK_INT(jwt_sign(k, &q, &tok), ERR_INVAL);
    cJSON_Delete(ex);
    ex = cJSON_CreateObject();
    cJSON_AddNumberToObject(ex, "exp", 1);
    q.extra = ex;
    CHECK_INT(jwt_sign(k, &q, &tok), ERR_INVAL);
    cJSON_Delete(ex);
    /* empty extra object is fine */
    ex = cJSON_CreateObject();
    q.extra = ex;
    CHECK_INT(jwt_sign(k, &q, &tok), 0);
    CHECK_INT(check_tok(k, tok, JWT_TYP_USER), JWT_OK);
    free(tok);
    tok = NULL;
    /* a token that would exceed JWT_MAX_LEN is never issued */
    char *blob = malloc(JWT_MAX_LEN);
    memset(blob, 'a', JWT_MAX_LEN - 1);
    blob[JWT_MAX_LEN - 1] = '\0';
    cJSON_AddStringToObject(ex, "blob", blob);
    CHECK_INT(jwt_sign(k, &q, &tok), ERR_TOOBIG);
    CHECK(tok == NULL);
    free(blob);
    cJSON_Delete(ex);
    jwt_key_free(k);
}

TEST(jwt_hmac_matches_openssl)
{
    /* Tokens forged with HMAC() under keys of every interesting length verify. */
    static const size_t lens[] = {32, 33, 63, 64, 65, 100, 200};
    uint8_t keybuf[200];
    for (size_t i = 0; i < sizeof(keybuf); i++)
        keybuf[i] = (uint8_t)(i * 37 + 11);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        struct jwt_key *k = jwt_key_new(keybuf, lens[i]);
        char *t = forge_raw(std_hdr, good_payload, keybuf, lens[i], NULL);
        CHECK_INT(check_tok(k, t, JWT_TYP_USER), JWT_OK);
        free(t);
        /* and our signature is HMAC()'s: sign, then re-sign the same input with HMAC() */
        struct jwt_payload p = {
            .typ = JWT_TYP_USER, .sub = "u", .app = "a", .iat = NOW, .exp = NOW + 1};
        char *tok = NULL;
        CHECK_INT(jwt_sign(k, &p, &tok), 0);
        const char *dot = strrchr(tok, '.');
        unsigned char mac[32];
        unsigned int ml;
        HMAC(EVP_sha256(), keybuf, (int)lens[i], (unsigned char *)tok, (size_t)(dot - tok), mac,
             &ml);
        char *s = b64url(mac, ml);
        CHECK_STR(dot + 1, s);
        free(s);
        free(tok);
        jwt_key_free(k);
    }
}

TEST(jwt_rfc7515_vector)
{
    /* RFC 7515 appendix A.1: the signature checks out; the claims then fail (no typ). */
    static const char *jwk =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
    static const char *tok = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
                             "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlL"
                             "mNvbS9pc19yb290Ijp0cnVlfQ."
                             "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    uint8_t kb[64];
    CHECK_INT(auth__b64url_decode(kb, jwk, strlen(jwk)), 64);
    struct jwt_key *k = jwt_key_new(kb, 64);
    struct jwt_claims c;
    enum jwt_fail why;
    CHECK_INT(jwt_verify(k, tok, strlen(tok), JWT_TYP_USER, 1300819000, &c, &why), ERR_UNAUTH);
    CHECK_INT(why, JWT_FAIL_CLAIMS);
    /* one bit off in the signature: now it is the signature that fails */
    char *bad = strdup(tok);
    bad[strlen(bad) - 2] = bad[strlen(bad) - 2] == 'X' ? 'Y' : 'X';
    CHECK_INT(jwt_verify(k, bad, strlen(bad), JWT_TYP_USER, 1300819000, &c, &why), ERR_UNAUTH);
    CHECK_INT(why, JWT_FAIL_SIGNATURE);
    free(bad);
    jwt_key_free(k);
}

TEST(jwt_forged_alg)
{
    struct jwt_key *k = test_key();
    CHECK_INT(check_forged(k, std_hdr, good_payload), JWT_OK);
    /* header parameters in another order, or without typ, are still HS256 */
    CHECK_INT(check_forged(k, "{\"typ\":\"JWT\",\"alg\":\"HS256\"}", good_payload), JWT_OK);
    CHECK_INT(check_forged(k, "{\"alg\":\"HS256\"}", good_payload), JWT_OK);
    CHECK_INT(check_forged(k, " {\"alg\":\"HS256\",\"kid\":\"k1\"} ", good_payload), JWT_OK);

    CHECK_INT(check_forged(k, "{\"alg\":\"none\",\"typ\":\"JWT\"}", good_payload), JWT_FAIL_ALG);
    CHECK_INT(check_forged(k, "{\"alg\":\"None\",\"typ\":\"JWT\"}", good_payload), JWT_FAIL_ALG);
    CHECK_INT(check_forged(k, "{\"alg\":\"NONE\"}", good_payload), JWT_FAIL_ALG);
    CHECK_INT(check_forged(k, "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", good_payload), JWT_FAIL_ALG);
    CHECK_INT(check_forged(k, "{\"alg\":\"hs256\"}", good_payload), JWT_FAIL_ALG);
    CHECK_INT(check_forged(k, "{\"alg\":\"HS256 \"}", good_payload), JWT_FAIL_ALG);
    CHECK_INT(check_forged(k, "{\"alg\":\"RS256\"}", good_payload), JWT_FAIL_ALG);
    CHECK_INT(check_forged(k, "{\"typ\":\"JWT\"}", good_payload), JWT_FAIL_ALG);
    CHECK_INT(check_forged(k, "{}", good_payload), JWT_FAIL_ALG);
    CHECK_INT(check_forged(k, "{\"alg\":256}", good_payload), JWT_FAIL_ALG);
    CHECK_INT(check_forged(k, "{\"alg\":null}", good_payload), JWT_FAIL_ALG);
    CHECK_INT(check_forged(k, "{\"alg\":[\"HS256\"]}", good_payload), JWT_FAIL_ALG);
    CHECK_INT(check_forged(k, "{\"ALG\":\"HS256\"}", good_payload), JWT_FAIL_ALG);
    /* alg given twice (parsers disagree on which wins), critical extensions, odd typ */
    CHECK_INT(check_forged(k, "{\"alg\":\"HS256\",\"alg\":\"none\"}", good_payload),
              JWT_FAIL_HEADER);
    CHECK_INT(check_forged(k, "{\"alg\":\"none\",\"alg\":\"HS256\"}", good_payload),
              JWT_FAIL_HEADER);
    CHECK_INT(check_forged(k, "{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"b64\":false}", good_payload),
              JWT_FAIL_HEADER);
    CHECK_INT(check_forged(k, "{\"alg\":\"HS256\",\"typ\":\"JWE\"}", good_payload),
              JWT_FAIL_HEADER);
    CHECK_INT(check_forged(k, "{\"alg\":\"HS256\",\"typ\":1}", good_payload), JWT_FAIL_HEADER);
    /* header not an object */
    CHECK_INT(check_forged(k, "[\"HS256\"]", good_payload), JWT_FAIL_HEADER);
    CHECK_INT(check_forged(k, "\"HS256\"", good_payload), JWT_FAIL_HEADER);
    CHECK_INT(check_forged(k, "null", good_payload), JWT_FAIL_HEADER);
    CHECK_INT(check_forged(k, "{\"alg\":\"HS256\"", good_payload), JWT_FAIL_HEADER);
    CHECK_INT(check_forged(k, "{\"alg\":\"HS256\"}x", good_payload), JWT_FAIL_HEADER);
    CHECK_INT(check_forged(k, "{\"alg\":\"HS256\"}{}", good_payload), JWT_FAIL_HEADER);
    CHECK_INT(check_forged(k, "", good_payload), JWT_FAIL_FORMAT); /* empty segment */
    /* a NUL inside the header */
    char *t = forge(std_hdr, good_payload);
    char *h = b64url("{\"alg\":\"HS256\"}\0junk", 20);
    char *dot = strchr(t, '.');
    size_t rest = strlen(dot);
    char *t2 = malloc(strlen(h) + rest + 1);
    memcpy(t2, h, strlen(h));
    memcpy(t2 + strlen(h), dot, rest + 1);
    CHECK_INT(check_tok(k, t2, JWT_TYP_USER), JWT_FAIL_HEADER);
    free(t2);
    free(h);
    free(t);
    /* too many header members */
    char many[512] = "{\"alg\":\"HS256\"";
    for (int i = 0; i < 20; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), ",\"k%d\":%d", i, i);
    strcat(many, "}");
    CHECK_INT(check_forged(k, many, good_payload), JWT_FAIL_HEADER);

    /* alg none with an empty signature: refused on its shape */
    char *hn = b64url("{\"alg\":\"none\"}", 14);
    char *pn = b64url(good_payload, strlen(good_payload));
    char none_tok[512];
    snprintf(none_tok, sizeof(none_tok), "%s.%s.", hn, pn);
    CHECK_INT(check_tok(k, none_tok, JWT_TYP_USER), JWT_FAIL_FORMAT);
    snprintf(none_tok, sizeof(none_tok), "%s.%s", hn, pn);
    CHECK_INT(check_tok(k, none_tok, JWT_TYP_USER), JWT_FAIL_FORMAT);
    free(hn);
    free(pn);
    jwt_key_free(k);
}

TEST(jwt_forged_signature)
{
    struct jwt_key *k = test_key();
    char *t = forge(std_hdr, good_payload);
    size_t n = strlen(t);
    /* a different but well-formed signature character */
    char *bad = strdup(t);
    bad[n - 10] = bad[n - 10] == 'A' ? 'B' : 'A';
    CHECK_INT(check_tok(k, bad, JWT_TYP_USER), JWT_FAIL_SIGNATURE);
    /* the signature of another token */
    char *other =
        forge(std_hdr, "{\"sub\":\"b2\",\"app\":\"default\",\"typ\":\"user\",\"exp\":1800000900}");
    strcpy(bad, t);
    memcpy(strrchr(bad, '.'), strrchr(other, '.'), 44);
    CHECK_INT(check_tok(k, bad, JWT_TYP_USER), JWT_FAIL_SIGNATURE);
    /* tampered payload with the original signature: sub b1 -> b2 */
    static const char t1[] = "{\"sub\":\"b2\",\"app\":\"default\",\"typ\":\"user\",\"iat\":"
                             "1800000000,\"exp\":1800000900}";
    static const char t2[] = "{\"sub\":\"b1\",\"app\":\"default\",\"typ\":\"operator\","
                             "\"iat\":1800000000,\"exp\":1800000900}";
    char *tampered_p = b64url(t1, strlen(t1));
    const char *d1 = strchr(t, '.'), *d2 = strrchr(t, '.');
    char buf[1024];
    snprintf(buf, sizeof(buf), "%.*s.%s%s", (int)(d1 - t), t, tampered_p, d2);
    CHECK_INT(check_tok(k, buf, JWT_TYP_USER), JWT_FAIL_SIGNATURE);
    /* tampered payload: exp pushed later, typ changed */
    free(tampered_p);
    tampered_p = b64url(t2, strlen(t2));
    snprintf(buf, sizeof(buf), "%.*s.%s%s", (int)(d1 - t), t, tampered_p, d2);
    CHECK_INT(check_tok(k, buf, JWT_TYP_OPERATOR), JWT_FAIL_SIGNATURE);
    free(tampered_p);
    /* tampered header (alg none) with the original signature */
    static const char t3[] = "{\"alg\":\"HS256\",\"typ\":\"jwt\"}";
    char *hn = b64url(t3, strlen(t3));
    snprintf(buf, sizeof(buf), "%s%s", hn, d1);
    CHECK_INT(check_tok(k, buf, JWT_TYP_USER), JWT_FAIL_SIGNATURE);
    free(hn);
    /* signature too short, too long, empty, padded, bad characters, non-canonical */
    snprintf(buf, sizeof(buf), "%.*s", (int)(n - 1), t);
    CHECK_INT(check_tok(k, buf, JWT_TYP_USER), JWT_FAIL_FORMAT);
    snprintf(buf, sizeof(buf), "%sA", t);
    CHECK_INT(check_tok(k, buf, JWT_TYP_USER), JWT_FAIL_FORMAT);
    snprintf(buf, sizeof(buf), "%s=", t);
    CHECK_INT(check_tok(k, buf, JWT_TYP_USER), JWT_FAIL_FORMAT);
    snprintf(buf, sizeof(buf), "%.*s", (int)(d2 - t + 1), t);
    CHECK_INT(check_tok(k, buf, JWT_TYP_USER), JWT_FAIL_FORMAT);
    strcpy(buf, t);
    buf[n - 5] = '+';
    CHECK_INT(check_tok(k, buf, JWT_TYP_USER), JWT_FAIL_FORMAT);
    strcpy(buf, t);
    buf[n - 5] = '/';
    CHECK_INT(check_tok(k, buf, JWT_TYP_USER), JWT_FAIL_FORMAT);
    /* the last character carries 2 unused bits: setting one is non-canonical */
    {
        static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        strcpy(buf, t);
        int v = (int)(strchr(al, buf[n - 1]) - al);
        CHECK_INT(v & 3, 0);
        buf[n - 1] = al[v | 1];
        CHECK_INT(check_tok(k, buf, JWT_TYP_USER), JWT_FAIL_FORMAT);
    }
    free(other);
    free(bad);
    free(t);
    jwt_key_free(k);
}

TEST(jwt_forged_shape)
{
    struct jwt_key *k = test_key();
    char *t = forge(std_hdr, good_payload);
    const char *d1 = strchr(t, '.'), *d2 = strrchr(t, '.');
    char buf[1024];
    /* 2 and 4 segments, empty pieces */
    snprintf(buf, sizeof(buf), "%.*s", (int)(d2 - t), t);
    CHECK_INT(check_tok(k, buf, JWT_TYP_USER), JWT_FAIL_FORMAT);
    snprintf(buf, sizeof(buf), "%s.%s", t, d2 + 1);
    CHECK_INT(check_tok(k, buf, JWT_TYP_USER), JWT_FAIL_FORMAT);
    snprintf(buf, sizeof(buf), "%s.", t);
    CHECK_INT(check_tok(k, buf, JWT_TYP_USER), JWT_FAIL_FORMAT);
    snprintf(buf, sizeof(buf), ".%s", t);
    CHECK_INT(check_tok(k, buf, JWT_TYP_USER), JWT_FAIL_FORMAT);
    snprintf(buf, sizeof(buf), "%.*s.%s", (int)(d1 - t), t, d2); /* empty payload */
    CHECK_INT(check_tok(k, buf, JWT_TYP_USER), JWT_FAIL_FORMAT);
    CHECK_INT(check_tok(k, "", JWT_TYP_USER), JWT_FAIL_FORMAT);
    CHECK_INT(check_tok(k, "..", JWT_TYP_USER), JWT_FAIL_FORMAT);
    CHECK_INT(check_tok(k, "abc", JWT_TYP_USER), JWT_FAIL_FORMAT);
    struct jwt_claims c;
    enum jwt_fail why;
    CHECK_INT(jwt_verify(k, NULL, 0, JWT_TYP_USER, NOW, &c, &why), ERR_UNAUTH);
    CHECK_INT(why, JWT_FAIL_FORMAT);
    /* whitespace around the token */
    snprintf(buf, sizeof(buf), " %s", t);
    CHECK_INT(check_tok(k, buf, JWT_TYP_USER), JWT_FAIL_FORMAT);
    snprintf(buf, sizeof(buf), "%s\n", t);
    CHECK_INT(check_tok(k, buf, JWT_TYP_USER), JWT_FAIL_FORMAT);

    /* padding and invalid base64url in the payload, with a valid signature over it */
    {
        /* a payload whose length is not a multiple of 3, so its encoding has unused bits */
        char gp[256];
        snprintf(gp, sizeof(gp), "%s", good_payload);
        while (strlen(gp) % 3 == 0)
            strcat(gp, " ");
        char *h = b64url(std_hdr, strlen(std_hdr));
        char *p = b64url(gp, strlen(gp));
        /* payload prefixed or suffixed with: padding, '+' and other invalid characters */
        static const char *const pre[] = {"", "", "+", "", "", " "};
        static const char *const post[] = {"==", "=", "", "!", "*", ""};
        for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
            char si[768];
            snprintf(si, sizeof(si), "%s.%s%s%s", h, pre[i], p, post[i]);
            unsigned char mac[32];
            unsigned int ml;
            HMAC(EVP_sha256(), key_bytes, 32, (unsigned char *)si, strlen(si), mac, &ml);
            char *s = b64url(mac, ml);
            snprintf(buf, sizeof(buf), "%s.%s", si, s);
            free(s);
            CHECK_INT(check_tok(k, buf, JWT_TYP_USER), JWT_FAIL_FORMAT);
        }
        /* padding in the header */
        snprintf(buf, sizeof(buf), "%s=%s", h, d1);
        CHECK_INT(check_tok(k, buf, JWT_TYP_USER), JWT_FAIL_FORMAT);
        /* non-canonical trailing bits in the payload, validly signed */
        size_t pl = strlen(p);
        CHECK(pl % 4 == 2 || pl % 4 == 3);
        static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        int v = (int)(strchr(al, p[pl - 1]) - al);
        p[pl - 1] = al[v | 1];
        char si[768];
        snprintf(si, sizeof(si), "%s.%s", h, p);
        unsigned char mac[32];
        unsigned int ml;
        HMAC(EVP_sha256(), key_bytes, 32, (unsigned char *)si, strlen(si), mac, &ml);
        char *s = b64url(mac, ml);
        snprintf(buf, sizeof(buf), "%s.%s", si, s);
        free(s);
        CHECK_INT(check_tok(k, buf, JWT_TYP_USER), JWT_FAIL_FORMAT);
        free(h);
        free(p);
    }

    /* oversize: refused before anything is read */
    char *huge = malloc(JWT_MAX_LEN + 2);
    memset(huge, 'A', JWT_MAX_LEN + 1);
    huge[JWT_MAX_LEN + 1] = '\0';
    CHECK_INT(check_tok(k, huge, JWT_TYP_USER), JWT_FAIL_TOOBIG);
    free(huge);
    {
        /* a validly signed token just over the limit is refused too */
        char *pl = malloc(JWT_MAX_LEN);
        snprintf(pl, JWT_MAX_LEN,
                 "{\"sub\":\"b1\",\"app\":\"default\",\"typ\":\"user\",\"exp\":1800000900,\"x\":\"%"
                 "0*d\"}",
                 6100, 0);
        char *big = forge(std_hdr, pl);
        CHECK(strlen(big) > JWT_MAX_LEN);
        CHECK_INT(check_tok(k, big, JWT_TYP_USER), JWT_FAIL_TOOBIG);
        free(big);
        /* and one under it is accepted */
        snprintf(pl, JWT_MAX_LEN,
                 "{\"sub\":\"b1\",\"app\":\"default\",\"typ\":\"user\",\"exp\":1800000900,\"x\":\"%"
                 "0*d\"}",
                 5000, 0);
        big = forge(std_hdr, pl);
        CHECK(strlen(big) <= JWT_MAX_LEN);
        CHECK_INT(check_tok(k, big, JWT_TYP_USER), JWT_OK);
        free(big);
        free(pl);
    }
    free(t);
    jwt_key_free(k);
}

TEST(jwt_forged_payload)
{
    struct jwt_key *k = test_key();
    /* payload not an object, or not JSON */
    CHECK_INT(check_forged(k, std_hdr, "[1,2]"), JWT_FAIL_PAYLOAD);
    CHECK_INT(check_forged(k, std_hdr, "\"user\""), JWT_FAIL_PAYLOAD);
    CHECK_INT(check_forged(k, std_hdr, "1800000900"), JWT_FAIL_PAYLOAD);
    CHECK_INT(check_forged(k, std_hdr, "null"), JWT_FAIL_PAYLOAD);
    CHECK_INT(check_forged(k, std_hdr, "{\"sub\":"), JWT_FAIL_PAYLOAD);
    CHECK_INT(check_forged(k, std_hdr, "{}{}"), JWT_FAIL_PAYLOAD);
    /* the claims */
    CHECK_INT(check_forged(k, std_hdr, "{}"), JWT_FAIL_CLAIMS);
    CHECK_INT(check_forged(k, std_hdr, "{\"sub\":\"b1\",\"app\":\"default\",\"typ\":\"user\"}"),
              JWT_FAIL_CLAIMS); /* no exp */
    CHECK_INT(check_forged(
                  k, std_hdr,
                  "{\"sub\":\"b1\",\"app\":\"default\",\"typ\":\"user\",\"exp\":\"1800000900\"}"),
              JWT_FAIL_CLAIMS);
    CHECK_INT(check_forged(k, std_hdr,
                           "{\"sub\":\"b1\",\"app\":\"default\",\"typ\":\"user\",\"exp\":null}"),
              JWT_FAIL_CLAIMS);
    CHECK_INT(check_forged(k, std_hdr,
                           "{\"sub\":\"b1\",\"app\":\"default\",\"typ\":\"user\",\"exp\":true}"),
              JWT_FAIL_CLAIMS);
    CHECK_INT(check_forged(k, std_hdr,
                           "{\"sub\":\"b1\",\"app\":\"default\",\"typ\":\"user\",\"exp\":1e999}"),
              JWT_FAIL_CLAIMS);
    CHECK_INT(check_forged(k, std_hdr,
                           "{\"sub\":\"b1\",\"app\":\"default\",\"typ\":\"user\",\"exp\":-5}"),
              JWT_FAIL_CLAIMS);
    CHECK_INT(check_forged(k, std_hdr,
                           "{\"sub\":\"b1\",\"app\":\"default\",\"typ\":\"user\",\"exp\":"
                           "1800000900,\"nbf\":\"0\"}"),
              JWT_FAIL_CLAIMS);
    CHECK_INT(
        check_forged(
            k, std_hdr,
            "{\"sub\":\"b1\",\"app\":\"default\",\"typ\":\"user\",\"exp\":1800000900,\"iat\":[]}"),
        JWT_FAIL_CLAIMS);
    CHECK_INT(check_forged(k, std_hdr, "{\"app\":\"default\",\"typ\":\"user\",\"exp\":1800000900}"),
              JWT_FAIL_CLAIMS); /* no sub */
    CHECK_INT(
        check_forged(k, std_hdr,
                     "{\"sub\":\"\",\"app\":\"default\",\"typ\":\"user\",\"exp\":1800000900}"),
        JWT_FAIL_CLAIMS);
    CHECK_INT(check_forged(k, std_hdr,
                           "{\"sub\":7,\"app\":\"default\",\"typ\":\"user\",\"exp\":1800000900}"),
              JWT_FAIL_CLAIMS);
    CHECK_INT(check_forged(k, std_hdr, "{\"sub\":\"b1\",\"typ\":\"user\",\"exp\":1800000900}"),
              JWT_FAIL_CLAIMS); /* user token without its app */
    CHECK_INT(check_forged(k, std_hdr, "{\"sub\":\"b1\",\"app\":\"default\",\"exp\":1800000900}"),
              JWT_FAIL_CLAIMS); /* no typ */
    CHECK_INT(
        check_forged(k, std_hdr,
                     "{\"sub\":\"b1\",\"app\":\"default\",\"typ\":\"admin\",\"exp\":1800000900}"),
        JWT_FAIL_CLAIMS);
    CHECK_INT(
        check_forged(k, std_hdr,
                     "{\"sub\":\"b1\",\"app\":\"default\",\"typ\":\"User\",\"exp\":1800000900}"),
        JWT_FAIL_CLAIMS);
    CHECK_INT(
        check_forged(k, std_hdr,
                     "{\"sub\":\"b1\",\"app\":\"default\",\"typ\":[\"user\"],\"exp\":1800000900}"),
        JWT_FAIL_CLAIMS);
    /* a registered claim twice */
    CHECK_INT(check_forged(k, std_hdr,
                           "{\"sub\":\"b1\",\"app\":\"default\",\"typ\":\"operator\",\"typ\":"
                           "\"user\",\"exp\":1800000900}"),
              JWT_FAIL_CLAIMS);
    CHECK_INT(check_forged(k, std_hdr,
                           "{\"sub\":\"b1\",\"sub\":\"a1\",\"app\":\"default\",\"typ\":\"user\","
                           "\"exp\":1800000900}"),
              JWT_FAIL_CLAIMS);
    CHECK_INT(
        check_forged(
            k, std_hdr,
            "{\"sub\":\"b1\",\"app\":\"default\",\"typ\":\"user\",\"exp\":1,\"exp\":1800000900}"),
        JWT_FAIL_CLAIMS);
    /* a sub longer than JWT_SUB_MAX */
    char pl[512], sub[JWT_SUB_MAX + 2];
    memset(sub, 's', sizeof(sub) - 1);
    sub[sizeof(sub) - 1] = '\0';
    snprintf(pl, sizeof(pl),
             "{\"sub\":\"%s\",\"app\":\"default\",\"typ\":\"user\",\"exp\":1800000900}", sub);
    CHECK_INT(check_forged(k, std_hdr, pl), JWT_FAIL_CLAIMS);
    /* unknown claims are allowed; a fractional exp is a NumericDate too */
    CHECK_INT(check_forged(k, std_hdr,
                           "{\"sub\":\"b1\",\"app\":\"default\",\"typ\":\"user\",\"exp\":"
                           "1800000900.5,\"x\":{\"y\":[1]}}"),
              JWT_OK);
    jwt_key_free(k);
}

TEST(jwt_times)
{
    struct jwt_key *k = test_key();
    char *p;
#define TIMES(iat, nbf, exp, want)                                                                 \
    do {                                                                                           \
        p = payload_with("user", (iat), (nbf), (exp));                                             \
        CHECK_INT(check_forged(k, std_hdr, p), (want));                                            \
        free(p);                                                                                   \
    } while (0)
    TIMES(NOW - 100, 0, NOW + 1, JWT_OK);
    TIMES(NOW - 100, 0, NOW, JWT_OK); /* expired, within the leeway */
    TIMES(NOW - 100, 0, NOW - 30, JWT_OK);
    TIMES(NOW - 100, 0, NOW - JWT_LEEWAY_S + 1, JWT_OK);
    TIMES(NOW - 100, 0, NOW - JWT_LEEWAY_S, JWT_FAIL_EXPIRED); /* exactly past the leeway */
    TIMES(NOW - 1000, 0, NOW - 61, JWT_FAIL_EXPIRED);
    TIMES(NOW - 1000, 0, NOW - 3600, JWT_FAIL_EXPIRED);
    TIMES(NOW, NOW + 30, NOW + 900, JWT_OK); /* not yet valid, within leeway */
    TIMES(NOW, NOW + JWT_LEEWAY_S, NOW + 900, JWT_OK);
    TIMES(NOW, NOW + JWT_LEEWAY_S + 1, NOW + 900, JWT_FAIL_NOT_YET);
    TIMES(NOW, NOW + 3600, NOW + 7200, JWT_FAIL_NOT_YET);
    TIMES(NOW + 30, 0, NOW + 900, JWT_OK); /* issued slightly in the future */
    TIMES(NOW + JWT_LEEWAY_S + 1, 0, NOW + 900, JWT_FAIL_NOT_YET);
#undef TIMES
    /* the same token, verified at different times */
    struct jwt_payload pp = {
        .typ = JWT_TYP_USER, .sub = "b1", .app = "default", .iat = NOW, .exp = NOW + 900};
    char *tok = NULL;
    CHECK_INT(jwt_sign(k, &pp, &tok), 0);
    struct jwt_claims c;
    enum jwt_fail why;
    CHECK_INT(jwt_verify(k, tok, strlen(tok), JWT_TYP_USER, NOW + 900 + 59, &c, &why), 0);
    jwt_claims_release(&c);
    CHECK_INT(jwt_verify(k, tok, strlen(tok), JWT_TYP_USER, NOW + 900 + 60, &c, &why), ERR_UNAUTH);
    CHECK_INT(why, JWT_FAIL_EXPIRED);
    CHECK_INT(jwt_verify(k, tok, strlen(tok), JWT_TYP_USER, NOW - 61, &c, &why), ERR_UNAUTH);
    CHECK_INT(why, JWT_FAIL_NOT_YET);
    free(tok);
    jwt_key_free(k);
}

struct verify_thread {
    const struct jwt_key *key;
    const char *tok;
    int ok;
};

static void *verify_worker(void *arg)
{
    struct verify_thread *v = arg;
    for (int i = 0; i < 2000; i++) {
        struct jwt_claims c;
        if (jwt_verify(v->key, v->tok, strlen(v->tok), JWT_TYP_USER, NOW, &c, NULL) == 0)
            v->ok++;
        jwt_claims_release(&c);
    }
    return NULL;
}

TEST(jwt_threads)
{
    /* One key, verified from several threads at once. */
    struct jwt_key *k = test_key();
    struct jwt_payload p = {
        .typ = JWT_TYP_USER, .sub = "b1", .app = "default", .iat = NOW, .exp = NOW + 900};
    char *tok = NULL;
    CHECK_INT(jwt_sign(k, &p, &tok), 0);
    pthread_t th[4];
    struct verify_thread v[4];
    for (int i = 0; i < 4; i++) {
        v[i] = (struct verify_thread){k, tok, 0};
        CHECK_INT(pthread_create(&th[i], NULL, verify_worker, &v[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(v[i].ok, 2000);
    }
    free(tok);
    jwt_key_free(k);
}

static double elapsed_us(uint64_t t0)
{
    return (double)(clock_mono_us() - t0);
}

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

TEST(jwt_bench)
{
    /*
     * Prints µs per operation on a typical user token (target: verify <= 2 µs in
     * -O2 builds): the best of 3 rounds, as thread CPU time (what the loop
     * thread pays) and wall time (inflated when other processes share the CPUs).
     */
    struct jwt_key *k = test_key();
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddStringToObject(extra, "name", "Buyer One");
    struct jwt_payload p = {.typ = JWT_TYP_USER,
                            .sub = "b1",
                            .app = "default",
                            .iat = NOW,
                            .exp = NOW + 900,
                            .extra = extra};
    char *tok = NULL;
    CHECK_INT(jwt_sign(k, &p, &tok), 0);
    size_t len = strlen(tok);
    const char *env = getenv("HERALD_BENCH_N");
    int n = env ? atoi(env) : 20000;
    if (n < 1)
        n = 1;
    double best[3][2] = {{1e9, 1e9}, {1e9, 1e9}, {1e9, 1e9}}; /* verify, sign, HMAC(): cpu, wall */
    unsigned char mac[32];
    unsigned int ml;
    for (int round = 0; round < 3; round++) {
        for (int what = 0; what < 3; what++) {
            int ok = 0;
            uint64_t c0 = cpu_ns(), w0 = clock_mono_us();
            for (int i = 0; i < n; i++) {
                if (what == 0) {
                    struct jwt_claims c;
                    ok += jwt_verify(k, tok, len, JWT_TYP_USER, NOW, &c, NULL) == 0;
                    jwt_claims_release(&c);
                } else if (what == 1) {
                    char *t = NULL;
                    ok += jwt_sign(k, &p, &t) == 0;
                    free(t);
                } else {
                    /* the one-shot HMAC() the spec names, for comparison */
                    ok += HMAC(EVP_sha256(), key_bytes, 32, (unsigned char *)tok, len - 44, mac,
                               &ml) != NULL;
                }
            }
            CHECK_INT(ok, n);
            double cpu = (double)(cpu_ns() - c0) / 1000.0 / n, wall = elapsed_us(w0) / n;
            if (cpu < best[what][0])
                best[what][0] = cpu;
            if (wall < best[what][1])
                best[what][1] = wall;
        }
    }
    printf("bench jwt (us/op, cpu/wall, best of 3 x %d, token %zu bytes): verify %.2f/%.2f, "
           "sign %.2f/%.2f, one-shot HMAC() alone %.2f/%.2f\n",
           n, len, best[0][0], best[0][1], best[1][0], best[1][1], best[2][0], best[2][1]);
    free(tok);
    cJSON_Delete(extra);
    jwt_key_free(k);
}

/* ---- passwords */

/* The admin account's hash from the source system; its password is "admin". */
static const char legacy_admin_hash[] =
    "$2b$12$oaobiIPoFhjcLJexAUgyce4luAWJ53iXoG10PzL/.sjoNVxjBkt7W";

TEST(password_round_trip)
{
    char *h = NULL;
    uint64_t t0 = clock_mono_us();
    CHECK_INT(password_hash("correct horse", 13, &h), 0);
    double hash_ms = elapsed_us(t0) / 1000;
    CHECK(h != NULL && strncmp(h, "$y$", 3) == 0);
    CHECK(strlen(h) < PASSWORD_HASH_MAX);
    t0 = clock_mono_us();
    CHECK_INT(password_verify("correct horse", 13, h), 0);
    double verify_ms = elapsed_us(t0) / 1000;
    CHECK_INT(password_verify("correct horsE", 13, h), ERR_UNAUTH);
    CHECK_INT(password_verify("correct hors", 12, h), ERR_UNAUTH);
    CHECK_INT(password_verify("correct horse ", 14, h), ERR_UNAUTH);
    CHECK(!password_needs_rehash(h));
    /* salted: the same password hashes differently each time */
    char *h2 = NULL;
    CHECK_INT(password_hash("correct horse", 13, &h2), 0);
    CHECK(strcmp(h, h2) != 0);
    CHECK_INT(password_verify("correct horse", 13, h2), 0);
    printf("bench password: yescrypt hash %.1f ms, verify %.1f ms\n", hash_ms, verify_ms);
    free(h);
    free(h2);

    /* UTF-8 and the maximum length */
    CHECK_INT(password_hash("密码🔑", strlen("密码🔑"), &h), 0);
    CHECK_INT(password_verify("密码🔑", strlen("密码🔑"), h), 0);
    free(h);
    CHECK(PASSWORD_MAX_LEN >= 511);
    char *max = malloc(1025);
    memset(max, 'p', 1025);
    CHECK_INT(password_hash(max, PASSWORD_MAX_LEN, &h), 0);
    CHECK_INT(password_verify(max, PASSWORD_MAX_LEN, h), 0);
    max[PASSWORD_MAX_LEN - 1] = 'q'; /* yescrypt reads every byte */
    CHECK_INT(password_verify(max, PASSWORD_MAX_LEN, h), ERR_UNAUTH);
    free(h);
    h = NULL;
    CHECK_INT(password_hash(max, PASSWORD_MAX_LEN + 1, &h), ERR_INVAL);
    CHECK_INT(password_hash(max, 1025, &h), ERR_INVAL);
    CHECK(h == NULL);
    CHECK_INT(password_verify(max, PASSWORD_MAX_LEN + 1, legacy_admin_hash), ERR_UNAUTH);
    free(max);
}

TEST(password_rejects)
{
    char *h = NULL;
    CHECK_INT(password_hash("", 0, &h), ERR_INVAL);
    CHECK_INT(password_hash("ab\0cd", 5, &h), ERR_INVAL);
    CHECK_INT(password_hash(NULL, 3, &h), ERR_INVAL);
    CHECK(h == NULL);
    CHECK_INT(password_hash("abc", 3, &h), 0);
    /* a NUL would let "abc\0anything" match "abc": never */
    CHECK_INT(password_verify("abc\0x", 5, h), ERR_UNAUTH);
    CHECK_INT(password_verify("", 0, h), ERR_UNAUTH);
    free(h);
    /* unsupported or malformed stored hashes are a store problem: ERR_INVAL */
    CHECK_INT(password_verify("x", 1, NULL), ERR_INVAL);
    CHECK_INT(password_verify("x", 1, ""), ERR_INVAL);
    CHECK_INT(password_verify("x", 1, "plaintext"), ERR_INVAL);
    CHECK_INT(password_verify("x", 1, "$1$saltsalt$2vnaRpHa6Jxjz5n83ok8Z0"),
              ERR_INVAL); /* md5crypt */
    CHECK_INT(password_verify("x", 1,
                              "$6$salt$"
                              "IxDD3jeSOb5eB1CX5LBsqZFVkJdido3OUILO5Ifz5iwMuTS4XMS130MTSuDDl3aCI6Wo"
                              "uIL9AjRbLCelDCy.g."),
              ERR_INVAL);
    CHECK_INT(password_verify("x", 1, "ab01FAX.bQRSU"), ERR_INVAL); /* DES */
    CHECK_INT(password_verify("x", 1, "$y$"), ERR_INVAL);
    CHECK_INT(password_verify("x", 1, "$y$j9T$garbage"), ERR_INVAL);
    CHECK_INT(password_verify("x", 1, "$2b$12$short"), ERR_INVAL);
    CHECK_INT(
        password_verify("x", 1, "$2b$99$oaobiIPoFhjcLJexAUgyce4luAWJ53iXoG10PzL/.sjoNVxjBkt7W"),
        ERR_INVAL);
}

TEST(password_legacy_bcrypt)
{
    uint64_t t0 = clock_mono_us();
    CHECK_INT(password_verify("admin", 5, legacy_admin_hash), 0);
    double ms = elapsed_us(t0) / 1000;
    CHECK_INT(password_verify("Admin", 5, legacy_admin_hash), ERR_UNAUTH);
    CHECK_INT(password_verify("admin123", 8, legacy_admin_hash), ERR_UNAUTH);
    CHECK(password_needs_rehash(legacy_admin_hash));
    printf("bench password: bcrypt cost 12 verify %.1f ms\n", ms);

    /* hashes made here with crypt_gensalt("$2b$", 10), "$2a$" and "$2y$" (cost 4) */
    static const char b2b[] = "$2b$10$kWi1UfnDwsZZ2va4xDdTw.m7JfHY2H8BmJ0TuWrA3IjGADoN9ef/.";
    static const char b2a[] = "$2a$04$MNQTB/jIsozA81N/8HszrOmno1eFAEC03iVBJCImFq/24lLPC.cqm";
    static const char b2y[] = "$2y$04$63s7ckj0krsxkpaFow8NT.uTH8cI8iXKASxntOBOGrptpa2Bxxoau";
    const char *pw = "correct horse battery staple";
    CHECK_INT(password_verify(pw, strlen(pw), b2b), 0);
    CHECK_INT(password_verify("correct horse battery stapler", 29, b2b), ERR_UNAUTH);
    CHECK_INT(password_verify("legacy-2a", 9, b2a), 0);
    CHECK_INT(password_verify("legacy-2b", 9, b2a), ERR_UNAUTH);
    CHECK_INT(password_verify("legacy-2y", 9, b2y), 0);
    CHECK_INT(password_verify("legacy-2x", 9, b2y), ERR_UNAUTH);
    CHECK(password_needs_rehash(b2a) && password_needs_rehash(b2y) && password_needs_rehash(b2b));
    CHECK(password_needs_rehash("$6$x$y"));
    CHECK(password_needs_rehash(""));
    CHECK(password_needs_rehash(NULL));
    CHECK(!password_needs_rehash(
        "$y$j9T$gKtcZGTWe5sXz9x/lDmbq1$lFLkLZwNMsUbEL2V22OhhBqDkZ2wBCBhAjK4gpCDuE1"));
}

TEST(password_dummy)
{
    /* The dummy check costs about as much as a real one and never succeeds. */
    char *h = NULL;
    CHECK_INT(password_hash("pw", 2, &h), 0);
    uint64_t t0 = clock_mono_us();
    CHECK_INT(password_verify("pw", 2, h), 0);
    double real_us = elapsed_us(t0);
    t0 = clock_mono_us();
    CHECK_INT(password_verify_dummy("pw", 2), ERR_UNAUTH);
    double dummy_us = elapsed_us(t0);
    CHECK(dummy_us > real_us / 3);
    CHECK_INT(password_verify_dummy("", 0), ERR_UNAUTH);
    free(h);
}

TEST(password_dummy_of_the_costliest_kind)
{
    CHECK_INT(password_bcrypt_cost(legacy_admin_hash), 12);
    CHECK_INT(password_bcrypt_cost("$2a$04$abc"), 4);
    CHECK_INT(password_bcrypt_cost("$y$j9T$gKtcZGTWe5sXz9x/lDmbq1$x"), 0);
    CHECK_INT(password_bcrypt_cost("$2b$99$x"), 0);
    CHECK_INT(password_bcrypt_cost("$2b$1"), 0);
    CHECK_INT(password_bcrypt_cost(NULL), 0);
    /* a bcrypt user at cost 10 costs about what the dummy of cost 10 costs */
    uint64_t t0 = clock_mono_us();
    CHECK_INT(
        password_verify("wrong", 5, "$2b$10$oaobiIPoFhjcLJexAUgyce4luAWJ53iXoG10PzL/.sjoNVxjBkt7W"),
        ERR_UNAUTH);
    double real_us = elapsed_us(t0);
    t0 = clock_mono_us();
    CHECK_INT(password_verify_dummy_cost("wrong", 5, 10), ERR_UNAUTH);
    double dummy_us = elapsed_us(t0);
    CHECK(dummy_us > real_us / 3 && dummy_us < real_us * 3);
    /* cheap bcrypt costs fall back to one yescrypt check */
    CHECK_INT(password_verify_dummy_cost("wrong", 5, 4), ERR_UNAUTH);
    CHECK_INT(password_verify_dummy_cost("", 0, 12), ERR_UNAUTH);
}

struct hash_thread {
    char pw[16];
    char *hash;
    int rc;
};

static void *hash_worker(void *arg)
{
    struct hash_thread *h = arg;
    h->rc = password_hash(h->pw, strlen(h->pw), &h->hash);
    if (h->rc == 0)
        h->rc = password_verify(h->pw, strlen(h->pw), h->hash);
    if (h->rc == 0)
        h->rc = password_verify("admin", 5, legacy_admin_hash);
    return NULL;
}

TEST(password_threads)
{
    pthread_t th[3];
    struct hash_thread h[3];
    for (int i = 0; i < 3; i++) {
        memset(&h[i], 0, sizeof(h[i]));
        snprintf(h[i].pw, sizeof(h[i].pw), "pw-%d", i);
        CHECK_INT(pthread_create(&th[i], NULL, hash_worker, &h[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(h[i].rc, 0);
        /* each hash is of its own password */
        CHECK_INT(password_verify(h[(i + 1) % 3].pw, strlen(h[(i + 1) % 3].pw), h[i].hash),
                  ERR_UNAUTH);
    }
    for (int i = 0; i < 3; i++)
        free(h[i].hash);
}

/* ---- secretbox */

TEST(secretbox_round_trip)
{
    char *s = NULL, *s2 = NULL;
    uint8_t *pt = NULL;
    size_t n = 0;
    const char *msg = "smtp-password-äöü";
    CHECK_INT(secretbox_seal(key_bytes, msg, strlen(msg), &s), 0);
    CHECK(strncmp(s, "v1:", 3) == 0);
    CHECK(strstr(s, "smtp") == NULL);
    CHECK_INT(strlen(s), 3 + AUTH_B64_LEN(12 + strlen(msg) + 16));
    CHECK_INT(secretbox_open(key_bytes, s, &pt, &n), 0);
    CHECK_INT(n, strlen(msg));
    CHECK_STR((char *)pt, msg);
    free(pt);
    /* a fresh nonce each time */
    CHECK_INT(secretbox_seal(key_bytes, msg, strlen(msg), &s2), 0);
    CHECK(strcmp(s, s2) != 0);
    free(s2);
    /* empty and binary plaintexts */
    CHECK_INT(secretbox_seal(key_bytes, "", 0, &s2), 0);
    CHECK_INT(secretbox_open(key_bytes, s2, &pt, &n), 0);
    CHECK_INT(n, 0);
    CHECK_INT(pt[0], 0);
    free(pt);
    free(s2);
    uint8_t bin[300];
    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (uint8_t)i;
    CHECK_INT(secretbox_seal(key_bytes, bin, sizeof(bin), &s2), 0);
    CHECK_INT(secretbox_open(key_bytes, s2, &pt, &n), 0);
    CHECK_INT(n, sizeof(bin));
    CHECK(memcmp(pt, bin, sizeof(bin)) == 0);
    free(pt);
    free(s2);
    /* over the limit */
    s2 = NULL;
    CHECK_INT(secretbox_seal(key_bytes, bin, SECRETBOX_MAX_PLAINTEXT + 1, &s2), ERR_TOOBIG);
    CHECK(s2 == NULL);
    free(s);
}

TEST(secretbox_tamper)
{
    char *s = NULL;
    uint8_t *pt = (uint8_t *)"untouched";
    size_t n = 0;
    CHECK_INT(secretbox_seal(key_bytes, "webhook-signing-secret", 22, &s), 0);
    size_t len = strlen(s);
    /* every single-character change anywhere is detected */
    char *t = strdup(s);
    int detected = 0, total = 0;
    for (size_t i = 0; i < len; i++) {
        char orig = t[i];
        t[i] = orig == 'A' ? 'B' : 'A';
        total++;
        detected += secretbox_open(key_bytes, t, &pt, &n) == ERR_INVAL;
        t[i] = orig;
    }
    CHECK_INT(detected, total);
    free(t);
    CHECK_STR((char *)pt, "untouched");
    /* wrong key, version, truncation, junk */
    CHECK_INT(secretbox_open(other_key_bytes, s, &pt, &n), ERR_INVAL);
    t = strdup(s);
    t[1] = '2';
    CHECK_INT(secretbox_open(key_bytes, t, &pt, &n), ERR_INVAL);
    t[1] = '1';
    t[len - 4] = '\0';
    CHECK_INT(secretbox_open(key_bytes, t, &pt, &n), ERR_INVAL);
    free(t);
    CHECK_INT(secretbox_open(key_bytes, s + 3, &pt, &n), ERR_INVAL); /* no prefix */
    CHECK_INT(secretbox_open(key_bytes, NULL, &pt, &n), ERR_INVAL);
    CHECK_INT(secretbox_open(key_bytes, "", &pt, &n), ERR_INVAL);
    CHECK_INT(secretbox_open(key_bytes, "v1:", &pt, &n), ERR_INVAL);
    CHECK_INT(secretbox_open(key_bytes, "v1:AAAA", &pt, &n), ERR_INVAL);
    CHECK_INT(secretbox_open(key_bytes, "v1:!!!!", &pt, &n), ERR_INVAL);
    CHECK_INT(secretbox_open(key_bytes, "v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", &pt, &n),
              ERR_INVAL); /* 28 zero bytes: an empty ciphertext with a wrong tag */
    CHECK_STR((char *)pt, "untouched");
    free(s);
}

TEST(secret_mask)
{
    char m[SECRET_MASK_SIZE];
    CHECK_STR(secret_mask(NULL, m), "");
    CHECK_STR(secret_mask("", m), "");
    CHECK_STR(secret_mask("abc", m), "****");
    CHECK_STR(secret_mask("abcdefghijk", m), "****");      /* 11 */
    CHECK_STR(secret_mask("abcdefgh1234", m), "****1234"); /* 12 */
    CHECK_STR(secret_mask("sk_live_0123456789abcdefWXYZ", m), "****WXYZ");
    /* characters, not bytes */
    CHECK_STR(secret_mask("密钥密钥密钥密钥密钥", m), "****");             /* 10 chars, 30 bytes */
    CHECK_STR(secret_mask("密钥密钥密钥密钥密钥甲乙", m), "****密钥甲乙"); /* 12 chars */
    /* invalid UTF-8 never overflows */
    char junk[64];
    memset(junk, 0x80, sizeof(junk) - 1);
    junk[0] = 'a';
    junk[sizeof(junk) - 1] = '\0';
    CHECK_STR(secret_mask(junk, m), "****");
    memset(junk, 'a', 20);
    CHECK(strlen(secret_mask(junk, m)) < SECRET_MASK_SIZE);
}

static char tmp_root[64];

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (d == NULL)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
    chmod(path, mode);
}

TEST(secretbox_key_env)
{
    uint8_t k[32], want[32];
    char err[256];
    for (int i = 0; i < 32; i++)
        want[i] = (uint8_t)i;
    static const char *const good[] = {
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        "  AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        memset(k, 0xee, sizeof(k));
        CHECK_INT(secretbox_key_load(good[i], NULL, k, err, sizeof(err)), 0);
        CHECK(memcmp(k, want, 32) == 0);
    }
    /* url alphabet */
    uint8_t hi[32];
    memset(hi, 0xfb, sizeof(hi));
    char enc[64];
    auth__b64url_encode(enc, hi, 32);
    CHECK(strchr(enc, '-') != NULL || strchr(enc, '_') != NULL);
    CHECK_INT(secretbox_key_load(enc, NULL, k, err, sizeof(err)), 0);
    CHECK(memcmp(k, hi, 32) == 0);

    static const char *const bad[] = {
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e",     /* 31 bytes */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00", /* 33 */
        "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh==", /* 31 bytes */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8h", /* 33 bytes */
        "correct horse battery staple",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        CHECK_INT(secretbox_key_load(bad[i], "/nonexistent", k, err, sizeof(err)), ERR_INVAL);
        CHECK(strstr(err, "HERALD_ENCRYPTION_KEY") != NULL);
        CHECK(strstr(err, bad[i]) == NULL); /* the value is never echoed */
    }
    CHECK_INT(secretbox_key_load(NULL, NULL, k, err, sizeof(err)), ERR_INVAL);
    CHECK_INT(secretbox_key_load("", "", k, err, sizeof(err)), ERR_INVAL);
    CHECK(err[0] != '\0');
}

TEST(secretbox_key_file)
{
    uint8_t k1[32], k2[32];
    char err[512], dir[128], path[192];
    snprintf(dir, sizeof(dir), "%s/data", tmp_root); /* does not exist yet */
    snprintf(path, sizeof(path), "%s/encryption.key", dir);

    CHECK_INT(secretbox_key_load(NULL, dir, k1, err, sizeof(err)), 0);
    struct stat st;
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0600);
    CHECK_INT(st.st_size, 65);
    CHECK_INT(stat(dir, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0700);
    CHECK_INT(count_files(dir), 1); /* no temporary file left */

    /* reload: the same key, also through an empty env value */
    CHECK_INT(secretbox_key_load(NULL, dir, k2, err, sizeof(err)), 0);
    CHECK(memcmp(k1, k2, 32) == 0);
    memset(k2, 0, sizeof(k2));
    CHECK_INT(secretbox_key_load("", dir, k2, err, sizeof(err)), 0);
    CHECK(memcmp(k1, k2, 32) == 0);
    /* its text works as HERALD_ENCRYPTION_KEY */
    char text[80] = {0};
    FILE *f = fopen(path, "r");
    CHECK(f != NULL && fgets(text, sizeof(text), f) != NULL);
    if (f)
        fclose(f);
    memset(k2, 0, sizeof(k2));
    CHECK_INT(secretbox_key_load(text, NULL, k2, err, sizeof(err)), 0);
    CHECK(memcmp(k1, k2, 32) == 0);
    /* a secret sealed under the loaded key opens after a reload */
    char *s = NULL;
    uint8_t *pt = NULL;
    size_t n;
    CHECK_INT(secretbox_seal(k1, "x", 1, &s), 0);
    CHECK_INT(secretbox_open(k2, s, &pt, &n), 0);
    free(pt);
    free(s);

    /* readable by group or others: refused with a clear message, file untouched */
    chmod(path, 0644);
    err[0] = '\0';
    CHECK_INT(secretbox_key_load(NULL, dir, k2, err, sizeof(err)), ERR_DENIED);
    CHECK(strstr(err, "chmod 600") != NULL);
    CHECK(strstr(err, "0644") != NULL);
    CHECK(strstr(err, text) == NULL);
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0644);
    chmod(path, 0640);
    CHECK_INT(secretbox_key_load(NULL, dir, k2, err, sizeof(err)), ERR_DENIED);
    chmod(path, 0602);
    CHECK_INT(secretbox_key_load(NULL, dir, k2, err, sizeof(err)), ERR_DENIED);
    chmod(path, 0400); /* read-only for the owner is fine */
    CHECK_INT(secretbox_key_load(NULL, dir, k2, err, sizeof(err)), 0);
    CHECK(memcmp(k1, k2, 32) == 0);

    /* bad content: refused, never replaced */
    unlink(path);
    write_file(path, "not a key\n", 0600);
    err[0] = '\0';
    CHECK_INT(secretbox_key_load(NULL, dir, k2, err, sizeof(err)), ERR_INVAL);
    CHECK(strstr(err, path) != NULL);
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(st.st_size, 10);
    /* base64 content is accepted */
    unlink(path);
    write_file(path, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", 0600);
    CHECK_INT(secretbox_key_load(NULL, dir, k2, err, sizeof(err)), 0);
    CHECK_INT(k2[31], 31);
    /* an over-long file */
    unlink(path);
    char longtext[600];
    memset(longtext, '0', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    write_file(path, longtext, 0600);
    CHECK_INT(secretbox_key_load(NULL, dir, k2, err, sizeof(err)), ERR_INVAL);
    unlink(path);
    /* a folder where the file should be */
    CHECK_INT(mkdir(path, 0700), 0);
    CHECK_INT(secretbox_key_load(NULL, dir, k2, err, sizeof(err)), ERR_INVAL);
    rmdir(path);
    /* a data folder that cannot be created */
    char deep[256];
    snprintf(deep, sizeof(deep), "%s/missing/deeper", tmp_root);
    err[0] = '\0';
    CHECK_INT(secretbox_key_load(NULL, deep, k2, err, sizeof(err)), ERR_IO);
    CHECK(strstr(err, "deeper") != NULL);
    /* a fresh generation after removal gives a different key */
    CHECK_INT(secretbox_key_load(NULL, dir, k2, err, sizeof(err)), 0);
    CHECK(memcmp(k1, k2, 32) != 0);
    unlink(path);
    rmdir(dir);
}

/* ---- opaque tokens */

TEST(tokens)
{
    char a[TOKEN_LEN + 1], b[TOKEN_LEN + 1];
    token_generate(a);
    token_generate(b);
    CHECK_INT(strlen(a), TOKEN_LEN);
    CHECK(strcmp(a, b) != 0);
    CHECK(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
          TOKEN_LEN);
    CHECK(token_is_wellformed(a));
    CHECK(!token_is_wellformed(NULL));
    CHECK(!token_is_wellformed(""));
    char c[TOKEN_LEN + 2];
    snprintf(c, sizeof(c), "%s", a);
    c[5] = '+';
    CHECK(!token_is_wellformed(c));
    snprintf(c, sizeof(c), "%sA", a);
    CHECK(!token_is_wellformed(c));
    c[TOKEN_LEN - 1] = '\0';
    CHECK(!token_is_wellformed(c));

    uint8_t key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)i;
    char h1[TOKEN_HASH_HEX + 1], h2[TOKEN_HASH_HEX + 1];
    /* a fixed vector (HMAC-SHA256, computed independently) keeps stored hashes valid */
    CHECK_INT(token_hash("refresh-token-example", key, h1), 0);
    CHECK_STR(h1, "da472b038d7741fb895f224bf681602ac2f4022207f8b84268f5f5f7dc642e9c");
    CHECK_INT(token_hash(a, key, h1), 0);
    CHECK_INT(token_hash(a, key, h2), 0);
    CHECK_STR(h1, h2);
    CHECK(token_hex_is_equal(h1, h2));
    CHECK_INT(token_hash(b, key, h2), 0);
    CHECK(!token_hex_is_equal(h1, h2));
    CHECK_INT(token_hash(a, key_bytes, h2), 0); /* another key */
    CHECK(!token_hex_is_equal(h1, h2));
    CHECK(!token_hex_is_equal(h1, NULL));
    CHECK(!token_hex_is_equal(NULL, NULL));
    h2[0] = '\0';
    CHECK(!token_hex_is_equal(h1, h2));
    CHECK(token_hex_is_equal("", ""));
    CHECK(!token_hex_is_equal("abcd", "abc"));
}

/* ---- rate limits */

TEST(bucket)
{
    struct ratelimit_bucket b;
    ratelimit_bucket_init(&b, 5, 1, 1000);
    for (int i = 0; i < 5; i++)
        CHECK_INT(ratelimit_take(&b, 1000, 1), 0);
    CHECK_INT(ratelimit_take(&b, 1000, 1), 1000);
    CHECK_INT(ratelimit_take(&b, 1500, 1), 500);
    CHECK_INT(ratelimit_take(&b, 1999, 1), 1);
    CHECK_INT(ratelimit_take(&b, 2000, 1), 0); /* exactly at retry-after */
    CHECK_INT(ratelimit_take(&b, 2000, 1), 1000);
    CHECK_INT(ratelimit_take(&b, 2000, 3), 3000);
    /* a long idle refills to the capacity, not beyond */
    CHECK_INT(ratelimit_take(&b, 1000000, 5), 0);
    CHECK_INT(ratelimit_take(&b, 1000000, 1), 1000);
    /* a clock going backwards refills nothing */
    CHECK_INT(ratelimit_take(&b, 500, 1), 1000);
    CHECK_INT(ratelimit_take(&b, 1001000, 1), 0);
    /* over the capacity: never */
    CHECK(ratelimit_take(&b, 1001000, 6) == RATELIMIT_NEVER);

    /* slow refill: 0.5 token per second, bursts of 2 */
    ratelimit_bucket_init(&b, 2, 0.5, 0);
    CHECK_INT(ratelimit_take(&b, 0, 1), 0);
    CHECK_INT(ratelimit_take(&b, 0, 1), 0);
    CHECK_INT(ratelimit_take(&b, 0, 1), 2000);
    CHECK_INT(ratelimit_take(&b, 2000, 1), 0);
    /* fast refill: retry-after is at least 1 ms */
    ratelimit_bucket_init(&b, 1, 100000, 0);
    CHECK_INT(ratelimit_take(&b, 0, 1), 0);
    CHECK_INT(ratelimit_take(&b, 0, 1), 1);
    /* awkward rates: waiting the announced time always succeeds */
    ratelimit_bucket_init(&b, 3, 3, 0);
    uint64_t now = 0;
    for (int i = 0; i < 200; i++) {
        uint64_t r = ratelimit_take(&b, now, 1);
        if (r != 0) {
            now += r;
            CHECK_INT(ratelimit_take(&b, now, 1), 0);
        }
        now += (uint64_t)(i % 7);
    }
    /* no refill at all */
    ratelimit_bucket_init(&b, 1, 0, 0);
    CHECK_INT(ratelimit_take(&b, 0, 1), 0);
    CHECK(ratelimit_take(&b, 99999, 1) == RATELIMIT_NEVER);
}

TEST(ratelimit_table)
{
    CHECK(ratelimit_table_new(0, 5, 1) == NULL);
    CHECK(ratelimit_table_new(10, 0, 1) == NULL);
    CHECK(ratelimit_table_new(10, 5, -1) == NULL);
    CHECK(ratelimit_table_new(10, NAN, 1) == NULL);
    CHECK(ratelimit_table_new((size_t)RATELIMIT_TABLE_MAX + 1, 5, 1) == NULL);
    ratelimit_table_free(NULL);

    struct ratelimit_table *t = ratelimit_table_new(3, 2, 1);
    /* keys are independent */
    CHECK_INT(ratelimit_table_take(t, "10.0.0.1", 0, 1), 0);
    CHECK_INT(ratelimit_table_take(t, "10.0.0.1", 0, 1), 0);
    CHECK_INT(ratelimit_table_take(t, "10.0.0.1", 0, 1), 1000);
    CHECK_INT(ratelimit_table_take(t, "10.0.0.2", 0, 1), 0);
    CHECK_INT(ratelimit_table_take(t, "10.0.0.3", 0, 1), 0);
    CHECK_INT(ratelimit_table_count(t), 3);
    /* .1 is the least recently used: a fourth key evicts it, and it comes back full */
    CHECK_INT(ratelimit_table_take(t, "10.0.0.4", 0, 1), 0);
    CHECK_INT(ratelimit_table_count(t), 3);
    CHECK_INT(ratelimit_table_take(t, "10.0.0.2", 0, 1), 0); /* still there: 1 token left was 1 */
    CHECK_INT(ratelimit_table_take(t, "10.0.0.2", 0, 1), 1000);
    /* now .3 is the oldest; using it makes .4 the oldest */
    CHECK_INT(ratelimit_table_take(t, "10.0.0.3", 0, 1), 0);
    CHECK_INT(ratelimit_table_take(t, "10.0.0.1", 0, 1), 0);    /* evicts .4 */
    CHECK_INT(ratelimit_table_take(t, "10.0.0.3", 0, 1), 1000); /* .3 kept its state */
    CHECK_INT(ratelimit_table_take(t, "10.0.0.2", 0, 1), 1000); /* .2 too */
    CHECK_INT(ratelimit_table_count(t), 3);
    ratelimit_table_free(t);

    /* a flood of distinct keys stays within the cap and keeps working */
    t = ratelimit_table_new(100, 1, 1);
    char key[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof(key), "203.0.113.%d:%d", i % 251, i);
        CHECK_INT(ratelimit_table_take(t, key, (uint64_t)i, 1), 0);
    }
    CHECK_INT(ratelimit_table_count(t), 100);
    /* the most recent 100 are all there and empty */
    int limited = 0;
    for (int i = 19900; i < 20000; i++) {
        snprintf(key, sizeof(key), "203.0.113.%d:%d", i % 251, i);
        limited += ratelimit_table_take(t, key, 19999, 1) != 0;
    }
    CHECK_INT(limited, 100);
    ratelimit_table_free(t);

    /* long keys: the same one finds its bucket, two differing after 64 bytes do not collide */
    t = ratelimit_table_new(10, 1, 0.001);
    char l1[200], l2[200];
    memset(l1, 'u', sizeof(l1) - 1);
    l1[sizeof(l1) - 1] = '\0';
    memcpy(l2, l1, sizeof(l1));
    l2[150] = 'v';
    CHECK_INT(ratelimit_table_take(t, l1, 0, 1), 0);
    CHECK(ratelimit_table_take(t, l1, 0, 1) != 0);
    CHECK_INT(ratelimit_table_take(t, l2, 0, 1), 0);
    CHECK(ratelimit_table_take(t, l2, 0, 1) != 0);
    l1[RATELIMIT_KEY_MAX] = '\0'; /* exactly the maximum, stored as is */
    CHECK_INT(ratelimit_table_take(t, l1, 0, 1), 0);
    CHECK_INT(ratelimit_table_take(t, "", 0, 1), 0);
    CHECK(ratelimit_table_take(t, "", 0, 1) != 0);
    CHECK_INT(ratelimit_table_count(t), 4);
    ratelimit_table_free(t);
}

int main(void)
{
    log_setup(LOG_OFF, false); /* expected failures log errors; keep the output to results */
    snprintf(tmp_root, sizeof(tmp_root), "/tmp/herald-test-auth-XXXXXX");
    if (mkdtemp(tmp_root) == NULL) {
        perror("mkdtemp");
        return 1;
    }

    RUN(b64_vectors);
    RUN(siphash_vector);
    RUN(jwt_key_rules);
    RUN(jwt_round_trip);
    RUN(jwt_sign_rules);
    RUN(jwt_hmac_matches_openssl);
    RUN(jwt_rfc7515_vector);
    RUN(jwt_forged_alg);
    RUN(jwt_forged_signature);
    RUN(jwt_forged_shape);
    RUN(jwt_forged_payload);
    RUN(jwt_times);
    RUN(jwt_threads);
    RUN(jwt_bench);
    RUN(password_round_trip);
    RUN(password_rejects);
    RUN(password_legacy_bcrypt);
    RUN(password_dummy);
    RUN(password_dummy_of_the_costliest_kind);
    RUN(password_threads);
    RUN(secretbox_round_trip);
    RUN(secretbox_tamper);
    RUN(secret_mask);
    RUN(secretbox_key_env);
    RUN(secretbox_key_file);
    RUN(tokens);
    RUN(bucket);
    RUN(ratelimit_table);

    rmdir(tmp_root);
    return test_summary();
}
