/*
 * The SQL of the service workflow (issue 10, docs/service.md): the status and the assignee of a
 * conversation with an agent or a merchant, support conversations and their routing to the
 * app's online agents (support_agents), the filtered lists of an agent's queue, and the audit
 * rows of end users' changes. Each statement is written once (docs/adr/0007); the ones whose
 * dialects differ give both texts.
 */
#include "store/sql.h"

/* ?1 app: the routing of an app is one at a time. SQLite: the one writer does that already;
 * PostgreSQL: a transaction-scoped advisory lock on the app, held until the op commits, so the
 * load counts an assignment reads cannot change under it (any node, any connection). */
const struct store_sql SQL_SUPPORT_LOCK = {
    .sqlite = "SELECT ?1",
    .pg = "SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtext('herald.support:' || $1))) l",
};

/* ?1 id, ?2 app, ?3 the customer, ?4 now: nothing when the customer has an unresolved support
 * conversation already (the unique index conversations_support_open) */
const struct store_sql SQL_SUPPORT_INSERT =
    STORE_SQL("INSERT INTO conversations (id, app_id, type, name, avatar, support, status,"
              " customer_id, last_activity_at, created_at, updated_at) VALUES (?1, ?2, 'group',"
              " '', '', 1, 'open', ?3, ?4, ?4, ?4) ON CONFLICT DO NOTHING");

/* ?1 app, ?2 the customer: their unresolved support conversation */
const struct store_sql SQL_SUPPORT_OPEN_GET =
    STORE_SQL("SELECT " SQL_CONVERSATIONS_COLS " FROM conversations c WHERE c.app_id = ?1 AND"
              " c.customer_id = ?2 AND c.support = 1 AND c.status <> 'resolved'");

/* ?1 app, ?2 the customer: its members */
const struct store_sql SQL_SUPPORT_OPEN_MEMBERS = STORE_SQL(
    "SELECT " SQL_CONVERSATION_MEMBERS_COLS
    " FROM conversation_members m LEFT JOIN users u ON u.app_id = m.app_id AND u.id = m.user_id"
    " WHERE m.conversation_id = (SELECT id FROM conversations WHERE app_id = ?1 AND customer_id ="
    " ?2 AND support = 1 AND status <> 'resolved') ORDER BY m.conversation_id, m.joined_at,"
    " m.user_id");

/* The unresolved conversations an agent handles: its load. */
#define LOAD_OF(agent)                                                                             \
    "(SELECT count(*) FROM conversations x WHERE x.app_id = ?1 AND x.assignee_id = " agent         \
    " AND x.status IN ('open', 'pending'))"

/* The agent of row sa is online for the routing: a node alive at the time `now` (an SQL
 * parameter) has them; alive as in /admin/instances (NOTIFY_ALIVE_MS, notify/notify.h) */
#define AGENT_LIVE(sa, now)                                                                        \
    " EXISTS (SELECT 1 FROM support_agent_nodes an JOIN nodes n ON n.id = an.node_id WHERE"        \
    " an.app_id = " sa ".app_id AND an.user_id = " sa ".user_id AND n.stopped_at IS NULL AND"      \
    " n.heartbeat_at >= " now " - 15000)"

/* An agent that may take one more: ?4 is the capacity (HERALD_SUPPORT_CAPACITY, 0: no limit) */
#define HAS_ROOM(agent) " (CAST(?4 AS BIGINT) = 0 OR " LOAD_OF(agent) " < CAST(?4 AS BIGINT))"

/* ?1 app, ?2 conversation, ?3 now, ?4 capacity: a queued support conversation (no assignee)
 * goes to the online agent with the fewest unresolved conversations, the one whose last
 * assignment is the oldest on a tie (round robin), never to its own customer nor to an agent
 * at capacity; nothing when no agent is online with room */
