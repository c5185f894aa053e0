/*
 * The durable job queue (docs/notifications.md, "Deliveries and the queue"). Jobs are rows of
 * the `jobs` table, written with their deliveries by the send; this file runs them. One
 * dispatcher thread per node:
 *
 *   claim   one write op: lease up to CLAIM_BATCH due jobs (run_at <= now, no live lease) to a
 *           token of this node and batch (locked_by, locked_until = now + LEASE_MS), oldest
 *           first, and every app's oldest due job (fairness: SQL_JOBS_CLAIM_FAIR) — on SQLite
 *           through the writer, on PostgreSQL with FOR UPDATE SKIP LOCKED so that several
 *           nodes claim disjoint batches —, move their deliveries to `sending`, and read back
 *           what delivering them needs;
 *   run     an expired delivery (its notification's ttl has passed) becomes `expired`; an
 *           in-app one is `sent` and pushed to its user's connections through the bus
 *           (inapp.c); a driver send (e-mail, webhook, ...) goes to the worker pool when its
 *           channel has a free slot (concurrency) and a token (rate_per_s), else it waits in
 *           memory on the channel's held list (at most HOLD_MAX, HOLD_MS) and starts on the
 *           worker of the channel's send that ends first — only past HOLD_MAX is it put back in
 *           the store for DEFER_MS;
 *   finish  one write op for the batch: each delivery's new state and an attempt row, the
 *           job deleted (or put back with its back-off), and one statement for the batch's
 *           in-app deliveries' `notification` events in the chat's event log (their cursors
 *           read back for the frames: docs/chat.md, "Sync").
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

#include "core/json_exact.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/workpool.h"
#include "core/xalloc.h"
#include "net/server.h"
#include "notify/driver.h"
#include "notify/drivers.h"
#include "notify/quiet.h"
#include "notify/tally.h"
#include "notify/engine.h"
#include "notify/events.h"
#include "store/sql.h"
#include "store/store.h"

#define CLAIM_BATCH 500
#define CLAIM_APPS_MAX 1000 /* apps whose oldest due job every claim also takes */
#define LEASE_MS 60000      /* above every driver's total timeout (e-mail: 30 s) */
#define IDLE_MS 1000
#define BACKOFF_BASE_MS 2000
#define BACKOFF_CAP_MS 3600000
#define PRUNE_EVERY_MS                                                                             \
    600000 /* idempotency records past their window: at start, then this often                     \
            */

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
    C_HTML,
    C_CH_KIND,
    C_CH_CONFIG,
    C_CH_UPDATED,
    C_CH_MAX_ATTEMPTS,
    C_CH_RATE,
    C_CH_CONCURRENCY,
    C_CH_ENABLED,
    C_PRIORITY,
    C_QUIET_START,
    C_QUIET_END,
    C_TIME_ZONE,
    C_ESCALATES_STATUS,
};

#define WORKERS 64 /* threads of the driver pool: every channel's sends share them */
#define SLOTS_MAX                                                                                  \
    16               /* a channel's concurrency is at most this (the API's bound too): it takes    \
                        at most a quarter of the pool, however slow its provider */
#define DEFER_MS 200 /* a job whose channel holds HOLD_MAX already is tried this much later */
#define CHANNELS_KEPT 512 /* channel states (in-flight count, rate bucket) kept */
#define HOLD_MAX 2048     /* claimed sends of one channel waiting in memory for a slot or token */
#define HOLD_MS 20000     /* one held longer goes back to the queue (well inside its lease) */

struct send_item;

/* One channel's in-flight sends, rate bucket and held sends (all under mu). A claimed send
 * that finds its channel at its concurrency or out of tokens waits here, oldest first, and
 * starts as soon as a send of the channel ends (on the worker that ran it) or the bucket
 * refills (the dispatcher): no store write per wait. */
struct chan_state {
    char id[72];
    int inflight;
    int conc;     /* the channel's concurrency and rate, from its latest claimed row */
    int64_t rate; /* per second; 0: none */
    double tokens;
    int64_t refill_ms;
    struct send_item *held, *held_tail;
    int nheld;
};

