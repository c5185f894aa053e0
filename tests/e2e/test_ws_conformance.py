"""
RFC 6455 conformance over raw sockets, after the Autobahn TestSuite groups 1-7 and 9.
Autobahn's echo server is replaced by the JSON ping -> pong exchange: where a case needs
a data message to come back, the message is `{"type":"ping","id":...}` (padded to the
wanted size) and the reply is the pong with the same id.

Every close case asserts the code in the server's close frame and that the server then
closes the TCP connection.
"""

import pytest

from conftest import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,
                      close_payload, module_server, ws_frame, ws_open)

SERVER_ENV = {"HERALD_DEMO": "1"}

# RFC 6455 framing: the store only sees the demo sign-in of each handshake (covered on both
# stores by test_ws_auth.py), so it runs on SQLite only (NOTES.md).
pytestmark = pytest.mark.store_independent

PING_PREFIX = b'{"type":"ping","id":"'
PING_SUFFIX = b'"}'
MIN_ID_PING = len(PING_PREFIX) + len(PING_SUFFIX)  # 23 bytes, empty id
MIN_PING = len(b'{"type":"ping"}')  # 15


def ping_of_length(n, fill=b"x"):
    """(payload of exactly n bytes, expected reply as dict). Payloads shorter than a JSON
    ping are whitespace, which must come back as an invalid_json error frame."""
    if n >= MIN_ID_PING:
        k = n - MIN_ID_PING
        idb = (fill * (k // len(fill) + 1))[:k]
        return PING_PREFIX + idb + PING_SUFFIX, {"type": "pong", "id": idb.decode()}
    if n >= MIN_PING:
        return b'{"type":"ping"' + b" " * (n - MIN_PING) + b"}", {"type": "pong"}
    return b" " * n, {"type": "error", "code": "invalid_json"}


def ping_with_id(id_bytes):
    return PING_PREFIX + id_bytes + PING_SUFFIX


def check_reply(reply, expected):
    for k, v in expected.items():
        assert reply.get(k) == v, "reply %r, expected %r" % (str(reply)[:300], expected)
    if expected.get("type") == "pong" and "id" not in expected:
        assert reply.get("id") is None, reply


def frag(payload, sizes):
    """Split payload into consecutive pieces of the given sizes (the last takes the rest)."""
    out, i = [], 0
    for s in sizes:
        out.append(payload[i:i + s])
        i += s
    out.append(payload[i:])
    return out


def fragmented(payload, pieces, opcode=OP_TEXT):
    """Frames for a message split into the given pieces."""
    frames = []
    for i, p in enumerate(pieces):
        frames.append(ws_frame(opcode if i == 0 else OP_CONT, p, fin=(i == len(pieces) - 1)))
    return frames


def split_n(payload, n):
    size = max(1, len(payload) // n)
    pieces = [payload[i * size:(i + 1) * size] for i in range(n - 1)]
    pieces.append(payload[(n - 1) * size:])
    return pieces


@pytest.fixture(scope="module")
def big_server(tmp_path_factory):
    yield from module_server(tmp_path_factory, {"HERALD_WS_MAX_MESSAGE": "4m", "HERALD_DEMO": "1"})


@pytest.fixture
def ws(server):
    c = ws_open(server.port)
    yield c
    c.close()


@pytest.fixture
def big_ws(big_server):
    c = ws_open(big_server.port, timeout=20)
    yield c
    c.close()


# ================================================================== group 1: framing

GROUP1_LENGTHS = [0, 1, 14, 15, 16, 22, 23, 24, 100, 125, 126, 127, 128, 1000, 65535, 65536,
                  65537, 131072, 1 << 20, 4 << 20]


@pytest.mark.parametrize("n", GROUP1_LENGTHS)
def test_1_text_message_length(big_ws, n):
    payload, expected = ping_of_length(n)
    assert len(payload) == n
    big_ws.send_frame(OP_TEXT, payload)
    check_reply(big_ws.recv_json(timeout=30), expected)


@pytest.mark.parametrize("n,chunk", [(125, 1), (126, 1), (127, 1), (128, 1), (300, 1),
                                     (4096, 1), (65535, 997), (65536, 997), (1 << 20, 4093)])
def test_1_text_message_sent_in_chunks(big_ws, n, chunk):
    payload, expected = ping_of_length(n)
    big_ws.send_chunked(ws_frame(OP_TEXT, payload), chunk)
    check_reply(big_ws.recv_json(timeout=30), expected)


def test_1_messages_of_every_small_length_back_to_back(big_ws):
    data = b"".join(ws_frame(OP_TEXT, ping_of_length(n)[0]) for n in range(MIN_ID_PING, 300))
    big_ws.send(data)
    for n in range(MIN_ID_PING, 300):
        check_reply(big_ws.recv_json(), ping_of_length(n)[1])


# ================================================================== group 2: ping / pong

@pytest.mark.parametrize("payload", [b"", b"Hello, world!", bytes([0, 255, 254, 253, 252, 251, 0,
                                                                   255]),
                                     b"\xfe" * 125],
                         ids=["empty", "text", "binary", "125-bytes"])
def test_2_ping_answered_with_same_payload(ws, payload):
    ws.send_frame(OP_PING, payload)
    f = ws.recv_frame()
    assert f.opcode == OP_PONG and f.fin and f.payload == payload, f


def test_2_ping_126_bytes_is_protocol_error(ws):
    ws.send_frame(OP_PING, b"\xfe" * 126)
    before, _ = ws.expect_close(1002)
    assert before == []


def test_2_ping_125_bytes_sent_in_1_byte_chunks(ws):
    payload = bytes(range(125))
    ws.send_chunked(ws_frame(OP_PING, payload), 1, delay=0.001)
    f = ws.recv_frame()
    assert f.opcode == OP_PONG and f.payload == payload, f


@pytest.mark.parametrize("payload", [b"", b"unsolicited pong payload"], ids=["empty", "payload"])
def test_2_unsolicited_pong_ignored(ws, payload):
    ws.send_frame(OP_PONG, payload)
    ws.send_text(ping_with_id(b"after-pong"))
    assert ws.recv_json() == {"type": "pong", "id": "after-pong"}


def test_2_unsolicited_pong_then_ping(ws):
    ws.send(ws_frame(OP_PONG, b"unsolicited") + ws_frame(OP_PING, b"solicited"))
    f = ws.recv_frame()
    assert f.opcode == OP_PONG and f.payload == b"solicited", f


@pytest.mark.parametrize("chunk", [None, 1], ids=["one-send", "1-byte-chunks"])
def test_2_ten_pings_ten_pongs(ws, chunk):
    data = b"".join(ws_frame(OP_PING, b"payload-%d" % i) for i in range(10))
    if chunk:
        ws.send_chunked(data, chunk)
    else:
        ws.send(data)
    got = [ws.recv_frame() for _ in range(10)]
    assert [(f.opcode, f.payload) for f in got] == [(OP_PONG, b"payload-%d" % i)
                                                    for i in range(10)]


# ================================================================== group 3: reserved bits

@pytest.mark.parametrize("rsv", range(1, 8))
def test_3_rsv_bits_on_text_frame(ws, rsv):
    ws.send(ws_frame(OP_TEXT, ping_with_id(b"rsv"), rsv=rsv))
    before, _ = ws.expect_close(1002)
    assert before == [], "a frame with RSV bits was processed"


def test_3_rsv_after_valid_message(ws):
    ws.send(ws_frame(OP_TEXT, ping_with_id(b"first"))
            + ws_frame(OP_TEXT, ping_with_id(b"second"), rsv=2)
            + ws_frame(OP_PING, b"third"))
    before, _ = ws.expect_close(1002)
    assert [f.json() for f in before] == [{"type": "pong", "id": "first"}], before


@pytest.mark.parametrize("opcode,payload,rsv", [
    (OP_BINARY, b"\x00\xff", 4),
    (OP_PING, b"ping", 5),
    (OP_PONG, b"pong", 6),
    (OP_CLOSE, close_payload(1000), 7),
    (OP_TEXT, b"", 1),
], ids=["binary", "ping", "pong", "close", "empty-text"])
def test_3_rsv_bits_on_other_frames(ws, opcode, payload, rsv):
    ws.send(ws_frame(opcode, payload, rsv=rsv))
    before, _ = ws.expect_close(1002)
    assert before == []


# ================================================================== group 4: opcodes

RESERVED_OPCODES = [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]


@pytest.mark.parametrize("opcode", RESERVED_OPCODES)
def test_4_reserved_opcode(ws, opcode):
    ws.send(ws_frame(opcode, b""))
    before, _ = ws.expect_close(1002)
    assert before == []


@pytest.mark.parametrize("opcode", RESERVED_OPCODES)
def test_4_reserved_opcode_with_payload_between_messages(ws, opcode):
    ws.send(ws_frame(OP_TEXT, ping_with_id(b"before"))
            + ws_frame(opcode, b"reserved opcode payload")
            + ws_frame(OP_PING, b"after"))
    before, _ = ws.expect_close(1002)
    assert [f.json() for f in before] == [{"type": "pong", "id": "before"}], before


# ================================================================== group 5: fragmentation

def test_5_fragmented_ping_is_protocol_error(ws):
    ws.send(ws_frame(OP_PING, b"frag", fin=False) + ws_frame(OP_CONT, b"ment", fin=True))
    before, _ = ws.expect_close(1002)
    assert before == []


def test_5_fragmented_pong_is_protocol_error(ws):
    ws.send(ws_frame(OP_PONG, b"frag", fin=False) + ws_frame(OP_CONT, b"ment", fin=True))
    before, _ = ws.expect_close(1002)
    assert before == []


@pytest.mark.parametrize("pieces", ["2", "3", "5", "10", "1-byte", "empty-first-and-last",
                                    "empty-in-the-middle"])
def test_5_fragmented_text_message(ws, pieces):
    payload = ping_with_id(b"fragmented-" + pieces.encode())
    if pieces == "1-byte":
        parts = [payload[i:i + 1] for i in range(len(payload))]
    elif pieces == "empty-first-and-last":
        parts = [b""] + split_n(payload, 2) + [b""]
    elif pieces == "empty-in-the-middle":
        a, b = split_n(payload, 2)
        parts = [a, b"", b"", b]
    else:
        parts = split_n(payload, int(pieces))
    ws.send(b"".join(fragmented(payload, parts)))
    assert ws.recv_json() == {"type": "pong", "id": "fragmented-" + pieces}


@pytest.mark.parametrize("chunk", [1, 3])
def test_5_fragmented_text_sent_in_small_chunks(ws, chunk):
    payload = ping_with_id(b"chunky")
    ws.send_chunked(b"".join(fragmented(payload, split_n(payload, 3))), chunk)
    assert ws.recv_json() == {"type": "pong", "id": "chunky"}


def test_5_all_empty_fragments(ws):
    ws.send(b"".join(fragmented(b"", [b"", b"", b""])))
    check_reply(ws.recv_json(), {"type": "error", "code": "invalid_json"})


def test_5_ping_between_fragments(ws):
    payload = ping_with_id(b"interleaved")
    a, b = split_n(payload, 2)
    ws.send(ws_frame(OP_TEXT, a, fin=False) + ws_frame(OP_PING, b"in-between")
            + ws_frame(OP_CONT, b, fin=True))
    f = ws.recv_frame()
    assert f.opcode == OP_PONG and f.payload == b"in-between", f
    assert ws.recv_json() == {"type": "pong", "id": "interleaved"}


def test_5_ping_between_fragments_sent_separately(ws):
    payload = ping_with_id(b"slow-interleaved")
    parts = split_n(payload, 5)
    for i, p in enumerate(parts):
        ws.send(ws_frame(OP_TEXT if i == 0 else OP_CONT, p, fin=(i == len(parts) - 1)))
        if i < len(parts) - 1:
            ws.send(ws_frame(OP_PING, b"p%d" % i))
            f = ws.recv_frame()
            assert f.opcode == OP_PONG and f.payload == b"p%d" % i, f
    assert ws.recv_json() == {"type": "pong", "id": "slow-interleaved"}


def test_5_pongs_between_fragments_ignored(ws):
    payload = ping_with_id(b"pong-interleaved")
    parts = split_n(payload, 3)
    frames = fragmented(payload, parts)
    ws.send(frames[0] + ws_frame(OP_PONG, b"x") + frames[1] + ws_frame(OP_PONG, b"") + frames[2])
    assert ws.recv_json() == {"type": "pong", "id": "pong-interleaved"}


@pytest.mark.parametrize("fin", [True, False], ids=["fin", "no-fin"])
def test_5_continuation_without_start(ws, fin):
    ws.send(ws_frame(OP_CONT, ping_with_id(b"orphan"), fin=fin))
    before, _ = ws.expect_close(1002)
    assert before == []


def test_5_continuation_after_a_complete_message(ws):
    ws.send(ws_frame(OP_TEXT, ping_with_id(b"complete"))
            + ws_frame(OP_CONT, b"orphan", fin=True)
            + ws_frame(OP_TEXT, ping_with_id(b"never")))
    before, _ = ws.expect_close(1002)
    assert [f.json() for f in before] == [{"type": "pong", "id": "complete"}], before


def test_5_fragmented_message_then_orphan_continuation(ws):
    payload = ping_with_id(b"two-parts")
    ws.send(b"".join(fragmented(payload, split_n(payload, 2)))
            + ws_frame(OP_CONT, b"orphan", fin=False)
            + ws_frame(OP_TEXT, ping_with_id(b"never")))
    before, _ = ws.expect_close(1002)
    assert [f.json() for f in before] == [{"type": "pong", "id": "two-parts"}], before


@pytest.mark.parametrize("second", [OP_TEXT, OP_BINARY], ids=["text", "binary"])
def test_5_new_data_frame_while_fragmented_message_open(ws, second):
    ws.send(ws_frame(OP_TEXT, b'{"type":"ping",', fin=False)
            + ws_frame(second, ping_with_id(b"interloper"), fin=True))
    before, _ = ws.expect_close(1002)
    assert before == []


def test_5_close_between_fragments(ws):
    ws.send(ws_frame(OP_TEXT, b'{"type":"ping",', fin=False)
            + ws_frame(OP_CLOSE, close_payload(1000))
            + ws_frame(OP_CONT, b'"id":"late"}', fin=True))
    before, _ = ws.expect_close(1000)
    assert before == [], "message finished after close was processed"


# ================================================================== group 6: UTF-8

VALID_UTF8 = {
    "greek": "κόσμε",
    "chinese": "你好，世界",
    "emoji": "😀🎉👍🏽",
    "4-byte": "\U00010348\U0001F600",
    "max-code-point": "\U0010FFFF",
    "boundaries": "\u0080\u07FF\u0800\uFFFF\U00010000",
    "around-surrogates": "\uD7FF\uE000\uFFFD",
    "ascii-del": "a\x7fz",
}


@pytest.mark.parametrize("name", list(VALID_UTF8))
def test_6_valid_utf8_echoed(ws, name):
    text = VALID_UTF8[name]
    ws.send(ws_frame(OP_TEXT, ping_with_id(text.encode("utf-8"))))
    assert ws.recv_json() == {"type": "pong", "id": text}


@pytest.mark.parametrize("name", ["greek", "emoji", "max-code-point", "boundaries"])
def test_6_valid_utf8_split_into_1_byte_fragments(ws, name):
    text = VALID_UTF8[name]
    payload = ping_with_id(text.encode("utf-8"))
    ws.send(b"".join(fragmented(payload, [payload[i:i + 1] for i in range(len(payload))])))
    assert ws.recv_json() == {"type": "pong", "id": text}


@pytest.mark.parametrize("name", ["chinese", "4-byte"])
def test_6_valid_utf8_frame_sent_in_1_byte_chunks(ws, name):
    text = VALID_UTF8[name]
    ws.send_chunked(ws_frame(OP_TEXT, ping_with_id(text.encode("utf-8"))), 1)
    assert ws.recv_json() == {"type": "pong", "id": text}


INVALID_UTF8 = {
    "overlong-slash-2": b"\xc0\xaf",
    "overlong-slash-3": b"\xe0\x80\xaf",
    "overlong-slash-4": b"\xf0\x80\x80\xaf",
    "overlong-nul": b"\xc0\x80",
    "overlong-max-2": b"\xc1\xbf",
    "overlong-max-3": b"\xe0\x9f\xbf",
    "surrogate-high": b"\xed\xa0\x80",
    "surrogate-low": b"\xed\xbf\xbf",
    "surrogate-pair": b"\xed\xa0\x80\xed\xb0\x80",
    "above-max": b"\xf4\x90\x80\x80",
    "f5": b"\xf5\x80\x80\x80",
    "fe": b"\xfe",
    "ff": b"\xff",
    "lone-continuation": b"\x80",
    "lone-continuation-bf": b"\xbf",
    "truncated-2-in-middle": b"\xcex",
    "truncated-3-in-middle": b"\xe2\x82x",
    "truncated-4-in-middle": b"\xf0\x9f\x98x",
    "5-byte-sequence": b"\xf8\x88\x80\x80\x80",
    "6-byte-sequence": b"\xfc\x84\x80\x80\x80\x80",
}


@pytest.mark.parametrize("name", list(INVALID_UTF8))
def test_6_invalid_utf8_closes_1007(ws, name):
    ws.send(ws_frame(OP_TEXT, ping_with_id(b"ok" + INVALID_UTF8[name] + b"ok")))
    before, _ = ws.expect_close(1007)
    assert before == []


@pytest.mark.parametrize("tail", [b"\xce", b"\xe2\x82", b"\xf0\x9f\x98"],
                         ids=["2-byte", "3-byte", "4-byte"])
def test_6_message_truncated_inside_a_sequence_closes_1007(ws, tail):
    ws.send(ws_frame(OP_TEXT, ping_with_id(b"truncated") + b" " + tail))
    before, _ = ws.expect_close(1007)
    assert before == []


def test_6_invalid_sequence_split_across_fragments(ws):
    payload = ping_with_id(b"a\xed\xa0\x80b")
    i = payload.index(b"\xed") + 1
    ws.send(b"".join(fragmented(payload, [payload[:i], payload[i:]])))
    before, _ = ws.expect_close(1007)
    assert before == []


def test_6_fail_fast_in_first_fragment(ws):
    first = PING_PREFIX + b"bad \xc0\xaf here"
    ws.send(ws_frame(OP_TEXT, first, fin=False))
    # the close must come before the rest of the message is sent
    before, _ = ws.expect_close(1007, timeout=3)
    assert before == []


def test_6_fail_fast_inside_one_frame(ws):
    payload = PING_PREFIX + b"bad \xed\xa0\x80" + b"x" * 200 + PING_SUFFIX
    frame = ws_frame(OP_TEXT, payload)
    cut = len(frame) - 150  # the invalid bytes are sent, the end of the frame is not
    ws.send(frame[:cut])
    before, _ = ws.expect_close(1007, timeout=3)
    assert before == []


def test_6_valid_message_then_invalid_one(ws):
    ws.send(ws_frame(OP_TEXT, ping_with_id("ß".encode()))
            + ws_frame(OP_TEXT, ping_with_id(b"\xf4\x90\x80\x80")))
    before, _ = ws.expect_close(1007)
    assert [f.json() for f in before] == [{"type": "pong", "id": "ß"}]


# ================================================================== group 7: close handshake

def test_7_close_1000_echoed_and_tcp_closed(ws):
    ws.send_close(1000)
    before, f = ws.expect_close(1000)
    assert before == []


def test_7_message_then_close(ws):
    ws.send(ws_frame(OP_TEXT, ping_with_id(b"last")) + ws_frame(OP_CLOSE, close_payload(1000)))
    before, _ = ws.expect_close(1000)
    assert [f.json() for f in before] == [{"type": "pong", "id": "last"}]


def test_7_close_without_payload(ws):
    ws.send_close(None)
    before, f = ws.expect_close((None, 1000))
    assert before == []


def test_7_close_with_1_byte_payload(ws):
    ws.send_frame(OP_CLOSE, b"\x03")
    ws.expect_close(1002)


@pytest.mark.parametrize("reason", [b"", b"bye", "再见 👋".encode(), b"r" * 123],
                         ids=["no-reason", "ascii", "utf8", "123-bytes"])
def test_7_close_1000_with_reason(ws, reason):
    ws.send_close(1000, reason)
    ws.expect_close(1000)


def test_7_close_payload_over_125_bytes(ws):
    ws.send_close(1000, b"r" * 124)  # 126-byte control frame
    ws.expect_close(1002)


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000,
                                  65535])
def test_7_invalid_close_code(ws, code):
    ws.send_close(code)
    ws.expect_close(1002)


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000,
                                  3999, 4000, 4999])
