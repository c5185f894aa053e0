/*
 * Every SQL statement of Herald's tables, one definition each, in
 * src/store/sql/<table>.c. Handlers include this header and pass the
 * statements to store_op_add(). Most are written once in the SQLite dialect
 * with STORE_SQL() and their PostgreSQL text is derived (?N -> $N, see
 * store.h); the ones whose dialects really differ give both texts (JSON
 * functions, collations, GREATEST): docs/adr/0007-postgresql-backend.md,
 * "Statements written once", names them.
 */
#ifndef HERALD_STORE_SQL_H
#define HERALD_STORE_SQL_H

#include <stddef.h>

#include "store/store.h"

/* apps (the tenants): src/store/sql/apps.c */
extern const struct store_sql SQL_APPS_COUNT_SCOPED;
extern const struct store_sql SQL_APPS_PAGE_SCOPED;
extern const struct store_sql SQL_APPS_GET;
extern const struct store_sql SQL_APPS_INSERT;
extern const struct store_sql SQL_APPS_UPDATE;
extern const struct store_sql SQL_APPS_ID_BY_KEY;
extern const struct store_sql SQL_APPS_KNOWN;
extern const struct store_sql SQL_APPS_LIMITS;
extern const struct store_sql SQL_APPS_CREATE;
extern const struct store_sql SQL_APPS_COUNT;
extern const struct store_sql SQL_APPS_LIST;
extern const struct store_sql SQL_APPS_BY_KEY;

/* app_secrets (an app's secrets, stored as keyed hashes): src/store/sql/app_secrets.c */
extern const struct store_sql SQL_APP_SECRETS_INSERT_RETURNING;
extern const struct store_sql SQL_APP_SECRETS_EXPIRE;
extern const struct store_sql SQL_APP_SECRETS_COUNT;
extern const struct store_sql SQL_APP_SECRETS_PAGE;
extern const struct store_sql SQL_APP_SECRETS_DELETE;
extern const struct store_sql SQL_APP_SECRETS_BY_KEY;
extern const struct store_sql SQL_APP_SECRETS_ALIVE;
extern const struct store_sql SQL_APP_SECRETS_INSERT;
extern const struct store_sql SQL_APP_SECRETS_ADD_BY_KEY;

/* users (an app's end users): src/store/sql/users.c */
extern const struct store_sql SQL_USERS_SEARCH_COUNT;
extern const struct store_sql SQL_USERS_SEARCH_PAGE;
extern const struct store_sql SQL_USERS_LOGIN_LOOKUP;
extern const struct store_sql SQL_USERS_HASH;
extern const struct store_sql SQL_USERS_REGISTER;
extern const struct store_sql SQL_USERS_GET;
extern const struct store_sql SQL_USERS_REHASH;
extern const struct store_sql SQL_USERS_ME_UPDATE;
extern const struct store_sql SQL_USERS_BCRYPT_COST;
extern const struct store_sql SQL_USERS_DEMO_ENSURE;
extern const struct store_sql SQL_USERS_DEMO_GET;
extern const struct store_sql SQL_USERS_SET_HASH;
extern const struct store_sql SQL_USERS_EXISTING;
extern const struct store_sql SQL_USERS_INSERT;
extern const struct store_sql SQL_USERS_UPSERT;
extern const struct store_sql SQL_USERS_UPDATE;
extern const struct store_sql SQL_USERS_ACTIVE;
extern const struct store_sql SQL_USERS_DELETE;
extern const struct store_sql SQL_USERS_COUNT;
extern const struct store_sql SQL_USERS_PAGE;
extern const struct store_sql SQL_USERS_COUNT_EXISTING;
extern const struct store_sql SQL_USERS_EXISTS;

