"""Escalation chains, quiet hours and fairness between apps (docs/notifications.md,
"Escalation", "Quiet hours", "Fairness between apps"): a type's chain sends the next step when
the first one was not ACKed in time (through a real SMTP sink) and skips it when it was;
a user's quiet window holds non-urgent deliveries until it ends while urgent ones go at once;
one app flooding its quota gets 429s and does not hold another app's notification back. Runs
on SQLite and, under scripts/pg-test.sh, on PostgreSQL."""
import datetime
import threading
import time

import pytest

from conftest import Server, wait_until
from smtp_sink import Sink
from test_conversations import App, app_headers
from test_notifications import (CPW, admin, app_id_of, delivery_status, email_channel,
                                notification, notifications, no_notification, root, send,
                                status_of, ws)

__all__ = ["root"]  # the console fixture, shared


@pytest.fixture(scope="module")
def sink():
    s = Sink()
    yield s
    s.stop()


@pytest.fixture(scope="module", autouse=True)
def delete_channels(server, root):
    """Deletes the channels at the end: their pooled SMTP connections close (the module
    server's fd check)."""
    yield
    for ch in admin(server, "GET", "/channels?page_size=100", token=root).json()["results"]:
        admin(server, "DELETE", "/channels/" + ch["id"], token=root)


def mails_to(sink, addr):
    with sink.lock:
        return [m for m in sink.messages if addr in m[1]]


def message_type(server, root, aid, code, **fields):
    body = {"app_id": aid, "code": code, "name": code, "channels": ["inapp"]}
    body.update(fields)
    r = admin(server, "POST", "/message-types", body, token=root)
    assert r.status == 201, r
    return r.json()["id"]


# ---------------------------------------------------------------- escalation

def test_unacked_in_app_escalates_to_email_and_an_acked_one_is_cancelled(server, root, sink):
    a = App(server, app_headers(server, "NotifyEscalate"))
    a.users("esa", contacts={"email": "esa@example.com"})
    a.users("esb", contacts={"email": "esb@example.com"})
    aid = app_id_of(server, root, a)
    email_channel(server, root, aid, "mail", sink)
    message_type(server, root, aid, "alarm",
                 escalation=[{"channel": "inapp"}, {"channel": "email", "after_s": 2}])
    c = ws(a, "esb", "phone")
    try:
        t0 = time.time()
        r = send(a, {"type": "alarm", "recipients": ["esa", "esb"], "title": "Disk full",
                     "content": "Volume /data is at 99%"})
        assert r.status == 202 and r.json()["deliveries"] == 4, r
        nid = r.json()["id"]
        f, = notifications(c)
        c.send_json({"type": "ack", "delivery_id": f["delivery_id"]})  # esb ACKs at once
        # the e-mail steps wait, pending until their due time
        pend = status_of(a, nid, lambda d: d["channel"] == "email")
        assert [d["status"] for d in pend] == ["pending", "pending"], pend
        for d in pend:
            assert abs(d["next_at"] - (notification(a, nid)["send_at"] + 2000)) < 5, d
        wait_until(lambda: delivery_status(a, nid, "esb") == "delivered", what="esb acked")
        # esa never ACKs: her e-mail goes out once the step is due, not before
        wait_until(lambda: mails_to(sink, "esa@example.com"), timeout=15, what="esa's mail")
        assert time.time() - t0 >= 1.8
        m = mails_to(sink, "esa@example.com")[0][2]
        assert m["Subject"] == "Disk full"
        wait_until(lambda: status_of(a, nid, lambda d: d["channel"] == "email" and
                                     d["user_id"] == "esa")[0]["status"] == "sent",
                   what="esa's e-mail sent")
        # esb ACKed in time: her e-mail step is skipped and never sent
        wait_until(lambda: status_of(a, nid, lambda d: d["channel"] == "email" and
                                     d["user_id"] == "esb")[0]["status"] == "skipped",
                   what="esb's e-mail skipped")
        d = status_of(a, nid, lambda d: d["channel"] == "email" and d["user_id"] == "esb")[0]
        assert "acknowledged" in d["last_error"], d
        assert mails_to(sink, "esb@example.com") == []
        # reading the in-app one (the inbox) counts as well
        r = send(a, {"type": "alarm", "recipients": ["esb"], "title": "Again", "content": "x"})
        nid2 = r.json()["id"]
        f, = notifications(c)
        assert a.call("esb", "POST", "/inbox/%s/read" % f["delivery_id"]).status == 200
        wait_until(lambda: status_of(a, nid2, lambda d: d["channel"] == "email")[0]["status"]
                   == "skipped", timeout=10, what="skipped after a read")
    finally:
        c.close()
    assert mails_to(sink, "esb@example.com") == []
    # a channel override sends to the listed channels at once: no chain
    r = send(a, {"type": "alarm", "recipients": ["esa"], "title": "Now", "content": "y",
                 "channels": ["email"]})
    nid3 = r.json()["id"]
    wait_until(lambda: status_of(a, nid3, lambda d: True)[0]["status"] == "sent", timeout=5,
               what="override sent at once")


