"""
The service workflow (issue 10 items 1 and 5, docs/service.md): demo roles from the id
prefix, a direct conversation with a merchant or an agent has a status and an assignee, a
customer's message reopens it; support conversations (POST /support/conversations, a send
`to: "support"`) go to the online agent with the fewest unresolved conversations (round robin
on ties), wait queued while no agent is online and are assigned when one connects; one
unresolved support conversation per customer; status and transfer with their permissions,
system message, events (live and replayed by sync) and audit rows; the queue filters of
GET /conversations; concurrent opens each assigned once with balanced loads.
"""
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import http_request, module_server
from test_conversations import API, App, app_headers, error_of
from test_edit_recall import operator, operator_call, root_token
from test_messages import frames_until, nothing_of, ws

JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory,
                             {"HERALD_DEMO": "1", "HERALD_PRESENCE_GRACE": "200ms"})


_n = [0]


def new_app(server, agents=(), buyers=(), merchants=()):
    """An app of its own: routing counts the agents of one app."""
    _n[0] += 1
    a = App(server, app_headers(server, "Svc%d" % _n[0]))
    for ids, kind in ((agents, "agent"), (buyers, "buyer"), (merchants, "merchant")):
        if ids:
            a.users(*ids, kind=kind)
    return a


def agents_of(app, asker):
    r = app.call(asker, "GET", "/support/agents")
    assert r.status == 200, r
    return {x["user_id"]: x for x in r.json()["results"]}


def online(server, app, *ids):
    """WebSocket connections of agents, returned once the routing counts them online."""
    socks = [ws(server, app, uid) for uid in ids]
    deadline = time.time() + 10
    while time.time() < deadline:
        seen = agents_of(app, ids[0])
        if all(seen.get(u, {}).get("online") for u in ids):
            return socks
        time.sleep(0.05)
    raise AssertionError("agents not online: %r" % seen)


def open_support(app, uid, body=None):
    r = app.call(uid, "POST", "/support/conversations", body if body is not None else {})
    assert r.status in (200, 201), r
    return r


def set_status(app, uid, conv, status):
    return app.call(uid, "POST", "/conversations/%s/status" % conv, {"status": status})


def transfer(app, uid, conv, to):
    return app.call(uid, "POST", "/conversations/%s/transfer" % conv, {"to": to})


def get(app, uid, conv):
    r = app.call(uid, "GET", "/conversations/" + conv)
    assert r.status == 200, r
    return r.json()


def listed(app, uid, query):
    r = app.call(uid, "GET", "/conversations?" + query)
    assert r.status == 200, r
    body = r.json()
    return {c["id"]: c for c in body["results"]}, body["count"]


def is_update(conv_id, **fields):
    return lambda f: (f["type"] == "conversation.updated" and f["conversation"]["id"] == conv_id
                      and all(f["conversation"].get(k) == v for k, v in fields.items()))


# ---------------------------------------------------------------- roles (item 1)

def test_demo_quick_link_makes_the_merchant_and_a_service_conversation(server):
    def demo(method, path, uid, body=None):
        return http_request(server.port, method, API + path + "?user_id=" + uid, JSON,
                            json.dumps(body).encode() if body is not None else None)

    r = demo("POST", "/conversations", "b_ql1", {"type": "direct", "peer": "m_ql1"})
    assert r.status == 201, r
    c = r.json()
    assert c["peer"]["kind"] == "merchant"
    assert (c["status"], c["assignee"], c["customer"]) == ("open", "m_ql1", "b_ql1")
    # the merchant follows the same link back: the same conversation, its queue has it
    r = demo("GET", "/conversations", "m_ql1")
    assert [x["id"] for x in r.json()["results"]] == [c["id"]]
    r = http_request(server.port, "GET", API + "/conversations?user_id=m_ql1&assignee=me", JSON)
    assert [x["id"] for x in r.json()["results"]] == [c["id"]], r
    # the other prefixes: p an agent, a an admin, anything else no kind
    kinds = {}
    for peer in ("p_ql1", "a_ql1", "x_ql1"):
        r = demo("POST", "/conversations", "b_ql1", {"type": "direct", "peer": peer})
        assert r.status == 201, r
        kinds[peer] = (r.json()["peer"]["kind"], r.json()["status"])
    assert kinds == {"p_ql1": ("agent", "open"), "a_ql1": ("admin", None), "x_ql1": ("", None)}


