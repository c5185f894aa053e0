/*
 * /admin/apps (tenants: list, get, create with a first secret, patch, secret
 * rotation with a grace period) and /admin/audit-log. An operator limited to
 * some apps sees only those: another app's id is a 404.
 */
#include "internal.h"

#include "console/console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/tokens.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/json_check.h"
#include "core/rand.h"
#include "core/xalloc.h"
#include "identity/apps.h"
#include "identity/identity.h"
#include "identity/revoke.h"
#include "net/http.h"
#include "router/router.h"
#include "store/sql.h"
#include "store/store.h"

#define GRACE_MAX_S (30 * 24 * 3600)

/* The path's app {id} if the caller has perm on it; NULL after answering 404. */
static const char *app_in_scope(struct http_req *req, const struct console_op *who,
                                const char *perm)
{
    const char *id = http_req_param(req, "id");
    if (id == NULL || !kit_name_is_valid(id, 64) || !console__can(who, perm, id)) {
        http_respond_err(req, ERR_NOTFOUND, "no such app", NULL);
        return NULL;
    }
    return id;
}

static void finish_app(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    const struct store_rows *r = store_result_step(j->res, -1);
    if (j->status == 0 && (r == NULL || r->nrows == 0))
        j->status = ERR_NOTFOUND;
    if (j->status != 0) {
        if (j->status == ERR_EXISTS) {
            http_respond_error(j->req, 409, "conflict", "an app with this key exists", "key");
            return;
        }
        console__respond_store_err(j->req, j->status, "app");
        return;
    }
    const char *app_id = store_rows_text(r, 0, 0);
    if (c->n2 == 1) /* disabled: its tokens go, its users' sockets close */
        revoke_subject(c->id->revoke, REVOKE_APP, "", app_id);
    cJSON *o = console_row_json(r, 0, "allow_register", NULL);
    if (c->secret)
        cJSON_AddStringToObject(o, "secret", c->secret); /* shown once */
    console__respond(j->req, (int)c->n1, o);
    cJSON_Delete(o);
}

/* ---- GET /admin/apps */

/* the apps and the audit log: an app's flag, an entry's detail */
static const struct console_shape APPS_PAGE = {"app", "allow_register", "detail"};

static void apps_list(struct http_req *req, const struct console_op *who, void *ud)
{
    struct kit_job *j;
    struct store_op *op;
    char *pat = NULL;
    if (console__search_pattern(req, &pat) != 0)
        return;
    if (!console__page_job(req, ud, who, &APPS_PAGE, &j, &op)) {
        free(pat);
        return;
    }
    char *scope = console__apps_json(who, "apps:read");
    store_op_add(op, &SQL_APPS_COUNT_SCOPED);
    store_bind_text(op, scope);
    store_bind_text(op, pat);
    store_op_add(op, &SQL_APPS_PAGE_SCOPED);
    store_bind_text(op, scope);
    store_bind_text(op, pat);
    console__bind_page(j, op);
    free(scope);
    free(pat);
    kit_store(j, op, KIT_READ, console__finish_page);
}

static void apps_get(struct http_req *req, const struct console_op *who, void *ud)
{
    const char *id = app_in_scope(req, who, "apps:read");
    if (id == NULL)
        return;
    struct kit_job *j = console__job_new(req, ud, who);
    struct cctx *c = console__ctx(j);
    c->n1 = 200;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_APPS_GET);
    store_bind_text(op, id);
    kit_store(j, op, KIT_READ, finish_app);
}

/* The settings of a create or patch body (the kit decoder's target). */
struct app_fields {
    const char *name, *status, *key; /* NULL: not given */
    int allow_register;              /* -1: not given */
    int64_t rps, burst, quota;       /* KIT_INT_ABSENT (< 0): not given */
};

#define APP_COMMON_FIELDS                                                                          \
    {.name = "status", .kind = KIT_STRING, .max = 16, .at = KIT_AT(struct app_fields, status)},    \
        {.name = "allow_register",                                                                 \
         .kind = KIT_BOOL,                                                                         \
         .at = KIT_AT(struct app_fields, allow_register)},                                         \
        {.name = "rate_limit_rps",                                                                 \
         .kind = KIT_INT,                                                                          \
         .max = 1000000,                                                                           \
         .at = KIT_AT(struct app_fields, rps)},                                                    \
        {.name = "rate_limit_burst",                                                               \
         .kind = KIT_INT,                                                                          \
         .max = 1000000,                                                                           \
         .at = KIT_AT(struct app_fields, burst)},                                                  \
    {                                                                                              \
        .name = "daily_quota", .kind = KIT_INT, .max = 1000000000,                                 \
        .at = KIT_AT(struct app_fields, quota)                                                     \
    }

