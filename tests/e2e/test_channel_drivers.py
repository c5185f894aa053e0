"""
The HTTP channel drivers through the real binary (issue 11, item 4 and "Reliability and bad
input"): channels are created with `POST /admin/channels` and exercised with
`POST /admin/channels/{id}/test`, against local stand-ins of each provider
(provider_standins.py) that verify the request the way the provider documents it:

- webhook: the X-Herald-Signature HMAC verified by the receiver, X-Herald-Event-Id equal to
  the body's id; 2xx sent, 408/429/5xx retried (Retry-After kept), other 4xx permanent; a
  redirect is not followed; private and loopback targets refused unless
  HERALD_ALLOW_PRIVATE_TARGETS=1 (a second server runs without it);
- dingtalk and feishu signatures checked by the stand-ins (and a wrong secret refused);
  wecom and slack message formats;
- sms_aliyun: the RPC signature recomputed by the stand-in, the template code and params;
- wechat_mp: the access token fetched once and reused by the next send, fetched again after
  the provider answers 40001;
- secrets sealed: never in the answers (masked), and bad configs refused naming the member.
"""
import email.utils
import json
import threading
import time

import pytest

from conftest import http_request, module_server, run_herald
from provider_standins import ALIYUN_KEYS, WX_APPS, Standins

API = "/api/v1"
PW = "drivers test password 1"
WH_SECRET = "whsec-test"
ROBOT_SECRET = "SEC-robot-test"


@pytest.fixture(scope="module")
def standins():
    s = Standins(webhook_secret=WH_SECRET, robot_secret=ROBOT_SECRET)
    yield s
    s.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory, {"HERALD_ALLOW_PRIVATE_TARGETS": "1"})


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory):
    yield from module_server(tmp_path_factory, {"HERALD_ALLOW_PRIVATE_TARGETS": None})


def call(server, method, path, body=None, token=None):
    h = {}
    if token:
        h["Authorization"] = "Bearer " + token
    raw = None
    if body is not None:
        raw = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    return http_request(server.port, method, API + path, headers=h, body=raw, timeout=30)


def operator(server):
    p = run_herald(["admin", "create", "boss", "--password-stdin"], env=server.cli_env(),
                   input=PW + "\n")
    assert p.returncode == 0, p
    r = call(server, "POST", "/admin/auth/login", {"username": "boss", "password": PW})
    assert r.status == 200, r
    token = r.json()["access_token"]
    apps = call(server, "GET", "/admin/apps", token=token)
    assert apps.status == 200, apps
    app_id = [a for a in apps.json()["results"] if a["key"] == "default"][0]["id"]
    return token, app_id


_created = {}  # server port -> ids of the channels made on it


def delete_channels(server, token):
    """Deletes the channels a module made: their drivers close their kept-alive connections
    (so the server's fd count is back to its start when the module ends)."""
    for cid in _created.pop(server.port, []):
        r = call(server, "DELETE", "/admin/channels/%s" % cid, token=token)
        assert r.status == 204, r


@pytest.fixture(scope="module")
def admin(server):
    adm = operator(server)
    yield adm
    delete_channels(server, adm[0])


@pytest.fixture(scope="module")
def strict_admin(strict_server):
    adm = operator(strict_server)
    yield adm
    delete_channels(strict_server, adm[0])


_names = iter(range(1, 1_000_000))


def create(server, admin, kind, config, expect=201):
    token, app_id = admin
    r = call(server, "POST", "/admin/channels",
             {"app_id": app_id, "name": "%s-%d" % (kind, next(_names)), "kind": kind,
              "config": config}, token=token)
    assert r.status == expect, r
    _created.setdefault(server.port, []).append(r.json()["id"])
    return r.json()


def test_send(server, admin, channel, address=None, params=None, **extra):
    """POST /admin/channels/{id}/test; returns the attempt's result object."""
    token, _ = admin
    body = dict(extra)
    if address is not None:
        body["to"] = address
    if params is not None:
        body["params"] = params
    r = call(server, "POST", "/admin/channels/%s/test" % channel["id"], body, token=token)
    assert r.status == 200, r
    return r.json()


