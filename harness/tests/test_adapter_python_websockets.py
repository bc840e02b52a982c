"""python-websockets (all four APIs): every knob of the contract, over ws:// and wss://.

The catalogue side is covered by test_founding.py and test_catalogue.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from test_adapter_python_kit import check_knob_run

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
