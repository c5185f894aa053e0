"""
Notifications in sync (docs/notifications.md, "In-app and the inbox"; docs/chat.md, "Sync"):
each in-app delivery sent is an event of the chat's event log whose one audience is its user.
The live `notification` frame carries that event's cursor; GET /api/v1/sync and the WebSocket
`sync` frame replay it to that user only — not to another user of the app, not to a user of
another app with the same id — in cursor order with the chat's events, as the same frame;
re-sends on connect carry the same cursor; a notification whose ttl has passed is not
replayed; retention prunes the events; after a kill -9 in the middle of the queue every
delivery is logged exactly once. Runs on SQLite and, under scripts/pg-test.sh, on PostgreSQL
(there the killed server's leases pass after 60 s first).
"""
import json
import threading
import time

import pytest

from conftest import Server, http_request, module_server, wait_until, ws_open
from test_conversations import App, app_headers
from test_messages import direct, send
from test_notifications import no_notification, notifications
from test_retention import DAYS_40_MS, age_rows, pruned_counts
from test_sync import sync_page

API = "/api/v1"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory)


@pytest.fixture(scope="module")
def app(server):
    a = App(server, app_headers(server))
    a.users("ann", "ben", "cat", "dan", "eve")
    return a


@pytest.fixture(scope="module")
def other(server):
    a = App(server, app_headers(server, "NotifySyncOther"))
    a.users("ann")
    return a


def notify(app, users, title, **extra):
    body = dict({"type": "order.shipped", "recipients": list(users), "title": title,
                 "content": "about " + title, "data": {"t": title}}, **extra)
    r = http_request(app.server.port, "POST", API + "/notifications", app.headers,
                     json.dumps(body).encode(), timeout=30)
    assert r.status == 202, r
    return r.json()["id"]


def deliveries(app, nid):
    r = http_request(app.server.port, "GET", API + "/notifications/" + nid, app.headers, None,
                     timeout=30)
    assert r.status == 200, r
    return r.json()["deliveries"]


def wait_sent(app, nid):
    """Until every delivery of the notification left the queue; its deliveries."""
    done = ("sent", "delivered", "read")
    wait_until(lambda: all(d["status"] in done for d in deliveries(app, nid)), what="sent")
    return deliveries(app, nid)


def hello_cursor(app, uid):
    c = ws_open(app.server.port, "/ws?token=" + app.token(uid))
    cursor = c.hello["cursor"]
    c.close()
    return cursor


def sync_all(app, uid, cursor, limit=None):
    events, pages = [], 0
    while True:
        p = sync_page(app, uid, cursor, limit)
        assert p["complete"] is True, p
        events += p["events"]
        pages += 1
        cursor = p["cursor"]
        if not p["has_more"]:
            return events, cursor, pages


def ws_sync(app, uid, cursor, device):
    """The frames a WebSocket `sync` replays (notifications re-sent on connect left out: the
    device ACKed them before), and its sync.done."""
    c = ws_open(app.server.port, "/ws?token=%s&device_id=%s" % (app.token(uid), device))
    try:
        c.send_json({"type": "sync", "cursor": cursor})
        frames = []
        while True:
            f = c.recv_json(timeout=5)
            if f["type"] == "sync.done":
                return frames, f
            if f["type"] in ("notification", "message.new"):
                frames.append(f)
    finally:
        c.close()


