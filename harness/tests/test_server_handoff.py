"""wsreplay-server --handoff PATH on the wire: TCP connections handed over by a front.

The test plays the front: a real TCP client connects to a Python listener,
the test peeks at nothing and hands the accepted socket, its request
unread, to the server over the unix SOCK_SEQPACKET socket with SCM_RIGHTS
and a target to route it by. The client must then get exactly the bytes
it gets when it connects to the server itself, and the transcript
(GET /_runs/RUN on the server's normal port) must show both targets.
Broken datagrams are refused with a log line and cost nothing else.
"""

from __future__ import annotations

import array
import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rawpeer import connect, masked_frame, read_until_close, upgrade_request
from wsreplay.build import server_binary
from wsreplay.fuzzingserver.front import handoff_socket_path
from wsreplay.paths import SCENARIOS_DIR
from wsreplay.running.server import ScenarioServer

SCENARIO = "close/send-then-close"
#: What close/send-then-close writes after the 101, in one write.
MESSAGE_AND_CLOSE = b"\x81\rfinal message\x88\x05\x03\xe8bye"


@pytest.fixture
def front(handoff_server: ScenarioServer) -> Iterator[socket.socket]:
    """A connection to the server's handoff socket, as a front holds one."""
    assert handoff_server.handoff is not None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sock.connect(str(handoff_server.handoff))
    yield sock
    sock.close()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """The front's TCP listener: clients connect here, not to the server."""
    sock = socket.create_server(("127.0.0.1", 0))
    yield sock
    sock.close()


def client_and_accepted(listener: socket.socket) -> tuple[socket.socket, socket.socket]:
    client = connect(listener.getsockname()[1])
    accepted, _ = listener.accept()
    return client, accepted


def hand_over(front: socket.socket, conn: socket.socket, target: str) -> None:
    socket.send_fds(front, [target.encode()], [conn.fileno()])
    conn.close()  # the server holds its own copy now


def play_close_scenario(client: socket.socket) -> list[bytes]:
    """Reads what the server sends until its close frame has come, then answers it."""
    chunks: list[bytes] = []
    data = b""
    deadline = time.monotonic() + 10
    while MESSAGE_AND_CLOSE not in data and time.monotonic() < deadline:
        client.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = client.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
        data += chunk
    client.sendall(masked_frame(0x8, b"\x03\xe8"))
    chunks += read_until_close(client)
    return chunks


def assert_eof(client: socket.socket) -> None:
    """The server closed the handed descriptor: the client sees EOF, not a session."""
    client.settimeout(5)
    assert client.recv(1) == b""


