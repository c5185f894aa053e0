"""
The console's user import (docs/admin.md, "Importing users"): POST
/admin/apps/{id}/users/import with users:write on the app — every row validated before
anything is written (a 422 listing the rows' errors, each naming users[i].field), duplicates
handled per on_conflict (fail: 409 naming users[i].id; skip; update), passwords hashed like
the single create (the user logs in), at most 1,000 users, one write with one audit row
`user.import` carrying the counts; another app is a 404, a missing right a 403.
"""
import json

import pytest

from conftest import http_request, module_server, run_herald

API = "/api/v1"
PW = "console password 1"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory)


def call(server, method, path, body=None, token=None, headers=None):
    h = dict(headers or {})
    raw = None
    if token:
        h["Authorization"] = "Bearer " + token
    if body is not None:
        raw = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    return http_request(server.port, method, API + path, headers=h, body=raw, timeout=60)


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
    for name in ("imp-a", "imp-b"):
        r = call(server, "POST", "/admin/apps", {"name": name}, token=root)
        assert r.status == 201, r
        a = r.json()
        out.append((a, {"X-App-Key": a["key"], "X-App-Secret": a["secret"]}))
    return out


def app_users(server, headers):
    r = call(server, "GET", "/users?page_size=100", headers=headers)
    assert r.status == 200, r
    return {u["id"]: u for u in r.json()["results"]}


def audit_rows(server, root):
    r = call(server, "GET", "/admin/audit-log?action=user.import", token=root)
    assert r.status == 200, r
    return r.json()["results"]


def test_import_validates_every_row_then_writes_once(server, root, apps):
    (a, h), (b, hb) = apps
    editor = operator(server, root, "importer", ["users:write", "users:read"], [a["id"]])
    path = "/admin/apps/%s/users/import" % a["id"]

    # bad rows: every one named with its index, nothing written, no audit row
    bad = {"users": [
        {"id": "ok1", "name": "Fine"},
        {"id": "bad id!", "name": "X"},
        {"id": "ok2", "contacts": {"email": "not-an-address"}},
        {"id": "ok3", "password": "short"},
        {"id": "ok1"},
        {"id": "ok4", "role": "admin"},
    ]}
    r = call(server, "POST", path, bad, token=editor)
    assert r.status == 422, r
    err = r.json()["error"]
    assert err["code"] == "validation_failed" and err["field"] == "users[1].id", err
    fields = [e["field"] for e in err["errors"]]
    assert fields == ["users[1].id", "users[2].contacts.email", "users[3].password",
                      "users[4].id", "users[5].role"], err
    assert "short" not in r.body.decode()
    assert app_users(server, h) == {}
    assert audit_rows(server, root) == []

    good = {"users": [
        {"id": "u1", "name": "One", "kind": "buyer", "contacts": {"email": "one@example.com"}},
        {"id": "u2", "name": "Two", "metadata": {"tier": "gold"}, "password": "user2 password"},
        {"id": "u3", "disabled": True},
    ]}
    r = call(server, "POST", path, good, token=editor)
    assert r.status == 200, r
    assert r.json() == {"count": 3, "created": 3, "updated": 0, "skipped": 0,
                        "on_conflict": "fail"}
    us = app_users(server, h)
    assert sorted(us) == ["u1", "u2", "u3"]
    assert us["u1"]["contacts"] == {"email": "one@example.com"} and us["u1"]["kind"] == "buyer"
    assert us["u2"]["metadata"] == {"tier": "gold"} and us["u3"]["disabled"] is True
    assert app_users(server, hb) == {}  # the other app is untouched
    # the password was hashed like the single create: u2 logs in with it
    r = call(server, "POST", "/auth/login", {"username": "u2", "password": "user2 password"},
             headers={"X-App-Key": a["key"]})
    assert r.status == 200, r
    user_tok = r.json()["access_token"]

    rows = audit_rows(server, root)
    assert len(rows) == 1, rows
    assert rows[0]["operator_name"] == "importer" and rows[0]["app_id"] == a["id"]
    assert rows[0]["detail"] == {"count": 3, "created": 3, "updated": 0, "skipped": 0}
    assert "user2 password" not in json.dumps(rows)

    # duplicates: fail (default) names the row, writes nothing, not even the new one
    again = {"users": [{"id": "u4", "name": "Four"}, {"id": "u2", "name": "Deux"}]}
    r = call(server, "POST", path, again, token=editor)
    assert r.status == 409, r
    assert r.json()["error"]["field"] == "users[1].id", r
    assert "u4" not in app_users(server, h)

    # skip: the existing user is left as it is (its password too)
    r = call(server, "POST", path, dict(again, on_conflict="skip"), token=editor)
    assert r.status == 200, r
    assert r.json() == {"count": 2, "created": 1, "updated": 0, "skipped": 1,
                        "on_conflict": "skip"}
    us = app_users(server, h)
    assert us["u4"]["name"] == "Four" and us["u2"]["name"] == "Two"
    assert call(server, "GET", "/auth/me", token=user_tok).status == 200

    # update: given fields overwrite, missing ones are kept; a new password ends the sessions
    upd = {"on_conflict": "update", "users": [
        {"id": "u2", "name": "Deux", "password": "user2 new password"},
        {"id": "u5"}]}
    r = call(server, "POST", path, upd, token=editor)
    assert r.status == 200, r
    assert r.json() == {"count": 2, "created": 1, "updated": 1, "skipped": 0,
                        "on_conflict": "update"}
    us = app_users(server, h)
    assert us["u2"]["name"] == "Deux" and us["u2"]["metadata"] == {"tier": "gold"}
    assert "u5" in us
    r = call(server, "POST", "/auth/login", {"username": "u2", "password": "user2 new password"},
             headers={"X-App-Key": a["key"]})
    assert r.status == 200, r
    import time
    deadline = time.time() + 5
    while call(server, "GET", "/auth/me", token=user_tok).status != 401:
        assert time.time() < deadline, "the old session outlived the new password"
        time.sleep(0.1)
    assert [x["detail"] for x in audit_rows(server, root)][:2] == [
        {"count": 2, "created": 1, "updated": 1, "skipped": 0},
        {"count": 2, "created": 1, "updated": 0, "skipped": 1}]