static const struct kit_field app_create_fields[] = {
    {.name = "name",
     .kind = KIT_STRING,
     .flags = KIT_REQUIRED | KIT_LINE,
     .min = 1,
     .max = APP_NAME_MAX,
     .at = KIT_AT(struct app_fields, name)},
    {.name = "key", .kind = KIT_NAME, .max = APP_KEY_MAX, .at = KIT_AT(struct app_fields, key)},
    APP_COMMON_FIELDS,
    {.name = NULL},
};
static const struct kit_field app_patch_fields[] = {
    {.name = "name",
     .kind = KIT_STRING,
     .flags = KIT_LINE,
     .max = APP_NAME_MAX,
     .at = KIT_AT(struct app_fields, name)},
    APP_COMMON_FIELDS,
    {.name = NULL},
};
static const struct kit_table app_create_table = {.fields = app_create_fields};
/* the key of an app is fixed once made */
static const struct kit_table app_patch_table = {.fields = app_patch_fields,
                                                 .unknown = "unknown or fixed field"};

/* Reads and decodes a create or patch body into f; NULL after answering 4xx. */
static cJSON *app_body(struct http_req *req, bool create, struct app_fields *f)
{
    cJSON *b = kit_body(req, create ? &app_create_table : &app_patch_table, f);
    if (b != NULL && f->status && strcmp(f->status, "active") != 0 &&
        strcmp(f->status, "disabled") != 0) {
        console__invalid(req, "status", "must be active or disabled");
        cJSON_Delete(b);
        return NULL;
    }
    return b;
}

static void bind_opt(struct store_op *op, int64_t v)
{
    if (v < 0)
        store_bind_null(op);
    else
        store_bind_int(op, v);
}

/* The audit detail of app.create: what identifies the new app (never its secret). */
static cJSON *create_detail(const char *name, const char *key, const char *app_id)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "name", name);
    cJSON_AddStringToObject(d, "key", key);
    cJSON_AddStringToObject(d, "id", app_id);
    return d;
}

static void apps_create(struct http_req *req, const struct console_op *who, void *ud)
{
    struct app_fields f;
    cJSON *b = app_body(req, true, &f);
    if (b == NULL)
        return;
    struct kit_job *j = console__job_new(req, ud, who);
    struct cctx *c = console__ctx(j);
    c->body = b;
    c->n1 = 201;
    const char *key = f.key;
    char app_id[33], gen[40], hash[TOKEN_HASH_HEX + 1], secret[TOKEN_LEN + 1];
    rand_hex(app_id, 16);
    if (key == NULL) {
        char hex[25];
        rand_hex(hex, 12);
        snprintf(gen, sizeof(gen), "ak_%s", hex);
        key = gen;
    }
    token_generate(secret);
    if (token_hash(secret, c->id->secret_key, hash) != 0) {
        http_respond_err(req, ERR_BACKEND, "internal error", NULL);
        goto done;
    }
    c->secret = kit_secret_dup(j, secret);
    explicit_bzero(secret, sizeof(secret));
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_APPS_INSERT);
    store_bind_text(op, app_id);
    store_bind_text(op, f.name);
    store_bind_text(op, key);
    bind_opt(op, f.allow_register);
    bind_opt(op, f.rps);
    bind_opt(op, f.burst);
    bind_opt(op, f.quota);
    store_bind_int(op, now);
    store_op_add(op, &SQL_APP_SECRETS_INSERT_RETURNING);
    store_bind_text(op, app_id);
    store_bind_text(op, hash);
    store_bind_text(op, c->secret + TOKEN_LEN - 4);
    store_bind_int(op, now);
    cJSON *detail = create_detail(f.name, key, app_id);
    console__audit(op, who, app_id, "app.create", app_id, detail, now); /* never the secret */
    cJSON_Delete(detail);
    store_op_add(op, &SQL_APPS_GET);
    store_bind_text(op, app_id);
    kit_store(j, op, KIT_WRITE, finish_app);
    return;
done:
    kit_job_end(j);
}

