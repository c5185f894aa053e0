/*
 * The SQL of escalation chains and the fair claim (issue 11, migration 018;
 * docs/notifications.md, "Escalation", "Fairness between apps"). Used by
 * src/notify/escalation.c, from the send's write and the queue's claim.
 */
#include "store/sql.h"

/* ?1 notification, ?2 kind, ?3 step, ?4 due (ms): the deliveries to users on the kind are step
 * ?3 of the chain, due at ?4 */
const struct store_sql SQL_DELIVERIES_ESCALATE =
    STORE_SQL("UPDATE deliveries SET escalation_step = ?3, next_at = CASE WHEN status = 'pending'"
              " THEN CAST(?4 AS BIGINT) ELSE next_at END WHERE notification_id = ?1 AND channel ="
              " ?2 AND user_id IS NOT NULL");

/* ?1 notification, ?2 kind, ?3 due (ms): their jobs run then */
const struct store_sql SQL_JOBS_ESCALATE =
    STORE_SQL("UPDATE jobs SET run_at = ?3 WHERE delivery_id IN (SELECT id FROM deliveries WHERE"
              " notification_id = ?1 AND channel = ?2 AND user_id IS NOT NULL)");

/* ?1 claim token, ?2 now: a claimed later step of a chain whose earlier step to the same user
 * was ACKed (delivered) or read is cancelled instead of sent */
const struct store_sql SQL_DELIVERIES_ESCALATION_CANCEL = STORE_SQL(
    "UPDATE deliveries SET status = 'cancelled', next_at = NULL, last_error = 'an earlier step"
    " of the escalation was acknowledged', updated_at = ?2 WHERE id IN (SELECT delivery_id FROM"
    " jobs WHERE locked_by = ?1) AND escalation_step > 0 AND status IN ('pending', 'failed') AND"
    " EXISTS (SELECT 1 FROM deliveries e WHERE e.notification_id = deliveries.notification_id AND"
    " e.user_id = deliveries.user_id AND e.escalation_step < deliveries.escalation_step AND"
    " e.status IN ('delivered', 'read'))");

/* The apps with jobs, walked through jobs_app_due one app at a time, and each one's oldest due
 * unleased job (?3 now) */
#define APP_HEADS(P)                                                                               \
    "WITH RECURSIVE a(id) AS (SELECT min(app_id) FROM jobs UNION ALL SELECT (SELECT"               \
    " min(app_id) FROM jobs WHERE app_id > a.id) FROM a WHERE a.id IS NOT NULL) SELECT (SELECT"    \
    " h.id FROM jobs h WHERE h.app_id = a.id AND h.run_at <= " P "3 AND (h.locked_until IS NULL"   \
    " OR h.locked_until <= " P "3) ORDER BY h.run_at LIMIT 1) AS id FROM a WHERE a.id IS NOT"      \
    " NULL LIMIT " P "5"

/* ?1 claim token, ?2 lease end, ?3 now, ?4 batch, ?5 apps at most: leases the ?4 oldest due
 * jobs and the oldest due job of every app (so that no app's backlog holds another app's jobs
 * back); on PostgreSQL rows another node is claiming are skipped, not waited for */
const struct store_sql SQL_JOBS_CLAIM_FAIR = {
    .sqlite = "UPDATE jobs SET locked_by = ?1, locked_until = ?2 WHERE id IN (SELECT id FROM"
              " (SELECT id FROM jobs WHERE run_at <= ?3 AND (locked_until IS NULL OR locked_until"
              " <= ?3) ORDER BY run_at, id LIMIT ?4) UNION SELECT id FROM (" APP_HEADS("?") "))",
    .pg = "UPDATE jobs SET locked_by = $1, locked_until = $2 WHERE id IN (SELECT id FROM (SELECT"
          " id FROM jobs WHERE run_at <= $3 AND (locked_until IS NULL OR locked_until <= $3)"
          " ORDER BY run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) o UNION SELECT id FROM (SELECT"
          " id FROM jobs WHERE id IN (" APP_HEADS(
              "$") ") AND run_at <= $3 AND (locked_until IS"
                   " NULL OR locked_until <= $3) FOR UPDATE SKIP LOCKED) f)",
};
