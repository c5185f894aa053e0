/*
 * /admin/operators: console accounts. Operator rights are global
 * (operators:read/write must come from a role on every app). Every write is
 * audited in its own transaction, and none may escalate: a caller grants only
 * roles whose rights it holds itself, and changes or deletes only operators
 * whose rights it holds (so an operators:write holder cannot take over a
 * superadmin by setting its password).
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
#include "router/request.h"
#include "router/router.h"
#include "store/sql.h"
#include "store/store.h"

/* what a job does once the escalation check passed (cctx.n2) */
enum { OPS_CREATE = 1, OPS_PATCH, OPS_DELETE };

static const struct console_shape OPERATOR = {"operator", "disabled", "roles"};

/* ---- finishing */

static void finish_one(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    const struct store_rows *r = store_result_step(j->res, -1);
    if (j->status == 0 && (r == NULL || r->nrows == 0))
        j->status = ERR_NOTFOUND;
    if (j->status != 0) { /* a duplicate: the body's member is username */
        request_fail_store(j->req, j->status, "operator", "username");
        return;
    }
    if (c->text[0]) /* disabled or new password: the operator's tokens go */
        revoke_subject(c->id->revoke, REVOKE_OPERATOR, "", c->text);
    else if (c->n2 == OPS_PATCH) /* its roles may have changed: its monitoring sockets end */
        revoke_rights_changed(c->id->revoke, store_rows_text(r, 0, 0));
    cJSON *o = console_row_json(r, 0, OPERATOR.bools, OPERATOR.jsons);
    console__respond(j->req, (int)c->n1, o);
    cJSON_Delete(o);
}

static void finish_deleted(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    if (j->status != 0) {
        console__respond_store_err(j->req, j->status, "operator");
        return;
    }
    revoke_subject(c->id->revoke, REVOKE_OPERATOR, "", c->text);
    http_respond(j->req, 204, NULL, "", 0);
}

/* ---- reads */

static void ops_list(struct http_req *req, const struct console_op *who, void *ud)
{
    console__list(req, ud, who, &OPERATOR, &SQL_OPERATORS_SEARCH_COUNT, &SQL_OPERATORS_PAGE);
}

static void ops_get(struct http_req *req, const struct console_op *who, void *ud)
{
    const char *id = console__path_id(req, "operator");
    if (id == NULL)
        return;
    struct kit_job *j = console__job_new(req, ud, who);
    struct cctx *c = console__ctx(j);
    c->n1 = 200;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_OPERATORS_GET);
    store_bind_text(op, id);
    kit_store(j, op, KIT_READ, finish_one);
}

/* ---- writes: check, (hash), write */

/* Writes an operator (create: n1 201 / patch: n1 200, text = its id) once hashed. */
static void ops_write(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    if (c->password && (j->status != 0 || c->hash == NULL)) {
        http_respond_err(j->req, ERR_BACKEND, "cannot hash the password", NULL);
        return;
    }
    const cJSON *b = c->body;
    const cJSON *roles = cJSON_GetObjectItemCaseSensitive(b, "roles");
    const cJSON *dis = cJSON_GetObjectItemCaseSensitive(b, "disabled");
    bool create = c->n2 == OPS_CREATE;
    char oid[sizeof(c->text)];
    if (create)
        rand_hex(oid, 16);
    else
        snprintf(oid, sizeof(oid), "%s", c->text);
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    if (create) {
        store_op_add(op, &SQL_OPERATORS_INSERT);
        store_bind_text(op, oid);
        store_bind_text(op, cJSON_GetObjectItemCaseSensitive(b, "username")->valuestring);
        store_bind_text(op, c->hash);
        store_bind_int(op, cJSON_IsTrue(dis));
        store_bind_int(op, now);
    } else {
        store_op_add(op, &SQL_OPERATORS_UPDATE);
        store_bind_text(op, oid);
        if (dis)
            store_bind_int(op, cJSON_IsTrue(dis));
        else
            store_bind_null(op);
        store_bind_text(op, c->hash);
        store_bind_int(op, now);
        store_op_require_row(op);
    }
    if (roles) {
        store_op_add(op, &SQL_OPERATOR_ROLES_CLEAR);
        store_bind_text(op, oid);
        const cJSON *r;
        cJSON_ArrayForEach(r, roles)
        {
            store_op_add(op, &SQL_OPERATOR_ROLES_ADD);
            store_bind_text(op, oid);
            store_bind_text(op, r->valuestring);
        }
    }
    cJSON *detail = cJSON_CreateObject();
    if (create)
        cJSON_AddStringToObject(detail, "username",
                                cJSON_GetStringValue(cJSON_GetObjectItem(b, "username")));
    if (roles)
        cJSON_AddItemToObject(detail, "roles", cJSON_Duplicate(roles, true));
    if (dis)
        cJSON_AddBoolToObject(detail, "disabled", cJSON_IsTrue(dis));
    if (c->password && !create)
        cJSON_AddBoolToObject(detail, "password_changed", true);
    console__audit(op, &c->op, NULL, create ? "operator.create" : "operator.update", oid, detail,
                   now);
    cJSON_Delete(detail);
    store_op_add(op, &SQL_OPERATORS_GET);
    store_bind_text(op, oid);
    /* a patch that disables or re-keys the operator revokes its tokens once committed */
    if (create || !(cJSON_IsTrue(dis) || c->password))
        c->text[0] = '\0';
    kit_store(j, op, KIT_WRITE, finish_one);
}

