"""
Edit, recall and the other message features of issue 9 (docs/chat.md, "Edit and recall",
"System messages"): PATCH /messages/{id} by the sender, POST /messages/{id}/recall by the
sender within HERALD_RECALL_WINDOW or by an operator holding conversations:moderate, both
published as message.updated and replayed by sync; system messages written with joins,
leaves, renames, adds and removals; POST /messages with `to`; read events in the sync log;
a disabled user refused as a direct peer.
"""
import json
import time

import pytest

from conftest import http_request, module_server, run_herald, ws_open
from test_conversations import App, app_headers, error_of
from test_messages import direct, frames_until, group, history, nothing_of, send
from test_sync import sync_all

API = "/api/v1"
PW = "moderator password 1"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory)


@pytest.fixture(scope="module")
def app(server):
    a = App(server, app_headers(server))
    a.users("alice", "bob", "carol")
    return a


@pytest.fixture(scope="module")
def other(server):
    a = App(server, app_headers(server, "OtherEdit"))
    a.users("alice", "bob")
    return a


def ws(server, app, uid):
    return ws_open(server.port, "/ws?token=" + app.token(uid))


def edit(app, uid, msg_id, content):
    return app.call(uid, "PATCH", "/messages/" + msg_id, {"content": content})


def recall(app, uid, msg_id):
    return app.call(uid, "POST", "/messages/%s/recall" % msg_id)


def next_of(sock, type_):
    return frames_until(sock, lambda f: f["type"] == type_)[-1]


def operator_call(server, token, method, path, body=None):
    h = {"Authorization": "Bearer " + token}
    data = None
    if body is not None:
        data, h["Content-Type"] = json.dumps(body).encode(), "application/json"
    return http_request(server.port, method, API + path, h, data, timeout=20)


def operator_login(server, name):
    r = http_request(server.port, "POST", API + "/admin/auth/login",
                     {"Content-Type": "application/json"},
                     json.dumps({"username": name, "password": PW}).encode())
    assert r.status == 200, r
    return r.json()["access_token"]


def root_token(server, name="boss"):
    p = run_herald(["admin", "create", name, "--password-stdin"], env=server.cli_env(),
                   input=PW + "\n")
    assert p.returncode == 0, p
    return operator_login(server, name)


def operator(server, root, name, permissions, app_ids=None):
    body = {"name": name + "-role", "permissions": permissions}
    if app_ids is not None:
        body["app_ids"] = app_ids
    role = operator_call(server, root, "POST", "/admin/roles", body)
    assert role.status == 201, role
    r = operator_call(server, root, "POST", "/admin/operators",
                      {"username": name, "password": PW, "roles": [role.json()["id"]]})
    assert r.status == 201, r
    return operator_login(server, name)


# ---------------------------------------------------------------- edit

def test_the_sender_edits_and_every_member_device_gets_message_updated(app, server):
    conv = direct(app, "alice", "bob")
    m = send(app, "alice", conv, "helo").json()
    peer, mine = ws(server, app, "bob"), ws(server, app, "alice")
    r = edit(app, "alice", m["id"], "hello 你好")
    assert r.status == 200, r
    e = r.json()
    assert (e["id"], e["seq"], e["content"], e["recalled"]) == (m["id"], m["seq"], "hello 你好",
                                                                False)
    assert e["edited_at"] >= m["created_at"] and e["cursor"].isdigit()
    for sock in (peer, mine):  # an HTTP edit has no socket: every device gets it
        f = next_of(sock, "message.updated")
        assert f["cursor"] == e["cursor"] and f["message"]["content"] == "hello 你好"
        assert f["message"]["edited_at"] == e["edited_at"]
    got = [x for x in history(app, "bob", conv)["results"] if x["id"] == m["id"]][0]
    assert got["content"] == "hello 你好" and got["edited_at"] == e["edited_at"]


