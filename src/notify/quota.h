/*
 * The apps' daily notification quota (docs/notifications.md, "Fairness between apps"):
 * apps.daily_quota (0 = none) bounds the notifications an app sends through
 * POST /api/v1/notifications per UTC day; past it the send is answered 429 quota_exceeded
 * with Retry-After (the seconds until the next UTC midnight) and nothing is written.
 *
 * Cheap on the send path: a poller thread reads the quotas and, for the apps that have one,
 * today's count of notifications from the store every QUOTA_POLL_MS; between polls each
 * accepted send adds to the node's count. So every node sees the others' sends within a poll,
 * and an app may overshoot by what other nodes accept within one poll. Console sends do not
 * count against it.
 */
#ifndef HERALD_NOTIFY_QUOTA_H
#define HERALD_NOTIFY_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

#define QUOTA_POLL_MS 2000

struct store;
struct notify_quota;

struct notify_quota *notify_quota_new(struct store *st);
/* Loads the quotas once and starts the poller. 0 or a negative enum err. */
int notify_quota_start(struct notify_quota *q);
void notify_quota_stop(struct notify_quota *q); /* NULL-safe, idempotent */
void notify_quota_free(struct notify_quota *q); /* NULL-safe */

/* Takes one of app's daily quota at now_ms (ms since the epoch). True when within it (or the
 * app has none); false when used up, with *retry_after_s the seconds until it renews. Any
 * thread; NULL q: no quotas. */
bool notify_quota_take(struct notify_quota *q, const char *app_id, int64_t now_ms,
                       int *retry_after_s);

#endif
