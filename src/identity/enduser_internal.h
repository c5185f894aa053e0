/*
 * Shared by the end-user authentication handlers (enduser.c, whose SQL they use) and their
 * plumbing (enduser_common.c): the request state every end-user request carries as the
 * context of its kit job (kit/job.h), the password steps on the worker pool, login
 * throttling, the decoder tables of the bodies, and the token answer. Loop thread unless a
 * function says otherwise.
 */
#ifndef HERALD_IDENTITY_ENDUSER_INTERNAL_H
#define HERALD_IDENTITY_ENDUSER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "auth/jwt.h"
#include "auth/tokens.h"
#include "identity/apps.h"
#include "identity/identity.h"
#include "identity/internal.h"
#include "identity/user_auth.h"
#include "kit/decode.h"
#include "kit/job.h"

struct http_req;
struct store_rows;

#define PASSWORD_MIN_LEN 8 /* bytes; at most PASSWORD_MAX_LEN */

/* ---- the request state: the context of the request's kit job */

struct eu {
    struct kit_job *job; /* the job this is the context of */
    struct http_req *req;
    struct identity *id;
    char app_key[APP_KEY_MAX + 1];
    char app_id[JWT_APP_MAX + 1];
    char user_id[JWT_SUB_MAX + 1];
    const char *password;        /* a job secret (wiped): the presented password */
    const char *new_password;    /* a job secret (wiped): PATCH /auth/me */
    char *hash;                  /* owned: the stored hash to check */
    char *new_hash;              /* owned: a hash made by the worker */
    int verify;                  /* password_verify result (worker) */
    struct user_fields f;        /* register and PATCH /auth/me */
    cJSON *body;                 /* owns the strings f borrows (PATCH /auth/me) */
    cJSON *profile;              /* owns the strings f borrows (register) */
    char refresh[TOKEN_LEN + 1]; /* wiped with the job */
    bool want_tokens;
    bool profile_hook; /* PATCH /auth/me: the write carries id->profile's statements */
    bool guard_held;   /* a login-guard token is taken for this check (login_guard.h) */
    char peer[64];     /* the client address it was taken for */
    char sid[IDENTITY_SESSION_LEN + 1]; /* the session (refresh family) of the tokens made */
};

/* A kit job for req whose context is a new struct eu (the refresh token a wiped secret). */
struct kit_job *identity__eu_job(struct http_req *req, struct identity *id);

/* Worker steps (kit_work): check e->password against e->hash, or spend the time of one, and
 * rehash (a new password, a legacy hash); hash e->password into e->new_hash. e->verify holds
 * the outcome. Worker thread. */
int identity__eu_verify_work(struct kit_job *j);
int identity__eu_hash_work(struct kit_job *j);

/* ---- answers */

/* 401 unauthorized with WWW-Authenticate: Bearer. */
void identity__eu_unauthorized(struct http_req *req, const char *message);
/* 422 validation_failed naming field. */
void identity__eu_invalid(struct http_req *req, const char *field, const char *message);
/* Answers status with {user?, access_token, refresh_token, token_type, expires_in, ...}. */
void identity__eu_respond_tokens(struct eu *e, int status, const struct store_rows *user);

/* ---- login throttling */

#define ACCOUNT_MAX (8 + APP_KEY_MAX + JWT_APP_MAX + JWT_SUB_MAX)

/* The login-throttle account of e (see enduser_common.c). */
void identity__eu_account(const struct eu *e, char out[ACCOUNT_MAX]);
/* Notes that identity__login_allowed took a login-guard token for e's password check. */
void identity__eu_guard_held(struct eu *e);
/* Gives back the login-guard token of e's password check, if it holds one. */
void identity__eu_guard_refund(struct eu *e);

/* ---- bodies */

/*
 * The register and login bodies (the kit decoder's targets): the user id is "username" (or
 * "id"). Register refuses other members; login ignores them.
 */
struct account_in {
    const char *username, *id, *password, *email, *name, *avatar;
};

extern const struct kit_table identity__eu_register_table; /* refuses other members */
extern const struct kit_table identity__eu_login_table;    /* ignores other members */

/* Decodes e->body against t into in and takes the user id and the password (a job secret,
 * wiped from the body); false after answering 422. */
bool identity__eu_account_body(struct kit_job *j, const struct kit_table *t, struct account_in *in);

/* The refresh and logout bodies (the kit decoder's targets); other members are ignored. */
struct token_in {
    const char *refresh_token;
    int everywhere;
};

extern const struct kit_table identity__eu_refresh_table;
extern const struct kit_table identity__eu_logout_table;

/* A password member (new_one: the rule for a new password) as a job secret: NULL (after
 * answering 422) when absent or not acceptable. */
const char *identity__eu_password(struct kit_job *j, const cJSON *body, const char *name,
                                  bool new_one);

/* The app named by X-App-Key (default: "default"); false after answering 401. */
bool identity__eu_app_key(struct http_req *req, char out[APP_KEY_MAX + 1]);

#endif
