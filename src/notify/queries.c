/*
 * An app's notifications and deliveries (docs/notifications.md, "Deliveries and the queue"),
 * app authentication: GET /api/v1/notifications?status=&type=&from=&to= (paged, newest
 * first), GET /api/v1/notifications/{id} (with its first 1000 deliveries and their attempts),
 * POST /api/v1/notifications/{id}/cancel (a scheduled one that has not started: its pending
 * deliveries become `cancelled`, their jobs go; 409 otherwise; the console's
 * /admin/notifications/{id}/cancel is the same code, audited), GET
 * /api/v1/deliveries?status=&channel=&user_id=&type=&notification_id=&from=&to= (paged). Every
 * statement names the app: another app's id is a 404. Also the JSON and paging helpers the
 * other files share.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_exact.h"
#include "console/console.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "identity/app_auth.h"
#include "identity/identity.h"
#include "kit/decode.h"
#include "kit/job.h"
#include "net/http.h"
#include "notify/driver.h"
#include "notify/admin_kit.h"
#include "notify/engine.h"
#include "router/request.h"
#include "router/router.h"
#include "store/sql.h"
#include "store/store.h"
#include "kit/paging.h"

const char *const notify__eng_notification_cols[] = {"id",
                                                     "app_id",
                                                     "type",
                                                     "title",
                                                     "content",
                                                     "=params",
                                                     "=data",
                                                     "=channels",
                                                     "=recipients",
                                                     "priority",
                                                     "ttl",
                                                     "send_at",
                                                     "expires_at",
                                                     "status",
                                                     "idempotency_key",
                                                     "delivery_count",
                                                     "source",
                                                     "operator_id",
                                                     "created_at",
                                                     "updated_at"};
const char *const notify__eng_delivery_cols[] = {
    "id",         "app_id",     "notification_id", "user_id",      "address", "channel",
    "channel_id", "type",       "status",          "attempts",     "next_at", "last_error",
    "created_at", "updated_at", "sent_at",         "delivered_at", "read_at"};
const char *const notify__eng_attempt_cols[] = {"delivery_id", "attempt",     "outcome",   "code",
                                                "detail",      "duration_ms", "created_at"};

cJSON *notify__eng_row_json(const struct store_rows *r, int i, const char *const *cols)
{
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; k < r->ncols; k++) {
        const char *name = cols[k];
        if (name == NULL)
            continue;
        bool json = name[0] == '=';
        if (json)
            name++;
        const struct store_value *v = store_rows_value(r, i, k);
        if (v == NULL || v->type == STORE_NULL) {
            cJSON_AddNullToObject(o, name);
        } else if (v->type == STORE_INT) {
            cJSON_AddNumberToObject(o, name, (double)v->v.i);
        } else if (v->type == STORE_REAL) {
            cJSON_AddNumberToObject(o, name, v->v.r);
        } else if (json) {
            cJSON *p = json_exact_parse(v->v.s); /* numbers as sent */
            if (p != NULL)
                cJSON_AddItemToObject(o, name, p);
            else
                cJSON_AddStringToObject(o, name, v->v.s);
        } else {
            cJSON_AddStringToObject(o, name, v->v.s);
        }
    }
    return o;
}

bool notify__eng_query_text(struct http_req *req, const char *name, char *out, size_t n)
{
    if (http_req_query_param(req, name, out, n) >= 0)
        return true;
    out[0] = '\0';
    if (!http_req_has_query_param(req, name))
        return true; /* absent (a malformed escape was refused before the handler) */
    http_respond_error(req, 422, "validation_failed", "is too long", name);
    return false;
}

bool notify__eng_paging(struct http_req *req, int64_t *page, int64_t *size)
{
    return kit_paging(req, page, size);
}

