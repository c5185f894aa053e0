/*
 * Outgoing event webhooks: the per-app flags, the emit paths and the sender thread (see
 * events.h; docs/notifications.md, "Event webhooks").
 *
 *   sender  one thread per node: leases up to CLAIM due rows of event_outbox (on PostgreSQL
 *           with FOR UPDATE SKIP LOCKED), hands each to a pool of WORKERS threads that POST it
 *           (http_out: timeouts, SSRF guard, no redirects) and write its outcome — the row
 *           deleted on a 2xx, or put back with the queue's back-off (notify__backoff_ms) on a
 *           retryable failure, or deleted with a warning after MAX_ATTEMPTS or a permanent
 *           one. At most INFLIGHT rows are out at once; a row stays leased while it is out.
 */
#include "notify/events.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "auth/secretbox.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/workpool.h"
#include "core/xalloc.h"
#include "notify/engine.h"
#include "notify/http_out.h"
#include "notify/sign.h"
#include "store/sql.h"
#include "store/store.h"

#define CLAIM 64
#define INFLIGHT 64
#define WORKERS 4
#define LEASE_MS 60000
#define IDLE_MS 500
#define FLAGS_POLL_MS 5000
#define MAX_ATTEMPTS 8
#define TIMEOUT_S 5
#define FLAGS_MAX 100000 /* apps with a webhook kept in the flags */

struct app_flag {
    char app[72];
    unsigned mask;
};

struct notify_events {
    struct store *st;
    uint8_t key[SECRETBOX_KEY_LEN];
    bool allow_private;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, kicked, started;
    int inflight;            /* under mu */
    struct app_flag *flags;  /* sorted by app, under mu */
    int nflags;              /* under mu */
    int64_t flags_loaded_ms; /* sender thread */
    pthread_t thread;
    struct workpool *pool;
    struct http_out_pool *conns;
    char node[16];
    uint64_t batches;
};

static const struct {
    const char *name;
    enum notify_event e;
} names[] = {{"message.created", NOTIFY_EV_MESSAGE_CREATED},
             {"conversation.created", NOTIFY_EV_CONVERSATION_CREATED},
             {"delivery.status_changed", NOTIFY_EV_DELIVERY_STATUS}};

static const char *event_name(enum notify_event e)
{
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].e == e)
            return names[i].name;
    return "";
}

struct notify_events *notify_events_new(struct store *st, const uint8_t *enc_key,
                                        bool allow_private)
{
    struct notify_events *ev = xcalloc(1, sizeof(*ev));
    ev->st = st;
    memcpy(ev->key, enc_key, SECRETBOX_KEY_LEN);
    ev->allow_private = allow_private;
    pthread_mutex_init(&ev->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ev->cv, &ca);
    pthread_condattr_destroy(&ca);
    rand_hex(ev->node, 6);
    return ev;
}

const uint8_t *notify__events_key(const struct notify_events *ev)
{
    return ev->key;
}

/* ---- the per-app flags */

static int flag_cmp(const void *a, const void *b)
{
    return strcmp(((const struct app_flag *)a)->app, ((const struct app_flag *)b)->app);
}

void notify__events_flags_set(struct notify_events *ev, const struct store_rows *r)
{
    if (ev == NULL || r == NULL)
        return;
    int n = r->nrows < FLAGS_MAX ? r->nrows : FLAGS_MAX;
    struct app_flag *v = n > 0 ? xcalloc((size_t)n, sizeof(*v)) : NULL;
    int k = 0;
    for (int i = 0; i < r->nrows && k < n; i++) {
        const char *app = store_rows_text(r, i, 0), *events = store_rows_text(r, i, 1);
        if (app == NULL || events == NULL)
            continue;
        unsigned mask = 0;
        for (size_t e = 0; e < sizeof(names) / sizeof(names[0]); e++) {
            char quoted[40];
            snprintf(quoted, sizeof(quoted), "\"%s\"", names[e].name);
            if (strstr(events, quoted) != NULL)
                mask |= (unsigned)names[e].e;
        }
        if (k > 0 && strcmp(v[k - 1].app, app) == 0) { /* rows come ordered by app */
            v[k - 1].mask |= mask;
            continue;
        }
        snprintf(v[k].app, sizeof(v[k].app), "%s", app);
        v[k++].mask = mask;
    }
    pthread_mutex_lock(&ev->mu);
    free(ev->flags);
    ev->flags = v;
    ev->nflags = k;
    pthread_mutex_unlock(&ev->mu);
}