def test_a_direct_conversation_without_merchant_or_agent_has_no_status(server):
    app = new_app(server, buyers=("b1", "b2"))
    c = app.call("b1", "POST", "/conversations", {"type": "direct", "peer": "b2"}).json()
    assert (c["status"], c["assignee"], c["customer"]) == (None, None, None)
    error_of(set_status(app, "b1", c["id"], "resolved"), 409, code="conflict")


# ---------------------------------------------------------------- status

def test_status_transitions_and_the_customers_message_reopens(server):
    app = new_app(server, buyers=("b1", "b2"), merchants=("m1",))
    c = app.call("b1", "POST", "/conversations", {"type": "direct", "peer": "m1"}).json()
    conv = c["id"]
    watch = ws(server, app, "m1")
    r = set_status(app, "m1", conv, "pending")
    assert r.status == 200 and r.json()["status"] == "pending", r
    frames_until(watch, is_update(conv, status="pending"))
    # the merchant's own message changes nothing; the buyer's reopens it
    assert app.call("m1", "POST", "/conversations/%s/messages" % conv,
                    {"type": "text", "content": "shipped?"}).status == 201
    assert get(app, "b1", conv)["status"] == "pending"
    assert app.call("b1", "POST", "/conversations/%s/messages" % conv,
                    {"type": "text", "content": "not yet"}).status == 201
    frames_until(watch, is_update(conv, status="open"))
    assert get(app, "m1", conv)["status"] == "open"
    # resolved, and reopened by the buyer again
    assert set_status(app, "m1", conv, "resolved").json()["status"] == "resolved"
    assert app.call("b1", "POST", "/conversations/%s/messages" % conv,
                    {"type": "text", "content": "one more thing"}).status == 201
    assert get(app, "b1", conv)["status"] == "open"
    # the same status again: 200, no change, no event
    before = get(app, "m1", conv)["updated_at"]
    r = set_status(app, "m1", conv, "open")
    assert r.status == 200 and r.json()["updated_at"] == before, r


def test_a_reopen_is_published_in_commit_order(server):
    """The conversation.updated of a reopen goes out right after its message.new, before any
    event committed later (docs/protocol.md, "Delivery and ordering"): the buyer's two
    messages, sent back to back, reach the merchant as message, reopen, message, with their
    cursors rising. Ten rounds: the old way (a read after the commit) lost the race often."""
    app = new_app(server, buyers=("b1",), merchants=("m1",))
    conv = app.call("b1", "POST", "/conversations", {"type": "direct", "peer": "m1"}).json()["id"]
    watch, buyer = ws(server, app, "m1"), ws(server, app, "b1")
    for n in range(10):
        assert set_status(app, "m1", conv, "resolved").json()["status"] == "resolved"
        frames_until(watch, is_update(conv, status="resolved"))
        for k in (1, 2):
            buyer.send_json({"type": "send", "conversation_id": conv, "client_msg_id":
                             "ro-%d-%d" % (n, k), "message": {"type": "text", "content": "m%d" % k}})
        seen = frames_until(watch, lambda f: f["type"] == "message.new"
                            and f["message"]["content"] == "m2")
        got = [(f["type"], f.get("cursor")) for f in seen
               if f["type"] in ("message.new", "conversation.updated")]
        assert [t for t, _ in got] == ["message.new", "conversation.updated", "message.new"], seen
        assert got[0][1] < got[1][1] < got[2][1], got
        assert seen[-2]["conversation"]["status"] == "open", seen
    watch.close()
    buyer.close()


def test_sends_with_to_reopen_as_sends_into_the_conversation(server):
    # a send with `to` finds the direct conversation in the server's cache after the first;
    # whether it is a service conversation comes with it: the buyer's message reopens it
    app = new_app(server, buyers=("b1", "b2"), merchants=("m1",))

    def send_to(sender, peer, text):
        r = app.call(sender, "POST", "/messages",
                     {"to": peer, "message": {"type": "text", "content": text}})
        assert r.status == 201, r
        return r.json()["conversation_id"]

    conv = send_to("b1", "m1", "hello")  # created: not from the cache yet
    assert send_to("b1", "m1", "again") == conv
    assert set_status(app, "m1", conv, "resolved").json()["status"] == "resolved"
    assert send_to("b1", "m1", "one more thing") == conv
    assert get(app, "m1", conv)["status"] == "open"
    # the merchant's message, sent with `to` too, changes nothing
    assert set_status(app, "m1", conv, "pending").json()["status"] == "pending"
    assert send_to("m1", "b1", "shipped") == conv
    assert get(app, "b1", conv)["status"] == "pending"
    assert send_to("b1", "m1", "thanks") == conv
    assert get(app, "b1", conv)["status"] == "open"
    # between two buyers: no status, whoever sends
    other = send_to("b1", "b2", "hi")
    send_to("b2", "b1", "hi back")
    assert get(app, "b1", other)["status"] is None