bool notify__eng_query_int(struct http_req *req, const char *name, int64_t *out)
{
    char buf[32];
    *out = KIT_INT_ABSENT;
    int n = http_req_query_param(req, name, buf, sizeof(buf));
    if (n == 0 || (n < 0 && !http_req_has_query_param(req, name)))
        return true;
    char *end = NULL;
    errno = 0;
    long long v = n > 0 ? strtoll(buf, &end, 10) : -1; /* n < 0: longer than any time */
    if (n < 0 || *end != '\0' || v < 0 || errno == ERANGE) {
        http_respond_error(req, 422, "validation_failed",
                           "must be a time in milliseconds since the Unix epoch", name);
        return false;
    }
    *out = v;
    return true;
}

void notify__eng_respond_page(struct http_req *req, int64_t count, const struct store_rows *rows,
                              const char *const *cols, int64_t page, int64_t size)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = kit_page_envelope(o, count, page, size);
    for (int i = 0; rows != NULL && i < rows->nrows; i++)
        cJSON_AddItemToArray(arr, notify__eng_row_json(rows, i, cols));
    char *s = cJSON_PrintUnformatted(o);
    http_respond_json(req, 200, s, strlen(s));
    cJSON_free(s);
    cJSON_Delete(o);
}

bool notify__eng_app_in(const char *apps_json, const char *app)
{
    if (apps_json == NULL)
        return true;
    cJSON *a = cJSON_Parse(apps_json);
    bool in = false;
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        if (cJSON_IsString(e) && strcmp(e->valuestring, app) == 0)
            in = true;
    }
    cJSON_Delete(a);
    return in;
}

/* ---- the lists' filters: a value no row can have is a 422 naming the filter (SPEC §1.4) */

