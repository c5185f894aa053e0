/*
 * /admin/roles: named sets of permissions, on every app (all_apps) or on the
 * apps listed in app_ids. Reading needs operators:read, writing roles:write,
 * both on every app. The built-in superadmin ("*" on every app) cannot be
 * changed or deleted, and nobody writes a role with rights they do not hold
 * themselves (else roles:write would be a way to every right). Every write is
 * audited in its own transaction.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/rand.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "identity/revoke.h"
#include "net/http.h"
#include "router/router.h"
#include "store/sql.h"
#include "store/store.h"

enum { ROLE_CREATE = 1, ROLE_PATCH, ROLE_DELETE }; /* cctx.n2 */

static const struct console_shape ROLE = {"role", "all_apps,builtin", "permissions,app_ids"};

static void finish_one(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    const struct store_rows *r = store_result_step(j->res, -1);
    if (j->status == 0 && (r == NULL || r->nrows == 0))
        j->status = ERR_NOTFOUND;
    if (j->status != 0) {
        console__respond_store_err(j->req, j->status, "role");
        return;
    }
    if (c->n2 == ROLE_PATCH) /* the rights of its operators changed: monitoring sockets end */
        revoke_rights_changed(c->id->revoke, "");
    cJSON *o = console_row_json(r, 0, ROLE.bools, ROLE.jsons);
    console__respond(j->req, (int)c->n1, o);
    cJSON_Delete(o);
}

static void finish_deleted(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    if (j->status != 0) {
        console__respond_store_err(j->req, j->status, "role");
        return;
    }
    revoke_rights_changed(c->id->revoke, ""); /* its operators lost it */
    http_respond(j->req, 204, NULL, "", 0);
}

/* ---- reads */

static void roles_list(struct http_req *req, const struct console_op *who, void *ud)
{
    console__list(req, ud, who, &ROLE, &SQL_ROLES_COUNT, &SQL_ROLES_PAGE);
}

static void roles_get(struct http_req *req, const struct console_op *who, void *ud)
{
    const char *id = console__path_id(req, "role");
    if (id == NULL)
        return;
    struct kit_job *j = console__job_new(req, ud, who);
    struct cctx *c = console__ctx(j);
    c->n1 = 200;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_ROLES_GET);
    store_bind_text(op, id);
    kit_store(j, op, KIT_READ, finish_one);
}

/* ---- writes: validate, check (read), write */

static bool perm_known(const char *p)
{
    for (int i = 0; console_permissions[i]; i++)
        if (strcmp(p, console_permissions[i]) == 0)
            return true;
    return false;
}

/* body.permissions without repeats (caller frees), NULL when absent; -1 after answering 422. */
/* The known permissions of perms (an array of strings, checked by the decoder), each once, in
 * *out (NULL when perms is); -1 after answering 422 naming the first unknown one. */
static int perms_of(struct http_req *req, const cJSON *perms, cJSON **out)
{
    *out = NULL;
    if (perms == NULL)
        return 0;
    cJSON *uniq = cJSON_CreateArray();
    int i = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, perms)
    {
        if (!perm_known(p->valuestring)) {
            char f[40];
            snprintf(f, sizeof(f), "permissions[%d]", i);
            console__invalid(req, f, "unknown permission");
            cJSON_Delete(uniq);
            return -1;
        }
        bool seen = false;
        const cJSON *q;
        cJSON_ArrayForEach(q, uniq) seen |= strcmp(q->valuestring, p->valuestring) == 0;
        if (!seen)
            cJSON_AddItemToArray(uniq, cJSON_CreateString(p->valuestring));
        i++;
    }
    *out = uniq;
    return 0;
}

