/*
 * The console's notification resources (docs/notifications.md, "Deliveries and the queue";
 * docs/admin.md), operators with console_authorize, app-scoped (an app outside the operator's
 * roles is a 404, lists show only its apps):
 *   GET  /api/v1/admin/notifications?app_id=&status=&type=&from=&to=   notifications:read
 *   GET  /api/v1/admin/notifications/{id}                             notifications:read
 *   GET  /api/v1/admin/deliveries?app_id=&status=&channel=&type=&user_id=&from=&to=
 *                                                                      notifications:read
 *   POST /api/v1/admin/deliveries/{id}/retry   a failed or dead delivery gets a job due now;
 *                                              409 in any other state   notifications:write
 *   POST /api/v1/admin/notifications           send for {"app_id", ...} notifications:write
 *   POST /api/v1/admin/notifications/{id}/cancel   a scheduled one that has not started
 *                                              (queries.c, the app's cancel) notifications:write
 *   GET  /api/v1/admin/stats?from=&to=&bucket=hour|day&app_id=        stats:read
 * The writes are audited in their transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console/console.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "kit/decode.h"
#include "kit/job.h"
#include "net/http.h"
#include "notify/engine.h"
#include "router/request.h"
#include "router/router.h"
#include "store/sql.h"
#include "store/store.h"

#define PERM_READ "notifications:read"
#define PERM_WRITE "notifications:write"
#define PERM_STATS "stats:read"

static void list_granted(struct http_req *req, const char *op, const char *apps, void *ud)
{
    (void)op;
    notify__notifications_page(ud, req, NULL, apps);
}
static void get_granted(struct http_req *req, const char *op, const char *apps, void *ud)
{
    (void)op;
    notify__notification_get(ud, req, NULL, apps);
}
static void deliveries_granted(struct http_req *req, const char *op, const char *apps, void *ud)
{
    (void)op;
    notify__deliveries_page(ud, req, NULL, apps);
}
static void delivery_granted(struct http_req *req, const char *op, const char *apps, void *ud)
{
    (void)op;
    notify__delivery_get(ud, req, NULL, apps);
}
static void cancel_granted(struct http_req *req, const char *op, const char *apps, void *ud)
{
    notify__notification_cancel(ud, req, NULL, apps, op);
}
static void send_granted(struct http_req *req, const char *op, const char *apps, void *ud)
{
    notify__send_as(ud, req, NULL, op, apps);
}

/* ---- retry */

static void retried(struct kit_job *j)
{
    struct nctx *c = j->ctx;
    if (j->status == ERR_NOTFOUND) { /* it left failed/dead meanwhile */
        http_respond_error(j->req, 409, "conflict", "only a failed or dead delivery is retried",
                           NULL);
        return;
    }
    if (j->status != 0) {
        kit_fail_store(j, "delivery", NULL);
        return;
    }
    notify__queue_kick(c->n->q);
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"id\":");
    buf_json_str(&b, c->id);
    buf_puts(&b, ",\"status\":\"pending\"}");
    http_respond_json(j->req, 202, b.data, b.len);
    buf_release(&b);
}

static void retry_read(struct kit_job *j)
{
    struct nctx *c = j->ctx;
    if (j->status != 0) {
        kit_fail_store(j, "delivery", NULL);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 0);
    if (r == NULL || r->nrows == 0 || !notify__eng_app_in(c->apps_json, store_rows_text(r, 0, 1))) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such delivery", NULL);
        return;
    }
    const char *st = store_rows_text(r, 0, 8);
    if (strcmp(st, "failed") != 0 && strcmp(st, "dead") != 0) {
        http_respond_error(j->req, 409, "conflict", "only a failed or dead delivery is retried",
                           NULL);
        return;
    }
    snprintf(c->app_id, sizeof(c->app_id), "%s", store_rows_text(r, 0, 1));
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_DELIVERIES_RETRY);
    store_bind_text(op, c->id);
    store_bind_int(op, now);
    store_op_require_row(op);
    store_op_add(op, &SQL_JOBS_RETRY);
    store_bind_text(op, c->id);
    store_bind_int(op, now);
    store_op_add(op, &SQL_AUDIT_LOG_INSERT_BY_OPERATOR);
    store_bind_text(op, c->operator_id);
    store_bind_text(op, c->app_id);
    store_bind_text(op, "delivery.retry");
    store_bind_text(op, c->id);
    char detail[64];
    snprintf(detail, sizeof(detail), "{\"status\":\"%s\"}", st);
    store_bind_text(op, detail);
    const char *peer = http_req_peer(j->req);
    store_bind_text(op, peer ? peer : "");
    store_bind_int(op, now);
    kit_store(j, op, KIT_WRITE, retried);
}

