"""
The console (issue 3 §5, §9): `herald admin create|passwd` (--password-stdin), operator
login with throttling, operator tokens kept apart from user and app tokens, permissions
and app-limited roles (a foreign app is a 404), roles CRUD, apps with a secret shown once
and secret rotation with a grace period, disabling an app cuts its credentials and tokens,
and the audit log of every console write (without secrets).
"""
import json
import time

import pytest

from conftest import http_request, module_server, run_herald

API = "/api/v1"
PW = "console password 1"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory)


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


@pytest.fixture(scope="module")
def root(server):
    p = cli(server, "admin", "create", "root", "--password-stdin", stdin=PW + "\n")
    assert p.returncode == 0 and "created" in p.stdout, p
    r = login(server, "root")
    assert r.status == 200, r
    return r.json()["access_token"]


def make_operator(server, root, name, permissions, app_ids=None):
    body = {"name": name + "-role", "permissions": permissions}
    if app_ids is not None:
        body["app_ids"] = app_ids
    r = call(server, "POST", "/admin/roles", body, token=root)
    assert r.status == 201, r
    role = r.json()
    r = call(server, "POST", "/admin/operators",
             {"username": name, "password": PW, "roles": [role["id"]]}, token=root)
    assert r.status == 201, r
    assert "password" not in r.body.decode() and "$y$" not in r.body.decode()
    t = login(server, name)
    assert t.status == 200, t
    return t.json()["access_token"], role


def test_first_start_hint(server_factory):
    s = server_factory()
    assert "herald admin create admin" in s.stderr_text()


def test_cli_errors(server):
    assert cli(server, "admin", "create", "x y", "--password-stdin", stdin=PW).returncode == 1
    p = cli(server, "admin", "create", "shorty", "--password-stdin", stdin="short\n")
    assert p.returncode == 1 and "8 to 511" in p.stderr, p
    p = cli(server, "admin", "passwd", "nobody", "--password-stdin", stdin=PW + "\n")
    assert p.returncode == 1 and "no operator" in p.stderr, p
    p = run_herald(["admin", "--help"])
    assert p.returncode == 0 and "--password-stdin" in p.stdout


def test_login_me_and_token_kinds(server, root):
    me = call(server, "GET", "/admin/auth/me", token=root)
    assert me.status == 200, me
    assert me.json()["name"] == "root" and "apps:write" in me.json()["permissions"]
    assert login(server, "root", "wrong password").status == 401
    assert login(server, "nobody").status == 401
    # an operator token is not a user or app token, and the other way round
    assert call(server, "GET", "/auth/me", token=root).status == 401
    assert call(server, "GET", "/users", token=root).status == 401
    reg = call(server, "POST", "/auth/register", {"username": "u1", "password": "long enough"})
    assert reg.status == 201, reg
    assert call(server, "GET", "/admin/auth/me", token=reg.json()["access_token"]).status == 401
    assert call(server, "GET", "/admin/apps").status == 401
    assert call(server, "GET", "/admin/apps", token="not.a.token").status == 401


def test_lockout(server, root):
    p = cli(server, "admin", "create", "locky", "--password-stdin", stdin=PW + "\n")
    assert p.returncode == 0, p
    codes = [login(server, "locky", "wrong password").status for _ in range(11)]
    assert codes[10] == 429 and codes[:10] == [401] * 10, codes
    r = login(server, "locky")
    assert r.status == 429 and int(r.header("Retry-After")) >= 1, r
    assert login(server, "root").status == 200


def test_logout_ends_every_console_token_of_the_operator(server, root):
    assert cli(server, "admin", "create", "goer", "--password-stdin",
               stdin=PW + "\n").returncode == 0
    one = login(server, "goer").json()["access_token"]
    two = login(server, "goer").json()["access_token"]
    assert call(server, "POST", "/admin/auth/logout").status == 401
    r = call(server, "POST", "/admin/auth/logout", token=one)
    assert r.status == 204 and r.body == b"", r
    for t in (one, two):
        assert call(server, "GET", "/admin/auth/me", token=t).status == 401
    assert call(server, "POST", "/admin/auth/logout", token=one).status == 401
    again = login(server, "goer").json()["access_token"]
    assert call(server, "GET", "/admin/auth/me", token=again).status == 200
    log = call(server, "GET", "/admin/audit-log?action=operator.logout", token=root).json()
    assert [e["operator_name"] for e in log["results"]] == ["goer"], log


