"""
Notification configuration (issue 11, docs/notifications.md): /admin/message-types,
/admin/channel-message-types, /admin/templates (versions, diff, activate, preview),
/admin/subscriptions, /me/subscriptions, /me/preferences, /admin/users/{id}/preferences and
/admin/instances: app-scoped permissions (403 without the permission, 404 for another app's
object), validation errors naming the field, audit rows, and the node heartbeat.
"""
import json
import time

import pytest

from conftest import http_request, module_server, wait_until, ws_open
from test_conversations import App, app_headers, error_of
from test_edit_recall import operator, operator_call, root_token


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory)


@pytest.fixture(scope="module")
def root(server):
    return root_token(server, "boss-n")


@pytest.fixture(scope="module")
def app(server):
    a = App(server, app_headers(server))
    a.users("alice", "bob")
    return a


@pytest.fixture(scope="module")
def other(server):
    a = App(server, app_headers(server, "OtherNotify"))
    a.users("alice")
    return a


def app_id_of(server, root, name):
    apps = operator_call(server, root, "GET", "/admin/apps?page_size=100").json()["results"]
    return [x["id"] for x in apps if name in (x["name"], x.get("key"))][0]


@pytest.fixture(scope="module")
def aid(server, root, app):
    return app_id_of(server, root, "default")


@pytest.fixture(scope="module")
def oid(server, root, other):
    return app_id_of(server, root, "OtherNotify")


def audit_actions(server, root, action):
    r = operator_call(server, root, "GET", "/admin/audit-log?action=" + action + "&page_size=100")
    assert r.status == 200, r
    return r.json()["results"]


def channel(server, tok, app_id, name):
    """A real channel of the app (an e-mail channel nobody sends through here): its id."""
    body = {"app_id": app_id, "name": name, "kind": "email",
            "config": {"from": "N <n@herald.test>", "accounts": [{"host": "a.example"}]}}
    r = operator_call(server, tok, "POST", "/admin/channels", body)
    assert r.status == 201, r
    return r.json()["id"]


def new_type(server, tok, app_id, code, **kw):
    body = dict({"app_id": app_id, "code": code, "name": "N " + code}, **kw)
    return operator_call(server, tok, "POST", "/admin/message-types", body)


# ---------------------------------------------------------------- list filters

@pytest.mark.parametrize("path,query,field,message", [
    ("/admin/message-types", "enabled=maybe", "enabled", "must be true or false"),
    ("/admin/message-types", "code=a%20b", "code", "is not a valid value for this filter"),
    ("/admin/templates", "channel_kind=" + "k" * 60, "channel_kind", "is too long for this filter"),
    ("/admin/templates", "locale=%3Cx%3E", "locale", "is not a valid value for this filter"),
    ("/admin/channel-message-types", "type=a%20b", "type", "is not a valid value for this filter"),
    ("/admin/subscriptions", "enabled=1", "enabled", "must be true or false"),
    ("/admin/subscriptions", "user_id=" + "u" * 100, "user_id", "is too long for this filter"),
    ("/admin/subscriptions", "page_size=0", "page_size", None),
])
def test_console_lists_refuse_a_bad_filter_naming_it(server, root, path, query, field, message):
    e = error_of(operator_call(server, root, "GET", path + "?" + query), 422, field)
    if message is not None:
        assert e["message"] == message, e
    # and with the filter fine, the list answers
    r = operator_call(server, root, "GET", path + "?page_size=5")
    assert r.status == 200 and r.json()["page_size"] == 5, r


# ---------------------------------------------------------------- message types

def test_message_type_crud_paging_and_audit(server, root, aid):
    r = new_type(server, root, aid, "order.paid", channels=["inapp", "email"],
                 escalation=[{"channel": "inapp"}, {"channel": "email", "after_s": 60},
                             {"channel": "sms_aliyun", "after_s": 600}])
    assert r.status == 201, r
    t = r.json()
    assert t["id"].startswith("t") and t["app_id"] == aid and t["code"] == "order.paid", t
    assert t["channels"] == ["inapp", "email"] and t["enabled"] is True, t
    assert t["escalation"] == [{"channel": "inapp", "after_s": 0},
                               {"channel": "email", "after_s": 60},
                               {"channel": "sms_aliyun", "after_s": 600}], t
    assert t["created_at"] == t["updated_at"] > 0
    got = operator_call(server, root, "GET", "/admin/message-types/" + t["id"])
    assert got.status == 200 and got.json() == t, got
    # the code is unique per app
    error_of(new_type(server, root, aid, "order.paid"), 409, "code")
    # defaults: in-app only, no escalation
    r = new_type(server, root, aid, "chat:mention")
    assert r.status == 201 and r.json()["channels"] == ["inapp"], r
    assert r.json()["escalation"] is None
    # update some fields; null clears the escalation
    r = operator_call(server, root, "PATCH", "/admin/message-types/" + t["id"],
                      {"name": "Paid", "escalation": None, "enabled": False})
    assert r.status == 200, r
    u = r.json()
    assert (u["name"], u["escalation"], u["enabled"], u["code"]) == ("Paid", None, False,
                                                                    "order.paid"), u
    # list, filters, paging
    r = operator_call(server, root, "GET", "/admin/message-types?app_id=%s&page_size=1" % aid)
    assert r.status == 200, r
    page = r.json()
    assert page["count"] >= 2 and len(page["results"]) == 1 and page["page_size"] == 1, page
    assert page["page"] == 1
    r = operator_call(server, root, "GET", "/admin/message-types?code=order.paid")
    assert [x["id"] for x in r.json()["results"]] == [t["id"]], r
    r = operator_call(server, root, "GET", "/admin/message-types?app_id=%s&enabled=false" % aid)
    assert [x["id"] for x in r.json()["results"]] == [t["id"]], r
    # audited
    acts = audit_actions(server, root, "message_type.update")
    assert any(a["target"] == t["id"] and a["app_id"] == aid for a in acts), acts
    assert audit_actions(server, root, "message_type.create")
    # delete
    r = operator_call(server, root, "DELETE", "/admin/message-types/" + t["id"])
    assert r.status == 204, r
    error_of(operator_call(server, root, "GET", "/admin/message-types/" + t["id"]), 404)
    error_of(operator_call(server, root, "DELETE", "/admin/message-types/" + t["id"]), 404)
    assert any(a["target"] == t["id"] for a in audit_actions(server, root, "message_type.delete"))