static bool one_of(const char *const *list, const char *s)
{
    for (int i = 0; list[i] != NULL; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

static bool notification_status_ok(const char *s)
{
    static const char *const st[] = {"scheduled", "queued", "cancelled", NULL};
    return one_of(st, s);
}

static bool delivery_status_ok(const char *s)
{
    static const char *const st[] = {"pending", "sending", "sent", "delivered",
                                     "read",    "failed",  "dead", "cancelled",
                                     "skipped", "expired", NULL};
    return one_of(st, s);
}

static bool id_ok(const char *s)
{
    return kit_name_is_valid(s, KIT_ID_MAX);
}

/* The optional filter name into out (as notify__eng_query_text); a value that fails ok answers
 * 422 naming it with message. False after answering. */
static bool query_filter(struct http_req *req, const char *name, char *out, size_t n,
                         bool (*ok)(const char *), const char *message)
{
    if (!notify__eng_query_text(req, name, out, n))
        return false;
    if (out[0] == '\0' || ok(out))
        return true;
    http_respond_error(req, 422, "validation_failed", message, name);
    return false;
}

#define MSG_TYPE "must be a message type code: 1-64 characters of A-Z a-z 0-9 _ . : -"
#define MSG_KIND "must be a channel kind: " NOTIFY_KINDS_TEXT

static void nctx_free(void *p)
{
    struct nctx *c = p;
    free(c->apps_json);
    free(c);
}

struct kit_job *notify__eng_job(struct http_req *req, struct notify_engine *n, const char *app_id)
{
    struct nctx *c = xcalloc(1, sizeof(*c));
    c->n = n;
    if (app_id != NULL)
        snprintf(c->app_id, sizeof(c->app_id), "%s", app_id);
    return kit_job_new(req, n->store, NULL, c, nctx_free);
}

static void bind_opt_text(struct store_op *op, const char *s)
{
    store_bind_text(op, s != NULL && s[0] ? s : NULL);
}

static void bind_opt_int(struct store_op *op, int64_t v)
{
    if (v == KIT_INT_ABSENT)
        store_bind_null(op);
    else
        store_bind_int(op, v);
}

/* ---- the console's ?app_id= on a list */

/* The console's ?app_id= into qapp (n bytes; "" when absent); false after answering: malformed
 * (422) or outside the operator's apps (404, as another tenant's) */
static bool console_app(struct http_req *req, const char *apps_json, char *qapp, size_t n)
{
    if (!query_filter(req, "app_id", qapp, n, id_ok, "must be an app id"))
        return false;
    if (qapp[0] && !notify__eng_app_in(apps_json, qapp)) {
        http_respond_err(req, ERR_NOTFOUND, "no such app", "app_id");
        return false;
    }
    return true;
}

/* The list's last step: the app named (console_add_app_read). */
static void add_app_read(struct store_op *op, struct nctx *c, const char *qapp)
{
    if (qapp[0] == '\0')
        return;
    console_add_app_read(op, qapp);
    c->app_named = true;
}

/* False after answering 404 when the app the list named does not exist. */
static bool app_read(struct kit_job *j)
{
    const struct nctx *c = j->ctx;
    return !c->app_named || console_app_found(j->req, store_result_step(j->res, -1));
}

/* ---- GET /notifications */

static void page_done(struct kit_job *j)
{
    struct nctx *c = j->ctx;
    if (j->status != 0) {
        kit_fail_store(j, "notification", NULL);
        return;
    }
    if (!app_read(j))
        return;
    notify__eng_respond_page(j->req, store_rows_int(store_result_step(j->res, 0), 0, 0),
                             store_result_step(j->res, 1), notify__eng_notification_cols, c->page,
                             c->size);
}

void notify__notifications_page(struct notify_engine *n, struct http_req *req, const char *app,
                                const char *apps_json)
{
    int64_t page, size, from, to;
    char status[24], type[72], qapp[72] = "";
    if (!notify__eng_paging(req, &page, &size) ||
        !query_filter(req, "status", status, sizeof(status), notification_status_ok,
                      "must be scheduled, queued or cancelled") ||
        !query_filter(req, "type", type, sizeof(type), notify__eng_type_valid, MSG_TYPE) ||
        !notify__eng_query_int(req, "from", &from) || !notify__eng_query_int(req, "to", &to))
        return;
    if (app == NULL) { /* the console: ?app_id= narrows */
        if (!console_app(req, apps_json, qapp, sizeof(qapp)))
            return;
        if (qapp[0])
            app = qapp;
    }
    struct kit_job *j = notify__eng_job(req, n, app);
    struct nctx *c = j->ctx;
    c->page = page;
    c->size = size;
    struct store_op *op = store_op_new();
    for (int k = 0; k < 2; k++) {
        store_op_add(op, k == 0 ? &SQL_NOTIFICATIONS_COUNT : &SQL_NOTIFICATIONS_PAGE);
        bind_opt_text(op, app);
        bind_opt_text(op, app == NULL ? apps_json : NULL);
        bind_opt_text(op, status);
        bind_opt_text(op, type);
        bind_opt_int(op, from);
        bind_opt_int(op, to);
        if (k == 1) {
            store_bind_int(op, size);
            store_bind_int(op, (page - 1) * size);
        }
    }
    add_app_read(op, c, qapp);
    kit_store(j, op, KIT_READ, page_done);
}

/* ---- GET /notifications/{id} */

/* Delivery row i of d (DELIVERY_COLS) with its attempt_log: the rows of a (the attempts'
 * columns, delivery id first) that are its. */
static cJSON *delivery_json(const struct store_rows *d, int i, const struct store_rows *a)
{
    cJSON *e = notify__eng_row_json(d, i, notify__eng_delivery_cols);
    cJSON *att = cJSON_AddArrayToObject(e, "attempt_log");
    const char *id = store_rows_text(d, i, 0);
    for (int k = 0; a != NULL && k < a->nrows; k++)
        if (strcmp(store_rows_text(a, k, 0), id) == 0)
            cJSON_AddItemToArray(att, notify__eng_row_json(a, k, notify__eng_attempt_cols));
    return e;
}

static void one_done(struct kit_job *j)
{
    struct nctx *c = j->ctx;
    if (j->status != 0) {
        kit_fail_store(j, "notification", NULL);
        return;
    }
    const struct store_rows *nr = store_result_step(j->res, 0);
    if (nr == NULL || nr->nrows == 0 ||
        !notify__eng_app_in(c->apps_json, store_rows_text(nr, 0, 1))) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such notification", NULL);
        return;
    }
    cJSON *o = notify__eng_row_json(nr, 0, notify__eng_notification_cols);
    const struct store_rows *d = store_result_step(j->res, 1);
    const struct store_rows *a = store_result_step(j->res, 2);
    cJSON *arr = cJSON_AddArrayToObject(o, "deliveries");
    for (int i = 0; d != NULL && i < d->nrows; i++)
        cJSON_AddItemToArray(arr, delivery_json(d, i, a));
    notify__respond(j->req, 200, o);
}

void notify__notification_get(struct notify_engine *n, struct http_req *req, const char *app,
                              const char *apps_json)
{
    const char *id = http_req_param(req, "id");
    if (id == NULL || strlen(id) > 64) {
        http_respond_err(req, ERR_NOTFOUND, "no such notification", NULL);
        return;
    }
    struct kit_job *j = notify__eng_job(req, n, app);
    struct nctx *c = j->ctx;
    c->apps_json = app == NULL && apps_json != NULL ? xstrdup(apps_json) : NULL;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_NOTIFICATIONS_GET);
    store_bind_text(op, app);
    store_bind_text(op, id);
    store_op_add(op, &SQL_DELIVERIES_OF);
    store_bind_text(op, id);
    store_op_add(op, &SQL_DELIVERY_ATTEMPTS_OF);
    store_bind_text(op, id);
    kit_store(j, op, KIT_READ, one_done);
}