def console(s, name):
    from conftest import run_herald
    p = run_herald(["admin", "create", name, "--password-stdin"], env=s.cli_env(),
                   input=CPW + "\n")
    assert p.returncode == 0, p
    return admin(s, "POST", "/auth/login", {"username": name, "password": CPW}).json()[
        "access_token"]


def test_a_pending_escalation_step_survives_a_kill_9(tmp_path, sink):
    workdir = tmp_path / "esc"
    s = Server(workdir=workdir).start()
    try:
        tok = console(s, "eroot")
        headers = app_headers(s, "EscRestart")
        a = App(s, headers)
        a.users("era", contacts={"email": "era@example.com"})
        aid = app_id_of(s, tok, a)
        email_channel(s, tok, aid, "mail", sink)
        message_type(s, tok, aid, "page",
                     escalation=[{"channel": "inapp"}, {"channel": "email", "after_s": 2}])
        nid = send(a, {"type": "page", "recipients": ["era"], "title": "Restart",
                       "content": "z"}).json()["id"]
        assert mails_to(sink, "era@example.com") == []
    finally:
        s.kill()
    s = Server(workdir=workdir).start()
    try:
        a = App(s, headers)
        wait_until(lambda: mails_to(sink, "era@example.com"), timeout=15,
                   what="the mail after the restart")
        wait_until(lambda: status_of(a, nid, lambda d: d["channel"] == "email")[0]["status"]
                   == "sent", what="sent")
        tok = admin(s, "POST", "/auth/login", {"username": "eroot", "password": CPW}).json()[
            "access_token"]
        for ch in admin(s, "GET", "/channels?page_size=100", token=tok).json()["results"]:
            admin(s, "DELETE", "/channels/" + ch["id"], token=tok)
    finally:
        s.stop()


# ---------------------------------------------------------------- quiet hours

def hhmm(t):
    return "%02d:%02d" % (t.hour, t.minute)


def test_quiet_hours_hold_normal_deliveries_and_urgent_ones_go(server, root):
    a = App(server, app_headers(server, "NotifyQuiet"))
    a.users("qua", "qub")
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(minutes=30), now + datetime.timedelta(minutes=30)
    r = a.call("qua", "PUT", "/me/preferences",
               {"quiet_hours": {"start": hhmm(start), "end": hhmm(end), "time_zone": "UTC"}})
    assert r.status == 200, r
    # the window's end: today's (or tomorrow's) end HH:MM in UTC, the first one after now
    end_at = now.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if end_at <= now:
        end_at += datetime.timedelta(days=1)
    end_ms = int(end_at.timestamp() * 1000)
    c = ws(a, "qua", "q1")
    d = ws(a, "qub", "q2")
    try:
        r = send(a, {"type": "digest", "recipients": ["qua", "qub"], "title": "Weekly",
                     "content": "Your digest"})
        assert r.status == 202, r
        nid = r.json()["id"]
        f, = notifications(d)  # qub has no quiet hours
        assert f["notification"]["title"] == "Weekly"
        no_notification(c, 1.0)  # qua's waits
        held = status_of(a, nid, lambda x: x["user_id"] == "qua")[0]
        assert held["status"] == "pending" and held["next_at"] == end_ms, held
        # urgent ones bypass the window
        r = send(a, {"type": "outage", "recipients": ["qua"], "title": "Down",
                     "content": "The site is down", "priority": "urgent"})
        f, = notifications(c)
        assert f["notification"]["title"] == "Down"
        wait_until(lambda: delivery_status(a, r.json()["id"], "qua") == "sent", what="sent")
        # still held
        assert status_of(a, nid, lambda x: x["user_id"] == "qua")[0]["status"] == "pending"
    finally:
        c.close()
        d.close()
    # no quiet hours any more: the held one still waits for its (already set) time
    r = a.call("qua", "PUT", "/me/preferences", {"quiet_hours": None})
    assert r.status == 200, r


# ---------------------------------------------------------------- fairness