bool notify_events_wants(struct notify_events *ev, const char *app_id, enum notify_event e)
{
    if (ev == NULL || app_id == NULL)
        return false;
    struct app_flag key;
    snprintf(key.app, sizeof(key.app), "%s", app_id);
    pthread_mutex_lock(&ev->mu);
    const struct app_flag *f =
        ev->nflags > 0 ? bsearch(&key, ev->flags, (size_t)ev->nflags, sizeof(key), flag_cmp) : NULL;
    bool yes = f != NULL && (f->mask & (unsigned)e) != 0;
    pthread_mutex_unlock(&ev->mu);
    return yes;
}

static int flags_load(struct notify_events *ev)
{
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_EVENT_WEBHOOKS_FLAGS);
    struct store_result *res = NULL;
    int rc = store_read_wait(ev->st, op, &res);
    if (rc == 0)
        notify__events_flags_set(ev, store_result_step(res, 0));
    store_result_free(res);
    ev->flags_loaded_ms = clock_mono_ms();
    return rc;
}

/* ---- emitting */

static void emitted(int status, struct store_result *res, void *ud)
{
    struct notify_events *ev = ud;
    store_result_free(res);
    if (status != 0)
        log_warn("events", "queueing an event failed: %s", err_str(status));
    else
        notify__events_kick(ev);
}

void notify_events_emit(struct notify_events *ev, const char *app_id, enum notify_event e,
                        const char *event_id, const char *payload)
{
    if (!notify_events_wants(ev, app_id, e))
        return;
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_EVENT_OUTBOX_ADD);
    store_bind_text(op, app_id);
    store_bind_text(op, event_name(e));
    store_bind_text(op, event_id);
    store_bind_text(op, payload);
    store_bind_int(op, clock_wall_ms());
    int rc = store_write(ev->st, op, emitted, ev);
    if (rc != 0)
        log_warn("events", "queueing a %s event failed: %s", event_name(e), err_str(rc));
}

void notify_events_add_deliveries(struct store_op *op, const char *ids_json, int64_t now)
{
    store_op_add(op, &SQL_EVENT_OUTBOX_ADD_DELIVERIES);
    store_bind_text(op, ids_json);
    store_bind_int(op, now);
}

static enum notify_event event_of(const char *name)
{
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(names[i].name, name) == 0)
            return names[i].e;
    return 0;
}

bool notify_events_chat_wants(void *ud, const char *app_id, const char *event)
{
    enum notify_event e = event_of(event);
    return e != 0 && notify_events_wants(ud, app_id, e);
}

void notify_events_chat_emit(void *ud, const char *app_id, const char *event, const char *id,
                             const cJSON *obj)
{
    char *payload = cJSON_PrintUnformatted(obj);
    if (payload != NULL)
        notify_events_emit(ud, app_id, event_of(event), id, payload);
    cJSON_free(payload);
}

void notify_engine_set_events(struct notify_engine *n, struct notify_events *ev)
{
    n->ev = ev;
}

void notify__ev_ids_add(struct notify_events *ev, struct notify_ev_ids *x, const char *app_id,
                        const char *delivery)
{
    if (delivery == NULL || !notify_events_wants(ev, app_id, NOTIFY_EV_DELIVERY_STATUS))
        return;
    buf_putc(&x->b, x->n++ ? ',' : '[');
    buf_json_str(&x->b, delivery);
}

void notify__ev_ids_flush(struct notify_ev_ids *x, struct store_op *op, int64_t now)
{
    if (x->n > 0) {
        buf_putc(&x->b, ']');
        buf_putc(&x->b, '\0');
        notify_events_add_deliveries(op, x->b.data, now);
    }
    buf_release(&x->b);
    x->n = 0;
}

/* ---- sending */

struct ev_item {
    struct notify_events *ev;
    int64_t id;
    int attempts;
    char *event_id, *event, *payload, *url, *secret, *app;
    int64_t created_at;
};

static void item_free(struct ev_item *it)
{
    free(it->event_id);
    free(it->event);
    free(it->payload);
    free(it->url);
    free(it->secret);
    free(it->app);
    free(it);
}

static char *col(const struct store_rows *r, int i, int c)
{
    const char *v = store_rows_text(r, i, c);
    return xstrdup(v != NULL ? v : "");
}

