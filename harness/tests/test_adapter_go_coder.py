"""go-coder end to end: coder/websocket and its former path nhooyr.io/websocket.

One `./wsreplay run` takes the founding scenario and its seed family at
v1.8.7 (built from nhooyr.io/websocket) and v1.8.15 (built from
github.com/coder/websocket): the module-path switch by version is part of
the test. Then the knob scenarios at both versions, TLS, the unsupported
ping, and the error for a version neither path has.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from wsreplay import clients
from wsreplay.paths import REPO_ROOT, REPORT_SCHEMA

pytestmark = pytest.mark.e2e

KNOB_SCENARIOS = REPO_ROOT / "harness" / "tests" / "data" / "knob-scenarios"

#: spec -> (resolved version, module it must be built from)
SPECS = {
    "go-coder@1.8.7": ("v1.8.7", "nhooyr.io/websocket"),
    "go-coder@v1.8.15": ("v1.8.15", "github.com/coder/websocket"),
}

#: What the library did at both versions. It never reports a close code for
#: a connection that ended without a close frame (CloseStatus says -1, no
#: 1006), which the seed scenarios judge non-strict / informational.
CATALOGUE = {
    "close/send-then-close": {"pass"},
    "close/send-then-close-gap": {"pass"},
    "close/send-then-close-separate-writes": {"pass"},
    "close/many-then-close": {"pass"},
    "close/send-then-fin": {"non-strict"},
    "close/send-then-rst": {"informational", "non-strict"},
    "handshake/coalesced-message": {"pass"},
}


def wsreplay_run(out: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    argv = [str(REPO_ROOT / "wsreplay"), "run", "--out", str(out), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, json.loads(REPORT_SCHEMA.read_text()))
    return proc, report


def client_args() -> list[str]:
    return [arg for spec in SPECS for arg in ("--client", spec)]


def test_catalogue_across_the_module_move(tmp_path: Path) -> None:
    scenario_args = [arg for name in CATALOGUE for arg in ("--scenario", name)]
    proc, report = wsreplay_run(tmp_path, *client_args(), *scenario_args)
    clients_seen = {c["spec"]: c for c in report["clients"]}
    for spec, (version, module) in SPECS.items():
        assert clients_seen[spec]["status"] == "ok"
        assert clients_seen[spec]["resolved_version"] == version
        # the ready line names the module linked into the binary
        assert clients_seen[spec]["library"] == module
    assert len(report["results"]) == len(CATALOGUE) * len(SPECS)
    for record in report["results"]:
        where = (record["scenario"], record["client"], record["reason"])
        assert record["reason"].strip(), where
        assert record["verdict"] in CATALOGUE[record["scenario"]], where
    for record in report["results"]:
        if record["scenario"] == "close/send-then-fin":
            # the message arrived; the end is an EOF error with no close code
            observed = record["observed"]
            assert observed["messages"][0]["text"] == "final message"
            assert observed["close"] is None
            assert observed["end"] == "error"
            assert "EOF" in observed["error"]["message"]
    assert "PASS" in proc.stdout


def test_knobs_at_both_versions(tmp_path: Path) -> None:
    """Every knob but a ping in `send` (no API for a chosen payload) is honoured."""
    names = sorted(
        p.relative_to(KNOB_SCENARIOS).with_suffix("").as_posix()
        for p in KNOB_SCENARIOS.rglob("*.json")
    )
    runnable = [n for n in names if n != "knobs/send-ping"]
    scenario_args = [arg for name in runnable for arg in ("--scenario", name)]
    _, report = wsreplay_run(
        tmp_path, "--scenarios-dir", str(KNOB_SCENARIOS), *client_args(), *scenario_args
    )
    assert len(report["results"]) == len(runnable) * len(SPECS)
    for record in report["results"]:
        where = (record["scenario"], record["client"], record["reason"])
        assert record["verdict"] == "pass", where
        assert record["observed"]["unsupported"] == [], where
        observed = record["observed"]
        if record["scenario"] == "knobs/subprotocols":
            assert observed["subprotocol"] == "chat.v1"
        if record["scenario"] == "knobs/recv-timeout":
            assert observed["end"] == "timeout"
            assert "deadline exceeded" in observed["error"]["message"]
        if record["scenario"] == "knobs/recv-pace":
            times = [m["t_ms"] for m in observed["messages"]]
            assert all(b - a >= 190 for a, b in zip(times, times[1:])), times
        if record["scenario"] == "knobs/close-first-after-messages":
            calls = [e for e in observed["events"] if e["event"] == "close_call"]
            assert calls[0]["by"] == "close_first" and calls[0]["code"] == 4001


def run_adapter(spec: str, jobs: list[dict]) -> tuple[dict, list[dict]]:
    """Start a prepared adapter, give it jobs, return its ready line and observations."""
    prepared = clients.prepare(spec)
    lines = "".join(json.dumps(job) + "\n" for job in jobs)
    proc = subprocess.run(
        prepared.argv, input=lines, capture_output=True, text=True, timeout=60, check=True
    )
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    return out[0], out[1:]


def test_send_ping_is_reported_unsupported() -> None:
    job = {
        "id": "p",
        "url": "ws://127.0.0.1:9/never-dialled",
        "knobs": {"send": [{"text": "a"}, {"ping": "are you there"}]},
    }
    ready, (observation,) = run_adapter("go-coder@1.8.15", [job])
    assert ready["event"] == "ready" and ready["version"] == "v1.8.15"
    assert observation["end"] == "unsupported"
    assert observation["unsupported"] == ["send"]
    assert observation["connected"] is False


def test_over_tls(tmp_path: Path) -> None:
    _, report = wsreplay_run(
        tmp_path,
        "--transport",
        "wss",
        *client_args(),
        "--scenario",
        "close/send-then-close",
        "--scenario",
        "close/many-then-close",
    )
    assert len(report["results"]) == 2 * len(SPECS)
    for record in report["results"]:
        assert record["verdict"] == "pass", (record["scenario"], record["reason"])
        assert record["transport"] == "wss"


@pytest.mark.parametrize(
    "version, message",
    [
        ("1.8.99", "github.com/coder/websocket (or its former path nhooyr.io/websocket)"),
        ("1.6.5", "go-coder needs github.com/coder/websocket >= v1.7.0"),
    ],
)
def test_unusable_versions_are_refused(tmp_path: Path, version: str, message: str) -> None:
    argv = [str(REPO_ROOT / "wsreplay"), "run", "--out", str(tmp_path)]
    argv += ["--client", f"go-coder@{version}", "--scenario", "close/send-then-close"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    if version == "1.8.99":
        assert "has no release '1.8.99'; nearest: v1.8.15, v1.8.14" in proc.stderr
