"""The server's HTTP side and wire output, checked over real sockets."""

from __future__ import annotations

import socket

import pytest

from rawpeer import (
    accept_for,
    connect,
    masked_frame,
    read_http_head,
    read_until_close,
    upgrade_request,
)
from wsreplay.running.runner import job_tag
from wsreplay.running.server import ScenarioServer


def http_exchange(port: int, request: bytes) -> tuple[int, bytes, bytes]:
    with connect(port) as sock:
        sock.sendall(request)
        data = b"".join(read_until_close(sock))
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, head, body


def port_of(server: ScenarioServer) -> int:
    assert server.info is not None
    return server.info.port


@pytest.mark.parametrize(
    "request_bytes, status, reason",
    [
        # plain HTTP GET of a scenario: no Upgrade header
        (b"GET /close/send-then-close HTTP/1.1\r\nHost: x\r\n\r\n", 400, b"Upgrade"),
        # wrong WebSocket version: 426 tells the client which one we speak
        (upgrade_request("/close/send-then-close", version="8")[0], 426, b"Version"),
        # not GET
        (b"POST /close/send-then-close HTTP/1.1\r\nHost: x\r\n\r\n", 405, b"GET"),
        # a key that is not 16 bytes of base64
        (upgrade_request("/close/send-then-close", key="c2hvcnQ=")[0], 400, b"Key"),
        # unknown scenario
        (upgrade_request("/no/such-scenario")[0], 404, b"no/such-scenario"),
        # run id with characters that could escape a file name
        (upgrade_request("/close/send-then-close?run=../../etc")[0], 400, b"run id"),
        # run ids that would name hidden or option-like transcript files
        (upgrade_request("/close/send-then-close?run=..")[0], 400, b"run id"),
        (upgrade_request("/close/send-then-close?run=.hidden")[0], 400, b"run id"),
        (upgrade_request("/close/send-then-close?run=-rf")[0], 400, b"run id"),
        # not HTTP at all
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", 400, b"malformed"),
        # a request head over the 8 KiB limit
        (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 400, b"too large"),
    ],
)
def test_bad_requests_get_a_status_and_a_reason(
    wsreplay_server: ScenarioServer, request_bytes: bytes, status: int, reason: bytes
) -> None:
    got, head, body = http_exchange(port_of(wsreplay_server), request_bytes)
    assert got == status, (head, body)
    assert reason.lower() in body.lower() or reason.lower() in head.lower()
    if status == 426:
        assert b"Sec-WebSocket-Version: 13" in head


def test_a_bad_second_run_tags_nothing(wsreplay_server: ScenarioServer) -> None:
    """run=good&run=.. is refused whole: no session, live or ended, under "good"."""
    port = port_of(wsreplay_server)
    req, _ = upgrade_request("/close/send-then-close?run=tag-good-1&run=..")
    status, head, body = http_exchange(port, req)
    assert status == 400, (head, body)
    assert wsreplay_server.query_run("tag-good-1")["sessions"] == []


def test_the_harness_tag_of_any_out_folder_is_accepted(wsreplay_server: ScenarioServer) -> None:
    """An --out folder named ".x" or "-x" still gives tags the server takes."""
    for i, folder in enumerate((".x", "-x", "_x")):
        tag = job_tag(folder, "node-ws@8.23.1", i)
        with connect(port_of(wsreplay_server)) as sock:
            sock.sendall(upgrade_request(f"/close/send-then-close?run={tag}")[0])
            head, _ = read_http_head(sock)
        assert head.startswith(b"HTTP/1.1 101 "), (tag, head)


