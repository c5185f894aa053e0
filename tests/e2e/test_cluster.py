"""
Several nodes (docs/deployment.md, "Several nodes"): two servers on one PostgreSQL share
events and presence through a real Redis (HERALD_REDIS_URL) that the test starts. A message
sent on one node reaches the members connected to the other (and the sender's other device
there); presence is seen across nodes and no offline event goes out while the user is still
on another node; /health/ready names Redis when it is away and recovers when it is back;
a sync paging one node while both commit misses nothing (the nodes' write-order lock).
The two-node tests need PostgreSQL (one SQLite file belongs to one server): they run in
`make test-pg`. The settings check runs on both passes.
"""
import json
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import PG_URL, Server, http_get, run_herald, wait_until, ws_open
from smtp_sink import free_port
from test_messages import frames_until, nothing_of

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
needs_pg = pytest.mark.skipif(not PG_URL, reason="two nodes share PostgreSQL (make test-pg)")


class Redis:
    """A throwaway redis-server on a random loopback port, nothing saved to disk."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="herald-redis-")
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    return s.recv(16).startswith(b"+PONG")
            except OSError:
                return False
        wait_until(up, timeout=10, what="redis-server answers PING")
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port


@pytest.fixture(scope="module")
def redis():
    r = Redis().start()
    yield r
    r.stop()
    shutil.rmtree(r.dir, True)


def two_nodes(redis, tmp_path_factory, grace="300ms"):
    """Two demo-mode servers on one new PostgreSQL database and one Redis."""
    from conftest import pg_database_for
    db = pg_database_for(tmp_path_factory.mktemp("cluster-db"))
    env = {"HERALD_DATABASE_URL": db, "HERALD_REDIS_URL": redis.url, "HERALD_DEMO": "1",
           "HERALD_JWT_SECRET": "c" * 40, "HERALD_ENCRYPTION_KEY": "ab" * 32,
           "HERALD_PRESENCE_GRACE": grace}
    servers = []
    try:
        for i in range(2):
            s = Server(env=env, workdir=tmp_path_factory.mktemp("node%d" % i))
            servers.append(s.start())
        for s in servers:  # both subscribed and heard from Redis
            wait_until(lambda: http_get(s.port, "/health/ready").status == 200, timeout=10,
                       what="node ready")
        yield servers
    finally:
        for s in servers:
            s.stop()


@pytest.fixture(scope="module")
def nodes(redis, tmp_path_factory):
    yield from two_nodes(redis, tmp_path_factory)


def ws(node, uid):
    return ws_open(node.port, "/ws?user_id=" + uid)


def call(node, uid, method, path, body=None):
    from conftest import http_request
    sep = "&" if "?" in path else "?"
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if body is not None else None
    return http_request(node.port, method, "/api/v1" + path + sep + "user_id=" + uid,
                        headers=headers, body=data)


def presence_of(node, asker, uid):
    r = call(node, asker, "GET", "/presence?user_ids=" + uid)
    assert r.status == 200, r
    return r.json()["results"][0]


@needs_pg
def test_a_message_sent_on_one_node_reaches_the_other_nodes_devices(nodes):
    n1, n2 = nodes
    sender, sender_tablet, peer = ws(n1, "b801"), ws(n2, "b801"), ws(n2, "m801")
    sender.send_json({"type": "send", "to": "m801", "client_msg_id": "x-1",
                      "message": {"type": "text", "content": "跨节点"}})
    ok = frames_until(sender, lambda f: f["type"] in ("send.ok", "error"))[-1]
    assert ok["type"] == "send.ok", ok
    for c in (peer, sender_tablet):
        got = frames_until(c, lambda f: f["type"] == "message.new")[-1]
        assert got["message"]["id"] == ok["id"], got
        assert got["message"]["content"] == "跨节点" and got["cursor"] == ok["cursor"]
    # exactly once: the frame is not echoed back by the node that sent it
    assert nothing_of(peer, "message.new", wait=0.7)
    assert nothing_of(sender, "message.new", wait=0.1)


@needs_pg
def test_presence_is_shared_between_nodes(nodes):
    n1, n2 = nodes
    watcher = ws(n1, "b802")
    r = call(n1, "b802", "POST", "/conversations", {"type": "direct", "peer": "m802"})
    assert r.status in (200, 201), r
    assert presence_of(n1, "b802", "m802")["online"] is False
    phone = ws(n2, "m802")
    on = frames_until(watcher, lambda f: f["type"] == "presence" and f["user_id"] == "m802")[-1]
    assert on["online"] is True
    wait_until(lambda: presence_of(n1, "b802", "m802")["online"] is True, timeout=5,
               what="node 1 sees m802 online on node 2")
    online = call(n1, "b802", "GET", "/users/online?page_size=100").json()
    assert "m802" in [u["user_id"] for u in online["results"]], online

    # on both nodes, then gone from node 2: still online (node 1), no offline event
    laptop = ws(n1, "m802")
    time.sleep(2.5)  # node 2's mirror has node 1's device
    phone.close()
    time.sleep(0.3 + 1.0)
    assert nothing_of(watcher, "presence", wait=0.5)
    assert presence_of(n1, "b802", "m802")["online"] is True
    assert presence_of(n2, "b802", "m802")["online"] is True

    # gone everywhere: offline once, with last_seen, seen on both nodes
    laptop.close()
    off = frames_until(watcher, lambda f: f["type"] == "presence" and f["user_id"] == "m802")[-1]
    assert off["online"] is False and isinstance(off["last_seen"], int)
    for n in nodes:
        wait_until(lambda: presence_of(n, "b802", "m802")["online"] is False, timeout=5,
                   what="m802 offline everywhere")
    watcher.close()


@needs_pg
def test_ready_names_redis_while_it_is_away(nodes, redis):
    n1, n2 = nodes
    r = http_get(n1.port, "/health/ready")
    assert r.status == 200 and r.json()["checks"]["redis"] == "ok", r
    redis.stop()
    try:
        wait_until(lambda: http_get(n1.port, "/health/ready").status == 503, timeout=8,
                   what="ready answers 503 without Redis")
        err = http_get(n1.port, "/health/ready").json()["error"]
        assert err["code"] == "unavailable" and err["field"] == "redis", err
        assert http_get(n1.port, "/health/live").status == 200
    finally:
        redis.start()
    for n in nodes:
        wait_until(lambda: http_get(n.port, "/health/ready").status == 200, timeout=10,
                   what="ready again once Redis is back")
    # events cross again
    a, b = ws(n1, "b803"), ws(n2, "m803")
    a.send_json({"type": "send", "to": "m803", "message": {"type": "text", "content": "back"}})
    got = frames_until(b, lambda f: f["type"] == "message.new")[-1]
    assert got["message"]["content"] == "back"


@pytest.mark.store_independent
@pytest.mark.parametrize("url,why", [
    ("http://127.0.0.1:6379", "must start with redis://"),
    ("redis://127.0.0.1:99999", "port"),
    ("redis://:6379", "host"),
    ("redis://127.0.0.1/x", "database"),
    ("rediss://127.0.0.1", "TLS"),
])
def test_a_bad_redis_url_is_refused_naming_the_setting(url, why):
    r = run_herald(["check-config"], env={"HERALD_REDIS_URL": url,
                                          "HERALD_DATA_DIR": tempfile.mkdtemp()})
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "HERALD_REDIS_URL" in r.stderr and why in r.stderr, r.stderr


@pytest.mark.store_independent
def test_check_config_masks_the_redis_password():
    r = run_herald(["check-config"], env={"HERALD_REDIS_URL": "redis://:s3cret-pw@10.0.0.5:6380/2",
                                          "HERALD_DATA_DIR": tempfile.mkdtemp()})
    assert r.returncode == 0, r.stderr
    assert "HERALD_REDIS_URL" in r.stdout and "s3cret-pw" not in r.stdout + r.stderr


@needs_pg
def test_a_sync_polling_one_node_misses_nothing_sent_on_both(nodes):
    """Cursors follow commit order across nodes (docs/chat.md, "Several nodes"): a reader that
    pages GET /sync on one node while both nodes commit messages (each into a group of its
    own) sees every one of them, each once. Without that order a page could end on a cursor committed on one node while a
    smaller one was still being committed on the other, and the next page would skip it."""
    import threading
    n1, n2 = nodes
    for i in range(6):  # demo users exist once they have been seen
        assert call(n1, "b95%d" % i, "GET", "/auth/me").status == 200
    convs = []  # one group per node: writes on the two nodes touch no common row
    for n in range(2):
        r = call(n1, "m950", "POST", "/conversations",
                 {"type": "group", "name": "order %d" % n,
                  "members": ["b95%d" % i for i in range(n, 6, 2)]})
        assert r.status == 201, r
        convs.append(r.json()["id"])
    head = call(n1, "m950", "GET", "/sync").json()["cursor"]
    sent, failed, lock, done = set(), [], threading.Lock(), threading.Event()

    def sender(i):
        node, conv = (n1, n2)[i % 2], convs[i % 2]
        for k in range(300):
            r = call(node, "b95%d" % i, "POST", "/conversations/%s/messages" % conv,
                     {"type": "text", "content": "%d-%d" % (i, k)})
            with lock:
                if r.status == 201:
                    sent.add(r.json()["id"])
                else:
                    failed.append((r.status, r.body[:200]))

    seen, dup = set(), []

    def reader():
        cursor = head
        while True:
            last = done.is_set()
            p = call(n1, "m950", "GET", "/sync?limit=500&cursor=" + cursor).json()
            for e in p["events"]:
                if e["type"] == "message.new":
                    if e["message"]["id"] in seen:
                        dup.append(e["message"]["id"])
                    seen.add(e["message"]["id"])
            cursor = p["cursor"]
            if last and not p["has_more"]:
                return

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(6)]
    rt = threading.Thread(target=reader)
    rt.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    rt.join()
    assert not failed, failed[:3]
    assert len(sent) == 1800
    assert not dup, dup[:5]
    missed = sent - seen
    assert not missed, "%d of 1800 never synced" % len(missed)


def _operators(nodes):
    """A superadmin, and an operator whose one role monitors every app (role id, token)."""
    from test_edit_recall import PW, operator_call, operator_login, root_token
    n1 = nodes[0]
    root = root_token(n1, "boss-cluster")
    role = operator_call(n1, root, "POST", "/admin/roles",
                         {"name": "watchers", "permissions": ["conversations:monitor"]})
    assert role.status == 201, role
    r = operator_call(n1, root, "POST", "/admin/operators",
                      {"username": "watcher", "password": PW,
                       "roles": [role.json()["id"]]})
    assert r.status == 201, r
    return root, role.json()["id"], operator_login(n1, "watcher")


@pytest.fixture(scope="module")
def operators(nodes):
    return _operators(nodes)


@needs_pg
def test_instances_name_each_node_by_its_bus_id_and_address(nodes, operators):
    """/admin/instances lists both nodes, each under the id it has on the Redis bus (the one
    its log names) and with the address it listens on."""
    import re
    from test_edit_recall import operator_call
    root = operators[0]
    listed = operator_call(nodes[0], root, "GET", "/admin/instances").json()["results"]
    alive = {n["id"]: n for n in listed if n["alive"]}
    assert len(alive) == 2, listed
    for s in nodes:
        m = re.search(r"node ([0-9a-f]{16}) shares events", s.stderr_text())
        assert m, s.stderr_text()
        assert alive[m.group(1)]["address"] == "127.0.0.1:%d" % s.port, alive


@needs_pg
def test_a_monitor_gets_what_every_node_commits(nodes, operators):
    """An operator's monitor socket on node 2 gets the messages sent through node 1, which
    has no monitor of its own (it used to publish monitor frames only when it had one)."""
    n1, n2 = nodes
    _, _, watcher = operators
    assert call(n1, "m960", "GET", "/auth/me").status == 200  # the peer exists
    mon = ws_open(n2.port, "/ws?token=" + watcher)
    assert mon.hello["operator"] is not None, mon.hello
    for text in ("through node 1", "through node 2"):
        node = n1 if text.endswith("1") else n2
        r = call(node, "b960", "POST", "/messages",
                 {"to": "m960", "message": {"type": "text", "content": text}})
        assert r.status == 201, r
        got = frames_until(mon, lambda f: f["type"] == "message.new")[-1]
        assert got["message"]["content"] == text, got
    mon.close()


@needs_pg
def test_a_role_losing_the_monitor_right_closes_its_sockets_on_every_node(nodes, operators):
    """Editing a role on node 1 ends its operators' monitoring sockets on node 2 too (through
    the store's revocations, which every node polls), as it does on node 1."""
    from test_edit_recall import operator_call
    n1, n2 = nodes
    root, role, watcher = operators
    far = ws_open(n2.port, "/ws?token=" + watcher)
    assert far.hello["operator"] is not None, far.hello
    r = operator_call(n1, root, "PATCH", "/admin/roles/" + role, {"permissions": ["apps:read"]})
    assert r.status == 200, r
    far.expect_close([4001], timeout=5)
    r = ws_handshake_status(n2, watcher)
    assert r == 403, r


