"""Every scenario in the catalogue runs against the newest python-websockets, twice.

The first run is over ws://, the second over wss:// (TLS with a certificate
made for the run). Each pair must end with a verdict and a reason, both
reports must validate against results/report.schema.json, and the second
run must give every scenario the same verdict as the first: the catalogue is
deterministic, and its scenarios mean the same over either transport.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from conftest import WSREPLAY
from wsreplay.paths import REPORT_SCHEMA, SCENARIOS_DIR
from wsreplay.scenarios import load_all, select_run

pytestmark = pytest.mark.e2e

VERDICTS = ("pass", "fail", "non-strict", "informational", "error")


def run_catalogue(out: Path, transport: str) -> tuple[dict, str]:
    proc = subprocess.run(
        [WSREPLAY, "run", "--transport", transport, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, json.loads(REPORT_SCHEMA.read_text()))
    return report, proc.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, str]]:
    root = tmp_path_factory.mktemp("catalogue")
    return {t: run_catalogue(root / t, t) for t in ("ws", "wss")}


def test_the_catalogue_has_sixty_scenarios_or_more() -> None:
    assert len(load_all(SCENARIOS_DIR)) >= 60


@pytest.mark.parametrize("transport", ["ws", "wss"])
def test_every_scenario_gets_a_verdict_and_a_reason(
    runs: dict[str, tuple[dict, str]], transport: str
) -> None:
    report, stderr = runs[transport]
    # the default run leaves the scenarios tagged slow out
    scenarios = select_run(load_all(SCENARIOS_DIR), [], [], False)
    assert sorted(r["scenario"] for r in report["results"]) == [s["name"] for s in scenarios]
    tls_only = {s["name"] for s in scenarios if s.get("transport") == "wss"}
    for record in report["results"]:
        assert record["verdict"] in VERDICTS
        assert record["reason"].strip()
        # the newest release runs every scenario to a judgement about the library
        assert record["verdict"] != "error", (record["scenario"], record["reason"])
        assert record["transcript"] is not None
        wanted = "wss" if transport == "wss" or record["scenario"] in tls_only else "ws"
        assert record["transport"] == wanted, record["scenario"]
    assert report["clients"][0]["status"] == "ok"
    # progress went to stderr, one line per pair
    assert stderr.count("python-websockets") >= len(scenarios)


def test_the_second_run_gives_the_same_verdicts(runs: dict[str, tuple[dict, str]]) -> None:
    first = {r["scenario"]: r["verdict"] for r in runs["ws"][0]["results"]}
    second = {r["scenario"]: r["verdict"] for r in runs["wss"][0]["results"]}
    assert first == second
