// @herald/client: the Herald SDK for the browser (and Node.js 18+ with a WebSocket): a plain
// ES module, no dependency. docs/client.md is its reference, docs/protocol.md the protocol.
//
// HeraldClient connects to /ws with a user token (or a demo user id), keeps the last cursor it
// applied, syncs from it on every connection (collecting live frames until the sync ends, then
// applying them in cursor order, each once), reconnects with exponential back-off and full
// jitter, and sends messages with a client_msg_id that it resends, unchanged, on every new
// connection until the server answers (the server stores one message per client_msg_id).
// HeraldRest is a small fetch wrapper for the HTTP API (history, conversations, uploads with
// progress, search, sign-in).
//
//   import { HeraldClient } from "@herald/client";
//   const client = new HeraldClient({ url: "wss://chat.example.com/ws", token });
//   client.on("message.new", (f) => console.log(f.message));
//   client.connect();
//   await client.synced();
//   const ok = await client.send({ to: "m1", content: "hello" });

// Frames that belong to the event log: they carry a cursor and are replayed by sync.
const LOGGED = new Set(["message.new", "message.updated", "conversation.updated", "read",
  "notification"]);
// Send errors worth another try with the same client_msg_id (docs/protocol.md, "Errors").
const RETRYABLE = new Set(["unavailable", "conflict", "internal"]);
const OPEN = 1; // WebSocket.OPEN, the same in every implementation
const BOUND = 10000; // remembered message ids, delivery ids and cursors

// Cursors are strings of up to 18 digits: compared as BigInt, never as floats.
const above = (a, b) => BigInt(a) > BigInt(b);

// A random UUID; crypto.randomUUID exists only in secure contexts (https, localhost).
export function uuid() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  const b = new Uint8Array(16);
  if (c && typeof c.getRandomValues === "function") c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export class SendError extends Error {
  constructor(frame) {
    super(`${frame.code}: ${frame.message}`);
    this.name = "SendError";
    this.code = frame.code;
    this.frame = frame;
  }
}

// A set that forgets its oldest member past `BOUND`.
class Recent {
  constructor() {
    this.set = new Set();
  }
  has(k) {
    return this.set.has(k);
  }
  add(k) {
    this.set.add(k);
    if (this.set.size > BOUND) this.set.delete(this.set.values().next().value);
  }
}

export class HeraldClient extends EventTarget {
  // url: ws(s)://host/ws. token: a user access token (sent in Sec-WebSocket-Protocol, or in
  // ?token= with tokenInQuery), or a function returning one (or a promise of one), called
  // before every connection so that an expired token can be refreshed; or userId in demo
  // mode. cursor: the last cursor applied in an earlier run (null: start from hello's cursor).
  // WebSocket: the implementation (default: the global one).
  constructor({ url, token = null, userId = null, deviceId = null, cursor = null,
                tokenInQuery = false, backoffInitialMs = 500, backoffMaxMs = 30000,
                syncTimeoutMs = 30000, heartbeatMs = null, pongTimeoutMs = 10000,
                WebSocket: impl = globalThis.WebSocket }) {
    super();
    const u = new URL(url);
    if (userId !== null) u.searchParams.set("user_id", userId);
    if (deviceId !== null) u.searchParams.set("device_id", deviceId);
    this.url = u.toString();
    this.token = token;
    this.tokenInQuery = tokenInQuery;
    this.WebSocket = impl;
    this.cursor = cursor; // the highest cursor applied, a string of digits
    this.backoffInitialMs = backoffInitialMs;
    this.backoffMaxMs = backoffMaxMs;
    this.syncTimeoutMs = syncTimeoutMs;
    this.heartbeatMs = heartbeatMs; // null: hello's heartbeat_ms; 0: no client heartbeat
    this.pongTimeoutMs = pongTimeoutMs;
    this.idleTimer = null;
    this.deadTimer = null;
    this.syncTimer = null;
    this.pending = new Map(); // client_msg_id -> { frame, attempts, resolve, reject }
    this.connects = 0; // connections that got a hello
    this.hello = null;
    this.seenIds = new Recent(); // message ids applied
    this.seenDeliveries = new Recent(); // notification delivery ids handed over
    this.pendingAcks = new Set(); // ACKs asked for while offline: sent after the next hello
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
    this.state = "idle"; // connecting, open, reconnecting, closed
    this.handlers = new Map(); // frame type -> Set of functions
  }