static void ops_delete_write(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_OPERATORS_DELETE);
    store_bind_text(op, c->text);
    store_op_require_row(op);
    console__audit(op, &c->op, NULL, "operator.delete", c->text, NULL, now);
    kit_store(j, op, KIT_WRITE, finish_deleted);
}

/* True when who holds every right of the roles in rows; releases nothing it keeps. */
static bool covers_all(const struct console_op *who, const struct store_rows *roles,
                       const struct store_rows *apps)
{
    struct console_role rs[CONSOLE_ROLES_MAX];
    int n = console__roles_parse(roles, apps, rs, CONSOLE_ROLES_MAX);
    bool ok = roles == NULL || roles->nrows <= CONSOLE_ROLES_MAX;
    for (int i = 0; i < n; i++) {
        ok = ok && console__covers(who, &rs[i]);
        console__role_release(&rs[i]);
    }
    return ok;
}

/* The requested roles: -1 when all exist and are covered, else the index of the first bad one
 * (*forbidden: it exists but the caller lacks some of its rights). */
static int bad_role(const struct kit_job *j, const cJSON *want, const struct store_rows *roles,
                    const struct store_rows *apps, bool *forbidden)
{
    struct console_role rs[CONSOLE_ROLES_MAX];
    int n = console__roles_parse(roles, apps, rs, CONSOLE_ROLES_MAX);
    int i = 0, bad = -1;
    const cJSON *e;
    *forbidden = false;
    cJSON_ArrayForEach(e, want)
    {
        int k = 0;
        while (k < n && strcmp(rs[k].id, e->valuestring) != 0)
            k++;
        if (k == n || !console__covers(&console__ctx(j)->op, &rs[k])) {
            *forbidden = k < n;
            bad = i;
            break;
        }
        i++;
    }
    for (int k = 0; k < n; k++)
        console__role_release(&rs[k]);
    return bad;
}

/* Steps: 0 requested roles, 1 their apps, 2 the target, 3 its roles, 4 their apps. */
static void ops_checked(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    if (j->status != 0) {
        console__respond_store_err(j->req, j->status, "operator");
        return;
    }
    const struct store_rows *target = store_result_step(j->res, 2);
    if (c->n2 != OPS_CREATE && (target == NULL || target->nrows == 0)) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such operator", NULL);
        return;
    }
    if (!covers_all(&c->op, store_result_step(j->res, 3), store_result_step(j->res, 4))) {
        http_respond_error(j->req, 403, "forbidden",
                           "this operator has rights you do not hold yourself", NULL);
        return;
    }
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(c->body, "roles");
    bool forbidden;
    int bad = want ? bad_role(j, want, store_result_step(j->res, 0), store_result_step(j->res, 1),
                              &forbidden)
                   : -1;
    if (bad >= 0) {
        char f[24];
        snprintf(f, sizeof(f), "roles[%d]", bad);
        if (forbidden)
            http_respond_error(j->req, 403, "forbidden",
                               "you cannot grant a role with rights you do not hold", f);
        else
            console__invalid(j->req, f, "no such role");
        return;
    }
    if (c->n2 == OPS_DELETE)
        ops_delete_write(j);
    else if (c->password)
        console__job_hash(j, ops_write);
    else
        ops_write(j);
}

