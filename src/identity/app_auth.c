/*
 * App authentication (see app_auth.h). A key + secret pair is checked by
 * hashing the presented secret with the server's secret key and comparing it
 * in constant time with the hashes of the app's unexpired secrets (several
 * during a rotation). Every check reads the store, so a new or disabled app
 * takes effect at once on every worker. An app token names its secret; the
 * secret's liveness is read from the store and cached for a second (a table
 * of APP_SECRETS_SLOTS entries indexed by secret id behind one mutex).
 */
#include "app_auth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/jwt.h"
#include "auth/tokens.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "identity/app_limits.h"
#include "identity/apps.h"
#include "identity/identity.h"
#include "identity/internal.h"
#include "identity/revoke.h"
#include "net/http.h"
#include "router/request.h"
#include "store/sql.h"
#include "store/store.h"

#define SECRET_CLAIM "secret_id" /* in app tokens: the app_secrets.id they were minted with */
#define APP_SECRETS_SLOTS 1024
#define NO_EXPIRY INT64_MAX

/* ---- the secret liveness cache */

struct secret_entry {
    int64_t secret_id; /* 0: empty slot */
    char app_id[JWT_APP_MAX + 1];
    int64_t expires_at;  /* wall ms; NO_EXPIRY; 0 when the secret is gone */
    uint64_t fetched_ms; /* monotonic */
};

struct app_secrets {
    pthread_mutex_t mu;
    struct secret_entry slots[APP_SECRETS_SLOTS];
};

