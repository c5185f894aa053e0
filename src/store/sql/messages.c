/*
 * The SQL of messages and events (issue 9, docs/chat.md), each statement written once
 * (docs/adr/0007). A send is one write op: SQL_CONVERSATIONS_NEXT_SEQ (conversations.c), then
 * SQL_MESSAGES_INSERT, SQL_EVENTS_INSERT_MESSAGE and SQL_MESSAGES_GET, so the seq, the row and
 * its event commit together or not at all. Messages are read with SQL_MESSAGES_COLS
 * (store/sql.h), in the order chat/messages.c reads them.
 */
#include "store/sql.h"

#define MESSAGES_FROM " FROM messages m LEFT JOIN messages r ON r.id = m.reply_to"

/* ?1 id, ?2 app, ?3 conversation, ?4 sender, ?5 type, ?6 content (JSON text), ?7 reply_to or
 * NULL, ?8 client_msg_id or NULL, ?9 now: the seq SQL_CONVERSATIONS_NEXT_SEQ just took. A
 * reply_to is checked by SQL_MESSAGES_REPLY_IN in the same op: a statement that read messages
 * while it inserts into them would collect its row in a temporary table first. */
const struct store_sql SQL_MESSAGES_INSERT =
    STORE_SQL("INSERT INTO messages (id, app_id, conversation_id, seq, sender_id, type, content,"
              " reply_to, client_msg_id, created_at) SELECT ?1, ?2, c.id, c.last_seq, ?4, ?5, ?6,"
              " ?7, ?8, ?9 FROM conversations c WHERE c.id = ?3");

/* ?1 conversation, ?2 message, ?3 the sender: a row when the message is one of the
 * conversation's that the sender may read, after their joined_seq as in the history (the
 * required row of a send's reply_to: a member added later quotes nothing from before) */
const struct store_sql SQL_MESSAGES_REPLY_IN =
    STORE_SQL("SELECT 1 FROM messages WHERE conversation_id = ?1 AND id = ?2 AND seq > (SELECT"
              " joined_seq FROM conversation_members WHERE conversation_id = ?1 AND user_id ="
              " ?3)");

/* ?1 message, ?2 kind ('message.new'): the event, and its cursor */
const struct store_sql SQL_EVENTS_INSERT_MESSAGE =
    STORE_SQL("INSERT INTO events (app_id, conversation_id, kind, message_id, seq, created_at)"
              " SELECT app_id, conversation_id, ?2, id, seq, created_at FROM messages WHERE id ="
              " ?1 RETURNING cursor");

/* ?1 app, ?2 conversation, ?3 message, ?4 now: a send's message.new event, after
 * SQL_CONVERSATIONS_NEXT_SEQ (last_seq is the message's seq). Its cursor: on SQLite the
 * inserted rowid (store_rows.last_id; RETURNING would collect the row in a temporary table),
 * on PostgreSQL the returned row; store_rows_inserted_id() reads either. */
const struct store_sql SQL_EVENTS_INSERT_SENT = {
    .sqlite = "INSERT INTO events (app_id, conversation_id, kind, message_id, seq, created_at)"
              " VALUES (?1, ?2, 'message.new', ?3, (SELECT last_seq FROM conversations WHERE id ="
              " ?2), ?4)",
    .pg = "INSERT INTO events (app_id, conversation_id, kind, message_id, seq, created_at)"
          " VALUES ($1, $2, 'message.new', $3, (SELECT last_seq FROM conversations WHERE id ="
          " $2), $4) RETURNING cursor",
};

/* ?1 message */
const struct store_sql SQL_MESSAGES_GET =
    STORE_SQL("SELECT " SQL_MESSAGES_COLS MESSAGES_FROM " WHERE m.id = ?1");

/* ?1 message, ?2 now: a message.updated event (an edit or a recall) of the message, and its
 * cursor */
const struct store_sql SQL_EVENTS_INSERT_UPDATED =
    STORE_SQL("INSERT INTO events (app_id, conversation_id, kind, message_id, seq, created_at)"
              " SELECT app_id, conversation_id, 'message.updated', id, seq, ?2 FROM messages"
              " WHERE id = ?1 RETURNING cursor");

/* ?1 message: the members who may read it (joined before it), whom its message.updated goes to */
const struct store_sql SQL_CONVERSATION_MEMBERS_READERS =
    STORE_SQL("SELECT g.user_id FROM conversation_members g JOIN messages x ON x.conversation_id"
              " = g.conversation_id WHERE x.id = ?1 AND g.joined_seq < x.seq");

/* ?1 app or NULL (an operator: any app), ?2 message, ?3 the asker or NULL: the message, then
 * the asker's joined_seq in its conversation (NULL: not a member) and the message's app */
