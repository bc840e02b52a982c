"""python-tornado: the catalogue and every knob at two pinned Tornado releases, one run each;
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


def test_observation_facts(tmp_path: Path) -> None:
    specs = [f"{ADAPTER}@{v}" for v in VERSIONS]
    records = run_facts(tmp_path, specs, ["close/send-then-fin"], (ECHO_AFTER_CLOSE,))
    for spec in specs:
        # read_message() gives None for every end: Tornado does not say whether it was clean
        observed = records["close/send-then-fin", spec]["observed"]
        assert observed["clean"] is None
        assert "no clean flag" in observed["clean_source"]
        # Tornado holds one message at a time and answers the close only once the
        # application has read what came before it: all three arrive
        observed = records["echo/queued-after-close", spec]["observed"]
        assert [m["text"] for m in observed["messages"]] == ["a", "b", "c"], observed


# --------------------------------------------------------------------------
# the compression knob: websocket_connect(compression_options=...), one connection per value

#: What compression_options={} (any dict) offers: a literal in Tornado.
OFFER = "permessage-deflate; client_max_window_bits"


@pytest.mark.parametrize("version", VERSIONS)
def test_compression_knob_sets_the_offer(
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
        [
            ("default", None),
            ("off", None),
            ("on", OFFER),
            ({"client_max_window_bits": True}, OFFER),
        ],
        [{"server_max_window_bits": 10}, {"client_no_context_takeover": True}],
    )
