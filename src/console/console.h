/*
 * The console API (docs/admin.md): operators,
 * roles with permissions (optionally limited to some apps), console login,
 * apps with secret rotation, and the audit log of every console write, under
 * /api/v1/admin. docs/admin.md describes the endpoints and permissions.
 */
#ifndef HERALD_CONSOLE_CONSOLE_H
#define HERALD_CONSOLE_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "identity/apps.h"

struct http_req;
struct router;
struct identity;

/*
 * For a route outside the console that operators may use too (a message recall): whether
 * req's bearer token is a valid operator token (signature, type, expiry; revocation and the
 * operator's state are checked by console_authorize). Loop thread.
 */
bool console_bearer_is_operator(struct identity *id, struct http_req *req);

/* Whether tok[0..len) is a valid operator token (as console_bearer_is_operator). Any thread. */
bool console_token_is_operator(struct identity *id, const char *tok, size_t len);

/* Called with the operator's id and the apps where it has the permission, as a JSON array
 * text (NULL: every app); both borrowed for the call. Loop thread. */
typedef void (*console_grant_fn)(struct http_req *req, const char *operator_id,
                                 const char *apps_json, void *ud);

/*
 * Authenticates req as an operator (not revoked, not disabled) holding perm on at least one
 * app, then calls fn; otherwise answers 401/403 itself and never calls fn. perm may list
 * alternatives, "notifications:read|channels:write": any one of them grants. Loop thread.
 */
void console_authorize(struct identity *id, struct http_req *req, const char *perm,
                       console_grant_fn fn, void *ud);

/*
 * The same as console_authorize with the operator token tok[0..len) taken from elsewhere (a
 * WebSocket handshake's ?token= or Sec-WebSocket-Protocol). Loop thread.
 */
void console_authorize_token(struct identity *id, struct http_req *req, const char *tok, size_t len,
                             const char *perm, console_grant_fn fn, void *ud);

/* Adds the /api/v1/admin routes; id is borrowed for the server's life. */
void console_register(struct router *r, struct identity *id);

/*
 * Start-up: makes the built-in superadmin role when missing and, when hint is
 * set, logs how to create the first operator when there is none. Returns 0
 * or a store error. Synchronous (start-up and CLI only).
 */
int console_bootstrap(struct identity *id, bool hint);

/*
 * CLI: creates operator name with password (superadmin role), or changes the
 * password of an existing one (revoking its tokens). Return 0, ERR_INVAL
 * (bad name or password, with a message in msg), ERR_EXISTS, ERR_NOTFOUND or
 * a store error. Synchronous: CLI only.
 */
int console_admin_create(struct identity *id, const char *name, const char *password,
                         const char **msg);
int console_admin_passwd(struct identity *id, const char *name, const char *password,
                         const char **msg);

/*
 * CLI: `herald app create NAME` (an app with a generated key and a first
 * secret) and `herald app secret KEY` (one more secret; older ones stay
 * valid). Each writes its audit_log row (operator "cli", IP "local", never the
 * secret) in the same transaction. key_out and secret_out as in
 * identity_app_create. Return 0, ERR_INVAL (bad name), ERR_NOTFOUND (no app
 * with that key) or a store error. Synchronous: CLI only.
 */
int console_app_create(struct identity *id, const char *name, char key_out[APP_KEY_MAX + 1],
                       char secret_out[TOKEN_LEN + 1]);
int console_app_secret_add(struct identity *id, const char *key, char secret_out[TOKEN_LEN + 1]);

struct store_rows;
struct store_op;

/*
 * A console list narrowed by ?app_id=: an operator of every app may name any id, so the list's
 * op reads the app too (console_add_app_read adds that step), and the answer is a 404 naming
 * app_id when the step found none (console_app_found, false after answering).
 */
void console_add_app_read(struct store_op *op, const char *app_id);
bool console_app_found(struct http_req *req, const struct store_rows *step);

/* Row i of r as an object: ints as numbers, texts as strings, NULL as null; columns named in
 * bools (comma list) become booleans, in jsons are parsed JSON texts. Returns a new object. */
cJSON *console_row_json(const struct store_rows *r, int i, const char *bools, const char *jsons);
/* {"count","results","page","page_size"} from a count step (NULL: 0) and a rows step. */
cJSON *console_page_json(const struct store_rows *count, const struct store_rows *rows,
                         int64_t page, int64_t page_size, const char *bools, const char *jsons);

#endif
