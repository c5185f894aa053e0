"""
Local stand-ins for the providers of Herald's HTTP channel drivers, for the end-to-end tests.

One threaded `http.server` on 127.0.0.1 (random port) plays every provider on its own path,
and each part checks what the real provider documents before it answers success:

- /hook/...                    a webhook receiver: verifies X-Herald-Signature
                               (t=<ms>,v1=hex(HMAC-SHA256(secret, t + "." + body))).
- /robot/send?access_token=    DingTalk custom robot: timestamp (ms, within 1 h) and
                               sign = urlencode(base64(HMAC-SHA256(secret, ts + "\\n" + secret))).
- /cgi-bin/webhook/send?key=   WeCom group robot: msgtype text/markdown with its content.
- /open-apis/bot/v2/hook/...   Feishu custom bot: timestamp (s) and
                               sign = base64(HMAC-SHA256(key = ts + "\\n" + secret, msg = "")).
- /services/...                Slack incoming webhook: a JSON body with "text"; answers "ok".
- /aliyun/                     Aliyun SMS SendSms: the RPC signature recomputed from the form
                               (HMAC-SHA1, key secret + "&", over POST&%2F&percentEncode(sorted)),
                               fresh SignatureNonce, Timestamp within 15 min.
- /wx/cgi-bin/token            WeChat access token (grant_type=client_credential, appid,
- /wx/cgi-bin/message/template/send   secret); template sends need the current token, else
                               errcode 40001.

Every request is recorded (`requests`) with what the check found; `plan(path_prefix, ...)`
queues answers (status, body, headers, delay) for the next requests on a path.
"""
import base64
import calendar
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ALIYUN_KEYS = {"LTAI-test-key": "aliyun-test-secret"}
WX_APPS = {"wx-test-app": "wx-test-secret"}


def aliyun_pct(s):
    return urllib.parse.quote(s, safe="-_.~")


def aliyun_signature(method, params, secret):
    canon = "&".join(aliyun_pct(k) + "=" + aliyun_pct(v) for k, v in sorted(params.items()))
    sts = method + "&%2F&" + aliyun_pct(canon)
    return base64.b64encode(hmac.new((secret + "&").encode(), sts.encode(),
                                     hashlib.sha1).digest()).decode()


