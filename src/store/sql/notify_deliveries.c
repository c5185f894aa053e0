/*
 * The SQL of notifications, deliveries, delivery_attempts, delivery_acks, jobs and
 * idempotency_keys (issue 11, migration 017; docs/notifications.md, "Deliveries and the
 * queue"). Written once where the dialects agree (parameters whose type only their use would
 * tell are CAST, which both backends read the same); the fan-out inserts, the JSON-scoped
 * lists and the claim (FOR UPDATE SKIP LOCKED) give both texts. Every statement an API caller
 * reaches names the app, so another app's id is never found.
 */
#include "store/sql.h"

/* ---- sending */

/* Keys are scoped per app and sender (SPEC §4a, migration 021): sender '' for the app's own
 * sends, the operator's id for a console send. */

/* ?1 app, ?2 sender, ?3 key, ?4 request hash, ?5 notification id, ?6 now, ?7 expires: a key
 * whose window has passed is taken over; a live one changes nothing (the op requires a row:
 * ERR_NOTFOUND) */
const struct store_sql SQL_IDEMPOTENCY_KEYS_CLAIM = STORE_SQL(
    "INSERT INTO idempotency_keys (app_id, sender, idem_key, request_hash, notification_id,"
    " created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (app_id, sender,"
    " idem_key) DO UPDATE SET request_hash = excluded.request_hash, notification_id ="
    " excluded.notification_id, created_at = excluded.created_at, expires_at ="
    " excluded.expires_at WHERE idempotency_keys.expires_at <= excluded.created_at");

/* ?1 app, ?2 sender, ?3 key, ?4 now: the live record's hash, notification and its delivery
 * count */
const struct store_sql SQL_IDEMPOTENCY_KEYS_GET =
    STORE_SQL("SELECT k.request_hash, k.notification_id, n.deliveries FROM idempotency_keys k"
              " JOIN notifications n ON n.id = k.notification_id WHERE k.app_id = ?1 AND"
              " k.sender = ?2 AND k.idem_key = ?3 AND k.expires_at > ?4");

/* ?1 now: records past their window */
const struct store_sql SQL_IDEMPOTENCY_KEYS_PRUNE =
    STORE_SQL("DELETE FROM idempotency_keys WHERE expires_at <= ?1");

/* ?1 id, ?2 app, ?3 type, ?4 title, ?5 content, ?6 params, ?7 data, ?8 channels, ?9 recipients,
 * ?10 priority, ?11 ttl_ms, ?12 send_at, ?13 expires_at, ?14 status, ?15 idempotency key,
 * ?16 source, ?17 operator, ?18 now */
const struct store_sql SQL_NOTIFICATIONS_INSERT = STORE_SQL(
    "INSERT INTO notifications (id, app_id, type_code, title, content, params, data, channels,"
    " recipients, priority, ttl_ms, send_at, expires_at, status, idempotency_key, source,"
    " operator_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
    " CAST(?11 AS BIGINT), ?12, CAST(?13 AS BIGINT), ?14, CAST(?15 AS TEXT), ?16,"
    " CAST(?17 AS TEXT), ?18, ?18)");

/* The fan-out. Each recipient row y has: id, u (user id or NULL), a (the ad-hoc address or
 * the user's contact for the kind), k (channel kind), c (channel id, NULL for inapp or when the
 * app has no enabled channel of the kind), t, b, h (title, content, HTML rendered for the
 * kind, NULL: the notification's), known (the user exists), off (the user opted out of this
 * type on this kind: subscriptions). Its status: skipped with the reason, else pending. */
#define FANOUT_COLS(P)                                                                             \
    "INSERT INTO deliveries (id, app_id, notification_id, user_id, address, channel,"              \
    " channel_id, type_code, status, attempts, next_at, last_error, title, content, html,"         \
    " escalates, created_at, updated_at) SELECT y.id, " P "1, " P "2, y.u, y.a, y.k, y.c, " P      \
    "3, CASE WHEN y.reason IS NULL THEN 'pending' ELSE 'skipped' END, 0, coalesce(y.n, " P         \
    "4), y.reason, y.t, y.b, y.h, y.e, " P "5, " P "5 FROM (SELECT z.*, CASE WHEN z.u IS NOT NULL" \
    " AND z.known = 0 THEN 'no such user' WHEN z.k <> 'inapp' AND z.c IS NULL THEN 'no enabled"    \
    " channel of this kind' WHEN z.k IN ('email', 'sms_aliyun', 'wechat_mp') AND z.a IS NULL"      \
    " THEN 'no address' WHEN z.off = 1 THEN 'unsubscribed' END AS reason FROM "
#define OPTED_OUT(P, u, k)                                                                         \
    "CASE WHEN EXISTS (SELECT 1 FROM subscriptions s WHERE s.app_id = " P "1 AND s.user_id = " u   \
    " AND s.type_code = " P "3 AND s.channel = " k " AND s.enabled = 0) THEN 1 ELSE 0 END"