def test_a_flooding_app_gets_429s_and_does_not_hold_another_app_back(server_factory):
    s = server_factory()
    tok = console(s, "froot")
    flood = App(s, app_headers(s, "Flood"))
    calm = App(s, app_headers(s, "Calm"))
    flood.users(*["f%04d" % i for i in range(1000)])
    calm.users("cal")
    # a backlog: 20 notifications to the flooding app's 1,000 users, all due at `at`; the calm
    # app's one is due just after them, so oldest-first alone would serve it last
    at = int(time.time() * 1000) + 4000
    for _ in range(20):
        r = send(flood, {"type": "bulk", "recipients": "subscribers", "title": "Bulk",
                         "content": "b", "send_at": at})
        assert r.status == 202 and r.json()["deliveries"] == 1000, r
    assert int(time.time() * 1000) < at - 500, "the backlog took too long to write"
    fid = app_id_of(s, tok, flood)
    r = admin(s, "PATCH", "/apps/" + fid, {"rate_limit_rps": 5, "rate_limit_burst": 10},
              token=tok)
    assert r.status == 200, r
    c = ws(calm, "cal", "c1")
    r = send(calm, {"type": "ping", "recipients": ["cal"], "title": "Calm", "send_at": at + 200})
    assert r.status == 202, r
    codes, retry_after = [], []
    stop = threading.Event()

    give_up = []

    def flooder():  # and the flooding app keeps sending, far past its rate limit (on a slow
        # machine a send of 1,000 deliveries takes long: go on until the limit answered, or 10 s)
        while len(codes) < 2000 and not (stop.is_set() and (429 in codes or
                                                            time.time() > give_up[0])):
            r = send(flood, {"type": "bulk", "recipients": "subscribers", "title": "Bulk",
                             "content": "b"})
            codes.append(r.status)
            if r.status == 429:
                retry_after.append(r.header("Retry-After"))

    ths = [threading.Thread(target=flooder) for _ in range(4)]
    for t in ths:
        t.start()
    try:
        f, = notifications(c, timeout=15)
        took = time.time() - (at + 200) / 1000
        assert f["notification"]["title"] == "Calm"
        backlog = admin(s, "GET", "/deliveries?status=pending&type=bulk&app_id=" + fid,
                        token=tok).json()  # the console's read: the app's is rate limited
    finally:
        give_up.append(time.time() + 10)
        stop.set()
        for t in ths:
            t.join()
        c.close()
    assert codes.count(429) > 0, codes.count(202)
    assert all(v and int(v) >= 1 for v in retry_after)
    # the calm app's notification went out while the flooding app's backlog was still there
    assert "count" in backlog and backlog["count"] > 0, backlog
    assert took < 5, took
    print("calm app's frame %.3f s after it was due; the flooding app's pending backlog then: %d"
          " (%d accepted, %d refused)" % (took, backlog["count"], codes.count(202),
                                          codes.count(429)))


def test_the_daily_quota_refuses_sends_past_it_until_midnight(server_factory):
    s = server_factory()
    tok = console(s, "qroot")
    a, b = App(s, app_headers(s, "Quota")), App(s, app_headers(s, "NoQuota"))
    a.users("qa")
    b.users("qb")
    aid = app_id_of(s, tok, a)
    assert send(a, {"type": "q", "recipients": ["qa"], "title": "before"}).status == 202
    r = admin(s, "PATCH", "/apps/" + aid, {"daily_quota": 3}, token=tok)
    assert r.status == 200, r
    time.sleep(2.5)  # the quotas' poll (2 s): today's one send counts
    for i in range(2):
        r = send(a, {"type": "q", "recipients": ["qa"], "title": "n%d" % i})
        assert r.status == 202, r
    r = send(a, {"type": "q", "recipients": ["qa"], "title": "over"})
    assert r.status == 429 and r.json()["error"]["code"] == "quota_exceeded", r
    now = datetime.datetime.now(datetime.timezone.utc)
    midnight = (now + datetime.timedelta(days=1)).replace(hour=0, minute=0, second=0,
                                                          microsecond=0)
    assert abs(int(r.header("Retry-After")) - (midnight - now).total_seconds()) < 5
    time.sleep(2.5)  # still refused after the next poll: the store counts 3
    assert send(a, {"type": "q", "recipients": ["qa"], "title": "over"}).status == 429
    listed = admin(s, "GET", "/notifications?app_id=" + aid, token=tok).json()
    assert listed["count"] == 3, listed  # nothing written for the refused ones
    # another app is not limited; a larger quota lets the app send again
    assert send(b, {"type": "q", "recipients": ["qb"], "title": "free"}).status == 202
    assert admin(s, "PATCH", "/apps/" + aid, {"daily_quota": 4}, token=tok).status == 200
    wait_until(lambda: send(a, {"type": "q", "recipients": ["qa"], "title": "more"}).status
               == 202, timeout=10, what="the larger quota")