def test_passwd_revokes_old_tokens(server, root):
    assert cli(server, "admin", "create", "rotor", "--password-stdin",
               stdin=PW + "\n").returncode == 0
    old = login(server, "rotor").json()["access_token"]
    p = cli(server, "admin", "passwd", "rotor", "--password-stdin", stdin="a new password\n")
    assert p.returncode == 0, p
    deadline = time.time() + 3  # another process: seen through the revocations table
    while call(server, "GET", "/admin/auth/me", token=old).status != 401:
        assert time.time() < deadline, "old token still valid"
        time.sleep(0.2)
    assert login(server, "rotor").status == 401
    assert login(server, "rotor", "a new password").status == 200


def test_permissions(server, root):
    reader, _ = make_operator(server, root, "reader", ["apps:read"])
    assert call(server, "GET", "/admin/apps", token=reader).status == 200
    r = call(server, "POST", "/admin/apps", {"name": "Nope"}, token=reader)
    assert r.status == 403 and r.json()["error"]["code"] == "forbidden", r
    assert call(server, "GET", "/admin/operators", token=reader).status == 403
    assert call(server, "GET", "/admin/audit-log", token=reader).status == 403


def test_app_limited_role(server, root):
    a = call(server, "POST", "/admin/apps", {"name": "Shop A"}, token=root).json()
    b = call(server, "POST", "/admin/apps", {"name": "Shop B"}, token=root).json()
    tok, _ = make_operator(server, root, "shop-a-admin", ["apps:read", "apps:write"], [a["id"]])
    lst = call(server, "GET", "/admin/apps", token=tok).json()
    assert [x["id"] for x in lst["results"]] == [a["id"]] and lst["count"] == 1, lst
    assert call(server, "GET", "/admin/apps/" + a["id"], token=tok).status == 200
    for method, path, body in (("GET", "/admin/apps/" + b["id"], None),
                               ("PATCH", "/admin/apps/" + b["id"], {"name": "x"}),
                               ("POST", "/admin/apps/" + b["id"] + "/secrets", {}),
                               ("GET", "/admin/apps/nonexistent", None)):
        r = call(server, method, path, body, token=tok)
        assert r.status == 404, (method, path, r)
    # creating apps needs apps:write on every app
    assert call(server, "POST", "/admin/apps", {"name": "C"}, token=tok).status == 403
    r = call(server, "PATCH", "/admin/apps/" + a["id"], {"name": "Shop A2"}, token=tok)
    assert r.status == 200 and r.json()["name"] == "Shop A2", r


