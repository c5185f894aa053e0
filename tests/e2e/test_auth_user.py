"""
End-user authentication, second part (issue 3 §6-§8; the first part is
test_enduser_auth.py): what ends a session and what must not revive one, and
tenants that share user ids. The same user id in two apps is two accounts
(passwords, tokens, lock-outs); a wrong current_password on PATCH /auth/me
and a failed login count against the same lock-out; a lock-out lifts after
Retry-After; the per-address bucket stops password spraying; disabling (one
user or by batch), deleting and an app's password reset end refresh tokens
too, so neither re-enabling nor re-creating the user brings them back; an
expired refresh token is a plain 401, not a reuse; legacy bcrypt hashes put
straight into the user row verify and are upgraded.
"""
import json
import os
import sqlite3
import time

import pytest

from conftest import http_request, module_server, run_herald, wait_until

API = "/api/v1"
ON_PG = os.environ.get("HERALD_TEST_PG_URL") is not None
LEGACY = "$2b$12$oaobiIPoFhjcLJexAUgyce4luAWJ53iXoG10PzL/.sjoNVxjBkt7W"  # "admin"
PW = "correct horse"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory)


@pytest.fixture(scope="module")
def app(server):
    """X-App-Key/X-App-Secret headers of the default app."""
    p = run_herald(["app", "secret", "default"], env=server.cli_env())
    assert p.returncode == 0, p
    kv = dict(l.split("=", 1) for l in p.stdout.splitlines() if "=" in l)
    return {"X-App-Key": kv["key"], "X-App-Secret": kv["secret"]}


@pytest.fixture(scope="module")
def other_app(server):
    p = run_herald(["app", "create", "Second shop"], env=server.cli_env())
    assert p.returncode == 0, p
    kv = dict(l.split("=", 1) for l in p.stdout.splitlines() if "=" in l)
    return {"X-App-Key": kv["key"], "X-App-Secret": kv["secret"]}


def call(server, method, path, body=None, token=None, headers=None):
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    raw = None
    if body is not None:
        raw = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    return http_request(server.port, method, API + path, headers=h, body=raw, timeout=30)


def register(server, username, password=PW, **extra):
    r = call(server, "POST", "/auth/register", dict(username=username, password=password, **extra))
    assert r.status == 201, r
    return r.json()


def login(server, username, password=PW, app_key=None):
    return call(server, "POST", "/auth/login", {"username": username, "password": password},
                headers={"X-App-Key": app_key} if app_key else None)


def refresh(server, token):
    return call(server, "POST", "/auth/refresh", {"refresh_token": token})


def me_status(server, token):
    return call(server, "GET", "/auth/me", token=token).status


def refused_soon(server, token, timeout=2.0):
    """The access token is refused within timeout seconds (revocations are near-instant on
    the node that made them, within about a second on the others)."""
    wait_until(lambda: me_status(server, token) == 401, timeout=timeout,
               what="the access token to be refused")


def db(server):
    c = sqlite3.connect(os.path.join(server.data_dir, "herald.db"), timeout=10)
    c.execute("PRAGMA busy_timeout = 10000")
    return c


# ------------------------------------------------------------------ tenants

def test_same_user_id_in_two_apps_is_two_accounts(server, app, other_app):
    mine = register(server, "sam", name="Sam of default")
    r = call(server, "POST", "/users", {"id": "sam", "name": "Sam of shop two",
                                        "password": "other password"}, headers=other_app)
    assert r.status == 201, r
    key2 = other_app["X-App-Key"]
    assert login(server, "sam", "other password").status == 401
    assert login(server, "sam", PW, app_key=key2).status == 401
    theirs = login(server, "sam", "other password", app_key=key2)
    assert theirs.status == 200, theirs
    theirs = theirs.json()
    assert theirs["user"]["name"] == "Sam of shop two"
    me = call(server, "GET", "/auth/me", token=mine["access_token"]).json()
    assert me["name"] == "Sam of default"
    # one account's logout leaves the other's tokens alone
    assert call(server, "POST", "/auth/logout", token=mine["access_token"]).status == 204
    refused_soon(server, mine["access_token"])
    assert me_status(server, theirs["access_token"]) == 200
    assert refresh(server, theirs["refresh_token"]).status == 200
    # and the app sees only its own user
    r = call(server, "GET", "/users/sam", headers=other_app)
    assert r.status == 200 and r.json()["name"] == "Sam of shop two", r


def test_lockout_is_per_app(server, other_app):
    """Ten failures lock "lou" of the default app; "lou" of the other app still logs in."""
    register(server, "lou")
    r = call(server, "POST", "/users", {"id": "lou", "password": "other password"},
             headers=other_app)
    assert r.status == 201, r
    codes = [login(server, "lou", "wrong password").status for _ in range(11)]
    assert codes == [401] * 10 + [429], codes
    assert login(server, "lou").status == 429
    assert login(server, "lou", "other password", app_key=other_app["X-App-Key"]).status == 200


