/*
 * /admin/operators and /admin/roles: console accounts and their roles. These
 * are global rights (operators:read/write, roles:write must come from a role
 * on every app); every write is audited in its own transaction.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/rand.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "identity/revoke.h"
#include "net/http.h"
#include "router/router.h"
#include "store/store.h"

#define OP_COLS                                                                                    \
    "o.id, o.name, o.disabled, o.created_at, o.updated_at, o.last_login_at,"                       \
    " (SELECT json_group_array(role_id) FROM operator_roles WHERE operator_id = o.id) AS roles"
#define OP_COLS_PG                                                                                 \
    "o.id, o.name, o.disabled, o.created_at, o.updated_at, o.last_login_at,"                       \
    " (SELECT coalesce(json_agg(role_id), '[]'::json)::text FROM operator_roles"                   \
    " WHERE operator_id = o.id) AS roles"

static const struct store_sql sql_count = {
    .sqlite = "SELECT count(*) FROM operators",
    .pg = "SELECT count(*) FROM operators",
};
static const struct store_sql sql_page = {
    .sqlite = "SELECT " OP_COLS " FROM operators o ORDER BY o.created_at, o.id LIMIT ?1 OFFSET ?2",
    .pg = "SELECT " OP_COLS_PG " FROM operators o ORDER BY o.created_at, o.id LIMIT $1 OFFSET $2",
};
static const struct store_sql sql_get = {
    .sqlite = "SELECT " OP_COLS " FROM operators o WHERE o.id = ?1",
    .pg = "SELECT " OP_COLS_PG " FROM operators o WHERE o.id = $1",
};
static const struct store_sql sql_insert = {
    .sqlite = "INSERT INTO operators (id, name, password_hash, disabled, created_at, updated_at)"
              " VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    .pg = "INSERT INTO operators (id, name, password_hash, disabled, created_at, updated_at)"
          " VALUES ($1, $2, $3, $4, $5, $5)",
};
static const struct store_sql sql_update = {
    .sqlite = "UPDATE operators SET disabled = coalesce(?2, disabled),"
              " password_hash = coalesce(?3, password_hash), updated_at = ?4 WHERE id = ?1",
    .pg = "UPDATE operators SET disabled = coalesce($2, disabled),"
          " password_hash = coalesce($3, password_hash), updated_at = $4 WHERE id = $1",
};
static const struct store_sql sql_roles_clear = {
    .sqlite = "DELETE FROM operator_roles WHERE operator_id = ?1",
    .pg = "DELETE FROM operator_roles WHERE operator_id = $1",
};
static const struct store_sql sql_role_add = {
    .sqlite = "INSERT INTO operator_roles (operator_id, role_id) VALUES (?1, ?2)",
    .pg = "INSERT INTO operator_roles (operator_id, role_id) VALUES ($1, $2)",
};
static const struct store_sql sql_delete = {
    .sqlite = "DELETE FROM operators WHERE id = ?1",
    .pg = "DELETE FROM operators WHERE id = $1",
};
static const struct store_sql sql_role_count = {
    .sqlite = "SELECT count(*) FROM roles",
    .pg = "SELECT count(*) FROM roles",
};
static const struct store_sql sql_role_page = {
    .sqlite = "SELECT r.id, r.name, r.description, r.permissions, r.all_apps, r.builtin,"
              " (SELECT json_group_array(app_id) FROM role_apps WHERE role_id = r.id) AS app_ids,"
              " r.created_at, r.updated_at FROM roles r ORDER BY r.created_at, r.id"
              " LIMIT ?1 OFFSET ?2",
    .pg = "SELECT r.id, r.name, r.description, r.permissions, r.all_apps, r.builtin,"
          " (SELECT coalesce(json_agg(app_id), '[]'::json)::text FROM role_apps"
          " WHERE role_id = r.id) AS app_ids, r.created_at, r.updated_at FROM roles r"
          " ORDER BY r.created_at, r.id LIMIT $1 OFFSET $2",
};
static const struct store_sql sql_role_get = {
    .sqlite = "SELECT r.id, r.name, r.description, r.permissions, r.all_apps, r.builtin,"
              " (SELECT json_group_array(app_id) FROM role_apps WHERE role_id = r.id) AS app_ids,"
              " r.created_at, r.updated_at FROM roles r WHERE r.id = ?1",
    .pg = "SELECT r.id, r.name, r.description, r.permissions, r.all_apps, r.builtin,"
          " (SELECT coalesce(json_agg(app_id), '[]'::json)::text FROM role_apps"
          " WHERE role_id = r.id) AS app_ids, r.created_at, r.updated_at FROM roles r"
          " WHERE r.id = $1",
};
static const struct store_sql sql_role_insert = {
    .sqlite = "INSERT INTO roles (id, name, description, permissions, all_apps, created_at,"
              " updated_at) VALUES (?1, ?2, coalesce(?3, ''), ?4, ?5, ?6, ?6)",
    .pg = "INSERT INTO roles (id, name, description, permissions, all_apps, created_at,"
          " updated_at) VALUES ($1, $2, coalesce($3, ''), $4, $5, $6, $6)",
};
static const struct store_sql sql_role_update = {
    .sqlite = "UPDATE roles SET name = coalesce(?2, name), description = coalesce(?3, description),"
              " permissions = coalesce(?4, permissions), all_apps = coalesce(?5, all_apps),"
              " updated_at = ?6 WHERE id = ?1 AND builtin = 0",
    .pg = "UPDATE roles SET name = coalesce($2, name), description = coalesce($3, description),"
          " permissions = coalesce($4, permissions), all_apps = coalesce($5, all_apps),"
          " updated_at = $6 WHERE id = $1 AND builtin = 0",
};
static const struct store_sql sql_role_apps_clear = {
    .sqlite = "DELETE FROM role_apps WHERE role_id = ?1",
    .pg = "DELETE FROM role_apps WHERE role_id = $1",
};
static const struct store_sql sql_role_app_add = {
    .sqlite = "INSERT INTO role_apps (role_id, app_id) VALUES (?1, ?2)",
    .pg = "INSERT INTO role_apps (role_id, app_id) VALUES ($1, $2)",
};
static const struct store_sql sql_role_delete = {
    .sqlite = "DELETE FROM roles WHERE id = ?1 AND builtin = 0",
    .pg = "DELETE FROM roles WHERE id = $1 AND builtin = 0",
};

static const char *path_id(struct http_req *req)
{
    const char *id = http_req_param(req, "id");
    if (id == NULL || !console__name_ok(id, 64)) {
        http_respond_err(req, ERR_NOTFOUND, "no such object", NULL);
        return NULL;
    }
    return id;
}

/* A list of ids (roles, apps) in obj[name]: 0 and *out (borrowed), or -1 after answering. */
static int id_list(struct http_req *req, const cJSON *obj, const char *name, const cJSON **out)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, name);
    *out = NULL;
    if (a == NULL)
        return 0;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > CONSOLE_ROLES_MAX) {
        console__invalid(req, name, "must be an array of at most 32 ids");
        return -1;
    }
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        if (!cJSON_IsString(e) || !console__name_ok(e->valuestring, 64)) {
            char f[64];
            snprintf(f, sizeof(f), "%s[%d]", name, i);
            console__invalid(req, f, "must be an id");
            return -1;
        }
        i++;
    }
    *out = a;
    return 0;
}