def test_roles_crud_and_validation(server, root):
    r = call(server, "POST", "/admin/roles", {"name": "ops", "permissions": ["nope"]}, token=root)
    assert r.status == 422 and r.json()["error"]["field"] == "permissions[0]", r
    r = call(server, "POST", "/admin/roles", {"name": "ops"}, token=root)
    assert r.status == 422 and r.json()["error"]["field"] == "permissions", r
    r = call(server, "POST", "/admin/roles", {"name": "ops", "permissions": ["stats:read"],
                                              "colour": 1}, token=root)
    assert r.status == 422 and r.json()["error"]["field"] == "colour", r
    r = call(server, "POST", "/admin/roles", {"name": "ops", "permissions": ["stats:read"]},
             token=root)
    assert r.status == 201, r
    rid = r.json()["id"]
    assert r.json()["all_apps"] is True and r.json()["permissions"] == ["stats:read"]
    r = call(server, "PATCH", "/admin/roles/" + rid, {"description": "operations"}, token=root)
    assert r.status == 200 and r.json()["description"] == "operations", r
    # names are unique: a second "ops", or renaming another role to it, is 409 naming `name`
    for name in ("ops", "OPS", "superadmin"):
        r = call(server, "POST", "/admin/roles", {"name": name, "permissions": ["stats:read"]},
                 token=root)
        assert r.status == 409 and r.json()["error"]["field"] == "name", r
    r = call(server, "POST", "/admin/roles", {"name": "ops2", "permissions": ["stats:read"]},
             token=root)
    assert r.status == 201, r
    r2 = r.json()["id"]
    r = call(server, "PATCH", "/admin/roles/" + r2, {"name": "ops"}, token=root)
    assert r.status == 409 and r.json()["error"]["field"] == "name", r
    assert call(server, "GET", "/admin/roles/" + r2, token=root).json()["name"] == "ops2"
    assert call(server, "DELETE", "/admin/roles/" + r2, token=root).status == 204
    assert call(server, "PATCH", "/admin/roles/superadmin", {"name": "x"}, token=root).status == 403
    assert call(server, "DELETE", "/admin/roles/superadmin", token=root).status == 403
    assert call(server, "DELETE", "/admin/roles/" + rid, token=root).status == 204
    assert call(server, "GET", "/admin/roles/" + rid, token=root).status == 404
    lst = call(server, "GET", "/admin/roles?page_size=100", token=root).json()
    assert any(x["id"] == "superadmin" and x["builtin"] for x in lst["results"])
    r = call(server, "GET", "/admin/roles?page_size=1000", token=root)
    assert r.status == 200 and r.json()["page_size"] == 100  # as every list: 100 at most
    for bad in ("page_size=0", "page_size=x", "page=0", "page=-1", "page=1.5"):
        r = call(server, "GET", "/admin/roles?" + bad, token=root)
        assert r.status == 422 and r.json()["error"]["field"] == bad.split("=")[0], (bad, r)


def test_operator_crud(server, root):
    r = call(server, "POST", "/admin/operators", {"username": "bad name", "password": PW},
             token=root)
    assert r.status == 422 and r.json()["error"]["field"] == "username", r
    r = call(server, "POST", "/admin/operators", {"username": "op1", "password": "short"},
             token=root)
    assert r.status == 422 and r.json()["error"]["field"] == "password", r
    r = call(server, "POST", "/admin/operators", {"username": "op1", "password": PW}, token=root)
    assert r.status == 201, r
    oid = r.json()["id"]
    assert call(server, "POST", "/admin/operators", {"username": "op1", "password": PW},
                token=root).status == 409
    tok = login(server, "op1").json()["access_token"]
    assert call(server, "GET", "/admin/auth/me", token=tok).status == 200
    r = call(server, "PATCH", "/admin/operators/" + oid, {"disabled": True}, token=root)
    assert r.status == 200 and r.json()["disabled"] is True, r
    assert call(server, "GET", "/admin/auth/me", token=tok).status == 401
    assert login(server, "op1").status == 403
    lst = call(server, "GET", "/admin/operators", token=root)
    assert lst.status == 200 and "password" not in lst.body.decode()
    assert call(server, "DELETE", "/admin/operators/" + oid, token=root).status == 204
    assert call(server, "GET", "/admin/operators/" + oid, token=root).status == 404


def app_users(server, key, secret):
    return call(server, "GET", "/users", headers={"X-App-Key": key, "X-App-Secret": secret})


