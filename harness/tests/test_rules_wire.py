"""Each RFC 6455 client rule, broken on purpose on a real socket, caught from the real transcript.

The peer here is a raw TCP client (rawpeer.py), not a WebSocket library: it
breaks one rule at a time so the server records it and the rule engine must
find it in the transcript, with nothing hand-made in between. Which real
libraries break which rules is in test_rules_libraries.py.
"""

from __future__ import annotations

import itertools
import socket
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from rawpeer import connect, read_http_head, upgrade_request
from wsreplay.build import server_binary
from wsreplay.judging import rules
from wsreplay.running.server import ScenarioServer

RULE_SCENARIOS = Path(__file__).parent / "data" / "rule-scenarios"
_runs = itertools.count(1)


def frame(
    opcode: int,
    payload: bytes = b"",
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
    length_form: int | None = None,
) -> bytes:
    """One client frame, with every field under the test's control."""
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    n = len(payload)
    form = length_form or (7 if n < 126 else 16 if n < 65536 else 64)
    mask_bit = 0x80 if masked else 0
    if form == 7:
        head += bytes([mask_bit | n])
    elif form == 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    key = b"\x11\x22\x33\x44"
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def close_frame(code: int | None = 1000, reason: bytes = b"") -> bytes:
    return frame(8, b"" if code is None else struct.pack("!H", code) + reason)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScenarioServer]:
    work = tmp_path_factory.mktemp("rules")
    srv = ScenarioServer(server_binary(), RULE_SCENARIOS, work / "server.log", work / "tr")
    srv.start()
    yield srv
    assert srv.stop() == 0, srv.stderr_text()


class Peer:
    """A raw client on one scenario: send bytes, read, close TCP, then judge."""

    def __init__(self, server: ScenarioServer, scenario: str, extra: str = "") -> None:
        assert server.info is not None
        self.server = server
        self.run = f"rule-{next(_runs)}"
        self.sock = connect(server.info.port)
        self.sock.sendall(upgrade_request(f"/{scenario}?run={self.run}", extra=extra)[0])
        head, self.pending = read_http_head(self.sock)
        assert head.startswith(b"HTTP/1.1 101 ")

    def send(self, *frames: bytes) -> Peer:
        self.sock.sendall(b"".join(frames))
        return self

    def read(self, size: int) -> bytes:
        """Exactly `size` bytes of the server's frames (after the 101)."""
        data, self.pending = self.pending, b""
        self.sock.settimeout(5)
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            assert chunk, f"EOF after {data!r}"
            data += chunk
        return data

    def wait(self, seconds: float) -> Peer:
        time.sleep(seconds)
        return self

    def drop(self) -> Peer:
        """Closes TCP at once (FIN), without any close frame."""
        self.sock.shutdown(socket.SHUT_WR)
        return self

    def judge(self, observation: dict | None = None) -> dict[str, rules.Breach]:
        """Lets the server finish, then runs the rules on its transcript."""
        self.sock.settimeout(5)
        try:
            while self.sock.recv(4096):
                pass
        except OSError:
            pass
        self.sock.close()
        answer = self.server.wait_run(self.run, 10)
        assert answer["complete"], answer
        self.transcript = answer["sessions"][0]
        return {b.rule: b for b in rules.check(self.transcript, observation)}


SERVER_CLOSE = bytes.fromhex("880503e8627965")  # close 1000 'bye'


def test_a_well_behaved_client_breaks_nothing(server):
    peer = Peer(server, "rules/server-closes")
    assert peer.read(7) == SERVER_CLOSE
    assert peer.send(close_frame(1000, b"bye")).judge() == {}
    tcp = peer.transcript["tcp_close"]
    assert tcp["first"] == "server"
    assert tcp["server_us"] < tcp["client_us"]


@pytest.mark.parametrize(
    ("rule", "bad"),
    [
        ("mask", frame(1, b"hi", masked=False)),
        ("rsv", frame(1, b"hi", rsv=4)),
        ("opcode", frame(3, b"hi")),
        ("control-frame", frame(9, b"x" * 126)),
        ("control-frame", frame(9, b"hi", fin=False)),
        ("length-form", frame(2, b"x", length_form=16)),
        ("fragmentation", frame(0, b"hi")),
    ],
)
def test_a_frame_the_server_refuses_names_its_rule(server, rule, bad):
    found = Peer(server, "rules/client-speaks").send(frame(1, b"ok"), bad).judge()
    assert list(found) == [rule]
    # the second frame, right after the 8-byte "ok" frame
    assert found[rule].detail.startswith("the client frame at byte 8 (bytes ")


DEFLATE_OFFER = "Sec-WebSocket-Extensions: permessage-deflate\r\n"


def deflated(data: bytes) -> bytes:
    """A permessage-deflate message body: raw DEFLATE, sync flush, tail cut."""
    c = zlib.compressobj(wbits=-15)
    return (c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]


