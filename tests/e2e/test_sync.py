"""
Sync (docs/chat.md, "Sync"): GET /api/v1/sync and the WebSocket `sync` frame replay the event
log after a cursor — every message of every conversation the user belongs to, in order, once,
in bounded pages with has_more — then the client goes live with no gap and no duplicate at the
boundary (the client algorithm of docs/chat.md, followed here). Membership changes are events
with a cursor: a removed member gets the removal last and nothing after, and cannot sync the
conversation afterwards; an added member sees from their join. Validation names cursor/limit.
"""
import threading
import time

import pytest

from conftest import HttpConn, Server, module_server, ws_open
from test_conversations import App, app_headers, error_of
from test_messages import direct, frames_until, group, nothing_of, send


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory)


@pytest.fixture(scope="module")
def app(server):
    return App(server, app_headers(server))


def sync_page(app, uid, cursor, limit=None):
    q = "/sync?cursor=%s" % cursor + ("&limit=%d" % limit if limit else "")
    r = app.call(uid, "GET", q)
    assert r.status == 200, r
    return r.json()


def sync_all(app, uid, cursor="0", limit=None):
    """Every event after cursor, page by page; the last cursor."""
    events, pages = [], 0
    while True:
        p = sync_page(app, uid, cursor, limit)
        assert p["complete"] is True, p
        events += p["events"]
        pages += 1
        if p["events"]:
            assert p["cursor"] == p["events"][-1]["cursor"]
        cursor = p["cursor"]
        if not p["has_more"]:
            return events, cursor, pages


def messages_of(events, conv):
    return [e["message"] for e in events
            if e["type"] == "message.new" and e["message"]["conversation_id"] == conv]


def cursor_now(app, uid):
    return sync_all(app, uid)[1]


# ---------------------------------------------------------------- HTTP

def test_offline_member_syncs_exactly_the_500_in_order(app):
    app.users("oa", "ob")
    conv = direct(app, "oa", "ob")
    start = cursor_now(app, "ob")
    sent = [send(app, "oa", conv, "m%d" % i).json() for i in range(500)]
    assert all("cursor" in m for m in sent)
    events, last, pages = sync_all(app, "ob", start)
    got = messages_of(events, conv)
    assert [m["id"] for m in got] == [m["id"] for m in sent]
    assert [m["seq"] for m in got] == list(range(1, 501))
    assert [m["content"] for m in got[:2]] == ["m0", "m1"]
    assert pages == 5 and last == sent[-1]["cursor"]  # 100 per page by default
    cursors = [int(e["cursor"]) for e in events]
    assert cursors == sorted(set(cursors))
    # the replayed frame is the live one: the same message object, and its cursor
    assert events[-1] == {"type": "message.new", "message": {k: v for k, v in sent[-1].items()
                                                             if k != "cursor"},
                          "cursor": sent[-1]["cursor"]}
    # bigger pages: 500 at most
    p = sync_page(app, "ob", start, 500)
    assert len(p["events"]) == 500 and p["has_more"] is False
    # nothing after the last cursor
    assert sync_page(app, "ob", last)["events"] == []


def test_validation_names_cursor_and_limit(app):
    app.users("va")
    for bad in ("abc", "-1", "1.5", "12345678901234567890", "9" * 32, "9" * 200):
        error_of(app.call("va", "GET", "/sync?cursor=" + bad), 422, "cursor")
    for bad in ("0", "501", "x", "-3", "1" * 40):
        error_of(app.call("va", "GET", "/sync?cursor=0&limit=" + bad), 422, "limit")
    # a cursor past the newest event was never given by this server: a 422, not an empty page
    # that would skip every event up to it
    head = cursor_now(app, "va")
    r = app.call("va", "GET", "/sync?cursor=%d" % (int(head) + 1000000))
    error_of(r, 422, "cursor")
    assert "ahead of the newest event" in r.json()["error"]["message"], r
    assert sync_page(app, "va", "0", 500)["has_more"] is False


