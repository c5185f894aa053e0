/*
 * The SQL of conversations and conversation_members (issue 9, docs/chat.md), each statement
 * written once (docs/adr/0007); the two that expand a JSON list give both texts.
 *
 * Every statement that reads a conversation for a user names the app too (?1 app_id), so an
 * id of another app is never found. Conversations are read with SQL_CONVERSATIONS_COLS and
 * members with SQL_CONVERSATION_MEMBERS_COLS (store/sql.h), in the order chat/conv_json.c
 * reads them.
 */
#include "store/sql.h"

#define CONV_FROM " FROM conversations c"
#define MEMBERS_FROM                                                                               \
    " FROM conversation_members m LEFT JOIN users u ON u.app_id = m.app_id AND u.id = m.user_id"
#define MEMBERS_ORDER " ORDER BY m.conversation_id, m.joined_at, m.user_id"

/* ?1 new id, ?2 app, ?3 direct key, ?4 now, ?5 the peer, ?6 the user creating it: nothing when
 * the peer is no user of the app, is disabled, or the pair's conversation exists (the UNIQUE
 * (app_id, direct_key) constraint). With an agent or a merchant (kind; the peer first when
 * both are) it is a service conversation (docs/service.md): status open, that one the
 * assignee, the other the customer. */
#define SERVICE_SIDE                                                                               \
    "(SELECT s.id FROM users s WHERE s.app_id = ?2 AND (s.id = ?5 OR s.id = ?6) AND s.kind IN"     \
    " ('agent', 'merchant') ORDER BY CASE WHEN s.id = ?5 THEN 0 ELSE 1 END LIMIT 1)"
const struct store_sql SQL_CONVERSATIONS_DIRECT_INSERT =
    STORE_SQL("INSERT INTO conversations (id, app_id, type, direct_key, last_activity_at,"
              " created_at, updated_at, status, assignee_id, customer_id) SELECT ?1, ?2, 'direct',"
              " ?3, ?4, ?4, ?4, CASE WHEN v.a IS NULL THEN NULL ELSE 'open' END, v.a, CASE WHEN"
              " v.a IS NULL THEN NULL WHEN v.a = ?5 THEN ?6 ELSE ?5 END FROM users, (SELECT"
              " " SERVICE_SIDE " AS a) v WHERE users.app_id = ?2 AND users.id = ?5 AND"
              " users.disabled = 0 ON CONFLICT DO NOTHING");

/* ?1 app, ?2 direct key, ?3 user, ?4 now */
const struct store_sql SQL_CONVERSATION_MEMBERS_DIRECT_ADD =
    STORE_SQL("INSERT INTO conversation_members (conversation_id, app_id, user_id, role,"
              " joined_at, joined_seq, read_seq) SELECT id, app_id, ?3, 'member', ?4, 0, 0"
              " FROM conversations WHERE app_id = ?1 AND direct_key = ?2 ON CONFLICT DO"
              " NOTHING");

/* ?1 app, ?2 direct key: nothing while one of the two is a disabled user (a disabled peer is
 * refused like an unknown one) */
const struct store_sql SQL_CONVERSATIONS_BY_DIRECT_KEY =
    STORE_SQL("SELECT " SQL_CONVERSATIONS_COLS CONV_FROM " WHERE c.app_id = ?1 AND c.direct_key ="
              " ?2 AND NOT EXISTS (SELECT 1 FROM conversation_members dm JOIN users du ON"
              " du.app_id = dm.app_id AND du.id = dm.user_id WHERE dm.conversation_id = c.id AND"
              " du.disabled = 1)");

const struct store_sql SQL_CONVERSATION_MEMBERS_BY_DIRECT_KEY =
    STORE_SQL("SELECT " SQL_CONVERSATION_MEMBERS_COLS MEMBERS_FROM
              " WHERE m.conversation_id = (SELECT id FROM conversations WHERE app_id = ?1 AND"
              " direct_key = ?2)" MEMBERS_ORDER);