/* One POST; fills r. */
static void post(struct ev_item *it, struct notify_result *r)
{
    uint8_t *secret = NULL;
    size_t slen = 0;
    if (secretbox_open(it->ev->key, it->secret, &secret, &slen) != 0) {
        r->outcome = NOTIFY_PERMANENT;
        snprintf(r->detail, sizeof(r->detail), "the webhook's secret does not open");
        return;
    }
    long long ts = (long long)clock_wall_ms();
    struct buf body = BUF_INIT;
    buf_puts(&body, "{\"id\":");
    buf_json_str(&body, it->event_id);
    buf_puts(&body, ",\"type\":");
    buf_json_str(&body, it->event);
    buf_puts(&body, ",\"app_id\":");
    buf_json_str(&body, it->app);
    buf_printf(&body, ",\"created_at\":%lld,\"data\":%s,\"timestamp\":%lld}",
               (long long)it->created_at, it->payload[0] ? it->payload : "null", ts);
    char sig[NOTIFY_SIGN_HEX256];
    notify_sign_webhook((const char *)secret, ts, body.data, body.len, sig);
    free(secret);
    char h_sig[128], h_id[200], h_ev[80];
    snprintf(h_sig, sizeof(h_sig), "X-Herald-Signature: t=%lld,v1=%s", ts, sig);
    snprintf(h_id, sizeof(h_id), "X-Herald-Event-Id: %s", it->event_id);
    snprintf(h_ev, sizeof(h_ev), "X-Herald-Event: %s", it->event);
    const char *headers[] = {h_sig, h_id, h_ev, NULL};
    struct http_out_req rq = {.url = it->url,
                              .content_type = "application/json",
                              .headers = headers,
                              .body = body.data,
                              .body_len = body.len,
                              .timeout_s = TIMEOUT_S,
                              .allow_private = it->ev->allow_private,
                              .pool = it->ev->conns};
    struct http_out_resp resp;
    http_out_request(&rq, &resp, r);
    buf_release(&resp.body);
    buf_release(&body);
}

