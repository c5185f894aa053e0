"""
Notification channels (issue 11, docs/notifications.md "Channels", docs/providers/email.md):
/admin/channels CRUD for operators (channels:write; notifications:read to read), secrets sealed
at rest and masked when read, configs checked by the driver with the field's path, and the
test send through the email driver against real SMTP servers (aiosmtpd): one that delivers,
ones rigged to answer 451 or 550 or to refuse the login.
"""
import json
import os
import socket
import sqlite3
import subprocess
import threading
import time

import pytest

from conftest import module_server
from smtp_sink import PASSWORD, Sink
from test_edit_recall import operator, operator_call, root_token


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory)


@pytest.fixture(scope="module")
def root(server):
    return root_token(server, "boss-ch")


@pytest.fixture(scope="module")
def apps(server, root):
    ids = []
    for name in ("ChanA", "ChanB"):
        r = operator_call(server, root, "POST", "/admin/apps", {"name": name})
        assert r.status == 201, r
        ids.append(r.json()["id"])
    return ids


@pytest.fixture(scope="module")
def sinks():
    s = {"good": Sink(), "good2": Sink(), "busy": Sink(rcpt_reply="451 4.3.0 try later"),
         "reject": Sink(rcpt_reply="550 5.1.1 no such user"), "badauth": Sink(password="other"),
         "starttls": Sink(tls="starttls"), "smtps": Sink(tls="smtps")}
    yield s
    for x in s.values():
        x.stop()


@pytest.fixture(scope="module", autouse=True)
def cleanup(server, root):
    """Deletes every channel at the end: their pooled SMTP connections close (fd check)."""
    yield
    r = operator_call(server, root, "GET", "/admin/channels?page_size=100")
    for ch in r.json()["results"]:
        operator_call(server, root, "DELETE", "/admin/channels/" + ch["id"])


def email_config(*accounts, **extra):
    c = {"from": "Herald Tests <noreply@herald.test>", "accounts": list(accounts)}
    c.update(extra)
    return c


def create(server, token, app, name, config, **extra):
    body = {"app_id": app, "name": name, "kind": "email", "config": config}
    body.update(extra)
    return operator_call(server, token, "POST", "/admin/channels", body)


def made(server, token, app, name, config, **extra):
    r = create(server, token, app, name, config, **extra)
    assert r.status == 201, r
    return r.json()


def test_send(server, token, ch_id, to="alice@example.com", **body):
    body["to"] = to
    r = operator_call(server, token, "POST", "/admin/channels/%s/test" % ch_id, body)
    assert r.status == 200, r
    return r.json()


test_send.__test__ = False  # a helper, not a test


def error_of(r, status, field=None):
    assert r.status == status, r
    e = r.json()["error"]
    if field is not None:
        assert e.get("field") == field, e
    return e


def stored_configs(server):
    """The config column of every channel as stored (SQLite file or PostgreSQL database)."""
    url = server.env.get("HERALD_DATABASE_URL")
    if url and url.startswith("postgres"):
        q = subprocess.run(["psql", url, "-qAtc", "SELECT config FROM channels"],
                           capture_output=True, text=True, timeout=30)
        assert q.returncode == 0, q.stderr
        return q.stdout
    db = sqlite3.connect(os.path.join(server.data_dir, "herald.db"))
    try:
        return "\n".join(r[0] for r in db.execute("SELECT config FROM channels"))
    finally:
        db.close()


# ---------------------------------------------------------------- CRUD

