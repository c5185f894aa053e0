/*
 * The SQL of audit_log (what operators did), each statement written once
 * (docs/adr/0007). STORE_SQL() texts are SQLite with ?N parameters, the
 * PostgreSQL text derived from them; the others give both texts because the
 * dialects differ.
 */
#include "store/sql.h"

/*
 * ?1 an action or NULL, ?2 an operator id or NULL. CAST, not a bare ?1, so that PostgreSQL
 * knows the parameter's type when it is NULL.
 */
#define AUDIT_WHERE                                                                                \
    " FROM audit_log WHERE (CAST(?1 AS TEXT) IS NULL OR action = ?1)"                              \
    " AND (CAST(?2 AS TEXT) IS NULL OR operator_id = ?2)"

const struct store_sql SQL_AUDIT_LOG_COUNT = STORE_SQL("SELECT count(*)" AUDIT_WHERE);

/* the id is answered as text (SPEC: ids are strings) and ordered as the number it is */
const struct store_sql SQL_AUDIT_LOG_PAGE =
    STORE_SQL("SELECT CAST(id AS TEXT) AS id, operator_id, operator_name, app_id, action,"
              " target, detail, ip, created_at, user_id" AUDIT_WHERE
              " ORDER BY audit_log.id DESC LIMIT ?3 OFFSET ?4");

/* ?1 operator id (its name as it is now), ?2 app, ?3 action, ?4 target, ?5 detail, ?6 ip, ?7
 * at: a row for an operator's action taken outside the console module (a chat recall) */
const struct store_sql SQL_AUDIT_LOG_INSERT_BY_OPERATOR = STORE_SQL(
    "INSERT INTO audit_log (operator_id, operator_name, app_id, action, target, detail, ip,"
    " created_at) VALUES (?1, coalesce((SELECT name FROM operators WHERE id = ?1), ''), ?2, ?3,"
    " ?4, ?5, ?6, ?7)");

const struct store_sql SQL_AUDIT_LOG_INSERT =
    STORE_SQL("INSERT INTO audit_log (operator_id, operator_name, app_id, action, target,"
              " detail, ip, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