def test_edit_refusals_name_what_is_wrong(app, other):
    app.users("er_out")
    conv = group(app, "alice", ["bob"], "Edits")
    m = send(app, "alice", conv, "mine").json()
    error_of(edit(app, "er_out", m["id"], "x"), 404)  # not a member: existence does not leak
    error_of(other.call("alice", "PATCH", "/messages/" + m["id"], {"content": "x"}), 404)
    error_of(edit(app, "bob", m["id"], "x"), 403, code="forbidden")  # a member, not the sender
    error_of(edit(app, "alice", "m" + "0" * 24, "x"), 404)
    error_of(edit(app, "alice", "not-an-id!", "x"), 404)
    error_of(edit(app, "alice", m["id"], ""), 422, "content", "validation_failed")
    error_of(edit(app, "alice", m["id"], 42), 422, "content")
    error_of(app.call("alice", "PATCH", "/messages/" + m["id"], {}), 422, "content")
    error_of(app.call("alice", "PATCH", "/messages/" + m["id"], raw=b"{"), 400,
             code="invalid_json")
    assert history(app, "bob", conv)["results"][0]["content"] == "mine"


def test_the_new_content_has_the_shape_of_the_message_type(app):
    conv = direct(app, "alice", "carol")
    c = send(app, "alice", conv, {"k": [1, 2]}, type="custom").json()
    r = edit(app, "alice", c["id"], {"k": [3]})
    assert r.status == 200 and r.json()["content"] == {"k": [3]}, r
    img = {"url": "https://cdn.example/a.png", "name": "a.png", "size": 10, "mime": "image/png"}
    i = send(app, "alice", conv, img, type="image").json()
    error_of(edit(app, "alice", i["id"], "now text"), 422, "content")
    r = edit(app, "alice", i["id"], dict(img, name="b.png"))
    assert r.status == 200 and r.json()["content"]["name"] == "b.png", r


def test_an_edit_checks_a_media_url_as_a_send_does(app):
    """audit F4: the edit takes the send's content check, the url's included"""
    conv = direct(app, "alice", "bob")
    img = {"url": "/media/uploads/2026/01/02/0123456789abcdef0123456789abcdef.png",
           "name": "a.png", "size": 10, "mime": "image/png"}
    i = send(app, "alice", conv, img, type="image").json()
    for bad in ("javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:x",
                "/media/../herald.db", "u"):
        e = error_of(edit(app, "alice", i["id"], dict(img, url=bad)), 422, "content.url",
                     "validation_failed")
        assert "URL" in e["message"], e
    assert history(app, "bob", conv)["results"][0]["content"]["url"].endswith(img["url"])
    r = edit(app, "alice", i["id"], dict(img, url="https://cdn.example/b.png"))
    assert r.status == 200 and r.json()["content"]["url"] == "https://cdn.example/b.png", r
    c = send(app, "alice", conv, {"url": "x"}, type="custom").json()
    r = edit(app, "alice", c["id"], {"url": "javascript:alert(1)"})  # free JSON
    assert r.status == 200 and r.json()["content"] == {"url": "javascript:alert(1)"}, r


# ---------------------------------------------------------------- recall

def test_the_sender_recalls_within_the_window(app, server):
    conv = direct(app, "alice", "bob")
    m = send(app, "alice", conv, "oops").json()
    reply = send(app, "bob", conv, "what?", reply_to=m["id"]).json()
    assert reply["reply_preview"]["text"] == "oops"
    peer = ws(server, app, "bob")
    error_of(recall(app, "bob", m["id"]), 403, code="forbidden")  # not the sender
    r = recall(app, "alice", m["id"])
    assert r.status == 200, r
    e = r.json()
    assert (e["recalled"], e["content"], e["seq"]) == (True, None, m["seq"])
    f = next_of(peer, "message.updated")
    assert f["cursor"] == e["cursor"] and f["message"]["recalled"] is True
    assert f["message"]["content"] is None
    # the row and its seq stay; the quoted preview of the reply says recalled
    h = {x["id"]: x for x in history(app, "bob", conv, "?after_seq=0")["results"]}
    assert h[m["id"]]["recalled"] is True and h[m["id"]]["content"] is None
    assert h[reply["id"]]["reply_preview"] == {"sender_id": "alice", "type": "text", "text": "",
                                               "recalled": True}
    # again: the same answer, no second event; a recalled message cannot be edited
    again = recall(app, "alice", m["id"])
    assert again.status == 200 and again.json()["recalled"] is True, again
    nothing_of(peer, "message.updated")
    error_of(edit(app, "alice", m["id"], "fixed"), 409, code="conflict")


