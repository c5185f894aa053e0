"""
The WebSocket `join` and `leave` frames (docs/chat.md): the same writes as POST
/rooms/{id}/join and POST /conversations/{id}/leave, answered by the conversation.updated
event (or an `error` frame naming conversation_id); the socket stays open after a refusal.
"""
import pytest

from conftest import module_server, ws_open
from test_conversations import App, app_headers, nothing_arrives, next_update


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory)


@pytest.fixture(scope="module")
def app(server):
    a = App(server, app_headers(server))
    a.users("owner", "joiner", "bystander")
    return a


@pytest.fixture(scope="module")
def other(server):
    a = App(server, app_headers(server, "OtherRooms"))
    a.users("joiner")
    return a


def ws(server, app, uid):
    return ws_open(server.port, "/ws?token=" + app.token(uid))


def new_room(app, owner, name="Lobby"):
    r = app.call(owner, "POST", "/conversations", {"type": "room", "name": name})
    assert r.status == 201, r
    return r.json()["id"]


def error_frame(sock, code, field="conversation_id"):
    f = sock.recv_json(5)
    assert f["type"] == "error" and f["code"] == code and f.get("field") == field, f
    return f


def test_join_over_the_websocket_makes_a_member_who_then_receives(app, server):
    room = new_room(app, "owner")
    owner = ws(server, app, "owner")
    joiner = ws(server, app, "joiner")
    joiner.send_json({"type": "join", "conversation_id": room})
    for sock in (owner, joiner):
        f = next_update(sock)
        assert f["conversation"]["id"] == room and f["conversation"]["member_count"] == 2, f
        assert int(f["cursor"]) > 0
        f = sock.recv_json(5)  # then the system message that tells the join
        assert f["type"] == "message.new" and f["message"]["type"] == "system", f
        assert f["message"]["content"] == {"event": "member.joined", "user_id": "joiner",
                                           "by": "joiner"}, f
    r = app.call("owner", "POST", "/conversations/%s/messages" % room,
                 {"type": "text", "content": "welcome"})
    assert r.status == 201, r
    for sock in (joiner, owner):  # the owner's socket did not send it: it gets it too
        f = sock.recv_json(5)
        assert f["type"] == "message.new" and f["message"]["content"] == "welcome", f
    assert app.call("joiner", "GET", "/conversations/" + room).status == 200
    # joining again changes nothing and tells nobody
    joiner.send_json({"type": "join", "conversation_id": room})
    nothing_arrives(joiner)
    nothing_arrives(owner)


def test_leave_over_the_websocket_ends_delivery(app, server):
    room = new_room(app, "owner", "Leavers")
    assert app.call("joiner", "POST", "/rooms/%s/join" % room).status == 200
    joiner = ws(server, app, "joiner")
    joiner.send_json({"type": "leave", "conversation_id": room})
    f = next_update(joiner)
    assert f["removed"] == ["joiner"] and f["conversation"]["member_count"] == 1, f
    nothing_arrives(joiner)  # the system message that tells the leave is for the members
    assert app.call("owner", "POST", "/conversations/%s/messages" % room,
                    {"type": "text", "content": "gone"}).status == 201
    nothing_arrives(joiner)
    assert app.call("joiner", "GET", "/conversations/" + room).status == 404
    # leaving what one no longer belongs to is a 404 like any non-member's request
    joiner.send_json({"type": "leave", "conversation_id": room})
    error_frame(joiner, "not_found")


def test_refusals_are_error_frames_and_the_socket_stays(app, other, server):
    room = new_room(app, "owner", "Refusals")
    g = app.call("owner", "POST", "/conversations",
                 {"type": "group", "name": "G", "members": ["bystander"]}).json()["id"]
    d = app.call("owner", "POST", "/conversations", {"type": "direct", "peer": "bystander"})
    d = d.json()["id"]
    sock = ws(server, app, "bystander")
    sock.send_json({"type": "join", "conversation_id": g})  # a group is not joined
    error_frame(sock, "not_found")
    sock.send_json({"type": "join", "conversation_id": "c" + "0" * 24})
    error_frame(sock, "not_found")
    sock.send_json({"type": "join", "conversation_id": "no such/id"})
    error_frame(sock, "validation_failed")
    sock.send_json({"type": "join"})
    error_frame(sock, "validation_failed")
    sock.send_json({"type": "leave", "conversation_id": d})  # a direct one cannot be left
    error_frame(sock, "forbidden", None)
    sock.send_json({"type": "ping"})
    assert sock.recv_json(5)["type"] == "pong"
    # another app's room does not exist for this app's users
    stranger = ws(server, other, "joiner")
    stranger.send_json({"type": "join", "conversation_id": room})
    error_frame(stranger, "not_found")
