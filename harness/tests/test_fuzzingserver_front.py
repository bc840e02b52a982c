"""The fuzzingserver's front (wsreplay.fuzzingserver.front) on the wire.

A Front with a small ControlHandler written here (the handler is the mode's
session, not a client library: a hand-made one is the honest test of the
front alone) in front of a real wsreplay-server started with --handoff.
Control URLs are read with a raw socket, byte for byte, and with the real
python-websockets library from its cached environment; /runCase must reach
the C server and play the scenario exactly as on the server's own port.
"""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from rawpeer import accept_for, connect, masked_frame, read_until_close, upgrade_request
from wsreplay.build import server_binary
from wsreplay.fuzzingserver import front as front_mod
from wsreplay.fuzzingserver.front import Front, handoff_socket_path
from wsreplay.installers.python import ensure_env
from wsreplay.paths import SCENARIOS_DIR
from wsreplay.running.server import ScenarioServer

SCENARIO = "close/send-then-close"
MESSAGE_AND_CLOSE = b"\x81\rfinal message\x88\x05\x03\xe8bye"
CLOSE_1000 = b"\x88\x02\x03\xe8"


class Handler:
    """Three cases; case 3 is excluded for the agent "picky"; every call recorded."""

    CASES: ClassVar[dict[int, dict]] = {
        1: {"id": "7.7.1", "description": "a message and a close in one write"},
        2: {"id": "1.1.1", "description": "text, empty"},
        3: {"id": "1.1.2", "description": "text, 125 bytes"},
    }

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.lock = threading.Lock()
        self.reports_written = threading.Event()

    def _call(self, *call: object) -> None:
        with self.lock:
            self.calls.append(call)

    def case_count(self) -> int:
        self._call("case_count")
        return len(self.CASES)

    def case_info(self, case: int) -> dict | None:
        self._call("case_info", case)
        return self.CASES.get(case)

    def run_target(self, case: int, agent: str) -> str | None:
        self._call("run_target", case, agent)
        if case not in self.CASES or (case == 3 and agent == "picky"):
            return None
        return f"/{SCENARIO}?run=front-{agent}-{case}"

    def case_status(self, case: int, agent: str) -> dict:
        self._call("case_status", case, agent)
        return {"behavior": "OK" if case == 1 else "FAILED"}

    def update_reports(self, agent: str | None) -> None:
        self._call("update_reports", agent)
        self.reports_written.set()


@pytest.fixture
def handler() -> Handler:
    return Handler()


@pytest.fixture
def front(handoff_server: ScenarioServer, handler: Handler) -> Iterator[Front]:
    assert handoff_server.handoff is not None
    with Front(handler, handoff_server.handoff, port=0, head_timeout=2.0) as fr:
        yield fr


# ---- a raw client ----------------------------------------------------------------


def read_frame(sock: socket.socket, buf: bytearray) -> tuple[int, int, bytes]:
    """(first byte, second byte, payload) of the next server frame."""
    while True:
        if len(buf) >= 2:
            n = buf[1] & 0x7F
            pos = 2
            if n == 126 and len(buf) >= 4:
                n, pos = struct.unpack_from("!H", buf, 2)[0], 4
            if n < 126 and len(buf) >= pos + n:
                frame = (buf[0], buf[1], bytes(buf[pos : pos + n]))
                del buf[: pos + n]
                return frame
        sock.settimeout(5)
        data = sock.recv(65536)
        assert data, f"EOF inside a frame: {bytes(buf)!r}"
        buf += data


def control(port: int, target: str) -> tuple[bytes, list[tuple[int, int, bytes]], bytes]:
    """A control URL by hand: (the 101's head, the frames up to the close, what came after).

    The client answers the front's close with its own and then reads to EOF:
    the front must close TCP first, and send nothing more.
    """
    with connect(port) as sock:
        request, key = upgrade_request(target)
        sock.sendall(request)
        buf = bytearray()
        while b"\r\n\r\n" not in buf:
            sock.settimeout(5)
            data = sock.recv(4096)
            assert data, f"EOF in the response head: {bytes(buf)!r}"
            buf += data
        head, _, rest = bytes(buf).partition(b"\r\n\r\n")
        assert f"Sec-WebSocket-Accept: {accept_for(key)}".encode() in head
        buf = bytearray(rest)
        frames = []
        while True:
            frame = read_frame(sock, buf)
            frames.append(frame)
            if frame[0] & 0x0F == 0x8:
                break
        sock.sendall(masked_frame(0x8, b"\x03\xe8"))
        after = bytes(buf) + b"".join(read_until_close(sock))
    return head, frames, after


