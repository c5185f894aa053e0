/*
 * The SQL of apps (the tenants), each statement written once
 * (docs/adr/0007). STORE_SQL() texts are SQLite with ?N parameters, the
 * PostgreSQL text derived from them; the others give both texts because the
 * dialects differ.
 */
#include "store/sql.h"

#define APP_COLS                                                                                   \
    "id, name, key, status, allow_register, rate_limit_rps, rate_limit_burst,"                     \
    " daily_quota, created_at, updated_at"

/* ?1 NULL: every app; else a JSON array of the app ids the caller may see */
/* ?1 the app ids a JSON array (NULL: all), ?2 a LIKE pattern on the name or the key (NULL:
 * every one) */
const struct store_sql SQL_APPS_COUNT_SCOPED = {
    .sqlite = "SELECT count(*) FROM apps WHERE (?1 IS NULL OR id IN (SELECT value FROM"
              " json_each(?1))) AND (?2 IS NULL OR name LIKE ?2 ESCAPE '\\' OR key LIKE ?2"
              " ESCAPE '\\')",
    .pg = "SELECT count(*) FROM apps WHERE ($1::text IS NULL OR id IN (SELECT"
          " json_array_elements_text($1::text::json))) AND ($2::text IS NULL OR name ILIKE $2"
          " ESCAPE '\\' OR key ILIKE $2 ESCAPE '\\')",
};

/* ?1, ?2 as SQL_APPS_COUNT_SCOPED's, ?3 limit, ?4 offset */
const struct store_sql SQL_APPS_PAGE_SCOPED = {
    .sqlite = "SELECT " APP_COLS
              " FROM apps WHERE (?1 IS NULL OR id IN (SELECT value FROM json_each(?1))) AND (?2"
              " IS NULL OR name LIKE ?2 ESCAPE '\\' OR key LIKE ?2 ESCAPE '\\') ORDER BY"
              " created_at, id LIMIT ?3 OFFSET ?4",
    .pg = "SELECT " APP_COLS " FROM apps WHERE ($1::text IS NULL OR id IN (SELECT"
          " json_array_elements_text($1::text::json))) AND ($2::text IS NULL OR name ILIKE $2"
          " ESCAPE '\\' OR key ILIKE $2 ESCAPE '\\') ORDER BY created_at, id LIMIT $3 OFFSET"
          " $4",
};

const struct store_sql SQL_APPS_GET = STORE_SQL("SELECT " APP_COLS " FROM apps WHERE id = ?1");

const struct store_sql SQL_APPS_INSERT =
    STORE_SQL("INSERT INTO apps (id, name, key, allow_register, rate_limit_rps,"
              " rate_limit_burst, daily_quota, created_at, updated_at) VALUES (?1, ?2, ?3,"
              " coalesce(?4, 0), coalesce(?5, 0), coalesce(?6, 0), coalesce(?7, 0), ?8, ?8)");

const struct store_sql SQL_APPS_UPDATE =
    STORE_SQL("UPDATE apps SET name = coalesce(?2, name), status = coalesce(?3, status),"
              " allow_register = coalesce(?4, allow_register), rate_limit_rps = coalesce(?5,"
              " rate_limit_rps), rate_limit_burst = coalesce(?6, rate_limit_burst),"
              " daily_quota = coalesce(?7, daily_quota), updated_at = ?8 WHERE id = ?1");

const struct store_sql SQL_APPS_ID_BY_KEY = STORE_SQL("SELECT id FROM apps WHERE key = ?1");

const struct store_sql SQL_APPS_KNOWN = {
    .sqlite = "SELECT id FROM apps WHERE id IN (SELECT value FROM json_each(?1))",
    .pg = "SELECT id FROM apps WHERE id IN (SELECT"
          " json_array_elements_text($1::text::json))",
};

const struct store_sql SQL_APPS_LIMITS = {
    .sqlite = "SELECT id, rate_limit_rps, rate_limit_burst FROM apps WHERE rate_limit_rps > 0"
              " ORDER BY id",
    .pg = "SELECT id, rate_limit_rps, rate_limit_burst FROM apps WHERE rate_limit_rps > 0"
          " ORDER BY id COLLATE \"C\"",
};

const struct store_sql SQL_APPS_CREATE =
    STORE_SQL("INSERT INTO apps (id, name, key, created_at, updated_at, allow_register)"
              " VALUES (?1, ?2, ?3, ?4, ?4, ?5)");

const struct store_sql SQL_APPS_COUNT = STORE_SQL("SELECT count(*) FROM apps");

const struct store_sql SQL_APPS_LIST =
    STORE_SQL("SELECT id, key, status, name FROM apps ORDER BY created_at, id");

const struct store_sql SQL_APPS_BY_KEY =
    STORE_SQL("SELECT id, status, allow_register FROM apps WHERE key = ?1");
