/*
 * A small pool of worker threads for CPU-heavy work that must not run on an
 * event loop: password hashing and verification (25-230 ms each, ADR 0006).
 * Work items run in submission order on any free worker, every waiting
 * high-priority item before any low-priority one (logins before registrations:
 * a flood of new accounts must not starve people who already have one). The
 * pool does not
 * hop back to a loop by itself: like a store completion, a work function that
 * must answer an HTTP request calls http_req_post() at its end.
 *
 * Threads: workpool_submit may be called from any thread. workpool_free waits
 * for queued items to run, so it must not be called from a work function.
 */
#ifndef HERALD_CORE_WORKPOOL_H
#define HERALD_CORE_WORKPOOL_H

#include <stdbool.h>
#include <stddef.h>

struct workpool;

typedef void (*workpool_fn)(void *arg);

enum workpool_prio {
    WORKPOOL_HIGH = 0, /* run first (password checks of logins) */
    WORKPOOL_LOW = 1,  /* run when no high item waits; at most half the queue */
};

/*
 * Starts nthreads (1..64) workers with a queue of at most max_queue waiting
 * items (>= 1). Returns NULL on bad arguments or when a thread cannot start.
 * The workers run at nice 10: below the event loops.
 */
struct workpool *workpool_new(int nthreads, size_t max_queue);

/*
 * workpool_new whose workers run at SCHED_IDLE (Linux): any other thread that
 * wants the core gets it first (the kernel leaves them a small share). For bulk
 * work that must never delay a loop (the uploads' file writes, upload/post.c).
 */
struct workpool *workpool_new_idle(int nthreads, size_t max_queue);

/*
 * Queues fn(arg) to run on a worker thread. Returns 0, or ERR_AGAIN when the
 * queue is full, or ERR_UNAVAIL when the pool is stopping; fn is then never
 * called and arg stays the caller's.
 */
int workpool_submit(struct workpool *wp, workpool_fn fn, void *arg);

/*
 * workpool_submit at priority prio, on behalf of tag (a client address; NULL
 * for none; borrowed for the call). Low items may fill at most half the
 * queue, so high ones always find room; and at most max_per_tag waiting items
 * (>= 1) may share one tag, so one client cannot hold the whole queue.
 * Returns 0, ERR_AGAIN when the queue (or its low half) is full, ERR_DENIED
 * when tag has max_per_tag items waiting, or ERR_UNAVAIL when the pool is
 * stopping; fn is then never called and arg stays the caller's.
 */
int workpool_submit_ex(struct workpool *wp, enum workpool_prio prio, const char *tag,
                       size_t max_per_tag, workpool_fn fn, void *arg);

/* Items waiting now (not counting those running). Any thread. */
size_t workpool_queued(struct workpool *wp);

/*
 * Refuses new items (workpool_submit returns ERR_UNAVAIL from now on), lets the
 * workers run every queued item, then joins the threads; wp stays allocated
 * until workpool_free, so late submitters get ERR_UNAVAIL rather than freed
 * memory. With cancel, the items still queued run with workpool_is_cancelled()
 * true: each must still complete (answer its request), but may skip its slow
 * part. Idempotent. Not from a work function.
 */
void workpool_stop(struct workpool *wp, bool cancel);

/*
 * True inside a work function run after workpool_stop(wp, true): the server is
 * going away, the result will not be used, skip the expensive work. Worker
 * threads; false on any other thread.
 */
bool workpool_is_cancelled(void);

/* workpool_stop(wp, false) if not stopped yet, then frees wp. NULL-safe. */
void workpool_free(struct workpool *wp);

#endif
