"""Hostile peers end their own sessions; the server keeps serving everyone else.

While garbage, a 100 MB frame header, a byte-per-second handshake and abrupt
disconnects hit the server, a real client runs a normal scenario and still
gets its verdict. Run by ./run-tests also against the ASan/UBSan build.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rawpeer import connect, masked_frame, read_http_head, read_until_close, upgrade_request
from wsreplay.build import server_binary
from wsreplay.paths import SCENARIOS_DIR
from wsreplay.plugin import ClientPool
from wsreplay.running.runner import run_one
from wsreplay.running.server import ScenarioServer
from wsreplay.scenarios import load_all

CLIENT = "python-websockets"
HANDSHAKE_TIMEOUT_MS = 2000


def serve_catalogue(
    tmp_path_factory: pytest.TempPathFactory, name: str, args: list[str]
) -> Iterator[ScenarioServer]:
    """The catalogue's server with ``args``; at the end it must exit 0 with
    no sanitizer report."""
    work = tmp_path_factory.mktemp(name)
    srv = ScenarioServer(
        server_binary(), SCENARIOS_DIR, work / "server.log", work / "transcripts", args
    )
    srv.start()
    yield srv
    code = srv.stop()
    assert code == 0, f"server exit {code}; log:\n{srv.stderr_text()}"
    assert "ERROR: AddressSanitizer" not in srv.stderr_text()
    assert "runtime error:" not in srv.stderr_text()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScenarioServer]:
    yield from serve_catalogue(
        tmp_path_factory, "robustness", ["--handshake-timeout-ms", str(HANDSHAKE_TIMEOUT_MS)]
    )


def rst_close(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def attack_garbage(port: int, results: dict) -> None:
    with connect(port) as sock:
        sock.sendall(os.urandom(65536))
        results["garbage"] = b"".join(c for c in read_until_close(sock) if c != b"<RST>")


def attack_huge_frame(port: int, results: dict) -> None:
    req, _ = upgrade_request("/close/send-then-close?run=atk-huge")
    with connect(port) as sock:
        sock.sendall(req)
        read_http_head(sock)
        header = b"\x82\xff" + struct.pack("!Q", 100 * 1024 * 1024) + b"\x01\x02\x03\x04"
        sock.sendall(header + b"\x00" * 1024)
        read_until_close(sock)


def attack_slow_handshake(port: int, results: dict) -> None:
    req, _ = upgrade_request("/close/send-then-close?run=atk-slow")
    started = time.monotonic()
    with connect(port) as sock:
        try:
            for byte in req:
                sock.sendall(bytes([byte]))
                time.sleep(1.0)
                if time.monotonic() - started > 10:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        read_until_close(sock, timeout=2)
    results["slow_seconds"] = time.monotonic() - started


def attack_disconnects(port: int, results: dict) -> None:
    for i in range(20):
        connect(port).close()  # connect, then FIN at once
        sock = connect(port)
        sock.sendall(upgrade_request("/close/send-then-close")[0][:40])
        rst_close(sock)  # RST in the middle of the request
        sock = connect(port)
        sock.sendall(upgrade_request(f"/close/many-then-close?run=atk-rst-{i}")[0])
        read_http_head(sock)
        rst_close(sock)  # RST while the scenario runs
        sock = connect(port)
        half_frame = masked_frame(0x1, b"x" * 10)[:5]
        sock.sendall(upgrade_request("/close/send-then-close")[0] + half_frame)
        sock.close()  # FIN in the middle of a frame
    results["disconnects"] = True


def test_hostile_peers_do_not_hurt_a_normal_run(server: ScenarioServer, tmp_path: Path) -> None:
    assert server.info is not None
    port = server.info.port
    catalogue = {s["name"]: s for s in load_all(SCENARIOS_DIR)}
    pool = ClientPool(tmp_path)
    adapter, resolved, error = pool.get(CLIENT)
    assert error is None, error
    results: dict = {}
    attacks = [
        threading.Thread(target=fn, args=(port, results))
        for fn in (attack_garbage, attack_huge_frame, attack_slow_handshake, attack_disconnects)
    ]
    scenario = catalogue["close/send-then-close"]

    def normal(tag: str) -> dict:
        return run_one(server, adapter, CLIENT, resolved, scenario, tag)

    try:
        for t in attacks:
            t.start()
        records = []
        # normal runs for as long as the attacks go on (at least three)
        while len(records) < 3 or any(t.is_alive() for t in attacks):
            records.append(normal(f"normal-{len(records)}"))
            if len(records) > 200:
                break
        for t in attacks:
            t.join(timeout=60)
        records.append(normal("normal-after"))
    finally:
        pool.close()

    for record in records:
        assert record["verdict"] == "pass", record["reason"]
    assert server.alive()

    assert results["garbage"].startswith(b"HTTP/1.1 400 ")
    huge = server.wait_run("atk-huge", 5)["sessions"][0]
    assert huge["end"]["reason"] == "limit"
    assert any(e["type"] == "limit" for e in huge["events"])
    # the byte-per-second peer was cut off by the handshake timeout, not left hanging
    assert results["slow_seconds"] < HANDSHAKE_TIMEOUT_MS / 1000 + 4
    assert results["disconnects"]
    for i in (0, 19):
        tr = server.wait_run(f"atk-rst-{i}", 5)["sessions"][0]
        assert tr["complete"]
        assert tr["end"]["reason"] in ("peer_closed", "complete")


# ---- per-session caps, judged at the frame header --------------------------

MAX_FRAME = 1024  # the cap on a client message is four times this


@pytest.fixture(scope="module")
def small_caps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScenarioServer]:
    yield from serve_catalogue(tmp_path_factory, "small-caps", ["--max-frame", str(MAX_FRAME)])


def masked_header(opcode: int, length: int, fin: bool) -> bytes:
    """A client frame's header alone: its payload never follows."""
    first = bytes([(0x80 if fin else 0) | opcode])
    if length < 126:
        return first + bytes([0x80 | length]) + b"\x01\x02\x03\x04"
    if length < 65536:
        return first + b"\xfe" + struct.pack("!H", length) + b"\x01\x02\x03\x04"
    return first + b"\xff" + struct.pack("!Q", length) + b"\x01\x02\x03\x04"