def test_an_offline_user_syncs_notifications_between_chat_messages(app, other):
    start = hello_cursor(app, "ann")
    other_start = hello_cursor(other, "ann")
    conv = direct(app, "ben", "ann")
    n1 = notify(app, ["ann"], "first")
    d1, = wait_sent(app, n1)
    m = send(app, "ben", conv, "between").json()
    n2 = notify(app, ["ann", "cat"], "second")
    d2 = [d for d in wait_sent(app, n2) if d["user_id"] == "ann"][0]

    events, last, pages = sync_all(app, "ann", start)
    mine = [e for e in events if e["type"] == "notification"
            or (e["type"] == "message.new" and e["message"]["conversation_id"] == conv)]
    assert [e["type"] for e in mine] == ["notification", "message.new", "notification"], mine
    assert [e.get("delivery_id") for e in mine] == [d1["id"], None, d2["id"]]
    assert mine[1]["message"]["id"] == m["id"] and mine[1]["cursor"] == m["cursor"]
    cursors = [int(e["cursor"]) for e in events]
    assert cursors == sorted(set(cursors)) and last == events[-1]["cursor"]
    assert int(mine[0]["cursor"]) < int(m["cursor"]) < int(mine[2]["cursor"])
    # the frame as the live one: the delivery, its notification, when, its cursor
    assert mine[0] == {"type": "notification", "delivery_id": d1["id"],
                       "notification": {"type": "order.shipped", "title": "first",
                                        "content": "about first", "data": {"t": "first"}},
                       "created_at": d1["created_at"], "cursor": mine[0]["cursor"]}
    # one event per page: the same events, in the same order
    paged, last_paged, npages = sync_all(app, "ann", start, limit=1)
    assert paged == events and last_paged == last and npages == len(events)
    # nothing after the last cursor
    assert sync_page(app, "ann", last)["events"] == []

    # cat got the second one only, ben (in the conversation) and dan none
    cat = [e for e in sync_all(app, "cat", start)[0] if e["type"] == "notification"]
    assert [e["notification"]["title"] for e in cat] == ["second"]
    assert cat[0]["delivery_id"] != d2["id"] and cat[0]["cursor"] != mine[2]["cursor"]
    for uid in ("ben", "dan"):
        assert [e for e in sync_all(app, uid, start)[0] if e["type"] == "notification"] == []
    # nor does "ann" of another app
    assert sync_all(other, "ann", other_start)[0] == []
    assert sync_all(other, "ann", "0")[0] == []

    # the WebSocket sync replays the same frames in the same order; ACKed first by this
    # device, so that the re-sends on connect do not come
    c = ws_open(app.server.port, "/ws?token=%s&device_id=tab" % app.token("ann"))
    resent = notifications(c, 2)
    for f in resent:
        c.send_json({"type": "ack", "delivery_id": f["delivery_id"]})
    # a re-send carries its event's cursor too
    assert [(f["delivery_id"], f["cursor"]) for f in resent] == \
        [(mine[0]["delivery_id"], mine[0]["cursor"]), (mine[2]["delivery_id"], mine[2]["cursor"])]
    # the ACK rows are written with the delivered state: both there, nothing is re-sent
    wait_until(lambda: [d["status"] for d in deliveries(app, n1)] == ["delivered"] and
               [d["status"] for d in deliveries(app, n2) if d["user_id"] == "ann"] ==
               ["delivered"], what="acked")
    c.close()
    frames, done = ws_sync(app, "ann", start, "tab")
    assert frames == [e for e in events if e["type"] in ("notification", "message.new")]
    assert done["cursor"] == last and done["has_more"] is False and done["complete"] is True
    # ACKed (both are, by now), a notification is still replayed; read (on some device), it
    # is passed over, as the re-sends pass it over: the cursor still moves past it
    r = app.call("ann", "POST", "/inbox/%s/read" % d1["id"])
    assert r.status == 200, r
    assert sync_all(app, "ann", start)[0] == [e for e in events if e is not mine[0]]
    before = events[events.index(mine[0]) - 1]["cursor"] if events.index(mine[0]) else start
    p = sync_page(app, "ann", before, 1)
    assert p["events"] == [] and p["cursor"] == mine[0]["cursor"] and p["has_more"] is True, p


def test_the_live_frame_carries_the_cursor_sync_gives(app, other):
    start = hello_cursor(app, "dan")
    c = ws_open(app.server.port, "/ws?token=" + app.token("dan"))
    o = ws_open(other.server.port, "/ws?token=" + other.token("ann"))
    e = ws_open(app.server.port, "/ws?token=" + app.token("eve"))
    try:
        nid = notify(app, ["dan"], "live")
        f, = notifications(c)
        assert f["cursor"].isdigit() and int(f["cursor"]) > int(start)
        events = sync_all(app, "dan", start)[0]
        assert events == [f]  # the same frame, the same cursor
        wait_sent(app, nid)
        # a new connection's hello starts at or after it
        assert int(hello_cursor(app, "eve")) >= int(f["cursor"])
        no_notification(o)  # not to "ann" of the other app
        no_notification(e)  # nor to another user of this app
    finally:
        c.close()
        o.close()
        e.close()


def test_a_notification_past_its_ttl_is_not_replayed(app):
    start = hello_cursor(app, "eve")
    t0 = time.monotonic()
    nid = notify(app, ["eve"], "soon stale", ttl=4000)
    d, = wait_sent(app, nid)
    events = sync_all(app, "eve", start)[0]
    assert [e["delivery_id"] for e in events] == [d["id"]]
    cursor = events[0]["cursor"]
    time.sleep(max(0.0, t0 + 4.2 - time.monotonic()))
    p = sync_page(app, "eve", start)
    assert p["events"] == [] and p["cursor"] == cursor  # passed over, the cursor moves on


