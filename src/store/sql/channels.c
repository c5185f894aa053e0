/*
 * The SQL of channels (issue 11, docs/notifications.md "Channels"), each statement written
 * once (docs/adr/0007) except where the operator's apps, a JSON array, are expanded. A channel
 * belongs to an app; its config is a JSON object whose secret members are sealed. Rows are
 * read with SQL_CHANNELS_COLS (store/sql.h).
 */
#include "store/sql.h"

/* ?1 id: one channel of any app (the handler checks the app against the caller's) */
const struct store_sql SQL_CHANNELS_GET =
    STORE_SQL("SELECT " SQL_CHANNELS_COLS " FROM channels WHERE id = ?1");

/* ?1 app, ?2 kind: the app's enabled channels of that kind, oldest first (the delivery queue:
 * a message type names channel kinds; the first enabled channel of a kind serves it) */
const struct store_sql SQL_CHANNELS_ENABLED_OF_KIND =
    STORE_SQL("SELECT " SQL_CHANNELS_COLS " FROM channels WHERE app_id = ?1 AND kind = ?2"
              " AND enabled = 1 ORDER BY created_at, id");

/* ?1 the caller's apps as a JSON array (NULL: every app), ?2 app or NULL, ?3 kind or NULL */
#define CH_Q(n) "?" #n
#define CH_D(n) "$" #n
#define CH_APPS_SQLITE "SELECT value FROM json_each(?1)"
#define CH_APPS_PG "SELECT json_array_elements_text($1::text::json)"
#define CH_WHERE(P, APPS)                                                                          \
    " WHERE (CAST(" P(1) " AS TEXT) IS NULL OR app_id IN (" APPS "))"                              \
                         " AND (CAST(" P(2) " AS TEXT) IS NULL OR app_id = " P(                    \
                             2) ")"                                                                \
                                " AND (CAST(" P(3) " AS TEXT) IS NULL OR kind = " P(3) ")"

const struct store_sql SQL_CHANNELS_COUNT = {
    .sqlite = "SELECT count(*) FROM channels" CH_WHERE(CH_Q, CH_APPS_SQLITE),
    .pg = "SELECT count(*) FROM channels" CH_WHERE(CH_D, CH_APPS_PG),
};

/* as SQL_CHANNELS_COUNT, ?4 limit, ?5 offset: by app, then name */
const struct store_sql SQL_CHANNELS_PAGE = {
    .sqlite = "SELECT " SQL_CHANNELS_COLS " FROM channels" CH_WHERE(
        CH_Q, CH_APPS_SQLITE) " ORDER BY app_id, name, id LIMIT ?4 OFFSET ?5",
    .pg = "SELECT " SQL_CHANNELS_COLS " FROM channels" CH_WHERE(
        CH_D, CH_APPS_PG) " ORDER BY app_id, name, id LIMIT $4 OFFSET $5",
};

/* ?1 id, ?2 app, ?3 name, ?4 kind, ?5 config, ?6 enabled, ?7 max_attempts, ?8 rate_per_s,
 * ?9 concurrency, ?10 now, ?11 the most channels an app may have: nothing when it has that many
 * or the app does not exist */
const struct store_sql SQL_CHANNELS_INSERT = STORE_SQL(
    "INSERT INTO channels (id, app_id, name, kind, config, enabled, max_attempts, rate_per_s,"
    " concurrency, created_at, updated_at) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10"
    " WHERE EXISTS (SELECT 1 FROM apps WHERE id = ?2)"
    " AND (SELECT count(*) FROM channels WHERE app_id = ?2) < ?11");

/* ?1 app, ?2 id, ?3 name or NULL, ?4 config or NULL, ?5 enabled (-1: kept), ?6 max_attempts
 * (-1: kept), ?7 rate_per_s (-1: kept), ?8 concurrency (-1: kept), ?9 now, ?10 the updated_at
 * read before (nothing when the row changed since). updated_at always grows, so the registry
 * reopens the channel's driver state. */
const struct store_sql SQL_CHANNELS_UPDATE =
    STORE_SQL("UPDATE channels SET name = coalesce(?3, name), config = coalesce(?4, config),"
              " enabled = CASE WHEN ?5 >= 0 THEN ?5 ELSE enabled END,"
              " max_attempts = CASE WHEN ?6 >= 0 THEN ?6 ELSE max_attempts END,"
              " rate_per_s = CASE WHEN ?7 >= 0 THEN ?7 ELSE rate_per_s END,"
              " concurrency = CASE WHEN ?8 >= 0 THEN ?8 ELSE concurrency END,"
              " updated_at = CASE WHEN ?9 > updated_at THEN ?9 ELSE updated_at + 1 END"
              " WHERE app_id = ?1 AND id = ?2 AND updated_at = ?10");

/* ?1 app, ?2 id */
const struct store_sql SQL_CHANNELS_DELETE =
    STORE_SQL("DELETE FROM channels WHERE app_id = ?1 AND id = ?2");