def test_message_type_update_without_or_with_its_own_code(server, root, aid):
    """Audit F1: every PATCH/PUT answered 422 naming `code` (the update read a code the body
    did not have), so a type could not be disabled, renamed or re-channelled."""
    t = new_type(server, root, aid, "fresh.type").json()
    path = "/admin/message-types/" + t["id"]
    r = operator_call(server, root, "PATCH", path, {"enabled": False})
    assert r.status == 200 and r.json()["enabled"] is False, r
    r = operator_call(server, root, "PATCH", path, {"name": "Renamed",
                                                    "channels": ["inapp", "email"]})
    assert r.status == 200, r
    assert (r.json()["name"], r.json()["channels"]) == ("Renamed", ["inapp", "email"]), r
    r = operator_call(server, root, "PUT", path, {"enabled": True,
                                                  "escalation": [{"channel": "inapp"},
                                                                 {"channel": "email",
                                                                  "after_s": 30}]})
    assert r.status == 200 and r.json()["enabled"] is True, r
    assert r.json()["escalation"][1] == {"channel": "email", "after_s": 30}, r
    # the type's own code and app sent back (a form that sends the whole object) are accepted
    r = operator_call(server, root, "PATCH", path, {"code": "fresh.type", "app_id": aid,
                                                    "name": "Again"})
    assert r.status == 200 and r.json()["name"] == "Again", r
    # another code or app is refused naming it, and nothing changes
    e = error_of(operator_call(server, root, "PATCH", path, {"code": "other.type",
                                                             "name": "No"}), 422, "code")
    assert "cannot be changed" in e["message"], e
    got = operator_call(server, root, "GET", path).json()
    assert (got["code"], got["name"], got["enabled"]) == ("fresh.type", "Again", True), got


def test_unknown_channel_kinds_are_refused_naming_the_field(server, root, app, aid):
    """Audit F4: a channel kind that is not one of SPEC §2 ("pigeon") was stored by the
    subscriptions, a type's channels and a template, and a type of only unknown kinds then went
    out in-app. Each is a 422 naming the field, and nothing changes."""
    t = new_type(server, root, aid, "kind.check").json()
    error_of(new_type(server, root, aid, "kind.pigeon", channels=["inapp", "pigeon"]), 422,
             "channels[1]")
    error_of(new_type(server, root, aid, "kind.pigeon",
                      escalation=[{"channel": "inapp"}, {"channel": "pigeon", "after_s": 5}]),
             422, "escalation[1].channel")
    assert operator_call(server, root, "GET",
                         "/admin/message-types?code=kind.pigeon").json()["count"] == 0
    error_of(operator_call(server, root, "PATCH", "/admin/message-types/" + t["id"],
                           {"channels": ["pigeon"]}), 422, "channels[0]")
    assert operator_call(server, root, "GET",
                         "/admin/message-types/" + t["id"]).json()["channels"] == ["inapp"]
    error_of(app.call("alice", "PUT", "/me/subscriptions",
                      {"subscriptions": [{"type": "kind.check", "channel": "pigeon",
                                          "enabled": False}]}), 422, "subscriptions[0].channel")
    mine = {(s["type"], s["channel"]) for s in
            app.call("alice", "GET", "/me/subscriptions").json()["results"]}
    assert ("kind.check", "pigeon") not in mine, mine
    error_of(operator_call(server, root, "PUT", "/admin/subscriptions",
                           {"app_id": aid, "user_id": "alice", "type": "kind.check",
                            "channel": "pigeon", "enabled": False}), 422, "channel")
    error_of(operator_call(server, root, "POST", "/admin/templates",
                           {"app_id": aid, "code": "kind.check", "channel_kind": "pigeon",
                            "subject": "s", "body": "b"}), 422, "channel_kind")
    assert operator_call(server, root, "GET",
                         "/admin/templates?code=kind.check").json()["count"] == 0
    error_of(operator_call(server, root, "POST", "/admin/templates/preview",
                           {"channel_kind": "pigeon", "body": "b"}), 422, "channel_kind")
    # the lists' filters take the same kinds
    error_of(operator_call(server, root, "GET", "/admin/templates?channel_kind=pigeon"), 422,
             "channel_kind")
    error_of(operator_call(server, root, "GET", "/admin/subscriptions?channel=pigeon"), 422,
             "channel")
    # every kind of SPEC §2 is taken
    kinds = ["inapp", "email", "webhook", "dingtalk", "wecom", "feishu", "slack", "sms_aliyun",
             "wechat_mp"]
    r = operator_call(server, root, "PATCH", "/admin/message-types/" + t["id"],
                      {"channels": kinds})
    assert r.status == 200 and r.json()["channels"] == kinds, r


