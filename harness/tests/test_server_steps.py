"""Each step kind, checked as bytes on a real socket and in the transcript.

The scenarios live in data/step-scenarios/ and are served by a server of
this module's own. Reads are exact where the scenario makes them so (split
pieces 300 ms apart arrive in separate reads); elsewhere the byte stream is
compared whole and the transcript tells how it was cut into writes.
"""

from __future__ import annotations

import itertools
import socket
import time

import pytest

from rawpeer import (
    connect,
    masked_frame,
    read_exact,
    read_http_head,
    read_until_close,
    upgrade_request,
)
from wsreplay.judging.evaluate import transcript_cut
from wsreplay.running.server import ScenarioServer


@pytest.fixture(scope="module")
def server(step_server: ScenarioServer) -> ScenarioServer:
    return step_server


def open_scenario(server: ScenarioServer, name: str, run: str):
    assert server.info is not None
    sock = connect(server.info.port)
    sock.sendall(upgrade_request(f"/{name}?run={run}")[0])
    head, rest = read_http_head(sock)
    assert head.startswith(b"HTTP/1.1 101 ")
    return sock, rest


def events(server: ScenarioServer, run: str) -> list[dict]:
    answer = server.wait_run(run, 10)
    assert answer["complete"], answer
    return answer["sessions"][0]["events"]


def test_split_group_arrives_in_pieces(server: ScenarioServer) -> None:
    sock, rest = open_scenario(server, "steps/split-gap", "split")
    with sock:
        # the first piece follows the 101 with no gap, so it may share a read with it
        first = rest or sock.recv(100)
        reads = [first, sock.recv(100), sock.recv(100)]
        assert reads == [b"\x81", b"\x05hel", b"lo"]
        sock.sendall(masked_frame(0x8, b"\x03\xe8"))
        assert read_until_close(sock) == []
    evs = events(server, "split")
    writes = [e for e in evs if e["type"] == "write"]
    assert [w["bytes"] for w in writes[1:]] == [1, 4, 2]
    assert [w["hex"] for w in writes[1:]] == ["81", "0568656c", "6c6f"]
    gaps = [b["t_us"] - a["t_us"] for a, b in itertools.pairwise(writes[1:])]
    assert all(gap >= 300_000 for gap in gaps), gaps


def test_every_frame_option_encodes_exactly(server: ScenarioServer) -> None:
    sock, rest = open_scenario(server, "steps/frames", "frames")
    expected = bytes.fromhex(
        "820300ff10"  # binary from hex
        "890170"  # ping "p"
        "8a00"  # empty pong
        "8800"  # empty close
        "41026162"  # text, FIN clear, RSV1 set
        "80026364"  # opcode forced to continuation
        "8181010203046c"  # masked with key 01020304
        "817e000178"  # 16-bit length form for 1 byte
        "817f000000000000000179"  # 64-bit length form for 1 byte
        "81026e31"
        "81026e32"
        "81026e33"  # count with {i}
        "dead"  # raw bytes
        "880703e9676f696e67"  # close 1001 "going"
    )
    with sock:
        stream = rest + b"".join(read_until_close(sock, timeout=0.5))
        assert stream == expected
        sock.sendall(masked_frame(0x8, b"\x03\xe9"))
        assert read_until_close(sock) == []
    evs = events(server, "frames")
    writes = [e["bytes"] for e in evs if e["type"] == "write"]
    assert writes[1:] == [len(expected)]  # one group, one send()
    out_frames = [e for e in evs if e["type"] == "frame" and e["dir"] == "out"]
    # the three like frames of the count are one event: a run (server/README.md)
    assert len(out_frames) == 11
    assert sum(e.get("count", 1) for e in out_frames) == 13
    assert out_frames[4]["fin"] is False and out_frames[4]["rsv"] == 4
    assert out_frames[6]["masked"] is True
    run = out_frames[9]
    assert (run["text"], run["count"], run["offset"], run["offset_last"]) == ("n1", 3, 43, 51)
    assert run["t_us"] <= run["t_us_last"]


