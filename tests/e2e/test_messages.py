"""
Messages (docs/chat.md, issue 9 second slice): send over HTTP and over the WebSocket (one path
inside), gapless per-conversation seq under concurrent senders, idempotent send on
client_msg_id (replay with Idempotency-Replay, 422 for another body, one message under 50
concurrent repeats), 404 for non-members and other apps, the text limit in characters (CJK,
emoji), the content shapes, history by seq both ways with has_more, reply previews, and
message.new on every member device except the sending socket.
"""
import json
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import Closed, http_request, module_server, ws_open
from test_conversations import App, app_headers, error_of


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory)


@pytest.fixture(scope="module")
def app(server):
    a = App(server, app_headers(server))
    a.users("alice", "bob", "carol", "mallory")
    return a


@pytest.fixture(scope="module")
def other(server):
    a = App(server, app_headers(server, "OtherMsg"))
    a.users("alice", "bob")
    return a


def direct(app, a, b):
    r = app.call(a, "POST", "/conversations", {"type": "direct", "peer": b})
    assert r.status in (200, 201), r
    return r.json()["id"]


def group(app, owner, members, name="G"):
    r = app.call(owner, "POST", "/conversations",
                 {"type": "group", "name": name, "members": list(members)})
    assert r.status == 201, r
    return r.json()["id"]


def send(app, uid, conv, content="hi", type="text", **extra):
    body = dict({"type": type, "content": content}, **extra)
    return app.call(uid, "POST", "/conversations/%s/messages" % conv, body)


def history(app, uid, conv, query=""):
    r = app.call(uid, "GET", "/conversations/%s/messages%s" % (conv, query))
    assert r.status == 200, r
    return r.json()


def all_seqs(app, uid, conv):
    return [m["seq"] for m in history(app, uid, conv, "?after_seq=0&limit=100")["results"]]


def frames_until(c, pred, timeout=5):
    """Frames read until one matches pred (returned last)."""
    seen = []
    while True:
        f = c.recv_frame(timeout=timeout).json()
        seen.append(f)
        if pred(f):
            return seen


def nothing_of(c, type_, wait=0.5):
    try:
        while True:
            f = c.recv_frame(timeout=wait).json()
            assert f["type"] != type_, f
    except (socket.timeout, TimeoutError, Closed):
        return True


# ---------------------------------------------------------------- HTTP send

def test_send_answers_201_with_the_stored_message_after_commit(app):
    conv = direct(app, "alice", "bob")
    r = send(app, "alice", conv, "hello")
    assert r.status == 201, r
    m = r.json()
    assert m["id"].startswith("m") and len(m["id"]) == 25
    assert (m["conversation_id"], m["seq"], m["sender_id"], m["type"], m["content"]) == \
        (conv, 1, "alice", "text", "hello")
    assert m["recalled"] is False and m["edited_at"] is None and m["reply_to"] is None
    assert isinstance(m["cursor"], str) and int(m["cursor"]) > 0
    assert not r.has_header("Idempotency-Replay")
    got = history(app, "bob", conv)["results"]
    assert [x["id"] for x in got] == [m["id"]]
    conv_now = app.call("bob", "GET", "/conversations/" + conv).json()
    assert conv_now["last_seq"] == 1 and conv_now["last_activity_at"] == m["created_at"]


def test_a_send_moves_the_conversation_to_the_top(app):
    first = group(app, "carol", ["bob"], "Older")
    second = group(app, "carol", ["bob"], "Newer")
    mine = lambda: [c["id"] for c in app.call("carol", "GET", "/conversations").json()["results"]]
    assert mine().index(second) < mine().index(first)
    assert send(app, "bob", first, "bump").status == 201
    assert mine()[0] == first


