/*
 * The SQL of app_secrets (an app's secrets, stored as keyed hashes), each statement written once
 * (docs/adr/0007). STORE_SQL() texts are SQLite with ?N parameters, the
 * PostgreSQL text derived from them; the others give both texts because the
 * dialects differ.
 */
#include "store/sql.h"

const struct store_sql SQL_APP_SECRETS_INSERT_RETURNING =
    STORE_SQL("INSERT INTO app_secrets (app_id, hash, hint, created_at) VALUES (?1, ?2, ?3,"
              " ?4) RETURNING CAST(id AS TEXT) AS id, hint, created_at, expires_at");

/* rotation: the older secrets expire after the grace period (never later than they would) */
const struct store_sql SQL_APP_SECRETS_EXPIRE =
    STORE_SQL("UPDATE app_secrets SET expires_at = ?2 WHERE app_id = ?1 AND (expires_at IS"
              " NULL OR expires_at > ?2)");

const struct store_sql SQL_APP_SECRETS_COUNT =
    STORE_SQL("SELECT count(*) FROM app_secrets WHERE app_id = ?1");

const struct store_sql SQL_APP_SECRETS_PAGE =
    STORE_SQL("SELECT CAST(id AS TEXT) AS id, hint, created_at, expires_at FROM app_secrets"
              " WHERE app_id = ?1 ORDER BY app_secrets.id LIMIT ?2 OFFSET ?3");

const struct store_sql SQL_APP_SECRETS_DELETE =
    STORE_SQL("DELETE FROM app_secrets WHERE app_id = ?1 AND id = ?2");

const struct store_sql SQL_APP_SECRETS_BY_KEY =
    STORE_SQL("SELECT a.id, s.hash, s.id FROM apps a JOIN app_secrets s ON s.app_id = a.id"
              " WHERE a.key = ?1 AND a.status = 'active' AND (s.expires_at IS NULL OR"
              " s.expires_at > ?2)");

/* an app token's secret: its expiry (NULL: none), or no row once deleted */
const struct store_sql SQL_APP_SECRETS_ALIVE =
    STORE_SQL("SELECT expires_at FROM app_secrets WHERE id = ?1 AND app_id = ?2");

const struct store_sql SQL_APP_SECRETS_INSERT =
    STORE_SQL("INSERT INTO app_secrets (app_id, hash, hint, created_at) VALUES (?1, ?2, ?3,"
              " ?4)");

const struct store_sql SQL_APP_SECRETS_ADD_BY_KEY =
    STORE_SQL("INSERT INTO app_secrets (app_id, hash, hint, created_at) SELECT id, ?2, ?3, ?4"
              " FROM apps WHERE key = ?1");
