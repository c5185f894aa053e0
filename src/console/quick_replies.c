/*
 * /admin/apps/{id}/quick-replies: an app's shared quick replies (docs/admin.md,
 * docs/service.md), which every end user of the app sees after their own and cannot change.
 * All four need quick_replies:manage on the app (another app, or one without the right, is a
 * 404); each write is audited in its transaction.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/quick_reply.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/rand.h"
#include "kit/paging.h"
#include "net/http.h"
#include "router/router.h"
#include "store/sql.h"
#include "store/store.h"

#define PERM "quick_replies:manage"

/* The path's app {id} if the caller may manage its quick replies; NULL after answering 404. */
static const char *app_in_scope(struct http_req *req, const struct console_op *who)
{
    const char *id = http_req_param(req, "id");
    if (id == NULL || !kit_name_is_valid(id, 64) || !console__can(who, PERM, id)) {
        http_respond_err(req, ERR_NOTFOUND, "no such app", NULL);
        return NULL;
    }
    return id;
}

/* The path's {reply_id}; NULL after answering 404. */
static const char *reply_id(struct http_req *req)
{
    const char *id = http_req_param(req, "reply_id");
    if (id == NULL || !kit_name_is_valid(id, 64)) {
        http_respond_err(req, ERR_NOTFOUND, "no such quick reply", NULL);
        return NULL;
    }
    return id;
}

/* ---- GET */

static void finish_list(struct kit_job *j)
{
    if (j->status != 0) {
        console__respond_store_err(j->req, j->status, "quick reply");
        return;
    }
    const struct store_rows *app = store_result_step(j->res, 0);
    if (app == NULL || app->nrows == 0) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such app", NULL);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 1);
    const struct cctx *c = console__ctx(j);
    int total = r != NULL ? r->nrows : 0, from, to;
    kit_page_slice(total, c->n1, c->n2, &from, &to);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = kit_page_envelope(o, total, c->n1, c->n2);
    for (int i = from; i < to; i++)
        cJSON_AddItemToArray(arr, console_row_json(r, i, "shared", NULL));
    console__respond(j->req, 200, o);
    cJSON_Delete(o);
}

static void qr_list(struct http_req *req, const struct console_op *who, void *ud)
{
    const char *app = app_in_scope(req, who);
    int64_t page, size;
    if (app == NULL || !console__paging(req, &page, &size))
        return;
    struct kit_job *j = console__job_new(req, ud, who);
    console__ctx(j)->n1 = page;
    console__ctx(j)->n2 = size;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_APPS_GET);
    store_bind_text(op, app);
    store_op_add(op, &SQL_QUICK_REPLIES_LIST);
    store_bind_text(op, app);
    store_bind_text(op, NULL); /* no user: the shared ones */
    kit_store(j, op, KIT_READ, finish_list);
}

/* ---- POST */

static void finish_reply(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    if (j->status == ERR_NOTFOUND && c->n1 == 201) { /* the insert's guard */
        http_respond_error(j->req, 409, "conflict", "an app has at most 200 shared quick replies",
                           NULL);
        return;
    }
    if (j->status != 0) {
        console__respond_store_err(j->req, j->status, "quick reply");
        return;
    }
    if (c->n1 == 204) {
        http_respond(j->req, 204, NULL, "", 0);
        return;
    }
    cJSON *o = console_row_json(store_result_step(j->res, -1), 0, "shared", NULL);
    console__respond(j->req, (int)c->n1, o);
    cJSON_Delete(o);
}

static void create_write(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    const struct store_rows *app = j->status == 0 ? store_result_step(j->res, 0) : NULL;
    if (j->status != 0) {
        console__respond_store_err(j->req, j->status, "app");
        return;
    }
    if (app == NULL || app->nrows == 0) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such app", NULL);
        return;
    }
    struct quick_reply_in in;
    struct kit_error err;
    if (kit_decode(c->body, &quick_reply_create_table, &in, NULL, &err) !=
        0) { /* decoded before: cannot */
        console__invalid(j->req, err.field, err.message);
        return;
    }
    char id[QUICK_REPLY_ID_LEN + 1];
    id[0] = 'q';
    rand_hex(id + 1, (QUICK_REPLY_ID_LEN - 1) / 2);
    int64_t now = clock_wall_ms();
    c->n1 = 201;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_QUICK_REPLIES_INSERT);
    store_bind_text(op, id);
    store_bind_text(op, c->text);
    store_bind_text(op, NULL);
    store_bind_text(op, in.title);
    store_bind_text(op, in.content);
    store_bind_int(op, in.position == KIT_INT_ABSENT ? -1 : in.position);
    store_bind_int(op, now);
    store_bind_int(op, QUICK_REPLIES_MAX);
    store_op_require_row(op);
    console__audit(op, &c->op, c->text, "quick_reply.create", id, c->body, now);
    store_op_add(op, &SQL_QUICK_REPLIES_GET);
    store_bind_text(op, c->text);
    store_bind_text(op, id);
    kit_store(j, op, KIT_WRITE, finish_reply);
}