def test_seq_is_gapless_under_20_concurrent_senders(app):
    senders = ["seq%02d" % i for i in range(20)]
    app.users(*senders)
    conv = group(app, senders[0], senders[1:], "Race")
    for s in senders:
        app.token(s)

    def burst(s):
        return [send(app, s, conv, "%s-%d" % (s, k)).status for k in range(5)]

    with ThreadPoolExecutor(20) as ex:
        statuses = [st for b in ex.map(burst, senders) for st in b]
    assert statuses == [201] * 100
    assert all_seqs(app, senders[3], conv) == list(range(1, 101))
    assert app.call(senders[0], "GET", "/conversations/" + conv).json()["last_seq"] == 100


def test_concurrent_first_sends_with_to_make_one_conversation(app):
    # both sides of a new pair send at once before the conversation exists: the first send
    # gets or creates it, the others wait for it (docs/chat.md); each message is stored once
    app.users("pa", "pb")
    app.token("pa")
    app.token("pb")

    def one(k):
        frm, to = ("pa", "pb") if k % 2 == 0 else ("pb", "pa")
        return app.call(frm, "POST", "/messages",
                        {"to": to, "message": {"type": "text", "content": "m%d" % k}})

    with ThreadPoolExecutor(30) as ex:
        rs = list(ex.map(one, range(30)))
    assert [r.status for r in rs] == [201] * 30, [r for r in rs if r.status != 201]
    convs = {r.json()["conversation_id"] for r in rs}
    assert len(convs) == 1
    conv = convs.pop()
    assert all_seqs(app, "pa", conv) == list(range(1, 31))
    texts = sorted(m["content"] for m in history(app, "pb", conv, "?after_seq=0&limit=100")["results"])
    assert texts == sorted("m%d" % k for k in range(30))
    mine = [c["id"] for c in app.call("pa", "GET", "/conversations").json()["results"]
            if c["type"] == "direct" and c["peer"]["id"] == "pb"]
    assert mine == [conv]


def test_a_deleted_users_direct_conversation_is_not_handed_to_a_new_user_of_the_same_id(app):
    app.users("du_a", "du_b")
    old = direct(app, "du_a", "du_b")
    r = app.call("du_a", "POST", "/messages",
                 {"to": "du_b", "message": {"type": "text", "content": "private to the old du_b"}})
    assert r.status == 201 and r.json()["conversation_id"] == old, r  # (now in the cache)
    r = http_request(app.server.port, "DELETE", "/api/v1/users/du_b", app.headers)
    assert r.status == 204, r
    app.tokens.pop("du_b", None)
    app.users("du_b")  # someone else, given the same id
    new = direct(app, "du_b", "du_a")
    assert new != old
    assert history(app, "du_b", new, "?after_seq=0")["results"] == []
    assert app.call("du_b", "GET", "/conversations/%s/messages" % old).status == 404
    # a send with `to` from the peer (whose server remembered the old pair) reaches the new one
    r = app.call("du_a", "POST", "/messages",
                 {"to": "du_b", "message": {"type": "text", "content": "hello, new du_b"}})
    assert r.status == 201 and r.json()["conversation_id"] == new, r
    assert [m["content"] for m in history(app, "du_b", new, "?after_seq=0")["results"]] == \
        ["hello, new du_b"]
    # the old one stays with du_a as history
    assert [m["content"] for m in history(app, "du_a", old, "?after_seq=0")["results"]] == \
        ["private to the old du_b"]


# ---------------------------------------------------------------- idempotency

def test_a_repeated_client_msg_id_replays_the_original(app):
    conv = direct(app, "alice", "carol")
    first = send(app, "alice", conv, "once", client_msg_id="c-1")
    assert first.status == 201, first
    again = send(app, "alice", conv, "once", client_msg_id="c-1")
    assert again.status == 201, again
    assert again.header("Idempotency-Replay") == "true"
    assert again.json() == first.json()
    error_of(send(app, "alice", conv, "twice", client_msg_id="c-1"), 422, "client_msg_id",
             "validation_failed")
    error_of(send(app, "alice", conv, "once", type="custom", client_msg_id="c-1"), 422,
             "client_msg_id")
    # another sender may use the same client id: ids are per sender
    other = send(app, "carol", conv, "once", client_msg_id="c-1")
    assert other.status == 201 and other.json()["id"] != first.json()["id"]
    assert all_seqs(app, "alice", conv) == [1, 2]


