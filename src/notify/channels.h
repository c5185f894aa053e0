/*
 * The console's channels (docs/notifications.md, "Channels"): /api/v1/admin/channels CRUD for
 * operators (channels:write to write; notifications:read or channels:write to read), app
 * scoped (another app's channel is a 404), paged, audited; configs checked by their driver,
 * secret members sealed when saved and masked when read. POST /admin/channels/{id}/test sends
 * one message through the channel's driver on a worker thread of this module and answers the
 * outcome.
 */
#ifndef HERALD_NOTIFY_CHANNELS_H
#define HERALD_NOTIFY_CHANNELS_H

struct identity;
struct notify_channels;
struct router;
struct notify_channels_api;

/* The module: borrows id and chs (both outlive it); starts its test-send workers. NULL when
 * the workers cannot start. Main thread. */
struct notify_channels_api *notify_channels_api_new(struct identity *id,
                                                    struct notify_channels *chs);
/* Adds the /api/v1/admin/channels routes to r. */
void notify_channels_register(struct notify_channels_api *api, struct router *r);
/* Shutdown, before the store stops: every driver transfer in the process is aborted
 * (notify_drivers_abort: a hung provider cannot delay the shutdown), queued test sends
 * complete cancelled (not sent), and the workers are joined. */
void notify_channels_api_stop(struct notify_channels_api *api);
void notify_channels_api_free(struct notify_channels_api *api); /* NULL-safe; after the loops */

#endif