def test_echo_then_close(server: ScenarioServer) -> None:
    sock, _ = open_scenario(server, "steps/echo", "echo")
    with sock:
        sock.sendall(masked_frame(0x1, b"one"))
        sock.sendall(masked_frame(0x2, b"two"))
        sock.sendall(masked_frame(0x8, b"\x03\xe8"))
        stream = b"".join(read_until_close(sock))
    # "one" satisfied the await; "two" arrived while echoing; then our close reply
    assert stream == b"\x82\x03two" + b"\x88\x02\x03\xe8"
    evs = events(server, "echo")
    assert [e["length"] for e in evs if e["type"] == "message"] == [3, 3]
    done = [e for e in evs if e["type"] == "await_done"]
    assert [(d["what"], d["result"]) for d in done] == [("messages", "ok"), ("echo", "close")]


def test_await_timeout_is_recorded_and_steps_go_on(server: ScenarioServer) -> None:
    sock, _ = open_scenario(server, "steps/await-timeout", "await-timeout")
    with sock:
        stream = b"".join(read_until_close(sock))
    assert stream == b"\x81\x05after"
    evs = events(server, "await-timeout")
    (done,) = [e for e in evs if e["type"] == "await_done"]
    # libevent timers may fire a hair early by our clock
    assert done["result"] == "timeout" and done["waited_ms"] >= 190
    assert evs[-1]["type"] == "closed"


def test_ack_wait_ends_when_the_client_reset_the_connection(server: ScenarioServer) -> None:
    """The client closes its socket; the server's next write reaches a socket
    that no longer exists, and the client's kernel answers with an RST. Those
    bytes will never be ACKed (SIOCOUTQ stays where it was): the server's ACK
    wait ends on the reset (`ack_reset`) instead of running out
    --ack-timeout-ms (`ack_timeout`), and the steps go on."""
    sock, rest = open_scenario(server, "steps/write-after-client-closed", "ack-reset")
    assert rest == b""
    sock.close()
    evs = events(server, "ack-reset")
    kinds = [e["type"] for e in evs]
    assert "ack_timeout" not in kinds, evs
    (done,) = [e for e in evs if e["type"] == "await_done"]
    assert (done["what"], done["result"]) == ("eof", "ok")
    late = [e for e in evs if e["type"] == "write"][-1]
    (reset,) = [e for e in evs if e["type"] == "ack_reset"]
    assert reset["unacked"] == late["bytes"] == 10  # 81 08 "too late"
    assert kinds.index("ack_reset") < kinds.index("steps_done")
    assert evs[-1]["type"] == "closed"


def session(server: ScenarioServer, run: str) -> dict:
    answer = server.wait_run(run, 10)
    assert answer["complete"], answer
    return answer["sessions"][0]


def test_split_every_n_bytes_cuts_the_group_into_equal_pieces(server: ScenarioServer) -> None:
    sock, rest = open_scenario(server, "steps/split-every", "split-every")
    with sock:
        # 13 bytes every 5: 5, 5 and the 3 left, 300 ms apart
        first = rest + read_exact(sock, 5 - len(rest))
        reads = [first, sock.recv(100), sock.recv(100)]
        assert reads == [b"\x81\x0bhel", b"lo wo", b"rld"]
        sock.sendall(masked_frame(0x8, b"\x03\xe8"))
        assert read_until_close(sock) == []
    writes = [e for e in events(server, "split-every") if e["type"] == "write"]
    assert [(w["bytes"], w.get("piece")) for w in writes[1:]] == [(5, 0), (5, 1), (3, 2)]