static void apps_patch(struct http_req *req, const struct console_op *who, void *ud)
{
    const char *id = app_in_scope(req, who, "apps:write");
    if (id == NULL)
        return;
    struct app_fields f;
    cJSON *b = app_body(req, false, &f);
    if (b == NULL)
        return;
    struct kit_job *j = console__job_new(req, ud, who);
    struct cctx *c = console__ctx(j);
    c->body = b;
    c->n1 = 200;
    c->n2 = f.status && strcmp(f.status, "disabled") == 0;
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_APPS_UPDATE);
    store_bind_text(op, id);
    store_bind_text(op, f.name);
    store_bind_text(op, f.status);
    bind_opt(op, f.allow_register);
    bind_opt(op, f.rps);
    bind_opt(op, f.burst);
    bind_opt(op, f.quota);
    store_bind_int(op, now);
    store_op_require_row(op);
    console__audit(op, who, id, "app.update", id, b, now);
    if (c->n2 == 1) { /* its users' sessions end in the same write */
        store_op_add(op, &SQL_REFRESH_TOKENS_REVOKE_APP);
        store_bind_text(op, id);
        store_bind_int(op, now);
    }
    store_op_add(op, &SQL_APPS_GET);
    store_bind_text(op, id);
    kit_store(j, op, KIT_WRITE, finish_app);
}

/* ---- secrets */

static void finish_secret(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    if (j->status != 0) {
        console__respond_store_err(j->req, j->status, "app");
        return;
    }
    const struct store_rows *r = store_result_step(j->res, c->n2 ? 1 : 0);
    cJSON *o = console_row_json(r, 0, NULL, NULL);
    cJSON_AddStringToObject(o, "secret", c->secret); /* shown once */
    console__respond(j->req, 201, o);
    cJSON_Delete(o);
}

struct rotate_in {
    int64_t grace;
};
static const struct kit_field rotate_fields[] = {
    {.name = "grace_seconds",
     .kind = KIT_INT,
     .max = GRACE_MAX_S,
     .at = KIT_AT(struct rotate_in, grace)},
    {.name = NULL},
};
static const struct kit_table rotate_table = {.fields = rotate_fields};

static void secrets_rotate(struct http_req *req, const struct console_op *who, void *ud)
{
    const char *id = app_in_scope(req, who, "apps:write");
    if (id == NULL)
        return;
    int64_t grace = 86400;
    size_t len = 0;
    http_req_body(req, &len);
    struct kit_job *j = console__job_new(req, ud, who);
    struct cctx *c = console__ctx(j);
    if (len > 0) {
        struct rotate_in in;
        if ((c->body = kit_body(req, &rotate_table, &in)) == NULL)
            goto done;
        if (in.grace != KIT_INT_ABSENT)
            grace = in.grace;
    }
    char hash[TOKEN_HASH_HEX + 1], secret[TOKEN_LEN + 1];
    token_generate(secret);
    if (token_hash(secret, c->id->secret_key, hash) != 0) {
        http_respond_err(req, ERR_BACKEND, "internal error", NULL);
        goto done;
    }
    c->secret = kit_secret_dup(j, secret);
    explicit_bzero(secret, sizeof(secret));
    c->n2 = 1; /* the new secret's row is in step 1 */
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_APP_SECRETS_EXPIRE);
    store_bind_text(op, id);
    store_bind_int(op, now + grace * 1000);
    store_op_add(op, &SQL_APP_SECRETS_INSERT_RETURNING);
    store_bind_text(op, id);
    store_bind_text(op, hash);
    store_bind_text(op, c->secret + TOKEN_LEN - 4);
    store_bind_int(op, now);
    store_op_require_row(op); /* the app exists (foreign key) */
    cJSON *detail = cJSON_CreateObject();
    cJSON_AddNumberToObject(detail, "grace_seconds", (double)grace);
    console__audit(op, who, id, "app.secret.rotate", id, detail, now);
    cJSON_Delete(detail);
    kit_store(j, op, KIT_WRITE, finish_secret);
    return;
done:
    kit_job_end(j);
}

static const struct console_shape secret_shape = {.what = "app"};

/* Steps: the app (0), then the count (1) and the page (2) of its secrets. */
static void finish_secret_list(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    if (j->status != 0) {
        console__respond_store_err(j->req, j->status, c->shape->what);
        return;
    }
    const struct store_rows *app = store_result_step(j->res, 0);
    if (app == NULL || app->nrows == 0) {
        http_respond_err(j->req, ERR_NOTFOUND, "no such app", NULL);
        return;
    }
    cJSON *o = console_page_json(store_result_step(j->res, 1), store_result_step(j->res, 2), c->n1,
                                 c->n2, NULL, NULL);
    console__respond(j->req, 200, o);
    cJSON_Delete(o);
}

