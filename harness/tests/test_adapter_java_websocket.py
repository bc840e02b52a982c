"""java-websocket: Java-WebSocket (org.java-websocket) from Maven Central, end to end.

The seed catalogue at 1.3.9 and 1.6.0 in one `./wsreplay run`, with how the
library reported each closure (clean or not); every knob scenario; TLS with
the run's CA (1.3.9 through setSocket, 1.6.0 through setSocketFactory) and a
foreign CA refused; what the library reports for an empty close frame; a frame
header that declares 2 GiB, which kills the library's reader thread with an
OutOfMemoryError (a crash: no callback ever tells the application), and a
close reason that is not UTF-8, which 1.4.0+ trip over with an internal
NullPointerException (a crash passed to onError); a server
that never answers the opening handshake (a hang: connect_timeout); an
unknown version. An install takes about 8 s with a warm ~/.m2 (the
installer's unit tests are in test_adapter_java_installer.py).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

import adapter_e2e as e2e
from rawpeer import silent_server
from wsreplay import clients
from wsreplay.contract import Scenario
from wsreplay.installers import java as java_installer
from wsreplay.plugin import ClientPool
from wsreplay.running.server import ScenarioServer

pytestmark = pytest.mark.e2e

SPECS = {"java-websocket@1.3.9": "1.3.9", "java-websocket@1.6.0": "1.6.0"}

#: The founding scenario and its seed family: Java-WebSocket delivers every
#: message and reports 1006 after a FIN or an RST without a close frame.
CATALOGUE = {
    "close/send-then-close": {"pass"},
    "close/send-then-close-gap": {"pass"},
    "close/send-then-close-separate-writes": {"pass"},
    "close/many-then-close": {"pass"},
    "close/send-then-fin": {"pass"},
    # after an RST the message may or may not have been read from the socket
    "close/send-then-rst": {"pass", "non-strict", "informational"},
    "handshake/coalesced-message": {"pass"},
}

#: What a verdict's reason says when Java-WebSocket's close frame never left
#: (README: queued frames are dropped at close, at random): its own answer to
#: the server's close, or the application's close() called in a callback. Any
#: knob scenario whose server closes can meet it now and then (1.6.0: about 3
#: runs of 10 for knobs/close-first-after-messages, seldom for the others).
RACE_SIGNS = ("the client sent no close frame", "was never answered with a close frame")


def lost_close_frame(record: dict) -> bool:
    """The record failed only because the client's close frame never left."""
    return record["verdict"] != "pass" and any(sign in record["reason"] for sign in RACE_SIGNS)


EMPTY_CLOSE = {
    "name": "java/empty-close",
    "summary": "A text message, then a close frame with no payload (no status code).",
    "rfc": ["6455#5.5.1", "6455#7.1.5"],
    "steps": [
        {"write": [{"text": "m"}, {"close": None}]},
        {"await": "close", "timeout_ms": 2000},
        {"shutdown": "write"},
    ],
    "expect": {"messages": [{"text": "m"}], "close": {"code": 1005}},
}


#: A text message, then the header of a binary frame that declares 2 GiB - 16
#: bytes (the 64-bit length form; below Integer.MAX_VALUE, so no size check
#: refuses it) and 5 bytes of it. Java-WebSocket allocates the whole frame up
#: front: an OutOfMemoryError (the adapter runs with -Xmx1g) that nothing
#: catches ends its reader thread (TooTallNate/Java-WebSocket#1460).
HUGE_FRAME = {
    "name": "java/huge-frame-header",
    "summary": "A text message, 100 ms later a frame header declaring 2 GiB - 16 bytes.",
    "rfc": ["6455#5.2", "6455#10.4"],
    "steps": [
        {"write": [{"text": "before"}]},
        # the delay puts the message in a read of its own: delivered, always
        {"delay_ms": 100},
        {"write": [{"raw": "82 7f 00 00 00 00 7f ff ff f0 68 65 6c 6c 6f"}]},
        {"await": "close", "timeout_ms": 1000},
        {"shutdown": "write"},
    ],
    "expect": {"messages": [{"text": "before"}]},
}


