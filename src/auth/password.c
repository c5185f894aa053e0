/*
 * Password hashing; see password.h. crypt_r with a per-call heap crypt_data
 * keeps every call independent (the data holds the output string, so it must
 * not be shared between threads). The password is copied to a NUL-terminated
 * buffer, as crypt_r wants, and that copy is wiped afterwards.
 */
#include "password.h"

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/err.h"
#include "core/log.h"
#include "core/workpool.h"
#include "core/xalloc.h"

_Static_assert(PASSWORD_MAX_LEN < CRYPT_MAX_PASSPHRASE_SIZE, "crypt_r refuses longer passwords");
_Static_assert(PASSWORD_HASH_MAX <= CRYPT_OUTPUT_SIZE, "hash buffer");

/* A yescrypt hash of a random string nobody knows, for password_verify_dummy. */
static const char dummy_hash[] =
    "$y$j9T$gKtcZGTWe5sXz9x/lDmbq1$lFLkLZwNMsUbEL2V22OhhBqDkZ2wBCBhAjK4gpCDuE1";

static bool password_ok(const char *password, size_t len)
{
    return password != NULL && len > 0 && len <= PASSWORD_MAX_LEN &&
           memchr(password, '\0', len) == NULL;
}

/* The schemes accepted in stored hashes. */
static bool scheme_ok(const char *hash)
{
    return strncmp(hash, "$y$", 3) == 0 || strncmp(hash, "$2b$", 4) == 0 ||
           strncmp(hash, "$2a$", 4) == 0 || strncmp(hash, "$2y$", 4) == 0;
}

/* crypt_r of password over setting; returns the crypt_data (caller frees) or NULL. */
static struct crypt_data *run_crypt(const char *password, size_t len, const char *setting,
                                    const char **result)
{
    struct crypt_data *cd = xcalloc(1, sizeof(*cd));
    char *pw = xmalloc(len + 1);
    memcpy(pw, password, len);
    pw[len] = '\0';
    const char *r = crypt_r(pw, setting, cd);
    OPENSSL_cleanse(pw, len);
    free(pw);
    /* libxcrypt signals failure with NULL or a string starting with '*'. */
    if (r == NULL || r[0] == '*') {
        OPENSSL_cleanse(cd, sizeof(*cd));
        free(cd);
        return NULL;
    }
    *result = r;
    return cd;
}

static void free_cd(struct crypt_data *cd)
{
    OPENSSL_cleanse(cd, sizeof(*cd));
    free(cd);
}

int password_hash(const char *password, size_t len, char **out)
{
    if (workpool_is_cancelled())
        return ERR_UNAVAIL; /* shutting down: nobody waits for this hash */
    if (!password_ok(password, len))
        return ERR_INVAL;
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    /* count 0 = libxcrypt's default cost; NULL rbytes = the OS random source. */
    if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting, sizeof(setting)) == NULL)
        return log_fail(ERR_BACKEND, "auth", "cannot make a yescrypt salt");
    const char *r;
    struct crypt_data *cd = run_crypt(password, len, setting, &r);
    if (cd == NULL)
        return log_fail(ERR_BACKEND, "auth", "cannot hash password: crypt_r failed");
    *out = xstrdup(r);
    free_cd(cd);
    return 0;
}

int password_verify(const char *password, size_t len, const char *hash)
{
    if (workpool_is_cancelled())
        return ERR_UNAVAIL;
    if (hash == NULL || !scheme_ok(hash) || strnlen(hash, PASSWORD_HASH_MAX) >= PASSWORD_HASH_MAX)
        return log_fail(ERR_INVAL, "auth", "stored password hash has an unsupported format");
    if (!password_ok(password, len))
        return ERR_UNAUTH;
    const char *r;
    struct crypt_data *cd = run_crypt(password, len, hash, &r);
    if (cd == NULL)
        return log_fail(ERR_INVAL, "auth", "stored password hash is malformed");
    size_t n = strlen(hash);
    /* The format fixes the length, whatever the password: a different one means the stored
     * string was only a setting or was cut. The bytes are compared in constant time. */
    if (strlen(r) != n) {
        free_cd(cd);
        return log_fail(ERR_INVAL, "auth", "stored password hash is malformed");
    }
    int rc = CRYPTO_memcmp(r, hash, n) == 0 ? 0 : ERR_UNAUTH;
    free_cd(cd);
    return rc;
}

int password_verify_dummy(const char *password, size_t len)
{
    if (password_ok(password, len) && !workpool_is_cancelled()) {
        const char *r;
        struct crypt_data *cd = run_crypt(password, len, dummy_hash, &r);
        if (cd != NULL)
            free_cd(cd);
    }
    return ERR_UNAUTH;
}

int password_bcrypt_cost(const char *hash)
{
    if (hash == NULL || hash[0] != '$' || hash[1] != '2' ||
        (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') || hash[3] != '$' || hash[4] < '0' ||
        hash[4] > '3' || hash[5] < '0' || hash[5] > '9' || hash[6] != '$')
        return 0;
    int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
    return cost >= 4 && cost <= 31 ? cost : 0;
}

int password_verify_dummy_cost(const char *password, size_t len, int bcrypt_cost)
{
    if (bcrypt_cost < PASSWORD_BCRYPT_SLOWER_FROM || bcrypt_cost > 31)
        return password_verify_dummy(password, len);
    /* a setting with a fixed salt: crypt_r computes the whole hash, as a real check does */
    char setting[40];
    snprintf(setting, sizeof(setting), "$2b$%02d$oaobiIPoFhjcLJexAUgyce", bcrypt_cost);
    if (password_ok(password, len) && !workpool_is_cancelled()) {
        const char *r;
        struct crypt_data *cd = run_crypt(password, len, setting, &r);
        if (cd != NULL)
            free_cd(cd);
    }
    return ERR_UNAUTH;
}

bool password_needs_rehash(const char *hash)
{
    return hash == NULL || strncmp(hash, "$y$", 3) != 0;
}
