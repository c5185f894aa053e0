#!/usr/bin/env python3
"""bench/notify_floor.py HERALD_BIN [N] [BATCH]: the SQLite floor of one in-app notification.

Writes, with Python's sqlite3 and nothing else (no HTTP, no JSON, no WebSocket), the rows the
server writes for N in-app notifications of one recipient, BATCH notifications per
transaction, into the tables and indexes of a fresh Herald database (the binary makes it):
the notification, its delivery and job, the claim, `sent`, the attempt and the sync event,
the job deleted, then the ACK (`delivered` and delivery_acks). Prints the CPU time per
notification: what the store's writer cannot go below with this schema, whatever batches
it (BENCHMARKS.md, "In-app accept and delivery").
"""
import os
import sqlite3
import subprocess
import sys
import tempfile
import time


def fresh_schema(binary, work):
    """The CREATE statements of the notification tables of a database the server made."""
    data = os.path.join(work, "data")
    env = dict(os.environ, HERALD_LISTEN="127.0.0.1:0", HERALD_DATA_DIR=data,
               HERALD_LOG_LEVEL="warn")
    p = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    try:
        for line in p.stdout:
            if line.startswith("listening on"):
                break
    finally:
        p.terminate()
        p.wait()
    src = sqlite3.connect(os.path.join(data, "herald.db"))
    tables = ("notifications", "deliveries", "jobs", "delivery_attempts", "delivery_acks",
              "events")
    rows = src.execute("SELECT sql FROM sqlite_master WHERE tbl_name IN (%s) AND sql IS NOT NULL"
                       % ",".join("?" * len(tables)), tables).fetchall()
    src.close()
    return [r[0].replace("REFERENCES apps(id) ON DELETE CASCADE", "") for r in rows]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 40000
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    work = tempfile.mkdtemp(prefix="herald-floor-")
    db = sqlite3.connect(os.path.join(work, "floor.db"), isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-16384"):
        db.execute("PRAGMA " + pragma)
    for sql in fresh_schema(binary, work):
        db.execute(sql)
    users = ["u%d" % i for i in range(1000)]
    k = 0
    t0, w0 = time.process_time(), time.time()
    for _ in range(n // batch):
        now = int(time.time() * 1000)
        ids = []
        db.execute("BEGIN")
        for _ in range(batch):
            k += 1
            nid, did, user = "n%016x" % k, "d%016x" % k, users[k % len(users)]
            ids.append(did)
            db.execute("INSERT INTO notifications (id, app_id, type_code, content, recipients,"
                       " send_at, status, deliveries, created_at, updated_at) VALUES"
                       " (?, 'default', 't', 'hello', ?, ?, 'queued', 1, ?, ?)",
                       (nid, '["%s"]' % user, now, now, now))
            db.execute("INSERT INTO deliveries (id, app_id, notification_id, user_id, channel,"
                       " type_code, status, content, created_at, updated_at) VALUES"
                       " (?, 'default', ?, ?, 'inapp', 't', 'pending', 'hello', ?, ?)",
                       (did, nid, user, now, now))
            db.execute("INSERT INTO jobs (delivery_id, app_id, channel, run_at, created_at)"
                       " VALUES (?, 'default', 'inapp', ?, ?)", (did, now, now))
        db.execute("UPDATE jobs SET locked_by = 'floor', locked_until = ? WHERE id IN"
                   " (SELECT id FROM jobs ORDER BY run_at LIMIT ?)", (now + 60000, batch))
        db.execute("UPDATE deliveries SET status = 'sent', sent_at = ?, attempts = 1 WHERE id IN"
                   " (SELECT delivery_id FROM jobs WHERE locked_by = 'floor')", (now,))
        for did in ids:
            db.execute("INSERT INTO delivery_attempts (delivery_id, attempt, outcome,"
                       " created_at) VALUES (?, 1, 'sent', ?)", (did, now))
            db.execute("INSERT INTO events (app_id, conversation_id, kind, created_at, user_id,"
                       " delivery_id) VALUES ('default', '', 'notification', ?, ?, ?)",
                       (now, users[0], did))
        db.execute("DELETE FROM jobs WHERE locked_by = 'floor'")
        db.execute("COMMIT")
        db.execute("BEGIN")  # the client's ACKs
        for did in ids:
            db.execute("UPDATE deliveries SET status = 'delivered', delivered_at = ? WHERE id = ?",
                       (now, did))
            db.execute("INSERT INTO delivery_acks VALUES (?, 'device', ?)", (did, now))
        db.execute("COMMIT")
    cpu, wall = time.process_time() - t0, time.time() - w0
    total = (n // batch) * batch
    print("notifications %d, %d per transaction: CPU %.1f us each (%.0f/s on one core), "
          "wall %.1f us each" % (total, batch, cpu / total * 1e6, total / cpu,
                                  wall / total * 1e6))
    subprocess.run(["rm", "-rf", work], check=False)


if __name__ == "__main__":
    main()
