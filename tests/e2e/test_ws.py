"""
WebSocket at /ws: the opening handshake (accept key, errors, Origin allow-list,
subprotocol), the protocol frames available so far (hello, ping -> pong, error frames),
binary messages, the server heartbeat and the bounded output queue for slow readers.
"""
import asyncio
import base64
import json
import os
import socket
import time

import pytest
import websockets

from conftest import (OP_BINARY, OP_CLOSE, OP_PING, OP_TEXT, Closed, build_request,
                      http_get, module_server, ws_accept_for, ws_frame, ws_handshake,
                      ws_new_key, ws_open, WSConn)
from conftest import WS_PATH  # noqa: E402

SERVER_ENV = {"HERALD_DEMO": "1"}

# Handshake, framing, heartbeat and the output queue bound. The demo sign-in writes the user
# (as test_ws_auth.py does on both stores); what is asserted cannot depend on the store, so
# it runs on SQLite only (NOTES.md, "Which tests run on PostgreSQL too").
pytestmark = pytest.mark.store_independent

# ------------------------------------------------------------------ handshake and hello

def test_handshake_101_with_accept_key(server):
    key = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3 example
    r, c = ws_handshake(server.port, key=key)
    with c:
        assert r.status == 101, r
        assert r.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", r
        assert (r.header("Upgrade") or "").lower() == "websocket", r
        assert "upgrade" in (r.header("Connection") or "").lower(), r
        assert r.header("Sec-WebSocket-Protocol") is None, r  # none offered, none chosen
        assert r.header("Sec-WebSocket-Extensions") is None, r


def test_handshake_random_key(server):
    r, c = ws_handshake(server.port)
    with c:
        assert r.status == 101, r
        assert r.header("Sec-WebSocket-Accept") == ws_accept_for(c.key)


def test_hello_is_first_frame(server):
    r, c = ws_handshake(server.port)
    with c:
        assert r.status == 101
        f = c.recv_frame()
        assert f.opcode == OP_TEXT and f.fin, f
        hello = f.json()
        assert hello["type"] == "hello", hello
        assert isinstance(hello.get("session_id"), str) and hello["session_id"], hello
        assert isinstance(hello.get("heartbeat_ms"), int) and hello["heartbeat_ms"] > 0, hello


def test_session_ids_differ(server):
    a, b = ws_open(server.port), ws_open(server.port)
    with a, b:
        assert a.hello["session_id"] != b.hello["session_id"]


def test_frames_sent_with_the_handshake_are_processed(server):
    c = WSConn(server.port)
    with c:
        key = ws_new_key()
        hs = build_request("GET", WS_PATH, [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                          ("Sec-WebSocket-Key", key),
                                          ("Sec-WebSocket-Version", "13")],
                           host="127.0.0.1:%d" % server.port)
        c.send(hs + ws_frame(OP_TEXT, b'{"type":"ping","id":"early"}'))
        r = c.read_response()
        assert r.status == 101, r
        assert c.recv_json()["type"] == "hello"
        assert c.recv_json() == {"type": "pong", "id": "early"}


# ------------------------------------------------------------------ frames

@pytest.mark.parametrize("id_", ["x1", 42, 0, -7, 3.5, "", "with \"quotes\" and \\ and \n",
                                 "中文 😀"],
                         ids=["string", "int", "zero", "negative", "float", "empty-string",
                              "escapes", "unicode"])
def test_ping_pong_echoes_id(server, id_):
    with ws_open(server.port) as c:
        assert c.ping(id_) == {"type": "pong", "id": id_}


def test_ping_without_id(server):
    with ws_open(server.port) as c:
        c.send_text('{"type":"ping"}')
        reply = c.recv_json()
        assert reply.get("type") == "pong", reply
        assert reply.get("id") is None, reply


def test_many_pings_in_order(server):
    with ws_open(server.port) as c:
        for i in range(50):
            c.send_json({"type": "ping", "id": i})
        assert [c.recv_json()["id"] for _ in range(50)] == list(range(50))


def test_invalid_json_error_keeps_connection(server):
    with ws_open(server.port) as c:
        c.send_text("{this is not json")
        err = c.recv_json()
        assert err.get("type") == "error" and err.get("code") == "invalid_json", err
        assert isinstance(err.get("message"), str) and err["message"], err
        assert c.ping("still-here") == {"type": "pong", "id": "still-here"}


