/*
 * The SQL of revocations (revoked subjects and sessions, polled by every node), each statement
 * written once (docs/adr/0007). STORE_SQL() texts are SQLite with ?N parameters, the PostgreSQL
 * text derived from them; the others give both texts because the dialects differ.
 */
#include "store/sql.h"

const struct store_sql SQL_REVOCATIONS_UPSERT = {
    .sqlite = "INSERT INTO revocations (subject_kind, app_id, subject_id, session_id,"
              " revoked_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (subject_kind, app_id,"
              " subject_id, session_id) DO UPDATE SET revoked_at = max(revoked_at,"
              " excluded.revoked_at)",
    .pg = "INSERT INTO revocations (subject_kind, app_id, subject_id, session_id,"
          " revoked_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (subject_kind, app_id,"
          " subject_id, session_id) DO UPDATE SET revoked_at ="
          " GREATEST(revocations.revoked_at, excluded.revoked_at)",
};

const struct store_sql SQL_REVOCATIONS_SINCE =
    STORE_SQL("SELECT subject_kind, app_id, subject_id, revoked_at, session_id FROM"
              " revocations WHERE revoked_at > ?1 ORDER BY revoked_at");

const struct store_sql SQL_REVOCATIONS_PRUNE =
    STORE_SQL("DELETE FROM revocations WHERE revoked_at < ?1");
