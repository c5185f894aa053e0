#!/usr/bin/env python3
"""bench/chat_setup.py - the users, tokens and conversations of the chat benchmarks
(bench/storm.sh, bench/w1_auth.sh), made through the public API of a running Herald.

  chat_setup.py PORT SECRET storm PEERS CLIENTS TOKENS_FILE
      PEERS users p0..pP-1 then CLIENTS users s0..sN-1, each with a user access token
      (POST /api/v1/users/{id}/tokens), written as 'ID TOKEN' lines: peers first, then
      clients, the order `herald-bench storm --tokens` reads. The conversations are opened
      by herald-bench itself (its phase 1).
  chat_setup.py PORT SECRET w1 USERS GROUP TOKENS_FILE
      USERS users w0..wN-1 with tokens, each a member of exactly 3 conversations: a direct
      one with each ring neighbour (w_i with w_i+1, the last with w0) and one group of
      GROUP users (w0..w_GROUP-1, the next GROUP, ...; the last group takes the rest).

  chat_setup.py PORT SECRET notify USERS SOCKETS TOKENS_FILE
      USERS users n0..nU-1 (POST /api/v1/users/batch, 1,000 a request), and a user access
      token for each of the first SOCKETS of them, written as 'ID TOKEN' lines
      (`herald-bench notify --tokens`, bench/notify.sh).

SECRET is the secret of the app `default` (`herald app secret default`). Requests go over
keep-alive connections from THREADS (8) threads; everything is checked (status codes, and
the conversation count of a sample of users in w1), so a broken setup stops the benchmark.
"""
import http.client
import json
import os
import sys
import threading

THREADS = int(os.environ.get("THREADS", "8"))


class Api:
    def __init__(self, port, secret):
        self.port = port
        self.app = {"X-App-Key": "default", "X-App-Secret": secret,
                    "Content-Type": "application/json"}
        self.local = threading.local()

    def call(self, method, path, body=None, token=None, want=(200, 201)):
        c = getattr(self.local, "conn", None)
        if c is None:
            c = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        h = dict(self.app) if token is None else {"Authorization": "Bearer " + token,
                                                  "Content-Type": "application/json"}
        data = None if body is None else json.dumps(body)
        c.request(method, path, data, h)
        r = c.getresponse()
        raw = r.read()
        if r.status not in want:
            sys.exit("chat_setup: %s %s -> %d %s" % (method, path, r.status, raw[:300]))
        return json.loads(raw) if raw else None


def parallel(items, fn):
    """fn(item) for every item over THREADS threads; the results in order."""
    out = [None] * len(items)
    nxt = [0]
    lock = threading.Lock()
    err = []

    def run():
        while not err:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= len(items):
                return
            try:
                out[i] = fn(items[i])
            except BaseException as e:  # SystemExit from Api.call included
                err.append(e)
                return

    ts = [threading.Thread(target=run) for _ in range(THREADS)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    if err:
        raise err[0]
    return out


def make_users(api, ids, with_tokens=None):
    for k in range(0, len(ids), 1000):
        chunk = [{"id": i, "name": "Bench " + i} for i in ids[k:k + 1000]]
        api.call("POST", "/api/v1/users/batch", {"users": chunk})
    ids = ids if with_tokens is None else ids[:with_tokens]
    return parallel(ids, lambda i: api.call("POST", "/api/v1/users/%s/tokens" % i)["access_token"])


def write_tokens(path, ids, tokens):
    with open(path, "w") as f:
        for i, t in zip(ids, tokens):
            f.write("%s %s\n" % (i, t))


def storm(api, peers, clients, path):
    ids = ["p%d" % i for i in range(peers)] + ["s%d" % i for i in range(clients)]
    write_tokens(path, ids, make_users(api, ids))
    print("chat_setup: %d peers and %d clients with tokens" % (peers, clients))


def w1(api, n, group, path):
    if n < 3 or group < 2:
        sys.exit("chat_setup: w1 needs at least 3 users and groups of at least 2")
    ids = ["w%d" % i for i in range(n)]
    tok = make_users(api, ids)
    write_tokens(path, ids, tok)
    parallel(list(range(n)), lambda i: api.call(
        "POST", "/api/v1/conversations", {"type": "direct", "peer": ids[(i + 1) % n]},
        token=tok[i], want=(201,)))
    starts = list(range(0, n, group))
    if len(starts) > 1 and n - starts[-1] < 2:
        starts.pop()  # a last group of one joins the one before
    bounds = [(s, starts[k + 1] if k + 1 < len(starts) else n) for k, s in enumerate(starts)]
    for a, b in bounds:
        if b - a > 500:
            sys.exit("chat_setup: a group may hold at most 500 members")
    parallel(bounds, lambda ab: api.call(
        "POST", "/api/v1/conversations",
        {"type": "group", "name": "Group %d" % (ab[0] // group), "members": ids[ab[0] + 1:ab[1]]},
        token=tok[ab[0]], want=(201,)))
    for i in sorted({0, n // 2, n - 1}):
        got = api.call("GET", "/api/v1/conversations", token=tok[i])["count"]
        if got != 3:
            sys.exit("chat_setup: %s is in %d conversations, not 3" % (ids[i], got))
    print("chat_setup: %d users with tokens, %d direct conversations, %d groups; "
          "each user in 3 conversations" % (n, n, len(bounds)))


def notify(api, users, sockets, path):
    if not 1 <= sockets <= users:
        sys.exit("chat_setup: notify needs 1 <= SOCKETS <= USERS")
    ids = ["n%d" % i for i in range(users)]
    write_tokens(path, ids, make_users(api, ids, with_tokens=sockets))
    print("chat_setup: %d users, %d with tokens" % (users, sockets))


def main():
    if len(sys.argv) != 7 or sys.argv[3] not in ("storm", "w1", "notify"):
        sys.exit(__doc__)
    api = Api(int(sys.argv[1]), sys.argv[2])
    a, b, path = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
    if sys.argv[3] == "storm":
        storm(api, a, b, path)
    elif sys.argv[3] == "notify":
        notify(api, a, b, path)
    else:
        w1(api, a, b, path)


if __name__ == "__main__":
    main()