def test_retention_prunes_notification_events(tmp_path):
    env = {"HERALD_HISTORY_DAYS": "30"}
    s = Server(env=env, workdir=tmp_path / "ret").start()
    try:
        app = App(s, app_headers(s))
        app.users("r1", "r2")
        conv = direct(app, "r1", "r2")
        old = notify(app, ["r2"], "old")
        wait_sent(app, old)
        new = notify(app, ["r2"], "new")
        d_new, = wait_sent(app, new)
        last = send(app, "r1", conv, "newest").json()  # the newest event is never pruned
        before = sync_all(app, "r2", "0")[0]
        old_cursor = [e for e in before if e["type"] == "notification"][0]["cursor"]
    finally:
        s.stop()
    age_rows(s, "UPDATE events SET created_at = created_at - %d WHERE cursor <= %s;"
             % (DAYS_40_MS, old_cursor))
    s = Server(env=env, workdir=tmp_path / "ret").start()
    try:
        # the conversation's creation and the old notification's event
        assert pruned_counts(s) == (2, 0)
        app = App(s, app_headers(s))
        p = sync_page(app, "r2", "0")
        assert p["complete"] is False, p
        assert [e.get("delivery_id") for e in p["events"] if e["type"] == "notification"] == \
            [d_new["id"]]
        assert p["events"][-1]["cursor"] == last["cursor"]
        assert sync_page(app, "r2", old_cursor)["complete"] is True
    finally:
        s.stop()


def test_a_notification_older_than_the_history_is_not_served_and_says_so(tmp_path):
    env = {"HERALD_HISTORY_DAYS": "30"}
    s = Server(env=env, workdir=tmp_path / "held").start()
    try:
        app = App(s, app_headers(s))
        app.users("h1")
        start = hello_cursor(app, "h1")
        wait_sent(app, notify(app, ["h1"], "aging"))
        cursor = sync_all(app, "h1", start)[1]
    finally:
        s.stop()
    # the newest event of all is never pruned: this one stays, older than the history
    age_rows(s, "UPDATE events SET created_at = created_at - %d;" % DAYS_40_MS)
    s = Server(env=env, workdir=tmp_path / "held").start()
    try:
        app = App(s, app_headers(s))
        p = sync_page(app, "h1", start)
        assert p["events"] == [] and p["complete"] is False, p
        assert p["earliest_cursor"] == str(int(cursor) + 1)
        assert sync_page(app, "h1", cursor)["complete"] is True
    finally:
        s.stop()


def test_kill_9_while_in_app_deliveries_run_logs_each_sent_one_once(tmp_path):
    """The event is written in the write that records the delivery sent: after a kill -9
    in the middle of the queue (1,200 queued for one moment: batches of 500) and the restart,
    every delivery is sent and has exactly one event, and each frame pushed before the kill
    carried the cursor sync gives it."""
    workdir = tmp_path / "k9"
    s = Server(workdir=workdir).start()
    accepted, live, lock = [], [], threading.Lock()
    try:
        app = App(s, app_headers(s))
        app.users("k1")
        start = hello_cursor(app, "k1")
        c = ws_open(s.port, "/ws?token=" + app.token("k1"))

        def collect(fr):
            with lock:
                live.append(fr)

        at = int(time.time() * 1000) + 6000

        def sender(k):
            for i in range(k, 1200, 4):
                nid = notify(app, ["k1"], "k%04d" % i, type="kill.inapp", send_at=at)
                with lock:
                    accepted.append(nid)

        def watch():  # the frames pushed live, until the kill closes the socket
            try:
                while True:
                    fr = c.recv_json(timeout=60)
                    if fr["type"] == "notification":
                        collect(fr)
            except Exception:
                pass

        w = threading.Thread(target=watch)
        w.start()
        ts = [threading.Thread(target=sender, args=(k,)) for k in range(4)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        assert len(accepted) == 1200
        wait_until(lambda: len(live) >= 300, timeout=60, what="in-app frames under way")
    finally:
        s.kill()
    c.close()
    w.join()
    s = Server(workdir=workdir).start()
    try:
        app = App(s, app_headers(s))
        def total(status=None):
            q = "/deliveries?type=kill.inapp" + ("&status=" + status if status else "")
            return http_request(s.port, "GET", API + q, app.headers, None,
                                timeout=30).json()["count"]

        n = total()
        assert n == len(accepted)
        wait_until(lambda: total("sent") == n, timeout=150, what="every delivery sent")
        events = [e for e in sync_all(app, "k1", start)[0] if e["type"] == "notification"]
        ids = [e["delivery_id"] for e in events]
        assert len(ids) == len(set(ids)) == n  # one event each, none twice
        assert {nid + "-1" for nid in accepted} <= set(ids)
        by_id = {e["delivery_id"]: e["cursor"] for e in events}
        with lock:
            pushed = list(live)
        assert pushed and all(f["cursor"] is not None for f in pushed)
        assert all(by_id[f["delivery_id"]] == f["cursor"] for f in pushed)
    finally:
        s.stop()
    print("kill -9 after %d frames pushed; %d deliveries, all sent and logged once"
          % (len(pushed), n))
