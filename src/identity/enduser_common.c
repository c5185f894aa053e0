/*
 * The plumbing of the end-user authentication handlers (see enduser_internal.h): the request
 * state on the kit job, the password steps, login throttling, the body tables and the token
 * answer. The handlers and their SQL are in enduser.c.
 */
#include "identity/enduser_internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/login_guard.h"
#include "auth/password.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "identity/user_auth.h"
#include "net/http.h"
#include "store/store.h"

static void eu_free(void *ctx)
{
    struct eu *e = ctx;
    free(e->hash);
    free(e->new_hash);
    identity__user_fields_release(&e->f);
    cJSON_Delete(e->body);
    cJSON_Delete(e->profile);
    free(e);
}

/* A kit job for req whose context is a new struct eu. */
struct kit_job *identity__eu_job(struct http_req *req, struct identity *id)
{
    struct eu *e = xcalloc(1, sizeof(*e));
    e->req = req;
    e->id = id;
    e->f.disabled = -1;
    e->job = kit_job_new(req, id->store, id->work, e, eu_free);
    kit_secret(e->job, e->refresh, sizeof(e->refresh));
    return e->job;
}

/* Worker step: check e->password against e->hash (or spend the time of one), rehash. */
int identity__eu_verify_work(struct kit_job *j)
{
    struct eu *e = j->ctx;
    size_t n = strlen(e->password);
    if (e->hash == NULL) { /* as long as the slowest stored hash kind takes */
        e->verify = password_verify_dummy_cost(e->password, n, atomic_load(&e->id->bcrypt_cost));
    } else if ((e->verify = password_verify(e->password, n, e->hash)) == 0) {
        /* a password change hashes the new one; a login upgrades a legacy (bcrypt) hash */
        const char *pw = e->new_password ? e->new_password : e->password;
        if ((e->new_password || password_needs_rehash(e->hash)) &&
            password_hash(pw, strlen(pw), &e->new_hash) != 0) {
            e->new_hash = NULL;
            if (e->new_password)
                e->verify = ERR_BACKEND; /* a login just keeps the old hash this time */
        }
    }
    return 0;
}

/* Worker step: hash e->password into e->new_hash. */
int identity__eu_hash_work(struct kit_job *j)
{
    struct eu *e = j->ctx;
    e->verify = password_hash(e->password, strlen(e->password), &e->new_hash);
    return 0;
}

/*
 * Password hashes and checks go on the worker pool: logins and password changes first
 * (WORKPOOL_HIGH), registrations after them; one client address holds at most
 * IDENTITY_HASH_PER_IP waiting items (kit_work answers 429 or 503 when refused).
 */

/* ---- helpers */

void identity__eu_unauthorized(struct http_req *req, const char *message)
{
    http_res_header(req, "WWW-Authenticate", "Bearer");
    http_respond_error(req, 401, "unauthorized", message, NULL);
}

void identity__eu_invalid(struct http_req *req, const char *field, const char *message)
{
    http_respond_error(req, 422, "validation_failed", message, field);
}

/*
 * The login-throttle account of e: "user:<app_id>:<user_id>", the same for /auth/login and a
 * password change on PATCH /auth/me. A login naming an unknown app key counts under
 * "user:?<key>:<user_id>" ('?' is in no app id, so no key can reach a real app's accounts).
 */
void identity__eu_account(const struct eu *e, char out[ACCOUNT_MAX])
{
    if (e->app_id[0])
        snprintf(out, ACCOUNT_MAX, "user:%s:%s", e->app_id, e->user_id);
    else
        snprintf(out, ACCOUNT_MAX, "user:?%s:%s", e->app_key, e->user_id);
}

/* Notes that identity__login_allowed took a login-guard token for e's password check. */
void identity__eu_guard_held(struct eu *e)
{
    const char *peer = http_req_peer(e->req);
    snprintf(e->peer, sizeof(e->peer), "%s", peer ? peer : "");
    e->guard_held = true;
}

/* Gives back the login-guard token of e's password check, if it holds one (login_guard.h). */
void identity__eu_guard_refund(struct eu *e)
{
    if (!e->guard_held)
        return;
    e->guard_held = false;
    char account[ACCOUNT_MAX];
    identity__eu_account(e, account);
    login_guard_refund(e->id->guard, e->peer, account, clock_mono_ms());
}

/* Passwords: bytes, not characters, because the hash takes bytes. */
static const struct kit_field password_new = {.kind = KIT_STRING,
                                              .flags = KIT_BYTES,
                                              .min = PASSWORD_MIN_LEN,
                                              .max = PASSWORD_MAX_LEN,
                                              .message = "must be 8 to 511 bytes"};
static const struct kit_field password_any = {.kind = KIT_STRING,
                                              .flags = KIT_BYTES,
                                              .min = 1,
                                              .max = PASSWORD_MAX_LEN,
                                              .message = "must be 1 to 511 bytes"};

/* A password member (new: the rule for a new one) as a job secret: NULL (after answering
 * 422) when absent or not acceptable. */
const char *identity__eu_password(struct kit_job *j, const cJSON *body, const char *name,
                                  bool new_one)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(body, name);
    struct kit_error err;
    if (p == NULL) {
        identity__eu_invalid(j->req, name, "is required (a string)");
        return NULL;
    }
    if (kit_check(p, new_one ? &password_new : &password_any, name, &err) != 0) {
        kit_fail_decode(j->req, &err);
        return NULL;
    }
    return kit_secret_dup(j, p->valuestring);
}

