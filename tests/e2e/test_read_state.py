"""
Read state (docs/chat.md, issue 9 third slice): POST /conversations/{id}/read and the WebSocket
`read` frame (one path inside), monotonic read_seq (an older seq never moves it back, a seq past
the last message is cut to it), unread counts per conversation and in total after sends by
others and by oneself, last_message previews (text cut at 100 characters, counted as
characters; [image] and the like for media, never a URL), `read` events to the other members'
devices and the reader's other devices but not the reading socket, nothing when nothing moved,
404 for non-members, other apps and removed members, validation errors naming `seq`, and
concurrent reads that end at the highest seq.
"""
import pytest

from conftest import module_server
from test_conversations import App, app_headers, error_of
from test_messages import direct, frames_until, group, nothing_of, send, ws


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory)


@pytest.fixture(scope="module")
def app(server):
    return App(server, app_headers(server))


@pytest.fixture(scope="module")
def other(server):
    a = App(server, app_headers(server, "OtherRead"))
    a.users("ra", "rb")
    return a


def read(app, uid, conv, seq):
    return app.call(uid, "POST", "/conversations/%s/read" % conv, {"seq": seq})


def conv_of(app, uid, conv):
    r = app.call(uid, "GET", "/conversations/" + conv)
    assert r.status == 200, r
    return r.json()


def listed(app, uid):
    r = app.call(uid, "GET", "/conversations?page_size=100")
    assert r.status == 200, r
    return r.json()


# ---------------------------------------------------------------- HTTP read

def test_read_is_monotonic_and_cut_to_the_last_message(app):
    app.users("m_a", "m_b")
    conv = direct(app, "m_a", "m_b")
    for i in range(5):
        assert send(app, "m_a", conv, "n%d" % i).status == 201
    assert conv_of(app, "m_b", conv)["unread_count"] == 5
    r = read(app, "m_b", conv, 3)
    assert r.status == 200, r
    assert r.json() == {"conversation_id": conv, "seq": 3, "unread_count": 2}
    # an older seq does not move it back
    assert read(app, "m_b", conv, 1).json() == {"conversation_id": conv, "seq": 3,
                                                "unread_count": 2}
    assert conv_of(app, "m_b", conv)["read_seq"] == 3
    # past the last message: cut to it
    assert read(app, "m_b", conv, 999).json() == {"conversation_id": conv, "seq": 5,
                                                  "unread_count": 0}
    c = conv_of(app, "m_b", conv)
    assert (c["read_seq"], c["unread_count"], c["last_seq"]) == (5, 0, 5)
    assert read(app, "m_b", conv, 0).json()["seq"] == 5


def test_read_validation_names_seq(app):
    app.users("v_a", "v_b")
    conv = direct(app, "v_a", "v_b")
    for body in ({}, {"seq": -1}, {"seq": "3"}, {"seq": 1.5}, {"seq": None}):
        error_of(app.call("v_a", "POST", "/conversations/%s/read" % conv, body), 422, "seq")
    error_of(app.call("v_a", "POST", "/conversations/%s/read" % conv, {"seq": 1, "x": 1}),
             422, "x")


def test_non_members_and_other_apps_get_404(app, other):
    app.users("ra", "rb", "r_out")
    conv = direct(app, "ra", "rb")
    send(app, "ra", conv, "x")
    error_of(read(app, "r_out", conv, 1), 404, code="not_found")
    error_of(read(other, "ra", conv, 1), 404)
    error_of(read(app, "ra", "c000000000000000000000000", 1), 404)
    error_of(read(app, "ra", "not%20an%20id", 1), 404)
    assert conv_of(app, "rb", conv)["unread_count"] == 1


# ---------------------------------------------------------------- unread counts