class Frames:
    """Reads one small server frame at a time; the bytes that came with the 101 first."""

    def __init__(self, sock: socket.socket, rest: bytes) -> None:
        self.sock, self.buf = sock, rest

    def take(self, n: int) -> bytes:
        if len(self.buf) < n:
            self.buf += read_exact(self.sock, n - len(self.buf))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def __call__(self) -> tuple[int, bytes]:
        head = self.take(2)
        assert len(head) == 2 and head[1] < 126, head
        return head[0], self.take(head[1])


def test_round_trips_wait_for_each_echo_and_record_rtts(server: ScenarioServer) -> None:
    sock, rest = open_scenario(server, "steps/round-trips", "round-trips")
    read_frame = Frames(sock, rest)
    with sock:
        # each message waits for the echo of the one before: nothing else is there
        assert read_frame() == (0x81, b"m1")
        sock.settimeout(0.2)
        with pytest.raises(TimeoutError):
            sock.recv(10)
        sock.sendall(masked_frame(0x1, b"m1"))
        assert read_frame() == (0x81, b"m2")
        sock.sendall(masked_frame(0x1, b"xx"))  # a wrong echo still ends the trip
        assert read_frame() == (0x81, b"m3")
        sock.sendall(masked_frame(0x2, b"m3"))  # right bytes, wrong opcode
        assert read_frame() == (0x88, b"\x03\xe8")
        sock.sendall(masked_frame(0x8, b"\x03\xe8"))
        assert read_until_close(sock) == []
    evs = events(server, "round-trips")
    (trips,) = [e for e in evs if e["type"] == "round_trips"]
    assert {k: trips[k] for k in ("count", "done", "result", "mismatched", "first_mismatch")} == {
        "count": 3,
        "done": 3,
        "result": "ok",
        "mismatched": 2,
        "first_mismatch": 2,
    }
    rtt = trips["rtt_us"]
    # the first echo left 200 ms after its message, so the largest RTT shows it
    assert rtt["min"] <= rtt["median"] <= rtt["max"] and rtt["max"] >= 200_000


def test_round_trips_end_on_a_missing_echo(server: ScenarioServer) -> None:
    sock, rest = open_scenario(server, "steps/round-trips", "round-trips-timeout")
    read_frame = Frames(sock, rest)
    with sock:
        assert read_frame() == (0x81, b"m1")
        sock.sendall(masked_frame(0x1, b"m1"))
        assert read_frame() == (0x81, b"m2")
        # no echo: after 500 ms the steps go on with the close
        assert read_frame() == (0x88, b"\x03\xe8")
        sock.sendall(masked_frame(0x8, b"\x03\xe8"))
        read_until_close(sock)
    (trips,) = [e for e in events(server, "round-trips-timeout") if e["type"] == "round_trips"]
    assert (trips["done"], trips["result"], trips["mismatched"]) == (1, "timeout", 0)
    assert trips["rtt_us"]["min"] == trips["rtt_us"]["max"]


def test_fail_fast_mark_comes_after_the_clients_close(server: ScenarioServer) -> None:
    sock, rest = open_scenario(server, "steps/fail-fast", "fail-fast-close")
    read_frame = Frames(sock, rest)
    with sock:
        assert read_frame() == (0x01, b"frag")
        sock.sendall(masked_frame(0x8, b"\x03\xef"))  # 1007 at once, 300 ms before the rest
        stream = b"".join(read_until_close(sock))
    assert stream == b"\x80\x04ment"
    evs = events(server, "fail-fast-close")
    kinds = [(e["type"], e.get("dir"), e.get("opcode")) for e in evs]
    assert kinds.index(("frame", "in", 8)) < kinds.index(("fail_fast_mark", "out", None))


