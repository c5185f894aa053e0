"""Notifications (docs/notifications.md): sending with app authentication, idempotency,
scheduling and ttl, the durable queue, in-app delivery over WebSockets with per-device ACKs and
re-sends, the inbox, the app's and the console's reads. Runs on SQLite and, under
scripts/pg-test.sh, on PostgreSQL."""
import json
import socket
import threading
import time

import pytest

from conftest import OP_PING, OP_PONG, OP_TEXT, Closed, Server, http_request, wait_until, ws_open
from test_conversations import App, app_headers, error_of

API = "/api/v1"


@pytest.fixture(scope="module")
def app(server):
    a = App(server, app_headers(server))
    a.users("ann", "ben", "cat", "dan")
    return a


@pytest.fixture(scope="module")
def other(server):
    a = App(server, app_headers(server, "NotifyOther"))
    a.users("ann", "zoe")
    return a


def send(app, body, headers=None, raw=None):
    h = dict(app.headers)
    h.update(headers or {})
    data = raw if raw is not None else json.dumps(body).encode()
    return http_request(app.server.port, "POST", API + "/notifications", h, data, timeout=30)


def get(app, path):
    return http_request(app.server.port, "GET", API + path, app.headers, None, timeout=30)


def post(app, path):
    return http_request(app.server.port, "POST", API + path, app.headers, b"", timeout=30)


def ws(app, uid, device=None):
    path = "/ws?token=" + app.token(uid)
    if device is not None:
        path += "&device_id=" + device
    return ws_open(app.server.port, path)


