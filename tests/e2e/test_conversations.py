"""
Conversations (docs/chat.md, issue 9 first slice): direct get-or-create (exactly one per pair,
also under 50 concurrent creates), groups with owner/admin/member roles, public rooms, the
member endpoints, 404 for non-members and other apps, validation errors naming the field, and
the conversation.updated event on the members' sockets. End users authenticate with access
tokens an app mints (and, in one test, with demo mode's ?user_id=).
"""
import json
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import Closed, http_request, module_server, run_herald, ws_open

API = "/api/v1"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory, {"HERALD_DEMO": "1"})


def app_headers(server, create=None):
    args = ["app", "create", create] if create else ["app", "secret", "default"]
    p = run_herald(args, env=server.cli_env())
    assert p.returncode == 0, p
    kv = dict(l.split("=", 1) for l in p.stdout.splitlines() if "=" in l)
    return {"X-App-Key": kv["key"], "X-App-Secret": kv["secret"],
            "Content-Type": "application/json"}


class App:
    """An app's credentials and the tokens of users made in it."""

    def __init__(self, server, headers):
        self.server, self.headers, self.tokens = server, headers, {}

    def users(self, *ids, **fields):
        body = {"users": [dict({"id": i, "name": "N " + i}, **fields) for i in ids]}
        r = http_request(self.server.port, "POST", API + "/users/batch", self.headers,
                         json.dumps(body).encode(), timeout=30)
        assert r.status == 200, r
        return ids

    def token(self, uid):
        if uid not in self.tokens:
            r = http_request(self.server.port, "POST", API + "/users/%s/tokens" % uid,
                             self.headers, b"")
            assert r.status == 200, r
            self.tokens[uid] = r.json()["access_token"]
        return self.tokens[uid]

    def call(self, uid, method, path, body=None, raw=None):
        h = {"Authorization": "Bearer " + self.token(uid)}
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        if data is not None:
            h["Content-Type"] = "application/json"
        return http_request(self.server.port, method, API + path, h, data, timeout=20)


@pytest.fixture(scope="module")
def app(server):
    a = App(server, app_headers(server))
    a.users("alice", "bob", "carol", "dave", "erin", "frank")
    return a


@pytest.fixture(scope="module")
def other(server):
    a = App(server, app_headers(server, "Other"))
    a.users("alice", "bob", "zed")
    return a


def error_of(r, status, field=None, code=None):
    assert r.status == status, r
    e = r.json()["error"]
    if field is not None:
        assert e.get("field") == field, e
    if code is not None:
        assert e["code"] == code, e
    return e


def group(app, owner, name="G", members=()):
    r = app.call(owner, "POST", "/conversations",
                 {"type": "group", "name": name, "members": list(members)})
    assert r.status == 201, r
    return r.json()


def member_roles(conv):
    return {m["user_id"]: m["role"] for m in conv["members"]}


# ---------------------------------------------------------------- direct

def test_direct_is_get_or_create_with_the_peer_profile(app):
    r = app.call("alice", "POST", "/conversations", {"type": "direct", "peer": "bob"})
    assert r.status == 201, r
    c = r.json()
    assert c["type"] == "direct" and c["owner"] is None and c["member_count"] == 2
    assert c["peer"] == {"id": "bob", "name": "N bob", "avatar": "", "kind": "", "online": False,
                         "last_seen": None, "metadata": {}}
    assert sorted(m["user_id"] for m in c["members"]) == ["alice", "bob"]
    again = app.call("bob", "POST", "/conversations", {"type": "direct", "peer": "alice"})
    assert again.status == 200, again
    assert again.json()["id"] == c["id"] and again.json()["peer"]["id"] == "alice"
    assert app.call("alice", "GET", "/conversations/" + c["id"]).json()["peer"]["id"] == "bob"


def test_fifty_concurrent_creates_of_one_pair_give_one_conversation(app):
    app.users("race_a", "race_b")
    tokens = [app.token("race_a"), app.token("race_b")]

    def create(i):
        me, peer = ("race_a", "race_b") if i % 2 == 0 else ("race_b", "race_a")
        return app.call(me, "POST", "/conversations", {"type": "direct", "peer": peer})

    assert all(tokens)
    with ThreadPoolExecutor(50) as ex:
        rs = list(ex.map(create, range(50)))
    assert sorted(r.status for r in rs) == [200] * 49 + [201], [r.status for r in rs]
    assert len({r.json()["id"] for r in rs}) == 1
    mine = app.call("race_a", "GET", "/conversations").json()
    assert mine["count"] == 1 and mine["results"][0]["id"] == rs[0].json()["id"]


