/*
 * The inbox (docs/notifications.md, "In-app and the inbox"), end-user authentication: the
 * user's in-app deliveries that have been sent, newest first.
 *   GET  /api/v1/inbox?unread=1&page=&page_size=  {"count","results","page","page_size","unread"}
 *   GET  /api/v1/inbox/unread-count               {"unread"}
 *   POST /api/v1/inbox/{delivery_id}/read         {"id","status":"read","read_at"}
 *   POST /api/v1/inbox/read-all                   {"updated"}
 * Another user's delivery is a 404.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "identity/user_auth.h"
#include "kit/job.h"
#include "kit/paging.h"
#include "net/http.h"
#include "notify/engine.h"
#include "notify/events.h"
#include "router/request.h"
#include "router/router.h"
#include "store/sql.h"
#include "store/store.h"

struct ictx {
    char app[JWT_APP_MAX + 1], user[JWT_SUB_MAX + 1];
    int64_t page, size;
};

static struct kit_job *job(struct http_req *req, struct notify_engine *n,
                           const struct user_principal *p)
{
    struct ictx *c = xcalloc(1, sizeof(*c));
    snprintf(c->app, sizeof(c->app), "%s", p->app_id);
    snprintf(c->user, sizeof(c->user), "%s", p->user_id);
    return kit_job_new(req, n->store, NULL, c, NULL);
}

/* SQL_INBOX_PAGE: INAPP_COLS, then status, read_at, notification_id */
static const char *const inbox_cols[] = {"id",      "type",    "title",
                                         "content", "=data",   "created_at",
                                         "status",  "read_at", "notification_id"};

static void list_done(struct kit_job *j)
{
    struct ictx *c = j->ctx;
    if (j->status != 0) {
        kit_fail_store(j, "delivery", NULL);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 1);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr =
        kit_page_envelope(o, store_rows_int(store_result_step(j->res, 0), 0, 0), c->page, c->size);
    for (int i = 0; r != NULL && i < r->nrows; i++)
        cJSON_AddItemToArray(arr, notify__eng_row_json(r, i, inbox_cols));
    cJSON_AddNumberToObject(o, "unread",
                            (double)store_rows_int(store_result_step(j->res, 2), 0, 0));
    char *s = cJSON_PrintUnformatted(o);
    http_respond_json(j->req, 200, s, strlen(s));
    cJSON_free(s);
    cJSON_Delete(o);
}

static void list_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    int64_t page, size;
    if (!notify__eng_paging(req, &page, &size))
        return;
    char unread[8];
    int un = http_req_query_param(req, "unread", unread, sizeof(unread));
    int only = 0;
    if (un < 0 && http_req_has_query_param(req, "unread")) {
        http_respond_error(req, 422, "validation_failed", "must be 1 or 0", "unread");
        return;
    }
    if (un >= 0) {
        if (strcmp(unread, "1") == 0 || strcmp(unread, "true") == 0)
            only = 1;
        else if (strcmp(unread, "0") != 0 && strcmp(unread, "false") != 0 && un != 0) {
            http_respond_error(req, 422, "validation_failed", "must be 1 or 0", "unread");
            return;
        }
    }
    struct kit_job *j = job(req, ud, p);
    struct ictx *c = j->ctx;
    c->page = page;
    c->size = size;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_INBOX_COUNT);
    store_bind_text(op, c->app);
    store_bind_text(op, c->user);
    store_bind_int(op, only);
    store_op_add(op, &SQL_INBOX_PAGE);
    store_bind_text(op, c->app);
    store_bind_text(op, c->user);
    store_bind_int(op, only);
    store_bind_int(op, size);
    store_bind_int(op, (page - 1) * size);
    store_op_add(op, &SQL_INBOX_UNREAD);
    store_bind_text(op, c->app);
    store_bind_text(op, c->user);
    kit_store(j, op, KIT_READ, list_done);
}

static void count_done(struct kit_job *j)
{
    if (j->status != 0) {
        kit_fail_store(j, "delivery", NULL);
        return;
    }
    char out[48];
    int n = snprintf(out, sizeof(out), "{\"unread\":%lld}",
                     (long long)store_rows_int(store_result_step(j->res, 0), 0, 0));
    http_respond_json(j->req, 200, out, (size_t)n);
}

static void count_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct kit_job *j = job(req, ud, p);
    struct ictx *c = j->ctx;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_INBOX_UNREAD);
    store_bind_text(op, c->app);
    store_bind_text(op, c->user);
    kit_store(j, op, KIT_READ, count_done);
}

static void read_done(struct kit_job *j)
{
    if (j->status == ERR_NOTFOUND) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such delivery in the inbox", NULL);
        return;
    }
    if (j->status != 0) {
        kit_fail_store(j, "delivery", NULL);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 0);
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"id\":");
    buf_json_str(&b, store_rows_text(r, 0, 0));
    buf_printf(&b, ",\"status\":\"read\",\"read_at\":%lld}", (long long)store_rows_int(r, 0, 2));
    http_respond_json(j->req, 200, b.data, b.len);
    buf_release(&b);
}

static void read_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    const char *id = http_req_param(req, "delivery_id");
    if (id == NULL || strlen(id) > 79) {
        http_respond_err(req, ERR_NOTFOUND, "no such delivery in the inbox", NULL);
        return;
    }
    struct kit_job *j = job(req, ud, p);
    struct ictx *c = j->ctx;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_INBOX_READ);
    store_bind_text(op, c->app);
    store_bind_text(op, c->user);
    store_bind_text(op, id);
    store_bind_int(op, clock_wall_ms());
    store_op_require_row(op);
    struct notify_ev_ids evs = {.b = BUF_INIT}; /* the app's event webhooks (events.c) */
    notify__ev_ids_add(((struct notify_engine *)ud)->ev, &evs, c->app, id);
    notify__ev_ids_flush(&evs, op, clock_wall_ms());
    kit_store(j, op, KIT_WRITE, read_done);
}

static void all_done(struct kit_job *j)
{
    if (j->status != 0) {
        kit_fail_store(j, "delivery", NULL);
        return;
    }
    char out[48];
    int n = snprintf(out, sizeof(out), "{\"updated\":%lld}",
                     (long long)store_result_step(j->res, 0)->changes);
    http_respond_json(j->req, 200, out, (size_t)n);
}

static void all_authed(struct http_req *req, const struct user_principal *p, void *ud)
{
    struct kit_job *j = job(req, ud, p);
    struct ictx *c = j->ctx;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_INBOX_READ_ALL);
    store_bind_text(op, c->app);
    store_bind_text(op, c->user);
    store_bind_int(op, clock_wall_ms());
    kit_store(j, op, KIT_WRITE, all_done);
}

#define USER_ROUTE(name, fn)                                                                       \
    static void name(struct http_req *req, void *ud)                                               \
    {                                                                                              \
        struct notify_engine *n = ud;                                                              \
        identity_user_auth(n->id, req, fn, n);                                                     \
    }
USER_ROUTE(list_h, list_authed)
USER_ROUTE(count_h, count_authed)
USER_ROUTE(read_h, read_authed)
USER_ROUTE(all_h, all_authed)

void notify__inbox_register(struct notify_engine *n, struct router *r)
{
    router_add(r, HTTP_M_GET, "/api/v1/inbox", list_h, n);
    router_add(r, HTTP_M_GET, "/api/v1/inbox/unread-count", count_h, n);
    router_add(r, HTTP_M_POST, "/api/v1/inbox/read-all", all_h, n);
    router_add(r, HTTP_M_POST, "/api/v1/inbox/{delivery_id}/read", read_h, n);
}
