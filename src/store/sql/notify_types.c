/*
 * The SQL of message_types and channel_message_types (issue 11, docs/notifications.md,
 * "Message types"), each statement written once (docs/adr/0007; the console lists with
 * NT_DUAL, notify_scope.h). Every write names the app, so an id of another app is never
 * changed; reads by id return the app for the handler's scope check.
 */
#include "store/sql.h"
#include "store/sql/notify_scope.h"

#define TYPE_COLS                                                                                  \
    "id, app_id, code, name, description, channels, escalation, enabled, created_at, updated_at"

/* ?1 scope (a JSON array of app ids, NULL: all), ?2 app, ?3 code, ?4 enabled (-1: any) */
#define TYPES_WHERE(P, SCOPE)                                                                      \
    " FROM message_types WHERE " SCOPE(1, "app_id") " AND" NT_OPT(P, 2, "app_id") " AND" NT_OPT(   \
        P, 3, "code") " AND (" P(4) " < 0 OR enabled = " P(4) ")"
#define TYPES_COUNT(P, SCOPE) "SELECT count(*)" TYPES_WHERE(P, SCOPE)
#define TYPES_PAGE(P, SCOPE)                                                                       \
    "SELECT " TYPE_COLS TYPES_WHERE(P, SCOPE) " ORDER BY app_id, code LIMIT " P(5) " OFFSET " P(6)
const struct store_sql SQL_MESSAGE_TYPES_COUNT = NT_DUAL(TYPES_COUNT);
const struct store_sql SQL_MESSAGE_TYPES_PAGE = NT_DUAL(TYPES_PAGE);

/* ?1 id */
const struct store_sql SQL_MESSAGE_TYPES_GET =
    STORE_SQL("SELECT " TYPE_COLS " FROM message_types WHERE id = ?1");

/* ?1 app, ?2 code */
const struct store_sql SQL_MESSAGE_TYPES_BY_CODE =
    STORE_SQL("SELECT " TYPE_COLS " FROM message_types WHERE app_id = ?1 AND code = ?2");

/* ?1 app: every type (the end user's subscription list), by code */
const struct store_sql SQL_MESSAGE_TYPES_OF_APP = STORE_SQL(
    "SELECT code, name, channels, enabled FROM message_types WHERE app_id = ?1 ORDER BY code");

/* ?1 id, ?2 app, ?3 code, ?4 name, ?5 description, ?6 channels, ?7 escalation, ?8 enabled,
 * ?9 now, ?10 the most types an app may have: nothing when there is no such app or it has that
 * many */
const struct store_sql SQL_MESSAGE_TYPES_INSERT = STORE_SQL(
    "INSERT INTO message_types (" TYPE_COLS ") SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9"
    " WHERE EXISTS (SELECT 1 FROM apps WHERE id = ?2) AND (SELECT count(*) FROM message_types"
    " WHERE app_id = ?2) < ?10");

/* ?1 app, ?2 id, ?3 name or NULL, ?4 description or NULL, ?5 channels or NULL, ?6 1: set
 * escalation to ?7 (NULL clears it), ?8 enabled (-1: kept), ?9 now. The code never changes:
 * subscriptions and notifications refer to it. */
const struct store_sql SQL_MESSAGE_TYPES_UPDATE = STORE_SQL(
    "UPDATE message_types SET name = coalesce(?3, name), description = coalesce(?4,"
    " description), channels = coalesce(?5, channels), escalation = CASE WHEN ?6 = 1 THEN ?7"
    " ELSE escalation END, enabled = CASE WHEN ?8 >= 0 THEN ?8 ELSE enabled END, updated_at ="
    " ?9 WHERE app_id = ?1 AND id = ?2");

/* ?1 app, ?2 id */
const struct store_sql SQL_MESSAGE_TYPES_DELETE =
    STORE_SQL("DELETE FROM message_types WHERE app_id = ?1 AND id = ?2");

#define CMT_COLS                                                                                   \
    "x.id, x.app_id, x.type_id, t.code AS type_code, x.channel, x.template_code, x.enabled,"       \
    " x.created_at, x.updated_at"
#define CMT_FROM " FROM channel_message_types x JOIN message_types t ON t.id = x.type_id"

/* ?1 scope, ?2 app, ?3 type id, ?4 channel, ?5 type code */
#define CMT_WHERE(P, SCOPE)                                                                        \
    CMT_FROM " WHERE " SCOPE(1, "x.app_id") " AND" NT_OPT(P, 2, "x.app_id") " AND" NT_OPT(         \
        P, 3, "x.type_id") " AND" NT_OPT(P, 4, "x.channel") " AND" NT_OPT(P, 5, "t.code")
#define CMT_COUNT(P, SCOPE) "SELECT count(*)" CMT_WHERE(P, SCOPE)
#define CMT_PAGE(P, SCOPE)                                                                         \
    "SELECT " CMT_COLS CMT_WHERE(P, SCOPE) " ORDER BY x.app_id, t.code, x.channel LIMIT " P(       \
        6) " OFFSET " P(7)
const struct store_sql SQL_CHANNEL_MESSAGE_TYPES_COUNT = NT_DUAL(CMT_COUNT);
const struct store_sql SQL_CHANNEL_MESSAGE_TYPES_PAGE = NT_DUAL(CMT_PAGE);

/* ?1 id */
const struct store_sql SQL_CHANNEL_MESSAGE_TYPES_GET =
    STORE_SQL("SELECT " CMT_COLS CMT_FROM " WHERE x.id = ?1");

/* ?1 id, ?2 app, ?3 type id, ?4 channel, ?5 template code, ?6 enabled, ?7 now, ?8 the most
 * pairs a type may have: nothing when the type is not one of the app's or has that many */
const struct store_sql SQL_CHANNEL_MESSAGE_TYPES_INSERT = STORE_SQL(
    "INSERT INTO channel_message_types (id, app_id, type_id, channel, template_code, enabled,"
    " created_at, updated_at) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7 WHERE EXISTS (SELECT 1 FROM"
    " message_types WHERE id = ?3 AND app_id = ?2) AND (SELECT count(*) FROM"
    " channel_message_types WHERE type_id = ?3) < ?8");

/* ?1 app, ?2 id, ?3 1: set template_code to ?4, ?5 enabled (-1: kept), ?6 now */
const struct store_sql SQL_CHANNEL_MESSAGE_TYPES_UPDATE = STORE_SQL(
    "UPDATE channel_message_types SET template_code = CASE WHEN ?3 = 1 THEN ?4 ELSE"
    " template_code END, enabled = CASE WHEN ?5 >= 0 THEN ?5 ELSE enabled END, updated_at = ?6"
    " WHERE app_id = ?1 AND id = ?2");

/* ?1 app, ?2 id */
const struct store_sql SQL_CHANNEL_MESSAGE_TYPES_DELETE =
    STORE_SQL("DELETE FROM channel_message_types WHERE app_id = ?1 AND id = ?2");

/* ?1 app, ?2 type code: the type's enabled pairs, for the sender: channel ('inapp' or a
 * channels.id) and template code (NULL: the type's code), by channel */
const struct store_sql SQL_CHANNEL_MESSAGE_TYPES_OF_TYPE = STORE_SQL(
    "SELECT x.channel, x.template_code FROM channel_message_types x JOIN message_types t ON"
    " t.id = x.type_id WHERE t.app_id = ?1 AND t.code = ?2 AND x.enabled = 1 ORDER BY"
    " x.channel");
