"""
Avatars follow HERALD_BASE_URL (issue 10 item 6, docs/uploads.md "Avatars"): an avatar given
as an upload's path ("/media/...") or as its URL under HERALD_BASE_URL is stored relative,
wherever an avatar is written (users API, /users/batch, /auth/register, PATCH /auth/me,
herald user import, groups); every answer and frame writes it absolute with the current base,
so a restart with another base moves every avatar URL; external URLs are kept as given; a
path that is not a clean /media/ path is 422 naming the avatar.
"""
import json

import pytest

from conftest import http_request, module_server, run_herald, ws_open
from test_conversations import App, app_headers, error_of
from test_messages import direct, frames_until
from test_uploads import png, upload_file

API = "/api/v1"
BASE = "https://cdn.example.com/h"
SECRET = "avatars-test-secret-0123456789abcdef0123"
SERVER_ENV = {"HERALD_DEMO": "1", "HERALD_UPLOAD_RATE": "0", "HERALD_BASE_URL": BASE + "/",
              "HERALD_JWT_SECRET": SECRET}
BAD = ["/media/../etc/passwd", "/etc/passwd", "/media/%2e%2e/x", "/media/uploads/.hidden.png",
       "/media/uploads//a.png", "/media/", "//evil.example/media/x.png", BASE + "/media/../x",
       "javascript:alert(1)", "data:image/svg+xml,<svg onload=alert(1)>", "a.png",
       "ftp://files.example/a.png"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory, env=SERVER_ENV)


@pytest.fixture(scope="module")
def app(server):
    a = App(server, app_headers(server))
    a.users("ava", "bea", "cid")
    return a


@pytest.fixture(scope="module")
def image(server):
    r = upload_file(server, png(), user="ava")
    assert r.status == 201, r
    return r.json()


def user_call(app, method, uid, body=None):
    return http_request(app.server.port, method, API + "/users/" + uid, app.headers,
                        json.dumps(body).encode() if body is not None else None)


def get_user(app, uid):
    r = user_call(app, "GET", uid)
    assert r.status == 200, r
    return r.json()


# ---------------------------------------------------------------- users

@pytest.mark.parametrize("given", ["path", "url"])
def test_user_avatar_from_an_upload_is_answered_under_the_base(app, image, given):
    r = user_call(app, "PATCH", "ava", {"avatar": image[given]})
    assert r.status == 200, r
    assert r.json()["avatar"] == BASE + image["path"] == image["url"], r.json()
    assert get_user(app, "ava")["avatar"] == BASE + image["path"]


def test_auth_me_avatar_is_answered_under_the_base(app, image):
    r = app.call("bea", "PATCH", "/auth/me", {"avatar": image["url"]})
    assert r.status == 200, r
    assert r.json()["avatar"] == image["url"], r.json()
    assert app.call("bea", "GET", "/auth/me").json()["avatar"] == image["url"]
    assert get_user(app, "bea")["avatar"] == image["url"]


def test_register_and_batch_store_upload_avatars(server, app, image):
    r = http_request(server.port, "POST", API + "/auth/register",
                     {"Content-Type": "application/json"},
                     json.dumps({"username": "reg1", "password": "correct horse",
                                 "avatar": image["path"]}).encode())
    assert r.status == 201, r
    assert r.json()["user"]["avatar"] == image["url"], r.json()
    body = {"users": [{"id": "bat1", "avatar": image["url"]},
                      {"id": "bat2", "avatar": "https://gravatar.example/x.png"}]}
    r = http_request(server.port, "POST", API + "/users/batch", app.headers,
                     json.dumps(body).encode())
    assert r.status == 200, r
    assert get_user(app, "bat1")["avatar"] == image["url"]
    assert get_user(app, "bat2")["avatar"] == "https://gravatar.example/x.png"


@pytest.mark.parametrize("external", [
    "https://gravatar.example/avatar/0f1e.png?s=80",
    "http://other.example/media/uploads/x.png",  # /media/ of another host: not ours
    "https://cdn.example.com/hx/media/a.png",      # the base's host, not its path
    "",
])
def test_external_avatars_are_kept_as_given(app, external):
    r = user_call(app, "PATCH", "cid", {"avatar": external})
    assert r.status == 200 and r.json()["avatar"] == external, r
    assert get_user(app, "cid")["avatar"] == external


