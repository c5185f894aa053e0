/*
 * The SQL of users (an app's end users), each statement written once
 * (docs/adr/0007). STORE_SQL() texts are SQLite with ?N parameters, the
 * PostgreSQL text derived from them; the others give both texts because the
 * dialects differ.
 */
#include "store/sql.h"

/* console search: ?1 a JSON array of app ids or NULL (every app), ?2 a LIKE pattern or NULL */
#define SEARCH_WHERE                                                                               \
    " FROM users WHERE (?1 IS NULL OR app_id IN (SELECT value FROM json_each(?1)))"                \
    " AND (?2 IS NULL OR id LIKE ?2 ESCAPE '\\' OR name LIKE ?2 ESCAPE '\\')"
#define SEARCH_WHERE_PG                                                                            \
    " FROM users WHERE ($1::text IS NULL OR app_id IN (SELECT"                                     \
    " json_array_elements_text($1::text::json))) AND ($2::text IS NULL OR id ILIKE"                \
    " $2 ESCAPE '\\' OR name ILIKE $2 ESCAPE '\\')"
#define SEARCH_COLS                                                                                \
    "app_id, id, name, avatar, kind, contacts, metadata, password_hash IS NOT NULL"                \
    " AS has_password, disabled, created_at, updated_at"

const struct store_sql SQL_USERS_SEARCH_COUNT = {
    .sqlite = "SELECT count(*)" SEARCH_WHERE,
    .pg = "SELECT count(*)" SEARCH_WHERE_PG,
};

const struct store_sql SQL_USERS_SEARCH_PAGE = {
    .sqlite = "SELECT " SEARCH_COLS SEARCH_WHERE
              " ORDER BY created_at DESC, app_id, id LIMIT ?3 OFFSET ?4",
    .pg = "SELECT " SEARCH_COLS SEARCH_WHERE_PG
          " ORDER BY created_at DESC, app_id, id LIMIT $3 OFFSET $4",
};

const struct store_sql SQL_USERS_LOGIN_LOOKUP =
    STORE_SQL("SELECT a.id, a.status, u.password_hash, u.disabled FROM apps a LEFT JOIN users"
              " u ON u.app_id = a.id AND u.id = ?2 WHERE a.key = ?1");

const struct store_sql SQL_USERS_HASH =
    STORE_SQL("SELECT password_hash FROM users WHERE app_id = ?1 AND id = ?2");

const struct store_sql SQL_USERS_REGISTER =
    STORE_SQL("INSERT INTO users (app_id, id, name, avatar, contacts, password_hash,"
              " created_at, updated_at) VALUES (?1, ?2, coalesce(?3, ''), coalesce(?4, ''),"
              " coalesce(?5, '{}'), ?6, ?7, ?7)");

const struct store_sql SQL_USERS_GET =
    STORE_SQL("SELECT " SQL_USERS_COLS " FROM users WHERE app_id = ?1 AND id = ?2");

/* the hash is replaced only if it is still the one that was checked */
const struct store_sql SQL_USERS_REHASH =
    STORE_SQL("UPDATE users SET password_hash = ?4 WHERE app_id = ?1 AND id = ?2 AND"
              " password_hash = ?3");

const struct store_sql SQL_USERS_ME_UPDATE =
    STORE_SQL("UPDATE users SET name = coalesce(?3, name), avatar = coalesce(?4, avatar),"
              " contacts = coalesce(?5, contacts), metadata = coalesce(?6, metadata),"
              " password_hash = coalesce(?7, password_hash), updated_at = CASE WHEN ?3 IS NULL"
              " AND ?4 IS NULL AND ?5 IS NULL AND ?6 IS NULL AND ?7 IS NULL THEN updated_at"
              " ELSE ?8 END WHERE app_id = ?1 AND id = ?2");

/* the highest bcrypt cost of the stored user hashes ("$2b$12$..."): bcrypt users come from imports
 */
const struct store_sql SQL_USERS_BCRYPT_COST =
    STORE_SQL("SELECT max(substr(password_hash, 5, 2)) FROM users WHERE substr(password_hash,"
              " 1, 2) = '$2'");

/* Demo mode: create the user in the default app when missing, then read it back. */
const struct store_sql SQL_USERS_DEMO_ENSURE =
    STORE_SQL("INSERT INTO users (app_id, id, kind, created_at, updated_at) SELECT id, ?1,"
              " ?2, ?3, ?3 FROM apps WHERE key = 'default' ON CONFLICT (app_id, id) DO"
              " NOTHING");