static int bool_member(struct http_req *req, const cJSON *obj, const char *name, int *out)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, name);
    *out = -1;
    if (m == NULL)
        return 0;
    if (!cJSON_IsBool(m)) {
        console__invalid(req, name, "must be true or false");
        return -1;
    }
    *out = cJSON_IsTrue(m);
    return 0;
}

/* Refuses members not in allowed (comma list). */
static int only(struct http_req *req, const cJSON *obj, const char *allowed)
{
    if (!cJSON_IsObject(obj)) {
        console__invalid(req, "", "must be a JSON object");
        return -1;
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, obj)
    {
        size_t n = strlen(m->string);
        bool ok = false;
        for (const char *p = allowed; *p && !ok;) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            ok = len == n && strncmp(p, m->string, n) == 0;
            p = e ? e + 1 : p + len;
        }
        if (!ok) {
            console__invalid(req, m->string, "unknown field");
            return -1;
        }
    }
    return 0;
}

static cJSON *body_of(struct http_req *req)
{
    const char *ct = http_req_header(req, "Content-Type");
    if (ct == NULL || strncmp(ct, "application/json", 16) != 0) {
        http_respond_error(req, 415, "unsupported_media_type",
                           "the body must be JSON (Content-Type: application/json)", NULL);
        return NULL;
    }
    size_t len = 0;
    const char *raw = http_req_body(req, &len);
    cJSON *v = cJSON_ParseWithLength(raw, len);
    if (v == NULL)
        http_respond_error(req, 400, "invalid_json", "the body is not valid JSON", NULL);
    return v;
}