def header_only_session(port: int, run: str, before: bytes, header: bytes) -> list[bytes]:
    """The upgrade, `before` (whole frames), then one frame header and silence:
    what the server sends until it ends the session (the scenario's own
    steps have long waits, so only a cap can end it this early)."""
    req, _ = upgrade_request(f"/close/send-then-close?run={run}")
    with connect(port) as sock:
        sock.sendall(req)
        read_http_head(sock)
        sock.sendall(before + header)
        return read_until_close(sock, timeout=10)


def limit_event(session: dict) -> dict:
    limits = [e for e in session["events"] if e["type"] == "limit"]
    assert len(limits) == 1, session["events"]
    return limits[0]


def test_frame_over_max_frame_ends_the_session_at_its_header(small_caps: ScenarioServer) -> None:
    assert small_caps.info is not None
    header = masked_header(0x2, MAX_FRAME + 1, fin=True)
    header_only_session(small_caps.info.port, "cap-frame", b"", header)
    session = small_caps.wait_run("cap-frame", 10)["sessions"][0]
    assert session["end"]["reason"] == "limit"
    assert session["end"]["detail"] == "client frame over max_frame"
    event = limit_event(session)
    assert event["limit"] == "max_frame" and event["value"] == MAX_FRAME
    assert event["error"] == "too_big"
    # refused on the header: no frame of the client's was taken in
    assert not [e for e in session["events"] if e.get("dir") == "in" and e["type"] == "frame"]


def test_message_over_its_cap_ends_the_session_at_the_next_header(
    small_caps: ScenarioServer,
) -> None:
    """A message of 4 × 1000 bytes, then a continuation header announcing
    1000 more (5000 > 4 × 1024) and no payload: the session ends on the
    header. It used to wait for the payload (and end on the scenario's
    timeout, payload never sent), or buffer it first."""
    assert small_caps.info is not None
    chunk = b"x" * 1000
    before = masked_frame(0x1, chunk, fin=False) + b"".join(
        masked_frame(0x0, chunk, fin=False) for _ in range(3)
    )
    header = masked_header(0x0, 1000, fin=True)
    header_only_session(small_caps.info.port, "cap-message", before, header)
    session = small_caps.wait_run("cap-message", 10)["sessions"][0]
    assert session["end"]["reason"] == "limit", session["end"]
    assert session["end"]["detail"] == "client message over max_message"
    event = limit_event(session)
    assert event["limit"] == "max_message"
    assert event["value"] == 4 * MAX_FRAME
    assert event["message_bytes"] == 4000 and event["frame_length"] == 1000
    assert event["offset"] == len(before)  # the frame that would go over


def test_message_at_its_cap_is_taken(small_caps: ScenarioServer) -> None:
    """Exactly the cap (4 × 1024 bytes in four frames) is a message like any other."""
    assert small_caps.info is not None
    chunk = b"y" * MAX_FRAME
    frames = (
        masked_frame(0x1, chunk, fin=False)
        + masked_frame(0x0, chunk, fin=False)
        + masked_frame(0x0, chunk, fin=False)
        + masked_frame(0x0, chunk, fin=True)
        + masked_frame(0x8, b"\x03\xe8")
    )
    header_only_session(small_caps.info.port, "cap-exact", frames, b"")
    session = small_caps.wait_run("cap-exact", 10)["sessions"][0]
    assert session["end"]["reason"] != "limit", session["end"]
    messages = [e for e in session["events"] if e["type"] == "message"]
    assert [m["length"] for m in messages] == [4 * MAX_FRAME]
