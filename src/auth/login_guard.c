/*
 * Password-check throttling (see login_guard.h): token-bucket tables behind
 * one mutex, keyed by client IP and by account for logins, and by client IP
 * and by app for registrations.
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
    struct ratelimit_table *reg_by_ip, *reg_by_app;
};

struct login_guard *login_guard_new(void)
{
    struct login_guard *g = xcalloc(1, sizeof(*g));
    pthread_mutex_init(&g->mu, NULL);
    g->by_ip =
        ratelimit_table_new(GUARD_KEYS, LOGIN_GUARD_IP_FAILURES, LOGIN_GUARD_IP_FAILURES / 60.0);
    g->by_account =
        ratelimit_table_new(GUARD_KEYS, LOGIN_GUARD_FAILURES, LOGIN_GUARD_FAILURES / 60.0);
    g->reg_by_ip =
        ratelimit_table_new(GUARD_KEYS, LOGIN_GUARD_REGISTER_IP, LOGIN_GUARD_REGISTER_IP / 3600.0);
    g->reg_by_app = ratelimit_table_new(GUARD_KEYS, LOGIN_GUARD_REGISTER_APP,
                                        LOGIN_GUARD_REGISTER_APP / 3600.0);
    if (g->by_ip == NULL || g->by_account == NULL || g->reg_by_ip == NULL ||
        g->reg_by_app == NULL) {
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
    ratelimit_table_free(g->reg_by_ip);
    ratelimit_table_free(g->reg_by_app);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

/* Milliseconds to seconds, rounded up, at least 1. */
static uint64_t to_seconds(uint64_t ms)
{
    uint64_t s = (ms + 999) / 1000;
    return s < 1 ? 1 : s;
}

/* One token from both tables, or none: 0, or the longer wait in seconds. Lock held. */
static uint64_t take_both_locked(struct ratelimit_table *t1, const char *k1,
                                 struct ratelimit_table *t2, const char *k2, uint64_t now_ms)
{
    k1 = k1 ? k1 : "";
    k2 = k2 ? k2 : "";
    uint64_t a = ratelimit_table_peek(t1, k1, now_ms, 1.0);
    uint64_t b = ratelimit_table_peek(t2, k2, now_ms, 1.0);
    uint64_t ms = a > b ? a : b;
    if (ms != 0)
        return to_seconds(ms);
    (void)ratelimit_table_take(t1, k1, now_ms, 1.0);
    (void)ratelimit_table_take(t2, k2, now_ms, 1.0);
    return 0;
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

uint64_t login_guard_take(struct login_guard *g, const char *ip, const char *account,
                          uint64_t now_ms)
{
    pthread_mutex_lock(&g->mu);
    uint64_t s = take_both_locked(g->by_ip, ip, g->by_account, account, now_ms);
    pthread_mutex_unlock(&g->mu);
    return s;
}

void login_guard_refund(struct login_guard *g, const char *ip, const char *account, uint64_t now_ms)
{
    pthread_mutex_lock(&g->mu);
    ratelimit_table_refund(g->by_ip, ip ? ip : "", now_ms, 1.0);
    ratelimit_table_refund(g->by_account, account ? account : "", now_ms, 1.0);
    pthread_mutex_unlock(&g->mu);
}

uint64_t login_guard_register_take(struct login_guard *g, const char *ip, const char *app_id,
                                   uint64_t now_ms)
{
    pthread_mutex_lock(&g->mu);
    uint64_t s = take_both_locked(g->reg_by_ip, ip, g->reg_by_app, app_id, now_ms);
    pthread_mutex_unlock(&g->mu);
    return s;
}
