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
 * NULL, ?8 client_msg_id or NULL, ?9 now: the seq SQL_CONVERSATIONS_NEXT_SEQ just took;
 * nothing (a required row) when reply_to is no message of the conversation */
const struct store_sql SQL_MESSAGES_INSERT =
    STORE_SQL("INSERT INTO messages (id, app_id, conversation_id, seq, sender_id, type, content,"
              " reply_to, client_msg_id, created_at) SELECT ?1, ?2, c.id, c.last_seq, ?4, ?5, ?6,"
              " ?7, ?8, ?9 FROM conversations c WHERE c.id = ?3 AND (CAST(?7 AS TEXT) IS NULL OR"
              " EXISTS (SELECT 1 FROM messages q WHERE q.conversation_id = ?3 AND q.id = ?7))");

/* ?1 message, ?2 kind ('message.new'): the event, and its cursor */
const struct store_sql SQL_EVENTS_INSERT_MESSAGE =
    STORE_SQL("INSERT INTO events (app_id, conversation_id, kind, message_id, seq, created_at)"
              " SELECT app_id, conversation_id, ?2, id, seq, created_at FROM messages WHERE id ="
              " ?1 RETURNING cursor");

/* ?1 message */
const struct store_sql SQL_MESSAGES_GET =
    STORE_SQL("SELECT " SQL_MESSAGES_COLS MESSAGES_FROM " WHERE m.id = ?1");

/* ?1 app, ?2 sender, ?3 client_msg_id: the message a repeated send names, with the cursor of
 * its message.new event */
const struct store_sql SQL_MESSAGES_BY_CLIENT_ID = STORE_SQL(
    "SELECT " SQL_MESSAGES_COLS ", (SELECT min(e.cursor) FROM events e WHERE e.message_id ="
    " m.id)" MESSAGES_FROM " WHERE m.app_id = ?1 AND m.sender_id = ?2 AND m.client_msg_id = ?3");

/* ?1 conversation, ?2 before this seq, ?3 from after this seq (the reader's joined_seq),
 * ?4 limit: newest first */
const struct store_sql SQL_MESSAGES_BEFORE =
    STORE_SQL("SELECT " SQL_MESSAGES_COLS MESSAGES_FROM " WHERE m.conversation_id = ?1 AND"
              " m.seq < ?2 AND m.seq > ?3 ORDER BY m.seq DESC LIMIT ?4");

/* ?1 conversation, ?2 after this seq, ?3 limit: oldest first */
const struct store_sql SQL_MESSAGES_AFTER =
    STORE_SQL("SELECT " SQL_MESSAGES_COLS MESSAGES_FROM " WHERE m.conversation_id = ?1 AND"
              " m.seq > ?2 ORDER BY m.seq LIMIT ?3");