def test_create_read_list_update_delete(server, root, apps, sinks):
    ch = made(server, root, apps[0], "Mail", email_config(sinks["good"].account()),
              max_attempts=3)
    assert ch["id"].startswith("ch_") and ch["app_id"] == apps[0] and ch["kind"] == "email", ch
    assert ch["enabled"] is True and ch["max_attempts"] == 3 and ch["rate_per_s"] == 0, ch
    assert ch["concurrency"] == 4 and ch["created_at"] == ch["updated_at"] > 0, ch
    acc = ch["config"]["accounts"][0]
    assert acc["password"] == "****" + PASSWORD[-4:] and acc["username"] == "mailer", acc
    got = operator_call(server, root, "GET", "/admin/channels/" + ch["id"])
    assert got.status == 200 and got.json() == ch, got
    lst = operator_call(server, root, "GET", "/admin/channels?app_id=%s&kind=email" % apps[0])
    assert lst.status == 200, lst
    assert ch["id"] in [c["id"] for c in lst.json()["results"]], lst.json()
    assert lst.json()["page"] == 1 and lst.json()["page_size"] == 20, lst.json()
    r = operator_call(server, root, "GET", "/admin/channels?app_id=%s" % apps[1])
    assert r.status == 200 and r.json()["count"] == 0, r
    r = operator_call(server, root, "PATCH", "/admin/channels/" + ch["id"],
                      {"name": "Mail 2", "enabled": False, "rate_per_s": 10})
    assert r.status == 200, r
    up = r.json()
    assert up["name"] == "Mail 2" and up["enabled"] is False and up["rate_per_s"] == 10, up
    assert up["updated_at"] > ch["updated_at"] and up["config"] == ch["config"], up
    r = operator_call(server, root, "DELETE", "/admin/channels/" + ch["id"])
    assert r.status == 204, r
    error_of(operator_call(server, root, "GET", "/admin/channels/" + ch["id"]), 404)
    error_of(operator_call(server, root, "DELETE", "/admin/channels/" + ch["id"]), 404)


def test_names_are_unique_per_app(server, root, apps, sinks):
    made(server, root, apps[0], "Unique", email_config(sinks["good"].account()))
    error_of(create(server, root, apps[0], "Unique", email_config(sinks["good"].account())),
             409, "name")
    made(server, root, apps[1], "Unique", email_config(sinks["good"].account()))


@pytest.mark.parametrize("config,field", [
    ({"accounts": [{"host": "x"}]}, "config.from"),
    (email_config(), "config.accounts"),
    (email_config({"host": "bad host/x", "port": 25}), "config.accounts[0].host"),
    (email_config({"host": "a.example"}, {"host": "b.example", "port": 70000}),
     "config.accounts[1].port"),
    (email_config({"host": "a.example", "security": "tls13"}), "config.accounts[0].security"),
    (email_config({"host": "a.example", "rate_per_min": -1}), "config.accounts[0].rate_per_min"),
    (email_config({"host": "a.example", "password": "x\r\nRSET"}), "config.accounts[0].password"),
    (email_config({"host": "a.example", "extra": 1}), "config.accounts[0].extra"),
    (email_config({"host": "a.example"}, cooldown_s=-5), "config.cooldown_s"),
    (dict(email_config({"host": "a.example"}), **{"from": "Evil\r\nBcc: x@y.z <a@b.c>"}),
     "config.from"),
    (dict(email_config({"host": "a.example"}), **{"from": "not an address"}), "config.from"),
])
def test_bad_configs_name_the_field_and_store_nothing(server, root, apps, config, field):
    before = operator_call(server, root, "GET", "/admin/channels").json()["count"]
    error_of(create(server, root, apps[0], "Bad", config), 422, field)
    assert operator_call(server, root, "GET", "/admin/channels").json()["count"] == before