def test_direct_peer_must_be_another_user_of_the_same_app(app, other):
    error_of(app.call("alice", "POST", "/conversations", {"type": "direct", "peer": "nobody"}),
             404, "peer", "not_found")
    error_of(app.call("alice", "POST", "/conversations", {"type": "direct", "peer": "zed"}),
             404, "peer")  # zed exists, in the other app only
    error_of(app.call("alice", "POST", "/conversations", {"type": "direct", "peer": "alice"}),
             422, "peer", "validation_failed")


def test_demo_mode_creates_an_unknown_demo_peer(server):
    def post(uid, body):
        return http_request(server.port, "POST", API + "/conversations?user_id=" + uid,
                            {"Content-Type": "application/json"}, json.dumps(body).encode())

    r = post("b_demo1", {"type": "direct", "peer": "m_demo1"})
    assert r.status == 201, r
    assert r.json()["peer"]["id"] == "m_demo1" and r.json()["peer"]["kind"] == "merchant"
    r2 = post("m_demo1", {"type": "direct", "peer": "b_demo1"})
    assert r2.status == 200 and r2.json()["id"] == r.json()["id"], r2


def test_a_direct_conversation_cannot_be_renamed_or_left(app):
    c = app.call("alice", "POST", "/conversations", {"type": "direct", "peer": "carol"}).json()
    error_of(app.call("alice", "PATCH", "/conversations/" + c["id"], {"name": "x"}), 403,
             code="forbidden")
    error_of(app.call("alice", "POST", "/conversations/%s/leave" % c["id"]), 403)
    error_of(app.call("alice", "POST", "/conversations/%s/members" % c["id"],
                      {"user_ids": ["dave"]}), 403)


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("body,field", [
    ({}, "type"),
    ({"type": "chat"}, "type"),
    ({"type": 3}, "type"),
    ({"type": "group"}, "name"),
    ({"type": "group", "name": ""}, "name"),
    ({"type": "group", "name": "x" * 129}, "name"),
    ({"type": "group", "name": "G", "avatar": "a" * 1025}, "avatar"),
    ({"type": "group", "name": "G", "members": "bob"}, "members"),
    ({"type": "group", "name": "G", "members": ["bob", "no spaces"]}, "members[1]"),
    ({"type": "group", "name": "G", "members": ["bob", "bob"]}, "members[1]"),
    ({"type": "group", "name": "G", "peer": "bob"}, "peer"),
    ({"type": "group", "name": "G", "color": "red"}, "color"),
    ({"type": "room", "name": "R", "members": ["bob", "bob"]}, "members[1]"),
    ({"type": "direct"}, "peer"),
    ({"type": "direct", "peer": "bob", "name": "x"}, "name"),
    ({"type": "direct", "peer": "b" * 65}, "peer"),
])
def test_create_validation_names_the_field(app, body, field):
    error_of(app.call("alice", "POST", "/conversations", body), 422, field, "validation_failed")


def test_a_room_created_with_members_has_them_as_members(app):
    """SPEC §3: POST /conversations, "group/room with name and members"."""
    r = app.call("alice", "POST", "/conversations",
                 {"type": "room", "name": "Seeded", "members": ["bob", "carol"]})
    assert r.status == 201, r
    room = r.json()
    assert room["type"] == "room" and room["member_count"] == 3, room
    mine = {c["id"] for c in app.call("bob", "GET", "/conversations?page_size=100")
            .json()["results"]}
    assert room["id"] in mine
    assert app.call("carol", "GET", "/conversations/" + room["id"]).status == 200
    error_of(app.call("alice", "POST", "/conversations",
                      {"type": "room", "name": "R", "members": ["zed"]}), 404, "members[0]",
             "not_found")


def test_group_members_must_exist_in_the_app(app):
    error_of(app.call("alice", "POST", "/conversations",
                      {"type": "group", "name": "G", "members": ["bob", "zed"]}),
             404, "members[1]", "not_found")


