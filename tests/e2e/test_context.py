"""
The customer context (issue 10 item 4, docs/service.md "Customer context"): a direct
conversation carries the peer's free JSON metadata as peer.metadata (and each member's in
members[].metadata) in GET /conversations and GET /conversations/{id}; a change of a user's
metadata, name or avatar (PATCH /users/{id} by the app, PATCH /auth/me by the user) is a
member.updated event in each of their 200 most recently active direct conversations,
published as conversation.updated with its cursor to the peer's open sockets and to monitors,
and replayed to the peer by GET /sync (not to the user: the change is theirs).
"""
import json
import time

import pytest

from conftest import http_request, module_server, ws_open
from test_conversations import App, app_headers, error_of
from test_messages import direct, frames_until, group, nothing_of, send
from test_sync import sync_all

API = "/api/v1"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory)


@pytest.fixture(scope="module")
def app(server):
    a = App(server, app_headers(server, "ShopCtx"))
    a.users("m1", "m2", kind="merchant")
    a.users("b1", "b2", "b3", kind="buyer")
    return a


def patch_user(app, uid, body):
    return http_request(app.server.port, "PATCH", API + "/users/" + uid, app.headers,
                        json.dumps(body).encode())


def peer_of(app, me, conv):
    r = app.call(me, "GET", "/conversations/" + conv)
    assert r.status == 200, r
    return r.json()["peer"]


def test_a_direct_conversation_carries_the_peers_metadata(app):
    orders = {"orders": [{"id": "o-17", "total": 129.5, "status": "shipped"}], "tier": "gold"}
    assert patch_user(app, "b1", {"metadata": orders}).status == 200
    conv = direct(app, "m1", "b1")
    assert peer_of(app, "m1", conv)["metadata"] == orders
    listed = app.call("m1", "GET", "/conversations?page_size=100").json()["results"]
    item = [c for c in listed if c["id"] == conv][0]
    assert item["peer"]["id"] == "b1" and item["peer"]["metadata"] == orders, item
    members = {m["user_id"]: m for m in item["members"]}
    assert members["b1"]["metadata"] == orders and members["m1"]["metadata"] == {}, members
    created = app.call("b2", "POST", "/conversations", {"type": "direct", "peer": "m1"}).json()
    assert created["peer"]["metadata"] == {}, created


def test_groups_carry_no_metadata(app):
    g = group(app, "m1", ["b1"], name="NoMeta")
    c = app.call("m1", "GET", "/conversations/" + g).json()
    assert all("metadata" not in m for m in c["members"]) and "peer" not in c, c


def test_a_metadata_patch_reaches_the_peers_open_socket_and_sync(app, server):
    conv = direct(app, "m2", "b3")
    before = sync_all(app, "m2")[1]
    merchant = ws_open(server.port, "/ws?token=" + app.token("m2"))
    new = {"orders": [{"id": "o-99"}], "note": "VIP 客户"}
    assert patch_user(app, "b3", {"metadata": new}).status == 200
    f = frames_until(merchant, lambda f: f["type"] == "conversation.updated")[-1]
    assert f["conversation"]["id"] == conv and f["cursor"].isdigit(), f
    members = {m["user_id"]: m for m in f["conversation"]["members"]}
    assert members["b3"]["metadata"] == new, f
    replay = [e for e in sync_all(app, "m2", before)[0] if e["type"] == "conversation.updated"]
    assert replay and replay[-1]["cursor"] == f["cursor"], replay
    assert {m["user_id"]: m for m in replay[-1]["conversation"]["members"]}["b3"]["metadata"] == new
    assert peer_of(app, "m2", conv)["metadata"] == new
    merchant.close()


def test_a_name_change_by_the_user_reaches_the_peer(app, server):
    conv = direct(app, "m1", "b2")
    merchant = ws_open(server.port, "/ws?token=" + app.token("m1"))
    r = app.call("b2", "PATCH", "/auth/me", {"name": "Bea"})
    assert r.status == 200, r
    f = frames_until(merchant, lambda f: f["type"] == "conversation.updated"
                     and f["conversation"]["id"] == conv)[-1]
    assert {m["user_id"]: m for m in f["conversation"]["members"]}["b2"]["name"] == "Bea", f
    assert peer_of(app, "m1", conv)["name"] == "Bea"
    merchant.close()


def test_a_change_that_touches_no_profile_sends_nothing(app, server):
    direct(app, "m2", "b1")
    merchant = ws_open(server.port, "/ws?token=" + app.token("m2"))
    assert patch_user(app, "b1", {"contacts": {"email": "b1@example.com"}}).status == 200
    assert nothing_of(merchant, "conversation.updated", wait=0.7)
    merchant.close()


