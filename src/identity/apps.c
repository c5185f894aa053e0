/*
 * Apps: creation with a first secret, listing, and the first-start `default`
 * app (see apps.h). Synchronous store calls: start-up and CLI only.
 */
#include "apps.h"

#include <string.h>

#include <openssl/crypto.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/rand.h"
#include "identity/identity.h"
#include "store/sql.h"
#include "store/store.h"

static bool key_is_valid(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > APP_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

int identity_app_create(struct identity *id, const char *name, const char *key,
                        char key_out[APP_KEY_MAX + 1], char secret_out[TOKEN_LEN + 1])
{
    size_t nlen = name ? strlen(name) : 0;
    if (nlen == 0 || nlen > APP_NAME_MAX)
        return ERR_INVAL;
    char app_id[33];
    rand_hex(app_id, 16);
    if (key == NULL) {
        char gen[33];
        rand_hex(gen, 12);
        snprintf(key_out, APP_KEY_MAX + 1, "ak_%s", gen);
    } else {
        if (!key_is_valid(key))
            return ERR_INVAL;
        snprintf(key_out, APP_KEY_MAX + 1, "%s", key);
    }
    char hash[TOKEN_HASH_HEX + 1];
    token_generate(secret_out);
    int rc = token_hash(secret_out, id->secret_key, hash);
    if (rc != 0)
        return rc;
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_APPS_CREATE);
    store_bind_text(op, app_id);
    store_bind_text(op, name);
    store_bind_text(op, key_out);
    store_bind_int(op, now);
    /* only the default app lets end users register themselves (docs/auth.md) */
    store_bind_int(op, strcmp(key_out, "default") == 0);
    store_op_add(op, &SQL_APP_SECRETS_INSERT);
    store_bind_text(op, app_id);
    store_bind_text(op, hash);
    store_bind_text(op, secret_out + TOKEN_LEN - 4);
    store_bind_int(op, now);
    return store_write_wait(id->store, op, NULL);
}

int identity_apps_bootstrap(struct identity *id)
{
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_APPS_COUNT);
    struct store_result *res = NULL;
    int rc = store_read_wait(id->store, op, &res);
    if (rc != 0)
        return rc;
    int64_t n = store_rows_int(store_result_step(res, 0), 0, 0);
    store_result_free(res);
    if (n > 0)
        return 0;
    char key[APP_KEY_MAX + 1], secret[TOKEN_LEN + 1];
    rc = identity_app_create(id, "Default", "default", key, secret);
    OPENSSL_cleanse(secret, sizeof(secret)); /* nobody sees it: see identity_app_secret_add */
    if (rc != 0)
        return log_fail(rc, "identity", "cannot create the default app: %s", err_str(rc));
    log_info("identity", "created the default app key=%s; run 'herald app secret %s' for a secret",
             key, key);
    return 0;
}

int identity_app_secret_add(struct identity *id, const char *key, char secret_out[TOKEN_LEN + 1])
{
    if (key == NULL || !key_is_valid(key))
        return ERR_NOTFOUND;
    char hash[TOKEN_HASH_HEX + 1];
    token_generate(secret_out);
    int rc = token_hash(secret_out, id->secret_key, hash);
    if (rc != 0)
        return rc;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_APP_SECRETS_ADD_BY_KEY);
    store_bind_text(op, key);
    store_bind_text(op, hash);
    store_bind_text(op, secret_out + TOKEN_LEN - 4);
    store_bind_int(op, clock_wall_ms());
    store_op_require_row(op);
    return store_write_wait(id->store, op, NULL);
}

int identity_apps_print(struct identity *id, FILE *out)
{
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_APPS_LIST);
    struct store_result *res = NULL;
    int rc = store_read_wait(id->store, op, &res);
    if (rc != 0)
        return rc;
    const struct store_rows *r = store_result_step(res, 0);
    for (int i = 0; r && i < r->nrows; i++)
        fprintf(out, "%s %s %s %s\n", store_rows_text(r, i, 0), store_rows_text(r, i, 1),
                store_rows_text(r, i, 2), store_rows_text(r, i, 3));
    store_result_free(res);
    return 0;
}
