"""python-aiohttp: the catalogue and every knob at two pinned aiohttp releases, one run each;
the observation facts on real releases."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_adapter_python_kit import (
    ECHO_AFTER_CLOSE,
    check_catalogue_run,
    check_knob_run,
    run_facts,
)

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


def test_observation_facts(tmp_path: Path) -> None:
    specs = [f"{ADAPTER}@{v}" for v in VERSIONS]
    scenarios = ["close/send-then-close", "close/send-then-fin"]
    records = run_facts(tmp_path, specs, scenarios, (ECHO_AFTER_CLOSE,))
    for spec in specs:
        # receive() returned a CLOSE message: aiohttp's clean end
        observed = records["close/send-then-close", spec]["observed"]
        assert (observed["clean"], observed["clean_source"]) == (True, "WSMsgType.CLOSE")
        # a bare FIN: CLOSED with aiohttp's own abnormal-closure code 1006
        observed = records["close/send-then-fin", spec]["observed"]
        assert observed["clean"] is False, observed
        assert observed["clean_source"].startswith("WSMsgType.CLOSED"), observed
        observed = records["echo/queued-after-close", spec]["observed"]
        assert [m["text"] for m in observed["messages"]] == ["a", "b", "c"], observed
