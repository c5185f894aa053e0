/*
 * The direct conversations the server has resolved lately, by app and direct key
 * (docs/chat.md, "Sending to a user"). A send with `to` looks here first: a hit skips the
 * get-or-create write and goes straight to the message write, which still checks that the
 * sender is a member, so a stale entry can only cost a retry, never a wrong delivery. The
 * table is set-associative: a key hashes to a set of DIRECTS_WAYS entries and, when the set
 * is full, replaces the one put longest ago, so it stays within DIRECTS_SLOTS entries
 * whatever the traffic (with one entry per hash slot, two busy pairs whose keys collided
 * evicted each other at every send, and each of their sends wrote the get-or-create again);
 * one mutex guards it (any thread).
 *
 * A miss while another send's get-or-create of the same pair is under way waits for it
 * instead of writing its own (chat__directs_lead): when 1,000 users start talking at once,
 * each pair's first sends would otherwise each run the get-or-create write until the first
 * one commits. The waiting sends sit in a bounded table of pending pairs (a colliding pair
 * just writes its own), and the leader's end wakes them (chat__directs_done).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/internal.h"
#include "core/xalloc.h"

#define DIRECTS_SLOTS 8192 /* a power of two */
#define DIRECTS_WAYS 4     /* entries per set */
#define PENDING_SLOTS 8192 /* a power of two: pairs whose get-or-create is under way */

struct slot {
    char *key; /* "app_id\ndirect_key", owned; NULL when empty */
    char conv_id[CHAT_ID_LEN + 1];
    bool service; /* a service conversation (it has a customer, fixed when it was created) */
    uint64_t put; /* when it was put (d->puts): the set's oldest goes first */
};

/* A send waiting for the leader's get-or-create of its pair. */
struct waiter {
    struct kit_job *job;
    struct waiter *next;
};

struct pending {
    char *key; /* "app_id\ndirect_key", owned; NULL when free */
    struct waiter *waiters;
};

struct chat_directs {
    pthread_mutex_t mu;
    struct slot slots[DIRECTS_SLOTS];
    uint64_t puts; /* entries put so far */
    struct pending pending[PENDING_SLOTS];
};

struct chat_directs *chat__directs_new(void)
{
    struct chat_directs *d = xcalloc(1, sizeof(*d));
    pthread_mutex_init(&d->mu, NULL);
    return d;
}

void chat__directs_free(struct chat_directs *d)
{
    if (d == NULL)
        return;
    for (int i = 0; i < DIRECTS_SLOTS; i++)
        free(d->slots[i].key);
    for (int i = 0; i < PENDING_SLOTS; i++) { /* none waits once the loops have stopped */
        free(d->pending[i].key);
        for (struct waiter *w = d->pending[i].waiters, *n; w != NULL; w = n) {
            n = w->next;
            free(w);
        }
    }
    pthread_mutex_destroy(&d->mu);
    free(d);
}