def ws_handshake_status(node, token):
    from conftest import ws_handshake
    return ws_handshake(node.port, "/ws?token=" + token)[0].status


@needs_pg
def test_hello_cursor_is_the_newest_the_cluster_committed(nodes):
    """hello's cursor counts what the other nodes committed too (heard through Redis), not
    only this node's own commits (docs/protocol.md, "hello")."""
    n1, n2 = nodes
    assert call(n1, "m970", "GET", "/auth/me").status == 200
    r = call(n1, "b970", "POST", "/messages",
             {"to": "m970", "message": {"type": "text", "content": "cursor"}})
    assert r.status == 201, r
    sent = int(r.json()["cursor"])
    deadline = time.time() + 5
    while True:
        c = ws(n2, "m970")
        got = int(c.hello["cursor"])
        c.close()
        if got >= sent or time.time() > deadline:
            break
        time.sleep(0.1)
    assert got >= sent, (got, sent)


@needs_pg
def test_a_node_stopping_sends_its_users_offline(redis, tmp_path_factory):
    """A node's graceful stop does not drop the departures still in their grace: its users go
    offline at once, last_seen stored, and their contacts on the other nodes are told (with a
    grace of 30 s, nothing else could send it within this test)."""
    gen = two_nodes(redis, tmp_path_factory, grace="30s")
    n1, n2 = next(gen)
    try:
        watcher = ws(n1, "b980")
        r = call(n1, "b980", "POST", "/conversations", {"type": "direct", "peer": "m980"})
        assert r.status in (200, 201), r
        phone = ws(n2, "m980")
        frames_until(watcher, lambda f: f["type"] == "presence" and f["user_id"] == "m980"
                     and f["online"])
        n2.stop()
        phone.close()
        off = frames_until(watcher, lambda f: f["type"] == "presence"
                           and f["user_id"] == "m980", timeout=10)[-1]
        assert off["online"] is False and isinstance(off["last_seen"], int), off
        wait_until(lambda: presence_of(n1, "b980", "m980")["last_seen"] is not None,
                   timeout=15, what="last_seen stored")
        watcher.close()
    finally:
        gen.close()


