/*
 * Opaque tokens: refresh tokens and app secrets. They are 32 random bytes in
 * base64url (43 characters), shown to their owner once, and stored only as a
 * keyed hash (HMAC-SHA256 under a server key, in hex), so a copy of the
 * database alone does not let anyone use them. A presented token is hashed
 * and its hash looked up; token_hex_is_equal compares hashes in constant
 * time where a lookup is not by hash.
 *
 * Threads: every function may be called from any thread. Never log a token.
 */
#ifndef HERALD_AUTH_TOKENS_H
#define HERALD_AUTH_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOKEN_BYTES 32
#define TOKEN_LEN 43      /* characters, without the NUL */
#define TOKEN_HASH_HEX 64 /* characters, without the NUL */
#define TOKEN_KEY_LEN 32

/* Writes a new random token and a NUL to out (TOKEN_LEN + 1 bytes). */
void token_generate(char out[TOKEN_LEN + 1]);

/* True when s is shaped like a token from token_generate (43 base64url characters). */
bool token_is_wellformed(const char *s);

/*
 * Writes HMAC-SHA256(key, token) as 64 lowercase hex digits and a NUL to
 * out_hex. The same token and key always give the same hash. Returns 0, or
 * ERR_BACKEND when OpenSSL fails (logged; out_hex is then "").
 */
int token_hash(const char *token, const uint8_t key[TOKEN_KEY_LEN],
               char out_hex[TOKEN_HASH_HEX + 1]);

/*
 * Compares two NUL-terminated hex strings in time that depends only on their
 * lengths. True when equal; false when either is NULL.
 */
bool token_hex_is_equal(const char *a, const char *b);

#endif
