/*
 * The apps' daily notification quota (see quota.h).
 */
#include "notify/quota.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "store/sql.h"
#include "store/store.h"

#define DAY_MS 86400000LL
#define APPS_MAX 100000 /* apps with a quota kept */

struct app_quota {
    char app[72];
    int64_t quota;
    int64_t used; /* today's count at the last poll, plus this node's sends since */
};

struct notify_quota {
    struct store *st;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, started;
    struct app_quota *v; /* sorted by app, under mu */
    int n;               /* under mu */
    int64_t day;         /* the UTC day (ms of its midnight) the counts are of, under mu */
    pthread_t thread;
};

static int cmp(const void *a, const void *b)
{
    return strcmp(((const struct app_quota *)a)->app, ((const struct app_quota *)b)->app);
}

struct notify_quota *notify_quota_new(struct store *st)
{
    struct notify_quota *q = xcalloc(1, sizeof(*q));
    q->st = st;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    return q;
}

/* Reads the quotas and today's counts; replaces the table. */
static int poll_once(struct notify_quota *q)
{
    int64_t now = clock_wall_ms();
    int64_t day = now - now % DAY_MS;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_APPS_DAILY_QUOTA_USE);
    store_bind_int(op, day);
    struct store_result *res = NULL;
    int rc = store_read_wait(q->st, op, &res);
    if (rc != 0) {
        store_result_free(res);
        return rc;
    }
    const struct store_rows *r = store_result_step(res, 0);
    int n = r != NULL ? (r->nrows < APPS_MAX ? r->nrows : APPS_MAX) : 0;
    struct app_quota *v = n > 0 ? xcalloc((size_t)n, sizeof(*v)) : NULL;
    for (int i = 0; i < n; i++) {
        snprintf(v[i].app, sizeof(v[i].app), "%s", store_rows_text(r, i, 0));
        v[i].quota = store_rows_int(r, i, 1);
        v[i].used = store_rows_int(r, i, 2);
    }
    store_result_free(res);
    if (n > 1)
        qsort(v, (size_t)n, sizeof(*v), cmp);
    pthread_mutex_lock(&q->mu);
    free(q->v);
    q->v = v;
    q->n = n;
    q->day = day;
    pthread_mutex_unlock(&q->mu);
    return 0;
}

bool notify_quota_take(struct notify_quota *q, const char *app_id, int64_t now_ms,
                       int *retry_after_s)
{
    *retry_after_s = 0;
    if (q == NULL || app_id == NULL)
        return true;
    int64_t day = now_ms - now_ms % DAY_MS;
    struct app_quota key;
    snprintf(key.app, sizeof(key.app), "%s", app_id);
    bool ok = true;
    pthread_mutex_lock(&q->mu);
    struct app_quota *a = q->n > 0 ? bsearch(&key, q->v, (size_t)q->n, sizeof(key), cmp) : NULL;
    if (a != NULL) {
        if (day != q->day) { /* a new day since the last poll: counts start again */
            for (int i = 0; i < q->n; i++)
                q->v[i].used = 0;
            q->day = day;
        }
        if (a->used >= a->quota) {
            ok = false;
            *retry_after_s = (int)((day + DAY_MS - now_ms + 999) / 1000);
        } else {
            a->used++;
        }
    }
    pthread_mutex_unlock(&q->mu);
    return ok;
}

static void *poller(void *arg)
{
    struct notify_quota *q = arg;
    pthread_mutex_lock(&q->mu);
    while (!q->stop) {
        struct timespec ts = clock_deadline(CLOCK_MONOTONIC, QUOTA_POLL_MS);
        while (!q->stop && pthread_cond_timedwait(&q->cv, &q->mu, &ts) != ETIMEDOUT)
            ;
        if (q->stop)
            break;
        pthread_mutex_unlock(&q->mu);
        int rc = poll_once(q);
        if (rc != 0 && rc != ERR_UNAVAIL)
            log_warn("notify", "reading the daily quotas failed: %s", err_str(rc));
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

int notify_quota_start(struct notify_quota *q)
{
    int rc = poll_once(q);
    if (rc != 0)
        return rc;
    if (pthread_create(&q->thread, NULL, poller, q) != 0)
        return ERR_BACKEND;
    q->started = true;
    return 0;
}

void notify_quota_stop(struct notify_quota *q)
{
    if (q == NULL)
        return;
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    if (q->started)
        pthread_join(q->thread, NULL);
    q->started = false;
}

void notify_quota_free(struct notify_quota *q)
{
    if (q == NULL)
        return;
    notify_quota_stop(q);
    free(q->v);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
}
