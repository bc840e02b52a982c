"""The server out of file descriptors: it rests, it does not spin, it recovers.

With RLIMIT_NOFILE low, clients beyond what the server can accept wait in
the listen backlog. accept() fails with EMFILE while they do, and a
listener that only logs would be called back at once, forever: a busy loop
and a log that grows by megabytes a second. The server must instead pause
its listener, say so a few times, and serve again once descriptors free up.
"""

from __future__ import annotations

import json
import resource
import shutil
import socket
import subprocess
import time
from pathlib import Path

from rawpeer import read_until_close, upgrade_request
from wsreplay.build import server_binary
from wsreplay.paths import SCENARIOS_DIR
from wsreplay.running.linereader import LineReader

SCENARIO = "close/send-then-close"
DESCRIPTORS = 24  # what the server may hold: its own handful plus a few clients
CLIENTS = 40  # more than it can take


def _low_nofile() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (DESCRIPTORS, DESCRIPTORS))


def test_out_of_descriptors_the_listener_rests_and_then_serves_again(tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios" / "close"
    scenarios.mkdir(parents=True)
    shutil.copy(SCENARIOS_DIR / f"{SCENARIO}.json", scenarios)
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(server_binary()), "--scenarios", str(tmp_path / "scenarios"), "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            preexec_fn=_low_nofile,
        )
    clients: list[socket.socket] = []
    try:
        assert proc.stdout is not None
        line, problem = LineReader(proc.stdout.fileno()).readline(15.0)
        assert line is not None, f"no listening line ({problem}): {log_path.read_text()}"
        port = int(json.loads(line)["port"])
        for _ in range(CLIENTS):
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(2.5)  # long enough for a spinning listener to log thousands of lines
        refusals = log_path.read_text().count("accept:")
        assert 1 <= refusals <= 10, f"{refusals} accept errors logged in 2.5 s"
        assert proc.poll() is None, "the server died of descriptor exhaustion"

        for sock in clients:
            sock.close()
        clients.clear()
        # The backlog drains as the idle sessions end; a new client is served.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(upgrade_request(f"/{SCENARIO}")[0])
            data = b"".join(read_until_close(sock, timeout=10))
        assert b" 101 " in data.split(b"\r\n", 1)[0], data[:200]
        assert b"final message" in data
    finally:
        for sock in clients:
            sock.close()
        proc.terminate()
        proc.wait(timeout=10)