def test_50_concurrent_identical_sends_store_one_message(app):
    conv = direct(app, "bob", "carol")
    app.token("bob")

    def one(_):
        return send(app, "bob", conv, "same", client_msg_id="burst-1")

    with ThreadPoolExecutor(50) as ex:
        rs = list(ex.map(one, range(50)))
    # one node: its one writer orders the repeats after the first, so each one replays
    # (409 is for a repeat on another node whose original cannot be read: docs/chat.md)
    assert [r.status for r in rs] == [201] * 50
    assert len({r.json()["id"] for r in rs}) == 1
    assert sum(1 for r in rs if r.header("Idempotency-Replay") is None) == 1
    assert all_seqs(app, "carol", conv) == [1]


# ---------------------------------------------------------------- who may send and read

def test_non_members_and_other_apps_get_404(app, other):
    conv = direct(app, "alice", "bob")
    error_of(send(app, "mallory", conv, "let me in"), 404, code="not_found")
    error_of(app.call("mallory", "GET", "/conversations/%s/messages" % conv), 404)
    error_of(send(other, "alice", conv, "same name, other app"), 404)
    error_of(other.call("alice", "GET", "/conversations/%s/messages" % conv), 404)
    error_of(send(app, "alice", "not%20an%20id", "x"), 404)
    error_of(send(app, "alice", "c000000000000000000000000", "x"), 404)
    before = app.call("alice", "GET", "/conversations/" + conv).json()["last_seq"]
    assert send(app, "alice", conv, "still mine").json()["seq"] == before + 1


# ---------------------------------------------------------------- content

def test_text_limit_counts_characters_not_bytes(app):
    conv = direct(app, "alice", "mallory")
    assert send(app, "alice", conv, "汉" * 4000).status == 201      # 12,000 bytes
    assert send(app, "alice", conv, "😀" * 4000).status == 201      # 16,000 bytes
    e = error_of(send(app, "alice", conv, "汉" * 4001), 422, "content", "validation_failed")
    assert "4000" in e["message"]
    error_of(send(app, "alice", conv, "😀" * 4001), 422, "content")
    error_of(send(app, "alice", conv, ""), 422, "content")
    got = history(app, "mallory", conv, "?limit=2")["results"]
    assert [len(m["content"]) for m in got] == [4000, 4000]


def test_content_shapes_by_type(app):
    conv = direct(app, "bob", "mallory")
    image = {"url": "https://cdn.example/a.png", "name": "a.png", "size": 1234,
             "mime": "image/png", "width": 10, "height": 20}
    r = send(app, "bob", conv, image, type="image")
    assert r.status == 201 and r.json()["content"] == image
    error_of(send(app, "bob", conv, {"name": "a", "size": 1, "mime": "x/y"}, type="file"), 422,
             "content.url")
    error_of(send(app, "bob", conv, {"url": "/media/a.bin", "name": "a", "size": -1,
                                     "mime": "x/y"}, type="video"), 422, "content.size")
    error_of(send(app, "bob", conv, "not an object", type="audio"), 422, "content")
    custom = {"kind": "order", "order": {"id": 17, "items": ["a", "b"]}}
    assert send(app, "bob", conv, custom, type="custom").json()["content"] == custom
    error_of(send(app, "bob", conv, {"blob": "x" * 9000}, type="custom"), 422, "content")
    error_of(send(app, "bob", conv, "hi", type="system"), 422, "type")
    error_of(send(app, "bob", conv, "hi", type="sticker"), 422, "type")
    error_of(send(app, "bob", conv, 17), 422, "content")
    error_of(send(app, "bob", conv, "x", client_msg_id="has space"), 422, "client_msg_id")
    error_of(send(app, "bob", conv, "x", extra=1), 422, "extra")