def test_who_may_change_the_status(server):
    app = new_app(server, buyers=("b1", "b2"), merchants=("m1",), agents=("p1",))
    conv = app.call("b1", "POST", "/conversations", {"type": "direct", "peer": "m1"}).json()["id"]
    # the customer may resolve, nothing else
    e = error_of(set_status(app, "b1", conv, "pending"), 403, code="forbidden")
    assert "resolve" in e["message"]
    assert get(app, "b1", conv)["status"] == "open"
    assert set_status(app, "b1", conv, "resolved").json()["status"] == "resolved"
    # a stranger (even an agent: this is the merchant's direct conversation) learns nothing
    error_of(set_status(app, "b2", conv, "open"), 404, code="not_found")
    error_of(set_status(app, "p1", conv, "open"), 404, code="not_found")
    # bad bodies name the field; nothing changes
    error_of(set_status(app, "m1", conv, "closed"), 422, "status", "validation_failed")
    error_of(app.call("m1", "POST", "/conversations/%s/status" % conv, {}), 422, "status")
    error_of(app.call("m1", "POST", "/conversations/%s/status" % conv,
                      {"status": "open", "x": 1}), 422, "x")
    error_of(set_status(app, "m1", "cnosuch0000000000000000000", "open"), 404)
    assert get(app, "m1", conv)["status"] == "resolved"


# ---------------------------------------------------------------- support routing

def test_queued_without_agents_then_assigned_when_one_connects(server):
    app = new_app(server, agents=("p1",), buyers=("b1", "b2"))
    first = open_support(app, "b1", {"message": {"type": "text", "content": "my order?"}})
    assert first.status == 201
    c1 = first.json()
    assert (c1["type"], c1["status"], c1["assignee"], c1["customer"]) == \
        ("support", "open", None, "b1")
    assert c1["last_seq"] == 1  # the first message went through the send path
    c2 = open_support(app, "b2").json()
    queue, n = listed(app, "p1", "assignee=none")
    assert set(queue) == {c1["id"], c2["id"]} and n == 2
    buyer = ws(server, app, "b1")
    agent = ws(server, app, "p1")
    got = frames_until(agent, is_update(c2["id"], assignee="p1"))  # the oldest first
    assert any(is_update(c1["id"], assignee="p1")(f) for f in got), got
    frames_until(buyer, is_update(c1["id"], assignee="p1"))
    mine, n = listed(app, "p1", "assignee=me&status=open")
    assert set(mine) == {c1["id"], c2["id"]} and n == 2
    assert listed(app, "p1", "assignee=none")[1] == 0
    # the agent is a member now and reads the history from its start
    h = app.call("p1", "GET", "/conversations/%s/messages" % c1["id"]).json()["results"]
    assert [m["content"] for m in h] == ["my order?"]
    agent.close()
    buyer.close()


def test_least_loaded_then_round_robin(server):
    agents = ("pa", "pb", "pc")
    buyers = tuple("b%d" % i for i in range(8))
    app = new_app(server, agents=agents, buyers=buyers)
    socks = online(server, app, *agents)
    got = [open_support(app, b).json()["assignee"] for b in buyers[:6]]
    assert got == ["pa", "pb", "pc", "pa", "pb", "pc"], got
    # pb resolves one: it has the fewest now and takes the next one
    pb_conv = [c for c in listed(app, "pb", "assignee=me")[0]][0]
    assert set_status(app, "pb", pb_conv, "resolved").status == 200
    assert open_support(app, buyers[6]).json()["assignee"] == "pb"
    loads = {u: x["open_count"] for u, x in agents_of(app, "pa").items()}
    assert loads == {"pa": 2, "pb": 2, "pc": 2}, loads
    # an agent who went offline takes nothing new (after the grace)
    socks[0].close()
    deadline = time.time() + 5
    while agents_of(app, "pb")["pa"]["online"] and time.time() < deadline:
        time.sleep(0.05)
    assert open_support(app, buyers[7]).json()["assignee"] in ("pb", "pc")
    for s in socks[1:]:
        s.close()


