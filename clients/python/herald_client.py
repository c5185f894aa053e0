"""
A minimal Herald client (docs/client.md, docs/protocol.md): Python 3 standard library plus the
`websockets` package (Debian: python3-websockets), asyncio.

It connects to /ws with a user token (or a demo user id), keeps the last cursor it applied,
syncs from it on every connection (collecting live frames until the sync ends, then applying
them in cursor order, each once), reconnects with exponential back-off and full jitter, and
sends messages with a client_msg_id that it resends, unchanged, on every new connection until
the server answers (the server stores one message per client_msg_id).

    client = HeraldClient("ws://localhost:8080/ws", token=ACCESS_TOKEN)
    await client.start()                      # returns once the first sync is done
    ok = await client.send("hello", to="m1")  # the send.ok frame
    frame = await client.next_event()         # message.new, conversation.updated, ...
    await client.close()
"""
import asyncio
import collections
import json
import random
import urllib.parse
import uuid

import websockets

# Frames that belong to the event log: they carry a cursor and are replayed by sync.
LOGGED = ("message.new", "message.updated", "conversation.updated", "read", "notification")
# Send errors worth another try with the same client_msg_id (docs/protocol.md, "Errors").
RETRYABLE = ("unavailable", "conflict", "internal")


class SendError(Exception):
    """The server refused a send (an `error` frame naming its client_msg_id)."""

    def __init__(self, frame):
        super().__init__("%s: %s" % (frame.get("code"), frame.get("message")))
        self.frame = frame


