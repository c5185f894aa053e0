/*
 * The SQL of message search (chat/search.c, docs/chat.md "Search"; migration 013). The index
 * rows (message_search) are written by the send, the edit and the recall in their own write
 * ops, with the terms chat/search_text.c made in C; SQLite's FTS5 table follows them through
 * triggers. The search itself differs per backend (FTS5 MATCH and bm25 against a tsquery and
 * ts_rank), so those statements give both texts; both take the same parameters.
 */
#include "store/sql.h"

/* ?1 message, ?2 its terms (FTS5 tokens; a tsvector literal on PostgreSQL): the index row of a
 * text message that is not recalled, made or replaced (a send, an edit) */
const struct store_sql SQL_MESSAGE_SEARCH_PUT = {
    .sqlite = "INSERT INTO message_search (message_id, app_id, conversation_id, terms) SELECT id,"
              " app_id, conversation_id, ?2 FROM messages WHERE id = ?1 AND type = 'text' AND"
              " recalled = 0 ON CONFLICT (message_id) DO UPDATE SET terms = excluded.terms",
    .pg = "INSERT INTO message_search (message_id, app_id, conversation_id, terms) SELECT id,"
          " app_id, conversation_id, CAST($2 AS tsvector) FROM messages WHERE id = $1 AND type ="
          " 'text' AND recalled = 0 ON CONFLICT (message_id) DO UPDATE SET terms ="
          " excluded.terms",
};

/* ?1 message: its index row goes (a recall) */
/* ?1 message, ?2 its terms: listed for the search indexer (chat/search_index.c), in the
 * send's write */
const struct store_sql SQL_MESSAGE_SEARCH_QUEUE =
    STORE_SQL("INSERT INTO message_search_pending (message_id, terms) VALUES (?1, ?2) ON CONFLICT"
              " (message_id) DO NOTHING");

/* The search indexer's batch: the first ?1 listed messages with terms (MOVE_UPTO: the highest
 * id among them) */
#define MOVE_UPTO(P)                                                                               \
    "(SELECT max(message_id) FROM (SELECT message_id FROM message_search_pending WHERE terms IS"   \
    " NOT NULL ORDER BY message_id LIMIT " P ") x)"

/* ?1 batch size: index rows for the batch's messages that are still text and not recalled (an
 * edit's own row stays: DO NOTHING). CROSS JOIN keeps SQLite reading the list and looking each
 * message up by id: with a plain JOIN it read every message older than the batch instead, so
 * each batch cost as much as the whole history. */
const struct store_sql SQL_MESSAGE_SEARCH_MOVE = {
    .sqlite = "INSERT INTO message_search (message_id, app_id, conversation_id, terms) SELECT"
              " p.message_id, m.app_id, m.conversation_id, p.terms FROM message_search_pending p"
              " CROSS JOIN messages m ON m.id = p.message_id AND m.type = 'text' AND m.recalled = 0"
              " WHERE p.terms IS NOT NULL AND p.message_id <= " MOVE_UPTO(
                  "?1") " ON CONFLICT (message_id) DO NOTHING",
    .pg = "INSERT INTO message_search (message_id, app_id, conversation_id, terms) SELECT"
          " p.message_id, m.app_id, m.conversation_id, CAST(p.terms AS tsvector) FROM"
          " message_search_pending p JOIN messages m ON m.id = p.message_id AND m.type = 'text'"
          " AND m.recalled = 0 WHERE p.terms IS NOT NULL AND p.message_id <= " MOVE_UPTO(
              "$1") " ON CONFLICT (message_id) DO NOTHING",
};

/* ?1 batch size: the batch's messages off the list, those indexed and those that cannot be (no
 * longer a text, recalled, deleted) only: a send committed meanwhile by another transaction
 * (PostgreSQL) stays listed */
