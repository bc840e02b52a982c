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

from pathlib import Path

import pytest

import adapter_e2e as e2e
from wsreplay import clients
from wsreplay.clients import SpecError, check_version_range
from wsreplay.installers import node as node_installer

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
    proc, report = e2e.wsreplay_run(
        tmp_path, *e2e.client_args(SPECS), *e2e.scenario_args(CATALOGUE)
    )
    e2e.assert_clients(report, SPECS, "undici")
    e2e.assert_catalogue_verdicts(report, CATALOGUE, SPECS)
    records = {(r["scenario"], r["client"]): r for r in report["results"]}
    for spec in SPECS:
        founding = records["close/send-then-close", spec]["observed"]
        e2e.assert_founding_delivered(founding)
        # recv_delay_ms 100: the application was busy; no event before it ended
        e2e.assert_recv_delay_honoured(founding)
    # 7.16 throws from its own callback; the adapter reports it and serves on
    unrequested = records["handshake/subprotocol-unrequested", "node-undici@7.16.0"]["observed"]
    assert unrequested["end"] == "error"
    crash = e2e.events(unrequested, "uncaught_exception")
    assert crash and crash[0]["type"] == "TypeError", unrequested["events"]
    assert "PASS" in proc.stdout


@pytest.mark.e2e
def test_knobs(tmp_path: Path) -> None:
    """Every knob at both versions; only 6.x's missing ping is unsupported, and said so."""
    _, report = e2e.wsreplay_run(
        tmp_path, "--scenarios-dir", str(e2e.KNOB_SCENARIOS), *e2e.client_args(SPECS)
    )
    records = {(r["scenario"], r["client"]): r for r in report["results"]}
    assert len(records) >= 20
    no_ping = records.pop(("knobs/send-ping", "node-undici@6.21.3"))
    assert no_ping["verdict"] == "error"
    assert no_ping["reason"] == e2e.PING_UNSUPPORTED
    assert no_ping["observed"]["unsupported"] == ["send"]
    e2e.assert_knobs_honoured(records)  # keyed (scenario, client)
    for spec in SPECS:
        observed = {name: r["observed"] for (name, client), r in records.items() if client == spec}
        e2e.assert_knob_basics(observed)
        # recv_pace_ms: the application is busy 200 ms after each message
        e2e.assert_paced(observed["knobs/recv-pace"], 190, count=3)
    ping = records["knobs/send-ping", "node-undici@7.16.0"]["observed"]
    assert e2e.sent_kinds(ping) == ["ping"]


@pytest.mark.e2e
def test_over_tls(tmp_path: Path) -> None:
    """wss:// trusting exactly the run's CA: the dispatcher option (7.16.0) and,
    before undici took one in the constructor (5.22.0), the global dispatcher."""
    e2e.assert_passes_over_tls(tmp_path, ["node-undici@7.16.0", "node-undici@5.22.0"])
