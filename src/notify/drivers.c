/*
 * The driver table (drivers.h): every channel kind Herald can send through, by name. A new
 * driver is one file defining a `const struct notify_driver notify_driver_<kind>`, its extern
 * in drivers.h and one line below.
 */
#include <stdatomic.h>
#include <string.h>

#include "notify/driver.h"
#include "notify/drivers.h"
#include "notify/http_drivers.h"

static const struct notify_driver *const drivers[] = {
    &notify_driver_email,      &notify_driver_webhook,   &notify_driver_dingtalk,
    &notify_driver_wecom,      &notify_driver_feishu,    &notify_driver_slack,
    &notify_driver_sms_aliyun, &notify_driver_wechat_mp, NULL,
};

const struct notify_driver *notify_driver_find(const char *kind)
{
    for (int i = 0; kind != NULL && drivers[i] != NULL; i++) {
        if (strcmp(drivers[i]->kind, kind) == 0)
            return drivers[i];
    }
    return NULL;
}

bool notify_driver_kind_is_known(const char *kind)
{
    return notify_driver_find(kind) != NULL;
}

bool notify_kind_is_known(const char *kind)
{
    return kind != NULL && (strcmp(kind, "inapp") == 0 || notify_driver_kind_is_known(kind));
}

static atomic_bool aborting;

void notify_drivers_abort(void)
{
    atomic_store(&aborting, true);
}

bool notify_drivers_aborting(void)
{
    return atomic_load_explicit(&aborting, memory_order_relaxed);
}