def test_recall_after_the_window_is_refused_but_an_operator_may(server_factory):
    srv = server_factory(env={"HERALD_RECALL_WINDOW": "1s"})
    a = App(srv, app_headers(srv))
    a.users("wa", "wb")
    conv = direct(a, "wa", "wb")
    old = send(a, "wa", conv, "old").json()
    time.sleep(1.3)
    e = error_of(recall(a, "wa", old["id"]), 403, code="recall_window_passed")
    assert "HERALD_RECALL_WINDOW" in e["message"]
    fresh = send(a, "wa", conv, "fresh").json()
    assert recall(a, "wa", fresh["id"]).json()["recalled"] is True
    root = root_token(srv)
    peer = ws(srv, a, "wb")
    r = operator_call(srv, root, "POST", "/messages/%s/recall" % old["id"])
    assert r.status == 200 and r.json()["recalled"] is True, r
    assert next_of(peer, "message.updated")["message"]["id"] == old["id"]


def test_operator_recall_needs_conversations_moderate_on_the_messages_app(app, other, server):
    root = root_token(server, "boss-m")
    conv = direct(app, "alice", "bob")
    m = send(app, "alice", conv, "moderate me").json()
    reader = operator(server, root, "reader", ["stats:read"])
    e = error_of(operator_call(server, reader, "POST", "/messages/%s/recall" % m["id"]), 403)
    assert e["field"] == "conversations:moderate", e
    # the right on another app only: this app's message is walled off like another tenant's
    apps = operator_call(server, root, "GET", "/admin/apps?page_size=100").json()["results"]
    other_id = [x["id"] for x in apps if x["name"] == "OtherEdit"][0]
    scoped = operator(server, root, "scoped", ["conversations:moderate"], [other_id])
    error_of(operator_call(server, scoped, "POST", "/messages/%s/recall" % m["id"]), 404)
    mod = operator(server, root, "mod", ["conversations:moderate"])
    r = operator_call(server, mod, "POST", "/messages/%s/recall" % m["id"])
    assert r.status == 200 and r.json()["recalled"] is True, r
    # an operator's recall is in the audit log, like every console write; refusals are not
    log = operator_call(server, root, "GET", "/admin/audit-log?action=message.recall").json()
    assert [(e["operator_name"], e["target"]) for e in log["results"]] == [("mod", m["id"])], log
    default_id = [x["id"] for x in apps if x["key"] == "default"][0]
    assert log["results"][0]["app_id"] == default_id, log
    # an operator token is no end-user token: it cannot edit
    error_of(operator_call(server, mod, "PATCH", "/messages/" + m["id"], {"content": "x"}), 401)


# ---------------------------------------------------------------- sync