def notifications(c, n=1, timeout=5):
    """The next n notification frames (other frames skipped)."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        fr = c.recv_frame(timeout=max(0.05, deadline - time.monotonic()))
        if fr.opcode == OP_PING:  # the server's heartbeat: answer it, as a client does
            c.send_frame(OP_PONG, fr.payload)
        if fr.opcode != OP_TEXT:
            continue
        f = fr.json()
        if f["type"] == "notification":
            got.append(f)
    return got


def no_notification(c, wait=0.6):
    try:
        while True:
            fr = c.recv_frame(timeout=wait)
            if fr.opcode == OP_TEXT:
                assert fr.json()["type"] != "notification", fr.json()
    except (socket.timeout, TimeoutError, Closed):
        pass


def notification(app, nid):
    r = get(app, "/notifications/" + nid)
    assert r.status == 200, r
    return r.json()


def delivery_status(app, nid, user):
    for d in notification(app, nid)["deliveries"]:
        if d["user_id"] == user:
            return d["status"]
    return None


# ---------------------------------------------------------------- sending and in-app

def test_send_in_app_frame_ack_and_inbox(app):
    c = ws(app, "ann", "phone")
    try:
        r = send(app, {"type": "order.shipped", "recipients": ["ann", {"user_id": "ben"}],
                       "title": "Shipped", "content": "Your order 42 is on its way",
                       "data": {"order": 42}})
        assert r.status == 202, r
        body = r.json()
        assert body["deliveries"] == 2 and body["id"]
        nid = body["id"]
        f, = notifications(c)
        assert f["notification"] == {"type": "order.shipped", "title": "Shipped",
                                     "content": "Your order 42 is on its way",
                                     "data": {"order": 42}}
        assert f["delivery_id"] and isinstance(f["created_at"], int)
        assert isinstance(f["cursor"], str) and f["cursor"].isdigit(), f  # its event's
        wait_until(lambda: delivery_status(app, nid, "ann") == "sent", what="sent")
        c.send_json({"type": "ack", "delivery_id": f["delivery_id"]})
        wait_until(lambda: delivery_status(app, nid, "ann") == "delivered", what="delivered")
        # an ACK of an unknown (or someone else's) delivery is an error frame
        ben_delivery = [d for d in notification(app, nid)["deliveries"]
                        if d["user_id"] == "ben"][0]["id"]
        c.send_json({"type": "ack", "delivery_id": ben_delivery})
        e = c.recv_json()
        assert e["type"] == "error" and e["code"] == "not_found", e
        c.send_json({"type": "ack"})
        e = c.recv_json()
        assert e["code"] == "validation_failed" and e["field"] == "delivery_id", e
    finally:
        c.close()
    n = notification(app, nid)
    assert n["type"] == "order.shipped" and n["delivery_count"] == 2 and n["status"] == "queued"
    d = [d for d in n["deliveries"] if d["user_id"] == "ann"][0]
    assert d["channel"] == "inapp" and d["attempts"] == 1 and d["sent_at"] and d["delivered_at"]
    assert d["attempt_log"][0]["outcome"] == "sent"
    # the delivery on its own: the same, with its attempts
    one = get(app, "/deliveries/" + d["id"])
    assert one.status == 200 and one.json() == d, one

    # the inbox
    inbox = app.call("ann", "GET", "/inbox").json()
    assert inbox["unread"] >= 1
    mine = [e for e in inbox["results"] if e["id"] == f["delivery_id"]][0]
    assert mine["title"] == "Shipped" and mine["data"] == {"order": 42}
    assert mine["status"] == "delivered" and mine["notification_id"] == nid
    r = app.call("ann", "POST", "/inbox/%s/read" % f["delivery_id"])
    assert r.status == 200 and r.json()["status"] == "read", r
    assert delivery_status(app, nid, "ann") == "read"
    # ben's delivery is not ann's to read
    error_of(app.call("ann", "POST", "/inbox/%s/read" % ben_delivery), 404)
    assert all(e["id"] != ben_delivery for e in inbox["results"])


def test_inbox_unread_filter_count_and_read_all(app):
    ids = []
    for i in range(3):
        r = send(app, {"type": "digest", "recipients": ["cat"], "title": "T%d" % i})
        assert r.status == 202, r
        ids.append(r.json()["id"])
    wait_until(lambda: app.call("cat", "GET", "/inbox/unread-count").json()["unread"] == 3,
               what="three unread")
    page = app.call("cat", "GET", "/inbox?unread=1&page_size=2").json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["unread"] == 3
    assert [e["title"] for e in page["results"]] == ["T2", "T1"]  # newest first
    first = page["results"][0]["id"]
    assert app.call("cat", "POST", "/inbox/%s/read" % first).status == 200
    assert app.call("cat", "GET", "/inbox/unread-count").json()["unread"] == 2
    assert app.call("cat", "GET", "/inbox?unread=1").json()["count"] == 2
    assert app.call("cat", "GET", "/inbox").json()["count"] == 3
    r = app.call("cat", "POST", "/inbox/read-all")
    assert r.status == 200 and r.json()["updated"] == 2, r
    assert app.call("cat", "GET", "/inbox/unread-count").json()["unread"] == 0
    error_of(app.call("cat", "GET", "/inbox?unread=maybe"), 422, "unread")
    error_of(app.call("cat", "GET", "/inbox?unread=" + "1" * 40), 422, "unread")
    error_of(app.call("cat", "POST", "/inbox/nope/read"), 404)


def test_unacked_deliveries_are_resent_per_device(app):
    app.users("dev")
    phone = ws(app, "dev", "phone")
    laptop = ws(app, "dev", "laptop")
    r = send(app, {"type": "t", "recipients": ["dev"], "content": "hello devices"})
    nid = r.json()["id"]
    fp, = notifications(phone)
    fl, = notifications(laptop)
    assert fp["delivery_id"] == fl["delivery_id"]
    phone.send_json({"type": "ack", "delivery_id": fp["delivery_id"]})
    wait_until(lambda: delivery_status(app, nid, "dev") == "delivered", what="delivered")
    phone.close()
    laptop.close()
    # the phone ACKed it: nothing again; the laptop did not: sent again on its next connection
    phone = ws(app, "dev", "phone")
    laptop = ws(app, "dev", "laptop")
    try:
        again, = notifications(laptop)
        assert again["delivery_id"] == fl["delivery_id"]
        assert again["notification"]["content"] == "hello devices"
        no_notification(phone)
        laptop.send_json({"type": "ack", "delivery_id": again["delivery_id"]})
        time.sleep(0.3)
    finally:
        phone.close()
        laptop.close()
    laptop = ws(app, "dev", "laptop")
    try:
        no_notification(laptop)
    finally:
        laptop.close()


def test_offline_user_gets_it_on_connect_and_unknown_user_is_skipped(app):
    r = send(app, {"type": "t", "recipients": ["dan", "nobody"], "content": "while away"})
    assert r.status == 202 and r.json()["deliveries"] == 2, r
    assert r.json()["delivery_count"] == 2, r
    nid = r.json()["id"]
    wait_until(lambda: delivery_status(app, nid, "dan") == "sent", what="sent")
    assert delivery_status(app, nid, "nobody") == "skipped"
    d = [d for d in notification(app, nid)["deliveries"] if d["user_id"] == "nobody"][0]
    assert d["last_error"] == "no such user"
    c = ws(app, "dan", "tablet")
    try:
        f, = notifications(c)
        assert f["notification"]["content"] == "while away"
    finally:
        c.close()


def test_subscribers_fans_out_to_every_user_of_the_app(server):
    a = App(server, app_headers(server, "NotifyFanout"))
    a.users(*["f%03d" % i for i in range(150)])
    r = send(a, {"type": "news", "recipients": "subscribers", "title": "Hi all"})
    assert r.status == 202 and r.json()["deliveries"] == 150, r
    nid = r.json()["id"]
    wait_until(lambda: get(a, "/deliveries?status=sent&notification_id=%s" % nid)
               .json()["count"] == 150, timeout=20, what="150 sent")


# ---------------------------------------------------------------- validation and scope

@pytest.mark.parametrize("body,field", [
    ({"recipients": ["ann"], "title": "x"}, "type"),
    ({"type": "bad type", "recipients": ["ann"], "title": "x"}, "type"),
    ({"type": "t", "title": "x"}, "recipients"),
    ({"type": "t", "recipients": [], "title": "x"}, "recipients"),
    ({"type": "t", "recipients": "everyone", "title": "x"}, "recipients"),
    ({"type": "t", "recipients": ["ann", "bad id!"], "title": "x"}, "recipients[1]"),
    ({"type": "t", "recipients": ["ann", "ann"], "title": "x"}, "recipients[1]"),
    ({"type": "t", "recipients": [{"email": "not-an-address"}], "title": "x"},
     "recipients[0].email"),
    ({"type": "t", "recipients": [{"fax": "1"}], "title": "x"}, "recipients[0]"),
    ({"type": "t", "recipients": [{"user_id": "a", "email": "a@b.c"}], "title": "x"},
     "recipients[0]"),
    ({"type": "t", "recipients": ["ann"]}, "content"),
    ({"type": "t", "recipients": ["ann"], "title": "x" * 257}, "title"),
    ({"type": "t", "recipients": ["ann"], "title": "x", "priority": "asap"}, "priority"),
    ({"type": "t", "recipients": ["ann"], "title": "x", "ttl": 5}, "ttl"),
    ({"type": "t", "recipients": ["ann"], "title": "x", "send_at": -1}, "send_at"),
    ({"type": "t", "recipients": ["ann"], "title": "x", "channels": ["pigeon"]}, "channels[0]"),
    ({"type": "t", "recipients": ["ann"], "title": "x", "channels": ["inapp", "inapp"]},
     "channels[1]"),
    ({"type": "t", "recipients": ["ann"], "title": "x", "data": [1]}, "data"),
    ({"type": "t", "recipients": ["ann"], "title": "x", "data": {"k": "v" * 20000}}, "data"),
    ({"type": "t", "recipients": ["ann"], "title": "x", "surprise": 1}, "surprise"),
    ({"type": "t", "recipients": ["ann"], "title": "x", "idempotency_key": ""},
     "idempotency_key"),
])
def test_validation_names_the_field_and_changes_nothing(app, body, field):
    before = get(app, "/notifications").json()["count"]
    error_of(send(app, body), 422, field, "validation_failed")
    assert get(app, "/notifications").json()["count"] == before


def test_too_many_recipients_and_bad_json(app):
    r = send(app, {"type": "t", "recipients": ["u%d" % i for i in range(1001)], "title": "x"})
    error_of(r, 422, "recipients")
    error_of(send(app, None, raw=b"{not json"), 400)
    error_of(send(app, {"type": "t", "recipients": ["ann"], "title": "x"},
                   headers={"Idempotency-Key": "a b"}), 422, "Idempotency-Key")


def test_app_auth_and_another_apps_ids_are_404(app, other):
    r = http_request(app.server.port, "POST", API + "/notifications",
                     {"Content-Type": "application/json"},
                     json.dumps({"type": "t", "recipients": ["ann"], "title": "x"}).encode())
    error_of(r, 401)
    r = send(app, {"type": "scoped", "recipients": ["ann"], "title": "mine"})
    nid = r.json()["id"]
    error_of(get(other, "/notifications/" + nid), 404)
    error_of(post(other, "/notifications/%s/cancel" % nid), 404)
    assert all(n["id"] != nid for n in get(other, "/notifications").json()["results"])
    assert get(other, "/deliveries?notification_id=" + nid).json()["count"] == 0
    assert get(app, "/deliveries?notification_id=" + nid).json()["count"] == 1
    did = get(app, "/deliveries?notification_id=" + nid).json()["results"][0]["id"]
    assert get(app, "/deliveries/" + did).json()["notification_id"] == nid
    error_of(get(other, "/deliveries/" + did), 404)
    error_of(get(app, "/notifications/nope"), 404)
    error_of(get(app, "/deliveries/nope"), 404)


def test_lists_filter_and_page(app):
    r = send(app, {"type": "filter.me", "recipients": ["ann", "ben"], "title": "x"})
    nid = r.json()["id"]
    lst = get(app, "/notifications?type=filter.me").json()
    assert lst["count"] == 1 and lst["results"][0]["id"] == nid
    assert lst["page"] == 1 and lst["page_size"] == 20
    assert get(app, "/notifications?type=filter.me&to=1").json()["count"] == 0
    d = get(app, "/deliveries?user_id=ben&type=filter.me").json()
    assert d["count"] == 1 and d["results"][0]["notification_id"] == nid
    assert get(app, "/deliveries?channel=email&type=filter.me").json()["count"] == 0
    p = get(app, "/notifications?page_size=1&page=2").json()
    assert len(p["results"]) == 1 and p["page"] == 2
    error_of(get(app, "/notifications?page=0"), 422, "page")
    error_of(get(app, "/notifications?from=yesterday"), 422, "from")
    error_of(get(app, "/notifications?to=" + "9" * 40), 422, "to")  # never read as absent


def test_deliveries_are_listed_in_creation_order(app):
    """Audit F8: a notification's deliveries came in string order of their ids (-1, -10, -11,
    ..., -2); they are in creation order (recipient by recipient), the list newest first."""
    users = ["ord%d" % i for i in range(14)]
    r = send(app, {"type": "order.check", "recipients": users, "title": "x"})
    assert r.status == 202 and r.json()["deliveries"] == 14, r
    nid = r.json()["id"]
    n = notification(app, nid)
    want = ["%s-%d" % (nid, i) for i in range(1, 15)]
    assert [d["id"] for d in n["deliveries"]] == want
    assert [d["user_id"] for d in n["deliveries"]] == users
    lst = get(app, "/deliveries?page_size=100&notification_id=" + nid).json()
    assert [d["id"] for d in lst["results"]] == want[::-1]


LIST_FILTERS_BAD = [
    ("/notifications", "status=bogus", "status"),
    ("/notifications", "status=sent", "status"),  # a delivery's status, not a notification's
    ("/notifications", "type=a%20b", "type"),
    ("/deliveries", "status=bogus", "status"),
    ("/deliveries", "status=queued", "status"),  # a notification's status
    ("/deliveries", "channel=bogus", "channel"),
    ("/deliveries", "channel=Email", "channel"),
    ("/deliveries", "user_id=a%20b", "user_id"),
    ("/deliveries", "type=a%2Fb", "type"),
    ("/deliveries", "notification_id=%3Cx%3E", "notification_id"),
]


@pytest.mark.parametrize("path,query,field", LIST_FILTERS_BAD)
def test_lists_refuse_a_bad_filter_naming_it(app, path, query, field):
    """Audit F5: a filter value no row can have is a 422 naming it, as the console's lists
    answer, not an empty page."""
    error_of(get(app, path + "?" + query), 422, field, "validation_failed")


@pytest.mark.parametrize("query,field", [
    ("type=%zz", "type"), ("status=%", "status"), ("status=%%", "status"),
    ("user_id=a%00b", "user_id"), ("channel=x%4", "channel"),
])
def test_a_malformed_escape_is_a_422_naming_the_parameter(app, query, field):
    for path in ("/deliveries", "/notifications"):
        error_of(get(app, path + "?" + query), 422, field, "validation_failed")


def test_an_unknown_long_parameter_is_ignored(app):
    r = get(app, "/notifications?zzz=" + "a" * 5000)
    assert r.status == 200, r


def test_lists_take_every_documented_filter_value(app):
    for s in ("scheduled", "queued", "cancelled"):
        assert get(app, "/notifications?status=" + s).status == 200, s
    for s in ("pending", "sending", "sent", "delivered", "read", "failed", "dead", "cancelled",
              "skipped", "expired"):
        assert get(app, "/deliveries?status=" + s).status == 200, s
    for k in ("inapp", "email", "webhook", "dingtalk", "wecom", "feishu", "slack", "sms_aliyun",
              "wechat_mp"):
        assert get(app, "/deliveries?channel=" + k).status == 200, k
    r = get(app, "/deliveries?user_id=ann@x.y&type=Order.Paid:v2&notification_id=n0-1&status=")
    assert r.status == 200 and r.json()["count"] == 0, r


# ---------------------------------------------------------------- idempotency

def test_idempotency_replay_and_different_body(app):
    body = {"type": "idem", "recipients": ["ann"], "title": "once"}
    r1 = send(app, body, headers={"Idempotency-Key": "k-1"})
    assert r1.status == 202 and r1.header("Idempotency-Replay") is None, r1
    r2 = send(app, body, headers={"Idempotency-Key": "k-1"})
    assert r2.status == 202 and r2.header("Idempotency-Replay") == "true", r2
    assert r2.json() == r1.json()
    # the key in the body is the same key
    r3 = send(app, dict(body, idempotency_key="k-1"))
    assert r3.status == 202 and r3.json() == r1.json() and r3.header("Idempotency-Replay")
    # the same body with its members in another order, and other whitespace, is the same body
    raw = '{ "title" : "once", "recipients": ["ann"], "type": "idem" }'
    r4 = send(app, None, headers={"Idempotency-Key": "k-1"}, raw=raw.encode())
    assert r4.status == 202 and r4.json() == r1.json() and r4.header("Idempotency-Replay"), r4
    error_of(send(app, dict(body, title="twice"), headers={"Idempotency-Key": "k-1"}), 422,
             "idempotency_key")
    assert get(app, "/notifications?type=idem").json()["count"] == 1
    # keys are per app
    assert get(app, "/deliveries?notification_id=" + r1.json()["id"]).json()["count"] == 1


def test_idempotency_is_per_app(app, other):
    body = {"type": "idem2", "recipients": ["ann"], "title": "x"}
    a = send(app, body, headers={"Idempotency-Key": "shared"})
    b = send(other, body, headers={"Idempotency-Key": "shared"})
    assert a.status == b.status == 202
    assert a.json()["id"] != b.json()["id"] and b.header("Idempotency-Replay") is None


def test_idempotency_is_per_app_and_sender(server, root, app):
    """Audit F3 (SPEC §4a: keys are "scoped per app and sender"): the app's own sends and each
    operator's console sends for the app have their own keys; each still replays its own."""
    aid = app_id_of(server, root, app)
    ops = [operator(server, root, "idem-op%d" % i, ["notifications:read", "notifications:write"],
                    [aid]) for i in (1, 2)]
    body = {"type": "idem.sender", "recipients": ["ann"], "title": "from the app"}
    key = {"Idempotency-Key": "same-key"}
    mine = send(app, body, headers=key)
    assert mine.status == 202, mine
    seen = {mine.json()["id"]}
    for tok in ops:
        # another body under the same key: not the app's request, so no 422
        r = admin(server, "POST", "/notifications", dict(body, app_id=aid, title="console",
                                                          idempotency_key="same-key"), token=tok)
        assert r.status == 202 and r.header("Idempotency-Replay") is None, r
        assert r.json()["id"] not in seen
        seen.add(r.json()["id"])
        again = admin(server, "POST", "/notifications",
                      dict(body, app_id=aid, title="console", idempotency_key="same-key"),
                      token=tok)
        assert again.status == 202 and again.header("Idempotency-Replay") == "true", again
        assert again.json() == r.json()
        error_of(admin(server, "POST", "/notifications",
                       dict(body, app_id=aid, title="other", idempotency_key="same-key"),
                       token=tok), 422, "idempotency_key")
    r = send(app, body, headers=key)
    assert r.status == 202 and r.header("Idempotency-Replay") == "true", r
    assert r.json() == mine.json()
    assert get(app, "/notifications?type=idem.sender").json()["count"] == 3


