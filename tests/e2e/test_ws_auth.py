"""
WebSocket authentication (issue 3 §7, docs/identity.md): the handshake needs a user access
token, in `?token=` or in `Sec-WebSocket-Protocol: herald.v1, bearer.<token>`; forged,
expired, wrong-kind and revoked tokens get 401; demo mode (HERALD_DEMO=1) accepts
`?user_id=` in the default app and creates the user with a kind from the id's prefix;
disabling a user closes their open sockets with 4001; logging out ends one session (the
sockets of its access tokens close with 4001, other devices stay), `everywhere` all of them.
"""
import base64
import hashlib
import hmac
import json
import time

import pytest

from conftest import http_request, module_server, run_herald, ws_handshake, ws_open

API = "/api/v1"
JWT_SECRET = "ws-auth-test-secret-0123456789abcdef"


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def forge(payload, header=None, key=JWT_SECRET):
    h = b64(json.dumps(header or {"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    p = b64(json.dumps(payload, separators=(",", ":")).encode())
    sig = hmac.new(key.encode(), ("%s.%s" % (h, p)).encode(), hashlib.sha256).digest()
    return "%s.%s.%s" % (h, p, b64(sig))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory, {"HERALD_JWT_SECRET": JWT_SECRET})


@pytest.fixture(scope="module")
def app(server):
    p = run_herald(["app", "secret", "default"], env=server.cli_env())
    assert p.returncode == 0, p
    c = dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)
    return {"X-App-Key": c["key"], "X-App-Secret": c["secret"]}


def call(server, method, path, auth, body=None):
    h = dict(auth)
    raw = None
    if body is not None:
        raw = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    return http_request(server.port, method, API + path, headers=h, body=raw, timeout=20)


def user_token(server, app, uid):
    r = call(server, "POST", "/users", app, {"id": uid, "name": uid})
    assert r.status == 201, r  # every test uses its own user ids
    r = call(server, "POST", "/users/%s/tokens" % uid, app)
    assert r.status == 200, r
    return r.json()["access_token"]


def claims(token):
    seg = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


def test_no_token_is_401(server):
    r, c = ws_handshake(server.port, "/ws")
    with c:
        assert r.status == 401, r
        assert r.json()["error"]["code"] == "unauthorized"


def test_demo_id_refused_when_demo_is_off(server):
    r, c = ws_handshake(server.port, "/ws?user_id=b1")
    with c:
        assert r.status == 401, r


def test_token_in_query(server, app):
    tok = user_token(server, app, "wq1")
    c = ws_open(server.port, "/ws?token=" + tok)
    with c:
        assert c.hello["user"]["id"] == "wq1"
        assert c.ping("x") == {"type": "pong", "id": "x"}


def test_token_in_subprotocol(server, app):
    tok = user_token(server, app, "wp1")
    c = ws_open(server.port, "/ws", headers=[("Sec-WebSocket-Protocol",
                                               "herald.v1, bearer." + tok)])
    with c:
        assert c.response.header("Sec-WebSocket-Protocol") == "herald.v1"
        assert c.hello["user"]["id"] == "wp1"


def forged_tokens(good):
    c = claims(good)
    now = int(time.time())
    return {
        "alg-none": "%s.%s." % (b64(b'{"alg":"none","typ":"JWT"}'), good.split(".")[1]),
        "alg-None": "%s.%s." % (b64(b'{"alg":"None","typ":"JWT"}'), good.split(".")[1]),
        "wrong-signature": forge(c, key="another-secret-0123456789abcdefghij"),
        "tampered-payload": good.split(".")[0] + "." + b64(json.dumps(
            dict(c, sub="someone-else")).encode()) + "." + good.split(".")[2],
        "expired": forge(dict(c, iat=now - 7200, exp=now - 3600, iatm=(now - 7200) * 1000)),
        "not-yet-valid": forge(dict(c, nbf=now + 3600)),
        "app-token": forge(dict(c, typ="app")),
        "operator-token": forge(dict(c, typ="operator")),
        "no-exp": forge({k: v for k, v in c.items() if k != "exp"}),
        "garbage": "not-a-token",
    }


@pytest.mark.parametrize("kind", ["alg-none", "alg-None", "wrong-signature", "tampered-payload",
                                  "expired", "not-yet-valid", "app-token", "operator-token",
                                  "no-exp", "garbage"])
def test_forged_tokens_are_401(server, app, kind):
    good = user_token(server, app, "wf-" + kind)
    assert forge(claims(good)) == good  # the forging helper itself is right
    bad = forged_tokens(good)[kind]
    for path, headers in (("/ws?token=" + bad, None),
                          ("/ws", [("Sec-WebSocket-Protocol", "herald.v1, bearer." + bad)])):
        r, c = ws_handshake(server.port, path, headers=headers)
        with c:
            assert r.status == 401, (kind, r)


def test_bad_device_id_is_422(server, app):
    tok = user_token(server, app, "wd1")
    for bad in ("%2F..", "x" * 65, "%zz", ""):
        r, c = ws_handshake(server.port, "/ws?device_id=%s&token=%s" % (bad, tok))
        with c:
            assert r.status == 422, (bad, r)
            assert r.json()["error"]["field"] == "device_id"
    c = ws_open(server.port, "/ws?device_id=phone-1&token=" + tok)
    c.close()


def test_disabling_a_user_closes_their_sockets_with_4001(server, app):
    tok = user_token(server, app, "wr1")
    other = ws_open(server.port, "/ws?token=" + user_token(server, app, "wr2"))
    a = ws_open(server.port, "/ws?token=" + tok)
    b = ws_open(server.port, "/ws?token=" + tok)
    with a, b, other:
        r = call(server, "PATCH", "/users/wr1", app, {"disabled": True})
        assert r.status == 200, r
        for c in (a, b):
            c.expect_close(4001, timeout=5)
        # the token is refused from now on; the other user is untouched
        r, c = ws_handshake(server.port, "/ws?token=" + tok)
        with c:
            assert r.status == 401, r
        assert other.ping(1) == {"type": "pong", "id": 1}


def login_device(server, uid, pw="device password"):
    r = http_request(server.port, "POST", API + "/auth/login", timeout=20,
                     headers={"Content-Type": "application/json"},
                     body=json.dumps({"username": uid, "password": pw}).encode())
    assert r.status == 200, r
    return r.json()


def logout(server, token, body=None):
    h = {"Authorization": "Bearer " + token}
    raw = None
    if body is not None:
        h["Content-Type"] = "application/json"
        raw = json.dumps(body).encode()
    return http_request(server.port, "POST", API + "/auth/logout", headers=h, body=raw,
                        timeout=20)


def me_status(server, token):
    return http_request(server.port, "GET", API + "/auth/me", timeout=20,
                        headers={"Authorization": "Bearer " + token}).status


def test_logout_closes_only_that_sessions_sockets(server, app):
    r = call(server, "POST", "/users", app, {"id": "ws-two", "password": "device password"})
    assert r.status == 201, r
    phone, laptop = login_device(server, "ws-two"), login_device(server, "ws-two")
    assert claims(phone["access_token"])["sid"] != claims(laptop["access_token"])["sid"]
    p = ws_open(server.port, "/ws?device_id=phone&token=" + phone["access_token"])
    lap = ws_open(server.port, "/ws?device_id=laptop&token=" + laptop["access_token"])
    with p, lap:
        r = logout(server, phone["access_token"])
        assert r.status == 204, r
        p.expect_close(4001, timeout=5)
        assert me_status(server, phone["access_token"]) == 401
        r, c = ws_handshake(server.port, "/ws?token=" + phone["access_token"])
        with c:
            assert r.status == 401, r
        # the laptop's session goes on: its socket, its access token, its refresh token
        time.sleep(1.5)  # past the revocation poll: nothing more arrives for it
        assert lap.ping(7) == {"type": "pong", "id": 7}
        assert me_status(server, laptop["access_token"]) == 200
        r = http_request(server.port, "POST", API + "/auth/refresh", timeout=20,
                         headers={"Content-Type": "application/json"},
                         body=json.dumps({"refresh_token": laptop["refresh_token"]}).encode())
        assert r.status == 200, r
        fresh = r.json()
        # a refreshed token stays in its session
        assert claims(fresh["access_token"])["sid"] == claims(laptop["access_token"])["sid"]
        # the phone's refresh token died with its session
        r = http_request(server.port, "POST", API + "/auth/refresh", timeout=20,
                         headers={"Content-Type": "application/json"},
                         body=json.dumps({"refresh_token": phone["refresh_token"]}).encode())
        assert r.status == 401, r
        # logging out the laptop's session ends the socket opened with the older token too
        r = logout(server, fresh["access_token"])
        assert r.status == 204, r
        lap.expect_close(4001, timeout=5)
        assert me_status(server, laptop["access_token"]) == 401


def test_logout_everywhere_closes_every_session(server, app):
    r = call(server, "POST", "/users", app, {"id": "ws-all", "password": "device password"})
    assert r.status == 201, r
    other = ws_open(server.port, "/ws?token=" + user_token(server, app, "ws-bystander"))
    a, b = login_device(server, "ws-all"), login_device(server, "ws-all")
    ca = ws_open(server.port, "/ws?token=" + a["access_token"])
    cb = ws_open(server.port, "/ws?token=" + b["access_token"])
    with ca, cb, other:
        r = logout(server, a["access_token"], {"everywhere": True})
        assert r.status == 204, r
        ca.expect_close(4001, timeout=5)
        cb.expect_close(4001, timeout=5)
        assert me_status(server, a["access_token"]) == 401
        assert me_status(server, b["access_token"]) == 401
        assert other.ping(1) == {"type": "pong", "id": 1}
    for bad in ({"everywhere": "yes"}, {"everywhere": 1}):
        c = login_device(server, "ws-all")
        r = logout(server, c["access_token"], bad)
        assert r.status == 422 and r.json()["error"]["field"] == "everywhere", r


def test_demo_mode(server_factory):
    s = server_factory({"HERALD_DEMO": "1"})
    assert "DEMO MODE" in s.stderr_text()
    c = ws_open(s.port, "/ws?user_id=m42")
    with c:
        assert c.hello["user"]["id"] == "m42"
    p = run_herald(["app", "secret", "default"], env=s.cli_env())
    assert p.returncode == 0, p
    kv = dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)
    auth = {"X-App-Key": kv["key"], "X-App-Secret": kv["secret"]}
    r = call(s, "GET", "/users/m42", auth)
    assert r.status == 200, r
    assert r.json()["kind"] == "merchant"
    for uid, kind in (("b7", "buyer"), ("p7", "agent")):
        ws_open(s.port, "/ws?user_id=" + uid).close()
        assert call(s, "GET", "/users/" + uid, auth).json()["kind"] == kind
    r, c = ws_handshake(s.port, "/ws?user_id=bad/id")
    with c:
        assert r.status == 422, r
    # on HTTP too: user endpoints accept ?user_id= in demo mode
    me = http_request(s.port, "GET", API + "/auth/me?user_id=b9", timeout=20)
    assert me.status == 200 and me.json()["id"] == "b9" and me.json()["kind"] == "buyer", me