def test_sync_replays_edits_recalls_and_reads(app, server):
    app.users("sy_a", "sy_b")
    conv = direct(app, "sy_a", "sy_b")
    start = sync_all(app, "sy_b")[1]
    m1 = send(app, "sy_a", conv, "one").json()
    m2 = send(app, "sy_a", conv, "two").json()
    ed = edit(app, "sy_a", m1["id"], "one!").json()
    rc = recall(app, "sy_a", m2["id"]).json()
    rd = app.call("sy_a", "POST", "/conversations/%s/read" % conv, {"seq": 2})  # no move: no event
    assert rd.status == 200, rd
    assert app.call("sy_b", "POST", "/conversations/%s/read" % conv, {"seq": 1}).status == 200
    events, _, _ = sync_all(app, "sy_b", start)
    mine = [e for e in events if e.get("message", {}).get("conversation_id") == conv
            or e.get("conversation_id") == conv]
    assert [e["type"] for e in mine] == ["message.new", "message.new", "message.updated",
                                         "message.updated", "read"]
    # rendered as it is now: the edited text, the recalled state
    assert mine[0]["message"]["content"] == "one!" and mine[2]["cursor"] == ed["cursor"]
    assert mine[3]["cursor"] == rc["cursor"] and mine[3]["message"]["recalled"] is True
    assert mine[1]["message"]["content"] is None
    assert {k: mine[4][k] for k in ("conversation_id", "user_id", "seq")} == \
        {"conversation_id": conv, "user_id": "sy_b", "seq": 1}
    # the peer replays the same read, with the cursor its live frame had
    events_a, _, _ = sync_all(app, "sy_a", start)
    reads = [e for e in events_a if e["type"] == "read" and e["conversation_id"] == conv]
    assert [(r["user_id"], r["seq"], r["cursor"]) for r in reads] == \
        [("sy_b", 1, mine[4]["cursor"])]
    # over the WebSocket: the same frames, then sync.done
    sock = ws(server, app, "sy_b")
    sock.send_json({"type": "sync", "cursor": start})
    frames = frames_until(sock, lambda f: f["type"] == "sync.done")
    replayed = [f for f in frames if f["type"] in ("message.updated", "read")
                and (f.get("conversation_id") == conv
                     or f.get("message", {}).get("conversation_id") == conv)]
    assert replayed == mine[2:]


def test_a_rooms_reads_replay_to_the_reader_only(app):
    app.users("rr_a", "rr_b")
    room = app.call("rr_a", "POST", "/conversations", {"type": "room", "name": "R"}).json()["id"]
    assert app.call("rr_b", "POST", "/rooms/%s/join" % room).status == 200
    start = sync_all(app, "rr_a")[1]
    send(app, "rr_a", room, "hi")
    assert app.call("rr_b", "POST", "/conversations/%s/read" % room, {"seq": 2}).status == 200
    of_b = [e for e in sync_all(app, "rr_b", start)[0] if e["type"] == "read"]
    assert [(e["user_id"], e["seq"]) for e in of_b] == [("rr_b", 2)]
    assert [e for e in sync_all(app, "rr_a", start)[0] if e["type"] == "read"] == []


def test_a_member_added_later_learns_nothing_of_edits_to_older_messages(app, server):
    app.users("lt_o", "lt_m", "lt_late")
    conv = group(app, "lt_o", ["lt_m"], "Late")
    old = send(app, "lt_o", conv, "before you").json()
    assert app.call("lt_o", "POST", "/conversations/%s/members" % conv,
                    {"user_ids": ["lt_late"]}).status == 200
    start = sync_all(app, "lt_late")[1]
    late, member = ws(server, app, "lt_late"), ws(server, app, "lt_m")
    assert edit(app, "lt_o", old["id"], "edited").status == 200
    assert recall(app, "lt_o", old["id"]).status == 200
    assert [f["type"] for f in frames_until(member, lambda f: f["type"] == "message.updated")
            + frames_until(member, lambda f: f["type"] == "message.updated")].count(
                "message.updated") == 2
    nothing_of(late, "message.updated")
    assert [e for e in sync_all(app, "lt_late", start)[0]
            if e.get("message", {}).get("id") == old["id"]] == []
    error_of(edit(app, "lt_late", old["id"], "x"), 404)


# ---------------------------------------------------------------- system messages

