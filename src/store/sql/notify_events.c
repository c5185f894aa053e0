/*
 * The SQL of the apps' outgoing event webhooks (issue 11 item 8, migration 018;
 * docs/notifications.md, "Event webhooks"): event_webhooks (console CRUD; every write names
 * the app) and event_outbox, their durable queue. src/notify/events.c and events_api.c.
 */
#include "store/sql.h"
#include "store/sql/notify_scope.h"

#define EWH_COLS "id, app_id, url, secret, events, enabled, created_at, updated_at"

/* ?1 scope (JSON array of app ids, NULL: all), ?2 app */
#define EWH_WHERE(P, SCOPE)                                                                        \
    " FROM event_webhooks WHERE " SCOPE(1, "app_id") " AND" NT_OPT(P, 2, "app_id")
#define EWH_COUNT(P, SCOPE) "SELECT count(*)" EWH_WHERE(P, SCOPE)
#define EWH_PAGE(P, SCOPE)                                                                         \
    "SELECT " EWH_COLS EWH_WHERE(P, SCOPE) " ORDER BY app_id, created_at, id LIMIT " P(            \
        3) " OFFSET " P(4)
const struct store_sql SQL_EVENT_WEBHOOKS_COUNT = NT_DUAL(EWH_COUNT);
const struct store_sql SQL_EVENT_WEBHOOKS_PAGE = NT_DUAL(EWH_PAGE);

/* ?1 id */
const struct store_sql SQL_EVENT_WEBHOOKS_GET =
    STORE_SQL("SELECT " EWH_COLS " FROM event_webhooks WHERE id = ?1");

/* ?1 id, ?2 app, ?3 url, ?4 sealed secret, ?5 events (JSON array), ?6 enabled, ?7 now, ?8 the
 * most an app may have: nothing when there is no such app or it has that many */
const struct store_sql SQL_EVENT_WEBHOOKS_INSERT = STORE_SQL(
    "INSERT INTO event_webhooks (" EWH_COLS ") SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7 WHERE EXISTS"
    " (SELECT 1 FROM apps WHERE id = ?2) AND (SELECT count(*) FROM event_webhooks WHERE app_id ="
    " ?2) < ?8");

/* ?1 app, ?2 id, ?3 url, ?4 sealed secret, ?5 events (NULL: kept), ?6 enabled (-1: kept),
 * ?7 now */
const struct store_sql SQL_EVENT_WEBHOOKS_UPDATE = STORE_SQL(
    "UPDATE event_webhooks SET url = coalesce(?3, url), secret = coalesce(?4, secret), events ="
    " coalesce(?5, events), enabled = CASE WHEN ?6 >= 0 THEN ?6 ELSE enabled END, updated_at ="
    " ?7 WHERE app_id = ?1 AND id = ?2");

/* ?1 app, ?2 id */
const struct store_sql SQL_EVENT_WEBHOOKS_DELETE =
    STORE_SQL("DELETE FROM event_webhooks WHERE app_id = ?1 AND id = ?2");

/* The events each app's enabled webhooks subscribe to (the per-app flags) */
const struct store_sql SQL_EVENT_WEBHOOKS_FLAGS =
    STORE_SQL("SELECT app_id, events FROM event_webhooks WHERE enabled = 1 ORDER BY app_id");

/* ?1 app, ?2 event, ?3 event id, ?4 payload (JSON), ?5 now: one row per enabled webhook of the
 * app subscribed to the event; an event id already queued for a webhook is not added again */
const struct store_sql SQL_EVENT_OUTBOX_ADD = STORE_SQL(
    "INSERT INTO event_outbox (app_id, webhook_id, event_id, event, payload, run_at, attempts,"
    " created_at) SELECT app_id, id, ?3, ?2, ?4, ?5, 0, ?5 FROM event_webhooks WHERE app_id = ?1"
    " AND enabled = 1 AND events LIKE '%\"' || CAST(?2 AS TEXT) || '\"%' ON CONFLICT (webhook_id,"
    " event_id) DO NOTHING");