class HeraldClient:
    def __init__(self, url, token=None, user_id=None, device_id=None, cursor=None,
                 backoff_initial=0.5, backoff_max=30.0, sync_timeout=30.0, on_event=None):
        """url: ws://host:port/ws. token: a user access token (sent in Sec-WebSocket-Protocol),
        or a function returning one (or a coroutine function), called before every connection
        so that an expired token can be refreshed; or user_id in demo mode. cursor: the last
        cursor applied in an earlier run (None: start from hello's cursor). on_event(frame):
        called for every frame delivered to the app."""
        query = {}
        if user_id is not None:
            query["user_id"] = user_id
        if device_id is not None:
            query["device_id"] = device_id
        self.url = url + ("?" + urllib.parse.urlencode(query) if query else "")
        self.token = token
        self.cursor = cursor  # the highest cursor applied, a string of digits
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.sync_timeout = sync_timeout
        self.on_event = on_event
        self.events = asyncio.Queue()  # frames delivered to the app, in order
        self.pending = collections.OrderedDict()  # client_msg_id -> {"frame", "future", ...}
        self.connects = 0  # connections that got a hello
        self.hello = None
        self._seen_ids = collections.OrderedDict()  # message ids applied (bounded)
        self._seen_deliveries = collections.OrderedDict()  # notifications handed over (bounded)
        self._collected = None  # event frames held while a sync runs, else None
        self._floor = 0  # cursors up to this one count as applied
        self._applied = collections.OrderedDict()  # cursors applied above the floor
        self._ws = None
        self._ready = False  # true from this connection's hello on
        self._task = None
        self._closed = False
        self._synced = asyncio.Event()
        self._stop = asyncio.Event()

    # ---- life cycle

    async def start(self, timeout=10.0):
        """Starts connecting (and reconnecting) in the background; returns once synced."""
        self._task = asyncio.ensure_future(self._run())
        await self.wait_synced(timeout)

    async def wait_synced(self, timeout=10.0):
        await asyncio.wait_for(self._synced.wait(), timeout)

    async def close(self):
        self._closed = True
        self._stop.set()
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            await self._task
        for entry in self.pending.values():
            if not entry["future"].done():
                entry["future"].set_exception(ConnectionError("client closed"))

    async def reconnect(self):
        """Closes the socket; the client connects again (after at most backoff_initial), syncs
        from its cursor and resends every unanswered send. For a network change the OS
        reports."""
        self._synced.clear()
        if self._ws is not None:
            await self._ws.close()

    @property
    def connected(self):
        return self._ws is not None

    async def _run(self):
        self._attempt = 0
        while not self._closed:
            try:
                token = self.token() if callable(self.token) else self.token
                if asyncio.iscoroutine(token):
                    token = await token
                proto = ["herald.v1"] + (["bearer." + token] if token else [])
                async with websockets.connect(self.url, subprotocols=proto,
                                              max_size=None) as ws:
                    self._ws = ws
                    await self._session(ws)
            except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as e:
                if isinstance(e, websockets.InvalidStatusCode) and e.status_code in (401, 403):
                    self._deliver({"type": "client.auth_failed", "status": e.status_code})
                    if not callable(self.token):  # the same token would fail again: stop
                        self._closed = True
                        break
            finally:
                self._ws = None
                self._ready = False
                self._synced.clear()
            if self._closed:
                break
            # exponential back-off with full jitter: uniform in [0, min(max, initial * 2^n)],
            # n the failed attempts since the last hello (so a server restart does not get
            # every client back in the same millisecond)
            delay = random.uniform(0, min(self.backoff_max,
                                          self.backoff_initial * (2 ** self._attempt)))
            self._attempt += 1
            try:  # close() cuts the wait short
                await asyncio.wait_for(self._stop.wait(), delay)
            except asyncio.TimeoutError:
                pass

    async def _session(self, ws):
        hello = json.loads(await ws.recv())
        if hello.get("type") != "hello":
            raise websockets.WebSocketException("the first frame was not hello")
        self.hello = hello
        self._ready = True
        self.connects += 1
        self._attempt = 0  # a session that got its hello resets the back-off
        if self.cursor is None:
            self.cursor = hello["cursor"]  # nothing held yet: start at the newest event
        self._collected = []
        # everything up to the cursor synced from was applied before; above it, each cursor
        # is applied once (a set, not "above the last": events from two nodes can arrive
        # swapped)
        self._floor = int(self.cursor)
        self._applied = collections.OrderedDict()
        await ws.send(json.dumps({"type": "sync", "cursor": self.cursor}))
        # a sync the server could not serve is answered by an error, not sync.done: start over
        asyncio.get_running_loop().call_later(self.sync_timeout, self._sync_overdue, ws)
        for entry in list(self.pending.values()):  # unanswered sends, same client_msg_id
            entry["attempts"] += 1
            await ws.send(entry["frame"])
        async for raw in ws:
            await self._on_frame(ws, json.loads(raw))

    def _sync_overdue(self, ws):
        if self._ws is ws and self._collected is not None:
            asyncio.ensure_future(ws.close(4000, "sync timeout"))

    # ---- frames from the server

    async def _on_frame(self, ws, f):
        t = f.get("type")
        if t == "sync.done":
            if not f["complete"]:
                self._deliver({"type": "client.gap", "earliest_cursor": f["earliest_cursor"]})
            if f["has_more"]:
                await ws.send(json.dumps({"type": "sync", "cursor": f["cursor"]}))
                return
            held, self._collected = self._collected, None
            for frame in sorted(held, key=lambda x: int(x["cursor"])):
                self._apply(frame)
            if int(f["cursor"]) > int(self.cursor):
                self.cursor = f["cursor"]
            self._synced.set()
        elif t in ("send.ok", "error") and f.get("client_msg_id") in self.pending:
            self._answered(ws, f)
        elif t == "send.ok":
            pass  # the answer to a copy of a send answered already
        elif t == "notification" and not isinstance(f.get("cursor"), str):
            self._notified(f)  # its event could not be written: by its delivery id alone
        elif t in LOGGED and "cursor" in f:
            if self._collected is not None:
                self._collected.append(f)
            else:
                self._apply(f)
        else:  # read, typing, presence, event, pong, error: live only
            self._deliver(f)

    def _apply(self, f):
        """An event frame, applied once; self.cursor becomes the highest applied."""
        c = int(f["cursor"])
        if c > self._floor and c not in self._applied:
            self._applied[c] = True
            while len(self._applied) > 10000:  # bounded: the oldest leave, below the floor
                self._floor = max(self._floor, self._applied.popitem(last=False)[0])
            if c > int(self.cursor):
                self.cursor = f["cursor"]
        elif f["type"] != "notification":
            return  # applied before
        if f["type"] == "notification":  # a re-send of one not ACKed comes with its old cursor
            self._notified(f)
            return
        if f["type"] == "message.new":
            mid = f["message"]["id"]
            if mid in self._seen_ids:
                return
            self._remember(mid)
        self._deliver(f)

    def _notified(self, f):
        """A notification, handed over once per client, told by its delivery id."""
        if f["delivery_id"] in self._seen_deliveries:
            return
        self._seen_deliveries[f["delivery_id"]] = True
        while len(self._seen_deliveries) > 10000:
            self._seen_deliveries.popitem(last=False)
        self._deliver(f)

    def _remember(self, mid):
        self._seen_ids[mid] = True
        while len(self._seen_ids) > 10000:
            self._seen_ids.popitem(last=False)

    def _deliver(self, f):
        self.events.put_nowait(f)
        if self.on_event is not None:
            self.on_event(f)

    def _answered(self, ws, f):
        entry = self.pending[f["client_msg_id"]]
        if f["type"] == "error" and f["code"] in RETRYABLE and entry["attempts"] < 8:
            wait = min(self.backoff_max, self.backoff_initial * entry["attempts"])
            asyncio.ensure_future(self._resend(ws, f["client_msg_id"], wait))
            return
        del self.pending[f["client_msg_id"]]
        if f["type"] == "send.ok":
            self._remember(f["id"])  # its message.new comes back only in a later sync
            entry["future"].set_result(f)
        else:
            entry["future"].set_exception(SendError(f))

    async def _resend(self, ws, cid, wait):
        """A send the server could not take now, again on the same connection after wait."""
        await asyncio.sleep(wait)
        entry = self.pending.get(cid)
        if entry is not None and self._ws is ws:
            entry["attempts"] += 1
            try:
                await ws.send(entry["frame"])
            except websockets.ConnectionClosed:
                pass  # resent on the next connection

    # ---- frames to the server

    async def send(self, content, conversation_id=None, to=None, type="text",
                   client_msg_id=None, reply_to=None):
        """Sends a message; returns the send.ok frame. The send is kept until answered and
        resent with the same client_msg_id on every new connection."""
        cid = client_msg_id or uuid.uuid4().hex
        msg = {"type": type, "content": content}
        if reply_to is not None:
            msg["reply_to"] = reply_to
        frame = {"type": "send", "client_msg_id": cid, "message": msg}
        if conversation_id is not None:
            frame["conversation_id"] = conversation_id
        else:
            frame["to"] = to
        if cid in self.pending:  # the same send again: wait for the one under way
            return await self.pending[cid]["future"]
        entry = {"frame": json.dumps(frame), "attempts": 0,
                 "future": asyncio.get_running_loop().create_future()}
        self.pending[cid] = entry
        ws = self._ws
        if ws is not None and self._ready:  # else the next hello sends it
            entry["attempts"] += 1
            try:
                await ws.send(entry["frame"])
            except websockets.ConnectionClosed:
                pass  # resent on the next connection
        return await entry["future"]

    async def read(self, conversation_id, seq):
        await self._send_live({"type": "read", "conversation_id": conversation_id, "seq": seq})

    async def typing(self, conversation_id):
        await self._send_live({"type": "typing", "conversation_id": conversation_id})

    async def _send_live(self, frame):
        """A frame that is worth nothing later: dropped when offline."""
        if self._ws is not None and self._ready:
            try:
                await self._ws.send(json.dumps(frame))
            except websockets.ConnectionClosed:
                pass

    async def next_event(self, match=None, timeout=10.0):
        """The next delivered frame (for which match(frame) is true, when given)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            f = await asyncio.wait_for(self.events.get(), max(0.0, deadline - loop.time()))
            if match is None or match(f):
                return f
