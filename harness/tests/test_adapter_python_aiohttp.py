"""python-aiohttp: the catalogue and every knob at two pinned aiohttp releases, one run each."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_adapter_python_kit import check_catalogue_run, check_knob_run

pytestmark = pytest.mark.e2e

ADAPTER = "python-aiohttp"
#: the newest release and an older one still widely deployed
VERSIONS = ("3.9.5", "3.14.5")


def test_catalogue_at_two_releases(tmp_path: Path) -> None:
    # the founding scenario passes: aiohttp reads into its own queue, so nothing
    # before the close is lost
    records = check_catalogue_run(tmp_path, ADAPTER, VERSIONS)
    for version in VERSIONS:
        fin = records[("close/send-then-fin", f"{ADAPTER}@{version}")]
        assert fin["observed"]["close"]["code"] == 1006, fin["observed"]


@pytest.mark.parametrize("transport", ["ws", "wss"])
def test_every_knob_is_honoured(tmp_path: Path, transport: str) -> None:
    check_knob_run(tmp_path, ADAPTER, VERSIONS, transport)