def http_answer(port: int, request: bytes) -> bytes:
    with connect(port) as sock:
        sock.sendall(request)
        return b"".join(read_until_close(sock))


# ---- control URLs, by hand -----------------------------------------------------


def test_get_case_count_is_one_text_message_then_close_1000(front: Front) -> None:
    head, frames, after = control(front.port, "/getCaseCount")
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert frames == [(0x81, 1, b"3"), (0x88, 2, b"\x03\xe8")]  # final, unmasked
    assert after == b""


def test_get_case_info_is_the_cases_json(front: Front, handler: Handler) -> None:
    _, frames, _ = control(front.port, "/getCaseInfo?case=2")
    assert frames[0][0] == 0x81 and json.loads(frames[0][2]) == Handler.CASES[2]
    assert frames[1][2] == b"\x03\xe8"
    assert ("case_info", 2) in handler.calls


def test_get_case_status_asks_the_handler_with_the_decoded_agent(
    front: Front, handler: Handler
) -> None:
    _, frames, _ = control(front.port, "/getCaseStatus?case=1&agent=my%20client%2F1.0")
    assert json.loads(frames[0][2]) == {"behavior": "OK"}
    assert ("case_status", 1, "my client/1.0") in handler.calls


def test_update_reports_writes_them_before_the_close(front: Front, handler: Handler) -> None:
    _, frames, _ = control(front.port, "/updateReports?agent=lib")
    assert frames == [(0x88, 2, b"\x03\xe8")]  # no message, the close alone
    assert handler.calls == [("update_reports", "lib")]
    _, frames, _ = control(front.port, "/updateReports")
    assert handler.calls[-1] == ("update_reports", None)  # every agent's


@pytest.mark.parametrize(
    "target, status, reason",
    [
        ("/getCaseInfo", 400, b"case parameter is missing"),
        ("/getCaseInfo?case=0", 400, b"not a case number"),
        ("/getCaseInfo?case=x", 400, b"not a case number"),
        ("/getCaseInfo?case=4", 400, b"no case 4"),
        ("/getCaseStatus?case=1", 400, b"agent parameter is missing"),
        ("/runCase?case=1", 400, b"agent parameter is missing"),
        ("/runCase?agent=a", 400, b"case parameter is missing"),
        ("/runCase?case=3&agent=picky", 404, b"no case 3 for agent 'picky'"),
        ("/runCase?case=9&agent=a", 404, b"no case 9"),
        ("/", 404, b"no such URL"),
        ("/close/send-then-close", 404, b"no such URL"),
    ],
)
def test_bad_requests_get_a_status_and_a_reason(
    front: Front, target: str, status: int, reason: bytes
) -> None:
    answer = http_answer(front.port, upgrade_request(target)[0])
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer
    assert reason in answer


@pytest.mark.parametrize(
    "request_bytes, status, reason",
    [
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, b"not an HTTP request"),
        (b"GET /getCaseCount\r\n\r\n", 400, b"not an HTTP request line"),
        (b"GET /getCaseCount HTTP/1.1\r\nHost: x\r\n\r\n", 400, b"Upgrade: websocket"),
        (b"POST /getCaseCount HTTP/1.1\r\nHost: x\r\n\r\n", 405, b"GET"),
        (upgrade_request("/getCaseCount", version="8")[0], 426, b"Sec-WebSocket-Version: 13"),
        (upgrade_request("/getCaseCount", key="c2hvcnQ=")[0], 400, b"Sec-WebSocket-Key"),
        (b"GET /getCaseCount HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 400, b"too large"),
    ],
)
def test_what_is_not_a_websocket_handshake_is_refused(
    front: Front, request_bytes: bytes, status: int, reason: bytes
) -> None:
    answer = http_answer(front.port, request_bytes)
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer
    assert reason in answer


def test_a_silent_client_is_closed_after_the_head_timeout(front: Front) -> None:
    with connect(front.port) as sock:
        sock.settimeout(front.head_timeout + 5)
        assert sock.recv(1) == b""  # closed, no answer
    with connect(front.port) as sock:  # half a request line, then nothing
        sock.sendall(b"GET /getCase")
        sock.settimeout(front.head_timeout + 5)
        assert sock.recv(1) == b""
    # and the front serves on
    assert control(front.port, "/getCaseCount")[1][0][2] == b"3"


def test_a_request_line_that_trickles_in_is_still_read(front: Front) -> None:
    request, _ = upgrade_request("/getCaseCount")
    with connect(front.port) as sock:
        for i in range(0, 40):
            sock.sendall(request[i : i + 1])
            time.sleep(0.005)
        sock.sendall(request[40:])
        head = b"".join(read_until_close(sock, 1.0))
    assert head.startswith(b"HTTP/1.1 101 ")