def test_catalogue_at_two_versions(tmp_path: Path) -> None:
    started_us = time.time_ns() // 1000
    proc, report = e2e.wsreplay_run(
        tmp_path, *e2e.client_args(SPECS), *e2e.scenario_args(CATALOGUE)
    )
    assert proc.returncode == 0, proc.stderr
    e2e.assert_clients(report, SPECS, "Java-WebSocket")
    e2e.assert_catalogue_verdicts(report, CATALOGUE, SPECS)
    for record in report["results"]:
        observed = record["observed"]
        assert started_us <= observed["t0_unix_us"] <= time.time_ns() // 1000
        assert observed["crash"] is None
        assert {e["why"] for e in e2e.events(observed, "close_call")} == {"end"}
        if record["scenario"] == "close/send-then-close":
            e2e.assert_founding_delivered(observed)
            closed = e2e.events(observed, "closed")[0]
            assert (closed["callback"], closed["remote"]) == ("onClose", True)
            # recv_delay_ms 100: onOpen held the reader thread that long
            e2e.assert_recv_delay_honoured(observed)
            assert observed["clean"] is True
            assert observed["clean_source"] == "onClose(1000, remote=true)"
        if record["scenario"] == "close/send-then-fin":
            assert observed["close"]["code"] == 1006
            # 1006 is Java-WebSocket's word for an abnormal end
            assert observed["clean"] is False
            assert observed["clean_source"] == "onClose(1006, remote=true)"


def test_knobs(tmp_path: Path) -> None:
    """Every knob scenario, each honoured."""
    by_name = e2e.run_knob_scenarios(tmp_path, "java-websocket@1.6.0")
    racy = {name for name, record in by_name.items() if lost_close_frame(record)}
    for name in racy:
        # the library's own race (README: queued frames dropped at close)
        assert by_name[name]["observed"]["unsupported"] == []
        assert by_name[name]["verdict"] in ("fail", "non-strict"), by_name[name]["reason"]
    e2e.assert_knobs_honoured({n: r for n, r in by_name.items() if n not in racy})
    observed = {name: record["observed"] for name, record in by_name.items()}
    e2e.assert_knob_basics(observed)
    assert e2e.sent_kinds(observed["knobs/send-ping"]) == ["ping"]
    assert e2e.sent_kinds(observed["knobs/send"]) == ["text", "binary"]
    assert len(e2e.events(observed["knobs/echo"], "echo")) == 2
    e2e.assert_paced(observed["knobs/recv-pace"], 195, count=3)
    close_call = e2e.close_first_call(observed["knobs/close-first-after-messages"], 4001)
    assert close_call["accepted"] is True and close_call["why"] == "knob"
    # close() with no code: Java-WebSocket sends 1000 -- when the frame gets
    # out at all: its writer thread can be interrupted at close and drop it
    # (the close race in this adapter's README), so only its code is asserted.
    no_code = by_name["knobs/close-first-no-code"]
    assert [
        e for e in e2e.events(no_code["observed"], "close_call") if e.get("by") == "close_first"
    ]
    frames = e2e.client_close_frames(no_code)
    assert all(frame["close_code"] == 1000 for frame in frames), frames


def test_over_tls(tmp_path: Path) -> None:
    """wss:// with the run's own CA (the job's ca_file) as the only trusted root."""
    e2e.assert_passes_over_tls(tmp_path, SPECS)


@pytest.mark.parametrize("spec", list(SPECS))
def test_a_foreign_ca_is_refused(
    spec: str, tmp_path: Path, wsreplay_server: ScenarioServer, wsreplay_clients: ClientPool
) -> None:
    """The adapter trusts exactly the job's CA: another CA's file fails the handshake."""
    tag = f"java-websocket-foreign-ca-{spec.split('@')[1]}"
    observed = e2e.foreign_ca_observation(tmp_path, wsreplay_server, wsreplay_clients, spec, tag)
    assert observed["error"]["type"] == "javax.net.ssl.SSLHandshakeException"


def test_empty_close_frame_is_reported_as_1000(tmp_path: Path) -> None:
    """RFC 6455 7.1.5: no status code means 1005; Java-WebSocket says 1000 (NORMAL)."""
    scenarios = tmp_path / "scenarios"
    (scenarios / "java").mkdir(parents=True)
    (scenarios / "java" / "empty-close.json").write_text(json.dumps(EMPTY_CLOSE))
    _, report = e2e.wsreplay_run(
        tmp_path / "out", "--scenarios-dir", str(scenarios), *e2e.client_args(SPECS)
    )
    for record in report["results"]:
        assert record["observed"]["messages"][0]["text"] == "m"
        assert record["observed"]["close"] == {"code": 1000, "reason": ""}
        assert record["verdict"] == "fail"
        # the most severe failure comes first; Java-WebSocket's close race (README)
        # sometimes adds an unanswered close after it
        assert record["reason"].startswith("expected close 1005, received 1000"), record["reason"]