/* ?1 id, ?2 app, ?3 type, ?4 name, ?5 avatar, ?6 owner, ?7 now */
const struct store_sql SQL_CONVERSATIONS_INSERT =
    STORE_SQL("INSERT INTO conversations (id, app_id, type, name, avatar, owner,"
              " last_activity_at, created_at, updated_at) VALUES (?1, ?2, ?3, coalesce(?4, ''),"
              " coalesce(?5, ''), ?6, ?7, ?7, ?7)");

/* ?1 conversation, ?2 app, ?3 user, ?4 role, ?5 now: one member, from the current seq on;
 * nothing when already a member */
const struct store_sql SQL_CONVERSATION_MEMBERS_ADD =
    STORE_SQL("INSERT INTO conversation_members (conversation_id, app_id, user_id, role,"
              " joined_at, joined_seq, read_seq) SELECT id, ?2, ?3, ?4, ?5, last_seq, last_seq"
              " FROM conversations WHERE id = ?1 ON CONFLICT DO NOTHING");

/* ?1 conversation, ?2 app, ?3 a JSON array of user ids, ?4 now: members with role member */
const struct store_sql SQL_CONVERSATION_MEMBERS_ADD_LIST = {
    .sqlite = "INSERT INTO conversation_members (conversation_id, app_id, user_id, role,"
              " joined_at, joined_seq, read_seq) SELECT c.id, ?2, j.value, 'member', ?4,"
              " c.last_seq, c.last_seq FROM conversations c, json_each(?3) j WHERE c.id = ?1"
              " ON CONFLICT DO NOTHING",
    .pg = "INSERT INTO conversation_members (conversation_id, app_id, user_id, role,"
          " joined_at, joined_seq, read_seq) SELECT c.id, $2, j.v, 'member', $4, c.last_seq,"
          " c.last_seq FROM conversations c, json_array_elements_text($3::text::json) AS j(v)"
          " WHERE c.id = $1 ON CONFLICT DO NOTHING",
};

/* ?1 app, ?2 id, ?3 the user asking: the conversation and the user's role (NULL: not a
 * member) */
const struct store_sql SQL_CONVERSATIONS_LOAD =
    STORE_SQL("SELECT " SQL_CONVERSATIONS_COLS
              ", (SELECT role FROM conversation_members WHERE conversation_id = c.id AND"
              " user_id = ?3)" CONV_FROM " WHERE c.app_id = ?1 AND c.id = ?2");

/* ?1 app, ?2 id */
const struct store_sql SQL_CONVERSATIONS_GET =
    STORE_SQL("SELECT " SQL_CONVERSATIONS_COLS CONV_FROM " WHERE c.app_id = ?1 AND c.id = ?2");

/* ?1 conversation */
const struct store_sql SQL_CONVERSATION_MEMBERS_OF =
    STORE_SQL("SELECT " SQL_CONVERSATION_MEMBERS_COLS MEMBERS_FROM
              " WHERE m.conversation_id = ?1" MEMBERS_ORDER);

/* The last event of conversation ?n is a status change: in a send's write, after its message's
 * event, the customer's message reopened it (the reopen steps, store/sql/service.c) */
#define REOPENED_NOW(n)                                                                            \
    " AND (SELECT e.kind FROM events e WHERE e.conversation_id = ?" #n " ORDER BY e.cursor DESC"   \
    " LIMIT 1) = 'conversation.status'"

/* ?1 app, ?2 conversation: as SQL_CONVERSATIONS_GET, when the send's write reopened it */
const struct store_sql SQL_CONVERSATIONS_GET_REOPENED =
    STORE_SQL("SELECT " SQL_CONVERSATIONS_COLS CONV_FROM
              " WHERE c.app_id = ?1 AND c.id = ?2" REOPENED_NOW(2));

/* ?1 conversation: as SQL_CONVERSATION_MEMBERS_OF, when the send's write reopened it */
const struct store_sql SQL_CONVERSATION_MEMBERS_REOPENED =
    STORE_SQL("SELECT " SQL_CONVERSATION_MEMBERS_COLS MEMBERS_FROM
              " WHERE m.conversation_id = ?1" REOPENED_NOW(1) MEMBERS_ORDER);

