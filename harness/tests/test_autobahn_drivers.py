"""Real Autobahn client drivers, run unchanged against `wsreplay fuzzingserver`.

Three drivers (harness/autobahn-drivers/: websockets, ws, gorilla/websocket,
each installed from its registry) run through the Autobahn-compatible mode;
their verdicts (the mode's report.json) are compared, scenario by scenario,
with what the same library and version gets through its wsreplay adapter
(`wsreplay run --client ADAPTER@VERSION`), and every difference is printed
with both verdicts and reasons (`pytest -s`), and left in the test's
temporary folder as differences.txt / differences.json.

The default run crosschecks the quickest driver over a handful of cases on
which the mode and the adapter judge the same thing, and asserts they agree.
`WSREPLAY_AUTOBAHN_DRIVERS=1` crosschecks all three over the mode's whole
default selection: there differences are expected (the mode sees only the
wire; a driver's application is not the adapter's), so those tests assert
that every case the driver ran has a verdict in both report forms, and list
the differences for a person to explain.
`WSREPLAY_AUTOBAHN_DRIVER_VERSIONS="node-ws=8.18.3,go-gorilla=v1.5.1"` sets
the versions (default: each library's newest release).

The cheap checks always run: the drivers' files and adapters exist, the Go
driver builds without the adapters' contract code, and the comparison lists
every kind of difference.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from wsreplay import adapters
from wsreplay.fuzzingserver import drivers
from wsreplay.installers import go

ALL_DRIVERS = os.environ.get("WSREPLAY_AUTOBAHN_DRIVERS") == "1"
#: The driver the default run crosschecks: the quickest to install and run.
FAST = "python-websockets"
#: Autobahn cases the default run plays, one or two of each section that
#: needs no permessage-deflate: text and binary echoes, a ping, a reserved
#: bit, a reserved opcode, fragments (with pings between), invalid UTF-8 in
#: fragments, close handshakes; where an echoing application and the
#: adapter's leave the same trace on the wire.
FAST_CASES = [
    *("1.1.1", "1.2.1", "2.1", "2.10", "3.1", "4.1.1"),
    *("5.1", "5.19", "6.2.1", "7.1.1", "7.7.1"),
]


def _versions() -> dict[str, str]:
    text = os.environ.get("WSREPLAY_AUTOBAHN_DRIVER_VERSIONS", "")
    pairs = (item.partition("=") for item in text.split(",") if item.strip())
    return {name.strip(): version.strip() for name, _, version in pairs}


# ---------------------------------------------------------------- cheap checks


@pytest.mark.parametrize("name", sorted(drivers.DRIVERS))
def test_each_driver_has_its_file_and_an_adapter_of_the_same_library(name: str) -> None:
    d = drivers.DRIVERS[name]
    source = (d.directory / d.entry).read_text(encoding="utf-8")
    assert drivers.URL_ENV in source and drivers.AGENT_ENV in source
    for control in ("/getCaseCount", "/runCase?case=", "/updateReports?agent="):
        assert control in source, f"{name}: {control} missing"
    adapter = adapters.ADAPTERS[d.adapter]
    assert (adapter.language, adapter.package) == (d.language, d.package)


def test_the_go_driver_is_built_from_its_own_file_only() -> None:
    info = drivers.DRIVERS["go-gorilla"].info()
    assert go._sources(info) == [info.entry]


def test_unknown_driver_is_named() -> None:
    with pytest.raises(drivers.DriverError, match="python-websockets"):
        drivers.driver("python-nothing")


def _record(scenario: str, client: str, verdict: str, reason: str = "r") -> dict:
    return {"scenario": scenario, "client": client, "verdict": verdict, "reason": reason}


def test_compare_lists_every_difference_with_both_verdicts_and_reasons() -> None:
    driver_report = {
        "results": [
            _record("a/same", "ws-8", "pass"),
            _record("a/driver-worse", "ws-8", "fail", "echo missing"),
            _record("a/adapter-worse", "ws-8", "pass", "all echoed"),
            _record("a/driver-only", "ws-8", "pass"),
            _record("a/skipped", "ws-8", "informational", drivers.SKIPPED_REASON + ": timing"),
        ]
    }
    adapter_report = {
        "results": [
            _record("a/same", "node-ws@8", "pass"),
            _record("a/driver-worse", "node-ws@8", "pass", "delivered"),
            _record("a/adapter-worse", "node-ws@8", "non-strict", "late close"),
            _record("a/not-in-the-mode", "node-ws@8", "fail"),
            _record("a/skipped", "node-ws@8", "informational"),
        ]
    }
    comparison = drivers.compare_reports(driver_report, adapter_report)
    assert comparison.same == 1
    by_scenario = {d.scenario: d for d in comparison.differences}
    assert set(by_scenario) == {"a/driver-worse", "a/adapter-worse", "a/driver-only", "a/skipped"}
    assert by_scenario["a/driver-worse"].kind == "driver stricter"
    assert by_scenario["a/adapter-worse"].kind == "adapter stricter"
    assert by_scenario["a/driver-only"].kind == "only driver"
    assert by_scenario["a/skipped"].kind == "skipped by the mode"
    everything = drivers.compare_reports(driver_report, adapter_report, only_driver_scenarios=False)
    assert {d.kind for d in everything.differences} >= {"only adapter"}
    text = drivers.format_differences(comparison)
    assert "4 different" in text
    assert "1  fail vs pass" in text and "1  timing" in text
    assert "driver:  fail: echo missing" in text
    assert "adapter: pass: delivered" in text


def test_compare_needs_one_client_per_report() -> None:
    two = {"results": [_record("a", "x", "pass"), _record("a", "y", "pass")]}
    with pytest.raises(ValueError, match="several clients"):
        drivers.compare_reports(two, two)
    assert drivers.compare_reports(two, two, driver_client="x", adapter_client="y").same == 1


# ---------------------------------------------------------------- real drivers


def _crosscheck(name: str, tmp_path: Path, cases: list[str] | None) -> drivers.Crosscheck:
    spec = None
    if cases is not None:
        spec = tmp_path / "spec.json"
        selection = {"cases": cases, "wsreplay-scenarios": "none"}
        spec.write_text(json.dumps(selection), encoding="utf-8")
    result = drivers.crosscheck(
        name, _versions().get(name), out=tmp_path / "crosscheck", spec=spec, log=print
    )
    print(drivers.format_differences(result.comparison))
    return result


def _autobahn_index(result: drivers.Crosscheck) -> tuple[Path, dict]:
    """The folder of the Autobahn-layout reports and their index.json."""
    (path,) = (result.out / "driver").rglob("index.json")
    return path.parent, json.loads(path.read_text(encoding="utf-8"))


def _check_reports(result: drivers.Crosscheck) -> None:
    """Every case the driver ran has a verdict in both report forms."""
    records = [r for r in result.driver_report["results"] if r["client"] == result.agent]
    assert records, f"no record for agent {result.agent}"
    folder, index = _autobahn_index(result)
    cases = index[result.agent]
    assert cases, f"index.json has no case for {result.agent}"
    for case_id, entry in cases.items():
        assert entry["behavior"] in {"OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"}
        assert (folder / entry["reportfile"]).is_file(), case_id


def _params() -> list:
    out = []
    for name in sorted(drivers.DRIVERS):
        marks = [pytest.mark.e2e]
        if not ALL_DRIVERS:
            marks.append(
                pytest.mark.skip(reason="a whole selection: set WSREPLAY_AUTOBAHN_DRIVERS=1")
            )
        out.append(pytest.param(name, id=name, marks=marks))
    return out


@pytest.mark.e2e
def test_fast_driver_agrees_with_its_adapter_on_a_handful_of_cases(tmp_path: Path) -> None:
    result = _crosscheck(FAST, tmp_path, FAST_CASES)
    _check_reports(result)
    _, index = _autobahn_index(result)
    assert sorted(index[result.agent]) == sorted(FAST_CASES)
    assert result.comparison.same >= len(FAST_CASES)
    assert not result.comparison.differences, drivers.format_differences(result.comparison)


@pytest.mark.parametrize("name", _params())
def test_driver_over_the_whole_selection_lists_its_differences(name: str, tmp_path: Path) -> None:
    result = _crosscheck(name, tmp_path, None)
    _check_reports(result)
    assert (result.out / "differences.txt").is_file()
    total = result.comparison.same + len(result.comparison.differences)
    assert total == len({r["scenario"] for r in result.driver_report["results"]})
