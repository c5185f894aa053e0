/*
 * End-user authentication (docs/auth.md): register, login,
 * refresh, logout and /auth/me. See enduser.h and docs/auth.md.
 *
 * Every request is a small state machine of "steps" that each end on the
 * request's loop thread: a store op (completed on a store thread, posted
 * back with http_req_post) or a password hash or check (run on the identity
 * worker pool, posted back the same way). Nothing here blocks a loop.
 */
#include "enduser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/login_guard.h"
#include "auth/password.h"
#include "auth/tokens.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/workpool.h"
#include "core/xalloc.h"
#include "identity/apps.h"
#include "identity/identity.h"
#include "identity/internal.h"
#include "identity/revoke.h"
#include "identity/user_auth.h"
#include "net/http.h"
#include "router/request.h"
#include "store/store.h"

#define PASSWORD_MIN_LEN 8 /* bytes; at most PASSWORD_MAX_LEN */

/* ---- SQL */

static const struct store_sql sql_app_by_key = {
    .sqlite = "SELECT id, status, allow_register FROM apps WHERE key = ?1",
    .pg = "SELECT id, status, allow_register FROM apps WHERE key = $1",
};
static const struct store_sql sql_login_lookup = {
    .sqlite = "SELECT a.id, a.status, u.password_hash, u.disabled FROM apps a"
              " LEFT JOIN users u ON u.app_id = a.id AND u.id = ?2 WHERE a.key = ?1",
    .pg = "SELECT a.id, a.status, u.password_hash, u.disabled FROM apps a"
          " LEFT JOIN users u ON u.app_id = a.id AND u.id = $2 WHERE a.key = $1",
};
static const struct store_sql sql_user_hash = {
    .sqlite = "SELECT password_hash FROM users WHERE app_id = ?1 AND id = ?2",
    .pg = "SELECT password_hash FROM users WHERE app_id = $1 AND id = $2",
};
static const struct store_sql sql_user_insert = {
    .sqlite = "INSERT INTO users (app_id, id, name, avatar, contacts, password_hash, created_at,"
              " updated_at) VALUES (?1, ?2, coalesce(?3, ''), coalesce(?4, ''),"
              " coalesce(?5, '{}'), ?6, ?7, ?7)",
    .pg = "INSERT INTO users (app_id, id, name, avatar, contacts, password_hash, created_at,"
          " updated_at) VALUES ($1, $2, coalesce($3, ''), coalesce($4, ''),"
          " coalesce($5, '{}'), $6, $7, $7)",
};
static const struct store_sql sql_user_get = {
    .sqlite = "SELECT " USER_COLS " FROM users WHERE app_id = ?1 AND id = ?2",
    .pg = "SELECT " USER_COLS " FROM users WHERE app_id = $1 AND id = $2",
};
/* the hash is replaced only if it is still the one that was checked */
static const struct store_sql sql_rehash = {
    .sqlite = "UPDATE users SET password_hash = ?4 WHERE app_id = ?1 AND id = ?2"
              " AND password_hash = ?3",
    .pg = "UPDATE users SET password_hash = $4 WHERE app_id = $1 AND id = $2"
          " AND password_hash = $3",
};
static const struct store_sql sql_me_update = {
    .sqlite = "UPDATE users SET name = coalesce(?3, name), avatar = coalesce(?4, avatar),"
              " contacts = coalesce(?5, contacts), metadata = coalesce(?6, metadata),"
              " password_hash = coalesce(?7, password_hash), updated_at = ?8"
              " WHERE app_id = ?1 AND id = ?2",
    .pg = "UPDATE users SET name = coalesce($3, name), avatar = coalesce($4, avatar),"
          " contacts = coalesce($5, contacts), metadata = coalesce($6, metadata),"
          " password_hash = coalesce($7, password_hash), updated_at = $8"
          " WHERE app_id = $1 AND id = $2",
};
static const struct store_sql sql_rt_insert = {
    .sqlite = "INSERT INTO refresh_tokens (id, family_id, subject_kind, subject_id, app_id,"
              " token_hash, created_at, expires_at) VALUES (?1, ?2, 'user', ?3, ?4, ?5, ?6, ?7)",
    .pg = "INSERT INTO refresh_tokens (id, family_id, subject_kind, subject_id, app_id,"
          " token_hash, created_at, expires_at) VALUES ($1, $2, 'user', $3, $4, $5, $6, $7)",
};
/* rotation, step 1: the presented token is live; mark it used */
static const struct store_sql sql_rt_rotate = {
    .sqlite = "UPDATE refresh_tokens SET rotated_at = ?2 WHERE token_hash = ?1"
              " AND subject_kind = 'user' AND rotated_at IS NULL AND revoked_at IS NULL"
              " AND expires_at > ?2 RETURNING app_id, subject_id, family_id",
    .pg = "UPDATE refresh_tokens SET rotated_at = $2 WHERE token_hash = $1"
          " AND subject_kind = 'user' AND rotated_at IS NULL AND revoked_at IS NULL"
          " AND expires_at > $2 RETURNING app_id, subject_id, family_id",
};
/* rotation, step 2: its successor in the same family, if the user and app are still active */
static const struct store_sql sql_rt_successor = {
    .sqlite = "INSERT INTO refresh_tokens (id, family_id, subject_kind, subject_id, app_id,"
              " token_hash, created_at, expires_at)"
              " SELECT ?3, t.family_id, 'user', t.subject_id, t.app_id, ?4, ?2, ?5"
              " FROM refresh_tokens t JOIN users u ON u.app_id = t.app_id AND u.id = t.subject_id"
              " JOIN apps a ON a.id = t.app_id"
              " WHERE t.token_hash = ?1 AND u.disabled = 0 AND a.status = 'active'",
    .pg = "INSERT INTO refresh_tokens (id, family_id, subject_kind, subject_id, app_id,"
          " token_hash, created_at, expires_at)"
          " SELECT $3, t.family_id, 'user', t.subject_id, t.app_id, $4, $2, $5"
          " FROM refresh_tokens t JOIN users u ON u.app_id = t.app_id AND u.id = t.subject_id"
          " JOIN apps a ON a.id = t.app_id"
          " WHERE t.token_hash = $1 AND u.disabled = 0 AND a.status = 'active'",
};
/* reuse of a rotated token: the whole family goes */
static const struct store_sql sql_rt_reuse = {
    .sqlite = "UPDATE refresh_tokens SET revoked_at = ?2 WHERE revoked_at IS NULL AND family_id ="
              " (SELECT family_id FROM refresh_tokens WHERE token_hash = ?1"
              " AND rotated_at IS NOT NULL) RETURNING app_id, subject_id",
    .pg = "UPDATE refresh_tokens SET revoked_at = $2 WHERE revoked_at IS NULL AND family_id ="
          " (SELECT family_id FROM refresh_tokens WHERE token_hash = $1"
          " AND rotated_at IS NOT NULL) RETURNING app_id, subject_id",
};
/* logout: the family (session) of a refresh token the user names */
static const struct store_sql sql_rt_family_of = {
    .sqlite = "SELECT family_id FROM refresh_tokens WHERE token_hash = ?3 AND app_id = ?1"
              " AND subject_id = ?2 AND subject_kind = 'user'",
    .pg = "SELECT family_id FROM refresh_tokens WHERE token_hash = $3 AND app_id = $1"
          " AND subject_id = $2 AND subject_kind = 'user'",
};
/* logout: the family of a refresh token the user names */
static const struct store_sql sql_rt_revoke_family_by_token = {
    .sqlite = "UPDATE refresh_tokens SET revoked_at = ?4 WHERE revoked_at IS NULL AND family_id ="
              " (SELECT family_id FROM refresh_tokens WHERE token_hash = ?3 AND app_id = ?1"
              " AND subject_id = ?2 AND subject_kind = 'user')",
    .pg = "UPDATE refresh_tokens SET revoked_at = $4 WHERE revoked_at IS NULL AND family_id ="
          " (SELECT family_id FROM refresh_tokens WHERE token_hash = $3 AND app_id = $1"
          " AND subject_id = $2 AND subject_kind = 'user')",
};
/* logout: one session's refresh tokens */
static const struct store_sql sql_rt_revoke_family = {
    .sqlite = "UPDATE refresh_tokens SET revoked_at = ?4 WHERE revoked_at IS NULL"
              " AND family_id = ?3 AND app_id = ?1 AND subject_id = ?2 AND subject_kind = 'user'",
    .pg = "UPDATE refresh_tokens SET revoked_at = $4 WHERE revoked_at IS NULL"
          " AND family_id = $3 AND app_id = $1 AND subject_id = $2 AND subject_kind = 'user'",
};
static const struct store_sql sql_rt_revoke_user = {
    .sqlite = "UPDATE refresh_tokens SET revoked_at = ?3 WHERE revoked_at IS NULL"
              " AND subject_kind = 'user' AND app_id = ?1 AND subject_id = ?2",
    .pg = "UPDATE refresh_tokens SET revoked_at = $3 WHERE revoked_at IS NULL"
          " AND subject_kind = 'user' AND app_id = $1 AND subject_id = $2",
};