def test_fail_fast_mark_notes_the_clients_fin(server: ScenarioServer) -> None:
    sock, rest = open_scenario(server, "steps/fail-fast", "fail-fast-fin")
    read_frame = Frames(sock, rest)
    with sock:
        assert read_frame() == (0x01, b"frag")
        sock.shutdown(socket.SHUT_WR)
        read_until_close(sock)
    evs = events(server, "fail-fast-fin")
    kinds = [e["type"] for e in evs]
    (mark,) = [e for e in evs if e["type"] == "fail_fast_mark"]
    assert kinds.index("tcp_eof") < kinds.index("fail_fast_mark") or mark.get("peer_fin")


def test_fail_fast_mark_without_a_close_before_it(server: ScenarioServer) -> None:
    sock, rest = open_scenario(server, "steps/fail-fast", "fail-fast-late")
    read_frame = Frames(sock, rest)
    with sock:
        assert read_frame() == (0x01, b"frag")
        assert read_frame() == (0x80, b"ment")
        sock.sendall(masked_frame(0x8, b"\x03\xe8"))
        read_until_close(sock)
    evs = events(server, "fail-fast-late")
    kinds = [(e["type"], e.get("dir"), e.get("opcode")) for e in evs]
    assert kinds.index(("fail_fast_mark", "out", None)) < kinds.index(("frame", "in", 8))
    (mark,) = [e for e in evs if e["type"] == "fail_fast_mark"]
    assert "peer_fin" not in mark


def test_tcp_close_facts_when_the_server_closes_first(server: ScenarioServer) -> None:
    sock, rest = open_scenario(server, "steps/close-clean", "close-clean")
    read_frame = Frames(sock, rest)
    with sock:
        assert read_frame() == (0x89, b"p")
        assert read_frame() == (0x88, b"\x03\xe8")
        sock.sendall(masked_frame(0xA, b"p") + masked_frame(0x8, b"\x03\xe8"))
        assert read_until_close(sock) == []  # the server's FIN, 100 ms later
    tcp = session(server, "close-clean")["tcp_close"]
    assert {k: tcp[k] for k in tcp if not k.endswith("_us")} == {
        "first": "server",
        "clean": True,
        "close_sent": True,
        "close_received": True,
        "frames_in": 2,
        "frames_out": 2,
        "last_in": 8,
        "last_out": 8,
    }


def test_tcp_close_facts_when_the_client_drops_tcp(server: ScenarioServer) -> None:
    sock, rest = open_scenario(server, "steps/close-clean", "close-dropped")
    read_frame = Frames(sock, rest)
    with sock:
        assert read_frame() == (0x89, b"p")
        assert read_frame() == (0x88, b"\x03\xe8")
        sock.sendall(masked_frame(0xA, b"p"))
        time.sleep(0.1)  # the pong is read before the FIN
        sock.shutdown(socket.SHUT_WR)  # no close frame: FIN at once
        read_until_close(sock)
    tcp = session(server, "close-dropped")["tcp_close"]
    assert (tcp["first"], tcp["clean"], tcp["close_received"]) == ("client", False, False)
    assert (tcp["frames_in"], tcp["last_in"], tcp["frames_out"]) == (1, 10, 2)


def test_a_transcript_past_the_event_cap_says_so_and_is_judged_error(
    server: ScenarioServer,
) -> None:
    """100,010 pings (control frames never fold into runs) pass the 100,000-event cap."""
    sock, _ = open_scenario(server, "steps/close-clean", "capped")
    with sock:
        sock.sendall(masked_frame(0x9, b"") * 100_010 + masked_frame(0x8, b"\x03\xe8"))
        read_until_close(sock, timeout=20)
    answer = server.wait_run("capped", 30)
    assert answer["complete"], answer
    session = answer["sessions"][0]
    assert session["events_dropped"] > 10
    assert session["events_cap"] == {"events": 100000, "bytes": 16777216}
    assert len(session["events"]) == 100000
    assert session["events"][-1]["type"] == "frame"  # a prefix: no `closed` at its end
    reason = transcript_cut(session)
    assert reason is not None
    assert f"{session['events_dropped']} events past its cap (100000 events" in reason
