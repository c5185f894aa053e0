/*
 * The direct conversations the server has resolved lately, by app and direct key
 * (docs/chat.md, "Sending to a user"). A send with `to` looks here first: a hit skips the
 * get-or-create write and goes straight to the message write, which still checks that the
 * sender is a member, so a stale entry can only cost a retry, never a wrong delivery. The
 * table is direct-mapped (a colliding key replaces the slot's entry), so it stays within
 * DIRECTS_SLOTS entries whatever the traffic; one mutex guards it (any thread).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/internal.h"
#include "core/xalloc.h"

#define DIRECTS_SLOTS 8192 /* a power of two */

struct slot {
    char *key; /* "app_id\ndirect_key", owned; NULL when empty */
    char conv_id[CHAT_ID_LEN + 1];
    bool service; /* a service conversation (it has a customer, fixed when it was created) */
};

struct chat_directs {
    pthread_mutex_t mu;
    struct slot slots[DIRECTS_SLOTS];
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
    pthread_mutex_destroy(&d->mu);
    free(d);
}

/* FNV-1a over "app_id\ndirect_key" without building it. */
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

static bool slot_is(const struct slot *s, const char *app_id, const char *key)
{
    if (s->key == NULL)
        return false;
    size_t n = strlen(app_id);
    return strncmp(s->key, app_id, n) == 0 && s->key[n] == '\n' && strcmp(s->key + n + 1, key) == 0;
}

bool chat__directs_get(struct chat_directs *d, const char *app_id, const char *key, char *conv_id,
                       size_t n, bool *service)
{
    struct slot *s = &d->slots[slot_of(app_id, key)];
    pthread_mutex_lock(&d->mu);
    bool hit = slot_is(s, app_id, key);
    if (hit) {
        snprintf(conv_id, n, "%s", s->conv_id);
        *service = s->service;
    }
    pthread_mutex_unlock(&d->mu);
    return hit;
}

void chat__directs_put(struct chat_directs *d, const char *app_id, const char *key,
                       const char *conv_id, bool service)
{
    if (strlen(conv_id) > CHAT_ID_LEN)
        return;
    size_t n = strlen(app_id) + 1 + strlen(key) + 1;
    char *k = xmalloc(n);
    snprintf(k, n, "%s\n%s", app_id, key);
    struct slot *s = &d->slots[slot_of(app_id, key)];
    pthread_mutex_lock(&d->mu);
    char *old = s->key;
    s->key = k;
    snprintf(s->conv_id, sizeof(s->conv_id), "%s", conv_id);
    s->service = service;
    pthread_mutex_unlock(&d->mu);
    free(old);
}

void chat__directs_drop(struct chat_directs *d, const char *app_id, const char *key)
{
    struct slot *s = &d->slots[slot_of(app_id, key)];
    char *old = NULL;
    pthread_mutex_lock(&d->mu);
    if (slot_is(s, app_id, key)) {
        old = s->key;
        s->key = NULL;
    }
    pthread_mutex_unlock(&d->mu);
    free(old);
}