static void retry_granted(struct http_req *req, const char *op_id, const char *apps, void *ud)
{
    const char *id = http_req_param(req, "id");
    if (id == NULL || strlen(id) > 79) {
        http_respond_err(req, ERR_NOTFOUND, "no such delivery", NULL);
        return;
    }
    struct kit_job *j = notify__eng_job(req, ud, NULL);
    struct nctx *c = j->ctx;
    snprintf(c->id, sizeof(c->id), "%s", id);
    snprintf(c->operator_id, sizeof(c->operator_id), "%s", op_id);
    c->apps_json = apps != NULL ? xstrdup(apps) : NULL;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_DELIVERIES_GET);
    store_bind_text(op, id);
    kit_store(j, op, KIT_READ, retry_read);
}

/* ---- stats */

#define STATS_BUCKETS_MAX 800

struct stats_ctx {
    int64_t from, to, bucket;
    const char *bucket_name;
};

/* The buckets seen so far, by start time. */
struct buckets {
    int n;
    int64_t t[STATS_BUCKETS_MAX + 2];
    cJSON *o[STATS_BUCKETS_MAX + 2];
};

/* The bucket object of start t in series (created on first use). */
static cJSON *bucket_of(struct buckets *bs, cJSON *series, int64_t t)
{
    for (int i = 0; i < bs->n; i++)
        if (bs->t[i] == t)
            return bs->o[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "t", (double)t);
    cJSON_AddNumberToObject(o, "sent", 0);
    cJSON_AddNumberToObject(o, "delivered", 0);
    cJSON_AddNumberToObject(o, "read", 0);
    cJSON_AddNumberToObject(o, "failed", 0);
    cJSON_AddObjectToObject(o, "by_channel");
    cJSON_AddObjectToObject(o, "by_type");
    cJSON_AddNumberToObject(o, "messages", 0);
    cJSON_AddNumberToObject(o, "active_users", 0);
    cJSON_AddItemToArray(series, o);
    if (bs->n < STATS_BUCKETS_MAX + 2) {
        bs->t[bs->n] = t;
        bs->o[bs->n++] = o;
    }
    return o;
}

static void add_num(cJSON *o, const char *name, double v)
{
    cJSON *n = cJSON_GetObjectItemCaseSensitive(o, name);
    if (n == NULL)
        n = cJSON_AddNumberToObject(o, name, 0);
    cJSON_SetNumberValue(n, n->valuedouble + v);
}

/* Adds count deliveries in state st to the counters of o: sent counts every delivery that
 * left (sent, delivered, read), delivered the ACKed ones (delivered, read), failed the failed
 * and dead ones. */
static void add_status(cJSON *o, const char *st, double count)
{
    bool read = strcmp(st, "read") == 0, delivered = read || strcmp(st, "delivered") == 0;
    bool sent = delivered || strcmp(st, "sent") == 0;
    bool failed = strcmp(st, "failed") == 0 || strcmp(st, "dead") == 0;
    add_num(o, "sent", sent ? count : 0);
    add_num(o, "delivered", delivered ? count : 0);
    add_num(o, "read", read ? count : 0);
    add_num(o, "failed", failed ? count : 0);
}