def test_one_unresolved_support_conversation_per_buyer(server):
    app = new_app(server, agents=("p1",), buyers=("b1",))
    socks = online(server, app, "p1")
    first = open_support(app, "b1")
    assert first.status == 201
    again = open_support(app, "b1")
    assert again.status == 200 and again.json()["id"] == first.json()["id"]
    # a send `to: "support"` (HTTP here; the WebSocket frame takes the same path) lands there
    r = app.call("b1", "POST", "/messages",
                 {"to": "support", "message": {"type": "text", "content": "hello?"}})
    assert r.status == 201 and r.json()["conversation_id"] == first.json()["id"], r
    # resolved: the next request is a new conversation; the old one stays resolved
    assert set_status(app, "p1", first.json()["id"], "resolved").status == 200
    third = open_support(app, "b1")
    assert third.status == 201 and third.json()["id"] != first.json()["id"]
    # a message in the resolved one does not reopen it while the new one is unresolved
    assert app.call("b1", "POST", "/conversations/%s/messages" % first.json()["id"],
                    {"type": "text", "content": "late"}).status == 201
    assert get(app, "b1", first.json()["id"])["status"] == "resolved"
    # a support conversation is not left
    error_of(app.call("b1", "POST", "/conversations/%s/leave" % third.json()["id"]), 403)
    for s in socks:
        s.close()


def test_concurrent_requests_of_one_buyer_give_one_conversation(server):
    app = new_app(server, agents=("p1",), buyers=("b1",))
    socks = online(server, app, "p1")
    app.token("b1")
    with ThreadPoolExecutor(20) as ex:
        rs = list(ex.map(lambda _: app.call("b1", "POST", "/support/conversations", {}),
                         range(20)))
    assert sorted(r.status for r in rs) == [200] * 19 + [201], [r.status for r in rs]
    assert len({r.json()["id"] for r in rs}) == 1
    assert agents_of(app, "p1")["p1"]["open_count"] == 1
    for s in socks:
        s.close()


def test_a_repeated_open_with_a_message_answers_the_conversation_again(server):
    app = new_app(server, agents=("p1",), buyers=("b1", "b2"))
    socks = online(server, app, "p1")
    body = {"message": {"type": "text", "content": "where is my parcel"}, "client_msg_id": "k1"}
    first = open_support(app, "b1", body)
    assert first.status == 201 and first.header("Idempotency-Replay") is None, first
    conv = first.json()
    assert conv["type"] == "support", conv
    again = open_support(app, "b1", body)
    # the original result again: the conversation (not the message), nothing sent twice
    assert again.status == 201 and again.header("Idempotency-Replay") == "true", again
    assert again.json()["id"] == conv["id"] and again.json()["type"] == "support", again.json()
    r = app.call("b1", "GET", "/conversations/%s/messages" % conv["id"])
    assert [m["content"] for m in r.json()["results"] if m["sender_id"] == "b1"] == \
        ["where is my parcel"]
    # the same id with another message: 422; a second message with its own id: 200, then 200
    # again when repeated (the request found the conversation, it did not create it)
    error_of(app.call("b1", "POST", "/support/conversations",
                      {"message": {"type": "text", "content": "other"}, "client_msg_id": "k1"}),
             422, "client_msg_id")
    b2 = {"message": {"type": "text", "content": "and my refund"}, "client_msg_id": "k2"}
    assert open_support(app, "b1", b2).status == 200
    rep = open_support(app, "b1", b2)
    assert rep.status == 200 and rep.header("Idempotency-Replay") == "true", rep
    assert rep.json()["id"] == conv["id"]
    for s in socks:
        s.close()


def test_ws_send_to_support(server):
    app = new_app(server, agents=("p1",), buyers=("b1",))
    socks = online(server, app, "p1")
    buyer = ws(server, app, "b1")
    buyer.send_json({"type": "send", "to": "support", "client_msg_id": "s-1",
                     "message": {"type": "text", "content": "need help"}})
    ok = frames_until(buyer, lambda f: f["type"] == "send.ok")[-1]
    got = frames_until(socks[0], lambda f: f["type"] == "message.new")
    assert got[-1]["message"]["content"] == "need help"
    assert any(f["type"] == "conversation.updated" and f["conversation"]["assignee"] == "p1"
               for f in got), got
    assert get(app, "p1", ok["conversation_id"])["customer"] == "b1"
    buyer.close()
    socks[0].close()