@pytest.mark.parametrize("body,field", [
    ({"code": "Upper"}, "code"),
    ({"code": "a" * 65}, "code"),
    ({"code": "has space"}, "code"),
    ({"name": ""}, "name"),
    ({"channels": ["email", "email"]}, "channels[1]"),
    ({"channels": ["Email"]}, "channels[0]"),
    ({"channels": "email"}, "channels"),
    ({"escalation": {"channel": "email"}}, "escalation"),
    ({"escalation": []}, "escalation"),
    ({"escalation": [{"channel": "inapp"}, {"channel": "email"}]}, "escalation[1].after_s"),
    ({"escalation": [{"channel": "inapp"}, {"channel": "email", "after_s": -1}]},
     "escalation[1].after_s"),
    ({"escalation": [{"channel": "inapp", "after_s": 5}]}, "escalation[0].after_s"),
    ({"escalation": [{"channel": "inapp"}, {"channel": "email", "after_s": 60},
                     {"channel": "sms_aliyun", "after_s": 60}]}, "escalation[2].after_s"),
    ({"escalation": [{"channel": "in app"}]}, "escalation[0].channel"),
    ({"escalation": [{"channel": "inapp", "wait": 1}]}, "escalation[0].wait"),
    ({"colour": "red"}, "colour"),
])
def test_message_type_validation_names_the_field(server, root, aid, body, field):
    full = dict({"app_id": aid, "code": "valid.code", "name": "V"}, **body)
    error_of(operator_call(server, root, "POST", "/admin/message-types", full), 422, field,
             "validation_failed")
    r = operator_call(server, root, "GET", "/admin/message-types?code=valid.code")
    assert r.json()["count"] == 0, r


def test_unknown_app_is_404_naming_app_id(server, root):
    error_of(new_type(server, root, "nosuchapp", "x"), 404, "app_id")


def test_permissions_403_and_other_apps_objects_404(server, root, aid, oid):
    theirs = new_type(server, root, oid, "their.type").json()
    mine = new_type(server, root, aid, "my.type").json()
    writer = operator(server, root, "nt-writer", ["templates:write", "notifications:read"], [aid])
    reader = operator(server, root, "nt-reader", ["notifications:read"], [aid])
    nobody = operator(server, root, "nt-nobody", ["users:read"])
    # no notification permission at all: 403 naming it
    e = error_of(operator_call(server, nobody, "GET", "/admin/message-types"), 403)
    assert e["field"] == "notifications:read", e
    error_of(new_type(server, nobody, aid, "x.y"), 403)
    # a reader cannot write
    error_of(new_type(server, reader, aid, "x.y"), 403)
    error_of(operator_call(server, reader, "DELETE", "/admin/message-types/" + mine["id"]), 403)
    # the other app's objects do not exist for them
    for tok in (writer, reader):
        error_of(operator_call(server, tok, "GET", "/admin/message-types/" + theirs["id"]), 404)
        r = operator_call(server, tok, "GET", "/admin/message-types?page_size=100")
        ids = [x["id"] for x in r.json()["results"]]
        assert mine["id"] in ids and theirs["id"] not in ids, ids
        error_of(operator_call(server, tok, "GET", "/admin/message-types?app_id=" + oid), 404)
    error_of(operator_call(server, writer, "PATCH", "/admin/message-types/" + theirs["id"],
                           {"name": "mine now"}), 404)
    error_of(operator_call(server, writer, "DELETE", "/admin/message-types/" + theirs["id"]), 404)
    error_of(new_type(server, writer, oid, "sneaky"), 404, "app_id")
    assert operator_call(server, root, "GET",
                         "/admin/message-types/" + theirs["id"]).json()["name"] == "N their.type"
    r = operator_call(server, writer, "PATCH", "/admin/message-types/" + mine["id"],
                      {"description": "ok"})
    assert r.status == 200 and r.json()["description"] == "ok", r
    # app_id cannot move a type
    error_of(operator_call(server, writer, "PATCH", "/admin/message-types/" + mine["id"],
                           {"app_id": oid}), 422, "app_id")
    # nor can the code change (subscriptions and notifications refer to it)
    error_of(operator_call(server, writer, "PATCH", "/admin/message-types/" + mine["id"],
                           {"code": "renamed"}), 422, "code")


# ---------------------------------------------------------------- channel <-> type pairs

