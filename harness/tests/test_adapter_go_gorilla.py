"""go-gorilla end to end: github.com/gorilla/websocket, two pinned versions, the real server.

One `./wsreplay run` takes the founding scenario and its seed family at
v1.5.3 and v1.4.2 (specs written with and without the "v", so both resolve
to the canonical form), one takes the knob scenarios, one runs over TLS.
The installer builds each version once into the cache (about 20 s for the
first Go build on a machine, about 1 s for each further version).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

import adapter_e2e as e2e
from wsreplay.plugin import ClientPool
from wsreplay.running.server import ScenarioServer

pytestmark = pytest.mark.e2e

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
    "close/send-then-rst": {"pass", "informational", "non-strict"},
    "handshake/coalesced-message": {"pass"},
    # gorilla fails the connection itself (close 1002) and returns a plain error
    "framing/reserved-opcode-3": {"pass"},
}


def test_catalogue_at_two_versions(tmp_path: Path) -> None:
    proc, report = e2e.wsreplay_run(
        tmp_path, *e2e.client_args(SPECS), *e2e.scenario_args(CATALOGUE)
    )
    e2e.assert_clients(report, SPECS, "github.com/gorilla/websocket")
    e2e.assert_catalogue_verdicts(report, CATALOGUE, SPECS)
    records = {(r["scenario"], r["client"]): r for r in report["results"]}
    for spec in SPECS:
        founding = records["close/send-then-close", spec]["observed"]
        e2e.assert_founding_delivered(founding)
        # a *CloseError is gorilla's closure signal: clean, unless it is the
        # 1006 it makes up for a connection that ended without a close frame
        assert founding["clean"] is True
        fin = records["close/send-then-fin", spec]["observed"]
        assert (fin["close"]["code"], fin["clean"]) == (1006, False)
        assert fin["clean_source"].startswith("*websocket.CloseError from ReadMessage")
        # a protocol error: ReadMessage returns a plain error, no close code
        # on that path (observable false), and the type names what it is
        bad = records["framing/reserved-opcode-3", spec]["observed"]
        assert bad["close"] == {"code": None, "reason": None, "observable": False}
        assert bad["clean"] is False
        assert bad["error"]["type"] == "*errors.errorString"
        # v1.4.2: "websocket: unknown opcode 3", v1.5.3: "websocket: bad opcode 3"
        assert bad["error"]["message"].endswith("opcode 3")
        for scenario in CATALOGUE:
            observed = records[scenario, spec]["observed"]
            assert observed["crash"] is None
            started = datetime.fromisoformat(
                records[scenario, spec]["transcript"]["started"].replace("Z", "+00:00")
            )
            gap_us = started.timestamp() * 1e6 - observed["t0_unix_us"]
            assert -5_000 <= gap_us <= 1_000_000, gap_us
    assert "PASS" in proc.stdout


def test_knobs(tmp_path: Path) -> None:
    """Every knob of the contract, each in a scenario of its own, all honoured."""
    by_name = e2e.run_knob_scenarios(tmp_path, "go-gorilla@1.5.3")
    e2e.assert_knobs_honoured(by_name)
    observed = {name: record["observed"] for name, record in by_name.items()}
    e2e.assert_knob_basics(observed)
    # the adapter waited for the server's close after its own (gorilla's example)
    assert observed["knobs/max-messages"]["close"] == {"code": 1000, "reason": "done"}
    e2e.assert_paced(observed["knobs/recv-pace"], 190)
    # close_first with no code is an empty close frame on the wire
    e2e.assert_empty_close_frame(by_name["knobs/close-first-no-code"])
    # the close frame the adapter sends once receiving is over, then Conn.Close:
    # both its own (why=end); close_first's is the knob's
    assert [c["why"] for c in e2e.events(observed["knobs/max-messages"], "close_call")] == [
        "end",
        "end",
    ]
    assert [
        c["why"] for c in e2e.events(observed["knobs/close-first-after-messages"], "close_call")
    ] == ["knob", "end"]
    assert e2e.sent_kinds(observed["knobs/send-ping"]) == ["ping"]


def test_over_tls(tmp_path: Path) -> None:
    """wss:// with the run's own CA (the job's ca_file) as the only trusted root."""
    e2e.assert_passes_over_tls(tmp_path, ["go-gorilla@1.5.3"])


def test_unknown_version_names_the_nearest(tmp_path: Path) -> None:
    stderr = e2e.refused_spec_stderr(tmp_path, "go-gorilla@1.5.9")
    assert "client spec 'go-gorilla@1.5.9'" in stderr
    assert "github.com/gorilla/websocket has no release '1.5.9'" in stderr
    assert "nearest: v1.5.3" in stderr


#: gorilla's one offer (Dialer.EnableCompression, v1.1.0+).
GORILLA_OFFER = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"


def test_compression_knob(wsreplay_server: ScenarioServer, wsreplay_clients: ClientPool) -> None:
    """The offer gorilla sends for each compression value (the server's
    transcript of the request); what it cannot offer is reported unsupported."""
    e2e.assert_offers(
        wsreplay_server,
        wsreplay_clients,
        "go-gorilla@v1.5.3",
        {
            "default": ("default", []),
            "off": ("off", []),
            "on": ("on", [GORILLA_OFFER]),
            "its-offer": (
                {"client_no_context_takeover": True, "server_no_context_takeover": True},
                [GORILLA_OFFER],
            ),
            "part-of-it": ({"client_no_context_takeover": True}, [GORILLA_OFFER]),
            "context-takeover": ({"server_no_context_takeover": False}, "unsupported"),
            "window-bits": ({"client_max_window_bits": True}, "unsupported"),
        },
    )
    # v1.0.0 has no compression at all: "off" is what it does, "on" it cannot
    e2e.assert_offers(
        wsreplay_server,
        wsreplay_clients,
        "go-gorilla@v1.0.0",
        {"off": ("off", []), "on": ("on", "unsupported")},
    )
