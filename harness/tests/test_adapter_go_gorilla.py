"""go-gorilla end to end: github.com/gorilla/websocket, two pinned versions, the real server.

One `./wsreplay run` takes the founding scenario and its seed family at
v1.5.3 and v1.4.2 (specs written with and without the "v", so both resolve
to the canonical form), one takes the knob scenarios, one runs over TLS.
The installer builds each version once into the cache (about 20 s for the
first Go build on a machine, about 1 s for each further version).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from wsreplay.paths import REPO_ROOT, REPORT_SCHEMA

pytestmark = pytest.mark.e2e

KNOB_SCENARIOS = REPO_ROOT / "harness" / "tests" / "data" / "knob-scenarios"

SPECS = {"go-gorilla@v1.5.3": "v1.5.3", "go-gorilla@1.4.2": "v1.4.2"}

#: The founding scenario and the seed family around it, with what gorilla
#: did at both versions: it delivers everything it has read before the
#: close, and reports a connection that ended without a close frame as
#: CloseError 1006. After an RST the message may or may not have been read.
CATALOGUE = {
    "close/send-then-close": {"pass"},
    "close/send-then-close-gap": {"pass"},
    "close/send-then-close-separate-writes": {"pass"},
    "close/many-then-close": {"pass"},
    "close/send-then-fin": {"pass"},
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


def client_args(specs: dict[str, str]) -> list[str]:
    return [arg for spec in specs for arg in ("--client", spec)]


def test_catalogue_at_two_versions(tmp_path: Path) -> None:
    scenario_args = [arg for name in CATALOGUE for arg in ("--scenario", name)]
    proc, report = wsreplay_run(tmp_path, *client_args(SPECS), *scenario_args)
    resolved = {c["spec"]: c["resolved_version"] for c in report["clients"]}
    assert resolved == SPECS
    assert {c["status"] for c in report["clients"]} == {"ok"}
    assert {c["library"] for c in report["clients"]} == {"github.com/gorilla/websocket"}
    assert len(report["results"]) == len(CATALOGUE) * len(SPECS)
    for record in report["results"]:
        where = (record["scenario"], record["client"], record["reason"])
        assert record["reason"].strip(), where
        assert record["verdict"] in CATALOGUE[record["scenario"]], where
    founding = [r for r in report["results"] if r["scenario"] == "close/send-then-close"]
    for record in founding:
        assert record["observed"]["messages"][0]["text"] == "final message"
        assert record["observed"]["close"] == {"code": 1000, "reason": "bye"}
    assert "PASS" in proc.stdout


def test_knobs(tmp_path: Path) -> None:
    """Every knob of the contract, each in a scenario of its own, all honoured."""
    _, report = wsreplay_run(
        tmp_path, "--scenarios-dir", str(KNOB_SCENARIOS), "--client", "go-gorilla@1.5.3"
    )
    by_name = {r["scenario"]: r for r in report["results"]}
    assert len(by_name) >= 10
    for name, record in by_name.items():
        assert record["verdict"] == "pass", (name, record["reason"])
        assert record["observed"]["unsupported"] == []
    observed = {name: record["observed"] for name, record in by_name.items()}
    assert observed["knobs/subprotocols"]["subprotocol"] == "chat.v1"
    assert observed["knobs/recv-timeout"]["end"] == "timeout"
    assert observed["knobs/max-messages"]["end"] == "max_messages"
    # the adapter waited for the server's close after its own (gorilla's example)
    assert observed["knobs/max-messages"]["close"] == {"code": 1000, "reason": "done"}
    times = [m["t_ms"] for m in observed["knobs/recv-pace"]["messages"]]
    assert all(b - a >= 190 for a, b in zip(times, times[1:])), times
    # close_first with no code is an empty close frame on the wire
    frames = [
        e
        for e in by_name["knobs/close-first-no-code"]["transcript"]["events"]
        if e.get("type") == "frame" and e.get("dir") == "in" and e.get("opcode") == 8
    ]
    assert frames and frames[0]["length"] == 0
    sent = [e for e in observed["knobs/send-ping"]["events"] if e["event"] == "send"]
    assert [e["kind"] for e in sent] == ["ping"]


def test_over_tls(tmp_path: Path) -> None:
    """wss:// with the run's own CA (the job's ca_file) as the only trusted root."""
    _, report = wsreplay_run(
        tmp_path,
        "--transport",
        "wss",
        "--client",
        "go-gorilla@1.5.3",
        "--scenario",
        "close/send-then-close",
        "--scenario",
        "close/many-then-close",
    )
    for record in report["results"]:
        assert record["verdict"] == "pass", (record["scenario"], record["reason"])
        assert record["transport"] == "wss"


def test_unknown_version_names_the_nearest(tmp_path: Path) -> None:
    argv = [str(REPO_ROOT / "wsreplay"), "run", "--out", str(tmp_path)]
    argv += ["--client", "go-gorilla@1.5.9", "--scenario", "close/send-then-close"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "client spec 'go-gorilla@1.5.9'" in proc.stderr
    assert "github.com/gorilla/websocket has no release '1.5.9'" in proc.stderr
    assert "nearest: v1.5.3" in proc.stderr
