"""The apps' outgoing event webhooks (docs/notifications.md, "Event webhooks"): the console's
/admin/event-webhooks (validation, the secret sealed and masked, scope, audit), and the events
message.created, conversation.created and delivery.status_changed POSTed to a local receiver
that verifies the signature (X-Herald-Signature over the timestamp and body), retried with the
same X-Herald-Event-Id; an app without a webhook gets nothing; the SSRF guard holds. Runs on
SQLite and, under scripts/pg-test.sh, on PostgreSQL."""
import time

import pytest

from conftest import wait_until
from provider_standins import Standins
from test_conversations import App, app_headers, error_of
from test_notifications import (CPW, admin, app_id_of, notifications, operator, root, send,
                                status_of, ws)

__all__ = ["root"]

SECRET = "whsec-events-0123456789"
ENV = {"HERALD_ALLOW_PRIVATE_TARGETS": "1"}


@pytest.fixture
def standins():
    s = Standins(webhook_secret=SECRET)
    yield s
    s.close()


def console(s, name):
    from conftest import run_herald
    p = run_herald(["admin", "create", name, "--password-stdin"], env=s.cli_env(),
                   input=CPW + "\n")
    assert p.returncode == 0, p
    return admin(s, "POST", "/auth/login", {"username": name, "password": CPW}).json()[
        "access_token"]


def posts(standins, path, event=None):
    return [r for r in standins.recorded(path)
            if event is None or r.get("json", {}).get("type") == event]


def test_console_crud_validation_secret_and_scope(server, root):
    a, b = App(server, app_headers(server, "EvCrud")), App(server, app_headers(server, "EvOther"))
    aid, bid = app_id_of(server, root, a), app_id_of(server, root, b)
    base = {"app_id": aid, "url": "https://hooks.example.com/herald", "secret": SECRET,
            "events": ["message.created"]}
    for bad, field in (({"url": "ftp://x.example.com/"}, "url"),
                       ({"url": "https://user:pw@x.example.com/"}, "url"),
                       ({"secret": "short"}, "secret"),
                       ({"events": []}, "events"),
                       ({"events": ["message.deleted"]}, "events[0]"),
                       ({"events": ["message.created", "message.created"]}, "events[1]"),
                       ({"app_id": "nope"}, "app_id"),
                       ({"colour": "red"}, "colour")):
        error_of(admin(server, "POST", "/event-webhooks", dict(base, **bad), token=root),
                 404 if field == "app_id" else 422, field)
    r = admin(server, "POST", "/event-webhooks", base, token=root)
    assert r.status == 201, r
    w = r.json()
    assert w["secret"] == "****" + SECRET[-4:] and w["events"] == ["message.created"]
    assert w["enabled"] is True and w["app_id"] == aid and w["url"] == base["url"]
    wid = w["id"]
    # patch: the events; the secret stays unless given; app_id never changes
    r = admin(server, "PATCH", "/event-webhooks/" + wid,
              {"events": ["delivery.status_changed", "conversation.created"]}, token=root)
    assert r.status == 200 and r.json()["events"] == ["delivery.status_changed",
                                                      "conversation.created"], r
    assert r.json()["secret"] == w["secret"]
    error_of(admin(server, "PATCH", "/event-webhooks/" + wid, {"app_id": bid}, token=root), 422,
             "app_id")
    lst = admin(server, "GET", "/event-webhooks?app_id=" + aid, token=root).json()
    assert lst["count"] == 1 and lst["results"][0]["id"] == wid
    assert SECRET not in str(lst)
    # an operator of the other app does not see it
    other = operator(server, root, "ev-other", ["apps:write"], [bid])
    error_of(admin(server, "GET", "/event-webhooks/" + wid, token=other), 404)
    error_of(admin(server, "DELETE", "/event-webhooks/" + wid, token=other), 404)
    assert admin(server, "GET", "/event-webhooks", token=other).json()["count"] == 0
    error_of(admin(server, "POST", "/event-webhooks", dict(base), token=other), 404, "app_id")
    # a reader without apps:write is refused
    reader = operator(server, root, "ev-reader", ["notifications:read"], [aid])
    assert admin(server, "GET", "/event-webhooks", token=reader).status == 403
    # audited, the secret not in the log
    log = admin(server, "GET", "/audit-log?action=event_webhook.create", token=root)
    if log.status == 200:
        assert SECRET not in log.body.decode()
    assert admin(server, "DELETE", "/event-webhooks/" + wid, token=root).status == 204
    error_of(admin(server, "GET", "/event-webhooks/" + wid, token=root), 404)