def test_transfer_tells_both_agents_and_the_buyer(server):
    app = new_app(server, agents=("p1", "p2"), buyers=("b1", "b2"))
    other = new_app(server, agents=("p9",))
    (s1,) = online(server, app, "p1")
    conv = open_support(app, "b1").json()
    assert conv["assignee"] == "p1"
    s2, sb = ws(server, app, "p2"), ws(server, app, "b1")
    r = transfer(app, "p1", conv["id"], "p2")
    assert r.status == 200, r
    assert r.json()["assignee"] == "p2"
    for sock in (s1, s2, sb):
        f = frames_until(sock, lambda f: f["type"] == "message.new")[-1]
        assert f["message"]["type"] == "system", f
        assert f["message"]["content"] == {"event": "conversation.transferred", "from": "p1",
                                           "user_id": "p2", "by": "p1"}
    assert set(listed(app, "p2", "assignee=me")[0]) == {conv["id"]}
    assert listed(app, "p1", "assignee=me")[1] == 0
    assert set(listed(app, "p1", "assignee=p2")[0]) == {conv["id"]}
    # refusals: the buyer, a non-agent, an unknown user, another app's agent, a direct one
    error_of(transfer(app, "b1", conv["id"], "p1"), 403, code="forbidden")
    error_of(transfer(app, "p2", conv["id"], "b2"), 422, "to", "validation_failed")
    error_of(transfer(app, "p2", conv["id"], "nobody"), 404, "to", "not_found")
    error_of(transfer(app, "p2", conv["id"], "p9"), 404, "to")
    error_of(transfer(app, "p2", conv["id"], "bad id!"), 422, "to")
    error_of(transfer(other, "p9", conv["id"], "p9"), 404)
    d = app.call("b2", "POST", "/conversations", {"type": "direct", "peer": "p1"}).json()
    assert d["assignee"] == "p1"
    error_of(transfer(app, "p1", d["id"], "p2"), 409, code="conflict")
    # any agent of the app may act on a support conversation, a member or not
    assert transfer(app, "p1", conv["id"], "p1").json()["assignee"] == "p1"
    assert get(app, "p1", conv["id"])["assignee"] == "p1"
    for s in (s1, s2, sb):
        s.close()


def test_queue_filters(server):
    app = new_app(server, agents=("p1", "p2"), buyers=("b1", "b2", "b3", "b4"))
    queued = open_support(app, "b4").json()["id"]  # nobody online
    socks = online(server, app, "p1")
    frames_until(socks[0], is_update(queued, assignee="p1"))
    socks += online(server, app, "p2")
    a = open_support(app, "b1").json()
    b = open_support(app, "b2").json()
    c = open_support(app, "b3").json()
    assert (queued, a["assignee"], b["assignee"], c["assignee"]) == (queued, "p2", "p1", "p2")
    assert set_status(app, "p2", c["id"], "pending").status == 200
    assert set(listed(app, "p2", "assignee=me")[0]) == {a["id"], c["id"]}
    assert set(listed(app, "p2", "status=open&assignee=me")[0]) == {a["id"]}
    assert set(listed(app, "p2", "status=pending")[0]) == {c["id"]}
    assert set(listed(app, "p1", "assignee=p2")[0]) == {a["id"], c["id"]}
    assert listed(app, "p1", "assignee=none")[1] == 0
    assert set(listed(app, "p1", "status=open")[0]) == {queued, a["id"], b["id"]}
    # a buyer sees only their own
    assert set(listed(app, "b1", "status=open")[0]) == {a["id"]}
    assert listed(app, "b1", "assignee=none")[1] == 0
    error_of(app.call("p1", "GET", "/conversations?status=closed"), 422, "status")
    error_of(app.call("p1", "GET", "/conversations?assignee=bad%20id"), 422, "assignee")
    error_of(app.call("b1", "GET", "/support/agents"), 403, code="forbidden")
    for s in socks:
        s.close()