#define CONTACT_SQ(k)                                                                              \
    "CASE " k " WHEN 'email' THEN json_extract(us.contacts, '$.email') WHEN 'sms_aliyun' THEN"     \
    " json_extract(us.contacts, '$.phone') WHEN 'wechat_mp' THEN json_extract(us.contacts,"        \
    " '$.wechat_openid') END"
#define CONTACT_PG(k)                                                                              \
    "CASE " k " WHEN 'email' THEN us.contacts::json->>'email' WHEN 'sms_aliyun' THEN"              \
    " us.contacts::json->>'phone' WHEN 'wechat_mp' THEN us.contacts::json->>'wechat_openid' END"

/* The recipients x (with the user us): their columns for the fan-out. */
#define LIST_SELECT(contact, opted_out)                                                            \
    "(SELECT x.id, x.u, coalesce(x.a, " contact ") AS a, x.k, x.c, x.t, x.b, x.h, x.n, x.e, CASE"  \
    " WHEN us.id IS NULL THEN 0 ELSE 1 END AS known, " opted_out " AS off FROM "

/* ?1 app, ?2 notification, ?3 type, ?4 next_at (send_at), ?5 now, ?6 a JSON array of
 * {"id","u"?,"a"?,"k","c"?,"t"?,"b"?,"h"?,"n"?,"e"?} (n: its own next_at, an escalation
 * step's; e: the delivery whose ACK makes this step unnecessary) (delivery id, user id, address,
 * kind, channel id, rendered title, content, html) */
const struct store_sql SQL_DELIVERIES_INSERT_LIST = {
    .sqlite = FANOUT_COLS("?") LIST_SELECT(
        CONTACT_SQ("x.k"),
        OPTED_OUT(
            "?", "x.u",
            "x.k")) "(SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.u') AS u,"
                    " json_extract(value, '$.a') AS a, json_extract(value, '$.k') AS k, "
                    "json_extract(value,"
                    " '$.c') AS c, json_extract(value, '$.t') AS t, json_extract(value, '$.b') AS "
                    "b,"
                    " json_extract(value, '$.h') AS h, json_extract(value, '$.n') AS n, "
                    "json_extract(value,"
                    " '$.e') AS e FROM json_each(?6)) x LEFT JOIN users us ON us.app_id = ?1 AND "
                    "us.id = x.u)"
                    " z) y",
    .pg = FANOUT_COLS("$") LIST_SELECT(
        CONTACT_PG("x.k"),
        OPTED_OUT(
            "$", "x.u",
            "x.k")) "(SELECT v->>'id' AS id, v->>'u' AS u, v->>'a' AS a, v->>'k' AS k, v->>'c' AS "
                    "c, v->>'t'"
                    " AS t, v->>'b' AS b, v->>'h' AS h, (v->>'n')::bigint AS n, v->>'e' AS e FROM"
                    " json_array_elements($6::text::json) v) x LEFT JOIN users us ON us.app_id = "
                    "$1 AND us.id"
                    " = x.u) z) y",
};

/* ?1 app, ?2 notification, ?3 type, ?4 next_at, ?5 now, ?6 a JSON array of kinds
 * {"k","c"?,"t"?,"b"?,"h"?}: one delivery per active user of the app per kind, but none for a
 * user who opted out of the type on the kind; ids "<notification>-<n>" */
const struct store_sql SQL_DELIVERIES_INSERT_SUBSCRIBERS = {
    .sqlite = FANOUT_COLS(
        "?") "(SELECT CAST(?2 AS TEXT) || '-' || row_number() OVER (ORDER BY"
             " us.id, x.o) AS id, us.id AS u, " CONTACT_SQ(
                 "x.k") " AS a, x.k,"
                        " x.c, x.t, x.b, x.h, NULL AS n, NULL AS e, 1 AS known, 0 AS off"
                        " FROM users us, (SELECT key AS o, json_extract(value, '$.k') AS"
                        " k, json_extract(value, '$.c') AS c, json_extract(value, '$.t')"
                        " AS t, json_extract(value, '$.b') AS b, json_extract(value,"
                        " '$.h') AS h FROM json_each(?6)) x WHERE us.app_id = ?1 AND"
                        " us.disabled = 0 AND " OPTED_OUT("?", "us.id", "x.k") " = 0) z) y",
    .pg = FANOUT_COLS(
        "$") "(SELECT $2::text || '-' || row_number() OVER (ORDER BY us.id, x.o) AS"
             " id, us.id AS u, " CONTACT_PG(
                 "x.k") " AS a, x.k, x.c, x.t, x.b, x.h,"
                        " NULL::bigint AS n, NULL::text AS e, 1 AS known, 0 AS off FROM users"
                        " us, (SELECT o, v->>'k' AS k, v->>'c' AS c, v->>'t' AS t, v->>'b' AS"
                        " b, v->>'h' AS h FROM json_array_elements($6::text::json) WITH"
                        " ORDINALITY e(v, o)) x WHERE us.app_id = $1 AND us.disabled = 0 "
                        "AND " OPTED_OUT("$", "us.id", "x.k") " = 0) z) y",
};

