/*
 * The notification module's life cycle and routes (notify.h).
 */
#include "notify/notify.h"

#include <stdlib.h>

#include "core/xalloc.h"
#include "identity/identity.h"
#include "notify/engine.h"

struct notify *notify_new(struct identity *id, struct rt *rt)
{
    struct notify *n = xcalloc(1, sizeof(*n));
    n->id = id;
    n->store = id->store;
    n->rt = rt;
    n->q = notify__queue_new(n);
    return n;
}

void notify_register(struct notify *n, struct router *r)
{
    notify__send_register(n, r);
    notify__queries_register(n, r);
    notify__inbox_register(n, r);
    notify__admin_register(n, r);
    notify__inapp_register(n);
}

int notify_start(struct notify *n)
{
    return notify__queue_start(n->q);
}

void notify_stop(struct notify *n)
{
    if (n != NULL)
        notify__queue_stop(n->q);
}

void notify_free(struct notify *n)
{
    if (n == NULL)
        return;
    notify__queue_free(n->q);
    free(n);
}