static void roles_write(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    const cJSON *b = c->body;
    bool create = c->n2 == ROLE_CREATE;
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "name"));
    const char *desc = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "description"));
    const cJSON *apps = cJSON_GetObjectItemCaseSensitive(b, "app_ids");
    const cJSON *all = cJSON_GetObjectItemCaseSensitive(b, "all_apps");
    cJSON *perms = c->extra;
    char *perms_text = perms ? cJSON_PrintUnformatted(perms) : NULL;
    char rid[sizeof(c->text)];
    if (create)
        rand_hex(rid, 16);
    else
        snprintf(rid, sizeof(rid), "%s", c->text);
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, create ? &SQL_ROLES_INSERT : &SQL_ROLES_UPDATE);
    store_bind_text(op, rid);
    store_bind_text(op, name);
    store_bind_text(op, desc);
    store_bind_text(op, perms_text);
    if (all)
        store_bind_int(op, cJSON_IsTrue(all));
    else if (create)
        store_bind_int(op, apps ? 0 : 1); /* listing apps limits the role to them */
    else
        store_bind_null(op);
    store_bind_int(op, now);
    if (!create)
        store_op_require_row(op); /* also: the built-in superadmin is not editable */
    if (apps) {
        store_op_add(op, &SQL_ROLE_APPS_CLEAR);
        store_bind_text(op, rid);
        const cJSON *a;
        cJSON_ArrayForEach(a, apps)
        {
            store_op_add(op, &SQL_ROLE_APPS_ADD);
            store_bind_text(op, rid);
            store_bind_text(op, a->valuestring);
        }
    }
    console__audit(op, &c->op, NULL, create ? "role.create" : "role.update", rid, b, now);
    store_op_add(op, &SQL_ROLES_GET);
    store_bind_text(op, rid);
    cJSON_free(perms_text);
    kit_store(j, op, KIT_WRITE, finish_one);
}

static void roles_delete_write(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_ROLES_DELETE);
    store_bind_text(op, c->text);
    store_op_require_row(op);
    console__audit(op, &c->op, NULL, "role.delete", c->text, NULL, now);
    kit_store(j, op, KIT_WRITE, finish_deleted);
}

/* Steps: 0 the role as it is, 1 its apps, 2 the known app_ids. */
static void roles_checked(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    if (j->status != 0) {
        console__respond_store_err(j->req, j->status, "role");
        return;
    }
    const struct store_rows *cur = store_result_step(j->res, 0);
    struct console_role old = {0};
    bool have = false;
    if (c->n2 != ROLE_CREATE) {
        if (cur == NULL || cur->nrows == 0) {
            http_respond_err(j->req, ERR_NOTFOUND, "no such role", NULL);
            return;
        }
        if (store_rows_int(cur, 0, 3) != 0) { /* it exists (GET shows it): refused, not absent */
            http_respond_error(j->req, 403, "forbidden",
                               "the built-in superadmin role cannot be changed or deleted", NULL);
            return;
        }
        have = console__roles_parse(cur, store_result_step(j->res, 1), &old, 1) == 1;
        if (have && !console__covers(&c->op, &old)) {
            console__role_release(&old);
            http_respond_error(j->req, 403, "forbidden",
                               "this role has rights you do not hold yourself", NULL);
            return;
        }
    }
    if (c->n2 == ROLE_DELETE) {
        console__role_release(&old);
        roles_delete_write(j);
        return;
    }
    const cJSON *b = c->body;
    const cJSON *apps = cJSON_GetObjectItemCaseSensitive(b, "app_ids");
    const struct store_rows *known = store_result_step(j->res, 2);
    int i = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, apps)
    {
        bool found = false;
        for (int k = 0; known && k < known->nrows && !found; k++)
            found = strcmp(store_rows_text(known, k, 0), a->valuestring) == 0;
        if (!found) {
            char f[32];
            snprintf(f, sizeof(f), "app_ids[%d]", i);
            console__role_release(&old);
            console__invalid(j->req, f, "no such app (give app ids, not keys)");
            return;
        }
        i++;
    }
    /* the role as it will be must be within the caller's rights */
    const cJSON *all = cJSON_GetObjectItemCaseSensitive(b, "all_apps");
    struct console_role next = {0};
    next.perms = cJSON_Duplicate(c->extra ? c->extra : old.perms, true);
    next.apps = cJSON_Duplicate(apps ? apps : old.apps, true);
    if (next.perms == NULL)
        next.perms = cJSON_CreateArray();
    if (next.apps == NULL)
        next.apps = cJSON_CreateArray();
    next.all_apps = all ? cJSON_IsTrue(all) : have ? old.all_apps : apps == NULL;
    bool ok = console__covers(&c->op, &next);
    console__role_release(&next);
    console__role_release(&old);
    if (!ok) {
        http_respond_error(j->req, 403, "forbidden",
                           "you cannot give a role rights you do not hold yourself", "permissions");
        return;
    }
    roles_write(j);
}

