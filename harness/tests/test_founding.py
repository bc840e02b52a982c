"""The founding case: websockets 14.0 loses the message sent right before the close.

13.1 (legacy client by default) and 14.1 deliver it; 14.0 (new asyncio
client by default) does not. Real libraries from PyPI, the real server.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from conftest import WSREPLAY
from wsreplay.paths import REPORT_SCHEMA

pytestmark = pytest.mark.e2e

SCENARIO = "close/send-then-close"
EXPECTED = {
    "python-websockets@13.1": "pass",
    "python-websockets@14.0": "fail",
    "python-websockets@14.1": "pass",
}
REPEATS = 20


@pytest.mark.parametrize("transport", ["ws", "wss"])
def test_one_command_shows_the_regression(tmp_path: Path, transport: str) -> None:
    argv = [WSREPLAY, "run", "--scenario", SCENARIO, "--out", str(tmp_path)]
    argv += ["--transport", transport]
    for spec in EXPECTED:
        argv += ["--client", spec]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 1, proc.stderr  # a fail verdict makes the run fail
    report = json.loads((tmp_path / "report.json").read_text())
    jsonschema.validate(report, json.loads(REPORT_SCHEMA.read_text()))
    verdicts = {r["client"]: r["verdict"] for r in report["results"]}
    assert verdicts == EXPECTED
    assert {r["transport"] for r in report["results"]} == {transport}
    if transport == "wss":  # the server really spoke TLS to each client
        assert all(r["transcript"]["transport"] == "wss" for r in report["results"])
    resolved = {c["spec"]: c["resolved_version"] for c in report["clients"]}
    assert resolved == {spec: spec.split("@")[1] for spec in EXPECTED}
    reason = next(r["reason"] for r in report["results"] if r["client"].endswith("14.0"))
    assert "'final message' was not received" in reason
    assert "although the close (1000 'bye') was" in reason
    # the matrix on stdout shows the three verdicts
    assert "PASS" in proc.stdout and "FAIL" in proc.stdout


@pytest.mark.parametrize("transport", ["ws", "wss"])
@pytest.mark.parametrize("spec", list(EXPECTED))
def test_same_verdict_twenty_times(
    spec: str, transport: str, wsreplay_run_scenario: Callable[..., dict]
) -> None:
    verdicts = Counter(
        wsreplay_run_scenario(SCENARIO, spec, transport)["verdict"] for _ in range(REPEATS)
    )
    assert verdicts == Counter({EXPECTED[spec]: REPEATS})