/* ?1 a JSON array of delivery ids, ?2 now: a delivery.status_changed event for each, with the
 * delivery's state as it is now (written in the same write as the change); the event id
 * "<delivery>.<status>.<attempts>" is the same when the change is written again */
#define DSC_PAYLOAD_SQ                                                                             \
    "json_object('id', d.id, 'notification_id', d.notification_id, 'user_id', d.user_id,"          \
    " 'channel', d.channel, 'type', d.type_code, 'status', d.status, 'attempts', d.attempts,"      \
    " 'last_error', d.last_error, 'updated_at', d.updated_at)"
#define DSC_PAYLOAD_PG                                                                             \
    "json_build_object('id', d.id, 'notification_id', d.notification_id, 'user_id', d.user_id,"    \
    " 'channel', d.channel, 'type', d.type_code, 'status', d.status, 'attempts', d.attempts,"      \
    " 'last_error', d.last_error, 'updated_at', d.updated_at)::text"
#define DSC_INSERT(PAYLOAD, IDS, NOW)                                                              \
    "INSERT INTO event_outbox (app_id, webhook_id, event_id, event, payload, run_at, attempts,"    \
    " created_at) SELECT d.app_id, w.id, d.id || '.' || d.status || '.' || d.attempts,"            \
    " 'delivery.status_changed', " PAYLOAD ", " NOW ", 0, " NOW " FROM deliveries d JOIN"          \
    " event_webhooks w ON w.app_id = d.app_id AND w.enabled = 1 AND w.events LIKE"                 \
    " '%\"delivery.status_changed\"%' WHERE d.id IN (" IDS ") ON CONFLICT (webhook_id, event_id)"  \
    " DO NOTHING"
const struct store_sql SQL_EVENT_OUTBOX_ADD_DELIVERIES = {
    .sqlite = DSC_INSERT(DSC_PAYLOAD_SQ, "SELECT value FROM json_each(?1)", "?2"),
    .pg = DSC_INSERT(DSC_PAYLOAD_PG, "SELECT json_array_elements_text($1::text::json)", "$2"),
};

/* ?1 claim token, ?2 lease end, ?3 now, ?4 batch: leases the due rows, oldest first */
const struct store_sql SQL_EVENT_OUTBOX_CLAIM = {
    .sqlite = "UPDATE event_outbox SET locked_by = ?1, locked_until = ?2 WHERE id IN (SELECT id"
              " FROM event_outbox WHERE run_at <= ?3 AND (locked_until IS NULL OR locked_until <="
              " ?3) ORDER BY run_at, id LIMIT ?4)",
    .pg = "UPDATE event_outbox SET locked_by = $1, locked_until = $2 WHERE id IN (SELECT id FROM"
          " event_outbox WHERE run_at <= $3 AND (locked_until IS NULL OR locked_until <= $3)"
          " ORDER BY run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)",
};

/* ?1 claim token: what sending them needs */
const struct store_sql SQL_EVENT_OUTBOX_CLAIMED =
    STORE_SQL("SELECT o.id, o.attempts, o.event_id, o.event, o.payload, o.created_at, w.url,"
              " w.secret, o.app_id FROM event_outbox o JOIN event_webhooks w ON w.id ="
              " o.webhook_id WHERE o.locked_by = ?1 ORDER BY o.run_at, o.id");

/* ?1 row: delivered (or given up) */
const struct store_sql SQL_EVENT_OUTBOX_DONE = STORE_SQL("DELETE FROM event_outbox WHERE id = ?1");

/* ?1 row, ?2 run_at, ?3 attempts so far: back in the queue */
const struct store_sql SQL_EVENT_OUTBOX_REQUEUE =
    STORE_SQL("UPDATE event_outbox SET run_at = ?2, attempts = ?3, locked_by = NULL, locked_until"
              " = NULL WHERE id = ?1");

/* Start-up on SQLite (one server per database): every lease is a dead process's */
const struct store_sql SQL_EVENT_OUTBOX_RELEASE_ALL = STORE_SQL(
    "UPDATE event_outbox SET locked_by = NULL, locked_until = NULL WHERE locked_by IS NOT NULL");