def test_events_are_signed_delivered_and_retried(server_factory, standins):
    s = server_factory(env=ENV)
    tok = console(s, "evroot")
    a, quiet = App(s, app_headers(s, "Events")), App(s, app_headers(s, "NoEvents"))
    a.users("eva", "evb")
    quiet.users("qqa", "qqb")
    aid = app_id_of(s, tok, a)
    r = admin(s, "POST", "/event-webhooks",
              {"app_id": aid, "url": standins.url("/hook/ev"), "secret": SECRET,
               "events": ["message.created", "conversation.created",
                          "delivery.status_changed"]}, token=tok)
    assert r.status == 201, r
    # conversation.created, then message.created
    r = a.call("eva", "POST", "/conversations", {"type": "group", "name": "G",
                                                 "members": ["evb"]})
    assert r.status == 201, r
    conv = r.json()["id"]
    wait_until(lambda: posts(standins, "/hook/ev", "conversation.created"), what="conv event")
    p = posts(standins, "/hook/ev", "conversation.created")[0]
    assert p["ok"], p["why"]  # the receiver checked the signature
    assert p["json"]["data"]["id"] == conv and p["json"]["app_id"] == aid
    assert p["headers"]["x-herald-event-id"] == p["json"]["id"]
    standins.plan("/hook/ev", 503)  # the next post fails once: retried with the same id
    r = a.call("eva", "POST", "/conversations/%s/messages" % conv,
               {"type": "text", "content": "hello hooks"})
    assert r.status in (200, 201), r
    mid = r.json()["id"]
    wait_until(lambda: [x for x in posts(standins, "/hook/ev", "message.created") if x["ok"]
                        and x.get("status") == 200], timeout=15, what="message event")
    tries = posts(standins, "/hook/ev", "message.created")
    assert len(tries) == 2 and tries[0]["status"] == 503, [t["status"] for t in tries]
    assert {t["headers"]["x-herald-event-id"] for t in tries} == {mid}
    assert tries[1]["json"]["data"]["content"] == "hello hooks"
    # delivery.status_changed: sent, then delivered on the ACK
    c = ws(a, "evb", "d1")
    try:
        nid = send(a, {"type": "ping", "recipients": ["evb"], "title": "T"}).json()["id"]
        f, = notifications(c)
        c.send_json({"type": "ack", "delivery_id": f["delivery_id"]})
    finally:
        c.close()

    def statuses():
        return [x["json"]["data"]["status"] for x in posts(standins, "/hook/ev",
                                                           "delivery.status_changed")
                if x["ok"] and x["json"]["data"]["id"] == f["delivery_id"]]
    wait_until(lambda: "sent" in statuses() and "delivered" in statuses(), what="status events")
    ev = [x for x in posts(standins, "/hook/ev", "delivery.status_changed") if x["ok"]][0]
    assert ev["json"]["data"]["notification_id"] == nid
    assert status_of(a, nid, lambda d: True)[0]["status"] == "delivered"
    # the app without a webhook: nothing is posted for its messages
    before = len(standins.recorded("/hook/"))
    r = quiet.call("qqa", "POST", "/conversations", {"type": "group", "name": "Q",
                                                     "members": ["qqb"]})
    quiet.call("qqa", "POST", "/conversations/%s/messages" % r.json()["id"],
               {"type": "text", "content": "x"})
    # disabling the webhook stops the events at once
    wid = admin(s, "GET", "/event-webhooks", token=tok).json()["results"][0]["id"]
    assert admin(s, "PATCH", "/event-webhooks/" + wid, {"enabled": False},
                 token=tok).status == 200
    a.call("eva", "POST", "/conversations/%s/messages" % conv,
           {"type": "text", "content": "unheard"})
    time.sleep(1.5)
    assert len(standins.recorded("/hook/")) == before


def test_private_targets_are_refused_without_the_setting(server_factory, standins):
    s = server_factory()  # HERALD_ALLOW_PRIVATE_TARGETS unset: loopback is refused
    tok = console(s, "evssrf")
    a = App(s, app_headers(s, "EvSsrf"))
    a.users("ssa", "ssb")
    r = admin(s, "POST", "/event-webhooks",
              {"app_id": app_id_of(s, tok, a), "url": standins.url("/hook/ssrf"),
               "secret": SECRET, "events": ["conversation.created"]}, token=tok)
    assert r.status == 201, r  # the address is checked when connecting
    r = a.call("ssa", "POST", "/conversations", {"type": "group", "name": "S", "members": ["ssb"]})
    assert r.status == 201, r
    time.sleep(2)
    assert standins.recorded("/hook/ssrf") == []
