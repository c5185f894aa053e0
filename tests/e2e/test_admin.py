"""
The console beyond test_console.py (issue 3 §5, §8, §9): the login answer and token claims,
forged, expired and wrong-kind tokens, throttling that ignores the spelling of the name,
no escalation (operators:write / roles:write holders cannot grant or take over rights they
lack), unknown role and app ids named in 422s, role changes applying at once, rotation with
grace 0, no app deletion, legacy bcrypt operator hashes upgraded, audit filters, no 500 for bad
input, and the first-start hint disappearing once an operator exists.
"""
import base64
import hashlib
import hmac
import json
import os
import sqlite3
import subprocess
import time
import warnings

import pytest

from conftest import (HERALD_BIN, PG_URL, Server, clean_env, http_request, module_server,
                      run_herald)

API = "/api/v1"
PW = "admin password 1"
JWT_SECRET = "admin-console-test-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory, {"HERALD_JWT_SECRET": JWT_SECRET})


def cli(server, *args, stdin=None):
    return run_herald(list(args), env=server.cli_env(), input=stdin)


def call(server, method, path, body=None, token=None, headers=None):
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    raw = None
    if body is not None:
        raw = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    return http_request(server.port, method, API + path, headers=h, body=raw, timeout=30)


def login(server, name, pw=PW):
    return call(server, "POST", "/admin/auth/login", {"username": name, "password": pw})


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(token):
    seg = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


