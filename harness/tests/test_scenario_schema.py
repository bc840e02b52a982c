"""The scenario JSON Schema (docs/scenario.schema.json) agrees with the server's loader.

Every scenario the server accepts (the catalogue, the wire-test and step
scenarios) validates against the schema, and every invalid case is refused
by it too — except the few mistakes only the loader can see, listed here.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from wsreplay.paths import REPO_ROOT, SCENARIOS_DIR

SCHEMA = json.loads((REPO_ROOT / "docs" / "scenario.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
INVALID = Path(__file__).parent / "data" / "invalid-scenarios"

#: Mistakes that need sizes or the file's place: the loader's business alone.
LOADER_ONLY = {
    "bad-json",  # not JSON at all
    "count-past-group-limit",  # needs the expanded size of an item
    "groups-past-scenario-limit",  # needs the sizes of all groups
    "items-past-group-limit",  # needs the group's size
    "every-byte-too-big",  # needs the group's size in bytes
    "family-duplicate-id",  # across members
    "family-member-invalid",  # needs the member's parameters put in place
    "family-unknown-param",  # needs the member's parameters
    "handshake-twice",  # across steps
    "length-form-too-small",  # needs the payload's size
    "split-past-end",  # needs the group's size
}


def good_files() -> list[Path]:
    # family files validate as written: placeholders where the schema allows them
    folders = [SCENARIOS_DIR, REPO_ROOT / "server" / "tests" / "wire"]
    folders += [Path(__file__).parent / "data" / "step-scenarios"]
    return sorted(p for folder in folders for p in folder.rglob("*.json"))


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", good_files(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_accepted_scenarios_validate(path: Path) -> None:
    errors = [e.message for e in VALIDATOR.iter_errors(json.loads(path.read_text()))]
    assert errors == []


@pytest.mark.parametrize("case", sorted(p.name for p in INVALID.iterdir() if p.is_dir()))
def test_invalid_cases_are_refused_by_the_schema_too(case: str) -> None:
    if case in LOADER_ONLY:
        pytest.skip("only the loader can see this mistake")
    data = json.loads((INVALID / case / "input.json").read_text())
    assert list(VALIDATOR.iter_errors(data)), f"the schema accepts {case}"