static int cmp_t(const void *a, const void *b)
{
    double x = cJSON_GetObjectItemCaseSensitive(*(cJSON *const *)a, "t")->valuedouble;
    double y = cJSON_GetObjectItemCaseSensitive(*(cJSON *const *)b, "t")->valuedouble;
    return x < y ? -1 : x > y;
}

static void stats_done(struct kit_job *j)
{
    struct nctx *c = j->ctx;
    const struct stats_ctx *s = (const struct stats_ctx *)(c + 1);
    if (j->status != 0) {
        kit_fail_store(j, "statistic", NULL);
        return;
    }
    if (c->app_id[0] && !console_app_found(j->req, store_result_step(j->res, 3)))
        return;
    struct buckets *index = xcalloc(1, sizeof(*index));
    cJSON *series = cJSON_CreateArray();
    for (int k = 0; k < 2; k++) {
        const struct store_rows *r = store_result_step(j->res, k);
        for (int i = 0; r != NULL && i < r->nrows; i++) {
            cJSON *b = bucket_of(index, series, store_rows_int(r, i, 0));
            const char *key = store_rows_text(r, i, 1), *st = store_rows_text(r, i, 2);
            double n = (double)store_rows_int(r, i, 3);
            cJSON *group = cJSON_GetObjectItemCaseSensitive(b, k == 0 ? "by_channel" : "by_type");
            cJSON *one = cJSON_GetObjectItemCaseSensitive(group, key);
            if (one == NULL)
                one = cJSON_AddObjectToObject(group, key);
            add_status(one, st, n);
            if (k == 0)
                add_status(b, st, n);
        }
    }
    const struct store_rows *m = store_result_step(j->res, 2);
    for (int i = 0; m != NULL && i < m->nrows; i++) {
        cJSON *b = bucket_of(index, series, store_rows_int(m, i, 0));
        add_num(b, "messages", (double)store_rows_int(m, i, 1));
        add_num(b, "active_users", (double)store_rows_int(m, i, 2));
    }
    /* buckets in time order */
    int n = cJSON_GetArraySize(series);
    cJSON **v = xcalloc((size_t)n + 1, sizeof(*v));
    int k = 0;
    for (cJSON *e = series->child; e != NULL; e = e->next)
        v[k++] = e;
    qsort(v, (size_t)n, sizeof(*v), cmp_t);
    cJSON *sorted = cJSON_CreateArray();
    while (series->child != NULL)
        cJSON_DetachItemViaPointer(series, series->child);
    for (k = 0; k < n; k++)
        cJSON_AddItemToArray(sorted, v[k]);
    free(v);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "bucket", s->bucket_name);
    cJSON_AddNumberToObject(o, "from", (double)s->from);
    cJSON_AddNumberToObject(o, "to", (double)s->to);
    if (c->app_id[0])
        cJSON_AddStringToObject(o, "app_id", c->app_id);
    cJSON_AddItemToObject(o, "series", sorted);
    char *text = cJSON_PrintUnformatted(o);
    http_respond_json(j->req, 200, text, strlen(text));
    cJSON_free(text);
    cJSON_Delete(o);
    cJSON_Delete(series);
    free(index);
}

