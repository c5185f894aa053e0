"""
Quick replies (issue 10, docs/service.md, docs/admin.md): GET/POST /quick-replies and
PATCH/DELETE /quick-replies/{id} for end users (their own; the app's shared ones read-only),
and /admin/apps/{id}/quick-replies for operators holding quick_replies:manage (audited).
"""
import time

import pytest

from conftest import module_server
from test_conversations import App, app_headers, error_of
from test_edit_recall import operator, operator_call, root_token

MAX = 200  # QUICK_REPLIES_MAX


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory)


@pytest.fixture(scope="module")
def app(server):
    a = App(server, app_headers(server))
    a.users("alice", "bob", "carol", "dave")
    return a


@pytest.fixture(scope="module")
def other(server):
    a = App(server, app_headers(server, "OtherQuick"))
    a.users("alice")
    return a


@pytest.fixture(scope="module")
def root(server):
    return root_token(server, "boss-q")


def app_id(server, root, name):
    apps = operator_call(server, root, "GET", "/admin/apps?page_size=100").json()["results"]
    return [x["id"] for x in apps if name in (x["name"], x.get("key"))][0]


def add(app, uid, body):
    return app.call(uid, "POST", "/quick-replies", body)


def listed(app, uid):
    """Every reply uid sees, page after page."""
    out, page = [], 1
    while True:
        r = app.call(uid, "GET", "/quick-replies?page_size=100&page=%d" % page)
        assert r.status == 200, r
        body = r.json()
        assert (body["page"], body["page_size"]) == (page, 100), body
        out += body["results"]
        if len(body["results"]) < 100:
            assert body["count"] == len(out), body
            return out
        page += 1


# ---------------------------------------------------------------- end users

def test_create_list_patch_delete_own(app):
    r = add(app, "alice", {"title": "Hi", "content": "Hello, how can I help?"})
    assert r.status == 201, r
    q = r.json()
    assert q["id"].startswith("q") and q["title"] == "Hi" and q["shared"] is False, q
    assert q["content"] == "Hello, how can I help?" and q["position"] == 0, q
    assert q["created_at"] == q["updated_at"] > 0, q
    assert [x["id"] for x in listed(app, "alice")] == [q["id"]]
    r = app.call("alice", "PATCH", "/quick-replies/" + q["id"], {"content": "Hello!"})
    assert r.status == 200, r
    assert r.json()["content"] == "Hello!" and r.json()["title"] == "Hi", r
    assert listed(app, "alice")[0]["content"] == "Hello!"
    # an empty PATCH changes nothing, updated_at included
    before = r.json()
    time.sleep(0.01)
    r = app.call("alice", "PATCH", "/quick-replies/" + q["id"], {})
    assert r.status == 200 and r.json() == before, (r.json(), before)
    r = app.call("alice", "GET", "/quick-replies/" + q["id"])
    assert r.status == 200 and r.json() == listed(app, "alice")[0], r
    r = app.call("alice", "DELETE", "/quick-replies/" + q["id"])
    assert r.status == 204, r
    assert listed(app, "alice") == []
    error_of(app.call("alice", "GET", "/quick-replies/" + q["id"]), 404)


def test_position_defaults_after_the_last_and_orders_the_list(app):
    first = add(app, "bob", {"content": "one"}).json()
    second = add(app, "bob", {"content": "two"}).json()
    assert (first["position"], second["position"]) == (0, 1)
    assert first["title"] == ""
    time.sleep(0.01)  # a later created_at
    top = add(app, "bob", {"content": "zero", "position": 0}).json()
    # equal positions: the older first
    assert [x["content"] for x in listed(app, "bob")] == ["one", "zero", "two"]
    r = app.call("bob", "PATCH", "/quick-replies/" + first["id"], {"position": 5})
    assert r.status == 200 and r.json()["position"] == 5, r
    assert [x["id"] for x in listed(app, "bob")] == [top["id"], second["id"], first["id"]]


