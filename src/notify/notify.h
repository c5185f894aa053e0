/*
 * The notification engine's entry points for the server (issue 11, docs/notifications.md):
 * the configuration routes (message types, channel <-> type pairs, templates with versions,
 * subscriptions and quiet hours, instances) and this process's row in nodes (the instances
 * list), registered at start and marked stopped at the shutdown.
 */
#ifndef HERALD_NOTIFY_NOTIFY_H
#define HERALD_NOTIFY_NOTIFY_H

#include <stdint.h>

struct buf;
struct store_rows;
struct router;
struct identity;
struct metrics;
struct store;
struct notify_node;

/* Adds the /api/v1/admin/{message-types,channel-message-types,templates,subscriptions,
 * instances,users/{id}/preferences} and /api/v1/me/{subscriptions,preferences} routes; id is
 * borrowed for the server's life. */
void notify_register(struct router *r, struct identity *id);

#define NOTIFY_HEARTBEAT_MS 5000 /* how often a node writes its heartbeat */
#define NOTIFY_ALIVE_MS 15000    /* a node whose heartbeat is older is not alive */

/*
 * Registers this process as a node (id: the process's node id, at most 32 characters, the one
 * it has on the Redis bus too; its version, host name, pid and the address it listens on) and
 * starts its heartbeat thread: every NOTIFY_HEARTBEAT_MS the node's row gets the time and the
 * open connections counted by m (borrowed; may be NULL). Returns the node or NULL after logging
 * (the server runs without a row then). Main thread, after the store is open.
 */
struct notify_node *notify_node_start(struct store *st, struct metrics *m, const char *id,
                                      const char *address);

/*
 * Stops the heartbeat (joins its thread) and marks the row stopped. Call before store_stop
 * (docs/ARCHITECTURE.md, "Shutdown"). NULL-safe; once.
 */
void notify_node_stop(struct notify_node *n);

/* Frees the node (after notify_node_stop). NULL-safe. */
void notify_node_free(struct notify_node *n);

/*
 * Appends the `notification` frame (docs/protocol.md) of row i of r, whose columns from col on
 * are the delivery's id, type code, title, content, data (JSON text) and created_at, with
 * cursor (0: null). The live push, the re-sends and chat's sync (a `notification` event) all
 * write it so.
 */
void notify_inapp_frame(struct buf *b, const struct store_rows *r, int i, int col, int64_t cursor);

#endif