def test_founding_scenario_bytes_on_the_wire(wsreplay_server: ScenarioServer) -> None:
    """The 101 alone, then message + close in ONE read, then FIN after our close."""
    port = port_of(wsreplay_server)
    req, key = upgrade_request("/close/send-then-close?run=wire-1")
    with connect(port) as sock:
        sock.sendall(req)
        head, rest = read_http_head(sock)
        assert head == (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + accept_for(key).encode()
            + b"\r\n\r\n"
        )
        # Read boundaries depend on when this test reads, so check the stream;
        # the transcript below shows how the server cut it into writes.
        frames = read_until_close(sock, timeout=0.5)  # no EOF yet: server awaits our close
        assert rest + b"".join(frames) == b"\x81\x0dfinal message" + b"\x88\x05\x03\xe8bye"
        sock.sendall(masked_frame(0x8, b"\x03\xe8bye"))
        assert read_until_close(sock) == []  # FIN, nothing else
    answer = wsreplay_server.wait_run("wire-1", 5)
    assert answer["complete"]
    (tr,) = answer["sessions"]
    assert tr["scenario"] == "close/send-then-close"
    assert tr["end"]["reason"] == "complete"
    types = [(e.get("dir"), e["type"]) for e in tr["events"]]
    assert ("in", "frame") in types and ("out", "tcp_shutdown") in types
    writes = [e["bytes"] for e in tr["events"] if e["type"] == "write"]
    assert writes == [len(head), 22]  # the 101 alone, then message + close in one send()
    client_close = [e for e in tr["events"] if e["type"] == "frame" and e.get("dir") == "in"]
    assert client_close[0]["close_code"] == 1000 and client_close[0]["masked"] is True


def test_coalesced_handshake_bytes(wsreplay_server: ScenarioServer) -> None:
    """handshake/coalesced-message: the 101 and the first frame in one send()."""
    req, _ = upgrade_request("/handshake/coalesced-message?run=wire-2")
    with connect(port_of(wsreplay_server)) as sock:
        sock.sendall(req)
        head, rest = read_http_head(sock)
        stream = rest + b"".join(read_until_close(sock, timeout=0.5))
        assert stream == b"\x81\x05hello" + b"\x88\x05\x03\xe8bye"
        sock.sendall(masked_frame(0x8, b"\x03\xe8bye"))
        assert read_until_close(sock) == []
    tr = wsreplay_server.wait_run("wire-2", 5)["sessions"][0]
    writes = [e["bytes"] for e in tr["events"] if e["type"] == "write"]
    assert writes == [len(head) + 7, 7]


def test_rst_scenario_ends_with_a_reset(wsreplay_server: ScenarioServer) -> None:
    req, _ = upgrade_request("/close/send-then-rst?run=wire-3")
    with connect(port_of(wsreplay_server)) as sock:
        sock.sendall(req)
        _, rest = read_http_head(sock)
        chunks = read_until_close(sock)
        assert rest + b"".join(c for c in chunks if c != b"<RST>") == b"\x81\x0dfinal message"
        assert chunks[-1] == b"<RST>"
    tr = wsreplay_server.wait_run("wire-3", 5)["sessions"][0]
    assert tr["end"]["reason"] == "aborted"


def test_unmasked_client_frame_is_a_protocol_error(wsreplay_server: ScenarioServer) -> None:
    req, _ = upgrade_request("/close/send-then-close?run=wire-4")
    with connect(port_of(wsreplay_server)) as sock:
        sock.sendall(req)
        read_http_head(sock)
        sock.sendall(b"\x81\x02hi")  # a client frame without a mask
        read_until_close(sock, timeout=2)
    tr = wsreplay_server.wait_run("wire-4", 5)["sessions"][0]
    assert tr["end"]["reason"] == "protocol_error"
    err = next(e for e in tr["events"] if e["type"] == "protocol_error")
    assert err["reason"] == "unmasked client frame"
    assert err["hex"].startswith("8102")


def test_runs_endpoint_for_an_unknown_run(wsreplay_server: ScenarioServer) -> None:
    assert wsreplay_server.query_run("never-used") == {
        "run": "never-used",
        "complete": False,
        "sessions": [],
    }


def test_server_is_alive_after_all_that(wsreplay_server: ScenarioServer) -> None:
    assert wsreplay_server.alive()
    with socket.create_connection(("127.0.0.1", port_of(wsreplay_server)), timeout=5):
        pass
