/*
 * The SQL of roles and role_apps (console roles and the apps they are limited to), each statement
 * written once (docs/adr/0007). STORE_SQL() texts are SQLite with ?N parameters, the PostgreSQL
 * text derived from them; the others give both texts because the dialects differ.
 */
#include "store/sql.h"

#define ROLE_COLS                                                                                  \
    "r.id, r.name, r.description, r.permissions, r.all_apps, r.builtin, (SELECT"                   \
    " json_group_array(app_id) FROM role_apps WHERE role_id = r.id) AS app_ids,"                   \
    " r.created_at, r.updated_at"
#define ROLE_COLS_PG                                                                               \
    "r.id, r.name, r.description, r.permissions, r.all_apps, r.builtin, (SELECT"                   \
    " coalesce(json_agg(app_id), '[]'::json)::text FROM role_apps WHERE role_id ="                 \
    " r.id) AS app_ids, r.created_at, r.updated_at"

const struct store_sql SQL_ROLES_ENSURE_SUPERADMIN =
    STORE_SQL("INSERT INTO roles (id, name, description, permissions, all_apps, builtin,"
              " created_at, updated_at) VALUES ('superadmin', 'superadmin', 'every permission"
              " on every app', '[\"*\"]', 1, 1, ?1, ?1) ON CONFLICT DO NOTHING");

const struct store_sql SQL_ROLE_APPS_OF_OPERATOR =
    STORE_SQL("SELECT ra.role_id, ra.app_id FROM role_apps ra JOIN operator_roles x ON"
              " x.role_id = ra.role_id WHERE x.operator_id = ?1");

/* the escalation check: the requested roles (a JSON array of ids) and the target's roles */
const struct store_sql SQL_ROLES_BY_IDS = {
    .sqlite = "SELECT id, permissions, all_apps FROM roles WHERE id IN (SELECT value FROM"
              " json_each(?1))",
    .pg = "SELECT id, permissions, all_apps FROM roles WHERE id IN (SELECT"
          " json_array_elements_text($1::text::json))",
};

const struct store_sql SQL_ROLE_APPS_BY_ROLE_IDS = {
    .sqlite = "SELECT role_id, app_id FROM role_apps WHERE role_id IN (SELECT value FROM"
              " json_each(?1))",
    .pg = "SELECT role_id, app_id FROM role_apps WHERE role_id IN (SELECT"
          " json_array_elements_text($1::text::json))",
};

const struct store_sql SQL_ROLES_OF_OPERATOR =
    STORE_SQL("SELECT r.id, r.permissions, r.all_apps FROM operator_roles x JOIN roles r ON"
              " r.id = x.role_id WHERE x.operator_id = ?1");

/* ?1 a LIKE pattern on the name or the description (NULL: every one) */
const struct store_sql SQL_ROLES_COUNT = {
    .sqlite = "SELECT count(*) FROM roles WHERE ?1 IS NULL OR name LIKE ?1 ESCAPE '\\' OR"
              " description LIKE ?1 ESCAPE '\\'",
    .pg = "SELECT count(*) FROM roles WHERE $1::text IS NULL OR name ILIKE $1 ESCAPE '\\' OR"
          " description ILIKE $1 ESCAPE '\\'",
};

/* ?1 the pattern as SQL_ROLES_COUNT's, ?2 limit, ?3 offset */
const struct store_sql SQL_ROLES_PAGE = {
    .sqlite = "SELECT " ROLE_COLS " FROM roles r WHERE ?1 IS NULL OR r.name LIKE ?1 ESCAPE '\\'"
              " OR r.description LIKE ?1 ESCAPE '\\' ORDER BY r.created_at, r.id LIMIT ?2 OFFSET"
              " ?3",
    .pg = "SELECT " ROLE_COLS_PG " FROM roles r WHERE $1::text IS NULL OR r.name ILIKE $1 ESCAPE"
          " '\\' OR r.description ILIKE $1 ESCAPE '\\' ORDER BY r.created_at, r.id LIMIT $2"
          " OFFSET $3",
};

const struct store_sql SQL_ROLES_GET = {
    .sqlite = "SELECT " ROLE_COLS " FROM roles r WHERE r.id = ?1",
    .pg = "SELECT " ROLE_COLS_PG " FROM roles r WHERE r.id = $1",
};

const struct store_sql SQL_ROLES_INSERT =
    STORE_SQL("INSERT INTO roles (id, name, description, permissions, all_apps, created_at,"
              " updated_at) VALUES (?1, ?2, coalesce(?3, ''), ?4, ?5, ?6, ?6)");

const struct store_sql SQL_ROLES_UPDATE =
    STORE_SQL("UPDATE roles SET name = coalesce(?2, name), description = coalesce(?3,"
              " description), permissions = coalesce(?4, permissions), all_apps ="
              " coalesce(?5, all_apps), updated_at = ?6 WHERE id = ?1 AND builtin = 0");

const struct store_sql SQL_ROLE_APPS_CLEAR = STORE_SQL("DELETE FROM role_apps WHERE role_id = ?1");

const struct store_sql SQL_ROLE_APPS_ADD =
    STORE_SQL("INSERT INTO role_apps (role_id, app_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING");

const struct store_sql SQL_ROLES_DELETE =
    STORE_SQL("DELETE FROM roles WHERE id = ?1 AND builtin = 0");

/* the check before a write: the role as it is, its apps, and which app_ids exist */
const struct store_sql SQL_ROLES_CURRENT =
    STORE_SQL("SELECT id, permissions, all_apps, builtin FROM roles WHERE id = ?1");

const struct store_sql SQL_ROLE_APPS_OF_ROLE =
    STORE_SQL("SELECT role_id, app_id FROM role_apps WHERE role_id = ?1");
