/*
 * The /api/v1/users handlers (see users.h). Each one authenticates the app,
 * validates on the loop thread, submits one store op, and answers from the
 * op's completion, which job.c brings back to the loop thread.
 */
#include "users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "core/clock.h"
#include "core/err.h"
#include "identity/app_auth.h"
#include "identity/identity.h"
#include "auth/password.h"
#include "core/workpool.h"
#include "core/xalloc.h"
#include "identity/internal.h"
#include "identity/revoke.h"
#include "identity/user_auth.h"
#include "net/http.h"
#include "router/request.h"
#include "store/sql.h"
#include "store/store.h"
#include "kit/paging.h"

static void bind_fields(struct store_op *op, const char *app_id, const char *id,
                        const struct user_fields *f, int64_t now)
{
    store_bind_text(op, app_id);
    store_bind_text(op, id);
    store_bind_text(op, f->name);
    store_bind_text(op, f->avatar);
    store_bind_text(op, f->kind);
    store_bind_text(op, f->contacts);
    store_bind_text(op, f->metadata);
    if (f->disabled < 0)
        store_bind_null(op);
    else
        store_bind_int(op, f->disabled);
    store_bind_int(op, now);
}

/* The path's {id}, or NULL after answering 404 (an invalid id names no user). */
static const char *path_id(struct http_req *req)
{
    const char *id = http_req_param(req, "id");
    if (id == NULL || !kit_id_is_valid(id)) {
        http_respond_err(req, ERR_NOTFOUND, "no such user", NULL);
        return NULL;
    }
    return id;
}

/* Finish: answer with the user in the last step (status ok), 404 when none. */
static void finish_user(struct kit_job *j)
{
    struct idctx *c = identity__ctx(j);
    if (j->status != 0) {
        identity__respond_store_err(j->req, j->status);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, -1);
    if (r == NULL || r->nrows == 0) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such user", NULL);
        return;
    }
    cJSON *o = identity__user_json(r, 0, j->req);
    identity__respond_cjson(j->req, (int)c->n1, o);
    cJSON_Delete(o);
}

/* ---- POST /users */

/*
 * A create or patch in flight: validated fields, and the password (if any) hashed on the
 * worker pool before the one store op is built.
 */
struct user_save {
    struct idctx base; /* first: the continuations read it with identity__ctx */
    char uid[JWT_SUB_MAX + 1];
    bool create;
    bool profile; /* the write carries the profile hook's statements */
    cJSON *body;  /* owns what f borrows */
    struct user_fields f;
    const char *password; /* owned by the job, wiped when it ends */
    char *hash;
    struct identity_user_audit audit; /* add NULL: none */
};

static void save_free(void *ctx)
{
    struct user_save *sv = ctx;
    identity__ctx_release(&sv->base);
    identity__user_fields_release(&sv->f);
    cJSON_Delete(sv->body);
    free(sv->hash);
    if (sv->audit.free)
        sv->audit.free(sv->audit.ud);
    free(sv);
}

static void finish_patch(struct kit_job *j);
static void patch_committed(struct kit_job *j);

/* The one store op of the create or patch (after the hash, if a password was given). */
static void save_submit(struct kit_job *j)
{
    struct user_save *sv = j->ctx;
    if (j->status != 0) {
        http_respond_err(j->req, ERR_BACKEND, "cannot hash the password", NULL);
        return;
    }
    const char *app_id = sv->base.app_id;
    sv->base.n1 = sv->create ? 201 : 200;
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, sv->create ? &SQL_USERS_INSERT : &SQL_USERS_UPDATE);
    bind_fields(op, app_id, sv->uid, &sv->f, now);
    if (!sv->create)
        store_op_require_row(op);
    /* a profile shown elsewhere changed: the hook's statements commit with it (step 1 on) */
    sv->profile = !sv->create && identity__profile_changes(sv->base.id, &sv->f);
    if (sv->profile)
        sv->base.id->profile.add(op, app_id, sv->uid, sv->base.id->profile.ud);
    if (sv->hash) {
        store_op_add(op, &SQL_USERS_SET_HASH);
        store_bind_text(op, app_id);
        store_bind_text(op, sv->uid);
        store_bind_text(op, sv->hash);
    }
    /* disabled, or a new password set by the app: the user's tokens go once this commits
       (refresh tokens in this op, access tokens and sockets in finish_patch) */
    if (!sv->create && (sv->f.disabled == 1 || sv->hash)) {
        identity__refresh_revoke_add(op, app_id, sv->uid, now);
        sv->base.text = xstrdup(sv->uid);
    }
    if (sv->audit.add)
        sv->audit.add(op, app_id, sv->uid, sv->audit.ud);
    store_op_add(op, &SQL_USERS_GET);
    store_bind_text(op, app_id);
    store_bind_text(op, sv->uid);
    if (sv->profile)
        kit_store_committed(j, op, patch_committed, finish_patch);
    else
        kit_store(j, op, KIT_WRITE, sv->create ? finish_user : finish_patch);
}

