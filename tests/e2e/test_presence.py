"""
Typing and presence (docs/chat.md, issue 9): the `typing` frame reaches the other members'
devices and not the typist's (nor a non-member: `error` not_found), at most one per
connection and conversation every 2 s; presence online when a user's first device connects
and offline (with last_seen) when the last one has been gone for the grace, told only to
users who share a conversation with them; a reconnect within the grace sends nothing;
GET /presence and GET /users/online; the peer's presence in GET /conversations; last_seen
survives a restart. The grace is 300 ms here (HERALD_PRESENCE_GRACE).
"""
import json
import time

import pytest

from conftest import close_tracked_sockets, http_request, module_server
from test_conversations import API, App, app_headers, error_of
from test_messages import direct, frames_until, group, nothing_of, ws

GRACE = 0.3


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory, env={"HERALD_PRESENCE_GRACE": "300ms"})


@pytest.fixture(scope="module")
def app(server):
    return App(server, app_headers(server))


@pytest.fixture(scope="module")
def other(server):
    return App(server, app_headers(server, "OtherPresence"))


def now_ms():
    return int(time.time() * 1000)


def is_presence(uid, online):
    return lambda f: f["type"] == "presence" and f["user_id"] == uid and f["online"] == online


def is_typing(conv):
    return lambda f: f["type"] == "typing" and f["conversation_id"] == conv


def typing_count(c, conv, wait=0.6):
    n = 0
    try:
        while True:
            f = c.recv_frame(timeout=wait).json()
            n += is_typing(conv)(f)
    except Exception:  # the timeout ends the count
        return n


def presence_of(app, asker, *ids):
    r = app.call(asker, "GET", "/presence?user_ids=" + ",".join(ids))
    assert r.status == 200, r
    return {p["user_id"]: p for p in r.json()["results"]}


# ---------------------------------------------------------------- typing

def test_typing_reaches_the_other_members_and_not_the_typists_devices(app, server):
    app.users("t_a", "t_b", "t_c", "t_out")
    conv = group(app, "t_a", ["t_b", "t_c"], "Typing")
    a1, a2 = ws(server, app, "t_a"), ws(server, app, "t_a")
    b, c, out = ws(server, app, "t_b"), ws(server, app, "t_b"), ws(server, app, "t_out")
    a1.send_json({"type": "typing", "conversation_id": conv})
    for dev in (b, c):
        f = frames_until(dev, is_typing(conv))[-1]
        assert f == {"type": "typing", "conversation_id": conv, "user_id": "t_a"}
    for dev in (a1, a2, out):
        assert nothing_of(dev, "typing")


def test_typing_by_a_non_member_is_not_found(app, other, server):
    app.users("tn_a", "tn_b", "tn_out")
    other.users("tn_a")
    conv = direct(app, "tn_a", "tn_b")
    b = ws(server, app, "tn_b")
    for sock, conv_id in ((ws(server, app, "tn_out"), conv),
                          (ws(server, other, "tn_a"), conv),
                          (ws(server, app, "tn_a"), "c000000000000000000000000")):
        sock.send_json({"type": "typing", "conversation_id": conv_id})
        f = frames_until(sock, lambda f: f["type"] == "error")[-1]
        assert f["code"] == "not_found" and f["field"] == "conversation_id", f
    assert nothing_of(b, "typing")
    sock = ws(server, app, "tn_a")
    for bad in ({"type": "typing"}, {"type": "typing", "conversation_id": 5},
                {"type": "typing", "conversation_id": "not an id"}):
        sock.send_json(bad)
        f = frames_until(sock, lambda f: f["type"] == "error")[-1]
        assert f["code"] == "validation_failed" and f["field"] == "conversation_id", f


def test_typing_is_rate_limited_per_connection_and_conversation(app, server):
    app.users("tr_a", "tr_b")
    d = direct(app, "tr_a", "tr_b")
    g = group(app, "tr_a", ["tr_b"], "Rate")
    a, b = ws(server, app, "tr_a"), ws(server, app, "tr_b")
    t0 = time.monotonic()
    for _ in range(5):
        a.send_json({"type": "typing", "conversation_id": d})
    a.send_json({"type": "typing", "conversation_id": g})  # another conversation: its own
    assert typing_count(b, d) == 1
    a.send_json({"type": "typing", "conversation_id": g})
    # a second connection of the same user has its own allowance
    a2 = ws(server, app, "tr_a")
    a2.send_json({"type": "typing", "conversation_id": d})
    assert typing_count(b, d) == 1
    time.sleep(max(0, 2.1 - (time.monotonic() - t0)))
    a.send_json({"type": "typing", "conversation_id": d})
    assert typing_count(b, d) == 1
    assert nothing_of(a, "error", wait=0.2)