const struct store_sql SQL_MESSAGE_SEARCH_MOVED = {
    .sqlite =
        "DELETE FROM message_search_pending WHERE terms IS NOT NULL AND message_id <= " MOVE_UPTO(
            "?1") " AND (EXISTS (SELECT 1 FROM message_search s WHERE s.message_id"
                  " = message_search_pending.message_id) OR NOT EXISTS (SELECT 1 FROM messages m"
                  " WHERE m.id = message_search_pending.message_id AND m.type = 'text' AND"
                  " m.recalled = 0))",
    .pg = "DELETE FROM message_search_pending WHERE terms IS NOT NULL AND message_id <= " MOVE_UPTO(
        "$1") " AND (EXISTS (SELECT 1 FROM message_search s WHERE s.message_id ="
              " message_search_pending.message_id) OR NOT EXISTS (SELECT 1 FROM messages m WHERE"
              " m.id = message_search_pending.message_id AND m.type = 'text' AND m.recalled = 0))",
};

const struct store_sql SQL_MESSAGE_SEARCH_DELETE =
    STORE_SQL("DELETE FROM message_search WHERE message_id = ?1");

/* ?1 limit, ?2 characters: the next listed messages without terms to index (written before
 * migration 013), oldest first, at most ?1 of them and, past the first, no more than ?2
 * characters of text in all (a batch's memory stays small however long the messages), with the
 * content and edited_at (0: never) of those that are text and not recalled (content NULL for
 * the others: only taken off the list) */
const struct store_sql SQL_MESSAGE_SEARCH_PENDING = STORE_SQL(
    "SELECT message_id, content, edited FROM (SELECT message_id, content, edited, len, sum(len)"
    " OVER (ORDER BY message_id ROWS UNBOUNDED PRECEDING) AS run FROM (SELECT p.message_id,"
    " m.content, coalesce(m.edited_at, 0) AS edited, coalesce(length(m.content), 0) AS len FROM "
    "message_search_pending p LEFT JOIN messages m"
    " ON m.id = p.message_id AND m.type = 'text' AND m.recalled = 0 WHERE p.terms IS NULL"
    " ORDER BY p.message_id LIMIT ?1) a) b WHERE run - len < ?2 ORDER BY message_id");

/* ?1 message, ?2 its edited_at (0: never) when its terms ?3 were made: indexed unless it changed
 * meanwhile (an edit or a recall, which keep the index themselves) */
const struct store_sql SQL_MESSAGE_SEARCH_BACKFILL = {
    .sqlite = "INSERT INTO message_search (message_id, app_id, conversation_id, terms) SELECT id,"
              " app_id, conversation_id, ?3 FROM messages WHERE id = ?1 AND coalesce(edited_at, 0)"
              " = ?2 AND type = 'text' AND recalled = 0 ON CONFLICT (message_id) DO NOTHING",
    .pg = "INSERT INTO message_search (message_id, app_id, conversation_id, terms) SELECT id,"
          " app_id, conversation_id, CAST($3 AS tsvector) FROM messages WHERE id = $1 AND"
          " coalesce(edited_at, 0) = $2 AND type = 'text' AND recalled = 0 ON CONFLICT"
          " (message_id) DO NOTHING",
};

/* ?1 message: taken off the list of messages to index */
const struct store_sql SQL_MESSAGE_SEARCH_PENDING_DONE =
    STORE_SQL("DELETE FROM message_search_pending WHERE message_id = ?1");

/* ?1 app, ?2 the asking user or NULL (an operator), ?3 conversation or NULL: whether the app
 * exists, and whether the conversation is one of the app's (and the user's) or none is named */
const struct store_sql SQL_MESSAGE_SEARCH_SCOPE = STORE_SQL(
    "SELECT (SELECT count(*) FROM apps WHERE id = ?1), CASE WHEN CAST(?3 AS TEXT) IS NULL THEN 1"
    " ELSE (SELECT count(*) FROM conversations c WHERE c.id = ?3 AND c.app_id = ?1 AND (CAST(?2"
    " AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM conversation_members x WHERE x.conversation_id ="
    " c.id AND x.user_id = ?2))) END");

