// Unit tests of index.js against a fake WebSocket: the protocol rules the server cannot
// check (reconnect timing, the cursor synced from, resends with the same client_msg_id,
// de-duplication). tests/e2e/test_clients.py runs the same module against the real server.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { HeraldClient, HeraldError, HeraldRest, SendError, mediaMessage, uuid } from "../index.js";

class FakeSocket {
  static all = [];
  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    this.readyState = 0;
    this.sent = [];
    this.onmessage = null;
    this.onclose = null;
    FakeSocket.all.push(this);
  }
  static last() {
    return FakeSocket.all[FakeSocket.all.length - 1];
  }
  send(data) {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000, reason = "") {
    if (this.readyState === 3) return;
    this.readyState = 3;
    if (this.onclose) this.onclose({ code, reason });
  }
  // server side
  frame(f) {
    this.onmessage({ data: JSON.stringify(f) });
  }
  hello(cursor = "0") {
    this.readyState = 1;
    this.frame({ type: "hello", user: { id: "b1" }, session_id: "s", cursor, heartbeat_ms: 30000 });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose({ code, reason: "" });
  }
  ofType(type) {
    return this.sent.filter((f) => f.type === type);
  }
}

const msg = (id, seq, cursor, conv = "c1") => ({
  type: "message.new", cursor,
  message: { id, seq, conversation_id: conv, sender_id: "m1", type: "text", content: id },
});

function make(opts = {}) {
  const c = new HeraldClient({ url: "ws://h/ws", token: "tok", WebSocket: FakeSocket,
                               backoffInitialMs: 100, backoffMaxMs: 1000, ...opts });
  c.frames = [];
  c.on("*", (f) => c.frames.push(f));
  return c;
}

// Connects and finishes the first sync with nothing replayed.
async function online(c, cursor = "0") {
  c.connect();
  await vi.advanceTimersByTimeAsync(0); // open() awaits the token
  const ws = FakeSocket.last();
  ws.hello(cursor);
  ws.frame({ type: "sync.done", cursor, has_more: false, complete: true });
  return ws;
}

beforeEach(() => {
  FakeSocket.all = [];
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("connect", () => {
  it("puts the token in the subprotocol list, or in ?token=, or user_id in demo mode", async () => {
    const a = make();
    a.connect();
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSocket.last().protocols).toEqual(["herald.v1", "bearer.tok"]);
    expect(FakeSocket.last().url).toBe("ws://h/ws");

    const b = make({ tokenInQuery: true, token: () => Promise.resolve("t 2") });
    b.connect();
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSocket.last().protocols).toEqual(["herald.v1"]);
    expect(new URL(FakeSocket.last().url).searchParams.get("token")).toBe("t 2");

    const d = make({ token: null, userId: "b1", deviceId: "d1" });
    d.connect();
    await vi.advanceTimersByTimeAsync(0);
    const u = new URL(FakeSocket.last().url);
    expect([u.searchParams.get("user_id"), u.searchParams.get("device_id")]).toEqual(["b1", "d1"]);
    expect(FakeSocket.last().protocols).toEqual(["herald.v1"]);
  });

  it("emits state changes connecting, open, reconnecting, open, closed", async () => {
    const c = make();
    const states = [];
    c.on("state", (f) => states.push(f.state));
    const ws = await online(c);
    ws.drop();
    await vi.advanceTimersByTimeAsync(1000);
    FakeSocket.last().hello("0");
    c.close();
    expect(states).toEqual(["connecting", "open", "reconnecting", "open", "closed"]);
  });

  it("a token function that throws is reported and tried again", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5); // back-off 50 ms (at random, under 1 ms ran at once)
    let calls = 0;
    const c = make({ token: () => { calls += 1; if (calls === 1) throw new Error("nope"); return "t"; } });
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    expect(c.frames.some((f) => f.type === "client.token_failed")).toBe(true);
    expect(FakeSocket.all.length).toBe(0);
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeSocket.all.length).toBe(1);
    expect(FakeSocket.last().protocols).toEqual(["herald.v1", "bearer.t"]);
  });
});