static const struct store_sql sql_rt_revoke_users = {
    .sqlite = "UPDATE refresh_tokens SET revoked_at = ?3 WHERE revoked_at IS NULL"
              " AND subject_kind = 'user' AND app_id = ?1"
              " AND subject_id IN (SELECT value FROM json_each(?2))",
    .pg = "UPDATE refresh_tokens SET revoked_at = $3 WHERE revoked_at IS NULL"
          " AND subject_kind = 'user' AND app_id = $1"
          " AND subject_id IN (SELECT json_array_elements_text($2::text::json))",
};

void identity__refresh_revoke_add(struct store_op *op, const char *app_id, const char *user_id,
                                  int64_t now)
{
    store_op_add(op, &sql_rt_revoke_user);
    store_bind_text(op, app_id);
    store_bind_text(op, user_id);
    store_bind_int(op, now);
}

void identity__refresh_revoke_many_add(struct store_op *op, const char *app_id,
                                       const char *ids_json, int64_t now)
{
    store_op_add(op, &sql_rt_revoke_users);
    store_bind_text(op, app_id);
    store_bind_text(op, ids_json);
    store_bind_int(op, now);
}

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
    bool guard_held; /* a login-guard token is taken for this check (login_guard.h) */
    char peer[64];   /* the client address it was taken for */
    char sid[IDENTITY_SESSION_LEN + 1]; /* the session (refresh family) of the tokens made */
};

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
static struct kit_job *eu_job(struct http_req *req, struct identity *id)
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
static int work_verify(struct kit_job *j)
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
static int work_hash(struct kit_job *j)
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

