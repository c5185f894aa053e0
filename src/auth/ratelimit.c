/*
 * Token buckets and the bounded LRU table of them; see ratelimit.h. The table
 * is an array of entries (grown by doubling up to the cap) indexed by a
 * chained hash and threaded on a doubly linked LRU list by index; a full
 * table reuses its least recently used entry in place, so nothing is freed
 * or allocated per request once it has grown.
 */
#include "ratelimit.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "auth/internal.h"
#include "core/rand.h"
#include "core/xalloc.h"

#define NIL UINT32_MAX
#define EPSILON 1e-9 /* absorbs rounding so a take at exactly retry-after succeeds */
#define LONG_PREFIX (RATELIMIT_KEY_MAX - 17) /* prefix kept of a long key, then '#' + 16 hex */

struct entry {
    uint64_t hash;
    uint32_t chain; /* next entry in the same hash slot */
    uint32_t prev;  /* LRU neighbours: prev is more recent */
    uint32_t next;
    uint8_t key_len;
    char key[RATELIMIT_KEY_MAX];
    struct ratelimit_bucket bucket;
};

struct ratelimit_table {
    struct entry *entries;
    size_t count, alloc, max;
    uint32_t *slots; /* heads of hash chains */
    size_t slot_mask;
    uint32_t head, tail; /* most and least recently used */
    double capacity, refill_per_s;
    uint8_t seed[16];      /* slot hash */
    uint8_t long_seed[16]; /* identity of long keys */
};

void ratelimit_bucket_init(struct ratelimit_bucket *b, double capacity, double refill_per_s,
                           uint64_t now_ms)
{
    b->capacity = capacity;
    b->refill_per_s = refill_per_s;
    b->tokens = capacity;
    b->last_ms = now_ms;
}

uint64_t ratelimit_take(struct ratelimit_bucket *b, uint64_t now_ms, double cost)
{
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * b->refill_per_s / 1000.0;
        if (b->tokens > b->capacity)
            b->tokens = b->capacity;
        b->last_ms = now_ms;
    }
    if (b->tokens + EPSILON >= cost) {
        b->tokens -= cost;
        if (b->tokens < 0)
            b->tokens = 0;
        return 0;
    }
    if (cost > b->capacity + EPSILON || !(b->refill_per_s > 0))
        return RATELIMIT_NEVER;
    /* Half the tolerance off the deficit: float noise cannot add a millisecond, and a take
     * after the announced wait still clears the EPSILON comparison above. */
    double ms = (cost - b->tokens - EPSILON / 2) * 1000.0 / b->refill_per_s;
    if (!(ms < 1e15))
        return RATELIMIT_NEVER;
    uint64_t r = (uint64_t)ms; /* rounded up, without libm */
    if ((double)r < ms)
        r++;
    return r < 1 ? 1 : r;
}

struct ratelimit_table *ratelimit_table_new(size_t max_entries, double capacity,
                                            double refill_per_s)
{
    if (max_entries < 1 || max_entries > RATELIMIT_TABLE_MAX || !(capacity > 0) ||
        !(refill_per_s >= 0) || isinf(capacity) || isinf(refill_per_s))
        return NULL;
    struct ratelimit_table *t = xcalloc(1, sizeof(*t));
    t->max = max_entries;
    size_t slots = 16;
    while (slots < 2 * max_entries)
        slots *= 2;
    t->slots = xmalloc(slots * sizeof(*t->slots));
    memset(t->slots, 0xff, slots * sizeof(*t->slots));
    t->slot_mask = slots - 1;
    t->head = t->tail = NIL;
    t->capacity = capacity;
    t->refill_per_s = refill_per_s;
    rand_bytes(t->seed, sizeof(t->seed));
    rand_bytes(t->long_seed, sizeof(t->long_seed));
    return t;
}

void ratelimit_table_free(struct ratelimit_table *t)
{
    if (t == NULL)
        return;
    free(t->entries);
    free(t->slots);
    free(t);
}

size_t ratelimit_table_count(const struct ratelimit_table *t)
{
    return t->count;
}

static void lru_unlink(struct ratelimit_table *t, uint32_t i)
{
    struct entry *e = &t->entries[i];
    if (e->prev != NIL)
        t->entries[e->prev].next = e->next;
    else
        t->head = e->next;
    if (e->next != NIL)
        t->entries[e->next].prev = e->prev;
    else
        t->tail = e->prev;
}