/* A password the app sets: bytes, because the hash takes bytes. */
static const struct kit_field password_field = {.kind = KIT_STRING,
                                                .flags = KIT_BYTES,
                                                .min = USER_PASSWORD_MIN,
                                                .max = PASSWORD_MAX_LEN,
                                                .message = "must be a string of 8 to 511 bytes"};

/* Worker thread: the hash of the given password. */
static int save_hash_work(struct kit_job *j)
{
    struct user_save *sv = j->ctx;
    return password_hash(sv->password, strlen(sv->password), &sv->hash);
}

/* POST /users and PATCH /users/{id}: validate, hash a given password off the loop, write. */
static void save_audited(struct http_req *req, const char *app_id, struct identity *id,
                         const char *uid, const struct identity_user_audit *audit)
{
    cJSON *body = request_body_json(req);
    if (body == NULL) {
        if (audit && audit->free)
            audit->free(audit->ud);
        return;
    }
    struct user_save *sv = xcalloc(1, sizeof(*sv));
    if (audit)
        sv->audit = *audit;
    sv->create = uid == NULL;
    sv->body = body;
    struct kit_job *j = identity__job_with(req, id, app_id, &sv->base, save_free);
    const cJSON *pw =
        cJSON_IsObject(body) ? cJSON_GetObjectItemCaseSensitive(body, "password") : NULL;
    if (pw != NULL) {
        struct kit_error perr;
        if (kit_check(pw, &password_field, "password", &perr) != 0) {
            kit_fail_decode(req, &perr);
            kit_job_end(j);
            return;
        }
        sv->password = kit_secret_dup(j, pw->valuestring);
        kit_wipe_member(body, "password"); /* the job holds its own copy */
    }
    struct kit_error err;
    if (identity__user_fields_parse(body, sv->create ? USER_CREATE : USER_PATCH, "", &sv->f,
                                    &err) != 0) {
        kit_fail_decode(req, &err);
        kit_job_end(j);
        return;
    }
    snprintf(sv->uid, sizeof(sv->uid), "%s", uid ? uid : sv->f.id);
    if (sv->password == NULL) {
        kit_run(j, save_submit);
        return;
    }
    kit_work(j, WORKPOOL_HIGH, 0, save_hash_work, save_submit);
}

static void save(struct http_req *req, const char *app_id, struct identity *id, const char *uid)
{
    save_audited(req, app_id, id, uid, NULL);
}

void identity_users_patch_as(struct http_req *req, struct identity *id, const char *app_id,
                             const char *uid, const struct identity_user_audit *audit)
{
    if (uid == NULL || !kit_id_is_valid(uid)) {
        http_respond_err(req, ERR_NOTFOUND, "no such user", NULL);
        if (audit && audit->free)
            audit->free(audit->ud);
        return;
    }
    save_audited(req, app_id, id, uid, audit);
}

static void create_authed(struct http_req *req, const char *app_id, void *ud)
{
    save(req, app_id, ud, NULL);
}

void identity_users_create(struct http_req *req, void *ud)
{
    identity_app_auth(ud, req, create_authed, ud);
}

/* ---- GET /users */

