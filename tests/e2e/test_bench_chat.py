"""
The chat benchmarks' tools at a tiny scale (bench/README.md): `herald-bench storm` opens the
conversations, takes each client's cursor, sends what it misses, reconnects every client and
counts that its sync gave exactly its missed messages; `bench/chat_setup.py w1` puts every user
in three conversations, and `herald-bench ws-idle --tokens` connects each with its own token.
"""
import json
import os
import subprocess

import pytest

from conftest import REPO_ROOT, clean_env, module_server
from test_conversations import app_headers

BENCH_BIN = os.environ.get("HERALD_BENCH_BIN",
                           os.path.join(REPO_ROOT, "build", "release", "herald-bench"))
SETUP = os.path.join(REPO_ROOT, "bench", "chat_setup.py")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory)


def make_tokens(server, tmp_path, *args):
    tokens = str(tmp_path / "tokens")
    secret = app_headers(server)["X-App-Secret"]
    p = subprocess.run(["/usr/bin/python3", SETUP, str(server.port), secret, *args, tokens],
                       env=clean_env(), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p
    return tokens


def bench(server, *args):
    p = subprocess.run([BENCH_BIN, *args, "--port", str(server.port), "--pid", str(server.pid),
                        "--json"], env=clean_env(), capture_output=True, text=True, timeout=120)
    return p.returncode, json.loads(p.stdout), p.stderr


def test_storm_catches_up_every_client_with_exactly_its_missed_messages(server, tmp_path):
    tokens = make_tokens(server, tmp_path, "storm", "2", "6")
    rc, r, err = bench(server, "storm", "--tokens", tokens, "--peers", "2", "--clients", "6",
                       "--missed", "4", "--sync-limit", "3", "--offline", "0", "--timeout", "60")
    assert rc == 0, (r, err)
    assert (r["conversations"], r["sent"], r["caught_up"], r["exact"], r["events"]) == \
        (6, 24, 6, 6, 24), r
    # pages of 3: each client asks for 4 events in two pages at least
    assert r["sync_requests"] >= 12 and r["duplicates"] == 0 and r["errors"] == 0, r
    assert r["all_caught_up_s"] is not None and r["hwm_kib"] > 0, r


def test_ws_idle_connects_each_user_with_its_token(server, tmp_path):
    tokens = make_tokens(server, tmp_path, "w1", "7", "3")
    rc, r, err = bench(server, "ws-idle", "--tokens", tokens, "--path", "/ws?token={token}",
                       "--conns", "7", "--hold", "0.2")
    assert rc == 0 and r["connected"] == 7 and r["errors"] == 0, (r, err)