/* ?1 conversation: its members unless it is a room (what GET and the member endpoints show) */
const struct store_sql SQL_CONVERSATION_MEMBERS_LISTED =
    STORE_SQL("SELECT " SQL_CONVERSATION_MEMBERS_COLS MEMBERS_FROM
              " WHERE m.conversation_id = ?1 AND EXISTS (SELECT 1 FROM conversations WHERE id ="
              " ?1 AND type <> 'room')" MEMBERS_ORDER);

/* ?1 app, ?2 user */
#define MINE_FROM " FROM conversations c JOIN conversation_members me ON me.conversation_id = c.id"
/* the newest message, unless the member joined after it (alias lm) */
#define LAST_JOIN                                                                                  \
    " LEFT JOIN messages lm ON lm.conversation_id = c.id AND lm.seq = c.last_seq AND lm.seq >"     \
    " me.joined_seq"

/* ?1 app, ?2 user: how many conversations, and the unread messages in all of them */
const struct store_sql SQL_CONVERSATIONS_MINE_COUNT = STORE_SQL(
    "SELECT count(*), CAST(coalesce(sum(c.last_seq - me.read_seq), 0) AS BIGINT)" MINE_FROM
    " WHERE me.app_id = ?1 AND me.user_id = ?2");

/* ?1 app, ?2 user, ?3 limit, ?4 offset: newest activity first */
#define MINE_WHERE                                                                                 \
    " WHERE me.app_id = ?1 AND me.user_id = ?2 ORDER BY c.last_activity_at DESC, c.id DESC LIMIT"  \
    " ?3 OFFSET ?4"
#define MINE_PAGE MINE_FROM MINE_WHERE
/* with the user's read state after the conversation's columns */
const struct store_sql SQL_CONVERSATIONS_MINE_PAGE =
    STORE_SQL("SELECT " SQL_CONVERSATIONS_COLS
              ", " SQL_CONVERSATION_STATE_COLS MINE_FROM LAST_JOIN MINE_WHERE);

/* ?1 app, ?2 conversation, ?3 user: the user's read state (no row: not a member) */
const struct store_sql SQL_CONVERSATIONS_STATE =
    STORE_SQL("SELECT " SQL_CONVERSATION_STATE_COLS MINE_FROM LAST_JOIN
              " WHERE c.app_id = ?1 AND c.id = ?2 AND me.user_id = ?3");

/* the members of that page's direct and group conversations (rooms: a count only) */
const struct store_sql SQL_CONVERSATION_MEMBERS_MINE_PAGE =
    STORE_SQL("SELECT " SQL_CONVERSATION_MEMBERS_COLS MEMBERS_FROM
              " WHERE m.conversation_id IN (SELECT c.id" MINE_PAGE
              ") AND m.conversation_id IN (SELECT id FROM conversations WHERE app_id = ?1 AND"
              " type <> 'room')" MEMBERS_ORDER);

/* ?1 app */
const struct store_sql SQL_CONVERSATIONS_ROOMS_COUNT =
    STORE_SQL("SELECT count(*) FROM conversations WHERE app_id = ?1 AND type = 'room'");

/* ?1 app, ?2 user, ?3 limit, ?4 offset: with whether the user has joined */
const struct store_sql SQL_CONVERSATIONS_ROOMS_PAGE =
    STORE_SQL("SELECT " SQL_CONVERSATIONS_COLS
              ", (SELECT count(*) FROM conversation_members WHERE conversation_id = c.id AND"
              " user_id = ?2)" CONV_FROM " WHERE c.app_id = ?1 AND c.type = 'room' ORDER BY"
              " c.last_activity_at DESC, c.id DESC LIMIT ?3 OFFSET ?4");

/* ?1 app, ?2 id, ?3 the actor, ?4 name or NULL, ?5 avatar or NULL, ?6 now: only by an owner
 * or admin of a group or room (a row is required: the rights are checked again here) */
const struct store_sql SQL_CONVERSATIONS_UPDATE =
    STORE_SQL("UPDATE conversations SET name = coalesce(?4, name), avatar = coalesce(?5,"
              " avatar), updated_at = ?6 WHERE app_id = ?1 AND id = ?2 AND type <> 'direct' AND"
              " EXISTS (SELECT 1 FROM conversation_members WHERE conversation_id = ?2 AND"
              " user_id = ?3 AND role IN ('owner', 'admin'))");