/* refresh_tokens (end-user sessions: refresh-token families): src/store/sql/refresh_tokens.c */
extern const struct store_sql SQL_REFRESH_TOKENS_INSERT;
extern const struct store_sql SQL_REFRESH_TOKENS_ROTATE;
extern const struct store_sql SQL_REFRESH_TOKENS_SUCCESSOR;
extern const struct store_sql SQL_REFRESH_TOKENS_REUSE;
extern const struct store_sql SQL_REFRESH_TOKENS_REVOKE_APP;
extern const struct store_sql SQL_REFRESH_TOKENS_FAMILY_OF;
extern const struct store_sql SQL_REFRESH_TOKENS_REVOKE_FAMILY_BY_TOKEN;
extern const struct store_sql SQL_REFRESH_TOKENS_REVOKE_FAMILY;
extern const struct store_sql SQL_REFRESH_TOKENS_REVOKE_USER;
extern const struct store_sql SQL_REFRESH_TOKENS_REVOKE_USERS;

/* revocations (revoked subjects and sessions, polled by every node): src/store/sql/revocations.c */
extern const struct store_sql SQL_REVOCATIONS_UPSERT;
extern const struct store_sql SQL_REVOCATIONS_SINCE;
extern const struct store_sql SQL_REVOCATIONS_PRUNE;

/* operators and operator_roles (console accounts and their roles): src/store/sql/operators.c */
extern const struct store_sql SQL_OPERATORS_COUNT;
extern const struct store_sql SQL_OPERATORS_BY_NAME;
extern const struct store_sql SQL_OPERATORS_INSERT_ADMIN;
extern const struct store_sql SQL_OPERATOR_ROLES_INSERT;
extern const struct store_sql SQL_OPERATORS_PASSWD;
extern const struct store_sql SQL_OPERATORS_LOGGED_IN;
extern const struct store_sql SQL_OPERATORS_ME;
extern const struct store_sql SQL_OPERATORS_PRINCIPAL;
extern const struct store_sql SQL_OPERATORS_PAGE;
extern const struct store_sql SQL_OPERATORS_SEARCH_COUNT;
extern const struct store_sql SQL_OPERATORS_GET;
extern const struct store_sql SQL_OPERATORS_INSERT;
extern const struct store_sql SQL_OPERATORS_UPDATE;
extern const struct store_sql SQL_OPERATOR_ROLES_CLEAR;
extern const struct store_sql SQL_OPERATOR_ROLES_ADD;
extern const struct store_sql SQL_OPERATORS_DELETE;
extern const struct store_sql SQL_OPERATORS_EXISTS;

/* roles and role_apps (console roles and the apps they are limited to): src/store/sql/roles.c */
extern const struct store_sql SQL_ROLES_ENSURE_SUPERADMIN;
extern const struct store_sql SQL_ROLE_APPS_OF_OPERATOR;
extern const struct store_sql SQL_ROLES_BY_IDS;
extern const struct store_sql SQL_ROLE_APPS_BY_ROLE_IDS;
extern const struct store_sql SQL_ROLES_OF_OPERATOR;
extern const struct store_sql SQL_ROLES_COUNT;
extern const struct store_sql SQL_ROLES_PAGE;
extern const struct store_sql SQL_ROLES_GET;
extern const struct store_sql SQL_ROLES_INSERT;
extern const struct store_sql SQL_ROLES_UPDATE;
extern const struct store_sql SQL_ROLE_APPS_CLEAR;
extern const struct store_sql SQL_ROLE_APPS_ADD;
extern const struct store_sql SQL_ROLES_DELETE;
extern const struct store_sql SQL_ROLES_CURRENT;
extern const struct store_sql SQL_ROLE_APPS_OF_ROLE;

/* audit_log (what operators did): src/store/sql/audit_log.c */
extern const struct store_sql SQL_AUDIT_LOG_COUNT;
extern const struct store_sql SQL_AUDIT_LOG_PAGE;
extern const struct store_sql SQL_AUDIT_LOG_INSERT;
extern const struct store_sql SQL_AUDIT_LOG_INSERT_BY_OPERATOR;