def test_unknown_app_key(server):
    register(server, "una")
    r = login(server, "una", app_key="no-such-app")
    assert r.status == 401 and r.json()["error"]["code"] == "unauthorized", r
    assert r.json()["error"]["message"] == login(server, "una", "wrong").json()["error"]["message"]
    assert login(server, "una").status == 200  # failures under an unknown key lock nothing real


# ------------------------------------------------------------------ throttling

def test_wrong_current_password_counts_toward_the_login_lockout(server):
    tok = register(server, "pat")["access_token"]
    body = {"password": "a new password", "current_password": "not it"}
    codes = [call(server, "PATCH", "/auth/me", body, token=tok).status for _ in range(11)]
    assert codes == [403] * 10 + [429], codes
    r = login(server, "pat")  # the right password, same account: locked
    assert r.status == 429 and r.header("Retry-After"), r
    r = call(server, "PATCH", "/auth/me", {"password": "a new password", "current_password": PW},
             token=tok)
    assert r.status == 429, r
    assert call(server, "PATCH", "/auth/me", {"name": "Pat"}, token=tok).status == 200


def test_lockout_lifts_after_retry_after(server):
    register(server, "quinn")
    for _ in range(10):
        assert login(server, "quinn", "wrong password").status == 401
    r = login(server, "quinn")
    assert r.status == 429, r
    wait = int(r.header("Retry-After"))
    assert 1 <= wait <= 6, r  # 10 per minute: one try back every 6 s
    time.sleep(wait + 0.2)
    r = login(server, "quinn")
    assert r.status == 200, r


def test_address_bucket_stops_password_spraying(server_factory):
    s = server_factory()
    register(s, "victim")
    # one wrong password each on many accounts (unknown ones count too) from one address:
    # 100 per minute, refilled as time passes, so a few more than 100 empty the bucket
    codes = []
    for i in range(200):
        codes.append(login(s, "spray%d" % i, "guess").status)
        if codes[-1] != 401:
            break
    assert codes[-1] == 429 and 100 <= len(codes) < 200, codes
    r = login(s, "victim")
    assert r.status == 429 and r.json()["error"]["code"] == "rate_limited", r
    assert 1 <= int(r.header("Retry-After")) <= 60


# ------------------------------------------------------------------ what ends sessions

def test_disabled_user_cannot_log_in_or_refresh(server, app):
    b = register(server, "rita")
    r = call(server, "PATCH", "/users/rita", {"disabled": True}, headers=app)
    assert r.status == 200 and r.json()["disabled"] is True, r
    refused_soon(server, b["access_token"])
    r = login(server, "rita")
    assert r.status == 403 and r.json()["error"]["code"] == "forbidden", r
    assert login(server, "rita", "wrong password").status == 401  # no hint without the password
    assert refresh(server, b["refresh_token"]).status == 401
    # enabled again: the old refresh token stays dead, a new login works
    assert call(server, "PATCH", "/users/rita", {"disabled": False}, headers=app).status == 200
    assert refresh(server, b["refresh_token"]).status == 401
    assert me_status(server, b["access_token"]) == 401
    assert login(server, "rita").status == 200


def test_batch_disable_ends_sessions(server, app):
    b = register(server, "uma")
    keep = register(server, "vera")
    r = call(server, "POST", "/users/batch",
             {"users": [{"id": "uma", "disabled": True}, {"id": "vera", "name": "Vera"},
                        {"id": "new-in-batch", "disabled": True}]}, headers=app)
    assert r.status == 200 and r.json()["updated"] == 2, r
    refused_soon(server, b["access_token"])
    assert refresh(server, b["refresh_token"]).status == 401
    assert login(server, "uma").status == 403
    assert me_status(server, keep["access_token"]) == 200
    assert refresh(server, keep["refresh_token"]).status == 200


def test_deleted_and_recreated_user_does_not_inherit_sessions(server, app):
    b = register(server, "sven")
    assert call(server, "DELETE", "/users/sven", headers=app).status == 204
    refused_soon(server, b["access_token"])
    assert refresh(server, b["refresh_token"]).status == 401
    r = call(server, "POST", "/users", {"id": "sven", "password": "a new sven"}, headers=app)
    assert r.status == 201, r
    assert refresh(server, b["refresh_token"]).status == 401
    assert me_status(server, b["access_token"]) == 401
    assert login(server, "sven").status == 401
    assert login(server, "sven", "a new sven").status == 200


