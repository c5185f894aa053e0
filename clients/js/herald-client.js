// A minimal Herald client for the browser (docs/client.md, docs/protocol.md): a plain ES
// module, no dependency.
//
// It connects to /ws with a user token (or a demo user id), keeps the last cursor it applied,
// syncs from it on every connection (collecting live frames until the sync ends, then applying
// them in cursor order, each once), reconnects with exponential back-off and full jitter, and
// sends messages with a client_msg_id that it resends, unchanged, on every new connection until
// the server answers (the server stores one message per client_msg_id).
//
//   import { HeraldClient } from "./herald-client.js";
//   const client = new HeraldClient({ url: "wss://chat.example.com/ws", token });
//   client.addEventListener("frame", (e) => console.log(e.detail));
//   client.connect();
//   await client.synced();
//   const ok = await client.send({ to: "m1", content: "hello" });

// Frames that belong to the event log: they carry a cursor and are replayed by sync.
const LOGGED = new Set(["message.new", "message.updated", "conversation.updated", "read"]);
// Send errors worth another try with the same client_msg_id (docs/protocol.md, "Errors").
const RETRYABLE = new Set(["unavailable", "conflict", "internal"]);

// Cursors are strings of up to 18 digits: compared as BigInt, never as floats.
const above = (a, b) => BigInt(a) > BigInt(b);

export class SendError extends Error {
  constructor(frame) {
    super(`${frame.code}: ${frame.message}`);
    this.frame = frame;
  }
}

export class HeraldClient extends EventTarget {
  // url: ws(s)://host/ws. token: a user access token (sent in Sec-WebSocket-Protocol), or a
  // function returning one (or a promise of one), called before every connection so that an
  // expired token can be refreshed; or userId in demo mode. cursor: the last cursor applied in
  // an earlier run (null: start from hello's cursor).
  constructor({ url, token = null, userId = null, deviceId = null, cursor = null,
                backoffInitialMs = 500, backoffMaxMs = 30000, syncTimeoutMs = 30000 }) {
    super();
    const u = new URL(url);
    if (userId !== null) u.searchParams.set("user_id", userId);
    if (deviceId !== null) u.searchParams.set("device_id", deviceId);
    this.url = u.toString();
    this.token = token;
    this.cursor = cursor; // the highest cursor applied, a string of digits
    this.backoffInitialMs = backoffInitialMs;
    this.backoffMaxMs = backoffMaxMs;
    this.syncTimeoutMs = syncTimeoutMs;
    this.syncTimer = null;
    this.pending = new Map(); // client_msg_id -> { frame, attempts, resolve, reject }
    this.connects = 0; // connections that got a hello
    this.hello = null;
    this.seenIds = new Set(); // message ids applied (bounded)
    this.collected = null; // event frames held while a sync runs, else null
    this.floor = 0n; // cursors up to this one count as applied
    this.applied = new Set(); // cursors applied above the floor
    this.ws = null;
    this.ready = false;
    this.attempt = 0; // failed attempts since the last hello
    this.closed = true;
    this.timer = null;
    this.syncWaiters = [];
    this.isSynced = false;
  }

  // ---- life cycle

  connect() {
    this.closed = false;
    this.open();
  }

  // Resolves once the current connection has finished its sync.
  synced() {
    if (this.isSynced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000);
    for (const entry of this.pending.values()) entry.reject(new Error("client closed"));
    this.pending.clear();
  }

  // Closes the socket; the client connects again (after at most backoffInitialMs), syncs from
  // its cursor and resends every unanswered send. For a network change ("online" event).
  reconnect() {
    if (this.ws) this.ws.close(1000);
  }

  get connected() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  async open() {
    const protocols = ["herald.v1"];
    let token = this.token;
    try {
      if (typeof token === "function") token = await token();
    } catch (err) {
      this.emit({ type: "client.token_failed", message: String(err) });
      if (!this.closed) this.scheduleReconnect();
      return;
    }
    if (this.closed) return;
    if (token) protocols.push(`bearer.${token}`);
    const ws = new WebSocket(this.url, protocols);
    this.ws = ws;
    this.ready = false; // true from this connection's hello on
    this.isSynced = false;
    ws.onmessage = (e) => {
      if (this.ws === ws) this.onFrame(ws, JSON.parse(e.data));
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.ready = false;
      this.isSynced = false;
      this.collected = null;
      clearTimeout(this.syncTimer);
      this.emit({ type: "client.closed", code: e.code, reason: e.reason });
      if (!this.closed) this.scheduleReconnect();
    };
  }

  scheduleReconnect() {
    // exponential back-off with full jitter: uniform in [0, min(max, initial * 2^n)], n the
    // failed attempts since the last hello (so a server restart does not get every client
    // back in the same millisecond)
    const cap = Math.min(this.backoffMaxMs, this.backoffInitialMs * 2 ** this.attempt);
    this.attempt += 1;
    this.timer = setTimeout(() => {
      if (!this.closed) this.open();
    }, Math.random() * cap);
  }

  // ---- frames from the server

