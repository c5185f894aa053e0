"""
The live monitor (issue 10 item 3, docs/service.md "Live monitor", docs/protocol.md "Operator
connections"): operators holding conversations:monitor list and read every conversation of
their apps (GET /admin/conversations, /admin/conversations/{id}, .../messages) and receive its
events over /ws with their operator token, read-only and invisible to the members; a role
limited to some apps sees only those (another app's conversation is 404); revoking the
operator or changing its rights closes its socket.
"""
import time

import pytest

from conftest import http_request, module_server, ws_handshake, ws_open
from test_conversations import App, app_headers, error_of
from test_edit_recall import operator, operator_call, root_token
from test_messages import direct, frames_until, group, history, nothing_of, send

API = "/api/v1"
PERM = "conversations:monitor"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory)


@pytest.fixture(scope="module")
def app(server):
    a = App(server, app_headers(server, "ShopMon"))
    a.users("b1", "b2", "m1", "m2", kind="buyer")
    a.users("m1", "m2", kind="merchant")
    return a


@pytest.fixture(scope="module")
def other(server):
    a = App(server, app_headers(server, "OtherMon"))
    a.users("b1", "m1")
    return a


@pytest.fixture(scope="module")
def root(server):
    return root_token(server, "boss-mon")


def app_id_of(server, root, name):
    apps = operator_call(server, root, "GET", "/admin/apps?page_size=100").json()["results"]
    return [x["id"] for x in apps if x["name"] == name][0]


@pytest.fixture(scope="module")
def ids(server, root, app, other):
    return {"app": app_id_of(server, root, "ShopMon"), "other": app_id_of(server, root, "OtherMon")}


@pytest.fixture(scope="module")
def mon(server, root, ids):
    """An operator monitoring the shop app only."""
    return operator(server, root, "mon-shop", [PERM], [ids["app"]])


def monitor_ws(server, token):
    return ws_open(server.port, "/ws?token=" + token)


def listed(server, token, query=""):
    r = operator_call(server, token, "GET", "/admin/conversations" + query)
    assert r.status == 200, r
    body = r.json()
    assert set(body) == {"count", "results", "page", "page_size"}, body
    return body


# ---------------------------------------------------------------- HTTP

def test_without_the_permission_every_monitor_endpoint_is_403(server, root, app):
    tok = operator(server, root, "mon-none", ["users:read"])
    conv = direct(app, "b1", "m1")
    for path in ("/admin/conversations", "/admin/conversations/" + conv,
                 "/admin/conversations/%s/messages" % conv):
        error_of(operator_call(server, tok, "GET", path), 403, PERM, "forbidden")
    r = http_request(server.port, "GET", API + "/admin/conversations")
    assert r.status == 401, r
    r = app.call("b1", "GET", "/admin/conversations")  # a user token is no console token
    assert r.status == 401, r


def test_an_app_limited_monitor_sees_its_apps_only(server, mon, app, other, ids):
    mine = direct(app, "b1", "m1")
    theirs = direct(other, "b1", "m1")
    got = listed(server, mon, "?page_size=100")
    listed_ids = [c["id"] for c in got["results"]]
    assert mine in listed_ids and theirs not in listed_ids, got
    assert all(c["app_id"] == ids["app"] for c in got["results"]), got
    error_of(operator_call(server, mon, "GET", "/admin/conversations/" + theirs), 404)
    error_of(operator_call(server, mon, "GET", "/admin/conversations/%s/messages" % theirs), 404)
    error_of(operator_call(server, mon, "GET", "/admin/conversations?app_id=" + ids["other"]),
             404, "app_id")
    r = operator_call(server, mon, "GET", "/admin/conversations/" + mine)
    assert r.status == 200 and r.json()["id"] == mine, r


def test_list_filters_and_paging(server, root, app):
    tok = operator(server, root, "mon-all", [PERM])  # every app
    # an app that does not exist is a 404 even for an operator of every app, not an empty page
    error_of(operator_call(server, tok, "GET", "/admin/conversations?app_id=nosuchapp"), 404,
             "app_id")
    t0 = int(time.time() * 1000)
    a = direct(app, "b2", "m2")
    send(app, "b2", a, "first")
    time.sleep(0.01)
    g = group(app, "m2", ["b1"], name="Team")
    send(app, "m2", g, "second")
    t1 = int(time.time() * 1000) + 1
    by_user = listed(server, tok, "?user_id=b2&page_size=100")["results"]
    assert [c["id"] for c in by_user] == [a], by_user
    window = listed(server, tok, "?from=%d&to=%d&page_size=100" % (t0, t1))["results"]
    assert [c["id"] for c in window][:2] == [g, a], window  # newest activity first
    groups = listed(server, tok, "?type=group&user_id=m2")["results"]
    assert [c["id"] for c in groups] == [g], groups
    merchants = listed(server, tok, "?kind=merchant&from=%d" % t0)["results"]
    assert {c["id"] for c in merchants} == {a, g}, merchants
    assert listed(server, tok, "?kind=nobody")["count"] == 0
    one = listed(server, tok, "?from=%d&page_size=1" % t0)
    two = listed(server, tok, "?from=%d&page_size=1&page=2" % t0)
    assert one["count"] == two["count"] >= 2 and (one["page"], two["page"]) == (1, 2)
    assert one["results"][0]["id"] == g and two["results"][0]["id"] == a, (one, two)
    c = one["results"][0]
    assert c["last_message"]["preview"] == "second" and c["last_message"]["sender_id"] == "m2", c
    assert {m["user_id"] for m in c["members"]} == {"m2", "b1"} and c["member_count"] == 2, c
    assert "read_seq" not in c and "peer" not in c, c
    for q, field in (("?type=chat", "type"), ("?user_id=bad%20id", "user_id"),
                     ("?from=yesterday", "from"), ("?to=-5", "to"), ("?page=0", "page"),
                     ("?page_size=0", "page_size"), ("?kind=" + "k" * 65, "kind")):
        error_of(operator_call(server, tok, "GET", "/admin/conversations" + q), 422, field)