def test_local_checkout(tmp_path: Path) -> None:
    """@path: runs the jar a checkout built, with the newest release's dependencies."""
    clients.prepare("java-websocket@1.3.9")  # the "build": a released jar
    lib = java_installer._lib_dir(clients.ADAPTERS["java-websocket"], "1.3.9") / "lib"
    checkout = tmp_path / "target"
    checkout.mkdir()
    shutil.copy(lib / "Java-WebSocket-1.3.9.jar", checkout)
    _, report = e2e.wsreplay_run(
        tmp_path / "out",
        "--client",
        f"java-websocket@path:{checkout}",
        "--scenario",
        "close/send-then-close",
    )
    # "path:DIR (1.3.9; dependencies of 1.6.0)": the version the jar declares
    assert "1.3.9" in report["clients"][0]["resolved_version"]
    assert report["results"][0]["verdict"] == "pass", report["results"][0]["reason"]


def test_the_oldest_release(
    tmp_path: Path, wsreplay_server: ScenarioServer, wsreplay_clients: ClientPool
) -> None:
    """1.3.4, the first release with Draft_6455: it runs; a subprotocol offer, which
    its Draft_6455 cannot make (org.java_websocket.protocols came in 1.3.7), is
    reported unsupported; 1.3.0 is refused before anything runs."""
    _, report = e2e.wsreplay_run(
        tmp_path / "out", "--client", "java-websocket@1.3.4", "--scenario", "close/send-then-fin"
    )
    (record,) = report["results"]
    assert report["clients"][0]["resolved_version"] == "1.3.4"
    assert record["verdict"] == "pass", record["reason"]
    assert record["observed"]["close"]["code"] == 1006
    adapter, _, error = wsreplay_clients.get("java-websocket@1.3.4")
    assert adapter is not None, error
    job = {
        "id": "old-subprotocols",
        "url": wsreplay_server.url("close/send-then-close", "java-websocket-1.3.4-sub"),
        "knobs": e2e.knobs(subprotocols=["chat.v1"]),
        "deadline_ms": 8000,
    }
    outcome = adapter.run_job(job, 20)
    assert outcome.error is None, outcome.error
    assert (outcome.observation["end"], outcome.observation["unsupported"]) == (
        "unsupported",
        ["subprotocols"],
    )
    stderr = e2e.refused_spec_stderr(tmp_path / "old", "java-websocket@1.3.0")
    assert "java-websocket needs org.java-websocket:Java-WebSocket >= 1.3.4" in stderr


def test_unknown_version_names_the_nearest(tmp_path: Path) -> None:
    stderr = e2e.refused_spec_stderr(tmp_path, "java-websocket@1.5.99")
    assert (
        "client spec 'java-websocket@1.5.99': org.java-websocket:Java-WebSocket has no "
        "release '1.5.99'; nearest: 1.6.0, 1.5.7, 1.5.6, 1.5.5" in stderr
    )


def test_a_reader_thread_killed_by_an_error_is_a_crash(tmp_path: Path) -> None:
    """A 2 GiB frame header: OutOfMemoryError, uncaught, in the library's reader thread.

    The application hears nothing of it (no onError, no onClose); the message
    read 100 ms before it was delivered. The adapter reports the crash for the job.
    """
    scenarios = tmp_path / "scenarios"
    (scenarios / "java").mkdir(parents=True)
    (scenarios / "java" / "huge-frame-header.json").write_text(json.dumps(HUGE_FRAME))
    _, report = e2e.wsreplay_run(
        tmp_path / "out", "--scenarios-dir", str(scenarios), *e2e.client_args(SPECS)
    )
    assert len(report["results"]) == len(SPECS)
    for record in report["results"]:
        observed = record["observed"]
        crash = observed["crash"]
        assert crash["type"] == "java.lang.OutOfMemoryError", crash
        assert crash["where"].startswith("uncaught in thread 'WebSocketConnectReadThread"), crash
        # where in the library it was thrown
        assert "org.java_websocket." in crash["stack"], crash["stack"]
        assert [e["type"] for e in e2e.events(observed, "crash")] == [crash["type"]]
        # no callback ended receiving: the adapter's receive timeout did
        assert observed["end"] == "timeout"
        assert [m["text"] for m in observed["messages"]] == ["before"]
        assert observed["clean"] is None
        assert record["verdict"] != "pass", record["reason"]


