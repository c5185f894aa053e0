/*
 * Operations endpoints: /health, /health/live, /health/ready, /metrics.
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
};

/* Registers the routes; ctx is borrowed for the server's lifetime. */
void ops_register(struct router *r, struct ops_ctx *ctx);

#endif
