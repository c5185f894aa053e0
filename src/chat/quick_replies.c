/*
 * Quick replies for end users (issue 10, docs/service.md): GET /quick-replies lists the user's
 * own replies then the app's shared ones (each by position); POST adds one of the user's own
 * (at most QUICK_REPLIES_MAX); PATCH and DELETE /quick-replies/{id} change or remove one of the
 * user's own. A shared reply is read-only here (403: operators write them, console/); another
 * user's reply or another app's is a 404.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "chat/internal.h"
#include "chat/quick_reply.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/rand.h"
#include "identity/identity.h"
#include "kit/paging.h"
#include "identity/user_auth.h"
#include "net/http.h"
#include "router/request.h"
#include "store/sql.h"
#include "store/store.h"

/* SQL_QUICK_REPLIES_COLS */
enum { QR_ID, QR_TITLE, QR_CONTENT, QR_POSITION, QR_SHARED, QR_CREATED, QR_UPDATED };

#define QR_FIELDS(content_flags)                                                                   \
    {.name = "title",                                                                              \
     .kind = KIT_STRING,                                                                           \
     .max = QUICK_REPLY_TITLE_MAX,                                                                 \
     .at = KIT_AT(struct quick_reply_in, title),                                                   \
     .message = "must be a string of at most 64 characters"},                                      \
        {.name = "content",                                                                        \
         .kind = KIT_STRING,                                                                       \
         .flags = content_flags,                                                                   \
         .min = 1,                                                                                 \
         .max = QUICK_REPLY_CONTENT_MAX,                                                           \
         .at = KIT_AT(struct quick_reply_in, content),                                             \
         .message = "must be a string of 1 to 1000 characters"},                                   \
        {.name = "position",                                                                       \
         .kind = KIT_INT,                                                                          \
         .min = 0,                                                                                 \
         .max = QUICK_REPLY_POSITION_MAX,                                                          \
         .at = KIT_AT(struct quick_reply_in, position),                                            \
         .message = "must be an integer from 0 to 1000000"},                                       \
    {                                                                                              \
        .name = NULL                                                                               \
    }

static const struct kit_field create_fields[] = {QR_FIELDS(KIT_REQUIRED)};
const struct kit_table quick_reply_create_table = {.fields = create_fields};
static const struct kit_field patch_fields[] = {QR_FIELDS(0)};
const struct kit_table quick_reply_patch_table = {.fields = patch_fields};

static cJSON *qr_json(const struct store_rows *r, int i)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", store_rows_text(r, i, QR_ID));
    cJSON_AddStringToObject(o, "title", store_rows_text(r, i, QR_TITLE));
    cJSON_AddStringToObject(o, "content", store_rows_text(r, i, QR_CONTENT));
    cJSON_AddNumberToObject(o, "position", (double)store_rows_int(r, i, QR_POSITION));
    cJSON_AddBoolToObject(o, "shared", store_rows_int(r, i, QR_SHARED) != 0);
    cJSON_AddNumberToObject(o, "created_at", (double)store_rows_int(r, i, QR_CREATED));
    cJSON_AddNumberToObject(o, "updated_at", (double)store_rows_int(r, i, QR_UPDATED));
    return o;
}

static void respond(struct http_req *req, int status, cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    http_respond_json(req, status, s, strlen(s));
    cJSON_free(s);
    cJSON_Delete(o);
}

/* ---- GET /quick-replies */

static void list_done(struct kit_job *j)
{
    if (j->status != 0) {
        request_fail_store(j->req, j->status, "quick reply", NULL);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 0);
    const struct chctx *c = chat__ctx(j);
    int total = r != NULL ? r->nrows : 0, from, to;
    kit_page_slice(total, c->page, c->page_size, &from, &to);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = kit_page_envelope(o, total, c->page, c->page_size);
    for (int i = from; i < to; i++)
        cJSON_AddItemToArray(arr, qr_json(r, i));
    respond(j->req, 200, o);
}

static void list_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct kit_job *j = chat__job_new(req, ud, p);
    struct chctx *c = chat__ctx(j);
    if (!chat__paging(req, c)) {
        kit_job_end(j);
        return;
    }
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_QUICK_REPLIES_LIST);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->user_id);
    kit_store(j, op, KIT_READ, list_done);
}

void chat_qr_list(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    identity_user_auth(c->id, req, list_authed, c);
}

/* ---- POST /quick-replies */

static void created(struct kit_job *j)
{
    if (j->status == ERR_NOTFOUND) { /* the insert's guard: the user has the most replies */
        http_respond_error(j->req, 409, "conflict", "a user has at most 200 quick replies", NULL);
        return;
    }
    if (j->status != 0) {
        request_fail_store(j->req, j->status, "quick reply", NULL);
        return;
    }
    respond(j->req, 201, qr_json(store_result_step(j->res, 1), 0));
}

static void create_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct quick_reply_in in;
    cJSON *body = kit_body(req, &quick_reply_create_table, &in);
    if (body == NULL)
        return;
    struct kit_job *j = chat__job_new(req, ud, p);
    struct chctx *c = chat__ctx(j);
    c->body = body;
    char id[QUICK_REPLY_ID_LEN + 1];
    id[0] = 'q';
    rand_hex(id + 1, (QUICK_REPLY_ID_LEN - 1) / 2);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_QUICK_REPLIES_INSERT);
    store_bind_text(op, id);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->user_id);
    store_bind_text(op, in.title);
    store_bind_text(op, in.content);
    store_bind_int(op, in.position == KIT_INT_ABSENT ? -1 : in.position);
    store_bind_int(op, clock_wall_ms());
    store_bind_int(op, QUICK_REPLIES_MAX);
    store_op_require_row(op);
    store_op_add(op, &SQL_QUICK_REPLIES_GET);
    store_bind_text(op, c->app_id);
    store_bind_text(op, id);
    kit_store(j, op, KIT_WRITE, created);
}

