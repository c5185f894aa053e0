"""The console's cancel of a scheduled notification (docs/notifications.md, "Scheduling and
TTL"): POST /api/v1/admin/notifications/{id}/cancel, notifications:write on the notification's
app, the same code as the app's POST /notifications/{id}/cancel, audited. Runs on SQLite and,
under scripts/pg-test.sh, on PostgreSQL."""
import json
import time

from conftest import wait_until
from test_conversations import error_of
# app, other and root are the fixtures of test_notifications, used here by name
from test_notifications import app, other, root  # noqa: F401
from test_notifications import (admin, app_id_of, delivery_status, get, no_notification,
                                notification, operator, post, send, ws)


def later(app, user, title, ms=60000):
    r = send(app, {"type": "console.cancel", "recipients": [user], "title": title,
                   "send_at": int(time.time() * 1000) + ms})
    assert r.status == 202, r
    return r.json()["id"]


def audit_rows(server, root, nid):
    log = admin(server, "GET", "/audit-log?action=notification.cancel&page_size=100",
                token=root).json()["results"]
    return [e for e in log if e["target"] == nid]


def test_console_cancel_stops_a_scheduled_notification_and_is_audited(server, root, app):
    aid = app_id_of(server, root, app)
    writer = operator(server, root, "c-writer", ["notifications:read", "notifications:write"],
                      [aid])
    app.users("cx")
    c = ws(app, "cx", "d1")
    try:
        at = int(time.time() * 1000) + 2000
        r = send(app, {"type": "console.cancel", "recipients": ["cx"], "title": "never",
                       "send_at": at})
        nid = r.json()["id"]
        r = admin(server, "POST", "/notifications/%s/cancel" % nid, token=writer)
        assert r.status == 200, r
        assert r.json() == {"id": nid, "status": "cancelled", "cancelled_deliveries": 1}
        n = admin(server, "GET", "/notifications/" + nid, token=writer).json()
        assert n["status"] == "cancelled" and n["deliveries"][0]["status"] == "cancelled"
        # nothing is sent at send_at
        no_notification(c, max(0.1, (at - time.time() * 1000) / 1000) + 1.0)
        assert delivery_status(app, nid, "cx") == "cancelled"
        assert notification(app, nid)["status"] == "cancelled"
    finally:
        c.close()
    # audited: who, which app, what
    rows = audit_rows(server, root, nid)
    assert len(rows) == 1, rows
    e = rows[0]
    assert e["app_id"] == aid and e["operator_name"] == "c-writer", e
    detail = e["detail"] if isinstance(e["detail"], dict) else json.loads(e["detail"])
    assert detail["type"] == "console.cancel" and detail["send_at"] == at, detail
    # cancelled already: 409 from the console and from the app (one code path), no new audit row
    error_of(admin(server, "POST", "/notifications/%s/cancel" % nid, token=writer), 409)
    error_of(post(app, "/notifications/%s/cancel" % nid), 409)
    assert len(audit_rows(server, root, nid)) == 1


def test_console_cancel_of_a_started_notification_is_409(server, root, app):
    app.users("cy")
    # sent at once: never scheduled
    now_id = send(app, {"type": "console.cancel", "recipients": ["cy"],
                        "title": "now"}).json()["id"]
    error_of(admin(server, "POST", "/notifications/%s/cancel" % now_id, token=root), 409)
    # scheduled, but its send_at came and it went out
    soon = later(app, "cy", "soon", ms=800)
    wait_until(lambda: notification(app, soon)["status"] != "scheduled", timeout=10,
               what="released")
    r = admin(server, "POST", "/notifications/%s/cancel" % soon, token=root)
    assert r.status == 409 and r.json()["error"]["code"] == "conflict", r
    assert "not scheduled" in r.json()["error"]["message"]
    assert notification(app, soon)["status"] != "cancelled"
    assert audit_rows(server, root, now_id) == [] and audit_rows(server, root, soon) == []


def test_console_cancel_needs_write_and_the_app(server, root, app, other):
    aid = app_id_of(server, root, app)
    reader = operator(server, root, "c-reader", ["notifications:read"], [aid])
    writer = operator(server, root, "c-writer2", ["notifications:read", "notifications:write"],
                      [aid])
    app.users("cz")
    mine = later(app, "cz", "mine")
    # read only: 403, nothing changes
    error_of(admin(server, "POST", "/notifications/%s/cancel" % mine, token=reader), 403)
    assert notification(app, mine)["status"] == "scheduled"
    # another app's notification: 404 for an operator of this app; it stays scheduled
    other.users("oz")
    theirs = later(other, "oz", "theirs")
    error_of(admin(server, "POST", "/notifications/%s/cancel" % theirs, token=writer), 404)
    assert notification(other, theirs)["status"] == "scheduled"
    assert audit_rows(server, root, theirs) == []
    # unknown ids and no token
    error_of(admin(server, "POST", "/notifications/nope/cancel", token=writer), 404)
    error_of(admin(server, "POST", "/notifications/%s/cancel" % ("x" * 100), token=writer), 404)
    error_of(admin(server, "POST", "/notifications/%s/cancel" % mine), 401)
    # an operator of every app (root) cancels the other app's
    r = admin(server, "POST", "/notifications/%s/cancel" % theirs, token=root)
    assert r.status == 200 and r.json()["cancelled_deliveries"] == 1, r
    assert notification(other, theirs)["status"] == "cancelled"
    assert delivery_status(other, theirs, "oz") == "cancelled"
    r = admin(server, "POST", "/notifications/%s/cancel" % mine, token=writer)
    assert r.status == 200, r
    assert get(app, "/deliveries?notification_id=%s&status=cancelled" % mine).json()["count"] == 1
