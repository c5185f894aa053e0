/*
 * App authentication (docs/identity.md): a business backend proves which app it is
 * with the headers X-App-Key + X-App-Secret, or with `Authorization: Bearer`
 * and an app token from POST /api/v1/auth/token {"api_key","api_secret"}.
 * Missing or bad credentials answer 401 `unauthorized`.
 */
#ifndef HERALD_IDENTITY_APP_AUTH_H
#define HERALD_IDENTITY_APP_AUTH_H

#include <stdbool.h>

struct http_req;
struct identity;

/* Called on req's loop thread with the authenticated app id (borrowed for the call). */
typedef void (*app_auth_fn)(struct http_req *req, const char *app_id, void *ud);

/*
 * Authenticates req as an app. On success calls fn(req, app_id, ud), at once
 * (bearer token) or after a store lookup (key + secret); otherwise answers
 * 401 itself and never calls fn. Loop thread.
 */
void identity_app_auth(struct identity *id, struct http_req *req, app_auth_fn fn, void *ud);

/*
 * Whether req carries `Authorization: Bearer` with a valid, unexpired app token (so that an
 * endpoint open to users and apps alike knows which check to run). Loop thread.
 */
bool identity_bearer_is_app(struct identity *id, struct http_req *req);

/* Handler of POST /api/v1/auth/token; ud is the struct identity. */
void identity_auth_token_handler(struct http_req *req, void *ud);

/*
 * The liveness of app secrets as app tokens need it: an app token carries the
 * id of the secret it was minted with ("secret_id" claim) and is refused once
 * that secret has expired (rotation) or been deleted. Answers come from the
 * store and are kept for at most APP_SECRETS_FRESH_MS, so a revoked secret's
 * tokens end within about a second on every node. Bounded (a fixed table);
 * any thread.
 */
#define APP_SECRETS_FRESH_MS 1000

struct app_secrets;

struct app_secrets *app_secrets_new(void);
void app_secrets_free(struct app_secrets *c); /* NULL-safe */

#endif