describe("reconnect", () => {
  it("waits a random time in [0, min(max, initial * 2^n)] (full jitter)", async () => {
    const random = vi.spyOn(Math, "random").mockReturnValue(0.75);
    const c = make();
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    const caps = [100, 200, 400, 800, 1000, 1000]; // backoffMaxMs 1000
    for (const cap of caps) {
      const before = FakeSocket.all.length;
      FakeSocket.last().drop();
      await vi.advanceTimersByTimeAsync(cap * 0.75 - 1);
      expect(FakeSocket.all.length).toBe(before); // not yet
      await vi.advanceTimersByTimeAsync(1);
      expect(FakeSocket.all.length).toBe(before + 1);
    }
    // a hello resets the back-off
    FakeSocket.last().hello();
    random.mockReturnValue(0.5);
    FakeSocket.last().drop();
    await vi.advanceTimersByTimeAsync(49);
    const n = FakeSocket.all.length;
    await vi.advanceTimersByTimeAsync(2);
    expect(FakeSocket.all.length).toBe(n + 1);
  });

  it("uses the whole range: the jitter is Math.random() times the cap", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const c = make();
    await online(c);
    FakeSocket.last().drop();
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSocket.all.length).toBe(2);
    expect(c.state).toBe("reconnecting");
  });

  it("does not reconnect after close()", async () => {
    const c = make();
    const ws = await online(c);
    c.close();
    await vi.advanceTimersByTimeAsync(60000);
    expect(FakeSocket.all).toEqual([ws]);
    expect(c.state).toBe("closed");
  });
});

describe("heartbeat", () => {
  it("pings after heartbeat_ms of silence and reconnects at once when nothing answers", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const c = make({ pongTimeoutMs: 2000 });
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    const ws = FakeSocket.last();
    ws.readyState = 1;
    ws.frame({ type: "hello", user: { id: "b1" }, session_id: "s", cursor: "0", heartbeat_ms: 5000 });
    ws.frame({ type: "sync.done", cursor: "0", has_more: false, complete: true });
    await vi.advanceTimersByTimeAsync(4000);
    ws.frame({ type: "presence", user_id: "m1", online: true, last_seen: null }); // a frame: the wait starts over
    await vi.advanceTimersByTimeAsync(4000);
    expect(ws.ofType("ping")).toEqual([]);
    await vi.advanceTimersByTimeAsync(1001);
    expect(ws.ofType("ping")).toEqual([{ type: "ping" }]);
    ws.frame({ type: "pong" }); // answered: still the same connection
    await vi.advanceTimersByTimeAsync(4999);
    expect(FakeSocket.all.length).toBe(1);
    await vi.advanceTimersByTimeAsync(1); // the next ping
    expect(ws.ofType("ping").length).toBe(2);
    ws.onclose = null; // a dead network: the close never comes
    await vi.advanceTimersByTimeAsync(2000);
    expect(c.frames.find((f) => f.type === "client.closed")).toEqual(
      { type: "client.closed", code: 4000, reason: "no answer to ping" });
    await vi.advanceTimersByTimeAsync(5); // back-off 0 (Math.random() is 0 here)
    expect(FakeSocket.all.length).toBe(2);
    expect(c.state).toBe("reconnecting");
  });

  it("heartbeatMs: 0 turns it off", async () => {
    const c = make({ heartbeatMs: 0 });
    const ws = await online(c);
    await vi.advanceTimersByTimeAsync(120000);
    expect(ws.ofType("ping")).toEqual([]);
  });
});

