/*
 * Token revocation (docs/identity.md, "Revocation"): logout, disabling a user or an
 * operator, a password change and disabling an app revoke every access token
 * the subject holds. Access tokens are JWTs checked without a store read, so
 * a revocation is a time: tokens of the subject issued before it are refused.
 * Revocations are written to the store (table revocations) and kept in memory;
 * every node polls the store once a second for newer rows, so a revocation
 * made on another node takes effect here within about a second.
 *
 * A user's revocation may also name one session (a login and its refresh
 * family: the "sid" claim of its access tokens): logging out ends that session
 * only, while a password change, disabling or deleting the user and a refresh
 * token reuse end them all. A revoked session is over for good (session ids
 * are random and never reused), whatever its tokens' issue times.
 *
 * Listeners (the WebSocket layer) are told of each revocation so that they
 * close the subject's (or the session's) sockets (close code 4001).
 *
 * Threads: revoke_is_revoked and revoke_subject may be called from any thread.
 * Listener callbacks run on the thread that learnt of the revocation (a loop,
 * a store thread or the poll thread): they must only post work to their loops.
 */
#ifndef HERALD_IDENTITY_REVOKE_H
#define HERALD_IDENTITY_REVOKE_H

#include <stdbool.h>
#include <stdint.h>

struct store;
struct revoke;

enum revoke_kind {
    REVOKE_USER = 0,
    REVOKE_OPERATOR = 1,
    REVOKE_APP = 2,
    REVOKE_SESSION = 3, /* one session of a user (listeners and the table only) */
    REVOKE_RIGHTS = 4,  /* an operator's rights changed: listeners (every node's), no token ends */
};

#define REVOKE_SESSION_MAX 32 /* characters of a session id */

/*
 * Called for each revocation; app_id is "" for operators and apps; session_id
 * is "" unless kind is REVOKE_SESSION (then subject_id is the user).
 */
typedef void (*revoke_listener_fn)(enum revoke_kind kind, const char *app_id,
                                   const char *subject_id, const char *session_id, void *ud);

/*
 * Loads the revocations still relevant and starts the poll thread. A
 * revocation is kept in memory as long as a token issued before it could
 * still be valid: token_ms (user and app tokens) or operator_ms (console
 * tokens), both including clock leeway. NULL on failure (logged). Start-up.
 */
struct revoke *revoke_new(struct store *st, int64_t token_ms, int64_t operator_ms);

/*
 * Stops polling and joins the poll thread; r stays usable for lookups (the
 * loops may still check tokens) until revoke_free. Idempotent, NULL-safe. Main
 * thread, at shutdown, before the loops stop (the poller publishes through them).
 */
void revoke_stop(struct revoke *r);
/* revoke_stop, then frees r. NULL-safe. Before the store is closed. */
void revoke_free(struct revoke *r);

/* Adds a listener (at most 8). Start-up only, before the server runs. */
void revoke_listen(struct revoke *r, revoke_listener_fn fn, void *ud);

/*
 * Revokes now every token of the subject (app_id "" unless kind is
 * REVOKE_USER). Takes effect in this process at once (listeners called before
 * it returns) and is written to the store in the background. Any thread.
 */
void revoke_subject(struct revoke *r, enum revoke_kind kind, const char *app_id,
                    const char *subject_id);

/*
 * Revokes now every token of one session of user_id in app_id (session_id:
 * 1..REVOKE_SESSION_MAX characters, no '/'); as revoke_subject otherwise.
 */
void revoke_session(struct revoke *r, const char *app_id, const char *user_id,
                    const char *session_id);

/*
 * Tells the listeners, here at once and on the other nodes through the store (their pollers,
 * within about a second), that the rights of operator_id ("": of any operator, e.g. a role
 * was edited) changed, so that what holds them open (a monitoring socket) ends; tokens stay
 * valid. Any thread.
 */
void revoke_rights_changed(struct revoke *r, const char *operator_id);

/* True when session_id of user_id in app_id was revoked. Any thread. */
bool revoke_session_is_revoked(struct revoke *r, const char *app_id, const char *user_id,
                               const char *session_id);

/*
 * True when a token of the subject issued at iat_ms (the "iatm" claim, or
 * iat * 1000 when absent) was revoked: issued at or before the revocation's
 * millisecond. Any thread; a hash lookup.
 */
bool revoke_is_revoked(struct revoke *r, enum revoke_kind kind, const char *app_id,
                       const char *subject_id, int64_t iat_ms);

/*
 * The issue time (ms) to put in the "iatm" claim of a token minted now: the
 * wall clock, but later than every revocation known here. A revocation ends
 * the tokens issued in its own millisecond too (a login that just preceded a
 * logout must not survive it), so a token minted right after one (the fresh
 * tokens of a password change) needs the next millisecond. r may be NULL.
 * Any thread.
 */
int64_t revoke_issue_ms(struct revoke *r);

#endif