def system_contents(app, uid, conv):
    return [(m["seq"], m["sender_id"], m["content"])
            for m in history(app, uid, conv, "?after_seq=0")["results"] if m["type"] == "system"]


def test_membership_changes_and_renames_write_system_messages(app, server):
    app.users("sm_o", "sm_a", "sm_b")
    conv = group(app, "sm_o", ["sm_a"], "Team")
    watcher = ws(server, app, "sm_a")
    assert app.call("sm_o", "POST", "/conversations/%s/members" % conv,
                    {"user_ids": ["sm_a", "sm_b"]}).status == 200  # sm_a is a member already
    f = next_of(watcher, "message.new")
    assert f["message"]["type"] == "system" and f["message"]["seq"] == 1
    assert f["message"]["content"] == {"event": "member.added", "user_ids": ["sm_b"],
                                       "by": "sm_o"}
    assert app.call("sm_o", "PATCH", "/conversations/" + conv, {"name": "Team 2"}).status == 200
    assert app.call("sm_o", "PATCH", "/conversations/" + conv, {"avatar": "https://cdn.example.com/a.png"}).status == 200
    assert app.call("sm_o", "PATCH", "/conversations/" + conv, {"name": "Team 2"}).status == 200
    assert app.call("sm_o", "DELETE", "/conversations/%s/members/sm_b" % conv).status == 200
    assert app.call("sm_a", "POST", "/conversations/%s/leave" % conv).status == 204
    assert system_contents(app, "sm_o", conv) == [
        (1, "sm_o", {"event": "member.added", "user_ids": ["sm_b"], "by": "sm_o"}),
        (2, "sm_o", {"event": "conversation.renamed", "name": "Team 2", "by": "sm_o"}),
        (3, "sm_o", {"event": "member.removed", "user_id": "sm_b", "by": "sm_o"}),
        (4, "sm_a", {"event": "member.left", "user_id": "sm_a", "by": "sm_a"}),
    ]
    # the actor has read their own change; the others have it unread
    c = app.call("sm_o", "GET", "/conversations/" + conv).json()
    assert (c["unread_count"], c["last_message"]["type"], c["last_message"]["preview"]) == \
        (1, "system", "[system]")
    # nobody sends or edits a system message
    error_of(send(app, "sm_o", conv, {"event": "x"}, type="system"), 422, "type")
    sys_id = history(app, "sm_o", conv)["results"][-1]["id"]
    error_of(edit(app, "sm_o", sys_id, "x"), 403, code="forbidden")
    error_of(recall(app, "sm_o", sys_id), 403, code="forbidden")


def test_joining_a_room_writes_one_system_message(app):
    app.users("jr_o", "jr_j")
    room = app.call("jr_o", "POST", "/conversations", {"type": "room", "name": "J"}).json()["id"]
    for _ in range(2):  # joining again changes nothing and writes nothing
        assert app.call("jr_j", "POST", "/rooms/%s/join" % room).status == 200
    assert system_contents(app, "jr_o", room) == [
        (1, "jr_j", {"event": "member.joined", "user_id": "jr_j", "by": "jr_j"})]


# ---------------------------------------------------------------- POST /messages with `to`

def send_to(app, uid, body):
    return app.call(uid, "POST", "/messages", body)


def test_http_send_to_a_user_gets_or_creates_the_direct_conversation(app, server):
    app.users("to_a", "to_b")
    peer = ws(server, app, "to_b")
    body = {"to": "to_b", "client_msg_id": "to-1", "message": {"type": "text", "content": "嗨"}}
    r = send_to(app, "to_a", body)
    assert r.status == 201, r
    m = r.json()
    assert (m["seq"], m["content"], m["sender_id"]) == (1, "嗨", "to_a") and m["cursor"].isdigit()
    created = next_of(peer, "conversation.updated")
    assert created["conversation"]["id"] == m["conversation_id"]
    assert next_of(peer, "message.new")["message"]["id"] == m["id"]
    again = send_to(app, "to_a", body)
    assert again.status == 201 and again.header("Idempotency-Replay") == "true", again
    assert again.json()["id"] == m["id"]
    second = send_to(app, "to_a", {"to": "to_b", "message": {"type": "text", "content": "2"}})
    assert second.json()["conversation_id"] == m["conversation_id"]
    assert second.json()["seq"] == 2
    assert direct(app, "to_b", "to_a") == m["conversation_id"]


