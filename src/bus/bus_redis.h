/*
 * The bus across nodes (HERALD_REDIS_URL; docs/deployment.md, "Several nodes"). Several Herald
 * processes on one PostgreSQL share, through one Redis:
 *
 *  - events: every frame event published on this node's bus (bus.h) is also published to the
 *    Redis channel `herald:bus`; what the other nodes publish there is published on this node's
 *    bus as a remote event. A user connected to node B gets the message sent on node A, the
 *    presence of a peer on node C, the notification pushed by node A's queue;
 *  - shared sets (presence): each node keeps its members of named sets ("p:<app>": the users
 *    online on it) in Redis keys that expire when the node stops refreshing them, and announces
 *    changes on the channel; every node mirrors the other live nodes' members in memory
 *    (re-read in full every 2 s, changes applied as they come), so asking whether a user is
 *    online elsewhere never waits on the network.
 *
 * Redis is reached from two threads of this module with hiredis's blocking API: one writes
 * (publishes, set changes, the node's heartbeat, the re-read), one holds the subscription.
 * Both reconnect by themselves. While Redis is away, events to other nodes are dropped (clients
 * there catch up with sync, docs/protocol.md) and /health/ready answers 503.
 */
#ifndef HERALD_BUS_BUS_REDIS_H
#define HERALD_BUS_BUS_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bus;
struct bus_redis;

/*
 * Bridges bus (borrowed; it must outlive the result) to the Redis of url and starts the two
 * threads; the first connection is made by them (a Redis not there yet is retried). node is
 * this process's id, BUS_REDIS_NODE_LEN lowercase hex characters (copied; the id the node has
 * in /admin/instances too). Returns NULL with a reason in err when url is malformed, node is
 * not such an id or a thread cannot start.
 */
#define BUS_REDIS_NODE_LEN 16
struct bus_redis *bus_redis_new(struct bus *bus, const char *url, const char *node, char *err,
                                size_t errlen);

/* Stops the threads (nothing is published after) and frees. The bus no longer bridges. NULL-safe.
 */
void bus_redis_free(struct bus_redis *r);

/* True while both connections are up and Redis answered within the last 3 s. Any thread. */
bool bus_redis_is_ready(struct bus_redis *r);

/* This process's node id (16 hex characters, new at each start). */
const char *bus_redis_node(const struct bus_redis *r);

/* fn(cursor, ud) runs on the subscriber thread for each frame with a cursor that comes from
 * another node, before the frame is published here (rt_cursor_seen: hello's cursor is the
 * cluster's newest one heard of, not only this node's). Any thread; NULL fn: none. */
void bus_redis_on_cursor(struct bus_redis *r, void (*fn)(int64_t cursor, void *ud), void *ud);

/* This node's membership of member in set: in or out. Queued, applied in call order. Any thread.
 */
void bus_redis_set_member(struct bus_redis *r, const char *set, const char *member, bool in);

/* Whether another live node has member in set, as last heard (at most about 2 s old). Any thread;
 * never waits on the network. */
bool bus_redis_has_remote(struct bus_redis *r, const char *set, const char *member);

/* Calls fn(member, ud) once for each member of set on the other live nodes. Any thread; fn runs
 * under this module's lock and must not call into it. */
void bus_redis_each_remote(struct bus_redis *r, const char *set,
                           void (*fn)(const char *member, void *ud), void *ud);

#endif
