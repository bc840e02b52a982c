"""java-okhttp: OkHttp's WebSocket client from Maven Central, end to end.

The seed catalogue at 4.12.0 (okhttp artifact) and 5.3.0 (okhttp-jvm, the
Kotlin multiplatform layout) in one `./wsreplay run`; every knob scenario,
with the two OkHttp cannot honour reported as such; TLS with the run's CA,
and a wrong CA refused; an unknown version. A cold install of one version
takes about 15 s with an empty ~/.m2 (Maven's own plugins included), 8 s
with a warm one; the installer's unit tests are in
test_adapter_java_installer.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from wsreplay.paths import REPO_ROOT, REPORT_SCHEMA
from wsreplay.plugin import ClientPool
from wsreplay.server import ScenarioServer
from wsreplay.tlscerts import make_run_certs

pytestmark = pytest.mark.e2e

KNOB_SCENARIOS = REPO_ROOT / "harness" / "tests" / "data" / "knob-scenarios"

SPECS = {"java-okhttp@4.12.0": "4.12.0", "java-okhttp@5.3.0": "5.3.0"}

#: The founding scenario and its seed family, with what OkHttp did at both
#: versions: every message is delivered; after a FIN or an RST without a
#: close frame OkHttp reports onFailure and no close code at all.
CATALOGUE = {
    "close/send-then-close": {"pass"},
    "close/send-then-close-gap": {"pass"},
    "close/send-then-close-separate-writes": {"pass"},
    "close/many-then-close": {"pass"},
    "close/send-then-fin": {"non-strict"},
    "close/send-then-rst": {"informational", "non-strict"},
    "handshake/coalesced-message": {"pass"},
}

#: OkHttp has no API for these; the adapter says so instead of pretending.
UNSUPPORTED = {
    "knobs/send-ping": "the adapter cannot honour the client knob send=[{'ping': 'are you there'}]",
    "knobs/close-first-no-code": (
        "the adapter cannot honour the client knob close_first={'code': None, 'after_messages': 0}"
    ),
}


def wsreplay_run(
    out: Path, *args: str, schema: bool = True
) -> tuple[subprocess.CompletedProcess, dict]:
    """`./wsreplay run` into ``out``; the report, checked against the schema (for the
    catalogue: the knob scenarios are another helper's and may run ahead of it)."""
    argv = [str(REPO_ROOT / "wsreplay"), "run", "--out", str(out), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads((out / "report.json").read_text())
    if schema:
        jsonschema.validate(report, json.loads(REPORT_SCHEMA.read_text()))
    return proc, report


def client_args(specs: list[str]) -> list[str]:
    return [arg for spec in specs for arg in ("--client", spec)]


def scenario_args(names: list[str]) -> list[str]:
    return [arg for name in names for arg in ("--scenario", name)]


def events(observation: dict, name: str) -> list[dict]:
    return [e for e in observation["events"] if e["event"] == name]


def test_catalogue_at_4x_and_5x(tmp_path: Path) -> None:
    proc, report = wsreplay_run(
        tmp_path, *client_args(list(SPECS)), *scenario_args(list(CATALOGUE))
    )
    assert proc.returncode == 0, proc.stderr  # non-strict/informational do not fail a run
    resolved = {c["spec"]: c["resolved_version"] for c in report["clients"]}
    assert resolved == SPECS
    assert {c["status"] for c in report["clients"]} == {"ok"}
    assert {c["library"] for c in report["clients"]} == {"okhttp"}
    assert len(report["results"]) == len(CATALOGUE) * len(SPECS)
    for record in report["results"]:
        where = (record["scenario"], record["client"], record["reason"])
        assert record["reason"].strip(), where
        assert record["verdict"] in CATALOGUE[record["scenario"]], where
    for record in report["results"]:
        observed = record["observed"]
        if record["scenario"] == "close/send-then-close":
            assert observed["messages"][0]["text"] == "final message"
            assert observed["close"] == {"code": 1000, "reason": "bye"}
            assert events(observed, "closed")[0]["callback"] == "onClosing"
            # recv_delay_ms 100: onOpen held the reader thread that long
            opened = events(observed, "open")[0]["t_ms"]
            assert events(observed, "recv_start")[0]["t_ms"] - opened >= 99
            assert observed["messages"][0]["t_ms"] - opened >= 99
        if record["scenario"] == "close/send-then-fin":
            assert observed["messages"][0]["text"] == "final message"
            assert observed["close"] is None
            assert observed["error"]["type"] == "java.io.EOFException"
            assert record["reason"] == "expected close 1006, but the library reported no close"


def test_knobs(tmp_path: Path) -> None:
    """Every knob scenario: honoured, or reported unsupported with the knob named."""
    _, report = wsreplay_run(
        tmp_path,
        "--scenarios-dir",
        str(KNOB_SCENARIOS),
        "--client",
        "java-okhttp@5.3.0",
        schema=False,
    )
    by_name = {r["scenario"]: r for r in report["results"]}
    assert len(by_name) >= 10
    for name, record in by_name.items():
        if name in UNSUPPORTED:
            assert (record["verdict"], record["reason"]) == ("error", UNSUPPORTED[name])
            assert record["observed"]["end"] == "unsupported"
        else:
            assert record["verdict"] == "pass", (name, record["reason"])
            assert record["observed"]["unsupported"] == []
    observed = {name: record["observed"] for name, record in by_name.items()}
    assert observed["knobs/subprotocols"]["subprotocol"] == "chat.v1"
    assert observed["knobs/recv-timeout"]["end"] == "timeout"
    assert observed["knobs/max-messages"]["end"] == "max_messages"
    assert [e["kind"] for e in events(observed["knobs/send"], "send")] == ["text", "binary"]
    assert len(events(observed["knobs/echo"], "echo")) == 2
    # recv_pace_ms 200: the listener holds each message that long before the next
    times = [m["t_ms"] for m in observed["knobs/recv-pace"]["messages"]]
    assert len(times) == 3 and all(b - a >= 195 for a, b in zip(times, times[1:])), times
    close_call = events(observed["knobs/close-first-after-messages"], "close_call")[0]
    assert (close_call["by"], close_call["code"], close_call["accepted"]) == (
        "close_first",
        4001,
        True,
    )
    after_ms = events(observed["knobs/close-first-after-ms"], "close_call")[0]
    assert after_ms["by"] == "close_first" and after_ms["t_ms"] >= 299


def test_over_tls(tmp_path: Path) -> None:
    """wss:// with the run's own CA (the job's ca_file) as the only trusted root."""
    _, report = wsreplay_run(
        tmp_path,
        "--transport",
        "wss",
        *client_args(list(SPECS)),
        *scenario_args(["close/send-then-close", "close/many-then-close"]),
    )
    assert len(report["results"]) == 4
    for record in report["results"]:
        assert record["verdict"] == "pass", (record["scenario"], record["reason"])
        assert record["transport"] == "wss"


def test_a_foreign_ca_is_refused(
    tmp_path: Path, wsreplay_server: ScenarioServer, wsreplay_clients: ClientPool
) -> None:
    """The adapter trusts exactly the job's CA: another CA's file fails the handshake."""
    adapter, _, error = wsreplay_clients.get("java-okhttp@5.3.0")
    assert adapter is not None, error
    other = make_run_certs(tmp_path / "other", "other")
    job = {
        "id": "foreign-ca",
        "url": wsreplay_server.url("close/send-then-close", "java-okhttp-foreign-ca", tls=True),
        "knobs": {},
        "ca_file": str(other.ca_file),
        "deadline_ms": 8000,
    }
    outcome = adapter.run_job(job, 20)
    assert outcome.error is None, outcome.error
    observed = outcome.observation
    assert (observed["connected"], observed["end"]) == (False, "connect_failed")
    assert observed["error"]["type"] == "javax.net.ssl.SSLHandshakeException"


def test_unknown_and_too_old_versions(tmp_path: Path) -> None:
    argv = [str(REPO_ROOT / "wsreplay"), "run", "--out", str(tmp_path)]
    argv += ["--client", "java-okhttp@4.12.9", "--scenario", "close/send-then-close"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert (
        "client spec 'java-okhttp@4.12.9': com.squareup.okhttp3:okhttp has no release '4.12.9'; "
        "nearest:" in proc.stderr
    )
    assert "4.12.0" in proc.stderr and "alpha" not in proc.stderr
    argv[-3] = "java-okhttp@3.4.2"
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "java-okhttp needs com.squareup.okhttp3:okhttp >= 3.5.0" in proc.stderr
