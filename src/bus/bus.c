/*
 * The in-process event bus (see bus.h): one inbox per loop, filled by
 * publishers under a short lock and swapped out whole by the loop, and one
 * topic table per loop (chained hashing, doubling) owned by that loop's
 * thread alone.
 */
#include "bus/bus.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/frame.h"
#include "core/xalloc.h"

#define BUS_INBOX_KEEP 4096 /* events an idle inbox array keeps room for (32 KiB) */

struct bus_topic {
    struct bus_topic *chain;
    unsigned hash;
    struct bus_sub *subs;
    char name[];
};

struct bus_loop {
    pthread_mutex_t mu;
    struct bus_event **in; /* inbox: guarded by mu */
    size_t nin, capin;
    struct bus_event **work; /* the batch being delivered: loop thread */
    size_t capwork;
    struct bus_topic **slots; /* loop thread */
    size_t nslots, ntopics, nsubs;
    struct bus_topic *delivering; /* the topic whose subscribers are being called */
};

struct bus {
    int nloops;
    void (*wake)(int idx, void *ud);
    void *ud;
    struct bus_loop *loops;
    void (*bridge)(const struct bus_event *ev, void *ud);
    void *bridge_ud;
};

static unsigned hash_str(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

struct bus *bus_new(int nloops, void (*wake)(int idx, void *ud), void *ud)
{
    struct bus *b = xcalloc(1, sizeof(*b));
    b->nloops = nloops;
    b->wake = wake;
    b->ud = ud;
    b->loops = xcalloc((size_t)nloops, sizeof(*b->loops));
    for (int i = 0; i < nloops; i++) {
        struct bus_loop *l = &b->loops[i];
        pthread_mutex_init(&l->mu, NULL);
        l->nslots = 64;
        l->slots = xcalloc(l->nslots, sizeof(*l->slots));
    }
    return b;
}

void bus_free(struct bus *b)
{
    if (b == NULL)
        return;
    for (int i = 0; i < b->nloops; i++) {
        struct bus_loop *l = &b->loops[i];
        for (size_t k = 0; k < l->nin; k++)
            bus_event_unref(l->in[k]);
        for (size_t k = 0; k < l->nslots; k++) {
            struct bus_topic *t = l->slots[k];
            while (t) {
                struct bus_topic *next = t->chain;
                for (struct bus_sub *s = t->subs; s; s = s->next)
                    s->topic = NULL;
                free(t);
                t = next;
            }
        }
        free(l->slots);
        free(l->in);
        free(l->work);
        pthread_mutex_destroy(&l->mu);
    }
    free(b->loops);
    free(b);
}

struct bus_event *bus_event_new(int kind, const char *topic, struct frame *frame)
{
    struct bus_event *ev = xcalloc(1, sizeof(*ev));
    atomic_init(&ev->refs, 1);
    ev->kind = kind;
    ev->frame = frame;
    snprintf(ev->topic, sizeof(ev->topic), "%s", topic);
    return ev;
}

void bus_event_unref(struct bus_event *ev)
{
    if (ev == NULL)
        return;
    unsigned before = atomic_fetch_sub_explicit(&ev->refs, 1, memory_order_acq_rel);
    assert(before > 0);
    if (before != 1)
        return;
    frame_unref(ev->frame);
    free(ev);
}

void bus_set_bridge(struct bus *b, void (*fn)(const struct bus_event *ev, void *ud), void *ud)
{
    b->bridge = fn;
    b->bridge_ud = ud;
}

bool bus_bridged(const struct bus *b)
{
    return b->bridge != NULL;
}

void bus_publish(struct bus *b, struct bus_event *ev)
{
    if (b->bridge != NULL && !ev->remote && ev->kind == BUS_KIND_FRAME && ev->frame != NULL)
        b->bridge(ev, b->bridge_ud);
    /* one reference per loop; the caller's is dropped at the end */
    atomic_fetch_add_explicit(&ev->refs, (unsigned)b->nloops, memory_order_relaxed);
    for (int i = 0; i < b->nloops; i++) {
        struct bus_loop *l = &b->loops[i];
        pthread_mutex_lock(&l->mu);
        if (l->nin == l->capin) {
            l->capin = l->capin ? l->capin * 2 : 64;
            l->in = xrealloc(l->in, l->capin * sizeof(*l->in));
        }
        l->in[l->nin++] = ev;
        bool first = l->nin == 1;
        pthread_mutex_unlock(&l->mu);
        if (first)
            b->wake(i, b->ud);
    }
    bus_event_unref(ev);
}

/* ---- topic table (loop thread) */

static struct bus_topic *topic_find(struct bus_loop *l, const char *name, unsigned h)
{
    for (struct bus_topic *t = l->slots[h & (l->nslots - 1)]; t; t = t->chain)
        if (t->hash == h && strcmp(t->name, name) == 0)
            return t;
    return NULL;
}

static void grow(struct bus_loop *l)
{
    size_t n = l->nslots * 2;
    struct bus_topic **slots = xcalloc(n, sizeof(*slots));
    for (size_t i = 0; i < l->nslots; i++) {
        struct bus_topic *t = l->slots[i];
        while (t) {
            struct bus_topic *next = t->chain;
            t->chain = slots[t->hash & (n - 1)];
            slots[t->hash & (n - 1)] = t;
            t = next;
        }
    }
    free(l->slots);
    l->slots = slots;
    l->nslots = n;
}

static void topic_drop(struct bus_loop *l, struct bus_topic *t)
{
    struct bus_topic **p = &l->slots[t->hash & (l->nslots - 1)];
    while (*p != t)
        p = &(*p)->chain;
    *p = t->chain;
    l->ntopics--;
    free(t);
}

void bus_subscribe(struct bus *b, int idx, const char *topic, struct bus_sub *s)
{
    struct bus_loop *l = &b->loops[idx];
    unsigned h = hash_str(topic);
    struct bus_topic *t = topic_find(l, topic, h);
    if (t == NULL) {
        if (l->ntopics >= 2 * l->nslots)
            grow(l);
        size_t n = strnlen(topic, BUS_TOPIC_MAX);
        t = xcalloc(1, sizeof(*t) + n + 1);
        memcpy(t->name, topic, n);
        t->hash = hash_str(t->name);
        t->chain = l->slots[t->hash & (l->nslots - 1)];
        l->slots[t->hash & (l->nslots - 1)] = t;
        l->ntopics++;
    }
    s->topic = t;
    s->prev = NULL;
    s->next = t->subs;
    if (t->subs)
        t->subs->prev = s;
    t->subs = s;
    l->nsubs++;
}

void bus_unsubscribe(struct bus *b, int idx, struct bus_sub *s)
{
    struct bus_loop *l = &b->loops[idx];
    struct bus_topic *t = s->topic;
    if (t == NULL)
        return;
    if (s->prev)
        s->prev->next = s->next;
    else
        t->subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
    s->topic = NULL;
    l->nsubs--;
    if (t->subs == NULL && t != l->delivering)
        topic_drop(l, t);
}

void bus_loop_run(struct bus *b, int idx)
{
    struct bus_loop *l = &b->loops[idx];
    pthread_mutex_lock(&l->mu);
    struct bus_event **batch = l->in;
    size_t n = l->nin;
    size_t cap = l->capin;
    l->in = l->work; /* the inbox keeps the other array's capacity */
    l->capin = l->capwork;
    l->nin = 0;
    pthread_mutex_unlock(&l->mu);
    l->work = batch;
    l->capwork = cap;

    for (size_t i = 0; i < n; i++) {
        struct bus_event *ev = batch[i];
        struct bus_topic *t = topic_find(l, ev->topic, hash_str(ev->topic));
        if (t != NULL) {
            l->delivering = t;
            struct bus_sub *next;
            for (struct bus_sub *s = t->subs; s; s = next) {
                next = s->next;
                if (ev->skip == 0 || s->id != ev->skip)
                    s->fn(s, ev);
            }
            l->delivering = NULL;
            if (t->subs == NULL)
                topic_drop(l, t);
        }
        bus_event_unref(ev);
    }
    /* after a burst (the presence events of thousands of connections arriving at once), the
     * array does not keep the burst's capacity: the next publish starts it again small */
    if (cap > BUS_INBOX_KEEP && n <= BUS_INBOX_KEEP / 4) {
        free(l->work);
        l->work = NULL;
        l->capwork = 0;
    }
}

size_t bus_loop_subscriptions(struct bus *b, int idx)
{
    return b->loops[idx].nsubs;
}

void bus_topic_user(char *out, const char *app_id, const char *user_id)
{
    snprintf(out, BUS_TOPIC_MAX + 1, "u:%s/%s", app_id, user_id);
}

void bus_topic_app(char *out, const char *app_id)
{
    snprintf(out, BUS_TOPIC_MAX + 1, "a:%s", app_id);
}

void bus_topic_monitor(char *out, const char *app_id)
{
    snprintf(out, BUS_TOPIC_MAX + 1, "m:%s", app_id);
}

void bus_topic_operator(char *out, const char *operator_id)
{
    snprintf(out, BUS_TOPIC_MAX + 1, "o:%s", operator_id);
}
