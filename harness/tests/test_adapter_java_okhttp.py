"""java-okhttp: OkHttp's WebSocket client from Maven Central, end to end.

The seed catalogue at 4.12.0 (okhttp artifact) and 5.3.0 (okhttp-jvm, the
Kotlin multiplatform layout) in one `./wsreplay run`, with how OkHttp reported
each closure (clean or not) and the wall-clock start of each job; every knob
scenario, with the two OkHttp cannot honour reported as such; TLS with the
run's CA, and a wrong CA refused; a server that never answers the opening
handshake (a hang: connect_timeout, by the adapter's timeout or OkHttp's own);
an unknown version. A cold install of one version
takes about 15 s with an empty ~/.m2 (Maven's own plugins included), 8 s
with a warm one; the installer's unit tests are in
test_adapter_java_installer.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import adapter_e2e as e2e
from rawpeer import silent_server
from wsreplay.plugin import ClientPool
from wsreplay.running.server import ScenarioServer

pytestmark = pytest.mark.e2e

SPECS = {"java-okhttp@4.12.0": "4.12.0", "java-okhttp@5.3.0": "5.3.0"}

#: The founding scenario and its seed family, with what OkHttp did at both
#: versions: every message is delivered; after a FIN or an RST without a
#: close frame OkHttp reports onFailure, which has no close code at all
#: (not observable, so the close is not judged).
CATALOGUE = {
    "close/send-then-close": {"pass"},
    "close/send-then-close-gap": {"pass"},
    "close/send-then-close-separate-writes": {"pass"},
    "close/many-then-close": {"pass"},
    # no close code is observable on this path: the close is not judged
    "close/send-then-fin": {"pass"},
    # after an RST the message may or may not have been read from the socket
    "close/send-then-rst": {"pass", "informational", "non-strict"},
    "handshake/coalesced-message": {"pass"},
}

#: OkHttp has no API for these; the adapter says so instead of pretending.
UNSUPPORTED = {
    "knobs/send-ping": e2e.PING_UNSUPPORTED,
    "knobs/close-first-no-code": (
        "the adapter cannot honour the client knob "
        "close_first={'code': None, 'after_messages': 0, 'reason': ''}"
    ),
}


def test_catalogue_at_4x_and_5x(tmp_path: Path) -> None:
    started_us = time.time_ns() // 1000
    proc, report = e2e.wsreplay_run(
        tmp_path, *e2e.client_args(SPECS), *e2e.scenario_args(CATALOGUE)
    )
    assert proc.returncode == 0, proc.stderr  # non-strict/informational do not fail a run
    e2e.assert_clients(report, SPECS, "okhttp")
    e2e.assert_catalogue_verdicts(report, CATALOGUE, SPECS)
    for record in report["results"]:
        observed = record["observed"]
        # the wall clock of connect_start, in microseconds, during this run
        assert started_us <= observed["t0_unix_us"] <= time.time_ns() // 1000
        assert observed["crash"] is None
        # the adapter's own final close says so
        assert {e["why"] for e in e2e.events(observed, "close_call")} == {"end"}
        if record["scenario"] == "close/send-then-close":
            e2e.assert_founding_delivered(observed)
            assert e2e.events(observed, "closed")[0]["callback"] == "onClosing"
            # recv_delay_ms 100: onOpen held the reader thread that long
            e2e.assert_recv_delay_honoured(observed)
            # both close frames went through: onClosed
            assert (observed["clean"], observed["clean_source"]) == (True, "onClosed")
        if record["scenario"] == "close/send-then-fin":
            assert observed["messages"][0]["text"] == "final message"
            # onFailure carries no close code at all: not observable, rather than "none"
            assert observed["close"] == {"code": None, "reason": None, "observable": False}
            assert observed["error"]["type"] == "java.io.EOFException"
            assert (observed["clean"], observed["clean_source"]) == (False, "onFailure")


def test_knobs(tmp_path: Path) -> None:
    """Every knob scenario: honoured, or reported unsupported with the knob named."""
    by_name = e2e.run_knob_scenarios(tmp_path, "java-okhttp@5.3.0")
    for name, record in by_name.items():
        if name in UNSUPPORTED:
            assert (record["verdict"], record["reason"]) == ("error", UNSUPPORTED[name])
            assert record["observed"]["end"] == "unsupported"
    e2e.assert_knobs_honoured({n: r for n, r in by_name.items() if n not in UNSUPPORTED})
    observed = {name: record["observed"] for name, record in by_name.items()}
    e2e.assert_knob_basics(observed)
    assert e2e.sent_kinds(observed["knobs/send"]) == ["text", "binary"]
    assert len(e2e.events(observed["knobs/echo"], "echo")) == 2
    # recv_pace_ms 200: the listener holds each message that long before the next
    e2e.assert_paced(observed["knobs/recv-pace"], 195, count=3)
    close_call = e2e.close_first_call(observed["knobs/close-first-after-messages"], 4001)
    assert close_call["accepted"] is True and close_call["why"] == "knob"
    after_ms = e2e.events(observed["knobs/close-first-after-ms"], "close_call")[0]
    assert after_ms["by"] == "close_first" and after_ms["t_ms"] >= 299


def test_over_tls(tmp_path: Path) -> None:
    """wss:// with the run's own CA (the job's ca_file) as the only trusted root."""
    e2e.assert_passes_over_tls(tmp_path, SPECS)