/* ---- POST /notifications/{id}/cancel */

static void cancel_why(struct kit_job *j)
{
    if (j->status != 0) {
        kit_fail_store(j, "notification", NULL);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 0);
    if (r == NULL || r->nrows == 0) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such notification", NULL);
        return;
    }
    http_respond_error(j->req, 409, "conflict",
                       strcmp(store_rows_text(r, 0, 13), "cancelled") == 0
                           ? "the notification is already cancelled"
                           : "the notification is not scheduled any more: it is being sent or"
                             " was sent",
                       NULL);
}

static void cancel_done(struct kit_job *j)
{
    struct nctx *c = j->ctx;
    if (j->status == ERR_NOTFOUND) {
        struct store_op *op = store_op_new();
        store_op_add(op, &SQL_NOTIFICATIONS_GET);
        store_bind_text(op, c->app_id);
        store_bind_text(op, c->id);
        kit_store(j, op, KIT_READ, cancel_why);
        return;
    }
    if (j->status != 0) {
        kit_fail_store(j, "notification", NULL);
        return;
    }
    const struct store_rows *d = store_result_step(j->res, 1);
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"id\":");
    buf_json_str(&b, c->id);
    buf_printf(&b, ",\"status\":\"cancelled\",\"cancelled_deliveries\":%lld}",
               (long long)(d ? d->changes : 0));
    http_respond_json(j->req, 200, b.data, b.len);
    buf_release(&b);
}

/* The one write: the notification (still scheduled, send_at not come: else no row, ERR_NOTFOUND
 * and nothing written), its pending deliveries, their jobs and, from the console, the audit
 * row (c->operator_id; detail: the notification's type and send_at). */
static void cancel_write(struct kit_job *j, const char *audit_detail)
{
    struct nctx *c = j->ctx;
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_NOTIFICATIONS_CANCEL);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->id);
    store_bind_int(op, now);
    store_op_require_row(op);
    store_op_add(op, &SQL_DELIVERIES_CANCEL);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->id);
    store_bind_int(op, now);
    store_op_add(op, &SQL_JOBS_CANCEL);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->id);
    if (c->operator_id[0]) {
        store_op_add(op, &SQL_AUDIT_LOG_INSERT_BY_OPERATOR);
        store_bind_text(op, c->operator_id);
        store_bind_text(op, c->app_id);
        store_bind_text(op, "notification.cancel");
        store_bind_text(op, c->id);
        store_bind_text(op, audit_detail);
        const char *peer = http_req_peer(j->req);
        store_bind_text(op, peer ? peer : "");
        store_bind_int(op, now);
    }
    kit_store(j, op, KIT_WRITE, cancel_done);
}

