/*
 * Inside the notification module: the table every channel driver fills (docs/notifications.md,
 * "Channels"). The registry (channels.c) finds a driver by kind, checks a config with it when a
 * channel is saved, seals and masks the members it names as secret, and opens one state per
 * channel with the secrets unsealed. A driver's functions run on worker threads (never on a loop)
 * and must be safe to call from several threads at once on the same state.
 */
#ifndef HERALD_NOTIFY_DRIVERS_H
#define HERALD_NOTIFY_DRIVERS_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "notify/driver.h"

struct notify_driver_env {
    bool allow_private; /* HERALD_ALLOW_PRIVATE_TARGETS: private and loopback targets allowed */
};

struct notify_driver {
    const char *kind;
    /* Names of the config members that are secrets, NULL-terminated. A name may be a path into
     * arrays of objects, "accounts[].password": every element's member is a secret. */
    const char *const *secret_fields;
    /* Checks a config object being saved. On a bad member returns ERR_INVAL with field set to
     * its JSON path below "config" (e.g. "accounts[1].port") and msg to a short reason. */
    int (*check)(const cJSON *config, char *field, size_t fieldsz, char *msg, size_t msgsz);
    /* Opens a state from a config whose secrets are plain; NULL when it cannot (then every
     * send through it fails permanently with a reason). Owns nothing of config. */
    void *(*open)(const cJSON *config, const struct notify_driver_env *env);
    void (*close)(void *state); /* NULL-safe */
    /* Sends one message; always fills r. Bounded by the driver's timeouts. */
    void (*send)(void *state, const struct notify_msg *m, struct notify_result *r);
};

/* The table (drivers.c): the driver of kind, or NULL when none ("inapp" has none). Any thread. */
const struct notify_driver *notify_driver_find(const char *kind);

/* Shutdown: from now on every driver's transfer in the process ends at once (curl progress
 * callbacks check notify_drivers_aborting) and sends answer NOTIFY_RETRY, so a hung provider
 * cannot hold the workers being joined. Any thread; one-way. */
void notify_drivers_abort(void);
bool notify_drivers_aborting(void);

/* The drivers, one per file (email.c, ...); drivers.c lists them. */
extern const struct notify_driver notify_driver_email;

#endif