describe("sync", () => {
  it("syncs from hello's cursor first, then from the highest cursor seen after a reconnect", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const c = make();
    const ws = await online(c, "10");
    expect(ws.ofType("sync")).toEqual([{ type: "sync", cursor: "10" }]);
    ws.frame(msg("m1", 1, "11"));
    ws.frame({ type: "read", conversation_id: "c1", user_id: "m1", seq: 1, cursor: "12" });
    ws.frame(msg("m2", 2, "14"));
    ws.frame({ type: "typing", conversation_id: "c1", user_id: "m1" }); // no cursor: live only
    expect(c.cursor).toBe("14");
    ws.drop();
    await vi.advanceTimersByTimeAsync(0);
    const ws2 = FakeSocket.last();
    ws2.hello("20");
    expect(ws2.ofType("sync")).toEqual([{ type: "sync", cursor: "14" }]);
  });

  it("compares cursors as big integers", async () => {
    const c = make();
    const ws = await online(c, "9007199254740993");
    ws.frame(msg("m1", 1, "9007199254740995"));
    ws.frame(msg("m0", 1, "9007199254740994"));
    expect(c.cursor).toBe("9007199254740995");
    expect(c.frames.filter((f) => f.type === "message.new").length).toBe(2);
  });

  it("follows has_more pages, then applies what was collected in cursor order, each once", async () => {
    const c = make({ cursor: "5" });
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    const ws = FakeSocket.last();
    ws.hello("9");
    expect(ws.ofType("sync")).toEqual([{ type: "sync", cursor: "5" }]);
    ws.frame(msg("a", 1, "6"));
    ws.frame(msg("live", 4, "9")); // a live frame arrives during the replay
    ws.frame(msg("b", 2, "7"));
    ws.frame({ type: "sync.done", cursor: "7", has_more: true, complete: true });
    expect(ws.ofType("sync")[1]).toEqual({ type: "sync", cursor: "7" });
    expect(c.frames.filter((f) => f.type === "message.new")).toEqual([]); // held
    ws.frame(msg("c", 3, "8"));
    ws.frame(msg("live", 4, "9")); // replayed too
    ws.frame({ type: "sync.done", cursor: "9", has_more: false, complete: true });
    expect(c.frames.filter((f) => f.type === "message.new").map((f) => f.message.id))
      .toEqual(["a", "b", "c", "live"]);
    expect(c.cursor).toBe("9");
    expect(c.frames.some((f) => f.type === "client.synced")).toBe(true);
  });

  it("drops replayed events by message id and events at or below the cursor", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const c = make();
    const ws = await online(c, "0");
    ws.frame(msg("m1", 1, "1"));
    ws.frame(msg("m1", 1, "1")); // the same cursor again
    const p = c.send({ conversationId: "c1", content: "mine", clientMsgId: "k1" });
    ws.frame({ type: "send.ok", client_msg_id: "k1", id: "m2", conversation_id: "c1", seq: 2,
               created_at: 1, cursor: "2" });
    await p;
    ws.drop();
    await vi.advanceTimersByTimeAsync(0);
    const ws2 = FakeSocket.last();
    ws2.hello("3");
    // the server replays from 1: the own message m2 (known by id) and a new one
    ws2.frame(msg("m2", 2, "2"));
    ws2.frame(msg("m3", 3, "3"));
    ws2.frame(msg("m1", 1, "1")); // below the floor
    ws2.frame({ type: "sync.done", cursor: "3", has_more: false, complete: true });
    ws2.frame(msg("m3", 3, "3")); // live copy after the sync
    expect(c.frames.filter((f) => f.type === "message.new").map((f) => f.message.id))
      .toEqual(["m1", "m3"]);
  });

  it("reports a gap when the replay is not complete", async () => {
    const c = make({ cursor: "1" });
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    const ws = FakeSocket.last();
    ws.hello("50");
    ws.frame({ type: "sync.done", cursor: "50", has_more: false, complete: false,
               earliest_cursor: "40" });
    expect(c.frames.find((f) => f.type === "client.gap")).toEqual(
      { type: "client.gap", earliest_cursor: "40" });
  });

  it("starts over on a new connection when no sync.done comes in time", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const c = make({ syncTimeoutMs: 5000 });
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    FakeSocket.last().hello("1");
    await vi.advanceTimersByTimeAsync(5001);
    expect(FakeSocket.all.length).toBe(2);
    expect(c.frames.find((f) => f.type === "client.closed").code).toBe(4000);
    expect(FakeSocket.all[0].readyState).toBe(3); // closed too
  });
});