def test_channel_message_types(server, root, aid, oid):
    t = new_type(server, root, aid, "pair.type", channels=["inapp", "email"]).json()
    theirs = new_type(server, root, oid, "pair.type").json()
    path = "/admin/channel-message-types"
    r = operator_call(server, root, "POST", path, {"app_id": aid, "type_id": t["id"],
                                                   "channel": "inapp",
                                                   "template_code": "pair.inapp"})
    assert r.status == 201, r
    x = r.json()
    assert (x["type_id"], x["type_code"], x["channel"], x["template_code"], x["enabled"]) == (
        t["id"], "pair.type", "inapp", "pair.inapp", True), x
    # one pair per type and channel
    error_of(operator_call(server, root, "POST", path, {"app_id": aid, "type_id": t["id"],
                                                       "channel": "inapp"}), 409, "channel")
    # another app's type is not this app's
    error_of(operator_call(server, root, "POST", path, {"app_id": aid, "type_id": theirs["id"],
                                                       "channel": "inapp"}), 422, "type_id")
    error_of(operator_call(server, root, "POST", path, {"app_id": aid, "type_id": t["id"],
                                                       "channel": "bad channel"}), 422, "channel")
    error_of(operator_call(server, root, "POST", path, {"app_id": aid, "type_id": t["id"],
                                                       "channel": "c1", "template_code": "A"}),
             422, "template_code")
    # a channel id must be one of the app's channels
    error_of(operator_call(server, root, "POST", path, {"app_id": aid, "type_id": t["id"],
                                                       "channel": "c0ffee"}), 422, "channel")
    their_channel = channel(server, root, oid, "pair-theirs")
    error_of(operator_call(server, root, "POST", path, {"app_id": aid, "type_id": t["id"],
                                                       "channel": their_channel}), 422, "channel")
    mail = channel(server, root, aid, "pair-mail")
    r = operator_call(server, root, "POST", path, {"app_id": aid, "type_id": t["id"],
                                                   "channel": mail, "enabled": False})
    assert r.status == 201 and r.json()["template_code"] is None, r
    y = r.json()
    r = operator_call(server, root, "GET", path + "?type=pair.type&app_id=" + aid)
    assert [p["channel"] for p in r.json()["results"]] == sorted([mail, "inapp"]), r
    r = operator_call(server, root, "PATCH", path + "/" + y["id"],
                      {"template_code": "pair.mail", "enabled": True})
    assert r.status == 200 and r.json()["template_code"] == "pair.mail", r
    assert r.json()["enabled"] is True
    error_of(operator_call(server, root, "PATCH", path + "/" + y["id"], {"channel": "inapp"}),
             422, "channel")
    r = operator_call(server, root, "PATCH", path + "/" + y["id"], {"template_code": None})
    assert r.json()["template_code"] is None, r
    reader = operator(server, root, "cmt-reader", ["notifications:read"], [oid])
    error_of(operator_call(server, reader, "GET", path + "/" + x["id"]), 404)
    assert operator_call(server, reader, "GET", path).json()["count"] == 0
    assert any(a["target"] == y["id"]
               for a in audit_actions(server, root, "channel_message_type.update"))
    # deleting the type deletes its pairs
    assert operator_call(server, root, "DELETE", "/admin/message-types/" + t["id"]).status == 204
    error_of(operator_call(server, root, "GET", path + "/" + x["id"]), 404)


# ---------------------------------------------------------------- subscriptions

def test_me_subscriptions_default_to_subscribed_and_opt_out(server, root, app, aid):
    new_type(server, root, aid, "news", channels=["inapp", "email"])
    new_type(server, root, aid, "off.type", channels=["inapp"], enabled=False)
    r = app.call("alice", "GET", "/me/subscriptions")
    assert r.status == 200, r
    states = {(s["type"], s["channel"]): s for s in r.json()["results"]}
    assert states[("news", "email")]["enabled"] is True
    assert states[("news", "email")]["explicit"] is False
    assert ("off.type", "inapp") not in states
    r = app.call("alice", "PUT", "/me/subscriptions",
                 {"subscriptions": [{"type": "news", "channel": "email", "enabled": False},
                                    {"type": "news", "channel": "sms_aliyun",
                                     "enabled": True}]})
    assert r.status == 200, r
    states = {(s["type"], s["channel"]): s for s in r.json()["results"]}
    assert states[("news", "email")]["enabled"] is False
    assert states[("news", "email")]["explicit"] is True
    assert states[("news", "inapp")]["enabled"] is True
    assert states[("news", "sms_aliyun")]["enabled"] is True
    again = app.call("alice", "GET", "/me/subscriptions").json()
    assert again == r.json()
    # bob is unaffected
    bob = {(s["type"], s["channel"]): s for s in app.call("bob", "GET",
                                                          "/me/subscriptions").json()["results"]}
    assert bob[("news", "email")]["enabled"] is True
    # validation: the field, and nothing changes
    error_of(app.call("alice", "PUT", "/me/subscriptions",
                      {"subscriptions": [{"type": "news", "channel": "email", "enabled": True},
                                         {"type": "nosuch", "channel": "email",
                                          "enabled": True}]}), 422, "subscriptions[1].type")
    error_of(app.call("alice", "PUT", "/me/subscriptions",
                      {"subscriptions": [{"type": "news", "channel": "E", "enabled": True}]}),
             422, "subscriptions[0].channel")
    error_of(app.call("alice", "PUT", "/me/subscriptions",
                      {"subscriptions": [{"type": "news", "channel": "email"}]}), 422,
             "subscriptions[0].enabled")
    error_of(app.call("alice", "PUT", "/me/subscriptions", {"subscriptions": []}), 422,
             "subscriptions")
    # the same type and channel twice: which one would hold? a 422 naming the repeat
    error_of(app.call("alice", "PUT", "/me/subscriptions",
                      {"subscriptions": [{"type": "news", "channel": "email", "enabled": True},
                                         {"type": "news", "channel": "inapp", "enabled": True},
                                         {"type": "news", "channel": "email",
                                          "enabled": False}]}), 422, "subscriptions[2]")
    assert app.call("alice", "GET", "/me/subscriptions").json() == r.json()
    # a paged list: count is the whole, results the page
    whole = r.json()
    assert (whole["page"], whole["page_size"]) == (1, 20) and whole["count"] == len(
        whole["results"]), whole
    p2 = app.call("alice", "GET", "/me/subscriptions?page=2&page_size=2").json()
    assert (p2["count"], p2["page"], p2["page_size"]) == (whole["count"], 2, 2), p2
    assert p2["results"] == whole["results"][2:4], p2
    error_of(app.call("alice", "GET", "/me/subscriptions?page=0"), 422, "page")
    # the operators see alice's explicit rows
    rows = operator_call(server, root, "GET",
                         "/admin/subscriptions?app_id=%s&user_id=alice" % aid).json()
    assert {(x["type_code"], x["channel"], x["enabled"]) for x in rows["results"]} == {
        ("news", "email", False), ("news", "sms_aliyun", True)}, rows
    # no token: 401
    assert http_request(server.port, "GET", "/api/v1/me/subscriptions").status == 401


