"""Echo mode on the real wire: python-websockets driven the way an Autobahn driver drives it.

A driver (data/echo-driver/websockets_driver.py: connect, echo every message,
until the server closes) runs against the real server, and judge_echo judges
each session from its transcript alone. The same scenarios run through the
python-websockets adapter and the normal evaluation; where both judge a
scenario, the verdicts must agree. The scenarios cover each kind of echo
plan: awaited echoes, none owed before a failure, round trips, pongs, a refused
handshake, a connection taken, permessage-deflate, TCP closing, and verdicts
other than pass.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import adapter_e2e as e2e
from wsreplay.build import server_binary
from wsreplay.installers.python import ensure_env
from wsreplay.judging.echo import EchoPlan, echo_plan, judge_echo
from wsreplay.judging.evaluate import Verdict
from wsreplay.paths import REPO_ROOT
from wsreplay.running.server import ScenarioServer
from wsreplay.scenarios import load_all

pytestmark = pytest.mark.e2e

DRIVER = Path(__file__).parent / "data" / "echo-driver" / "websockets_driver.py"
#: The release both sides run: the new asyncio implementation, the adapter's default API.
VERSION = "14.1"

#: scenario → the plan part it exercises
SCENARIOS = {
    "close/code-invalid/1005": "an awaited echo, then the client fails the connection",
    "framing/rsv-text/1": "an awaited echo; a bad frame's message must not come back",
    "fragmentation/orphan-continuation-every-byte": "no echo of what a failure ends",
    "utf8/kuhn-1-valid-1": "round trips and a clean close",
    "utf8/kuhn-3.1-unexpected-continuation-3": "invalid UTF-8: close 1007 or 1002",
    "handshake/accept-wrong": "a refused handshake: no frame from the client",
    "handshake/custom-reason-phrase": "a connection taken: its echo",
    "control/ping-126-bytes": "no pong for an invalid ping",
    "control/pings-ten-in-order": "the exact pongs, in order",
    "close/two-close-frames": "who closed TCP first",
    "compression/accept-default-offer": "permessage-deflate negotiated, compressed echoes",
    "compression/rsv1-on-continuation": "fail in both runs",
    "close/close-between-fragments-then-last": "non-strict in both runs",
    "close/server-closes-tcp-first": "a declared plan: the client leaves closing TCP to the server",
    "close/close-frame-split": "a declared plan: a close frame cut in three writes, answered",
}


@pytest.fixture(scope="module")
def echo_verdicts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Verdict]]:
    work = tmp_path_factory.mktemp("echo-wire")
    catalogue = {s["name"]: s for s in load_all(REPO_ROOT / "scenarios")}
    python = ensure_env("websockets", VERSION)
    server = ScenarioServer(server_binary(), REPO_ROOT / "scenarios", work / "server.log")
    server.start(60)
    try:
        runs = {name: f"echo-{i}" for i, name in enumerate(SCENARIOS)}
        urls = [server.url(name, run) for name, run in runs.items()]
        driver = subprocess.run(
            [str(python), str(DRIVER), *urls], capture_output=True, text=True, timeout=300
        )
        assert driver.returncode == 0, driver.stderr
        verdicts = {}
        for name, run in runs.items():
            answer = server.wait_run(run, 15)
            sessions = answer.get("sessions") or []
            problem = None if sessions else "the driver never connected for this case"
            verdicts[name] = judge_echo(catalogue[name], sessions[0] if sessions else None, problem)
        yield verdicts
    finally:
        assert server.stop() == 0, server.stderr_text()


def test_every_scenario_here_has_an_echo_plan() -> None:
    catalogue = {s["name"]: s for s in load_all(REPO_ROOT / "scenarios")}
    for name in SCENARIOS:
        assert isinstance(echo_plan(catalogue[name]), EchoPlan), name


def test_echo_verdicts_agree_with_the_normal_evaluation(
    echo_verdicts: dict[str, Verdict], tmp_path: Path
) -> None:
    args = ["--client", f"python-websockets@{VERSION}", "--jobs", "2"]
    for name in SCENARIOS:
        args += ["--scenario", name]
    _, report = e2e.wsreplay_run(tmp_path / "normal", *args)
    normal = {r["scenario"]: r for r in report["results"]}
    rows = []
    for name in SCENARIOS:
        echo, record = echo_verdicts[name], normal[name]
        rows.append(f"{name:62} normal {record['verdict']:13} echo {echo.verdict}")
        assert echo.verdict == record["verdict"], (name, echo.reason, record["reason"])
    print("\n" + "\n".join(rows))
    # the comparison means something: verdicts other than pass are among them
    assert {"pass", "fail", "non-strict"} <= {v.verdict for v in echo_verdicts.values()}


def test_echo_verdicts_name_what_the_wire_showed(echo_verdicts: dict[str, Verdict]) -> None:
    refused = echo_verdicts["handshake/accept-wrong"]
    assert "the client sent no WebSocket frame" in refused.reason
    failed = echo_verdicts["framing/rsv-text/1"]
    assert failed.reason.startswith("the client echoed the 1 expected message")
    assert "the client sent close 1002" in failed.reason
    for verdict in echo_verdicts.values():
        mode = verdict.checks[-1]
        assert mode.name == "echo_mode" and mode.ok