def test_app_secret_shown_once_and_rotation(server, root):
    r = call(server, "POST", "/admin/apps", {"name": "Rotating", "key": "rot-app"}, token=root)
    assert r.status == 201, r
    app = r.json()
    s1 = app["secret"]
    assert len(s1) == 43 and app["key"] == "rot-app"
    got = call(server, "GET", "/admin/apps/" + app["id"], token=root)
    assert "secret" not in got.json() and s1 not in got.body.decode()
    assert app_users(server, "rot-app", s1).status == 200
    # rotate with a 2 s grace: both work, then only the new one
    r = call(server, "POST", "/admin/apps/%s/secrets" % app["id"], {"grace_seconds": 2},
             token=root)
    assert r.status == 201, r
    s2 = r.json()["secret"]
    assert s2 != s1
    assert app_users(server, "rot-app", s1).status == 200
    assert app_users(server, "rot-app", s2).status == 200
    time.sleep(2.5)
    assert app_users(server, "rot-app", s1).status == 401
    assert app_users(server, "rot-app", s2).status == 200
    lst = call(server, "GET", "/admin/apps/%s/secrets" % app["id"], token=root)
    assert lst.status == 200 and lst.json()["count"] == 2, lst
    assert s1 not in lst.body.decode() and s2 not in lst.body.decode()
    assert lst.json()["results"][0]["expires_at"] is not None
    assert lst.json()["results"][1]["expires_at"] is None
    sid = lst.json()["results"][0]["id"]
    assert call(server, "DELETE", "/admin/apps/%s/secrets/%s" % (app["id"], sid),
                token=root).status == 204
    r = call(server, "POST", "/admin/apps/%s/secrets" % app["id"], {"grace_seconds": -1},
             token=root)
    assert r.status == 422 and r.json()["error"]["field"] == "grace_seconds", r


def app_token(server, key, secret):
    r = call(server, "POST", "/auth/token", {"api_key": key, "api_secret": secret})
    assert r.status == 200, r
    return r.json()["access_token"]


def test_app_tokens_die_with_their_secret(server, root):
    r = call(server, "POST", "/admin/apps", {"name": "Token keeper", "key": "tok-app"},
             token=root)
    assert r.status == 201, r
    app = r.json()
    t1 = app_token(server, "tok-app", app["secret"])
    assert call(server, "GET", "/users", token=t1).status == 200
    # rotation without grace: the old secret and every token minted with it end now
    r = call(server, "POST", "/admin/apps/%s/secrets" % app["id"], {"grace_seconds": 0},
             token=root)
    assert r.status == 201, r
    s2 = r.json()["secret"]
    deadline = time.monotonic() + 3
    while call(server, "GET", "/users", token=t1).status != 401:
        assert time.monotonic() < deadline, "an app token outlived its secret"
        time.sleep(0.2)
    r = call(server, "GET", "/users", token=t1)
    assert r.status == 401 and r.json()["error"]["code"] == "unauthorized", r
    t2 = app_token(server, "tok-app", s2)
    assert call(server, "GET", "/users", token=t2).status == 200
    # a secret deleted by an operator takes its tokens with it too
    r = call(server, "POST", "/admin/apps/%s/secrets" % app["id"], {"grace_seconds": 3600},
             token=root)
    assert r.status == 201, r
    t3 = app_token(server, "tok-app", r.json()["secret"])
    lst = call(server, "GET", "/admin/apps/%s/secrets" % app["id"], token=root).json()
    old = [x["id"] for x in lst["results"] if x["expires_at"] is not None and
           x["expires_at"] > time.time() * 1000]
    assert len(old) == 1, lst  # s2, in its grace period
    assert call(server, "GET", "/users", token=t2).status == 200  # still within the grace
    assert call(server, "DELETE", "/admin/apps/%s/secrets/%s" % (app["id"], old[0]),
                token=root).status == 204
    deadline = time.monotonic() + 3
    while call(server, "GET", "/users", token=t2).status != 401:
        assert time.monotonic() < deadline, "an app token outlived its deleted secret"
        time.sleep(0.2)
    assert call(server, "GET", "/users", token=t3).status == 200


