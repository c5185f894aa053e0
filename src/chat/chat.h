/*
 * Chat (issue 9, docs/chat.md): conversations — direct (one per pair of users, get-or-create),
 * group (invited members with owner/admin/member roles) and room (public in the app, joined) —
 * and their members, over HTTP under /api/v1 for end users (identity/user_auth.h: a user
 * access token, or ?user_id= in demo mode). Every committed change is published to the
 * members' user topics on the bus as a `conversation.updated` frame. Messages are sent (one
 * path for HTTP and WebSocket, idempotent on client_msg_id) and read back by seq; each send
 * is published as `message.new`. Read state, sync and presence come next on the same tables.
 */
#ifndef HERALD_CHAT_CHAT_H
#define HERALD_CHAT_CHAT_H

#include <stdbool.h>

#include <cjson/cJSON.h>

struct chat;
struct identity;
struct router;
struct rt;

#define CHAT_GROUP_MAX 500     /* members of a group, its owner included */
#define CHAT_NAME_MAX 128      /* characters of a group's or room's name */
#define CHAT_AVATAR_MAX 1024   /* characters of an avatar URL */
#define CHAT_ADD_MAX 100       /* users added by one POST /conversations/{id}/members */
#define CHAT_CUSTOM_MAX 8192   /* bytes of a custom message's content, as compact JSON */
#define CHAT_URL_MAX 2048      /* characters of a media message's url */
#define CHAT_PREVIEW_CHARS 100 /* characters of a quoted reply's text */
#define CHAT_HISTORY_MAX 100   /* messages of one history page */

/*
 * The chat module over id (its store and user authentication) publishing through rt's bus.
 * Both are borrowed and must outlive the server. max_chars: characters of a text message
 * (HERALD_MAX_MESSAGE_CHARS). history_days: days of messages and events kept, 0 all
 * (HERALD_HISTORY_DAYS; above 0, a thread prunes older ones). presence_grace_ms: how long a user
 * whose last device went stays online (HERALD_PRESENCE_GRACE). recall_window_ms: how long a
 * sender may recall a message (HERALD_RECALL_WINDOW). Start-up only.
 */
struct chat *chat_new(struct identity *id, struct rt *rt, int max_chars, int history_days,
                      int presence_grace_ms, int recall_window_ms);

/* Adds the chat routes to r and the chat frames to rt. Start-up only, before the server
 * starts. */
void chat_register(struct chat *c, struct router *r);

/* Stops the chat module's housekeeping (retention, HERALD_HISTORY_DAYS) and sends the offline
 * presence of the users whose connections the server closed (no grace): after the server's
 * drain, before the store stops. Idempotent, NULL-safe. Main thread. */
void chat_stop(struct chat *c);

/* Told after a chat fact is committed (the app's outgoing event webhooks, notify/events.h):
 * "message.created" with the message as the API shows it, "conversation.created" with the
 * conversation. wants is asked first (cheap: nothing is built when it says no). Both run on
 * the request's loop thread and must not block. */
struct chat_event_hook {
    bool (*wants)(void *ud, const char *app_id, const char *event);
    void (*emit)(void *ud, const char *app_id, const char *event, const char *id, const cJSON *obj);
    void *ud;
};
/* Sets the hook (copied). Start-up only. */
void chat_set_event_hook(struct chat *c, const struct chat_event_hook *h);

/* Shares presence with the other nodes through cluster (bus/bus_redis.h; borrowed, freed after
 * c). Start-up only; without it presence is this node's. */
struct bus_redis;
void chat_set_cluster(struct chat *c, struct bus_redis *cluster);

/* This process's node id (its row in /admin/instances): support routing's online flags name
 * it, so they die with its heartbeat (docs/service.md). Start-up only. */
void chat_set_node(struct chat *c, const char *node_id);

/* The most unresolved support conversations the routing gives one agent (0: no limit;
 * HERALD_SUPPORT_CAPACITY). Before serving. */
void chat_set_support_capacity(struct chat *c, int capacity);

/* After the server has stopped (chat_stop first, when not yet called). NULL-safe. */
void chat_free(struct chat *c);

#endif