def test_users_without_a_direct_conversation_with_them_hear_nothing(app, server):
    app.users("b9", "m9")
    stranger = ws_open(server.port, "/ws?token=" + app.token("m9"))
    assert patch_user(app, "b9", {"metadata": {"x": 1}}).status == 200
    assert nothing_of(stranger, "conversation.updated", wait=0.7)
    stranger.close()


def test_a_monitor_sees_the_profile_change(app, server):
    from test_edit_recall import operator, root_token
    root = root_token(server, "boss-ctx")
    tok = operator(server, root, "ctx-mon", ["conversations:monitor"])
    conv = direct(app, "m1", "b3")
    w = ws_open(server.port, "/ws?token=" + tok)
    assert patch_user(app, "b3", {"metadata": {"tier": "silver"}}).status == 200
    f = frames_until(w, lambda f: f["type"] == "conversation.updated"
                     and f["conversation"]["id"] == conv)[-1]
    assert {m["user_id"]: m for m in f["conversation"]["members"]}["b3"]["metadata"] == \
        {"tier": "silver"}, f
    w.close()


def test_a_bad_metadata_patch_changes_nothing_and_sends_nothing(app, server):
    conv = direct(app, "m1", "b1")
    before = peer_of(app, "m1", conv)["metadata"]
    merchant = ws_open(server.port, "/ws?token=" + app.token("m1"))
    error_of(patch_user(app, "b1", {"metadata": [1, 2]}), 422, "metadata")
    assert nothing_of(merchant, "conversation.updated", wait=0.5)
    assert peer_of(app, "m1", conv)["metadata"] == before
    merchant.close()


def test_one_change_tells_at_most_the_200_most_recent_direct_conversations(app):
    peers = ["p%03d" % i for i in range(205)]
    app.users(*peers)
    convs = []
    app.users("hub")
    for i, p in enumerate(peers):
        if i == 6:  # the six oldest are older than every later one (no tie at the bound)
            time.sleep(0.02)
        convs.append(direct(app, "hub", p))
    send(app, peers[0], convs[0], "the oldest is now the most recent")
    before = sync_all(app, "hub")[1]
    assert patch_user(app, "hub", {"metadata": {"shop": "open"}}).status == 200
    told = set()
    for p, conv in zip(peers, convs):
        got = [e for e in sync_all(app, p, before)[0] if e["type"] == "conversation.updated"]
        assert len(got) <= 1 and all(e["conversation"]["id"] == conv for e in got), got
        if got:
            told.add(conv)
    # the 200 most recently active: convs[0] (a message just now) and the newest 199
    assert told == {convs[0]} | set(convs[-199:]), len(told)
    # the user's own sync shows none of them: the change is theirs
    mine = [e for e in sync_all(app, "hub", before)[0] if e["type"] == "conversation.updated"]
    assert mine == [], mine
    assert peer_of(app, peers[1], convs[1])["metadata"] == {"shop": "open"}  # read as it is now


def test_metadata_numbers_come_back_exactly_as_sent(app):
    """Free JSON keeps every bit of its numbers (core/json_exact.h): an order id at
    JavaScript's largest safe integer and a 17-digit double are not rounded to 15 digits."""
    body = ('{"id":"numbers1","metadata":{"order":9007199254740991,"p":0.30000000000000004,'
            '"n":[12,-1.5e-7]}}')
    r = http_request(app.server.port, "POST", "/api/v1/users",
                     headers=dict(app.headers, **{"Content-Type": "application/json"}),
                     body=body.encode())
    assert r.status == 201, r
    got_back = http_request(app.server.port, "GET", "/api/v1/users/numbers1", app.headers)
    for got in (r, got_back):
        text = got.body.decode()
        assert '"order":9007199254740991' in text and '"p":0.30000000000000004' in text, text
        assert json.loads(text)["metadata"]["n"] == [12, -1.5e-7]


def test_a_number_too_large_to_store_is_refused_naming_it(app):
    body = '{"id":"numbers2","metadata":{"x":{"a":1e999}}}'
    r = http_request(app.server.port, "POST", "/api/v1/users",
                     headers=dict(app.headers, **{"Content-Type": "application/json"}),
                     body=body.encode())
    error_of(r, 422, "metadata.x.a")
    assert http_request(app.server.port, "GET", "/api/v1/users/numbers2",
                        app.headers).status == 404