def test_bad_bodies(server, root, apps, sinks):
    cfg = email_config(sinks["good"].account())
    r = operator_call(server, root, "POST", "/admin/channels",
                      {"app_id": apps[0], "name": "K", "kind": "pigeon", "config": cfg})
    error_of(r, 422, "kind")
    r = operator_call(server, root, "POST", "/admin/channels",
                      {"app_id": apps[0], "name": "K", "kind": "inapp", "config": cfg})
    error_of(r, 422, "kind")
    error_of(create(server, root, apps[0], "", cfg), 422, "name")
    error_of(create(server, root, apps[0], "K", cfg, max_attempts=0), 422, "max_attempts")
    error_of(create(server, root, apps[0], "K", cfg, concurrency=1000), 422, "concurrency")
    error_of(create(server, root, "no-such-app", "K", cfg), 404, "app_id")
    ch = made(server, root, apps[0], "Patchy", cfg)
    r = operator_call(server, root, "PATCH", "/admin/channels/" + ch["id"], {"kind": "webhook"})
    error_of(r, 422, "kind")
    r = operator_call(server, root, "PATCH", "/admin/channels/" + ch["id"],
                      {"config": email_config({"host": "ok.example", "port": 0})})
    error_of(r, 422, "config.accounts[0].port")
    r = operator_call(server, root, "GET", "/admin/channels?page_size=101")
    assert r.status == 200 and r.json()["page_size"] == 100, r  # as every list: 100 at most
    r = operator_call(server, root, "GET", "/admin/channels?page_size=0")
    error_of(r, 422, "page_size")
    r = operator_call(server, root, "GET", "/admin/channels?kind=pigeon")
    error_of(r, 422, "kind")
    r = operator_call(server, root, "GET", "/admin/channels?kind=" + "e" * 300)
    error_of(r, 422, "kind")
    r = operator_call(server, root, "GET", "/admin/channels?app_id=" + "a" * 300)
    error_of(r, 404, "app_id")


# ---------------------------------------------------------------- secrets

def test_secrets_are_sealed_at_rest_and_kept_when_the_mask_is_sent_back(server, root, apps,
                                                                         sinks):
    good = sinks["good"]
    ch = made(server, root, apps[0], "Sealed", email_config(good.account()))
    stored = stored_configs(server)
    assert PASSWORD not in stored and '"v1:' in stored, stored
    # the masked config sent back unchanged: the stored password stays and still logs in
    cfg = ch["config"]
    cfg["accounts"][0]["port"] = good.port
    r = operator_call(server, root, "PATCH", "/admin/channels/" + ch["id"], {"config": cfg})
    assert r.status == 200, r
    assert r.json()["config"]["accounts"][0]["password"] == "****" + PASSWORD[-4:], r.json()
    n = len(good.messages)
    out = test_send(server, root, ch["id"])
    assert out["outcome"] == "sent", out
    assert len(good.messages) == n + 1
    assert PASSWORD not in stored_configs(server)
    # a new password replaces it: the server refuses the login, the send is retried later
    cfg["accounts"][0]["password"] = "a-wrong-password-42"
    r = operator_call(server, root, "PATCH", "/admin/channels/" + ch["id"], {"config": cfg})
    assert r.status == 200 and r.json()["config"]["accounts"][0]["password"] == "****d-42", r
    out = test_send(server, root, ch["id"])
    assert out["outcome"] == "retry" and "login" in out["detail"], out
    assert len(good.messages) == n + 1


# ---------------------------------------------------------------- the test send

def test_test_send_delivers_plain_and_html_with_the_headers(server, root, apps, sinks):
    good = sinks["good2"]
    ch = made(server, root, apps[0], "Headers", email_config(good.account()))
    out = test_send(server, root, ch["id"], to="bob@example.com", title="Grüße, Bob",
                    content="Plain body\n. a dot line", html="<p>HTML <b>body</b></p>",
                    delivery_id="dlv-123")
    assert out == {"outcome": "sent", "code": 250, "detail": "",
                   "provider_id": "<dlv-123@herald>"}, out
    mail_from, rcpts, msg, raw = good.messages[-1]
    assert mail_from == "noreply@herald.test" and rcpts == ["bob@example.com"]
    assert msg["Subject"] == "Grüße, Bob" and "=?UTF-8?B?" in raw.decode(), raw
    assert msg["From"] == "Herald Tests <noreply@herald.test>", msg["From"]
    assert msg["To"] == "bob@example.com" and msg["MIME-Version"] == "1.0", raw
    assert msg["Message-ID"] == "<dlv-123@herald>" and msg["Date"], raw
    assert msg.get_content_type() == "multipart/alternative", raw
    parts = {p.get_content_type(): p.get_content() for p in msg.iter_parts()}
    assert parts["text/plain"] == "Plain body\n. a dot line" or \
        parts["text/plain"].replace("\r\n", "\n") == "Plain body\n. a dot line", parts
    assert parts["text/html"] == "<p>HTML <b>body</b></p>", parts
    # the same delivery sent again (a retry) carries the same Message-ID
    test_send(server, root, ch["id"], to="bob@example.com", delivery_id="dlv-123")
    assert good.messages[-1][2]["Message-ID"] == "<dlv-123@herald>"
    # without HTML: one text/plain part
    test_send(server, root, ch["id"], to="bob@example.com", content="only text")
    msg = good.messages[-1][2]
    assert msg.get_content_type() == "text/plain" and msg.get_content().strip() == "only text"
    assert msg["Message-ID"] != "<dlv-123@herald>"


