/*
 * End-user authentication (docs/auth.md): register, login,
 * refresh, logout and /auth/me. See enduser.h and docs/auth.md.
 *
 * Every request is a kit job (kit/job.h) whose context is a struct eu
 * (enduser_internal.h): a chain of steps that each end on the request's loop
 * thread, a store op or a password hash or check on the identity worker pool.
 * Nothing here blocks a loop. The plumbing is in enduser_common.c.
 */
#include "enduser.h"
#include "identity/enduser_internal.h"

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
#include "store/sql.h"
#include "store/store.h"

/* ---- SQL */

void identity__refresh_revoke_add(struct store_op *op, const char *app_id, const char *user_id,
                                  int64_t now)
{
    store_op_add(op, &SQL_REFRESH_TOKENS_REVOKE_USER);
    store_bind_text(op, app_id);
    store_bind_text(op, user_id);
    store_bind_int(op, now);
}

void identity__refresh_revoke_many_add(struct store_op *op, const char *app_id,
                                       const char *ids_json, int64_t now)
{
    store_op_add(op, &SQL_REFRESH_TOKENS_REVOKE_USERS);
    store_bind_text(op, app_id);
    store_bind_text(op, ids_json);
    store_bind_int(op, now);
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
    store_op_add(op, &SQL_REFRESH_TOKENS_INSERT);
    store_bind_text(op, rid);
    store_bind_text(op, e->sid);
    store_bind_text(op, e->user_id);
    store_bind_text(op, e->app_id);
    store_bind_text(op, hash);
    store_bind_int(op, now);
    store_bind_int(op, now + e->id->refresh_ttl_s * 1000);
    return 0;
}

/*
 * Ends op with a new refresh token (when refresh is set) and a read of the user, and
 * submits it; next runs when it commits. Answers 500 itself when the token cannot be made.
 */
static void submit_with_user(struct eu *e, struct store_op *op, bool refresh, int64_t now,
                             kit_fn committed, kit_fn next)
{
    if (refresh && add_refresh(e, op, now) != 0) {
        store_op_free(op);
        http_respond_err(e->req, ERR_BACKEND, "internal error", NULL);
        return;
    }
    store_op_add(op, &SQL_USERS_GET);
    store_bind_text(op, e->app_id);
    store_bind_text(op, e->user_id);
    if (committed != NULL)
        kit_store_committed(e->job, op, committed, next);
    else
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
    identity__eu_respond_tokens(e, 201, store_result_step(j->res, -1));
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
    store_op_add(op, &SQL_USERS_REGISTER);
    store_bind_text(op, e->app_id);
    store_bind_text(op, e->user_id);
    store_bind_text(op, e->f.name);
    store_bind_text(op, e->f.avatar);
    store_bind_text(op, e->f.contacts);
    store_bind_text(op, e->new_hash);
    store_bind_int(op, now);
    submit_with_user(e, op, true, now, NULL, register_done);
}

static void register_app(struct kit_job *j)
{
    struct eu *e = j->ctx;
    const struct store_rows *r = store_result_step(j->res, 0);
    if (j->status != 0) {
        identity__respond_store_err(e->req, j->status);
    } else if (r == NULL || r->nrows == 0) {
        identity__eu_unauthorized(e->req, "unknown app key");
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
        kit_work(j, WORKPOOL_LOW, IDENTITY_HASH_PER_IP, identity__eu_hash_work, register_hashed);
    }
}

static void register_start(struct kit_job *j)
{
    struct eu *e = j->ctx;
    struct http_req *req = j->req;
    e->body = request_body_json(req);
    if (e->body == NULL || !identity__eu_app_key(req, e->app_key))
        return;
    struct account_in in;
    if (!identity__eu_account_body(j, &identity__eu_register_table, &in))
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
    store_op_add(op, &SQL_APPS_BY_KEY);
    store_bind_text(op, e->app_key);
    kit_store(j, op, KIT_READ, register_app);
}

void identity_auth_register(struct http_req *req, void *ud)
{
    struct kit_job *j = identity__eu_job(req, ud);
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
    identity__eu_respond_tokens(e, 200, store_result_step(j->res, -1));
}