/* The console's: the notification's app must be one of the operator's. */
static void cancel_read(struct kit_job *j)
{
    struct nctx *c = j->ctx;
    if (j->status != 0) {
        kit_fail_store(j, "notification", NULL);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 0);
    if (r == NULL || r->nrows == 0 || !notify__eng_app_in(c->apps_json, store_rows_text(r, 0, 1))) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such notification", NULL);
        return;
    }
    snprintf(c->app_id, sizeof(c->app_id), "%s", store_rows_text(r, 0, 1));
    struct buf detail = BUF_INIT;
    buf_puts(&detail, "{\"type\":");
    buf_json_str(&detail, store_rows_text(r, 0, 2));
    buf_printf(&detail, ",\"send_at\":%lld}", (long long)store_rows_int(r, 0, 11));
    cancel_write(j, detail.data);
    buf_release(&detail);
}

void notify__notification_cancel(struct notify_engine *n, struct http_req *req, const char *app,
                                 const char *apps_json, const char *operator_id)
{
    const char *id = http_req_param(req, "id");
    if (id == NULL || strlen(id) > 64) {
        http_respond_err(req, ERR_NOTFOUND, "no such notification", NULL);
        return;
    }
    struct kit_job *j = notify__eng_job(req, n, app);
    struct nctx *c = j->ctx;
    snprintf(c->id, sizeof(c->id), "%s", id);
    if (app != NULL) {
        cancel_write(j, NULL);
        return;
    }
    snprintf(c->operator_id, sizeof(c->operator_id), "%s", operator_id ? operator_id : "");
    c->apps_json = apps_json != NULL ? xstrdup(apps_json) : NULL;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_NOTIFICATIONS_GET);
    store_bind_text(op, NULL);
    store_bind_text(op, id);
    kit_store(j, op, KIT_READ, cancel_read);
}

static void cancel_authed(struct http_req *req, const char *app_id, void *ud)
{
    notify__notification_cancel(ud, req, app_id, NULL, NULL);
}

/* ---- GET /deliveries */

static void dpage_done(struct kit_job *j)
{
    struct nctx *c = j->ctx;
    if (j->status != 0) {
        kit_fail_store(j, "delivery", NULL);
        return;
    }
    if (!app_read(j))
        return;
    notify__eng_respond_page(j->req, store_rows_int(store_result_step(j->res, 0), 0, 0),
                             store_result_step(j->res, 1), notify__eng_delivery_cols, c->page,
                             c->size);
}

void notify__deliveries_page(struct notify_engine *n, struct http_req *req, const char *app,
                             const char *apps_json)
{
    int64_t page, size, from, to;
    char status[24], channel[24], user[72], type[72], nid[72], qapp[72] = "";
    if (!notify__eng_paging(req, &page, &size) ||
        !query_filter(req, "status", status, sizeof(status), delivery_status_ok,
                      "must be pending, sending, sent, delivered, read, failed, dead, cancelled,"
                      " skipped or expired") ||
        !query_filter(req, "channel", channel, sizeof(channel), notify_kind_is_known, MSG_KIND) ||
        !query_filter(req, "user_id", user, sizeof(user), kit_id_is_valid,
                      "must be a user id: 1-64 characters of A-Z a-z 0-9 _ . @ : -") ||
        !query_filter(req, "type", type, sizeof(type), notify__eng_type_valid, MSG_TYPE) ||
        !query_filter(req, "notification_id", nid, sizeof(nid), id_ok,
                      "must be a notification id") ||
        !notify__eng_query_int(req, "from", &from) || !notify__eng_query_int(req, "to", &to))
        return;
    if (app == NULL) {
        if (!console_app(req, apps_json, qapp, sizeof(qapp)))
            return;
        if (qapp[0])
            app = qapp;
    }
    struct kit_job *j = notify__eng_job(req, n, app);
    struct nctx *c = j->ctx;
    c->page = page;
    c->size = size;
    struct store_op *op = store_op_new();
    for (int k = 0; k < 2; k++) {
        store_op_add(op, k == 0 ? &SQL_DELIVERIES_COUNT : &SQL_DELIVERIES_PAGE);
        bind_opt_text(op, app);
        bind_opt_text(op, app == NULL ? apps_json : NULL);
        bind_opt_text(op, status);
        bind_opt_text(op, channel);
        bind_opt_text(op, user);
        bind_opt_text(op, type);
        bind_opt_int(op, from);
        bind_opt_int(op, to);
        bind_opt_text(op, nid);
        if (k == 1) {
            store_bind_int(op, size);
            store_bind_int(op, (page - 1) * size);
        }
    }
    add_app_read(op, c, qapp);
    kit_store(j, op, KIT_READ, dpage_done);
}