const struct store_sql SQL_MESSAGES_LOAD =
    STORE_SQL("SELECT " SQL_MESSAGES_COLS ", (SELECT joined_seq FROM conversation_members WHERE"
              " conversation_id = m.conversation_id AND user_id = ?3), m.app_id" MESSAGES_FROM
              " WHERE m.id = ?2 AND (CAST(?1 AS TEXT) IS NULL OR m.app_id = ?1)");

/* ?1 message, ?2 the sender, ?3 content (JSON text), ?4 now: an edit, by its sender while a
 * member, of a message that is neither recalled nor a system message (a required row) */
const struct store_sql SQL_MESSAGES_EDIT =
    STORE_SQL("UPDATE messages SET content = ?3, edited_at = ?4 WHERE id = ?1 AND sender_id ="
              " ?2 AND recalled = 0 AND type <> 'system' AND EXISTS (SELECT 1 FROM"
              " conversation_members WHERE conversation_id = messages.conversation_id AND"
              " user_id = ?2)");

/* ?1 message, ?2 the sender or NULL (an operator), ?3 the oldest created_at the sender may
 * still recall: content cleared (JSON null), recalled; a required row */
const struct store_sql SQL_MESSAGES_RECALL =
    STORE_SQL("UPDATE messages SET content = 'null', recalled = 1 WHERE id = ?1 AND recalled ="
              " 0 AND type <> 'system' AND (CAST(?2 AS TEXT) IS NULL OR (sender_id = ?2 AND"
              " created_at >= ?3 AND EXISTS (SELECT 1 FROM conversation_members WHERE"
              " conversation_id = messages.conversation_id AND user_id = ?2)))");

/* ?1 app, ?2 sender, ?3 client_msg_id: the message a repeated send names, with the cursor of
 * its message.new event */
const struct store_sql SQL_MESSAGES_BY_CLIENT_ID = STORE_SQL(
    "SELECT " SQL_MESSAGES_COLS ", (SELECT min(e.cursor) FROM events e WHERE e.message_id ="
    " m.id)" MESSAGES_FROM " WHERE m.app_id = ?1 AND m.sender_id = ?2 AND m.client_msg_id = ?3");

/* ?1 conversation, ?2 sender, ?3 seq: whether the sender wrote in it before that seq (a
 * replayed support open: was its message the first, i.e. did that request create it) */
const struct store_sql SQL_MESSAGES_SENDER_BEFORE =
    STORE_SQL("SELECT EXISTS (SELECT 1 FROM messages WHERE conversation_id = ?1 AND"
              " sender_id = ?2 AND seq < ?3)");

/* ?1 conversation, ?2 before this seq, ?3 from after this seq (the reader's joined_seq),
 * ?4 limit: newest first */
const struct store_sql SQL_MESSAGES_BEFORE =
    STORE_SQL("SELECT " SQL_MESSAGES_COLS MESSAGES_FROM " WHERE m.conversation_id = ?1 AND"
              " m.seq < ?2 AND m.seq > ?3 ORDER BY m.seq DESC LIMIT ?4");

/* ?1 conversation, ?2 after this seq, ?3 limit: oldest first */
const struct store_sql SQL_MESSAGES_AFTER =
    STORE_SQL("SELECT " SQL_MESSAGES_COLS MESSAGES_FROM " WHERE m.conversation_id = ?1 AND"
              " m.seq > ?2 ORDER BY m.seq LIMIT ?3");

/* ?1 app, ?2 conversation or NULL, ?3 direct key or NULL (one of the two names it), ?4 kind
 * (conversation.created, conversation.updated, member.added, member.joined, member.removed,
 * member.left, member.role), ?5 the member it is about or NULL, ?6 now, ?7 1: only when this
 * op has just added members (their joined_cursor is still NULL), 0: always. Its cursor. */
const struct store_sql SQL_EVENTS_INSERT_CONV =
    STORE_SQL("INSERT INTO events (app_id, conversation_id, kind, user_id, created_at) SELECT"
              " c.app_id, c.id, ?4, ?5, ?6 FROM conversations c WHERE c.app_id = ?1 AND (c.id ="
              " ?2 OR c.direct_key = ?3) AND (?7 = 0 OR EXISTS (SELECT 1 FROM"
              " conversation_members n WHERE n.conversation_id = c.id AND n.joined_cursor IS"
              " NULL)) RETURNING cursor");

/* ?1 app, ?2 conversation or NULL, ?3 direct key or NULL: the members this op added start at
 * the event SQL_EVENTS_INSERT_CONV has just written (SQLite: the one writer's newest cursor;
 * PostgreSQL: this session's last bigserial value, whatever other nodes commit meanwhile) */
