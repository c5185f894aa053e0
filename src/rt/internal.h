/*
 * Private to src/rt/: what rt.c asks of replay.c.
 */
#ifndef HERALD_RT_INTERNAL_H
#define HERALD_RT_INTERNAL_H

#include <stdbool.h>

#include "rt/rt.h"

struct frame;

/* A live frame of a logged event (f->cursor > 0) for s: true to send it now; false when it
 * waits for the sync under way, or the socket had it already. Loop thread of s. */
bool rt__replay_live(struct rt_session *s, struct frame *f);

/* The client's first frame (is_sync: a `sync`) ends the hold after hello, unless it is a sync,
 * whose replay ends it. Loop thread of s. */
void rt__replay_spoke(struct rt_session *s, bool is_sync);
/* The loop's sweep: a hold whose time is up (after hello, or a client that stopped paging)
 * lets its frames go. Loop thread of s. */
void rt__replay_tick(struct rt_session *s);

/* Frees s's replay state (held frames included). NULL-safe on s->replay. */
void rt__replay_free(struct rt_session *s);

#endif