static void finish_list(struct kit_job *j)
{
    struct idctx *c = identity__ctx(j);
    if (j->status != 0) {
        identity__respond_store_err(j->req, j->status);
        return;
    }
    const struct store_rows *cnt = store_result_step(j->res, 0);
    const struct store_rows *r = store_result_step(j->res, 1);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = kit_page_envelope(o, store_rows_int(cnt, 0, 0), c->n1, c->n2);
    for (int i = 0; r && i < r->nrows; i++)
        cJSON_AddItemToArray(arr, identity__user_json(r, i, j->req));
    identity__respond_cjson(j->req, 200, o);
    cJSON_Delete(o);
}

/* A positive integer query parameter; def when absent or empty; -1 when malformed. */

static void list_authed(struct http_req *req, const char *app_id, void *ud)
{
    int64_t page, size;
    if (!kit_paging(req, &page, &size))
        return;
    struct kit_job *j = identity__job_new(req, ud, app_id);
    struct idctx *c = identity__ctx(j);
    c->n1 = page;
    c->n2 = size;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_USERS_COUNT);
    store_bind_text(op, app_id);
    store_op_add(op, &SQL_USERS_PAGE);
    store_bind_text(op, app_id);
    store_bind_int(op, size);
    store_bind_int(op, (page - 1) * size);
    kit_store(j, op, KIT_READ, finish_list);
}

void identity_users_list(struct http_req *req, void *ud)
{
    identity_app_auth(ud, req, list_authed, ud);
}

/* ---- GET /users/{id} */

static void get_authed(struct http_req *req, const char *app_id, void *ud)
{
    const char *id = path_id(req);
    if (id == NULL)
        return;
    struct kit_job *j = identity__job_new(req, ud, app_id);
    struct idctx *c = identity__ctx(j);
    c->n1 = 200;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_USERS_GET);
    store_bind_text(op, app_id);
    store_bind_text(op, id);
    kit_store(j, op, KIT_READ, finish_user);
}

void identity_users_get(struct http_req *req, void *ud)
{
    identity_app_auth(ud, req, get_authed, ud);
}

/* ---- PATCH /users/{id} */

/* A user disabled or re-keyed: every token and socket of theirs goes (sockets: close 4001). */
static void finish_patch(struct kit_job *j)
{
    struct idctx *c = identity__ctx(j);
    if (j->status == 0 && c->text != NULL)
        revoke_subject(c->id->revoke, REVOKE_USER, c->app_id, c->text);
    finish_user(j);
}

/* On the writer thread, after the commit: the peers' conversation.updated leave in commit
 * order with chat's events (docs/chat.md, "Order"). */
static void patch_committed(struct kit_job *j)
{
    struct user_save *sv = j->ctx;
    struct idctx *c = identity__ctx(j);
    c->id->profile.done(j->res, 1, c->app_id, sv->uid, c->id->profile.ud);
}

static void patch_authed(struct http_req *req, const char *app_id, void *ud)
{
    const char *id = path_id(req);
    if (id != NULL)
        save(req, app_id, ud, id);
}

void identity_users_patch(struct http_req *req, void *ud)
{
    identity_app_auth(ud, req, patch_authed, ud);
}

/* ---- DELETE /users/{id} */

static void finish_delete(struct kit_job *j)
{
    struct idctx *c = identity__ctx(j);
    if (j->status != 0) {
        identity__respond_store_err(j->req, j->status);
        return;
    }
    revoke_subject(c->id->revoke, REVOKE_USER, c->app_id, c->text);
    http_respond(j->req, 204, NULL, "", 0);
}

static void delete_authed(struct http_req *req, const char *app_id, void *ud)
{
    const char *id = path_id(req);
    if (id == NULL)
        return;
    struct kit_job *j = identity__job_new(req, ud, app_id);
    struct idctx *c = identity__ctx(j);
    c->text = xstrdup(id);
    struct store_op *op = store_op_new();
    /* before the memberships go: the user's direct conversations stay with their peers as
     * history, and a new user of this id starts new ones (docs/chat.md, "Deleted users") */
    store_op_add(op, &SQL_CONVERSATIONS_DIRECT_RETIRE);
    store_bind_text(op, app_id);
    store_bind_text(op, id);
    store_op_add(op, &SQL_USERS_DELETE);
    store_bind_text(op, app_id);
    store_bind_text(op, id);
    store_op_require_row(op);
    /* or a user re-created with this id would inherit the old refresh tokens */
    identity__refresh_revoke_add(op, app_id, id, clock_wall_ms());
    kit_store(j, op, KIT_WRITE, finish_delete);
}

