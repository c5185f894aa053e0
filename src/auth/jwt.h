/*
 * JSON Web Tokens, HS256 only (RFC 7519 / 7515), written by hand on OpenSSL's
 * SHA-256 and CRYPTO_memcmp: the bearer access tokens of end users, apps and
 * operators (docs/auth.md). A token is signed from a struct jwt_payload and verified
 * into a struct jwt_claims. Verification is strict: header alg exactly
 * "HS256", exactly three canonical base64url segments, at most JWT_MAX_LEN
 * bytes, a constant-time signature check, a numeric exp (required), nbf and
 * iat honoured with JWT_LEEWAY_S of clock skew, and a "typ" claim that must
 * be the expected one, so a user token is never accepted where an app or
 * operator token is required, or the other way round.
 *
 * Times are JWT NumericDates: seconds since the Unix epoch (clock_wall_ms() /
 * 1000), not the milliseconds of the HTTP API.
 *
 * Threads: a struct jwt_key is immutable once made and may be shared by every
 * thread; jwt_sign and jwt_verify may run on any thread at once (about 1 µs
 * per verification, so the loop threads call them directly).
 */
#ifndef HERALD_AUTH_JWT_H
#define HERALD_AUTH_JWT_H

#include <stdint.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#define JWT_MAX_LEN 8192 /* longer tokens are refused unread */
#define JWT_LEEWAY_S 60  /* clock skew tolerated on exp, nbf and iat */
#define JWT_KEY_MIN 32   /* RFC 7518 §3.2: an HS256 key has at least 256 bits */
#define JWT_SUB_MAX 128  /* bytes, without the NUL */
#define JWT_APP_MAX 64
#define JWT_JTI_MAX 64

/* The principal kinds; the "typ" claim carries their names. */
enum jwt_typ {
    JWT_TYP_USER = 0, /* "user": an end user of one app */
    JWT_TYP_APP,      /* "app": a business backend (api key + secret -> token) */
    JWT_TYP_OPERATOR, /* "operator": a console account */
};

/* Why a token was refused; for tests, metrics and debug logs (never log the token). */
enum jwt_fail {
    JWT_OK = 0,
    JWT_FAIL_TOOBIG,    /* over JWT_MAX_LEN */
    JWT_FAIL_FORMAT,    /* not three segments of canonical base64url, or a bad signature size */
    JWT_FAIL_HEADER,    /* header not a JSON object, duplicate or critical parameters */
    JWT_FAIL_ALG,       /* header alg missing, not a string, or not exactly "HS256" */
    JWT_FAIL_SIGNATURE, /* signature does not match */
    JWT_FAIL_PAYLOAD,   /* payload not a JSON object */
    JWT_FAIL_CLAIMS,    /* a claim missing, of the wrong type, too long or duplicated */
    JWT_FAIL_TYP,       /* a valid token of another principal kind */
    JWT_FAIL_EXPIRED,   /* exp + leeway is past */
    JWT_FAIL_NOT_YET,   /* nbf or iat is further in the future than the leeway */
};

/* What jwt_sign puts in a token. Strings are borrowed for the call. */
struct jwt_payload {
    enum jwt_typ typ;
    const char *sub;    /* required: 1..JWT_SUB_MAX bytes */
    const char *app;    /* the app (tenant) id, 1..JWT_APP_MAX; required for user and app tokens */
    const char *jti;    /* token id; NULL or "": 128 random bits in hex */
    int64_t iat;        /* issued at */
    int64_t nbf;        /* not before; 0 leaves the claim out */
    int64_t exp;        /* expiry; required, after iat and nbf */
    const cJSON *extra; /* NULL or an object whose members are added to the payload;
                           the registered names above are refused (ERR_INVAL) */
};

/* What jwt_verify found in a token that passed every check. */
struct jwt_claims {
    enum jwt_typ typ;
    char sub[JWT_SUB_MAX + 1];
    char app[JWT_APP_MAX + 1]; /* "" when absent (operator tokens) */
    char jti[JWT_JTI_MAX + 1]; /* "" when absent */
    int64_t iat;               /* 0 when absent */
    int64_t nbf;               /* 0 when absent */
    int64_t exp;
    cJSON *json; /* owned: the whole payload object, for extra claims; freed by
                    jwt_claims_release */
};

struct jwt_key;

/*
 * Makes a signing key from secret[0..len) (raw bytes, at least JWT_KEY_MIN).
 * Precomputes the HMAC pads so each signature costs two SHA-256 runs and no
 * lookup. Returns NULL when len < JWT_KEY_MIN or OpenSSL fails. The caller
 * owns the key (jwt_key_free); the secret is copied and may be wiped after.
 */
struct jwt_key *jwt_key_new(const void *secret, size_t len);

/* Wipes and frees the key. NULL-safe. No jwt_sign/jwt_verify may be using it. */
void jwt_key_free(struct jwt_key *key);

/* "user", "app" or "operator"; static storage. */
const char *jwt_typ_name(enum jwt_typ typ);

/* Short lowercase reason for a failure ("expired", "bad signature"); static storage. */
const char *jwt_fail_str(enum jwt_fail why);

/*
 * Signs p into a compact token (header {"alg":"HS256","typ":"JWT"}).
 * Returns 0 and sets *out to a NUL-terminated token the caller frees with
 * free(); ERR_INVAL when p breaks a rule above (*out untouched); ERR_TOOBIG
 * when the token would exceed JWT_MAX_LEN (so it could never be verified);
 * ERR_BACKEND when OpenSSL fails.
 */
int jwt_sign(const struct jwt_key *key, const struct jwt_payload *p, char **out);

/*
 * Verifies token[0..len) (need not be NUL-terminated) signed with key, for a
 * principal of kind expected, at time now_s. On success returns 0 and fills
 * *out, which the caller releases with jwt_claims_release. On failure returns
 * ERR_UNAUTH, leaves *out empty (safe to release) and, when why is not NULL,
 * stores the reason there.
 */
int jwt_verify(const struct jwt_key *key, const char *token, size_t len, enum jwt_typ expected,
               int64_t now_s, struct jwt_claims *out, enum jwt_fail *why);

/* Frees what jwt_verify put in c and empties it. NULL-safe, idempotent. */
void jwt_claims_release(struct jwt_claims *c);

#endif