def test_an_internal_error_passed_to_on_error_is_a_crash(tmp_path: Path) -> None:
    """A close frame whose reason is not valid UTF-8 (utf8/close-reason-invalid).

    From 1.4.0 on, CloseFrame.isValid dereferences the reason it failed to
    decode: a NullPointerException inside the reader thread, which
    WebSocketClient.run catches as an internal error and hands to onError
    before closing with 1006 (no close frame sent). 1.3.9 fails the
    connection without one.
    """
    _, report = e2e.wsreplay_run(
        tmp_path, *e2e.client_args(SPECS), "--scenario", "utf8/close-reason-invalid"
    )
    by_client = {r["client"]: r["observed"] for r in report["results"]}
    assert by_client["java-websocket@1.3.9"]["crash"] is None
    new = by_client["java-websocket@1.6.0"]
    crash = new["crash"]
    assert crash["type"] == "java.lang.NullPointerException", crash
    assert crash["where"] == "raised inside the library, passed to onError"
    assert "org.java_websocket.framing.CloseFrame.isValid" in crash["stack"]
    assert new["close"]["code"] == 1006
    assert (new["clean"], new["clean_source"]) == (
        False,
        "onClose(1006, remote=false) after onError",
    )


@pytest.mark.parametrize("spec", list(SPECS))
def test_a_handshake_that_hangs_is_a_connect_timeout(
    spec: str, wsreplay_clients: ClientPool
) -> None:
    """No answer to the upgrade request: Java-WebSocket has no timeout of its own and
    waits; the adapter's open timeout (deadline less 0.5 s) cuts it off. A hang,
    never a refusal."""
    adapter, _, error = wsreplay_clients.get(spec)
    assert adapter is not None, error
    with silent_server() as port:
        job = {
            "id": "hang",
            "url": f"ws://127.0.0.1:{port}/x",
            "knobs": e2e.knobs(),
            "deadline_ms": 3000,
        }
        outcome = adapter.run_job(job, 10)
    assert outcome.error is None, outcome.error
    observed = outcome.observation
    assert (observed["connected"], observed["end"]) == (False, "connect_timeout")
    assert observed["error"]["type"] == "timeout"
    timeout = e2e.events(observed, "connect_timeout")[0]
    assert timeout["t_ms"] >= 2000 and 2000 <= timeout["waited_ms"] <= 2500
    assert observed["crash"] is None


#: PerMessageDeflateExtension's one client offer (1.5.0+).
JW_OFFER = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"


def test_compression_knob(
    wsreplay_catalogue: dict[str, Scenario],
    wsreplay_server: ScenarioServer,
    wsreplay_clients: ClientPool,
) -> None:
    """The offer Java-WebSocket sends for each compression value (the
    server's transcript of the request): none by default; from 1.5.0 a
    PerMessageDeflateExtension's."""
    e2e.assert_offers(
        wsreplay_server,
        wsreplay_clients,
        wsreplay_catalogue,
        "java-websocket@1.6.0",
        {
            "default": ("default", []),
            "off": ("off", []),
            "on": ("on", [JW_OFFER]),
            "its-offer": ({"server_no_context_takeover": True}, [JW_OFFER]),
            "context-takeover": ({"client_no_context_takeover": False}, "unsupported"),
            "window-bits": ({"server_max_window_bits": 12}, "unsupported"),
        },
    )
    e2e.assert_offers(
        wsreplay_server,
        wsreplay_clients,
        wsreplay_catalogue,
        "java-websocket@1.5.0",
        {"on": ("on", [JW_OFFER])},
    )
    e2e.assert_offers(
        wsreplay_server,
        wsreplay_clients,
        wsreplay_catalogue,
        "java-websocket@1.3.9",
        {"default": ("default", []), "off": ("off", []), "on": ("on", "unsupported")},
    )