MEDIA_PATH = "/media/uploads/2026/01/02/0123456789abcdef0123456789abcdef.pdf"
BAD_URLS = ["javascript:alert(document.cookie)", "JavaScript:alert(1)", " javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>", "vbscript:x", "ftp://cdn.example/a.pdf",
            "u", "/etc/passwd", "/media/../herald.db", "/media/uploads/.a.pdf.part"]


def media(url):
    return {"url": url, "name": "invoice.pdf", "size": 1, "mime": "application/pdf"}


def test_media_urls_are_http_urls_or_media_paths(app, server):
    """audit F4: the url of a media message passes the avatars' check (kit KIT_MEDIA)"""
    app.users("mu_a", "mu_b")
    conv = direct(app, "mu_a", "mu_b")
    last = all_seqs(app, "mu_a", conv)
    for t in ("image", "file", "audio", "video"):
        for bad in BAD_URLS:
            e = error_of(send(app, "mu_a", conv, media(bad), type=t), 422, "content.url",
                         "validation_failed")
            assert "URL" in e["message"], e
    r = app.call("mu_a", "POST", "/messages",
                 {"to": "mu_b", "message": {"type": "file", "content": media("vbscript:x")}})
    error_of(r, 422, "message.content.url")
    c = ws(server, app, "mu_a")
    c.send_json({"type": "send", "conversation_id": conv, "client_msg_id": "mu-1",
                 "message": {"type": "image", "content": media("data:image/png;base64,AA==")}})
    f = frames_until(c, lambda f: f["type"] in ("send.ok", "error"))[-1]
    assert (f["type"], f["code"], f["field"], f["client_msg_id"]) == \
        ("error", "validation_failed", "message.content.url", "mu-1"), f
    c.close()
    assert all_seqs(app, "mu_a", conv) == last  # nothing was stored
    # what a user gives: an upload's path, an http(s) URL
    for good in ("https://cdn.example/a.pdf", "http://cdn.example/a.pdf",
                 "HTTPS://CDN.example/a.pdf"):
        r = send(app, "mu_a", conv, media(good), type="file")
        assert r.status == 201 and r.json()["content"]["url"] == good, r
    r = send(app, "mu_a", conv, media(MEDIA_PATH), type="file")  # no HERALD_BASE_URL: as given
    assert r.status == 201 and r.json()["content"]["url"] == MEDIA_PATH, r
    # a custom message is free JSON
    r = send(app, "mu_a", conv, {"url": "javascript:alert(1)"}, type="custom")
    assert r.status == 201 and r.json()["content"] == {"url": "javascript:alert(1)"}, r


def test_reply_to_carries_a_quoted_preview(app):
    conv = direct(app, "carol", "mallory")
    long = "引" * 150
    orig = send(app, "carol", conv, long).json()
    pic = send(app, "carol", conv, {"url": "https://cdn.example/p.png", "name": "p.png",
                                    "size": 1, "mime": "image/png"}, type="image").json()
    r = send(app, "mallory", conv, "agreed", reply_to=orig["id"])
    assert r.status == 201, r
    m = r.json()
    assert m["reply_to"] == orig["id"]
    assert m["reply_preview"] == {"sender_id": "carol", "type": "text", "text": "引" * 100,
                                  "recalled": False}
    on_pic = send(app, "mallory", conv, "nice", reply_to=pic["id"]).json()
    assert on_pic["reply_preview"]["text"] == "[image]"
    listed = history(app, "carol", conv, "?limit=1")["results"][0]
    assert listed["reply_preview"]["text"] == "[image]"
    elsewhere = send(app, "alice", direct(app, "alice", "bob"), "x").json()
    error_of(send(app, "mallory", conv, "x", reply_to=elsewhere["id"]), 422, "reply_to")
    error_of(send(app, "mallory", conv, "x", reply_to="m-nope"), 422, "reply_to")
    assert send(app, "mallory", conv, "gapless").json()["seq"] == on_pic["seq"] + 1


