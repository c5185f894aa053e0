"""
Per-app API rate limits (issue 3 §8): apps.rate_limit_rps / rate_limit_burst turn into a
token bucket per app; past it, app requests get 429 `rate_limited` with Retry-After,
while other apps go on. Limits are re-read from the store every two seconds.
"""
import json
import os
import sqlite3
import time

import pytest

from conftest import http_request, module_server, run_herald

API = "/api/v1"

pytestmark = pytest.mark.skipif(os.environ.get("HERALD_TEST_PG_URL") is not None,
                                reason="sets the limit through the SQLite file")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory)


def cli_app(server, *args):
    p = run_herald(["app", *args], env=server.cli_env())
    assert p.returncode == 0, p
    kv = dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)
    return {"X-App-Key": kv["key"], "X-App-Secret": kv["secret"]}


def get_users(server, auth):
    return http_request(server.port, "GET", API + "/users", headers=auth, timeout=20)


def test_rate_limited_app_gets_429_others_do_not(server):
    limited = cli_app(server, "secret", "default")
    other = cli_app(server, "create", "Other")
    db = sqlite3.connect(os.path.join(server.data_dir, "herald.db"))
    with db:
        db.execute("UPDATE apps SET rate_limit_rps = 1, rate_limit_burst = 3 WHERE key = 'default'")
    db.close()
    time.sleep(2.5)  # the limits are re-read every two seconds
    statuses = [get_users(server, limited) for _ in range(8)]
    codes = [r.status for r in statuses]
    assert codes.count(200) <= 4 and codes.count(429) >= 4, codes
    r = next(r for r in statuses if r.status == 429)
    assert r.json()["error"]["code"] == "rate_limited", r
    assert int(r.header("Retry-After")) >= 1, r
    # another app is not affected
    assert all(get_users(server, other).status == 200 for _ in range(8))
    # the bucket refills
    time.sleep(1.2)
    assert get_users(server, limited).status == 200
