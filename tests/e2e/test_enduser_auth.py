"""
End-user authentication (issue 3 §6-§8, docs/auth.md): register (when the app allows it),
login with throttling (429 + Retry-After; the right password is refused during a
lock-out; other accounts go on), legacy bcrypt hashes verified and upgraded, refresh
tokens rotated on every use with reuse detection revoking the family, logout and
password changes revoking tokens, /auth/me, forged tokens refused, tenants walled off.
"""
import base64
import hashlib
import hmac
import json
import os
import sqlite3
import time

import pytest

from conftest import http_request, module_server, run_herald

API = "/api/v1"
JWT_SECRET = "enduser-auth-test-secret-0123456789abcdef"
ON_PG = os.environ.get("HERALD_TEST_PG_URL") is not None
LEGACY = "$2b$12$oaobiIPoFhjcLJexAUgyce4luAWJ53iXoG10PzL/.sjoNVxjBkt7W"  # "admin"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory, {"HERALD_JWT_SECRET": JWT_SECRET})


def call(server, method, path, body=None, token=None, headers=None, raw=None):
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    if body is not None:
        raw = json.dumps(body).encode()
    if raw is not None:
        h.setdefault("Content-Type", "application/json")
    return http_request(server.port, method, API + path, headers=h, body=raw, timeout=30)


def register(server, username, password="correct horse", **extra):
    return call(server, "POST", "/auth/register", dict(username=username, password=password,
                                                      **extra))


def login(server, username, password="correct horse", headers=None):
    return call(server, "POST", "/auth/login", {"username": username, "password": password},
                headers=headers)


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def claims(token):
    seg = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


