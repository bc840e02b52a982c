"""The plumbing every installer shares: running tools, atomic cache entries, markers."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from wsreplay.installers import InstallError, common
from wsreplay.installers.python import version_key


def test_run_tool_returns_stdout() -> None:
    out = common.run_tool([sys.executable, "-c", "print('hi')"], what="hello", timeout=30)
    assert out == "hi\n"


def test_run_tool_failure_quotes_the_tail() -> None:
    script = "import sys; [print(f'line {i}', file=sys.stderr) for i in range(30)]; sys.exit(3)"
    with pytest.raises(InstallError) as info:
        common.run_tool([sys.executable, "-c", script], what="npm install ws@1", timeout=30)
    message = str(info.value)
    assert message.startswith("npm install ws@1 failed (exit 3):\n")
    assert "line 29" in message and "line 9\n" not in message  # the last 20 lines only


def test_run_tool_timeout_kills_the_whole_group() -> None:
    started = time.monotonic()
    # The child keeps the output pipe open: only killing the group ends the wait.
    script = (
        "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    )
    with pytest.raises(InstallError, match=r"^slow build: no result after 1 s"):
        common.run_tool([sys.executable, "-c", script], what="slow build", timeout=1)
    assert time.monotonic() - started < 10


def test_run_tool_missing_tool_says_so(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match=r"^go build: cannot run .*nope.*\(install it\)"):
        common.run_tool([str(tmp_path / "nope")], what="go build", timeout=5, hint=" (install it)")


def test_move_into_place_keeps_a_finished_winner(tmp_path: Path) -> None:
    complete = lambda d: (d / "marker").is_file()  # noqa: E731
    target = tmp_path / "ws-8.18.0"
    target.mkdir()
    (target / "marker").write_text("winner")
    with common.temporary_build(target) as tmp:
        (tmp / "marker").write_text("loser")
        common.move_into_place(tmp, target, is_complete=complete)
    assert (target / "marker").read_text() == "winner"
    assert [p.name for p in tmp_path.iterdir()] == ["ws-8.18.0"]  # the temp dir is gone


def test_move_into_place_replaces_a_half_built_leftover(tmp_path: Path) -> None:
    complete = lambda d: (d / "marker").is_file()  # noqa: E731
    target = tmp_path / "entry"
    target.mkdir()
    (target / "partial").write_text("killed mid-build")
    with common.temporary_build(target) as tmp:
        (tmp / "marker").write_text("new")
        common.move_into_place(tmp, target, is_complete=complete)
    assert sorted(p.name for p in target.iterdir()) == ["marker"]


def test_markers_and_installed_versions(tmp_path: Path) -> None:
    for name, data in {
        "a": {"package": "ws", "version": "8.2.0"},
        "b": {"package": "ws", "version": "8.18.0"},
        "c": {"package": "ws", "version": "9.0.0", "path": "/src/ws"},  # a checkout
        "d": {"package": "undici", "version": "7.0.0"},
    }.items():
        (tmp_path / name).mkdir()
        common.write_marker(tmp_path / name, ".m.json", data)
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / ".m.json").write_text("not json")
    assert common.read_marker(tmp_path / "e", ".m.json") == {}
    found = common.installed_versions(tmp_path, ".m.json", version_key, package="ws")
    assert found == ["8.18.0", "8.2.0"]


def test_listed_release_finds_the_registrys_spelling() -> None:
    versions = ["14.0", "14.1", "v1.5.3"]
    assert common.listed_release("14", versions, version_key) == "14.0"
    assert common.listed_release("1.5.3", versions, version_key) == "v1.5.3"
    assert common.listed_release("15", versions, version_key) is None
