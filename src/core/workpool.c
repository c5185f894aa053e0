/*
 * Worker thread pool (see workpool.h): one mutex, one condition variable and
 * a singly linked FIFO of items.
 */
#include "workpool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/err.h"
#include "core/xalloc.h"

#define WORKPOOL_MAX_THREADS 64
#define WORKPOOL_NICE 10

struct work_item {
    struct work_item *next;
    workpool_fn fn;
    void *arg;
};

struct workpool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct work_item *head, *tail;
    size_t queued, max_queue;
    bool stopping;
    int nthreads;
    pthread_t threads[WORKPOOL_MAX_THREADS];
};

static void *worker_main(void *arg)
{
    struct workpool *wp = arg;
    /* CPU-heavy work (password hashing) yields to the event loops: a busy pool must not
     * delay requests that need microseconds (Linux: nice is per thread) */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), WORKPOOL_NICE);
    pthread_mutex_lock(&wp->mu);
    for (;;) {
        while (wp->head == NULL && !wp->stopping)
            pthread_cond_wait(&wp->cv, &wp->mu);
        struct work_item *it = wp->head;
        if (it == NULL)
            break; /* stopping and drained */
        wp->head = it->next;
        if (wp->head == NULL)
            wp->tail = NULL;
        wp->queued--;
        pthread_mutex_unlock(&wp->mu);
        it->fn(it->arg);
        free(it);
        pthread_mutex_lock(&wp->mu);
    }
    pthread_mutex_unlock(&wp->mu);
    return NULL;
}

struct workpool *workpool_new(int nthreads, size_t max_queue)
{
    if (nthreads < 1 || nthreads > WORKPOOL_MAX_THREADS || max_queue < 1)
        return NULL;
    struct workpool *wp = xcalloc(1, sizeof(*wp));
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

int workpool_submit(struct workpool *wp, workpool_fn fn, void *arg)
{
    struct work_item *it = xcalloc(1, sizeof(*it));
    it->fn = fn;
    it->arg = arg;
    pthread_mutex_lock(&wp->mu);
    int rc = wp->stopping ? ERR_UNAVAIL : wp->queued >= wp->max_queue ? ERR_AGAIN : 0;
    if (rc == 0) {
        if (wp->tail)
            wp->tail->next = it;
        else
            wp->head = it;
        wp->tail = it;
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

void workpool_free(struct workpool *wp)
{
    if (wp == NULL)
        return;
    pthread_mutex_lock(&wp->mu);
    wp->stopping = true;
    pthread_cond_broadcast(&wp->cv);
    pthread_mutex_unlock(&wp->mu);
    for (int i = 0; i < wp->nthreads; i++)
        pthread_join(wp->threads[i], NULL);
    pthread_cond_destroy(&wp->cv);
    pthread_mutex_destroy(&wp->mu);
    free(wp);
}