/* ---- finishing */

static void finish_one(struct cjob *j)
{
    const struct store_rows *r = store_result_step(j->res, -1);
    if (j->status == 0 && (r == NULL || r->nrows == 0))
        j->status = ERR_NOTFOUND;
    if (j->status != 0) {
        console__respond_store_err(j->req, j->status, j->n2 ? "role" : "operator");
        return;
    }
    if (j->text[0] && !j->n2) /* disabled or new password: the operator's tokens go */
        revoke_subject(j->id->revoke, REVOKE_OPERATOR, "", j->text);
    cJSON *o = console__row_json(r, 0, "disabled,all_apps,builtin", "roles,permissions,app_ids");
    console__respond(j->req, (int)j->n1, o);
    cJSON_Delete(o);
}

static void finish_page(struct cjob *j)
{
    if (j->status != 0) {
        console__respond_store_err(j->req, j->status, "operator");
        return;
    }
    cJSON *o = console__page_json(store_result_step(j->res, 0), store_result_step(j->res, 1), j->n1,
                                  j->n2, "disabled,all_apps,builtin", "roles,permissions,app_ids");
    console__respond(j->req, 200, o);
    cJSON_Delete(o);
}

static void finish_deleted(struct cjob *j)
{
    if (j->status != 0) {
        console__respond_store_err(j->req, j->status, j->n2 ? "role" : "operator");
        return;
    }
    if (!j->n2)
        revoke_subject(j->id->revoke, REVOKE_OPERATOR, "", j->text);
    http_respond(j->req, 204, NULL, "", 0);
}

static void submit(struct cjob *j, struct store_op *op, bool write, cjob_fn fin)
{
    console__job_submit(j, op, write, fin);
    if (j->finish == NULL)
        console__job_free(j);
}

/* ---- operators */

static void ops_list(struct http_req *req, const struct console_op *who, void *ud)
{
    int64_t page, size;
    if (!console__paging(req, &page, &size))
        return;
    struct cjob *j = console__job_new(req, ud, who);
    j->n1 = page;
    j->n2 = size;
    struct store_op *op = store_op_new();
    store_op_add(op, &sql_count);
    store_op_add(op, &sql_page);
    store_bind_int(op, size);
    store_bind_int(op, (page - 1) * size);
    submit(j, op, false, finish_page);
}

static void ops_get(struct http_req *req, const struct console_op *who, void *ud)
{
    const char *id = path_id(req);
    if (id == NULL)
        return;
    struct cjob *j = console__job_new(req, ud, who);
    j->n1 = 200;
    struct store_op *op = store_op_new();
    store_op_add(op, &sql_get);
    store_bind_text(op, id);
    submit(j, op, false, finish_one);
}

