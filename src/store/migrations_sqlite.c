/*
 * The SQLite schema migrations, embedded in the binary so that it does not
 * need the source tree at run time (ADR 0005). One entry per version, applied
 * in order, each in its own transaction, and recorded in schema_migrations.
 * Never edit an entry that has shipped: add the next version instead (the
 * store refuses a database whose recorded names differ from these).
 *
 * Conventions: times are INTEGER milliseconds since the Unix epoch (as in the API);
 * server ids are TEXT (opaque strings made by the application); JSON is TEXT
 * checked with json_valid(); booleans are INTEGER 0/1; tables are STRICT;
 * string literals use single quotes (double-quoted strings are disabled).
 */
#include "internal.h"

static const char m001_initial[] =
    /* apps (tenants) */
    "CREATE TABLE apps ("
    " id TEXT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " key TEXT NOT NULL UNIQUE,"
    " status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),"
    " rate_limit_rps INTEGER NOT NULL DEFAULT 0 CHECK (rate_limit_rps >= 0)," /* 0 = none */
    " rate_limit_burst INTEGER NOT NULL DEFAULT 0 CHECK (rate_limit_burst >= 0),"
    " daily_quota INTEGER NOT NULL DEFAULT 0 CHECK (daily_quota >= 0)," /* 0 = none */
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL"
    ") STRICT;"

    /* hashed app secrets; several may be valid at once during a rotation */
    "CREATE TABLE app_secrets ("
    " id INTEGER PRIMARY KEY,"
    " app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
    " hash TEXT NOT NULL UNIQUE,"
    " hint TEXT NOT NULL DEFAULT ''," /* last characters, for the console */
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER" /* NULL = no expiry */
    ") STRICT;"
    "CREATE INDEX app_secrets_app ON app_secrets(app_id);"

    /* end users of an app */
    "CREATE TABLE users ("
    " app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
    " id TEXT NOT NULL CHECK (length(id) BETWEEN 1 AND 64),"
    " name TEXT NOT NULL DEFAULT '',"
    " avatar TEXT NOT NULL DEFAULT '',"
    " kind TEXT NOT NULL DEFAULT '',"
    " contacts TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(contacts)),"
    " metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),"
    " password_hash TEXT," /* NULL = cannot log in directly */
    " disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " PRIMARY KEY (app_id, id)"
    ") STRICT;"
    "CREATE INDEX users_app_kind ON users(app_id, kind);"
    "CREATE INDEX users_app_created ON users(app_id, created_at);"

    /* console accounts */
    "CREATE TABLE operators ("
    " id TEXT PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    " password_hash TEXT NOT NULL,"
    " disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " last_login_at INTEGER"
    ") STRICT;"

    /* roles: permissions as a JSON array of strings; all_apps = 0 limits to role_apps */
    "CREATE TABLE roles ("
    " id TEXT PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    " description TEXT NOT NULL DEFAULT '',"
    " permissions TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(permissions)),"
    " all_apps INTEGER NOT NULL DEFAULT 1 CHECK (all_apps IN (0, 1)),"
    " builtin INTEGER NOT NULL DEFAULT 0 CHECK (builtin IN (0, 1)),"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE TABLE role_apps ("
    " role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,"
    " app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
    " PRIMARY KEY (role_id, app_id)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX role_apps_app ON role_apps(app_id);"
    "CREATE TABLE operator_roles ("
    " operator_id TEXT NOT NULL REFERENCES operators(id) ON DELETE CASCADE,"
    " role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,"
    " PRIMARY KEY (operator_id, role_id)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX operator_roles_role ON operator_roles(role_id);"

    /*
     * Refresh tokens: opaque, stored hashed, rotated on use; reuse of
     * a rotated one revokes its family. The subject is a user (with app_id) or
     * an operator (app_id NULL).
     */
    "CREATE TABLE refresh_tokens ("
    " id TEXT PRIMARY KEY,"
    " family_id TEXT NOT NULL,"
    " subject_kind TEXT NOT NULL CHECK (subject_kind IN ('user', 'operator')),"
    " subject_id TEXT NOT NULL,"
    " app_id TEXT REFERENCES apps(id) ON DELETE CASCADE,"
    " token_hash TEXT NOT NULL UNIQUE,"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " rotated_at INTEGER,"
    " revoked_at INTEGER,"
    " CHECK ((subject_kind = 'user') = (app_id IS NOT NULL))"
    ") STRICT;"
    "CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);"
    "CREATE INDEX refresh_tokens_subject ON refresh_tokens(subject_kind, app_id, subject_id);"
    "CREATE INDEX refresh_tokens_expires ON refresh_tokens(expires_at);"

    /* who did what in the console; kept when the operator is deleted */
    "CREATE TABLE audit_log ("
    " id INTEGER PRIMARY KEY,"
    " operator_id TEXT REFERENCES operators(id) ON DELETE SET NULL,"
    " operator_name TEXT NOT NULL DEFAULT ''," /* as it was, for deleted operators */
    " app_id TEXT,"
    " action TEXT NOT NULL,"
    " target TEXT NOT NULL DEFAULT '',"
    " detail TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),"
    " ip TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX audit_log_created ON audit_log(created_at);"
    "CREATE INDEX audit_log_operator ON audit_log(operator_id, created_at);"
    "CREATE INDEX audit_log_action ON audit_log(action, created_at);"

    /* server-wide settings and persisted secrets (generated at first start) */
    "CREATE TABLE settings ("
    " key TEXT PRIMARY KEY,"
    " value TEXT NOT NULL,"
    " updated_at INTEGER NOT NULL"
    ") STRICT, WITHOUT ROWID;";

static const char m002_users_name_index[] =
    /* the console lists and searches an app's users by name */
    "CREATE INDEX users_app_name ON users(app_id, name COLLATE NOCASE);";

static const char m003_auth[] =
    /* end-user self-registration is per app; the default app allows it (docs/auth.md) */
    "ALTER TABLE apps ADD COLUMN allow_register INTEGER NOT NULL DEFAULT 0"
    " CHECK (allow_register IN (0, 1));"
    "UPDATE apps SET allow_register = 1 WHERE key = 'default';"
    /*
     * Token revocation (logout, disable, password change): access tokens of a
     * subject issued before revoked_at are refused. app_id is '' for operators
     * and apps. Every node polls rows newer than the last it saw.
     */
    "CREATE TABLE revocations ("
    " subject_kind TEXT NOT NULL CHECK (subject_kind IN ('user', 'operator', 'app')),"
    " app_id TEXT NOT NULL DEFAULT '',"
    " subject_id TEXT NOT NULL,"
    " revoked_at INTEGER NOT NULL,"
    " PRIMARY KEY (subject_kind, app_id, subject_id)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX revocations_at ON revocations(revoked_at);";

/* issue 7: a revocation may end one session (a login's refresh family, the access tokens'
 * "sid" claim) instead of every token of the subject: session_id '' = every session. The
 * primary key changes, so the table is rebuilt. */
static const char m004_session_revocations[] =
    "CREATE TABLE revocations_new ("
    " subject_kind TEXT NOT NULL CHECK (subject_kind IN ('user', 'operator', 'app')),"
    " app_id TEXT NOT NULL DEFAULT '',"
    " subject_id TEXT NOT NULL,"
    " session_id TEXT NOT NULL DEFAULT '',"
    " revoked_at INTEGER NOT NULL,"
    " PRIMARY KEY (subject_kind, app_id, subject_id, session_id)"
    ") STRICT, WITHOUT ROWID;"
    "INSERT INTO revocations_new (subject_kind, app_id, subject_id, revoked_at)"
    " SELECT subject_kind, app_id, subject_id, revoked_at FROM revocations;"
    "DROP TABLE revocations;"
    "ALTER TABLE revocations_new RENAME TO revocations;"
    "CREATE INDEX revocations_at ON revocations(revoked_at);";

/* issue 9, first slice: conversations and their members (docs/chat.md). A direct
 * conversation's direct_key is its two user ids, sorted, joined by a space (no user id holds
 * one); UNIQUE (app_id, direct_key) makes get-or-create race-safe (NULL for group and room).
 * last_seq is the per-conversation message seq (messages come next); a member's joined_seq
 * and read_seq are seqs of that counter. */
static const char m005_conversations[] =
    "CREATE TABLE conversations ("
    " id TEXT PRIMARY KEY,"
    " app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
    " type TEXT NOT NULL CHECK (type IN ('direct', 'group', 'room')),"
    " name TEXT NOT NULL DEFAULT '',"
    " avatar TEXT NOT NULL DEFAULT '',"
    " owner TEXT,"      /* NULL for direct */
    " direct_key TEXT," /* direct only */
    " last_seq INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0),"
    " last_activity_at INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " UNIQUE (app_id, direct_key),"
    " CHECK ((type = 'direct') = (direct_key IS NOT NULL))"
    ") STRICT;"
    "CREATE INDEX conversations_app_type_activity ON conversations(app_id, type,"
    " last_activity_at);"
    "CREATE TABLE conversation_members ("
    " conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
    " app_id TEXT NOT NULL,"
    " user_id TEXT NOT NULL,"
    " role TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),"
    " joined_at INTEGER NOT NULL,"
    " joined_seq INTEGER NOT NULL DEFAULT 0,"
    " read_seq INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (conversation_id, user_id),"
    " FOREIGN KEY (app_id, user_id) REFERENCES users(app_id, id) ON DELETE CASCADE"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX conversation_members_user ON conversation_members(app_id, user_id);";

/* issue 9, second slice: messages and the event log (docs/chat.md). One row per message,
 * never per recipient; seq is per conversation, taken from conversations.last_seq in the
 * send's own transaction (UNIQUE (conversation_id, seq) keeps it gapless and unique);
 * UNIQUE (app_id, sender_id, client_msg_id) makes a send idempotent (NULLs never collide).
 * content is the JSON text of the message's content. events is the per-app replay log that
 * sync reads: cursor increases with every event written. */
static const char m006_messages[] =
    "CREATE TABLE messages ("
    " id TEXT PRIMARY KEY,"
    " app_id TEXT NOT NULL,"
    " conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL CHECK (seq > 0),"
    " sender_id TEXT NOT NULL,"
    " type TEXT NOT NULL CHECK (type IN ('text', 'image', 'file', 'audio', 'video', 'custom',"
    " 'system')),"
    " content TEXT NOT NULL,"
    " reply_to TEXT,"
    " client_msg_id TEXT,"
    " created_at INTEGER NOT NULL,"
    " edited_at INTEGER,"
    " recalled INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE (conversation_id, seq),"
    " UNIQUE (app_id, sender_id, client_msg_id)"
    ") STRICT;"
    "CREATE TABLE events ("
    " cursor INTEGER PRIMARY KEY,"
    " app_id TEXT NOT NULL,"
    " conversation_id TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " message_id TEXT,"
    " seq INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX events_message ON events(message_id);";

/* issue 9, third slice: read state (docs/chat.md). A sender has read what they sent: a send
 * moves the sender's read_seq to the message's seq, so unread_count is last_seq - read_seq.
 * This brings the messages sent before that rule under it. */
static const char m007_read_state[] =
    "UPDATE conversation_members SET read_seq = max(read_seq, (SELECT coalesce(max(s.seq), 0)"
    " FROM messages s WHERE s.conversation_id = conversation_members.conversation_id AND"
    " s.sender_id = conversation_members.user_id));";

/* issue 9, sync: membership changes join the event log (docs/chat.md, "Sync"). events.user_id
 * names the member an event is about (a removal tells that user last); a member's
 * joined_cursor is the cursor of the event that made them a member (NULL for a moment inside
 * the write that adds them): sync serves a member the events from there on. */
static const char m008_sync[] = "ALTER TABLE events ADD COLUMN user_id TEXT;"
                                "ALTER TABLE conversation_members ADD COLUMN joined_cursor INTEGER;"
                                "UPDATE conversation_members SET joined_cursor = 0;";
/* issue 9, presence (docs/chat.md): when the user's last device went away (ms), written when
 * the offline event is sent; NULL: never seen. */
static const char m009_last_seen[] = "ALTER TABLE users ADD COLUMN last_seen INTEGER;";

/* issue 9, retention and sync (docs/chat.md, "Retention"): sync reads a user's events through
 * their conversations (events by conversation and cursor) and the removals that name them
 * (events by user and cursor, membership events only); events_pruned keeps, per app, the
 * highest cursor pruning deleted, so a sync from before it answers complete: false. */
static const char m010_retention[] =
    "CREATE INDEX events_conversation ON events(conversation_id, cursor);"
    "CREATE INDEX events_user ON events(user_id, cursor) WHERE user_id IS NOT NULL;"
    "CREATE TABLE events_pruned ("
    " app_id TEXT PRIMARY KEY,"
    " cursor INTEGER NOT NULL"
    ") STRICT;";

/* issue 10, quick replies (docs/service.md): a user's own (owner_user_id) and the app's shared
 * ones (owner_user_id NULL, written by operators); listed by owner, then position. */
static const char m011_quick_replies[] =
    "CREATE TABLE quick_replies ("
    " id TEXT PRIMARY KEY,"
    " app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
    " owner_user_id TEXT,"
    " title TEXT NOT NULL DEFAULT '',"
    " content TEXT NOT NULL,"
    " position INTEGER NOT NULL CHECK (position >= 0),"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX quick_replies_owner ON quick_replies(app_id, owner_user_id, position);";

/* issue 10, uploads (docs/uploads.md): one row per stored file, per app and user; path is
 * relative to DATA_DIR/media ("uploads/2026/12/07/<32 hex>.png") and unique, as is the
 * thumbnail's; GET /media/... finds the row of either to answer with its type and name. */
static const char m012_uploads[] =
    "CREATE TABLE uploads ("
    " id TEXT PRIMARY KEY,"
    " app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
    " user_id TEXT NOT NULL,"
    " path TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL,"
    " size INTEGER NOT NULL CHECK (size >= 0),"
    " mime TEXT NOT NULL,"
    " width INTEGER,"
    " height INTEGER,"
    " thumb_path TEXT UNIQUE,"
    " created_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX uploads_user ON uploads(app_id, user_id, created_at);";
/* issue 10, the service workflow (docs/service.md): a conversation with an agent or a merchant
 * has a status and an assignee, the user who handles it, and names its customer; a support
 * conversation (support = 1, stored as a group) is a customer's request to the app's agents, at
 * most one unresolved per customer. support_agents: the app's agents and whether they are
 * online here (presence), with the turn of their last assignment (round robin on ties).
 * audit_log.user_id: the end user who made a change (operator_id is NULL then). */
static const char m014_service[] =
    "ALTER TABLE conversations ADD COLUMN support INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE conversations ADD COLUMN status TEXT CHECK (status IN ('open', 'pending',"
    " 'resolved'));"
    "ALTER TABLE conversations ADD COLUMN assignee_id TEXT;"
    "ALTER TABLE conversations ADD COLUMN customer_id TEXT;"
    "CREATE INDEX conversations_queue ON conversations(app_id, assignee_id, status) WHERE status"
    " IS NOT NULL;"
    "CREATE UNIQUE INDEX conversations_support_open ON conversations(app_id, customer_id) WHERE"
    " support = 1 AND status <> 'resolved';"
    "CREATE TABLE support_agents ("
    " app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
    " user_id TEXT NOT NULL,"
    " online INTEGER NOT NULL DEFAULT 0,"
    " turn INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (app_id, user_id)"
    ") STRICT;"
    "ALTER TABLE audit_log ADD COLUMN user_id TEXT;";

/* issue 10, message search (docs/chat.md, "Search"). message_search holds, per text message
 * that is not recalled, the terms chat/search_text.c made of its text (words, CJK bigrams);
 * the edit and the recall change it in their own write, and deleting the message
 * (retention, a conversation going) deletes it through the foreign key. message_fts is the
 * FTS5 index of those terms (contentless: the terms are kept once, in message_search) with the
 * message's app and conversation as tokens of a second column (scope), so a user's query
 * reads only their conversations' postings; the triggers keep it equal to message_search.
 * message_search_pending lists the messages to index: a send's, with the terms the send made
 * (the search indexer, chat/search_index.c, moves them in batches), and those written before
 * this migration, without terms (the server makes them at start-up, chat/search.c). */
static const char m013_message_search[] =
    "CREATE TABLE message_search ("
    " id INTEGER PRIMARY KEY,"
    " message_id TEXT NOT NULL UNIQUE REFERENCES messages(id) ON DELETE CASCADE,"
    " app_id TEXT NOT NULL,"
    " conversation_id TEXT NOT NULL,"
    " terms TEXT NOT NULL"
    ") STRICT;"
    "CREATE VIRTUAL TABLE message_fts USING fts5(terms, scope, content='',"
    " tokenize='unicode61 remove_diacritics 2');"
    "CREATE TRIGGER message_search_ai AFTER INSERT ON message_search BEGIN"
    " INSERT INTO message_fts (rowid, terms, scope) VALUES (new.id, new.terms, 'a' ||"
    " hex(new.app_id) || ' c' || hex(new.conversation_id));"
    " END;"
    "CREATE TRIGGER message_search_ad AFTER DELETE ON message_search BEGIN"
    " INSERT INTO message_fts (message_fts, rowid, terms, scope) VALUES ('delete', old.id,"
    " old.terms, 'a' || hex(old.app_id) || ' c' || hex(old.conversation_id));"
    " END;"
    "CREATE TRIGGER message_search_au AFTER UPDATE ON message_search BEGIN"
    " INSERT INTO message_fts (message_fts, rowid, terms, scope) VALUES ('delete', old.id,"
    " old.terms, 'a' || hex(old.app_id) || ' c' || hex(old.conversation_id));"
    " INSERT INTO message_fts (rowid, terms, scope) VALUES (new.id, new.terms, 'a' ||"
    " hex(new.app_id) || ' c' || hex(new.conversation_id));"
    " END;"
    "CREATE TABLE message_search_pending ("
    " message_id TEXT PRIMARY KEY,"
    " terms TEXT"
    ") STRICT, WITHOUT ROWID;"
    "INSERT INTO message_search_pending (message_id) SELECT id FROM messages WHERE type ="
    " 'text' AND recalled = 0;";

/* issue 11, notifications (docs/notifications.md, "Deliveries and the queue"). A notification
 * fans out into deliveries, one per recipient per channel kind; each delivery that has to go
 * out has one job, the durable queue's row (run_at, its lease: locked_by, locked_until),
 * deleted when the delivery reaches a final state. delivery_attempts logs every try;
 * delivery_acks the devices that ACKed an in-app delivery; idempotency_keys the
 * Idempotency-Key of a send for its window (SPEC 4a). */
static const char m017_notifications[] =
    "CREATE TABLE notifications ("
    " id TEXT PRIMARY KEY,"
    " app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
    " type_code TEXT NOT NULL,"
    " title TEXT,"
    " content TEXT,"
    " params TEXT CHECK (params IS NULL OR json_valid(params)),"
    " data TEXT CHECK (data IS NULL OR json_valid(data)),"
    " channels TEXT,"
    " recipients TEXT NOT NULL,"
    " priority TEXT NOT NULL DEFAULT 'normal' CHECK (priority IN ('normal', 'high', 'urgent')),"
    " ttl_ms INTEGER,"
    " send_at INTEGER NOT NULL,"
    " expires_at INTEGER,"
    " status TEXT NOT NULL CHECK (status IN ('queued', 'scheduled', 'cancelled')),"
    " idempotency_key TEXT,"
    " deliveries INTEGER NOT NULL DEFAULT 0,"
    " source TEXT NOT NULL DEFAULT 'api',"
    " operator_id TEXT,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX notifications_app ON notifications(app_id, created_at);"
    "CREATE TABLE deliveries ("
    " id TEXT PRIMARY KEY,"
    " app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
    " notification_id TEXT NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,"
    " user_id TEXT,"
    " address TEXT,"
    " channel TEXT NOT NULL,"
    " channel_id TEXT,"
    " type_code TEXT NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'delivered', 'read', "
    "'failed', 'dead', 'cancelled', 'skipped', 'expired')),"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_at INTEGER,"
    " last_error TEXT,"
    " title TEXT,"
    " content TEXT,"
    " html TEXT,"
    " escalates TEXT,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " sent_at INTEGER,"
    " delivered_at INTEGER,"
    " read_at INTEGER"
    ") STRICT;"
    "CREATE INDEX deliveries_notification ON deliveries(notification_id);"
    "CREATE INDEX deliveries_app ON deliveries(app_id, created_at);"
    "CREATE INDEX deliveries_inbox ON deliveries(app_id, user_id, created_at) WHERE channel = "
    "'inapp';"
    "CREATE TABLE delivery_attempts ("
    " id INTEGER PRIMARY KEY,"
    " delivery_id TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,"
    " attempt INTEGER NOT NULL,"
    " outcome TEXT NOT NULL,"
    " code INTEGER NOT NULL DEFAULT 0,"
    " detail TEXT NOT NULL DEFAULT '',"
    " duration_ms INTEGER NOT NULL DEFAULT 0,"
    " node TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX delivery_attempts_delivery ON delivery_attempts(delivery_id);"
    "CREATE TABLE delivery_acks ("
    " delivery_id TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,"
    " device_id TEXT NOT NULL,"
    " acked_at INTEGER NOT NULL,"
    " PRIMARY KEY (delivery_id, device_id)"
    ") STRICT;"
    "CREATE TABLE jobs ("
    " id INTEGER PRIMARY KEY,"
    " delivery_id TEXT NOT NULL UNIQUE REFERENCES deliveries(id) ON DELETE CASCADE,"
    " app_id TEXT NOT NULL,"
    " channel TEXT NOT NULL,"
    " channel_id TEXT,"
    " run_at INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " locked_by TEXT,"
    " locked_until INTEGER,"
    " created_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX jobs_due ON jobs(run_at);"
    "CREATE INDEX jobs_locked ON jobs(locked_by);"
    "CREATE TABLE idempotency_keys ("
    " app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
    " idem_key TEXT NOT NULL,"
    " request_hash TEXT NOT NULL,"
    " notification_id TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " PRIMARY KEY (app_id, idem_key)"
    ") STRICT;";
/* issue 11, notification channels (docs/notifications.md, "Channels"): a driver kind and its
 * JSON config, whose secret members are sealed (auth/secretbox.h); names unique per app. */
static const char m015_channels[] = "CREATE TABLE channels ("
                                    " id TEXT PRIMARY KEY,"
                                    " app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
                                    " name TEXT NOT NULL,"
                                    " kind TEXT NOT NULL,"
                                    " config TEXT NOT NULL CHECK (json_valid(config)),"
                                    " enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),"
                                    " max_attempts INTEGER NOT NULL DEFAULT 5,"
                                    " rate_per_s INTEGER NOT NULL DEFAULT 0,"
                                    " concurrency INTEGER NOT NULL DEFAULT 4,"
                                    " created_at INTEGER NOT NULL,"
                                    " updated_at INTEGER NOT NULL,"
                                    " UNIQUE (app_id, name)"
                                    ") STRICT;"
                                    "CREATE INDEX channels_kind ON channels(app_id, kind);";
/* issue 11, notification configuration (docs/notifications.md, "Message types", "Templates
 * (console)", "Subscriptions and quiet hours", "Instances"): an app's message types with
 * their default channel kinds and escalation chain; the type <-> channel pairs with the
 * template each uses (channel: a channels.id or 'inapp', checked by the handler, no foreign
 * key: the channels table is another migration's); templates per app, code, channel kind and
 * locale ('' the default variant) with every saved version kept; per user opt-outs (no row:
 * subscribed); per user quiet hours; and one row per server process (nodes). */
/* issue 11, fair claims and event webhooks (docs/notifications.md, "Fairness between apps"):
 * the index the queue's claim uses to take every app's oldest due job, and the apps' outgoing
 * event webhooks (docs/notifications.md, "Event
 * webhooks"): event_webhooks (URL, sealed secret, the events subscribed) and event_outbox,
 * their durable queue (one row per webhook per event, leased like jobs, deleted when
 * delivered or given up). */
static const char m018_notify_events[] =
    "CREATE INDEX jobs_app_due ON jobs(app_id, run_at);"
    "CREATE TABLE event_webhooks ("
    " id TEXT PRIMARY KEY,"
    " app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
    " url TEXT NOT NULL,"
    " secret TEXT NOT NULL,"
    " events TEXT NOT NULL,"
    " enabled INTEGER NOT NULL DEFAULT 1,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX event_webhooks_app ON event_webhooks(app_id);"
    "CREATE TABLE event_outbox ("
    " id INTEGER PRIMARY KEY,"
    " app_id TEXT NOT NULL,"
    " webhook_id TEXT NOT NULL REFERENCES event_webhooks(id) ON DELETE CASCADE,"
    " event_id TEXT NOT NULL,"
    " event TEXT NOT NULL,"
    " payload TEXT NOT NULL,"
    " run_at INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " locked_by TEXT,"
    " locked_until INTEGER,"
    " created_at INTEGER NOT NULL,"
    " UNIQUE (webhook_id, event_id)"
    ") STRICT;"
    "CREATE INDEX event_outbox_due ON event_outbox(run_at);";

/* issue 11, notifications in sync (docs/notifications.md, "In-app and the inbox"; docs/chat.md,
 * "Sync"): each in-app delivery sent is an event of the log, kind 'notification', written in
 * the write that records it sent; user_id is its one recipient, delivery_id the delivery
 * (unique: one event per delivery), conversation_id '' (it belongs to none). */
static const char m019_notify_sync[] =
    "ALTER TABLE events ADD COLUMN delivery_id TEXT;"
    "CREATE UNIQUE INDEX events_delivery ON events(delivery_id) WHERE delivery_id IS NOT NULL;";

/* issue 9, 1:1 chat's write (docs/chat.md, "Decisions"): the index by activity serves the
 * room list only (GET /rooms, newest activity first), so it holds rooms only; a message in a
 * direct or group conversation no longer moves an entry of it (a page at a random place of
 * the index, written by every send). */
static const char m020_rooms_by_activity[] =
    "DROP INDEX conversations_app_type_activity;"
    "CREATE INDEX conversations_rooms_activity ON conversations(app_id, last_activity_at)"
    " WHERE type = 'room';";

/* issue 11, SPEC §4a: an Idempotency-Key is scoped per app and sender. sender is '' for the
 * app's own sends (app authentication) and the operator's id for a console send; existing
 * records take the sender of their notification. The primary key changes, so the table is
 * rebuilt. */
static const char m021_idempotency_sender[] =
    "CREATE TABLE idempotency_keys_new ("
    " app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
    " sender TEXT NOT NULL DEFAULT '',"
    " idem_key TEXT NOT NULL,"
    " request_hash TEXT NOT NULL,"
    " notification_id TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " PRIMARY KEY (app_id, sender, idem_key)"
    ") STRICT;"
    "INSERT INTO idempotency_keys_new (app_id, sender, idem_key, request_hash, notification_id,"
    " created_at, expires_at) SELECT k.app_id, coalesce((SELECT n.operator_id FROM notifications"
    " n WHERE n.id = k.notification_id), ''), k.idem_key, k.request_hash, k.notification_id,"
    " k.created_at, k.expires_at FROM idempotency_keys k;"
    "DROP TABLE idempotency_keys;"
    "ALTER TABLE idempotency_keys_new RENAME TO idempotency_keys;";

/* Role names are unique, whatever their case (the console answers 409 naming `name`, as for
 * operators), as on PostgreSQL since its first migration. Roles that share a name with an older
 * one, or with the built-in, first get their id after the name. */
static const char m022_role_names_unique[] =
    "UPDATE roles SET name = name || ' (' || id || ')' WHERE builtin = 0 AND EXISTS (SELECT 1"
    " FROM roles r2 WHERE lower(r2.name) = lower(roles.name) AND (r2.builtin = 1 OR r2.id <"
    " roles.id));"
    "CREATE UNIQUE INDEX roles_name ON roles(lower(name));";

/* the address the node listens on, for /admin/instances */
static const char m023_node_address[] =
    "ALTER TABLE nodes ADD COLUMN address TEXT NOT NULL DEFAULT '';";

/* support routing's online flags per node (docs/service.md, "Support routing"): an agent is
 * online for the routing while a node that is alive (nodes: heartbeat) has them */
static const char m024_support_agent_nodes[] =
    "CREATE TABLE support_agent_nodes ("
    " app_id TEXT NOT NULL,"
    " user_id TEXT NOT NULL,"
    " node_id TEXT NOT NULL,"
    " PRIMARY KEY (app_id, user_id, node_id),"
    " FOREIGN KEY (app_id, user_id) REFERENCES support_agents(app_id, user_id) ON DELETE CASCADE"
    ") STRICT;"
    "ALTER TABLE support_agents DROP COLUMN online;";

static const char m016_notify_config[] =
    "CREATE TABLE message_types ("
    " id TEXT PRIMARY KEY,"
    " app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
    " code TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " description TEXT NOT NULL DEFAULT '',"
    " channels TEXT NOT NULL DEFAULT '[]',"
    " escalation TEXT,"
    " enabled INTEGER NOT NULL DEFAULT 1,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " UNIQUE (app_id, code)"
    ") STRICT;"
    "CREATE TABLE channel_message_types ("
    " id TEXT PRIMARY KEY,"
    " app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
    " type_id TEXT NOT NULL REFERENCES message_types(id) ON DELETE CASCADE,"
    " channel TEXT NOT NULL,"
    " template_code TEXT,"
    " enabled INTEGER NOT NULL DEFAULT 1,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " UNIQUE (type_id, channel)"
    ") STRICT;"
    "CREATE INDEX channel_message_types_app ON channel_message_types(app_id, channel);"
    "CREATE TABLE templates ("
    " id TEXT PRIMARY KEY,"
    " app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
    " code TEXT NOT NULL,"
    " channel_kind TEXT NOT NULL,"
    " locale TEXT NOT NULL DEFAULT '',"
    " active_version INTEGER NOT NULL DEFAULT 0,"
    " latest_version INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " UNIQUE (app_id, code, channel_kind, locale)"
    ") STRICT;"
    "CREATE TABLE template_versions ("
    " template_id TEXT NOT NULL REFERENCES templates(id) ON DELETE CASCADE,"
    " version INTEGER NOT NULL,"
    " subject TEXT NOT NULL DEFAULT '',"
    " body TEXT NOT NULL DEFAULT '',"
    " html TEXT,"
    " created_at INTEGER NOT NULL,"
    " operator_id TEXT,"
    " PRIMARY KEY (template_id, version)"
    ") STRICT;"
    "CREATE TABLE subscriptions ("
    " app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
    " user_id TEXT NOT NULL,"
    " type_code TEXT NOT NULL,"
    " channel TEXT NOT NULL,"
    " enabled INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " PRIMARY KEY (app_id, user_id, type_code, channel)"
    ") STRICT;"
    "CREATE INDEX subscriptions_type ON subscriptions(app_id, type_code, channel);"
    "CREATE TABLE user_prefs ("
    " app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
    " user_id TEXT NOT NULL,"
    " quiet_start TEXT,"
    " quiet_end TEXT,"
    " time_zone TEXT,"
    " updated_at INTEGER NOT NULL,"
    " PRIMARY KEY (app_id, user_id)"
    ") STRICT;"
    "CREATE TABLE nodes ("
    " id TEXT PRIMARY KEY,"
    " started_at INTEGER NOT NULL,"
    " heartbeat_at INTEGER NOT NULL,"
    " stopped_at INTEGER,"
    " connections INTEGER NOT NULL DEFAULT 0,"
    " websockets INTEGER NOT NULL DEFAULT 0,"
    " version TEXT NOT NULL,"
    " hostname TEXT NOT NULL DEFAULT '',"
    " pid INTEGER NOT NULL DEFAULT 0"
    ") STRICT;";

const struct store_migration store__sqlite_migrations[] = {
    {1, "initial", m001_initial},
    {2, "users_name_index", m002_users_name_index},
    {3, "auth", m003_auth},
    {4, "session_revocations", m004_session_revocations},
    {5, "conversations", m005_conversations},
    {6, "messages", m006_messages},
    {7, "read_state", m007_read_state},
    {8, "sync", m008_sync},
    {9, "last_seen", m009_last_seen},
    {10, "retention", m010_retention},
    {11, "quick_replies", m011_quick_replies},
    {12, "uploads", m012_uploads},
    {13, "message_search", m013_message_search},
    {14, "service", m014_service},
    {15, "channels", m015_channels},
    {16, "notify_config", m016_notify_config},
    {17, "notifications", m017_notifications},
    {18, "notify_events", m018_notify_events},
    {19, "notify_sync", m019_notify_sync},
    {20, "rooms_by_activity", m020_rooms_by_activity},
    {21, "idempotency_sender", m021_idempotency_sender},
    {22, "role_names_unique", m022_role_names_unique},
    {23, "node_address", m023_node_address},
    {24, "support_agent_nodes", m024_support_agent_nodes},
};

const int store__sqlite_nmigrations =
    (int)(sizeof store__sqlite_migrations / sizeof store__sqlite_migrations[0]);
