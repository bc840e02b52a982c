"""The loader's normalized catalogue is kept in the cache while nothing changed.

Every wsreplay command loads the catalogue; the copy saves the loader's 1-2 s.
It must never serve a stale catalogue: any file added, changed or removed,
or a rebuilt loader, is a new key.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from wsreplay import scenarios
from wsreplay.paths import SCENARIOS_DIR


@pytest.fixture
def catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WSREPLAY_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "scenarios" / "close"
    root.mkdir(parents=True)
    shutil.copy(SCENARIOS_DIR / "close" / "send-then-close.json", root)
    return tmp_path / "scenarios"


def loads_counted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    calls: list[tuple[str, ...]] = []
    real = scenarios._loader

    def counting(*args: str) -> dict:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(scenarios, "_loader", counting)
    return calls


def test_a_second_load_reads_the_copy_and_gets_the_same(
    catalogue: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = loads_counted(monkeypatch)
    first = scenarios.load_all(catalogue)
    second = scenarios.load_all(catalogue)
    assert len(calls) == 1
    assert first == second
    assert [s["name"] for s in second] == ["close/send-then-close"]


def test_a_changed_added_or_removed_file_is_loaded_again(
    catalogue: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = loads_counted(monkeypatch)
    scenarios.load_all(catalogue)
    path = catalogue / "close" / "send-then-close.json"
    path.write_text(path.read_text().replace("final message", "final words!!"))
    changed = scenarios.load_all(catalogue)
    assert len(calls) == 2
    assert "final words!!" in str(changed[0]["steps"])

    shutil.copy(SCENARIOS_DIR / "close" / "binary-then-close.json", catalogue / "close")
    assert len(scenarios.load_all(catalogue)) == 2
    (catalogue / "close" / "binary-then-close.json").unlink()
    assert len(scenarios.load_all(catalogue)) == 1
    # the folder is as it was after the change: that copy is still right
    assert len(calls) == 3


def test_a_broken_copy_is_ignored(catalogue: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scenarios.load_all(catalogue)
    (copy,) = (Path(os.environ["WSREPLAY_CACHE"]) / "catalogue").glob("*.json")
    copy.write_text("{not json")
    calls = loads_counted(monkeypatch)
    assert [s["name"] for s in scenarios.load_all(catalogue)] == ["close/send-then-close"]
    assert len(calls) == 1
