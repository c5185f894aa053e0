/*
 * libFuzzer target for the auth module's parsers of untrusted text: each input
 * is verified as a JWT for every principal kind, then verified again with its
 * last segment replaced by a valid signature over the rest (computed here
 * with OpenSSL's HMAC()), so mutated headers and payloads also reach the
 * claim checks behind the signature; it is opened as a sealed secret and
 * decoded as base64url. Both keys are fixed (FUZZ_KEY) so that seeds can hold
 * validly signed tokens and sealed values. Checked: nothing crashes or leaks; a
 * failed verification leaves no claims behind and gives a reason; a verified
 * token satisfies every rule (typ as expected, sub set, exp within the
 * leeway) and its claims sign into a token that verifies again; an opened
 * secret seals and opens back to the same bytes; base64url decoding accepts
 * only canonical text (decode then encode gives the input back).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/internal.h"
#include "auth/jwt.h"
#include "auth/secretbox.h"
#include "core/err.h"
#include "core/log.h"

#define FUZZ_KEY "herald-fuzz-key-0123456789abcdef" /* 32 bytes, for both JWT and secretbox */
#define FUZZ_NOW 1800000000                         /* fixed "now", seconds */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct jwt_key *g_key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_setup(LOG_OFF, false);
    g_key = jwt_key_new(FUZZ_KEY, 32);
    if (g_key == NULL)
        abort();
    return 0;
}

static void check_verified(const struct jwt_claims *c, enum jwt_typ typ)
{
    if (c->typ != typ || c->sub[0] == '\0' || c->json == NULL)
        __builtin_trap();
    if (typ != JWT_TYP_OPERATOR && c->app[0] == '\0')
        __builtin_trap();
    if (FUZZ_NOW >= c->exp + JWT_LEEWAY_S || c->nbf > FUZZ_NOW + JWT_LEEWAY_S ||
        c->iat > FUZZ_NOW + JWT_LEEWAY_S)
        __builtin_trap();

    /* The claims sign into a token that verifies to the same identity. */
    struct jwt_payload p = {
        .typ = c->typ, .sub = c->sub, .app = c->app, .jti = c->jti, .iat = c->iat, .exp = c->exp};
    if (p.exp <= p.iat) /* a foreign token may have iat >= exp; jwt_sign refuses that */
        p.iat = p.exp - 1;
    if (p.iat < 0)
        return;
    char *tok = NULL;
    if (jwt_sign(g_key, &p, &tok) != 0)
        return; /* e.g. a sub with bytes that escape beyond JWT_MAX_LEN */
    struct jwt_claims d;
    enum jwt_fail why;
    if (jwt_verify(g_key, tok, strlen(tok), typ, FUZZ_NOW, &d, &why) != 0 ||
        strcmp(d.sub, c->sub) != 0 || strcmp(d.app, c->app) != 0 || d.exp != c->exp)
        __builtin_trap();
    jwt_claims_release(&d);
    free(tok);
}

static void fuzz_jwt(const uint8_t *data, size_t size)
{
    for (int t = JWT_TYP_USER; t <= JWT_TYP_OPERATOR; t++) {
        struct jwt_claims c;
        enum jwt_fail why = JWT_OK;
        int rc = jwt_verify(g_key, (const char *)data, size, (enum jwt_typ)t, FUZZ_NOW, &c, &why);
        if (rc == 0) {
            if (why != JWT_OK)
                __builtin_trap();
            check_verified(&c, (enum jwt_typ)t);
        } else {
            if (rc != ERR_UNAUTH || why == JWT_OK || c.json != NULL ||
                strcmp(jwt_fail_str(why), "unknown") == 0)
                __builtin_trap();
        }
        jwt_claims_release(&c);
    }
}

/* Verifies data[0..last '.') with a valid signature appended. */
static void fuzz_jwt_resigned(const uint8_t *data, size_t size)
{
    const uint8_t *dot = NULL;
    for (size_t i = size; i > 0; i--)
        if (data[i - 1] == '.') {
            dot = data + i - 1;
            break;
        }
    size_t n = dot ? (size_t)(dot - data) : size;
    if (n + 44 > JWT_MAX_LEN + 16)
        return;
    uint8_t *tok = malloc(n + 45);
    unsigned char mac[32];
    unsigned int ml = 0;
    memcpy(tok, data, n);
    if (HMAC(EVP_sha256(), FUZZ_KEY, 32, tok, n, mac, &ml) == NULL || ml != 32)
        abort();
    tok[n] = '.';
    auth__b64url_encode((char *)tok + n + 1, mac, 32);
    fuzz_jwt(tok, n + 44);
    free(tok);
}

static void fuzz_secretbox(const char *s)
{
    uint8_t *pt = NULL;
    size_t n = 0;
    int rc = secretbox_open((const uint8_t *)FUZZ_KEY, s, &pt, &n);
    if (rc != 0) {
        if (rc != ERR_INVAL)
            __builtin_trap();
        return;
    }
    char *sealed = NULL;
    uint8_t *back = NULL;
    size_t m = 0;
    if (secretbox_seal((const uint8_t *)FUZZ_KEY, pt, n, &sealed) != 0 ||
        secretbox_open((const uint8_t *)FUZZ_KEY, sealed, &back, &m) != 0 || m != n ||
        memcmp(back, pt, n) != 0 || back[n] != '\0')
        __builtin_trap();
    free(back);
    free(sealed);
    free(pt);
}

static void fuzz_b64url(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return;
    uint8_t *dec = malloc(size / 4 * 3 + 3);
    long n = auth__b64url_decode(dec, (const char *)data, size);
    if (n >= 0) {
        char *enc = malloc(AUTH_B64URL_LEN((size_t)n) + 1);
        size_t e = auth__b64url_encode(enc, dec, (size_t)n);
        if (e != size || memcmp(enc, data, size) != 0)
            __builtin_trap();
        free(enc);
    }
    free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_jwt(data, size);
    fuzz_jwt_resigned(data, size);

    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    fuzz_secretbox(s);
    free(s);

    fuzz_b64url(data, size);
    return 0;
}
