/*
 * Helpers shared inside src/auth/ only: strict base64 and base64url codecs
 * (JWT segments, opaque tokens, sealed secrets, key values) and a seeded
 * SipHash for the rate-limit table. Nothing here allocates except where said.
 * Every function may be called from any thread.
 */
#ifndef HERALD_AUTH_INTERNAL_H
#define HERALD_AUTH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Encoded length of n bytes in base64url without padding. */
#define AUTH_B64URL_LEN(n) (((n) / 3) * 4 + ((n) % 3 == 0 ? 0 : (n) % 3 + 1))
/* Encoded length of n bytes in padded base64. */
#define AUTH_B64_LEN(n) ((((n) + 2) / 3) * 4)

/*
 * Writes base64url (RFC 4648 §5) of in[0..n) without padding to out and a NUL;
 * out holds AUTH_B64URL_LEN(n) + 1 bytes. Returns the encoded length.
 */
size_t auth__b64url_encode(char *out, const void *in, size_t n);

/*
 * Strict base64url decoding: only [A-Za-z0-9_-], no padding, no whitespace, a
 * length that is not 1 mod 4, and zero unused trailing bits (the canonical
 * encoding, so each byte string has exactly one accepted text). out holds
 * in_len / 4 * 3 + 2 bytes. Returns the decoded length or -1.
 */
long auth__b64url_decode(uint8_t *out, const char *in, size_t in_len);

/* Writes padded standard base64 of in[0..n) and a NUL; out holds AUTH_B64_LEN(n) + 1. */
size_t auth__b64_encode(char *out, const void *in, size_t n);

/*
 * Strict padded standard base64 decoding (length a multiple of 4, '=' only as
 * the last one or two characters, zero unused bits). out holds in_len / 4 * 3
 * bytes. Returns the decoded length or -1.
 */
long auth__b64_decode(uint8_t *out, const char *in, size_t in_len);

/* Writes 2n lowercase hex digits and a NUL. */
void auth__hex_encode(char *out, const void *in, size_t n);

/* SipHash-2-4 of in[0..n) under a 16-byte key. */
uint64_t auth__siphash(const uint8_t key[16], const void *in, size_t n);

#endif
