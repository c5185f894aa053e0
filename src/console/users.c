/*
 * GET /admin/users: end users of the apps the operator may read users in
 * (users:read), optionally one app (?app_id=, another app's id is a 404) and
 * a search (?q=, a case-insensitive substring of the user id or name).
 * PATCH /admin/apps/{id}/users/{user_id} (users:write on the app): the users
 * API's PATCH /users/{id} (docs/identity.md) for an operator, with an audit
 * row `user.update` in the same write.
 * POST /admin/apps/{id}/users/import (users:write on the app): identity_users_import_as
 * (identity/users.h) with one audit row `user.import` (the counts) in its write.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "identity/users.h"
#include "kit/media_url.h"
#include "net/http.h"
#include "router/router.h"
#include "store/sql.h"
#include "store/store.h"

#define USER_WHERE_PG                                                                              \
    " FROM users WHERE ($1::text IS NULL OR app_id IN"                                             \
    " (SELECT json_array_elements_text($1::text::json)))"                                          \
    " AND ($2::text IS NULL OR id ILIKE $2 ESCAPE '\\' OR name ILIKE $2 ESCAPE '\\')"

static void finish_page(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    if (j->status != 0) {
        console__respond_store_err(j->req, j->status, "user");
        return;
    }
    const struct store_rows *app = store_result_step(j->res, 2); /* ?app_id= named one */
    if (app != NULL && !console_app_found(j->req, app))
        return;
    cJSON *o = console_page_json(store_result_step(j->res, 0), store_result_step(j->res, 1), c->n1,
                                 c->n2, "has_password,disabled", "contacts,metadata");
    cJSON *u;
    cJSON_ArrayForEach(u, cJSON_GetObjectItemCaseSensitive(o, "results"))
    {
        const cJSON *av = cJSON_GetObjectItemCaseSensitive(u, "avatar");
        if (cJSON_IsString(av)) { /* a "/media/..." avatar absolute, as the users API writes it */
            char *abs = media_url_out(j->req, av->valuestring);
            cJSON_ReplaceItemInObjectCaseSensitive(u, "avatar", cJSON_CreateString(abs));
            free(abs);
        }
    }
    console__respond(j->req, 200, o);
    cJSON_Delete(o);
}

static void users_list(struct http_req *req, const struct console_op *who, void *ud)
{
    int64_t page, size;
    if (!console__paging(req, &page, &size))
        return;
    char app[66];
    int na = http_req_query_param(req, "app_id", app, sizeof(app));
    char *scope = NULL;
    if (na > 0) {
        if (!kit_name_is_valid(app, 64) || !console__can(who, "users:read", app)) {
            http_respond_err(req, ERR_NOTFOUND, "no such app", "app_id");
            return;
        }
        cJSON *one = cJSON_CreateArray();
        cJSON_AddItemToArray(one, cJSON_CreateString(app));
        scope = cJSON_PrintUnformatted(one);
        cJSON_Delete(one);
    } else if (na == 0 || strstr(http_req_query(req), "app_id=") != NULL) {
        http_respond_err(req, ERR_NOTFOUND, "no such app", "app_id");
        return;
    } else {
        scope = console__apps_json(who, "users:read");
    }
    char *pat = NULL;
    if (console__search_pattern(req, &pat) != 0) {
        free(scope);
        return;
    }
    struct kit_job *j = console__job_new(req, ud, who);
    struct cctx *c = console__ctx(j);
    c->n1 = page;
    c->n2 = size;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_USERS_SEARCH_COUNT);
    store_bind_text(op, scope);
    store_bind_text(op, pat);
    store_op_add(op, &SQL_USERS_SEARCH_PAGE);
    store_bind_text(op, scope);
    store_bind_text(op, pat);
    console__bind_page(j, op);
    if (na > 0)
        console_add_app_read(op, app);
    free(scope);
    free(pat);
    kit_store(j, op, KIT_READ, finish_page);
}

static void users_list_h(struct http_req *req, void *ud)
{
    console__auth(ud, req, "users:read", users_list, ud);
}

/* ---- PATCH /admin/apps/{id}/users/{user_id} */

/* What the audit row needs after the identity module's own steps: who, and the detail. */
struct user_audit {
    struct console_op who; /* id, name and ip; no roles */
    cJSON *detail; /* {"fields":[the body's member names], "disabled"?}: never a value but that */
};

