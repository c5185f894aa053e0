"""
Delivery guarantees (docs/chat.md, "Guarantees"), on whichever store the suite runs (SQLite by
default, PostgreSQL under scripts/pg-test.sh):

* a `kill -9` in the middle of 10,000 sends from 20 clients (10 over HTTP, 10 over the
  WebSocket) loses no acknowledged message; retrying every unanswered send with its
  client_msg_id then ends with exactly 10,000 messages, each once, seq gapless;
* a WebSocket client that stops reading is closed once its queue passes HERALD_WS_MAX_QUEUE,
  the server's memory does not grow with it, a reading member is unaffected, and the stalled
  client, reconnecting, syncs every message it missed exactly once from the last frame it read.

The clients are asyncio streams speaking HTTP/1.1 keep-alive and RFC 6455 by hand (the frames
they build are conftest's), so that 20 of them keep the server busy from one Python thread.
"""
import asyncio
import json
import os
import signal
import socket
import threading
import time

import pytest

from conftest import OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, Closed, Server, tcp_connect, ws_frame
from conftest import ws_open, wait_until
from test_conversations import App, app_headers
from test_messages import frames_until, history, nothing_of, send

API = "/api/v1"
CLIENTS = 20
PER_CLIENT = 500  # 10,000 in all
KILL_AT = 4000    # acknowledged sends before the kill
WS_WINDOW = 8     # sends a WebSocket client keeps in flight


class Killed(Exception):
    """The server went away under a client."""


# ---------------------------------------------------------------- asyncio clients

async def http_open(port):
    return await asyncio.open_connection("127.0.0.1", port)


async def http_call(conn, port, method, path, headers, body=None):
    """One request on a keep-alive connection: (status, headers, body bytes)."""
    r, w = conn
    data = json.dumps(body).encode() if body is not None else b""
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % (method, path, port)
    head += "".join("%s: %s\r\n" % kv for kv in headers.items())
    head += "Content-Length: %d\r\n\r\n" % len(data)
    w.write(head.encode() + data)
    await w.drain()
    raw = await r.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    payload = await r.readexactly(int(hdrs.get("content-length", "0")))
    return status, hdrs, payload


class AioWS:
    """A WebSocket client on asyncio streams (after the 101 and the hello frame)."""

    @classmethod
    async def open(cls, port, token):
        self = cls()
        self.r, self.w = await asyncio.open_connection("127.0.0.1", port)
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        self.w.write(("GET /ws?token=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n" % (token, port, key)).encode())
        head = await self.r.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        hello = await self.recv()
        assert hello["type"] == "hello", hello
        return self

    async def send(self, obj):
        self.w.write(ws_frame(OP_TEXT, json.dumps(obj)))
        await self.w.drain()

    async def recv(self):
        """The next text message as JSON (pings answered); raises Closed on a close frame."""
        while True:
            b0, b1 = await self.r.readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(await self.r.readexactly(2), "big")
            elif n == 127:
                n = int.from_bytes(await self.r.readexactly(8), "big")
            payload = await self.r.readexactly(n)
            op = b0 & 0xF
            if op == OP_TEXT:
                return json.loads(payload)
            if op == OP_PING:
                self.w.write(ws_frame(OP_PONG, payload))
            elif op == OP_CLOSE:
                raise Closed("close %r" % payload[:2])

    def close(self):
        self.w.close()


def gone(e):
    return isinstance(e, (ConnectionError, asyncio.IncompleteReadError, Closed, OSError))


async def http_sender(port, token, conv, batch, acked, replays, total):
    """Sends each (client_msg_id, content) of batch over one keep-alive connection until done
    or the server goes; acked[cmid] = (id, seq) for each 201. 503 is retried."""
    hdrs = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    path = API + "/conversations/%s/messages" % conv
    try:
        conn = await http_open(port)
    except OSError:
        return
    try:
        i = 0
        while i < len(batch):
            cmid, content = batch[i]
            st, h, body = await http_call(conn, port, "POST", path, hdrs,
                                          {"type": "text", "content": content,
                                           "client_msg_id": cmid})
            if st == 503:
                await asyncio.sleep(0.01)
                continue
            assert st == 201, (st, body)
            m = json.loads(body)
            assert m["client_msg_id"] == cmid and m["content"] == content, m
            acked[cmid] = (m["id"], m["seq"])
            if h.get("idempotency-replay") == "true":
                replays.add(cmid)
            total[0] += 1
            i += 1
    except Exception as e:  # noqa: BLE001 - a connection lost to the kill ends the client
        if not gone(e):
            raise
    finally:
        conn[1].close()