def test_http_send_to_names_the_field(app):
    ok = {"type": "text", "content": "x"}
    error_of(send_to(app, "alice", {"message": ok}), 422, "to")
    error_of(send_to(app, "alice", {"to": "alice", "message": ok}), 422, "to")
    error_of(send_to(app, "alice", {"to": "nobody-here", "message": ok}), 404, "to")
    error_of(send_to(app, "alice", {"to": "bob"}), 422, "message")
    error_of(send_to(app, "alice", {"to": "bob", "message": {"type": "system", "content": "x"}}),
             422, "message.type")
    error_of(send_to(app, "alice", {"to": "bob", "message": {"type": "text", "content": ""}}),
             422, "message.content")
    error_of(send_to(app, "alice", {"to": "bob", "message": dict(ok, reply_to="m" + "1" * 24)}),
             422, "message.reply_to")


# ---------------------------------------------------------------- disabled peers

def test_a_disabled_user_is_no_direct_peer(app, server):
    app.users("dp_a", "dp_off", "dp_later")
    before = direct(app, "dp_a", "dp_later")
    for uid in ("dp_off", "dp_later"):
        r = http_request(server.port, "PATCH", API + "/users/" + uid, app.headers,
                         json.dumps({"disabled": True}).encode())
        assert r.status == 200, r
    ok = {"type": "text", "content": "x"}
    for peer in ("dp_off", "dp_later"):  # like an unknown user: existence does not leak
        error_of(app.call("dp_a", "POST", "/conversations", {"type": "direct", "peer": peer}),
                 404, "peer")
        error_of(send_to(app, "dp_a", {"to": peer, "message": ok}), 404, "to")
    sock = ws(server, app, "dp_a")
    sock.send_json({"type": "send", "to": "dp_off", "client_msg_id": "dp-1", "message": ok})
    e = frames_until(sock, lambda f: f["type"] in ("error", "send.ok"))[-1]
    assert (e["type"], e["code"], e["field"]) == ("error", "not_found", "to"), e
    # the conversation made before stays readable by its id
    assert app.call("dp_a", "GET", "/conversations/" + before).status == 200


def test_a_peer_disabled_after_sends_with_to_is_refused_and_nothing_is_stored(app, server):
    # sends with `to` remember the direct conversation; a disabled peer is refused all the same
    app.users("dc_a", "dc_b")
    ok = {"type": "text", "content": "x"}
    for _ in range(2):
        r = send_to(app, "dc_a", {"to": "dc_b", "message": ok})
        assert r.status == 201, r
    conv = r.json()["conversation_id"]
    r = http_request(server.port, "PATCH", API + "/users/dc_b", app.headers,
                     json.dumps({"disabled": True}).encode())
    assert r.status == 200, r
    error_of(send_to(app, "dc_a", {"to": "dc_b", "message": ok}), 404, "to")
    sock = ws(server, app, "dc_a")
    sock.send_json({"type": "send", "to": "dc_b", "client_msg_id": "dc-1", "message": ok})
    e = frames_until(sock, lambda f: f["type"] in ("error", "send.ok"))[-1]
    assert (e["type"], e["code"], e["field"]) == ("error", "not_found", "to"), e
    seqs = [m["seq"] for m in app.call("dc_a", "GET", "/conversations/%s/messages" % conv)
            .json()["results"]]
    assert seqs == [2, 1], seqs  # newest first: the refused send left no message
