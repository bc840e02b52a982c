"""Waiting for a job's transcript: one long poll, no timer loop.

`ScenarioServer.wait_run` asks `GET /_runs/RUN?wait_ms=N` once; the server
answers the moment the run's last session ends, or when N ms have passed.
The tests count the HTTP requests the harness makes (a polling loop makes
one every 20 ms), with a session that lasts exactly until the test ends it
(`w/hold` of the server's wire tests: it awaits the client's FIN). Then real
clients run a few scenarios, and their verdicts are the ones the 20 ms poll
gave.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from conftest import WSREPLAY
from rawpeer import connect, read_http_head, read_until_close, upgrade_request
from wsreplay.build import server_binary
from wsreplay.paths import REPO_ROOT
from wsreplay.running.runner import _fetch_transcript
from wsreplay.running.server import ScenarioServer, evicted_problem

WIRE_SCENARIOS = REPO_ROOT / "server" / "tests" / "wire"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScenarioServer]:
    work = tmp_path_factory.mktemp("wait-run")
    srv = ScenarioServer(server_binary(), WIRE_SCENARIOS, work / "server.log")
    srv.start()
    yield srv
    code = srv.stop()
    assert code == 0, f"server exit {code}; log:\n{srv.stderr_text()}"
    assert "ERROR: AddressSanitizer" not in srv.stderr_text()


class CountingConnection(http.client.HTTPConnection):
    """http.client's connection, noting the target of every request made."""

    targets: ClassVar[list[str]] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> None:
        CountingConnection.targets.append(url)
        super().request(method, url, *args, **kwargs)


@pytest.fixture
def requests_made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    CountingConnection.targets = []
    monkeypatch.setattr(http.client, "HTTPConnection", CountingConnection)
    return CountingConnection.targets


def one_long_poll(targets: list[str], run: str) -> bool:
    """The harness asked once, with a wait: GET /_runs/RUN?wait_ms=N."""
    return len(targets) == 1 and re.fullmatch(rf"/_runs/{run}\?wait_ms=\d+", targets[0]) is not None


def hold_session(server: ScenarioServer, run: str) -> socket.socket:
    """A live session tagged run; it ends when the socket half-closes."""
    assert server.info is not None
    sock = connect(server.info.port)
    sock.sendall(upgrade_request(f"/w/hold?run={run}")[0])
    head, _ = read_http_head(sock)
    assert head.startswith(b"HTTP/1.1 101 ")
    return sock


def end_session(sock: socket.socket) -> None:
    sock.shutdown(socket.SHUT_WR)
    read_until_close(sock)
    sock.close()


def test_wait_run_is_one_request_answered_when_the_session_ends(
    server: ScenarioServer, requests_made: list[str]
) -> None:
    sock = hold_session(server, "wr-1")
    answers: list[dict] = []
    waiter = threading.Thread(target=lambda: answers.append(server.wait_run("wr-1", 30)))
    waiter.start()
    # Not a timing assertion: the answer is the same either way; this only
    # lets the request reach the server before the session ends, as in a run.
    time.sleep(0.3)
    end_session(sock)
    waiter.join(35)
    assert not waiter.is_alive()
    (answer,) = answers
    assert answer["complete"] is True
    (tr,) = answer["sessions"]
    assert tr["scenario"] == "w/hold"
    assert tr["end"]["reason"] == "complete"
    assert [e["type"] for e in tr["events"]][-3:] == ["steps_done", "tcp_shutdown", "closed"]
    assert one_long_poll(requests_made, "wr-1")


def test_wait_run_that_times_out_returns_the_run_as_it_stands(
    server: ScenarioServer, requests_made: list[str]
) -> None:
    sock = hold_session(server, "wr-2")
    try:
        answer = server.wait_run("wr-2", 0.4)
        assert answer["complete"] is False
        (tr,) = answer["sessions"]  # the live one
        assert tr["scenario"] == "w/hold" and tr["complete"] is False and tr["end"] is None
        # a loop polling every 20 ms would have asked about 20 times
        assert one_long_poll(requests_made, "wr-2")
    finally:
        end_session(sock)
    assert server.wait_run("wr-2", 10)["complete"] is True


def test_wait_run_for_a_job_that_never_connected(
    server: ScenarioServer, requests_made: list[str]
) -> None:
    """As before: no session is not complete; the wait ends by its timeout."""
    answer = server.wait_run("wr-never", 0.3)
    assert answer == {"run": "wr-never", "complete": False, "sessions": []}
    assert one_long_poll(requests_made, "wr-never")


def small_ring_server(work: Path, max_bytes: int) -> ScenarioServer:
    srv = ScenarioServer(
        server_binary(),
        WIRE_SCENARIOS,
        work / "server.log",
        extra_args=["--runs-max-bytes", str(max_bytes)],
    )
    srv.start()
    return srv


