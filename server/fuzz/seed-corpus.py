#!/usr/bin/env python3
"""Writes the seed corpora in server/fuzz/corpus/ (run from the repo root).

Files a fuzzing run adds may be kept too (keep them few and small); this
script only rewrites the seeds it names.
"""

import shutil
import struct
import zlib
from pathlib import Path

OUT = Path("server/fuzz/corpus")

# fuzz_codec.c: first byte = flag set (low 2 bits: 0 client frames, 1 server
# frames, 2 client frames with RSV allowed, 3 RSV and non-minimal lengths
# allowed) | (feed piece size - 1) << 2.
MASK = bytes([0x37, 0xFA, 0x21, 0x3D])


def frame(op, payload=b"", fin=True, rsv=0, mask=True, form=0):
    b0 = (0x80 if fin else 0) | rsv << 4 | op
    n = len(payload)
    if form == 0:
        form = 7 if n <= 125 else 16 if n <= 0xFFFF else 64
    m = 0x80 if mask else 0
    if form == 7:
        head = bytes([b0, m | n])
    elif form == 16:
        head = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    return head + MASK + bytes(c ^ MASK[i % 4] for i, c in enumerate(payload))


def close(code, reason=b"", **kw):
    return frame(8, struct.pack(">H", code) + reason, **kw)


def sel(flags, piece=64):
    return bytes([flags | (piece - 1) << 2])


codec = {
    "text-hello": sel(0) + frame(1, b"Hello"),
    "text-split-1": sel(0, 1) + frame(1, b"Hello"),
    "text-split-3": sel(0, 3) + frame(1, "h\u00e9llo \u20ac".encode()),
    "binary-empty": sel(0) + frame(2),
    "binary-126": sel(0, 7) + frame(2, bytes(range(126))),
    "binary-300": sel(0, 64) + frame(2, bytes(300)),
    "ping-pong": sel(0) + frame(9, b"p") + frame(10, b"p"),
    "close-1000": sel(0) + close(1000, b"bye"),
    "close-empty": sel(0) + frame(8),
    "close-1-byte": sel(0) + frame(8, b"\x03"),
    "close-999": sel(0) + close(999),
    "fragments": sel(0, 2) + frame(1, b"ab", fin=False) + frame(9) + frame(0, b"cd"),
    "bad-continuation": sel(0) + frame(0, b"x"),
    "unmasked-client": sel(0) + frame(1, b"x", mask=False),
    "reserved-opcode": sel(0) + frame(3, b"x"),
    "rsv1": sel(0) + frame(1, b"x", rsv=4),
    "rsv1-allowed": sel(2) + frame(1, b"x", rsv=4),
    "control-126": sel(0) + frame(9, bytes(126)),
    "control-nofin": sel(0) + frame(9, b"x", fin=False),
    "server-frames": sel(1, 5) + frame(1, b"srv", mask=False) + close(1001, mask=False),
    "masked-server": sel(1) + frame(1, b"x"),
    "nonminimal-16": sel(0) + frame(1, b"x", form=16),
    "nonminimal-64-allowed": sel(3) + frame(2, b"abc", form=64, mask=False),
    "length-msb": sel(0) + bytes([0x82, 0xFF, 0x80]) + bytes(7) + MASK,
    "too-big": sel(0) + bytes([0x82, 0xFF]) + struct.pack(">Q", 1 << 40) + MASK,
    "truncated": sel(0) + frame(1, b"Hello")[:-2],
    "invalid-utf8": sel(0) + frame(1, b"\xc0\xaf"),
}

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def req(lines, end="\r\n"):
    return (end.join(lines) + end + end).encode()


