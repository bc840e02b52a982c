"""The Autobahn-compatible mode's case numbering and spec file (fuzzingserver/cases.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wsreplay import autobahn
from wsreplay.contract import Scenario
from wsreplay.fuzzingserver.cases import (
    CaseTable,
    Spec,
    SpecError,
    build_table,
    load_spec,
    parse_spec,
)


@pytest.fixture(scope="module")
def cases() -> list[autobahn.Case]:
    return autobahn.load_cases()


@pytest.fixture(scope="module")
def scenarios(wsreplay_catalogue: dict[str, Scenario]) -> list[Scenario]:
    return list(wsreplay_catalogue.values())


def table_for(spec: dict, cases: list[autobahn.Case], scenarios: list[Scenario]) -> CaseTable:
    return build_table(parse_spec({"wsreplay-scenarios": "none", **spec}), cases, scenarios)


def ids(table: CaseTable) -> list[str]:
    return [e.id for e in table.entries]


def test_case_list_is_in_autobahns_order(cases: list[autobahn.Case]) -> None:
    # Autobahn numbers its cases in numeric id order; the case list is written in it.
    listed = [c.id for c in cases]
    assert listed == sorted(listed, key=autobahn.sort_key)
    assert len(listed) == 517


def test_default_spec_numbers_every_autobahn_case_then_wsreplays_own(
    cases: list[autobahn.Case], scenarios: list[Scenario]
) -> None:
    table = build_table(Spec(), cases, scenarios)
    head = table.entries[:517]
    assert [e.id for e in head] == [c.id for c in cases]
    assert [e.number for e in table.entries] == list(range(1, len(table) + 1))
    assert all(e.autobahn for e in head)
    # every case keeps its slot, reproduced or not
    by_case = autobahn.mapping(scenarios)
    for entry in head:
        if entry.id in by_case:
            assert entry.scenario_name in by_case[entry.id]
        else:
            assert entry.scenario is None
    own = table.entries[517:]
    assert own and not any(e.autobahn for e in own)
    names = [e.scenario_name for e in own]
    assert names == sorted(names)  # catalogue order
    played = {e.scenario_name for e in head if e.scenario is not None}
    assert not played & set(names)  # no scenario plays twice
    by_name = {s["name"]: s for s in scenarios}
    assert not any("slow" in by_name[n].get("tags", []) for n in names)
    # ids 100.K: K is the scenario's place in the whole catalogue
    ordered = sorted(by_name)
    for entry in own:
        section, k = entry.id.split(".")
        assert section == "100" and ordered[int(k) - 1] == entry.scenario_name


# What Autobahn's fuzzingserver numbers for these specs (CaseSet.parseSpecCases:
# a pattern with * is a regex matched at the start of the id, . literal; without
# *, an id as it is; minus exclude-cases; numeric order). Worked out by hand
# from docs/autobahn-cases.json.
AUTOBAHN_SPECS = [
    ({"cases": ["2.1*"]}, ["2.1", "2.10", "2.11"]),
    ({"cases": ["1.1.*"], "exclude-cases": ["1.1.8", "1.1.1"]}, [f"1.1.{i}" for i in range(2, 8)]),
    # written out of order and twice: still numeric order, once
    ({"cases": ["5.20", "5.2", "3.1", "5.2"]}, ["3.1", "5.2", "5.20"]),
    # matched at the start only, not anchored at the end: 6.10.x too
    (
        {"cases": ["*.10"], "exclude-cases": ["1*", "6.*", "7.*"]},
        ["2.10", "5.10"],
    ),
    ({"cases": ["7.7.1*"]}, ["7.7.1", "7.7.10", "7.7.11", "7.7.12", "7.7.13"]),
]


@pytest.mark.parametrize(("spec", "expected"), AUTOBAHN_SPECS)
def test_numbering_matches_autobahn(
    spec: dict, expected: list[str], cases: list[autobahn.Case], scenarios: list[Scenario]
) -> None:
    table = table_for(spec, cases, scenarios)
    assert ids(table) == expected
    assert [e.number for e in table.entries] == list(range(1, len(expected) + 1))


def test_section_counts_match_autobahn(
    cases: list[autobahn.Case], scenarios: list[Scenario]
) -> None:
    # Autobahn's fuzzingserver prints "will run 301 test cases" for the common
    # spec that leaves out permessage-deflate, and section 9 has 54 cases.
    spec = {"cases": ["*"], "exclude-cases": ["12.*", "13.*"]}
    assert len(table_for(spec, cases, scenarios)) == 301
    assert len(table_for({"cases": ["9.*"]}, cases, scenarios)) == 54


def test_exclude_agent_cases_keeps_numbers(
    cases: list[autobahn.Case], scenarios: list[Scenario]
) -> None:
    spec = {"cases": ["1.1.*"], "exclude-agent-cases": {"node*": ["1.1.2", "1.1.1*"]}}
    table = table_for(spec, cases, scenarios)
    assert len(table) == 8
    second = table.get(2)
    assert second is not None and second.id == "1.1.2"
    assert table.excluded_for(second, "node-ws/8")
    assert not table.excluded_for(second, "xnode")  # agent patterns match whole
    first = table.get(1)
    assert first is not None and table.excluded_for(first, "node")
    third = table.get(3)
    assert third is not None and not table.excluded_for(third, "node")
    assert table.get(0) is None and table.get(9) is None


def test_one_scenario_per_case_fewest_cases_then_name(
    cases: list[autobahn.Case], scenarios: list[Scenario]
) -> None:
    table = table_for({"cases": ["*"]}, cases, scenarios)
    by_case = autobahn.mapping(scenarios)
    by_name = {s["name"]: s for s in scenarios}
    for entry in table.entries:
        names = by_case.get(entry.id)
        if not names:
            continue
        best = min(names, key=lambda n: (len(by_name[n].get("autobahn", [])), n))
        assert entry.scenario_name == best


def test_wsreplay_scenarios_key(cases: list[autobahn.Case], scenarios: list[Scenario]) -> None:
    base = {"cases": ["1.1.1"]}
    close = build_table(parse_spec({**base, "wsreplay-scenarios": ["close/*"]}), cases, scenarios)
    names = [e.scenario_name for e in close.entries[1:]]
    assert names and all(n and n.startswith("close/") for n in names)
    everything = build_table(parse_spec({**base, "wsreplay-scenarios": "all"}), cases, scenarios)
    default = build_table(parse_spec(base), cases, scenarios)
    assert len(everything) > len(default) > len(close)
    slow = next(
        s["name"] for s in scenarios if "slow" in s.get("tags", []) and not s.get("autobahn")
    )
    exact = build_table(parse_spec({**base, "wsreplay-scenarios": [slow]}), cases, scenarios)
    assert [e.scenario_name for e in exact.entries[1:]] == [slow]
    with pytest.raises(SpecError, match="wsreplay-scenarios"):
        build_table(parse_spec({**base, "wsreplay-scenarios": ["nope/*"]}), cases, scenarios)


def test_spec_file_errors_name_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "fuzzingserver.json"
    for data, key in [
        ({"cases": "1.*"}, "'cases'"),
        ({"exclude-cases": [3]}, "'exclude-cases'"),
        ({"exclude-agent-cases": ["x"]}, "'exclude-agent-cases'"),
        ({"exclude-agent-cases": {"a*": "1.*"}}, "exclude-agent-cases.a*"),
        ({"url": "http://x:1"}, "'url'"),
        ({"url": "ws://x:notaport"}, "'url'"),
        ({"outdir": 5}, "'outdir'"),
        ({"wsreplay-scenarios": "some"}, "'wsreplay-scenarios'"),
    ]:
        path.write_text(json.dumps(data))
        with pytest.raises(SpecError) as err:
            load_spec(path)
        assert str(path) in str(err.value) and key in str(err.value), data
    path.write_text("{")
    with pytest.raises(SpecError, match="not JSON"):
        load_spec(path)
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "missing.json")


def test_unknown_case_id_is_an_error(cases: list[autobahn.Case], scenarios: list[Scenario]) -> None:
    with pytest.raises(SpecError, match=r"'1\.1\.99'"):
        table_for({"cases": ["1.1.99"]}, cases, scenarios)


def test_spec_defaults_and_warnings(tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    path.write_text(
        json.dumps(
            {
                "url": "ws://127.0.0.1:9123",
                "outdir": "./reports/clients",
                "options": {"failByDrop": False},
                "colour": "blue",
            }
        )
    )
    spec = load_spec(path)
    assert (spec.host, spec.port, spec.outdir) == ("127.0.0.1", 9123, "./reports/clients")
    assert spec.cases == ("*",) and spec.exclude_cases == ()
    assert any("'options'" in w for w in spec.warnings)
    assert any("'colour'" in w for w in spec.warnings)
    assert Spec().port == 9001 and Spec().outdir is None
