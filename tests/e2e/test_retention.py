"""
Retention (docs/chat.md, "Retention"): with HERALD_HISTORY_DAYS set, the server deletes the
messages and events older than that many days, at start and then periodically, in batches;
what a conversation holds stays gapless by seq, history answers what is held, sync from before
the pruned range answers complete: false with earliest_cursor, and cursors and seqs are never
handed out again.

Old rows are made by the test itself: the server is stopped, the created_at of rows it wrote is
moved 40 days back in its database (SQLite file, or the PostgreSQL database of the run), and the
server is started again — its first housekeeping pass runs at start.
"""
import re
import sqlite3
import subprocess

from conftest import PG_URL, Server, pg_database_for, ws_open
from test_conversations import App, app_headers
from test_guarantees import run_senders
from test_messages import direct, history, send
from test_sync import messages_of, sync_page

DAYS_40_MS = 40 * 24 * 3600 * 1000


def age_rows(server, sql):
    """Runs sql on the stopped server's database."""
    assert server.stopped
    if PG_URL:
        p = subprocess.run(["psql", pg_database_for(server.workdir), "-v", "ON_ERROR_STOP=1",
                            "-qc", sql], capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
    else:
        db = sqlite3.connect(server.data_dir + "/herald.db")
        db.executescript(sql)
        db.commit()
        db.close()


def pruned_counts(server):
    line = server.wait_for_log(lambda l: "pruned events=" in l, timeout=30)
    m = re.search(r"pruned events=(\d+) messages=(\d+) older_than_days=30", line)
    assert m, line
    return int(m.group(1)), int(m.group(2))


def test_old_messages_are_pruned_in_batches_and_the_rest_stays_gapless(tmp_path):
    env = {"HERALD_HISTORY_DAYS": "30"}
    s = Server(env=env, workdir=tmp_path / "ret").start()
    try:
        app = App(s, app_headers(s))
        app.users("p1", "p2")
        conv = direct(app, "p1", "p2")
        todo = [("old-%04d" % i, "old %d" % i) for i in range(1200)]  # more than one batch
        acked, _ = run_senders(s.port, [app.token("p1")], conv, [todo])
        assert len(acked) == 1200
        last_old = send(app, "p1", conv, "old last", client_msg_id="old-last").json()
        new = [send(app, "p1", conv, "new %d" % i).json() for i in range(10)]
    finally:
        s.stop()
    # everything up to the last old message (the conversation's creation too) is 40 days old
    age_rows(s, "UPDATE events SET created_at = created_at - %d WHERE cursor <= %s;"
                "UPDATE messages SET created_at = created_at - %d WHERE seq <= %d;"
             % (DAYS_40_MS, last_old["cursor"], DAYS_40_MS, last_old["seq"]))

    s = Server(env=env, workdir=tmp_path / "ret").start()
    try:
        assert pruned_counts(s) == (1202, 1201)  # the creation, 1,201 messages and their events
        app = App(s, app_headers(s))
        # history holds the newest messages only, seq gapless from the oldest held
        page = history(app, "p2", conv, "?after_seq=0&limit=100")
        assert [m["id"] for m in page["results"]] == [m["id"] for m in new]
        assert [m["seq"] for m in page["results"]] == list(range(1202, 1212))
        page = history(app, "p2", conv, "?limit=100")
        assert [m["seq"] for m in page["results"]] == list(range(1211, 1201, -1))
        assert page["has_more"] is False
        c = app.call("p2", "GET", "/conversations/" + conv).json()
        assert c["last_seq"] == 1211 and c["last_message"]["id"] == new[-1]["id"]

        # a sync from before the pruned range says so, and starts at what is held
        p = sync_page(app, "p2", "0")
        assert p["complete"] is False and p["earliest_cursor"] == new[0]["cursor"], p
        assert [m["id"] for m in messages_of(p["events"], conv)] == [m["id"] for m in new]
        # from the last pruned cursor on, nothing is missing
        p = sync_page(app, "p2", last_old["cursor"])
        assert p["complete"] is True and "earliest_cursor" not in p, p
        assert len(p["events"]) == 10

        # seq and cursor go on from where they were, never handed out again
        m = send(app, "p1", conv, "after").json()
        assert m["seq"] == 1212 and int(m["cursor"]) > int(new[-1]["cursor"])
    finally:
        s.stop()


def test_the_newest_event_is_kept_so_cursors_never_restart(tmp_path):
    env = {"HERALD_HISTORY_DAYS": "30"}
    s = Server(env=env, workdir=tmp_path / "newest").start()
    try:
        app = App(s, app_headers(s))
        app.users("n1", "n2")
        conv = direct(app, "n1", "n2")
        sent = [send(app, "n1", conv, "x%d" % i).json() for i in range(3)]
    finally:
        s.stop()
    age_rows(s, "UPDATE events SET created_at = created_at - %d;"
                "UPDATE messages SET created_at = created_at - %d;" % (DAYS_40_MS, DAYS_40_MS))
    s = Server(env=env, workdir=tmp_path / "newest").start()
    try:
        assert pruned_counts(s) == (3, 2)  # the newest event stays, with its message
        app = App(s, app_headers(s))
        assert [m["id"] for m in history(app, "n2", conv)["results"]] == [sent[-1]["id"]]
        with ws_open(s.port, "/ws?token=" + app.token("n2")) as w:  # closed before the stop
            assert w.hello["cursor"] == sent[-1]["cursor"]
        m = send(app, "n1", conv, "y").json()
        assert int(m["cursor"]) == int(sent[-1]["cursor"]) + 1 and m["seq"] == 4
    finally:
        s.stop()


def test_without_retention_nothing_is_pruned(tmp_path):
    s = Server(workdir=tmp_path / "keep").start()
    try:
        app = App(s, app_headers(s))
        app.users("q1", "q2")
        conv = direct(app, "q1", "q2")
        sent = [send(app, "q1", conv, "x%d" % i).json()["id"] for i in range(3)]
    finally:
        s.stop()
    age_rows(s, "UPDATE events SET created_at = created_at - %d;"
                "UPDATE messages SET created_at = created_at - %d;" % (DAYS_40_MS, DAYS_40_MS))
    s = Server(workdir=tmp_path / "keep").start()
    try:
        app = App(s, app_headers(s))
        assert [m["id"] for m in history(app, "q2", conv, "?after_seq=0")["results"]] == sent
        assert sync_page(app, "q2", "0")["complete"] is True
        assert "pruned" not in s.stderr_text()
    finally:
        s.stop()