static void unauthorized(struct http_req *req, const char *message)
{
    http_res_header(req, "WWW-Authenticate", "Bearer");
    http_respond_error(req, 401, "unauthorized", message, NULL);
}

static void invalid(struct http_req *req, const char *field, const char *message)
{
    http_respond_error(req, 422, "validation_failed", message, field);
}

#define ACCOUNT_MAX (8 + APP_KEY_MAX + JWT_APP_MAX + JWT_SUB_MAX)

/*
 * The login-throttle account of e: "user:<app_id>:<user_id>", the same for /auth/login and a
 * password change on PATCH /auth/me. A login naming an unknown app key counts under
 * "user:?<key>:<user_id>" ('?' is in no app id, so no key can reach a real app's accounts).
 */
static void account_of(const struct eu *e, char out[ACCOUNT_MAX])
{
    if (e->app_id[0])
        snprintf(out, ACCOUNT_MAX, "user:%s:%s", e->app_id, e->user_id);
    else
        snprintf(out, ACCOUNT_MAX, "user:?%s:%s", e->app_key, e->user_id);
}

/* Notes that identity__login_allowed took a login-guard token for e's password check. */
static void guard_held(struct eu *e)
{
    const char *peer = http_req_peer(e->req);
    snprintf(e->peer, sizeof(e->peer), "%s", peer ? peer : "");
    e->guard_held = true;
}

/* Gives back the login-guard token of e's password check, if it holds one (login_guard.h). */
static void guard_refund(struct eu *e)
{
    if (!e->guard_held)
        return;
    e->guard_held = false;
    char account[ACCOUNT_MAX];
    account_of(e, account);
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
static const char *take_password(struct kit_job *j, const cJSON *body, const char *name,
                                 bool new_one)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(body, name);
    struct kit_error err;
    if (p == NULL) {
        invalid(j->req, name, "is required (a string)");
        return NULL;
    }
    if (kit_check(p, new_one ? &password_new : &password_any, name, &err) != 0) {
        kit_fail_decode(j->req, &err);
        return NULL;
    }
    return kit_secret_dup(j, p->valuestring);
}

/* The app named by X-App-Key (default: "default"); false after answering 401. */
static bool app_key_of(struct http_req *req, char out[APP_KEY_MAX + 1])
{
    const char *k = http_req_header(req, "X-App-Key");
    if (k == NULL)
        k = "default";
    size_t n = strlen(k);
    if (n == 0 || n > APP_KEY_MAX) {
        unauthorized(req, "unknown app key");
        return false;
    }
    memcpy(out, k, n + 1);
    return true;
}

/*
 * The register and login bodies (the kit decoder's targets): the user id is "username" (or
 * "id"). Register refuses other members; login ignores them.
 */
struct account_in {
    const char *username, *id, *password, *email, *name, *avatar;
};

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
     .kind = KIT_STRING,
     .max = USER_AVATAR_MAX,
     .at = KIT_AT(struct account_in, avatar)},
    {.name = NULL},
};
static const struct kit_field login_fields[] = {
    ACCOUNT_FIELDS(1, "must be 1 to 511 bytes"),
    {.name = NULL},
};
static const struct kit_table register_table = {.fields = register_fields};
static const struct kit_table login_table = {.fields = login_fields, .open = true};

