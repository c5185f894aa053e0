"""
The two clients of docs/client.md against the real server: clients/python/herald_client.py
(asyncio, `websockets`) and the JavaScript SDK clients/js/index.js (@herald/client) in headless
Chromium, driven over the DevTools protocol. The server serves the JS module, unchanged, and a
small test page from HERALD_STATIC_DIR, so the page is same-origin with /ws (the default Origin
check). The SDK's unit tests (a fake socket, fake timers) are clients/js/test/ (Vitest).

The same scenario for both: two users with app-minted tokens; A sends, B receives; B goes
away keeping its cursor, A sends 150 more, B comes back with that cursor and syncs exactly
the 150 it missed, in order (two sync pages); a send whose connection drops before its
answer is resent with the same client_msg_id after the reconnect, and the conversation holds
it once. Last, the SDK survives a server restart (a server-side close, 1001): a send made
while the server is down is delivered once after the reconnect, and the messages sent around
the reconnect all reach the other side once, in order, through sync.
"""
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings

import pytest
import websockets

from conftest import REPO_ROOT, http_request, module_server, wait_until
from test_conversations import App, app_headers

sys.path.insert(0, os.path.join(REPO_ROOT, "clients", "python"))
from herald_client import HeraldClient  # noqa: E402

CLIENT_JS = os.path.join(REPO_ROOT, "clients", "js", "index.js")
MISSED = 150  # messages sent while B is away: more than one sync page (100 by default)

# The test page: it imports the client module as it is in the repository.
PAGE = """<!doctype html>
<meta charset="utf-8">
<title>herald client test</title>
<script type="module">
import { HeraldClient, HeraldRest } from "./index.js";
window.HeraldRest = HeraldRest;
window.t = {
  make(token, cursor = null, opts = {}) {
    const c = new HeraldClient({ url: `ws://${location.host}/ws`, token, cursor,
                                 backoffInitialMs: 100, ...opts });
    c.frames = [];
    c.addEventListener("frame", (e) => c.frames.push(e.detail));
    c.connect();
    return c;
  },
  async waitFor(c, pred, ms = 10000) {
    const end = Date.now() + ms;
    for (;;) {
      const f = c.frames.find(pred);
      if (f) return f;
      if (Date.now() > end) throw new Error("no matching frame in " + JSON.stringify(c.frames));
      await new Promise((r) => setTimeout(r, 20));
    }
  },
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};
window.heraldReady = true;
</script>
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    static = tmp_path_factory.mktemp("static")
    shutil.copyfile(CLIENT_JS, str(static / "index.js"))
    (static / "client-test.html").write_text(PAGE)
    yield from module_server(tmp_path_factory, env={"HERALD_STATIC_DIR": str(static)})


@pytest.fixture(scope="module")
def app(server):
    a = App(server, app_headers(server))
    a.users("ann", "ben", "jay", "kim")
    return a


def direct(app, a, b):
    r = app.call(a, "POST", "/conversations", {"type": "direct", "peer": b})
    assert r.status in (200, 201), r
    return r.json()["id"]


def stored(app, uid, conv):
    """The conversation's messages, oldest first, as [client_msg_id, id, content]."""
    out, after = [], 0
    while True:
        r = app.call(uid, "GET", "/conversations/%s/messages?after_seq=%d&limit=100"
                     % (conv, after))
        assert r.status == 200, r
        page = r.json()
        out += [[m["client_msg_id"], m["id"], m["content"]] for m in page["results"]]
        if not page["has_more"]:
            return out
        after = page["results"][-1]["seq"]


# --------------------------------------------------------------------------- Python

