"""go-gorilla end to end: github.com/gorilla/websocket, two pinned versions, the real server.

One `./wsreplay run` takes the founding scenario and its seed family at
v1.5.3 and v1.4.2 (specs written with and without the "v", so both resolve
to the canonical form), one takes the knob scenarios, one runs over TLS.
The installer builds each version once into the cache (about 20 s for the
first Go build on a machine, about 1 s for each further version).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import adapter_e2e as e2e

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
    "close/send-then-rst": {"informational", "non-strict"},
    "handshake/coalesced-message": {"pass"},
}


def test_catalogue_at_two_versions(tmp_path: Path) -> None:
    proc, report = e2e.wsreplay_run(
        tmp_path, *e2e.client_args(SPECS), *e2e.scenario_args(CATALOGUE)
    )
    e2e.assert_clients(report, SPECS, "github.com/gorilla/websocket")
    e2e.assert_catalogue_verdicts(report, CATALOGUE, SPECS)
    founding = [r for r in report["results"] if r["scenario"] == "close/send-then-close"]
    for record in founding:
        e2e.assert_founding_delivered(record["observed"])
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
    assert e2e.sent_kinds(observed["knobs/send-ping"]) == ["ping"]


def test_over_tls(tmp_path: Path) -> None:
    """wss:// with the run's own CA (the job's ca_file) as the only trusted root."""
    e2e.assert_passes_over_tls(tmp_path, ["go-gorilla@1.5.3"])


def test_unknown_version_names_the_nearest(tmp_path: Path) -> None:
    stderr = e2e.refused_spec_stderr(tmp_path, "go-gorilla@1.5.9")
    assert "client spec 'go-gorilla@1.5.9'" in stderr
    assert "github.com/gorilla/websocket has no release '1.5.9'" in stderr
    assert "nearest: v1.5.3" in stderr