/* Decodes e->body against t into in and takes the user id and the password (a job secret);
 * false after answering 422. */
static bool account_of_body(struct kit_job *j, const struct kit_table *t, struct account_in *in)
{
    struct eu *e = j->ctx;
    struct kit_error err;
    if (kit_decode(e->body, t, in, NULL, &err) != 0) {
        kit_fail_decode(j->req, &err);
        return false;
    }
    const char *uid = in->username ? in->username : in->id;
    if (uid == NULL) {
        invalid(j->req, "username", "is required");
        return false;
    }
    snprintf(e->user_id, sizeof(e->user_id), "%s", uid);
    e->password = kit_secret_dup(j, in->password);
    kit_wipe_member(e->body, "password"); /* the job holds its own copy */
    return true;
}

/*
 * Adds a new refresh token in a new family to op: a new session, whose id (the family id) goes
 * to e->sid for the access token; the refresh token's text goes to e->refresh.
 */
static int add_refresh(struct eu *e, struct store_op *op, int64_t now)
{
    char hash[TOKEN_HASH_HEX + 1], rid[33];
    token_generate(e->refresh);
    if (token_hash(e->refresh, e->id->secret_key, hash) != 0)
        return ERR_BACKEND;
    rand_hex(rid, 16);
    rand_hex(e->sid, IDENTITY_SESSION_LEN / 2);
    store_op_add(op, &sql_rt_insert);
    store_bind_text(op, rid);
    store_bind_text(op, e->sid);
    store_bind_text(op, e->user_id);
    store_bind_text(op, e->app_id);
    store_bind_text(op, hash);
    store_bind_int(op, now);
    store_bind_int(op, now + e->id->refresh_ttl_s * 1000);
    return 0;
}

/* Answers status with {user?, access_token, refresh_token, token_type, expires_in, ...}. */
static void respond_tokens(struct eu *e, int status, const struct store_rows *user)
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
        cJSON_AddItemToObject(o, "user", identity__user_json(user, 0));
    identity__respond_cjson(e->req, status, o);
    cJSON_Delete(o);
    OPENSSL_cleanse(tok, strlen(tok));
    free(tok);
}

/*
 * Ends op with a new refresh token (when refresh is set) and a read of the user, and
 * submits it; next runs when it commits. Answers 500 itself when the token cannot be made.
 */
static void submit_with_user(struct eu *e, struct store_op *op, bool refresh, int64_t now,
                             kit_fn next)
{
    if (refresh && add_refresh(e, op, now) != 0) {
        store_op_free(op);
        http_respond_err(e->req, ERR_BACKEND, "internal error", NULL);
        return;
    }
    store_op_add(op, &sql_user_get);
    store_bind_text(op, e->app_id);
    store_bind_text(op, e->user_id);
    kit_store(e->job, op, KIT_WRITE, next);
}

/* ---- POST /auth/register */

static void register_done(struct kit_job *j)
{
    struct eu *e = j->ctx;
    if (j->status == ERR_EXISTS) {
        http_respond_error(e->req, 409, "conflict", "this username is taken", "username");
        return;
    }
    if (j->status != 0) {
        identity__respond_store_err(e->req, j->status);
        return;
    }
    respond_tokens(e, 201, store_result_step(j->res, -1));
}

static void register_hashed(struct kit_job *j)
{
    struct eu *e = j->ctx;
    if (e->verify != 0 || e->new_hash == NULL) {
        http_respond_err(e->req, ERR_BACKEND, "cannot hash the password", NULL);
        return;
    }
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &sql_user_insert);
    store_bind_text(op, e->app_id);
    store_bind_text(op, e->user_id);
    store_bind_text(op, e->f.name);
    store_bind_text(op, e->f.avatar);
    store_bind_text(op, e->f.contacts);
    store_bind_text(op, e->new_hash);
    store_bind_int(op, now);
    submit_with_user(e, op, true, now, register_done);
}