/* ?1 conversation, ?2 now */
const struct store_sql SQL_CONVERSATIONS_TOUCH =
    STORE_SQL("UPDATE conversations SET updated_at = ?2 WHERE id = ?1");

/* ?1 conversation, ?2 the actor, ?3 the most members: a row when the actor may still manage
 * members and the group is not over the bound (required: the write's own check) */
const struct store_sql SQL_CONVERSATION_MEMBERS_GUARD =
    STORE_SQL("SELECT 1 FROM conversation_members WHERE conversation_id = ?1 AND user_id = ?2"
              " AND role IN ('owner', 'admin') AND (SELECT count(*) FROM conversation_members"
              " WHERE conversation_id = ?1) <= ?3");

/* ?1 conversation, ?2 user, ?3 'member' or 'admin' (the roles this removal may touch) */
const struct store_sql SQL_CONVERSATION_MEMBERS_REMOVE =
    STORE_SQL("DELETE FROM conversation_members WHERE conversation_id = ?1 AND user_id = ?2 AND"
              " (role = 'member' OR role = ?3)");

/* ?1 conversation, ?2 user: any role (leave) */
const struct store_sql SQL_CONVERSATION_MEMBERS_LEAVE =
    STORE_SQL("DELETE FROM conversation_members WHERE conversation_id = ?1 AND user_id = ?2");

/* ?1 conversation: with no owner left, the first admin (else the first member) by join time
 * becomes the owner */
const struct store_sql SQL_CONVERSATION_MEMBERS_PASS_OWNER =
    STORE_SQL("UPDATE conversation_members SET role = 'owner' WHERE conversation_id = ?1 AND"
              " user_id = (SELECT user_id FROM conversation_members WHERE conversation_id = ?1"
              " ORDER BY CASE role WHEN 'admin' THEN 0 ELSE 1 END, joined_at, user_id LIMIT 1)"
              " AND NOT EXISTS (SELECT 1 FROM conversation_members WHERE conversation_id = ?1"
              " AND role = 'owner')");

/* ?1 conversation, ?2 now: owner follows the members' owner row (NULL when none) */
const struct store_sql SQL_CONVERSATIONS_SET_OWNER =
    STORE_SQL("UPDATE conversations SET owner = (SELECT user_id FROM conversation_members WHERE"
              " conversation_id = ?1 AND role = 'owner'), updated_at = ?2 WHERE id = ?1");

/* ?1 conversation, ?2 user, ?3 'admin' or 'member', ?4 the actor, who must be the owner;
 * never the owner's row */
const struct store_sql SQL_CONVERSATION_MEMBERS_SET_ROLE =
    STORE_SQL("UPDATE conversation_members SET role = ?3 WHERE conversation_id = ?1 AND user_id"
              " = ?2 AND role <> 'owner' AND EXISTS (SELECT 1 FROM conversation_members WHERE"
              " conversation_id = ?1 AND user_id = ?4 AND role = 'owner')");

/* ?1 app, ?2 conversation, ?3 the sender, who must be a member (a required row), ?4 now: the
 * next seq of a send; the row stays locked until the send's transaction ends */
const struct store_sql SQL_CONVERSATIONS_NEXT_SEQ =
    STORE_SQL("UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = ?4 WHERE"
              " app_id = ?1 AND id = ?2 AND EXISTS (SELECT 1 FROM conversation_members WHERE"
              " conversation_id = ?2 AND user_id = ?3)");

/* The same for a send with `to` whose conversation came from the cache of direct ones: ?5 the
 * pair's direct key, which must still be the conversation's (a deleted user's are retired) */
const struct store_sql SQL_CONVERSATIONS_NEXT_SEQ_DIRECT =
    STORE_SQL("UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = ?4 WHERE"
              " app_id = ?1 AND id = ?2 AND direct_key = ?5 AND EXISTS (SELECT 1 FROM"
              " conversation_members WHERE conversation_id = ?2 AND user_id = ?3)");

/* ?1 app, ?2 a user being deleted: their direct conversations stay with the other member, as
 * history, under a key no pair has ("a b#<id>"), so a new user of the same id gets a new one */
