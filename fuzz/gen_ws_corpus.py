#!/usr/bin/python3
"""Writes the seed corpus of fuzz/fuzz_ws_frame.c into fuzz/corpus/fuzz_ws_frame/.

Each seed is two control bytes and a client byte stream. Control byte 0: bit 0
require_mask, bits 1-3 the max_message index (0, 1, 10, 125, 126, 1000, 65536,
1 MiB), bits 4-6 the chunk-size limit index (1, 2, 3, 7, 16, 64, 1000, whole),
bit 7 a stopping callback; byte 1 seeds the chunk sizes.
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_ws_frame")

TEXT, BINARY, CONT, CLOSE, PING, PONG = 1, 2, 0, 8, 9, 10


def frame(op, payload=b"", fin=True, mask=True, rsv=0, len_form=None):
    """One frame; len_form forces the 7-, 16- or 64-bit length encoding."""
    b0 = (0x80 if fin else 0) | rsv | op
    n = len(payload)
    form = len_form or (7 if n < 126 else 16 if n < 65536 else 64)
    mbit = 0x80 if mask else 0
    if form == 7:
        hdr = bytes([b0, mbit | n])
    elif form == 16:
        hdr = bytes([b0, mbit | 126]) + struct.pack(">H", n)
    else:
        hdr = bytes([b0, mbit | 127]) + struct.pack(">Q", n)
    if not mask:
        return hdr + payload
    key = bytes([0x37, 0xFA, 0x21, 0x3D])
    return hdr + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def close(code=None, reason=b""):
    return frame(CLOSE, b"" if code is None else struct.pack(">H", code) + reason)


def ctl(mask=True, max_index=5, chunk_index=2, stop=False, seed=7):
    return bytes([(1 if mask else 0) | max_index << 1 | chunk_index << 4 | (0x80 if stop else 0),
                  seed])


SEEDS = {
    "text": ctl() + frame(TEXT, b"Hello"),
    "binary": ctl() + frame(BINARY, bytes(range(40))),
    "fragmented": ctl() + frame(TEXT, b"Hel", fin=False) + frame(CONT, b"lo ", fin=False)
    + frame(CONT, b"world"),
    "ping_between_fragments": ctl(chunk_index=0) + frame(TEXT, b"caf\xc3", fin=False)
    + frame(PING, b"p") + frame(PONG) + frame(CONT, b"\xa9!"),
    "ping_pong": ctl() + frame(PING, b"x" * 125) + frame(PONG, b"y"),
    "close_empty": ctl() + close(),
    "close_reason": ctl() + close(1000, "bye \u20ac".encode()) + frame(TEXT, b"ignored"),
    "close_4999": ctl() + close(4999),
    "close_1005": ctl() + close(1005),
    "close_len1": ctl() + frame(CLOSE, b"\x03"),
    "close_bad_reason": ctl() + close(1001, b"\xc0\xaf"),
    "utf8_overlong": ctl() + frame(TEXT, b"ab\xe0\x80\xaf"),
    "utf8_surrogate": ctl() + frame(TEXT, b"\xed\xa0\x80"),
    "utf8_fail_first_fragment": ctl(chunk_index=3) + frame(TEXT, b"ok \xf4\x90\x80\x80", fin=False)
    + frame(CONT, b"rest"),
    "utf8_split_4byte": ctl(chunk_index=0) + frame(TEXT, b"\xf0\x9f", fin=False)
    + frame(CONT, b"\x98", fin=False) + frame(CONT, b"\x80\xf4\x8f\xbf\xbf"),
    "utf8_truncated_end": ctl() + frame(TEXT, b"euro \xe2\x82"),
    "len16": ctl(chunk_index=4) + frame(TEXT, b"a" * 300),
    "len64_small": ctl() + frame(BINARY, b"non-minimal", len_form=64),
    "len64_too_big": ctl() + frame(BINARY, b"", len_form=64)[:2] + struct.pack(">Q", 65536)
    + b"\x01\x02\x03\x04" + b"z" * 16,
    "len64_msb": ctl(max_index=7) + bytes([0x82, 0xFF]) + struct.pack(">Q", 1 << 63) + b"\0" * 4,
    "too_big_fragments": ctl(max_index=2) + frame(TEXT, b"12345", fin=False)
    + frame(CONT, b"123456"),
    "rsv1": ctl() + frame(TEXT, b"deflate?", rsv=0x40),
    "opcode_3": ctl() + frame(3, b"x"),
    "opcode_b": ctl() + frame(0xB, b""),
    "unmasked_refused": ctl() + frame(TEXT, b"plain", mask=False),
    "unmasked_allowed": ctl(mask=False) + frame(TEXT, b"plain", mask=False)
    + frame(PING, b"", mask=False),
    "cont_without_message": ctl() + frame(CONT, b"orphan"),
    "text_during_fragment": ctl() + frame(TEXT, b"a", fin=False) + frame(TEXT, b"b"),
    "ping_not_fin": ctl() + frame(PING, b"", fin=False),
    "ping_126": ctl() + frame(PING, b"p" * 126),
    "empty": ctl(chunk_index=0) + frame(TEXT) + frame(BINARY, fin=False) + frame(CONT, fin=False)
    + frame(CONT) + frame(TEXT, b"", fin=False) + frame(CONT, b"x"),
    "session_stop": ctl(stop=True, chunk_index=1) + frame(TEXT, b"one") + frame(PING, b"two")
    + frame(BINARY, b"three") + close(1000),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"{len(SEEDS)} seeds in {OUT}")


if __name__ == "__main__":
    main()
