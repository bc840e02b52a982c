"""permessage-deflate (RFC 7692) on the real server, with a raw client.

The client here is rawpeer plus Python's zlib: it offers permessage-deflate,
reads the 101's answer, inflates what the server sends and sends compressed
frames of its own. The scenarios are data/step-scenarios/deflate/.
"""

from __future__ import annotations

import socket
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from rawpeer import connect, read_exact, read_http_head, read_until_close, upgrade_request
from wsreplay.build import server_binary
from wsreplay.running.server import ScenarioServer

SCENARIOS = Path(__file__).parent / "data" / "step-scenarios"
TAIL = b"\x00\x00\xff\xff"
#: the --max-inflated the module's server runs with
MAX_INFLATED = 100_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScenarioServer]:
    work = tmp_path_factory.mktemp("deflate")
    srv = ScenarioServer(
        server_binary(),
        SCENARIOS,
        work / "server.log",
        work / "tr",
        extra_args=["--max-inflated", str(MAX_INFLATED)],
    )
    srv.start()
    yield srv
    assert srv.stop() == 0, srv.stderr_text()


def frame(opcode: int, payload: bytes, *, rsv: int = 0, fin: bool = True) -> bytes:
    """A masked client frame with the RSV bits given (4 = RSV1)."""
    mask = b"\x0a\x0b\x0c\x0d"
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def compressed(data: bytes, bits: int = 15) -> bytes:
    """One message as a permessage-deflate sender makes it: sync flush, tail cut."""
    c = zlib.compressobj(wbits=-bits)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(TAIL)
    return out[:-4]


def read_frame(sock: socket.socket, rest: bytes) -> tuple[int, int, bytes, bytes]:
    """(first byte, rsv, payload, what is left) of the next server frame."""
    while len(rest) < 2:
        rest += sock.recv(65536)
    b0, b1 = rest[0], rest[1]
    n, at = b1 & 0x7F, 2
    if n == 126:
        rest += read_exact(sock, max(0, 4 - len(rest)))
        n, at = struct.unpack("!H", rest[2:4])[0], 4
    elif n == 127:
        rest += read_exact(sock, max(0, 10 - len(rest)))
        n, at = struct.unpack("!Q", rest[2:10])[0], 10
    if len(rest) < at + n:
        rest += read_exact(sock, at + n - len(rest))
    return b0, (b0 >> 4) & 7, rest[at : at + n], rest[at + n :]