def test_admin_subscriptions_set_list_delete(server, root, app, other, aid, oid):
    new_type(server, root, aid, "promo", channels=["email"])
    body = {"app_id": aid, "user_id": "bob", "type": "promo", "channel": "email",
            "enabled": False}
    r = operator_call(server, root, "PUT", "/admin/subscriptions", body)
    assert r.status == 200, r
    assert r.json()["enabled"] is False and r.json()["type_code"] == "promo", r
    states = {(s["type"], s["channel"]): s["enabled"]
              for s in app.call("bob", "GET", "/me/subscriptions").json()["results"]}
    assert states[("promo", "email")] is False
    acts = audit_actions(server, root, "subscription.set")
    assert any(a["target"] == "bob" and a["app_id"] == aid for a in acts), acts
    error_of(operator_call(server, root, "PUT", "/admin/subscriptions",
                           dict(body, type="nosuch")), 422, "type")
    error_of(operator_call(server, root, "PUT", "/admin/subscriptions",
                           dict(body, channel="Bad")), 422, "channel")
    error_of(operator_call(server, root, "PUT", "/admin/subscriptions",
                           dict(body, user_id="no spaces")), 422, "user_id")
    error_of(operator_call(server, root, "PUT", "/admin/subscriptions",
                           dict(body, user_id="nobody-here")), 404, "user_id")
    # permissions: reading needs notifications:read, writing notifications:write, on the app
    reader = operator(server, root, "sub-reader", ["notifications:read"], [aid])
    error_of(operator_call(server, reader, "PUT", "/admin/subscriptions", body), 403)
    writer = operator(server, root, "sub-writer", ["notifications:write"], [oid])
    error_of(operator_call(server, writer, "PUT", "/admin/subscriptions", body), 404, "app_id")
    # a filter is never dropped: too long or malformed is a 422 naming it
    error_of(operator_call(server, reader, "GET", "/admin/subscriptions?user_id=" + "u" * 300),
             422, "user_id")
    error_of(operator_call(server, reader, "GET", "/admin/subscriptions?type=Bad"), 422, "type")
    error_of(operator_call(server, reader, "GET", "/admin/message-types?app_id=" + "a" * 200),
             422, "app_id")
    r = operator_call(server, reader, "GET", "/admin/subscriptions?type=promo")
    assert r.status == 200 and r.json()["count"] == 1, r
    q = "/admin/subscriptions?app_id=%s&user_id=bob&type=promo&channel=email" % aid
    error_of(operator_call(server, root, "DELETE",
                           "/admin/subscriptions?app_id=%s&user_id=bob&type=promo" % aid), 422,
             "channel")
    assert operator_call(server, root, "DELETE", q).status == 204
    error_of(operator_call(server, root, "DELETE", q), 404)
    states = {(s["type"], s["channel"]): s for s in
              app.call("bob", "GET", "/me/subscriptions").json()["results"]}
    assert states[("promo", "email")]["enabled"] is True
    assert states[("promo", "email")]["explicit"] is False


# ---------------------------------------------------------------- quiet hours

def test_me_preferences_quiet_hours(server, root, app, aid):
    r = app.call("alice", "GET", "/me/preferences")
    assert r.status == 200 and r.json()["quiet_hours"] is None, r
    q = {"start": "22:00", "end": "08:00", "time_zone": "Asia/Shanghai"}
    r = app.call("alice", "PUT", "/me/preferences", {"quiet_hours": q})
    assert r.status == 200 and r.json()["quiet_hours"] == q, r
    assert app.call("alice", "GET", "/me/preferences").json()["quiet_hours"] == q
    for bad, field in [({"start": "24:00"}, "quiet_hours.start"),
                       ({"start": "7:00"}, "quiet_hours.start"),
                       ({"end": "08:60"}, "quiet_hours.end"),
                       ({"end": "22:00"}, "quiet_hours.end"),
                       ({"time_zone": "Mars/Olympus"}, "quiet_hours.time_zone"),
                       ({"time_zone": "../../etc/passwd"}, "quiet_hours.time_zone"),
                       ({"colour": 1}, "quiet_hours.colour")]:
        error_of(app.call("alice", "PUT", "/me/preferences", {"quiet_hours": dict(q, **bad)}),
                 422, field)
    for tz in ("UTC", "+08:00", "Europe/Paris"):
        r = app.call("bob", "PUT", "/me/preferences", {"quiet_hours": dict(q, time_zone=tz)})
        assert r.status == 200 and r.json()["quiet_hours"]["time_zone"] == tz, r
    error_of(app.call("alice", "PUT", "/me/preferences", {"quiet_hours": "night"}), 422,
             "quiet_hours")
    error_of(app.call("alice", "PUT", "/me/preferences", {}), 422, "quiet_hours")
    assert app.call("alice", "GET", "/me/preferences").json()["quiet_hours"] == q
    # operators read and change it
    path = "/admin/users/alice/preferences?app_id=" + aid
    r = operator_call(server, root, "GET", path)
    assert r.status == 200 and r.json()["quiet_hours"] == q, r
    r = operator_call(server, root, "PUT", path, {"quiet_hours": None})
    assert r.status == 200 and r.json()["quiet_hours"] is None, r
    assert app.call("alice", "GET", "/me/preferences").json()["quiet_hours"] is None
    assert any(a["target"] == "alice" for a in audit_actions(server, root, "user_prefs.update"))
    error_of(operator_call(server, root, "GET", "/admin/users/alice/preferences"), 422, "app_id")
    # a user the app doesn't have: 404, and nothing is stored for it
    ghost = "/admin/users/ghost99/preferences?app_id=" + aid
    error_of(operator_call(server, root, "PUT", ghost, {"quiet_hours": q}), 404)
    error_of(operator_call(server, root, "GET", ghost), 404)