test_send.__test__ = False  # a helper, not a test


# --------------------------------------------------------------------------- webhook

def test_webhook_signed_with_event_id(server, admin, standins):
    ch = create(server, admin, "webhook", {"url": standins.url("/hook/signed"),
                                           "secret": WH_SECRET})
    before = len(standins.recorded("/hook/signed"))
    res = test_send(server, admin, ch, title="Hello", content="Body <b>&")
    assert res["outcome"] == "sent", res
    recs = standins.recorded("/hook/signed")[before:]
    assert len(recs) == 1
    rec = recs[0]
    assert rec["ok"], rec  # the receiver verified the HMAC over t + "." + body
    body = rec["json"]
    assert rec["headers"]["x-herald-event-id"] == body["id"] and body["id"]
    assert rec["headers"]["content-type"].startswith("application/json")
    assert set(body) >= {"id", "notification_id", "type", "title", "content", "data",
                         "timestamp"}


def test_webhook_event_id_stable_across_retries(server, admin, standins):
    """The queue retries a delivery with the same delivery id (the test send's delivery_id
    stands in for it): every attempt carries the same X-Herald-Event-Id and body id, each
    with a fresh, valid signature, so the receiver can drop the duplicates."""
    ch = create(server, admin, "webhook", {"url": standins.url("/hook/retried"),
                                           "secret": WH_SECRET})
    standins.plan("/hook/retried", 503)
    first = test_send(server, admin, ch, delivery_id="dlv-42", content="once")
    assert first["outcome"] == "retry", first
    second = test_send(server, admin, ch, delivery_id="dlv-42", content="once")
    assert second["outcome"] == "sent", second
    recs = standins.recorded("/hook/retried")[-2:]
    assert [r["headers"]["x-herald-event-id"] for r in recs] == ["dlv-42", "dlv-42"]
    assert [r["json"]["id"] for r in recs] == ["dlv-42", "dlv-42"]
    assert all(r["ok"] for r in recs), recs  # both signatures verified


def test_webhook_ad_hoc_target(server, admin, standins):
    """A channel without a URL serves ad-hoc {"webhook": url} recipients: the address is the
    target, signed with the channel's secret; a non-http(s) address is refused."""
    ch = create(server, admin, "webhook", {"secret": WH_SECRET})
    res = test_send(server, admin, ch, address=standins.url("/hook/adhoc"), data={"k": [1, 2]})
    assert res["outcome"] == "sent", res
    rec = standins.recorded("/hook/adhoc")[-1]
    assert rec["ok"] and rec["json"]["data"] == {"k": [1, 2]}, rec
    res = test_send(server, admin, ch, address="gopher://127.0.0.1:%d/" % standins.port)
    assert res["outcome"] == "permanent", res
    res = test_send(server, admin, ch)  # no target at all
    assert res["outcome"] == "permanent" and "no target" in res["detail"], res


def test_webhook_retry_after_date_and_long_reply(server, admin, standins):
    ch = create(server, admin, "webhook", {"url": standins.url("/hook/misc"),
                                           "secret": WH_SECRET})
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    standins.plan("/hook/misc", 503, body=b"", headers={"Retry-After": when})
    res = test_send(server, admin, ch)
    assert res["outcome"] == "retry" and 25 <= res["retry_after_s"] <= 31, res
    standins.plan("/hook/misc", 200, body=b"x" * (2 << 20))  # 2 MiB: read up to the cap
    res = test_send(server, admin, ch)
    assert res["outcome"] == "sent", res


def test_connections_reused_per_channel(server, admin, standins):
    """A channel keeps its connections alive: three sends, one TCP connection (the stand-in
    sees one client port); another channel has its own."""
    ch = create(server, admin, "webhook", {"url": standins.url("/hook/keepalive"),
                                           "secret": WH_SECRET})
    for _ in range(3):
        assert test_send(server, admin, ch)["outcome"] == "sent"
    peers = {r["peer"] for r in standins.recorded("/hook/keepalive")}
    assert len(peers) == 1, peers
    other = create(server, admin, "webhook", {"url": standins.url("/hook/keepalive"),
                                              "secret": WH_SECRET})
    assert test_send(server, admin, other)["outcome"] == "sent"
    assert len({r["peer"] for r in standins.recorded("/hook/keepalive")}) == 2


