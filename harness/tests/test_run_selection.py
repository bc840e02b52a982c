"""`wsreplay run` leaves slow scenarios and sweeps out unless --all, --tag or the name asks."""

from __future__ import annotations

import pytest

from wsreplay.scenarios import ScenarioError, select_run

CATALOGUE = [
    {"name": "a/fast", "tags": ["delivery"]},
    {"name": "a/big", "tags": ["slow", "delivery"]},
    {"name": "b/untagged"},
]


def names(chosen: list[dict]) -> list[str]:
    return [s["name"] for s in chosen]


def test_the_default_run_leaves_slow_scenarios_out() -> None:
    assert names(select_run(CATALOGUE, [], [], False)) == ["a/fast", "b/untagged"]


def test_all_or_tag_slow_or_the_exact_name_includes_them() -> None:
    assert names(select_run(CATALOGUE, [], [], True)) == ["a/fast", "a/big", "b/untagged"]
    assert names(select_run(CATALOGUE, [], ["slow"], False)) == ["a/big"]
    assert names(select_run(CATALOGUE[1:2], ["a/big"], [], False)) == ["a/big"]
    # a glob is not a name: the slow one stays out
    assert names(select_run(CATALOGUE[:2], ["a/*"], [], False)) == ["a/fast"]


def test_tags_select_any_of_them() -> None:
    assert names(select_run(CATALOGUE, [], ["delivery"], False)) == ["a/fast"]
    assert names(select_run(CATALOGUE, [], ["delivery"], True)) == ["a/fast", "a/big"]


def test_nothing_left_is_an_error() -> None:
    with pytest.raises(ScenarioError, match="need --all"):
        select_run(CATALOGUE[1:2], ["a/*"], [], False)
    with pytest.raises(ScenarioError, match="with the tag"):
        select_run(CATALOGUE, [], ["nope"], False)


SWEEPS = [
    {"name": "c/code/1000", "tags": ["close", "sweep"]},
    {"name": "c/code/1001", "tags": ["close", "sweep", "slow"]},
    {"name": "c/plain", "tags": ["close"]},
]


def test_sweeps_are_left_out_like_slow_ones_unless_their_tag_asks() -> None:
    assert names(select_run(SWEEPS, [], [], False)) == ["c/plain"]
    assert names(select_run(SWEEPS, [], ["sweep"], False)) == ["c/code/1000"]
    # a scenario both slow and a sweep needs both tags asked for, or --all
    assert names(select_run(SWEEPS, [], ["sweep", "slow"], False)) == ["c/code/1000", "c/code/1001"]
    assert names(select_run(SWEEPS, [], ["close"], True)) == names(SWEEPS)
    assert names(select_run(SWEEPS[:1], ["c/code/1000"], [], False)) == ["c/code/1000"]


def test_the_catalogues_sweeps_are_the_families_and_kuhns_vectors() -> None:
    from wsreplay.paths import SCENARIOS_DIR
    from wsreplay.scenarios import load_all

    sweeps = [s["name"] for s in load_all(SCENARIOS_DIR) if "sweep" in s.get("tags", [])]
    families = {name.rsplit("/", 1)[0] for name in sweeps if not name.startswith("utf8/")}
    assert "close/code-valid" in families and "framing/rsv-text" in families
    assert sum(name.startswith("utf8/kuhn-") for name in sweeps) == 132