# ---------------------------------------------------------------- instances

def test_instances_list_this_node_with_heartbeat_and_connections(server, root, app):
    r = operator_call(server, root, "GET", "/admin/instances")
    assert r.status == 200, r
    nodes = r.json()["results"]
    alive = [n for n in nodes if n["alive"]]
    assert len(alive) == 1, nodes
    n = alive[0]
    assert n["stopped_at"] is None and n["version"] and n["pid"] > 0, n
    assert n["address"] == "127.0.0.1:%d" % server.port and len(n["id"]) == 16, n
    assert time.time() * 1000 - n["heartbeat_at"] < 15000, n
    sock = ws_open(server.port, "/ws?token=" + app.token("bob"))
    try:
        def counted():
            cur = operator_call(server, root, "GET", "/admin/instances").json()["results"]
            me = [x for x in cur if x["id"] == n["id"]][0]
            return me["websockets"] >= 1 and me["connections"] >= me["websockets"] and \
                me["heartbeat_at"] > n["heartbeat_at"]
        wait_until(counted, timeout=12, interval=0.5, what="a heartbeat counting the socket")
    finally:
        sock.close()
    nobody = operator(server, root, "inst-nobody", ["users:read"])
    error_of(operator_call(server, nobody, "GET", "/admin/instances"), 403)
    for perm in ("stats:read", "notifications:read"):
        tok = operator(server, root, "inst-" + perm.split(":")[0], [perm])
        r = operator_call(server, tok, "GET", "/admin/instances")
        assert r.status == 200 and r.json()["count"] == 1, r


def test_a_stopped_server_is_marked_stopped(server_factory):
    s = server_factory()
    tok = root_token(s, "boss-i")
    first = operator_call(s, tok, "GET", "/admin/instances").json()["results"]
    assert len(first) == 1 and first[0]["alive"], first
    s.stop()
    s.start()
    tok = root_token(s, "boss-i2")
    nodes = operator_call(s, tok, "GET", "/admin/instances").json()["results"]
    assert len(nodes) == 2, nodes
    old = [x for x in nodes if x["id"] == first[0]["id"]][0]
    assert old["alive"] is False and old["stopped_at"] is not None, old
    assert nodes[0]["alive"] is True and nodes[0]["id"] != old["id"], nodes


# ---------------------------------------------------------------- templates

def new_template(server, tok, app_id, code, **kw):
    body = dict({"app_id": app_id, "code": code, "channel_kind": "email",
                 "subject": "Order {{id}}", "body": "Hello {{name}}\nTotal: {{total}}\n"}, **kw)
    return operator_call(server, tok, "POST", "/admin/templates", body)


def test_template_versions_activate_and_diff(server, root, aid):
    r = new_template(server, root, aid, "order.paid", html="<p>Hi {{name}}</p>")
    assert r.status == 201, r
    t = r.json()
    assert t["id"].startswith("m") and (t["active_version"], t["latest_version"]) == (1, 1), t
    assert (t["code"], t["channel_kind"], t["locale"]) == ("order.paid", "email", ""), t
    assert (t["subject"], t["body"], t["html"]) == ("Order {{id}}",
                                                    "Hello {{name}}\nTotal: {{total}}\n",
                                                    "<p>Hi {{name}}</p>"), t
    # the same key again is a conflict; another locale is another variant
    error_of(new_template(server, root, aid, "order.paid"), 409, "code")
    zh = new_template(server, root, aid, "order.paid", locale="zh-CN", body="你好 {{name}}")
    assert zh.status == 201 and zh.json()["locale"] == "zh-CN", zh
    path = "/admin/templates/" + t["id"]
    # a save is a new version, active by default; what is not given is kept
    r = operator_call(server, root, "PATCH", path, {"body": "Hello {{name}}!\nTotal: {{total}}\n"})
    assert r.status == 200, r
    v2 = r.json()
    assert (v2["active_version"], v2["latest_version"]) == (2, 2), v2
    assert v2["subject"] == "Order {{id}}" and v2["html"] == "<p>Hi {{name}}</p>", v2
    # activate:false keeps the active one
    r = operator_call(server, root, "PUT", path, {"subject": "Paid: {{id}}", "html": None,
                                                  "activate": False})
    assert r.status == 200, r
    v3 = r.json()
    assert (v3["active_version"], v3["latest_version"]) == (2, 3), v3
    assert v3["subject"] == "Order {{id}}", v3  # the active version's texts
    r = operator_call(server, root, "GET", path + "/versions/3")
    assert r.status == 200, r
    assert (r.json()["subject"], r.json()["html"], r.json()["version"]) == ("Paid: {{id}}", None,
                                                                          3), r
    assert r.json()["body"] == "Hello {{name}}!\nTotal: {{total}}\n"
    error_of(operator_call(server, root, "GET", path + "/versions/4"), 404)
    error_of(operator_call(server, root, "GET", path + "/versions/x"), 404)
    # versions: newest first, paged
    r = operator_call(server, root, "GET", path + "/versions?page_size=2")
    assert r.status == 200, r
    page = r.json()
    assert page["count"] == 3 and [v["version"] for v in page["results"]] == [3, 2], page
    r = operator_call(server, root, "GET", path + "/versions?page_size=2&page=2")
    assert [v["version"] for v in r.json()["results"]] == [1], r
    # activate any version
    r = operator_call(server, root, "POST", path + "/activate", {"version": 1})
    assert r.status == 200 and r.json()["active_version"] == 1, r
    assert r.json()["body"] == "Hello {{name}}\nTotal: {{total}}\n"
    error_of(operator_call(server, root, "POST", path + "/activate", {"version": 9}), 404)
    error_of(operator_call(server, root, "POST", path + "/activate", {"version": 0}), 422,
             "version")
    assert operator_call(server, root, "GET", path).json()["active_version"] == 1
    # diff
    r = operator_call(server, root, "GET", path + "/diff?from=1&to=3")
    assert r.status == 200, r
    d = r.json()
    assert (d["from"], d["to"]) == (1, 3)
    assert d["body"]["lines"] == [{"op": "-", "text": "Hello {{name}}"},
                                  {"op": "+", "text": "Hello {{name}}!"},
                                  {"op": " ", "text": "Total: {{total}}"}], d
    assert d["body"]["unified"] == ("--- v1/body\n+++ v3/body\n@@ -1,2 +1,2 @@\n"
                                    "-Hello {{name}}\n+Hello {{name}}!\n Total: {{total}}\n"), d
    assert d["subject"]["changed"] is True and d["html"]["changed"] is True
    assert d["html"]["lines"] == [{"op": "-", "text": "<p>Hi {{name}}</p>"}], d
    r = operator_call(server, root, "GET", path + "/diff?from=2&to=2")
    assert r.json()["body"]["changed"] is False and r.json()["body"]["unified"] == ""
    error_of(operator_call(server, root, "GET", path + "/diff?from=1&to=7"), 404, "to")
    error_of(operator_call(server, root, "GET", path + "/diff?from=one&to=2"), 422, "from")
    error_of(operator_call(server, root, "GET", path + "/diff?to=2"), 422, "from")
    # list and filters
    r = operator_call(server, root, "GET", "/admin/templates?code=order.paid&app_id=" + aid)
    assert {x["locale"] for x in r.json()["results"]} == {"", "zh-CN"}, r
    r = operator_call(server, root, "GET", "/admin/templates?code=order.paid&locale=zh-CN")
    assert [x["id"] for x in r.json()["results"]] == [zh.json()["id"]], r
    # audited, without the texts
    acts = audit_actions(server, root, "template.save")
    assert any(a["target"] == t["id"] for a in acts), acts
    assert all("Hello" not in json.dumps(a["detail"]) for a in acts)
    assert any(a["target"] == t["id"] for a in audit_actions(server, root, "template.activate"))
    # delete
    assert operator_call(server, root, "DELETE", path).status == 204
    error_of(operator_call(server, root, "GET", path + "/versions"), 404)