const struct store_sql SQL_CONVERSATION_MEMBERS_SET_JOINED = {
    .sqlite = "UPDATE conversation_members SET joined_cursor = (SELECT max(cursor) FROM events)"
              " WHERE joined_cursor IS NULL AND conversation_id IN (SELECT id FROM conversations"
              " WHERE app_id = ?1 AND (id = ?2 OR direct_key = ?3))",
    .pg = "UPDATE conversation_members SET joined_cursor = currval(pg_get_serial_sequence("
          "'events', 'cursor')) WHERE joined_cursor IS NULL AND conversation_id IN (SELECT id"
          " FROM conversations WHERE app_id = $1 AND (id = $2 OR direct_key = $3))",
};

/* The kinds of event whose audience is their user_id alone */
#define OWN_KINDS "('member.removed', 'member.left', 'notification')"

/* The cursors of the page of events user ?2 may replay after cursor ?3 (app ?1, held from
 * created_at ?4 on, at most ?5): those of the conversations they belong to from the event that
 * made them a member on (an edit or a recall only of a message they can read: one after the
 * seq they joined at; a room's read events only their own, as the live ones go to the reader
 * only; not the member.updated events of their own profile changes, which are their peers'),
 * the events that told them they left or were removed, and their notifications (an in-app
 * delivery's event, whose one audience is its user: migration 019). Read through the user's
 * memberships (events_conversation) and their own events (events_user), so a page costs the
 * user's events after the cursor, not everyone's (migration 010). */
#define SYNC_CURSORS                                                                               \
    "SELECT x.cursor FROM conversation_members me JOIN events x ON x.conversation_id ="            \
    " me.conversation_id WHERE me.app_id = ?1 AND me.user_id = ?2 AND x.cursor > ?3 AND"           \
    " x.cursor >= coalesce(me.joined_cursor, 0) AND x.created_at >= ?4 AND (x.message_id IS"       \
    " NULL OR x.seq > me.joined_seq) AND NOT (x.kind = 'read' AND x.user_id <> ?2 AND EXISTS"      \
    " (SELECT 1 FROM conversations t WHERE t.id = x.conversation_id AND t.type = 'room')) AND"     \
    " NOT (x.kind = 'member.updated' AND x.user_id = ?2) UNION"                                    \
    " SELECT y.cursor FROM events y WHERE y.user_id = ?2 AND y.cursor > ?3 AND y.app_id = ?1 AND"  \
    " y.kind IN " OWN_KINDS " AND y.created_at >= ?4 ORDER BY 1 LIMIT ?5"

/* The conversations (still the user's) whose changes are among the page's events */
#define SYNC_CONVS                                                                                 \
    " IN (SELECT p.conversation_id FROM events p WHERE p.cursor IN (" SYNC_CURSORS ") AND"         \
    " p.kind NOT IN ('message.new', 'message.updated', 'read', 'notification'))"

/* ?1 app, ?2 user, ?3 after this cursor, ?4 held from this created_at on (retention), ?5 limit:
 * a page of events, oldest first, each with its message as it is now (SQL_MESSAGES_COLS after
 * cursor, conversation, kind, user and seq), then a notification's delivery (INAPP_COLS:
 * id, type, title, content, data, created_at), its notification's expires_at and its status */
const struct store_sql SQL_EVENTS_SYNC = STORE_SQL(
    "SELECT e.cursor, e.conversation_id, e.kind, e.user_id, e.seq, " SQL_MESSAGES_COLS ", nd.id,"
    " nd.type_code, coalesce(nd.title, nn.title), coalesce(nd.content, nn.content), nn.data,"
    " nd.created_at, nn.expires_at, nd.status FROM events e LEFT JOIN messages m ON m.id = "
    "e.message_id"
    " LEFT JOIN messages r ON r.id = m.reply_to LEFT JOIN deliveries nd ON nd.id ="
    " e.delivery_id AND nd.app_id = e.app_id LEFT JOIN notifications nn ON nn.id ="
    " nd.notification_id WHERE e.cursor IN (" SYNC_CURSORS ") ORDER BY e.cursor");

/* ?1..?5 as SQL_EVENTS_SYNC: the conversations the page's changes are about that the user still
 * belongs to, as they are now */
/* (the page's conversation ids drive the join, CROSS JOIN keeping them the outer loop on
 * SQLite: filtering the app's conversations by the id list instead read every conversation of
 * the app for each sync, which made a reconnect storm quadratic) */
