"""What the harness's tests share: the `./wsreplay` launcher and one way to run it,
a server that takes handed-over connections (`handoff_server`), and one on the
step scenarios of tests/data (`step_server`).

Test modules import these (``from conftest import WSREPLAY, wsreplay``) rather
than each keeping its own copy; pytest has already imported this module by then.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from wsreplay.build import server_binary
from wsreplay.fuzzingserver.front import handoff_socket_path
from wsreplay.paths import REPO_ROOT, SCENARIOS_DIR
from wsreplay.running.server import ScenarioServer
from wsreplay.running.tlscerts import make_run_certs

#: Small scenarios, one per step option, that tests read on the wire.
STEP_SCENARIOS = Path(__file__).parent / "data" / "step-scenarios"

#: The launcher a user runs, so the tests drive the CLI exactly as people do.
WSREPLAY = str(REPO_ROOT / "wsreplay")


def wsreplay(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``./wsreplay ARGS`` to the end: exit status, stdout and stderr as text.

    ``timeout`` (seconds) bounds a hung command; a run that installs client
    versions on first use needs minutes.
    """
    return subprocess.run([WSREPLAY, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def handoff_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScenarioServer]:
    """A wsreplay-server on the catalogue that also takes connections handed over by a
    front (--handoff), per test module; it must stop cleanly and remove its socket."""
    workdir = tmp_path_factory.mktemp("handoff")
    server = ScenarioServer(
        server_binary(),
        SCENARIOS_DIR,
        workdir / "server.log",
        extra_args=["--linger-ms", "500"],
        handoff=handoff_socket_path(workdir),
    )
    server.start()
    yield server
    code = server.stop()
    assert code == 0, f"wsreplay-server exited with {code}: {server.stderr_text()}"
    assert server.handoff is not None and not server.handoff.exists(), "socket left behind"


@pytest.fixture(scope="module")
def step_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScenarioServer]:
    """A wsreplay-server on STEP_SCENARIOS, over ws:// and wss:// (a run's own
    certificate), transcripts also on disk; per test module, and it must stop cleanly."""
    work = tmp_path_factory.mktemp("steps")
    srv = ScenarioServer(
        server_binary(),
        STEP_SCENARIOS,
        work / "server.log",
        work / "tr",
        certs=make_run_certs(work / "tls", "steps"),
    )
    srv.start()
    yield srv
    assert srv.stop() == 0, srv.stderr_text()