  onFrame(ws, f) {
    if (f.type === "hello") {
      this.hello = f;
      this.ready = true;
      this.connects += 1;
      this.attempt = 0;
      if (this.cursor === null) this.cursor = f.cursor; // nothing held yet: start at the newest
      this.collected = [];
      // everything up to the cursor synced from was applied before; above it, each cursor is
      // applied once (a set, not "above the last": live frames committed by senders on two
      // event loops can arrive swapped)
      this.floor = BigInt(this.cursor);
      this.applied = new Set();
      ws.send(JSON.stringify({ type: "sync", cursor: this.cursor }));
      // a sync the server could not serve is answered by an error, not sync.done: start over
      this.syncTimer = setTimeout(() => {
        if (this.ws === ws && !this.isSynced) ws.close(4000, "sync timeout");
      }, this.syncTimeoutMs);
      for (const entry of this.pending.values()) { // unanswered sends, same client_msg_id
        entry.attempts += 1;
        ws.send(entry.frame);
      }
      this.emit(f);
    } else if (f.type === "sync.done") {
      if (!f.complete) this.emit({ type: "client.gap", earliest_cursor: f.earliest_cursor });
      if (f.has_more) {
        ws.send(JSON.stringify({ type: "sync", cursor: f.cursor }));
        return;
      }
      const held = this.collected || [];
      this.collected = null;
      held.sort((a, b) => (above(a.cursor, b.cursor) ? 1 : above(b.cursor, a.cursor) ? -1 : 0));
      for (const frame of held) this.apply(frame);
      if (above(f.cursor, this.cursor)) this.cursor = f.cursor;
      this.isSynced = true;
      clearTimeout(this.syncTimer);
      for (const resolve of this.syncWaiters.splice(0)) resolve();
      this.emit({ type: "client.synced", cursor: this.cursor });
    } else if ((f.type === "send.ok" || f.type === "error") && this.pending.has(f.client_msg_id)) {
      this.answered(ws, f);
    } else if (f.type === "send.ok") {
      // the answer to a copy of a send answered already
    } else if (LOGGED.has(f.type) && f.cursor !== undefined) {
      if (this.collected !== null) this.collected.push(f);
      else this.apply(f);
    } else { // read, typing, presence, event, pong, error: live only
      this.emit(f);
    }
  }

  // An event frame, applied once; this.cursor becomes the highest applied.
  apply(f) {
    const c = BigInt(f.cursor);
    if (c <= this.floor || this.applied.has(c)) return;
    this.applied.add(c);
    if (this.applied.size > 10000) { // bounded: the oldest leave, below the floor
      const oldest = this.applied.values().next().value;
      this.applied.delete(oldest);
      if (oldest > this.floor) this.floor = oldest;
    }
    if (above(f.cursor, this.cursor)) this.cursor = f.cursor;
    if (f.type === "message.new") {
      if (this.seenIds.has(f.message.id)) return;
      this.remember(f.message.id);
    }
    this.emit(f);
  }

  remember(id) {
    this.seenIds.add(id);
    if (this.seenIds.size > 10000) this.seenIds.delete(this.seenIds.values().next().value);
  }

  emit(f) {
    this.dispatchEvent(new CustomEvent("frame", { detail: f }));
  }

  answered(ws, f) {
    const entry = this.pending.get(f.client_msg_id);
    if (f.type === "error" && RETRYABLE.has(f.code) && entry.attempts < 8) {
      const wait = Math.min(this.backoffMaxMs, this.backoffInitialMs * entry.attempts);
      setTimeout(() => {
        if (this.ws === ws && ws.readyState === WebSocket.OPEN && this.pending.has(f.client_msg_id)) {
          entry.attempts += 1;
          ws.send(entry.frame);
        }
      }, wait);
      return;
    }
    this.pending.delete(f.client_msg_id);
    if (f.type === "send.ok") {
      this.remember(f.id); // its message.new comes back only in a later sync
      entry.resolve(f);
    } else {
      entry.reject(new SendError(f));
    }
  }

  // ---- frames to the server

  // Sends a message; resolves with the send.ok frame. The send is kept until answered and
  // resent with the same client_msg_id on every new connection.
  send({ content, conversationId = null, to = null, type = "text", clientMsgId = null,
         replyTo = null }) {
    const cid = clientMsgId || crypto.randomUUID();
    if (this.pending.has(cid)) return this.pending.get(cid).promise; // the one under way
    const message = { type, content };
    if (replyTo !== null) message.reply_to = replyTo;
    const frame = { type: "send", client_msg_id: cid, message };
    if (conversationId !== null) frame.conversation_id = conversationId;
    else frame.to = to;
    const entry = { frame: JSON.stringify(frame), attempts: 0 };
    entry.promise = new Promise((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
    });
    this.pending.set(cid, entry);
    if (this.ready) { // else the next hello sends it
      entry.attempts += 1;
      this.ws.send(entry.frame);
    }
    return entry.promise;
  }

  read(conversationId, seq) {
    this.sendLive({ type: "read", conversation_id: conversationId, seq });
  }

  typing(conversationId) {
    this.sendLive({ type: "typing", conversation_id: conversationId });
  }

  // A frame that is worth nothing later: dropped when offline.
  sendLive(frame) {
    if (this.ready) this.ws.send(JSON.stringify(frame));
  }
}