/* ?1 notification, ?2 run_at, ?3 now: a job for each pending delivery */
const struct store_sql SQL_JOBS_INSERT_FOR = STORE_SQL(
    "INSERT INTO jobs (delivery_id, app_id, channel, channel_id, run_at, attempts, created_at)"
    " SELECT id, app_id, channel, channel_id, coalesce(next_at, ?2), 0, ?3 FROM deliveries WHERE"
    " notification_id = ?1 AND status = 'pending'");

/* ?1 notification: its delivery count, kept in the row (replays answer it) */
const struct store_sql SQL_NOTIFICATIONS_COUNT_SET =
    STORE_SQL("UPDATE notifications SET deliveries = (SELECT count(*) FROM deliveries WHERE"
              " notification_id = ?1) WHERE id = ?1 RETURNING deliveries");

/* ---- reading */

#define NOTIFICATION_COLS                                                                          \
    "id, app_id, type_code, title, content, params, data, channels, recipients, priority,"         \
    " ttl_ms, send_at, expires_at, status, idempotency_key, deliveries, source, operator_id,"      \
    " created_at, updated_at"
#define NOTIFICATION_FILTER_SQ                                                                     \
    " WHERE (?1 IS NULL OR app_id = ?1) AND (?2 IS NULL OR app_id IN (SELECT value FROM"           \
    " json_each(?2))) AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR type_code = ?4) AND"      \
    " (?5 IS NULL OR created_at >= ?5) AND (?6 IS NULL OR created_at < ?6)"
#define NOTIFICATION_FILTER_PG                                                                     \
    " WHERE ($1::text IS NULL OR app_id = $1) AND ($2::text IS NULL OR app_id IN (SELECT"          \
    " json_array_elements_text($2::text::json))) AND ($3::text IS NULL OR status = $3) AND"        \
    " ($4::text IS NULL OR type_code = $4) AND ($5::bigint IS NULL OR created_at >= $5) AND"       \
    " ($6::bigint IS NULL OR created_at < $6)"

/* ?1 app or NULL, ?2 apps JSON array or NULL (every app), ?3 status, ?4 type, ?5 from, ?6 to
 * (NULL: no filter) */
const struct store_sql SQL_NOTIFICATIONS_COUNT = {
    .sqlite = "SELECT count(*) FROM notifications" NOTIFICATION_FILTER_SQ,
    .pg = "SELECT count(*) FROM notifications" NOTIFICATION_FILTER_PG,
};
/* the same, ?7 limit, ?8 offset: newest first */
const struct store_sql SQL_NOTIFICATIONS_PAGE = {
    .sqlite = "SELECT " NOTIFICATION_COLS " FROM notifications" NOTIFICATION_FILTER_SQ
              " ORDER BY created_at DESC, id DESC LIMIT ?7 OFFSET ?8",
    .pg = "SELECT " NOTIFICATION_COLS " FROM notifications" NOTIFICATION_FILTER_PG
          " ORDER BY created_at DESC, id DESC LIMIT $7 OFFSET $8",
};

/* ?1 app or NULL (any: the console checks the scope), ?2 id */
const struct store_sql SQL_NOTIFICATIONS_GET =
    STORE_SQL("SELECT " NOTIFICATION_COLS " FROM notifications WHERE (CAST(?1 AS TEXT) IS NULL OR"
              " app_id = ?1) AND id = ?2");

#define DELIVERY_COLS                                                                              \
    "d.id, d.app_id, d.notification_id, d.user_id, d.address, d.channel, d.channel_id,"            \
    " d.type_code, d.status, d.attempts, d.next_at, d.last_error, d.created_at, d.updated_at,"     \
    " d.sent_at, d.delivered_at, d.read_at"

/* ?1 notification: its first 1000 deliveries in creation order (ids "<notification>-<n>": by
 * length, then text, is by n) */
const struct store_sql SQL_DELIVERIES_OF =
    STORE_SQL("SELECT " DELIVERY_COLS " FROM deliveries d WHERE d.notification_id = ?1 ORDER BY"
              " d.created_at, length(d.id), d.id LIMIT 1000");

/* ?1 notification: the attempts of its deliveries, oldest first (at most 5000) */
const struct store_sql SQL_DELIVERY_ATTEMPTS_OF =
    STORE_SQL("SELECT a.delivery_id, a.attempt, a.outcome, a.code, a.detail, a.duration_ms,"
              " a.created_at FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id"
              " WHERE d.notification_id = ?1 ORDER BY a.id LIMIT 5000");