/* Writes an operator (create: j->n1 201, text "" / patch: n1 200) after hashing. */
static void ops_write(struct cjob *j)
{
    if (j->password && (j->status != 0 || j->hash == NULL)) {
        http_respond_err(j->req, ERR_BACKEND, "cannot hash the password", NULL);
        return;
    }
    const cJSON *b = j->body;
    const cJSON *roles = cJSON_GetObjectItemCaseSensitive(b, "roles");
    const cJSON *dis = cJSON_GetObjectItemCaseSensitive(b, "disabled");
    bool create = j->n1 == 201;
    char oid[sizeof(j->text)];
    if (create)
        rand_hex(oid, 16);
    else
        snprintf(oid, sizeof(oid), "%s", j->text);
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    if (create) {
        store_op_add(op, &sql_insert);
        store_bind_text(op, oid);
        store_bind_text(op, cJSON_GetObjectItemCaseSensitive(b, "username")->valuestring);
        store_bind_text(op, j->hash);
        store_bind_int(op, cJSON_IsTrue(dis));
        store_bind_int(op, now);
    } else {
        store_op_add(op, &sql_update);
        store_bind_text(op, oid);
        if (dis)
            store_bind_int(op, cJSON_IsTrue(dis));
        else
            store_bind_null(op);
        store_bind_text(op, j->hash);
        store_bind_int(op, now);
        store_op_require_row(op);
    }
    if (roles) {
        store_op_add(op, &sql_roles_clear);
        store_bind_text(op, oid);
        const cJSON *r;
        cJSON_ArrayForEach(r, roles)
        {
            store_op_add(op, &sql_role_add);
            store_bind_text(op, oid);
            store_bind_text(op, r->valuestring);
        }
    }
    cJSON *detail = cJSON_CreateObject();
    if (roles)
        cJSON_AddItemToObject(detail, "roles", cJSON_Duplicate(roles, true));
    if (dis)
        cJSON_AddBoolToObject(detail, "disabled", cJSON_IsTrue(dis));
    if (j->password)
        cJSON_AddBoolToObject(detail, "password_changed", true);
    console__audit(op, &j->op, NULL, create ? "operator.create" : "operator.update", oid, detail,
                   now);
    cJSON_Delete(detail);
    store_op_add(op, &sql_get);
    store_bind_text(op, oid);
    /* a patch that disables or re-keys the operator revokes its tokens once committed */
    if (create || !(cJSON_IsTrue(dis) || j->password))
        j->text[0] = '\0';
    console__job_submit(j, op, true, finish_one);
}

static void ops_save(struct http_req *req, const struct console_op *who, void *ud, bool create)
{
    const char *id = NULL;
    if (!create && (id = path_id(req)) == NULL)
        return;
    cJSON *b = body_of(req);
    if (b == NULL)
        return;
    struct cjob *j = console__job_new(req, ud, who);
    j->body = b;
    j->n1 = create ? 201 : 200;
    if (id)
        snprintf(j->text, sizeof(j->text), "%s", id);
    const char *name = NULL, *pw = NULL;
    const cJSON *roles;
    int dis;
    if (only(req, b, create ? "username,password,roles,disabled" : "password,roles,disabled") !=
            0 ||
        (create && console__str(b, "username", OPERATOR_NAME_MAX, true, true, &name, req) != 0) ||
        console__str(b, "password", PASSWORD_MAX_LEN, create, false, &pw, req) != 0 ||
        id_list(req, b, "roles", &roles) != 0 || bool_member(req, b, "disabled", &dis) != 0)
        goto done;
    if (pw && strlen(pw) < 8) {
        console__invalid(req, "password", "must be 8 to 511 bytes");
        goto done;
    }
    if (pw) {
        j->password = xstrdup(pw);
        console__job_hash(j, ops_write);
    } else {
        ops_write(j);
    }
    if (j->finish != NULL)
        return;
done:
    console__job_free(j);
}

static void ops_create(struct http_req *req, const struct console_op *who, void *ud)
{
    ops_save(req, who, ud, true);
}

static void ops_patch(struct http_req *req, const struct console_op *who, void *ud)
{
    ops_save(req, who, ud, false);
}