def test_limits_rights_and_scope(server, root, apps):
    (a, h), (b, hb) = apps
    editor = operator(server, root, "importer2", ["users:write"], [a["id"]])
    reader = operator(server, root, "reader3", ["users:read"], [a["id"], b["id"]])
    path = "/admin/apps/%s/users/import"
    before = len(audit_rows(server, root))

    # at most 1,000 users
    many = {"users": [{"id": "l%d" % i} for i in range(1001)]}
    r = call(server, "POST", path % a["id"], many, token=editor)
    assert r.status == 422 and r.json()["error"]["field"] == "users", r
    r = call(server, "POST", path % a["id"], {"users": []}, token=editor)
    assert r.status == 422 and r.json()["error"]["field"] == "users", r
    # at most 100 rows with a password
    pw = {"users": [{"id": "p%d" % i, "password": "password %d" % i} for i in range(101)]}
    r = call(server, "POST", path % a["id"], pw, token=editor)
    assert r.status == 422 and r.json()["error"]["field"] == "users[100].password", r
    r = call(server, "POST", path % a["id"], {"users": [{"id": "x"}], "on_conflict": "merge"},
             token=editor)
    assert r.status == 422 and r.json()["error"]["field"] == "on_conflict", r
    r = call(server, "POST", path % a["id"], {"users": [{"id": "x"}], "extra": 1}, token=editor)
    assert r.status == 422 and r.json()["error"]["field"] == "extra", r
    assert not any(k.startswith(("l", "p", "x")) for k in app_users(server, h))

    # 1,000 is fine, in one write
    thousand = {"users": [{"id": "k%04d" % i, "name": "K %d" % i} for i in range(1000)]}
    r = call(server, "POST", path % a["id"], thousand, token=editor)
    assert r.status == 200 and r.json()["created"] == 1000, r

    one = {"users": [{"id": "z1"}]}
    # another app (outside the operator's) and an unknown one: 404; no right at all: 403
    assert call(server, "POST", path % b["id"], one, token=editor).status == 404
    assert call(server, "POST", path % "no-such-app", one, token=root).status == 404
    assert call(server, "POST", path % a["id"], one, token=reader).status == 403
    assert call(server, "POST", path % a["id"], one).status == 401
    assert "z1" not in app_users(server, hb)
    assert len(audit_rows(server, root)) == before + 1


def test_an_update_reaches_the_direct_peers_sync(server, root, apps):
    (a, h), _ = apps
    path = "/admin/apps/%s/users/import" % a["id"]
    r = call(server, "POST", path, {"users": [{"id": "s1", "name": "Sam"}, {"id": "s2"}]},
             token=root)
    assert r.status == 200, r

    def token(uid):
        r = call(server, "POST", "/users/%s/tokens" % uid, headers=h)
        assert r.status == 200, r
        return r.json()["access_token"]

    s1, s2 = token("s1"), token("s2")
    r = call(server, "POST", "/conversations", {"type": "direct", "peer": "s2"}, token=s1)
    assert r.status in (200, 201), r
    cursor = call(server, "GET", "/sync?limit=500", token=s2).json()["cursor"]
    # a profile change by the import: the peer's sync replays the conversation as it is now
    r = call(server, "POST", path, {"on_conflict": "update",
                                    "users": [{"id": "s1", "name": "Samuel"}]}, token=root)
    assert r.status == 200 and r.json()["updated"] == 1, r
    got = call(server, "GET", "/sync?limit=500&cursor=" + cursor, token=s2).json()["events"]
    updated = [e for e in got if e["type"] == "conversation.updated"]
    assert len(updated) == 1 and "Samuel" in json.dumps(updated[0]), got
    # an update that changes no profile field logs nothing
    cursor = call(server, "GET", "/sync?limit=500", token=s2).json()["cursor"]
    r = call(server, "POST", path, {"on_conflict": "update",
                                    "users": [{"id": "s1", "disabled": False}]}, token=root)
    assert r.status == 200, r
    got = call(server, "GET", "/sync?limit=500&cursor=" + cursor, token=s2).json()["events"]
    assert [e for e in got if e["type"] == "conversation.updated"] == [], got
