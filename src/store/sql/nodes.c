/*
 * The SQL of nodes (issue 11, docs/notifications.md, "Instances"): one row per server process
 * that started on this store, with its heartbeat and open connections; each statement written
 * once (docs/adr/0007).
 */
#include "store/sql.h"

/* ?1 id, ?2 now, ?3 version, ?4 host name, ?5 pid, ?6 listen address */
const struct store_sql SQL_NODES_REGISTER = STORE_SQL(
    "INSERT INTO nodes (id, started_at, heartbeat_at, stopped_at, connections, websockets,"
    " version, hostname, pid, address) VALUES (?1, ?2, ?2, NULL, 0, 0, ?3, ?4, ?5, ?6)");

/* ?1 id, ?2 now, ?3 open connections, ?4 of them WebSockets */
const struct store_sql SQL_NODES_HEARTBEAT =
    STORE_SQL("UPDATE nodes SET heartbeat_at = ?2, connections = ?3, websockets = ?4 WHERE"
              " id = ?1");

/* ?1 id, ?2 now */
const struct store_sql SQL_NODES_STOP = STORE_SQL(
    "UPDATE nodes SET stopped_at = ?2, heartbeat_at = ?2, connections = 0, websockets = 0 WHERE"
    " id = ?1");

/* ?1 before: forgets the nodes whose last sign of life is older */
const struct store_sql SQL_NODES_PRUNE = STORE_SQL("DELETE FROM nodes WHERE heartbeat_at < ?1");

/* every node known */
const struct store_sql SQL_NODES_COUNT = STORE_SQL("SELECT count(*) FROM nodes");

/* ?1 alive since, ?2 limit, ?3 offset: alive ones first, newest first */
const struct store_sql SQL_NODES_PAGE = STORE_SQL(
    "SELECT id, CASE WHEN stopped_at IS NULL AND heartbeat_at >= ?1 THEN 1 ELSE 0 END AS alive,"
    " started_at, heartbeat_at, stopped_at, connections, websockets, version, hostname, pid,"
    " address FROM"
    " nodes ORDER BY alive DESC, started_at DESC, id LIMIT ?2 OFFSET ?3");
