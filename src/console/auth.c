/*
 * Console login (POST /admin/auth/login, GET /admin/auth/me), the built-in
 * superadmin role, and the CLI's `herald admin create|passwd`.
 */
#include "console.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/login_guard.h"
#include "auth/password.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/workpool.h"
#include "core/xalloc.h"
#include "identity/identity.h"
#include "identity/internal.h"
#include "identity/revoke.h"
#include "net/http.h"
#include "router/router.h"
#include "store/sql.h"
#include "store/store.h"

#define SUPERADMIN_ID "superadmin"

/* ---- start-up and CLI */

int console_bootstrap(struct identity *id, bool hint)
{
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_ROLES_ENSURE_SUPERADMIN);
    store_bind_int(op, clock_wall_ms());
    int rc = store_write_wait(id->store, op, NULL);
    if (rc != 0)
        return rc;
    op = store_op_new();
    store_op_add(op, &SQL_OPERATORS_COUNT);
    struct store_result *res = NULL;
    rc = store_read_wait(id->store, op, &res);
    if (rc != 0)
        return rc;
    if (store_rows_int(store_result_step(res, 0), 0, 0) == 0 && hint)
        log_warn("console", "no console operator yet: create the first one with "
                            "'herald admin create admin' (it asks for a password)");
    store_result_free(res);
    return 0;
}

static int check_new_password(const char *password, const char **msg)
{
    size_t n = strlen(password);
    if (n < 8 || n > PASSWORD_MAX_LEN) {
        *msg = "the password must be 8 to 511 bytes";
        return ERR_INVAL;
    }
    return 0;
}

int console_admin_create(struct identity *id, const char *name, const char *password,
                         const char **msg)
{
    *msg = NULL;
    if (!kit_name_is_valid(name, OPERATOR_NAME_MAX)) {
        *msg = "the name must be 1-64 characters of A-Z a-z 0-9 _ - . @";
        return ERR_INVAL;
    }
    int rc = check_new_password(password, msg);
    if (rc != 0)
        return rc;
    char *hash = NULL;
    if ((rc = password_hash(password, strlen(password), &hash)) != 0)
        return rc;
    char oid[33];
    rand_hex(oid, 16);
    int64_t now = clock_wall_ms();
    struct console_op cli = {.name = "cli"};
    snprintf(cli.ip, sizeof(cli.ip), "local");
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_OPERATORS_INSERT_ADMIN);
    store_bind_text(op, oid);
    store_bind_text(op, name);
    store_bind_text(op, hash);
    store_bind_int(op, now);
    store_op_add(op, &SQL_OPERATOR_ROLES_INSERT);
    store_bind_text(op, oid);
    store_bind_text(op, SUPERADMIN_ID);
    console__audit(op, &cli, NULL, "operator.create", oid, NULL, now);
    rc = store_write_wait(id->store, op, NULL);
    free(hash);
    return rc;
}

int console_admin_passwd(struct identity *id, const char *name, const char *password,
                         const char **msg)
{
    *msg = NULL;
    int rc = check_new_password(password, msg);
    if (rc != 0)
        return rc;
    char *hash = NULL;
    if ((rc = password_hash(password, strlen(password), &hash)) != 0)
        return rc;
    int64_t now = clock_wall_ms();
    struct console_op cli = {.name = "cli"};
    snprintf(cli.ip, sizeof(cli.ip), "local");
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_OPERATORS_PASSWD);
    store_bind_text(op, name);
    store_bind_text(op, hash);
    store_bind_int(op, now);
    store_op_require_row(op);
    console__audit(op, &cli, NULL, "operator.password", name, NULL, now);
    struct store_result *res = NULL;
    rc = store_write_wait(id->store, op, &res);
    free(hash);
    if (rc == 0) {
        const char *oid = store_rows_text(store_result_step(res, 0), 0, 0);
        if (oid) /* every node drops the old tokens within a second (revocations table) */
            revoke_subject(id->revoke, REVOKE_OPERATOR, "", oid);
    }
    store_result_free(res);
    return rc;
}

/* ---- POST /admin/auth/login */

/* The throttling key: names are case-insensitive, so is the key (no extra tries per spelling). */
static void login_account(const struct kit_job *j, char *out, size_t n)
{
    struct cctx *c = console__ctx(j);
    int len = snprintf(out, n, "operator:%s", c->text);
    for (int i = 9; i < len && (size_t)i < n; i++)
        if (out[i] >= 'A' && out[i] <= 'Z')
            out[i] = (char)(out[i] - 'A' + 'a');
}

