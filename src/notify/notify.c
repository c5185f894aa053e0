/*
 * The notification configuration's routes (notify.h): each file registers its own.
 */
#include "notify/notify.h"

#include "notify/admin_kit.h"

void notify_register(struct router *r, struct identity *id)
{
    notify__types_register(r, id);
    notify__templates_register(r, id);
    notify__subscriptions_register(r, id);
    notify__nodes_register(r, id);
}