def test_with_permessage_deflate_rsv1_on_a_first_frame_is_fine(server):
    peer = Peer(server, "rules/deflate-speaks", DEFLATE_OFFER)
    body = deflated(b"compressed, in two frames")
    found = peer.send(frame(1, body[:4], fin=False, rsv=4), frame(0, body[4:]), close_frame())
    assert found.judge() == {}
    message = next(e for e in peer.transcript["events"] if e["type"] == "message")
    assert (message["compressed"], message["text"]) == (True, "compressed, in two frames")


@pytest.mark.parametrize(
    "bad",
    [
        frame(1, deflated(b"x"), rsv=2),  # RSV2: permessage-deflate defines RSV1 only
        frame(9, b"", rsv=4),  # RSV1 on a control frame
        frame(1, deflated(b"ab")[:2], fin=False, rsv=4) + frame(0, deflated(b"ab")[2:], rsv=4),
    ],
)
def test_with_permessage_deflate_rsv1_elsewhere_breaks_rsv(server, bad):
    found = Peer(server, "rules/deflate-speaks", DEFLATE_OFFER).send(bad).judge()
    assert list(found) == ["rsv"]


def test_a_compressed_message_that_does_not_inflate_breaks_deflate_stream(server):
    peer = Peer(server, "rules/deflate-speaks", DEFLATE_OFFER)
    found = peer.send(frame(2, b"\xff\xff\xff", rsv=4)).judge()
    assert list(found) == ["deflate-stream"]
    assert "the server stopped reading" in found["deflate-stream"].detail


def test_invalid_utf8_in_a_text_message(server):
    peer = Peer(server, "rules/client-speaks")
    found = peer.send(frame(1, b"\xc3\x28"), close_frame()).judge()
    assert list(found) == ["utf8"]


@pytest.mark.parametrize(
    "payload", [b"\x00\x00", b"\x03\xed", b"\x03\xe7", b"\x07", b"\x03\xe8\xff"]
)
def test_a_close_payload_the_client_may_not_send(server, payload):
    found = Peer(server, "rules/client-speaks").send(frame(8, payload)).judge()
    assert list(found) == ["close-payload"]
    assert found["close-payload"].detail.startswith("client frame 1 at byte 0, ")


def test_a_second_close_frame_and_data_after_close(server):
    peer = Peer(server, "rules/client-speaks")
    found = peer.send(close_frame(), frame(1, b"late"), close_frame()).judge()
    assert set(found) == {"close-once", "no-data-after-close"}


def test_the_servers_close_left_unanswered(server):
    peer = Peer(server, "rules/server-closes")
    assert peer.read(7) == SERVER_CLOSE
    found = peer.drop().judge()
    assert list(found) == ["close-reply"]
    assert "the client closed TCP without one" in found["close-reply"].detail


def test_closing_tcp_before_the_server_after_the_close_handshake(server):
    peer = Peer(server, "rules/server-closes")
    assert peer.read(7) == SERVER_CLOSE
    found = peer.send(close_frame(1000, b"bye")).drop().judge()
    assert list(found) == ["server-closes-tcp"]
    tcp = peer.transcript["tcp_close"]
    assert tcp["first"] == "client"
    assert tcp["server_us"] - tcp["client_us"] >= 90_000  # the server waited 100 ms


def test_dropping_tcp_before_the_servers_close_reply(server):
    found = Peer(server, "rules/client-speaks").send(close_frame()).drop().judge()
    assert list(found) == ["wait-for-close-reply"]


def test_a_pong_with_the_wrong_payload(server):
    peer = Peer(server, "rules/ping")
    assert peer.read(4) == b"\x89\x02hi"
    found = peer.send(frame(10, b"ho"), close_frame()).judge()
    assert list(found) == ["pong-payload"]


def test_a_ping_left_unanswered(server):
    peer = Peer(server, "rules/ping")
    assert peer.read(4) == b"\x89\x02hi"
    found = peer.send(close_frame()).judge()
    assert list(found) == ["ping-answered"]
    answered = Peer(server, "rules/ping")
    assert answered.read(4) == b"\x89\x02hi"
    assert answered.send(frame(10, b"hi"), close_frame()).judge() == {}


@pytest.mark.parametrize(("reply", "ok"), [(close_frame(1002), True), (close_frame(1000), False)])
def test_failing_the_connection_with_a_fitting_code(server, reply, ok):
    peer = Peer(server, "rules/violation")
    assert peer.read(2) == b"\x83\x00"
    found = peer.send(reply).judge()
    assert ("fail-with-close" not in found) is ok


def test_failing_the_connection_by_dropping_tcp(server):
    peer = Peer(server, "rules/violation")
    assert peer.read(2) == b"\x83\x00"
    found = peer.drop().judge()
    assert list(found) == ["fail-with-close"]
    assert found["fail-with-close"].detail.endswith("the client closed TCP without a close frame")


def test_every_rule_is_broken_on_the_wire_in_this_file():
    """A new rule needs a raw-socket test here too."""
    source = Path(__file__).read_text()
    missing = [name for name in rules.RULES if f'"{name}"' not in source]
    assert missing == []
