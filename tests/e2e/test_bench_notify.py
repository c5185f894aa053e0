"""
The notification benchmarks' tools at a tiny scale (bench/README.md, "Notifications (issue
11)"): `herald-bench notify` POSTs in-app notifications to users whose sockets it holds,
matches every `notification` frame to its request and acks it (so every delivery ends
`delivered` in the store); with a body to "subscribers" (bench/notify.sh fanout) every
online socket gets the one notification, and bench/notify_poll.py reports when none of its
deliveries is pending or sending any more.
"""
import json
import os
import subprocess

from conftest import REPO_ROOT, clean_env, http_get, http_request, run_herald, wait_until
from test_conversations import app_headers

BENCH_BIN = os.environ.get("HERALD_BENCH_BIN",
                           os.path.join(REPO_ROOT, "build", "release", "herald-bench"))
SETUP = os.path.join(REPO_ROOT, "bench", "chat_setup.py")
POLL = os.path.join(REPO_ROOT, "bench", "notify_poll.py")


def make_users(server, tmp_path, users, sockets):
    """users n0.. with tokens for the first `sockets`; returns (tokens file, app headers)."""
    hdr = app_headers(server)
    tokens = str(tmp_path / "tokens")
    p = subprocess.run(["/usr/bin/python3", SETUP, str(server.port), hdr["X-App-Secret"],
                        "notify", str(users), str(sockets), tokens],
                       env=clean_env(), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p
    with open(tokens) as f:
        assert len(f.read().splitlines()) == sockets
    return tokens, hdr


def bench(server, hdr, *args):
    p = subprocess.run([BENCH_BIN, "notify", *args, "--port", str(server.port),
                        "--pid", str(server.pid), "--json",
                        "--header", "X-App-Key: " + hdr["X-App-Key"],
                        "--header", "X-App-Secret: " + hdr["X-App-Secret"]],
                       env=clean_env(), capture_output=True, text=True, timeout=120)
    return p.returncode, json.loads(p.stdout), p.stderr


def count(server, hdr, query):
    r = http_get(server.port, "/api/v1/deliveries?page_size=1&" + query, headers=hdr)
    assert r.status == 200, r
    return r.json()["count"]


def test_inapp_notifications_are_accepted_delivered_and_acked(server_factory, tmp_path):
    server = server_factory()
    tokens, hdr = make_users(server, tmp_path, 5, 5)
    rc, r, err = bench(server, hdr, "--tokens", tokens, "--conns", "5", "--rate", "40",
                       "--warmup", "0.25", "--duration", "1", "--drain", "5",
                       "--publishers", "2")
    assert rc == 0, (r, err)
    assert r["connected"] == 5 and r["errors"] == 0, r
    # every request answered 2xx; the window's are all accepted and their frames all came
    assert r["answers"] == r["answers_2xx"] == r["sent"] >= 40, r
    assert r["accepted_window"] == r["sent_window"] == r["expected_window"] >= 35, r
    assert r["delivered_window"] == r["expected_window"] and r["lost"] == 0, r
    assert r["accept_p99_ms"] > 0 and r["p99_ms"] > 0, r
    assert r["acks"] == r["sent"], r
    # one delivery per notification, round robin over the 5 users, each acked: delivered
    sent = r["sent"]
    assert count(server, hdr, "channel=inapp") == sent
    for u in range(5):
        n = count(server, hdr, "user_id=n%d" % u)
        assert n in (sent // 5, sent // 5 + 1), (u, n, sent)

    def acked():
        return count(server, hdr, "status=delivered") == sent
    wait_until(acked, what="every delivery acked")


def test_fanout_to_subscribers_reaches_every_online_socket(server_factory, tmp_path):
    server = server_factory()
    tokens, hdr = make_users(server, tmp_path, 30, 10)
    op = "fanop"
    p = run_herald(["admin", "create", op, "--password-stdin"], env=server.cli_env(),
                   input="a long passphrase\n")
    assert p.returncode == 0, p
    r = http_request(server.port, "POST", "/api/v1/admin/auth/login",
                     {"Content-Type": "application/json"},
                     json.dumps({"username": op, "password": "a long passphrase"}).encode())
    assert r.status == 200, r
    ot = {"Authorization": "Bearer " + r.json()["access_token"],
          "Content-Type": "application/json"}
    apps = http_get(server.port, "/api/v1/admin/apps", headers=ot).json()["results"]
    app_id = [a["id"] for a in apps if a["key"] == "default"][0]
    r = http_request(server.port, "POST", "/api/v1/admin/message-types", ot,
                     json.dumps({"app_id": app_id, "code": "bench.fan", "name": "Fan",
                                 "channels": ["inapp"]}).encode())
    assert r.status == 201, r
    tok = http_request(server.port, "POST", "/api/v1/auth/token",
                       {"Content-Type": "application/json"},
                       json.dumps({"api_key": hdr["X-App-Key"],
                                   "api_secret": hdr["X-App-Secret"]}).encode())
    assert tok.status == 200, tok
    poll = subprocess.Popen(["/usr/bin/python3", POLL, str(server.port),
                             tok.json()["access_token"], "bench.fan", "60", "0.02"],
                            env=clean_env(), stdout=subprocess.PIPE, text=True)
    try:
        rc, r, err = bench(server, hdr, "--tokens", tokens, "--conns", "10", "--count", "1",
                           "--rate", "1", "--warmup", "0", "--duration", "1", "--drain", "30",
                           "--publishers", "1", "--body",
                           '{"type":"bench.fan","recipients":"subscribers","title":"fan",'
                           '"content":"{t}"}')
        out, _ = poll.communicate(timeout=90)
    finally:
        poll.kill()
    assert rc == 0, (r, err)
    assert (r["sent"], r["accepted_window"], r["expected_window"], r["delivered_window"],
            r["lost"], r["acks"]) == (1, 1, 10, 10, 0, 10), r
    assert 0 < r["last_frame_s"] < 30 and r["max_ms"] >= r["p50_ms"] > 0, r
    res = json.loads(out)
    # every user of the app is a subscriber: 30 deliveries, none left pending or sending
    assert res["deliveries"] == 30, res
    assert sum(res["status"].values()) == 30, res
    assert not {"pending", "sending"} & set(res["status"]), res
    assert res["all_pushed_s"] >= 0, res