class Standins:
    def __init__(self, webhook_secret="whsec-test", robot_secret="SEC-robot-test"):
        self.webhook_secret = webhook_secret
        self.robot_secret = robot_secret
        self.requests = []
        self.lock = threading.Lock()
        self.plans = {}  # path prefix -> list of (status, body, headers, delay)
        self.nonces = set()
        self.wx_token = None
        self.wx_token_fetches = 0
        self.wx_serial = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                outer._handle(self, "GET")

            def do_POST(self):
                outer._handle(self, "POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def plan(self, prefix, status=200, body=None, headers=None, delay=0.0, times=1):
        with self.lock:
            self.plans.setdefault(prefix, []).extend([(status, body, headers or {}, delay)] * times)

    def wx_invalidate(self):
        """The current access token stops working (as when WeChat expires it early)."""
        with self.lock:
            self.wx_token = "revoked"

    def recorded(self, prefix):
        with self.lock:
            return [r for r in self.requests if r["path"].startswith(prefix)]

    # ------------------------------------------------------------------ dispatch

    def _handle(self, h, method):
        n = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(n) if n else b""
        parsed = urllib.parse.urlsplit(h.path)
        query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        rec = {"method": method, "path": parsed.path, "query": query, "raw_query": parsed.query,
               "headers": {k.lower(): v for k, v in h.headers.items()}, "body": raw,
               "ok": None, "why": "", "peer": h.client_address}
        planned = None
        with self.lock:
            self.requests.append(rec)  # recorded on arrival (a delayed answer may never go out)
            for prefix, queue in self.plans.items():
                if parsed.path.startswith(prefix) and queue:
                    planned = queue.pop(0)
                    break
        p = parsed.path
        if p.startswith("/hook/"):
            status, body, ctype = self._webhook(rec)
        elif p == "/robot/send":
            status, body, ctype = self._dingtalk(rec)
        elif p == "/cgi-bin/webhook/send":
            status, body, ctype = self._wecom(rec)
        elif p.startswith("/open-apis/bot/v2/hook/"):
            status, body, ctype = self._feishu(rec)
        elif p.startswith("/services/"):
            status, body, ctype = self._slack(rec)
        elif p.startswith("/aliyun"):
            status, body, ctype = self._aliyun(rec)
        elif p == "/wx/cgi-bin/token":
            status, body, ctype = self._wx_token(rec)
        elif p == "/wx/cgi-bin/message/template/send":
            status, body, ctype = self._wx_send(rec)
        else:
            status, body, ctype = 404, b"no such stand-in", "text/plain"
        extra = {}
        if planned is not None:
            pstatus, pbody, extra, delay = planned
            if delay:
                time.sleep(delay)
            status = pstatus
            if pbody is not None:
                body = pbody if isinstance(pbody, bytes) else json.dumps(pbody).encode()
                ctype = "application/json" if not isinstance(pbody, bytes) else "text/plain"
        rec["status"] = status
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in extra.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    @staticmethod
    def _json(obj, status=200):
        return status, json.dumps(obj).encode(), "application/json"

    # ------------------------------------------------------------------ providers

    def _webhook(self, rec):
        sig = rec["headers"].get("x-herald-signature", "")
        parts = dict(p.split("=", 1) for p in sig.split(",") if "=" in p)
        t, v1 = parts.get("t", ""), parts.get("v1", "")
        want = hmac.new(self.webhook_secret.encode(), t.encode() + b"." + rec["body"],
                        hashlib.sha256).hexdigest()
        rec["ok"] = bool(t) and hmac.compare_digest(want, v1)
        try:
            rec["json"] = json.loads(rec["body"])
            rec["ok"] = rec["ok"] and str(rec["json"].get("timestamp")) == t
        except ValueError:
            rec["ok"] = False
        if not rec["ok"]:
            rec["why"] = "bad signature"
            return 401, b"bad signature", "text/plain"
        return 200, b"", "text/plain"

    def _dingtalk(self, rec):
        q = rec["query"]
        ts, sign = q.get("timestamp", ""), q.get("sign", "")
        # the sign arrives URL-encoded once in the query: parse_qsl decoded it
        want = base64.b64encode(hmac.new(self.robot_secret.encode(),
                                         (ts + "\n" + self.robot_secret).encode(),
                                         hashlib.sha256).digest()).decode()
        fresh = ts.isdigit() and abs(int(ts) - time.time() * 1000) < 3600 * 1000
        try:
            rec["json"] = json.loads(rec["body"])
        except ValueError:
            return self._json({"errcode": 43004, "errmsg": "bad json"})
        if not (fresh and hmac.compare_digest(want, sign)):
            rec["ok"], rec["why"] = False, "sign not match"
            return self._json({"errcode": 310000, "errmsg": "sign not match"})
        mt = rec["json"].get("msgtype")
        good = (mt == "text" and isinstance(rec["json"].get("text", {}).get("content"), str)) or \
               (mt == "markdown" and isinstance(rec["json"].get("markdown", {}).get("title"), str)
                and isinstance(rec["json"]["markdown"].get("text"), str))
        rec["ok"] = good
        if not good:
            return self._json({"errcode": 40035, "errmsg": "missing parameter"})
        return self._json({"errcode": 0, "errmsg": "ok"})

    def _wecom(self, rec):
        try:
            j = rec["json"] = json.loads(rec["body"])
        except ValueError:
            return self._json({"errcode": 40001, "errmsg": "bad json"})
        if not rec["query"].get("key"):
            rec["ok"] = False
            return self._json({"errcode": 93000, "errmsg": "invalid webhook url"})
        mt = j.get("msgtype")
        good = mt in ("text", "markdown") and isinstance(j.get(mt, {}).get("content"), str)
        rec["ok"] = good
        if not good:
            return self._json({"errcode": 40008, "errmsg": "invalid message type"})
        limit = 2048 if mt == "text" else 4096  # bytes, as WeCom documents
        if len(j[mt]["content"].encode()) > limit:
            rec["ok"] = False
            return self._json({"errcode": 40058, "errmsg": "content exceed max length"})
        return self._json({"errcode": 0, "errmsg": "ok"})

    def _feishu(self, rec):
        try:
            j = rec["json"] = json.loads(rec["body"])
        except ValueError:
            return self._json({"code": 9499, "msg": "Bad Request", "data": {}})
        ts, sign = str(j.get("timestamp", "")), j.get("sign", "")
        key = (ts + "\n" + self.robot_secret).encode()
        want = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        fresh = ts.isdigit() and abs(int(ts) - time.time()) < 3600
        if not (fresh and hmac.compare_digest(want, sign)):
            rec["ok"], rec["why"] = False, "sign match fail"
            return self._json({"code": 19021, "msg": "sign match fail or timestamp is not "
                               "within one hour from current time", "data": {}})
        mt = j.get("msg_type")
        c = j.get("content", {})
        good = (mt == "text" and isinstance(c.get("text"), str)) or \
               (mt == "post" and isinstance(c.get("post", {}).get("zh_cn", {}).get("content"),
                                            list))
        rec["ok"] = good
        if not good:
            return self._json({"code": 9499, "msg": "Bad Request", "data": {}})
        return self._json({"code": 0, "msg": "success", "data": {}})

    def _slack(self, rec):
        try:
            j = rec["json"] = json.loads(rec["body"])
        except ValueError:
            rec["ok"] = False
            return 400, b"invalid_payload", "text/plain"
        good = isinstance(j.get("text"), str) and j["text"] != ""
        if "blocks" in j:
            good = good and all(b.get("type") == "section" and b["text"]["type"] == "mrkdwn"
                                and 0 < len(b["text"]["text"]) <= 3000 for b in j["blocks"])
        rec["ok"] = good
        if not good:
            return 400, b"invalid_payload", "text/plain"
        return 200, b"ok", "text/plain"

    def _aliyun(self, rec):
        form = dict(urllib.parse.parse_qsl(rec["body"].decode(), keep_blank_values=True))
        rec["form"] = form
        sig = form.pop("Signature", "")
        secret = ALIYUN_KEYS.get(form.get("AccessKeyId"))
        if secret is None:
            rec["ok"] = False
            return self._json({"Code": "InvalidAccessKeyId.NotFound", "Message": "no key"}, 404)
        want = aliyun_signature("POST", form, secret)
        if not hmac.compare_digest(want, sig):
            rec["ok"], rec["why"] = False, "signature mismatch"
            return self._json({"Code": "SignatureDoesNotMatch", "Message": "mismatch"}, 400)
        try:
            stamp = calendar.timegm(time.strptime(form.get("Timestamp", ""),
                                                  "%Y-%m-%dT%H:%M:%SZ"))
        except ValueError:
            stamp = 0
        nonce = form.get("SignatureNonce", "")
        with self.lock:
            reused = nonce in self.nonces
            self.nonces.add(nonce)
        fixed = (form.get("Action") == "SendSms" and form.get("Version") == "2017-05-25" and
                 form.get("SignatureMethod") == "HMAC-SHA1" and
                 form.get("SignatureVersion") == "1.0" and form.get("Format") == "JSON")
        if not fixed or abs(stamp - time.time()) > 900 or not nonce:
            rec["ok"] = False
            return self._json({"Code": "MissingParameter", "Message": "bad request"}, 400)
        if reused:
            rec["ok"] = False
            return self._json({"Code": "SignatureNonceUsed", "Message": "nonce used"}, 400)
        if "TemplateParam" in form:
            json.loads(form["TemplateParam"])
        rec["ok"] = True
        return self._json({"Code": "OK", "Message": "OK", "BizId": "biz-%d" % len(self.nonces),
                           "RequestId": "req"})

    def _wx_token(self, rec):
        q = rec["query"]
        if q.get("grant_type") != "client_credential" or \
                WX_APPS.get(q.get("appid")) != q.get("secret"):
            rec["ok"] = False
            return self._json({"errcode": 40125, "errmsg": "invalid appsecret"})
        with self.lock:
            self.wx_token_fetches += 1
            self.wx_token = "TOKEN-%d" % self.wx_token_fetches
            tok = self.wx_token
        rec["ok"] = True
        return self._json({"access_token": tok, "expires_in": 7200})

    def _wx_send(self, rec):
        with self.lock:
            current = self.wx_token
        if not current or rec["query"].get("access_token") != current:
            rec["ok"], rec["why"] = False, "invalid credential"
            return self._json({"errcode": 40001, "errmsg": "invalid credential, access_token "
                               "is invalid or not latest"})
        try:
            j = rec["json"] = json.loads(rec["body"])
        except ValueError:
            return self._json({"errcode": 47001, "errmsg": "data format error"})
        good = isinstance(j.get("touser"), str) and isinstance(j.get("template_id"), str) and \
            isinstance(j.get("data"), dict) and \
            all(isinstance(v, dict) and isinstance(v.get("value"), str)
                for v in j["data"].values())
        rec["ok"] = good
        if not good:
            return self._json({"errcode": 47001, "errmsg": "data format error"})
        with self.lock:
            self.wx_serial += 1
            msgid = 200000 + self.wx_serial
        return self._json({"errcode": 0, "errmsg": "ok", "msgid": msgid})