const struct store_sql SQL_CONVERSATIONS_DIRECT_RETIRE =
    STORE_SQL("UPDATE conversations SET direct_key = direct_key || '#' || id WHERE app_id = ?1"
              " AND direct_key IS NOT NULL AND id IN (SELECT conversation_id FROM"
              " conversation_members WHERE app_id = ?1 AND user_id = ?2)");

/* ?1 app, ?2 conversation, ?3 now: the next seq of a system message (written by the server in
 * the op of a membership change or a rename) */
const struct store_sql SQL_CONVERSATIONS_NEXT_SEQ_SYSTEM =
    STORE_SQL("UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = ?3 WHERE"
              " app_id = ?1 AND id = ?2");

/* ?1 conversation, ?2 how many: a row when exactly that many members were added by this op
 * (their joined_cursor is still NULL); the guard of a system message that names them */
const struct store_sql SQL_CONVERSATION_MEMBERS_NEW_GUARD =
    STORE_SQL("SELECT 1 WHERE (SELECT count(*) FROM conversation_members WHERE conversation_id"
              " = ?1 AND joined_cursor IS NULL) = ?2");

/* ?1 conversation: whom a message.new goes to */
const struct store_sql SQL_CONVERSATION_MEMBERS_USER_IDS =
    STORE_SQL("SELECT user_id FROM conversation_members WHERE conversation_id = ?1");

/* ?1 app, ?2 conversation, ?3 user: a row (the seq the member sees messages after) when the
 * user is a member */
const struct store_sql SQL_CONVERSATION_MEMBERS_JOINED_SEQ =
    STORE_SQL("SELECT joined_seq FROM conversation_members WHERE app_id = ?1 AND"
              " conversation_id = ?2 AND user_id = ?3");

/* ?1 app, ?2 conversation, ?3 user, ?4 seq: the member's read_seq moves forward to seq (cut to
 * the conversation's last_seq), never back; no change when it is there already */
#define READ_TO                                                                                    \
    "(SELECT CASE WHEN ?4 < c.last_seq THEN ?4 ELSE c.last_seq END FROM conversations c WHERE "    \
    "c.id = ?2)"
const struct store_sql SQL_CONVERSATION_MEMBERS_READ =
    STORE_SQL("UPDATE conversation_members SET read_seq = " READ_TO " WHERE app_id = ?1 AND"
              " conversation_id = ?2 AND user_id = ?3 AND read_seq < " READ_TO);

/* ?1 app, ?2 conversation, ?3 user, ?4 seq, ?5 now: the read event of
 * SQL_CONVERSATION_MEMBERS_READ, logged before it in the same op, when it will move read_seq (the
 * same condition); its cursor */
const struct store_sql SQL_EVENTS_INSERT_READ =
    STORE_SQL("INSERT INTO events (app_id, conversation_id, kind, user_id, seq, created_at)"
              " SELECT me.app_id, me.conversation_id, 'read', me.user_id, " READ_TO ", ?5 FROM"
              " conversation_members me WHERE me.app_id = ?1 AND me.conversation_id = ?2 AND"
              " me.user_id = ?3 AND me.read_seq < " READ_TO " RETURNING cursor");

/* ?1 app, ?2 conversation, ?3 user: read_seq and the unread count (no row: not a member) */
const struct store_sql SQL_CONVERSATION_MEMBERS_READ_STATE =
    STORE_SQL("SELECT me.read_seq, c.last_seq - me.read_seq" MINE_FROM " WHERE c.app_id = ?1 AND"
              " c.id = ?2 AND me.user_id = ?3");

/* ?1 conversation, ?2 the reader: whom a read event goes to (a room's: the reader only) */
const struct store_sql SQL_CONVERSATION_MEMBERS_READ_AUDIENCE =
    STORE_SQL("SELECT user_id FROM conversation_members WHERE conversation_id = ?1 AND (user_id ="
              " ?2 OR EXISTS (SELECT 1 FROM conversations WHERE id = ?1 AND type <> 'room'))");