/* ?1 delivery: its attempts */
const struct store_sql SQL_DELIVERY_ATTEMPTS_OF_DELIVERY =
    STORE_SQL("SELECT a.delivery_id, a.attempt, a.outcome, a.code, a.detail, a.duration_ms,"
              " a.created_at FROM delivery_attempts a WHERE a.delivery_id = ?1 ORDER BY a.id"
              " LIMIT 1000");

#define DELIVERY_FILTER_SQ                                                                         \
    " WHERE (?1 IS NULL OR d.app_id = ?1) AND (?2 IS NULL OR d.app_id IN (SELECT value FROM"       \
    " json_each(?2))) AND (?3 IS NULL OR d.status = ?3) AND (?4 IS NULL OR d.channel = ?4) AND"    \
    " (?5 IS NULL OR d.user_id = ?5) AND (?6 IS NULL OR d.type_code = ?6) AND (?7 IS NULL OR"      \
    " d.created_at >= ?7) AND (?8 IS NULL OR d.created_at < ?8) AND (?9 IS NULL OR"                \
    " d.notification_id = ?9)"
#define DELIVERY_FILTER_PG                                                                         \
    " WHERE ($1::text IS NULL OR d.app_id = $1) AND ($2::text IS NULL OR d.app_id IN (SELECT"      \
    " json_array_elements_text($2::text::json))) AND ($3::text IS NULL OR d.status = $3) AND"      \
    " ($4::text IS NULL OR d.channel = $4) AND ($5::text IS NULL OR d.user_id = $5) AND"           \
    " ($6::text IS NULL OR d.type_code = $6) AND ($7::bigint IS NULL OR d.created_at >= $7) AND"   \
    " ($8::bigint IS NULL OR d.created_at < $8) AND ($9::text IS NULL OR d.notification_id = $9)"

/* ?1 app or NULL, ?2 apps JSON or NULL, ?3 status, ?4 channel, ?5 user, ?6 type, ?7 from, ?8 to,
 * ?9 notification (NULL: no filter) */
const struct store_sql SQL_DELIVERIES_COUNT = {
    .sqlite = "SELECT count(*) FROM deliveries d" DELIVERY_FILTER_SQ,
    .pg = "SELECT count(*) FROM deliveries d" DELIVERY_FILTER_PG,
};
/* the same, ?10 limit, ?11 offset: newest first (a notification's deliveries by n, last first) */
const struct store_sql SQL_DELIVERIES_PAGE = {
    .sqlite = "SELECT " DELIVERY_COLS " FROM deliveries d" DELIVERY_FILTER_SQ
              " ORDER BY d.created_at DESC, d.notification_id DESC, length(d.id) DESC, d.id DESC"
              " LIMIT ?10 OFFSET ?11",
    .pg = "SELECT " DELIVERY_COLS " FROM deliveries d" DELIVERY_FILTER_PG
          " ORDER BY d.created_at DESC, d.notification_id DESC, length(d.id) DESC, d.id DESC"
          " LIMIT $10 OFFSET $11",
};

/* ?1 delivery: the delivery (any app: the console checks the scope) */
const struct store_sql SQL_DELIVERIES_GET =
    STORE_SQL("SELECT " DELIVERY_COLS " FROM deliveries d WHERE d.id = ?1");

/* ---- cancelling a scheduled notification: ?1 app, ?2 id, ?3 now (the jobs: ?1, ?2) */

const struct store_sql SQL_NOTIFICATIONS_CANCEL =
    STORE_SQL("UPDATE notifications SET status = 'cancelled', updated_at = ?3 WHERE app_id = ?1"
              " AND id = ?2 AND status = 'scheduled' AND send_at > ?3");
const struct store_sql SQL_DELIVERIES_CANCEL =
    STORE_SQL("UPDATE deliveries SET status = 'cancelled', next_at = NULL, updated_at = ?3 WHERE"
              " app_id = ?1 AND notification_id = ?2 AND status = 'pending'");
const struct store_sql SQL_JOBS_CANCEL =
    STORE_SQL("DELETE FROM jobs WHERE app_id = ?1 AND delivery_id IN (SELECT id FROM deliveries"
              " WHERE notification_id = ?2 AND status = 'cancelled')");

/* ---- the queue */

/* ?1 claim token, ?2 lease end, ?3 now, ?4 batch: leases the due jobs, oldest first; on
 * PostgreSQL rows another node is claiming are skipped, not waited for */