def test_webhook_wrong_secret_is_refused_by_the_receiver(server, admin, standins):
    ch = create(server, admin, "webhook", {"url": standins.url("/hook/wrong"),
                                           "secret": "not the receiver's secret"})
    res = test_send(server, admin, ch)
    assert res["outcome"] == "permanent" and res["code"] == 401, res
    assert standins.recorded("/hook/wrong")[-1]["ok"] is False


@pytest.mark.parametrize("status,outcome", [
    (200, "sent"), (202, "sent"), (204, "sent"),
    (400, "permanent"), (404, "permanent"), (410, "permanent"),
    (408, "retry"), (429, "retry"), (500, "retry"), (503, "retry"),
])
def test_webhook_outcomes(server, admin, standins, status, outcome):
    path = "/hook/status-%d" % status
    ch = create(server, admin, "webhook", {"url": standins.url(path), "secret": WH_SECRET})
    standins.plan(path, status, body=b"", headers={"Retry-After": "7"})
    res = test_send(server, admin, ch)
    assert res["outcome"] == outcome, res
    assert res["code"] == status
    if outcome == "retry":
        assert res["retry_after_s"] == 7, res


def test_webhook_timeout_is_a_retry(server, admin, standins):
    ch = create(server, admin, "webhook", {"url": standins.url("/hook/slow"),
                                           "secret": WH_SECRET, "timeout_s": 1})
    standins.plan("/hook/slow", 200, delay=2.5)
    res = test_send(server, admin, ch)
    assert res["outcome"] == "retry", res
    assert "timeout" in res["detail"].lower() or "timed out" in res["detail"].lower(), res


def test_redirect_is_not_followed(server, admin, standins):
    ch = create(server, admin, "webhook", {"url": standins.url("/hook/moved"),
                                           "secret": WH_SECRET})
    standins.plan("/hook/moved", 302, headers={"Location": standins.url("/hook/target")})
    before = len(standins.recorded("/hook/target"))
    res = test_send(server, admin, ch)
    assert res["outcome"] == "permanent" and res["code"] == 302, res
    assert "redirect" in res["detail"]
    assert len(standins.recorded("/hook/target")) == before


def test_private_targets_refused_without_the_setting(strict_server, strict_admin, standins):
    before = len(standins.requests)
    for url in (standins.url("/hook/private"),
                "http://localhost:%d/hook/private" % standins.port,
                "http://[::1]:%d/hook/private" % standins.port,
                "http://[::ffff:127.0.0.1]:%d/hook/private" % standins.port,
                "http://0x7f000001:%d/hook/private" % standins.port,
                "http://169.254.169.254/latest/meta-data/",
                "http://10.0.0.1/hook"):
        ch = create(strict_server, strict_admin, "webhook", {"url": url, "secret": WH_SECRET})
        res = test_send(strict_server, strict_admin, ch)
        assert res["outcome"] == "permanent", (url, res)
        assert "target refused" in res["detail"], (url, res)
    # robots and providers with a base URL go through the same guard
    ch = create(strict_server, strict_admin, "slack", {"url": standins.url("/services/T/B/X")})
    res = test_send(strict_server, strict_admin, ch)
    assert res["outcome"] == "permanent" and "target refused" in res["detail"], res
    assert len(standins.requests) == before  # nothing reached the stand-ins