def test_content_and_title_lengths_count_characters(app):
    ok = add(app, "carol", {"title": "标" * 64, "content": "回" * 1000})
    assert ok.status == 201 and len(ok.json()["content"]) == 1000, ok
    error_of(add(app, "carol", {"content": "回" * 1001}), 422, "content", "validation_failed")
    error_of(add(app, "carol", {"title": "标" * 65, "content": "x"}), 422, "title")
    error_of(add(app, "carol", {"content": ""}), 422, "content")
    error_of(add(app, "carol", {"title": "no content"}), 422, "content")
    error_of(add(app, "carol", {"content": "x", "position": -1}), 422, "position")
    error_of(add(app, "carol", {"content": "x", "colour": "red"}), 422, "colour")
    q = ok.json()["id"]
    error_of(app.call("carol", "PATCH", "/quick-replies/" + q, {"content": "回" * 1001}), 422,
             "content")
    error_of(app.call("carol", "PATCH", "/quick-replies/" + q, {"position": "first"}), 422,
             "position")


def test_a_user_has_at_most_200(app):
    app.users("hoarder")
    for i in range(MAX):
        r = add(app, "hoarder", {"content": "reply %d" % i})
        assert r.status == 201, r
    e = error_of(add(app, "hoarder", {"content": "one too many"}), 409, code="conflict")
    assert "200" in e["message"], e
    assert len(listed(app, "hoarder")) == MAX
    # another user is not counted against
    assert add(app, "dave", {"content": "mine"}).status == 201


def test_another_users_or_apps_reply_is_404(app, other):
    q = add(app, "alice", {"content": "private"}).json()["id"]
    error_of(app.call("bob", "PATCH", "/quick-replies/" + q, {"content": "x"}), 404)
    error_of(app.call("bob", "DELETE", "/quick-replies/" + q), 404)
    error_of(app.call("bob", "GET", "/quick-replies/" + q), 404)
    error_of(other.call("alice", "GET", "/quick-replies/" + q), 404)
    assert q not in [x["id"] for x in listed(app, "bob")]
    # the same user id in another app
    error_of(other.call("alice", "PATCH", "/quick-replies/" + q, {"content": "x"}), 404)
    error_of(other.call("alice", "DELETE", "/quick-replies/" + q), 404)
    assert listed(other, "alice") == []
    error_of(app.call("alice", "DELETE", "/quick-replies/qnosuch"), 404)
    assert listed(app, "alice")[0]["content"] == "private"


# ---------------------------------------------------------------- shared ones, operators

def test_operator_crud_and_users_see_shared_after_their_own_read_only(app, other, server, root):
    aid = app_id(server, root, "default")
    path = "/admin/apps/%s/quick-replies" % aid
    mgr = operator(server, root, "qr-manager", ["quick_replies:manage"], [aid])
    r = operator_call(server, mgr, "POST", path, {"title": "Bye", "content": "Goodbye!"})
    assert r.status == 201, r
    s = r.json()
    assert s["shared"] is True and s["position"] == 0, s
    later = operator_call(server, mgr, "POST", path, {"content": "Thanks", "position": 0}).json()
    error_of(operator_call(server, mgr, "POST", path, {"content": "回" * 1001}), 422, "content")
    lst = operator_call(server, mgr, "GET", path).json()
    assert [x["id"] for x in lst["results"]] == [s["id"], later["id"]], lst
    assert lst["count"] == 2
    r = operator_call(server, mgr, "PATCH", path + "/" + s["id"], {"position": 3})
    assert r.status == 200 and r.json()["position"] == 3, r
    # a user's own first, then the shared ones by position
    app.users("eve")
    mine = add(app, "eve", {"content": "mine", "position": 9}).json()
    assert [x["id"] for x in listed(app, "eve")] == [mine["id"], later["id"], s["id"]]
    assert [x["shared"] for x in listed(app, "eve")] == [False, True, True]
    r = app.call("eve", "GET", "/quick-replies/" + s["id"])  # a shared one reads
    assert r.status == 200 and r.json()["shared"] is True and r.json()["position"] == 3, r
    # other apps' users do not see them
    assert listed(other, "alice") == []
    # read-only for users: 403
    error_of(app.call("eve", "PATCH", "/quick-replies/" + s["id"], {"content": "x"}), 403,
             code="forbidden")
    error_of(app.call("eve", "DELETE", "/quick-replies/" + s["id"]), 403)
    # an operator cannot reach a user's own through the shared endpoints
    error_of(operator_call(server, mgr, "DELETE", path + "/" + mine["id"]), 404)
    r = operator_call(server, mgr, "DELETE", path + "/" + later["id"])
    assert r.status == 204, r
    assert [x["id"] for x in listed(app, "eve")] == [mine["id"], s["id"]]
    error_of(operator_call(server, mgr, "DELETE", path + "/" + later["id"]), 404)