const struct store_sql SQL_USERS_DEMO_GET =
    STORE_SQL("SELECT a.id, u.disabled FROM apps a JOIN users u ON u.app_id = a.id WHERE"
              " a.key = 'default' AND u.id = ?1");

const struct store_sql SQL_USERS_SET_HASH =
    STORE_SQL("UPDATE users SET password_hash = ?3 WHERE app_id = ?1 AND id = ?2");

const struct store_sql SQL_USERS_EXISTING = {
    .sqlite = "SELECT id FROM users WHERE app_id = ?1 AND id IN (SELECT value FROM"
              " json_each(?2))",
    .pg = "SELECT id FROM users WHERE app_id = $1 AND id IN (SELECT"
          " json_array_elements_text($2::text::json))",
};

const struct store_sql SQL_USERS_INSERT =
    STORE_SQL("INSERT INTO users (app_id, id, name, avatar, kind, contacts, metadata,"
              " disabled, created_at, updated_at) VALUES (?1, ?2, coalesce(?3, ''),"
              " coalesce(?4, ''), coalesce(?5, ''), coalesce(?6, '{}'), coalesce(?7, '{}'),"
              " coalesce(?8, 0), ?9, ?9)");

/* the kept values are qualified (users.name): unqualified, PostgreSQL finds them ambiguous */
const struct store_sql SQL_USERS_UPSERT =
    STORE_SQL("INSERT INTO users (app_id, id, name, avatar, kind, contacts, metadata,"
              " disabled, created_at, updated_at) VALUES (?1, ?2, coalesce(?3, ''),"
              " coalesce(?4, ''), coalesce(?5, ''), coalesce(?6, '{}'), coalesce(?7, '{}'),"
              " coalesce(?8, 0), ?9, ?9) ON CONFLICT (app_id, id) DO UPDATE SET name ="
              " coalesce(?3, users.name), avatar = coalesce(?4, users.avatar), kind ="
              " coalesce(?5, users.kind), contacts = coalesce(?6, users.contacts), metadata ="
              " coalesce(?7, users.metadata), disabled = coalesce(?8, users.disabled),"
              " updated_at = ?9");

const struct store_sql SQL_USERS_UPDATE =
    STORE_SQL("UPDATE users SET name = coalesce(?3, name), avatar = coalesce(?4, avatar),"
              " kind = coalesce(?5, kind), contacts = coalesce(?6, contacts), metadata ="
              " coalesce(?7, metadata), disabled = coalesce(?8, disabled), updated_at = CASE"
              " WHEN ?3 IS NULL AND ?4 IS NULL AND ?5 IS NULL AND ?6 IS NULL AND ?7 IS NULL AND"
              " ?8 IS NULL THEN updated_at ELSE ?9 END WHERE app_id = ?1 AND id = ?2");

/* ?1 app, ?2 user: a row while the user exists and is not disabled (a send with `to` into a
 * remembered direct conversation checks its peer with it) */
const struct store_sql SQL_USERS_ACTIVE =
    STORE_SQL("SELECT 1 FROM users WHERE app_id = ?1 AND id = ?2 AND disabled = 0");

const struct store_sql SQL_USERS_DELETE =
    STORE_SQL("DELETE FROM users WHERE app_id = ?1 AND id = ?2");

const struct store_sql SQL_USERS_COUNT = STORE_SQL("SELECT count(*) FROM users WHERE app_id = ?1");

const struct store_sql SQL_USERS_PAGE =
    STORE_SQL("SELECT " SQL_USERS_COLS
              " FROM users WHERE app_id = ?1 ORDER BY created_at, id LIMIT ?2 OFFSET ?3");

const struct store_sql SQL_USERS_COUNT_EXISTING = {
    .sqlite = "SELECT count(*) FROM users WHERE app_id = ?1 AND id IN (SELECT value FROM"
              " json_each(?2))",
    .pg = "SELECT count(*) FROM users WHERE app_id = $1 AND id IN (SELECT"
          " json_array_elements_text($2::text::json))",
};

const struct store_sql SQL_USERS_EXISTS =
    STORE_SQL("SELECT disabled FROM users WHERE app_id = ?1 AND id = ?2");