static void user_audit_add(struct store_op *op, const char *app_id, const char *uid, void *ud)
{
    struct user_audit *a = ud;
    console__audit(op, &a->who, app_id, "user.update", uid, a->detail, clock_wall_ms());
}

static void user_audit_free(void *ud)
{
    struct user_audit *a = ud;
    cJSON_Delete(a->detail);
    free(a);
}

/* The member names of the body (the identity module validates it; a bad body is answered
 * there and no row is written). */
static cJSON *patch_detail(struct http_req *req)
{
    size_t len = 0;
    const char *raw = http_req_body(req, &len);
    cJSON *body = raw ? cJSON_ParseWithLength(raw, len) : NULL;
    cJSON *d = cJSON_CreateObject();
    cJSON *fields = cJSON_AddArrayToObject(d, "fields");
    const cJSON *m;
    int n = 0;
    const cJSON *obj = cJSON_IsObject(body) ? body : NULL;
    cJSON_ArrayForEach(m, obj)
    {
        if (m->string && n++ < 16)
            cJSON_AddItemToArray(fields, cJSON_CreateString(m->string));
        if (m->string && strcmp(m->string, "disabled") == 0 && cJSON_IsBool(m))
            cJSON_AddBoolToObject(d, "disabled", cJSON_IsTrue(m));
    }
    cJSON_Delete(body);
    return d;
}

static void users_patch(struct http_req *req, const struct console_op *who, void *ud)
{
    const char *app = http_req_param(req, "id");
    if (app == NULL || !kit_name_is_valid(app, 64) || !console__can(who, "users:write", app)) {
        http_respond_err(req, ERR_NOTFOUND, "no such app", NULL);
        return;
    }
    struct user_audit *a = xcalloc(1, sizeof(*a));
    /* the audit row's fields only: the roles' JSON belongs to the authentication step */
    memcpy(a->who.id, who->id, sizeof(a->who.id));
    memcpy(a->who.name, who->name, sizeof(a->who.name));
    memcpy(a->who.ip, who->ip, sizeof(a->who.ip));
    a->detail = patch_detail(req);
    struct identity_user_audit audit = {.add = user_audit_add, .free = user_audit_free, .ud = a};
    identity_users_patch_as(req, ud, app, http_req_param(req, "user_id"), &audit);
}

static void users_patch_h(struct http_req *req, void *ud)
{
    console__auth(ud, req, "users:write", users_patch, ud);
}

/* ---- POST /admin/apps/{id}/users/import */

static void import_audit_add(struct store_op *op, const char *app_id,
                             const struct identity_import_counts *n, void *ud)
{
    struct user_audit *a = ud;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "count", (double)n->count);
    cJSON_AddNumberToObject(d, "created", (double)n->created);
    cJSON_AddNumberToObject(d, "updated", (double)n->updated);
    cJSON_AddNumberToObject(d, "skipped", (double)n->skipped);
    console__audit(op, &a->who, app_id, "user.import", app_id, d, clock_wall_ms());
    cJSON_Delete(d);
}

static void users_import(struct http_req *req, const struct console_op *who, void *ud)
{
    const char *app = http_req_param(req, "id");
    if (app == NULL || !kit_name_is_valid(app, 64) || !console__can(who, "users:write", app)) {
        http_respond_err(req, ERR_NOTFOUND, "no such app", NULL);
        return;
    }
    struct user_audit *a = xcalloc(1, sizeof(*a));
    memcpy(a->who.id, who->id, sizeof(a->who.id));
    memcpy(a->who.name, who->name, sizeof(a->who.name));
    memcpy(a->who.ip, who->ip, sizeof(a->who.ip));
    struct identity_import_audit audit = {
        .add = import_audit_add, .free = user_audit_free, .ud = a};
    identity_users_import_as(req, ud, app, &audit);
}

static void users_import_h(struct http_req *req, void *ud)
{
    console__auth(ud, req, "users:write", users_import, ud);
}

void console__users_register(struct router *r, struct identity *id)
{
    router_add(r, HTTP_M_POST, "/api/v1/admin/apps/{id}/users/import", users_import_h, id);
    router_add(r, HTTP_M_GET, "/api/v1/admin/users", users_list_h, id);
    router_add(r, HTTP_M_PATCH, "/api/v1/admin/apps/{id}/users/{user_id}", users_patch_h, id);
}