/* ?1 conversation, ?2 the sender: a sender has read what they sent (after
 * SQL_CONVERSATIONS_NEXT_SEQ, in the send's op: last_seq is the message's seq) */
const struct store_sql SQL_CONVERSATION_MEMBERS_SENT =
    STORE_SQL("UPDATE conversation_members SET read_seq = (SELECT last_seq FROM conversations WHERE"
              " id = ?1) WHERE conversation_id = ?1 AND user_id = ?2");

/* ---- the live monitor (chat/monitor.c, docs/service.md "Live monitor"): every conversation
 * of the apps an operator monitors. ?1 those apps as a JSON array, NULL every app; the texts
 * differ only in how the array is expanded. */
#define MON_Q(n) "?" #n
#define MON_D(n) "$" #n
#define MON_APPS_SQLITE "SELECT value FROM json_each(?1)"
#define MON_APPS_PG "SELECT json_array_elements_text($1::text::json)"
/* the newest message (alias lm), whoever joined when */
#define MON_LAST " LEFT JOIN messages lm ON lm.conversation_id = c.id AND lm.seq = c.last_seq"
#define MON_LAST_COLS                                                                              \
    ", c.app_id, lm.id, lm.seq, lm.sender_id, lm.type, lm.content, lm.created_at, lm.recalled"

/* ?2 app or NULL, ?3 a member's user id or NULL, ?4 a member's kind or NULL, ?5 type or NULL,
 * ?6 last activity from (ms, inclusive) or NULL, ?7 to (exclusive) or NULL, ?8 the service
 * status or NULL, ?9 the assignee, '' for none (queued), or NULL */
// clang-format off
#define MON_WHERE(P, APPS)                                                                         \
    " WHERE (CAST(" P(1) " AS TEXT) IS NULL OR c.app_id IN (" APPS "))"                            \
    " AND (CAST(" P(2) " AS TEXT) IS NULL OR c.app_id = " P(2) ")"                                 \
    " AND (CAST(" P(3) " AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM conversation_members f"         \
    "  WHERE f.conversation_id = c.id AND f.user_id = " P(3) "))"                                  \
    " AND (CAST(" P(4) " AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM conversation_members f"         \
    "  JOIN users fu ON fu.app_id = f.app_id AND fu.id = f.user_id"                                \
    "  WHERE f.conversation_id = c.id AND fu.kind = " P(4) "))"                                    \
    " AND (CAST(" P(5) " AS TEXT) IS NULL"                                                          \
    "  OR CASE WHEN c.support = 1 THEN 'support' ELSE c.type END = " P(5) ")"                      \
    " AND (CAST(" P(6) " AS BIGINT) IS NULL OR c.last_activity_at >= " P(6) ")"                    \
    " AND (CAST(" P(7) " AS BIGINT) IS NULL OR c.last_activity_at < " P(7) ")"                     \
    " AND (CAST(" P(8) " AS TEXT) IS NULL OR c.status = " P(8) ")"                                 \
    " AND (CAST(" P(9) " AS TEXT) IS NULL OR coalesce(c.assignee_id, '') = " P(9) ")"
// clang-format on
#define MON_ORDER(P) " ORDER BY c.last_activity_at DESC, c.id DESC LIMIT " P(10) " OFFSET " P(11)

/* ?1..?9 as MON_WHERE */
const struct store_sql SQL_CONVERSATIONS_MONITOR_COUNT = {
    .sqlite = "SELECT count(*) FROM conversations c" MON_WHERE(MON_Q, MON_APPS_SQLITE),
    .pg = "SELECT count(*) FROM conversations c" MON_WHERE(MON_D, MON_APPS_PG),
};

/* ?1..?9 as MON_WHERE, ?10 limit, ?11 offset: newest activity first, each with its app and its
 * newest message after SQL_CONVERSATIONS_COLS */
const struct store_sql SQL_CONVERSATIONS_MONITOR_PAGE = {
    .sqlite = "SELECT " SQL_CONVERSATIONS_COLS MON_LAST_COLS
              " FROM conversations c" MON_LAST MON_WHERE(MON_Q, MON_APPS_SQLITE) MON_ORDER(MON_Q),
    .pg = "SELECT " SQL_CONVERSATIONS_COLS MON_LAST_COLS
          " FROM conversations c" MON_LAST MON_WHERE(MON_D, MON_APPS_PG) MON_ORDER(MON_D),
};

