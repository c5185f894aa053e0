/*
 * Inside the notification module: the signatures the HTTP channel drivers put on their
 * requests, as pure functions so that unit tests can check them against the providers'
 * documented algorithms: Herald's own webhook signature, DingTalk's and Feishu's robot
 * signatures, and Aliyun's RPC signature (with its percent-encoding); plus the small
 * encoders they share (hex, base64, RFC 3986 percent-encoding).
 */
#ifndef HERALD_NOTIFY_SIGN_H
#define HERALD_NOTIFY_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define NOTIFY_SIGN_HEX256 65  /* room for the hex of a SHA-256 MAC and a NUL */
#define NOTIFY_SIGN_B64_256 45 /* room for the base64 of a SHA-256 MAC and a NUL */
#define NOTIFY_SIGN_B64_1 29   /* room for the base64 of a SHA-1 MAC and a NUL */

/* Appends p (n bytes) as lowercase hex / standard base64 with padding; out is NUL-terminated. */
void notify_hex(const uint8_t *p, size_t n, char *out);
void notify_base64(const uint8_t *p, size_t n, char *out);

/* Appends s percent-encoded per RFC 3986: every byte but A-Z a-z 0-9 - _ . ~ as %XX (upper
 * case hex), which is also Aliyun's percentEncode (space %20, '*' %2A, '~' kept). */
void notify_pct_encode(struct buf *b, const char *s);

/* Herald webhook: hex(HMAC-SHA256(secret, "<ts_ms>." + body)). */
void notify_sign_webhook(const char *secret, long long ts_ms, const char *body, size_t body_len,
                         char out[NOTIFY_SIGN_HEX256]);

/* DingTalk robot: base64(HMAC-SHA256(key = secret, msg = "<ts_ms>\n<secret>")), not yet
 * URL-encoded. */
void notify_sign_dingtalk(const char *secret, long long ts_ms, char out[NOTIFY_SIGN_B64_256]);

/* Feishu custom bot: base64(HMAC-SHA256(key = "<ts_s>\n<secret>", msg = "")). */
void notify_sign_feishu(const char *secret, long long ts_s, char out[NOTIFY_SIGN_B64_256]);

/*
 * Aliyun RPC signature (SignatureVersion 1.0, HMAC-SHA1). kv holds n pairs key, value (2n
 * strings, not including Signature). Writes to query the canonicalized query string (pairs
 * sorted by key, both percent-encoded, joined by '&'), and to sig the signature:
 * base64(HMAC-SHA1(secret + "&", method + "&%2F&" + percentEncode(query))).
 */
void notify_sign_aliyun(const char *method, const char *secret, const char *const *kv, size_t n,
                        struct buf *query, char sig[NOTIFY_SIGN_B64_1]);

#endif