def test_config_checked_and_secrets_masked(server, admin, standins):
    token, app_id = admin
    for kind, config, field in [
        ("webhook", {"url": "ftp://example.com/x", "secret": "s"}, "config.url"),
        ("webhook", {"url": "https://example.com/x"}, "config.secret"),
        ("webhook", {"secret": "s", "timeout_s": 300}, "config.timeout_s"),
        ("dingtalk", {"url": "https://oapi.dingtalk.com/robot/send", "msgtype": "post"},
         "config.msgtype"),
        ("sms_aliyun", {"access_key_id": "k", "access_key_secret": "s", "sign_name": "n"},
         "config.template_code"),
        ("wechat_mp", {"app_id": "wx", "template_id": "T"}, "config.app_secret"),
    ]:
        r = call(server, "POST", "/admin/channels",
                 {"app_id": app_id, "name": "bad-%d" % next(_names), "kind": kind,
                  "config": config}, token=token)
        assert r.status in (400, 422), (kind, r)
        assert r.json()["error"]["field"] == field, (kind, r)
    ch = create(server, admin, "sms_aliyun", {
        "access_key_id": "LTAI-test-key", "access_key_secret": "aliyun-test-secret",
        "sign_name": "Herald", "template_code": "SMS_1", "base_url": standins.url("/aliyun/")})
    got = call(server, "GET", "/admin/channels/%s" % ch["id"], token=token)
    assert got.status == 200, got
    assert "aliyun-test-secret" not in got.body.decode()
    assert "aliyun-test-secret" not in json.dumps(ch)
    assert got.json()["config"]["access_key_id"] == "LTAI-test-key"


def test_robot_url_is_a_secret(server, admin, standins):
    """A robot's URL is its credential: masked when read; sending the config back as read
    keeps it (the channel still reaches the robot), a new URL replaces it."""
    token, _ = admin
    url = standins.url("/services/T9/B9/secret-part-xyz")
    ch = create(server, admin, "slack", {"url": url, "msgtype": "text"})
    assert "secret-part" not in json.dumps(ch)
    got = call(server, "GET", "/admin/channels/%s" % ch["id"], token=token).json()
    assert got["config"]["url"].startswith("****") and "secret-part" not in got["config"]["url"]
    r = call(server, "PATCH", "/admin/channels/%s" % ch["id"],
             {"name": ch["name"] + "-renamed", "config": got["config"]}, token=token)
    assert r.status == 200, r
    assert test_send(server, admin, ch)["outcome"] == "sent"
    assert standins.recorded("/services/T9/B9/secret-part-xyz")[-1]["ok"]
    moved = standins.url("/services/T9/B9/other")
    r = call(server, "PATCH", "/admin/channels/%s" % ch["id"],
             {"config": {"url": moved, "msgtype": "text"}}, token=token)
    assert r.status == 200, r
    assert test_send(server, admin, ch)["outcome"] == "sent"
    assert standins.recorded("/services/T9/B9/other")


# --------------------------------------------------------------------------- robots

def test_dingtalk_signed(server, admin, standins):
    ch = create(server, admin, "dingtalk", {
        "url": standins.url("/robot/send?access_token=tok1"), "secret": ROBOT_SECRET})
    res = test_send(server, admin, ch, title="Deploy", content="v1.2 is live")
    assert res["outcome"] == "sent", res
    rec = standins.recorded("/robot/send")[-1]
    assert rec["ok"] and rec["query"]["access_token"] == "tok1", rec
    assert rec["json"]["msgtype"] == "markdown"
    assert "v1.2 is live" in rec["json"]["markdown"]["text"]
    bad = create(server, admin, "dingtalk", {
        "url": standins.url("/robot/send?access_token=tok1"), "secret": "SEC-other",
        "msgtype": "text"})
    res = test_send(server, admin, bad)
    assert res["outcome"] == "permanent" and "310000" in res["detail"], res


