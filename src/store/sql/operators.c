/*
 * The SQL of operators and operator_roles (console accounts and their roles), each statement
 * written once (docs/adr/0007). STORE_SQL() texts are SQLite with ?N parameters, the PostgreSQL
 * text derived from them; the others give both texts because the dialects differ.
 */
#include "store/sql.h"

#define OP_COLS                                                                                    \
    "o.id, o.name, o.disabled, o.created_at, o.updated_at, o.last_login_at, (SELECT"               \
    " json_group_array(role_id) FROM operator_roles WHERE operator_id = o.id) AS"                  \
    " roles"
#define OP_COLS_PG                                                                                 \
    "o.id, o.name, o.disabled, o.created_at, o.updated_at, o.last_login_at, (SELECT"               \
    " coalesce(json_agg(role_id), '[]'::json)::text FROM operator_roles WHERE"                     \
    " operator_id = o.id) AS roles"

const struct store_sql SQL_OPERATORS_COUNT = STORE_SQL("SELECT count(*) FROM operators");

const struct store_sql SQL_OPERATORS_BY_NAME = {
    .sqlite = "SELECT id, name, password_hash, disabled FROM operators WHERE name = ?1",
    .pg = "SELECT id, name, password_hash, disabled FROM operators WHERE lower(name) ="
          " lower($1)",
};

const struct store_sql SQL_OPERATORS_INSERT_ADMIN =
    STORE_SQL("INSERT INTO operators (id, name, password_hash, created_at, updated_at) VALUES"
              " (?1, ?2, ?3, ?4, ?4)");

const struct store_sql SQL_OPERATOR_ROLES_INSERT =
    STORE_SQL("INSERT INTO operator_roles (operator_id, role_id) VALUES (?1, ?2)");

const struct store_sql SQL_OPERATORS_PASSWD = {
    .sqlite = "UPDATE operators SET password_hash = ?2, updated_at = ?3 WHERE name = ?1"
              " RETURNING id",
    .pg = "UPDATE operators SET password_hash = $2, updated_at = $3 WHERE lower(name) ="
          " lower($1) RETURNING id",
};

const struct store_sql SQL_OPERATORS_LOGGED_IN =
    STORE_SQL("UPDATE operators SET last_login_at = ?2, password_hash = coalesce(?3,"
              " password_hash) WHERE id = ?1");

const struct store_sql SQL_OPERATORS_ME = {
    .sqlite = "SELECT id, name, disabled, created_at, updated_at, last_login_at, (SELECT"
              " json_group_array(role_id) FROM operator_roles WHERE operator_id = ?1) AS"
              " roles FROM operators WHERE id = ?1",
    .pg = "SELECT id, name, disabled, created_at, updated_at, last_login_at, (SELECT"
          " coalesce(json_agg(role_id), '[]'::json)::text FROM operator_roles WHERE"
          " operator_id = $1) AS roles FROM operators WHERE id = $1",
};

const struct store_sql SQL_OPERATORS_PRINCIPAL =
    STORE_SQL("SELECT o.id, o.name, o.disabled, r.id, r.permissions, r.all_apps FROM"
              " operators o LEFT JOIN operator_roles x ON x.operator_id = o.id LEFT JOIN"
              " roles r ON r.id = x.role_id WHERE o.id = ?1");

/* ?1 a LIKE pattern on the name (NULL: every one) */
const struct store_sql SQL_OPERATORS_SEARCH_COUNT = {
    .sqlite = "SELECT count(*) FROM operators WHERE ?1 IS NULL OR name LIKE ?1 ESCAPE '\\'",
    .pg = "SELECT count(*) FROM operators WHERE $1::text IS NULL OR name ILIKE $1 ESCAPE '\\'",
};

/* ?1 a LIKE pattern on the name (NULL: every one), ?2 limit, ?3 offset */
const struct store_sql SQL_OPERATORS_PAGE = {
    .sqlite = "SELECT " OP_COLS " FROM operators o WHERE ?1 IS NULL OR o.name LIKE ?1 ESCAPE '\\'"
              " ORDER BY o.created_at, o.id LIMIT ?2 OFFSET ?3",
    .pg = "SELECT " OP_COLS_PG " FROM operators o WHERE $1::text IS NULL OR o.name ILIKE $1 ESCAPE"
          " '\\' ORDER BY o.created_at, o.id LIMIT $2 OFFSET $3",
};

const struct store_sql SQL_OPERATORS_GET = {
    .sqlite = "SELECT " OP_COLS " FROM operators o WHERE o.id = ?1",
    .pg = "SELECT " OP_COLS_PG " FROM operators o WHERE o.id = $1",
};

const struct store_sql SQL_OPERATORS_INSERT =
    STORE_SQL("INSERT INTO operators (id, name, password_hash, disabled, created_at,"
              " updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)");

const struct store_sql SQL_OPERATORS_UPDATE =
    STORE_SQL("UPDATE operators SET disabled = coalesce(?2, disabled), password_hash ="
              " coalesce(?3, password_hash), updated_at = ?4 WHERE id = ?1");

const struct store_sql SQL_OPERATOR_ROLES_CLEAR =
    STORE_SQL("DELETE FROM operator_roles WHERE operator_id = ?1");

const struct store_sql SQL_OPERATOR_ROLES_ADD =
    STORE_SQL("INSERT INTO operator_roles (operator_id, role_id) VALUES (?1, ?2) ON CONFLICT"
              " DO NOTHING");

const struct store_sql SQL_OPERATORS_DELETE = STORE_SQL("DELETE FROM operators WHERE id = ?1");

const struct store_sql SQL_OPERATORS_EXISTS = STORE_SQL("SELECT id FROM operators WHERE id = ?1");
