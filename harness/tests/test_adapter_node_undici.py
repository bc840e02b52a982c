"""node-undici: undici's WHATWG WebSocket in Node, real releases from the npm registry.

One `./wsreplay run` takes the founding scenario and its seed family at two
pinned versions (6.21.3 and 7.16.0: 7.12+ exports `ping`), plus catalogue
scenarios that show what the adapter reports as a fact rather than an
error: an exception undici 7.16 throws from its own callback (the
observation's `crash`), and a refused handshake, which 6.x reports with an
`error` event and never a `close` (reported at once all the same, not after
the open timeout). Then the knob scenarios at both
versions, TLS through the constructor's dispatcher (7.16.0) and through the
global dispatcher (5.22.0, before the constructor took one), and the choice
of "newest" on this machine's Node.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

import adapter_e2e as e2e
from wsreplay import clients
from wsreplay.clients import SpecError, check_version_range
from wsreplay.contract import Scenario
from wsreplay.installers import node as node_installer
from wsreplay.plugin import ClientPool
from wsreplay.running.server import ScenarioServer

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
    # a 101 with a subprotocol nobody offered: 6.21 and 7.16 crash (an
    # uncaught TypeError from undici's own response callback)
    "handshake/subprotocol-unrequested": {"fail"},
    "handshake/status-403-with-body": {"pass"},
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
        for scenario in CATALOGUE:
            assert_t0_near_transcript(records[scenario, spec])
        # the closure as WHATWG's wasClean says it: clean after a closing
        # handshake, not after a bare FIN
        assert founding["clean"] is True
        assert founding["clean_source"] == "CloseEvent.wasClean"
        assert records["close/send-then-fin", spec]["observed"]["clean"] is False
        # undici throws from its own callback; the adapter reports the crash
        # and serves on
        unrequested = records["handshake/subprotocol-unrequested", spec]["observed"]
        assert unrequested["end"] == "error"
        crash = unrequested["crash"]
        assert (crash["type"], crash["where"]) == ("TypeError", "uncaughtException"), crash
        assert "reading 'includes'" in crash["message"]
        assert "lib/web/websocket/connection.js" in crash["at"]
        assert e2e.events(unrequested, "crash")
        # an application that crashed would have died, and its sockets with
        # it: the adapter destroys the one undici left open
        assert e2e.events(unrequested, "socket_left_open")
        e2e.assert_session_ended_by_client(records["handshake/subprotocol-unrequested", spec])
        assert founding["crash"] is None
    # a refused handshake is reported when undici reports it: 6.x fires
    # 'error' and never 'close' (the adapter waits 250 ms for it, not the
    # 10 s open timeout); 7.x fires both, close with wasClean false
    refused6 = records["handshake/status-403-with-body", "node-undici@6.21.3"]["observed"]
    assert (refused6["connected"], refused6["end"]) == (False, "connect_failed")
    assert e2e.events(refused6, "no_close_after_error")
    assert refused6["duration_ms"] < 1000, refused6["duration_ms"]
    assert refused6["clean"] is None
    refused7 = records["handshake/status-403-with-body", "node-undici@7.16.0"]["observed"]
    assert (refused7["end"], refused7["clean"]) == ("connect_failed", False)
    assert not e2e.events(refused7, "no_close_after_error")
    assert "PASS" in proc.stdout


def assert_t0_near_transcript(record: dict) -> None:
    """t0_unix_us (the adapter's connect_start, wall clock) is just before the
    server's ``started`` (its accept): same machine, same clock."""
    started = datetime.fromisoformat(record["transcript"]["started"].replace("Z", "+00:00"))
    gap_us = started.timestamp() * 1e6 - record["observed"]["t0_unix_us"]
    assert -5_000 <= gap_us <= 1_000_000, gap_us


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
    for spec in SPECS:
        calls = {
            name: [c["why"] for c in e2e.events(records[name, spec]["observed"], "close_call")]
            for name in ("knobs/max-messages", "knobs/close-first-after-messages")
        }
        assert calls == {
            "knobs/max-messages": ["end"],
            "knobs/close-first-after-messages": ["knob"],
        }


@pytest.mark.e2e
def test_over_tls(tmp_path: Path) -> None:
    """wss:// trusting exactly the run's CA: the dispatcher option (7.16.0) and,
    before undici took one in the constructor (5.22.0), the global dispatcher."""
    e2e.assert_passes_over_tls(tmp_path, ["node-undici@7.16.0", "node-undici@5.22.0"])


#: undici 7.30 leaves the socket of a refused 101 open; 7.29 closes it itself.
LEAKS, CLOSES = "node-undici@7.30.3", "node-undici@7.29.0"
#: Refused handshakes (two refused 101s, a non-101 status) and a normal
#: closure, with the verdicts both versions had before the adapter tidied up.
REFUSALS = {
    "handshake/accept-wrong": {"pass"},
    "handshake/upgrade-wrong-value": {"pass"},
    "handshake/status-403-with-body": {"pass"},
    "close/send-then-close": {"pass"},
}


@pytest.mark.e2e
def test_refused_handshake_ends_on_the_clients_close(tmp_path: Path) -> None:
    """After a refused 101, undici 7.30 fails the WebSocket but leaves its TCP
    connection open; the server then waited its own timeouts (3 s a job).
    The adapter destroys a socket its finished WebSocket left open, says so
    (`socket_left_open`), and the server's session ends on the client's EOF,
    with the same verdicts. Where undici closed the socket itself, or the
    WebSocket closed normally, the adapter has nothing to do."""
    specs = {LEAKS: "7.30.3", CLOSES: "7.29.0"}
    _, report = e2e.wsreplay_run(tmp_path, *e2e.client_args(specs), *e2e.scenario_args(REFUSALS))
    e2e.assert_clients(report, specs, "undici")
    e2e.assert_catalogue_verdicts(report, REFUSALS, specs)
    records = {(r["scenario"], r["client"]): r for r in report["results"]}
    for spec in specs:
        for scenario in ("handshake/accept-wrong", "handshake/upgrade-wrong-value"):
            record = records[scenario, spec]
            observed = record["observed"]
            assert (observed["connected"], observed["end"]) == (False, "connect_failed")
            left = e2e.events(observed, "socket_left_open")
            if spec == LEAKS:
                # reported after the refusal, before the observation went out
                assert [e["event"] for e in observed["events"]][-2:] == [
                    "connect_failed",
                    "socket_left_open",
                ], observed["events"]
                assert left[0]["ready_state"] == 3, left  # CLOSED
            else:
                assert left == [], left
            e2e.assert_session_ended_by_client(record)
        # a non-101 answer: undici closes that connection itself
        refused = records["handshake/status-403-with-body", spec]
        assert refused["observed"]["end"] == "connect_failed"
        assert not e2e.events(refused["observed"], "socket_left_open")
        e2e.assert_session_ended_by_client(refused, upgraded=False)
        # an open WebSocket that closed normally has no socket left behind
        founding = records["close/send-then-close", spec]["observed"]
        assert founding["end"] == "closed"
        assert not e2e.events(founding, "socket_left_open")
    # accept-wrong waits for the client's EOF after its message: the EOF came
    wrong = records["handshake/accept-wrong", LEAKS]["transcript"]
    awaited = [e for e in wrong["events"] if e["type"] == "await_done"]
    assert [(e["what"], e["result"]) for e in awaited] == [("eof", "ok")], awaited


# --------------------------------------------------------------------------
# the compression knob: undici has no option; its offer depends on the version

#: undici's fixed offer from 6.18.0 on (connection.js; none up to 6.17.0).
OFFER = "permessage-deflate; client_max_window_bits"


@pytest.mark.e2e
@pytest.mark.parametrize(
    "version, offered, unsupported",
    [
        ("6.17.0", [("default", None), ("off", None)], ["on", {"client_max_window_bits": True}]),
        (
            "7.16.0",
            [
                ("default", OFFER),
                ("on", OFFER),
                ({"client_max_window_bits": True, "server_no_context_takeover": False}, OFFER),
            ],
            ["off", {"server_max_window_bits": 10}],
        ),
    ],
)
def test_compression_knob_follows_the_fixed_offer(
    version: str,
    offered: list[e2e.Offered],
    unsupported: list[str | dict[str, object]],
    wsreplay_server: ScenarioServer,
    wsreplay_clients: ClientPool,
    wsreplay_catalogue: dict[str, Scenario],
) -> None:
    where = (wsreplay_server, wsreplay_clients, wsreplay_catalogue)
    e2e.check_compression(*where, f"node-undici@{version}", offered, unsupported)