static void login_checked(struct kit_job *j)
{
    struct eu *e = j->ctx;
    if (e->verify != 0) { /* the guard's token stays taken */
        identity__eu_unauthorized(e->req, "wrong username or password");
        return;
    }
    identity__eu_guard_refund(e);
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
        store_op_add(op, &SQL_USERS_REHASH);
        store_bind_text(op, e->app_id);
        store_bind_text(op, e->user_id);
        store_bind_text(op, e->hash);
        store_bind_text(op, e->new_hash);
    }
    submit_with_user(e, op, true, now, NULL, login_done);
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
    identity__eu_account(e, account);
    if (!identity__login_allowed(e->id, e->req, account))
        return;
    identity__eu_guard_held(e);
    if (!kit_work(j, WORKPOOL_HIGH, IDENTITY_HASH_PER_IP, identity__eu_verify_work,
                  login_checked)) /* unknown users: same time */
        identity__eu_guard_refund(e);
}

static void login_start(struct kit_job *j)
{
    struct eu *e = j->ctx;
    struct http_req *req = j->req;
    e->body = request_body_json(req);
    if (e->body == NULL || !identity__eu_app_key(req, e->app_key))
        return;
    struct account_in in;
    if (!identity__eu_account_body(j, &identity__eu_login_table, &in))
        return;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_USERS_LOGIN_LOOKUP);
    store_bind_text(op, e->app_key);
    store_bind_text(op, e->user_id);
    kit_store(j, op, KIT_READ, login_found);
}

void identity_auth_login(struct http_req *req, void *ud)
{
    struct kit_job *j = identity__eu_job(req, ud);
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
    identity__eu_unauthorized(e->req, "invalid, expired or revoked refresh token");
}

static void refresh_done(struct kit_job *j)
{
    struct eu *e = j->ctx;
    if (j->status == ERR_NOTFOUND) {
        /* not live: if it was rotated already, this is a reuse */
        struct store_op *op = store_op_new();
        store_op_add(op, &SQL_REFRESH_TOKENS_REUSE);
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
    identity__eu_respond_tokens(e, 200, store_result_step(j->res, -1));
}

static void refresh_start(struct kit_job *j)
{
    struct eu *e = j->ctx;
    struct http_req *req = j->req;
    struct identity *id = e->id;
    struct token_in in;
    if ((e->body = kit_body(req, &identity__eu_refresh_table, &in)) == NULL)
        return;
    const char *t = in.refresh_token;
    char old[TOKEN_HASH_HEX + 1], hash[TOKEN_HASH_HEX + 1], rid[33];
    if (!token_is_wellformed(t)) {
        identity__eu_unauthorized(req, "invalid, expired or revoked refresh token");
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
    store_op_add(op, &SQL_REFRESH_TOKENS_ROTATE);
    store_bind_text(op, old);
    store_bind_int(op, now);
    store_op_require_row(op);
    store_op_add(op, &SQL_REFRESH_TOKENS_SUCCESSOR);
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
    struct kit_job *j = identity__eu_job(req, ud);
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
    if (len > 0 && (e->body = kit_body(req, &identity__eu_logout_table, &in)) == NULL)
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
        store_op_add(op, &SQL_REFRESH_TOKENS_FAMILY_OF); /* step 0: that token's session, if any */
        store_bind_text(op, e->app_id);
        store_bind_text(op, e->user_id);
        store_bind_text(op, h);
        store_op_add(op, &SQL_REFRESH_TOKENS_REVOKE_FAMILY);
        store_bind_text(op, e->app_id);
        store_bind_text(op, e->user_id);
        store_bind_text(op, e->sid);
        store_bind_int(op, now);
        if (h[0]) { /* and the named token's family, when it is another one */
            store_op_add(op, &SQL_REFRESH_TOKENS_REVOKE_FAMILY_BY_TOKEN);
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
    struct kit_job *j = identity__eu_job(req, ud);
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
        identity__eu_respond_tokens(e, 200, r);
        return;
    }
    cJSON *o = identity__user_json(r, 0, e->req);
    identity__respond_cjson(e->req, 200, o);
    cJSON_Delete(o);
}

static void me_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_USERS_GET);
    store_bind_text(op, p->app_id);
    store_bind_text(op, p->user_id);
    kit_store(identity__eu_job(req, ud), op, KIT_READ, me_done);
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

/* On the writer thread, after the commit: the peers' conversation.updated leave in commit
 * order with chat's events (docs/chat.md, "Order"). */
static void me_committed(struct kit_job *j)
{
    struct eu *e = j->ctx;
    e->id->profile.done(j->res, 1, e->app_id, e->user_id, e->id->profile.ud);
}

static void me_write(struct kit_job *j)
{
    struct eu *e = j->ctx;
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_USERS_ME_UPDATE);
    store_bind_text(op, e->app_id);
    store_bind_text(op, e->user_id);
    store_bind_text(op, e->f.name);
    store_bind_text(op, e->f.avatar);
    store_bind_text(op, e->f.contacts);
    store_bind_text(op, e->f.metadata);
    store_bind_text(op, e->new_hash);
    store_bind_int(op, now);
    store_op_require_row(op);
    /* a profile shown elsewhere changed: the hook's statements commit with it (step 1 on) */
    e->profile_hook = identity__profile_changes(e->id, &e->f);
    if (e->profile_hook)
        e->id->profile.add(op, e->app_id, e->user_id, e->id->profile.ud);
    if (e->new_hash)
        identity__refresh_revoke_add(op, e->app_id, e->user_id, now);
    submit_with_user(e, op, e->new_hash != NULL, now, e->profile_hook ? me_committed : NULL,
                     me_patched);
}

