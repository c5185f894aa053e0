"""
Interoperability with a real client library: `websockets` 10.4 (asyncio client, with
its defaults: it offers permessage-deflate, masks every frame, answers pings).
"""
import asyncio
import json

import pytest
import websockets

SERVER_ENV = {"HERALD_DEMO": "1"}  # demo sign-in: these tests are about the protocol

# the WebSocket protocol with a client library: SQLite only (NOTES.md)
pytestmark = pytest.mark.store_independent


def uri(server):
    return "ws://127.0.0.1:%d/ws?user_id=b1" % server.port


def connect(server, **kw):
    kw.setdefault("open_timeout", 10)
    kw.setdefault("close_timeout", 5)
    kw.setdefault("max_size", 4 << 20)
    return websockets.connect(uri(server), **kw)


async def recv_json(ws, timeout=5):
    msg = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(msg, str), "expected a text message, got %r" % (msg[:100],)
    return json.loads(msg)


def run(coro):
    return asyncio.run(coro)


def test_hello_and_100_ping_pongs(server):
    async def main():
        async with connect(server) as ws:
            hello = await recv_json(ws)
            assert hello["type"] == "hello" and hello["session_id"], hello
            for i in range(100):
                await ws.send(json.dumps({"type": "ping", "id": "seq-%d" % i}))
                assert await recv_json(ws) == {"type": "pong", "id": "seq-%d" % i}
        assert ws.close_code == 1000
    run(main())


def test_100_pings_pipelined(server):
    async def main():
        async with connect(server) as ws:
            await recv_json(ws)
            for i in range(100):
                await ws.send(json.dumps({"type": "ping", "id": i}))
            got = [(await recv_json(ws))["id"] for _ in range(100)]
            assert got == list(range(100))
    run(main())


def test_60kb_ping(server):
    big = "z" * 60000

    async def main():
        async with connect(server) as ws:
            await recv_json(ws)
            await ws.send(json.dumps({"type": "ping", "id": big}))
            reply = await recv_json(ws)
            assert reply == {"type": "pong", "id": big}
    run(main())


def test_library_ping_frame_answered(server):
    async def main():
        async with connect(server, ping_interval=None) as ws:
            await recv_json(ws)
            waiter = await ws.ping(b"lib-ping")
            await asyncio.wait_for(waiter, 5)
    run(main())


def test_clean_close_1000_both_ways(server):
    async def main():
        ws = await connect(server)
        await recv_json(ws)
        await ws.close(code=1000, reason="done")
        assert ws.close_code == 1000, ws.close_code  # the code the server sent back
        # the server closed the TCP connection; the library saw the handshake complete
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert ws.closed
    run(main())


def test_subprotocol_negotiated(server):
    async def main():
        async with connect(server, subprotocols=["herald.v1"]) as ws:
            assert ws.subprotocol == "herald.v1"
            await recv_json(ws)
    run(main())


def test_compression_offer_declined_gracefully(server):
    async def main():
        async with connect(server, compression="deflate") as ws:
            await recv_json(ws)
            payload = "compressible " * 1000
            await ws.send(json.dumps({"type": "ping", "id": payload}))
            assert (await recv_json(ws))["id"] == payload
    run(main())


def test_binary_message_gets_1003(server):
    async def main():
        async with connect(server) as ws:
            await recv_json(ws)
            await ws.send(b"\x00\x01\x02")
            with pytest.raises(websockets.ConnectionClosed) as exc:
                await asyncio.wait_for(ws.recv(), 5)
            assert exc.value.rcvd.code == 1003
    run(main())


def test_concurrent_clients(server):
    n_clients, n_pings = 20, 25

    async def client(k):
        async with connect(server) as ws:
            hello = await recv_json(ws)
            for i in range(n_pings):
                await ws.send(json.dumps({"type": "ping", "id": "%d-%d" % (k, i)}))
            for i in range(n_pings):
                assert await recv_json(ws, 10) == {"type": "pong", "id": "%d-%d" % (k, i)}
            return hello["session_id"]

    async def main():
        return await asyncio.gather(*(client(k) for k in range(n_clients)))

    ids = run(main())
    assert len(set(ids)) == n_clients, "session ids are not unique"