void chat_qr_create(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    identity_user_auth(c->id, req, create_authed, c);
}

/* ---- PATCH and DELETE /quick-replies/{id} */

/* Step 0 (SQL_QUICK_REPLIES_WHOSE) says whose the reply is; step 1 changed it when it is the
 * user's own. True when it did; else answers 403 (a shared reply) or 404. */
static bool changed_own(struct kit_job *j)
{
    if (j->status != 0) {
        request_fail_store(j->req, j->status, "quick reply", NULL);
        return false;
    }
    const struct store_rows *whose = store_result_step(j->res, 0);
    const char *w = whose != NULL && whose->nrows > 0 ? store_rows_text(whose, 0, 0) : NULL;
    if (w != NULL && strcmp(w, "shared") == 0) {
        http_respond_error(j->req, 403, "forbidden",
                           "a shared quick reply is changed by the app's operators", NULL);
        return false;
    }
    if (w == NULL || strcmp(w, "mine") != 0 || store_result_step(j->res, 1)->changes == 0) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such quick reply", NULL);
        return false;
    }
    return true;
}

static void patched(struct kit_job *j)
{
    if (changed_own(j))
        respond(j->req, 200, qr_json(store_result_step(j->res, 2), 0));
}

static void deleted(struct kit_job *j)
{
    if (changed_own(j))
        http_respond(j->req, 204, NULL, "", 0);
}

/* A job for the asker and an op starting with whose reply {id} (into *id) is. NULL after
 * answering 404. */
static struct kit_job *own_job(struct http_req *req, const struct user_principal *p, void *ud,
                               struct store_op **op, const char **id)
{
    *id = chat__path_id(req, "id", "no such quick reply");
    if (*id == NULL)
        return NULL;
    struct kit_job *j = chat__job_new(req, ud, p);
    const struct chctx *c = chat__ctx(j);
    *op = store_op_new();
    store_op_add(*op, &SQL_QUICK_REPLIES_WHOSE);
    store_bind_text(*op, c->app_id);
    store_bind_text(*op, *id);
    store_bind_text(*op, c->user_id);
    return j;
}

static void patch_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct quick_reply_in in;
    cJSON *body = kit_body(req, &quick_reply_patch_table, &in);
    if (body == NULL)
        return;
    struct store_op *op;
    const char *id;
    struct kit_job *j = own_job(req, p, ud, &op, &id);
    if (j == NULL) {
        cJSON_Delete(body);
        return;
    }
    struct chctx *c = chat__ctx(j);
    c->body = body;
    store_op_add(op, &SQL_QUICK_REPLIES_UPDATE);
    store_bind_text(op, c->app_id);
    store_bind_text(op, id);
    store_bind_text(op, c->user_id);
    store_bind_text(op, in.title);
    store_bind_text(op, in.content);
    store_bind_int(op, in.position == KIT_INT_ABSENT ? -1 : in.position);
    store_bind_int(op, clock_wall_ms());
    store_op_add(op, &SQL_QUICK_REPLIES_GET);
    store_bind_text(op, c->app_id);
    store_bind_text(op, id);
    kit_store(j, op, KIT_WRITE, patched);
}

/* ---- GET /quick-replies/{id}: one of the user's own or of the app's shared ones */

static void got(struct kit_job *j)
{
    if (j->status != 0) {
        request_fail_store(j->req, j->status, "quick reply", NULL);
        return;
    }
    const struct store_rows *whose = store_result_step(j->res, 0);
    const char *w = whose != NULL && whose->nrows > 0 ? store_rows_text(whose, 0, 0) : NULL;
    if (w == NULL || strcmp(w, "other") == 0) { /* another user's is none of the asker's */
        http_respond_err(j->req, ERR_NOTFOUND, "no such quick reply", NULL);
        return;
    }
    respond(j->req, 200, qr_json(store_result_step(j->res, 1), 0));
}

static void get_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct store_op *op;
    const char *id;
    struct kit_job *j = own_job(req, p, ud, &op, &id);
    if (j == NULL)
        return;
    const struct chctx *c = chat__ctx(j);
    store_op_add(op, &SQL_QUICK_REPLIES_GET);
    store_bind_text(op, c->app_id);
    store_bind_text(op, id);
    kit_store(j, op, KIT_READ, got);
}

void chat_qr_get(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    identity_user_auth(c->id, req, get_authed, c);
}

void chat_qr_patch(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    identity_user_auth(c->id, req, patch_authed, c);
}

static void delete_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct store_op *op;
    const char *id;
    struct kit_job *j = own_job(req, p, ud, &op, &id);
    if (j == NULL)
        return;
    const struct chctx *c = chat__ctx(j);
    store_op_add(op, &SQL_QUICK_REPLIES_DELETE);
    store_bind_text(op, c->app_id);
    store_bind_text(op, id);
    store_bind_text(op, c->user_id);
    kit_store(j, op, KIT_WRITE, deleted);
}

void chat_qr_delete(struct http_req *req, void *ud)
{
    struct chat *c = ud;
    identity_user_auth(c->id, req, delete_authed, c);
}