static void roles_check(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    const cJSON *apps = cJSON_GetObjectItemCaseSensitive(c->body, "app_ids");
    char *ids = apps ? cJSON_PrintUnformatted(apps) : NULL;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_ROLES_CURRENT);
    store_bind_text(op, c->text);
    store_op_add(op, &SQL_ROLE_APPS_OF_ROLE);
    store_bind_text(op, c->text);
    store_op_add(op, &SQL_APPS_KNOWN);
    store_bind_text(op, ids ? ids : "[]");
    cJSON_free(ids);
    kit_store(j, op, KIT_READ, roles_checked);
}

/* A role body (the kit decoder's target). */
struct role_in {
    const char *name, *description;
    int all_apps;
    struct kit_array app_ids, permissions;
};

static const struct kit_field perm_elem = {.kind = KIT_STRING, .message = "unknown permission"};
#define ROLE_FIELDS(name_flags, perm_flags)                                                        \
    {.name = "name",                                                                               \
     .kind = KIT_NAME,                                                                             \
     .flags = name_flags,                                                                          \
     .max = ROLE_NAME_MAX,                                                                         \
     .at = KIT_AT(struct role_in, name)},                                                          \
        {.name = "description",                                                                    \
         .kind = KIT_STRING,                                                                       \
         .max = ROLE_DESC_MAX,                                                                     \
         .at = KIT_AT(struct role_in, description)},                                               \
        {.name = "permissions",                                                                    \
         .kind = KIT_ARRAY,                                                                        \
         .flags = perm_flags,                                                                      \
         .max = 64,                                                                                \
         .at = KIT_AT(struct role_in, permissions),                                                \
         .elem = &perm_elem,                                                                       \
         .message = "must be an array of permission names"},                                       \
        {.name = "all_apps", .kind = KIT_BOOL, .at = KIT_AT(struct role_in, all_apps)},            \
        CONSOLE_ID_LIST("app_ids", struct role_in, app_ids),                                       \
    {                                                                                              \
        .name = NULL                                                                               \
    }

static const struct kit_field role_create_fields[] = {ROLE_FIELDS(KIT_REQUIRED, KIT_REQUIRED)};
static const struct kit_field role_patch_fields[] = {ROLE_FIELDS(0, 0)};
static const struct kit_table role_create_table = {.fields = role_create_fields};
static const struct kit_table role_patch_table = {.fields = role_patch_fields};

static void roles_save(struct http_req *req, const struct console_op *who, void *ud, bool create)
{
    const char *id = NULL;
    if (!create && (id = console__path_id(req, "role")) == NULL)
        return;
    struct role_in in;
    cJSON *b = kit_body(req, create ? &role_create_table : &role_patch_table, &in);
    if (b == NULL)
        return;
    cJSON *perms = NULL;
    if (perms_of(req, in.permissions.json, &perms) != 0) {
        cJSON_Delete(b);
        return;
    }
    struct kit_job *j = console__job_new(req, ud, who);
    struct cctx *c = console__ctx(j);
    c->body = b;
    c->extra = perms;
    c->n1 = create ? 201 : 200;
    c->n2 = create ? ROLE_CREATE : ROLE_PATCH;
    if (id)
        snprintf(c->text, sizeof(c->text), "%s", id);
    kit_run(j, roles_check);
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
    const char *id = console__path_id(req, "role");
    if (id == NULL)
        return;
    struct kit_job *j = console__job_new(req, ud, who);
    struct cctx *c = console__ctx(j);
    c->n2 = ROLE_DELETE;
    snprintf(c->text, sizeof(c->text), "%s", id);
    roles_check(j);
}

/* ---- routes: global rights (a role on every app) */

CONSOLE_GLOBAL(roles_list, "operators:read")
CONSOLE_GLOBAL(roles_get, "operators:read")
CONSOLE_GLOBAL(roles_create, "roles:write")
CONSOLE_GLOBAL(roles_patch, "roles:write")
CONSOLE_GLOBAL(roles_delete, "roles:write")

void console__roles_register(struct router *r, struct identity *id)
{
    router_add(r, HTTP_M_GET, "/api/v1/admin/roles", roles_list_h, id);
    router_add(r, HTTP_M_POST, "/api/v1/admin/roles", roles_create_h, id);
    router_add(r, HTTP_M_GET, "/api/v1/admin/roles/{id}", roles_get_h, id);
    router_add(r, HTTP_M_PATCH, "/api/v1/admin/roles/{id}", roles_patch_h, id);
    router_add(r, HTTP_M_DELETE, "/api/v1/admin/roles/{id}", roles_delete_h, id);
}
