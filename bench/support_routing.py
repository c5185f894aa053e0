#!/usr/bin/env python3
"""bench/support_routing.py - issue 10's support routing benchmark (BENCHMARKS.md, "Issue 10:
support routing").

  support_routing.py [HERALD_BIN] [AGENTS] [BUYERS] [SECONDS]

Starts its own `herald serve` (HERALD_BIN, default build/release/herald) on a fresh data
folder under TMPDIR (SQLite; with HERALD_DATABASE_URL set, that PostgreSQL database), makes
AGENTS (20) users of kind agent and BUYERS (1000) buyers with user tokens, connects every
agent over the WebSocket and waits until GET /support/agents reports them online, then has
the buyers open their support conversations (POST /api/v1/support/conversations) spread
evenly over SECONDS (1) from THREADS (64) threads on keep-alive connections.

Checks, failing with exit status 1: every open is 201 with an assignee; the conversations are
distinct; each is listed by exactly one agent (GET /conversations?assignee=me, every page),
which is its assignee; the agents' loads differ by at most one. Prints the time from the
first request to the last answer (every open is routed inside its own write, so that is the
time to assign all), and the p50, p99 and max latency of one open.
"""
import base64
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

THREADS = int(os.environ.get("THREADS", "64"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Api:
    def __init__(self, port, headers):
        self.port, self.headers, self.local = port, headers, threading.local()

    def call(self, method, path, body=None, token=None, want=(200, 201)):
        c = getattr(self.local, "conn", None)
        if c is None:
            c = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        h = dict(self.headers) if token is None else {"Authorization": "Bearer " + token,
                                                      "Content-Type": "application/json"}
        c.request(method, path, None if body is None else json.dumps(body), h)
        r = c.getresponse()
        raw = r.read()
        if r.status not in want:
            sys.exit("support_routing: %s %s -> %d %s" % (method, path, r.status, raw[:300]))
        return r.status, (json.loads(raw) if raw else None)


def parallel(items, fn, threads=THREADS):
    out, lock, it = [None] * len(items), threading.Lock(), iter(range(len(items)))

    def work():
        while True:
            with lock:
                i = next(it, None)
            if i is None:
                return
            out[i] = fn(items[i])

    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


def ws_connect(port, token):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /ws?token=%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
               % (token, key)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("support_routing: the WebSocket handshake was closed")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        sys.exit("support_routing: handshake refused: %r" % head[:200])
    return s


def drain(socks, stop):
    """Reads what the server pushes to the agents (their conversation.updated events)."""
    while not stop.is_set():
        for s in socks:
            s.settimeout(0.01)
            try:
                s.recv(1 << 16)
            except (socket.timeout, BlockingIOError):
                pass


def pct(sorted_ms, p):
    return sorted_ms[min(len(sorted_ms) - 1, int(len(sorted_ms) * p))]


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "build/release/herald"
    n_agents = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    n_buyers = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    work = tempfile.mkdtemp(prefix="herald-support-")
    port = free_port()
    env = dict(os.environ, HERALD_LISTEN="127.0.0.1:%d" % port, HERALD_DATA_DIR=work + "/data",
               HERALD_LOG_LEVEL="warn")
    log = open(work + "/server.log", "w")
    srv = subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    stop = threading.Event()
    try:
        deadline = time.time() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or srv.poll() is not None:
                    sys.exit("support_routing: the server did not start (%s)" % work)
                time.sleep(0.05)
        p = subprocess.run([binary, "app", "secret", "default"], env=env, capture_output=True,
                           text=True, check=True)
        secret = [l.split("=", 1)[1] for l in p.stdout.splitlines() if l.startswith("secret=")][0]
        api = Api(port, {"X-App-Key": "default", "X-App-Secret": secret,
                         "Content-Type": "application/json"})
        agents = ["agent%02d" % i for i in range(n_agents)]
        buyers = ["buyer%04d" % i for i in range(n_buyers)]
        users = [{"id": a, "kind": "agent"} for a in agents] + \
            [{"id": b, "kind": "buyer"} for b in buyers]
        for i in range(0, len(users), 1000):
            api.call("POST", "/api/v1/users/batch", {"users": users[i:i + 1000]})
        tokens = dict(zip(agents + buyers, parallel(
            agents + buyers,
            lambda u: api.call("POST", "/api/v1/users/%s/tokens" % u)[1]["access_token"])))
        socks = [ws_connect(port, tokens[a]) for a in agents]
        reader = threading.Thread(target=drain, args=(socks, stop))
        reader.start()
        deadline = time.time() + 20
        while True:
            got = api.call("GET", "/api/v1/support/agents", token=tokens[agents[0]])[1]
            if sum(x["online"] for x in got["results"]) == n_agents:
                break
            if time.time() > deadline:
                sys.exit("support_routing: agents not online: %r" % got)
            time.sleep(0.05)

        # the opens, spread evenly over SECONDS
        t0 = time.monotonic() + 0.2
        step = seconds / n_buyers

        def open_one(i):
            at = t0 + i * step
            now = time.monotonic()
            if at > now:
                time.sleep(at - now)
            start = time.monotonic()
            status, conv = api.call("POST", "/api/v1/support/conversations", {},
                                    token=tokens[buyers[i]], want=(201,))
            return start, time.monotonic(), conv

        res = parallel(list(range(n_buyers)), open_one)
        first = min(r[0] for r in res)
        last = max(r[1] for r in res)
        lat = sorted((r[1] - r[0]) * 1000 for r in res)
        convs = [r[2] for r in res]
        assert all(c["assignee"] in agents for c in convs), "an open without an agent"
        ids = {c["id"]: c["assignee"] for c in convs}
        assert len(ids) == n_buyers, "conversations are not distinct"
        owner = {}
        for a in agents:
            page = 1
            while True:
                body = api.call("GET", "/api/v1/conversations?assignee=me&page_size=100&page=%d"
                                % page, token=tokens[a])[1]
                for c in body["results"]:
                    assert c["id"] not in owner, "assigned twice: %s" % c["id"]
                    owner[c["id"]] = a
                if page * 100 >= body["count"]:
                    break
                page += 1
        assert owner == ids, "the agents' queues do not match the assignments"
        loads = {a: 0 for a in agents}
        for a in owner.values():
            loads[a] += 1
        spread = max(loads.values()) - min(loads.values())
        assert spread <= 1, "loads differ by %d: %r" % (spread, loads)
        print("support routing: %d buyers over %.1f s against %d agents online" %
              (n_buyers, seconds, n_agents))
        print("  every conversation assigned once; loads %d..%d" %
              (min(loads.values()), max(loads.values())))
        print("  time to assign all (first request to last answer): %.0f ms" %
              ((last - first) * 1000))
        print("  open latency: p50 %.1f ms, p99 %.1f ms, max %.1f ms" %
              (pct(lat, 0.50), pct(lat, 0.99), lat[-1]))
    finally:
        stop.set()
        srv.terminate()
        try:
            srv.wait(20)
        except subprocess.TimeoutExpired:
            srv.kill()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
