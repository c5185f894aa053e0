/*
 * Console plumbing (see internal.h): operator authentication and permission
 * checks, the request context on the kit job, audit rows and JSON helpers.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/password.h"
#include "console/console.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/workpool.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "identity/revoke.h"
#include "net/http.h"
#include "router/request.h"
#include "store/sql.h"
#include "store/store.h"
#include "kit/paging.h"

const char *const console_permissions[] = {
    "apps:read",
    "apps:write",
    "operators:read",
    "operators:write",
    "roles:write",
    "users:read",
    "users:write",
    "templates:write",
    "channels:write",
    "conversations:monitor",
    "conversations:moderate",
    "conversations:assign",
    "quick_replies:manage",
    "notifications:read",
    "notifications:write",
    "stats:read",
    "audit:read",
    NULL,
};

/* ---- permissions */

/* Whether name is perm or one of its alternatives ("notifications:read|channels:write"). */
static bool perm_matches(const char *perm, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = perm; p != NULL; p = strchr(p, '|'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && (p[n] == '\0' || p[n] == '|'))
            return true;
    }
    return false;
}

static bool has_perm(const struct console_role *r, const char *perm)
{
    const cJSON *p;
    cJSON_ArrayForEach(p, r->perms)
    {
        if (cJSON_IsString(p) &&
            (strcmp(p->valuestring, "*") == 0 || (perm && perm_matches(perm, p->valuestring))))
            return true;
    }
    return false;
}

static bool role_has_app(const struct console_role *r, const char *app_id)
{
    const cJSON *a;
    cJSON_ArrayForEach(a, r->apps)
    {
        if (cJSON_IsString(a) && strcmp(a->valuestring, app_id) == 0)
            return true;
    }
    return false;
}

bool console__can(const struct console_op *op, const char *perm, const char *app_id)
{
    for (int i = 0; i < op->nroles; i++) {
        const struct console_role *r = &op->roles[i];
        if (!has_perm(r, perm))
            continue;
        if (r->all_apps || (app_id != NULL && role_has_app(r, app_id)))
            return true;
    }
    return false;
}

char *console__apps_json(const struct console_op *op, const char *perm)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < op->nroles; i++) {
        const struct console_role *r = &op->roles[i];
        if (!has_perm(r, perm))
            continue;
        if (r->all_apps) {
            cJSON_Delete(arr);
            return NULL;
        }
        const cJSON *a;
        cJSON_ArrayForEach(a, r->apps) cJSON_AddItemToArray(arr, cJSON_Duplicate(a, false));
    }
    char *s = cJSON_PrintUnformatted(arr); /* never NULL: xalloc_json_hooks */
    cJSON_Delete(arr);
    return s;
}

void console__role_release(struct console_role *r)
{
    cJSON_Delete(r->perms);
    cJSON_Delete(r->apps);
    r->perms = r->apps = NULL;
}

static void op_release(struct console_op *op)
{
    for (int i = 0; i < op->nroles; i++)
        console__role_release(&op->roles[i]);
    op->nroles = 0;
}

/* Rows whose column c0 is the role id, c0 + 1 its permissions, c0 + 2 all_apps. */
static int roles_parse(const struct store_rows *r, int c0, const struct store_rows *apps,
                       struct console_role *out, int max)
{
    int n = 0;
    for (int i = 0; r && i < r->nrows && n < max; i++) {
        const char *rid = store_rows_text(r, i, c0);
        if (rid == NULL)
            continue;
        struct console_role *role = &out[n++];
        snprintf(role->id, sizeof(role->id), "%s", rid);
        const char *perms = store_rows_text(r, i, c0 + 1);
        role->perms = cJSON_Parse(perms ? perms : "[]");
        if (!cJSON_IsArray(role->perms)) {
            cJSON_Delete(role->perms);
            role->perms = cJSON_CreateArray();
        }
        role->all_apps = store_rows_int(r, i, c0 + 2) != 0;
        role->apps = cJSON_CreateArray();
        for (int k = 0; apps && k < apps->nrows; k++)
            if (strcmp(store_rows_text(apps, k, 0), rid) == 0)
                cJSON_AddItemToArray(role->apps, cJSON_CreateString(store_rows_text(apps, k, 1)));
    }
    return n;
}