def test_a_member_added_later_cannot_reply_to_what_came_before_their_join(app, server):
    """audit F5: the reply_to check is the history's rule (messages after joined_seq), so a
    late member gets no quoted preview of a message they cannot read"""
    app.users("qa", "qb", "qc")
    conv = group(app, "qa", ["qb"], "Quote")
    before = send(app, "qa", conv, "before qc joined: secret").json()
    assert app.call("qa", "POST", "/conversations/%s/members" % conv,
                    {"user_ids": ["qc"]}).status == 200
    e = error_of(send(app, "qc", conv, "quote", reply_to=before["id"]), 422, "reply_to",
                 "validation_failed")
    assert "secret" not in json.dumps(e)
    c = ws(server, app, "qc")
    c.send_json({"type": "send", "conversation_id": conv, "client_msg_id": "q-1",
                 "message": {"type": "text", "content": "x", "reply_to": before["id"]}})
    f = frames_until(c, lambda f: f["type"] in ("send.ok", "error"))[-1]
    assert (f["type"], f["code"], f["field"], f["client_msg_id"]) == \
        ("error", "validation_failed", "message.reply_to", "q-1"), f
    c.close()
    # nothing was written; what the late member can read, they can quote
    seqs = all_seqs(app, "qa", conv)
    added = history(app, "qc", conv, "?after_seq=0")["results"]
    assert [m["type"] for m in added] == ["system"] and added[0]["seq"] == seqs[-1]
    r = send(app, "qc", conv, "welcome me", reply_to=added[0]["id"])
    assert r.status == 201 and r.json()["reply_preview"]["type"] == "system", r
    after = send(app, "qa", conv, "after qc joined").json()
    r = send(app, "qc", conv, "seen", reply_to=after["id"])
    assert r.status == 201 and r.json()["reply_preview"]["text"] == "after qc joined", r
    # a member from before may quote it still
    r = send(app, "qb", conv, "old news", reply_to=before["id"])
    assert r.status == 201 and r.json()["reply_preview"]["text"].startswith("before"), r


def test_a_room_member_cannot_reply_to_what_came_before_their_join(app):
    app.users("rq_owner", "rq_late")
    room = app.call("rq_owner", "POST", "/conversations", {"type": "room", "name": "RQ"}).json()
    before = send(app, "rq_owner", room["id"], "room, before").json()
    assert app.call("rq_late", "POST", "/rooms/%s/join" % room["id"]).status == 200
    error_of(send(app, "rq_late", room["id"], "x", reply_to=before["id"]), 422, "reply_to")
    after = send(app, "rq_owner", room["id"], "room, after").json()
    assert send(app, "rq_late", room["id"], "y", reply_to=after["id"]).status == 201


# ---------------------------------------------------------------- history

def test_history_pages_both_ways(app):
    conv = group(app, "alice", ["bob"], "Paging")
    for k in range(1, 8):
        assert send(app, "alice", conv, "m%d" % k).json()["seq"] == k
    seqs = lambda page: [m["seq"] for m in page["results"]]
    page = history(app, "bob", conv, "?limit=3")
    assert (seqs(page), page["has_more"]) == ([7, 6, 5], True)
    page = history(app, "bob", conv, "?before_seq=5&limit=3")
    assert (seqs(page), page["has_more"]) == ([4, 3, 2], True)
    page = history(app, "bob", conv, "?before_seq=2&limit=3")
    assert (seqs(page), page["has_more"]) == ([1], False)
    page = history(app, "bob", conv, "?after_seq=0&limit=3")
    assert (seqs(page), page["has_more"]) == ([1, 2, 3], True)
    page = history(app, "bob", conv, "?after_seq=4&limit=3")
    assert (seqs(page), page["has_more"]) == ([5, 6, 7], False)
    page = history(app, "bob", conv)
    assert (seqs(page), page["has_more"]) == ([7, 6, 5, 4, 3, 2, 1], False)
    assert page["results"][0]["content"] == "m7"
    error_of(app.call("bob", "GET", "/conversations/%s/messages?limit=0" % conv), 422, "limit")
    for name in ("before_seq", "after_seq", "limit"):  # too long is refused, not dropped
        error_of(app.call("bob", "GET", "/conversations/%s/messages?%s=%s" % (conv, name, "7" * 40)),
                 422, name)
    error_of(app.call("bob", "GET", "/conversations/%s/messages?before_seq=x" % conv), 422,
             "before_seq")
    error_of(app.call("bob", "GET", "/conversations/%s/messages?before_seq=3&after_seq=1"
                      % conv), 422, "after_seq")