async def ws_sender(port, token, conv, batch, acked, replays, total):
    """The same over one WebSocket, WS_WINDOW sends in flight; message.new frames of the other
    senders are read and dropped. `unavailable` errors are sent again."""
    try:
        ws = await AioWS.open(port, token)
    except (OSError, asyncio.IncompleteReadError):
        return
    pending = list(reversed(batch))
    content = dict(batch)
    inflight = set()
    try:
        while pending or inflight:
            while pending and len(inflight) < WS_WINDOW:
                cmid, text = pending.pop()
                inflight.add(cmid)
                await ws.send({"type": "send", "conversation_id": conv, "client_msg_id": cmid,
                               "message": {"type": "text", "content": text}})
            f = await ws.recv()
            if f["type"] == "send.ok":
                cmid = f["client_msg_id"]
                assert cmid in inflight and f["conversation_id"] == conv, f
                inflight.discard(cmid)
                acked[cmid] = (f["id"], f["seq"])
                if f.get("replay"):
                    replays.add(cmid)
                total[0] += 1
            elif f["type"] == "error":
                assert f["code"] == "unavailable" and f["client_msg_id"] in inflight, f
                inflight.discard(f["client_msg_id"])
                pending.append((f["client_msg_id"], content[f["client_msg_id"]]))
                await asyncio.sleep(0.01)
            else:
                assert f["type"] in ("message.new", "conversation.updated", "presence"), f
    except Exception as e:  # noqa: BLE001
        if not gone(e):
            raise
    finally:
        ws.close()


def run_senders(port, tokens, conv, batches, kill=None):
    """Runs one sender per client (even ones over HTTP, odd ones over the WebSocket); with
    kill, calls it once `kill[0]` sends were acknowledged. Returns (acked, replays)."""
    acked, replays, total = {}, set(), [0]

    async def main():
        tasks = []
        for i, batch in enumerate(batches):
            fn = http_sender if i % 2 == 0 else ws_sender
            tasks.append(asyncio.ensure_future(
                fn(port, tokens[i], conv, batch, acked, replays, total)))
        if kill is not None:
            while total[0] < kill[0] and not all(t.done() for t in tasks):
                await asyncio.sleep(0.005)
            kill[1]()
        await asyncio.wait_for(asyncio.gather(*tasks), 120)

    asyncio.run(main())
    return acked, replays


def all_messages(app, uid, conv):
    """Every message of conv, oldest first, through the history pages."""
    out, after = [], 0
    while True:
        page = history(app, uid, conv, "?after_seq=%d&limit=100" % after)["results"]
        out += page
        if len(page) < 100:
            return out
        after = page[-1]["seq"]


# ---------------------------------------------------------------- kill -9 mid-send