/* FNV-1a over "app_id\ndirect_key" without building it: a slot index (set_of, pending_of). */
static unsigned slot_of(const char *app_id, const char *key)
{
    uint32_t h = 2166136261u;
    for (const char *p = app_id; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    h = (h ^ '\n') * 16777619u;
    for (const char *p = key; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return h & (DIRECTS_SLOTS - 1);
}

static bool key_is(const char *k, const char *app_id, const char *key)
{
    if (k == NULL)
        return false;
    size_t n = strlen(app_id);
    return strncmp(k, app_id, n) == 0 && k[n] == '\n' && strcmp(k + n + 1, key) == 0;
}

/* The DIRECTS_WAYS entries (app_id, key) may sit in. */
static struct slot *set_of(struct chat_directs *d, const char *app_id, const char *key)
{
    return &d->slots[slot_of(app_id, key) & ~(unsigned)(DIRECTS_WAYS - 1)];
}

/* The pending get-or-create (app_id, key) may hold. */
static struct pending *pending_of(struct chat_directs *d, const char *app_id, const char *key)
{
    return &d->pending[slot_of(app_id, key) & (PENDING_SLOTS - 1)];
}

/* The entry of (app_id, key) in its set, or NULL. Under d->mu. */
static struct slot *find(struct chat_directs *d, const char *app_id, const char *key)
{
    struct slot *set = set_of(d, app_id, key);
    for (int w = 0; w < DIRECTS_WAYS; w++) {
        if (key_is(set[w].key, app_id, key))
            return &set[w];
    }
    return NULL;
}

static char *key_new(const char *app_id, const char *key)
{
    size_t n = strlen(app_id) + 1 + strlen(key) + 1;
    char *k = xmalloc(n);
    snprintf(k, n, "%s\n%s", app_id, key);
    return k;
}

bool chat__directs_get(struct chat_directs *d, const char *app_id, const char *key, char *conv_id,
                       size_t n, bool *service)
{
    pthread_mutex_lock(&d->mu);
    struct slot *s = find(d, app_id, key);
    if (s != NULL) {
        snprintf(conv_id, n, "%s", s->conv_id);
        *service = s->service;
    }
    pthread_mutex_unlock(&d->mu);
    return s != NULL;
}

void chat__directs_put(struct chat_directs *d, const char *app_id, const char *key,
                       const char *conv_id, bool service)
{
    if (strlen(conv_id) > CHAT_ID_LEN)
        return;
    char *k = key_new(app_id, key), *old = NULL;
    pthread_mutex_lock(&d->mu);
    struct slot *s = find(d, app_id, key);
    if (s == NULL) { /* an empty entry of the set, else the one put longest ago */
        struct slot *set = set_of(d, app_id, key);
        s = set;
        for (int w = 0; w < DIRECTS_WAYS && s->key != NULL; w++) {
            if (set[w].key == NULL || set[w].put < s->put)
                s = &set[w];
        }
    }
    old = s->key;
    s->key = k;
    s->put = ++d->puts;
    snprintf(s->conv_id, sizeof(s->conv_id), "%s", conv_id);
    s->service = service;
    pthread_mutex_unlock(&d->mu);
    free(old);
}

void chat__directs_drop(struct chat_directs *d, const char *app_id, const char *key)
{
    char *old = NULL;
    pthread_mutex_lock(&d->mu);
    struct slot *s = find(d, app_id, key);
    if (s != NULL) {
        old = s->key;
        s->key = NULL;
    }
    pthread_mutex_unlock(&d->mu);
    free(old);
}

bool chat__directs_lead(struct chat_directs *d, const char *app_id, const char *key,
                        struct kit_job *j)
{
    struct pending *p = pending_of(d, app_id, key);
    char *k = key_new(app_id, key);
    bool lead = true;
    pthread_mutex_lock(&d->mu);
    if (p->key == NULL) { /* the first: it leads, the next ones wait for it */
        p->key = k;
        k = NULL;
    } else if (key_is(p->key, app_id, key)) {
        struct waiter *w = xmalloc(sizeof(*w));
        w->job = j;
        w->next = p->waiters;
        p->waiters = w;
        lead = false;
    } /* else another pair holds the slot: this one writes its own, waited for by none */
    pthread_mutex_unlock(&d->mu);
    free(k);
    return lead;
}

void chat__directs_done(struct chat_directs *d, const char *app_id, const char *key,
                        const char *conv_id, bool service)
{
    if (conv_id != NULL)
        chat__directs_put(d, app_id, key, conv_id, service);
    struct pending *p = pending_of(d, app_id, key);
    struct waiter *w = NULL;
    char *k = NULL;
    pthread_mutex_lock(&d->mu);
    if (key_is(p->key, app_id, key)) {
        k = p->key;
        w = p->waiters;
        p->key = NULL;
        p->waiters = NULL;
    }
    pthread_mutex_unlock(&d->mu);
    free(k);
    while (w != NULL) { /* each finds the conversation remembered, or gets or creates it */
        struct waiter *n = w->next;
        kit_wake(w->job, 0);
        free(w);
        w = n;
    }
}