static void ops_check(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(c->body, "roles");
    char *ids = want ? cJSON_PrintUnformatted(want) : NULL;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_ROLES_BY_IDS);
    store_bind_text(op, ids ? ids : "[]");
    store_op_add(op, &SQL_ROLE_APPS_BY_ROLE_IDS);
    store_bind_text(op, ids ? ids : "[]");
    store_op_add(op, &SQL_OPERATORS_EXISTS);
    store_bind_text(op, c->text);
    store_op_add(op, &SQL_ROLES_OF_OPERATOR);
    store_bind_text(op, c->text);
    store_op_add(op, &SQL_ROLE_APPS_OF_OPERATOR);
    store_bind_text(op, c->text);
    cJSON_free(ids);
    kit_store(j, op, KIT_READ, ops_checked);
}

/* An operator body (the kit decoder's target). */
struct ops_in {
    const char *username, *password;
    struct kit_array roles;
    int disabled;
};

static const struct kit_field ops_create_fields[] = {
    {.name = "username",
     .kind = KIT_NAME,
     .flags = KIT_REQUIRED,
     .max = OPERATOR_NAME_MAX,
     .at = KIT_AT(struct ops_in, username)},
    {.name = "password",
     .kind = KIT_STRING,
     .flags = KIT_REQUIRED | KIT_BYTES, /* the hash takes bytes */
     .min = 8,
     .max = PASSWORD_MAX_LEN,
     .at = KIT_AT(struct ops_in, password)},
    CONSOLE_ID_LIST("roles", struct ops_in, roles),
    {.name = "disabled", .kind = KIT_BOOL, .at = KIT_AT(struct ops_in, disabled)},
    {.name = NULL},
};
static const struct kit_field ops_patch_fields[] = {
    {.name = "password",
     .kind = KIT_STRING,
     .flags = KIT_BYTES,
     .min = 8,
     .max = PASSWORD_MAX_LEN,
     .at = KIT_AT(struct ops_in, password)},
    CONSOLE_ID_LIST("roles", struct ops_in, roles),
    {.name = "disabled", .kind = KIT_BOOL, .at = KIT_AT(struct ops_in, disabled)},
    {.name = NULL},
};
static const struct kit_table ops_create_table = {.fields = ops_create_fields};
static const struct kit_table ops_patch_table = {.fields = ops_patch_fields};

static void ops_save(struct http_req *req, const struct console_op *who, void *ud, bool create)
{
    const char *id = NULL;
    if (!create && (id = console__path_id(req, "operator")) == NULL)
        return;
    struct ops_in in;
    cJSON *b = kit_body(req, create ? &ops_create_table : &ops_patch_table, &in);
    if (b == NULL)
        return;
    if (id && in.disabled == 1 && strcmp(id, who->id) == 0) {
        http_respond_error(req, 409, "conflict", "an operator cannot disable itself", "disabled");
        cJSON_Delete(b);
        return;
    }
    struct kit_job *j = console__job_new(req, ud, who);
    struct cctx *c = console__ctx(j);
    c->body = b;
    c->n1 = create ? 201 : 200;
    c->n2 = create ? OPS_CREATE : OPS_PATCH;
    if (id)
        snprintf(c->text, sizeof(c->text), "%s", id);
    if (in.password) {
        c->password = kit_secret_dup(j, in.password);
        kit_wipe_member(b, "password"); /* the job holds its own copy */
    }
    kit_run(j, ops_check);
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
    const char *id = console__path_id(req, "operator");
    if (id == NULL)
        return;
    if (strcmp(id, who->id) == 0) {
        http_respond_error(req, 409, "conflict", "an operator cannot delete itself", NULL);
        return;
    }
    struct kit_job *j = console__job_new(req, ud, who);
    struct cctx *c = console__ctx(j);
    c->n2 = OPS_DELETE;
    snprintf(c->text, sizeof(c->text), "%s", id);
    ops_check(j);
}

/* ---- routes: each handler authenticates with its permission first */

CONSOLE_GLOBAL(ops_list, "operators:read")
CONSOLE_GLOBAL(ops_get, "operators:read")
CONSOLE_GLOBAL(ops_create, "operators:write")
CONSOLE_GLOBAL(ops_patch, "operators:write")
CONSOLE_GLOBAL(ops_delete, "operators:write")

void console__operators_register(struct router *r, struct identity *id)
{
    router_add(r, HTTP_M_GET, "/api/v1/admin/operators", ops_list_h, id);
    router_add(r, HTTP_M_POST, "/api/v1/admin/operators", ops_create_h, id);
    router_add(r, HTTP_M_GET, "/api/v1/admin/operators/{id}", ops_get_h, id);
    router_add(r, HTTP_M_PATCH, "/api/v1/admin/operators/{id}", ops_patch_h, id);
    router_add(r, HTTP_M_DELETE, "/api/v1/admin/operators/{id}", ops_delete_h, id);
    console__roles_register(r, id);
}