def log_has(server: ScenarioServer, text: str, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in server.stderr_text(20000):
            return True
        time.sleep(0.02)
    return False


def test_a_handed_over_connection_plays_the_routed_scenario_byte_for_byte(
    handoff_server: ScenarioServer, front: socket.socket, listener: socket.socket
) -> None:
    client, accepted = client_and_accepted(listener)
    request, key = upgrade_request("/runCase?case=7&agent=raw", key="dGhlIHNhbXBsZSBub25jZQ==")
    client.sendall(request)
    hand_over(front, accepted, f"/{SCENARIO}?run=handoff-1")
    chunks = play_close_scenario(client)
    data = b"".join(chunks)
    head, _, frames = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head  # RFC 6455's example
    assert frames == MESSAGE_AND_CLOSE

    # The same bytes as a client that connects to the server's own port.
    with connect(handoff_server.info.port if handoff_server.info else 0) as direct:
        direct.sendall(upgrade_request(f"/{SCENARIO}?run=handoff-direct", key=key)[0])
        assert b"".join(play_close_scenario(direct)) == data

    run = handoff_server.wait_run("handoff-1", 10)
    assert run["complete"] and len(run["sessions"]) == 1
    session = run["sessions"][0]
    assert session["scenario"] == SCENARIO
    assert session["end"]["reason"] == "complete"
    request_event = next(e for e in session["events"] if e["type"] == "http_request")
    assert request_event["target"] == "/runCase?case=7&agent=raw"
    assert request_event["routed_target"] == f"/{SCENARIO}?run=handoff-1"
    assert session["peer"] == f"127.0.0.1:{client.getsockname()[1]}"
    client.close()
    # A connection of its own has no routed target.
    direct_run = handoff_server.wait_run("handoff-direct", 10)
    direct_event = next(
        e for e in direct_run["sessions"][0]["events"] if e["type"] == "http_request"
    )
    assert "routed_target" not in direct_event


def test_the_handshake_sent_before_and_after_the_handoff_both_work(
    handoff_server: ScenarioServer, front: socket.socket, listener: socket.socket
) -> None:
    """A client whose request comes after the handoff (a slow one) is read as usual."""
    client, accepted = client_and_accepted(listener)
    hand_over(front, accepted, f"/{SCENARIO}?run=handoff-late")
    time.sleep(0.05)
    client.sendall(upgrade_request("/runCase?case=1&agent=late")[0])
    data = b"".join(play_close_scenario(client))
    assert data.split(b"\r\n\r\n", 1)[1] == MESSAGE_AND_CLOSE
    client.close()
    assert handoff_server.wait_run("handoff-late", 10)["complete"]


def test_routing_errors_are_the_servers_usual_answers(
    handoff_server: ScenarioServer, front: socket.socket, listener: socket.socket
) -> None:
    """A routed target naming no scenario is a 404 from the server, as on its own port."""
    client, accepted = client_and_accepted(listener)
    client.sendall(upgrade_request("/runCase?case=1&agent=x")[0])
    hand_over(front, accepted, "/no/such-scenario?run=handoff-404")
    data = b"".join(read_until_close(client))
    assert data.startswith(b"HTTP/1.1 404 ") and b"no/such-scenario" in data
    client.close()


def send_with_fds(front: socket.socket, payload: bytes, fds: list[int]) -> None:
    if fds:
        socket.send_fds(front, [payload], fds)
    else:
        front.send(payload)


@pytest.mark.parametrize(
    "what, payload, fds, logged",
    [
        ("no descriptor", b"/x", 0, "(no descriptor); 0 descriptors closed"),
        ("two descriptors", b"/x", 2, "(more descriptors than one); 2 descriptors closed"),
        ("a relative target", b"x?run=a", 1, "does not start with '/'"),
        ("a target with a space", b"/a b", 1, "not visible ASCII"),
        ("a target with CR LF", b"/a\r\nX: y", 1, "not visible ASCII"),
        ("an empty target", b"", 1, "(an empty target)"),
        ("a target over 2048 bytes", b"/" + b"a" * 2048, 1, "longer than 2048 bytes"),
        ("a socket that is not TCP", b"/x", -1, "(a socket that is not TCP)"),
        ("a descriptor that is no socket", b"/x", -2, "(a descriptor that is not a socket)"),
    ],
)
def test_a_bad_datagram_is_refused_and_the_server_serves_on(
    handoff_server: ScenarioServer,
    front: socket.socket,
    listener: socket.socket,
    what: str,
    payload: bytes,
    fds: int,
    logged: str,
) -> None:
    held: list[socket.socket] = []
    if fds > 0:
        for _ in range(fds):
            client, accepted = client_and_accepted(listener)
            held += [client, accepted]
        send_with_fds(front, payload, [s.fileno() for s in held[1::2]])
        for accepted in held[1::2]:
            accepted.close()
        for client in held[0::2]:
            assert_eof(client)
    elif fds == -1:
        a, b = socket.socketpair()
        held += [a, b]
        send_with_fds(front, payload, [a.fileno()])
    elif fds == -2:
        r, w = os.pipe()
        send_with_fds(front, payload, [r])
        os.close(r)
        os.close(w)
    else:
        send_with_fds(front, payload, [])
    assert log_has(handoff_server, logged), handoff_server.stderr_text()
    for sock in held:
        sock.close()

    # The same front goes on handing over, and the server's own port serves.
    client, accepted = client_and_accepted(listener)
    client.sendall(upgrade_request("/runCase?case=1&agent=after")[0])
    hand_over(front, accepted, f"/{SCENARIO}?run=after-bad")
    assert b"".join(play_close_scenario(client)).endswith(MESSAGE_AND_CLOSE)
    client.close()
    assert handoff_server.alive()


def test_a_front_that_goes_away_is_forgotten_and_another_can_connect(
    handoff_server: ScenarioServer, listener: socket.socket
) -> None:
    assert handoff_server.handoff is not None
    for _ in range(3):
        gone = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        gone.connect(str(handoff_server.handoff))
        gone.close()
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as front:
        front.connect(str(handoff_server.handoff))
        client, accepted = client_and_accepted(listener)
        client.sendall(upgrade_request("/runCase?case=1&agent=again")[0])
        hand_over(front, accepted, f"/{SCENARIO}?run=handoff-again")
        assert b"".join(play_close_scenario(client)).endswith(MESSAGE_AND_CLOSE)
        client.close()


def test_a_descriptor_received_truncated_is_closed(
    handoff_server: ScenarioServer, front: socket.socket, listener: socket.socket
) -> None:
    """More descriptors than the server reads at once (8): the kernel drops some, none leaks."""
    pairs = [client_and_accepted(listener) for _ in range(10)]
    fds = array.array("i", [accepted.fileno() for _, accepted in pairs])
    front.sendmsg([b"/x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
    for client, accepted in pairs:
        accepted.close()
        assert_eof(client)
        client.close()
    assert log_has(handoff_server, "(descriptors cut off: more than one")


def run_server(handoff: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """A server that must refuse to start: its exit status and stderr."""
    return subprocess.run(
        [str(server_binary()), "--scenarios", str(SCENARIOS_DIR), "--handoff", str(handoff)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )


def test_a_stale_socket_is_replaced_and_anything_else_is_refused(tmp_path: Path) -> None:
    stale = handoff_socket_path(tmp_path)
    with contextlib.closing(socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)) as old:
        old.bind(str(stale))  # a server before that died: its socket file stays
    server = ScenarioServer(server_binary(), SCENARIOS_DIR, tmp_path / "log", handoff=stale)
    server.start()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as front:
            front.connect(str(stale))
        # A second server on the same path must not steal a live socket.
        result = run_server(stale, tmp_path)
        assert result.returncode == 2
        assert "is in use by a running server" in result.stderr
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as front:
            front.connect(str(stale))
    finally:
        assert server.stop() == 0
    assert not stale.exists()

    regular = tmp_path / "not-a-socket"
    regular.write_text("keep me")
    result = run_server(regular, tmp_path)
    assert result.returncode == 2
    assert "exists and is not a socket" in result.stderr
    assert regular.read_text() == "keep me"

    long_path = tmp_path / ("d" * 120) / "handoff.sock"
    result = run_server(long_path, tmp_path)
    assert result.returncode == 2 and "--handoff: the path is longer than" in result.stderr