static void me_password_checked(struct kit_job *j)
{
    struct eu *e = j->ctx;
    if (e->verify == ERR_BACKEND) { /* the right password; the new one could not be hashed */
        identity__eu_guard_refund(e);
        http_respond_err(e->req, ERR_BACKEND, "cannot hash the password", NULL);
        return;
    }
    if (e->verify != 0) { /* the guard's token stays taken */
        http_respond_error(e->req, 403, "forbidden", "current_password is wrong",
                           "current_password");
        return;
    }
    identity__eu_guard_refund(e);
    me_write(j); /* e->new_hash holds the new password's hash (identity__eu_verify_work) */
}

static void me_hash_found(struct kit_job *j)
{
    struct eu *e = j->ctx;
    if (j->status != 0) {
        identity__eu_guard_refund(e);
        identity__respond_store_err(e->req, j->status);
        return;
    }
    const char *h = store_rows_text(store_result_step(j->res, 0), 0, 0);
    if (h == NULL) {
        identity__eu_guard_refund(e);
        http_respond_error(e->req, 403, "forbidden", "this user has no password to change",
                           "current_password");
        return;
    }
    e->hash = xstrdup(h);
    if (!kit_work(j, WORKPOOL_HIGH, IDENTITY_HASH_PER_IP, identity__eu_verify_work,
                  me_password_checked))
        identity__eu_guard_refund(e);
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
        identity__eu_invalid(req, "", "must be a JSON object");
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
        if ((e->new_password = identity__eu_password(j, e->body, "password", true)) == NULL ||
            (e->password = identity__eu_password(j, e->body, "current_password", false)) == NULL)
            return;
    } else if (cJSON_GetObjectItemCaseSensitive(e->body, "current_password")) {
        identity__eu_invalid(req, "current_password", "only with password");
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
        identity__eu_account(e, account);
        if (!identity__login_allowed(id, req, account)) /* takes a token: see login_found */
            return;
        identity__eu_guard_held(e);
        struct store_op *op = store_op_new();
        store_op_add(op, &SQL_USERS_HASH);
        store_bind_text(op, e->app_id);
        store_bind_text(op, e->user_id);
        if (!kit_store(j, op, KIT_READ, me_hash_found))
            identity__eu_guard_refund(e); /* refused: nothing was checked */
        return;
    }
    me_write(j);
}

static void me_patch_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct kit_job *j = identity__eu_job(req, ud);
    struct eu *e = j->ctx;
    snprintf(e->app_id, sizeof(e->app_id), "%s", p->app_id);
    snprintf(e->user_id, sizeof(e->user_id), "%s", p->user_id);
    kit_run(j, me_patch_start);
}

void identity_auth_me_patch(struct http_req *req, void *ud)
{
    identity_user_auth(ud, req, me_patch_authed, ud);
}