describe("send", () => {
  it("resolves with send.ok and rejects on error", async () => {
    const c = make();
    const ws = await online(c);
    const ok = c.send({ to: "m1", content: "hi" });
    const bad = c.send({ conversationId: "c9", content: "no" });
    const [s1, s2] = ws.ofType("send");
    expect(s1).toEqual({ type: "send", client_msg_id: s1.client_msg_id, to: "m1",
                         message: { type: "text", content: "hi" } });
    expect(s1.client_msg_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(s2.conversation_id).toBe("c9");
    ws.frame({ type: "send.ok", client_msg_id: s1.client_msg_id, id: "x", conversation_id: "c1",
               seq: 1, created_at: 1, cursor: "1" });
    ws.frame({ type: "error", code: "not_found", message: "no", field: "conversation_id",
               client_msg_id: s2.client_msg_id });
    await expect(ok).resolves.toMatchObject({ id: "x", seq: 1 });
    const err = await bad.catch((e) => e);
    expect(err).toBeInstanceOf(SendError);
    expect(err.code).toBe("not_found");
    expect(c.pending.size).toBe(0);
  });

  it("resends an unanswered send after the reconnect with the same client_msg_id", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const c = make();
    const ws = await online(c);
    const p = c.send({ conversationId: "c1", content: "once", replyTo: "m0" });
    const first = ws.ofType("send")[0];
    ws.drop(); // no answer
    await vi.advanceTimersByTimeAsync(0);
    const ws2 = FakeSocket.last();
    expect(ws2.ofType("send")).toEqual([]); // not before the hello
    ws2.hello("0");
    const again = ws2.ofType("send");
    expect(again).toEqual([first]);
    expect(again[0].message.reply_to).toBe("m0");
    ws2.frame({ type: "send.ok", client_msg_id: first.client_msg_id, id: "m9", conversation_id: "c1",
                seq: 1, created_at: 1, cursor: "1", replay: true });
    await expect(p).resolves.toMatchObject({ id: "m9", replay: true });
    // a third connection resends nothing
    ws2.drop();
    await vi.advanceTimersByTimeAsync(0);
    FakeSocket.last().hello("1");
    expect(FakeSocket.last().ofType("send")).toEqual([]);
  });

  it("holds a send made offline until the next hello", async () => {
    const c = make();
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    const p = c.send({ to: "m1", content: "queued", clientMsgId: "q1" });
    const ws = FakeSocket.last();
    expect(ws.sent).toEqual([]);
    ws.hello("0");
    expect(ws.ofType("send").map((f) => f.client_msg_id)).toEqual(["q1"]);
    expect(c.send({ to: "m1", content: "queued", clientMsgId: "q1" })).toBe(p); // same promise
  });

  it("retries unavailable on the same connection after a wait, then gives up after 8", async () => {
    const c = make();
    const ws = await online(c);
    const p = c.send({ to: "m1", content: "busy", clientMsgId: "b1" });
    const caught = p.catch((e) => e);
    for (let i = 1; i < 8; i++) {
      ws.frame({ type: "error", code: "unavailable", message: "busy", client_msg_id: "b1" });
      await vi.advanceTimersByTimeAsync(100 * i);
      expect(ws.ofType("send").length).toBe(i + 1);
    }
    ws.frame({ type: "error", code: "unavailable", message: "busy", client_msg_id: "b1" });
    expect((await caught).code).toBe("unavailable");
  });

  it("rejects what is pending on close()", async () => {
    const c = make();
    await online(c);
    const p = c.send({ to: "m1", content: "x" });
    c.close();
    await expect(p).rejects.toThrow("client closed");
  });
});