def test_concurrent_repeats_send_once(app):
    body = {"type": "idem3", "recipients": ["ben"], "title": "race"}
    out = []

    def go():
        out.append(send(app, body, headers={"Idempotency-Key": "race-1"}))
    ts = [threading.Thread(target=go) for _ in range(8)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    ok = [r for r in out if r.status == 202]
    assert all(r.status in (202, 409) for r in out), out
    assert len({r.json()["id"] for r in ok}) == 1
    assert sum(1 for r in ok if r.header("Idempotency-Replay") is None) == 1
    for r in out:
        if r.status == 409:
            assert r.json()["error"]["field"] == "idempotency_key"
    assert get(app, "/notifications?type=idem3").json()["count"] == 1


# ---------------------------------------------------------------- scheduling and ttl

def test_scheduled_send_runs_later_and_can_be_cancelled(app):
    app.users("sched")
    c = ws(app, "sched", "b1")
    try:
        at = int(time.time() * 1000) + 1500
        r = send(app, {"type": "later", "recipients": ["sched"], "title": "soon", "send_at": at})
        assert r.status == 202, r
        nid = r.json()["id"]
        assert notification(app, nid)["status"] == "scheduled"
        assert delivery_status(app, nid, "sched") == "pending"
        no_notification(c, 0.8)
        f, = notifications(c, timeout=5)
        assert f["notification"]["title"] == "soon"
        assert notification(app, nid)["status"] == "queued"  # released to the queue
        assert int(time.time() * 1000) >= at - 50
        # sent: too late to cancel
        error_of(post(app, "/notifications/%s/cancel" % nid), 409)

        r = send(app, {"type": "later", "recipients": ["sched"], "title": "never",
                       "send_at": int(time.time() * 1000) + 60000})
        nid2 = r.json()["id"]
        r = post(app, "/notifications/%s/cancel" % nid2)
        assert r.status == 200 and r.json()["cancelled_deliveries"] == 1, r
        assert notification(app, nid2)["status"] == "cancelled"
        assert delivery_status(app, nid2, "sched") == "cancelled"
        error_of(post(app, "/notifications/%s/cancel" % nid2), 409)
    finally:
        c.close()


def test_ttl_expires_a_delivery_not_sent_in_time(tmp_path):
    """A notification whose ttl passes while the server is down is expired, not sent."""
    workdir = tmp_path / "ttl"
    s = Server(workdir=workdir).start()
    try:
        a = App(s, app_headers(s))
        a.users("tia")
        now = int(time.time() * 1000)
        r = send(a, {"type": "ttl", "recipients": ["tia"], "title": "stale",
                     "send_at": now + 1500, "ttl": 1000})
        assert r.status == 202, r
        nid = r.json()["id"]
        n = notification(a, nid)
        assert n["ttl"] == 1000 and n["expires_at"] == n["send_at"] + 1000
        fresh = send(a, {"type": "ttl", "recipients": ["tia"], "title": "fresh",
                         "ttl": 60000}).json()["id"]
        wait_until(lambda: delivery_status(a, fresh, "tia") == "sent", what="sent")
    finally:
        s.stop()
    time.sleep(3)  # past send_at + ttl while nothing runs
    s = Server(workdir=workdir).start()
    try:
        a = App(s, app_headers(s))
        wait_until(lambda: delivery_status(a, nid, "tia") == "expired", what="expired")
        d = notification(a, nid)["deliveries"][0]
        assert d["attempt_log"][-1]["outcome"] == "expired" and d["sent_at"] is None
        c = ws(a, "tia")
        try:
            f, = notifications(c)  # the fresh one only
            assert f["notification"]["title"] == "fresh"
            no_notification(c)
        finally:
            c.close()
    finally:
        s.stop()


def test_live_frames_flow_after_a_start_with_due_in_app_jobs(tmp_path):
    """Audit F7: an in-app job due when the server starts is pushed by the queue's dispatcher,
    which starts before the loops are attached to the bus; that first event's wake-up was
    lost, and as a loop is woken only when its inbox goes from empty to not empty, no later
    event (notification, chat message) reached any socket until the next restart, while the
    deliveries read `sent`."""
    workdir = tmp_path / "due"
    s = Server(workdir=workdir).start()
    try:
        a = App(s, app_headers(s))
        a.users("uma")
        r = send(a, {"type": "due", "recipients": ["uma"], "title": "due at start",
                     "send_at": int(time.time() * 1000) + 1000})
        assert r.status == 202, r
        nid = r.json()["id"]
    finally:
        s.stop()
    time.sleep(1.5)  # due while nothing runs: the dispatcher pushes it as the server starts
    s = Server(workdir=workdir).start()
    try:
        a = App(s, app_headers(s))
        wait_until(lambda: delivery_status(a, nid, "uma") == "sent", what="sent")
        for attempt in range(3):  # sockets on more than one loop, whichever accepts them
            c = ws(a, "uma", "d%d" % attempt)
            try:
                f = notifications(c)[0]  # the due one first, re-sent on connect
                assert f["notification"]["title"] == "due at start"
                title = "live %d" % attempt
                r = send(a, {"type": "live", "recipients": ["uma"], "title": title})
                assert r.status == 202, r
                deadline = time.monotonic() + 5  # the earlier live ones are re-sent first
                while f["notification"]["title"] != title:
                    f, = notifications(c, timeout=max(0.1, deadline - time.monotonic()))
            finally:
                c.close()
    finally:
        s.stop()


# ---------------------------------------------------------------- kill -9

QUEUED = 1000


def test_kill_9_with_1000_queued_in_app_notifications_delivers_every_one(tmp_path):
    workdir = tmp_path / "crash"
    s = Server(workdir=workdir).start()
    seen = []  # delivery ids, in the order received, over both runs
    try:
        a = App(s, app_headers(s))
        a.users("kim")
        c = ws(a, "kim", "k1")
        at = int(time.time() * 1000) + 2500
        accepted = []
        lock = threading.Lock()

        def sender(k):
            for i in range(k, QUEUED, 8):
                r = send(a, {"type": "crash", "recipients": ["kim"], "title": "n%04d" % i,
                             "send_at": at, "idempotency_key": "crash-%d" % i})
                assert r.status == 202, r
                with lock:
                    accepted.append((i, r.json()["id"]))
        ts = [threading.Thread(target=sender, args=(k,)) for k in range(8)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        assert len(accepted) == QUEUED
        # the queue starts at send_at; kill -9 once some have arrived
        while len(seen) < 50:
            f, = notifications(c, timeout=30)
            seen.append(f["delivery_id"])
            c.send_json({"type": "ack", "delivery_id": f["delivery_id"]})
        s.kill()
        c.close()
    finally:
        s.kill()
    s = Server(workdir=workdir).start()
    try:
        a = App(s, app_headers(s))
        c = ws(a, "kim", "k1")
        want = {nid + "-1" for _, nid in accepted}
        try:
            while not want <= set(seen):
                f, = notifications(c, timeout=90)  # PostgreSQL: after the 60 s lease
                seen.append(f["delivery_id"])
                c.send_json({"type": "ack", "delivery_id": f["delivery_id"]})
        finally:
            c.close()
        assert set(seen) == want  # every one, nothing else; a repeat carries the same id
        dups = len(seen) - len(set(seen))
        r = get(a, "/deliveries?type=crash&status=delivered")
        wait_until(lambda: get(a, "/deliveries?type=crash&status=delivered").json()["count"]
                   == QUEUED, what="all delivered")
        # the same sends again are replays: nothing is sent twice
        r = send(a, {"type": "crash", "recipients": ["kim"], "title": "n0000", "send_at": at,
                     "idempotency_key": "crash-0"})
        assert r.status == 202 and r.header("Idempotency-Replay") == "true", r
    finally:
        s.stop()
    print("kill -9: %d frames for %d deliveries (%d repeats)" % (len(seen), QUEUED, dups))


# ---------------------------------------------------------------- the console

CPW = "console password 1"


def admin(server, method, path, body=None, token=None):
    h = {"Authorization": "Bearer " + token} if token else {}
    raw = None
    if body is not None:
        raw = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    return http_request(server.port, method, API + "/admin" + path, h, raw, timeout=30)


@pytest.fixture(scope="module")
def root(server):
    from conftest import run_herald
    p = run_herald(["admin", "create", "nroot", "--password-stdin"], env=server.cli_env(),
                   input=CPW + "\n")
    assert p.returncode == 0, p
    r = admin(server, "POST", "/auth/login", {"username": "nroot", "password": CPW})
    assert r.status == 200, r
    return r.json()["access_token"]


def app_id_of(server, root, app):
    apps = admin(server, "GET", "/apps?page_size=100", token=root).json()["results"]
    return [x["id"] for x in apps if x["key"] == app.headers["X-App-Key"]][0]


def operator(server, root, name, permissions, app_ids=None):
    body = {"name": name + "-role", "permissions": permissions}
    if app_ids is not None:
        body["app_ids"] = app_ids
    r = admin(server, "POST", "/roles", body, token=root)
    assert r.status == 201, r
    r = admin(server, "POST", "/operators",
              {"username": name, "password": CPW, "roles": [r.json()["id"]]}, token=root)
    assert r.status == 201, r
    r = admin(server, "POST", "/auth/login", {"username": name, "password": CPW})
    return r.json()["access_token"]


def test_console_lists_filters_send_and_scope(server, root, app, other):
    aid, oid = app_id_of(server, root, app), app_id_of(server, root, other)
    reader = operator(server, root, "n-reader", ["notifications:read"], [aid])
    writer = operator(server, root, "n-writer", ["notifications:read", "notifications:write"],
                      [aid])
    # send from the console: audited, then listed
    r = admin(server, "POST", "/notifications",
              {"app_id": aid, "type": "console.sent", "recipients": ["ann"], "title": "ops"},
              token=writer)
    assert r.status == 202 and r.json()["deliveries"] == 1, r
    nid = r.json()["id"]
    error_of(admin(server, "POST", "/notifications",
                   {"app_id": aid, "type": "x", "recipients": ["ann"], "title": "t"},
                   token=reader), 403)
    # an app that does not exist, for an operator of every app too
    for key in (None, "k-none"):
        body = {"app_id": "a" * 32, "type": "x", "recipients": ["ann"], "title": "t"}
        if key:
            body["idempotency_key"] = key
        error_of(admin(server, "POST", "/notifications", body, token=root), 404, "app_id",
                 "not_found")
    error_of(admin(server, "POST", "/notifications",
                   {"app_id": oid, "type": "x", "recipients": ["ann"], "title": "t"},
                   token=writer), 404, "app_id")
    error_of(admin(server, "POST", "/notifications",
                   {"app_id": aid, "recipients": ["ann"], "title": "t"}, token=writer), 422,
             "type")
    lst = admin(server, "GET", "/notifications?type=console.sent", token=reader).json()
    assert lst["count"] == 1 and lst["results"][0]["source"] == "console"
    n = admin(server, "GET", "/notifications/" + nid, token=reader).json()
    assert n["app_id"] == aid and n["deliveries"][0]["user_id"] == "ann"
    log = admin(server, "GET", "/audit-log?page_size=100", token=root).json()["results"]
    assert any(e["action"] == "notification.send" and e["target"] == nid for e in log), log[:3]
    # another app's notification is a 404 for an operator of this app; root sees both
    theirs = send(other, {"type": "console.other", "recipients": ["zoe"], "title": "z"})
    tid = theirs.json()["id"]
    error_of(admin(server, "GET", "/notifications/" + tid, token=reader), 404)
    assert admin(server, "GET", "/notifications/" + tid, token=root).status == 200
    assert admin(server, "GET", "/notifications?type=console.other",
                 token=reader).json()["count"] == 0
    # naming another app is a 404 for an operator of this app, as its objects are
    error_of(admin(server, "GET", "/notifications?app_id=%s&type=console.other" % oid,
                   token=reader), 404, "app_id")
    error_of(admin(server, "GET", "/deliveries?app_id=%s" % oid, token=reader), 404, "app_id")
    assert admin(server, "GET", "/notifications?app_id=%s&type=console.other" % oid,
                 token=root).json()["count"] == 1
    # deliveries: filters
    wait_until(lambda: admin(server, "GET", "/deliveries?type=console.sent&status=sent",
                             token=reader).json()["count"] == 1, what="sent")
    d = admin(server, "GET", "/deliveries?user_id=ann&channel=inapp&type=console.sent",
              token=reader).json()
    assert d["count"] == 1 and d["results"][0]["notification_id"] == nid
    assert admin(server, "GET", "/deliveries?type=console.other",
                 token=reader).json()["count"] == 0
    assert admin(server, "GET", "/deliveries?type=console.other", token=root).json()["count"] == 1
    # retry: only failed or dead ones; another app's is a 404
    did = d["results"][0]["id"]
    error_of(admin(server, "POST", "/deliveries/%s/retry" % did, token=writer), 409)
    error_of(admin(server, "POST", "/deliveries/%s/retry" % did, token=reader), 403)
    other_did = admin(server, "GET", "/deliveries?type=console.other",
                      token=root).json()["results"][0]["id"]
    error_of(admin(server, "POST", "/deliveries/%s/retry" % other_did, token=writer), 404)
    error_of(admin(server, "POST", "/deliveries/nope/retry", token=writer), 404)
    # one delivery: with its attempts; another app's is a 404 to an operator of this one only
    one = admin(server, "GET", "/deliveries/" + did, token=reader)
    assert one.status == 200 and one.json()["id"] == did and one.json()["attempt_log"], one
    error_of(admin(server, "GET", "/deliveries/" + other_did, token=reader), 404)
    assert admin(server, "GET", "/deliveries/" + other_did, token=root).status == 200
    error_of(admin(server, "GET", "/notifications", token=None), 401)


@pytest.mark.parametrize("path,query,field", LIST_FILTERS_BAD + [
    ("/notifications", "app_id=a%20b", "app_id"),
    ("/deliveries", "app_id=a%20b", "app_id"),
])
def test_console_lists_refuse_a_bad_filter_naming_it(server, root, path, query, field):
    error_of(admin(server, "GET", path + "?" + query, token=root), 422, field,
             "validation_failed")


def test_console_stats(server, root, app):
    aid = app_id_of(server, root, app)
    stats_op = operator(server, root, "n-stats", ["stats:read"], [aid])
    r = send(app, {"type": "stats.t", "recipients": ["ann", "ben", "cat"], "title": "s"})
    nid = r.json()["id"]
    wait_until(lambda: delivery_status(app, nid, "cat") == "sent", what="sent")
    c = ws(app, "ben", "stats")
    try:
        while notifications(c)[0]["delivery_id"] != nid + "-2":
            pass
        c.send_json({"type": "ack", "delivery_id": nid + "-2"})
        wait_until(lambda: delivery_status(app, nid, "ben") == "delivered", what="delivered")
    finally:
        c.close()
    r = app.call("ann", "POST", "/inbox/%s/read" % (nid + "-1"))
    assert r.status == 200, r
    s = admin(server, "GET", "/stats?bucket=hour&app_id=" + aid, token=stats_op)
    assert s.status == 200, s
    body = s.json()
    assert body["bucket"] == "hour" and body["series"], body
    last = body["series"][-1]
    t = last["by_type"]["stats.t"]
    assert t["sent"] == 3 and t["read"] == 1 and t["delivered"] == 2 and t["failed"] == 0, t
    assert last["by_channel"]["inapp"]["sent"] >= 2
    assert last["sent"] >= 2 and "messages" in last and "active_users" in last
    day = admin(server, "GET", "/stats?bucket=day", token=root).json()
    assert day["bucket"] == "day" and day["series"][-1]["sent"] >= last["sent"]
    error_of(admin(server, "GET", "/stats?bucket=week", token=root), 422, "bucket")
    error_of(admin(server, "GET", "/stats?from=0&to=999999999999", token=root), 422, "from")
    # an operator of every app still names an app that exists, and an id is an id
    error_of(admin(server, "GET", "/stats?app_id=no-such-app", token=root), 404, "app_id")
    # every console list of notifications: an app that does not exist is a 404 naming app_id
    for path in ("/notifications", "/deliveries", "/channels", "/message-types", "/templates",
                 "/channel-message-types", "/subscriptions"):
        error_of(admin(server, "GET", path + "?app_id=no-such-app", token=root), 404, "app_id")
    error_of(admin(server, "GET", "/stats?app_id=%ff", token=root), 422, "app_id")
    error_of(admin(server, "GET", "/stats", token=operator(server, root, "n-nostats",
                                                           ["notifications:read"])), 403)


# ---------------------------------------------------------------- drivers: e-mail through the queue

from smtp_sink import Sink  # noqa: E402


@pytest.fixture(scope="module")
def mail_sinks():
    s = {"good": Sink(), "busy": Sink(rcpt_reply="451 4.3.0 try later"),
         "reject": Sink(rcpt_reply="550 5.1.1 no such user")}
    yield s
    for x in s.values():
        x.stop()


@pytest.fixture(scope="module", autouse=True)
def delete_channels(server):
    """Deletes every channel at the end: their pooled SMTP connections close (the module
    server's fd check)."""
    yield
    from conftest import run_herald
    run_herald(["admin", "create", "ncleanup", "--password-stdin"], env=server.cli_env(),
               input=CPW + "\n")
    tok = admin(server, "POST", "/auth/login",
                {"username": "ncleanup", "password": CPW}).json()["access_token"]
    for ch in admin(server, "GET", "/channels?page_size=100", token=tok).json()["results"]:
        admin(server, "DELETE", "/channels/" + ch["id"], token=tok)


def email_channel(server, root, app_id, name, sink, **extra):
    body = {"app_id": app_id, "name": name, "kind": "email",
            "config": {"from": "Herald <noreply@herald.test>", "accounts": [sink.account()]}}
    body.update(extra)
    r = admin(server, "POST", "/channels", body, token=root)
    assert r.status == 201, r
    return r.json()["id"]


def status_of(app, nid, pred):
    return [d for d in notification(app, nid)["deliveries"] if pred(d)]


def test_email_through_the_queue_to_users_and_addresses(server, root, mail_sinks):
    a = App(server, app_headers(server, "NotifyMail"))
    a.users("mia", contacts={"email": "mia@example.com"})
    a.users("nomail")
    aid = app_id_of(server, root, a)
    # without an e-mail channel, naming the kind or an address is refused
    error_of(send(a, {"type": "m", "recipients": ["mia"], "title": "x",
                      "channels": ["email"]}), 422, "channels[0]")
    error_of(send(a, {"type": "m", "recipients": [{"email": "x@example.com"}], "title": "x"}),
             422, "recipients[0]")
    email_channel(server, root, aid, "mail", mail_sinks["good"])
    sink = mail_sinks["good"]
    before = len(sink.messages)
    r = send(a, {"type": "order.mail", "recipients": ["mia", "nomail", {"email": "x@example.com"}],
                 "title": "Your order", "content": "It ships today", "channels": ["email",
                                                                                  "inapp"]})
    assert r.status == 202 and r.json()["deliveries"] == 5, r
    nid = r.json()["id"]
    wait_until(lambda: len(sink.messages) >= before + 2, what="two mails")
    got = sorted(m[1][0] for m in sink.messages[before:])
    assert got == ["mia@example.com", "x@example.com"]
    msg = sink.messages[-1][2]
    assert msg["Subject"] == "Your order" and "It ships today" in msg.get_content()
    wait_until(lambda: len(status_of(a, nid, lambda d: d["channel"] == "email" and
                                     d["status"] == "sent")) == 2, what="sent")
    skipped = status_of(a, nid, lambda d: d["user_id"] == "nomail" and d["channel"] == "email")
    assert skipped[0]["status"] == "skipped" and skipped[0]["last_error"] == "no address"
    addr = status_of(a, nid, lambda d: d["address"] == "x@example.com")
    assert len(addr) == 1 and addr[0]["channel"] == "email"  # an address: its kind only


def test_temporary_failures_back_off_then_die_and_the_console_retries(server, root, mail_sinks):
    a = App(server, app_headers(server, "NotifyBusy"))
    aid = app_id_of(server, root, a)
    email_channel(server, root, aid, "busy", mail_sinks["busy"], max_attempts=2)
    email_channel(server, root, aid, "busy-once", mail_sinks["busy"], max_attempts=1)
    # the first of two attempts fails: failed, with the next attempt's time (the back-off, at
    # least the pool's cool-down the driver reports)
    r = send(a, {"type": "m", "recipients": [{"email": "y@example.com"}], "title": "t"})
    nid = r.json()["id"]
    wait_until(lambda: status_of(a, nid, lambda d: True)[0]["status"] == "failed", what="failed")
    d = status_of(a, nid, lambda d: True)[0]
    assert d["attempts"] == 1 and d["next_at"] >= d["updated_at"] + 1000 and d["last_error"]
    assert d["attempt_log"][0]["outcome"] == "retry" and d["attempt_log"][0]["code"] == 451
    # the app's first e-mail channel is "busy"; a channel of one attempt: dead at once
    admin(server, "PATCH", "/channels/%s" % d["channel_id"], {"max_attempts": 1}, token=root)
    r = send(a, {"type": "m", "recipients": [{"email": "w@example.com"}], "title": "t"})
    nid = r.json()["id"]
    wait_until(lambda: status_of(a, nid, lambda d: True)[0]["status"] == "dead", what="dead")
    d = status_of(a, nid, lambda d: True)[0]
    assert d["attempts"] == 1 and d["next_at"] is None
    # the console's retry: a new attempt now (audited)
    r = admin(server, "POST", "/deliveries/%s/retry" % d["id"], token=root)
    assert r.status == 202 and r.json()["status"] == "pending", r
    wait_until(lambda: len(status_of(a, nid, lambda d: True)[0]["attempt_log"]) == 2,
               what="a second attempt")
    wait_until(lambda: status_of(a, nid, lambda d: True)[0]["status"] == "dead", what="dead")
    log = admin(server, "GET", "/audit-log?page_size=100", token=root).json()["results"]
    assert any(e["action"] == "delivery.retry" and e["target"] == d["id"] for e in log)


def test_a_permanent_failure_is_not_retried(server, root, mail_sinks):
    a = App(server, app_headers(server, "NotifyReject"))
    aid = app_id_of(server, root, a)
    email_channel(server, root, aid, "reject", mail_sinks["reject"], max_attempts=5)
    nid = send(a, {"type": "m", "recipients": [{"email": "z@example.com"}],
                   "title": "t"}).json()["id"]
    wait_until(lambda: status_of(a, nid, lambda d: True)[0]["status"] == "dead", what="dead")
    d = status_of(a, nid, lambda d: True)[0]
    assert d["attempts"] == 1 and d["attempt_log"][0]["outcome"] == "permanent"
    assert d["attempt_log"][0]["code"] == 550


def test_a_hung_provider_only_holds_its_own_channel(server_factory, mail_sinks):
    """A server that accepts and never answers holds its channel's one slot; another app's
    channel, and in-app deliveries, keep going."""
    s = server_factory()
    from conftest import run_herald
    p = run_herald(["admin", "create", "hroot", "--password-stdin"], env=s.cli_env(),
                   input=CPW + "\n")
    assert p.returncode == 0, p
    tok = admin(s, "POST", "/auth/login", {"username": "hroot", "password": CPW}).json()[
        "access_token"]
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(64)
    held = []
    stop = threading.Event()

    def accept():
        hung.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(hung.accept()[0])
            except OSError:
                pass
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        slow = App(s, app_headers(s, "Slow"))
        fast = App(s, app_headers(s, "Fast"))
        fast.users("fay")
        sacc = mail_sinks["good"].account()
        sacc["port"] = hung.getsockname()[1]
        body = {"app_id": app_id_of(s, tok, slow), "name": "hung", "kind": "email",
                "concurrency": 1, "config": {"from": "H <h@herald.test>", "accounts": [sacc]}}
        assert admin(s, "POST", "/channels", body, token=tok).status == 201
        email_channel(s, tok, app_id_of(s, tok, fast), "fast", mail_sinks["good"])
        for i in range(5):
            assert send(slow, {"type": "h", "recipients": [{"email": "h%d@example.com" % i}],
                               "title": "stuck"}).status == 202
        wait_until(lambda: len(held) >= 1, what="the hung provider holds a connection")
        before = len(mail_sinks["good"].messages)
        t0 = time.monotonic()
        r = send(fast, {"type": "f", "recipients": [{"email": "f@example.com"}, "fay"],
                        "title": "quick", "channels": ["email", "inapp"]})
        assert r.status == 202, r
        wait_until(lambda: len(mail_sinks["good"].messages) > before, timeout=5, what="fast mail")
        assert time.monotonic() - t0 < 3
        nid = r.json()["id"]
        wait_until(lambda: status_of(fast, nid, lambda d: d["user_id"] == "fay" and
                                     d["channel"] == "inapp")[0]["status"] == "sent",
                   what="in-app sent")
        assert len(held) == 1  # concurrency 1: one connection to the hung server, the rest wait
    finally:
        stop.set()
        t.join()
        for c in held:
            c.close()
        hung.close()


# ---------------------------------------------------------------- types, templates, subscriptions

def test_type_defaults_templates_locales_and_opt_outs(server, root):
    a = App(server, app_headers(server, "NotifyTyped"))
    a.users("tom", "una", "vic")
    aid = app_id_of(server, root, a)
    r = admin(server, "POST", "/message-types", {"app_id": aid, "code": "order.paid",
                                                 "name": "Order paid", "channels": ["inapp"]},
              token=root)
    assert r.status == 201, r
    tid = r.json()["id"]
    r = admin(server, "POST", "/channel-message-types",
              {"app_id": aid, "type_id": tid, "channel": "inapp", "template_code": "paid"},
              token=root)
    assert r.status == 201, r
    for locale, subject, body in (("", "Order {{id}}", "Hello {{name}} <{{total}}>"),
                                  ("zh", "订单 {{id}}", "你好 {{name}}")):
        r = admin(server, "POST", "/templates",
                  {"app_id": aid, "code": "paid", "channel_kind": "inapp", "locale": locale,
                   "subject": subject, "body": body}, token=root)
        assert r.status == 201, r
    c = ws(a, "tom", "t1")
    try:
        # no title or content: the type's template, rendered with params (no HTML escaping)
        r = send(a, {"type": "order.paid", "recipients": ["tom"],
                     "params": {"id": 7, "name": "Tom", "total": "9.90"}})
        assert r.status == 202, r
        f, = notifications(c)
        assert f["notification"]["title"] == "Order 7"
        assert f["notification"]["content"] == "Hello Tom <9.90>"
        # a locale: exact, then the language, then the default variant
        send(a, {"type": "order.paid", "recipients": ["tom"], "locale": "zh-CN",
                 "params": {"id": 8, "name": "汤姆"}})
        f, = notifications(c)
        assert f["notification"]["title"] == "订单 8" and f["notification"]["content"] == "你好 汤姆"
        # values are never template syntax
        send(a, {"type": "order.paid", "recipients": ["tom"],
                 "params": {"id": "{{name}}", "name": "{{{id}}}"}})
        f, = notifications(c)
        assert f["notification"]["title"] == "Order {{name}}"
        assert f["notification"]["content"].startswith("Hello {{{id}}}")
    finally:
        c.close()
    # the inbox shows the rendered text
    inbox = a.call("tom", "GET", "/inbox").json()["results"]
    assert inbox[-1]["title"] == "Order 7"
    # opt-outs: una turns the type off in-app; a send skips her, "subscribers" leaves her out
    r = a.call("una", "PUT", "/me/subscriptions",
               {"subscriptions": [{"type": "order.paid", "channel": "inapp", "enabled": False}]})
    assert r.status == 200, r
    r = send(a, {"type": "order.paid", "recipients": ["una", "vic"], "params": {"id": 1}})
    nid = r.json()["id"]
    assert delivery_status(a, nid, "una") == "skipped"
    d = status_of(a, nid, lambda d: d["user_id"] == "una")[0]
    assert d["last_error"] == "unsubscribed"
    r = send(a, {"type": "order.paid", "recipients": "subscribers", "params": {"id": 2}})
    assert r.status == 202 and r.json()["deliveries"] == 2, r  # tom and vic
    # a type without a template for a kind needs a literal title or content
    error_of(send(a, {"type": "order.paid", "recipients": ["tom"], "channels": ["inapp"],
                      "locale": "xx"} | {"type": "other.type"}), 422, "content")
    # a disabled type sends nothing
    r = admin(server, "PATCH", "/message-types/" + tid, {"enabled": False}, token=root)
    assert r.status == 200, r
    error_of(send(a, {"type": "order.paid", "recipients": ["tom"], "title": "x"}), 422, "type")
    error_of(send(a, {"type": "x", "recipients": ["tom"], "title": "x", "locale": "e n"}), 422,
             "locale")


def inbox_titles(app, uid, n):
    """The titles of the user's newest n inbox entries, once there are n (newest first)."""
    got = []

    def ready():
        got[:] = [x["title"] for x in app.call(uid, "GET", "/inbox").json()["results"]]
        return len(got) >= n
    wait_until(ready, what="%d inbox entries" % n)
    return got[:n]


def test_a_pair_without_template_code_renders_the_types_code(server, root):
    """Audit F2: a channel pair with "template_code": null renders the template whose code is
    the type's code (docs/notifications.md); it was taken as "no template"."""
    a = App(server, app_headers(server, "NotifyPairNull"))
    a.users("pam")
    aid = app_id_of(server, root, a)
    tid = admin(server, "POST", "/message-types", {"app_id": aid, "code": "order.paid",
                                                   "name": "Paid"}, token=root).json()["id"]
    r = admin(server, "POST", "/templates",
              {"app_id": aid, "code": "order.paid", "channel_kind": "inapp",
               "subject": "Paid {{id}}", "body": "Hi {{name}}"}, token=root)
    assert r.status == 201, r
    r = admin(server, "POST", "/channel-message-types",
              {"app_id": aid, "type_id": tid, "channel": "inapp", "template_code": None},
              token=root)
    assert r.status == 201 and r.json()["template_code"] is None, r
    pair = r.json()["id"]
    r = send(a, {"type": "order.paid", "recipients": ["pam"], "channels": ["inapp"],
                 "params": {"id": 7, "name": "Ann"}})
    assert r.status == 202, r
    assert inbox_titles(a, "pam", 1) == ["Paid 7"]
    # the template wins over literal texts, as for a pair that names its code
    r = send(a, {"type": "order.paid", "recipients": ["pam"], "title": "literal",
                 "params": {"id": 8}})
    assert r.status == 202, r
    assert inbox_titles(a, "pam", 2) == ["Paid 8", "Paid 7"]
    # a pair naming another code renders that one; without a template of it, the literal texts
    r = admin(server, "PATCH", "/channel-message-types/" + pair, {"template_code": "nothing"},
              token=root)
    assert r.status == 200, r
    error_of(send(a, {"type": "order.paid", "recipients": ["pam"], "params": {"id": 9}}), 422,
             "content")
    r = admin(server, "PATCH", "/channel-message-types/" + pair, {"template_code": None},
              token=root)
    assert r.status == 200 and r.json()["template_code"] is None, r
    assert send(a, {"type": "order.paid", "recipients": ["pam"],
                    "params": {"id": 10}}).status == 202
    assert inbox_titles(a, "pam", 3)[0] == "Paid 10"


def test_template_locales_match_without_regard_to_case(server, root):
    """Audit F6: language tags are case-insensitive (BCP 47): "ZH-cn" picks the zh-CN variant,
    "ZH" and "Zh-tw" the zh one; "zh_CN" (POSIX spelling) is zh-CN too."""
    a = App(server, app_headers(server, "NotifyLocales"))
    a.users("lou")
    aid = app_id_of(server, root, a)
    tid = admin(server, "POST", "/message-types", {"app_id": aid, "code": "loc",
                                                   "name": "Loc"}, token=root).json()["id"]
    assert admin(server, "POST", "/channel-message-types",
                 {"app_id": aid, "type_id": tid, "channel": "inapp"}, token=root).status == 201
    for locale, subject in (("", "default"), ("zh", "zh"), ("zh-CN", "zh-CN")):
        r = admin(server, "POST", "/templates",
                  {"app_id": aid, "code": "loc", "channel_kind": "inapp", "locale": locale,
                   "subject": subject, "body": "b"}, token=root)
        assert r.status == 201, r
    cases = [("zh-CN", "zh-CN"), ("ZH-cn", "zh-CN"), ("zh-cn", "zh-CN"), ("zh_CN", "zh-CN"),
             ("ZH", "zh"), ("Zh-tw", "zh"), ("en", "default"), ("EN-us", "default")]
    for i, (locale, _) in enumerate(cases):
        r = send(a, {"type": "loc", "recipients": ["lou"], "locale": locale})
        assert r.status == 202, r
        inbox_titles(a, "lou", i + 1)  # one at a time: the inbox is newest first
    got = inbox_titles(a, "lou", len(cases))[::-1]
    assert got == [want for _, want in cases], got


def test_quiet_hours_hold_all_but_urgent(server):
    a = App(server, app_headers(server, "NotifyQuiet"))
    a.users("qin")
    now = time.gmtime()
    start = "%02d:%02d" % ((now.tm_hour + 23) % 24, now.tm_min)
    end = "%02d:%02d" % ((now.tm_hour + 1) % 24, now.tm_min)
    r = a.call("qin", "PUT", "/me/preferences",
               {"quiet_hours": {"start": start, "end": end, "time_zone": "UTC"}})
    assert r.status == 200, r
    held = send(a, {"type": "q", "recipients": ["qin"], "title": "later"}).json()["id"]
    urgent = send(a, {"type": "q", "recipients": ["qin"], "title": "now",
                      "priority": "urgent"}).json()["id"]
    wait_until(lambda: delivery_status(a, urgent, "qin") == "sent", what="urgent sent")
    wait_until(lambda: notification(a, held)["deliveries"][0]["next_at"] is not None,
               what="held")
    d = notification(a, held)["deliveries"][0]
    assert d["status"] == "pending" and d["attempt_log"] == []
    # held until the window's end, about an hour from now
    assert 55 * 60000 < d["next_at"] - int(time.time() * 1000) <= 3600000 + 1000, d


def test_webhook_addresses_through_the_queue_signed_and_retried(server_factory):
    """An ad-hoc {"webhook": url} recipient through a webhook channel (its secret signs): the
    receiver verifies the signature; a 503 is retried with the same event id (the delivery
    id)."""
    from provider_standins import Standins
    standins = Standins()
    s = server_factory(env={"HERALD_ALLOW_PRIVATE_TARGETS": "1"})
    try:
        from conftest import run_herald
        run_herald(["admin", "create", "wroot", "--password-stdin"], env=s.cli_env(),
                   input=CPW + "\n")
        tok = admin(s, "POST", "/auth/login", {"username": "wroot", "password": CPW}).json()[
            "access_token"]
        a = App(s, app_headers(s, "Hooks"))
        r = admin(s, "POST", "/channels", {"app_id": app_id_of(s, tok, a), "name": "hooks",
                                           "kind": "webhook", "max_attempts": 3,
                                           "config": {"secret": "whsec-test"}}, token=tok)
        assert r.status == 201, r
        standins.plan("/hook/q", 503)  # the first attempt fails, the next one passes
        r = send(a, {"type": "order.hook", "recipients": [{"webhook": standins.url("/hook/q")}],
                     "title": "Hooked", "data": {"k": 1}})
        assert r.status == 202, r
        nid = r.json()["id"]
        wait_until(lambda: notification(a, nid)["deliveries"][0]["status"] == "failed",
                   what="failed once")
        d = notification(a, nid)["deliveries"][0]
        assert d["attempt_log"][0]["code"] == 503 and d["attempt_log"][0]["outcome"] == "retry"
        wait_until(lambda: notification(a, nid)["deliveries"][0]["status"] == "sent",
                   timeout=10, what="sent on the retry")
        recs = standins.recorded("/hook/q")
        assert len(recs) == 2 and recs[1]["ok"], recs
        ids = {r["headers"]["x-herald-event-id"] for r in recs}
        assert ids == {nid + "-1"}  # the same event id on every attempt
        assert recs[1]["json"]["title"] == "Hooked" and recs[1]["json"]["data"] == {"k": 1}
        # /metrics counts what the queue recorded, by kind and outcome (a fresh server: exact)
        a.users("mia")
        nid = send(a, {"type": "m", "recipients": ["mia"], "title": "t"}).json()["id"]
        wait_until(lambda: delivery_status(a, nid, "mia") == "sent", what="in-app sent")
        from test_ops import scrape, value
        samples, types, _ = scrape(s.port)
        assert types["herald_notify_deliveries_total"] == "counter"
        got = {(l["kind"], l["outcome"]): v for n, l, v in samples
               if n == "herald_notify_deliveries_total" and v}
        assert got == {("webhook", "failed"): 1, ("webhook", "sent"): 1,
                       ("inapp", "sent"): 1}, got
        assert value(samples, "herald_notify_sends", state="running") == 0
        assert value(samples, "herald_notify_sends", state="held") == 0
    finally:
        standins.close()


def test_escalation_in_app_then_email_unless_acked(server, root, mail_sinks):
    a = App(server, app_headers(server, "NotifyEscalate"))
    a.users("esa", contacts={"email": "esa@example.com"})
    a.users("eli", contacts={"email": "eli@example.com"})
    aid = app_id_of(server, root, a)
    email_channel(server, root, aid, "esc-mail", mail_sinks["good"])
    r = admin(server, "POST", "/message-types",
              {"app_id": aid, "code": "invoice.due", "name": "Invoice due",
               "channels": ["inapp", "email"],
               "escalation": [{"channel": "inapp"}, {"channel": "email", "after_s": 2}]},
              token=root)
    assert r.status == 201, r
    sink = mail_sinks["good"]
    before = len(sink.messages)
    c = ws(a, "esa", "e1")
    try:
        r = send(a, {"type": "invoice.due", "recipients": ["esa", "eli"], "title": "Pay",
                     "content": "Invoice 9 is due"})
        assert r.status == 202 and r.json()["deliveries"] == 4, r
        nid = r.json()["id"]
        f, = notifications(c)
        c.send_json({"type": "ack", "delivery_id": f["delivery_id"]})  # esa ACKs in time
    finally:
        c.close()
    n = notification(a, nid)
    mail = {d["user_id"]: d for d in n["deliveries"] if d["channel"] == "email"}
    assert all(d["status"] == "pending" and d["next_at"] >= n["send_at"] + 2000
               for d in mail.values()), mail
    # eli did not ACK: the e-mail step goes out after 2 s; esa's is skipped
    wait_until(lambda: len(sink.messages) > before, timeout=10, what="the escalation mail")
    assert [m[1] for m in sink.messages[before:]] == [["eli@example.com"]]
    wait_until(lambda: {d["user_id"]: d["status"] for d in notification(a, nid)["deliveries"]
                        if d["channel"] == "email"} == {"esa": "skipped", "eli": "sent"},
               what="skipped and sent")
    esa = [d for d in notification(a, nid)["deliveries"]
           if d["user_id"] == "esa" and d["channel"] == "email"][0]
    assert esa["last_error"] == "the previous step was acknowledged"
