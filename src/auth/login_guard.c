/*
 * Login throttling (see login_guard.h): two token-bucket tables behind one
 * mutex, one keyed by client IP and one by account.
 */
#include "login_guard.h"

#include <pthread.h>
#include <stdlib.h>

#include "auth/ratelimit.h"
#include "core/xalloc.h"

#define GUARD_KEYS 65536 /* per table; least recently used keys are evicted past it */

struct login_guard {
    pthread_mutex_t mu;
    struct ratelimit_table *by_ip, *by_account;
};

struct login_guard *login_guard_new(void)
{
    struct login_guard *g = xcalloc(1, sizeof(*g));
    pthread_mutex_init(&g->mu, NULL);
    g->by_ip =
        ratelimit_table_new(GUARD_KEYS, LOGIN_GUARD_IP_FAILURES, LOGIN_GUARD_IP_FAILURES / 60.0);
    g->by_account =
        ratelimit_table_new(GUARD_KEYS, LOGIN_GUARD_FAILURES, LOGIN_GUARD_FAILURES / 60.0);
    if (g->by_ip == NULL || g->by_account == NULL) {
        login_guard_free(g);
        return NULL;
    }
    return g;
}

void login_guard_free(struct login_guard *g)
{
    if (g == NULL)
        return;
    ratelimit_table_free(g->by_ip);
    ratelimit_table_free(g->by_account);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

/* Milliseconds to seconds, rounded up, at least 1. */
static uint64_t to_seconds(uint64_t ms)
{
    uint64_t s = (ms + 999) / 1000;
    return s < 1 ? 1 : s;
}

uint64_t login_guard_check(struct login_guard *g, const char *ip, const char *account,
                           uint64_t now_ms)
{
    pthread_mutex_lock(&g->mu);
    uint64_t a = ratelimit_table_peek(g->by_ip, ip ? ip : "", now_ms, 1.0);
    uint64_t b = ratelimit_table_peek(g->by_account, account ? account : "", now_ms, 1.0);
    pthread_mutex_unlock(&g->mu);
    uint64_t ms = a > b ? a : b;
    return ms == 0 ? 0 : to_seconds(ms);
}

void login_guard_failed(struct login_guard *g, const char *ip, const char *account, uint64_t now_ms)
{
    pthread_mutex_lock(&g->mu);
    (void)ratelimit_table_take(g->by_ip, ip ? ip : "", now_ms, 1.0);
    (void)ratelimit_table_take(g->by_account, account ? account : "", now_ms, 1.0);
    pthread_mutex_unlock(&g->mu);
}