static void ops_delete(struct http_req *req, const struct console_op *who, void *ud)
{
    const char *id = path_id(req);
    if (id == NULL)
        return;
    if (strcmp(id, who->id) == 0) {
        http_respond_error(req, 409, "conflict", "an operator cannot delete itself", NULL);
        return;
    }
    struct cjob *j = console__job_new(req, ud, who);
    snprintf(j->text, sizeof(j->text), "%s", id);
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &sql_delete);
    store_bind_text(op, id);
    store_op_require_row(op);
    console__audit(op, who, NULL, "operator.delete", id, NULL, now);
    submit(j, op, true, finish_deleted);
}

/* ---- roles */

static void roles_list(struct http_req *req, const struct console_op *who, void *ud)
{
    int64_t page, size;
    if (!console__paging(req, &page, &size))
        return;
    struct cjob *j = console__job_new(req, ud, who);
    j->n1 = page;
    j->n2 = size;
    struct store_op *op = store_op_new();
    store_op_add(op, &sql_role_count);
    store_op_add(op, &sql_role_page);
    store_bind_int(op, size);
    store_bind_int(op, (page - 1) * size);
    submit(j, op, false, finish_page);
}

static void roles_get(struct http_req *req, const struct console_op *who, void *ud)
{
    const char *id = path_id(req);
    if (id == NULL)
        return;
    struct cjob *j = console__job_new(req, ud, who);
    j->n1 = 200;
    j->n2 = 1;
    struct store_op *op = store_op_new();
    store_op_add(op, &sql_role_get);
    store_bind_text(op, id);
    submit(j, op, false, finish_one);
}

static bool perm_known(const char *p)
{
    for (int i = 0; console_permissions[i]; i++)
        if (strcmp(p, console_permissions[i]) == 0)
            return true;
    return false;
}

static void roles_save(struct http_req *req, const struct console_op *who, void *ud, bool create)
{
    const char *id = NULL;
    if (!create && (id = path_id(req)) == NULL)
        return;
    cJSON *b = body_of(req);
    if (b == NULL)
        return;
    struct cjob *j = console__job_new(req, ud, who);
    j->body = b;
    j->n1 = create ? 201 : 200;
    j->n2 = 1; /* a role */
    const char *name = NULL, *desc = NULL;
    const cJSON *apps;
    int all;
    if (only(req, b, "name,description,permissions,all_apps,app_ids") != 0 ||
        console__str(b, "name", ROLE_NAME_MAX, create, true, &name, req) != 0 ||
        console__str(b, "description", ROLE_DESC_MAX, false, false, &desc, req) != 0 ||
        bool_member(req, b, "all_apps", &all) != 0 || id_list(req, b, "app_ids", &apps) != 0)
        goto done;
    const cJSON *perms = cJSON_GetObjectItemCaseSensitive(b, "permissions");
    char *perms_text = NULL;
    if (perms) {
        int i = 0;
        const cJSON *p;
        if (!cJSON_IsArray(perms) || cJSON_GetArraySize(perms) > 64) {
            console__invalid(req, "permissions", "must be an array of permission names");
            goto done;
        }
        cJSON_ArrayForEach(p, perms)
        {
            if (!cJSON_IsString(p) || !perm_known(p->valuestring)) {
                char f[40];
                snprintf(f, sizeof(f), "permissions[%d]", i);
                console__invalid(req, f, "unknown permission");
                goto done;
            }
            i++;
        }
        perms_text = cJSON_PrintUnformatted(perms);
    } else if (create) {
        console__invalid(req, "permissions", "is required");
        goto done;
    }
    char rid[65];
    if (create)
        rand_hex(rid, 16);
    else
        snprintf(rid, sizeof(rid), "%s", id);
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    if (create) {
        store_op_add(op, &sql_role_insert);
        store_bind_text(op, rid);
        store_bind_text(op, name);
        store_bind_text(op, desc);
        store_bind_text(op, perms_text);
        store_bind_int(op, all == -1 ? (apps ? 0 : 1) : all);
        store_bind_int(op, now);
    } else {
        store_op_add(op, &sql_role_update);
        store_bind_text(op, rid);
        store_bind_text(op, name);
        store_bind_text(op, desc);
        store_bind_text(op, perms_text);
        if (all == -1)
            store_bind_null(op);
        else
            store_bind_int(op, all);
        store_bind_int(op, now);
        store_op_require_row(op); /* also: the built-in superadmin is not editable */
    }
    if (apps) {
        store_op_add(op, &sql_role_apps_clear);
        store_bind_text(op, rid);
        const cJSON *a;
        cJSON_ArrayForEach(a, apps)
        {
            store_op_add(op, &sql_role_app_add);
            store_bind_text(op, rid);
            store_bind_text(op, a->valuestring);
        }
    }
    console__audit(op, who, NULL, create ? "role.create" : "role.update", rid, b, now);
    store_op_add(op, &sql_role_get);
    store_bind_text(op, rid);
    cJSON_free(perms_text);
    console__job_submit(j, op, true, finish_one);
    if (j->finish != NULL)
        return;
done:
    console__job_free(j);
}

