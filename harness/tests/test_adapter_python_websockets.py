"""python-websockets (all four APIs): every knob of the contract, over ws:// and wss://;
the observation facts (clean, echo, connect_timeout) on real releases.

The catalogue side is covered by test_founding.py and test_catalogue.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import adapter_e2e as e2e
from test_adapter_python_kit import ECHO_AFTER_CLOSE, check_knob_run, echo_errors, run_facts
from wsreplay.contract import Scenario
from wsreplay.plugin import ClientPool
from wsreplay.running.server import ScenarioServer

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "adapter, versions",
    [
        # 13.1: legacy client by default; 14.1: the new asyncio client
        ("python-websockets", ("13.1", "14.1")),
        ("python-websockets-sync", ("14.1",)),  # 13.1: close() waits 10 s with messages queued
        ("python-websockets-legacy", ("10.4", "14.1")),
        ("python-websockets-asyncio", ("14.1",)),
    ],
)
@pytest.mark.parametrize("transport", ["ws", "wss"])
def test_every_knob_is_honoured(
    tmp_path: Path, adapter: str, versions: tuple[str, ...], transport: str
) -> None:
    # over TLS the newest release is enough: only connecting differs
    check_knob_run(tmp_path, adapter, versions if transport == "ws" else versions[-1:], transport)


def test_clean_and_echo_facts_on_real_releases(tmp_path: Path) -> None:
    specs = [
        "python-websockets@14.0",
        "python-websockets@14.1",
        "python-websockets-legacy@14.1",
        "python-websockets-sync@14.1",
    ]
    records = run_facts(
        tmp_path, specs, ["close/send-then-close", "close/send-then-fin"], (ECHO_AFTER_CLOSE,)
    )
    for spec in specs:
        # a close frame both ways: ConnectionClosedOK, the library's "clean"; 14.0 drops
        # the message before it (the founding bug), yet calls the closure clean all the same
        observed = records["close/send-then-close", spec]["observed"]
        assert (observed["clean"], observed["clean_source"]) == (True, "ConnectionClosedOK")
        assert [m["text"] for m in observed["messages"]] == (
            [] if spec.endswith("@14.0") else ["final message"]
        )
        # FIN with no close frame: ConnectionClosedError, and 1006
        observed = records["close/send-then-fin", spec]["observed"]
        assert (observed["clean"], observed["clean_source"]) == (False, "ConnectionClosedError")
        assert observed["close"]["code"] == 1006
        # echo: the close frame arrived before the first recv(), so every echo fails
        # with ConnectionClosedOK; the messages the library holds are still delivered
        # (the kit used to stop at the first failed echo and report only "a"); 14.0
        # drops them all, its founding bug
        record = records["echo/queued-after-close", spec]
        observed = record["observed"]
        assert observed["end"] == "closed"
        if spec.endswith("@14.0"):
            assert observed["messages"] == [], observed
            continue
        assert [m["text"] for m in observed["messages"]] == ["a", "b", "c"], observed
        errors = echo_errors(record)
        assert len(errors) == 3 and errors[0] == "websockets.exceptions.ConnectionClosedOK"


def test_sync_13_0_hangs_in_connect_and_13_1_does_not(tmp_path: Path) -> None:
    # websockets' threading client 11.0-13.0 hangs in connect() when the 101, a
    # message and a close frame arrive in one write (it joins its receiving thread
    # while the connection is already closing); its open_timeout does not cover
    # it, so the adapter's own open timeout cuts it off. A hang, not a refusal.
    scenario = "handshake/message-and-close-with-101"
    specs = ["python-websockets-sync@13.0", "python-websockets-sync@13.1"]
    records = run_facts(tmp_path, specs, [scenario])
    hung = records[scenario, specs[0]]
    observed = hung["observed"]
    assert (observed["connected"], observed["end"]) == (False, "connect_timeout"), observed
    assert observed["error"]["type"] == "builtins.TimeoutError"
    assert observed["duration_ms"] >= 5000
    assert [e["event"] for e in observed["events"]] == ["connect_start", "connect_timeout"]
    assert hung["verdict"] == "fail"
    assert "the client hung in the opening handshake" in hung["reason"]
    fine = records[scenario, specs[1]]
    assert fine["verdict"] == "pass", fine["reason"]


# --------------------------------------------------------------------------
# the compression knob: the offer each API sends, one connection per value

#: websockets' own offer ("deflate", its default): enable_client_permessage_deflate()
#: adds ClientPerMessageDeflateFactory(), whose client_max_window_bits=True
#: is offered without a value.
OWN_OFFER = "permessage-deflate; client_max_window_bits"

#: An object knob and the offer ClientPerMessageDeflateFactory(**object) sends.
OBJECT = {"server_no_context_takeover": True, "server_max_window_bits": 10}
OBJECT_OFFER = (
    "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; "
    "client_max_window_bits"
)


@pytest.mark.parametrize(
    "spec",
    [
        "python-websockets@10.4",  # legacy
        "python-websockets@14.1",  # new asyncio
        "python-websockets-sync@14.1",
        "python-websockets-legacy@14.1",
        "python-websockets-asyncio@17.4",
    ],
)
def test_compression_knob_sets_the_offer(
    spec: str,
    wsreplay_server: ScenarioServer,
    wsreplay_clients: ClientPool,
    wsreplay_catalogue: dict[str, Scenario],
) -> None:
    e2e.check_compression(
        wsreplay_server,
        wsreplay_clients,
        wsreplay_catalogue,
        spec,
        [
            ("default", OWN_OFFER),
            ("off", None),
            ("on", OWN_OFFER),
            (OBJECT, OBJECT_OFFER),
            (
                {"client_max_window_bits": 9, "client_no_context_takeover": True},
                "permessage-deflate; client_no_context_takeover; client_max_window_bits=9",
            ),
        ],
    )


def test_compression_knob_the_factory_refuses_is_unsupported(
    wsreplay_server: ScenarioServer,
    wsreplay_clients: ClientPool,
    wsreplay_catalogue: dict[str, Scenario],
) -> None:
    """17.4's factory refuses client_max_window_bits 8 (ValueError: "between 9
    and 15"); 16.0's takes it."""
    value: dict[str, object] = {"client_max_window_bits": 8}
    where = (wsreplay_server, wsreplay_clients, wsreplay_catalogue)
    e2e.check_compression(*where, "python-websockets@17.4", [], [value])
    e2e.check_compression(
        *where, "python-websockets@16.0", [(value, "permessage-deflate; client_max_window_bits=8")]
    )