GOOD = [
    "GET /chat?x=1 HTTP/1.1",
    "Host: 127.0.0.1:9001",
    "Upgrade: websocket",
    "Connection: keep-alive, Upgrade",
    f"Sec-WebSocket-Key: {KEY}",
    "Sec-WebSocket-Version: 13",
]
handshake = {
    "valid": req(GOOD),
    "valid-bare-lf": req(GOOD, "\n"),
    "valid-extras": req(
        [
            *GOOD,
            "Origin: http://x",
            "Sec-WebSocket-Protocol: a, b",
            "Sec-WebSocket-Extensions: permessage-deflate",
        ]
    ),
    "post": req(["POST / HTTP/1.1", *GOOD[1:]]),
    "http-1.0": req(["GET / HTTP/1.0", *GOOD[1:]]),
    "http-2": req(["GET / HTTP/2.0", *GOOD[1:]]),
    "no-host": req(GOOD[:1] + GOOD[2:]),
    "no-upgrade": req(GOOD[:2] + GOOD[3:]),
    "no-key": req(GOOD[:4] + GOOD[5:]),
    "short-key": req([*GOOD[:4], "Sec-WebSocket-Key: AAAA", GOOD[5]]),
    "version-8": req([*GOOD[:5], "Sec-WebSocket-Version: 8"]),
    "no-version": req(GOOD[:5]),
    "no-colon": req([*GOOD, "Broken header"]),
    "control-char": req([*GOOD, "X: a\x01b"]),
    "incomplete": req(GOOD)[:-2],
    "padded-values": req(
        [
            "GET / HTTP/1.1",
            "Host:   h  ",
            "Upgrade:\twebsocket\t",
            "Connection:Upgrade",
            f"Sec-WebSocket-Key:{KEY}",
            "Sec-WebSocket-Version: 13",
        ]
    ),
    "many-headers": req(GOOD + [f"X-{i}: {i}" for i in range(60)]),
    "runs-wait": req(["GET /_runs/abc?wait_ms=100 HTTP/1.1", "Host: h"]),
}

# The catalogue's small scenarios, one or two of each step and item kind.
SCENARIOS = [
    "handshake/no-response-then-fin",
    "handshake/truncated-response-then-rst",
    "handshake/status-403-with-body",
    "handshake/upgrade-wrong-value",
    "control/ping-empty",
    "close/close-reason-multibyte",
    "close/invalid-code-999",
    "tcp/every-byte",
    "tcp/rst-mid-frame",
    "tcp/segmented-at-odd-offsets",
    "framing/non-minimal-length-64",
    "framing/non-minimal-length-16",
    "fragmentation/two-fragments",
    "fragmentation/empty-fragments",
    "client-close/echo-then-server-closes",
    "tls/message-then-rst",
    "utf8/valid-split-across-tcp-writes",
    "backpressure/server-paused-echo",
    "close/code-invalid",  # a family: members, {param} placeholders
    "framing/length-binary-chopped",  # a family with a whole-array parameter
]
invalid = {
    "not-json": b'{"name": ',
    "family-unknown-param": b'{"name": "x/y", "summary": "{why}", "rfc": [], "expect": {}, '
    b'"family": {"members": [{"id": "a", "vars": {"code": 1000}}]}, '
    b'"steps": [{"write": [{"close": "{code}"}]}]}',
    "duplicate-key": b'{"name": "a", "name": "b"}',
    "unknown-key": b'{"name": "x", "description": "d", "steps": [], "bogus": 1}',
    "count-too-big": b'{"name": "x", "steps": [{"write": [{"text": "a", "count": 100000000}]}]}',
}


# fuzz_transcript.c: a peer string, then operations (bits 0-2, 7 as 1; 3-5 pick
# a key, bit 7 a variant), strings as a length byte and the bytes; an
# event with hex: type, length, max shown, bytes; a frame (op 6): header
# byte (opcode | fin << 4 | rsv << 5), length, text, offset.
def tstr(b):
    return bytes([len(b)]) + b


def top(op, key=0, variant=0):
    return bytes([key << 3 | op | variant << 7])


transcript = {
    "session": tstr(b"127.0.0.1:4242")
    + top(0, 0)
    + tstr(b"r1")
    + top(0, 1)
    + tstr(b"close/x")
    + top(0, 3)
    + tstr(b"ws")
    + top(1)
    + tstr(b"frame")
    + bytes([5, 64])
    + b"\x81\x05Hel"
    + top(2)
    + tstr(b"h\xc3\xa9llo")
    + b"\x07"
    + top(4, 4)
    + top(3)
    + tstr(b"complete")
    + tstr(b"steps done")
    + top(5),
    "empty": b"",
    "peer-not-utf8": tstr(b"\xff\xfe") + top(5),
    "no-peer": tstr(b"") + top(5),
    "hex-truncated": tstr(b"p") + top(1, 0, 1) + tstr(b"raw") + bytes([40, 8]) + bytes(40),
    "not-utf8": tstr(b"p")
    + top(0, 2)
    + tstr(b"\xc0\xaf")
    + top(2)
    + tstr(b"\xed\xa0\x80")
    + b"\x01"
    + top(3, 0, 1)
    + tstr(b"\xff")
    + tstr(b""),
    "bad-keys": tstr(b"p")
    + top(0, 5)
    + tstr(b"x")
    + top(0, 6)
    + tstr(b"y")
    + top(4, 5)
    + top(4, 6)
    + top(0, 0, 1)
    + b"\x00",
    "ends-twice": tstr(b"p")
    + top(3)
    + tstr(b"timeout")
    + tstr(b"a")
    + top(3)
    + tstr(b"later")
    + tstr(b"b")
    + top(5),
    "many-events": tstr(b"p") + (top(1) + tstr(b"ping") + bytes(2)) * 100 + top(5),
    # a text message in like continuations (one run), a ping between two
    # runs, frames of the other direction, a dump in the middle of a run
    "frame-runs": tstr(b"p")
    + top(6, 0, 1)
    + bytes([0x01, 2])
    + tstr(b"ab")
    + b"\x00"
    + (top(6, 0, 1) + bytes([0x00, 2]) + tstr(b"cd") + b"\x04") * 5
    + top(5)
    + (top(6, 0, 1) + bytes([0x00, 2]) + tstr(b"ef") + b"\x18") * 2
    + top(6, 0, 1)
    + bytes([0x19, 0])
    + tstr(b"")
    + b"\x20"
    + (top(6, 0, 1) + bytes([0x10, 2]) + tstr(b"gh") + b"\x22") * 3
    + (top(6) + bytes([0x11, 1]) + tstr(b"x") + b"\x00") * 4
    + top(5),
}


