/*
 * Retention (docs/chat.md, "Retention"): with HERALD_HISTORY_DAYS = N > 0, a housekeeping
 * thread deletes the messages and events older than N days, at start and then every
 * RETENTION_EVERY_MS, in batches of RETENTION_BATCH events (each batch one write op in the
 * writer's group commit, so sends keep flowing between batches). Events go in cursor order, the
 * newest event of all never (its cursor must stay the highest ever handed out); a message goes
 * with its message.new event, so what a conversation still holds is its newest messages, seq
 * gapless. Each batch notes, per app, the highest cursor it deleted (events_pruned): a sync
 * from before it answers complete: false. The thread is the revocation poller's pattern
 * (identity/revoke.c): a condition variable wait that stopping cuts short.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "chat/internal.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "store/sql.h"
#include "store/store.h"

#define RETENTION_EVERY_MS (10 * 60 * 1000)
#define RETENTION_BATCH 1000
#define DAY_MS (24LL * 3600 * 1000)

struct retention {
    struct store *st; /* borrowed */
    int days;
    pthread_t thread;
    pthread_mutex_t mu; /* stop and its condition */
    pthread_cond_t cv;
    bool stop;
};

/* One batch: sets *events and *messages to what it deleted. */
static int prune_batch(struct retention *r, int64_t before, int64_t *events, int64_t *messages)
{
    const struct store_sql *steps[] = {&SQL_EVENTS_PRUNED_NOTE, &SQL_MESSAGES_PRUNE,
                                       &SQL_EVENTS_PRUNE};
    struct store_op *op = store_op_new();
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        store_op_add(op, steps[i]);
        store_bind_int(op, before);
        store_bind_int(op, RETENTION_BATCH);
    }
    struct store_result *res = NULL;
    int rc = store_write_wait(r->st, op, &res);
    if (rc == 0) {
        *messages = store_result_step(res, 1)->changes;
        *events = store_result_step(res, 2)->changes;
    }
    store_result_free(res);
    return rc;
}

static bool stopping(struct retention *r)
{
    pthread_mutex_lock(&r->mu);
    bool stop = r->stop;
    pthread_mutex_unlock(&r->mu);
    return stop;
}

/* Deletes everything older than the horizon, batch after batch, until a batch is not full. */
static void prune(struct retention *r)
{
    int64_t before = clock_wall_ms() - r->days * DAY_MS;
    int64_t events = 0, messages = 0, e = RETENTION_BATCH, m = 0;
    while (e == RETENTION_BATCH && !stopping(r)) {
        int rc = prune_batch(r, before, &e, &m);
        if (rc != 0) {
            if (rc != ERR_UNAVAIL)
                log_warn("chat", "cannot prune old messages: %s", err_str(rc));
            break;
        }
        events += e;
        messages += m;
    }
    if (events > 0)
        log_info("chat", "pruned events=%lld messages=%lld older_than_days=%d", (long long)events,
                 (long long)messages, r->days);
}

static void *retention_main(void *arg)
{
    struct retention *r = arg;
    for (;;) {
        prune(r);
        pthread_mutex_lock(&r->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += RETENTION_EVERY_MS / 1000;
        while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &ts) == 0)
            ;
        bool stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (stop)
            return NULL;
    }
}

struct retention *chat__retention_new(struct store *st, int days)
{
    struct retention *r = xcalloc(1, sizeof(*r));
    r->st = st;
    r->days = days;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    if (pthread_create(&r->thread, NULL, retention_main, r) != 0) {
        log_error("chat", "cannot start the retention thread");
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
        free(r);
        return NULL;
    }
    return r;
}

void chat__retention_free(struct retention *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}
