/*
 * The identity context and its routes (see identity.h).
 */
#include "identity.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string.h>

#include "auth/jwt.h"
#include "core/err.h"
#include "core/log.h"
#include "identity/app_auth.h"
#include "identity/users.h"
#include "net/http.h"
#include "router/router.h"

int identity_init(struct identity *id, struct store *st, const void *jwt_secret, size_t jwt_len,
                  const uint8_t enc_key[IDENTITY_KEY_LEN], int64_t access_ttl_s)
{
    static const char label[] = "herald app secret hash v1";
    memset(id, 0, sizeof(*id));
    id->store = st;
    id->access_ttl_s = access_ttl_s;
    unsigned int n = 0;
    if (HMAC(EVP_sha256(), enc_key, IDENTITY_KEY_LEN, (const unsigned char *)label,
             sizeof(label) - 1, id->secret_key, &n) == NULL ||
        n != IDENTITY_KEY_LEN)
        return log_fail(ERR_BACKEND, "identity", "cannot derive the app secret key");
    id->jwt = jwt_key_new(jwt_secret, jwt_len);
    if (id->jwt == NULL)
        return log_fail(ERR_BACKEND, "identity", "cannot make the token signing key");
    return 0;
}

void identity_release(struct identity *id)
{
    if (id == NULL)
        return;
    jwt_key_free(id->jwt);
    id->jwt = NULL;
    OPENSSL_cleanse(id->secret_key, sizeof(id->secret_key));
}

void identity_register(struct router *r, struct identity *id)
{
    router_add(r, HTTP_M_POST, "/api/v1/auth/token", identity_auth_token_handler, id);
    router_add(r, HTTP_M_GET, "/api/v1/users", identity_users_list, id);
    router_add(r, HTTP_M_POST, "/api/v1/users", identity_users_create, id);
    /* before /users/{id}: the router takes the first route that matches */
    router_add(r, HTTP_M_POST, "/api/v1/users/batch", identity_users_batch, id);
    router_add(r, HTTP_M_GET, "/api/v1/users/{id}", identity_users_get, id);
    router_add(r, HTTP_M_PATCH, "/api/v1/users/{id}", identity_users_patch, id);
    router_add(r, HTTP_M_DELETE, "/api/v1/users/{id}", identity_users_delete, id);
    router_add(r, HTTP_M_POST, "/api/v1/users/{id}/tokens", identity_users_token, id);
}