const struct store_sql SQL_SUPPORT_ASSIGN = STORE_SQL(
    "UPDATE conversations SET assignee_id = (SELECT sa.user_id FROM support_agents sa WHERE"
    " sa.app_id = ?1 AND" AGENT_LIVE(
        "sa",
        "?3") " AND sa.user_id <> conversations.customer_id "
              "AND" HAS_ROOM("sa.user_id") " ORDER BY " LOAD_OF(
                  "sa.user_id") ", sa.turn, sa.user_id LIMIT 1),"
                                " updated_at = ?3 WHERE app_id = ?1 AND id = ?2 AND support = 1 AND"
                                " assignee_id IS NULL AND status <> 'resolved' AND EXISTS (SELECT "
                                "1 FROM"
                                " support_agents sa WHERE sa.app_id = ?1 AND" AGENT_LIVE(
                                    "sa", "?3") " AND sa.user_id"
                                                " <> conversations.customer_id AND" HAS_ROOM(
                                                    "sa.user_id") ")");

/* The conversation ?2 has an assignee who is no member yet: this op assigned it. */
#define NEWLY_ASSIGNED                                                                             \
    " EXISTS (SELECT 1 FROM conversations c WHERE c.id = ?2 AND c.assignee_id IS NOT NULL AND NOT" \
    " EXISTS (SELECT 1 FROM conversation_members m WHERE m.conversation_id = ?2 AND m.user_id ="   \
    " c.assignee_id))"

/* ?1 app, ?2 conversation: after SQL_SUPPORT_ASSIGN, the agent it chose takes the next turn */
const struct store_sql SQL_SUPPORT_AGENT_TURN =
    STORE_SQL("UPDATE support_agents SET turn = (SELECT max(t.turn) + 1 FROM support_agents t"
              " WHERE t.app_id = ?1) WHERE app_id = ?1 AND user_id = (SELECT assignee_id FROM"
              " conversations WHERE id = ?2) AND" NEWLY_ASSIGNED);

/* ?1 app, ?2 conversation, ?3 now: the audit row of that assignment (no actor: the server) */
const struct store_sql SQL_AUDIT_LOG_INSERT_ASSIGN =
    STORE_SQL("INSERT INTO audit_log (operator_id, operator_name, user_id, app_id, action,"
              " target, detail, ip, created_at) SELECT NULL, '', NULL, ?1,"
              " 'conversation.assign', id, '{\"assignee\":\"' || assignee_id || '\"}', '', ?3"
              " FROM conversations WHERE id = ?2 AND" NEWLY_ASSIGNED);

/* ?1 conversation, ?2 now: the assignee becomes a member (seeing the whole history) */
const struct store_sql SQL_SUPPORT_MEMBER_ADD =
    STORE_SQL("INSERT INTO conversation_members (conversation_id, app_id, user_id, role,"
              " joined_at, joined_seq, read_seq) SELECT id, app_id, assignee_id, 'member', ?2, 0,"
              " 0 FROM conversations WHERE id = ?1 AND assignee_id IS NOT NULL ON CONFLICT DO"
              " NOTHING");

/* ?1 app, ?2 user: an agent of the app (kind agent) has its row; nothing for other users */
const struct store_sql SQL_SUPPORT_AGENT_ONLINE =
    STORE_SQL("INSERT INTO support_agents (app_id, user_id, turn) SELECT app_id, id, 0 FROM users"
              " WHERE app_id = ?1 AND id = ?2 AND kind = 'agent' ON CONFLICT (app_id, user_id) DO"
              " NOTHING");

/* ?1 app, ?2 user, ?3 node: after SQL_SUPPORT_AGENT_ONLINE, the agent is connected to node ?3
 * (nothing for a user who is no agent) */
const struct store_sql SQL_SUPPORT_AGENT_NODE_ADD =
    STORE_SQL("INSERT INTO support_agent_nodes (app_id, user_id, node_id) SELECT app_id, user_id,"
              " ?3 FROM support_agents WHERE app_id = ?1 AND user_id = ?2 ON CONFLICT DO NOTHING");

/* ?1 app, ?2 user, ?3 node: the agent is no longer connected to node ?3 */
const struct store_sql SQL_SUPPORT_AGENT_OFFLINE = STORE_SQL(
    "DELETE FROM support_agent_nodes WHERE app_id = ?1 AND user_id = ?2 AND node_id = ?3");