static void lru_push_front(struct ratelimit_table *t, uint32_t i)
{
    struct entry *e = &t->entries[i];
    e->prev = NIL;
    e->next = t->head;
    if (t->head != NIL)
        t->entries[t->head].prev = i;
    t->head = i;
    if (t->tail == NIL)
        t->tail = i;
}

static void chain_remove(struct ratelimit_table *t, uint32_t i)
{
    uint32_t *p = &t->slots[t->entries[i].hash & t->slot_mask];
    while (*p != i)
        p = &t->entries[*p].chain;
    *p = t->entries[i].chain;
}

/* The stored form of a key: itself, or for long keys a prefix, '#' and a keyed hash. */
static size_t normalize(const struct ratelimit_table *t, const char *key,
                        char out[RATELIMIT_KEY_MAX])
{
    size_t n = strlen(key);
    if (n <= RATELIMIT_KEY_MAX) {
        memcpy(out, key, n);
        return n;
    }
    uint64_t h = auth__siphash(t->long_seed, key, n);
    uint8_t hb[8];
    for (int i = 0; i < 8; i++)
        hb[i] = (uint8_t)(h >> (8 * i));
    char hex[17];
    auth__hex_encode(hex, hb, sizeof(hb));
    memcpy(out, key, LONG_PREFIX);
    out[LONG_PREFIX] = '#';
    memcpy(out + LONG_PREFIX + 1, hex, 16);
    return RATELIMIT_KEY_MAX;
}

/* The entry of the normalized key norm[0..n) with hash h, or NIL. */
static uint32_t find(const struct ratelimit_table *t, const char *norm, size_t n, uint64_t h)
{
    uint32_t i = t->slots[h & t->slot_mask];
    while (i != NIL) {
        const struct entry *e = &t->entries[i];
        if (e->hash == h && e->key_len == n && memcmp(e->key, norm, n) == 0)
            break;
        i = e->chain;
    }
    return i;
}

uint64_t ratelimit_table_peek(const struct ratelimit_table *t, const char *key, uint64_t now_ms,
                              double cost)
{
    char norm[RATELIMIT_KEY_MAX];
    size_t n = normalize(t, key, norm);
    uint32_t i = find(t, norm, n, auth__siphash(t->seed, norm, n));
    if (i == NIL)
        return cost > t->capacity + EPSILON ? RATELIMIT_NEVER : 0;
    struct ratelimit_bucket b = t->entries[i].bucket; /* a copy: nothing is taken */
    return ratelimit_take(&b, now_ms, cost);
}

void ratelimit_table_refund(struct ratelimit_table *t, const char *key, uint64_t now_ms,
                            double cost)
{
    char norm[RATELIMIT_KEY_MAX];
    size_t n = normalize(t, key, norm);
    uint32_t i = find(t, norm, n, auth__siphash(t->seed, norm, n));
    if (i == NIL)
        return;
    struct ratelimit_bucket *b = &t->entries[i].bucket;
    (void)ratelimit_take(b, now_ms, 0); /* brings the refill up to now */
    b->tokens += cost;
    if (b->tokens > b->capacity)
        b->tokens = b->capacity;
}

uint64_t ratelimit_table_take(struct ratelimit_table *t, const char *key, uint64_t now_ms,
                              double cost)
{
    char norm[RATELIMIT_KEY_MAX];
    size_t n = normalize(t, key, norm);
    uint64_t h = auth__siphash(t->seed, norm, n);
    uint32_t i = find(t, norm, n, h);
    if (i == NIL) {
        if (t->count < t->max) {
            if (t->count == t->alloc) {
                size_t a = t->alloc ? t->alloc * 2 : 64;
                if (a > t->max)
                    a = t->max;
                t->entries = xrealloc(t->entries, a * sizeof(*t->entries));
                t->alloc = a;
            }
            i = (uint32_t)t->count++;
        } else {
            i = t->tail; /* evict the least recently used key, reuse its entry */
            lru_unlink(t, i);
            chain_remove(t, i);
        }
        struct entry *e = &t->entries[i];
        e->hash = h;
        e->key_len = (uint8_t)n;
        memcpy(e->key, norm, n);
        ratelimit_bucket_init(&e->bucket, t->capacity, t->refill_per_s, now_ms);
        e->chain = t->slots[h & t->slot_mask];
        t->slots[h & t->slot_mask] = i;
        lru_push_front(t, i);
    } else if (t->head != i) {
        lru_unlink(t, i);
        lru_push_front(t, i);
    }
    return ratelimit_take(&t->entries[i].bucket, now_ms, cost);
}
