/*
 * Per-loop session table (see sessions.h): chained hashing on (app, user),
 * doubling when the chains average more than two.
 */
#include "sessions.h"

#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

struct rt_sessions {
    struct rt_session **slots;
    size_t nslots; /* power of two */
    size_t count;
};

static unsigned hash_user(const char *app_id, const char *user_id)
{
    unsigned h = 2166136261u;
    for (const char *p = app_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ 0x1fu) * 16777619u;
    for (const char *p = user_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h;
}

struct rt_sessions *rt_sessions_new(void)
{
    struct rt_sessions *t = xcalloc(1, sizeof(*t));
    t->nslots = 256;
    t->slots = xcalloc(t->nslots, sizeof(*t->slots));
    return t;
}

void rt_sessions_free(struct rt_sessions *t)
{
    if (t == NULL)
        return;
    free(t->slots);
    free(t);
}

static void grow(struct rt_sessions *t)
{
    size_t n = t->nslots * 2;
    struct rt_session **slots = xcalloc(n, sizeof(*slots));
    for (size_t i = 0; i < t->nslots; i++) {
        struct rt_session *s = t->slots[i];
        while (s) {
            struct rt_session *next = s->chain;
            s->chain = slots[s->hash & (n - 1)];
            slots[s->hash & (n - 1)] = s;
            s = next;
        }
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
}

void rt_sessions_add(struct rt_sessions *t, struct rt_session *s)
{
    if (t->count >= 2 * t->nslots)
        grow(t);
    s->hash = hash_user(s->app_id, s->user_id);
    struct rt_session **slot = &t->slots[s->hash & (t->nslots - 1)];
    s->chain = *slot;
    *slot = s;
    t->count++;
}

void rt_sessions_remove(struct rt_sessions *t, struct rt_session *s)
{
    struct rt_session **p = &t->slots[s->hash & (t->nslots - 1)];
    while (*p && *p != s)
        p = &(*p)->chain;
    if (*p) {
        *p = s->chain;
        s->chain = NULL;
        t->count--;
    }
}

void rt_sessions_each(struct rt_sessions *t, const char *app_id, const char *user_id,
                      void (*fn)(struct rt_session *s, void *ud), void *ud)
{
    /* gathered first: fn may close a connection, which removes its session */
    struct rt_session *small[16], **found = small;
    size_t n = 0, cap = 16;
    unsigned h = user_id ? hash_user(app_id, user_id) : 0;
    size_t first = user_id ? (h & (t->nslots - 1)) : 0;
    size_t last = user_id ? first + 1 : t->nslots;
    for (size_t i = first; i < last; i++) {
        for (struct rt_session *s = t->slots[i]; s; s = s->chain) {
            if ((user_id && (s->hash != h || strcmp(s->user_id, user_id) != 0)) ||
                strcmp(s->app_id, app_id) != 0)
                continue;
            if (n == cap) {
                cap *= 2;
                if (found == small) {
                    found = xmalloc(cap * sizeof(*found));
                    memcpy(found, small, sizeof(small));
                } else {
                    found = xrealloc(found, cap * sizeof(*found));
                }
            }
            found[n++] = s;
        }
    }
    for (size_t i = 0; i < n; i++)
        fn(found[i], ud);
    if (found != small)
        free(found);
}

size_t rt_sessions_count(const struct rt_sessions *t)
{
    return t->count;
}
