/*
 * The SQL of refresh_tokens (end-user sessions: refresh-token families), each statement written
 * once (docs/adr/0007). STORE_SQL() texts are SQLite with ?N parameters, the PostgreSQL text
 * derived from them; the others give both texts because the dialects differ.
 */
#include "store/sql.h"

const struct store_sql SQL_REFRESH_TOKENS_INSERT =
    STORE_SQL("INSERT INTO refresh_tokens (id, family_id, subject_kind, subject_id, app_id,"
              " token_hash, created_at, expires_at) VALUES (?1, ?2, 'user', ?3, ?4, ?5, ?6,"
              " ?7)");

/* rotation, step 1: the presented token is live; mark it used */
const struct store_sql SQL_REFRESH_TOKENS_ROTATE =
    STORE_SQL("UPDATE refresh_tokens SET rotated_at = ?2 WHERE token_hash = ?1 AND"
              " subject_kind = 'user' AND rotated_at IS NULL AND revoked_at IS NULL AND"
              " expires_at > ?2 RETURNING app_id, subject_id, family_id");

/* rotation, step 2: its successor in the same family, if the user and app are still active */
const struct store_sql SQL_REFRESH_TOKENS_SUCCESSOR =
    STORE_SQL("INSERT INTO refresh_tokens (id, family_id, subject_kind, subject_id, app_id,"
              " token_hash, created_at, expires_at) SELECT ?3, t.family_id, 'user',"
              " t.subject_id, t.app_id, ?4, ?2, ?5 FROM refresh_tokens t JOIN users u ON"
              " u.app_id = t.app_id AND u.id = t.subject_id JOIN apps a ON a.id = t.app_id"
              " WHERE t.token_hash = ?1 AND u.disabled = 0 AND a.status = 'active'");

/* reuse of a rotated token: the whole family goes */
const struct store_sql SQL_REFRESH_TOKENS_REUSE =
    STORE_SQL("UPDATE refresh_tokens SET revoked_at = ?2 WHERE revoked_at IS NULL AND"
              " (app_id, subject_id, subject_kind) = (SELECT app_id, subject_id, subject_kind"
              " FROM refresh_tokens WHERE token_hash = ?1 AND rotated_at IS NOT NULL)"
              " RETURNING app_id, subject_id");

/* an app disabled: its users' sessions end (re-enabling it brings none back) */
const struct store_sql SQL_REFRESH_TOKENS_REVOKE_APP =
    STORE_SQL("UPDATE refresh_tokens SET revoked_at = ?2 WHERE revoked_at IS NULL AND"
              " app_id = ?1");

/* logout: the family (session) of a refresh token the user names */
const struct store_sql SQL_REFRESH_TOKENS_FAMILY_OF =
    STORE_SQL("SELECT family_id FROM refresh_tokens WHERE token_hash = ?3 AND app_id = ?1 AND"
              " subject_id = ?2 AND subject_kind = 'user'");

/* logout: the family of a refresh token the user names */
const struct store_sql SQL_REFRESH_TOKENS_REVOKE_FAMILY_BY_TOKEN =
    STORE_SQL("UPDATE refresh_tokens SET revoked_at = ?4 WHERE revoked_at IS NULL AND"
              " family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = ?3 AND"
              " app_id = ?1 AND subject_id = ?2 AND subject_kind = 'user')");

/* logout: one session's refresh tokens */
const struct store_sql SQL_REFRESH_TOKENS_REVOKE_FAMILY =
    STORE_SQL("UPDATE refresh_tokens SET revoked_at = ?4 WHERE revoked_at IS NULL AND"
              " family_id = ?3 AND app_id = ?1 AND subject_id = ?2 AND subject_kind = 'user'");

const struct store_sql SQL_REFRESH_TOKENS_REVOKE_USER =
    STORE_SQL("UPDATE refresh_tokens SET revoked_at = ?3 WHERE revoked_at IS NULL AND"
              " subject_kind = 'user' AND app_id = ?1 AND subject_id = ?2");

const struct store_sql SQL_REFRESH_TOKENS_REVOKE_USERS = {
    .sqlite = "UPDATE refresh_tokens SET revoked_at = ?3 WHERE revoked_at IS NULL AND"
              " subject_kind = 'user' AND app_id = ?1 AND subject_id IN (SELECT value FROM"
              " json_each(?2))",
    .pg = "UPDATE refresh_tokens SET revoked_at = $3 WHERE revoked_at IS NULL AND"
          " subject_kind = 'user' AND app_id = $1 AND subject_id IN (SELECT"
          " json_array_elements_text($2::text::json))",
};
