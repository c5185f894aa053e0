/*
 * What the queue recorded, for /metrics (docs/deployment.md, "Metrics"): delivery outcomes by
 * channel kind, counted once the write that records them has committed. A batch tallies on
 * the dispatcher's stack (or a sender's), then adds to the node's counters in one go.
 */
#ifndef HERALD_NOTIFY_TALLY_H
#define HERALD_NOTIFY_TALLY_H

#include <stdint.h>

struct buf;

enum notify_tally_outcome {
    NOTIFY_OUT_SENT,
    NOTIFY_OUT_FAILED, /* will be retried */
    NOTIFY_OUT_DEAD,
    NOTIFY_OUT_EXPIRED,
    NOTIFY_OUT_SKIPPED,
    NOTIFY_OUTS
};

#define NOTIFY_TALLY_KINDS 16 /* the kinds of NOTIFY_KINDS_TEXT, then "other" */

struct notify_tally_batch {
    uint32_t n[NOTIFY_TALLY_KINDS][NOTIFY_OUTS];
};

struct notify_tally {
    uint64_t n[NOTIFY_TALLY_KINDS][NOTIFY_OUTS]; /* atomic adds and loads */
};

/* Counts one outcome named as the deliveries table names it ("sent", "failed", "dead",
 * "expired", "skipped"; anything else is not counted) for a channel kind. */
void notify__tally_add(struct notify_tally_batch *b, const char *kind, const char *outcome);
/* Adds a batch whose write committed. Any thread. */
void notify__tally_commit(struct notify_tally *t, const struct notify_tally_batch *b);
/* Appends herald_notify_deliveries_total (a metrics source: ud is the struct notify_tally). */
void notify__tally_render(struct buf *out, void *ud);

#endif