def test_password_reset_by_the_app_ends_refresh_tokens(server, app):
    b = register(server, "tina")
    r = call(server, "PATCH", "/users/tina", {"password": "reset by app"}, headers=app)
    assert r.status == 200 and "password" not in r.body.decode(), r
    refused_soon(server, b["access_token"])
    assert refresh(server, b["refresh_token"]).status == 401
    assert login(server, "tina", "reset by app").status == 200


def test_logout_needs_a_user_token(server, app):
    assert call(server, "POST", "/auth/logout").status == 401
    b = register(server, "walt")
    r = call(server, "POST", "/auth/logout", headers=app)  # app credentials are not a user
    assert r.status == 401, r
    assert me_status(server, b["access_token"]) == 200


def test_register_with_id_and_profile(server):
    r = call(server, "POST", "/auth/register", {"id": "xavier@example.com", "password": PW,
                                                "name": "Xavier", "avatar": "https://a/x.png"})
    assert r.status == 201, r
    u = r.json()["user"]
    assert u["id"] == "xavier@example.com" and u["avatar"] == "https://a/x.png", u
    for bad in ("not an address", "a@b", "@x.io", "a@@x.io", "a b@x.io", "a@x.", 5):
        r = call(server, "POST", "/auth/register", {"username": "yan", "password": PW,
                                                    "email": bad})
        assert r.status == 422 and r.json()["error"]["field"] == "email", (bad, r)
    tok = register(server, "yan", email="yan@example.com")["access_token"]
    r = call(server, "PATCH", "/auth/me", {"contacts": {"email": "nope"}}, token=tok)
    assert r.status == 422 and r.json()["error"]["field"] == "contacts.email", r
    r = call(server, "PATCH", "/auth/me", {"contacts": {"email": "y@e.org", "phone": "1"}},
             token=tok)
    assert r.status == 200 and r.json()["contacts"] == {"email": "y@e.org", "phone": "1"}, r
    r = call(server, "POST", "/auth/register", {"username": "yan", "password": PW,
                                                "kind": "admin"})
    assert r.status == 422 and r.json()["error"]["field"] == "kind", r


# ------------------------------------------------------------------ straight into the store

@pytest.mark.skipif(ON_PG, reason="reads the SQLite file")
@pytest.mark.parametrize("uid,legacy", [("old-b", LEGACY), ("old-a", "$2a$" + LEGACY[4:])])
def test_legacy_bcrypt_in_the_row_is_upgraded(server, app, uid, legacy):
    assert call(server, "POST", "/users", {"id": uid}, headers=app).status == 201
    assert login(server, uid, "admin").status == 401  # no password yet
    c = db(server)
    with c:
        c.execute("UPDATE users SET password_hash = ? WHERE id = ?", (legacy, uid))
    r = login(server, uid, "admin")
    assert r.status == 200, r
    (h,), = c.execute("SELECT password_hash FROM users WHERE id = ?", (uid,)).fetchall()
    c.close()
    assert h.startswith("$y$") and h != legacy, h
    assert login(server, uid, "admin").status == 200
    assert login(server, uid, "wrong").status == 401


@pytest.mark.skipif(ON_PG, reason="reads the SQLite file")
def test_expired_refresh_token_is_401_but_not_a_reuse(server):
    b = register(server, "xena")
    c = db(server)
    with c:
        n = c.execute("UPDATE refresh_tokens SET expires_at = 1 WHERE subject_id = 'xena'"
                      " AND revoked_at IS NULL").rowcount
    assert n == 1
    assert refresh(server, b["refresh_token"]).status == 401
    assert refresh(server, b["refresh_token"]).status == 401
    (revoked,), = c.execute("SELECT count(*) FROM refresh_tokens WHERE subject_id = 'xena'"
                            " AND revoked_at IS NOT NULL").fetchall()
    c.close()
    assert revoked == 0  # nothing was rotated: no family revocation
    assert me_status(server, b["access_token"]) == 200  # and no access-token revocation


@pytest.mark.skipif(ON_PG, reason="reads the SQLite file")
def test_refresh_tokens_are_stored_hashed(server):
    b = register(server, "yuri")
    t2 = refresh(server, b["refresh_token"]).json()["refresh_token"]
    c = db(server)
    rows = c.execute("SELECT family_id, token_hash, rotated_at, revoked_at FROM refresh_tokens"
                     " WHERE subject_id = 'yuri' ORDER BY created_at, rotated_at IS NULL"
                     ).fetchall()
    c.close()
    assert len(rows) == 2 and rows[0][0] == rows[1][0], rows  # one family
    assert rows[0][2] is not None and rows[1][2] is None, rows  # the first one is rotated
    for _, h, _, _ in rows:
        assert b["refresh_token"] not in h and t2 not in h and len(h) == 64
