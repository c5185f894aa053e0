/*
 * Prometheus metrics. Each event loop owns one shard that only it writes
 * (relaxed atomic stores, no contention); /metrics sums the shards. Process
 * figures (RSS, CPU, fds) are read from /proc when rendered.
 */
#ifndef HERALD_METRICS_METRICS_H
#define HERALD_METRICS_METRICS_H

#include <stdint.h>

struct buf;
struct router;
struct metrics;
struct metrics_shard;

enum metrics_conn_kind { METRICS_CONN_HTTP = 0, METRICS_CONN_WS = 1, METRICS_CONN_KINDS };
enum metrics_dir { METRICS_IN = 0, METRICS_OUT = 1 };

/* Route ids beyond the router's: static files and unmatched paths. */
#define METRICS_ROUTE_STATIC (-2)
#define METRICS_ROUTE_UNMATCHED (-1)

/* Creates shards for nshards loops; router is borrowed for route labels. */
struct metrics *metrics_new(int nshards, const struct router *r);
void metrics_free(struct metrics *m);
struct metrics_shard *metrics_shard(struct metrics *m, int idx);

/*
 * Counts one answered request: route id (the router's, or METRICS_ROUTE_*), method (an enum
 * http_method bit; anything else counts as "other"), status, duration. Loop thread of the shard
 * only.
 */
void metrics_http_request(struct metrics_shard *s, int route_id, int method, int status,
                          uint64_t usec);
void metrics_conn_add(struct metrics_shard *s, enum metrics_conn_kind kind, int delta);
/* Adds frames (messages and control frames) and wire bytes in one direction. */
void metrics_ws_frame(struct metrics_shard *s, enum metrics_dir dir, uint64_t frames,
                      uint64_t bytes);

/* Open client connections of kind now, summed over the shards (a WebSocket counts as
 * METRICS_CONN_WS only). Any thread. */
int64_t metrics_connections(const struct metrics *m, enum metrics_conn_kind kind);

/*
 * Another module's figures (the store's, the notification queue's): fn appends complete
 * Prometheus families (HELP, TYPE, samples) to out when /metrics is rendered, from the
 * thread that renders, so it reads what it shows with atomic loads or under its own lock.
 * Added before the server starts; at most METRICS_SOURCES_MAX.
 */
#define METRICS_SOURCES_MAX 8
typedef void (*metrics_source_fn)(struct buf *out, void *ud);
void metrics_add_source(struct metrics *m, metrics_source_fn fn, void *ud);

/* Appends the Prometheus text exposition to out; any thread. */
void metrics_render(struct metrics *m, struct buf *out);

#endif