struct app_secrets *app_secrets_new(void)
{
    struct app_secrets *c = xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void app_secrets_free(struct app_secrets *c)
{
    if (c == NULL)
        return;
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* 1: the secret is alive, 0: expired or gone, -1: not known (or stale): read the store. */
static int secret_cached(struct app_secrets *c, const char *app_id, int64_t secret_id)
{
    int r = -1;
    uint64_t now = clock_mono_ms();
    pthread_mutex_lock(&c->mu);
    const struct secret_entry *e = &c->slots[(uint64_t)secret_id % APP_SECRETS_SLOTS];
    if (e->secret_id == secret_id && strcmp(e->app_id, app_id) == 0 &&
        now - e->fetched_ms < APP_SECRETS_FRESH_MS)
        r = e->expires_at > clock_wall_ms();
    pthread_mutex_unlock(&c->mu);
    return r;
}

static void secret_remember(struct app_secrets *c, const char *app_id, int64_t secret_id,
                            int64_t expires_at)
{
    pthread_mutex_lock(&c->mu);
    struct secret_entry *e = &c->slots[(uint64_t)secret_id % APP_SECRETS_SLOTS];
    e->secret_id = secret_id;
    snprintf(e->app_id, sizeof(e->app_id), "%s", app_id);
    e->expires_at = expires_at;
    e->fetched_ms = clock_mono_ms();
    pthread_mutex_unlock(&c->mu);
}

static void unauthorized(struct http_req *req, const char *message)
{
    http_res_header(req, "WWW-Authenticate", "Bearer");
    http_respond_error(req, 401, "unauthorized", message, NULL);
}

/* The app's rate limit: true after answering 429. */
static bool over_limit(struct identity *id, struct http_req *req, const char *app_id)
{
    uint64_t wait = app_limits_take(id->limits, app_id, clock_mono_ms());
    if (wait == 0)
        return false;
    char v[24];
    snprintf(v, sizeof(v), "%llu", (unsigned long long)wait);
    http_res_header(req, "Retry-After", v);
    http_respond_error(req, 429, "rate_limited", "the app's request rate limit is exceeded", NULL);
    return true;
}

/* The app is authenticated: apply its rate limit, then go on. */
static void proceed(struct identity *id, struct http_req *req, const char *app_id, app_auth_fn fn,
                    void *ud)
{
    if (!over_limit(id, req, app_id))
        fn(req, app_id, ud);
}

static void token_issue(struct identity *id, struct http_req *req, const char *app_id,
                        int64_t secret_id);

/* Loop thread: the store said whether an app token's secret is alive. */
static void secret_read(struct kit_job *j)
{
    struct idctx *c = identity__ctx(j);
    if (j->status != 0) {
        identity__respond_store_err(j->req, j->status);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 0);
    int64_t expires = 0; /* gone */
    if (r && r->nrows > 0)
        expires = store_rows_value(r, 0, 0) && store_rows_value(r, 0, 0)->type == STORE_INT
                      ? store_rows_int(r, 0, 0)
                      : NO_EXPIRY;
    secret_remember(c->id->secrets, c->app_id, c->n1, expires);
    if (expires <= clock_wall_ms()) {
        unauthorized(j->req, "the app secret of this token was revoked; ask for a new app token");
        return;
    }
    proceed(c->id, j->req, c->app_id, c->cont, c->cont_ud);
}

/* Loop thread: compares the presented secret's hash with the app's secrets. */
static void secret_checked(struct kit_job *j)
{
    struct idctx *c = identity__ctx(j);
    if (j->status != 0) {
        identity__respond_store_err(j->req, j->status);
        return;
    }
    const struct store_rows *r = store_result_step(j->res, 0);
    const char *app_id = NULL;
    int64_t secret_id = 0;
    for (int i = 0; r && i < r->nrows; i++) {
        bool eq = token_hex_is_equal(store_rows_text(r, i, 1), c->text);
        if (eq && app_id == NULL) {
            app_id = store_rows_text(r, i, 0);
            secret_id = store_rows_int(r, i, 2);
        }
    }
    if (app_id == NULL) {
        unauthorized(j->req, "unknown app key or wrong secret");
        return;
    }
    if (c->n2) /* POST /auth/token: the token names the secret */
        token_issue(c->id, j->req, app_id, secret_id);
    else
        proceed(c->id, j->req, app_id, c->cont, c->cont_ud);
}

/* Looks up key and checks secret; fn on success (or, mint: an app token), 401 otherwise. */
static void check_key_secret(struct identity *id, struct http_req *req, const char *key,
                             const char *secret, bool mint, app_auth_fn fn, void *ud)
{
    char hash[TOKEN_HASH_HEX + 1];
    if (key == NULL || secret == NULL || key[0] == '\0' || strlen(key) > APP_KEY_MAX ||
        !token_is_wellformed(secret)) {
        unauthorized(req, "unknown app key or wrong secret");
        return;
    }
    if (token_hash(secret, id->secret_key, hash) != 0) {
        http_respond_err(req, ERR_BACKEND, "internal error", NULL);
        return;
    }
    struct kit_job *j = identity__job_new(req, id, NULL);
    struct idctx *c = identity__ctx(j);
    c->text = xstrdup(hash);
    c->cont = fn;
    c->cont_ud = ud;
    c->n2 = mint;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_APP_SECRETS_BY_KEY);
    store_bind_text(op, key);
    store_bind_int(op, clock_wall_ms());
    kit_store(j, op, KIT_READ, secret_checked);
}

bool identity_bearer_is_app(struct identity *id, struct http_req *req)
{
    const char *authz = http_req_header(req, "Authorization");
    if (authz == NULL || strncasecmp(authz, "Bearer ", 7) != 0)
        return false;
    const char *tok = authz + 7;
    while (*tok == ' ')
        tok++;
    struct jwt_claims c;
    bool ok =
        jwt_verify(id->jwt, tok, strlen(tok), JWT_TYP_APP, clock_wall_ms() / 1000, &c, NULL) == 0;
    jwt_claims_release(&c);
    return ok;
}

void identity_app_auth(struct identity *id, struct http_req *req, app_auth_fn fn, void *ud)
{
    const char *authz = http_req_header(req, "Authorization");
    if (authz != NULL) {
        if (strncasecmp(authz, "Bearer ", 7) != 0) {
            unauthorized(req, "use Authorization: Bearer <app token>");
            return;
        }
        const char *tok = authz + 7;
        while (*tok == ' ')
            tok++;
        struct jwt_claims c;
        if (jwt_verify(id->jwt, tok, strlen(tok), JWT_TYP_APP, clock_wall_ms() / 1000, &c, NULL) !=
            0) {
            jwt_claims_release(&c);
            unauthorized(req, "invalid or expired app token");
            return;
        }
        char app[JWT_APP_MAX + 1];
        memcpy(app, c.app, sizeof(app));
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(c.json, "iatm");
        int64_t iat_ms = cJSON_IsNumber(m) ? (int64_t)m->valuedouble : c.iat * 1000;
        const cJSON *sc = cJSON_GetObjectItemCaseSensitive(c.json, SECRET_CLAIM);
        int64_t secret_id = cJSON_IsNumber(sc) && sc->valuedouble >= 1 && sc->valuedouble < 9e15
                                ? (int64_t)sc->valuedouble
                                : 0;
        jwt_claims_release(&c);
        if (revoke_is_revoked(id->revoke, REVOKE_APP, "", app, iat_ms)) {
            unauthorized(req, "the app was disabled; ask for a new app token");
            return;
        }
        if (secret_id == 0) { /* minted before tokens named their secret */
            unauthorized(req, "an app token without its secret; ask for a new app token");
            return;
        }
        int alive = secret_cached(id->secrets, app, secret_id);
        if (alive == 0) {
            unauthorized(req, "the app secret of this token was revoked; ask for a new app token");
            return;
        }
        if (alive == 1) {
            proceed(id, req, app, fn, ud);
            return;
        }
        struct kit_job *j = identity__job_new(req, id, app);
        struct idctx *x = identity__ctx(j);
        x->n1 = secret_id;
        x->cont = fn;
        x->cont_ud = ud;
        struct store_op *op = store_op_new();
        store_op_add(op, &SQL_APP_SECRETS_ALIVE);
        store_bind_int(op, secret_id);
        store_bind_text(op, app);
        kit_store(j, op, KIT_READ, secret_read);
        return;
    }
    const char *key = http_req_header(req, "X-App-Key");
    const char *secret = http_req_header(req, "X-App-Secret");
    if (key == NULL || secret == NULL) {
        unauthorized(req, "app credentials required: X-App-Key and X-App-Secret, or a bearer "
                          "app token");
        return;
    }
    check_key_secret(id, req, key, secret, false, fn, ud);
}

/* Loop thread: the pair checked out; sign an app token that names its secret. */
static void token_issue(struct identity *id, struct http_req *req, const char *app_id,
                        int64_t secret_id)
{
    if (over_limit(id, req, app_id))
        return;
    int64_t now_ms = clock_wall_ms(), now = now_ms / 1000;
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddNumberToObject(extra, "iatm", (double)revoke_issue_ms(id->revoke)); /* revocations */
    cJSON_AddNumberToObject(extra, SECRET_CLAIM, (double)secret_id);
    struct jwt_payload p = {.typ = JWT_TYP_APP,
                            .sub = app_id,
                            .app = app_id,
                            .iat = now,
                            .exp = now + id->access_ttl_s,
                            .extra = extra};
    char *tok = NULL;
    int rc = jwt_sign(id->jwt, &p, &tok);
    cJSON_Delete(extra);
    if (rc != 0) {
        http_respond_err(req, ERR_BACKEND, "cannot sign the token", NULL);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "access_token", tok);
    cJSON_AddStringToObject(o, "token_type", "Bearer");
    cJSON_AddNumberToObject(o, "expires_in", (double)id->access_ttl_s);
    identity__respond_cjson(req, 200, o);
    cJSON_Delete(o);
    free(tok);
}

/* The POST /auth/token body (the kit decoder's target); other members are ignored. */
struct token_body {
    const char *api_key, *api_secret;
};
static const struct kit_field token_fields[] = {
    {.name = "api_key",
     .kind = KIT_STRING,
     .flags = KIT_REQUIRED,
     .at = KIT_AT(struct token_body, api_key)},
    {.name = "api_secret",
     .kind = KIT_STRING,
     .flags = KIT_REQUIRED,
     .at = KIT_AT(struct token_body, api_secret)},
    {.name = NULL},
};
static const struct kit_table token_table = {.fields = token_fields, .open = true};

void identity_auth_token_handler(struct http_req *req, void *ud)
{
    struct identity *id = ud;
    struct token_body in;
    cJSON *body = kit_body(req, &token_table, &in);
    if (body == NULL)
        return;
    check_key_secret(id, req, in.api_key, in.api_secret, true, NULL, NULL);
    cJSON_Delete(body);
}