/* at start, ?1 alive since, ?2 1 when this process owns the store (SQLite): the flags of
 * nodes gone (every flag when the store is this process's: presence is in memory) */
const struct store_sql SQL_SUPPORT_AGENTS_RESET = STORE_SQL(
    "DELETE FROM support_agent_nodes WHERE ?2 = 1 OR node_id NOT IN (SELECT id FROM nodes WHERE"
    " stopped_at IS NULL AND heartbeat_at >= ?1)");

/* ?1 app, ?2 limit: the queued support conversations, the oldest first */
const struct store_sql SQL_SUPPORT_QUEUED =
    STORE_SQL("SELECT id FROM conversations WHERE app_id = ?1 AND support = 1 AND assignee_id IS"
              " NULL AND status <> 'resolved' ORDER BY created_at, id LIMIT ?2");

/* ?1 app, ?2 the actor, ?3 another user or NULL: their kind and whether disabled */
const struct store_sql SQL_SERVICE_KINDS =
    STORE_SQL("SELECT id, kind, disabled FROM users WHERE app_id = ?1 AND (id = ?2 OR id = ?3)");

/* ?1 app, ?2 conversation, ?3 status, ?4 now, ?5 the assignee the decision was made on (or
 * NULL): a required row, so a concurrent transfer makes the change a 409 */
const struct store_sql SQL_SERVICE_SET_STATUS =
    STORE_SQL("UPDATE conversations SET status = ?3, updated_at = ?4 WHERE app_id = ?1 AND id ="
              " ?2 AND status IS NOT NULL AND coalesce(assignee_id, '') = coalesce(?5, '')");

/* ?1 app, ?2 conversation, ?3 the new assignee, ?4 now, ?5 the assignee the decision was made on
 * (or NULL): a required row */
const struct store_sql SQL_SERVICE_TRANSFER =
    STORE_SQL("UPDATE conversations SET assignee_id = ?3, updated_at = ?4 WHERE app_id = ?1 AND"
              " id = ?2 AND support = 1 AND coalesce(assignee_id, '') = coalesce(?5, '')");

/* A customer's message reopens their pending or resolved conversation: ?1 app, ?2
 * conversation, ?3 the sender, ?4 now (a resolved support conversation only while the customer
 * has no other unresolved one). The event and the audit row are written first, on the same
 * condition, then the update. */
#define REOPENS                                                                                    \
    " WHERE app_id = ?1 AND id = ?2 AND customer_id = ?3 AND status IN ('pending', 'resolved')"    \
    " AND NOT (support = 1 AND status = 'resolved' AND EXISTS (SELECT 1 FROM conversations o"      \
    " WHERE o.app_id = ?1 AND o.customer_id = ?3 AND o.support = 1 AND o.status <> 'resolved'))"
const struct store_sql SQL_EVENTS_INSERT_REOPEN = STORE_SQL(
    "INSERT INTO events (app_id, conversation_id, kind, user_id, created_at) SELECT"
    " app_id, id, 'conversation.status', ?3, ?4 FROM conversations" REOPENS " RETURNING cursor");
const struct store_sql SQL_AUDIT_LOG_INSERT_REOPEN =
    STORE_SQL("INSERT INTO audit_log (operator_id, operator_name, user_id, app_id, action,"
              " target, detail, ip, created_at) SELECT NULL, '', ?3, ?1, 'conversation.status',"
              " id, '{\"from\":\"' || status || '\",\"to\":\"open\",\"reopened\":true}', '', ?4"
              " FROM conversations" REOPENS);
const struct store_sql SQL_SERVICE_REOPEN =
    STORE_SQL("UPDATE conversations SET status = 'open', updated_at = ?4" REOPENS);

/* ?1 end user or NULL, ?2 app, ?3 action, ?4 target, ?5 detail, ?6 at: an end user's change */
const struct store_sql SQL_AUDIT_LOG_INSERT_BY_USER =
    STORE_SQL("INSERT INTO audit_log (operator_id, operator_name, user_id, app_id, action,"
              " target, detail, ip, created_at) VALUES (NULL, '', ?1, ?2, ?3, ?4, ?5, '', ?6)");

