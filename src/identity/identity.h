/*
 * Identity: apps (tenants) and their end users, docs/identity.md (issue 3, first
 * part). This header holds the context every identity handler shares and the
 * one call that registers the routes; apps.h, app_auth.h and users.h hold the
 * parts. The context is made at start-up and read-only afterwards, so the
 * loop threads and store threads share it without locks.
 */
#ifndef HERALD_IDENTITY_IDENTITY_H
#define HERALD_IDENTITY_IDENTITY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct router;
struct jwt_key;
struct workpool;
struct login_guard;
struct revoke;
struct app_limits;
struct app_secrets;

#define IDENTITY_KEY_LEN 32
#define IDENTITY_HASH_QUEUE 1024 /* password checks waiting for a worker before 503 */
#define IDENTITY_HASH_PER_IP 64  /* of them, waiting on behalf of one client address */

struct store_op;
struct store_result;

/*
 * A module that shows users' profiles elsewhere and tells open clients when one changes
 * (chat: the peer of a direct conversation, docs/service.md "Customer context"). add appends
 * its statements to the one write op of a profile change (PATCH /users/{id} or PATCH
 * /auth/me giving name, avatar, kind or metadata) right after the user's own update, so
 * they commit together; done runs after the commit with the op's result and the step where
 * add's statements begin. Set at start-up (fn NULL: none).
 */
struct identity_profile_hook {
    void (*add)(struct store_op *op, const char *app_id, const char *user_id, void *ud);
    void (*done)(const struct store_result *res, int first_step, const char *app_id,
                 const char *user_id, void *ud);
    void *ud;
};

struct identity {
    struct store *store;                  /* borrowed; outlives the server */
    struct jwt_key *jwt;                  /* owned: signs and verifies access tokens */
    uint8_t secret_key[IDENTITY_KEY_LEN]; /* HMAC key of app secret hashes */
    uint8_t enc_key[IDENTITY_KEY_LEN];    /* HERALD_ENCRYPTION_KEY: seals channel and provider
                                             secrets at rest (auth/secretbox.h) */
    int64_t access_ttl_s;                 /* HERALD_ACCESS_TTL in seconds */
    int64_t refresh_ttl_s;                /* HERALD_REFRESH_TTL in seconds */
    int64_t operator_ttl_s;               /* HERALD_OPERATOR_TTL in seconds */
    bool demo;                            /* HERALD_DEMO: ?user_id= accepted (demo mode) */
    struct workpool *work;                /* owned: password hashing off the loops */
    struct login_guard *guard;            /* owned: login throttling */
    struct revoke *revoke;                /* owned: token revocation */
    struct app_limits *limits;            /* owned: per-app API rate limits */
    struct app_secrets *secrets;          /* owned: app secret liveness for app tokens */
    struct identity_profile_hook profile; /* set by chat at start-up */
    atomic_int bcrypt_cost; /* the highest bcrypt cost among stored user hashes (0: none):
                               an unknown user costs as much (identity_hash_seen) */
};

/* What identity_init needs besides the keys. */
struct identity_options {
    int64_t access_ttl_s, refresh_ttl_s, operator_ttl_s;
    bool demo;
    int hash_threads; /* workers hashing passwords; 0: online CPUs */
};

/*
 * Fills id. jwt_secret[0..jwt_len) signs tokens (at least 32 bytes); the app
 * secret hash key is derived from enc_key (the HERALD_ENCRYPTION_KEY key), so
 * that a database copy alone cannot check guessed secrets. Returns 0 or
 * ERR_BACKEND (OpenSSL). Start-up only.
 */
int identity_init(struct identity *id, struct store *st, const void *jwt_secret, size_t jwt_len,
                  const uint8_t enc_key[IDENTITY_KEY_LEN], const struct identity_options *o);

/*
 * Notes a stored password hash met at a login: a bcrypt hash costlier than
 * any seen raises id->bcrypt_cost, so that unknown users cost as much from now
 * on (the store is scanned once at start for the same reason). Any thread.
 */
void identity_hash_seen(struct identity *id, const char *hash);

/*
 * Shutdown, once the server stopped accepting: stops the password workers
 * (checks still queued are cancelled: they complete at once with an error)
 * and the revocation and app-limit pollers, joining their threads. Everything
 * stays allocated, so loop threads may still call in (a submit then fails with
 * ERR_UNAVAIL) until identity_release. NULL-safe, idempotent. Main thread.
 */
void identity_stop(struct identity *id);

/* Frees what identity_init made. NULL-safe; after the server has stopped. */
void identity_release(struct identity *id);

/* Adds the /api/v1/auth/token and /api/v1/users... routes; id is borrowed for the server's life. */
void identity_register(struct router *r, struct identity *id);

#endif