def open_session(
    server: ScenarioServer, name: str, run: str, offer: str | None, query: str = ""
) -> tuple[socket.socket, dict[str, str], bytes]:
    assert server.info is not None
    sock = connect(server.info.port)
    extra = f"Sec-WebSocket-Extensions: {offer}\r\n" if offer else ""
    sock.sendall(upgrade_request(f"/{name}?run={run}{query}", extra=extra)[0])
    head, rest = read_http_head(sock)
    assert head.startswith(b"HTTP/1.1 101 "), head
    headers = {}
    for line in head.decode().split("\r\n")[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return sock, headers, rest


def session(server: ScenarioServer, run: str) -> dict:
    answer = server.wait_run(run, 10)
    assert answer["complete"], answer
    return answer["sessions"][0]


def events(server: ScenarioServer, run: str) -> list[dict]:
    return session(server, run)["events"]


def one(evs: list[dict], type_: str) -> dict:
    found = [e for e in evs if e["type"] == type_]
    assert len(found) == 1, found
    return found[0]


def test_accept_answers_the_offer_and_both_directions_inflate(server: ScenarioServer) -> None:
    offer = "permessage-deflate; client_max_window_bits"
    sock, headers, rest = open_session(server, "deflate/accept", "acc", offer)
    with sock:
        # "accept" answers only what the RFC requires: nothing for this offer
        assert headers["sec-websocket-extensions"] == "permessage-deflate"
        z = zlib.decompressobj(wbits=-15)
        got = []
        for _ in range(2):
            b0, rsv, payload, rest = read_frame(sock, rest)
            assert (b0 & 0x8F, rsv) == (0x81, 4)
            got.append((payload.hex(), z.decompress(payload + TAIL)))
        # RFC 7692 7.2.3.2: the second "Hello" refers back into the first
        assert got == [("f248cdc9c90700", b"Hello"), ("f200110000", b"Hello")]
        sock.sendall(frame(0x1, compressed(b"hi there, compressed"), rsv=4))
        b0, rsv, payload, rest = read_frame(sock, rest)
        assert (b0, payload) == (0x88, b"\x03\xe8")
        sock.sendall(frame(0x8, b"\x03\xe8"))
        read_until_close(sock)
    evs = events(server, "acc")
    deflate = one(evs, "deflate")
    assert deflate["offers"] == [{"client_max_window_bits": True}]
    assert deflate["answer"] == "permessage-deflate"
    assert deflate["negotiated"] == {}
    message = one(evs, "message")
    assert message["compressed"] is True
    assert message["text"] == "hi there, compressed"
    assert message["length"] == len("hi there, compressed")


def test_accept_echoes_what_an_accepting_server_must(server: ScenarioServer) -> None:
    offer = (
        "x-other; a=1, permessage-deflate; server_max_window_bits=10; server_no_context_takeover"
    )
    sock, headers, _ = open_session(server, "deflate/accept", "acc2", offer)
    with sock:
        assert headers["sec-websocket-extensions"] == (
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
        )
    assert one(events(server, "acc2"), "deflate")["offers"] == [
        {"server_no_context_takeover": True, "server_max_window_bits": 10}
    ]


def test_literal_answer_no_takeover_and_fragments(server: ScenarioServer) -> None:
    sock, headers, rest = open_session(server, "deflate/literal", "lit", "permessage-deflate")
    with sock:
        assert headers["sec-websocket-extensions"] == (
            "permessage-deflate; server_no_context_takeover; "
            "server_max_window_bits=10; client_max_window_bits=9"
        )
        for _ in range(2):  # no context takeover: both are the same bytes
            b0, rsv, payload, rest = read_frame(sock, rest)
            assert (rsv, payload.hex()) == (4, "f248cdc9c90700")
        parts, rsvs, fins = [], [], []
        while not fins or not fins[-1]:
            b0, rsv, payload, rest = read_frame(sock, rest)
            parts.append(payload)
            rsvs.append(rsv)
            fins.append(bool(b0 & 0x80))
        assert all(len(p) == 4 for p in parts[:-1]) and rsvs[0] == 4 and set(rsvs[1:]) == {0}
        assert zlib.decompressobj(wbits=-10).decompress(b"".join(parts) + TAIL) == b"abc" * 1000
        # the client compresses with the 9-bit window it was given
        sock.sendall(frame(0x2, compressed(bytes(range(256)) * 8, bits=9), rsv=4))
        b0, _, payload, rest = read_frame(sock, rest)
        assert b0 == 0x88
        sock.sendall(frame(0x8, b"\x03\xe8"))
        read_until_close(sock)
    message = one(events(server, "lit"), "message")
    assert (message["compressed"], message["length"]) == (True, 2048)


@pytest.mark.parametrize("query, answered", [("", False), ("&deflate=accept", True)])
def test_the_url_accepts_for_a_scenario_without_a_deflate_field(
    server: ScenarioServer, query: str, answered: bool
) -> None:
    run = f"url{int(answered)}"
    sock, headers, rest = open_session(server, "deflate/plain", run, "permessage-deflate", query)
    with sock:
        assert ("sec-websocket-extensions" in headers) == answered
        sock.sendall(frame(0x1, b"plain"))
        read_frame(sock, rest)
        sock.sendall(frame(0x8, b"\x03\xe8"))
        read_until_close(sock)
    evs = events(server, run)
    assert (one(evs, "deflate")["negotiated"] is not None) == answered
    assert "compressed" not in one(evs, "message")


def test_rsv1_without_negotiation_is_a_protocol_error(server: ScenarioServer) -> None:
    sock, _, _ = open_session(server, "deflate/plain", "norsv", None)
    with sock:
        sock.sendall(frame(0x1, compressed(b"x"), rsv=4))
        read_until_close(sock)
    evs = events(server, "norsv")
    assert one(evs, "protocol_error")["error"] == "rsv"


def test_rsv1_on_a_continuation_breaks_the_rsv_rule(server: ScenarioServer) -> None:
    sock, _, _ = open_session(server, "deflate/accept", "contrsv", "permessage-deflate")
    with sock:
        data = compressed(b"Hello, Hello")
        sock.sendall(frame(0x1, data[:3], rsv=4, fin=False) + frame(0x0, data[3:], rsv=4))
        read_until_close(sock)
    err = one(events(server, "contrsv"), "protocol_error")
    assert err["error"] == "rsv"


def test_a_stream_that_does_not_inflate_is_a_deflate_error(server: ScenarioServer) -> None:
    sock, _, _ = open_session(server, "deflate/accept", "badz", "permessage-deflate")
    with sock:
        # block type 3 is reserved (RFC 1951 3.2.3)
        sock.sendall(frame(0x1, b"\xff\xff\xff", rsv=4))
        read_until_close(sock)
    ended = session(server, "badz")
    err = one(ended["events"], "protocol_error")
    assert err["error"] == "deflate" and err["reason"]
    assert ended["end"]["reason"] == "protocol_error"


def test_an_oversize_inflated_message_ends_the_session_with_limit(
    server: ScenarioServer,
) -> None:
    sock, _, _ = open_session(server, "deflate/accept", "bomb", "permessage-deflate")
    with sock:
        bomb = compressed(b"\x00" * (MAX_INFLATED * 10))
        assert len(bomb) < MAX_INFLATED // 10
        sock.sendall(frame(0x2, bomb, rsv=4))
        read_until_close(sock)
    ended = session(server, "bomb")
    assert ended["end"]["reason"] == "limit"
    evs = ended["events"]
    limit = one(evs, "limit")
    assert (limit["limit"], limit["value"]) == ("max_inflated", MAX_INFLATED)
    assert not [e for e in evs if e["type"] == "message"]


def test_a_scripted_invalid_answer_negotiates_nothing(server: ScenarioServer) -> None:
    sock, headers, _ = open_session(
        server, "deflate/scripted-bad-answer", "badans", "permessage-deflate"
    )
    with sock:
        assert headers["sec-websocket-extensions"] == "permessage-deflate; x_unknown=1"
        read_until_close(sock, timeout=3)
    evs = events(server, "badans")
    deflate = one(evs, "deflate")
    assert deflate["negotiated"] is None
    assert "x_unknown" in deflate["answer_error"]
    # the crafted compressed frame is then RSV1 without an extension
    violation = one(evs, "violation")
    assert violation["error"] == "rsv"


def test_an_invalid_offer_is_recorded_as_text_with_the_error(server: ScenarioServer) -> None:
    """Header bytes need not be UTF-8: the transcript shows them as '?'."""
    assert server.info is not None
    request, _ = upgrade_request("/deflate/accept?run=badoffer")
    offer = b'Sec-WebSocket-Extensions: permessage-deflate; mux="\xff", permessage-deflate\r\n'
    with connect(server.info.port) as sock:
        sock.sendall(request[:-2] + offer + b"\r\n")
        head, _ = read_http_head(sock)
        # the second offer is the first valid one: it is the one answered
        assert b"\r\nSec-WebSocket-Extensions: permessage-deflate\r\n" in head
    deflate = one(events(server, "badoffer"), "deflate")
    assert deflate["offers"] == [
        {"text": 'permessage-deflate; mux="?"', "error": "unknown parameter mux"},
        {},
    ]