const struct store_sql SQL_JOBS_CLAIM = {
    .sqlite = "UPDATE jobs SET locked_by = ?1, locked_until = ?2 WHERE id IN (SELECT id FROM jobs"
              " WHERE run_at <= ?3 AND (locked_until IS NULL OR locked_until <= ?3) ORDER BY"
              " run_at, id LIMIT ?4)",
    .pg = "UPDATE jobs SET locked_by = $1, locked_until = $2 WHERE id IN (SELECT id FROM jobs"
          " WHERE run_at <= $3 AND (locked_until IS NULL OR locked_until <= $3) ORDER BY run_at,"
          " id LIMIT $4 FOR UPDATE SKIP LOCKED)",
};

/* ?1 claim token, ?2 now: the claimed deliveries move to sending */
const struct store_sql SQL_DELIVERIES_SENDING =
    STORE_SQL("UPDATE deliveries SET status = 'sending', updated_at = ?2 WHERE id IN (SELECT"
              " delivery_id FROM jobs WHERE locked_by = ?1) AND status IN ('pending', 'failed')");

/* ?1 claim token, ?2 now: a scheduled notification whose jobs are claimed is queued */
const struct store_sql SQL_NOTIFICATIONS_RELEASED =
    STORE_SQL("UPDATE notifications SET status = 'queued', updated_at = ?2 WHERE status ="
              " 'scheduled' AND id IN (SELECT d.notification_id FROM jobs j JOIN deliveries d ON"
              " d.id = j.delivery_id WHERE j.locked_by = ?1)");

/* ?1 claim token: what the claimed jobs need, in the order queue.c reads them */
const struct store_sql SQL_JOBS_CLAIMED = STORE_SQL(
    "SELECT j.id, j.attempts, d.id, d.app_id, d.user_id, d.address, d.channel,"
    " d.channel_id, d.created_at, d.type_code, coalesce(d.title, n.title),"
    " coalesce(d.content, n.content), n.data, n.params, n.expires_at, n.id, d.status,"
    " d.html, ch.kind, ch.config, ch.updated_at, ch.max_attempts, ch.rate_per_s,"
    " ch.concurrency, ch.enabled, n.priority, up.quiet_start, up.quiet_end,"
    " up.time_zone, pe.status FROM jobs j JOIN deliveries d ON d.id = j.delivery_id JOIN"
    " notifications n ON n.id = d.notification_id LEFT JOIN channels ch ON ch.id ="
    " d.channel_id LEFT JOIN user_prefs up ON up.app_id = d.app_id AND up.user_id ="
    " d.user_id LEFT JOIN deliveries pe ON pe.id = d.escalates WHERE j.locked_by = ?1 ORDER BY"
    " j.run_at, j.id");

/* ?1 job: done (also when its lease has passed to another claim: at least once) */
const struct store_sql SQL_JOBS_DONE = STORE_SQL("DELETE FROM jobs WHERE id = ?1");

/* ?1 job, ?2 claim token, ?3 run_at, ?4 attempts so far: back in the queue */
const struct store_sql SQL_JOBS_REQUEUE =
    STORE_SQL("UPDATE jobs SET run_at = ?3, attempts = ?4, locked_by = NULL, locked_until = NULL"
              " WHERE id = ?1 AND locked_by = ?2");

/* ?1 delivery, ?2 next_at: a claimed delivery held back (quiet hours, its channel busy) is
 * pending again until then */
const struct store_sql SQL_DELIVERIES_HELD =
    STORE_SQL("UPDATE deliveries SET status = 'pending', next_at = ?2 WHERE id = ?1 AND status ="
              " 'sending'");

/* Start-up on SQLite (one server per database): every lease is a dead process's. */
const struct store_sql SQL_JOBS_RELEASE_ALL =
    STORE_SQL("UPDATE jobs SET locked_by = NULL, locked_until = NULL WHERE locked_by IS NOT NULL");

/* The earliest run_at of an unleased job (NULL: none) */
const struct store_sql SQL_JOBS_NEXT_DUE =
    STORE_SQL("SELECT min(run_at) FROM jobs WHERE locked_until IS NULL");

/* A delivery's state moves only forward: these update pending, sending and failed ones. */
#define OPEN_STATES "('pending', 'sending', 'failed')"

/* ?1 delivery, ?2 now, ?3 attempts */
const struct store_sql SQL_DELIVERIES_SENT = STORE_SQL(
    "UPDATE deliveries SET status = CASE WHEN status IN " OPEN_STATES " THEN 'sent' ELSE status"
    " END, sent_at = coalesce(sent_at, ?2), attempts = ?3, next_at = NULL, last_error = NULL,"
    " updated_at = ?2 WHERE id = ?1");

/* ?1 a JSON array of delivery ids (a claimed batch's in-app ones), ?2 now: each sent, its
 * attempts counted (one statement for the batch) */
