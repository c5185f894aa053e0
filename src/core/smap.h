/*
 * A set of strings with a count each: a chained hash table whose keys are copied, growing at a
 * load factor of 1 and never shrinking (until cleared). Not thread-safe: the owner locks. Used by
 * the bus's Redis bridge for the members of shared sets (bus/bus_redis.c).
 */
#ifndef HERALD_CORE_SMAP_H
#define HERALD_CORE_SMAP_H

#include <stddef.h>

struct smap_entry {
    struct smap_entry *next;
    unsigned hash;
    int count; /* the owner's */
    char key[];
};

/* Zero-initialised is empty ({0}). Walk it through b[0..nb) and each chain's next. */
struct smap {
    struct smap_entry **b;
    size_t nb, n;
};

/* The entry of key, or NULL. */
struct smap_entry *smap_get(struct smap *m, const char *key);

/* The entry of key, made with count 0 when absent. */
struct smap_entry *smap_add(struct smap *m, const char *key);

/* Removes key (nothing when absent). */
void smap_del(struct smap *m, const char *key);

/* Frees every entry; m is empty again. */
void smap_clear(struct smap *m);

#endif