/* A driver send: everything copied out of the claim, run on the pool. */
struct send_item {
    struct notify_queue *q;
    struct send_item *next; /* the done list */
    char token[48];
    int64_t job;
    int attempts; /* before this one */
    int max_attempts;
    char *delivery, *app, *notification, *type, *title, *content, *html, *data, *params, *address,
        *channel_id, *kind, *config;
    int64_t updated_at;
    int64_t started;
    int64_t held_at; /* when it was put on its channel's held list */
    struct notify_result r;
    int64_t duration;
    bool cancelled; /* the server stopped first: not an attempt */
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
    struct notify_channels *chs; /* borrowed; NULL: no driver sends (every other kind dies) */
    struct workpool *pool;       /* the driver sends */
    struct send_item *done;      /* finished sends, under mu */
    struct chan_state chans[CHANNELS_KEPT]; /* under mu */
    struct notify_tally tally;              /* outcomes recorded, for /metrics */
    int nchans;
    int64_t pruned_at; /* the last deletion of expired idempotency records (dispatcher) */
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

struct notify_queue *notify__queue_new(struct notify_engine *n, struct notify_channels *chs)
{
    struct notify_queue *q = xcalloc(1, sizeof(*q));
    q->n = n;
    q->chs = chs;
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

void notify__queue_render(struct buf *out, void *ud)
{
    struct notify_queue *q = ud;
    long held = 0, inflight = 0;
    pthread_mutex_lock(&q->mu);
    for (int i = 0; i < q->nchans; i++) {
        held += q->chans[i].nheld;
        inflight += q->chans[i].inflight;
    }
    pthread_mutex_unlock(&q->mu);
    buf_printf(out,
               "# HELP herald_notify_sends Driver sends of this node: under way, or held in "
               "memory until their channel has a free slot or token.\n"
               "# TYPE herald_notify_sends gauge\n"
               "herald_notify_sends{state=\"running\"} %ld\n"
               "herald_notify_sends{state=\"held\"} %ld\n",
               inflight, held);
    notify__tally_render(out, &q->tally);
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
    struct timespec ts = clock_deadline(CLOCK_MONOTONIC, ms);
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
static void finish_one(struct store_op *op, struct notify_tally_batch *tb,
                       const struct store_rows *r, int i, const char *token, const char *outcome,
                       const char *detail, int64_t started, int64_t now)
{
    notify__tally_add(tb, store_rows_text(r, i, C_CHANNEL), outcome);
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

/* ---- driver sends */

static char *dup_col(const struct store_rows *r, int i, int col)
{
    const char *v = store_rows_text(r, i, col);
    return v != NULL ? xstrdup(v) : NULL;
}

static void item_free(struct send_item *it)
{
    char *fields[] = {it->delivery,   it->app,  it->notification, it->type,   it->title,
                      it->content,    it->html, it->data,         it->params, it->address,
                      it->channel_id, it->kind, it->config};
    for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
        free(fields[k]);
    free(it);
}

/* The channel's state (created on first use; q->mu held). NULL when the table is full. */
static struct chan_state *chan_of(struct notify_queue *q, const char *id)
{
    for (int i = 0; i < q->nchans; i++)
        if (strcmp(q->chans[i].id, id) == 0)
            return &q->chans[i];
    for (int i = 0; i < q->nchans; i++) /* reuse an idle one */
        if (q->chans[i].inflight == 0 && q->chans[i].nheld == 0 && q->nchans == CHANNELS_KEPT) {
            memset(&q->chans[i], 0, sizeof(q->chans[i]));
            snprintf(q->chans[i].id, sizeof(q->chans[i].id), "%s", id);
            q->chans[i].tokens = -1;
            return &q->chans[i];
        }
    if (q->nchans == CHANNELS_KEPT)
        return NULL;
    struct chan_state *c = &q->chans[q->nchans++];
    memset(c, 0, sizeof(*c));
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->tokens = -1;
    return c;
}

/* Takes a token of the channel's bucket (rate_per_s, one second deep): 0, or the ms until one
 * is there (q->mu held). */
static int64_t take_token(struct chan_state *cs, int64_t now)
{
    if (cs->rate <= 0)
        return 0;
    if (cs->tokens < 0 || now < cs->refill_ms) {
        cs->tokens = (double)cs->rate;
        cs->refill_ms = now;
    }
    cs->tokens += (double)(now - cs->refill_ms) * (double)cs->rate / 1000.0;
    if (cs->tokens > (double)cs->rate)
        cs->tokens = (double)cs->rate;
    cs->refill_ms = now;
    if (cs->tokens < 1.0)
        return 1 + (int64_t)((1.0 - cs->tokens) * 1000.0 / (double)cs->rate);
    cs->tokens -= 1.0;
    return 0;
}

/* The channel's oldest held send when it may start now (a free slot and a token; then counted
 * in flight), else NULL with *wait_ms the ms until a token, or 0 (q->mu held). */
static struct send_item *take_held(struct chan_state *cs, int64_t now, int64_t *wait_ms)
{
    *wait_ms = 0;
    if (cs->held == NULL || cs->inflight >= cs->conc)
        return NULL;
    int64_t w = take_token(cs, now);
    if (w > 0) {
        *wait_ms = w;
        return NULL;
    }
    struct send_item *it = cs->held;
    cs->held = it->next;
    if (cs->held == NULL)
        cs->held_tail = NULL;
    cs->nheld--;
    it->next = NULL;
    cs->inflight++;
    return it;
}

static struct chan_state *chan_find(struct notify_queue *q, const char *id)
{
    for (int i = 0; i < q->nchans; i++)
        if (strcmp(q->chans[i].id, id) == 0)
            return &q->chans[i];
    return NULL;
}

/* One driver send, put on the done list; returns the channel's next held send when it may
 * start now (run by the caller, on the same worker). */
static struct send_item *send_one(struct send_item *it)
{
    struct notify_queue *q = it->q;
    it->started = clock_wall_ms();
    cJSON *data = it->data ? json_exact_parse(it->data) : NULL; /* numbers as sent */
    cJSON *params = it->params ? cJSON_Parse(it->params) : NULL;
    struct notify_channel_row row = {.id = it->channel_id,
                                     .app_id = it->app,
                                     .kind = it->kind,
                                     .config = it->config,
                                     .updated_at = it->updated_at};
    struct notify_msg m = {.app_id = it->app,
                           .notification_id = it->notification,
                           .delivery_id = it->delivery,
                           .type_code = it->type ? it->type : "",
                           .title = it->title ? it->title : "",
                           .content = it->content ? it->content : "",
                           .html = it->html,
                           .data = data,
                           .params = params,
                           .address = it->address,
                           .attempt = it->attempts + 1};
    memset(&it->r, 0, sizeof(it->r));
    if (workpool_is_cancelled()) {
        it->cancelled = true;
    } else {
        notify_channel_send(q->chs, &row, &m, &it->r);
        /* cut short by the shutdown (notify_drivers_abort): not an attempt, it runs again */
        it->cancelled = it->r.outcome != NOTIFY_SENT && notify_drivers_aborting();
    }
    it->duration = clock_wall_ms() - it->started;
    cJSON_Delete(data);
    cJSON_Delete(params);
    struct send_item *next = NULL;
    int64_t wait_ms;
    pthread_mutex_lock(&q->mu);
    struct chan_state *cs = chan_find(q, it->channel_id);
    if (cs != NULL && cs->inflight > 0)
        cs->inflight--;
    it->next = q->done;
    q->done = it;
    if (cs != NULL && !q->stop)
        next = take_held(cs, clock_wall_ms(), &wait_ms);
    q->kicked = true;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return next;
}

/* A driver send; then, on the same worker, its channel's held sends while they may start. */
static void send_work(void *arg)
{
    struct send_item *it = arg;
    while (it != NULL)
        it = send_one(it);
}

/* Starts the held sends that may start now, on the pool; sends back to the queue (as cancelled:
 * not an attempt, due now) those held longer than HOLD_MS. Returns the ms until a held send
 * waits for a token only, or IDLE_MS (dispatcher). */
static int64_t start_held(struct notify_queue *q)
{
    int64_t now = clock_wall_ms(), soonest = IDLE_MS;
    pthread_mutex_lock(&q->mu);
    for (int i = 0; i < q->nchans; i++) {
        struct chan_state *cs = &q->chans[i];
        while (cs->held != NULL && now - cs->held->held_at > HOLD_MS) {
            struct send_item *it = cs->held;
            cs->held = it->next;
            if (cs->held == NULL)
                cs->held_tail = NULL;
            cs->nheld--;
            it->cancelled = true;
            it->next = q->done;
            q->done = it;
        }
        int64_t w;
        struct send_item *it;
        while ((it = take_held(cs, now, &w)) != NULL) {
            if (workpool_submit(q->pool, send_work, it) != 0) { /* back at the head */
                cs->inflight--;
                it->next = cs->held;
                cs->held = it;
                if (cs->held_tail == NULL)
                    cs->held_tail = it;
                cs->nheld++;
                break;
            }
        }
        if (w > 0 && w < soonest)
            soonest = w;
    }
    pthread_mutex_unlock(&q->mu);
    return soonest;
}

/* Writes the finished driver sends: each delivery's state, its attempt, its job done or put
 * back with its back-off. */
static void flush_done(struct notify_queue *q)
{
    pthread_mutex_lock(&q->mu);
    struct send_item *list = q->done;
    q->done = NULL;
    pthread_mutex_unlock(&q->mu);
    if (list == NULL)
        return;
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    struct notify_ev_ids evs = {.b = BUF_INIT}; /* delivery.status_changed (events.c) */
    struct notify_tally_batch tb = {0};
    int n = 0;
    for (struct send_item *it = list; it != NULL; it = it->next, n++) {
        if (it->cancelled) { /* back in the queue as it was, due now */
            store_op_add(op, &SQL_JOBS_REQUEUE);
            store_bind_int(op, it->job);
            store_bind_text(op, it->token);
            store_bind_int(op, now);
            store_bind_int(op, it->attempts);
            continue;
        }
        notify__ev_ids_add(q->n->ev, &evs, it->app, it->delivery);
        int attempt = it->attempts + 1;
        const char *outcome;
        int64_t next = 0;
        if (it->r.outcome == NOTIFY_SENT) {
            outcome = "sent";
            store_op_add(op, &SQL_DELIVERIES_SENT);
            store_bind_text(op, it->delivery);
            store_bind_int(op, now);
            store_bind_int(op, attempt);
        } else {
            bool retry = it->r.outcome == NOTIFY_RETRY && attempt < it->max_attempts;
            outcome = retry ? "failed" : "dead";
            if (retry)
                next = now + notify__backoff_ms(attempt, it->r.retry_after_s);
            store_op_add(op, &SQL_DELIVERIES_FAILED);
            store_bind_text(op, it->delivery);
            store_bind_int(op, now);
            store_bind_int(op, attempt);
            store_bind_text(op, outcome);
            if (retry)
                store_bind_int(op, next);
            else
                store_bind_null(op);
            store_bind_text(op, it->r.detail[0] ? it->r.detail : outcome);
        }
        notify__tally_add(&tb, it->kind, outcome);
        store_op_add(op, &SQL_DELIVERY_ATTEMPTS_INSERT);
        store_bind_text(op, it->delivery);
        store_bind_int(op, attempt);
        store_bind_text(op, it->r.outcome == NOTIFY_SENT    ? "sent"
                            : it->r.outcome == NOTIFY_RETRY ? "retry"
                                                            : "permanent");
        store_bind_int(op, it->r.code);
        store_bind_text(op, it->r.detail);
        store_bind_int(op, it->duration);
        store_bind_text(op, it->token);
        store_bind_int(op, now);
        if (next > 0) {
            store_op_add(op, &SQL_JOBS_REQUEUE);
            store_bind_int(op, it->job);
            store_bind_text(op, it->token);
            store_bind_int(op, next);
            store_bind_int(op, attempt);
        } else {
            store_op_add(op, &SQL_JOBS_DONE);
            store_bind_int(op, it->job);
        }
    }
    notify__ev_ids_flush(&evs, op, now);
    int rc = store_write_wait(q->n->store, op, NULL);
    if (rc != 0)
        log_warn("notify", "recording %d sends failed: %s (they run again after their lease)", n,
                 err_str(rc));
    else
        notify__tally_commit(&q->tally, &tb);
    while (list != NULL) {
        struct send_item *next = list->next;
        item_free(list);
        list = next;
    }
}

/* Starts the driver send of row i, or says when to try it again (*defer_to, the channel busy
 * or over its rate) or why it cannot go (*dead). */
static void start_send(struct notify_queue *q, const struct store_rows *r, int i, const char *token,
                       int64_t now, int64_t *defer_to, const char **dead)
{
    *defer_to = 0;
    *dead = NULL;
    const char *cid = store_rows_text(r, i, C_CHANNEL_ID);
    if (q->chs == NULL || q->pool == NULL) {
        *dead = "no driver for this channel kind";
        return;
    }
    if (cid == NULL || store_rows_is_null(r, i, C_CH_KIND)) {
        *dead = "the channel was deleted";
        return;
    }
    if (store_rows_int(r, i, C_CH_ENABLED) == 0) {
        *dead = "the channel is disabled";
        return;
    }
    int conc = (int)store_rows_int(r, i, C_CH_CONCURRENCY);
    conc = conc < 1 ? 1 : conc > SLOTS_MAX ? SLOTS_MAX : conc;
    struct send_item *it = xcalloc(1, sizeof(*it));
    it->q = q;
    snprintf(it->token, sizeof(it->token), "%s", token);
    it->job = store_rows_int(r, i, C_JOB);
    it->attempts = (int)store_rows_int(r, i, C_JOB_ATTEMPTS);
    it->max_attempts = (int)store_rows_int(r, i, C_CH_MAX_ATTEMPTS);
    it->delivery = dup_col(r, i, C_DELIVERY);
    it->app = dup_col(r, i, C_APP);
    it->notification = dup_col(r, i, C_NOTIFICATION);
    it->type = dup_col(r, i, C_TYPE);
    it->title = dup_col(r, i, C_TITLE);
    it->content = dup_col(r, i, C_CONTENT);
    it->html = dup_col(r, i, C_HTML);
    it->data = dup_col(r, i, C_DATA);
    it->params = dup_col(r, i, C_PARAMS);
    it->address = dup_col(r, i, C_ADDRESS);
    it->channel_id = dup_col(r, i, C_CHANNEL_ID);
    it->kind = dup_col(r, i, C_CH_KIND);
    it->config = dup_col(r, i, C_CH_CONFIG);
    it->updated_at = store_rows_int(r, i, C_CH_UPDATED);
    pthread_mutex_lock(&q->mu);
    struct chan_state *cs = chan_of(q, cid);
    bool go = false;
    if (cs != NULL) {
        cs->conc = conc;
        cs->rate = store_rows_int(r, i, C_CH_RATE);
        go = cs->held == NULL && cs->inflight < conc && take_token(cs, now) == 0;
        if (go) {
            cs->inflight++;
        } else if (cs->nheld < HOLD_MAX) { /* waits for a slot or a token, in memory */
            it->held_at = now;
            if (cs->held_tail != NULL)
                cs->held_tail->next = it;
            else
                cs->held = it;
            cs->held_tail = it;
            cs->nheld++;
            it = NULL;
        }
    }
    pthread_mutex_unlock(&q->mu);
    if (it == NULL)
        return;
    if (!go || workpool_submit(q->pool, send_work, it) != 0) {
        if (go) {
            pthread_mutex_lock(&q->mu);
            cs->inflight--;
            pthread_mutex_unlock(&q->mu);
        }
        item_free(it);
        *defer_to = now + DEFER_MS;
    }
}

static void requeue(struct store_op *op, const struct store_rows *r, int i, const char *token,
                    int64_t run_at)
{
    store_op_add(op, &SQL_DELIVERIES_HELD);
    store_bind_text(op, store_rows_text(r, i, C_DELIVERY));
    store_bind_int(op, run_at);
    store_op_add(op, &SQL_JOBS_REQUEUE);
    store_bind_int(op, store_rows_int(r, i, C_JOB));
    store_bind_text(op, token);
    store_bind_int(op, run_at);
    store_bind_int(op, store_rows_int(r, i, C_JOB_ATTEMPTS));
}

/* A batch's in-app deliveries, pushed once their finishing write committed. */
struct pushes {
    struct notify_queue *q;
    const struct store_rows *r; /* the claim's rows */
    const int *push;            /* their rows in r */
    int npush;
    bool ran;
};

/* On the writer thread right after the commit (store_write_wait_committed), so the frames leave
 * in commit order with chat's events (docs/chat.md, "Order"); each with its event's cursor (one
 * row per pushed delivery, in push order, the write's last step). At least once: also when the
 * write failed, without a cursor. */
static void pushes_committed(int status, struct store_result *res, void *ud)
{
    struct pushes *pu = ud;
    pu->ran = true;
    const struct store_rows *cur = status == 0 ? store_result_step(res, -1) : NULL;
    for (int k = 0; k < pu->npush; k++) {
        int64_t cursor = cur != NULL && k < cur->nrows && !store_rows_is_null(cur, k, 0)
                             ? store_rows_int(cur, k, 0)
                             : 0;
        notify__inapp_push(pu->q->n, pu->r, pu->push[k], cursor);
    }
}

/* One claim and its batch. Returns the number of jobs run, or -1 on a store error. */
static int run_batch(struct notify_queue *q)
{
    char token[48];
    snprintf(token, sizeof(token), "%s.%llu", q->node, (unsigned long long)++q->batches);
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_JOBS_CLAIM_FAIR); /* every app's oldest due job too (fairness) */
    store_bind_text(op, token);
    store_bind_int(op, now + LEASE_MS);
    store_bind_int(op, now);
    store_bind_int(op, CLAIM_BATCH);
    store_bind_int(op, CLAIM_APPS_MAX);
    store_op_add(op, &SQL_DELIVERIES_SENDING);
    store_bind_text(op, token);
    store_bind_int(op, now);
    store_op_add(op, &SQL_NOTIFICATIONS_RELEASED);
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
    const struct store_rows *r = store_result_step(res, -1); /* SQL_JOBS_CLAIMED, the last */
    int n = r ? r->nrows : 0;
    if (n == 0) {
        store_result_free(res);
        return 0;
    }
    struct store_op *fin = store_op_new();
    struct notify_tally_batch tb = {0};             /* the outcomes, once fin commits */
    struct notify_ev_ids evs = {.b = BUF_INIT};     /* delivery.status_changed (events.c) */
    int *push = xmalloc((size_t)n * sizeof(*push)); /* in-app rows, pushed after fin commits */
    int npush = 0;
    struct buf ids = BUF_INIT; /* their delivery ids, a JSON array: their events */
    buf_putc(&ids, '[');
    for (int i = 0; i < n; i++) {
        int64_t started = clock_wall_ms();
        const char *channel = store_rows_text(r, i, C_CHANNEL);
        bool expired =
            !store_rows_is_null(r, i, C_EXPIRES) && store_rows_int(r, i, C_EXPIRES) <= started;
        /* quiet hours (the user's, in their zone) hold all but urgent ones until they end */
        const char *prio = store_rows_text(r, i, C_PRIORITY);
        int64_t quiet = 0;
        if (!expired && prio != NULL && strcmp(prio, "urgent") != 0 &&
            !store_rows_is_null(r, i, C_QUIET_START))
            quiet = notify_quiet_until(store_rows_text(r, i, C_QUIET_START),
                                       store_rows_text(r, i, C_QUIET_END),
                                       store_rows_text(r, i, C_TIME_ZONE), started);
        /* an escalation step: not needed once the step it escalates was ACKed */
        const char *before = store_rows_text(r, i, C_ESCALATES_STATUS);
        bool acked =
            before != NULL && (strcmp(before, "delivered") == 0 || strcmp(before, "read") == 0);
        bool changed = false;
        if (acked) {
            finish_one(fin, &tb, r, i, token, "skipped", "the previous step was acknowledged",
                       started, clock_wall_ms());
            changed = true;
        } else if (quiet > 0) {
            requeue(fin, r, i, token, quiet);
        } else if (expired) {
            finish_one(fin, &tb, r, i, token, "expired",
                       "the notification's ttl passed before it was sent", started,
                       clock_wall_ms());
            changed = true;
        } else if (channel != NULL && strcmp(channel, "inapp") == 0) {
            if (npush > 0)
                buf_putc(&ids, ',');
            buf_json_str(&ids, store_rows_text(r, i, C_DELIVERY));
            push[npush++] = i; /* finished together after the loop */
            notify__tally_add(&tb, channel, "sent");
            changed = true;
        } else {
            int64_t defer_to;
            const char *dead;
            start_send(q, r, i, token, started, &defer_to, &dead);
            changed = dead != NULL; /* a send's outcome comes with the driver's (flush_done) */
            if (dead != NULL)
                finish_one(fin, &tb, r, i, token, "dead", dead, started, clock_wall_ms());
            else if (defer_to > 0)
                requeue(fin, r, i, token, defer_to);
        }
        if (changed) /* the app's event webhooks (events.c) */
            notify__ev_ids_add(q->n->ev, &evs, store_rows_text(r, i, C_APP),
                               store_rows_text(r, i, C_DELIVERY));
    }
    buf_putc(&ids, ']');
    if (npush > 0) { /* the in-app ones: sent, an attempt each, their jobs done */
        int64_t now2 = clock_wall_ms();
        store_op_add(fin, &SQL_DELIVERIES_SENT_LIST);
        store_bind_text(fin, ids.data);
        store_bind_int(fin, now2);
        store_op_add(fin, &SQL_DELIVERY_ATTEMPTS_SENT_LIST);
        store_bind_text(fin, ids.data);
        store_bind_text(fin, "pushed to the user's connections");
        store_bind_text(fin, token);
        store_bind_int(fin, now2);
        store_op_add(fin, &SQL_JOBS_DONE_LIST);
        store_bind_text(fin, ids.data);
    }
    notify__ev_ids_flush(&evs, fin, clock_wall_ms());
    if (npush > 0) { /* their events, then their cursors (the last step) */
        store_op_add(fin, &SQL_EVENTS_INSERT_NOTIFY);
        store_bind_text(fin, ids.data);
        store_bind_int(fin, clock_wall_ms());
        store_op_add(fin, &SQL_EVENTS_NOTIFY_CURSORS);
        store_bind_text(fin, ids.data);
    }
    buf_release(&ids);
    /* In-app deliveries are `sent` before their frames leave: a device that connects meanwhile
     * either reads them as `sent` (and gets them again on connect) or, having read them as
     * `sending`, is already subscribed when the push below reaches its user's topic. Pushed
     * first, a delivery could be missed by both ways (the device connecting between the push
     * and this commit) until its next connection. */
    struct pushes pu = {.q = q, .r = r, .push = push, .npush = npush};
    if (store_op_nsteps(fin) == 0) { /* every job went to the senders: nothing to write yet */
        store_op_free(fin);
    } else {
        rc = store_write_wait_committed(q->n->store, fin, npush > 0 ? pushes_committed : NULL, &pu,
                                        NULL);
        if (rc != 0)
            log_warn("notify", "finishing %d jobs failed: %s (they run again after their lease)", n,
                     err_str(rc));
        else
            notify__tally_commit(&q->tally, &tb);
    }
    if (npush > 0 && !pu.ran) { /* the store refused the write: pushed anyway, no cursor */
        server_post_hold();     /* the batch's frames reach each loop in one wake-up (ADR 0002) */
        pushes_committed(rc, NULL, &pu);
        server_post_release();
    }
    free(push);
    store_result_free(res);
    return n;
}

static void *dispatcher_main(void *arg)
{
    struct notify_queue *q = arg;
    while (!stopping(q)) {
        flush_done(q);
        if (clock_wall_ms() - q->pruned_at > PRUNE_EVERY_MS) { /* idempotency past its window */
            q->pruned_at = clock_wall_ms();
            struct store_op *op = store_op_new();
            store_op_add(op, &SQL_IDEMPOTENCY_KEYS_PRUNE);
            store_bind_int(op, q->pruned_at);
            (void)store_write_wait(q->n->store, op, NULL);
        }
        int64_t sleep_ms = q->pool != NULL ? start_held(q) : IDLE_MS;
        int n = run_batch(q);
        if (n > 0)
            continue;
        if (n == 0) { /* nothing due: until the next job is due, at most IDLE_MS */
            struct store_op *op = store_op_new();
            store_op_add(op, &SQL_JOBS_NEXT_DUE);
            struct store_result *res = NULL;
            if (store_read_wait(q->n->store, op, &res) == 0) {
                const struct store_rows *r = store_result_step(res, 0);
                if (r != NULL && r->nrows > 0 && !store_rows_is_null(r, 0, 0)) {
                    int64_t d = store_rows_int(r, 0, 0) - clock_wall_ms();
                    d = d < 1 ? 1 : d;
                    sleep_ms = d < sleep_ms ? d : sleep_ms;
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
    if (q->chs != NULL) {
        q->pool = workpool_new(WORKERS, 4096);
        if (q->pool == NULL)
            return ERR_BACKEND;
    }
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
    if (q->pool != NULL) { /* the sends under way are aborted (a hung provider cannot hold the
                              shutdown), the queued ones run cancelled: all go back to the queue */
        notify_drivers_abort();
        workpool_stop(q->pool, true);
        pthread_mutex_lock(&q->mu); /* the held ones too */
        for (int i = 0; i < q->nchans; i++) {
            struct chan_state *cs = &q->chans[i];
            while (cs->held != NULL) {
                struct send_item *it = cs->held;
                cs->held = it->next;
                it->cancelled = true;
                it->next = q->done;
                q->done = it;
            }
            cs->held_tail = NULL;
            cs->nheld = 0;
        }
        pthread_mutex_unlock(&q->mu);
        flush_done(q);
    }
}

void notify__queue_free(struct notify_queue *q)
{
    if (q == NULL)
        return;
    notify__queue_stop(q);
    workpool_free(q->pool);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
}