static void register_app(struct kit_job *j)
{
    struct eu *e = j->ctx;
    const struct store_rows *r = store_result_step(j->res, 0);
    if (j->status != 0) {
        identity__respond_store_err(e->req, j->status);
    } else if (r == NULL || r->nrows == 0) {
        unauthorized(e->req, "unknown app key");
    } else if (strcmp(store_rows_text(r, 0, 1), "active") != 0) {
        http_respond_error(e->req, 403, "forbidden", "the app is disabled", NULL);
    } else if (store_rows_int(r, 0, 2) == 0) {
        http_respond_error(e->req, 403, "forbidden", "this app does not allow self-registration",
                           NULL);
    } else {
        snprintf(e->app_id, sizeof(e->app_id), "%s", store_rows_text(r, 0, 0));
        /* throttled per address and per app before the hash, whatever the outcome ("taken"
         * included: that answer tells which usernames exist) */
        uint64_t wait = login_guard_register_take(e->id->guard, http_req_peer(e->req), e->app_id,
                                                  clock_mono_ms());
        if (wait != 0) {
            char v[24];
            snprintf(v, sizeof(v), "%llu", (unsigned long long)wait);
            http_res_header(e->req, "Retry-After", v);
            http_respond_error(e->req, 429, "rate_limited", "too many registrations; retry later",
                               NULL);
            return;
        }
        kit_work(j, WORKPOOL_LOW, IDENTITY_HASH_PER_IP, work_hash, register_hashed);
    }
}

static void register_start(struct kit_job *j)
{
    struct eu *e = j->ctx;
    struct http_req *req = j->req;
    e->body = request_body_json(req);
    if (e->body == NULL || !app_key_of(req, e->app_key))
        return;
    struct account_in in;
    if (!account_of_body(j, &register_table, &in))
        return;
    /* the profile: the limits of POST /users (the table), the e-mail as contacts.email */
    e->f.name = in.name;
    e->f.avatar = in.avatar;
    if (in.email != NULL) {
        cJSON *contacts = cJSON_CreateObject();
        cJSON_AddStringToObject(contacts, "email", in.email);
        e->f.contacts = cJSON_PrintUnformatted(contacts);
        cJSON_Delete(contacts);
    }
    struct store_op *op = store_op_new();
    store_op_add(op, &sql_app_by_key);
    store_bind_text(op, e->app_key);
    kit_store(j, op, KIT_READ, register_app);
}

void identity_auth_register(struct http_req *req, void *ud)
{
    struct kit_job *j = eu_job(req, ud);
    kit_run(j, register_start);
}

/* ---- POST /auth/login */

static void login_done(struct kit_job *j)
{
    struct eu *e = j->ctx;
    if (j->status != 0) {
        identity__respond_store_err(e->req, j->status);
        return;
    }
    respond_tokens(e, 200, store_result_step(j->res, -1));
}

static void login_checked(struct kit_job *j)
{
    struct eu *e = j->ctx;
    if (e->verify != 0) { /* the guard's token stays taken */
        unauthorized(e->req, "wrong username or password");
        return;
    }
    guard_refund(e);
    const struct store_rows *r = store_result_step(j->res, 0);
    if (strcmp(store_rows_text(r, 0, 1), "active") != 0) {
        http_respond_error(e->req, 403, "forbidden", "the app is disabled", NULL);
        return;
    }
    if (store_rows_int(r, 0, 3) != 0) {
        http_respond_error(e->req, 403, "forbidden", "the user is disabled", NULL);
        return;
    }
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    if (e->new_hash) { /* a legacy (bcrypt) hash: upgrade to yescrypt */
        store_op_add(op, &sql_rehash);
        store_bind_text(op, e->app_id);
        store_bind_text(op, e->user_id);
        store_bind_text(op, e->hash);
        store_bind_text(op, e->new_hash);
    }
    submit_with_user(e, op, true, now, login_done);
}

static void login_found(struct kit_job *j)
{
    struct eu *e = j->ctx;
    if (j->status != 0) {
        identity__respond_store_err(e->req, j->status);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 0);
    if (r && r->nrows > 0) {
        snprintf(e->app_id, sizeof(e->app_id), "%s", store_rows_text(r, 0, 0));
        const char *h = store_rows_text(r, 0, 2);
        if (h)
            e->hash = xstrdup(h);
        identity_hash_seen(e->id, h);
    }
    /* a token is taken before any hashing, so concurrent attempts cannot outrun the
     * lock-out; the key names the app by id, as PATCH /auth/me does */
    char account[ACCOUNT_MAX];
    account_of(e, account);
    if (!identity__login_allowed(e->id, e->req, account))
        return;
    guard_held(e);
    if (!kit_work(j, WORKPOOL_HIGH, IDENTITY_HASH_PER_IP, work_verify,
                  login_checked)) /* unknown users: same time */
        guard_refund(e);
}

