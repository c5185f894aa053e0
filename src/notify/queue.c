/*
 * The durable job queue (docs/notifications.md, "Deliveries and the queue"). Jobs are rows of
 * the `jobs` table, written with their deliveries by the send; this file runs them. One
 * dispatcher thread per node:
 *
 *   claim   one write op: lease up to CLAIM_BATCH due jobs (run_at <= now, no live lease) to a
 *           token of this node and batch (locked_by, locked_until = now + LEASE_MS), oldest
 *           first — on SQLite through the writer, on PostgreSQL with FOR UPDATE SKIP LOCKED so
 *           that several nodes claim disjoint batches —, move their deliveries to `sending`,
 *           and read back what delivering them needs;
 *   run     an expired delivery (its notification's ttl has passed) becomes `expired`; an
 *           in-app one is pushed to its user's connections through the bus (inapp.c) and is
 *           `sent`;
 *   finish  one write op for the batch: each delivery's new state and an attempt row, the
 *           job deleted (or put back with its back-off).
 *
 * A node that dies holding leases leaves jobs that are claimed again once the lease has
 * passed (on SQLite, where one server owns the database, at the next start at once): every job
 * runs at least once, and a repeated push carries the same delivery id. Sends wake the
 * dispatcher (notify__queue_kick); otherwise it sleeps until the next due job, at most
 * IDLE_MS.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/xalloc.h"
#include "notify/engine.h"
#include "store/sql.h"
#include "store/store.h"

#define CLAIM_BATCH 500
#define LEASE_MS 30000
#define IDLE_MS 1000
#define BACKOFF_BASE_MS 2000
#define BACKOFF_CAP_MS 3600000

/* SQL_JOBS_CLAIMED's columns */
enum {
    C_JOB,
    C_JOB_ATTEMPTS,
    C_DELIVERY,
    C_APP,
    C_USER,
    C_ADDRESS,
    C_CHANNEL,
    C_CHANNEL_ID,
    C_CREATED,
    C_TYPE,
    C_TITLE,
    C_CONTENT,
    C_DATA,
    C_PARAMS,
    C_EXPIRES,
    C_NOTIFICATION,
    C_STATUS,
};

struct notify_queue {
    struct notify_engine *n;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;   /* under mu */
    bool kicked; /* under mu */
    char node[24];
    uint64_t batches;
};

int64_t notify__backoff_ms(int attempts, int retry_after_s)
{
    int64_t d = BACKOFF_BASE_MS;
    for (int i = 1; i < attempts && d < BACKOFF_CAP_MS; i++)
        d *= 2;
    if (d > BACKOFF_CAP_MS)
        d = BACKOFF_CAP_MS;
    uint32_t r;
    rand_bytes(&r, sizeof(r));
    d = d / 2 + (int64_t)(r % (uint32_t)(d / 2 + 1));
    if (retry_after_s > 0 && (int64_t)retry_after_s * 1000 > d)
        d = (int64_t)retry_after_s * 1000;
    return d;
}

struct notify_queue *notify__queue_new(struct notify_engine *n)
{
    struct notify_queue *q = xcalloc(1, sizeof(*q));
    q->n = n;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    char rnd[13];
    rand_hex(rnd, 6);
    snprintf(q->node, sizeof(q->node), "%s", rnd);
    return q;
}

void notify__queue_kick(struct notify_queue *q)
{
    if (q == NULL)
        return;
    pthread_mutex_lock(&q->mu);
    q->kicked = true;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* Sleeps up to ms unless kicked or stopped. Returns false when stopping. */
static bool wait_ms(struct notify_queue *q, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&q->mu);
    while (!q->stop && !q->kicked)
        if (pthread_cond_timedwait(&q->cv, &q->mu, &ts) == ETIMEDOUT)
            break;
    q->kicked = false;
    bool go = !q->stop;
    pthread_mutex_unlock(&q->mu);
    return go;
}

static bool stopping(struct notify_queue *q)
{
    pthread_mutex_lock(&q->mu);
    bool s = q->stop;
    pthread_mutex_unlock(&q->mu);
    return s;
}

/* The outcome of one job, for the batch's finishing write. */
static void finish_one(struct store_op *op, const struct store_rows *r, int i, const char *token,
                       const char *outcome, const char *detail, int64_t started, int64_t now)
{
    const char *delivery = store_rows_text(r, i, C_DELIVERY);
    int attempts = (int)store_rows_int(r, i, C_JOB_ATTEMPTS) + 1;
    if (strcmp(outcome, "sent") == 0) {
        store_op_add(op, &SQL_DELIVERIES_SENT);
        store_bind_text(op, delivery);
        store_bind_int(op, now);
        store_bind_int(op, attempts);
    } else {
        store_op_add(op, &SQL_DELIVERIES_FAILED);
        store_bind_text(op, delivery);
        store_bind_int(op, now);
        store_bind_int(op, attempts);
        store_bind_text(op, outcome);
        store_bind_null(op);
        store_bind_text(op, detail);
    }
    store_op_add(op, &SQL_DELIVERY_ATTEMPTS_INSERT);
    store_bind_text(op, delivery);
    store_bind_int(op, attempts);
    store_bind_text(op, outcome);
    store_bind_int(op, 0);
    store_bind_text(op, detail);
    store_bind_int(op, now - started);
    store_bind_text(op, token);
    store_bind_int(op, now);
    store_op_add(op, &SQL_JOBS_DONE);
    store_bind_int(op, store_rows_int(r, i, C_JOB));
}