def test_unread_counts_per_conversation_and_in_total(app):
    app.users("u_me", "u_x", "u_y")
    d = direct(app, "u_me", "u_x")
    g = group(app, "u_y", ["u_me", "u_x"], "Counts")
    base = listed(app, "u_me")
    assert base["unread_total"] == 0
    for i in range(3):
        send(app, "u_x", d, "d%d" % i)
    for i in range(2):
        send(app, "u_y", g, "g%d" % i)
    send(app, "u_x", g, "gx")
    mine = listed(app, "u_me")
    by_id = {c["id"]: c for c in mine["results"]}
    assert by_id[d]["unread_count"] == 3 and by_id[g]["unread_count"] == 3
    assert mine["unread_total"] == 6
    # my own messages are not unread and mark what came before them as read
    send(app, "u_me", g, "mine")
    mine = listed(app, "u_me")
    by_id = {c["id"]: c for c in mine["results"]}
    assert by_id[g]["unread_count"] == 0 and by_id[g]["read_seq"] == 4
    assert mine["unread_total"] == 3
    send(app, "u_y", g, "after mine")
    assert conv_of(app, "u_me", g)["unread_count"] == 1
    # the others count mine as unread: u_x sent seq 3, then came mine (4) and u_y's (5)
    assert conv_of(app, "u_x", g)["unread_count"] == 2
    read(app, "u_me", d, 3)
    read(app, "u_me", g, 5)
    assert listed(app, "u_me")["unread_total"] == 0


def test_a_member_added_later_counts_from_their_join(app):
    app.users("j_own", "j_new")
    g = group(app, "j_own", [], "Late")
    for i in range(4):
        send(app, "j_own", g, "old%d" % i)
    r = app.call("j_own", "POST", "/conversations/%s/members" % g, {"user_ids": ["j_new"]})
    assert r.status == 200, r
    c = conv_of(app, "j_new", g)
    # what came before the join is not theirs; the system message telling the add is (seq 5)
    assert (c["unread_count"], c["read_seq"]) == (1, 4)
    assert (c["last_message"]["seq"], c["last_message"]["type"]) == (5, "system")
    m = send(app, "j_own", g, "new").json()
    c = conv_of(app, "j_new", g)
    assert c["unread_count"] == 2 and c["last_message"]["id"] == m["id"]


# ---------------------------------------------------------------- last_message

def test_last_message_previews(app):
    app.users("p_a", "p_b")
    conv = direct(app, "p_a", "p_b")
    assert conv_of(app, "p_a", conv)["last_message"] is None
    long_text = "汉字" * 60 + "tail"  # 124 characters, 364 bytes
    m = send(app, "p_a", conv, long_text).json()
    lm = conv_of(app, "p_b", conv)["last_message"]
    assert lm["preview"] == "汉字" * 50 and len(lm["preview"]) == 100
    assert (lm["id"], lm["seq"], lm["sender_id"], lm["type"], lm["recalled"]) == \
        (m["id"], m["seq"], "p_a", "text", False)
    assert lm["created_at"] == m["created_at"]
    assert conv_of(app, "p_b", conv)["last_message"]["preview"] == lm["preview"]
    send(app, "p_a", conv, "short 🙂")
    assert conv_of(app, "p_a", conv)["last_message"]["preview"] == "short 🙂"
    media = {"url": "https://cdn.example/secret/a.bin", "name": "a.bin", "size": 3,
             "mime": "application/octet-stream"}
    for t in ("image", "file", "audio", "video"):
        assert send(app, "p_b", conv, media, type=t).status == 201
        got = [c for c in listed(app, "p_a")["results"] if c["id"] == conv][0]
        assert got["last_message"]["preview"] == "[%s]" % t and got["last_message"]["type"] == t
        assert "cdn.example" not in str(got)
    send(app, "p_b", conv, {"k": "v"}, type="custom")
    assert conv_of(app, "p_a", conv)["last_message"]["preview"] == "[custom]"


# ---------------------------------------------------------------- events

def test_read_events_reach_others_and_my_other_devices_not_the_reading_socket(app, server):
    app.users("e_a", "e_b", "e_c", "e_out")
    g = group(app, "e_a", ["e_b", "e_c"], "Events")
    for i in range(3):
        send(app, "e_a", g, "m%d" % i)
    phone, laptop = ws(server, app, "e_b"), ws(server, app, "e_b")
    sender, third, outsider = ws(server, app, "e_a"), ws(server, app, "e_c"), \
        ws(server, app, "e_out")
    phone.send_json({"type": "read", "conversation_id": g, "seq": 2})
    want = {"type": "read", "conversation_id": g, "user_id": "e_b", "seq": 2}
    got = [frames_until(sock, lambda f: f["type"] == "read")[-1]
           for sock in (laptop, sender, third)]
    # one event, logged for sync: the same cursor on every device
    assert len({f.pop("cursor") for f in got}) == 1
    assert got == [want] * 3
    nothing_of(phone, "read")
    nothing_of(outsider, "read")
    assert conv_of(app, "e_b", g)["read_seq"] == 2
    # an older seq moves nothing: no event
    phone.send_json({"type": "read", "conversation_id": g, "seq": 1})
    nothing_of(laptop, "read")
    nothing_of(sender, "read")
    assert conv_of(app, "e_b", g)["read_seq"] == 2
    # over HTTP there is no reading socket: every device of the reader gets it
    assert read(app, "e_b", g, 3).status == 200
    want["seq"] = 3
    for sock in (phone, laptop, sender, third):
        f = frames_until(sock, lambda f: f["type"] == "read")[-1]
        assert f.pop("cursor").isdigit() and f == want
    nothing_of(outsider, "read")