def test_membership_changes_are_events_with_a_cursor(app, server):
    app.users("ga", "gb", "gc")
    before_c = cursor_now(app, "gc")
    conv = group(app, "ga", ["gb"])
    for i in range(3):
        assert send(app, "ga", conv, "early%d" % i).status == 201
    sock_b = ws_open(server.port, "/ws?token=" + app.token("gb"))
    # gc is added: gb's live frame carries a cursor, and gc sees from the join only
    r = app.call("ga", "POST", "/conversations/%s/members" % conv, {"user_ids": ["gc"]})
    assert r.status == 200, r
    f = frames_until(sock_b, lambda f: f["type"] == "conversation.updated")[-1]
    assert f["cursor"].isdigit() and f["conversation"]["id"] == conv
    assert send(app, "ga", conv, "late").status == 201
    events, _, _ = sync_all(app, "gc", before_c)
    added = {"event": "member.added", "user_ids": ["gc"], "by": "ga"}  # the system message
    assert [m["content"] for m in messages_of(events, conv)] == [added, "late"]
    ups = [e for e in events if e["type"] == "conversation.updated"]
    assert [e["cursor"] for e in ups] == [f["cursor"]]  # the add, not the creation before it
    assert "gc" in [m["user_id"] for m in ups[0]["conversation"]["members"]]
    # gb syncing from before the creation sees it all, with every event's cursor
    events_b, _, _ = sync_all(app, "gb", before_c)
    kinds = [e["type"] for e in events_b if e.get("conversation", {}).get("id") == conv
             or e.get("message", {}).get("conversation_id") == conv]
    assert kinds == ["conversation.updated"] + ["message.new"] * 3 + \
        ["conversation.updated", "message.new", "message.new"]


def test_a_removed_member_gets_the_removal_last_and_cannot_sync_after(app, server):
    app.users("ra", "rb", "rc")
    conv = group(app, "ra", ["rb", "rc"])
    assert send(app, "ra", conv, "before").status == 201
    start = cursor_now(app, "rb")
    sock = ws_open(server.port, "/ws?token=" + app.token("rb"))
    r = app.call("ra", "DELETE", "/conversations/%s/members/rb" % conv)
    assert r.status == 200, r
    live = frames_until(sock, lambda f: f["type"] == "conversation.updated")[-1]
    assert live["removed"] == ["rb"] and live["cursor"].isdigit()
    for i in range(3):
        assert send(app, "ra", conv, "after%d" % i).status == 201
    nothing_of(sock, "message.new")
    events, _, _ = sync_all(app, "rb", start)
    mine = [e for e in events if e.get("conversation", {}).get("id") == conv
            or e.get("message", {}).get("conversation_id") == conv]
    assert mine == [{"type": "conversation.updated", "conversation": {"id": conv},
                     "removed": ["rb"], "cursor": live["cursor"]}]
    # from the removal on: nothing of the conversation at all
    events, _, _ = sync_all(app, "rb", live["cursor"])
    assert [e for e in events if e.get("message", {}).get("conversation_id") == conv] == []
    # a member who stayed sees the removal and the messages after it
    events_c, _, _ = sync_all(app, "rc", start)
    assert [m["content"] for m in messages_of(events_c, conv)] == \
        [{"event": "member.removed", "user_id": "rb", "by": "ra"}, "after0", "after1", "after2"]
    rem = [e for e in events_c if e.get("removed") == ["rb"]]
    assert len(rem) == 1 and rem[0]["cursor"] == live["cursor"]
    assert "rb" not in [m["user_id"] for m in rem[0]["conversation"]["members"]]


def test_a_room_member_syncs_from_their_join_until_they_leave(app):
    app.users("qa", "qb")
    start = cursor_now(app, "qb")
    r = app.call("qa", "POST", "/conversations", {"type": "room", "name": "Lobby"})
    assert r.status == 201, r
    room = r.json()["id"]
    assert send(app, "qa", room, "before").status == 201
    assert app.call("qb", "POST", "/rooms/%s/join" % room).status == 200
    assert app.call("qb", "POST", "/rooms/%s/join" % room).status == 200  # again: no event
    assert send(app, "qa", room, "member").status == 201

    def of_room(events):
        return [e for e in events if e.get("conversation", {}).get("id") == room
                or e.get("message", {}).get("conversation_id") == room]

    mine = of_room(sync_all(app, "qb", start)[0])
    assert [e["type"] for e in mine] == ["conversation.updated", "message.new", "message.new"]
    assert mine[0]["conversation"]["member_count"] == 2 and "removed" not in mine[0]
    assert mine[1]["message"]["content"] == {"event": "member.joined", "user_id": "qb",
                                             "by": "qb"}
    assert mine[2]["message"]["content"] == "member"
    assert app.call("qb", "POST", "/conversations/%s/leave" % room).status == 204
    assert send(app, "qa", room, "gone").status == 201
    # once gone, the room is no longer theirs to read (as its history answers 404): of it,
    # sync gives only the event that told them they left
    mine = of_room(sync_all(app, "qb", start)[0])
    assert mine == [{"type": "conversation.updated", "conversation": {"id": room},
                     "removed": ["qb"], "cursor": mine[0]["cursor"]}]
    # the owner sees the creation, both messages around the join, the join and the leave,
    # each of those two followed by its system message
    events, _, _ = sync_all(app, "qa", start)
    kinds = [(e["type"], e.get("removed")) for e in events
             if e.get("conversation", {}).get("id") == room
             or e.get("message", {}).get("conversation_id") == room]
    assert kinds == [("conversation.updated", None), ("message.new", None),
                     ("conversation.updated", None), ("message.new", None), ("message.new", None),
                     ("conversation.updated", ["qb"]), ("message.new", None), ("message.new", None)]


