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

import pytest

import adapter_e2e as e2e
from wsreplay import clients

pytestmark = pytest.mark.e2e

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


def test_catalogue_across_the_module_move(tmp_path: Path) -> None:
    proc, report = e2e.wsreplay_run(
        tmp_path, *e2e.client_args(SPECS), *e2e.scenario_args(CATALOGUE)
    )
    clients_seen = {c["spec"]: c for c in report["clients"]}
    for spec, (version, module) in SPECS.items():
        assert clients_seen[spec]["status"] == "ok"
        assert clients_seen[spec]["resolved_version"] == version
        # the ready line names the module linked into the binary
        assert clients_seen[spec]["library"] == module
    e2e.assert_catalogue_verdicts(report, CATALOGUE, SPECS)
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
    runnable = [n for n in e2e.knob_scenario_names() if n != "knobs/send-ping"]
    _, report = e2e.wsreplay_run(
        tmp_path,
        "--scenarios-dir",
        str(e2e.KNOB_SCENARIOS),
        *e2e.client_args(SPECS),
        *e2e.scenario_args(runnable),
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
            e2e.assert_paced(observed, 190)
        if record["scenario"] == "knobs/close-first-after-messages":
            e2e.close_first_call(observed, 4001)


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
    e2e.assert_passes_over_tls(tmp_path, SPECS)


@pytest.mark.parametrize(
    "version, message",
    [
        ("1.8.99", "github.com/coder/websocket (or its former path nhooyr.io/websocket)"),
        ("1.6.5", "go-coder needs github.com/coder/websocket >= v1.7.0"),
    ],
)
def test_unusable_versions_are_refused(tmp_path: Path, version: str, message: str) -> None:
    stderr = e2e.refused_spec_stderr(tmp_path, f"go-coder@{version}")
    assert message in stderr
    if version == "1.8.99":
        assert "has no release '1.8.99'; nearest: v1.8.15, v1.8.14" in stderr
