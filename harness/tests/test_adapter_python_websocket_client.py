"""python-websocket-client: the catalogue and every knob at two pinned releases, one run each;
the observation facts and the floor (0.16.0) on real releases."""

from __future__ import annotations

from pathlib import Path

import pytest

import adapter_e2e as e2e
from test_adapter_python_kit import (
    ECHO_AFTER_CLOSE,
    check_catalogue_run,
    check_knob_run,
    run_facts,
)
from wsreplay.contract import Scenario
from wsreplay.plugin import ClientPool
from wsreplay.running.server import ScenarioServer

pytestmark = pytest.mark.e2e

ADAPTER = "python-websocket-client"
#: the newest release and the last 0.x (six-based, no close_frame attribute)
VERSIONS = ("0.59.0", "1.9.2")


def test_catalogue_at_two_releases(tmp_path: Path) -> None:
    records = check_catalogue_run(tmp_path, ADAPTER, VERSIONS)
    for version in VERSIONS:
        # no close frame: the library exposes no close code (what WebSocketApp passes on)
        # nothing to observe, so the adapter says so (observable: false)
        fin = records[("close/send-then-fin", f"{ADAPTER}@{version}")]
        assert fin["observed"]["close"] == {"code": None, "reason": None, "observable": False}
        assert fin["observed"]["error"]["type"].endswith("WebSocketConnectionClosedException")


@pytest.mark.parametrize("transport", ["ws", "wss"])
def test_every_knob_is_honoured(tmp_path: Path, transport: str) -> None:
    check_knob_run(tmp_path, ADAPTER, VERSIONS, transport)


def test_floor_release_and_observation_facts(tmp_path: Path) -> None:
    # 0.16.0: the oldest release that installs and imports on Python 3.11 (the floor
    # was 0.26.0); it offers no subprotocols, which is reported, not refused
    specs = [f"{ADAPTER}@0.16.0", f"{ADAPTER}@1.9.2"]
    scenarios = ["close/send-then-close", "close/send-then-fin", "knobs/subprotocols"]
    records = run_facts(tmp_path, specs, scenarios, (ECHO_AFTER_CLOSE,))
    old = records["knobs/subprotocols", specs[0]]["observed"]
    assert (old["end"], old["unsupported"]) == ("unsupported", ["subprotocols"])
    assert records["knobs/subprotocols", specs[1]]["observed"]["subprotocol"] == "chat.v1"
    for spec in specs:
        # the close frame comes back from recv_data(): the library's normal end
        observed = records["close/send-then-close", spec]["observed"]
        assert [m["text"] for m in observed["messages"]] == ["final message"]
        assert observed["close"] == {"code": 1000, "reason": "bye"}
        assert (observed["clean"], observed["clean_source"]) == (
            True,
            "recv_data() -> OPCODE_CLOSE",
        )
        # FIN without a close frame: an exception, no close code to observe
        observed = records["close/send-then-fin", spec]["observed"]
        assert (observed["clean"], observed["clean_source"]) == (
            False,
            "WebSocketConnectionClosedException",
        )
        assert observed["close"] == {"code": None, "reason": None, "observable": False}
        observed = records["echo/queued-after-close", spec]["observed"]
        assert [m["text"] for m in observed["messages"]] == ["a", "b", "c"], observed


# --------------------------------------------------------------------------
# the compression knob: no release has permessage-deflate


@pytest.mark.parametrize("version", VERSIONS)
def test_compression_knob_only_off(
    version: str,
    wsreplay_server: ScenarioServer,
    wsreplay_clients: ClientPool,
    wsreplay_catalogue: dict[str, Scenario],
) -> None:
    e2e.check_compression(
        wsreplay_server,
        wsreplay_clients,
        wsreplay_catalogue,
        f"{ADAPTER}@{version}",
        [("default", None), ("off", None)],
        ["on", {"client_max_window_bits": True}],
    )