/* ?1..?11 as SQL_CONVERSATIONS_MONITOR_PAGE: the members of that page's direct and group
 * conversations (rooms: a count only) */
const struct store_sql SQL_CONVERSATION_MEMBERS_MONITOR_PAGE = {
    .sqlite = "SELECT " SQL_CONVERSATION_MEMBERS_COLS MEMBERS_FROM
              " WHERE m.conversation_id IN (SELECT c.id FROM conversations c" MON_WHERE(
                  MON_Q, MON_APPS_SQLITE) MON_ORDER(MON_Q) ") AND m.conversation_id IN (SELECT id"
                                                           " FROM conversations WHERE type <>"
                                                           " 'room')" MEMBERS_ORDER,
    .pg = "SELECT " SQL_CONVERSATION_MEMBERS_COLS MEMBERS_FROM
          " WHERE m.conversation_id IN (SELECT c.id FROM conversations c" MON_WHERE(MON_D,
                                                                                    MON_APPS_PG)
              MON_ORDER(MON_D) ") AND m.conversation_id IN (SELECT id FROM"
                               " conversations WHERE type <> 'room')" MEMBERS_ORDER,
};

/* ?1 apps as MON_WHERE, ?2 conversation: it with its app and newest message, when it belongs to
 * one of those apps */
const struct store_sql SQL_CONVERSATIONS_MONITOR_GET = {
    .sqlite =
        "SELECT " SQL_CONVERSATIONS_COLS MON_LAST_COLS " FROM conversations c" MON_LAST
        " WHERE c.id = ?2 AND (CAST(?1 AS TEXT) IS NULL OR c.app_id IN (" MON_APPS_SQLITE "))",
    .pg = "SELECT " SQL_CONVERSATIONS_COLS MON_LAST_COLS " FROM conversations c" MON_LAST
          " WHERE c.id = $2 AND (CAST($1 AS TEXT) IS NULL OR c.app_id IN (" MON_APPS_PG "))",
};

/* ---- the customer context (chat/context.c, docs/service.md "Customer context"): a change of a
 * user's profile is a member.updated event in each of their direct conversations, the ?4 most
 * recently active ones, written in the change's own op. */

/* ?1 app, ?2 the user, ?3 now, ?4 the most conversations: the events, each with its cursor and
 * conversation */
const struct store_sql SQL_EVENTS_INSERT_PROFILE =
    STORE_SQL("INSERT INTO events (app_id, conversation_id, kind, user_id, created_at) SELECT"
              " c.app_id, c.id, 'member.updated', ?2, ?3 FROM conversation_members me JOIN"
              " conversations c ON c.id = me.conversation_id WHERE me.app_id = ?1 AND me.user_id"
              " = ?2 AND c.type = 'direct' ORDER BY c.last_activity_at DESC, c.id DESC LIMIT ?4"
              " RETURNING cursor, conversation_id");

/* the conversations of those events (?1 app, ?2 user, ?3 now as SQL_EVENTS_INSERT_PROFILE) */
#define PROFILE_CONVS                                                                              \
    " IN (SELECT p.conversation_id FROM events p WHERE p.user_id = ?2 AND p.app_id = ?1 AND"       \
    " p.kind = 'member.updated' AND p.created_at = ?3)"

/* ?1 app, ?2 user, ?3 now: the conversations SQL_EVENTS_INSERT_PROFILE has just logged */
const struct store_sql SQL_CONVERSATIONS_PROFILE = STORE_SQL(
    "SELECT " SQL_CONVERSATIONS_COLS CONV_FROM " WHERE c.app_id = ?1 AND c.id" PROFILE_CONVS);

/* ?1 app, ?2 user, ?3 now: their members */
const struct store_sql SQL_CONVERSATION_MEMBERS_PROFILE =
    STORE_SQL("SELECT " SQL_CONVERSATION_MEMBERS_COLS MEMBERS_FROM
              " WHERE m.conversation_id" PROFILE_CONVS MEMBERS_ORDER);