def test_status_assignee_and_support_filters(server, root, app):
    tok = operator(server, root, "mon-svc", [PERM])
    app.users("b7", kind="buyer")
    app.users("m7", kind="merchant")
    conv = direct(app, "b7", "m7")  # a service conversation: open, the merchant assigned
    r = app.call("m7", "POST", "/conversations/%s/status" % conv, {"status": "pending"})
    assert r.status == 200, r
    pending = listed(server, tok, "?status=pending&user_id=b7")["results"]
    assert [(c["id"], c["status"], c["assignee"]) for c in pending] == [(conv, "pending", "m7")]
    assert listed(server, tok, "?status=open&user_id=b7")["count"] == 0
    assert [c["id"] for c in listed(server, tok, "?assignee=m7")["results"]] == [conv]
    assert listed(server, tok, "?assignee=none&user_id=b7")["count"] == 0
    assert listed(server, tok, "?type=support&user_id=b7")["count"] == 0
    assert [c["id"] for c in listed(server, tok, "?type=direct&user_id=b7")["results"]] == [conv]
    for q, field in (("?status=closed", "status"), ("?assignee=bad%20id", "assignee")):
        error_of(operator_call(server, tok, "GET", "/admin/conversations" + q), 422, field)


def test_rooms_are_listed_with_a_member_count(server, mon, app):
    r = app.call("m1", "POST", "/conversations", {"type": "room", "name": "Lobby"})
    assert r.status == 201, r
    room = r.json()["id"]
    got = [c for c in listed(server, mon, "?type=room&page_size=100")["results"] if c["id"] == room]
    assert got and got[0]["member_count"] == 1 and "members" not in got[0], got


def test_history_reads_like_a_members(server, mon, app):
    conv = direct(app, "b1", "m2")
    sent = [send(app, "b1", conv, "msg %d" % i).json() for i in range(5)]
    r = operator_call(server, mon, "GET", "/admin/conversations/%s/messages?limit=3" % conv)
    assert r.status == 200, r
    page = r.json()
    assert page["has_more"] is True and [m["seq"] for m in page["results"]] == [5, 4, 3], page
    assert page["results"][0] == history(app, "m2", conv, "?limit=1")["results"][0]
    r = operator_call(server, mon, "GET", "/admin/conversations/%s/messages?after_seq=3" % conv)
    assert [m["id"] for m in r.json()["results"]] == [m["id"] for m in sent[3:]], r
    r = operator_call(server, mon, "GET", "/admin/conversations/%s/messages?before_seq=x" % conv)
    error_of(r, 422, "before_seq")
    one = operator_call(server, mon, "GET", "/admin/conversations/" + conv).json()
    mine = app.call("b1", "GET", "/conversations/" + conv).json()
    for k in ("id", "type", "last_seq", "members", "member_count", "created_at"):
        assert one[k] == mine[k], (k, one, mine)
    assert one["last_message"]["id"] == sent[-1]["id"], one


# ---------------------------------------------------------------- live

def test_a_buyers_message_reaches_the_merchant_and_two_monitors(server, root, mon, app, ids):
    mon2 = operator(server, root, "mon-two", [PERM], [ids["app"]])
    conv = direct(app, "b2", "m1")
    merchant = ws_open(server.port, "/ws?token=" + app.token("m1"))
    watchers = [monitor_ws(server, mon), monitor_ws(server, mon2)]
    for w in watchers:
        assert w.hello["user"] is None and w.hello["operator"]["apps"] == [ids["app"]], w.hello
    m = send(app, "b2", conv, "where is my order?").json()
    for sock in [merchant] + watchers:
        f = frames_until(sock, lambda f: f["type"] == "message.new")[-1]
        assert f["message"]["id"] == m["id"] and f["cursor"] == m["cursor"], f
    r = app.call("m1", "POST", "/conversations/%s/read" % conv, {"seq": m["seq"]})
    assert r.status == 200, r
    for w in watchers:
        f = frames_until(w, lambda f: f["type"] == "read")[-1]
        assert (f["conversation_id"], f["user_id"], f["seq"]) == (conv, "m1", m["seq"]), f
    r = app.call("b2", "PATCH", "/messages/" + m["id"], {"content": "where is order 7?"})
    assert r.status == 200, r
    for w in watchers:
        f = frames_until(w, lambda f: f["type"] == "message.updated")[-1]
        assert f["message"]["content"] == "where is order 7?", f
    g = group(app, "m1", ["b1"], name="Deals")
    for w in watchers:
        f = frames_until(w, lambda f: f["type"] == "conversation.updated")[-1]
        assert f["conversation"]["id"] == g, f
    for sock in [merchant] + watchers:
        sock.close()