/*
 * The filtered lists (GET /conversations?status=&assignee=): ?1 app, ?2 the user asking, ?3
 * status or NULL, ?4 assignee or NULL, ?5 1: no assignee (queued); ?6 limit, ?7 offset. The
 * user's own conversations, and for an agent of the app every support conversation, that
 * match; only conversations with a status.
 */
#define SVC_FROM                                                                                   \
    " FROM conversations c LEFT JOIN conversation_members me ON me.conversation_id = c.id AND"     \
    " me.user_id = ?2"
#define SVC_WHERE                                                                                  \
    " WHERE c.app_id = ?1 AND c.status IS NOT NULL AND (me.user_id IS NOT NULL OR (c.support = 1"  \
    " AND EXISTS (SELECT 1 FROM users a WHERE a.app_id = ?1 AND a.id = ?2 AND a.kind ="            \
    " 'agent'))) AND (CAST(?3 AS TEXT) IS NULL OR c.status = ?3) AND (CAST(?4 AS TEXT) IS NULL"    \
    " OR c.assignee_id = ?4) AND (?5 = 0 OR c.assignee_id IS NULL)"
#define SVC_PAGE SVC_WHERE " ORDER BY c.last_activity_at DESC, c.id DESC LIMIT ?6 OFFSET ?7"

const struct store_sql SQL_SERVICE_LIST_COUNT =
    STORE_SQL("SELECT count(*), CAST(coalesce(sum(c.last_seq - coalesce(me.read_seq, 0)), 0) AS"
              " BIGINT)" SVC_FROM SVC_WHERE);

/* the read state of SQL_CONVERSATION_STATE_COLS, a non-member agent's as if nothing was read */
const struct store_sql SQL_SERVICE_LIST_PAGE =
    STORE_SQL("SELECT " SQL_CONVERSATIONS_COLS
              ", coalesce(me.read_seq, 0), c.last_seq - coalesce(me.read_seq, 0), lm.id, lm.seq,"
              " lm.sender_id, lm.type, lm.content, lm.created_at, lm.recalled" SVC_FROM
              " LEFT JOIN messages lm ON lm.conversation_id = c.id AND lm.seq = c.last_seq AND"
              " lm.seq > coalesce(me.joined_seq, 0)" SVC_PAGE);

const struct store_sql SQL_SERVICE_LIST_MEMBERS =
    STORE_SQL("SELECT " SQL_CONVERSATION_MEMBERS_COLS
              " FROM conversation_members m LEFT JOIN users u ON u.app_id = m.app_id AND u.id ="
              " m.user_id WHERE m.conversation_id IN (SELECT c.id" SVC_FROM SVC_PAGE
              ") ORDER BY m.conversation_id, m.joined_at, m.user_id");

/* ?1 app, ?2 limit, ?3 offset, ?4 now: the app's agents that have been online, with their loads */
const struct store_sql SQL_SUPPORT_AGENTS_LIST =
    STORE_SQL("SELECT sa.user_id, CASE WHEN" AGENT_LIVE("sa", "?4") " THEN 1 ELSE 0 END, " LOAD_OF(
        "sa.user_id") " FROM support_agents sa"
                      " WHERE sa.app_id = ?1 ORDER BY sa.user_id LIMIT ?2 OFFSET ?3");

/* ?1 app: how many agents it has */
const struct store_sql SQL_SUPPORT_AGENTS_COUNT =
    STORE_SQL("SELECT count(*) FROM support_agents WHERE app_id = ?1");

/* ?1 conversation: an operator's load (any app; the caller checks the operator's apps), as
 * SQL_CONVERSATIONS_LOAD with no role, then the app */
const struct store_sql SQL_SERVICE_LOAD_ANY =
    STORE_SQL("SELECT " SQL_CONVERSATIONS_COLS ", NULL, c.app_id FROM conversations c WHERE c.id ="
              " ?1");