describe("live frames", () => {
  it("read, typing, join, leave go out when connected, are dropped otherwise", async () => {
    const c = make();
    expect(c.sendLive({ type: "ping" })).toBe(false);
    const ws = await online(c);
    c.ack("d1");
    c.read("c1", 4);
    c.typing("c1");
    c.join("r1");
    c.leave("r1");
    c.ping();
    expect(ws.sent.slice(1)).toEqual([
      { type: "ack", delivery_id: "d1" },
      { type: "read", conversation_id: "c1", seq: 4 },
      { type: "typing", conversation_id: "c1" },
      { type: "join", conversation_id: "r1" },
      { type: "leave", conversation_id: "r1" },
      { type: "ping" },
    ]);
  });

  it("hands a notification over once per delivery id, even when sent again with an old cursor", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const c = make();
    const ws = await online(c, "3");
    const seen = [];
    c.on("notification", (f) => { seen.push(f.delivery_id); c.ack(f.delivery_id); });
    const n = (id, cursor) => ({ type: "notification", delivery_id: id, cursor, created_at: 1,
                                 notification: { type: "t", title: "T", content: "x", data: {} } });
    ws.frame(n("d1", "4"));
    ws.frame(n("d1", "4"));
    ws.drop();
    await vi.advanceTimersByTimeAsync(0);
    const ws2 = FakeSocket.last();
    ws2.hello("5");
    ws2.frame(n("d2", "2")); // an older one not ACKed before, sent again
    ws2.frame(n("d1", "4"));
    expect(seen).toEqual(["d1"]); // held with the sync's events until sync.done
    ws2.frame({ type: "sync.done", cursor: "5", has_more: false, complete: true });
    expect(seen).toEqual(["d1", "d2"]);
    expect(ws.ofType("ack")).toEqual([{ type: "ack", delivery_id: "d1" }]);
    expect(ws2.ofType("ack")).toEqual([{ type: "ack", delivery_id: "d2" }]);
    expect(c.cursor).toBe("5");
  });

  it("applies notifications as events of the log: in cursor order, and the cursor follows them", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const c = make({ cursor: "3" });
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    const ws = FakeSocket.last();
    ws.hello("3");
    const seen = [];
    c.on("*", (f) => { if (f.type === "notification" || f.type === "message.new") seen.push(f.cursor); });
    const n = (id, cursor) => ({ type: "notification", delivery_id: id, cursor, created_at: 1,
                                 notification: { type: "t", title: "T", content: "x", data: {} } });
    ws.frame(n("d9", "9")); // live while syncing: held
    ws.frame(msg("m5", 1, "5"));
    ws.frame(n("d4", "4"));
    ws.frame({ type: "sync.done", cursor: "5", has_more: true, complete: true });
    expect(seen).toEqual([]);
    expect(c.cursor).toBe("3"); // not moved by the live one before the sync is done
    ws.frame({ type: "sync.done", cursor: "5", has_more: false, complete: true });
    expect(seen).toEqual(["4", "5", "9"]);
    expect(c.cursor).toBe("9");
    ws.frame(n("d4", "4")); // the same again: once
    ws.frame({ ...n("dx", null) }); // no event written: by its delivery id, the cursor stays
    expect(seen).toEqual(["4", "5", "9", null]);
    expect(c.cursor).toBe("9");
  });

  it("an ACK asked for while offline is sent after the next hello", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const c = make();
    const ws = await online(c);
    ws.drop();
    c.ack("d5");
    await vi.advanceTimersByTimeAsync(0);
    const ws2 = FakeSocket.last();
    ws2.hello("0");
    expect(ws2.ofType("ack")).toEqual([{ type: "ack", delivery_id: "d5" }]);
    ws2.drop();
    await vi.advanceTimersByTimeAsync(0);
    FakeSocket.last().hello("0");
    expect(FakeSocket.last().ofType("ack")).toEqual([]); // once
  });

  it("a notification with a null cursor (its event could not be written) leaves the cursor alone", async () => {
    const c = make();
    const ws = await online(c, "7");
    ws.frame({ type: "notification", delivery_id: "d9", cursor: null, created_at: 1,
               notification: { type: "t", title: "T", content: "x", data: {} } });
    expect(c.frames.filter((f) => f.type === "notification").map((f) => f.delivery_id)).toEqual(["d9"]);
    expect(c.cursor).toBe("7");
  });

  it("typed handlers: on returns an unsubscribe, once fires once, a throwing handler does not stop others", async () => {
    const c = make();
    const ws = await online(c);
    const got = [];
    const off = c.on("presence", (f) => got.push(["on", f.user_id]));
    c.once("presence", (f) => got.push(["once", f.user_id]));
    c.on("presence", () => { throw new Error("handler bug"); });
    const dom = [];
    c.addEventListener("frame", (e) => dom.push(e.detail.type));
    ws.frame({ type: "presence", user_id: "m1", online: true, last_seen: null });
    off();
    ws.frame({ type: "presence", user_id: "m2", online: false, last_seen: 5 });
    expect(got).toEqual([["on", "m1"], ["once", "m1"]]);
    expect(dom).toEqual(["presence", "presence"]);
    expect(() => vi.runOnlyPendingTimers()).toThrow("handler bug"); // rethrown asynchronously
  });
});

describe("uuid", () => {
  it("makes v4 UUIDs without crypto.randomUUID", () => {
    const saved = globalThis.crypto.randomUUID;
    Object.defineProperty(globalThis.crypto, "randomUUID", { value: undefined, configurable: true });
    try {
      const ids = new Set(Array.from({ length: 100 }, uuid));
      expect(ids.size).toBe(100);
      for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    } finally {
      Object.defineProperty(globalThis.crypto, "randomUUID", { value: saved, configurable: true });
    }
  });
});