int console__roles_parse(const struct store_rows *roles, const struct store_rows *apps,
                         struct console_role *out, int max)
{
    return roles_parse(roles, 0, apps, out, max);
}

static bool covers_one(const struct console_op *who, const struct console_role *r, const char *perm)
{
    if (r->all_apps)
        return console__can(who, perm, NULL);
    const cJSON *a;
    cJSON_ArrayForEach(a, r->apps)
    {
        if (cJSON_IsString(a) && !console__can(who, perm, a->valuestring))
            return false;
    }
    return true;
}

bool console__covers(const struct console_op *who, const struct console_role *r)
{
    const cJSON *p;
    cJSON_ArrayForEach(p, r->perms)
    {
        if (!cJSON_IsString(p))
            continue;
        if (strcmp(p->valuestring, "*") == 0) {
            for (int i = 0; console_permissions[i]; i++)
                if (!covers_one(who, r, console_permissions[i]))
                    return false;
            /* "*" also grants permissions added later: only "*" itself covers it */
            bool star = false;
            for (int i = 0; i < who->nroles && !star; i++)
                star = who->roles[i].all_apps && has_perm(&who->roles[i], NULL);
            if (!star)
                return false;
        } else if (!covers_one(who, r, p->valuestring)) {
            return false;
        }
    }
    return true;
}

/* ---- the request context */

static void cctx_free(void *ctx)
{
    struct cctx *c = ctx;
    op_release(&c->op);
    free(c->hash);
    cJSON_Delete(c->body);
    cJSON_Delete(c->extra);
    free(c);
}

struct kit_job *console__job_new(struct http_req *req, struct identity *id,
                                 const struct console_op *op)
{
    struct cctx *c = xcalloc(1, sizeof(*c));
    c->id = id;
    if (op) {
        memcpy(c->op.id, op->id, sizeof(c->op.id));
        memcpy(c->op.name, op->name, sizeof(c->op.name));
        memcpy(c->op.ip, op->ip, sizeof(c->op.ip));
        c->op.nroles = op->nroles;
        for (int i = 0; i < op->nroles; i++) {
            c->op.roles[i] = op->roles[i];
            c->op.roles[i].perms = cJSON_Duplicate(op->roles[i].perms, true);
            c->op.roles[i].apps = cJSON_Duplicate(op->roles[i].apps, true);
        }
    }
    return kit_job_new(req, id->store, id->work, c, cctx_free);
}

/* Worker thread: the hash of the context's password. */
static int hash_work(struct kit_job *j)
{
    struct cctx *c = j->ctx;
    free(c->hash);
    c->hash = NULL;
    return password_hash(c->password, strlen(c->password), &c->hash);
}

bool console__job_hash(struct kit_job *j, kit_fn next)
{
    return kit_work(j, WORKPOOL_HIGH, 0, hash_work, next);
}

/* ---- operator authentication */

struct authctx {
    struct http_req *req;
    struct identity *id;
    struct console_op op;
    const char *perm;
    console_fn fn;
    console_grant_fn grant; /* console_authorize: called instead of fn */
    void *ud;
};

static void unauthorized(struct http_req *req, const char *message)
{
    http_res_header(req, "WWW-Authenticate", "Bearer");
    http_respond_error(req, 401, "unauthorized", message, NULL);
}