/*
 * Gives back the login-guard token the login took (identity__login_allowed): the password was
 * right, or it was never checked. console__ctx(j)->op.ip holds the address it was taken for.
 */
static void login_refund(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    char account[16 + sizeof(((struct cctx *)0)->text)];
    login_account(j, account, sizeof(account));
    login_guard_refund(c->id->guard, c->op.ip, account, clock_mono_ms());
}

static void login_done(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    if (j->status != 0) {
        console__respond_store_err(j->req, j->status, "operator");
        return;
    }
    const struct store_rows *r = store_result_step(j->res, -1);
    int64_t now_ms = clock_wall_ms();
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddNumberToObject(extra, "iatm", (double)revoke_issue_ms(c->id->revoke));
    cJSON_AddStringToObject(extra, "name", c->op.name);
    struct jwt_payload p = {.typ = JWT_TYP_OPERATOR,
                            .sub = c->op.id,
                            .iat = now_ms / 1000,
                            .exp = now_ms / 1000 + c->id->operator_ttl_s,
                            .extra = extra};
    char *tok = NULL;
    int rc = jwt_sign(c->id->jwt, &p, &tok);
    cJSON_Delete(extra);
    if (rc != 0) {
        http_respond_err(j->req, ERR_BACKEND, "cannot sign the token", NULL);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "access_token", tok);
    cJSON_AddStringToObject(o, "token_type", "Bearer");
    cJSON_AddNumberToObject(o, "expires_in", (double)c->id->operator_ttl_s);
    if (r && r->nrows > 0)
        cJSON_AddItemToObject(o, "operator", console_row_json(r, 0, "disabled", "roles"));
    console__respond(j->req, 200, o);
    cJSON_Delete(o);
    OPENSSL_cleanse(tok, strlen(tok));
    free(tok);
}

static void login_checked(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    const struct store_rows *r = store_result_step(j->res, 0);
    if (c->n1 != 0) { /* the guard's token stays taken */
        http_res_header(j->req, "WWW-Authenticate", "Bearer");
        http_respond_error(j->req, 401, "unauthorized", "wrong username or password", NULL);
        return;
    }
    login_refund(j);
    if (store_rows_int(r, 0, 3) != 0) {
        http_respond_error(j->req, 403, "forbidden", "the operator is disabled", NULL);
        return;
    }
    snprintf(c->op.id, sizeof(c->op.id), "%s", store_rows_text(r, 0, 0));
    snprintf(c->op.name, sizeof(c->op.name), "%s", store_rows_text(r, 0, 1));
    const char *peer = http_req_peer(j->req);
    snprintf(c->op.ip, sizeof(c->op.ip), "%s", peer ? peer : "");
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_OPERATORS_LOGGED_IN);
    store_bind_text(op, c->op.id);
    store_bind_int(op, now);
    store_bind_text(op, c->n2 ? c->hash : NULL); /* n2: the hash was upgraded */
    console__audit(op, &c->op, NULL, "operator.login", c->op.id, NULL, now);
    store_op_add(op, &SQL_OPERATORS_ME);
    store_bind_text(op, c->op.id);
    kit_store(j, op, KIT_WRITE, login_done);
}

/* Worker thread: check the password against the stored hash (or spend the time of one);
 * n1 is the result, n2 set when a legacy hash was replaced by a new one in hash. */
static int login_verify_work(struct kit_job *j)
{
    struct cctx *c = j->ctx;
    const struct store_rows *r = store_result_step(j->res, 0);
    const char *hash = r && r->nrows > 0 ? store_rows_text(r, 0, 2) : NULL;
    size_t n = strlen(c->password);
    if (hash == NULL) {
        c->n1 = password_verify_dummy(c->password, n);
    } else {
        c->n1 = password_verify(c->password, n, hash);
        if (c->n1 == 0 && password_needs_rehash(hash) &&
            password_hash(c->password, n, &c->hash) == 0)
            c->n2 = 1;
    }
    return 0;
}

static void login_found(struct kit_job *j)
{
    if (j->status != 0) {
        login_refund(j);
        console__respond_store_err(j->req, j->status, "operator");
        return;
    }
    if (!kit_work(j, WORKPOOL_HIGH, IDENTITY_HASH_PER_IP, login_verify_work, login_checked))
        login_refund(j); /* answered 429 or 503; the job lives until this returns */
}