def test_the_handler_failing_is_a_500_and_the_front_serves_on(
    front: Front, handler: Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(case: int, agent: str) -> str | None:
        raise RuntimeError("no spec loaded")

    monkeypatch.setattr(handler, "run_target", broken)
    answer = http_answer(front.port, upgrade_request("/runCase?case=1&agent=a")[0])
    assert answer.startswith(b"HTTP/1.1 500 ") and b"no spec loaded" in answer
    assert control(front.port, "/getCaseCount")[1][0][2] == b"3"


def test_a_status_that_fails_after_the_101_is_a_close_1011(
    front: Front, handler: Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(case: int, agent: str) -> dict:
        raise RuntimeError("judge crashed")

    monkeypatch.setattr(handler, "case_status", broken)
    _, frames, after = control(front.port, "/getCaseStatus?case=1&agent=a")
    assert len(frames) == 1 and frames[0][0] == 0x88
    assert frames[0][2][:2] == b"\x03\xf3" and b"judge crashed" in frames[0][2]
    assert after == b""


def test_drivers_at_once_each_get_their_own_answers(
    front: Front, handoff_server: ScenarioServer
) -> None:
    """Connections are served on threads of their own: eight drivers at once."""
    results: dict[int, object] = {}

    def driver(i: int) -> None:
        try:
            count = control(front.port, "/getCaseCount")[1][0][2]
            info = json.loads(control(front.port, f"/getCaseInfo?case={1 + i % 3}")[1][0][2])
            with connect(front.port) as sock:
                sock.sendall(upgrade_request(f"/runCase?case=2&agent=d{i}")[0])
                sock.settimeout(5)
                head = sock.recv(12)
            results[i] = (count, info["id"], head)
        except Exception as exc:  # reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=driver, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for i in range(8):
        assert results[i] == (b"3", Handler.CASES[1 + i % 3]["id"], b"HTTP/1.1 101"), results[i]
    for i in range(8):
        assert handoff_server.wait_run(f"front-d{i}-2", 10)["sessions"]


def test_a_connection_over_max_connections_is_closed_at_once(
    handoff_server: ScenarioServer, handler: Handler
) -> None:
    assert handoff_server.handoff is not None
    with Front(handler, handoff_server.handoff, port=0, max_connections=1) as fr:
        # Accepted in order, on one thread: held is being served when extra comes.
        with connect(fr.port) as held:  # silent: served until the head timeout
            with connect(fr.port) as extra:
                extra.settimeout(5)
                assert extra.recv(1) == b""
            held.sendall(upgrade_request("/getCaseCount")[0])
            held.settimeout(5)
            assert held.recv(12) == b"HTTP/1.1 101"
        assert fr.stats.dropped == 1


# ---- the parsers, on hand-made bytes ----------------------------------------------


@pytest.mark.parametrize(
    "data, line",
    [
        (b"", None),
        (b"GET /getCase", None),  # not complete yet
        (b"GET /runCase?case=1&agent=a HTTP/1.1\r\n", ("GET", "/runCase?case=1&agent=a")),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", ("GET", "/")),
    ],
)
def test_parse_request_line(data: bytes, line: tuple[str, str] | None) -> None:
    got = front_mod.parse_request_line(data)
    assert (got.method, got.target) == line if got else line is None


@pytest.mark.parametrize(
    "data",
    [
        b"\x16\x03\x01",  # TLS: refused at the first byte, no wait for a CRLF
        b"GET http://x/ HTTP/1.1\r\n",  # absolute form
        b"GET  / HTTP/1.1\r\n",
        b"GET /\xc3\xa9 HTTP/1.1\r\n",
        b"G" * front_mod.MAX_HEAD,
    ],
)
def test_parse_request_line_refuses(data: bytes) -> None:
    with pytest.raises(front_mod.RequestError) as err:
        front_mod.parse_request_line(data)
    assert err.value.status == 400


def test_next_frame_takes_complete_frames_whole_or_byte_by_byte() -> None:
    wire = masked_frame(0x9, b"hi") + masked_frame(0x1, b"x" * 300) + masked_frame(0x8, b"\x03\xe8")
    want = [(0x9, b"hi"), (0x1, b"x" * 300), (0x8, b"\x03\xe8")]
    for step in (len(wire), 1):
        buf, got = bytearray(), []
        for i in range(0, len(wire), step):
            buf += wire[i : i + step]
            while (frame := front_mod.next_frame(buf)) is not None:
                got.append(frame)
        assert got == want and not buf


# ---- /runCase: handed to the C server -------------------------------------------


def test_run_case_is_played_by_the_c_server_byte_for_byte(
    front: Front, handoff_server: ScenarioServer
) -> None:
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    with connect(front.port) as sock:
        sock.sendall(upgrade_request("/runCase?case=1&agent=raw", key=key)[0])
        data = b""
        deadline = time.monotonic() + 10
        while not data.endswith(MESSAGE_AND_CLOSE) and time.monotonic() < deadline:
            sock.settimeout(5)
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
        sock.sendall(masked_frame(0x8, b"\x03\xe8"))
        data += b"".join(read_until_close(sock))
    head, _, frames = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ")
    assert f"Sec-WebSocket-Accept: {accept_for(key)}".encode() in head
    assert frames == MESSAGE_AND_CLOSE
    run = handoff_server.wait_run("front-raw-1", 10)
    assert run["complete"] and len(run["sessions"]) == 1
    request = next(e for e in run["sessions"][0]["events"] if e["type"] == "http_request")
    assert request["target"] == "/runCase?case=1&agent=raw"
    assert request["routed_target"] == f"/{SCENARIO}?run=front-raw-1"
    assert front.stats.handed_over == 1


def test_run_case_without_a_scenario_server_is_a_503(handler: Handler, tmp_path: Path) -> None:
    with Front(handler, tmp_path / "nobody.sock", port=0) as fr:
        answer = http_answer(fr.port, upgrade_request("/runCase?case=1&agent=a")[0])
    assert answer.startswith(b"HTTP/1.1 503 ")


def test_a_restarted_scenario_server_is_reconnected(handler: Handler, tmp_path: Path) -> None:
    sock_path = handoff_socket_path(tmp_path)
    with Front(handler, sock_path, port=0) as fr:
        for round_ in (1, 2):
            server = ScenarioServer(
                server_binary(), SCENARIOS_DIR, tmp_path / f"log{round_}", handoff=sock_path
            )
            server.start()
            try:
                with connect(fr.port) as sock:
                    sock.sendall(upgrade_request(f"/runCase?case=2&agent=r{round_}")[0])
                    sock.settimeout(5)
                    assert sock.recv(12) == b"HTTP/1.1 101"
            finally:
                assert server.stop() == 0


# ---- the real python-websockets library -------------------------------------------

DRIVER = r"""
import json, sys
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK
from websockets.sync.client import connect

base = sys.argv[1]
out = {}

def one(path):
    with connect(base + path) as ws:
        messages = []
        try:
            while True:
                messages.append(ws.recv(timeout=10))
        except ConnectionClosedOK:
            pass
        return {"messages": messages, "close": ws.close_code, "reason": ws.close_reason}

out["count"] = one("/getCaseCount")
out["info"] = one("/getCaseInfo?case=1")
# /runCase as a driver does it: echo every message until the server closes.
with connect(base + "/runCase?case=1&agent=websockets") as ws:
    echoed = []
    try:
        for message in ws:
            echoed.append(message)
            ws.send(message)
    except ConnectionClosed:
        pass
    out["run"] = {"received": echoed, "close": ws.close_code, "reason": ws.close_reason}
out["status"] = one("/getCaseStatus?case=1&agent=websockets")
out["reports"] = one("/updateReports?agent=websockets")
print(json.dumps(out))
"""


@pytest.mark.e2e
def test_python_websockets_speaks_with_the_front(
    front: Front, handler: Handler, handoff_server: ScenarioServer, tmp_path: Path
) -> None:
    python = ensure_env("websockets", "14.1")
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    result = subprocess.run(
        [str(python), str(script), f"ws://127.0.0.1:{front.port}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["count"] == {"messages": ["3"], "close": 1000, "reason": ""}
    assert json.loads(out["info"]["messages"][0]) == Handler.CASES[1]
    assert out["info"]["close"] == 1000
    assert out["run"] == {"received": ["final message"], "close": 1000, "reason": "bye"}
    assert out["status"] == {"messages": ['{"behavior": "OK"}'], "close": 1000, "reason": ""}
    assert out["reports"] == {"messages": [], "close": 1000, "reason": ""}
    assert handler.reports_written.is_set()
    run = handoff_server.wait_run("front-websockets-1", 10)
    assert run["complete"] and run["sessions"][0]["end"]["reason"] == "complete"
    assert front.stats.answered == {
        "/getCaseCount": 1,
        "/getCaseInfo": 1,
        "/getCaseStatus": 1,
        "/updateReports": 1,
    }


def test_module_constants_match_the_server() -> None:
    """The front refuses targets the server's handoff would refuse (server/handoff.h)."""
    header = (Path(__file__).parents[2] / "server" / "handoff.h").read_text()
    assert f"#define WSR_HANDOFF_TARGET_MAX {front_mod.MAX_ROUTED_TARGET}" in header