# ---------------------------------------------------------------- WebSocket

def ws_messages(sock, conv, want, cursor, limit=50, timeout=10, started=None):
    """Pages `sync` from cursor until has_more is false, then reads on: every message.new of
    conv in the order the socket delivered it (replayed and live alike), until want.
    started() runs once the first `sync` is sent."""
    got, syncing = [], True
    sock.send_json({"type": "sync", "cursor": cursor, "limit": limit})
    if started is not None:
        started()
    while syncing or len(got) < want:
        f = sock.recv_frame(timeout=timeout).json()
        if f["type"] == "sync.done":
            assert f["complete"] is True
            if f["has_more"]:
                sock.send_json({"type": "sync", "cursor": f["cursor"], "limit": limit})
            else:
                syncing = False
        elif f["type"] == "message.new" and f["message"]["conversation_id"] == conv:
            got.append(f)
    return got


def test_ws_sync_while_the_peer_sends_gives_600_exactly_once(app, server):
    app.users("wa", "wb")
    conv = direct(app, "wa", "wb")
    start = cursor_now(app, "wb")
    for i in range(500):
        assert send(app, "wa", conv, "o%d" % i).status == 201
    sock = ws_open(server.port, "/ws?token=" + app.token("wb"))
    done = threading.Event()

    def more():
        for i in range(100):
            assert send(app, "wa", conv, "l%d" % i).status == 201
        done.set()

    t = threading.Thread(target=more)
    # the raw stream: replay, then the live frames that came meanwhile, then live; each once,
    # in seq order, with no client-side sorting (docs/protocol.md, "Sync")
    got = ws_messages(sock, conv, 600, start, started=t.start)
    t.join()
    assert done.is_set()
    msgs = [f["message"] for f in got]
    assert [m["seq"] for m in msgs] == list(range(1, 601))
    assert [m["content"] for m in msgs] == ["o%d" % i for i in range(500)] + \
        ["l%d" % i for i in range(100)]
    cursors = [int(f["cursor"]) for f in got]
    assert cursors == sorted(set(cursors))
    nothing_of(sock, "message.new")


def test_ws_events_that_came_live_before_the_sync_are_not_replayed_again(app, server):
    app.users("pa", "pb")
    conv = direct(app, "pa", "pb")
    start = cursor_now(app, "pb")
    for i in range(20):
        assert send(app, "pa", conv, "before%d" % i).status == 201
    sock = ws_open(server.port, "/ws?token=" + app.token("pb"))
    live = [send(app, "pa", conv, "live%d" % i).json() for i in range(5)]
    first = [sock.recv_frame(timeout=10).json() for _ in live]  # live, before any sync
    assert [f["message"]["id"] for f in first] == [m["id"] for m in live]
    got = ws_messages(sock, conv, 20, start, limit=7)
    assert [f["message"]["content"] for f in got] == ["before%d" % i for i in range(20)]
    nothing_of(sock, "message.new")


def test_a_sync_right_after_hello_comes_before_every_live_event(app, server):
    """SPEC §4: after `sync` with the last cursor it saw, a client gets what it missed, then the
    live events, a conversation's in seq order. Messages committed between hello and the
    server reading the sync wait for the replay (docs/protocol.md, "hello"), however late the
    sync comes within the hold; the peer keeps sending all along."""
    app.users("ha", "hb")
    conv = direct(app, "ha", "hb")
    start = cursor_now(app, "hb")
    for i in range(20):
        assert send(app, "ha", conv, "missed%d" % i).status == 201
    total = 20
    for attempt in range(3):
        going, sent = threading.Event(), []

        def more():
            while not going.is_set() or len(sent) < 40:
                assert send(app, "ha", conv, "live").status == 201
                sent.append(1)

        t = threading.Thread(target=more)
        t.start()
        while not sent:  # the peer is sending
            time.sleep(0.01)
        sock = ws_open(server.port, "/ws?token=" + app.token("hb"))
        time.sleep(0.2)  # several messages commit between hello and the sync
        got = ws_messages(sock, conv, 0, start, started=going.set)
        t.join()
        total += len(sent)
        while len(got) < total:
            f = sock.recv_frame(timeout=10).json()
            if f["type"] == "message.new" and f["message"]["conversation_id"] == conv:
                got.append(f)
        assert [f["message"]["seq"] for f in got] == list(range(1, total + 1)), attempt
        nothing_of(sock, "message.new")
        sock.close()


