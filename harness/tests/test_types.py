"""The typed records of wsreplay/contract.py against the documents they follow.

mypy trusts contract.py; these tests keep contract.py honest: each TypedDict
has exactly the fields its document names (the adapter contract in
harness/adapters/README.md, results/report.schema.json,
docs/scenario.schema.json, server/README.md), the same required ones, and the
same enumerations. A field added to a document and not to the type (or the
other way round) fails here, not in a reader's head.
"""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path
from typing import Any

import pytest

from wsreplay import contract
from wsreplay.judging.evaluate import evaluate
from wsreplay.outputs import report
from wsreplay.paths import REPO_ROOT, REPORT_SCHEMA, SCENARIOS_DIR
from wsreplay.scenarios import knob_defaults, load_all

ADAPTER_README = REPO_ROOT / "harness" / "adapters" / "README.md"
SERVER_README = REPO_ROOT / "server" / "README.md"
SCENARIO_SCHEMA = REPO_ROOT / "docs" / "scenario.schema.json"


def _schema(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


REPORT = _schema(REPORT_SCHEMA)["$defs"]
SCENARIO = _schema(SCENARIO_SCHEMA)


def _section(path: Path, heading: str) -> str:
    """The text under a Markdown heading, up to the next heading of its level or above."""
    text = path.read_text(encoding="utf-8")
    level = heading.split(" ", 1)[0]
    start = text.index(f"\n{heading}\n")
    rest = text[start + len(heading) + 2 :]
    stop = re.search(rf"^#{{1,{len(level)}}} ", rest, re.M)
    return rest[: stop.start()] if stop else rest


def _table_fields(text: str, prefix: str = "") -> set[str]:
    """The names in the first column of a Markdown table: ``| `name` | ...``."""
    return set(re.findall(rf"^\| `{re.escape(prefix)}([a-z0-9_]+)` \|", text, re.M))


def _keys(typed: Any) -> set[str]:
    return set(typing.get_type_hints(typed))


def _required(typed: Any) -> set[str]:
    return set(typed.__required_keys__)


def _literal(typed: object) -> set[str]:
    return set(typing.get_args(typed))


# --------------------------------------------------------------- adapter contract


def test_observation_has_the_fields_the_contract_documents():
    documented = _table_fields(_section(ADAPTER_README, "## Observation"))
    assert "end" in documented and "t0_unix_us" in documented  # the table was found
    assert _keys(contract.Observation) == documented


def test_observation_covers_the_report_schema():
    observation = REPORT["observation"]
    assert set(observation["properties"]) <= _keys(contract.Observation)
    assert _required(contract.Observation) == set(observation["required"])
    assert _literal(contract.End) == set(observation["properties"]["end"]["enum"])
    error = observation["properties"]["error"]["anyOf"][1]
    assert _keys(contract.ObservedError) == set(error["properties"])
    assert _required(contract.ObservedError) == set(error["required"])
    close = observation["properties"]["close"]["anyOf"][1]
    # `observable` is the adapter contract's; the schema leaves close loose
    assert _keys(contract.ObservedClose) == set(close["properties"]) | {"observable"}
    event = observation["properties"]["events"]["items"]
    assert set(event["properties"]) <= _keys(contract.ObservationEvent)
    assert _required(contract.ObservationEvent) == set(event["required"])


def test_observed_message_matches_the_report_schema():
    message = REPORT["message"]
    assert _keys(contract.ObservedMessage) == set(message["properties"])
    assert _required(contract.ObservedMessage) == set(message["required"])
    kinds = typing.get_type_hints(contract.ObservedMessage)["type"]
    assert _literal(kinds) == set(message["properties"]["type"]["enum"])


def test_crash_has_the_documented_fields():
    rows = _section(ADAPTER_README, "## Observation").splitlines()
    row = next(line for line in rows if line.startswith("| `crash` |"))
    # `null`, or `{"type", "message", "where"}` (adapters may add `at`, `stack`)
    required = set(re.findall(r'"([a-z_]+)"', re.search(r"`\{([^}]*)\}`", row)[1]))
    optional = set(re.findall(r"`([a-z_]+)`", re.search(r"adapters may add ([^)]*)\)", row)[1]))
    assert required and optional
    assert _required(contract.Crash) == required
    assert _keys(contract.Crash) == required | optional


def test_job_and_knobs_match_the_contract():
    section = _section(ADAPTER_README, "## Job")
    example = json.loads(re.search(r"```json\n(.*?)```", section, re.S)[1])
    assert _keys(contract.Job) == set(example) | {"ca_file"}
    assert '"ca_file"' in section  # only for wss://, described below the table
    assert _keys(contract.Knobs) == _table_fields(section)
    assert _required(contract.Knobs) == _keys(contract.Knobs)  # the loader completes them


# --------------------------------------------------------------- scenarios


def test_scenario_is_the_file_object_plus_what_the_loader_adds():
    normalized = _section(SERVER_README, "### The normalized form: `--check --json`")
    added = _table_fields(normalized)
    assert added == {"file", "client", "wire"}  # budget_ms.* rows are read below
    # a family file's "family" is expanded away: the loader publishes its members
    published = set(SCENARIO["properties"]) - {"family"}
    assert _keys(contract.Scenario) == published | added | {"budget_ms"}
    assert _required(contract.Scenario) == set(SCENARIO["required"]) | added | {"budget_ms"}
    assert _keys(contract.Knobs) == set(SCENARIO["$defs"]["client"]["properties"])
    assert _keys(contract.Budget) == _table_fields(normalized, "budget_ms.")
    assert _keys(contract.Budget) == {"steps", "client", "deadline", "expected"}
    bug = SCENARIO["properties"]["bugs"]["items"]
    assert _keys(contract.Bug) == set(bug["properties"])
    assert _required(contract.Bug) == set(bug["required"])
    assert _literal(typing.get_type_hints(contract.Scenario)["handshake"]) == set(
        SCENARIO["properties"]["handshake"]["enum"]
    )


def test_the_loader_publishes_scenarios_of_that_shape():
    scenarios = load_all(SCENARIOS_DIR)
    assert scenarios
    for scenario in scenarios:
        assert set(scenario) <= _keys(contract.Scenario), scenario["name"]
        assert _required(contract.Scenario) <= set(scenario), scenario["name"]
        assert set(scenario["client"]) == _keys(contract.Knobs), scenario["name"]
        assert set(scenario["budget_ms"]) == _keys(contract.Budget), scenario["name"]
    assert set(knob_defaults()) == _keys(contract.Knobs)


# --------------------------------------------------------------- report


@pytest.mark.parametrize(
    ("typed", "definition"),
    [
        (contract.ReportRecord, REPORT["result"]),
        (contract.CheckRecord, REPORT["check"]),
        (contract.RunSummary, REPORT["result"]["properties"]["per_run"]["items"]),
        (contract.Timing, REPORT["result"]["properties"]["timing"]),
    ],
    ids=["result", "check", "per_run", "timing"],
)
def test_report_records_match_the_report_schema(typed, definition):
    assert _keys(typed) == set(definition["properties"])
    assert _required(typed) == set(definition["required"])


def test_a_built_record_has_the_typed_keys():
    """What make_record returns is what ReportRecord says (transport is added by the runner)."""
    scenario = load_all(SCENARIOS_DIR)[0]
    observation: contract.Observation = {
        "id": "1",
        "connected": False,
        "messages": [],
        "close": None,
        "end": "connect_failed",
    }
    verdict = evaluate(scenario, observation, None)
    started = report.utc_now()
    record = report.make_record(
        scenario, "python-websockets", "14.0", verdict, observation, None, started, 1.0, None
    )
    assert set(record) == _keys(contract.ReportRecord) - {"transport"}
    for check in record["checks"]:
        assert set(check) == _keys(contract.CheckRecord)
    assert set(record["per_run"][0]) == _keys(contract.RunSummary)
    assert set(record["timing"]) == _keys(contract.Timing)
