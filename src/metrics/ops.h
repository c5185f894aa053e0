/*
 * Operations endpoints: /health, /health/live, /health/ready, /metrics.
 */
#ifndef HERALD_METRICS_OPS_H
#define HERALD_METRICS_OPS_H

#include <stdbool.h>

struct router;
struct metrics;

struct ops_ctx {
    struct metrics *metrics;
    /* readiness: true when the server can serve (store and bus checks join later) */
    bool (*is_ready)(void *ud);
    void *ready_ud;
};

/* Registers the routes; ctx is borrowed for the server's lifetime. */
void ops_register(struct router *r, struct ops_ctx *ctx);

#endif
