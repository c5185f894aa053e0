/*
 * The SQL of quick_replies (issue 10, docs/service.md), each statement written once
 * (docs/adr/0007). A reply belongs to an app and either a user (owner_user_id) or the whole
 * app (owner_user_id NULL: shared, written by operators). Every statement names the app
 * (?1 or ?2), so an id of another app is never found. Replies are read with
 * SQL_QUICK_REPLIES_COLS (store/sql.h).
 */
#include "store/sql.h"

/* the owner ?n: a user id, or NULL for the app's shared replies */
#define OWNER_IS(n) " (owner_user_id = ?" #n " OR (?" #n " IS NULL AND owner_user_id IS NULL))"

/* ?1 app, ?2 user (NULL: the shared ones only): the user's own by position, then the app's
 * shared ones by position */
const struct store_sql SQL_QUICK_REPLIES_LIST =
    STORE_SQL("SELECT " SQL_QUICK_REPLIES_COLS " FROM quick_replies WHERE app_id = ?1 AND"
              " (owner_user_id = ?2 OR owner_user_id IS NULL) ORDER BY CASE WHEN owner_user_id"
              " IS NULL THEN 1 ELSE 0 END, position, created_at, id");

/* ?1 app, ?2 id */
const struct store_sql SQL_QUICK_REPLIES_GET =
    STORE_SQL("SELECT " SQL_QUICK_REPLIES_COLS " FROM quick_replies WHERE app_id = ?1 AND id = ?2");

/* ?1 app, ?2 id, ?3 the user asking: 'mine', 'shared' or 'other' (no row: no such reply) */
const struct store_sql SQL_QUICK_REPLIES_WHOSE =
    STORE_SQL("SELECT CASE WHEN owner_user_id = ?3 THEN 'mine' WHEN owner_user_id IS NULL THEN"
              " 'shared' ELSE 'other' END FROM quick_replies WHERE app_id = ?1 AND id = ?2");

/* ?1 id, ?2 app, ?3 owner, ?4 title or NULL, ?5 content, ?6 position (-1: after the last),
 * ?7 now, ?8 the most replies the owner may have: nothing when the owner has that many */
const struct store_sql SQL_QUICK_REPLIES_INSERT = STORE_SQL(
    "INSERT INTO quick_replies (id, app_id, owner_user_id, title, content, position,"
    " created_at, updated_at) SELECT ?1, ?2, ?3, coalesce(?4, ''), ?5, CASE WHEN ?6 >= 0 THEN ?6"
    " ELSE (SELECT coalesce(max(position) + 1, 0) FROM quick_replies WHERE app_id = ?2"
    " AND" OWNER_IS(3) ") END, ?7, ?7 WHERE (SELECT count(*) FROM quick_replies WHERE app_id ="
                       " ?2 AND" OWNER_IS(3) ") < ?8");

/* ?1 app, ?2 id, ?3 owner, ?4 title or NULL, ?5 content or NULL, ?6 position (-1: kept),
 * ?7 now (updated_at, unless nothing was given) */
const struct store_sql SQL_QUICK_REPLIES_UPDATE = STORE_SQL(
    "UPDATE quick_replies SET title = coalesce(?4, title), content = coalesce(?5, content),"
    " position = CASE WHEN ?6 >= 0 THEN ?6 ELSE position END, updated_at = CASE WHEN ?4 IS NULL"
    " AND ?5 IS NULL AND ?6 < 0 THEN updated_at ELSE ?7 END WHERE app_id = ?1 AND id = ?2 "
    "AND" OWNER_IS(3));

/* ?1 app, ?2 id, ?3 owner */
const struct store_sql SQL_QUICK_REPLIES_DELETE =
    STORE_SQL("DELETE FROM quick_replies WHERE app_id = ?1 AND id = ?2 AND" OWNER_IS(3));