const struct store_sql SQL_DELIVERIES_SENT_LIST = {
    .sqlite = "UPDATE deliveries SET status = CASE WHEN status IN " OPEN_STATES " THEN 'sent' ELSE"
              " status END, sent_at = coalesce(sent_at, ?2), attempts = attempts + 1, next_at ="
              " NULL, last_error = NULL, updated_at = ?2 WHERE id IN (SELECT value FROM"
              " json_each(?1))",
    .pg = "UPDATE deliveries SET status = CASE WHEN status IN " OPEN_STATES " THEN 'sent' ELSE"
          " status END, sent_at = coalesce(sent_at, $2), attempts = attempts + 1, next_at = NULL,"
          " last_error = NULL, updated_at = $2 WHERE id IN (SELECT"
          " json_array_elements_text($1::text::json))",
};

/* ?1 the same array, ?2 detail, ?3 claim token, ?4 now: their attempt rows (after
 * SQL_DELIVERIES_SENT_LIST, whose count they take) */
const struct store_sql SQL_DELIVERY_ATTEMPTS_SENT_LIST = {
    .sqlite = "INSERT INTO delivery_attempts (delivery_id, attempt, outcome, code, detail,"
              " duration_ms, node, created_at) SELECT d.id, d.attempts, 'sent', 0, ?2, 0, ?3, ?4"
              " FROM deliveries d WHERE d.id IN (SELECT value FROM json_each(?1))",
    .pg = "INSERT INTO delivery_attempts (delivery_id, attempt, outcome, code, detail,"
          " duration_ms, node, created_at) SELECT d.id, d.attempts, 'sent', 0, $2, 0, $3, $4 FROM"
          " deliveries d WHERE d.id IN (SELECT json_array_elements_text($1::text::json))",
};

/* ?1 the same array: their jobs are done */
const struct store_sql SQL_JOBS_DONE_LIST = {
    .sqlite = "DELETE FROM jobs WHERE delivery_id IN (SELECT value FROM json_each(?1))",
    .pg = "DELETE FROM jobs WHERE delivery_id IN (SELECT json_array_elements_text($1::text::json))",
};

/* ?1 delivery, ?2 now, ?3 attempts, ?4 'failed' (retried at ?5) or 'dead' / 'expired' (?5
 * NULL), ?6 the error */
const struct store_sql SQL_DELIVERIES_FAILED = STORE_SQL(
    "UPDATE deliveries SET status = CASE WHEN status IN " OPEN_STATES " THEN ?4 ELSE status END,"
    " attempts = ?3, next_at = CAST(?5 AS BIGINT), last_error = ?6, updated_at = ?2 WHERE id ="
    " ?1");

/* ?1 delivery, ?2 attempt, ?3 outcome, ?4 code, ?5 detail, ?6 duration ms, ?7 node, ?8 now */
const struct store_sql SQL_DELIVERY_ATTEMPTS_INSERT = STORE_SQL(
    "INSERT INTO delivery_attempts (delivery_id, attempt, outcome, code, detail, duration_ms,"
    " node, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");

/* ?1 delivery, ?2 now: a failed or dead delivery gets a job due now (the console's retry) */
const struct store_sql SQL_DELIVERIES_RETRY =
    STORE_SQL("UPDATE deliveries SET status = 'pending', next_at = ?2, updated_at = ?2 WHERE id ="
              " ?1 AND status IN ('failed', 'dead')");
const struct store_sql SQL_JOBS_RETRY = STORE_SQL(
    "INSERT INTO jobs (delivery_id, app_id, channel, channel_id, run_at, attempts, created_at)"
    " SELECT id, app_id, channel, channel_id, ?2, 0, ?2 FROM deliveries WHERE id = ?1 ON"
    " CONFLICT (delivery_id) DO UPDATE SET run_at = excluded.run_at, attempts = 0, locked_by ="
    " NULL, locked_until = NULL");

/* ---- in-app */

/* ?1 app, ?2 user, ?3 delivery: the user's in-app delivery (no row: not theirs) */
const struct store_sql SQL_DELIVERIES_INAPP_OWN =
    STORE_SQL("SELECT id FROM deliveries WHERE app_id = ?1 AND user_id = ?2 AND id = ?3 AND"
              " channel = 'inapp'");

/* ?1 delivery, ?2 device, ?3 now */
const struct store_sql SQL_DELIVERY_ACKS_ADD =
    STORE_SQL("INSERT INTO delivery_acks (delivery_id, device_id, acked_at) VALUES (?1, ?2, ?3)"
              " ON CONFLICT DO NOTHING");

/* ?1 delivery, ?2 now */
const struct store_sql SQL_DELIVERIES_DELIVERED = STORE_SQL(
    "UPDATE deliveries SET status = CASE WHEN status IN ('pending', 'sending', 'sent',"
    " 'failed') THEN 'delivered' ELSE status END, delivered_at = coalesce(delivered_at, ?2),"
    " updated_at = ?2 WHERE id = ?1");