/* conversations and conversation_members (chat, issue 9): src/store/sql/conversations.c */
extern const struct store_sql SQL_CONVERSATIONS_DIRECT_INSERT;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_DIRECT_ADD;
extern const struct store_sql SQL_CONVERSATIONS_BY_DIRECT_KEY;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_BY_DIRECT_KEY;
extern const struct store_sql SQL_CONVERSATIONS_INSERT;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_ADD;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_ADD_LIST;
extern const struct store_sql SQL_CONVERSATIONS_LOAD;
extern const struct store_sql SQL_CONVERSATIONS_GET;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_OF;
extern const struct store_sql SQL_CONVERSATIONS_GET_REOPENED;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_REOPENED;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_LISTED;
extern const struct store_sql SQL_CONVERSATIONS_MINE_COUNT;
extern const struct store_sql SQL_CONVERSATIONS_MINE_PAGE;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_MINE_PAGE;
extern const struct store_sql SQL_CONVERSATIONS_ROOMS_COUNT;
extern const struct store_sql SQL_CONVERSATIONS_ROOMS_PAGE;
extern const struct store_sql SQL_CONVERSATIONS_UPDATE;
extern const struct store_sql SQL_CONVERSATIONS_TOUCH;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_GUARD;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_REMOVE;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_LEAVE;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_PASS_OWNER;
extern const struct store_sql SQL_CONVERSATIONS_SET_OWNER;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_SET_ROLE;
extern const struct store_sql SQL_CONVERSATIONS_NEXT_SEQ;
extern const struct store_sql SQL_CONVERSATIONS_NEXT_SEQ_DIRECT;
extern const struct store_sql SQL_CONVERSATIONS_DIRECT_RETIRE;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_USER_IDS;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_JOINED_SEQ;
extern const struct store_sql SQL_CONVERSATIONS_STATE;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_READ;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_READ_STATE;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_READ_AUDIENCE;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_SENT;
extern const struct store_sql SQL_CONVERSATIONS_NEXT_SEQ_SYSTEM;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_NEW_GUARD;
extern const struct store_sql SQL_EVENTS_INSERT_READ;
extern const struct store_sql SQL_CONVERSATIONS_SYNCED;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_SYNCED;
extern const struct store_sql SQL_CONVERSATIONS_MONITOR_COUNT;
extern const struct store_sql SQL_CONVERSATIONS_MONITOR_PAGE;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_MONITOR_PAGE;
extern const struct store_sql SQL_CONVERSATIONS_MONITOR_GET;
extern const struct store_sql SQL_EVENTS_INSERT_PROFILE;
extern const struct store_sql SQL_CONVERSATIONS_PROFILE;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_PROFILE;

/* messages and events (chat, issue 9): src/store/sql/messages.c */
extern const struct store_sql SQL_MESSAGES_INSERT;
extern const struct store_sql SQL_EVENTS_INSERT_MESSAGE;
extern const struct store_sql SQL_MESSAGES_REPLY_IN;
extern const struct store_sql SQL_EVENTS_INSERT_SENT;
extern const struct store_sql SQL_MESSAGES_GET;
extern const struct store_sql SQL_MESSAGES_BY_CLIENT_ID;
extern const struct store_sql SQL_MESSAGES_SENDER_BEFORE;
extern const struct store_sql SQL_MESSAGES_BEFORE;
extern const struct store_sql SQL_MESSAGES_AFTER;
extern const struct store_sql SQL_EVENTS_INSERT_UPDATED;
extern const struct store_sql SQL_MESSAGES_LOAD;
extern const struct store_sql SQL_MESSAGES_EDIT;
extern const struct store_sql SQL_MESSAGES_RECALL;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_READERS;
extern const struct store_sql SQL_EVENTS_INSERT_CONV;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_SET_JOINED;
extern const struct store_sql SQL_EVENTS_SYNC;
extern const struct store_sql SQL_EVENTS_HELD;
extern const struct store_sql SQL_EVENTS_PRUNED_NOTE;
extern const struct store_sql SQL_MESSAGES_PRUNE;
extern const struct store_sql SQL_EVENTS_PRUNE;
extern const struct store_sql SQL_EVENTS_LATEST;

/* message search (chat/search.c, docs/chat.md "Search"): src/store/sql/search.c */
extern const struct store_sql SQL_MESSAGE_SEARCH_PUT;
extern const struct store_sql SQL_MESSAGE_SEARCH_DELETE;
extern const struct store_sql SQL_MESSAGE_SEARCH_PENDING;
extern const struct store_sql SQL_MESSAGE_SEARCH_BACKFILL;
extern const struct store_sql SQL_MESSAGE_SEARCH_PENDING_DONE;
extern const struct store_sql SQL_MESSAGE_SEARCH_QUEUE;
extern const struct store_sql SQL_MESSAGE_SEARCH_MOVE;
extern const struct store_sql SQL_MESSAGE_SEARCH_MOVED;
extern const struct store_sql SQL_MESSAGE_SEARCH_SCOPE;
extern const struct store_sql SQL_MESSAGE_SEARCH_HITS;