def test_ws_read_errors(app, server):
    app.users("we_r", "we_s", "we_out")
    conv = direct(app, "we_r", "we_s")
    c = ws(server, app, "we_out")
    c.send_json({"type": "read", "conversation_id": conv, "seq": 1})
    e = frames_until(c, lambda f: f["type"] == "error")[-1]
    assert (e["code"], e["field"]) == ("not_found", "conversation_id"), e
    for bad, field in (({"conversation_id": conv}, "seq"),
                       ({"conversation_id": conv, "seq": -3}, "seq"),
                       ({"conversation_id": conv, "seq": "x"}, "seq"),
                       ({"seq": 1}, "conversation_id")):
        c.send_json(dict({"type": "read"}, **bad))
        e = frames_until(c, lambda f: f["type"] == "error")[-1]
        assert (e["code"], e["field"]) == ("validation_failed", field), e
    # the connection stays
    c.send_json({"type": "ping"})
    assert frames_until(c, lambda f: f["type"] == "pong")[-1]["type"] == "pong"


def test_a_room_read_goes_to_the_readers_devices_only(app, server):
    app.users("rm_a", "rm_b")
    r = app.call("rm_a", "POST", "/conversations", {"type": "room", "name": "Lobby"})
    room = r.json()["id"]
    assert app.call("rm_b", "POST", "/rooms/%s/join" % room).status == 200
    send(app, "rm_a", room, "hello room")  # seq 2 (seq 1: the join's system message)
    owner, b_phone = ws(server, app, "rm_a"), ws(server, app, "rm_b")
    assert read(app, "rm_b", room, 2).json()["unread_count"] == 0
    assert frames_until(b_phone, lambda f: f["type"] == "read")[-1]["user_id"] == "rm_b"
    nothing_of(owner, "read")
    c = [x for x in listed(app, "rm_b")["results"] if x["id"] == room][0]
    assert c["read_seq"] == 2 and c["last_message"]["preview"] == "hello room"


def test_concurrent_reads_end_at_the_highest(app):
    from concurrent.futures import ThreadPoolExecutor
    app.users("c_a", "c_b")
    conv = direct(app, "c_a", "c_b")
    for i in range(30):
        send(app, "c_a", conv, "n%d" % i)
    app.token("c_b")
    seqs = list(range(1, 31)) * 2
    with ThreadPoolExecutor(max_workers=12) as ex:
        answers = list(ex.map(lambda s: read(app, "c_b", conv, s), seqs))
    assert all(r.status == 200 for r in answers)
    # each answer is at least what it asked for: read_seq never went back under it
    assert all(r.json()["seq"] >= s for r, s in zip(answers, seqs))
    c = conv_of(app, "c_b", conv)
    assert (c["read_seq"], c["unread_count"]) == (30, 0)


def test_a_removed_member_can_no_longer_mark_read(app, server):
    app.users("x_own", "x_gone", "x_stay")
    g = group(app, "x_own", ["x_gone", "x_stay"], "Removal")
    send(app, "x_own", g, "before")
    assert read(app, "x_gone", g, 1).status == 200
    r = app.call("x_own", "DELETE", "/conversations/%s/members/x_gone" % g)
    assert r.status == 200, r
    error_of(read(app, "x_gone", g, 1), 404)
    gone = ws(server, app, "x_gone")
    gone.send_json({"type": "read", "conversation_id": g, "seq": 1})
    e = frames_until(gone, lambda f: f["type"] == "error")[-1]
    assert e["code"] == "not_found", e
    assert read(app, "x_stay", g, 1).status == 200
    nothing_of(gone, "read")
    assert g not in [c["id"] for c in listed(app, "x_gone")["results"]]