@needs_pg
def test_support_routing_sees_each_nodes_agents(redis, tmp_path_factory):
    """Support routing's online flags are per node and die with the node's heartbeat: a node
    starting does not unflag an agent connected to another node (it used to clear every
    flag), an agent connected to two nodes stays routable when one dies, and the agents of a
    node killed without a shutdown stop taking conversations once its heartbeat is stale."""
    gen = two_nodes(redis, tmp_path_factory)
    n1, n2 = next(gen)
    try:
        def support(node, customer):
            r = call(node, customer, "POST", "/support/conversations", {})
            assert r.status in (200, 201), r
            return r.json()

        def online(node, agent):
            r = call(node, agent, "GET", "/support/agents?page_size=100")
            assert r.status == 200, r
            return {a["user_id"]: a["online"] for a in r.json()["results"]}.get(agent)

        a1 = ws(n2, "p990")  # on node 2 only
        wait_until(lambda: online(n1, "p990") is True, timeout=10, what="p990 flagged online")
        n1.stop()
        n1.start()
        wait_until(lambda: http_get(n1.port, "/health/ready").status == 200, timeout=10,
                   what="node 1 ready again")
        assert online(n1, "p990") is True
        assert support(n1, "b990")["assignee"] == "p990"
        # an agent on both nodes: the node that dies does not take them away
        a2 = ws(n1, "p991")
        wait_until(lambda: online(n1, "p991") is True, timeout=10, what="p991 online")
        a3 = ws(n2, "p991")
        time.sleep(1)  # node 2 has flagged p991 too
        n2.kill()
        a1.close()
        a3.close()
        # node 2's heartbeat goes stale (15 s): p990 is offline for the routing, p991 is not
        wait_until(lambda: online(n1, "p990") is False, timeout=25, interval=0.5,
                   what="the dead node's agent unflagged")
        assert online(n1, "p991") is True
        for k in range(4):
            assert support(n1, "b99%d" % (k + 2))["assignee"] == "p991"
        a2.close()
    finally:
        gen.close()