void identity_users_delete(struct http_req *req, void *ud)
{
    identity_app_auth(ud, req, delete_authed, ud);
}

/* ---- POST /users/batch */

static void finish_batch(struct kit_job *j)
{
    struct idctx *c = identity__ctx(j);
    if (j->status != 0) {
        identity__respond_store_err(j->req, j->status);
        return;
    }
    /* users the batch disabled: their access tokens and sockets go (refresh tokens did) */
    cJSON *off = c->text ? cJSON_Parse(c->text) : NULL;
    const cJSON *u;
    cJSON_ArrayForEach(u, off)
    {
        if (cJSON_IsString(u))
            revoke_subject(c->id->revoke, REVOKE_USER, c->app_id, u->valuestring);
    }
    cJSON_Delete(off);
    int64_t existing = store_rows_int(store_result_step(j->res, 0), 0, 0);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "count", (double)c->n1);
    cJSON_AddNumberToObject(o, "created", (double)(c->n1 - existing));
    cJSON_AddNumberToObject(o, "updated", (double)existing);
    identity__respond_cjson(j->req, 200, o);
    cJSON_Delete(o);
}

/* Validates every user of arr into fs (n entries); answers 422 and returns -1 on the first error.
 */
static int batch_parse(struct http_req *req, const cJSON *arr, struct user_fields *fs, int n)
{
    char path[32], field[200];
    struct kit_error err;
    int i = 0;
    const cJSON *u;
    cJSON_ArrayForEach(u, arr)
    {
        snprintf(path, sizeof(path), "users[%d]", i);
        if (identity__user_fields_parse(u, USER_CREATE, path, &fs[i], &err) != 0) {
            kit_fail_decode(req, &err);
            return -1;
        }
        for (int k = 0; k < i; k++) {
            if (strcmp(fs[k].id, fs[i].id) == 0) {
                snprintf(field, sizeof(field), "users[%d].id", i);
                http_respond_error(req, 422, "validation_failed", "appears twice in the batch",
                                   field);
                return -1;
            }
        }
        i++;
    }
    (void)n;
    return 0;
}

/* The /users/batch envelope (the kit decoder's target). */
struct batch_in {
    struct kit_array users;
};
#define BATCH_USERS                                                                                \
    {                                                                                              \
        .name = "users", .kind = KIT_ARRAY, .flags = KIT_REQUIRED, .min = 1,                       \
        .max = USER_BATCH_MAX, .at = KIT_AT(struct batch_in, users),                               \
        .message = "must be an array of 1 to 1000 users"                                           \
    }
static const struct kit_field batch_users = BATCH_USERS;
static const struct kit_field batch_fields[] = {BATCH_USERS, {.name = NULL}};
static const struct kit_table batch_table = {.fields = batch_fields};