def test_wecom_format(server, admin, standins):
    ch = create(server, admin, "wecom", {
        "webhook_url": standins.url("/cgi-bin/webhook/send?key=k-1"), "msgtype": "text"})
    res = test_send(server, admin, ch, title="Alert", content="disk full")
    assert res["outcome"] == "sent", res
    rec = standins.recorded("/cgi-bin/webhook/send")[-1]
    assert rec["ok"] and rec["json"] == {"msgtype": "text",
                                         "text": {"content": "Alert\ndisk full"}}, rec
    long = "长" * 3000  # 9000 bytes: cut to WeCom's limit at a character boundary
    res = test_send(server, admin, ch, title="Long", content=long)
    assert res["outcome"] == "sent", res
    sent = standins.recorded("/cgi-bin/webhook/send")[-1]["json"]["text"]["content"]
    assert len(sent.encode()) <= 2048 and sent.endswith("...") and "\ufffd" not in sent
    standins.plan("/cgi-bin/webhook/send", 200, body={"errcode": 45009, "errmsg": "freq"})
    assert test_send(server, admin, ch)["outcome"] == "retry"
    standins.plan("/cgi-bin/webhook/send", 200, body={"errcode": 93000, "errmsg": "bad url"})
    assert test_send(server, admin, ch)["outcome"] == "permanent"


def test_feishu_signed(server, admin, standins):
    ch = create(server, admin, "feishu", {
        "url": standins.url("/open-apis/bot/v2/hook/h-1"), "secret": ROBOT_SECRET})
    res = test_send(server, admin, ch, title="Build", content="green")
    assert res["outcome"] == "sent", res
    rec = standins.recorded("/open-apis/bot/v2/hook/h-1")[-1]
    assert rec["ok"] and rec["json"]["msg_type"] == "post", rec
    bad = create(server, admin, "feishu", {
        "url": standins.url("/open-apis/bot/v2/hook/h-1"), "secret": "other"})
    res = test_send(server, admin, bad)
    assert res["outcome"] == "permanent" and "19021" in res["detail"], res


def test_slack_format(server, admin, standins):
    ch = create(server, admin, "slack", {"url": standins.url("/services/T1/B1/x")})
    res = test_send(server, admin, ch, title="Hi <all>", content="a & b")
    assert res["outcome"] == "sent", res
    rec = standins.recorded("/services/T1/B1/x")[-1]
    assert rec["ok"], rec
    assert rec["json"]["text"] == "*Hi &lt;all&gt;*\na &amp; b"
    blocks = create(server, admin, "slack", {"url": standins.url("/services/T1/B1/x"),
                                             "msgtype": "blocks"})
    res = test_send(server, admin, blocks, title="Report", content="<é>" * 2000)
    assert res["outcome"] == "sent", res  # the stand-in refuses a section over 3000
    standins.plan("/services/T1/B1/x", 429, body=b"rate_limited", headers={"Retry-After": "3"})
    res = test_send(server, admin, ch)
    assert res["outcome"] == "retry" and res["retry_after_s"] == 3, res


# --------------------------------------------------------------------------- SMS, WeChat