/* ---- GET /deliveries/{id}: one delivery with its attempt_log */

static void delivery_done(struct kit_job *j)
{
    struct nctx *c = j->ctx;
    if (j->status != 0) {
        kit_fail_store(j, "delivery", NULL);
        return;
    }
    const struct store_rows *d = store_result_step(j->res, 0);
    const char *app = d != NULL && d->nrows > 0 ? store_rows_text(d, 0, 1) : NULL;
    if (app == NULL ||
        (c->app_id[0] ? strcmp(app, c->app_id) != 0 : !notify__eng_app_in(c->apps_json, app))) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such delivery", NULL);
        return;
    }
    notify__respond(j->req, 200, delivery_json(d, 0, store_result_step(j->res, 1)));
}

void notify__delivery_get(struct notify_engine *n, struct http_req *req, const char *app,
                          const char *apps_json)
{
    const char *id = http_req_param(req, "id");
    if (id == NULL || strlen(id) > 79) {
        http_respond_err(req, ERR_NOTFOUND, "no such delivery", NULL);
        return;
    }
    struct kit_job *j = notify__eng_job(req, n, app);
    struct nctx *c = j->ctx;
    c->apps_json = app == NULL && apps_json != NULL ? xstrdup(apps_json) : NULL;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_DELIVERIES_GET);
    store_bind_text(op, id);
    store_op_add(op, &SQL_DELIVERY_ATTEMPTS_OF_DELIVERY);
    store_bind_text(op, id);
    kit_store(j, op, KIT_READ, delivery_done);
}

/* ---- the app-authenticated routes */

static void list_authed(struct http_req *req, const char *app_id, void *ud)
{
    notify__notifications_page(ud, req, app_id, NULL);
}
static void get_authed(struct http_req *req, const char *app_id, void *ud)
{
    notify__notification_get(ud, req, app_id, NULL);
}
static void deliveries_authed(struct http_req *req, const char *app_id, void *ud)
{
    notify__deliveries_page(ud, req, app_id, NULL);
}
static void delivery_authed(struct http_req *req, const char *app_id, void *ud)
{
    notify__delivery_get(ud, req, app_id, NULL);
}

#define APP_ROUTE(name, fn)                                                                        \
    static void name(struct http_req *req, void *ud)                                               \
    {                                                                                              \
        struct notify_engine *n = ud;                                                              \
        identity_app_auth(n->id, req, fn, n);                                                      \
    }
APP_ROUTE(list_h, list_authed)
APP_ROUTE(get_h, get_authed)
APP_ROUTE(cancel_h, cancel_authed)
APP_ROUTE(deliveries_h, deliveries_authed)
APP_ROUTE(delivery_h, delivery_authed)

void notify__queries_register(struct notify_engine *n, struct router *r)
{
    router_add(r, HTTP_M_GET, "/api/v1/notifications", list_h, n);
    router_add(r, HTTP_M_GET, "/api/v1/notifications/{id}", get_h, n);
    router_add(r, HTTP_M_POST, "/api/v1/notifications/{id}/cancel", cancel_h, n);
    router_add(r, HTTP_M_GET, "/api/v1/deliveries", deliveries_h, n);
    router_add(r, HTTP_M_GET, "/api/v1/deliveries/{id}", delivery_h, n);
}
