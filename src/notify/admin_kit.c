/*
 * The console plumbing of the notification configuration (admin_kit.h): the operator check
 * through console_authorize, the job context, the /{id} load with its app-scope check, audit
 * rows, paging and JSON.
 */
#include "notify/admin_kit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console/console.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "net/http.h"
#include "router/request.h"
#include "router/router.h"
#include "store/sql.h"
#include "store/store.h"
#include "kit/paging.h"

bool notify__code_is_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || strchr("_.:-", ch)))
            return false;
    }
    return true;
}

/* ---- the job */

static void nadm_free(void *p)
{
    struct nadm *c = p;
    free(c->apps_json);
    cJSON_Delete(c->apps);
    cJSON_Delete(c->body);
    cJSON_Delete(c->extra);
    free(c->text);
    free(c);
}

static void granted(struct http_req *req, const char *operator_id, const char *apps_json, void *ud)
{
    struct nadm_route *rt = ud;
    struct nadm *c = xcalloc(1, sizeof(*c));
    c->id = rt->id;
    snprintf(c->op_id, sizeof(c->op_id), "%s", operator_id);
    const char *peer = http_req_peer(req);
    snprintf(c->ip, sizeof(c->ip), "%s", peer ? peer : "");
    if (apps_json != NULL) {
        c->apps_json = xstrdup(apps_json);
        c->apps = cJSON_Parse(apps_json);
        if (!cJSON_IsArray(c->apps)) { /* cannot: console__apps_json writes an array */
            cJSON_Delete(c->apps);
            c->apps = cJSON_CreateArray();
        }
    }
    struct kit_job *j = kit_job_new(req, rt->id->store, NULL, c, nadm_free);
    kit_run(j, rt->fn);
}

static void route_h(struct http_req *req, void *ud)
{
    struct nadm_route *rt = ud;
    console_authorize(rt->id, req, rt->perm, granted, rt);
}

void notify__adm_add(struct router *r, struct identity *id, int method, const char *pattern,
                     struct nadm_route *rt)
{
    rt->id = id;
    router_add(r, method, pattern, route_h, rt);
}

bool notify__adm_can(const struct nadm *c, const char *app_id)
{
    if (c->apps == NULL)
        return true;
    const cJSON *a;
    cJSON_ArrayForEach(a, c->apps)
    {
        if (cJSON_IsString(a) && strcmp(a->valuestring, app_id) == 0)
            return true;
    }
    return false;
}

static void not_found(struct http_req *req, const char *what)
{
    char msg[80];
    snprintf(msg, sizeof(msg), "no such %s", what);
    http_respond_err(req, ERR_NOTFOUND, msg, NULL);
}

static void loaded(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    if (j->status != 0) {
        kit_fail_store(j, c->what, NULL);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 0);
    int col = r ? store_rows_col(r, "app_id") : -1;
    const char *app = r && r->nrows > 0 && col >= 0 ? store_rows_text(r, 0, col) : NULL;
    if (app == NULL || !notify__adm_can(c, app)) {
        not_found(j->req, c->what);
        return;
    }
    snprintf(c->app_id, sizeof(c->app_id), "%s", app);
    c->then(j);
}

void notify__adm_load(struct kit_job *j, const struct store_sql *sql, const char *what, kit_fn next)
{
    struct nadm *c = notify__adm(j);
    c->what = what;
    c->then = next;
    const char *id = http_req_param(j->req, "id");
    if (id == NULL || !kit_name_is_valid(id, KIT_ID_MAX)) {
        not_found(j->req, what);
        return;
    }
    snprintf(c->obj_id, sizeof(c->obj_id), "%s", id);
    struct store_op *op = store_op_new();
    store_op_add(op, sql);
    store_bind_text(op, c->obj_id);
    kit_store(j, op, KIT_READ, loaded);
}

static void why_read(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    const struct nadm_why *w = c->why;
    if (j->status != 0) {
        kit_fail_store(j, "object", NULL);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 0);
    int col = r ? store_rows_col(r, "app_id") : -1;
    if (col < 0 && r)
        col = store_rows_col(r, "id"); /* the app itself */
    const char *app = r && r->nrows > 0 && col >= 0 ? store_rows_text(r, 0, col) : NULL;
    if (app == NULL || strcmp(app, c->app_id) != 0) {
        http_respond_error(j->req, w->missing_status,
                           w->missing_status == 404 ? "not_found" : "validation_failed",
                           w->missing_msg, w->missing_field);
        return;
    }
    http_respond_error(j->req, 409, "conflict", w->limit_msg, NULL);
}

void notify__adm_guard_failed(struct kit_job *j, const char *parent_id, const struct nadm_why *w)
{
    struct nadm *c = notify__adm(j);
    c->why = w;
    struct store_op *op = store_op_new();
    store_op_add(op, w->sql);
    store_bind_text(op, parent_id);
    kit_store(j, op, KIT_READ, why_read);
}

static bool app_id_ok(const char *s)
{
    return kit_name_is_valid(s, KIT_ID_MAX);
}

bool notify__adm_app_filter(struct kit_job *j, const char **app_id, char *buf, size_t n)
{
    if (!notify__query_text(j->req, "app_id", buf, n, app_id_ok, app_id))
        return false;
    if (*app_id != NULL && !notify__adm_can(notify__adm(j), *app_id)) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such app", "app_id");
        return false;
    }
    return true;
}

