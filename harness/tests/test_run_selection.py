"""`wsreplay run` leaves slow scenarios out unless asked: --all, --tag slow, or the exact name."""

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
