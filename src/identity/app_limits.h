/*
 * Per-app API rate limits (issue 3 §3, §8): apps.rate_limit_rps and
 * rate_limit_burst (0 = unlimited) become a token bucket per app, taken once
 * per app-authenticated request; an empty bucket answers 429 rate_limited with
 * Retry-After. The limits are read from the store at start and every
 * APP_LIMITS_POLL_MS, so a change made in the console (or on another node)
 * applies within two seconds. Buckets are per node: with N nodes an app gets
 * up to N times its rate (docs/auth.md).
 *
 * Threads: app_limits_take may be called from any thread (one mutex).
 */
#ifndef HERALD_IDENTITY_APP_LIMITS_H
#define HERALD_IDENTITY_APP_LIMITS_H

#include <stdint.h>

#define APP_LIMITS_POLL_MS 2000

struct store;
struct app_limits;

/* Loads the limits and starts the poll thread; NULL on failure (logged). Start-up only. */
struct app_limits *app_limits_new(struct store *st);

/*
 * Stops the poller and joins its thread; al keeps answering app_limits_take
 * with the last limits until app_limits_free. Idempotent, NULL-safe. Main thread.
 */
void app_limits_stop(struct app_limits *al);
/* app_limits_stop, then frees. NULL-safe. Before the store closes. */
void app_limits_free(struct app_limits *al);

/* 0 when app_id may make one more request now, else the seconds to wait (>= 1). */
uint64_t app_limits_take(struct app_limits *al, const char *app_id, uint64_t now_ms);

#endif