def test_header_injection_cannot_add_a_header_or_a_recipient(server, root, apps, sinks):
    good = sinks["good2"]
    ch = made(server, root, apps[0], "Inject", email_config(good.account()))
    out = test_send(server, root, ch["id"], to="carol@example.com",
                    title="Hello\r\nBcc: evil@example.com\r\nX-Evil: 1")
    assert out["outcome"] == "sent", out
    _, rcpts, msg, raw = good.messages[-1]
    assert rcpts == ["carol@example.com"], rcpts
    assert msg["Bcc"] is None and msg["X-Evil"] is None, raw
    assert "Bcc: evil" not in raw.decode() and "\r\nX-Evil" not in raw.decode(), raw
    assert "evil@example.com" in msg["Subject"] and "\n" not in msg["Subject"], msg["Subject"]
    n = len(good.messages)
    for bad in ("dave@example.com\r\nRCPT TO:<evil@example.com>", "Dave <dave@example.com>",
                "no-at-sign"):
        out = test_send(server, root, ch["id"], to=bad)
        assert out["outcome"] == "permanent" and out["code"] == 0, out
    assert len(good.messages) == n


# ---------------------------------------------------------------- the account pool

def test_the_connection_is_reused(server, root, apps):
    sink = Sink()
    try:
        ch = made(server, root, apps[0], "Reuse", email_config(sink.account()))
        for i in range(5):
            assert test_send(server, root, ch["id"], to="r%d@example.com" % i)["outcome"] == "sent"
        assert len(sink.messages) == 5 and sink.ehlos == 1 and sink.logins == 1, sink.ehlos
        # a changed channel reopens its state: a new connection
        r = operator_call(server, root, "PATCH", "/admin/channels/" + ch["id"], {"name": "Re"})
        assert r.status == 200, r
        assert test_send(server, root, ch["id"])["outcome"] == "sent"
        assert sink.ehlos == 2 and len(sink.messages) == 6
        operator_call(server, root, "DELETE", "/admin/channels/" + ch["id"])
    finally:
        sink.stop()


def test_a_failing_account_is_cooled_down_and_the_message_moves_on(server, root, apps, sinks):
    busy, good = sinks["busy"], sinks["good"]
    ch = made(server, root, apps[0], "Pool", email_config(busy.account(), good.account(),
                                                          cooldown_s=60))
    b0, g0 = busy.rcpts, len(good.messages)
    for i in range(4):
        out = test_send(server, root, ch["id"], to="pool%d@example.com" % i)
        assert out["outcome"] == "sent", out
    assert busy.rcpts == b0 + 1, "the 451 account was tried once, then cooled down"
    assert len(good.messages) == g0 + 4


def test_a_refused_login_moves_on_to_the_next_account(server, root, apps, sinks):
    badauth, good = sinks["badauth"], sinks["good"]
    ch = made(server, root, apps[0], "Logins",
              email_config(badauth.account(password=PASSWORD), good.account()))
    l0, g0 = badauth.logins, len(good.messages)
    for i in range(3):
        assert test_send(server, root, ch["id"])["outcome"] == "sent"
    assert badauth.logins == l0 + 1 and len(good.messages) == g0 + 3


