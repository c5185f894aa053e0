"""
The event stream over Server-Sent Events (docs/protocol.md, "Server-Sent Events"):
GET /api/v1/events?cursor= replays the user's events after the cursor (each with its cursor
as the SSE id), then `sync.done`, then live events, with no gap and no duplicate at the
boundary; Last-Event-ID resumes; a non-member's events never arrive; a bad cursor is 422 naming
it; no token is 401; a server shutting down ends the stream at once.
"""
import json
import socket
import time

from conftest import http_request, module_server, tcp_connect
from test_conversations import App, app_headers
from test_messages import direct, send

import pytest


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from module_server(tmp_path_factory)


@pytest.fixture(scope="module")
def app(server):
    return App(server, app_headers(server))


class Stream:
    """A raw SSE client: the response head, then events as dicts {id, data}."""

    def __init__(self, port, path, headers=None):
        self.sock = tcp_connect(port)
        lines = ["GET %s HTTP/1.1" % path, "Host: x", "Accept: text/event-stream"]
        lines += ["%s: %s" % kv for kv in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self._more(5)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.head = head.decode()
        self.status = int(self.head.split(" ", 2)[1])

    def _more(self, timeout):
        self.sock.settimeout(timeout)
        d = self.sock.recv(65536)
        if not d:
            raise EOFError
        self.buf += d

    def event(self, timeout=5):
        """The next event with data (comments and retry lines skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\n\n" not in self.buf:
                self._more(max(0.05, deadline - time.monotonic()))
            block, self.buf = self.buf.split(b"\n\n", 1)
            ev = {}
            for line in block.decode().split("\n"):
                if line.startswith("id: "):
                    ev["id"] = line[4:]
                elif line.startswith("data: "):
                    ev["data"] = json.loads(line[6:])
            if "data" in ev:
                return ev

    def events_until(self, pred, timeout=5):
        seen = []
        while True:
            ev = self.event(timeout)
            seen.append(ev)
            if pred(ev["data"]):
                return seen

    def close(self):
        self.sock.close()


def stream(server, app, uid, query=""):
    return Stream(server.port, "/api/v1/events?token=" + app.token(uid) + query)


def texts(evs):
    return [e["data"]["message"]["content"] for e in evs
            if e["data"]["type"] == "message.new"]


def test_replay_then_live_without_gap_or_duplicate(app, server):
    app.users("sa", "sb")
    conv = direct(app, "sa", "sb")
    for i in range(3):
        assert send(app, "sa", conv, "before %d" % i).status == 201
    s = stream(server, app, "sb")
    assert s.status == 200 and "text/event-stream" in s.head and "Content-Length" not in s.head
    replay = s.events_until(lambda d: d["type"] == "sync.done")
    assert texts(replay) == ["before 0", "before 1", "before 2"]
    ids = [int(e["id"]) for e in replay if "id" in e]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    done = replay[-1]["data"]
    assert done["complete"] is True and done["has_more"] is False and done["cursor"] == str(ids[-1])
    assert send(app, "sa", conv, "live").status == 201
    live = s.events_until(lambda d: d["type"] == "message.new")
    assert texts(live) == ["live"] and int(live[-1]["id"]) > ids[-1]
    s.close()

    # resumed from the last id: only what came after, once
    assert send(app, "sa", conv, "while away").status == 201
    r = Stream(server.port, "/api/v1/events?token=" + app.token("sb"),
               headers={"Last-Event-ID": live[-1]["id"]})
    again = r.events_until(lambda d: d["type"] == "sync.done")
    assert texts(again) == ["while away"]
    r.close()


def test_a_non_members_events_never_arrive(app, server):
    app.users("sc", "sd", "se")
    conv = direct(app, "sc", "sd")
    s = stream(server, app, "se")
    s.events_until(lambda d: d["type"] == "sync.done")
    assert send(app, "sc", conv, "private").status == 201
    with pytest.raises((socket.timeout, TimeoutError)):
        s.event(timeout=0.8)
    s.close()


def test_a_publish_to_every_user_and_to_one_reaches_the_stream(app, server):
    """POST /publish: "*" (the app's topic) reaches an SSE stream as it reaches a socket."""
    from test_publish import publish
    app.users("sp1")
    s = stream(server, app, "sp1")
    s.events_until(lambda d: d["type"] == "sync.done")
    creds = app_headers(server)
    assert publish(server, creds, {"to": "*", "event": {"n": 1}}).status == 202
    assert publish(server, creds, {"to": ["sp1"], "event": {"n": 2}}).status == 202
    got = [s.event()["data"], s.event()["data"]]
    assert [g.get("event") for g in got] == [{"n": 1}, {"n": 2}], got
    s.close()


@pytest.mark.parametrize("query,headers,field", [
    ("&cursor=abc", {}, "cursor"),
    ("&cursor=-1", {}, "cursor"),
    ("", {"Last-Event-ID": "x1"}, "Last-Event-ID"),
    ("&cursor=" + "9" * 32, {}, "cursor"),  # longer than any cursor: never read as absent
    ("&cursor=999999999999", {}, "cursor"),  # past the newest event: not this server's
    ("", {"Last-Event-ID": "999999999999"}, "Last-Event-ID"),
])
def test_a_bad_cursor_is_refused_naming_it(app, server, query, headers, field):
    app.users("sf")
    h = dict(headers, Authorization="Bearer " + app.token("sf"))
    r = http_request(server.port, "GET", "/api/v1/events?" + query.lstrip("&"), h)
    assert r.status == 422 and r.json()["error"]["field"] == field, r


def test_no_token_is_401(server):
    r = http_request(server.port, "GET", "/api/v1/events", None)
    assert r.status == 401, r


def test_shutdown_ends_an_open_stream(server_factory):
    """The drain ends an open stream: the server exits without waiting for its shutdown
    timeout (60 s here, so that a slow, loaded machine can't make the check fail: the forced
    path would log "shutdown timeout")."""
    srv = server_factory({"HERALD_SHUTDOWN_TIMEOUT": "60s"})
    a = App(srv, app_headers(srv))
    a.users("sg")
    s = Stream(srv.port, "/api/v1/events?token=" + a.token("sg"))
    s.events_until(lambda d: d["type"] == "sync.done")
    took = srv.stop(timeout=90)
    assert took < 30, took
    assert "shutdown timeout" not in srv.stderr_text(), srv.stderr_tail()
    with pytest.raises((EOFError, OSError)):
        for _ in range(10):
            s.event(timeout=1)