# ---------------------------------------------------------------- presence events

def test_online_and_offline_reach_co_members_only(app, server):
    app.users("p_a", "p_b", "p_stranger")
    direct(app, "p_a", "p_b")
    b, stranger = ws(server, app, "p_b"), ws(server, app, "p_stranger")
    a = ws(server, app, "p_a")
    f = frames_until(b, is_presence("p_a", True))[-1]
    assert f == {"type": "presence", "user_id": "p_a", "online": True, "last_seen": None}
    assert presence_of(app, "p_b", "p_a")["p_a"]["online"] is True
    before = now_ms()
    a.close()
    t_close = time.monotonic()
    f = frames_until(b, is_presence("p_a", False))[-1]
    waited = time.monotonic() - t_close
    assert waited >= GRACE - 0.05, waited  # not before the grace
    assert set(f) == {"type", "user_id", "online", "last_seen"}
    assert before - 50 <= f["last_seen"] <= now_ms(), f
    assert nothing_of(stranger, "presence")
    p = presence_of(app, "p_stranger", "p_a")["p_a"]
    assert p == {"user_id": "p_a", "online": False, "last_seen": f["last_seen"]}


def test_a_reconnect_within_the_grace_sends_no_offline(app, server):
    app.users("f_a", "f_b")
    direct(app, "f_a", "f_b")
    b = ws(server, app, "f_b")
    a = ws(server, app, "f_a")
    frames_until(b, is_presence("f_a", True))
    a.close()
    a = ws(server, app, "f_a")  # back well within 300 ms
    assert nothing_of(b, "presence", wait=GRACE * 3)
    assert presence_of(app, "f_b", "f_a")["f_a"]["online"] is True
    a.close()
    frames_until(b, is_presence("f_a", False))


def test_two_devices_go_offline_only_after_both_close(app, server):
    app.users("d_a", "d_b")
    group(app, "d_b", ["d_a"], "Devices")
    b = ws(server, app, "d_b")
    phone = ws(server, app, "d_a")
    frames_until(b, is_presence("d_a", True))
    laptop = ws(server, app, "d_a")
    assert nothing_of(b, "presence", wait=0.3)  # a second device: nothing new
    phone.close()
    assert nothing_of(b, "presence", wait=GRACE * 3)
    assert presence_of(app, "d_b", "d_a")["d_a"]["online"] is True
    laptop.close()
    f = frames_until(b, is_presence("d_a", False))[-1]
    assert isinstance(f["last_seen"], int)


# ---------------------------------------------------------------- HTTP

def test_get_presence_reports_online_last_seen_and_hides_other_apps(app, other, server):
    app.users("h_on", "h_never", "h_asker")
    other.users("h_foreign")
    on = ws(server, app, "h_on")
    foreign = ws(server, other, "h_foreign")  # online, but in another app
    r = app.call("h_asker", "GET", "/presence?user_ids=h_on,h_never,h_nobody,h_foreign")
    assert r.status == 200, r
    assert r.json() == {"results": [
        {"user_id": "h_on", "online": True, "last_seen": None},
        {"user_id": "h_never", "online": False, "last_seen": None},
        {"user_id": "h_nobody", "online": False, "last_seen": None},
        {"user_id": "h_foreign", "online": False, "last_seen": None}]}
    error_of(app.call("h_asker", "GET", "/presence"), 422, "user_ids")
    error_of(app.call("h_asker", "GET", "/presence?user_ids="), 422, "user_ids")
    error_of(app.call("h_asker", "GET", "/presence?user_ids=a,b%20c"), 422, "user_ids")
    for empty_item in ("a,,b", "a,", ",a", ","):
        error_of(app.call("h_asker", "GET", "/presence?user_ids=" + empty_item), 422, "user_ids")
    many = ",".join("u%d" % i for i in range(101))
    error_of(app.call("h_asker", "GET", "/presence?user_ids=" + many), 422, "user_ids")
    hundred = ",".join("u%d" % i for i in range(100))
    r = app.call("h_asker", "GET", "/presence?user_ids=" + hundred)
    assert r.status == 200 and len(r.json()["results"]) == 100, r
    # the app's own credentials may ask too; another app's see its own users only
    r = http_request(server.port, "GET", API + "/presence?user_ids=h_on,h_foreign", app.headers)
    assert r.status == 200, r
    assert [p["online"] for p in r.json()["results"]] == [True, False]
    r = http_request(server.port, "GET", API + "/presence?user_ids=h_on,h_foreign", other.headers)
    assert [p["online"] for p in r.json()["results"]] == [False, True]
    r = http_request(server.port, "GET", API + "/presence?user_ids=h_on", {"X-App-Key": "nope"})
    assert r.status == 401, r
    # so may the app's bearer token (POST /auth/token), on both presence endpoints
    t = http_request(server.port, "POST", API + "/auth/token", {"Content-Type": "application/json"},
                     json.dumps({"api_key": app.headers["X-App-Key"],
                                 "api_secret": app.headers["X-App-Secret"]}).encode())
    assert t.status == 200, t
    bearer = {"Authorization": "Bearer " + t.json()["access_token"]}
    r = http_request(server.port, "GET", API + "/presence?user_ids=h_on,h_foreign", bearer)
    assert r.status == 200 and [p["online"] for p in r.json()["results"]] == [True, False], r
    r = http_request(server.port, "GET", API + "/users/online?page_size=100", bearer)
    assert r.status == 200 and "h_on" in {u["user_id"] for u in r.json()["results"]}, r
    assert "h_foreign" not in {u["user_id"] for u in r.json()["results"]}, r
    on.close()
    foreign.close()