static void stats_granted(struct http_req *req, const char *op_id, const char *apps, void *ud)
{
    (void)op_id;
    char bucket[8], app[72];
    int64_t from, to;
    if (!notify__eng_query_text(req, "bucket", bucket, sizeof(bucket)) ||
        !notify__eng_query_text(req, "app_id", app, sizeof(app)) ||
        !notify__eng_query_int(req, "from", &from) || !notify__eng_query_int(req, "to", &to))
        return;
    int64_t size;
    if (bucket[0] == '\0' || strcmp(bucket, "hour") == 0) {
        size = 3600000;
        snprintf(bucket, sizeof(bucket), "hour");
    } else if (strcmp(bucket, "day") == 0) {
        size = 86400000;
    } else {
        http_respond_error(req, 422, "validation_failed", "must be \"hour\" or \"day\"", "bucket");
        return;
    }
    if (to == KIT_INT_ABSENT)
        to = clock_wall_ms();
    if (from == KIT_INT_ABSENT)
        from = to - (size == 3600000 ? 24 * size : 30 * size);
    if (from >= to) {
        http_respond_error(req, 422, "validation_failed", "must be before to", "from");
        return;
    }
    if ((to - from) / size > STATS_BUCKETS_MAX) {
        http_respond_error(req, 422, "validation_failed",
                           "the range holds more than 800 buckets: narrow it or use bucket=day",
                           "from");
        return;
    }
    if (app[0] && !kit_name_is_valid(app, KIT_ID_MAX)) {
        http_respond_error(req, 422, "validation_failed", "must be an app id", "app_id");
        return;
    }
    if (app[0] && !notify__eng_app_in(apps, app)) {
        http_respond_err(req, ERR_NOTFOUND, "no such app", "app_id");
        return;
    }
    struct nctx *c = xcalloc(1, sizeof(*c) + sizeof(struct stats_ctx));
    c->n = ud;
    snprintf(c->app_id, sizeof(c->app_id), "%s", app);
    struct stats_ctx *s = (struct stats_ctx *)(c + 1);
    s->from = from;
    s->to = to;
    s->bucket = size;
    s->bucket_name = size == 3600000 ? "hour" : "day";
    struct kit_job *j = kit_job_new(req, c->n->store, NULL, c, NULL);
    struct store_op *op = store_op_new();
    const struct store_sql *q[3] = {&SQL_DELIVERIES_STATS_CHANNEL, &SQL_DELIVERIES_STATS_TYPE,
                                    &SQL_MESSAGES_STATS};
    for (int k = 0; k < 3; k++) {
        store_op_add(op, q[k]);
        store_bind_text(op, app[0] ? app : NULL);
        store_bind_text(op, app[0] ? NULL : apps);
        store_bind_int(op, size);
        store_bind_int(op, from);
        store_bind_int(op, to);
    }
    if (app[0]) /* step 3 */
        console_add_app_read(op, app);
    kit_store(j, op, KIT_READ, stats_done);
}

/* ---- routes */

#define CONSOLE_ROUTE(name, perm, fn)                                                              \
    static void name(struct http_req *req, void *ud)                                               \
    {                                                                                              \
        struct notify_engine *n = ud;                                                              \
        console_authorize(n->id, req, perm, fn, n);                                                \
    }
CONSOLE_ROUTE(list_h, PERM_READ, list_granted)
CONSOLE_ROUTE(get_h, PERM_READ, get_granted)
CONSOLE_ROUTE(deliveries_h, PERM_READ, deliveries_granted)
CONSOLE_ROUTE(delivery_h, PERM_READ, delivery_granted)
CONSOLE_ROUTE(retry_h, PERM_WRITE, retry_granted)
CONSOLE_ROUTE(send_h, PERM_WRITE, send_granted)
CONSOLE_ROUTE(cancel_h, PERM_WRITE, cancel_granted)
CONSOLE_ROUTE(stats_h, PERM_STATS, stats_granted)

void notify__admin_register(struct notify_engine *n, struct router *r)
{
    router_add(r, HTTP_M_GET, "/api/v1/admin/notifications", list_h, n);
    router_add(r, HTTP_M_POST, "/api/v1/admin/notifications", send_h, n);
    router_add(r, HTTP_M_GET, "/api/v1/admin/notifications/{id}", get_h, n);
    router_add(r, HTTP_M_POST, "/api/v1/admin/notifications/{id}/cancel", cancel_h, n);
    router_add(r, HTTP_M_GET, "/api/v1/admin/deliveries", deliveries_h, n);
    router_add(r, HTTP_M_GET, "/api/v1/admin/deliveries/{id}", delivery_h, n);
    router_add(r, HTTP_M_POST, "/api/v1/admin/deliveries/{id}/retry", retry_h, n);
    router_add(r, HTTP_M_GET, "/api/v1/admin/stats", stats_h, n);
}