/* The columns identity's user queries select, in the order identity__user_json reads them. */
#define SQL_USERS_COLS                                                                             \
    "id, name, avatar, kind, contacts, metadata, disabled, created_at, updated_at"

/* The columns chat's conversation queries select (alias c), in the order chat/conv_json.c reads
 * them: then the member count, the status, the assignee and the customer (issue 10). */
#define SQL_CONVERSATIONS_COLS                                                                     \
    "c.id, CASE WHEN c.support = 1 THEN 'support' ELSE c.type END, c.name, c.avatar, c.owner,"     \
    " c.last_seq, c.last_activity_at, c.created_at, c.updated_at, (SELECT count(*) FROM"           \
    " conversation_members x WHERE x.conversation_id = c.id), c.status, c.assignee_id,"            \
    " c.customer_id"
/* How many columns SQL_CONVERSATIONS_COLS has (what a statement selects after them starts
 * there). */
#define SQL_CONVERSATIONS_NCOLS 13

/* The columns of a member (alias m, with the user's profile as u), as chat/conv_json.c reads
 * them; the last is the user's metadata in a direct conversation only (the customer context,
 * docs/service.md), NULL elsewhere. */
#define SQL_CONVERSATION_MEMBERS_COLS                                                              \
    "m.conversation_id, m.user_id, m.role, m.joined_at, coalesce(u.name, ''), coalesce(u.avatar,"  \
    " ''), coalesce(u.kind, ''), u.last_seen, CASE WHEN EXISTS (SELECT 1 FROM conversations dc"    \
    " WHERE dc.id = m.conversation_id AND dc.type = 'direct') THEN u.metadata END"

/* A member's read state in a conversation (me: the member, c: the conversation, lm: its newest
 * message when the member sees it), in the order chat/read.c reads them: read_seq, the unread
 * count, then the newest message's id, seq, sender, type, content, created_at, recalled. */
#define SQL_CONVERSATION_STATE_COLS                                                                \
    "me.read_seq, c.last_seq - me.read_seq, lm.id, lm.seq, lm.sender_id, lm.type, lm.content,"     \
    " lm.created_at, lm.recalled"

/* The columns of a message (alias m) and of the message it replies to (alias r, NULL when
 * none), in the order chat/messages.c reads them. */
#define SQL_MESSAGES_COLS                                                                          \
    "m.id, m.conversation_id, m.seq, m.sender_id, m.type, m.content, m.reply_to,"                  \
    " m.client_msg_id, m.created_at, m.edited_at, m.recalled, r.sender_id, r.type, r.content,"     \
    " r.recalled"

/* presence and typing (chat/presence.c, chat/typing.c): src/store/sql/presence.c */
extern const struct store_sql SQL_USERS_LAST_SEEN_SET;
extern const struct store_sql SQL_USERS_LAST_SEEN;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_CO;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_IS;
extern const struct store_sql SQL_CONVERSATION_MEMBERS_TYPING;