/* The FTS5 query: the terms (?3, chat/search_text.c), narrowed by the scope tokens when that
 * is cheaper. Terms found in fewer than 3,000 rows of the whole index are read alone and the
 * join below filters them (a lookup per posting); for commoner terms the query also requires
 * a scope token: the conversation ?4, or the user's conversations (up to 500; beyond, the
 * app), or for an operator (?2 NULL) the app ?1, so FTS5 intersects the postings instead.
 * Scope tokens are the hex of the ids (as the triggers of migration 013 write them). */
#define FTS_TERMS "'terms : (' || ?3 || ')'"
#define FTS_MATCH                                                                                  \
    "message_fts MATCH CASE WHEN CAST(?4 AS TEXT) IS NOT NULL THEN " FTS_TERMS " || ' AND scope :" \
    " c' || hex(?4) WHEN (SELECT count(*) FROM (SELECT 1 FROM message_fts WHERE message_fts MATCH" \
    " " FTS_TERMS " LIMIT 3000)) < 3000 THEN " FTS_TERMS " WHEN CAST(?2 AS TEXT) IS NULL THEN"     \
    " " FTS_TERMS " || ' AND scope : a' || hex(?1) ELSE " FTS_TERMS " || ' AND scope : (' ||"      \
    " coalesce((SELECT group_concat('c' || hex(conversation_id), ' OR ') FROM (SELECT"             \
    " conversation_id FROM conversation_members WHERE app_id = ?1 AND user_id = ?2 LIMIT 501)"     \
    " HAVING count(*) BETWEEN 1 AND 500), 'a' || hex(?1)) || ')' END"

/* The hits the asker may read: a user's only in conversations they belong to and from the seq
 * they joined at (as the history), an operator's in the app; never a recalled message. With
 * the message they are (SQL_MESSAGES_COLS), newest first: FTS5 reads its postings backwards
 * (rowids grow as messages are indexed) and stops at the limit. */
#define HITS_SQLITE                                                                                \
    " FROM message_fts JOIN message_search s ON s.id = message_fts.rowid JOIN messages m ON m.id"  \
    " = s.message_id LEFT JOIN messages r ON r.id = m.reply_to LEFT JOIN conversation_members me"  \
    " ON me.conversation_id = s.conversation_id AND me.user_id = ?2 WHERE " FTS_MATCH " AND"       \
    " s.app_id = ?1 AND m.recalled = 0 AND (CAST(?4 AS TEXT) IS NULL OR s.conversation_id = ?4)"   \
    " AND (CAST(?2 AS TEXT) IS NULL OR m.seq > me.joined_seq) ORDER BY message_fts.rowid DESC"

#define HITS_PG                                                                                    \
    " FROM message_search s JOIN messages m ON m.id = s.message_id LEFT JOIN messages r ON r.id"   \
    " = m.reply_to LEFT JOIN conversation_members me ON me.conversation_id = s.conversation_id"    \
    " AND me.user_id = $2 WHERE s.terms @@ CAST($3 AS tsquery) AND s.app_id = $1 AND m.recalled"   \
    " = 0 AND (CAST($4 AS TEXT) IS NULL OR s.conversation_id = $4) AND (CAST($2 AS TEXT) IS NULL"  \
    " OR m.seq > me.joined_seq) ORDER BY m.created_at DESC, m.seq DESC"

/* ?1 app, ?2 user or NULL (an operator), ?3 the match expression (FTS5 query; tsquery literal),
 * ?4 conversation or NULL, ?5 limit: the newest hits (SQL_MESSAGES_COLS), which chat/search.c
 * ranks */
const struct store_sql SQL_MESSAGE_SEARCH_HITS = {
    .sqlite = "SELECT " SQL_MESSAGES_COLS HITS_SQLITE " LIMIT ?5",
    .pg = "SELECT " SQL_MESSAGES_COLS HITS_PG " LIMIT $5",
};