def test_kill_9_during_10000_sends_loses_no_acknowledged_message(tmp_path):
    t0 = time.monotonic()
    workdir = tmp_path / "crash"
    s = Server(workdir=workdir).start()
    try:
        app = App(s, app_headers(s))
        users = ["k%02d" % i for i in range(CLIENTS)]
        app.users(*users)
        r = app.call(users[0], "POST", "/conversations",
                     {"type": "group", "name": "Crash", "members": users[1:]})
        assert r.status == 201, r
        conv = r.json()["id"]
        tokens = [app.token(u) for u in users]
        batches = [[("%s-%04d" % (u, n), "%s says %d" % (u, n)) for n in range(PER_CLIENT)]
                 for u in users]
        acked, replays = run_senders(s.port, tokens, conv, batches, kill=(KILL_AT, s.kill))
    finally:
        s.kill()
    assert KILL_AT <= len(acked) < CLIENTS * PER_CLIENT, len(acked)
    assert not replays

    s = Server(workdir=workdir).start()
    try:
        app = App(s, app_headers(s))
        kept = all_messages(app, "k00", conv)
        by_cmid = {m["client_msg_id"]: m for m in kept}
        # every acknowledged send is there, as it was acknowledged
        lost = [c for c in acked if c not in by_cmid]
        assert not lost, "%d acknowledged sends lost, e.g. %s" % (len(lost), lost[:5])
        assert all((by_cmid[c]["id"], by_cmid[c]["seq"]) == acked[c] for c in acked)
        assert [m["seq"] for m in kept] == list(range(1, len(kept) + 1))
        assert len(by_cmid) == len(kept)
        in_doubt = set(by_cmid) - set(acked)  # committed, the answer lost to the kill

        # every client retries what it has no answer for, with the same client_msg_id
        tokens = [app.token(u) for u in users]
        retry = [[(c, t) for c, t in batch if c not in acked] for batch in batches]
        acked2, replays2 = run_senders(s.port, tokens, conv, retry)
        assert len(acked2) == CLIENTS * PER_CLIENT - len(acked)
        assert replays2 == in_doubt  # the committed ones answer as replays, no second copy

        final = all_messages(app, "k00", conv)
        assert len(final) == CLIENTS * PER_CLIENT
        assert [m["seq"] for m in final] == list(range(1, CLIENTS * PER_CLIENT + 1))
        assert sorted(m["client_msg_id"] for m in final) == \
            sorted(c for batch in batches for c, _ in batch)
        want = {c: t for batch in batches for c, t in batch}
        assert all(m["content"] == want[m["client_msg_id"]] for m in final)
        assert all(m["sender_id"] == m["client_msg_id"][:3] for m in final)
        conv_now = app.call("k07", "GET", "/conversations/" + conv).json()
        assert conv_now["last_seq"] == CLIENTS * PER_CLIENT
    finally:
        s.stop()
    print("kill -9 test: %d acknowledged before the kill, %d in doubt, %.1fs"
          % (len(acked), len(in_doubt), time.monotonic() - t0))


# ---------------------------------------------------------------- a stalled reader

STALL_SENDS = 3000
STALL_TEXT = 4000  # characters (bytes: ASCII) of each message: 12 MB in all


def parse_frames(data):
    """The whole server frames at the start of data, as (opcode, payload); a cut last frame
    is left out."""
    out, i = [], 0
    while i + 2 <= len(data):
        n, j = data[i + 1] & 0x7F, i + 2
        if n == 126:
            n, j = int.from_bytes(data[j:j + 2], "big"), j + 2
        elif n == 127:
            n, j = int.from_bytes(data[j:j + 8], "big"), j + 8
        if j + n > len(data):
            break
        out.append((data[i] & 0xF, data[j:j + n]))
        i = j + n
    return out


