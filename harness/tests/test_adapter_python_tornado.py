"""python-tornado: the catalogue and every knob at two pinned Tornado releases, one run each."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_adapter_python_kit import check_catalogue_run, check_knob_run

pytestmark = pytest.mark.e2e

ADAPTER = "python-tornado"
#: the newest release and the oldest that imports on Python 3.10+
VERSIONS = ("6.0", "6.6.1")


def test_catalogue_at_two_releases(tmp_path: Path) -> None:
    records = check_catalogue_run(tmp_path, ADAPTER, VERSIONS)
    for version in VERSIONS:
        # Tornado fills close_code only from a close frame: none after a bare FIN
        fin = records[("close/send-then-fin", f"{ADAPTER}@{version}")]
        assert fin["observed"]["close"] == {"code": None, "reason": None}, fin["observed"]


@pytest.mark.parametrize("transport", ["ws", "wss"])
def test_every_knob_is_honoured(tmp_path: Path, transport: str) -> None:
    check_knob_run(tmp_path, ADAPTER, VERSIONS, transport)