def test_4xx_is_retried_5xx_is_permanent(server, root, apps, sinks):
    busy = made(server, root, apps[0], "Busy", email_config(sinks["busy"].account()))
    out = test_send(server, root, busy["id"])
    assert out["outcome"] == "retry" and out["code"] == 451, out
    assert out["retry_after_s"] == 60, out
    n = sinks["busy"].rcpts
    out = test_send(server, root, busy["id"])  # cooling down: not even tried
    assert out["outcome"] == "retry" and 0 < out["retry_after_s"] <= 60, out
    assert "cooling" in out["detail"] and sinks["busy"].rcpts == n, out
    rej = made(server, root, apps[0], "Reject", email_config(sinks["reject"].account()))
    out = test_send(server, root, rej["id"])
    assert out["outcome"] == "permanent" and out["code"] == 550, out
    out = test_send(server, root, rej["id"])  # a refused message does not cool the account
    assert out["outcome"] == "permanent" and out["code"] == 550, out


def test_concurrent_sends_share_the_pool(server, root, apps):
    """Sends at once through one channel: both accounts work in parallel, each on its own
    connection, and every message arrives once."""
    import concurrent.futures
    a, b = Sink(), Sink()
    try:
        ch = made(server, root, apps[0], "Parallel", email_config(a.account(), b.account()))
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            outs = list(ex.map(lambda i: test_send(server, root, ch["id"],
                                                   to="p%d@example.com" % i,
                                                   delivery_id="par-%d" % i), range(16)))
        assert [o["outcome"] for o in outs] == ["sent"] * 16, outs
        got = sorted(m[2]["Message-ID"] for m in a.messages + b.messages)
        assert got == sorted("<par-%d@herald>" % i for i in range(16)), got
        assert a.messages and b.messages, "round-robin uses both accounts"
        operator_call(server, root, "DELETE", "/admin/channels/" + ch["id"])
    finally:
        a.stop()
        b.stop()


def test_per_account_rate_limit(server, root, apps, sinks):
    good = sinks["good2"]
    ch = made(server, root, apps[0], "Rated", email_config(good.account(rate_per_min=2)))
    assert test_send(server, root, ch["id"])["outcome"] == "sent"
    assert test_send(server, root, ch["id"])["outcome"] == "sent"
    n = len(good.messages)
    out = test_send(server, root, ch["id"])
    assert out["outcome"] == "retry" and out["retry_after_s"] > 0, out
    assert len(good.messages) == n


@pytest.mark.parametrize("kind", ["starttls", "smtps"])
def test_tls_is_verified_against_the_accounts_ca(server, root, apps, sinks, kind):
    sink = sinks[kind]
    ch = made(server, root, apps[0], "TLS " + kind, email_config(sink.account()))
    assert ch["config"]["accounts"][0]["ca_pem"].startswith("-----BEGIN CERTIFICATE-----")
    n = len(sink.messages)
    out = test_send(server, root, ch["id"], title="over " + kind)
    assert out["outcome"] == "sent", out
    assert len(sink.messages) == n + 1 and sink.messages[-1][2]["Subject"] == "over " + kind
    # without the CA the self-signed certificate is refused: nothing is sent in the clear
    acc = sink.account()
    del acc["ca_pem"]
    ch = made(server, root, apps[0], "Untrusted " + kind, email_config(acc))
    out = test_send(server, root, ch["id"])
    assert out["outcome"] == "retry" and "SMTP failed" in out["detail"], out
    assert len(sink.messages) == n + 1


def test_an_unreachable_account_is_retried(server, root, apps):
    from smtp_sink import free_port
    ch = made(server, root, apps[0], "Down",
              email_config({"host": "127.0.0.1", "port": free_port(), "security": "none"}))
    out = test_send(server, root, ch["id"])
    assert out["outcome"] == "retry" and out["code"] == 0 and "SMTP failed" in out["detail"], out


# ---------------------------------------------------------------- permissions