@pytest.mark.parametrize("text,code,field", [
    # a repeated key: which one would a reader see? (cJSON saw the first "type")
    ('{"type":"ping","type":"x","id":1}', "invalid_json", "type"),
    ('{"type":"ping","id":"a","id":"b"}', "invalid_json", "id"),
    # \u0000 would come back cut in the pong: refused naming the field
    ('{"type":"ping","id":"ab\\u0000cd"}', "validation_failed", "id"),
    ('{"type":"ping","id":"\\ud800"}', "invalid_json", "id"),
    ('{"type":"ping","id":1} {"type":"ping"}', "invalid_json", None),
], ids=["dup-type", "dup-id", "escaped-nul", "lone-surrogate", "trailing"])
def test_frames_are_checked_like_request_bodies(server, text, code, field):
    with ws_open(server.port) as c:
        c.send_text(text)
        err = c.recv_json()
        assert err.get("type") == "error" and err.get("code") == code, err
        assert err.get("field") == field, err
        assert c.ping("after-strict") == {"type": "pong", "id": "after-strict"}


def test_unknown_type_error_keeps_connection(server):
    with ws_open(server.port) as c:
        c.send_json({"type": "no.such.type", "x": 1})
        err = c.recv_json()
        assert err.get("type") == "error" and err.get("code") == "unknown_type", err
        assert c.ping("after-unknown") == {"type": "pong", "id": "after-unknown"}


@pytest.mark.parametrize("text", ['[1,2,3]', '"just a string"', '{"no_type":1}', '{"type":5}'],
                         ids=["array", "string", "no-type", "type-not-string"])
def test_not_a_typed_object_gets_error_frame(server, text):
    with ws_open(server.port) as c:
        c.send_text(text)
        err = c.recv_json()
        assert err.get("type") == "error", err
        assert isinstance(err.get("code"), str) and err["code"], err
        assert c.ping("ok") == {"type": "pong", "id": "ok"}


def test_binary_message_closed_with_1003(server):
    with ws_open(server.port) as c:
        c.send_frame(OP_BINARY, b"\x00\x01binary")
        before, _ = c.expect_close(1003)
        assert before == []


# ------------------------------------------------------------------ handshake errors

def test_missing_key_400(server):
    r, c = ws_handshake(server.port, headers=[("Sec-WebSocket-Key", None)])
    c.close()
    assert r.status == 400, r


@pytest.mark.parametrize("key", [
    "abc",
    base64.b64encode(b"x" * 15).decode(),
    base64.b64encode(b"x" * 17).decode(),
    "!!!!!!!!!!!!!!!!!!!!!!==",
    base64.b64encode(b"x" * 16).decode()[:-2],
], ids=["short", "15-bytes", "17-bytes", "not-base64", "no-padding"])
def test_bad_key_400(server, key):
    r, c = ws_handshake(server.port, key=key)
    c.close()
    assert r.status == 400, r


def test_missing_upgrade_header(server):
    r, c = ws_handshake(server.port, upgrade=False)
    c.close()
    assert r.status == 426, r


def test_unsupported_version_426(server):
    r, c = ws_handshake(server.port, version="8")
    c.close()
    assert r.status == 426, r
    versions = [v.strip() for v in (r.header("Sec-WebSocket-Version") or "").split(",")]
    assert "13" in versions, r


def test_post_ws_refused(server):
    r, c = ws_handshake(server.port, method="POST")
    c.close()
    assert r.status == 405, r


def test_server_still_fine_after_handshake_errors(server):
    with ws_open(server.port) as c:
        assert c.ping("fine") == {"type": "pong", "id": "fine"}


# ------------------------------------------------------------------ Origin and subprotocol

APP = "https://app.example.com"


@pytest.fixture(scope="module")
def cors_server(tmp_path_factory):
    yield from module_server(tmp_path_factory, {"HERALD_CORS_ORIGINS": APP, "HERALD_DEMO": "1"})


@pytest.mark.parametrize("origin,status", [
    ("https://evil.example.com", 403),
    (APP, 101),
    (None, 101),
], ids=["foreign", "allowed", "no-origin"])
def test_origin_allow_list(cors_server, origin, status):
    r, c = ws_handshake(cors_server.port, headers=[("Origin", origin)])
    with c:
        assert r.status == status, r
        if status == 101:
            assert c.recv_json()["type"] == "hello"


def test_own_origin_accepted_beside_an_allow_list(cors_server):
    # the pages Herald serves itself (the chat, the console's monitor) keep their socket
    # when an operator lists another site's origin
    origin = "http://127.0.0.1:%d" % cors_server.port
    r, c = ws_handshake(cors_server.port, headers=[("Origin", origin)])
    with c:
        assert r.status == 101, r
        assert c.recv_json()["type"] == "hello"
    r, c = ws_handshake(cors_server.port, headers=[("Origin", "http://127.0.0.1:1")])
    c.close()
    assert r.status == 403, r


def test_cross_origin_refused_without_allow_list(server):
    r, c = ws_handshake(server.port, headers=[("Origin", "http://evil.example.com")])
    c.close()
    assert r.status == 403, r


def test_other_port_is_another_origin(server):
    r, c = ws_handshake(server.port, headers=[("Origin", "http://127.0.0.1:1")])
    c.close()
    assert r.status == 403, r