# fuzz_inflate.c: first byte = window bits - 8 (bits 0-2) | no context
# takeover (bit 3) | header mode (bit 4) | bound 2^(6 + 2 * bits 5-7); then
# messages as a length byte and the bytes, or a header value.
def isel(bits=15, no_context=False, bound=7):
    return bytes([(bits - 8) | (8 if no_context else 0) | bound << 5])


def msgs(*hexes):
    out = b""
    for h in hexes:
        data = bytes.fromhex(h)
        out += bytes([len(data)]) + data
    return out


def deflated(data, bits=15):
    c = zlib.compressobj(wbits=-bits)
    return (c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]


HELLO = "f2 48 cd c9 c9 07 00"
inflate = {
    # RFC 7692 7.2.3.1-7.2.3.5, each followed by a message that uses the window
    "rfc-hello-shared-window": isel() + msgs(HELLO, "f2 00 11 00 00"),
    "rfc-stored-block": isel() + msgs("00 05 00 fa ff 48 65 6c 6c 6f 00", HELLO),
    "rfc-bfinal": isel() + msgs("f3 48 cd c9 c9 07 00 00", HELLO),
    "rfc-two-blocks": isel() + msgs("f2 48 05 00 00 00 ff ff ca c9 c9 07 00"),
    "empty-message": isel() + msgs("00", "00"),
    "no-takeover-needs-window": isel(no_context=True) + msgs(HELLO, "f2 00 11 00 00"),
    "window-9-text": isel(9) + msgs(deflated(b"abcdefgh" * 20, 9).hex()),
    "window-8-far-distance": isel(8) + msgs(deflated(bytes(range(200)) * 2).hex()),
    "bomb-over-bound": isel(bound=0) + msgs(deflated(bytes(20000)).hex()),
    "reserved-block-type": isel() + msgs("ff ff ff"),
    "tail-kept": isel() + msgs(HELLO + " 00 00 ff ff", HELLO),
    "header-offer": b"\x10permessage-deflate; client_max_window_bits",
    "header-answer": b"\x10permessage-deflate; server_no_context_takeover; "
    b"server_max_window_bits=10; client_max_window_bits=9",
    "header-several": b"\x10x-webkit-deflate-frame, permessage-deflate; "
    b'client_max_window_bits="10", permessage-deflate',
    "header-bad": b"\x10permessage-deflate; server_max_window_bits=010; a=\"open",
    "header-duplicate": b"\x10permessage-deflate; server_no_context_takeover; "
    b"server_no_context_takeover",
}


def main():
    (OUT / "inflate").mkdir(exist_ok=True)
    for name, data in inflate.items():
        (OUT / "inflate" / name).write_bytes(data)
    for name, data in codec.items():
        (OUT / "codec" / name).write_bytes(data)
    for name, data in handshake.items():
        (OUT / "handshake" / name).write_bytes(data)
    for name, data in transcript.items():
        (OUT / "transcript" / name).write_bytes(data)
    for s in SCENARIOS:
        shutil.copy(Path("scenarios") / f"{s}.json", OUT / "scenario" / s.replace("/", "--"))
    for name, data in invalid.items():
        (OUT / "scenario" / name).write_bytes(data)


if __name__ == "__main__":
    main()