def test_an_evicted_run_is_complete_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Room for two w/hold transcripts (about 1.2 KB each): the third evicts the first.

    Before, the evicted run answered complete: false until the wait ran out,
    and the harness reported a timeout-like "no connection" for a job whose
    client had connected.
    """
    srv = small_ring_server(tmp_path, 3000)
    try:
        for run in ("ev-1", "ev-2", "ev-3"):
            end_session(hold_session(srv, run))
            assert srv.wait_run(run, 10)["complete"] is True
        requests_made: list[str] = []
        CountingConnection.targets = requests_made
        monkeypatch.setattr(http.client, "HTTPConnection", CountingConnection)
        answer = srv.wait_run("ev-1", 30)
        assert answer == {"run": "ev-1", "complete": True, "evicted": True, "sessions": []}
        assert one_long_poll(requests_made, "ev-1")
        kept = srv.wait_run("ev-3", 10)
        assert "evicted" not in kept and len(kept["sessions"]) == 1
        transcript, problem = _fetch_transcript(srv, "ev-1")
        assert transcript is None
        assert problem == evicted_problem("ev-1")
        assert "evicted this run's transcript (run ev-1)" in problem
        assert "--runs-max-bytes" in problem
    finally:
        assert srv.stop() == 0
    assert "/_runs ring: 2 transcripts kept" in srv.stderr_text()
    assert "1 evicted (1 for the byte cap)" in srv.stderr_text()


def test_a_transcript_larger_than_the_ring_is_dropped_and_counted(tmp_path: Path) -> None:
    srv = small_ring_server(tmp_path, 100)
    try:
        end_session(hold_session(srv, "huge-1"))
        answer = srv.wait_run("huge-1", 10)
        assert answer == {"run": "huge-1", "complete": True, "evicted": True, "sessions": []}
        assert _fetch_transcript(srv, "huge-1") == (None, evicted_problem("huge-1"))
    finally:
        assert srv.stop() == 0
    log = srv.stderr_text()
    assert "is larger than the /_runs ring's cap (--runs-max-bytes 100): not kept" in log
    assert "0 transcripts kept" in log and "1 not kept (larger than the cap)" in log


@pytest.mark.parametrize("query", ["wait_ms=soon", "wait_ms=60001", "wait_ms=", "wait_ms=-1"])
def test_bad_wait_ms_is_a_400_naming_it(server: ScenarioServer, query: str) -> None:
    assert server.info is not None
    conn = http.client.HTTPConnection(server.info.host, server.info.port, timeout=5)
    conn.request("GET", f"/_runs/wr-3?{query}")
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    assert resp.status == 400
    assert b"wait_ms" in body


# Verdicts the 20 ms poll gave for these pairs (5 runs each, no mixed
# outcome); the long poll must give the same.
E2E_VERDICTS = {
    ("client-close/reply-delayed", "python-websockets@14.0"): "pass",
    ("client-close/server-never-replies", "python-websockets@14.0"): "pass",
    ("close/close-then-rst", "python-websockets@14.0"): "non-strict",
    ("close/send-then-close", "python-websockets@14.0"): "fail",
    ("handshake/truncated-response-then-fin", "python-websockets@14.0"): "pass",
    ("tls/close-handshake-then-fin-no-close-notify", "python-websockets@14.0"): "fail",
    ("client-close/reply-delayed", "python-websockets@17.4"): "pass",
    ("client-close/server-never-replies", "python-websockets@17.4"): "pass",
    ("close/close-then-rst", "python-websockets@17.4"): "pass",
    ("close/send-then-close", "python-websockets@17.4"): "pass",
    ("handshake/truncated-response-then-fin", "python-websockets@17.4"): "pass",
    ("tls/close-handshake-then-fin-no-close-notify", "python-websockets@17.4"): "pass",
}


@pytest.mark.e2e
def test_real_clients_get_the_verdicts_the_poll_gave(tmp_path: Path) -> None:
    argv = [WSREPLAY, "run", "--out", str(tmp_path)]
    for scenario in sorted({s for s, _ in E2E_VERDICTS}):
        argv += ["--scenario", scenario]
    for client in sorted({c for _, c in E2E_VERDICTS}):
        argv += ["--client", client]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 1, proc.stderr  # two fail verdicts
    report = json.loads((tmp_path / "report.json").read_text())
    verdicts = {(r["scenario"], r["client"]): r["verdict"] for r in report["results"]}
    assert verdicts == E2E_VERDICTS
    for r in report["results"]:  # every transcript came back, its session ended
        assert r["transcript"]["end"]["reason"], r["scenario"]
