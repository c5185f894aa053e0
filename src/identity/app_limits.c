/*
 * Per-app rate limits (see app_limits.h): a sorted array of the apps that
 * have a limit, rebuilt from the store by a poll thread; buckets survive a
 * rebuild when the app's limits did not change.
 */
#include "app_limits.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/jwt.h"
#include "auth/ratelimit.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "store/sql.h"
#include "store/store.h"

struct limit {
    char app_id[JWT_APP_MAX + 1];
    int64_t rps, burst;
    struct ratelimit_bucket bucket;
};

struct app_limits {
    struct store *st;
    pthread_mutex_t mu;
    struct limit *v; /* sorted by app_id (strcmp) */
    size_t n;
    pthread_t thread;
    bool running;
    pthread_cond_t cv;
    bool stop;
};

static int cmp_limit(const void *a, const void *b)
{
    return strcmp(((const struct limit *)a)->app_id, ((const struct limit *)b)->app_id);
}

static struct limit *find(struct limit *v, size_t n, const char *app_id)
{
    if (n == 0)
        return NULL;
    struct limit key;
    snprintf(key.app_id, sizeof(key.app_id), "%s", app_id);
    return bsearch(&key, v, n, sizeof(*v), cmp_limit);
}

static int reload(struct app_limits *al)
{
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_APPS_LIMITS);
    struct store_result *res = NULL;
    int rc = store_read_wait(al->st, op, &res);
    if (rc != 0)
        return rc;
    const struct store_rows *r = store_result_step(res, 0);
    size_t n = r ? (size_t)r->nrows : 0;
    struct limit *v = n ? xcalloc(n, sizeof(*v)) : NULL;
    uint64_t now = clock_mono_ms();
    for (size_t i = 0; i < n; i++) {
        const char *id = store_rows_text(r, (int)i, 0);
        snprintf(v[i].app_id, sizeof(v[i].app_id), "%s", id ? id : "");
        v[i].rps = store_rows_int(r, (int)i, 1);
        v[i].burst = store_rows_int(r, (int)i, 2);
        double cap = (double)(v[i].burst > 0 ? v[i].burst : v[i].rps);
        ratelimit_bucket_init(&v[i].bucket, cap, (double)v[i].rps, now);
    }
    store_result_free(res);
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_limit);
    pthread_mutex_lock(&al->mu);
    for (size_t i = 0; i < n; i++) {
        struct limit *old = find(al->v, al->n, v[i].app_id);
        if (old && old->rps == v[i].rps && old->burst == v[i].burst)
            v[i].bucket = old->bucket; /* unchanged: keep what was taken */
    }
    free(al->v);
    al->v = v;
    al->n = n;
    pthread_mutex_unlock(&al->mu);
    return 0;
}

static void *poll_main(void *arg)
{
    struct app_limits *al = arg;
    pthread_mutex_lock(&al->mu);
    while (!al->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)APP_LIMITS_POLL_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&al->cv, &al->mu, &ts);
        if (al->stop)
            break;
        pthread_mutex_unlock(&al->mu);
        int rc = reload(al);
        if (rc != 0 && rc != ERR_UNAVAIL)
            log_warn("identity", "cannot reload app rate limits: %s", err_str(rc));
        pthread_mutex_lock(&al->mu);
    }
    pthread_mutex_unlock(&al->mu);
    return NULL;
}

struct app_limits *app_limits_new(struct store *st)
{
    struct app_limits *al = xcalloc(1, sizeof(*al));
    al->st = st;
    pthread_mutex_init(&al->mu, NULL);
    pthread_cond_init(&al->cv, NULL);
    int rc = reload(al);
    if (rc != 0) {
        log_error("identity", "cannot load app rate limits: %s", err_str(rc));
        app_limits_free(al);
        return NULL;
    }
    if (pthread_create(&al->thread, NULL, poll_main, al) != 0) {
        app_limits_free(al);
        return NULL;
    }
    al->running = true;
    return al;
}

void app_limits_stop(struct app_limits *al)
{
    if (al == NULL || !al->running)
        return;
    pthread_mutex_lock(&al->mu);
    al->stop = true;
    pthread_cond_broadcast(&al->cv);
    pthread_mutex_unlock(&al->mu);
    pthread_join(al->thread, NULL);
    al->running = false;
}

void app_limits_free(struct app_limits *al)
{
    if (al == NULL)
        return;
    app_limits_stop(al);
    free(al->v);
    pthread_cond_destroy(&al->cv);
    pthread_mutex_destroy(&al->mu);
    free(al);
}

uint64_t app_limits_take(struct app_limits *al, const char *app_id, uint64_t now_ms)
{
    uint64_t wait = 0;
    pthread_mutex_lock(&al->mu);
    if (al->n > 0) {
        struct limit *l = find(al->v, al->n, app_id);
        if (l)
            wait = ratelimit_take(&l->bucket, now_ms, 1.0);
    }
    pthread_mutex_unlock(&al->mu);
    if (wait == 0)
        return 0;
    if (wait == RATELIMIT_NEVER)
        return 60;
    return (wait + 999) / 1000;
}