static void send_work(void *arg)
{
    struct ev_item *it = arg;
    struct notify_events *ev = it->ev;
    struct notify_result r;
    memset(&r, 0, sizeof(r));
    bool cancelled = workpool_is_cancelled();
    if (!cancelled)
        post(it, &r);
    int64_t now = clock_wall_ms();
    int attempt = it->attempts + 1;
    struct store_op *op = store_op_new();
    if (cancelled) { /* the server stops: back as it was, due now */
        store_op_add(op, &SQL_EVENT_OUTBOX_REQUEUE);
        store_bind_int(op, it->id);
        store_bind_int(op, now);
        store_bind_int(op, it->attempts);
    } else if (r.outcome == NOTIFY_RETRY && attempt < MAX_ATTEMPTS) {
        store_op_add(op, &SQL_EVENT_OUTBOX_REQUEUE);
        store_bind_int(op, it->id);
        store_bind_int(op, now + notify__backoff_ms(attempt, r.retry_after_s));
        store_bind_int(op, attempt);
    } else {
        if (r.outcome != NOTIFY_SENT)
            log_warn("events", "event %s (%s) of app %s given up after %d attempt(s): %s",
                     it->event_id, it->event, it->app, attempt, r.detail);
        store_op_add(op, &SQL_EVENT_OUTBOX_DONE);
        store_bind_int(op, it->id);
    }
    int rc = store_write_wait(ev->st, op, NULL);
    if (rc != 0)
        log_warn("events", "recording event %s failed: %s (it runs again after its lease)",
                 it->event_id, err_str(rc));
    item_free(it);
    pthread_mutex_lock(&ev->mu);
    ev->inflight--;
    ev->kicked = true;
    pthread_cond_signal(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
}

/* One claim; returns the rows handed out, or -1. */
static int run_batch(struct notify_events *ev)
{
    pthread_mutex_lock(&ev->mu);
    int room = INFLIGHT - ev->inflight;
    pthread_mutex_unlock(&ev->mu);
    if (room <= 0)
        return 0;
    char token[40];
    snprintf(token, sizeof(token), "e%s.%llu", ev->node, (unsigned long long)++ev->batches);
    int64_t now = clock_wall_ms();
    struct store_op *op = store_op_new();
    store_op_add(op, &SQL_EVENT_OUTBOX_CLAIM);
    store_bind_text(op, token);
    store_bind_int(op, now + LEASE_MS);
    store_bind_int(op, now);
    store_bind_int(op, room < CLAIM ? room : CLAIM);
    store_op_add(op, &SQL_EVENT_OUTBOX_CLAIMED);
    store_bind_text(op, token);
    struct store_result *res = NULL;
    int rc = store_write_wait(ev->st, op, &res);
    if (rc != 0) {
        if (rc != ERR_UNAVAIL)
            log_warn("events", "claiming events failed: %s", err_str(rc));
        return -1;
    }
    const struct store_rows *r = store_result_step(res, 1);
    int n = r != NULL ? r->nrows : 0;
    for (int i = 0; i < n; i++) {
        struct ev_item *it = xcalloc(1, sizeof(*it));
        it->ev = ev;
        it->id = store_rows_int(r, i, 0);
        it->attempts = (int)store_rows_int(r, i, 1);
        it->event_id = col(r, i, 2);
        it->event = col(r, i, 3);
        it->payload = col(r, i, 4);
        it->created_at = store_rows_int(r, i, 5);
        it->url = col(r, i, 6);
        it->secret = col(r, i, 7);
        it->app = col(r, i, 8);
        pthread_mutex_lock(&ev->mu);
        ev->inflight++;
        pthread_mutex_unlock(&ev->mu);
        if (workpool_submit(ev->pool, send_work, it) != 0) { /* its lease passes: again later */
            pthread_mutex_lock(&ev->mu);
            ev->inflight--;
            pthread_mutex_unlock(&ev->mu);
            item_free(it);
        }
    }
    store_result_free(res);
    return n;
}

static bool wait_ms(struct notify_events *ev, int64_t ms)
{
    struct timespec ts = clock_deadline(CLOCK_MONOTONIC, ms);
    pthread_mutex_lock(&ev->mu);
    while (!ev->stop && !ev->kicked)
        if (pthread_cond_timedwait(&ev->cv, &ev->mu, &ts) == ETIMEDOUT)
            break;
    ev->kicked = false;
    bool go = !ev->stop;
    pthread_mutex_unlock(&ev->mu);
    return go;
}

void notify__events_kick(struct notify_events *ev)
{
    if (ev == NULL)
        return;
    pthread_mutex_lock(&ev->mu);
    ev->kicked = true;
    pthread_cond_signal(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
}

static void *sender_main(void *arg)
{
    struct notify_events *ev = arg;
    for (;;) {
        if (clock_mono_ms() - ev->flags_loaded_ms >= FLAGS_POLL_MS)
            (void)flags_load(ev); /* other nodes' console changes */
        int n = run_batch(ev);
        if (n == CLAIM)
            continue;
        if (!wait_ms(ev, IDLE_MS))
            break;
    }
    return NULL;
}

int notify_events_start(struct notify_events *ev)
{
    if (strcmp(store_backend_name(ev->st), "sqlite") == 0) {
        struct store_op *op = store_op_new(); /* one server per database: a dead one's leases */
        store_op_add(op, &SQL_EVENT_OUTBOX_RELEASE_ALL);
        int rc = store_write_wait(ev->st, op, NULL);
        if (rc != 0)
            return rc;
    }
    int rc = flags_load(ev);
    if (rc != 0)
        return rc;
    ev->pool = workpool_new(WORKERS, 4096);
    ev->conns = http_out_pool_new();
    if (ev->pool == NULL || ev->conns == NULL)
        return ERR_BACKEND;
    if (pthread_create(&ev->thread, NULL, sender_main, ev) != 0)
        return ERR_BACKEND;
    ev->started = true;
    return 0;
}

void notify_events_stop(struct notify_events *ev)
{
    if (ev == NULL)
        return;
    pthread_mutex_lock(&ev->mu);
    ev->stop = true;
    pthread_cond_signal(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
    if (ev->started)
        pthread_join(ev->thread, NULL);
    ev->started = false;
    if (ev->pool != NULL)
        workpool_stop(ev->pool, true); /* queued rows go back; sends under way end first */
}

void notify_events_free(struct notify_events *ev)
{
    if (ev == NULL)
        return;
    notify_events_stop(ev);
    workpool_free(ev->pool);
    http_out_pool_free(ev->conns);
    free(ev->flags);
    pthread_cond_destroy(&ev->cv);
    pthread_mutex_destroy(&ev->mu);
    free(ev);
}