@pytest.mark.parametrize("bad", BAD)
def test_bad_media_paths_are_422_and_change_nothing(server, app, image, bad):
    assert user_call(app, "PATCH", "ava", {"avatar": image["path"]}).status == 200
    error_of(user_call(app, "PATCH", "ava", {"avatar": bad}), 422, "avatar")
    error_of(app.call("ava", "PATCH", "/auth/me", {"avatar": bad}), 422, "avatar")
    r = http_request(server.port, "POST", API + "/users", app.headers,
                     json.dumps({"id": "nobody1", "avatar": bad}).encode())
    error_of(r, 422, "avatar")
    r = http_request(server.port, "POST", API + "/users/batch", app.headers,
                     json.dumps({"users": [{"id": "nobody2", "avatar": bad}]}).encode())
    error_of(r, 422, "users[0].avatar")
    r = http_request(server.port, "POST", API + "/auth/register",
                     {"Content-Type": "application/json"},
                     json.dumps({"username": "nobody3", "password": "correct horse",
                                 "avatar": bad}).encode())
    error_of(r, 422, "avatar")
    assert get_user(app, "ava")["avatar"] == image["url"]
    for uid in ("nobody1", "nobody2", "nobody3"):
        assert user_call(app, "GET", uid).status == 404


def test_the_avatar_url_is_served(server, image):
    assert image["url"].startswith(BASE + "/media/")
    r = http_request(server.port, "GET", image["url"][len(BASE):])
    assert r.status == 200, r
    assert r.header("Content-Type") == "image/png" and r.body == png()


# ---------------------------------------------------------------- groups

def test_group_avatar_is_stored_relative_and_answered_under_the_base(app, image):
    r = app.call("ava", "POST", "/conversations",
                 {"type": "group", "name": "Pics", "avatar": image["path"], "members": ["bea"]})
    assert r.status == 201, r
    g = r.json()
    assert g["avatar"] == image["url"], g
    members = {m["user_id"]: m for m in g["members"]}
    assert members["bea"]["avatar"] == image["url"], members
    r = app.call("ava", "PATCH", "/conversations/" + g["id"], {"avatar": image["url"]})
    assert r.status == 200 and r.json()["avatar"] == image["url"], r
    r = app.call("ava", "PATCH", "/conversations/" + g["id"], {"avatar": "https://x.example/g.png"})
    assert r.status == 200 and r.json()["avatar"] == "https://x.example/g.png", r
    for bad in BAD:
        error_of(app.call("ava", "PATCH", "/conversations/" + g["id"], {"avatar": bad}), 422,
                 "avatar")
        error_of(app.call("ava", "POST", "/conversations",
                          {"type": "room", "name": "R", "avatar": bad}), 422, "avatar")
    assert app.call("ava", "GET", "/conversations/" + g["id"]).json()["avatar"] == \
        "https://x.example/g.png"


def test_a_profile_frame_carries_the_absolute_avatar(server, app, image):
    conv = direct(app, "cid", "bea")
    assert user_call(app, "PATCH", "bea", {"avatar": "https://x.example/b.png"}).status == 200
    ws = ws_open(server.port, "/ws?token=" + app.token("cid"))
    try:
        assert user_call(app, "PATCH", "bea", {"avatar": image["path"]}).status == 200
        f = frames_until(ws, lambda f: f["type"] == "conversation.updated")[-1]
        assert f["conversation"]["id"] == conv, f
        members = {m["user_id"]: m for m in f["conversation"]["members"]}
        assert members["bea"]["avatar"] == image["url"], f
    finally:
        ws.close()


# ---------------------------------------------------------------- a restart moves them all

def admin_token(s):
    p = run_herald(["admin", "create", "root", "--password-stdin"], env=s.cli_env(),
                   input="root password 1\n")
    assert p.returncode == 0, p
    r = http_request(s.port, "POST", API + "/admin/auth/login",
                     {"Content-Type": "application/json"},
                     json.dumps({"username": "root", "password": "root password 1"}).encode())
    assert r.status == 200, r
    return r.json()["access_token"]