def test_member_endpoint_validation_names_the_field(app):
    g = group(app, "alice", members=["bob"])
    path = "/conversations/" + g["id"]
    error_of(app.call("alice", "PATCH", path, {"name": "y" * 129}), 422, "name")
    error_of(app.call("alice", "PATCH", path, {"owner": "bob"}), 422, "owner")
    error_of(app.call("alice", "PATCH", path, {}), 422, "name")
    error_of(app.call("alice", "POST", path + "/members", {}), 422, "user_ids")
    error_of(app.call("alice", "POST", path + "/members", {"user_ids": []}), 422, "user_ids")
    error_of(app.call("alice", "POST", path + "/members", {"user_ids": ["carol", "carol"]}),
             422, "user_ids[1]")
    error_of(app.call("alice", "POST", path + "/members", {"user_ids": ["carol", "ghost"]}),
             404, "user_ids[1]")
    error_of(app.call("alice", "PATCH", path + "/members/bob", {"role": "boss"}), 422, "role")
    error_of(app.call("alice", "POST", "/conversations", raw=b"{\"type\":"), 400,
             code="invalid_json")


# ---------------------------------------------------------------- groups and roles

def test_group_roles_decide_who_manages(app):
    g = group(app, "alice", "Team", ["bob", "carol"])
    path = "/conversations/" + g["id"]
    assert g["owner"] == "alice" and g["member_count"] == 3
    assert member_roles(g) == {"alice": "owner", "bob": "member", "carol": "member"}
    # a member manages nothing
    error_of(app.call("bob", "PATCH", path, {"name": "Mine"}), 403, code="forbidden")
    error_of(app.call("bob", "POST", path + "/members", {"user_ids": ["dave"]}), 403)
    error_of(app.call("bob", "DELETE", path + "/members/carol"), 403)
    error_of(app.call("bob", "PATCH", path + "/members/carol", {"role": "admin"}), 403)
    # the owner makes bob an admin; an admin renames, adds and removes members
    r = app.call("alice", "PATCH", path + "/members/bob", {"role": "admin"})
    assert r.status == 200 and member_roles(r.json())["bob"] == "admin", r
    r = app.call("bob", "PATCH", path, {"name": "Team 2", "avatar": "https://x/a.png"})
    assert r.status == 200 and r.json()["name"] == "Team 2", r
    assert r.json()["avatar"] == "https://x/a.png"
    r = app.call("bob", "POST", path + "/members", {"user_ids": ["dave", "erin", "carol"]})
    assert r.status == 200 and r.json()["member_count"] == 5, r
    r = app.call("bob", "DELETE", path + "/members/dave")
    assert r.status == 200 and "dave" not in member_roles(r.json()), r
    error_of(app.call("bob", "PATCH", path + "/members/carol", {"role": "admin"}), 403)
    error_of(app.call("bob", "DELETE", path + "/members/alice"), 403)
    error_of(app.call("bob", "DELETE", path + "/members/frank"), 404)
    # an admin cannot remove another admin; the owner can
    app.call("alice", "PATCH", path + "/members/carol", {"role": "admin"})
    error_of(app.call("bob", "DELETE", path + "/members/carol"), 403)
    assert app.call("alice", "DELETE", path + "/members/carol").status == 200
    error_of(app.call("carol", "GET", path), 404)  # removed: no access at once


def test_leaving_passes_ownership_on(app):
    g = group(app, "alice", "Leavers", ["bob", "carol"])
    path = "/conversations/" + g["id"]
    app.call("alice", "PATCH", path + "/members/carol", {"role": "admin"})
    r = app.call("alice", "POST", path + "/leave")
    assert r.status == 204, r
    error_of(app.call("alice", "GET", path), 404)
    c = app.call("bob", "GET", path).json()
    assert c["owner"] == "carol" and member_roles(c) == {"bob": "member", "carol": "owner"}
    assert app.call("bob", "POST", path + "/leave").status == 204
    error_of(app.call("bob", "POST", path + "/leave"), 404)


