/*
 * Outgoing event webhooks per app (issue 11 item 8; docs/notifications.md, "Event webhooks"):
 * an app's console-configured webhooks (URL, secret sealed at rest, the events subscribed)
 * receive `message.created`, `conversation.created` and `delivery.status_changed` as signed
 * JSON POSTs, signed like the webhook channel (X-Herald-Signature: t=<ms>,v1=<hex of
 * HMAC-SHA256(secret, "<t>.<body>")>, X-Herald-Event-Id stable across retries), through a
 * durable queue in the store (event_outbox: leased rows, back-off, at least once) run by one
 * sender thread per node, over notify/http_out.h (timeouts, SSRF guard).
 *
 * The hot paths stay cheap: each node keeps, per app, the set of events its enabled webhooks
 * subscribe to (loaded at start, replaced by every console change on this node, polled every
 * few seconds for other nodes' changes); an app without a webhook for an event writes nothing.
 */
#ifndef HERALD_NOTIFY_EVENTS_H
#define HERALD_NOTIFY_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/buf.h"

struct identity;
struct router;
struct store;
struct store_op;
struct store_rows;

enum notify_event {
    NOTIFY_EV_MESSAGE_CREATED = 1,
    NOTIFY_EV_CONVERSATION_CREATED = 2,
    NOTIFY_EV_DELIVERY_STATUS = 4,
};

struct notify_events;

/* For the server's store and encryption key (opens the secrets); allow_private:
 * HERALD_ALLOW_PRIVATE_TARGETS. Start-up only. */
struct notify_events *notify_events_new(struct store *st, const uint8_t *enc_key,
                                        bool allow_private);
/* The console routes /api/v1/admin/event-webhooks (apps:write). Start-up only. */
void notify_events_register(struct notify_events *ev, struct router *r, struct identity *id);
/* Loads the per-app flags and starts the sender thread. 0 or a negative enum err. */
int notify_events_start(struct notify_events *ev);
/* Stops the sender (the batch under way ends, bounded by the HTTP timeout). NULL-safe. */
void notify_events_stop(struct notify_events *ev);
void notify_events_free(struct notify_events *ev); /* NULL-safe */

/* Whether some enabled webhook of app subscribes to ev (the cached flags). Any thread. */
bool notify_events_wants(struct notify_events *ev, const char *app_id, enum notify_event e);

/* Queues event (its name, e.g. "message.created") for app's webhooks: event_id stable for the
 * same fact, payload a JSON object text. A store write of its own, after the caller's commit
 * (not awaited). Nothing when the app has no webhook for it. Any thread. */
void notify_events_emit(struct notify_events *ev, const char *app_id, enum notify_event e,
                        const char *event_id, const char *payload);

/* Adds to op (a write that changes the state of the deliveries listed, a JSON array text of
 * ids) the delivery.status_changed events of those deliveries, in the same write. */
void notify_events_add_deliveries(struct store_op *op, const char *ids_json, int64_t now);

/* The chat hook's two functions (chat.h, struct chat_event_hook; ud: the module). */
bool notify_events_chat_wants(void *ud, const char *app_id, const char *event);
void notify_events_chat_emit(void *ud, const char *app_id, const char *event, const char *id,
                             const cJSON *obj);

struct notify_engine;
/* The notification engine writes delivery.status_changed events through ev. Start-up only. */
void notify_engine_set_events(struct notify_engine *n, struct notify_events *ev);

/* The delivery ids of one write whose state changes, for the apps that want the event. */
struct notify_ev_ids {
    struct buf b; /* a JSON array being built */
    int n;
};
/* Adds delivery (of app) when app wants delivery.status_changed. */
void notify__ev_ids_add(struct notify_events *ev, struct notify_ev_ids *x, const char *app_id,
                        const char *delivery);
/* Adds the events of the ids collected to op (nothing when none) and releases x. */
void notify__ev_ids_flush(struct notify_ev_ids *x, struct store_op *op, int64_t now);

/* Replaces the per-app flags from rows of SQL_EVENT_WEBHOOKS_FLAGS. Any thread. */
void notify__events_flags_set(struct notify_events *ev, const struct store_rows *r);
/* Wakes the sender: new rows may be due. Any thread. */
void notify__events_kick(struct notify_events *ev);
/* The encryption key (events_api.c seals with it). */
const uint8_t *notify__events_key(const struct notify_events *ev);

#endif