static void principal_loaded(struct kit_job *j)
{
    struct authctx *a = j->ctx;
    if (j->status != 0) {
        console__respond_store_err(a->req, j->status, "operator");
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 0);
    const struct store_rows *apps = store_result_step(j->res, 1);
    if (r == NULL || r->nrows == 0 || store_rows_int(r, 0, 2) != 0) {
        unauthorized(a->req, "the operator is disabled or deleted");
        return;
    }
    snprintf(a->op.name, sizeof(a->op.name), "%s", store_rows_text(r, 0, 1));
    a->op.nroles = roles_parse(r, 3, apps, a->op.roles, CONSOLE_ROLES_MAX);
    if (a->perm != NULL && !console__can(&a->op, a->perm, NULL)) {
        /* an app-scoped right is checked by the handler against the app */
        bool scoped = false;
        for (int i = 0; i < a->op.nroles; i++)
            scoped |= has_perm(&a->op.roles[i], a->perm);
        if (!scoped) {
            http_respond_error(a->req, 403, "forbidden", "this needs the permission", a->perm);
            return;
        }
    }
    if (a->grant != NULL) {
        char *granted = console__apps_json(&a->op, a->perm);
        a->grant(a->req, a->op.id, granted, a->ud);
        free(granted);
        return;
    }
    a->fn(a->req, &a->op, a->ud);
}

static void authctx_free(void *ctx)
{
    struct authctx *a = ctx;
    op_release(&a->op);
    free(a);
}

/* The bearer token of req, or NULL. */
static const char *bearer(struct http_req *req)
{
    const char *authz = http_req_header(req, "Authorization");
    if (authz == NULL || strncasecmp(authz, "Bearer ", 7) != 0)
        return NULL;
    const char *tok = authz + 7;
    while (*tok == ' ')
        tok++;
    return tok;
}

bool console_token_is_operator(struct identity *id, const char *tok, size_t len)
{
    if (tok == NULL)
        return false;
    struct jwt_claims c;
    bool ok =
        jwt_verify(id->jwt, tok, len, JWT_TYP_OPERATOR, clock_wall_ms() / 1000, &c, NULL) == 0;
    jwt_claims_release(&c);
    return ok;
}

bool console_bearer_is_operator(struct identity *id, struct http_req *req)
{
    const char *tok = bearer(req);
    return tok != NULL && console_token_is_operator(id, tok, strlen(tok));
}

static void auth_start(struct identity *id, struct http_req *req, const char *tok, size_t len,
                       const char *perm, console_fn fn, console_grant_fn grant, void *ud);

void console__auth(struct identity *id, struct http_req *req, const char *perm, console_fn fn,
                   void *ud)
{
    const char *tok = bearer(req);
    auth_start(id, req, tok, tok ? strlen(tok) : 0, perm, fn, NULL, ud);
}

void console_authorize(struct identity *id, struct http_req *req, const char *perm,
                       console_grant_fn fn, void *ud)
{
    const char *tok = bearer(req);
    auth_start(id, req, tok, tok ? strlen(tok) : 0, perm, NULL, fn, ud);
}

void console_authorize_token(struct identity *id, struct http_req *req, const char *tok, size_t len,
                             const char *perm, console_grant_fn fn, void *ud)
{
    auth_start(id, req, tok, len, perm, NULL, fn, ud);
}

