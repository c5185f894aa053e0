/*
 * auth-bench: what authentication costs per request (issue 3 targets).
 *
 *   token   identity_user_token_check() — HS256 signature, claims, expiry and the
 *           revocation lookup (with REVOKED other users revoked) — the work a
 *           user request or WebSocket handshake adds; ns per check, one thread.
 *   hash    password_hash() and password_verify() (yescrypt, and bcrypt cost 12
 *           for the legacy hash of the source systems); ms per call.
 *
 *   build/release/auth-bench [--seconds S] [--revoked N]
 *
 * A throwaway SQLite store in a temporary folder backs the identity context.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/password.h"
#include "core/clock.h"
#include "core/log.h"
#include "identity/identity.h"
#include "identity/revoke.h"
#include "identity/user_auth.h"
#include "store/store.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    double seconds = 3;
    int revoked = 10000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--seconds") == 0)
            seconds = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--revoked") == 0)
            revoked = atoi(argv[i + 1]);
    }
    log_setup(LOG_WARN, false);
    char dir[] = "/tmp/auth-bench-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    char url[128], err[256];
    snprintf(url, sizeof(url), "sqlite:%s/b.db", dir);
    struct store *st = NULL;
    if (store_open(url, STORE_DURABILITY_NORMAL, &st, err, sizeof(err)) != 0 ||
        store_migrate(st, 0, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "store: %s\n", err);
        return 1;
    }
    struct identity id;
    uint8_t enc[IDENTITY_KEY_LEN] = {1};
    const char jwt[] = "auth-bench-jwt-secret-0123456789abcdef";
    struct identity_options o = {
        .access_ttl_s = 900, .refresh_ttl_s = 86400, .operator_ttl_s = 86400, .hash_threads = 1};
    if (identity_init(&id, st, jwt, sizeof(jwt) - 1, enc, &o) != 0)
        return 1;
    char uid[32];
    for (int i = 0; i < revoked; i++) {
        snprintf(uid, sizeof(uid), "other%d", i);
        revoke_subject(id.revoke, REVOKE_USER, "app1", uid);
    }
    char *tok = NULL;
    if (identity_user_token_mint(&id, "app1", "b1", &tok) != 0)
        return 1;
    size_t len = strlen(tok);
    struct user_principal p;
    long n = 0;
    double t0 = now_s(), t1;
    do {
        for (int i = 0; i < 1000; i++)
            if (identity_user_token_check(&id, tok, len, &p) != 0)
                return 1;
        n += 1000;
        t1 = now_s();
    } while (t1 - t0 < seconds);
    printf("token_check\t%.0f ns/op\t%ld ops\trevoked_others=%d\ttoken_bytes=%zu\n",
           (t1 - t0) * 1e9 / (double)n, n, revoked, len);

    char *hash = NULL;
    int reps = 10;
    t0 = now_s();
    for (int i = 0; i < reps; i++) {
        free(hash);
        hash = NULL;
        if (password_hash("correct horse battery", 21, &hash) != 0)
            return 1;
    }
    printf("yescrypt_hash\t%.1f ms/op\n", (now_s() - t0) * 1e3 / reps);
    t0 = now_s();
    for (int i = 0; i < reps; i++)
        if (password_verify("correct horse battery", 21, hash) != 0)
            return 1;
    printf("yescrypt_verify\t%.1f ms/op\n", (now_s() - t0) * 1e3 / reps);
    const char *legacy = "$2b$12$oaobiIPoFhjcLJexAUgyce4luAWJ53iXoG10PzL/.sjoNVxjBkt7W";
    t0 = now_s();
    for (int i = 0; i < 3; i++)
        if (password_verify("admin", 5, legacy) != 0)
            return 1;
    printf("bcrypt12_verify\t%.1f ms/op\n", (now_s() - t0) * 1e3 / 3);
    free(hash);
    free(tok);
    identity_release(&id);
    store_close(st);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