static void qr_create(struct http_req *req, const struct console_op *who, void *ud)
{
    const char *app = app_in_scope(req, who);
    if (app == NULL)
        return;
    struct quick_reply_in in;
    cJSON *body = kit_body(req, &quick_reply_create_table, &in);
    if (body == NULL)
        return;
    struct kit_job *j = console__job_new(req, ud, who);
    struct cctx *c = console__ctx(j);
    c->body = body;
    snprintf(c->text, sizeof(c->text), "%s", app);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_APPS_GET);
    store_bind_text(op, app);
    kit_store(j, op, KIT_READ, create_write);
}

/* ---- PATCH and DELETE */

static void qr_patch(struct http_req *req, const struct console_op *who, void *ud)
{
    const char *app = app_in_scope(req, who);
    if (app == NULL)
        return;
    const char *id = reply_id(req);
    if (id == NULL)
        return;
    struct quick_reply_in in;
    cJSON *body = kit_body(req, &quick_reply_patch_table, &in);
    if (body == NULL)
        return;
    struct kit_job *j = console__job_new(req, ud, who);
    struct cctx *c = console__ctx(j);
    c->body = body;
    c->n1 = 200;
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_QUICK_REPLIES_UPDATE);
    store_bind_text(op, app);
    store_bind_text(op, id);
    store_bind_text(op, NULL);
    store_bind_text(op, in.title);
    store_bind_text(op, in.content);
    store_bind_int(op, in.position == KIT_INT_ABSENT ? -1 : in.position);
    store_bind_int(op, now);
    store_op_require_row(op);
    console__audit(op, who, app, "quick_reply.update", id, body, now);
    store_op_add(op, &SQL_QUICK_REPLIES_GET);
    store_bind_text(op, app);
    store_bind_text(op, id);
    kit_store(j, op, KIT_WRITE, finish_reply);
}

static void qr_delete(struct http_req *req, const struct console_op *who, void *ud)
{
    const char *app = app_in_scope(req, who);
    if (app == NULL)
        return;
    const char *id = reply_id(req);
    if (id == NULL)
        return;
    struct kit_job *j = console__job_new(req, ud, who);
    console__ctx(j)->n1 = 204;
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_QUICK_REPLIES_DELETE);
    store_bind_text(op, app);
    store_bind_text(op, id);
    store_bind_text(op, NULL);
    store_op_require_row(op);
    console__audit(op, who, app, "quick_reply.delete", id, NULL, now);
    kit_store(j, op, KIT_WRITE, finish_reply);
}

/* ---- routes: app-scoped, the handler checks the app */

#define SCOPED(fn)                                                                                 \
    static void fn##_h(struct http_req *req, void *ud)                                             \
    {                                                                                              \
        console__auth(ud, req, PERM, fn, ud);                                                      \
    }

SCOPED(qr_list)
SCOPED(qr_create)
SCOPED(qr_patch)
SCOPED(qr_delete)

void console__quick_replies_register(struct router *r, struct identity *id)
{
    router_add(r, HTTP_M_GET, "/api/v1/admin/apps/{id}/quick-replies", qr_list_h, id);
    router_add(r, HTTP_M_POST, "/api/v1/admin/apps/{id}/quick-replies", qr_create_h, id);
    router_add(r, HTTP_M_PATCH, "/api/v1/admin/apps/{id}/quick-replies/{reply_id}", qr_patch_h, id);
    router_add(r, HTTP_M_DELETE, "/api/v1/admin/apps/{id}/quick-replies/{reply_id}", qr_delete_h,
               id);
}