bool notify__query_text(struct http_req *req, const char *name, char *buf, size_t n,
                        bool (*ok)(const char *), const char **out)
{
    *out = NULL;
    int len = http_req_query_param(req, name, buf, n);
    if (len < 0 && http_req_has_query_param(req, name)) {
        notify__invalid(req, name, "is too long for this filter");
        return false;
    }
    if (len < 0)
        return true;
    if ((size_t)len >= n || (ok != NULL && !ok(buf))) {
        notify__invalid(req, name, "is not a valid value for this filter");
        return false;
    }
    *out = buf;
    return true;
}

struct store_op *notify__adm_delete_op(struct nadm *c, const struct store_sql *sql,
                                       const char *action)
{
    c->n1 = 204;
    struct store_op *op = store_op_new();
    store_op_add(op, sql);
    store_bind_text(op, c->app_id);
    store_bind_text(op, c->obj_id);
    store_op_require_row(op);
    notify__adm_audit(op, c, c->app_id, action, c->obj_id, NULL);
    return op;
}

void notify__adm_audit(struct store_op *op, const struct nadm *c, const char *app_id,
                       const char *action, const char *target, const cJSON *detail)
{
    char *d = detail ? cJSON_PrintUnformatted(detail) : NULL;
    store_op_add(op, &SQL_AUDIT_LOG_INSERT_BY_OPERATOR);
    store_bind_text(op, c->op_id);
    store_bind_text(op, app_id);
    store_bind_text(op, action);
    store_bind_text(op, target ? target : "");
    store_bind_text(op, d ? d : "{}");
    store_bind_text(op, c->ip);
    store_bind_int(op, clock_wall_ms());
    cJSON_free(d);
}

/* ---- paging and JSON */

bool notify__paging(struct http_req *req, int64_t *page, int64_t *page_size)
{
    return kit_paging(req, page, page_size);
}

static void list_done(struct kit_job *j)
{
    struct nadm *c = notify__adm(j);
    if (j->status != 0) {
        kit_fail_store(j, "object", NULL);
        return;
    }
    if (c->app_named && !console_app_found(j->req, store_result_step(j->res, -1)))
        return;
    notify__respond(j->req, 200,
                    console_page_json(store_result_step(j->res, 0), store_result_step(j->res, 1),
                                      c->n1, c->n2, c->bools, c->jsons));
}

void notify__adm_list(struct kit_job *j, struct store_op *op, int64_t page, int64_t page_size,
                      const char *bools, const char *jsons)
{
    struct nadm *c = notify__adm(j);
    c->n1 = page;
    c->n2 = page_size;
    c->bools = bools;
    c->jsons = jsons;
    kit_store(j, op, KIT_READ, list_done);
}

void notify__adm_list_filtered(struct kit_job *j, const struct store_sql *count,
                               const struct store_sql *page_sql, const struct notify_filter *f,
                               size_t n, const char *bools, const char *jsons)
{
    struct nadm *c = notify__adm(j);
    char abuf[80], bufs[NOTIFY_FILTERS_MAX][80];
    const char *app, *text[NOTIFY_FILTERS_MAX];
    int64_t flag[NOTIFY_FILTERS_MAX], page, size;
    if (n > NOTIFY_FILTERS_MAX || !notify__adm_app_filter(j, &app, abuf, sizeof(abuf)))
        return;
    for (size_t i = 0; i < n; i++) {
        size_t cap = f[i].size < sizeof(bufs[i]) ? f[i].size : sizeof(bufs[i]);
        if (!notify__query_text(j->req, f[i].name, bufs[i], cap, f[i].ok, &text[i]))
            return;
        flag[i] = -1;
        if (f[i].boolean && text[i] != NULL) {
            if (strcmp(text[i], "true") != 0 && strcmp(text[i], "false") != 0) {
                notify__invalid(j->req, f[i].name, "must be true or false");
                return;
            }
            flag[i] = strcmp(text[i], "true") == 0;
        }
    }
    if (!notify__paging(j->req, &page, &size))
        return;
    struct store_op *op = store_op_new();
    const struct store_sql *sqls[2] = {count, page_sql};
    for (int k = 0; k < 2; k++) {
        store_op_add(op, sqls[k]);
        store_bind_text(op, c->apps_json);
        store_bind_text(op, app);
        for (size_t i = 0; i < n; i++) {
            if (f[i].boolean)
                store_bind_int(op, flag[i]);
            else
                store_bind_text(op, text[i]);
        }
        if (k == 1) {
            store_bind_int(op, size);
            store_bind_int(op, (page - 1) * size);
        }
    }
    if (app != NULL) { /* the last step */
        console_add_app_read(op, app);
        c->app_named = true;
    }
    notify__adm_list(j, op, page, size, bools, jsons);
}

void notify__respond(struct http_req *req, int status, cJSON *v)
{
    char *s = cJSON_PrintUnformatted(v); /* never NULL: xalloc_json_hooks */
    http_respond_json(req, status, s, strlen(s));
    cJSON_free(s);
    cJSON_Delete(v);
}

void notify__invalid(struct http_req *req, const char *field, const char *message)
{
    http_respond_error(req, 422, "validation_failed", message, field);
}

cJSON *notify__adm_body(struct kit_job *j, const struct kit_table *t, void *out)
{
    struct nadm *c = notify__adm(j);
    cJSON_Delete(c->body);
    c->body = kit_body(j->req, t, out);
    return c->body;
}