def test_a_monitor_gets_no_event_of_another_app(server, mon, other):
    w = monitor_ws(server, mon)
    conv = direct(other, "b1", "m1")
    send(other, "b1", conv, "private")
    assert nothing_of(w, "message.new", wait=0.7)
    w.close()


def test_a_monitor_is_read_only_and_its_socket_stays(server, mon, app):
    conv = direct(app, "b1", "m1")
    w = monitor_ws(server, mon)
    for frame in ({"type": "send", "conversation_id": conv,
                   "message": {"type": "text", "content": "hi"}},
                  {"type": "send", "to": "b1", "message": {"type": "text", "content": "hi"}},
                  {"type": "join", "conversation_id": conv},
                  {"type": "leave", "conversation_id": conv},
                  {"type": "read", "conversation_id": conv, "seq": 1},
                  {"type": "typing", "conversation_id": conv},
                  {"type": "sync", "cursor": "0"}):
        w.send_json(frame)
        f = w.recv_json()
        assert f["type"] == "error" and f["code"] == "forbidden", (frame, f)
    w.send_json({"type": "ping", "id": 7})
    assert w.recv_json() == {"type": "pong", "id": 7}
    m = send(app, "m1", conv, "still live").json()  # the socket stays, events still come
    f = frames_until(w, lambda f: f["type"] == "message.new")[-1]
    assert f["message"]["id"] == m["id"], f
    w.close()


def test_members_see_no_trace_of_a_monitor(server, mon, app):
    conv = direct(app, "b1", "m2")
    buyer = ws_open(server.port, "/ws?token=" + app.token("b1"))
    w = monitor_ws(server, mon)
    assert nothing_of(buyer, "presence", wait=0.5)
    c = app.call("b1", "GET", "/conversations/" + conv).json()
    assert {m["user_id"] for m in c["members"]} == {"b1", "m2"} and c["member_count"] == 2, c
    r = app.call("b1", "GET", "/users/online")
    assert r.status == 200 and all(u.get("id", u) != "mon-shop" for u in r.json()["results"]), r
    m = send(app, "m2", conv, "hello").json()
    frames_until(w, lambda f: f["type"] == "message.new")
    frames_until(buyer, lambda f: f["type"] == "message.new")
    mine = app.call("b1", "GET", "/conversations/" + conv).json()
    assert mine["read_seq"] < m["seq"], mine  # nobody read it for the buyer
    assert nothing_of(buyer, "read", wait=0.5)
    buyer.close()
    w.close()


def test_a_user_token_is_not_a_monitor_and_a_bad_operator_token_is_refused(server, root, app):
    r, c = ws_handshake(server.port, "/ws?token=" + operator(server, root, "mon-no", ["users:read"]))
    assert r.status == 403, r
    c.close()
    u = ws_open(server.port, "/ws?token=" + app.token("b1"))
    assert u.hello["user"]["id"] == "b1" and "operator" not in u.hello, u.hello
    u.close()


def test_disabling_the_operator_closes_its_socket(server, root, ids):
    tok = operator(server, root, "mon-dis", [PERM], [ids["app"]])
    w = monitor_ws(server, tok)
    me = operator_call(server, tok, "GET", "/admin/auth/me").json()
    r = operator_call(server, root, "PATCH", "/admin/operators/" + me["id"], {"disabled": True})
    assert r.status == 200, r
    w.expect_close([4001])
    r, c = ws_handshake(server.port, "/ws?token=" + tok)
    assert r.status == 401, r
    c.close()


def test_taking_the_permission_away_closes_its_socket(server, root, ids):
    tok = operator(server, root, "mon-role", [PERM], [ids["app"]])
    w = monitor_ws(server, tok)
    roles = operator_call(server, root, "GET", "/admin/roles?page_size=100").json()["results"]
    role = [x for x in roles if x["name"] == "mon-role-role"][0]
    r = operator_call(server, root, "PATCH", "/admin/roles/" + role["id"],
                      {"permissions": ["users:read"]})
    assert r.status == 200, r
    w.expect_close([4001])
    r, c = ws_handshake(server.port, "/ws?token=" + tok)  # the token still works, the right not
    assert r.status == 403, r
    c.close()