static void auth_start(struct identity *id, struct http_req *req, const char *tok, size_t len,
                       const char *perm, console_fn fn, console_grant_fn grant, void *ud)
{
    if (tok == NULL) {
        unauthorized(req, "a console token is required (Authorization: Bearer)");
        return;
    }
    struct jwt_claims c;
    if (jwt_verify(id->jwt, tok, len, JWT_TYP_OPERATOR, clock_wall_ms() / 1000, &c, NULL) != 0) {
        jwt_claims_release(&c);
        unauthorized(req, "invalid or expired console token");
        return;
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(c.json, "iatm");
    int64_t iat_ms = cJSON_IsNumber(m) ? (int64_t)m->valuedouble : c.iat * 1000;
    bool revoked = revoke_is_revoked(id->revoke, REVOKE_OPERATOR, "", c.sub, iat_ms) ||
                   strlen(c.sub) >= sizeof(((struct console_op *)0)->id);
    struct authctx *a = xcalloc(1, sizeof(*a));
    if (!revoked)
        memcpy(a->op.id, c.sub, strlen(c.sub) + 1);
    jwt_claims_release(&c);
    if (revoked || strlen(a->op.id) == 0) {
        free(a);
        unauthorized(req, "the console token was revoked");
        return;
    }
    const char *peer = http_req_peer(req);
    snprintf(a->op.ip, sizeof(a->op.ip), "%s", peer ? peer : "");
    a->req = req;
    a->id = id;
    a->perm = perm;
    a->fn = fn;
    a->grant = grant;
    a->ud = ud;
    struct kit_job *j = kit_job_new(req, id->store, NULL, a, authctx_free);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_OPERATORS_PRINCIPAL);
    store_bind_text(op, a->op.id);
    store_op_add(op, &SQL_ROLE_APPS_OF_OPERATOR);
    store_bind_text(op, a->op.id);
    kit_store(j, op, KIT_READ, principal_loaded);
}

/* ---- audit */

void console__audit(struct store_op *op, const struct console_op *who, const char *app_id,
                    const char *action, const char *target, const cJSON *detail, int64_t now)
{
    char *d = detail ? cJSON_PrintUnformatted(detail) : NULL;
    store_op_add(op, &SQL_AUDIT_LOG_INSERT);
    store_bind_text(op, who && who->id[0] ? who->id : NULL);
    store_bind_text(op, who ? who->name : "");
    store_bind_text(op, app_id);
    store_bind_text(op, action);
    store_bind_text(op, target ? target : "");
    store_bind_text(op, d ? d : "{}");
    store_bind_text(op, who ? who->ip : "");
    store_bind_int(op, now);
    cJSON_free(d);
}

/* ---- JSON helpers */

static bool listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

cJSON *console_row_json(const struct store_rows *r, int i, const char *bools, const char *jsons)
{
    cJSON *o = cJSON_CreateObject();
    for (int c = 0; c < r->ncols; c++) {
        const char *name = r->cols[c];
        const struct store_value *v = store_rows_value(r, i, c);
        if (v == NULL || v->type == STORE_NULL) {
            cJSON_AddNullToObject(o, name);
        } else if (listed(bools, name)) {
            cJSON_AddBoolToObject(o, name, store_rows_int(r, i, c) != 0);
        } else if (listed(jsons, name)) {
            cJSON *j = cJSON_Parse(store_rows_text(r, i, c));
            cJSON_AddItemToObject(o, name, j ? j : cJSON_CreateNull());
        } else if (v->type == STORE_INT) {
            cJSON_AddNumberToObject(o, name, (double)v->v.i);
        } else if (v->type == STORE_REAL) {
            cJSON_AddNumberToObject(o, name, v->v.r);
        } else {
            const char *s = store_rows_text(r, i, c);
            cJSON_AddStringToObject(o, name, s ? s : "");
        }
    }
    return o;
}

cJSON *console_page_json(const struct store_rows *count, const struct store_rows *rows,
                         int64_t page, int64_t page_size, const char *bools, const char *jsons)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = kit_page_envelope(o, count ? store_rows_int(count, 0, 0) : 0, page, page_size);
    for (int i = 0; rows && i < rows->nrows; i++)
        cJSON_AddItemToArray(arr, console_row_json(rows, i, bools, jsons));
    return o;
}

void console_add_app_read(struct store_op *op, const char *app_id)
{
    store_op_add(op, &SQL_APPS_GET);
    store_bind_text(op, app_id);
}

bool console_app_found(struct http_req *req, const struct store_rows *step)
{
    if (step != NULL && step->nrows > 0)
        return true;
    http_respond_err(req, ERR_NOTFOUND, "no such app", "app_id");
    return false;
}

bool console__paging(struct http_req *req, int64_t *page, int64_t *page_size)
{
    return kit_paging(req, page, page_size);
}