def test_a_group_holds_at_most_500_members(app):
    ids = ["big%03d" % i for i in range(500)]
    app.users(*ids)
    g = group(app, ids[0], "Big", ids[1:499])
    assert g["member_count"] == 499
    r = app.call(ids[0], "POST", "/conversations/%s/members" % g["id"], {"user_ids": [ids[499]]})
    assert r.status == 200 and r.json()["member_count"] == 500, r
    error_of(app.call(ids[0], "POST", "/conversations/%s/members" % g["id"],
                      {"user_ids": ["alice"]}), 422, "user_ids")
    ok = app.call(ids[0], "POST", "/conversations",
                  {"type": "group", "name": "Full", "members": ids[1:]})
    assert ok.status == 201 and ok.json()["member_count"] == 500, ok
    error_of(app.call(ids[0], "POST", "/conversations",
                      {"type": "group", "name": "Too big", "members": ids[1:] + ["alice"]}),
             422, "members")


# ---------------------------------------------------------------- not found

def test_non_members_and_other_apps_get_404(app, other):
    g = group(app, "alice", "Private", ["bob"])
    path = "/conversations/" + g["id"]
    for who, a in (("frank", app), ("alice", other), ("zed", other)):
        error_of(a.call(who, "GET", path), 404, code="not_found")
        error_of(a.call(who, "PATCH", path, {"name": "x"}), 404)
        error_of(a.call(who, "POST", path + "/members", {"user_ids": [who]}), 404)
        error_of(a.call(who, "DELETE", path + "/members/bob"), 404)
        error_of(a.call(who, "POST", path + "/leave"), 404)
        error_of(a.call(who, "POST", "/rooms/%s/join" % g["id"]), 404)
    error_of(app.call("alice", "GET", "/conversations/c000000000000000000000000"), 404)
    error_of(app.call("alice", "GET", "/conversations/bad%20id"), 404)
    assert app.call("alice", "GET", path).status == 200
    assert g["id"] not in [c["id"] for c in other.call("alice", "GET", "/conversations")
                           .json()["results"]]


def test_requests_without_a_user_token_are_401(app, server):
    r = http_request(server.port, "GET", API + "/conversations")
    assert r.status == 401, r
    r = http_request(server.port, "GET", API + "/conversations",
                     {"Authorization": "Bearer nope"})
    assert r.status == 401, r


# ---------------------------------------------------------------- lists and rooms

def test_my_conversations_newest_activity_first_and_paged(app):
    app.users("lister", "lp1", "lp2")
    first = app.call("lister", "POST", "/conversations", {"type": "direct", "peer": "lp1"}).json()
    second = group(app, "lister", "Later", ["lp2"])
    mine = app.call("lister", "GET", "/conversations").json()
    assert mine["count"] == 2 and mine["page"] == 1 and mine["page_size"] == 20
    assert [c["id"] for c in mine["results"]] == [second["id"], first["id"]]
    assert mine["results"][1]["peer"]["id"] == "lp1"
    assert member_roles(mine["results"][0]) == {"lister": "owner", "lp2": "member"}
    p2 = app.call("lister", "GET", "/conversations?page=2&page_size=1").json()
    assert p2["count"] == 2 and [c["id"] for c in p2["results"]] == [first["id"]]
    error_of(app.call("lister", "GET", "/conversations?page=0"), 422, "page")
    error_of(app.call("lister", "GET", "/conversations?page_size=x"), 422, "page_size")


def test_rooms_are_listed_and_joined(app, other):
    r = app.call("alice", "POST", "/conversations", {"type": "room", "name": "Lobby"})
    assert r.status == 201, r
    room = r.json()
    assert room["type"] == "room" and room["member_count"] == 1 and "members" not in room
    listed = {x["id"]: x for x in app.call("frank", "GET", "/rooms?page_size=100")
              .json()["results"]}
    assert listed[room["id"]]["joined"] is False and listed[room["id"]]["name"] == "Lobby"
    error_of(app.call("frank", "GET", "/conversations/" + room["id"]), 404)
    r = app.call("frank", "POST", "/rooms/%s/join" % room["id"])
    assert r.status == 200 and r.json()["member_count"] == 2, r
    again = app.call("frank", "POST", "/rooms/%s/join" % room["id"])
    assert again.status == 200 and again.json()["member_count"] == 2, again
    assert app.call("frank", "GET", "/conversations/" + room["id"]).status == 200
    error_of(app.call("frank", "PATCH", "/conversations/" + room["id"], {"name": "Mine"}), 403)
    error_of(app.call("alice", "POST", "/conversations/%s/members" % room["id"],
                      {"user_ids": ["bob"]}), 403)
    r = app.call("alice", "PATCH", "/conversations/" + room["id"], {"name": "Lobby 2"})
    assert r.status == 200 and r.json()["name"] == "Lobby 2" and "members" not in r.json(), r
    listed = {x["id"]: x for x in app.call("frank", "GET", "/rooms?page_size=100")
              .json()["results"]}
    assert listed[room["id"]]["joined"] is True
    assert room["id"] not in [x["id"] for x in other.call("alice", "GET", "/rooms")
                              .json()["results"]]
    error_of(other.call("alice", "POST", "/rooms/%s/join" % room["id"]), 404)
    assert app.call("frank", "POST", "/conversations/%s/leave" % room["id"]).status == 204
    error_of(app.call("frank", "GET", "/conversations/" + room["id"]), 404)


