/*
 * A set of strings with a count each; see smap.h.
 */
#include "core/smap.h"

#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

static unsigned hash(const char *s, size_t n)
{
    unsigned h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static struct smap_entry **find(struct smap *m, const char *key, unsigned h)
{
    if (m->nb == 0)
        return NULL;
    struct smap_entry **pp = &m->b[h & (m->nb - 1)];
    for (; *pp != NULL; pp = &(*pp)->next)
        if ((*pp)->hash == h && strcmp((*pp)->key, key) == 0)
            return pp;
    return NULL;
}

struct smap_entry *smap_get(struct smap *m, const char *key)
{
    struct smap_entry **pp = find(m, key, hash(key, strlen(key)));
    return pp != NULL ? *pp : NULL;
}

struct smap_entry *smap_add(struct smap *m, const char *key)
{
    unsigned h = hash(key, strlen(key));
    struct smap_entry **pp = find(m, key, h);
    if (pp != NULL)
        return *pp;
    if (m->n >= m->nb) { /* grow: load factor 1 */
        size_t nb = m->nb ? m->nb * 2 : 64;
        struct smap_entry **b = xcalloc(nb, sizeof(*b));
        for (size_t i = 0; i < m->nb; i++)
            for (struct smap_entry *e = m->b[i], *next; e != NULL; e = next) {
                next = e->next;
                e->next = b[e->hash & (nb - 1)];
                b[e->hash & (nb - 1)] = e;
            }
        free(m->b);
        m->b = b;
        m->nb = nb;
    }
    size_t len = strlen(key);
    struct smap_entry *e = xmalloc(sizeof(*e) + len + 1);
    memcpy(e->key, key, len + 1);
    e->hash = h;
    e->count = 0;
    e->next = m->b[h & (m->nb - 1)];
    m->b[h & (m->nb - 1)] = e;
    m->n++;
    return e;
}

void smap_del(struct smap *m, const char *key)
{
    struct smap_entry **pp = find(m, key, hash(key, strlen(key)));
    if (pp == NULL)
        return;
    struct smap_entry *e = *pp;
    *pp = e->next;
    free(e);
    m->n--;
}

void smap_clear(struct smap *m)
{
    for (size_t i = 0; i < m->nb; i++)
        for (struct smap_entry *e = m->b[i], *next; e != NULL; e = next) {
            next = e->next;
            free(e);
        }
    free(m->b);
    memset(m, 0, sizeof(*m));
}