/* The columns of an in-app notification frame, in the order inapp.c reads them. */
#define INAPP_COLS                                                                                 \
    "d.id, d.type_code, coalesce(d.title, n.title), coalesce(d.content, n.content), n.data,"       \
    " d.created_at"

/* ?1 app, ?2 user, ?3 device, ?4 oldest created_at, ?5 now: the deliveries sent to the user
 * that this device has not ACKed (newest 1000; oldest first), each with the cursor of its
 * notification event (NULL: none, or pruned) */
const struct store_sql SQL_DELIVERIES_UNACKED = STORE_SQL(
    "SELECT * FROM (SELECT " INAPP_COLS ", (SELECT e.cursor FROM events e WHERE e.delivery_id ="
    " d.id) FROM deliveries d JOIN notifications n ON n.id ="
    " d.notification_id WHERE d.app_id = ?1 AND d.user_id = ?2 AND d.channel = 'inapp' AND"
    " d.status IN ('sent', 'delivered') AND d.created_at >= ?4 AND (n.expires_at IS NULL OR"
    " n.expires_at > ?5) AND NOT EXISTS (SELECT 1 FROM delivery_acks a WHERE a.delivery_id ="
    " d.id AND a.device_id = ?3) ORDER BY d.created_at DESC, d.id DESC LIMIT 1000) t ORDER BY"
    " 6, 1");

/* ---- in-app deliveries in the event log (docs/chat.md, "Sync"): the batch that records them
 * sent also writes their `notification` events, one statement for the batch (migration 019) */

/* ?1 a JSON array of in-app delivery ids (the batch's, in the order they are pushed), ?2 now:
 * an event for each that is sent and has none yet, its one audience the delivery's user */
const struct store_sql SQL_EVENTS_INSERT_NOTIFY = {
    .sqlite = "INSERT INTO events (app_id, conversation_id, kind, user_id, delivery_id, created_at)"
              " SELECT d.app_id, '', 'notification', d.user_id, d.id, ?2 FROM json_each(?1) x JOIN"
              " deliveries d ON d.id = x.value WHERE d.channel = 'inapp' AND d.user_id IS NOT NULL"
              " AND d.status IN ('sent', 'delivered', 'read') ORDER BY x.key ON CONFLICT DO"
              " NOTHING",
    .pg = "INSERT INTO events (app_id, conversation_id, kind, user_id, delivery_id, created_at)"
          " SELECT d.app_id, '', 'notification', d.user_id, d.id, $2 FROM"
          " json_array_elements_text($1::text::json) WITH ORDINALITY x(v, o) JOIN deliveries d ON"
          " d.id = x.v WHERE d.channel = 'inapp' AND d.user_id IS NOT NULL AND d.status IN"
          " ('sent', 'delivered', 'read') ORDER BY x.o ON CONFLICT DO NOTHING",
};

/* ?1 the same array: one row per id, in its order: the cursor of its event (NULL: none) */
const struct store_sql SQL_EVENTS_NOTIFY_CURSORS = {
    .sqlite = "SELECT e.cursor FROM json_each(?1) x LEFT JOIN events e ON e.delivery_id = x.value"
              " ORDER BY x.key",
    .pg = "SELECT e.cursor FROM json_array_elements_text($1::text::json) WITH ORDINALITY x(v, o)"
          " LEFT JOIN events e ON e.delivery_id = x.v ORDER BY x.o",
};

/* ---- the inbox: a user's in-app deliveries that were sent */

#define INBOX_WHERE                                                                                \
    " WHERE d.app_id = ?1 AND d.user_id = ?2 AND d.channel = 'inapp' AND d.status IN ('sent',"     \
    " 'delivered', 'read')"

/* ?1 app, ?2 user, ?3 1: unread only */
const struct store_sql SQL_INBOX_COUNT = STORE_SQL("SELECT count(*) FROM deliveries d" INBOX_WHERE
                                                   " AND (?3 = 0 OR d.status <> 'read')");
/* ?1 app, ?2 user */
const struct store_sql SQL_INBOX_UNREAD =
    STORE_SQL("SELECT count(*) FROM deliveries d" INBOX_WHERE " AND d.status <> 'read'");
/* ?1 app, ?2 user, ?3 unread only, ?4 limit, ?5 offset: newest first */
const struct store_sql SQL_INBOX_PAGE = STORE_SQL(
    "SELECT " INAPP_COLS ", d.status, d.read_at, d.notification_id FROM deliveries d JOIN"
    " notifications n ON n.id = d.notification_id" INBOX_WHERE " AND (?3 = 0 OR d.status <>"
    " 'read') ORDER BY d.created_at DESC, d.id DESC LIMIT ?4 OFFSET ?5");
