"""kill -9 with 1,000 notifications queued to an e-mail channel (a real aiosmtpd server) and
a webhook channel (a local receiver that verifies the signature), issue 11 "Reliability":
after the restart every accepted notification is delivered on both channels; a repeat (a job
that was under way at the kill) carries the same Message-ID / X-Herald-Event-Id as the first
copy, so the receiver can drop it. Runs on SQLite and, under scripts/pg-test.sh, on PostgreSQL.

On SQLite the restarted server frees every lease at start (one server per database). On
PostgreSQL, where servers share the database, the killed server's jobs are claimed again once
their 60 s lease has passed (src/notify/queue.c, LEASE_MS); rather than wait that minute, the test
moves the leases 60 s back in the database while no server runs (as test_retention.py ages rows),
so the restarted server finds them passed, as it would a minute later, and claims them through
the same expired-lease path."""
import collections
import subprocess
import threading
import time

from conftest import PG_URL, Server, pg_database_for, run_herald, wait_until
from provider_standins import Standins
from smtp_sink import Sink
from test_conversations import App, app_headers
from test_notifications import CPW, admin, app_id_of, get, send

QUEUED = 1000
ENV = {"HERALD_ALLOW_PRIVATE_TARGETS": "1"}


def mail_ids(sink):
    """{recipient: [Message-ID, ...]} of the mails received."""
    out = collections.defaultdict(list)
    with sink.lock:
        for _, rcpts, msg, _ in sink.messages:
            for r in rcpts:
                out[r].append(msg["Message-ID"])
    return out


def sent_count(a):
    return get(a, "/deliveries?type=crash&status=sent").json()["count"]


def hook_ids(standins):
    """{title: [event id, ...]} of the signed webhook posts received."""
    out = collections.defaultdict(list)
    for r in standins.recorded("/hook/crash"):
        if r["ok"]:
            out[r["json"]["title"]].append(r["headers"]["x-herald-event-id"])
    return out


LEASE_MS = 60000  # src/notify/queue.c


def pass_the_leases(workdir):
    """PostgreSQL: the leases the killed server held end LEASE_MS earlier, as if a minute had
    passed (none has passed yet: the kill was just now)."""
    url = pg_database_for(workdir)
    sql = "UPDATE jobs SET locked_until = locked_until - %d WHERE locked_until IS NOT NULL" % LEASE_MS
    p = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    p = subprocess.run(["psql", url, "-qAtc", "SELECT count(*) FROM jobs WHERE locked_until > "
                        "(extract(epoch from clock_timestamp()) * 1000)::bigint"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and p.stdout.strip() == "0", (p.stdout, p.stderr)


def test_kill_9_with_1000_queued_email_and_webhook_notifications(tmp_path):
    sink, standins = Sink(), Standins()
    workdir = tmp_path / "crash"
    s = Server(workdir=workdir, env=ENV).start()
    try:
        p = run_herald(["admin", "create", "kroot", "--password-stdin"], env=s.cli_env(),
                       input=CPW + "\n")
        assert p.returncode == 0, p
        tok = admin(s, "POST", "/auth/login", {"username": "kroot", "password": CPW}).json()[
            "access_token"]
        headers = app_headers(s, "Crash")
        a = App(s, headers)
        aid = app_id_of(s, tok, a)
        for body in ({"name": "mail", "kind": "email",
                      "config": {"from": "Herald <noreply@herald.test>",
                                 "accounts": [sink.account()]}},
                     {"name": "hooks", "kind": "webhook", "config": {"secret": "whsec-test"}}):
            r = admin(s, "POST", "/channels", dict(body, app_id=aid, concurrency=8), token=tok)
            assert r.status == 201, r
        at = int(time.time() * 1000) + 4000
        accepted, lock = [], threading.Lock()

        def sender(k):
            for i in range(k, QUEUED, 8):
                r = send(a, {"type": "crash", "title": "n%04d" % i, "content": "c",
                             "recipients": [{"email": "k%04d@example.com" % i},
                                            {"webhook": standins.url("/hook/crash")}],
                             "send_at": at, "idempotency_key": "crash-%d" % i})
                assert r.status == 202 and r.json()["deliveries"] == 2, r
                with lock:
                    accepted.append((i, r.json()["id"]))

        ts = [threading.Thread(target=sender, args=(k,)) for k in range(8)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        assert len(accepted) == QUEUED
        # the queue starts at send_at; kill -9 while both channels are sending
        wait_until(lambda: len(mail_ids(sink)) >= 50 and len(hook_ids(standins)) >= 50,
                   timeout=30, what="sends under way")
    finally:
        s.kill()
    before = (sum(map(len, mail_ids(sink).values())), sum(map(len, hook_ids(standins).values())))
    if PG_URL:
        pass_the_leases(workdir)
    s = Server(workdir=workdir, env=ENV).start()
    try:
        a = App(s, headers)
        want_mail = {"k%04d@example.com" % i for i, _ in accepted}
        want_hook = {"n%04d" % i for i, _ in accepted}
        wait_until(lambda: set(mail_ids(sink)) == want_mail and
                   set(hook_ids(standins)) == want_hook, timeout=150,
                   what="every notification on both channels")
        wait_until(lambda: sent_count(a) == 2 * QUEUED, timeout=30, what="every delivery sent")
        mails, hooks = mail_ids(sink), hook_ids(standins)
        # a repeat carries the first copy's id: the receiver can drop it
        nid = {i: n for i, n in accepted}
        for rcpt, ids in mails.items():
            i = int(rcpt[1:5])
            assert set(ids) == {"<%s-1@herald>" % nid[i]}, (rcpt, ids)
        for title, ids in hooks.items():
            i = int(title[1:])
            assert set(ids) == {nid[i] + "-2"}, (title, ids)
        dup_mail = sum(len(v) - 1 for v in mails.values())
        dup_hook = sum(len(v) - 1 for v in hooks.values())
        tok = admin(s, "POST", "/auth/login", {"username": "kroot", "password": CPW}).json()[
            "access_token"]
        for ch in admin(s, "GET", "/channels?page_size=100", token=tok).json()["results"]:
            admin(s, "DELETE", "/channels/" + ch["id"], token=tok)
    finally:
        s.stop()
        sink.stop()
        standins.close()
    print("kill -9 after %d mails and %d webhook posts; repeats after the restart: %d mails, %d "
          "posts" % (before[0], before[1], dup_mail, dup_hook))