bool console__page_job(struct http_req *req, struct identity *id, const struct console_op *who,
                       const struct console_shape *shape, struct kit_job **j, struct store_op **op)
{
    int64_t page, size;
    if (!console__paging(req, &page, &size))
        return false;
    *j = console__job_new(req, id, who);
    struct cctx *c = console__ctx(*j);
    c->n1 = page;
    c->n2 = size;
    c->shape = shape;
    *op = store_op_new();
    return true;
}

void console__bind_page(struct kit_job *j, struct store_op *op)
{
    const struct cctx *c = console__ctx(j);
    store_bind_int(op, c->n2);
    store_bind_int(op, (c->n1 - 1) * c->n2);
}

void console__finish_page(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    if (j->status != 0) {
        console__respond_store_err(j->req, j->status, c->shape->what);
        return;
    }
    cJSON *o = console_page_json(store_result_step(j->res, 0), store_result_step(j->res, 1), c->n1,
                                 c->n2, c->shape->bools, c->shape->jsons);
    console__respond(j->req, 200, o);
    cJSON_Delete(o);
}

/* q as a LIKE pattern %q% with % _ \ escaped; NULL when absent or empty; -1 after a 422. */
int console__search_pattern(struct http_req *req, char **out)
{
    char q[CONSOLE_Q_MAX + 2];
    int n = http_req_query_param(req, "q", q, sizeof(q));
    *out = NULL;
    if (n < 0 && !http_req_has_query_param(req, "q"))
        return 0; /* absent; present but -1: too long */
    if (n < 0 || n > CONSOLE_Q_MAX || memchr(q, '\0', (size_t)n) != NULL) {
        console__invalid(req, "q", "must be at most 64 bytes");
        return -1;
    }
    if (n == 0)
        return 0;
    char *pat = xmalloc(2 * (size_t)n + 3), *w = pat;
    *w++ = '%';
    for (int i = 0; i < n; i++) {
        if (q[i] == '%' || q[i] == '_' || q[i] == '\\')
            *w++ = '\\';
        *w++ = q[i];
    }
    *w++ = '%';
    *w = '\0';
    *out = pat;
    return 0;
}

void console__list(struct http_req *req, struct identity *id, const struct console_op *who,
                   const struct console_shape *shape, const struct store_sql *count,
                   const struct store_sql *page)
{
    struct kit_job *j;
    struct store_op *op;
    char *pat = NULL;
    if (console__search_pattern(req, &pat) != 0)
        return;
    if (!console__page_job(req, id, who, shape, &j, &op)) {
        free(pat);
        return;
    }
    store_op_add(op, count);
    store_bind_text(op, pat);
    store_op_add(op, page);
    store_bind_text(op, pat);
    console__bind_page(j, op);
    free(pat);
    kit_store(j, op, KIT_READ, console__finish_page);
}

void console__respond_store_err(struct http_req *req, int status, const char *what)
{
    request_fail_store(req, status, what, "name");
}

void console__respond(struct http_req *req, int status, const cJSON *v)
{
    char *s = cJSON_PrintUnformatted(v); /* never NULL: xalloc_json_hooks */
    http_respond_json(req, status, s, strlen(s));
    cJSON_free(s);
}

void console__invalid(struct http_req *req, const char *field, const char *message)
{
    http_respond_error(req, 422, "validation_failed", message, field);
}

/* ---- request bodies */

const struct kit_field console__id_elem = {.kind = KIT_NAME, .max = 64, .message = "must be an id"};

const char *console__path_id(struct http_req *req, const char *what)
{
    const char *id = http_req_param(req, "id");
    if (id == NULL || !kit_name_is_valid(id, 64)) {
        char msg[64];
        snprintf(msg, sizeof(msg), "no such %s", what);
        http_respond_err(req, ERR_NOTFOUND, msg, NULL);
        return NULL;
    }
    return id;
}