def test_users_online_is_paged_and_per_app(app, other, server):
    other.users("o_x")
    keep = [ws(server, other, "o_x")]
    # let the offlines of earlier tests pass their grace
    time.sleep(GRACE * 2)
    app.users("o_1", "o_2", "o_3")
    keep += [ws(server, app, u) for u in ("o_1", "o_2", "o_3", "o_3")]
    r = app.call("o_1", "GET", "/users/online?page_size=100")
    assert r.status == 200, r
    body = r.json()
    ids = [u["user_id"] for u in body["results"]]
    assert ids == sorted(ids)
    assert {"o_1", "o_2", "o_3"} <= set(ids) and "o_x" not in ids
    assert body["count"] == len(ids) and body["page"] == 1 and body["page_size"] == 100
    assert all(u["online"] is True for u in body["results"])
    p1 = app.call("o_1", "GET", "/users/online?page=1&page_size=2").json()
    p2 = app.call("o_1", "GET", "/users/online?page=2&page_size=2").json()
    assert [u["user_id"] for u in p1["results"] + p2["results"]] == ids[:4]
    assert p1["count"] == body["count"]
    error_of(app.call("o_1", "GET", "/users/online?page=0"), 422, "page")
    r = other.call("o_x", "GET", "/users/online")
    theirs = {u["user_id"] for u in r.json()["results"]}
    by_app = http_request(server.port, "GET", API + "/users/online?page_size=100", other.headers)
    assert by_app.status == 200 and {u["user_id"] for u in by_app.json()["results"]} == theirs
    assert "o_x" in theirs and not theirs & {"o_1", "o_2", "o_3"}
    for k in keep:
        k.close()


def test_the_direct_peer_carries_presence_in_the_conversation_list(app, server):
    app.users("l_me", "l_peer", "l_g")
    d = direct(app, "l_me", "l_peer")
    g = group(app, "l_me", ["l_g"], "NoPeer")

    def peer():
        r = app.call("l_me", "GET", "/conversations?page_size=100")
        assert r.status == 200, r
        by_id = {c["id"]: c for c in r.json()["results"]}
        assert "peer" not in by_id[g]
        return by_id[d]["peer"]

    assert peer()["online"] is False and peer()["last_seen"] is None
    me = ws(server, app, "l_me")
    p = ws(server, app, "l_peer")
    frames_until(me, is_presence("l_peer", True))
    assert peer()["online"] is True
    p.close()
    f = frames_until(me, is_presence("l_peer", False))[-1]
    assert peer() == dict(peer(), online=False, last_seen=f["last_seen"])


# ---------------------------------------------------------------- restart (last)

def test_last_seen_survives_a_restart(app, server):
    app.users("r_a", "r_b")
    direct(app, "r_a", "r_b")
    b = ws(server, app, "r_b")
    a = ws(server, app, "r_a")
    frames_until(b, is_presence("r_a", True))
    a.close()
    seen = frames_until(b, is_presence("r_a", False))[-1]["last_seen"]
    b.close()
    time.sleep(GRACE * 2)
    close_tracked_sockets(server.port)  # the module's earlier clients: no wait for them at stop
    server.stop()
    server.start()
    assert presence_of(app, "r_b", "r_a")["r_a"] == {"user_id": "r_a", "online": False,
                                                      "last_seen": seen}