def test_python_client_live_sync_and_retry(server, app):
    conv = direct(app, "ann", "ben")
    url = "ws://127.0.0.1:%d/ws" % server.port

    async def scenario():
        a = HeraldClient(url, token=app.token("ann"), backoff_initial=0.1)
        b = HeraldClient(url, token=app.token("ben"), backoff_initial=0.1)
        await a.start()
        await b.start()

        # live: A sends, B receives
        ok = await a.send("one", conversation_id=conv)
        got = await b.next_event(lambda f: f["type"] == "message.new")
        assert got["message"]["id"] == ok["id"] and got["message"]["content"] == "one", got
        assert got["cursor"] == ok["cursor"] == b.cursor

        # B goes away with its cursor; A sends more than a page; B comes back and syncs
        # exactly those
        cursor = b.cursor
        await b.close()
        missed = [await a.send("m%d" % i, conversation_id=conv) for i in range(MISSED)]
        seen = []  # every frame b2 delivers
        b2 = HeraldClient(url, token=app.token("ben"), cursor=cursor, backoff_initial=0.1,
                          on_event=seen.append)
        await b2.start()
        await asyncio.sleep(0.3)  # time for a stray duplicate to show
        synced = [[f["message"]["content"], f["message"]["seq"], f["cursor"]]
                  for f in seen if f["type"] == "message.new"]
        assert synced == [["m%d" % i, 2 + i, ok["cursor"]] for i, ok in enumerate(missed)]
        assert b2.cursor == missed[-1]["cursor"]

        # a send whose connection drops before the answer: resent after the reconnect with
        # the same client_msg_id, one message; the same send again is a replay
        pending = asyncio.ensure_future(a.send("retry", conversation_id=conv,
                                               client_msg_id="py-retry-1"))
        while "py-retry-1" not in a.pending or a.pending["py-retry-1"]["attempts"] == 0:
            await asyncio.sleep(0.001)
        await a.reconnect()
        first = await asyncio.wait_for(pending, 10)
        again = await a.send("retry", conversation_id=conv, client_msg_id="py-retry-1")
        assert again["id"] == first["id"] and again.get("replay") is True, (first, again)
        assert a.connects == 2
        after = await a.send("after", conversation_id=conv)
        await b2.next_event(lambda f: f["type"] == "message.new"
                            and f["message"]["id"] == after["id"])
        copies = [f for f in seen if f["type"] == "message.new"
                  and f["message"]["client_msg_id"] == "py-retry-1"]
        await a.close()
        await b2.close()
        return first, copies

    first, copies = asyncio.run(scenario())
    assert [m for m in stored(app, "ben", conv) if m[0] == "py-retry-1"] == [
        ["py-retry-1", first["id"], "retry"]]
    assert len(copies) == 1, copies


def test_python_client_catches_up_notifications_through_sync(server, app):
    """Notifications are events of the log (docs/notifications.md): the client's cursor
    follows them, and one that came while it was away is replayed by sync, in cursor order
    with the messages, each handed over once (a re-send of one not ACKed too)."""
    app.users("nia", "oto")
    conv = direct(app, "oto", "nia")
    url = "ws://127.0.0.1:%d/ws" % server.port

    def notify(title):
        body = {"type": "py.note", "recipients": ["nia"], "title": title, "content": title}
        r = http_request(server.port, "POST", "/api/v1/notifications", app.headers,
                         json.dumps(body).encode(), timeout=30)
        assert r.status == 202, r
        nid = r.json()["id"]

        def sent():  # logged when the queue sends it, not when it is accepted
            r = http_request(server.port, "GET", "/api/v1/notifications/" + nid, app.headers,
                             None, timeout=30)
            return all(d["status"] != "pending" and d["status"] != "sending"
                       for d in r.json()["deliveries"])
        wait_until(sent, what="sent")

    async def scenario():
        b = HeraldClient(url, token=app.token("nia"), backoff_initial=0.1)
        await b.start()
        notify("live")
        live = await b.next_event(lambda f: f["type"] == "notification")
        assert live["cursor"].isdigit() and b.cursor == live["cursor"], live
        cursor = b.cursor
        await b.close()
        notify("away 1")
        ok = app.call("oto", "POST", "/conversations/%s/messages" % conv,
                      {"type": "text", "content": "between"}).json()
        notify("away 2")
        seen = []
        b2 = HeraldClient(url, token=app.token("nia"), cursor=cursor, backoff_initial=0.1,
                          on_event=seen.append)
        await b2.start()
        await b2.next_event(lambda f: f["type"] == "notification"
                            and f["notification"]["title"] == "away 2")
        await asyncio.sleep(0.3)  # time for a stray duplicate to show
        await b2.close()
        return live, ok, seen, b2.cursor

    live, ok, seen, last = asyncio.run(scenario())
    titles = [f["notification"]["title"] for f in seen if f["type"] == "notification"]
    assert sorted(titles) == ["away 1", "away 2", "live"], titles  # once each
    order = [f["notification"]["title"] if f["type"] == "notification" else f["message"]["id"]
             for f in seen if f["type"] in ("notification", "message.new")]
    assert order.index("away 1") < order.index(ok["id"]) < order.index("away 2"), order
    assert int(last) > int(ok["cursor"]) > int(live["cursor"])


