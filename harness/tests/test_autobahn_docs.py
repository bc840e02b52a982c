"""docs/autobahn.md tells the truth about the catalogue and Autobahn's 517 cases.

The doc is what tools/autobahn_table.py renders from docs/autobahn-cases.json
and the scenarios' `autobahn` fields as the loader publishes them; the case
list and the catalogue agree (every id a scenario names is an Autobahn
client case, every scenario the list names exists, every case no scenario
covers says why).
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

from wsreplay import autobahn
from wsreplay.paths import REPO_ROOT, SCENARIOS_DIR
from wsreplay.scenarios import load_all

#: Cases per section, counted in Autobahn's case generators (case/__init__.py).
SECTIONS = {
    "1": 16, "2": 11, "3": 7, "4": 10, "5": 20, "6": 145,
    "7": 37, "9": 54, "10": 1, "12": 90, "13": 126,
}  # fmt: skip


def test_the_case_list_has_all_517_client_cases() -> None:
    cases = autobahn.load_cases()
    assert len(cases) == 517
    assert Counter(c.id.split(".")[0] for c in cases) == SECTIONS
    outside = [c for c in cases if c.id.split(".")[0] not in autobahn.COMPRESSION_SECTIONS]
    assert len(outside) == 301
    # the UTF-8 vectors: 6.5 to 6.23, 132 of them
    vectors = [c for c in cases if c.id.startswith("6.") and int(c.id.split(".")[1]) >= 5]
    assert len(vectors) == 132


def test_the_case_list_and_the_catalogue_agree() -> None:
    assert autobahn.problems(autobahn.load_cases(), load_all(SCENARIOS_DIR)) == []


def test_the_doc_is_up_to_date() -> None:
    rendered = autobahn.render(autobahn.load_cases(), load_all(SCENARIOS_DIR))
    assert autobahn.TABLE_MD.read_text() == rendered, (
        "docs/autobahn.md is out of date: run python3 tools/autobahn_table.py"
    )


def test_the_tool_checks_the_doc() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools" / "autobahn_table.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


def test_counts_add_up_in_the_doc() -> None:
    n = autobahn.counts(autobahn.load_cases(), load_all(SCENARIOS_DIR))
    assert n["all"]["total"] == 517
    assert n["outside-deflate"]["total"] == 301 and n["deflate"]["total"] == 216
    for part in n.values():
        assert part["exact"] + part["other parameters"] + part["not covered"] == part["total"]
    text = autobahn.TABLE_MD.read_text()
    a = n["all"]
    assert f"| all | 517 | {a['exact']} | {a['other parameters']} | {a['not covered']} |" in text


def _scenario(name: str, ids: list[str]) -> dict:
    return {"name": name, "autobahn": ids}


def test_mapping_sorts_case_ids_numerically_and_names_alphabetically() -> None:
    scenarios = [
        _scenario("b/two", ["7.7.10", "2.10"]),
        _scenario("a/one", ["7.7.9", "7.7.10"]),
        {"name": "c/none"},
    ]
    assert autobahn.mapping(scenarios) == {  # type: ignore[arg-type]
        "2.10": ["b/two"],
        "7.7.9": ["a/one"],
        "7.7.10": ["a/one", "b/two"],
    }


def test_problems_name_what_disagrees() -> None:
    cases = [
        autobahn.Case("2.1", "a ping"),
        autobahn.Case("2.2", "a ping", other=("x/missing",)),
        autobahn.Case("2.3", "a ping", why="no such scenario yet"),
    ]
    scenarios = [_scenario("a/one", ["2.1", "2.99"])]
    assert autobahn.problems(cases, scenarios) == [  # type: ignore[arg-type]
        "a/one: names 2.99, which is not an Autobahn client case",
        "case 2.2: other names 'x/missing', which is not a scenario",
    ]
    assert autobahn.problems(cases[1:], []) == [
        "case 2.2: other names 'x/missing', which is not a scenario",
    ]
    assert autobahn.problems([autobahn.Case("2.4", "a ping")], []) == [
        "case 2.4: not covered, and no why says what is missing"
    ]


def test_unnamed_mentions_list_cases_a_summary_names_but_the_field_does_not() -> None:
    scenarios = [
        {
            "name": "a/one",
            "summary": "Mirrors Autobahn|Testsuite case 7.9.4.",
            "autobahn": ["7.9.4"],
        },
        {"name": "a/two", "summary": "A ping (Autobahn 2.10); near Autobahn 3.1 too."},
        {"name": "a/three", "summary": "No mention."},
    ]
    assert autobahn.unnamed_mentions(scenarios) == [  # type: ignore[arg-type]
        ("a/two", "2.10", "Autobahn 2.10"),
        ("a/two", "3.1", "near Autobahn 3.1"),
    ]