def test_disabling_an_app_cuts_credentials_and_tokens(server, root):
    app = call(server, "POST", "/admin/apps", {"name": "Doomed", "key": "doomed",
                                               "allow_register": True}, token=root).json()
    t = call(server, "POST", "/auth/token", {"api_key": "doomed", "api_secret": app["secret"]})
    assert t.status == 200, t
    tok = t.json()["access_token"]
    assert call(server, "GET", "/users", token=tok).status == 200
    u = call(server, "POST", "/auth/register", {"username": "dee", "password": "correct horse"},
             headers={"X-App-Key": "doomed"})
    assert u.status == 201, u
    r = call(server, "PATCH", "/admin/apps/" + app["id"], {"status": "disabled"}, token=root)
    assert r.status == 200 and r.json()["status"] == "disabled", r
    assert app_users(server, "doomed", app["secret"]).status == 401
    assert call(server, "GET", "/users", token=tok).status == 401
    # enabled again: no session of before comes back (its users log in again)
    r = call(server, "PATCH", "/admin/apps/" + app["id"], {"status": "active"}, token=root)
    assert r.status == 200 and r.json()["status"] == "active", r
    assert call(server, "POST", "/auth/refresh",
                {"refresh_token": u.json()["refresh_token"]}).status == 401
    assert call(server, "GET", "/auth/me", token=u.json()["access_token"]).status == 401
    assert call(server, "POST", "/auth/login", {"username": "dee", "password": "correct horse"},
                headers={"X-App-Key": "doomed"}).status == 200
    r = call(server, "PATCH", "/admin/apps/" + app["id"], {"status": "paused"}, token=root)
    assert r.status == 422 and r.json()["error"]["field"] == "status", r
    r = call(server, "PATCH", "/admin/apps/" + app["id"], {"rate_limit_rps": -1}, token=root)
    assert r.status == 422 and r.json()["error"]["field"] == "rate_limit_rps", r
    r = call(server, "PATCH", "/admin/apps/" + app["id"], {"key": "new"}, token=root)
    assert r.status == 422 and r.json()["error"]["field"] == "key", r


def test_audit_log(server, root):
    r = call(server, "POST", "/admin/apps", {"name": "Audited"}, token=root)
    secret = r.json()["secret"]
    log = call(server, "GET", "/admin/audit-log?action=app.create", token=root)
    assert log.status == 200, log
    entries = log.json()["results"]
    assert entries and entries[0]["action"] == "app.create", entries
    assert entries[0]["operator_name"] == "root" and entries[0]["target"] == r.json()["id"]
    everything = call(server, "GET", "/admin/audit-log?page_size=100", token=root)
    body = everything.body.decode()
    assert secret not in body and PW not in body and "$y$" not in body
    actions = {e["action"] for e in everything.json()["results"]}
    assert {"operator.create", "operator.login", "app.create"} <= actions, actions


def test_apps_operators_and_roles_lists_search_with_q(server, root):
    """?q= finds apps by name or key, operators by name and roles by name or description, case
    blind, with % and _ taken literally; the count is the matches'; too long is a 422."""
    a = call(server, "POST", "/admin/apps", {"name": "Searchable Fish_Market"}, token=root).json()
    call(server, "POST", "/admin/apps", {"name": "Searchable Fish Market"}, token=root)
    found = call(server, "GET", "/admin/apps?q=fish_m", token=root).json()
    assert [x["id"] for x in found["results"]] == [a["id"]] and found["count"] == 1, found
    by_key = call(server, "GET", "/admin/apps?q=" + a["key"], token=root).json()
    assert [x["id"] for x in by_key["results"]] == [a["id"]], by_key
    both = call(server, "GET", "/admin/apps?q=SEARCHABLE&page_size=1", token=root).json()
    assert both["count"] == 2 and len(both["results"]) == 1, both
    assert call(server, "GET", "/admin/apps?q=%25", token=root).json()["count"] == 0
    make_operator(server, root, "findme-op", ["users:read"])
    ops = call(server, "GET", "/admin/operators?q=FINDME", token=root).json()
    assert [x["name"] for x in ops["results"]] == ["findme-op"] and ops["count"] == 1, ops
    r = call(server, "POST", "/admin/roles", {"name": "night-shift", "permissions": [],
                                              "description": "Weekend watchers"}, token=root)
    assert r.status == 201, r
    for q in ("NIGHT", "weekend"):
        roles = call(server, "GET", "/admin/roles?q=" + q, token=root).json()
        assert [x["name"] for x in roles["results"]] == ["night-shift"], (q, roles)
    for path in ("/admin/apps", "/admin/operators", "/admin/roles"):
        r = call(server, "GET", path + "?q=" + "x" * 65, token=root)
        assert r.status == 422 and r.json()["error"]["field"] == "q", (path, r)
        assert call(server, "GET", path + "?q=", token=root).json()["count"] >= 1