def test_the_agents_list_pages(server):
    """GET /support/agents pages like every list (SPEC §3), by user id."""
    app = new_app(server, agents=("p1", "p2", "p3"))
    socks = online(server, app, "p1", "p2", "p3")
    r = app.call("p2", "GET", "/support/agents?page_size=2")
    assert r.status == 200, r
    body = r.json()
    assert (body["count"], body["page"], body["page_size"]) == (3, 1, 2), body
    assert [x["user_id"] for x in body["results"]] == ["p1", "p2"], body
    body = app.call("p2", "GET", "/support/agents?page=2&page_size=2").json()
    assert [x["user_id"] for x in body["results"]] == ["p3"], body
    assert body["count"] == 3 and body["results"][0]["online"] is True, body
    error_of(app.call("p2", "GET", "/support/agents?page=0"), 422, "page")
    for s in socks:
        s.close()


def test_changes_are_replayed_by_sync_and_audited(server):
    app = new_app(server, agents=("p1", "p2"), buyers=("b1",))
    (s1,) = online(server, app, "p1")
    start = app.call("b1", "GET", "/sync?cursor=0").json()["cursor"]
    conv = open_support(app, "b1").json()["id"]
    assert set_status(app, "p1", conv, "pending").status == 200
    assert app.call("b1", "POST", "/conversations/%s/messages" % conv,
                    {"type": "text", "content": "hi"}).status == 201  # reopens
    assert transfer(app, "p1", conv, "p2").status == 200
    assert set_status(app, "b1", conv, "resolved").status == 200
    ev = app.call("b1", "GET", "/sync?cursor=%s" % start).json()["events"]
    kinds = [e["type"] for e in ev if e.get("conversation", {}).get("id") == conv
             or e.get("message", {}).get("conversation_id") == conv]
    assert kinds.count("conversation.updated") >= 5, kinds  # created, pending, open, p2, resolved
    assert "message.new" in kinds
    assert all(int(e["cursor"]) > int(start) for e in ev)
    root = root_token(server, "svc-root")
    log = operator_call(server, root, "GET", "/admin/audit-log?page_size=100").json()["results"]
    rows = [(x["action"], x["user_id"], x["operator_id"], json.loads(x["detail"])
             if isinstance(x["detail"], str) else x["detail"])
            for x in reversed(log) if x["target"] == conv]
    assert rows == [
        ("conversation.assign", None, None, {"assignee": "p1"}),
        ("conversation.status", "p1", None, {"from": "open", "to": "pending"}),
        ("conversation.status", "b1", None, {"from": "pending", "to": "open", "reopened": True}),
        ("conversation.transfer", "p1", None, {"from": "p1", "to": "p2"}),
        ("conversation.status", "b1", None, {"from": "open", "to": "resolved"}),
    ], rows
    s1.close()


def test_operators_with_conversations_assign(server):
    app = new_app(server, agents=("p1", "p2"), buyers=("b1",), merchants=("m1",))
    root = root_token(server, "svc-boss")
    apps = operator_call(server, root, "GET", "/admin/apps?page_size=100").json()["results"]
    mine = [x["id"] for x in apps if x["key"] == app.headers["X-App-Key"]][0]
    others = [x["id"] for x in apps if x["key"] != app.headers["X-App-Key"]]
    assigner = operator(server, root, "assigner", ["conversations:assign"], [mine])
    scoped = operator(server, root, "elsewhere", ["conversations:assign"], others[:1])
    moderator = operator(server, root, "moderator", ["conversations:moderate"])
    conv = open_support(app, "b1").json()["id"]  # queued: nobody online
    sb = ws(server, app, "b1")

    def op_call(token, path, body):
        return operator_call(server, token, "POST", "/conversations/%s/%s" % (conv, path), body)

    e = error_of(op_call(moderator, "transfer", {"to": "p2"}), 403, code="forbidden")
    assert e["field"] == "conversations:assign", e
    error_of(op_call(scoped, "transfer", {"to": "p2"}), 404, code="not_found")
    e = error_of(op_call(assigner, "transfer", {"to": "b1"}), 422, "to")
    assert "customer" in e["message"], e
    r = op_call(assigner, "transfer", {"to": "p2"})
    assert r.status == 200 and r.json()["assignee"] == "p2", r
    f = frames_until(sb, lambda f: f["type"] == "message.new")[-1]
    assert f["message"]["content"]["from"] is None and f["message"]["content"]["user_id"] == "p2"
    r = op_call(assigner, "status", {"status": "pending"})
    assert r.status == 200 and r.json()["status"] == "pending", r
    # a merchant's direct conversation too (its status; it is not transferred)
    d = app.call("b1", "POST", "/conversations", {"type": "direct", "peer": "m1"}).json()["id"]
    r = operator_call(server, assigner, "POST", "/conversations/%s/status" % d,
                      {"status": "resolved"})
    assert r.status == 200 and r.json()["status"] == "resolved", r
    # the operator is neither member: no peer, both members listed
    assert "peer" not in r.json(), r.json()
    assert sorted(m["user_id"] for m in r.json()["members"]) == ["b1", "m1"]
    # a member's answer has the other member as its peer, with presence
    r = app.call("b1", "POST", "/conversations/%s/status" % d, {"status": "resolved"})
    assert r.status == 200 and r.json()["peer"]["id"] == "m1", r
    assert r.json()["peer"]["online"] is False, r.json()
    log = operator_call(server, root, "GET", "/admin/audit-log?action=conversation.transfer"
                        ).json()["results"]
    row = [x for x in log if x["target"] == conv][0]
    assert (row["operator_name"], row["user_id"], row["app_id"]) == ("assigner", None, mine), row
    sb.close()