def test_history_limit_is_capped_at_100(app):
    conv = direct(app, "alice", "carol")
    app.token("alice")
    have = len(all_seqs(app, "alice", conv))
    for k in range(102 - have):
        assert send(app, "alice", conv, "n%d" % k).status == 201
    page = history(app, "carol", conv, "?limit=500")
    assert len(page["results"]) == 100 and page["has_more"] is True


def test_a_member_added_later_reads_from_their_join(app):
    conv = group(app, "alice", ["bob"], "Late")
    send(app, "alice", conv, "before carol")
    assert app.call("alice", "POST", "/conversations/%s/members" % conv,
                    {"user_ids": ["carol"]}).status == 200
    send(app, "alice", conv, "after carol")
    added = {"event": "member.added", "user_ids": ["carol"], "by": "alice"}  # the system message
    assert [m["content"] for m in history(app, "carol", conv)["results"]] == \
        ["after carol", added]
    assert [m["content"] for m in history(app, "carol", conv, "?after_seq=0")["results"]] == \
        [added, "after carol"]
    assert len(history(app, "bob", conv)["results"]) == 3


# ---------------------------------------------------------------- WebSocket

def ws(server, app, uid):
    return ws_open(server.port, "/ws?token=" + app.token(uid))


def test_ws_send_reaches_every_member_device_but_the_sending_socket(app, server):
    app.users("wa", "wb", "wout")
    conv = direct(app, "wa", "wb")
    phone, laptop, peer, outsider = ws(server, app, "wa"), ws(server, app, "wa"), \
        ws(server, app, "wb"), ws(server, app, "wout")
    phone.send_json({"type": "send", "conversation_id": conv, "client_msg_id": "w-1",
                     "message": {"type": "text", "content": "你好"}})
    ok = frames_until(phone, lambda f: f["type"] != "presence")[-1]  # presence: co-members
    assert ok["type"] == "send.ok", ok
    assert ok["client_msg_id"] == "w-1" and ok["conversation_id"] == conv and ok["seq"] == 1
    assert set(ok) >= {"id", "created_at", "cursor"} and "content" not in ok
    for sock in (laptop, peer):
        f = frames_until(sock, lambda f: f["type"] != "presence")[-1]
        assert f["type"] == "message.new", f
        assert f["message"]["id"] == ok["id"] and f["message"]["content"] == "你好"
        assert f["cursor"] == ok["cursor"]
    nothing_of(phone, "message.new")
    nothing_of(outsider, "message.new")
    # committed: the history has it at once
    assert [m["id"] for m in history(app, "wb", conv)["results"]] == [ok["id"]]
    # an HTTP send has no socket: every device of the sender gets it
    m = send(app, "wa", conv, "from http").json()
    for sock in (phone, laptop, peer):
        f = frames_until(sock, lambda f: f["type"] != "presence")[-1]
        assert f["type"] == "message.new" and f["message"]["id"] == m["id"], f
    nothing_of(outsider, "message.new")