static void roles_create(struct http_req *req, const struct console_op *who, void *ud)
{
    roles_save(req, who, ud, true);
}

static void roles_patch(struct http_req *req, const struct console_op *who, void *ud)
{
    roles_save(req, who, ud, false);
}

static void roles_delete(struct http_req *req, const struct console_op *who, void *ud)
{
    const char *id = path_id(req);
    if (id == NULL)
        return;
    struct cjob *j = console__job_new(req, ud, who);
    j->n2 = 1;
    snprintf(j->text, sizeof(j->text), "%s", id);
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &sql_role_delete);
    store_bind_text(op, id);
    store_op_require_row(op);
    console__audit(op, who, NULL, "role.delete", id, NULL, now);
    submit(j, op, true, finish_deleted);
}

/* ---- routes: each handler authenticates with its permission first */

#define ROUTE(fn, perm)                                                                            \
    static void fn##_h(struct http_req *req, void *ud)                                             \
    {                                                                                              \
        console__auth(ud, req, perm, fn##_global, ud);                                             \
    }

/* these rights must come from a role on every app */
#define GLOBAL(fn, perm)                                                                           \
    static void fn##_global(struct http_req *req, const struct console_op *who, void *ud)          \
    {                                                                                              \
        if (!console__can(who, perm, NULL)) {                                                      \
            http_respond_error(req, 403, "forbidden", "this needs the permission on every app",    \
                               perm);                                                              \
            return;                                                                                \
        }                                                                                          \
        fn(req, who, ud);                                                                          \
    }                                                                                              \
    ROUTE(fn, perm)

GLOBAL(ops_list, "operators:read")
GLOBAL(ops_get, "operators:read")
GLOBAL(ops_create, "operators:write")
GLOBAL(ops_patch, "operators:write")
GLOBAL(ops_delete, "operators:write")
GLOBAL(roles_list, "operators:read")
GLOBAL(roles_get, "operators:read")
GLOBAL(roles_create, "roles:write")
GLOBAL(roles_patch, "roles:write")
GLOBAL(roles_delete, "roles:write")

void console__operators_register(struct router *r, struct identity *id)
{
    router_add(r, HTTP_M_GET, "/api/v1/admin/operators", ops_list_h, id);
    router_add(r, HTTP_M_POST, "/api/v1/admin/operators", ops_create_h, id);
    router_add(r, HTTP_M_GET, "/api/v1/admin/operators/{id}", ops_get_h, id);
    router_add(r, HTTP_M_PATCH, "/api/v1/admin/operators/{id}", ops_patch_h, id);
    router_add(r, HTTP_M_DELETE, "/api/v1/admin/operators/{id}", ops_delete_h, id);
    router_add(r, HTTP_M_GET, "/api/v1/admin/roles", roles_list_h, id);
    router_add(r, HTTP_M_POST, "/api/v1/admin/roles", roles_create_h, id);
    router_add(r, HTTP_M_GET, "/api/v1/admin/roles/{id}", roles_get_h, id);
    router_add(r, HTTP_M_PATCH, "/api/v1/admin/roles/{id}", roles_patch_h, id);
    router_add(r, HTTP_M_DELETE, "/api/v1/admin/roles/{id}", roles_delete_h, id);
}
