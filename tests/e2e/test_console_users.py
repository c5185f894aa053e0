"""
The console's edit of an end user (docs/admin.md): PATCH /admin/apps/{id}/users/{user_id}
with users:write on the app — the users API's checks and answers, the user's tokens revoked
when disabled, an audit row `user.update` naming the fields (never a password) in the same
write; another app is a 404, a missing right a 403, bad input changes nothing.
"""
import json

import pytest

from conftest import http_request, module_server, run_herald

API = "/api/v1"
PW = "console password 1"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory)


def call(server, method, path, body=None, token=None, headers=None, raw=None):
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    if body is not None:
        raw = json.dumps(body).encode()
    if raw is not None:
        h["Content-Type"] = "application/json"
    return http_request(server.port, method, API + path, headers=h, body=raw, timeout=30)


def login(server, name):
    r = call(server, "POST", "/admin/auth/login", {"username": name, "password": PW})
    assert r.status == 200, r
    return r.json()["access_token"]


@pytest.fixture(scope="module")
def root(server):
    p = run_herald(["admin", "create", "root", "--password-stdin"], env=server.cli_env(),
                   input=PW + "\n")
    assert p.returncode == 0, p
    return login(server, "root")


def operator(server, root, name, permissions, app_ids):
    r = call(server, "POST", "/admin/roles",
             {"name": name + "-role", "permissions": permissions, "app_ids": app_ids}, token=root)
    assert r.status == 201, r
    r = call(server, "POST", "/admin/operators",
             {"username": name, "password": PW, "roles": [r.json()["id"]]}, token=root)
    assert r.status == 201, r
    return login(server, name)


@pytest.fixture(scope="module")
def apps(server, root):
    out = []
    for name in ("shop-a", "shop-b"):
        r = call(server, "POST", "/admin/apps", {"name": name}, token=root)
        assert r.status == 201, r
        a = r.json()
        h = {"X-App-Key": a["key"], "X-App-Secret": a["secret"]}
        r = call(server, "POST", "/users/batch", {"users": [
            {"id": "b1", "name": "Bob", "kind": "buyer"},
            {"id": "m1", "name": "Mia", "kind": "merchant"}]}, headers=h)
        assert r.status == 200, r
        out.append((a, h))
    return out


def user_token(server, headers, uid):
    r = call(server, "POST", "/users/%s/tokens" % uid, headers=headers)
    assert r.status == 200, r
    return r.json()["access_token"]


def test_edit_and_disable_with_audit(server, root, apps):
    (a, h), (b, hb) = apps
    editor = operator(server, root, "editor", ["users:write", "users:read"], [a["id"]])
    tok = user_token(server, h, "b1")
    assert call(server, "GET", "/auth/me", token=tok).status == 200

    r = call(server, "PATCH", "/admin/apps/%s/users/b1" % a["id"],
             {"name": "Bobby", "metadata": {"tier": "gold"}}, token=editor)
    assert r.status == 200, r
    u = r.json()
    assert u["id"] == "b1" and u["name"] == "Bobby" and u["metadata"] == {"tier": "gold"}
    assert u["disabled"] is False
    assert call(server, "GET", "/auth/me", token=tok).status == 200  # a rename revokes nothing

    r = call(server, "PATCH", "/admin/apps/%s/users/b1" % a["id"],
             {"disabled": True, "password": "a new user password"}, token=editor)
    assert r.status == 200 and r.json()["disabled"] is True, r
    assert call(server, "GET", "/auth/me", token=tok).status == 401
    # the app sees the change; the other app's b1 is untouched
    assert call(server, "GET", "/users/b1", headers=h).json()["disabled"] is True
    other = call(server, "GET", "/users/b1", headers=hb).json()
    assert other["disabled"] is False and other["name"] == "Bob"

    r = call(server, "GET", "/admin/audit-log?action=user.update", token=root)
    assert r.status == 200, r
    rows = r.json()["results"]
    assert len(rows) == 2, rows
    assert rows[0]["target"] == "b1" and rows[0]["app_id"] == a["id"]
    assert rows[0]["operator_name"] == "editor"
    assert rows[0]["detail"] == {"fields": ["disabled", "password"], "disabled": True}
    assert rows[1]["detail"] == {"fields": ["name", "metadata"]}
    assert "a new user password" not in r.body.decode()


def test_scope_rights_and_bad_input(server, root, apps):
    (a, h), (b, hb) = apps
    editor = operator(server, root, "editor2", ["users:write"], [a["id"]])
    reader = operator(server, root, "reader2", ["users:read"], [a["id"]])
    before = call(server, "GET", "/admin/audit-log?action=user.update", token=root).json()["count"]
    path = "/admin/apps/%s/users/m1"
    # another app: 404, as if it did not exist; an unknown app too
    r = call(server, "PATCH", path % b["id"], {"name": "X"}, token=editor)
    assert r.status == 404, r
    r = call(server, "PATCH", path % "nope", {"name": "X"}, token=editor)
    assert r.status == 404, r
    # without users:write: 403 naming it
    r = call(server, "PATCH", path % a["id"], {"name": "X"}, token=reader)
    assert r.status == 403 and r.json()["error"]["field"] == "users:write", r
    # an unknown user, a malformed id: 404
    assert call(server, "PATCH", "/admin/apps/%s/users/ghost" % a["id"], {"name": "X"},
                token=editor).status == 404
    assert call(server, "PATCH", "/admin/apps/%s/users/%%20bad" % a["id"], {"name": "X"},
                token=editor).status == 404
    # bad bodies: 422 naming the field, or 400; nothing changes
    for body, field in (({"name": 5}, "name"), ({"disabled": "yes"}, "disabled"),
                        ({"password": "short"}, "password"), ({"id": "m2"}, "id")):
        r = call(server, "PATCH", path % a["id"], body, token=editor)
        assert r.status == 422 and r.json()["error"]["field"] == field, (body, r)
    r = call(server, "PATCH", path % a["id"], token=editor, raw=b"{not json")
    assert r.status == 400, r
    m1 = call(server, "GET", "/users/m1", headers=h).json()
    assert m1["name"] == "Mia" and m1["disabled"] is False
    # no token, a user token: 401
    assert call(server, "PATCH", path % a["id"], {"name": "X"}).status == 401
    r = call(server, "PATCH", path % a["id"], {"name": "X"}, token=user_token(server, h, "m1"))
    assert r.status == 401, r
    after = call(server, "GET", "/admin/audit-log?action=user.update", token=root).json()["count"]
    assert after == before
