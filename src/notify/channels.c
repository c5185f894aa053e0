/*
 * The registry of opened channels (driver.h): one driver state per channel id, opened from the
 * row's config with its secrets unsealed and kept while the row's updated_at stays the same,
 * so connections, tokens and per-account state live across sends. A state is reference
 * counted: a send holds it for the call, a newer row replaces it in the table, and the last
 * holder closes it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "auth/secretbox.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "notify/driver.h"
#include "notify/drivers.h"
#include "notify/internal.h"

#define BUCKETS 64

struct entry {
    struct entry *next;
    char *id;
    int64_t updated_at;
    const struct notify_driver *drv;
    void *state;   /* NULL: could not open (reason in err) */
    char err[128]; /* why state is NULL */
    int refs;      /* the table's (while listed) and each send's */
    bool listed;
};

struct notify_channels {
    uint8_t key[SECRETBOX_KEY_LEN];
    struct notify_driver_env env;
    pthread_mutex_t mu;
    struct entry *tab[BUCKETS];
};

struct notify_channels *notify_channels_new(const uint8_t *key, bool allow_private)
{
    curl_global_init(CURL_GLOBAL_DEFAULT); /* start-up: before any driver thread */
    struct notify_channels *chs = xcalloc(1, sizeof(*chs));
    memcpy(chs->key, key, SECRETBOX_KEY_LEN);
    chs->env.allow_private = allow_private;
    pthread_mutex_init(&chs->mu, NULL);
    return chs;
}

static void entry_free(struct entry *e)
{
    if (e->drv != NULL && e->drv->close != NULL)
        e->drv->close(e->state);
    free(e->id);
    free(e);
}

void notify_channels_free(struct notify_channels *chs)
{
    if (chs == NULL)
        return;
    for (int b = 0; b < BUCKETS; b++) {
        for (struct entry *e = chs->tab[b], *next; e != NULL; e = next) {
            next = e->next;
            entry_free(e);
        }
    }
    pthread_mutex_destroy(&chs->mu);
    explicit_bzero(chs->key, sizeof(chs->key));
    free(chs);
    curl_global_cleanup();
}

static unsigned bucket_of(const char *id)
{
    unsigned h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % BUCKETS;
}

/* A new state for row (not listed yet). Blocking: the driver's open may resolve or connect. */
static struct entry *entry_open(struct notify_channels *chs, const struct notify_channel_row *row,
                                const struct notify_driver *d)
{
    struct entry *e = xcalloc(1, sizeof(*e));
    e->id = xstrdup(row->id);
    e->updated_at = row->updated_at;
    e->drv = d;
    e->refs = 1;
    cJSON *config = cJSON_Parse(row->config);
    if (!cJSON_IsObject(config))
        snprintf(e->err, sizeof(e->err), "the channel's config is not a JSON object");
    else if (notify__config_open(chs->key, d, config) != 0)
        snprintf(e->err, sizeof(e->err),
                 "the channel's secrets do not open with this server's key");
    else if ((e->state = d->open(config, &chs->env)) == NULL)
        snprintf(e->err, sizeof(e->err), "the channel's config cannot be used");
    cJSON_Delete(config);
    if (e->state == NULL)
        log_warn("notify", "channel %s (%s): %s", row->id, d->kind, e->err);
    return e;
}

static void entry_release(struct notify_channels *chs, struct entry *e)
{
    pthread_mutex_lock(&chs->mu);
    bool last = --e->refs == 0;
    pthread_mutex_unlock(&chs->mu);
    if (last)
        entry_free(e);
}

/* The entry of row, held (entry_release), opened or reopened as needed. */
static struct entry *entry_get(struct notify_channels *chs, const struct notify_channel_row *row,
                               const struct notify_driver *d)
{
    unsigned b = bucket_of(row->id);
    pthread_mutex_lock(&chs->mu);
    for (struct entry *e = chs->tab[b]; e != NULL; e = e->next) {
        if (strcmp(e->id, row->id) == 0 && e->updated_at >= row->updated_at && e->drv == d) {
            e->refs++;
            pthread_mutex_unlock(&chs->mu);
            return e;
        }
    }
    pthread_mutex_unlock(&chs->mu);
    struct entry *fresh = entry_open(chs, row, d); /* outside the lock: may block */
    struct entry *old = NULL;
    pthread_mutex_lock(&chs->mu);
    struct entry **pp = &chs->tab[b];
    for (; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, row->id) == 0)
            break;
    }
    if (*pp != NULL && (*pp)->updated_at >= row->updated_at && (*pp)->drv == d) {
        /* another thread listed one as new meanwhile: use it, drop ours */
        struct entry *e = *pp;
        e->refs++;
        pthread_mutex_unlock(&chs->mu);
        entry_release(chs, fresh);
        return e;
    }
    if (*pp != NULL) { /* older: unlisted, closed by its last holder */
        old = *pp;
        *pp = old->next;
        old->listed = false;
    }
    fresh->next = chs->tab[b];
    fresh->listed = true;
    fresh->refs++; /* the table's */
    chs->tab[b] = fresh;
    pthread_mutex_unlock(&chs->mu);
    if (old != NULL)
        entry_release(chs, old);
    return fresh;
}

void notify__channels_forget(struct notify_channels *chs, const char *id)
{
    struct entry *old = NULL;
    pthread_mutex_lock(&chs->mu);
    for (struct entry **pp = &chs->tab[bucket_of(id)]; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, id) == 0) {
            old = *pp;
            *pp = old->next;
            old->listed = false;
            break;
        }
    }
    pthread_mutex_unlock(&chs->mu);
    if (old != NULL)
        entry_release(chs, old); /* the table's reference: closed now or by its last sender */
}

static void fail(struct notify_result *r, enum notify_outcome o, const char *detail)
{
    r->outcome = o;
    snprintf(r->detail, sizeof(r->detail), "%s", detail);
}

void notify_channel_send(struct notify_channels *chs, const struct notify_channel_row *row,
                         const struct notify_msg *m, struct notify_result *r)
{
    memset(r, 0, sizeof(*r));
    const struct notify_driver *d = notify_driver_find(row->kind);
    if (d == NULL) {
        fail(r, NOTIFY_PERMANENT, "no driver for this channel kind");
        return;
    }
    struct entry *e = entry_get(chs, row, d);
    if (e->state == NULL)
        fail(r, NOTIFY_PERMANENT, e->err);
    else
        d->send(e->state, m, r);
    entry_release(chs, e);
}