def test_a_foreign_ca_is_refused(
    tmp_path: Path, wsreplay_server: ScenarioServer, wsreplay_clients: ClientPool
) -> None:
    """The adapter trusts exactly the job's CA: another CA's file fails the handshake."""
    observed = e2e.foreign_ca_observation(
        tmp_path, wsreplay_server, wsreplay_clients, "java-okhttp@5.3.0", "java-okhttp-foreign-ca"
    )
    assert observed["error"]["type"] == "javax.net.ssl.SSLHandshakeException"


def test_unknown_and_too_old_versions(tmp_path: Path) -> None:
    stderr = e2e.refused_spec_stderr(tmp_path, "java-okhttp@4.12.9")
    assert (
        "client spec 'java-okhttp@4.12.9': com.squareup.okhttp3:okhttp has no release '4.12.9'; "
        "nearest:" in stderr
    )
    assert "4.12.0" in stderr and "alpha" not in stderr
    stderr = e2e.refused_spec_stderr(tmp_path, "java-okhttp@3.4.2")
    assert "java-okhttp needs com.squareup.okhttp3:okhttp >= 3.5.0" in stderr


def test_a_handshake_that_hangs_is_a_connect_timeout(wsreplay_clients: ClientPool) -> None:
    """No answer to the upgrade request: a hang, never a refusal (end connect_timeout).

    With a 3 s deadline the adapter's open timeout (2.5 s) cuts it off; with
    15 s OkHttp's own read timeout (10 s) does, and its SocketTimeoutException
    is the error.
    """
    adapter, _, error = wsreplay_clients.get("java-okhttp@5.3.0")
    assert adapter is not None, error
    with silent_server() as port:
        url = f"ws://127.0.0.1:{port}/never-answers"
        outcome = adapter.run_job(
            {"id": "hang-1", "url": url, "knobs": e2e.knobs(), "deadline_ms": 3000}, 10
        )
        assert outcome.error is None, outcome.error
        observed = outcome.observation
        assert (observed["connected"], observed["end"]) == (False, "connect_timeout")
        assert observed["error"]["type"] == "timeout"
        assert e2e.events(observed, "connect_timeout")[0]["t_ms"] >= 2000
        assert observed["clean"] is None and observed["crash"] is None
        outcome = adapter.run_job(
            {"id": "hang-2", "url": url, "knobs": e2e.knobs(), "deadline_ms": 15000}, 25
        )
        assert outcome.error is None, outcome.error
        observed = outcome.observation
        assert (observed["connected"], observed["end"]) == (False, "connect_timeout")
        assert observed["error"]["type"] == "java.net.SocketTimeoutException"
        assert 9500 <= e2e.events(observed, "connect_timeout")[0]["t_ms"] < 14000