def test_disabling_an_app_closes_its_sockets_on_every_loop(server, app):
    """An app disabled in the console: its tokens are revoked and every socket of its users,
    on whichever loop, closes with 4001 within the revocation poll (the event travels on the
    bus to the app's topic); sockets of other apps stay open (issue 8 §3)."""
    p = run_herald(["app", "create", "ws-off"], env=server.cli_env())
    assert p.returncode == 0, p
    c = dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)
    off = {"X-App-Key": c["key"], "X-App-Secret": c["secret"]}
    listed = run_herald(["app", "list"], env=server.cli_env())
    app_id = next(line.split()[0] for line in listed.stdout.splitlines()
                  if line.split()[1:2] == [c["key"]])
    p = run_herald(["admin", "create", "ws-boss", "--password-stdin"], env=server.cli_env(),
                   input="boss password 123\n")
    assert p.returncode == 0, p
    r = http_request(server.port, "POST", API + "/admin/auth/login", timeout=20,
                     headers={"Content-Type": "application/json"},
                     body=json.dumps({"username": "ws-boss",
                                      "password": "boss password 123"}).encode())
    assert r.status == 200, r
    boss = r.json()["access_token"]
    # enough sockets that both loops of a two-core machine hold some (the kernel spreads them)
    socks = [ws_open(server.port, "/ws?token=" + user_token(server, off, "off%d" % i))
             for i in range(8)]
    other = ws_open(server.port, "/ws?token=" + user_token(server, app, "ws-other-app"))
    try:
        r = http_request(server.port, "PATCH", API + "/admin/apps/" + app_id, timeout=20,
                         headers={"Authorization": "Bearer " + boss,
                                  "Content-Type": "application/json"},
                         body=json.dumps({"status": "disabled"}).encode())
        assert r.status == 200, r
        for s in socks:
            s.expect_close(4001, timeout=5)
        assert other.ping(1) == {"type": "pong", "id": 1}
    finally:
        for s in socks + [other]:
            s.close()