/* the service workflow (status, assignee, support routing): src/store/sql/service.c */
extern const struct store_sql SQL_SUPPORT_LOCK;
extern const struct store_sql SQL_SUPPORT_INSERT;
extern const struct store_sql SQL_SUPPORT_OPEN_GET;
extern const struct store_sql SQL_SUPPORT_OPEN_MEMBERS;
extern const struct store_sql SQL_SUPPORT_ASSIGN;
extern const struct store_sql SQL_SUPPORT_AGENT_TURN;
extern const struct store_sql SQL_AUDIT_LOG_INSERT_ASSIGN;
extern const struct store_sql SQL_SUPPORT_MEMBER_ADD;
extern const struct store_sql SQL_SUPPORT_AGENT_ONLINE;
extern const struct store_sql SQL_SUPPORT_AGENT_OFFLINE;
extern const struct store_sql SQL_SUPPORT_AGENT_NODE_ADD;
extern const struct store_sql SQL_SUPPORT_AGENTS_RESET;
extern const struct store_sql SQL_SUPPORT_QUEUED;
extern const struct store_sql SQL_SERVICE_KINDS;
extern const struct store_sql SQL_SERVICE_SET_STATUS;
extern const struct store_sql SQL_SERVICE_TRANSFER;
extern const struct store_sql SQL_EVENTS_INSERT_REOPEN;
extern const struct store_sql SQL_AUDIT_LOG_INSERT_REOPEN;
extern const struct store_sql SQL_SERVICE_REOPEN;
extern const struct store_sql SQL_AUDIT_LOG_INSERT_BY_USER;
extern const struct store_sql SQL_SERVICE_LIST_COUNT;
extern const struct store_sql SQL_SERVICE_LIST_PAGE;
extern const struct store_sql SQL_SERVICE_LIST_MEMBERS;
extern const struct store_sql SQL_SUPPORT_AGENTS_LIST;
extern const struct store_sql SQL_SUPPORT_AGENTS_COUNT;
extern const struct store_sql SQL_SERVICE_LOAD_ANY;
/* uploads (upload/upload.c, upload/media_get.c): src/store/sql/uploads.c */
extern const struct store_sql SQL_UPLOADS_INSERT;
extern const struct store_sql SQL_UPLOADS_BY_PATH;

/* quick replies (chat/quick_replies.c, console/quick_replies.c): src/store/sql/quick_replies.c */
extern const struct store_sql SQL_QUICK_REPLIES_LIST;
extern const struct store_sql SQL_QUICK_REPLIES_GET;
extern const struct store_sql SQL_QUICK_REPLIES_WHOSE;
extern const struct store_sql SQL_QUICK_REPLIES_INSERT;
extern const struct store_sql SQL_QUICK_REPLIES_UPDATE;
extern const struct store_sql SQL_QUICK_REPLIES_DELETE;

/* The columns of a quick reply, in the order the JSON shows them; shared is 1 or 0. */
#define SQL_QUICK_REPLIES_COLS                                                                     \
    "id, title, content, position, CASE WHEN owner_user_id IS NULL THEN 1 ELSE 0 END AS shared,"   \
    " created_at, updated_at"

/* notifications, deliveries, delivery_attempts, delivery_acks, jobs, idempotency_keys (issue 11,
 * notify/): src/store/sql/notify_deliveries.c */