static void batch_authed(struct http_req *req, const char *app_id, void *ud)
{
    cJSON *body = request_body_json(req);
    if (body == NULL)
        return;
    /* {"users": [...]} (no other member) or the array itself; each user is decoded by
     * batch_parse with its path */
    struct batch_in in;
    struct kit_error err;
    int rc = cJSON_IsObject(body) ? kit_decode(body, &batch_table, &in, NULL, &err)
                                  : kit_check(body, &batch_users, "users", &err);
    if (rc != 0) {
        kit_fail_decode(req, &err);
        cJSON_Delete(body);
        return;
    }
    const cJSON *arr = cJSON_IsObject(body) ? in.users.json : body;
    int n = cJSON_GetArraySize(arr);
    struct user_fields *fs = xcalloc((size_t)n, sizeof(*fs));
    if (batch_parse(req, arr, fs, n) == 0) {
        cJSON *ids = cJSON_CreateArray(), *off = cJSON_CreateArray();
        for (int i = 0; i < n; i++) {
            cJSON_AddItemToArray(ids, cJSON_CreateString(fs[i].id));
            if (fs[i].disabled == 1)
                cJSON_AddItemToArray(off, cJSON_CreateString(fs[i].id));
        }
        char *ids_text = cJSON_PrintUnformatted(ids);
        cJSON_Delete(ids);
        struct kit_job *j = identity__job_new(req, ud, app_id);
        struct idctx *c = identity__ctx(j);
        c->n1 = n;
        int64_t now = clock_wall_ms();
        struct store_op *op = store_op_new();
        store_op_add(op, &SQL_USERS_COUNT_EXISTING);
        store_bind_text(op, app_id);
        store_bind_text(op, ids_text);
        for (int i = 0; i < n; i++) {
            store_op_add(op, &SQL_USERS_UPSERT);
            bind_fields(op, app_id, fs[i].id, &fs[i], now);
        }
        if (cJSON_GetArraySize(off) > 0) {
            c->text = cJSON_PrintUnformatted(off);
            identity__refresh_revoke_many_add(op, app_id, c->text, now);
        }
        cJSON_Delete(off);
        free(ids_text);
        kit_store(j, op, KIT_WRITE, finish_batch);
    }
    for (int i = 0; i < n; i++)
        identity__user_fields_release(&fs[i]);
    free(fs);
    cJSON_Delete(body);
}

void identity_users_batch(struct http_req *req, void *ud)
{
    identity_app_auth(ud, req, batch_authed, ud);
}

/* ---- POST /users/{id}/tokens */

static void finish_token(struct kit_job *j)
{
    struct idctx *c = identity__ctx(j);
    if (j->status != 0) {
        identity__respond_store_err(j->req, j->status);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 0);
    if (r == NULL || r->nrows == 0) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such user", NULL);
        return;
    }
    if (store_rows_int(r, 0, 0) != 0) {
        http_respond_err(j->req, ERR_DENIED, "the user is disabled", NULL);
        return;
    }
    char *tok = NULL;
    if (identity_user_token_mint(c->id, c->app_id, c->text, &tok) != 0) {
        http_respond_err(j->req, ERR_BACKEND, "cannot sign the token", NULL);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "access_token", tok);
    cJSON_AddStringToObject(o, "token_type", "Bearer");
    cJSON_AddNumberToObject(o, "expires_in", (double)c->id->access_ttl_s);
    identity__respond_cjson(j->req, 200, o);
    cJSON_Delete(o);
    free(tok);
}

/* The token's body, when there is one: an object without members (none is defined yet, so
 * one sent by mistake, such as a lifetime, is refused rather than silently not applied). */
static const struct kit_field token_fields[] = {{.name = NULL}};
static const struct kit_table token_table = {.fields = token_fields};

static void token_authed(struct http_req *req, const char *app_id, void *ud)
{
    const char *id = path_id(req);
    if (id == NULL)
        return;
    size_t len = 0;
    http_req_body(req, &len);
    if (len > 0) {
        char none;
        cJSON *body = kit_body(req, &token_table, &none);
        if (body == NULL)
            return;
        cJSON_Delete(body);
    }
    struct kit_job *j = identity__job_new(req, ud, app_id);
    struct idctx *c = identity__ctx(j);
    c->text = xstrdup(id);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_USERS_EXISTS);
    store_bind_text(op, app_id);
    store_bind_text(op, id);
    kit_store(j, op, KIT_READ, finish_token);
}

void identity_users_token(struct http_req *req, void *ud)
{
    identity_app_auth(ud, req, token_authed, ud);
}

void identity__user_upsert_add(struct store_op *op, const char *app_id, const struct user_fields *f,
                               int64_t now)
{
    store_op_add(op, &SQL_USERS_UPSERT);
    bind_fields(op, app_id, f->id, f, now);
}

void identity__user_insert_add(struct store_op *op, const char *app_id, const struct user_fields *f,
                               int64_t now)
{
    store_op_add(op, &SQL_USERS_INSERT);
    bind_fields(op, app_id, f->id, f, now);
}