def forge(payload, key=JWT_SECRET, header=None):
    h = b64(json.dumps(header or {"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    p = b64(json.dumps(payload, separators=(",", ":")).encode())
    sig = hmac.new(key.encode(), ("%s.%s" % (h, p)).encode(), hashlib.sha256).digest()
    return "%s.%s.%s" % (h, p, b64(sig))


# ------------------------------------------------------------------ register and login

def test_register_then_me(server):
    r = register(server, "alice", name="Alice", email="alice@example.com")
    assert r.status == 201, r
    b = r.json()
    assert b["token_type"] == "Bearer" and b["expires_in"] > 0 and len(b["refresh_token"]) == 43
    assert b["user"]["id"] == "alice" and b["user"]["name"] == "Alice"
    assert b["user"]["contacts"] == {"email": "alice@example.com"}
    assert "password" not in r.body.decode() and "$y$" not in r.body.decode()
    me = call(server, "GET", "/auth/me", token=b["access_token"])
    assert me.status == 200 and me.json()["id"] == "alice", me
    assert claims(b["access_token"])["typ"] == "user"


@pytest.mark.parametrize("body,field,status", [
    ({"password": "long enough"}, "username", 422),
    ({"username": "bad id", "password": "long enough"}, "username", 422),
    ({"username": "bob1"}, "password", 422),
    ({"username": "bob1", "password": "short"}, "password", 422),
    ({"username": "bob1", "password": "x" * 512}, "password", 422),
    ({"username": "bob1", "password": 12345678}, "password", 422),
    ({"username": "bob1", "password": "long enough", "role": "admin"}, "role", 422),
    ({"username": "bob1", "password": "long enough", "name": "n" * 129}, "name", 422),
    ({"username": "bob1", "password": "long enough", "email": 5}, "email", 422),
    ({"username": "bob1", "id": "bob2", "password": "long enough"}, "id", 422),
])
def test_register_validation(server, body, field, status):
    r = call(server, "POST", "/auth/register", body)
    assert r.status == status, r
    assert r.json()["error"]["field"] == field, r
    assert login(server, "bob1", "long enough").status == 401  # nothing was created


def test_username_and_id_may_both_be_given_when_they_agree(server):
    r = call(server, "POST", "/auth/register",
             {"username": "same1", "id": "same1", "password": "long enough"})
    assert r.status == 201 and r.json()["user"]["id"] == "same1", r
    r = call(server, "POST", "/auth/login",
             {"username": "same1", "id": "other", "password": "long enough"})
    assert r.status == 422 and r.json()["error"]["field"] == "id", r
    r = call(server, "POST", "/auth/login", {"id": "same1", "password": "long enough"})
    assert r.status == 200, r


def test_register_taken_and_bad_json(server):
    assert register(server, "carol").status == 201
    r = register(server, "carol")
    assert r.status == 409 and r.json()["error"]["field"] == "username", r
    r = call(server, "POST", "/auth/register", raw=b"{nope")
    assert r.status == 400 and r.json()["error"]["code"] == "invalid_json", r
    r = call(server, "POST", "/auth/register", raw=b"{}", headers={"Content-Type": "text/plain"})
    assert r.status == 415, r


def test_register_refused_when_the_app_does_not_allow_it(server):
    p = run_herald(["app", "create", "Closed shop"], env=server.cli_env())
    assert p.returncode == 0, p
    key = dict(l.split("=", 1) for l in p.stdout.splitlines() if "=" in l)["key"]
    r = call(server, "POST", "/auth/register", {"username": "dave", "password": "long enough"},
             headers={"X-App-Key": key})
    assert r.status == 403 and r.json()["error"]["code"] == "forbidden", r
    r = call(server, "POST", "/auth/register", {"username": "dave", "password": "long enough"},
             headers={"X-App-Key": "no-such-app"})
    assert r.status == 401, r


def test_login_right_wrong_unknown(server):
    assert register(server, "erin").status == 201
    r = login(server, "erin")
    assert r.status == 200, r
    assert r.json()["user"]["id"] == "erin" and r.json()["refresh_token"]
    wrong, unknown = login(server, "erin", "wrong password"), login(server, "nobody-here")
    assert wrong.status == unknown.status == 401
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]


def test_tenants_are_walled_off(server):
    assert register(server, "frank").status == 201
    p = run_herald(["app", "create", "Other"], env=server.cli_env())
    key = dict(l.split("=", 1) for l in p.stdout.splitlines() if "=" in l)["key"]
    assert login(server, "frank", headers={"X-App-Key": key}).status == 401


def test_lockout_after_ten_failures(server):
    assert register(server, "grace").status == 201
    assert register(server, "heidi").status == 201
    codes = [login(server, "grace", "wrong password").status for _ in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429, codes
    r = login(server, "grace")  # the right password during the lock-out
    assert r.status == 429, r
    assert r.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(r.header("Retry-After")) <= 60, r
    assert login(server, "heidi").status == 200  # another account is not affected


@pytest.mark.skipif(ON_PG, reason="reads the SQLite file")
def test_legacy_bcrypt_hash_verifies_and_is_upgraded(server, tmp_path):
    f = tmp_path / "legacy.csv"
    f.write_text("id,name,password_hash\nlegacy-admin,Old admin,%s\n" % LEGACY)
    p = run_herald(["user", "import", str(f)], env=server.cli_env())
    assert p.returncode == 0, p
    assert login(server, "legacy-admin", "wrong").status == 401
    r = login(server, "legacy-admin", "admin")
    assert r.status == 200, r
    db = sqlite3.connect(os.path.join(server.data_dir, "herald.db"))
    (h,), = db.execute("SELECT password_hash FROM users WHERE id = 'legacy-admin'").fetchall()
    db.close()
    assert h.startswith("$y$"), h
    assert login(server, "legacy-admin", "admin").status == 200  # the new hash verifies


# ------------------------------------------------------------------ refresh tokens

def test_refresh_rotates_and_reuse_revokes_the_family(server):
    b = register(server, "ivan").json()
    r1 = call(server, "POST", "/auth/refresh", {"refresh_token": b["refresh_token"]})
    assert r1.status == 200, r1
    t1 = r1.json()
    assert t1["refresh_token"] != b["refresh_token"] and t1["access_token"]
    assert call(server, "GET", "/auth/me", token=t1["access_token"]).status == 200
    # the first token again: a reuse -> 401, the newer token dies with its family
    r = call(server, "POST", "/auth/refresh", {"refresh_token": b["refresh_token"]})
    assert r.status == 401, r
    r = call(server, "POST", "/auth/refresh", {"refresh_token": t1["refresh_token"]})
    assert r.status == 401, r
    # and the access tokens issued before the reuse are revoked too
    assert call(server, "GET", "/auth/me", token=t1["access_token"]).status == 401
    # a fresh login still works
    assert login(server, "ivan").status == 200


def test_a_reuse_ends_every_session_of_the_user(server):
    register(server, "ivy")
    one = login(server, "ivy").json()
    two = login(server, "ivy").json()  # another device
    r1 = call(server, "POST", "/auth/refresh", {"refresh_token": one["refresh_token"]})
    assert r1.status == 200, r1
    assert call(server, "POST", "/auth/refresh",
                {"refresh_token": one["refresh_token"]}).status == 401  # the reuse
    # the other device's session ends too: its access token and its refresh token
    assert call(server, "GET", "/auth/me", token=two["access_token"]).status == 401
    assert call(server, "POST", "/auth/refresh",
                {"refresh_token": two["refresh_token"]}).status == 401
    assert login(server, "ivy").status == 200


@pytest.mark.parametrize("body,status", [({}, 422), ({"refresh_token": 5}, 422),
                                         ({"refresh_token": "short"}, 401),
                                         ({"refresh_token": "A" * 43}, 401)])
def test_refresh_bad_input(server, body, status):
    r = call(server, "POST", "/auth/refresh", body)
    assert r.status == status, r
    if status == 422:
        assert r.json()["error"]["field"] == "refresh_token"


def test_refresh_token_is_not_an_access_token(server):
    b = register(server, "judy").json()
    assert call(server, "GET", "/auth/me", token=b["refresh_token"]).status == 401


# ------------------------------------------------------------------ logout and revocation

def test_logout_ends_this_session_only(server):
    b = register(server, "ken").json()
    other = login(server, "ken").json()  # a second device
    r = call(server, "POST", "/auth/logout", token=b["access_token"])
    assert r.status == 204, r
    deadline = time.time() + 2
    while call(server, "GET", "/auth/me", token=b["access_token"]).status != 401:
        assert time.time() < deadline, "token still valid 2 s after logout"
        time.sleep(0.1)
    assert call(server, "POST", "/auth/refresh", {"refresh_token": b["refresh_token"]}).status == 401
    time.sleep(1.2)  # a revocation poll later, the other device is still signed in
    assert call(server, "GET", "/auth/me", token=other["access_token"]).status == 200
    r = call(server, "POST", "/auth/refresh", {"refresh_token": other["refresh_token"]})
    assert r.status == 200, r
    assert login(server, "ken").status == 200  # logging in again works at once


def test_logout_and_refresh_refuse_a_member_they_do_not_know(server):
    b = register(server, "ken3").json()
    r = call(server, "POST", "/auth/logout", {"everywhre": True}, token=b["access_token"])
    assert r.status == 422 and r.json()["error"]["field"] == "everywhre", r
    r = call(server, "POST", "/auth/refresh", {"refresh_token": b["refresh_token"], "x": 1})
    assert r.status == 422 and r.json()["error"]["field"] == "x", r
    # neither changed anything: the session and its refresh token still work
    assert call(server, "GET", "/auth/me", token=b["access_token"]).status == 200
    r = call(server, "POST", "/auth/refresh", {"refresh_token": b["refresh_token"]})
    assert r.status == 200, r


def test_logout_everywhere(server):
    b = register(server, "ken2").json()
    other = login(server, "ken2").json()
    r = call(server, "POST", "/auth/logout", {"everywhere": True}, token=b["access_token"])
    assert r.status == 204, r
    for t in (b, other):
        assert call(server, "GET", "/auth/me", token=t["access_token"]).status == 401
        assert call(server, "POST", "/auth/refresh", {"refresh_token": t["refresh_token"]}) \
            .status == 401
    assert login(server, "ken2").status == 200


def test_a_token_issued_in_the_same_millisecond_as_a_logout_is_refused(server):
    # a login and an "everywhere" logout right after it often share a millisecond: the
    # token, issued before the logout, must not survive it (and a token minted after a
    # revocation must not die of it: the fresh tokens of a password change)
    assert register(server, "quick").status == 201
    survivors = []
    for i in range(25):
        a = login(server, "quick").json()
        b = login(server, "quick").json()
        r = call(server, "POST", "/auth/logout", {"everywhere": True}, token=a["access_token"])
        assert r.status == 204, r
        for t in (a, b):
            if call(server, "GET", "/auth/me", token=t["access_token"]).status != 401:
                survivors.append(i)
    assert survivors == [], survivors


def test_logout_one_family(server):
    b = register(server, "liam").json()
    other = login(server, "liam").json()
    third = login(server, "liam").json()
    # the caller's session and the family of the refresh token it names end; others go on
    r = call(server, "POST", "/auth/logout", {"refresh_token": other["refresh_token"]},
             token=b["access_token"])
    assert r.status == 204, r
    assert call(server, "POST", "/auth/refresh", {"refresh_token": other["refresh_token"]}) \
        .status == 401
    assert call(server, "POST", "/auth/refresh", {"refresh_token": b["refresh_token"]}).status == 401
    assert call(server, "GET", "/auth/me", token=other["access_token"]).status == 401
    assert call(server, "GET", "/auth/me", token=b["access_token"]).status == 401
    assert call(server, "GET", "/auth/me", token=third["access_token"]).status == 200
    r = call(server, "POST", "/auth/refresh", {"refresh_token": third["refresh_token"]})
    assert r.status == 200, r  # the third device keeps its session


def test_password_change_ends_every_session(server):
    b = register(server, "mia2").json()
    other = login(server, "mia2").json()
    r = call(server, "PATCH", "/auth/me", {"password": "new password!",
                                           "current_password": "correct horse"},
             token=b["access_token"])
    assert r.status == 200, r
    assert call(server, "GET", "/auth/me", token=other["access_token"]).status == 401
    assert call(server, "POST", "/auth/refresh", {"refresh_token": other["refresh_token"]}) \
        .status == 401
    assert call(server, "GET", "/auth/me", token=r.json()["access_token"]).status == 200


def test_password_change(server):
    b = register(server, "mia").json()
    tok = b["access_token"]
    r = call(server, "PATCH", "/auth/me", {"password": "new password!", "current_password": "nope"},
             token=tok)
    assert r.status == 403 and r.json()["error"]["field"] == "current_password", r
    r = call(server, "PATCH", "/auth/me", {"password": "new password!"}, token=tok)
    assert r.status == 422 and r.json()["error"]["field"] == "current_password", r
    r = call(server, "PATCH", "/auth/me", {"password": "new password!",
                                           "current_password": "correct horse"}, token=tok)
    assert r.status == 200, r
    fresh = r.json()
    assert fresh["user"]["id"] == "mia" and fresh["access_token"] != tok
    assert call(server, "GET", "/auth/me", token=tok).status == 401
    assert call(server, "GET", "/auth/me", token=fresh["access_token"]).status == 200
    assert call(server, "POST", "/auth/refresh", {"refresh_token": b["refresh_token"]}).status == 401
    assert login(server, "mia").status == 401
    assert login(server, "mia", "new password!").status == 200


def test_me_patch_profile_and_validation(server):
    tok = register(server, "noah").json()["access_token"]
    r = call(server, "PATCH", "/auth/me", {"name": "Noah", "metadata": {"lang": "zh"}}, token=tok)
    assert r.status == 200 and r.json()["name"] == "Noah", r
    assert r.json()["metadata"] == {"lang": "zh"}
    # an empty PATCH changes nothing, updated_at included
    before = r.json()
    time.sleep(0.01)
    r = call(server, "PATCH", "/auth/me", {}, token=tok)
    assert r.status == 200 and r.json() == before, (r.json(), before)
    for body, field, status in (({"kind": "agent"}, "kind", 403),
                                ({"disabled": True}, "disabled", 403),
                                ({"id": "x"}, "id", 422), ({"name": 5}, "name", 422),
                                ({"app_id": "a"}, "app_id", 422)):
        r = call(server, "PATCH", "/auth/me", body, token=tok)
        assert r.status == status and r.json()["error"]["field"] == field, (body, r)
    assert call(server, "GET", "/auth/me", token=tok).json()["kind"] == ""


def test_forged_access_tokens_are_401(server):
    good = register(server, "olga").json()["access_token"]
    c = claims(good)
    now = int(time.time())
    forged = [
        "%s.%s." % (b64(b'{"alg":"none","typ":"JWT"}'), good.split(".")[1]),
        "%s.%s." % (b64(b'{"alg":"None","typ":"JWT"}'), good.split(".")[1]),
        forge(c, key="another-secret-0123456789abcdefghijkl"),
        good.split(".")[0] + "." + b64(json.dumps(dict(c, sub="alice")).encode()) + "." +
        good.split(".")[2],
        forge(dict(c, exp=now - 3600, iat=now - 7200, iatm=(now - 7200) * 1000)),
        forge(dict(c, nbf=now + 3600)),
        forge(dict(c, typ="app")),
        forge(dict(c, typ="operator")),
        forge(c, header={"alg": "HS512", "typ": "JWT"}),
    ]
    assert forge(c) == good
    for t in forged:
        r = call(server, "GET", "/auth/me", token=t)
        assert r.status == 401, (t, r)
    assert call(server, "GET", "/auth/me").status == 401
    assert call(server, "GET", "/auth/me", headers={"Authorization": "Basic eDp5"}).status == 401


def test_app_token_is_not_a_user_token(server):
    p = run_herald(["app", "secret", "default"], env=server.cli_env())
    kv = dict(l.split("=", 1) for l in p.stdout.splitlines() if "=" in l)
    r = call(server, "POST", "/auth/token", {"api_key": kv["key"], "api_secret": kv["secret"]})
    assert r.status == 200, r
    assert call(server, "GET", "/auth/me", token=r.json()["access_token"]).status == 401


# ------------------------------------------------------------------ passwords set by the app

def test_app_sets_a_users_password(server):
    p = run_herald(["app", "secret", "default"], env=server.cli_env())
    kv = dict(l.split("=", 1) for l in p.stdout.splitlines() if "=" in l)
    app = {"X-App-Key": kv["key"], "X-App-Secret": kv["secret"]}
    r = call(server, "POST", "/users", {"id": "pw-user", "name": "P", "password": "set by app"},
             headers=app)
    assert r.status == 201, r
    assert "password" not in r.body.decode()
    assert login(server, "pw-user", "set by app").status == 200
    tok = login(server, "pw-user", "set by app").json()["access_token"]
    for body in ({"password": "short"}, {"password": 5}):
        r = call(server, "PATCH", "/users/pw-user", body, headers=app)
        assert r.status == 422 and r.json()["error"]["field"] == "password", r
    r = call(server, "PATCH", "/users/pw-user", {"password": "changed by app"}, headers=app)
    assert r.status == 200, r
    assert call(server, "GET", "/auth/me", token=tok).status == 401  # old tokens revoked
    assert login(server, "pw-user", "set by app").status == 401
    assert login(server, "pw-user", "changed by app").status == 200
    r = call(server, "POST", "/users/batch", {"users": [{"id": "b-pw", "password": "long enough"}]},
             headers=app)
    assert r.status == 422 and r.json()["error"]["field"] == "users[0].password", r


def test_concurrent_refreshes_one_wins(server):
    import threading
    b = register(server, "race").json()
    results = []

    def go():
        results.append(call(server, "POST", "/auth/refresh",
                            {"refresh_token": b["refresh_token"]}).status)

    ts = [threading.Thread(target=go) for _ in range(4)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert sorted(results) == [200, 401, 401, 401], results  # rotated in one transaction
