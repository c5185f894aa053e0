/*
 * Rate limiting: a token bucket, and a bounded table of buckets keyed by a
 * string (client IP, account name, app key) for login throttling and per-app
 * limits. The table never holds more than its cap: past it, the least
 * recently used key is evicted (its bucket starts full again if it returns),
 * so memory stays fixed under a flood of distinct keys, and a keyed hash
 * (SipHash, random seed) keeps chains short whatever keys an attacker picks.
 *
 * Threads: no locking. A bucket or table belongs to one thread, normally one
 * event loop (one table per loop, which also keeps it lock-free); a caller
 * that shares one across threads must guard it itself. Times are monotonic
 * milliseconds (clock_mono_ms()).
 */
#ifndef HERALD_AUTH_RATELIMIT_H
#define HERALD_AUTH_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_NEVER UINT64_MAX     /* retry-after when the cost exceeds the capacity */
#define RATELIMIT_KEY_MAX 64           /* longer keys are stored as a prefix plus a keyed hash */
#define RATELIMIT_TABLE_MAX (1u << 24) /* the largest cap ratelimit_table_new accepts */

struct ratelimit_bucket {
    double capacity;     /* most tokens held (the burst) */
    double refill_per_s; /* tokens added per second */
    double tokens;
    uint64_t last_ms;
};

/* Sets up b full, with capacity > 0 tokens refilled at refill_per_s >= 0 per second. */
void ratelimit_bucket_init(struct ratelimit_bucket *b, double capacity, double refill_per_s,
                           uint64_t now_ms);

/*
 * Takes cost tokens from b at now_ms. Returns 0 when they were taken, else the
 * milliseconds after which the same take will succeed (>= 1; nothing is taken),
 * or RATELIMIT_NEVER when cost is over the capacity or nothing refills.
 * A clock that goes backwards refills nothing.
 */
uint64_t ratelimit_take(struct ratelimit_bucket *b, uint64_t now_ms, double cost);

struct ratelimit_table;

/*
 * Makes a table of at most max_entries keys (1..RATELIMIT_TABLE_MAX), each
 * with a bucket of the given capacity and refill rate. Memory grows with use
 * up to about 130 bytes per entry. Returns NULL for out-of-range arguments.
 * The caller owns it (ratelimit_table_free).
 */
struct ratelimit_table *ratelimit_table_new(size_t max_entries, double capacity,
                                            double refill_per_s);

/* NULL-safe. */
void ratelimit_table_free(struct ratelimit_table *t);

/*
 * ratelimit_take on the bucket of key (created full when absent, evicting the
 * least recently used key when the table is at its cap). Same returns. key is
 * borrowed for the call.
 */
uint64_t ratelimit_table_take(struct ratelimit_table *t, const char *key, uint64_t now_ms,
                              double cost);

/*
 * What ratelimit_table_take would return for key, without taking anything,
 * creating the key or changing the LRU order.
 */
uint64_t ratelimit_table_peek(const struct ratelimit_table *t, const char *key, uint64_t now_ms,
                              double cost);

/*
 * Puts cost tokens back into the bucket of key (never above the capacity), as
 * when an action that took them did not happen. Nothing when the key is not
 * held (it was evicted: its bucket would start full anyway). Does not change
 * the LRU order.
 */
void ratelimit_table_refund(struct ratelimit_table *t, const char *key, uint64_t now_ms,
                            double cost);

/* Number of keys held (<= max_entries). */
size_t ratelimit_table_count(const struct ratelimit_table *t);

#endif