def test_a_stalled_reader_is_closed_and_syncs_every_message_once_after(server_factory):
    asan = os.environ.get("ASAN_OPTIONS", "")
    # a small ASan quarantine, so that RSS follows what the server holds (test_ws.py)
    asan = (asan + ":" if asan else "") + "quarantine_size_mb=1:thread_local_quarantine_size_kb=64"
    s = server_factory({"HERALD_WS_MAX_QUEUE": "64k", "ASAN_OPTIONS": asan})
    app = App(s, app_headers(s))
    app.users("sa", "sb", "sc")
    r = app.call("sa", "POST", "/conversations", {"type": "group", "name": "Stall",
                                                   "members": ["sb", "sc"]})
    assert r.status == 201, r
    conv = r.json()["id"]
    tokens = {u: app.token(u) for u in ("sa", "sb", "sc")}

    def burst(tag):
        """sa sends STALL_SENDS messages over the WebSocket (16 in flight) while sc reads them
        all; both are still served at the end. Returns (acknowledged ids, ids sc got)."""
        sent, seen_c = [], []

        async def main():
            sa = await AioWS.open(s.port, tokens["sa"])
            sc = await AioWS.open(s.port, tokens["sc"])

            async def reader():
                while len(seen_c) < STALL_SENDS:
                    f = await sc.recv()
                    if f["type"] == "message.new":
                        seen_c.append(f["message"]["id"])

            async def sender():
                inflight, n = 0, 0
                while n < STALL_SENDS or inflight:
                    # at most 16 unanswered, and sc at most 8 behind: a reader that keeps up
                    while n < STALL_SENDS and inflight < 16 and n - len(seen_c) < 8:
                        text = "%05d" % n + "s" * (STALL_TEXT - 5)
                        await sa.send({"type": "send", "conversation_id": conv,
                                       "client_msg_id": "%s-%05d" % (tag, n),
                                       "message": {"type": "text", "content": text}})
                        n, inflight = n + 1, inflight + 1
                    if inflight == 0:
                        await asyncio.sleep(0.001)
                        continue
                    f = await sa.recv()
                    if f["type"] == "send.ok":
                        sent.append((f["seq"], f["id"]))
                        inflight -= 1
                    else:
                        assert f["type"] == "presence", f

            await asyncio.wait_for(asyncio.gather(reader(), sender()), 120)
            await sa.send({"type": "ping", "id": "a"})
            await sc.send({"type": "ping", "id": "c"})
            assert (await sa.recv()) == {"type": "pong", "id": "a"}
            assert (await sc.recv()) == {"type": "pong", "id": "c"}
            sa.close()
            sc.close()

        asyncio.run(main())
        assert len(sent) == STALL_SENDS
        ids = [i for _, i in sorted(sent)]  # in seq order
        assert seen_c == ids  # the reading member got every message, once, in order
        return ids

    # the same traffic once without the stalled reader: the store's caches and the allocator
    # reach their working size, so what grows after is what the stalled reader costs
    burst("warm")
    peak0 = s.peak_rss_bytes()
    stalled = ws_open(s.port, "/ws?token=" + tokens["sb"], rcvbuf=4096)
    start = stalled.hello["cursor"]
    sent = burst("st")
    s.wait_for_log(lambda l: "closing slow client" in l)
    growth = s.peak_rss_bytes() - peak0
    assert growth < 5 << 20, "peak RSS grew by %.1f MiB with a stalled reader (%d MB sent)" % (
        growth / 2**20, STALL_SENDS * STALL_TEXT // 10**6)

    # the stalled client reads what reached it: whole frames, the close frame (1008), then
    # the end of the connection
    assert stalled.wait_closed(10)
    frames = parse_frames(stalled.buf)
    stalled.close()
    assert frames and frames[-1][0] == OP_CLOSE, frames[-1:]
    assert int.from_bytes(frames[-1][1][:2], "big") == 1008
    got = [json.loads(p) for op, p in frames[:-1]]
    got_ids = [f["message"]["id"] for f in got if f["type"] == "message.new"]
    assert len(got_ids) < STALL_SENDS and got_ids == sent[:len(got_ids)]
    cursor = ([f["cursor"] for f in got if "cursor" in f] or [start])[-1]

    # it reconnects and syncs from the last frame it read: every message it missed, once
    again = ws_open(s.port, "/ws?token=" + tokens["sb"])
    replayed = []
    while True:
        again.send_json({"type": "sync", "cursor": cursor, "limit": 500})
        page = frames_until(again, lambda f: f["type"] == "sync.done", timeout=20)
        done = page.pop()
        assert done["complete"] is True, done
        replayed += [f["message"]["id"] for f in page if f["type"] == "message.new"]
        cursor = done["cursor"]
        if not done["has_more"]:
            break
    assert got_ids + replayed == sent
    nothing_of(again, "message.new")
    again.close()
    print("stalled reader: %d of %d frames read before the close, RSS +%.1f MiB"
          % (len(got_ids), STALL_SENDS, growth / 2**20))


def test_a_stalled_reader_that_never_reads_again_is_dropped_after_the_idle_timeout(
        server_factory):
    # the overflow comes while a write to it is under way (its buffers are full): the close
    # frame waits behind that write, and a peer that never takes it is dropped once the
    # draining connection passes HERALD_IDLE_TIMEOUT, without reading a byte
    s = server_factory({"HERALD_WS_MAX_QUEUE": "16k", "HERALD_IDLE_TIMEOUT": "1s"})
    app = App(s, app_headers(s))
    app.users("na", "nb")
    r = app.call("na", "POST", "/conversations", {"type": "direct", "peer": "nb"})
    conv = r.json()["id"]
    base = s.fd_baseline()
    stalled = ws_open(s.port, "/ws?token=" + app.token("nb"), rcvbuf=4096)
    batch = [("nv-%04d" % i, "%04d" % i + "v" * 3996) for i in range(1500)]  # 6 MB
    acked, _ = run_senders(s.port, [app.token("na")], conv, [batch])
    assert len(acked) == 1500
    line = s.wait_for_log(lambda l: "closing slow client" in l)
    wait_until(lambda: s.fd_count() <= base, timeout=5, what="the stalled socket to close")
    stalled.close()
    assert "output over 16384 bytes" in line