static void secrets_list(struct http_req *req, const struct console_op *who, void *ud)
{
    const char *id = app_in_scope(req, who, "apps:read");
    struct kit_job *j;
    struct store_op *op;
    if (id == NULL || !console__page_job(req, ud, who, &secret_shape, &j, &op))
        return;
    store_op_add(op, &SQL_APPS_GET);
    store_bind_text(op, id);
    store_op_add(op, &SQL_APP_SECRETS_COUNT);
    store_bind_text(op, id);
    store_op_add(op, &SQL_APP_SECRETS_PAGE);
    store_bind_text(op, id);
    console__bind_page(j, op);
    kit_store(j, op, KIT_READ, finish_secret_list);
}

static void finish_deleted(struct kit_job *j)
{
    if (j->status != 0) {
        console__respond_store_err(j->req, j->status, "secret");
        return;
    }
    http_respond(j->req, 204, NULL, "", 0);
}

static void secrets_delete(struct http_req *req, const struct console_op *who, void *ud)
{
    const char *id = app_in_scope(req, who, "apps:write");
    if (id == NULL)
        return;
    const char *sid = http_req_param(req, "secret_id");
    char *end = NULL;
    long long s = sid ? strtoll(sid, &end, 10) : 0;
    if (sid == NULL || *end != '\0' || s < 1) {
        http_respond_err(req, ERR_NOTFOUND, "no such secret", NULL);
        return;
    }
    struct kit_job *j = console__job_new(req, ud, who);
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_APP_SECRETS_DELETE);
    store_bind_text(op, id);
    store_bind_int(op, s);
    store_op_require_row(op);
    console__audit(op, who, id, "app.secret.delete", sid, NULL, now);
    kit_store(j, op, KIT_WRITE, finish_deleted);
}

/* ---- CLI: herald app create / herald app secret */

/* The CLI as the audit log names it (as `herald admin` does). */
static void cli_who(struct console_op *who)
{
    memset(who, 0, sizeof(*who));
    snprintf(who->name, sizeof(who->name), "cli");
    snprintf(who->ip, sizeof(who->ip), "local");
}

int console_app_create(struct identity *id, const char *name, char key_out[APP_KEY_MAX + 1],
                       char secret_out[TOKEN_LEN + 1])
{
    /* as the API takes it: 1..APP_NAME_MAX characters of UTF-8 on one line */
    if (name == NULL || !json_utf8_is_valid(name, strlen(name)) || !kit_is_one_line(name))
        return ERR_INVAL;
    size_t nlen = kit_utf8_len(name);
    if (nlen == 0 || nlen > APP_NAME_MAX)
        return ERR_INVAL;
    char app_id[33], hex[25], hash[TOKEN_HASH_HEX + 1];
    rand_hex(app_id, 16);
    rand_hex(hex, 12);
    snprintf(key_out, APP_KEY_MAX + 1, "ak_%s", hex);
    token_generate(secret_out);
    int rc = token_hash(secret_out, id->secret_key, hash);
    if (rc != 0)
        return rc;
    struct console_op who;
    cli_who(&who);
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_APPS_INSERT);
    store_bind_text(op, app_id);
    store_bind_text(op, name);
    store_bind_text(op, key_out);
    for (int i = 0; i < 4; i++)
        store_bind_null(op); /* allow_register, rps, burst, quota: the defaults */
    store_bind_int(op, now);
    store_op_add(op, &SQL_APP_SECRETS_INSERT_RETURNING);
    store_bind_text(op, app_id);
    store_bind_text(op, hash);
    store_bind_text(op, secret_out + TOKEN_LEN - 4);
    store_bind_int(op, now);
    cJSON *detail = create_detail(name, key_out, app_id);
    console__audit(op, &who, app_id, "app.create", app_id, detail, now);
    cJSON_Delete(detail);
    return store_write_wait(id->store, op, NULL);
}