describe("HeraldRest", () => {
  const reply = (status, body) => Promise.resolve({
    ok: status >= 200 && status < 300, status,
    text: () => Promise.resolve(body === undefined ? "" : JSON.stringify(body)),
  });

  it("sends the bearer token and JSON, and builds query strings", async () => {
    const calls = [];
    const rest = new HeraldRest({ baseUrl: "http://h/", token: () => "tk", appKey: "ak",
                                  fetch: (url, init) => { calls.push([url, init]); return reply(200, { ok: 1 }); } });
    await rest.messages("c 1", { before_seq: 40, limit: 20, after_seq: null });
    await rest.markRead("c1", 3);
    expect(calls[0][0]).toBe("http://h/api/v1/conversations/c%201/messages?before_seq=40&limit=20");
    expect(calls[0][1].headers.Authorization).toBe("Bearer tk");
    expect(calls[0][1].headers["X-App-Key"]).toBe("ak");
    expect(calls[1][1]).toMatchObject({ method: "POST", body: '{"seq":3}' });
  });

  it("groups, members, rooms, inbox: the right method, path and body", async () => {
    const calls = [];
    const rest = new HeraldRest({ token: "tk", fetch: (url, init) => { calls.push([init.method, url, init.body]); return reply(200, {}); } });
    await rest.createConversation({ type: "group", name: "G", members: ["a"] });
    await rest.addMembers("c/1", ["b", "c"]);
    await rest.leaveConversation("c1");
    await rest.rooms({ page: 2 });
    await rest.joinRoom("r1");
    expect(calls).toEqual([
      ["POST", "/api/v1/conversations", '{"type":"group","name":"G","members":["a"]}'],
      ["POST", "/api/v1/conversations/c%2F1/members", '{"user_ids":["b","c"]}'],
      ["POST", "/api/v1/conversations/c1/leave", "{}"],
      ["GET", "/api/v1/rooms?page=2", undefined],
      ["POST", "/api/v1/rooms/r1/join", "{}"],
    ]);
    calls.length = 0;
    await rest.inbox({ unread: 1, page_size: 20 });
    await rest.inboxUnread();
    await rest.inboxRead("n1-1");
    await rest.inboxReadAll();
    expect(calls).toEqual([
      ["GET", "/api/v1/inbox?unread=1&page_size=20", undefined],
      ["GET", "/api/v1/inbox/unread-count", undefined],
      ["POST", "/api/v1/inbox/n1-1/read", "{}"],
      ["POST", "/api/v1/inbox/read-all", "{}"],
    ]);
  });

  it("uses user_id in demo mode and rejects with the error's code and field", async () => {
    const rest = new HeraldRest({ userId: "b1",
                                  fetch: (url) => reply(422, { error: { code: "validation_failed", message: "bad", field: "q" } }) });
    const err = await rest.search("!").catch((e) => e);
    expect(err).toBeInstanceOf(HeraldError);
    expect([err.status, err.code, err.field]).toEqual([422, "validation_failed", "q"]);
    const urls = [];
    const ok = new HeraldRest({ userId: "b1", fetch: (url) => { urls.push(url); return reply(200, {}); } });
    await ok.search("订单", { conversation_id: "c1" });
    expect(urls[0]).toBe("/api/v1/search/messages?q=%E8%AE%A2%E5%8D%95&conversation_id=c1&user_id=b1");
  });

  it("uploads with XMLHttpRequest and reports progress", async () => {
    class FakeXHR {
      constructor() { this.upload = {}; this.headers = {}; FakeXHR.last = this; }
      open(method, url) { this.method = method; this.url = url; }
      setRequestHeader(k, v) { this.headers[k] = v; }
      send(body) {
        this.body = body;
        this.upload.onprogress({ loaded: 5, total: 10 });
        this.upload.onprogress({ loaded: 10, total: 10 });
        this.status = 201;
        this.responseText = JSON.stringify({ id: "u1", mime: "image/png" });
        this.onload();
      }
    }
    vi.stubGlobal("XMLHttpRequest", FakeXHR);
    try {
      const rest = new HeraldRest({ token: "tk" });
      const progress = [];
      const up = await rest.upload(new Blob(["x"]), { name: "a.png", onProgress: (l, t) => progress.push([l, t]) });
      expect(up).toEqual({ id: "u1", mime: "image/png" });
      expect(progress).toEqual([[5, 10], [10, 10]]);
      expect(FakeXHR.last.url).toBe("/api/v1/uploads");
      expect(FakeXHR.last.headers.Authorization).toBe("Bearer tk");
      expect(FakeXHR.last.body.get("file").name).toBe("a.png");
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe("mediaMessage", () => {
  it("keeps only what a media message holds, typed by the MIME type", () => {
    const up = { id: "u1", url: "http://h/media/a.png", path: "/media/a.png", name: "a.png", size: 5,
                 mime: "image/png", width: 8, height: 6, thumbnail_url: "http://h/media/a_thumb.png" };
    expect(mediaMessage(up)).toEqual({ type: "image", content: { url: "http://h/media/a.png",
      name: "a.png", size: 5, mime: "image/png", width: 8, height: 6 } });
    expect(mediaMessage({ url: "/m/x.pdf", name: "x.pdf", size: 1, mime: "application/pdf" }).type).toBe("file");
    expect(mediaMessage({ url: "/m/x.mp3", name: "x.mp3", size: 1, mime: "audio/mpeg" }).type).toBe("audio");
  });
});