def test_permissions_and_other_apps(server, root, apps, sinks):
    theirs = made(server, root, apps[1], "Theirs", email_config(sinks["good"].account()))
    mine = made(server, root, apps[0], "Mine", email_config(sinks["good"].account()))
    nobody = operator(server, root, "ch-nobody", ["users:read"])
    error_of(operator_call(server, nobody, "GET", "/admin/channels"), 403)
    error_of(operator_call(server, nobody, "GET", "/admin/channels/" + mine["id"]), 403)
    reader = operator(server, root, "ch-reader", ["notifications:read"], [apps[0]])
    r = operator_call(server, reader, "GET", "/admin/channels")
    assert r.status == 200 and {c["app_id"] for c in r.json()["results"]} == {apps[0]}, r
    assert operator_call(server, reader, "GET", "/admin/channels/" + mine["id"]).status == 200
    error_of(operator_call(server, reader, "GET", "/admin/channels/" + theirs["id"]), 404)
    error_of(create(server, reader, apps[0], "R", email_config(sinks["good"].account())), 403)
    error_of(operator_call(server, reader, "DELETE", "/admin/channels/" + mine["id"]), 403)
    error_of(operator_call(server, reader, "POST", "/admin/channels/%s/test" % mine["id"],
                           {"to": "a@b.example"}), 403)
    writer = operator(server, root, "ch-writer", ["channels:write"], [apps[0]])
    r = operator_call(server, writer, "GET", "/admin/channels?app_id=" + apps[1])
    error_of(r, 404, "app_id")
    for method, path, body in (("GET", "", None), ("PATCH", "", {"name": "x"}),
                               ("DELETE", "", None), ("POST", "/test", {"to": "a@b.example"})):
        r = operator_call(server, writer, method, "/admin/channels/" + theirs["id"] + path, body)
        error_of(r, 404)
    error_of(create(server, writer, apps[1], "W", email_config(sinks["good"].account())), 404,
             "app_id")
    assert operator_call(server, root, "GET", "/admin/channels/" + theirs["id"]).json()[
        "name"] == "Theirs"
    r = create(server, writer, apps[0], "Written", email_config(sinks["good"].account()))
    assert r.status == 201, r
    assert test_send(server, writer, r.json()["id"])["outcome"] == "sent"


def test_writes_are_audited(server, root, apps, sinks):
    ch = made(server, root, apps[0], "Audited", email_config(sinks["good"].account()))
    operator_call(server, root, "PATCH", "/admin/channels/" + ch["id"], {"name": "Audited 2"})
    test_send(server, root, ch["id"])
    operator_call(server, root, "DELETE", "/admin/channels/" + ch["id"])
    r = operator_call(server, root, "GET", "/admin/audit-log?page_size=100")
    assert r.status == 200, r
    rows = [a for a in r.json()["results"] if a.get("target") == ch["id"]]
    assert sorted(a["action"] for a in rows) == sorted(
        ["channel.create", "channel.update", "channel.test", "channel.delete"]), rows
    assert PASSWORD not in json.dumps(r.json())


# ---------------------------------------------------------------- shutdown

def test_shutdown_does_not_wait_for_a_hung_smtp_server(server_factory):
    """A server that accepts and never answers holds a test send; SIGTERM aborts the transfer
    at once instead of after the driver's 30 s timeout."""
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(8)
    hung.settimeout(15)
    srv = server_factory(env={"HERALD_SHUTDOWN_TIMEOUT": "500ms"})
    try:
        root = root_token(srv, "boss-hung")
        app = operator_call(srv, root, "POST", "/admin/apps", {"name": "Hung"}).json()["id"]
        ch = made(srv, root, app, "Hung", email_config(
            {"host": "127.0.0.1", "port": hung.getsockname()[1], "security": "none"}))
        answers = []

        def send():
            try:
                answers.append(operator_call(srv, root, "POST",
                                             "/admin/channels/%s/test" % ch["id"],
                                             {"to": "a@b.example"}).status)
            except Exception as e:  # the connection closed by the shutdown
                answers.append(repr(e))

        t = threading.Thread(target=send)
        t.start()
        conn, _ = hung.accept()  # the driver is connected and waits for the greeting
        time.sleep(0.3)
        elapsed = srv.stop()
        assert elapsed < 8, elapsed
        t.join(20)
        assert answers and answers[0] != 200, answers
        conn.close()
    finally:
        hung.close()