int console_app_secret_add(struct identity *id, const char *key, char secret_out[TOKEN_LEN + 1])
{
    if (key == NULL || key[0] == '\0' || strlen(key) > APP_KEY_MAX)
        return ERR_NOTFOUND;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_APPS_ID_BY_KEY);
    store_bind_text(op, key);
    struct store_result *res = NULL;
    int rc = store_read_wait(id->store, op, &res);
    const struct store_rows *r = rc == 0 ? store_result_step(res, 0) : NULL;
    const char *found = r && r->nrows > 0 ? store_rows_text(r, 0, 0) : NULL;
    char app_id[65] = "";
    if (found)
        snprintf(app_id, sizeof(app_id), "%s", found);
    store_result_free(res);
    if (rc != 0)
        return rc;
    if (app_id[0] == '\0')
        return ERR_NOTFOUND;

    char hash[TOKEN_HASH_HEX + 1];
    token_generate(secret_out);
    if ((rc = token_hash(secret_out, id->secret_key, hash)) != 0)
        return rc;
    struct console_op who;
    cli_who(&who);
    int64_t now = clock_wall_ms();
    op = store_op_new();
    store_op_add(op, &SQL_APP_SECRETS_INSERT_RETURNING);
    store_bind_text(op, app_id);
    store_bind_text(op, hash);
    store_bind_text(op, secret_out + TOKEN_LEN - 4);
    store_bind_int(op, now);
    store_op_require_row(op);
    cJSON *detail = cJSON_CreateObject();
    cJSON_AddStringToObject(detail, "key", key); /* older secrets stay valid: no grace */
    console__audit(op, &who, app_id, "app.secret.add", app_id, detail, now);
    cJSON_Delete(detail);
    return store_write_wait(id->store, op, NULL);
}

/* ---- GET /admin/audit-log */

/* ?name= as an id-like filter: 1 given, 0 absent, -1 after answering 422 (bad or too long). */
static int query_filter(struct http_req *req, const char *name, char *out, size_t outlen)
{
    int n = http_req_query_param(req, name, out, outlen);
    if (n > 0 && kit_name_is_valid(out, outlen - 1))
        return 1;
    if (n == 0)
        return 0;
    if (n < 0) { /* absent, or longer than out: look for it in the raw query */
        const char *q = http_req_query(req);
        size_t len = strlen(name);
        bool seen = false;
        for (const char *p = q; p && *p && !seen; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL)
            seen = strncmp(p, name, len) == 0 && p[len] == '=';
        if (!seen)
            return 0;
    }
    console__invalid(req, name, "must be 1-64 characters of A-Z a-z 0-9 _ - . @");
    return -1;
}

static void audit_list(struct http_req *req, const struct console_op *who, void *ud)
{
    int64_t page, size;
    if (!console__paging(req, &page, &size))
        return;
    char action[65], opid[65];
    int has_action = query_filter(req, "action", action, sizeof(action));
    int has_op = has_action < 0 ? -1 : query_filter(req, "operator_id", opid, sizeof(opid));
    if (has_action < 0 || has_op < 0)
        return;
    struct kit_job *j = console__job_new(req, ud, who);
    struct cctx *c = console__ctx(j);
    c->n1 = page;
    c->n2 = size;
    c->shape = &APPS_PAGE;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_AUDIT_LOG_COUNT);
    store_bind_text(op, has_action ? action : NULL);
    store_bind_text(op, has_op ? opid : NULL);
    store_op_add(op, &SQL_AUDIT_LOG_PAGE);
    store_bind_text(op, has_action ? action : NULL);
    store_bind_text(op, has_op ? opid : NULL);
    console__bind_page(j, op);
    kit_store(j, op, KIT_READ, console__finish_page);
}

/* ---- routes */

/* app-scoped rights: the handler checks the app */
#define SCOPED(fn, perm)                                                                           \
    static void fn##_h(struct http_req *req, void *ud)                                             \
    {                                                                                              \
        console__auth(ud, req, perm, fn, ud);                                                      \
    }

SCOPED(apps_list, "apps:read")
SCOPED(apps_get, "apps:read")
CONSOLE_GLOBAL(apps_create, "apps:write")
SCOPED(apps_patch, "apps:write")
SCOPED(secrets_list, "apps:read")
SCOPED(secrets_rotate, "apps:write")
SCOPED(secrets_delete, "apps:write")
CONSOLE_GLOBAL(audit_list, "audit:read")

void console__apps_register(struct router *r, struct identity *id)
{
    router_add(r, HTTP_M_GET, "/api/v1/admin/apps", apps_list_h, id);
    router_add(r, HTTP_M_POST, "/api/v1/admin/apps", apps_create_h, id);
    router_add(r, HTTP_M_GET, "/api/v1/admin/apps/{id}", apps_get_h, id);
    router_add(r, HTTP_M_PATCH, "/api/v1/admin/apps/{id}", apps_patch_h, id);
    router_add(r, HTTP_M_GET, "/api/v1/admin/apps/{id}/secrets", secrets_list_h, id);
    router_add(r, HTTP_M_POST, "/api/v1/admin/apps/{id}/secrets", secrets_rotate_h, id);
    router_add(r, HTTP_M_DELETE, "/api/v1/admin/apps/{id}/secrets/{secret_id}", secrets_delete_h,
               id);
    router_add(r, HTTP_M_GET, "/api/v1/admin/audit-log", audit_list_h, id);
}