def test_7_valid_close_code_echoed(ws, code):
    ws.send_close(code)
    ws.expect_close(code)


@pytest.mark.parametrize("reason", [b"\xc0\xaf", b"ok\xed\xa0\x80", b"\xff", b"cut \xe2\x82"],
                         ids=["overlong", "surrogate", "ff", "truncated"])
def test_7_close_reason_invalid_utf8(ws, reason):
    ws.send_close(1000, reason)
    ws.expect_close(1007)


def test_7_data_after_close_ignored(ws):
    ws.send(ws_frame(OP_CLOSE, close_payload(1000))
            + ws_frame(OP_TEXT, ping_with_id(b"after-close"))
            + ws_frame(OP_PING, b"after-close")
            + ws_frame(OP_CLOSE, close_payload(1000)))
    before, _ = ws.expect_close(1000)
    assert before == []


def test_7_data_after_close_sent_later_ignored(ws):
    ws.send_close(1000)
    ws.recv_frame()  # the close reply
    try:
        ws.send(ws_frame(OP_TEXT, ping_with_id(b"late")) + ws_frame(OP_PING, b"late"))
    except OSError:
        pass
    ws.assert_eof()


@pytest.mark.parametrize("opcode,payload", [
    (OP_TEXT, ping_with_id(b"unmasked")),
    (OP_PING, b"unmasked"),
    (OP_CLOSE, close_payload(1000)),
], ids=["text", "ping", "close"])
def test_7_unmasked_client_frame(ws, opcode, payload):
    ws.send(ws_frame(opcode, payload, mask=False))
    before, _ = ws.expect_close(1002)
    assert before == []


