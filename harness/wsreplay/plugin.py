"""pytest plugin: a session-scoped scenario server and real client adapters.

Load it with `-p wsreplay.plugin` (pytest.ini at the repository root does).
Every fixture can be overridden by a conftest.py of the same name, e.g.
`wsreplay_scenarios_dir` to serve another catalogue. Work files go to a
per-worker temporary folder, so `pytest -n auto` works.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .build import server_binary
from .contract import ReportRecord, Scenario
from .paths import SCENARIOS_DIR
from .running.adapterproc import AdapterProcess, launch, safe_name
from .running.server import ScenarioServer
from .running.tlscerts import make_run_certs
from .scenarios import load_all


class ClientPool:
    """One adapter process per client spec, shared by a whole test session."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.clients: dict[str, tuple[AdapterProcess | None, str | None, str | None]] = {}

    def get(self, spec_text: str) -> tuple[AdapterProcess | None, str | None, str | None]:
        """(adapter, resolved version, error); the error is set when it could not start."""
        from .clients import parse_spec, prepare  # installs only when a test asks

        if spec_text not in self.clients:
            prepared = prepare(parse_spec(spec_text), log=lambda _line: None)
            log_path = self.workdir / f"{safe_name(spec_text)}.stderr.log"
            adapter, ready, error = launch(spec_text, prepared.argv, prepared.env, log_path)
            self.clients[spec_text] = (
                adapter,
                ready.get("version", prepared.resolved_version),
                error,
            )
        return self.clients[spec_text]

    def close(self) -> None:
        for adapter, _, _ in self.clients.values():
            if adapter is not None:
                adapter.close()


@pytest.fixture(scope="session")
def wsreplay_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of this test session (per xdist worker) for logs and transcripts."""
    return tmp_path_factory.mktemp("wsreplay")


@pytest.fixture(scope="session")
def wsreplay_scenarios_dir() -> Path:
    return SCENARIOS_DIR


@pytest.fixture(scope="session")
def wsreplay_server_args() -> list[str]:
    """Extra wsreplay-server options; override to tune limits in a test module."""
    return []


@pytest.fixture(scope="session")
def wsreplay_server(
    wsreplay_workdir: Path,
    wsreplay_scenarios_dir: Path,
    wsreplay_server_args: list[str],
) -> Iterator[ScenarioServer]:
    server = ScenarioServer(
        server_binary(),
        wsreplay_scenarios_dir,
        wsreplay_workdir / "server.log",
        wsreplay_workdir / "transcripts",
        wsreplay_server_args,
        certs=make_run_certs(wsreplay_workdir / "tls", wsreplay_workdir.name),
    )
    server.start()
    yield server
    code = server.stop()
    # A server that died during the session must fail loudly, with its log.
    assert code == 0, f"wsreplay-server exited with {code}: {server.stderr_text()}"


@pytest.fixture(scope="session")
def wsreplay_clients(wsreplay_workdir: Path) -> Iterator[ClientPool]:
    pool = ClientPool(wsreplay_workdir / "adapters")
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def wsreplay_catalogue(wsreplay_scenarios_dir: Path) -> dict[str, Scenario]:
    return {s["name"]: s for s in load_all(wsreplay_scenarios_dir)}


_tags = itertools.count(1)


@pytest.fixture
def wsreplay_run_scenario(
    wsreplay_server: ScenarioServer,
    wsreplay_clients: ClientPool,
    wsreplay_catalogue: dict[str, Scenario],
    request: pytest.FixtureRequest,
) -> Callable[[str, str], ReportRecord]:
    """run(scenario_name, client_spec, transport="ws") -> the report record for that pair."""

    from .running.runner import run_one

    def run(scenario_name: str, client_spec: str, transport: str = "ws") -> ReportRecord:
        adapter, resolved, error = wsreplay_clients.get(client_spec)
        safe = "".join(c if c.isalnum() else "-" for c in request.node.name)[:60]
        tag = f"t{next(_tags)}-{safe}"
        scenario = wsreplay_catalogue[scenario_name]
        return run_one(
            wsreplay_server, adapter, client_spec, resolved, scenario, tag, error, transport
        )

    return run