/* One claim and its batch. Returns the number of jobs run, or -1 on a store error. */
static int run_batch(struct notify_queue *q)
{
    char token[48];
    snprintf(token, sizeof(token), "%s.%llu", q->node, (unsigned long long)++q->batches);
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_JOBS_CLAIM);
    store_bind_text(op, token);
    store_bind_int(op, now + LEASE_MS);
    store_bind_int(op, now);
    store_bind_int(op, CLAIM_BATCH);
    store_op_add(op, &SQL_DELIVERIES_SENDING);
    store_bind_text(op, token);
    store_bind_int(op, now);
    store_op_add(op, &SQL_JOBS_CLAIMED);
    store_bind_text(op, token);
    struct store_result *res = NULL;
    int rc = store_write_wait(q->n->store, op, &res);
    if (rc != 0) {
        if (rc != ERR_UNAVAIL)
            log_warn("notify", "claiming jobs failed: %s", err_str(rc));
        return -1;
    }
    const struct store_rows *r = store_result_step(res, 2);
    int n = r ? r->nrows : 0;
    if (n == 0) {
        store_result_free(res);
        return 0;
    }
    struct store_op *fin = store_op_new();
    for (int i = 0; i < n; i++) {
        int64_t started = clock_wall_ms();
        const char *channel = store_rows_text(r, i, C_CHANNEL);
        bool expired =
            !store_rows_is_null(r, i, C_EXPIRES) && store_rows_int(r, i, C_EXPIRES) <= started;
        if (expired) {
            finish_one(fin, r, i, token, "expired",
                       "the notification's ttl passed before it was sent", started,
                       clock_wall_ms());
        } else if (channel != NULL && strcmp(channel, "inapp") == 0) {
            notify__inapp_push(q->n, r, i);
            finish_one(fin, r, i, token, "sent", "pushed to the user's connections", started,
                       clock_wall_ms());
        } else {
            finish_one(fin, r, i, token, "dead", "no driver for this channel kind", started,
                       clock_wall_ms());
        }
    }
    store_result_free(res);
    rc = store_write_wait(q->n->store, fin, NULL);
    if (rc != 0)
        log_warn("notify", "finishing %d jobs failed: %s (they run again after their lease)", n,
                 err_str(rc));
    return n;
}

static void *dispatcher_main(void *arg)
{
    struct notify_queue *q = arg;
    while (!stopping(q)) {
        int n = run_batch(q);
        if (n > 0)
            continue;
        int64_t sleep_ms = IDLE_MS;
        if (n == 0) { /* nothing due: until the next job is due, at most IDLE_MS */
            struct store_op *op = store_op_new();
            store_op_add(op, &SQL_JOBS_NEXT_DUE);
            struct store_result *res = NULL;
            if (store_read_wait(q->n->store, op, &res) == 0) {
                const struct store_rows *r = store_result_step(res, 0);
                if (r != NULL && r->nrows > 0 && !store_rows_is_null(r, 0, 0)) {
                    int64_t d = store_rows_int(r, 0, 0) - clock_wall_ms();
                    sleep_ms = d < 1 ? 1 : d < IDLE_MS ? d : IDLE_MS;
                }
            }
            store_result_free(res);
        }
        if (!wait_ms(q, sleep_ms))
            break;
    }
    return NULL;
}

int notify__queue_start(struct notify_queue *q)
{
    if (strcmp(store_backend_name(q->n->store), "sqlite") == 0) {
        /* one server per SQLite database: leases still held are a dead process's */
        struct store_op *op = store_op_new();
        store_op_add(op, &SQL_JOBS_RELEASE_ALL);
        int rc = store_write_wait(q->n->store, op, NULL);
        if (rc != 0)
            return rc;
    }
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_IDEMPOTENCY_KEYS_PRUNE);
    store_bind_int(op, clock_wall_ms());
    (void)store_write_wait(q->n->store, op, NULL);
    if (pthread_create(&q->thread, NULL, dispatcher_main, q) != 0)
        return ERR_BACKEND;
    q->started = true;
    return 0;
}

void notify__queue_stop(struct notify_queue *q)
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

void notify__queue_free(struct notify_queue *q)
{
    if (q == NULL)
        return;
    notify__queue_stop(q);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
}
