/*
 * End-user authentication for every user-facing endpoint and for the
 * WebSocket handshake (docs/identity.md): a bearer user token (JWT typ "user",
 * checked for algorithm, signature, expiry and revocation), or, in demo mode
 * only (HERALD_DEMO=1), `?user_id=b1` in the default app, creating the user
 * on the fly with its kind taken from the id's first letter (b buyer,
 * m merchant, p agent, a admin).
 */
#ifndef HERALD_IDENTITY_USER_AUTH_H
#define HERALD_IDENTITY_USER_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/jwt.h"
#include "identity/revoke.h"

struct http_req;
struct identity;

/* Who a request is from. */
struct user_principal {
    char app_id[JWT_APP_MAX + 1];
    char user_id[JWT_SUB_MAX + 1];
    int64_t iat_ms;                          /* when the token was issued (0 in demo mode) */
    char session_id[REVOKE_SESSION_MAX + 1]; /* the token's "sid" ("" in demo mode) */
    bool demo;                               /* authenticated by ?user_id= in demo mode */
};

/* Called on req's loop thread; p is borrowed for the call. */
typedef void (*user_auth_fn)(struct http_req *req, const struct user_principal *p, void *ud);

/*
 * Authenticates req as an end user from `Authorization: Bearer`, then (for
 * the WebSocket handshake) `?token=` or `Sec-WebSocket-Protocol: bearer.<t>`,
 * then demo mode. On success calls fn at once or after a store op (demo user
 * creation, disabled check); otherwise answers 401 itself (with
 * WWW-Authenticate) and never calls fn. Loop thread.
 */
void identity_user_auth(struct identity *id, struct http_req *req, user_auth_fn fn, void *ud);

/*
 * The token of req as identity_user_auth looks for it: `Authorization: Bearer`, else `?token=`
 * (copied into qtok, qn bytes), else `Sec-WebSocket-Protocol: bearer.<t>`. *tok (borrowed from
 * req or qtok) and *len; *tok NULL when there is none. False when an Authorization header is
 * not a bearer one. Loop thread.
 */
bool identity_req_token(struct http_req *req, char *qtok, size_t qn, const char **tok, size_t *len);

/*
 * The same check on a bare token, synchronously: 0 and *p filled, or
 * ERR_UNAUTH (bad, expired, wrong typ or revoked). Any thread.
 */
int identity_user_token_check(struct identity *id, const char *token, size_t len,
                              struct user_principal *p);

/*
 * Signs an access token for user_id of app_id, lifetime id->access_ttl_s,
 * with the millisecond issue time the revocation check needs and a session of
 * its own (a new random "sid": a token an app mints is a session by itself).
 * Returns 0 and *out (free() it), or a negative enum err. Any thread.
 */
int identity_user_token_mint(const struct identity *id, const char *app_id, const char *user_id,
                             char **out);

/*
 * The same in session session_id (IDENTITY_SESSION_LEN hex characters: the
 * refresh family of a login), so that logging out of it ends this token.
 */
int identity_user_token_mint_session(const struct identity *id, const char *app_id,
                                     const char *user_id, const char *session_id, char **out);

/*
 * The kind a demo user id implies (one demo link per role): b buyer, m merchant, p agent,
 * a admin, "" otherwise. Demo mode creates users with it (here, and chat's direct peers).
 * Any thread.
 */
const char *identity_demo_kind(const char *uid);

#define IDENTITY_SESSION_LEN 32 /* hex characters of a session id */

#endif