def test_ws_send_to_a_user_gets_or_creates_the_direct_conversation(app, server):
    app.users("wt_a", "wt_b")
    a, b = ws(server, app, "wt_a"), ws(server, app, "wt_b")
    a.send_json({"type": "send", "to": "wt_b", "message": {"type": "text", "content": "first"}})
    ok = frames_until(a, lambda f: f["type"] in ("send.ok", "error"))[-1]
    assert ok["type"] == "send.ok" and ok["client_msg_id"] is None and ok["seq"] == 1, ok
    seen = frames_until(b, lambda f: f["type"] == "message.new")
    assert seen[0]["type"] == "conversation.updated"
    assert seen[0]["conversation"]["id"] == ok["conversation_id"]
    assert seen[-1]["message"]["content"] == "first"
    assert direct(app, "wt_b", "wt_a") == ok["conversation_id"]
    a.send_json({"type": "send", "to": "wt_b", "message": {"type": "text", "content": "2nd"}})
    ok2 = frames_until(a, lambda f: f["type"] in ("send.ok", "error"))[-1]
    assert ok2["conversation_id"] == ok["conversation_id"] and ok2["seq"] == 2
    a.send_json({"type": "send", "to": "nobody_here", "client_msg_id": "t-9",
                 "message": {"type": "text", "content": "x"}})
    e = frames_until(a, lambda f: f["type"] in ("send.ok", "error"))[-1]
    assert (e["type"], e["code"], e["field"], e["client_msg_id"]) == \
        ("error", "not_found", "to", "t-9")


def test_ws_send_errors_and_replay(app, server):
    app.users("we_a", "we_b")
    conv = direct(app, "we_a", "we_b")
    c = ws(server, app, "we_a")
    stranger = direct(app, "alice", "bob")

    def ask(frame):
        c.send_json(frame)
        return frames_until(c, lambda f: f["type"] in ("send.ok", "error"))[-1]

    e = ask({"type": "send", "conversation_id": stranger, "client_msg_id": "e-1",
             "message": {"type": "text", "content": "x"}})
    assert (e["type"], e["code"], e["client_msg_id"]) == ("error", "not_found", "e-1"), e
    e = ask({"type": "send", "conversation_id": conv,
             "message": {"type": "text", "content": "字" * 4001}})
    assert (e["code"], e["field"]) == ("validation_failed", "message.content"), e
    e = ask({"type": "send", "conversation_id": conv,
             "message": {"type": "image", "content": {"url": "/media/p.png"}}})
    assert e["field"] == "message.content.name", e
    e = ask({"type": "send", "message": {"type": "text", "content": "x"}})
    assert e["code"] == "validation_failed", e
    e = ask({"type": "send", "conversation_id": conv, "to": "we_b",
             "message": {"type": "text", "content": "x"}})
    assert e["code"] == "validation_failed", e
    e = ask({"type": "send", "conversation_id": conv})
    assert e["field"] == "message", e
    # a frame refused before it is under way names the send too, when its id is well-formed
    e = ask({"type": "send", "conversation_id": conv, "client_msg_id": "early-1",
             "message": {"type": "text", "content": ""}})
    assert (e["code"], e["field"], e["client_msg_id"]) == (
        "validation_failed", "message.content", "early-1"), e
    e = ask({"type": "send", "to": "we_b", "conversation_id": conv, "client_msg_id": "early-2",
             "message": {"type": "text", "content": "x"}})
    assert (e["code"], e["client_msg_id"]) == ("validation_failed", "early-2"), e
    e = ask({"type": "send", "conversation_id": conv, "client_msg_id": "bad id",
             "message": {"type": "text", "content": "x"}})
    assert (e["code"], e["field"]) == ("validation_failed", "client_msg_id"), e
    assert "client_msg_id" not in e, e
    frame = {"type": "send", "conversation_id": conv, "client_msg_id": "r-1",
             "message": {"type": "text", "content": "once"}}
    first = ask(frame)
    again = ask(frame)
    assert first["type"] == again["type"] == "send.ok"
    assert again["id"] == first["id"] and again["seq"] == first["seq"] and again["replay"]
    # the same client id over HTTP is the same sender's: a replay too
    r = send(app, "we_a", conv, "once", client_msg_id="r-1")
    assert r.status == 201 and r.json()["id"] == first["id"]
    assert r.header("Idempotency-Replay") == "true"
    frame["message"]["content"] = "changed"
    e = ask(frame)
    assert (e["code"], e["field"]) == ("validation_failed", "client_msg_id"), e
    assert all_seqs(app, "we_b", conv) == [first["seq"]]
    c.send_json({"type": "ping"})
    assert frames_until(c, lambda f: f["type"] == "pong")