def test_live_messages_reach_a_member_in_seq_order_from_senders_on_every_loop(app, server):
    """Events leave in commit order (docs/chat.md, "Order"): senders on new connections (so on
    every event loop) into one group; the reader's socket gets seq 1, 2, 3, ... without a swap."""
    app.users("lo_a", "lo_b", "lo_r")
    conv = group(app, "lo_a", ["lo_b", "lo_r"])
    sock = ws_open(server.port, "/ws?token=" + app.token("lo_r"))
    first = app.call("lo_a", "GET", "/conversations/%s" % conv).json()["last_seq"]

    tokens = {u: app.token(u) for u in ("lo_a", "lo_b")}

    def sender(uid):
        for _ in range(4):
            with HttpConn(server.port) as c:  # a new connection: the kernel picks its loop
                for _ in range(40):
                    c.request("POST", "/api/v1/conversations/%s/messages" % conv,
                              {"Authorization": "Bearer " + tokens[uid],
                               "Content-Type": "application/json"},
                              b'{"type":"text","content":"x"}')
                    r = c.read_response()
                    assert r.status == 201, r

    threads = [threading.Thread(target=sender, args=(u,)) for u in ("lo_a", "lo_b") * 2]
    for t in threads:
        t.start()
    seqs = []
    while len(seqs) < 640:
        f = sock.recv_frame(timeout=10).json()
        if f["type"] == "message.new":
            seqs.append(f["message"]["seq"])
    for t in threads:
        t.join()
    assert seqs == list(range(first + 1, first + 641))


def test_notifications_and_messages_reach_a_user_in_cursor_order(app, server):
    """Notifications are pushed from the writer's commit too (docs/chat.md, "Order"): while a
    peer sends messages and the app sends notifications to one user, that user's socket gets
    both with cursors that only grow."""
    app.users("cn_a", "cn_r")
    sock = ws_open(server.port, "/ws?token=" + app.token("cn_r"))
    token = app.token("cn_a")
    n = 300

    def chat():
        with HttpConn(server.port) as c:
            for _ in range(n):
                c.request("POST", "/api/v1/messages",
                          {"Authorization": "Bearer " + token,
                           "Content-Type": "application/json"},
                          b'{"to":"cn_r","message":{"type":"text","content":"x"}}')
                r = c.read_response()
                assert r.status == 201, r

    def notify():
        h = dict(app.headers)
        h["Content-Type"] = "application/json"
        with HttpConn(server.port) as c:
            for _ in range(n):
                c.request("POST", "/api/v1/notifications", h,
                          b'{"type":"t","recipients":["cn_r"],"title":"x"}')
                r = c.read_response()
                assert r.status == 202, r

    threads = [threading.Thread(target=chat), threading.Thread(target=notify)]
    for t in threads:
        t.start()
    got = []
    while len(got) < 2 * n:
        f = sock.recv_frame(timeout=10).json()
        if f["type"] in ("message.new", "notification"):
            got.append((int(f["cursor"]), f["type"]))
    for t in threads:
        t.join()
    assert sum(1 for _, k in got if k == "notification") == n
    swapped = [(a, b) for a, b in zip(got, got[1:]) if b[0] <= a[0]]
    assert not swapped, swapped[:10]


def test_ws_pages_of_long_messages_end_early_and_the_socket_stays(app, server):
    app.users("la", "lb")
    conv = direct(app, "la", "lb")
    start = cursor_now(app, "lb")
    text = "长" * 4000  # 12,000 bytes: 100 of them are more than the socket's 1 MiB queue
    sent = [send(app, "la", conv, text).json()["id"] for _ in range(100)]
    sock = ws_open(server.port, "/ws?token=" + app.token("lb"))
    got, cursor, pages = [], start, 0
    while True:
        sock.send_json({"type": "sync", "cursor": cursor, "limit": 500})
        frames = frames_until(sock, lambda f: f["type"] == "sync.done")
        done, frames = frames[-1], frames[:-1]
        pages += 1
        assert len(frames) <= 25 and (not frames or done["cursor"] == frames[-1]["cursor"])
        got += [f["message"]["id"] for f in frames if f["type"] == "message.new"]
        cursor = done["cursor"]
        if not done["has_more"]:
            break
    assert got == sent and pages >= 5