def test_sms_aliyun_signed(server, admin, standins):
    key = "LTAI-test-key"
    ch = create(server, admin, "sms_aliyun", {
        "access_key_id": key, "access_key_secret": ALIYUN_KEYS[key], "sign_name": "Herald 测试",
        "template_code": "SMS_100", "base_url": standins.url("/aliyun/")})
    res = test_send(server, admin, ch, address="13800000000", params={"code": "4321", "n": 3})
    assert res["outcome"] == "sent", res
    rec = standins.recorded("/aliyun")[-1]
    assert rec["ok"], rec  # signature recomputed by the stand-in
    f = rec["form"]
    assert f["PhoneNumbers"] == "13800000000" and f["TemplateCode"] == "SMS_100"
    assert json.loads(f["TemplateParam"]) == {"code": "4321", "n": "3"}
    assert res["provider_id"].startswith("biz-")
    bad = create(server, admin, "sms_aliyun", {
        "access_key_id": key, "access_key_secret": "wrong", "sign_name": "Herald",
        "template_code": "SMS_100", "base_url": standins.url("/aliyun/")})
    res = test_send(server, admin, bad, address="13800000000")
    assert res["outcome"] == "permanent" and "SignatureDoesNotMatch" in res["detail"], res
    standins.plan("/aliyun", 200, body={"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "x"})
    assert test_send(server, admin, ch, address="13800000000")["outcome"] == "retry"
    res = test_send(server, admin, ch, address="not-a-phone\r\n")
    assert res["outcome"] == "permanent", res


def test_sms_aliyun_template_per_type(server, admin, standins):
    key = "LTAI-test-key"
    ch = create(server, admin, "sms_aliyun", {
        "access_key_id": key, "access_key_secret": ALIYUN_KEYS[key], "sign_name": "Herald",
        "templates": {"order.shipped": "SMS_200", "auth.code": "SMS_300"},
        "base_url": standins.url("/aliyun/")})
    for typ, code in (("order.shipped", "SMS_200"), ("auth.code", "SMS_300")):
        res = test_send(server, admin, ch, address="+8613800000000", type=typ)
        assert res["outcome"] == "sent", res
        assert standins.recorded("/aliyun")[-1]["form"]["TemplateCode"] == code
    before = len(standins.recorded("/aliyun"))
    res = test_send(server, admin, ch, address="13800000000", type="other.type")
    assert res["outcome"] == "permanent" and "no SMS template" in res["detail"], res
    assert len(standins.recorded("/aliyun")) == before


def test_wechat_mp_token_cached_and_refreshed(server, admin, standins):
    app = "wx-test-app"
    ch = create(server, admin, "wechat_mp", {
        "app_id": app, "app_secret": WX_APPS[app], "template_id": "TPL-1",
        "base_url": standins.url("/wx")})
    fetches = standins.wx_token_fetches
    for i in range(2):
        res = test_send(server, admin, ch, address="openid-%d" % i,
                        params={"first": "hello", "amount": 12})
        assert res["outcome"] == "sent", res
    assert standins.wx_token_fetches == fetches + 1  # fetched once, reused by the second send
    rec = standins.recorded("/wx/cgi-bin/message/template/send")[-1]
    assert rec["json"] == {"touser": "openid-1", "template_id": "TPL-1",
                           "data": {"first": {"value": "hello"}, "amount": {"value": "12"}}}
    standins.wx_invalidate()  # WeChat drops the token early: the next send gets 40001
    res = test_send(server, admin, ch, address="openid-9", params={"first": "again"})
    assert res["outcome"] == "sent", res
    assert standins.wx_token_fetches == fetches + 2
    sends = standins.recorded("/wx/cgi-bin/message/template/send")[-2:]
    assert [s["ok"] for s in sends] == [False, True]


def test_wechat_mp_bad_secret(server, admin, standins):
    ch = create(server, admin, "wechat_mp", {
        "app_id": "wx-test-app", "app_secret": "not the secret", "template_id": "TPL-1",
        "base_url": standins.url("/wx")})
    before = len(standins.recorded("/wx/cgi-bin/message"))
    res = test_send(server, admin, ch, address="openid-1")
    assert res["outcome"] == "permanent" and "40125" in res["detail"], res
    assert len(standins.recorded("/wx/cgi-bin/message")) == before  # nothing sent


# --------------------------------------------------------------------------- shutdown

def test_hung_provider_does_not_hold_shutdown(server_factory, standins):
    """A provider that takes the request and never answers (within a 30 s timeout) does not
    delay the server's stop: once the request drain (HERALD_SHUTDOWN_TIMEOUT) is over, the
    transfer is aborted instead of running into its 30 s timeout."""
    srv = server_factory(env={"HERALD_ALLOW_PRIVATE_TARGETS": "1",
                              "HERALD_SHUTDOWN_TIMEOUT": "500ms"})
    adm = operator(srv)
    ch = create(srv, adm, "webhook", {"url": standins.url("/hook/hung"), "secret": WH_SECRET,
                                      "timeout_s": 30})
    standins.plan("/hook/hung", 200, delay=20)
    before = len(standins.recorded("/hook/hung"))
    answers = []

    def send():
        try:
            answers.append(call(srv, "POST", "/admin/channels/%s/test" % ch["id"], {},
                                token=adm[0]).status)
        except Exception as e:  # the connection closed by the shutdown
            answers.append(repr(e))

    t = threading.Thread(target=send, daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while len(standins.recorded("/hook/hung")) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(standins.recorded("/hook/hung")) == before + 1
    elapsed = srv.stop()
    assert elapsed < 8, elapsed
    t.join(20)
    assert answers and answers[0] != 200, answers
