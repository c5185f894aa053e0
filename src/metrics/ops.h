/*
 * Operations endpoints: /health, /health/live, /health/ready (the server, the store and, when
 * configured, Redis), /metrics.
 */
#ifndef HERALD_METRICS_OPS_H
#define HERALD_METRICS_OPS_H

#include <stdbool.h>

struct router;
struct metrics;
struct store;

struct ops_ctx {
    struct metrics *metrics;
    /* readiness: true when the server can serve; then the store is pinged */
    bool (*is_ready)(void *ud);
    void *ready_ud;
    struct store *store; /* NULL: no store check */
    /* with several nodes (HERALD_REDIS_URL): true while Redis answers; NULL: not checked */
    bool (*redis_ready)(void *ud);
    void *redis_ud;
};

/* Adds the store's counters to ctx->metrics' /metrics (set both first). */
void ops_metrics_sources(struct ops_ctx *ctx);

/* Registers the routes; ctx is borrowed for the server's lifetime. */
void ops_register(struct router *r, struct ops_ctx *ctx);

#endif