extern const struct store_sql SQL_IDEMPOTENCY_KEYS_CLAIM;
extern const struct store_sql SQL_IDEMPOTENCY_KEYS_GET;
extern const struct store_sql SQL_IDEMPOTENCY_KEYS_PRUNE;
extern const struct store_sql SQL_NOTIFICATIONS_INSERT;
extern const struct store_sql SQL_DELIVERIES_INSERT_LIST;
extern const struct store_sql SQL_DELIVERIES_INSERT_SUBSCRIBERS;
extern const struct store_sql SQL_JOBS_INSERT_FOR;
extern const struct store_sql SQL_NOTIFICATIONS_COUNT_SET;
extern const struct store_sql SQL_NOTIFICATIONS_COUNT;
extern const struct store_sql SQL_NOTIFICATIONS_PAGE;
extern const struct store_sql SQL_NOTIFICATIONS_GET;
extern const struct store_sql SQL_DELIVERIES_OF;
extern const struct store_sql SQL_DELIVERY_ATTEMPTS_OF;
extern const struct store_sql SQL_DELIVERY_ATTEMPTS_OF_DELIVERY;
extern const struct store_sql SQL_DELIVERIES_COUNT;
extern const struct store_sql SQL_DELIVERIES_PAGE;
extern const struct store_sql SQL_DELIVERIES_GET;
extern const struct store_sql SQL_NOTIFICATIONS_CANCEL;
extern const struct store_sql SQL_DELIVERIES_CANCEL;
extern const struct store_sql SQL_JOBS_CANCEL;
extern const struct store_sql SQL_JOBS_CLAIM;
/* the fair claim, the daily quotas (notify_fair.c) */
extern const struct store_sql SQL_APPS_DAILY_QUOTA_USE;
extern const struct store_sql SQL_JOBS_CLAIM_FAIR;
/* event webhooks and their outbox (notify_events.c) */
extern const struct store_sql SQL_EVENT_WEBHOOKS_COUNT;
extern const struct store_sql SQL_EVENT_WEBHOOKS_PAGE;
extern const struct store_sql SQL_EVENT_WEBHOOKS_GET;
extern const struct store_sql SQL_EVENT_WEBHOOKS_INSERT;
extern const struct store_sql SQL_EVENT_WEBHOOKS_UPDATE;
extern const struct store_sql SQL_EVENT_WEBHOOKS_DELETE;
extern const struct store_sql SQL_EVENT_WEBHOOKS_FLAGS;
extern const struct store_sql SQL_EVENT_OUTBOX_ADD;
extern const struct store_sql SQL_EVENT_OUTBOX_ADD_DELIVERIES;
extern const struct store_sql SQL_EVENT_OUTBOX_CLAIM;
extern const struct store_sql SQL_EVENT_OUTBOX_CLAIMED;
extern const struct store_sql SQL_EVENT_OUTBOX_DONE;
extern const struct store_sql SQL_EVENT_OUTBOX_REQUEUE;
extern const struct store_sql SQL_EVENT_OUTBOX_RELEASE_ALL;
extern const struct store_sql SQL_DELIVERIES_SENDING;
extern const struct store_sql SQL_NOTIFICATIONS_RELEASED;
extern const struct store_sql SQL_JOBS_CLAIMED;
extern const struct store_sql SQL_JOBS_DONE;
extern const struct store_sql SQL_JOBS_DONE_LIST;
extern const struct store_sql SQL_DELIVERIES_SENT_LIST;
extern const struct store_sql SQL_DELIVERY_ATTEMPTS_SENT_LIST;
extern const struct store_sql SQL_JOBS_REQUEUE;
extern const struct store_sql SQL_DELIVERIES_HELD;
extern const struct store_sql SQL_JOBS_RELEASE_ALL;
extern const struct store_sql SQL_JOBS_NEXT_DUE;
extern const struct store_sql SQL_DELIVERIES_SENT;
extern const struct store_sql SQL_DELIVERIES_FAILED;
extern const struct store_sql SQL_DELIVERY_ATTEMPTS_INSERT;
extern const struct store_sql SQL_DELIVERIES_RETRY;
extern const struct store_sql SQL_JOBS_RETRY;
extern const struct store_sql SQL_DELIVERIES_INAPP_OWN;
extern const struct store_sql SQL_DELIVERY_ACKS_ADD;
extern const struct store_sql SQL_DELIVERIES_DELIVERED;
extern const struct store_sql SQL_DELIVERIES_UNACKED;
extern const struct store_sql SQL_EVENTS_INSERT_NOTIFY;
extern const struct store_sql SQL_EVENTS_NOTIFY_CURSORS;
extern const struct store_sql SQL_INBOX_COUNT;
extern const struct store_sql SQL_INBOX_UNREAD;
extern const struct store_sql SQL_INBOX_PAGE;
extern const struct store_sql SQL_INBOX_READ;
extern const struct store_sql SQL_INBOX_READ_ALL;
extern const struct store_sql SQL_DELIVERIES_STATS_CHANNEL;
extern const struct store_sql SQL_DELIVERIES_STATS_TYPE;
extern const struct store_sql SQL_MESSAGES_STATS;
extern const struct store_sql SQL_NOTIFY_SEND_TYPE;
extern const struct store_sql SQL_NOTIFY_SEND_CHANNELS;
extern const struct store_sql SQL_NOTIFY_SEND_PAIRS;
extern const struct store_sql SQL_NOTIFY_SEND_TEMPLATES;
/* channels (notify/channels_api.c, the notification queue): src/store/sql/channels.c */
extern const struct store_sql SQL_CHANNELS_GET;
extern const struct store_sql SQL_CHANNELS_ENABLED_OF_KIND;
extern const struct store_sql SQL_CHANNELS_COUNT;
extern const struct store_sql SQL_CHANNELS_PAGE;
extern const struct store_sql SQL_CHANNELS_INSERT;
extern const struct store_sql SQL_CHANNELS_UPDATE;
extern const struct store_sql SQL_CHANNELS_DELETE;