static void login_start(struct kit_job *j)
{
    struct eu *e = j->ctx;
    struct http_req *req = j->req;
    e->body = request_body_json(req);
    if (e->body == NULL || !app_key_of(req, e->app_key))
        return;
    struct account_in in;
    if (!account_of_body(j, &login_table, &in))
        return;
    struct store_op *op = store_op_new();
    store_op_add(op, &sql_login_lookup);
    store_bind_text(op, e->app_key);
    store_bind_text(op, e->user_id);
    kit_store(j, op, KIT_READ, login_found);
}

void identity_auth_login(struct http_req *req, void *ud)
{
    struct kit_job *j = eu_job(req, ud);
    kit_run(j, login_start);
}

/* ---- POST /auth/refresh */

static void refresh_reuse_done(struct kit_job *j)
{
    struct eu *e = j->ctx;
    const struct store_rows *r = store_result_step(j->res, 0);
    if (j->status == 0 && r && r->nrows > 0) {
        const char *app = store_rows_text(r, 0, 0), *sub = store_rows_text(r, 0, 1);
        log_warn("auth", "refresh token reused: family revoked app=%s user=%s", app ? app : "",
                 sub ? sub : "");
        if (app && sub) /* whoever holds the family's access tokens loses them too */
            revoke_subject(e->id->revoke, REVOKE_USER, app, sub);
    }
    unauthorized(e->req, "invalid, expired or revoked refresh token");
}

static void refresh_done(struct kit_job *j)
{
    struct eu *e = j->ctx;
    if (j->status == ERR_NOTFOUND) {
        /* not live: if it was rotated already, this is a reuse */
        struct store_op *op = store_op_new();
        store_op_add(op, &sql_rt_reuse);
        store_bind_text(op, e->hash);
        store_bind_int(op, clock_wall_ms());
        kit_store(j, op, KIT_WRITE, refresh_reuse_done);
        return;
    }
    if (j->status != 0) {
        identity__respond_store_err(e->req, j->status);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 0);
    snprintf(e->app_id, sizeof(e->app_id), "%s", store_rows_text(r, 0, 0));
    snprintf(e->user_id, sizeof(e->user_id), "%s", store_rows_text(r, 0, 1));
    const char *fam = store_rows_text(r, 0, 2); /* the session goes on */
    if (fam && strlen(fam) == IDENTITY_SESSION_LEN)
        memcpy(e->sid, fam, IDENTITY_SESSION_LEN + 1);
    respond_tokens(e, 200, store_result_step(j->res, -1));
}

/* The refresh and logout bodies (the kit decoder's targets); other members are ignored. */
struct token_in {
    const char *refresh_token;
    int everywhere;
};
static const struct kit_field refresh_fields[] = {
    {.name = "refresh_token",
     .kind = KIT_STRING,
     .flags = KIT_REQUIRED,
     .at = KIT_AT(struct token_in, refresh_token)},
    {.name = NULL},
};
static const struct kit_table refresh_table = {.fields = refresh_fields, .open = true};
static const struct kit_field logout_fields[] = {
    {.name = "refresh_token", .kind = KIT_STRING, .at = KIT_AT(struct token_in, refresh_token)},
    {.name = "everywhere", .kind = KIT_BOOL, .at = KIT_AT(struct token_in, everywhere)},
    {.name = NULL},
};
static const struct kit_table logout_table = {.fields = logout_fields, .open = true};

static void refresh_start(struct kit_job *j)
{
    struct eu *e = j->ctx;
    struct http_req *req = j->req;
    struct identity *id = e->id;
    struct token_in in;
    if ((e->body = kit_body(req, &refresh_table, &in)) == NULL)
        return;
    const char *t = in.refresh_token;
    char old[TOKEN_HASH_HEX + 1], hash[TOKEN_HASH_HEX + 1], rid[33];
    if (!token_is_wellformed(t)) {
        unauthorized(req, "invalid, expired or revoked refresh token");
        return;
    }
    if (token_hash(t, id->secret_key, old) != 0) {
        http_respond_err(req, ERR_BACKEND, "internal error", NULL);
        return;
    }
    e->hash = xstrdup(old);
    token_generate(e->refresh);
    if (token_hash(e->refresh, id->secret_key, hash) != 0) {
        http_respond_err(req, ERR_BACKEND, "internal error", NULL);
        return;
    }
    rand_hex(rid, 16);
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &sql_rt_rotate);
    store_bind_text(op, old);
    store_bind_int(op, now);
    store_op_require_row(op);
    store_op_add(op, &sql_rt_successor);
    store_bind_text(op, old);
    store_bind_int(op, now);
    store_bind_text(op, rid);
    store_bind_text(op, hash);
    store_bind_int(op, now + id->refresh_ttl_s * 1000);
    store_op_require_row(op);
    kit_store(j, op, KIT_WRITE, refresh_done);
}