def test_operator_writes_are_audited(app, server, root):
    aid = app_id(server, root, "default")
    path = "/admin/apps/%s/quick-replies" % aid
    s = operator_call(server, root, "POST", path, {"content": "audited"}).json()
    operator_call(server, root, "PATCH", path + "/" + s["id"], {"title": "T"})
    operator_call(server, root, "DELETE", path + "/" + s["id"])
    log = operator_call(server, root, "GET", "/admin/audit-log?page_size=100").json()["results"]
    mine = [(e["action"], e["app_id"]) for e in log if e["target"] == s["id"]]
    assert sorted(mine) == [("quick_reply.create", aid), ("quick_reply.delete", aid),
                            ("quick_reply.update", aid)], mine


def test_operator_needs_quick_replies_manage_on_the_app(app, other, server, root):
    aid = app_id(server, root, "default")
    oid = app_id(server, root, "OtherQuick")
    path = "/admin/apps/%s/quick-replies" % aid
    reader = operator(server, root, "qr-reader", ["apps:read"])
    e = error_of(operator_call(server, reader, "GET", path), 403)
    assert e["field"] == "quick_replies:manage", e
    error_of(operator_call(server, reader, "POST", path, {"content": "x"}), 403)
    # the right on another app only: this app is walled off
    scoped = operator(server, root, "qr-other", ["quick_replies:manage"], [oid])
    error_of(operator_call(server, scoped, "GET", path), 404)
    error_of(operator_call(server, scoped, "POST", path, {"content": "x"}), 404)
    s = operator_call(server, root, "POST", path, {"content": "kept"}).json()
    error_of(operator_call(server, scoped, "PATCH", path + "/" + s["id"], {"content": "x"}), 404)
    # through its own app's path, another app's reply is not found
    opath = "/admin/apps/%s/quick-replies/%s" % (oid, s["id"])
    error_of(operator_call(server, scoped, "DELETE", opath), 404)
    # an app that does not exist
    error_of(operator_call(server, root, "GET", "/admin/apps/nosuchapp/quick-replies"), 404)
    error_of(operator_call(server, root, "POST", "/admin/apps/nosuchapp/quick-replies",
                           {"content": "x"}), 404)
    # an end-user token is no operator token
    r = app.call("alice", "GET", path)
    assert r.status == 401, r


def test_the_lists_page_like_every_list(server, root):
    """GET /quick-replies and the console's list page (SPEC §3): count is every reply, results
    one page of them, in the list's order; a bad page is a 422 naming it."""
    app = App(server, app_headers(server, "PagerQuick"))
    app.users("pager")
    ids = [add(app, "pager", {"content": "reply %d" % i, "position": i}).json()["id"]
           for i in range(25)]
    r = app.call("pager", "GET", "/quick-replies")
    assert r.status == 200, r
    first = r.json()
    assert (first["count"], first["page"], first["page_size"]) == (25, 1, 20), first
    assert [x["id"] for x in first["results"]] == ids[:20]
    second = app.call("pager", "GET", "/quick-replies?page=2&page_size=20").json()
    assert [x["id"] for x in second["results"]] == ids[20:], second
    assert app.call("pager", "GET", "/quick-replies?page=9").json()["results"] == []
    for bad in ("page=0", "page_size=x", "page=-1"):
        e = error_of(app.call("pager", "GET", "/quick-replies?" + bad), 422)
        assert e["field"] == bad.split("=")[0], e
    aid = app_id(server, root, "PagerQuick")
    path = "/admin/apps/%s/quick-replies" % aid
    shared = [operator_call(server, root, "POST", path, {"content": "s%d" % i, "position": i})
              .json()["id"] for i in range(3)]
    r = operator_call(server, root, "GET", path + "?page=2&page_size=2")
    assert r.status == 200, r
    body = r.json()
    assert (body["count"], body["page"], body["page_size"]) == (3, 2, 2), body
    assert [x["id"] for x in body["results"]] == shared[2:], body
    e = error_of(operator_call(server, root, "GET", path + "?page_size=0"), 422)
    assert e["field"] == "page_size", e