def test_concurrent_opens_are_each_assigned_once_and_balanced(server):
    agents = tuple("p%d" % i for i in range(5))
    buyers = tuple("b%03d" % i for i in range(200))
    app = new_app(server, agents=agents, buyers=buyers)
    for b in buyers:
        app.token(b)
    socks = online(server, app, *agents)
    with ThreadPoolExecutor(32) as ex:
        rs = list(ex.map(lambda b: open_support(app, b), buyers))
    assert all(r.status == 201 for r in rs), [r.status for r in rs if r.status != 201]
    convs = [r.json() for r in rs]
    assert len({c["id"] for c in convs}) == 200
    assert all(c["assignee"] in agents for c in convs)
    counts = {a: 0 for a in agents}
    for a in agents:
        counts[a] = listed(app, a, "assignee=me&page_size=100")[1]
    assert sum(counts.values()) == 200, counts
    assert max(counts.values()) - min(counts.values()) <= 1, counts
    loads = {u: x["open_count"] for u, x in agents_of(app, agents[0]).items()}
    assert loads == counts
    for s in socks:
        s.close()


def test_an_agent_at_capacity_takes_nothing_new_until_one_is_resolved(server_factory):
    """HERALD_SUPPORT_CAPACITY: the routing gives an agent at most that many unresolved
    conversations; past it they wait in the queue, and a resolve (or a transfer away) routes
    the oldest waiting one to the agent who has room again."""
    s = server_factory(env={"HERALD_DEMO": "1", "HERALD_PRESENCE_GRACE": "200ms",
                            "HERALD_SUPPORT_CAPACITY": "2"})
    app = new_app(s, agents=("pk", "pl"), buyers=("k1", "k2", "k3", "k4", "k5"))
    socks = online(s, app, "pk")
    got = [open_support(app, b).json() for b in ("k1", "k2", "k3", "k4")]
    assert [c["assignee"] for c in got] == ["pk", "pk", None, None], got
    assert agents_of(app, "pk")["pk"]["open_count"] == 2
    # a second agent comes online: the queue goes to them, up to their capacity too
    socks += online(s, app, "pl")
    deadline = time.time() + 10
    while time.time() < deadline and get(app, "k4", got[3]["id"])["assignee"] is None:
        time.sleep(0.05)
    assert [get(app, b, c["id"])["assignee"] for b, c in zip(("k3", "k4"), got[2:])] == \
        ["pl", "pl"]
    fifth = open_support(app, "k5").json()
    assert fifth["assignee"] is None  # both are full
    # pk resolves one: the waiting one is routed to pk, who has room again
    assert set_status(app, "pk", got[0]["id"], "resolved").status == 200
    deadline = time.time() + 10
    while time.time() < deadline and get(app, "k5", fifth["id"])["assignee"] is None:
        time.sleep(0.05)
    assert get(app, "k5", fifth["id"])["assignee"] == "pk"
    loads = {u: x["open_count"] for u, x in agents_of(app, "pk").items()}
    assert loads == {"pk": 2, "pl": 2}, loads
    for sock in socks:
        sock.close()