/* ?1 app, ?2 user, ?3 delivery, ?4 now */
const struct store_sql SQL_INBOX_READ =
    STORE_SQL("UPDATE deliveries SET status = 'read', read_at = coalesce(read_at, ?4), updated_at"
              " = ?4 WHERE app_id = ?1 AND user_id = ?2 AND id = ?3 AND channel = 'inapp' AND"
              " status IN ('sent', 'delivered', 'read') RETURNING id, status, read_at");
/* ?1 app, ?2 user, ?3 now */
const struct store_sql SQL_INBOX_READ_ALL =
    STORE_SQL("UPDATE deliveries SET status = 'read', read_at = ?3, updated_at = ?3 WHERE app_id"
              " = ?1 AND user_id = ?2 AND channel = 'inapp' AND status IN ('sent', 'delivered')");

/* ---- the console's statistics: ?1 app or NULL, ?2 apps JSON or NULL, ?3 bucket ms, ?4 from,
 * ?5 to; rows per bucket start */

#define STATS_SCOPE_SQ                                                                             \
    " (?1 IS NULL OR app_id = ?1) AND (?2 IS NULL OR app_id IN (SELECT value FROM"                 \
    " json_each(?2))) AND created_at >= ?4 AND created_at < ?5"
#define STATS_SCOPE_PG                                                                             \
    " ($1::text IS NULL OR app_id = $1) AND ($2::text IS NULL OR app_id IN (SELECT"                \
    " json_array_elements_text($2::text::json))) AND created_at >= $4 AND created_at < $5"

/* bucket, channel, status, count */
const struct store_sql SQL_DELIVERIES_STATS_CHANNEL = {
    .sqlite = "SELECT (created_at / ?3) * ?3, channel, status, count(*) FROM deliveries "
              "WHERE" STATS_SCOPE_SQ " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    .pg = "SELECT (created_at / $3) * $3, channel, status, count(*) FROM deliveries "
          "WHERE" STATS_SCOPE_PG " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
};
/* bucket, type, status, count */
const struct store_sql SQL_DELIVERIES_STATS_TYPE = {
    .sqlite = "SELECT (created_at / ?3) * ?3, type_code, status, count(*) FROM deliveries "
              "WHERE" STATS_SCOPE_SQ " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    .pg = "SELECT (created_at / $3) * $3, type_code, status, count(*) FROM deliveries "
          "WHERE" STATS_SCOPE_PG " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
};
/* bucket, chat messages, distinct senders (the bucket's active users) */
const struct store_sql SQL_MESSAGES_STATS = {
    .sqlite = "SELECT (created_at / ?3) * ?3, count(*), count(DISTINCT app_id || '/' ||"
              " sender_id) FROM messages WHERE" STATS_SCOPE_SQ " GROUP BY 1 ORDER BY 1",
    .pg = "SELECT (created_at / $3) * $3, count(*), count(DISTINCT app_id || '/' || sender_id)"
          " FROM messages WHERE" STATS_SCOPE_PG " GROUP BY 1 ORDER BY 1",
};

/* ---- what a send reads first (send.c, "resolving") */

/* ?1 app, ?2 type code: the type's default channel kinds (JSON), whether it is enabled, its
 * escalation chain (JSON or NULL) */
const struct store_sql SQL_NOTIFY_SEND_TYPE = STORE_SQL(
    "SELECT channels, enabled, escalation FROM message_types WHERE app_id = ?1 AND code = ?2");

/* ?1 app: its enabled channels, the first of each kind first */
const struct store_sql SQL_NOTIFY_SEND_CHANNELS =
    STORE_SQL("SELECT id, kind FROM channels WHERE app_id = ?1 AND enabled = 1 ORDER BY"
              " created_at, id LIMIT 1000");

/* ?1 app, ?2 type code: the type's enabled channel pairs (a channel id or 'inapp') with their
 * template codes (a pair's NULL template_code: the type's code) */
const struct store_sql SQL_NOTIFY_SEND_PAIRS =
    STORE_SQL("SELECT p.channel, coalesce(p.template_code, t.code) FROM channel_message_types p"
              " JOIN message_types t ON t.id = p.type_id WHERE t.app_id = ?1 AND t.code = ?2 AND"
              " p.enabled = 1");

/* ?1 app, ?2 type code: the active version of every variant of the templates those pairs
 * name (NULL: the type's code): code, kind, locale, subject, body, html */
const struct store_sql SQL_NOTIFY_SEND_TEMPLATES = STORE_SQL(
    "SELECT t.code, t.channel_kind, t.locale, v.subject, v.body, v.html FROM templates t JOIN"
    " template_versions v ON v.template_id = t.id AND v.version = t.active_version WHERE"
    " t.app_id = ?1 AND t.code IN (SELECT coalesce(p.template_code, mt.code) FROM"
    " channel_message_types p JOIN message_types mt ON mt.id = p.type_id WHERE mt.app_id = ?1"
    " AND mt.code = ?2 AND p.enabled = 1) LIMIT 1000");
