"""python-websocket-client: the catalogue and every knob at two pinned releases, one run each."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_adapter_python_kit import check_catalogue_run, check_knob_run

pytestmark = pytest.mark.e2e

ADAPTER = "python-websocket-client"
#: the newest release and the last 0.x (six-based, no close_frame attribute)
VERSIONS = ("0.59.0", "1.9.2")


def test_catalogue_at_two_releases(tmp_path: Path) -> None:
    records = check_catalogue_run(tmp_path, ADAPTER, VERSIONS)
    for version in VERSIONS:
        # no close frame: the library exposes no close code (what WebSocketApp passes on)
        fin = records[("close/send-then-fin", f"{ADAPTER}@{version}")]
        assert fin["verdict"] == "non-strict", fin["reason"]
        assert fin["observed"]["close"] == {"code": None, "reason": None}
        assert fin["observed"]["error"]["type"].endswith("WebSocketConnectionClosedException")


@pytest.mark.parametrize("transport", ["ws", "wss"])
def test_every_knob_is_honoured(tmp_path: Path, transport: str) -> None:
    check_knob_run(tmp_path, ADAPTER, VERSIONS, transport)
