/*
 * The SQL of subscriptions and user_prefs (issue 11, docs/notifications.md, "Subscriptions
 * and quiet hours"), each statement written once (docs/adr/0007; the console list with
 * NT_DUAL, notify_scope.h). subscriptions holds a user's explicit choice per message type and
 * channel kind; no row means subscribed. user_prefs holds the user's quiet hours.
 */
#include "store/sql.h"
#include "store/sql/notify_scope.h"

#define SUB_COLS "app_id, user_id, type_code, channel, enabled, updated_at"

/* ?1 scope, ?2 app, ?3 user, ?4 type code, ?5 channel kind, ?6 enabled (-1: any) */
#define SUB_WHERE(P, SCOPE)                                                                        \
    " FROM subscriptions WHERE " SCOPE(1, "app_id") " AND" NT_OPT(P, 2, "app_id") " AND" NT_OPT(   \
        P, 3,                                                                                      \
        "user_id") " AND" NT_OPT(P, 4,                                                             \
                                 "type_code") " AND" NT_OPT(P, 5,                                  \
                                                            "channel") " AND (" P(6) " < 0 OR "    \
                                                                                     "enabled "    \
                                                                                     "= " P(6) ")"
#define SUB_COUNT(P, SCOPE) "SELECT count(*)" SUB_WHERE(P, SCOPE)
#define SUB_PAGE(P, SCOPE)                                                                         \
    "SELECT " SUB_COLS SUB_WHERE(                                                                  \
        P, SCOPE) " ORDER BY app_id, user_id, type_code, channel LIMIT " P(7) " OFFSET " P(8)
const struct store_sql SQL_SUBSCRIPTIONS_COUNT = NT_DUAL(SUB_COUNT);
const struct store_sql SQL_SUBSCRIPTIONS_PAGE = NT_DUAL(SUB_PAGE);

/* ?1 app, ?2 user: the user's explicit choices */
const struct store_sql SQL_SUBSCRIPTIONS_OF_USER =
    STORE_SQL("SELECT type_code, channel, enabled, updated_at FROM subscriptions WHERE"
              " app_id = ?1 AND user_id = ?2 ORDER BY type_code, channel");

/* ?1 app, ?2 user, ?3 type code, ?4 channel kind, ?5 enabled, ?6 now, ?7 the most choices a
 * user may have: nothing when the user has that many and this one is new */
const struct store_sql SQL_SUBSCRIPTIONS_SET = STORE_SQL(
    "INSERT INTO subscriptions (" SUB_COLS ") SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE (SELECT"
    " count(*) FROM subscriptions WHERE app_id = ?1 AND user_id = ?2) < ?7 OR EXISTS (SELECT 1"
    " FROM subscriptions WHERE app_id = ?1 AND user_id = ?2 AND type_code = ?3 AND channel = ?4)"
    " ON CONFLICT (app_id, user_id, type_code, channel) DO UPDATE SET enabled ="
    " excluded.enabled, updated_at = excluded.updated_at");

/* ?1 app, ?2 user, ?3 type code, ?4 channel kind */
const struct store_sql SQL_SUBSCRIPTIONS_DELETE =
    STORE_SQL("DELETE FROM subscriptions WHERE app_id = ?1 AND user_id = ?2 AND type_code = ?3"
              " AND channel = ?4");

/* ?1 app, ?2 user */
const struct store_sql SQL_USER_PREFS_GET =
    STORE_SQL("SELECT quiet_start, quiet_end, time_zone, updated_at FROM user_prefs WHERE"
              " app_id = ?1 AND user_id = ?2");

/* ?1 app, ?2 user, ?3 quiet start 'HH:MM' or NULL, ?4 quiet end or NULL, ?5 time zone or NULL,
 * ?6 now */
const struct store_sql SQL_USER_PREFS_SET = STORE_SQL(
    "INSERT INTO user_prefs (app_id, user_id, quiet_start, quiet_end, time_zone, updated_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (app_id, user_id) DO UPDATE SET quiet_start ="
    " excluded.quiet_start, quiet_end = excluded.quiet_end, time_zone = excluded.time_zone,"
    " updated_at = excluded.updated_at");
