"""python-simple-websocket: the floor (0.1.0, before Client.connect) and the observation
facts on real releases."""

from __future__ import annotations

from pathlib import Path

import pytest

import adapter_e2e as e2e
from test_adapter_python_kit import run_facts
from wsreplay.contract import Scenario
from wsreplay.plugin import ClientPool
from wsreplay.running.server import ScenarioServer

pytestmark = pytest.mark.e2e

ADAPTER = "python-simple-websocket"


def test_floor_release_and_observation_facts(tmp_path: Path) -> None:
    # 0.1.0, the first release with a client (the floor was 1.0.0, where Client.connect
    # appeared): the constructor connects; no subprotocols before 0.8.0 (reported, not
    # refused); no close code anywhere before 0.5.0 (reported as not observable)
    specs = [f"{ADAPTER}@0.1.0", f"{ADAPTER}@0.10.1", f"{ADAPTER}@1.1.0"]
    scenarios = ["close/send-then-close", "knobs/subprotocols"]
    records = run_facts(tmp_path, specs, scenarios)
    old = records["knobs/subprotocols", specs[0]]["observed"]
    assert (old["end"], old["unsupported"]) == ("unsupported", ["subprotocols"])
    for spec in specs[1:]:
        assert records["knobs/subprotocols", spec]["observed"]["subprotocol"] == "chat.v1"

    closes = {spec: records["close/send-then-close", spec]["observed"] for spec in specs}
    assert closes[specs[0]]["close"] == {"code": None, "reason": None, "observable": False}
    for spec in specs[1:]:
        close = closes[spec]["close"]
        assert "observable" not in close and isinstance(close["code"], int), close
    for spec, observed in closes.items():
        assert observed["connected"] is True, (spec, observed)
        assert observed["end"] == "closed", (spec, observed)
        # ConnectionClosed ends every connection: the library does not say how cleanly
        assert observed["clean"] is None
        assert "no clean flag" in observed["clean_source"]


# --------------------------------------------------------------------------
# the compression knob: its Client never offers permessage-deflate


@pytest.mark.parametrize("version", ["0.1.0", "1.1.0"])
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
