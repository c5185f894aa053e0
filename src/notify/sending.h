/*
 * Notifications (issue 11, docs/notifications.md): POST /api/v1/notifications fans a
 * notification out into deliveries (one per recipient per channel) and their jobs in one
 * store write; a dispatcher thread claims due jobs from the store (the durable queue) and
 * delivers them — in-app ones over the users' WebSockets as `notification` frames, ACKed per
 * device (`ack`), re-sent to a device that reconnects without having ACKed them, and listed
 * in the user's inbox. The app reads its notifications and deliveries back; operators read,
 * retry and send from the console.
 */
#ifndef HERALD_NOTIFY_SENDING_H
#define HERALD_NOTIFY_SENDING_H

#include <stdint.h>

struct identity;
struct router;
struct rt;
struct notify_engine;

struct notify_channels;

/* The module for the server's identity (its store), rt (the bus, the WebSocket command table)
 * and the channel registry chs (driver.h; borrowed, outlives the engine). Start-up only. */
struct notify_engine *notify_engine_new(struct identity *id, struct rt *rt,
                                        struct notify_channels *chs);

/* How long an app's idempotency key stays taken (HERALD_IDEMPOTENCY_WINDOW; default 24 h): a
 * repeat inside it replays the first answer, one after it is a new notification. A record
 * keeps the window it was written with. Start-up only, before notify_engine_register. */
void notify_engine_set_idem_window(struct notify_engine *n, int64_t ms);

/* Adds the routes, the `ack` command and the session watcher (re-sends). Start-up only. */
void notify_engine_register(struct notify_engine *n, struct router *r);

/* Adds the queue's figures (delivery outcomes, driver sends under way) to m's /metrics.
 * Start-up only. */
struct metrics;
void notify_engine_metrics(struct notify_engine *n, struct metrics *m);

/* Starts the queue's dispatcher thread. Returns 0 or a negative enum err. Main thread. */
int notify_engine_start(struct notify_engine *n);

/* Stops the dispatcher: the batch under way finishes and is written, nothing new is claimed
 * (jobs left in the store run at the next start). Before store_stop. Idempotent, NULL-safe. */
void notify_engine_stop(struct notify_engine *n);

/* After the loops have ended. NULL-safe. */
void notify_engine_free(struct notify_engine *n);

#endif