const struct store_sql SQL_CONVERSATIONS_SYNCED =
    STORE_SQL("SELECT " SQL_CONVERSATIONS_COLS " FROM (SELECT DISTINCT p.conversation_id AS sid"
              " FROM events p WHERE p.cursor IN (" SYNC_CURSORS ") AND p.kind NOT IN"
              " ('message.new', 'message.updated', 'read', 'notification')) s CROSS JOIN"
              " conversations c WHERE c.id = s.sid AND c.app_id = ?1 AND EXISTS (SELECT 1 FROM"
              " conversation_members x WHERE x.conversation_id = c.id AND x.user_id = ?2)");

/* ?1..?5 as SQL_EVENTS_SYNC: the members of those (rooms excepted) */
const struct store_sql SQL_CONVERSATION_MEMBERS_SYNCED = STORE_SQL(
    "SELECT " SQL_CONVERSATION_MEMBERS_COLS " FROM conversation_members m LEFT JOIN users u ON"
    " u.app_id = m.app_id AND u.id = m.user_id WHERE m.conversation_id" SYNC_CONVS " AND EXISTS"
    " (SELECT 1 FROM conversations y WHERE y.id = m.conversation_id AND y.type <> 'room') ORDER"
    " BY m.conversation_id, m.joined_at, m.user_id");

/* The events of user ?2 (app ?1) after cursor ?3, through their memberships */
#define HELD_FROM                                                                                  \
    " FROM conversation_members me JOIN events x ON x.conversation_id = me.conversation_id WHERE"  \
    " me.app_id = ?1 AND me.user_id = ?2 AND x.cursor > ?3 AND x.cursor >="                        \
    " coalesce(me.joined_cursor, 0)"

/* The events of user ?2 (app ?1) after cursor ?3 whose audience is that user alone */
#define HELD_OWN                                                                                   \
    " FROM events y WHERE y.user_id = ?2 AND y.cursor > ?3 AND y.app_id = ?1 AND y.kind IN"        \
    " " OWN_KINDS

/* ?1 app, ?2 user, ?3 after this cursor, ?4 held from this created_at on: the earliest cursor
 * still served after ?3 (when there is none, the next one), and 1 when part of the range after
 * ?3 is no longer held: pruning deleted events of the app after it (events_pruned), or events
 * of the user's after it are older than ?4 and not pruned yet */
const struct store_sql SQL_EVENTS_HELD = STORE_SQL(
    "SELECT coalesce((SELECT min(h.c) FROM (SELECT min(x.cursor) AS c" HELD_FROM " AND"
    " x.created_at >= ?4 UNION ALL SELECT min(y.cursor) AS c" HELD_OWN " AND y.created_at >= ?4)"
    " h), (SELECT coalesce(max(cursor), 0) + 1 FROM events)), CASE WHEN EXISTS (SELECT 1 FROM"
    " events_pruned WHERE app_id = ?1 AND cursor > ?3) OR EXISTS (SELECT 1" HELD_FROM " AND"
    " x.created_at < ?4) OR EXISTS (SELECT 1" HELD_OWN " AND y.created_at < ?4) THEN 1 ELSE 0"
    " END");

/* A batch of pruning (chat/retention.c): among the ?2 oldest events, the newest event of all
 * excepted (SQLite would hand out its cursor again once it is gone), those created before ?1 */
#define PRUNE_BATCH                                                                                \
    " cursor IN (SELECT cursor FROM events WHERE cursor < (SELECT max(cursor) FROM events) ORDER"  \
    " BY cursor LIMIT ?2) AND created_at < ?1"

/* ?1 created before, ?2 batch: each app's highest cursor the batch deletes, kept */
const struct store_sql SQL_EVENTS_PRUNED_NOTE =
    STORE_SQL("INSERT INTO events_pruned (app_id, cursor) SELECT app_id, max(cursor) FROM events"
              " WHERE" PRUNE_BATCH " GROUP BY app_id ON CONFLICT (app_id) DO UPDATE SET cursor ="
              " CASE WHEN excluded.cursor > events_pruned.cursor THEN excluded.cursor ELSE"
              " events_pruned.cursor END");

/* ?1, ?2 as SQL_EVENTS_PRUNED_NOTE: the messages of the batch's message.new events */
const struct store_sql SQL_MESSAGES_PRUNE =
    STORE_SQL("DELETE FROM messages WHERE id IN (SELECT message_id FROM events WHERE" PRUNE_BATCH
              " AND message_id IS NOT NULL)");

/* ?1, ?2 as SQL_EVENTS_PRUNED_NOTE: the batch's events */
const struct store_sql SQL_EVENTS_PRUNE = STORE_SQL("DELETE FROM events WHERE" PRUNE_BATCH);

/* the newest cursor stored (where hello's cursor starts) */
const struct store_sql SQL_EVENTS_LATEST = STORE_SQL("SELECT coalesce(max(cursor), 0) FROM events");