# ================================================================== group 9: limits and bursts

LIMIT = 64 << 10  # the default HERALD_WS_MAX_MESSAGE


def send_ignoring_reset(ws, data):
    try:
        ws.send(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


def test_9_message_at_the_limit_single_frame(ws):
    payload, expected = ping_of_length(LIMIT)
    ws.send_frame(OP_TEXT, payload)
    check_reply(ws.recv_json(timeout=10), expected)


@pytest.mark.parametrize("frame_size", [64, 4096, 16384])
def test_9_message_at_the_limit_fragmented(ws, frame_size):
    payload, expected = ping_of_length(LIMIT)
    parts = [payload[i:i + frame_size] for i in range(0, len(payload), frame_size)]
    ws.send(b"".join(fragmented(payload, parts)))
    check_reply(ws.recv_json(timeout=10), expected)


def test_9_message_over_the_limit_single_frame(ws):
    payload, _ = ping_of_length(LIMIT + 1)
    send_ignoring_reset(ws, ws_frame(OP_TEXT, payload))
    before, _ = ws.expect_close(1009)
    assert before == []


def test_9_message_over_the_limit_in_fragments(ws):
    payload, _ = ping_of_length(LIMIT + 4)
    parts = split_n(payload, 4)  # 4 x 16385 bytes
    send_ignoring_reset(ws, b"".join(fragmented(payload, parts)))
    before, _ = ws.expect_close(1009)
    assert before == []


def test_9_huge_declared_length_refused_from_the_header(ws):
    ws.send(ws_frame(OP_TEXT, b"", length=1 << 40))  # header only
    before, _ = ws.expect_close(1009, timeout=3)
    assert before == []


def test_9_64_bit_length_with_top_bit_set(ws):
    ws.send(ws_frame(OP_TEXT, b"", length=(1 << 63) + 5))
    before, _ = ws.expect_close((1002, 1009), timeout=3)
    assert before == []


def test_9_big_message_on_big_server_at_its_limit(big_ws):
    payload, expected = ping_of_length(4 << 20)
    parts = [payload[i:i + 65536] for i in range(0, len(payload), 65536)]
    big_ws.send(b"".join(fragmented(payload, parts)))
    check_reply(big_ws.recv_json(timeout=30), expected)


def test_9_big_server_over_its_limit(big_ws):
    payload, _ = ping_of_length((4 << 20) + 1)
    send_ignoring_reset(big_ws, ws_frame(OP_TEXT, payload))
    before, _ = big_ws.expect_close(1009, timeout=10)
    assert before == []


def test_9_thousand_json_pings_in_a_burst(ws):
    ws.send(b"".join(ws_frame(OP_TEXT, ping_with_id(b"%d" % i)) for i in range(1000)))
    got = [ws.recv_json(timeout=10)["id"] for _ in range(1000)]
    assert got == [str(i) for i in range(1000)]


def test_9_thousand_ping_frames_in_a_burst(ws):
    ws.send(b"".join(ws_frame(OP_PING, b"b%d" % i) for i in range(1000)))
    got = [ws.recv_frame(timeout=10) for _ in range(1000)]
    assert all(f.opcode == OP_PONG for f in got)
    assert [f.payload for f in got] == [b"b%d" % i for i in range(1000)]


def test_9_many_small_messages_and_pings_interleaved(ws):
    data = b""
    for i in range(300):
        data += ws_frame(OP_TEXT, ping_with_id(b"m%d" % i)) + ws_frame(OP_PING, b"c%d" % i)
    ws.send(data)
    texts, pongs = [], []
    while len(texts) < 300 or len(pongs) < 300:
        f = ws.recv_frame(timeout=10)
        if f.opcode == OP_PONG:
            pongs.append(f.payload)
        else:
            assert f.opcode == OP_TEXT, f
            texts.append(f.json()["id"])
    assert texts == ["m%d" % i for i in range(300)]
    assert pongs == [b"c%d" % i for i in range(300)]