/* The app named by X-App-Key (default: "default"); false after answering 401. */
bool identity__eu_app_key(struct http_req *req, char out[APP_KEY_MAX + 1])
{
    const char *k = http_req_header(req, "X-App-Key");
    if (k == NULL)
        k = "default";
    size_t n = strlen(k);
    if (n == 0 || n > APP_KEY_MAX) {
        identity__eu_unauthorized(req, "unknown app key");
        return false;
    }
    memcpy(out, k, n + 1);
    return true;
}

#define ACCOUNT_FIELDS(password_min, password_message)                                             \
    {.name = "username", .kind = KIT_ID, .at = KIT_AT(struct account_in, username)},               \
        {.name = "id", .kind = KIT_ID, .at = KIT_AT(struct account_in, id)},                       \
    {                                                                                              \
        .name = "password", .kind = KIT_STRING, .flags = KIT_REQUIRED | KIT_BYTES,                 \
        .min = password_min, .max = PASSWORD_MAX_LEN, .at = KIT_AT(struct account_in, password),   \
        .message = password_message                                                                \
    }

static const struct kit_field register_fields[] = {
    ACCOUNT_FIELDS(PASSWORD_MIN_LEN, "must be 8 to 511 bytes"),
    {.name = "email", .kind = KIT_EMAIL, .at = KIT_AT(struct account_in, email)},
    {.name = "name",
     .kind = KIT_STRING,
     .max = USER_NAME_MAX,
     .at = KIT_AT(struct account_in, name)},
    {.name = "avatar",
     .kind = KIT_MEDIA,
     .max = USER_AVATAR_MAX,
     .at = KIT_AT(struct account_in, avatar)},
    {.name = NULL},
};
static const struct kit_field login_fields[] = {
    ACCOUNT_FIELDS(1, "must be 1 to 511 bytes"),
    {.name = NULL},
};
const struct kit_table identity__eu_register_table = {.fields = register_fields};
const struct kit_table identity__eu_login_table = {.fields = login_fields, .open = true};

/* Decodes e->body against t into in and takes the user id and the password (a job secret);
 * false after answering 422. */
bool identity__eu_account_body(struct kit_job *j, const struct kit_table *t, struct account_in *in)
{
    struct eu *e = j->ctx;
    struct kit_error err;
    if (kit_decode(e->body, t, in, NULL, &err) != 0) {
        kit_fail_decode(j->req, &err);
        return false;
    }
    const char *uid = in->username ? in->username : in->id;
    if (in->username != NULL && in->id != NULL && strcmp(in->username, in->id) != 0) {
        identity__eu_invalid(j->req, "id", "is another name than username: give one of them");
        return false;
    }
    if (uid == NULL) {
        identity__eu_invalid(j->req, "username", "is required");
        return false;
    }
    if (t == &identity__eu_register_table && kit_id_is_reserved(uid)) {
        identity__eu_invalid(j->req, in->username ? "username" : "id",
                             "is reserved: /users/online and /users/batch are routes, not users");
        return false;
    }
    snprintf(e->user_id, sizeof(e->user_id), "%s", uid);
    e->password = kit_secret_dup(j, in->password);
    kit_wipe_member(e->body, "password"); /* the job holds its own copy */
    return true;
}

/* Answers status with {user?, access_token, refresh_token, token_type, expires_in, ...}. */
void identity__eu_respond_tokens(struct eu *e, int status, const struct store_rows *user)
{
    char *tok = NULL;
    int rc = e->sid[0]
                 ? identity_user_token_mint_session(e->id, e->app_id, e->user_id, e->sid, &tok)
                 : identity_user_token_mint(e->id, e->app_id, e->user_id, &tok);
    if (rc != 0) {
        http_respond_err(e->req, ERR_BACKEND, "cannot sign the token", NULL);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "access_token", tok);
    cJSON_AddStringToObject(o, "token_type", "Bearer");
    cJSON_AddNumberToObject(o, "expires_in", (double)e->id->access_ttl_s);
    if (e->refresh[0]) {
        cJSON_AddStringToObject(o, "refresh_token", e->refresh);
        cJSON_AddNumberToObject(o, "refresh_expires_in", (double)e->id->refresh_ttl_s);
    }
    if (user && user->nrows > 0)
        cJSON_AddItemToObject(o, "user", identity__user_json(user, 0, e->req));
    identity__respond_cjson(e->req, status, o);
    cJSON_Delete(o);
    explicit_bzero(tok, strlen(tok));
    free(tok);
}

static const struct kit_field refresh_fields[] = {
    {.name = "refresh_token",
     .kind = KIT_STRING,
     .flags = KIT_REQUIRED,
     .at = KIT_AT(struct token_in, refresh_token)},
    {.name = NULL},
};
const struct kit_table identity__eu_refresh_table = {.fields = refresh_fields};
static const struct kit_field logout_fields[] = {
    {.name = "refresh_token", .kind = KIT_STRING, .at = KIT_AT(struct token_in, refresh_token)},
    {.name = "everywhere", .kind = KIT_BOOL, .at = KIT_AT(struct token_in, everywhere)},
    {.name = NULL},
};
const struct kit_table identity__eu_logout_table = {.fields = logout_fields};