def test_closing_the_socket_right_after_a_send_keeps_the_server_well(app, server):
    app.users("wc_a", "wc_b")
    conv = direct(app, "wc_a", "wc_b")
    for k in range(20):
        c = ws(server, app, "wc_a")
        c.send_json({"type": "send", "conversation_id": conv, "client_msg_id": "gone-%d" % k,
                     "message": {"type": "text", "content": "bye %d" % k}})
        c.close()
    c = ws(server, app, "wc_a")
    c.send_json({"type": "send", "conversation_id": conv,
                 "message": {"type": "text", "content": "last"}})
    ok = frames_until(c, lambda f: f["type"] in ("send.ok", "error"))[-1]
    assert ok["type"] == "send.ok", ok
    # the sends of closed sockets commit or not, in any order with the last: no gap either way
    seqs = all_seqs(app, "wc_b", conv)
    assert seqs == list(range(1, len(seqs) + 1)) and ok["seq"] in seqs and len(seqs) <= 21


def test_a_removed_member_can_neither_send_nor_read_nor_receive(app, server):
    app.users("rm_owner", "rm_gone")
    conv = group(app, "rm_owner", ["rm_gone"], "Removal")
    gone = ws(server, app, "rm_gone")
    assert send(app, "rm_gone", conv, "while a member").status == 201
    assert app.call("rm_owner", "DELETE",
                    "/conversations/%s/members/rm_gone" % conv).status == 200
    error_of(send(app, "rm_gone", conv, "after removal"), 404)
    error_of(app.call("rm_gone", "GET", "/conversations/%s/messages" % conv), 404)
    gone.send_json({"type": "send", "conversation_id": conv,
                    "message": {"type": "text", "content": "over ws"}})
    e = frames_until(gone, lambda f: f["type"] in ("send.ok", "error"))[-1]
    assert (e["type"], e["code"]) == ("error", "not_found"), e
    # seq 2 is the system message of the removal
    assert send(app, "rm_owner", conv, "not for you").json()["seq"] == 3
    nothing_of(gone, "message.new")


def test_shutdown_during_ws_sends_is_clean_and_keeps_every_acknowledged_message(tmp_path):
    from conftest import Server, http_request
    env = {"HERALD_DEMO": "1"}
    srv = Server(env=env, workdir=tmp_path / "srv").start()
    r = http_request(srv.port, "POST", API_DEMO % "sd_a", {"Content-Type": "application/json"},
                     json.dumps({"type": "direct", "peer": "sd_b"}).encode())
    assert r.status == 201, r
    conv = r.json()["id"]
    c = ws_open(srv.port, "/ws?user_id=sd_a")

    def burst(start):
        for k in range(start, start + 300):
            c.send_json({"type": "send", "conversation_id": conv, "client_msg_id": "sd-%d" % k,
                         "message": {"type": "text", "content": "n%d" % k}})

    burst(0)
    acked = []
    while len(acked) < 5:
        f = c.recv_frame(timeout=5).json()
        if f["type"] == "send.ok":
            acked.append(f["id"])
    burst(300)  # and stop while these are on their way: their jobs end before the loops do
    srv.stop()  # exit 0 and no sanitizer report
    again = Server(env=env, workdir=tmp_path / "srv").start()
    try:
        r = http_request(again.port, "GET", "/api/v1/conversations/%s/messages?after_seq=0"
                         "&limit=100&user_id=sd_b" % conv)
        assert r.status == 200, r
        ids = [m["id"] for m in r.json()["results"]]
        assert acked and set(acked) <= set(ids)
        assert [m["seq"] for m in r.json()["results"]] == list(range(1, len(ids) + 1))
    finally:
        again.stop()


API_DEMO = "/api/v1/conversations?user_id=%s"