/* The columns of a channel, in the order the JSON shows them (config: sealed secrets). */
#define SQL_CHANNELS_COLS                                                                          \
    "id, app_id, name, kind, config, enabled, max_attempts, rate_per_s, concurrency, created_at,"  \
    " updated_at"
/* message_types and channel_message_types (notification configuration, issue 11):
 * src/store/sql/notify_types.c */
extern const struct store_sql SQL_MESSAGE_TYPES_COUNT;
extern const struct store_sql SQL_MESSAGE_TYPES_PAGE;
extern const struct store_sql SQL_MESSAGE_TYPES_GET;
extern const struct store_sql SQL_MESSAGE_TYPES_BY_CODE;
extern const struct store_sql SQL_MESSAGE_TYPES_OF_APP;
extern const struct store_sql SQL_MESSAGE_TYPES_INSERT;
extern const struct store_sql SQL_MESSAGE_TYPES_UPDATE;
extern const struct store_sql SQL_MESSAGE_TYPES_DELETE;
extern const struct store_sql SQL_CHANNEL_MESSAGE_TYPES_COUNT;
extern const struct store_sql SQL_CHANNEL_MESSAGE_TYPES_PAGE;
extern const struct store_sql SQL_CHANNEL_MESSAGE_TYPES_GET;
extern const struct store_sql SQL_CHANNEL_MESSAGE_TYPES_INSERT;
extern const struct store_sql SQL_CHANNEL_MESSAGE_TYPES_UPDATE;
extern const struct store_sql SQL_CHANNEL_MESSAGE_TYPES_DELETE;
extern const struct store_sql SQL_CHANNEL_MESSAGE_TYPES_OF_TYPE;

/* templates and template_versions (issue 11): src/store/sql/notify_templates.c */
extern const struct store_sql SQL_TEMPLATES_COUNT;
extern const struct store_sql SQL_TEMPLATES_PAGE;
extern const struct store_sql SQL_TEMPLATES_GET;
extern const struct store_sql SQL_TEMPLATES_INSERT;
extern const struct store_sql SQL_TEMPLATES_BUMP;
extern const struct store_sql SQL_TEMPLATE_VERSIONS_ADD;
extern const struct store_sql SQL_TEMPLATES_ACTIVATE;
extern const struct store_sql SQL_TEMPLATES_DELETE;
extern const struct store_sql SQL_TEMPLATE_VERSIONS_COUNT;
extern const struct store_sql SQL_TEMPLATE_VERSIONS_PAGE;
extern const struct store_sql SQL_TEMPLATE_VERSIONS_GET;
extern const struct store_sql SQL_TEMPLATE_VERSIONS_PAIR;
extern const struct store_sql SQL_TEMPLATES_RESOLVE;

/* subscriptions and user_prefs (issue 11): src/store/sql/notify_subscriptions.c */
extern const struct store_sql SQL_SUBSCRIPTIONS_COUNT;
extern const struct store_sql SQL_SUBSCRIPTIONS_PAGE;
extern const struct store_sql SQL_SUBSCRIPTIONS_OF_USER;
extern const struct store_sql SQL_SUBSCRIPTIONS_SET;
extern const struct store_sql SQL_SUBSCRIPTIONS_DELETE;
extern const struct store_sql SQL_USER_PREFS_GET;
extern const struct store_sql SQL_USER_PREFS_SET;

/* nodes (server instances, issue 11): src/store/sql/nodes.c */
extern const struct store_sql SQL_NODES_REGISTER;
extern const struct store_sql SQL_NODES_HEARTBEAT;
extern const struct store_sql SQL_NODES_STOP;
extern const struct store_sql SQL_NODES_PRUNE;
extern const struct store_sql SQL_NODES_COUNT;
extern const struct store_sql SQL_NODES_PAGE;

/* Every statement above, by name (tests: each one prepares on both backends). */
struct store_sql_entry {
    const char *name;
    const struct store_sql *sql;
};
extern const struct store_sql_entry store_sql_all[];
extern const size_t store_sql_all_count;

#endif