def test_template_syntax_errors_name_the_field_and_position(server, root, aid):
    r = new_template(server, root, aid, "bad.one", body="Hi\n{{#items}}x")
    e = error_of(r, 400, "body", "invalid_template")
    assert e["position"]["line"] == 2 and e["position"]["column"] >= 1, e
    assert "line 2" in e["message"], e
    error_of(new_template(server, root, aid, "bad.one", subject="{{name"), 400, "subject")
    error_of(new_template(server, root, aid, "bad.one", html="<b>{{/x}}</b>"), 400, "html")
    r = operator_call(server, root, "GET", "/admin/templates?code=bad.one")
    assert r.json()["count"] == 0, r
    t = new_template(server, root, aid, "good.one").json()
    error_of(operator_call(server, root, "PATCH", "/admin/templates/" + t["id"],
                           {"body": "{{{raw}}"}), 400, "body")
    assert operator_call(server, root, "GET",
                         "/admin/templates/" + t["id"]).json()["latest_version"] == 1
    # sizes and shapes
    for body, field, status in [
            ({"subject": "s" * 1001}, "subject", 422),
            ({"body": "b" * 65537}, "body", 422),
            ({"html": 5}, "html", 422),
            ({"locale": "zh_CN"}, "locale", 422),
            ({"locale": "toolonglanguage"}, "locale", 422),
            ({"channel_kind": "E-mail"}, "channel_kind", 422),
            ({"code": "Bad Code"}, "code", 422)]:
        body = dict({"code": "shape.check"}, **body)
        error_of(new_template(server, root, aid, body.pop("code"), **body), status, field)
    error_of(operator_call(server, root, "PATCH", "/admin/templates/" + t["id"], {}), 422, "body")
    error_of(operator_call(server, root, "PATCH", "/admin/templates/" + t["id"],
                           {"locale": "en"}), 422, "locale")
    assert new_template(server, root, aid, "big.one", body="b" * 65536).status == 201


