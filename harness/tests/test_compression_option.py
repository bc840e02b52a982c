"""`wsreplay run --compression on|off|default`: the `compression` knob for every
scenario that leaves it at "default", and the server asked to accept the offer.

The unit tests build jobs (`with_compression`, `make_job`) against the real
server's URLs; the end-to-end test runs python-websockets with `--compression
off` and `on` and reads the offer its opening request carried in the
transcript, the URL the job used and the report's run header.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

import adapter_e2e as e2e
from conftest import wsreplay
from wsreplay.contract import Scenario
from wsreplay.running.runner import make_job
from wsreplay.running.server import ScenarioServer
from wsreplay.scenarios import knob_defaults, knobs_for, with_compression

FOUNDING = "close/send-then-close"


def scenario_with(catalogue: dict[str, Scenario], value: object) -> Scenario:
    scenario = copy.deepcopy(catalogue[FOUNDING])
    scenario["client"]["compression"] = value  # type: ignore[typeddict-item]
    return scenario


# ------------------------------------------------------------------ knobs


def test_the_knob_is_always_there() -> None:
    """Jobs carry every knob: `compression` defaults to "default" (filled in by
    the harness while the loader does not publish it yet)."""
    assert knob_defaults()["compression"] == "default"


@pytest.mark.parametrize("mode", ["on", "off"])
def test_the_mode_replaces_only_the_default(
    mode: str, wsreplay_catalogue: dict[str, Scenario]
) -> None:
    plain = wsreplay_catalogue[FOUNDING]
    before = copy.deepcopy(plain)
    assert knobs_for(with_compression(plain, mode))["compression"] == mode
    assert plain == before  # the catalogue's scenario is not changed
    # a scenario that sets its own keeps it
    for own in ("off", "on", {"server_max_window_bits": 10}):
        mine = scenario_with(wsreplay_catalogue, own)
        assert knobs_for(with_compression(mine, mode))["compression"] == own


def test_default_changes_nothing(wsreplay_catalogue: dict[str, Scenario]) -> None:
    plain = wsreplay_catalogue[FOUNDING]
    assert with_compression(plain, "default") is plain
    with pytest.raises(ValueError, match="compression mode"):
        with_compression(plain, "sometimes")


@pytest.mark.parametrize(
    "mode, url_tail, knob",
    [
        ("default", "?run=t-1", "default"),
        ("off", "?run=t-1", "off"),
        ("on", "?run=t-1&deflate=accept", "on"),
    ],
)
def test_make_job_sets_the_knob_and_the_url(
    mode: str,
    url_tail: str,
    knob: str,
    wsreplay_server: ScenarioServer,
    wsreplay_catalogue: dict[str, Scenario],
) -> None:
    job = make_job(wsreplay_server, wsreplay_catalogue[FOUNDING], "t-1", "ws", mode)
    assert job["url"].endswith(f"/{FOUNDING}{url_tail}")
    assert job["knobs"]["compression"] == knob

    # the other knobs are the scenario's
    def others(knobs: dict) -> dict:
        return {k: v for k, v in knobs.items() if k != "compression"}

    assert others(dict(job["knobs"])) == others(dict(knobs_for(wsreplay_catalogue[FOUNDING])))


def test_make_job_keeps_the_scenarios_own_knob_but_asks_to_accept(
    wsreplay_server: ScenarioServer, wsreplay_catalogue: dict[str, Scenario]
) -> None:
    """With `on`, deflate=accept goes in every URL: the server applies it only
    to scenarios that do not say how to answer an offer themselves."""
    own = scenario_with(wsreplay_catalogue, "off")
    job = make_job(wsreplay_server, own, "t-2", "wss", "on")
    assert job["url"].startswith("wss://") and job["url"].endswith("&deflate=accept")
    assert job["knobs"]["compression"] == "off"


# ------------------------------------------------------------------ the CLI


def test_help_names_the_option() -> None:
    proc = wsreplay("run", "--help")
    assert proc.returncode == 0
    assert "--compression {default,on,off}" in proc.stdout
    assert "deflate=accept" in proc.stdout


def test_a_wrong_mode_is_refused_before_anything_runs(tmp_path: Path) -> None:
    proc = wsreplay("run", "--compression", "maybe", "--out", str(tmp_path / "r"))
    assert proc.returncode == 2
    assert "invalid choice: 'maybe'" in proc.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.e2e
def test_a_run_with_compression_off_and_on(tmp_path: Path) -> None:
    """python-websockets offers permessage-deflate by default: `off` takes the
    offer away, `on` keeps it and puts deflate=accept in the job's URL; the
    report's header says which."""
    common = ["--client", "python-websockets@14.1", "--scenario", FOUNDING]
    offers = {}
    for mode in ("off", "on", "default"):
        proc, report = e2e.wsreplay_run(tmp_path / mode, "--compression", mode, *common)
        assert report["compression"] == mode
        [record] = report["results"]
        assert record["verdict"] == "pass", record["reason"]
        request = next(e for e in record["transcript"]["events"] if e.get("type") == "http_request")
        accept = "&deflate=accept" in request["target"]
        assert accept is (mode == "on"), request["target"]
        offers[mode] = e2e.extensions_offered(record)
        if mode != "default":
            assert f"compression {mode}" in proc.stderr  # the run's first line
    assert offers == {
        "off": [],
        "on": ["permessage-deflate; client_max_window_bits"],
        "default": ["permessage-deflate; client_max_window_bits"],
    }


@pytest.mark.e2e
def test_an_adapter_that_cannot_gets_an_error_naming_the_value(tmp_path: Path) -> None:
    """websocket-client has no permessage-deflate: `--compression on` is an error
    verdict that names the knob's value as the run set it."""
    _, report = e2e.wsreplay_run(
        tmp_path,
        "--compression",
        "on",
        "--client",
        "python-websocket-client@1.8.0",
        "--scenario",
        FOUNDING,
    )
    [record] = report["results"]
    e2e.assert_compression_unsupported(record)
    assert record["reason"].endswith("compression=on")