# ---------------------------------------------------------------- events

def next_update(c, timeout=5):
    f = c.recv_frame(timeout=timeout).json()
    assert f["type"] == "conversation.updated", f
    return f


def next_system(c, event, timeout=5):
    """The system message a change writes after its conversation.updated (docs/chat.md)."""
    f = c.recv_frame(timeout=timeout).json()
    assert f["type"] == "message.new" and f["message"]["type"] == "system", f
    assert f["message"]["content"]["event"] == event, f
    return f


def nothing_arrives(c, wait=0.4):
    try:
        f = c.recv_frame(timeout=wait)
    except (socket.timeout, TimeoutError, Closed):
        return True
    raise AssertionError("unexpected frame %r" % f)


def test_members_sockets_receive_conversation_updated(app, server):
    app.users("ev_owner", "ev_m", "ev_out")
    m_phone = ws_open(server.port, "/ws?token=" + app.token("ev_m"))
    m_laptop = ws_open(server.port, "/ws?token=" + app.token("ev_m"))
    outsider = ws_open(server.port, "/ws?token=" + app.token("ev_out"))
    g = group(app, "ev_owner", "Events", ["ev_m"])
    for sock in (m_phone, m_laptop):
        f = next_update(sock)
        assert f["conversation"]["id"] == g["id"] and f["conversation"]["name"] == "Events"
        assert member_roles(f["conversation"]) == {"ev_owner": "owner", "ev_m": "member"}
    app.call("ev_owner", "PATCH", "/conversations/" + g["id"], {"name": "Renamed"})
    for sock in (m_phone, m_laptop):
        assert next_update(sock)["conversation"]["name"] == "Renamed"
        assert next_system(sock, "conversation.renamed")["message"]["content"]["name"] == "Renamed"
    nothing_arrives(outsider)
    r = app.call("ev_owner", "DELETE", "/conversations/%s/members/ev_m" % g["id"])
    assert r.status == 200, r
    f = next_update(m_phone)
    assert f["removed"] == ["ev_m"] and "ev_m" not in member_roles(f["conversation"])
    app.call("ev_owner", "PATCH", "/conversations/" + g["id"], {"name": "After"})
    nothing_arrives(m_phone)
    nothing_arrives(outsider)


def test_joining_a_room_is_announced_to_its_members_once(app, server):
    app.users("room_owner", "room_joiner")
    owner = ws_open(server.port, "/ws?token=" + app.token("room_owner"))
    room = app.call("room_owner", "POST", "/conversations", {"type": "room", "name": "R"}).json()
    assert next_update(owner)["conversation"]["member_count"] == 1
    joiner = ws_open(server.port, "/ws?token=" + app.token("room_joiner"))
    assert app.call("room_joiner", "POST", "/rooms/%s/join" % room["id"]).status == 200
    for sock in (owner, joiner):
        f = next_update(sock)
        assert f["conversation"]["id"] == room["id"] and f["conversation"]["member_count"] == 2
        assert "members" not in f["conversation"]
        assert next_system(sock, "member.joined")["message"]["content"]["user_id"] == "room_joiner"
    assert app.call("room_joiner", "POST", "/rooms/%s/join" % room["id"]).status == 200
    nothing_arrives(owner)
    nothing_arrives(joiner)