void identity_auth_refresh(struct http_req *req, void *ud)
{
    struct kit_job *j = eu_job(req, ud);
    kit_run(j, refresh_start);
}

/* ---- POST /auth/logout */

static void logout_done(struct kit_job *j)
{
    struct eu *e = j->ctx;
    if (j->status != 0) {
        identity__respond_store_err(e->req, j->status);
        return;
    }
    if (e->sid[0] == '\0') { /* everywhere, or a token from before sessions */
        revoke_subject(e->id->revoke, REVOKE_USER, e->app_id, e->user_id);
    } else {
        revoke_session(e->id->revoke, e->app_id, e->user_id, e->sid);
        /* the family of the refresh token named in the body, when it is another session */
        const char *fam = store_rows_text(store_result_step(j->res, 0), 0, 0);
        if (fam && strcmp(fam, e->sid) != 0)
            revoke_session(e->id->revoke, e->app_id, e->user_id, fam);
    }
    http_respond(e->req, 204, NULL, "", 0);
}

/*
 * Ends the caller's session (the "sid" of its access token): its refresh family and its access
 * tokens. {"refresh_token": t} ends t's session too; {"everywhere": true} ends every session of
 * the user. A token without a session (issued before sessions existed) ends every session.
 */
static void logout_start(struct kit_job *j)
{
    struct eu *e = j->ctx;
    struct http_req *req = j->req;
    struct identity *id = e->id;
    size_t len = 0;
    http_req_body(req, &len);
    struct token_in in = {.refresh_token = NULL, .everywhere = -1};
    if (len > 0 && (e->body = kit_body(req, &logout_table, &in)) == NULL)
        return;
    const char *t = in.refresh_token;
    if (in.everywhere == 1)
        e->sid[0] = '\0';
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    if (e->sid[0] == '\0') {
        identity__refresh_revoke_add(op, e->app_id, e->user_id, now);
    } else {
        char h[TOKEN_HASH_HEX + 1] = "";
        if (t != NULL && token_is_wellformed(t) && token_hash(t, id->secret_key, h) != 0)
            h[0] = '\0';
        store_op_add(op, &sql_rt_family_of); /* step 0: that token's session, if any */
        store_bind_text(op, e->app_id);
        store_bind_text(op, e->user_id);
        store_bind_text(op, h);
        store_op_add(op, &sql_rt_revoke_family);
        store_bind_text(op, e->app_id);
        store_bind_text(op, e->user_id);
        store_bind_text(op, e->sid);
        store_bind_int(op, now);
        if (h[0]) { /* and the named token's family, when it is another one */
            store_op_add(op, &sql_rt_revoke_family_by_token);
            store_bind_text(op, e->app_id);
            store_bind_text(op, e->user_id);
            store_bind_text(op, h);
            store_bind_int(op, now);
        }
    }
    kit_store(j, op, KIT_WRITE, logout_done);
}

static void logout_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct kit_job *j = eu_job(req, ud);
    struct eu *e = j->ctx;
    snprintf(e->app_id, sizeof(e->app_id), "%s", p->app_id);
    snprintf(e->user_id, sizeof(e->user_id), "%s", p->user_id);
    snprintf(e->sid, sizeof(e->sid), "%s", p->session_id);
    kit_run(j, logout_start);
}

void identity_auth_logout(struct http_req *req, void *ud)
{
    identity_user_auth(ud, req, logout_authed, ud);
}

/* ---- GET /auth/me */

static void me_done(struct kit_job *j)
{
    struct eu *e = j->ctx;
    if (j->status != 0) {
        identity__respond_store_err(e->req, j->status);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, -1);
    if (r == NULL || r->nrows == 0) {
        http_respond_err(e->req, ERR_NOTFOUND, "no such user", NULL);
        return;
    }
    if (e->want_tokens) {
        respond_tokens(e, 200, r);
        return;
    }
    cJSON *o = identity__user_json(r, 0);
    identity__respond_cjson(e->req, 200, o);
    cJSON_Delete(o);
}

static void me_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct store_op *op = store_op_new();
    store_op_add(op, &sql_user_get);
    store_bind_text(op, p->app_id);
    store_bind_text(op, p->user_id);
    kit_store(eu_job(req, ud), op, KIT_READ, me_done);
}

void identity_auth_me(struct http_req *req, void *ud)
{
    identity_user_auth(ud, req, me_authed, ud);
}

/* ---- PATCH /auth/me */

