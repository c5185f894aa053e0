/*
 * The notification engine's life cycle and routes (sending.h).
 */
#include "notify/sending.h"

#include <stdlib.h>

#include "core/xalloc.h"
#include "identity/identity.h"
#include "metrics/metrics.h"
#include "notify/engine.h"
#include "notify/quota.h"

struct notify_engine *notify_engine_new(struct identity *id, struct rt *rt,
                                        struct notify_channels *chs)
{
    struct notify_engine *n = xcalloc(1, sizeof(*n));
    n->id = id;
    n->store = id->store;
    n->rt = rt;
    n->q = notify__queue_new(n, chs);
    n->quota = notify_quota_new(n->store);
    n->idem_window_ms = NOTIFY_IDEM_WINDOW_MS;
    return n;
}

void notify_engine_set_idem_window(struct notify_engine *n, int64_t ms)
{
    n->idem_window_ms = ms;
}

void notify_engine_register(struct notify_engine *n, struct router *r)
{
    notify__send_register(n, r);
    notify__queries_register(n, r);
    notify__inbox_register(n, r);
    notify__admin_register(n, r);
    notify__inapp_register(n);
}

int notify_engine_start(struct notify_engine *n)
{
    int rc = notify_quota_start(n->quota); /* the daily quotas' poller */
    return rc != 0 ? rc : notify__queue_start(n->q);
}

void notify_engine_metrics(struct notify_engine *n, struct metrics *m)
{
    metrics_add_source(m, notify__queue_render, n->q);
}

void notify_engine_stop(struct notify_engine *n)
{
    if (n == NULL)
        return;
    notify__queue_stop(n->q);
    notify_quota_stop(n->quota);
}

void notify_engine_free(struct notify_engine *n)
{
    if (n == NULL)
        return;
    notify__queue_free(n->q);
    notify_quota_free(n->quota);
    free(n);
}