# --------------------------------------------------------------------------- Chromium

class Chromium:
    """A headless Chromium driven over the DevTools protocol (one page)."""

    def __init__(self, binary):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="herald-chromium-")
        self.proc = None
        self.ws = None
        self.next_id = 0

    async def start(self, timeout=30.0):
        self.log = open(os.path.join(self.dir, "stderr.txt"), "wb")
        self.proc = subprocess.Popen(
            [self.binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-dev-shm-usage",
             "--remote-debugging-port=0", "--user-data-dir=" + self.dir, "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        active = os.path.join(self.dir, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        port = None
        while port is None:
            try:
                with open(active) as f:
                    first = f.readline().strip()
                port = int(first) if first else None
            except (OSError, ValueError):
                pass
            if port is None:
                assert self.proc.poll() is None, "chromium exited: %s" % self.stderr()
                assert time.monotonic() < deadline, "no DevToolsActivePort: %s" % self.stderr()
                await asyncio.sleep(0.05)
        page = None
        while page is None:
            with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port) as r:
                targets = json.loads(r.read())
            page = next((t for t in targets if t.get("type") == "page"), None)
            if page is None:
                assert time.monotonic() < deadline, "no page target: %r" % targets
                await asyncio.sleep(0.05)
        self.ws = await websockets.connect(page["webSocketDebuggerUrl"], max_size=None,
                                           ping_interval=None)

    def stderr(self):
        with open(os.path.join(self.dir, "stderr.txt"), "rb") as f:
            return f.read().decode("utf-8", "replace")[-3000:]

    async def call(self, method, params=None, timeout=30.0):
        self.next_id += 1
        mid = self.next_id
        await self.ws.send(json.dumps({"id": mid, "method": method, "params": params or {}}))
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if msg.get("id") == mid:
                assert "error" not in msg, msg
                return msg["result"]

    async def evaluate(self, expr, timeout=30.0):
        """The value of expr in the page (a promise is awaited); a JS exception fails."""
        r = await self.call("Runtime.evaluate", {"expression": expr, "awaitPromise": True,
                                                 "returnByValue": True}, timeout)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise AssertionError("page: %s %s" % (d.get("text"),
                                                  d.get("exception", {}).get("description")))
        return r["result"].get("value")

    async def open(self, url, timeout=15.0):
        await self.call("Page.navigate", {"url": url})
        deadline = time.monotonic() + timeout
        while await self.evaluate("window.heraldReady === true") is not True:
            assert time.monotonic() < deadline, "the test page did not load: %s" % self.stderr()
            await asyncio.sleep(0.05)

    async def stop(self):
        if self.ws is not None:
            await self.ws.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def chromium_binary():
    path = shutil.which("chromium")
    if path is None:
        message = ("CHROMIUM IS NOT INSTALLED: the browser test of clients/js/index.js "
                   "did not run. `make deps` installs it (Debian package chromium).")
        print("\n" + "!" * 78 + "\n" + message + "\n" + "!" * 78, file=sys.stderr)
        warnings.warn(message)  # in pytest's warnings summary, even with -q
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def test_js_client_in_chromium_live_sync_and_retry(server, app):
    binary = chromium_binary()
    conv = direct(app, "jay", "kim")
    tokens = {u: app.token(u) for u in ("jay", "kim")}

    async def scenario(browser):
        await browser.open(server.url("/client-test.html"))
        q = json.dumps

        # live: A sends, B receives
        live = await browser.evaluate("""(async () => {
            window.A = t.make(%s); window.B = t.make(%s);
            await A.synced(); await B.synced();
            const ok = await A.send({ conversationId: %s, content: "one" });
            const got = await t.waitFor(B, (f) => f.type === "message.new");
            return { ok, got, cursor: B.cursor };
        })()""" % (q(tokens["jay"]), q(tokens["kim"]), q(conv)))

        # B goes away with its cursor; A sends more than a page; B comes back and syncs
        # exactly those
        back = await browser.evaluate("""(async () => {
            const cursor = B.cursor;
            B.close();
            const missed = [];
            for (let i = 0; i < %d; i++)
              missed.push(await A.send({ conversationId: %s, content: `m${i}` }));
            window.B2 = t.make(%s, cursor);
            await B2.synced();
            await t.sleep(300);
            const synced = B2.frames.filter((f) => f.type === "message.new")
                .map((f) => [f.message.content, f.message.seq, f.cursor]);
            return { missed, synced, cursor: B2.cursor };
        })()""" % (MISSED, q(conv), q(tokens["kim"])))

        # a send whose connection drops before the answer: resent after the reconnect
        retry = await browser.evaluate("""(async () => {
            const pending = A.send({ conversationId: %s, content: "retry",
                                     clientMsgId: "js-retry-1" });
            A.reconnect();
            const first = await pending;
            const again = await A.send({ conversationId: %s, content: "retry",
                                         clientMsgId: "js-retry-1" });
            const after = await A.send({ conversationId: %s, content: "after" });
            await t.waitFor(B2, (f) => f.type === "message.new" && f.message.id === after.id);
            const copies = B2.frames.filter((f) => f.type === "message.new"
                && f.message.client_msg_id === "js-retry-1").length;
            const connects = A.connects;
            A.close(); B2.close();
            return { first, again, copies, connects };
        })()""" % (q(conv), q(conv), q(conv)))
        return live, back, retry

    async def main():
        browser = Chromium(binary)
        try:
            await browser.start()
            return await scenario(browser)
        finally:
            await browser.stop()

    live, back, retry = asyncio.run(main())
    assert live["got"]["message"]["id"] == live["ok"]["id"], live
    assert live["got"]["message"]["content"] == "one", live
    assert live["cursor"] == live["ok"]["cursor"], live

    assert back["synced"] == [["m%d" % i, 2 + i, ok["cursor"]]
                              for i, ok in enumerate(back["missed"])], back["synced"]
    assert back["cursor"] == back["missed"][-1]["cursor"], back["cursor"]

    assert retry["connects"] == 2, retry
    assert retry["again"]["id"] == retry["first"]["id"], retry
    assert retry["again"].get("replay") is True, retry
    assert retry["copies"] == 1, retry
    assert [m for m in stored(app, "kim", conv) if m[0] == "js-retry-1"] == [
        ["js-retry-1", retry["first"]["id"], "retry"]]


AROUND = 30  # messages sent over HTTP while the SDK reconnects after the restart


def test_js_sdk_survives_a_server_restart(server, app):
    """Runs last against the module's server: it restarts it (on the same port, so the page
    keeps its origin)."""
    binary = chromium_binary()
    app.users("liz", "max")
    conv = direct(app, "liz", "max")
    tokens = {u: app.token(u) for u in ("liz", "max")}
    q = json.dumps

    async def scenario(browser):
        await browser.open(server.url("/client-test.html"))
        first = await browser.evaluate("""(async () => {
            const opts = { backoffMaxMs: 500 };
            window.L = t.make(%s, null, opts); window.M = t.make(%s, null, opts);
            window.states = [];
            M.on("state", (f) => states.push(f.state));
            window.got = [];
            M.on("message.new", (f) => got.push([f.message.content, f.message.seq]));
            await L.synced(); await M.synced();
            const ok = await L.send({ conversationId: %s, content: "before" });
            await t.waitFor(M, (f) => f.type === "message.new" && f.message.id === ok.id);
            return { cursor: M.cursor };
        })()""" % (q(tokens["liz"]), q(tokens["max"]), q(conv)))

        # the server goes away (close 1001 to every socket) and comes back on the same port
        server.stop()
        down = await browser.evaluate("""(async () => {
            await t.waitFor(M, (f) => f.type === "client.closed");
            window.offline = L.send({ conversationId: %s, content: "sent while down",
                                      clientMsgId: "js-down-1" });
            return { state: M.state, code: M.frames.find((f) => f.type === "client.closed").code,
                     pending: L.pending.size };
        })()""" % q(conv))
        server.env["HERALD_LISTEN"] = "127.0.0.1:%d" % server.port
        server.start()
        around = []
        for i in range(AROUND):  # some before the SDK is back, some after
            r = app.call("liz", "POST", "/conversations/%s/messages" % conv,
                         {"type": "text", "content": "a%d" % i, "client_msg_id": "http-a%d" % i})
            assert r.status in (200, 201), r
            around.append(r.json()["seq"])
            await asyncio.sleep(0.02)
        after = await browser.evaluate("""(async () => {
            const ok = await offline;
            const end = Date.now() + 15000;
            while (got.length < %d && Date.now() < end) await t.sleep(50);
            await t.sleep(300); // time for a stray duplicate to show
            const r = { ok, got, states, connects: [L.connects, M.connects], cursor: M.cursor };
            L.close(); M.close();
            return r;
        })()""" % (AROUND + 2))
        return first, down, around, after

    async def main():
        browser = Chromium(binary)
        try:
            await browser.start()
            return await scenario(browser)
        finally:
            await browser.stop()

    first, down, around, after = asyncio.run(main())
    assert down["code"] == 1001 and down["state"] == "reconnecting", down
    assert down["pending"] == 1, down
    assert after["connects"][0] >= 2 and after["connects"][1] >= 2, after
    # (the listener came after connect(): "connecting" went before it)
    assert after["states"] == ["open", "reconnecting", "open", "closed"], after["states"]
    # every message once, in seq order: "before", the 30 and the offline send in between
    got = after["got"]
    assert [seq for _, seq in got] == list(range(1, AROUND + 3)), got
    contents = [c for c, _ in got]
    assert contents[0] == "before"
    assert sorted(contents[1:]) == sorted(["a%d" % i for i in range(AROUND)] + ["sent while down"])
    assert [c for c in contents if c.startswith("a")] == ["a%d" % i for i in range(AROUND)]
    assert int(after["cursor"]) > int(first["cursor"])
    assert [m for m in stored(app, "max", conv) if m[0] == "js-down-1"] == [
        ["js-down-1", after["ok"]["id"], "sent while down"]]


# --------------------------------------------------------------------------- the guide

def fenced_blocks(path, lang):
    """The bodies of the blocks fenced exactly ```lang in the Markdown file at path."""
    blocks, body = [], None
    with open(path, encoding="utf-8") as f:
        for line in f.read().split("\n"):
            if body is None and line.strip() == "```" + lang:
                body = []
            elif body is not None and line.strip() == "```":
                blocks.append(body)
                body = None
            elif body is not None:
                body.append(line)
    return blocks


def contains_excerpt(lines, excerpt):
    """Whether excerpt's lines appear in lines, in a row, all indented by the same prefix."""
    first = excerpt[0]
    for i, line in enumerate(lines):
        if not line.endswith(first) or line[:len(line) - len(first)].strip():
            continue
        pad = line[:len(line) - len(first)]
        if lines[i:i + len(excerpt)] == [(pad + e) if e else "" for e in excerpt]:
            return True
    return False


@pytest.mark.store_independent
@pytest.mark.parametrize("lang,source,at_least", [
    ("js", CLIENT_JS, 6),
    ("python", os.path.join(REPO_ROOT, "clients", "python", "herald_client.py"), 4),
], ids=["js", "python"])
def test_guide_code_is_the_clients_code(lang, source, at_least):
    blocks = fenced_blocks(os.path.join(REPO_ROOT, "docs", "client.md"), lang)
    assert len(blocks) >= at_least, "docs/client.md shows %d %s blocks" % (len(blocks), lang)
    with open(source, encoding="utf-8") as f:
        lines = f.read().split("\n")
    stale = ["\n".join(b) for b in blocks if not contains_excerpt(lines, b)]
    assert not stale, "blocks of docs/client.md not found as they are in %s:\n\n%s" % (
        os.path.relpath(source, REPO_ROOT), "\n\n".join(stale))