static void me_patched(struct kit_job *j)
{
    struct eu *e = j->ctx;
    if (j->status == 0 && e->new_hash) {
        /* a new password: every other session ends; this one gets fresh tokens */
        revoke_subject(e->id->revoke, REVOKE_USER, e->app_id, e->user_id);
        e->want_tokens = true;
    }
    me_done(j);
}

static void me_write(struct kit_job *j)
{
    struct eu *e = j->ctx;
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &sql_me_update);
    store_bind_text(op, e->app_id);
    store_bind_text(op, e->user_id);
    store_bind_text(op, e->f.name);
    store_bind_text(op, e->f.avatar);
    store_bind_text(op, e->f.contacts);
    store_bind_text(op, e->f.metadata);
    store_bind_text(op, e->new_hash);
    store_bind_int(op, now);
    store_op_require_row(op);
    if (e->new_hash)
        identity__refresh_revoke_add(op, e->app_id, e->user_id, now);
    submit_with_user(e, op, e->new_hash != NULL, now, me_patched);
}

static void me_password_checked(struct kit_job *j)
{
    struct eu *e = j->ctx;
    if (e->verify == ERR_BACKEND) { /* the right password; the new one could not be hashed */
        guard_refund(e);
        http_respond_err(e->req, ERR_BACKEND, "cannot hash the password", NULL);
        return;
    }
    if (e->verify != 0) { /* the guard's token stays taken */
        http_respond_error(e->req, 403, "forbidden", "current_password is wrong",
                           "current_password");
        return;
    }
    guard_refund(e);
    me_write(j); /* e->new_hash holds the new password's hash (work_verify) */
}

static void me_hash_found(struct kit_job *j)
{
    struct eu *e = j->ctx;
    if (j->status != 0) {
        guard_refund(e);
        identity__respond_store_err(e->req, j->status);
        return;
    }
    const char *h = store_rows_text(store_result_step(j->res, 0), 0, 0);
    if (h == NULL) {
        guard_refund(e);
        http_respond_error(e->req, 403, "forbidden", "this user has no password to change",
                           "current_password");
        return;
    }
    e->hash = xstrdup(h);
    if (!kit_work(j, WORKPOOL_HIGH, IDENTITY_HASH_PER_IP, work_verify, me_password_checked))
        guard_refund(e);
}

static void me_patch_start(struct kit_job *j)
{
    struct eu *e = j->ctx;
    struct http_req *req = j->req;
    struct identity *id = e->id;
    e->body = request_body_json(req);
    if (e->body == NULL)
        return;
    if (!cJSON_IsObject(e->body)) {
        invalid(req, "", "must be a JSON object");
        return;
    }
    static const char *const fixed[] = {"kind", "disabled", NULL};
    for (int i = 0; fixed[i]; i++) {
        if (cJSON_GetObjectItemCaseSensitive(e->body, fixed[i])) {
            http_respond_error(req, 403, "forbidden", "cannot be changed by the user", fixed[i]);
            return;
        }
    }
    bool pw = cJSON_GetObjectItemCaseSensitive(e->body, "password") != NULL;
    if (pw) {
        if ((e->new_password = take_password(j, e->body, "password", true)) == NULL ||
            (e->password = take_password(j, e->body, "current_password", false)) == NULL)
            return;
    } else if (cJSON_GetObjectItemCaseSensitive(e->body, "current_password")) {
        invalid(req, "current_password", "only with password");
        return;
    }
    kit_wipe_member(e->body, "password"); /* the job holds its own copies */
    kit_wipe_member(e->body, "current_password");
    struct kit_error err;
    if (identity__user_fields_parse(e->body, USER_PATCH, "", &e->f, &err) != 0) {
        kit_fail_decode(req, &err);
        return;
    }
    if (pw) {
        char account[ACCOUNT_MAX];
        account_of(e, account);
        if (!identity__login_allowed(id, req, account)) /* takes a token: see login_found */
            return;
        guard_held(e);
        struct store_op *op = store_op_new();
        store_op_add(op, &sql_user_hash);
        store_bind_text(op, e->app_id);
        store_bind_text(op, e->user_id);
        if (!kit_store(j, op, KIT_READ, me_hash_found))
            guard_refund(e); /* refused: nothing was checked */
        return;
    }
    me_write(j);
}

static void me_patch_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct kit_job *j = eu_job(req, ud);
    struct eu *e = j->ctx;
    snprintf(e->app_id, sizeof(e->app_id), "%s", p->app_id);
    snprintf(e->user_id, sizeof(e->user_id), "%s", p->user_id);
    kit_run(j, me_patch_start);
}

void identity_auth_me_patch(struct http_req *req, void *ud)
{
    identity_user_auth(ud, req, me_patch_authed, ud);
}