#: Refused handshakes, with the verdicts every version had before the adapter
#: tidied up: a non-101 status, a 101 without "Connection: Upgrade", a 101
#: with a wrong Sec-WebSocket-Accept; and a normal closure.
REFUSALS = {
    "handshake/status-403-with-body": {"pass"},
    "handshake/connection-missing": {"pass"},
    "handshake/accept-wrong": {"pass"},
    "close/send-then-close": {"pass"},
}
#: 3.5.0 keeps a refused connection allocated, not idle in its pool.
REFUSAL_SPECS = {**SPECS, "java-okhttp@3.5.0": "3.5.0"}


def test_refused_handshake_ends_on_the_clients_close(tmp_path: Path) -> None:
    """After a refused handshake OkHttp keeps the TCP connection open (a
    keep-alive connection in its pool, or one it never released); the server
    then waited its own timeouts (3-5 s a job). The adapter closes, once the
    job is over, a socket made for a web socket that never opened and is
    still open, says so (`socket_left_open`), and the server's session ends
    on the client's close, with the same verdicts. Where OkHttp closed the
    socket itself (5.x after a 101 it refused for its Sec-WebSocket-Accept),
    or the web socket opened, the adapter has nothing to do."""
    _, report = e2e.wsreplay_run(
        tmp_path, *e2e.client_args(REFUSAL_SPECS), *e2e.scenario_args(REFUSALS)
    )
    e2e.assert_clients(report, REFUSAL_SPECS, "okhttp")
    e2e.assert_catalogue_verdicts(report, REFUSALS, REFUSAL_SPECS)
    records = {(r["scenario"], r["client"]): r for r in report["results"]}
    for spec in REFUSAL_SPECS:
        for scenario in ("handshake/status-403-with-body", "handshake/connection-missing"):
            record = records[scenario, spec]
            observed = record["observed"]
            assert (observed["connected"], observed["end"]) == (False, "connect_failed")
            # reported after the refusal, before the observation went out
            assert [e["event"] for e in observed["events"]][-2:] == [
                "connect_failed",
                "socket_left_open",
            ], observed["events"]
            (left,) = e2e.events(observed, "socket_left_open")
            # 4.x and 5.x pooled it as idle; 3.5.0 had not released it
            then = "connectionPool().evictAll()"
            if spec == "java-okhttp@3.5.0":
                then += ", Socket.close()"
            assert (left["sockets"], left["then"]) == (1, then), left
            upgraded = scenario == "handshake/connection-missing"
            e2e.assert_session_ended_by_client(record, upgraded=upgraded)
        # a 101 refused for its accept value: 5.x closes that connection itself
        wrong = records["handshake/accept-wrong", spec]
        assert wrong["observed"]["end"] == "connect_failed"
        left = e2e.events(wrong["observed"], "socket_left_open")
        assert (left == []) == (spec == "java-okhttp@5.3.0"), left
        e2e.assert_session_ended_by_client(wrong)
        # an open web socket that closed normally: OkHttp's to close, nothing left
        founding = records["close/send-then-close", spec]["observed"]
        assert founding["end"] == "closed"
        assert not e2e.events(founding, "socket_left_open")
    # the 403's scenario waits for the client's EOF: the EOF came
    refused = records["handshake/status-403-with-body", "java-okhttp@5.3.0"]["transcript"]
    awaited = [e for e in refused["events"] if e["type"] == "await_done"]
    assert [(e["what"], e["result"]) for e in awaited] == [("eof", "ok")], awaited


def test_compression_knob(wsreplay_server: ScenarioServer, wsreplay_clients: ClientPool) -> None:
    """The offer OkHttp sends for each compression value (the server's
    transcript of the request): from 4.5.0 always a bare permessage-deflate,
    which it cannot leave out; before, never."""
    always = {
        "default": ("default", ["permessage-deflate"]),
        "on": ("on", ["permessage-deflate"]),
        "off": ("off", "unsupported"),
        "context-takeover": ({"server_no_context_takeover": False}, ["permessage-deflate"]),
        "no-context-takeover": ({"client_no_context_takeover": True}, "unsupported"),
        "window-bits": ({"client_max_window_bits": 15}, "unsupported"),
    }
    for spec in SPECS:
        e2e.assert_offers(wsreplay_server, wsreplay_clients, spec, always)
    e2e.assert_offers(
        wsreplay_server,
        wsreplay_clients,
        "java-okhttp@4.3.1",
        {"default": ("default", []), "off": ("off", []), "on": ("on", "unsupported")},
    )