def test_same_origin_accepted_without_allow_list(server):
    origin = "http://127.0.0.1:%d" % server.port
    r, c = ws_handshake(server.port, headers=[("Origin", origin)])
    with c:
        assert r.status == 101, r
        assert c.recv_json()["type"] == "hello"


@pytest.mark.parametrize("offer", ["herald.v1", "other.v9, herald.v1"])
def test_subprotocol_herald_v1_selected(server, offer):
    r, c = ws_handshake(server.port, headers=[("Sec-WebSocket-Protocol", offer)])
    with c:
        assert r.status == 101, r
        assert r.header("Sec-WebSocket-Protocol") == "herald.v1", r


def test_unknown_subprotocol_not_selected(server):
    r, c = ws_handshake(server.port, headers=[("Sec-WebSocket-Protocol", "mqtt")])
    with c:
        assert r.status == 101, r
        assert r.header("Sec-WebSocket-Protocol") is None, r


# ------------------------------------------------------------------ heartbeat

def test_heartbeat_closes_silent_client(server_factory):
    s = server_factory({"HERALD_WS_HEARTBEAT": "1s", "HERALD_DEMO": "1"})
    c = ws_open(s.port)
    with c:
        assert c.hello["heartbeat_ms"] == 1000, c.hello
        t0 = time.monotonic()
        pings, close_code, closed = 0, None, False
        while time.monotonic() - t0 < 8:
            try:
                f = c.recv_frame(timeout=max(0.1, 8 - (time.monotonic() - t0)))
            except Closed:
                closed = True
                break
            except (socket.timeout, TimeoutError):
                break
            if f.opcode == OP_PING:
                pings += 1
            elif f.opcode == OP_CLOSE:
                close_code = f.close_code
                closed = c.wait_closed(3)
                break
        elapsed = time.monotonic() - t0
        assert pings >= 1, "no ping frame from the server within %.1fs" % elapsed
        assert closed, "silent client still connected after %.1fs" % elapsed
        assert elapsed <= 6, "silent client closed only after %.1fs" % elapsed
        assert close_code == 1001, close_code


def test_heartbeat_keeps_answering_client(server_factory):
    s = server_factory({"HERALD_WS_HEARTBEAT": "1s", "HERALD_DEMO": "1"})

    async def run():
        # the library answers the server's pings; it sends none of its own
        async with websockets.connect("ws://127.0.0.1:%d/ws?user_id=b1" % s.port, ping_interval=None,
                                      open_timeout=10, close_timeout=5) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert hello["type"] == "hello"
            await asyncio.sleep(5)
            await ws.send(json.dumps({"type": "ping", "id": "alive"}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert reply == {"type": "pong", "id": "alive"}
        assert ws.close_code == 1000

    asyncio.run(run())


# ------------------------------------------------------------------ slow readers

def test_slow_reader_disconnected_and_memory_bounded(server_factory):
    asan = os.environ.get("ASAN_OPTIONS", "")
    # ASan keeps freed memory in a quarantine (256 MiB by default), which would make RSS
    # track the allocation volume rather than what the server holds; keep it small here.
    asan = (asan + ":" if asan else "") + "quarantine_size_mb=1:thread_local_quarantine_size_kb=64"
    s = server_factory({"HERALD_WS_MAX_QUEUE": "64k", "ASAN_OPTIONS": asan, "HERALD_DEMO": "1"})
    other = ws_open(s.port)
    try:
        for i in range(20):  # warm up allocator pools
            assert other.ping("warm-%d-%s" % (i, "w" * 1000))["type"] == "pong"
        peak0 = s.peak_rss_bytes()

        slow = ws_open(s.port, rcvbuf=4096)
        pad = "p" * 1000
        frames = b"".join(ws_frame(OP_TEXT, '{"type":"ping","id":"%s-%05d"}' % (pad, i))
                          for i in range(20000))  # ~20 MiB of pongs if nothing were dropped
        sent, send_error = 0, None
        slow.sock.settimeout(5)
        try:
            while sent < len(frames):
                n = slow.sock.send(frames[sent:sent + 65536])
                sent += n
        except OSError as e:
            send_error = e
        disconnected = slow.wait_closed(10)  # drains whatever the kernel still holds
        drained = len(slow.buf)
        slow.close()
        assert disconnected, ("slow reader still connected after %d bytes sent (%s) and %d "
                              "read" % (sent, send_error, drained))
        growth = s.peak_rss_bytes() - peak0
        assert growth < 8 << 20, "peak RSS grew by %.1f MiB with a slow reader" % (growth / 2**20)

        # everyone else is still served
        assert other.ping("other-after") == {"type": "pong", "id": "other-after"}
        assert http_get(s.port, "/health").status == 200
        with ws_open(s.port) as fresh:
            assert fresh.ping("fresh") == {"type": "pong", "id": "fresh"}
    finally:
        other.close()
