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
from wsreplay.plugin import ClientPool
from wsreplay.running.server import ScenarioServer

pytestmark = pytest.mark.e2e

#: spec -> (resolved version, module it must be built from)
SPECS = {
    "go-coder@1.8.7": ("v1.8.7", "nhooyr.io/websocket"),
    "go-coder@v1.8.15": ("v1.8.15", "github.com/coder/websocket"),
}

#: What the library did at both versions. It never reports a close code for
#: a connection that ended without a close frame (CloseStatus says -1, no
#: 1006): the adapter reports that close as not observable, which the seed
#: scenarios accept. After an RST the message may or may not have been read.
CATALOGUE = {
    "close/send-then-close": {"pass"},
    "close/send-then-close-gap": {"pass"},
    "close/send-then-close-separate-writes": {"pass"},
    "close/many-then-close": {"pass"},
    "close/send-then-fin": {"pass"},
    "close/send-then-rst": {"pass", "informational", "non-strict"},
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
        observed = record["observed"]
        assert observed["crash"] is None
        if record["scenario"] == "close/send-then-fin":
            # the message arrived; the end is an EOF error: no close code on
            # that path (CloseStatus says -1), so none is observable
            assert observed["messages"][0]["text"] == "final message"
            assert observed["close"] == {"code": None, "reason": None, "observable": False}
            assert (observed["end"], observed["clean"]) == ("error", False)
            # the type says what happened (io.EOF), not the wrapper around it
            assert observed["error"]["type"] == "io.EOF"
            assert observed["error"]["outer_type"] == "*fmt.wrapError"
            assert observed["error"]["message"].endswith("EOF")
        if record["scenario"] == "close/send-then-close":
            assert observed["clean"] is True
            assert observed["clean_source"].startswith("websocket.CloseError from Read")
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
            assert e2e.events(observed, "close_call")[0]["why"] == "knob"
        if record["scenario"] == "knobs/max-messages":
            assert [c["why"] for c in e2e.events(observed, "close_call")] == ["end"]
            # Close returned nil: the API exposes no close code on that path
            assert observed["close"] == {"code": None, "reason": None, "observable": False}
            assert observed["clean"] is True


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
        "knobs": e2e.knobs(send=[{"text": "a"}, {"ping": "are you there"}]),
    }
    ready, (observation,) = run_adapter("go-coder@1.8.15", [job])
    assert ready["event"] == "ready" and ready["version"] == "v1.8.15"
    assert observation["end"] == "unsupported"
    assert observation["unsupported"] == ["send"]
    assert observation["connected"] is False


def test_over_tls(tmp_path: Path) -> None:
    e2e.assert_passes_over_tls(tmp_path, SPECS)


def test_oldest_releases(tmp_path: Path) -> None:
    """nhooyr.io/websocket v1.0.0 and v1.4.0 (Dial takes DialOptions by value
    before v1.5.0; errors wrapped with golang.org/x/xerrors) build and run."""
    specs = {"go-coder@1.0.0": "v1.0.0", "go-coder@1.4.0": "v1.4.0"}
    _, report = e2e.wsreplay_run(
        tmp_path,
        *e2e.client_args(specs),
        *e2e.scenario_args(
            ["close/send-then-close", "close/send-then-fin", "handshake/status-403-with-body"]
        ),
    )
    e2e.assert_clients(report, specs, "nhooyr.io/websocket")
    records = {(r["scenario"], r["client"]): r["observed"] for r in report["results"]}
    for spec in specs:
        e2e.assert_founding_delivered(records["close/send-then-close", spec])
        fin = records["close/send-then-fin", spec]
        assert (fin["error"]["type"], fin["error"]["outer_type"]) == (
            "io.EOF",
            "*golang.org/x/xerrors.wrapError",
        )
        assert fin["close"]["observable"] is False
        refused = records["handshake/status-403-with-body", spec]
        assert (refused["end"], refused["http_status"]) == ("connect_failed", 403)
        assert refused["error"]["message"].endswith("status code 101 but got 403")


@pytest.mark.parametrize(
    "version, message",
    [
        ("1.8.99", "github.com/coder/websocket (or its former path nhooyr.io/websocket)"),
        ("0.2.0", "go-coder needs github.com/coder/websocket >= v1.0.0"),
    ],
)
def test_unusable_versions_are_refused(tmp_path: Path, version: str, message: str) -> None:
    stderr = e2e.refused_spec_stderr(tmp_path, f"go-coder@{version}")
    assert message in stderr
    if version == "1.8.99":
        assert "has no release '1.8.99'; nearest: v1.8.15, v1.8.14" in stderr


#: CompressionNoContextTakeover's offer ("on"), CompressionContextTakeover's.
NO_CONTEXT_TAKEOVER = "permessage-deflate; client_no_context_takeover; server_no_context_takeover"
CONTEXT_TAKEOVER = "permessage-deflate"


def test_compression_knob(wsreplay_server: ScenarioServer, wsreplay_clients: ClientPool) -> None:
    """The offer the library sends for each compression value (the server's
    transcript of the request), across the change of default in v1.8.8 and
    before compression (v1.8.0); what it cannot offer is reported unsupported."""
    modes = {
        "off": ("off", []),
        "on": ("on", [NO_CONTEXT_TAKEOVER]),
        "both-flags": (
            {"client_no_context_takeover": True, "server_no_context_takeover": True},
            [NO_CONTEXT_TAKEOVER],
        ),
        "context-takeover": ({"server_no_context_takeover": False}, [CONTEXT_TAKEOVER]),
        "one-flag": (
            {"client_no_context_takeover": True, "server_no_context_takeover": False},
            "unsupported",
        ),
        "window-bits": ({"server_max_window_bits": 10}, "unsupported"),
    }
    # v1.8.0-v1.8.7 offer by default (CompressionNoContextTakeover)
    e2e.assert_offers(
        wsreplay_server,
        wsreplay_clients,
        "go-coder@1.8.7",
        {"default": ("default", [NO_CONTEXT_TAKEOVER]), **modes},
    )
    # from v1.8.8 the default is CompressionDisabled
    for spec in ("go-coder@1.8.8", "go-coder@v1.8.15"):
        e2e.assert_offers(
            wsreplay_server, wsreplay_clients, spec, {"default": ("default", []), **modes}
        )
    # before v1.8.0: no compression
    e2e.assert_offers(
        wsreplay_server,
        wsreplay_clients,
        "go-coder@1.7.4",
        {"default": ("default", []), "off": ("off", []), "on": ("on", "unsupported")},
    )