def test_template_preview(server, root, aid, oid):
    r = operator_call(server, root, "POST", "/admin/templates/preview", {
        "subject": "Order {{id}} <{{name}}>", "body": "Hi {{name}}, {{#items}}[{{.}}]{{/items}}",
        "html": "<p>{{name}}</p>{{{raw}}}",
        "params": {"id": 7, "name": "<Ann & {{x}}>", "items": ["a", "b"], "raw": "<i>ok</i>"}})
    assert r.status == 200, r
    p = r.json()
    assert p["subject"] == "Order 7 <<Ann & {{x}}>>", p  # no escaping outside html
    assert p["body"] == "Hi <Ann & {{x}}>, [a][b]", p
    assert p["html"] == "<p>&lt;Ann &amp; {{x}}&gt;</p><i>ok</i>", p
    # a saved template: the active version, or a named one
    t = new_template(server, root, aid, "preview.me", body="v1 {{n}}").json()
    operator_call(server, root, "PATCH", "/admin/templates/" + t["id"],
                  {"body": "v2 {{n}}", "activate": False})
    r = operator_call(server, root, "POST", "/admin/templates/preview",
                      {"template_id": t["id"], "params": {"n": 1, "id": "X"}})
    assert r.status == 200 and r.json()["body"] == "v1 1" and r.json()["subject"] == "Order X", r
    assert r.json()["html"] is None
    r = operator_call(server, root, "POST", "/admin/templates/preview",
                      {"template_id": t["id"], "version": 2, "params": {"n": 2}})
    assert r.status == 200 and r.json()["body"] == "v2 2", r
    # the same under the template's own path
    r = operator_call(server, root, "POST", "/admin/templates/%s/preview" % t["id"],
                      {"version": 2, "params": {"n": 3}})
    assert r.status == 200 and r.json()["body"] == "v2 3", r
    r = operator_call(server, root, "POST", "/admin/templates/%s/preview" % t["id"], {})
    assert r.status == 200 and r.json()["body"] == "v1 ", r
    error_of(operator_call(server, root, "POST", "/admin/templates/%s/preview" % t["id"],
                           {"body": "x"}), 422, "template_id")
    error_of(operator_call(server, root, "POST", "/admin/templates/nope/preview", {}), 404,
             "template_id")
    error_of(operator_call(server, root, "POST", "/admin/templates/preview",
                           {"template_id": t["id"], "version": 5}), 404, "version")
    error_of(operator_call(server, root, "POST", "/admin/templates/preview",
                           {"template_id": t["id"], "body": "x"}), 422, "template_id")
    error_of(operator_call(server, root, "POST", "/admin/templates/preview",
                           {"body": "{{#a}}"}), 400, "body")
    error_of(operator_call(server, root, "POST", "/admin/templates/preview",
                           {"body": "x", "params": [1]}), 422, "params")
    error_of(operator_call(server, root, "POST", "/admin/templates/preview", {}), 422, "body")
    # another app's template is not found for an operator of this app only
    theirs = new_template(server, root, oid, "their.tpl").json()
    viewer = operator(server, root, "tpl-viewer", ["notifications:read"], [aid])
    error_of(operator_call(server, viewer, "POST", "/admin/templates/preview",
                           {"template_id": theirs["id"]}), 404, "template_id")
    error_of(operator_call(server, viewer, "GET", "/admin/templates/" + theirs["id"]), 404)
    error_of(operator_call(server, viewer, "GET",
                           "/admin/templates/%s/diff?from=1&to=1" % theirs["id"]), 404)
    error_of(operator_call(server, viewer, "PATCH", "/admin/templates/" + t["id"],
                           {"body": "x"}), 403)
    r = operator_call(server, viewer, "POST", "/admin/templates/preview",
                      {"template_id": t["id"], "params": {"n": 3}})
    assert r.status == 200 and r.json()["body"] == "v1 3", r


# ---------------------------------------------------------------- limits

def test_count_limits(server, root, app, aid):
    # 64 channel pairs per type
    path = "/admin/channel-message-types"
    app_headers(server, "ManyChannels")
    many = app_id_of(server, root, "ManyChannels")
    t = new_type(server, root, many, "many.pairs").json()
    ids = [channel(server, root, many, "ch%d" % i) for i in range(65)]
    for i in range(64):
        r = operator_call(server, root, "POST", path, {"app_id": many, "type_id": t["id"],
                                                       "channel": ids[i]})
        assert r.status == 201, r
    e = error_of(operator_call(server, root, "POST", path, {"app_id": many, "type_id": t["id"],
                                                           "channel": ids[64]}), 409,
                 code="conflict")
    assert "64" in e["message"], e
    # 1000 explicit subscription choices per user (type x channel kind: 112 types x 9 kinds);
    # changing an existing one still works
    kinds = ["inapp", "email", "webhook", "dingtalk", "wecom", "feishu", "slack", "sms_aliyun",
             "wechat_mp"]
    for t in range(112):
        assert new_type(server, root, aid, "many.subs.%d" % t).status == 201
    pairs = [("many.subs.%d" % t, k) for t in range(112) for k in kinds]
    app.users("chooser")
    for k in range(10):
        subs = [{"type": t, "channel": ch, "enabled": False} for t, ch in pairs[k * 100:][:100]]
        r = app.call("chooser", "PUT", "/me/subscriptions", {"subscriptions": subs})
        assert r.status == 200, r
    first, one_more, another = pairs[0], pairs[1000], pairs[1001]
    e = error_of(app.call("chooser", "PUT", "/me/subscriptions", {"subscriptions": [
        {"type": first[0], "channel": first[1], "enabled": True},
        {"type": one_more[0], "channel": one_more[1], "enabled": False}]}), 409, code="conflict")
    assert "1000" in e["message"], e
    states = {(s["type"], s["channel"]): s for s in
              app.call("chooser", "GET", "/me/subscriptions").json()["results"]}
    assert states[first]["enabled"] is False  # nothing of the PUT was kept
    assert one_more not in states or not states[one_more]["explicit"]
    r = app.call("chooser", "PUT", "/me/subscriptions",
                 {"subscriptions": [{"type": first[0], "channel": first[1], "enabled": True}]})
    assert r.status == 200, r
    error_of(operator_call(server, root, "PUT", "/admin/subscriptions",
                           {"app_id": aid, "user_id": "chooser", "type": another[0],
                            "channel": another[1], "enabled": True}), 409)


def test_an_app_has_at_most_1000_message_types(server, root):
    app_headers(server, "Crowded")
    crowded = app_id_of(server, root, "Crowded")
    for i in range(1000):
        r = new_type(server, root, crowded, "t%d" % i)
        assert r.status == 201, r
    e = error_of(new_type(server, root, crowded, "t1000"), 409, code="conflict")
    assert "1000" in e["message"], e
    error_of(new_type(server, root, "nosuchapp", "x"), 404, "app_id")