def forge(payload, key=JWT_SECRET, header=None):
    h = b64(json.dumps(header or {"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    p = b64(json.dumps(payload, separators=(",", ":")).encode())
    sig = hmac.new(key.encode(), ("%s.%s" % (h, p)).encode(), hashlib.sha256).digest()
    return "%s.%s.%s" % (h, p, b64(sig))


@pytest.fixture(scope="module")
def root(server):
    p = cli(server, "admin", "create", "boss", "--password-stdin", stdin=PW + "\n")
    assert p.returncode == 0 and "created" in p.stdout, p
    r = login(server, "boss")
    assert r.status == 200, r
    return r.json()["access_token"]


def make_role(server, root, name, permissions, app_ids=None):
    body = {"name": name, "permissions": permissions}
    if app_ids is not None:
        body["app_ids"] = app_ids
    r = call(server, "POST", "/admin/roles", body, token=root)
    assert r.status == 201, r
    return r.json()


def make_operator(server, root, name, permissions, app_ids=None):
    role = make_role(server, root, name + "-role", permissions, app_ids)
    r = call(server, "POST", "/admin/operators",
             {"username": name, "password": PW, "roles": [role["id"]]}, token=root)
    assert r.status == 201, r
    t = login(server, name)
    assert t.status == 200, t
    return t.json()["access_token"], r.json(), role


def app_users(server, key, secret):
    return call(server, "GET", "/users", headers={"X-App-Key": key, "X-App-Secret": secret})


# ------------------------------------------------------------------ login and tokens

def test_login_answer_and_claims(server, root):
    r = login(server, "BOSS")  # names are case-insensitive
    assert r.status == 200, r
    b = r.json()
    assert b["token_type"] == "Bearer" and b["expires_in"] == 7 * 86400
    assert b["operator"]["name"] == "boss" and b["operator"]["roles"] == ["superadmin"]
    assert "password" not in r.body.decode() and "$y$" not in r.body.decode()
    c = claims(b["access_token"])
    assert c["typ"] == "operator" and c["exp"] - c["iat"] == 7 * 86400
    assert abs(c["iatm"] - time.time() * 1000) < 60000 and c["iatm"] // 1000 == c["iat"]
    me = call(server, "GET", "/admin/auth/me", token=b["access_token"])
    assert me.status == 200 and me.json()["id"] == c["sub"], me
    assert set(me.json()["permissions"]) >= {"apps:write", "audit:read", "roles:write"}


def test_forged_expired_and_wrong_kind_tokens(server, root):
    sub = claims(root)["sub"]
    now = int(time.time())
    good = {"sub": sub, "typ": "operator", "iat": now, "exp": now + 600, "jti": "j1"}
    assert call(server, "GET", "/admin/auth/me", token=forge(good)).status == 200
    bad = [
        forge(good, key="another-secret-that-is-long-enough-0123456789"),
        forge(good, header={"alg": "none", "typ": "JWT"}).rsplit(".", 1)[0] + ".",
        forge(good, header={"alg": "HS512", "typ": "JWT"}),
        forge(dict(good, iat=now - 900, exp=now - 120)),  # past the 60 s leeway
        forge(dict(good, typ="user", app="x")),
        forge(dict(good, typ="app", app="x")),
        forge(dict(good, sub="0" * 32)),  # well signed, no such operator
        root[:-2] + ("AA" if not root.endswith("AA") else "BB"),
        "a.b.c",
        "",
    ]
    # an edited payload with the old signature
    h, p, s = root.split(".")
    edited = dict(claims(root), sub="1" * 32)
    bad.append("%s.%s.%s" % (h, b64(json.dumps(edited).encode()), s))
    for tok in bad:
        r = call(server, "GET", "/admin/apps", headers={"Authorization": "Bearer " + tok})
        assert r.status == 401, (tok, r)
        assert r.json()["error"]["code"] == "unauthorized"
        assert r.header("WWW-Authenticate") == "Bearer"


def test_app_and_operator_tokens_stay_apart(server, root):
    app = call(server, "POST", "/admin/apps", {"name": "Kinds", "key": "kinds"}, token=root).json()
    t = call(server, "POST", "/auth/token", {"api_key": "kinds", "api_secret": app["secret"]})
    assert t.status == 200, t
    app_tok = t.json()["access_token"]
    assert call(server, "GET", "/admin/auth/me", token=app_tok).status == 401
    assert call(server, "GET", "/admin/apps", token=app_tok).status == 401
    # key + secret headers are no console credentials either
    r = call(server, "GET", "/admin/apps",
             headers={"X-App-Key": "kinds", "X-App-Secret": app["secret"]})
    assert r.status == 401
    assert call(server, "POST", "/users/u1/tokens", token=root).status == 401
    assert call(server, "POST", "/users", {"id": "u1"}, token=root).status == 401


def test_lockout_ignores_the_spelling(server, root):
    assert cli(server, "admin", "create", "Casey", "--password-stdin",
               stdin=PW + "\n").returncode == 0
    names = ["casey", "CASEY", "Casey", "cAsEy", "caseY"] * 2
    codes = [login(server, n, "wrong password").status for n in names]
    assert codes == [401] * 10, codes
    r = login(server, "CaSeY")
    assert r.status == 429 and r.json()["error"]["code"] == "rate_limited", r
    assert int(r.header("Retry-After")) >= 1


def test_disabled_operator(server, root):
    tok, op, _ = make_operator(server, root, "sleepy", ["apps:read"])
    assert call(server, "GET", "/admin/apps", token=tok).status == 200
    r = call(server, "PATCH", "/admin/operators/" + op["id"], {"disabled": True}, token=root)
    assert r.status == 200, r
    assert call(server, "GET", "/admin/apps", token=tok).status == 401
    r = login(server, "sleepy")
    assert r.status == 403 and r.json()["error"]["code"] == "forbidden", r
    assert login(server, "sleepy", "wrong password").status == 401  # no hint without it
    me = claims(root)["sub"]
    r = call(server, "PATCH", "/admin/operators/" + me, {"disabled": True}, token=root)
    assert r.status == 409 and r.json()["error"]["field"] == "disabled", r


# ------------------------------------------------------------------ permissions

def test_no_escalation(server, root):
    tok, op, role = make_operator(server, root, "hr", ["operators:read", "operators:write",
                                                       "roles:write", "apps:read"])
    boss = claims(root)["sub"]
    # cannot make a role with rights it lacks, or widen its own
    r = call(server, "POST", "/admin/roles", {"name": "wide", "permissions": ["apps:write"]},
             token=tok)
    assert r.status == 403 and r.json()["error"]["field"] == "permissions", r
    r = call(server, "PATCH", "/admin/roles/" + role["id"],
             {"permissions": ["apps:read", "audit:read"]}, token=tok)
    assert r.status == 403, r
    # cannot grant the superadmin role, to others or itself
    r = call(server, "POST", "/admin/operators",
             {"username": "mole", "password": PW, "roles": ["superadmin"]}, token=tok)
    assert r.status == 403 and r.json()["error"]["field"] == "roles[0]", r
    r = call(server, "PATCH", "/admin/operators/" + op["id"], {"roles": ["superadmin"]},
             token=tok)
    assert r.status == 403, r
    # cannot take over, disable or delete an operator with more rights
    for method, body in (("PATCH", {"password": "taken over!"}), ("PATCH", {"disabled": True}),
                         ("DELETE", None)):
        r = call(server, method, "/admin/operators/" + boss, body, token=tok)
        assert r.status == 403, (method, body, r)
    assert login(server, "boss").status == 200
    # cannot edit or delete a role with more rights
    big = make_role(server, root, "auditor", ["audit:read"])
    assert call(server, "PATCH", "/admin/roles/" + big["id"], {"description": "x"},
                token=tok).status == 403
    assert call(server, "DELETE", "/admin/roles/" + big["id"], token=tok).status == 403
    # but may hand out what it holds
    small = call(server, "POST", "/admin/roles", {"name": "viewer", "permissions": ["apps:read"]},
                 token=tok)
    assert small.status == 201, small
    r = call(server, "POST", "/admin/operators",
             {"username": "viewer1", "password": PW, "roles": [small.json()["id"]]}, token=tok)
    assert r.status == 201, r
    assert call(server, "DELETE", "/admin/operators/" + r.json()["id"], token=tok).status == 204


def test_unknown_ids_are_named(server, root):
    r = call(server, "POST", "/admin/operators",
             {"username": "ghost", "password": PW, "roles": ["superadmin", "nope"]}, token=root)
    assert r.status == 422 and r.json()["error"]["field"] == "roles[1]", r
    r = call(server, "POST", "/admin/roles",
             {"name": "by-key", "permissions": ["apps:read"], "app_ids": ["default"]}, token=root)
    assert r.status == 422 and r.json()["error"]["field"] == "app_ids[0]", r
    assert call(server, "PATCH", "/admin/operators/" + "f" * 32, {"disabled": False},
                token=root).status == 404
    assert call(server, "DELETE", "/admin/roles/" + "f" * 32, token=root).status == 404
    # repeats are harmless
    app = call(server, "POST", "/admin/apps", {"name": "Twice"}, token=root).json()
    r = call(server, "POST", "/admin/roles",
             {"name": "twice", "permissions": ["apps:read", "apps:read"],
              "app_ids": [app["id"], app["id"]]}, token=root)
    assert r.status == 201, r
    assert r.json()["permissions"] == ["apps:read"] and r.json()["app_ids"] == [app["id"]]
    assert r.json()["all_apps"] is False


def test_role_changes_apply_at_once(server, root):
    tok, _, role = make_operator(server, root, "flip", ["apps:read", "audit:read"])
    assert call(server, "GET", "/admin/audit-log", token=tok).status == 200
    r = call(server, "PATCH", "/admin/roles/" + role["id"], {"permissions": ["apps:read"]},
             token=root)
    assert r.status == 200, r
    r = call(server, "GET", "/admin/audit-log", token=tok)
    assert r.status == 403 and r.json()["error"]["field"] == "audit:read", r
    # limiting the role to one app hides the others
    a = call(server, "POST", "/admin/apps", {"name": "Only"}, token=root).json()
    r = call(server, "PATCH", "/admin/roles/" + role["id"],
             {"all_apps": False, "app_ids": [a["id"]]}, token=root)
    assert r.status == 200 and r.json()["app_ids"] == [a["id"]], r
    lst = call(server, "GET", "/admin/apps", token=tok).json()
    assert [x["id"] for x in lst["results"]] == [a["id"]], lst
    assert call(server, "GET", "/admin/apps/%s/secrets" % a["id"], token=tok).status == 200
    default = [x for x in call(server, "GET", "/admin/apps?page_size=100", token=root)
               .json()["results"] if x["key"] == "default"][0]
    assert call(server, "GET", "/admin/apps/" + default["id"], token=tok).status == 404


# ------------------------------------------------------------------ apps

def test_rotation_without_grace(server, root):
    app = call(server, "POST", "/admin/apps", {"name": "Hard cut", "key": "hard-cut"},
               token=root).json()
    s1 = app["secret"]
    assert app_users(server, "hard-cut", s1).status == 200
    r = call(server, "POST", "/admin/apps/%s/secrets" % app["id"], {"grace_seconds": 0},
             token=root)
    assert r.status == 201 and set(r.json()) >= {"id", "hint", "created_at", "secret"}, r
    s2 = r.json()["secret"]
    assert r.json()["hint"] == s2[-4:]
    assert app_users(server, "hard-cut", s1).status == 401
    assert app_users(server, "hard-cut", s2).status == 200
    # no body: the default grace of a day
    r = call(server, "POST", "/admin/apps/%s/secrets" % app["id"], token=root)
    assert r.status == 201, r
    assert app_users(server, "hard-cut", s2).status == 200
    lst = call(server, "GET", "/admin/apps/%s/secrets" % app["id"], token=root).json()
    assert (lst["count"], lst["page"], lst["page_size"], len(lst["results"])) == (3, 1, 20, 3)
    assert all(isinstance(x["id"], str) for x in lst["results"]), lst  # ids are strings (SPEC)
    p2 = call(server, "GET", "/admin/apps/%s/secrets?page=2&page_size=2" % app["id"],
              token=root).json()
    assert (p2["count"], p2["page"], p2["page_size"]) == (3, 2, 2), p2
    assert [x["id"] for x in p2["results"]] == [lst["results"][2]["id"]], p2
    for _ in range(9):  # ids of two digits and more still list oldest first, as numbers
        assert call(server, "POST", "/admin/apps/%s/secrets" % app["id"], {"grace_seconds": 0},
                    token=root).status == 201
    many = call(server, "GET", "/admin/apps/%s/secrets?page_size=100" % app["id"],
                token=root).json()
    ids = [x["id"] for x in many["results"]]
    assert many["count"] == 12 and ids == sorted(ids, key=int), many
    bad = call(server, "GET", "/admin/apps/%s/secrets?page_size=0" % app["id"], token=root)
    assert bad.status == 422 and bad.json()["error"]["field"] == "page_size", bad
    exp = {x["hint"]: x["expires_at"] for x in lst["results"]}
    assert exp[r.json()["hint"]] is None
    day = exp[s2[-4:]] - time.time() * 1000
    assert 86000e3 < day <= 86400e3, day
    r = call(server, "POST", "/admin/apps/%s/secrets" % app["id"], {"grace": 5}, token=root)
    assert r.status == 422 and r.json()["error"]["field"] == "grace", r
    r = call(server, "POST", "/admin/apps/%s/secrets" % app["id"], {"grace_seconds": "5"},
             token=root)
    assert r.status == 422 and r.json()["error"]["field"] == "grace_seconds", r


def test_apps_are_not_deleted_through_the_api(server, root):
    app = call(server, "POST", "/admin/apps", {"name": "Kept"}, token=root).json()
    r = call(server, "DELETE", "/admin/apps/" + app["id"], token=root)
    assert r.status == 405 and "PATCH" in r.header("Allow"), r


def test_users_search_within_the_operators_apps(server, root):
    a = call(server, "POST", "/admin/apps", {"name": "People A", "key": "people-a"},
             token=root).json()
    b = call(server, "POST", "/admin/apps", {"name": "People B", "key": "people-b"},
             token=root).json()
    for app, uid, name in ((a, "ann", "Ann Lee"), (a, "bob_1", "Bob"), (b, "ann", "Ann B"),
                           (b, "cy", "100% Cy")):
        body = {"id": uid, "name": name}
        if uid == "bob_1":
            body["password"] = "long enough"
        r = call(server, "POST", "/users", body,
                 headers={"X-App-Key": app["key"], "X-App-Secret": app["secret"]})
        assert r.status == 201, r
    tok, _, _ = make_operator(server, root, "people-a-reader", ["users:read"], [a["id"]])
    r = call(server, "GET", "/admin/users", token=tok)
    assert r.status == 200, r
    got = sorted((u["app_id"], u["id"]) for u in r.json()["results"])
    assert got == [(a["id"], "ann"), (a["id"], "bob_1")] and r.json()["count"] == 2, got
    assert "password" not in r.body.decode().replace("has_password", "")
    assert {u["id"]: u["has_password"] for u in r.json()["results"]} == {"ann": False,
                                                                          "bob_1": True}
    r = call(server, "GET", "/admin/users?q=ANN", token=tok)
    assert [u["id"] for u in r.json()["results"]] == ["ann"], r
    r = call(server, "GET", "/admin/users?q=lee", token=tok)  # the name matches too
    assert [u["id"] for u in r.json()["results"]] == ["ann"], r
    r = call(server, "GET", "/admin/users?q=_", token=tok)  # LIKE characters are literal
    assert [u["id"] for u in r.json()["results"]] == ["bob_1"], r
    r = call(server, "GET", "/admin/users?app_id=" + b["id"], token=tok)
    assert r.status == 404 and r.json()["error"]["field"] == "app_id", r
    r = call(server, "GET", "/admin/users?app_id=" + b["id"] + "&q=%25", token=root)
    assert [u["id"] for u in r.json()["results"]] == ["cy"], r
    # an app that does not exist is a 404 for every operator, not an empty page
    r = call(server, "GET", "/admin/users?app_id=nosuchapp", token=root)
    assert r.status == 404 and r.json()["error"]["field"] == "app_id", r
    r = call(server, "GET", "/admin/users?q=" + "x" * 65, token=root)
    assert r.status == 422 and r.json()["error"]["field"] == "q", r
    r = call(server, "GET", "/admin/users?q=a%00b", token=root)
    assert r.status == 422 and r.json()["error"]["field"] == "q", r
    no, _, _ = make_operator(server, root, "no-users", ["apps:read"])
    r = call(server, "GET", "/admin/users", token=no)
    assert r.status == 403 and r.json()["error"]["field"] == "users:read", r


# ------------------------------------------------------------------ audit and validation

def test_audit_filters(server, root):
    tok, op, _ = make_operator(server, root, "scribe", ["apps:read", "apps:write", "audit:read"])
    a = call(server, "POST", "/admin/apps", {"name": "Scribed"}, token=root).json()
    r = call(server, "PATCH", "/admin/apps/" + a["id"], {"rate_limit_rps": 5}, token=tok)
    assert r.status == 200, r
    r = call(server, "POST", "/admin/apps/%s/secrets" % a["id"], {"grace_seconds": 60},
             token=tok)
    secret = r.json()["secret"]
    log = call(server, "GET", "/admin/audit-log?operator_id=" + op["id"], token=tok)
    assert log.status == 200, log
    ids = [e["id"] for e in log.json()["results"]]
    assert all(isinstance(i, str) for i in ids) and ids == sorted(ids, key=int, reverse=True)
    got = [(e["action"], e["operator_name"], e["app_id"]) for e in log.json()["results"]]
    assert got[:3] == [("app.secret.rotate", "scribe", a["id"]),
                       ("app.update", "scribe", a["id"]),
                       ("operator.login", "scribe", None)], got
    entry = log.json()["results"][0]
    assert entry["detail"] == {"grace_seconds": 60} and entry["ip"] == "127.0.0.1"
    assert secret not in log.body.decode()
    r = call(server, "GET", "/admin/audit-log?action=operator.create&page_size=100", token=tok)
    assert all(e["action"] == "operator.create" for e in r.json()["results"])
    assert "admin password" not in r.body.decode()
    for q, field in (("action=" + "a" * 100, "action"), ("operator_id=a%20b", "operator_id"),
                     ("page=x", "page"), ("page_size=0", "page_size")):
        r = call(server, "GET", "/admin/audit-log?" + q, token=tok)
        assert r.status == 422 and r.json()["error"]["field"] == field, (q, r)


BAD_BODIES = [None, [], [1], "x", 1, {"name": None}, {"name": {"a": 1}}, {"name": "x" * 5000},
              {"username": ["a"]}, {"password": 12345678}, {"roles": "superadmin"},
              {"roles": [1]}, {"roles": ["a b"]}, {"permissions": {}}, {"permissions": [None]},
              {"app_ids": [{}]}, {"all_apps": "yes"}, {"disabled": 1}, {"status": True},
              {"rate_limit_rps": 1e400}, {"daily_quota": -0.5}, {"grace_seconds": 1e12},
              {"unknown": 1}, {"": 1}]


def test_bad_input_is_never_a_500(server, root):
    app = call(server, "POST", "/admin/apps", {"name": "Target"}, token=root).json()
    op = call(server, "POST", "/admin/operators", {"username": "target", "password": PW},
              token=root).json()
    role = make_role(server, root, "target-role", ["stats:read"])
    paths = [("POST", "/admin/apps"), ("PATCH", "/admin/apps/" + app["id"]),
             ("POST", "/admin/apps/%s/secrets" % app["id"]), ("POST", "/admin/operators"),
             ("PATCH", "/admin/operators/" + op["id"]), ("POST", "/admin/roles"),
             ("PATCH", "/admin/roles/" + role["id"]), ("POST", "/admin/auth/login")]
    for method, path in paths:
        for body in BAD_BODIES:
            r = call(server, method, path, body, token=root)
            assert 400 <= r.status < 500 or (body is None and r.status == 201), \
                (method, path, body, r)
        raw = http_request(server.port, method, API + path, timeout=30, body=b"{not json",
                           headers={"Authorization": "Bearer " + root,
                                    "Content-Type": "application/json"})
        assert raw.status == 400 and raw.json()["error"]["code"] == "invalid_json", raw
        raw = http_request(server.port, method, API + path, timeout=30, body=b"name=x",
                           headers={"Authorization": "Bearer " + root,
                                    "Content-Type": "application/x-www-form-urlencoded"})
        assert raw.status == 415, raw
    # odd ids reach their route and get 404; a method the route does not have gets 405
    long_op = "/admin/operators/" + "a" * 300
    for method, path, status in (("GET", "/admin/apps/..", 404), ("DELETE", "/admin/apps/..", 405),
                                 ("GET", "/admin/apps/%00", 404),
                                 ("DELETE", "/admin/apps/%00", 405),
                                 ("GET", long_op, 404), ("DELETE", long_op, 404),
                                 ("GET", "/admin/roles/%2F", 404),
                                 ("DELETE", "/admin/roles/%2F", 404),
                                 ("GET", "/admin/apps/x/secrets/-1", 405),
                                 ("DELETE", "/admin/apps/x/secrets/-1", 404),
                                 ("GET", "/admin/apps/x/secrets/1e3", 405),
                                 ("DELETE", "/admin/apps/x/secrets/1e3", 404)):
        r = call(server, method, path, token=root)
        assert r.status == status, (method, path, r)


# ------------------------------------------------------------------ strict bodies, byte limits (issue 7)

def raw_call(server, method, path, raw, token=None, ctype="application/json"):
    h = {"Content-Type": ctype}
    if token:
        h["Authorization"] = "Bearer " + token
    return http_request(server.port, method, API + path, headers=h, body=raw, timeout=30)


def test_operator_password_limit_is_in_bytes(server, root):
    # 200 emoji are 200 characters but 800 bytes: the hash takes at most 511 bytes
    long_pw = "\U0001F600" * 200
    r = call(server, "POST", "/admin/operators", {"username": "emoji-op", "password": long_pw},
             token=root)
    assert r.status == 422, r
    assert r.json()["error"]["code"] == "validation_failed"
    assert r.json()["error"]["field"] == "password", r
    ok = "\U0001F600" * 127  # 508 bytes
    r = call(server, "POST", "/admin/operators", {"username": "emoji-op", "password": ok},
             token=root)
    assert r.status == 201, r
    assert login(server, "emoji-op", ok).status == 200
    r = call(server, "PATCH", "/admin/operators/" + r.json()["id"], {"password": long_pw},
             token=root)
    assert r.status == 422 and r.json()["error"]["field"] == "password", r
    r = login(server, "emoji-op", long_pw)
    assert r.status == 422 and r.json()["error"]["field"] == "password", r
    # a 64-character name of 4-byte characters is no operator name
    r = login(server, "\U0001F600" * 64, PW)
    assert r.status == 422 and r.json()["error"]["field"] == "username", r


def test_console_bodies_are_checked_strictly(server, root):
    # the console reads bodies with the same reader as the app API
    r = raw_call(server, "POST", "/admin/roles",
                 b'{"name": "dup-role", "permissions": ["users:read"], "name": "other"}', root)
    assert r.status == 400 and r.json()["error"]["code"] == "invalid_json", r
    assert r.json()["error"]["field"] == "name", r
    r = raw_call(server, "POST", "/admin/roles", b'{"name": "nul\\u0000role", "permissions": []}',
                 root)
    assert r.status == 422 and r.json()["error"]["field"] == "name", r
    r = raw_call(server, "POST", "/admin/roles", b'{"name": "bad\xffutf8", "permissions": []}', root)
    assert r.status == 400 and r.json()["error"]["code"] == "invalid_json", r
    r = raw_call(server, "POST", "/admin/roles", b'{"name": "x", "permissions": []} trailing', root)
    assert r.status == 400 and r.json()["error"]["code"] == "invalid_json", r
    r = raw_call(server, "POST", "/admin/roles", b'{"name": "ct-role", "permissions": []}', root,
                 ctype="APPLICATION/Json; charset=utf-8")
    assert r.status == 201, r
    r = raw_call(server, "POST", "/admin/roles", b'{"name": "ct-role2", "permissions": []}', root,
                 ctype="application/json-seq")
    assert r.status == 415, r
    # the login reads its body the same way
    r = raw_call(server, "POST", "/admin/auth/login",
                 b'{"username": "boss", "password": "x", "password": "%s"}' % PW.encode())
    assert r.status == 400 and r.json()["error"]["code"] == "invalid_json", r
    r = raw_call(server, "POST", "/admin/auth/login",
                 b'{"username": "boss", "password": "%s\\u0000junk"}' % PW.encode())
    assert r.status == 422 and r.json()["error"]["field"] == "password", r
    r = raw_call(server, "POST", "/admin/auth/login",
                 b'{"username": "boss", "password": "%s"}' % PW.encode(), ctype="Application/JSON")
    assert r.status == 200, r


# ------------------------------------------------------------------ CLI and start-up

def test_cli_help_and_prompt_without_terminal(server):
    for sub in ("create", "passwd"):
        p = run_herald(["admin", sub, "--help"])
        assert p.returncode == 0 and "--password-stdin" in p.stdout, p
    p = run_herald(["admin"])
    assert p.returncode == 2 and "usage" in p.stdout, p
    p = run_herald(["admin", "rename", "x"])
    assert p.returncode == 2 and "create or passwd" in p.stderr, p
    # no terminal and no --password-stdin: refused, nothing created
    p = subprocess.run([HERALD_BIN, "admin", "create", "notty"], env=clean_env(server.cli_env()),
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=20,
                       start_new_session=True)  # no controlling terminal
    assert p.returncode == 1 and "--password-stdin" in p.stderr, p
    assert login(server, "notty", PW).status == 401
    p = cli(server, "admin", "create", "boss", "--password-stdin", stdin=PW + "\n")
    assert p.returncode == 1 and "exists" in p.stderr, p


def test_hint_only_until_the_first_operator(tmp_path):
    s = Server(workdir=tmp_path / "srv").start()
    try:
        assert "herald admin create admin" in s.stderr_text()
        p = run_herald(["admin", "create", "first", "--password-stdin"], env=s.cli_env(),
                       input=PW + "\n")
        assert p.returncode == 0, p
    finally:
        s.stop()
    s2 = Server(workdir=tmp_path / "srv").start()
    try:
        assert "herald admin create" not in s2.stderr_text()
        assert login(s2, "first").status == 200
    finally:
        s2.stop()


@pytest.mark.skipif(PG_URL is not None, reason="edits the SQLite file directly")
def test_legacy_bcrypt_operator_hash_is_upgraded(server, root):
    assert cli(server, "admin", "create", "oldtimer", "--password-stdin",
               stdin="placeholder pw\n").returncode == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
        legacy = crypt.crypt("legacy password", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
    assert legacy.startswith("$2b$04$")
    db = sqlite3.connect(os.path.join(server.data_dir, "herald.db"), timeout=10)
    try:
        with db:
            db.execute("UPDATE operators SET password_hash = ? WHERE name = 'oldtimer'",
                       (legacy,))
        assert login(server, "oldtimer", "wrong password").status == 401
        r = login(server, "oldtimer", "legacy password")
        assert r.status == 200, r
        h = db.execute("SELECT password_hash FROM operators WHERE name = 'oldtimer'").fetchone()[0]
        assert h.startswith("$y$"), h
    finally:
        db.close()
    assert login(server, "oldtimer", "legacy password").status == 200


def test_a_duplicate_operator_is_409_naming_username(server, root):
    body = {"username": "dup-op", "password": "a long enough password"}
    assert call(server, "POST", "/admin/operators", body, root).status == 201
    r = call(server, "POST", "/admin/operators", body, root)
    assert r.status == 409, r
    e = r.json()["error"]
    assert e["code"] == "conflict" and e["field"] == "username", e
    assert e["message"] == "an operator with this username exists", e
