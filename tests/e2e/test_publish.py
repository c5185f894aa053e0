"""
POST /api/v1/publish (docs/realtime.md): an app pushes a live event to the connected
devices of some of its users ("to": [ids]) or of all of them ("to": "*"). Every device of an
addressed user gets {"type":"event","event":…} exactly once, other users and other apps get
nothing, bad bodies are 422 naming the field, and only app credentials may publish.
"""
import json
import socket

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
    return {"X-App-Key": kv["key"], "X-App-Secret": kv["secret"]}


@pytest.fixture(scope="module")
def app(server):
    return app_headers(server)


def publish(server, headers, body, raw=None):
    h = dict(headers)
    h["Content-Type"] = "application/json"
    data = raw if raw is not None else json.dumps(body).encode()
    return http_request(server.port, "POST", API + "/publish", headers=h, body=data, timeout=20)


def next_event(c, timeout=5):
    """The next text frame that is an event (server pings are answered by recv_frame)."""
    f = c.recv_frame(timeout=timeout)
    return f.json()


def nothing_arrives(c, wait=0.4):
    try:
        f = c.recv_frame(timeout=wait)
    except (socket.timeout, TimeoutError, Closed):
        return True
    raise AssertionError("unexpected frame %r" % f)


def test_event_reaches_every_device_of_the_addressed_users_once(server, app):
    phone = ws_open(server.port, "/ws?user_id=pub_b1&device_id=phone")
    laptop = ws_open(server.port, "/ws?user_id=pub_b1&device_id=laptop")
    other = ws_open(server.port, "/ws?user_id=pub_m1")
    m2 = ws_open(server.port, "/ws?user_id=pub_m2")
    try:
        r = publish(server, app, {"to": ["pub_b1", "pub_m2"], "event": {"kind": "order.paid",
                                                                        "n": 1, "s": "你好"}})
        assert r.status == 202, r
        assert r.json() == {"published": 2}
        for c in (phone, laptop, m2):
            assert next_event(c) == {"type": "event",
                                     "event": {"kind": "order.paid", "n": 1, "s": "你好"}}
            nothing_arrives(c)
        nothing_arrives(other)
    finally:
        for c in (phone, laptop, other, m2):
            c.close()


def test_star_reaches_every_connected_user_of_the_app_only(server, app):
    second = app_headers(server, create="Publish other shop")
    a = ws_open(server.port, "/ws?user_id=pub_c1")
    b = ws_open(server.port, "/ws?user_id=pub_c2")
    try:
        # another app's "*" does not reach the default app's users
        r = publish(server, second, {"to": "*", "event": "for the other shop"})
        assert r.status == 202, r
        nothing_arrives(a)
        nothing_arrives(b)
        r = publish(server, app, {"to": "*", "event": [1, 2, 3]})
        assert r.status == 202, r
        assert r.json() == {"published": 1}
        assert next_event(a) == {"type": "event", "event": [1, 2, 3]}
        assert next_event(b) == {"type": "event", "event": [1, 2, 3]}
    finally:
        a.close()
        b.close()


def test_many_events_arrive_in_order(server, app):
    c = ws_open(server.port, "/ws?user_id=pub_d1")
    try:
        for i in range(50):
            r = publish(server, app, {"to": ["pub_d1"], "event": {"i": i}})
            assert r.status == 202, r
        got = [next_event(c)["event"]["i"] for _ in range(50)]
        assert got == list(range(50))
    finally:
        c.close()


@pytest.mark.parametrize("body,field", [
    ({"event": 1}, "to"),
    ({"to": ["x"]}, "event"),
    ({"to": "everyone", "event": 1}, "to"),
    ({"to": [], "event": 1}, "to"),
    ({"to": ["ok", "bad id"], "event": 1}, "to[1]"),
    ({"to": ["a", "b", "a"], "event": 1}, "to[2]"),
    ({"to": ["x"] * 1001, "event": 1}, "to"),
    ({"to": ["x"], "event": 1, "extra": True}, "extra"),
])
def test_bad_bodies_are_422_naming_the_field(server, app, body, field):
    r = publish(server, app, body)
    assert r.status == 422, r
    err = r.json()["error"]
    assert err["code"] == "validation_failed"
    assert err["field"] == field


def test_oversize_event_is_413(server, app):
    r = publish(server, app, {"to": "*", "event": "x" * (64 * 1024)})
    assert r.status == 413, r
    assert r.json()["error"]["field"] == "event"


def test_only_apps_may_publish(server, app):
    r = http_request(server.port, "POST", API + "/publish",
                     headers={"Content-Type": "application/json"},
                     body=b'{"to":"*","event":1}', timeout=20)
    assert r.status == 401, r
    bad = dict(app)
    bad["X-App-Secret"] = "wrong"
    r = publish(server, bad, {"to": "*", "event": 1})
    assert r.status == 401, r


def test_invalid_json_is_400(server, app):
    r = publish(server, app, None, raw=b'{"to":"*","to":"*","event":1}')
    assert r.status == 400, r
    assert r.json()["error"]["code"] == "invalid_json"
