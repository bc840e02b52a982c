"""python-aiohttp: the catalogue and every knob at two pinned aiohttp releases, one run each;
the observation facts on real releases."""

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


# --------------------------------------------------------------------------
# the compression knob: ws_connect(compress=N), one connection per value

#: What aiohttp offers with compress=15: ws_ext_gen() always adds client_max_window_bits.
OFFER = "permessage-deflate; client_max_window_bits"


@pytest.mark.parametrize("version", ["3.7.4", "3.14.5"])
def test_compression_knob_sets_the_offer(
    version: str,
    wsreplay_server: ScenarioServer,
    wsreplay_clients: ClientPool,
    wsreplay_catalogue: dict[str, Scenario],
) -> None:
    """compress=0 (the default) offers nothing; compress=N offers
    server_max_window_bits=N below 15; nothing else can be asked for."""
    e2e.check_compression(
        wsreplay_server,
        wsreplay_clients,
        wsreplay_catalogue,
        f"{ADAPTER}@{version}",
        [
            ("default", None),
            ("off", None),
            ("on", OFFER),
            ({"server_max_window_bits": 10}, OFFER + "; server_max_window_bits=10"),
            ({"client_max_window_bits": True, "server_no_context_takeover": False}, OFFER),
        ],
        [
            {"server_no_context_takeover": True},
            {"client_max_window_bits": 10},
            {"server_max_window_bits": 8},  # ws_ext_gen refuses it (zlib)
            {"server_max_window_bits": 15},  # compress=15 offers no server_max_window_bits
        ],
    )
