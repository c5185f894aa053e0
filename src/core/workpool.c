/*
 * Worker thread pool (see workpool.h): one mutex, one condition variable and
 * a singly linked FIFO of items per priority. An item remembers a hash of its
 * tag; counting a tag's waiting items walks the queue (at most max_queue
 * items, under the lock: microseconds next to a 25 ms hash).
 */
#include "workpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/err.h"
#include "core/xalloc.h"

#define WORKPOOL_MAX_THREADS 64
#define WORKPOOL_NICE 10

#define PRIOS 2

struct work_item {
    struct work_item *next;
    workpool_fn fn;
    void *arg;
    uint64_t tag; /* 0: none */
};

struct fifo {
    struct work_item *head, *tail;
    size_t n;
};

struct workpool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct fifo q[PRIOS]; /* by enum workpool_prio */
    size_t queued, max_queue;
    bool stopping;
    bool cancel;  /* items still queued at the stop run cancelled */
    bool stopped; /* threads joined */
    bool idle;    /* workers at SCHED_IDLE instead of nice WORKPOOL_NICE */
    int nthreads;
    pthread_t threads[WORKPOOL_MAX_THREADS];
};

static _Thread_local bool item_cancelled;

bool workpool_is_cancelled(void)
{
    return item_cancelled;
}

static void *worker_main(void *arg)
{
    struct workpool *wp = arg;
    /* CPU-heavy work (password hashing) yields to the event loops: a busy pool must not
     * delay requests that need microseconds (Linux: nice and the policy are per thread) */
    if (wp->idle) {
        struct sched_param sp = {0};
        (void)sched_setscheduler(0, SCHED_IDLE, &sp);
    } else {
        (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), WORKPOOL_NICE);
    }
    pthread_mutex_lock(&wp->mu);
    for (;;) {
        while (wp->queued == 0 && !wp->stopping)
            pthread_cond_wait(&wp->cv, &wp->mu);
        struct fifo *f = wp->q[WORKPOOL_HIGH].head ? &wp->q[WORKPOOL_HIGH] : &wp->q[WORKPOOL_LOW];
        struct work_item *it = f->head;
        if (it == NULL)
            break; /* stopping and drained */
        f->head = it->next;
        if (f->head == NULL)
            f->tail = NULL;
        f->n--;
        wp->queued--;
        item_cancelled = wp->cancel;
        pthread_mutex_unlock(&wp->mu);
        it->fn(it->arg);
        item_cancelled = false;
        free(it);
        pthread_mutex_lock(&wp->mu);
    }
    pthread_mutex_unlock(&wp->mu);
    return NULL;
}

static struct workpool *pool_new(int nthreads, size_t max_queue, bool idle)
{
    if (nthreads < 1 || nthreads > WORKPOOL_MAX_THREADS || max_queue < 1)
        return NULL;
    struct workpool *wp = xcalloc(1, sizeof(*wp));
    wp->idle = idle;
    pthread_mutex_init(&wp->mu, NULL);
    pthread_cond_init(&wp->cv, NULL);
    wp->max_queue = max_queue;
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&wp->threads[i], NULL, worker_main, wp) != 0) {
            workpool_free(wp);
            return NULL;
        }
        wp->nthreads++;
    }
    return wp;
}

struct workpool *workpool_new(int nthreads, size_t max_queue)
{
    return pool_new(nthreads, max_queue, false);
}

struct workpool *workpool_new_idle(int nthreads, size_t max_queue)
{
    return pool_new(nthreads, max_queue, true);
}

/* FNV-1a of a tag, never 0. */
static uint64_t tag_hash(const char *tag)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = tag; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h ? h : 1;
}

/* Waiting items with tag h. Lock held. */
static size_t tag_count_locked(const struct workpool *wp, uint64_t h)
{
    size_t n = 0;
    for (int p = 0; p < PRIOS; p++)
        for (const struct work_item *it = wp->q[p].head; it; it = it->next)
            n += it->tag == h;
    return n;
}

int workpool_submit(struct workpool *wp, workpool_fn fn, void *arg)
{
    return workpool_submit_ex(wp, WORKPOOL_HIGH, NULL, 0, fn, arg);
}

int workpool_submit_ex(struct workpool *wp, enum workpool_prio prio, const char *tag,
                       size_t max_per_tag, workpool_fn fn, void *arg)
{
    struct work_item *it = xcalloc(1, sizeof(*it));
    it->fn = fn;
    it->arg = arg;
    it->tag = tag ? tag_hash(tag) : 0;
    int p = prio == WORKPOOL_LOW ? WORKPOOL_LOW : WORKPOOL_HIGH;
    pthread_mutex_lock(&wp->mu);
    int rc = 0;
    if (wp->stopping)
        rc = ERR_UNAVAIL;
    else if (wp->queued >= wp->max_queue ||
             (p == WORKPOOL_LOW && wp->q[p].n >= (wp->max_queue + 1) / 2))
        rc = ERR_AGAIN;
    else if (it->tag && tag_count_locked(wp, it->tag) >= (max_per_tag ? max_per_tag : 1))
        rc = ERR_DENIED;
    if (rc == 0) {
        struct fifo *f = &wp->q[p];
        if (f->tail)
            f->tail->next = it;
        else
            f->head = it;
        f->tail = it;
        f->n++;
        wp->queued++;
        pthread_cond_signal(&wp->cv);
    }
    pthread_mutex_unlock(&wp->mu);
    if (rc != 0)
        free(it);
    return rc;
}

size_t workpool_queued(struct workpool *wp)
{
    pthread_mutex_lock(&wp->mu);
    size_t n = wp->queued;
    pthread_mutex_unlock(&wp->mu);
    return n;
}

void workpool_stop(struct workpool *wp, bool cancel)
{
    pthread_mutex_lock(&wp->mu);
    bool joined = wp->stopped;
    wp->stopping = true;
    wp->cancel = wp->cancel || cancel;
    wp->stopped = true;
    pthread_cond_broadcast(&wp->cv);
    pthread_mutex_unlock(&wp->mu);
    if (joined)
        return;
    for (int i = 0; i < wp->nthreads; i++)
        pthread_join(wp->threads[i], NULL);
}

void workpool_free(struct workpool *wp)
{
    if (wp == NULL)
        return;
    workpool_stop(wp, false);
    pthread_cond_destroy(&wp->cv);
    pthread_mutex_destroy(&wp->mu);
    free(wp);
}