def test_ws_pages_fit_a_small_queue_bound(server_factory):
    # with HERALD_WS_MAX_QUEUE below the 256 KiB page budget, a page ends before the room
    # left under the bound: the syncing client is never closed for its own sync
    s = server_factory({"HERALD_WS_MAX_QUEUE": "16k"})
    a = App(s, app_headers(s))
    a.users("ka", "kb")
    conv = direct(a, "ka", "kb")
    start = cursor_now(a, "kb")
    sent = [send(a, "ka", conv, "k" * 4000).json()["id"] for _ in range(30)]  # 120 KB
    sock = ws_open(s.port, "/ws?token=" + a.token("kb"))
    got, cursor, pages = [], start, 0
    while True:
        sock.send_json({"type": "sync", "cursor": cursor, "limit": 500})
        frames = frames_until(sock, lambda f: f["type"] == "sync.done")
        done = frames.pop()
        pages += 1
        assert 1 <= len(frames) <= 4 or not done["has_more"]
        got += [f["message"]["id"] for f in frames if f["type"] == "message.new"]
        cursor = done["cursor"]
        if not done["has_more"]:
            break
    assert got == sent and pages >= 8
    assert sock.ping("still") == {"type": "pong", "id": "still"}


def test_ws_sync_errors_and_done(app, server):
    app.users("wz")
    sock = ws_open(server.port, "/ws?token=" + app.token("wz"))
    for frame, field in (({"type": "sync", "cursor": 5}, "cursor"),
                         ({"type": "sync", "cursor": "x1"}, "cursor"),
                         ({"type": "sync", "cursor": "0", "limit": 501}, "limit"),
                         ({"type": "sync", "cursor": "0", "limit": 0}, "limit"),
                         ({"type": "sync", "cursor": "999999999999"}, "cursor")):
        sock.send_json(frame)
        e = sock.recv_frame(timeout=5).json()
        assert e["type"] == "error" and e["code"] == "validation_failed", e
        assert e["field"] == field, e
    # absent or empty: from the start, as GET /sync
    for frame in ({"type": "sync", "cursor": "0"}, {"type": "sync"}, {"type": "sync", "cursor": ""}):
        sock.send_json(frame)
        f = sock.recv_frame(timeout=5).json()
        assert f == {"type": "sync.done", "cursor": "0", "has_more": False, "complete": True}


# ---------------------------------------------------------------- hello

def test_hello_carries_the_newest_cursor_also_after_a_restart(app, server, tmp_path):
    app.users("ha", "hb")
    conv = direct(app, "ha", "hb")
    m = send(app, "ha", conv, "x").json()
    sock = ws_open(server.port, "/ws?token=" + app.token("hb"))
    assert sock.hello["cursor"] == m["cursor"]
    # a restarted server starts from the newest event stored
    s = Server(workdir=tmp_path / "restart").start()
    try:
        a = App(s, app_headers(s))
        a.users("h1", "h2")
        with ws_open(s.port, "/ws?token=" + a.token("h2")) as w:  # closed before the stop
            assert w.hello["cursor"] == "0"
        m = send(a, "h1", direct(a, "h1", "h2"), "y").json()
    finally:
        s.stop()
    s = Server(workdir=tmp_path / "restart").start()
    try:
        a = App(s, app_headers(s))
        with ws_open(s.port, "/ws?token=" + a.token("h2")) as w:
            hello = w.hello
        assert hello["cursor"] == m["cursor"] and int(m["cursor"]) > 0
    finally:
        s.stop()


# ---------------------------------------------------------------- retention

def test_with_retention_a_range_still_held_is_complete(server_factory):
    # the retention check reports no gap where none is (test_retention.py makes old rows and
    # shows `complete: false` after pruning)
    s = server_factory(env={"HERALD_HISTORY_DAYS": "30"})
    a = App(s, app_headers(s))
    a.users("t1", "t2")
    conv = direct(a, "t1", "t2")
    ids = [send(a, "t1", conv, "k%d" % i).json()["id"] for i in range(3)]
    p = sync_page(a, "t2", "0")
    assert p["complete"] is True and "earliest_cursor" not in p, p
    assert [m["id"] for m in messages_of(p["events"], conv)] == ids
    assert sync_page(a, "t2", p["cursor"])["complete"] is True