def test_a_new_base_moves_every_stored_avatar(server_factory, tmp_path):
    s = server_factory(env=dict(SERVER_ENV))
    a = App(s, app_headers(s))
    a.users("u1", "u2", "u3")
    img = upload_file(s, png(), user="u1").json()
    path = img["path"]
    assert user_call(a, "PATCH", "u1", {"avatar": img["url"]}).status == 200
    assert a.call("u2", "PATCH", "/auth/me", {"avatar": path}).status == 200
    external = "https://gravatar.example/u3.png"
    assert user_call(a, "PATCH", "u3", {"avatar": external}).status == 200
    conv = direct(a, "u1", "u2")
    g = a.call("u1", "POST", "/conversations",
               {"type": "group", "name": "G", "avatar": img["url"], "members": ["u2", "u3"]})
    assert g.status == 201, g
    gid = g.json()["id"]
    # herald user import (a command, not the server) stores under its own HERALD_BASE_URL too
    f = tmp_path / "u.jsonl"
    f.write_text(json.dumps({"id": "u4", "avatar": BASE + path}) + "\n")
    p = run_herald(["user", "import", str(f)], env=s.cli_env({"HERALD_BASE_URL": BASE}),
                   timeout=60)
    assert p.returncode == 0, p
    f.write_text(json.dumps({"id": "u5", "avatar": "/media/../etc/passwd"}) + "\n")
    p = run_herald(["user", "import", str(f)], env=s.cli_env({"HERALD_BASE_URL": BASE}),
                   timeout=60)
    assert p.returncode != 0 and "avatar" in p.stderr, p
    token = admin_token(s)

    s.stop()
    new = "https://media.example.org"
    s.env["HERALD_BASE_URL"] = new
    s.start()
    want = new + path
    for uid in ("u1", "u2", "u4"):
        assert get_user(a, uid)["avatar"] == want, uid
    assert get_user(a, "u3")["avatar"] == external
    r = http_request(s.port, "GET", API + "/admin/users?page_size=100",
                     {"Authorization": "Bearer " + token})
    assert r.status == 200, r
    listed = {u["id"]: u["avatar"] for u in r.json()["results"]}
    assert listed["u1"] == listed["u2"] == listed["u4"] == want and listed["u3"] == external, \
        listed
    convs = {c["id"]: c for c in a.call("u1", "GET", "/conversations?page_size=100")
             .json()["results"]}
    assert convs[gid]["avatar"] == want, convs[gid]
    gm = {m["user_id"]: m["avatar"] for m in convs[gid]["members"]}
    assert gm == {"u1": want, "u2": want, "u3": external}, gm
    d = convs[conv]
    assert d["peer"]["avatar"] == want and {m["avatar"] for m in d["members"]} == {want}, d
    r = http_request(s.port, "GET", path)
    assert r.status == 200 and r.header("Content-Type") == "image/png", r


def test_without_a_base_answers_use_the_requests_host(server_factory):
    s = server_factory(env={"HERALD_DEMO": "1", "HERALD_UPLOAD_RATE": "0"})
    a = App(s, app_headers(s))
    a.users("n1")
    img = upload_file(s, png(), user="n1").json()
    own = "http://127.0.0.1:%d" % s.port  # the Host the test client sends
    r = user_call(a, "PATCH", "n1", {"avatar": img["path"]})
    assert r.status == 200 and r.json()["avatar"] == own + img["path"], r
    r = http_request(s.port, "GET", API + "/users/n1", dict(a.headers, Host="chat.example:8443"))
    assert r.json()["avatar"] == "http://chat.example:8443" + img["path"], r
    # an absolute URL without a base is nobody's media URL: kept as given
    r = user_call(a, "PATCH", "n1", {"avatar": "http://elsewhere.example" + img["path"]})
    assert r.status == 200 and r.json()["avatar"] == "http://elsewhere.example" + img["path"], r
    error_of(user_call(a, "PATCH", "n1", {"avatar": "/media/../etc/passwd"}), 422, "avatar")
