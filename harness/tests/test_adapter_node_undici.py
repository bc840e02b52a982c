"""node-undici: undici's WHATWG WebSocket in Node, real releases from the npm registry.

One `./wsreplay run` takes the founding scenario and its seed family at two
pinned versions (6.21.3 and 7.16.0: 7.12+ exports `ping`), plus two
catalogue scenarios that show what the adapter reports as a fact rather
than an error: a close code the WHATWG API refuses, and an exception undici
7.16 throws from its own callback. Then the knob scenarios at both
versions, TLS through the constructor's dispatcher (7.16.0) and through the
global dispatcher (5.22.0, before the constructor took one), and the choice
of "newest" on this machine's Node.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from wsreplay import clients
from wsreplay.clients import SpecError, check_version_range
from wsreplay.installers import node as node_installer
from wsreplay.paths import REPO_ROOT, REPORT_SCHEMA

KNOB_SCENARIOS = REPO_ROOT / "harness" / "tests" / "data" / "knob-scenarios"

SPECS = {"node-undici@6.21.3": "6.21.3", "node-undici@7.16.0": "7.16.0"}

#: What undici did at both versions. With the application busy (recv_delay_ms),
#: undici does not read the socket either; afterwards it delivers everything.
CATALOGUE = {
    "close/send-then-close": {"pass"},
    "close/send-then-close-gap": {"pass"},
    "close/send-then-close-separate-writes": {"pass"},
    "close/many-then-close": {"pass"},
    "close/send-then-fin": {"pass"},
    "close/send-then-rst": {"pass", "non-strict", "informational"},
    "handshake/coalesced-message": {"pass"},
    # a 101 with a subprotocol nobody offered: both refuse it (7.16 by throwing)
    "handshake/subprotocol-unrequested": {"pass"},
}


def wsreplay_run(out: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    argv = [str(REPO_ROOT / "wsreplay"), "run", "--out", str(out), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, json.loads(REPORT_SCHEMA.read_text()))
    return proc, report


def client_args(specs: list[str]) -> list[str]:
    return [arg for spec in specs for arg in ("--client", spec)]


def scenario_args(names: list[str]) -> list[str]:
    return [arg for name in names for arg in ("--scenario", name)]


def events(observation: dict, name: str) -> list[dict]:
    return [e for e in observation["events"] if e["event"] == name]


def test_versions_without_websocket_are_refused_before_install() -> None:
    info = clients.ADAPTERS["node-undici"]
    with pytest.raises(SpecError) as caught:
        check_version_range(info, "5.14.0")
    assert str(caught.value) == (
        "node-undici needs undici >= 5.15.0; 5.14.0 has no WebSocket (undici added it in 5.15.0)"
    )
    check_version_range(info, "5.15.0")


@pytest.mark.e2e
def test_newest_is_the_newest_this_node_runs() -> None:
    """undici 8 wants Node >= 22.19; on an older Node "newest" is the newest 7.x."""
    newest = node_installer.INSTALLER.resolve(clients.ADAPTERS["node-undici"], None)
    node = node_installer.version_key(node_installer.node_version())[1]
    if node < (22, 19, 0):
        assert newest.startswith("7."), newest
    assert not node_installer.is_prerelease(newest)


@pytest.mark.e2e
def test_catalogue_at_two_versions(tmp_path: Path) -> None:
    args = [*client_args(list(SPECS)), *scenario_args(list(CATALOGUE))]
    proc, report = wsreplay_run(tmp_path, *args)
    resolved = {c["spec"]: c["resolved_version"] for c in report["clients"]}
    assert resolved == SPECS
    assert {c["status"] for c in report["clients"]} == {"ok"}
    assert {c["library"] for c in report["clients"]} == {"undici"}
    assert len(report["results"]) == len(CATALOGUE) * len(SPECS)
    records = {(r["scenario"], r["client"]): r for r in report["results"]}
    for (scenario, client), record in records.items():
        where = (scenario, client, record["reason"])
        assert record["reason"].strip(), where
        assert record["verdict"] in CATALOGUE[scenario], where
    for spec in SPECS:
        founding = records["close/send-then-close", spec]["observed"]
        assert founding["messages"][0]["text"] == "final message"
        assert founding["close"] == {"code": 1000, "reason": "bye"}
        # recv_delay_ms 100: the application was busy; no event before it ended
        opened = events(founding, "open")[0]["t_ms"]
        assert events(founding, "recv_start")[0]["t_ms"] - opened >= 99
        assert founding["messages"][0]["t_ms"] - opened >= 99
    # 7.16 throws from its own callback; the adapter reports it and serves on
    unrequested = records["handshake/subprotocol-unrequested", "node-undici@7.16.0"]["observed"]
    assert unrequested["end"] == "error"
    crash = events(unrequested, "uncaught_exception")
    assert crash and crash[0]["type"] == "TypeError", unrequested["events"]
    assert "PASS" in proc.stdout


@pytest.mark.e2e
def test_knobs(tmp_path: Path) -> None:
    """Every knob at both versions; only 6.x's missing ping is unsupported, and said so."""
    _, report = wsreplay_run(
        tmp_path, "--scenarios-dir", str(KNOB_SCENARIOS), *client_args(list(SPECS))
    )
    records = {(r["scenario"], r["client"]): r for r in report["results"]}
    assert len(records) >= 20
    for (name, client), record in records.items():
        if (name, client) == ("knobs/send-ping", "node-undici@6.21.3"):
            assert record["verdict"] == "error"
            assert record["reason"] == (
                "the adapter cannot honour the client knob send=[{'ping': 'are you there'}]"
            )
            assert record["observed"]["unsupported"] == ["send"]
            continue
        assert record["verdict"] == "pass", (name, client, record["reason"])
        assert record["observed"]["unsupported"] == []
    for spec in SPECS:
        observed = {name: r["observed"] for (name, client), r in records.items() if client == spec}
        assert observed["knobs/subprotocols"]["subprotocol"] == "chat.v1"
        assert observed["knobs/recv-timeout"]["end"] == "timeout"
        assert observed["knobs/max-messages"]["end"] == "max_messages"
        # recv_pace_ms: the application is busy 200 ms after each message
        times = [m["t_ms"] for m in observed["knobs/recv-pace"]["messages"]]
        assert len(times) == 3 and all(b - a >= 190 for a, b in zip(times, times[1:])), times
    ping = records["knobs/send-ping", "node-undici@7.16.0"]["observed"]
    assert [e["kind"] for e in events(ping, "send")] == ["ping"]


@pytest.mark.e2e
def test_over_tls(tmp_path: Path) -> None:
    """wss:// trusting exactly the run's CA: the dispatcher option (7.16.0) and,
    before undici took one in the constructor (5.22.0), the global dispatcher."""
    _, report = wsreplay_run(
        tmp_path,
        "--transport",
        "wss",
        *client_args(["node-undici@7.16.0", "node-undici@5.22.0"]),
        *scenario_args(["close/send-then-close", "close/many-then-close"]),
    )
    assert len(report["results"]) == 4
    for record in report["results"]:
        assert record["verdict"] == "pass", (record["scenario"], record["reason"])
        assert record["transport"] == "wss"
