/*
 * The search indexer (docs/chat.md, "Search"): a send lists its text message with its terms in
 * message_search_pending, in its own write; this thread moves them into the index in batches
 * (chat__search_move: two statements per batch, no text read back), so the
 * FTS5 index is flushed once per batch rather than once per group commit of the writer (with
 * the index written by every send, 1:1 chat lost a third of its throughput). A send's commit
 * kicks the thread (once per batch: an atomic flag), which waits SEARCH_INDEX_LINGER_MS for
 * more to gather, then indexes everything listed. Edits and recalls still change the index
 * in their own write. The thread is the retention thread's pattern (retention.c).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "chat/internal.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"

#define SEARCH_INDEX_LINGER_MS 200

struct search_indexer {
    struct store *st; /* borrowed */
    pthread_t thread;
    pthread_mutex_t mu; /* kicked and stop, and their condition */
    pthread_cond_t cv;
    atomic_bool kicked; /* set by a send since the thread last looked */
    bool stop;
};

static void *indexer_main(void *arg)
{
    struct search_indexer *ix = arg;
    for (;;) {
        pthread_mutex_lock(&ix->mu);
        while (!ix->stop && !atomic_load(&ix->kicked))
            pthread_cond_wait(&ix->cv, &ix->mu);
        if (!ix->stop) { /* let more sends gather into this batch */
            struct timespec ts = clock_deadline(CLOCK_REALTIME, SEARCH_INDEX_LINGER_MS);
            while (!ix->stop && pthread_cond_timedwait(&ix->cv, &ix->mu, &ts) == 0)
                ;
        }
        bool stop = ix->stop;
        pthread_mutex_unlock(&ix->mu);
        if (stop) /* what is still listed is indexed at the next start */
            return NULL;
        atomic_store(&ix->kicked, false);
        (void)chat__search_move(ix->st);
    }
}

struct search_indexer *chat__search_indexer_new(struct store *st)
{
    struct search_indexer *ix = xcalloc(1, sizeof(*ix));
    ix->st = st;
    pthread_mutex_init(&ix->mu, NULL);
    pthread_cond_init(&ix->cv, NULL);
    if (pthread_create(&ix->thread, NULL, indexer_main, ix) != 0) {
        log_error("chat", "cannot start the search indexer");
        pthread_mutex_destroy(&ix->mu);
        pthread_cond_destroy(&ix->cv);
        free(ix);
        return NULL;
    }
    return ix;
}

void chat__search_kick(struct search_indexer *ix)
{
    if (ix == NULL || atomic_exchange(&ix->kicked, true))
        return; /* already kicked: the next batch takes this one too */
    pthread_mutex_lock(&ix->mu);
    pthread_cond_signal(&ix->cv);
    pthread_mutex_unlock(&ix->mu);
}

void chat__search_indexer_free(struct search_indexer *ix)
{
    if (ix == NULL)
        return;
    pthread_mutex_lock(&ix->mu);
    ix->stop = true;
    pthread_cond_broadcast(&ix->cv);
    pthread_mutex_unlock(&ix->mu);
    pthread_join(ix->thread, NULL);
    pthread_mutex_destroy(&ix->mu);
    pthread_cond_destroy(&ix->cv);
    free(ix);
}
