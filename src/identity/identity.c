/*
 * The identity context and its routes (see identity.h).
 */
#include "identity.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string.h>
#include <unistd.h>

#include "auth/jwt.h"
#include "auth/login_guard.h"
#include "auth/password.h"
#include "core/workpool.h"
#include "identity/app_limits.h"
#include "identity/revoke.h"
#include "core/err.h"
#include "core/log.h"
#include "identity/app_auth.h"
#include "identity/enduser.h"
#include "identity/internal.h"
#include "identity/users.h"
#include "net/http.h"
#include "router/router.h"
#include "store/sql.h"
#include "store/store.h"

bool identity__profile_changes(const struct identity *id, const struct user_fields *f)
{
    return id->profile.add != NULL &&
           (f->name != NULL || f->avatar != NULL || f->kind != NULL || f->metadata != NULL);
}

void identity_hash_seen(struct identity *id, const char *hash)
{
    int cost = password_bcrypt_cost(hash);
    int cur = atomic_load(&id->bcrypt_cost);
    while (cost > cur && !atomic_compare_exchange_weak(&id->bcrypt_cost, &cur, cost))
        ;
}

/* Start-up: the costliest bcrypt hash stored, so unknown users cost as much from the start. */
static int load_bcrypt_cost(struct identity *id)
{
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_USERS_BCRYPT_COST);
    struct store_result *res = NULL;
    int rc = store_read_wait(id->store, op, &res);
    if (rc == 0) {
        const char *c = store_rows_text(store_result_step(res, 0), 0, 0);
        if (c && strlen(c) == 2) {
            char h[8] = "$2b$00$";
            h[4] = c[0];
            h[5] = c[1];
            identity_hash_seen(id, h);
        }
    }
    store_result_free(res);
    return rc;
}

int identity_init(struct identity *id, struct store *st, const void *jwt_secret, size_t jwt_len,
                  const uint8_t enc_key[IDENTITY_KEY_LEN], const struct identity_options *o)
{
    static const char label[] = "herald app secret hash v1";
    memset(id, 0, sizeof(*id));
    id->store = st;
    id->access_ttl_s = o->access_ttl_s;
    id->refresh_ttl_s = o->refresh_ttl_s;
    id->operator_ttl_s = o->operator_ttl_s;
    id->demo = o->demo;
    memcpy(id->enc_key, enc_key, IDENTITY_KEY_LEN);
    unsigned int n = 0;
    if (HMAC(EVP_sha256(), enc_key, IDENTITY_KEY_LEN, (const unsigned char *)label,
             sizeof(label) - 1, id->secret_key, &n) == NULL ||
        n != IDENTITY_KEY_LEN)
        return log_fail(ERR_BACKEND, "identity", "cannot derive the app secret key");
    id->jwt = jwt_key_new(jwt_secret, jwt_len);
    if (id->jwt == NULL)
        return log_fail(ERR_BACKEND, "identity", "cannot make the token signing key");
    int threads = o->hash_threads;
    if (threads <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cpus < 1 ? 1 : cpus > 16 ? 16 : (int)cpus;
    }
    id->work = workpool_new(threads, IDENTITY_HASH_QUEUE);
    id->guard = login_guard_new();
    if (id->work == NULL || id->guard == NULL)
        return log_fail(ERR_BACKEND, "identity", "cannot start the password workers");
    id->revoke = revoke_new(st, (o->access_ttl_s + JWT_LEEWAY_S) * 1000,
                            (o->operator_ttl_s + JWT_LEEWAY_S) * 1000);
    if (id->revoke == NULL)
        return ERR_BACKEND;
    id->limits = app_limits_new(st);
    if (id->limits == NULL)
        return ERR_BACKEND;
    id->secrets = app_secrets_new();
    int rc = load_bcrypt_cost(id);
    if (rc != 0)
        return log_fail(rc, "identity", "cannot read the stored password hash kinds: %s",
                        err_str(rc));
    return 0;
}

void identity_stop(struct identity *id)
{
    if (id == NULL)
        return;
    if (id->work)
        workpool_stop(id->work, true);
    revoke_stop(id->revoke);
    app_limits_stop(id->limits);
}

void identity_release(struct identity *id)
{
    if (id == NULL)
        return;
    app_limits_free(id->limits);
    id->limits = NULL;
    app_secrets_free(id->secrets);
    id->secrets = NULL;
    revoke_free(id->revoke);
    id->revoke = NULL;
    workpool_free(id->work);
    id->work = NULL;
    login_guard_free(id->guard);
    id->guard = NULL;
    jwt_key_free(id->jwt);
    id->jwt = NULL;
    OPENSSL_cleanse(id->secret_key, sizeof(id->secret_key));
    OPENSSL_cleanse(id->enc_key, sizeof(id->enc_key));
}

void identity_register(struct router *r, struct identity *id)
{
    router_add(r, HTTP_M_POST, "/api/v1/auth/token", identity_auth_token_handler, id);
    router_add(r, HTTP_M_POST, "/api/v1/auth/register", identity_auth_register, id);
    router_add(r, HTTP_M_POST, "/api/v1/auth/login", identity_auth_login, id);
    router_add(r, HTTP_M_POST, "/api/v1/auth/refresh", identity_auth_refresh, id);
    router_add(r, HTTP_M_POST, "/api/v1/auth/logout", identity_auth_logout, id);
    router_add(r, HTTP_M_GET, "/api/v1/auth/me", identity_auth_me, id);
    router_add(r, HTTP_M_PATCH, "/api/v1/auth/me", identity_auth_me_patch, id);
    router_add(r, HTTP_M_GET, "/api/v1/users", identity_users_list, id);
    router_add(r, HTTP_M_POST, "/api/v1/users", identity_users_create, id);
    /* before /users/{id}: the router takes the first route that matches */
    router_add(r, HTTP_M_POST, "/api/v1/users/batch", identity_users_batch, id);
    router_add(r, HTTP_M_GET, "/api/v1/users/{id}", identity_users_get, id);
    router_add(r, HTTP_M_PATCH, "/api/v1/users/{id}", identity_users_patch, id);
    router_add(r, HTTP_M_DELETE, "/api/v1/users/{id}", identity_users_delete, id);
    router_add(r, HTTP_M_POST, "/api/v1/users/{id}/tokens", identity_users_token, id);
}
