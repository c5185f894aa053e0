/*
 * Presence and typing statements (chat/presence.c, chat/typing.c): last_seen of users and
 * the audiences of presence and typing events.
 */
#include "store/sql.h"

/* ?1 app, ?2 user, ?3 ms: when the user's last device went away */
const struct store_sql SQL_USERS_LAST_SEEN_SET =
    STORE_SQL("UPDATE users SET last_seen = ?3 WHERE app_id = ?1 AND id = ?2");

/* ?1 app, ?2 a JSON array of user ids: id, last_seen of those that exist in the app */
const struct store_sql SQL_USERS_LAST_SEEN = {
    .sqlite = "SELECT id, last_seen FROM users WHERE app_id = ?1 AND id IN (SELECT value FROM"
              " json_each(?2))",
    .pg = "SELECT id, last_seen FROM users WHERE app_id = $1 AND id IN (SELECT"
          " json_array_elements_text($2::text::json))",
};

/* ?1 app, ?2 user, ?3 limit: the users who share a direct or group conversation with the user
 * (rooms are public: sharing one is no relationship) */
const struct store_sql SQL_CONVERSATION_MEMBERS_CO =
    STORE_SQL("SELECT DISTINCT m.user_id FROM conversation_members me JOIN conversation_members m"
              " ON m.conversation_id = me.conversation_id JOIN conversations c ON c.id ="
              " me.conversation_id WHERE me.app_id = ?1 AND me.user_id = ?2 AND m.user_id <> ?2"
              " AND c.type <> 'room' ORDER BY m.user_id LIMIT ?3");

/* ?1 app, ?2 conversation, ?3 user: a row when the user is a member */
const struct store_sql SQL_CONVERSATION_MEMBERS_IS =
    STORE_SQL("SELECT 1 FROM conversation_members WHERE app_id = ?1 AND conversation_id = ?2 AND"
              " user_id = ?3");

/* ?1 conversation, ?2 the typist, ?3 limit: whom a typing event goes to (a room's: nobody) */
const struct store_sql SQL_CONVERSATION_MEMBERS_TYPING =
    STORE_SQL("SELECT user_id FROM conversation_members WHERE conversation_id = ?1 AND user_id <>"
              " ?2 AND EXISTS (SELECT 1 FROM conversations WHERE id = ?1 AND type <> 'room')"
              " LIMIT ?3");