  // ---- typed events

  // Calls fn(frame) for every frame of that type ("message.new", "state", "*" for all);
  // returns a function that removes it.
  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(fn);
    return () => this.off(type, fn);
  }

  off(type, fn) {
    const set = this.handlers.get(type);
    if (set) set.delete(fn);
  }

  once(type, fn) {
    const off = this.on(type, (f) => {
      off();
      fn(f);
    });
    return off;
  }

  emit(f) {
    for (const key of [f.type, "*"]) {
      const set = this.handlers.get(key);
      if (!set) continue;
      for (const fn of [...set]) {
        try {
          fn(f);
        } catch (err) { // a failing handler must not stop the client
          setTimeout(() => { throw err; });
        }
      }
    }
    this.dispatchEvent(new CustomEvent("frame", { detail: f }));
  }

  setState(state, extra = {}) {
    if (this.state === state) return;
    this.state = state;
    this.emit({ type: "state", state, ...extra });
  }

  // ---- life cycle

  connect() {
    if (!this.closed) return;
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
    clearTimeout(this.syncTimer);
    this.stopHeartbeat();
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    this.isSynced = false;
    if (ws) ws.close(1000);
    for (const entry of this.pending.values()) entry.reject(new Error("client closed"));
    this.pending.clear();
    this.setState("closed", { code: 1000 });
  }

  // Closes the socket; the client connects again (after at most backoffInitialMs), syncs from
  // its cursor and resends every unanswered send. For a network change ("online" event).
  reconnect() {
    const ws = this.ws;
    if (!ws) return;
    this.dropped(ws, 1000, "reconnect");
    ws.close(1000);
  }

  get connected() {
    return this.ws !== null && this.ws.readyState === OPEN;
  }

  async open() {
    this.setState(this.connects === 0 ? "connecting" : "reconnecting");
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
    let url = this.url;
    if (token && this.tokenInQuery) {
      const u = new URL(url);
      u.searchParams.set("token", token);
      url = u.toString();
    } else if (token) {
      protocols.push(`bearer.${token}`);
    }
    const ws = new this.WebSocket(url, protocols);
    this.ws = ws;
    this.ready = false; // true from this connection's hello on
    this.isSynced = false;
    ws.onmessage = (e) => {
      if (this.ws !== ws) return;
      let f;
      try {
        f = JSON.parse(e.data);
      } catch {
        return; // not a frame of this protocol
      }
      if (this.ready) this.alive(ws);
      this.onFrame(ws, f);
    };
    ws.onclose = (e) => {
      if (this.ws === ws) this.dropped(ws, e.code, e.reason);
    };
  }

  // The socket is gone (closed, or given up on): forget it and connect again. A socket given
  // up on may still fire its close later; it is no longer this.ws by then, and is ignored.
  dropped(ws, code, reason) {
    if (this.ws !== ws) return;
    this.ws = null;
    this.ready = false;
    this.isSynced = false;
    this.collected = null;
    clearTimeout(this.syncTimer);
    this.stopHeartbeat();
    this.emit({ type: "client.closed", code, reason });
    if (!this.closed) this.scheduleReconnect(code);
  }

  // Heartbeat: after heartbeat_ms without a frame, a ping; no frame within pongTimeoutMs
  // after it, and the connection is taken for dead (a network that vanished without a TCP
  // reset is otherwise noticed only minutes later): a new one is made at once.
  alive(ws) {
    const every = this.heartbeatMs === null ? (this.hello && this.hello.heartbeat_ms) : this.heartbeatMs;
    if (!every) return;
    this.stopHeartbeat();
    this.idleTimer = setTimeout(() => {
      if (this.ws !== ws) return;
      ws.send(JSON.stringify({ type: "ping" }));
      this.deadTimer = setTimeout(() => {
        if (this.ws !== ws) return;
        this.dropped(ws, 4000, "no answer to ping");
        ws.close(4000, "no answer to ping");
      }, this.pongTimeoutMs);
    }, every);
  }

  stopHeartbeat() {
    clearTimeout(this.idleTimer);
    clearTimeout(this.deadTimer);
  }

  scheduleReconnect(code = null) {
    // exponential back-off with full jitter: uniform in [0, min(max, initial * 2^n)], n the
    // failed attempts since the last hello (so a server restart does not get every client
    // back in the same millisecond)
    const cap = Math.min(this.backoffMaxMs, this.backoffInitialMs * 2 ** this.attempt);
    this.attempt += 1;
    const delay = Math.random() * cap;
    this.setState("reconnecting", { code, delay, attempt: this.attempt });
    this.timer = setTimeout(() => {
      if (!this.closed) this.open();
    }, delay);
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
      // applied once (a set, not "above the last": events from two nodes can arrive swapped)
      this.floor = BigInt(this.cursor);
      this.applied = new Set();
      ws.send(JSON.stringify({ type: "sync", cursor: this.cursor }));
      // a sync the server could not serve is answered by an error, not sync.done: start over
      this.syncTimer = setTimeout(() => {
        if (this.ws !== ws || this.isSynced) return;
        this.dropped(ws, 4000, "sync timeout");
        ws.close(4000, "sync timeout");
      }, this.syncTimeoutMs);
      this.alive(ws);
      for (const entry of this.pending.values()) { // unanswered sends, same client_msg_id
        entry.attempts += 1;
        ws.send(entry.frame);
      }
      for (const id of this.pendingAcks) ws.send(JSON.stringify({ type: "ack", delivery_id: id }));
      this.pendingAcks.clear();
      this.setState("open");
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
    } else if (f.type === "notification" && typeof f.cursor !== "string") {
      this.notified(f); // its event could not be written: by its delivery id alone
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
    if (c > this.floor && !this.applied.has(c)) {
      this.applied.add(c);
      if (this.applied.size > BOUND) { // bounded: the oldest leave, below the floor
        const oldest = this.applied.values().next().value;
        this.applied.delete(oldest);
        if (oldest > this.floor) this.floor = oldest;
      }
      if (above(f.cursor, this.cursor)) this.cursor = f.cursor;
    } else if (f.type !== "notification") {
      return; // applied before
    }
    if (f.type === "notification") { // a re-send of one not ACKed comes with its old cursor
      this.notified(f);
      return;
    }
    if (f.type === "message.new") {
      if (this.seenIds.has(f.message.id)) return;
      this.remember(f.message.id);
    }
    this.emit(f);
  }

  // A notification: handed over once per client, told by its delivery id (one not ACKed is
  // sent again on every connection, with the cursor of its event, below the floor by then).
  notified(f) {
    if (this.seenDeliveries.has(f.delivery_id)) return;
    this.seenDeliveries.add(f.delivery_id);
    this.emit(f);
  }

  remember(id) {
    this.seenIds.add(id);
  }

  answered(ws, f) {
    const entry = this.pending.get(f.client_msg_id);
    if (f.type === "error" && RETRYABLE.has(f.code) && entry.attempts < 8) {
      const wait = Math.min(this.backoffMaxMs, this.backoffInitialMs * entry.attempts);
      setTimeout(() => {
        if (this.ws === ws && ws.readyState === OPEN && this.pending.has(f.client_msg_id)) {
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

  // Sends a message; resolves with the send.ok frame, rejects with a SendError. The send is
  // kept until answered and resent with the same client_msg_id on every new connection.
  send({ content, conversationId = null, to = null, type = "text", clientMsgId = null,
         replyTo = null }) {
    const cid = clientMsgId || uuid();
    if (this.pending.has(cid)) return this.pending.get(cid).promise; // the one under way
    const message = { type, content };
    if (replyTo !== null) message.reply_to = replyTo;
    const frame = { type: "send", client_msg_id: cid, message };
    if (conversationId !== null) frame.conversation_id = conversationId;
    else frame.to = to;
    const entry = { frame: JSON.stringify(frame), attempts: 0, clientMsgId: cid };
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

  join(conversationId) {
    this.sendLive({ type: "join", conversation_id: conversationId });
  }

  leave(conversationId) {
    this.sendLive({ type: "leave", conversation_id: conversationId });
  }

  // Marks an in-app notification delivered. Asked for while offline, it is sent after the
  // next hello (the server sends the notification again meanwhile; the client does not hand
  // it over twice).
  ack(deliveryId) {
    if (!this.sendLive({ type: "ack", delivery_id: deliveryId })) this.pendingAcks.add(deliveryId);
  }

  ping() {
    this.sendLive({ type: "ping" });
  }

  // A frame that is worth nothing later: dropped when offline; true when it went out.
  sendLive(frame) {
    if (!this.ready) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }
}

// ---------------------------------------------------------------------------- HTTP

// The message for an upload record (POST /uploads): { type, content } with the members a media
// message holds (docs/chat.md, "Content by type"), type told by the sniffed MIME type.
export function mediaMessage(upload) {
  const mime = upload.mime || "application/octet-stream";
  const kind = mime.split("/")[0];
  const type = kind === "image" || kind === "audio" || kind === "video" ? kind : "file";
  const content = { url: upload.url, name: upload.name || "file", size: upload.size || 0, mime };
  for (const k of ["width", "height", "duration"]) {
    if (Number.isInteger(upload[k]) && upload[k] >= 0) content[k] = upload[k];
  }
  return { type, content };
}

export class HeraldError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.name = "HeraldError";
    this.status = status;
    this.code = e.code || "http_error";
    this.field = e.field || null;
    this.body = body;
  }
}

const query = (params) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
};

// The HTTP API under /api/v1 with the user's bearer token (a string or a function returning
// one), or ?user_id= in demo mode. Errors reject with a HeraldError (status, code, field).
export class HeraldRest {
  constructor({ baseUrl = "", token = null, userId = null, appKey = null, fetch: f = null } = {}) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
    this.token = token;
    this.appKey = appKey; // X-App-Key for login and register (default: the default app)
    this.userId = userId;
    this.fetchImpl = f || ((...a) => globalThis.fetch(...a));
  }

  async authToken() {
    return typeof this.token === "function" ? await this.token() : this.token;
  }

  url(path, params = {}) {
    const p = { ...params };
    if (this.userId !== null && !this.token) p.user_id = this.userId;
    return `${this.baseUrl}/api/v1${path}${query(p)}`;
  }

  async request(method, path, { body, params, headers = {} } = {}) {
    const h = { Accept: "application/json", ...headers };
    const token = await this.authToken();
    if (token) h.Authorization = `Bearer ${token}`;
    if (this.appKey) h["X-App-Key"] = this.appKey;
    const init = { method, headers: h };
    if (body !== undefined) {
      h["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await this.fetchImpl(this.url(path, params), init);
    const text = await r.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!r.ok) throw new HeraldError(r.status, data);
    return data;
  }

  // sign-in (S4): { access_token, refresh_token, user, ... }
  login(username, password) {
    return this.request("POST", "/auth/login", { body: { username, password } });
  }

  register(fields) {
    return this.request("POST", "/auth/register", { body: fields });
  }

  refresh(refreshToken) {
    return this.request("POST", "/auth/refresh", { body: { refresh_token: refreshToken } });
  }

  logout(everywhere = false) {
    return this.request("POST", "/auth/logout", { body: everywhere ? { everywhere } : {} });
  }

  me() {
    return this.request("GET", "/auth/me");
  }

  conversations(params = {}) {
    return this.request("GET", "/conversations", { params });
  }

  conversation(id) {
    return this.request("GET", `/conversations/${encodeURIComponent(id)}`);
  }

  // the direct conversation with a user, created if needed
  direct(peer) {
    return this.request("POST", "/conversations", { body: { type: "direct", peer } });
  }

  // a group { type: "group", name, members? } or a room { type: "room", name }
  createConversation(body) {
    return this.request("POST", "/conversations", { body });
  }

  addMembers(conversationId, userIds) {
    return this.request("POST", `/conversations/${encodeURIComponent(conversationId)}/members`,
                        { body: { user_ids: userIds } });
  }

  leaveConversation(conversationId) {
    return this.request("POST", `/conversations/${encodeURIComponent(conversationId)}/leave`,
                        { body: {} });
  }

  rooms(params = {}) {
    return this.request("GET", "/rooms", { params });
  }

  joinRoom(roomId) {
    return this.request("POST", `/rooms/${encodeURIComponent(roomId)}/join`, { body: {} });
  }

  // a page of history: { before_seq } for older, { after_seq } for newer, { limit }
  messages(conversationId, params = {}) {
    return this.request("GET", `/conversations/${encodeURIComponent(conversationId)}/messages`,
                        { params });
  }

  markRead(conversationId, seq) {
    return this.request("POST", `/conversations/${encodeURIComponent(conversationId)}/read`,
                        { body: { seq } });
  }

  editMessage(id, content) {
    return this.request("PATCH", `/messages/${encodeURIComponent(id)}`, { body: { content } });
  }

  recall(id) {
    return this.request("POST", `/messages/${encodeURIComponent(id)}/recall`, { body: {} });
  }

  user(id) {
    return this.request("GET", `/users/${encodeURIComponent(id)}`);
  }

  presence(userIds) {
    return this.request("GET", "/presence", { params: { user_ids: userIds.join(",") } });
  }

  // one page of them ({count, results, page, page_size}); params: {page, page_size}
  quickReplies(params = {}) {
    return this.request("GET", "/quick-replies", { params });
  }

  // the in-app notification inbox (docs/notifications.md, "In-app and the inbox")
  inbox(params = {}) {
    return this.request("GET", "/inbox", { params });
  }

  inboxUnread() {
    return this.request("GET", "/inbox/unread-count");
  }

  inboxRead(deliveryId) {
    return this.request("POST", `/inbox/${encodeURIComponent(deliveryId)}/read`, { body: {} });
  }

  inboxReadAll() {
    return this.request("POST", "/inbox/read-all", { body: {} });
  }

  // full-text search: { results: [{ highlight, message... }], total, page, page_size }
  search(q, params = {}) {
    return this.request("GET", "/search/messages", { params: { q, ...params } });
  }

  // Uploads a File or Blob; onProgress(loaded, total) while it goes (XMLHttpRequest, the one
  // browser API that reports upload progress; fetch elsewhere). Resolves with the upload record.
  async upload(file, { onProgress = null, name = null, signal = null } = {}) {
    const form = new FormData();
    form.append("file", file, name || file.name || "file");
    const token = await this.authToken();
    const url = this.url("/uploads");
    const XHR = globalThis.XMLHttpRequest;
    if (!XHR) {
      const r = await this.fetchImpl(url, {
        method: "POST", body: form, signal,
        headers: token ? { Authorization: `Bearer ${token}` } : {},
      });
      const data = await r.json().catch(() => null);
      if (!r.ok) throw new HeraldError(r.status, data);
      return data;
    }
    return new Promise((resolve, reject) => {
      const xhr = new XHR();
      xhr.open("POST", url);
      if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
      xhr.responseType = "text";
      if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded, e.total);
      xhr.onload = () => {
        let data = null;
        try {
          data = JSON.parse(xhr.responseText);
        } catch {
          data = null;
        }
        if (xhr.status >= 200 && xhr.status < 300) resolve(data);
        else reject(new HeraldError(xhr.status, data));
      };
      xhr.onerror = () => reject(new HeraldError(0, null));
      xhr.onabort = () => reject(new HeraldError(0, { error: { code: "aborted",
                                                               message: "upload aborted" } }));
      if (signal) signal.addEventListener("abort", () => xhr.abort());
      xhr.send(form);
    });
  }
}
