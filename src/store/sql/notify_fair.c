/*
 * The queue's fair claim (issue 11, migration 018's jobs_app_due; docs/notifications.md,
 * "Fairness between apps"), used by src/notify/queue.c.
 */
#include "store/sql.h"

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

/* ?1 the UTC day's start (ms): each app with a daily quota, its quota and its notifications
 * sent through the API since then (notify/quota.c) */
const struct store_sql SQL_APPS_DAILY_QUOTA_USE =
    STORE_SQL("SELECT a.id, a.daily_quota, (SELECT count(*) FROM notifications n WHERE n.app_id"
              " = a.id AND n.created_at >= ?1 AND n.source = 'api') FROM apps a WHERE"
              " a.daily_quota > 0");