/* A login body (the kit decoder's target); other members are ignored. */
struct login_in {
    const char *username, *password;
};
static const struct kit_field login_fields[] = {
    {.name = "username",
     .kind = KIT_STRING,
     .flags = KIT_REQUIRED,
     .min = 1,
     .max = OPERATOR_NAME_MAX,
     .at = KIT_AT(struct login_in, username)},
    {.name = "password",
     .kind = KIT_STRING,
     .flags = KIT_REQUIRED | KIT_BYTES,
     .min = 1,
     .max = PASSWORD_MAX_LEN,
     .at = KIT_AT(struct login_in, password)},
    {.name = NULL},
};
static const struct kit_table login_table = {.fields = login_fields, .open = true};

static void login_handler(struct http_req *req, void *ud)
{
    struct identity *id = ud;
    struct kit_job *j = console__job_new(req, id, NULL);
    struct cctx *c = console__ctx(j);
    struct login_in in;
    if ((c->body = kit_body(req, &login_table, &in)) == NULL)
        goto done;
    const char *name = in.username, *pw = in.password;
    /* operator names are ASCII (kit_name_is_valid): a longer name in bytes names nobody */
    if (strlen(name) > OPERATOR_NAME_MAX) {
        console__invalid(req, "username", "has a bad length");
        goto done;
    }
    snprintf(c->text, sizeof(c->text), "%s", name);
    char account[16 + sizeof(((struct cctx *)0)->text)];
    login_account(j, account, sizeof(account));
    if (!identity__login_allowed(id, req, account)) /* takes a token, given back on success */
        goto done;
    const char *peer = http_req_peer(req);
    char ip[sizeof(c->op.ip)];
    snprintf(ip, sizeof(ip), "%s", peer ? peer : "");
    memcpy(c->op.ip, ip, sizeof(ip));
    c->password = kit_secret_dup(j, pw);
    kit_wipe_member(c->body, "password"); /* the job holds its own copy */
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_OPERATORS_BY_NAME);
    store_bind_text(op, name);
    if (!kit_store(j, op, KIT_READ, login_found)) /* refused: nothing was checked */
        login_guard_refund(id->guard, ip, account, clock_mono_ms());
    return;
done:
    kit_job_end(j);
}

/* ---- GET /admin/auth/me */

static void me_done(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    const struct store_rows *r = store_result_step(j->res, 0);
    if (j->status != 0 || r == NULL || r->nrows == 0) {
        console__respond_store_err(j->req, j->status ? j->status : ERR_NOTFOUND, "operator");
        return;
    }
    cJSON *o = console_row_json(r, 0, "disabled", "roles");
    cJSON *perms = cJSON_AddArrayToObject(o, "permissions");
    for (int i = 0; console_permissions[i]; i++)
        if (console__can(&c->op, console_permissions[i], NULL))
            cJSON_AddItemToArray(perms, cJSON_CreateString(console_permissions[i]));
    console__respond(j->req, 200, o);
    cJSON_Delete(o);
}

static void me_authed(struct http_req *req, const struct console_op *who, void *ud)
{
    struct kit_job *j = console__job_new(req, ud, who);
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_OPERATORS_ME);
    store_bind_text(op, who->id);
    kit_store(j, op, KIT_READ, me_done);
}

static void me_handler(struct http_req *req, void *ud)
{
    console__auth(ud, req, NULL, me_authed, ud);
}

/* ---- POST /admin/auth/logout: every console token of the operator ends (they carry no
 * session), on every node within about a second; its monitor sockets close (4001) */

static void logout_done(struct kit_job *j)
{
    struct cctx *c = console__ctx(j);
    if (j->status != 0) {
        console__respond_store_err(j->req, j->status, "operator");
        return;
    }
    revoke_subject(c->id->revoke, REVOKE_OPERATOR, "", c->op.id);
    http_respond(j->req, 204, NULL, NULL, 0);
}

static void logout_authed(struct http_req *req, const struct console_op *who, void *ud)
{
    struct kit_job *j = console__job_new(req, ud, who);
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    console__audit(op, who, NULL, "operator.logout", who->id, NULL, now);
    kit_store(j, op, KIT_WRITE, logout_done);
}

static void logout_handler(struct http_req *req, void *ud)
{
    console__auth(ud, req, NULL, logout_authed, ud);
}

void console__auth_register(struct router *r, struct identity *id)
{
    router_add(r, HTTP_M_POST, "/api/v1/admin/auth/login", login_handler, id);
    router_add(r, HTTP_M_POST, "/api/v1/admin/auth/logout", logout_handler, id);
    router_add(r, HTTP_M_GET, "/api/v1/admin/auth/me", me_handler, id);
}
