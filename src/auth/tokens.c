/*
 * Opaque random tokens and their keyed hashes; see tokens.h. A token is
 * hashed once per use (refresh, app secret check), so OpenSSL's one-shot
 * HMAC() is cheap enough here, unlike in the per-request JWT path.
 */
#include "tokens.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/internal.h"
#include "core/err.h"
#include "core/log.h"
#include "core/rand.h"

void token_generate(char out[TOKEN_LEN + 1])
{
    uint8_t raw[TOKEN_BYTES];
    rand_bytes(raw, sizeof(raw));
    auth__b64url_encode(out, raw, sizeof(raw));
    OPENSSL_cleanse(raw, sizeof(raw));
}

bool token_is_wellformed(const char *s)
{
    uint8_t raw[TOKEN_BYTES + 2];
    return s != NULL && strnlen(s, TOKEN_LEN + 1) == TOKEN_LEN &&
           auth__b64url_decode(raw, s, TOKEN_LEN) == TOKEN_BYTES;
}

int token_hash(const char *token, const uint8_t key[TOKEN_KEY_LEN],
               char out_hex[TOKEN_HASH_HEX + 1])
{
    uint8_t mac[32];
    unsigned int len = 0;
    out_hex[0] = '\0';
    if (HMAC(EVP_sha256(), key, TOKEN_KEY_LEN, (const unsigned char *)token, strlen(token), mac,
             &len) == NULL ||
        len != sizeof(mac))
        return log_fail(ERR_BACKEND, "auth", "cannot hash a token: openssl failure");
    auth__hex_encode(out_hex, mac, sizeof(mac));
    return 0;
}

bool token_hex_is_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return false;
    size_t n = strlen(a);
    return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}
