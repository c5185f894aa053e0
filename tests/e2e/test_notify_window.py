"""The idempotency window of notifications (docs/notifications.md, "Idempotency";
HERALD_IDEMPOTENCY_WINDOW): a repeat of a key inside the window replays the first answer, one
after it is a new notification; a bad window refuses to start naming the setting. Runs on SQLite
and, under scripts/pg-test.sh, on PostgreSQL."""
import time

import pytest

from conftest import run_herald
from test_conversations import App, app_headers
from test_notifications import get, send

WINDOW_S = 2


def test_repeat_inside_the_window_replays_after_it_is_new(server_factory):
    s = server_factory(env={"HERALD_IDEMPOTENCY_WINDOW": "%ds" % WINDOW_S})
    a = App(s, app_headers(s))
    a.users("win")
    body = {"type": "window", "recipients": ["win"], "title": "once per window"}
    t0 = time.monotonic()
    r1 = send(a, body, headers={"Idempotency-Key": "w-1"})
    assert r1.status == 202 and r1.header("Idempotency-Replay") is None, r1
    r2 = send(a, body, headers={"Idempotency-Key": "w-1"})
    assert time.monotonic() - t0 < WINDOW_S - 0.5, "too slow to be inside the window"
    assert r2.status == 202 and r2.header("Idempotency-Replay") == "true", r2
    assert r2.json() == r1.json()
    # inside the window a different body with the key is still refused
    r = send(a, dict(body, title="other"), headers={"Idempotency-Key": "w-1"})
    assert r.status == 422 and r.json()["error"]["field"] == "idempotency_key", r
    time.sleep(WINDOW_S + 0.3 - (time.monotonic() - t0))
    # past the window: a new notification, and the key's window starts again from it
    r3 = send(a, body, headers={"Idempotency-Key": "w-1"})
    assert r3.status == 202 and r3.header("Idempotency-Replay") is None, r3
    assert r3.json()["id"] != r1.json()["id"]
    r4 = send(a, body, headers={"Idempotency-Key": "w-1"})
    assert r4.status == 202 and r4.header("Idempotency-Replay") == "true", r4
    assert r4.json() == r3.json()
    # and past it a different body is a new notification too
    time.sleep(WINDOW_S + 0.3)
    r5 = send(a, dict(body, title="other"), headers={"Idempotency-Key": "w-1"})
    assert r5.status == 202 and r5.header("Idempotency-Replay") is None, r5
    assert r5.json()["id"] not in (r1.json()["id"], r3.json()["id"])
    assert get(a, "/notifications?type=window").json()["count"] == 3


@pytest.mark.store_independent
def test_a_bad_window_names_the_setting(tmp_path):
    for value, why in (("0", "must be between 1s and 30d"), ("31d", "must be between 1s and 30d"),
                       ("soon", "invalid duration")):
        p = run_herald(["serve"], env={"HERALD_IDEMPOTENCY_WINDOW": value,
                                       "HERALD_DATA_DIR": str(tmp_path / "d"),
                                       "HERALD_LISTEN": "127.0.0.1:0"}, timeout=20)
        assert p.returncode != 0, p
        assert "HERALD_IDEMPOTENCY_WINDOW" in p.stderr and why in p.stderr, p.stderr
